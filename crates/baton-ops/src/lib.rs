//! # baton-ops
//!
//! baton's built-in stages, the ones a pipeline file names with `op = "..."`:
//! sources (`range`, `files`, `lines`, `csv`, `jsonl`, `stdin`), record
//! stages, image stages, data-pipeline stages, `exec` workers in any
//! language, and sinks.
//!
//! Every stage is declared once, as an [`OpDef`] in the [registry](all):
//! name, parameters (type, default, doc), allowed modes and a build
//! function. The pipeline-file parser, `baton check`, `baton ops` and the
//! error messages all read those definitions. What a build gives reaches
//! the engine one way: a source's items, a sink's factory, or, for every
//! stage in the middle, a [`BuiltStage`] that attaches itself to an engine
//! stage.
//!
//! Items are [`Item`]s: a record of JSON-like fields plus an optional
//! payload (bytes, an image, a tensor, a batch).
//!
//! ```
//! let ops = baton_ops::all();
//! assert!(ops.iter().any(|op| op.name == "range"));
//! ```

#![forbid(unsafe_code)]
#![warn(missing_docs, missing_debug_implementations)]

pub mod binary;
mod codec;
mod data;
mod exec;
mod host;
#[cfg(feature = "images")]
mod images;
mod item;
mod json;
mod records;
mod registry;
mod simulate;
mod sinks;
mod sources;
#[cfg(test)]
mod testing;
mod warnings;

/// Every built-in op's typed parameters: build an op from Rust values (or
/// JSON, or any serde format) instead of a pipeline file.
///
/// ```
/// use baton_ops::config::{BuildContext, OpConfig, RangeConfig};
/// let built = RangeConfig { start: 0, end: 3, step: 1 }.build(&BuildContext::default()).unwrap();
/// assert!(matches!(built, baton_ops::BuiltOp::Source(_)));
/// ```
pub mod config {
    pub use crate::codec::Codec;
    pub use crate::data::configs::*;
    pub use crate::exec::configs::*;
    pub use crate::host::configs::*;
    #[cfg(feature = "images")]
    pub use crate::images::configs::*;
    pub use crate::records::configs::*;
    pub use crate::registry::{build_from, BuildContext, OpConfig, Paths, Seed};
    pub use crate::simulate::configs::*;
    pub use crate::sinks::configs::*;
    pub use crate::sources::configs::*;
}

pub use data::{MakeSource, Repeat};
pub use host::{CheckingHost, FunctionHost, SharedHost};
pub use item::{Item, Payload, Tensor};
pub use registry::{
    all, find, find_kind, left_out, nearest, Bounds, BuiltOp, BuiltSource, BuiltStage, LeftOut,
    Modes, OpDef, OpError, OpKind, ParamDef, ParamInt, ParamRole, ParamType, Params, SinkFactory,
    STAGE_KEYS,
};
pub use sinks::around_stdout_writes;
pub use warnings::{Moment, StageWarnings, Warning, Warnings};
