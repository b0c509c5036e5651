//! `anuvad batch`: many articles, one model load, for unattended nightly runs.
//!
//! The run, in order: collect the input items (`source`), keep this shard's slice, lock
//! the output directory (`store`), work out which articles are already done (a stored
//! record with status "done" and the same work key), then translate/summarize the rest
//! one at a time, writing each record atomically as soon as it is finished. A bad
//! article becomes a failed record and the run goes on; a signal stops the run between
//! two tokens without writing a record for the article in flight. At the end (also
//! after a signal or --fail-fast) `articles.jsonl` and the reports (`report`) are
//! written. Running the same command again resumes.

pub mod report;
pub mod source;
pub mod store;

use crate::app;
use crate::card::ModelCard;
use crate::config::{ModelConfig, TaskConfig};
use crate::engine::Engine;
use crate::error::{Error, Result};
use crate::generate::{Generator, Options, Stats};
use crate::hub::{HubConfig, Resolved};
use crate::output::{self, merge as merge_json};
use crate::progress::{Event, Progress};
use crate::{input, segment, summarize, translate};
use report::{Counts, Report, RunFacts};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use source::{ArticleIn, Item};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;
use store::OutDir;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BatchTask {
    Translate,
    Summarize,
    Both,
}

impl BatchTask {
    fn name(self) -> &'static str {
        match self {
            BatchTask::Translate => "translate",
            BatchTask::Summarize => "summarize",
            BatchTask::Both => "both",
        }
    }
    fn translates(self) -> bool {
        self != BatchTask::Summarize
    }
    fn summarizes(self) -> bool {
        self != BatchTask::Translate
    }
}

/// `--shard K/N`: this run takes the items whose id hashes to K modulo N (K from 0).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shard {
    pub index: usize,
    pub count: usize,
}

impl Shard {
    pub fn parse(s: &str) -> Result<Shard> {
        let bad = || {
            Error::Invalid(format!(
                "--shard {s:?}: expected K/N with 0 <= K < N, e.g. --shard 0/4 (K is the 0-based shard index, like SLURM_ARRAY_TASK_ID with --array=0-3 or JOB_COMPLETION_INDEX)"
            ))
        };
        let (k, n) = s.split_once('/').ok_or_else(bad)?;
        let index: usize = k.trim().parse().map_err(|_| bad())?;
        let count: usize = n.trim().parse().map_err(|_| bad())?;
        if count == 0 || index >= count {
            return Err(bad());
        }
        Ok(Shard { index, count })
    }

    /// Stable across machines and runs: the first 8 bytes of the id's SHA-256.
    pub fn contains(&self, id: &str) -> bool {
        let h = Sha256::digest(id.as_bytes());
        let mut first = [0u8; 8];
        first.copy_from_slice(&h[..8]);
        u64::from_be_bytes(first) % self.count as u64 == self.index as u64
    }
}

impl std::fmt::Display for Shard {
    fn fmt(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        write!(f, "{}/{}", self.index, self.count)
    }
}

#[derive(Debug, Clone)]
pub struct BatchConfig {
    pub inputs: Vec<PathBuf>,
    pub out: PathBuf,
    pub task: BatchTask,
    pub shard: Option<Shard>,
    pub fail_fast: bool,
    pub max_article_chars: usize,
    /// Summary length, bullets, and `force` (accept articles without Devanagari).
    pub options: TaskConfig,
}

/// How a batch (or merge) ended; main turns it into the exit code.
#[derive(Debug)]
pub struct Outcome {
    pub report: Report,
    pub dir: PathBuf,
}

impl Outcome {
    /// 130 when interrupted, 7 when any article failed, else 0 (README, "Exit codes").
    pub fn exit_code(&self) -> i32 {
        if self.report.interrupted {
            130
        } else if self.report.articles.failed > 0 {
            7
        } else {
            0
        }
    }
}

