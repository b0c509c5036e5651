//! Choosing tokens, written once for every engine: greedy decoding (or seeded
//! sampling) with continuous batching, and beam search. Each engine only implements
//! `Rows` for its model: start rows from prompts, step every row by one token, and keep,
//! reorder or duplicate rows. The rules of a request (`Rules`) are applied here, the
//! same for every model: tokens a model never writes, the Devanagari mask, no blank
//! line before the answer has content, the repetition penalty, forced tokens, end
//! tokens, stop strings, the repetition guard and the token budget.

use super::sampling::{Rng, apply_repetition_penalty, is_looping, log_sum_exp, pick};
use super::{Finish, Generation};
use crate::config::Sampling;
use crate::error::{Error, Result};
use crate::facts::numbers::{Mask, NumberPlan, numeric_tail};
use std::sync::Arc;
use std::time::Instant;

/// What one request may produce, and when it stops.
#[derive(Debug, Clone, PartialEq)]
pub struct Rules {
    /// Most tokens of output (an end token is not counted).
    pub max_new_tokens: usize,
    pub sampling: Sampling,
    /// 1.0 = off. Used when a chunk is retried after a repetition loop.
    pub repetition_penalty: f32,
    /// The repetition guard: stop when the last `repeat_ngram` tokens have occurred
    /// `repeat_limit` times (0 = off).
    pub repeat_ngram: usize,
    pub repeat_limit: usize,
    /// Forbid tokens that would put Devanagari (or another script of U+0800–U+0FFF)
    /// into the output: an English answer cannot copy Hindi through.
    pub english_only: bool,
    /// Stop when the text contains one of these; the text is cut before it.
    pub stop: Vec<String>,
    /// The answer's first tokens, given: each is taken whatever the model prefers, with
    /// the model's log-probability for it (forced decoding; greedy only).
    pub forced: Vec<u32>,
    /// The numbers the answer may write (those of its source): a token that would start
    /// or finish any other number is masked. None: any number.
    pub numbers: Option<Arc<NumberPlan>>,
    /// Source-contrastive decoding: this request is followed by its contrast (the same
    /// prompt about no source), and its tokens are chosen by log p(y|x) − λ·log p(y|x′)
    /// with this λ (greedy only; needs a model that decodes rows together).
    pub contrast: Option<f32>,
}

impl Rules {
    /// At most `max_new_tokens`, greedy, no penalty, guard or mask.
    pub fn new(max_new_tokens: usize) -> Rules {
        Rules {
            max_new_tokens,
            sampling: Sampling::default(),
            repetition_penalty: 1.0,
            repeat_ngram: 0,
            repeat_limit: 0,
            english_only: false,
            stop: Vec::new(),
            forced: Vec::new(),
            numbers: None,
            contrast: None,
        }
    }
}

/// What search needs to know of a model's vocabulary.
pub struct Vocab<'a> {
    /// Tokens that end an answer and are not part of it (EOS, end of turn).
    pub end: &'a [u32],
    /// Tokens the model must never write (Marian's `<pad>`, its decoder start token).
    pub never: &'a [u32],
    /// Tokens that would write Devanagari: forbidden for `english_only` requests.
    pub non_english: &'a [u32],
    /// Tokens of nothing but whitespace around a newline: forbidden until the answer
    /// has content, so a model that opens with a newline cannot end on an empty answer.
    pub blank_lines: &'a [u32],
    /// The text of every token a number plan judges: those that write a digit, those of
    /// nothing but `,` `.` `:` (which may continue a number), and scale words (`lakh`).
    pub number_tokens: &'a [(u32, String)],
    pub decode: &'a dyn Fn(&[u32]) -> Result<String>,
}

/// Decoding rows of one model. A row is one sequence being generated; rows are
/// addressed by their position in the current order.
pub trait Rows {
    /// Start one row per request (appended after the current rows, in order) and
    /// return each new row's next-token logits.
    fn start(&mut self, requests: &[usize]) -> Result<Vec<Vec<f32>>>;
    /// Feed one token to every row, in row order; the next-token logits of each.
    fn step(&mut self, tokens: &[u32]) -> Result<Vec<Vec<f32>>>;
    /// Keep these rows, in this order (an index may repeat: beams); drop the rest.
    fn keep(&mut self, rows: &[usize]) -> Result<()>;
    /// Whether rows may start while others are decoding (continuous batching).
    fn continuous(&self) -> bool;
    /// How many rows can be decoded together.
    fn capacity(&self) -> usize;
}

/// Greedy or beam search over `rows`, one result per rule set, in order: at most
/// `width` sequences decode together (beam search: `width` requests of `beams` rows).
pub fn run(
    rows: &mut dyn Rows,
    rules: &[Rules],
    vocab: &Vocab,
    width: usize,
    beams: usize,
    on_token: &mut dyn FnMut() -> Result<()>,
) -> Result<Vec<Generation>> {
    if rules.iter().any(|r| r.contrast.is_some()) {
        return contrastive(rows, rules, vocab, width, on_token);
    }
    if beams > 1 {
        let mut out = Vec::with_capacity(rules.len());
        let group = width.max(1);
        for start in (0..rules.len()).step_by(group) {
            let end = (start + group).min(rules.len());
            out.extend(beam(rows, start..end, rules, vocab, beams, on_token)?);
        }
        Ok(out)
    } else {
        greedy(rows, rules, vocab, width, on_token)
    }
}

