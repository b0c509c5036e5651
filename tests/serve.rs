//! `anuvad serve` end to end on the tiny random Gemma 3, on an ephemeral port: a real
//! LibreTranslate client library (libretranslatepy, from PyPI) against it, the native
//! endpoints and their event stream, the limits (body size, article length, queue),
//! the API key, and a graceful shutdown that finishes the request in flight.
//! scripts/test.sh installs libretranslatepy and sets ANUVAD_REQUIRE_LIBRETRANSLATEPY=1,
//! so in CI a missing client is a failure, not a skip.

mod common;

use anuvad::config::{ModelChoice, Options};
use anuvad::progress::Silent;
use anuvad::{Article, HubConfig, Pipeline, Uses};
use common::tiny::{ARTICLE, Home};
use serde_json::{Value, json};
use std::io::{BufRead, BufReader};
use std::process::{Child, ChildStderr};

/// A running `anuvad serve` on the tiny model.
struct Server {
    child: Child,
    url: String,
    /// The rest of its stderr (request log lines), read after it exits.
    stderr: BufReader<ChildStderr>,
    _home: Home,
}

impl Server {
    fn start(name: &str, args: &[&str]) -> Server {
        let home = Home::new(name);
        let mut all = vec!["serve", "--port", "0"];
        all.extend_from_slice(args);
        let mut child = home.command(&all).spawn().unwrap();
        let mut stderr = BufReader::new(child.stderr.take().unwrap());
        let mut line = String::new();
        let url = loop {
            line.clear();
            assert!(
                stderr.read_line(&mut line).unwrap() > 0,
                "serve exited before listening"
            );
            if let Some(url) = line.strip_prefix("anuvad serve: listening on ") {
                break url.trim().to_string();
            }
        };
        Server {
            child,
            url,
            stderr,
            _home: home,
        }
    }

    fn post(&self, path: &str, body: &Value, headers: &[(&str, &str)]) -> (u16, String) {
        let mut req =
            ureq::post(&format!("{}{path}", self.url)).set("Content-Type", "application/json");
        for (k, v) in headers {
            req = req.set(k, v);
        }
        answer(req.send_string(&body.to_string()))
    }

