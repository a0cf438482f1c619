//! The queue in front of a stage, behind an interface: the executor only
//! pushes chunks, asks whether a chunk's turn has come, and pops the next
//! ready one. Which chunk is ready is the queue's business (any, the next
//! index, or anything but an early end marker), so a queue held elsewhere
//! (another process, a message broker) can take a stage's place without the
//! executor changing.

use std::collections::VecDeque;

use super::Chunk;
use crate::mode::ModeKind;

/// Where chunks wait for a stage, and the stage's rule for whose turn it is.
pub(super) trait ChunkQueue: Send {
    /// Whether `chunk` may run now, ahead of whatever waits (a chunk offered
    /// straight from the stage before).
    fn is_turn(&self, chunk: &Chunk) -> bool;
    /// Records that a chunk was taken to run (offered straight, or popped).
    fn taken(&mut self);
    /// Adds a chunk that could not run at once.
    fn push(&mut self, chunk: Chunk);
    /// Records that an empty chunk went past the stage without running
    /// (it has nothing for the stage): the chunks after it need not wait
    /// for it.
    fn pass(&mut self, chunk: &Chunk);
    /// Removes and returns the next chunk whose turn has come.
    fn pop_ready(&mut self) -> Option<Chunk>;
    /// Removes every chunk, ready or not.
    fn drain(&mut self) -> Vec<Chunk>;
    /// Removes every chunk from index `cut` on (past a failure: they are
    /// not to go on); the chunks before it wait on as they did.
    fn remove_from(&mut self, cut: u64) -> Vec<Chunk>;
}

/// The queue a stage of the given mode needs.
pub(super) fn for_mode(kind: ModeKind) -> Box<dyn ChunkQueue> {
    match kind {
        ModeKind::Parallel => Box::<Fifo>::default(),
        ModeKind::SerialInOrder => Box::<InOrder>::default(),
        ModeKind::Serial => Box::<AnyOrder>::default(),
    }
}

/// A parallel stage: any chunk, first come first served.
#[derive(Default)]
struct Fifo {
    chunks: VecDeque<Chunk>,
}

impl ChunkQueue for Fifo {
    fn is_turn(&self, _chunk: &Chunk) -> bool {
        true
    }

    fn taken(&mut self) {}

    fn push(&mut self, chunk: Chunk) {
        self.chunks.push_back(chunk);
    }

    fn pass(&mut self, _chunk: &Chunk) {}

    fn pop_ready(&mut self) -> Option<Chunk> {
        self.chunks.pop_front()
    }

    fn drain(&mut self) -> Vec<Chunk> {
        self.chunks.drain(..).collect()
    }

    fn remove_from(&mut self, cut: u64) -> Vec<Chunk> {
        let (removed, kept): (VecDeque<Chunk>, _) =
            self.chunks.drain(..).partition(|c| c.index >= cut);
        self.chunks = kept;
        removed.into()
    }
}

/// A `serial_in_order` stage: a reorder buffer, chunk `next` goes next.
/// Chunk indices are dense and at most the budget's chunks apart, so the
/// buffer is a ring of slots by distance from `next`: no allocation per
/// chunk once it has grown (a map would allocate a node whenever it goes
/// from empty to one, which is every other chunk when two replicas race).
#[derive(Default)]
struct InOrder {
    /// Slot `k` is for chunk `next + k`.
    waiting: VecDeque<Slot>,
    next: u64,
}

/// A place in the reorder buffer.
#[derive(Default)]
enum Slot {
    /// Its chunk has not come.
    #[default]
    Open,
    /// Its chunk waits for its turn.
    Waiting(Chunk),
    /// Its chunk was empty and went past: its turn is skipped.
    Passed,
}

impl InOrder {
    fn slot(&mut self, index: u64) -> &mut Slot {
        let slot = index.saturating_sub(self.next) as usize;
        if self.waiting.len() <= slot {
            self.waiting.resize_with(slot + 1, Slot::default);
        }
        &mut self.waiting[slot]
    }
}

