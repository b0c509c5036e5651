//! `anuvad batch` end to end on the tiny random model: failure isolation, resume after
//! SIGKILL at random points, SIGTERM, sharding and merge, and the directory lock.

mod common;

use common::tiny::{ARTICLE, Home, stderr, terminate_after};
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::process::Output;
use std::time::{Duration, Instant};

/// `n` distinct Hindi articles in `home/in/`, named `NN.txt`.
fn articles(home: &Home, n: usize) -> String {
    let dir = home.path("in");
    std::fs::create_dir_all(&dir).unwrap();
    for i in 0..n {
        let text = format!("{ARTICLE}\nलेख संख्या {i} के अंत में सरकार ने {i} लोगों की बात कही।\n");
        std::fs::write(dir.join(format!("{i:02}.txt")), text).unwrap();
    }
    dir.display().to_string()
}

fn batch(home: &Home, args: &[&str]) -> Output {
    let mut all = vec!["batch", "--progress", "plain"];
    all.extend_from_slice(args);
    home.run(&all)
}

fn read_json(p: &Path) -> Value {
    let text = std::fs::read_to_string(p).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{} is not JSON: {e}", p.display()))
}

fn report(dir: &Path) -> Value {
    read_json(&dir.join("report.json"))
}

/// articles.jsonl as id → record, without the fields that differ between runs (timings),
/// asserting every line is complete JSON and no id appears twice.
fn records(dir: &Path) -> BTreeMap<String, Value> {
    let text = std::fs::read_to_string(dir.join("articles.jsonl")).unwrap();
    let mut out = BTreeMap::new();
    for line in text.lines() {
        let mut v: Value = serde_json::from_str(line).expect("a complete JSON line");
        v.as_object_mut().unwrap().remove("timings");
        let id = v["id"].as_str().unwrap().to_string();
        assert!(out.insert(id.clone(), v).is_none(), "{id} appears twice");
    }
    out
}

/// Every per-article file, parsed (a truncated file fails here), without timings.
fn article_files(dir: &Path) -> BTreeMap<String, Value> {
    let mut out = BTreeMap::new();
    for e in std::fs::read_dir(dir.join("articles")).unwrap() {
        let mut v = read_json(&e.unwrap().path());
        v.as_object_mut().unwrap().remove("timings");
        out.insert(v["id"].as_str().unwrap().to_string(), v);
    }
    out
}

/// The first place two JSON values differ, as a path, or None when equal.
fn first_difference(a: &Value, b: &Value, at: &str) -> Option<String> {
    match (a, b) {
        (Value::Object(x), Value::Object(y)) => {
            let keys: BTreeSet<&String> = x.keys().chain(y.keys()).collect();
            keys.into_iter().find_map(|k| {
                let (l, r) = (
                    x.get(k).unwrap_or(&Value::Null),
                    y.get(k).unwrap_or(&Value::Null),
                );
                first_difference(l, r, &format!("{at}/{k}"))
            })
        }
        (Value::Array(x), Value::Array(y)) if x.len() == y.len() => x
            .iter()
            .zip(y)
            .enumerate()
            .find_map(|(i, (l, r))| first_difference(l, r, &format!("{at}/{i}"))),
        _ if a == b => None,
        _ => Some(format!("{at}: {a} != {b}")),
    }
}

/// Equal record sets, or a panic naming the first field that differs.
fn assert_same(a: &BTreeMap<String, Value>, b: &BTreeMap<String, Value>) {
    let ids_a: Vec<&String> = a.keys().collect();
    let ids_b: Vec<&String> = b.keys().collect();
    assert_eq!(ids_a, ids_b, "different articles");
    for (id, v) in a {
        if let Some(d) = first_difference(v, &b[id], "") {
            panic!("{id} differs at {d}");
        }
    }
}

