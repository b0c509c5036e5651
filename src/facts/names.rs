//! Proper names on both sides of a translation.
//!
//! In the Hindi: terms of the gazetteer and the glossary (with their English forms),
//! acronyms spelled with letter names (आरबीआई → RBI), and words outside the common
//! Hindi vocabulary (`models/hindi-words.txt`), transliterated (सफदरजंग → safdarjang).
//! In the English: capitalised words that are not ordinary English words
//! (`models/english-words.txt`), and acronyms.
//!
//! A Hindi name is kept when the English has one of its forms, or a word that sounds
//! like it (`translit::same_name`, so Safdarjung and Safdarjang both count); an English
//! name is explained when some Hindi name or word accounts for it. What is not, was
//! invented.

use super::terms::{Terms, hindi_words};
use super::translit::{acronym, same_name, to_latin};
use crate::text::script::is_devanagari;
use std::collections::HashSet;
use std::sync::OnceLock;

/// A name of the Hindi source.
#[derive(Debug, Clone, PartialEq)]
pub struct SourceName {
    /// As the Hindi writes it (one or more words).
    pub hindi: String,
    /// Its English forms, the first preferred: the gazetteer's or glossary's, the
    /// acronym, or (for a word known only as a name) its transliteration.
    pub english: Vec<String>,
    /// Known as a name (gazetteer, glossary, acronym), not only guessed from being
    /// outside the common vocabulary.
    pub known: bool,
    /// A date word (month, weekday) or a wire service's credit: kept like names, but
    /// no help as a hint (the model writes them well, and a hint lures it to copy them).
    pub routine: bool,
    /// From the user's glossary: only its English forms count as kept, not a word
    /// that merely sounds like the Hindi.
    pub exact: bool,
}

/// Common Hindi words: a word outside them may be a name.
fn hindi_vocabulary() -> &'static HashSet<&'static str> {
    static WORDS: OnceLock<HashSet<&'static str>> = OnceLock::new();
    WORDS.get_or_init(|| word_list(include_str!("../../models/hindi-words.txt")))
}

/// Ordinary English words (lower case): a capitalised word outside them is a name.
fn english_vocabulary() -> &'static HashSet<&'static str> {
    static WORDS: OnceLock<HashSet<&'static str>> = OnceLock::new();
    WORDS.get_or_init(|| {
        let mut words = word_list(include_str!("../../models/english-words.txt"));
        words.extend(ENGLISH_EXTRA);
        words
    })
}

