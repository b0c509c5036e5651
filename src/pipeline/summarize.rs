//! The summary stage. An article that fits one prompt is summarized directly; a longer
//! one is map-reduced (notes per span of the article, then one summary of the notes,
//! reducing the notes in rounds if they are themselves too long), so nothing past the
//! context window is ignored.

use super::runner::{Call, Runner};
use super::translate::translate_sentences;
use crate::card::SummaryMethod;
use crate::engine::Finish;
use crate::error::{Error, Result};
use crate::facts::names;
use crate::facts::numbers::{NumberPlan, compare};
use crate::facts::terms::Terms;
use crate::record::Summary;
use crate::review::checks;
use crate::text::chunk;
use crate::text::segment::{self, Document, ParagraphKind};
use std::collections::{HashMap, HashSet};
use std::sync::Arc;

const MAX_REDUCE_ROUNDS: usize = 4;

pub fn summarize(runner: &mut Runner, doc: &Document) -> Result<Summary> {
    let (card, s) = (runner.card, runner.settings);
    let words = s.summary_words;
    if s.summary_method == SummaryMethod::Extractive {
        return extractive(runner, doc);
    }
    let words_s = words.to_string();
    // A summary of N words takes about 1.5 N tokens; leave room for 2 N.
    let summary_budget = (words * 2 + 32).min(s.max_new_tokens.max(words * 2 + 32));
    let direct_cap = runner
        .source_budget(&card.prompts.summarize, 0.0, usize::MAX)?
        .saturating_sub(summary_budget);
    let whole: String = doc
        .paragraphs
        .iter()
        .map(|p| p.text.as_str())
        .collect::<Vec<_>>()
        .join("\n");
    let whole_tokens = runner.count(&whole);
    // A summary may write the numbers of the article, and no others.
    let numbers = runner.number_plan(&whole);

    if whole_tokens <= direct_cap.min(s.notes_chunk_tokens * 2) {
        // A summary is expected to fill most of its budget (about 1.5 N of 2 N + 32).
        runner.begin("summarize", 1, summary_budget * 3 / 4);
        let template = &card.prompts.summarize;
        let call = Call::new(
            template,
            &[("source", &whole), ("words", &words_s)],
            summary_budget,
        )
        .numbers(numbers.clone());
        let out = one(runner.generate(template, &[call])?);
        let summary = tidy(&out.text, out.finish);
        runner.chunk_done(1, 1);
        return Ok(finish(runner, summary, Vec::new()));
    }

    // Map: notes on each span of the article, all spans submitted together.
    let notes_cap = runner.source_budget(&card.prompts.notes, 0.5, s.notes_chunk_tokens)?;
    let spans = chunk::plan_spans(doc, notes_cap, &|t| runner.count(t));
    let total = spans.len() + 1;
    let template = &card.prompts.notes;
    let calls: Vec<Call> = spans
        .iter()
        .map(|span| {
            let budget = (runner.count(span) / 2 + 48).min(s.max_new_tokens);
            Call::new(template, &[("source", span)], budget).numbers(runner.number_plan(span))
        })
        .collect();
    // Notes and summary are expected to fill about three quarters of their budgets.
    let budgets: usize = calls.iter().map(|c| c.budget).sum::<usize>() + summary_budget;
    runner.begin("summarize", total, budgets * 3 / 4);
    let mut notes = Vec::with_capacity(spans.len());
    for (i, out) in runner.generate(template, &calls)?.into_iter().enumerate() {
        let note = tidy(&out.text, out.finish);
        if !note.is_empty() {
            notes.push(note);
        }
        runner.chunk_done(i + 1, total);
    }

    // Reduce: one summary of the notes; if the notes are too long for one prompt, reduce
    // groups of them first.
    let reduce_cap = runner
        .source_budget(&card.prompts.reduce, 0.0, usize::MAX)?
        .saturating_sub(summary_budget)
        .max(64);
    let mut layer = notes.clone();
    for _ in 0..MAX_REDUCE_ROUNDS {
        let joined = layer.join("\n");
        if runner.count(&joined) <= reduce_cap || layer.len() <= 1 {
            let summary = reduce(runner, &joined, &words_s, summary_budget, &numbers)?;
            runner.chunk_done(total, total);
            return Ok(finish(runner, summary, notes));
        }
        let mut next = Vec::new();
        let mut group = String::new();
        for note in &layer {
            if !group.is_empty() && runner.count(&group) + runner.count(note) > reduce_cap {
                next.push(reduce(runner, &group, &words_s, summary_budget, &numbers)?);
                group.clear();
            }
            group.push_str(note);
            group.push('\n');
        }
        if !group.is_empty() {
            next.push(reduce(runner, &group, &words_s, summary_budget, &numbers)?);
        }
        layer = next;
    }
    Err(Error::Invalid(format!(
        "the article's notes did not shrink to one prompt in {MAX_REDUCE_ROUNDS} rounds; use a model card with a larger context"
    )))
}

