//! `baton-bench`: runs the reference workloads and prints one JSON line per
//! run on stdout (diagnostics go to stderr).
//!
//! Every run happens in a child process of its own (this executable again,
//! with the hidden `--child` flag), so each line's peak RSS is that run's
//! alone rather than the high-water mark of everything run before it.

use std::io::{self, Write};
use std::num::NonZeroUsize;
use std::path::Path;
use std::process::{Command, ExitCode, Stdio};
use std::thread;

use anyhow::{bail, ensure, Context, Result};
use baton_bench::report::RunReport;
use baton_bench::run::{run_once, Implementation, RunSpec};
use baton_bench::workload::Workload;
use clap::{Parser, ValueEnum};

/// Runs the reference pipeline workloads (shared/bench/WORKLOADS.md) on
/// baton and on a sequential baseline, printing one JSON line per run.
#[derive(Debug, Parser)]
#[command(name = "baton-bench", version)]
struct Cli {
    /// Workload to run.
    #[arg(long, value_enum, ignore_case = true, default_value_t = WorkloadChoice::All)]
    workload: WorkloadChoice,

    /// Implementation to run it on.
    #[arg(long = "impl", value_name = "IMPL", value_enum, ignore_case = true, default_value_t = ImplChoice::Baton)]
    implementation: ImplChoice,

    /// Number of items, for every selected workload [default: the workload's N].
    #[arg(long = "n", value_name = "N", value_parser = clap::value_parser!(u64).range(1..))]
    items: Option<u64>,

    /// Cores the run may use: baton's worker threads and parallel replicas
    /// [default: available parallelism].
    #[arg(long, value_name = "P")]
    threads: Option<NonZeroUsize>,

    /// Times to repeat each (workload, impl) run; one JSON line per run.
    #[arg(long, value_name = "K", default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..))]
    runs: u32,

    /// Run exactly one run in this process (used by the parent process).
    #[arg(long, hide = true)]
    child: bool,
}

/// The `--workload` values: one workload, or all of them in order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum WorkloadChoice {
    #[value(name = "W1")]
    W1,
    #[value(name = "W2")]
    W2,
    #[value(name = "W3")]
    W3,
    #[value(name = "W4")]
    W4,
    #[value(name = "W5")]
    W5,
    #[value(name = "W6")]
    W6,
    #[value(name = "W7")]
    W7,
    All,
}

impl WorkloadChoice {
    fn workloads(self) -> Vec<Workload> {
        match self {
            WorkloadChoice::W1 => vec![Workload::W1],
            WorkloadChoice::W2 => vec![Workload::W2],
            WorkloadChoice::W3 => vec![Workload::W3],
            WorkloadChoice::W4 => vec![Workload::W4],
            WorkloadChoice::W5 => vec![Workload::W5],
            WorkloadChoice::W6 => vec![Workload::W6],
            WorkloadChoice::W7 => vec![Workload::W7],
            WorkloadChoice::All => Workload::ALL.to_vec(),
        }
    }
}

/// The `--impl` values: one implementation, or both.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum ImplChoice {
    Baton,
    Sequential,
    All,
}

impl ImplChoice {
    fn implementations(self) -> Vec<Implementation> {
        match self {
            ImplChoice::Baton => vec![Implementation::Baton],
            ImplChoice::Sequential => vec![Implementation::Sequential],
            ImplChoice::All => vec![Implementation::Sequential, Implementation::Baton],
        }
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    // The error chain on one line, without the backtrace that returning it
    // from main would print whenever RUST_BACKTRACE is set.
    match run(&cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("baton-bench: error: {error:#}");
            ExitCode::FAILURE
        }
    }
}

/// Runs what the command line asks for, as the parent or as a child.
fn run(cli: &Cli) -> Result<()> {
    let cores = match cli.threads {
        Some(threads) => threads.get(),
        None => thread::available_parallelism()
            .context("finding the number of cores; pass --threads")?
            .get(),
    };
    if cli.child {
        run_child(cli, cores)
    } else {
        run_parent(cli, cores)
    }
}

/// Child side: run the one requested run and print its JSON line.
fn run_child(cli: &Cli, cores: usize) -> Result<()> {
    let (workload, implementation) = match (
        cli.workload.workloads().as_slice(),
        cli.implementation.implementations().as_slice(),
    ) {
        (&[workload], &[implementation]) => (workload, implementation),
        _ => bail!("--child runs one workload on one implementation, not `all`"),
    };
    let items = cli.items.unwrap_or(workload.default_items());
    let spec = RunSpec {
        workload,
        implementation,
        items,
        cores,
    };
    // The error already names the workload and the implementation.
    let report = run_once(spec)?;
    let line = report
        .to_json_line()
        .context("serialising the run's report")?;
    let mut stdout = io::stdout().lock();
    writeln!(stdout, "{line}").context("writing the report to stdout")?;
    stdout.flush().context("writing the report to stdout")
}

/// Parent side: run every requested run in a child process of its own and
/// relay each child's JSON line. A failed run does not stop the others; the
/// process fails at the end if any did.
fn run_parent(cli: &Cli, cores: usize) -> Result<()> {
    let exe = std::env::current_exe().context("locating this executable to re-run it per run")?;
    let mut failed = Vec::new();
    let mut total = 0;
    for workload in cli.workload.workloads() {
        let items = cli.items.unwrap_or(workload.default_items());
        for implementation in cli.implementation.implementations() {
            for run in 1..=cli.runs {
                total += 1;
                let label = format!("{workload} {implementation} run {run}/{}", cli.runs);
                eprintln!("baton-bench: {label} (n = {items}, p = {cores})");
                let spec = RunSpec {
                    workload,
                    implementation,
                    items,
                    cores,
                };
                match run_in_child(&exe, spec) {
                    Ok(line) => {
                        let mut stdout = io::stdout().lock();
                        writeln!(stdout, "{line}").context("writing a report to stdout")?;
                        stdout.flush().context("writing a report to stdout")?;
                    }
                    Err(error) => {
                        eprintln!("baton-bench: error: {label}: {error:#}");
                        failed.push(label);
                    }
                }
            }
        }
    }
    if !failed.is_empty() {
        bail!(
            "{} of {total} runs failed: {}",
            failed.len(),
            failed.join(", ")
        );
    }
    Ok(())
}

/// Runs `spec` in a fresh process of this executable and returns the JSON
/// line it printed, after checking that it is a well-formed report.
fn run_in_child(exe: &Path, spec: RunSpec) -> Result<String> {
    let output = Command::new(exe)
        .arg("--child")
        .args(["--workload", spec.workload.id()])
        .args(["--impl", spec.implementation.name()])
        .args(["--n", &spec.items.to_string()])
        .args(["--threads", &spec.cores.to_string()])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .output()
        .with_context(|| format!("starting {}", exe.display()))?;
    ensure!(
        output.status.success(),
        "the run's process failed ({}); its error is printed above",
        output.status
    );
    let stdout = String::from_utf8(output.stdout).context("the run printed non-UTF-8 output")?;
    let line = stdout.trim();
    ensure!(
        !line.is_empty() && !line.contains('\n'),
        "the run printed {:?} instead of one JSON line",
        stdout
    );
    let report: RunReport = serde_json::from_str(line)
        .with_context(|| format!("the run printed a malformed report: {line}"))?;
    ensure!(
        report.workload == spec.workload && report.implementation == spec.implementation,
        "the run reported {} {} instead of {} {}",
        report.workload,
        report.implementation,
        spec.workload,
        spec.implementation
    );
    Ok(line.to_owned())
}
