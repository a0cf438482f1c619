//! The chunk drivers: how an operator runs its function over the items of
//! a chunk. Under the fail-fast policy a chunk runs with no per-item
//! bookkeeping but a count, under one panic guard (or, for a map, one per
//! call, which costs nothing unless it panics): the fast path. Under any
//! other policy every item goes through the one policy loop ([`apply`]).
//! Every per-item operator is written with one of these three.
//! Whatever the policy, a failure that fails the run carries what was made
//! of the chunk's items before the failing one (never anything of the
//! failing item itself), which still goes on.

use std::panic::{catch_unwind, AssertUnwindSafe};

use super::policy::{apply, caught};
use super::{Output, StageContext};
use crate::chunk::{Seqs, SeqsBuilder};
use crate::error::{BoxError, ItemFailure, StageFailure};

/// Runs `body` over a whole chunk under one panic guard. `body` counts the
/// items it has done in `progress`, so that an error or a panic is pinned
/// on the item it happened at.
pub(crate) fn guard_chunk<R>(
    ctx: &StageContext,
    seqs: &Seqs,
    body: impl FnOnce(&mut usize) -> Result<R, BoxError>,
) -> Result<R, ItemFailure> {
    let mut progress = 0usize;
    let outcome = catch_unwind(AssertUnwindSafe(|| body(&mut progress)));
    let failure = match outcome {
        Ok(Ok(value)) => return Ok(value),
        Ok(Err(error)) => StageFailure::Error(error),
        Err(panic) => StageFailure::from_panic(panic),
    };
    Err(ctx.fail(seqs.get(progress), failure))
}

/// An error of a map's function on the fast path, carried out of the
/// chunk's loop by unwinding (`resume_unwind`: no panic hook, no message).
struct Raised(BoxError);

/// One output per item. On the fast path the items of a large chunk are
/// mapped into a buffer from the pool (the inputs' goes back to it) under
/// one guard for the chunk, those of a small one in place; they keep their
/// sequence numbers as they are, and the outputs before a failed item
/// survive it. `keep`
/// clones an item for the policy loop, which needs it again after a failed
/// try. A failure that fails the run carries the outputs of the items
/// before it.
pub(crate) fn each_mapped<In: Send + 'static, Out: Send + 'static>(
    ctx: &StageContext,
    keep: Option<fn(&In) -> In>,
    items: Vec<In>,
    seqs: Seqs,
    mut f: impl FnMut(In) -> Result<Out, BoxError>,
) -> Result<Output<Out>, ItemFailure> {
    let Some(keep) = keep.filter(|_| !ctx.policy.fails_fast()) else {
        if !crate::chunk::BufferPool::keeps::<In>(items.len()) {
            return each_mapped_in_place(ctx, items, seqs, f);
        }
        let mut items = items;
        let mut out: Vec<Out> = ctx.buffers.take(items.len());
        // One guard for the chunk and no early exit from the loop: an
        // error leaves it by unwinding, as a panic does, so the loop
        // vectorises wherever the function does. `extend` has counted
        // what it wrote when the unwinding passes it: the outputs of the
        // items before the failed one stay in `out`.
        let outcome = catch_unwind(AssertUnwindSafe(|| {
            out.extend(items.drain(..).map(|item| match f(item) {
                Ok(value) => value,
                Err(error) => std::panic::resume_unwind(Box::new(Raised(error))),
            }));
        }));
        // The emptied input buffer goes back to the source.
        ctx.buffers.put(items);
        return match outcome {
            Ok(()) => Ok(Output::new(out, seqs)),
            Err(payload) => {
                let failure = match payload.downcast::<Raised>() {
                    Ok(raised) => StageFailure::Error(raised.0),
                    Err(panic) => StageFailure::from_panic(panic),
                };
                let done = seqs.prefix(out.len());
                Err(ctx.fail(seqs.get(out.len()), failure).with_done(out, done))
            }
        };
    };
    let mut out = Vec::with_capacity(items.len());
    let mut kept = SeqsBuilder::with_capacity(items.len());
    for (item, seq) in items.into_iter().zip(seqs.iter()) {
        match apply(ctx, seq, item, |item| caught(|| f(keep(item)))) {
            Ok(Some((_, value))) => {
                out.push(value);
                kept.push(seq);
            }
            Ok(None) => {}
            Err(failure) => return Err(failure.with_done(out, kept.finish())),
        }
    }
    Ok(Output::new(out, kept.finish()))
}