#[test]
fn good_articles_are_done_and_each_bad_one_is_reported_with_its_reason() {
    let home = Home::new("batch-mixed");
    let input = articles(&home, 2);
    let dir = home.path("in");
    std::fs::write(dir.join("empty.txt"), " \n\n").unwrap();
    std::fs::write(dir.join("latin1.txt"), b"Mumbai \xe9t\xe9 \xff").unwrap();
    std::fs::write(dir.join("english.txt"), "The Sensex rose 200 points today.").unwrap();
    std::fs::write(dir.join("huge.txt"), "बारिश हुई। ".repeat(500)).unwrap();
    std::fs::write(dir.join("notes.json"), "not an article").unwrap();
    let feed = home.path("feed.jsonl");
    std::fs::write(
        &feed,
        format!(
            "{}\n{{\"id\": \"broken\"\n{}\n",
            serde_json::json!({"id": "f1", "text": ARTICLE, "title": "दिल्ली में बारिश",
                "url": "https://example.com/1", "section": "desh", "tags": ["mausam"]}),
            serde_json::json!({"id": "f2", "text": ""}),
        ),
    )
    .unwrap();
    let out = home.path("out");
    let o = batch(
        &home,
        &[
            &input,
            feed.to_str().unwrap(),
            "--out",
            out.to_str().unwrap(),
            "--max-article-chars",
            "4000",
        ],
    );
    assert_eq!(
        o.status.code(),
        Some(7),
        "failures give exit 7: {}",
        stderr(&o)
    );
    let r = report(&out);
    assert_eq!(r["articles"]["total"], 9);
    assert_eq!(r["articles"]["done"], 3);
    assert_eq!(r["articles"]["failed"], 6);
    let kinds: BTreeMap<String, String> = r["failures"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            (
                f["id"].as_str().unwrap().into(),
                f["kind"].as_str().unwrap().into(),
            )
        })
        .collect();
    let feed_line = |n: usize| format!("{}:{n}", feed.display());
    let expected: BTreeMap<String, String> = [
        ("empty.txt".to_string(), "empty"),
        ("latin1.txt".into(), "not_utf8"),
        ("english.txt".into(), "not_hindi"),
        ("huge.txt".into(), "too_long"),
        (feed_line(2), "bad_record"),
        ("f2".into(), "empty"),
    ]
    .into_iter()
    .map(|(k, v)| (k, v.to_string()))
    .collect();
    assert!(
        kinds.len() == 6 && expected.iter().all(|(k, v)| kinds.get(k) == Some(v)),
        "{kinds:?}"
    );
    let messages = r["failures"].to_string();
    assert!(messages.contains("byte offset 7"), "{messages}");
    assert!(
        messages.contains("5500 characters; the limit is 4000"),
        "{messages}"
    );

    let recs = records(&out);
    assert_eq!(recs.len(), 9, "notes.json is not an article file");
    let f1 = &recs["f1"];
    assert_eq!(f1["status"], "done");
    assert_eq!(f1["url"], "https://example.com/1");
    assert_eq!(f1["extra"]["section"], "desh");
    assert_eq!(f1["extra"]["tags"][0], "mausam");
    assert!(f1["title_translation"].is_string());
    assert_eq!(f1["paragraphs"].as_array().unwrap().len(), 4);
    // The review checks ran: the random model's English misses the article's numbers.
    let flags = f1["paragraphs"].to_string();
    assert!(flags.contains("\"check\":\"numbers\""), "{flags}");
    assert_eq!(f1["source_sha256"].as_str().unwrap().len(), 64);
    assert_eq!(f1["model"]["id"], "tiny");
    assert_eq!(recs["00.txt"]["status"], "done");
    assert_eq!(recs["english.txt"]["error"]["kind"], "not_hindi");
    assert_eq!(article_files(&out).len(), 9, "one file per article");
    let md = std::fs::read_to_string(out.join("report.md")).unwrap();
    assert!(
        md.contains("| failed | 6 |") && md.contains("english.txt"),
        "{md}"
    );
    let log = stderr(&o);
    assert!(log.contains("FAILED english.txt"), "{log}");
    assert!(log.contains("3 done, 0 already done, 6 failed"), "{log}");

    // --fail-fast: stop at the first failure (empty.txt, after 00.txt and 01.txt).
    let ff = home.path("fail-fast");
    let o = batch(
        &home,
        &[&input, "--out", ff.to_str().unwrap(), "--fail-fast"],
    );
    assert_eq!(o.status.code(), Some(7), "{}", stderr(&o));
    let c = &report(&ff)["articles"];
    assert_eq!(
        (c["done"].as_u64(), c["failed"].as_u64()),
        (Some(2), Some(1)),
        "{c}"
    );
    assert_eq!(c["not_processed"], 3);

    // A model that cannot be loaded is not an article's fault: the run stops (exit 5).
    let o = batch(
        &home,
        &[
            &input,
            "--out",
            ff.to_str().unwrap(),
            "--model",
            "/nonexistent/m.gguf",
        ],
    );
    assert_eq!(o.status.code(), Some(5), "{}", stderr(&o));
    assert!(stderr(&o).contains("/nonexistent/m.gguf"));
}

