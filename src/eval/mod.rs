//! `anuvad eval`: run the pipeline over an evaluation set and measure it. Per article
//! and overall: chrF and BLEU against references (`metrics`, sacreBLEU definitions);
//! the reference-free checks of the review page (`checks`) with sentence coverage and
//! mean confidence; for summaries, coverage of the article's key facts, length, and
//! numbers the summary invented; wall time and tokens/s.
//!
//! An evaluation set is a directory of articles: `ID.hi.txt` (the Hindi), optionally
//! `ID.en.txt` (a reference translation, one paragraph per line like the Hindi) and
//! `ID.toml` (`topic`, `[[facts]]` with `terms` that a summary must contain, `keep`:
//! names and numbers a translation must keep). A FLORES-200 directory (with
//! `devtest/hin_Deva.devtest` and `devtest/eng_Latn.devtest`) is read as one article
//! per sentence.

pub mod metrics;

use crate::config::{InputRules, Task};
use crate::error::{Error, Result};
use crate::facts;
use crate::facts::terms::Terms;
use crate::pipeline::runner::round;
use crate::pipeline::{Pipeline, Worked};
use crate::progress::{Event, Progress};
use crate::record::ModelInfo;
use crate::review::checks;
use crate::text::segment::Document;
use crate::text::{self, input};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::Path;

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Meta {
    /// The article's headline: accepted for people reading the set, not measured.
    #[serde(default, rename = "title")]
    pub _title: String,
    #[serde(default)]
    pub topic: String,
    #[serde(default)]
    pub facts: Vec<Fact>,
    /// Names and numbers a faithful translation must contain.
    #[serde(default)]
    pub keep: Vec<String>,
    /// The same facts by class, each with its accepted forms separated by `|`: proper
    /// names, numbers written with digits, calendar dates.
    #[serde(default)]
    pub names: Vec<String>,
    #[serde(default)]
    pub numbers: Vec<String>,
    #[serde(default)]
    pub dates: Vec<String>,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Fact {
    pub text: String,
    /// The fact counts as covered when every term appears (case-insensitive).
    pub terms: Vec<String>,
}

#[derive(Debug, Clone)]
pub struct Article {
    pub id: String,
    pub hindi: String,
    pub reference: Option<String>,
    pub meta: Meta,
}

fn read(path: &Path) -> Result<String> {
    let bytes = std::fs::read(path).map_err(|source| Error::Io {
        path: path.to_path_buf(),
        source,
    })?;
    input::decode(bytes, &path.display().to_string())
}

/// The articles of an evaluation set (sorted by id), or of a FLORES-200 directory.
pub fn load(dir: &Path) -> Result<Vec<Article>> {
    let flores = dir.join("devtest/hin_Deva.devtest");
    if flores.is_file() {
        return load_flores(dir);
    }
    let entries = std::fs::read_dir(dir).map_err(|source| Error::Io {
        path: dir.to_path_buf(),
        source,
    })?;
    let mut ids: Vec<String> = entries
        .flatten()
        .filter_map(|e| {
            let name = e.file_name().to_string_lossy().into_owned();
            name.strip_suffix(".hi.txt").map(str::to_string)
        })
        .collect();
    ids.sort();
    if ids.is_empty() {
        return Err(Error::Invalid(format!(
            "{} has no evaluation articles (ID.hi.txt, with ID.en.txt and ID.toml) and is not a FLORES-200 directory (devtest/hin_Deva.devtest)",
            dir.display()
        )));
    }
    ids.into_iter()
        .map(|id| {
            let en = dir.join(format!("{id}.en.txt"));
            let meta_path = dir.join(format!("{id}.toml"));
            let meta = if meta_path.is_file() {
                toml::from_str(&read(&meta_path)?).map_err(|e| {
                    Error::Invalid(format!("{}: {}", meta_path.display(), e.message()))
                })?
            } else {
                Meta::default()
            };
            Ok(Article {
                hindi: read(&dir.join(format!("{id}.hi.txt")))?,
                reference: en.is_file().then(|| read(&en)).transpose()?,
                meta,
                id,
            })
        })
        .collect()
}

fn load_flores(dir: &Path) -> Result<Vec<Article>> {
    let hi = read(&dir.join("devtest/hin_Deva.devtest"))?;
    let en = read(&dir.join("devtest/eng_Latn.devtest"))?;
    let (hi, en): (Vec<&str>, Vec<&str>) = (hi.lines().collect(), en.lines().collect());
    if hi.len() != en.len() {
        return Err(Error::Invalid(format!(
            "{}: {} Hindi lines but {} English lines",
            dir.display(),
            hi.len(),
            en.len()
        )));
    }
    Ok(hi
        .iter()
        .zip(&en)
        .enumerate()
        .map(|(i, (h, e))| Article {
            id: format!("flores-{:04}", i + 1),
            hindi: h.to_string(),
            reference: Some(e.to_string()),
            meta: Meta::default(),
        })
        .collect())
}

/// What was measured for one article.
#[derive(Debug, Clone, Serialize)]
pub struct Row {
    pub id: String,
    pub topic: String,
    pub source_chars: usize,
    /// Translation: chrF and BLEU against the reference, when there is one.
    pub chrf: Option<f64>,
    pub bleu: Option<f64>,
    /// Translation: names/numbers of `keep` found in the English, of those listed.
    pub kept: Option<(usize, usize)>,
    /// Translation: the set's names, numbers and dates found in the English, of those
    /// listed, and the ones missing.
    pub names: Option<(usize, usize)>,
    pub numbers: Option<(usize, usize)>,
    pub dates: Option<(usize, usize)>,
    pub missing: Vec<String>,
    /// Words of English written.
    pub english_words: usize,
    /// Sentences with English, of all Hindi sentences.
    pub sentences_covered: (usize, usize),
    /// Paragraphs in the output, of the source's.
    pub paragraphs: (usize, usize),
    /// How many sentences each check flagged.
    pub flags: BTreeMap<String, usize>,
    pub mean_logprob: Option<f32>,
    /// Summary: facts covered of those listed, length in words, invented numbers.
    pub facts_covered: Option<(usize, usize)>,
    pub summary_words: Option<usize>,
    /// Numbers the English writes that the Hindi does not have.
    pub invented_numbers: Option<usize>,
    /// Names the English writes that nothing in the Hindi accounts for.
    pub invented_names: Option<usize>,
    pub seconds: f64,
    pub output_tokens: usize,
    /// The output, for inspection and for corpus-level metrics.
    pub output: String,
}

fn contains_ci(haystack: &str, needle: &str) -> bool {
    haystack.to_lowercase().contains(&needle.to_lowercase())
}

/// Whether `text` has `fact` (or one of its `|` alternatives) as a whole word or number,
/// case-insensitive: `UN` is not found in "under", `12` not in "112".
pub fn has_fact(text: &str, fact: &str) -> bool {
    let text = text.to_lowercase();
    fact.split('|')
        .map(str::trim)
        .filter(|f| !f.is_empty())
        .any(|f| {
            let f = f.to_lowercase();
            text.match_indices(&f).any(|(at, _)| {
                let before = text[..at].chars().next_back();
                let after = text[at + f.len()..].chars().next();
                let joins = |c: Option<char>| c.is_some_and(char::is_alphanumeric);
                !joins(before) && !joins(after)
            })
        })
}

/// How many of `facts` `text` has, of how many; None for an empty list. The missing
/// ones (their first form) go to `missing`.
fn kept_of(text: &str, facts: &[String], missing: &mut Vec<String>) -> Option<(usize, usize)> {
    if facts.is_empty() {
        return None;
    }
    let mut found = 0;
    for f in facts {
        if has_fact(text, f) {
            found += 1;
        } else {
            missing.push(f.split('|').next().unwrap_or(f).to_string());
        }
    }
    Some((found, facts.len()))
}

/// How many numbers `english` writes that `hindi` does not have.
fn invented_numbers(hindi: &str, english: &str) -> usize {
    crate::facts::numbers::compare(hindi, english)
        .invented
        .len()
}

/// Non-empty lines, the unit of line-aligned metrics.
fn lines(s: &str) -> Vec<&str> {
    s.lines().filter(|l| !l.trim().is_empty()).collect()
}

/// The report of a run over an evaluation set: per article, overall, and failures.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub data: String,
    pub task: Task,
    pub model: Option<ModelInfo>,
    pub summary: Summary,
    pub articles: Vec<Row>,
    /// (article id, error message) of articles that failed.
    pub failures: Vec<(String, String)>,
}

