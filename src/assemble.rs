//! Put chunk outputs back together: one English paragraph per Hindi paragraph, one
//! English sentence per Hindi sentence, separators exactly as the input had them.

use crate::chunk::Chunk;
use crate::segment::{Document, ParagraphKind};
use serde::Serialize;

/// How sure the model was of a sentence: natural-log token probabilities.
#[derive(Debug, Clone, Copy, Serialize, PartialEq)]
pub struct Confidence {
    pub mean_logprob: f32,
    pub min_logprob: f32,
}

impl Confidence {
    pub fn from_logprobs(lp: &[f32]) -> Option<Confidence> {
        if lp.is_empty() {
            return None;
        }
        Some(Confidence {
            mean_logprob: lp.iter().sum::<f32>() / lp.len() as f32,
            min_logprob: lp.iter().copied().fold(f32::INFINITY, f32::min),
        })
    }
}

/// The English for one source line of a chunk (a sentence, or a piece of one).
#[derive(Debug, Clone, Default)]
pub struct LineOut {
    pub text: String,
    pub logprobs: Vec<f32>,
}

#[derive(Debug, Clone, Serialize)]
pub struct SentenceOut {
    pub source: String,
    pub translation: String,
    pub confidence: Option<Confidence>,
    /// What the review checks found (filled in after assembly; see `review`).
    pub flags: Vec<crate::checks::Flag>,
}

#[derive(Debug, Clone, Serialize)]
pub struct ParagraphOut {
    pub source: String,
    pub translation: String,
    pub kind: ParagraphKind,
    /// The newline run that followed the paragraph in the input ("" after the last).
    #[serde(skip)]
    pub separator: String,
    pub sentences: Vec<SentenceOut>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Translation {
    pub paragraphs: Vec<ParagraphOut>,
}

impl Translation {
    /// The whole English text, laid out like the input.
    pub fn text(&self) -> String {
        let mut s = String::new();
        for p in &self.paragraphs {
            s.push_str(&p.translation);
            s.push_str(&p.separator);
        }
        s
    }
}

/// `outs[i]` holds the English lines of `chunks[i]`, one per sentence of the chunk (one
/// in all for a piece of a split sentence). Pieces of one sentence are joined by a space.
pub fn assemble(doc: &Document, chunks: &[Chunk], outs: &[Vec<LineOut>]) -> Translation {
    let mut sentences: Vec<Vec<LineOut>> = doc
        .paragraphs
        .iter()
        .map(|p| vec![LineOut::default(); p.sentences.len()])
        .collect();
    for (chunk, lines) in chunks.iter().zip(outs) {
        for (k, line) in lines.iter().enumerate() {
            let Some(slot) = sentences
                .get_mut(chunk.paragraph)
                .and_then(|p| p.get_mut(chunk.sentences.start + k))
            else {
                continue;
            };
            if !slot.text.is_empty() && !line.text.is_empty() {
                slot.text.push(' ');
            }
            slot.text.push_str(line.text.trim());
            slot.logprobs.extend_from_slice(&line.logprobs);
        }
    }
    let paragraphs = doc
        .paragraphs
        .iter()
        .zip(sentences)
        .map(|(p, outs)| {
            let sentences: Vec<SentenceOut> = p
                .sentences
                .iter()
                .zip(outs)
                .map(|(src, out)| SentenceOut {
                    source: src.clone(),
                    confidence: Confidence::from_logprobs(&out.logprobs),
                    translation: out.text,
                    flags: Vec::new(),
                })
                .collect();
            let translation = sentences
                .iter()
                .map(|s| s.translation.as_str())
                .filter(|t| !t.is_empty())
                .collect::<Vec<_>>()
                .join(" ");
            ParagraphOut {
                source: p.text.clone(),
                translation,
                kind: p.kind.clone(),
                separator: p.separator.clone(),
                sentences,
            }
        })
        .collect();
    Translation { paragraphs }
}
