//! The command line: parse flags here, in one place, and hand plain configs to the
//! library (`anuvad::app`). Errors become a message on stderr and a documented exit code.

use anuvad::config::{
    self, ModelConfig, OutputFormat, ProgressMode, Sampling, SummaryLength, TaskConfig,
};
use anuvad::hub::HubConfig;
use anuvad::progress::Reporter;
use anuvad::{Error, app};
use clap::{Args, Parser, Subcommand, ValueEnum};
use std::path::PathBuf;

#[derive(Parser)]
#[command(
    name = "anuvad",
    version,
    about = "Hindi news articles to faithful English translations and summaries, with a local model"
)]
struct Cli {
    #[command(flatten)]
    global: Global,
    #[command(subcommand)]
    command: Command,
}

#[derive(Args)]
struct Global {
    /// Model card id (see `anuvad models list`) or path to a .gguf file.
    #[arg(long, global = true, env = "ANUVAD_MODEL")]
    model: Option<String>,
    /// With --model PATH.gguf: which card's prompts and settings to use.
    #[arg(long, global = true)]
    card: Option<String>,
    /// CPU threads for the model (default: all cores).
    #[arg(long, global = true)]
    threads: Option<usize>,
    /// Cap on new tokens per model call (default: the card's).
    #[arg(long, global = true)]
    max_new_tokens: Option<usize>,
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
        #[arg(long, value_enum, default_value_t = FormatArg::Text)]
        format: FormatArg,
        /// Go on even when the input has no Devanagari.
        #[arg(long)]
        force: bool,
    },
    /// Summarize a Hindi article in English, however long it is.
    Summarize {
        /// Article file, or - for stdin.
        input: Option<PathBuf>,
        #[arg(short, long)]
        output: Option<PathBuf>,
        #[arg(long, value_enum, default_value_t = LengthArg::Medium)]
        length: LengthArg,
        /// The summary as a bullet list, one sentence each.
        #[arg(long)]
        bullets: bool,
        #[arg(long, value_enum, default_value_t = FormatArg::Text)]
        format: FormatArg,
        #[arg(long)]
        force: bool,
    },
    /// List, download or locate models.
    Models {
        #[command(subcommand)]
        command: ModelsCommand,
    },
}

#[derive(Subcommand)]
enum ModelsCommand {
    /// Every model card, whether its file is present locally, and its size.
    List,
    /// Download a model from the Hugging Face Hub (honours HF_ENDPOINT, HF_HOME, HF_HUB_OFFLINE).
    Pull { name: String },
    /// Print the local path of a model's file.
    Path { name: String },
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

fn main() {
    let cli = Cli::parse();
    let verbose = cli.global.verbose;
    if let Err(e) = run(cli) {
        eprintln!("anuvad: error: {e}");
        if verbose > 0 {
            let mut source = std::error::Error::source(&e);
            while let Some(s) = source {
                eprintln!("  caused by: {s}");
                source = s.source();
            }
        }
        std::process::exit(e.exit_code());
    }
}

fn run(cli: Cli) -> Result<(), Error> {
    let g = cli.global;
    if let Some(n) = g.threads {
        // candle's CPU kernels size their thread pools from this variable; set it before
        // any of them starts.
        unsafe { std::env::set_var("RAYON_NUM_THREADS", n.max(1).to_string()) };
    }
    let model = ModelConfig {
        model: g.model,
        card: g.card,
        home: config::default_home(),
        threads: g.threads,
        max_new_tokens: g.max_new_tokens,
        sampling: Sampling {
            temperature: g.temperature,
            top_p: g.top_p,
            seed: g.seed,
        },
    };
    let progress_mode = match g.progress {
        ProgressArg::Auto => ProgressMode::Auto,
        ProgressArg::Bar => ProgressMode::Bar,
        ProgressArg::Plain => ProgressMode::Plain,
        ProgressArg::Json => ProgressMode::Json,
        ProgressArg::None => ProgressMode::None,
    };
    let mut progress = Reporter::new(progress_mode, g.quiet);
    let hubc = HubConfig::from_env();
    let fmt = |f: FormatArg| match f {
        FormatArg::Text => OutputFormat::Text,
        FormatArg::Json => OutputFormat::Json,
        FormatArg::Markdown => OutputFormat::Markdown,
    };
    match cli.command {
        Command::Translate {
            input,
            output,
            format,
            force,
        } => {
            let task = TaskConfig {
                force,
                ..TaskConfig::default()
            };
            let io = app::Io {
                input,
                output,
                format: fmt(format),
            };
            app::translate(&model, &task, &io, &hubc, &mut progress)
        }
        Command::Summarize {
            input,
            output,
            length,
            bullets,
            format,
            force,
        } => {
            let task = TaskConfig {
                force,
                bullets,
                summary_length: match length {
                    LengthArg::Short => SummaryLength::Short,
                    LengthArg::Medium => SummaryLength::Medium,
                    LengthArg::Long => SummaryLength::Long,
                },
            };
            let io = app::Io {
                input,
                output,
                format: fmt(format),
            };
            app::summarize(&model, &task, &io, &hubc, &mut progress)
        }
        Command::Models { command } => match command {
            ModelsCommand::List => {
                print!("{}", app::models_list(&model.home, &hubc)?);
                Ok(())
            }
            ModelsCommand::Pull { name } => {
                let path = app::models_pull(&name, &model.home, &hubc, &mut progress)?;
                println!("{}", path.display());
                Ok(())
            }
            ModelsCommand::Path { name } => {
                println!("{}", app::models_path(&name, &model.home, &hubc)?.display());
                Ok(())
            }
        },
    }
}
