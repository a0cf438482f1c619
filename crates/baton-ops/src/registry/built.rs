//! What building an op gives: a source's items, a stage's replicas, or a
//! sink's factory.

use std::fmt;
use std::sync::Arc;

use baton_engine::{BoxError, Sink, Stage};

use crate::item::Item;

/// Makes a stage's replica (called once per replica).
///
/// # Examples
///
/// ```
/// use baton_engine::Stage;
/// use baton_ops::{BuiltOp, Item, Params, StageFactory};
///
/// let params = Params::new(toml::from_str(r#"fields = { a = "b" }"#).unwrap(), ".");
/// let BuiltOp::Stage(factory) = (baton_ops::find("rename").unwrap().build)(&params).unwrap() else { unreachable!() };
/// let factory: StageFactory = factory;
/// let (mut one, mut two) = (factory().unwrap(), factory().unwrap()); // two replicas
/// let mut out = Vec::new();
/// one.process(Item::with_field("a", 1), &mut out).unwrap();
/// two.process(Item::with_field("a", 2), &mut out).unwrap();
/// assert_eq!(out, [Item::with_field("b", 1), Item::with_field("b", 2)]);
/// ```
pub type StageFactory = Arc<dyn Fn() -> Result<Box<dyn Stage<Item, Item>>, BoxError> + Send + Sync>;

/// Makes the sink (called once).
///
/// # Examples
///
/// ```
/// use baton_ops::{BuiltOp, Item, OpKind, Params, SinkFactory};
///
/// let dir = tempfile::tempdir().unwrap();
/// let params = Params::new(toml::from_str(r#"path = "out.jsonl""#).unwrap(), dir.path());
/// let op = baton_ops::find_kind("jsonl", OpKind::Sink).unwrap();
/// let BuiltOp::Sink(make) = (op.build)(&params).unwrap() else { unreachable!() };
/// let make: SinkFactory = make;
/// let mut sink = make().unwrap(); // the file is created here, not at build time
/// sink.write(Item::with_field("n", 1)).unwrap();
/// sink.finish().unwrap();
/// assert_eq!(std::fs::read_to_string(dir.path().join("out.jsonl")).unwrap(), "{\"n\":1}\n");
/// ```
pub type SinkFactory = Box<dyn FnOnce() -> Result<Box<dyn Sink<Item>>, BoxError> + Send>;

/// The items of a source, and how many there will be when known.
///
/// # Examples
///
/// ```
/// use baton_ops::{BuiltOp, Params};
///
/// let params = Params::new(toml::from_str("end = 3").unwrap(), ".");
/// let BuiltOp::Source(source) = (baton_ops::find("range").unwrap().build)(&params).unwrap() else { unreachable!() };
/// assert_eq!(source.len, Some(3));
/// let values: Vec<_> = source.items.map(|item| item.unwrap().get("value").unwrap().clone()).collect();
/// assert_eq!(values, [0, 1, 2]);
/// ```
pub struct BuiltSource {
    /// The items; an `Err` is a bad item (with its position in the message).
    pub items: Box<dyn Iterator<Item = Result<Item, BoxError>> + Send>,
    /// The number of items, when known ahead (for progress and ETA).
    pub len: Option<u64>,
}

impl fmt::Debug for BuiltSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BuiltSource")
            .field("len", &self.len)
            .finish_non_exhaustive()
    }
}

/// A built stage, ready to be put in a pipeline.
///
/// # Examples
///
/// ```
/// use baton_ops::{BuiltOp, Params};
///
/// let params = Params::new(toml::from_str("count = 5").unwrap(), ".");
/// let op = (baton_ops::find("take").unwrap().build)(&params).unwrap();
/// assert!(matches!(op, BuiltOp::Take(5)));
/// ```
pub enum BuiltOp {
    /// A source.
    Source(BuiltSource),
    /// A stage with a replica per factory call.
    Stage(StageFactory),
    /// The engine's `batch` (`exact`: drop a short last batch); the batch is
    /// an item with a `Payload::Batch`.
    Batch {
        /// Items per batch.
        size: usize,
        /// Drop a short last batch.
        exact: bool,
    },
    /// Undoes `batch`.
    Unbatch,
    /// The engine's `shuffle`.
    Shuffle {
        /// Items held.
        buffer: usize,
        /// Random seed.
        seed: u64,
    },
    /// The engine's `prefetch`.
    Prefetch(usize),
    /// The engine's `take`.
    Take(usize),
    /// The engine's `skip`.
    Skip(usize),
    /// A sink.
    Sink(SinkFactory),
}

impl fmt::Debug for BuiltOp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            BuiltOp::Source(s) => s.fmt(f),
            BuiltOp::Stage(_) => f.write_str("Stage"),
            BuiltOp::Batch { size, exact } => write!(f, "Batch({size}, exact={exact})"),
            BuiltOp::Unbatch => f.write_str("Unbatch"),
            BuiltOp::Shuffle { buffer, seed } => write!(f, "Shuffle({buffer}, seed={seed})"),
            BuiltOp::Prefetch(n) => write!(f, "Prefetch({n})"),
            BuiltOp::Take(n) => write!(f, "Take({n})"),
            BuiltOp::Skip(n) => write!(f, "Skip({n})"),
            BuiltOp::Sink(_) => f.write_str("Sink"),
        }
    }
}
