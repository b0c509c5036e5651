//! One article through the stages. A `Pipeline` holds the loaded models with their
//! resolved settings and takes an `Article` (read, checked, segmented) to a typed
//! result: its translation (chunked, translated, assembled, checked), its summary, or
//! the review of a translation made elsewhere (aligned, scored, checked). The commands,
//! `batch` and `eval` all call it; they differ only in how they read inputs and write
//! outputs.
//!
//! Loading comes in two steps so a batch can tell which articles are already done
//! before it loads anything: `Plan::resolve` finds the models (downloading them if
//! needed) and resolves their settings; `Plan::load` loads them.

pub(crate) mod runner;
pub(crate) mod select;
pub(crate) mod summarize;
pub(crate) mod translate;

use crate::card::{self, ModelCard, TokenizerKind};
use crate::config::{ModelChoice, Options, Task};
use crate::engine::Engine;
use crate::engine::decoder::DecoderEngine;
use crate::engine::marian::MarianEngine;
use crate::error::{Error, Result};
use crate::facts::terms::Terms;
use crate::hub::{self, HubConfig, Resolved};
use crate::progress::{Event, Progress};
use crate::record::{
    Confidence, ModelInfo, ReviewRecord, SCHEMA_VERSION, Summary, SummaryRecord, Translation,
    TranslationRecord,
};
use crate::review::{self, align};
use crate::settings::Settings;
use crate::text::Article;
use crate::text::script::has_devanagari;
use runner::Runner;
pub use runner::Stats;
use sha2::Digest;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;

/// Which stages a pipeline will run, so only the models they need are loaded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Uses {
    /// Translate articles (and their titles), or score translations (review).
    pub translate: bool,
    pub summarize: bool,
}

impl Uses {
    pub const TRANSLATE: Uses = Uses {
        translate: true,
        summarize: false,
    };
    pub const SUMMARIZE: Uses = Uses {
        translate: false,
        summarize: true,
    };
    pub fn of(task: Task) -> Uses {
        Uses {
            translate: task.translates(),
            summarize: task.summarizes(),
        }
    }
}

/// A model found on disk with its card, and the settings it will run with.
#[derive(Debug, Clone)]
pub struct Found {
    pub resolved: Resolved,
    pub settings: Settings,
}

/// The models a pipeline will run, found but not loaded.
#[derive(Debug, Clone)]
pub struct Plan {
    /// Translates (and summarizes, when `summarizer` is None).
    pub translator: Option<Found>,
    /// Writes summaries when that is another model: `--summary-model`, or the default
    /// card when the translator is a translation-only model (Marian).
    pub summarizer: Option<Found>,
    /// The names a translation must keep: the gazetteer and the user's glossary.
    pub terms: Arc<Terms>,
    /// The glossary's SHA-256, when there is one (batch work keys depend on it).
    pub glossary_sha256: Option<String>,
}

