//! Mechanical checks on aligned Hindi ↔ English sentence pairs, for editors. Each flag
//! has a short machine name and a message saying what to look at. A check is kept only
//! if it is precise enough to be worth an editor's time: numbers are compared by value
//! (Devanagari digits, Indian and Western grouping, fractions, percentages, lakh/crore
//! vs million/billion, spelled-out small numbers), length is judged against the
//! article's own ratio, repetition needs a long repeated phrase.

use crate::facts;
use crate::facts::numbers::compare;
use crate::facts::terms::Terms;
pub use crate::record::{Check, Flag};
use crate::text::script::is_devanagari;

/// One aligned unit: Hindi text (one or more sentences, or empty) and its English.
#[derive(Debug, Clone)]
pub struct Pair<'a> {
    pub source: &'a str,
    pub english: &'a str,
    /// Mean token log-probability of the English, when known.
    pub mean_logprob: Option<f32>,
}

#[derive(Debug, Clone, Copy)]
pub struct Settings<'a> {
    /// Flag sentences whose mean token log-probability is below this.
    pub min_mean_logprob: f32,
    /// The names the Hindi may contain: the gazetteer and the user's glossary.
    pub terms: &'a Terms,
}

/// The flags of every pair, in order. Length and repetition look at the whole article
/// (its usual length ratio; neighbouring sentences).
pub fn check_all(pairs: &[Pair], settings: &Settings) -> Vec<Vec<Flag>> {
    let ratio = typical_ratio(pairs);
    let mut all = Vec::with_capacity(pairs.len());
    for (i, p) in pairs.iter().enumerate() {
        let mut flags = Vec::new();
        let (src, en) = (p.source.trim(), p.english.trim());
        if src.is_empty() && !en.is_empty() {
            flags.push(Flag {
                check: Check::Added,
                message: "this English has no Hindi sentence behind it".into(),
            });
        }
        if !src.is_empty() && en.is_empty() {
            flags.push(Flag {
                check: Check::Dropped,
                message: "this Hindi sentence has no English".into(),
            });
        }
        flags.extend(numbers(src, en));
        flags.extend(names(src, en, settings.terms));
        flags.extend(untranslated(en));
        if let Some(f) = length(src, en, ratio) {
            flags.push(f);
        }
        // A repeat of the previous English is only suspect if the Hindi did not repeat.
        let previous = i
            .checked_sub(1)
            .map(|j| &pairs[j])
            .filter(|q| q.source.trim() != src)
            .map(|q| q.english);
        flags.extend(repetition(en, previous));
        if let Some(mean) = p.mean_logprob
            && !en.is_empty()
            && mean < settings.min_mean_logprob
        {
            flags.push(Flag {
                check: Check::LowConfidence,
                message: format!(
                    "the model is unsure of this English (mean token log-probability {:.2}, threshold {:.2})",
                    mean, settings.min_mean_logprob
                ),
            });
        }
        all.push(flags);
    }
    all
}

// ---------------------------------------------------------------------- names

/// Known names of the Hindi missing from the English, and names of the English that
/// nothing in the Hindi accounts for.
pub fn names(src: &str, en: &str, terms: &Terms) -> Vec<Flag> {
    if src.is_empty() || en.is_empty() {
        return Vec::new(); // a dropped or added sentence is flagged as such
    }
    let found = facts::names::check(src, en, terms);
    let mut flags = Vec::new();
    if !found.missing.is_empty() {
        let missing: Vec<String> = found
            .missing
            .iter()
            .map(|n| format!("{} ({})", n.hindi, n.english[0]))
            .collect();
        flags.push(Flag {
            check: Check::Names,
            message: format!(
                "in the Hindi but not in the English: {}",
                missing.join(", ")
            ),
        });
    }
    if !found.invented.is_empty() {
        flags.push(Flag {
            check: Check::Names,
            message: format!(
                "in the English but not in the Hindi: {}",
                found.invented.join(", ")
            ),
        });
    }
    flags
}

// ---------------------------------------------------------------- untranslated

pub fn untranslated(en: &str) -> Option<Flag> {
    let words: Vec<&str> = en
        .split_whitespace()
        .filter(|w| w.chars().any(is_devanagari))
        .collect();
    (!words.is_empty()).then(|| Flag {
        check: Check::Untranslated,
        message: format!("Hindi left in the English: {}", words.join(" ")),
    })
}

