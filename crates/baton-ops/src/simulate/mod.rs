//! Stages that stand for work of a known cost: `delay` waits (like I/O or a
//! machine station), `spin` burns CPU (the `spin` unit of the reference
//! workloads). For teaching, examples and measuring the engine. `delay`
//! waits on its run's cancellation, so an aborted or failed run does not
//! wait for a long delay to end.

use std::time::Duration;

use baton_engine::{BoxError, Cancellation, ReplicaContext, Stage};
use serde::{Deserialize, Serialize};

use crate::item::Item;
use crate::registry::{
    build_from, BuildContext, BuiltOp, BuiltStage, Modes, OpConfig, OpDef, OpError, OpKind,
    ParamDef, ParamType,
};

/// The simulation stages' typed parameters (see [`crate::config`]).
pub(crate) mod configs {
    pub use super::{DelayConfig, SpinConfig};
}

/// Every simulation stage.
pub(crate) const DEFS: &[OpDef] = &[DELAY, SPIN];

const DELAY: OpDef = OpDef {
    name: "delay",
    kind: OpKind::Transform,
    summary:
        "waits `ms` milliseconds per item without using the CPU (a station, a disk, a network call)",
    params: &[
        ParamDef::required("ms", ParamType::Float, "milliseconds to wait per item")
            .between(0, 3_600_000),
    ],
    modes: Modes::ANY_BLOCKING,
    build: build_from::<DelayConfig>,
};

const SPIN: OpDef = OpDef {
    name: "spin",
    kind: OpKind::Transform,
    summary: "burns `iterations` of the reference `spin` unit on the item's `value` field and stores the result there",
    params: &[
        ParamDef::required("iterations", ParamType::Int, "iterations per item").at_least(0),
        ParamDef::with_default("field", ParamType::Str, "\"value\"", "the integer field to spin on"),
    ],
    modes: Modes::ANY,
    build: build_from::<SpinConfig>,
};

/// The parameters of `delay`: how long each item waits.
///
/// # Examples
///
/// ```
/// use baton_engine::Stage;
/// use baton_ops::config::{BuildContext, DelayConfig, OpConfig};
/// use baton_ops::{BuiltOp, Item};
///
/// let BuiltOp::Stage(built) = DelayConfig { ms: 2.5 }.build(&BuildContext::default()).unwrap() else { unreachable!() };
/// let start = std::time::Instant::now();
/// let mut out = Vec::new();
/// built.replica().unwrap().process(Item::with_field("value", 1), &mut out).unwrap();
/// assert!(start.elapsed() >= std::time::Duration::from_micros(2500));
/// assert_eq!(out, vec![Item::with_field("value", 1)]);
/// ```
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DelayConfig {
    /// Milliseconds to wait per item.
    pub ms: f64,
}

impl OpConfig for DelayConfig {
    const DEF: &'static OpDef = &DELAY;

    fn build(&self, _: &BuildContext) -> Result<BuiltOp, OpError> {
        let ms = self.ms;
        if !(0.0..=3_600_000.0).contains(&ms) {
            return Err(OpError::param(
                "ms",
                format!("must be between 0 and 3600000, not {ms}"),
            ));
        }
        let wait = Duration::from_secs_f64(ms / 1000.0);
        Ok(BuiltOp::Stage(BuiltStage::replicas(move || {
            Ok(Delay {
                wait,
                cancellation: Cancellation::new(),
            })
        })))
    }
}

struct Delay {
    wait: Duration,
    /// The run's, once opened: an aborted run does not wait for the delay.
    cancellation: Cancellation,
}

impl Stage<Item, Item> for Delay {
    fn open(&mut self, ctx: &ReplicaContext) -> Result<(), BoxError> {
        self.cancellation = ctx.cancellation().clone();
        Ok(())
    }

    fn process(&mut self, item: Item, out: &mut Vec<Item>) -> Result<(), BoxError> {
        if !self.cancellation.sleep(self.wait) {
            return Err("the run ended during the delay".into());
        }
        out.push(item);
        Ok(())
    }
}

