//! User-defined stages and sinks: the public extension point, written with
//! the same mechanism as every built-in operator.

use std::marker::PhantomData;
use std::panic::{catch_unwind, AssertUnwindSafe};

use super::chunked::{ChunkOutputs, Report};
use crate::chunk::{Seqs, SeqsBuilder};
use crate::context::ReplicaContext;
use crate::error::{BoxError, ItemFailure, StageFailure};
use crate::stage::drive::{each_owned, guard_chunk};
use crate::stage::policy::{apply, caught};
use crate::stage::{Operator, Output, StageContext};

/// A stage with state of its own: it takes items one at a time and emits any
/// number of outputs for each; a serial stage may emit more at the end.
///
/// Implement it for a writer, a model, a decoder with a cache, a process
/// that does the work; add it with [`StageBuilder::apply`](crate::StageBuilder::apply).
///
/// # Examples
///
/// ```
/// use baton_engine::{BoxError, Mode, Pipeline, Stage};
///
/// /// Emits running sums, and the total at the end.
/// struct Sums(u64);
/// impl Stage<u64, u64> for Sums {
///     fn process(&mut self, item: u64, out: &mut Vec<u64>) -> Result<(), BoxError> {
///         self.0 += item;
///         out.push(self.0);
///         Ok(())
///     }
///     fn finish(&mut self, out: &mut Vec<u64>) -> Result<(), BoxError> {
///         out.push(self.0 * 100);
///         Ok(())
///     }
/// }
///
/// let out = Pipeline::from_iter(1..=3u64)
///     .stage("sums", Mode::serial_in_order())
///     .apply(|| Ok(Sums(0)))
///     .collect()
///     .unwrap();
/// assert_eq!(out, vec![1, 3, 6, 600]);
/// ```
pub trait Stage<In, Out>: Send + 'static {
    /// Called once when the replica is made, before its first item: keep
    /// what it needs of its run (its number, the [`Cancellation`] to watch
    /// while waiting on the outside world). Runs while the stage is being
    /// handed work, so it should be quick: connect lazily, on the first item.
    ///
    /// # Errors
    ///
    /// Any error: the replica is not used, and the items it was made for
    /// fail under the stage's [`OnError`](crate::OnError) policy.
    ///
    /// [`Cancellation`]: crate::Cancellation
    fn open(&mut self, _ctx: &ReplicaContext) -> Result<(), BoxError> {
        Ok(())
    }

    /// Takes one item; pushes what it makes of it to `out`.
    ///
    /// # Errors
    ///
    /// Any error: the stage's [`OnError`](crate::OnError) policy decides what follows.
    fn process(&mut self, item: In, out: &mut Vec<Out>) -> Result<(), BoxError>;

    /// Whether the engine hands this stage whole chunks of items, with
    /// [`process_chunk`](Stage::process_chunk), instead of one item at a
    /// time (default: no). A stage that pays a fixed cost per call (a
    /// round trip to a process, a GPU call) and can keep many items in
    /// flight says yes.
    fn takes_chunks(&self) -> bool {
        false
    }

    /// Takes the items of a chunk at once (only when
    /// [`takes_chunks`](Stage::takes_chunks) says so) and reports on each,
    /// in order, in `out`: its outputs, or its failure (see
    /// [`ChunkOutputs`]). The engine applies the stage's
    /// [`OnError`](crate::OnError) policy to each failed item; a retry goes
    /// through [`process`](Stage::process), the item alone. An item left
    /// unreported (or a panic) fails at that item. The default takes the
    /// items one by one with `process`.
    ///
    /// # Examples
    ///
    /// ```
    /// use baton_engine::{BoxError, ChunkOutputs, Mode, OnError, Pipeline, Stage};
    ///
    /// /// Doubles a whole chunk in one go, as a remote call would; fails on 0.
    /// struct Doubler;
    /// impl Stage<u32, u32> for Doubler {
    ///     fn process(&mut self, item: u32, out: &mut Vec<u32>) -> Result<(), BoxError> {
    ///         if item == 0 { return Err("zero".into()) }
    ///         out.push(item * 2);
    ///         Ok(())
    ///     }
    ///     fn takes_chunks(&self) -> bool { true }
    ///     fn process_chunk(&mut self, items: Vec<u32>, out: &mut ChunkOutputs<u32, u32>) {
    ///         for item in items {
    ///             if item == 0 {
    ///                 out.failed("zero", Some(item));
    ///             } else {
    ///                 out.push(item * 2);
    ///                 out.done();
    ///             }
    ///         }
    ///     }
    /// }
    ///
    /// let mut iter = Pipeline::from_iter([1, 0, 3u32])
    ///     .stage("double", Mode::parallel(2))
    ///     .on_error(OnError::Skip)
    ///     .apply(|| Ok(Doubler))
    ///     .into_iter();
    /// let out: Vec<u32> = iter.by_ref().map(Result::unwrap).collect();
    /// assert_eq!(out, [2, 6]);
    /// assert_eq!(iter.dead_letters()[0].item::<u32>(), Some(&0));
    /// ```
    fn process_chunk(&mut self, items: Vec<In>, out: &mut ChunkOutputs<In, Out>) {
        let mut made = Vec::new();
        for item in items {
            match self.process(item, &mut made) {
                Ok(()) => {
                    made.drain(..).for_each(|output| out.push(output));
                    out.done();
                }
                Err(error) => {
                    made.clear();
                    out.failed(error, None);
                }
            }
        }
    }

    /// Called after every chunk of items the replica took (a run of items
    /// that moved together): a stage that buffers what it writes (a file,
    /// a socket) writes it out here. Chunks are large when input is fast
    /// and single items when it trickles, so output keeps pace with input
    /// at little cost. Also called after a chunk in which an item failed
    /// the run, for the items before it.
    ///
    /// # Errors
    ///
    /// Any error fails the run, at the chunk's last item (after an item
    /// failed the run, the item's failure is the one reported).
    fn flush(&mut self) -> Result<(), BoxError> {
        Ok(())
    }

    /// Called once after the last item, on serial stages only.
    ///
    /// # Errors
    ///
    /// Any error fails the run.
    fn finish(&mut self, _out: &mut Vec<Out>) -> Result<(), BoxError> {
        Ok(())
    }
}