fn word_list(text: &'static str) -> HashSet<&'static str> {
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .collect()
}

/// Capitalised in English but not names of anything in the source: nationalities and
/// languages (adjectives), honorifics, and news words the word list lacks.
const ENGLISH_EXTRA: &[&str] = &[
    "indian",
    "indians",
    "hindi",
    "english",
    "urdu",
    "sanskrit",
    "pakistani",
    "chinese",
    "american",
    "british",
    "russian",
    "nepali",
    "nepalese",
    "bangladeshi",
    "sri",
    "shri",
    "smt",
    "mr",
    "mrs",
    "ms",
    "dr",
    "sh",
    "rs",
    "inr",
    "am",
    "pm",
    "st",
    "nd",
    "rd",
    "th",
    "crore",
    "crores",
    "lakh",
    "lakhs",
    "covid",
    "co",
    "km",
    "kg",
    "mm",
    "cm",
    "ltd",
    "pvt",
    "govt",
    "dept",
    "jr",
    "sr",
    "no",
    "nos",
    "vs",
    "etc",
    "per",
    "md",
    "celsius",
    "fahrenheit",
    "asian",
    "european",
    "african",
    "australian",
    "brazilian",
    "canadian",
    "german",
    "french",
    "italian",
    "japanese",
    "korean",
    "afghan",
    "iranian",
    "israeli",
    "arab",
    "saudi",
    "ukrainian",
    "nepali",
    "sri",
    "lankan",
];

/// The names of a Hindi source, in text order.
pub fn source_names(hindi: &str, terms: &Terms) -> Vec<SourceName> {
    names_and_terms(hindi, terms).0
}

/// The names of a Hindi source, and the English forms of every term it has (names or
/// not: titles, nationalities, common terms), which may account for English words.
fn names_and_terms(hindi: &str, terms: &Terms) -> (Vec<SourceName>, Vec<String>) {
    let words = hindi_words(hindi);
    let vocabulary = hindi_vocabulary();
    let mut names = Vec::new();
    let mut forms = Vec::new();
    let mut covered = vec![false; words.len()];
    for (t, range) in terms.find(&words) {
        let term = terms.get(t);
        let hindi_form = words[range.clone()].join(" ");
        // A wire service's name is a common word (भाषा 'language'): a name only in a
        // byline or credit, in brackets or after a colon.
        if term.kind == "media" && !credited(hindi, &hindi_form) {
            continue;
        }
        covered[range.clone()].iter_mut().for_each(|c| *c = true);
        forms.extend(term.english.iter().cloned());
        // A place whose one-word name is also a common word (धार 'edge', जेवर
        // 'jewellery') is not required: the text may not mean the place.
        let ambiguous = range.len() == 1
            && vocabulary.contains(hindi_form.as_str())
            && !matches!(
                term.kind.as_str(),
                "court" | "agency" | "party" | "media" | "glossary"
            );
        if term.is_name() && !ambiguous {
            names.push(SourceName {
                hindi: hindi_form,
                english: term.english.clone(),
                known: true,
                routine: matches!(term.kind.as_str(), "month" | "weekday" | "media"),
                exact: term.kind == "glossary",
            });
        }
    }
    for (w, covered) in words.iter().zip(covered) {
        if covered || !w.chars().any(is_devanagari) {
            continue;
        }
        if let Some(letters) = acronym(w) {
            names.push(SourceName {
                hindi: w.clone(),
                english: vec![letters],
                known: true,
                routine: false,
                exact: false,
            });
        } else if !vocabulary.contains(w.as_str()) && w.chars().count() > 2 {
            names.push(SourceName {
                hindi: w.clone(),
                english: vec![title_case(&to_latin(w))],
                known: false,
                routine: false,
                exact: false,
            });
        }
    }
    forms.extend(names.iter().flat_map(|n| n.english.iter().cloned()));
    (names, forms)
}

/// Whether `name` appears in `text` as a credit: `(भाषा)`, `फोटो: भाषा`.
fn credited(text: &str, name: &str) -> bool {
    text.contains(&format!("({name})")) || text.contains(&format!(": {name}"))
}

fn title_case(s: &str) -> String {
    s.split(' ')
        .map(|w| {
            let mut c = w.chars();
            c.next()
                .map(|f| f.to_uppercase().chain(c).collect())
                .unwrap_or_default()
        })
        .collect::<Vec<String>>()
        .join(" ")
}

/// The English words of a text, with possessives dropped (`Modi's` → `Modi`).
fn english_words(english: &str) -> Vec<&str> {
    english
        .split(|c: char| !c.is_ascii_alphanumeric() && c != '\'' && c != '&')
        .map(|w| {
            w.trim_matches('\'')
                .trim_end_matches("'s")
                .trim_end_matches('\'')
        })
        .filter(|w| !w.is_empty())
        .collect()
}

/// The words of `english` that look like names: capitalised but not ordinary English
/// words, or acronyms (two or more capitals).
pub fn english_names(english: &str) -> Vec<String> {
    let vocabulary = english_vocabulary();
    english_words(english)
        .into_iter()
        .filter(|w| {
            let first_upper = w.chars().next().is_some_and(|c| c.is_ascii_uppercase());
            // Acronyms, also in the plural (EMIs).
            let letters = w.strip_suffix('s').filter(|s| s.len() >= 2).unwrap_or(w);
            let acronym = letters.len() >= 2 && letters.chars().all(|c| c.is_ascii_uppercase());
            let roman = w.chars().all(|c| matches!(c, 'I' | 'V' | 'X' | 'L'));
            first_upper
                && !roman
                && !w.chars().any(|c| c.is_ascii_digit())
                && (acronym && !matches!(*w, "AM" | "PM" | "OK")
                    || !vocabulary.contains(w.to_lowercase().as_str()))
        })
        .map(|w| {
            let letters = w.strip_suffix('s').unwrap_or(w);
            if letters.len() >= 2 && letters.chars().all(|c| c.is_ascii_uppercase()) {
                letters.to_string()
            } else {
                w.to_string()
            }
        })
        .collect()
}

/// Whether `english` has a form of `name`: one of its English forms as whole words, or
/// a word (or two) that sounds like its Hindi.
pub fn kept(name: &SourceName, english: &str) -> bool {
    if name.english.iter().any(|f| has_words(english, f)) {
        return true;
    }
    if name.exact {
        return false;
    }
    let words = english_words(english);
    if words.iter().any(|w| {
        name.english
            .iter()
            .any(|f| is_adjective_of(w, f) || abbreviates(w, f))
    }) {
        return true;
    }
    let n = name.hindi.split(' ').count();
    words
        .windows(n.min(words.len()).max(1))
        .any(|w| same_name(&w.join(" "), &name.hindi))
}

/// Whether `text` has `phrase` as whole words, case-insensitive.
fn has_words(text: &str, phrase: &str) -> bool {
    let (text, phrase) = (text.to_lowercase(), phrase.to_lowercase());
    text.match_indices(&phrase).any(|(at, _)| {
        let joins = |c: Option<char>| c.is_some_and(|c| c.is_ascii_alphanumeric());
        !joins(text[..at].chars().next_back()) && !joins(text[at + phrase.len()..].chars().next())
    })
}

/// Whether an English name is accounted for by the Hindi: it is in the English form of
/// one of its terms (or an adjective of one: Australia → Australian), or one of its
/// words sounds like it.
fn explained(word: &str, forms: &[String], hindi_words: &[String]) -> bool {
    forms
        .iter()
        .any(|f| has_words(f, word) || is_adjective_of(word, f))
        || hindi_words
            .iter()
            .filter(|h| h.chars().any(is_devanagari))
            .any(|h| same_name(word, h))
}

/// Whether `word` is an acronym with a unit or ending run on (`tmcft` for TMC ft).
fn abbreviates(word: &str, acronym: &str) -> bool {
    acronym.len() >= 2
        && acronym.chars().all(|c| c.is_ascii_uppercase())
        && word.len() <= acronym.len() + 2
        && word.to_lowercase().starts_with(&acronym.to_lowercase())
}

/// Whether `word` is the adjective or plural of a name (`Australian`, `Nepalese`, `EMIs`).
fn is_adjective_of(word: &str, name: &str) -> bool {
    let (w, n) = (word.to_lowercase(), name.to_lowercase());
    w.strip_prefix(n.trim_end_matches(['a', 'e']))
        .is_some_and(|rest| matches!(rest, "n" | "an" | "ian" | "ns" | "ese" | "i" | "s" | "is"))
}

/// What the names check finds in one sentence pair.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct NameCheck {
    /// Known names of the Hindi with no form in the English.
    pub missing: Vec<SourceName>,
    /// Names of the English that nothing in the Hindi accounts for.
    pub invented: Vec<String>,
}

