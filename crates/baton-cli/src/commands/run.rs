//! `baton run FILE`: runs a pipeline file, shows it live, reports at the end.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use anyhow::Context;
use baton_config::{Plan, RunOptions};
use baton_engine::{PipelineError, RunReport};
use baton_ops::{Moment, Warnings};

use crate::live::{self, View};

/// Arguments of `baton run`.
#[derive(Debug, clap::Args)]
pub(crate) struct RunArgs {
    /// The pipeline file.
    file: PathBuf,
    /// Sets a stage's replicas: `--replicas parse=8` (repeatable).
    #[arg(long = "replicas", value_name = "STAGE=N")]
    replicas: Vec<String>,
    /// Bounds the queue in front of a stage: `--buffer write=64` (repeatable).
    #[arg(long = "buffer", value_name = "STAGE=N")]
    buffer: Vec<String>,
    /// CPU worker threads (default: the file's, else one per core).
    #[arg(long)]
    threads: Option<usize>,
    /// Prints the plan and stops.
    #[arg(long)]
    dry_run: bool,
    /// Writes a Chrome trace (opens in Perfetto and chrome://tracing).
    #[arg(long, value_name = "FILE.json")]
    trace: Option<PathBuf>,
    /// Writes a self-contained HTML report.
    #[arg(long, value_name = "FILE.html")]
    report: Option<PathBuf>,
    /// Writes the end-of-run stats as JSON.
    #[arg(long, value_name = "FILE.json")]
    stats: Option<PathBuf>,
    /// Shows nothing while running.
    #[arg(long, short)]
    quiet: bool,
}

fn parse_override(text: &str, what: &str) -> anyhow::Result<(String, usize)> {
    let (stage, n) = text
        .split_once('=')
        .with_context(|| format!("--{what} takes STAGE=N, not `{text}`"))?;
    let n: usize = n
        .trim()
        .parse()
        .with_context(|| format!("--{what} {text}: `{n}` is not a whole number"))?;
    Ok((stage.trim().to_string(), n))
}

pub(crate) fn run(args: RunArgs) -> anyhow::Result<ExitCode> {
    let mut plan = match Plan::read(&args.file) {
        Ok(plan) => plan,
        Err(problems) => {
            eprint!("{problems}");
            return Ok(ExitCode::from(super::BAD_FILE));
        }
    };
    for text in &args.replicas {
        let (name, n) = parse_override(text, "replicas")?;
        let stage = plan.stage_mut(&name).map_err(anyhow::Error::msg)?;
        anyhow::ensure!(
            n >= 1,
            "--replicas {text}: a stage needs at least 1 replica"
        );
        anyhow::ensure!(
            stage.mode == baton_engine::ModeKind::Parallel,
            "--replicas {text}: stage `{name}` is {}, so it has one replica; set `mode = \"parallel\"` in the file",
            stage.mode.as_str()
        );
        stage.replicas = n;
    }
    for text in &args.buffer {
        let (name, n) = parse_override(text, "buffer")?;
        plan.stage_mut(&name).map_err(anyhow::Error::msg)?.buffer = Some(n);
    }
    if args.dry_run {
        print!("{}", describe_plan(&plan, args.threads));
        return Ok(ExitCode::SUCCESS);
    }
    let built = match plan.build() {
        Ok(built) => built,
        Err(problems) => {
            eprint!("{problems}");
            return Ok(ExitCode::from(super::BAD_FILE));
        }
    };
    let total = built.source_len;
    let options = RunOptions {
        trace: args.trace.is_some() || args.report.is_some(),
        threads: args.threads,
    };
    let started = built
        .start(&options)
        .map_err(|e| anyhow::anyhow!("cannot start the pipeline: {e}"))?;
    let handle = started.handle.handle();
    let interrupts = Arc::new(AtomicUsize::new(0));
    {
        let handle = handle.clone();
        let interrupts = Arc::clone(&interrupts);
        // First Ctrl-C: stop the source and drain; second: abort.
        let _ = ctrlc::set_handler(move || {
            if interrupts.fetch_add(1, Ordering::SeqCst) == 0 {
                eprintln!("\nstopping: finishing the items in flight (Ctrl-C again to abort)");
                handle.stop();
            } else {
                handle.abort();
            }
        });
    }
    let warnings = started.warnings();
    live::watch(&handle, View::choose(args.quiet), total, &warnings);
    let dead_letter_files = started.dead_letter_files();
    let name = started.plan.name.clone();
    let result = started.handle.join();
    match result {
        Ok(report) => {
            finish(&name, &report, &args, &dead_letter_files)?;
            print_warnings(&warnings);
            Ok(ExitCode::SUCCESS)
        }
        Err(PipelineError::Aborted) => {
            eprintln!("aborted");
            print_warnings(&warnings);
            Ok(ExitCode::from(130))
        }
        Err(error) => {
            eprintln!("error: the pipeline failed: {error}");
            print_warnings(&warnings);
            Ok(ExitCode::from(1))
        }
    }
}

