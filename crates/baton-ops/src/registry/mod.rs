//! The one definition of every built-in stage: its name, kind, parameters
//! with their types, defaults and docs, the modes it may run in, and how it
//! is built. The pipeline-file parser, `baton check`, the error messages and
//! `baton ops` all read this table, so they cannot drift apart.
//!
//! One file per concern: `def` (what an op is), `params` (its
//! parameters), `built` (what building it gives) and `lookup` (finding
//! it by name).

mod built;
mod def;
mod lookup;
mod params;

pub use built::{BuiltOp, BuiltSource, BuiltStage, SinkFactory};
pub use def::{Modes, OpDef, OpKind, STAGE_KEYS};
pub use lookup::{all, find, find_kind, nearest};
pub use params::{Bounds, OpError, ParamDef, ParamInt, ParamRole, ParamType, Params};
