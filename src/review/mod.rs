//! The editor's view of a translation: rows of Hindi sentence(s) beside their English,
//! each with the model's confidence and the flags of the checks (`checks`). Built from
//! this tool's own translation (one row per sentence) or from a translation made
//! elsewhere aligned to its source (`align`, one row per aligned group), and rendered as
//! Markdown, JSON or a self-contained HTML page (`html`).

pub mod html;

use crate::align::Group;
use crate::assemble::{Confidence, Translation};
use crate::checks::{self, Check, Flag, Pair, Settings};
use crate::segment::{Document, ParagraphKind};
use serde::Serialize;
use std::collections::BTreeMap;

#[derive(Debug, Clone, Serialize)]
pub struct Row {
    pub paragraph: usize,
    pub kind: ParagraphKind,
    /// The Hindi sentence(s) of the row (none for English with no Hindi behind it).
    pub source: Vec<String>,
    pub english: String,
    pub confidence: Option<Confidence>,
    pub flags: Vec<Flag>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Review {
    pub rows: Vec<Row>,
    /// The low-confidence threshold the rows were checked against.
    pub min_mean_logprob: f32,
}

impl Review {
    /// Run the checks over `rows` (their flags are replaced).
    fn checked(mut rows: Vec<Row>, settings: &Settings) -> Review {
        let sources: Vec<String> = rows.iter().map(|r| r.source.join(" ")).collect();
        let pairs: Vec<Pair> = rows
            .iter()
            .zip(&sources)
            .map(|(r, s)| Pair {
                source: s,
                english: &r.english,
                mean_logprob: r.confidence.map(|c| c.mean_logprob),
            })
            .collect();
        let flags = checks::check_all(&pairs, settings);
        for (row, f) in rows.iter_mut().zip(flags) {
            row.flags = f;
        }
        Review {
            rows,
            min_mean_logprob: settings.min_mean_logprob,
        }
    }

    /// One row per sentence of this tool's translation.
    pub fn of_translation(t: &Translation, settings: &Settings) -> Review {
        let mut rows = Vec::new();
        for (p, para) in t.paragraphs.iter().enumerate() {
            for s in &para.sentences {
                rows.push(Row {
                    paragraph: p,
                    kind: para.kind.clone(),
                    source: vec![s.source.clone()],
                    english: s.translation.clone(),
                    confidence: s.confidence,
                    flags: Vec::new(),
                });
            }
        }
        Review::checked(rows, settings)
    }

    /// One row per aligned group of a translation made elsewhere; `confidence[i]` is
    /// the forced-decoding score of group i.
    pub fn of_alignment(
        doc: &Document,
        groups: &[Group],
        confidence: &[Option<Confidence>],
        settings: &Settings,
    ) -> Review {
        let rows = groups
            .iter()
            .enumerate()
            .map(|(i, g)| Row {
                paragraph: g.paragraph,
                kind: doc
                    .paragraphs
                    .get(g.paragraph)
                    .map_or(ParagraphKind::Body, |p| p.kind.clone()),
                source: g
                    .source
                    .iter()
                    .map(|&(p, s)| doc.paragraphs[p].sentences[s].clone())
                    .collect(),
                english: g.english.join(" "),
                confidence: confidence.get(i).copied().flatten(),
                flags: Vec::new(),
            })
            .collect();
        Review::checked(rows, settings)
    }

    /// Check this tool's translation and put the flags on its sentences; the review is
    /// returned for a page.
    pub fn flag(t: &mut Translation, settings: &Settings) -> Review {
        let review = Review::of_translation(t, settings);
        review.annotate(t);
        review
    }

    /// Copy the flags back onto the sentences of the translation they were made from.
    pub fn annotate(&self, t: &mut Translation) {
        let mut rows = self.rows.iter();
        for para in &mut t.paragraphs {
            for s in &mut para.sentences {
                if let Some(r) = rows.next() {
                    s.flags = r.flags.clone();
                }
            }
        }
    }

    /// How many rows each check flagged.
    pub fn counts(&self) -> BTreeMap<Check, usize> {
        let mut c = BTreeMap::new();
        for r in &self.rows {
            let mut seen: Vec<Check> = r.flags.iter().map(|f| f.check).collect();
            seen.dedup();
            for k in seen {
                *c.entry(k).or_insert(0) += 1;
            }
        }
        c
    }

    /// The mean of the rows' mean log-probabilities, over rows that have one.
    pub fn overall_confidence(&self) -> Option<f32> {
        let m: Vec<f32> = self
            .rows
            .iter()
            .filter_map(|r| r.confidence.map(|c| c.mean_logprob))
            .collect();
        (!m.is_empty()).then(|| m.iter().sum::<f32>() / m.len() as f32)
    }

    /// Which of `gate` fired on some row.
    pub fn fired(&self, gate: &[Check]) -> Vec<Check> {
        let counts = self.counts();
        gate.iter()
            .copied()
            .filter(|c| counts.contains_key(c))
            .collect()
    }

    pub fn json(&self) -> serde_json::Value {
        let counts: BTreeMap<&str, usize> = self
            .counts()
            .into_iter()
            .map(|(k, v)| (k.name(), v))
            .collect();
        serde_json::json!({
            "summary": {
                "rows": self.rows.len(),
                "flagged_rows": self.rows.iter().filter(|r| !r.flags.is_empty()).count(),
                "flags_by_check": counts,
                "mean_logprob": self.overall_confidence(),
                "min_mean_logprob": self.min_mean_logprob,
            },
            "rows": self.rows,
        })
    }

    /// For a terminal or a merge request: a summary, then a table of every row.
    pub fn markdown(&self) -> String {
        let mut s = String::from("# Translation review\n\n");
        s.push_str(&summary_line(self));
        s.push_str("\n\n| # | Hindi | English | confidence | flags |\n|---:|---|---|---:|---|\n");
        for (i, r) in self.rows.iter().enumerate() {
            let conf = r
                .confidence
                .map_or_else(|| "–".to_string(), |c| format!("{:.2}", c.mean_logprob));
            let flags: Vec<String> = r
                .flags
                .iter()
                .map(|f| format!("**{}**: {}", f.check.name(), cell(&f.message)))
                .collect();
            s.push_str(&format!(
                "| {} | {} | {} | {} | {} |\n",
                i + 1,
                cell(&r.source.join(" ")),
                cell(&r.english),
                conf,
                flags.join("<br>")
            ));
        }
        s
    }
}

/// "24 sentences, 3 flagged: numbers 1, dropped 1 …; mean log-probability -0.62".
pub fn summary_line(r: &Review) -> String {
    let flagged = r.rows.iter().filter(|r| !r.flags.is_empty()).count();
    let counts: Vec<String> = r
        .counts()
        .into_iter()
        .map(|(k, v)| format!("{} {v}", k.name()))
        .collect();
    let mut s = format!("{} rows, {flagged} flagged", r.rows.len());
    if !counts.is_empty() {
        s.push_str(&format!(" ({})", counts.join(", ")));
    }
    if let Some(c) = r.overall_confidence() {
        s.push_str(&format!(
            "; mean token log-probability {c:.2} (low-confidence threshold {:.2})",
            r.min_mean_logprob
        ));
    }
    s
}

fn cell(s: &str) -> String {
    s.replace('|', "\\|").replace('\n', " ")
}