/// An item after the first pass: already done, or to do (with its text or the error
/// that will be its record).
enum Plan {
    Skip(Value),
    Todo {
        article: Result<ArticleIn>,
        source_sha256: String,
        work_key: String,
    },
}

pub fn run(
    cfg: &BatchConfig,
    model_cfg: &ModelConfig,
    hubc: &HubConfig,
    progress: &mut dyn Progress,
    interrupt: &AtomicBool,
) -> Result<Outcome> {
    let clock = Instant::now();
    let started_at = report::now_rfc3339();
    // Lock first: a second run on the same directory is refused before it reads a feed.
    let out = OutDir::open(&cfg.out)?;
    let items: Vec<Item> = source::collect(&cfg.inputs)?
        .into_iter()
        .filter(|i| cfg.shard.is_none_or(|s| s.contains(&i.id)))
        .collect();
    if let Some(previous) = &out.stale_lock {
        progress.event(&Event::Warning {
            message: &format!(
                "took over the lock of a run that is gone ({previous}); resuming its work"
            ),
        });
    }
    let resolved = app::resolve_model(model_cfg, hubc, progress)?;
    // Summaries may come from another model than translations (`--summary-model`).
    let summary_cfg = if cfg.task.summarizes() {
        app::summary_config(model_cfg)?
    } else {
        None
    };
    let mut options = task_options(cfg, model_cfg);
    if let Some(s) = &summary_cfg {
        let r = app::resolve_model(s, hubc, progress)?;
        options["summary_model"] = json!({"sha256": r.sha256, "card_sha256": card_hash(&r.card)});
    }
    let card_sha256 = card_hash(&resolved.card);

    // First pass: which articles are done already (cheap: hashing and small reads).
    let mut first_seen: HashMap<&str, &str> = HashMap::new();
    let mut plans = Vec::with_capacity(items.len());
    for item in &items {
        if let Some(first) = first_seen.get(item.id.as_str()) {
            // Never touch the first one's record: this one is reported, not stored.
            plans.push(Plan::Todo {
                article: Err(Error::BadRecord {
                    origin: item.origin.clone(),
                    message: format!("duplicate id {:?} (first seen at {first})", item.id),
                }),
                source_sha256: String::new(),
                work_key: String::new(),
            });
            continue;
        }
        first_seen.insert(&item.id, &item.origin);
        let article = item.read().and_then(|a| check(a, item, cfg));
        let (source_sha256, title) = match &article {
            Ok(a) => (hex(&Sha256::digest(a.text.as_bytes())), a.title.clone()),
            Err(_) => (String::new(), None),
        };
        let work_key = hex(&Sha256::digest(
            json!({"source_sha256": source_sha256, "title": title,
                "model_sha256": resolved.sha256, "card_sha256": card_sha256, "options": options})
            .to_string()
            .as_bytes(),
        ));
        match out.read_record(&item.id) {
            Some(r) if article.is_ok() && r["status"] == "done" && r["work_key"] == work_key => {
                plans.push(Plan::Skip(r))
            }
            _ => plans.push(Plan::Todo {
                article,
                source_sha256,
                work_key,
            }),
        }
    }

    let todo = plans
        .iter()
        .filter(|p| matches!(p, Plan::Todo { .. }))
        .count();
    let mut counts = Counts {
        total: items.len(),
        skipped: items.len() - todo,
        ..Counts::default()
    };
    progress.event(&Event::BatchBegin {
        total: todo,
        skipped: counts.skipped,
    });
    let model_json = json!({"id": resolved.card.id, "file": file_name(&resolved.path),
        "sha256": resolved.sha256, "architecture": resolved.card.architecture});
    let mut worker = Worker {
        cfg,
        model_cfg,
        hubc,
        resolved: &resolved,
        engine: None,
        summary_cfg: summary_cfg.as_ref(),
        summary: None,
        interrupt,
    };
    let mut records: Vec<Option<Value>> = vec![None; items.len()];
    let mut processed: Vec<usize> = Vec::new();
    let mut interrupted = false;
    let mut index = 0;
    for (i, (item, plan)) in items.iter().zip(plans).enumerate() {
        let (article, source_sha256, work_key) = match plan {
            Plan::Skip(r) => {
                records[i] = Some(r);
                continue;
            }
            Plan::Todo {
                article,
                source_sha256,
                work_key,
            } => (article, source_sha256, work_key),
        };
        if interrupted || (cfg.fail_fast && counts.failed > 0) {
            counts.not_processed += 1;
            continue;
        }
        if interrupt.load(Ordering::Relaxed) {
            interrupted = true;
            counts.not_processed += 1;
            continue;
        }
        index += 1;
        progress.event(&Event::ArticleBegin {
            index,
            total: todo,
            id: &item.id,
        });
        if article.is_ok() {
            // Loading the model is not about this article: a failure stops the run.
            worker.load(progress)?;
        }
        let started = Instant::now();
        let started_at = report::now_rfc3339();
        let result = article.and_then(|a| worker.process(&a, progress).map(|r| (a, r)));
        let mut record = json!({
            "id": item.id, "origin": item.origin, "task": cfg.task.name(),
            "work_key": work_key, "model": model_json,
        });
        let error = match result {
            Ok((article, parts)) => {
                merge_json(&mut record, parts);
                merge_json(&mut record, source_fields(&article, &source_sha256));
                record["status"] = "done".into();
                None
            }
            Err(Error::Interrupted) => {
                interrupted = true;
                counts.not_processed += 1;
                progress.event(&Event::Warning {
                    message: &format!("interrupted; {} is left for the next run", item.id),
                });
                continue;
            }
            // Loading the model is not about this article: the whole run cannot go on.
            Err(
                e @ (Error::ModelMissing { .. }
                | Error::ModelCorrupt { .. }
                | Error::UnsupportedArchitecture { .. }
                | Error::Card { .. }
                | Error::Download { .. }
                | Error::Offline { .. }),
            ) => return Err(e),
            Err(e) => {
                record["status"] = "failed".into();
                record["error"] = json!({"kind": e.kind(), "message": e.to_string()});
                if !source_sha256.is_empty() {
                    record["source_sha256"] = source_sha256.into();
                }
                Some(e.to_string())
            }
        };
        let seconds = started.elapsed().as_secs_f64();
        if !record["timings"].is_object() {
            record["timings"] = json!({});
        }
        merge_json(
            &mut record["timings"],
            json!({"seconds": output::round(seconds, 3), "started_at": started_at,
                "finished_at": report::now_rfc3339()}),
        );
        // A duplicate id's record would overwrite the first one's: report it only.
        if !work_key.is_empty() {
            out.write_record(&item.id, &record)?;
        }
        if error.is_some() {
            counts.failed += 1;
        } else {
            counts.done += 1;
        }
        progress.event(&Event::ArticleDone {
            index,
            total: todo,
            id: &item.id,
            error: error.as_deref(),
            seconds,
            output_tokens: record
                .pointer("/stats/output_tokens")
                .and_then(Value::as_u64)
                .unwrap_or(0) as usize,
        });
        records[i] = Some(record);
        processed.push(i);
    }
    progress.event(&Event::BatchEnd);

    let all: Vec<&Value> = records.iter().flatten().collect();
    let processed: Vec<&Value> = processed
        .iter()
        .filter_map(|&i| records[i].as_ref())
        .collect();
    let facts = RunFacts {
        task: cfg.task.name().into(),
        options,
        shards: cfg.shard.iter().map(|s| s.to_string()).collect(),
        model: model_json.clone(),
        started_at,
        wall_seconds: clock.elapsed().as_secs_f64(),
        interrupted,
        counts,
    };
    let report = report::build(facts, &processed, &all);
    write_run_files(&out, &all, &report)?;
    Ok(Outcome {
        report,
        dir: cfg.out.clone(),
    })
}

