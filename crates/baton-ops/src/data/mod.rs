//! Data-pipeline stages: `batch` and `unbatch` (items into one item whose
//! payload is the batch, and back), and the engine's own operators
//! `shuffle`, `prefetch`, `take` and `skip`, each attached as it is; and
//! `repeat`, which wraps the source.

mod batch;
mod cache_file;
mod limit;
mod prefetch;
mod repeat;
mod shuffle;

pub use repeat::{MakeSource, Repeat};

use crate::registry::{OpDef, OpError, Params};

/// Every data-pipeline stage.
pub(crate) const DEFS: &[OpDef] = &[
    batch::BATCH,
    batch::UNBATCH,
    shuffle::DEF,
    prefetch::DEF,
    limit::TAKE,
    limit::SKIP,
    repeat::DEF,
];

/// A whole number parameter that is not negative.
fn non_negative(p: &Params, name: &str) -> Result<usize, OpError> {
    Params::need(name, p.int_as::<usize>(name)?)
}

/// A whole number parameter of at least 1.
fn positive(p: &Params, name: &str) -> Result<usize, OpError> {
    match non_negative(p, name)? {
        0 => Err(OpError::param(name, "must be at least 1")),
        n => Ok(n),
    }
}
