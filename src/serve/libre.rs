//! The LibreTranslate API, as its clients call it: the same paths, fields (JSON or form
//! bodies), answers and error bodies (`{"error": "..."}` with LibreTranslate's status
//! codes). Only Hindi → English is offered.

use super::{ApiError, AppState, Shared, body, key_ok, submit, wait};
use crate::serve::worker::{Done, Work};
use crate::text::Article;
use crate::text::script::is_devanagari;
use axum::Router;
use axum::extract::{FromRequest, Multipart, Path, Request, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde::Deserialize;
use serde_json::{Value, json};
use std::collections::VecDeque;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/translate", post(translate))
        .route("/detect", post(detect))
        .route("/languages", get(languages))
        .route("/translate_file", post(translate_file))
        .route("/download_file/{file}", get(download_file))
        .route("/frontend/settings", get(settings))
        .route("/suggest", post(suggest))
        .route("/health", get(health))
        // Web pages call LibreTranslate from other origins (LibreTranslate allows any);
        // anuvad's own /api/* stays same-origin.
        .layer(axum::middleware::from_fn(cors))
}

/// LibreTranslate's CORS headers on every answer, and 204 to a browser's preflight.
async fn cors(req: Request, next: axum::middleware::Next) -> Response {
    let mut res = if req.method() == axum::http::Method::OPTIONS {
        StatusCode::NO_CONTENT.into_response()
    } else {
        next.run(req).await
    };
    let h = res.headers_mut();
    for (name, value) in [
        ("access-control-allow-origin", "*"),
        (
            "access-control-allow-headers",
            "Authorization, Content-Type",
        ),
        ("access-control-allow-methods", "GET, POST"),
        ("access-control-max-age", "1728000"),
    ] {
        h.insert(name, axum::http::HeaderValue::from_static(value));
    }
    res
}

/// What health probes of LibreTranslate read.
async fn health() -> Response {
    axum::Json(json!({"status": "ok"})).into_response()
}

fn languages_list() -> Value {
    json!([
        {"code": "hi", "name": "Hindi", "targets": ["en"]},
        {"code": "en", "name": "English", "targets": []},
    ])
}

async fn languages() -> Response {
    axum::Json(languages_list()).into_response()
}

/// What LibreTranslate's web page and some clients read at startup.
async fn settings(State(s): State<AppState>) -> Response {
    let max = s.config.setup.input.max_chars;
    axum::Json(json!({
        "apiKeys": s.config.api_key.is_some(),
        "keyRequired": s.config.api_key.is_some(),
        "charLimit": if max == usize::MAX { -1 } else { max as i64 },
        "frontendTimeout": 500,
        "suggestions": false,
        "filesTranslation": true,
        "supportedFilesFormat": [".txt", ".md"],
        "language": {
            "source": {"code": "hi", "name": "Hindi"},
            "target": {"code": "en", "name": "English"},
        },
    }))
    .into_response()
}

async fn suggest() -> Response {
    ApiError::new(
        StatusCode::FORBIDDEN,
        "Suggestions are disabled on this server.",
    )
    .into_response()
}

#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum Q {
    One(String),
    Many(Vec<String>),
}

#[derive(Debug, Default, Deserialize)]
struct Params {
    q: Option<Q>,
    source: Option<String>,
    target: Option<String>,
    format: Option<String>,
    api_key: Option<String>,
    /// Alternative translations wanted (a number, in JSON or as text in a form).
    alternatives: Option<Value>,
}

impl Params {
    /// Empty fields count as absent, as LibreTranslate reads them; language codes are
    /// case-blind.
    fn tidy(mut self) -> Params {
        let keep = |v: Option<String>| v.filter(|v| !v.trim().is_empty());
        self.source = keep(self.source).map(|v| v.trim().to_lowercase());
        self.target = keep(self.target).map(|v| v.trim().to_lowercase());
        self.format = keep(self.format);
        self.api_key = keep(self.api_key);
        self
    }

