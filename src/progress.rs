//! Progress on stderr, so stdout carries only the result: an indicatif bar on a terminal,
//! one plain line per step for cron logs, or one JSON object per event for collectors.

use crate::config::ProgressMode;
use crate::record::now_rfc3339;
use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};
use std::borrow::Cow;
use std::io::{IsTerminal, Write};
use std::time::Instant;

/// `s` safe to print into a log line: control characters (newlines, NUL, escape
/// sequences) are escaped like `\n` and `\u{0}`, so an article id or a file name
/// cannot forge log lines or drive the terminal.
pub fn printable(s: &str) -> Cow<'_, str> {
    if !s.chars().any(char::is_control) {
        return Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        if c.is_control() {
            out.extend(c.escape_default());
        } else {
            out.push(c);
        }
    }
    Cow::Owned(out)
}

#[derive(Debug, Clone)]
pub enum Event<'a> {
    /// A step that has no chunks (loading the model, reading input).
    Stage {
        message: &'a str,
    },
    /// A task starts with `total` chunks, expected to generate about `expected_tokens`
    /// in all (0: unknown, e.g. a review, which only scores).
    Begin {
        task: &'a str,
        total: usize,
        expected_tokens: usize,
    },
    /// The engine is about to process prompts of `tokens` tokens before its first
    /// token (on a large model this can take minutes).
    Prefill {
        tokens: usize,
    },
    /// One token generated.
    Token,
    /// One engine call finished: its prompt tokens (`cached_tokens` of them reused),
    /// the tokens it generated and the engine's time in each stage.
    Generated {
        input_tokens: usize,
        cached_tokens: usize,
        output_tokens: usize,
        prefill_seconds: f64,
        decode_seconds: f64,
    },
    ChunkDone {
        done: usize,
        total: usize,
        input_tokens: usize,
        output_tokens: usize,
    },
    Warning {
        message: &'a str,
    },
    /// Model download.
    DownloadStart {
        file: &'a str,
        bytes: u64,
    },
    DownloadAdvance {
        bytes: u64,
    },
    DownloadDone,
    /// A batch starts: `total` articles to process, `skipped` already done.
    BatchBegin {
        total: usize,
        skipped: usize,
    },
    ArticleBegin {
        index: usize,
        total: usize,
        id: &'a str,
    },
    /// An article is finished; `error` is set when it failed.
    ArticleDone {
        index: usize,
        total: usize,
        id: &'a str,
        error: Option<&'a str>,
        seconds: f64,
        output_tokens: usize,
    },
    BatchEnd,
}

pub trait Progress {
    fn event(&mut self, e: &Event);
}

/// Discards everything (library users who want no output; tests).
pub struct Silent;

impl Progress for Silent {
    fn event(&mut self, _: &Event) {}
}

/// Tokens per second; 0 when no time was measured (nothing ran yet).
pub fn rate(tokens: usize, seconds: f64) -> f64 {
    if seconds > 0.0 {
        tokens as f64 / seconds
    } else {
        0.0
    }
}

/// How far a task has come, for its ETA.
#[derive(Debug, Clone, Copy, Default)]
pub struct Pace {
    pub tokens_done: usize,
    /// Expected in all (0: unknown).
    pub tokens_expected: usize,
    pub chunks_done: usize,
    pub chunks_total: usize,
    /// Time spent producing: since the first token, or since the task began when it
    /// generates none (scoring).
    pub seconds: f64,
}

/// Seconds left, or None while there is nothing to go by yet. It goes by tokens, not
/// chunks: chunks decoded together all finish at the last step, so a chunk count sits
/// at 0 and then jumps to done, while tokens flow steadily. Only a task with no
/// expected tokens (scoring) goes by chunks.
pub fn eta_seconds(p: Pace) -> Option<f64> {
    if p.chunks_done >= p.chunks_total {
        return Some(0.0);
    }
    if p.seconds <= 0.0 {
        return None;
    }
    let unfinished = (p.chunks_total - p.chunks_done) as f64;
    if p.tokens_expected == 0 {
        if p.chunks_done == 0 {
            return None;
        }
        return Some(p.seconds / p.chunks_done as f64 * unfinished);
    }
    let per_second = rate(p.tokens_done, p.seconds);
    if per_second <= 0.0 {
        return None;
    }
    // Answers longer than expected (or retried) leave work while chunks are open: count
    // at least a tenth of an average chunk's tokens for each, so the ETA never reads 0
    // before the end.
    let floor = p.tokens_expected as f64 / p.chunks_total as f64 * unfinished / 10.0;
    let left = (p.tokens_expected.saturating_sub(p.tokens_done) as f64).max(floor.max(1.0));
    Some(left / per_second)
}