#[test]
fn a_rerun_skips_what_is_done_and_redoes_only_what_changed() {
    let home = Home::new("batch-resume");
    let input = articles(&home, 5);
    let out = home.path("out");
    let args = [input.as_str(), "--out", out.to_str().unwrap()];
    let first = batch(&home, &args);
    assert!(first.status.success(), "{}", stderr(&first));
    let before = records(&out);

    let again = batch(&home, &args);
    assert!(again.status.success(), "{}", stderr(&again));
    let r = report(&out);
    assert_eq!(
        (
            r["articles"]["done"].as_u64(),
            r["articles"]["skipped"].as_u64()
        ),
        (Some(0), Some(5))
    );
    assert!(
        !stderr(&again).contains("loading"),
        "nothing to do, so the model is not loaded"
    );
    assert!(
        !stderr(&again).contains("warning"),
        "a clean finish leaves no stale lock: {}",
        stderr(&again)
    );
    assert_same(&records(&out), &before);

    std::fs::write(home.path("in/03.txt"), "संपादित लेख। सरकार ने नई बात कही।\n").unwrap();
    let changed = batch(&home, &args);
    assert!(changed.status.success());
    let r = report(&out);
    assert_eq!(
        (
            r["articles"]["done"].as_u64(),
            r["articles"]["skipped"].as_u64()
        ),
        (Some(1), Some(4))
    );
    let after = records(&out);
    assert_ne!(after["03.txt"], before["03.txt"]);
    assert_eq!(after["01.txt"], before["01.txt"]);

    // Options that change the output change the work key.
    let longer = batch(&home, &[&args[..], &["--max-new-tokens", "5"]].concat());
    assert!(longer.status.success());
    assert_eq!(report(&out)["articles"]["done"], 5);
    let glossary = home.path("glossary.tsv");
    std::fs::write(&glossary, "दिल्ली\tDilli\n").unwrap();
    let with_glossary = [
        &args[..],
        &["--max-new-tokens", "5"],
        &["--glossary", glossary.to_str().unwrap()],
    ]
    .concat();
    assert!(batch(&home, &with_glossary).status.success());
    assert_eq!(
        report(&out)["articles"]["done"],
        5,
        "a glossary is other work"
    );
    std::fs::write(&glossary, "दिल्ली\tDelhi NCR\n").unwrap();
    assert!(batch(&home, &with_glossary).status.success());
    assert_eq!(
        report(&out)["articles"]["done"],
        5,
        "so is an edited glossary"
    );
    let best = [&with_glossary[..], &["--quality", "best"]].concat();
    assert!(batch(&home, &best).status.success());
    assert_eq!(
        report(&out)["articles"]["done"],
        5,
        "and another quality mode"
    );
}

#[test]
fn both_tasks_give_one_record_with_translation_summary_and_title() {
    let home = Home::new("batch-both");
    let feed = serde_json::json!({"id": 42, "text": ARTICLE, "title": "दिल्ली में बारिश"}).to_string();
    let out = home.path("out");
    let o = home.run_with_stdin(
        &[
            "batch",
            "-",
            "--out",
            out.to_str().unwrap(),
            "--task",
            "both",
            "--bullets",
            "--progress",
            "none",
        ],
        Some(feed.as_bytes()),
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let r = &records(&out)["42"];
    assert_eq!(r["task"], "both");
    assert!(r["translation"].is_string() && r["summary"].is_string() && r["bullets"].is_array());
    assert!(r["title_translation"].is_string());
    assert!(r["stats"]["output_tokens"].as_u64().unwrap() > 0);
    assert!(o.stdout.is_empty(), "batch writes to --out, not stdout");
}

/// A small deterministic random sequence (the seed is printed, to replay a failure).
struct Lcg(u64);
impl Lcg {
    fn below(&mut self, n: u64) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (self.0 >> 33) % n
    }
}

