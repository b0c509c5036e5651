//! The translation stage: chunk the document, translate the chunks through the engine
//! (a few batches' worth at a time), and recover rather than emit junk or drop a
//! sentence:
//! - a repetition loop is retried with a repetition penalty (in `Runner::generate`),
//!   and what still loops is cut where the loop starts;
//! - a chunk whose answer does not have one English line per Hindi line is split and
//!   its sentences translated one by one;
//! - a sentence whose answer ran out of budget is split at clause boundaries and the
//!   pieces translated one by one.
//!
//! Every retry of a round is submitted together, so retries are batched like first
//! attempts.

use super::runner::{Call, Runner};
use crate::engine::{Finish, Generation};
use crate::error::Result;
use crate::record::Paragraph;
use crate::text::assemble::{LineOut, assemble};
use crate::text::chunk;
use crate::text::segment::{self, Document};

pub fn translate(runner: &mut Runner, doc: &Document) -> Result<Vec<Paragraph>> {
    let s = runner.settings;
    let budget = runner.source_budget(
        &runner.card.prompts.translate,
        s.output_ratio,
        s.max_source_tokens,
    )?;
    let chunks = chunk::plan(doc, s.max_sentences, budget, &|t| runner.count(t));
    runner.begin("translate", chunks.len());
    let mut outs = Vec::with_capacity(chunks.len());
    // Chunks go to the engine a few batches' worth at a time: enough for it to keep
    // every slot busy, few enough that progress moves along.
    for group in chunks.chunks(s.batch_size * 4) {
        let items: Vec<Item> = group
            .iter()
            .map(|c| Item {
                lines: c.text.lines().map(str::to_string).collect(),
                may_split_clauses: true,
            })
            .collect();
        for lines in translate_items(runner, &items)? {
            outs.push(lines);
            runner.chunk_done(outs.len(), chunks.len());
        }
    }
    Ok(assemble(doc, &chunks, &outs))
}

/// English for sentences outside a document (an extractive summary, a headline).
pub fn translate_sentences(runner: &mut Runner, sentences: &[String]) -> Result<Vec<LineOut>> {
    let mut outs = Vec::with_capacity(sentences.len());
    for group in sentences.chunks(runner.settings.batch_size * 4) {
        let items: Vec<Item> = group
            .iter()
            .map(|s| Item {
                lines: vec![s.clone()],
                may_split_clauses: true,
            })
            .collect();
        outs.extend(translate_items(runner, &items)?.into_iter().flatten());
    }
    Ok(outs)
}

/// Source lines to translate in one call: a chunk's sentences, one sentence, or a piece
/// of one.
struct Item {
    lines: Vec<String>,
    /// A single sentence that ran out of budget may be split at clauses (not a piece).
    may_split_clauses: bool,
}

/// What to do with an item's answer.
enum Next {
    Done(Vec<LineOut>),
    /// The item was split into `parts` items to translate instead: `join` puts their
    /// English into one line (clause pieces of one sentence) or keeps one line each
    /// (the sentences of a chunk).
    Split {
        parts: usize,
        join: bool,
    },
}

/// English for every item, one `LineOut` per source line. All items are asked in one
/// submission; the items that must be split are translated in the next round, together.
fn translate_items(runner: &mut Runner, items: &[Item]) -> Result<Vec<Vec<LineOut>>> {
    let template = &runner.card.prompts.translate;
    let calls: Vec<Call> = items
        .iter()
        .map(|it| {
            let source = it.lines.join("\n");
            let budget = runner.translation_budget(runner.count(&source));
            Call::new(template, &[("source", &source)], budget)
        })
        .collect();
    let answers = runner.generate(template, &calls)?;
    // The items of every split, in order, translated together.
    let mut again = Vec::new();
    let nexts: Vec<Next> = items
        .iter()
        .zip(answers)
        .map(|(it, g)| next(it, g, &mut again))
        .collect();
    runner.stats.retries += nexts
        .iter()
        .filter(|n| matches!(n, Next::Split { .. }))
        .count();
    let mut redone = if again.is_empty() {
        Vec::new()
    } else {
        translate_items(runner, &again)?
    }
    .into_iter();
    Ok(nexts
        .into_iter()
        .map(|n| match n {
            Next::Done(lines) => lines,
            Next::Split { parts, join: false } => (0..parts)
                .flat_map(|_| redone.next().unwrap_or_default())
                .collect(),
            Next::Split { parts, join: true } => {
                let mut joined = LineOut::default();
                for part in (0..parts).flat_map(|_| redone.next().unwrap_or_default()) {
                    if !joined.text.is_empty() {
                        joined.text.push(' ');
                    }
                    joined.text.push_str(&part.text);
                    joined.logprobs.extend(part.logprobs);
                }
                vec![joined]
            }
        })
        .collect())
}