// ---------------------------------------------------------------------- length

/// Sentences shorter than this (in characters, both sides) are too short for a length
/// ratio to mean anything.
pub(crate) const MIN_CHARS_FOR_RATIO: usize = 25;
/// How far from the article's typical English/Hindi ratio a pair must be to be flagged.
pub(crate) const RATIO_FACTOR: f32 = 2.5;

fn chars(s: &str) -> usize {
    s.chars().filter(|c| !c.is_whitespace()).count()
}

/// The median English/Hindi character ratio of the article's pairs (1.1 if too few).
fn typical_ratio(pairs: &[Pair]) -> f32 {
    let mut r: Vec<f32> = pairs
        .iter()
        .filter(|p| {
            chars(p.source) >= MIN_CHARS_FOR_RATIO && chars(p.english) >= MIN_CHARS_FOR_RATIO
        })
        .map(|p| chars(p.english) as f32 / chars(p.source) as f32)
        .collect();
    if r.len() < 3 {
        return 1.1;
    }
    r.sort_by(f32::total_cmp);
    r[r.len() / 2]
}

fn length(src: &str, en: &str, typical: f32) -> Option<Flag> {
    let (s, e) = (chars(src), chars(en));
    if s < MIN_CHARS_FOR_RATIO || e == 0 {
        return None;
    }
    let ratio = e as f32 / s as f32;
    let (low, high) = (typical / RATIO_FACTOR, typical * RATIO_FACTOR);
    let what = if ratio < low {
        "much shorter"
    } else if ratio > high && e >= MIN_CHARS_FOR_RATIO {
        "much longer"
    } else {
        return None;
    };
    Some(Flag {
        check: Check::Length,
        message: format!(
            "the English is {what} than the Hindi suggests ({e} vs {s} characters; this article's usual ratio is {typical:.2}); something may be missing or added"
        ),
    })
}

// ------------------------------------------------------------------ repetition

pub(crate) const STOPWORDS: &[&str] = &[
    "the", "a", "an", "of", "in", "on", "to", "and", "or", "for", "is", "was", "are", "were", "be",
    "by", "at", "with", "that", "this", "it", "as", "from", "has", "have", "had", "he", "she",
    "they", "his", "her", "their", "its", "said", "will", "would", "not", "per", "cent", "percent",
    "than", "also", "which", "who", "been", "into", "about", "after", "over", "under", "up",
    "down", "out", "more", "most", "last", "next", "there", "all",
];

fn words(s: &str) -> Vec<String> {
    s.split(|c: char| !c.is_alphanumeric() && c != '\'')
        .filter(|w| !w.is_empty())
        .map(|w| w.to_lowercase())
        .collect()
}

/// A phrase worth calling repeated: at least two words that are not function words.
fn contentful(gram: &[String]) -> bool {
    gram.iter()
        .filter(|w| !STOPWORDS.contains(&w.as_str()) && !w.chars().all(|c| c.is_ascii_digit()))
        .count()
        >= 2
}

/// The longest phrase of at least `min` words that occurs twice in `a` (or, with `b`,
/// in both `a` and `b`).
fn repeated_phrase(a: &[String], b: Option<&[String]>, min: usize) -> Option<String> {
    let mut best: Option<&[String]> = None;
    for n in (min..=a.len().min(12)).rev() {
        for i in 0..=a.len() - n {
            let gram = &a[i..i + n];
            if !contentful(gram) {
                continue;
            }
            let found = match b {
                None => (i + n..=a.len().saturating_sub(n)).any(|j| &a[j..j + n] == gram),
                Some(b) => b.len() >= n && (0..=b.len() - n).any(|j| &b[j..j + n] == gram),
            };
            if found {
                best = Some(gram);
                break;
            }
        }
        if best.is_some() {
            break;
        }
    }
    best.map(|g| g.join(" "))
}

pub fn repetition(en: &str, previous: Option<&str>) -> Option<Flag> {
    let w = words(en);
    // Four words at least: shorter phrases ("per cent in") recur in good English.
    if let Some(p) = repeated_phrase(&w, None, 4) {
        return Some(Flag {
            check: Check::Repetition,
            message: format!("\"{p}\" is repeated within the sentence"),
        });
    }
    let prev = words(previous?);
    let p = repeated_phrase(&w, Some(&prev), 6)?;
    Some(Flag {
        check: Check::Repetition,
        message: format!("\"{p}\" repeats the previous sentence"),
    })
}

