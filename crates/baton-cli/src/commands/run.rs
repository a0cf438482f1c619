//! `baton run FILE`: runs a pipeline file, shows it live, reports at the end.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::thread;
use std::time::{Duration, Instant};

use anyhow::Context;
use baton_config::{DeadLetterFiles, Plan, RunOptions};
use baton_engine::{PipelineError, PipelineHandle, RunReport};
use baton_ops::{Moment, Warnings};

use super::BadArgument;
use baton_live::{Live, Notices, View};

/// Arguments of `baton run`.
#[derive(Debug, clap::Args)]
pub(crate) struct RunArgs {
    /// The pipeline file.
    file: PathBuf,
    /// Sets a stage's replicas: `--replicas parse=8`, or `--replicas
    /// fetch=auto` to have them tuned while it runs (repeatable).
    #[arg(long = "replicas", value_name = "STAGE=N|auto")]
    replicas: Vec<String>,
    /// Bounds the queue in front of a stage: `--buffer write=64`, or
    /// `--buffer write=auto` for the tuner to size it (repeatable).
    #[arg(long = "buffer", value_name = "STAGE=N|auto")]
    buffer: Vec<String>,
    /// CPU worker threads (default: the file's, else one per core).
    #[arg(long, value_parser = clap::builder::RangedU64ValueParser::<usize>::new().range(1..))]
    threads: Option<usize>,
    /// Cores the tuner may fill with `replicas = "auto"` stages (default:
    /// the file's `cpu_budget`, else the worker threads). Leave room for
    /// whatever else runs beside the pipeline.
    #[arg(long, value_name = "CORES", value_parser = clap::builder::RangedU64ValueParser::<usize>::new().range(1..))]
    cpu_budget: Option<usize>,
    /// The most memory the process may hold, as "4 GiB", "512 MB" or
    /// bytes, or "off" (default: the file's `memory_budget`, else three
    /// quarters of the machine's memory). Past it the run holds fewer items
    /// in flight.
    #[arg(long, value_name = "SIZE|off")]
    memory_budget: Option<baton_config::MemoryBudget>,
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
    /// After the run, says why the tuner chose each `replicas = "auto"`
    /// stage's replicas (from its last measurements).
    #[arg(long)]
    explain_tuning: bool,
    /// After the run, predicts from its measurements the throughput with
    /// other replicas, and what would limit it: `--what-if
    /// 'decode.replicas=8'`, several changes comma-separated, the flag
    /// repeatable (one prediction each).
    #[arg(long = "what-if", value_name = "STAGE.replicas=N,...")]
    what_if: Vec<String>,
    #[command(flatten)]
    distributed: super::distributed::DriverArgs,
}

/// Reads `STAGE=N`.
fn parse_override(text: &str, what: &str) -> Result<(String, usize), BadArgument> {
    let (stage, n) = text
        .split_once('=')
        .ok_or_else(|| BadArgument(format!("--{what} takes STAGE=N, not `{text}`")))?;
    let n: usize = n
        .trim()
        .parse()
        .map_err(|e| BadArgument(format!("--{what} {text}: `{n}` is not a whole number: {e}")))?;
    Ok((stage.trim().to_string(), n))
}

/// `STAGE=N` or `STAGE=auto` (`--replicas`, `--buffer`): the stage, and
/// the count (`None` for auto).
fn parse_count_or_auto(text: &str, what: &str) -> Result<(String, Option<usize>), BadArgument> {
    match text.split_once('=') {
        Some((name, value)) if value.trim() == "auto" => Ok((name.trim().to_string(), None)),
        _ => parse_override(text, what).map(|(name, n)| (name, Some(n))),
    }
}

/// One `--what-if`: the replica counts it sets, by stage name.
fn parse_what_if(text: &str, plan: &mut Plan) -> Result<Vec<(String, usize)>, BadArgument> {
    text.split(',')
        .map(|change| {
            let bad = |why: &str| BadArgument(format!("--what-if {text}: `{change}` {why}"));
            let (key, n) = change
                .split_once('=')
                .ok_or_else(|| bad("is not STAGE.replicas=N"))?;
            let stage = key
                .trim()
                .strip_suffix(".replicas")
                .ok_or_else(|| bad("changes something else than a stage's replicas"))?;
            let n: usize = n
                .trim()
                .parse()
                .ok()
                .filter(|&n| n > 0)
                .ok_or_else(|| bad("needs a whole number of replicas, at least 1"))?;
            let planned = plan.stage_mut(stage).map_err(BadArgument)?;
            if planned.mode != baton_engine::ModeKind::Parallel {
                return Err(bad(&format!(
                    "names a {} stage, which has one replica",
                    planned.mode.as_str()
                )));
            }
            Ok((stage.to_string(), n))
        })
        .collect()
}

