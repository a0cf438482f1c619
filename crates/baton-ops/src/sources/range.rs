//! `range`: the integers `start..end`, each as `{"value": n}`.

use crate::item::Item;
use serde::{Deserialize, Serialize};

use crate::registry::{
    build_from, BuildContext, BuiltOp, BuiltSource, Modes, OpConfig, OpDef, OpError, OpKind,
    ParamDef, ParamType,
};

pub(crate) const DEF: OpDef = OpDef {
    name: "range",
    kind: OpKind::Source,
    summary: "the integers from `start` up to `end` (excluded), each as a record {\"value\": n}",
    params: &[
        ParamDef::with_default("start", ParamType::Int, "0", "the first number"),
        ParamDef::required("end", ParamType::Int, "one past the last number"),
        ParamDef::with_default(
            "step",
            ParamType::Int,
            "1",
            "the distance between numbers (positive)",
        )
        .at_least(1),
    ],
    modes: Modes::SERIAL,
    build: build_from::<RangeConfig>,
};

/// The parameters of `range`: the integers from `start` up to `end`
/// (excluded), `step` apart.
///
/// # Examples
///
/// ```
/// use baton_ops::config::{BuildContext, OpConfig, RangeConfig};
/// let baton_ops::BuiltOp::Source(source) =
///     RangeConfig { start: 2, end: 9, step: 3 }.build(&BuildContext::default()).unwrap()
/// else { unreachable!() };
/// let values: Vec<i64> = source.items.map(|i| i.unwrap().get("value").unwrap().as_i64().unwrap()).collect();
/// assert_eq!(values, [2, 5, 8]);
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RangeConfig {
    /// The first number.
    #[serde(default)]
    pub start: i64,
    /// One past the last number.
    pub end: i64,
    /// The distance between numbers (positive).
    #[serde(default = "one")]
    pub step: usize,
}

fn one() -> usize {
    1
}

impl OpConfig for RangeConfig {
    const DEF: &'static OpDef = &DEF;

    fn build(&self, _: &BuildContext) -> Result<BuiltOp, OpError> {
        let RangeConfig { start, end, step } = *self;
        if step == 0 {
            return Err(OpError::param("step", "must be positive, not 0"));
        }
        // `end - start` overflows i64 for the widest ranges; their distance fits u64.
        let len = if end > start {
            end.abs_diff(start).div_ceil(step as u64)
        } else {
            0
        };
        let items = (start..end)
            .step_by(step)
            .map(|n| Ok(Item::with_field("value", n)));
        Ok(BuiltOp::Source(BuiltSource {
            items: Box::new(items),
            len: Some(len),
            streaming: false,
            parse: None,
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::registry::Params;
    use std::collections::BTreeMap;

    fn build(params: &Params) -> Result<BuiltOp, OpError> {
        build_from::<RangeConfig>(params)
    }

    fn params(pairs: &[(&str, i64)]) -> Params {
        let values: BTreeMap<String, toml::Value> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), toml::Value::Integer(*v)))
            .collect();
        Params::new(values, ".")
    }

    #[test]
    fn counts_from_start_to_end_by_step() {
        let BuiltOp::Source(source) =
            build(&params(&[("start", 2), ("end", 9), ("step", 3)])).unwrap()
        else {
            panic!("not a source")
        };
        assert_eq!(source.len, Some(3));
        let values: Vec<i64> = source
            .items
            .map(|i| i.unwrap().get("value").unwrap().as_i64().unwrap())
            .collect();
        assert_eq!(values, vec![2, 5, 8]);
    }

    #[test]
    fn a_step_of_zero_names_the_parameter() {
        let error = build(&params(&[("end", 9), ("step", 0)])).unwrap_err();
        assert_eq!(error.param.as_deref(), Some("step"));
    }

    #[test]
    fn the_widest_range_counts_without_overflow() {
        let BuiltOp::Source(source) = build(&params(&[
            ("start", i64::MIN),
            ("end", i64::MAX),
            ("step", i64::MAX),
        ]))
        .unwrap() else {
            panic!("not a source")
        };
        assert_eq!(source.len, Some(3));
        let values: Vec<i64> = source
            .items
            .map(|i| i.unwrap().get("value").unwrap().as_i64().unwrap())
            .collect();
        assert_eq!(values, vec![i64::MIN, -1, i64::MAX - 1]);
    }
}
