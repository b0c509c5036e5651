//! The README's record examples are the real thing: each JSON block marked
//! `<!-- record: KIND -->` parses into the record type and serializes back to the same
//! JSON (no field missing, none extra, none misspelled).

mod common;

use anuvad::record::{BatchRecord, ReviewRecord, SummaryRecord, TranslationRecord};
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;

/// (kind, JSON text) of every marked example, in order.
fn examples() -> Vec<(String, String)> {
    let readme =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md")).unwrap();
    let mut out = Vec::new();
    for (at, _) in readme.match_indices("<!-- record: ") {
        let rest = &readme[at + "<!-- record: ".len()..];
        let kind = rest[..rest.find(" -->").unwrap()].to_string();
        let open = rest.find("```json\n").unwrap() + "```json\n".len();
        let close = open + rest[open..].find("\n```").unwrap();
        out.push((kind, rest[open..close].to_string()));
    }
    out
}

/// Parse `text` as `T` and back; the round trip must give the same JSON.
fn round_trip<T: Serialize + DeserializeOwned>(kind: &str, text: &str) {
    let want: Value = serde_json::from_str(text)
        .unwrap_or_else(|e| panic!("the README's {kind} example is not JSON: {e}"));
    let record: T = serde_json::from_value(want.clone())
        .unwrap_or_else(|e| panic!("the README's {kind} example is not a {kind} record: {e}"));
    // Numbers compare as the f32 values they are stored in.
    let got = serde_json::to_value(&record).unwrap();
    let diffs = common::json_diffs(&want, &got, 1e-6);
    assert!(
        diffs.is_empty(),
        "the README's {kind} example differs from its record: {diffs:?}"
    );
}

#[test]
fn every_record_example_in_the_readme_is_a_record() {
    let examples = examples();
    let kinds: Vec<&str> = examples.iter().map(|(k, _)| k.as_str()).collect();
    for kind in ["translation", "summary", "review", "batch"] {
        assert!(kinds.contains(&kind), "the README has no {kind} example");
    }
    for (kind, text) in &examples {
        match kind.as_str() {
            "translation" => round_trip::<TranslationRecord>(kind, text),
            "summary" => round_trip::<SummaryRecord>(kind, text),
            "review" => round_trip::<ReviewRecord>(kind, text),
            "batch" => round_trip::<BatchRecord>(kind, text),
            other => panic!("the README marks an example as an unknown record kind {other:?}"),
        }
    }
}

#[test]
fn a_misspelled_field_is_caught() {
    let (_, text) = examples()
        .into_iter()
        .find(|(k, _)| k == "summary")
        .unwrap();
    let wrong = text.replace("\"target_words\"", "\"target_word\"");
    let result = std::panic::catch_unwind(|| round_trip::<SummaryRecord>("summary", &wrong));
    assert!(result.is_err(), "a renamed field must fail the round trip");
}
