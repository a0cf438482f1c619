//! The driver's stand-in for remote stages inside its own engine pipeline:
//! a parallel stage whose replicas publish each chunk of items into the
//! first remote boundary and wait for what comes out of the last, so the
//! engine's bounds, order, error policies, stats and report work across a
//! distributed run as they do locally.
//!
//! One task feeds the hop (numbering items as they come, from every
//! replica), one collects it and hands each entry to the replica waiting
//! for its sequence number. If the hop breaks (a publish failing for good,
//! a message nobody can read), every waiting replica and every later one
//! gets the error: nothing waits for an answer that cannot come.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use async_nats::jetstream::Context;
use baton_engine::{BoxError, ChunkFloor, ChunkOutputs, Stage};
use baton_ops::{BuiltStage, Item, Payload};
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;

use crate::driver::{hop, Collector, Feeder, HopOptions, Order};
use crate::error::Error;
use crate::sizing::{items_for, CostMeter};
use crate::stats::worker_stats;
use crate::topology::{Boundary, Topology};
use crate::wire::Outcome;

/// What became of one item sent through the hop: its outputs, or why it
/// failed.
type Answer = Result<Vec<Item>, String>;

/// A chunk of items from a replica, and where its answers go.
struct Request {
    items: Vec<Item>,
    reply: oneshot::Sender<Vec<Answer>>,
}

/// A request whose answers are coming in.
struct Waiting {
    answers: Vec<Option<Answer>>,
    left: usize,
    reply: Option<oneshot::Sender<Vec<Answer>>>,
}

/// Which request each sequence number belongs to.
#[derive(Default)]
struct Routes {
    waiting: HashMap<u64, Waiting>,
    /// The first sequence number of each waiting request → the request
    /// (its items have the numbers that follow, one per item).
    by_first: BTreeMap<u64, u64>,
    /// Why the hop can no longer answer, once it cannot.
    broken: Option<String>,
}

impl Routes {
    fn answer(&mut self, seq: u64, answer: Answer) {
        let Some((&first, &request)) = self.by_first.range(..=seq).next_back() else {
            return; // not ours (a duplicate the collector let through)
        };
        let Some(waiting) = self.waiting.get_mut(&request) else {
            return;
        };
        let index = (seq - first) as usize;
        if index >= waiting.answers.len() {
            return; // of a request already answered
        }
        if waiting.answers[index].is_none() {
            waiting.answers[index] = Some(answer);
            waiting.left -= 1;
        }
        if waiting.left == 0 {
            self.by_first.remove(&first);
            let mut done = self.waiting.remove(&request).expect("just seen");
            let answers = done
                .answers
                .drain(..)
                .map(|answer| answer.unwrap_or_else(|| Err("no answer".into())))
                .collect();
            if let Some(reply) = done.reply.take() {
                let _ = reply.send(answers);
            }
        }
    }

    /// Fails every waiting request (and every later one) with `why`.
    fn break_with(&mut self, why: String) {
        self.by_first.clear();
        for (_, mut waiting) in self.waiting.drain() {
            let answers = waiting
                .answers
                .drain(..)
                .map(|answer| answer.unwrap_or_else(|| Err(why.clone())))
                .collect();
            if let Some(reply) = waiting.reply.take() {
                let _ = reply.send(answers);
            }
        }
        self.broken.get_or_insert(why);
    }
}

/// A hop through remote stages, driven from the engine's threads: make its
/// stage with [`Remote::stage`] and put it in the pipeline where the remote
/// stages were.
///
/// # Examples
///
/// ```no_run
/// # fn run(runtime: &tokio::runtime::Runtime, js: async_nats::jetstream::Context, topology: baton_nats::Topology) -> Result<(), Box<dyn std::error::Error>> {
/// use baton_engine::{Mode, Pipeline};
/// use baton_nats::{Boundary, HopOptions, Remote};
/// use baton_ops::Item;
///
/// let remote = runtime.block_on(Remote::open(
///     &js, &topology, Boundary::stage("resize"), Boundary::Sink, HopOptions::default(),
/// ))?;
/// let items = (0..100).map(|n| Item::with_field("n", n));
/// let builder = Pipeline::from_iter(items).stage("resize", Mode::parallel(8).blocking());
/// let out = remote.stage(false).attach(builder).collect()?;
/// assert_eq!(out.len(), 100);
/// remote.close();
/// # Ok(()) }
/// ```
pub struct Remote {
    requests: mpsc::Sender<Request>,
    /// Items per message, and the fewest per engine chunk.
    floor: ChunkFloor,
    routes: Arc<Mutex<Routes>>,
    feeding: JoinHandle<()>,
    collecting: JoinHandle<()>,
    sizing: Option<JoinHandle<()>>,
}