/// `ETA 1m 05s`; `ETA …` while unknown.
fn eta_text(eta: Option<f64>) -> String {
    match eta {
        None => "ETA …".into(),
        Some(s) => {
            let s = s.ceil() as u64;
            match s {
                0..60 => format!("ETA {s}s"),
                60..3600 => format!("ETA {}m {:02}s", s / 60, s % 60),
                _ => format!("ETA {}h {:02}m", s / 3600, s % 3600 / 60),
            }
        }
    }
}

/// What the engine did, summed over its calls: the per-stage rates (its own timings,
/// so model load and file reading are not in them) and the end event's totals.
#[derive(Debug, Clone, Copy, Default)]
struct Totals {
    chunks: usize,
    input_tokens: usize,
    cached_tokens: usize,
    output_tokens: usize,
    prefill_seconds: f64,
    decode_seconds: f64,
}

impl Totals {
    fn prefill_rate(&self) -> f64 {
        rate(
            self.input_tokens.saturating_sub(self.cached_tokens),
            self.prefill_seconds,
        )
    }

    fn decode_rate(&self) -> f64 {
        rate(self.output_tokens, self.decode_seconds)
    }
}

/// The task in flight.
struct Task {
    name: String,
    total: usize,
    done: usize,
    expected: usize,
    /// Token events since the task began.
    tokens: usize,
    began: Instant,
    first_token: Option<Instant>,
    /// Prompt tokens being processed; None once tokens flow.
    prefilling: Option<usize>,
    /// Its engine calls so far.
    totals: Totals,
}

impl Task {
    fn new(name: &str, total: usize, expected: usize) -> Task {
        Task {
            name: name.to_string(),
            total,
            done: 0,
            expected,
            tokens: 0,
            began: Instant::now(),
            first_token: None,
            prefilling: None,
            totals: Totals::default(),
        }
    }

    fn pace(&self) -> Pace {
        // Before the first token there is no time to go by (seconds 0: ETA unknown).
        let seconds = match self.first_token {
            Some(t) => t.elapsed().as_secs_f64(),
            None if self.expected == 0 => self.began.elapsed().as_secs_f64(),
            None => 0.0,
        };
        Pace {
            tokens_done: self.tokens,
            tokens_expected: self.expected,
            chunks_done: self.done,
            chunks_total: self.total,
            seconds,
        }
    }

    /// The bar's message: the prompt being processed, or tokens, rate and ETA.
    fn status(&self) -> String {
        if let Some(tokens) = self.prefilling {
            return format!("processing prompt ({tokens} tokens)");
        }
        let pace = self.pace();
        let done = if self.expected > 0 {
            format!("{}/~{} tokens", self.tokens, self.expected.max(self.tokens))
        } else {
            format!("{} tokens", self.tokens)
        };
        let speed = format!("{:.1} tok/s", rate(pace.tokens_done, pace.seconds));
        // Generation outside a task (a title) has no chunks to finish: no ETA.
        if self.total == 0 {
            return format!("generating {done} · {speed}");
        }
        format!(
            "generating {done} · {speed} · {}",
            eta_text(eta_seconds(pace))
        )
    }

    /// `task: ` before a plain line, when there is a task.
    fn label(&self) -> String {
        if self.name.is_empty() {
            String::new()
        } else {
            format!("{}: ", self.name)
        }
    }
}

enum Sink {
    Bar(Option<ProgressBar>),
    Plain,
    Json,
    None,
}

pub struct Reporter {
    sink: Sink,
    /// Where plain and JSON lines go: stderr, or a buffer in tests.
    out: Box<dyn Write + Send>,
    started: Instant,
    task: Task,
    /// Every engine call of the run, for the end event.
    totals: Totals,
    /// Something was reported, so the run ends with an `end` event (not e.g. `models
    /// list`, which reports nothing).
    active: bool,
    ended: bool,
    quiet: bool,
    /// During a batch on a terminal: the overall articles bar, drawn above the current
    /// article's chunk bar.
    batch: Option<(MultiProgress, ProgressBar)>,
    /// During a batch, plain logs get one line per article rather than per chunk.
    in_batch: bool,
    /// The article in flight, named in warnings.
    article: String,
    /// Set when a write to stderr failed (its reader is gone, e.g. `2>&1 | head`):
    /// progress stops, the work goes on.
    closed: bool,
}

