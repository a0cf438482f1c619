//! Distributed runs on NATS JetStream: `baton run --nats` (the driver) and
//! `baton worker` (replicas of remote stages).
//!
//! The driver runs the pipeline on its own engine as usual, with each run
//! of remote stages replaced by one stage that publishes its items to the
//! workers and collects what comes back (see `baton_nats::Remote`): the
//! live view, summary, stats, trace and report work as for a local run.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use baton_config::{Built, NatsTable, Plan, StreamStorage};
use baton_nats::{
    Auth, Boundary, ConnectOptions, HopOptions, Leftover, Remote, Secret, Settings, Storage, Tls,
    Topology, WorkerSpec,
};

use super::BadArgument;

/// Arguments of `baton worker`.
#[derive(Debug, clap::Args)]
pub(crate) struct WorkerArgs {
    /// The pipeline file (the same one the driver runs).
    file: PathBuf,
    /// The NATS server (else the file's `[nats] url`).
    #[arg(long, value_name = "URL")]
    nats: Option<String>,
    /// A remote stage to serve (repeatable).
    #[arg(long = "stage", value_name = "NAME", required = true)]
    stages: Vec<String>,
    /// Replicas of each stage in this process (default: the stage's
    /// `replicas`, else one per core).
    #[arg(long, value_parser = clap::builder::RangedU64ValueParser::<usize>::new().range(1..))]
    replicas: Option<usize>,
    /// The run to serve (default: the file's `[nats] run`, else the
    /// pipeline's name).
    #[arg(long, value_name = "NAME")]
    run: Option<String>,
    /// How long to wait for the driver to start the run.
    #[arg(long, value_name = "SECONDS", default_value_t = 3600)]
    wait: u64,
    #[command(flatten)]
    access: AccessArgs,
}

/// Credentials and TLS for the connection: from the command line, else
/// the environment (the `nats` tool's variables), else the file's `[nats]`
/// table. Secrets are never printed.
#[derive(Debug, Clone, Default, clap::Args)]
pub(crate) struct AccessArgs {
    /// The user to connect as (with a password).
    #[arg(long = "nats-user", env = "NATS_USER", value_name = "USER")]
    user: Option<String>,
    /// The user's password (better set in NATS_PASSWORD than on the
    /// command line, where other users of the machine can see it).
    #[arg(
        long = "nats-password",
        env = "NATS_PASSWORD",
        value_name = "PASSWORD",
        hide_env_values = true
    )]
    password: Option<String>,
    /// A token to connect with.
    #[arg(
        long = "nats-token",
        env = "NATS_TOKEN",
        value_name = "TOKEN",
        hide_env_values = true
    )]
    token: Option<String>,
    /// A file holding an NKey seed to connect with.
    #[arg(long = "nats-nkey", env = "NATS_NKEY", value_name = "FILE")]
    nkey: Option<PathBuf>,
    /// A credentials file (a user JWT and its seed, as `nsc` writes it).
    #[arg(long = "nats-creds", env = "NATS_CREDS", value_name = "FILE")]
    creds: Option<PathBuf>,
    /// A CA certificate to trust: the connection then requires TLS.
    #[arg(long = "tls-ca", env = "NATS_CA", value_name = "FILE")]
    tls_ca: Option<PathBuf>,
    /// A client certificate, for servers that verify clients.
    #[arg(
        long = "tls-cert",
        env = "NATS_CERT",
        value_name = "FILE",
        requires = "tls_key"
    )]
    tls_cert: Option<PathBuf>,
    /// The client certificate's key.
    #[arg(
        long = "tls-key",
        env = "NATS_KEY",
        value_name = "FILE",
        requires = "tls_cert"
    )]
    tls_key: Option<PathBuf>,
}

