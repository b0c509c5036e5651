//! The decoder-only GGUF engine: a tokenizer, one model family (chosen by the GGUF's
//! `general.architecture`), and the generation loop with stop strings, the repetition
//! guard and reuse of the shared prompt prefix.

use super::sampling::{Rng, apply_repetition_penalty, is_looping, log_prob, log_sum_exp, pick};
use super::{Engine, Finish, GenerateRequest, Generation, ModelInfo};
use crate::card::{ModelCard, TokenizerKind};
use crate::error::{Error, Result};
use crate::models::{KvCache, gemma3};
use crate::tokenizer::{self, Specials};
use candle_core::quantized::gguf_file;
use candle_core::{Device, Tensor};
use candle_transformers::models::{quantized_llama, quantized_qwen2, quantized_qwen3};
use std::io::BufReader;
use std::path::Path;
use std::time::Instant;

pub const SUPPORTED_ARCHITECTURES: &[&str] = &["gemma3", "llama", "qwen2", "qwen3"];

enum Net {
    /// Our own Gemma 3, with an external KV cache so the prompt prefix can be reused.
    Gemma3 {
        model: gemma3::Model,
        cache: KvCache,
    },
    // candle-transformers' models keep their KV cache inside; they re-run the prefix
    // for every chunk.
    Llama(quantized_llama::ModelWeights),
    Qwen2(quantized_qwen2::ModelWeights),
    Qwen3(quantized_qwen3::ModelWeights),
}

impl Net {
    /// Feed `tokens` at position `pos` and return the last position's logits.
    fn step(
        &mut self,
        tokens: &[u32],
        pos: usize,
        device: &Device,
    ) -> candle_core::Result<Vec<f32>> {
        let input = Tensor::new(tokens, device)?.unsqueeze(0)?;
        let logits = match self {
            Net::Gemma3 { model, cache } => {
                cache.truncate(pos);
                model.forward(&input, cache, gemma3::Logits::Last)?
            }
            Net::Llama(m) => m.forward(&input, pos)?,
            Net::Qwen2(m) => m.forward(&input, pos)?,
            Net::Qwen3(m) => {
                if pos == 0 {
                    m.clear_kv_cache();
                }
                m.forward(&input, pos)?
            }
        };
        logits.flatten_all()?.to_vec1::<f32>()
    }

    /// Feed `tokens` at `pos` and return the logits after each of them (teacher
    /// forcing). Gemma 3 does it in one pass; the others one token at a time.
    fn step_all(
        &mut self,
        tokens: &[u32],
        pos: usize,
        device: &Device,
    ) -> candle_core::Result<Vec<Vec<f32>>> {
        match self {
            Net::Gemma3 { model, cache } => {
                cache.truncate(pos);
                let input = Tensor::new(tokens, device)?.unsqueeze(0)?;
                let logits = model.forward(&input, cache, gemma3::Logits::All)?;
                logits.squeeze(0)?.to_vec2::<f32>()
            }
            _ => tokens
                .iter()
                .enumerate()
                .map(|(k, &t)| self.step(&[t], pos + k, device))
                .collect(),
        }
    }

    fn keeps_prefix(&self) -> bool {
        matches!(self, Net::Gemma3 { .. })
    }
}

pub struct DecoderEngine {
    info: ModelInfo,
    vocab: Vocab,
    specials: Specials,
    net: Net,
    device: Device,
    capacity: usize,
    /// The prefix whose KV entries are in the cache now, and its token count.
    cached_prefix: Option<(String, usize)>,
}

