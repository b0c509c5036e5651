//! `anuvad batch`: many articles, one model load, for unattended nightly runs.
//!
//! The run, in order: collect the input items (`source`), keep this shard's slice, lock
//! the output directory (`store`), find the models and work out which articles are
//! already done (a stored record with status "done" and the same work key), then run
//! the rest through the pipeline one at a time, writing each record atomically as soon
//! as it is finished. A bad
//! article becomes a failed record and the run goes on; a signal stops the run between
//! two tokens without writing a record for the article in flight. At the end (also
//! after a signal or --fail-fast) `articles.jsonl` and the reports (`report`) are
//! written. Running the same command again resumes.

pub mod report;
pub(crate) mod source;
pub(crate) mod store;

use crate::config::{InputRules, ModelChoice, Options, Task};
use crate::error::{Error, Result};
use crate::hub::{HubConfig, Resolved};
use crate::pipeline::{Found, Pipeline, Plan, Uses};
use crate::progress::{Event, Progress};
use crate::record::{BatchRecord, Failure, ModelInfo, SCHEMA_VERSION, Status};
use crate::settings::Settings;
use crate::text::Article;
use report::{Counts, Report, RunFacts};
use serde::Serialize;
use sha2::{Digest, Sha256};
use source::{ArticleIn, Item};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;
use store::OutDir;

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
    pub task: Task,
    pub shard: Option<Shard>,
    pub fail_fast: bool,
    /// `force` (accept articles without Devanagari) and the length limit.
    pub input: InputRules,
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
enum Todo {
    Skip(Box<BatchRecord>),
    Work {
        article: Result<ArticleIn>,
        source_sha256: String,
        work_key: String,
    },
}

