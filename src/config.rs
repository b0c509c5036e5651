//! Plain configuration: the enums every stage shares, and the values the command line
//! hands to the library (main.rs fills them in; `settings` resolves them against a
//! model card). Nothing here reads files or flags.

use std::path::PathBuf;

/// What is done to an article.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Task {
    Translate,
    Summarize,
    /// Translate and summarize (batch runs).
    Both,
}

impl Task {
    pub fn name(self) -> &'static str {
        match self {
            Task::Translate => "translate",
            Task::Summarize => "summarize",
            Task::Both => "both",
        }
    }

    pub fn translates(self) -> bool {
        self != Task::Summarize
    }

    pub fn summarizes(self) -> bool {
        self != Task::Translate
    }
}

/// How hard translation works for faithfulness: one candidate per chunk (`fast`), a few
/// chosen by their facts (`balanced`), or many, also scored by how well each explains
/// the Hindi (`best`). The card says which candidates each mode decodes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Quality {
    Fast,
    Balanced,
    Best,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SummaryLength {
    Short,
    Medium,
    Long,
}

/// How a Marian model's matrix products run (GGUF models keep their own types).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum Precision {
    /// The checkpoint's values in f32: the reference.
    #[default]
    F32,
    /// Weights quantized at load to 8 bits with one scale per row, activations to 8 bits
    /// per row (Q8_0 blocks of 32 on CPUs without AVX-512 VNNI): about 4× less weight
    /// memory to read per step.
    Int8,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OutputFormat {
    Text,
    Json,
    Markdown,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProgressMode {
    /// A bar when stderr is a terminal, nothing otherwise.
    Auto,
    Bar,
    /// One human-readable line per step (for cron logs).
    Plain,
    /// One JSON object per event (for log collectors).
    Json,
    None,
}

/// Sampling settings. Greedy (temperature 0) is the default: same input, same output.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
pub struct Sampling {
    pub temperature: f64,
    pub top_p: Option<f64>,
    /// ε-sampling: tokens less likely than this (after temperature) are never drawn.
    pub epsilon: Option<f64>,
    pub seed: u64,
}

impl Default for Sampling {
    fn default() -> Self {
        Sampling {
            temperature: 0.0,
            top_p: None,
            epsilon: None,
            seed: 299792458,
        }
    }
}

/// Which models to run.
#[derive(Debug, Clone)]
pub struct ModelChoice {
    /// A card id, a path to a .gguf file or a Marian model, or None for the default card.
    pub model: Option<String>,
    /// With a model path: the card whose prompts and settings to use.
    pub card: Option<String>,
    /// The model that writes summaries when it is not `model` (a card id or path).
    /// Without it, a translation-only model (Marian) hands summaries to the default card.
    pub summary_model: Option<String>,
    /// Where anuvad keeps models and user cards (`ANUVAD_HOME`).
    pub home: PathBuf,
}

impl ModelChoice {
    /// `model` (None: the default card) with nothing else chosen.
    pub fn new(model: Option<String>, home: PathBuf) -> Self {
        ModelChoice {
            model,
            card: None,
            summary_model: None,
            home,
        }
    }
}

/// What the command line chose over the card's defaults (None: the card's value).
/// `settings::Settings::resolve` turns these and a card into the values that run.
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// Cap on new tokens per model call.
    pub max_new_tokens: Option<usize>,
    /// Chunks decoded together.
    pub batch_size: Option<usize>,
    /// Beam width (1 = greedy).
    pub beams: Option<usize>,
    /// Marian models: f32 or int8 products.
    pub precision: Option<Precision>,
    pub sampling: Sampling,
    /// Flag sentences whose mean token log-probability is below this.
    pub low_confidence: Option<f32>,
    /// Summary length (default medium) and whether it is a bullet list.
    pub summary_length: Option<SummaryLength>,
    pub bullets: bool,
    /// A glossary: `Hindi<TAB>English` lines, names the English must keep in this form.
    pub glossary: Option<PathBuf>,
    /// Translation quality mode (default: the card's).
    pub quality: Option<Quality>,
}

/// Which inputs are accepted.
#[derive(Debug, Clone, Copy)]
pub struct InputRules {
    /// Accept text with no Devanagari.
    pub force: bool,
    /// Longer articles fail as too long.
    pub max_chars: usize,
}

impl Default for InputRules {
    fn default() -> Self {
        InputRules {
            force: false,
            max_chars: usize::MAX,
        }
    }
}

/// `ANUVAD_HOME`, else `$XDG_CACHE_HOME/anuvad`, else `~/.cache/anuvad`.
pub fn default_home() -> PathBuf {
    if let Some(h) = std::env::var_os("ANUVAD_HOME").filter(|h| !h.is_empty()) {
        return PathBuf::from(h);
    }
    if let Some(x) = std::env::var_os("XDG_CACHE_HOME").filter(|h| !h.is_empty()) {
        return PathBuf::from(x).join("anuvad");
    }
    let home = std::env::var_os("HOME")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("."));
    home.join(".cache").join("anuvad")
}
