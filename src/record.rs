//! The shapes of every result: what the pipeline returns, what `--format json` prints
//! and what `batch` stores, as serde structs. Translate, summarize, review and batch
//! share the paragraph, sentence and flag shapes; indices are 0-based everywhere.
//! README.md ("Output formats") documents each record; a test parses its examples.

pub use crate::text::segment::ParagraphKind;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Bumped when a field changes meaning or goes away (adding fields does not bump it).
pub const SCHEMA_VERSION: u32 = 1;

/// The checks editors rely on (`review::checks` runs them).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, PartialOrd, Ord)]
#[serde(rename_all = "snake_case")]
pub enum Check {
    /// A number of the Hindi is missing from the English, or the English has a new one.
    Numbers,
    /// A name of the Hindi (a place, person, party, agency, date word) is missing from
    /// the English, or the English has a name nothing in the Hindi accounts for.
    Names,
    /// Devanagari left in the English.
    Untranslated,
    /// A Hindi sentence with no English.
    Dropped,
    /// An English sentence with no Hindi behind it.
    Added,
    /// English far shorter or longer than the article's usual ratio suggests.
    Length,
    /// A phrase repeated within a sentence or across neighbouring sentences.
    Repetition,
    /// The model found the English unlikely (mean token log-probability below the
    /// card's threshold).
    LowConfidence,
}

impl Check {
    pub const ALL: [Check; 8] = [
        Check::Numbers,
        Check::Names,
        Check::Untranslated,
        Check::Dropped,
        Check::Added,
        Check::Length,
        Check::Repetition,
        Check::LowConfidence,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Check::Numbers => "numbers",
            Check::Names => "names",
            Check::Untranslated => "untranslated",
            Check::Dropped => "dropped",
            Check::Added => "added",
            Check::Length => "length",
            Check::Repetition => "repetition",
            Check::LowConfidence => "low_confidence",
        }
    }

    /// Parse a name as written on the command line (`low-confidence` or `low_confidence`).
    pub fn parse(s: &str) -> Option<Check> {
        let s = s.trim().replace('-', "_");
        Check::ALL.into_iter().find(|c| c.name() == s)
    }
}

/// What a check found on a sentence.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Flag {
    pub check: Check,
    pub message: String,
}

/// How sure the model was of a sentence: natural-log token probabilities.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq)]
pub struct Confidence {
    pub mean_logprob: f32,
    pub min_logprob: f32,
}

impl Confidence {
    pub fn from_logprobs(lp: &[f32]) -> Option<Confidence> {
        if lp.is_empty() {
            return None;
        }
        Some(Confidence {
            mean_logprob: lp.iter().sum::<f32>() / lp.len() as f32,
            min_logprob: lp.iter().copied().fold(f32::INFINITY, f32::min),
        })
    }
}

/// One Hindi sentence and its English.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Sentence {
    /// Position in its paragraph.
    pub index: usize,
    pub source: String,
    pub translation: String,
    pub confidence: Option<Confidence>,
    /// What the checks found.
    pub flags: Vec<Flag>,
    /// The line of the input file where the Hindi sentence starts, from 1 (0 in records
    /// written before lines were recorded).
    #[serde(default)]
    pub line: usize,
    /// Review of a translation made elsewhere: the Hindi sentences (their indices in the
    /// paragraph) this English was aligned to; none for English with no Hindi behind it.
    /// `source` then holds those sentences joined by a space.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source_sentences: Option<Vec<usize>>,
}

/// One paragraph (a line of the input) and its English.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Paragraph {
    /// Position in the article.
    pub index: usize,
    pub kind: ParagraphKind,
    pub source: String,
    pub translation: String,
    pub sentences: Vec<Sentence>,
    /// The line of the input file it is on, from 1 (0 in records written before lines
    /// were recorded).
    #[serde(default)]
    pub line: usize,
    /// The newline run that followed the paragraph in the input ("" after the last).
    #[serde(skip)]
    pub separator: String,
}

