//! The tokenizer of a Marian (OPUS-MT) repository, built at load time from its files:
//! `source.spm` (SentencePiece model for the source language), `target.spm` (for the
//! target) and `vocab.json` (piece → model id, shared by both sides unless the repo has
//! a `target_vocab.json`).
//!
//! It does what `transformers`' MarianTokenizer does: SentencePiece splits the text into
//! pieces, and each piece is looked up in `vocab.json` (a piece the vocabulary lacks is
//! `<unk>`); `</s>` ends every source. SentencePiece's own steps are reproduced from its
//! model file: the normalisation rules it carries (`precompiled_charsmap`, e.g.
//! nmt_nfkc), collapsing extra whitespace, the dummy-prefix `▁`, and Viterbi over the
//! unigram pieces and scores (consecutive unknown characters fused into one `<unk>`).

use crate::error::{Error, Result};
use std::collections::HashMap;
use std::path::Path;
use tokenizers::models::unigram::Unigram;
use tokenizers::normalizers::Precompiled;
use tokenizers::{Model, NormalizedString, Normalizer};

fn err(msg: impl Into<String>) -> Error {
    Error::Tokenizer(msg.into())
}

/// What anuvad needs of a SentencePiece `ModelProto`.
#[derive(Debug, Default)]
pub struct SpmModel {
    /// (piece, score, type) in model order; type 1 normal, 2 unknown, 3 control,
    /// 4 user-defined, 5 unused, 6 byte.
    pub pieces: Vec<(String, f32, u64)>,
    /// TrainerSpec.model_type: 1 unigram, 2 BPE, 3 word, 4 char.
    pub model_type: u64,
    pub precompiled_charsmap: Vec<u8>,
    pub add_dummy_prefix: bool,
    pub remove_extra_whitespaces: bool,
}

const UNKNOWN: u64 = 2;
const CONTROL: u64 = 3;
const UNUSED: u64 = 5;
const BYTE: u64 = 6;

/// A minimal protobuf reader: enough wire format for SentencePiece's model file.
struct Wire<'a> {
    buf: &'a [u8],
    pos: usize,
}

enum Field<'a> {
    Varint(u64),
    Fixed32(u32),
    Bytes(&'a [u8]),
    Other,
}

impl<'a> Wire<'a> {
    fn new(buf: &'a [u8]) -> Self {
        Wire { buf, pos: 0 }
    }

    fn varint(&mut self) -> Result<u64> {
        let mut v = 0u64;
        for shift in (0..64).step_by(7) {
            let b = *self
                .buf
                .get(self.pos)
                .ok_or_else(|| err(format!("truncated varint at byte {}", self.pos)))?;
            self.pos += 1;
            v |= u64::from(b & 0x7f) << shift;
            if b & 0x80 == 0 {
                return Ok(v);
            }
        }
        Err(err(format!("over-long varint at byte {}", self.pos)))
    }

    fn take(&mut self, n: usize) -> Result<&'a [u8]> {
        let end = self.pos.checked_add(n).filter(|&e| e <= self.buf.len());
        let end = end.ok_or_else(|| {
            err(format!(
                "field of {n} bytes at byte {} runs past the end",
                self.pos
            ))
        })?;
        let s = &self.buf[self.pos..end];
        self.pos = end;
        Ok(s)
    }

    /// The next (field number, value), or None at the end.
    fn next(&mut self) -> Result<Option<(u64, Field<'a>)>> {
        if self.pos >= self.buf.len() {
            return Ok(None);
        }
        let key = self.varint()?;
        let value = match key & 7 {
            0 => Field::Varint(self.varint()?),
            1 => {
                self.take(8)?;
                Field::Other
            }
            2 => {
                let n = self.varint()? as usize;
                Field::Bytes(self.take(n)?)
            }
            5 => {
                let b = self.take(4)?;
                Field::Fixed32(u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
            }
            w => {
                return Err(err(format!(
                    "unknown protobuf wire type {w} at byte {}",
                    self.pos
                )));
            }
        };
        Ok(Some((key >> 3, value)))
    }
}

impl SpmModel {
    /// Parse a SentencePiece model file (`*.spm` / `*.model`).
    pub fn parse(bytes: &[u8]) -> Result<SpmModel> {
        let mut m = SpmModel {
            add_dummy_prefix: true,
            remove_extra_whitespaces: true,
            ..Default::default()
        };
        let mut w = Wire::new(bytes);
        while let Some((field, value)) = w.next()? {
            match (field, value) {
                (1, Field::Bytes(b)) => m.pieces.push(parse_piece(b)?),
                (2, Field::Bytes(b)) => {
                    let mut t = Wire::new(b);
                    while let Some((f, v)) = t.next()? {
                        if let (3, Field::Varint(x)) = (f, v) {
                            m.model_type = x;
                        }
                    }
                }
                (3, Field::Bytes(b)) => {
                    let mut n = Wire::new(b);
                    while let Some((f, v)) = n.next()? {
                        match (f, v) {
                            (2, Field::Bytes(c)) => m.precompiled_charsmap = c.to_vec(),
                            (3, Field::Varint(x)) => m.add_dummy_prefix = x != 0,
                            (4, Field::Varint(x)) => m.remove_extra_whitespaces = x != 0,
                            _ => {}
                        }
                    }
                }
                _ => {}
            }
        }
        if m.pieces.is_empty() {
            return Err(err("no pieces: not a SentencePiece model"));
        }
        Ok(m)
    }
}

