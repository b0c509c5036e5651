//! The translation stage: chunk the document, translate each chunk through the
//! engine, and recover rather than emit junk or drop a sentence:
//! - a repetition loop is retried with a repetition penalty (in `Generator::run`), and
//!   what still loops is cut where the loop starts;
//! - a chunk whose answer does not have one English line per Hindi line is split and
//!   its sentences translated one by one;
//! - a sentence whose answer ran out of budget is split at clause boundaries and the
//!   pieces translated one by one.

use crate::assemble::{LineOut, Translation, assemble};
use crate::chunk;
use crate::engine::Finish;
use crate::error::Result;
use crate::generate::Generator;
use crate::progress::Event;
use crate::segment::{self, Document};

pub fn translate(generator: &mut Generator, doc: &Document) -> Result<Translation> {
    let card = generator.card;
    let budget = generator.source_budget(
        &card.prompts.translate,
        card.generation.output_ratio,
        card.chunk.max_source_tokens,
    )?;
    let chunks = chunk::plan(doc, card.chunk.max_sentences, budget, &|s| {
        generator.count(s)
    });
    generator.stats.chunks = chunks.len();
    generator.progress.event(&Event::Begin {
        task: "translate",
        total: chunks.len(),
    });
    let mut outs = Vec::with_capacity(chunks.len());
    // Chunks are handed to the engine a few batches' worth at a time: enough for it to
    // keep every slot busy, few enough that progress moves along.
    let group_size = generator.batch_size() * 4;
    for group in chunks.chunks(group_size) {
        let sources: Vec<String> = group
            .iter()
            .map(|c| c.text.lines().collect::<Vec<_>>().join("\n"))
            .collect();
        prefetch(generator, &sources)?;
        for c in group {
            let lines: Vec<&str> = c.text.lines().collect();
            outs.push(translate_lines(generator, &lines, true)?);
            generator.chunk_done(outs.len(), chunks.len());
        }
    }
    Ok(assemble(doc, &chunks, &outs))
}

/// English for sentences outside a document (the extractive summary).
pub fn translate_sentences(generator: &mut Generator, sentences: &[&str]) -> Result<Vec<LineOut>> {
    let mut outs = Vec::with_capacity(sentences.len());
    for group in sentences.chunks(generator.batch_size() * 4) {
        let sources: Vec<String> = group.iter().map(|s| s.to_string()).collect();
        prefetch(generator, &sources)?;
        for s in group {
            outs.extend(translate_lines(generator, &[s], true)?);
        }
    }
    Ok(outs)
}

/// Translate `sources` together ahead of `translate_lines`, which asks for exactly these
/// calls (same prompt, same budget) as its first attempt and finds them ready.
fn prefetch(generator: &mut Generator, sources: &[String]) -> Result<()> {
    let template = &generator.card.prompts.translate;
    let calls: Vec<(Vec<(&str, &str)>, usize)> = sources
        .iter()
        .map(|s| {
            let budget = generator.translation_budget(generator.count(s));
            (vec![("source", s.as_str())], budget)
        })
        .collect();
    generator.prefetch(template, &calls)
}

/// English for `lines` (one sentence or piece each), one `LineOut` per line.
fn translate_lines(
    generator: &mut Generator,
    lines: &[&str],
    may_split_clauses: bool,
) -> Result<Vec<LineOut>> {
    let source = lines.join("\n");
    let tokens = generator.count(&source);
    let template = &generator.card.prompts.translate;
    let budget = generator.translation_budget(tokens);
    let out = generator.run(template, &[("source", &source)], budget, 1.0)?;
    let english = line_ranges(&out.text);

    if lines.len() == 1 {
        if out.finish == Finish::Length && may_split_clauses {
            let pieces = segment::split_clauses(lines[0]);
            if pieces.len() > 1 {
                generator.stats.retries += 1;
                let mut joined = LineOut::default();
                for piece in &pieces {
                    for part in translate_lines(generator, &[piece.as_str()], false)? {
                        if !joined.text.is_empty() {
                            joined.text.push(' ');
                        }
                        joined.text.push_str(&part.text);
                        joined.logprobs.extend(part.logprobs);
                    }
                }
                return Ok(vec![joined]);
            }
        }
        let text: Vec<&str> = english.iter().map(|r| out.text[r.clone()].trim()).collect();
        let mut text = text.join(" ");
        if out.finish == Finish::Repetition {
            text = cut_loop(&text, 3);
        }
        return Ok(vec![LineOut {
            text,
            logprobs: out.logprobs,
        }]);
    }

    let complete = matches!(out.finish, Finish::Eos | Finish::Stop);
    if complete && english.len() == lines.len() {
        return Ok(english
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
            .collect());
    }
    // The answer does not line up with the source: translate sentence by sentence so
    // that no sentence is lost or merged into its neighbour.
    generator.stats.retries += 1;
    let mut outs = Vec::with_capacity(lines.len());
    for line in lines {
        outs.extend(translate_lines(generator, &[line], true)?);
    }
    Ok(outs)
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
