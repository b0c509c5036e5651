//! Model download against a mock Hugging Face Hub on 127.0.0.1 that answers the way the
//! real one does (ranged GETs on /{repo}/resolve/{rev}/{file} with etag, x-repo-commit
//! and content-range), or the way a hostile or broken one would (`Quirks`); and the
//! integrity of model files on disk (sidecars, cards' sha256, `models verify`). No test
//! touches the internet.

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

/// How the mock hub misbehaves (default: like the real hub).
#[derive(Clone, Default)]
struct Quirks {
    /// The `etag` header as sent (default: a hex digest of the body).
    etag: Option<String>,
    /// The `x-repo-commit` header as sent.
    commit: Option<String>,
    /// An `x-linked-etag` header (the real hub's sha256 of an LFS file).
    linked_etag: Option<String>,
    /// Bytes sent after the body the headers announce (a lying or hostile server).
    extra: usize,
    /// Read the request, then never answer.
    stall: bool,
    /// The first download of a body (not the 0-0 metadata probe) stops after this many
    /// bytes, as a dropped connection does.
    cut_first: Option<usize>,
}

/// A mock hub serving `files` (name → bytes) for any repo and revision.
struct MockHub {
    url: String,
    requests: Arc<AtomicUsize>,
    /// The `range` header of every request, in order.
    ranges: Arc<Mutex<Vec<String>>>,
}

impl MockHub {
    fn start(files: Vec<(String, Vec<u8>)>) -> MockHub {
        MockHub::with_quirks(files, Quirks::default())
    }

    fn with_quirks(files: Vec<(String, Vec<u8>)>, quirks: Quirks) -> MockHub {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let requests = Arc::new(AtomicUsize::new(0));
        let ranges = Arc::new(Mutex::new(Vec::new()));
        let files = Arc::new(files);
        let (r, g) = (requests.clone(), ranges.clone());
        let cut = Arc::new(Mutex::new(quirks.cut_first));
        // The threads end with the test process; each connection is answered and closed.
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                r.fetch_add(1, Ordering::SeqCst);
                let (files, quirks, g, cut) =
                    (files.clone(), quirks.clone(), g.clone(), cut.clone());
                std::thread::spawn(move || {
                    let _ = serve(stream, &files, &quirks, &g, &cut);
                });
            }
        });
        MockHub {
            url,
            requests,
            ranges,
        }
    }

    fn requests(&self) -> usize {
        self.requests.load(Ordering::SeqCst)
    }

    fn ranges(&self) -> Vec<String> {
        self.ranges.lock().unwrap().clone()
    }
}

