//! The driver's side of a hop through remote stages: a [`Feeder`] that
//! publishes items into the first remote boundary, and a [`Collector`]
//! that reads what comes out of the last one, each sequence number once.
//!
//! **Sequence numbers and the end.** The feeder numbers the items it
//! publishes 0, 1, 2, ... Every remote stage forwards, for each sequence
//! number it takes, one entry: its outputs (none when it filtered the item
//! out) or a failure marker (it went to the dead-letter stream). So the
//! collector can account for every number, and once the feeder has
//! finished (it knows how many it sent) and every number below that count
//! is accounted for, the hop is over: no timeout, no guess.
//!
//! **Exactly once.** An entry may arrive twice (a worker that redid a
//! message after its de-duplication window, or a failure marker racing
//! late outputs): the collector keeps the first and drops any sequence
//! number it has already accounted for.
//!
//! **Bounded.** The feeder may run at most `window` sequence numbers ahead
//! of the collector's watermark (the lowest number not yet accounted for):
//! this bounds the items in flight across the whole hop, and so the
//! collector's reorder buffer, which never needs more than `window`
//! entries to restore source order. The streams' own limits (publishers
//! wait on a full stream) bound each boundary besides.

use std::collections::{BTreeMap, VecDeque};
use std::time::Duration;

use async_nats::jetstream::consumer::PullConsumer;
use async_nats::jetstream::{self, Context};
use baton_ops::Item;
use futures::StreamExt;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::error::Error;
use crate::publish::{epoch_of, Publisher};
use crate::topology::{Boundary, Topology};
use crate::wire::{self, DeadLetter, EncodedEntry, Entry, Outcome};

/// Whether the collector gives entries in source order.
///
/// # Examples
///
/// ```
/// assert_eq!(baton_nats::Order::default(), baton_nats::Order::Source);
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Order {
    /// In the order of the sequence numbers (a reorder buffer of at most
    /// the window).
    #[default]
    Source,
    /// As they arrive.
    Arrival,
}

/// How a hop is driven.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
///
/// let options = baton_nats::HopOptions { window: 10_000, ..Default::default() };
/// assert_eq!(options.chunk_items, 256);
/// assert_eq!(options.message_work, Some(Duration::from_millis(20)));
/// assert_eq!(options.most_message_items(), 1250);
/// ```
#[derive(Clone, Copy, Debug)]
pub struct HopOptions {
    /// Most sequence numbers in flight between feeder and collector.
    pub window: u64,
    /// Most items in one message from the feeder (fewer when they are big:
    /// a message never exceeds the server's `max_payload`). With
    /// `message_work`, the count a [`Remote`](crate::Remote) starts with
    /// until the workers' costs are known.
    pub chunk_items: usize,
    /// For a [`Remote`](crate::Remote): the work a message should carry
    /// for one replica of the costliest remote stage. The count of items
    /// per message then follows the cost per item the workers report
    /// (read every half second), between 1 and
    /// [`HopOptions::most_message_items`]: thousands of cheap items
    /// travel together, slow ones a few at a time so that every replica
    /// gets work. `None`: always `chunk_items`.
    pub message_work: Option<Duration>,
    /// Bytes of items after which the feeder starts a new message (an item
    /// larger than that travels alone, up to the server's `max_payload`):
    /// NATS is at its best with messages of a few MiB at most.
    pub message_bytes: usize,
    /// Most messages whose publish acks the feeder awaits at once.
    pub publishes_in_flight: usize,
    /// In source order, or as they arrive.
    pub order: Order,
}

impl Default for HopOptions {
    fn default() -> Self {
        Self {
            window: 4096,
            chunk_items: 256,
            message_work: Some(Duration::from_millis(20)),
            message_bytes: 4 << 20,
            publishes_in_flight: 8,
            order: Order::Source,
        }
    }
}

impl HopOptions {
    /// The most items a message may carry when its size adapts: an
    /// eighth of the window, so that at least eight messages are in
    /// flight for the workers to share.
    ///
    /// # Examples
    ///
    /// See [`HopOptions`].
    pub fn most_message_items(&self) -> usize {
        usize::try_from(self.window / 8)
            .unwrap_or(usize::MAX)
            .max(1)
    }
}

