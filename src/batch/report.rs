//! The run report: `report.json` for machines, `report.md` for people. Built from the
//! article records of the run (so a merged report is built the same way from the
//! merged records) plus the few run-level facts records do not carry.

use crate::pipeline::runner::round;
use crate::record::{BatchRecord, ModelInfo, Status, now_rfc3339};
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// How many slowest articles the report lists.
const SLOWEST: usize = 10;

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct Counts {
    /// Articles in this run's input (after sharding).
    pub total: usize,
    /// Done by this run.
    pub done: usize,
    /// Already done by an earlier run with the same work key, so skipped.
    pub skipped: usize,
    pub failed: usize,
    /// Not reached because the run was interrupted or stopped by --fail-fast.
    pub not_processed: usize,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Slow {
    pub id: String,
    pub seconds: f64,
    pub source_chars: usize,
    pub output_tokens: usize,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Failure {
    pub id: String,
    pub origin: String,
    pub kind: String,
    pub message: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Report {
    pub anuvad_version: String,
    pub task: String,
    /// The settings the models ran with (part of every work key).
    pub options: Value,
    /// `K/N` when the run was one shard of a feed; a merged report lists its parts.
    pub shards: Vec<String>,
    pub model: Option<ModelInfo>,
    pub started_at: String,
    pub finished_at: String,
    /// Wall time of the run (of the longest shard, for a merged report).
    pub wall_seconds: f64,
    /// Set when a signal stopped the run; the same command resumes it.
    pub interrupted: bool,
    pub articles: Counts,
    /// Tokens of the articles processed by this run (skipped ones not included).
    pub input_tokens: usize,
    pub output_tokens: usize,
    /// Seconds spent on the articles processed by this run (summed over shards).
    pub processing_seconds: f64,
    pub articles_per_minute: f64,
    pub output_tokens_per_second: f64,
    pub slowest: Vec<Slow>,
    pub failures: Vec<Failure>,
}

/// What a run knows besides its records.
pub struct RunFacts {
    pub task: String,
    pub options: Value,
    pub shards: Vec<String>,
    pub model: Option<ModelInfo>,
    pub started_at: String,
    pub wall_seconds: f64,
    pub interrupted: bool,
    pub counts: Counts,
}

fn output_tokens(r: &BatchRecord) -> usize {
    r.stats.as_ref().map_or(0, |s| s.output_tokens)
}

/// The report of a run: `processed` are the records this run wrote, `all` every record
/// of its input (processed and skipped), in input order.
pub fn build(facts: RunFacts, processed: &[&BatchRecord], all: &[&BatchRecord]) -> Report {
    let done: Vec<&&BatchRecord> = processed
        .iter()
        .filter(|r| r.status == Status::Done)
        .collect();
    let processing_seconds: f64 = processed.iter().map(|r| r.timings.seconds).sum();
    let tokens: usize = processed.iter().map(|r| output_tokens(r)).sum();
    let mut slowest: Vec<Slow> = done
        .iter()
        .map(|r| Slow {
            id: r.id.clone(),
            seconds: r.timings.seconds,
            source_chars: r.source_chars.unwrap_or(0),
            output_tokens: output_tokens(r),
        })
        .collect();
    slowest.sort_by(|a, b| b.seconds.total_cmp(&a.seconds));
    slowest.truncate(SLOWEST);
    Report {
        anuvad_version: env!("CARGO_PKG_VERSION").into(),
        task: facts.task,
        options: facts.options,
        shards: facts.shards,
        model: facts.model,
        started_at: facts.started_at,
        finished_at: now_rfc3339(),
        wall_seconds: round(facts.wall_seconds, 3),
        interrupted: facts.interrupted,
        articles: facts.counts,
        input_tokens: processed
            .iter()
            .map(|r| r.stats.as_ref().map_or(0, |s| s.input_tokens))
            .sum(),
        output_tokens: tokens,
        processing_seconds: round(processing_seconds, 3),
        articles_per_minute: round(rate(done.len() as f64 * 60.0, processing_seconds), 2),
        output_tokens_per_second: round(rate(tokens as f64, processing_seconds), 1),
        slowest,
        failures: failures(all),
    }
}

/// One report for shard runs: counts and tokens added up, wall time of the longest
/// shard, failures from the merged records.
pub fn combine(reports: &[Report], all: &[&BatchRecord]) -> Report {
    let mut counts = Counts::default();
    let (mut input_tokens, mut output_tokens, mut seconds, mut done) = (0, 0, 0.0, 0);
    let mut slowest = Vec::new();
    let mut shards = Vec::new();
    for r in reports {
        let c = &r.articles;
        counts.total += c.total;
        counts.done += c.done;
        counts.skipped += c.skipped;
        counts.failed += c.failed;
        counts.not_processed += c.not_processed;
        input_tokens += r.input_tokens;
        output_tokens += r.output_tokens;
        seconds += r.processing_seconds;
        done += c.done;
        slowest.extend(r.slowest.iter().cloned());
        shards.extend(r.shards.iter().cloned());
    }
    // Failures are recounted from the merged records: an article that failed in one
    // shard directory and was done in another counts as done.
    counts.failed = all.iter().filter(|r| r.status == Status::Failed).count();
    slowest.sort_by(|a, b| b.seconds.total_cmp(&a.seconds));
    slowest.truncate(SLOWEST);
    let first = reports.first();
    Report {
        anuvad_version: env!("CARGO_PKG_VERSION").into(),
        task: first.map(|r| r.task.clone()).unwrap_or_default(),
        options: first.map(|r| r.options.clone()).unwrap_or_default(),
        shards,
        model: first.map(|r| r.model.clone()).unwrap_or_default(),
        started_at: reports
            .iter()
            .map(|r| r.started_at.clone())
            .min()
            .unwrap_or_default(),
        finished_at: reports
            .iter()
            .map(|r| r.finished_at.clone())
            .max()
            .unwrap_or_default(),
        wall_seconds: reports.iter().map(|r| r.wall_seconds).fold(0.0, f64::max),
        interrupted: reports.iter().any(|r| r.interrupted),
        articles: counts,
        input_tokens,
        output_tokens,
        processing_seconds: round(seconds, 3),
        articles_per_minute: round(rate(done as f64 * 60.0, seconds), 2),
        output_tokens_per_second: round(rate(output_tokens as f64, seconds), 1),
        slowest,
        failures: failures(all),
    }
}

fn failures(all: &[&BatchRecord]) -> Vec<Failure> {
    all.iter()
        .filter(|r| r.status == Status::Failed)
        .map(|r| Failure {
            id: r.id.clone(),
            origin: r.origin.clone(),
            kind: r.error.as_ref().map_or(String::new(), |e| e.kind.clone()),
            message: r
                .error
                .as_ref()
                .map_or(String::new(), |e| e.message.clone()),
        })
        .collect()
}

fn rate(n: f64, seconds: f64) -> f64 {
    if seconds > 0.0 { n / seconds } else { 0.0 }
}

/// The report for people.
pub fn markdown(r: &Report) -> String {
    let c = &r.articles;
    let mut s = String::from("# anuvad batch report\n\n");
    let status = if r.interrupted {
        "**interrupted** (run the same command again to resume)"
    } else if c.failed > 0 {
        "finished with failures"
    } else if c.not_processed > 0 {
        "stopped early (--fail-fast)"
    } else {
        "finished"
    };
    s.push_str(&format!("- Status: {status}\n"));
    s.push_str(&format!(
        "- Task: {} {}\n",
        r.task,
        serde_json::to_string(&r.options).unwrap_or_default()
    ));
    if !r.shards.is_empty() {
        s.push_str(&format!("- Shards: {}\n", r.shards.join(", ")));
    }
    if let Some(m) = &r.model {
        s.push_str(&format!(
            "- Model: {} (`{}`, sha256 `{}`)\n",
            m.id, m.file, m.sha256
        ));
    }
    s.push_str(&format!(
        "- Time: {} → {} ({:.1} s wall)\n\n",
        r.started_at, r.finished_at, r.wall_seconds
    ));
    s.push_str("| articles | count |\n|---|---:|\n");
    for (name, n) in [
        ("total", c.total),
        ("done", c.done),
        ("skipped (already done)", c.skipped),
        ("failed", c.failed),
        ("not processed", c.not_processed),
    ] {
        s.push_str(&format!("| {name} | {n} |\n"));
    }
    s.push_str(&format!(
        "\nThroughput: {:.2} articles/min, {:.1} output tokens/s ({} input and {} output tokens in {:.1} s of processing).\n",
        r.articles_per_minute,
        r.output_tokens_per_second,
        r.input_tokens,
        r.output_tokens,
        r.processing_seconds
    ));
    if !r.failures.is_empty() {
        s.push_str("\n## Failures\n\n| id | kind | reason |\n|---|---|---|\n");
        for f in &r.failures {
            s.push_str(&format!(
                "| {} | {} | {} |\n",
                cell(&f.id),
                f.kind,
                cell(&f.message)
            ));
        }
    }
    if !r.slowest.is_empty() {
        s.push_str(
            "\n## Slowest articles\n\n| id | seconds | source chars | output tokens |\n|---|---:|---:|---:|\n",
        );
        for a in &r.slowest {
            s.push_str(&format!(
                "| {} | {:.1} | {} | {} |\n",
                cell(&a.id),
                a.seconds,
                a.source_chars,
                a.output_tokens
            ));
        }
    }
    s
}

/// Text safe inside a Markdown table cell.
fn cell(s: &str) -> String {
    s.replace('|', "\\|").replace('\n', " ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn facts(counts: Counts) -> RunFacts {
        RunFacts {
            task: "translate".into(),
            options: json!({}),
            shards: vec![],
            model: Some(ModelInfo {
                id: "m".into(),
                file: "m.gguf".into(),
                sha256: "ab".into(),
                architecture: "gemma3".into(),
            }),
            started_at: "2026-11-25T00:00:00Z".into(),
            wall_seconds: 10.0,
            interrupted: false,
            counts,
        }
    }

    fn record(id: &str, chars: usize, tokens: (usize, usize), seconds: f64) -> BatchRecord {
        BatchRecord {
            schema_version: 1,
            id: id.into(),
            origin: format!("in/{id}.txt"),
            status: Status::Done,
            task: crate::config::Task::Translate,
            work_key: "k".into(),
            model: facts(Counts::default()).model.unwrap(),
            summary_model: None,
            title: None,
            url: None,
            extra: Default::default(),
            source_sha256: None,
            source_chars: Some(chars),
            title_translation: None,
            translation: None,
            summary: None,
            error: None,
            stats: Some(crate::record::Counts {
                input_tokens: tokens.0,
                output_tokens: tokens.1,
                chunks: 1,
                retries: 0,
            }),
            timings: crate::record::Timings {
                seconds,
                ..Default::default()
            },
        }
    }

    #[test]
    fn the_report_counts_throughput_over_processed_articles_and_lists_failures() {
        let a = record("a", 100, (50, 40), 2.0);
        let b = record("b", 300, (150, 80), 4.0);
        let bad = BatchRecord {
            status: Status::Failed,
            stats: None,
            error: Some(crate::record::Failure {
                kind: "empty".into(),
                message: "in/c.txt is empty | really".into(),
            }),
            ..record("c", 0, (0, 0), 0.0)
        };
        let skipped = record("d", 10, (0, 999), 99.0);
        let counts = Counts {
            total: 4,
            done: 2,
            skipped: 1,
            failed: 1,
            not_processed: 0,
        };
        let r = build(facts(counts), &[&a, &b, &bad], &[&a, &b, &bad, &skipped]);
        assert_eq!(r.output_tokens, 120);
        assert_eq!(r.input_tokens, 200);
        assert_eq!(r.articles_per_minute, 20.0);
        assert_eq!(r.output_tokens_per_second, 20.0);
        assert_eq!(r.slowest[0].id, "b");
        assert_eq!(r.failures.len(), 1);
        assert_eq!(r.failures[0].kind, "empty");
        let md = markdown(&r);
        assert!(md.contains("| failed | 1 |"), "{md}");
        assert!(md.contains("is empty \\| really"), "{md}");
        assert!(md.contains("finished with failures"));
    }
}
