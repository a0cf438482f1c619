//! The chunk drivers: how an operator runs its function over the items of
//! a chunk. Under the fail-fast policy a whole chunk runs under one panic
//! guard with no per-item bookkeeping (the fast path); under any other
//! policy every item goes through the one policy loop ([`apply`]). Every
//! per-item operator is written with one of these three.

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

/// One output per item. On the fast path the items are mapped in place
/// (no new allocation when the types allow) and keep their sequence
/// numbers as they are. `keep` clones an item for the policy loop, which
/// needs it again after a failed try.
pub(crate) fn each_mapped<In: Send + 'static, Out>(
    ctx: &StageContext,
    keep: Option<fn(&In) -> In>,
    items: Vec<In>,
    seqs: Seqs,
    mut f: impl FnMut(In) -> Result<Out, BoxError>,
) -> Result<Output<Out>, ItemFailure> {
    let Some(keep) = keep.filter(|_| !ctx.policy.fails_fast()) else {
        let out = guard_chunk(ctx, &seqs, |progress| {
            let mut error = None;
            let out: Vec<Out> = items
                .into_iter()
                .map_while(|item| match f(item) {
                    Ok(value) => {
                        *progress += 1;
                        Some(value)
                    }
                    Err(e) => {
                        error = Some(e);
                        None
                    }
                })
                .collect();
            error.map_or(Ok(out), Err)
        })?;
        return Ok(Output::new(out, seqs));
    };
    let mut out = Vec::with_capacity(items.len());
    let mut kept = SeqsBuilder::with_capacity(items.len());
    for (item, seq) in items.into_iter().zip(seqs.iter()) {
        if let Some((_, value)) = apply(ctx, seq, item, |item| caught(|| f(keep(item))))? {
            out.push(value);
            kept.push(seq);
        }
    }
    Ok(Output::new(out, kept.finish()))
}

/// Any number of outputs per item: `step` pushes them to `out`. A failed
/// try's partial outputs are taken back.
pub(crate) fn each_owned<In: Send + 'static, Out>(
    ctx: &StageContext,
    keep: Option<fn(&In) -> In>,
    items: Vec<In>,
    seqs: Seqs,
    mut step: impl FnMut(In, &mut Vec<Out>) -> Result<(), BoxError>,
) -> Result<Output<Out>, ItemFailure> {
    let mut out = Vec::with_capacity(items.len());
    let mut out_seqs = SeqsBuilder::with_capacity(items.len());
    let Some(keep) = keep.filter(|_| !ctx.policy.fails_fast()) else {
        guard_chunk(ctx, &seqs, |progress| {
            for (item, seq) in items.into_iter().zip(seqs.iter()) {
                let before = out.len();
                step(item, &mut out)?;
                (before..out.len()).for_each(|_| out_seqs.push(seq));
                *progress += 1;
            }
            Ok(())
        })?;
        return Ok(Output::new(out, out_seqs.finish()));
    };
    for (item, seq) in items.into_iter().zip(seqs.iter()) {
        let before = out.len();
        let done = apply(ctx, seq, item, |item| {
            out.truncate(before);
            caught(|| step(keep(item), &mut out))
        })?;
        match done {
            Some(_) => (before..out.len()).for_each(|_| out_seqs.push(seq)),
            None => out.truncate(before),
        }
    }
    Ok(Output::new(out, out_seqs.finish()))
}

/// Keeps the items `test` is true of. The test borrows the item, so even
/// the policy loop needs no copy of it.
pub(crate) fn each_kept_if<T: Send + 'static>(
    ctx: &StageContext,
    items: Vec<T>,
    seqs: Seqs,
    mut test: impl FnMut(&T) -> bool,
) -> Result<Output<T>, ItemFailure> {
    let mut out = Vec::with_capacity(items.len());
    let mut kept = SeqsBuilder::with_capacity(items.len());
    if ctx.policy.fails_fast() {
        guard_chunk(ctx, &seqs, |progress| {
            for (item, seq) in items.into_iter().zip(seqs.iter()) {
                if test(&item) {
                    out.push(item);
                    kept.push(seq);
                }
                *progress += 1;
            }
            Ok(())
        })?;
        return Ok(Output::new(out, kept.finish()));
    }
    for (item, seq) in items.into_iter().zip(seqs.iter()) {
        if let Some((item, true)) = apply(ctx, seq, item, |item| caught(|| Ok(test(item))))? {
            out.push(item);
            kept.push(seq);
        }
    }
    Ok(Output::new(out, kept.finish()))
}
