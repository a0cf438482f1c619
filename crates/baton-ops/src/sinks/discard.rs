//! `discard`: drops every item (to time the stages before it).
//!
//! # Examples
//!
//! ```
//! use baton_ops::{BuiltOp, Item, OpKind, Params};
//!
//! let op = baton_ops::find_kind("discard", OpKind::Sink).unwrap();
//! let BuiltOp::Sink(make) = (op.build)(&Params::default()).unwrap() else { unreachable!() };
//! let mut sink = make().unwrap();
//! sink.write(Item::with_field("n", 1)).unwrap();
//! sink.finish().unwrap();
//! ```

use super::sink;
use crate::item::Item;
use crate::registry::{build_from, BuildContext, BuiltOp, Modes, OpConfig, OpDef, OpError, OpKind};
use baton_engine::{BoxError, Sink};
use serde::{Deserialize, Serialize};

pub(crate) const DEF: OpDef = OpDef {
    name: "discard",
    kind: OpKind::Sink,
    summary: "drops every item (to run and time the stages before it)",
    params: &[],
    modes: Modes::SERIAL,
    build: build_from::<DiscardConfig>,
};

/// The parameters of `discard`: none. It drops every item, to run and
/// time the stages before it.
///
/// # Examples
///
/// ```
/// use baton_ops::config::{BuildContext, DiscardConfig, OpConfig};
/// use baton_ops::{BuiltOp, Item};
///
/// let BuiltOp::Sink(make) = DiscardConfig {}.build(&BuildContext::default()).unwrap() else { unreachable!() };
/// let mut sink = make().unwrap();
/// assert!(sink.write(Item::with_field("n", 1)).is_ok());
/// assert!(sink.finish().is_ok());
///
/// // It takes no parameter: any is refused.
/// assert_eq!(serde_json::from_str::<DiscardConfig>("{}").unwrap(), DiscardConfig {});
/// assert!(serde_json::from_str::<DiscardConfig>(r#"{"n": 1}"#).is_err());
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DiscardConfig {}

impl OpConfig for DiscardConfig {
    const DEF: &'static OpDef = &DEF;

    fn build(&self, _: &BuildContext) -> Result<BuiltOp, OpError> {
        Ok(sink(|| Ok(Discard)))
    }
}

/// The sink.
#[derive(Debug)]
struct Discard;

impl Sink<Item> for Discard {
    fn write(&mut self, _: Item) -> Result<(), BoxError> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{params, run_sink};

    #[test]
    fn takes_everything() {
        let items = vec![Item::with_field("a", 1); 3];
        assert!(run_sink(&DEF, &params(&DEF, "", ".".as_ref()), items).is_empty());
    }
}
