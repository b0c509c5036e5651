//! The tokenizer we build from the default GGUF's metadata gives the same ids as
//! llama.cpp on Hindi news text (fixture from scripts/tokenizer-fixtures.py), and
//! decoding gives the text back.

mod common;

use candle_core::quantized::gguf_file;
use std::time::Instant;

#[test]
fn gemma3_tokenizer_matches_llama_cpp_on_hindi() {
    let Some(path) = common::real_model() else {
        return;
    };
    let fixture: serde_json::Value =
        serde_json::from_str(include_str!("fixtures/tokenizer/gemma3-hindi.json")).unwrap();
    let mut f = std::fs::File::open(&path).unwrap();
    let content = gguf_file::Content::read(&mut f).unwrap();
    let t = Instant::now();
    let (tok, specials) = anuvad::internals::tokenizer::from_gguf(&content).unwrap();
    eprintln!("tokenizer built in {:.2} s", t.elapsed().as_secs_f64());
    assert_eq!(specials.bos, Some(2));
    assert_eq!(specials.eos, Some(1));
    assert!(specials.add_bos);
    assert_eq!(specials.eot, vec![106], "<end_of_turn>");

    let mut failures = Vec::new();
    for case in fixture["cases"].as_array().unwrap() {
        let text = case["text"].as_str().unwrap();
        let want: Vec<u32> = serde_json::from_value(case["ids"].clone()).unwrap();
        let got = tok.encode(text, false).unwrap().get_ids().to_vec();
        if got != want {
            failures.push(format!(
                "{text:?}\n  ours      {got:?}\n  llama.cpp {want:?}"
            ));
        }
        assert_eq!(
            tok.decode(&got, false).unwrap(),
            text,
            "decode(encode(text)) != text"
        );
    }
    assert!(
        failures.is_empty(),
        "{} of {} cases differ:\n{}",
        failures.len(),
        fixture["cases"].as_array().unwrap().len(),
        failures.join("\n")
    );
}

#[test]
fn chat_control_tokens_encode_as_single_ids() {
    let Some(path) = common::real_model() else {
        return;
    };
    let mut f = std::fs::File::open(&path).unwrap();
    let content = gguf_file::Content::read(&mut f).unwrap();
    let (tok, _) = anuvad::internals::tokenizer::from_gguf(&content).unwrap();
    let ids = tok
        .encode("<start_of_turn>user\nनमस्ते<end_of_turn>", false)
        .unwrap()
        .get_ids()
        .to_vec();
    assert_eq!(ids.first(), Some(&105));
    assert_eq!(ids.last(), Some(&106));
}