/// The model and what runs it, loaded on the first article that needs it (a resumed
/// run with nothing left to do never loads it).
struct Worker<'a> {
    cfg: &'a BatchConfig,
    model_cfg: &'a ModelConfig,
    hubc: &'a HubConfig,
    resolved: &'a Resolved,
    engine: Option<Box<dyn Engine>>,
    /// The summary model, when it is not the translation model: its config, and the
    /// model once loaded.
    summary_cfg: Option<&'a ModelConfig>,
    summary: Option<(Box<dyn Engine>, ModelCard)>,
    interrupt: &'a AtomicBool,
}

impl Worker<'_> {
    fn load(&mut self, progress: &mut dyn Progress) -> Result<()> {
        if self.engine.is_none() {
            self.engine = Some(app::load_resolved(
                self.resolved,
                self.model_cfg,
                self.hubc,
                progress,
            )?);
        }
        if let (Some(c), None) = (self.summary_cfg, &self.summary) {
            self.summary = Some(app::load_engine(c, self.hubc, progress)?);
        }
        Ok(())
    }

    /// The task's output fields, `stats` and `timings` for one article. A panic inside
    /// the model becomes this article's error rather than the end of the run.
    fn process(&mut self, article: &ArticleIn, progress: &mut dyn Progress) -> Result<Value> {
        self.load(progress)?;
        let engine = self.engine.as_mut().expect("loaded above");
        let card = &self.resolved.card;
        let summary: Option<(&mut dyn Engine, &ModelCard)> = match &mut self.summary {
            Some((e, c)) => Some((e.as_mut(), c)),
            None => None,
        };
        let (cfg, model_cfg, interrupt) = (self.cfg, self.model_cfg, self.interrupt);
        std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            let models = Models {
                translate: (engine.as_mut(), card),
                summarize: summary,
            };
            work(cfg, model_cfg, models, article, progress, interrupt)
        }))
        .unwrap_or_else(|panic| {
            let what = panic
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
                .unwrap_or_else(|| "unknown".into());
            Err(Error::Invalid(format!(
                "internal error while processing this article ({what}); please report it"
            )))
        })
    }
}

