//! The commands, as the binary calls them: each reads its inputs, runs the pipeline and
//! writes the result. main.rs only parses flags into the plain configs here.

use crate::card::{self, ModelCard};
use crate::config::{InputRules, ModelChoice, Options, OutputFormat, Task};
use crate::error::{Error, Result};
use crate::eval;
use crate::hub::{self, HubConfig};
use crate::output;
use crate::pipeline::{Pipeline, Uses};
use crate::progress::{Event, Progress};
use crate::review::{self, checks::Check, html};
use crate::text::{Article, input};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::AtomicBool;

/// What every model-running command shares: the models, the choices over their cards'
/// defaults, what input is accepted, and how to reach the hub.
#[derive(Debug, Clone)]
pub struct Setup {
    pub choice: ModelChoice,
    pub options: Options,
    pub input: InputRules,
    pub hub: HubConfig,
    /// Set by SIGINT/SIGTERM: generation stops at the next token with
    /// `Error::Interrupted`.
    pub interrupt: Option<Arc<AtomicBool>>,
}

impl Setup {
    pub(crate) fn pipeline(&self, uses: Uses, progress: &mut dyn Progress) -> Result<Pipeline> {
        let mut p = Pipeline::load(&self.choice, &self.options, uses, &self.hub, progress)?;
        if let Some(flag) = &self.interrupt {
            p.interrupt_on(flag.clone());
        }
        Ok(p)
    }
}

/// The instruction-set tier the kernels run on (`avx512`, `avx2`, `generic`): what
/// this CPU has, capped by `ANUVAD_ISA`; an error when that variable names no tier.
pub fn kernel_tier() -> Result<&'static str> {
    crate::models::kernels::isa_cap().map_err(Error::Invalid)?;
    Ok(crate::models::kernels::isa().name())
}

/// The `--version` text: the crate version, the git commit it was built from ("unknown"
/// outside a git checkout) and the CPU features the kernels use here.
pub fn version_text(version: &str, commit: &str) -> String {
    format!(
        "{version} (commit {commit})\nkernels: {}",
        crate::models::kernels::features_in_use().join(" ")
    )
}

/// Where a command's result goes.
#[derive(Debug, Clone)]
pub struct Io {
    /// Input file; None or "-" for stdin.
    pub input: Option<PathBuf>,
    /// Output file; None for stdout.
    pub output: Option<PathBuf>,
    pub format: OutputFormat,
}

/// `anuvad translate`; `review_page` also writes the side-by-side review page.
pub fn translate(
    setup: &Setup,
    io: &Io,
    review_page: Option<&Path>,
    progress: &mut dyn Progress,
) -> Result<()> {
    // Bad input and unwritable outputs fail before the slow model load.
    let article = Article::read(io.input.as_deref(), &setup.input)?;
    let out = OutFile::open_all(io.output.as_deref())?;
    let page = OutFile::open_all(review_page)?;
    let mut pipeline = setup.pipeline(Uses::TRANSLATE, progress)?;
    let record = pipeline.translate(&article, progress)?;
    if let Some(page) = page {
        page.write(&html::render(&record, &article.origin, &record.model.id))?;
    }
    write_output(out, &output::translation(&record, io.format))
}

/// `anuvad summarize`.
pub fn summarize(setup: &Setup, io: &Io, progress: &mut dyn Progress) -> Result<()> {
    let article = Article::read(io.input.as_deref(), &setup.input)?;
    let out = OutFile::open_all(io.output.as_deref())?;
    let mut pipeline = setup.pipeline(Uses::SUMMARIZE, progress)?;
    let record = pipeline.summarize(&article, progress)?;
    let text = output::summary(&record, setup.options.bullets, io.format);
    write_output(out, &text)
}

/// `anuvad review`: check a translation made elsewhere against its Hindi source.
#[derive(Debug, Clone)]
pub struct ReviewConfig {
    pub source: PathBuf,
    pub translation: PathBuf,
    pub html: Option<PathBuf>,
    /// Markdown or JSON on stdout.
    pub format: OutputFormat,
    /// Exit non-zero when any of these checks fires.
    pub fail_on: Vec<Check>,
}

