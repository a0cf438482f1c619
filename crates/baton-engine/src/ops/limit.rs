//! `take` and `skip`.

use crate::chunk::{Seqs, SeqsBuilder};
use crate::error::ItemFailure;
use crate::stage::{Flow, Operator, Output, StageContext};

/// Passes the first `left` items, then asks for no more input.
pub(crate) struct TakeOp<T> {
    pub(crate) left: usize,
    pub(crate) _types: std::marker::PhantomData<fn(T)>,
}

impl<T: Send + 'static> Operator for TakeOp<T> {
    type In = T;
    type Out = T;

    fn process(
        &mut self,
        mut items: Vec<T>,
        seqs: Seqs,
        _ctx: &StageContext,
    ) -> Result<Output<T>, ItemFailure> {
        let keep = items.len().min(self.left);
        self.left -= keep;
        items.truncate(keep);
        let mut kept = SeqsBuilder::with_capacity(keep);
        seqs.iter().take(keep).for_each(|seq| kept.push(seq));
        let mut out = Output::new(items, kept.finish());
        if self.left == 0 {
            out.flow = Flow::Finished;
        }
        Ok(out)
    }
}

/// Drops the first `left` items.
pub(crate) struct SkipOp<T> {
    pub(crate) left: usize,
    pub(crate) _types: std::marker::PhantomData<fn(T)>,
}

impl<T: Send + 'static> Operator for SkipOp<T> {
    type In = T;
    type Out = T;

    fn process(
        &mut self,
        items: Vec<T>,
        seqs: Seqs,
        _ctx: &StageContext,
    ) -> Result<Output<T>, ItemFailure> {
        if self.left == 0 {
            return Ok(Output::new(items, seqs));
        }
        let drop_now = items.len().min(self.left);
        self.left -= drop_now;
        let items: Vec<T> = items.into_iter().skip(drop_now).collect();
        let mut kept = SeqsBuilder::with_capacity(items.len());
        seqs.iter().skip(drop_now).for_each(|seq| kept.push(seq));
        Ok(Output::new(items, kept.finish()))
    }
}
