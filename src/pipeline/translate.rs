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
use super::select;
use crate::card::{Candidate, Template};
use crate::config::Sampling;
use crate::engine::{Finish, Generation};
use crate::error::Result;
use crate::record::Paragraph;
use crate::text::assemble::{LineOut, assemble};
use crate::text::chunk;
use crate::text::segment::{self, Document};

pub fn translate(runner: &mut Runner, doc: &Document) -> Result<Vec<Paragraph>> {
    Ok(translate_many(runner, &[doc])?.pop().unwrap_or_default())
}

/// Several documents in one pass (the server's requests that wait together): each is
/// chunked exactly as it would be alone, and all their chunks go to the engine
/// together, so the engine's batch slots fill across documents; the English is split
/// back and assembled per document.
pub fn translate_many(runner: &mut Runner, docs: &[&Document]) -> Result<Vec<Vec<Paragraph>>> {
    let s = runner.settings;
    let budget = runner.source_budget(
        &runner.card.prompts.translate,
        s.output_ratio,
        s.max_source_tokens,
    )?;
    let plans: Vec<_> = docs
        .iter()
        .map(|doc| chunk::plan(doc, s.max_sentences, budget, &|t| runner.count(t)))
        .collect();
    let items: Vec<Item> = plans
        .iter()
        .flatten()
        .map(|c| Item {
            lines: c.text.lines().map(str::to_string).collect(),
            may_split_clauses: true,
        })
        .collect();
    let total = items.len();
    let source_tokens = plans.iter().flatten().map(|c| c.tokens).sum();
    let expected = runner.expected_translation(source_tokens);
    runner.begin("translate", total, expected);
    let mut outs = Vec::with_capacity(total);
    // Chunks go to the engine a few batches' worth at a time: enough for it to keep
    // every slot busy, few enough that progress moves along.
    for group in items.chunks(s.batch_size * 4) {
        for lines in translate_items(runner, group)? {
            outs.push(lines);
            runner.chunk_done(outs.len(), total);
        }
    }
    let mut outs = outs.into_iter();
    Ok(docs
        .iter()
        .zip(&plans)
        .map(|(doc, chunks)| {
            let mine: Vec<_> = outs.by_ref().take(chunks.len()).collect();
            assemble(doc, chunks, &mine)
        })
        .collect())
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
    let answers = answer(runner, items)?;
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

/// One answer per item. With one greedy candidate (`fast`) that is the greedy answer;
/// otherwise every candidate of the quality mode is decoded and the best kept
/// (`select`).
fn answer(runner: &mut Runner, items: &[Item]) -> Result<Vec<Generation>> {
    let s = runner.settings;
    let card = runner.card;
    let sources: Vec<String> = items.iter().map(|it| it.lines.join("\n")).collect();
    let plain = &card.prompts.translate;
    let call = |runner: &Runner, template: &Template, source: &str| {
        let budget = runner.translation_budget(runner.count(source));
        let hints = if template.body.contains("{hints}") {
            runner.hints(source)
        } else {
            String::new()
        };
        Call::new(template, &[("source", source), ("hints", &hints)], budget)
            .numbers(runner.number_plan(source))
    };
    if s.candidates == [Candidate::Greedy] && !s.channel {
        let calls: Vec<Call> = sources.iter().map(|x| call(runner, plain, x)).collect();
        return runner.generate(plain, &calls);
    }
    // found[i][j]: item i's candidate j. Candidates that share a prompt and a search go
    // to the engine together: it keeps one prompt prefix cached at a time.
    let mut found: Vec<Vec<Option<Generation>>> = vec![vec![None; s.candidates.len()]; items.len()];
    for (hints, search) in [
        (false, Search::Plain),
        (false, Search::Beam),
        (false, Search::Contrast),
        (true, Search::Plain),
    ] {
        let template = if hints {
            match &card.prompts.translate_hints {
                Some(t) => t,
                None => continue,
            }
        } else {
            plain
        };
        let mut at = Vec::new();
        let mut calls = Vec::new();
        for (j, kind) in s.candidates.iter().enumerate() {
            let (h, k, sampled) = match kind {
                Candidate::Greedy => (false, Search::Plain, false),
                Candidate::Sample => (false, Search::Plain, true),
                Candidate::Beam => (false, Search::Beam, false),
                Candidate::Contrast => (false, Search::Contrast, false),
                Candidate::Hints => (true, Search::Plain, false),
                Candidate::HintsSample => (true, Search::Plain, true),
            };
            if (h, k) != (hints, search) {
                continue;
            }
            for (i, source) in sources.iter().enumerate() {
                let mut c = call(runner, template, source);
                if sampled {
                    c = c.sampling(Sampling {
                        seed: seed(source, j, s.candidate_sampling.seed),
                        ..s.candidate_sampling
                    });
                }
                if k == Search::Contrast {
                    // The contrast: the same prompt with no source to translate.
                    let empty = template.render(&[("source", ""), ("hints", "")]);
                    c = c.contrast(empty, s.contrast);
                }
                at.push((i, j));
                calls.push(c);
            }
        }
        if calls.is_empty() {
            continue;
        }
        let width = if search == Search::Beam {
            s.candidate_beams
        } else {
            1
        };
        for ((i, j), g) in at
            .into_iter()
            .zip(runner.generate_beams(template, &calls, width)?)
        {
            found[i][j] = Some(g);
        }
    }
    let found: Vec<Vec<Generation>> = found
        .into_iter()
        .map(|c| c.into_iter().flatten().collect())
        .collect();
    let mut out = Vec::with_capacity(items.len());
    for (source, candidates) in sources.iter().zip(found) {
        let channel = match (&card.prompts.channel, s.channel) {
            (Some(t), true) => Some(channel_scores(runner, t, source, &candidates)?),
            _ => None,
        };
        let scores = select::score(
            source,
            &candidates,
            channel.as_deref(),
            &s.weights,
            runner.terms,
        );
        if let Some(path) = std::env::var_os("ANUVAD_DUMP_CANDIDATES") {
            dump(&path, source, &s.candidates, &candidates, &scores);
        }
        let best = select::best(&scores);
        out.push(
            candidates
                .into_iter()
                .nth(best)
                .expect("one candidate per kind"),
        );
    }
    Ok(out)
}

/// For tuning the selection weights (`scripts/tune-selection.py`): append each chunk's
/// candidates and their score parts to a JSON-lines file. Best effort: a developer's
/// tool, so a failure to write is ignored.
fn dump(
    path: &std::ffi::OsStr,
    hindi: &str,
    kinds: &[Candidate],
    candidates: &[Generation],
    scores: &[select::Score],
) {
    use std::io::Write;
    let line = serde_json::json!({
        "hindi": hindi,
        "candidates": kinds.iter().zip(candidates).zip(scores).map(|((k, c), sc)| serde_json::json!({
            "kind": k,
            "text": c.text.trim(),
            "finish": c.finish,
            "facts": sc.facts,
            "logprob": sc.logprob,
            "agreement": sc.agreement,
            "channel": sc.channel,
        })).collect::<Vec<_>>(),
    });
    if let Ok(mut f) = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
    {
        let _ = writeln!(f, "{line}");
    }
}

/// How a candidate is searched for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Search {
    /// Greedy or sampled.
    Plain,
    Beam,
    Contrast,
}