/// Returns the exit code: 9 when a check named in `--fail-on` fired.
pub fn review(setup: &Setup, rc: &ReviewConfig, progress: &mut dyn Progress) -> Result<i32> {
    let article = Article::read(Some(&rc.source), &setup.input)?;
    let english = input::read(Some(&rc.translation))?;
    if english.text.trim().is_empty() {
        return Err(Error::EmptyInput {
            origin: english.origin,
        });
    }
    let page = OutFile::open_all(rc.html.as_deref())?;
    let mut pipeline = setup.pipeline(Uses::TRANSLATE, progress)?;
    let record = pipeline.review(&article, &english.text, progress)?;
    if let Some(page) = page {
        page.write(&html::render(&record, &english.origin, &record.model.id))?;
    }
    write_output(None, &output::review(&record, rc.format))?;
    let fired = review::fired(&record.translation.checks, &rc.fail_on);
    if fired.is_empty() {
        return Ok(0);
    }
    let names: Vec<&str> = fired.iter().map(|c| c.name()).collect();
    progress.event(&Event::Warning {
        message: &format!("checks named in --fail-on fired: {}", names.join(", ")),
    });
    Ok(9)
}

/// `anuvad eval`: measure the pipeline on an evaluation set.
#[derive(Debug, Clone)]
pub struct EvalConfig {
    /// An evaluation-set directory or a FLORES-200 directory; default `eval/news`.
    pub data: Option<PathBuf>,
    pub task: Task,
    /// Only the first N articles.
    pub limit: Option<usize>,
    /// JSON instead of a table on stdout.
    pub json: bool,
    /// Also write the JSON report here.
    pub out: Option<PathBuf>,
}

/// Returns the exit code: 7 when an article failed.
pub fn eval(setup: &Setup, ec: &EvalConfig, progress: &mut dyn Progress) -> Result<i32> {
    let data = ec
        .data
        .clone()
        .unwrap_or_else(|| PathBuf::from("eval/news"));
    let mut articles = eval::load(&data)?;
    if let Some(n) = ec.limit {
        articles.truncate(n);
    }
    let out = OutFile::open_all(ec.out.as_deref())?;
    let mut pipeline = setup.pipeline(Uses::of(ec.task), progress)?;
    let report = eval::run(&mut pipeline, &articles, ec.task, &data, progress);
    let json = output::json(&report);
    if let Some(out) = out {
        out.write(&json)?;
    }
    let text = if ec.json {
        json
    } else {
        eval::table(&report.articles, &report.summary, &report.failures)
    };
    write_output(None, &text)?;
    Ok(if report.failures.is_empty() { 0 } else { 7 })
}

/// A result file, opened before the work starts so that an unwritable path fails at
/// once instead of after minutes of translation; its old content is replaced only when
/// the result is written, and a file created for a run that failed is removed.
struct OutFile {
    path: PathBuf,
    file: std::fs::File,
    created: bool,
    written: bool,
}

impl OutFile {
    fn open(path: &Path) -> Result<OutFile> {
        let created = std::fs::symlink_metadata(path).is_err();
        let file = std::fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(false)
            .open(path)
            .map_err(|source| Error::Write {
                path: path.to_path_buf(),
                source,
            })?;
        Ok(OutFile {
            path: path.to_path_buf(),
            file,
            created,
            written: false,
        })
    }

    fn open_all(path: Option<&Path>) -> Result<Option<OutFile>> {
        path.map(OutFile::open).transpose()
    }

    fn write(mut self, text: &str) -> Result<()> {
        // Only a regular file can be truncated (not /dev/stdout or a pipe).
        let regular = self.file.metadata().is_ok_and(|m| m.is_file());
        let result = (if regular {
            self.file.set_len(0)
        } else {
            Ok(())
        })
        .and_then(|_| self.file.write_all(text.as_bytes()))
        .and_then(|_| self.file.flush());
        self.written = result.is_ok();
        result.map_err(|source| Error::Write {
            path: self.path.clone(),
            source,
        })
    }
}

