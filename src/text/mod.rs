//! The text stages: read and check an article (`input`), normalize it and split it into
//! paragraphs and sentences (`segment`), group sentences into token-budgeted chunks for
//! the model (`chunk`), and put the model's English back together (`assemble`).

pub(crate) mod assemble;
pub(crate) mod chunk;
pub(crate) mod input;
pub(crate) mod script;
pub(crate) mod segment;

use crate::config::InputRules;
use crate::error::Result;
use segment::Document;
use std::path::Path;

/// An article ready for the model: read, checked, normalized and segmented.
#[derive(Debug, Clone)]
pub struct Article {
    /// Where it came from, for messages: a path, `<stdin>`, `feed.jsonl:12`.
    pub origin: String,
    /// A headline that comes with the article (batch feeds): translated when it is Hindi.
    pub title: Option<String>,
    pub doc: Document,
}

impl Article {
    /// Check `text` (empty, too long, not Hindi: an error naming `origin`), normalize it
    /// and cut it into paragraphs and sentences.
    pub fn new(origin: &str, text: &str, rules: &InputRules) -> Result<Article> {
        input::check(origin, text, rules)?;
        Ok(Article {
            origin: origin.to_string(),
            title: None,
            doc: segment::segment(&segment::normalize(text)),
        })
    }

    /// The article in `path` (stdin for None or `-`).
    pub fn read(path: Option<&Path>, rules: &InputRules) -> Result<Article> {
        let raw = input::read_at_most(path, rules.max_chars)?;
        Article::new(&raw.origin, &raw.text, rules)
    }

    pub fn with_title(mut self, title: Option<String>) -> Article {
        self.title = title;
        self
    }
}