#[test]
fn sigkill_at_random_points_then_resume_gives_the_uninterrupted_result() {
    let home = Home::new("batch-kill");
    let input = articles(&home, 30);
    let reference = home.path("reference");
    let t = Instant::now();
    let o = batch(&home, &[&input, "--out", reference.to_str().unwrap()]);
    assert!(o.status.success(), "{}", stderr(&o));
    let full_ms = t.elapsed().as_millis() as u64;

    let out = home.path("out");
    let seed = std::env::var("ANUVAD_KILL_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| std::process::id() as u64);
    eprintln!("kill points from seed {seed} (ANUVAD_KILL_SEED to replay)");
    let mut rng = Lcg(seed);
    let mut killed = 0;
    let mut last_killed = false;
    for round in 0..6 {
        // Kill after a random number of the remaining articles, plus a random part of
        // one article's time: during model load, mid-article, or between two writes.
        let done_before = std::fs::read_dir(out.join("articles")).map_or(0, |d| d.count());
        // At most a third of what remains, so that six rounds leave articles to kill
        // in the middle of (a seed that drew 26 of 28 once finished the run early).
        let after = rng.below((30 - done_before as u64) / 3 + 1);
        let extra = rng.below(full_ms / 30 + 1);
        let mut child = home
            .command(&[
                "batch",
                &input,
                "--out",
                out.to_str().unwrap(),
                "--progress",
                "json",
            ])
            .spawn()
            .unwrap();
        let mut events =
            std::io::BufRead::lines(std::io::BufReader::new(child.stderr.take().unwrap()));
        let mut seen = 0;
        while seen < after {
            match events.next() {
                Some(Ok(line)) if line.contains("\"article_done\"") => seen += 1,
                Some(_) => {}
                None => break,
            }
        }
        std::thread::sleep(Duration::from_millis(extra));
        let _ = child.kill(); // SIGKILL: no handler runs
        let status = child.wait().unwrap();
        last_killed = status.code().is_none();
        killed += usize::from(last_killed);
        eprintln!(
            "round {round}: {done_before} done before; killed after {after} more + {extra} ms ({status})"
        );
        // Whatever was written is whole: every article file parses.
        if out.join("articles").exists() {
            article_files(&out);
        }
    }
    assert!(
        killed >= 4,
        "only {killed} of 6 runs were still running when killed"
    );
    let last = batch(&home, &[&input, "--out", out.to_str().unwrap()]);
    assert!(last.status.success(), "{}", stderr(&last));
    if last_killed {
        assert!(
            stderr(&last).contains("took over the lock of a run that is gone"),
            "{}",
            stderr(&last)
        );
    }
    let r = report(&out);
    let c = &r["articles"];
    assert_eq!(
        c["done"].as_u64().unwrap() + c["skipped"].as_u64().unwrap(),
        30
    );
    assert_eq!(c["failed"], 0);
    assert_eq!(
        records(&out),
        records(&reference),
        "same records as the uninterrupted run"
    );
    assert_eq!(article_files(&out), article_files(&reference));
    assert_eq!(
        std::fs::read_dir(out.join(".tmp")).unwrap().count(),
        0,
        "no temp files left"
    );
}

#[test]
fn sigterm_abandons_the_article_in_flight_writes_the_report_and_the_rerun_finishes() {
    let home = Home::new("batch-term");
    let input = articles(&home, 30);
    let out = home.path("out");
    let mut child = home
        .command(&[
            "batch",
            &input,
            "--out",
            out.to_str().unwrap(),
            "--progress",
            "json",
        ])
        .spawn()
        .unwrap();
    let (status, rest) = terminate_after(&mut child, "\"article_done\"");
    assert_eq!(status.code(), Some(130), "{rest:?}");
    let r = report(&out);
    assert_eq!(r["interrupted"], true);
    let c = &r["articles"];
    let done = c["done"].as_u64().unwrap();
    assert!(
        done >= 1 && c["not_processed"].as_u64().unwrap() >= 1,
        "{c}"
    );
    assert_eq!(
        records(&out).len() as u64,
        done,
        "articles.jsonl lists what is done"
    );
    assert!(
        std::fs::read_to_string(out.join("report.md"))
            .unwrap()
            .contains("interrupted")
    );

    let again = batch(&home, &[&input, "--out", out.to_str().unwrap()]);
    assert!(again.status.success(), "{}", stderr(&again));
    let c = &report(&out)["articles"];
    assert_eq!(c["skipped"].as_u64().unwrap(), done);
    assert_eq!(c["done"].as_u64().unwrap() + done, 30);
}

#[test]
fn shards_partition_the_input_and_merge_equals_an_unsharded_run() {
    let home = Home::new("batch-shards");
    let input = articles(&home, 12);
    let whole = home.path("whole");
    assert!(
        batch(&home, &[&input, "--out", whole.to_str().unwrap()])
            .status
            .success()
    );
    let mut seen = BTreeSet::new();
    let mut dirs = Vec::new();
    for k in 0..3 {
        let dir = home.path(&format!("shard{k}"));
        let o = batch(
            &home,
            &[
                &input,
                "--out",
                dir.to_str().unwrap(),
                "--shard",
                &format!("{k}/3"),
            ],
        );
        assert!(o.status.success(), "{}", stderr(&o));
        for id in records(&dir).into_keys() {
            assert!(seen.insert(id.clone()), "{id} is in two shards");
        }
        assert_eq!(report(&dir)["shards"][0], format!("{k}/3"));
        dirs.push(dir.display().to_string());
    }
    assert_eq!(
        seen,
        records(&whole).into_keys().collect(),
        "the shards cover the whole"
    );

    let merged = home.path("merged");
    let mut args = vec!["batch", "merge"];
    args.extend(dirs.iter().map(String::as_str));
    args.extend(["--out", merged.to_str().unwrap()]);
    let o = home.run(&args);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_same(&records(&merged), &records(&whole));
    assert_same(&article_files(&merged), &article_files(&whole));
    let r = report(&merged);
    assert_eq!(r["articles"]["done"], 12);
    assert_eq!(r["shards"].as_array().unwrap().len(), 3);
}

#[test]
fn a_second_run_on_the_same_directory_refuses_while_the_first_holds_it() {
    use std::io::Write;
    let home = Home::new("batch-lock");
    let out = home.path("out");
    // The first run holds the lock while it waits for its feed on stdin.
    let mut first = home
        .command(&[
            "batch",
            "-",
            "--out",
            out.to_str().unwrap(),
            "--progress",
            "none",
        ])
        .spawn()
        .unwrap();
    let lock = out.join(".anuvad.lock");
    let t = Instant::now();
    while std::fs::read_to_string(&lock).map_or(true, |s| s.is_empty()) {
        assert!(
            t.elapsed() < Duration::from_secs(30),
            "the first run never took the lock"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    let input = articles(&home, 1);
    let second = batch(&home, &[&input, "--out", out.to_str().unwrap()]);
    assert_eq!(second.status.code(), Some(8));
    let msg = stderr(&second);
    assert!(msg.contains("in use by another anuvad batch run"), "{msg}");
    assert!(msg.contains(&format!("pid {}", first.id())), "{msg}");

    let mut stdin = first.stdin.take().unwrap();
    writeln!(stdin, "{}", serde_json::json!({"id": "a", "text": ARTICLE})).unwrap();
    drop(stdin);
    let o = first.wait_with_output().unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(report(&out)["articles"]["done"], 1);
}

#[test]
fn the_slurm_script_runs_each_array_task_as_a_shard_that_merges_into_the_whole() {
    let home = Home::new("batch-slurm");
    let input = articles(&home, 6);
    let root = home.path("nightly");
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/scripts/slurm-batch.sh");
    for k in 0..2 {
        let o = std::process::Command::new("bash")
            .args([script, &input, root.to_str().unwrap()])
            .env("SLURM_ARRAY_TASK_ID", k.to_string())
            .env("SLURM_ARRAY_TASK_COUNT", "2")
            .env("SLURM_CPUS_PER_TASK", "1")
            .env("ANUVAD_BIN", env!("CARGO_BIN_EXE_anuvad"))
            .env("ANUVAD_MODEL", "tiny")
            .env("ANUVAD_HOME", &home.dir)
            .output()
            .unwrap();
        assert!(o.status.success(), "task {k}: {}", stderr(&o));
        assert_eq!(
            report(&root.join(format!("shard-{k}")))["shards"][0],
            format!("{k}/2")
        );
    }
    let all = root.join("all");
    let o = home.run(&[
        "batch",
        "merge",
        root.join("shard-0").to_str().unwrap(),
        root.join("shard-1").to_str().unwrap(),
        "--out",
        all.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(records(&all).len(), 6);
    assert_eq!(report(&all)["articles"]["done"], 6);
}

#[test]
fn a_restart_right_after_the_holder_died_waits_for_its_lock_to_be_released() {
    // After SIGKILL the kernel releases a run's lock only once the dead process is torn
    // down (measured: 2-150 ms), and supervisors restart at once. Here the lock file
    // names a dead pid while this test holds the lock until the new run is waiting.
    let home = Home::new("batch-relock");
    let input = articles(&home, 1);
    let out = home.path("out");
    std::fs::create_dir_all(&out).unwrap();
    let dead = {
        let mut c = std::process::Command::new("true").spawn().unwrap();
        c.wait().unwrap();
        c.id()
    };
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap();
    let lock = out.join(".anuvad.lock");
    std::fs::write(
        &lock,
        format!(
            "pid {dead} on {}, started 2026-11-30T01:30:00Z",
            host.trim()
        ),
    )
    .unwrap();
    let held = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open(&lock)
        .unwrap();
    held.lock().unwrap();
    let mut child = home
        .command(&[
            "batch",
            &input,
            "--out",
            out.to_str().unwrap(),
            "--progress",
            "plain",
        ])
        .spawn()
        .unwrap();
    // Release only once the new run has the lock file open (it tries at once after),
    // or has given up.
    let fds = format!("/proc/{}/fd", child.id());
    let t = Instant::now();
    while !std::fs::read_dir(&fds).is_ok_and(|d| {
        d.flatten()
            .any(|e| std::fs::read_link(e.path()).is_ok_and(|p| p == lock))
    }) && child.try_wait().unwrap().is_none()
    {
        assert!(
            t.elapsed() < Duration::from_secs(60),
            "the run never opened its lock"
        );
        std::thread::sleep(Duration::from_millis(5));
    }
    std::thread::sleep(Duration::from_millis(300));
    drop(held);
    let o = child.wait_with_output().unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(
        stderr(&o).contains(&format!(
            "took over the lock of a run that is gone (pid {dead} on"
        )),
        "{}",
        stderr(&o)
    );
    assert_eq!(report(&out)["articles"]["done"], 1);
}

#[test]
fn an_unreadable_subdirectory_fails_alone_and_the_other_articles_are_done() {
    let home = Home::new("batch-unreadable");
    let input = articles(&home, 2);
    // Unreadable for everyone: a directory whose path is longer than PATH_MAX (root
    // reads through permissions), and one with mode 000 (for other users).
    let deep = std::process::Command::new("bash")
        .arg("-c")
        .arg("cd \"$1\" && for i in $(seq 20); do d=$(printf 'd%.0s' $(seq 250)); mkdir $d && cd $d || exit 1; done && echo 'लेख।' > a.txt")
        .args(["-", &input])
        .status()
        .unwrap();
    assert!(deep.success());
    let locked = home.path("in/locked");
    std::fs::create_dir(&locked).unwrap();
    std::fs::write(locked.join("a.txt"), ARTICLE).unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&locked, std::fs::Permissions::from_mode(0o000)).unwrap();
    // Root reads it anyway, and then its article is done like the others.
    let readable = std::fs::read_dir(&locked).is_ok();
    let out = home.path("out");
    let o = batch(&home, &[&input, "--out", out.to_str().unwrap()]);
    std::fs::set_permissions(&locked, std::fs::Permissions::from_mode(0o755)).unwrap();
    assert_eq!(o.status.code(), Some(7), "{}", stderr(&o));
    let r = report(&out);
    assert_eq!(r["articles"]["done"], 2 + u64::from(readable), "{r}");
    let failures = r["failures"].as_array().unwrap();
    assert!(!failures.is_empty(), "{r}");
    for f in failures {
        assert_eq!(f["kind"], "io", "{f}");
        let message = f["message"].as_str().unwrap();
        assert!(message.starts_with("cannot read "), "{message}");
    }
    assert_eq!(
        r["articles"]["failed"].as_u64(),
        Some(failures.len() as u64)
    );
}

#[test]
fn an_input_with_no_articles_is_an_error_not_a_quiet_success() {
    let home = Home::new("batch-nothing");
    let empty = home.path("empty");
    std::fs::create_dir_all(empty.join("sub")).unwrap();
    std::fs::write(empty.join("notes.json"), "{}").unwrap();
    let feed = home.path("feed.jsonl");
    std::fs::write(&feed, "\n\n").unwrap();
    for input in [&empty, &feed] {
        let out = home.path("out");
        let o = batch(
            &home,
            &[input.to_str().unwrap(), "--out", out.to_str().unwrap()],
        );
        assert_eq!(o.status.code(), Some(3), "{}", stderr(&o));
        assert!(
            stderr(&o).contains(&format!("no articles in {}", input.display())),
            "{}",
            stderr(&o)
        );
    }
}

#[test]
fn a_closed_stderr_stops_progress_but_the_run_finishes_and_writes_its_report() {
    use std::io::BufRead;
    let home = Home::new("batch-epipe");
    let input = articles(&home, 6);
    let out = home.path("out");
    let mut child = home
        .command(&[
            "batch",
            &input,
            "--out",
            out.to_str().unwrap(),
            "--progress",
            "plain",
        ])
        .spawn()
        .unwrap();
    // Like `anuvad batch … 2>&1 | head -1`: one line, then the reader is gone.
    let mut reader = std::io::BufReader::new(child.stderr.take().unwrap());
    let mut first = String::new();
    reader.read_line(&mut first).unwrap();
    drop(reader);
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(0), "first line: {first}");
    let c = &report(&out)["articles"];
    assert_eq!(
        (c["done"].as_u64(), c["failed"].as_u64()),
        (Some(6), Some(0))
    );
}

#[test]
fn a_feed_with_a_byte_order_mark_keeps_its_first_record_and_ids_cannot_forge_log_lines() {
    let home = Home::new("batch-bom");
    let forged = "evil\nanuvad: [    0.1s] 9/9 done forged.txt (0.1 s, 0 tokens out)\u{0}";
    let feed = home.path("feed.jsonl");
    std::fs::write(
        &feed,
        format!(
            "\u{FEFF}{}\n{}\n",
            serde_json::json!({"id": "first", "text": ARTICLE}),
            serde_json::json!({"id": forged, "text": "no Hindi here"}),
        ),
    )
    .unwrap();
    let out = home.path("out");
    let o = batch(
        &home,
        &[feed.to_str().unwrap(), "--out", out.to_str().unwrap()],
    );
    assert_eq!(o.status.code(), Some(7), "{}", stderr(&o));
    let recs = records(&out);
    assert_eq!(recs["first"]["status"], "done", "{recs:?}");
    assert_eq!(recs[forged]["error"]["kind"], "not_hindi");
    let log = stderr(&o);
    assert!(
        !log.lines()
            .any(|l| l.contains("done forged.txt") && !l.contains("FAILED")),
        "a forged line: {log}"
    );
    assert!(!log.contains('\0'), "{log}");
    assert!(
        log.contains(
            "FAILED evil\\nanuvad: [    0.1s] 9/9 done forged.txt (0.1 s, 0 tokens out)\\u{0}: "
        ),
        "{log}"
    );
}
