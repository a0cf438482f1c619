//! The worker: serves replicas of one remote stage.
//!
//! A worker binds to the durable consumer of its stage's boundary (shared
//! by every replica on every machine), fetches at most as many messages
//! as it has idle replicas (a message's ack wait starts at delivery, so
//! fetching more than it can start would get them redelivered elsewhere),
//! and runs each message's chunk through a replica on a thread of its own,
//! never on the async reactor. A replica is idle again as soon as it has
//! worked its chunk: the publishing and acknowledging that follow overlap
//! its next chunk (at most one such tail per replica, so memory stays
//! bounded when the next stream is full). Then, in this order:
//!
//! 1. it publishes the outputs to the next boundary and awaits their
//!    publish acks (each chunk with its de-duplication id);
//! 2. it acknowledges the input, awaiting the server's confirmation.
//!
//! A worker that dies between 1 and 2 has its input redelivered to
//! another, which publishes the same chunks under the same ids: the server
//! drops them, and the collector drops any sequence number it has seen.
//! While a message is worked on, the worker tells the server it is in
//! progress every third of the ack wait, so a slow item is not redelivered.
//!
//! **Failures.** An item that fails (an error or a panic) has its message
//! put back (`nak`, with a short delay) for another try, until its
//! `max_deliver`-th delivery: then its failing items go to the run's
//! dead-letter stream with their error, a failure marker goes downstream
//! in their place (so the collector accounts for them), the rest goes on,
//! and the message is acknowledged. A message delivered more often still
//! (its replicas crashed, or overran the ack wait, on every delivery) goes
//! to the dead-letter stream whole, without running it again. A
//! redelivered message runs alone in its worker process, so a message that
//! crashes the process takes no other message's deliveries with it: only
//! the culprit reaches the dead-letter stream.
//!
//! The ack wait and the poison threshold are the consumer's (the driver
//! set them), read when the worker binds to it.
//!
//! **Stopping.** When `shutdown` completes, the worker fetches no more,
//! finishes the messages it has started, and puts back (`nak`) any that
//! arrive after, so other workers take them at once.
//!
//! A remote stage is a parallel stage: its replicas' `finish` is not
//! called (what a serial stage holds back at the end has no place in a
//! distributed run), and each item goes through `Stage::process`.

use std::future::Future;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use async_nats::jetstream::consumer::PullConsumer;
use async_nats::jetstream::{self, AckKind};
use baton_engine::{BoxError, ReplicaContext, Stage};
use baton_ops::Item;
use bytes::Bytes;
use futures::StreamExt;
use tokio::sync::oneshot;
use tokio::task::JoinSet;

use crate::error::Error;
use crate::publish::{epoch_of, Publisher};
use crate::stats::{StatsReporter, WorkerStats};
use crate::topology::{Boundary, Topology};
use crate::wire::{self, DeadLetter, EncodedChunk, Entry, Failure, Outcome};

/// Makes one replica of a stage (called once per replica, on its thread).
pub type MakeReplica = Arc<dyn Fn() -> Result<Box<dyn Stage<Item, Item>>, BoxError> + Send + Sync>;

/// What a worker serves: a stage, where its outputs go, and how many
/// replicas it runs.
///
/// # Examples
///
/// ```
/// use std::sync::Arc;
/// use baton_engine::{BoxError, Stage};
/// use baton_nats::{Boundary, WorkerSpec};
/// use baton_ops::Item;
///
/// struct Upper;
/// impl Stage<Item, Item> for Upper {
///     fn process(&mut self, mut item: Item, out: &mut Vec<Item>) -> Result<(), BoxError> {
///         let word = item.get("word").and_then(|v| v.as_str()).unwrap_or("").to_uppercase();
///         item.set("word", word);
///         out.push(item);
///         Ok(())
///     }
/// }
/// let spec = WorkerSpec::new("upper", Boundary::Sink, 2, Arc::new(|| Ok(Box::new(Upper) as _)));
/// assert_eq!(spec.replicas(), 2);
/// ```
#[derive(Clone)]
pub struct WorkerSpec {
    stage: String,
    next: Boundary,
    replicas: usize,
    make: MakeReplica,
    patience: Duration,
}

impl std::fmt::Debug for WorkerSpec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WorkerSpec")
            .field("stage", &self.stage)
            .field("next", &self.next)
            .field("replicas", &self.replicas)
            .finish_non_exhaustive()
    }
}

