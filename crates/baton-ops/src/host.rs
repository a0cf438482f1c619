//! `python`: a stage that calls a function of the program running baton.
//!
//! baton runs inside other programs too: the Python front (`import baton`)
//! iterates a pipeline in a training loop, and a stage there may be a few
//! lines of the user's own Python. Such a program is a [`FunctionHost`]:
//! it is handed to the build ([`Params::with_host`](crate::Params::with_host))
//! and makes the stage that calls the function a `python` stage names.
//! Without a host (`baton run`), a `python` stage is refused with a
//! message that says where it runs; `baton check` builds with a
//! [`CheckingHost`], which takes every function as named.
//!
//! # Examples
//!
//! ```
//! use std::sync::Arc;
//! use baton_engine::{BoxError, Stage};
//! use baton_ops::config::BuildContext;
//! use baton_ops::{BuiltOp, BuiltStage, FunctionHost, Item, Params};
//!
//! /// A host whose only function, `double`, doubles the field `n`.
//! #[derive(Debug)]
//! struct Doubler;
//! struct Double;
//! impl Stage<Item, Item> for Double {
//!     fn process(&mut self, mut item: Item, out: &mut Vec<Item>) -> Result<(), BoxError> {
//!         let n = item.get("n").and_then(|n| n.as_i64()).unwrap_or(0);
//!         item.set("n", n * 2);
//!         out.push(item);
//!         Ok(())
//!     }
//! }
//! impl FunctionHost for Doubler {
//!     fn stage(&self, function: &str, _: &BuildContext) -> Result<BuiltStage, String> {
//!         match function {
//!             "double" => Ok(BuiltStage::replicas(|| Ok(Double))),
//!             other => Err(format!("no function `{other}`")),
//!         }
//!     }
//! }
//!
//! let op = baton_ops::find("python").unwrap();
//! let params = Params::new(toml::from_str(r#"function = "double""#).unwrap(), ".");
//! // Without a host, the stage says where it runs.
//! let refused = (op.build)(&params).unwrap_err();
//! assert!(refused.to_string().contains("from Python"), "{refused}");
//! // With one, it calls the host's function.
//! let BuiltOp::Stage(built) = (op.build)(&params.with_host(Arc::new(Doubler))).unwrap() else { unreachable!() };
//! let mut out = Vec::new();
//! built.replica().unwrap().process(Item::with_field("n", 21), &mut out).unwrap();
//! assert_eq!(out, [Item::with_field("n", 42)]);
//! ```

use std::fmt;
use std::sync::Arc;

use baton_engine::{BoxError, ModeKind, Stage};

use crate::Item;
use serde::{Deserialize, Serialize};

use crate::registry::{
    build_from, BuildContext, BuiltOp, BuiltStage, Modes, OpConfig, OpDef, OpError, OpKind,
    ParamDef, ParamType,
};

/// A program that embeds baton and gives it stages of its own: the
/// functions a `python` stage names (see the [module](self)).
///
/// # Examples
///
/// See the [module](self).
pub trait FunctionHost: Send + Sync + fmt::Debug {
    /// The stage that calls `function`, as the host names it (for Python:
    /// `"module:name"`, or a callable the program handed over).
    ///
    /// # Errors
    ///
    /// When the host has no such function: the message says why.
    fn stage(&self, function: &str, context: &BuildContext) -> Result<BuiltStage, String>;
}

/// A host shared by every stage of a build.
pub type SharedHost = Arc<dyn FunctionHost>;

/// The host of a build that is only checked, never run (`baton check`):
/// it takes every function as named, so that a pipeline file meant for
/// Python checks clean in everything else. The program that runs the file
/// resolves the functions; a stage of this host, if it were run anyway,
/// would fail its items saying so.
///
/// # Examples
///
/// ```
/// use std::sync::Arc;
/// use baton_ops::{BuiltOp, CheckingHost, Item, Params};
///
/// let op = baton_ops::find("python").unwrap();
/// let params = Params::new(toml::from_str(r#"function = "cleaning:clean""#).unwrap(), ".")
///     .with_host(Arc::new(CheckingHost));
/// let BuiltOp::Stage(built) = (op.build)(&params).unwrap() else { unreachable!() };
/// let never = built.replica().err().unwrap();
/// assert!(never.to_string().contains("cleaning:clean"), "{never}");
/// ```
#[derive(Clone, Copy, Debug, Default)]
pub struct CheckingHost;

impl FunctionHost for CheckingHost {
    fn stage(&self, function: &str, _: &BuildContext) -> Result<BuiltStage, String> {
        let message = format!(
            "`{function}` is a Python function: this pipeline was only checked, and runs \
             when iterated from Python (`baton.Pipeline.from_file`)"
        );
        Ok(BuiltStage::replicas(move || {
            Err::<NotRun, BoxError>(message.clone().into())
        }))
    }
}

/// The stage a [`CheckingHost`] never makes.
struct NotRun;

impl Stage<Item, Item> for NotRun {
    fn process(&mut self, _: Item, _: &mut Vec<Item>) -> Result<(), BoxError> {
        Err("a function of a checked pipeline does not run".into())
    }
}

pub(crate) const DEF: OpDef = OpDef {
    name: "python",
    kind: OpKind::Transform,
    summary: "calls a Python function on each item (runs when Python iterates the pipeline; serial on the GIL)",
    params: &[ParamDef::required(
        "function",
        ParamType::Str,
        "the function, as \"module:name\" (imported as Python imports it)",
    )],
    modes: Modes {
        default: ModeKind::SerialInOrder,
        allowed: &ModeKind::ALL,
        blocking: false,
    },
    build: build_from::<PythonConfig>,
};

/// Every op of this module.
pub(crate) const DEFS: &[OpDef] = &[DEF];

/// The parameters of `python`: the function each item goes through, as
/// `"module:name"`. It takes the item as a `dict` and returns a `dict` (one
/// item), `None` (no item) or a list of dicts (one item each); it runs
/// with the GIL held, so two replicas of it overlap only where the
/// function releases the GIL (NumPy, I/O).
///
/// # Examples
///
/// ```
/// use baton_ops::config::{BuildContext, OpConfig, PythonConfig};
/// let config = PythonConfig { function: "augment:random_erase".into() };
/// let refused = config.build(&BuildContext::default()).unwrap_err();
/// assert_eq!(refused.param.as_deref(), Some("function"));
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PythonConfig {
    /// The function, as `"module:name"`.
    pub function: String,
}

impl OpConfig for PythonConfig {
    const DEF: &'static OpDef = &DEF;

    fn build(&self, context: &BuildContext) -> Result<BuiltOp, OpError> {
        let Some(host) = context.host() else {
            return Err(OpError::param(
                "function",
                "a `python` stage calls a Python function: it runs when a pipeline is iterated \
                 from Python (`baton.Pipeline.from_file`), not from `baton run`",
            ));
        };
        host.stage(&self.function, context)
            .map(BuiltOp::Stage)
            .map_err(|message| OpError::param("function", message))
    }
}

/// The configs of this module, for `baton_ops::config`.
pub(crate) mod configs {
    pub use super::PythonConfig;
}