impl AccessArgs {
    /// The credentials: these arguments' (or the environment's), else the
    /// file's; two kinds at once are refused.
    fn auth(&self, nats: &NatsTable) -> Result<Auth, BadArgument> {
        let mut given = Vec::new();
        let user = self.user.clone().or_else(|| nats.user.clone());
        let password = self
            .password
            .clone()
            .or_else(|| nats.password.as_ref().map(|p| p.expose().to_string()));
        match (user, password) {
            (Some(user), Some(password)) => given.push((
                "a user and password",
                Auth::UserPassword {
                    user,
                    password: Secret::new(password),
                },
            )),
            (Some(_), None) => {
                return Err(BadArgument(
                    "a NATS user needs a password: --nats-password, NATS_PASSWORD or `password` in `[nats]`".into(),
                ))
            }
            (None, Some(_)) => {
                return Err(BadArgument(
                    "a NATS password needs a user: --nats-user, NATS_USER or `user` in `[nats]`"
                        .into(),
                ))
            }
            (None, None) => {}
        }
        let token = self
            .token
            .clone()
            .or_else(|| nats.token.as_ref().map(|t| t.expose().to_string()));
        if let Some(token) = token {
            given.push(("a token", Auth::Token(Secret::new(token))));
        }
        if let Some(path) = self.nkey.as_ref().or(nats.nkey.as_ref()) {
            let seed = std::fs::read_to_string(path).map_err(|e| {
                BadArgument(format!("cannot read the NKey seed {}: {e}", path.display()))
            })?;
            let seed = seed
                .lines()
                .map(str::trim)
                .find(|line| line.starts_with('S') && !line.contains(' '))
                .ok_or_else(|| {
                    BadArgument(format!(
                        "{} holds no NKey seed (a line starting with `S`)",
                        path.display()
                    ))
                })?;
            given.push(("an NKey", Auth::NKey(Secret::new(seed))));
        }
        if let Some(path) = self.creds.as_ref().or(nats.credentials.as_ref()) {
            given.push(("a credentials file", Auth::CredsFile(path.clone())));
        }
        match given.len() {
            0 => Ok(Auth::None),
            1 => Ok(given.remove(0).1),
            _ => {
                let kinds: Vec<&str> = given.iter().map(|(kind, _)| *kind).collect();
                Err(BadArgument(format!(
                    "give one kind of NATS credentials, not {}",
                    kinds.join(" and ")
                )))
            }
        }
    }

    /// TLS, if a certificate is given here or in the file.
    fn tls(&self, nats: &NatsTable) -> Result<Option<Tls>, BadArgument> {
        let ca = self.tls_ca.clone().or_else(|| nats.tls_ca.clone());
        let cert = self.tls_cert.clone().or_else(|| nats.tls_cert.clone());
        let key = self.tls_key.clone().or_else(|| nats.tls_key.clone());
        let client_cert = match (cert, key) {
            (Some(cert), Some(key)) => Some((cert, key)),
            (None, None) => None,
            _ => {
                return Err(BadArgument(
                    "a TLS client certificate needs its key, and a key its certificate (`tls_cert` and `tls_key`)".into(),
                ))
            }
        };
        for path in ca
            .iter()
            .chain(client_cert.iter().flat_map(|(c, k)| [c, k]))
        {
            if !path.is_file() {
                return Err(BadArgument(format!(
                    "TLS: {} is not a file",
                    path.display()
                )));
            }
        }
        Ok((ca.is_some() || client_cert.is_some()).then_some(Tls { ca, client_cert }))
    }
}

/// The distributed part of `baton run`'s arguments.
#[derive(Debug, Clone, clap::Args)]
pub(crate) struct DriverArgs {
    /// Runs the remote stages on workers over NATS JetStream: the server's
    /// URL, or none for the file's `[nats] url`.
    #[arg(long, value_name = "URL", num_args = 0..=1, default_missing_value = "")]
    pub(crate) nats: Option<String>,
    /// The run's name on the server (default: the file's `[nats] run`,
    /// else the pipeline's name); runs sharing a server need their own.
    #[arg(long = "run-name", value_name = "NAME", requires = "nats")]
    run_name: Option<String>,
    /// Deletes what an earlier run of the same name left on the server
    /// instead of refusing to start.
    #[arg(long, requires = "nats")]
    replace: bool,
    /// Chunks each run of remote stages keeps in flight to the workers.
    #[arg(long, value_name = "N", default_value_t = 16, requires = "nats",
          value_parser = clap::builder::RangedU64ValueParser::<usize>::new().range(1..))]
    pub(crate) in_flight: usize,
    #[command(flatten)]
    access: AccessArgs,
}