impl Drop for OutFile {
    fn drop(&mut self) {
        if self.created && !self.written {
            let _ = std::fs::remove_file(&self.path);
        }
    }
}

/// Write to `out`, or to stdout.
fn write_output(out: Option<OutFile>, text: &str) -> Result<()> {
    match out {
        Some(out) => out.write(text),
        None => {
            let mut out = std::io::stdout().lock();
            out.write_all(text.as_bytes())
                .and_then(|_| out.flush())
                .map_err(|source| Error::Write {
                    path: "<stdout>".into(),
                    source,
                })
        }
    }
}

pub fn cards(home: &Path) -> Result<card::Catalog> {
    card::catalog(Some(&home.join("models")))
}

/// One line of `anuvad models list`.
#[derive(Debug, serde::Serialize)]
pub struct ModelEntry {
    pub id: String,
    pub name: String,
    pub default: bool,
    /// Whether its files are on this machine.
    pub local: bool,
    /// Where they are (or would be once pulled).
    pub path: PathBuf,
    /// Bytes: the local file's, else the card's; None when neither is known.
    pub size: Option<u64>,
    /// Set for a user card that does not parse.
    pub error: Option<String>,
}

/// Every card, whether its file is here, where, and its size; broken user cards with
/// their error.
pub fn models_entries(home: &Path, hubc: &HubConfig) -> Result<Vec<ModelEntry>> {
    let catalog = cards(home)?;
    let mut out = Vec::new();
    for c in &catalog.cards {
        let local = hub::local_path(c, home, hubc);
        out.push(ModelEntry {
            id: c.id.clone(),
            name: c.name.clone(),
            default: c.default,
            size: local
                .as_ref()
                .and_then(|p| std::fs::metadata(p).ok())
                .map(|m| m.len())
                .or(c.source.size),
            path: match &local {
                Some(p) => place_of(c, p),
                None => hub::expected_place(c, home, hubc),
            },
            local: local.is_some(),
            error: None,
        });
    }
    for b in &catalog.broken {
        out.push(ModelEntry {
            id: b.id.clone(),
            name: String::new(),
            default: false,
            local: false,
            path: home.join("models").join(format!("{}.toml", b.id)),
            size: None,
            error: Some(b.error().to_string()),
        });
    }
    Ok(out)
}

/// `anuvad models list`, as a table or (`json`) a JSON array of `ModelEntry`.
pub fn models_list(home: &Path, hubc: &HubConfig, json: bool) -> Result<String> {
    let entries = models_entries(home, hubc)?;
    if json {
        let text = serde_json::to_string_pretty(&entries)
            .map_err(|e| Error::Invalid(format!("models list as JSON: {e}")))?;
        return Ok(text + "\n");
    }
    let mut s = format!("{:<24} {:<8} {:>10}  {}\n", "ID", "LOCAL", "SIZE", "NAME");
    for e in &entries {
        if let Some(err) = &e.error {
            s.push_str(&format!(
                "{:<24} {:<8} {:>10}  {}\n",
                e.id, "broken", "-", err
            ));
            continue;
        }
        let size = e
            .size
            .map(|b| format!("{:.0} MB", b as f64 / 1e6))
            .unwrap_or_else(|| "unknown".into());
        let mark = if e.default { " (default)" } else { "" };
        s.push_str(&format!(
            "{:<24} {:<8} {:>10}  {}{}\n",
            e.id,
            if e.local { "yes" } else { "no" },
            size,
            e.name,
            mark
        ));
    }
    Ok(s)
}

/// A model of several files (Marian) is its folder; others their file.
fn place_of(card: &ModelCard, main: &Path) -> PathBuf {
    if card.source.files.is_empty() {
        main.to_path_buf()
    } else {
        main.parent().unwrap_or(Path::new(".")).to_path_buf()
    }
}

