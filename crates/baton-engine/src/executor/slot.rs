//! A stage at run time: its input queue and its pool of replicas, under one
//! lock. The queue (a [`ChunkQueue`]) is where chunks wait when no replica
//! could take them at once; for a `serial_in_order` stage it is a reorder
//! buffer keyed by chunk index.

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use super::queue::{self, ChunkQueue};
use super::signal::Signal;
use super::Chunk;
use crate::chunk::ChunkData;
use crate::error::StageFailure;
use crate::mode::Mode;
use crate::stage::{Replica, ReplicaFactory, StageContext, Weigher};

/// A replica and the number it got when it was made (its trace track).
pub(super) struct ReplicaBox {
    pub(super) id: u32,
    pub(super) inner: Box<dyn Replica>,
    /// Replicas of the stages fused into this one, in order: made the first
    /// time this replica carries a chunk through them, and kept with it.
    pub(super) riders: Vec<ReplicaBox>,
}

/// A replica with the chunk it is to run.
pub(super) type Claimed = (ReplicaBox, Chunk);

/// A replica could not be made; the chunk it was for, if any.
pub(super) type ClaimFailure = (StageFailure, Option<Chunk>);

/// What happened to a chunk offered to a stage.
pub(super) enum Offer {
    /// The caller got a replica and runs the chunk now.
    Run(ReplicaBox, Chunk),
    /// The chunk waits in the stage's queue.
    Queued,
    /// The stage takes no more input: the chunk, emptied, goes on downstream.
    Closed(Chunk),
    /// An empty chunk of a serial stage went past without waiting for its
    /// turn (a busy serial stage must not hold chunks that have nothing for
    /// it, and their share of the budget, behind the one it runs).
    Passed(Chunk),
    /// No replica could be made.
    Failed(StageFailure, Chunk),
    /// The chunk is past a failure's cut: it goes no further.
    Cut(Chunk),
}

struct SlotInner {
    queue: Box<dyn ChunkQueue>,
    idle: Vec<ReplicaBox>,
    active: usize,
    made: u32,
    factory: ReplicaFactory,
    closed: bool,
}

pub(super) struct StageSlot {
    pub(super) index: usize,
    pub(super) mode: Mode,
    pub(super) limit: AtomicUsize,
    /// Most items queued in front (0: unbounded); the tuner moves it when
    /// `buffer_auto`.
    pub(super) buffer: AtomicUsize,
    pub(super) buffer_auto: bool,
    pub(super) ctx: StageContext,
    /// Wakes this stage's own threads (blocking stages only).
    pub(super) signal: Arc<Signal>,
    pub(super) queued_chunks: AtomicUsize,
    pub(super) queued_items: AtomicUsize,
    pub(super) active: AtomicUsize,
    /// The stage this one runs fused into (its replicas ride with that
    /// stage's), if any.
    pub(super) fused_into: Option<usize>,
    /// The stages fused into this one (empty if none).
    pub(super) followers: std::ops::Range<usize>,
    /// What its output items count for in the stats (one each if unset).
    weigh: Option<Weigher>,
    inner: Mutex<SlotInner>,
}

impl std::fmt::Debug for StageSlot {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StageSlot")
            .field("name", &self.ctx.name)
            .field("mode", &self.mode)
            .finish_non_exhaustive()
    }
}

impl StageSlot {
    #[allow(clippy::too_many_arguments)]
    pub(super) fn new(
        index: usize,
        mode: Mode,
        limit: usize,
        buffer: Option<usize>,
        buffer_auto: bool,
        ctx: StageContext,
        factory: ReplicaFactory,
        weigh: Option<Weigher>,
    ) -> Self {
        Self {
            index,
            weigh,
            mode,
            limit: AtomicUsize::new(limit),
            buffer: AtomicUsize::new(match (buffer_auto, buffer) {
                (true, _) => super::tuner::BUFFER_START,
                (false, Some(items)) => items.max(1),
                (false, None) => 0,
            }),
            buffer_auto,
            ctx,
            signal: Arc::new(Signal::default()),
            queued_chunks: AtomicUsize::new(0),
            queued_items: AtomicUsize::new(0),
            active: AtomicUsize::new(0),
            fused_into: None,
            followers: index + 1..index + 1,
            inner: Mutex::new(SlotInner {
                queue: queue::for_mode(mode.kind()),
                idle: Vec::new(),
                active: 0,
                made: 0,
                factory,
                closed: false,
            }),
        }
    }

