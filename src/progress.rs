//! Progress on stderr, so stdout carries only the result: an indicatif bar on a terminal,
//! one plain line per step for cron logs, or one JSON object per event for collectors.

use crate::config::ProgressMode;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use std::io::{IsTerminal, Write};
use std::time::Instant;

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
        }
    }

    fn elapsed(&self) -> f64 {
        self.started.elapsed().as_secs_f64()
    }

    fn json(&self, mut v: serde_json::Value) {
        v["elapsed"] = serde_json::json!((self.elapsed() * 1000.0).round() / 1000.0);
        let _ = writeln!(std::io::stderr(), "{v}");
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
        if let Event::Warning { message } = e {
            match &self.sink {
                Sink::Json => {
                    self.json(serde_json::json!({"event": "warning", "message": message}))
                }
                Sink::Bar(Some(bar)) => bar.println(format!("warning: {message}")),
                _ => eprintln!("anuvad: warning: {message}"),
            }
            return;
        }
        if self.quiet {
            return;
        }
        let elapsed = self.elapsed();
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
                clear(bar.take());
                let b = Reporter::new_bar(
                    *total as u64,
                    "{msg:28} [{bar:30}] {pos}/{len} chunks · {elapsed_precise} · ETA {eta}",
                );
                b.set_message(task.to_string());
                *bar = Some(b);
            }
            (Sink::Bar(Some(bar)), Event::ChunkDone { done, total, .. }) => {
                bar.set_position(*done as u64);
                if done == total {
                    bar.finish_and_clear();
                }
            }
            (Sink::Bar(bar), Event::Stage { message }) => {
                clear(bar.take());
                let b = ProgressBar::new_spinner();
                b.set_draw_target(ProgressDrawTarget::stderr());
                b.set_message(message.to_string());
                b.enable_steady_tick(std::time::Duration::from_millis(120));
                *bar = Some(b);
            }
            (Sink::Bar(bar), Event::DownloadStart { file, bytes }) => {
                clear(bar.take());
                let b = Reporter::new_bar(
                    *bytes,
                    "{msg:28} [{bar:30}] {bytes}/{total_bytes} · {bytes_per_sec} · ETA {eta}",
                );
                b.set_message(file.to_string());
                *bar = Some(b);
            }
            (Sink::Bar(Some(bar)), Event::DownloadAdvance { bytes }) => bar.inc(*bytes),
            (Sink::Bar(bar), Event::DownloadDone) => clear(bar.take()),
            (Sink::Bar(_), _) => {}
            (Sink::Plain, Event::Stage { message }) => {
                eprintln!("anuvad: [{elapsed:7.1}s] {message}")
            }
            (Sink::Plain, Event::Begin { task, total }) => {
                self.task = task.to_string();
                eprintln!("anuvad: [{elapsed:7.1}s] {task}: {total} chunks");
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
                eprintln!(
                    "anuvad: [{elapsed:7.1}s] {}: chunk {done}/{total} done, {output_tokens} tokens out ({rate:.1} tok/s)",
                    self.task
                );
            }
            (Sink::Plain, Event::DownloadStart { file, bytes }) => {
                eprintln!("anuvad: [{elapsed:7.1}s] downloading {file} ({bytes} bytes)")
            }
            (Sink::Plain, Event::DownloadDone) => {
                eprintln!("anuvad: [{elapsed:7.1}s] download done")
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
fn clear(bar: Option<ProgressBar>) {
    if let Some(b) = bar {
        b.disable_steady_tick();
        b.finish_and_clear();
    }
}

impl Drop for Reporter {
    fn drop(&mut self) {
        if let Sink::Bar(Some(bar)) = &self.sink {
            bar.finish_and_clear();
        }
    }
}