/// The engines an article goes through: one translates; summaries come from the
/// second when there is one.
struct Models<'e> {
    translate: (&'e mut dyn Engine, &'e ModelCard),
    summarize: Option<(&'e mut dyn Engine, &'e ModelCard)>,
}

fn work(
    cfg: &BatchConfig,
    model_cfg: &ModelConfig,
    models: Models,
    article: &ArticleIn,
    progress: &mut dyn Progress,
    interrupt: &AtomicBool,
) -> Result<Value> {
    let doc = segment::segment(&segment::normalize(&article.text));
    let options = Options::from(model_cfg);
    let (engine, card) = models.translate;
    let mut parts = json!({});
    let mut stats = Stats::default();
    if let Some(title) = article
        .title
        .as_deref()
        .filter(|t| segment::has_devanagari(t))
    {
        let mut g = Generator::new(engine, card, options, progress).with_interrupt(interrupt);
        let english = translate::translate_sentences(&mut g, &[title])?;
        let text: Vec<&str> = english.iter().map(|l| l.text.as_str()).collect();
        parts["title_translation"] = text.join(" ").into();
        stats.add(&g.finish());
    }
    if cfg.task.translates() {
        let mut g = Generator::new(engine, card, options, progress).with_interrupt(interrupt);
        let mut t = translate::translate(&mut g, &doc)?;
        stats.add(&g.finish());
        // The same flags as `translate --format json` on every sentence.
        let settings = crate::checks::Settings {
            min_mean_logprob: card.review.min_mean_logprob,
        };
        crate::review::Review::flag(&mut t, &settings);
        merge_json(&mut parts, output::translation_json(&t));
    }
    if cfg.task.summarizes() {
        let (engine, card) = models.summarize.unwrap_or((engine, card));
        let mut g = Generator::new(engine, card, options, progress).with_interrupt(interrupt);
        let length = cfg.options.summary_length;
        let s = summarize::summarize(&mut g, &doc, length)?;
        stats.add(&g.finish());
        merge_json(&mut parts, output::summary_json(&s, length));
    }
    parts["stats"] = output::counts_json(&stats);
    parts["timings"] = output::timings_json(&stats);
    Ok(parts)
}