    fn lock(&self) -> MutexGuard<'_, SlotInner> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// What the items of `data`, output by this stage, count for in the
    /// stats.
    pub(super) fn weigh(&self, data: &ChunkData) -> u64 {
        crate::stage::weigh(self.weigh.as_ref(), data)
    }

    pub(super) fn is_serial(&self) -> bool {
        self.mode.is_serial()
    }

    /// Whether a thread looking for work might find some here.
    pub(super) fn looks_runnable(&self) -> bool {
        self.queued_chunks.load(Ordering::Acquire) > 0
            && self.active.load(Ordering::Acquire) < self.limit.load(Ordering::Relaxed)
    }

    /// Whether the queue in front of the stage is over its buffer.
    pub(super) fn is_full(&self) -> bool {
        let cap = self.buffer.load(Ordering::Relaxed);
        cap != 0 && self.queued_items.load(Ordering::Relaxed) >= cap
    }

    /// The queue's bound now (`None`: unbounded).
    pub(super) fn buffer(&self) -> Option<usize> {
        Some(self.buffer.load(Ordering::Relaxed)).filter(|&cap| cap != 0)
    }

    /// Sets the replica limit; extra replicas are dropped as they come back.
    pub(super) fn set_limit(&self, replicas: usize) {
        let replicas = if self.is_serial() { 1 } else { replicas.max(1) };
        self.limit.store(replicas, Ordering::Release);
    }

    /// Makes a replica of this stage to ride with a replica of the stage it
    /// is fused into (not counted among this stage's own).
    pub(super) fn make_rider(&self) -> Result<ReplicaBox, StageFailure> {
        self.make_replica(&mut self.lock())
    }

