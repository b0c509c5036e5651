//! Put chunk outputs back together: one English paragraph per Hindi paragraph, one
//! English sentence per Hindi sentence, separators exactly as the input had them.

use super::chunk::Chunk;
use super::segment::Document;
use crate::record::{Confidence, Paragraph, Sentence};

/// The English for one source line of a chunk (a sentence, or a piece of one).
#[derive(Debug, Clone, Default)]
pub struct LineOut {
    pub text: String,
    pub logprobs: Vec<f32>,
}

/// `outs[i]` holds the English lines of `chunks[i]`, one per sentence of the chunk (one
/// in all for a piece of a split sentence). Pieces of one sentence are joined by a space.
pub fn assemble(doc: &Document, chunks: &[Chunk], outs: &[Vec<LineOut>]) -> Vec<Paragraph> {
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
    doc.paragraphs
        .iter()
        .zip(sentences)
        .enumerate()
        .map(|(index, (p, outs))| {
            let sentences: Vec<Sentence> = p
                .sentences
                .iter()
                .zip(outs)
                .enumerate()
                .map(|(i, (src, out))| Sentence {
                    index: i,
                    source: src.clone(),
                    confidence: Confidence::from_logprobs(&out.logprobs),
                    translation: out.text,
                    flags: Vec::new(),
                    line: p.line,
                    source_sentences: None,
                })
                .collect();
            let translation = sentences
                .iter()
                .map(|s| s.translation.as_str())
                .filter(|t| !t.is_empty())
                .collect::<Vec<_>>()
                .join(" ");
            Paragraph {
                index,
                kind: p.kind.clone(),
                source: p.text.clone(),
                translation,
                sentences,
                line: p.line,
                separator: p.separator.clone(),
            }
        })
        .collect()
}