/// The input checks of translate/summarize, plus the batch's length limit.
fn check(article: ArticleIn, item: &Item, cfg: &BatchConfig) -> Result<ArticleIn> {
    let a = input::Article {
        origin: item.origin.clone(),
        text: article.text,
    };
    input::check(&a, cfg.options.force)?;
    let chars = a.text.chars().count();
    if chars > cfg.max_article_chars {
        return Err(Error::TooLong {
            origin: a.origin,
            chars,
            max: cfg.max_article_chars,
        });
    }
    Ok(ArticleIn {
        text: a.text,
        ..article
    })
}

/// The fields describing the source in a done record.
fn source_fields(a: &ArticleIn, sha: &str) -> Value {
    let mut v = json!({"source_sha256": sha, "source_chars": a.text.chars().count()});
    if let Some(t) = &a.title {
        v["title"] = t.as_str().into();
    }
    if let Some(u) = &a.url {
        v["url"] = u.as_str().into();
    }
    if !a.extra.is_empty() {
        v["extra"] = Value::Object(a.extra.clone());
    }
    v
}

/// The options that change a task's output, and so belong in the work key.
fn task_options(cfg: &BatchConfig, m: &ModelConfig) -> Value {
    let mut v = json!({"task": cfg.task.name(), "force": cfg.options.force,
        "max_new_tokens": m.max_new_tokens, "temperature": m.sampling.temperature});
    if m.beams.is_some() || m.precision.is_some() {
        v["beams"] = json!(m.beams);
        v["precision"] = json!(m.precision);
    }
    if m.sampling.temperature > 0.0 {
        v["top_p"] = json!(m.sampling.top_p);
        v["seed"] = json!(m.sampling.seed);
    }
    if cfg.task.summarizes() {
        v["summary_length"] = json!(cfg.options.summary_length);
        v["bullets"] = json!(cfg.options.bullets);
    }
    v
}