    /// How many alternatives were asked for (LibreTranslate's 400 when not a number).
    fn alternatives(&self) -> Result<u64, ApiError> {
        let bad = || ApiError::bad("Invalid request: alternatives parameter is not a number");
        match &self.alternatives {
            None | Some(Value::Null) => Ok(0),
            Some(Value::Number(n)) => n.as_i64().map(|n| n.max(0) as u64).ok_or_else(bad),
            Some(Value::String(t)) if t.trim().is_empty() => Ok(0),
            Some(Value::String(t)) => t
                .trim()
                .parse::<i64>()
                .map(|n| n.max(0) as u64)
                .map_err(|_| bad()),
            Some(_) => Err(bad()),
        }
    }
}

/// The fields of a JSON, urlencoded or multipart body (LibreTranslate's own page sends
/// multipart), with those of the query string under a form's.
async fn params(
    headers: &HeaderMap,
    query: Option<&str>,
    bytes: axum::body::Bytes,
) -> Result<Params, ApiError> {
    let kind = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_ascii_lowercase();
    if kind.starts_with("application/json") {
        let p: Params = serde_json::from_slice(&bytes).map_err(|e| {
            ApiError::bad(format!(
                "Invalid request: the JSON body cannot be read: {e}"
            ))
        })?;
        return Ok(p.tidy());
    }
    let unreadable = |e: String| {
        ApiError::bad(format!(
            "Invalid request: the form body cannot be read: {e}"
        ))
    };
    let mut pairs: Vec<(String, String)> = match query {
        Some(q) => serde_urlencoded::from_str(q).map_err(|e| unreadable(e.to_string()))?,
        None => Vec::new(),
    };
    if kind.starts_with("multipart/form-data") {
        let req = Request::builder()
            .header(header::CONTENT_TYPE, kind.as_str())
            .body(axum::body::Body::from(bytes))
            .map_err(|e| unreadable(e.to_string()))?;
        let mut form = Multipart::from_request(req, &())
            .await
            .map_err(|e| unreadable(e.body_text()))?;
        while let Some(field) = form
            .next_field()
            .await
            .map_err(|e| unreadable(e.body_text()))?
        {
            let name = field.name().unwrap_or("").to_string();
            let text = field.text().await.map_err(|e| unreadable(e.body_text()))?;
            pairs.push((name, text));
        }
    } else {
        let body: Vec<(String, String)> =
            serde_urlencoded::from_bytes(&bytes).map_err(|e| unreadable(e.to_string()))?;
        pairs.extend(body);
    }
    let mut p = Params::default();
    let mut qs = Vec::new();
    for (k, v) in pairs {
        match k.as_str() {
            "q" => qs.push(v),
            "source" => p.source = Some(v),
            "target" => p.target = Some(v),
            "format" => p.format = Some(v),
            "api_key" => p.api_key = Some(v),
            "alternatives" => p.alternatives = Some(Value::String(v)),
            _ => {}
        }
    }
    p.q = match qs.len() {
        0 => None,
        1 => qs.pop().map(Q::One),
        _ => Some(Q::Many(qs)),
    };
    Ok(p.tidy())
}

/// LibreTranslate's key rule: a wrong key is 403, a missing required one 400.
fn check_key(s: &Shared, given: Option<&str>) -> Result<(), ApiError> {
    if key_ok(s, given) {
        return Ok(());
    }
    Err(match given {
        Some(_) => ApiError::new(StatusCode::FORBIDDEN, "Invalid API key"),
        None => ApiError::bad("Please contact the server operator to get an API key"),
    })
}

fn check_pair(source: Option<&str>, target: Option<&str>) -> Result<(), ApiError> {
    let source =
        source.ok_or_else(|| ApiError::bad("Invalid request: missing source parameter"))?;
    let target =
        target.ok_or_else(|| ApiError::bad("Invalid request: missing target parameter"))?;
    if source != "hi" && source != "auto" {
        return Err(ApiError::bad(format!("{source} is not supported")));
    }
    if target != "en" {
        return Err(ApiError::bad(format!("{target} is not supported")));
    }
    Ok(())
}

