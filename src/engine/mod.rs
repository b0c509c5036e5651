//! What the pipeline needs from a model, and nothing more: count tokens, generate
//! continuations of prompts, and score a given continuation.
//!
//! A prompt comes in two parts: a `prefix` shared by every chunk of a run (instructions,
//! few-shot examples) and a per-chunk `body`. Engines keep the prefix's KV cache and
//! reuse it, so the prefix is computed once per run, not once per chunk.
//!
//! Token choice is written once, in `search`: each engine implements its small `Rows`
//! interface (start rows, step them, keep some) and hands it to `search::run`.

use crate::error::Result;
pub use crate::record::ModelInfo;

pub use search::Rules;

#[derive(Debug, Clone)]
pub struct Request<'a> {
    pub prefix: &'a str,
    pub body: &'a str,
    pub rules: Rules,
    /// Beam width; 1 = greedy (or sampling, as `rules.sampling` says).
    pub beams: usize,
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

/// One request's answer: its tokens with their log-probabilities and why it finished.
#[derive(Debug, Clone)]
pub struct Generation {
    pub text: String,
    pub finish: Finish,
    pub tokens: Vec<u32>,
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

/// The model's card id, file, hash and architecture, for records.
pub(crate) fn model_info(
    card: &crate::card::ModelCard,
    path: &std::path::Path,
    sha256: String,
    architecture: &str,
) -> ModelInfo {
    ModelInfo {
        id: card.id.clone(),
        file: path
            .file_name()
            .map(|f| f.to_string_lossy().into_owned())
            .unwrap_or_default(),
        sha256,
        architecture: architecture.to_string(),
    }
}

/// The one beam width of requests decoded together (1 = greedy).
pub(crate) fn beam_width(reqs: &[Request]) -> Result<usize> {
    let beams = reqs.first().map_or(1, |r| r.beams.max(1));
    if reqs.iter().any(|r| r.beams.max(1) != beams) {
        return Err(crate::error::Error::Invalid(
            "requests decoded together must use the same beam width".into(),
        ));
    }
    Ok(beams)
}

pub trait Engine: Send {
    fn info(&self) -> &ModelInfo;
    /// Number of tokens `text` takes (without BOS), for chunk budgets.
    fn count_tokens(&self, text: &str) -> Result<usize>;
    /// Forced decoding: the natural-log probability of each token of `continuation`
    /// given `prefix + body` (how likely the model finds a translation it did not make).
    fn score(&mut self, prefix: &str, body: &str, continuation: &str) -> Result<Vec<f32>>;
    /// Continue every request; engines decode up to `width` of them together (one pass
    /// over the weights per step serving all), and each gets the tokens it would get
    /// alone. `on_token` is called after every generated token; an error from it (e.g.
    /// `Error::Interrupted`) ends the generation with that error.
    fn generate(
        &mut self,
        reqs: &[Request],
        width: usize,
        on_token: &mut dyn FnMut() -> Result<()>,
    ) -> Result<Vec<Generation>>;
}

pub(crate) mod decoder;
pub(crate) mod marian;
mod sampling;
pub(crate) mod search;
