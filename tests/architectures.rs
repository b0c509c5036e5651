//! Every supported architecture runs through the same engine and pipeline: a tiny random
//! model of each is written, loaded with a card, and asked for a deterministic answer.

use anuvad::card::ModelCard;
use anuvad::engine::{Engine, Finish, Request, Rules};
use anuvad::internals::DecoderEngine;
use anuvad::testing::{TinyModel, write_model};

fn card(arch: &str) -> ModelCard {
    let text = format!(
        r#"
id = "tiny-{arch}"
name = "tiny {arch}"
architecture = "{arch}"
instruct = false
[source]
file = "tiny-{arch}.gguf"
[tokenizer]
source = "gguf"
[context]
max = 4096
use_tokens = 512
[generation]
max_new_tokens = 8
[chunk]
max_sentences = 1
max_source_tokens = 100
[summary]
short_words = 10
medium_words = 20
long_words = 30
notes_chunk_tokens = 60
[prompts.translate]
prefix = "Hindi: सरकार\nEnglish: The government\n\n"
body = "Hindi: {{source}}\nEnglish:"
[prompts.summarize]
body = "{{source}}"
[prompts.notes]
body = "{{source}}"
[prompts.reduce]
body = "{{notes}}"
"#
    );
    ModelCard::parse(&text, "test").unwrap()
}

fn generate(engine: &mut DecoderEngine, body: &str) -> (String, Finish, usize) {
    let req = Request {
        prefix: "Hindi: सरकार\nEnglish: The government\n\n",
        body,
        rules: Rules {
            repeat_ngram: 4,
            repeat_limit: 3,
            english_only: true,
            ..Rules::new(8)
        },
        beams: 1,
    };
    let mut tokens = 0;
    let g = engine
        .generate(&[req], 1, &mut || {
            tokens += 1;
            Ok(())
        })
        .unwrap()
        .remove(0);
    assert_eq!(g.output_tokens, tokens, "on_token is called once per token");
    assert_eq!(g.logprobs.len(), g.output_tokens);
    assert!(g.logprobs.iter().all(|lp| *lp <= 0.0 && lp.is_finite()));
    (g.text, g.finish, g.output_tokens)
}

/// Scoring the model's own greedy token gives back the log-probability it had while
/// generating it, and scoring a longer continuation (one pass for Gemma 3, token by
/// token for the others) starts with that same number.
fn forced_decoding_agrees_with_generation(engine: &mut DecoderEngine, arch: &str) {
    let prefix = "Hindi: सरकार\nEnglish: The government\n\n";
    let body = "Hindi: मौसम विभाग ने कहा।\nEnglish:";
    let req = Request {
        prefix,
        body,
        rules: Rules::new(1),
        beams: 1,
    };
    let g = engine
        .generate(&[req], 1, &mut || Ok(()))
        .unwrap()
        .remove(0);
    let scored = engine.score(prefix, body, &g.text).unwrap();
    // A random model's greedy token may be a lone byte, which does not survive
    // decoding; when it does, forced decoding must give back its log-probability.
    if scored.len() == 1 {
        assert!(
            (scored[0] - g.logprobs[0]).abs() < 1e-3,
            "{arch}: {scored:?} vs {:?}",
            g.logprobs
        );
    }
    let longer = engine
        .score(prefix, body, " the weather department")
        .unwrap();
    assert!(longer.len() > 3, "{arch}");
    assert!(
        longer.iter().all(|lp| lp.is_finite() && *lp <= 0.0),
        "{arch}: {longer:?}"
    );
    assert_eq!(
        engine
            .score(prefix, body, " the weather department")
            .unwrap(),
        engine
            .score(prefix, body, " the weather department")
            .unwrap(),
        "{arch}: deterministic"
    );
}

