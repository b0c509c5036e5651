//! Tokenizers built from a GGUF's own `tokenizer.ggml.*` metadata, so any GGUF a user
//! brings works with no extra file.
//!
//! Keys read: `tokenizer.ggml.model` ("llama" = SentencePiece-style BPE, as Gemma and
//! Llama 2 use; "gpt2" = byte-level BPE, as Qwen and Llama 3 use), `.tokens`, `.scores`,
//! `.token_type` (1 normal, 2 unknown, 3 control, 4 user-defined, 6 byte), `.merges`
//! (gpt2 only), `.pre` (gpt2 pre-tokenizer: qwen2, llama-bpe, default), `.bos_token_id`,
//! `.eos_token_id`, `.unknown_token_id`, `.add_bos_token` (default true for llama, false
//! for gpt2), `.add_space_prefix` (default true for llama).
//!
//! SentencePiece-style GGUFs carry no merges: llama.cpp merges the adjacent pair whose
//! result has the highest score. We derive the equivalent BPE merge list: every split of
//! every normal token into two vocabulary pieces, ranked by the token's score. As in
//! llama.cpp, user-defined tokens (newline and space runs, markup) are matched literally
//! before BPE, and control tokens (`<bos>`, `<start_of_turn>` …) are special.

use crate::error::{Error, Result};
use candle_core::quantized::gguf_file::{Content, Value};
use std::collections::HashMap;
use std::path::Path;
use tokenizers::decoders::byte_fallback::ByteFallback;
use tokenizers::decoders::byte_level::ByteLevel as ByteLevelDecoder;
use tokenizers::decoders::fuse::Fuse;
use tokenizers::decoders::sequence::Sequence as DecoderSequence;
use tokenizers::models::bpe::BPE;
use tokenizers::normalizers::{Prepend, Replace, Sequence as NormalizerSequence};
use tokenizers::pre_tokenizers::byte_level::ByteLevel;
use tokenizers::pre_tokenizers::sequence::Sequence as PreSequence;
use tokenizers::pre_tokenizers::split::{Split, SplitPattern};
use tokenizers::{
    AddedToken, DecoderWrapper, NormalizerWrapper, PreTokenizerWrapper, SplitDelimiterBehavior,
    Tokenizer,
};

pub mod marian;

const NORMAL: i32 = 1;
const CONTROL: i32 = 3;
const USER_DEFINED: i32 = 4;

/// Special token ids the engine needs.
#[derive(Debug, Clone, Default)]
pub struct Specials {
    pub bos: Option<u32>,
    pub eos: Option<u32>,
    pub add_bos: bool,
    /// Other end-of-turn tokens present in the vocabulary.
    pub eot: Vec<u32>,
}

fn err(msg: impl Into<String>) -> Error {
    Error::Tokenizer(msg.into())
}

fn get<'a>(c: &'a Content, key: &str) -> Option<&'a Value> {
    c.metadata.get(key)
}

fn strings(c: &Content, key: &str) -> Result<Vec<String>> {
    let v = get(c, key).ok_or_else(|| err(format!("GGUF metadata `{key}` is missing")))?;
    let arr = v
        .to_vec()
        .map_err(|_| err(format!("`{key}` is not an array")))?;
    arr.iter()
        .map(|x| {
            x.to_string()
                .cloned()
                .map_err(|_| err(format!("`{key}` has a non-string entry")))
        })
        .collect()
}

fn numbers(c: &Content, key: &str) -> Option<Vec<f64>> {
    let arr = get(c, key)?.to_vec().ok()?;
    arr.iter()
        .map(|v| match v {
            Value::F32(x) => Some(*x as f64),
            Value::F64(x) => Some(*x),
            Value::I32(x) => Some(*x as f64),
            Value::U32(x) => Some(*x as f64),
            Value::I8(x) => Some(*x as f64),
            Value::U8(x) => Some(*x as f64),
            Value::I16(x) => Some(*x as f64),
            Value::U16(x) => Some(*x as f64),
            Value::I64(x) => Some(*x as f64),
            Value::U64(x) => Some(*x as f64),
            _ => None,
        })
        .collect()
}

fn id(c: &Content, key: &str) -> Option<u32> {
    get(c, key).and_then(|v| v.to_u32().ok())
}

fn flag(c: &Content, key: &str) -> Option<bool> {
    get(c, key).and_then(|v| v.to_bool().ok())
}

