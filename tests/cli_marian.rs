//! The Marian engine end to end through the binary, on the tiny random Marian of
//! tests/fixtures/tiny-marian installed as `opus-mt-hi-en` in a temporary ANUVAD_HOME:
//! translate (text, JSON, beams, review page), summarize through `--summary-model`,
//! batch with both tasks, and review of a translation made elsewhere.

mod common;

use common::tiny::{Home, stderr};
use serde_json::Value;
use std::path::Path;
use std::process::Output;

const MARIAN: &str = "opus-mt-hi-en";

fn home(name: &str) -> Home {
    let home = Home::new(name);
    let fixture = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/tiny-marian");
    let dir = home.path("models").join(MARIAN);
    std::fs::create_dir_all(&dir).unwrap();
    for f in ["config.json", "source.spm", "target.spm", "vocab.json"] {
        std::fs::copy(fixture.join(f), dir.join(f)).unwrap();
    }
    // The parity model with a milder preference for `</s>` (scripts/marian-fixtures.py).
    let weights = fixture
        .with_file_name("tiny-marian-cli")
        .join("pytorch_model.bin");
    std::fs::copy(weights, dir.join("pytorch_model.bin")).unwrap();
    home
}

fn json(o: &Output) -> Value {
    assert!(o.status.success(), "failed: {}", stderr(o));
    serde_json::from_slice(&o.stdout).unwrap()
}

fn translate(home: &Home, extra: &[&str]) -> Output {
    let article = home.path("article.txt");
    let mut args = vec!["translate", article.to_str().unwrap(), "--model", MARIAN];
    args.extend_from_slice(extra);
    home.run(&args)
}

#[test]
fn translate_through_the_marian_card_keeps_every_sentence_with_confidence() {
    let home = home("marian-translate");
    let v = json(&translate(&home, &["--format", "json"]));
    assert_eq!(v["model"]["id"], MARIAN);
    assert_eq!(v["model"]["architecture"], "marian");
    assert_eq!(v["model"]["file"], "pytorch_model.bin");
    let paragraphs = v["paragraphs"].as_array().unwrap();
    assert_eq!(paragraphs.len(), 4, "heading, two body lines, caption");
    let sentences: Vec<&Value> = paragraphs
        .iter()
        .flat_map(|p| p["sentences"].as_array().unwrap())
        .collect();
    assert_eq!(sentences.len(), 5);
    // The random model ends some sentences at once: an empty translation has no
    // confidence and is flagged as dropped; every other one has its confidence.
    for s in &sentences {
        if s["translation"] == "" {
            assert!(
                s["confidence"].is_null() && s["flags"].to_string().contains("dropped"),
                "{s}"
            );
        } else {
            assert!(s["confidence"]["mean_logprob"].is_number(), "{s}");
        }
    }
    assert!(sentences.iter().filter(|s| s["translation"] != "").count() >= 3);
    // One sentence per chunk; the same input gives the same output.
    assert_eq!(v["stats"]["chunks"], 5);
    let again = json(&translate(&home, &["--format", "json"]));
    assert_eq!(v["paragraphs"], again["paragraphs"]);
}

#[test]
fn a_marian_folder_path_works_like_its_card() {
    let home = home("marian-path");
    let folder = home.path("models").join(MARIAN);
    let by_card = translate(&home, &[]);
    let by_path = home.run(&[
        "translate",
        home.path("article.txt").to_str().unwrap(),
        "--model",
        folder.to_str().unwrap(),
    ]);
    assert!(by_path.status.success(), "{}", stderr(&by_path));
    assert_eq!(by_card.stdout, by_path.stdout);
}

#[test]
fn beams_and_int8_run_and_batching_does_not_change_greedy_output() {
    let home = home("marian-options");
    let greedy = translate(&home, &[]);
    assert!(greedy.status.success(), "{}", stderr(&greedy));
    let one_at_a_time = translate(&home, &["--batch-size", "1"]);
    assert_eq!(greedy.stdout, one_at_a_time.stdout);
    for extra in [&["--beams", "3"][..], &["--precision", "int8"]] {
        let o = translate(&home, extra);
        assert!(o.status.success(), "{extra:?}: {}", stderr(&o));
        assert!(!o.stdout.is_empty());
    }
}

