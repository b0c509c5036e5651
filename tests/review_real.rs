//! `anuvad review` on the real default model: a correct English translation of a test
//! article gets no flags; the same translation with planted errors (a changed number,
//! a deleted sentence, a Hindi word left in, a repeated phrase) gets each one flagged
//! at the right sentence; the HTML page has every Hindi sentence exactly once.

mod common;

use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::Command;

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/articles")
        .join(name)
}

fn review(model: &Path, translation: &Path, html: &Path, extra: &[&str]) -> (Value, i32) {
    let out = Command::new(env!("CARGO_BIN_EXE_anuvad"))
        .arg("review")
        .arg(fixture("sample.hi.txt"))
        .args([
            "--model",
            model.to_str().unwrap(),
            "--card",
            "gemma3-270m",
            "--threads",
            "2",
        ])
        .args(["--progress", "none"])
        .arg("--translation")
        .arg(translation)
        .arg("--html")
        .arg(html)
        .args(["--format", "json"])
        .args(extra)
        .output()
        .unwrap();
    let v = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&out.stderr)));
    (v, out.status.code().unwrap_or(-1))
}

/// The review's rows: the sentences of every paragraph, in order.
fn rows(v: &Value) -> Vec<&Value> {
    v["paragraphs"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|p| p["sentences"].as_array().unwrap())
        .collect()
}

/// (row number, check names) of every flagged row.
fn flagged(v: &Value) -> Vec<(usize, Vec<String>)> {
    rows(v)
        .into_iter()
        .enumerate()
        .filter_map(|(i, r)| {
            let f: Vec<String> = r["flags"]
                .as_array()
                .unwrap()
                .iter()
                .map(|f| f["check"].as_str().unwrap().to_string())
                .collect();
            (!f.is_empty()).then_some((i + 1, f))
        })
        .collect()
}

#[test]
fn planted_errors_are_flagged_at_their_sentences_and_the_clean_translation_is_not() {
    let Some(model) = common::real_model() else {
        return;
    };
    let dir = std::env::temp_dir().join(format!("anuvad-review-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let clean = std::fs::read_to_string(fixture("sample.en.txt")).unwrap();

    let (v, code) = review(
        &model,
        &fixture("sample.en.txt"),
        &dir.join("clean.html"),
        &[
            "--fail-on",
            "numbers,untranslated,dropped,added,length,repetition,low-confidence",
        ],
    );
    assert_eq!(flagged(&v), vec![], "the clean translation gets no flags");
    assert_eq!(code, 0);
    assert_eq!(rows(&v).len(), 9);

    let planted = clean
        .replace("112 millimetres", "121 millimetres")
        .replace(
            "The Delhi government has announced a holiday in all government schools on Monday. ",
            "",
        )
        .replace(
            "brought traffic to a standstill",
            "brought यातायात to a standstill",
        )
        .replace(
            "for the next two days and",
            "for the next two days light to moderate rain for the next two days and",
        );
    let path = dir.join("planted.en.txt");
    std::fs::write(&path, planted).unwrap();
    let html = dir.join("planted.html");
    let (v, code) = review(&model, &path, &html, &["--fail-on", "numbers"]);
    let s = |x: &[&str]| x.iter().map(|c| c.to_string()).collect::<Vec<_>>();
    assert_eq!(
        flagged(&v),
        vec![
            (2, s(&["untranslated"])),
            (3, s(&["numbers", "numbers"])),
            (4, s(&["dropped"])),
            (8, s(&["repetition"])),
        ]
    );
    assert_eq!(code, 9, "--fail-on numbers gates the pipeline");
    let rows = rows(&v);
    assert!(
        rows[2]["flags"].to_string().contains("112")
            && rows[2]["flags"].to_string().contains("121")
    );
    assert!(rows[3]["source"].as_str().unwrap().contains("छुट्टी"));

    // The page renders the record `--format json` printed (tests/desk.rs shows it in a
    // browser): every Hindi row once, every flag.
    let page = common::page_record(&std::fs::read_to_string(&html).unwrap());
    assert_eq!(rows, self::rows(&page));
    let flagged = rows
        .iter()
        .filter(|r| !r["flags"].as_array().unwrap().is_empty())
        .count();
    assert_eq!(flagged, 4);
    let flags = page.to_string();
    assert!(flags.contains("\"dropped\"") && flags.contains("\"untranslated\""));
    let _ = std::fs::remove_dir_all(&dir);
}
