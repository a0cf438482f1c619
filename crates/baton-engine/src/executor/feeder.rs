//! How many threads of a blocking first stage keep cycling.
//!
//! A blocking first stage (a parallel one that waits on I/O) runs the
//! source itself: each of its threads takes a chunk, runs the stage on it,
//! passes it on and takes the next, with no other thread in between. When
//! the stages after it are slower, the in-flight budget fills and the
//! threads must slow down. How they do decides the cost: a thread woken for
//! every chunk that leaves the pipeline is woken at a random moment, with a
//! system call, and takes a core from the CPU stages each time.
//!
//! So the number of threads that keep cycling follows demand instead, the
//! way Little's law says it should (in flight = throughput x latency): the
//! chunks past the stage and not yet out of the pipeline are its gauge.
//!
//! * Fewer than `low` of them: the stages after run dry; a parked thread is
//!   woken (at most one per chunk time of the stage, since a woken thread's
//!   first chunk takes that long to come; every time when none is left).
//! * More than `high`: one thread leaves the cycle and parks (again at most
//!   one per chunk time).
//! * In between, nothing changes: the gauge drifts slowly, as the thread
//!   count is within one of what the stages after can take.
//! * Fewer than half the replicas cycling (after the start): the stage has
//!   threads to spare, so its items travel two to a chunk instead of one,
//!   halving the engine's work per item on its threads and after them.
//! * The budget full all the same (the start, or a sudden slowdown after):
//!   a thread that finds no room waits for the next return of room, and
//!   one of them leaves the cycle at most every eighth of a chunk time.

use std::sync::atomic::{fence, AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Instant;

use super::signal::Signal;
use crate::stage::StageCounters;

/// What a cycling thread that found no room in the budget does.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum WhenFull {
    /// Wait for the next return of room, and go on cycling.
    Wait,
    /// Leave the cycle: park until more threads are needed.
    Leave,
}

#[derive(Debug)]
pub(super) struct Feeder {
    /// Chunks past the stage and not yet returned to the budget.
    past: AtomicUsize,
    low: usize,
    high: AtomicUsize,
    /// Where threads out of the cycle park (the stage's own signal).
    pub(super) idle: Arc<Signal>,
    /// Where cycling threads wait for room, and how many do.
    pub(super) room: Signal,
    waiting: AtomicUsize,
    /// When the number of cycling threads last changed (ns from `started`).
    last_change: AtomicU64,
    started: Instant,
    /// The stage's counters: its mean chunk time is the pace of changes.
    counters: Arc<StageCounters>,
}

impl Feeder {
    pub(super) fn new(
        low: usize,
        high: usize,
        idle: Arc<Signal>,
        counters: Arc<StageCounters>,
    ) -> Self {
        let low = low.max(1);
        Self {
            past: AtomicUsize::new(0),
            low,
            high: AtomicUsize::new(high.max(low + 1)),
            idle,
            room: Signal::default(),
            waiting: AtomicUsize::new(0),
            last_change: AtomicU64::new(0),
            started: Instant::now(),
            counters,
        }
    }

    /// Moves the high mark (the stage's replicas or the budget changed).
    pub(super) fn set_high(&self, high: usize) {
        self.high.store(high.max(self.low + 1), Ordering::Relaxed);
    }

    /// A chunk has passed the stage.
    pub(super) fn passed(&self) {
        self.past.fetch_add(1, Ordering::AcqRel);
    }

    /// A chunk gave its room back (`was_past`: it had passed the stage);
    /// `has_room`: the budget has room now. Wakes a waiting thread, or a
    /// parked one when the stages after are running dry.
    pub(super) fn returned(&self, was_past: bool, has_room: bool) {
        let past = if was_past {
            self.past.fetch_sub(1, Ordering::AcqRel) - 1
        } else {
            self.past.load(Ordering::Acquire)
        };
        if !has_room {
            return;
        }
        // Pairs with the fence in `wait_for_room`: either the waiter sees
        // the room, or this sees the waiter.
        fence(Ordering::SeqCst);
        if self.waiting.load(Ordering::SeqCst) > 0 {
            self.room.notify();
        } else if past == 0 || (past < self.low && self.may_change(1)) {
            self.idle.notify();
        }
    }