/// Run `task` (translate or summarize) over `articles` and measure every result.
pub fn run(
    pipeline: &mut Pipeline,
    articles: &[Article],
    task: Task,
    data: &Path,
    progress: &mut dyn Progress,
) -> Report {
    let total = articles.len();
    progress.event(&Event::BatchBegin { total, skipped: 0 });
    let (mut rows, mut failures) = (Vec::new(), Vec::new());
    // Evaluation articles are taken as they are: no language check, no length limit.
    let rules = InputRules {
        force: true,
        ..InputRules::default()
    };
    for (i, a) in articles.iter().enumerate() {
        progress.event(&Event::ArticleBegin {
            index: i + 1,
            total,
            id: &a.id,
        });
        let result = text::Article::new(&a.id, &a.hindi, &rules).and_then(|article| {
            let worked = pipeline.run(&article, task, progress)?;
            Ok((article, worked))
        });
        let (error, seconds, output_tokens) = match result {
            Ok((article, worked)) => {
                let row = measure(a, &article.doc, worked, pipeline.terms());
                let done = (None, row.seconds, row.output_tokens);
                rows.push(row);
                done
            }
            Err(e) => {
                failures.push((a.id.clone(), e.to_string()));
                (Some(e.to_string()), 0.0, 0)
            }
        };
        progress.event(&Event::ArticleDone {
            index: i + 1,
            total,
            id: &a.id,
            error: error.as_deref(),
            seconds,
            output_tokens,
        });
    }
    progress.event(&Event::BatchEnd);
    let summary = summarize_rows(&rows, failures.len(), articles);
    let model = match task {
        Task::Summarize => pipeline.summarizer_info(),
        _ => pipeline.translator_info(),
    };
    Report {
        data: data.display().to_string(),
        task,
        model: model.cloned(),
        summary,
        articles: rows,
        failures,
    }
}