async fn translate(State(s): State<AppState>, req: Request) -> Result<Response, ApiError> {
    let query = req.uri().query().map(str::to_string);
    let (headers, bytes) = body(&s, req).await?;
    let p = params(&headers, query.as_deref(), bytes).await?;
    check_key(&s, p.api_key.as_deref())?;
    let Some(q) = p.q.as_ref() else {
        return Err(ApiError::bad("Invalid request: missing q parameter"));
    };
    let alternatives = p.alternatives()?;
    check_pair(p.source.as_deref(), p.target.as_deref())?;
    let html = match p.format.as_deref().unwrap_or("text") {
        "text" => false,
        "html" => true,
        other => return Err(ApiError::bad(format!("{other} format is not supported"))),
    };
    let auto = p.source.as_deref() == Some("auto");
    let (texts, many) = match q {
        Q::One(t) => (vec![t.clone()], false),
        Q::Many(ts) => (ts.clone(), true),
    };
    if texts.iter().all(|t| t.trim().is_empty()) {
        return Err(ApiError::bad("Invalid request: missing q parameter"));
    }
    let translated = translate_texts(&s, &texts, html).await?;
    let mut out = serde_json::Map::new();
    if auto {
        let detected: Vec<Value> = texts.iter().map(|t| detection(t)).collect();
        out.insert(
            "detectedLanguage".into(),
            if many {
                Value::from(detected)
            } else {
                detected[0].clone()
            },
        );
    }
    out.insert(
        "translatedText".into(),
        if many {
            Value::from(translated)
        } else {
            Value::from(translated[0].clone())
        },
    );
    // Greedy decoding makes one translation: asked for alternatives, there are none.
    if alternatives > 0 {
        let none: Vec<String> = Vec::new();
        out.insert(
            "alternatives".into(),
            if many {
                json!(vec![none; texts.len()])
            } else {
                json!(none)
            },
        );
    }
    Ok(axum::Json(Value::Object(out)).into_response())
}

/// English for each text (for HTML, the text between the tags, markup kept). Every
/// piece is one article and all go to the model together.
async fn translate_texts(
    s: &Shared,
    texts: &[String],
    html: bool,
) -> Result<Vec<String>, ApiError> {
    // Each text as its pieces: (markup or text with no Hindi, kept) or Hindi to translate.
    let pieces: Vec<Vec<(String, bool)>> = texts
        .iter()
        .map(|t| {
            if html {
                split_html(t)
            } else {
                vec![(t.clone(), t.chars().any(is_devanagari))]
            }
        })
        .collect();
    let rules = &s.config.setup.input;
    let mut works = Vec::new();
    for (i, text) in pieces.iter().enumerate() {
        for (piece, hindi) in text {
            if *hindi {
                let article = Article::new(&format!("q[{i}]"), piece, rules)?;
                works.push((Work::Translate(article), None));
            }
        }
    }
    // Text with no Hindi in it is answered as it came (LibreTranslate echoes text it
    // cannot translate), so a mixed list still translates.
    let replies = submit(s, works)?;
    let mut english = Vec::with_capacity(replies.len());
    for rx in replies {
        match wait(rx).await? {
            Done::Translation(r) => english.push(r.translation.translation),
            _ => unreachable!("a translation job answers with a translation"),
        }
    }
    let mut english = english.into_iter();
    Ok(pieces
        .into_iter()
        .map(|text| {
            text.into_iter()
                .map(|(piece, hindi)| {
                    if !hindi {
                        return piece;
                    }
                    let en = english.next().unwrap_or_default();
                    // Keep the piece's surrounding whitespace (the markup's layout).
                    let lead = &piece[..piece.len() - piece.trim_start().len()];
                    let trail = &piece[piece.trim_end().len()..];
                    format!("{lead}{}{trail}", en.trim())
                })
                .collect()
        })
        .collect())
}

