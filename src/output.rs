//! Last stage: render a translation or a summary as plain text, JSON or Markdown.

use crate::assemble::Translation;
use crate::config::{OutputFormat, SummaryLength};
use crate::engine::ModelInfo;
use crate::generate::Stats;
use crate::segment::ParagraphKind;
use crate::summarize::Summary;
use serde_json::{Value, json};

pub fn model_json(m: &ModelInfo) -> Value {
    json!({"id": m.id, "file": m.file, "sha256": m.sha256, "architecture": m.architecture})
}

/// The counts of a run, which are the same every time for the same input and model.
pub fn counts_json(s: &Stats) -> Value {
    json!({
        "input_tokens": s.input_tokens,
        "output_tokens": s.output_tokens,
        "chunks": s.chunks,
        "retries": s.retries,
    })
}

/// The timings of a run, which vary from run to run.
pub fn timings_json(s: &Stats) -> Value {
    json!({
        "seconds": round(s.seconds, 3),
        "cached_prompt_tokens": s.cached_tokens,
        "prefill_tokens_per_second": round(s.prefill_tokens_per_second(), 1),
        "decode_tokens_per_second": round(s.decode_tokens_per_second(), 1),
    })
}

fn stats_json(s: &Stats) -> Value {
    let mut v = counts_json(s);
    merge(&mut v, timings_json(s));
    v
}

pub fn round(x: f64, digits: i32) -> f64 {
    let scale = 10f64.powi(digits);
    (x * scale).round() / scale
}

/// Copy the fields of object `from` into object `into`.
pub fn merge(into: &mut Value, from: Value) {
    if let (Value::Object(into), Value::Object(from)) = (into, from) {
        into.extend(from);
    }
}

/// The translation part of a JSON result.
pub fn translation_json(t: &Translation) -> Value {
    json!({"translation": t.text(), "paragraphs": t.paragraphs})
}

/// The summary part of a JSON result.
pub fn summary_json(sum: &Summary, length: SummaryLength) -> Value {
    json!({
        "summary": sum.summary,
        "bullets": sum.bullets,
        "length": length,
        "target_words": sum.target_words,
        "notes": sum.notes,
    })
}

fn with_model_and_stats(mut v: Value, model: &ModelInfo, stats: &Stats) -> String {
    merge(
        &mut v,
        json!({"model": model_json(model), "stats": stats_json(stats)}),
    );
    format!("{}\n", serde_json::to_string_pretty(&v).unwrap_or_default())
}

pub fn render_translation(
    t: &Translation,
    model: &ModelInfo,
    stats: &Stats,
    format: OutputFormat,
) -> String {
    match format {
        OutputFormat::Text => ensure_newline(t.text()),
        OutputFormat::Json => with_model_and_stats(translation_json(t), model, stats),
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
        OutputFormat::Json => with_model_and_stats(summary_json(sum, length), model, stats),
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