pub fn run(
    cfg: &BatchConfig,
    choice: &ModelChoice,
    options: &Options,
    hub: &HubConfig,
    progress: &mut dyn Progress,
    interrupt: &Arc<AtomicBool>,
) -> Result<Outcome> {
    let clock = Instant::now();
    let started_at = crate::record::now_rfc3339();
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
    // Titles are translated whatever the task, so the translator is always needed.
    let uses = Uses {
        translate: true,
        summarize: cfg.task.summarizes(),
    };
    let plan = Plan::resolve(choice, options, uses, hub, progress)?;
    let translator = plan
        .translator
        .as_ref()
        .expect("a batch always has a translator");
    let model = model_info(&translator.resolved);
    let summary_model = plan.summarizer.as_ref().map(|f| model_info(&f.resolved));
    let keys = Keys::new(cfg, &plan);

    // First pass: which articles are done already (cheap: hashing and small reads).
    let mut first_seen: HashMap<&str, &str> = HashMap::new();
    let mut todo = Vec::with_capacity(items.len());
    for item in &items {
        if let Some(first) = first_seen.get(item.id.as_str()) {
            // Never touch the first one's record: this one is reported, not stored.
            todo.push(Todo::Work {
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
        let article = item.read_at_most(cfg.input.max_chars).and_then(|a| {
            crate::text::input::check(&item.origin, &a.text, &cfg.input)?;
            Ok(a)
        });
        let (source_sha256, title) = match &article {
            Ok(a) => (hex(&Sha256::digest(a.text.as_bytes())), a.title.as_deref()),
            Err(_) => (String::new(), None),
        };
        let work_key = keys.of(&source_sha256, title);
        match out.read_record(&item.id) {
            Some(r) if article.is_ok() && r.status == Status::Done && r.work_key == work_key => {
                todo.push(Todo::Skip(Box::new(r)))
            }
            _ => todo.push(Todo::Work {
                article,
                source_sha256,
                work_key,
            }),
        }
    }

    let to_do = todo
        .iter()
        .filter(|t| matches!(t, Todo::Work { .. }))
        .count();
    let mut counts = Counts {
        total: items.len(),
        skipped: items.len() - to_do,
        ..Counts::default()
    };
    progress.event(&Event::BatchBegin {
        total: to_do,
        skipped: counts.skipped,
    });
    let mut worker = Worker {
        plan: &plan,
        hub,
        pipeline: None,
        interrupt,
    };
    let mut records: Vec<Option<BatchRecord>> = vec![None; items.len()];
    let mut processed: Vec<usize> = Vec::new();
    let mut interrupted = false;
    let mut index = 0;
    for (i, (item, t)) in items.iter().zip(todo).enumerate() {
        let (article, source_sha256, work_key) = match t {
            Todo::Skip(r) => {
                records[i] = Some(*r);
                continue;
            }
            Todo::Work {
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
            total: to_do,
            id: &item.id,
        });
        if article.is_ok() {
            // Loading the model is not about this article: a failure stops the run.
            worker.load(progress)?;
        }
        let started = Instant::now();
        let started_at = crate::record::now_rfc3339();
        let mut record = BatchRecord {
            work_key,
            model: model.clone(),
            summary_model: summary_model.clone(),
            ..BatchRecord::new(&item.id, &item.origin, cfg.task)
        };
        if !source_sha256.is_empty() {
            record.source_sha256 = Some(source_sha256);
        }
        match article.and_then(|a| worker.process(item, &a, cfg.task, progress).map(|w| (a, w))) {
            Ok((a, w)) => {
                record.source_chars = Some(a.text.chars().count());
                record.title = a.title;
                record.url = a.url;
                record.extra = a.extra;
                record.title_translation = w.title_translation;
                record.translation = w.translation;
                record.summary = w.summary;
                record.stats = Some(w.stats.counts());
                record.timings = w.stats.timings();
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
                | Error::Pypi { .. }
                | Error::Offline { .. }),
            ) => return Err(e),
            Err(e) => {
                record.status = Status::Failed;
                record.error = Some(Failure {
                    kind: e.kind().into(),
                    message: e.to_string(),
                });
            }
        }
        let seconds = started.elapsed().as_secs_f64();
        record.timings.seconds = crate::pipeline::runner::round(seconds, 3);
        record.timings.started_at = Some(started_at);
        record.timings.finished_at = Some(crate::record::now_rfc3339());
        // A duplicate id's record would overwrite the first one's: report it only.
        if !record.work_key.is_empty() {
            out.write_record(&record)?;
        }
        let error = record.error.as_ref().map(|e| e.message.clone());
        if error.is_some() {
            counts.failed += 1;
        } else {
            counts.done += 1;
        }
        progress.event(&Event::ArticleDone {
            index,
            total: to_do,
            id: &item.id,
            error: error.as_deref(),
            seconds,
            output_tokens: record.stats.as_ref().map_or(0, |s| s.output_tokens),
        });
        records[i] = Some(record);
        processed.push(i);
    }
    progress.event(&Event::BatchEnd);

    let all: Vec<&BatchRecord> = records.iter().flatten().collect();
    let processed: Vec<&BatchRecord> = processed
        .iter()
        .filter_map(|&i| records[i].as_ref())
        .collect();
    let facts = RunFacts {
        task: cfg.task.name().into(),
        options: keys.options(),
        shards: cfg.shard.iter().map(|s| s.to_string()).collect(),
        model: Some(model),
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

fn model_info(r: &Resolved) -> ModelInfo {
    ModelInfo {
        id: r.card.id.clone(),
        file: r
            .path
            .file_name()
            .map(|f| f.to_string_lossy().into_owned())
            .unwrap_or_default(),
        sha256: r.sha256.clone(),
        architecture: r.card.architecture.clone(),
    }
}

/// The models, loaded on the first article that needs them (a resumed run with
/// nothing left to do never loads them).
struct Worker<'a> {
    plan: &'a Plan,
    hub: &'a HubConfig,
    pipeline: Option<Pipeline>,
    interrupt: &'a Arc<AtomicBool>,
}

impl Worker<'_> {
    fn load(&mut self, progress: &mut dyn Progress) -> Result<&mut Pipeline> {
        if self.pipeline.is_none() {
            let mut p = self.plan.load(self.hub, progress)?;
            p.interrupt_on(self.interrupt.clone());
            self.pipeline = Some(p);
        }
        Ok(self.pipeline.as_mut().expect("loaded above"))
    }

    /// The task's results for one article. A panic inside the model becomes this
    /// article's error rather than the end of the run.
    fn process(
        &mut self,
        item: &Item,
        a: &ArticleIn,
        task: Task,
        progress: &mut dyn Progress,
    ) -> Result<crate::pipeline::Worked> {
        let pipeline = self.load(progress)?;
        // Checked in the first pass; `force` keeps a non-Hindi article (with --force)
        // from being refused again here.
        let rules = InputRules {
            force: true,
            max_chars: usize::MAX,
        };
        let article = Article::new(&item.origin, &a.text, &rules)?.with_title(a.title.clone());
        std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            pipeline.run(&article, task, progress)
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

/// Work keys: a hash of everything that decides an article's output (its text and
/// title, the task, the models' files, prompts and settings), so editing a prompt or a
/// setting redoes the articles and editing a card's description does not.
#[derive(Serialize)]
struct Keys<'a> {
    schema_version: u32,
    task: Task,
    force: bool,
    #[serde(rename = "model")]
    translator: ModelKey<'a>,
    #[serde(rename = "summary_model")]
    summarizer: Option<ModelKey<'a>>,
    /// The glossary's sha256: its names change translations and checks.
    glossary: Option<&'a str>,
}

#[derive(Serialize)]
struct ModelKey<'a> {
    sha256: &'a str,
    tokenizer: &'a crate::card::TokenizerSource,
    prompts: &'a crate::card::Prompts,
    settings: serde_json::Value,
}

impl<'a> ModelKey<'a> {
    fn new(found: &'a Found, task: Task) -> ModelKey<'a> {
        ModelKey {
            sha256: &found.resolved.sha256,
            tokenizer: &found.resolved.card.tokenizer,
            prompts: &found.resolved.card.prompts,
            settings: key_settings(&found.settings, task),
        }
    }
}

/// The settings that can change this task's records: a translation's key does not
/// depend on summary settings, and no batch record depends on `--bullets` (records keep
/// the bullet list either way) or on the threshold for scored reviews.
fn key_settings(s: &Settings, task: Task) -> serde_json::Value {
    let mut v = serde_json::to_value(s).unwrap_or_default();
    if let Some(o) = v.as_object_mut() {
        o.remove("bullets");
        o.remove("low_confidence_scored");
        if !task.summarizes() {
            for k in [
                "summary_method",
                "summary_length",
                "summary_words",
                "notes_chunk_tokens",
            ] {
                o.remove(k);
            }
        }
    }
    v
}

impl<'a> Keys<'a> {
    fn new(cfg: &BatchConfig, plan: &'a Plan) -> Keys<'a> {
        Keys {
            schema_version: SCHEMA_VERSION,
            task: cfg.task,
            force: cfg.input.force,
            translator: ModelKey::new(
                plan.translator
                    .as_ref()
                    .expect("a batch always has a translator"),
                cfg.task,
            ),
            summarizer: plan.summarizer.as_ref().map(|f| ModelKey::new(f, cfg.task)),
            glossary: plan.glossary_sha256.as_deref(),
        }
    }

    /// The key of an article with this text hash and title.
    fn of(&self, source_sha256: &str, title: Option<&str>) -> String {
        let key = serde_json::to_string(&(source_sha256, title, self)).unwrap_or_default();
        hex(&Sha256::digest(key.as_bytes()))
    }

    /// The options part of the report: each model's settings as they ran.
    fn options(&self) -> serde_json::Value {
        serde_json::json!({
            "force": self.force,
            "settings": self.translator.settings,
            "summary_settings": self.summarizer.as_ref().map(|s| &s.settings),
        })
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// `articles.jsonl` (one line per article, input order) and the two reports.
fn write_run_files(out: &OutDir, records: &[&BatchRecord], report: &Report) -> Result<()> {
    let mut lines = String::new();
    for r in records {
        lines.push_str(&serde_json::to_string(r).unwrap_or_default());
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
    let mut records: Vec<BatchRecord> = Vec::new();
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
            let record: BatchRecord = serde_json::from_str(line).map_err(|e| {
                Error::Invalid(format!(
                    "{}/articles.jsonl:{}: not a record of this version of anuvad (schema {SCHEMA_VERSION}): {e}",
                    dir.display(),
                    n + 1
                ))
            })?;
            match at.get(&record.id) {
                // The same article in two shards: keep a done record over a failed one.
                Some(&i) => {
                    if records[i].status != Status::Done && record.status == Status::Done {
                        records[i] = record;
                    }
                }
                None => {
                    at.insert(record.id.clone(), records.len());
                    records.push(record);
                }
            }
        }
        reports.push(report);
    }
    for r in &records {
        if !r.work_key.is_empty() {
            out.write_record(r)?;
        }
    }
    let all: Vec<&BatchRecord> = records.iter().collect();
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
    fn summary_settings_do_not_change_the_work_key_of_a_translation() {
        let cards = crate::card::load_all(None).unwrap();
        let card = cards.iter().find(|c| c.default).unwrap();
        let settings = |length| {
            let o = Options {
                summary_length: Some(length),
                ..Options::default()
            };
            Settings::resolve(card, &o)
        };
        let (long, short) = (
            settings(SummaryLength::Long),
            settings(SummaryLength::Short),
        );
        assert_eq!(
            key_settings(&long, Task::Translate),
            key_settings(&short, Task::Translate)
        );
        assert_ne!(
            key_settings(&long, Task::Both),
            key_settings(&short, Task::Both)
        );
        let more_tokens = Settings {
            max_new_tokens: long.max_new_tokens + 1,
            ..long.clone()
        };
        assert_ne!(
            key_settings(&more_tokens, Task::Translate),
            key_settings(&long, Task::Translate)
        );
        let best = Settings::resolve(
            card,
            &Options {
                quality: Some(crate::config::Quality::Best),
                ..Options::default()
            },
        );
        assert_ne!(
            key_settings(&best, Task::Translate),
            key_settings(&long, Task::Translate),
            "another quality mode is other work"
        );
    }
}
