//! `anuvad serve`: one process with the model loaded once, answering HTTP requests.
//! - a LibreTranslate-compatible API (`libre`), so tools that speak it can use anuvad;
//! - native endpoints returning the CLI's JSON records, with progress as server-sent
//!   events (`native`), which the review desk at `/` calls;
//! - one worker thread owns the pipeline (`worker`); requests waiting together are
//!   decoded together.
//!
//! Safe by default: loopback only unless `--listen` says otherwise, an optional API
//! key, limits on request size, article length and queued work, and a graceful
//! shutdown on SIGINT/SIGTERM that answers the requests in flight.

mod libre;
mod native;
mod worker;

use crate::commands::Setup;
use crate::error::{Error, Result};
use crate::facts::terms::Terms;
use crate::pipeline::Uses;
use crate::progress::{Progress, printable};
use axum::Router;
use axum::body::Bytes;
use axum::extract::{ConnectInfo, Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use std::io::Write;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, mpsc};
use std::time::Instant;
use worker::{Done, Job, Pending, Work};

/// How `anuvad serve` runs.
#[derive(Debug, Clone)]
pub struct ServeConfig {
    /// The models, their options, the article length limit and the hub.
    pub setup: Setup,
    pub listen: SocketAddr,
    /// Required on every translation request when set (LibreTranslate's `api_key`
    /// field; `Authorization: Bearer` on the native endpoints).
    pub api_key: Option<String>,
    /// Larger request bodies are refused with 413.
    pub max_request_bytes: usize,
    /// Jobs queued or running at most; more are refused with 429.
    pub max_queue: usize,
}

/// Translated files kept for download at most, and their total size: the oldest go
/// first.
const FILES_KEPT: usize = 64;
const FILES_BYTES: usize = 64 << 20;

struct Shared {
    config: ServeConfig,
    jobs: Mutex<Option<mpsc::Sender<Job>>>,
    pending: Pending,
    terms: Arc<Terms>,
    info: serde_json::Value,
    model_name: String,
    files: Mutex<libre::Files>,
}

type AppState = Arc<Shared>;

/// Load the models, listen, and answer requests until SIGINT or SIGTERM; then stop
/// accepting, answer the requests in flight and return.
pub fn run(config: ServeConfig, progress: &mut dyn Progress) -> Result<()> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|e| Error::Invalid(format!("cannot start the server's runtime: {e}")))?;
    // Bind before the slow model load, so a taken port fails at once.
    let listener = runtime
        .block_on(tokio::net::TcpListener::bind(config.listen))
        .map_err(|e| {
            Error::Invalid(format!(
                "cannot listen on {}: {e}; pick another port with --port or --listen",
                config.listen
            ))
        })?;
    let local = listener
        .local_addr()
        .map_err(|e| Error::Invalid(format!("cannot read the listening address: {e}")))?;
    if !local.ip().is_loopback() && config.api_key.is_none() {
        log(&format!(
            "warning: listening on {local}, beyond this machine, with no API key: anyone who can reach it can use the model (set --api-key or ANUVAD_API_KEY)"
        ));
    }
    let uses = Uses {
        translate: true,
        summarize: true,
    };
    let pipeline = config.setup.pipeline(uses, progress)?;
    let info = serde_json::json!({
        "version": env!("CARGO_PKG_VERSION"),
        "model": pipeline.translator_info(),
        "summary_model": pipeline.separate_summarizer_info(),
        "max_article_chars": config.setup.input.max_chars,
        "max_request_bytes": config.max_request_bytes,
    });
    let model_name = pipeline
        .translator_info()
        .map(|m| m.id.clone())
        .unwrap_or_default();
    let terms = Arc::new(pipeline.terms().clone());
    let (tx, rx) = mpsc::channel();
    let pending = Pending::default();
    let worker = {
        std::thread::Builder::new()
            .name("anuvad-model".into())
            .spawn(move || worker::run(pipeline, rx))
            .map_err(|e| Error::Invalid(format!("cannot start the model thread: {e}")))?
    };
    let state = Arc::new(Shared {
        config,
        jobs: Mutex::new(Some(tx)),
        pending,
        terms,
        info,
        model_name,
        files: Mutex::new(libre::Files::default()),
    });
    let app = router(state.clone());
    log(&format!("listening on http://{local}"));
    let served = runtime.block_on(async {
        axum::serve(
            listener,
            app.into_make_service_with_connect_info::<SocketAddr>(),
        )
        .with_graceful_shutdown(shutdown_signal())
        .await
    });
    // Every request is answered: let the worker finish and go.
    state.jobs.lock().map(|mut j| j.take()).ok();
    drop(state);
    let _ = worker.join();
    log("stopped");
    served.map_err(|e| Error::Invalid(format!("the server failed: {e}")))
}

fn router(state: AppState) -> Router {
    use axum::routing::get;
    let limit = state.config.max_request_bytes;
    Router::new()
        .route("/", get(desk))
        .merge(libre::routes())
        .merge(native::routes())
        .layer(axum::extract::DefaultBodyLimit::max(limit))
        .layer(middleware::from_fn(log_request))
        .with_state(state)
}

async fn desk(State(s): State<AppState>) -> Response {
    let page = crate::review::html::desk(&s.model_name, env!("CARGO_PKG_VERSION"));
    ([(header::CONTENT_TYPE, "text/html; charset=utf-8")], page).into_response()
}

