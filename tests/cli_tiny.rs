//! End-to-end through the real binary on a tiny random-weight Gemma 3 (written by the
//! test into a temporary ANUVAD_HOME with its own card): plumbing, output shapes,
//! determinism, progress events and every bad-input error. Fast: no real model needed.

mod common;

use common::tiny::{ARTICLE, CARD, Home, stderr, terminate_after};
use std::process::Output;

fn json(o: &Output) -> serde_json::Value {
    assert!(o.status.success(), "failed: {}", stderr(o));
    serde_json::from_slice(&o.stdout).unwrap()
}

fn file(home: &Home) -> String {
    home.path("article.txt").display().to_string()
}

#[test]
fn translate_json_keeps_every_paragraph_and_sentence() {
    let home = Home::new("shape");
    let out = home.run(&[
        "translate",
        &file(&home),
        "--format",
        "json",
        "--progress",
        "none",
    ]);
    let v = json(&out);
    let paragraphs = v["paragraphs"].as_array().unwrap();
    assert_eq!(paragraphs.len(), 4, "heading, two body lines, caption");
    // The dateline stays with the sentence it introduces: two sentences, not three.
    assert_eq!(paragraphs[1]["sentences"].as_array().unwrap().len(), 2);
    for p in paragraphs {
        for s in p["sentences"].as_array().unwrap() {
            assert!(s["source"].as_str().is_some_and(|t| !t.is_empty()));
            assert!(s["translation"].is_string());
        }
    }
    assert!(v["translation"].is_string());
    assert_eq!(v["model"]["id"], "tiny");
    assert_eq!(v["model"]["file"], "tiny-gemma3.gguf");
    let sha = v["model"]["sha256"].as_str().unwrap();
    assert_eq!(sha.len(), 64);
    assert!(v["stats"]["chunks"].as_u64().unwrap() >= 3);
    assert!(v["stats"]["output_tokens"].as_u64().unwrap() > 0);
    assert!(v["stats"]["input_tokens"].as_u64().unwrap() > 0);
    assert!(v["timings"]["seconds"].is_number());
    assert_eq!(v["schema_version"], 1);
}

