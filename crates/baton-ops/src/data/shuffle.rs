//! `shuffle`: the engine's seeded buffer shuffle.
//!
//! # Examples
//!
//! ```
//! use baton_engine::{Mode, Pipeline};
//! use baton_ops::{BuiltOp, Item, Params};
//!
//! let params = Params::new(toml::from_str("buffer_size = 8\nseed = 1").unwrap(), ".");
//! let shuffle = || {
//!     let BuiltOp::Stage(built) = (baton_ops::find("shuffle").unwrap().build)(&params).unwrap() else { unreachable!() };
//!     let items = (0..20).map(|n| Item::with_field("n", n));
//!     built.attach(Pipeline::from_iter(items).stage("shuffle", Mode::serial_in_order())).collect().unwrap()
//! };
//! let (a, b) = (shuffle(), shuffle());
//! assert_eq!(a, b, "the same seed shuffles the same way");
//! assert_eq!(a.len(), 20);
//! ```

use serde::{Deserialize, Serialize};

use super::at_least_one;
use crate::registry::{
    build_from, BuildContext, BuiltOp, BuiltStage, Modes, OpConfig, OpDef, OpError, OpKind,
    ParamDef, ParamType, Seed,
};

pub(super) const DEF: OpDef = OpDef {
    name: "shuffle",
    kind: OpKind::Transform,
    summary: "shuffles through a buffer of `buffer_size` items, the same way for the same `seed`",
    params: &[
        ParamDef::required("buffer_size", ParamType::Int, "items held to shuffle among")
            .at_least(1),
        ParamDef::with_default("seed", ParamType::Int, "0", "random seed"),
    ],
    modes: Modes::SERIAL,
    build: build_from::<ShuffleConfig>,
};

/// The parameters of `shuffle`: shuffles through a buffer of `buffer_size`
/// items, the same way for the same `seed`.
///
/// # Examples
///
/// ```
/// use baton_engine::{Mode, Pipeline};
/// use baton_ops::config::{BuildContext, OpConfig, Seed, ShuffleConfig};
/// use baton_ops::{BuiltOp, Item};
///
/// let config = ShuffleConfig { buffer_size: 8, seed: Seed(1) };
/// let shuffle = || {
///     let BuiltOp::Stage(built) = config.build(&BuildContext::default()).unwrap() else { unreachable!() };
///     let items = (0..20).map(|n| Item::with_field("n", n));
///     built.attach(Pipeline::from_iter(items).stage("shuffle", Mode::serial_in_order())).collect().unwrap()
/// };
/// let (a, b) = (shuffle(), shuffle());
/// assert_eq!(a, b, "the same seed shuffles the same way");
/// assert_eq!(a.len(), 20);
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ShuffleConfig {
    /// Items held to shuffle among (at least 1).
    pub buffer_size: usize,
    /// Random seed.
    #[serde(default)]
    pub seed: Seed,
}

impl OpConfig for ShuffleConfig {
    const DEF: &'static OpDef = &DEF;

    fn build(&self, _: &BuildContext) -> Result<BuiltOp, OpError> {
        let buffer = at_least_one("buffer_size", self.buffer_size)?;
        let Seed(seed) = self.seed;
        Ok(BuiltOp::Stage(BuiltStage::attach_with(move |builder| {
            builder.shuffle(buffer, seed)
        })))
    }
}