/// The server's URL: `--nats URL`, else the file's `[nats] url`.
fn server_url<'a>(nats: &'a NatsTable, url: Option<&'a str>) -> Option<&'a str> {
    url.filter(|url| !url.trim().is_empty())
        .or(nats.url.as_deref())
}

fn connect_options(
    nats: &NatsTable,
    url: Option<&str>,
    access: &AccessArgs,
) -> Result<ConnectOptions, BadArgument> {
    let url = server_url(nats, url).ok_or_else(|| {
            BadArgument(
                "--nats needs the server's URL (`--nats nats://host:4222`), or `url` in the file's `[nats]` table".into(),
            )
        })?;
    let mut options = ConnectOptions::new(url)
        .name("baton")
        .auth(access.auth(nats)?);
    if let Some(tls) = access.tls(nats)? {
        options = options.tls(tls);
    }
    Ok(options)
}

/// The run's streams and consumers, from the file's `[nats]` table.
fn topology(plan: &Plan, run: Option<&str>) -> Result<Topology, BadArgument> {
    let nats = &plan.nats;
    let defaults = Settings::default();
    let settings = Settings {
        storage: match nats.storage.unwrap_or_default() {
            StreamStorage::File => Storage::File,
            StreamStorage::Memory => Storage::Memory,
        },
        replicas: nats.stream_replicas.unwrap_or(defaults.replicas),
        max_messages: nats.max_messages.unwrap_or(defaults.max_messages),
        max_bytes: nats.max_bytes.unwrap_or(defaults.max_bytes),
        ack_wait: nats.ack_wait.unwrap_or(defaults.ack_wait),
        max_deliver: nats.max_deliver.unwrap_or(defaults.max_deliver),
        max_ack_pending: nats.max_ack_pending.unwrap_or(defaults.max_ack_pending),
        ..defaults
    };
    let name = run
        .map(str::to_string)
        .or_else(|| nats.run.clone())
        .unwrap_or_else(|| run_name_of(&plan.name));
    Topology::new(&name, settings).map_err(|e| BadArgument(e.to_string()))
}

/// A run name from a pipeline's name: what a subject may hold.
fn run_name_of(pipeline: &str) -> String {
    let name: String = pipeline
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect();
    if name.is_empty() {
        "baton".into()
    } else {
        name
    }
}

/// Where a stage's outputs go: the next stage's boundary, or the sink's.
fn boundary_after(next: Option<&str>) -> Boundary {
    next.map_or(Boundary::Sink, Boundary::stage)
}

/// A runtime for the NATS client: two threads are plenty for its I/O.
fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .thread_name("baton-nats")
        .enable_all()
        .build()
        .context("cannot start the NATS client's runtime")
}

/// The driver's side of a distributed run: connected, its streams made,
/// each remote segment of the plan replaced by a stage that sends its
/// items to the workers.
pub(crate) struct Driver {
    runtime: tokio::runtime::Runtime,
    /// The connection, watched for a server that stops answering.
    client: async_nats::Client,
    /// Where it connected, for messages.
    url: String,
    js: async_nats::jetstream::Context,
    topology: Topology,
    boundaries: Vec<Boundary>,
    remotes: Vec<Remote>,
    /// The remote stages and the segment stage that stands for them.
    pub(crate) segments: Vec<(String, Vec<String>)>,
}

impl std::fmt::Debug for Driver {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Driver")
            .field("run", &self.topology.run())
            .finish_non_exhaustive()
    }
}

