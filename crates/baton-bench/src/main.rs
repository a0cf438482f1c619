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
use baton_bench::baton::tuned_stages;
use baton_bench::report::RunReport;
use baton_bench::run::{run_once_reported, Implementation, RunSpec};
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

    /// Baton's replicas: as hand-set per workload (`hand`), every parallel
    /// stage on auto (`auto`, the impl `baton-auto`), or a sweep of one
    /// count for the workload's tuned stages (`baton-replicas-N`, N = 1,
    /// 2, 4, ... up to twice the cores for CPU stages, 256 for a blocking
    /// one), then auto, with the best of the sweep against auto on stderr.
    #[arg(long, value_enum, default_value_t = Tune::Hand)]
    tune: Tune,

    /// Times to repeat each (workload, impl) run; one JSON line per run.
    #[arg(long, value_name = "K", default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..))]
    runs: u32,

    /// With `--tune sweep`: every run of the sweep also predicts, from its
    /// own stats (`StatsSnapshot::what_if`), the items/s of every other
    /// count of the sweep; the predictions against the counts' measured
    /// medians go to stderr after the sweep.
    #[arg(long)]
    what_if: bool,

    /// Run exactly one run in this process (used by the parent process),
    /// on this implementation.
    #[arg(long, hide = true, value_name = "IMPL")]
    child: Option<Implementation>,
}

/// The `--tune` values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Tune {
    Hand,
    Auto,
    Sweep,
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
    /// The runs of `workload` to make, baton's as `tune` says.
    fn implementations(self, tune: Tune, workload: Workload, cores: usize) -> Vec<Implementation> {
        let baton = match tune {
            Tune::Hand => vec![Implementation::Baton],
            Tune::Auto => vec![Implementation::BatonAuto],
            Tune::Sweep => sweep(workload, cores)
                .into_iter()
                .map(Implementation::BatonReplicas)
                .chain([Implementation::BatonAuto])
                .collect(),
        };
        match self {
            ImplChoice::Baton => baton,
            ImplChoice::Sequential => vec![Implementation::Sequential],
            ImplChoice::All => [Implementation::Sequential]
                .into_iter()
                .chain(baton)
                .collect(),
        }
    }
}

/// The replica counts a sweep tries for `workload`'s tuned stages: powers
/// of two up to 256 for a blocking stage, up to twice the cores for CPU
/// stages (more replicas than workers cannot run at once).
fn sweep(workload: Workload, cores: usize) -> Vec<usize> {
    let most = match workload {
        Workload::W4 | Workload::W7 => 256,
        _ => 2 * cores,
    };
    std::iter::successors(Some(1usize), |n| Some(n * 2))
        .take_while(|&n| n <= most)
        .collect()
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
    if let Some(implementation) = cli.child {
        run_child(cli, implementation, cores)
    } else {
        run_parent(cli, cores)
    }
}

/// Child side: run the one requested run and print its JSON line.
fn run_child(cli: &Cli, implementation: Implementation, cores: usize) -> Result<()> {
    let workload = match cli.workload.workloads().as_slice() {
        &[workload] => workload,
        _ => bail!("--child runs one workload, not `all`"),
    };
    let items = cli.items.unwrap_or(workload.default_items());
    let spec = RunSpec {
        workload,
        implementation,
        items,
        cores,
    };
    // The error already names the workload and the implementation.
    let (report, engine) = run_once_reported(spec)?;
    let line = report
        .to_json_line()
        .context("serialising the run's report")?;
    let mut stdout = io::stdout().lock();
    writeln!(stdout, "{line}").context("writing the report to stdout")?;
    // The predictions, one line each after the report, for the parent.
    if let (true, Implementation::BatonReplicas(now), Some(engine)) =
        (cli.what_if, implementation, engine)
    {
        let stages = tuned_stages(workload, &engine);
        for count in sweep(workload, cores).into_iter().filter(|&c| c != now) {
            let changes: Vec<(&str, usize)> = stages.iter().map(|s| (s.as_str(), count)).collect();
            match engine.stats.what_if(&changes) {
                Ok(then) => writeln!(stdout, "{WHAT_IF} {count} {}", then.items_per_s),
                Err(why) => writeln!(stdout, "{WHAT_IF} {count} none {why}"),
            }
            .context("writing a prediction to stdout")?;
        }
    }
    stdout.flush().context("writing the report to stdout")
}

/// How a child's prediction line starts (after its report line).
const WHAT_IF: &str = "what-if";

/// A run's predictions: (replicas, items/s), or why there is none.
type Predictions = Vec<(usize, Result<f64, String>)>;