fn empty_generation() -> Generation {
    Generation {
        text: String::new(),
        finish: Finish::Length,
        tokens: Vec::new(),
        prompt_tokens: 0,
        cached_tokens: 0,
        output_tokens: 0,
        logprobs: Vec::new(),
        offsets: Vec::new(),
        prefill_seconds: 0.0,
        decode_seconds: 0.0,
    }
}

/// One request being decoded greedily (or sampled): its rules, its generator and what
/// it has produced so far.
struct Sequence<'r> {
    rules: &'r Rules,
    rng: Rng,
    out: Generation,
}

impl<'r> Sequence<'r> {
    fn new(rules: &'r Rules) -> Self {
        Sequence {
            rules,
            rng: Rng::new(rules.sampling.seed),
            out: empty_generation(),
        }
    }

    /// The rules on next-token logits, before they are normalised.
    fn prepare(&self, logits: &mut [f32], vocab: &Vocab) {
        apply_repetition_penalty(logits, &self.out.tokens, self.rules.repetition_penalty, 0.0);
        mask(logits, self.rules, vocab, &self.out.text);
    }

    /// Take the next token from prepared `logits` (`lse` their log-sum-exp): the token
    /// to feed back, or None when the sequence is finished.
    fn accept(
        &mut self,
        logits: &[f32],
        lse: f64,
        vocab: &Vocab,
        on_token: &mut dyn FnMut() -> Result<()>,
    ) -> Result<Option<u32>> {
        let (rules, out) = (self.rules, &mut self.out);
        if out.tokens.len() >= rules.max_new_tokens {
            return Ok(None);
        }
        let (tok, lp) = match rules.forced.get(out.tokens.len()) {
            Some(&t) => (t, logprob(logits, t, lse)),
            None => pick(logits, lse, &rules.sampling, &mut self.rng),
        };
        self.take(tok, lp, vocab, on_token)
    }

    /// Add the chosen token `tok` (log-probability `lp`) to the answer; the token to
    /// feed back, or None when the sequence is finished.
    fn take(
        &mut self,
        tok: u32,
        lp: f32,
        vocab: &Vocab,
        on_token: &mut dyn FnMut() -> Result<()>,
    ) -> Result<Option<u32>> {
        let (rules, out) = (self.rules, &mut self.out);
        if vocab.end.contains(&tok) {
            out.finish = Finish::Eos;
            return Ok(None);
        }
        out.tokens.push(tok);
        out.output_tokens = out.tokens.len();
        out.logprobs.push(lp);
        on_token()?;
        out.text = (vocab.decode)(&out.tokens)?;
        out.offsets.push(out.text.len());
        if let Some(cut) = first_stop(&out.text, &rules.stop) {
            out.text.truncate(cut);
            out.finish = Finish::Stop;
            return Ok(None);
        }
        if is_looping(&out.tokens, rules.repeat_ngram, rules.repeat_limit) {
            out.finish = Finish::Repetition;
            return Ok(None);
        }
        if out.tokens.len() == rules.max_new_tokens {
            return Ok(None);
        }
        Ok(Some(tok))
    }
}

/// The masks of `rules` on one row of scores, for an answer that reads `text` so far:
/// tokens never written, Devanagari for English-only requests, blank lines while the
/// answer is still empty, and numbers outside the request's plan.
fn mask(scores: &mut [f32], rules: &Rules, vocab: &Vocab, text: &str) {
    forbid(scores, vocab.never);
    if rules.english_only {
        forbid(scores, vocab.non_english);
    }
    if text.trim().is_empty() {
        forbid(scores, vocab.blank_lines);
    }
    if let Some(plan) = &rules.numbers {
        mask_numbers(scores, plan, vocab, text);
    }
}

/// Keep the answer's numbers inside `plan` (see `NumberPlan::mask`).
fn mask_numbers(scores: &mut [f32], plan: &NumberPlan, vocab: &Vocab, text: &str) {
    match plan
        .mask(numeric_tail(text), vocab.number_tokens)
        .as_deref()
    {
        Some(Mask::Ban(ids)) => forbid(scores, ids),
        Some(Mask::Only(ids)) => {
            let keep: Vec<(usize, f32)> = ids
                .iter()
                .filter_map(|&id| scores.get(id as usize).map(|&l| (id as usize, l)))
                .filter(|(_, l)| l.is_finite())
                .collect();
            // A number no token can finish is left to the model rather than a dead end.
            if !keep.is_empty() {
                scores.fill(f32::NEG_INFINITY);
                for (id, l) in keep {
                    scores[id] = l;
                }
            }
        }
        None => {}
    }
}

fn forbid(scores: &mut [f32], ids: &[u32]) {
    for &id in ids {
        if let Some(l) = scores.get_mut(id as usize) {
            *l = f32::NEG_INFINITY;
        }
    }
}

fn logprob(logits: &[f32], token: u32, lse: f64) -> f32 {
    logits
        .get(token as usize)
        .map_or(f32::NEG_INFINITY, |&l| (l as f64 - lse) as f32)
}