/// The gazetteer, with the glossary at `path` over it.
fn load_terms(path: Option<&std::path::Path>) -> Result<(Arc<Terms>, Option<String>)> {
    let Some(path) = path else {
        return Ok((Arc::new(Terms::builtin().clone()), None));
    };
    let bytes = std::fs::read(path).map_err(|source| Error::Io {
        path: path.to_path_buf(),
        source,
    })?;
    let text = crate::text::input::decode(bytes, &path.display().to_string())?;
    let glossary = Terms::parse_glossary(&text, &path.display().to_string())?;
    let sha: String = sha2::Sha256::digest(text.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    Ok((Arc::new(Terms::builtin().with(&glossary)), Some(sha)))
}

impl Plan {
    /// Find the models `choice` names for `uses` (downloading missing files) and
    /// resolve their settings against `options`.
    pub fn resolve(
        choice: &ModelChoice,
        options: &Options,
        uses: Uses,
        hub: &HubConfig,
        progress: &mut dyn Progress,
    ) -> Result<Plan> {
        let catalog = card::catalog(Some(&choice.home.join("models")))?;
        // A broken user card stops only the commands that ask for it.
        let is_id = |m: &str| !m.ends_with(".gguf") && !m.contains('/');
        match choice.model.as_deref() {
            Some(path) if !is_id(path) => {}
            id => catalog.check(id)?,
        }
        if let Some(id) = &choice.card {
            catalog.check(Some(id))?;
        }
        if uses.summarize
            && let Some(m) = choice.summary_model.as_deref().filter(|m| is_id(m))
        {
            catalog.check(Some(m))?;
        }
        for message in catalog.warnings() {
            progress.event(&Event::Warning { message: &message });
        }
        let cards = catalog.cards;
        let separate = uses.summarize
            && (choice.summary_model.is_some()
                || hub::names_marian(choice.model.as_deref(), choice.card.as_deref(), &cards));
        let find = |model: Option<&str>,
                    card: Option<&str>,
                    options: &Options,
                    progress: &mut dyn Progress| {
            let resolved = hub::resolve(model, card, &cards, &choice.home, hub, progress)?;
            let settings = Settings::resolve(&resolved.card, options);
            Ok::<_, Error>(Found { resolved, settings })
        };
        let translator = if uses.translate || (uses.summarize && !separate) {
            Some(find(
                choice.model.as_deref(),
                choice.card.as_deref(),
                options,
                progress,
            )?)
        } else {
            None
        };
        let summarizer = if separate {
            // Beam width and precision are the translation model's.
            let options = Options {
                beams: None,
                precision: None,
                ..options.clone()
            };
            Some(find(
                choice.summary_model.as_deref(),
                None,
                &options,
                progress,
            )?)
        } else {
            None
        };
        let (terms, glossary_sha256) = load_terms(options.glossary.as_deref())?;
        Ok(Plan {
            translator,
            summarizer,
            terms,
            glossary_sha256,
        })
    }

    /// Load the models into memory.
    pub fn load(&self, hub: &HubConfig, progress: &mut dyn Progress) -> Result<Pipeline> {
        let load = |f: &Option<Found>, progress: &mut dyn Progress| {
            f.as_ref().map(|f| load_model(f, hub, progress)).transpose()
        };
        Ok(Pipeline {
            translator: load(&self.translator, progress)?,
            summarizer: load(&self.summarizer, progress)?,
            terms: self.terms.clone(),
            interrupt: None,
        })
    }
}

fn load_model(found: &Found, hub: &HubConfig, progress: &mut dyn Progress) -> Result<Loaded> {
    Ok(Loaded {
        engine: load_engine(found, hub, progress)?,
        card: found.resolved.card.clone(),
        settings: found.settings.clone(),
    })
}

/// Load a found model (and its tokenizer): the Marian engine for a translation model,
/// the decoder engine for a GGUF.
pub fn load_engine(
    found: &Found,
    hub: &HubConfig,
    progress: &mut dyn Progress,
) -> Result<Box<dyn Engine>> {
    let Resolved { path, card, sha256 } = &found.resolved;
    let tokenizer_json = match card.tokenizer.source {
        TokenizerKind::Hub => Some(hub::tokenizer_json(card, hub, progress)?),
        TokenizerKind::Gguf | TokenizerKind::Marian => None,
    };
    progress.event(&Event::Stage {
        message: &format!("loading {}", path.display()),
    });
    Ok(if card.is_marian() {
        Box::new(MarianEngine::load(
            path,
            card,
            sha256.clone(),
            found.settings.precision,
        )?)
    } else {
        Box::new(DecoderEngine::load(
            path,
            card,
            sha256.clone(),
            tokenizer_json.as_deref(),
        )?)
    })
}

/// A loaded model, its card and its settings.
struct Loaded {
    engine: Box<dyn Engine>,
    card: ModelCard,
    settings: Settings,
}

impl Loaded {
    fn runner<'a>(
        &'a mut self,
        terms: &'a Terms,
        progress: &'a mut dyn Progress,
        interrupt: Option<&'a AtomicBool>,
    ) -> Runner<'a> {
        Runner::new(
            self.engine.as_mut(),
            &self.card,
            &self.settings,
            terms,
            progress,
            interrupt,
        )
    }
}

/// What `Pipeline::run` made of an article.
#[derive(Debug, Clone, Default)]
pub struct Worked {
    /// The English of a Hindi title (batch feeds).
    pub title_translation: Option<String>,
    pub translation: Option<Translation>,
    pub summary: Option<Summary>,
    pub stats: Stats,
}

/// Loaded models, ready to take articles.
pub struct Pipeline {
    translator: Option<Loaded>,
    summarizer: Option<Loaded>,
    /// The names a translation must keep (gazetteer and glossary).
    terms: Arc<Terms>,
    interrupt: Option<Arc<AtomicBool>>,
}

impl Pipeline {
    /// Find, load and configure the models `choice` names for `uses`.
    pub fn load(
        choice: &ModelChoice,
        options: &Options,
        uses: Uses,
        hub: &HubConfig,
        progress: &mut dyn Progress,
    ) -> Result<Pipeline> {
        Plan::resolve(choice, options, uses, hub, progress)?.load(hub, progress)
    }