impl WorkerSpec {
    /// Serves `replicas` replicas (at least 1) of `stage`, made by `make`,
    /// publishing outputs to `next`.
    ///
    /// # Examples
    ///
    /// See [`WorkerSpec`].
    pub fn new(
        stage: impl Into<String>,
        next: Boundary,
        replicas: usize,
        make: MakeReplica,
    ) -> Self {
        Self {
            stage: stage.into(),
            next,
            replicas: replicas.max(1),
            make,
            patience: Duration::from_secs(3600),
        }
    }

    /// How long to wait for the run's streams to appear (a worker may
    /// start before the driver); an hour by default.
    ///
    /// # Examples
    ///
    /// ```
    /// # use std::sync::Arc;
    /// # let make: baton_nats::MakeReplica = Arc::new(|| Err("unused".into()));
    /// let spec = baton_nats::WorkerSpec::new("s", baton_nats::Boundary::Sink, 1, make)
    ///     .patience(std::time::Duration::from_secs(5));
    /// ```
    pub fn patience(self, patience: Duration) -> Self {
        Self { patience, ..self }
    }

    /// The stage it serves.
    ///
    /// # Examples
    ///
    /// ```
    /// # use std::sync::Arc;
    /// # let make: baton_nats::MakeReplica = Arc::new(|| Err("unused".into()));
    /// let spec = baton_nats::WorkerSpec::new("resize", baton_nats::Boundary::Sink, 1, make);
    /// assert_eq!(spec.stage(), "resize");
    /// ```
    pub fn stage(&self) -> &str {
        &self.stage
    }

    /// How many replicas it runs.
    ///
    /// # Examples
    ///
    /// See [`WorkerSpec`].
    pub fn replicas(&self) -> usize {
        self.replicas
    }
}

/// What a worker did, when it stops.
///
/// # Examples
///
/// ```
/// let report = baton_nats::WorkerReport::default();
/// assert_eq!(report.messages, 0);
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct WorkerReport {
    /// Messages acknowledged (done, or dead-lettered).
    pub messages: u64,
    /// Items that went through its replicas.
    pub items: u64,
    /// Items sent to the dead-letter stream.
    pub dead_letters: u64,
    /// Messages put back for another try after a failure.
    pub retries: u64,
    /// Time its replicas spent working.
    pub busy: Duration,
}

/// How a delivery of a message is to be worked.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Attempt {
    /// Failures put the message back for another try.
    Try,
    /// The last try: failing items go to the dead-letter stream.
    Last,
    /// Tried too often already (crashes, timeouts): dead-letter it whole.
    GiveUp,
}

/// A message's chunk for a replica thread.
struct Job {
    body: Bytes,
    attempt: Attempt,
    deliveries: u32,
    reply: oneshot::Sender<Worked>,
}

/// What a replica made of a message.
enum Worked {
    /// An item failed and there are tries left: put the message back.
    Retry,
    /// Publish these, then ack.
    Publish {
        outputs: Vec<EncodedChunk>,
        dead: Vec<(u64, Bytes)>,
    },
    /// The replica could not be made again after a panic.
    Broken(Error),
}

/// The counters a worker's stats come from.
#[derive(Debug, Default)]
pub(crate) struct Counters {
    pub(crate) messages: AtomicU64,
    pub(crate) items: AtomicU64,
    pub(crate) dead_letters: AtomicU64,
    pub(crate) retries: AtomicU64,
    pub(crate) busy_ns: AtomicU64,
}

impl Counters {
    fn report(&self) -> WorkerReport {
        WorkerReport {
            messages: self.messages.load(Ordering::Relaxed),
            items: self.items.load(Ordering::Relaxed),
            dead_letters: self.dead_letters.load(Ordering::Relaxed),
            retries: self.retries.load(Ordering::Relaxed),
            busy: Duration::from_nanos(self.busy_ns.load(Ordering::Relaxed)),
        }
    }
}

