//! anuvad: Hindi news articles in, faithful English translations and summaries out,
//! with a local transformer model run in-process through candle.
//!
//! One article flows through the stages in this order: `text` (read and check the
//! input, normalize and segment it, chunk it) → `pipeline` (prompts through the
//! `engine`, which runs a model and chooses tokens in `engine::search`) →
//! `text::assemble` (the English back into paragraphs) → `review` (the checks, the
//! review page) → `output` (text, JSON, Markdown). `card`, `settings` and `hub` find and
//! describe models; `record` holds the shape of every result; `eval`, `batch` and
//! `commands` drive the pipeline over many articles or one.
//!
//! # Use from Rust
//!
//! Load the default model (downloaded through the Hugging Face Hub when missing, like
//! the command line does), then translate and summarize an article:
//!
//! ```no_run
//! use anuvad::config::{InputRules, ModelChoice, Options};
//! use anuvad::progress::Silent;
//! use anuvad::{Article, HubConfig, Pipeline, Uses};
//!
//! fn main() -> anuvad::Result<()> {
//!     let choice = ModelChoice::new(None, anuvad::config::default_home());
//!     let both = Uses { translate: true, summarize: true };
//!     let mut pipeline =
//!         Pipeline::load(&choice, &Options::default(), both, &HubConfig::from_env(), &mut Silent)?;
//!     let article = Article::new("example", "दिल्ली में बुधवार को भारी बारिश हुई।", &InputRules::default())?;
//!     let english = pipeline.translate(&article, &mut Silent)?;
//!     for sentence in english.translation.sentences() {
//!         println!("{} → {} {:?}", sentence.source, sentence.translation, sentence.flags);
//!     }
//!     let summary = pipeline.summarize(&article, &mut Silent)?;
//!     println!("{}", summary.summary.summary);
//!     Ok(())
//! }
//! ```
//!
//! Results are the serde structs of `record`, the same the command line prints with
//! `--format json`. A model of your own plugs in through the `engine::Engine` trait and
//! `Pipeline::with_engine`.

pub mod batch;
pub mod card;
pub(crate) mod chat_template;
pub mod commands;
pub mod config;
pub mod engine;
pub mod error;
pub(crate) mod eval;
pub(crate) mod facts;
pub(crate) mod gguf;
pub(crate) mod hub;
pub(crate) mod models;
pub(crate) mod output;
pub mod pipeline;
pub mod progress;
pub mod record;
pub(crate) mod review;
pub mod serve;
pub mod settings;
#[cfg(feature = "testing")]
pub mod testing;
pub mod text;
pub(crate) mod tokenizer;

pub use error::{Error, Result};
pub use hub::{HubConfig, Resolved};
pub use pipeline::{Pipeline, Plan, Uses};
pub use text::Article;

/// This crate's internals, for its own tests, benchmarks and tools (cargo feature
/// `testing`): not a stable API.
#[cfg(feature = "testing")]
#[doc(hidden)]
pub mod internals {
    pub use crate::engine::decoder::{DecoderEngine, family_config};
    pub use crate::engine::marian::MarianEngine;
    pub use crate::eval::metrics;
    pub use crate::models::{KvCache, gemma3, kernels, llama, marian, qwen2, qwen3, transformer};
    pub mod hub {
        pub use crate::hub::*;
    }
    pub mod tokenizer {
        pub use crate::tokenizer::*;
    }
    pub mod source {
        pub use crate::batch::source::*;
    }
    pub mod segment {
        pub use crate::text::segment::*;
    }
    /// The checks the review page also runs in its script (tests/desk.rs compares them).
    pub mod checks {
        pub use crate::review::checks::{numbers, repetition, untranslated};
    }
    pub use crate::review::html::desk;
}