impl Reporter {
    /// `quiet` keeps warnings but drops progress.
    pub fn new(mode: ProgressMode, quiet: bool) -> Reporter {
        let mode = match mode {
            ProgressMode::Auto if !quiet && std::io::stderr().is_terminal() => ProgressMode::Bar,
            ProgressMode::Auto => ProgressMode::None,
            m => m,
        };
        Reporter::to(mode, quiet, Box::new(std::io::stderr()))
    }

    /// Lines to `out` instead of stderr (the bar still draws on stderr).
    fn to(mode: ProgressMode, quiet: bool, out: Box<dyn Write + Send>) -> Reporter {
        let sink = match mode {
            ProgressMode::Bar => Sink::Bar(None),
            ProgressMode::Plain => Sink::Plain,
            ProgressMode::Json => Sink::Json,
            ProgressMode::Auto | ProgressMode::None => Sink::None,
        };
        Reporter {
            sink,
            out,
            started: Instant::now(),
            task: Task::new("", 0, 0),
            totals: Totals::default(),
            active: false,
            ended: false,
            quiet,
            batch: None,
            in_batch: false,
            article: String::new(),
            closed: false,
        }
    }

    /// One line; a failed write (a closed pipe) silences the rest instead of panicking
    /// like `eprintln!`.
    fn say(&mut self, line: std::fmt::Arguments) {
        if self.closed {
            return;
        }
        let mut text = line.to_string();
        text.push('\n');
        // One write per line, so lines of concurrent writers do not interleave.
        if self
            .out
            .write_all(text.as_bytes())
            .and_then(|_| self.out.flush())
            .is_err()
        {
            self.closed = true;
        }
    }

    fn elapsed(&self) -> f64 {
        self.started.elapsed().as_secs_f64()
    }

    /// One JSON line, stamped with the wall-clock time and the seconds since the run
    /// began.
    fn json(&mut self, mut v: serde_json::Value) {
        v["time"] = serde_json::json!(now_rfc3339());
        v["elapsed"] = serde_json::json!((self.elapsed() * 1000.0).round() / 1000.0);
        self.say(format_args!("{v}"));
    }

    fn new_bar(len: u64, template: &str) -> ProgressBar {
        let bar = ProgressBar::with_draw_target(Some(len), ProgressDrawTarget::stderr());
        if let Ok(style) = ProgressStyle::with_template(template) {
            bar.set_style(style.progress_chars("=> "));
        }
        bar
    }

    /// The run is over: JSON gets an `end` event and plain logs a last line, with the
    /// totals. Called once, by `drop`, so an error that ends the run early still
    /// reports how far it got.
    fn end(&mut self) {
        if self.ended || !self.active || self.quiet {
            return;
        }
        self.ended = true;
        let t = self.totals;
        let seconds = (self.elapsed() * 1000.0).round() / 1000.0;
        let round1 = |x: f64| (x * 10.0).round() / 10.0;
        match self.sink {
            Sink::Json => self.json(serde_json::json!({"event": "end",
                "chunks": t.chunks, "input_tokens": t.input_tokens,
                "output_tokens": t.output_tokens, "seconds": seconds,
                "tokens_per_second": round1(t.decode_rate()),
                "prefill_tokens_per_second": round1(t.prefill_rate())})),
            Sink::Plain => self.say(format_args!(
                "anuvad: [{seconds:7.1}s] end: {} chunks, {} tokens in, {} tokens out · prefill {:.1} tok/s · generate {:.1} tok/s",
                t.chunks,
                t.input_tokens,
                t.output_tokens,
                t.prefill_rate(),
                t.decode_rate()
            )),
            Sink::Bar(_) | Sink::None => {}
        }
    }

