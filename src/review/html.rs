//! The review page and the review desk: one page (`desk.css`, `desk.js`, no network)
//! that shows Hindi and English side by side by sentence, with each row's source line,
//! confidence in words and colour, and the checks' flags; the English is edited in
//! place and re-checked, rows are marked reviewed, and the corrected English is
//! exported as text, JSON records or XLIFF 2.0.
//!
//! `render` writes the static page (`translate --review`, `review --html`): the record
//! is embedded and the checks that need no model run in the page's script. `desk` is
//! the server's page: the same script posts an article to the server and renders the
//! record it returns, and re-checks edits through the server.

use crate::facts::numbers::{ENGLISH_SCALES, ENGLISH_WORDS, HINDI_SCALES, HINDI_WORDS};
use crate::review::checks::{MIN_CHARS_FOR_RATIO, RATIO_FACTOR, STOPWORDS};
use serde::Serialize;

const STYLE: &str = include_str!("desk.css");
const SCRIPT: &str = include_str!("desk.js");

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

/// JSON to put inside a `<script>` element: `<` escaped so no string in it can close
/// the element (`</script>`) or open a comment.
fn script_json(v: &impl Serialize) -> String {
    serde_json::to_string(v)
        .unwrap_or_else(|_| "null".into())
        .replace('<', "\\u003c")
}

/// The word tables and limits the page's checks use: the Rust checks' own, so the two
/// cannot drift apart.
fn tables() -> String {
    script_json(&serde_json::json!({
        "hindi_scales": HINDI_SCALES,
        "english_scales": ENGLISH_SCALES,
        "hindi_words": HINDI_WORDS,
        "english_words": ENGLISH_WORDS,
        "stopwords": STOPWORDS,
        "min_chars_for_ratio": MIN_CHARS_FOR_RATIO,
        "ratio_factor": RATIO_FACTOR,
    }))
}

/// What the page's header says and where its record comes from.
struct Page<'a> {
    title: &'a str,
    model: &'a str,
    version: &'a str,
    date: &'a str,
    /// The embedded record (static page), or None (the desk: the server makes it).
    record: Option<String>,
}

fn page(p: &Page) -> String {
    let mode = if p.record.is_some() {
        String::new()
    } else {
        " data-api=\"/api\"".to_string()
    };
    let mut s = String::new();
    s.push_str("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n");
    s.push_str("<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n");
    s.push_str(&format!(
        "<title>Review: {}</title>\n<style>{STYLE}</style>\n</head>\n",
        esc(p.title)
    ));
    s.push_str(&format!(
        "<body data-title=\"{}\" data-model=\"{}\" data-version=\"{}\" data-date=\"{}\"{mode}>\n",
        esc(p.title),
        esc(p.model),
        esc(p.version),
        esc(p.date)
    ));
    s.push_str("<noscript><p class=\"noscript\">This page needs JavaScript to show the review; the JSON record inside it holds every sentence.</p></noscript>\n");
    s.push_str(&format!(
        "<script type=\"application/json\" id=\"anuvad-tables\">{}</script>\n",
        tables()
    ));
    if let Some(record) = &p.record {
        s.push_str(&format!(
            "<script type=\"application/json\" id=\"anuvad-record\">{record}</script>\n"
        ));
    }
    s.push_str(&format!("<script>{SCRIPT}</script>\n</body>\n</html>\n"));
    s
}

/// The static review page of a record (`TranslationRecord` or `ReviewRecord`) made by
/// `model`. `title` names the article (a file name, usually).
pub fn render(record: &impl Serialize, title: &str, model: &str) -> String {
    let today = crate::record::now_rfc3339();
    page(&Page {
        title,
        model,
        version: env!("CARGO_PKG_VERSION"),
        date: today.get(..10).unwrap_or(&today),
        record: Some(script_json(record)),
    })
}

/// The server's review desk: paste or upload an article, translate it (or review a
/// translation made elsewhere) through the server's `/api` endpoints, then edit,
/// re-check, mark reviewed and export, as on the static page.
pub fn desk(model: &str, version: &str) -> String {
    page(&Page {
        title: "Review desk",
        model,
        version,
        date: "",
        record: None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn body_tag(page: &str) -> &str {
        let at = page.find("<body").unwrap();
        &page[at..at + page[at..].find('>').unwrap()]
    }

    #[test]
    fn the_page_is_self_contained_and_its_record_cannot_close_the_script() {
        let record = serde_json::json!({"paragraphs": [{"source": "पहला </script><!-- वाक्य।"}]});
        let page = render(&record, "a&b.txt", "tiny");
        assert!(page.starts_with("<!DOCTYPE html>"));
        assert!(!page.contains("http://") && !page.contains("https://") && !page.contains("src="));
        assert!(page.contains("data-title=\"a&amp;b.txt\" data-model=\"tiny\""));
        assert!(
            !body_tag(&page).contains("data-api"),
            "a static page checks in the page"
        );
        // The only `</script>`s are the three elements' own ends.
        assert_eq!(page.matches("</script>").count(), 3);
        let start = page.find("id=\"anuvad-record\">").unwrap() + 19;
        let end = start + page[start..].find("</script>").unwrap();
        let back: serde_json::Value = serde_json::from_str(&page[start..end]).unwrap();
        assert_eq!(back, record);
    }

    #[test]
    fn the_desk_asks_the_server() {
        let page = desk("gemma3-270m", "0.1.0");
        assert!(body_tag(&page).contains("data-api=\"/api\""));
        assert!(!page.contains("id=\"anuvad-record\""));
        assert!(page.contains("data-model=\"gemma3-270m\" data-version=\"0.1.0\""));
    }

    #[test]
    fn the_page_checks_with_the_rust_checks_tables() {
        let t: serde_json::Value = serde_json::from_str(&tables()).unwrap();
        assert_eq!(
            t["hindi_scales"].as_array().unwrap().len(),
            HINDI_SCALES.len()
        );
        assert_eq!(t["stopwords"][0], STOPWORDS[0]);
        assert_eq!(t["min_chars_for_ratio"], MIN_CHARS_FOR_RATIO);
    }
}
