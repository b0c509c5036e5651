//! The Marian engine against PyTorch `transformers` on a tiny random Marian
//! (tests/fixtures/tiny-marian, recorded by scripts/marian-fixtures.py): the tokenizer
//! gives MarianTokenizer's ids, logits agree within 1e-4 for a single sentence and a
//! padded batch, and greedy and beam outputs are the same tokens.

use anuvad::internals::tokenizer::marian::MarianTokenizer;
use serde_json::Value;
use std::path::{Path, PathBuf};

fn dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/tiny-marian")
}

fn reference() -> Value {
    let p = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/marian-reference.json");
    serde_json::from_str(&std::fs::read_to_string(p).unwrap()).unwrap()
}

fn ids(v: &Value) -> Vec<u32> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_u64().unwrap() as u32)
        .collect()
}

fn tokenizer() -> MarianTokenizer {
    let d = dir();
    MarianTokenizer::load(
        &d.join("source.spm"),
        &d.join("target.spm"),
        &d.join("vocab.json"),
        None,
    )
    .unwrap()
}

#[test]
fn source_ids_are_marian_tokenizers_on_hindi_text() {
    let tok = tokenizer();
    let r = reference();
    let cases = r["tokenizer"].as_array().unwrap();
    assert!(cases.len() >= 15);
    for case in cases {
        let text = case["text"].as_str().unwrap();
        assert_eq!(
            tok.encode(text).unwrap(),
            ids(&case["ids"]),
            "text {text:?}"
        );
    }
}

#[test]
fn target_ids_decode_as_marian_tokenizer_decodes_them() {
    let tok = tokenizer();
    for case in reference()["decode"].as_array().unwrap() {
        assert_eq!(
            tok.decode(&ids(&case["ids"])),
            case["text"].as_str().unwrap()
        );
    }
}

use anuvad::config::Precision;
use anuvad::internals::marian::{Checkpoint, Config, Model};
use candle_core::{Device, Tensor};

fn model(file: &str, precision: Precision) -> Model {
    let d = dir();
    let config = Config::from_file(&d.join("config.json")).unwrap();
    Model::load(config, &Checkpoint::read(&d.join(file)).unwrap(), precision).unwrap()
}

fn rows(v: &Value) -> Vec<Vec<u32>> {
    v.as_array().unwrap().iter().map(ids).collect()
}

fn floats(v: &Value) -> Vec<f32> {
    match v {
        Value::Array(a) => a.iter().flat_map(floats).collect(),
        x => vec![x.as_f64().unwrap() as f32],
    }
}

fn max_diff(a: &[f32], b: &[f32]) -> f32 {
    assert_eq!(a.len(), b.len());
    a.iter()
        .zip(b)
        .map(|(x, y)| (x - y).abs())
        .fold(0.0, f32::max)
}

/// Logits (B, T, V) for the padded sources `input` and the decoder input.
fn logits(m: &Model, input: &[Vec<u32>], lengths: &[usize], dec: &[u32]) -> Vec<f32> {
    let s = input[0].len();
    let flat: Vec<u32> = input.iter().flatten().copied().collect();
    let ids = Tensor::from_vec(flat, (input.len(), s), &Device::Cpu).unwrap();
    let enc = m.encode(&ids, lengths).unwrap();
    let mut state = m.start(&enc, dec.len()).unwrap();
    let dec_rows: Vec<u32> = (0..input.len()).flat_map(|_| dec.iter().copied()).collect();
    let dec = Tensor::from_vec(dec_rows, (input.len(), dec.len()), &Device::Cpu).unwrap();
    m.decode(&dec, &mut state)
        .unwrap()
        .flatten_all()
        .unwrap()
        .to_vec1()
        .unwrap()
}