/// The parameters of `spin`: the iterations of the reference `spin` unit
/// each item costs, and the integer field they start from and end in.
///
/// # Examples
///
/// ```
/// use baton_engine::Stage;
/// use baton_ops::config::{BuildContext, OpConfig, SpinConfig};
/// use baton_ops::{BuiltOp, Item};
///
/// let spin = SpinConfig { iterations: 0, field: "n".to_string() };
/// let BuiltOp::Stage(built) = spin.build(&BuildContext::default()).unwrap() else { unreachable!() };
/// let mut out = Vec::new();
/// built.replica().unwrap().process(Item::with_field("n", 7), &mut out).unwrap();
/// // No iterations: the value is left as it was.
/// assert_eq!(out, vec![Item::with_field("n", 7)]);
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SpinConfig {
    /// Iterations per item.
    pub iterations: u64,
    /// The integer field to spin on.
    #[serde(default = "value_field")]
    pub field: String,
}

fn value_field() -> String {
    "value".to_string()
}

impl OpConfig for SpinConfig {
    const DEF: &'static OpDef = &SPIN;

    fn build(&self, _: &BuildContext) -> Result<BuiltOp, OpError> {
        let SpinConfig { iterations, field } = self.clone();
        Ok(BuiltOp::Stage(BuiltStage::replicas(move || {
            Ok(Spin {
                iterations,
                field: field.clone(),
            })
        })))
    }
}

/// The reference workloads' unit of CPU work: a dependent chain no compiler can skip.
pub(crate) fn spin(n: u64, mut x: u64) -> u64 {
    for _ in 0..n {
        x = x
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        x ^= x >> 33;
    }
    x
}

struct Spin {
    iterations: u64,
    field: String,
}

impl Stage<Item, Item> for Spin {
    fn process(&mut self, mut item: Item, out: &mut Vec<Item>) -> Result<(), BoxError> {
        let value = match item.get(&self.field) {
            Some(v) => v
                .as_u64()
                .or_else(|| v.as_i64().map(|i| i as u64))
                .ok_or_else(|| format!("field `{}` is not an integer: {v}", self.field))?,
            None => 0,
        };
        // Stored as a string when it does not fit JSON's exact integers.
        let result = spin(self.iterations, value);
        item.set(&self.field, result);
        out.push(item);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spin_follows_the_reference_definition() {
        assert_eq!(spin(0, 7), 7);
        let mut x: u64 = 1;
        x = x
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        x ^= x >> 33;
        assert_eq!(spin(1, 1), x);
    }

    #[test]
    fn delay_waits_and_passes_the_item_on() {
        let mut stage = Delay {
            wait: Duration::from_millis(5),
            cancellation: Cancellation::new(),
        };
        let mut out = Vec::new();
        let start = std::time::Instant::now();
        stage
            .process(Item::with_field("value", 1), &mut out)
            .unwrap();
        assert!(start.elapsed() >= Duration::from_millis(5));
        assert_eq!(out, vec![Item::with_field("value", 1)]);
    }

    #[test]
    fn an_ended_run_cuts_a_delay_short() {
        let params = crate::testing::params(&DEFS[0], "ms = 60000", ".".as_ref());
        let BuiltOp::Stage(built) = crate::testing::build(&DEFS[0], &params) else {
            panic!("delay is a stage")
        };
        let mut stage = built.replica().unwrap();
        let ctx = ReplicaContext::detached("delay", 0);
        stage.open(&ctx).unwrap();
        let (done, wait) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let mut out = Vec::new();
            let result = stage.process(Item::with_field("value", 1), &mut out);
            let _ = done.send(result.map_err(|e| e.to_string()));
        });
        std::thread::sleep(Duration::from_millis(50));
        ctx.cancellation().cancel();
        let result = wait
            .recv_timeout(Duration::from_secs(5))
            .expect("the delay of a minute ended with the run, not a minute later");
        assert_eq!(result, Err("the run ended during the delay".to_string()));
    }

    #[test]
    fn a_negative_delay_names_its_parameter() {
        let mut values = std::collections::BTreeMap::new();
        values.insert("ms".to_string(), toml::Value::Float(-1.0));
        let params = crate::registry::Params::new(values, ".");
        let error = build_from::<DelayConfig>(&params).err().unwrap();
        assert_eq!(error.param.as_deref(), Some("ms"));
    }
}
