//! What a [`Stage`](crate::Stage) that takes a chunk of items at once
//! reports about each of them: its outputs, or its failure.

use std::fmt;

use crate::error::BoxError;

/// The outputs of a chunk of items handed to
/// [`Stage::process_chunk`](crate::Stage::process_chunk), reported item by
/// item, in the chunk's order.
///
/// For each item, in order, the stage pushes the item's outputs
/// ([`push`](ChunkOutputs::push)) and then says it is
/// [`done`](ChunkOutputs::done), or that it [`failed`](ChunkOutputs::failed)
/// (its outputs pushed since the last report are then taken back). The
/// engine gives every output the sequence number of its item, and applies
/// the stage's [`OnError`](crate::OnError) policy to a failed item: a
/// retry hands the item alone to [`Stage::process`](crate::Stage::process),
/// so a failed item should be given back when the stage still has it.
///
/// # Examples
///
/// ```
/// use baton_engine::ChunkOutputs;
///
/// let mut out: ChunkOutputs<u32, u32> = ChunkOutputs::default();
/// out.push(10);
/// out.push(11);
/// out.done();                       // the first item made 10 and 11
/// out.failed("no", Some(2));        // the second failed
/// out.done();                       // the third made nothing
/// assert_eq!(out.reported(), 3);
/// ```
pub struct ChunkOutputs<In, Out> {
    outputs: Vec<Out>,
    /// Per item reported, in order: how many outputs it made, or its failure.
    reports: Vec<Report<In>>,
    /// Outputs pushed since the last report.
    unreported: usize,
}

/// What became of one item.
pub(crate) enum Report<In> {
    /// It made this many outputs.
    Done(usize),
    /// It failed; the item, when the stage could give it back.
    Failed(BoxError, Option<In>),
}

impl<In, Out> Default for ChunkOutputs<In, Out> {
    fn default() -> Self {
        Self {
            outputs: Vec::new(),
            reports: Vec::new(),
            unreported: 0,
        }
    }
}

impl<In, Out> ChunkOutputs<In, Out> {
    /// An output of the next item not yet reported on.
    ///
    /// # Examples
    ///
    /// See [`ChunkOutputs`].
    pub fn push(&mut self, output: Out) {
        self.outputs.push(output);
        self.unreported += 1;
    }

    /// The next item not yet reported on is done: the outputs pushed since
    /// the last report are its.
    ///
    /// # Examples
    ///
    /// See [`ChunkOutputs`].
    pub fn done(&mut self) {
        self.reports.push(Report::Done(self.unreported));
        self.unreported = 0;
    }

    /// The next item not yet reported on failed with `error`: the outputs
    /// pushed since the last report are dropped. `item` is the item, if the
    /// stage still has it, for a retry or the dead letters.
    ///
    /// # Examples
    ///
    /// See [`ChunkOutputs`].
    pub fn failed(&mut self, error: impl Into<BoxError>, item: Option<In>) {
        let keep = self.outputs.len() - self.unreported;
        self.outputs.truncate(keep);
        self.unreported = 0;
        self.reports.push(Report::Failed(error.into(), item));
    }

    /// How many items have been reported on.
    ///
    /// # Examples
    ///
    /// See [`ChunkOutputs`].
    pub fn reported(&self) -> usize {
        self.reports.len()
    }

    /// The outputs and the reports, for the engine.
    pub(crate) fn into_parts(mut self) -> (Vec<Out>, Vec<Report<In>>) {
        // Outputs pushed after the last report belong to no item.
        let keep = self.outputs.len() - self.unreported;
        self.outputs.truncate(keep);
        (self.outputs, self.reports)
    }
}

impl<In, Out> fmt::Debug for ChunkOutputs<In, Out> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ChunkOutputs")
            .field("outputs", &self.outputs.len())
            .field("reported", &self.reports.len())
            .finish_non_exhaustive()
    }
}
