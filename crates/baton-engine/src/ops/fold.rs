//! `fold`, `reduce`, `collect`: a serial sink that keeps an accumulator and
//! hands it over at the end of the stream.

use std::sync::{Arc, Mutex};

use crate::chunk::Seqs;
use crate::error::ItemFailure;
use crate::stage::drive::guard_chunk;
use crate::stage::{Operator, Output, StageContext};

/// Folds every item into `acc`; at the end puts `acc` in `result`.
pub(crate) struct FoldOp<A, F, T> {
    pub(crate) acc: Option<A>,
    pub(crate) f: F,
    pub(crate) result: Arc<Mutex<Option<A>>>,
    pub(crate) _types: std::marker::PhantomData<fn(T)>,
}

impl<A, F, T> Operator for FoldOp<A, F, T>
where
    A: Send + 'static,
    F: FnMut(A, T) -> A + Send + 'static,
    T: Send + 'static,
{
    type In = T;
    type Out = ();

    fn process(
        &mut self,
        mut items: Vec<T>,
        seqs: Seqs,
        ctx: &StageContext,
    ) -> Result<Output<()>, ItemFailure> {
        let f = &mut self.f;
        let acc = &mut self.acc;
        let folded = guard_chunk(ctx, &seqs, |progress| {
            let mut value = acc
                .take()
                .expect("the accumulator is put back after every item");
            // Drained, not consumed: the emptied buffer goes back to the
            // source.
            for item in items.drain(..) {
                value = f(value, item);
                *progress += 1;
            }
            *acc = Some(value);
            Ok(())
        });
        ctx.buffers.put(items);
        folded?;
        Ok(Output::empty())
    }

    fn finish(&mut self, _ctx: &StageContext) -> Result<Output<()>, ItemFailure> {
        *self.result.lock().unwrap_or_else(|e| e.into_inner()) = self.acc.take();
        Ok(Output::empty())
    }
}