fn finish(
    name: &str,
    report: &RunReport,
    args: &RunArgs,
    dead_letter_files: &[(String, Option<PathBuf>)],
) -> anyhow::Result<()> {
    if !args.quiet {
        eprint!("{report}");
    }
    let written = baton_config::write_dead_letters(dead_letter_files, &report.dead_letters)
        .context("cannot write the dead letters")?;
    for file in written {
        eprintln!("dead letters written to {}", file.display());
    }
    let skipped_unwritten = report.dead_letters.iter().filter(|l| {
        !dead_letter_files
            .iter()
            .any(|(stage, file)| stage == &l.stage && file.is_some())
    });
    for letter in skipped_unwritten.take(5) {
        eprintln!(
            "skipped item {} in `{}`: {}",
            letter.seq, letter.stage, letter.failure
        );
    }
    let trace = baton_report::TraceFile::from_report(name, report);
    if let Some(path) = &args.trace {
        trace
            .write(path)
            .with_context(|| format!("cannot write the trace to {}", path.display()))?;
        eprintln!("trace written to {}", path.display());
    }
    if let Some(path) = &args.report {
        std::fs::write(path, baton_report::render_html(&trace))
            .with_context(|| format!("cannot write the report to {}", path.display()))?;
        eprintln!("report written to {}", path.display());
    }
    if let Some(path) = &args.stats {
        let json = serde_json::to_string_pretty(&trace.baton).context("cannot encode the stats")?;
        std::fs::write(path, json + "\n")
            .with_context(|| format!("cannot write the stats to {}", path.display()))?;
        eprintln!("stats written to {}", path.display());
    }
    Ok(())
}

/// The run's warnings as they stand at its end, after its summary.
fn print_warnings(warnings: &Warnings) {
    for warning in warnings.read(Moment::Ended) {
        eprintln!("warning: {warning}");
    }
}

fn describe_plan(plan: &Plan, threads: Option<usize>) -> String {
    let threads = threads
        .or(plan.threads)
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()));
    let mut text = format!(
        "pipeline `{}` ({}), {threads} threads\n",
        plan.name,
        plan.file.display()
    );
    for (i, stage) in plan.stages.iter().enumerate() {
        let replicas = match stage.mode {
            baton_engine::ModeKind::Parallel if stage.replicas == 0 => format!(" x{threads}"),
            baton_engine::ModeKind::Parallel => format!(" x{}", stage.replicas),
            _ => String::new(),
        };
        text.push_str(&format!(
            "{:>2}. {:<14} op={:<14} {}{}{}{}{}\n",
            i + 1,
            stage.name,
            stage.op.name,
            stage.mode.as_str(),
            replicas,
            if stage.blocking { " blocking" } else { "" },
            stage
                .buffer
                .map(|b| format!(" buffer={b}"))
                .unwrap_or_default(),
            if stage.on_error == baton_engine::OnError::Fail {
                String::new()
            } else {
                format!(" on_error={}", stage.on_error)
            },
        ));
        for param in stage.op.params {
            if let Some(value) = stage.params.raw(param.name) {
                text.push_str(&format!("      {} = {}\n", param.name, value));
            }
        }
    }
    text
}