fn parse_piece(b: &[u8]) -> Result<(String, f32, u64)> {
    let (mut piece, mut score, mut kind) = (String::new(), 0f32, 1u64);
    let mut w = Wire::new(b);
    while let Some((f, v)) = w.next()? {
        match (f, v) {
            (1, Field::Bytes(s)) => {
                piece = String::from_utf8(s.to_vec())
                    .map_err(|_| err("a SentencePiece piece is not UTF-8"))?
            }
            (2, Field::Fixed32(x)) => score = f32::from_bits(x),
            (3, Field::Varint(x)) => kind = x,
            _ => {}
        }
    }
    Ok((piece, score, kind))
}

/// One SentencePiece unigram model, ready to split text into pieces.
pub struct Spm {
    model: Unigram,
    normalizer: Option<Precompiled>,
    add_dummy_prefix: bool,
    remove_extra_whitespaces: bool,
}

impl Spm {
    pub fn from_bytes(bytes: &[u8], origin: &str) -> Result<Spm> {
        let m = SpmModel::parse(bytes).map_err(|e| err(format!("{origin}: {e}")))?;
        if m.model_type != 1 && m.model_type != 0 {
            return Err(err(format!(
                "{origin}: SentencePiece model type {} is not supported (Marian uses unigram, type 1)",
                m.model_type
            )));
        }
        let unk = m.pieces.iter().position(|p| p.2 == UNKNOWN);
        // Control and unused pieces (`<s>`, `</s>`) are never produced from text; a
        // NUL in front keeps the Viterbi search from matching them literally.
        let vocab: Vec<(String, f64)> = m
            .pieces
            .iter()
            .map(|(p, s, t)| match *t {
                CONTROL | UNUSED | BYTE => (format!("\0{p}"), f64::from(*s)),
                _ => (p.clone(), f64::from(*s)),
            })
            .collect();
        let model = Unigram::from(vocab, unk, false)
            .map_err(|e| err(format!("{origin}: unigram model: {e}")))?;
        let normalizer = if m.precompiled_charsmap.is_empty() {
            None
        } else {
            Some(
                Precompiled::from(&m.precompiled_charsmap)
                    .map_err(|e| err(format!("{origin}: normalisation rules: {e}")))?,
            )
        };
        Ok(Spm {
            model,
            normalizer,
            add_dummy_prefix: m.add_dummy_prefix,
            remove_extra_whitespaces: m.remove_extra_whitespaces,
        })
    }

    /// The text as SentencePiece sees it before the search: normalised, whitespace
    /// collapsed, `▁` for every space and in front.
    fn normalize(&self, text: &str) -> Result<String> {
        let mut n = NormalizedString::from(text);
        if let Some(p) = &self.normalizer {
            p.normalize(&mut n).map_err(|e| err(e.to_string()))?;
        }
        let mut s = n.get().to_string();
        if self.remove_extra_whitespaces {
            s = s
                .split(' ')
                .filter(|w| !w.is_empty())
                .collect::<Vec<_>>()
                .join(" ");
        }
        if s.is_empty() {
            return Ok(s);
        }
        if self.add_dummy_prefix {
            s.insert(0, ' ');
        }
        Ok(s.replace(' ', "\u{2581}"))
    }

    /// The pieces of `text` (unknown runs as the unknown piece).
    pub fn pieces(&self, text: &str) -> Result<Vec<String>> {
        let s = self.normalize(text)?;
        if s.is_empty() {
            return Ok(Vec::new());
        }
        let toks = self.model.tokenize(&s).map_err(|e| err(e.to_string()))?;
        Ok(toks.into_iter().map(|t| t.value).collect())
    }
}

/// Source and target SentencePiece models with the model's vocabulary.
pub struct MarianTokenizer {
    source: Spm,
    target: Spm,
    target_vocab: HashMap<String, u32>,
    vocab: HashMap<String, u32>,
    /// id → piece, for the target side.
    pieces: Vec<String>,
    pub eos: u32,
    pub unk: u32,
    pub pad: u32,
}

