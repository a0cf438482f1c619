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

use serde::{Deserialize, Serialize};

use crate::registry::{
    build_from, BuildContext, BuiltOp, BuiltStage, Modes, OpConfig, OpDef, OpError, OpKind,
    ParamDef, ParamType,
};

pub(super) const TAKE: OpDef = OpDef {
    name: "take",
    kind: OpKind::Transform,
    summary: "keeps the first `count` items, then stops the source",
    params: &[ParamDef::required("count", ParamType::Int, "items to keep").at_least(0)],
    modes: Modes::SERIAL,
    build: build_from::<TakeConfig>,
};

pub(super) const SKIP: OpDef = OpDef {
    name: "skip",
    kind: OpKind::Transform,
    summary: "drops the first `count` items",
    params: &[ParamDef::required("count", ParamType::Int, "items to drop").at_least(0)],
    modes: Modes::SERIAL,
    build: build_from::<SkipConfig>,
};

/// The parameters of `take`: keeps the first `count` items, then stops the
/// source.
///
/// # Examples
///
/// ```
/// use baton_engine::{Mode, Pipeline};
/// use baton_ops::config::{BuildContext, OpConfig, TakeConfig};
/// use baton_ops::{BuiltOp, Item};
///
/// let BuiltOp::Stage(built) = TakeConfig { count: 2 }.build(&BuildContext::default()).unwrap() else { unreachable!() };
/// let items = (0..5).map(|n| Item::with_field("n", n));
/// let out = built.attach(Pipeline::from_iter(items).stage("take", Mode::serial_in_order())).collect().unwrap();
/// assert_eq!(out, [Item::with_field("n", 0), Item::with_field("n", 1)]);
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TakeConfig {
    /// Items to keep.
    pub count: usize,
}

impl OpConfig for TakeConfig {
    const DEF: &'static OpDef = &TAKE;

    fn build(&self, _: &BuildContext) -> Result<BuiltOp, OpError> {
        let count = self.count;
        Ok(BuiltOp::Stage(BuiltStage::attach_with(move |builder| {
            builder.take(count)
        })))
    }
}

/// The parameters of `skip`: drops the first `count` items.
///
/// # Examples
///
/// ```
/// use baton_engine::{Mode, Pipeline};
/// use baton_ops::config::{BuildContext, OpConfig, SkipConfig};
/// use baton_ops::{BuiltOp, Item};
///
/// let BuiltOp::Stage(built) = SkipConfig { count: 3 }.build(&BuildContext::default()).unwrap() else { unreachable!() };
/// let items = (0..5).map(|n| Item::with_field("n", n));
/// let out = built.attach(Pipeline::from_iter(items).stage("skip", Mode::serial_in_order())).collect().unwrap();
/// assert_eq!(out, [Item::with_field("n", 3), Item::with_field("n", 4)]);
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SkipConfig {
    /// Items to drop.
    pub count: usize,
}

impl OpConfig for SkipConfig {
    const DEF: &'static OpDef = &SKIP;

    fn build(&self, _: &BuildContext) -> Result<BuiltOp, OpError> {
        let count = self.count;
        Ok(BuiltOp::Stage(BuiltStage::attach_with(move |builder| {
            builder.skip(count)
        })))
    }
}