impl ChunkQueue for InOrder {
    fn is_turn(&self, chunk: &Chunk) -> bool {
        chunk.index == self.next
    }

    fn taken(&mut self) {
        // Chunk `next` was taken, from its slot or before it had one; the
        // empty ones right after it need no turn.
        self.waiting.pop_front();
        self.next += 1;
        while matches!(self.waiting.front(), Some(Slot::Passed)) {
            self.waiting.pop_front();
            self.next += 1;
        }
    }

    fn push(&mut self, chunk: Chunk) {
        debug_assert!(chunk.index >= self.next, "chunk {} came twice", chunk.index);
        let index = chunk.index;
        *self.slot(index) = Slot::Waiting(chunk);
    }

    fn pass(&mut self, chunk: &Chunk) {
        debug_assert!(chunk.index >= self.next, "chunk {} came twice", chunk.index);
        if chunk.index == self.next {
            self.taken();
        } else {
            *self.slot(chunk.index) = Slot::Passed;
        }
    }

    fn pop_ready(&mut self) -> Option<Chunk> {
        let front = self.waiting.front_mut()?;
        match std::mem::take(front) {
            Slot::Waiting(chunk) => Some(chunk),
            other => {
                *front = other;
                None
            }
        }
    }

    fn drain(&mut self) -> Vec<Chunk> {
        self.waiting
            .drain(..)
            .filter_map(|slot| match slot {
                Slot::Waiting(chunk) => Some(chunk),
                Slot::Open | Slot::Passed => None,
            })
            .collect()
    }

    fn remove_from(&mut self, cut: u64) -> Vec<Chunk> {
        let mut removed = Vec::new();
        for slot in &mut self.waiting {
            if matches!(slot, Slot::Waiting(chunk) if chunk.index >= cut) {
                if let Slot::Waiting(chunk) = std::mem::take(slot) {
                    removed.push(chunk);
                }
            }
        }
        removed
    }
}

/// A `serial` stage: any order, but the end marker (the last index) only
/// once every chunk before it was taken, so a flush sees everything.
#[derive(Default)]
struct AnyOrder {
    chunks: VecDeque<Chunk>,
    end: Option<Chunk>,
    taken: u64,
}

impl ChunkQueue for AnyOrder {
    fn is_turn(&self, chunk: &Chunk) -> bool {
        !chunk.end || chunk.index == self.taken
    }

    fn taken(&mut self) {
        self.taken += 1;
    }

    fn pass(&mut self, _chunk: &Chunk) {
        self.taken += 1;
    }

    fn push(&mut self, chunk: Chunk) {
        if chunk.end {
            self.end = Some(chunk);
        } else {
            self.chunks.push_back(chunk);
        }
    }

    fn pop_ready(&mut self) -> Option<Chunk> {
        if let Some(chunk) = self.chunks.pop_front() {
            return Some(chunk);
        }
        if self.end.as_ref()?.index == self.taken {
            return self.end.take();
        }
        None
    }

    fn drain(&mut self) -> Vec<Chunk> {
        let mut all: Vec<Chunk> = self.chunks.drain(..).collect();
        all.extend(self.end.take());
        all
    }