/// SIGINT or SIGTERM; a second one exits at once.
async fn shutdown_signal() {
    use tokio::signal::unix::{SignalKind, signal};
    let (Ok(mut int), Ok(mut term)) = (
        signal(SignalKind::interrupt()),
        signal(SignalKind::terminate()),
    ) else {
        log("cannot install the signal handlers; stop the server with SIGKILL");
        return std::future::pending().await;
    };
    tokio::select! {
        _ = int.recv() => {}
        _ = term.recv() => {}
    }
    log(
        "shutting down: no new requests; finishing the ones in flight (signal again to stop at once)",
    );
    tokio::spawn(async move {
        tokio::select! {
            _ = int.recv() => {}
            _ = term.recv() => {}
        }
        log("stopped at once by a second signal");
        std::process::exit(130);
    });
}

/// One line on stderr.
fn log(message: &str) {
    let _ = writeln!(std::io::stderr(), "anuvad serve: {message}");
}

/// A line per request: client, method and path, status, time.
async fn log_request(
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    req: Request,
    next: Next,
) -> Response {
    let started = Instant::now();
    let line = format!("{} {}", req.method(), printable(req.uri().path()));
    let res = next.run(req).await;
    log(&format!(
        "{peer} \"{line}\" {} {:.3}s",
        res.status().as_u16(),
        started.elapsed().as_secs_f64()
    ));
    res
}

/// An error answer: LibreTranslate's shape, `{"error": "..."}`, on every endpoint.
#[derive(Debug)]
pub(crate) struct ApiError {
    status: StatusCode,
    message: String,
}

impl ApiError {
    fn new(status: StatusCode, message: impl Into<String>) -> ApiError {
        ApiError {
            status,
            message: message.into(),
        }
    }

    fn bad(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::BAD_REQUEST, message)
    }
}

impl From<Error> for ApiError {
    fn from(e: Error) -> ApiError {
        let status = match e {
            Error::EmptyInput { .. }
            | Error::NotHindi { .. }
            | Error::TooLong { .. }
            | Error::TooLarge { .. } => StatusCode::BAD_REQUEST,
            _ => StatusCode::INTERNAL_SERVER_ERROR,
        };
        ApiError::new(status, e.to_string())
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = axum::Json(serde_json::json!({"error": self.message}));
        let mut res = (self.status, body).into_response();
        if self.status == StatusCode::UNAUTHORIZED {
            res.headers_mut()
                .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        res
    }
}

/// The request's body, refused with 413 past `--max-request-bytes` before it is read
/// whole.
async fn body(s: &Shared, req: Request) -> std::result::Result<(HeaderMap, Bytes), ApiError> {
    let limit = s.config.max_request_bytes;
    let too_large = || {
        ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            format!(
                "the request body is larger than this server's limit of {limit} bytes; send a shorter text or start the server with a larger --max-request-bytes"
            ),
        )
    };
    let declared = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > limit as u64) {
        return Err(too_large());
    }
    let (parts, body) = req.into_parts();
    let bytes = axum::body::to_bytes(body, limit)
        .await
        .map_err(|_| too_large())?;
    Ok((parts.headers, bytes))
}

/// Whether `given` is the server's key (always, when it has none). Compared in time
/// that does not depend on where the first difference is.
fn key_ok(s: &Shared, given: Option<&str>) -> bool {
    let Some(key) = &s.config.api_key else {
        return true;
    };
    let Some(given) = given else {
        return false;
    };
    given.len() == key.len()
        && given
            .bytes()
            .zip(key.bytes())
            .fold(0u8, |acc, (a, b)| acc | (a ^ b))
            == 0
}

/// Queue one request's `works` for the model thread; 429 when the queue is full.
fn submit(
    s: &Shared,
    works: Vec<(Work, Option<tokio::sync::mpsc::UnboundedSender<String>>)>,
) -> std::result::Result<Vec<tokio::sync::oneshot::Receiver<Result<Done>>>, ApiError> {
    let Some(slot) = s.pending.reserve(s.config.max_queue) else {
        return Err(ApiError::new(
            StatusCode::TOO_MANY_REQUESTS,
            format!(
                "the server is busy: {} requests are queued or running (--max-queue); retry shortly",
                s.config.max_queue
            ),
        ));
    };
    let jobs = s.jobs.lock().ok().and_then(|j| j.clone());
    let Some(jobs) = jobs else {
        return Err(ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "the server is shutting down",
        ));
    };
    let mut replies = Vec::with_capacity(works.len());
    for (work, events) in works {
        let (reply, rx) = tokio::sync::oneshot::channel();
        let job = Job {
            work,
            events,
            reply,
            slot: slot.clone(),
        };
        if jobs.send(job).is_err() {
            // The jobs not sent drop their share of the slot with them.
            return Err(ApiError::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                "the model thread has stopped; restart the server",
            ));
        }
        replies.push(rx);
    }
    Ok(replies)
}

/// The worker's answer to one job.
async fn wait(
    rx: tokio::sync::oneshot::Receiver<Result<Done>>,
) -> std::result::Result<Done, ApiError> {
    match rx.await {
        Ok(Ok(done)) => Ok(done),
        Ok(Err(e)) => Err(e.into()),
        Err(_) => Err(ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "the model thread stopped before answering; restart the server",
        )),
    }
}
