//! Hindi terms with their English forms: the project's gazetteer (`models/gazetteer.tsv`:
//! states, districts, towns, rivers, parties, courts, agencies, titles, months, …) and a
//! user's glossary (`--glossary FILE`), found in a Hindi sentence by whole words, the
//! longest match first.

use crate::error::{Error, Result};
use std::collections::HashMap;
use std::ops::Range;
use std::sync::OnceLock;
use unicode_normalization::UnicodeNormalization;

/// One term: its kind (a gazetteer kind, or `glossary`), the ways Hindi writes it, and
/// its English forms (the first preferred).
#[derive(Debug, Clone, PartialEq)]
pub struct Term {
    pub kind: String,
    pub hindi: Vec<String>,
    pub english: Vec<String>,
}

impl Term {
    /// A proper name (or a date word) whose English a translation must keep: not a
    /// title, common term, ministry or department, which English words many ways.
    pub fn is_name(&self) -> bool {
        !matches!(
            self.kind.as_str(),
            "title" | "term" | "ministry" | "department" | "abbreviation"
        )
    }
}

/// Terms indexed by their first Hindi word.
#[derive(Debug, Clone, Default)]
pub struct Terms {
    terms: Vec<Term>,
    /// First word of a Hindi form → (term, the form's words).
    index: HashMap<String, Vec<(usize, Vec<String>)>>,
}

/// The gazetteer's kinds.
const KINDS: &[&str] = &[
    "state",
    "ut",
    "district",
    "city",
    "town",
    "river",
    "lake",
    "mountain",
    "region",
    "country",
    "foreign-place",
    "party",
    "ministry",
    "department",
    "court",
    "agency",
    "organisation",
    "title",
    "abbreviation",
    "month",
    "weekday",
    "scheme",
    "train",
    "media",
    "festival",
    "term",
];

/// The words of a Hindi text as the terms are matched: NFC, split at whitespace,
/// punctuation and hyphens.
pub fn hindi_words(text: &str) -> Vec<String> {
    let text: String = text.nfc().collect();
    text.split(|c: char| {
        c.is_whitespace()
            || (c.is_ascii_punctuation() && c != '&')
            || matches!(c, '।' | '॥' | '“' | '”' | '‘' | '’' | '–' | '—')
    })
    .filter(|w| !w.is_empty())
    .map(str::to_string)
    .collect()
}

