//! Marian translation speed on given source ids (no tokenizer in the timing): translate
//! every source of IDS.json, `batch` at a time, at most `max_new` new tokens each, and
//! print one JSON line (output tokens, seconds, tokens/s). scripts/bench-marian.py runs
//! it beside CTranslate2 and transformers on the same ids.
//! `cargo run --release --example marian_speed -- MODEL_DIR IDS.json BATCH MAX_NEW f32|int8 [BEAMS]`
use anuvad::config::Precision;
use anuvad::engine::Rules;
use anuvad::internals::MarianEngine;
use serde_json::json;
use std::time::Instant;

fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    if args.len() < 6 {
        anyhow::bail!("usage: marian_speed MODEL_DIR IDS.json BATCH MAX_NEW f32|int8 [BEAMS]");
    }
    let dir = std::path::Path::new(&args[1]);
    let sources: Vec<Vec<u32>> = serde_json::from_str(&std::fs::read_to_string(&args[2])?)?;
    let batch: usize = args[3].parse()?;
    let max_new: usize = args[4].parse()?;
    let precision = match args[5].as_str() {
        "int8" => Precision::Int8,
        _ => Precision::F32,
    };
    let beams: usize = args.get(6).map(|b| b.parse()).transpose()?.unwrap_or(1);
    let cards = anuvad::card::load_all(None)?;
    let card = cards
        .iter()
        .find(|c| c.id == "opus-mt-hi-en")
        .expect("built-in card");
    let t = Instant::now();
    let engine = MarianEngine::load(
        &dir.join("model.safetensors"),
        card,
        String::new(),
        precision,
    )?;
    let load = t.elapsed().as_secs_f64();
    // Budgets count the closing </s>.
    let rules = vec![Rules::new(max_new + 1); sources.len()];
    let t = Instant::now();
    let out = engine.search(&sources, &rules, batch, beams, &mut || Ok(()))?;
    let seconds = t.elapsed().as_secs_f64();
    let tokens: usize = out.iter().map(|h| h.tokens.len()).sum();
    println!(
        "{}",
        json!({"engine": "anuvad", "precision": args[5], "beams": beams, "batch": batch,
            "sentences": sources.len(), "output_tokens": tokens, "seconds": seconds,
            "tokens_per_second": tokens as f64 / seconds, "load_seconds": load})
    );
    Ok(())
}
