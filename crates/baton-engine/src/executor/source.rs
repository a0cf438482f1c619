//! The source at run time: a serial, in-order stage with no input that
//! makes chunks while the in-flight budget has room.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::Instant;

use crate::chunk::ChunkData;
use crate::source::{Source, SourceStart};
use crate::stage::{StageContext, Weigher};

pub(super) struct SourceInner {
    pub(super) source: Box<dyn Source>,
    pub(super) next_index: u64,
    pub(super) next_seq: u64,
    pub(super) exhausted: bool,
    /// Since when the source has had nothing to give (a dry stream).
    pub(super) dry_since: Option<Instant>,
}

pub(super) struct SourceSlot {
    pub(super) ctx: StageContext,
    pub(super) inner: Mutex<SourceInner>,
    /// Asked to stop (drain): the next turn sends the end marker.
    pub(super) stop: AtomicBool,
    /// The end marker has been sent: the source is done.
    pub(super) ended: AtomicBool,
    /// The run's items so far (see `Pipeline::count_run_here`).
    pub(super) items: AtomicU64,
    /// The items the source made, as they count (see `Pipeline::count_by`).
    pub(super) made: AtomicU64,
    weigh: Option<Weigher>,
    pub(super) busy_ns: AtomicU64,
    /// Turns that found the source dry: it had less than a chunk to give
    /// (a stream whose items come slower than the run takes them).
    pub(super) dry_turns: AtomicU64,
    /// Time from a turn that found it dry to the next that made items.
    pub(super) dry_ns: AtomicU64,
}

impl std::fmt::Debug for SourceSlot {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SourceSlot")
            .field("name", &self.ctx.name)
            .finish_non_exhaustive()
    }
}

impl SourceSlot {
    pub(super) fn new(ctx: StageContext, source: Box<dyn Source>, weigh: Option<Weigher>) -> Self {
        Self {
            ctx,
            inner: Mutex::new(SourceInner {
                source,
                next_index: 0,
                next_seq: 0,
                exhausted: false,
                dry_since: None,
            }),
            stop: AtomicBool::new(false),
            ended: AtomicBool::new(false),
            items: AtomicU64::new(0),
            made: AtomicU64::new(0),
            weigh,
            busy_ns: AtomicU64::new(0),
            dry_turns: AtomicU64::new(0),
            dry_ns: AtomicU64::new(0),
        }
    }

    /// Lets the source start what it runs on its own (a reader thread).
    pub(super) fn start(&self, start: SourceStart) -> std::io::Result<()> {
        let mut inner = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        inner.source.start(start)
    }

    /// What the items of `data` count for in the stats.
    pub(super) fn weigh(&self, data: &ChunkData) -> u64 {
        crate::stage::weigh(self.weigh.as_ref(), data)
    }

    pub(super) fn is_done(&self) -> bool {
        self.ended.load(Ordering::Acquire)
    }

    pub(super) fn wants_to_end(&self) -> bool {
        self.stop.load(Ordering::Acquire)
    }
}