/// How well each candidate explains the Hindi: the mean log-probability of `hindi`
/// after `template` (English → Hindi) is given the candidate. Equal texts are scored once.
fn channel_scores(
    runner: &mut Runner,
    template: &Template,
    hindi: &str,
    candidates: &[Generation],
) -> Result<Vec<f64>> {
    let mut known: Vec<(&str, f64)> = Vec::new();
    let mut out = Vec::with_capacity(candidates.len());
    for c in candidates {
        let english = c.text.trim();
        if let Some(&(_, v)) = known.iter().find(|(t, _)| *t == english) {
            out.push(v);
            continue;
        }
        let v = if english.is_empty() {
            -10.0
        } else {
            let body = template.render(&[("english", english)]);
            let sep = if body.ends_with(char::is_whitespace) {
                ""
            } else {
                " "
            };
            let lp = runner.score(template, &body, &format!("{sep}{}", hindi.trim()))?;
            lp.iter().map(|&l| l as f64).sum::<f64>() / lp.len().max(1) as f64
        };
        known.push((english, v));
        out.push(v);
    }
    Ok(out)
}

/// The seed of sampled candidate `j` of `source`: its own draw, the same on every run.
fn seed(source: &str, j: usize, base: u64) -> u64 {
    // FNV-1a: stable across runs and platforms (std's hasher is not promised to be).
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in source.bytes().chain((j as u64).to_le_bytes()) {
        h ^= b as u64;
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    h ^ base
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