/// How many digit numbers of `src` and `en` find a partner on the other side, and how
/// many do not: the aligner's evidence that two sentences belong together.
pub fn number_agreement(src: &str, en: &str) -> (usize, usize) {
    let c = compare(src, en);
    let shared = c.kept();
    (shared, c.source.len() - shared + c.invented.len())
}

/// Numbers of the Hindi that are missing from the English, and numbers of the English
/// (written with digits) that the Hindi does not have.
pub fn numbers(src: &str, en: &str) -> Vec<Flag> {
    let mut flags = Vec::new();
    if en.trim().is_empty() {
        return flags; // a dropped sentence is flagged as such, not number by number
    }
    let c = compare(src, en);
    let missing: Vec<&str> = c.missing().map(|n| n.text.as_str()).collect();
    if !missing.is_empty() {
        flags.push(Flag {
            check: Check::Numbers,
            message: format!(
                "in the Hindi but not in the English: {}",
                missing.join(", ")
            ),
        });
    }
    let added: Vec<&str> = c.invented.iter().map(|n| n.text.as_str()).collect();
    if !added.is_empty() && !src.trim().is_empty() {
        flags.push(Flag {
            check: Check::Numbers,
            message: format!("in the English but not in the Hindi: {}", added.join(", ")),
        });
    }
    flags
}

#[cfg(test)]
mod tests {
    use super::*;

    fn texts(f: &[Flag]) -> Vec<String> {
        f.iter().map(|f| f.message.clone()).collect()
    }

    #[test]
    fn numbers_that_survive_translation_are_not_flagged() {
        for (hi, en) in [
            (
                "सेंसेक्स 412 अंक चढ़कर 80,245 पर बंद हुआ।",
                "The Sensex rose 412 points to close at 80,245.",
            ),
            (
                "इसे 1,250 करोड़ रुपये की लागत से बनाया गया।",
                "It was built at a cost of Rs 12.5 billion.",
            ),
            (
                "इसे 1,250 करोड़ रुपये की लागत से बनाया गया।",
                "It cost Rs 1,250 crore.",
            ),
            ("महंगाई 6.21 प्रतिशत रही।", "Inflation was 6.21%."),
            (
                "२२ नवंबर को ३,१४० करोड़ रुपये मंजूर हुए।",
                "On November 22, Rs 3,140 crore was approved.",
            ),
            ("भारत ने छह विकेट से जीत दर्ज की।", "India won by 6 wickets."),
            ("भारत ने 6 विकेट से जीत दर्ज की।", "India won by six wickets."),
            (
                "परीक्षा सुबह 10:30 बजे शुरू होगी।",
                "The exam will begin at 10.30 am.",
            ),
            ("कुल 2 1/2 घंटे लगे।", "It took 2.5 hours in all."),
            ("31वें मिनट में गोल हुआ।", "The goal came in the 31st minute."),
            (
                "तीन लाख रुपये का इनाम मिला।",
                "A reward of Rs 300,000 was given.",
            ),
            ("1,25,000 लोग आए।", "125,000 people came."),
            (
                "दूसरा टेस्ट 6 दिसंबर से होगा।",
                "The 2nd Test will start on December 6.",
            ),
        ] {
            assert_eq!(texts(&numbers(hi, en)), Vec::<String>::new(), "{hi} → {en}");
        }
    }

    #[test]
    fn a_changed_missing_or_invented_number_is_flagged() {
        let f = numbers("सेंसेक्स 412 अंक चढ़ा।", "The Sensex rose 421 points.");
        assert_eq!(
            texts(&f),
            [
                "in the Hindi but not in the English: 412",
                "in the English but not in the Hindi: 421"
            ]
        );
        let f = numbers("२०२८ तक ३७ संयंत्र बनेंगे।", "By 2028 plants will be built.");
        assert_eq!(texts(&f), ["in the Hindi but not in the English: 37"]);
        let f = numbers("कुल 2 1/2 घंटे लगे।", "It took 3 hours.");
        assert_eq!(
            texts(&f),
            [
                "in the Hindi but not in the English: 2 1/2",
                "in the English but not in the Hindi: 3"
            ]
        );
        let f = numbers(
            "7 करोड़ किसानों को फायदा होगा।",
            "It will benefit 7 million farmers.",
        );
        assert_eq!(
            texts(&f),
            [
                "in the Hindi but not in the English: 7 करोड़",
                "in the English but not in the Hindi: 7 million"
            ]
        );
        let f = numbers("बारिश हुई।", "It rained 5 mm.");
        assert_eq!(texts(&f), ["in the English but not in the Hindi: 5"]);
    }

