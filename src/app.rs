//! The commands, as the binary calls them: each takes a plain config, runs the pipeline
//! stages in order and writes the result. main.rs only parses flags.

use crate::assemble::Confidence;
use crate::card::{self, ModelCard};
use crate::config::{EvalConfig, ModelConfig, OutputFormat, ReviewConfig, TaskConfig};
use crate::engine::marian::MarianEngine;
use crate::engine::{DecoderEngine, Engine, ModelInfo};
use crate::error::{Error, Result};
use crate::generate::{Generator, Options, Stats};
use crate::hub::{self, DownloadProgress, HubConfig};
use crate::progress::{Event, Progress};
use crate::review::{self, Review};
use crate::{align, checks, input, output, segment, summarize, translate};
use std::io::Write;
use std::path::{Path, PathBuf};

/// Where a command's result goes.
#[derive(Debug, Clone)]
pub struct Io {
    /// Input file; None or "-" for stdin.
    pub input: Option<PathBuf>,
    /// Output file; None for stdout.
    pub output: Option<PathBuf>,
    pub format: OutputFormat,
}

/// Hub downloads report through the same progress sink as everything else.
struct Download<'a>(&'a mut dyn Progress);

impl DownloadProgress for Download<'_> {
    fn start(&mut self, file: &str, total_bytes: u64) {
        self.0.event(&Event::DownloadStart {
            file,
            bytes: total_bytes,
        });
    }
    fn advance(&mut self, bytes: u64) {
        self.0.event(&Event::DownloadAdvance { bytes });
    }
    fn finish(&mut self) {
        self.0.event(&Event::DownloadDone);
    }
}

pub fn cards(home: &Path) -> Result<Vec<ModelCard>> {
    card::load_all(Some(&home.join("models")))
}

/// Resolve (downloading if needed) and load the model.
pub fn load_engine(
    cfg: &ModelConfig,
    hubc: &HubConfig,
    progress: &mut dyn Progress,
) -> Result<(Box<dyn Engine>, ModelCard)> {
    let resolved = resolve_model(cfg, hubc, progress)?;
    let engine = load_resolved(&resolved, cfg, hubc, progress)?;
    Ok((engine, resolved.card))
}

/// Find the model's file (downloading it if needed) and its card, without loading it.
pub fn resolve_model(
    cfg: &ModelConfig,
    hubc: &HubConfig,
    progress: &mut dyn Progress,
) -> Result<hub::Resolved> {
    let cards = cards(&cfg.home)?;
    hub::resolve(
        cfg.model.as_deref(),
        cfg.card.as_deref(),
        &cards,
        &cfg.home,
        hubc,
        &mut Download(progress),
    )
}

/// Load a resolved model (and its tokenizer) into memory: the Marian engine for a
/// translation model, the decoder engine for a GGUF.
pub fn load_resolved(
    resolved: &hub::Resolved,
    cfg: &ModelConfig,
    hubc: &HubConfig,
    progress: &mut dyn Progress,
) -> Result<Box<dyn Engine>> {
    let card = &resolved.card;
    let tokenizer_json = match card.tokenizer.source {
        card::TokenizerKind::Hub => Some(hub::tokenizer_json(card, hubc, &mut Download(progress))?),
        card::TokenizerKind::Gguf | card::TokenizerKind::Marian => None,
    };
    progress.event(&Event::Stage {
        message: &format!("loading {}", resolved.path.display()),
    });
    if card.is_marian() {
        return Ok(Box::new(MarianEngine::load(
            &resolved.path,
            card,
            resolved.sha256.clone(),
            cfg.precision.unwrap_or(card.precision),
        )?));
    }
    Ok(Box::new(DecoderEngine::load(
        &resolved.path,
        card,
        resolved.sha256.clone(),
        tokenizer_json.as_deref(),
    )?))
}

