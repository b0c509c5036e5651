//! Last stage: render a translation or a summary as plain text, JSON or Markdown.

use crate::assemble::Translation;
use crate::config::{OutputFormat, SummaryLength};
use crate::engine::ModelInfo;
use crate::generate::Stats;
use crate::segment::ParagraphKind;
use crate::summarize::Summary;
use serde_json::json;

fn model_json(m: &ModelInfo) -> serde_json::Value {
    json!({"id": m.id, "file": m.file, "sha256": m.sha256, "architecture": m.architecture})
}

fn stats_json(s: &Stats) -> serde_json::Value {
    json!({
        "input_tokens": s.input_tokens,
        "output_tokens": s.output_tokens,
        "seconds": (s.seconds * 1000.0).round() / 1000.0,
        "chunks": s.chunks,
        "retries": s.retries,
        "prefill_tokens_per_second": (s.prefill_tokens_per_second() * 10.0).round() / 10.0,
        "decode_tokens_per_second": (s.decode_tokens_per_second() * 10.0).round() / 10.0,
    })
}

pub fn render_translation(
    t: &Translation,
    model: &ModelInfo,
    stats: &Stats,
    format: OutputFormat,
) -> String {
    match format {
        OutputFormat::Text => ensure_newline(t.text()),
        OutputFormat::Json => {
            let v = json!({
                "translation": t.text(),
                "paragraphs": t.paragraphs,
                "model": model_json(model),
                "stats": stats_json(stats),
            });
            format!("{}\n", serde_json::to_string_pretty(&v).unwrap_or_default())
        }
        OutputFormat::Markdown => {
            let mut s = String::new();
            for p in &t.paragraphs {
                let line = match p.kind {
                    ParagraphKind::Heading => format!("## {}", p.translation),
                    ParagraphKind::Caption | ParagraphKind::Credit => {
                        format!("*{}*", p.translation)
                    }
                    ParagraphKind::Body => p.translation.clone(),
                };
                s.push_str(&line);
                s.push_str("\n\n");
            }
            s.push_str(&format!(
                "---\n*Translated by anuvad with {} ({}).*\n",
                model.id, model.file
            ));
            s
        }
    }
}

pub fn render_summary(
    sum: &Summary,
    length: SummaryLength,
    bullets: bool,
    model: &ModelInfo,
    stats: &Stats,
    format: OutputFormat,
) -> String {
    let body = if bullets {
        sum.bullets
            .iter()
            .map(|b| format!("- {b}"))
            .collect::<Vec<_>>()
            .join("\n")
    } else {
        sum.summary.clone()
    };
    match format {
        OutputFormat::Text => ensure_newline(body),
        OutputFormat::Json => {
            let v = json!({
                "summary": sum.summary,
                "bullets": sum.bullets,
                "length": length,
                "target_words": sum.target_words,
                "notes": sum.notes,
                "model": model_json(model),
                "stats": stats_json(stats),
            });
            format!("{}\n", serde_json::to_string_pretty(&v).unwrap_or_default())
        }
        OutputFormat::Markdown => format!(
            "## Summary\n\n{body}\n\n---\n*Summarized by anuvad with {} ({}).*\n",
            model.id, model.file
        ),
    }
}

fn ensure_newline(mut s: String) -> String {
    if !s.ends_with('\n') {
        s.push('\n');
    }
    s
}