fn serve(
    mut stream: std::net::TcpStream,
    files: &[(String, Vec<u8>)],
    quirks: &Quirks,
    ranges: &Mutex<Vec<String>>,
    cut: &Mutex<Option<usize>>,
) -> std::io::Result<()> {
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
            ranges.lock().unwrap().push(format!("bytes={}", v.trim()));
            let (a, b) = v.trim().split_once('-').unwrap_or(("0", ""));
            range = Some((a.parse::<usize>().unwrap_or(0), b.parse::<usize>().ok()));
        }
    }
    if quirks.stall {
        std::thread::sleep(std::time::Duration::from_secs(3600));
        return Ok(());
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
    let probe = range == Some((0, Some(0)));
    let mut slice = body[start..=end].to_vec();
    if !probe {
        slice.extend(std::iter::repeat_n(b'x', quirks.extra));
    }
    let etag = quirks.etag.clone().unwrap_or_else(|| {
        format!(
            "\"{:x}\"",
            total * 31 + body.iter().take(64).map(|&b| b as usize).sum::<usize>()
        )
    });
    let commit = quirks
        .commit
        .clone()
        .unwrap_or_else(|| "0123456789abcdef0123456789abcdef01234567".into());
    if let Some(linked) = &quirks.linked_etag {
        write!(
            stream,
            "HTTP/1.1 206 Partial Content\r\nx-linked-etag: \"{linked}\"\r\n"
        )?;
    } else {
        write!(stream, "HTTP/1.1 206 Partial Content\r\n")?;
    }
    write!(
        stream,
        "etag: {etag}\r\nx-repo-commit: {commit}\r\ncontent-range: bytes {start}-{end}/{total}\r\ncontent-length: {}\r\nconnection: close\r\n\r\n",
        slice.len()
    )?;
    let cut_at = if probe {
        None
    } else {
        cut.lock().unwrap().take()
    };
    match cut_at {
        Some(n) => {
            stream.write_all(&slice[..n.min(slice.len())])?;
            stream.flush()?;
            return stream.shutdown(std::net::Shutdown::Both);
        }
        None => stream.write_all(&slice)?,
    }
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
        ..HubConfig::default()
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

/// The cache is hf-hub's own: what we download, hf-hub's `CacheRepo::get` finds; what
/// hf-hub's cache API put in place (a ref and a snapshot), we find offline; and a ref
/// that is not a commit id, which hf-hub would follow out of the snapshots, is not.
#[test]
fn the_cache_is_hf_hubs_both_ways_and_a_ref_that_climbs_out_is_not_followed() {
    let bytes = tiny_model_bytes();
    let hub = MockHub::start(vec![(FILE.into(), bytes.clone())]);
    let (home, hf) = (temp("home"), temp("hf"));
    let c = card(None);
    let pulled = hub::pull(&c, &home, &config(&hub, &hf, false), &mut Silent).unwrap();
    let ours = hf_hub::Cache::new(hf.join("hub"));
    assert_eq!(ours.model(REPO.into()).get(FILE), Some(pulled));

    let other = temp("hf-other");
    let repo = hf_hub::Cache::new(other.join("hub")).repo(hf_hub::Repo::with_revision(
        REPO.into(),
        hf_hub::RepoType::Model,
        c.source.revision.clone(),
    ));
    let commit = "0123456789abcdef0123456789abcdef01234567";
    repo.create_ref(commit).unwrap();
    let folder = other.join("hub").join("models--anuvad-test--tiny-GGUF");
    let snapshot = folder.join("snapshots").join(commit);
    std::fs::create_dir_all(&snapshot).unwrap();
    std::fs::write(snapshot.join(FILE), &bytes).unwrap();
    let offline = HubConfig {
        hf_home: Some(other.to_path_buf()),
        offline: true,
        ..HubConfig::default()
    };
    assert_eq!(
        hub::local_path(&c, &home, &offline),
        Some(snapshot.join(FILE))
    );
    let r = hub::resolve(
        Some("tiny-hub"),
        None,
        std::slice::from_ref(&c),
        &home,
        &offline,
        &mut Silent,
    )
    .unwrap();
    assert_eq!(r.path, snapshot.join(FILE));

    // hub/models--…/snapshots/../../outside = hub/outside
    let outside = other.join("hub").join("outside");
    std::fs::create_dir_all(&outside).unwrap();
    std::fs::write(outside.join(FILE), &bytes).unwrap();
    repo.create_ref("../../outside").unwrap();
    assert!(repo.get(FILE).is_some(), "hf-hub follows the ref as it is");
    assert_eq!(hub::local_path(&c, &home, &offline), None);
    let err = hub::resolve(Some("tiny-hub"), None, &[c], &home, &offline, &mut Silent).unwrap_err();
    assert!(matches!(err, Error::Offline { .. }), "{err}");
}

#[test]
fn a_download_with_the_wrong_sha256_is_rejected_and_removed() {
    let bytes = tiny_model_bytes();
    let hub = MockHub::start(vec![(FILE.into(), bytes)]);
    let (home, hf) = (temp("home"), temp("hf"));
    let bad = card(Some(&"0".repeat(64)));
    let err = hub::pull(&bad, &home, &config(&hub, &hf, false), &mut Silent).unwrap_err();
    assert!(matches!(err, Error::Download { .. }), "{err}");
    assert!(
        hub::local_path(&bad, &home, &config(&hub, &hf, true)).is_none(),
        "the bad download must not be in the cache"
    );
    let blobs = hf.join("hub/models--anuvad-test--tiny-GGUF/blobs");
    // The `.lock` beside the blobs stays (an empty file); no data may.
    let left: Vec<_> = std::fs::read_dir(&blobs)
        .map(|d| {
            d.flatten()
                .filter(|e| e.path().extension().is_none_or(|x| x != "lock"))
                .collect()
        })
        .unwrap_or_default();
    assert!(left.is_empty(), "blobs left behind: {left:?}");
    assert!(
        err.to_string().contains("anuvad models pull tiny-hub")
            && err.to_string().contains(&"0".repeat(64)),
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
        matches!(err, Error::ModelPath { .. })
            && err.exit_code() == 5
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
    // TRANSFORMERS_OFFLINE means offline too, as for huggingface_hub: no request.
    let offline = std::process::Command::new(env!("CARGO_BIN_EXE_anuvad"))
        .args(["models", "pull", "tiny-hub"])
        .env("ANUVAD_HOME", &*home)
        .env("HF_ENDPOINT", &hub.url)
        .env("HF_HOME", &*hf)
        .env_remove("HF_HUB_OFFLINE")
        .env("TRANSFORMERS_OFFLINE", "YES")
        .output()
        .unwrap();
    assert_eq!(offline.status.code(), Some(5));
    assert!(
        String::from_utf8_lossy(&offline.stderr)
            .contains("HF_HUB_OFFLINE (or TRANSFORMERS_OFFLINE) is set")
    );
    assert_eq!(hub.requests(), 0);
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
    // `models path` names the folder holding all five files, which `--model` takes.
    let where_ = run(&["models", "path", "opus-mt-hi-en"], true);
    assert!(
        where_.status.success(),
        "{}",
        String::from_utf8_lossy(&where_.stderr)
    );
    let folder = PathBuf::from(String::from_utf8(where_.stdout).unwrap().trim());
    assert_eq!(folder, path.parent().unwrap());
    for (name, _) in &files {
        assert!(folder.join(name).is_file(), "{name}");
    }
}

/// A Hugging Face home one level below a fresh directory, so that anything a hostile
/// server makes us write outside the cache lands beside it, where tests can see it.
struct Sandbox {
    outer: TempDir,
    hf: PathBuf,
    home: PathBuf,
}

fn sandbox(name: &str) -> Sandbox {
    let outer = temp(name);
    let hf = outer.join("hf");
    let home = outer.join("home");
    std::fs::create_dir_all(&hf).unwrap();
    std::fs::create_dir_all(home.join("models")).unwrap();
    Sandbox { outer, hf, home }
}

impl Sandbox {
    /// `hub::pull` of the sandbox's card (no sha256) from `hub`, online.
    fn pull(&self, hub: &MockHub) -> anuvad::Result<PathBuf> {
        hub::pull(
            &card(None),
            &self.home,
            &config(hub, &self.hf, false),
            &mut Silent,
        )
    }

    /// Whatever is in the sandbox but not in the HF home or the anuvad home.
    fn escaped(&self) -> Vec<PathBuf> {
        std::fs::read_dir(&*self.outer)
            .unwrap()
            .flatten()
            .map(|e| e.path())
            .filter(|p| *p != self.hf && *p != self.home)
            .collect()
    }

    /// Every file or symlink under the HF home.
    fn cached(&self) -> Vec<(PathBuf, u64)> {
        fn walk(dir: &std::path::Path, out: &mut Vec<(PathBuf, u64)>) {
            for e in std::fs::read_dir(dir).into_iter().flatten().flatten() {
                let meta = std::fs::symlink_metadata(e.path()).unwrap();
                if meta.is_dir() {
                    walk(&e.path(), out);
                } else {
                    out.push((e.path(), meta.len()));
                }
            }
        }
        let mut out = Vec::new();
        walk(&self.hf, &mut out);
        out
    }
}

#[test]
fn an_etag_with_a_path_traversal_is_refused_and_nothing_lands_outside_the_cache() {
    let quirks = Quirks {
        etag: Some("\"../../../../escaped-by-etag\"".into()),
        ..Quirks::default()
    };
    let hub = MockHub::with_quirks(vec![(FILE.into(), tiny_model_bytes())], quirks);
    let s = sandbox("etag");
    let err = s.pull(&hub).unwrap_err();
    assert!(
        matches!(err, Error::Download { .. }) && err.to_string().contains("etag"),
        "{err}"
    );
    assert_eq!(err.exit_code(), 5);
    assert_eq!(s.escaped(), Vec::<PathBuf>::new());
}

#[test]
fn a_commit_with_a_path_traversal_is_refused_without_a_panic() {
    let quirks = Quirks {
        commit: Some("../../../../escaped-by-commit".into()),
        ..Quirks::default()
    };
    let hub = MockHub::with_quirks(vec![(FILE.into(), tiny_model_bytes())], quirks);
    let s = sandbox("commit");
    let err = s.pull(&hub).unwrap_err();
    assert!(
        matches!(err, Error::Download { .. }) && err.to_string().contains("x-repo-commit"),
        "{err}"
    );
    assert_eq!(s.escaped(), Vec::<PathBuf>::new());
}

#[test]
fn without_a_sha256_in_the_card_the_hubs_own_sha256_is_checked() {
    let bytes = tiny_model_bytes();
    let s = sandbox("linked-etag");
    let quirks = |sha: String| Quirks {
        linked_etag: Some(sha),
        ..Quirks::default()
    };
    let liar = MockHub::with_quirks(vec![(FILE.into(), bytes.clone())], quirks("ab".repeat(32)));
    let err = s.pull(&liar).unwrap_err();
    assert!(
        matches!(err, Error::Download { .. }) && err.to_string().contains(&"ab".repeat(32)),
        "{err}"
    );
    let honest = MockHub::with_quirks(vec![(FILE.into(), bytes.clone())], quirks(sha256(&bytes)));
    let path = s.pull(&honest).unwrap();
    assert_eq!(std::fs::read(path).unwrap(), bytes);
}

#[test]
fn a_body_longer_than_announced_is_cut_off_and_nothing_is_kept() {
    let bytes = tiny_model_bytes();
    let quirks = Quirks {
        extra: 4 << 20,
        ..Quirks::default()
    };
    let hub = MockHub::with_quirks(vec![(FILE.into(), bytes.clone())], quirks);
    let s = sandbox("long-body");
    // No sha256 in the card: the announced size is all there is to hold the server to.
    let err = s.pull(&hub).unwrap_err();
    assert!(
        matches!(err, Error::Download { .. }) && err.to_string().contains(&bytes.len().to_string()),
        "{err}"
    );
    let big: Vec<_> = s
        .cached()
        .into_iter()
        .filter(|(_, len)| *len > bytes.len() as u64)
        .collect();
    assert_eq!(big, vec![], "nothing larger than announced is written");
    assert!(
        !s.cached()
            .iter()
            .any(|(p, _)| p.to_string_lossy().contains("snapshots")),
        "{:?}",
        s.cached()
    );
}

#[test]
fn models_pull_holds_the_server_to_the_cards_size_before_downloading() {
    let bytes = tiny_model_bytes();
    let hub = MockHub::start(vec![(FILE.into(), bytes.clone())]);
    let s = sandbox("card-size");
    let mut c = card(None);
    c.source.size = Some(bytes.len() as u64 + 1000);
    let err = hub::pull(&c, &s.home, &config(&hub, &s.hf, false), &mut Silent).unwrap_err();
    let message = err.to_string();
    assert!(
        message.contains(&(bytes.len() + 1000).to_string())
            && message.contains(&bytes.len().to_string()),
        "{message}"
    );
    assert_eq!(err.exit_code(), 5);
    assert!(
        !hub.ranges().iter().any(|r| r == "bytes=0-"),
        "the body is never asked for: {:?}",
        hub.ranges()
    );
    assert!(
        !s.cached()
            .iter()
            .any(|(p, _)| p.to_string_lossy().contains("snapshots")),
        "{:?}",
        s.cached()
    );
}

#[test]
fn a_dropped_connection_is_resumed_where_it_stopped() {
    let bytes = tiny_model_bytes();
    let cut = bytes.len() / 3;
    let quirks = Quirks {
        cut_first: Some(cut),
        ..Quirks::default()
    };
    let hub = MockHub::with_quirks(vec![(FILE.into(), bytes.clone())], quirks);
    let s = sandbox("resume");
    let c = card(Some(&sha256(&bytes)));
    let path = hub::pull(&c, &s.home, &config(&hub, &s.hf, false), &mut Silent).unwrap();
    assert_eq!(std::fs::read(&path).unwrap(), bytes);
    assert!(
        hub.ranges().contains(&format!("bytes={cut}-")),
        "the second request asks for the rest only: {:?}",
        hub.ranges()
    );
}

/// Runs `cmd`, killing it if it is still running after two minutes (a hang, not a slow
/// run: every step it takes is bounded by a one-second network timeout).
fn output_within_two_minutes(cmd: &mut std::process::Command) -> Option<std::process::Output> {
    let mut child = cmd
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    for _ in 0..1200 {
        if child.try_wait().unwrap().is_some() {
            return Some(child.wait_with_output().unwrap());
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    let _ = child.kill();
    let _ = child.wait();
    None
}

/// A user card for the mock hub's tiny model, with `source` lines of its own.
fn user_card(source: &str) -> String {
    let toml = std::fs::read_to_string("models/gemma3-270m.toml").unwrap();
    toml.lines()
        .filter(|l| !l.starts_with("sha256") && !l.starts_with("size"))
        .collect::<Vec<_>>()
        .join("\n")
        .replace("id = \"gemma3-270m\"", "id = \"tiny-hub\"")
        .replace("default = true", "default = false")
        .replace("file = \"gemma-3-270m-q4_k_m.gguf\"", source)
}

#[test]
fn a_stalled_server_fails_the_download_instead_of_hanging() {
    let quirks = Quirks {
        stall: true,
        ..Quirks::default()
    };
    let hub = MockHub::with_quirks(vec![(FILE.into(), tiny_model_bytes())], quirks);
    let s = sandbox("stall");
    std::fs::write(
        s.home.join("models/tiny-hub.toml"),
        user_card(&format!("hub_repo = \"{REPO}\"\nfile = \"{FILE}\"")),
    )
    .unwrap();
    let out = output_within_two_minutes(
        std::process::Command::new(env!("CARGO_BIN_EXE_anuvad"))
            .args(["models", "pull", "tiny-hub", "--progress", "none"])
            .env("ANUVAD_HOME", &s.home)
            .env("HF_ENDPOINT", &hub.url)
            .env("HF_HOME", &s.hf)
            .env("ANUVAD_HUB_TIMEOUT", "1")
            .env_remove("HF_HUB_OFFLINE"),
    )
    .expect("models pull hung on a server that never answers");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(5), "{stderr}");
    assert!(stderr.contains("timed out"), "{stderr}");
}

#[test]
fn a_batch_on_a_stalled_server_fails_and_lets_go_of_its_output_directory() {
    let quirks = Quirks {
        stall: true,
        ..Quirks::default()
    };
    let hub = MockHub::with_quirks(vec![(FILE.into(), tiny_model_bytes())], quirks);
    let s = sandbox("stall-batch");
    std::fs::write(
        s.home.join("models/tiny-hub.toml"),
        user_card(&format!("hub_repo = \"{REPO}\"\nfile = \"{FILE}\"")),
    )
    .unwrap();
    let article = s.home.join("a.txt");
    std::fs::write(&article, "सरकार ने लोगों से घर में रहने को कहा।\n").unwrap();
    let out_dir = s.home.join("out");
    let batch = || {
        output_within_two_minutes(
            std::process::Command::new(env!("CARGO_BIN_EXE_anuvad"))
                .arg("batch")
                .arg(&article)
                .arg("--out")
                .arg(&out_dir)
                .args(["--model", "tiny-hub", "--progress", "none"])
                .env("ANUVAD_HOME", &s.home)
                .env("HF_ENDPOINT", &hub.url)
                .env("HF_HOME", &s.hf)
                .env("ANUVAD_HUB_TIMEOUT", "1")
                .env_remove("HF_HUB_OFFLINE"),
        )
        .expect("batch hung on a server that never answers")
    };
    for _ in 0..2 {
        let out = batch();
        let stderr = String::from_utf8_lossy(&out.stderr);
        // Not 8 the second time: the first run did not keep the directory locked.
        assert_eq!(out.status.code(), Some(5), "{stderr}");
        assert!(stderr.contains("timed out"), "{stderr}");
    }
}

#[test]
fn a_card_whose_file_climbs_out_of_the_cache_is_refused() {
    let hub = MockHub::start(vec![(FILE.into(), tiny_model_bytes())]);
    let s = sandbox("card-file");
    std::fs::write(
        s.home.join("models/tiny-hub.toml"),
        user_card(&format!(
            "hub_repo = \"{REPO}\"\nfile = \"../../../../../escaped-by-card.gguf\""
        )),
    )
    .unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_anuvad"))
        .args(["models", "pull", "tiny-hub", "--progress", "none"])
        .env("ANUVAD_HOME", &s.home)
        .env("HF_ENDPOINT", &hub.url)
        .env("HF_HOME", &s.hf)
        .env_remove("HF_HUB_OFFLINE")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(5), "{stderr}");
    assert!(
        stderr.contains("tiny-hub.toml") && stderr.contains("source.file"),
        "{stderr}"
    );
    assert_eq!(s.escaped(), Vec::<PathBuf>::new());
    assert_eq!(hub.requests(), 0);
}

/// Sets the file's mtime back to `mtime`, as `touch -r` or `cp -p` would.
fn set_mtime(path: &std::path::Path, mtime: std::time::SystemTime) {
    std::fs::File::options()
        .write(true)
        .open(path)
        .unwrap()
        .set_modified(mtime)
        .unwrap();
}

/// Flips one byte in the middle of the file, in place, keeping its size and mtime.
fn corrupt_in_place(path: &std::path::Path) {
    use std::io::{Seek, SeekFrom};
    let mtime = std::fs::metadata(path).unwrap().modified().unwrap();
    let len = std::fs::metadata(path).unwrap().len();
    let mut f = std::fs::File::options()
        .read(true)
        .write(true)
        .open(path)
        .unwrap();
    f.seek(SeekFrom::Start(len / 2)).unwrap();
    let mut b = [0u8; 1];
    f.read_exact(&mut b).unwrap();
    f.seek(SeekFrom::Start(len / 2)).unwrap();
    f.write_all(&[b[0] ^ 0x55]).unwrap();
    drop(f);
    set_mtime(path, mtime);
}

#[test]
fn a_sidecar_that_is_not_a_hex_digest_is_ignored() {
    let dir = temp("sidecar-hex");
    let path = dir.join("m.gguf");
    std::fs::write(&path, b"GGUF some bytes").unwrap();
    let real = hub::file_sha256(&path, &dir).unwrap();
    let sidecar = dir.join("m.gguf.sha256");
    let text = std::fs::read_to_string(&sidecar).unwrap();
    std::fs::write(&sidecar, text.replacen(&real, &"<script>".repeat(8), 1)).unwrap();
    assert_eq!(hub::file_sha256(&path, &dir).unwrap(), real);
    std::fs::write(&sidecar, "garbage").unwrap();
    assert_eq!(hub::file_sha256(&path, &dir).unwrap(), real);
}

#[test]
fn a_file_replaced_by_another_of_the_same_size_and_mtime_is_hashed_again() {
    let dir = temp("sidecar-inode");
    let path = dir.join("m.gguf");
    std::fs::write(&path, b"GGUF good bytes").unwrap();
    let good = hub::file_sha256(&path, &dir).unwrap();
    let mtime = std::fs::metadata(&path).unwrap().modified().unwrap();
    // A corrupted copy put in its place, mtime preserved (`cp -p`, `rsync -t`).
    let copy = dir.join("copy");
    std::fs::write(&copy, b"GGUF evil bytes").unwrap();
    set_mtime(&copy, mtime);
    std::fs::rename(&copy, &path).unwrap();
    assert_eq!(
        hub::file_sha256(&path, &dir).unwrap(),
        sha256(b"GGUF evil bytes")
    );
    assert_ne!(good, sha256(b"GGUF evil bytes"));
}

#[test]
fn a_file_changed_in_place_with_its_mtime_restored_is_hashed_again() {
    let dir = temp("sidecar-ctime");
    let path = dir.join("m.gguf");
    std::fs::write(&path, b"GGUF good bytes").unwrap();
    hub::file_sha256(&path, &dir).unwrap();
    // ctime has a clock tick of its own: make sure the change lands after it.
    std::thread::sleep(std::time::Duration::from_millis(20));
    corrupt_in_place(&path);
    let bytes = std::fs::read(&path).unwrap();
    assert_eq!(hub::file_sha256(&path, &dir).unwrap(), sha256(&bytes));
}

/// An anuvad home holding the tiny model under a user card (no hub) that gives its
/// size and sha256.
fn home_with_local_model(name: &str) -> (Sandbox, PathBuf, Vec<u8>) {
    let s = sandbox(name);
    let bytes = tiny_model_bytes();
    let path = s.home.join("models").join(FILE);
    std::fs::write(&path, &bytes).unwrap();
    std::fs::write(
        s.home.join("models/tiny-hub.toml"),
        user_card(&format!(
            "file = \"{FILE}\"\nsha256 = \"{}\"\nsize = {}",
            sha256(&bytes),
            bytes.len()
        )),
    )
    .unwrap();
    (s, path, bytes)
}

fn cards_of(s: &Sandbox) -> Vec<ModelCard> {
    anuvad::card::load_all(Some(&s.home.join("models"))).unwrap()
}

#[test]
fn a_local_model_is_held_to_its_cards_sha256_on_first_use_and_after_a_change() {
    let (s, path, _) = home_with_local_model("local-sha");
    let offline = HubConfig {
        offline: true,
        hf_home: Some(s.hf.clone()),
        ..HubConfig::default()
    };
    let cards = cards_of(&s);
    hub::resolve(
        Some("tiny-hub"),
        None,
        &cards,
        &s.home,
        &offline,
        &mut Silent,
    )
    .unwrap();
    std::thread::sleep(std::time::Duration::from_millis(20));
    corrupt_in_place(&path);
    let err = hub::resolve(
        Some("tiny-hub"),
        None,
        &cards,
        &s.home,
        &offline,
        &mut Silent,
    )
    .unwrap_err();
    assert!(matches!(err, Error::ModelCorrupt { .. }), "{err}");
    assert_eq!(err.exit_code(), 5);
    let message = err.to_string();
    assert!(
        message.contains(&sha256(&std::fs::read(&path).unwrap()))
            && message.contains("anuvad models pull tiny-hub"),
        "{message}"
    );

    // A file that never matched fails on its first use too.
    let (s, path, _) = home_with_local_model("local-sha-first");
    corrupt_in_place(&path);
    let err = hub::resolve(
        Some("tiny-hub"),
        None,
        &cards_of(&s),
        &s.home,
        &offline,
        &mut Silent,
    )
    .unwrap_err();
    assert!(matches!(err, Error::ModelCorrupt { .. }), "{err}");
}

fn anuvad(s: &Sandbox, args: &[&str]) -> std::process::Output {
    std::process::Command::new(env!("CARGO_BIN_EXE_anuvad"))
        .args(args)
        .env("ANUVAD_HOME", &s.home)
        .env("HF_HOME", &s.hf)
        .env("HF_HUB_OFFLINE", "1")
        .env_remove("ANUVAD_MODEL")
        .env_remove("HF_HUB_CACHE")
        .env_remove("HUGGINGFACE_HUB_CACHE")
        .output()
        .unwrap()
}

#[test]
fn models_verify_hashes_the_files_again_and_fails_on_a_mismatch() {
    let (s, path, bytes) = home_with_local_model("verify");
    let path_arg = path.to_str().unwrap();
    for args in [
        &["models", "verify"][..],
        &["models", "verify", "tiny-hub"],
        &["models", "verify", path_arg],
    ] {
        let out = anuvad(&s, args);
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert_eq!(
            out.status.code(),
            Some(0),
            "{args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let line = stdout
            .lines()
            .find(|l| l.starts_with("tiny-hub"))
            .unwrap_or_default();
        assert!(
            line.contains(&sha256(&bytes)) && line.ends_with("ok"),
            "{args:?}: {stdout}"
        );
    }

    // Corrupted in place, then a sidecar forged to claim the card's hash for it.
    std::thread::sleep(std::time::Duration::from_millis(20));
    corrupt_in_place(&path);
    hub::file_sha256(&path, &s.home).unwrap();
    let sidecar = path.with_file_name(format!("{FILE}.sha256"));
    let text = std::fs::read_to_string(&sidecar).unwrap();
    let forged = format!("{} {}", sha256(&bytes), text.split_once(' ').unwrap().1);
    std::fs::write(&sidecar, forged).unwrap();

    let out = anuvad(&s, &["models", "verify"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(5), "{stderr}");
    assert!(
        stderr.contains(path_arg)
            && stderr.contains(&sha256(&std::fs::read(&path).unwrap()))
            && stderr.contains("anuvad models pull tiny-hub"),
        "{stderr}"
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("FAILED"));
}

/// Every path under `dir`, relative to it, sorted.
fn listing(dir: &std::path::Path) -> Vec<PathBuf> {
    fn walk(root: &std::path::Path, dir: &std::path::Path, out: &mut Vec<PathBuf>) {
        for e in std::fs::read_dir(dir).into_iter().flatten().flatten() {
            out.push(e.path().strip_prefix(root).unwrap().to_path_buf());
            if e.file_type().unwrap().is_dir() {
                walk(root, &e.path(), out);
            }
        }
    }
    let mut out = Vec::new();
    walk(dir, dir, &mut out);
    out.sort();
    out
}

#[test]
fn an_ollama_blob_without_an_extension_is_a_gguf_and_its_folder_is_left_untouched() {
    let s = sandbox("ollama");
    let bytes = tiny_model_bytes();
    let blobs = s.outer.join("ollama/models/blobs");
    std::fs::create_dir_all(&blobs).unwrap();
    let blob = blobs.join(format!("sha256-{}", sha256(&bytes)));
    std::fs::write(&blob, &bytes).unwrap();
    let before = listing(&s.outer.join("ollama"));
    let offline = HubConfig {
        offline: true,
        hf_home: Some(s.hf.clone()),
        ..HubConfig::default()
    };
    let cards = anuvad::card::load_all(None).unwrap();
    let r = hub::resolve(
        Some(blob.to_str().unwrap()),
        None,
        &cards,
        &s.home,
        &offline,
        &mut Silent,
    )
    .unwrap();
    assert!(
        !r.card.is_marian(),
        "taken for a Marian folder: {}",
        r.card.id
    );
    assert_eq!(r.card.architecture, "gemma3");
    assert_eq!(r.sha256, sha256(&bytes));
    assert_eq!(
        listing(&s.outer.join("ollama")),
        before,
        "written beside the blob"
    );
    // The hash is remembered under anuvad's home, and used: a planted memo is believed.
    let memo = hub::memo_path(&blob, &s.home);
    assert!(
        memo.starts_with(s.home.join("sha256")),
        "{}",
        memo.display()
    );
    let text = std::fs::read_to_string(&memo).unwrap();
    std::fs::write(&memo, text.replacen(&r.sha256, &"b".repeat(64), 1)).unwrap();
    assert_eq!(hub::file_sha256(&blob, &s.home).unwrap(), "b".repeat(64));
    // A file in anuvad's own home keeps its sidecar.
    let own = s.home.join("models").join(FILE);
    std::fs::write(&own, &bytes).unwrap();
    hub::file_sha256(&own, &s.home).unwrap();
    assert_eq!(
        hub::memo_path(&own, &s.home),
        own.with_file_name(format!("{FILE}.sha256"))
    );
    assert!(own.with_file_name(format!("{FILE}.sha256")).is_file());
}

#[test]
fn a_download_into_the_hf_cache_writes_no_sidecar_there() {
    let s = sandbox("no-sidecar");
    let hub = MockHub::start(vec![(FILE.into(), tiny_model_bytes())]);
    let path = s.pull(&hub).unwrap();
    hub::file_sha256(&path, &s.home).unwrap();
    let names: Vec<String> = s
        .cached()
        .iter()
        .map(|(p, _)| p.file_name().unwrap().to_string_lossy().into_owned())
        .collect();
    assert!(!names.iter().any(|n| n.ends_with(".sha256")), "{names:?}");
    assert!(hub::memo_path(&path, &s.home).is_file());
}

#[test]
fn a_llama_gguf_with_no_card_gets_few_shot_defaults_and_translates() {
    let s = sandbox("llama");
    let path = s.outer.join("llama-tiny.gguf");
    let cfg = anuvad::testing::TinyModel {
        arch: "llama".into(),
        ..anuvad::testing::TinyModel::tiny()
    };
    anuvad::testing::write_model(&path, &cfg).unwrap();
    let cards = anuvad::card::load_all(None).unwrap();
    assert!(
        !cards.iter().any(|c| c.architecture == "llama"),
        "a llama card exists now"
    );
    let (_, card) = hub::card_for_path(path.to_str().unwrap(), None, &cards).unwrap();
    assert_eq!(card.architecture, "llama");
    assert_eq!(card.source.sha256, None);
    let article = s.outer.join("a.txt");
    std::fs::write(&article, "सरकार ने लोगों से घर में रहने को कहा।\n").unwrap();
    let out = anuvad(
        &s,
        &[
            "translate",
            article.to_str().unwrap(),
            "--model",
            path.to_str().unwrap(),
        ],
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    assert!(!stderr.contains("not supported"), "{stderr}");
}

/// `models list --json` in `s` with `env` set (and every other HF cache variable unset),
/// as (id → entry).
fn listed(
    s: &Sandbox,
    env: &[(&str, &std::path::Path)],
) -> serde_json::Map<String, serde_json::Value> {
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_anuvad"));
    cmd.args(["models", "list", "--json"])
        .env("ANUVAD_HOME", &s.home)
        .env("HF_HUB_OFFLINE", "1");
    for k in [
        "HF_HOME",
        "HF_HUB_CACHE",
        "HUGGINGFACE_HUB_CACHE",
        "XDG_CACHE_HOME",
    ] {
        cmd.env_remove(k);
    }
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out = cmd.output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    v.as_array()
        .unwrap()
        .iter()
        .map(|e| (e["id"].as_str().unwrap().to_string(), e.clone()))
        .collect()
}

#[test]
fn the_hub_cache_is_found_as_huggingface_hub_finds_it() {
    let s = sandbox("hf-cache-env");
    let (a, b, c, x) = (
        s.outer.join("a"),
        s.outer.join("b"),
        s.outer.join("c"),
        s.outer.join("x"),
    );
    let repo = "models--Helsinki-NLP--opus-mt-hi-en";
    let place = |env: &[(&str, &std::path::Path)]| {
        PathBuf::from(listed(&s, env)["opus-mt-hi-en"]["path"].as_str().unwrap())
    };
    assert_eq!(
        place(&[
            ("HF_HUB_CACHE", &a),
            ("HUGGINGFACE_HUB_CACHE", &b),
            ("HF_HOME", &c)
        ]),
        a.join(repo)
    );
    assert_eq!(
        place(&[("HUGGINGFACE_HUB_CACHE", &b), ("HF_HOME", &c)]),
        b.join(repo)
    );
    assert_eq!(
        place(&[("HF_HOME", &c), ("XDG_CACHE_HOME", &x)]),
        c.join("hub").join(repo)
    );
    assert_eq!(
        place(&[("XDG_CACHE_HOME", &x)]),
        x.join("huggingface/hub").join(repo)
    );

    // And a pull lands there.
    let hub = MockHub::start(vec![(FILE.into(), tiny_model_bytes())]);
    std::fs::write(
        s.home.join("models/tiny-hub.toml"),
        user_card(&format!("hub_repo = \"{REPO}\"\nfile = \"{FILE}\"")),
    )
    .unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_anuvad"))
        .args(["models", "pull", "tiny-hub"])
        .env("ANUVAD_HOME", &s.home)
        .env("HF_ENDPOINT", &hub.url)
        .env("HF_HOME", &s.hf)
        .env("HF_HUB_CACHE", &a)
        .env_remove("HF_HUB_OFFLINE")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let path = PathBuf::from(String::from_utf8(out.stdout).unwrap().trim());
    assert!(
        path.starts_with(a.join("models--anuvad-test--tiny-GGUF")),
        "{}",
        path.display()
    );
    assert!(s.cached().is_empty(), "HF_HOME used: {:?}", s.cached());
}

#[test]
fn models_list_gives_card_sizes_and_unknown_and_json() {
    let s = sandbox("list");
    std::fs::write(
        s.home.join("models/tiny-hub.toml"),
        user_card(&format!("hub_repo = \"{REPO}\"\nfile = \"{FILE}\"")),
    )
    .unwrap();
    let out = anuvad(&s, &["models", "list"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let table = String::from_utf8(out.stdout).unwrap();
    let row = |id: &str| {
        table
            .lines()
            .find(|l| l.starts_with(&format!("{id} ")))
            .unwrap()
            .to_string()
    };
    // Not downloaded: the card's size, or "unknown" for a card that gives none.
    assert!(
        row("gemma3-270m").contains(" no ") && row("gemma3-270m").contains("253 MB"),
        "{table}"
    );
    assert!(row("tiny-hub").contains("unknown"), "{table}");
    let json = listed(&s, &[("HF_HOME", &s.hf)]);
    assert_eq!(json["gemma3-270m"]["size"], 253113024);
    assert_eq!(json["gemma3-270m"]["local"], false);
    assert_eq!(json["gemma3-270m"]["default"], true);
    assert!(json["tiny-hub"]["size"].is_null());
}

#[test]
fn models_rm_removes_what_was_downloaded_and_nothing_else() {
    let s = sandbox("rm");
    let bytes = tiny_model_bytes();
    let hub = MockHub::start(vec![(FILE.into(), bytes.clone())]);
    std::fs::write(
        s.home.join("models/tiny-hub.toml"),
        user_card(&format!("hub_repo = \"{REPO}\"\nfile = \"{FILE}\"")),
    )
    .unwrap();
    let pulled = s.pull(&hub).unwrap();
    hub::file_sha256(&pulled, &s.home).unwrap();
    let memo = hub::memo_path(&pulled, &s.home);
    assert!(memo.is_file());
    // Another repository in the same cache, and a user's own copy elsewhere.
    let other = s.hf.join("hub/models--someone--else/blobs/x");
    std::fs::create_dir_all(other.parent().unwrap()).unwrap();
    std::fs::write(&other, b"theirs").unwrap();
    let mine = s.outer.join(FILE);
    std::fs::write(&mine, &bytes).unwrap();

    let out = anuvad(&s, &["models", "rm", "tiny-hub"]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let freed = format!(
        "tiny-hub: freed {:.1} MB ({} bytes)",
        bytes.len() as f64 / 1e6,
        bytes.len()
    );
    assert!(stdout.contains(&freed), "{stdout}");
    assert!(!s.hf.join("hub/models--anuvad-test--tiny-GGUF").exists());
    assert!(!memo.exists(), "memo left behind");
    assert_eq!(std::fs::read(&other).unwrap(), b"theirs");
    assert_eq!(std::fs::read(&mine).unwrap(), bytes);
    assert!(
        s.home.join("models/tiny-hub.toml").is_file(),
        "the card is the user's"
    );
    let again = anuvad(&s, &["models", "rm", "tiny-hub"]);
    assert!(again.status.success());
    assert!(String::from_utf8_lossy(&again.stdout).contains("nothing to remove"));

    // A model in anuvad's own folder goes with its sidecar.
    let (s, path, _) = home_with_local_model("rm-local");
    hub::file_sha256(&path, &s.home).unwrap();
    let out = anuvad(&s, &["models", "rm", "tiny-hub"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(!path.exists() && !path.with_file_name(format!("{FILE}.sha256")).exists());
}
