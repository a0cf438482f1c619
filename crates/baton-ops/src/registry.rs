//! The one definition of every built-in stage: its name, kind, parameters
//! with their types, defaults and docs, the modes it may run in, and how it
//! is built. The pipeline-file parser, `baton check`, the error messages and
//! `baton ops` all read this table, so they cannot drift apart.

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use baton_engine::{BoxError, ModeKind, Sink, Stage};

use crate::item::Item;

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
    "on_error",
    "retries",
    "backoff_ms",
    "dead_letter",
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

/// The type of a parameter's value.
///
/// # Examples
///
/// ```
/// use baton_ops::ParamType;
/// assert!(ParamType::Int.accepts(&toml::Value::Integer(3)));
/// assert!(!ParamType::Int.accepts(&toml::Value::String("3".into())));
/// assert!(ParamType::Float.accepts(&toml::Value::Integer(3)));
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ParamType {
    /// A string.
    Str,
    /// An integer.
    Int,
    /// A number (an integer is accepted).
    Float,
    /// `true` or `false`.
    Bool,
    /// An array of strings.
    StrList,
    /// An array of numbers.
    FloatList,
    /// A table of string values (`{ old = "new" }`).
    StrTable,
}

impl ParamType {
    /// Whether a value is of this type.
    ///
    /// # Examples
    ///
    /// See [`ParamType`].
    pub fn accepts(&self, value: &toml::Value) -> bool {
        use toml::Value as V;
        match self {
            ParamType::Str => matches!(value, V::String(_)),
            ParamType::Int => matches!(value, V::Integer(_)),
            ParamType::Float => matches!(value, V::Integer(_) | V::Float(_)),
            ParamType::Bool => matches!(value, V::Boolean(_)),
            ParamType::StrList => matches!(value, V::Array(a) if a.iter().all(|v| v.is_str())),
            ParamType::FloatList => {
                matches!(value, V::Array(a) if a.iter().all(|v| v.is_integer() || v.is_float()))
            }
            ParamType::StrTable => matches!(value, V::Table(t) if t.values().all(|v| v.is_str())),
        }
    }

    /// How the type is named in messages and `baton ops`.
    ///
    /// # Examples
    ///
    /// ```
    /// assert_eq!(baton_ops::ParamType::StrList.name(), "array of strings");
    /// ```
    pub fn name(&self) -> &'static str {
        match self {
            ParamType::Str => "string",
            ParamType::Int => "integer",
            ParamType::Float => "number",
            ParamType::Bool => "boolean",
            ParamType::StrList => "array of strings",
            ParamType::FloatList => "array of numbers",
            ParamType::StrTable => "table of strings",
        }
    }
}

/// The smallest and the largest value a number parameter may take, both
/// included.
///
/// Written once on the parameter's definition ([`ParamDef::at_least`],
/// [`ParamDef::between`]): `baton check` refuses a value outside them,
/// pointing at the value, and `baton ops` shows them beside the type.
///
/// # Examples
///
/// ```
/// use baton_ops::Bounds;
/// let quality = Bounds::between(1, 100);
/// assert!(quality.contains(&toml::Value::Integer(85)));
/// assert!(!quality.contains(&toml::Value::Integer(101)));
/// assert!(!Bounds::between(0, 1).contains(&toml::Value::Float(1.5)));
/// assert_eq!(quality.to_string(), "from 1 to 100");
/// assert_eq!(Bounds::at_least(1).to_string(), "at least 1");
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Bounds {
    /// The smallest value allowed.
    pub min: i64,
    /// The largest value allowed.
    pub max: i64,
}

impl Bounds {
    /// `min` or more.
    ///
    /// # Examples
    ///
    /// See [`Bounds`].
    pub const fn at_least(min: i64) -> Self {
        Self { min, max: i64::MAX }
    }

    /// From `min` to `max`, both included.
    ///
    /// # Examples
    ///
    /// See [`Bounds`].
    pub const fn between(min: i64, max: i64) -> Self {
        Self { min, max }
    }

    /// Whether a number is within the bounds (a value that is not a number
    /// is the type check's business, not this one's: it passes).
    ///
    /// # Examples
    ///
    /// See [`Bounds`].
    pub fn contains(&self, value: &toml::Value) -> bool {
        match value {
            toml::Value::Integer(n) => (self.min..=self.max).contains(n),
            // NaN is in no bounds: `contains` is false for it.
            toml::Value::Float(x) => (self.min as f64..=self.max as f64).contains(x),
            _ => true,
        }
    }
}

