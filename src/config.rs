//! Plain configuration handed from the command line (main.rs) to the library.

use std::path::PathBuf;

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
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
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Sampling {
    pub temperature: f64,
    pub top_p: Option<f64>,
    pub seed: u64,
}

impl Default for Sampling {
    fn default() -> Self {
        Sampling {
            temperature: 0.0,
            top_p: None,
            seed: 299792458,
        }
    }
}

/// Which model to run and how.
#[derive(Debug, Clone)]
pub struct ModelConfig {
    /// A card id, a path to a .gguf file, or None for the default card.
    pub model: Option<String>,
    /// With a .gguf path: the card whose prompts and settings to use.
    pub card: Option<String>,
    /// Where anuvad keeps models and user cards (`ANUVAD_HOME`).
    pub home: PathBuf,
    pub threads: Option<usize>,
    /// Overrides the card's per-call cap on new tokens.
    pub max_new_tokens: Option<usize>,
    /// Overrides the card's number of chunks decoded together.
    pub batch: Option<usize>,
    pub sampling: Sampling,
    /// The model that writes summaries when it is not `model` (a card id or path).
    /// Without it, a translation-only model (Marian) hands summaries to the default card.
    pub summary_model: Option<String>,
    /// Overrides the card's beam width (engines that search: Marian).
    pub beams: Option<usize>,
    /// Overrides the card's precision (Marian: f32 or int8).
    pub precision: Option<Precision>,
}

impl ModelConfig {
    /// A config for `model` with everything else at defaults (tools, examples, tests).
    pub fn for_model(model: Option<String>, home: PathBuf) -> Self {
        ModelConfig {
            model,
            card: None,
            home,
            threads: None,
            max_new_tokens: None,
            batch: None,
            sampling: Sampling::default(),
            summary_model: None,
            beams: None,
            precision: None,
        }
    }
}

/// What the translate and summarize commands need besides the model.
#[derive(Debug, Clone)]
pub struct TaskConfig {
    /// Go on when the input has no Devanagari.
    pub force: bool,
    pub summary_length: SummaryLength,
    pub bullets: bool,
    /// translate: also write the side-by-side review page here.
    pub review_html: Option<PathBuf>,
    /// Overrides the card's low-confidence threshold (mean token log-probability).
    pub low_confidence: Option<f32>,
}

impl Default for TaskConfig {
    fn default() -> Self {
        TaskConfig {
            force: false,
            summary_length: SummaryLength::Medium,
            bullets: false,
            review_html: None,
            low_confidence: None,
        }
    }
}

/// `anuvad review`: check a translation made elsewhere against its Hindi source.
#[derive(Debug, Clone)]
pub struct ReviewConfig {
    pub source: PathBuf,
    pub translation: PathBuf,
    pub html: Option<PathBuf>,
    /// JSON instead of Markdown on stdout.
    pub json: bool,
    /// Exit non-zero when any of these checks fires.
    pub fail_on: Vec<crate::checks::Check>,
    pub low_confidence: Option<f32>,
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

/// `anuvad eval`: measure the pipeline on an evaluation set.
#[derive(Debug, Clone)]
pub struct EvalConfig {
    /// An evaluation-set directory or a FLORES-200 directory.
    pub data: PathBuf,
    pub task: crate::eval::Task,
    /// Only the first N articles.
    pub limit: Option<usize>,
    /// JSON instead of a table on stdout.
    pub json: bool,
    /// Also write the JSON report here.
    pub out: Option<PathBuf>,
    pub low_confidence: Option<f32>,
}