impl MarianTokenizer {
    /// Build from a repository folder's files.
    pub fn load(
        source_spm: &Path,
        target_spm: &Path,
        vocab_json: &Path,
        target_vocab_json: Option<&Path>,
    ) -> Result<Self> {
        let read = |p: &Path| {
            std::fs::read(p).map_err(|e| err(format!("cannot read {}: {e}", p.display())))
        };
        let source = Spm::from_bytes(&read(source_spm)?, &source_spm.display().to_string())?;
        let target_model = Spm::from_bytes(&read(target_spm)?, &target_spm.display().to_string())?;
        let vocab = read_vocab(vocab_json)?;
        let target = match target_vocab_json {
            Some(p) => read_vocab(p)?,
            None => vocab.clone(),
        };
        let mut pieces =
            vec![String::new(); target.values().map(|&i| i as usize + 1).max().unwrap_or(0)];
        for (p, &i) in &target {
            pieces[i as usize] = p.clone();
        }
        let id = |t: &str| {
            vocab
                .get(t)
                .copied()
                .ok_or_else(|| err(format!("{} has no {t:?} token", vocab_json.display())))
        };
        Ok(MarianTokenizer {
            eos: id("</s>")?,
            unk: id("<unk>")?,
            pad: id("<pad>")?,
            source,
            target: target_model,
            vocab,
            target_vocab: target,
            pieces,
        })
    }

    /// Source ids of `text`, ending with `</s>` as the model was trained.
    pub fn encode(&self, text: &str) -> Result<Vec<u32>> {
        let mut ids = self.encode_pieces(text)?;
        ids.push(self.eos);
        Ok(ids)
    }

    /// Source ids without the final `</s>` (for counting).
    pub fn encode_pieces(&self, text: &str) -> Result<Vec<u32>> {
        let (code, rest) = split_language_code(text);
        let mut ids = Vec::new();
        if let Some(code) = code {
            ids.push(self.vocab.get(code).copied().unwrap_or(self.unk));
        }
        for p in self.source.pieces(rest)? {
            ids.push(self.vocab.get(&p).copied().unwrap_or(self.unk));
        }
        Ok(ids)
    }

    /// Target ids of English `text` (no `</s>`): a translation to score.
    pub fn encode_target(&self, text: &str) -> Result<Vec<u32>> {
        Ok(self
            .target
            .pieces(text)?
            .iter()
            .map(|p| self.target_vocab.get(p).copied().unwrap_or(self.unk))
            .collect())
    }

    /// Target text of `ids`, special tokens left out.
    pub fn decode(&self, ids: &[u32]) -> String {
        let mut s = String::new();
        for &id in ids {
            if id == self.eos || id == self.pad || id == self.unk {
                continue;
            }
            if let Some(p) = self.pieces.get(id as usize) {
                s.push_str(p);
            }
        }
        let s = s.replace('\u{2581}', " ");
        s.strip_prefix(' ').unwrap_or(&s).to_string()
    }

    /// The target piece of `id` (empty for an id outside the vocabulary).
    pub fn piece(&self, id: u32) -> &str {
        self.pieces.get(id as usize).map_or("", |s| s.as_str())
    }

    pub fn target_vocab_size(&self) -> usize {
        self.pieces.len()
    }
}

fn read_vocab(path: &Path) -> Result<HashMap<String, u32>> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| err(format!("cannot read {}: {e}", path.display())))?;
    serde_json::from_str(&text).map_err(|e| {
        err(format!(
            "{} is not a JSON object of token → id: {e}",
            path.display()
        ))
    })
}

/// Multilingual OPUS models take a target-language code (`>>hin<<`) in front; it is a
/// token of its own, not text for SentencePiece.
fn split_language_code(text: &str) -> (Option<&str>, &str) {
    if let Some(rest) = text.strip_prefix(">>")
        && let Some(end) = rest.find("<<")
        && end > 0
        && !rest[..end].contains(char::is_whitespace)
    {
        return (Some(&text[..end + 4]), &rest[end + 2..]);
    }
    (None, text)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_language_code_in_front_is_its_own_token() {
        assert_eq!(
            split_language_code(">>hin<< नमस्ते"),
            (Some(">>hin<<"), " नमस्ते")
        );
        assert_eq!(split_language_code("नमस्ते >>hin<<"), (None, "नमस्ते >>hin<<"));
        assert_eq!(split_language_code(">><< x"), (None, ">><< x"));
    }

    #[test]
    fn a_truncated_model_file_is_an_error_not_a_panic() {
        let bytes = std::fs::read(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/fixtures/tiny-marian/source.spm"
        ))
        .unwrap();
        for cut in [1, 7, 100, bytes.len() / 2, bytes.len() - 3] {
            assert!(SpmModel::parse(&bytes[..cut]).is_err(), "cut at {cut}");
        }
        assert!(Spm::from_bytes(b"not a model", "x").is_err());
    }
}
