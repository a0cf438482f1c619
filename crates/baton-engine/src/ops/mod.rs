//! The operators. Each is a thin [`Operator`](crate::stage::Operator) over
//! the one stage mechanism; none is special-cased in the executor.

pub(crate) mod batch;
pub(crate) mod chunked;
pub(crate) mod custom;
pub(crate) mod filter;
pub(crate) mod fold;
pub(crate) mod limit;
pub(crate) mod map;
pub(crate) mod pass;
pub(crate) mod shuffle;