/// What one article's result measures against its reference and facts.
fn measure(a: &Article, doc: &Document, worked: Worked, terms: &Terms) -> Row {
    let mut row = Row {
        id: a.id.clone(),
        topic: a.meta.topic.clone(),
        source_chars: a.hindi.chars().count(),
        chrf: None,
        bleu: None,
        kept: None,
        names: None,
        numbers: None,
        dates: None,
        missing: Vec::new(),
        english_words: 0,
        sentences_covered: (0, 0),
        paragraphs: (0, 0),
        flags: BTreeMap::new(),
        mean_logprob: None,
        facts_covered: None,
        summary_words: None,
        invented_numbers: None,
        invented_names: None,
        seconds: worked.stats.decode_seconds + worked.stats.prefill_seconds,
        output_tokens: worked.stats.output_tokens,
        output: String::new(),
    };
    if let Some(t) = worked.translation {
        row.output = t.translation.clone();
        row.paragraphs = (t.paragraphs.len(), t.paragraphs.len());
        row.sentences_covered = (
            t.sentences()
                .filter(|s| !s.translation.trim().is_empty())
                .count(),
            t.sentences().count(),
        );
        row.flags = t.checks.by_check.clone();
        row.mean_logprob = t.checks.mean_logprob;
        if let Some(reference) = &a.reference {
            let (h, r) = (lines(&row.output), lines(reference));
            if h.len() == r.len() {
                row.chrf = Some(metrics::chrf(&h, &r));
                row.bleu = Some(metrics::bleu(&h, &r));
            } else {
                // Not line-aligned (should not happen: paragraphs are kept): score the
                // whole text as one segment rather than misalign lines.
                let (h, r) = (h.join(" "), r.join(" "));
                row.chrf = Some(metrics::chrf(&[&h], &[&r]));
                row.bleu = Some(metrics::bleu(&[&h], &[&r]));
            }
        }
        if !a.meta.keep.is_empty() {
            let found = a
                .meta
                .keep
                .iter()
                .filter(|k| contains_ci(&row.output, k))
                .count();
            row.kept = Some((found, a.meta.keep.len()));
        }
        let mut missing = Vec::new();
        row.names = kept_of(&row.output, &a.meta.names, &mut missing);
        row.numbers = kept_of(&row.output, &a.meta.numbers, &mut missing);
        row.dates = kept_of(&row.output, &a.meta.dates, &mut missing);
        row.missing = missing;
        row.invented_numbers = Some(invented_numbers(&a.hindi, &row.output));
        row.invented_names = Some(
            t.sentences()
                .map(|s| {
                    facts::names::check(&s.source, &s.translation, terms)
                        .invented
                        .len()
                })
                .sum(),
        );
    }
    if let Some(s) = worked.summary {
        let sentences: usize = doc.paragraphs.iter().map(|p| p.sentences.len()).sum();
        row.paragraphs = (0, doc.paragraphs.len());
        row.sentences_covered = (sentences, sentences);
        row.output = s.summary.clone();
        row.summary_words = Some(s.summary.split_whitespace().count());
        let covered = a
            .meta
            .facts
            .iter()
            .filter(|f| f.terms.iter().all(|t| contains_ci(&s.summary, t)))
            .count();
        row.facts_covered = Some((covered, a.meta.facts.len()));
        // Numbers the summary has and the article does not: a faithfulness failure.
        let invented = invented_numbers(&a.hindi, &s.summary);
        row.invented_numbers = Some(invented);
        row.invented_names = Some(
            facts::names::check(&a.hindi, &s.summary, terms)
                .invented
                .len(),
        );
        if invented > 0 {
            row.flags.insert("invented_numbers".into(), invented);
        }
        if let Some(c) = checks::untranslated(&s.summary) {
            row.flags.insert(c.check.name().to_string(), 1);
        }
    }
    row.english_words = row.output.split_whitespace().count();
    row
}