/// The parts of a card that change outputs (prompts, generation, chunking, summary,
/// context, tokenizer), hashed: editing a prompt redoes the articles, editing the
/// description does not.
fn card_hash(c: &ModelCard) -> String {
    let mut v = json!({"tokenizer": c.tokenizer, "context": c.context, "generation": c.generation,
        "chunk": c.chunk, "summary": c.summary, "prompts": c.prompts});
    if c.is_marian() {
        v["precision"] = json!(c.precision);
    }
    hex(&Sha256::digest(v.to_string().as_bytes()))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn file_name(p: &Path) -> String {
    p.file_name()
        .map(|f| f.to_string_lossy().into_owned())
        .unwrap_or_default()
}

/// `articles.jsonl` (one line per article, input order) and the two reports.
fn write_run_files(out: &OutDir, records: &[&Value], report: &Report) -> Result<()> {
    let mut lines = String::new();
    for r in records {
        lines.push_str(&r.to_string());
        lines.push('\n');
    }
    out.write(&out.root().join("articles.jsonl"), lines.as_bytes())?;
    let mut json = serde_json::to_string_pretty(report).unwrap_or_default();
    json.push('\n');
    out.write(&out.root().join("report.json"), json.as_bytes())?;
    out.write(
        &out.root().join("report.md"),
        report::markdown(report).as_bytes(),
    )
}

/// `anuvad batch merge`: the articles and reports of shard directories, combined into
/// `out` as if one run had done them all.
pub fn merge(dirs: &[PathBuf], out_dir: &Path) -> Result<Outcome> {
    let out = OutDir::open(out_dir)?;
    let mut reports: Vec<Report> = Vec::new();
    let mut records: Vec<Value> = Vec::new();
    let mut at: HashMap<String, usize> = HashMap::new();
    for dir in dirs {
        if same_dir(dir, out_dir) {
            return Err(Error::Invalid(format!(
                "cannot merge {} into itself; give another --out",
                dir.display()
            )));
        }
        let read = |name: &str| {
            let path = dir.join(name);
            std::fs::read_to_string(&path).map_err(|source| Error::Io {
                path: path.clone(),
                source,
            })
        };
        let report_text = read("report.json").map_err(|e| {
            Error::Invalid(format!(
                "{e}; is {} the --out of an `anuvad batch` run? (a killed run writes it when run again)",
                dir.display()
            ))
        })?;
        let report: Report = serde_json::from_str(&report_text).map_err(|e| {
            Error::Invalid(format!(
                "{}/report.json is not a report: {e}",
                dir.display()
            ))
        })?;
        for (n, line) in read("articles.jsonl")?.lines().enumerate() {
            let record: Value = serde_json::from_str(line).map_err(|e| {
                Error::Invalid(format!(
                    "{}/articles.jsonl:{}: not a record ({e})",
                    dir.display(),
                    n + 1
                ))
            })?;
            let id = record["id"].as_str().unwrap_or_default().to_string();
            match at.get(&id) {
                // The same article in two shards: keep a done record over a failed one.
                Some(&i) => {
                    if records[i]["status"] != "done" && record["status"] == "done" {
                        records[i] = record;
                    }
                }
                None => {
                    at.insert(id, records.len());
                    records.push(record);
                }
            }
        }
        reports.push(report);
    }
    for r in &records {
        if r["work_key"].as_str().is_some_and(|k| !k.is_empty()) {
            out.write_record(r["id"].as_str().unwrap_or_default(), r)?;
        }
    }
    let all: Vec<&Value> = records.iter().collect();
    let report = report::combine(&reports, &all);
    write_run_files(&out, &all, &report)?;
    Ok(Outcome {
        report,
        dir: out_dir.to_path_buf(),
    })
}

fn same_dir(a: &Path, b: &Path) -> bool {
    match (a.canonicalize(), b.canonicalize()) {
        (Ok(a), Ok(b)) => a == b,
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::SummaryLength;

    #[test]
    fn shards_partition_ids_with_no_overlap() {
        let ids: Vec<String> = (0..500).map(|i| format!("article-{i}.txt")).collect();
        let shards: Vec<Shard> = (0..4).map(|k| Shard { index: k, count: 4 }).collect();
        let mut sizes = [0; 4];
        for id in &ids {
            let owners: Vec<usize> = (0..4).filter(|&k| shards[k].contains(id)).collect();
            assert_eq!(owners.len(), 1, "{id} belongs to exactly one shard");
            sizes[owners[0]] += 1;
        }
        // Roughly even: each shard gets 125 ± 40 of 500.
        assert!(sizes.iter().all(|&n| (85..=165).contains(&n)), "{sizes:?}");
    }

    #[test]
    fn shard_specs_are_checked() {
        assert_eq!(Shard::parse("2/8").unwrap(), Shard { index: 2, count: 8 });
        for bad in ["8/8", "1/0", "x/2", "3", "-1/2"] {
            let err = Shard::parse(bad).unwrap_err();
            assert!(err.to_string().contains("0 <= K < N"), "{bad}: {err}");
        }
    }

    #[test]
    fn summary_options_do_not_change_the_work_key_of_a_translation() {
        let m = ModelConfig::for_model(None, PathBuf::new());
        let mut cfg = BatchConfig {
            inputs: vec![],
            out: PathBuf::new(),
            task: BatchTask::Translate,
            shard: None,
            fail_fast: false,
            max_article_chars: 10,
            options: TaskConfig::default(),
        };
        let before = task_options(&cfg, &m);
        cfg.options.summary_length = SummaryLength::Long;
        assert_eq!(task_options(&cfg, &m), before);
        cfg.task = BatchTask::Both;
        let both = task_options(&cfg, &m);
        cfg.options.summary_length = SummaryLength::Short;
        assert_ne!(task_options(&cfg, &m), both);
    }
}
