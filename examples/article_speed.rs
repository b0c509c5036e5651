//! A whole article through the real translation stage, timed, with every model call it
//! made recorded for a peer to replay one after another (scripts/bench.py does that with
//! llama.cpp). Prints one JSON object on stdout.
//! `cargo run --release --example article_speed -- ARTICLE.txt [BATCH]`
use anuvad::HubConfig;
use anuvad::config::{InputRules, ModelChoice, Options};
use anuvad::engine::{Engine, Generation, ModelInfo, Request};
use anuvad::error::Result;
use anuvad::pipeline::{Pipeline, Plan, Uses, load_engine};
use anuvad::progress::Silent;
use anuvad::text::Article;
use serde_json::json;
use std::sync::{Arc, Mutex};
use std::time::Instant;

/// Passes every call to the engine and keeps what was asked and how much came back.
struct Recorder<E> {
    inner: E,
    calls: Arc<Mutex<Vec<serde_json::Value>>>,
}

impl<E> Recorder<E> {
    fn record(&mut self, r: &Request, g: &Generation) {
        let mut calls = self.calls.lock().unwrap_or_else(|e| e.into_inner());
        calls.push(json!({
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
    let options = Options {
        batch_size: args.get(2).map(|s| s.parse()).transpose()?,
        ..Options::default()
    };
    let choice = ModelChoice::new(
        std::env::var("ANUVAD_MODEL").ok(),
        anuvad::config::default_home(),
    );
    let hub = HubConfig::from_env();
    let plan = Plan::resolve(&choice, &options, Uses::TRANSLATE, &hub, &mut Silent)?;
    let found = plan.translator.expect("a translation model");
    let calls = Arc::new(Mutex::new(Vec::new()));
    let engine = Recorder {
        inner: load_engine(&found, &hub, &mut Silent)?,
        calls: calls.clone(),
    };
    let batch = found.settings.batch_size;
    let mut pipeline = Pipeline::with_engine(Box::new(engine), found.resolved.card, found.settings);
    let article = Article::read(Some(std::path::Path::new(path)), &InputRules::default())?;
    let t = Instant::now();
    let record = pipeline.translate(&article, &mut Silent)?;
    let seconds = t.elapsed().as_secs_f64();
    let calls = calls.lock().unwrap_or_else(|e| e.into_inner()).clone();
    println!(
        "{}",
        json!({
            "seconds": seconds,
            "output_tokens": record.stats.output_tokens,
            "chunks": record.stats.chunks,
            "batch": batch,
            "calls": calls,
        })
    );
    Ok(())
}
