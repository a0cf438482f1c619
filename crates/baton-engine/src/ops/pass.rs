//! A stage that passes chunks on untouched: the in-order point in front of
//! an iterator, and `prefetch`.

use crate::chunk::ChunkData;
use crate::error::ItemFailure;
use crate::stage::{Flow, Replica, StageContext};

pub(crate) struct Pass;

impl Replica for Pass {
    fn process(
        &mut self,
        data: ChunkData,
        _ctx: &StageContext,
    ) -> Result<(ChunkData, Flow), ItemFailure> {
        Ok((data, Flow::Continue))
    }

    fn finish(&mut self, before: ChunkData, _ctx: &StageContext) -> Result<ChunkData, ItemFailure> {
        Ok(before)
    }
}