/// Serves replicas of a stage of a run until `shutdown` completes, then
/// finishes what it started, puts back what it did not, and returns what
/// it did. It reports its stats (host, pid, items, busy time) to the run's
/// stats bucket four times a second (see [`crate::worker_stats`]).
///
/// # Errors
///
/// The run's consumer did not appear within the spec's patience; a
/// replica could not be made; a publish failed for longer than a minute.
///
/// # Examples
///
/// ```no_run
/// # async fn run(spec: baton_nats::WorkerSpec) -> Result<(), baton_nats::Error> {
/// use baton_nats::{serve, ConnectOptions, Topology};
/// let client = ConnectOptions::new("nats://127.0.0.1:4222").connect().await?;
/// let run = Topology::new("nightly", Default::default())?;
/// let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
/// // ... `stop.send(())` (on Ctrl-C, say) stops it gracefully.
/// let report = serve(&client, &run, spec, async {
///     let _ = stopped.await;
/// })
/// .await?;
/// println!("{} items", report.items);
/// # Ok(()) }
/// ```
pub async fn serve(
    client: &async_nats::Client,
    topology: &Topology,
    spec: WorkerSpec,
    shutdown: impl Future<Output = ()> + Send,
) -> Result<WorkerReport, Error> {
    let js = jetstream::new(client.clone());
    let publisher = Publisher::new(js.clone(), topology.clone());
    let boundary = Boundary::stage(spec.stage.clone());
    tokio::pin!(shutdown);
    let consumer = tokio::select! {
        consumer = topology.consumer(&js, &boundary, spec.patience) => consumer?,
        () = &mut shutdown => return Ok(WorkerReport::default()),
    };
    // The driver made the consumer: its timings rule, whatever this
    // worker's own settings say.
    let config = consumer.cached_info().config.clone();
    let counters = Arc::new(Counters::default());
    let stats = StatsReporter::start(
        js.clone(),
        topology.clone(),
        WorkerStats::here(&spec.stage, spec.replicas),
        Arc::clone(&counters),
    );
    let replicas = ReplicaPool::start(&spec, publisher.max_body(), Arc::clone(&counters))?;
    let shared = Arc::new(Shared {
        publisher,
        topology: topology.clone(),
        stage: spec.stage.clone(),
        next: spec.next.clone(),
        jobs: replicas.jobs.clone(),
        counters: Arc::clone(&counters),
        alone: tokio::sync::RwLock::new(()),
        ack_wait: config.ack_wait,
        max_deliver: crate::topology::poison_threshold(config.max_deliver),
    });
    let outcome = fetch_loop(&consumer, &shared, spec.replicas, &mut shutdown).await;
    // Its sender of jobs goes, so the replicas' threads see the end.
    drop(shared);
    replicas.stop().await;
    stats.stop().await;
    outcome.map(|()| counters.report())
}

/// What every message's task needs.
struct Shared {
    publisher: Publisher,
    topology: Topology,
    stage: String,
    next: Boundary,
    jobs: crossbeam_channel::Sender<Job>,
    counters: Arc<Counters>,
    /// Held shared by a first delivery, alone by a redelivery (see `work`).
    alone: tokio::sync::RwLock<()>,
    /// The consumer's, as the driver set them (not this worker's settings).
    ack_wait: Duration,
    max_deliver: u32,
}

async fn fetch_loop(
    consumer: &PullConsumer,
    shared: &Arc<Shared>,
    replicas: usize,
    shutdown: &mut std::pin::Pin<&mut (impl Future<Output = ()> + Send)>,
) -> Result<(), Error> {
    let mut tasks: JoinSet<Result<(), Error>> = JoinSet::new();
    // A permit per idle replica, held by a message until its chunk is
    // worked; and a message's task lives on while its outputs are
    // published and its input acknowledged: at most two per replica.
    let idle = Arc::new(tokio::sync::Semaphore::new(replicas));
    let most_tasks = 2 * replicas;
    let mut stopping = false;
    let mut failure = None;
    while !stopping && failure.is_none() {
        while let Some(done) = tasks.try_join_next() {
            if let Err(error) = flatten(done) {
                failure = Some(error);
            }
        }
        let free = idle
            .available_permits()
            .min(most_tasks.saturating_sub(tasks.len()));
        if free == 0 {
            let full = tasks.len() >= most_tasks;
            tokio::select! {
                Some(done) = tasks.join_next() => {
                    if let Err(error) = flatten(done) {
                        failure = Some(error);
                    }
                }
                // A replica done with its chunk (its permit comes back).
                _ = idle.acquire(), if !full => {}
                () = shutdown.as_mut() => stopping = true,
            }
            continue;
        }
        // Bounded by its count: at most two messages per replica, each of
        // a few MiB at most (the feeder's `message_bytes`). A byte bound
        // on this fetch stalled every pull on a 3-node cluster (nats-server
        // 2.15.1), so none is set.
        let batch = consumer
            .batch()
            .max_messages(free)
            .expires(Duration::from_millis(500))
            .messages()
            .await;
        let mut batch = match batch {
            Ok(batch) => batch,
            Err(_) => {
                // The server is away (reconnecting) or the consumer is
                // being recreated: try again shortly.
                tokio::select! {
                    () = tokio::time::sleep(Duration::from_millis(250)) => {}
                    () = shutdown.as_mut() => stopping = true,
                }
                continue;
            }
        };
        loop {
            tokio::select! {
                message = batch.next() => match message {
                    Some(Ok(message)) => {
                        if stopping {
                            let _ = message.ack_with(AckKind::Nak(None)).await;
                        } else {
                            let permit = Arc::clone(&idle)
                                .acquire_owned()
                                .await
                                .expect("the semaphore is never closed");
                            tasks.spawn(handle(message, Arc::clone(shared), permit));
                        }
                    }
                    Some(Err(_)) => {
                        tokio::time::sleep(Duration::from_millis(100)).await;
                        break;
                    }
                    None => break,
                },
                () = shutdown.as_mut(), if !stopping => stopping = true,
            }
        }
    }
    while let Some(done) = tasks.join_next().await {
        if let Err(error) = flatten(done) {
            failure.get_or_insert(error);
        }
    }
    failure.map_or(Ok(()), Err)
}

