//! What a [`Stage`](crate::Stage) that takes a chunk of items at once
//! reports about each of them: its outputs, or its failure.

use std::any::Any;
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
/// A part of an item may fail while the rest goes on
/// ([`part_failed`](ChunkOutputs::part_failed)): a bad line in a block of
/// lines. Under a policy that skips, the part goes to the dead letters and
/// the item's other outputs go on; under any other, the item fails.
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
    /// Failed parts, each with the index of its item.
    parts: Vec<(usize, FailedPart)>,
}

/// A part of an item that failed while the rest of the item went on (see
/// [`ChunkOutputs::part_failed`]).
///
/// # Examples
///
/// See [`ChunkOutputs::into_reports`].
#[derive(Debug)]
#[non_exhaustive]
pub struct FailedPart {
    /// Why it failed.
    pub error: BoxError,
    /// The part, for the dead letters.
    pub part: Box<dyn Any + Send>,
}

/// What became of one item of a chunk, for a caller that drives a
/// [`Stage`](crate::Stage) by hand (see [`ChunkOutputs::into_reports`]).
#[derive(Debug)]
#[non_exhaustive]
pub struct ItemReport<In, Out> {
    /// Its outputs, or its failure with the item when the stage gave it
    /// back.
    pub outcome: Result<Vec<Out>, (BoxError, Option<In>)>,
    /// The parts of it that failed, when the rest went on.
    pub failed_parts: Vec<FailedPart>,
}

/// The outputs, the reports and the failed parts (each with its item's
/// index) of a chunk.
pub(crate) type ChunkParts<In, Out> = (Vec<Out>, Vec<Report<In>>, Vec<(usize, FailedPart)>);

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
            parts: Vec::new(),
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

    /// A part of the next item not yet reported on failed with `error`,
    /// while the rest of the item goes on (a bad line in a block of lines,
    /// whose good lines are pushed as usual): under an
    /// [`OnError`](crate::OnError) policy that skips, `part` goes to the
    /// dead letters with the item's sequence number; under any other, the
    /// item fails with `error` (the first such part's). Report on the item
    /// after its parts, with [`done`](ChunkOutputs::done); if it
    /// [`failed`](ChunkOutputs::failed) as a whole, its parts are dropped.
    ///
    /// # Examples
    ///
    /// ```
    /// use baton_engine::{BoxError, ChunkOutputs, Mode, OnError, Pipeline, Stage};
    ///
    /// /// Parses the numbers of a line of text; keeps the good ones.
    /// struct Numbers;
    /// impl Stage<String, u32> for Numbers {
    ///     fn process(&mut self, _: String, _: &mut Vec<u32>) -> Result<(), BoxError> {
    ///         unreachable!("takes chunks")
    ///     }
    ///     fn takes_chunks(&self) -> bool { true }
    ///     fn process_chunk(&mut self, lines: Vec<String>, out: &mut ChunkOutputs<String, u32>) {
    ///         for line in lines {
    ///             for word in line.split(' ') {
    ///                 match word.parse() {
    ///                     Ok(n) => out.push(n),
    ///                     Err(_) => out.part_failed(format!("{word:?} is not a number"), word.to_string()),
    ///                 }
    ///             }
    ///             out.done();
    ///         }
    ///     }
    /// }
    ///
    /// let mut iter = Pipeline::from_iter(["1 x 2".to_string(), "3".to_string()])
    ///     .stage("numbers", Mode::parallel(2))
    ///     .on_error(OnError::Skip)
    ///     .apply(|| Ok(Numbers))
    ///     .into_iter();
    /// let out: Vec<u32> = iter.by_ref().map(Result::unwrap).collect();
    /// assert_eq!(out, [1, 2, 3]);
    /// let letters = iter.dead_letters();
    /// assert_eq!((letters[0].seq, letters[0].item::<String>()), (0, Some(&"x".to_string())));
    /// ```
    pub fn part_failed(&mut self, error: impl Into<BoxError>, part: impl Any + Send) {
        self.parts.push((
            self.reports.len(),
            FailedPart {
                error: error.into(),
                part: Box::new(part),
            },
        ));
    }

    /// How many items have been reported on.
    ///
    /// # Examples
    ///
    /// See [`ChunkOutputs`].
    pub fn reported(&self) -> usize {
        self.reports.len()
    }

    /// The outputs, the reports and the failed parts (with their items'
    /// indices), for the engine.
    pub(crate) fn into_parts(mut self) -> ChunkParts<In, Out> {
        // Outputs pushed after the last report belong to no item.
        let keep = self.outputs.len() - self.unreported;
        self.outputs.truncate(keep);
        (self.outputs, self.reports, self.parts)
    }

    /// What became of each item reported on, in order: for a caller that
    /// drives a [`Stage`](crate::Stage)'s
    /// [`process_chunk`](crate::Stage::process_chunk) by hand.
    ///
    /// # Examples
    ///
    /// ```
    /// use baton_engine::ChunkOutputs;
    ///
    /// let mut out: ChunkOutputs<&str, u32> = ChunkOutputs::default();
    /// out.push(1);
    /// out.part_failed("not a number", "x");
    /// out.done();
    /// out.failed("empty", Some(""));
    /// let reports = out.into_reports();
    /// assert_eq!(reports[0].outcome.as_ref().unwrap(), &[1]);
    /// assert_eq!(reports[0].failed_parts[0].part.downcast_ref::<&str>(), Some(&"x"));
    /// assert_eq!(reports[1].outcome.as_ref().unwrap_err().1, Some(""));
    /// ```
    pub fn into_reports(self) -> Vec<ItemReport<In, Out>> {
        let (outputs, reports, parts) = self.into_parts();
        let mut outputs = outputs.into_iter();
        let mut parts = parts.into_iter().peekable();
        let mut items = Vec::with_capacity(reports.len());
        for (index, report) in reports.into_iter().enumerate() {
            let mut failed_parts = Vec::new();
            while let Some((_, part)) = parts.next_if(|(at, _)| *at == index) {
                failed_parts.push(part);
            }
            let outcome = match report {
                Report::Done(made) => Ok(outputs.by_ref().take(made).collect()),
                Report::Failed(error, item) => {
                    failed_parts.clear();
                    Err((error, item))
                }
            };
            items.push(ItemReport {
                outcome,
                failed_parts,
            });
        }
        items
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
