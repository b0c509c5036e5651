//! anuvad's own endpoints: the CLI's JSON records (`--format json`) for translate,
//! summarize and review; the checks re-run on one edited sentence pair; model info.
//! With `Accept: text/event-stream` the model endpoints stream `progress` events and
//! then one `result` (the record) or `error` (`{"error": "..."}`) event.

use super::{ApiError, AppState, Shared, body, key_ok, submit, wait};
use crate::config::SummaryLength;
use crate::serve::worker::{Done, Work};
use crate::text::Article;
use axum::Router;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde::Deserialize;
use serde::de::DeserializeOwned;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/api/translate", post(translate))
        .route("/api/summarize", post(summarize))
        .route("/api/review", post(review))
        .route("/api/check", post(check))
        .route("/api/info", get(info))
}

// Unknown fields are errors: a misspelt option (`lenght`) must not be silently ignored.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct TranslateRequest {
    text: String,
    title: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SummarizeRequest {
    text: String,
    length: Option<SummaryLength>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ReviewRequest {
    source: String,
    translation: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CheckRequest {
    source: String,
    translation: String,
}

/// The key (`Authorization: Bearer`) and the JSON body of a native request.
async fn read<T: DeserializeOwned>(s: &Shared, req: Request) -> Result<(HeaderMap, T), ApiError> {
    let given = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::trim)
        .map(str::to_string);
    if !key_ok(s, given.as_deref()) {
        return Err(ApiError::new(
            StatusCode::UNAUTHORIZED,
            "this server requires an API key: send the header `Authorization: Bearer KEY` with the key it was started with",
        ));
    }
    let (headers, bytes) = body(s, req).await?;
    let value = serde_json::from_slice(&bytes)
        .map_err(|e| ApiError::bad(format!("the JSON body cannot be read: {e}")))?;
    Ok((headers, value))
}

fn article(s: &Shared, origin: &str, text: &str) -> Result<Article, ApiError> {
    Ok(Article::new(origin, text, &s.config.setup.input)?)
}

async fn translate(State(s): State<AppState>, req: Request) -> Result<Response, ApiError> {
    let (headers, r) = read::<TranslateRequest>(&s, req).await?;
    let a = article(&s, "request", &r.text)?.with_title(r.title);
    run(&s, &headers, Work::Translate(a)).await
}

async fn summarize(State(s): State<AppState>, req: Request) -> Result<Response, ApiError> {
    let (headers, r) = read::<SummarizeRequest>(&s, req).await?;
    let a = article(&s, "request", &r.text)?;
    run(&s, &headers, Work::Summarize(a, r.length)).await
}

async fn review(State(s): State<AppState>, req: Request) -> Result<Response, ApiError> {
    let (headers, r) = read::<ReviewRequest>(&s, req).await?;
    let a = article(&s, "source", &r.source)?;
    if r.translation.trim().is_empty() {
        return Err(crate::error::Error::EmptyInput {
            origin: "translation".into(),
        }
        .into());
    }
    run(&s, &headers, Work::Review(a, r.translation)).await
}

async fn check(State(s): State<AppState>, req: Request) -> Result<Response, ApiError> {
    let (_, r) = read::<CheckRequest>(&s, req).await?;
    let flags = crate::review::recheck(&r.source, &r.translation, &s.terms);
    Ok(axum::Json(serde_json::json!({"flags": flags})).into_response())
}

async fn info(State(s): State<AppState>) -> Response {
    axum::Json(s.info.clone()).into_response()
}

fn record(done: Done) -> serde_json::Value {
    let v = match done {
        Done::Translation(r) => serde_json::to_value(r),
        Done::Summary(r) => serde_json::to_value(r),
        Done::Review(r) => serde_json::to_value(r),
    };
    v.unwrap_or_else(|e| serde_json::json!({"error": format!("cannot write the record: {e}")}))
}

/// Queue `work` and answer with its record, or stream its progress when asked.
async fn run(s: &Shared, headers: &HeaderMap, work: Work) -> Result<Response, ApiError> {
    let stream = headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.contains("text/event-stream"));
    if !stream {
        let rx = submit(s, vec![(work, None)])?.pop().expect("one job");
        return Ok(axum::Json(record(wait(rx).await?)).into_response());
    }
    let (tx, events) = tokio::sync::mpsc::unbounded_channel();
    let rx = submit(s, vec![(work, Some(tx))])?.pop().expect("one job");
    // Progress until the worker drops its sender, then the answer, then the end.
    let state = (events, Some(rx));
    let body = futures_util::stream::unfold(state, |(mut events, rx)| async move {
        if let Some(p) = events.recv().await {
            let e = Event::default().event("progress").data(p);
            return Some((Ok::<_, std::convert::Infallible>(e), (events, rx)));
        }
        let e = match wait(rx?).await {
            Ok(done) => Event::default()
                .event("result")
                .data(record(done).to_string()),
            Err(e) => Event::default().event("error").data(
                serde_json::json!({"error": e.message, "status": e.status.as_u16()}).to_string(),
            ),
        };
        Some((Ok(e), (events, None)))
    });
    Ok(Sse::new(body)
        .keep_alive(KeepAlive::default())
        .into_response())
}