/// The model that writes summaries, when it is not `cfg.model`: `--summary-model`, or
/// the default card when `--model` is a translation-only model (Marian). None: the
/// same model translates and summarizes.
pub fn summary_config(cfg: &ModelConfig) -> Result<Option<ModelConfig>> {
    let with = |model: Option<String>| ModelConfig {
        model,
        card: None,
        beams: None,
        precision: None,
        summary_model: None,
        ..cfg.clone()
    };
    if let Some(m) = &cfg.summary_model {
        return Ok(Some(with(Some(m.clone()))));
    }
    let cards = cards(&cfg.home)?;
    if hub::names_marian(cfg.model.as_deref(), cfg.card.as_deref(), &cards) {
        return Ok(Some(with(None)));
    }
    Ok(None)
}

fn read_document(io: &Io, task: &TaskConfig) -> Result<segment::Document> {
    let article = input::read(io.input.as_deref())?;
    input::check(&article, task.force)?;
    Ok(segment::segment(&segment::normalize(&article.text)))
}

fn write_output(io: &Io, text: &str) -> Result<()> {
    match &io.output {
        Some(path) => std::fs::write(path, text).map_err(|source| Error::Io {
            path: path.clone(),
            source,
        }),
        None => {
            let mut out = std::io::stdout().lock();
            out.write_all(text.as_bytes())
                .and_then(|_| out.flush())
                .map_err(|source| Error::Io {
                    path: "<stdout>".into(),
                    source,
                })
        }
    }
}

pub fn translate(
    cfg: &ModelConfig,
    task: &TaskConfig,
    io: &Io,
    hubc: &HubConfig,
    progress: &mut dyn Progress,
) -> Result<()> {
    run_task(
        cfg,
        task,
        io,
        hubc,
        progress,
        |generator, doc| {
            let mut t = translate::translate(generator, doc)?;
            // Every sentence carries the checks' flags; the page is written on request.
            let settings = checks::Settings {
                min_mean_logprob: task
                    .low_confidence
                    .unwrap_or(generator.card.review.min_mean_logprob),
            };
            let review = Review::flag(&mut t, &settings);
            if let Some(path) = &task.review_html {
                let title = io
                    .input
                    .as_ref()
                    .map_or("<stdin>".to_string(), |p| p.display().to_string());
                write_file(path, &review::html::render(&review, &title))?;
            }
            Ok(t)
        },
        |translation, info, stats| output::render_translation(translation, info, stats, io.format),
    )
}

fn write_file(path: &Path, text: &str) -> Result<()> {
    std::fs::write(path, text).map_err(|source| Error::Io {
        path: path.to_path_buf(),
        source,
    })
}