/// The one answer of a one-call submission.
fn one(mut answers: Vec<crate::engine::Generation>) -> crate::engine::Generation {
    answers.remove(0)
}

/// Extractive summary: rank the body sentences of the whole article (lead position,
/// words shared with the rest of the article, numbers), take the best until the target
/// length is reached, skipping near-duplicates, translate them, and keep those whose
/// English passes the checks (its numbers and no invented name, no Hindi left, no loop).
/// A sentence that fails is replaced by the next best, for a few rounds; no English
/// with a number the article lacks is ever kept.
fn extractive(runner: &mut Runner, doc: &Document) -> Result<Summary> {
    let target = runner.settings.summary_words;
    let ranking = Ranking::of(doc);
    let mut tried = vec![false; ranking.sentences.len()];
    let mut kept: Vec<(usize, String)> = Vec::new();
    let mut fallback: Vec<(usize, String)> = Vec::new();
    let mut words = 0;
    let mut total = 0;
    for round in 0..MAX_EXTRACTIVE_ROUNDS {
        let chosen: Vec<usize> = kept.iter().map(|(i, _)| *i).collect();
        let picks = ranking.pick(target.saturating_sub(words), &chosen, &tried);
        if picks.is_empty() {
            break;
        }
        let hindi: Vec<String> = picks
            .iter()
            .map(|&i| ranking.sentences[i].clone())
            .collect();
        if round == 0 {
            let source_tokens = hindi.iter().map(|h| runner.count(h)).sum();
            let expected = runner.expected_translation(source_tokens);
            runner.begin("summarize", picks.len(), expected);
        }
        total += picks.len();
        let english = translate_sentences(runner, &hindi)?;
        for ((&i, hi), en) in picks.iter().zip(&hindi).zip(english) {
            tried[i] = true;
            let en = en.text;
            runner.chunk_done(tried.iter().filter(|t| **t).count(), total);
            match faithful(hi, &en, runner.terms) {
                Verdict::Pass => {
                    words += hi.split_whitespace().count();
                    kept.push((i, en));
                }
                Verdict::Flawed if round == 0 => fallback.push((i, en)),
                _ => {}
            }
        }
        if words >= target {
            break;
        }
    }
    // Nothing passed: the first picks without an invented number or name are better
    // than no summary.
    if kept.is_empty() {
        kept = fallback;
    }
    kept.sort_unstable_by_key(|(i, _)| *i);
    let picked = kept
        .iter()
        .map(|(i, _)| ranking.sentences[*i].clone())
        .collect();
    let english: Vec<String> = kept.into_iter().map(|(_, en)| en).collect();
    Ok(finish(runner, english.join(" "), picked))
}

/// Rounds of replacing summary sentences whose English fails the checks.
const MAX_EXTRACTIVE_ROUNDS: usize = 3;

enum Verdict {
    /// Keeps its numbers, invents nothing, no Hindi left, no loop.
    Pass,
    /// Misses a number or a name, but invents none.
    Flawed,
    /// Empty, or invents a number or a name.
    Fails,
}

