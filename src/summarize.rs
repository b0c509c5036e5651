//! The summary stage. An article that fits one prompt is summarized directly; a longer
//! one is map-reduced (notes per span of the article, then one summary of the notes,
//! reducing the notes in rounds if they are themselves too long), so nothing past the
//! context window is ignored.

use crate::card::SummaryMethod;
use crate::chunk;
use crate::config::SummaryLength;
use crate::engine::Finish;
use crate::error::{Error, Result};
use crate::generate::Generator;
use crate::progress::Event;
use crate::segment::{self, Document, ParagraphKind};
use serde::Serialize;
use std::collections::{HashMap, HashSet};

#[derive(Debug, Clone, Serialize)]
pub struct Summary {
    pub summary: String,
    /// The summary's sentences, for `--bullets`.
    pub bullets: Vec<String>,
    /// Map-step notes (empty when the article fitted one prompt).
    pub notes: Vec<String>,
    pub target_words: usize,
}

const MAX_REDUCE_ROUNDS: usize = 4;

pub fn summarize(
    generator: &mut Generator,
    doc: &Document,
    length: SummaryLength,
) -> Result<Summary> {
    let card = generator.card;
    let words = card.summary_words(length);
    if card.summary.method == SummaryMethod::Extractive {
        return extractive(generator, doc, words);
    }
    let words_s = words.to_string();
    // A summary of N words takes about 1.5 N tokens; leave room for 2 N.
    let summary_budget = (words * 2 + 32).min(generator.max_new_tokens().max(words * 2 + 32));
    let direct_cap = generator
        .source_budget(&card.prompts.summarize, 0.0, usize::MAX)?
        .saturating_sub(summary_budget);
    let whole: String = doc
        .paragraphs
        .iter()
        .map(|p| p.text.as_str())
        .collect::<Vec<_>>()
        .join("\n");
    let whole_tokens = generator.count(&whole);

    if whole_tokens <= direct_cap.min(card.summary.notes_chunk_tokens * 2) {
        generator.stats.chunks = 1;
        generator.progress.event(&Event::Begin {
            task: "summarize",
            total: 1,
        });
        let out = generator.run(
            &card.prompts.summarize,
            &[("source", &whole), ("words", &words_s)],
            summary_budget,
            1.0,
        )?;
        let summary = tidy(&out.text, out.finish);
        generator.chunk_done(1, 1);
        return Ok(finish(summary, Vec::new(), words));
    }

    // Map: notes on each span of the article.
    let notes_cap =
        generator.source_budget(&card.prompts.notes, 0.5, card.summary.notes_chunk_tokens)?;
    let spans = chunk::plan_spans(doc, notes_cap, &|s| generator.count(s));
    let total = spans.len() + 1;
    generator.stats.chunks = total;
    generator.progress.event(&Event::Begin {
        task: "summarize",
        total,
    });
    let mut notes = Vec::with_capacity(spans.len());
    for (i, span) in spans.iter().enumerate() {
        let budget = (generator.count(span) / 2 + 48).min(generator.max_new_tokens());
        let out = generator.run(&card.prompts.notes, &[("source", span)], budget, 1.0)?;
        let note = tidy(&out.text, out.finish);
        if !note.is_empty() {
            notes.push(note);
        }
        generator.chunk_done(i + 1, total);
    }

    // Reduce: one summary of the notes; if the notes are too long for one prompt, reduce
    // groups of them first.
    let reduce_cap = generator
        .source_budget(&card.prompts.reduce, 0.0, usize::MAX)?
        .saturating_sub(summary_budget)
        .max(64);
    let mut layer = notes.clone();
    for _ in 0..MAX_REDUCE_ROUNDS {
        let joined = layer.join("\n");
        if generator.count(&joined) <= reduce_cap || layer.len() <= 1 {
            let out = generator.run(
                &card.prompts.reduce,
                &[("notes", &joined), ("words", &words_s)],
                summary_budget,
                1.0,
            )?;
            generator.chunk_done(total, total);
            return Ok(finish(tidy(&out.text, out.finish), notes, words));
        }
        let mut next = Vec::new();
        let mut group = String::new();
        for note in &layer {
            if !group.is_empty() && generator.count(&group) + generator.count(note) > reduce_cap {
                next.push(reduce_group(generator, &group, &words_s, summary_budget)?);
                group.clear();
            }
            group.push_str(note);
            group.push('\n');
        }
        if !group.is_empty() {
            next.push(reduce_group(generator, &group, &words_s, summary_budget)?);
        }
        layer = next;
    }
    Err(Error::Invalid(format!(
        "the article's notes did not shrink to one prompt in {MAX_REDUCE_ROUNDS} rounds; use a model card with a larger context"
    )))
}

