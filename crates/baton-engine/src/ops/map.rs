//! `map`, `try_map`, `map_init`, `flat_map`, `filter_map`, `unbatch` and the
//! `for_each` sink: one item in, one (or several, or none) out.

use std::marker::PhantomData;
use std::sync::Arc;

use crate::chunk::{Seqs, SeqsBuilder};
use crate::error::{BoxError, ItemFailure, OnError, StageFailure};
use crate::stage::{call_item, guard_chunk, Operator, Output, StageContext};

/// Applies `f(state, item)` to each item; `state` is the replica's own.
pub(crate) struct MapOp<S, F, In, Out> {
    pub(crate) state: S,
    pub(crate) f: Arc<F>,
    pub(crate) keep: Option<fn(&In) -> In>,
    pub(crate) _types: PhantomData<fn(In) -> Out>,
}

impl<S, F, In, Out> MapOp<S, F, In, Out> {
    pub(crate) fn new(state: S, f: Arc<F>, keep: Option<fn(&In) -> In>) -> Self {
        Self {
            state,
            f,
            keep,
            _types: PhantomData,
        }
    }
}

impl<S, F, In, Out> Operator for MapOp<S, F, In, Out>
where
    S: Send + 'static,
    F: Fn(&mut S, In) -> Result<Out, BoxError> + Send + Sync + 'static,
    In: Send + 'static,
    Out: Send + 'static,
{
    type In = In;
    type Out = Out;

    fn process(
        &mut self,
        items: Vec<In>,
        seqs: Seqs,
        ctx: &StageContext,
    ) -> Result<Output<Out>, ItemFailure> {
        let f = &*self.f;
        let state = &mut self.state;
        if ctx.policy == OnError::Fail {
            // Fast path: one panic guard for the chunk, mapped in place when
            // the types allow it.
            let mut error = None;
            let out: Vec<Out> = guard_chunk(ctx, &seqs, |progress| {
                items
                    .into_iter()
                    .map_while(|item| match f(state, item) {
                        Ok(value) => {
                            *progress += 1;
                            Some(value)
                        }
                        Err(e) => {
                            error = Some(e);
                            None
                        }
                    })
                    .collect()
            })?;
            if let Some(error) = error {
                return Err(ctx.fail(seqs.get(out.len()), StageFailure::Error(error)));
            }
            return Ok(Output::new(out, seqs));
        }
        let mut out = Vec::with_capacity(items.len());
        let mut kept = SeqsBuilder::with_capacity(items.len());
        for (item, seq) in items.into_iter().zip(seqs.iter()) {
            if let Some(value) = call_item(ctx, self.keep, seq, item, &mut |item| f(state, item))? {
                out.push(value);
                kept.push(seq);
            }
        }
        Ok(Output::new(out, kept.finish()))
    }
}

/// Applies `f(state, item)` and emits every item of what it returns, each
/// with the sequence number of its input.
pub(crate) struct FlatMapOp<S, F, In, Out> {
    pub(crate) state: S,
    pub(crate) f: Arc<F>,
    pub(crate) keep: Option<fn(&In) -> In>,
    pub(crate) _types: PhantomData<fn(In) -> Out>,
}

impl<S, F, In, Out> FlatMapOp<S, F, In, Out> {
    pub(crate) fn new(state: S, f: Arc<F>, keep: Option<fn(&In) -> In>) -> Self {
        Self {
            state,
            f,
            keep,
            _types: PhantomData,
        }
    }
}

impl<S, F, In, Out, I> Operator for FlatMapOp<S, F, In, I>
where
    S: Send + 'static,
    F: Fn(&mut S, In) -> Result<I, BoxError> + Send + Sync + 'static,
    I: IntoIterator<Item = Out> + 'static,
    In: Send + 'static,
    Out: Send + 'static,
{
    type In = In;
    type Out = Out;

    fn process(
        &mut self,
        items: Vec<In>,
        seqs: Seqs,
        ctx: &StageContext,
    ) -> Result<Output<Out>, ItemFailure> {
        let f = &*self.f;
        let state = &mut self.state;
        let mut out = Vec::with_capacity(items.len());
        let mut out_seqs = SeqsBuilder::with_capacity(items.len());
        if ctx.policy == OnError::Fail {
            let mut error = None;
            let mut done = 0usize;
            guard_chunk(ctx, &seqs, |progress| {
                for (item, seq) in items.into_iter().zip(seqs.iter()) {
                    match f(state, item) {
                        Ok(many) => {
                            for value in many {
                                out.push(value);
                                out_seqs.push(seq);
                            }
                        }
                        Err(e) => {
                            error = Some(e);
                            return;
                        }
                    }
                    *progress += 1;
                    done += 1;
                }
            })?;
            if let Some(error) = error {
                return Err(ctx.fail(seqs.get(done), StageFailure::Error(error)));
            }
            return Ok(Output::new(out, out_seqs.finish()));
        }
        for (item, seq) in items.into_iter().zip(seqs.iter()) {
            if let Some(many) = call_item(ctx, self.keep, seq, item, &mut |item| f(state, item))? {
                for value in many {
                    out.push(value);
                    out_seqs.push(seq);
                }
            }
        }
        Ok(Output::new(out, out_seqs.finish()))
    }
}