    /// A pipeline around an engine of your own (or a wrapper of one of ours), which
    /// translates and summarizes with `card`'s prompts and `settings`.
    pub fn with_engine(engine: Box<dyn Engine>, card: ModelCard, settings: Settings) -> Pipeline {
        Pipeline {
            translator: Some(Loaded {
                engine,
                card,
                settings,
            }),
            summarizer: None,
            terms: Arc::new(Terms::builtin().clone()),
            interrupt: None,
        }
    }

    /// Generation stops with `Error::Interrupted` at the next token once `flag` is set.
    pub fn interrupt_on(&mut self, flag: Arc<AtomicBool>) {
        self.interrupt = Some(flag);
    }

    fn translator(&mut self) -> Result<&mut Loaded> {
        self.translator.as_mut().ok_or_else(|| {
            Error::Invalid("this pipeline was loaded without a translation model".into())
        })
    }

    fn summarizer(&mut self) -> Result<&mut Loaded> {
        match self.summarizer {
            Some(ref mut s) => Ok(s),
            None => self.translator(),
        }
    }

    /// The names a translation must keep: the gazetteer and the glossary.
    pub(crate) fn terms(&self) -> &Terms {
        &self.terms
    }

    /// The checks on one sentence an editor changed (the review desk's `POST /api/check`):
    /// every check but low confidence, which is about the model's own English.
    pub fn check(&self, source: &str, translation: &str) -> Vec<crate::record::Flag> {
        review::recheck(source, translation, &self.terms)
    }

    /// The model that translates (and scores reviews).
    pub fn translator_info(&self) -> Option<&ModelInfo> {
        self.translator.as_ref().map(|m| m.engine.info())
    }

    /// The model that writes summaries.
    pub fn summarizer_info(&self) -> Option<&ModelInfo> {
        self.summarizer
            .as_ref()
            .or(self.translator.as_ref())
            .map(|m| m.engine.info())
    }

    /// The summary model's info when it is not the translator.
    pub fn separate_summarizer_info(&self) -> Option<&ModelInfo> {
        self.summarizer.as_ref().map(|m| m.engine.info())
    }

    /// Translate `article`: every sentence with its confidence and the checks' flags.
    pub fn translate(
        &mut self,
        article: &Article,
        progress: &mut dyn Progress,
    ) -> Result<TranslationRecord> {
        let w = self.run(article, Task::Translate, progress)?;
        Ok(TranslationRecord {
            schema_version: SCHEMA_VERSION,
            translation: w
                .translation
                .unwrap_or_else(|| Translation::new(Vec::new(), Default::default())),
            model: self.translator_info().cloned().expect("a translator ran"),
            stats: w.stats.counts(),
            timings: w.stats.timings(),
        })
    }

    /// Translate several articles in one shared pass: each is chunked as `translate`
    /// chunks it and every chunk is decoded together on the batched engine (the server
    /// batches requests that wait together this way). Each record's translation is the
    /// one `translate` gives the article alone; its stats are the shared pass's totals.
    /// Titles are not translated here (a `TranslationRecord` has no title).
    pub fn translate_many(
        &mut self,
        articles: &[&Article],
        progress: &mut dyn Progress,
    ) -> Result<Vec<TranslationRecord>> {
        let interrupt = self.interrupt.clone();
        let terms = self.terms.clone();
        let m = self.translator()?;
        let low_confidence = m.settings.low_confidence;
        let mut r = m.runner(&terms, progress, interrupt.as_deref());
        let docs: Vec<&crate::text::segment::Document> = articles.iter().map(|a| &a.doc).collect();
        let translated = translate::translate_many(&mut r, &docs)?;
        let stats = r.finish();
        let model = self.translator_info().cloned().expect("a translator ran");
        Ok(translated
            .into_iter()
            .map(|mut paragraphs| {
                let checks = review::flag(&mut paragraphs, low_confidence, &terms);
                TranslationRecord {
                    schema_version: SCHEMA_VERSION,
                    translation: Translation::new(paragraphs, checks),
                    model: model.clone(),
                    stats: stats.counts(),
                    timings: stats.timings(),
                }
            })
            .collect())
    }

