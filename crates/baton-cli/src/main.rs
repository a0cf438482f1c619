//! `baton`: runs pipelines described in TOML files on the in-process engine.
//!
//! The binary only reads arguments and wires the libraries together:
//! `baton-config` reads and checks the file and builds it on the engine,
//! `baton-ops` holds the built-in stages, `baton-report` writes traces and
//! reports, `baton-live` shows a run while it goes.

#![forbid(unsafe_code)]

mod commands;
mod logging;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{CommandFactory, Parser, Subcommand};

/// mimalloc: record stages allocate and free buffers of a megabyte or more
/// per chunk, which the system allocator maps and unmaps each time (a page
/// fault per 4 KiB: on the flights query, as much system time as work).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// baton: pipelines of serial and parallel stages, overlapped, bounded, observable.
#[derive(Debug, Parser)]
#[command(name = "baton", version, about, long_about = None)]
struct Cli {
    /// Takes the `${VAR}` of pipeline files from this env file too
    /// (`KEY=value` lines; repeatable; the environment comes first).
    #[arg(long = "env-file", value_name = "FILE", global = true)]
    env_files: Vec<PathBuf>,
    /// Sets any key of a stage as if the file said so (`--set
    /// read.path=data/*.csv`, `--set parse.replicas=8`; the value is TOML,
    /// else a string), checked as the file is; repeatable, the last of a
    /// key wins. Give a distributed run's workers the same settings.
    #[arg(long = "set", value_name = "STAGE.KEY=VALUE", global = true)]
    settings: Vec<baton_config::Setting>,
    /// Shows more of what the libraries log (`-vv`: everything);
    /// `RUST_LOG` decides instead when it is set.
    #[arg(short, long, action = clap::ArgAction::Count, global = true)]
    verbose: u8,
    /// Colours in the live view: `auto` on a colour terminal unless
    /// `NO_COLOR` is set, `always`, or `never`.
    #[arg(long, value_enum, default_value_t = Color::Auto, global = true)]
    color: Color,
    #[command(subcommand)]
    command: Command,
}

/// When to draw in colour.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
enum Color {
    Auto,
    Always,
    Never,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Runs a pipeline file.
    Run(commands::run::RunArgs),
    /// Checks a pipeline file without running it.
    Check {
        /// The pipeline files (`-`: standard input).
        #[arg(required = true, value_name = "FILE")]
        files: Vec<PathBuf>,
        /// How to show the problems: `text` on stderr, or `json` on stdout
        /// (an array of objects with file, line, column, key, stage,
        /// message, help).
        #[arg(long, value_enum, default_value_t)]
        format: commands::check::Format,
    },
    /// Explains a pipeline file's plan: each stage's mode, replicas and
    /// thread, the bounds on memory, and what order each stage sees and
    /// why.
    Explain {
        /// The pipeline file (`-`: standard input).
        file: PathBuf,
    },
    /// Renders a saved trace (`baton run --trace`) as an HTML report.
    Report {
        /// The trace file.
        trace: PathBuf,
        /// Where to write the report.
        #[arg(short, long, default_value = "report.html")]
        output: PathBuf,
    },
    /// Serves replicas of a pipeline's remote stages for distributed runs
    /// (`baton run --nats`), until Ctrl-C.
    Worker(commands::distributed::WorkerArgs),
    /// Prints the completion script of a shell: `baton completions bash >
    /// ~/.local/share/bash-completion/completions/baton`.
    Completions {
        /// The shell.
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
    /// Prints the manual page (roff): `baton man >
    /// ~/.local/share/man/man1/baton.1`.
    Man,
    /// Lists the built-in stages and their parameters.
    Ops {
        /// Show only this op (a source and a sink may share the name: both),
        /// with a stage to start from and a worked example pipeline.
        name: Option<String>,
        /// `text` for people, or `json` (an array of ops with their modes
        /// and parameters) for editors and scripts.
        #[arg(long, value_enum, default_value_t)]
        format: commands::ops::Format,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    logging::init(cli.verbose);
    baton_live::use_colors(match cli.color {
        Color::Auto => None,
        Color::Always => Some(true),
        Color::Never => Some(false),
    });
    if let Err(error) = commands::take_file_options(&cli.env_files, cli.settings) {
        eprintln!("error: {error}");
        return ExitCode::from(commands::BAD_ARGUMENTS);
    }
    let result = match cli.command {
        Command::Run(args) => commands::run::run(args),
        Command::Check { files, format } => commands::check::check(&files, format),
        Command::Report { trace, output } => commands::report::report(&trace, &output),
        Command::Worker(args) => commands::distributed::worker(args),
        Command::Explain { file } => commands::explain::explain(&file),
        Command::Completions { shell } => {
            clap_complete::generate(shell, &mut Cli::command(), "baton", &mut std::io::stdout());
            Ok(ExitCode::SUCCESS)
        }
        Command::Man => commands::manual(Cli::command()),
        Command::Ops { name, format } => commands::ops::ops(name.as_deref(), format),
    };
    match result {
        Ok(code) => code,
        Err(error) => {
            eprintln!("error: {error:#}");
            ExitCode::from(if error.is::<commands::BadArgument>() {
                commands::BAD_ARGUMENTS
            } else {
                commands::FAILED
            })
        }
    }
}
