//! The review desk in a real browser: headless Chromium driven through the DevTools
//! protocol (a websocket). A page made by `translate --review` on the tiny model is
//! edited, re-checked, marked reviewed and exported, and the exports are compared with
//! what the record says they must hold; the desk page's served mode is driven against a
//! small local server that answers with a record the real CLI made. Runs where Chromium
//! is installed (ANUVAD_REQUIRE_CHROMIUM=1 makes a missing browser a failure).

mod common;

use anuvad::internals::checks;
use anuvad::record::{Flag, TranslationRecord};
use base64::Engine as _;
use common::chromium;
use common::tiny::{ARTICLE, Home, stderr};
use serde_json::{Value, json};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

type Socket = tungstenite::WebSocket<tungstenite::stream::MaybeTlsStream<TcpStream>>;

/// One headless Chromium with one page, spoken to over the DevTools protocol.
struct Browser {
    child: Child,
    ws: Socket,
    next: u64,
    session: String,
    profile: PathBuf,
}

impl Browser {
    fn launch(binary: &str, profile: PathBuf) -> Browser {
        std::fs::create_dir_all(&profile).unwrap();
        let mut child = Command::new(binary)
            .args([
                "--headless=new",
                // CI containers run as root, where Chromium's sandbox cannot start.
                "--no-sandbox",
                "--disable-gpu",
                "--hide-scrollbars",
                "--no-first-run",
                "--remote-debugging-port=0",
                "--window-size=1200,900",
            ])
            .arg(format!("--user-data-dir={}", profile.display()))
            .arg("about:blank")
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
        let url = loop {
            let line = lines
                .next()
                .expect("chromium exited before it listened")
                .unwrap();
            if let Some(u) = line.strip_prefix("DevTools listening on ") {
                break u.trim().to_string();
            }
        };
        // Keep draining its stderr so it never blocks on a full pipe.
        std::thread::spawn(move || for _ in lines {});
        let (ws, _) = tungstenite::connect(url.as_str()).unwrap();
        if let tungstenite::stream::MaybeTlsStream::Plain(s) = ws.get_ref() {
            s.set_read_timeout(Some(Duration::from_secs(60))).unwrap();
        }
        let mut b = Browser {
            child,
            ws,
            next: 0,
            session: String::new(),
            profile,
        };
        let target = b.browser_call("Target.createTarget", json!({"url": "about:blank"}));
        let attached = b.browser_call(
            "Target.attachToTarget",
            json!({"targetId": target["targetId"], "flatten": true}),
        );
        b.session = attached["sessionId"].as_str().unwrap().to_string();
        b.call("Page.enable", json!({}));
        b
    }

    fn send(&mut self, method: &str, params: Value, session: bool) -> Value {
        self.next += 1;
        let id = self.next;
        let mut msg = json!({"id": id, "method": method, "params": params});
        if session {
            msg["sessionId"] = json!(self.session);
        }
        self.ws
            .send(tungstenite::Message::Text(msg.to_string().into()))
            .unwrap();
        loop {
            let m = self.ws.read().expect("the browser stopped answering");
            let tungstenite::Message::Text(t) = m else {
                continue;
            };
            let v: Value = serde_json::from_str(t.as_str()).unwrap();
            if v["id"] == json!(id) {
                assert!(v["error"].is_null(), "{method}: {}", v["error"]);
                return v["result"].clone();
            }
        }
    }

    fn browser_call(&mut self, method: &str, params: Value) -> Value {
        self.send(method, params, false)
    }

    fn call(&mut self, method: &str, params: Value) -> Value {
        self.send(method, params, true)
    }

    /// The value of a JavaScript expression (promises awaited).
    fn eval(&mut self, js: &str) -> Value {
        let r = self.call(
            "Runtime.evaluate",
            json!({"expression": js, "awaitPromise": true, "returnByValue": true}),
        );
        assert!(
            r["exceptionDetails"].is_null(),
            "{js}: {}",
            r["exceptionDetails"]
        );
        r["result"]["value"].clone()
    }