/// Totals over all articles.
#[derive(Debug, Clone, Serialize)]
pub struct Summary {
    pub articles: usize,
    pub failed: usize,
    /// Corpus-level, over all reference lines of all articles.
    pub chrf: Option<f64>,
    pub bleu: Option<f64>,
    pub kept: Option<(usize, usize)>,
    pub names: Option<(usize, usize)>,
    pub numbers: Option<(usize, usize)>,
    pub dates: Option<(usize, usize)>,
    pub english_words: usize,
    pub facts_covered: Option<(usize, usize)>,
    pub invented_numbers: Option<usize>,
    pub invented_names: Option<usize>,
    pub sentences_covered: (usize, usize),
    pub flags: BTreeMap<String, usize>,
    pub mean_logprob: Option<f32>,
    pub seconds: f64,
    pub output_tokens: usize,
    pub output_tokens_per_second: f64,
}

fn add(a: Option<(usize, usize)>, b: Option<(usize, usize)>) -> Option<(usize, usize)> {
    match (a, b) {
        (Some(x), Some(y)) => Some((x.0 + y.0, x.1 + y.1)),
        (x, None) => x,
        (None, y) => y,
    }
}

pub fn summarize_rows(rows: &[Row], failed: usize, articles: &[Article]) -> Summary {
    let mut hyps: Vec<String> = Vec::new();
    let mut refs: Vec<String> = Vec::new();
    for r in rows {
        if let Some(a) = articles.iter().find(|a| a.id == r.id)
            && let Some(reference) = &a.reference
            && r.chrf.is_some()
        {
            let (h, rf) = (lines(&r.output), lines(reference));
            if h.len() == rf.len() {
                hyps.extend(h.iter().map(|s| s.to_string()));
                refs.extend(rf.iter().map(|s| s.to_string()));
            } else {
                hyps.push(h.join(" "));
                refs.push(rf.join(" "));
            }
        }
    }
    let h: Vec<&str> = hyps.iter().map(String::as_str).collect();
    let rf: Vec<&str> = refs.iter().map(String::as_str).collect();
    let mut flags = BTreeMap::new();
    for r in rows {
        for (k, v) in &r.flags {
            *flags.entry(k.clone()).or_insert(0) += v;
        }
    }
    let seconds: f64 = rows.iter().map(|r| r.seconds).sum();
    let output_tokens = rows.iter().map(|r| r.output_tokens).sum();
    let confidences: Vec<f32> = rows.iter().filter_map(|r| r.mean_logprob).collect();
    Summary {
        articles: rows.len(),
        failed,
        chrf: (!h.is_empty()).then(|| metrics::chrf(&h, &rf)),
        bleu: (!h.is_empty()).then(|| metrics::bleu(&h, &rf)),
        kept: rows.iter().fold(None, |acc, r| add(acc, r.kept)),
        names: rows.iter().fold(None, |acc, r| add(acc, r.names)),
        numbers: rows.iter().fold(None, |acc, r| add(acc, r.numbers)),
        dates: rows.iter().fold(None, |acc, r| add(acc, r.dates)),
        english_words: rows.iter().map(|r| r.english_words).sum(),
        facts_covered: rows.iter().fold(None, |acc, r| add(acc, r.facts_covered)),
        invented_numbers: rows
            .iter()
            .filter_map(|r| r.invented_numbers)
            .reduce(|a, b| a + b),
        invented_names: rows
            .iter()
            .filter_map(|r| r.invented_names)
            .reduce(|a, b| a + b),
        sentences_covered: rows.iter().fold((0, 0), |acc, r| {
            (acc.0 + r.sentences_covered.0, acc.1 + r.sentences_covered.1)
        }),
        flags,
        mean_logprob: (!confidences.is_empty())
            .then(|| confidences.iter().sum::<f32>() / confidences.len() as f32),
        seconds: round(seconds, 2),
        output_tokens,
        output_tokens_per_second: round(
            if seconds > 0.0 {
                output_tokens as f64 / seconds
            } else {
                0.0
            },
            1,
        ),
    }
}