#[test]
fn the_review_page_is_written_for_a_marian_translation() {
    let home = home("marian-review");
    let page = home.path("review.html");
    let o = translate(&home, &["--review", page.to_str().unwrap()]);
    assert!(o.status.success(), "{}", stderr(&o));
    let html = std::fs::read_to_string(&page).unwrap();
    assert!(html.contains("दिल्ली में बुधवार को भारी बारिश हुई"));
    let record = common::page_record(&html);
    assert!(
        record["paragraphs"][0]["sentences"].is_array(),
        "a page of sentences"
    );
}

#[test]
fn summaries_go_to_the_summary_model_and_default_to_the_default_card() {
    let home = home("marian-summary");
    let article = home.path("article.txt");
    let a = article.to_str().unwrap();
    let v = json(&home.run(&[
        "summarize",
        a,
        "--model",
        MARIAN,
        "--summary-model",
        "tiny",
        "--format",
        "json",
    ]));
    assert_eq!(v["model"]["id"], "tiny", "the summary model wrote it");
    assert!(v["summary"].is_string());
    // Without --summary-model: the default card, whose model this home does not have.
    let o = home.run(&["summarize", a, "--model", MARIAN]);
    assert_eq!(o.status.code(), Some(5), "{}", stderr(&o));
    assert!(stderr(&o).contains("gemma"), "{}", stderr(&o));
}

#[test]
fn batch_translates_with_marian_and_summarizes_with_the_summary_model() {
    let home = home("marian-batch");
    let out = home.path("out");
    let article = home.path("article.txt");
    let batch = || {
        home.run(&[
            "batch",
            article.to_str().unwrap(),
            "--out",
            out.to_str().unwrap(),
            "--task",
            "both",
            "--model",
            MARIAN,
            "--summary-model",
            "tiny",
            "--progress",
            "none",
        ])
    };
    let o = batch();
    assert!(o.status.success(), "{}", stderr(&o));
    let line = std::fs::read_to_string(out.join("articles.jsonl")).unwrap();
    let rec: Value = serde_json::from_str(line.lines().next().unwrap()).unwrap();
    assert_eq!(rec["status"], "done", "{rec}");
    assert!(rec["translation"].is_string() && rec["summary"].is_string());
    assert!(
        rec["paragraphs"].to_string().contains("mean_logprob"),
        "{rec}"
    );
    // A second run finds the work done.
    let again = batch();
    assert!(again.status.success(), "{}", stderr(&again));
    let report: Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("report.json")).unwrap()).unwrap();
    assert_eq!(report["articles"]["skipped"], 1, "{report}");
}

#[test]
fn review_scores_a_translation_made_elsewhere_under_marian() {
    let home = home("marian-check");
    let en = home.path("en.txt");
    std::fs::write(
        &en,
        "Rain in Delhi\n\nNew Delhi, March 13 (PTI). Heavy rain fell in Delhi on Wednesday. The weather office said it will rain for 5 more days.\nThe government asked people to stay at home.\n\nPhoto: PTI\n",
    )
    .unwrap();
    let o = home.run(&[
        "review",
        home.path("article.txt").to_str().unwrap(),
        "--translation",
        en.to_str().unwrap(),
        "--model",
        MARIAN,
        "--format",
        "json",
    ]);
    let v = json(&o);
    assert_eq!(v["model"]["architecture"], "marian");
    let text = v.to_string();
    assert!(text.contains("mean_logprob"), "{text}");
    assert!(
        text.contains("numbers"),
        "the changed number (2 → 5) is flagged: {text}"
    );
}

#[test]
fn a_marian_folder_without_its_vocabulary_is_a_clear_error() {
    let home = home("marian-incomplete");
    let folder = home.path("models").join(MARIAN);
    std::fs::remove_file(folder.join("vocab.json")).unwrap();
    let o = home.run(&[
        "translate",
        home.path("article.txt").to_str().unwrap(),
        "--model",
        folder.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(5));
    let e = stderr(&o);
    assert!(
        e.contains("vocab.json is missing") && e.contains("source.spm"),
        "{e}"
    );
    assert!(e.contains("anuvad models pull opus-mt-hi-en"), "{e}");
}