    /// Whether a cycling thread should leave the cycle now because the
    /// stages after it have plenty to do.
    pub(super) fn should_leave(&self) -> bool {
        self.past.load(Ordering::Acquire) > self.high.load(Ordering::Relaxed) && self.may_change(1)
    }

    /// What a cycling thread that found the budget full does.
    pub(super) fn when_full(&self) -> WhenFull {
        if self.may_change(8) {
            WhenFull::Leave
        } else {
            WhenFull::Wait
        }
    }

    /// Parks a cycling thread until room comes back (or `timeout`); `seen`
    /// is [`Feeder::room`]'s epoch from before it looked for room, and
    /// `ready` looks again once the thread counts as waiting (so a return
    /// between the first look and the count is not missed).
    pub(super) fn wait_for_room(
        &self,
        seen: u64,
        timeout: std::time::Duration,
        ready: impl FnOnce() -> bool,
    ) {
        self.waiting.fetch_add(1, Ordering::SeqCst);
        fence(Ordering::SeqCst);
        if !ready() {
            self.room.wait(seen, timeout);
        }
        self.waiting.fetch_sub(1, Ordering::SeqCst);
    }

    /// Claims the right to change the number of cycling threads: granted
    /// once per `1/fraction` of the stage's mean chunk time.
    fn may_change(&self, fraction: u64) -> bool {
        let chunks = self.counters.chunks.load(Ordering::Relaxed).max(1);
        let interval = self.counters.busy_ns.load(Ordering::Relaxed) / chunks / fraction;
        let now = self.started.elapsed().as_nanos() as u64;
        let last = self.last_change.load(Ordering::Acquire);
        now.saturating_sub(last) >= interval
            && self
                .last_change
                .compare_exchange(last, now, Ordering::AcqRel, Ordering::Acquire)
                .is_ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn feeder(low: usize, high: usize) -> Feeder {
        let counters = Arc::new(StageCounters::default());
        // A chunk time of one hour: at most one change, then none.
        counters.chunks.store(1, Ordering::Relaxed);
        counters.busy_ns.store(3_600_000_000_000, Ordering::Relaxed);
        let feeder = Feeder::new(low, high, Arc::new(Signal::default()), counters);
        feeder.last_change.store(0, Ordering::Relaxed);
        feeder
    }

    #[test]
    fn the_stages_after_running_dry_wake_one_parked_thread() {
        let f = feeder(2, 4);
        f.passed();
        f.passed();
        let before = f.idle.prepare();
        // From 2 past to 1: below the low mark, but the chunk time has not
        // passed since the start, so no change yet.
        f.returned(true, true);
        assert_eq!(f.idle.prepare(), before);
        // Nothing left past the stage: a thread is woken at once.
        f.returned(true, true);
        assert_ne!(f.idle.prepare(), before);
    }

    #[test]
    fn a_waiting_thread_is_woken_before_any_parked_one() {
        let f = feeder(2, 4);
        f.waiting.store(1, Ordering::SeqCst);
        let (idle, room) = (f.idle.prepare(), f.room.prepare());
        f.returned(false, true);
        assert_eq!(f.idle.prepare(), idle);
        assert_ne!(f.room.prepare(), room);
    }

    #[test]
    fn no_room_wakes_nobody() {
        let f = feeder(2, 4);
        let (idle, room) = (f.idle.prepare(), f.room.prepare());
        f.returned(false, false);
        assert_eq!((f.idle.prepare(), f.room.prepare()), (idle, room));
    }

    #[test]
    fn a_thread_leaves_only_above_the_high_mark_and_one_per_chunk_time() {
        let counters = Arc::new(StageCounters::default());
        let f = Feeder::new(1, 2, Arc::new(Signal::default()), counters);
        assert!(!f.should_leave());
        for _ in 0..3 {
            f.passed();
        }
        // No chunk time measured yet: changes are free.
        assert!(f.should_leave());
        f.counters.chunks.store(1, Ordering::Relaxed);
        f.counters
            .busy_ns
            .store(3_600_000_000_000, Ordering::Relaxed);
        assert!(!f.should_leave());
        assert_eq!(f.when_full(), WhenFull::Wait);
    }
}