    /// A POST written in one piece (headers and body) before the answer is read. The
    /// server answers 413 from the headers and closes without reading the body; a client
    /// that sends the headers first may find the socket closed under its body (a broken
    /// pipe) before it can read that answer.
    fn post_in_one_write(&self, path: &str, body: &Value) -> (u16, String) {
        use std::io::{Read, Write};
        let addr = self.url.trim_start_matches("http://");
        let mut socket = std::net::TcpStream::connect(addr).unwrap();
        let body = body.to_string();
        let request = format!(
            "POST {path} HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        );
        socket.write_all(request.as_bytes()).unwrap();
        let mut answer = Vec::new();
        // A reset after the answer arrived still leaves the answer read.
        let _ = socket.read_to_end(&mut answer);
        let answer = String::from_utf8_lossy(&answer).into_owned();
        let status = answer
            .split_whitespace()
            .nth(1)
            .and_then(|c| c.parse().ok())
            .unwrap_or_else(|| panic!("no HTTP answer: {answer:?}"));
        let body = answer
            .split_once("\r\n\r\n")
            .map_or("", |(_, b)| b)
            .to_string();
        (status, body)
    }

    fn get(&self, path: &str) -> (u16, String) {
        answer(ureq::get(&format!("{}{path}", self.url)).call())
    }

    /// SIGTERM, then the exit status and the rest of stderr.
    fn stop(mut self) -> (std::process::ExitStatus, String) {
        let kill = std::process::Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .unwrap();
        assert!(kill.success());
        let status = self.child.wait().unwrap();
        let mut rest = String::new();
        let _ = std::io::Read::read_to_string(&mut self.stderr, &mut rest);
        (status, rest)
    }
}

impl Drop for Server {
    /// A failed test must not leave its server running.
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn answer(r: Result<ureq::Response, ureq::Error>) -> (u16, String) {
    match r {
        Ok(res) => (res.status(), res.into_string().unwrap()),
        Err(ureq::Error::Status(code, res)) => (code, res.into_string().unwrap()),
        Err(e) => panic!("request failed: {e}"),
    }
}

fn json_of(body: &str) -> Value {
    serde_json::from_str(body).unwrap_or_else(|e| panic!("not JSON ({e}): {body}"))
}

/// An event stream request: the reader, to take events from as they come.
fn stream(
    server: &Server,
    path: &str,
    body: &Value,
) -> impl Iterator<Item = (String, String)> + use<> {
    let res = ureq::post(&format!("{}{path}", server.url))
        .set("Content-Type", "application/json")
        .set("Accept", "text/event-stream")
        .send_string(&body.to_string())
        .unwrap();
    assert_eq!(res.header("content-type"), Some("text/event-stream"));
    let mut lines = BufReader::new(res.into_reader()).lines();
    std::iter::from_fn(move || {
        let (mut event, mut data) = (String::new(), String::new());
        for line in lines.by_ref() {
            let line = line.ok()?;
            if let Some(e) = line.strip_prefix("event: ") {
                event = e.to_string();
            } else if let Some(d) = line.strip_prefix("data: ") {
                data.push_str(d);
            } else if line.is_empty() && !event.is_empty() {
                return Some((event, data));
            }
        }
        None
    })
}

fn python() -> Option<String> {
    let venv = concat!(env!("CARGO_MANIFEST_DIR"), "/target/pyenv/bin/python");
    let candidates = [
        std::env::var("ANUVAD_PYTHON").unwrap_or_default(),
        venv.into(),
        "python3".into(),
    ];
    let found = candidates.into_iter().filter(|p| !p.is_empty()).find(|p| {
        std::process::Command::new(p)
            .args(["-c", "import libretranslatepy"])
            .output()
            .is_ok_and(|o| o.status.success())
    });
    if found.is_none() && std::env::var("ANUVAD_REQUIRE_LIBRETRANSLATEPY").is_ok_and(|v| v == "1") {
        panic!("ANUVAD_REQUIRE_LIBRETRANSLATEPY=1 but no python with libretranslatepy was found");
    }
    found
}

const CLIENT: &str = r#"
import json, sys, urllib.error
from libretranslatepy import LibreTranslateAPI
lt = LibreTranslateAPI(sys.argv[1])
out = {"languages": lt.languages(), "detect": lt.detect(sys.argv[2]),
       "translate": lt.translate(sys.argv[2], "hi", "en"),
       "auto": lt.translate(sys.argv[2], "auto", "en")}
try:
    lt.translate(sys.argv[2], "hi", "fr")
except urllib.error.HTTPError as e:
    out["unsupported"] = {"status": e.code, "body": json.loads(e.read().decode())}
print(json.dumps(out))
"#;

#[test]
fn the_libretranslate_python_client_translates_detects_and_lists_languages() {
    let Some(python) = python() else {
        eprintln!("skipped: no python with libretranslatepy (pip install libretranslatepy)");
        return;
    };
    let server = Server::start("serve-libre", &[]);
    let hindi = "दिल्ली में बुधवार को भारी बारिश हुई।";
    let out = std::process::Command::new(python)
        .args(["-c", CLIENT, &server.url, hindi])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v = json_of(&String::from_utf8(out.stdout).unwrap());
    assert_eq!(v["languages"][0]["code"], "hi");
    assert_eq!(v["languages"][0]["targets"], json!(["en"]));
    assert_eq!(v["detect"][0]["language"], "hi");
    assert_eq!(v["detect"][0]["confidence"], 100.0);
    // The client's translation is the native endpoint's (greedy, the same model).
    let (status, body) = server.post("/api/translate", &json!({"text": hindi}), &[]);
    assert_eq!(status, 200, "{body}");
    let native = json_of(&body)["translation"].as_str().unwrap().to_string();
    assert_eq!(v["translate"], native.as_str());
    assert_eq!(v["auto"], native.as_str());
    assert_eq!(
        v["unsupported"],
        json!({"status": 400, "body": {"error": "fr is not supported"}})
    );
    let (status, _) = server.stop();
    assert!(status.success());
}

#[test]
fn libretranslate_lists_html_and_files_answer_like_libretranslate() {
    let server = Server::start("serve-libre-shapes", &[]);
    let (status, body) = server.post(
        "/translate",
        &json!({"q": ["दिल्ली में बारिश हुई।", "सरकार ने कहा।"], "source": "auto", "target": "en"}),
        &[],
    );
    assert_eq!(status, 200, "{body}");
    let v = json_of(&body);
    assert_eq!(v["translatedText"].as_array().unwrap().len(), 2);
    assert_eq!(v["detectedLanguage"][1]["language"], "hi");
    let (status, body) = server.post(
        "/translate",
        &json!({"q": "<p class=\"lead\">दिल्ली में बारिश हुई।</p><br/>", "source": "hi", "target": "en", "format": "html"}),
        &[],
    );
    assert_eq!(status, 200, "{body}");
    let html = json_of(&body)["translatedText"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(
        html.starts_with("<p class=\"lead\">") && html.ends_with("</p><br/>"),
        "{html}"
    );
    for (request, status, error) in [
        (
            json!({"source": "hi", "target": "en"}),
            400,
            "Invalid request: missing q parameter",
        ),
        (
            json!({"q": "नमस्ते", "source": "de", "target": "en"}),
            400,
            "de is not supported",
        ),
        (
            json!({"q": "नमस्ते", "source": "hi", "target": "en", "format": "pdf"}),
            400,
            "pdf format is not supported",
        ),
    ] {
        let (got, body) = server.post("/translate", &request, &[]);
        assert_eq!(
            (got, json_of(&body)["error"].as_str().unwrap()),
            (status, error)
        );
    }
    // A file: uploaded as multipart, downloaded from the URL given back.
    let boundary = "anuvadtestboundary";
    let form = format!(
        "--{boundary}\r\nContent-Disposition: form-data; name=\"source\"\r\n\r\nhi\r\n--{boundary}\r\nContent-Disposition: form-data; name=\"target\"\r\n\r\nen\r\n--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"article.txt\"\r\nContent-Type: text/plain\r\n\r\n{ARTICLE}\r\n--{boundary}--\r\n"
    );
    let (status, body) = answer(
        ureq::post(&format!("{}/translate_file", server.url))
            .set(
                "Content-Type",
                &format!("multipart/form-data; boundary={boundary}"),
            )
            .send_string(&form),
    );
    assert_eq!(status, 200, "{body}");
    let url = json_of(&body)["translatedFileUrl"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(
        url.starts_with(&format!("{}/download_file/", server.url)) && url.ends_with(".article.txt"),
        "{url}"
    );
    let (status, text) = answer(ureq::get(&url).call());
    assert_eq!(status, 200);
    let (_, whole) = server.post("/api/translate", &json!({"text": ARTICLE}), &[]);
    assert_eq!(
        text.trim_end(),
        json_of(&whole)["translation"].as_str().unwrap().trim_end()
    );
    assert_eq!(server.get("/download_file/nothing.txt").0, 404);
    assert!(server.stop().0.success());
}

#[test]
fn native_endpoints_return_the_cli_records_and_stream_progress() {
    let server = Server::start("serve-native", &[]);
    let (status, body) = server.get("/api/info");
    assert_eq!(status, 200);
    let info = json_of(&body);
    assert_eq!(info["version"], env!("CARGO_PKG_VERSION"));
    assert_eq!(info["model"]["id"], "tiny");
    let (status, body) = server.post("/api/translate", &json!({"text": ARTICLE}), &[]);
    assert_eq!(status, 200, "{body}");
    let record = json_of(&body);
    assert_eq!(record["paragraphs"].as_array().unwrap().len(), 4);
    assert_eq!(record["schema_version"], 1);
    let (status, body) = server.post(
        "/api/summarize",
        &json!({"text": ARTICLE, "length": "short"}),
        &[],
    );
    assert_eq!(status, 200, "{body}");
    assert!(json_of(&body)["summary"].is_string(), "{body}");
    let (status, body) = server.post(
        "/api/review",
        &json!({"source": ARTICLE, "translation": "Rain in Delhi\n\nIt rained 3 days.\nStay home.\n\nPhoto: PTI"}),
        &[],
    );
    assert_eq!(status, 200, "{body}");
    assert!(json_of(&body)["checks"]["sentences"].as_u64().unwrap() > 0);
    // The check endpoint: a changed number is flagged, the fixed sentence is not.
    let hindi = "मौसम विभाग ने कहा कि 2 दिन और बारिश होगी।";
    let flags = |english: &str| {
        let (status, body) = server.post(
            "/api/check",
            &json!({"source": hindi, "translation": english}),
            &[],
        );
        assert_eq!(status, 200, "{body}");
        json_of(&body)["flags"].as_array().unwrap().clone()
    };
    let wrong = flags("The weather office said it will rain for 3 more days.");
    assert!(wrong.iter().any(|f| f["check"] == "numbers"), "{wrong:?}");
    assert_eq!(
        flags("The weather office said it will rain for 2 more days."),
        Vec::<Value>::new()
    );
    // Streamed: progress events, then the record the plain request gave.
    let events: Vec<(String, String)> =
        stream(&server, "/api/translate", &json!({"text": ARTICLE})).collect();
    assert!(
        events
            .iter()
            .any(|(e, d)| e == "progress" && d.contains("chunk_done")),
        "{events:?}"
    );
    let (last, data) = events.last().unwrap();
    assert_eq!(last, "result");
    assert_eq!(json_of(data)["translation"], record["translation"]);
    let (status, body) = server.get("/");
    assert_eq!(status, 200);
    assert!(body.contains("<html"));
    let (status, log) = server.stop();
    assert!(status.success());
    assert!(
        log.contains("\"POST /api/translate\" 200"),
        "one log line per request: {log}"
    );
}

#[test]
fn oversized_bodies_long_articles_and_a_full_queue_get_clear_errors() {
    let server = Server::start(
        "serve-limits",
        &["--max-request-bytes", "4000", "--max-article-chars", "400"],
    );
    let big = "क".repeat(3000);
    let (status, body) = server.post_in_one_write(
        "/translate",
        &json!({"q": big, "source": "hi", "target": "en"}),
    );
    assert_eq!(status, 413, "{body}");
    assert!(
        json_of(&body)["error"]
            .as_str()
            .unwrap()
            .contains("--max-request-bytes"),
        "{body}"
    );
    // A misspelt option is an error that names it, not a default silently used.
    let (status, body) = server.post(
        "/api/summarize",
        &json!({"text": "दिल्ली में बारिश हुई।", "lenght": "short"}),
        &[],
    );
    assert_eq!(status, 400, "{body}");
    assert!(body.contains("unknown field `lenght`"), "{body}");
    let long = "दिल्ली में बारिश हुई। ".repeat(30);
    let (status, body) = server.post("/api/translate", &json!({"text": long}), &[]);
    assert_eq!(status, 400, "{body}");
    assert!(
        json_of(&body)["error"]
            .as_str()
            .unwrap()
            .contains("--max-article-chars"),
        "{body}"
    );
    drop(server);

    let server = Server::start("serve-queue", &["--max-queue", "1"]);
    // The first request is running once its stream shows progress; the queue is full.
    let mut first = stream(&server, "/api/translate", &json!({"text": ARTICLE}));
    assert_eq!(first.next().unwrap().0, "progress");
    let (status, body) = server.post("/api/translate", &json!({"text": ARTICLE}), &[]);
    assert_eq!(status, 429, "{body}");
    assert!(
        json_of(&body)["error"]
            .as_str()
            .unwrap()
            .contains("--max-queue")
    );
    assert_eq!(first.last().unwrap().0, "result");
    let (status, _) = server.post("/api/translate", &json!({"text": ARTICLE}), &[]);
    assert_eq!(status, 200, "the place is free again");
    assert!(server.stop().0.success());
}

#[test]
fn an_api_key_guards_both_apis() {
    let server = Server::start("serve-key", &["--api-key", "s3cret"]);
    let ask = |key: Option<&str>| {
        let mut q = json!({"q": "दिल्ली में बारिश हुई।", "source": "hi", "target": "en"});
        if let Some(k) = key {
            q["api_key"] = k.into();
        }
        server.post("/translate", &q, &[])
    };
    let missing = (
        400,
        json!({"error": "Please contact the server operator to get an API key"}).to_string(),
    );
    assert_eq!(ask(None), missing);
    // LibreTranslate's page sends `api_key: ""` when it has none: that is no key.
    assert_eq!(ask(Some("")), missing);
    assert_eq!(
        ask(Some("wrong")),
        (403, json!({"error": "Invalid API key"}).to_string())
    );
    assert_eq!(ask(Some("s3cret")).0, 200);
    let text = json!({"text": ARTICLE});
    assert_eq!(server.post("/api/translate", &text, &[]).0, 401);
    assert_eq!(
        server
            .post("/api/translate", &text, &[("Authorization", "Bearer nope")])
            .0,
        401
    );
    assert_eq!(
        server
            .post(
                "/api/translate",
                &text,
                &[("Authorization", "Bearer s3cret")]
            )
            .0,
        200
    );
    assert_eq!(
        server.get("/languages").0,
        200,
        "the language list is public, as in LibreTranslate"
    );
    assert!(server.stop().0.success());
}

#[test]
fn listening_beyond_loopback_without_a_key_warns() {
    let home = Home::new("serve-open");
    let mut child = home
        .command(&["serve", "--listen", "0.0.0.0:0"])
        .spawn()
        .unwrap();
    let mut before = String::new();
    for line in BufReader::new(child.stderr.take().unwrap()).lines() {
        let line = line.unwrap();
        before.push_str(&line);
        if line.starts_with("anuvad serve: listening on") {
            break;
        }
    }
    let _ = child.kill();
    let _ = child.wait();
    assert!(
        before.contains("warning: listening on 0.0.0.0:") && before.contains("--api-key"),
        "{before}"
    );
}

#[test]
fn sigterm_finishes_the_request_in_flight_and_exits_0() {
    let server = Server::start("serve-shutdown", &[]);
    let mut events = stream(&server, "/api/translate", &json!({"text": ARTICLE}));
    assert_eq!(events.next().unwrap().0, "progress");
    let pid = server.child.id().to_string();
    assert!(
        std::process::Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .unwrap()
            .success()
    );
    let (last, data) = events.last().unwrap();
    assert_eq!(last, "result", "the request in flight is answered: {data}");
    assert!(json_of(&data)["translation"].is_string());
    let mut server = server;
    let status = server.child.wait().unwrap();
    assert!(status.success(), "{status:?}");
}

#[test]
fn articles_translated_together_equal_each_translated_alone() {
    let home = Home::new("serve-many");
    let hub = HubConfig {
        offline: true,
        ..HubConfig::default()
    };
    let choice = ModelChoice::new(Some("tiny".into()), home.dir.clone());
    let mut p = Pipeline::load(
        &choice,
        &Options::default(),
        Uses::TRANSLATE,
        &hub,
        &mut Silent,
    )
    .unwrap();
    let rules = Default::default();
    let a = Article::new("a", ARTICLE, &rules).unwrap();
    let b = Article::new(
        "b",
        "सरकार ने लोगों से घर में रहने को कहा। मौसम विभाग ने कहा कि 2 दिन और बारिश होगी।",
        &rules,
    )
    .unwrap();
    let together = p.translate_many(&[&a, &b], &mut Silent).unwrap();
    assert_eq!(together.len(), 2);
    for (article, shared) in [&a, &b].into_iter().zip(&together) {
        let alone = p.translate(article, &mut Silent).unwrap();
        assert_eq!(shared.translation, alone.translation, "{}", article.origin);
    }
}

/// Requests that arrive while the model is busy wait together and are decoded in one
/// shared pass: a streaming client's pass counts its own chunks and the other client's,
/// and each still gets the English it gets alone.
#[test]
fn requests_from_two_clients_that_wait_together_share_one_pass() {
    let server = Server::start("serve-shared-pass", &["--max-article-chars", "100000"]);
    let (_, alone) = server.post("/api/translate", &json!({"text": ARTICLE}), &[]);
    let alone = json_of(&alone);
    let chunks = alone["stats"]["chunks"].as_u64().unwrap();

    // Keep the model busy with a long article, then let two clients queue behind it.
    let long = format!("{ARTICLE}\n").repeat(60);
    let mut busy = stream(&server, "/api/translate", &json!({"text": long}));
    assert_eq!(busy.next().unwrap().0, "progress");
    let url = server.url.clone();
    let other = std::thread::spawn(move || {
        ureq::post(&format!("{url}/api/translate"))
            .set("Content-Type", "application/json")
            .send_string(&json!({"text": ARTICLE}).to_string())
            .unwrap()
            .into_string()
            .unwrap()
    });
    let mine = stream(&server, "/api/translate", &json!({"text": ARTICLE}));
    assert_eq!(busy.last().unwrap().0, "result", "the long article is done");

    let events: Vec<(String, String)> = mine.collect();
    let begin = events
        .iter()
        .map(|(_, data)| json_of(data))
        .find(|e| e["event"] == "begin")
        .expect("a begin event");
    assert_eq!(
        begin["total"].as_u64(),
        Some(2 * chunks),
        "one pass over both clients' chunks: {events:?}"
    );
    let (kind, data) = events.last().unwrap();
    assert_eq!(kind, "result");
    assert_eq!(json_of(data)["translation"], alone["translation"]);
    let theirs = json_of(&other.join().unwrap());
    assert_eq!(theirs["translation"], alone["translation"]);
    assert!(server.stop().0.success());
}

/// What real LibreTranslate clients send besides JSON: LibreTranslate's own page posts
/// multipart forms from another origin (CORS), Weblate sends lists of 20 texts, some
/// clients put fields in the query string or ask for alternatives.
#[test]
fn libretranslate_clients_in_every_shape_are_answered() {
    // A queue of one request: a list of many texts is still one request.
    let server = Server::start("serve-libre-clients", &["--max-queue", "1"]);
    let texts: Vec<String> = (1..=20)
        .map(|i| format!("दिल्ली में {i} दिन बारिश हुई।"))
        .collect();
    let (status, body) = server.post(
        "/translate",
        &json!({"q": texts, "source": "hi", "target": "en", "api_key": ""}),
        &[],
    );
    assert_eq!(status, 200, "{body}");
    let (_, alone) = server.post(
        "/translate",
        &json!({"q": "दिल्ली में बारिश हुई।", "source": "hi", "target": "en"}),
        &[],
    );
    let alone = json_of(&alone)["translatedText"].clone();

    // Multipart, as LibreTranslate's page sends it, with alternatives asked for.
    let boundary = "anuvadformboundary";
    let field = |name: &str, value: &str| {
        format!(
            "--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n{value}\r\n"
        )
    };
    let form = format!(
        "{}{}{}{}--{boundary}--\r\n",
        field("q", "दिल्ली में बारिश हुई।"),
        field("source", "HI"),
        field("target", "en"),
        field("alternatives", "3"),
    );
    let (status, body) = answer(
        ureq::post(&format!("{}/translate", server.url))
            .set(
                "Content-Type",
                &format!("multipart/form-data; boundary={boundary}"),
            )
            .send_string(&form),
    );
    assert_eq!(status, 200, "{body}");
    let v = json_of(&body);
    assert_eq!(v["translatedText"], alone);
    assert_eq!(v["alternatives"], json!([]));

    // Fields in the query string of a form post.
    let (status, body) = answer(
        ureq::post(&format!("{}/translate?source=hi&target=en", server.url))
            .send_form(&[("q", "दिल्ली में बारिश हुई।")]),
    );
    assert_eq!(status, 200, "{body}");
    assert_eq!(json_of(&body)["translatedText"], alone);

    for (request, error) in [
        (
            json!({"q": "नमस्ते", "source": "hi", "target": "en", "alternatives": "many"}),
            "Invalid request: alternatives parameter is not a number",
        ),
        (
            json!({"q": "नमस्ते", "source": "", "target": "en"}),
            "Invalid request: missing source parameter",
        ),
    ] {
        let (status, body) = server.post("/translate", &request, &[]);
        assert_eq!(
            (status, json_of(&body)["error"].as_str().unwrap()),
            (400, error),
            "{request}"
        );
    }
    let (status, body) = server.post("/detect", &json!({"q": ""}), &[]);
    assert_eq!(
        (status, json_of(&body)["error"].as_str().unwrap()),
        (400, "Invalid request: missing q parameter")
    );

    // A browser's preflight, and the header on every LibreTranslate answer; anuvad's own
    // API stays same-origin.
    let preflight = ureq::request("OPTIONS", &format!("{}/translate", server.url))
        .set("Origin", "https://cms.example")
        .set("Access-Control-Request-Method", "POST")
        .call()
        .unwrap();
    assert_eq!(preflight.status(), 204);
    assert_eq!(preflight.header("access-control-allow-origin"), Some("*"));
    assert!(
        preflight
            .header("access-control-allow-headers")
            .unwrap()
            .contains("Content-Type")
    );
    let languages = ureq::get(&format!("{}/languages", server.url))
        .call()
        .unwrap();
    assert_eq!(languages.header("access-control-allow-origin"), Some("*"));
    let native = ureq::get(&format!("{}/api/info", server.url))
        .call()
        .unwrap();
    assert_eq!(native.header("access-control-allow-origin"), None);

    assert_eq!(
        server.get("/health"),
        (200, json!({"status": "ok"}).to_string())
    );
    assert_eq!(server.post("/languages", &json!({}), &[]).0, 405);
    assert!(server.stop().0.success());
}