    /// Keep count of the task and the run, whatever is shown.
    fn track(&mut self, e: &Event) {
        match *e {
            Event::Begin {
                task,
                total,
                expected_tokens,
            } => self.task = Task::new(task, total, expected_tokens),
            Event::Prefill { tokens } => self.task.prefilling = Some(tokens),
            Event::Token => {
                self.task.prefilling = None;
                self.task.tokens += 1;
                self.task.first_token.get_or_insert_with(Instant::now);
            }
            Event::Generated {
                input_tokens,
                cached_tokens,
                output_tokens,
                prefill_seconds,
                decode_seconds,
            } => {
                self.task.prefilling = None;
                for t in [&mut self.task.totals, &mut self.totals] {
                    t.input_tokens += input_tokens;
                    t.cached_tokens += cached_tokens;
                    t.output_tokens += output_tokens;
                    t.prefill_seconds += prefill_seconds;
                    t.decode_seconds += decode_seconds;
                }
            }
            Event::ChunkDone { done, total, .. } => {
                // `done` counts the task's chunks; the run's total adds what is new.
                self.totals.chunks += done.saturating_sub(self.task.done);
                self.task.done = done;
                self.task.total = total;
            }
            _ => {}
        }
    }
}

impl Progress for Reporter {
    fn event(&mut self, e: &Event) {
        match e {
            Event::ArticleBegin { id, .. } => self.article = id.to_string(),
            Event::ArticleDone { .. } | Event::BatchEnd => self.article.clear(),
            _ => {}
        }
        if let Event::Warning { message } = e {
            let message = if self.article.is_empty() {
                message.to_string()
            } else {
                format!("{}: {message}", self.article)
            };
            // JSON escapes by itself; the other sinks print the text as it is.
            let message = match &self.sink {
                Sink::Json => message,
                _ => printable(&message).into_owned(),
            };
            match &self.sink {
                Sink::Json => {
                    self.json(serde_json::json!({"event": "warning", "message": message}))
                }
                Sink::Bar(_) if self.batch.is_some() => {
                    if let Some((multi, _)) = &self.batch {
                        let _ = multi.println(format!("warning: {message}"));
                    }
                }
                Sink::Bar(Some(bar)) => bar.println(format!("warning: {message}")),
                _ => self.say(format_args!("anuvad: warning: {message}")),
            }
            return;
        }
        if self.quiet {
            return;
        }
        self.active = true;
        self.track(e);
        let elapsed = self.elapsed();
        if self.batch_event(e, elapsed) {
            return;
        }
        let multi = self.batch.as_ref().map(|(m, _)| m.clone());
        let multi = multi.as_ref();
        match (&mut self.sink, e) {
            (Sink::None, _) => {}
            (Sink::Bar(Some(bar)), Event::Prefill { .. } | Event::Token) => {
                bar.set_message(self.task.status())
            }
            (Sink::Bar(bar), Event::Begin { task, total, .. }) => {
                clear(multi, bar.take());
                let b = attach(
                    multi,
                    Reporter::new_bar(
                        *total as u64,
                        "{prefix:10} [{bar:30}] {pos}/{len} chunks · {elapsed_precise} · {msg}",
                    ),
                );
                b.set_prefix(printable(task).into_owned());
                b.set_message("starting");
                // The clock and spinner move while the engine works through a long
                // prompt, when no token arrives to redraw the bar.
                b.enable_steady_tick(std::time::Duration::from_millis(200));
                *bar = Some(b);
            }
            (Sink::Bar(Some(bar)), Event::ChunkDone { done, total, .. }) => {
                bar.set_position(*done as u64);
                if done == total && multi.is_none() {
                    bar.disable_steady_tick();
                    bar.finish_and_clear();
                }
            }
            (Sink::Bar(bar), Event::Stage { message }) => {
                clear(multi, bar.take());
                let b = ProgressBar::new_spinner();
                b.set_draw_target(ProgressDrawTarget::stderr());
                let b = attach(multi, b);
                b.set_message(printable(message).into_owned());
                b.enable_steady_tick(std::time::Duration::from_millis(120));
                *bar = Some(b);
            }
            (Sink::Bar(bar), Event::DownloadStart { file, bytes }) => {
                clear(multi, bar.take());
                let b = Reporter::new_bar(
                    *bytes,
                    "{msg:28} [{bar:30}] {bytes}/{total_bytes} · {bytes_per_sec} · ETA {eta}",
                );
                b.set_message(file.to_string());
                *bar = Some(b);
            }
            (Sink::Bar(Some(bar)), Event::DownloadAdvance { bytes }) => bar.inc(*bytes),
            (Sink::Bar(bar), Event::DownloadDone) => clear(multi, bar.take()),
            (Sink::Bar(_), _) => {}
            (Sink::Plain, Event::Stage { message }) => self.say(format_args!(
                "anuvad: [{elapsed:7.1}s] {}",
                printable(message)
            )),
            (
                Sink::Plain,
                Event::Begin { .. } | Event::Prefill { .. } | Event::ChunkDone { .. },
            ) if self.in_batch => {}
            (
                Sink::Plain,
                Event::Begin {
                    task,
                    total,
                    expected_tokens,
                },
            ) => {
                let expected = if *expected_tokens > 0 {
                    format!(", ~{expected_tokens} tokens expected")
                } else {
                    String::new()
                };
                self.say(format_args!(
                    "anuvad: [{elapsed:7.1}s] {task}: {total} chunks{expected}"
                ));
            }
            (Sink::Plain, Event::Prefill { tokens }) => {
                let label = self.task.label();
                self.say(format_args!(
                    "anuvad: [{elapsed:7.1}s] {label}processing prompt ({tokens} tokens)"
                ));
            }
            (
                Sink::Plain,
                Event::ChunkDone {
                    done,
                    total,
                    output_tokens,
                    ..
                },
            ) => {
                let line = plain_chunk_line(&self.task, *done, *total, *output_tokens);
                self.say(format_args!("anuvad: [{elapsed:7.1}s] {line}"));
            }
            (Sink::Plain, Event::DownloadStart { file, bytes }) => self.say(format_args!(
                "anuvad: [{elapsed:7.1}s] downloading {} ({bytes} bytes)",
                printable(file)
            )),
            (Sink::Plain, Event::DownloadDone) => {
                self.say(format_args!("anuvad: [{elapsed:7.1}s] download done"))
            }
            (Sink::Plain, _) => {}
            (Sink::Json, Event::Stage { message }) => {
                self.json(serde_json::json!({"event": "stage", "message": message}))
            }
            (
                Sink::Json,
                Event::Begin {
                    task,
                    total,
                    expected_tokens,
                },
            ) => self.json(
                serde_json::json!({"event": "begin", "task": task, "total": total,
                "expected_tokens": expected_tokens}),
            ),
            (Sink::Json, Event::Prefill { tokens }) => {
                let task = self.task.name.clone();
                self.json(serde_json::json!({"event": "prefill", "task": task, "tokens": tokens}))
            }
            (
                Sink::Json,
                Event::ChunkDone {
                    done,
                    total,
                    input_tokens,
                    output_tokens,
                },
            ) => {
                let t = self.task.totals;
                let task = self.task.name.clone();
                self.json(serde_json::json!({"event": "chunk_done", "task": task, "done": done, "total": total,
                    "input_tokens": input_tokens, "output_tokens": output_tokens,
                    "prefill_tokens_per_second": (t.prefill_rate() * 10.0).round() / 10.0,
                    "tokens_per_second": (t.decode_rate() * 10.0).round() / 10.0}))
            }
            (Sink::Json, Event::DownloadStart { file, bytes }) => self
                .json(serde_json::json!({"event": "download_start", "file": file, "bytes": bytes})),
            (Sink::Json, Event::DownloadDone) => {
                self.json(serde_json::json!({"event": "download_done"}))
            }
            (Sink::Json, _) => {}
        }
    }
}