fn flatten(done: Result<Result<(), Error>, tokio::task::JoinError>) -> Result<(), Error> {
    match done {
        Ok(result) => result,
        Err(join) if join.is_panic() => std::panic::resume_unwind(join.into_panic()),
        Err(_) => Ok(()),
    }
}

/// Works one message: its chunk through a replica, its outputs published,
/// then its ack; "in progress" sent all along.
async fn handle(
    message: jetstream::Message,
    shared: Arc<Shared>,
    replica: tokio::sync::OwnedSemaphorePermit,
) -> Result<(), Error> {
    let ack_wait = shared.ack_wait;
    let mut progress = tokio::time::interval((ack_wait / 3).max(Duration::from_millis(10)));
    progress.tick().await;
    let work = work(&message, &shared, replica);
    tokio::pin!(work);
    loop {
        tokio::select! {
            result = &mut work => return result,
            _ = progress.tick() => {
                let _ = message.ack_with(AckKind::Progress).await;
            }
        }
    }
}

/// `replica` is this message's claim on an idle replica, given back once
/// its chunk is worked.
async fn work(
    message: &jetstream::Message,
    shared: &Shared,
    replica: tokio::sync::OwnedSemaphorePermit,
) -> Result<(), Error> {
    let max_deliver = shared.max_deliver;
    let deliveries = message
        .info()
        .map(|info| u32::try_from(info.delivered).unwrap_or(u32::MAX))
        .unwrap_or(1);
    let attempt = match deliveries.cmp(&max_deliver) {
        std::cmp::Ordering::Less => Attempt::Try,
        std::cmp::Ordering::Equal => Attempt::Last,
        std::cmp::Ordering::Greater => Attempt::GiveUp,
    };
    // A redelivered message runs alone in this process: if it crashes the
    // process again, no other message shares the blame (a delivery more
    // towards the dead-letter stream), so a crashing item cannot drag
    // innocent ones there with it. The lock is fair: first deliveries
    // queue behind a waiting redelivery.
    let (_shared, _alone);
    if deliveries > 1 {
        _alone = shared.alone.write().await;
    } else {
        _shared = shared.alone.read().await;
    }
    let (reply, worked) = oneshot::channel();
    let job = Job {
        body: message.payload.clone(),
        attempt,
        deliveries,
        reply,
    };
    if shared.jobs.send(job).is_err() {
        let _ = message.ack_with(AckKind::Nak(None)).await;
        return Ok(());
    }
    let Ok(worked) = worked.await else {
        let _ = message.ack_with(AckKind::Nak(None)).await;
        return Ok(());
    };
    // The replica is free for the next chunk while this one's outputs go.
    drop(replica);
    match worked {
        Worked::Retry => {
            shared.counters.retries.fetch_add(1, Ordering::Relaxed);
            let delay =
                Duration::from_millis(50 * u64::from(deliveries)).min(Duration::from_secs(2));
            let _ = message.ack_with(AckKind::Nak(Some(delay))).await;
            Ok(())
        }
        Worked::Broken(error) => {
            let _ = message.ack_with(AckKind::Nak(None)).await;
            Err(error)
        }
        Worked::Publish { outputs, dead } => {
            // The outputs carry the epoch of the input: a run replaced
            // meanwhile takes them for what they are, another run's.
            let epoch = epoch_of(message);
            for (seq, body) in dead {
                let subject = shared.topology.dead_letter_subject(&shared.stage);
                let id = format!("{subject}.{seq}");
                shared.publisher.one(&subject, &id, epoch, body).await?;
                shared.counters.dead_letters.fetch_add(1, Ordering::Relaxed);
            }
            shared
                .publisher
                .chunks(&shared.next, outputs, epoch)
                .await?;
            // Awaited: until the server confirms, the input may come back.
            for wait in [10, 100, 1000] {
                if message.double_ack().await.is_ok() {
                    break;
                }
                tokio::time::sleep(Duration::from_millis(wait)).await;
            }
            shared.counters.messages.fetch_add(1, Ordering::Relaxed);
            Ok(())
        }
    }
}