#[test]
fn every_supported_architecture_generates_deterministically() {
    let dir = std::env::temp_dir().join(format!("anuvad-arch-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    for arch in ["gemma3", "llama", "qwen2", "qwen3"] {
        let path = dir.join(format!("tiny-{arch}.gguf"));
        let mut cfg = TinyModel::tiny();
        cfg.arch = arch.into();
        write_model(&path, &cfg).unwrap();
        let mut engine = DecoderEngine::load(&path, &card(arch), "0".repeat(64), None).unwrap();
        assert_eq!(engine.info().architecture, arch);
        let first = generate(&mut engine, "Hindi: दिल्ली में बारिश।\nEnglish:");
        // A second, different chunk in between must not leak into the next answer
        // (prefix cache reuse / KV reset).
        let _ = generate(&mut engine, "Hindi: सरकार ने कहा।\nEnglish:");
        let again = generate(&mut engine, "Hindi: दिल्ली में बारिश।\nEnglish:");
        assert_eq!(first, again, "{arch}: same prompt, same answer");
        forced_decoding_agrees_with_generation(&mut engine, arch);
        assert!(first.2 > 0, "{arch}: generated nothing");
        assert!(
            !first
                .0
                .chars()
                .any(|c| ('\u{0900}'..='\u{097F}').contains(&c)),
            "{arch}: english_only let Devanagari through: {:?}",
            first.0
        );
    }
    let _ = std::fs::remove_dir_all(&dir);
}

/// Every family runs on the one fast path: requests sharing a prefix are decoded
/// together, with beam search through the shared search (rows copied for each beam's
/// children), and each request gets the same answer alone as among others.
#[test]
fn every_family_decodes_a_batch_as_it_decodes_each_request_alone() {
    for arch in ["gemma3", "llama", "qwen2", "qwen3"] {
        beam_search_is_the_same_alone_and_in_a_batch(arch);
    }
}

fn beam_search_is_the_same_alone_and_in_a_batch(arch: &str) {
    let dir = std::env::temp_dir().join(format!("anuvad-beams-{}-{arch}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(format!("tiny-{arch}.gguf"));
    let mut cfg = TinyModel::tiny();
    cfg.arch = arch.into();
    write_model(&path, &cfg).unwrap();
    let mut engine = DecoderEngine::load(&path, &card(arch), "0".repeat(64), None).unwrap();
    let bodies = [
        "Hindi: दिल्ली में बारिश।\nEnglish:",
        "Hindi: सरकार ने कहा।\nEnglish:",
        "Hindi: मौसम विभाग ने 2 दिन की चेतावनी दी।\nEnglish:",
    ];
    let request = |body: &'static str, beams: usize| Request {
        prefix: "Hindi: सरकार\nEnglish: The government\n\n",
        body,
        rules: Rules {
            english_only: true,
            ..Rules::new(10)
        },
        beams,
    };
    let answers = |engine: &mut DecoderEngine, reqs: &[Request], width: usize| {
        engine
            .generate(reqs, width, &mut || Ok(()))
            .unwrap()
            .into_iter()
            .map(|g| (g.tokens, g.finish))
            .collect::<Vec<_>>()
    };
    let together: Vec<Request> = bodies.iter().map(|b| request(b, 3)).collect();
    let batch = answers(&mut engine, &together, 3);
    for (i, b) in bodies.iter().enumerate() {
        let alone = answers(&mut engine, &[request(b, 3)], 1);
        assert_eq!(alone[0], batch[i], "{arch}: request {i}");
    }
    assert!(batch.iter().all(|(t, _)| !t.is_empty()));
    let _ = std::fs::remove_dir_all(&dir);
}

/// Our shared transformer against candle-transformers' own quantized Llama, Qwen 2 and
/// Qwen 3 (independent implementations of the same GGUF layouts) on tiny random models
/// whose norms and biases are random too: the same logits after a prompt and after each
/// of a few decode steps, up to float summation order.
#[test]
fn every_family_matches_candle_transformers_reference_code() {
    use anuvad::internals::transformer::{Logits, Model};
    use anuvad::internals::{llama, qwen2, qwen3};
    use candle_core::quantized::gguf_file;
    use candle_core::{Device, Tensor};
    use candle_transformers::models::{quantized_llama, quantized_qwen2, quantized_qwen3};

    let dir = std::env::temp_dir().join(format!("anuvad-ref-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let dev = Device::Cpu;
    let prompt: Vec<u32> = (0..13).map(|i| 5 + i * 37 % 250).collect();
    let steps: [u32; 4] = [71, 9, 140, 33];
    for arch in ["llama", "qwen2", "qwen3"] {
        let path = dir.join(format!("ref-{arch}.gguf"));
        let mut cfg = TinyModel::tiny();
        cfg.arch = arch.into();
        cfg.heads = 4;
        cfg.kv_heads = 2;
        cfg.head_dim = 16;
        cfg.random_norms = true;
        write_model(&path, &cfg).unwrap();
        let read = || {
            let mut f = std::fs::File::open(&path).unwrap();
            let content = gguf_file::Content::read(&mut f).unwrap();
            (content, f)
        };

        let (content, mut f) = read();
        let config = match arch {
            "llama" => llama::config(&content),
            "qwen2" => qwen2::config(&content),
            _ => qwen3::config(&content),
        }
        .unwrap();
        let ours = Model::load(config, &content, &mut f, &dev, 64).unwrap();
        let mut cache = ours.new_cache();
        let mut ours_step = |ids: &[u32]| -> Vec<f32> {
            let input = Tensor::new(ids, &dev).unwrap().unsqueeze(0).unwrap();
            let l = ours.forward(&input, &mut cache, Logits::Last).unwrap();
            l.flatten_all().unwrap().to_vec1().unwrap()
        };

        enum Reference {
            Llama(quantized_llama::ModelWeights),
            Qwen2(quantized_qwen2::ModelWeights),
            Qwen3(quantized_qwen3::ModelWeights),
        }
        let (content, mut f) = read();
        let mut reference = match arch {
            "llama" => Reference::Llama(
                quantized_llama::ModelWeights::from_gguf(content, &mut f, &dev).unwrap(),
            ),
            "qwen2" => Reference::Qwen2(
                quantized_qwen2::ModelWeights::from_gguf(content, &mut f, &dev).unwrap(),
            ),
            _ => Reference::Qwen3(
                quantized_qwen3::ModelWeights::from_gguf(content, &mut f, &dev).unwrap(),
            ),
        };
        let mut theirs_step = |ids: &[u32], pos: usize| -> Vec<f32> {
            let input = Tensor::new(ids, &dev).unwrap().unsqueeze(0).unwrap();
            let l = match &mut reference {
                Reference::Llama(m) => m.forward(&input, pos),
                Reference::Qwen2(m) => m.forward(&input, pos),
                Reference::Qwen3(m) => m.forward(&input, pos),
            }
            .unwrap();
            l.flatten_all().unwrap().to_vec1().unwrap()
        };

        let compare = |what: &str, a: &[f32], b: &[f32]| {
            assert_eq!(a.len(), b.len(), "{arch} {what}: vocabulary size");
            let spread = b.iter().fold(0f32, |m, v| m.max(v.abs()));
            let worst = a
                .iter()
                .zip(b)
                .map(|(x, y)| (x - y).abs())
                .fold(0f32, f32::max);
            assert!(
                spread > 1e-3,
                "{arch} {what}: logits are all zero, the test would prove nothing"
            );
            // Measured: 1.2e-7 at most (float summation order only).
            assert!(
                worst <= 1e-4 * spread.max(1.0),
                "{arch} {what}: logits differ by {worst} (largest {spread})"
            );
        };
        compare("prompt", &ours_step(&prompt), &theirs_step(&prompt, 0));
        for (k, &t) in steps.iter().enumerate() {
            let pos = prompt.len() + k;
            compare(
                &format!("step {k}"),
                &ours_step(&[t]),
                &theirs_step(&[t], pos),
            );
        }
    }
    let _ = std::fs::remove_dir_all(&dir);
}

/// Shapes the forward pass divides by are checked before any weight is read: a model
/// whose query heads do not divide among its KV heads is refused with a message naming
/// the numbers, not a panic deep in a matrix product.
#[test]
fn a_model_with_impossible_head_counts_is_refused_with_a_message() {
    let dir = std::env::temp_dir().join(format!("anuvad-shapes-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("tiny-qwen2.gguf");
    let mut cfg = TinyModel::tiny();
    cfg.arch = "qwen2".into();
    cfg.heads = 3;
    cfg.kv_heads = 2;
    write_model(&path, &cfg).unwrap();
    let err = DecoderEngine::load(&path, &card("qwen2"), "0".repeat(64), None)
        .err()
        .expect("refused")
        .to_string();
    assert!(
        err.contains("`qwen2.attention.head_count` (3) is not a multiple of `qwen2.attention.head_count_kv` (2)"),
        "the message names the keys and numbers: {err}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}
