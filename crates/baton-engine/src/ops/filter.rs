//! `filter` and `inspect`: a function that borrows each item.

use std::marker::PhantomData;
use std::sync::Arc;

use crate::chunk::Seqs;
use crate::error::ItemFailure;
use crate::stage::drive::each_kept_if;
use crate::stage::{Operator, Output, StageContext};

/// Keeps the items for which `f` is true (`inspect` is a filter that always is).
pub(crate) struct FilterOp<F, T> {
    pub(crate) f: Arc<F>,
    pub(crate) _types: PhantomData<fn(T)>,
}

impl<F, T> FilterOp<F, T> {
    pub(crate) fn new(f: Arc<F>) -> Self {
        Self {
            f,
            _types: PhantomData,
        }
    }
}

impl<F, T> Operator for FilterOp<F, T>
where
    F: Fn(&T) -> bool + Send + Sync + 'static,
    T: Send + 'static,
{
    type In = T;
    type Out = T;

    fn process(
        &mut self,
        items: Vec<T>,
        seqs: Seqs,
        ctx: &StageContext,
    ) -> Result<Output<T>, ItemFailure> {
        let f = &*self.f;
        each_kept_if(ctx, items, seqs, f)
    }
}
