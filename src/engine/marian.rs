//! The Marian (OPUS-MT) engine: a dedicated translation model. Each request's prompt is
//! the source text itself (Marian cards render `{source}` with no instructions); the
//! engine translates requests in batches of similar length, greedy by default or with
//! beam search (`--beams N`), and reports per-token log-probabilities like the decoder
//! engine does, so confidence and the review checks work the same.
//!
//! Budgets count the closing `</s>`: a request for N new tokens gets at most N - 1 words
//! of output and, cut there, finishes with `Finish::Length` (what `transformers` does
//! with `max_new_tokens = N` and Marian's forced end token).

use super::sampling::{Rng, apply_repetition_penalty, is_looping, pick};
use super::{Engine, Finish, GenerateRequest, Generation, ModelInfo};
use crate::card::ModelCard;
use crate::config::Sampling;
use crate::error::{Error, Result};
use crate::models::marian::{Checkpoint, Config, DecoderState, Model, Precision};
use crate::tokenizer::marian::MarianTokenizer;
use candle_core::{Device, Tensor};
use std::path::Path;
use std::time::Instant;

/// What one source's search may do.
#[derive(Debug, Clone)]
pub struct Rules {
    /// New tokens including the closing `</s>`.
    pub max_new_tokens: usize,
    pub english_only: bool,
    pub repetition_penalty: f32,
    pub repeat_ngram: usize,
    pub repeat_limit: usize,
    pub sampling: Sampling,
}

/// A finished translation in target ids (without `</s>`).
#[derive(Debug, Clone, PartialEq)]
pub struct Hypothesis {
    pub tokens: Vec<u32>,
    /// Log-probability of each token in `tokens`.
    pub logprobs: Vec<f32>,
    pub finish: Finish,
}

pub struct MarianEngine {
    info: ModelInfo,
    pub tokenizer: MarianTokenizer,
    model: Model,
    beams: usize,
    /// Target ids that would write Devanagari (masked for English-only requests).
    non_english: Vec<u32>,
}

/// The files of a Marian repository, found beside its weights.
pub const FILES: &[&str] = &["config.json", "source.spm", "target.spm", "vocab.json"];

impl MarianEngine {
    /// Load the weights at `path` (model.safetensors or pytorch_model.bin) with the
    /// repository files beside it.
    pub fn load(
        path: &Path,
        card: &ModelCard,
        sha256: String,
        beams: usize,
        precision: Precision,
    ) -> Result<Self> {
        let dir = path.parent().unwrap_or(Path::new("."));
        let fix = format!("anuvad models pull {}", card.id);
        for f in FILES {
            if !dir.join(f).is_file() {
                return Err(Error::MarianFileMissing {
                    path: dir.join(f),
                    needs: FILES.join(", "),
                    fix: fix.clone(),
                });
            }
        }
        let corrupt = |detail: String| Error::ModelCorrupt {
            path: path.to_path_buf(),
            detail: detail.lines().next().unwrap_or_default().to_string(),
            fix: fix.clone(),
        };
        let config = Config::from_file(&dir.join("config.json"))
            .map_err(|e| corrupt(format!("config.json: {e}")))?;
        let target_vocab = dir.join("target_vocab.json");
        let tokenizer = MarianTokenizer::load(
            &dir.join("source.spm"),
            &dir.join("target.spm"),
            &dir.join("vocab.json"),
            target_vocab.is_file().then_some(target_vocab.as_path()),
        )?;
        if !path.is_file() {
            return Err(Error::ModelMissing {
                path: path.to_path_buf(),
                fix,
            });
        }
        let checkpoint = Checkpoint::read(path).map_err(|e| corrupt(e.to_string()))?;
        let model =
            Model::load(config, &checkpoint, precision).map_err(|e| corrupt(e.to_string()))?;
        drop(checkpoint);
        let non_english = (0..tokenizer.target_vocab_size() as u32)
            .filter(|&id| tokenizer.piece(id).chars().any(super::is_indic))
            .collect();
        let info = ModelInfo::new(
            card,
            path,
            sha256,
            "marian".into(),
            model.config.max_position_embeddings,
        );
        Ok(MarianEngine {
            info,
            tokenizer,
            model,
            beams: beams.max(1),
            non_english,
        })
    }

