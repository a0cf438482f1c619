//! What an op is: its name, where it sits in a pipeline, the modes it may
//! run in, its parameters and how it is built.

use std::fmt;

use baton_engine::ModeKind;

use super::built::BuiltOp;
use super::params::{OpError, ParamDef, Params};

/// Keys every stage of a pipeline file may have, whatever its op: no op's
/// parameter may have one of these names.
///
/// # Examples
///
/// ```
/// assert!(baton_ops::STAGE_KEYS.contains(&"replicas"));
/// ```
pub const STAGE_KEYS: &[&str] = &[
    "name",
    "op",
    "mode",
    "replicas",
    "buffer",
    "fuse",
    "on_error",
    "retries",
    "backoff_ms",
    "dead_letter",
    "placement",
];

/// Where a stage sits in a pipeline.
///
/// # Examples
///
/// ```
/// assert_eq!(baton_ops::OpKind::Source.to_string(), "source");
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OpKind {
    /// The first stage: makes items.
    Source,
    /// A stage in the middle: takes items, gives items.
    Transform,
    /// The last stage: takes items.
    Sink,
}

impl fmt::Display for OpKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            OpKind::Source => "source",
            OpKind::Transform => "stage",
            OpKind::Sink => "sink",
        })
    }
}

/// The modes a stage may run in.
///
/// # Examples
///
/// ```
/// use baton_engine::ModeKind;
/// use baton_ops::Modes;
/// assert!(Modes::ANY.allows(ModeKind::Parallel));
/// assert!(!Modes::SERIAL.allows(ModeKind::Parallel));
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Modes {
    /// The mode when the file names none.
    pub default: ModeKind,
    /// Every mode it may run in.
    pub allowed: &'static [ModeKind],
    /// Whether it waits on I/O (runs on threads of its own).
    pub blocking: bool,
}

impl Modes {
    /// Any mode; parallel unless told otherwise.
    ///
    /// # Examples
    ///
    /// ```
    /// use baton_engine::ModeKind;
    /// use baton_ops::Modes;
    /// assert_eq!(Modes::ANY.default, ModeKind::Parallel);
    /// assert!(!Modes::ANY.blocking);
    /// assert_eq!(baton_ops::find("rename").unwrap().modes, Modes::ANY);
    /// ```
    pub const ANY: Modes = Modes {
        default: ModeKind::Parallel,
        allowed: &ModeKind::ALL,
        blocking: false,
    };
    /// Any mode, blocking on I/O; parallel unless told otherwise.
    ///
    /// # Examples
    ///
    /// ```
    /// use baton_engine::ModeKind;
    /// use baton_ops::Modes;
    /// assert!(Modes::ANY_BLOCKING.blocking && Modes::ANY_BLOCKING.allows(ModeKind::Parallel));
    /// assert_eq!(baton_ops::find("exec").unwrap().modes, Modes::ANY_BLOCKING);
    /// ```
    pub const ANY_BLOCKING: Modes = Modes {
        default: ModeKind::Parallel,
        allowed: &ModeKind::ALL,
        blocking: true,
    };
    /// Serial only (state across items); in order unless told otherwise.
    ///
    /// # Examples
    ///
    /// ```
    /// use baton_engine::ModeKind;
    /// use baton_ops::Modes;
    /// assert_eq!(Modes::SERIAL.default, ModeKind::SerialInOrder);
    /// assert!(Modes::SERIAL.allows(ModeKind::Serial));
    /// assert_eq!(baton_ops::find("range").unwrap().modes, Modes::SERIAL);
    /// ```
    pub const SERIAL: Modes = Modes {
        default: ModeKind::SerialInOrder,
        allowed: &[ModeKind::SerialInOrder, ModeKind::Serial],
        blocking: false,
    };
    /// Serial only and blocking (a source, a file sink); in order unless told otherwise.
    ///
    /// # Examples
    ///
    /// ```
    /// use baton_engine::ModeKind;
    /// use baton_ops::{find_kind, Modes, OpKind};
    /// assert!(Modes::SERIAL_BLOCKING.blocking);
    /// assert!(!Modes::SERIAL_BLOCKING.allows(ModeKind::Parallel));
    /// assert_eq!(find_kind("jsonl", OpKind::Sink).unwrap().modes, Modes::SERIAL_BLOCKING);
    /// ```
    pub const SERIAL_BLOCKING: Modes = Modes {
        default: ModeKind::SerialInOrder,
        allowed: &[ModeKind::SerialInOrder, ModeKind::Serial],
        blocking: true,
    };

    /// Whether `mode` is allowed.
    ///
    /// # Examples
    ///
    /// See [`Modes`].
    pub fn allows(&self, mode: ModeKind) -> bool {
        self.allowed.contains(&mode)
    }
}

/// The definition of a built-in stage.
///
/// # Examples
///
/// ```
/// let range = baton_ops::find("range").unwrap();
/// assert_eq!(range.kind, baton_ops::OpKind::Source);
/// assert!(range.params.iter().any(|p| p.name == "end"));
/// ```
#[derive(Clone, Copy)]
pub struct OpDef {
    /// Its name (`op = "..."`).
    pub name: &'static str,
    /// Source, stage or sink.
    pub kind: OpKind,
    /// One line on what it does.
    pub summary: &'static str,
    /// Its parameters.
    pub params: &'static [ParamDef],
    /// The modes it may run in.
    pub modes: Modes,
    /// Builds it from validated parameters.
    pub build: fn(&Params) -> Result<BuiltOp, OpError>,
}

impl fmt::Debug for OpDef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OpDef")
            .field("name", &self.name)
            .field("kind", &self.kind)
            .finish_non_exhaustive()
    }
}

impl OpDef {
    /// The definition of one parameter.
    ///
    /// # Examples
    ///
    /// ```
    /// assert!(baton_ops::find("range").unwrap().param("start").is_some());
    /// ```
    pub fn param(&self, name: &str) -> Option<&'static ParamDef> {
        self.params.iter().find(|p| p.name == name)
    }

    /// Whether it gives exactly one item for each item it takes (under
    /// the fail-fast policy): what says how long a run is from its
    /// source's length.
    ///
    /// # Examples
    ///
    /// ```
    /// assert!(baton_ops::find("crop").unwrap().one_for_one());
    /// assert!(!baton_ops::find("filter").unwrap().one_for_one());
    /// ```
    pub fn one_for_one(&self) -> bool {
        self.kind == OpKind::Transform && ONE_FOR_ONE.contains(&self.name)
    }
}

/// The stages that give exactly one item for each item they take.
const ONE_FOR_ONE: &[&str] = &[
    "image_decode",
    "image_encode",
    "resize",
    "crop",
    "flip",
    "normalize",
    "to_tensor",
    "rename",
    "select",
    "hash",
    "compress",
    "decompress",
    "prefetch",
    "shuffle",
    "delay",
    "spin",
    "remap",
];
