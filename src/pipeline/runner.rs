//! The one place prompts meet the engine: one model at work on one article, with the
//! card's prompts, the resolved settings, the run's counts, progress and the interrupt
//! flag. The translate and summarize stages submit their requests here and handle each
//! result themselves.

use crate::card::{ModelCard, Template};
use crate::config::Sampling;
use crate::engine::{Engine, Finish, Generation, Request, Rules};
use crate::error::{Error, Result};
use crate::facts;
use crate::facts::numbers::NumberPlan;
use crate::facts::terms::Terms;
use crate::progress::{Event, Progress};
use crate::record::{Counts, Timings};
use crate::settings::Settings;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

/// Totals of a run, as counts (the same every time) and timings.
#[derive(Debug, Clone, Default)]
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

    pub fn counts(&self) -> Counts {
        Counts {
            input_tokens: self.input_tokens,
            output_tokens: self.output_tokens,
            chunks: self.chunks,
            retries: self.retries,
        }
    }

    pub fn timings(&self) -> Timings {
        let rate = |n: usize, s: f64| if s > 0.0 { n as f64 / s } else { 0.0 };
        Timings {
            seconds: round(self.seconds, 3),
            cached_prompt_tokens: self.cached_tokens,
            prefill_tokens_per_second: round(
                rate(self.input_tokens - self.cached_tokens, self.prefill_seconds),
                1,
            ),
            decode_tokens_per_second: round(rate(self.output_tokens, self.decode_seconds), 1),
            started_at: None,
            finished_at: None,
        }
    }
}

pub fn round(x: f64, digits: i32) -> f64 {
    let scale = 10f64.powi(digits);
    (x * scale).round() / scale
}

/// One prompt to send: the body rendered from the template's placeholders, how many
/// tokens the answer may have, the numbers it may write, and how it is decoded (None:
/// as the settings say).
#[derive(Debug, Clone)]
pub struct Call {
    pub body: String,
    pub budget: usize,
    pub numbers: Option<Arc<NumberPlan>>,
    pub sampling: Option<Sampling>,
    /// Decode contrastively against this body (the same prompt about no source), with
    /// this λ.
    pub contrast: Option<(String, f32)>,
}

impl Call {
    pub fn new(template: &Template, vars: &[(&str, &str)], budget: usize) -> Call {
        Call {
            body: template.render(vars),
            budget,
            numbers: None,
            sampling: None,
            contrast: None,
        }
    }

    /// Decode this call contrastively: against `body`, weighted `lambda`.
    pub fn contrast(mut self, body: String, lambda: f32) -> Call {
        self.contrast = Some((body, lambda));
        self
    }

    /// Decode this call with `sampling` rather than the settings'.
    pub fn sampling(mut self, sampling: Sampling) -> Call {
        self.sampling = Some(sampling);
        self
    }

    /// The answer may write only `numbers` (see `NumberPlan`).
    pub fn numbers(mut self, numbers: Option<Arc<NumberPlan>>) -> Call {
        self.numbers = numbers;
        self
    }
}

pub struct Runner<'a> {
    engine: &'a mut dyn Engine,
    pub card: &'a ModelCard,
    pub settings: &'a Settings,
    /// The names a translation must keep (gazetteer and glossary).
    pub terms: &'a Terms,
    pub progress: &'a mut dyn Progress,
    /// Set by a signal handler: the generation in flight stops at the next token with
    /// `Error::Interrupted`.
    interrupt: Option<&'a AtomicBool>,
    pub stats: Stats,
    started: Instant,
}

