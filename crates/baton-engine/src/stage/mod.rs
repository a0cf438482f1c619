//! The one mechanism every operator is written with.
//!
//! # The stage contract
//!
//! * An operator gets a chunk of items (`Vec<In>`) with their sequence
//!   numbers and returns a chunk of outputs with theirs. It may drop items
//!   (filter), make several from one (flat_map) or hold some back (batch); an
//!   output item carries the sequence number of the first input it came from.
//! * A serial stage's replica sees chunks one at a time; a `serial_in_order`
//!   one sees them in source order. A parallel stage's replicas see disjoint
//!   chunks at once.
//! * At the end of the stream a serial replica's `finish` is called once,
//!   after its last chunk, and may emit what it held back. Parallel replicas
//!   are dropped at the end (their `Drop` runs).
//! * A stage that returns `Flow::Finished` takes no more input: the engine
//!   stops the source and discards what reaches the stage from then on
//!   (`take`).
//! * Failures are reported per item, with its sequence number. Operators
//!   run their items through one of the chunk drivers of [`drive`], which
//!   apply the stage's error policy (the one loop of [`policy`]); a panic
//!   counts as a failure.

pub(crate) mod drive;
pub(crate) mod policy;

use std::any::Any;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;

use crate::chunk::{ChunkData, Seqs};
use crate::context::{Cancellation, ReplicaContext};
use crate::dead_letters::DeadLetters;
use crate::error::{DeadLetter, ItemFailure, OnError, StageFailure};
use crate::mode::Mode;

/// Whether a stage wants more input.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Flow {
    Continue,
    Finished,
}

/// What an operator returns for a chunk.
#[derive(Debug)]
pub(crate) struct Output<T> {
    pub(crate) items: Vec<T>,
    pub(crate) seqs: Seqs,
    pub(crate) flow: Flow,
}

impl<T> Output<T> {
    pub(crate) fn new(items: Vec<T>, seqs: Seqs) -> Self {
        Self {
            items,
            seqs,
            flow: Flow::Continue,
        }
    }

    pub(crate) fn empty() -> Self {
        Self::new(Vec::new(), Seqs::empty())
    }
}

/// A typed stage replica: the trait every operator implements.
pub(crate) trait Operator: Send + 'static {
    type In: Send + 'static;
    type Out: Send + 'static;

    fn process(
        &mut self,
        items: Vec<Self::In>,
        seqs: Seqs,
        ctx: &StageContext,
    ) -> Result<Output<Self::Out>, ItemFailure>;

    /// Called once when the replica is made, before its first chunk.
    fn open(&mut self, _ctx: &ReplicaContext) -> Result<(), StageFailure> {
        Ok(())
    }

    /// Called once at the end of the stream on serial stages.
    fn finish(&mut self, _ctx: &StageContext) -> Result<Output<Self::Out>, ItemFailure> {
        Ok(Output::empty())
    }
}

/// A stage replica with its item types erased, as the executor sees it.
pub(crate) trait Replica: Send {
    fn open(&mut self, _ctx: &ReplicaContext) -> Result<(), StageFailure> {
        Ok(())
    }
    fn process(
        &mut self,
        data: ChunkData,
        ctx: &StageContext,
    ) -> Result<(ChunkData, Flow), ItemFailure>;
    /// Appends what the stage held back to `before`, the output of the last chunk.
    fn finish(&mut self, before: ChunkData, ctx: &StageContext) -> Result<ChunkData, ItemFailure>;
}

impl<O: Operator> Replica for O {
    fn open(&mut self, ctx: &ReplicaContext) -> Result<(), StageFailure> {
        Operator::open(self, ctx)
    }

    fn process(
        &mut self,
        data: ChunkData,
        ctx: &StageContext,
    ) -> Result<(ChunkData, Flow), ItemFailure> {
        if data.items.is_none() {
            return Ok((ChunkData::empty(), Flow::Continue));
        }
        let (items, seqs, spare) = data.into_vec_and_box::<O::In>();
        let out = Operator::process(self, items, seqs, ctx)?;
        Ok((ChunkData::from_vec_in(out.items, out.seqs, spare), out.flow))
    }

    fn finish(&mut self, before: ChunkData, ctx: &StageContext) -> Result<ChunkData, ItemFailure> {
        let out = Operator::finish(self, ctx)?;
        if before.items.is_none() {
            return Ok(ChunkData::from_vec(out.items, out.seqs));
        }
        let (mut items, seqs) = before.into_vec::<O::Out>();
        let mut all = crate::chunk::SeqsBuilder::with_capacity(items.len() + out.items.len());
        seqs.iter()
            .chain(out.seqs.iter())
            .for_each(|seq| all.push(seq));
        items.extend(out.items);
        Ok(ChunkData::from_vec(items, all.finish()))
    }
}

/// Makes a new replica of a stage.
pub(crate) type ReplicaFactory = Box<dyn FnMut() -> Result<Box<dyn Replica>, StageFailure> + Send>;

/// A stage as the builder describes it, before the run.
pub(crate) struct StageSpec {
    pub(crate) name: Arc<str>,
    pub(crate) mode: Mode,
    pub(crate) policy: OnError,
    /// Most items queued in front of the stage; the source waits past it.
    pub(crate) buffer: Option<usize>,
    /// The tuner sizes the queue in front (see `StageBuilder::buffer_auto`).
    pub(crate) buffer_auto: bool,
    /// The fewest items the stage wants in a chunk, if it has a wish.
    pub(crate) min_chunk: Option<crate::ChunkFloor>,
    /// Extra in-flight budget this stage brings (`prefetch`).
    pub(crate) extra_in_flight: usize,
    pub(crate) factory: ReplicaFactory,
    /// How many items each output item counts for in the stats (one each
    /// if unset).
    pub(crate) weigh: Option<Weigher>,
    /// Whether the stage may run fused with its neighbours
    /// ([`StageBuilder::fuse`](crate::StageBuilder::fuse)).
    pub(crate) fuse: bool,
}