/// HTML as pieces: tags, comments and script/style content kept as they are (false);
/// the text between tags marked for translation when it has Hindi (true).
fn split_html(html: &str) -> Vec<(String, bool)> {
    let mut out = Vec::new();
    let mut rest = html;
    let mut raw_until: Option<&str> = None;
    while !rest.is_empty() {
        if let Some(end) = raw_until {
            let at = rest.to_ascii_lowercase().find(end).unwrap_or(rest.len());
            out.push((rest[..at].to_string(), false));
            rest = &rest[at..];
            raw_until = None;
            continue;
        }
        if rest.starts_with("<!--") {
            let at = rest.find("-->").map_or(rest.len(), |i| i + 3);
            out.push((rest[..at].to_string(), false));
            rest = &rest[at..];
        } else if rest.starts_with('<') {
            let at = rest.find('>').map_or(rest.len(), |i| i + 1);
            let tag = rest[..at].to_ascii_lowercase();
            if tag.starts_with("<script") {
                raw_until = Some("</script");
            } else if tag.starts_with("<style") {
                raw_until = Some("</style");
            }
            out.push((rest[..at].to_string(), false));
            rest = &rest[at..];
        } else {
            let at = rest.find('<').unwrap_or(rest.len());
            let text = &rest[..at];
            out.push((text.to_string(), text.chars().any(is_devanagari)));
            rest = &rest[at..];
        }
    }
    out
}

/// LibreTranslate's detection answer for one text: Hindi when it has Devanagari, by the
/// share of its letters that are (in percent, as LibreTranslate gives confidence).
fn detection(text: &str) -> Value {
    let letters = text.chars().filter(|c| c.is_alphabetic()).count();
    let deva = text
        .chars()
        .filter(|&c| is_devanagari(c) && c.is_alphabetic())
        .count();
    if letters == 0 {
        // LibreTranslate's answer for text with nothing to detect.
        return json!({"confidence": 0.0, "language": "en"});
    }
    let share = (deva as f64 / letters as f64 * 1000.0).round() / 10.0;
    if deva > 0 {
        json!({"confidence": share, "language": "hi"})
    } else {
        json!({"confidence": 100.0 - share, "language": "en"})
    }
}

async fn detect(State(s): State<AppState>, req: Request) -> Result<Response, ApiError> {
    let query = req.uri().query().map(str::to_string);
    let (headers, bytes) = body(&s, req).await?;
    let p = params(&headers, query.as_deref(), bytes).await?;
    check_key(&s, p.api_key.as_deref())?;
    let q = match p.q {
        Some(Q::One(t)) => t,
        Some(Q::Many(ts)) => ts.join("\n"),
        None => String::new(),
    };
    if q.is_empty() {
        return Err(ApiError::bad("Invalid request: missing q parameter"));
    }
    Ok(axum::Json(json!([detection(&q)])).into_response())
}

/// Translated files waiting for download, oldest first; bounded in count and bytes.
#[derive(Default)]
pub struct Files {
    kept: VecDeque<(String, String)>,
    bytes: usize,
    made: u64,
}

impl Files {
    fn put(&mut self, name: &str, text: String) -> String {
        use sha2::Digest;
        self.made += 1;
        let seed = format!(
            "{}:{:?}:{}:{name}",
            self.made,
            std::time::SystemTime::now(),
            std::process::id()
        );
        let id: String = sha2::Sha256::digest(seed.as_bytes())[..12]
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        let file = format!("{id}.{name}");
        self.bytes += text.len();
        self.kept.push_back((file.clone(), text));
        while self.kept.len() > super::FILES_KEPT || self.bytes > super::FILES_BYTES {
            match self.kept.pop_front() {
                Some((_, t)) => self.bytes -= t.len(),
                None => break,
            }
        }
        file
    }

    fn get(&self, file: &str) -> Option<&str> {
        self.kept
            .iter()
            .find(|(f, _)| f == file)
            .map(|(_, t)| t.as_str())
    }
}

/// A file name safe in a URL path and a header: letters, digits, `.`, `-`, `_`.
fn safe_name(name: &str) -> String {
    let base = name.rsplit(['/', '\\']).next().unwrap_or("");
    let clean: String = base
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || "._-".contains(c) {
                c
            } else {
                '_'
            }
        })
        .take(100)
        .collect();
    clean.trim_start_matches('.').to_string()
}