impl Driver {
    /// Connects, makes the run's streams, and puts the remote segments of
    /// `built` on them.
    pub(crate) fn start(built: &mut Built, args: &DriverArgs) -> anyhow::Result<Self> {
        let segments = built.remote_segments();
        if segments.is_empty() {
            return Err(BadArgument(format!(
                "--nats: no stage of {} is remote: mark the stages to run on workers with `placement = \"remote\"`",
                built.plan.file.display()
            ))
            .into());
        }
        let options = connect_options(&built.plan.nats, args.nats.as_deref(), &args.access)?;
        let topology = topology(&built.plan, args.run_name.as_deref())?;
        let runtime = runtime()?;
        let client = runtime
            .block_on(options.connect())
            .context("cannot reach the NATS server")?;
        let js = runtime.block_on(async { baton_nats::jetstream(&client) });
        let mut boundaries = Vec::new();
        for segment in &segments {
            boundaries.extend(segment.stages.iter().map(|s| Boundary::stage(s.as_str())));
            boundaries.push(boundary_after(segment.next.as_deref()));
        }
        boundaries.dedup();
        let leftover = if args.replace {
            Leftover::Replace
        } else {
            Leftover::Fail
        };
        runtime
            .block_on(topology.prepare(&js, &boundaries, leftover))
            .with_context(|| {
                format!("cannot set up run `{}` on the NATS server", topology.run())
            })?;
        let window = built
            .plan
            .nats
            .window
            .unwrap_or(HopOptions::default().window);
        let mut remotes = Vec::new();
        let mut names = Vec::new();
        for segment in &segments {
            let into = Boundary::stage(segment.stages[0].as_str());
            let out_of = boundary_after(segment.next.as_deref());
            let hop = HopOptions {
                window,
                ..HopOptions::default()
            };
            let remote = runtime
                .block_on(Remote::open(&js, &topology, into, out_of, hop))
                .context("cannot open the hop to the remote stages")?;
            built.replace_segment(segment, remote.stage(segment.rows_after), args.in_flight);
            names.push((segment.name(), segment.stages.clone()));
            remotes.push(remote);
        }
        Ok(Self {
            runtime,
            url: server_url(&built.plan.nats, args.nats.as_deref())
                .unwrap_or_default()
                .to_string(),
            client,
            js,
            topology,
            boundaries,
            remotes,
            segments: names,
        })
    }

    /// The run's name on the server.
    pub(crate) fn run(&self) -> &str {
        self.topology.run()
    }

    /// The workers that have reported for this run.
    pub(crate) fn workers(&self) -> Vec<baton_nats::WorkerStats> {
        self.runtime
            .block_on(baton_nats::worker_stats(&self.js, &self.topology))
            .unwrap_or_default()
    }