    fn source_ids(&self, req: &GenerateRequest) -> Result<Vec<u32>> {
        let text = format!("{}{}", req.prefix, req.body);
        let ids = self.tokenizer.encode(&text)?;
        let max = self.model.config.max_position_embeddings;
        if ids.len() > max {
            return Err(Error::ContextTooSmall {
                context: max,
                needed: ids.len(),
            });
        }
        Ok(ids)
    }

    /// Translate `sources` (source ids ending in `</s>`) up to `width` at a time,
    /// similar lengths together; results in the order given.
    pub fn search(
        &self,
        sources: &[Vec<u32>],
        rules: &[Rules],
        width: usize,
        on_token: &mut dyn FnMut() -> Result<()>,
    ) -> Result<Vec<Hypothesis>> {
        let mut order: Vec<usize> = (0..sources.len()).collect();
        order.sort_by_key(|&i| std::cmp::Reverse(sources[i].len()));
        let mut out: Vec<Option<Hypothesis>> = vec![None; sources.len()];
        for group in order.chunks(width.max(1)) {
            let srcs: Vec<&[u32]> = group.iter().map(|&i| sources[i].as_slice()).collect();
            let rls: Vec<&Rules> = group.iter().map(|&i| &rules[i]).collect();
            let hyps = if self.beams > 1 {
                self.beam_batch(&srcs, &rls, on_token)?
            } else {
                self.greedy_batch(&srcs, &rls, on_token)?
            };
            for (&i, h) in group.iter().zip(hyps) {
                out[i] = Some(h);
            }
        }
        Ok(out
            .into_iter()
            .map(|h| h.expect("every source searched"))
            .collect())
    }

    /// Encode a group of sources padded to the longest; the decoder state has one row
    /// each, with room for `positions` decoder tokens.
    fn start(&self, sources: &[&[u32]], positions: usize) -> Result<DecoderState> {
        let longest = sources.iter().map(|s| s.len()).max().unwrap_or(1);
        let mut flat = Vec::with_capacity(sources.len() * longest);
        for s in sources {
            flat.extend_from_slice(s);
            flat.extend(std::iter::repeat_n(self.tokenizer.pad, longest - s.len()));
        }
        let ids = Tensor::from_vec(flat, (sources.len(), longest), &Device::Cpu)?;
        let lengths: Vec<usize> = sources.iter().map(|s| s.len()).collect();
        let enc = self.model.encode(&ids, &lengths)?;
        Ok(self.model.start(&enc, positions)?)
    }

    /// Feed one token per state row; the next-token logits, one row each.
    fn step(&self, tokens: &[u32], state: &mut DecoderState) -> Result<Vec<Vec<f32>>> {
        let ids = Tensor::from_vec(tokens.to_vec(), (tokens.len(), 1), &Device::Cpu)?;
        Ok(self.model.decode(&ids, state)?.squeeze(1)?.to_vec2()?)
    }

    /// The most decoder steps a source may take (position table permitting).
    fn steps(&self, rules: &Rules) -> usize {
        rules
            .max_new_tokens
            .min(self.model.config.max_position_embeddings - 1)
            .max(1)
    }

    /// Tokens a request may never produce: `<pad>` (the decoder's start token) and,
    /// for English-only requests, Devanagari.
    fn forbid(&self, logits: &mut [f32], rules: &Rules) {
        logits[self.tokenizer.pad as usize] = f32::NEG_INFINITY;
        if rules.english_only {
            for &id in &self.non_english {
                logits[id as usize] = f32::NEG_INFINITY;
            }
        }
    }

    fn mask(&self, logits: &mut [f32], rules: &Rules, previous: &[u32]) {
        self.forbid(logits, rules);
        apply_repetition_penalty(logits, previous, rules.repetition_penalty, 0.0);
    }