/// The checks' counts over the sentences of an article.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Default)]
pub struct Checks {
    pub sentences: usize,
    /// Sentences with at least one flag.
    pub flagged: usize,
    /// Sentences flagged, by check name.
    pub by_check: BTreeMap<String, usize>,
    /// Mean of the sentences' mean token log-probabilities.
    pub mean_logprob: Option<f32>,
    /// The low-confidence threshold the sentences were checked against.
    pub low_confidence_below: f32,
}

/// An article in English, paragraph by paragraph and sentence by sentence.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Translation {
    /// The whole English text, laid out like the source.
    pub translation: String,
    pub paragraphs: Vec<Paragraph>,
    pub checks: Checks,
}

impl Translation {
    /// Lay the paragraphs' English out like the source.
    pub fn new(paragraphs: Vec<Paragraph>, checks: Checks) -> Translation {
        let mut text = String::new();
        for p in &paragraphs {
            text.push_str(&p.translation);
            text.push_str(&p.separator);
        }
        Translation {
            translation: text,
            paragraphs,
            checks,
        }
    }

    pub fn sentences(&self) -> impl Iterator<Item = &Sentence> {
        self.paragraphs.iter().flat_map(|p| p.sentences.iter())
    }
}

/// A summary of an article.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Summary {
    pub summary: String,
    /// The summary's sentences, for `--bullets`.
    pub bullets: Vec<String>,
    pub length: crate::config::SummaryLength,
    pub target_words: usize,
    /// Map-step notes of a long article, or the source sentences an extractive summary
    /// translated.
    pub notes: Vec<String>,
}

/// The model that made a result.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Default)]
pub struct ModelInfo {
    /// Its card's id.
    pub id: String,
    pub file: String,
    pub sha256: String,
    pub architecture: String,
}

/// The counts of a run: the same every time for the same input, model and settings.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Default)]
pub struct Counts {
    /// Prompt tokens of every model call.
    pub input_tokens: usize,
    pub output_tokens: usize,
    pub chunks: usize,
    /// Calls made again: a repetition loop retried, a chunk or sentence split.
    pub retries: usize,
}

/// How long a run took; varies from run to run.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Default)]
pub struct Timings {
    pub seconds: f64,
    /// Prompt tokens reused from the KV cache instead of computed.
    pub cached_prompt_tokens: usize,
    pub prefill_tokens_per_second: f64,
    pub decode_tokens_per_second: f64,
    /// Batch records: when the article's work started and finished (RFC 3339, UTC).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub started_at: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub finished_at: Option<String>,
}

/// `anuvad translate --format json`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct TranslationRecord {
    pub schema_version: u32,
    #[serde(flatten)]
    pub translation: Translation,
    pub model: ModelInfo,
    pub stats: Counts,
    pub timings: Timings,
}

/// `anuvad summarize --format json`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct SummaryRecord {
    pub schema_version: u32,
    #[serde(flatten)]
    pub summary: Summary,
    pub model: ModelInfo,
    pub stats: Counts,
    pub timings: Timings,
}

/// `anuvad review --format json`: a translation made elsewhere, aligned to its source
/// by sentence, scored and checked.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct ReviewRecord {
    pub schema_version: u32,
    #[serde(flatten)]
    pub translation: Translation,
    pub model: ModelInfo,
}

#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Done,
    Failed,
}

/// Why an article failed.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Failure {
    /// A short machine name (`not_hindi`, `too_long`, …; README "Exit codes").
    pub kind: String,
    pub message: String,
}

/// One article of a batch run: a line of `articles.jsonl` and `articles/<id>.json`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct BatchRecord {
    pub schema_version: u32,
    pub id: String,
    /// Where the article came from: a path, or `feed.jsonl:12`.
    pub origin: String,
    pub status: Status,
    pub task: crate::config::Task,
    /// A hash of everything that decides the output (source, model, card, settings): a
    /// done record with the same key is not redone.
    pub work_key: String,
    pub model: ModelInfo,
    /// The model that wrote the summary, when it is not `model`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub summary_model: Option<ModelInfo>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    /// Every other field of a JSONL input record, carried through untouched.
    #[serde(default, skip_serializing_if = "serde_json::Map::is_empty")]
    pub extra: serde_json::Map<String, serde_json::Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source_sha256: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source_chars: Option<usize>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub title_translation: Option<String>,
    #[serde(flatten, default, skip_serializing_if = "Option::is_none")]
    pub translation: Option<Translation>,
    #[serde(flatten, default, skip_serializing_if = "Option::is_none")]
    pub summary: Option<Summary>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<Failure>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stats: Option<Counts>,
    pub timings: Timings,
}

