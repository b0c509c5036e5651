//! The one place prompts meet the engine: render a card template, size the output
//! budget, call the engine, keep statistics and report progress. The translate and
//! summarize stages both go through `Generator`.

use crate::card::{ModelCard, Template};
use crate::config::Sampling;
use crate::engine::{Engine, Finish, Generation, Request, Rules};
use crate::error::{Error, Result};
use crate::progress::{Event, Progress};
use serde::Serialize;
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

/// Totals for one command, reported in `--format json` and progress events.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Stats {
    /// Prompt tokens of every model call (the same for the same input and model).
    pub input_tokens: usize,
    /// Of those, the prefix tokens reused from the KV cache instead of computed: this
    /// depends on what ran before, so it is a timing fact, not a count of the output.
    pub cached_tokens: usize,
    pub output_tokens: usize,
    pub seconds: f64,
    pub chunks: usize,
    pub retries: usize,
    pub prefill_seconds: f64,
    pub decode_seconds: f64,
}

impl Stats {
    /// Add another task's totals (a batch article translated and summarized).
    pub fn add(&mut self, o: &Stats) {
        self.input_tokens += o.input_tokens;
        self.cached_tokens += o.cached_tokens;
        self.output_tokens += o.output_tokens;
        self.seconds += o.seconds;
        self.chunks += o.chunks;
        self.retries += o.retries;
        self.prefill_seconds += o.prefill_seconds;
        self.decode_seconds += o.decode_seconds;
    }

    pub fn prefill_tokens_per_second(&self) -> f64 {
        rate(self.input_tokens - self.cached_tokens, self.prefill_seconds)
    }
    pub fn decode_tokens_per_second(&self) -> f64 {
        rate(self.output_tokens, self.decode_seconds)
    }
}

fn rate(n: usize, s: f64) -> f64 {
    if s > 0.0 { n as f64 / s } else { 0.0 }
}

/// Per-run knobs that are not in the card.
#[derive(Debug, Clone, Copy)]
pub struct Options {
    pub max_new_tokens: Option<usize>,
    pub batch: Option<usize>,
    pub beams: Option<usize>,
    pub sampling: Sampling,
}

impl From<&crate::config::ModelConfig> for Options {
    fn from(cfg: &crate::config::ModelConfig) -> Self {
        Options {
            max_new_tokens: cfg.max_new_tokens,
            batch: cfg.batch,
            beams: cfg.beams,
            sampling: cfg.sampling,
        }
    }
}

pub struct Generator<'a> {
    pub engine: &'a mut dyn Engine,
    pub card: &'a ModelCard,
    pub options: Options,
    pub progress: &'a mut dyn Progress,
    pub stats: Stats,
    /// Set by a signal handler (batch runs): the generation in flight stops at the next
    /// token with `Error::Interrupted`.
    interrupt: Option<&'a AtomicBool>,
    started: Instant,
    /// Answers generated ahead in a batch (`prefetch`), by prompt body and budget, taken
    /// by `run` when it is asked for them.
    ready: HashMap<(String, usize), Generation>,
}

impl<'a> Generator<'a> {
    pub fn new(
        engine: &'a mut dyn Engine,
        card: &'a ModelCard,
        options: Options,
        progress: &'a mut dyn Progress,
    ) -> Self {
        Generator {
            engine,
            card,
            options,
            progress,
            stats: Stats::default(),
            interrupt: None,
            started: Instant::now(),
            ready: HashMap::new(),
        }
    }

    /// Stop generating with `Error::Interrupted` once `flag` is set.
    pub fn with_interrupt(mut self, flag: &'a AtomicBool) -> Self {
        self.interrupt = Some(flag);
        self
    }

    pub fn count(&self, text: &str) -> usize {
        // Token counts only size budgets; a tokenizer failure here is not worth aborting
        // for, so fall back to a generous estimate (Devanagari ≈ 1 token per 2 chars).
        self.engine
            .count_tokens(text)
            .unwrap_or_else(|_| text.chars().count() / 2 + 1)
    }

    /// How many source tokens fit in one call of `template`, leaving room for an answer
    /// `ratio` times as long as the source.
    pub fn source_budget(&self, template: &Template, ratio: f32, cap: usize) -> Result<usize> {
        let context = self.card.context.use_tokens;
        let fixed = self.count(&template.prefix) + self.count(&template.render(&[])) + 16;
        let free = context.saturating_sub(fixed);
        let budget = ((free as f32) / (1.0 + ratio)) as usize;
        if budget < 8 {
            return Err(Error::ContextTooSmall {
                context,
                needed: fixed + 8,
            });
        }
        Ok(budget.min(cap))
    }

