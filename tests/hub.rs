//! Model download through hf-hub against a mock Hugging Face Hub on 127.0.0.1 that
//! answers the way the real one does (ranged GETs on /{repo}/resolve/{rev}/{file} with
//! etag, x-repo-commit and content-range). No test touches the internet.

use anuvad::HubConfig;
use anuvad::card::ModelCard;
use anuvad::error::Error;
use anuvad::internals::hub;
use anuvad::progress::{Event, Progress, Silent};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

const REPO: &str = "anuvad-test/tiny-GGUF";
const FILE: &str = "tiny-gemma3.gguf";

/// A mock hub serving `files` (name → bytes) for any repo and revision.
struct MockHub {
    url: String,
    requests: Arc<AtomicUsize>,
}

impl MockHub {
    fn start(files: Vec<(String, Vec<u8>)>) -> MockHub {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let requests = Arc::new(AtomicUsize::new(0));
        let files = Mutex::new(files);
        let r = requests.clone();
        // The thread ends with the test process; each connection is answered and closed.
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                r.fetch_add(1, Ordering::SeqCst);
                let _ = serve(stream, &files.lock().unwrap());
            }
        });
        MockHub { url, requests }
    }

    fn requests(&self) -> usize {
        self.requests.load(Ordering::SeqCst)
    }
}

fn serve(mut stream: std::net::TcpStream, files: &[(String, Vec<u8>)]) -> std::io::Result<()> {
    let mut reader = BufReader::new(stream.try_clone()?);
    let mut request_line = String::new();
    reader.read_line(&mut request_line)?;
    let mut range = None;
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line)? == 0 || line == "\r\n" {
            break;
        }
        if let Some(v) = line.to_ascii_lowercase().strip_prefix("range: bytes=") {
            let (a, b) = v.trim().split_once('-').unwrap_or(("0", ""));
            range = Some((a.parse::<usize>().unwrap_or(0), b.parse::<usize>().ok()));
        }
    }
    let path = request_line.split_whitespace().nth(1).unwrap_or("/");
    let name = path.rsplit('/').next().unwrap_or("");
    let Some((_, body)) = files.iter().find(|(n, _)| n == name) else {
        return write!(
            stream,
            "HTTP/1.1 404 Not Found\r\ncontent-length: 0\r\nconnection: close\r\n\r\n"
        );
    };
    let total = body.len();
    let (start, end) = match range {
        Some((a, Some(b))) => (a, b.min(total - 1)),
        Some((a, None)) => (a, total - 1),
        None => (0, total - 1),
    };
    let slice = &body[start..=end];
    write!(
        stream,
        "HTTP/1.1 206 Partial Content\r\netag: \"{:x}\"\r\nx-repo-commit: 0123456789abcdef0123456789abcdef01234567\r\ncontent-range: bytes {start}-{end}/{total}\r\ncontent-length: {}\r\nconnection: close\r\n\r\n",
        total * 31 + body.iter().take(64).map(|&b| b as usize).sum::<usize>(),
        slice.len()
    )?;
    stream.write_all(slice)?;
    let mut rest = Vec::new();
    let _ = reader.read_to_end(&mut rest);
    Ok(())
}

fn tiny_model_bytes() -> Vec<u8> {
    let dir = temp("model-bytes");
    let path = dir.join(FILE);
    anuvad::testing::write_model(&path, &anuvad::testing::TinyModel::tiny()).unwrap();
    std::fs::read(&path).unwrap()
}

