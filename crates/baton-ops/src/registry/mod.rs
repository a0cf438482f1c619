//! The one definition of every built-in stage: its name, kind, parameters
//! with their types, defaults and docs, the modes it may run in, and how it
//! is built. The pipeline-file parser, `baton check`, the error messages and
//! `baton ops` all read this table, so they cannot drift apart.
//!
//! One file per concern: `def` (what an op is), `params` (its
//! parameters), `config` (the typed form of an op's parameters), `built` (what building it gives), `lookup` (finding
//! it by name) and `examples` (a worked pipeline file for each op).

mod built;
mod config;
mod def;
mod examples;
mod lookup;
mod params;

pub use built::{BuiltOp, BuiltSource, BuiltStage, SinkFactory};
pub use config::{build_from, BuildContext, OpConfig, Paths, Seed};
pub use def::{Modes, OpDef, OpKind, STAGE_KEYS};
pub use lookup::{all, find, find_kind, left_out, nearest, LeftOut};
pub use params::{Bounds, OpError, ParamDef, ParamInt, ParamRole, ParamType, Params};