fn faithful(hindi: &str, english: &str, terms: &Terms) -> Verdict {
    let numbers = compare(hindi, english);
    let names = names::check(hindi, english, terms);
    if english.trim().is_empty() || !numbers.invented.is_empty() || !names.invented.is_empty() {
        return Verdict::Fails;
    }
    let clean =
        checks::untranslated(english).is_none() && checks::repetition(english, None).is_none();
    if clean && numbers.missing().next().is_none() {
        Verdict::Pass
    } else {
        Verdict::Flawed
    }
}

/// Hindi function words that say nothing about what an article is about.
const STOPWORDS: &[&str] = &[
    "के",
    "का",
    "की",
    "को",
    "में",
    "से",
    "ने",
    "है",
    "हैं",
    "था",
    "थे",
    "थी",
    "और",
    "या",
    "भी",
    "तो",
    "पर",
    "इस",
    "उस",
    "यह",
    "वह",
    "ये",
    "वे",
    "एक",
    "लिए",
    "साथ",
    "कहा",
    "किया",
    "गया",
    "गई",
    "हो",
    "रहा",
    "रही",
    "रहे",
    "कि",
    "जो",
    "नहीं",
    "अब",
    "तक",
    "बाद",
    "द्वारा",
    "करने",
    "करते",
    "होने",
    "अपने",
];

fn content_words(sentence: &str) -> HashSet<String> {
    sentence
        .split(|c: char| !c.is_alphanumeric() && !('\u{0900}'..='\u{097F}').contains(&c))
        .filter(|w| w.chars().count() >= 2 && !STOPWORDS.contains(w))
        .map(|w| w.to_lowercase())
        .collect()
}

/// The body sentences of an article, best summary material first.
struct Ranking {
    /// Body sentences of five words or more, in article order.
    sentences: Vec<String>,
    words: Vec<HashSet<String>>,
    /// Indices into `sentences`, best first.
    order: Vec<usize>,
}

impl Ranking {
    fn of(doc: &Document) -> Ranking {
        // Datelines, headings, captions and credits are not summary material.
        let sentences: Vec<String> = doc
            .paragraphs
            .iter()
            .filter(|p| p.kind == ParagraphKind::Body)
            .flat_map(|p| p.sentences.iter())
            .filter(|s| s.split_whitespace().count() >= 5)
            .cloned()
            .collect();
        let words: Vec<HashSet<String>> = sentences.iter().map(|s| content_words(s)).collect();
        let mut df: HashMap<&str, usize> = HashMap::new();
        for w in &words {
            for t in w {
                *df.entry(t.as_str()).or_default() += 1;
            }
        }
        let n = sentences.len() as f64;
        let score = |i: usize| -> f64 {
            // News puts the essentials first (the inverted pyramid).
            let position = 1.0 / (1.0 + 0.35 * i as f64);
            let shared: f64 = words[i]
                .iter()
                .map(|t| (df[t.as_str()] - 1) as f64)
                .sum::<f64>()
                / (n * (words[i].len() as f64).sqrt().max(1.0));
            let numbers = if sentences[i].chars().any(|c| c.is_numeric()) {
                0.15
            } else {
                0.0
            };
            position + shared + numbers
        };
        let scores: Vec<f64> = (0..sentences.len()).map(score).collect();
        let mut order: Vec<usize> = (0..sentences.len()).collect();
        order.sort_by(|&a, &b| scores[b].total_cmp(&scores[a]).then(a.cmp(&b)));
        Ranking {
            sentences,
            words,
            order,
        }
    }