fn first_stop(text: &str, stop: &[String]) -> Option<usize> {
    stop.iter().filter_map(|s| text.find(s.as_str())).min()
}

/// Prepare each row for its sequence, normalise the rows in parallel, take each row's
/// next token.
fn advance(
    seqs: &mut [Sequence],
    requests: &[usize],
    mut logits: Vec<Vec<f32>>,
    vocab: &Vocab,
    on_token: &mut dyn FnMut() -> Result<()>,
) -> Result<Vec<Option<u32>>> {
    for (row, &i) in logits.iter_mut().zip(requests) {
        seqs[i].prepare(row, vocab);
    }
    let lses = log_sum_exps(&logits);
    requests
        .iter()
        .zip(logits.iter().zip(lses))
        .map(|(&i, (row, lse))| seqs[i].accept(row, lse, vocab, on_token))
        .collect()
}

/// Greedy (or sampled) decoding, at most `width` sequences together. A finished
/// sequence's row goes to the next waiting request at once when the model allows it
/// (continuous batching); otherwise the next requests start when all rows are done.
/// Each sequence gets the tokens it would get alone.
fn greedy(
    rows: &mut dyn Rows,
    rules: &[Rules],
    vocab: &Vocab,
    width: usize,
    on_token: &mut dyn FnMut() -> Result<()>,
) -> Result<Vec<Generation>> {
    let width = width.max(1).min(rows.capacity().max(1));
    let mut seqs: Vec<Sequence> = rules.iter().map(Sequence::new).collect();
    // Per row: its request, and the token to feed it next.
    let mut live: Vec<(usize, u32)> = Vec::new();
    let mut waiting = 0..rules.len();
    loop {
        if live.len() < width && (rows.continuous() || live.is_empty()) {
            let new: Vec<usize> = waiting.by_ref().take(width - live.len()).collect();
            if !new.is_empty() {
                let clock = Instant::now();
                let logits = rows.start(&new)?;
                let share = clock.elapsed().as_secs_f64() / new.len() as f64;
                let next = advance(&mut seqs, &new, logits, vocab, on_token)?;
                let before = live.len();
                let mut keep: Vec<usize> = (0..before).collect();
                for (k, (&i, tok)) in new.iter().zip(next).enumerate() {
                    seqs[i].out.prefill_seconds += share;
                    if let Some(tok) = tok {
                        keep.push(before + k);
                        live.push((i, tok));
                    }
                }
                if keep.len() < before + new.len() {
                    rows.keep(&keep)?;
                }
                // Sequences that ended on their first token free their rows at once.
                continue;
            }
        }
        if live.is_empty() {
            break;
        }
        let clock = Instant::now();
        let tokens: Vec<u32> = live.iter().map(|l| l.1).collect();
        let requests: Vec<usize> = live.iter().map(|l| l.0).collect();
        let logits = rows.step(&tokens)?;
        let next = advance(&mut seqs, &requests, logits, vocab, on_token)?;
        let share = clock.elapsed().as_secs_f64() / requests.len() as f64;
        let (mut keep, mut still) = (Vec::new(), Vec::new());
        for (row, (&i, tok)) in requests.iter().zip(next).enumerate() {
            seqs[i].out.decode_seconds += share;
            if let Some(tok) = tok {
                keep.push(row);
                still.push((i, tok));
            }
        }
        if still.len() < live.len() {
            rows.keep(&keep)?;
        }
        live = still;
    }
    Ok(seqs.into_iter().map(|s| s.out).collect())
}

/// Only tokens at least this likely relative to the most likely one (under the real
/// source) may be chosen by contrastive decoding: the contrast may reorder plausible
/// tokens, never promote implausible ones.
const CONTRAST_PLAUSIBILITY: f64 = 0.1;