#[test]
fn logits_match_pytorch_for_one_sentence_and_a_padded_batch() {
    let r = reference();
    let input = rows(&r["input_ids"]);
    let lengths: Vec<usize> = rows(&r["attention_mask"])
        .iter()
        .map(|m| m.iter().filter(|&&x| x == 1).count())
        .collect();
    assert!(
        lengths.iter().min() < lengths.iter().max(),
        "the batch must need padding"
    );
    let dec = ids(&r["decoder_input_ids"]);
    for file in ["model.safetensors", "pytorch_model.bin"] {
        let m = model(file, Precision::F32);
        let one = vec![input[1][..lengths[1]].to_vec()];
        let single = logits(&m, &one, &lengths[1..2], &dec);
        let d = max_diff(&single, &floats(&r["logits_single"]));
        assert!(d < 1e-4, "{file}: single sentence differs by {d}");
        let padded = logits(&m, &input, &lengths, &dec);
        let d = max_diff(&padded, &floats(&r["logits_padded"]));
        assert!(d < 1e-4, "{file}: padded batch differs by {d}");
    }
}

use anuvad::engine::Finish;
use anuvad::engine::{Generation, Rules};
use anuvad::internals::MarianEngine;

fn engine() -> MarianEngine {
    let cards = anuvad::card::load_all(None).unwrap();
    let card = cards.iter().find(|c| c.id == "opus-mt-hi-en").unwrap();
    let weights = dir().join("model.safetensors");
    MarianEngine::load(&weights, card, "0".repeat(64), Precision::F32).unwrap()
}

/// As the reference was generated: 24 new tokens (the last one `</s>`), no other rules.
fn rules(n: usize) -> Vec<Rules> {
    vec![Rules::new(24); n]
}

/// The reference's sequences (start token, tokens, `</s>`, padding) as hypotheses.
fn expected(seqs: &[Vec<u32>]) -> Vec<(Vec<u32>, Finish)> {
    seqs.iter()
        .map(|s| {
            let end = s.iter().skip(1).position(|&t| t == 0).unwrap() + 1;
            let finish = if end == 24 {
                Finish::Length
            } else {
                Finish::Eos
            };
            (s[1..end].to_vec(), finish)
        })
        .collect()
}

fn got(h: &[Generation]) -> Vec<(Vec<u32>, Finish)> {
    h.iter().map(|h| (h.tokens.clone(), h.finish)).collect()
}

fn sources(r: &Value) -> Vec<Vec<u32>> {
    let input = rows(&r["input_ids"]);
    let masks = rows(&r["attention_mask"]);
    input
        .iter()
        .zip(&masks)
        .map(|(i, m)| i[..m.iter().filter(|&&x| x == 1).count()].to_vec())
        .collect()
}

#[test]
fn greedy_output_is_pytorchs_alone_and_in_a_padded_batch() {
    let r = reference();
    let e = engine();
    let srcs = sources(&r);
    let want = expected(&rows(&r["greedy"]));
    assert_eq!(want, expected(&rows(&r["greedy_single"])));
    assert!(want.iter().any(|w| w.1 == Finish::Eos) && want.iter().any(|w| w.1 == Finish::Length));
    let batch = e.search(&srcs, &rules(3), 3, 1, &mut || Ok(())).unwrap();
    assert_eq!(got(&batch), want);
    for (i, s) in srcs.iter().enumerate() {
        let alone = e
            .search(std::slice::from_ref(s), &rules(1), 1, 1, &mut || Ok(()))
            .unwrap();
        assert_eq!(got(&alone)[0], want[i], "sentence {i} alone");
    }
    // Per-token log-probabilities, as transformers reports them (the last one is `</s>`,
    // or the forced end, which the engine does not count as a token).
    for (h, lp) in batch.iter().zip(r["greedy_logprobs"].as_array().unwrap()) {
        let lp = floats(lp);
        let d = max_diff(&h.logprobs, &lp[..h.logprobs.len()]);
        assert!(d < 1e-4, "log-probabilities differ by {d}");
    }
}

#[test]
fn beam_search_output_is_pytorchs() {
    let r = reference();
    let srcs = sources(&r);
    let want = expected(&rows(&r["beam4"]));
    let e = engine();
    let batch = e.search(&srcs, &rules(3), 3, 4, &mut || Ok(())).unwrap();
    assert_eq!(got(&batch), want);
    let alone = e
        .search(&srcs[..1], &rules(1), 1, 4, &mut || Ok(()))
        .unwrap();
    assert_eq!(got(&alone)[0], want[0]);
}