impl DecoderEngine {
    /// Load `path` described by `card`. `tokenizer_json` is the downloaded tokenizer file
    /// when the card takes its tokenizer from the hub.
    pub fn load(
        path: &Path,
        card: &ModelCard,
        sha256: String,
        tokenizer_json: Option<&Path>,
    ) -> Result<Self> {
        let fix = format!("anuvad models pull {}", card.id);
        // candle's messages may carry a backtrace after the first line; users need the line.
        let corrupt = |detail: String| Error::ModelCorrupt {
            path: path.to_path_buf(),
            detail: detail.lines().next().unwrap_or_default().to_string(),
            fix: fix.clone(),
        };
        let file = std::fs::File::open(path).map_err(|_| Error::ModelMissing {
            path: path.to_path_buf(),
            fix: fix.clone(),
        })?;
        let mut reader = BufReader::new(file);
        let content = gguf_file::Content::read(&mut reader)
            .map_err(|e| corrupt(format!("unreadable GGUF header: {e}")))?;
        let arch = content
            .metadata
            .get("general.architecture")
            .and_then(|v| v.to_string().ok().cloned())
            .unwrap_or_default();
        if !SUPPORTED_ARCHITECTURES.contains(&arch.as_str()) {
            return Err(Error::UnsupportedArchitecture {
                arch,
                path: path.to_path_buf(),
                supported: SUPPORTED_ARCHITECTURES.join(", "),
            });
        }

        let (tok, specials) = tokenizer::from_gguf(&content)?;
        let tokenizer = match (&card.tokenizer.source, tokenizer_json) {
            (TokenizerKind::Hub, Some(p)) => tokenizer::from_json_file(p)?,
            (TokenizerKind::Hub, None) => {
                return Err(Error::Tokenizer(format!(
                    "card {} takes its tokenizer from the hub but none was given",
                    card.id
                )));
            }
            (TokenizerKind::Gguf | TokenizerKind::Marian, _) => tok,
        };
        let mut stop_ids: Vec<u32> = specials
            .eos
            .into_iter()
            .chain(specials.eot.iter().copied())
            .collect();
        for t in &card.generation.stop_tokens {
            match tokenizer.token_to_id(t) {
                Some(id) => stop_ids.push(id),
                None => {
                    return Err(Error::Card {
                        path: format!("models/{}.toml", card.id),
                        message: format!("stop token {t:?} is not in the model's vocabulary"),
                    });
                }
            }
        }
        stop_ids.sort_unstable();
        stop_ids.dedup();

        let device = Device::Cpu;
        let capacity = card.context.use_tokens;
        let net = match arch.as_str() {
            "gemma3" => {
                let model = gemma3::Model::load(&content, &mut reader, &device, capacity)
                    .map_err(|e| corrupt(e.to_string()))?;
                let cache = model.new_cache();
                Net::Gemma3 { model, cache }
            }
            "llama" => Net::Llama(
                quantized_llama::ModelWeights::from_gguf(content, &mut reader, &device)
                    .map_err(|e| corrupt(e.to_string()))?,
            ),
            "qwen2" => Net::Qwen2(
                quantized_qwen2::ModelWeights::from_gguf(content, &mut reader, &device)
                    .map_err(|e| corrupt(e.to_string()))?,
            ),
            _ => Net::Qwen3(
                quantized_qwen3::ModelWeights::from_gguf(content, &mut reader, &device)
                    .map_err(|e| corrupt(e.to_string()))?,
            ),
        };
        let info = ModelInfo::new(card, path, sha256, arch, capacity);
        let (non_english, blank_lines) = classify_vocab(&tokenizer);
        Ok(DecoderEngine {
            info,
            vocab: Vocab {
                tokenizer,
                stop_ids,
                non_english,
                blank_lines,
            },
            specials,
            net,
            device,
            capacity,
            cached_prefix: None,
        })
    }

    fn encode(&self, text: &str) -> Result<Vec<u32>> {
        let enc = self
            .vocab
            .tokenizer
            .encode(text, false)
            .map_err(|e| Error::Tokenizer(e.to_string()))?;
        Ok(enc.get_ids().to_vec())
    }

