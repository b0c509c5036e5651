//! Progress on stderr, so stdout carries only the result: an indicatif bar on a terminal,
//! one plain line per step for cron logs, or one JSON object per event for collectors.

use crate::config::ProgressMode;
use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};
use std::borrow::Cow;
use std::io::{IsTerminal, Write};
use std::sync::atomic::{AtomicBool, Ordering};
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
    /// A task starts with `total` chunks.
    Begin {
        task: &'a str,
        total: usize,
    },
    /// One token generated.
    Token,
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

enum Sink {
    Bar(Option<ProgressBar>),
    Plain,
    Json,
    None,
}

pub struct Reporter {
    sink: Sink,
    started: Instant,
    task: String,
    /// When the current task began, and tokens generated since: the bar's rate.
    task_started: Instant,
    tokens: usize,
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
    closed: AtomicBool,
}

impl Reporter {
    /// `quiet` keeps warnings but drops progress.
    pub fn new(mode: ProgressMode, quiet: bool) -> Reporter {
        let sink = match mode {
            ProgressMode::Auto if !quiet && std::io::stderr().is_terminal() => Sink::Bar(None),
            ProgressMode::Auto => Sink::None,
            ProgressMode::Bar => Sink::Bar(None),
            ProgressMode::Plain => Sink::Plain,
            ProgressMode::Json => Sink::Json,
            ProgressMode::None => Sink::None,
        };
        Reporter {
            sink,
            started: Instant::now(),
            task: String::new(),
            task_started: Instant::now(),
            tokens: 0,
            quiet,
            batch: None,
            in_batch: false,
            article: String::new(),
            closed: AtomicBool::new(false),
        }
    }

    /// One line on stderr; a failed write (a closed pipe) silences the rest instead of
    /// panicking like `eprintln!`.
    fn say(&self, line: std::fmt::Arguments) {
        if self.closed.load(Ordering::Relaxed) {
            return;
        }
        let mut err = std::io::stderr().lock();
        if err
            .write_fmt(line)
            .and_then(|_| err.write_all(b"\n"))
            .is_err()
        {
            self.closed.store(true, Ordering::Relaxed);
        }
    }

    fn elapsed(&self) -> f64 {
        self.started.elapsed().as_secs_f64()
    }

    fn json(&self, mut v: serde_json::Value) {
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
        let elapsed = self.elapsed();
        if self.batch_event(e, elapsed) {
            return;
        }
        let multi = self.batch.as_ref().map(|(m, _)| m.clone());
        let multi = multi.as_ref();
        match (&mut self.sink, e) {
            (Sink::None, _) => {}
            (_, Event::Token) => {
                self.tokens += 1;
                if let Sink::Bar(Some(bar)) = &self.sink {
                    let rate =
                        self.tokens as f64 / self.task_started.elapsed().as_secs_f64().max(1e-3);
                    bar.set_message(format!("{} · {:.1} tok/s", self.task, rate));
                }
            }
            (Sink::Bar(bar), Event::Begin { task, total }) => {
                self.task = task.to_string();
                self.task_started = Instant::now();
                self.tokens = 0;
                clear(multi, bar.take());
                let b = attach(
                    multi,
                    Reporter::new_bar(
                        *total as u64,
                        "{msg:28} [{bar:30}] {pos}/{len} chunks · {elapsed_precise} · ETA {eta}",
                    ),
                );
                b.set_message(task.to_string());
                *bar = Some(b);
            }
            (Sink::Bar(Some(bar)), Event::ChunkDone { done, total, .. }) => {
                bar.set_position(*done as u64);
                if done == total && multi.is_none() {
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
            (Sink::Plain, Event::Begin { .. } | Event::ChunkDone { .. }) if self.in_batch => {}
            (Sink::Plain, Event::Begin { task, total }) => {
                self.task = task.to_string();
                self.say(format_args!(
                    "anuvad: [{elapsed:7.1}s] {task}: {total} chunks"
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
                let rate = *output_tokens as f64 / elapsed.max(1e-3);
                self.say(format_args!(
                    "anuvad: [{elapsed:7.1}s] {}: chunk {done}/{total} done, {output_tokens} tokens out ({rate:.1} tok/s)",
                    self.task
                ));
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
            (Sink::Json, Event::Begin { task, total }) => {
                self.task = task.to_string();
                self.json(serde_json::json!({"event": "begin", "task": task, "total": total}))
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
                let task = self.task.clone();
                self.json(serde_json::json!({"event": "chunk_done", "task": task, "done": done, "total": total,
                    "input_tokens": input_tokens, "output_tokens": output_tokens}))
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
