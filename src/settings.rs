//! Every effective value a model runs with, resolved once: what the command line chose
//! (`config::Options`), else the card's default. Stages below read these, never a flag
//! or a card default directly; the card still supplies the prompts and the context.

use crate::card::{Candidate, ModelCard, SelectionWeights, SummaryMethod};
use crate::config::{Options, Precision, Quality, Sampling, SummaryLength};
use serde::Serialize;

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Settings {
    /// Cap on new tokens per model call.
    pub max_new_tokens: usize,
    /// Output budget per translation chunk: this times its source tokens, plus 8.
    pub output_ratio: f32,
    /// Generation stops when the output contains one of these.
    pub stop: Vec<String>,
    /// The repetition guard: an n-gram of `repeat_ngram` tokens seen `repeat_limit`
    /// times is a loop; a looping chunk is retried with `retry_repetition_penalty`.
    pub repeat_ngram: usize,
    pub repeat_limit: usize,
    pub retry_repetition_penalty: f32,
    /// Answers may write only the numbers of their source (no invented number).
    pub constrain_numbers: bool,
    pub sampling: Sampling,
    /// Beam width (1 = greedy).
    pub beams: usize,
    /// Chunks decoded together.
    pub batch_size: usize,
    /// Marian models: how their products run.
    pub precision: Precision,
    /// Tokens of context used: prompts, chunk and answer must fit.
    pub context_tokens: usize,
    /// The quality mode, the candidates it decodes per chunk (those the card has the
    /// prompts for), how sampled and beam candidates decode, and how one is chosen.
    pub quality: Quality,
    pub candidates: Vec<Candidate>,
    pub candidate_sampling: Sampling,
    pub candidate_beams: usize,
    /// λ of contrastive candidates.
    pub contrast: f32,
    pub weights: SelectionWeights,
    /// Score candidates by forced decoding of the Hindi given each (`best`).
    pub channel: bool,
    /// Most sentences per translation chunk, and the token budget of its source.
    pub max_sentences: usize,
    pub max_source_tokens: usize,
    pub summary_method: SummaryMethod,
    pub summary_length: SummaryLength,
    /// Target length of a summary in words (the card's, for `summary_length`).
    pub summary_words: usize,
    pub bullets: bool,
    /// Long articles are summarized from notes on spans of this many source tokens.
    pub notes_chunk_tokens: usize,
    /// Flag this tool's own sentences whose mean token log-probability is below this.
    pub low_confidence: f32,
    /// The same for a translation made elsewhere and scored by forced decoding (a model
    /// finds another writer's words less likely than its own).
    pub low_confidence_scored: f32,
}

impl Settings {
    pub fn resolve(card: &ModelCard, o: &Options) -> Settings {
        let g = &card.generation;
        let summary_length = o.summary_length.unwrap_or(SummaryLength::Medium);
        let q = &card.quality;
        let quality = o.quality.unwrap_or(q.default);
        let hints = card.prompts.translate_hints.is_some();
        // Candidates the card has no prompt for are left out; one always remains.
        let mut candidates: Vec<Candidate> = match quality {
            Quality::Fast => &q.fast,
            Quality::Balanced => &q.balanced,
            Quality::Best => &q.best,
        }
        .iter()
        .copied()
        .filter(|c| hints || !matches!(c, Candidate::Hints | Candidate::HintsSample))
        .filter(|c| card.architecture == "gemma3" || *c != Candidate::Contrast)
        .collect();
        if candidates.is_empty() {
            candidates.push(Candidate::Greedy);
        }
        Settings {
            max_new_tokens: o.max_new_tokens.unwrap_or(g.max_new_tokens),
            output_ratio: g.output_ratio,
            stop: g.stop.clone(),
            repeat_ngram: g.repeat_ngram,
            repeat_limit: g.repeat_limit,
            retry_repetition_penalty: g.retry_repetition_penalty,
            constrain_numbers: g.constrain_numbers,
            sampling: o.sampling,
            beams: o.beams.unwrap_or(g.beams).max(1),
            batch_size: o.batch_size.unwrap_or(card.chunk.batch).max(1),
            precision: o.precision.unwrap_or(card.precision),
            context_tokens: card.context.use_tokens,
            quality,
            candidates,
            candidate_sampling: Sampling {
                temperature: q.temperature,
                top_p: None,
                epsilon: Some(q.epsilon),
                seed: o.sampling.seed,
            },
            candidate_beams: q.beams.max(2),
            contrast: q.contrast,
            weights: q.weights,
            channel: quality == Quality::Best && q.best_channel && card.prompts.channel.is_some(),
            max_sentences: card.chunk.max_sentences,
            max_source_tokens: card.chunk.max_source_tokens,
            summary_method: card.summary.method,
            summary_length,
            summary_words: summary_words(card, summary_length),
            bullets: o.bullets,
            notes_chunk_tokens: card.summary.notes_chunk_tokens,
            low_confidence: o.low_confidence.unwrap_or(card.review.min_mean_logprob),
            low_confidence_scored: o
                .low_confidence
                .unwrap_or(card.review.min_mean_logprob_scored),
        }
    }
}

/// The card's target summary length in words for `length`.
pub fn summary_words(card: &ModelCard, length: SummaryLength) -> usize {
    match length {
        SummaryLength::Short => card.summary.short_words,
        SummaryLength::Medium => card.summary.medium_words,
        SummaryLength::Long => card.summary.long_words,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_choice_overrides_the_card_and_everything_else_is_the_cards() {
        let cards = crate::card::load_all(None).unwrap();
        let card = cards.iter().find(|c| c.default).unwrap();
        let plain = Settings::resolve(card, &Options::default());
        assert_eq!(plain.max_new_tokens, card.generation.max_new_tokens);
        assert_eq!(plain.batch_size, card.chunk.batch);
        assert_eq!(plain.summary_words, card.summary.medium_words);
        assert_eq!(plain.low_confidence, card.review.min_mean_logprob);
        assert_eq!(
            plain.low_confidence_scored,
            card.review.min_mean_logprob_scored
        );
        let chosen = Settings::resolve(
            card,
            &Options {
                max_new_tokens: Some(7),
                batch_size: Some(1),
                low_confidence: Some(-9.0),
                summary_length: Some(SummaryLength::Short),
                ..Options::default()
            },
        );
        assert_eq!(chosen.max_new_tokens, 7);
        assert_eq!(chosen.batch_size, 1);
        assert_eq!(chosen.summary_words, card.summary.short_words);
        // One threshold given on the command line serves both kinds of review.
        assert_eq!(
            (chosen.low_confidence, chosen.low_confidence_scored),
            (-9.0, -9.0)
        );
    }
}