    /// Feed the prompt, reusing the prefix's KV entries when the same prefix is cached:
    /// returns the logits after the last prompt token and how many tokens were reused.
    fn prefill(
        &mut self,
        prefix: &str,
        prefix_ids: &[u32],
        body_ids: &[u32],
    ) -> Result<(Vec<f32>, usize)> {
        let reuse = self.net.keeps_prefix()
            && self
                .cached_prefix
                .as_ref()
                .is_some_and(|(p, n)| p == prefix && *n == prefix_ids.len());
        if reuse {
            let logits = self.net.step(body_ids, prefix_ids.len(), &self.device)?;
            Ok((logits, prefix_ids.len()))
        } else if self.net.keeps_prefix() && !prefix_ids.is_empty() && !body_ids.is_empty() {
            self.net.step(prefix_ids, 0, &self.device)?;
            self.cached_prefix = Some((prefix.to_string(), prefix_ids.len()));
            let logits = self.net.step(body_ids, prefix_ids.len(), &self.device)?;
            Ok((logits, 0))
        } else {
            self.cached_prefix = None;
            let all: Vec<u32> = prefix_ids.iter().chain(body_ids).copied().collect();
            Ok((self.net.step(&all, 0, &self.device)?, 0))
        }
    }
}

impl Engine for DecoderEngine {
    fn info(&self) -> &ModelInfo {
        &self.info
    }

    fn count_tokens(&self, text: &str) -> Result<usize> {
        Ok(self.encode(text)?.len())
    }

    fn score(&mut self, prefix: &str, body: &str, continuation: &str) -> Result<Vec<f32>> {
        let mut prefix_ids: Vec<u32> = Vec::new();
        if self.specials.add_bos {
            prefix_ids.extend(self.specials.bos);
        }
        prefix_ids.extend(self.encode(prefix)?);
        let body_ids = self.encode(body)?;
        let cont = self.encode(continuation)?;
        if cont.is_empty() {
            return Ok(Vec::new());
        }
        let start = prefix_ids.len() + body_ids.len();
        if start + cont.len() + 1 > self.capacity {
            return Err(Error::ContextTooSmall {
                context: self.capacity,
                needed: start + cont.len() + 1,
            });
        }
        // The prompt as in generation (reusing a cached prefix), then the continuation
        // fed whole: the logits before each of its tokens give that token's probability.
        let (first, _) = self.prefill(prefix, &prefix_ids, &body_ids)?;
        let mut out = vec![log_prob(&first, cont[0])];
        if cont.len() > 1 {
            let after = self
                .net
                .step_all(&cont[..cont.len() - 1], start, &self.device)?;
            out.extend(after.iter().zip(&cont[1..]).map(|(l, &t)| log_prob(l, t)));
        }
        Ok(out)
    }

    fn generate_batch(
        &mut self,
        reqs: &[GenerateRequest],
        width: usize,
        on_token: &mut dyn FnMut() -> Result<()>,
    ) -> Result<Vec<Generation>> {
        let mut prompts = Vec::with_capacity(reqs.len());
        for req in reqs {
            let mut prefix_ids: Vec<u32> = Vec::new();
            if self.specials.add_bos {
                prefix_ids.extend(self.specials.bos);
            }
            prefix_ids.extend(self.encode(req.prefix)?);
            let body_ids = self.encode(req.body)?;
            let prompt_len = prefix_ids.len() + body_ids.len();
            if prompt_len + 1 > self.capacity {
                return Err(Error::ContextTooSmall {
                    context: self.capacity,
                    needed: prompt_len + 1,
                });
            }
            prompts.push((prefix_ids, body_ids));
        }
        // Decoded together: Gemma 3 requests that share their prefix (every chunk of a
        // run does). Anything else goes one at a time.
        let together = matches!(self.net, Net::Gemma3 { .. })
            && prompts
                .iter()
                .all(|(p, b)| !p.is_empty() && !b.is_empty() && *p == prompts[0].0);
        if !together {
            return reqs
                .iter()
                .zip(&prompts)
                .map(|(req, (p, b))| self.generate_one(req, p, b, on_token))
                .collect();
        }
        self.generate_together(reqs, &prompts, width, on_token)
    }
}