pub fn check(hindi: &str, english: &str, terms: &Terms) -> NameCheck {
    let (names, forms) = names_and_terms(hindi, terms);
    let words = hindi_words(hindi);
    let found = english_names(english);
    let mut invented = Vec::new();
    let mut i = 0;
    while i < found.len() {
        let w = &found[i];
        if explained(w, &forms, &words) {
            i += 1;
            continue;
        }
        // Two English words may write one Hindi word: Ganj Golai for गंजगोलाई.
        if let Some(next) = found.get(i + 1)
            && explained(&format!("{w}{}", next.to_lowercase()), &forms, &words)
        {
            i += 2;
            continue;
        }
        if !invented.contains(w) {
            invented.push(w.clone());
        }
        i += 1;
    }
    NameCheck {
        missing: names
            .into_iter()
            .filter(|n| n.known && !kept(n, english))
            .collect(),
        invented,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn terms() -> &'static Terms {
        Terms::builtin()
    }

    #[test]
    fn names_of_the_source_come_from_the_gazetteer_acronyms_and_the_unknown_words() {
        let names = source_names(
            "नई दिल्ली, 14 जुलाई (भाषा)। सफदरजंग में आरबीआई के अधिकारी ने बताया।",
            terms(),
        );
        let english: Vec<&str> = names
            .iter()
            .flat_map(|n| n.english.iter().map(String::as_str))
            .collect();
        for name in ["New Delhi", "July", "PTI", "RBI", "Safdarjung"] {
            assert!(english.contains(&name), "{name}: {english:?}");
        }
        assert!(
            !english.iter().any(|e| e.contains("dhikar")),
            "अधिकारी is a word: {english:?}"
        );
        // A word outside the gazetteer and the vocabulary is a name, transliterated.
        let names = source_names("कप्तान बुमराह ने आठ विकेट लिए।", terms());
        assert_eq!(names.len(), 1, "{names:?}");
        assert!(!names[0].known && same_name("Bumrah", &names[0].hindi));
    }

    #[test]
    fn a_name_that_sounds_the_same_is_kept_and_one_from_nowhere_is_invented() {
        let hindi = "बहराइच के कैसरगंज में रविवार को तेंदुआ देखा गया।";
        let good = check(
            hindi,
            "A leopard was seen in Kaisarganj, Bahraich, on Sunday.",
            terms(),
        );
        assert_eq!(good, NameCheck::default());
        let bad = check(hindi, "A leopard was seen in Hyderabad on Friday.", terms());
        assert!(bad.invented.contains(&"Hyderabad".to_string()), "{bad:?}");
        assert!(bad.invented.contains(&"Friday".to_string()), "{bad:?}");
        let missing: Vec<&str> = bad.missing.iter().map(|n| n.english[0].as_str()).collect();
        assert!(
            missing.contains(&"Bahraich") && missing.contains(&"Sunday"),
            "{missing:?}"
        );
    }
}