/// `anuvad review`: align a translation made elsewhere to its Hindi source, score each
/// English sentence under the model by forced decoding (with the translation prompt),
/// run the checks, and report. Returns the exit code: 9 when a check named in
/// `--fail-on` fired.
pub fn review(
    cfg: &ModelConfig,
    rc: &ReviewConfig,
    hubc: &HubConfig,
    progress: &mut dyn Progress,
) -> Result<i32> {
    let source = input::read(Some(&rc.source))?;
    input::check(&source, false)?;
    let english = input::read(Some(&rc.translation))?;
    if english.text.trim().is_empty() {
        return Err(Error::EmptyInput {
            origin: english.origin,
        });
    }
    let (doc, groups) = align::segment_and_align(&source.text, &english.text);
    let (mut engine, card) = load_engine(cfg, hubc, progress)?;
    let template = &card.prompts.translate;
    progress.event(&Event::Begin {
        task: "review",
        total: groups.len(),
    });
    let mut confidence = Vec::with_capacity(groups.len());
    for (i, g) in groups.iter().enumerate() {
        let hindi: Vec<&str> = g
            .source
            .iter()
            .map(|&(p, s)| doc.paragraphs[p].sentences[s].as_str())
            .collect();
        let en = g.english.join(" ");
        confidence.push(if hindi.is_empty() || en.trim().is_empty() {
            None
        } else {
            let body = template.render(&[("source", &hindi.join(" "))]);
            // The answer follows the prompt as the model would write it: after a space
            // when the prompt ends in a label ("English:"), directly after a newline.
            let sep = if body.ends_with(char::is_whitespace) {
                ""
            } else {
                " "
            };
            let lp = engine.score(&template.prefix, &body, &format!("{sep}{}", en.trim()))?;
            Confidence::from_logprobs(&lp)
        });
        progress.event(&Event::ChunkDone {
            done: i + 1,
            total: groups.len(),
            input_tokens: 0,
            output_tokens: 0,
        });
    }
    let settings = checks::Settings {
        min_mean_logprob: rc
            .low_confidence
            .unwrap_or(card.review.min_mean_logprob_scored),
    };
    let review = Review::of_alignment(&doc, &groups, &confidence, &settings);
    if let Some(path) = &rc.html {
        write_file(
            path,
            &review::html::render(&review, &rc.translation.display().to_string()),
        )?;
    }
    let out = if rc.json {
        let mut v = review.json();
        v["model"] = output::model_json(engine.info());
        format!("{}\n", serde_json::to_string_pretty(&v).unwrap_or_default())
    } else {
        review.markdown()
    };
    write_output(
        &Io {
            input: None,
            output: None,
            format: OutputFormat::Text,
        },
        &out,
    )?;
    let fired = review.fired(&rc.fail_on);
    if fired.is_empty() {
        Ok(0)
    } else {
        let names: Vec<&str> = fired.iter().map(|c| c.name()).collect();
        progress.event(&Event::Warning {
            message: &format!("checks named in --fail-on fired: {}", names.join(", ")),
        });
        Ok(9)
    }
}

pub fn summarize(
    cfg: &ModelConfig,
    task: &TaskConfig,
    io: &Io,
    hubc: &HubConfig,
    progress: &mut dyn Progress,
) -> Result<()> {
    let summary_cfg = summary_config(cfg)?;
    run_task(
        summary_cfg.as_ref().unwrap_or(cfg),
        task,
        io,
        hubc,
        progress,
        |generator, doc| summarize::summarize(generator, doc, task.summary_length),
        |summary, info, stats| {
            output::render_summary(
                summary,
                task.summary_length,
                task.bullets,
                info,
                stats,
                io.format,
            )
        },
    )
}

/// What translate and summarize share: read and segment the input (bad input fails
/// before the slow model load), load the model, run the stage, then render its result
/// with the run's statistics and write it.
fn run_task<R>(
    cfg: &ModelConfig,
    task: &TaskConfig,
    io: &Io,
    hubc: &HubConfig,
    progress: &mut dyn Progress,
    stage: impl FnOnce(&mut Generator, &segment::Document) -> Result<R>,
    render: impl FnOnce(&R, &ModelInfo, &Stats) -> String,
) -> Result<()> {
    let doc = read_document(io, task)?;
    let (mut engine, card) = load_engine(cfg, hubc, progress)?;
    let options = Options::from(cfg);
    let mut generator = Generator::new(engine.as_mut(), &card, options, progress);
    let result = stage(&mut generator, &doc)?;
    let stats = generator.finish();
    write_output(io, &render(&result, engine.info(), &stats))
}

/// `anuvad models list`: every card, whether its file is here, and its size.
pub fn models_list(home: &Path, hubc: &HubConfig) -> Result<String> {
    let mut s = format!("{:<24} {:<8} {:>10}  {}\n", "ID", "LOCAL", "SIZE", "NAME");
    for c in cards(home)? {
        let local = hub::local_path(&c, home, hubc);
        let size = local
            .as_ref()
            .and_then(|p| std::fs::metadata(p).ok())
            .map(|m| m.len())
            .or(c.source.size)
            .map(|b| format!("{:.0} MB", b as f64 / 1e6))
            .unwrap_or_else(|| "?".into());
        let mark = if c.default { " (default)" } else { "" };
        s.push_str(&format!(
            "{:<24} {:<8} {:>10}  {}{}\n",
            c.id,
            if local.is_some() { "yes" } else { "no" },
            size,
            c.name,
            mark
        ));
    }
    Ok(s)
}

