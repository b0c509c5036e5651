//! The decoder-only GGUF engine: a tokenizer, one model family (chosen by the GGUF's
//! `general.architecture`) on the shared transformer, reuse of the shared prompt
//! prefix, and the rows that `search` decodes: rows sharing the prefix's KV entries,
//! decoded together in one pass over the weights.

use super::sampling::log_prob;
use super::search::{self, Rows, Vocab as SearchVocab};
use super::{Engine, Generation, ModelInfo, Request};
use crate::card::{ModelCard, SUPPORTED_ARCHITECTURES, TokenizerKind};
use crate::error::{Error, Result};
use crate::facts::numbers::english_scale;
use crate::gguf;
use crate::models::KvCache;
use crate::models::transformer::{self, Logits};
use crate::models::{gemma3, llama, qwen2, qwen3};
use crate::text::script::is_indic;
use crate::tokenizer::{self, Specials};
use candle_core::quantized::gguf_file;
use candle_core::{Device, Tensor};
use std::io::BufReader;
use std::path::Path;
use std::time::Instant;

/// The model and the KV cache of its one long-lived sequence (the shared prompt prefix,
/// or a whole prompt when there is no prefix to share).
struct Net {
    model: transformer::Model,
    cache: KvCache,
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
        self.cache.truncate(pos);
        let logits = self.model.forward(&input, &mut self.cache, Logits::Last)?;
        logits.flatten_all()?.to_vec1::<f32>()
    }

    /// Feed `tokens` at `pos` and return the logits after each of them (teacher
    /// forcing), in one pass.
    fn step_all(
        &mut self,
        tokens: &[u32],
        pos: usize,
        device: &Device,
    ) -> candle_core::Result<Vec<Vec<f32>>> {
        self.cache.truncate(pos);
        let input = Tensor::new(tokens, device)?.unsqueeze(0)?;
        let logits = self.model.forward(&input, &mut self.cache, Logits::All)?;
        logits.squeeze(0)?.to_vec2::<f32>()
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
        gguf::scan_header(&mut reader).map_err(|e| corrupt(format!("GGUF header: {e}")))?;
        let content = gguf_file::Content::read(&mut reader)
            .map_err(|e| corrupt(format!("unreadable GGUF header: {e}")))?;
        let size = reader.get_ref().metadata().map_or(0, |m| m.len());
        gguf::check_tensor_data(&content, size).map_err(corrupt)?;
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
        let model = family_config(&arch, &content)
            .and_then(|cfg| transformer::Model::load(cfg, &content, &mut reader, &device, capacity))
            .map_err(|e| corrupt(e.to_string()))?;
        // A token id past the embedding would fail only when the text first uses it.
        let rows = content
            .tensor_infos
            .get("token_embd.weight")
            .map_or(0, |t| t.shape.dims()[0]);
        if tokenizer.get_vocab_size(true) > rows {
            return Err(corrupt(format!(
                "its tokenizer has {} tokens but `token_embd.weight` only {rows} rows",
                tokenizer.get_vocab_size(true)
            )));
        }
        let cache = model.new_cache();
        let net = Net { model, cache };
        let info = super::model_info(card, path, sha256, &arch);
        let classified = classify_vocab(&tokenizer);
        Ok(DecoderEngine {
            info,
            vocab: Vocab {
                tokenizer,
                stop_ids,
                non_english: classified.non_english,
                blank_lines: classified.blank_lines,
                number_tokens: classified.number_tokens,
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

    /// BOS (when the model wants it) and the prefix, then the body, as token ids.
    fn prompt_ids(&self, prefix: &str, body: &str) -> Result<(Vec<u32>, Vec<u32>)> {
        let mut prefix_ids: Vec<u32> = Vec::new();
        if self.specials.add_bos {
            prefix_ids.extend(self.specials.bos);
        }
        prefix_ids.extend(self.encode(prefix)?);
        Ok((prefix_ids, self.encode(body)?))
    }

    /// Make the shared prefix's KV entries current in the Gemma 3 cache (computed, or
    /// reused from the last call) and cut the cache back to them; whether they were
    /// reused.
    fn share_prefix(&mut self, prefix: &str, prefix_ids: &[u32]) -> Result<bool> {
        let Net { model, cache } = &mut self.net;
        let reused = self
            .cached_prefix
            .as_ref()
            .is_some_and(|(p, n)| p == prefix && *n == prefix_ids.len());
        if !reused {
            self.cached_prefix = None;
            cache.truncate(0);
            let input = Tensor::new(prefix_ids, &self.device)?.unsqueeze(0)?;
            model.forward(&input, cache, Logits::Last)?;
            self.cached_prefix = Some((prefix.to_string(), prefix_ids.len()));
        }
        cache.truncate(prefix_ids.len());
        Ok(reused)
    }
}

/// The family's reading of the GGUF metadata into the shared transformer's config.
pub fn family_config(
    arch: &str,
    content: &gguf_file::Content,
) -> candle_core::Result<transformer::Config> {
    match arch {
        "gemma3" => gemma3::config(content),
        "qwen2" => qwen2::config(content),
        "qwen3" => qwen3::config(content),
        "llama" => llama::config(content),
        other => candle_core::bail!("architecture `{other}` has no model family here"),
    }
}

/// Feed a prompt to a model with one internal sequence, reusing the prefix's KV entries
/// when the same prefix is cached: the logits after the last prompt token and how many
/// tokens were reused.
fn prefill(
    net: &mut Net,
    device: &Device,
    cached_prefix: &mut Option<(String, usize)>,
    prefix: &str,
    prefix_ids: &[u32],
    body_ids: &[u32],
) -> Result<(Vec<f32>, usize)> {
    let reuse = cached_prefix
        .as_ref()
        .is_some_and(|(p, n)| p == prefix && *n == prefix_ids.len());
    if reuse {
        let logits = net.step(body_ids, prefix_ids.len(), device)?;
        Ok((logits, prefix_ids.len()))
    } else if !prefix_ids.is_empty() && !body_ids.is_empty() {
        net.step(prefix_ids, 0, device)?;
        *cached_prefix = Some((prefix.to_string(), prefix_ids.len()));
        let logits = net.step(body_ids, prefix_ids.len(), device)?;
        Ok((logits, 0))
    } else {
        *cached_prefix = None;
        let all: Vec<u32> = prefix_ids.iter().chain(body_ids).copied().collect();
        Ok((net.step(&all, 0, device)?, 0))
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
        let (prefix_ids, body_ids) = self.prompt_ids(prefix, body)?;
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
        let (first, _) = prefill(
            &mut self.net,
            &self.device,
            &mut self.cached_prefix,
            prefix,
            &prefix_ids,
            &body_ids,
        )?;
        let mut out = vec![log_prob(&first, cont[0])];
        if cont.len() > 1 {
            let after = self
                .net
                .step_all(&cont[..cont.len() - 1], start, &self.device)?;
            out.extend(after.iter().zip(&cont[1..]).map(|(l, &t)| log_prob(l, t)));
        }
        Ok(out)
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
        let mut prompts = Vec::with_capacity(reqs.len());
        let mut rules = Vec::with_capacity(reqs.len());
        for req in reqs {
            let (prefix_ids, body_ids) = self.prompt_ids(req.prefix, req.body)?;
            let prompt_len = prefix_ids.len() + body_ids.len();
            if prompt_len + 1 > self.capacity {
                return Err(Error::ContextTooSmall {
                    context: self.capacity,
                    needed: prompt_len + 1,
                });
            }
            let mut r = req.rules.clone();
            r.max_new_tokens = r.max_new_tokens.min(self.capacity - prompt_len);
            rules.push(r);
            prompts.push((prefix_ids, body_ids));
        }
        let beams = super::beam_width(reqs)?;
        // Decoded together: requests that share their prefix (every chunk of a run does).
        // Anything else goes one at a time.
        let together = prompts
            .iter()
            .all(|(p, b)| !p.is_empty() && !b.is_empty() && *p == prompts[0].0);
        let clock = Instant::now();
        let reused = together && self.share_prefix(reqs[0].prefix, &prompts[0].0)?;
        let prefix_seconds = clock.elapsed().as_secs_f64();
        let decode = |ids: &[u32]| self.vocab.decode(ids);
        let vocab = SearchVocab {
            end: &self.vocab.stop_ids,
            never: &[],
            non_english: &self.vocab.non_english,
            blank_lines: &self.vocab.blank_lines,
            number_tokens: &self.vocab.number_tokens,
            decode: &decode,
        };
        let mut out = if together {
            let Net { model, cache } = &self.net;
            let mut rows = SharedPrefix {
                model,
                shared: cache,
                device: &self.device,
                bodies: prompts.iter().map(|(_, b)| b.as_slice()).collect(),
                room: prompts
                    .iter()
                    .zip(&rules)
                    .map(|((_, b), r)| b.len() + r.max_new_tokens + 1)
                    .collect(),
                caches: Vec::new(),
            };
            let mut out = search::run(&mut rows, &rules, &vocab, width, beams, on_token)?;
            for (i, (g, (p, _))) in out.iter_mut().zip(&prompts).enumerate() {
                g.cached_tokens = if i == 0 && !reused { 0 } else { p.len() };
            }
            // The shared prefix's time goes to the first request, so totals add up.
            out[0].prefill_seconds += prefix_seconds;
            out
        } else {
            let mut rows = OneRow {
                net: &mut self.net,
                device: &self.device,
                cached_prefix: &mut self.cached_prefix,
                prefixes: reqs.iter().map(|r| r.prefix).collect(),
                prompts: &prompts,
                pos: 0,
                cached: vec![0; reqs.len()],
            };
            let mut out = search::run(&mut rows, &rules, &vocab, 1, beams, on_token)?;
            for (g, c) in out.iter_mut().zip(&rows.cached) {
                g.cached_tokens = *c;
            }
            out
        };
        for (g, (p, b)) in out.iter_mut().zip(&prompts) {
            g.prompt_tokens = p.len() + b.len();
        }
        Ok(out)
    }
}

/// Rows sharing one prompt prefix: the prefix's KV entries are computed once
/// and read by every row; each body is prefilled into a small cache of the row's own;
/// every step runs all rows through the model in one pass, so the weights are read once
/// per step for all of them.
struct SharedPrefix<'a> {
    model: &'a transformer::Model,
    shared: &'a KvCache,
    device: &'a Device,
    /// Per request: its body, and the room its own cache needs (body, answer, one more).
    bodies: Vec<&'a [u32]>,
    room: Vec<usize>,
    /// Per row.
    caches: Vec<KvCache>,
}

impl Rows for SharedPrefix<'_> {
    fn start(&mut self, requests: &[usize]) -> Result<Vec<Vec<f32>>> {
        let mut out = Vec::with_capacity(requests.len());
        for &i in requests {
            let mut own = self.model.continuation_cache(self.shared, self.room[i]);
            let input = Tensor::new(self.bodies[i], self.device)?.unsqueeze(0)?;
            let logits = self.model.forward_seqs(
                &input,
                Some(self.shared),
                &mut [&mut own],
                Logits::Last,
            )?;
            out.push(logits.flatten_all()?.to_vec1::<f32>()?);
            self.caches.push(own);
        }
        Ok(out)
    }

    fn step(&mut self, tokens: &[u32]) -> Result<Vec<Vec<f32>>> {
        let input = Tensor::new(tokens, self.device)?.unsqueeze(1)?;
        let mut caches: Vec<&mut KvCache> = self.caches.iter_mut().collect();
        let logits =
            self.model
                .forward_seqs(&input, Some(self.shared), &mut caches, Logits::Last)?;
        Ok(logits.to_vec2::<f32>()?)
    }

    fn keep(&mut self, rows: &[usize]) -> Result<()> {
        let mut old: Vec<Option<KvCache>> = self.caches.drain(..).map(Some).collect();
        for (k, &r) in rows.iter().enumerate() {
            // A row kept once moves; a row kept again (a beam's second child) is copied.
            let again = rows[k + 1..].contains(&r);
            let cache = if again { old[r].clone() } else { old[r].take() };
            self.caches.push(cache.ok_or_else(|| {
                Error::Invalid(format!("search kept row {r}, which does not exist"))
            })?);
        }
        Ok(())
    }

    fn continuous(&self) -> bool {
        true
    }

    fn capacity(&self) -> usize {
        usize::MAX
    }
}

/// One sequence at a time through `Net::step`: prompts with no shared prefix.
struct OneRow<'a> {
    net: &'a mut Net,
    device: &'a Device,
    cached_prefix: &'a mut Option<(String, usize)>,
    prefixes: Vec<&'a str>,
    prompts: &'a [(Vec<u32>, Vec<u32>)],
    /// The position the next token is fed at.
    pos: usize,
    /// Per request: prefix tokens reused from the cache.
    cached: Vec<usize>,
}

