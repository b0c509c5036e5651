//! anuvad: Hindi news articles in, faithful English translations and summaries out,
//! with a local transformer model run in-process through candle.
//!
//! One article flows through the modules in this order:
//! `input` (read, validate) → `segment` (normalize, paragraphs, sentences) →
//! `chunk` (token-budgeted groups of whole sentences) → `engine` (the model) →
//! `assemble` (chunk outputs back into paragraphs) → `output` (text, JSON, Markdown).
//! `card` and `hub` find and describe models; `progress` reports on stderr.

pub mod card;
pub mod chunk;
pub mod config;
pub mod engine;
pub mod error;
pub mod segment;

pub use error::{Error, Result};