/// A plain log line for a finished chunk, with the task's rates in each stage (the
/// engine's own timings: model load and waiting are not in them).
fn plain_chunk_line(task: &Task, done: usize, total: usize, output_tokens: usize) -> String {
    let t = &task.totals;
    format!(
        "{}chunk {done}/{total} done, {output_tokens} tokens out · prefill {:.1} tok/s · generate {:.1} tok/s",
        task.label(),
        t.prefill_rate(),
        t.decode_rate()
    )
}

/// Remove a bar or spinner from the terminal; a spinner's ticker must stop first or it
/// draws itself back.
fn clear(multi: Option<&MultiProgress>, bar: Option<ProgressBar>) {
    if let Some(b) = bar {
        b.disable_steady_tick();
        b.finish_and_clear();
        if let Some(m) = multi {
            m.remove(&b);
        }
    }
}

/// During a batch, a new bar is drawn beneath the articles bar.
fn attach(multi: Option<&MultiProgress>, bar: ProgressBar) -> ProgressBar {
    match multi {
        Some(m) => m.add(bar),
        None => bar,
    }
}

impl Reporter {
    /// Batch-level events; true when `e` was one.
    fn batch_event(&mut self, e: &Event, elapsed: f64) -> bool {
        match e {
            Event::BatchBegin { total, skipped } => {
                self.in_batch = true;
                match &mut self.sink {
                    Sink::Bar(bar) => {
                        clear(None, bar.take());
                        let multi = MultiProgress::with_draw_target(ProgressDrawTarget::stderr());
                        let b = multi.add(Reporter::new_bar(
                            *total as u64,
                            "articles [{bar:30}] {pos}/{len} · {elapsed_precise} · ETA {eta} · {msg}",
                        ));
                        self.batch = Some((multi, b));
                    }
                    Sink::Plain => self.say(format_args!(
                        "anuvad: [{elapsed:7.1}s] batch: {total} articles to process, {skipped} already done"
                    )),
                    Sink::Json => self.json(
                        serde_json::json!({"event": "batch_begin", "total": total, "skipped": skipped}),
                    ),
                    Sink::None => {}
                }
            }
            Event::ArticleBegin { index, total, id } => match &self.sink {
                Sink::Bar(_) => {
                    if let Some((_, b)) = &self.batch {
                        b.set_message(printable(id).into_owned());
                    }
                }
                Sink::Json => self.json(serde_json::json!({"event": "article_begin",
                    "index": index, "total": total, "id": id})),
                Sink::Plain | Sink::None => {}
            },
            Event::ArticleDone {
                index,
                total,
                id,
                error,
                seconds,
                output_tokens,
            } => match &mut self.sink {
                Sink::Bar(bar) => {
                    let multi = self.batch.as_ref().map(|(m, _)| m.clone());
                    clear(multi.as_ref(), bar.take());
                    if let Some((multi, b)) = &self.batch {
                        if let Some(err) = error {
                            let _ = multi.println(format!(
                                "failed: {}: {}",
                                printable(id),
                                printable(err)
                            ));
                        }
                        b.inc(1);
                    }
                }
                Sink::Plain => match error {
                    None => self.say(format_args!(
                        "anuvad: [{elapsed:7.1}s] {index}/{total} done {} ({seconds:.1} s, {output_tokens} tokens out)",
                        printable(id)
                    )),
                    Some(err) => self.say(format_args!(
                        "anuvad: [{elapsed:7.1}s] {index}/{total} FAILED {}: {}",
                        printable(id),
                        printable(err)
                    )),
                },
                Sink::Json => self.json(serde_json::json!({"event": "article_done",
                    "index": index, "total": total, "id": id, "status": if error.is_some() {"failed"} else {"done"},
                    "error": error, "seconds": seconds, "output_tokens": output_tokens})),
                Sink::None => {}
            },
            Event::BatchEnd => {
                self.in_batch = false;
                if let Some((_, b)) = self.batch.take() {
                    b.finish_and_clear();
                }
                if let Sink::Json = self.sink {
                    self.json(serde_json::json!({"event": "batch_end"}));
                }
            }
            _ => return false,
        }
        true
    }
}