/// Source-contrastive greedy decoding (requests in pairs: each contrasted request
/// followed by its contrast). Each step takes, among the plausible tokens of the real
/// prompt, the one maximising log p(y|x) − λ·log p(y|x′): what the model would write
/// whatever the source (a name it favours, a stock phrase) loses to what this source
/// calls for. Both rows of a pair take the token; the answer keeps the real prompt's
/// log-probabilities. A contrast request's own result is empty.
fn contrastive(
    rows: &mut dyn Rows,
    rules: &[Rules],
    vocab: &Vocab,
    width: usize,
    on_token: &mut dyn FnMut() -> Result<()>,
) -> Result<Vec<Generation>> {
    if !rules.len().is_multiple_of(2) || rules.iter().step_by(2).any(|r| r.contrast.is_none()) {
        return Err(crate::error::Error::Invalid(
            "contrastive decoding needs each request followed by its contrast".into(),
        ));
    }
    let pairs = (width.min(rows.capacity()) / 2).max(1);
    let mut seqs: Vec<Sequence> = rules.iter().map(Sequence::new).collect();
    let n = rules.len() / 2;
    for first in (0..n).step_by(pairs) {
        // The pairs decoding; pair k's rows are 2·(its place) and the one after.
        let mut live: Vec<usize> = (first..(first + pairs).min(n)).collect();
        let starts: Vec<usize> = live.iter().flat_map(|&k| [2 * k, 2 * k + 1]).collect();
        let clock = Instant::now();
        let mut logits = rows.start(&starts)?;
        let mut share = clock.elapsed().as_secs_f64() / live.len() as f64;
        let mut prefill = true;
        loop {
            for (at, &k) in live.iter().enumerate() {
                seqs[2 * k].prepare(&mut logits[2 * at], vocab);
            }
            let lses = log_sum_exps(&logits);
            let (mut keep, mut still, mut tokens) = (Vec::new(), Vec::new(), Vec::new());
            for (at, &k) in live.iter().enumerate() {
                let (real, other) = (&logits[2 * at], &logits[2 * at + 1]);
                let (lse, other_lse) = (lses[2 * at], lses[2 * at + 1]);
                let lambda = rules[2 * k].contrast.unwrap_or(0.0) as f64;
                let tok = contrast_choice(real, lse, other, other_lse, lambda);
                let seq = &mut seqs[2 * k];
                if prefill {
                    seq.out.prefill_seconds += share;
                } else {
                    seq.out.decode_seconds += share;
                }
                let next = match tok {
                    Some(t) => seq.take(t, logprob(real, t, lse), vocab, on_token)?,
                    None => None,
                };
                if let Some(t) = next {
                    keep.extend([2 * at, 2 * at + 1]);
                    still.push(k);
                    tokens.extend([t, t]);
                }
            }
            if still.len() < live.len() {
                rows.keep(&keep)?;
            }
            if still.is_empty() {
                break;
            }
            live = still;
            let clock = Instant::now();
            logits = rows.step(&tokens)?;
            share = clock.elapsed().as_secs_f64() / live.len() as f64;
            prefill = false;
        }
    }
    Ok(seqs.into_iter().map(|s| s.out).collect())
}

/// The token of `real` (normalised by `lse`) with the best contrastive score against
/// `other`, among those plausible under `real`; None when every token is masked.
fn contrast_choice(
    real: &[f32],
    lse: f64,
    other: &[f32],
    other_lse: f64,
    lambda: f64,
) -> Option<u32> {
    let best = real.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    if !best.is_finite() {
        return None;
    }
    let floor = best as f64 + CONTRAST_PLAUSIBILITY.ln();
    let mut choice: Option<(u32, f64)> = None;
    for (i, (&r, &o)) in real.iter().zip(other).enumerate() {
        if (r as f64) < floor {
            continue;
        }
        let score = (r as f64 - lse) - lambda * (o as f64 - other_lse);
        // The first maximum wins, so ties resolve the same way every run.
        if choice.is_none_or(|(_, s)| score > s) {
            choice = Some((i as u32, score));
        }
    }
    choice.map(|(t, _)| t)
}

/// A continuation of a beam: (accumulated score, beam row, token, its log-probability);
/// token None closes the beam at its budget.
type Candidate = (f64, usize, Option<u32>, f32);

/// One running hypothesis of beam search.
struct Beam {
    request: usize,
    tokens: Vec<u32>,
    logprobs: Vec<f32>,
    text: String,
    score: f64,
}

