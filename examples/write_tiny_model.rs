//! Write a random-weight model.
//! - `cargo run --example write_tiny_model -- DIR` writes DIR/models/tiny-gemma3.gguf, the
//!   tiny Gemma 3 the tests use, and its card DIR/models/tiny.toml
//!   (tests/fixtures/tiny.toml): run it with `ANUVAD_HOME=DIR anuvad translate … --model tiny`.
//! - `… -- DIR --shape NAME` writes DIR/models/NAME-random.gguf: a real model's shape
//!   (gemma3-1b, gemma3-4b, llama3.2-3b, qwen2.5-3b) and Q4_K_M-like weight types with
//!   random values, for benchmarks (speed does not depend on the values);
//!   `--gemma3-1b` is `--shape gemma3-1b`.
fn main() -> anyhow::Result<()> {
    let mut args = std::env::args().skip(1);
    let dir = args
        .next()
        .ok_or_else(|| anyhow::anyhow!("usage: write_tiny_model DIR [--gemma3-1b]"))?;
    // `--gemma3-1b` (kept for old scripts) or `--shape NAME`: a random model with a
    // real model's shapes and Q4_K_M mix (see `TinyModel::named`).
    let shape = match args.next().as_deref() {
        Some("--gemma3-1b") => Some("gemma3-1b".to_string()),
        Some("--shape") => Some(
            args.next()
                .ok_or_else(|| anyhow::anyhow!("--shape needs a name"))?,
        ),
        Some(other) => anyhow::bail!("unknown argument {other:?}"),
        None => None,
    };
    let models = std::path::Path::new(&dir).join("models");
    std::fs::create_dir_all(&models)?;
    let tiny = shape.is_none();
    let (name, cfg) = match shape {
        Some(s) => (
            format!("{s}-random.gguf"),
            anuvad::testing::TinyModel::named(&s).ok_or_else(|| {
                anyhow::anyhow!(
                    "unknown shape {s:?}: gemma3-1b, gemma3-4b, llama3.2-3b or qwen2.5-3b"
                )
            })?,
        ),
        None => (
            "tiny-gemma3.gguf".to_string(),
            anuvad::testing::TinyModel::tiny(),
        ),
    };
    let path = models.join(name);
    anuvad::testing::write_model(&path, &cfg)?;
    if tiny {
        std::fs::write(
            models.join("tiny.toml"),
            include_str!("../tests/fixtures/tiny.toml"),
        )?;
    }
    println!("{}", path.display());
    Ok(())
}