pub fn specials(c: &Content) -> Specials {
    let model = get(c, "tokenizer.ggml.model")
        .and_then(|v| v.to_string().ok())
        .cloned()
        .unwrap_or_default();
    let tokens = strings(c, "tokenizer.ggml.tokens").unwrap_or_default();
    let eot = [
        "<end_of_turn>",
        "<|im_end|>",
        "<|eot_id|>",
        "<|endoftext|>",
        "<|end|>",
    ]
    .iter()
    .filter_map(|t| tokens.iter().position(|x| x == t).map(|i| i as u32))
    .collect();
    Specials {
        bos: id(c, "tokenizer.ggml.bos_token_id"),
        eos: id(c, "tokenizer.ggml.eos_token_id"),
        add_bos: flag(c, "tokenizer.ggml.add_bos_token").unwrap_or(model == "llama"),
        eot,
    }
}

/// Build the tokenizer described by the GGUF's metadata.
pub fn from_gguf(c: &Content) -> Result<(Tokenizer, Specials)> {
    let model = get(c, "tokenizer.ggml.model")
        .and_then(|v| v.to_string().ok())
        .cloned()
        .ok_or_else(|| {
            err("GGUF metadata `tokenizer.ggml.model` is missing; this file carries no tokenizer")
        })?;
    let tokens = strings(c, "tokenizer.ggml.tokens")?;
    let n = tokens.len();
    let types: Vec<i32> = numbers(c, "tokenizer.ggml.token_type")
        .map(|v| v.into_iter().map(|x| x as i32).collect())
        .unwrap_or_else(|| vec![NORMAL; n]);
    if types.len() != n {
        return Err(err(format!("{} token types for {n} tokens", types.len())));
    }
    let tok = match model.as_str() {
        "llama" => spm(c, &tokens, &types)?,
        "gpt2" => byte_level(c, &tokens, &types)?,
        other => {
            return Err(err(format!(
                "tokenizer type `{other}` is not supported (supported: llama, gpt2); give the card a hub tokenizer.json instead"
            )));
        }
    };
    Ok((tok, specials(c)))
}

pub fn from_json_file(path: &Path) -> Result<Tokenizer> {
    Tokenizer::from_file(path).map_err(|e| err(format!("cannot load {}: {e}", path.display())))
}

/// SentencePiece-style BPE with byte fallback.
fn spm(c: &Content, tokens: &[String], types: &[i32]) -> Result<Tokenizer> {
    let scores = numbers(c, "tokenizer.ggml.scores")
        .ok_or_else(|| err("GGUF metadata `tokenizer.ggml.scores` is missing"))?;
    if scores.len() != tokens.len() {
        return Err(err(format!(
            "{} scores for {} tokens",
            scores.len(),
            tokens.len()
        )));
    }
    // Pieces as the BPE model sees them: spaces are '▁' after normalization. User-defined
    // tokens (runs of spaces among them) are matched on the raw text and keep their form.
    let pieces: Vec<String> = tokens
        .iter()
        .zip(types)
        .map(|(t, ty)| {
            if *ty == USER_DEFINED {
                t.clone()
            } else {
                t.replace(' ', "\u{2581}")
            }
        })
        .collect();
    let mut vocab: HashMap<String, u32> = HashMap::with_capacity(pieces.len());
    for (i, p) in pieces.iter().enumerate() {
        vocab.entry(p.clone()).or_insert(i as u32);
    }
    let mergeable = |i: usize| types[i] == NORMAL;
    let mut merges: Vec<(f64, u32, String, String)> = Vec::new();
    for (i, p) in pieces.iter().enumerate() {
        if !mergeable(i) || p.chars().nth(1).is_none() {
            continue;
        }
        for (split, _) in p.char_indices().skip(1) {
            let (l, r) = p.split_at(split);
            let ok = |s: &str| vocab.get(s).is_some_and(|&j| mergeable(j as usize));
            if ok(l) && ok(r) {
                merges.push((scores[i], i as u32, l.to_string(), r.to_string()));
            }
        }
    }
    // Highest score first; for equal scores the lower id (the more frequent piece).
    merges.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)));
    let merges: Vec<(String, String)> = merges.into_iter().map(|(_, _, l, r)| (l, r)).collect();

    let unk =
        id(c, "tokenizer.ggml.unknown_token_id").and_then(|i| pieces.get(i as usize).cloned());
    let mut builder = BPE::builder()
        .vocab_and_merges(
            vocab
                .into_iter()
                .collect::<tokenizers::models::bpe::Vocab>(),
            merges,
        )
        .byte_fallback(true)
        .fuse_unk(true);
    if let Some(u) = unk {
        builder = builder.unk_token(u);
    }
    let bpe = builder
        .build()
        .map_err(|e| err(format!("building the BPE model: {e}")))?;
    let mut tok = Tokenizer::new(bpe);

    let mut norm: Vec<NormalizerWrapper> = Vec::new();
    if flag(c, "tokenizer.ggml.add_space_prefix").unwrap_or(true) {
        norm.push(Prepend::new("\u{2581}".into()).into());
    }
    norm.push(
        Replace::new(" ", "\u{2581}")
            .map_err(|e| err(e.to_string()))?
            .into(),
    );
    tok.with_normalizer(Some(NormalizerSequence::new(norm)))
        .map_err(|e| err(e.to_string()))?;
    let decoders: Vec<DecoderWrapper> = vec![
        tokenizers::decoders::DecoderWrapper::Replace(
            Replace::new("\u{2581}", " ").map_err(|e| err(e.to_string()))?,
        ),
        ByteFallback::new().into(),
        Fuse::new().into(),
    ];
    tok.with_decoder(Some(DecoderSequence::new(decoders)));
    add_literal_tokens(&mut tok, tokens, types)?;
    Ok(tok)
}