    fn remove_from(&mut self, cut: u64) -> Vec<Chunk> {
        let (removed, kept): (VecDeque<Chunk>, _) =
            self.chunks.drain(..).partition(|c| c.index >= cut);
        self.chunks = kept;
        let mut removed: Vec<Chunk> = removed.into();
        if self.end.as_ref().is_some_and(|end| end.index >= cut) {
            removed.extend(self.end.take());
        }
        removed
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::chunk::ChunkData;
    use crate::executor::budget::Budget;

    fn chunk(index: u64, end: bool) -> Chunk {
        Chunk {
            index,
            end,
            data: ChunkData::empty(),
            weight: 0,
            cost_ns: 0,
            permit: Budget::free_permit(),
        }
    }

    /// Pushes `indices` (the last one the end marker) and pops until
    /// nothing is ready, counting what was taken as `taken`.
    fn order(kind: ModeKind, indices: &[u64]) -> Vec<u64> {
        let mut queue = for_mode(kind);
        let last = indices.iter().copied().max().unwrap_or(0);
        let mut out = Vec::new();
        for &i in indices {
            queue.push(chunk(i, i == last));
            while let Some(c) = queue.pop_ready() {
                queue.taken();
                out.push(c.index);
            }
        }
        out
    }

    #[test]
    fn in_order_releases_chunks_by_index() {
        assert_eq!(
            order(ModeKind::SerialInOrder, &[2, 0, 3, 1]),
            vec![0, 1, 2, 3]
        );
    }

    #[test]
    fn any_order_holds_the_end_marker_back_until_the_rest_is_taken() {
        assert_eq!(order(ModeKind::Serial, &[3, 1, 0, 2]), vec![1, 0, 2, 3]);
    }

    #[test]
    fn fifo_releases_in_arrival_order() {
        assert_eq!(order(ModeKind::Parallel, &[2, 0, 1]), vec![2, 0, 1]);
    }

    #[test]
    fn drain_returns_what_waits() {
        let mut queue = for_mode(ModeKind::SerialInOrder);
        queue.push(chunk(5, false));
        queue.push(chunk(7, true));
        assert!(queue.pop_ready().is_none());
        let mut drained: Vec<u64> = queue.drain().iter().map(|c| c.index).collect();
        drained.sort_unstable();
        assert_eq!(drained, vec![5, 7]);
    }

    #[test]
    fn remove_from_takes_the_chunks_past_a_cut_and_keeps_the_rest_waiting() {
        for kind in [
            ModeKind::Parallel,
            ModeKind::SerialInOrder,
            ModeKind::Serial,
        ] {
            let mut queue = for_mode(kind);
            for i in [4, 1, 6, 3] {
                queue.push(chunk(i, i == 6));
            }
            let mut removed: Vec<u64> = queue.remove_from(4).iter().map(|c| c.index).collect();
            removed.sort_unstable();
            assert_eq!(removed, vec![4, 6], "{kind:?}");
            let mut left: Vec<u64> = queue.drain().iter().map(|c| c.index).collect();
            left.sort_unstable();
            assert_eq!(left, vec![1, 3], "{kind:?}");
        }
        // In order, the chunks before the cut still go in their turn.
        let mut queue = for_mode(ModeKind::SerialInOrder);
        queue.push(chunk(2, false));
        queue.push(chunk(1, false));
        queue.push(chunk(3, false));
        assert_eq!(queue.remove_from(3).len(), 1);
        assert!(queue.pop_ready().is_none(), "0 has not come");
        queue.taken();
        let order: Vec<u64> = std::iter::from_fn(|| {
            let c = queue.pop_ready()?;
            queue.taken();
            Some(c.index)
        })
        .collect();
        assert_eq!(order, vec![1, 2]);
    }

    #[test]
    fn an_empty_chunk_passed_ahead_of_its_turn_gives_its_turn_away() {
        let mut queue = for_mode(ModeKind::SerialInOrder);
        // 0 runs; 1 and 2 (empty) go past while it does; 3 waits.
        assert!(queue.is_turn(&chunk(0, false)));
        queue.pass(&chunk(2, false));
        queue.pass(&chunk(1, false));
        queue.push(chunk(3, false));
        assert!(queue.pop_ready().is_none(), "0 is still running");
        queue.taken();
        assert_eq!(queue.pop_ready().map(|c| c.index), Some(3));
        queue.taken();
        assert!(queue.is_turn(&chunk(4, true)));
        let mut any = for_mode(ModeKind::Serial);
        any.push(chunk(2, true));
        any.pass(&chunk(1, false));
        assert!(any.pop_ready().is_none(), "chunk 0 was not taken");
        any.pass(&chunk(0, false));
        assert_eq!(any.pop_ready().map(|c| c.index), Some(2));
    }
}