impl fmt::Display for Bounds {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (self.min, self.max) {
            (min, i64::MAX) => write!(f, "at least {min}"),
            (i64::MIN, max) => write!(f, "at most {max}"),
            (min, max) => write!(f, "from {min} to {max}"),
        }
    }
}

/// One parameter of a built-in stage.
///
/// # Examples
///
/// ```
/// use baton_ops::{ParamDef, ParamType};
/// const END: ParamDef = ParamDef::required("end", ParamType::Int, "one past the last number");
/// assert!(END.required);
/// const SIZE: ParamDef = ParamDef::required("size", ParamType::Int, "items per batch").at_least(1);
/// assert_eq!(SIZE.type_text(), "integer, at least 1");
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ParamDef {
    /// The key in the pipeline file.
    pub name: &'static str,
    /// The type of its value.
    pub ty: ParamType,
    /// Whether it must be given.
    pub required: bool,
    /// Its default, in TOML syntax (`"4"`, `"\"line\""`, `"true"`), if optional and defaulted.
    pub default: Option<&'static str>,
    /// The values a number may take, if not every one.
    pub bounds: Option<Bounds>,
    /// What it means.
    pub doc: &'static str,
}

impl ParamDef {
    /// A parameter that must be given.
    ///
    /// # Examples
    ///
    /// See [`ParamDef`].
    pub const fn required(name: &'static str, ty: ParamType, doc: &'static str) -> Self {
        Self {
            name,
            ty,
            required: true,
            default: None,
            bounds: None,
            doc,
        }
    }

    /// An optional parameter with no default.
    ///
    /// # Examples
    ///
    /// ```
    /// let seed = baton_ops::ParamDef::optional("seed", baton_ops::ParamType::Int, "random seed");
    /// assert!(!seed.required);
    /// ```
    pub const fn optional(name: &'static str, ty: ParamType, doc: &'static str) -> Self {
        Self {
            name,
            ty,
            required: false,
            default: None,
            bounds: None,
            doc,
        }
    }

    /// An optional parameter with a default (in TOML syntax).
    ///
    /// # Examples
    ///
    /// ```
    /// use baton_ops::{ParamDef, ParamType};
    /// let field = ParamDef::with_default("field", ParamType::Str, "\"line\"", "the field to parse");
    /// assert_eq!(field.default, Some("\"line\""));
    /// ```
    pub const fn with_default(
        name: &'static str,
        ty: ParamType,
        default: &'static str,
        doc: &'static str,
    ) -> Self {
        Self {
            name,
            ty,
            required: false,
            default: Some(default),
            bounds: None,
            doc,
        }
    }

    /// The same number parameter, `min` or more (a count, a size).
    ///
    /// # Examples
    ///
    /// ```
    /// use baton_ops::{Bounds, ParamDef, ParamType};
    /// let count = ParamDef::required("count", ParamType::Int, "items to keep").at_least(0);
    /// assert_eq!(count.bounds, Some(Bounds::at_least(0)));
    /// ```
    pub const fn at_least(self, min: i64) -> Self {
        self.within(Bounds::at_least(min))
    }

    /// The same number parameter, from `min` to `max` (both included).
    ///
    /// # Examples
    ///
    /// ```
    /// use baton_ops::{Bounds, ParamDef, ParamType};
    /// let quality = ParamDef::with_default("quality", ParamType::Int, "85", "JPEG quality").between(1, 100);
    /// assert_eq!(quality.bounds, Some(Bounds::between(1, 100)));
    /// ```
    pub const fn between(self, min: i64, max: i64) -> Self {
        self.within(Bounds::between(min, max))
    }

    const fn within(mut self, bounds: Bounds) -> Self {
        self.bounds = Some(bounds);
        self
    }

    /// The type as `baton ops` shows it: its name, and its bounds if it has some.
    ///
    /// # Examples
    ///
    /// ```
    /// let quality = baton_ops::find("image_encode").unwrap().param("quality").unwrap();
    /// assert_eq!(quality.type_text(), "integer, from 1 to 100");
    /// let format = baton_ops::find("image_encode").unwrap().param("format").unwrap();
    /// assert_eq!(format.type_text(), "string");
    /// ```
    pub fn type_text(&self) -> String {
        match self.bounds {
            Some(bounds) => format!("{}, {bounds}", self.ty.name()),
            None => self.ty.name().to_string(),
        }
    }
}