/// The end of a pipeline that writes items somewhere (a file, a socket, a
/// model's training step). Runs serially; `finish` flushes.
///
/// # Examples
///
/// ```
/// use baton_engine::{BoxError, Mode, Pipeline, Sink};
///
/// struct Total(std::sync::Arc<std::sync::atomic::AtomicU64>);
/// impl Sink<u64> for Total {
///     fn write(&mut self, item: u64) -> Result<(), BoxError> {
///         self.0.fetch_add(item, std::sync::atomic::Ordering::Relaxed);
///         Ok(())
///     }
/// }
///
/// let total = std::sync::Arc::new(std::sync::atomic::AtomicU64::new(0));
/// Pipeline::from_iter(1..=4u64)
///     .stage("total", Mode::serial())
///     .sink(Total(total.clone()))
///     .unwrap();
/// assert_eq!(total.load(std::sync::atomic::Ordering::Relaxed), 10);
/// ```
pub trait Sink<T>: Send + 'static {
    /// Called once before the first item (see [`Stage::open`]).
    ///
    /// # Errors
    ///
    /// Any error fails the run.
    fn open(&mut self, _ctx: &ReplicaContext) -> Result<(), BoxError> {
        Ok(())
    }

    /// Writes one item.
    ///
    /// # Errors
    ///
    /// Any error: the stage's [`OnError`](crate::OnError) policy decides what follows.
    fn write(&mut self, item: T) -> Result<(), BoxError>;

    /// Called after every chunk of items (see [`Stage::flush`]): write out
    /// what is buffered, so that slow input reaches its destination item by
    /// item while fast input is written in large blocks. Also called after
    /// a chunk in which a write failed the run, for the items before it.
    ///
    /// # Errors
    ///
    /// Any error fails the run, at the chunk's last item (after a write
    /// failed the run, the write's failure is the one reported).
    fn flush(&mut self) -> Result<(), BoxError> {
        Ok(())
    }

    /// Called once after the last item: flush, close.
    ///
    /// # Errors
    ///
    /// Any error fails the run.
    fn finish(&mut self) -> Result<(), BoxError> {
        Ok(())
    }
}

impl<In: 'static, Out: 'static> Stage<In, Out> for Box<dyn Stage<In, Out>> {
    fn open(&mut self, ctx: &ReplicaContext) -> Result<(), BoxError> {
        (**self).open(ctx)
    }