/// Opens a hop: the feeder into boundary `into` and the collector out of
/// boundary `out_of` (usually [`Boundary::Sink`]). The run's streams must
/// be there ([`Topology::prepare`]).
///
/// # Errors
///
/// [`Error::JetStream`] when the collector's consumer is not there.
///
/// # Examples
///
/// ```no_run
/// # async fn run() -> Result<(), baton_nats::Error> {
/// use baton_nats::{hop, Boundary, ConnectOptions, HopOptions, Leftover, Topology};
/// use baton_ops::Item;
///
/// let client = ConnectOptions::new("nats://127.0.0.1:4222").connect().await?;
/// let js = async_nats::jetstream::new(client);
/// let run = Topology::new("nightly", Default::default())?;
/// let boundaries = [Boundary::stage("resize"), Boundary::Sink];
/// run.prepare(&js, &boundaries, Leftover::Fail).await?;
/// let (mut feeder, mut collector) =
///     hop(&js, &run, Boundary::stage("resize"), Boundary::Sink, HopOptions::default()).await?;
/// let feeding = tokio::spawn(async move {
///     for n in 0..1000 {
///         feeder.feed(Item::with_field("n", n)).await?;
///     }
///     feeder.finish().await
/// });
/// while let Some(entry) = collector.next().await {
///     let entry = entry?;
///     println!("{}: {:?}", entry.seq, entry.outcome);
/// }
/// feeding.await.expect("the feeder panicked")?;
/// run.remove(&js, &boundaries, true).await?;
/// # Ok(()) }
/// ```
pub async fn hop(
    js: &Context,
    topology: &Topology,
    into: Boundary,
    out_of: Boundary,
    options: HopOptions,
) -> Result<(Feeder, Collector), Error> {
    let consumer = topology
        .consumer(js, &out_of, Duration::from_secs(5))
        .await?;
    let epoch = topology.epoch(js, &into).await?;
    let (watermark_tx, watermark_rx) = watch::channel(0u64);
    let (total_tx, total_rx) = watch::channel(None);
    let publisher = Publisher::new(js.clone(), topology.clone());
    let max_body = publisher.max_body();
    let pull_bytes = publisher.pull_bytes();
    let feeder = Feeder {
        publisher,
        epoch: epoch.clone(),
        into,
        options,
        max_body,
        watermark: watermark_rx,
        total: total_tx,
        next_seq: 0,
        pending: Vec::new(),
        pending_bytes: 0,
        in_flight: VecDeque::new(),
    };
    let collector = Collector {
        consumer,
        epoch,
        pull_bytes,
        messages: None,
        order: options.order,
        watermark: 0,
        watermark_tx,
        total: total_rx,
        above: BTreeMap::new(),
        ready: VecDeque::new(),
        duplicates: 0,
        stale: 0,
        feeder_gone: false,
    };
    Ok((feeder, collector))
}

/// Publishes items into a hop's first boundary, numbering them.
///
/// Items are packed into messages of up to `chunk_items` items; a message
/// is published when it is full, on [`Feeder::flush`], and before the
/// feeder waits for room in the window. Publishes are pipelined (up to
/// `publishes_in_flight` awaiting their acks), and each is retried until
/// stored.
///
/// # Examples
///
/// See [`hop`].
#[derive(Debug)]
pub struct Feeder {
    publisher: Publisher,
    /// The run's epoch (see [`Topology::epoch`]), on every message.
    epoch: String,
    into: Boundary,
    options: HopOptions,
    max_body: usize,
    watermark: watch::Receiver<u64>,
    total: watch::Sender<Option<u64>>,
    next_seq: u64,
    pending: Vec<EncodedEntry>,
    pending_bytes: usize,
    in_flight: VecDeque<JoinHandle<Result<(), Error>>>,
}

impl Feeder {
    /// Publishes an item (in a message with the next ones) and returns its
    /// sequence number; waits while the window is full.
    ///
    /// # Errors
    ///
    /// The item cannot be encoded or is larger than a message may be, or
    /// an earlier publish failed for good.
    ///
    /// # Examples
    ///
    /// See [`hop`].
    pub async fn feed(&mut self, item: Item) -> Result<u64, Error> {
        self.feed_entry(Entry::items(self.next_seq, vec![item]))
            .await
    }