impl Drop for Reporter {
    fn drop(&mut self) {
        self.end();
        if let Sink::Bar(Some(bar)) = &self.sink {
            bar.finish_and_clear();
        }
        if let Some((_, b)) = &self.batch {
            b.finish_and_clear();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::{Arc, Mutex};

    /// A writer the test reads back.
    #[derive(Clone, Default)]
    struct Buffer(Arc<Mutex<Vec<u8>>>);

    impl Write for Buffer {
        fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(b);
            Ok(b.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    impl Buffer {
        fn lines(&self) -> Vec<String> {
            String::from_utf8(self.0.lock().unwrap().clone())
                .unwrap()
                .lines()
                .map(str::to_string)
                .collect()
        }
    }

    /// A translation of two chunks decoded together, as the runner reports it: the
    /// prompt, tokens, the engine call's totals, then both chunks at once.
    fn two_chunks(r: &mut Reporter) {
        r.event(&Event::Stage {
            message: "loading model",
        });
        r.event(&Event::Begin {
            task: "translate",
            total: 2,
            expected_tokens: 40,
        });
        r.event(&Event::Prefill { tokens: 120 });
        for _ in 0..30 {
            r.event(&Event::Token);
        }
        r.event(&Event::Generated {
            input_tokens: 120,
            cached_tokens: 20,
            output_tokens: 30,
            prefill_seconds: 0.5,
            decode_seconds: 3.0,
        });
        for done in 1..=2 {
            r.event(&Event::ChunkDone {
                done,
                total: 2,
                input_tokens: 120,
                output_tokens: 30,
            });
        }
    }

    #[test]
    fn json_events_are_stamped_and_the_run_ends_with_its_totals() {
        let buf = Buffer::default();
        let mut r = Reporter::to(ProgressMode::Json, false, Box::new(buf.clone()));
        two_chunks(&mut r);
        drop(r);
        let events: Vec<serde_json::Value> = buf
            .lines()
            .iter()
            .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{l:?}: {e}")))
            .collect();
        for e in &events {
            let time = e["time"].as_str().expect("a timestamp");
            assert!(
                time.len() == 20 && time.ends_with('Z') && time.as_bytes()[10] == b'T',
                "{time}"
            );
            assert!(e["elapsed"].as_f64().is_some_and(|s| s >= 0.0), "{e}");
        }
        let names: Vec<&str> = events.iter().filter_map(|e| e["event"].as_str()).collect();
        assert_eq!(
            names,
            [
                "stage",
                "begin",
                "prefill",
                "chunk_done",
                "chunk_done",
                "end"
            ]
        );
        assert_eq!(events[1]["expected_tokens"], 40);
        assert_eq!(events[2]["tokens"], 120);
        assert_eq!(events[4]["tokens_per_second"], 10.0);
        let end = &events[5];
        assert_eq!(end["chunks"], 2);
        assert_eq!(end["input_tokens"], 120);
        assert_eq!(end["output_tokens"], 30);
        assert_eq!(end["tokens_per_second"], 10.0);
        // 100 prompt tokens computed (20 were cached) in half a second.
        assert_eq!(end["prefill_tokens_per_second"], 200.0);
        assert!(end["seconds"].as_f64().is_some());
    }

    #[test]
    fn an_error_still_ends_the_json_events_and_a_silent_run_does_not() {
        let buf = Buffer::default();
        let mut r = Reporter::to(ProgressMode::Json, false, Box::new(buf.clone()));
        r.event(&Event::Begin {
            task: "translate",
            total: 3,
            expected_tokens: 60,
        });
        r.event(&Event::Prefill { tokens: 50 });
        r.event(&Event::Token);
        // Interrupted mid-call: the reporter is dropped as the error unwinds `run`.
        drop(r);
        let lines = buf.lines();
        let end: serde_json::Value = serde_json::from_str(lines.last().unwrap()).unwrap();
        assert_eq!(end["event"], "end");
        assert_eq!(end["chunks"], 0);

        let buf = Buffer::default();
        drop(Reporter::to(
            ProgressMode::Json,
            false,
            Box::new(buf.clone()),
        ));
        assert!(buf.lines().is_empty(), "nothing reported, nothing to end");
        let buf = Buffer::default();
        let mut quiet = Reporter::to(ProgressMode::Json, true, Box::new(buf.clone()));
        two_chunks(&mut quiet);
        drop(quiet);
        assert!(buf.lines().is_empty(), "{:?}", buf.lines());
    }

    #[test]
    fn plain_lines_give_each_stage_its_own_rate() {
        let buf = Buffer::default();
        let mut r = Reporter::to(ProgressMode::Plain, false, Box::new(buf.clone()));
        two_chunks(&mut r);
        drop(r);
        let lines = buf.lines();
        let body: Vec<&str> = lines
            .iter()
            .map(|l| l.split_once("s] ").expect("a time stamp").1)
            .collect();
        assert_eq!(
            body,
            [
                "loading model",
                "translate: 2 chunks, ~40 tokens expected",
                "translate: processing prompt (120 tokens)",
                // The engine's time in each stage, not the time since the run began
                // (which would count the model load).
                "translate: chunk 1/2 done, 30 tokens out · prefill 200.0 tok/s · generate 10.0 tok/s",
                "translate: chunk 2/2 done, 30 tokens out · prefill 200.0 tok/s · generate 10.0 tok/s",
                "end: 2 chunks, 120 tokens in, 30 tokens out · prefill 200.0 tok/s · generate 10.0 tok/s",
            ]
        );
    }

    #[test]
    fn a_new_task_measures_its_rates_afresh() {
        let buf = Buffer::default();
        let mut r = Reporter::to(ProgressMode::Plain, false, Box::new(buf.clone()));
        two_chunks(&mut r);
        r.event(&Event::Begin {
            task: "summarize",
            total: 1,
            expected_tokens: 0,
        });
        r.event(&Event::Generated {
            input_tokens: 10,
            cached_tokens: 0,
            output_tokens: 10,
            prefill_seconds: 1.0,
            decode_seconds: 2.0,
        });
        r.event(&Event::ChunkDone {
            done: 1,
            total: 1,
            input_tokens: 10,
            output_tokens: 10,
        });
        drop(r);
        let lines = buf.lines();
        assert!(
            lines[lines.len() - 2].ends_with(
                "summarize: chunk 1/1 done, 10 tokens out · prefill 10.0 tok/s · generate 5.0 tok/s"
            ),
            "{lines:#?}"
        );
        // The run's totals add both tasks: 40 tokens in 5 s of generation.
        assert!(
            lines[lines.len() - 1].ends_with(
                "end: 3 chunks, 130 tokens in, 40 tokens out · prefill 73.3 tok/s · generate 8.0 tok/s"
            ),
            "{lines:#?}"
        );
    }

    #[test]
    fn the_bar_says_what_the_engine_is_doing() {
        let mut task = Task::new("translate", 2, 40);
        assert_eq!(task.status(), "generating 0/~40 tokens · 0.0 tok/s · ETA …");
        task.prefilling = Some(812);
        assert_eq!(task.status(), "processing prompt (812 tokens)");
        task.prefilling = None;
        task.tokens = 45;
        // Past the expectation the count shows the tokens themselves.
        assert!(task.status().starts_with("generating 45/~45 tokens"));
        let title = Task::new("", 0, 0);
        assert!(!title.status().contains("ETA"), "{}", title.status());
    }

    fn pace(tokens_done: usize, chunks_done: usize, seconds: f64) -> Pace {
        Pace {
            tokens_done,
            tokens_expected: 400,
            chunks_done,
            chunks_total: 4,
            seconds,
        }
    }

    #[test]
    fn the_eta_goes_by_tokens() {
        // 100 of 400 tokens in 10 s: 300 more at 10 tok/s.
        assert_eq!(eta_seconds(pace(100, 0, 10.0)), Some(30.0));
        assert_eq!(eta_seconds(pace(100, 1, 10.0)), Some(30.0));
        // Nothing to go by yet: unknown, not 0.
        assert_eq!(eta_seconds(pace(0, 0, 0.0)), None);
        assert_eq!(eta_seconds(pace(0, 0, 5.0)), None);
        // All done.
        assert_eq!(eta_seconds(pace(380, 4, 38.0)), Some(0.0));
        // No tokens expected (scoring): by chunks, 2 of 4 in 8 s.
        let scoring = Pace {
            tokens_expected: 0,
            ..pace(0, 2, 8.0)
        };
        assert_eq!(eta_seconds(scoring), Some(8.0));
        assert_eq!(eta_text(Some(30.0)), "ETA 30s");
        assert_eq!(eta_text(Some(65.2)), "ETA 1m 06s");
        assert_eq!(eta_text(Some(7322.0)), "ETA 2h 02m");
        assert_eq!(eta_text(None), "ETA …");
    }

    #[test]
    fn chunks_decoded_together_keep_a_sane_eta_until_they_all_finish() {
        // Four chunks decoded together at 10 tok/s: no chunk finishes until the last
        // step, so a chunk-based ETA would say nothing, then 0. By tokens it falls
        // steadily, and stays above 0 while the answers run longer than expected.
        let mut last = f64::INFINITY;
        for step in 1..=50 {
            let tokens = step * 10;
            let eta = eta_seconds(pace(tokens, 0, step as f64)).expect("an estimate");
            assert!(eta > 0.0, "step {step}: ETA 0 with every chunk open");
            assert!(eta <= last, "step {step}: {eta} after {last}");
            last = eta;
        }
        assert_eq!(eta_seconds(pace(500, 4, 50.0)), Some(0.0));
    }

    #[test]
    fn control_characters_are_escaped_and_hindi_is_kept() {
        assert!(matches!(printable("desh/0412.txt"), Cow::Borrowed(_)));
        assert_eq!(printable("लेख १"), "लेख १");
        assert_eq!(
            printable("a\nanuvad: [ 1.0s] 2/2 done forged\0\x1b[2J"),
            "a\\nanuvad: [ 1.0s] 2/2 done forged\\u{0}\\u{1b}[2J"
        );
    }
}