/// The `--what-if` predictions, after the run's summary.
fn print_what_ifs(report: &baton_engine::RunReport, scenarios: &[(String, Vec<(String, usize)>)]) {
    for (text, changes) in scenarios {
        let changes: Vec<(&str, usize)> = changes.iter().map(|(s, n)| (s.as_str(), *n)).collect();
        match report.stats.what_if(&changes) {
            Ok(then) => eprintln!("what if {text}: {then}"),
            Err(why) => eprintln!("what if {text}: no prediction: {why}"),
        }
    }
}

/// Applies `--replicas` and `--buffer` to the plan, refusing the first bad one.
fn apply_overrides(plan: &mut Plan, args: &RunArgs) -> Result<(), BadArgument> {
    for text in &args.replicas {
        let (name, n) = parse_count_or_auto(text, "replicas")?;
        let stage = plan.stage_mut(&name).map_err(BadArgument)?;
        if n == Some(0) {
            return Err(BadArgument(format!(
                "--replicas {text}: a stage needs at least 1 replica"
            )));
        }
        if stage.mode != baton_engine::ModeKind::Parallel {
            return Err(BadArgument(format!(
                "--replicas {text}: stage `{name}` is {}, so it has one replica; set `mode = \"parallel\"` in the file",
                stage.mode.as_str()
            )));
        }
        stage.auto_replicas = n.is_none();
        stage.replicas = n;
    }
    for text in &args.buffer {
        let (name, n) = parse_count_or_auto(text, "buffer")?;
        let stage = plan.stage_mut(&name).map_err(BadArgument)?;
        if n == Some(0) {
            return Err(BadArgument(format!(
                "--buffer {text}: a stage's buffer holds at least 1 item"
            )));
        }
        stage.auto_buffer = n.is_none();
        stage.buffer = n;
    }
    Ok(())
}

