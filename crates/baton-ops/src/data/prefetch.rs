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

use super::positive;
use crate::registry::{BuiltOp, BuiltStage, Modes, OpDef, OpKind, ParamDef, ParamType};

pub(super) const DEF: OpDef = OpDef {
    name: "prefetch",
    kind: OpKind::Transform,
    summary: "lets `size` more items be made ahead of the stages after it",
    params: &[ParamDef::required("size", ParamType::Int, "items made ahead").at_least(1)],
    modes: Modes::ANY,
    build: |p| {
        let size = positive(p, "size")?;
        Ok(BuiltOp::Stage(BuiltStage::attach_with(move |builder| {
            builder.prefetch(size)
        })))
    },
};
