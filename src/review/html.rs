//! The review page: one self-contained HTML file (inline CSS and a few lines of
//! script, no network), Hindi and English side by side by sentence, unsure sentences
//! shaded by degree, flags beside their sentence, a summary on top, `j`/`k` (or `n`/`p`)
//! to jump between flagged sentences, and a print style.

use super::{by_check, summary_line};
use crate::record::Translation;
use crate::text::segment::ParagraphKind;

fn esc(s: &str) -> String {
    let mut o = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => o.push_str("&amp;"),
            '<' => o.push_str("&lt;"),
            '>' => o.push_str("&gt;"),
            '"' => o.push_str("&quot;"),
            '\'' => o.push_str("&#39;"),
            _ => o.push(c),
        }
    }
    o
}

/// How unsure the model was, 0 (sure) to 1 (at or beyond twice the threshold), for
/// shading.
fn unsure(mean: f32, threshold: f32) -> f32 {
    let t = threshold.abs().max(0.1);
    ((-mean) / (2.0 * t)).clamp(0.0, 1.0)
}

const STYLE: &str = r#"
:root { --ink:#1d1d1f; --muted:#6e6e73; --line:#d8d8dc; --flag:#b3261e; --warm:255,149,0; }
* { box-sizing: border-box; }
body { margin: 0; font: 15px/1.55 system-ui, -apple-system, "Segoe UI", Roboto, "Noto Sans", "Noto Sans Devanagari", sans-serif; color: var(--ink); background: #fff; }
header { padding: 20px 28px 12px; border-bottom: 1px solid var(--line); }
h1 { font-size: 20px; margin: 0 0 6px; }
.summary { color: var(--muted); margin: 0 0 8px; }
.chips { display: flex; flex-wrap: wrap; gap: 6px; margin: 6px 0; }
.chip { border: 1px solid var(--line); border-radius: 999px; padding: 1px 10px; font-size: 13px; }
.chip b { color: var(--flag); }
.help { font-size: 13px; color: var(--muted); }
kbd { border: 1px solid var(--line); border-bottom-width: 2px; border-radius: 4px; padding: 0 4px; font-size: 12px; }
main { padding: 8px 28px 40px; }
.cols { display: grid; grid-template-columns: 2.2em 1fr 1fr; gap: 0 18px; font-size: 12px; color: var(--muted); text-transform: uppercase; letter-spacing: .04em; padding: 8px 0; border-bottom: 1px solid var(--line); }
.para { border-bottom: 1px solid var(--line); padding: 6px 0; }
.row { display: grid; grid-template-columns: 2.2em 1fr 1fr; gap: 0 18px; padding: 6px 6px; border-radius: 6px; outline: none; }
.row:focus { box-shadow: 0 0 0 2px #0a84ff; }
.num { color: var(--muted); font-size: 12px; text-align: right; padding-top: 3px; }
.hi { font-family: "Noto Sans Devanagari", "Nirmala UI", "Mangal", "Lohit Devanagari", "Kohinoor Devanagari", system-ui, sans-serif; font-size: 16px; }
.en { border-radius: 4px; padding: 0 4px; }
.heading .hi, .heading .en { font-weight: 650; font-size: 17px; }
.caption .hi, .caption .en, .credit .hi, .credit .en { font-style: italic; color: var(--muted); }
.conf { font-size: 12px; color: var(--muted); }
.flags { grid-column: 2 / 4; margin: 4px 0 2px; padding: 0; list-style: none; }
.flags li { font-size: 13px; color: var(--flag); margin: 2px 0; }
.flags li::before { content: "⚑ "; }
.flags code { font-size: 12px; background: #fbe9e7; border-radius: 3px; padding: 0 4px; }
.row.flagged { background: #fff8f7; }
.empty { color: var(--flag); font-style: italic; }
@media print {
  header { border: 0; padding: 0 0 8px; }
  main { padding: 0; }
  .help, .row:focus { display: none; box-shadow: none; }
  .row { break-inside: avoid; }
  .en, .row.flagged { -webkit-print-color-adjust: exact; print-color-adjust: exact; }
  body { font-size: 11pt; }
}
"#;

const SCRIPT: &str = r#"
(function () {
  var rows = Array.prototype.slice.call(document.querySelectorAll('.row.flagged'));
  var at = -1;
  function go(d) {
    if (!rows.length) return;
    at = (at + d + rows.length) % rows.length;
    rows[at].focus();
    rows[at].scrollIntoView({block: 'center'});
  }
  document.addEventListener('keydown', function (e) {
    if (e.altKey || e.ctrlKey || e.metaKey) return;
    if (e.key === 'j' || e.key === 'n') { go(1); e.preventDefault(); }
    if (e.key === 'k' || e.key === 'p') { go(-1); e.preventDefault(); }
  });
})();
"#;

/// The whole page for a checked translation. `title` names the article (a file name,
/// usually).
pub fn render(t: &Translation, title: &str) -> String {
    let checks = &t.checks;
    let mut s = String::new();
    s.push_str("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n");
    s.push_str("<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n");
    s.push_str(&format!(
        "<title>Review: {}</title>\n<style>{STYLE}</style>\n</head>\n<body>\n",
        esc(title)
    ));
    s.push_str(&format!(
        "<header>\n<h1>Translation review: {}</h1>\n<p class=\"summary\">{}</p>\n<div class=\"chips\">",
        esc(title),
        esc(&summary_line(checks))
    ));
    for (check, n) in by_check(checks) {
        s.push_str(&format!(
            "<span class=\"chip\">{} <b>{n}</b></span>",
            esc(check.name())
        ));
    }
    s.push_str("</div>\n<p class=\"help\">Press <kbd>j</kbd>/<kbd>n</kbd> for the next flagged sentence, <kbd>k</kbd>/<kbd>p</kbd> for the previous. Shading: how unsure the model was of the English.</p>\n</header>\n<main>\n");
    s.push_str("<div class=\"cols\"><span>#</span><span>Hindi</span><span>English</span></div>\n");
    let mut row = 0;
    for p in t.paragraphs.iter().filter(|p| !p.sentences.is_empty()) {
        let kind = match p.kind {
            ParagraphKind::Heading => "heading",
            ParagraphKind::Caption => "caption",
            ParagraphKind::Credit => "credit",
            ParagraphKind::Body => "body",
        };
        s.push_str(&format!("<div class=\"para {kind}\">\n"));
        for r in &p.sentences {
            row += 1;
            let flagged = !r.flags.is_empty();
            let shade = r
                .confidence
                .map(|c| unsure(c.mean_logprob, checks.low_confidence_below))
                .unwrap_or(0.0);
            let title_attr = r.confidence.map_or(String::new(), |c| {
                format!(
                    " title=\"mean token log-probability {:.2}, lowest {:.2}\"",
                    c.mean_logprob, c.min_logprob
                )
            });
            s.push_str(&format!(
                "<div class=\"row{}\" id=\"s{row}\" tabindex=\"{}\" data-flags=\"{}\">",
                if flagged { " flagged" } else { "" },
                if flagged { "0" } else { "-1" },
                r.flags
                    .iter()
                    .map(|f| f.check.name())
                    .collect::<Vec<_>>()
                    .join(" ")
            ));
            s.push_str(&format!("<span class=\"num\">{row}</span>"));
            let hindi = if r.source.trim().is_empty() {
                "<span class=\"empty\">(no Hindi)</span>".to_string()
            } else {
                format!("<span class=\"src\">{}</span>", esc(&r.source))
            };
            s.push_str(&format!("<div class=\"hi\" lang=\"hi\">{hindi}</div>"));
            let english = if r.translation.trim().is_empty() {
                "<span class=\"empty\">(no English)</span>".to_string()
            } else {
                esc(&r.translation)
            };
            s.push_str(&format!(
                "<div class=\"en\" lang=\"en\" style=\"background: rgba(var(--warm),{:.2})\"{title_attr}>{english}",
                shade * 0.45
            ));
            if let Some(c) = r.confidence {
                s.push_str(&format!(
                    " <span class=\"conf\">({:.2})</span>",
                    c.mean_logprob
                ));
            }
            s.push_str("</div>");
            if flagged {
                s.push_str("<ul class=\"flags\">");
                for f in &r.flags {
                    s.push_str(&format!(
                        "<li><code>{}</code> {}</li>",
                        esc(f.check.name()),
                        esc(&f.message)
                    ));
                }
                s.push_str("</ul>");
            }
            s.push_str("</div>\n");
        }
        s.push_str("</div>\n");
    }
    s.push_str(&format!(
        "</main>\n<script>{SCRIPT}</script>\n</body>\n</html>\n"
    ));
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::{Confidence, Paragraph, Sentence};
    use crate::review::checks::{Check, Flag};

    fn paragraph(index: usize, hi: &str, en: &str, flags: Vec<Flag>) -> Paragraph {
        Paragraph {
            index,
            kind: ParagraphKind::Body,
            source: hi.into(),
            translation: en.into(),
            sentences: vec![Sentence {
                index: 0,
                source: hi.into(),
                translation: en.into(),
                confidence: Some(Confidence {
                    mean_logprob: -0.5,
                    min_logprob: -2.0,
                }),
                flags,
                source_sentences: None,
            }],
            separator: "\n".into(),
        }
    }

    #[test]
    fn the_page_is_self_contained_escaped_and_has_every_sentence_once() {
        let paragraphs = vec![
            paragraph(0, "पहला <वाक्य>।", "The first <sentence>.", vec![]),
            paragraph(
                1,
                "दूसरा वाक्य 412।",
                "The second one 421.",
                vec![Flag {
                    check: Check::Numbers,
                    message: "in the Hindi but not in the English: 412".into(),
                }],
            ),
        ];
        let checks = crate::review::count(&paragraphs, -1.5);
        let page = render(&Translation::new(paragraphs, checks), "a&b.txt");
        assert!(page.starts_with("<!DOCTYPE html>"));
        assert!(!page.contains("http://") && !page.contains("https://") && !page.contains("src="));
        assert_eq!(page.matches("<span class=\"src\">").count(), 2);
        assert!(page.contains("पहला &lt;वाक्य&gt;।"));
        assert!(page.contains("Translation review: a&amp;b.txt"));
        assert!(page.contains("data-flags=\"numbers\""));
        assert!(page.contains("<code>numbers</code> in the Hindi but not in the English: 412"));
        assert_eq!(page.matches("class=\"row flagged\"").count(), 1);
    }

    #[test]
    fn shading_grows_with_unsureness() {
        assert_eq!(unsure(-0.0, -1.5), 0.0);
        assert!(unsure(-1.5, -1.5) > unsure(-0.5, -1.5));
        assert_eq!(unsure(-10.0, -1.5), 1.0);
    }
}

// BEGIN TEMPORARY desk stub (serve branch)
/// The review desk served at `/` by `anuvad serve` (the real page comes from the desk
/// branch): a placeholder naming the model and version, and the endpoints it would call.
pub fn desk(model: &str, version: &str) -> String {
    format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>anuvad review desk</title></head><body><h1>anuvad review desk</h1><p>model {} · anuvad {}</p><p>POST /api/translate, /api/review, /api/check</p></body></html>",
        esc(model),
        esc(version)
    )
}
// END TEMPORARY desk stub