impl DecoderEngine {
    /// One request through `Net::step` (architectures whose KV cache is internal, and
    /// prompts with no shared prefix).
    fn generate_one(
        &mut self,
        req: &GenerateRequest,
        prefix_ids: &[u32],
        body_ids: &[u32],
        on_token: &mut dyn FnMut() -> Result<()>,
    ) -> Result<Generation> {
        let prompt_len = prefix_ids.len() + body_ids.len();
        let t0 = Instant::now();
        let (mut logits, cached_tokens) = self.prefill(req.prefix, prefix_ids, body_ids)?;
        let mut d = Decoding::new(req, prompt_len, self.capacity);
        d.result.cached_tokens = cached_tokens;
        d.result.prefill_seconds = t0.elapsed().as_secs_f64();
        let t1 = Instant::now();
        while let Some(tok) = d.accept(&mut logits, &self.vocab, on_token)? {
            let pos = prompt_len + d.result.output_tokens - 1;
            logits = self.net.step(&[tok], pos, &self.device)?;
        }
        d.result.decode_seconds = t1.elapsed().as_secs_f64();
        Ok(d.result)
    }

    /// Requests with the same prefix, decoded together, at most `width` at a time: the
    /// prefix's KV entries are computed once (or reused from the last call) and shared;
    /// each body is prefilled into a cache of its own; every decode step runs all
    /// sequences in flight through the model in one pass, so the weights are read once
    /// per step for all of them; a finished sequence's slot goes to the next request at
    /// once (continuous batching). Each sequence gets the tokens it would get alone.
    fn generate_together(
        &mut self,
        reqs: &[GenerateRequest],
        prompts: &[(Vec<u32>, Vec<u32>)],
        width: usize,
        on_token: &mut dyn FnMut() -> Result<()>,
    ) -> Result<Vec<Generation>> {
        let Net::Gemma3 { model, cache } = &mut self.net else {
            unreachable!("generate_together is only called for Gemma 3")
        };
        let prefix_ids = &prompts[0].0;
        let prefix = reqs[0].prefix;
        let mut clock = Instant::now();
        let reused = self
            .cached_prefix
            .as_ref()
            .is_some_and(|(p, n)| p == prefix && *n == prefix_ids.len());
        if !reused {
            self.cached_prefix = None;
            cache.truncate(0);
            let input = Tensor::new(prefix_ids.as_slice(), &self.device)?.unsqueeze(0)?;
            model.forward(&input, cache, gemma3::Logits::Last)?;
            self.cached_prefix = Some((prefix.to_string(), prefix_ids.len()));
        }
        cache.truncate(prefix_ids.len());
        let shared: &KvCache = cache;

        let mut results: Vec<Option<Generation>> = vec![None; reqs.len()];
        // In flight: (request index, its decoding state, its cache, the token to feed).
        let mut slots: Vec<(usize, Decoding, KvCache, u32)> = Vec::with_capacity(width);
        let mut waiting = 0..reqs.len();
        loop {
            // Fill free slots: prefill the next bodies and take their first tokens.
            while slots.len() < width.max(1) {
                let Some(i) = waiting.next() else { break };
                let (p, body) = &prompts[i];
                let mut d = Decoding::new(&reqs[i], p.len() + body.len(), self.capacity);
                d.result.cached_tokens = if i == 0 && !reused { 0 } else { p.len() };
                let mut own = model.continuation_cache(shared, body.len() + d.max_new + 1);
                let input = Tensor::new(body.as_slice(), &self.device)?.unsqueeze(0)?;
                let logits = model.forward_seqs(
                    &input,
                    Some(shared),
                    &mut [&mut own],
                    gemma3::Logits::Last,
                )?;
                let mut logits = logits.flatten_all()?.to_vec1::<f32>()?;
                // Timings are attributed so that the requests' totals add up to the wall
                // time: the shared prefix to the first, each body to its own request.
                let now = Instant::now();
                d.result.prefill_seconds = now.duration_since(clock).as_secs_f64();
                clock = now;
                match d.accept(&mut logits, &self.vocab, on_token)? {
                    Some(tok) => slots.push((i, d, own, tok)),
                    None => results[i] = Some(d.result),
                }
            }
            if slots.is_empty() {
                break;
            }
            let tokens: Vec<u32> = slots.iter().map(|s| s.3).collect();
            let input = Tensor::new(tokens.as_slice(), &self.device)?.unsqueeze(1)?;
            let mut caches: Vec<&mut KvCache> = slots.iter_mut().map(|s| &mut s.2).collect();
            let logits =
                model.forward_seqs(&input, Some(shared), &mut caches, gemma3::Logits::Last)?;
            let mut rows = logits.to_vec2::<f32>()?;
            for ((_, d, _, _), row) in slots.iter().zip(rows.iter_mut()) {
                d.prepare(row, &self.vocab);
            }
            let lses = log_sum_exps(&rows);
            let now = Instant::now();
            let step = now.duration_since(clock).as_secs_f64() / slots.len() as f64;
            clock = now;
            let mut still = Vec::with_capacity(slots.len());
            for (((i, mut d, own, _), row), lse) in slots.drain(..).zip(rows).zip(lses) {
                d.result.decode_seconds += step;
                match d.accept_prepared(&row, lse, &self.vocab, on_token)? {
                    Some(tok) => still.push((i, d, own, tok)),
                    None => results[i] = Some(d.result),
                }
            }
            slots = still;
        }
        Ok(results
            .into_iter()
            .map(|r| r.expect("every request finishes"))
            .collect())
    }
}