    /// Output budget for translating `source_tokens`: the card's ratio × the source plus
    /// 8, capped by the card and `--max-new-tokens`.
    pub fn translation_budget(&self, source_tokens: usize) -> usize {
        let g = &self.card.generation;
        ((source_tokens as f32 * g.output_ratio).ceil() as usize + 8).min(self.max_new_tokens())
    }

    pub fn max_new_tokens(&self) -> usize {
        self.options
            .max_new_tokens
            .unwrap_or(self.card.generation.max_new_tokens)
    }

    /// How many generations the engine runs together.
    pub fn batch_size(&self) -> usize {
        self.options.batch.unwrap_or(self.card.chunk.batch).max(1)
    }

    /// Generate the first answers for several calls of `template` together (one pass
    /// over the weights per step serves all of them); `run` then takes them instead of
    /// calling the engine. Retries (repetition penalty, splits) still run one by one.
    pub fn prefetch(
        &mut self,
        template: &Template,
        calls: &[(Vec<(&str, &str)>, usize)],
    ) -> Result<()> {
        if calls.len() < 2 {
            return Ok(());
        }
        let bodies: Vec<String> = calls
            .iter()
            .map(|(vars, _)| template.render(vars))
            .collect();
        let reqs: Vec<Request> = bodies
            .iter()
            .zip(calls)
            .map(|(body, (_, budget))| self.request(template, body, *budget, 1.0))
            .collect();
        let outs = self.call_engine(&reqs, self.batch_size())?;
        for ((body, (_, budget)), out) in bodies.into_iter().zip(calls).zip(outs) {
            self.ready.insert((body, *budget), out);
        }
        Ok(())
    }

    /// Run `reqs` through the engine, up to `width` together, reporting every token and
    /// stopping with `Error::Interrupted` once the interrupt flag is set.
    fn call_engine(&mut self, reqs: &[Request], width: usize) -> Result<Vec<Generation>> {
        let interrupted = || self.interrupt.is_some_and(|f| f.load(Ordering::Relaxed));
        if interrupted() {
            return Err(Error::Interrupted);
        }
        let progress = &mut *self.progress;
        self.engine.generate(reqs, width, &mut || {
            progress.event(&Event::Token);
            if interrupted() {
                return Err(Error::Interrupted);
            }
            Ok(())
        })
    }

    fn request<'r>(
        &self,
        template: &'r Template,
        body: &'r str,
        budget: usize,
        penalty: f32,
    ) -> Request<'r>
    where
        'a: 'r,
    {
        let g = &self.card.generation;
        Request {
            prefix: &template.prefix,
            body,
            rules: Rules {
                max_new_tokens: budget,
                sampling: self.options.sampling,
                repetition_penalty: penalty,
                repeat_ngram: g.repeat_ngram,
                repeat_limit: g.repeat_limit,
                english_only: true,
                stop: g.stop.clone(),
                forced: Vec::new(),
            },
            beams: self.options.beams.unwrap_or(g.beams),
        }
    }

    /// Generate from `template` with `vars`, at most `budget` new tokens.
    pub fn run(
        &mut self,
        template: &Template,
        vars: &[(&str, &str)],
        budget: usize,
        penalty: f32,
    ) -> Result<Generation> {
        let g = &self.card.generation;
        let body = template.render(vars);
        let ready = if penalty == 1.0 {
            self.ready.remove(&(body.clone(), budget))
        } else {
            None
        };
        let out = match ready {
            Some(out) => out,
            None => {
                let req = self.request(template, &body, budget, penalty);
                self.call_engine(std::slice::from_ref(&req), 1)?.remove(0)
            }
        };
        self.stats.input_tokens += out.prompt_tokens;
        self.stats.cached_tokens += out.cached_tokens;
        self.stats.output_tokens += out.output_tokens;
        self.stats.prefill_seconds += out.prefill_seconds;
        self.stats.decode_seconds += out.decode_seconds;
        if out.finish == Finish::Repetition && penalty == 1.0 {
            self.stats.retries += 1;
            self.progress.event(&Event::Warning {
                message: "repetition loop detected; retrying the chunk with a repetition penalty",
            });
            return self.run(template, vars, budget, g.retry_repetition_penalty);
        }
        Ok(out)
    }

    /// Report that `done` of `total` chunks are finished.
    pub fn chunk_done(&mut self, done: usize, total: usize) {
        self.progress.event(&Event::ChunkDone {
            done,
            total,
            input_tokens: self.stats.input_tokens,
            output_tokens: self.stats.output_tokens,
        });
    }

    pub fn finish(mut self) -> Stats {
        self.stats.seconds = self.started.elapsed().as_secs_f64();
        self.stats
    }
}