fn find_card(home: &Path, name: &str) -> Result<ModelCard> {
    let cards = cards(home)?;
    cards
        .iter()
        .find(|c| c.id == name)
        .cloned()
        .ok_or_else(|| Error::UnknownModel {
            name: name.to_string(),
            known: cards
                .iter()
                .map(|c| c.id.as_str())
                .collect::<Vec<_>>()
                .join(", "),
        })
}

pub fn models_pull(
    name: &str,
    home: &Path,
    hubc: &HubConfig,
    progress: &mut dyn Progress,
) -> Result<PathBuf> {
    let card = find_card(home, name)?;
    hub::pull(&card, home, hubc, &mut Download(progress))
}

pub fn models_path(name: &str, home: &Path, hubc: &HubConfig) -> Result<PathBuf> {
    let card = find_card(home, name)?;
    hub::local_path(&card, home, hubc).ok_or_else(|| Error::ModelMissing {
        path: home.join("models").join(&card.source.file),
        fix: if card.source.hub_repo.is_some() {
            format!("anuvad models pull {}", card.id)
        } else {
            "scripts/fetch-model.sh".to_string()
        },
    })
}

/// `anuvad eval`: run the pipeline over an evaluation set (`eval`) and report per
/// article and overall. Returns the exit code: 7 when an article failed.
pub fn eval(
    cfg: &ModelConfig,
    ec: &EvalConfig,
    hubc: &HubConfig,
    progress: &mut dyn Progress,
) -> Result<i32> {
    let mut articles = crate::eval::load(&ec.data)?;
    if let Some(n) = ec.limit {
        articles.truncate(n);
    }
    let (mut engine, card) = load_engine(cfg, hubc, progress)?;
    let settings = checks::Settings {
        min_mean_logprob: ec.low_confidence.unwrap_or(card.review.min_mean_logprob),
    };
    let options = Options::from(cfg);
    let total = articles.len();
    progress.event(&Event::BatchBegin { total, skipped: 0 });
    let (mut rows, mut failures) = (Vec::new(), Vec::new());
    for (i, a) in articles.iter().enumerate() {
        progress.event(&Event::ArticleBegin {
            index: i + 1,
            total,
            id: &a.id,
        });
        let mut generator = Generator::new(engine.as_mut(), &card, options, progress);
        let result = crate::eval::article(&mut generator, a, ec.task, &settings);
        let (error, seconds, output_tokens) = match result {
            Ok((row, _)) => {
                let done = (None, row.seconds, row.output_tokens);
                rows.push(row);
                done
            }
            Err(e) => {
                failures.push((a.id.clone(), e.to_string()));
                (Some(e.to_string()), 0.0, 0)
            }
        };
        progress.event(&Event::ArticleDone {
            index: i + 1,
            total,
            id: &a.id,
            error: error.as_deref(),
            seconds,
            output_tokens,
        });
    }
    progress.event(&Event::BatchEnd);
    let summary = crate::eval::summarize_rows(&rows, failures.len(), &articles);
    let json = serde_json::json!({
        "data": ec.data.display().to_string(),
        "task": match ec.task { crate::eval::Task::Translate => "translate", crate::eval::Task::Summarize => "summarize" },
        "model": output::model_json(engine.info()),
        "summary": summary,
        "articles": rows,
        "failures": failures,
    });
    let json_text = format!(
        "{}\n",
        serde_json::to_string_pretty(&json).unwrap_or_default()
    );
    if let Some(path) = &ec.out {
        write_file(path, &json_text)?;
    }
    let text = if ec.json {
        json_text
    } else {
        crate::eval::table(&rows, &summary, &failures)
    };
    write_output(
        &Io {
            input: None,
            output: None,
            format: OutputFormat::Text,
        },
        &text,
    )?;
    Ok(if failures.is_empty() { 0 } else { 7 })
}
