//! `take` and `skip`: the engine's limits on the number of items.
//!
//! # Examples
//!
//! ```
//! use baton_engine::{Mode, Pipeline};
//! use baton_ops::{BuiltOp, Item, Params};
//!
//! let run = |op: &str| {
//!     let params = Params::new(toml::from_str("count = 2").unwrap(), ".");
//!     let BuiltOp::Stage(built) = (baton_ops::find(op).unwrap().build)(&params).unwrap() else { unreachable!() };
//!     let items = (0..5).map(|n| Item::with_field("n", n));
//!     built.attach(Pipeline::from_iter(items).stage(op, Mode::serial_in_order())).collect().unwrap().len()
//! };
//! assert_eq!((run("take"), run("skip")), (2, 3));
//! ```

use super::non_negative;
use crate::registry::{BuiltOp, BuiltStage, Modes, OpDef, OpKind, ParamDef, ParamType};

pub(super) const TAKE: OpDef = OpDef {
    name: "take",
    kind: OpKind::Transform,
    summary: "keeps the first `count` items, then stops the source",
    params: &[ParamDef::required("count", ParamType::Int, "items to keep").at_least(0)],
    modes: Modes::SERIAL,
    build: |p| {
        let count = non_negative(p, "count")?;
        Ok(BuiltOp::Stage(BuiltStage::attach_with(move |builder| {
            builder.take(count)
        })))
    },
};

pub(super) const SKIP: OpDef = OpDef {
    name: "skip",
    kind: OpKind::Transform,
    summary: "drops the first `count` items",
    params: &[ParamDef::required("count", ParamType::Int, "items to drop").at_least(0)],
    modes: Modes::SERIAL,
    build: |p| {
        let count = non_negative(p, "count")?;
        Ok(BuiltOp::Stage(BuiltStage::attach_with(move |builder| {
            builder.skip(count)
        })))
    },
};