    async fn feed_entry(&mut self, entry: Entry) -> Result<u64, Error> {
        let seq = self.next_seq;
        if seq >= *self.watermark.borrow() + self.options.window {
            self.send_pending().await?;
            let window = self.options.window;
            let _ = self.watermark.wait_for(|&w| seq < w + window).await;
        }
        let encoded = wire::encode_entry(&entry)?;
        if encoded.len() + 11 > self.max_body {
            return Err(crate::WireError::EntryTooLarge {
                seq,
                bytes: encoded.len(),
                max_bytes: self.max_body,
            }
            .into());
        }
        let message_bytes = self.options.message_bytes.min(self.max_body);
        if self.pending_bytes + encoded.len() + 11 > message_bytes {
            self.send_pending().await?;
        }
        self.pending_bytes += encoded.len();
        self.pending.push(encoded);
        self.next_seq += 1;
        if self.pending.len() >= self.options.chunk_items {
            self.send_pending().await?;
        }
        Ok(seq)
    }

    /// Packs up to `items` items in a message from now on (at least 1).
    pub(crate) fn set_chunk_items(&mut self, items: usize) {
        self.options.chunk_items = items.max(1);
    }

    /// Publishes what is pending now (a source that trickles calls it when
    /// it waits), without waiting for the acks.
    pub(crate) async fn send_pending(&mut self) -> Result<(), Error> {
        if self.pending.is_empty() {
            return Ok(());
        }
        let entries = std::mem::take(&mut self.pending);
        self.pending_bytes = 0;
        let chunks = wire::pack(entries, self.max_body)?;
        while self.in_flight.len() >= self.options.publishes_in_flight.max(1) {
            let oldest = self.in_flight.pop_front().expect("in flight");
            joined(oldest.await)?;
        }
        let publisher = self.publisher.clone();
        let into = self.into.clone();
        let epoch = self.epoch.clone();
        self.in_flight.push_back(tokio::spawn(async move {
            publisher.chunks(&into, chunks, &epoch).await
        }));
        Ok(())
    }

    /// Publishes what is pending and waits until every publish is stored.
    ///
    /// # Errors
    ///
    /// A publish failed for good.
    ///
    /// # Examples
    ///
    /// See [`hop`].
    pub async fn flush(&mut self) -> Result<(), Error> {
        self.send_pending().await?;
        while let Some(oldest) = self.in_flight.pop_front() {
            joined(oldest.await)?;
        }
        Ok(())
    }

    /// Flushes, and tells the collector how many items there were: it ends
    /// once every one is accounted for. Returns that count.
    ///
    /// # Errors
    ///
    /// A publish failed for good.
    ///
    /// # Examples
    ///
    /// See [`hop`].
    pub async fn finish(mut self) -> Result<u64, Error> {
        self.flush().await?;
        let total = self.next_seq;
        let _ = self.total.send(Some(total));
        Ok(total)
    }
}

fn joined(result: Result<Result<(), Error>, tokio::task::JoinError>) -> Result<(), Error> {
    match result {
        Ok(result) => result,
        Err(join) if join.is_panic() => std::panic::resume_unwind(join.into_panic()),
        Err(_) => Err(Error::Stopped),
    }
}

/// Reads the entries that come out of a hop's last boundary, each sequence
/// number once, in source order or as they arrive; ends when the feeder
/// has finished and every sequence number is accounted for.
///
/// # Examples
///
/// See [`hop`].
pub struct Collector {
    consumer: PullConsumer,
    /// The run's epoch: a message with another is a replaced run's.
    epoch: String,
    /// The most bytes a pull may bring (see `Publisher::pull_bytes`).
    pull_bytes: usize,
    messages: Option<async_nats::jetstream::consumer::pull::Stream>,
    order: Order,
    /// The lowest sequence number not yet accounted for.
    watermark: u64,
    watermark_tx: watch::Sender<u64>,
    total: watch::Receiver<Option<u64>>,
    /// Accounted for above the watermark: the entry itself while it waits
    /// its turn (source order), or nothing (already given out).
    above: BTreeMap<u64, Option<Outcome>>,
    ready: VecDeque<Entry>,
    duplicates: u64,
    /// Messages of another epoch, dropped.
    stale: u64,
    feeder_gone: bool,
}

impl std::fmt::Debug for Collector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Collector")
            .field("order", &self.order)
            .field("watermark", &self.watermark)
            .field("waiting", &self.above.len())
            .field("duplicates", &self.duplicates)
            .finish_non_exhaustive()
    }
}