fn find_card(home: &Path, name: &str) -> Result<ModelCard> {
    let catalog = cards(home)?;
    catalog.check(Some(name))?;
    catalog
        .cards
        .iter()
        .find(|c| c.id == name)
        .cloned()
        .ok_or_else(|| Error::UnknownModel {
            name: name.to_string(),
            known: hub::known(&catalog.cards),
        })
}

pub fn models_pull(
    name: &str,
    home: &Path,
    hubc: &HubConfig,
    progress: &mut dyn Progress,
) -> Result<PathBuf> {
    let card = find_card(home, name)?;
    hub::pull(&card, home, hubc, progress)
}

/// Where a model's files are: its file, or for a model of several files (Marian) the
/// folder holding them all (what `--model` takes).
pub fn models_path(name: &str, home: &Path, hubc: &HubConfig) -> Result<PathBuf> {
    let card = find_card(home, name)?;
    match hub::local_path(&card, home, hubc) {
        Some(p) => Ok(place_of(&card, &p)),
        None => Err(Error::ModelMissing {
            path: hub::expected_place(&card, home, hubc),
            fix: hub::fix_for(&card),
        }),
    }
}

/// `anuvad models rm ID`: what anuvad downloaded for the model, removed; one line per
/// file and the total freed.
pub fn models_rm(name: &str, home: &Path, hubc: &HubConfig) -> Result<String> {
    let card = find_card(home, name)?;
    let removed = hub::remove(&card, home, hubc)?;
    if removed.is_empty() {
        return Ok(format!(
            "{name}: nothing to remove (no downloaded files of it in {} or {})\n",
            home.join("models").display(),
            hubc.cache_dir().display()
        ));
    }
    let mut s = String::new();
    let mut total = 0;
    for (path, bytes) in &removed {
        s.push_str(&format!("removed {}\n", path.display()));
        total += bytes;
    }
    s.push_str(&format!(
        "{name}: freed {:.1} MB ({total} bytes)\n",
        total as f64 / 1e6
    ));
    Ok(s)
}

/// What `anuvad models verify` found: one line per model, and the first mismatch.
pub struct Verified {
    pub report: String,
    pub failure: Option<Error>,
}

/// `anuvad models verify [ID|PATH]`: hash the model files again (whatever their
/// sidecars say) and hold them to their cards' size and sha256; every card whose file
/// is here when no name is given.
pub fn models_verify(
    name: Option<&str>,
    home: &Path,
    hubc: &HubConfig,
    progress: &mut dyn Progress,
) -> Result<Verified> {
    let catalog = cards(home)?;
    let targets: Vec<(PathBuf, ModelCard)> = match name {
        Some(n) if catalog.cards.iter().any(|c| c.id == n) || catalog.check(Some(n)).is_err() => {
            let card = find_card(home, n)?;
            let path = hub::local_path(&card, home, hubc).ok_or_else(|| Error::ModelMissing {
                path: home.join("models").join(&card.source.file),
                fix: hub::fix_for(&card),
            })?;
            vec![(path, card)]
        }
        Some(n) => {
            vec![hub::card_for_path(n, None, &catalog.cards)?]
        }
        None => catalog
            .cards
            .iter()
            .filter_map(|c| hub::local_path(c, home, hubc).map(|p| (p, c.clone())))
            .collect(),
    };
    let mut report = String::new();
    let mut failure = None;
    for (path, card) in targets {
        progress.event(&Event::Stage {
            message: &format!("verifying {}", path.display()),
        });
        match hub::check_against_card(&path, &card, home, true) {
            Ok(sha) => {
                let checked = if card.source.sha256.is_some() {
                    "ok"
                } else {
                    "ok (the card has no sha256 to compare with)"
                };
                report.push_str(&format!("{} {} {sha} {checked}\n", card.id, path.display()));
            }
            Err(e) => {
                report.push_str(&format!("{} {} FAILED: {e}\n", card.id, path.display()));
                failure.get_or_insert(e);
            }
        }
    }
    if report.is_empty() {
        report.push_str("no model files here to verify (`anuvad models list` shows the cards)\n");
    }
    Ok(Verified { report, failure })
}