    fn process(&mut self, item: In, out: &mut Vec<Out>) -> Result<(), BoxError> {
        (**self).process(item, out)
    }

    fn takes_chunks(&self) -> bool {
        (**self).takes_chunks()
    }

    fn process_chunk(&mut self, items: Vec<In>, out: &mut ChunkOutputs<In, Out>) {
        (**self).process_chunk(items, out)
    }

    fn flush(&mut self) -> Result<(), BoxError> {
        (**self).flush()
    }

    fn finish(&mut self, out: &mut Vec<Out>) -> Result<(), BoxError> {
        (**self).finish(out)
    }
}

impl<T: 'static> Sink<T> for Box<dyn Sink<T>> {
    fn open(&mut self, ctx: &ReplicaContext) -> Result<(), BoxError> {
        (**self).open(ctx)
    }

    fn write(&mut self, item: T) -> Result<(), BoxError> {
        (**self).write(item)
    }

    fn flush(&mut self) -> Result<(), BoxError> {
        (**self).flush()
    }

    fn finish(&mut self) -> Result<(), BoxError> {
        (**self).finish()
    }
}

/// Runs a [`Stage`].
pub(crate) struct CustomOp<S, In, Out> {
    pub(crate) stage: S,
    /// The last item seen: what finish's outputs (and failure) are numbered by.
    pub(crate) last_seq: u64,
    pub(crate) keep: Option<fn(&In) -> In>,
    pub(crate) _types: PhantomData<fn(In) -> Out>,
}

impl<S, In, Out> Operator for CustomOp<S, In, Out>
where
    S: Stage<In, Out>,
    In: Send + 'static,
    Out: Send + 'static,
{
    type In = In;
    type Out = Out;

    fn open(&mut self, ctx: &ReplicaContext) -> Result<(), StageFailure> {
        let stage = &mut self.stage;
        caught(|| stage.open(ctx))
    }

    fn process(
        &mut self,
        items: Vec<In>,
        seqs: Seqs,
        ctx: &StageContext,
    ) -> Result<Output<Out>, ItemFailure> {
        if let Some(last) = seqs.len().checked_sub(1) {
            self.last_seq = seqs.get(last);
        }
        if seqs.len() == 0 {
            return Ok(Output::empty());
        }
        let stage = &mut self.stage;
        let out = if stage.takes_chunks() {
            by_chunk(stage, ctx, self.keep, items, seqs)
        } else {
            each_owned(ctx, self.keep, items, seqs, |item, out| {
                stage.process(item, out)
            })
        };
        let out = match out {
            Ok(out) => out,
            Err(failure) => {
                // The items before the failed one were taken: what they
                // left buffered is written out (the item's failure is the
                // one the run reports).
                let _ = caught(|| stage.flush());
                return Err(failure);
            }
        };
        caught(|| stage.flush()).map_err(|failure| ctx.fail(self.last_seq, failure))?;
        Ok(out)
    }

    fn finish(&mut self, ctx: &StageContext) -> Result<Output<Out>, ItemFailure> {
        let mut out = Vec::new();
        let stage = &mut self.stage;
        caught(|| stage.finish(&mut out)).map_err(|failure| ctx.fail(self.last_seq, failure))?;
        let mut seqs = SeqsBuilder::with_capacity(out.len());
        out.iter().for_each(|_| seqs.push(self.last_seq));
        Ok(Output::new(out, seqs.finish()))
    }
}

