//! Write a random-weight model.
//! - `cargo run --example write_tiny_model -- DIR` writes DIR/models/tiny-gemma3.gguf, the
//!   tiny Gemma 3 the tests use; add the `tiny` card from tests/common/mod.rs as
//!   DIR/models/tiny.toml and run with `ANUVAD_HOME=DIR anuvad --model tiny …`.
//! - `… -- DIR --gemma3-1b` writes DIR/models/gemma-3-1b-random.gguf: Gemma 3 1B's real
//!   shape and Q4_K_M-like weight types with random values, for benchmarks (speed does
//!   not depend on the values).
fn main() -> anyhow::Result<()> {
    let mut args = std::env::args().skip(1);
    let dir = args
        .next()
        .ok_or_else(|| anyhow::anyhow!("usage: write_tiny_model DIR [--gemma3-1b]"))?;
    let big = args.next().as_deref() == Some("--gemma3-1b");
    let models = std::path::Path::new(&dir).join("models");
    std::fs::create_dir_all(&models)?;
    let (name, cfg) = if big {
        (
            "gemma-3-1b-random.gguf",
            anuvad::testing::TinyModel::gemma3_1b(),
        )
    } else {
        ("tiny-gemma3.gguf", anuvad::testing::TinyModel::tiny())
    };
    let path = models.join(name);
    anuvad::testing::write_model(&path, &cfg)?;
    println!("{}", path.display());
    Ok(())
}