/// The replicas, each on a thread of its own, taking jobs from one channel.
struct ReplicaPool {
    jobs: crossbeam_channel::Sender<Job>,
    threads: Vec<std::thread::JoinHandle<()>>,
}

impl ReplicaPool {
    fn start(spec: &WorkerSpec, max_body: usize, counters: Arc<Counters>) -> Result<Self, Error> {
        let (jobs, queue) = crossbeam_channel::unbounded::<Job>();
        let mut threads = Vec::new();
        for number in 0..spec.replicas {
            let mut replica = Replica::new(spec, number, max_body, Arc::clone(&counters))?;
            let queue = queue.clone();
            let thread = std::thread::Builder::new()
                .name(format!("{}#{number}", spec.stage))
                .spawn(move || {
                    for job in queue {
                        let worked = replica.work(&job);
                        let _ = job.reply.send(worked);
                    }
                })
                .map_err(|error| Error::Replica {
                    stage: spec.stage.clone(),
                    error: error.into(),
                })?;
            threads.push(thread);
        }
        Ok(Self { jobs, threads })
    }

    async fn stop(self) {
        drop(self.jobs);
        let threads = self.threads;
        let _ = tokio::task::spawn_blocking(move || {
            for thread in threads {
                let _ = thread.join();
            }
        })
        .await;
    }
}

/// One replica of the stage and what it needs to work a chunk.
struct Replica {
    stage: String,
    number: usize,
    make: MakeReplica,
    inner: Box<dyn Stage<Item, Item>>,
    max_body: usize,
    counters: Arc<Counters>,
    /// Busy time of the current job's items already counted.
    accounted_ns: u64,
}

impl Replica {
    fn new(
        spec: &WorkerSpec,
        number: usize,
        max_body: usize,
        counters: Arc<Counters>,
    ) -> Result<Self, Error> {
        let inner = open(&spec.make, &spec.stage, number)?;
        Ok(Self {
            stage: spec.stage.clone(),
            number,
            make: Arc::clone(&spec.make),
            inner,
            max_body,
            counters,
            accounted_ns: 0,
        })
    }

    fn work(&mut self, job: &Job) -> Worked {
        let started = Instant::now();
        self.accounted_ns = 0;
        let worked = self.work_entries(job);
        // The items' time is counted as each is done (see `process`); the
        // rest (decoding, encoding) now.
        let rest = (started.elapsed().as_nanos() as u64).saturating_sub(self.accounted_ns);
        self.counters.busy_ns.fetch_add(rest, Ordering::Relaxed);
        worked
    }

