//! `batch` and `window`: several items into one `Vec`.

use std::collections::VecDeque;

use crate::chunk::{Seqs, SeqsBuilder};
use crate::error::ItemFailure;
use crate::stage::{Operator, Output, StageContext};

/// Groups items into batches of `size`; a batch carries the sequence number
/// of its first item. The last, partial batch is kept unless `exact`.
pub(crate) struct BatchOp<T> {
    pub(crate) size: usize,
    pub(crate) exact: bool,
    pub(crate) current: Vec<T>,
    pub(crate) first_seq: u64,
}

impl<T> BatchOp<T> {
    pub(crate) fn new(size: usize, exact: bool) -> Self {
        Self {
            size: size.max(1),
            exact,
            current: Vec::new(),
            first_seq: 0,
        }
    }
}

impl<T: Send + 'static> Operator for BatchOp<T> {
    type In = T;
    type Out = Vec<T>;

    fn process(
        &mut self,
        items: Vec<T>,
        seqs: Seqs,
        _ctx: &StageContext,
    ) -> Result<Output<Vec<T>>, ItemFailure> {
        let mut out = Vec::new();
        let mut out_seqs = SeqsBuilder::with_capacity(items.len() / self.size + 1);
        for (item, seq) in items.into_iter().zip(seqs.iter()) {
            if self.current.is_empty() {
                self.first_seq = seq;
                self.current.reserve_exact(self.size);
            }
            self.current.push(item);
            if self.current.len() == self.size {
                out.push(std::mem::take(&mut self.current));
                out_seqs.push(self.first_seq);
            }
        }
        Ok(Output::new(out, out_seqs.finish()))
    }

    fn finish(&mut self, _ctx: &StageContext) -> Result<Output<Vec<T>>, ItemFailure> {
        if self.exact || self.current.is_empty() {
            return Ok(Output::empty());
        }
        Ok(Output::new(
            vec![std::mem::take(&mut self.current)],
            Seqs::Run {
                start: self.first_seq,
                len: 1,
            },
        ))
    }
}

/// Sliding windows of `size` items, one every `step` items; a window carries
/// the sequence number of its first item. Only full windows are emitted.
pub(crate) struct WindowOp<T> {
    pub(crate) size: usize,
    pub(crate) step: usize,
    pub(crate) window: VecDeque<(u64, T)>,
    /// Items still to drop before the next window may start.
    pub(crate) skip: usize,
}

impl<T> WindowOp<T> {
    pub(crate) fn new(size: usize, step: usize) -> Self {
        Self {
            size: size.max(1),
            step: step.max(1),
            window: VecDeque::new(),
            skip: 0,
        }
    }
}

impl<T: Clone + Send + 'static> Operator for WindowOp<T> {
    type In = T;
    type Out = Vec<T>;

    fn process(
        &mut self,
        items: Vec<T>,
        seqs: Seqs,
        _ctx: &StageContext,
    ) -> Result<Output<Vec<T>>, ItemFailure> {
        let mut out = Vec::new();
        let mut out_seqs = SeqsBuilder::with_capacity(items.len());
        for (item, seq) in items.into_iter().zip(seqs.iter()) {
            if self.skip > 0 {
                self.skip -= 1;
                continue;
            }
            self.window.push_back((seq, item));
            if self.window.len() == self.size {
                out_seqs.push(self.window[0].0);
                out.push(self.window.iter().map(|(_, item)| item.clone()).collect());
                let drop_now = self.step.min(self.size);
                self.window.drain(..drop_now);
                self.skip = self.step - drop_now;
            }
        }
        Ok(Output::new(out, out_seqs.finish()))
    }
}
