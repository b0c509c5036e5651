//! The editor's view of a translation: the checks (`checks`) run over every sentence,
//! with the model's confidence beside it, for this tool's own translation or for one
//! made elsewhere and aligned to its source by sentence (`align`); the review page
//! (`html`) shows the result side by side.

pub(crate) mod align;
pub(crate) mod checks;
pub(crate) mod html;

use crate::facts::terms::Terms;
use crate::record::{Checks, Confidence, Paragraph, Sentence};
use crate::text::segment::Document;
use align::Group;
use checks::{Check, Pair};
use std::collections::BTreeMap;

/// Run the checks over every sentence of `paragraphs` (their flags are replaced) and
/// count what they found. Length and repetition look across sentences (the article's
/// usual length ratio; the previous sentence).
pub fn flag(paragraphs: &mut [Paragraph], low_confidence: f32, terms: &Terms) -> Checks {
    let flags = {
        let pairs: Vec<Pair> = paragraphs
            .iter()
            .flat_map(|p| &p.sentences)
            .map(|s| Pair {
                source: &s.source,
                english: &s.translation,
                mean_logprob: s.confidence.map(|c| c.mean_logprob),
            })
            .collect();
        checks::check_all(
            &pairs,
            &checks::Settings {
                min_mean_logprob: low_confidence,
                terms,
            },
        )
    };
    let sentences = paragraphs.iter_mut().flat_map(|p| p.sentences.iter_mut());
    for (s, f) in sentences.zip(flags) {
        s.flags = f;
    }
    count(paragraphs, low_confidence)
}

/// The checks on one edited pair (Hindi sentence(s), the editor's English): no model
/// confidence (the English is the editor's), no neighbours (the desk sends one row).
pub fn recheck(source: &str, translation: &str, terms: &Terms) -> Vec<checks::Flag> {
    let pair = Pair {
        source,
        english: translation,
        mean_logprob: None,
    };
    let settings = checks::Settings {
        min_mean_logprob: f32::NEG_INFINITY,
        terms,
    };
    checks::check_all(&[pair], &settings)
        .pop()
        .unwrap_or_default()
}

/// How many sentences each check flagged, and the overall confidence.
pub fn count(paragraphs: &[Paragraph], low_confidence: f32) -> Checks {
    let mut by_check: BTreeMap<Check, usize> = BTreeMap::new();
    let (mut sentences, mut flagged, mut means) = (0, 0, Vec::new());
    for s in paragraphs.iter().flat_map(|p| &p.sentences) {
        sentences += 1;
        if !s.flags.is_empty() {
            flagged += 1;
        }
        let mut seen: Vec<Check> = s.flags.iter().map(|f| f.check).collect();
        seen.dedup();
        for k in seen {
            *by_check.entry(k).or_insert(0) += 1;
        }
        means.extend(s.confidence.map(|c| c.mean_logprob));
    }
    Checks {
        sentences,
        flagged,
        by_check: by_check
            .into_iter()
            .map(|(k, n)| (k.name().to_string(), n))
            .collect(),
        mean_logprob: (!means.is_empty()).then(|| means.iter().sum::<f32>() / means.len() as f32),
        low_confidence_below: low_confidence,
    }
}

/// Which of `gate` fired on some sentence.
pub fn fired(checks: &Checks, gate: &[Check]) -> Vec<Check> {
    gate.iter()
        .copied()
        .filter(|c| checks.by_check.contains_key(c.name()))
        .collect()
}