    fn greedy_batch(
        &self,
        sources: &[&[u32]],
        rules: &[&Rules],
        on_token: &mut dyn FnMut() -> Result<()>,
    ) -> Result<Vec<Hypothesis>> {
        let eos = self.tokenizer.eos;
        let positions = rules.iter().map(|r| self.steps(r)).max().unwrap_or(1);
        let mut state = self.start(sources, positions)?;
        let mut hyps: Vec<Hypothesis> = sources
            .iter()
            .map(|_| Hypothesis {
                tokens: Vec::new(),
                logprobs: Vec::new(),
                finish: Finish::Length,
            })
            .collect();
        let mut rngs: Vec<Rng> = rules.iter().map(|r| Rng::new(r.sampling.seed)).collect();
        // Rows of the decoder state, by source; finished sources leave the batch.
        let mut live: Vec<usize> = (0..sources.len()).collect();
        let mut last = vec![self.model.config.decoder_start_token_id; sources.len()];
        while !live.is_empty() {
            let mut logits = self.step(&last, &mut state)?;
            for (l, &i) in logits.iter_mut().zip(&live) {
                self.mask(l, rules[i], &hyps[i].tokens);
            }
            // The softmax normalisers of the rows, in parallel (61,950 exps per row).
            let lses = super::decoder::log_sum_exps(&logits);
            let mut keep = Vec::with_capacity(live.len());
            let mut next = Vec::with_capacity(live.len());
            for (row, ((l, &i), lse)) in logits.iter().zip(&live).zip(lses).enumerate() {
                let (h, r) = (&mut hyps[i], rules[i]);
                let (token, lp) = pick(l, lse, &r.sampling, &mut rngs[i]);
                on_token()?;
                if token == eos {
                    h.finish = Finish::Eos;
                    continue;
                }
                h.tokens.push(token);
                h.logprobs.push(lp);
                if h.tokens.len() + 1 >= self.steps(r) {
                    h.finish = Finish::Length;
                } else if is_looping(&h.tokens, r.repeat_ngram, r.repeat_limit) {
                    h.finish = Finish::Repetition;
                } else {
                    keep.push(row as u32);
                    next.push(token);
                }
            }
            if keep.len() < live.len() && !keep.is_empty() {
                state.select(&keep);
            }
            live = keep.iter().map(|&row| live[row as usize]).collect();
            last = next;
        }
        Ok(hyps)
    }