fn frac(x: Option<(usize, usize)>) -> String {
    x.map_or("–".into(), |(a, b)| format!("{a}/{b}"))
}

fn num(x: Option<f64>) -> String {
    x.map_or("–".into(), |v| format!("{v:.1}"))
}

/// The measured cells of a table line, chrF to seconds.
struct Cells<'a> {
    chrf: Option<f64>,
    bleu: Option<f64>,
    kept: Option<(usize, usize)>,
    facts: Option<(usize, usize)>,
    sentences: (usize, usize),
    flags: &'a BTreeMap<String, usize>,
    mean_logprob: Option<f32>,
    seconds: f64,
}

impl Cells<'_> {
    /// `| chrF | BLEU | … | s |`, the scores in bold for the totals.
    fn line(&self, bold: bool) -> String {
        let b = if bold { "**" } else { "" };
        let flags = if self.flags.is_empty() {
            "–".to_string()
        } else {
            let f: Vec<String> = self.flags.iter().map(|(k, v)| format!("{k} {v}")).collect();
            f.join(", ")
        };
        format!(
            " {b}{}{b} | {b}{}{b} | {} | {} | {}/{} | {flags} | {} | {:.1} |\n",
            num(self.chrf),
            num(self.bleu),
            frac(self.kept),
            frac(self.facts),
            self.sentences.0,
            self.sentences.1,
            self.mean_logprob.map_or("–".into(), |v| format!("{v:.2}")),
            self.seconds
        )
    }
}