/// Counts the items of a chunk of one type, each as the items it stands
/// for (the rows of a batch of records): set by
/// [`Pipeline::count_by`](crate::Pipeline::count_by). `None` for a chunk
/// of another type.
pub(crate) type Weigher = Arc<dyn Fn(&crate::chunk::ChunkData) -> Option<u64> + Send + Sync>;

/// What the items of `data` count for in the stats: as `weigher` weighs
/// them, or one each (no weigher, or items of another type).
pub(crate) fn weigh(weigher: Option<&Weigher>, data: &crate::chunk::ChunkData) -> u64 {
    weigher
        .and_then(|weigh| weigh(data))
        .unwrap_or(data.len() as u64)
}

impl std::fmt::Debug for StageSpec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StageSpec")
            .field("name", &self.name)
            .field("mode", &self.mode)
            .field("policy", &self.policy)
            .field("buffer", &self.buffer)
            .finish_non_exhaustive()
    }
}

/// Per-stage counters, updated once per chunk.
#[derive(Debug, Default)]
pub(crate) struct StageCounters {
    pub(crate) chunks: AtomicU64,
    pub(crate) items_in: AtomicU64,
    pub(crate) items_out: AtomicU64,
    pub(crate) busy_ns: AtomicU64,
    /// Its threads' time on a core, and runnable but waiting for one, as
    /// they read it (blocking stages of a tuned run only).
    pub(crate) cpu_ns: AtomicU64,
    pub(crate) runnable_ns: AtomicU64,
    /// The time in calls over which those were read.
    pub(crate) read_busy_ns: AtomicU64,
    /// Time in calls its replicas spent starting what they work with (a
    /// worker process), and how many starts, at what CPU, as they told it
    /// ([`crate::OffThreadCpu::started`]; tuned runs only).
    pub(crate) start_ns: AtomicU64,
    pub(crate) starts: AtomicU64,
    pub(crate) start_cpu_ns: AtomicU64,
    /// Resident memory held by the processes its replicas watch, and how
    /// many they watch ([`crate::ProcessCpu`]).
    pub(crate) held_elsewhere: AtomicU64,
    pub(crate) processes: AtomicU64,
    pub(crate) errors: AtomicU64,
    pub(crate) skipped: AtomicU64,
    pub(crate) retries: AtomicU64,
}

/// What a replica may know of its stage while it runs.
#[derive(Debug, Clone)]
pub(crate) struct StageContext {
    pub(crate) name: Arc<str>,
    pub(crate) policy: OnError,
    pub(crate) dead_letters: Arc<DeadLetters>,
    pub(crate) counters: Arc<StageCounters>,
    /// Set when the run ends (a replica's [`Cancellation`]).
    pub(crate) stopping: Arc<AtomicBool>,
    /// Set when the run starts to end: when a failure fails it (the items
    /// before the failing one still drain) or when it ends. No more
    /// retries, and no more waiting in a retry's backoff.
    pub(crate) winding_down: Arc<AtomicBool>,
    /// Emptied item buffers, for the source to fill again.
    pub(crate) buffers: Arc<crate::chunk::BufferPool>,
    /// Where its replicas tell of CPU spent for them elsewhere, if it is
    /// read (a blocking stage of a tuned run).
    pub(crate) off_thread_cpu: Option<crate::OffThreadCpu>,
}

impl StageContext {
    /// The context a new replica of this stage is told of.
    pub(crate) fn replica(&self, replica: u32) -> ReplicaContext {
        ReplicaContext::new(
            Arc::clone(&self.name),
            replica,
            Cancellation::from_flag(Arc::clone(&self.stopping)),
            self.off_thread_cpu.clone(),
        )
    }

    /// Whether the run is failing or has ended (no more retries).
    pub(crate) fn is_stopping(&self) -> bool {
        self.winding_down.load(Ordering::Relaxed)
    }

    /// Counts a failed item and sends it, with its error, to the dead letters.
    ///
    /// # Errors
    ///
    /// When the dead letters could not take it (a handler's error): the
    /// item then fails the run, since it would otherwise be lost.
    pub(crate) fn skip(
        &self,
        seq: u64,
        failure: StageFailure,
        item: Option<Box<dyn Any + Send>>,
    ) -> Result<(), ItemFailure> {
        self.counters.errors.fetch_add(1, Ordering::Relaxed);
        let letter = DeadLetter {
            stage: self.name.to_string(),
            seq,
            failure,
            item,
        };
        match self.dead_letters.push(letter) {
            Ok(()) => {
                self.counters.skipped.fetch_add(1, Ordering::Relaxed);
                Ok(())
            }
            Err(error) => Err(ItemFailure::new(
                seq,
                StageFailure::Error(
                    format!("skipped, but its dead letter could not be kept: {error}").into(),
                ),
            )),
        }
    }

    /// Counts a failed item that fails the run.
    pub(crate) fn fail(&self, seq: u64, failure: StageFailure) -> ItemFailure {
        self.counters.errors.fetch_add(1, Ordering::Relaxed);
        ItemFailure::new(seq, failure)
    }
}
