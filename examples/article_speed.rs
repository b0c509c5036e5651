//! A whole article through the real translation stage, timed, with every model call it
//! made recorded for a peer to replay one after another (scripts/bench.py does that with
//! llama.cpp). Prints one JSON object on stdout.
//! `cargo run --release --example article_speed -- ARTICLE.txt [BATCH]`
use anuvad::config::ModelConfig;
use anuvad::engine::{Engine, Generation, ModelInfo, Request};
use anuvad::generate::{Generator, Options};
use anuvad::{app, error::Result, hub::HubConfig, progress::Silent, segment, translate};
use serde_json::json;
use std::time::Instant;

/// Passes every call to the engine and keeps what was asked and how much came back.
struct Recorder<E> {
    inner: E,
    calls: Vec<serde_json::Value>,
}

impl<E> Recorder<E> {
    fn record(&mut self, r: &Request, g: &Generation) {
        self.calls.push(json!({
            "prefix": r.prefix, "body": r.body, "max_new_tokens": r.rules.max_new_tokens,
            "stop": r.rules.stop, "repetition_penalty": r.rules.repetition_penalty,
            "output_tokens": g.output_tokens,
        }));
    }
}

impl<E: Engine + ?Sized> Engine for Recorder<Box<E>> {
    fn info(&self) -> &ModelInfo {
        self.inner.info()
    }
    fn count_tokens(&self, text: &str) -> Result<usize> {
        self.inner.count_tokens(text)
    }
    fn score(&mut self, prefix: &str, body: &str, continuation: &str) -> Result<Vec<f32>> {
        self.inner.score(prefix, body, continuation)
    }
    fn generate(
        &mut self,
        reqs: &[Request],
        width: usize,
        on_token: &mut dyn FnMut() -> Result<()>,
    ) -> Result<Vec<Generation>> {
        let gs = self.inner.generate(reqs, width, on_token)?;
        for (r, g) in reqs.iter().zip(&gs) {
            self.record(r, g);
        }
        Ok(gs)
    }
}

fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    let path = args
        .get(1)
        .expect("usage: article_speed ARTICLE.txt [batch]");
    let batch = args.get(2).map(|s| s.parse()).transpose()?;
    let cfg = ModelConfig {
        batch,
        ..ModelConfig::for_model(
            std::env::var("ANUVAD_MODEL").ok(),
            anuvad::config::default_home(),
        )
    };
    let (engine, card) = app::load_engine(&cfg, &HubConfig::from_env(), &mut Silent)?;
    let mut engine = Recorder {
        inner: engine,
        calls: Vec::new(),
    };
    let doc = segment::segment(&segment::normalize(&std::fs::read_to_string(path)?));
    let t = Instant::now();
    let mut silent = Silent;
    let mut generator = Generator::new(&mut engine, &card, Options::from(&cfg), &mut silent);
    translate::translate(&mut generator, &doc)?;
    let stats = generator.finish();
    let seconds = t.elapsed().as_secs_f64();
    println!(
        "{}",
        json!({
            "seconds": seconds,
            "output_tokens": stats.output_tokens,
            "chunks": stats.chunks,
            "batch": batch.unwrap_or(card.chunk.batch),
            "calls": engine.calls,
        })
    );
    Ok(())
}