    /// Beam search as `transformers` runs it (length penalty 1, early stopping off):
    /// each step keeps the best `beams` unfinished continuations of each source among
    /// its top 2 × `beams`; a continuation ending in `</s>` among the top `beams` joins
    /// the finished set, scored by its log-probability over its length; a source is
    /// done when no running beam could beat its worst finished one.
    fn beam_batch(
        &self,
        sources: &[&[u32]],
        rules: &[&Rules],
        on_token: &mut dyn FnMut() -> Result<()>,
    ) -> Result<Vec<Hypothesis>> {
        let (k, eos) = (self.beams, self.tokenizer.eos);
        let positions = rules.iter().map(|r| self.steps(r)).max().unwrap_or(1);
        let mut state = self.start(sources, positions)?;
        struct Beam {
            source: usize,
            tokens: Vec<u32>,
            logprobs: Vec<f32>,
            score: f64,
        }
        // Finished (normalised score, hypothesis) per source, best first.
        let mut finished: Vec<Vec<(f64, Hypothesis)>> = vec![Vec::new(); sources.len()];
        let mut done = vec![false; sources.len()];
        let mut beams: Vec<Beam> = (0..sources.len())
            .map(|s| Beam {
                source: s,
                tokens: Vec::new(),
                logprobs: Vec::new(),
                score: 0.0,
            })
            .collect();
        let start = self.model.config.decoder_start_token_id;
        let mut last = vec![start; beams.len()];
        while !beams.is_empty() {
            let mut logits = self.step(&last, &mut state)?;
            on_token()?;
            let lses = super::decoder::log_sum_exps(&logits);
            // As transformers does: log-softmax, then the rules on log-probabilities. A
            // log-probability is the logit less the row's normaliser, so the rules go on
            // the logits shifted accordingly and only the best 2k are ever subtracted.
            for ((l, b), &lse) in logits.iter_mut().zip(&beams).zip(&lses) {
                let r = rules[b.source];
                self.forbid(l, r);
                apply_repetition_penalty(l, &b.tokens, r.repetition_penalty, lse);
            }
            let tops = top_n_rows(&logits, 2 * k);
            // Candidates per source: (accumulated score, beam row, token, token logprob).
            let mut cands: Vec<Vec<(f64, usize, u32, f32)>> = vec![Vec::new(); sources.len()];
            for (row, ((top, b), lse)) in tops.into_iter().zip(&beams).zip(lses).enumerate() {
                let at_limit = b.tokens.len() + 1 >= self.steps(rules[b.source]);
                if at_limit {
                    // The last step can only close the sentence.
                    cands[b.source].push((b.score, row, eos, 0.0));
                    continue;
                }
                for (t, logit) in top {
                    let lp = (logit as f64 - lse) as f32;
                    cands[b.source].push((b.score + lp as f64, row, t, lp));
                }
            }
            let mut next_beams = Vec::new();
            let mut rows = Vec::new();
            for (s, mut c) in cands.into_iter().enumerate() {
                if c.is_empty() {
                    continue;
                }
                c.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)).then(a.2.cmp(&b.2)));
                c.truncate(2 * k);
                let mut running = 0;
                for (rank, &(score, row, token, lp)) in c.iter().enumerate() {
                    let b = &beams[row];
                    let at_limit = b.tokens.len() + 1 >= self.steps(rules[s]);
                    if token == eos || at_limit {
                        if rank < k && !done[s] {
                            let len = (b.tokens.len() + 1) as f64;
                            let mut h = Hypothesis {
                                tokens: b.tokens.clone(),
                                logprobs: b.logprobs.clone(),
                                finish: if token == eos && !at_limit {
                                    Finish::Eos
                                } else {
                                    Finish::Length
                                },
                            };
                            if token != eos {
                                h.tokens.push(token);
                                h.logprobs.push(lp);
                            }
                            add_finished(&mut finished[s], score / len, h, k);
                        }
                        continue;
                    }
                    if running < k {
                        running += 1;
                        let mut tokens = b.tokens.clone();
                        tokens.push(token);
                        let mut logprobs = b.logprobs.clone();
                        logprobs.push(lp);
                        next_beams.push(Beam {
                            source: s,
                            tokens,
                            logprobs,
                            score,
                        });
                        rows.push(row as u32);
                    }
                }
                // Stop this source once its best running beam, at its length now,
                // scores no better than its worst finished one.
                let best_running = next_beams
                    .iter()
                    .filter(|b| b.source == s)
                    .map(|b| b.score / b.tokens.len() as f64)
                    .fold(f64::NEG_INFINITY, f64::max);
                let worst = if finished[s].len() >= k {
                    finished[s].last().map_or(f64::NEG_INFINITY, |f| f.0)
                } else {
                    f64::NEG_INFINITY
                };
                if done[s] || best_running <= worst {
                    done[s] = true;
                }
            }
            let (kept, rows): (Vec<Beam>, Vec<u32>) = next_beams
                .into_iter()
                .zip(rows)
                .filter(|(b, _)| !done[b.source])
                .unzip();
            if !rows.is_empty() {
                state.select(&rows);
            }
            last = kept
                .iter()
                .map(|b| *b.tokens.last().expect("a token"))
                .collect();
            beams = kept;
        }
        Ok(finished
            .into_iter()
            .map(|f| {
                f.into_iter().next().map(|(_, h)| h).unwrap_or(Hypothesis {
                    tokens: Vec::new(),
                    logprobs: Vec::new(),
                    finish: Finish::Length,
                })
            })
            .collect())
    }

    fn generation(&self, req: &GenerateRequest, source_len: usize, h: Hypothesis) -> Generation {
        let mut text = self.tokenizer.decode(&h.tokens);
        let mut finish = h.finish;
        if let Some(cut) = req.stop.iter().filter_map(|s| text.find(s.as_str())).min() {
            text.truncate(cut);
            finish = Finish::Stop;
        }
        let offsets = (1..=h.tokens.len())
            .map(|n| self.tokenizer.decode(&h.tokens[..n]).len().min(text.len()))
            .collect();
        Generation {
            text,
            finish,
            prompt_tokens: source_len,
            cached_tokens: 0,
            output_tokens: h.tokens.len(),
            logprobs: h.logprobs,
            offsets,
            prefill_seconds: 0.0,
            decode_seconds: 0.0,
        }
    }
}