#[test]
fn text_output_keeps_the_input_layout() {
    let home = Home::new("layout");
    let out = home.run(&["translate", &file(&home), "--progress", "none"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let text = String::from_utf8(out.stdout).unwrap();
    // Paragraph separators as in the input: blank line, single newline, blank line.
    let layout: Vec<usize> = text.split('\n').map(|l| l.len().min(1)).collect();
    assert_eq!(&layout[..6], &[1, 0, 1, 1, 0, 1], "{text:?}");
}

#[test]
fn the_same_input_gives_the_same_output_in_every_quality_mode() {
    let home = Home::new("determinism");
    let run = |quality: &str| {
        let mut v = json(&home.run(&[
            "translate",
            &file(&home),
            "--format",
            "json",
            "--progress",
            "none",
            "--quality",
            quality,
        ]));
        // Everything but the timings: text, confidences, flags and counts.
        v["timings"] = serde_json::Value::Null;
        v
    };
    let mut tokens = Vec::new();
    for quality in ["fast", "balanced", "best"] {
        let a = run(quality);
        assert_eq!(a, run(quality), "{quality}");
        tokens.push(a["stats"]["output_tokens"].as_u64().unwrap());
    }
    // Balanced and best decode more candidates per chunk than fast.
    assert!(tokens[0] < tokens[1] && tokens[1] < tokens[2], "{tokens:?}");
}

#[test]
fn chunks_decoded_together_get_the_translation_they_get_one_at_a_time() {
    let home = Home::new("batched");
    let run = |batch: &str| {
        let v = json(&home.run(&[
            "translate",
            &file(&home),
            "--format",
            "json",
            "--progress",
            "none",
            "--batch-size",
            batch,
        ]));
        (v["translation"].clone(), v["paragraphs"].clone())
    };
    let alone = run("1");
    assert!(alone.0.as_str().is_some_and(|t| !t.is_empty()));
    assert_eq!(run("2"), alone, "two at a time");
    assert_eq!(run("8"), alone, "eight at a time");
}

#[test]
fn stdin_works_like_a_file() {
    let home = Home::new("stdin");
    let from_file = home.run(&["translate", &file(&home), "--progress", "none"]);
    let from_stdin = home.run_with_stdin(
        &["translate", "-", "--progress", "none"],
        Some(ARTICLE.as_bytes()),
    );
    assert!(from_stdin.status.success(), "{}", stderr(&from_stdin));
    assert_eq!(from_file.stdout, from_stdin.stdout);
}

#[test]
fn json_progress_reports_every_chunk_on_stderr_only() {
    let home = Home::new("progress");
    let out = home.run(&["translate", &file(&home), "--progress", "json"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let events: Vec<serde_json::Value> = stderr(&out)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON: {l:?}: {e}")))
        .collect();
    let begin = events
        .iter()
        .find(|e| e["event"] == "begin")
        .expect("a begin event");
    let total = begin["total"].as_u64().unwrap();
    let done: Vec<u64> = events
        .iter()
        .filter(|e| e["event"] == "chunk_done")
        .map(|e| e["done"].as_u64().unwrap())
        .collect();
    assert_eq!(done, (1..=total).collect::<Vec<_>>());
    // Every event is stamped, and the last one gives the run's totals.
    for e in &events {
        assert!(e["time"].as_str().is_some_and(|t| t.ends_with('Z')), "{e}");
        assert!(e["elapsed"].as_f64().is_some(), "{e}");
    }
    assert!(events.iter().any(|e| e["event"] == "prefill"));
    let end = events.last().expect("events");
    assert_eq!(end["event"], "end", "{end}");
    assert!(end["chunks"].as_u64().unwrap() >= total, "{end}");
    let chunk_out = events
        .iter()
        .filter(|e| e["event"] == "chunk_done")
        .filter_map(|e| e["output_tokens"].as_u64())
        .max()
        .unwrap();
    assert!(end["output_tokens"].as_u64().unwrap() >= chunk_out, "{end}");
    assert!(end["input_tokens"].as_u64().unwrap() > 0, "{end}");
    for field in ["seconds", "tokens_per_second", "prefill_tokens_per_second"] {
        assert!(end[field].as_f64().is_some(), "{field}: {end}");
    }
    // stdout has only the translation.
    assert!(!String::from_utf8_lossy(&out.stdout).contains("\"event\""));
}

#[test]
fn plain_progress_names_the_prompt_stage_and_ends_with_the_rates() {
    let home = Home::new("plain-progress");
    let out = home.run(&["translate", &file(&home), "--progress", "plain"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let log = stderr(&out);
    assert!(log.contains("translate: processing prompt ("), "{log}");
    let chunk = log
        .lines()
        .find(|l| l.contains("translate: chunk 1/"))
        .unwrap_or_else(|| panic!("a chunk line: {log}"));
    assert!(
        chunk.contains("tok/s · generate ") && chunk.contains("· prefill "),
        "{chunk}"
    );
    let last = log.lines().last().unwrap();
    assert!(
        last.contains("] end: ") && last.contains("tokens out"),
        "{last}"
    );
    // The bar, off a terminal, draws nothing and never gets in the way.
    let bar = home.run(&["translate", &file(&home), "--progress", "bar"]);
    assert!(bar.status.success(), "{}", stderr(&bar));
    assert_eq!(bar.stdout, out.stdout);
}

#[test]
fn summarize_json_and_bullets() {
    let home = Home::new("summary");
    let v = json(&home.run(&[
        "summarize",
        &file(&home),
        "--format",
        "json",
        "--length",
        "short",
        "--progress",
        "none",
    ]));
    assert!(v["summary"].is_string());
    assert_eq!(v["length"], "short");
    assert_eq!(v["target_words"], 10);
    assert_eq!(v["model"]["id"], "tiny");
    let out = home.run(&["summarize", &file(&home), "--bullets", "--progress", "none"]);
    assert!(out.status.success(), "{}", stderr(&out));
}

#[test]
fn markdown_output_marks_headings() {
    let home = Home::new("markdown");
    let out = home.run(&[
        "translate",
        &file(&home),
        "--format",
        "markdown",
        "--progress",
        "none",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(String::from_utf8_lossy(&out.stdout).starts_with("## "));
}

#[test]
fn output_file_gets_the_result_and_stdout_stays_empty() {
    let home = Home::new("outfile");
    let target = home.path("out.txt");
    let out = home.run(&[
        "translate",
        &file(&home),
        "-o",
        target.to_str().unwrap(),
        "--progress",
        "none",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(out.stdout.is_empty());
    assert!(!std::fs::read_to_string(target).unwrap().trim().is_empty());
}

fn assert_error(out: &Output, code: i32, needle: &str) {
    assert_eq!(out.status.code(), Some(code), "stderr: {}", stderr(out));
    assert!(
        stderr(out).contains(needle),
        "expected {needle:?} in: {}",
        stderr(out)
    );
    assert!(!stderr(out).contains("panicked"), "{}", stderr(out));
}

#[test]
fn bad_input_gets_a_clear_error_and_exit_code() {
    let home = Home::new("errors");
    assert_error(
        &home.run(&["translate", "/no/such/article.txt"]),
        3,
        "/no/such/article.txt",
    );

    std::fs::write(home.path("empty.txt"), " \n\n  \t\n").unwrap();
    assert_error(
        &home.run(&["translate", home.path("empty.txt").to_str().unwrap()]),
        3,
        "empty",
    );

    let mut bad = "नमस्ते".as_bytes().to_vec();
    bad.extend_from_slice(&[0xC3, 0x28]);
    std::fs::write(home.path("bad.txt"), bad).unwrap();
    assert_error(
        &home.run(&["translate", home.path("bad.txt").to_str().unwrap()]),
        3,
        "byte offset 18",
    );

    std::fs::write(home.path("english.txt"), "Only English here.\n").unwrap();
    let english = home.path("english.txt");
    assert_error(
        &home.run(&["translate", english.to_str().unwrap()]),
        4,
        "--force",
    );
    let forced = home.run(&[
        "translate",
        english.to_str().unwrap(),
        "--force",
        "--progress",
        "none",
    ]);
    assert!(forced.status.success(), "{}", stderr(&forced));
}

#[test]
fn a_broken_model_file_says_which_file_and_how_to_fetch_it_again() {
    let home = Home::new("corrupt");
    let model = home.path("models/tiny-gemma3.gguf");
    let bytes = std::fs::read(&model).unwrap();
    std::fs::write(&model, &bytes[..bytes.len() / 2]).unwrap();
    let out = home.run(&["translate", &file(&home)]);
    assert_error(&out, 5, "tiny-gemma3.gguf");
    assert!(
        stderr(&out).contains("corrupt or truncated"),
        "{}",
        stderr(&out)
    );

    let unknown = home.run(&["translate", &file(&home), "--model", "no-such-model"]);
    assert_error(&unknown, 5, "unknown model");

    let missing = home.run(&[
        "translate",
        &file(&home),
        "--model",
        "/tmp/definitely-missing.gguf",
    ]);
    assert_error(&missing, 5, "definitely-missing.gguf");
}

#[test]
fn a_context_too_small_for_the_prompt_is_reported() {
    let home = Home::new("context");
    let card = CARD.replace("use_tokens = 1024", "use_tokens = 16");
    std::fs::write(home.path("models/tiny.toml"), card).unwrap();
    assert_error(&home.run(&["translate", &file(&home)]), 6, "too small");
}

#[test]
fn a_long_article_is_summarized_by_map_reduce_over_all_of_it() {
    let home = Home::new("mapreduce");
    let long = std::fs::read_to_string("tests/fixtures/articles/long.hi.txt").unwrap();
    std::fs::write(home.path("long.txt"), &long).unwrap();
    let out = home.run(&[
        "summarize",
        home.path("long.txt").to_str().unwrap(),
        "--format",
        "json",
        "--progress",
        "json",
    ]);
    let v = json(&out);
    let notes = v["notes"].as_array().unwrap();
    // The tiny card's map step takes at most 60 source tokens: the 5,000-character
    // article needs many spans, each leaving a note, then one reduce call.
    assert!(notes.len() >= 10, "only {} notes", notes.len());
    assert!(notes.iter().all(|n| !n.as_str().unwrap().trim().is_empty()));
    let chunks = v["stats"]["chunks"].as_u64().unwrap();
    assert_eq!(
        chunks,
        notes.len() as u64 + 1,
        "one call per span plus the reduce"
    );
    let done = stderr(&out)
        .lines()
        .filter(|l| l.contains("\"chunk_done\""))
        .count();
    assert_eq!(done as u64, chunks);
}

#[test]
fn translate_json_has_flags_on_every_sentence_and_review_writes_a_page() {
    let home = Home::new("review-page");
    let page = home.path("review.html");
    let out = home.run(&[
        "translate",
        home.path("article.txt").to_str().unwrap(),
        "--format",
        "json",
        "--progress",
        "none",
        "--review",
        page.to_str().unwrap(),
    ]);
    let v = json(&out);
    for p in v["paragraphs"].as_array().unwrap() {
        for s in p["sentences"].as_array().unwrap() {
            assert!(s["flags"].is_array(), "{s}");
            assert!(s["confidence"]["mean_logprob"].is_number(), "{s}");
        }
    }
    // The page renders the very record `--format json` prints (tests/desk.rs shows it in
    // a browser); the random model's English is gibberish, so it carries flags.
    let html = std::fs::read_to_string(&page).unwrap();
    let embedded = common::page_record(&html);
    assert_eq!(embedded["paragraphs"], v["paragraphs"]);
    assert!(embedded["checks"]["flagged"].as_u64().unwrap() > 0);
}

#[test]
fn review_reports_json_and_rejects_unknown_checks() {
    let home = Home::new("review-cmd");
    let en = home.path("en.txt");
    std::fs::write(&en, "Rain in Delhi\n\nNew Delhi, March 13 (PTI). It rained heavily in Delhi on Wednesday. The weather office said it will rain for 2 more days.\nThe government asked people to stay home.\n\nPhoto: PTI\n").unwrap();
    let args = |extra: &[&str]| {
        let mut a: Vec<String> = vec![
            "review".into(),
            home.path("article.txt").to_str().unwrap().to_string(),
            "--translation".into(),
            en.to_str().unwrap().to_string(),
            "--progress".into(),
            "none".into(),
        ];
        a.extend(extra.iter().map(|s| s.to_string()));
        a
    };
    let a = args(&["--format", "json"]);
    let out = home.run(&a.iter().map(String::as_str).collect::<Vec<_>>());
    let v = json(&out);
    // Five rows: the sentences of every paragraph, aligned one to one.
    assert_eq!(v["checks"]["sentences"], 5, "{v}");
    assert!(v["checks"]["by_check"].is_object());
    assert_eq!(v["schema_version"], 1);
    assert_eq!(v["model"]["id"], "tiny");
    let a = args(&["--fail-on", "numbers,typos"]);
    let out = home.run(&a.iter().map(String::as_str).collect::<Vec<_>>());
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("unknown check"), "{}", stderr(&out));
}

#[test]
fn a_glossary_is_enforced_by_the_names_check_in_every_command() {
    let home = Home::new("glossary");
    let article = file(&home);
    let en = home.path("en.txt");
    std::fs::write(&en, "Rain in Delhi\n\nNew Delhi, March 13 (PTI). It rained heavily in Delhi on Wednesday. The weather office said it will rain for 2 more days.\nThe government asked people to stay home.\n\nPhoto: PTI\n").unwrap();
    let glossary = home.path("glossary.tsv");
    std::fs::write(&glossary, "# our style\nदिल्ली\tDilli\n").unwrap();
    let review = |extra: &[&str]| {
        let mut a = vec![
            "review",
            &article,
            "--translation",
            en.to_str().unwrap(),
            "--format",
            "json",
            "--progress",
            "none",
        ];
        a.extend_from_slice(extra);
        json(&home.run(&a))
    };
    let names_flags = |v: &serde_json::Value| -> Vec<String> {
        v["paragraphs"]
            .as_array()
            .unwrap()
            .iter()
            .flat_map(|p| p["sentences"].as_array().unwrap().clone())
            .flat_map(|s| s["flags"].as_array().unwrap().clone())
            .filter(|f| f["check"] == "names")
            .map(|f| f["message"].as_str().unwrap().to_string())
            .collect()
    };
    // The gazetteer knows दिल्ली as Delhi, which the English writes.
    assert_eq!(names_flags(&review(&[])), Vec::<String>::new());
    // The glossary wants "Dilli": the title and the sentence naming दिल्ली are flagged
    // (नई दिल्ली is the longer name New Delhi, which the English keeps).
    let flagged = names_flags(&review(&["--glossary", glossary.to_str().unwrap()]));
    assert_eq!(flagged.len(), 2, "{flagged:?}");
    assert!(
        flagged.iter().all(|m| m.contains("दिल्ली (Dilli)")),
        "{flagged:?}"
    );

    // Translate, summarize and batch take it too; a bad glossary says where.
    for cmd in ["translate", "summarize"] {
        let out = home.run(&[
            cmd,
            &article,
            "--progress",
            "none",
            "--glossary",
            glossary.to_str().unwrap(),
        ]);
        assert!(out.status.success(), "{cmd}: {}", stderr(&out));
    }
    let bad = home.path("bad.tsv");
    std::fs::write(&bad, "दिल्ली\tDilli\nनाम बिना टैब\n").unwrap();
    let out_dir = home.path("out");
    for cmd in [
        &["translate"][..],
        &["summarize"],
        &["review", "--translation", en.to_str().unwrap()],
        &["batch", "--out", out_dir.to_str().unwrap()],
    ] {
        let args = [
            cmd,
            &[&article, "--progress", "none"],
            &["--glossary", bad.to_str().unwrap()],
        ]
        .concat();
        assert_error(&home.run(&args), 2, "bad.tsv, line 2");
    }
}

#[test]
fn eval_measures_a_small_set_with_references_facts_and_checks() {
    let home = Home::new("eval");
    let set = home.path("set");
    std::fs::create_dir_all(&set).unwrap();
    let reference = "Rain in Delhi\n\nNew Delhi, March 13 (PTI). There was heavy rain in Delhi on Wednesday. The weather department said it will rain for 2 more days.\nThe government asked people to stay at home.\n\nPhoto: PTI\n";
    for id in ["a", "b"] {
        std::fs::write(set.join(format!("{id}.hi.txt")), ARTICLE).unwrap();
        std::fs::write(set.join(format!("{id}.en.txt")), reference).unwrap();
        std::fs::write(
            set.join(format!("{id}.toml")),
            "topic = \"weather\"\nkeep = [\"Delhi\", \"13\"]\n[[facts]]\ntext = \"rain for 2 more days\"\nterms = [\"2\", \"rain\"]\n",
        )
        .unwrap();
    }
    let out = home.run(&[
        "eval",
        set.to_str().unwrap(),
        "--format",
        "json",
        "--progress",
        "none",
    ]);
    let v = json(&out);
    assert_eq!(v["articles"].as_array().unwrap().len(), 2);
    let a = &v["articles"][0];
    assert!(
        a["chrf"]
            .as_f64()
            .is_some_and(|c| (0.0..=100.0).contains(&c)),
        "{a}"
    );
    assert!(a["bleu"].is_number());
    assert_eq!(a["kept"][1], 2);
    assert_eq!(a["sentences_covered"][1], 5);
    assert_eq!(a["paragraphs"], serde_json::json!([4, 4]));
    assert!(a["flags"].is_object());
    assert!(v["summary"]["chrf"].is_number());
    assert_eq!(v["summary"]["articles"], 2);
    assert_eq!(v["model"]["id"], "tiny");

    let out = home.run(&[
        "eval",
        set.to_str().unwrap(),
        "--task",
        "summarize",
        "--limit",
        "1",
        "--progress",
        "none",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let table = String::from_utf8(out.stdout).unwrap();
    assert!(table.contains("| a | weather |"), "{table}");
    assert!(table.contains("1 articles, 0 failed"), "{table}");

    let out = home.run(&["eval", home.path("article.txt").to_str().unwrap()]);
    assert_ne!(
        out.status.code(),
        Some(0),
        "a file is not an evaluation set"
    );
}

#[test]
fn sigterm_stops_translate_and_summarize_with_exit_130_and_writes_nothing() {
    let home = Home::new("signals");
    let long = home.path("long.txt");
    std::fs::write(&long, ARTICLE.repeat(100)).unwrap();
    for command in ["translate", "summarize"] {
        let target = home.path(&format!("{command}.out"));
        let mut child = home
            .command(&[
                command,
                long.to_str().unwrap(),
                "-o",
                target.to_str().unwrap(),
                "--progress",
                "json",
            ])
            .spawn()
            .unwrap();
        let (status, rest) = terminate_after(&mut child, "\"chunk_done\"");
        assert_eq!(status.code(), Some(130), "{command}: {rest:?}");
        assert!(
            rest.iter().any(|l| l.contains("interrupted by a signal")),
            "{command}: {rest:?}"
        );
        assert!(!target.exists(), "{command}: no half result is left");
    }
}

#[test]
fn every_command_refuses_an_article_over_max_article_chars() {
    let home = Home::new("too-long");
    // The default limit (100,000 characters) holds without the flag: a 10 MB article
    // would be about 53,000 chunks.
    let huge = "बारिश हुई। ".repeat(10_000);
    let o = home.run_with_stdin(&["translate", "-"], Some(huge.as_bytes()));
    assert_error(&o, 3, "110000 characters; the limit is 100000");
    assert_error(
        &home.run_with_stdin(&["summarize", "-"], Some(huge.as_bytes())),
        3,
        "the limit is 100000",
    );
    assert_error(
        &home.run(&["summarize", &file(&home), "--max-article-chars", "50"]),
        3,
        "raise --max-article-chars",
    );
    assert_error(
        &home.run(&["translate", &file(&home), "--max-article-chars", "50"]),
        3,
        "the limit is 50",
    );
}

#[test]
fn a_huge_input_is_refused_without_reading_it_all() {
    use std::io::Write;
    let home = Home::new("huge-input");
    let mut child = home
        .command(&["translate", "-", "--max-article-chars", "1000"])
        .spawn()
        .unwrap();
    // 64 MB offered on stdin; the command must stop reading after about 4 KB.
    let mut stdin = child.stdin.take().unwrap();
    let writer = std::thread::spawn(move || {
        let block = "बारिश हुई। ".repeat(1000);
        let mut offered = 0;
        while offered < 64 << 20 {
            if stdin.write_all(block.as_bytes()).is_err() {
                return false; // the reader is gone: it stopped early
            }
            offered += block.len();
        }
        true
    });
    let o = child.wait_with_output().unwrap();
    assert_error(&o, 3, "more than 4003 bytes; the limit is 1000 characters");
    assert!(!writer.join().unwrap(), "the whole input was read");
    // A file is refused the same way, without reading it (a sparse 16 GB file).
    let big = home.path("big.txt");
    std::fs::File::create(&big)
        .unwrap()
        .set_len(16 << 30)
        .unwrap();
    assert_error(
        &home.run(&["summarize", big.to_str().unwrap()]),
        3,
        "the limit is 100000 characters",
    );
}

#[test]
fn an_unwritable_output_fails_before_any_work_and_says_cannot_write() {
    let home = Home::new("unwritable");
    let bad = "/nonexistent/dir/out.txt";
    for args in [
        vec!["translate", "-o", bad],
        vec!["translate", "--review", bad],
        vec!["summarize", "-o", bad],
    ] {
        let file = file(&home);
        let mut all = args.clone();
        all.extend([file.as_str(), "--progress", "json"]);
        let o = home.run(&all);
        assert_error(&o, 3, &format!("cannot write {bad}"));
        assert!(
            !stderr(&o).contains("\"begin\""),
            "{args:?}: no work before the check: {}",
            stderr(&o)
        );
    }
    // An output that exists keeps its content until the new result replaces it.
    let target = home.path("out.txt");
    std::fs::write(
        &target,
        "old result, much longer than the new one will be ".repeat(50),
    )
    .unwrap();
    let o = home.run(&[
        "translate",
        &file(&home),
        "-o",
        target.to_str().unwrap(),
        "--progress",
        "none",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let text = std::fs::read_to_string(&target).unwrap();
    assert!(!text.contains("old result"), "{text}");
}

#[test]
fn version_names_the_commit_and_the_kernels_cpu_features() {
    let home = Home::new("version");
    let out = home.run(&["--version"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let text = String::from_utf8(out.stdout).unwrap();
    let mut lines = text.lines();
    let first = lines.next().unwrap();
    assert!(
        first.starts_with(&format!("anuvad {} (commit ", env!("CARGO_PKG_VERSION"))),
        "{text}"
    );
    let commit = first
        .rsplit("(commit ")
        .next()
        .unwrap()
        .trim_end_matches(')');
    assert!(
        commit == "unknown"
            || (commit.len() == 12 && commit.bytes().all(|b| b.is_ascii_hexdigit())),
        "commit {commit:?}"
    );
    let kernels = lines.next().unwrap().strip_prefix("kernels: ").unwrap();
    let tier = kernels.split(' ').next().unwrap();
    assert!(
        ["generic", "avx2", "avx512", "neon"].contains(&tier),
        "{text}"
    );
    // The tier follows the run-time cap, so it is detected, not compiled in.
    let capped = home
        .command(&["--version"])
        .env("ANUVAD_ISA", "generic")
        .output()
        .unwrap();
    let capped = String::from_utf8(capped.stdout).unwrap();
    assert!(capped.contains("\nkernels: generic\n"), "{capped}");
}

#[test]
fn completions_and_the_man_page_cover_the_subcommands_and_flags() {
    let home = Home::new("completions");
    for shell in ["bash", "zsh", "fish", "powershell", "elvish"] {
        let out = home.run(&["completions", shell]);
        assert!(out.status.success(), "{shell}: {}", stderr(&out));
        let script = String::from_utf8(out.stdout).unwrap();
        // fish names long flags without their dashes (`-l max-new-tokens`).
        for word in [
            "translate",
            "summarize",
            "batch",
            "max-new-tokens",
            "max-article-chars",
        ] {
            assert!(script.contains(word), "{shell} completion lacks {word}");
        }
    }
    let out = home.run(&["man"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let page = String::from_utf8(out.stdout).unwrap();
    assert!(page.contains(".TH anuvad"), "not a man page: {page}");
    // roff escapes hyphens; compare without the escapes.
    let page = page.replace("\\-", "-");
    for word in [
        "translate",
        "summarize",
        "models",
        "ANUVAD_HOME",
        "--max-new-tokens",
    ] {
        assert!(page.contains(word), "man page lacks {word}");
    }
    let bad = home.run(&["completions", "tcsh"]);
    assert_eq!(
        bad.status.code(),
        Some(2),
        "an unknown shell is a usage error"
    );
}