pub(crate) fn run(args: RunArgs) -> anyhow::Result<ExitCode> {
    let plan = match super::read_plan(&args.file) {
        Ok(plan) => plan,
        Err(problems) => {
            eprint!("{problems}");
            return Ok(ExitCode::from(super::BAD_FILE));
        }
    };
    let mut built = match plan.build() {
        Ok(built) => built,
        Err(problems) => {
            eprint!("{problems}");
            return Ok(ExitCode::from(super::BAD_FILE));
        }
    };
    // After the build, which may add stages (a source's `.parse`).
    apply_overrides(&mut built.plan, &args)?;
    let mut what_ifs = Vec::new();
    for text in &args.what_if {
        what_ifs.push((text.clone(), parse_what_if(text, &mut built.plan)?));
    }
    if args.dry_run {
        // The plan as it would run, with the stages the build placed.
        print!(
            "{}",
            describe_plan(&built.plan, args.threads, args.cpu_budget)
        );
        return Ok(ExitCode::SUCCESS);
    }
    let driver = match &args.distributed.nats {
        None => None,
        Some(_) => {
            if let Err(problems) = built.check_remote() {
                eprint!("{problems}");
                return Ok(ExitCode::from(super::BAD_FILE));
            }
            Some(super::distributed::Driver::start(
                &mut built,
                &args.distributed,
            )?)
        }
    };
    if let Some(driver) = &driver {
        if !args.quiet {
            let workers = driver.workers();
            for (stage, remote) in &driver.segments {
                let serving = workers.iter().filter(|w| remote.contains(&w.stage)).count();
                eprintln!(
                    "run `{}`: stage `{stage}` runs on the workers of {} ({serving} serving now{})",
                    driver.run(),
                    remote.join(", "),
                    if serving == 0 {
                        "; start them with `baton worker --nats URL FILE --stage NAME`"
                    } else {
                        ""
                    }
                );
            }
        }
    }
    let total = built.source_len;
    let options = RunOptions {
        trace: args.trace.is_some() || args.report.is_some(),
        threads: args.threads,
        cpu_budget: args.cpu_budget,
        memory_budget: args.memory_budget,
    };
    let started = built.start(&options).map_err(|e| {
        // The engine's own error already says it could not start.
        match e.downcast::<PipelineError>() {
            Ok(engine) => anyhow::Error::new(*engine),
            Err(other) => anyhow::anyhow!("cannot start the pipeline: {other}"),
        }
    })?;
    let handle = started.handle.handle();
    let notices = super::notices().clone();
    {
        // Records printed by a `stdout` sink land between redraws of the bars.
        let notices = notices.clone();
        baton_ops::around_stdout_writes(move |write| notices.around(write));
    }
    let dead_letters = started.dead_letters();
    let interrupts = Arc::new(Interrupts::new(
        handle.clone(),
        notices.clone(),
        dead_letters.clone(),
    ));
    {
        let interrupts = Arc::clone(&interrupts);
        let _ = ctrlc::set_handler(move || interrupts.interrupt());
    }
    let warnings = started.warnings();
    let board = driver.as_ref().map(|d| d.watch(&args.file));
    let worker_lines = || board.as_ref().map(|b| b.lines()).unwrap_or_default();
    // The warnings the stages give while the run goes, each once (the
    // summary gives them again as they stand at the end).
    let mut shown = Vec::new();
    let mut news = || {
        let mut fresh = Vec::new();
        for warning in warnings.read(baton_ops::Moment::Running) {
            if !shown.contains(&warning) {
                fresh.push(format!("warning: {warning}"));
                shown.push(warning);
            }
        }
        fresh
    };
    let mut live = Live::new(View::choose(args.quiet))
        .notices(notices.clone())
        .news(&mut news)
        .extra(&worker_lines);
    if let Some(items) = total {
        live = live.total(items);
    }
    live.watch(&handle);
    let name = started.plan.name.clone();
    let result = started.handle.join();
    // The last handles go: the pipeline is dropped with its stages'
    // replicas, so `exec` workers are ended now, not left to outlive baton.
    interrupts.release();
    drop(handle);
    let mut workers = Vec::new();
    if let Some(driver) = driver {
        workers = driver.final_workers();
        driver.finish()?;
    }
    match result {
        Ok(report) => {
            if !args.quiet {
                eprint!("{report}");
                print_workers(&workers, report.stats.elapsed.as_secs_f64());
                print_remote_advice(&report, &workers, args.distributed.in_flight);
            }
            print_dead_letters(&dead_letters);
            print_warnings(&warnings);
            if args.explain_tuning {
                print_tuning(&report);
            }
            if let Some(why) = &report.stats.memory.lowered {
                eprintln!("memory: held back to {why}");
            }
            print_what_ifs(&report, &what_ifs);
            write_reports(&name, &report, workers, &args)?;
            if interrupts.stopped() {
                // The shell's convention for a program that ends on SIGINT:
                // a script (`baton run prepare.toml && train`) stops here
                // instead of going on with outputs that hold only a part.
                eprintln!(
                    "stopped by Ctrl-C: the source gave {} items before it stopped, and the run finished them (exit code 130)",
                    report.stats.source.items
                );
                return Ok(ExitCode::from(super::STOPPED));
            }
            Ok(ExitCode::SUCCESS)
        }
        Err(PipelineError::Aborted) => {
            eprintln!("aborted");
            print_dead_letters(&dead_letters);
            print_warnings(&warnings);
            Ok(ExitCode::from(super::ABORTED))
        }
        Err(error) => {
            eprintln!("error: the pipeline failed: {error}");
            print_dead_letters(&dead_letters);
            print_warnings(&warnings);
            Ok(ExitCode::from(super::FAILED))
        }
    }
}

/// How long the run may take to end after the second Ctrl-C before baton
/// exits without waiting for it.
const ABORT_GRACE: Duration = Duration::from_secs(1);

/// What Ctrl-C does: the first stops the source and drains, the second
/// aborts and, should the run not end within [`ABORT_GRACE`] (a stage
/// stuck in code that does not watch for the abort), exits with code 130
/// anyway.
#[derive(Debug)]
struct Interrupts {
    /// The run's handle while it runs (the handler lives on after the run,
    /// and must not keep the pipeline alive).
    handle: Mutex<Option<PipelineHandle>>,
    count: AtomicUsize,
    /// Where the messages go (above the live view's bars, if it draws them).
    notices: Notices,
    /// Said on a forced exit: where the skipped items went.
    dead_letters: DeadLetterFiles,
}