/// A translation made elsewhere, as paragraphs: each aligned group is one sentence (its
/// Hindi sentences joined by a space, `source_sentences` saying which), shown in the
/// paragraph the aligner put it in; `confidence[i]` is group i's score.
pub fn aligned(
    doc: &Document,
    groups: &[Group],
    confidence: &[Option<Confidence>],
) -> Vec<Paragraph> {
    let mut paragraphs: Vec<Paragraph> = doc
        .paragraphs
        .iter()
        .enumerate()
        .map(|(index, p)| Paragraph {
            index,
            kind: p.kind.clone(),
            source: p.text.clone(),
            translation: String::new(),
            sentences: Vec::new(),
            line: p.line,
            separator: p.separator.clone(),
        })
        .collect();
    for (i, g) in groups.iter().enumerate() {
        let Some(p) = paragraphs.get_mut(g.paragraph) else {
            continue;
        };
        let source: Vec<&str> = g
            .source
            .iter()
            .map(|&(pi, si)| doc.paragraphs[pi].sentences[si].as_str())
            .collect();
        // English with no Hindi behind it is shown, and counted, on its paragraph's line.
        let line = g
            .source
            .first()
            .and_then(|&(pi, _)| doc.paragraphs.get(pi))
            .map_or(p.line, |q| q.line);
        p.sentences.push(Sentence {
            index: p.sentences.len(),
            source: source.join(" "),
            translation: g.english.join(" "),
            confidence: confidence.get(i).copied().flatten(),
            flags: Vec::new(),
            line,
            source_sentences: Some(g.source.iter().map(|&(_, si)| si).collect()),
        });
    }
    for p in &mut paragraphs {
        let english: Vec<&str> = p
            .sentences
            .iter()
            .map(|s| s.translation.as_str())
            .filter(|t| !t.is_empty())
            .collect();
        p.translation = english.join(" ");
    }
    paragraphs
}

/// The counts by check, in the checks' order (numbers first).
pub fn by_check(c: &Checks) -> impl Iterator<Item = (Check, usize)> + '_ {
    Check::ALL
        .into_iter()
        .filter_map(|k| c.by_check.get(k.name()).map(|&n| (k, n)))
}

/// "24 rows, 3 flagged (numbers 1, dropped 1 …); mean token log-probability -0.62
/// (low-confidence threshold -1.50)".
pub fn summary_line(c: &Checks) -> String {
    let counts: Vec<String> = by_check(c)
        .map(|(k, v)| format!("{} {v}", k.name()))
        .collect();
    let mut s = format!("{} rows, {} flagged", c.sentences, c.flagged);
    if !counts.is_empty() {
        s.push_str(&format!(" ({})", counts.join(", ")));
    }
    if let Some(m) = c.mean_logprob {
        s.push_str(&format!(
            "; mean token log-probability {m:.2} (low-confidence threshold {:.2})",
            c.low_confidence_below
        ));
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_edited_sentence_is_rechecked_with_names_and_numbers() {
        let terms = Terms::builtin();
        let hindi = "दिल्ली में 2 दिन बारिश होगी।";
        let names: Vec<Check> = recheck(hindi, "It will rain for 3 days.", terms)
            .iter()
            .map(|f| f.check)
            .collect();
        assert_eq!(names, [Check::Numbers, Check::Numbers, Check::Names]);
        assert!(recheck(hindi, "It will rain in Delhi for 2 days.", terms).is_empty());
    }

    #[test]
    fn an_edited_sentence_with_a_changed_number_is_flagged_and_the_fixed_one_is_not() {
        let terms = Terms::builtin();
        let hindi = "मौसम विभाग ने कहा कि 2 दिन और बारिश होगी।";
        let wrong = recheck(
            hindi,
            "The weather office said it will rain for 3 more days.",
            terms,
        );
        assert!(
            wrong.iter().any(|f| f.check == Check::Numbers),
            "a changed number must be flagged: {wrong:?}"
        );
        let fixed = recheck(
            hindi,
            "The weather office said it will rain for 2 more days.",
            terms,
        );
        assert!(
            fixed.is_empty(),
            "the fixed sentence has no flags: {fixed:?}"
        );
    }

    #[test]
    fn hindi_left_in_an_edited_sentence_is_flagged() {
        let flags = recheck(
            "सरकार ने लोगों से घर में रहने को कहा।",
            "The सरकार asked people to stay home.",
            Terms::builtin(),
        );
        assert!(
            flags.iter().any(|f| f.check == Check::Untranslated),
            "{flags:?}"
        );
    }
}