/// Parent side: run every requested run in a child process of its own and
/// relay each child's JSON line. A failed run does not stop the others; the
/// process fails at the end if any did.
fn run_parent(cli: &Cli, cores: usize) -> Result<()> {
    ensure!(
        !cli.what_if || cli.tune == Tune::Sweep,
        "--what-if predicts the other counts of a sweep: it needs --tune sweep"
    );
    let exe = std::env::current_exe().context("locating this executable to re-run it per run")?;
    let mut failed = Vec::new();
    let mut total = 0;
    for workload in cli.workload.workloads() {
        let items = cli.items.unwrap_or(workload.default_items());
        let mut rates: Vec<(Implementation, Vec<u64>)> = Vec::new();
        let mut predicted: Vec<(Implementation, Predictions)> = Vec::new();
        for implementation in cli
            .implementation
            .implementations(cli.tune, workload, cores)
        {
            let mut rate = Vec::new();
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
                match run_in_child(&exe, spec, cli.what_if) {
                    Ok((line, items_per_s, predictions)) => {
                        rate.push(items_per_s);
                        predicted.push((implementation, predictions));
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
            rates.push((implementation, rate));
        }
        if cli.tune == Tune::Sweep {
            eprintln!("baton-bench: {}", sweep_verdict(workload, &rates));
        }
        if cli.what_if {
            for line in what_if_verdict(workload, &rates, &predicted) {
                eprintln!("baton-bench: {line}");
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

/// The best setting of a sweep against auto, by median items/s.
fn sweep_verdict(workload: Workload, rates: &[(Implementation, Vec<u64>)]) -> String {
    let median = |rates: &[u64]| {
        let mut sorted = rates.to_vec();
        sorted.sort_unstable();
        sorted.get(sorted.len() / 2).copied()
    };
    let best = rates
        .iter()
        .filter(|(i, _)| matches!(i, Implementation::BatonReplicas(_)))
        .filter_map(|(i, r)| Some((*i, median(r)?)))
        .max_by_key(|&(_, rate)| rate);
    let auto = rates
        .iter()
        .find(|(i, _)| *i == Implementation::BatonAuto)
        .and_then(|(_, r)| median(r));
    match (best, auto) {
        (Some((best, best_rate)), Some(auto)) => format!(
            "{workload} sweep: best {best} at {best_rate} items/s; baton-auto {auto} items/s = {:.3} of it",
            auto as f64 / best_rate as f64
        ),
        _ => format!("{workload} sweep: no verdict (a run failed)"),
    }
}

/// Every prediction of a sweep's runs against the median measured at the
/// count it predicts, then how close they came: the share within 10% and
/// the median error.
fn what_if_verdict(
    workload: Workload,
    rates: &[(Implementation, Vec<u64>)],
    predicted: &[(Implementation, Predictions)],
) -> Vec<String> {
    let median = |values: &mut Vec<f64>| {
        values.sort_by(f64::total_cmp);
        values.get(values.len() / 2).copied()
    };
    let measured = |count: usize| {
        let (_, runs) = rates
            .iter()
            .find(|(i, _)| *i == Implementation::BatonReplicas(count))?;
        median(&mut runs.iter().map(|&r| r as f64).collect())
    };
    let mut lines = Vec::new();
    let mut errors = Vec::new();
    for (from, predictions) in predicted {
        for (count, prediction) in predictions {
            let Some(real) = measured(*count) else {
                continue;
            };
            match prediction {
                Ok(items_per_s) => {
                    let error = items_per_s / real - 1.0;
                    errors.push(error.abs());
                    lines.push(format!(
                        "{workload} what-if: {from} predicts {count} replicas at {items_per_s:.0} items/s; measured {real:.0} ({:+.1}%)",
                        100.0 * error
                    ));
                }
                Err(why) => lines.push(format!(
                    "{workload} what-if: {from} has no prediction for {count}: {why}"
                )),
            }
        }
    }
    let within = errors.iter().filter(|&&e| e <= 0.10).count();
    let total = errors.len();
    match median(&mut errors) {
        Some(typical) => lines.push(format!(
            "{workload} what-if: {within} of {total} predictions within 10% of the measured median; median error {:.1}%",
            100.0 * typical
        )),
        None => lines.push(format!("{workload} what-if: no predictions")),
    }
    lines
}

/// Runs `spec` in a fresh process of this executable and returns the JSON
/// line it printed, after checking that it is a well-formed report, with
/// its items/s and (when `what_if`) the predictions it made.
fn run_in_child(exe: &Path, spec: RunSpec, what_if: bool) -> Result<(String, u64, Predictions)> {
    let mut child = Command::new(exe);
    if what_if {
        child.arg("--what-if");
    }
    let output = child
        .args(["--child", &spec.implementation.name()])
        .args(["--workload", spec.workload.id()])
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
    let mut lines = stdout.trim().lines();
    let line = lines.next().unwrap_or_default();
    let mut predictions = Predictions::new();
    for prediction in lines {
        let mut words = prediction.splitn(3, ' ');
        let (Some(WHAT_IF), Some(count), Some(rate)) = (words.next(), words.next(), words.next())
        else {
            bail!("the run printed {stdout:?} instead of one JSON line and its predictions");
        };
        let count: usize = count
            .parse()
            .with_context(|| format!("a prediction for {count:?} replicas"))?;
        let rate = match rate.strip_prefix("none ") {
            Some(why) => Err(why.to_string()),
            None => Ok(rate
                .parse::<f64>()
                .with_context(|| format!("a predicted rate of {rate:?}"))?),
        };
        predictions.push((count, rate));
    }
    ensure!(
        !line.is_empty(),
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
    Ok((line.to_owned(), report.items_per_s, predictions))
}
