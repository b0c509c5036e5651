//! Choosing among candidate translations of one chunk (quality-aware decoding). Each
//! candidate is scored by
//! - its facts: the numbers and names of its Hindi it keeps, less what it invents (a
//!   name that nothing in the Hindi accounts for, a number the Hindi does not have), less
//!   an answer cut by its budget or a loop;
//! - its mean token log-probability (how sure the model was);
//! - its agreement with the other candidates (mean chrF: the minimum-Bayes-risk choice,
//!   what most candidates say);
//! - in `best`, how well it explains the Hindi (channel: the mean log-probability of the
//!   Hindi given the English, by forced decoding), which an invented name cannot do.
//!
//! The weights are the card's (`quality.weights`), tuned on a part of the evaluation set.

use crate::card::SelectionWeights;
use crate::engine::{Finish, Generation};
use crate::eval::metrics::chrf;
use crate::facts::names;
use crate::facts::numbers::compare;
use crate::facts::terms::Terms;

/// A candidate's score and its parts.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Score {
    pub facts: f64,
    pub logprob: f64,
    pub agreement: f64,
    pub channel: f64,
    pub total: f64,
}

/// How well `english` keeps the facts of `hindi`: the share of its numbers and names
/// kept (1 when it has none), less half a point for each one invented.
pub fn facts(hindi: &str, english: &str, terms: &Terms) -> f64 {
    if english.trim().is_empty() {
        return -1.0;
    }
    let numbers = compare(hindi, english);
    let found = names::source_names(hindi, terms);
    let names_kept = found.iter().filter(|n| names::kept(n, english)).count();
    let names_invented = names::check(hindi, english, terms).invented.len();
    let total = numbers.source.len() + found.len();
    let kept = if total == 0 {
        1.0
    } else {
        (numbers.kept() + names_kept) as f64 / total as f64
    };
    kept - 0.5 * (numbers.invented.len() + names_invented) as f64
}

/// The scores of the candidates of one chunk whose Hindi is `hindi`; `channel[i]` is
/// candidate i's channel score when it was computed.
pub fn score(
    hindi: &str,
    candidates: &[Generation],
    channel: Option<&[f64]>,
    weights: &SelectionWeights,
    terms: &Terms,
) -> Vec<Score> {
    let texts: Vec<&str> = candidates.iter().map(|c| c.text.trim()).collect();
    candidates
        .iter()
        .enumerate()
        .map(|(i, c)| {
            let mut facts = facts(hindi, texts[i], terms);
            // An answer cut by its budget or a loop gets split or cut later: worse.
            if matches!(c.finish, Finish::Length | Finish::Repetition) {
                facts -= 0.3;
            }
            let logprob = if c.logprobs.is_empty() {
                -10.0
            } else {
                c.logprobs.iter().map(|&l| l as f64).sum::<f64>() / c.logprobs.len() as f64
            };
            let others: Vec<f64> = (0..texts.len())
                .filter(|&j| j != i)
                .map(|j| chrf(&[texts[i]], &[texts[j]]) / 100.0)
                .collect();
            let agreement = if others.is_empty() {
                0.0
            } else {
                others.iter().sum::<f64>() / others.len() as f64
            };
            let channel = channel.map_or(0.0, |c| c[i]);
            let total = weights.facts * facts
                + weights.logprob * logprob
                + weights.agreement * agreement
                + weights.channel * channel;
            Score {
                facts,
                logprob,
                agreement,
                channel,
                total,
            }
        })
        .collect()
}

/// The index of the best score (the first of equals, so the first candidate wins ties).
pub fn best(scores: &[Score]) -> usize {
    let mut at = 0;
    for (i, s) in scores.iter().enumerate() {
        if s.total > scores[at].total {
            at = i;
        }
    }
    at
}

#[cfg(test)]
mod tests {
    use super::*;

    fn answer(text: &str, logprob: f32) -> Generation {
        Generation {
            text: text.into(),
            finish: Finish::Stop,
            tokens: vec![0; 8],
            prompt_tokens: 0,
            cached_tokens: 0,
            output_tokens: 8,
            logprobs: vec![logprob; 8],
            offsets: Vec::new(),
            prefill_seconds: 0.0,
            decode_seconds: 0.0,
        }
    }

    #[test]
    fn a_candidate_with_an_invented_name_loses_to_one_that_keeps_the_facts() {
        let hindi = "बहराइच के मिहींपुरवा में सोमवार को 8 वर्षीय बच्ची पर तेंदुए ने हमला किया।";
        // The planted candidate is the model's favourite and agrees with a third one,
        // but moves the story to Hyderabad and changes the age.
        let candidates = [
            answer(
                "A leopard attacked a 9-year-old girl in Hyderabad on Monday.",
                -0.3,
            ),
            answer(
                "A leopard attacked an 8-year-old girl in Mihinpurwa, Bahraich, on Monday.",
                -0.9,
            ),
            answer("A leopard attacked a girl in Hyderabad on Monday.", -0.5),
        ];
        let scores = score(
            hindi,
            &candidates,
            None,
            &SelectionWeights::default(),
            Terms::builtin(),
        );
        assert_eq!(best(&scores), 1, "{scores:?}");
        assert!(
            scores[0].facts < 0.0 && scores[1].facts == 1.0,
            "{scores:?}"
        );
    }

    #[test]
    fn with_equal_facts_the_likelier_and_more_agreed_answer_wins_and_ties_go_first() {
        let hindi = "दिल्ली में बारिश हुई।";
        let candidates = [
            answer("It rained in Delhi.", -0.4),
            answer("It rained in Delhi.", -0.4),
            answer("Delhi rain happened heavily today.", -2.0),
        ];
        let scores = score(
            hindi,
            &candidates,
            None,
            &SelectionWeights::default(),
            Terms::builtin(),
        );
        assert_eq!(best(&scores), 0, "{scores:?}");
        assert!(scores[2].total < scores[0].total);
    }
}
