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

use super::positive;
use crate::registry::{BuiltOp, BuiltStage, Modes, OpDef, OpKind, ParamDef, ParamType};

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
    build: |p| {
        let buffer = positive(p, "buffer_size")?;
        let seed = p.seed("seed")?.unwrap_or(0);
        Ok(BuiltOp::Stage(BuiltStage::attach_with(move |builder| {
            builder.shuffle(buffer, seed)
        })))
    },
};
