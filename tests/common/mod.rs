//! Helpers shared by the integration tests.
#![allow(dead_code)]

use std::path::PathBuf;

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
