//! Write the tiny random Gemma 3 the tests use, for trying commands by hand:
//! `cargo run --example write_tiny_model -- DIR` writes DIR/models/tiny-gemma3.gguf;
//! add the `tiny` card from tests/common/mod.rs as DIR/models/tiny.toml and run with
//! `ANUVAD_HOME=DIR anuvad --model tiny …`.
fn main() -> anyhow::Result<()> {
    let dir = std::env::args()
        .nth(1)
        .ok_or_else(|| anyhow::anyhow!("usage: write_tiny_model DIR"))?;
    let models = std::path::Path::new(&dir).join("models");
    std::fs::create_dir_all(&models)?;
    let path = models.join("tiny-gemma3.gguf");
    anuvad::testing::write_model(&path, &anuvad::testing::TinyModel::tiny())?;
    println!("{}", path.display());
    Ok(())
}