    #[test]
    fn devanagari_left_in_the_english_is_named() {
        let f = untranslated("The मौसम department said it would rain.").unwrap();
        assert_eq!(f.message, "Hindi left in the English: मौसम");
        assert!(untranslated("The weather department (IMD) said so.").is_none());
    }

    #[test]
    fn repeated_phrases_are_flagged_but_normal_sentences_are_not() {
        let f = repetition(
            "Heavy rain lashed the city heavy rain lashed the city on Sunday.",
            None,
        )
        .unwrap();
        assert_eq!(
            f.message,
            "\"heavy rain lashed the city\" is repeated within the sentence"
        );
        assert!(
            repetition(
                "The Reserve Bank kept the repo rate at 6.25 per cent.",
                None
            )
            .is_none()
        );
        // Function words repeating is not a repeated phrase.
        assert!(repetition("He said that it was in the city and in the state.", None).is_none());
        assert!(
            repetition(
                "Prices rose 2 per cent in the first quarter and 3 per cent in the second.",
                None
            )
            .is_none()
        );
        let prev = "The weather department forecast heavy rain in Delhi for two days.";
        let f = repetition(
            "The weather department forecast heavy rain in Delhi for two days.",
            Some(prev),
        )
        .unwrap();
        assert!(
            f.message.ends_with("repeats the previous sentence"),
            "{}",
            f.message
        );
        assert!(repetition("Schools will stay shut on Monday.", Some(prev)).is_none());
    }

    fn pair<'a>(source: &'a str, english: &'a str) -> Pair<'a> {
        Pair {
            source,
            english,
            mean_logprob: None,
        }
    }

    #[test]
    fn dropped_added_and_length_outliers_are_flagged_against_the_article_ratio() {
        let s = Settings {
            min_mean_logprob: -3.0,
            terms: Terms::builtin(),
        };
        let long_hi = "मौसम विभाग ने अगले दो दिन भारी बारिश का अनुमान जताया है।";
        let long_en = "The weather department has forecast heavy rain for the next two days.";
        let pairs = [
            pair(long_hi, long_en),
            pair(long_hi, long_en),
            pair(long_hi, long_en),
            pair(long_hi, "Rain."),
            pair(long_hi, ""),
            pair("", "An English sentence nobody wrote in Hindi."),
        ];
        let flags = check_all(&pairs, &s);
        assert!(flags[..3].iter().all(|f| f.is_empty()), "{flags:?}");
        assert_eq!(flags[3][0].check, Check::Length);
        assert!(flags[3][0].message.contains("much shorter"));
        assert_eq!(
            flags[4].iter().map(|f| f.check).collect::<Vec<_>>(),
            [Check::Dropped]
        );
        assert_eq!(
            flags[5].iter().map(|f| f.check).collect::<Vec<_>>(),
            [Check::Added]
        );
    }

    #[test]
    fn low_confidence_uses_the_threshold() {
        let s = Settings {
            min_mean_logprob: -2.0,
            terms: Terms::builtin(),
        };
        let mut p = pair("बारिश हुई।", "It rained.");
        p.mean_logprob = Some(-2.5);
        assert_eq!(
            check_all(&[p.clone()], &s)[0][0].check,
            Check::LowConfidence
        );
        p.mean_logprob = Some(-1.5);
        assert!(check_all(&[p], &s)[0].is_empty());
    }

    #[test]
    fn check_names_parse_from_the_command_line() {
        assert_eq!(Check::parse("low-confidence"), Some(Check::LowConfidence));
        assert_eq!(Check::parse("numbers"), Some(Check::Numbers));
        assert_eq!(Check::parse("typos"), None);
    }
}