/// `top_n` of every row, the rows shared out over the thread pool.
fn top_n_rows(rows: &[Vec<f32>], n: usize) -> Vec<Vec<(u32, f32)>> {
    let out: Vec<std::sync::Mutex<Vec<(u32, f32)>>> = rows
        .iter()
        .map(|_| std::sync::Mutex::new(Vec::new()))
        .collect();
    candle_core::utils::barrier_pool().execute_chunked(rows.len(), |range| {
        for i in range {
            *out[i].lock().unwrap_or_else(|e| e.into_inner()) = top_n(&rows[i], n);
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

fn add_finished(set: &mut Vec<(f64, Hypothesis)>, score: f64, h: Hypothesis, k: usize) {
    let at = set.partition_point(|(s, _)| *s >= score);
    set.insert(at, (score, h));
    set.truncate(k);
}

impl Engine for MarianEngine {
    fn info(&self) -> &ModelInfo {
        &self.info
    }

    fn count_tokens(&self, text: &str) -> Result<usize> {
        Ok(self.tokenizer.encode_pieces(text)?.len())
    }

    fn score(&mut self, prefix: &str, body: &str, continuation: &str) -> Result<Vec<f32>> {
        let source = self.tokenizer.encode(&format!("{prefix}{body}"))?;
        let target = self.tokenizer.encode_target(continuation.trim())?;
        if target.is_empty() {
            return Ok(Vec::new());
        }
        let max = self.model.config.max_position_embeddings;
        if target.len() + 1 > max || source.len() > max {
            return Err(Error::ContextTooSmall {
                context: max,
                needed: source.len().max(target.len() + 1),
            });
        }
        let mut state = self.start(&[&source], target.len())?;
        let mut input = vec![self.model.config.decoder_start_token_id];
        input.extend_from_slice(&target[..target.len() - 1]);
        let n = input.len();
        let ids = Tensor::from_vec(input, (1, n), &Device::Cpu)?;
        let logits: Vec<Vec<f32>> = self.model.decode(&ids, &mut state)?.squeeze(0)?.to_vec2()?;
        Ok(logits
            .iter()
            .zip(&target)
            .map(|(l, &t)| super::sampling::log_prob(l, t))
            .collect())
    }

    fn generate_batch(
        &mut self,
        reqs: &[GenerateRequest],
        width: usize,
        on_token: &mut dyn FnMut() -> Result<()>,
    ) -> Result<Vec<Generation>> {
        let started = Instant::now();
        let sources: Vec<Vec<u32>> = reqs
            .iter()
            .map(|r| self.source_ids(r))
            .collect::<Result<_>>()?;
        let rules: Vec<Rules> = reqs
            .iter()
            .map(|r| Rules {
                max_new_tokens: r.max_new_tokens,
                english_only: r.english_only,
                repetition_penalty: r.repetition_penalty,
                repeat_ngram: r.repeat_ngram,
                repeat_limit: r.repeat_limit,
                sampling: r.sampling,
            })
            .collect();
        // `width` is the run's batch size (`--batch-size`, else the card's `chunk.batch`).
        let hyps = self.search(&sources, &rules, width, on_token)?;
        let seconds = started.elapsed().as_secs_f64() / reqs.len().max(1) as f64;
        Ok(reqs
            .iter()
            .zip(&sources)
            .zip(hyps)
            .map(|((r, s), h)| {
                let mut g = self.generation(r, s.len(), h);
                // Encoding and decoding interleave in a batch; time is shared out evenly.
                g.decode_seconds = seconds;
                g
            })
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn top_n_keeps_the_largest_in_order_and_skips_masked() {
        let l = [0.5, f32::NEG_INFINITY, 2.0, -1.0, 2.0, 1.0];
        assert_eq!(top_n(&l, 3), vec![(2, 2.0), (4, 2.0), (5, 1.0)]);
        assert_eq!(top_n(&l, 10).len(), 5);
    }
}