/// The fast path of [`each_mapped`] for a small chunk (of costly items,
/// most often): mapped in place where the types allow, with no buffer to
/// take, each call guarded on its own so that the outputs before a failed
/// item survive it.
fn each_mapped_in_place<In: Send + 'static, Out: Send + 'static>(
    ctx: &StageContext,
    items: Vec<In>,
    seqs: Seqs,
    mut f: impl FnMut(In) -> Result<Out, BoxError>,
) -> Result<Output<Out>, ItemFailure> {
    let mut failure = None;
    let out: Vec<Out> = items
        .into_iter()
        .map_while(|item| match caught(|| f(item)) {
            Ok(value) => Some(value),
            Err(e) => {
                failure = Some(e);
                None
            }
        })
        .collect();
    match failure {
        None => Ok(Output::new(out, seqs)),
        Some(failure) => {
            let done = seqs.prefix(out.len());
            Err(ctx.fail(seqs.get(out.len()), failure).with_done(out, done))
        }
    }
}

/// Any number of outputs per item: `step` pushes them to `out`. A failed
/// try's partial outputs are taken back; a failure that fails the run
/// carries the outputs of the items before it.
pub(crate) fn each_owned<In: Send + 'static, Out: Send + 'static>(
    ctx: &StageContext,
    keep: Option<fn(&In) -> In>,
    items: Vec<In>,
    seqs: Seqs,
    mut step: impl FnMut(In, &mut Vec<Out>) -> Result<(), BoxError>,
) -> Result<Output<Out>, ItemFailure> {
    let mut out = ctx.buffers.take(items.len());
    let mut out_seqs = SeqsBuilder::with_capacity(items.len());
    let Some(keep) = keep.filter(|_| !ctx.policy.fails_fast()) else {
        let mut items = items;
        // The outputs of the items done so far.
        let mut made = 0;
        let result = guard_chunk(ctx, &seqs, |progress| {
            for (item, seq) in items.drain(..).zip(seqs.iter()) {
                step(item, &mut out)?;
                (made..out.len()).for_each(|_| out_seqs.push(seq));
                made = out.len();
                *progress += 1;
            }
            Ok(())
        });
        ctx.buffers.put(items);
        if let Err(failure) = result {
            // What the failed item pushed before it failed does not go on.
            out.truncate(made);
            return Err(failure.with_done(out, out_seqs.finish()));
        }
        return Ok(Output::new(out, out_seqs.finish()));
    };
    for (item, seq) in items.into_iter().zip(seqs.iter()) {
        let before = out.len();
        let done = apply(ctx, seq, item, |item| {
            out.truncate(before);
            caught(|| step(keep(item), &mut out))
        });
        match done {
            Ok(Some(_)) => (before..out.len()).for_each(|_| out_seqs.push(seq)),
            Ok(None) => out.truncate(before),
            Err(failure) => {
                out.truncate(before);
                return Err(failure.with_done(out, out_seqs.finish()));
            }
        }
    }
    Ok(Output::new(out, out_seqs.finish()))
}

/// Keeps the items `test` is true of. The test borrows the item, so even
/// the policy loop needs no copy of it. A failure that fails the run
/// carries the items kept before it.
pub(crate) fn each_kept_if<T: Send + 'static>(
    ctx: &StageContext,
    items: Vec<T>,
    seqs: Seqs,
    mut test: impl FnMut(&T) -> bool,
) -> Result<Output<T>, ItemFailure> {
    let mut out = ctx.buffers.take(items.len());
    let mut kept = SeqsBuilder::with_capacity(items.len());
    if ctx.policy.fails_fast() {
        let mut items = items;
        let result = guard_chunk(ctx, &seqs, |progress| {
            for (item, seq) in items.drain(..).zip(seqs.iter()) {
                if test(&item) {
                    out.push(item);
                    kept.push(seq);
                }
                *progress += 1;
            }
            Ok(())
        });
        ctx.buffers.put(items);
        return match result {
            Ok(()) => Ok(Output::new(out, kept.finish())),
            Err(failure) => Err(failure.with_done(out, kept.finish())),
        };
    }
    for (item, seq) in items.into_iter().zip(seqs.iter()) {
        match apply(ctx, seq, item, |item| caught(|| Ok(test(item)))) {
            Ok(Some((item, true))) => {
                out.push(item);
                kept.push(seq);
            }
            Ok(_) => {}
            Err(failure) => return Err(failure.with_done(out, kept.finish())),
        }
    }
    Ok(Output::new(out, kept.finish()))
}