    /// Wait until `js` is truthy; its value.
    fn wait_for(&mut self, js: &str) -> Value {
        let start = Instant::now();
        loop {
            let v = self.eval(js);
            if !(v.is_null() || v == json!(false) || v == json!("") || v == json!(0)) {
                return v;
            }
            assert!(
                start.elapsed() < Duration::from_secs(20),
                "timed out waiting for {js}"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    fn open(&mut self, url: &str) {
        self.call("Page.navigate", json!({"url": url}));
        self.wait_for("document.readyState === 'complete' && !!window.anuvad");
    }

    /// Type `text` as the English of row `row` (1-based), as an editor's input would.
    fn edit(&mut self, row: usize, text: &str) {
        self.eval(&format!(
            "(function () {{ var e = document.querySelector('#r{row} .en'); e.focus(); e.textContent = {}; e.dispatchEvent(new InputEvent('input', {{bubbles: true}})); }})()",
            json!(text)
        ));
    }

    fn flags(&mut self, row: usize) -> Vec<String> {
        let v = self.eval(&format!(
            "Array.from(document.querySelectorAll('#r{row} .flags li')).map(function (l) {{ return l.textContent; }})"
        ));
        serde_json::from_value(v).unwrap()
    }

    fn screenshot(&mut self, path: &Path) {
        let r = self.call("Page.captureScreenshot", json!({"format": "png"}));
        let png = base64::engine::general_purpose::STANDARD
            .decode(r["data"].as_str().unwrap())
            .unwrap();
        std::fs::write(path, png).unwrap();
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.profile);
    }
}

/// A download the page made into `dir`, once it is complete.
fn downloaded(dir: &Path, name: &str) -> String {
    let path = dir.join(name);
    let start = Instant::now();
    while !path.is_file() {
        assert!(
            start.elapsed() < Duration::from_secs(20),
            "no download {name} in {}: {:?}",
            dir.display(),
            std::fs::read_dir(dir).map(|d| d.flatten().map(|e| e.file_name()).collect::<Vec<_>>())
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    std::fs::read_to_string(path).unwrap()
}

/// The tiny model's translation of the sample article, as JSON, and its review page.
fn translated(home: &Home) -> (TranslationRecord, PathBuf) {
    let page = home.path("article.review.html");
    let json = home.path("record.json");
    let out = home.run(&[
        "translate",
        home.path("article.txt").to_str().unwrap(),
        "--progress",
        "none",
        "--format",
        "json",
        "--output",
        json.to_str().unwrap(),
        "--review",
        page.to_str().unwrap(),
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let record = serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    (record, page)
}

/// The row (1-based, as the page numbers them) of the Hindi sentence containing `hindi`.
fn row_of(record: &TranslationRecord, hindi: &str) -> usize {
    record
        .translation
        .sentences()
        .position(|s| s.source.contains(hindi))
        .unwrap()
        + 1
}

#[test]
fn an_editor_fixes_a_number_marks_it_reviewed_and_exports_text_json_and_xliff() {
    let Some(binary) = chromium() else { return };
    let home = Home::new("desk");
    let (record, page) = translated(&home);
    let mut b = Browser::launch(binary, home.path("profile"));
    let downloads = home.path("downloads");
    std::fs::create_dir_all(&downloads).unwrap();
    b.browser_call(
        "Browser.setDownloadBehavior",
        json!({"behavior": "allow", "downloadPath": downloads.to_str().unwrap()}),
    );
    b.open(&format!("file://{}", page.display()));

    // Every sentence is a row, numbered by the line of the input it is on.
    let n = record.translation.sentences().count();
    assert_eq!(b.eval("document.querySelectorAll('.row').length"), json!(n));
    let row = row_of(&record, "2 दिन");
    assert_eq!(
        b.eval(&format!(
            "document.querySelector('#r{row} .line').textContent"
        )),
        json!("3")
    );
    let header = b.eval("document.querySelector('header .meta').textContent");
    let header = header.as_str().unwrap();
    assert!(
        header.starts_with(&format!(
            "model tiny · anuvad {} · 20",
            env!("CARGO_PKG_VERSION")
        )),
        "{header}"
    );
    assert!(
        b.eval("document.querySelector('.where').textContent")
            .as_str()
            .unwrap()
            .contains("numbers")
    );

    // A changed number is flagged as the editor types; the right one clears the flag.
    // (The tiny model's English already lost the 2: wait for the flag on the edit.)
    b.edit(
        row,
        "The weather department said it will rain for 3 more days.",
    );
    b.wait_for(&format!("document.querySelector('#r{row} .flags').textContent.indexOf('English but not in the Hindi: 3') >= 0"));
    assert_eq!(
        b.flags(row),
        [
            "numbers in the Hindi but not in the English: 2",
            "numbers in the English but not in the Hindi: 3"
        ]
    );
    let fixed = "The weather department said it will rain for 2 more days.";
    b.edit(row, fixed);
    b.wait_for(&format!(
        "document.querySelector('#r{row}').dataset.flags.indexOf('numbers') < 0"
    ));
    assert!(
        b.flags(row).iter().all(|f| !f.starts_with("numbers")),
        "{:?}",
        b.flags(row)
    );
    assert_eq!(
        b.eval(&format!(
            "document.querySelector('#r{row} .conf').textContent"
        )),
        json!("edited")
    );

    // Reviewed, and both the mark and the edit survive a reload (localStorage).
    b.eval(&format!(
        "document.querySelector('#r{row} .reviewed-box input').click()"
    ));
    assert_eq!(
        b.eval("document.querySelector('.progress').textContent"),
        json!(format!("1 of {n} reviewed"))
    );
    b.call("Page.reload", json!({}));
    b.wait_for(&format!(
        "document.readyState === 'complete' && !!document.querySelector('#r{row}.reviewed')"
    ));
    assert_eq!(
        b.eval(&format!(
            "document.querySelector('#r{row} .en').textContent"
        )),
        json!(fixed)
    );

    // The focused row prints like the others (it used to be hidden).
    b.eval(&format!("document.querySelector('#r{row}').focus()"));
    b.call("Emulation.setEmulatedMedia", json!({"media": "print"}));
    assert_eq!(
        b.eval(&format!(
            "getComputedStyle(document.querySelector('#r{row}')).display"
        )),
        json!("grid")
    );
    assert_eq!(
        b.eval("getComputedStyle(document.querySelector('.toolbar')).display"),
        json!("none")
    );
    b.call("Emulation.setEmulatedMedia", json!({"media": ""}));

    // What the exports must hold: the model's English with the one sentence corrected,
    // laid out as the input was.
    let mut want: Vec<Vec<String>> = record
        .translation
        .paragraphs
        .iter()
        .map(|p| p.sentences.iter().map(|s| s.translation.clone()).collect())
        .collect();
    let (pi, si) = record
        .translation
        .paragraphs
        .iter()
        .enumerate()
        .flat_map(|(pi, p)| (0..p.sentences.len()).map(move |si| (pi, si)))
        .nth(row - 1)
        .unwrap();
    want[pi][si] = fixed.to_string();
    let doc = anuvad::internals::segment::segment(&anuvad::internals::segment::normalize(ARTICLE));
    let text: String = want
        .iter()
        .zip(&doc.paragraphs)
        .map(|(sentences, p)| {
            let english: Vec<&str> = sentences
                .iter()
                .map(|s| s.trim())
                .filter(|s| !s.is_empty())
                .collect();
            format!("{}{}", english.join(" "), p.separator)
        })
        .collect();

    for format in ["txt", "json", "xlf"] {
        b.eval(&format!(
            "document.querySelector('button.export[data-format={format}]').click()"
        ));
    }
    assert_eq!(downloaded(&downloads, "article.en.txt"), text);

    let exported = downloaded(&downloads, "article.review.json");
    let back: TranslationRecord = serde_json::from_str(&exported).unwrap();
    assert_eq!(back.translation.translation, text);
    assert_eq!(back.model, record.model);
    let raw: Value = serde_json::from_str(&exported).unwrap();
    let mut k = 0;
    for (p, jp) in back
        .translation
        .paragraphs
        .iter()
        .zip(raw["paragraphs"].as_array().unwrap())
    {
        for j in jp["sentences"]
            .as_array()
            .unwrap()
            .iter()
            .take(p.sentences.len())
        {
            k += 1;
            assert_eq!(j["edited"], json!(k == row), "sentence {k}");
            assert_eq!(j["reviewed"], json!(k == row), "sentence {k}");
        }
    }
    let s = &back.translation.paragraphs[pi].sentences[si];
    assert_eq!(s.translation, fixed);
    assert!(s.flags.iter().all(|f: &Flag| f.check.name() != "numbers"));
    assert_eq!(
        back.translation.checks.flagged,
        back.translation
            .sentences()
            .filter(|s| !s.flags.is_empty())
            .count()
    );

    let xliff = downloaded(&downloads, "article.xlf");
    let doc = roxmltree::Document::parse(&xliff).expect("the XLIFF export is XML");
    let ns = "urn:oasis:names:tc:xliff:document:2.0";
    let root = doc.root_element();
    assert_eq!(
        (root.tag_name().namespace(), root.tag_name().name()),
        (Some(ns), "xliff")
    );
    assert_eq!(
        (
            root.attribute("version"),
            root.attribute("srcLang"),
            root.attribute("trgLang")
        ),
        (Some("2.0"), Some("hi"), Some("en"))
    );
    let file = root
        .children()
        .find(|n| n.has_tag_name((ns, "file")))
        .unwrap();
    assert_eq!(file.attribute("original"), Some(page_title(&home).as_str()));
    let units: Vec<_> = file
        .children()
        .filter(|n| n.has_tag_name((ns, "unit")))
        .collect();
    let paragraphs: Vec<_> = record
        .translation
        .paragraphs
        .iter()
        .filter(|p| !p.sentences.is_empty())
        .collect();
    assert_eq!(units.len(), paragraphs.len());
    let mut k = 0;
    for (unit, p) in units.iter().zip(&paragraphs) {
        assert_eq!(
            unit.attribute("name"),
            Some(format!("line {}", p.line).as_str())
        );
        let segments: Vec<_> = unit
            .children()
            .filter(|n| n.has_tag_name((ns, "segment")))
            .collect();
        assert_eq!(segments.len(), p.sentences.len());
        for (seg, s) in segments.iter().zip(&p.sentences) {
            k += 1;
            let child = |name: &str| {
                seg.children()
                    .find(|n| n.has_tag_name((ns, name)))
                    .map(|n| n.text().unwrap_or("").to_string())
            };
            assert_eq!(child("source").as_deref(), Some(s.source.as_str()));
            let english = if k == row {
                fixed
            } else {
                s.translation.trim()
            };
            let state = match (english.is_empty(), k == row) {
                (true, _) => "initial",
                (false, true) => "reviewed",
                (false, false) => "translated",
            };
            assert_eq!(seg.attribute("state"), Some(state), "segment {k}");
            // XML 1.0 cannot hold C0 controls (the tiny model writes some): dropped.
            let xml: String = english
                .chars()
                .filter(|&c| c >= ' ' || matches!(c, '\t' | '\n' | '\r'))
                .collect();
            assert_eq!(child("target"), (!english.is_empty()).then_some(xml));
        }
    }

    // For the README: the page as an editor sees it, the edited row in view.
    let png = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("review-desk.png");
    b.eval(&format!(
        "document.querySelector('#r{row}').scrollIntoView({{block: 'center'}})"
    ));
    b.screenshot(&png);
    let bytes = std::fs::read(&png).unwrap();
    assert_eq!(&bytes[..8], b"\x89PNG\r\n\x1a\n");
    eprintln!("screenshot: {}", png.display());
}

/// What the page calls the article: the path the CLI was given.
fn page_title(home: &Home) -> String {
    home.path("article.txt").display().to_string()
}

#[test]
fn the_pages_checks_agree_with_the_rust_checks() {
    let Some(binary) = chromium() else { return };
    let home = Home::new("desk-checks");
    let (_, page) = translated(&home);
    let mut b = Browser::launch(binary, home.path("profile"));
    b.open(&format!("file://{}", page.display()));
    let pairs = [
        (
            "सेंसेक्स 412 अंक चढ़कर 80,245 पर बंद हुआ।",
            "The Sensex rose 412 points to close at 80,245.",
        ),
        ("सेंसेक्स 412 अंक चढ़ा।", "The Sensex rose 421 points."),
        (
            "इसे 1,250 करोड़ रुपये की लागत से बनाया गया।",
            "It was built at a cost of Rs 12.5 billion.",
        ),
        (
            "इसे 1,250 करोड़ रुपये की लागत से बनाया गया।",
            "It cost Rs 1,250 crore.",
        ),
        (
            "इसे 1,250 करोड़ रुपये की लागत से बनाया गया।",
            "It cost Rs 1,250 million.",
        ),
        ("महंगाई 6.21 प्रतिशत रही।", "Inflation was 6.21%."),
        (
            "२२ नवंबर को ३,१४० करोड़ रुपये मंजूर हुए।",
            "On November 22, Rs 3,140 crore was approved.",
        ),
        ("२०२८ तक ३७ संयंत्र बनेंगे।", "By 2028 plants will be built."),
        ("भारत ने छह विकेट से जीत दर्ज की।", "India won by 6 wickets."),
        ("भारत ने 6 विकेट से जीत दर्ज की।", "India won by six wickets."),
        (
            "परीक्षा सुबह 10:30 बजे शुरू होगी।",
            "The exam will begin at 10.30 am.",
        ),
        ("कुल 2 1/2 घंटे लगे।", "It took 2.5 hours in all."),
        ("कुल 2 1/2 घंटे लगे।", "It took 3 hours."),
        ("31वें मिनट में गोल हुआ।", "The goal came in the 31st minute."),
        (
            "तीन लाख रुपये का इनाम मिला।",
            "A reward of Rs 300,000 was given.",
        ),
        ("1,25,000 लोग आए।", "125,000 people came."),
        ("1,25,000 लोग आए।", "1.25 lakh people came."),
        (
            "7 करोड़ किसानों को फायदा होगा।",
            "It will benefit 7 million farmers.",
        ),
        (
            "उपग्रह सुबह 10 बजकर 42 मिनट पर छोड़ा गया।",
            "It was launched at 10:42 am.",
        ),
        (
            "उपग्रह सुबह 10 बजकर 42 मिनट पर छोड़ा गया।",
            "It was launched at 11:42 am.",
        ),
        ("बारिश हुई।", "It rained 5 mm."),
        ("बारिश हुई।", ""),
        ("", "It rained 5 mm."),
        ("The मौसम विभाग", "The मौसम department said it would rain."),
        (
            "",
            "Heavy rain lashed the city heavy rain lashed the city on Sunday.",
        ),
        (
            "",
            "Prices rose 2 per cent in the first quarter and 3 per cent in the second.",
        ),
    ];
    for (hi, en) in pairs {
        let rust: Vec<Flag> = checks::numbers(hi, en)
            .into_iter()
            .chain(checks::untranslated(en))
            .chain(checks::repetition(en, None))
            .collect();
        let js = b.eval(&format!(
            "(function (c) {{ var h = {}, e = {}; return c.numbers(h, e).concat([c.untranslated(e), c.repetition(e, null)].filter(Boolean)); }})(anuvad.checks)",
            json!(hi),
            json!(en)
        ));
        let js: Vec<Flag> = serde_json::from_value(js).unwrap();
        assert_eq!(js, rust, "{hi} → {en}");
    }
    let prev = "The weather department forecast heavy rain in Delhi for two days.";
    for en in [prev, "Schools will stay shut on Monday."] {
        let js = b.eval(&format!(
            "anuvad.checks.repetition({}, {})",
            json!(en),
            json!(prev)
        ));
        let js: Option<Flag> = serde_json::from_value(js).unwrap();
        assert_eq!(js, checks::repetition(en, Some(prev)), "{en}");
    }
}

/// A stand-in for `anuvad serve` speaking the desk's contract: the page at `/`,
/// `POST /api/translate` answered as server-sent events (progress, then the record the
/// real CLI made), `POST /api/check` answered with the Rust number check. Every request
/// body is kept for the test to read.
fn serve(page: String, record: String, seen: Arc<Mutex<Vec<(String, String)>>>) -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            let mut first = String::new();
            if reader.read_line(&mut first).is_err() {
                continue;
            }
            let mut length = 0;
            loop {
                let mut h = String::new();
                reader.read_line(&mut h).unwrap();
                if h.trim().is_empty() {
                    break;
                }
                if let Some(v) = h.to_ascii_lowercase().strip_prefix("content-length:") {
                    length = v.trim().parse().unwrap();
                }
            }
            let mut body = vec![0; length];
            reader.read_exact(&mut body).unwrap();
            let body = String::from_utf8(body).unwrap();
            let path = first.split_whitespace().nth(1).unwrap_or("").to_string();
            seen.lock().unwrap().push((path.clone(), body.clone()));
            let (kind, answer) = match path.as_str() {
                "/" => ("text/html; charset=utf-8", page.clone()),
                "/api/translate" => (
                    "text/event-stream",
                    format!(
                        "event: progress\ndata: {{\"done\":1,\"total\":3,\"stage\":\"translating\"}}\n\nevent: result\ndata: {record}\n\n"
                    ),
                ),
                "/api/check" => {
                    let q: Value = serde_json::from_str(&body).unwrap();
                    let flags = checks::numbers(
                        q["source"].as_str().unwrap(),
                        q["translation"].as_str().unwrap(),
                    );
                    ("application/json", json!({"flags": flags}).to_string())
                }
                _ => ("text/plain", String::new()),
            };
            let _ = write!(
                stream,
                "HTTP/1.1 200 OK\r\nContent-Type: {kind}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{answer}",
                answer.len()
            );
        }
    });
    port
}

#[test]
fn the_desk_translates_through_the_server_and_rechecks_edits_there() {
    let Some(binary) = chromium() else { return };
    let home = Home::new("desk-served");
    let (record, _) = translated(&home);
    let json = serde_json::to_string(&record).unwrap();
    let seen = Arc::new(Mutex::new(Vec::new()));
    let port = serve(anuvad::internals::desk("tiny", "9.9.9"), json, seen.clone());
    let mut b = Browser::launch(binary, home.path("profile"));
    b.open(&format!("http://127.0.0.1:{port}/"));

    b.eval(&format!(
        "document.getElementById('hindi').value = {}; document.getElementById('translate').click()",
        json!(ARTICLE)
    ));
    let n = record.translation.sentences().count();
    b.wait_for(&format!("document.querySelectorAll('.row').length === {n}"));
    let header = b.eval("document.querySelector('header.review .meta').textContent");
    assert!(
        header
            .as_str()
            .unwrap()
            .starts_with("model tiny · anuvad 9.9.9 · "),
        "{header}"
    );
    let sent: Value = serde_json::from_str(
        &seen
            .lock()
            .unwrap()
            .iter()
            .find(|(p, _)| p == "/api/translate")
            .unwrap()
            .1,
    )
    .unwrap();
    assert_eq!(sent, json!({"text": ARTICLE}));

    let row = row_of(&record, "2 दिन");
    let wrong = "It will rain for 3 more days.";
    b.edit(row, wrong);
    b.wait_for(&format!("document.querySelector('#r{row} .flags').textContent.indexOf('English but not in the Hindi: 3') >= 0"));
    let source = record
        .translation
        .sentences()
        .nth(row - 1)
        .unwrap()
        .source
        .clone();
    let check = seen
        .lock()
        .unwrap()
        .iter()
        .rev()
        .find(|(p, _)| p == "/api/check")
        .unwrap()
        .1
        .clone();
    assert_eq!(
        serde_json::from_str::<Value>(&check).unwrap(),
        json!({"source": source, "translation": wrong})
    );
    assert_eq!(
        b.flags(row),
        [
            "numbers in the Hindi but not in the English: 2",
            "numbers in the English but not in the Hindi: 3"
        ]
    );
    b.edit(row, "It will rain for 2 more days.");
    b.wait_for(&format!(
        "document.querySelector('#r{row}').dataset.flags === ''"
    ));
    let text = b.eval("anuvad.exportText()");
    assert!(
        text.as_str()
            .unwrap()
            .contains("It will rain for 2 more days."),
        "{text}"
    );
}

/// `anuvad serve` itself on the tiny model: the desk it serves at `/` translates the
/// sample through the real `/api/translate`, an edit with a planted number error is
/// flagged by the real `/api/check` and the flag clears once the number is right, and
/// the export holds the corrected English. The screenshot is the README's.
#[test]
fn the_real_server_s_desk_translates_flags_a_planted_number_and_exports_the_fix() {
    let Some(binary) = chromium() else { return };
    let home = Home::new("desk-real-server");
    let (record, _) = translated(&home);
    let mut server = home.command(&["serve", "--port", "0"]).spawn().unwrap();
    let mut log = BufReader::new(server.stderr.take().unwrap());
    let url = loop {
        let mut line = String::new();
        assert!(
            log.read_line(&mut line).unwrap() > 0,
            "serve exited before listening"
        );
        if let Some(url) = line.strip_prefix("anuvad serve: listening on ") {
            break url.trim().to_string();
        }
    };
    let mut b = Browser::launch(binary, home.path("profile"));
    b.open(&format!("{url}/"));
    b.eval(&format!(
        "document.getElementById('hindi').value = {}; document.getElementById('translate').click()",
        json!(ARTICLE)
    ));
    let n = record.translation.sentences().count();
    b.wait_for(&format!("document.querySelectorAll('.row').length === {n}"));
    // The server's English is the CLI's: same model, greedy.
    let served: Vec<String> = serde_json::from_value(b.eval(
        "Array.from(document.querySelectorAll('.row .en')).map(function (e) { return e.textContent; })",
    ))
    .unwrap();
    let cli: Vec<String> = record
        .translation
        .sentences()
        .map(|s| s.translation.clone())
        .collect();
    assert_eq!(served, cli);

    let row = row_of(&record, "2 दिन");
    b.edit(row, "It will rain for 3 more days.");
    b.wait_for(&format!(
        "document.querySelector('#r{row} .flags').textContent.indexOf('English but not in the Hindi: 3') >= 0"
    ));
    // The README's picture: the header (model, version, date) and the flagged edit.
    b.eval("window.scrollTo(0, 0)");
    b.screenshot(&PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("review-desk-served.png"));
    b.edit(row, "It will rain for 2 more days.");
    b.wait_for(&format!(
        "document.querySelector('#r{row}').dataset.flags === ''"
    ));
    let text = b.eval("anuvad.exportText()");
    let text = text.as_str().unwrap();
    assert!(text.contains("It will rain for 2 more days."), "{text}");
    assert!(!text.contains("It will rain for 3 more days."), "{text}");
    drop(b);

    let killed = Command::new("kill")
        .args(["-TERM", &server.id().to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    assert!(server.wait().unwrap().success());
    let mut rest = String::new();
    log.read_to_string(&mut rest).unwrap();
    // The flag came from the server's checks, not only the page's own.
    assert!(rest.contains("POST /api/translate"), "{rest}");
    assert!(rest.contains("POST /api/check"), "{rest}");
}