impl Rows for OneRow<'_> {
    fn start(&mut self, requests: &[usize]) -> Result<Vec<Vec<f32>>> {
        let &[i] = requests else {
            return Err(Error::Invalid(
                "this model decodes one sequence at a time".into(),
            ));
        };
        let (p, b) = &self.prompts[i];
        let (logits, cached) = prefill(
            self.net,
            self.device,
            self.cached_prefix,
            self.prefixes[i],
            p,
            b,
        )?;
        self.cached[i] = cached;
        self.pos = p.len() + b.len();
        Ok(vec![logits])
    }

    fn step(&mut self, tokens: &[u32]) -> Result<Vec<Vec<f32>>> {
        let logits = self.net.step(tokens, self.pos, self.device)?;
        self.pos += tokens.len();
        Ok(vec![logits])
    }

    fn keep(&mut self, rows: &[usize]) -> Result<()> {
        match rows {
            [] | [0] => Ok(()),
            _ => Err(Error::Invalid(
                "this model decodes one sequence at a time".into(),
            )),
        }
    }

    fn continuous(&self) -> bool {
        true
    }

    fn capacity(&self) -> usize {
        1
    }
}

/// What choosing tokens needs of the vocabulary.
struct Vocab {
    tokenizer: tokenizers::Tokenizer,
    /// Token ids that end a generation: EOS plus the card's end-of-turn tokens.
    stop_ids: Vec<u32>,
    /// Tokens forbidden for English-only requests (see `Rules::english_only`).
    non_english: Vec<u32>,
    /// Tokens that are only whitespace with a newline (see `search::Vocab::blank_lines`).
    blank_lines: Vec<u32>,
    /// Tokens that write digits or number separators, with their text.
    number_tokens: Vec<(u32, String)>,
}