    /// Reads the workers' stats every second, for the live view, until
    /// the driver finishes.
    pub(crate) fn watch(&self, file: &std::path::Path) -> WorkersBoard {
        let board = WorkersBoard {
            state: Arc::new(std::sync::Mutex::new(BoardState::default())),
            segments: self.segments.clone(),
            file: file.display().to_string(),
            url: self.url.clone(),
        };
        let js = self.js.clone();
        let client = self.client.clone();
        let topology = self.topology.clone();
        let state = Arc::clone(&board.state);
        self.runtime.spawn(async move {
            loop {
                {
                    // The client reconnects by itself; meanwhile the run
                    // waits, and the view says why.
                    let connected =
                        client.connection_state() == async_nats::connection::State::Connected;
                    let mut state = state.lock().unwrap_or_else(|e| e.into_inner());
                    match (connected, state.lost_since) {
                        (false, None) => state.lost_since = Some(std::time::Instant::now()),
                        (true, Some(_)) => state.lost_since = None,
                        _ => {}
                    }
                }
                if let Ok(workers) = baton_nats::worker_stats(&js, &topology).await {
                    let mut state = state.lock().unwrap_or_else(|e| e.into_inner());
                    let now = (std::time::Instant::now(), workers);
                    state.before = std::mem::replace(&mut state.now, now);
                }
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
        });
        board
    }

    /// The workers as they stand at the run's end, for the summary: read
    /// after their last report (they report every quarter of a second).
    pub(crate) fn final_workers(&self) -> Vec<baton_report::WorkerSummary> {
        std::thread::sleep(Duration::from_millis(400));
        let mut workers: Vec<baton_report::WorkerSummary> = self
            .workers()
            .into_iter()
            .map(|w| baton_report::WorkerSummary {
                serves: self
                    .segments
                    .iter()
                    .find(|(_, stages)| stages.contains(&w.stage))
                    .map_or_else(|| w.stage.clone(), |(name, _)| name.clone()),
                stage: w.stage,
                host: w.host,
                pid: w.pid,
                replicas: w.replicas,
                items: w.items,
                messages: w.messages,
                retries: w.retries,
                dead_letters: w.dead_letters,
                busy_s: w.busy_ms as f64 / 1000.0,
                stopped: w.stopped,
            })
            .collect();
        // In the pipeline's order of stages, then by machine and process.
        let order = |stage: &str| {
            self.segments
                .iter()
                .flat_map(|(_, stages)| stages)
                .position(|s| s == stage)
        };
        workers.sort_by(|a, b| {
            (order(&a.stage), &a.host, a.pid).cmp(&(order(&b.stage), &b.host, b.pid))
        });
        workers
    }

    /// Ends the run on the server: the hops stopped, the streams removed
    /// (the dead letters kept when there are any, for a person to read).
    pub(crate) fn finish(self) -> anyhow::Result<()> {
        for remote in self.remotes {
            remote.close();
        }
        let letters = self
            .runtime
            .block_on(baton_nats::dead_letters(&self.js, &self.topology))
            .map(|letters| letters.len())
            .unwrap_or(0);
        self.runtime
            .block_on(
                self.topology
                    .remove(&self.js, &self.boundaries, letters > 0),
            )
            .context("cannot remove the run's streams")?;
        if letters > 0 {
            eprintln!(
                "{letters} items failed on every delivery to the workers: they are kept in stream {} on the NATS server",
                self.topology.dead_letter_stream()
            );
        }
        Ok(())
    }
}

/// The workers of a distributed run as last read from the server, and
/// as read the time before (for how busy they were in between).
#[derive(Clone, Debug)]
pub(crate) struct WorkersBoard {
    state: Arc<std::sync::Mutex<BoardState>>,
    segments: Vec<(String, Vec<String>)>,
    file: String,
    /// The NATS server's address.
    url: String,
}

#[derive(Debug)]
struct BoardState {
    now: (std::time::Instant, Vec<baton_nats::WorkerStats>),
    before: (std::time::Instant, Vec<baton_nats::WorkerStats>),
    /// Since when the connection to the server is down, if it is.
    lost_since: Option<std::time::Instant>,
}

impl Default for BoardState {
    fn default() -> Self {
        let now = std::time::Instant::now();
        Self {
            now: (now, Vec::new()),
            before: (now, Vec::new()),
            lost_since: None,
        }
    }
}

impl WorkersBoard {
    /// One line per run of remote stages: its workers, each with its items
    /// and how busy its replicas were over the last second, or how to
    /// start one when none serves.
    pub(crate) fn lines(&self) -> Vec<String> {
        let state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        let (at, now) = &state.now;
        let (then, before) = &state.before;
        let dt_ms = at.duration_since(*then).as_millis().max(1) as f64;
        let lost = state.lost_since.map(|since| {
            format!(
                "⚠ the NATS server at {} does not answer (for {} s): the run waits for it to come back, nothing is lost (Ctrl-C stops the run)",
                self.url,
                since.elapsed().as_secs()
            )
        });
        lost.into_iter().chain(self.segments
            .iter()
            .map(|(name, stages)| {
                let serving: Vec<&baton_nats::WorkerStats> = now
                    .iter()
                    .filter(|w| stages.contains(&w.stage) && !w.stopped)
                    .collect();
                if serving.is_empty() {
                    let flags: Vec<String> =
                        stages.iter().map(|s| format!("--stage {s}")).collect();
                    return format!(
                        "↳ {name}: no worker serving: start one with `baton worker {} --nats URL {}`",
                        self.file,
                        flags.join(" ")
                    );
                }
                let parts: Vec<String> = serving
                    .iter()
                    .map(|w| {
                        let busy_before = before
                            .iter()
                            .find(|b| b.stage == w.stage && b.host == w.host && b.pid == w.pid)
                            .map_or(w.busy_ms, |b| b.busy_ms);
                        let busy = (w.busy_ms.saturating_sub(busy_before)) as f64
                            / (dt_ms * w.replicas.max(1) as f64);
                        let stage = if stages.len() > 1 {
                            format!("{} ", w.stage)
                        } else {
                            String::new()
                        };
                        format!(
                            "{stage}{}:{} x{} {} items busy {:.0}%",
                            w.host,
                            w.pid,
                            w.replicas,
                            w.items,
                            (busy * 100.0).min(100.0)
                        )
                    })
                    .collect();
                let processes: std::collections::HashSet<(&str, u32)> =
                    serving.iter().map(|w| (w.host.as_str(), w.pid)).collect();
                format!(
                    "↳ {name} on {} worker{}: {}",
                    processes.len(),
                    if processes.len() == 1 { "" } else { "s" },
                    parts.join(" | ")
                )
            }))
            .collect()
    }
}

/// `baton worker`: serves replicas of remote stages until Ctrl-C (the
/// first finishes what it started and puts back the rest; a second exits
/// at once, and the server hands what it held to other workers).
pub(crate) fn worker(args: WorkerArgs) -> anyhow::Result<ExitCode> {
    let plan = match super::read_plan(&args.file) {
        Ok(plan) => plan,
        Err(problems) => {
            eprint!("{problems}");
            return Ok(ExitCode::from(super::BAD_FILE));
        }
    };
    let mut specs = Vec::new();
    for name in &args.stages {
        let stage = match plan.build_stage(name) {
            Ok(stage) => stage,
            Err(problems) => {
                eprint!("{problems}");
                return Ok(ExitCode::from(super::BAD_FILE));
            }
        };
        let planned = plan
            .stages
            .iter()
            .find(|s| &s.name == name)
            .expect("built, so planned");
        let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
        let replicas = args.replicas.or(planned.replicas).unwrap_or(threads).max(1);
        let stage = Arc::new(stage);
        let make: baton_nats::MakeReplica = Arc::new(move || stage.replica());
        let next = boundary_after(plan.next_stage(name).as_deref());
        specs.push(
            WorkerSpec::new(name.as_str(), next, replicas, make)
                .patience(Duration::from_secs(args.wait)),
        );
    }
    let options = connect_options(&plan.nats, args.nats.as_deref(), &args.access)?;
    let topology = topology(&plan, args.run.as_deref())?;
    let runtime = runtime()?;
    let client = runtime
        .block_on(options.connect())
        .context("cannot reach the NATS server")?;
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let presses = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    {
        let presses = Arc::clone(&presses);
        let _ = ctrlc::set_handler(move || {
            if presses.fetch_add(1, std::sync::atomic::Ordering::SeqCst) == 0 {
                eprintln!("stopping: finishing the items started (Ctrl-C again to exit now)");
                let _ = stop.send(true);
            } else {
                eprintln!("exiting: the server gives what this worker held to other workers");
                std::process::exit(i32::from(super::ABORTED));
            }
        });
    }
    for spec in &specs {
        eprintln!(
            "worker for stage `{}` of run `{}`: {} replicas, pid {}",
            spec_stage(spec),
            topology.run(),
            spec.replicas(),
            std::process::id()
        );
    }
    let results = runtime.block_on(async {
        let mut tasks = tokio::task::JoinSet::new();
        for spec in specs {
            let client = client.clone();
            let topology = topology.clone();
            let mut stopped = stopped.clone();
            tasks.spawn(async move {
                let name = spec_stage(&spec);
                let shutdown = async move {
                    let _ = stopped.wait_for(|stop| *stop).await;
                };
                (
                    name,
                    baton_nats::serve(&client, &topology, spec, shutdown).await,
                )
            });
        }
        let mut results = Vec::new();
        while let Some(done) = tasks.join_next().await {
            match done {
                Ok(result) => results.push(result),
                Err(join) if join.is_panic() => std::panic::resume_unwind(join.into_panic()),
                Err(_) => {}
            }
        }
        results
    });
    let mut failed = false;
    for (stage, result) in results {
        match result {
            Ok(report) => eprintln!(
                "stage `{stage}`: {} items in {} messages, {} retried, {} to the dead letters, busy {:.1} s",
                report.items,
                report.messages,
                report.retries,
                report.dead_letters,
                report.busy.as_secs_f64()
            ),
            Err(error) => {
                eprintln!("error: stage `{stage}`: {error}");
                failed = true;
            }
        }
    }
    Ok(if failed {
        ExitCode::from(super::FAILED)
    } else {
        ExitCode::SUCCESS
    })
}

fn spec_stage(spec: &WorkerSpec) -> String {
    spec.stage().to_string()
}
