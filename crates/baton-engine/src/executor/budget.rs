//! The in-flight budget: how many items and chunks may be between the
//! source and the sink at once. Only the source takes from it (one chunk at
//! a time, under the source's lock); a chunk gives its share back when it
//! leaves the pipeline or is dropped, whatever the reason.
//!
//! Who is told when room comes back depends on who runs the source: the CPU
//! workers are woken at every return; the threads of a blocking first stage,
//! which run it themselves, as their [`Feeder`] decides.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use super::feeder::Feeder;
use super::signal::Signal;

#[derive(Debug)]
pub(super) struct Budget {
    items: AtomicUsize,
    chunks: AtomicUsize,
    max_items: AtomicUsize,
    max_chunks: AtomicUsize,
    /// Woken when a share comes back, so the source may run again.
    signal: Arc<Signal>,
    /// With a blocking first stage, which runs the source itself: how many
    /// of its threads keep cycling, and whom a return wakes.
    pub(super) feeder: Option<Feeder>,
}

impl Budget {
    /// A budget whose returns wake `signal`, or whom `feeder` says.
    pub(super) fn new(
        max_items: usize,
        max_chunks: usize,
        signal: Arc<Signal>,
        feeder: Option<Feeder>,
    ) -> Self {
        Self {
            items: AtomicUsize::new(0),
            chunks: AtomicUsize::new(0),
            max_items: AtomicUsize::new(max_items),
            max_chunks: AtomicUsize::new(max_chunks),
            signal,
            feeder,
        }
    }

    /// Tells the source's runners that room came back, if they need telling.
    fn on_return(&self, was_past_feeder: bool) {
        match &self.feeder {
            None => self.signal.notify(),
            Some(feeder) => feeder.returned(was_past_feeder, self.has_room()),
        }
    }

    /// Sets the most items in flight; a lower bound takes effect as chunks leave.
    pub(super) fn set_max_items(&self, items: usize) {
        self.max_items.store(items, Ordering::Release);
    }

    /// Sets the most chunks in flight; a lower bound takes effect as chunks leave.
    pub(super) fn set_max_chunks(&self, chunks: usize) {
        self.max_chunks.store(chunks.max(1), Ordering::Release);
    }

    /// The most items in flight now.
    pub(super) fn max_items(&self) -> usize {
        self.max_items.load(Ordering::Relaxed)
    }

    pub(super) fn items_in_flight(&self) -> usize {
        self.items.load(Ordering::Relaxed)
    }

    pub(super) fn chunks_in_flight(&self) -> usize {
        self.chunks.load(Ordering::Relaxed)
    }

    /// Whether a chunk of at least one item may start now.
    pub(super) fn has_room(&self) -> bool {
        self.chunks.load(Ordering::Acquire) < self.max_chunks.load(Ordering::Relaxed)
            && self.items.load(Ordering::Acquire) < self.max_items.load(Ordering::Relaxed)
    }

    /// Takes room for up to `want` items; returns the permit, or `None` when full.
    /// Called by the source only, so the check and the add need no loop.
    pub(super) fn acquire(self: &Arc<Self>, want: usize) -> Option<Permit> {
        if !self.has_room() {
            return None;
        }
        let room = self
            .max_items
            .load(Ordering::Relaxed)
            .saturating_sub(self.items.load(Ordering::Acquire));
        let items = want.min(room).max(1);
        self.items.fetch_add(items, Ordering::AcqRel);
        self.chunks.fetch_add(1, Ordering::AcqRel);
        Some(Permit {
            budget: Some(Arc::clone(self)),
            items,
            chunk: true,
            past_feeder: false,
        })
    }

    /// A permit for the end-of-stream marker: it holds no room.
    pub(super) fn free_permit() -> Permit {
        Permit {
            budget: None,
            items: 0,
            chunk: false,
            past_feeder: false,
        }
    }
}

/// A chunk's share of the budget; given back on drop.
#[derive(Debug)]
pub(crate) struct Permit {
    budget: Option<Arc<Budget>>,
    items: usize,
    chunk: bool,
    past_feeder: bool,
}

impl Permit {
    pub(super) fn items(&self) -> usize {
        self.items
    }

    /// Counts the chunk as past the blocking first stage (once).
    pub(super) fn pass_feeder(&mut self) {
        let feeder = self.budget.as_ref().and_then(|b| b.feeder.as_ref());
        if let Some(feeder) = feeder.filter(|_| self.chunk && !self.past_feeder) {
            self.past_feeder = true;
            feeder.passed();
        }
    }

    /// Gives the room back without waking anyone: the source took it and
    /// then had nothing to make (a dry stream). Waking a source runner for
    /// it would only have it find the source dry again, and wake the next
    /// (a ring of wake-ups that kept every thread of a wide blocking first
    /// stage busy on a slow stream); what arrives wakes the runners itself.
    pub(super) fn give_back_unused(mut self) {
        if let Some(budget) = self.budget.take() {
            budget.items.fetch_sub(self.items, Ordering::AcqRel);
            if self.chunk {
                budget.chunks.fetch_sub(1, Ordering::AcqRel);
            }
        }
    }

    /// Gives back room the chunk did not use (the source made fewer items).
    pub(super) fn shrink_to(&mut self, items: usize) {
        if let Some(budget) = &self.budget {
            if items < self.items {
                budget.items.fetch_sub(self.items - items, Ordering::AcqRel);
                self.items = items;
            }
        }
    }
}

impl Drop for Permit {
    fn drop(&mut self) {
        if let Some(budget) = self.budget.take() {
            budget.items.fetch_sub(self.items, Ordering::AcqRel);
            if self.chunk {
                budget.chunks.fetch_sub(1, Ordering::AcqRel);
            }
            budget.on_return(self.past_feeder);
        }
    }
}