impl std::fmt::Debug for Remote {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Remote").finish_non_exhaustive()
    }
}

impl Remote {
    /// Opens the hop from boundary `into` to boundary `out_of` and starts
    /// its feeding and collecting tasks on the current runtime. The run's
    /// streams must be there ([`Topology::prepare`]). The options' order
    /// is not used: the engine keeps order itself.
    ///
    /// # Errors
    ///
    /// The collector's consumer is not there.
    ///
    /// # Examples
    ///
    /// See [`Remote`].
    pub async fn open(
        js: &Context,
        topology: &Topology,
        into: Boundary,
        out_of: Boundary,
        options: HopOptions,
    ) -> Result<Self, Error> {
        let options = HopOptions {
            order: Order::Arrival,
            ..options
        };
        let (feeder, collector) = hop(js, topology, into, out_of, options).await?;
        let routes = Arc::new(Mutex::new(Routes::default()));
        let (requests, queue) = mpsc::channel(64);
        let floor = ChunkFloor::new(options.chunk_items);
        let feeding = tokio::spawn(feed(feeder, queue, Arc::clone(&routes), floor.clone()));
        let collecting = tokio::spawn(collect(collector, Arc::clone(&routes)));
        let sizing = options.message_work.map(|work| {
            tokio::spawn(size_messages(
                js.clone(),
                topology.clone(),
                floor.clone(),
                work,
                options.most_message_items(),
            ))
        });
        Ok(Self {
            requests,
            floor,
            routes,
            feeding,
            collecting,
            sizing,
        })
    }

    /// The stage that sends its items through the hop: parallel, each
    /// replica keeping one chunk in flight (so give it `blocking` replicas,
    /// as many as chunks should be in flight). With `rows`, chunks of
    /// records that come back go on as rows, an item each (for a next stage
    /// that takes a record at a time).
    ///
    /// # Examples
    ///
    /// See [`Remote`].
    pub fn stage(&self, rows: bool) -> BuiltStage {
        let requests = self.requests.clone();
        let routes = Arc::clone(&self.routes);
        BuiltStage::record_replicas(move || {
            Ok(RemoteReplica {
                requests: requests.clone(),
                routes: Arc::clone(&routes),
                rows,
            })
        })
        // A round trip per chunk: chunks as full as a message.
        .chunk_floor(self.floor.clone())
    }

    /// How many items a message carries now (see
    /// [`HopOptions::message_work`]).
    ///
    /// # Examples
    ///
    /// See [`Remote`]: `remote.message_items()` is 256 until the workers
    /// have reported their costs.
    pub fn message_items(&self) -> usize {
        self.floor.get()
    }

    /// Stops the hop's tasks (call it once the pipeline has ended).
    ///
    /// # Examples
    ///
    /// See [`Remote`].
    pub fn close(self) {
        self.feeding.abort();
        self.collecting.abort();
        if let Some(sizing) = self.sizing {
            sizing.abort();
        }
    }
}

/// Numbers the items of each request, publishes them, and routes their
/// sequence numbers to the request. Requests that are already waiting when
/// one comes go into the same messages (up to the floor's count of items
/// each): under load, the messages fill up from many replicas' chunks.
async fn feed(
    feeder: Feeder,
    mut queue: mpsc::Receiver<Request>,
    routes: Arc<Mutex<Routes>>,
    floor: ChunkFloor,
) {
    let mut feeding = Feeding {
        feeder,
        routes,
        next_seq: 0,
        next_request: 0,
    };
    while let Some(request) = queue.recv().await {
        feeding.feeder.set_chunk_items(floor.get());
        feeding.take(request).await;
        while let Ok(request) = queue.try_recv() {
            feeding.take(request).await;
        }
        if let Err(error) = feeding.feeder.send_pending().await {
            feeding.break_with(&error);
        }
    }
    let _ = feeding.feeder.flush().await;
}

/// The feeding task's state.
struct Feeding {
    feeder: Feeder,
    routes: Arc<Mutex<Routes>>,
    next_seq: u64,
    next_request: u64,
}