/// A failure to build a stage from its parameters, naming the parameter at
/// fault when there is one (so the caller can point at its line).
///
/// # Examples
///
/// ```
/// let e = baton_ops::OpError::param("path", "no file matches `logs/*.gz`");
/// assert_eq!(e.to_string(), "`path`: no file matches `logs/*.gz`");
/// ```
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}{message}", param.as_ref().map(|p| format!("`{p}`: ")).unwrap_or_default())]
pub struct OpError {
    /// The parameter at fault, if one is.
    pub param: Option<String>,
    /// What is wrong.
    pub message: String,
}

impl OpError {
    /// An error about one parameter.
    ///
    /// # Examples
    ///
    /// See [`OpError`].
    pub fn param(param: &str, message: impl Into<String>) -> Self {
        Self {
            param: Some(param.to_string()),
            message: message.into(),
        }
    }

    /// An error about the stage as a whole.
    ///
    /// # Examples
    ///
    /// ```
    /// assert_eq!(baton_ops::OpError::stage("bad").to_string(), "bad");
    /// ```
    pub fn stage(message: impl Into<String>) -> Self {
        Self {
            param: None,
            message: message.into(),
        }
    }
}

/// An integer type a parameter can be read as, with [`Params::int_as`]:
/// the type's own limits, for the message when a value does not fit.
///
/// # Examples
///
/// ```
/// use baton_ops::ParamInt;
/// assert_eq!(<u32 as ParamInt>::MAX, u32::MAX as i128);
/// assert_eq!(<usize as ParamInt>::MIN, 0);
/// ```
pub trait ParamInt: TryFrom<i64> {
    /// The smallest value of the type.
    const MIN: i128;
    /// The largest value of the type.
    const MAX: i128;
}

macro_rules! param_int {
    ($($t:ty),*) => {$(
        impl ParamInt for $t {
            const MIN: i128 = <$t>::MIN as i128;
            const MAX: i128 = <$t>::MAX as i128;
        }
    )*};
}

param_int!(u8, u16, u32, u64, usize, i8, i16, i32, i64);

/// The validated parameters of one stage, with defaults filled in.
///
/// # Examples
///
/// ```
/// use baton_ops::Params;
/// let mut values = std::collections::BTreeMap::new();
/// values.insert("end".to_string(), toml::Value::Integer(10));
/// let params = Params::new(values, ".");
/// assert_eq!(params.int("end").unwrap(), Some(10));
/// assert_eq!(params.int("start").unwrap(), None);
/// ```
#[derive(Clone, Debug, Default)]
pub struct Params {
    values: BTreeMap<String, toml::Value>,
    base_dir: PathBuf,
}

impl Params {
    /// Parameters read from a file in `base_dir` (relative paths start there).
    ///
    /// # Examples
    ///
    /// See [`Params`].
    pub fn new(values: BTreeMap<String, toml::Value>, base_dir: impl AsRef<Path>) -> Self {
        Self {
            values,
            base_dir: base_dir.as_ref().to_path_buf(),
        }
    }

    /// The raw value of a parameter.
    ///
    /// # Examples
    ///
    /// ```
    /// assert!(baton_ops::Params::default().raw("x").is_none());
    /// ```
    pub fn raw(&self, name: &str) -> Option<&toml::Value> {
        self.values.get(name)
    }

    fn typed<'a, T>(
        &'a self,
        name: &str,
        what: &str,
        get: impl Fn(&'a toml::Value) -> Option<T>,
    ) -> Result<Option<T>, OpError> {
        match self.values.get(name) {
            None => Ok(None),
            Some(value) => get(value)
                .map(Some)
                .ok_or_else(|| OpError::param(name, format!("expected {what}"))),
        }
    }

    /// A string parameter.
    ///
    /// # Errors
    ///
    /// When the value is not a string.
    ///
    /// # Examples
    ///
    /// ```
    /// assert_eq!(baton_ops::Params::default().str("field").unwrap(), None);
    /// ```
    pub fn str(&self, name: &str) -> Result<Option<&str>, OpError> {
        self.typed(name, "a string", |v| v.as_str())
    }

    /// An integer parameter.
    ///
    /// # Errors
    ///
    /// When the value is not an integer.
    ///
    /// # Examples
    ///
    /// See [`Params`].
    pub fn int(&self, name: &str) -> Result<Option<i64>, OpError> {
        self.typed(name, "an integer", |v| v.as_integer())
    }

