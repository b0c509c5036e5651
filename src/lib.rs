//! anuvad: Hindi news articles in, faithful English translations and summaries out,
//! with a local transformer model run in-process through candle.
//!
//! One article flows through the modules in this order:
//! `input` (read, validate) → `segment` (normalize, paragraphs, sentences) →
//! `chunk` (token-budgeted groups of whole sentences) → `translate` / `summarize`
//! (prompts through `generate` to the `engine`, which runs a model from `models`) →
//! `assemble` (chunk outputs back into paragraphs) → `output` (text, JSON, Markdown).
//! `card` and `hub` find and describe models; `tokenizer` builds one from a GGUF (or a
//! Marian repository's SentencePiece files);
//! `progress` reports on stderr; `app` strings the stages together for each command.

pub mod align;
pub mod app;
pub mod assemble;
pub mod batch;
pub mod card;
pub mod checks;
pub mod chunk;
pub mod config;
pub mod engine;
pub mod error;
pub mod eval;
pub mod generate;
pub mod hub;
pub mod input;
pub mod metrics;
pub mod models;
pub mod output;
pub mod progress;
pub mod review;
pub mod segment;
pub mod summarize;
pub mod testing;
pub mod tokenizer;
pub mod translate;

pub use error::{Error, Result};
