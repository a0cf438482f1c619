//! The source at run time: a serial, in-order stage with no input that
//! makes chunks while the in-flight budget has room.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Mutex;

use crate::chunk::ChunkData;
use crate::error::ItemFailure;
use crate::stage::StageContext;

/// A source of items, with its item type erased.
pub(crate) trait Source: Send {
    /// Makes up to `max` items, numbering them from `*next_seq` (and moving
    /// it past every item taken, failed ones included). Returns the items and
    /// whether the source is exhausted.
    fn produce(
        &mut self,
        max: usize,
        next_seq: &mut u64,
        ctx: &StageContext,
    ) -> Result<(ChunkData, bool), ItemFailure>;
}

pub(crate) struct SourceInner {
    pub(crate) source: Box<dyn Source>,
    pub(crate) next_index: u64,
    pub(crate) next_seq: u64,
    pub(crate) exhausted: bool,
}

pub(crate) struct SourceSlot {
    pub(crate) ctx: StageContext,
    pub(crate) inner: Mutex<SourceInner>,
    /// Asked to stop (drain): the next turn sends the end marker.
    pub(crate) stop: AtomicBool,
    /// The end marker has been sent: the source is done.
    pub(crate) ended: AtomicBool,
    pub(crate) items: AtomicU64,
    pub(crate) busy_ns: AtomicU64,
}

impl std::fmt::Debug for SourceSlot {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SourceSlot")
            .field("name", &self.ctx.name)
            .finish_non_exhaustive()
    }
}

impl SourceSlot {
    pub(crate) fn is_done(&self) -> bool {
        self.ended.load(Ordering::Acquire)
    }

    pub(crate) fn wants_to_end(&self) -> bool {
        self.stop.load(Ordering::Acquire)
    }
}
