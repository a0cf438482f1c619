//! `filter` and `inspect`: a function that borrows each item.

use std::marker::PhantomData;
use std::sync::Arc;

use crate::chunk::{Seqs, SeqsBuilder};
use crate::error::{ItemFailure, OnError};
use crate::stage::{call_item_by_ref, guard_chunk, Operator, Output, StageContext};

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
        let mut out = Vec::with_capacity(items.len());
        let mut kept = SeqsBuilder::with_capacity(items.len());
        if ctx.policy == OnError::Fail {
            guard_chunk(ctx, &seqs, |progress| {
                for (item, seq) in items.into_iter().zip(seqs.iter()) {
                    if f(&item) {
                        out.push(item);
                        kept.push(seq);
                    }
                    *progress += 1;
                }
            })?;
            return Ok(Output::new(out, kept.finish()));
        }
        for (item, seq) in items.into_iter().zip(seqs.iter()) {
            if let Some((item, true)) = call_item_by_ref(ctx, seq, item, &mut |item| f(item))? {
                out.push(item);
                kept.push(seq);
            }
        }
        Ok(Output::new(out, kept.finish()))
    }
}