impl Feeding {
    /// Routes a request's sequence numbers to it and feeds its items (the
    /// last message may stay pending, for the next request to fill).
    async fn take(&mut self, Request { items, reply }: Request) {
        if items.is_empty() {
            let _ = reply.send(Vec::new());
            return;
        }
        let id = self.next_request;
        self.next_request += 1;
        {
            let mut routes = self.routes.lock().unwrap_or_else(PoisonError::into_inner);
            if let Some(why) = routes.broken.clone() {
                let _ = reply.send(items.iter().map(|_| Err(why.clone())).collect());
                return;
            }
            // Routed before publishing: an answer may come back at once.
            routes.by_first.insert(self.next_seq, id);
            routes.waiting.insert(
                id,
                Waiting {
                    answers: (0..items.len()).map(|_| None).collect(),
                    left: items.len(),
                    reply: Some(reply),
                },
            );
        }
        for item in items {
            match self.feeder.feed(item).await {
                Ok(seq) => debug_assert_eq!(seq, self.next_seq),
                Err(error) => {
                    self.break_with(&error);
                    return;
                }
            }
            self.next_seq += 1;
        }
    }

    /// Fails every waiting and later request: publishing failed for good.
    fn break_with(&self, error: &Error) {
        let why = format!("cannot publish to the remote stages: {error}");
        self.routes
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .break_with(why);
    }
}

/// Sets the floor (items per message, and per engine chunk) from the
/// workers' costs, every half second, until aborted.
async fn size_messages(
    js: Context,
    topology: Topology,
    floor: ChunkFloor,
    work: Duration,
    most: usize,
) {
    let mut meter = CostMeter::default();
    let mut tick = tokio::time::interval(Duration::from_millis(500));
    loop {
        tick.tick().await;
        let Ok(workers) = worker_stats(&js, &topology).await else {
            continue; // the server is away: keep the size we have
        };
        if let Some(cost_ns) = meter.costliest_ns(&workers) {
            floor.set(items_for(work, cost_ns, most));
        }
    }
}

/// Hands each entry that comes out of the hop to the request it belongs to.
async fn collect(mut collector: Collector, routes: Arc<Mutex<Routes>>) {
    while let Some(entry) = collector.next().await {
        let mut routes = routes.lock().unwrap_or_else(PoisonError::into_inner);
        match entry {
            Ok(entry) => {
                let answer = match entry.outcome {
                    Outcome::Items(items) => Ok(items),
                    Outcome::Failed(failure) => Err(format!(
                        "failed on every delivery to the workers of stage `{}`: {}",
                        failure.stage, failure.error
                    )),
                };
                routes.answer(entry.seq, answer);
            }
            // The feeder went: the run is over.
            Err(Error::FeederGone) => return,
            // A message nobody can read: its items cannot be accounted for.
            Err(error) => {
                routes.break_with(format!(
                    "a message from the remote stages is unreadable: {error}"
                ));
                return;
            }
        }
    }
}

/// A replica of the stand-in stage: publishes its chunk, waits for its
/// answers.
struct RemoteReplica {
    requests: mpsc::Sender<Request>,
    routes: Arc<Mutex<Routes>>,
    rows: bool,
}

impl RemoteReplica {
    fn send(&self, items: Vec<Item>) -> Vec<Answer> {
        let count = items.len();
        let (reply, answers) = oneshot::channel();
        let gone = || {
            let routes = self.routes.lock().unwrap_or_else(PoisonError::into_inner);
            routes
                .broken
                .clone()
                .unwrap_or_else(|| "the hop to the remote stages has stopped".into())
        };
        if self
            .requests
            .blocking_send(Request { items, reply })
            .is_err()
        {
            let why = gone();
            return (0..count).map(|_| Err(why.clone())).collect();
        }
        match answers.blocking_recv() {
            Ok(answers) => answers,
            Err(_) => {
                let why = gone();
                (0..count).map(|_| Err(why.clone())).collect()
            }
        }
    }

    /// `items`, or their rows when the next stage takes a record at a time.
    fn hand_on(&self, items: Vec<Item>, out: &mut impl FnMut(Item)) {
        for item in items {
            if self.rows && matches!(item.payload, Payload::Records(_)) {
                item.rows().into_iter().for_each(&mut *out);
            } else {
                out(item);
            }
        }
    }
}

impl Stage<Item, Item> for RemoteReplica {
    fn process(&mut self, item: Item, out: &mut Vec<Item>) -> Result<(), BoxError> {
        match self.send(vec![item]).pop() {
            Some(Ok(items)) => {
                self.hand_on(items, &mut |item| out.push(item));
                Ok(())
            }
            Some(Err(why)) => Err(why.into()),
            None => Err("the remote stages gave no answer".into()),
        }
    }

    fn takes_chunks(&self) -> bool {
        true
    }

    fn process_chunk(&mut self, items: Vec<Item>, out: &mut ChunkOutputs<Item, Item>) {
        for answer in self.send(items) {
            match answer {
                Ok(items) => {
                    self.hand_on(items, &mut |item| out.push(item));
                    out.done();
                }
                Err(why) => out.failed(why, None),
            }
        }
    }
}
