//! The one thread that owns the loaded pipeline. Candle's work is CPU-bound and not
//! async, so handlers send jobs here over a channel and await the answer. Jobs that
//! arrive while the model is busy wait together, and their translations are decoded in
//! one shared pass (`Pipeline::translate_many`), so clients' requests share the
//! engine's batch slots.

use crate::config::SummaryLength;
use crate::error::{Error, Result};
use crate::pipeline::Pipeline;
use crate::progress::{Event, Progress};
use crate::record::{ReviewRecord, SummaryRecord, TranslationRecord};
use crate::text::Article;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc;
use tokio::sync::{mpsc::UnboundedSender, oneshot};

pub enum Work {
    Translate(Article),
    Summarize(Article, Option<SummaryLength>),
    /// An article and its English made elsewhere.
    Review(Article, String),
}

pub enum Done {
    Translation(TranslationRecord),
    Summary(SummaryRecord),
    Review(ReviewRecord),
}

pub struct Job {
    pub work: Work,
    /// Progress events as JSON objects, for a client that asked for a stream.
    pub events: Option<UnboundedSender<String>>,
    pub reply: oneshot::Sender<Result<Done>>,
    /// The request's place in the queue, shared by its jobs: freed when the last is done.
    pub slot: Arc<Slot>,
}

/// Requests queued or running: the queue limit counts these. A request of many texts
/// (a LibreTranslate list, an HTML page) is one request, however many jobs it makes.
#[derive(Clone, Default)]
pub struct Pending(Arc<AtomicUsize>);

/// One request's place in the queue, given back when dropped.
pub struct Slot(Pending);

impl Drop for Slot {
    fn drop(&mut self) {
        self.0.0.fetch_sub(1, Ordering::SeqCst);
    }
}

impl Pending {
    /// A place for one more request, if the total stays within `max`.
    pub fn reserve(&self, max: usize) -> Option<Arc<Slot>> {
        self.0
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |p| {
                (p < max).then_some(p + 1)
            })
            .ok()
            .map(|_| Arc::new(Slot(self.clone())))
    }
}

/// Take jobs until every sender is gone (the server has shut down and its requests are
/// answered).
pub fn run(mut pipeline: Pipeline, jobs: mpsc::Receiver<Job>) {
    while let Ok(first) = jobs.recv() {
        let mut waiting = vec![first];
        waiting.extend(jobs.try_iter());
        let (translations, others): (Vec<Job>, Vec<Job>) = waiting
            .into_iter()
            .partition(|j| matches!(j.work, Work::Translate(_)));
        translate_together(&mut pipeline, translations);
        for job in others {
            let mut progress = Forward(job.events.iter().cloned().collect());
            let out = match &job.work {
                Work::Summarize(a, length) => pipeline
                    .summarize_in(a, *length, &mut progress)
                    .map(Done::Summary),
                Work::Review(a, english) => {
                    pipeline.review(a, english, &mut progress).map(Done::Review)
                }
                Work::Translate(_) => unreachable!("partitioned above"),
            };
            answer(job, out);
        }
    }
}

/// Translate every job's article in one shared pass; if that fails, each alone, so one
/// article's failure is its own.
fn translate_together(pipeline: &mut Pipeline, jobs: Vec<Job>) {
    if jobs.is_empty() {
        return;
    }
    let articles: Vec<&Article> = jobs
        .iter()
        .map(|j| match &j.work {
            Work::Translate(a) => a,
            _ => unreachable!("only translations are passed here"),
        })
        .collect();
    let mut progress = Forward(jobs.iter().filter_map(|j| j.events.clone()).collect());
    match pipeline.translate_many(&articles, &mut progress) {
        Ok(records) => {
            for (job, r) in jobs.into_iter().zip(records) {
                answer(job, Ok(Done::Translation(r)));
            }
        }
        Err(e) if jobs.len() == 1 => {
            let job = jobs.into_iter().next().expect("one job");
            answer(job, Err(e));
        }
        Err(_) => {
            for job in jobs {
                let Work::Translate(a) = &job.work else {
                    unreachable!("only translations are passed here")
                };
                let mut progress = Forward(job.events.iter().cloned().collect());
                let out = pipeline
                    .translate_many(&[a], &mut progress)
                    .and_then(|mut r| r.pop().ok_or_else(|| Error::Invalid("no record".into())))
                    .map(Done::Translation);
                answer(job, out);
            }
        }
    }
}

fn answer(job: Job, out: Result<Done>) {
    // The stream ends when its sender is gone; the result follows.
    drop(job.events);
    // The request's place is freed with its last job, before the client hears back: a
    // client that sends its next request at once finds the place free.
    drop(job.slot);
    // A client that went away no longer waits for the answer: nothing to do.
    let _ = job.reply.send(out);
}

/// Forwards the pipeline's progress to the clients streaming it, as JSON objects.
struct Forward(Vec<UnboundedSender<String>>);

impl Progress for Forward {
    fn event(&mut self, e: &Event) {
        if self.0.is_empty() {
            return;
        }
        let v = match *e {
            Event::Stage { message } => serde_json::json!({"event": "stage", "message": message}),
            Event::Begin {
                task,
                total,
                expected_tokens,
            } => serde_json::json!({"event": "begin", "task": task, "total": total,
                "expected_tokens": expected_tokens}),
            Event::ChunkDone {
                done,
                total,
                input_tokens,
                output_tokens,
            } => serde_json::json!({
                "event": "chunk_done", "done": done, "total": total,
                "input_tokens": input_tokens, "output_tokens": output_tokens,
            }),
            Event::Warning { message } => {
                serde_json::json!({"event": "warning", "message": message})
            }
            // Tokens are too many to stream one by one; downloads and batches do not
            // happen in the server.
            _ => return,
        };
        let line = v.to_string();
        self.0.retain(|tx| tx.send(line.clone()).is_ok());
    }
}