    fn work_entries(&mut self, job: &Job) -> Worked {
        let entries = match wire::decode(&job.body) {
            Ok(entries) => entries,
            // Not ours to read (another version of baton?): nothing can be
            // accounted for; keep it out of the queue for a person to see.
            Err(error) => {
                let letter = DeadLetter {
                    seq: u64::MAX,
                    stage: self.stage.clone(),
                    error: format!("undecodable message: {error}"),
                    deliveries: job.deliveries,
                    items: Vec::new(),
                };
                return Worked::Publish {
                    outputs: Vec::new(),
                    dead: letter
                        .encode()
                        .map(|b| vec![(u64::MAX, Bytes::from(b))])
                        .unwrap_or_default(),
                };
            }
        };
        let mut encoded = Vec::with_capacity(entries.len());
        let mut dead = Vec::new();
        for entry in entries {
            let seq = entry.seq;
            let (outcome, input) = match entry.outcome {
                Outcome::Failed(failure) => (Outcome::Failed(failure), Vec::new()),
                Outcome::Items(items) if job.attempt == Attempt::GiveUp => {
                    let error = format!(
                        "a replica crashed or overran the ack wait on every one of {} deliveries",
                        job.deliveries - 1
                    );
                    (self.failure(error.clone()), items)
                }
                Outcome::Items(items) => {
                    // Kept for the dead-letter stream on the last try only.
                    let input = if job.attempt == Attempt::Last {
                        items.clone()
                    } else {
                        Vec::new()
                    };
                    match self.process(items) {
                        Ok(outputs) => (Outcome::Items(outputs), input),
                        Err(_) if job.attempt == Attempt::Try => return Worked::Retry,
                        Err(error) => (self.failure(error), input),
                    }
                }
            };
            let mut entry = Entry { seq, outcome };
            let mut bytes = wire::encode_entry(&entry);
            let too_large = matches!(&bytes, Ok(b) if b.len() + 11 > self.max_body);
            if too_large || bytes.is_err() {
                let error = match bytes {
                    Err(error) => error.to_string(),
                    Ok(b) => crate::WireError::EntryTooLarge {
                        seq,
                        bytes: b.len(),
                        max_bytes: self.max_body,
                    }
                    .to_string(),
                };
                if job.attempt == Attempt::Try {
                    return Worked::Retry;
                }
                entry.outcome = self.failure(error);
                bytes = wire::encode_entry(&entry);
            }
            if let Outcome::Failed(failure) = &entry.outcome {
                if failure.stage == self.stage {
                    let letter = DeadLetter {
                        seq,
                        stage: self.stage.clone(),
                        error: failure.error.clone(),
                        deliveries: job.deliveries,
                        items: input,
                    };
                    match letter.encode() {
                        Ok(body) => dead.push((seq, Bytes::from(body))),
                        Err(_) => {
                            let bare = DeadLetter {
                                items: Vec::new(),
                                ..letter
                            };
                            if let Ok(body) = bare.encode() {
                                dead.push((seq, Bytes::from(body)));
                            }
                        }
                    }
                }
            }
            match bytes {
                Ok(bytes) => encoded.push(bytes),
                Err(error) => return Worked::Broken(error.into()),
            }
        }
        let _ = self.inner.flush();
        match wire::pack(encoded, self.max_body) {
            Ok(outputs) => Worked::Publish { outputs, dead },
            Err(error) => Worked::Broken(error.into()),
        }
    }

    fn failure(&self, error: String) -> Outcome {
        Outcome::Failed(Failure {
            stage: self.stage.clone(),
            error,
        })
    }

    /// Runs one entry's items through the replica: all their outputs, or
    /// the first failure (a panic counts, and the replica is made anew).
    fn process(&mut self, items: Vec<Item>) -> Result<Vec<Item>, String> {
        let mut out = Vec::new();
        for item in items {
            let inner = &mut self.inner;
            let started = Instant::now();
            let result = catch_unwind(AssertUnwindSafe(|| inner.process(item, &mut out)));
            // An item and its time are counted together, as it is done: a
            // reading of the stats never sees items whose time is still to
            // come (which would make them look cheap to the message sizer).
            let took = started.elapsed().as_nanos() as u64;
            self.accounted_ns += took;
            self.counters.busy_ns.fetch_add(took, Ordering::Relaxed);
            self.counters.items.fetch_add(1, Ordering::Relaxed);
            match result {
                Ok(Ok(())) => {}
                Ok(Err(error)) => return Err(error.to_string()),
                Err(panic) => {
                    let message = panic
                        .downcast_ref::<&str>()
                        .map(|s| s.to_string())
                        .or_else(|| panic.downcast_ref::<String>().cloned())
                        .unwrap_or_else(|| "a panic".into());
                    if let Ok(fresh) = open(&self.make, &self.stage, self.number) {
                        self.inner = fresh;
                    }
                    return Err(format!("the replica panicked: {message}"));
                }
            }
        }
        Ok(out)
    }
}

fn open(
    make: &MakeReplica,
    stage: &str,
    number: usize,
) -> Result<Box<dyn Stage<Item, Item>>, Error> {
    let broken = |error: BoxError| Error::Replica {
        stage: stage.to_string(),
        error,
    };
    let mut replica = make().map_err(broken)?;
    replica
        .open(&ReplicaContext::detached(stage, number as u32))
        .map_err(broken)?;
    Ok(replica)
}