impl Collector {
    /// The next entry; `None` once the hop is over.
    ///
    /// # Errors
    ///
    /// A message that is not a chunk of items (it is acknowledged and
    /// skipped, so the next call goes on).
    ///
    /// # Examples
    ///
    /// See [`hop`].
    pub async fn next(&mut self) -> Option<Result<Entry, Error>> {
        loop {
            if let Some(entry) = self.ready.pop_front() {
                return Some(Ok(entry));
            }
            if matches!(*self.total.borrow(), Some(total) if self.watermark >= total) {
                return None;
            }
            if self.messages.is_none() {
                let pull = self
                    .consumer
                    .stream()
                    .max_messages_per_batch(64)
                    .max_bytes_per_batch(self.pull_bytes)
                    .heartbeat(Duration::from_secs(15))
                    .messages();
                match pull.await {
                    Ok(messages) => self.messages = Some(messages),
                    Err(_) => {
                        tokio::time::sleep(Duration::from_millis(200)).await;
                        continue;
                    }
                }
            }
            let messages = self.messages.as_mut().expect("just made");
            tokio::select! {
                message = messages.next() => match message {
                    Some(Ok(message)) => {
                        let epoch = epoch_of(&message);
                        if epoch != self.epoch {
                            // Published late by a worker of a replaced run.
                            let _ = message.ack().await;
                            self.stale += 1;
                            continue;
                        }
                        let entries = wire::decode(&message.payload);
                        let _ = message.ack().await;
                        match entries {
                            Ok(entries) => self.take(entries),
                            Err(error) => return Some(Err(error.into())),
                        }
                    }
                    // Missed heartbeats (a server away) or the stream
                    // closed: pull again.
                    Some(Err(_)) | None => {
                        self.messages = None;
                        tokio::time::sleep(Duration::from_millis(100)).await;
                    }
                },
                changed = self.total.changed(), if !self.feeder_gone => {
                    // A feeder dropped unfinished never tells the count:
                    // the hop cannot end, say so rather than wait forever.
                    self.feeder_gone = changed.is_err();
                    if self.feeder_gone && self.total.borrow().is_none() {
                        return Some(Err(Error::FeederGone));
                    }
                }
            }
        }
    }

    /// How many entries arrived again and were dropped.
    ///
    /// # Examples
    ///
    /// See [`hop`].
    pub fn duplicates(&self) -> u64 {
        self.duplicates
    }

    /// How many messages of a replaced run (another epoch, see
    /// [`Topology::epoch`]) arrived and were dropped.
    ///
    /// # Examples
    ///
    /// See [`hop`].
    pub fn stale(&self) -> u64 {
        self.stale
    }

    fn take(&mut self, entries: Vec<Entry>) {
        for entry in entries {
            if entry.seq < self.watermark || self.above.contains_key(&entry.seq) {
                self.duplicates += 1;
                continue;
            }
            match self.order {
                Order::Source => {
                    self.above.insert(entry.seq, Some(entry.outcome));
                }
                Order::Arrival => {
                    self.above.insert(entry.seq, None);
                    self.ready.push_back(entry);
                }
            }
        }
        let before = self.watermark;
        while let Some(first) = self.above.first_entry() {
            if *first.key() != self.watermark {
                break;
            }
            if let Some(outcome) = first.remove() {
                self.ready.push_back(Entry {
                    seq: self.watermark,
                    outcome,
                });
            }
            self.watermark += 1;
        }
        if self.watermark != before {
            let _ = self.watermark_tx.send(self.watermark);
        }
    }
}

/// A hop driven from synchronous code (the engine's threads): a thread of
/// its own feeds it the items of an iterator, and the hop is an iterator
/// of the entries that come out, in the collector's order.
///
/// Its `next` blocks on the runtime given: call it from a plain thread,
/// not from inside an async task. If feeding fails, the iteration ends
/// with that error.
///
/// # Examples
///
/// ```no_run
/// # fn run(runtime: &tokio::runtime::Runtime, js: async_nats::jetstream::Context, topology: baton_nats::Topology) -> Result<(), baton_nats::Error> {
/// use baton_nats::{hop, BlockingHop, Boundary, HopOptions};
/// use baton_ops::Item;
///
/// let (feeder, collector) = runtime.block_on(hop(
///     &js, &topology, Boundary::stage("resize"), Boundary::Sink, HopOptions::default(),
/// ))?;
/// let items = (0..100).map(|n| Item::with_field("n", n));
/// for entry in BlockingHop::start(runtime.handle().clone(), feeder, collector, items) {
///     println!("{:?}", entry?);
/// }
/// # Ok(()) }
/// ```
pub struct BlockingHop {
    runtime: tokio::runtime::Handle,
    collector: Collector,
    feeding: Option<std::thread::JoinHandle<Result<u64, Error>>>,
    over: bool,
}