/// A table for people: one line per article, then the totals.
pub fn table(rows: &[Row], s: &Summary, failures: &[(String, String)]) -> String {
    let mut out = String::from(
        "| article | topic | chars | chrF | BLEU | kept | facts | sentences | flags | logprob | s |\n|---|---|---:|---:|---:|---:|---:|---:|---|---:|---:|\n",
    );
    for r in rows {
        let cells = Cells {
            chrf: r.chrf,
            bleu: r.bleu,
            kept: r.kept,
            facts: r.facts_covered,
            sentences: r.sentences_covered,
            flags: &r.flags,
            mean_logprob: r.mean_logprob,
            seconds: r.seconds,
        };
        out.push_str(&format!("| {} | {} | {} |", r.id, r.topic, r.source_chars));
        out.push_str(&cells.line(false));
    }
    let cells = Cells {
        chrf: s.chrf,
        bleu: s.bleu,
        kept: s.kept,
        facts: s.facts_covered,
        sentences: s.sentences_covered,
        flags: &s.flags,
        mean_logprob: s.mean_logprob,
        seconds: s.seconds,
    };
    out.push_str(&format!(
        "| **all** ({} articles, {} failed) | | |",
        s.articles, s.failed
    ));
    out.push_str(&cells.line(true));
    out.push_str(&format!(
        "\n{} output tokens in {:.1} s of generation: {:.1} tokens/s.{}\n",
        s.output_tokens,
        s.seconds,
        s.output_tokens_per_second,
        s.invented_numbers.map_or(String::new(), |n| format!(
            " Numbers invented by summaries: {n}."
        ))
    ));
    for (id, e) in failures {
        out.push_str(&format!("\nFAILED {id}: {e}\n"));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;

    fn temp(name: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!("anuvad-eval-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).unwrap();
        d
    }

    #[test]
    fn a_flores_directory_is_one_article_per_sentence() {
        let d = temp("flores");
        std::fs::create_dir_all(d.join("devtest")).unwrap();
        std::fs::write(
            d.join("devtest/hin_Deva.devtest"),
            "पहला वाक्य।\nदूसरा वाक्य।\n",
        )
        .unwrap();
        std::fs::write(
            d.join("devtest/eng_Latn.devtest"),
            "First sentence.\nSecond sentence.\n",
        )
        .unwrap();
        let a = load(&d).unwrap();
        assert_eq!(a.len(), 2);
        assert_eq!(a[1].id, "flores-0002");
        assert_eq!(a[1].reference.as_deref(), Some("Second sentence."));
        std::fs::write(d.join("devtest/eng_Latn.devtest"), "Only one.\n").unwrap();
        assert!(
            load(&d)
                .unwrap_err()
                .to_string()
                .contains("2 Hindi lines but 1 English lines")
        );
        std::fs::remove_dir_all(&d).unwrap();
    }

    #[test]
    fn an_evaluation_set_reads_articles_references_and_facts() {
        let d = temp("set");
        std::fs::write(d.join("b.hi.txt"), "दूसरा।").unwrap();
        std::fs::write(d.join("a.hi.txt"), "पहला।").unwrap();
        std::fs::write(d.join("a.en.txt"), "First.").unwrap();
        std::fs::write(
            d.join("a.toml"),
            "topic = \"sport\"\nkeep = [\"11\"]\n[[facts]]\ntext = \"x\"\nterms = [\"first\"]\n",
        )
        .unwrap();
        let a = load(&d).unwrap();
        assert_eq!(
            a.iter().map(|a| a.id.as_str()).collect::<Vec<_>>(),
            ["a", "b"]
        );
        assert_eq!(a[0].meta.topic, "sport");
        assert_eq!(a[0].meta.facts[0].terms, ["first"]);
        assert!(a[1].reference.is_none());
        std::fs::write(d.join("b.toml"), "topc = \"typo\"\n").unwrap();
        assert!(load(&d).unwrap_err().to_string().contains("b.toml"));
        std::fs::remove_dir_all(&d).unwrap();
    }
}