async fn translate_file(
    State(s): State<AppState>,
    headers: HeaderMap,
    mut form: Multipart,
) -> Result<Response, ApiError> {
    let (mut file, mut source, mut target, mut key) = (None, None, None, None);
    let read_error = |e: axum::extract::multipart::MultipartError| {
        if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
            ApiError::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                format!(
                    "the request body is larger than this server's limit of {} bytes; send a smaller file or start the server with a larger --max-request-bytes",
                    s.config.max_request_bytes
                ),
            )
        } else {
            ApiError::bad(format!(
                "Invalid request: the multipart body cannot be read: {e}"
            ))
        }
    };
    while let Some(field) = form.next_field().await.map_err(read_error)? {
        match field.name().unwrap_or("") {
            "file" => {
                let name = field.file_name().unwrap_or("").to_string();
                let bytes = field.bytes().await.map_err(read_error)?;
                file = Some((name, bytes));
            }
            "source" => source = Some(field.text().await.map_err(read_error)?),
            "target" => target = Some(field.text().await.map_err(read_error)?),
            "api_key" => key = Some(field.text().await.map_err(read_error)?),
            _ => {}
        }
    }
    check_key(&s, key.as_deref())?;
    let Some((name, bytes)) = file else {
        return Err(ApiError::bad("Invalid request: missing file parameter"));
    };
    check_pair(source.as_deref(), target.as_deref())?;
    let name = safe_name(&name);
    let lower = name.to_ascii_lowercase();
    if !(lower.ends_with(".txt") || lower.ends_with(".md")) {
        return Err(ApiError::bad(format!(
            "{} format is not supported (this server translates .txt and .md files)",
            lower.rsplit_once('.').map_or("(none)", |(_, e)| e)
        )));
    }
    let text = crate::text::input::decode(bytes.to_vec(), &name)?;
    let english = translate_texts(&s, &[text], false).await?;
    let english = english.into_iter().next().unwrap_or_default();
    let file = s
        .files
        .lock()
        .map_err(|_| {
            ApiError::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                "the file store is broken; restart the server",
            )
        })?
        .put(&name, english);
    let host = headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .filter(|h| {
            h.chars()
                .all(|c| c.is_ascii_alphanumeric() || ".:-[]".contains(c))
        })
        .map(str::to_string)
        .unwrap_or_else(|| s.config.listen.to_string());
    Ok(
        axum::Json(json!({"translatedFileUrl": format!("http://{host}/download_file/{file}")}))
            .into_response(),
    )
}

async fn download_file(State(s): State<AppState>, Path(file): Path<String>) -> Response {
    let files = s.files.lock();
    let Some(text) = files.as_ref().ok().and_then(|f| f.get(&file)) else {
        return ApiError::new(
            StatusCode::NOT_FOUND,
            "Invalid filename: no translated file by that name (files are kept for a while only; translate it again)",
        )
        .into_response();
    };
    let name = file.split_once('.').map_or(file.as_str(), |(_, n)| n);
    (
        [
            (
                header::CONTENT_TYPE,
                "text/plain; charset=utf-8".to_string(),
            ),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"{name}\""),
            ),
        ],
        text.to_string(),
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn html_keeps_its_markup_and_marks_only_hindi_text() {
        let pieces =
            split_html("<p class=\"x\">दिल्ली में बारिश</p><script>var a='हिंदी';</script> ok");
        let marked: Vec<&str> = pieces
            .iter()
            .filter(|p| p.1)
            .map(|p| p.0.as_str())
            .collect();
        assert_eq!(marked, ["दिल्ली में बारिश"]);
        let whole: String = pieces.iter().map(|p| p.0.as_str()).collect();
        assert_eq!(
            whole,
            "<p class=\"x\">दिल्ली में बारिश</p><script>var a='हिंदी';</script> ok"
        );
    }

    #[test]
    fn uploaded_file_names_cannot_leave_the_download_path() {
        assert_eq!(safe_name("../../etc/passwd.txt"), "passwd.txt");
        assert_eq!(safe_name("a b\"c.md"), "a_b_c.md");
    }
}
