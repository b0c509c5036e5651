//! Last stage: records as people and programs read them: plain text (the English laid
//! out like the source), Markdown, or JSON.

use crate::config::OutputFormat;
use crate::record::{ReviewRecord, SummaryRecord, TranslationRecord};
use crate::review::summary_line;
use crate::text::segment::ParagraphKind;
use serde::Serialize;

/// Pretty JSON with a final newline.
pub fn json<T: Serialize>(value: &T) -> String {
    let mut s = serde_json::to_string_pretty(value).unwrap_or_default();
    s.push('\n');
    s
}

pub fn translation(r: &TranslationRecord, format: OutputFormat) -> String {
    match format {
        OutputFormat::Text => ensure_newline(r.translation.translation.clone()),
        OutputFormat::Json => json(r),
        OutputFormat::Markdown => {
            let mut s = String::new();
            for p in &r.translation.paragraphs {
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
                r.model.id, r.model.file
            ));
            s
        }
    }
}

pub fn summary(r: &SummaryRecord, bullets: bool, format: OutputFormat) -> String {
    let body = if bullets {
        r.summary
            .bullets
            .iter()
            .map(|b| format!("- {b}"))
            .collect::<Vec<_>>()
            .join("\n")
    } else {
        r.summary.summary.clone()
    };
    match format {
        OutputFormat::Text => ensure_newline(body),
        OutputFormat::Json => json(r),
        OutputFormat::Markdown => format!(
            "## Summary\n\n{body}\n\n---\n*Summarized by anuvad with {} ({}).*\n",
            r.model.id, r.model.file
        ),
    }
}

/// A review for a terminal or a merge request: a summary, then a table of every row;
/// or the record as JSON.
pub fn review(r: &ReviewRecord, format: OutputFormat) -> String {
    if format == OutputFormat::Json {
        return json(r);
    }
    let t = &r.translation;
    let mut s = String::from("# Translation review\n\n");
    s.push_str(&summary_line(&t.checks));
    s.push_str(
        "\n\n| # | line | Hindi | English | confidence | flags |\n|---:|---:|---|---|---:|---|\n",
    );
    for (i, row) in t.sentences().enumerate() {
        let conf = row
            .confidence
            .map_or_else(|| "–".to_string(), |c| format!("{:.2}", c.mean_logprob));
        let flags: Vec<String> = row
            .flags
            .iter()
            .map(|f| format!("**{}**: {}", f.check.name(), cell(&f.message)))
            .collect();
        s.push_str(&format!(
            "| {} | {} | {} | {} | {} | {} |\n",
            i + 1,
            row.line,
            cell(&row.source),
            cell(&row.translation),
            conf,
            flags.join("<br>")
        ));
    }
    s
}

fn cell(s: &str) -> String {
    s.replace('|', "\\|").replace('\n', " ")
}

fn ensure_newline(mut s: String) -> String {
    if !s.ends_with('\n') {
        s.push('\n');
    }
    s
}