/// What choosing tokens needs of the vocabulary.
struct Vocab {
    tokenizer: tokenizers::Tokenizer,
    /// Token ids that end a generation: EOS plus the card's end-of-turn tokens.
    stop_ids: Vec<u32>,
    /// Tokens forbidden when `english_only` is asked for (see `GenerateRequest`).
    non_english: Vec<u32>,
    /// Tokens that are only whitespace with a newline: suppressed until the answer has
    /// content, so a model that opens with a newline cannot end on an empty answer.
    blank_lines: Vec<u32>,
}

impl Vocab {
    fn decode(&self, ids: &[u32]) -> Result<String> {
        self.tokenizer
            .decode(ids, true)
            .map_err(|e| Error::Tokenizer(e.to_string()))
    }
}

/// One sequence being generated: takes the logits after each step, picks the next token
/// and decides when to stop (stop tokens and strings, the repetition guard, the budget).
/// The same for a sequence alone and in a batch.
struct Decoding<'r> {
    req: &'r GenerateRequest<'r>,
    rng: Rng,
    max_new: usize,
    out: Vec<u32>,
    result: Generation,
}

impl<'r> Decoding<'r> {
    fn new(req: &'r GenerateRequest<'r>, prompt_len: usize, capacity: usize) -> Self {
        Decoding {
            req,
            rng: Rng::new(req.sampling.seed),
            max_new: req.max_new_tokens.min(capacity.saturating_sub(prompt_len)),
            out: Vec::new(),
            result: Generation {
                text: String::new(),
                finish: Finish::Length,
                prompt_tokens: prompt_len,
                cached_tokens: 0,
                output_tokens: 0,
                logprobs: Vec::new(),
                offsets: Vec::new(),
                prefill_seconds: 0.0,
                decode_seconds: 0.0,
            },
        }
    }

    /// Choose the next token from `logits`; the token to feed back to the model, or
    /// None when the generation is finished.
    fn accept(
        &mut self,
        logits: &mut [f32],
        vocab: &Vocab,
        on_token: &mut dyn FnMut() -> Result<()>,
    ) -> Result<Option<u32>> {
        self.prepare(logits, vocab);
        let lse = log_sum_exp(logits);
        self.accept_prepared(logits, lse, vocab, on_token)
    }

    /// Apply the request's penalty and masks to `logits` (the first half of `accept`,
    /// split so a batch can compute its normalisers in parallel in between).
    fn prepare(&self, logits: &mut [f32], vocab: &Vocab) {
        let g = self.req;
        apply_repetition_penalty(logits, &self.out, g.repetition_penalty, 0.0);
        if g.english_only {
            forbid(logits, &vocab.non_english);
        }
        if self.result.text.trim().is_empty() {
            forbid(logits, &vocab.blank_lines);
        }
    }

