//! `prefetch`: the engine's prefetch point, which lets `size` more items be
//! made ahead of the stages after it.
//!
//! # Examples
//!
//! ```
//! use baton_engine::{Mode, Pipeline};
//! use baton_ops::{BuiltOp, Item, Params};
//!
//! let params = Params::new(toml::from_str("size = 8").unwrap(), ".");
//! let BuiltOp::Stage(built) = (baton_ops::find("prefetch").unwrap().build)(&params).unwrap() else { unreachable!() };
//! let items = (0..5).map(|n| Item::with_field("n", n));
//! let out = built.attach(Pipeline::from_iter(items).stage("ahead", Mode::parallel(2))).collect().unwrap();
//! assert_eq!(out.len(), 5);
//! ```

use serde::{Deserialize, Serialize};

use super::at_least_one;
use crate::registry::{
    build_from, BuildContext, BuiltOp, BuiltStage, Modes, OpConfig, OpDef, OpError, OpKind,
    ParamDef, ParamType,
};

pub(super) const DEF: OpDef = OpDef {
    name: "prefetch",
    kind: OpKind::Transform,
    summary: "lets `size` more items be made ahead of the stages after it",
    params: &[ParamDef::required("size", ParamType::Int, "items made ahead").at_least(1)],
    modes: Modes::ANY,
    build: build_from::<PrefetchConfig>,
};

/// The parameters of `prefetch`: lets `size` more items be made ahead of
/// the stages after it.
///
/// # Examples
///
/// ```
/// use baton_engine::{Mode, Pipeline};
/// use baton_ops::config::{BuildContext, OpConfig, PrefetchConfig};
/// use baton_ops::{BuiltOp, Item};
///
/// let BuiltOp::Stage(built) = PrefetchConfig { size: 8 }.build(&BuildContext::default()).unwrap() else { unreachable!() };
/// let items = (0..5).map(|n| Item::with_field("n", n));
/// let out = built.attach(Pipeline::from_iter(items).stage("ahead", Mode::serial_in_order())).collect().unwrap();
/// assert_eq!(out.len(), 5);
///
/// let error = PrefetchConfig { size: 0 }.build(&BuildContext::default()).unwrap_err();
/// assert_eq!(error.to_string(), "`size`: must be at least 1");
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PrefetchConfig {
    /// Items made ahead (at least 1).
    pub size: usize,
}

impl OpConfig for PrefetchConfig {
    const DEF: &'static OpDef = &DEF;

    fn build(&self, _: &BuildContext) -> Result<BuiltOp, OpError> {
        let size = at_least_one("size", self.size)?;
        Ok(BuiltOp::Stage(BuiltStage::attach_with(move |builder| {
            builder.prefetch(size)
        })))
    }
}