    /// The best sentences not yet `tried`, about `target_words` words of them, none a
    /// near-duplicate of another or of one already `chosen`; in article order.
    fn pick(&self, target_words: usize, chosen: &[usize], tried: &[bool]) -> Vec<usize> {
        let mut picks: Vec<usize> = Vec::new();
        let mut total = 0;
        for &i in &self.order {
            if total >= target_words {
                break;
            }
            let duplicate = chosen.iter().chain(&picks).any(|&j| {
                let common = self.words[i].intersection(&self.words[j]).count() as f64;
                let union = self.words[i].union(&self.words[j]).count().max(1) as f64;
                common / union > 0.6
            });
            if tried[i] || duplicate {
                continue;
            }
            total += self.sentences[i].split_whitespace().count();
            picks.push(i);
        }
        picks.sort_unstable();
        picks
    }
}

fn reduce(
    runner: &mut Runner,
    notes: &str,
    words: &str,
    budget: usize,
    numbers: &Option<Arc<NumberPlan>>,
) -> Result<String> {
    let template = &runner.card.prompts.reduce;
    let call =
        Call::new(template, &[("notes", notes), ("words", words)], budget).numbers(numbers.clone());
    let out = one(runner.generate(template, &[call])?);
    Ok(tidy(&out.text, out.finish))
}

/// Trim, and when the budget cut the text mid-sentence, drop the unfinished sentence.
fn tidy(text: &str, finish: Finish) -> String {
    let text = text.trim();
    if finish == Finish::Length
        && let Some(end) = text.rfind(['.', '!', '?'])
    {
        return text[..=end].to_string();
    }
    text.to_string()
}

fn finish(runner: &Runner, summary: String, notes: Vec<String>) -> Summary {
    let bullets = segment::split_sentences(&summary)
        .into_iter()
        .map(|s| s.trim_start_matches(['-', '*', '•', ' ']).to_string())
        .filter(|s| !s.is_empty())
        .collect();
    Summary {
        summary,
        bullets,
        length: runner.settings.summary_length,
        target_words: runner.settings.summary_words,
        notes,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_summary_sentence_must_keep_its_numbers_and_invent_nothing() {
        let terms = Terms::builtin();
        let hindi = "पटना में सोमवार को 12 लोग घायल हुए।";
        assert!(matches!(
            faithful(hindi, "12 people were injured in Patna on Monday.", terms),
            Verdict::Pass
        ));
        assert!(matches!(
            faithful(hindi, "Many people were injured in Patna on Monday.", terms),
            Verdict::Flawed
        ));
        assert!(matches!(
            faithful(hindi, "15 people were injured in Patna on Monday.", terms),
            Verdict::Fails
        ));
        assert!(matches!(
            faithful(
                hindi,
                "12 people were injured in Hyderabad on Monday.",
                terms
            ),
            Verdict::Fails
        ));
        assert!(matches!(faithful(hindi, " ", terms), Verdict::Fails));
    }

    #[test]
    fn replacements_are_the_next_best_sentences_not_tried_and_not_duplicates() {
        let doc = segment::segment(
            "पटना में सोमवार को भारी बारिश से 12 लोग घायल हुए।\n\n\
             पटना में सोमवार को भारी बारिश से 12 लोग घायल हो गए।\n\n\
             मौसम विभाग ने कहा कि मंगलवार को भी बारिश होगी।\n\n\
             सरकार ने घायलों के इलाज के लिए राहत राशि की घोषणा की है।\n",
        );
        let r = Ranking::of(&doc);
        assert_eq!(r.sentences.len(), 4);
        // The second sentence repeats the first: never picked with it.
        let first = r.pick(usize::MAX, &[], &[false; 4]);
        assert_eq!(first, [0, 2, 3]);
        // The first failed its checks: its near-duplicate may stand in for it.
        let again = r.pick(usize::MAX, &[2, 3], &[true, false, true, true]);
        assert_eq!(again, [1]);
        assert_eq!(
            r.pick(1, &[], &[false; 4]).len(),
            1,
            "a word budget stops it"
        );
    }

    #[test]
    fn a_summary_cut_by_the_budget_loses_its_unfinished_sentence() {
        assert_eq!(tidy(" One. Two is cut", Finish::Length), "One.");
        assert_eq!(
            tidy(" One. Two is whole", Finish::Stop),
            "One. Two is whole"
        );
    }
}