    /// An integer parameter as the type it is used as (`u32` pixels,
    /// `usize` counts, ...): the one place a parameter's `i64` is narrowed,
    /// so a value that does not fit is an error naming the key, never a
    /// silent wrap-around.
    ///
    /// # Errors
    ///
    /// When the value is not an integer, or does not fit in `T`.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::collections::BTreeMap;
    /// let mut values = BTreeMap::new();
    /// values.insert("width".to_string(), toml::Value::Integer(5_000_000_000));
    /// values.insert("count".to_string(), toml::Value::Integer(-1));
    /// let params = baton_ops::Params::new(values, ".");
    /// let error = params.int_as::<u32>("width").unwrap_err();
    /// assert_eq!(error.to_string(), "`width`: must be at most 4294967295, not 5000000000");
    /// let error = params.int_as::<usize>("count").unwrap_err();
    /// assert_eq!(error.to_string(), "`count`: must not be negative, not -1");
    /// assert_eq!(params.int_as::<u64>("width").unwrap(), Some(5_000_000_000));
    /// assert_eq!(params.int_as::<u8>("absent").unwrap(), None);
    /// ```
    pub fn int_as<T: ParamInt>(&self, name: &str) -> Result<Option<T>, OpError> {
        let Some(n) = self.int(name)? else {
            return Ok(None);
        };
        T::try_from(n).map(Some).map_err(|_| {
            let message = match i128::from(n) {
                n if n < T::MIN && T::MIN == 0 => format!("must not be negative, not {n}"),
                n if n < T::MIN => format!("must be at least {}, not {n}", T::MIN),
                n => format!("must be at most {}, not {n}", T::MAX),
            };
            OpError::param(name, message)
        })
    }

    /// A random seed: any integer. A negative one stands for the `u64` with
    /// the same bits, so every integer a file can hold is a seed of its own.
    ///
    /// # Errors
    ///
    /// When the value is not an integer.
    ///
    /// # Examples
    ///
    /// ```
    /// let params = baton_ops::Params::new(toml::from_str("seed = -1").unwrap(), ".");
    /// assert_eq!(params.seed("seed").unwrap(), Some(u64::MAX));
    /// ```
    pub fn seed(&self, name: &str) -> Result<Option<u64>, OpError> {
        // Reinterpreting the bits is the point: no two integers share a seed.
        Ok(self.int(name)?.map(|n| n as u64))
    }

    /// A number parameter (integers accepted).
    ///
    /// # Errors
    ///
    /// When the value is not a number.
    ///
    /// # Examples
    ///
    /// ```
    /// assert_eq!(baton_ops::Params::default().float("p").unwrap(), None);
    /// ```
    pub fn float(&self, name: &str) -> Result<Option<f64>, OpError> {
        self.typed(name, "a number", |v| {
            v.as_float().or_else(|| v.as_integer().map(|i| i as f64))
        })
    }

    /// A boolean parameter.
    ///
    /// # Errors
    ///
    /// When the value is not a boolean.
    ///
    /// # Examples
    ///
    /// ```
    /// assert_eq!(baton_ops::Params::default().bool("gzip").unwrap(), None);
    /// ```
    pub fn bool(&self, name: &str) -> Result<Option<bool>, OpError> {
        self.typed(name, "a boolean", |v| v.as_bool())
    }

    /// An array-of-strings parameter.
    ///
    /// # Errors
    ///
    /// When the value is not an array of strings.
    ///
    /// # Examples
    ///
    /// ```
    /// assert_eq!(baton_ops::Params::default().str_list("fields").unwrap(), None);
    /// ```
    pub fn str_list(&self, name: &str) -> Result<Option<Vec<String>>, OpError> {
        self.typed(name, "an array of strings", |v| {
            v.as_array()?
                .iter()
                .map(|s| s.as_str().map(str::to_string))
                .collect()
        })
    }

    /// An array-of-numbers parameter.
    ///
    /// # Errors
    ///
    /// When the value is not an array of numbers.
    ///
    /// # Examples
    ///
    /// ```
    /// assert_eq!(baton_ops::Params::default().float_list("mean").unwrap(), None);
    /// ```
    pub fn float_list(&self, name: &str) -> Result<Option<Vec<f64>>, OpError> {
        self.typed(name, "an array of numbers", |v| {
            v.as_array()?
                .iter()
                .map(|x| x.as_float().or_else(|| x.as_integer().map(|i| i as f64)))
                .collect()
        })
    }