    /// The second half of `accept`: `lse` is `log_sum_exp` of the prepared logits.
    fn accept_prepared(
        &mut self,
        logits: &[f32],
        lse: f64,
        vocab: &Vocab,
        on_token: &mut dyn FnMut() -> Result<()>,
    ) -> Result<Option<u32>> {
        let g = self.req;
        if self.out.len() >= self.max_new {
            return Ok(None);
        }
        let (tok, lp) = pick(logits, lse, &g.sampling, &mut self.rng);
        if vocab.stop_ids.contains(&tok) {
            self.result.finish = Finish::Eos;
            return Ok(None);
        }
        self.out.push(tok);
        self.result.output_tokens = self.out.len();
        self.result.logprobs.push(lp);
        on_token()?;
        self.result.text = vocab.decode(&self.out)?;
        self.result.offsets.push(self.result.text.len());
        if let Some(cut) = g
            .stop
            .iter()
            .filter_map(|s| self.result.text.find(s.as_str()))
            .min()
        {
            self.result.text.truncate(cut);
            self.result.finish = Finish::Stop;
            return Ok(None);
        }
        if is_looping(&self.out, g.repeat_ngram, g.repeat_limit) {
            self.result.finish = Finish::Repetition;
            return Ok(None);
        }
        if self.out.len() == self.max_new {
            return Ok(None);
        }
        Ok(Some(tok))
    }
}

/// `log_sum_exp` of every row, rows spread over the worker pool.
pub(super) fn log_sum_exps(rows: &[Vec<f32>]) -> Vec<f64> {
    let out: Vec<std::sync::Mutex<f64>> = rows.iter().map(|_| std::sync::Mutex::new(0.0)).collect();
    candle_core::utils::barrier_pool().execute_chunked(rows.len(), |range| {
        for i in range {
            *out[i].lock().unwrap_or_else(|e| e.into_inner()) = log_sum_exp(&rows[i]);
        }
    });
    out.into_iter()
        .map(|m| m.into_inner().unwrap_or_else(|e| e.into_inner()))
        .collect()
}

fn forbid(logits: &mut [f32], ids: &[u32]) {
    for &id in ids {
        if let Some(l) = logits.get_mut(id as usize) {
            *l = f32::NEG_INFINITY;
        }
    }
}

/// Sort the vocabulary once at load: tokens that would write Devanagari (directly, or
/// through the UTF-8 lead byte 0xE0, which starts every character in U+0800–U+0FFF), and
/// tokens that are nothing but whitespace around a newline. Byte-level vocabularies
/// (GPT-2 style: Qwen, Llama 3) spell bytes as characters: 0xE0 is 'à', '\n' is 'Ċ'.
fn classify_vocab(tokenizer: &tokenizers::Tokenizer) -> (Vec<u32>, Vec<u32>) {
    let byte_level = tokenizer
        .get_decoder()
        .and_then(|d| serde_json::to_string(d).ok())
        .is_some_and(|d| d.contains("ByteLevel"));
    let mut non_english = Vec::new();
    let mut blank_lines = Vec::new();
    for (piece, id) in tokenizer.get_vocab(true) {
        let writes_e0 = if byte_level {
            piece.contains('à')
        } else {
            piece == "<0xE0>" || piece.chars().any(super::is_indic)
        };
        if writes_e0 {
            non_english.push(id);
        }
        let text = if byte_level {
            piece
                .replace('Ċ', "\n")
                .replace('Ġ', " ")
                .replace('ĉ', "\t")
        } else {
            piece.replace('\u{2581}', " ").replace("<0x0A>", "\n")
        };
        if text.contains('\n') && text.trim().is_empty() {
            blank_lines.push(id);
        }
    }
    non_english.sort_unstable();
    blank_lines.sort_unstable();
    (non_english, blank_lines)
}
