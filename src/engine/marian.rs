//! The Marian (OPUS-MT) engine: a dedicated translation model. Each request's prompt is
//! the source text itself (Marian cards render `{source}` with no instructions); the
//! engine translates requests in batches of similar length, greedy by default or with
//! beam search (`--beams N`), and reports per-token log-probabilities like the decoder
//! engine does, so confidence and the review checks work the same.
//!
//! Budgets count the closing `</s>`: a request for N new tokens gets at most N - 1 words
//! of output and, cut there, finishes with `Finish::Length` (what `transformers` does
//! with `max_new_tokens = N` and Marian's forced end token).

use super::decoder::is_number_token;
use super::search::{self, Rows, Rules, Vocab};
use super::{Engine, Generation, ModelInfo, Request};
use crate::card::ModelCard;
use crate::config::Precision;
use crate::error::{Error, Result};
use crate::models::marian::{Checkpoint, Config, DecoderState, Model};
use crate::text::script::is_indic;
use crate::tokenizer::marian::MarianTokenizer;
use candle_core::{Device, Tensor};
use std::path::Path;
use std::time::Instant;

pub struct MarianEngine {
    info: ModelInfo,
    pub tokenizer: MarianTokenizer,
    model: Model,
    /// Target ids that would write Devanagari (masked for English-only requests).
    non_english: Vec<u32>,
    /// Target ids that write digits or number separators, with their text.
    number_tokens: Vec<(u32, String)>,
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
        let ids = 0..tokenizer.target_vocab_size() as u32;
        let non_english = ids
            .clone()
            .filter(|&id| tokenizer.piece(id).chars().any(is_indic))
            .collect();
        let number_tokens = ids
            .map(|id| (id, tokenizer.piece(id).replace('\u{2581}', " ")))
            .filter(|(_, text)| is_number_token(text))
            .collect();
        let info = super::model_info(card, path, sha256, "marian");
        Ok(MarianEngine {
            info,
            tokenizer,
            model,
            non_english,
            number_tokens,
        })
    }

    fn source_ids(&self, req: &Request) -> Result<Vec<u32>> {
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
    /// similar lengths together; results in the order given. A rule's
    /// `max_new_tokens` counts the closing `</s>` (as `transformers` does).
    pub fn search(
        &self,
        sources: &[Vec<u32>],
        rules: &[Rules],
        width: usize,
        beams: usize,
        on_token: &mut dyn FnMut() -> Result<()>,
    ) -> Result<Vec<Generation>> {
        let mut order: Vec<usize> = (0..sources.len()).collect();
        order.sort_by_key(|&i| std::cmp::Reverse(sources[i].len()));
        let decode = |ids: &[u32]| Ok(self.tokenizer.decode(ids));
        let never = [self.tokenizer.pad];
        let vocab = Vocab {
            end: std::slice::from_ref(&self.tokenizer.eos),
            never: &never,
            non_english: &self.non_english,
            blank_lines: &[],
            number_tokens: &self.number_tokens,
            decode: &decode,
        };
        let mut out: Vec<Option<Generation>> = vec![None; sources.len()];
        for group in order.chunks(width.max(1)) {
            let srcs: Vec<&[u32]> = group.iter().map(|&i| sources[i].as_slice()).collect();
            // The search's budget leaves out the end token; the state has room for it.
            let rls: Vec<Rules> = group
                .iter()
                .map(|&i| Rules {
                    max_new_tokens: self.steps(&rules[i]) - 1,
                    ..rules[i].clone()
                })
                .collect();
            let positions = group
                .iter()
                .map(|&i| self.steps(&rules[i]))
                .max()
                .unwrap_or(1);
            let mut rows = MarianRows {
                engine: self,
                sources: srcs,
                positions,
                state: None,
            };
            let found = search::run(&mut rows, &rls, &vocab, group.len(), beams, on_token)?;
            for (&i, g) in group.iter().zip(found) {
                out[i] = Some(g);
            }
        }
        Ok(out
            .into_iter()
            .map(|g| g.expect("every source searched"))
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

    /// The most decoder steps a source may take, the closing `</s>` included (position
    /// table permitting).
    fn steps(&self, rules: &Rules) -> usize {
        rules
            .max_new_tokens
            .min(self.model.config.max_position_embeddings - 1)
            .max(1)
    }
}

/// The decoder rows of one group of sources, encoded together. Rows cannot join a
/// running group: a group starts once, and its rows then only step, reorder or end.
struct MarianRows<'a> {
    engine: &'a MarianEngine,
    sources: Vec<&'a [u32]>,
    positions: usize,
    state: Option<DecoderState>,
}

impl Rows for MarianRows<'_> {
    fn start(&mut self, requests: &[usize]) -> Result<Vec<Vec<f32>>> {
        let sources: Vec<&[u32]> = requests.iter().map(|&i| self.sources[i]).collect();
        let mut state = self.engine.start(&sources, self.positions)?;
        let first = vec![self.engine.model.config.decoder_start_token_id; sources.len()];
        let logits = self.engine.step(&first, &mut state)?;
        self.state = Some(state);
        Ok(logits)
    }

    fn step(&mut self, tokens: &[u32]) -> Result<Vec<Vec<f32>>> {
        let state = self
            .state
            .as_mut()
            .ok_or_else(|| Error::Invalid("a Marian step before its group started".into()))?;
        self.engine.step(tokens, state)
    }

    fn keep(&mut self, rows: &[usize]) -> Result<()> {
        if let Some(state) = &mut self.state {
            let rows: Vec<u32> = rows.iter().map(|&r| r as u32).collect();
            state.select(&rows);
        }
        Ok(())
    }

    fn continuous(&self) -> bool {
        false
    }

    fn capacity(&self) -> usize {
        usize::MAX
    }
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

    fn generate(
        &mut self,
        reqs: &[Request],
        width: usize,
        on_token: &mut dyn FnMut() -> Result<()>,
    ) -> Result<Vec<Generation>> {
        if reqs.is_empty() {
            return Ok(Vec::new());
        }
        let beams = super::beam_width(reqs)?;
        let started = Instant::now();
        let sources: Vec<Vec<u32>> = reqs
            .iter()
            .map(|r| self.source_ids(r))
            .collect::<Result<_>>()?;
        let rules: Vec<Rules> = reqs.iter().map(|r| r.rules.clone()).collect();
        let mut out = self.search(&sources, &rules, width, beams, on_token)?;
        // Encoding and decoding interleave in a batch; time is shared out evenly.
        let seconds = started.elapsed().as_secs_f64() / reqs.len() as f64;
        for (g, s) in out.iter_mut().zip(&sources) {
            g.prompt_tokens = s.len();
            g.prefill_seconds = 0.0;
            g.decode_seconds = seconds;
        }
        Ok(out)
    }
}