    /// Summarize `article` in `length` words of the summarizer's card (None: the
    /// length the pipeline was loaded with).
    pub fn summarize_in(
        &mut self,
        article: &Article,
        length: Option<crate::config::SummaryLength>,
        progress: &mut dyn Progress,
    ) -> Result<SummaryRecord> {
        let Some(length) = length else {
            return self.summarize(article, progress);
        };
        let m = self.summarizer()?;
        let saved = (m.settings.summary_length, m.settings.summary_words);
        m.settings.summary_words = crate::settings::summary_words(&m.card, length);
        m.settings.summary_length = length;
        let out = self.summarize(article, progress);
        let m = self.summarizer()?;
        (m.settings.summary_length, m.settings.summary_words) = saved;
        out
    }

    /// Summarize `article` in the settings' length.
    pub fn summarize(
        &mut self,
        article: &Article,
        progress: &mut dyn Progress,
    ) -> Result<SummaryRecord> {
        let w = self.run(article, Task::Summarize, progress)?;
        Ok(SummaryRecord {
            schema_version: SCHEMA_VERSION,
            summary: w.summary.expect("a summary was made"),
            model: self.summarizer_info().cloned().expect("a summarizer ran"),
            stats: w.stats.counts(),
            timings: w.stats.timings(),
        })
    }

    /// The task's results for one article, with a Hindi title translated first.
    pub fn run(
        &mut self,
        article: &Article,
        task: Task,
        progress: &mut dyn Progress,
    ) -> Result<Worked> {
        let interrupt = self.interrupt.clone();
        let interrupt = interrupt.as_deref();
        let terms = self.terms.clone();
        let mut out = Worked::default();
        if let Some(title) = article.title.as_deref().filter(|t| has_devanagari(t)) {
            let mut r = self.translator()?.runner(&terms, progress, interrupt);
            let english = translate::translate_sentences(&mut r, &[title.to_string()])?;
            let text: Vec<&str> = english.iter().map(|l| l.text.as_str()).collect();
            out.title_translation = Some(text.join(" "));
            out.stats.add(&r.finish());
        }
        if task.translates() {
            let m = self.translator()?;
            let low_confidence = m.settings.low_confidence;
            let mut r = m.runner(&terms, progress, interrupt);
            let mut paragraphs = translate::translate(&mut r, &article.doc)?;
            out.stats.add(&r.finish());
            let checks = review::flag(&mut paragraphs, low_confidence, &terms);
            out.translation = Some(Translation::new(paragraphs, checks));
        }
        if task.summarizes() {
            let mut r = self.summarizer()?.runner(&terms, progress, interrupt);
            out.summary = Some(summarize::summarize(&mut r, &article.doc)?);
            out.stats.add(&r.finish());
        }
        Ok(out)
    }

    /// Review a translation made elsewhere: align `english` (one paragraph per line) to
    /// the article by sentence, score each aligned group under the translator by forced
    /// decoding (with its translation prompt), and run the checks.
    pub fn review(
        &mut self,
        article: &Article,
        english: &str,
        progress: &mut dyn Progress,
    ) -> Result<ReviewRecord> {
        let groups = align::align(&article.doc, english);
        let interrupt = self.interrupt.clone();
        let terms = self.terms.clone();
        let m = self.translator()?;
        let low_confidence = m.settings.low_confidence_scored;
        let mut r = m.runner(&terms, progress, interrupt.as_deref());
        let card = r.card;
        let template = &card.prompts.translate;
        // Scoring generates no tokens: the ETA goes by chunks.
        r.begin("review", groups.len(), 0);
        let mut confidence = Vec::with_capacity(groups.len());
        for (i, g) in groups.iter().enumerate() {
            let hindi: Vec<&str> = g
                .source
                .iter()
                .map(|&(p, s)| article.doc.paragraphs[p].sentences[s].as_str())
                .collect();
            let en = g.english.join(" ");
            confidence.push(if hindi.is_empty() || en.trim().is_empty() {
                None
            } else {
                let body = template.render(&[("source", &hindi.join(" "))]);
                // The answer follows the prompt as the model would write it: after a
                // space when the prompt ends in a label ("English:"), directly after a
                // newline.
                let sep = if body.ends_with(char::is_whitespace) {
                    ""
                } else {
                    " "
                };
                let lp = r.score(template, &body, &format!("{sep}{}", en.trim()))?;
                Confidence::from_logprobs(&lp)
            });
            r.chunk_done(i + 1, groups.len());
        }
        let mut paragraphs = review::aligned(&article.doc, &groups, &confidence);
        let checks = review::flag(&mut paragraphs, low_confidence, &terms);
        Ok(ReviewRecord {
            schema_version: SCHEMA_VERSION,
            translation: Translation::new(paragraphs, checks),
            model: self
                .translator_info()
                .cloned()
                .expect("a translator scored"),
        })
    }
}