impl BatchRecord {
    /// A record of article `id` with nothing done yet (status done, no results).
    pub fn new(id: &str, origin: &str, task: crate::config::Task) -> BatchRecord {
        BatchRecord {
            schema_version: SCHEMA_VERSION,
            id: id.to_string(),
            origin: origin.to_string(),
            status: Status::Done,
            task,
            work_key: String::new(),
            model: ModelInfo::default(),
            summary_model: None,
            title: None,
            url: None,
            extra: Default::default(),
            source_sha256: None,
            source_chars: None,
            title_translation: None,
            translation: None,
            summary: None,
            error: None,
            stats: None,
            timings: Timings::default(),
        }
    }
}

/// The current UTC time as RFC 3339 (`2026-11-25T03:04:05Z`).
pub fn now_rfc3339() -> String {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    rfc3339(secs)
}

fn rfc3339(secs: u64) -> String {
    let days = (secs / 86_400) as i64;
    let rem = secs % 86_400;
    // Days since 1970-01-01 → civil date (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        rem / 60 % 60,
        rem % 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc3339_dates_are_right_across_leap_years() {
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339(951_782_400), "2000-02-29T00:00:00Z");
        assert_eq!(rfc3339(1_795_600_000), "2026-11-25T09:46:40Z");
    }
    use crate::config::{SummaryLength, Task};

    fn model() -> ModelInfo {
        ModelInfo {
            id: "m".into(),
            file: "m.gguf".into(),
            sha256: "0".repeat(64),
            architecture: "gemma3".into(),
        }
    }

    #[test]
    fn a_batch_record_reads_back_with_or_without_its_task_parts() {
        let translation = Translation::new(
            vec![Paragraph {
                index: 0,
                kind: ParagraphKind::Body,
                source: "नमस्ते।".into(),
                translation: "Hello.".into(),
                sentences: vec![Sentence {
                    index: 0,
                    source: "नमस्ते।".into(),
                    translation: "Hello.".into(),
                    confidence: Confidence::from_logprobs(&[-0.5, -1.5]),
                    flags: Vec::new(),
                    line: 1,
                    source_sentences: None,
                }],
                line: 1,
                separator: String::new(),
            }],
            Checks::default(),
        );
        let done = BatchRecord {
            schema_version: SCHEMA_VERSION,
            id: "a".into(),
            origin: "a.txt".into(),
            status: Status::Done,
            task: Task::Both,
            work_key: "k".into(),
            model: model(),
            summary_model: None,
            title: None,
            url: None,
            extra: Default::default(),
            source_sha256: Some("s".into()),
            source_chars: Some(7),
            title_translation: None,
            translation: Some(translation),
            summary: Some(Summary {
                summary: "Hello.".into(),
                bullets: vec!["Hello.".into()],
                length: SummaryLength::Short,
                target_words: 40,
                notes: Vec::new(),
            }),
            error: None,
            stats: Some(Counts::default()),
            timings: Timings::default(),
        };
        let text = serde_json::to_string(&done).unwrap();
        assert_eq!(serde_json::from_str::<BatchRecord>(&text).unwrap(), done);
        let failed = BatchRecord {
            status: Status::Failed,
            translation: None,
            summary: None,
            stats: None,
            error: Some(Failure {
                kind: "empty".into(),
                message: "a.txt is empty".into(),
            }),
            ..done
        };
        let text = serde_json::to_string(&failed).unwrap();
        assert!(
            !text.contains("paragraphs") && !text.contains("bullets"),
            "{text}"
        );
        assert_eq!(serde_json::from_str::<BatchRecord>(&text).unwrap(), failed);
    }
}