impl<'a> Runner<'a> {
    pub fn new(
        engine: &'a mut dyn Engine,
        card: &'a ModelCard,
        settings: &'a Settings,
        terms: &'a Terms,
        progress: &'a mut dyn Progress,
        interrupt: Option<&'a AtomicBool>,
    ) -> Self {
        Runner {
            engine,
            card,
            settings,
            terms,
            progress,
            interrupt,
            stats: Stats::default(),
            started: Instant::now(),
        }
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
        let context = self.settings.context_tokens;
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

    /// The `{hints}` of a prompt about `hindi`: a line naming the English of its names
    /// (`Names: Bahraich, Mihinpurwa, BJP`), or nothing when it has none.
    pub fn hints(&self, hindi: &str) -> String {
        let mut names: Vec<&str> = Vec::new();
        let found = facts::names::source_names(hindi, self.terms);
        for n in found.iter().filter(|n| !n.routine) {
            if !names.contains(&n.english[0].as_str()) {
                names.push(&n.english[0]);
            }
        }
        if names.is_empty() {
            String::new()
        } else {
            format!("Names: {}\n", names.join(", "))
        }
    }

    /// The numbers an answer about `hindi` may write, when the settings constrain them.
    pub fn number_plan(&self, hindi: &str) -> Option<Arc<NumberPlan>> {
        self.settings
            .constrain_numbers
            .then(|| Arc::new(NumberPlan::of(hindi)))
    }

    /// Output budget for translating `source_tokens`: the output ratio × the source
    /// plus 8, capped by `max_new_tokens`.
    pub fn translation_budget(&self, source_tokens: usize) -> usize {
        let s = self.settings;
        ((source_tokens as f32 * s.output_ratio).ceil() as usize + 8).min(s.max_new_tokens)
    }

    /// Generate an answer to every call of `template`, up to the batch size together
    /// (one pass over the weights per step serves them all). An answer that loops is
    /// generated again with the repetition penalty.
    pub fn generate(&mut self, template: &Template, calls: &[Call]) -> Result<Vec<Generation>> {
        self.generate_beams(template, calls, self.settings.beams)
    }

    /// `generate` with `beams` wide beam search (1: greedy or sampling).
    pub fn generate_beams(
        &mut self,
        template: &Template,
        calls: &[Call],
        beams: usize,
    ) -> Result<Vec<Generation>> {
        let mut out = self.call(template, calls, 1.0, beams)?;
        let looped: Vec<usize> = (0..out.len())
            .filter(|&i| out[i].finish == Finish::Repetition)
            .collect();
        if !looped.is_empty() {
            for _ in &looped {
                self.stats.retries += 1;
                self.progress.event(&Event::Warning {
                    message: "repetition loop detected; retrying the chunk with a repetition penalty",
                });
            }
            let again: Vec<Call> = looped.iter().map(|&i| calls[i].clone()).collect();
            let penalty = self.settings.retry_repetition_penalty;
            for (i, g) in looped
                .into_iter()
                .zip(self.call(template, &again, penalty, beams)?)
            {
                out[i] = g;
            }
        }
        Ok(out)
    }

    /// One pass through the engine: every token reported, the interrupt flag checked.
    fn call(
        &mut self,
        template: &Template,
        calls: &[Call],
        penalty: f32,
        beams: usize,
    ) -> Result<Vec<Generation>> {
        let interrupted = || self.interrupt.is_some_and(|f| f.load(Ordering::Relaxed));
        if interrupted() {
            return Err(Error::Interrupted);
        }
        let s = self.settings;
        let rules = |c: &Call| Rules {
            max_new_tokens: c.budget,
            sampling: c.sampling.unwrap_or(s.sampling),
            repetition_penalty: penalty,
            repeat_ngram: s.repeat_ngram,
            repeat_limit: s.repeat_limit,
            english_only: true,
            stop: s.stop.clone(),
            forced: Vec::new(),
            numbers: c.numbers.clone(),
            contrast: c.contrast.as_ref().map(|(_, lambda)| *lambda),
        };
        // A contrastive call is two requests: its own, then its contrast's.
        let mut reqs: Vec<Request> = Vec::with_capacity(calls.len());
        for c in calls {
            reqs.push(Request {
                prefix: &template.prefix,
                body: &c.body,
                rules: rules(c),
                beams,
            });
            if let Some((body, _)) = &c.contrast {
                reqs.push(Request {
                    prefix: &template.prefix,
                    body,
                    rules: Rules {
                        contrast: None,
                        ..rules(c)
                    },
                    beams,
                });
            }
        }
        // The prompts the engine prefills before its first token: the shared prefix and
        // the first batch's bodies (later ones are prefilled while others decode).
        let first = reqs.len().min(s.batch_size.max(1));
        let tokens = self.count(&template.prefix)
            + reqs[..first]
                .iter()
                .map(|r| self.count(r.body))
                .sum::<usize>();
        if !reqs.is_empty() {
            self.progress.event(&Event::Prefill { tokens });
        }
        let progress = &mut *self.progress;
        let out = self.engine.generate(&reqs, s.batch_size, &mut || {
            progress.event(&Event::Token);
            if interrupted() {
                return Err(Error::Interrupted);
            }
            Ok(())
        })?;
        // A contrast's own result is empty; its prompt's tokens count as input.
        let mut out = out.into_iter();
        let mut answers = Vec::with_capacity(calls.len());
        for c in calls {
            let mut g = out.next().expect("one result per request");
            if c.contrast.is_some() {
                let contrast = out.next().expect("a contrast follows its request");
                g.prompt_tokens += contrast.prompt_tokens;
                g.cached_tokens += contrast.cached_tokens;
                g.prefill_seconds += contrast.prefill_seconds;
            }
            answers.push(g);
        }
        let out = answers;
        let mut call = Stats::default();
        for g in &out {
            call.input_tokens += g.prompt_tokens;
            call.cached_tokens += g.cached_tokens;
            call.output_tokens += g.output_tokens;
            call.prefill_seconds += g.prefill_seconds;
            call.decode_seconds += g.decode_seconds;
        }
        self.progress.event(&Event::Generated {
            input_tokens: call.input_tokens,
            cached_tokens: call.cached_tokens,
            output_tokens: call.output_tokens,
            prefill_seconds: call.prefill_seconds,
            decode_seconds: call.decode_seconds,
        });
        self.stats.add(&call);
        Ok(out)
    }

    /// Forced decoding: the log-probability of each token of `continuation` after the
    /// template's prefix and `body`.
    pub fn score(
        &mut self,
        template: &Template,
        body: &str,
        continuation: &str,
    ) -> Result<Vec<f32>> {
        self.engine.score(&template.prefix, body, continuation)
    }

    /// A task starts with `total` chunks, which are expected to generate about
    /// `expected_tokens` in all (0: unknown); the progress ETA counts on it.
    pub fn begin(&mut self, task: &str, total: usize, expected_tokens: usize) {
        self.stats.chunks = total;
        self.progress.event(&Event::Begin {
            task,
            total,
            expected_tokens,
        });
    }

    /// The tokens a translation of `source_tokens` is expected to take: the card's
    /// output ratio × the source, once per candidate decoded (what the budget allows,
    /// without its margin).
    pub fn expected_translation(&self, source_tokens: usize) -> usize {
        let s = self.settings;
        let one = (source_tokens as f32 * s.output_ratio).ceil() as usize;
        one.min(s.max_new_tokens) * s.candidates.len().max(1)
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