/// Judge one answer: keep it, or split its item (the new items go to `again`).
fn next(item: &Item, out: Generation, again: &mut Vec<Item>) -> Next {
    let english = line_ranges(&out.text);
    if item.lines.len() == 1 {
        if out.finish == Finish::Length && item.may_split_clauses {
            let pieces = segment::split_clauses(&item.lines[0]);
            if pieces.len() > 1 {
                let parts = pieces.len();
                again.extend(pieces.into_iter().map(|p| Item {
                    lines: vec![p],
                    may_split_clauses: false,
                }));
                return Next::Split { parts, join: true };
            }
        }
        let text: Vec<&str> = english.iter().map(|r| out.text[r.clone()].trim()).collect();
        let mut text = text.join(" ");
        if out.finish == Finish::Repetition {
            text = cut_loop(&text, 3);
        }
        return Next::Done(vec![LineOut {
            text,
            logprobs: out.logprobs,
        }]);
    }
    let complete = matches!(out.finish, Finish::Eos | Finish::Stop);
    if complete && english.len() == item.lines.len() {
        return Next::Done(
            english
                .iter()
                .map(|r| LineOut {
                    text: out.text[r.clone()].trim().to_string(),
                    logprobs: out
                        .logprobs
                        .iter()
                        .zip(&out.offsets)
                        .filter(|(_, end)| **end > r.start && **end <= r.end + 1)
                        .map(|(lp, _)| *lp)
                        .collect(),
                })
                .collect(),
        );
    }
    // The answer does not line up with the source: translate sentence by sentence so
    // that no sentence is lost or merged into its neighbour.
    again.extend(item.lines.iter().map(|l| Item {
        lines: vec![l.clone()],
        may_split_clauses: true,
    }));
    Next::Split {
        parts: item.lines.len(),
        join: false,
    }
}

/// Byte ranges of the non-blank lines of `text`.
fn line_ranges(text: &str) -> Vec<std::ops::Range<usize>> {
    let mut ranges = Vec::new();
    let mut start = 0;
    for line in text.split('\n') {
        let end = start + line.len();
        if !line.trim().is_empty() {
            ranges.push(start..end);
        }
        start = end + 1;
    }
    ranges
}

/// Cut `text` where a run of `n` words first repeats, keeping what came before the loop.
fn cut_loop(text: &str, n: usize) -> String {
    let words: Vec<&str> = text.split_whitespace().collect();
    let lower: Vec<String> = words.iter().map(|w| w.to_lowercase()).collect();
    for i in n..=words.len().saturating_sub(n) {
        if (0..=i - n).any(|j| lower[j..j + n] == lower[i..i + n]) {
            return words[..i].join(" ");
        }
    }
    words.join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_loop_is_cut_where_it_starts_repeating() {
        assert_eq!(
            cut_loop(
                "The rain will continue the rain will continue the rain will continue",
                3
            ),
            "The rain will continue"
        );
        assert_eq!(
            cut_loop("No loop in this sentence at all.", 3),
            "No loop in this sentence at all."
        );
    }

    #[test]
    fn line_ranges_skip_blank_lines() {
        let t = "one\n\n two \nthree";
        let r = line_ranges(t);
        let lines: Vec<&str> = r.iter().map(|r| &t[r.clone()]).collect();
        assert_eq!(lines, ["one", " two ", "three"]);
    }
}
