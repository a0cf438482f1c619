//! `shuffle(buffer, seed)`: tf.data's buffered shuffle, reproducible for a
//! given seed and input order.

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use crate::chunk::{Seqs, SeqsBuilder};
use crate::error::ItemFailure;
use crate::stage::{Operator, Output, StageContext};

/// Keeps a buffer of `capacity` items; each new item replaces a random one,
/// which goes out. At the end the rest goes out in random order.
pub(crate) struct ShuffleOp<T> {
    pub(crate) capacity: usize,
    pub(crate) buffer: Vec<(u64, T)>,
    pub(crate) rng: ChaCha8Rng,
}

impl<T> ShuffleOp<T> {
    pub(crate) fn new(capacity: usize, seed: u64) -> Self {
        Self {
            capacity: capacity.max(1),
            buffer: Vec::new(),
            rng: ChaCha8Rng::seed_from_u64(seed),
        }
    }
}

impl<T: Send + 'static> Operator for ShuffleOp<T> {
    type In = T;
    type Out = T;

    fn process(
        &mut self,
        items: Vec<T>,
        seqs: Seqs,
        _ctx: &StageContext,
    ) -> Result<Output<T>, ItemFailure> {
        let mut out = Vec::with_capacity(items.len());
        let mut out_seqs = SeqsBuilder::with_capacity(items.len());
        for (item, seq) in items.into_iter().zip(seqs.iter()) {
            if self.buffer.len() < self.capacity {
                self.buffer.push((seq, item));
                continue;
            }
            let pick = self.rng.gen_range(0..self.capacity);
            let (seq_out, item_out) = std::mem::replace(&mut self.buffer[pick], (seq, item));
            out.push(item_out);
            out_seqs.push(seq_out);
        }
        Ok(Output::new(out, out_seqs.finish()))
    }

    fn finish(&mut self, _ctx: &StageContext) -> Result<Output<T>, ItemFailure> {
        let mut out = Vec::with_capacity(self.buffer.len());
        let mut out_seqs = SeqsBuilder::with_capacity(self.buffer.len());
        while !self.buffer.is_empty() {
            let pick = self.rng.gen_range(0..self.buffer.len());
            let (seq, item) = self.buffer.swap_remove(pick);
            out.push(item);
            out_seqs.push(seq);
        }
        Ok(Output::new(out, out_seqs.finish()))
    }
}