/// Extractive summary: score every body sentence of the whole article (lead position,
/// words shared with the rest of the article, numbers), take the best until the target
/// length is reached, skipping near-duplicates, and translate them in article order.
fn extractive(generator: &mut Generator, doc: &Document, target_words: usize) -> Result<Summary> {
    let picked = select_sentences(doc, target_words);
    generator.stats.chunks = picked.len();
    generator.progress.event(&Event::Begin {
        task: "summarize",
        total: picked.len(),
    });
    let mut english = Vec::with_capacity(picked.len());
    for (i, s) in picked.iter().enumerate() {
        let out = crate::translate::translate_sentences(generator, &[s.as_str()])?;
        english.extend(out.into_iter().map(|l| l.text).filter(|t| !t.is_empty()));
        generator.chunk_done(i + 1, picked.len());
    }
    Ok(finish(english.join(" "), picked, target_words))
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

/// The sentences of an extractive summary of about `target_words` words, in article order.
pub fn select_sentences(doc: &Document, target_words: usize) -> Vec<String> {
    // Body sentences of five words or more (datelines, headings, captions and credits
    // are not summary material).
    let candidates: Vec<&String> = doc
        .paragraphs
        .iter()
        .filter(|p| p.kind == ParagraphKind::Body)
        .flat_map(|p| p.sentences.iter())
        .filter(|s| s.split_whitespace().count() >= 5)
        .collect();
    if candidates.is_empty() {
        return Vec::new();
    }
    let words: Vec<HashSet<String>> = candidates.iter().map(|s| content_words(s)).collect();
    let mut df: HashMap<&str, usize> = HashMap::new();
    for w in &words {
        for t in w {
            *df.entry(t.as_str()).or_default() += 1;
        }
    }
    let n = candidates.len() as f64;
    let score = |i: usize| -> f64 {
        // News puts the essentials first (the inverted pyramid).
        let position = 1.0 / (1.0 + 0.35 * i as f64);
        let shared: f64 = words[i]
            .iter()
            .map(|t| (df[t.as_str()] - 1) as f64)
            .sum::<f64>()
            / (n * (words[i].len() as f64).sqrt().max(1.0));
        let numbers = if candidates[i].chars().any(|c| c.is_numeric()) {
            0.15
        } else {
            0.0
        };
        position + shared + numbers
    };
    let mut order: Vec<usize> = (0..candidates.len()).collect();
    let scores: Vec<f64> = order.iter().map(|&i| score(i)).collect();
    order.sort_by(|&a, &b| scores[b].total_cmp(&scores[a]).then(a.cmp(&b)));

    let mut chosen: Vec<usize> = Vec::new();
    let mut total = 0;
    for i in order {
        if total >= target_words {
            break;
        }
        let duplicate = chosen.iter().any(|&j| {
            let common = words[i].intersection(&words[j]).count() as f64;
            let union = words[i].union(&words[j]).count().max(1) as f64;
            common / union > 0.6
        });
        if duplicate {
            continue;
        }
        total += candidates[i].split_whitespace().count();
        chosen.push(i);
    }
    chosen.sort_unstable();
    chosen.into_iter().map(|i| candidates[i].clone()).collect()
}

fn reduce_group(
    generator: &mut Generator,
    notes: &str,
    words: &str,
    budget: usize,
) -> Result<String> {
    let out = generator.run(
        &generator.card.prompts.reduce,
        &[("notes", notes), ("words", words)],
        budget,
        1.0,
    )?;
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

fn finish(summary: String, notes: Vec<String>, target_words: usize) -> Summary {
    let bullets = segment::split_sentences(&summary)
        .into_iter()
        .map(|s| s.trim_start_matches(['-', '*', '•', ' ']).to_string())
        .filter(|s| !s.is_empty())
        .collect();
    Summary {
        summary,
        bullets,
        notes,
        target_words,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_summary_cut_by_the_budget_loses_its_unfinished_sentence() {
        assert_eq!(tidy(" One. Two is cut", Finish::Length), "One.");
        assert_eq!(
            tidy(" One. Two is whole", Finish::Stop),
            "One. Two is whole"
        );
    }
}