impl Terms {
    /// The gazetteer built into the binary.
    pub fn builtin() -> &'static Terms {
        static BUILTIN: OnceLock<Terms> = OnceLock::new();
        BUILTIN.get_or_init(|| {
            Terms::parse_gazetteer(
                include_str!("../../models/gazetteer.tsv"),
                "models/gazetteer.tsv",
            )
            .expect("the built-in gazetteer parses (tested)")
        })
    }

    /// `kind<TAB>hindi|…<TAB>english|…` lines; `#` comments.
    pub fn parse_gazetteer(text: &str, origin: &str) -> Result<Terms> {
        let mut terms = Terms::default();
        for (n, line) in text.lines().enumerate() {
            if line.trim().is_empty() || line.starts_with('#') {
                continue;
            }
            let bad = |message: String| Error::Invalid(format!("{origin}:{}: {message}", n + 1));
            let fields: Vec<&str> = line.split('\t').collect();
            let [kind, hindi, english] = fields[..] else {
                return Err(bad(format!(
                    "expected 3 tab-separated fields (kind, Hindi, English), found {}",
                    fields.len()
                )));
            };
            if !KINDS.contains(&kind) {
                return Err(bad(format!("unknown kind {kind:?}")));
            }
            terms.add(kind, hindi, english).map_err(bad)?;
        }
        Ok(terms)
    }

    /// A glossary: `hindi<TAB>english` lines (several forms of either side separated by
    /// `|`, the first English preferred); `#` comments. Its terms are names the English
    /// must keep, and override the gazetteer's English for the same Hindi.
    pub fn parse_glossary(text: &str, origin: &str) -> Result<Terms> {
        let mut terms = Terms::default();
        for (n, line) in text.lines().enumerate() {
            let line = line.trim_end_matches('\r');
            if line.trim().is_empty() || line.starts_with('#') {
                continue;
            }
            let bad = |message: String| {
                Error::Invalid(format!(
                    "glossary {origin}, line {}: {message}; each line is `Hindi<TAB>English`",
                    n + 1
                ))
            };
            let Some((hindi, english)) = line.split_once('\t') else {
                return Err(bad("no tab between the Hindi and the English".into()));
            };
            terms.add("glossary", hindi, english).map_err(bad)?;
        }
        Ok(terms)
    }

    fn add(&mut self, kind: &str, hindi: &str, english: &str) -> std::result::Result<(), String> {
        let split = |s: &str| -> Vec<String> {
            s.split('|')
                .map(|f| f.trim().nfc().collect::<String>())
                .filter(|f| !f.is_empty())
                .collect()
        };
        let (hindi, english) = (split(hindi), split(english));
        if hindi.is_empty() || english.is_empty() {
            return Err("an empty Hindi or English form".into());
        }
        if english
            .iter()
            .any(|e| e.chars().any(crate::text::script::is_devanagari))
        {
            return Err(format!("Devanagari in the English forms {english:?}"));
        }
        let at = self.terms.len();
        for form in &hindi {
            let words = hindi_words(form);
            if words.is_empty() || !form.chars().any(crate::text::script::is_devanagari) {
                return Err(format!("the Hindi form {form:?} has no Devanagari"));
            }
            self.index
                .entry(words[0].clone())
                .or_default()
                .push((at, words));
        }
        self.terms.push(Term {
            kind: kind.to_string(),
            hindi,
            english,
        });
        Ok(())
    }

    /// These terms, with `over`'s added; where both have the same Hindi form, `over`'s
    /// term wins (a user's glossary over the gazetteer).
    pub fn with(&self, over: &Terms) -> Terms {
        let mut out = over.clone();
        for t in &self.terms {
            let shadowed = t.hindi.iter().any(|h| {
                let words = hindi_words(h);
                over.index
                    .get(&words[0])
                    .is_some_and(|forms| forms.iter().any(|(_, w)| *w == words))
            });
            if !shadowed {
                let english = t.english.join("|");
                let hindi = t.hindi.join("|");
                out.add(&t.kind, &hindi, &english)
                    .expect("a parsed term adds again");
            }
        }
        out
    }

    pub fn get(&self, i: usize) -> &Term {
        &self.terms[i]
    }

    pub fn len(&self) -> usize {
        self.terms.len()
    }

    pub fn is_empty(&self) -> bool {
        self.terms.is_empty()
    }

    /// The terms in `words` (a text's Hindi words): (term, word range), in text order,
    /// the longest match at each position, none overlapping.
    pub fn find(&self, words: &[String]) -> Vec<(usize, Range<usize>)> {
        let mut out = Vec::new();
        let mut i = 0;
        while i < words.len() {
            let best = self.index.get(&words[i]).and_then(|forms| {
                forms
                    .iter()
                    .filter(|(_, w)| words[i..].starts_with(w))
                    .max_by_key(|(_, w)| w.len())
            });
            match best {
                Some((t, w)) => {
                    out.push((*t, i..i + w.len()));
                    i += w.len();
                }
                None => i += 1,
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_builtin_gazetteer_parses_and_finds_the_longest_names() {
        let g = Terms::builtin();
        assert!(g.len() > 2000, "{} terms", g.len());
        let words = hindi_words("उत्तर प्रदेश के बहराइच जिले में बंगाल की खाड़ी से बारिश, (भाषा)।");
        let found: Vec<&str> = g
            .find(&words)
            .iter()
            .map(|(t, _)| g.get(*t).english[0].as_str())
            .collect();
        assert!(found.contains(&"Uttar Pradesh"), "{found:?}");
        assert!(found.contains(&"Bahraich"), "{found:?}");
        assert!(found.contains(&"PTI"), "{found:?}");
        assert!(
            !found.contains(&"West Bengal") && !found.contains(&"Bengal"),
            "{found:?}"
        );
    }

    #[test]
    fn a_glossary_overrides_the_gazetteer_and_bad_lines_say_where() {
        let glossary =
            Terms::parse_glossary("# mine\nबहराइच\tBahraich district\nपुलिस\tpolice\n", "g.tsv")
                .unwrap();
        let both = Terms::builtin().with(&glossary);
        let words = hindi_words("बहराइच पुलिस");
        let found: Vec<&Term> = both
            .find(&words)
            .iter()
            .map(|(t, _)| both.get(*t))
            .collect();
        assert_eq!(found[0].english, ["Bahraich district"]);
        assert_eq!(found[0].kind, "glossary");
        assert_eq!(found[1].english, ["police"]);
        let err = Terms::parse_glossary("नाम\tname\nनाम बिना टैब\n", "g.tsv").unwrap_err();
        assert!(err.to_string().contains("g.tsv, line 2"), "{err}");
        let err = Terms::parse_glossary("Bahraich\tBahraich\n", "g.tsv").unwrap_err();
        assert!(err.to_string().contains("no Devanagari"), "{err}");
    }
}
