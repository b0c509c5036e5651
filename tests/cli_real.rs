//! End to end on the real default model (Gemma 3 270M): the acceptance checks on
//! a 5,000+ character article, determinism, and a summary. Skipped (or failed, with
//! ANUVAD_REQUIRE_MODEL=1) when the model has not been fetched.

mod common;

use std::path::Path;
use std::process::{Command, Output};

const LONG_ARTICLE: &str = "tests/fixtures/articles/long.hi.txt";
const SAMPLE_ARTICLE: &str = "tests/fixtures/articles/sample.hi.txt";

fn anuvad(model: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_anuvad"))
        .args(args)
        .env("ANUVAD_MODEL", model)
        // Tests run side by side on small machines: one thread each avoids oversubscription.
        .env("RAYON_NUM_THREADS", "1")
        .env("HF_HUB_OFFLINE", "1")
        .output()
        .unwrap()
}

fn ok_json(o: &Output) -> serde_json::Value {
    assert!(
        o.status.success(),
        "failed: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    serde_json::from_slice(&o.stdout).unwrap()
}

fn has_devanagari(s: &str) -> bool {
    s.chars().any(|c| ('\u{0900}'..='\u{097F}').contains(&c))
}

/// A loop: some run of four words occurring three or more times in one sentence.
fn loops(s: &str) -> bool {
    let w: Vec<String> = s.split_whitespace().map(|w| w.to_lowercase()).collect();
    w.windows(4)
        .any(|g| w.windows(4).filter(|h| h == &g).count() >= 3)
}

#[test]
fn a_long_article_keeps_every_paragraph_in_english_without_loops() {
    let Some(model) = common::real_model() else {
        return;
    };
    let source = std::fs::read_to_string(LONG_ARTICLE).unwrap();
    assert!(
        source.chars().count() > 5000,
        "the fixture must be over 5,000 characters"
    );
    let input_paragraphs = source.lines().filter(|l| !l.trim().is_empty()).count();

    let out = anuvad(
        &model,
        &[
            "translate",
            LONG_ARTICLE,
            "--format",
            "json",
            "--progress",
            "json",
        ],
    );
    let v = ok_json(&out);
    let paragraphs = v["paragraphs"].as_array().unwrap();
    assert_eq!(paragraphs.len(), input_paragraphs);
    for p in paragraphs {
        let en = p["translation"].as_str().unwrap();
        assert!(
            !en.trim().is_empty(),
            "empty translation for {}",
            p["source"]
        );
        assert!(!has_devanagari(en), "Devanagari left in {en:?}");
        for s in p["sentences"].as_array().unwrap() {
            let t = s["translation"].as_str().unwrap();
            assert!(!loops(t), "repetition loop: {t:?}");
        }
    }
    assert_eq!(v["model"]["id"], "gemma3-270m");
    assert_eq!(
        v["model"]["sha256"],
        "a5fd3b62230aa5ec60212297dc9d20eaa70578ac519e00d93a17e44c087a6818"
    );

    // Progress: a begin event and one chunk_done per chunk, on stderr.
    let stderr = String::from_utf8_lossy(&out.stderr);
    let events: Vec<serde_json::Value> = stderr
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect();
    let chunks = v["stats"]["chunks"].as_u64().unwrap();
    assert_eq!(
        events.iter().filter(|e| e["event"] == "chunk_done").count() as u64,
        chunks
    );
    eprintln!(
        "long article: {} chars, {} chunks, {:.1} s, prefill {} tok/s, decode {} tok/s",
        source.chars().count(),
        chunks,
        v["timings"]["seconds"].as_f64().unwrap(),
        v["timings"]["prefill_tokens_per_second"],
        v["timings"]["decode_tokens_per_second"]
    );
}

#[test]
fn translation_is_deterministic_and_the_same_batched_or_one_at_a_time() {
    let Some(model) = common::real_model() else {
        return;
    };
    let a = anuvad(&model, &["translate", SAMPLE_ARTICLE, "--progress", "none"]);
    let b = anuvad(
        &model,
        &[
            "translate",
            SAMPLE_ARTICLE,
            "--progress",
            "none",
            "--batch-size",
            "1",
        ],
    );
    assert!(a.status.success(), "{}", String::from_utf8_lossy(&a.stderr));
    assert_eq!(a.stdout, b.stdout);
    let text = String::from_utf8(a.stdout).unwrap();
    assert_eq!(
        text.split("\n\n").count(),
        6,
        "six paragraphs separated as in the input: {text:?}"
    );
}

#[test]
fn a_summary_is_english_and_about_the_requested_length() {
    let Some(model) = common::real_model() else {
        return;
    };
    let v = ok_json(&anuvad(
        &model,
        &[
            "summarize",
            LONG_ARTICLE,
            "--format",
            "json",
            "--length",
            "short",
            "--progress",
            "none",
        ],
    ));
    let summary = v["summary"].as_str().unwrap();
    let words = summary.split_whitespace().count();
    assert!(!has_devanagari(summary), "{summary}");
    assert!((10..=120).contains(&words), "{words} words: {summary}");
    assert!(!v["bullets"].as_array().unwrap().is_empty());
}

/// A Qwen 2.5 instruct GGUF with no card of its own (an Ollama-style blob name, no
/// extension) speaks through its own chat template: the prompts made from the template
/// are the built-in card's, word for word, so it translates exactly as the card does.
#[test]
fn an_instruct_gguf_with_no_card_speaks_through_its_own_chat_template() {
    let Some(qwen) = common::real_model_file("qwen2.5-coder-0.5b-instruct.gguf") else {
        return;
    };
    let dir = std::env::temp_dir().join(format!("anuvad-chat-template-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let blob = dir.join("sha256-1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32");
    let _ = std::fs::remove_file(&blob);
    #[cfg(unix)]
    std::os::unix::fs::symlink(&qwen, &blob).unwrap();
    #[cfg(not(unix))]
    std::fs::copy(&qwen, &blob).unwrap();

    let cards = anuvad::card::load_all(None).unwrap();
    let card = cards
        .iter()
        .find(|c| c.id == "qwen2.5-coder-0.5b-instruct")
        .unwrap();
    let (_, own) =
        anuvad::internals::hub::card_for_path(blob.to_str().unwrap(), None, &cards).unwrap();
    assert!(own.name.contains("its own chat template"), "{}", own.name);
    assert!(own.instruct && own.source.sha256.is_none());
    for (made, written) in [
        (&own.prompts.translate, &card.prompts.translate),
        (&own.prompts.summarize, &card.prompts.summarize),
        (&own.prompts.notes, &card.prompts.notes),
        (&own.prompts.reduce, &card.prompts.reduce),
    ] {
        assert_eq!(made.prefix, written.prefix);
        assert_eq!(made.body, written.body);
    }

    let article = dir.join("article.txt");
    std::fs::write(
        &article,
        "नई दिल्ली, 13 मार्च। दिल्ली में बुधवार को 12 सेंटीमीटर बारिश हुई।\n",
    )
    .unwrap();
    let args = ["translate", article.to_str().unwrap(), "--format", "json"];
    let by_card = ok_json(&anuvad(Path::new("qwen2.5-coder-0.5b-instruct"), &args));
    let by_template = ok_json(&anuvad(&blob, &args));
    let english = by_template["translation"].as_str().unwrap();
    assert!(
        !english.is_empty() && !english.contains("<|im_"),
        "{english}"
    );
    assert_eq!(english, by_card["translation"].as_str().unwrap());
    let _ = std::fs::remove_dir_all(&dir);
}
