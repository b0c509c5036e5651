//! Helpers shared by the integration tests.
#![allow(dead_code)]

use serde_json::Value;
use std::path::PathBuf;

/// The Chromium binary on PATH (`chromium`, `chromium-browser`, `google-chrome`), for the
/// browser tests. With `ANUVAD_REQUIRE_CHROMIUM=1` (scripts/test.sh installs Chromium and
/// sets it) a missing browser fails the test instead of skipping it.
pub fn chromium() -> Option<&'static str> {
    let found = ["chromium", "chromium-browser", "google-chrome"]
        .into_iter()
        .find(|b| {
            std::process::Command::new("sh")
                .args(["-c", &format!("command -v {b}")])
                .output()
                .is_ok_and(|o| o.status.success())
        });
    if found.is_none() && std::env::var("ANUVAD_REQUIRE_CHROMIUM").is_ok_and(|v| v == "1") {
        panic!("ANUVAD_REQUIRE_CHROMIUM=1 but no chromium is installed (apt-get install chromium)");
    }
    if found.is_none() {
        eprintln!("skipped: chromium is not installed (apt-get install chromium)");
    }
    found
}

/// The record a review page embeds (its script renders the rows from it).
pub fn page_record(html: &str) -> Value {
    let tag = "id=\"anuvad-record\">";
    let start = html.find(tag).expect("a review page with its record") + tag.len();
    let end = start + html[start..].find("</script>").unwrap();
    serde_json::from_str(&html[start..end]).unwrap()
}

pub const DEFAULT_MODEL_FILE: &str = "gemma-3-270m-q4_k_m.gguf";

/// The real default model, if this machine has it: `ANUVAD_TEST_MODEL`, else the model
/// cache (`ANUVAD_HOME`, default ~/.cache/anuvad). With `ANUVAD_REQUIRE_MODEL=1` (set by
/// .ci/run after fetching the model) a missing model fails the test instead of skipping.
pub fn real_model() -> Option<PathBuf> {
    let candidate = match std::env::var_os("ANUVAD_TEST_MODEL") {
        Some(p) => PathBuf::from(p),
        None => anuvad::config::default_home()
            .join("models")
            .join(DEFAULT_MODEL_FILE),
    };
    if candidate.is_file() {
        return Some(candidate);
    }
    if std::env::var("ANUVAD_REQUIRE_MODEL").is_ok_and(|v| v == "1") {
        panic!(
            "the default model is required (ANUVAD_REQUIRE_MODEL=1) but {} does not exist; run scripts/fetch-model.sh",
            candidate.display()
        );
    }
    eprintln!(
        "skipped: model not found at {}; run scripts/fetch-model.sh (or set ANUVAD_TEST_MODEL)",
        candidate.display()
    );
    None
}

/// Another real model of the test suite, by file name in the model cache (fetched by
/// `scripts/fetch-model.sh CARD`); skipped like the default model when missing.
pub fn real_model_file(file: &str) -> Option<PathBuf> {
    let candidate = anuvad::config::default_home().join("models").join(file);
    if candidate.is_file() {
        return Some(candidate);
    }
    if std::env::var("ANUVAD_REQUIRE_MODEL").is_ok_and(|v| v == "1") {
        panic!(
            "{file} is required (ANUVAD_REQUIRE_MODEL=1) but {} does not exist; run scripts/fetch-model.sh with its card id",
            candidate.display()
        );
    }
    eprintln!(
        "skipped: {file} not found at {}; fetch it with scripts/fetch-model.sh and its card id",
        candidate.display()
    );
    None
}

/// Where `got` differs from `want` (at most `tolerance` relative difference between
/// numbers): paths like `/paragraphs/0/translation` with both values.
pub fn json_diffs(want: &Value, got: &Value, tolerance: f64) -> Vec<String> {
    let mut out = Vec::new();
    diff(want, got, String::new(), tolerance, &mut out);
    out
}

fn diff(want: &Value, got: &Value, at: String, tolerance: f64, out: &mut Vec<String>) {
    match (want, got) {
        (Value::Object(a), Value::Object(b)) => {
            for k in a.keys().chain(b.keys().filter(|k| !a.contains_key(*k))) {
                match (a.get(k), b.get(k)) {
                    (Some(x), Some(y)) => diff(x, y, format!("{at}/{k}"), tolerance, out),
                    (Some(x), None) => out.push(format!("{at}/{k}: {x}, now missing")),
                    (None, Some(y)) => out.push(format!("{at}/{k}: not there before, now {y}")),
                    (None, None) => {}
                }
            }
        }
        (Value::Array(a), Value::Array(b)) => {
            if a.len() != b.len() {
                out.push(format!("{at}: {} items, now {}", a.len(), b.len()));
            }
            for (i, (x, y)) in a.iter().zip(b).enumerate() {
                diff(x, y, format!("{at}/{i}"), tolerance, out);
            }
        }
        (Value::Number(a), Value::Number(b)) => {
            let (x, y) = (a.as_f64().unwrap(), b.as_f64().unwrap());
            if (x - y).abs() > tolerance * x.abs().max(1.0) {
                out.push(format!("{at}: {x}, now {y}"));
            }
        }
        _ if want != got => out.push(format!("{at}: {want}, now {got}")),
        _ => {}
    }
}