    /// A table-of-strings parameter, in key order.
    ///
    /// # Errors
    ///
    /// When the value is not a table of strings.
    ///
    /// # Examples
    ///
    /// ```
    /// assert_eq!(baton_ops::Params::default().str_table("fields").unwrap(), None);
    /// ```
    pub fn str_table(&self, name: &str) -> Result<Option<Vec<(String, String)>>, OpError> {
        self.typed(name, "a table of strings", |v| {
            v.as_table()?
                .iter()
                .map(|(k, v)| v.as_str().map(|s| (k.clone(), s.to_string())))
                .collect()
        })
    }

    /// A path parameter, resolved against the pipeline file's folder.
    ///
    /// # Errors
    ///
    /// When the value is not a string.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::collections::BTreeMap;
    /// let mut values = BTreeMap::new();
    /// values.insert("path".to_string(), toml::Value::String("out.jsonl".into()));
    /// let params = baton_ops::Params::new(values, "/data");
    /// assert_eq!(params.path("path").unwrap().unwrap(), std::path::PathBuf::from("/data/out.jsonl"));
    /// ```
    pub fn path(&self, name: &str) -> Result<Option<PathBuf>, OpError> {
        Ok(self.str(name)?.map(|p| self.base_dir.join(p)))
    }

    /// The folder relative paths start from.
    ///
    /// # Examples
    ///
    /// ```
    /// assert_eq!(baton_ops::Params::new(Default::default(), "/x").base_dir(), std::path::Path::new("/x"));
    /// ```
    pub fn base_dir(&self) -> &Path {
        &self.base_dir
    }

    /// A required parameter: validation has checked it is there.
    ///
    /// # Errors
    ///
    /// When it is missing after all (a definition that forgot `required`).
    ///
    /// # Examples
    ///
    /// ```
    /// let params = baton_ops::Params::default();
    /// let missing = params.str("x").and_then(|v| baton_ops::Params::need("x", v));
    /// assert!(missing.is_err());
    /// ```
    pub fn need<T>(name: &str, value: Option<T>) -> Result<T, OpError> {
        value.ok_or_else(|| OpError::param(name, "is required"))
    }
}

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
}

/// Every built-in stage, sources first, then stages, then sinks.
///
/// # Examples
///
/// ```
/// let names: Vec<_> = baton_ops::all().iter().map(|op| op.name).collect();
/// assert!(names.contains(&"range"));
/// ```
pub fn all() -> Vec<&'static OpDef> {
    let mut ops: Vec<&'static OpDef> = crate::sources::DEFS
        .iter()
        .chain(crate::records::DEFS)
        .chain(crate::data::DEFS)
        .chain(crate::images::DEFS)
        .chain(crate::exec::DEFS)
        .chain(crate::simulate::DEFS)
        .chain(crate::sinks::DEFS)
        .collect();
    ops.sort_by_key(|op| match op.kind {
        OpKind::Source => 0,
        OpKind::Transform => 1,
        OpKind::Sink => 2,
    });
    ops
}

/// The built-in stage named `name` (the source, when a source and a sink
/// share it: see [`find_kind`]).
///
/// # Examples
///
/// ```
/// assert!(baton_ops::find("no_such_op").is_none());
/// ```
pub fn find(name: &str) -> Option<&'static OpDef> {
    all().into_iter().find(|op| op.name == name)
}

/// The built-in stage named `name` of the kind `kind`. A source and a sink
/// may share a name (`files`, `csv`, `jsonl`): where a stage sits in a
/// pipeline says which is meant, and [`find`] gives the source.
///
/// # Examples
///
/// ```
/// use baton_ops::{find_kind, OpKind};
/// assert_eq!(find_kind("jsonl", OpKind::Sink).unwrap().kind, OpKind::Sink);
/// assert_eq!(find_kind("jsonl", OpKind::Source).unwrap().kind, OpKind::Source);
/// assert!(find_kind("range", OpKind::Sink).is_none());
/// ```
pub fn find_kind(name: &str, kind: OpKind) -> Option<&'static OpDef> {
    all()
        .into_iter()
        .find(|op| op.name == name && op.kind == kind)
}

/// The nearest of `candidates` to `name`, if one is near enough to be a typo.
///
/// # Examples
///
/// ```
/// assert_eq!(baton_ops::nearest("rnage", ["range", "lines"]), Some("range"));
/// assert_eq!(baton_ops::nearest("zzzzzz", ["range", "lines"]), None);
/// ```
pub fn nearest<'a>(name: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    candidates
        .into_iter()
        .map(|c| (strsim::damerau_levenshtein(name, c), c))
        .filter(|(d, c)| *d <= (c.len().max(name.len()) / 3).max(1) + 1)
        .min_by_key(|(d, _)| *d)
        .map(|(_, c)| c)
}
