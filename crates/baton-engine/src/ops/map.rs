//! `map`, `try_map`, `map_init`, `flat_map`, `filter_map`, `unbatch` and the
//! `for_each` sink: one item in, one (or several, or none) out.

use std::marker::PhantomData;
use std::sync::Arc;

use crate::chunk::Seqs;
use crate::error::{BoxError, ItemFailure};
use crate::stage::drive::{each_mapped, each_owned};
use crate::stage::{Operator, Output, StageContext};

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
        let (f, state) = (&*self.f, &mut self.state);
        each_mapped(ctx, self.keep, items, seqs, |item| f(state, item))
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
        let (f, state) = (&*self.f, &mut self.state);
        each_owned(ctx, self.keep, items, seqs, |item, out| {
            out.extend(f(state, item)?);
            Ok(())
        })
    }
}