/// A temporary ANUVAD_HOME with a tiny random Gemma 3 and its card, and a way to run
/// the real binary in it: end-to-end tests that need no real model.
pub mod tiny {
    use std::path::PathBuf;
    use std::process::{Command, Output};

    pub const ARTICLE: &str = "दिल्ली में बारिश

नई दिल्ली, 13 मार्च (भाषा)। दिल्ली में बुधवार को भारी बारिश हुई। मौसम विभाग ने कहा कि 2 दिन और बारिश होगी।
सरकार ने लोगों से घर में रहने को कहा।

फोटो: पीटीआई
";

    /// The card of the tiny model; a file so scripts can use it too (write_tiny_model).
    pub const CARD: &str = include_str!("../fixtures/tiny.toml");

    pub struct Home {
        pub dir: PathBuf,
    }

    impl Home {
        pub fn new(name: &str) -> Home {
            let dir =
                std::env::temp_dir().join(format!("anuvad-test-{name}-{}", std::process::id()));
            let _ = std::fs::remove_dir_all(&dir);
            std::fs::create_dir_all(dir.join("models")).unwrap();
            anuvad::testing::write_model(
                &dir.join("models/tiny-gemma3.gguf"),
                &anuvad::testing::TinyModel::tiny(),
            )
            .unwrap();
            std::fs::write(dir.join("models/tiny.toml"), CARD).unwrap();
            std::fs::write(dir.join("article.txt"), ARTICLE).unwrap();
            Home { dir }
        }

        pub fn path(&self, p: &str) -> PathBuf {
            self.dir.join(p)
        }

        pub fn run(&self, args: &[&str]) -> Output {
            self.run_with_stdin(args, None)
        }

        pub fn run_with_stdin(&self, args: &[&str], stdin: Option<&[u8]>) -> Output {
            use std::io::Write;
            let mut child = self.command(args).spawn().unwrap();
            let mut pipe = child.stdin.take().unwrap();
            if let Some(bytes) = stdin {
                pipe.write_all(bytes).unwrap();
            }
            drop(pipe);
            child.wait_with_output().unwrap()
        }

        /// The binary with `args`, on the tiny model, one thread, all pipes captured.
        pub fn command(&self, args: &[&str]) -> Command {
            let mut cmd = Command::new(env!("CARGO_BIN_EXE_anuvad"));
            // Through the environment: --model and --threads are not flags of every
            // command (models list, batch merge, ...), the variables are read where they act.
            if args.contains(&"--model") {
                cmd.env_remove("ANUVAD_MODEL");
            } else {
                cmd.env("ANUVAD_MODEL", "tiny");
            }
            cmd.args(args)
                .env("RAYON_NUM_THREADS", "1")
                .env("ANUVAD_HOME", &self.dir)
                .env("HF_HUB_OFFLINE", "1")
                .stdin(std::process::Stdio::piped())
                .stdout(std::process::Stdio::piped())
                .stderr(std::process::Stdio::piped());
            cmd
        }
    }

    impl Drop for Home {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.dir);
        }
    }

    pub fn stderr(o: &Output) -> String {
        String::from_utf8_lossy(&o.stderr).into_owned()
    }

    /// SIGTERM to `child` once a line of its stderr contains `event` (a progress event
    /// name): its exit status and the stderr lines it wrote after that.
    pub fn terminate_after(
        child: &mut std::process::Child,
        event: &str,
    ) -> (std::process::ExitStatus, Vec<String>) {
        use std::io::BufRead;
        let mut lines = std::io::BufReader::new(child.stderr.take().unwrap()).lines();
        for line in lines.by_ref() {
            if line.unwrap().contains(event) {
                break;
            }
        }
        let kill = Command::new("kill")
            .args(["-TERM", &child.id().to_string()])
            .status()
            .unwrap();
        assert!(kill.success());
        let rest: Vec<String> = lines.map(|l| l.unwrap()).collect();
        (child.wait().unwrap(), rest)
    }
}