/// Beam search over `requests` as `transformers` runs it (length penalty 1, early
/// stopping off): each step keeps the best `k` unfinished continuations of each request
/// among its top 2k; a continuation that ends (end token, stop string, or the budget)
/// among the top `k` joins the finished set, scored by its log-probability over its
/// length (the end counted); a request is done when no running beam could beat its
/// worst finished one. Scores are log-probabilities: each row is normalised first and
/// the rules apply to the normalised scores (the penalty through a shift).
fn beam(
    rows: &mut dyn Rows,
    requests: std::ops::Range<usize>,
    rules: &[Rules],
    vocab: &Vocab,
    k: usize,
    on_token: &mut dyn FnMut() -> Result<()>,
) -> Result<Vec<Generation>> {
    let first = requests.start;
    let n = requests.len();
    if rows.capacity() < n * k {
        return Err(Error::Invalid(format!(
            "beam search with {k} beams needs {} sequences decoded together, and this model decodes {} at a time; use --beams 1",
            n * k,
            rows.capacity()
        )));
    }
    let at_limit = |b: &Beam| b.tokens.len() >= rules[b.request].max_new_tokens;
    let ids: Vec<usize> = requests.clone().collect();
    let mut logits = rows.start(&ids)?;
    // Finished (normalised score, hypothesis) per request, best first.
    let mut finished: Vec<Vec<(f64, Generation)>> = vec![Vec::new(); n];
    let mut done = vec![false; n];
    let mut beams: Vec<Beam> = ids
        .iter()
        .map(|&r| Beam {
            request: r,
            tokens: Vec::new(),
            logprobs: Vec::new(),
            text: String::new(),
            score: 0.0,
        })
        .collect();
    loop {
        on_token()?;
        let lses = log_sum_exps(&logits);
        for ((l, b), &lse) in logits.iter_mut().zip(&beams).zip(&lses) {
            let r = &rules[b.request];
            mask(l, r, vocab, &b.text);
            apply_repetition_penalty(l, &b.tokens, r.repetition_penalty, lse);
        }
        let tops = top_n_rows(&logits, 2 * k);
        let mut cands: Vec<Vec<Candidate>> = vec![Vec::new(); n];
        for (row, ((top, b), lse)) in tops.into_iter().zip(&beams).zip(lses).enumerate() {
            let c = &mut cands[b.request - first];
            if at_limit(b) {
                // The last step can only close the sentence.
                c.push((b.score, row, None, 0.0));
                continue;
            }
            for (t, logit) in top {
                let lp = (logit as f64 - lse) as f32;
                c.push((b.score + lp as f64, row, Some(t), lp));
            }
        }
        let (mut next, mut keep) = (Vec::new(), Vec::new());
        for (s, mut c) in cands.into_iter().enumerate() {
            if c.is_empty() {
                continue;
            }
            c.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)).then(a.2.cmp(&b.2)));
            c.truncate(2 * k);
            let mut running = 0;
            for (rank, &(score, row, token, lp)) in c.iter().enumerate() {
                let b = &beams[row];
                let ends = token.is_none_or(|t| vocab.end.contains(&t));
                let text = match token {
                    Some(t) if !ends && !rules[b.request].stop.is_empty() => {
                        let mut tokens = b.tokens.clone();
                        tokens.push(t);
                        Some((vocab.decode)(&tokens)?)
                    }
                    _ => None,
                };
                let stops = text
                    .as_deref()
                    .is_some_and(|t| first_stop(t, &rules[b.request].stop).is_some());
                if ends || stops {
                    if rank < k && !done[s] {
                        let mut h = empty_generation();
                        h.tokens = b.tokens.clone();
                        h.logprobs = b.logprobs.clone();
                        h.finish = match token {
                            None => Finish::Length,
                            Some(_) if stops => Finish::Stop,
                            Some(_) => Finish::Eos,
                        };
                        if let (Some(t), true) = (token, stops) {
                            h.tokens.push(t);
                            h.logprobs.push(lp);
                        }
                        let len = (b.tokens.len() + 1) as f64;
                        add_finished(&mut finished[s], score / len, h, k);
                    }
                    continue;
                }
                if running < k {
                    running += 1;
                    let t = token.expect("an open candidate has a token");
                    let mut tokens = b.tokens.clone();
                    tokens.push(t);
                    let mut logprobs = b.logprobs.clone();
                    logprobs.push(lp);
                    // While running, the text is read only by the masks (blank lines while
                    // it is empty, numbers) and stop strings; the answer is decoded at the
                    // end.
                    let text = match text {
                        Some(t) => t,
                        None if rules[b.request].numbers.is_some()
                            || (b.text.trim().is_empty() && !vocab.blank_lines.is_empty()) =>
                        {
                            (vocab.decode)(&tokens)?
                        }
                        None => b.text.clone(),
                    };
                    next.push(Beam {
                        request: b.request,
                        tokens,
                        logprobs,
                        text,
                        score,
                    });
                    keep.push(row);
                }
            }
            // Stop this request once its best running beam, at its length now, scores
            // no better than its worst finished one.
            let best_running = next
                .iter()
                .filter(|b| b.request - first == s)
                .map(|b| b.score / b.tokens.len() as f64)
                .fold(f64::NEG_INFINITY, f64::max);
            let worst = if finished[s].len() >= k {
                finished[s].last().map_or(f64::NEG_INFINITY, |f| f.0)
            } else {
                f64::NEG_INFINITY
            };
            if best_running <= worst {
                done[s] = true;
            }
        }
        let (kept, keep): (Vec<Beam>, Vec<usize>) = next
            .into_iter()
            .zip(keep)
            .filter(|(b, _)| !done[b.request - first])
            .unzip();
        // Finished rows are dropped even when none runs on: the next group of requests
        // starts its rows after the ones left here.
        rows.keep(&keep)?;
        if kept.is_empty() {
            break;
        }
        let last: Vec<u32> = kept
            .iter()
            .map(|b| *b.tokens.last().expect("a token"))
            .collect();
        beams = kept;
        logits = rows.step(&last)?;
    }
    finished
        .into_iter()
        .zip(&rules[requests])
        .map(|(f, rules)| {
            let mut h = f
                .into_iter()
                .next()
                .map_or_else(empty_generation, |(_, h)| h);
            h.text = (vocab.decode)(&h.tokens)?;
            if let Some(cut) = first_stop(&h.text, &rules.stop) {
                h.text.truncate(cut);
                h.finish = Finish::Stop;
            }
            h.offsets = (1..=h.tokens.len())
                .map(|n| Ok((vocab.decode)(&h.tokens[..n])?.len().min(h.text.len())))
                .collect::<Result<_>>()?;
            h.output_tokens = h.tokens.len();
            Ok(h)
        })
        .collect()
}

fn add_finished(set: &mut Vec<(f64, Generation)>, score: f64, h: Generation, k: usize) {
    let at = set.partition_point(|(s, _)| *s >= score);
    set.insert(at, (score, h));
    set.truncate(k);
}

/// `log_sum_exp` of every row, rows spread over the worker pool.
fn log_sum_exps(rows: &[Vec<f32>]) -> Vec<f64> {
    parallel_rows(rows, log_sum_exp)
}

/// The `n` largest finite values of every row with their indices, largest first.
fn top_n_rows(rows: &[Vec<f32>], n: usize) -> Vec<Vec<(u32, f32)>> {
    parallel_rows(rows, |r| top_n(r, n))
}