/// Byte-level BPE (GPT-2 style) with the GGUF's merges.
fn byte_level(c: &Content, tokens: &[String], types: &[i32]) -> Result<Tokenizer> {
    let merges: Vec<(String, String)> = strings(c, "tokenizer.ggml.merges")?
        .into_iter()
        .map(|m| {
            m.split_once(' ')
                .map(|(a, b)| (a.to_string(), b.to_string()))
                .ok_or_else(|| err(format!("merge `{m}` is not two pieces")))
        })
        .collect::<Result<_>>()?;
    let vocab: HashMap<String, u32> = tokens
        .iter()
        .enumerate()
        .map(|(i, t)| (t.clone(), i as u32))
        .collect();
    let bpe = BPE::builder()
        .vocab_and_merges(
            vocab
                .into_iter()
                .collect::<tokenizers::models::bpe::Vocab>(),
            merges,
        )
        .build()
        .map_err(|e| err(format!("building the BPE model: {e}")))?;
    let mut tok = Tokenizer::new(bpe);
    let pre = get(c, "tokenizer.ggml.pre")
        .and_then(|v| v.to_string().ok())
        .cloned()
        .unwrap_or_default();
    // The split patterns llama.cpp uses for these pre-tokenizer names.
    let pattern = match pre.as_str() {
        "qwen2" => Some(
            r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+",
        ),
        "llama-bpe" | "llama3" | "smaug-bpe" => Some(
            r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+",
        ),
        _ => None,
    };
    let pre_tok: PreTokenizerWrapper = match pattern {
        Some(p) => {
            let split = Split::new(
                SplitPattern::Regex(p.into()),
                SplitDelimiterBehavior::Isolated,
                false,
            )
            .map_err(|e| err(format!("pre-tokenizer regex: {e}")))?;
            PreSequence::new(vec![
                split.into(),
                ByteLevel::new(false, false, false).into(),
            ])
            .into()
        }
        None => ByteLevel::new(false, false, true).into(),
    };
    tok.with_pre_tokenizer(Some(pre_tok));
    tok.with_decoder(Some(ByteLevelDecoder::new(false, false, false)));
    add_literal_tokens(&mut tok, tokens, types)?;
    Ok(tok)
}

/// Control tokens become special tokens; user-defined ones are matched as they are
/// written in the raw text, before normalization, as llama.cpp does.
fn add_literal_tokens(tok: &mut Tokenizer, tokens: &[String], types: &[i32]) -> Result<()> {
    let special: Vec<AddedToken> = tokens
        .iter()
        .zip(types)
        .filter(|(_, t)| **t == CONTROL)
        .map(|(s, _)| AddedToken::from(s.clone(), true))
        .collect();
    let literal: Vec<AddedToken> = tokens
        .iter()
        .zip(types)
        .filter(|(s, t)| **t == USER_DEFINED && !s.is_empty())
        .map(|(s, _)| AddedToken::from(s.clone(), false).normalized(false))
        .collect();
    tok.add_special_tokens(special)
        .map_err(|e| err(e.to_string()))?;
    tok.add_tokens(literal).map_err(|e| err(e.to_string()))?;
    Ok(())
}
