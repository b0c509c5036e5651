//! anuvad: Hindi news articles in, faithful English translations and summaries out,
//! with a local transformer model run in-process through candle.
//!
//! One article flows through the stages in this order: `text` (read and check the
//! input, normalize and segment it, chunk it) → `pipeline` (prompts through the
//! `engine`, which runs a model from `models` and chooses tokens in `engine::search`) →
//! `text::assemble` (the English back into paragraphs) → `review` (the checks, the
//! review page) → `output` (text, JSON, Markdown). `card`, `settings` and `hub` find
//! and describe models; `record` holds the shapes of every result; `eval`, `batch` and
//! `commands` drive the pipeline over many articles or one.

pub mod batch;
pub mod card;
pub mod commands;
pub mod config;
pub mod engine;
pub mod error;
pub mod eval;
pub mod hub;
pub mod models;
pub mod output;
pub mod pipeline;
pub mod progress;
pub mod record;
pub mod review;
pub mod settings;
pub mod testing;
pub mod text;
pub mod tokenizer;

pub use error::{Error, Result};