impl std::fmt::Debug for BlockingHop {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BlockingHop")
            .field("collector", &self.collector)
            .finish_non_exhaustive()
    }
}

impl BlockingHop {
    /// Starts feeding `items` on a thread of its own.
    ///
    /// # Panics
    ///
    /// If the thread cannot be started.
    ///
    /// # Examples
    ///
    /// See [`BlockingHop`].
    pub fn start<I>(
        runtime: tokio::runtime::Handle,
        mut feeder: Feeder,
        collector: Collector,
        items: I,
    ) -> Self
    where
        I: IntoIterator<Item = Item>,
        I::IntoIter: Send + 'static,
    {
        let items = items.into_iter();
        let handle = runtime.clone();
        let feeding = std::thread::Builder::new()
            .name("baton-nats feeder".into())
            .spawn(move || {
                for item in items {
                    handle.block_on(feeder.feed(item))?;
                }
                handle.block_on(feeder.finish())
            })
            .expect("the feeder's thread starts");
        Self {
            runtime,
            collector,
            feeding: Some(feeding),
            over: false,
        }
    }

    /// How many entries arrived again and were dropped.
    ///
    /// # Examples
    ///
    /// See [`Collector::duplicates`].
    pub fn duplicates(&self) -> u64 {
        self.collector.duplicates()
    }

    /// The feeder's outcome, once it is over.
    fn feeding_error(&mut self) -> Option<Error> {
        let feeding = self.feeding.take()?;
        match feeding.join() {
            Ok(Ok(_)) => None,
            Ok(Err(error)) => Some(error),
            Err(panic) => std::panic::resume_unwind(panic),
        }
    }
}

impl Iterator for BlockingHop {
    type Item = Result<Entry, Error>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.over {
            return None;
        }
        match self.runtime.block_on(self.collector.next()) {
            Some(Err(Error::FeederGone)) => {
                self.over = true;
                Some(Err(self.feeding_error().unwrap_or(Error::FeederGone)))
            }
            None => {
                self.over = true;
                self.feeding_error().map(Err)
            }
            some => some,
        }
    }
}

/// Reads the run's dead letters (every item that failed on every delivery).
///
/// # Errors
///
/// [`Error::JetStream`] when the stream cannot be read.
///
/// # Examples
///
/// ```no_run
/// # async fn run(js: async_nats::jetstream::Context) -> Result<(), baton_nats::Error> {
/// let run = baton_nats::Topology::new("nightly", Default::default())?;
/// for letter in baton_nats::dead_letters(&js, &run).await? {
///     eprintln!("item {} failed at {}: {}", letter.seq, letter.stage, letter.error);
/// }
/// # Ok(()) }
/// ```
pub async fn dead_letters(js: &Context, topology: &Topology) -> Result<Vec<DeadLetter>, Error> {
    let name = topology.dead_letter_stream();
    let mut stream = js
        .get_stream(&name)
        .await
        .map_err(|e| Error::jetstream(format!("stream {name}"), e))?;
    let state = stream
        .info()
        .await
        .map_err(|e| Error::jetstream(format!("stream {name}"), e))?
        .state
        .clone();
    let mut letters = Vec::new();
    if state.messages == 0 {
        return Ok(letters);
    }
    for seq in state.first_sequence..=state.last_sequence {
        if let Ok(message) = stream.get_raw_message(seq).await {
            letters.push(DeadLetter::decode(&message.payload)?);
        }
    }
    Ok(letters)
}

/// A JetStream context for a client (for callers that only hold a
/// client). Call it within a tokio runtime (a task, or after
/// `Runtime::enter`): the context starts a task of its own.
///
/// # Examples
///
/// ```no_run
/// # async fn run(client: async_nats::Client) {
/// let js = baton_nats::jetstream(&client);
/// # }
/// ```
pub fn jetstream(client: &async_nats::Client) -> Context {
    jetstream::new(client.clone())
}