impl Vocab {
    fn decode(&self, ids: &[u32]) -> Result<String> {
        self.tokenizer
            .decode(ids, true)
            .map_err(|e| Error::Tokenizer(e.to_string()))
    }
}

/// Sort the vocabulary once at load: tokens that would write Devanagari (directly, or
/// through the UTF-8 lead byte 0xE0, which starts every character in U+0800–U+0FFF),
/// tokens that are nothing but whitespace around a newline, and tokens that write digits
/// or number separators (with their text). Byte-level vocabularies (GPT-2 style: Qwen,
/// Llama 3) spell bytes as characters: 0xE0 is 'à', '\n' is 'Ċ', ' ' is 'Ġ'.
fn classify_vocab(tokenizer: &tokenizers::Tokenizer) -> Classified {
    let byte_level = tokenizer
        .get_decoder()
        .and_then(|d| serde_json::to_string(d).ok())
        .is_some_and(|d| d.contains("ByteLevel"));
    let mut c = Classified::default();
    for (piece, id) in tokenizer.get_vocab(true) {
        let writes_e0 = if byte_level {
            piece.contains('à')
        } else {
            piece == "<0xE0>" || piece.chars().any(is_indic)
        };
        if writes_e0 {
            c.non_english.push(id);
        }
        let text = if byte_level {
            piece
                .replace('Ċ', "\n")
                .replace('Ġ', " ")
                .replace('ĉ', "\t")
        } else if let Some(byte) = spm_byte(&piece) {
            byte.to_string()
        } else {
            piece.replace('\u{2581}', " ")
        };
        if text.contains('\n') && text.trim().is_empty() {
            c.blank_lines.push(id);
        }
        if is_number_token(&text) {
            c.number_tokens.push((id, text));
        }
    }
    c.non_english.sort_unstable();
    c.blank_lines.sort_unstable();
    c.number_tokens.sort_unstable();
    c
}

/// The vocabulary sorted by what the masks need (see `classify_vocab`).
#[derive(Default)]
struct Classified {
    non_english: Vec<u32>,
    blank_lines: Vec<u32>,
    number_tokens: Vec<(u32, String)>,
}

/// The ASCII character of a SentencePiece byte-fallback piece (`<0x31>` is '1').
fn spm_byte(piece: &str) -> Option<char> {
    let hex = piece.strip_prefix("<0x")?.strip_suffix('>')?;
    u8::from_str_radix(hex, 16)
        .ok()
        .filter(u8::is_ascii)
        .map(char::from)
}

/// Whether a token's text matters to a number plan: it writes a digit, it is nothing
/// but `,` `.` `:` (which may continue a number), or it is a scale word (`lakh`).
pub(crate) fn is_number_token(text: &str) -> bool {
    text.chars().any(|c| c.is_ascii_digit())
        || (!text.is_empty() && text.chars().all(|c| matches!(c, ',' | '.' | ':')))
        || english_scale(text).is_some()
}