fn sha256(bytes: &[u8]) -> String {
    use sha2::Digest;
    sha2::Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// A fresh directory, removed when the test is done with it.
struct TempDir(PathBuf);

impl std::ops::Deref for TempDir {
    type Target = PathBuf;
    fn deref(&self) -> &PathBuf {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn temp(name: &str) -> TempDir {
    static N: AtomicUsize = AtomicUsize::new(0);
    let dir = std::env::temp_dir().join(format!(
        "anuvad-hub-{name}-{}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::SeqCst)
    ));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    TempDir(dir)
}

fn card(sha: Option<&str>) -> ModelCard {
    let sha = sha
        .map(|s| format!("sha256 = \"{s}\"\n"))
        .unwrap_or_default();
    let text = format!(
        r#"
id = "tiny-hub"
name = "tiny from a mock hub"
architecture = "gemma3"
instruct = false
[source]
hub_repo = "{REPO}"
file = "{FILE}"
{sha}
[tokenizer]
source = "hub"
hub_repo = "{REPO}"
[context]
max = 4096
use_tokens = 512
[generation]
max_new_tokens = 8
[chunk]
max_sentences = 1
max_source_tokens = 100
[summary]
short_words = 10
medium_words = 20
long_words = 30
notes_chunk_tokens = 60
[prompts.translate]
body = "{{source}}"
[prompts.summarize]
body = "{{source}}"
[prompts.notes]
body = "{{source}}"
[prompts.reduce]
body = "{{notes}}"
"#
    );
    ModelCard::parse(&text, "test").unwrap()
}

fn config(hub: &MockHub, hf_home: &std::path::Path, offline: bool) -> HubConfig {
    HubConfig {
        endpoint: Some(hub.url.clone()),
        hf_home: Some(hf_home.to_path_buf()),
        offline,
    }
}

#[test]
fn a_card_id_downloads_once_into_the_hf_cache_then_hits_the_cache() {
    let bytes = tiny_model_bytes();
    let hub = MockHub::start(vec![(FILE.into(), bytes.clone())]);
    let (home, hf) = (temp("home"), temp("hf"));
    let card = card(Some(&sha256(&bytes)));
    let cards = vec![card.clone()];

    let r = hub::resolve(
        Some("tiny-hub"),
        None,
        &cards,
        &home,
        &config(&hub, &hf, false),
        &mut Silent,
    )
    .unwrap();
    assert_eq!(std::fs::read(&r.path).unwrap(), bytes);
    assert_eq!(r.sha256, sha256(&bytes));
    assert!(
        r.path
            .starts_with(hf.join("hub").join("models--anuvad-test--tiny-GGUF")),
        "{}",
        r.path.display()
    );
    let after_download = hub.requests();
    assert!(
        after_download >= 2,
        "metadata and body requests, got {after_download}"
    );

    let again = hub::resolve(
        Some("tiny-hub"),
        None,
        &cards,
        &home,
        &config(&hub, &hf, false),
        &mut Silent,
    )
    .unwrap();
    assert_eq!(again.path, r.path);
    assert_eq!(
        hub.requests(),
        after_download,
        "a cached model makes no request"
    );
    assert_eq!(
        hub::local_path(&card, &home, &config(&hub, &hf, false)),
        Some(r.path)
    );
}

#[test]
fn offline_mode_uses_the_cache_and_never_the_network() {
    let bytes = tiny_model_bytes();
    let hub = MockHub::start(vec![(FILE.into(), bytes)]);
    let (home, hf) = (temp("home"), temp("hf"));
    let cards = vec![card(None)];

    let err = hub::resolve(
        Some("tiny-hub"),
        None,
        &cards,
        &home,
        &config(&hub, &hf, true),
        &mut Silent,
    )
    .unwrap_err();
    assert!(matches!(err, Error::Offline { .. }), "{err}");
    assert!(
        err.to_string().contains("anuvad models pull tiny-hub"),
        "{err}"
    );
    assert_eq!(hub.requests(), 0);

    hub::pull(&cards[0], &home, &config(&hub, &hf, false), &mut Silent).unwrap();
    let before = hub.requests();
    hub::resolve(
        Some("tiny-hub"),
        None,
        &cards,
        &home,
        &config(&hub, &hf, true),
        &mut Silent,
    )
    .unwrap();
    assert_eq!(hub.requests(), before);
}

#[test]
fn a_download_with_the_wrong_sha256_is_rejected_and_removed() {
    let bytes = tiny_model_bytes();
    let hub = MockHub::start(vec![(FILE.into(), bytes)]);
    let (home, hf) = (temp("home"), temp("hf"));
    let bad = card(Some(&"0".repeat(64)));
    let err = hub::pull(&bad, &home, &config(&hub, &hf, false), &mut Silent).unwrap_err();
    let Error::ModelCorrupt { path, .. } = &err else {
        panic!("{err}")
    };
    assert!(!path.exists(), "the bad download must be removed");
    let blobs = hf.join("hub/models--anuvad-test--tiny-GGUF/blobs");
    // hf-hub leaves an empty `.lock` beside its blobs after any download; no data may stay.
    let left: Vec<_> = std::fs::read_dir(&blobs)
        .map(|d| {
            d.flatten()
                .filter(|e| e.path().extension().is_none_or(|x| x != "lock"))
                .collect()
        })
        .unwrap_or_default();
    assert!(left.is_empty(), "blobs left behind: {left:?}");
    assert!(
        err.to_string().contains("anuvad models pull tiny-hub"),
        "{err}"
    );
}

#[test]
fn downloads_report_progress_in_bytes() {
    struct Count(u64, u64, bool);
    impl Progress for Count {
        fn event(&mut self, e: &Event) {
            match e {
                Event::DownloadStart { bytes, .. } => self.0 = *bytes,
                Event::DownloadAdvance { bytes } => self.1 += bytes,
                Event::DownloadDone => self.2 = true,
                _ => {}
            }
        }
    }
    let bytes = tiny_model_bytes();
    let hub = MockHub::start(vec![(FILE.into(), bytes.clone())]);
    let (home, hf) = (temp("home"), temp("hf"));
    let mut c = Count(0, 0, false);
    hub::pull(&card(None), &home, &config(&hub, &hf, false), &mut c).unwrap();
    assert_eq!(c.0, bytes.len() as u64);
    assert_eq!(c.1, bytes.len() as u64);
    assert!(c.2);
}

#[test]
fn the_tokenizer_json_comes_through_the_same_mechanism() {
    let hub = MockHub::start(vec![(
        "tokenizer.json".into(),
        b"{\"version\": \"1.0\"}".to_vec(),
    )]);
    let hf = temp("hf");
    let p = hub::tokenizer_json(&card(None), &config(&hub, &hf, false), &mut Silent).unwrap();
    assert_eq!(std::fs::read(p).unwrap(), b"{\"version\": \"1.0\"}");
}

#[test]
fn unknown_ids_missing_paths_and_broken_files_are_clear_errors() {
    let home = temp("home");
    let cards = vec![card(None)];
    let offline = HubConfig {
        offline: true,
        ..HubConfig::default()
    };
    let err = hub::resolve(Some("nope"), None, &cards, &home, &offline, &mut Silent).unwrap_err();
    assert!(
        matches!(err, Error::UnknownModel { .. }) && err.to_string().contains("tiny-hub"),
        "{err}"
    );

    let err = hub::resolve(
        Some("/no/such/model.gguf"),
        None,
        &cards,
        &home,
        &offline,
        &mut Silent,
    )
    .unwrap_err();
    assert!(
        matches!(err, Error::ModelMissing { .. })
            && err.to_string().contains("/no/such/model.gguf"),
        "{err}"
    );

    let junk = home.join("junk.gguf");
    std::fs::write(&junk, b"not a gguf at all").unwrap();
    let err = hub::resolve(
        Some(junk.to_str().unwrap()),
        Some("tiny-hub"),
        &cards,
        &home,
        &offline,
        &mut Silent,
    )
    .unwrap_err();
    assert!(matches!(err, Error::ModelCorrupt { .. }), "{err}");
}

#[test]
fn the_sha256_of_a_model_is_computed_once_and_remembered() {
    let dir = temp("sha");
    let path = dir.join("m.gguf");
    std::fs::write(&path, b"GGUF some bytes").unwrap();
    let first = hub::file_sha256(&path, &dir).unwrap();
    assert_eq!(first, sha256(b"GGUF some bytes"));
    let sidecar = dir.join("m.gguf.sha256");
    assert!(sidecar.is_file());
    // A planted sidecar with the same size and mtime is trusted: proof it is not rehashed.
    let text = std::fs::read_to_string(&sidecar).unwrap();
    let planted = text.replacen(&first, &"a".repeat(64), 1);
    std::fs::write(&sidecar, planted).unwrap();
    assert_eq!(hub::file_sha256(&path, &dir).unwrap(), "a".repeat(64));
    // Changing the file invalidates it.
    std::thread::sleep(std::time::Duration::from_millis(20));
    std::fs::write(&path, b"GGUF other bytes!").unwrap();
    assert_eq!(
        hub::file_sha256(&path, &dir).unwrap(),
        sha256(b"GGUF other bytes!")
    );
}

#[test]
fn models_pull_from_the_command_line_uses_hf_endpoint() {
    let bytes = tiny_model_bytes();
    let hub = MockHub::start(vec![(FILE.into(), bytes.clone())]);
    let (home, hf) = (temp("home"), temp("hf"));
    std::fs::create_dir_all(home.join("models")).unwrap();
    let toml = std::fs::read_to_string("models/gemma3-270m.toml").unwrap();
    let user_card = toml
        .replace("id = \"gemma3-270m\"", "id = \"tiny-hub\"")
        .replace("default = true", "default = false")
        .replace(
            "file = \"gemma-3-270m-q4_k_m.gguf\"",
            &format!("hub_repo = \"{REPO}\"\nfile = \"{FILE}\""),
        )
        .lines()
        .filter(|l| !l.starts_with("sha256") && !l.starts_with("size"))
        .collect::<Vec<_>>()
        .join("\n");
    std::fs::write(home.join("models/tiny-hub.toml"), user_card).unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_anuvad"))
        .args(["models", "pull", "tiny-hub", "--progress", "plain"])
        .env("ANUVAD_HOME", &*home)
        .env("HF_ENDPOINT", &hub.url)
        .env("HF_HOME", &*hf)
        .env_remove("HF_HUB_OFFLINE")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let path = PathBuf::from(String::from_utf8(out.stdout).unwrap().trim());
    assert_eq!(std::fs::read(&path).unwrap(), bytes);
    assert!(String::from_utf8_lossy(&out.stderr).contains("downloading tiny-gemma3.gguf"));
    let list = std::process::Command::new(env!("CARGO_BIN_EXE_anuvad"))
        .args(["models", "list"])
        .env("ANUVAD_HOME", &*home)
        .env("HF_HOME", &*hf)
        .output()
        .unwrap();
    let list = String::from_utf8(list.stdout).unwrap();
    let row = list.lines().find(|l| l.starts_with("tiny-hub")).unwrap();
    assert!(row.contains("yes"), "{row}");
}

#[test]
fn a_marian_card_pulls_every_file_of_its_repo_then_translates_offline() {
    let fixture =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/tiny-marian");
    let files: Vec<(String, Vec<u8>)> = [
        "pytorch_model.bin",
        "config.json",
        "source.spm",
        "target.spm",
        "vocab.json",
    ]
    .iter()
    .map(|f| (f.to_string(), std::fs::read(fixture.join(f)).unwrap()))
    .collect();
    let hub = MockHub::start(files.clone());
    let (home, hf) = (temp("home"), temp("hf"));
    let run = |args: &[&str], offline: bool| {
        let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_anuvad"));
        cmd.args(args)
            .env("ANUVAD_HOME", &*home)
            .env("HF_ENDPOINT", &hub.url)
            .env("HF_HOME", &*hf)
            .env_remove("ANUVAD_MODEL");
        if offline {
            cmd.env("HF_HUB_OFFLINE", "1");
        } else {
            cmd.env_remove("HF_HUB_OFFLINE");
        }
        cmd.output().unwrap()
    };
    let out = run(
        &["models", "pull", "opus-mt-hi-en", "--progress", "plain"],
        false,
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let path = PathBuf::from(String::from_utf8(out.stdout).unwrap().trim());
    assert!(path.ends_with("pytorch_model.bin"), "{}", path.display());
    assert!(path.starts_with(hf.join("hub").join("models--Helsinki-NLP--opus-mt-hi-en")));
    for (name, bytes) in &files {
        assert_eq!(
            &std::fs::read(path.with_file_name(name)).unwrap(),
            bytes,
            "{name}"
        );
    }
    let requests = hub.requests();
    let article = home.join("a.txt");
    std::fs::write(&article, "सरकार ने लोगों से घर में रहने को कहा।\n").unwrap();
    let t = run(
        &[
            "translate",
            article.to_str().unwrap(),
            "--model",
            "opus-mt-hi-en",
        ],
        true,
    );
    assert!(t.status.success(), "{}", String::from_utf8_lossy(&t.stderr));
    assert_eq!(hub.requests(), requests, "offline: no request");
}
