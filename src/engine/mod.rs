//! What the pipeline needs from a model, and nothing more: count tokens, generate a
//! continuation of a prompt, and score a given continuation.
//!
//! A prompt comes in two parts: a `prefix` shared by every chunk of a run (instructions,
//! few-shot examples) and a per-chunk `body`. Engines keep the prefix's KV cache and
//! reuse it, so the prefix is computed once per run, not once per chunk.

use crate::config::Sampling;
use crate::error::Result;

#[derive(Debug, Clone)]
pub struct GenerateRequest<'a> {
    pub prefix: &'a str,
    pub body: &'a str,
    pub max_new_tokens: usize,
    /// Stop when the output contains any of these (the stop string is not returned).
    pub stop: &'a [String],
    pub sampling: Sampling,
    /// 1.0 = off. Used when a chunk is retried after a repetition loop.
    pub repetition_penalty: f32,
    /// Repetition guard: stop when the last `repeat_ngram` tokens occurred `repeat_limit` times.
    pub repeat_ngram: usize,
    pub repeat_limit: usize,
    /// Forbid tokens that would put Devanagari (or other U+0800–U+0FFF scripts) into the
    /// output, so an English answer cannot copy Hindi through; names get transliterated.
    pub english_only: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Finish {
    /// The model emitted an end-of-sequence or end-of-turn token.
    Eos,
    /// A stop string appeared.
    Stop,
    /// The token budget ran out.
    Length,
    /// The repetition guard saw a loop and stopped.
    Repetition,
}

#[derive(Debug, Clone)]
pub struct Generation {
    pub text: String,
    pub finish: Finish,
    /// Tokens of the prompt (prefix and body), whether computed or reused.
    pub prompt_tokens: usize,
    /// Of those, the prefix tokens reused from the cache rather than computed.
    pub cached_tokens: usize,
    pub output_tokens: usize,
    /// Natural-log probability of each generated token (greedy or sampled), for confidence.
    pub logprobs: Vec<f32>,
    /// Byte length of `text` decoded up to and including each generated token, so
    /// log-probabilities can be attributed to lines or sentences of the text.
    pub offsets: Vec<usize>,
    pub prefill_seconds: f64,
    pub decode_seconds: f64,
}

/// Facts about the loaded model, reported in outputs.
#[derive(Debug, Clone, serde::Serialize)]
pub struct ModelInfo {
    pub id: String,
    pub file: String,
    pub sha256: String,
    pub architecture: String,
    pub context: usize,
}

impl ModelInfo {
    pub fn new(
        card: &crate::card::ModelCard,
        path: &std::path::Path,
        sha256: String,
        architecture: String,
        context: usize,
    ) -> Self {
        ModelInfo {
            id: card.id.clone(),
            file: path
                .file_name()
                .map(|f| f.to_string_lossy().into_owned())
                .unwrap_or_default(),
            sha256,
            architecture,
            context,
        }
    }
}

/// Whether a character would put Devanagari (or another script of U+0800–U+0FFF, or
/// Devanagari Extended) into an answer that must be English.
pub(crate) fn is_indic(c: char) -> bool {
    ('\u{0800}'..='\u{0FFF}').contains(&c) || ('\u{A8E0}'..='\u{A8FF}').contains(&c)
}

pub trait Engine {
    fn info(&self) -> &ModelInfo;
    /// Number of tokens `text` takes (without BOS), for chunk budgets.
    fn count_tokens(&self, text: &str) -> Result<usize>;
    /// Forced decoding: the natural-log probability of each token of `continuation`
    /// given `prefix + body` (how likely the model finds a translation it did not make).
    fn score(&mut self, prefix: &str, body: &str, continuation: &str) -> Result<Vec<f32>>;
    /// Continue `prefix + body`. `on_token` is called after every generated token; an
    /// error from it (e.g. `Error::Interrupted`) ends the generation with that error.
    fn generate(
        &mut self,
        req: &GenerateRequest,
        on_token: &mut dyn FnMut() -> Result<()>,
    ) -> Result<Generation> {
        let mut out = self.generate_batch(std::slice::from_ref(req), 1, on_token)?;
        Ok(out.remove(0))
    }
    /// Continue several prompts; the same results as `generate` on each in turn. Engines
    /// decode up to `width` of them together (one pass over the weights per step serving
    /// all).
    fn generate_batch(
        &mut self,
        reqs: &[GenerateRequest],
        width: usize,
        on_token: &mut dyn FnMut() -> Result<()>,
    ) -> Result<Vec<Generation>>;
}

mod decoder;
pub mod marian;
mod sampling;

pub use decoder::{DecoderEngine, SUPPORTED_ARCHITECTURES};
