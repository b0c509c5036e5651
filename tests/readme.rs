//! The README's record examples are the real thing: each JSON block marked
//! `<!-- record: KIND -->` parses into the record type and serializes back to the same
//! JSON (no field missing, none extra, none misspelled).

mod common;

use anuvad::record::{BatchRecord, ReviewRecord, SummaryRecord, TranslationRecord};
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;
use std::collections::BTreeSet;

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

/// Key paths of a JSON value (`paragraphs[].sentences[].flags`), array elements merged,
/// and the paths under which the other side's keys cannot be compared: empty arrays,
/// nulls, and maps keyed by data (`by_check`'s check names, `extra`'s feed fields).
fn key_paths(v: &Value) -> (BTreeSet<String>, BTreeSet<String>) {
    fn walk(v: &Value, at: &str, paths: &mut BTreeSet<String>, open: &mut BTreeSet<String>) {
        let data_keyed = at.ends_with("by_check") || at.ends_with("extra");
        match v {
            Value::Object(m) if !data_keyed => {
                for (k, v) in m {
                    let p = if at.is_empty() {
                        k.clone()
                    } else {
                        format!("{at}.{k}")
                    };
                    paths.insert(p.clone());
                    walk(v, &p, paths, open);
                }
            }
            Value::Array(a) if !a.is_empty() => {
                for v in a {
                    walk(v, &format!("{at}[]"), paths, open);
                }
            }
            Value::Array(_) | Value::Null | Value::Object(_) => {
                open.insert(at.to_string());
            }
            _ => {}
        }
    }
    let (mut paths, mut open) = (BTreeSet::new(), BTreeSet::new());
    walk(v, "", &mut paths, &mut open);
    (paths, open)
}

/// What differs between the keys of the README's example and of the real output.
fn key_diffs(what: &str, readme: &Value, real: &Value) -> Vec<String> {
    let (readme_paths, readme_open) = key_paths(readme);
    let (real_paths, real_open) = key_paths(real);
    let under = |p: &str, open: &BTreeSet<String>| {
        open.iter().any(|o| {
            p.strip_prefix(o.as_str())
                .is_some_and(|rest| rest.starts_with(['.', '[']))
        })
    };
    let mut out = Vec::new();
    for p in readme_paths.difference(&real_paths) {
        if !under(p, &real_open) {
            out.push(format!(
                "{what}: the README shows {p}, the real output has none"
            ));
        }
    }
    for p in real_paths.difference(&readme_paths) {
        if !under(p, &readme_open) {
            out.push(format!(
                "{what}: the real output has {p}, the README's example does not"
            ));
        }
    }
    out
}

fn stdout_json(home: &common::tiny::Home, args: &[&str]) -> Value {
    let out = home.run(args);
    let stderr = common::tiny::stderr(&out);
    assert!(out.status.success(), "anuvad {}: {stderr}", args.join(" "));
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "anuvad {}: stdout is not JSON ({e}): {stderr}",
            args.join(" ")
        )
    })
}

#[test]
fn the_readme_examples_have_the_keys_of_the_real_output() {
    let home = common::tiny::Home::new("readme-keys");
    let article = home.path("article.txt");
    let article = article.to_str().unwrap();
    let json = ["--format", "json", "--progress", "none"];
    let translation = stdout_json(&home, &[&["translate", article][..], &json].concat());
    let summary = stdout_json(
        &home,
        &[&["summarize", article, "--length", "short"][..], &json].concat(),
    );
    let english = home.path("article.en.txt");
    std::fs::write(
        &english,
        "Rain in Delhi\n\nNew Delhi, 13 March. It rained on 3 days.\n",
    )
    .unwrap();
    let review = stdout_json(
        &home,
        &[
            &[
                "review",
                article,
                "--translation",
                english.to_str().unwrap(),
            ][..],
            &json,
        ]
        .concat(),
    );
    // A feed as in the README: one article with title, url and an extra field, one empty.
    let text = common::tiny::ARTICLE;
    let feed = [
        serde_json::json!({"id": "a", "title": "दिल्ली में बारिश", "text": text,
                           "url": "https://example.com/a", "section": "desh"}),
        serde_json::json!({"id": "b", "text": " "}),
    ];
    let feed_path = home.path("feed.jsonl");
    std::fs::write(&feed_path, format!("{}\n{}\n", feed[0], feed[1])).unwrap();
    let out = home.path("out");
    let run = home.run(&[
        "batch",
        feed_path.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
        "--task",
        "both",
        "--progress",
        "none",
    ]);
    let lines = std::fs::read_to_string(out.join("articles.jsonl"))
        .unwrap_or_else(|e| panic!("no articles.jsonl ({e}): {}", common::tiny::stderr(&run)));
    let batch: Vec<Value> = lines
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let by_status = |s: &str| {
        batch
            .iter()
            .find(|r| r["status"] == s)
            .unwrap_or_else(|| panic!("no {s} record in articles.jsonl: {lines}"))
    };

    // "Outputs in --out DIR": a done record of --task both has every field translate
    // and summarize print.
    let done = by_status("done");
    let mut diffs: Vec<String> = [&translation, &summary]
        .iter()
        .flat_map(|r| r.as_object().unwrap().keys())
        .filter(|k| done.get(k.as_str()).is_none())
        .map(|k| format!("the done batch record lacks {k}, which translate/summarize print"))
        .collect();
    for (kind, text) in examples() {
        let readme: Value = serde_json::from_str(&text).unwrap();
        let (what, real) = match kind.as_str() {
            "translation" => ("translate --format json".to_string(), &translation),
            "summary" => ("summarize --format json".to_string(), &summary),
            "review" => ("review --format json".to_string(), &review),
            "batch" => {
                let status = readme["status"].as_str().unwrap_or_default().to_string();
                (
                    format!("a {status} articles.jsonl record"),
                    by_status(&status),
                )
            }
            other => panic!("unknown record kind {other:?}"),
        };
        diffs.extend(key_diffs(&what, &readme, real));
    }
    assert!(diffs.is_empty(), "{}", diffs.join("\n"));
}

#[test]
fn a_missing_or_extra_key_is_caught() {
    let readme = serde_json::json!({"a": 1, "b": {"c": [{"d": 1}]}, "e": [], "by_check": {}});
    let real = serde_json::json!({"a": 1, "b": {"c": [{"d": 2, "x": 1}]}, "e": [{"z": 1}],
                                  "by_check": {"numbers": 1}, "y": null});
    assert_eq!(
        key_diffs("t", &readme, &real),
        [
            "t: the real output has b.c[].x, the README's example does not",
            "t: the real output has y, the README's example does not",
        ]
    );
    let short = serde_json::json!({"a": 1});
    assert_eq!(
        key_diffs("t", &real, &short).len(),
        8,
        "every key the README's example has and the output lacks"
    );
}