impl Interrupts {
    fn new(handle: PipelineHandle, notices: Notices, dead_letters: DeadLetterFiles) -> Self {
        Self {
            handle: Mutex::new(Some(handle)),
            count: AtomicUsize::new(0),
            notices,
            dead_letters,
        }
    }

    fn handle(&self) -> Option<PipelineHandle> {
        self.handle
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// Whether Ctrl-C stopped the run (it drained what was in flight).
    fn stopped(&self) -> bool {
        self.count.load(Ordering::SeqCst) > 0
    }

    /// The run is over: Ctrl-C no longer acts on it.
    fn release(&self) {
        self.handle
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
    }

    fn interrupt(&self) {
        let Some(handle) = self.handle() else {
            return;
        };
        if self.count.fetch_add(1, Ordering::SeqCst) == 0 {
            self.notices
                .print("stopping: finishing the items in flight (Ctrl-C again to abort)");
            handle.stop();
            return;
        }
        // The abort drops the stages' idle replicas, which may wait for their
        // workers to exit: on a thread of its own, so the grace runs from now.
        let aborting = handle.clone();
        let spawned = thread::Builder::new()
            .name("baton-abort".into())
            .spawn(move || aborting.abort());
        if spawned.is_err() {
            handle.abort();
        }
        let deadline = Instant::now() + ABORT_GRACE;
        while Instant::now() < deadline {
            if self.handle().is_none() {
                // The run has ended: the main thread reports it.
                return;
            }
            thread::sleep(Duration::from_millis(10));
        }
        let stats = handle.stats();
        let (reached, stage) = stats.stages.last().map_or_else(
            || (stats.source.items, stats.source.name.clone()),
            |last| (last.items_in, last.name.clone()),
        );
        self.notices.print_last(&format!(
            "aborted: the run did not end within {} s of the second Ctrl-C, so baton exits without waiting for it ({reached} items had reached `{stage}`)",
            ABORT_GRACE.as_secs()
        ));
        // Every letter is already on disk (they are written as they come).
        print_dead_letters(&self.dead_letters);
        std::process::exit(130);
    }
}

/// Writes the trace, report and stats files asked for.
fn write_reports(
    name: &str,
    report: &RunReport,
    workers: Vec<baton_report::WorkerSummary>,
    args: &RunArgs,
) -> anyhow::Result<()> {
    let mut trace = baton_report::TraceFile::from_report(name, report);
    trace.baton.workers = workers;
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

/// Why the tuner chose what it did, stage by stage (`--explain-tuning`).
fn print_tuning(report: &baton_engine::RunReport) {
    let tuned: Vec<_> = report
        .stats
        .stages
        .iter()
        .filter_map(|s| Some((&s.name, s.tuning.as_ref()?)))
        .collect();
    let buffers_tuned = report
        .stats
        .stages
        .iter()
        .any(|s| s.buffer_tuning.is_some());
    if tuned.is_empty() && !buffers_tuned {
        eprintln!("tuning: no stage has replicas = \"auto\"; set it (or --replicas STAGE=auto) to have them tuned");
    }
    for (name, why) in tuned {
        eprintln!("tuning: stage `{name}`: {why}");
    }
    for stage in &report.stats.stages {
        if let Some(why) = &stage.buffer_tuning {
            eprintln!("tuning: stage `{}` buffer: {why}", stage.name);
        }
    }
    let memory = &report.stats.memory;
    let budget = match memory.budget {
        Some(bytes) => baton_config::MemoryBudget::Bytes(bytes).to_string(),
        None => "off".to_string(),
    };
    eprintln!(
        "tuning: memory budget {budget}; the process held {} at most; {} items in flight allowed at the end",
        baton_config::MemoryBudget::Bytes(memory.peak_rss.max(1)),
        memory.max_in_flight
    );
}

/// The worker processes of a distributed run, after its summary.
fn print_workers(workers: &[baton_report::WorkerSummary], elapsed_s: f64) {
    if workers.is_empty() {
        return;
    }
    let width = workers
        .iter()
        .map(|w| w.stage.len())
        .max()
        .unwrap_or(0)
        .max(5);
    eprintln!(
        "remote workers:\n  {:<width$}  {:<24} {:>8} {:>12} {:>9} {:>6} {:>7} {:>12}",
        "stage", "host:pid", "replicas", "items", "messages", "busy", "retried", "dead letters"
    );
    for w in workers {
        eprintln!(
            "  {:<width$}  {:<24} {:>8} {:>12} {:>9} {:>5.0}% {:>7} {:>12}{}",
            w.stage,
            format!("{}:{}", w.host, w.pid),
            w.replicas,
            w.items,
            w.messages,
            w.utilisation(elapsed_s) * 100.0,
            w.retries,
            w.dead_letters,
            if w.stopped { "  (stopped)" } else { "" }
        );
    }
}

/// When remote stages limit a distributed run, what to change: more
/// workers if theirs are busy, more items in flight to them if not.
fn print_remote_advice(
    report: &RunReport,
    workers: &[baton_report::WorkerSummary],
    in_flight: usize,
) {
    let Some(bottleneck) = report.stats.bottleneck() else {
        return;
    };
    let serving: Vec<&baton_report::WorkerSummary> = workers
        .iter()
        .filter(|w| w.serves == bottleneck.stage)
        .collect();
    if serving.is_empty() {
        return;
    }
    let elapsed = report.stats.elapsed.as_secs_f64();
    let busy = serving
        .iter()
        .map(|w| w.utilisation(elapsed))
        .fold(0.0, f64::max);
    let stages: Vec<&str> = {
        let mut stages: Vec<&str> = serving.iter().map(|w| w.stage.as_str()).collect();
        stages.dedup();
        stages
    };
    if busy >= 0.7 {
        let flags: Vec<String> = stages.iter().map(|s| format!("--stage {s}")).collect();
        eprintln!(
            "the remote stages are the bottleneck and their workers were busy (up to {:.0}%): start more workers (`baton worker FILE --nats URL {}`) or give them more replicas",
            busy * 100.0,
            flags.join(" ")
        );
    } else {
        eprintln!(
            "the remote stages are the bottleneck but their busiest worker was busy only {:.0}% of the run: more items in flight would keep them busier (`--in-flight`, now {in_flight} chunks; `window` in `[nats]`)",
            busy * 100.0
        );
    }
}

/// How many items each stage skipped, and where they went.
fn print_dead_letters(dead_letters: &DeadLetterFiles) {
    for line in dead_letters.summary() {
        eprintln!("{line}");
    }
}

/// The run's warnings as they stand at its end, after its summary.
fn print_warnings(warnings: &Warnings) {
    for warning in warnings.read(Moment::Ended) {
        eprintln!("warning: {warning}");
    }
}

pub(crate) fn describe_plan(
    plan: &Plan,
    threads: Option<usize>,
    cpu_budget: Option<usize>,
) -> String {
    let threads = threads
        .or(plan.threads)
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()));
    let tuned = plan.stages.iter().any(|s| s.auto_replicas);
    let budget = match cpu_budget.or(plan.cpu_budget).unwrap_or(threads) {
        _ if !tuned => String::new(),
        1 => ", the tuner fills 1 core".to_string(),
        cores => format!(", the tuner fills {cores} cores"),
    };
    let mut text = format!(
        "pipeline `{}` ({}), {threads} threads{budget}\n",
        plan.name,
        plan.file.display()
    );
    for (i, stage) in plan.stages.iter().enumerate() {
        let replicas = match stage.mode {
            baton_engine::ModeKind::Parallel if stage.auto_replicas => " x auto".to_string(),
            baton_engine::ModeKind::Parallel => {
                format!(" x{}", stage.engine_mode(threads).replicas())
            }
            _ => String::new(),
        };
        text.push_str(&format!(
            "{:>2}. {:<14} op={:<14} {}{}{}{}{}{}\n",
            i + 1,
            stage.name,
            stage.op.name,
            stage.mode.as_str(),
            replicas,
            if stage.placement == baton_config::Placement::Remote {
                " remote (on workers with --nats)"
            } else {
                ""
            },
            if stage.blocking { " blocking" } else { "" },
            match (stage.auto_buffer, stage.buffer) {
                (true, _) => " buffer=auto".to_string(),
                (false, Some(b)) => format!(" buffer={b}"),
                (false, None) => String::new(),
            },
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
        for note in &stage.notes {
            text.push_str(&format!("      # {note}\n"));
        }
    }
    text
}