    /// Makes and opens a new replica with the stage's factory, numbered
    /// after those made before it (a panic in the factory is its failure).
    fn make_replica(&self, inner: &mut SlotInner) -> Result<ReplicaBox, StageFailure> {
        let mut made = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| (inner.factory)()))
            .unwrap_or_else(|panic| Err(StageFailure::from_panic(panic)))?;
        made.open(&self.ctx.replica(inner.made))?;
        inner.made += 1;
        Ok(ReplicaBox {
            id: inner.made - 1,
            inner: made,
            riders: Vec::new(),
        })
    }

    fn claim(&self, inner: &mut SlotInner) -> Result<Option<ReplicaBox>, StageFailure> {
        self.claim_within(inner, self.limit.load(Ordering::Relaxed))
    }

    /// Claims a replica if fewer than `limit` are out: the limit as read
    /// once by the caller (the tuner may move it at any time).
    fn claim_within(
        &self,
        inner: &mut SlotInner,
        limit: usize,
    ) -> Result<Option<ReplicaBox>, StageFailure> {
        if inner.active >= limit {
            return Ok(None);
        }
        let replica = match inner.idle.pop() {
            Some(replica) => replica,
            None => self.make_replica(inner)?,
        };
        inner.active += 1;
        self.active.store(inner.active, Ordering::Release);
        Ok(Some(replica))
    }

    fn enqueue(&self, inner: &mut SlotInner, chunk: Chunk) {
        self.queued_chunks.fetch_add(1, Ordering::AcqRel);
        self.queued_items
            .fetch_add(chunk.data.len(), Ordering::Relaxed);
        inner.queue.push(chunk);
    }

    fn pop_ready(&self, inner: &mut SlotInner) -> Option<Chunk> {
        let chunk = inner.queue.pop_ready()?;
        self.queued_chunks.fetch_sub(1, Ordering::AcqRel);
        self.queued_items
            .fetch_sub(chunk.data.len(), Ordering::Relaxed);
        inner.queue.taken();
        Some(chunk)
    }

    /// Offers a chunk: runs it at once when `may_run` and a replica is free
    /// and the chunk's turn has come, queues it otherwise. A chunk from
    /// index `cut` on goes no further: read under the lock, so that a
    /// chunk queued as a failure cuts the run is purged with the rest
    /// ([`StageSlot::purge`]).
    pub(super) fn offer(&self, chunk: Chunk, may_run: bool, cut: &AtomicU64) -> Offer {
        let mut inner = self.lock();
        if chunk.index >= cut.load(Ordering::SeqCst) {
            return Offer::Cut(chunk);
        }
        if inner.closed {
            return Offer::Closed(chunk.emptied());
        }
        if !chunk.end && chunk.data.is_empty() && self.is_serial() {
            inner.queue.pass(&chunk);
            return Offer::Passed(chunk);
        }
        if may_run && inner.queue.is_turn(&chunk) {
            match self.claim(&mut inner) {
                Ok(Some(replica)) => {
                    inner.queue.taken();
                    return Offer::Run(replica, chunk);
                }
                Ok(None) => {}
                Err(failure) => return Offer::Failed(failure, chunk),
            }
        }
        self.enqueue(&mut inner, chunk);
        Offer::Queued
    }

    /// Claims a replica to keep for chunks that bypass the queue (a blocking
    /// first stage in parallel mode feeding itself); `None` when the stage is
    /// closed or at its limit.
    pub(super) fn claim_kept(&self) -> Result<Option<ReplicaBox>, StageFailure> {
        let mut inner = self.lock();
        if inner.closed {
            return Ok(None);
        }
        self.claim(&mut inner)
    }

    /// Whether more replicas are out than the limit allows now.
    pub(super) fn over_limit(&self) -> bool {
        self.active.load(Ordering::Acquire) > self.limit.load(Ordering::Relaxed)
    }

    /// Takes a queued chunk whose turn has come, with a replica for it.
    pub(super) fn take_ready(&self) -> Result<Option<Claimed>, ClaimFailure> {
        let mut inner = self.lock();
        // Read once: the tuner may lower it between two reads, and the
        // chunk taken below must get its replica.
        let limit = self.limit.load(Ordering::Relaxed);
        if inner.closed || inner.active >= limit {
            return Ok(None);
        }
        let Some(chunk) = self.pop_ready(&mut inner) else {
            return Ok(None);
        };
        match self.claim_within(&mut inner, limit) {
            Ok(Some(replica)) => Ok(Some((replica, chunk))),
            Ok(None) => unreachable!("checked the limit under the same lock"),
            Err(failure) => Err((failure, Some(chunk))),
        }
    }

    /// Gives a replica back. With `keep_going`, and a queued chunk whose turn
    /// has come, keeps the replica and returns that chunk to run next.
    pub(super) fn release(
        &self,
        replica: ReplicaBox,
        keep_going: bool,
    ) -> Option<(ReplicaBox, Chunk)> {
        let mut inner = self.lock();
        if keep_going && !inner.closed {
            if let Some(chunk) = self.pop_ready(&mut inner) {
                return Some((replica, chunk));
            }
        }
        inner.active -= 1;
        self.active.store(inner.active, Ordering::Release);
        let surplus = inner.active + inner.idle.len() >= self.limit.load(Ordering::Relaxed);
        if surplus {
            drop(inner);
            drop(replica);
        } else {
            inner.idle.push(replica);
        }
        None
    }

    /// Closes the stage; returns what was queued, to be passed on emptied.
    pub(super) fn close(&self) -> Vec<Chunk> {
        let mut inner = self.lock();
        inner.closed = true;
        let queued = inner.queue.drain();
        self.queued_chunks.store(0, Ordering::Release);
        self.queued_items.store(0, Ordering::Release);
        queued.into_iter().map(Chunk::emptied).collect()
    }

    /// Takes the queued chunks from index `cut` on (past a failure).
    pub(super) fn purge(&self, cut: u64) -> Vec<Chunk> {
        let mut inner = self.lock();
        let removed = inner.queue.remove_from(cut);
        for chunk in &removed {
            self.queued_chunks.fetch_sub(1, Ordering::AcqRel);
            self.queued_items
                .fetch_sub(chunk.data.len(), Ordering::Relaxed);
        }
        removed
    }

    /// Drops every queued chunk and idle replica (abort).
    pub(super) fn clear(&self) {
        let mut inner = self.lock();
        let queued = inner.queue.drain();
        let idle = std::mem::take(&mut inner.idle);
        drop(inner);
        drop((queued, idle));
    }
}

impl Chunk {
    /// The same chunk with its items dropped: it keeps its place in the order.
    pub(super) fn emptied(mut self) -> Chunk {
        self.data = ChunkData::empty();
        self.weight = 0;
        self
    }
}