/// `f` of every row, rows shared out over candle's worker pool (a second pool would
/// fight its spinning workers for the cores).
fn parallel_rows<T: Send + Default>(rows: &[Vec<f32>], f: impl Fn(&[f32]) -> T + Sync) -> Vec<T> {
    let out: Vec<std::sync::Mutex<T>> = rows.iter().map(|_| Default::default()).collect();
    candle_core::utils::barrier_pool().execute_chunked(rows.len(), |range| {
        for i in range {
            *out[i].lock().unwrap_or_else(|e| e.into_inner()) = f(&rows[i]);
        }
    });
    out.into_iter()
        .map(|m| m.into_inner().unwrap_or_else(|e| e.into_inner()))
        .collect()
}

/// The `n` largest finite values of `l` with their indices, largest first.
fn top_n(l: &[f32], n: usize) -> Vec<(u32, f32)> {
    let mut best: Vec<(u32, f32)> = Vec::with_capacity(n + 1);
    for (i, &v) in l.iter().enumerate() {
        if !v.is_finite() || (best.len() == n && v <= best[n - 1].1) {
            continue;
        }
        let at = best.partition_point(|&(_, b)| b >= v);
        best.insert(at, (i as u32, v));
        best.truncate(n);
    }
    best
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A model whose next-token log-probabilities are a function of the request and the
    /// tokens so far; tokens are letters a, b, c, … and 0 is the end token.
    struct Fake {
        model: fn(usize, &[u32]) -> Vec<f32>,
        rows: Vec<(usize, Vec<u32>)>,
        continuous: bool,
        capacity: usize,
        /// The most rows ever stepped together.
        widest: usize,
    }

    impl Fake {
        fn new(model: fn(usize, &[u32]) -> Vec<f32>) -> Fake {
            Fake {
                model,
                rows: Vec::new(),
                continuous: true,
                capacity: usize::MAX,
                widest: 0,
            }
        }
    }

    impl Rows for Fake {
        fn start(&mut self, requests: &[usize]) -> Result<Vec<Vec<f32>>> {
            self.rows.extend(requests.iter().map(|&i| (i, Vec::new())));
            Ok(requests.iter().map(|&i| (self.model)(i, &[])).collect())
        }
        fn step(&mut self, tokens: &[u32]) -> Result<Vec<Vec<f32>>> {
            assert_eq!(tokens.len(), self.rows.len());
            self.widest = self.widest.max(tokens.len());
            for ((_, seq), &t) in self.rows.iter_mut().zip(tokens) {
                seq.push(t);
            }
            Ok(self.rows.iter().map(|(i, s)| (self.model)(*i, s)).collect())
        }
        fn keep(&mut self, rows: &[usize]) -> Result<()> {
            self.rows = rows.iter().map(|&r| self.rows[r].clone()).collect();
            Ok(())
        }
        fn continuous(&self) -> bool {
            self.continuous
        }
        fn capacity(&self) -> usize {
            self.capacity
        }
    }

    fn letters(ids: &[u32]) -> Result<String> {
        Ok(ids.iter().map(|&t| (b'a' + t as u8 - 1) as char).collect())
    }

    const VOCAB: Vocab = Vocab {
        end: &[0],
        never: &[],
        non_english: &[4],
        blank_lines: &[],
        number_tokens: &[],
        decode: &letters,
    };

    fn lp(ps: &[f32]) -> Vec<f32> {
        ps.iter().map(|p| p.ln()).collect()
    }

    /// Request i counts up from letter i+1 and ends after five letters.
    fn counting(i: usize, seq: &[u32]) -> Vec<f32> {
        let mut p = vec![0.01f32; 8];
        let next = if seq.len() == 5 {
            0
        } else {
            (i + 1 + seq.len()) % 7 + 1
        };
        p[next] = 0.9;
        lp(&p)
    }

    fn texts(g: &[Generation]) -> Vec<String> {
        g.iter().map(|g| g.text.clone()).collect()
    }

    #[test]
    fn each_sequence_gets_the_tokens_it_would_get_alone() {
        let rules = vec![Rules::new(10); 5];
        let mut rows = Fake::new(counting);
        let together = run(&mut rows, &rules, &VOCAB, 2, 1, &mut || Ok(())).unwrap();
        assert_eq!(rows.widest, 2, "never more rows than the width");
        assert_eq!(
            texts(&together),
            ["bcdef", "cdefg", "defga", "efgab", "fgabc"]
        );
        for (i, g) in together.iter().enumerate() {
            // One row at a time: request i after the ones before it.
            let mut alone = Fake::new(counting);
            let r = vec![Rules::new(10); i + 1];
            let one = run(&mut alone, &r, &VOCAB, 1, 1, &mut || Ok(())).unwrap();
            assert_eq!(one[i].text, g.text);
            assert_eq!(one[i].logprobs, g.logprobs);
            assert_eq!(g.finish, Finish::Eos);
        }
        // Rows that cannot join a running batch give the same answers.
        let mut rows = Fake::new(counting);
        rows.continuous = false;
        let grouped = run(&mut rows, &rules, &VOCAB, 2, 1, &mut || Ok(())).unwrap();
        assert_eq!(texts(&grouped), texts(&together));
    }

    #[test]
    fn the_budget_the_guard_stop_strings_and_the_mask_end_or_shape_an_answer() {
        let mut rows = Fake::new(counting);
        let budget = run(&mut rows, &[Rules::new(3)], &VOCAB, 1, 1, &mut || Ok(())).unwrap();
        assert_eq!(
            (budget[0].text.as_str(), budget[0].finish),
            ("bcd", Finish::Length)
        );

        let stop = Rules {
            stop: vec!["de".into()],
            ..Rules::new(10)
        };
        let mut rows = Fake::new(counting);
        let g = run(&mut rows, &[stop], &VOCAB, 1, 1, &mut || Ok(())).unwrap();
        assert_eq!((g[0].text.as_str(), g[0].finish), ("bc", Finish::Stop));
        assert_eq!(
            g[0].offsets,
            [1, 2, 3, 4],
            "offsets are taken before the cut"
        );

        // Request 2 writes letter d (token 4) first, which English-only forbids.
        let plain = vec![Rules::new(2); 3];
        let mut english = plain.clone();
        english[2].english_only = true;
        let g = run(&mut Fake::new(counting), &plain, &VOCAB, 3, 1, &mut || {
            Ok(())
        })
        .unwrap();
        assert_eq!(g[2].text, "de");
        let g = run(
            &mut Fake::new(counting),
            &english,
            &VOCAB,
            3,
            1,
            &mut || Ok(()),
        )
        .unwrap();
        assert!(!g[2].text.contains('d'), "{:?}", g[2].text);

        let looping = |_: usize, seq: &[u32]| {
            let mut p = vec![0.01f32; 8];
            p[1 + seq.len() % 2] = 0.9;
            lp(&p)
        };
        let guard = Rules {
            repeat_ngram: 2,
            repeat_limit: 3,
            ..Rules::new(50)
        };
        let mut rows = Fake::new(looping);
        let g = run(&mut rows, &[guard], &VOCAB, 1, 1, &mut || Ok(())).unwrap();
        assert_eq!(
            (g[0].text.as_str(), g[0].finish),
            ("ababab", Finish::Repetition)
        );
    }

    #[test]
    fn forced_tokens_are_taken_with_the_models_log_probability() {
        let forced = Rules {
            forced: vec![3, 3],
            ..Rules::new(2)
        };
        let mut rows = Fake::new(counting);
        let g = run(&mut rows, &[forced], &VOCAB, 1, 1, &mut || Ok(())).unwrap();
        assert_eq!(g[0].text, "cc");
        // Request 0 prefers b first: c had 0.01 of a total of 0.97.
        let want = (0.01f64 / 0.97).ln();
        assert!(
            (g[0].logprobs[0] as f64 - want).abs() < 1e-5,
            "{:?}",
            g[0].logprobs
        );
    }

    /// Greedy takes a (0.6) then whatever follows (at best 0.3); b (0.4) is followed by
    /// d at 0.9, the likelier sentence. Beam search finds it.
    fn garden_path(_: usize, seq: &[u32]) -> Vec<f32> {
        match seq {
            [] => lp(&[1e-6, 0.6, 0.4, 1e-6, 1e-6]),
            [1] => lp(&[1e-6, 1e-6, 0.35, 0.35, 0.3]),
            [2] => lp(&[1e-6, 0.05, 0.05, 0.9, 1e-6]),
            _ => lp(&[0.98, 0.005, 0.005, 0.005, 0.005]),
        }
    }

    #[test]
    fn beam_search_finds_the_likelier_sentence_that_greedy_misses() {
        let mut rows = Fake::new(garden_path);
        let greedy = run(&mut rows, &[Rules::new(5)], &VOCAB, 1, 1, &mut || Ok(())).unwrap();
        assert_eq!(greedy[0].text, "ab");
        let mut rows = Fake::new(garden_path);
        let beams = run(
            &mut rows,
            &vec![Rules::new(5); 3],
            &VOCAB,
            3,
            2,
            &mut || Ok(()),
        )
        .unwrap();
        assert!(
            texts(&beams).iter().all(|t| t == "bc"),
            "{:?}",
            texts(&beams)
        );
        assert_eq!(beams[0].finish, Finish::Eos);
        // Three requests two at a time: the second group starts on fresh rows.
        let mut rows = Fake::new(garden_path);
        let grouped = run(
            &mut rows,
            &vec![Rules::new(5); 3],
            &VOCAB,
            2,
            2,
            &mut || Ok(()),
        )
        .unwrap();
        assert_eq!(texts(&grouped), texts(&beams));
        assert!(rows.rows.is_empty(), "finished rows are dropped");
        let sum: f32 = beams[0].logprobs.iter().sum();
        assert!((sum - (0.4f32 * 0.9).ln()).abs() < 1e-4, "{sum}");
        // A model that decodes one sequence at a time cannot hold the beams.
        let mut one = Fake::new(garden_path);
        one.capacity = 1;
        let err = run(&mut one, &[Rules::new(5)], &VOCAB, 1, 2, &mut || Ok(())).unwrap_err();
        assert!(err.to_string().contains("--beams 1"), "{err}");
    }

    #[test]
    fn top_n_keeps_the_largest_in_order_and_skips_masked() {
        let l = [0.5, f32::NEG_INFINITY, 2.0, -1.0, 2.0, 1.0];
        assert_eq!(top_n(&l, 3), vec![(2, 2.0), (4, 2.0), (5, 1.0)]);
        assert_eq!(top_n(&l, 10).len(), 5);
    }

    /// Request 0 is a prompt with a source, request 1 the same prompt without one. Both
    /// favour `h` (the model's stock name) first; the source also makes `b` likely, the
    /// empty prompt does not; `z`-like junk (letter f) is unlikely under both.
    fn prior_and_source(i: usize, seq: &[u32]) -> Vec<f32> {
        let mut p = vec![0.001f32; 9];
        if !seq.is_empty() {
            p[0] = 0.99; // one token answers
        } else if i.is_multiple_of(2) {
            (p[8], p[2], p[6]) = (0.5, 0.4, 0.002);
        } else {
            (p[8], p[2], p[6]) = (0.9, 0.02, 0.0001);
        }
        lp(&p)
    }

    #[test]
    fn contrastive_decoding_prefers_what_the_source_calls_for_among_plausible_tokens() {
        let mut rows = Fake::new(prior_and_source);
        let greedy = run(&mut rows, &[Rules::new(4)], &VOCAB, 1, 1, &mut || Ok(())).unwrap();
        assert_eq!(greedy[0].text, "h");
        let contrasted = Rules {
            contrast: Some(0.5),
            ..Rules::new(4)
        };
        for width in [2, 8] {
            // Two pairs: at width 2 they decode one after the other, on fresh rows.
            let mut rows = Fake::new(prior_and_source);
            let pair = [
                contrasted.clone(),
                Rules::new(4),
                contrasted.clone(),
                Rules::new(4),
            ];
            let out = run(&mut rows, &pair, &VOCAB, width, 1, &mut || Ok(())).unwrap();
            assert!(rows.rows.is_empty(), "finished rows are dropped");
            assert_eq!(out[2].text, "b", "width {width}");
            assert_eq!(out[0].text, "b", "width {width}");
            // The answer's log-probability is the real prompt's own.
            assert!(
                (out[0].logprobs[0] - greedy_lp(0.4)).abs() < 1e-3,
                "{:?}",
                out[0].logprobs
            );
            assert!(
                out[1].text.is_empty(),
                "a contrast has no answer of its own"
            );
        }
        // f is far more source-specific, but implausible: never chosen.
        let strong = Rules {
            contrast: Some(5.0),
            ..Rules::new(4)
        };
        let mut rows = Fake::new(prior_and_source);
        let out = run(
            &mut rows,
            &[strong, Rules::new(4)],
            &VOCAB,
            2,
            1,
            &mut || Ok(()),
        )
        .unwrap();
        assert_eq!(out[0].text, "b");
        let mut rows = Fake::new(prior_and_source);
        assert!(run(&mut rows, &[contrasted], &VOCAB, 2, 1, &mut || Ok(())).is_err());
    }

    /// The log-probability of a token of probability `p` in `prior_and_source`'s first row.
    fn greedy_lp(p: f32) -> f32 {
        let row = prior_and_source(0, &[]);
        let lse = log_sum_exps(std::slice::from_ref(&row))[0];
        (p.ln() as f64 - lse) as f32
    }

    /// Writes "A", a space, then prefers 9 to 8 and, after either, 0 to ending.
    fn likes_ninety(_: usize, seq: &[u32]) -> Vec<f32> {
        let mut p = vec![0.001f32; 7];
        match seq.len() {
            0 => p[1] = 0.9,
            1 => p[2] = 0.9,
            2 => (p[4], p[3]) = (0.5, 0.4),
            3 => (p[5], p[0]) = (0.5, 0.4),
            _ => p[0] = 0.9,
        }
        lp(&p)
    }

    fn pieces(ids: &[u32]) -> Result<String> {
        const TEXT: [&str; 7] = ["", "A", " ", "8", "9", "0", "."];
        Ok(ids.iter().map(|&t| TEXT[t as usize]).collect())
    }

    #[test]
    fn a_number_plan_lets_the_answer_write_only_the_sources_numbers() {
        let number_tokens: Vec<(u32, String)> = [(3, "8"), (4, "9"), (5, "0"), (6, ".")]
            .iter()
            .map(|&(t, s)| (t, s.to_string()))
            .collect();
        let vocab = Vocab {
            number_tokens: &number_tokens,
            decode: &pieces,
            ..VOCAB
        };
        let free = run(
            &mut Fake::new(likes_ninety),
            &[Rules::new(6)],
            &vocab,
            1,
            1,
            &mut || Ok(()),
        )
        .unwrap();
        assert_eq!(free[0].text, "A 90");
        let planned = Rules {
            numbers: Some(Arc::new(NumberPlan::of("बैठक में 8 लोग थे।"))),
            ..Rules::new(6)
        };
        let out = run(
            &mut Fake::new(likes_ninety),
            &[planned],
            &vocab,
            1,
            1,
            &mut || Ok(()),
        )
        .unwrap();
        // 9 is not the source's; after 8, a 0 would make it 80.
        assert_eq!(out[0].text, "A 8");
    }
}