/// Hands a chunk to a stage that takes chunks, then applies the stage's
/// error policy to each item it reports failed: a retry hands the item
/// alone to `process`; with no item given back, it can only be skipped
/// (a dead letter without its item) or fail the run. A failure that fails
/// the run carries the outputs of the items before it.
fn by_chunk<S, In, Out>(
    stage: &mut S,
    ctx: &StageContext,
    keep: Option<fn(&In) -> In>,
    items: Vec<In>,
    seqs: Seqs,
) -> Result<Output<Out>, ItemFailure>
where
    S: Stage<In, Out>,
    In: Send + 'static,
    Out: Send + 'static,
{
    let count = items.len();
    let mut chunk = ChunkOutputs::default();
    let guarded = guard_chunk(ctx, &seqs, |progress| {
        let outcome = catch_unwind(AssertUnwindSafe(|| stage.process_chunk(items, &mut chunk)));
        *progress = chunk.reported();
        if let Err(panic) = outcome {
            std::panic::resume_unwind(panic);
        }
        match chunk.reported() {
            reported if reported < count => {
                Err(format!("the stage reported on {reported} of the chunk's {count} items").into())
            }
            _ => Ok(()),
        }
    });
    let (outputs, reports, parts) = chunk.into_parts();
    let mut outputs = outputs.into_iter();
    let mut parts = parts.into_iter().peekable();
    let mut out = Vec::with_capacity(outputs.len());
    let mut out_seqs = SeqsBuilder::with_capacity(outputs.len());
    if let Err(failure) = guarded {
        // The stage stopped short of the failing item: what it reported
        // done before it goes on, up to the first item that failed in
        // whole or in part.
        for (index, (report, seq)) in reports.into_iter().zip(seqs.iter()).enumerate() {
            let Report::Done(made) = report else { break };
            if parts.peek().is_some_and(|(at, _)| *at == index) {
                break;
            }
            out.extend(outputs.by_ref().take(made));
            (0..made).for_each(|_| out_seqs.push(seq));
        }
        return Err(failure.with_done(out, out_seqs.finish()));
    }
    let each_report = || -> Result<(), ItemFailure> {
        for (index, (report, seq)) in reports.into_iter().zip(seqs.iter()).enumerate() {
            while let Some((_, part)) = parts.next_if(|(at, _)| *at == index) {
                if matches!(report, Report::Failed(..)) {
                    // The item fails as a whole: its parts go with it.
                    continue;
                }
                let failure = StageFailure::Error(part.error);
                let (_, _, skip) = ctx.policy.plan();
                if !skip {
                    return Err(ctx.fail(seq, failure));
                }
                ctx.skip(seq, failure, Some(part.part))?;
            }
            match report {
                Report::Done(made) => {
                    out.extend(outputs.by_ref().take(made));
                    (0..made).for_each(|_| out_seqs.push(seq));
                }
                Report::Failed(error, item) => {
                    let keep = keep.filter(|_| !ctx.policy.fails_fast());
                    let (Some(item), Some(keep)) = (item, keep) else {
                        let failure = StageFailure::Error(error);
                        let (_, _, skip) = ctx.policy.plan();
                        if !skip {
                            return Err(ctx.fail(seq, failure));
                        }
                        ctx.skip(seq, failure, None)?;
                        continue;
                    };
                    // The first try is the one the chunk made.
                    let mut first = Some(error);
                    let before = out.len();
                    let done = apply(ctx, seq, item, |item| match first.take() {
                        Some(error) => Err(StageFailure::Error(error)),
                        None => {
                            out.truncate(before);
                            caught(|| stage.process(keep(item), &mut out))
                        }
                    });
                    match done {
                        Ok(Some(_)) => (before..out.len()).for_each(|_| out_seqs.push(seq)),
                        Ok(None) => out.truncate(before),
                        Err(failure) => {
                            out.truncate(before);
                            return Err(failure);
                        }
                    }
                }
            }
        }
        Ok(())
    };
    match each_report() {
        Ok(()) => Ok(Output::new(out, out_seqs.finish())),
        Err(failure) => Err(failure.with_done(out, out_seqs.finish())),
    }
}

/// A [`Sink`] as a [`Stage`] with no output.
pub(crate) struct SinkStage<K>(pub(crate) K);

impl<K: Sink<T>, T> Stage<T, ()> for SinkStage<K> {
    fn open(&mut self, ctx: &ReplicaContext) -> Result<(), BoxError> {
        self.0.open(ctx)
    }

    fn process(&mut self, item: T, _out: &mut Vec<()>) -> Result<(), BoxError> {
        self.0.write(item)
    }

    fn flush(&mut self) -> Result<(), BoxError> {
        self.0.flush()
    }

    fn finish(&mut self, _out: &mut Vec<()>) -> Result<(), BoxError> {
        self.0.finish()
    }
}

/// A stage factory that failed: every item fails with its error.
pub(crate) struct Unmade(pub(crate) String);

impl<In, Out> Stage<In, Out> for Unmade {
    fn process(&mut self, _item: In, _out: &mut Vec<Out>) -> Result<(), BoxError> {
        Err(self.0.clone().into())
    }
}
