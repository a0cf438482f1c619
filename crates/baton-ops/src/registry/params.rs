//! An op's parameters: their definitions (name, type, default, doc), the
//! validated values handed to its build function, and the error a build
//! returns naming the parameter at fault.

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};

use crate::warnings::StageWarnings;

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
#[non_exhaustive]
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
    /// A path or a glob, or an array of them (a source's files).
    Paths,
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
            ParamType::Paths => {
                value.is_str() || matches!(value, V::Array(a) if a.iter().all(|v| v.is_str()))
            }
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
            ParamType::Paths => "path or glob, or an array of them",
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

/// What a parameter's value is to the files around the run: most are
/// plain values; a path a stage reads or writes says so, so that an output
/// can be checked against the inputs before anything runs.
///
/// # Examples
///
/// ```
/// use baton_ops::{find_kind, OpKind, ParamRole};
/// assert_eq!(find_kind("lines", OpKind::Source).unwrap().param("path").unwrap().role, ParamRole::Input);
/// assert_eq!(find_kind("jsonl", OpKind::Sink).unwrap().param("path").unwrap().role, ParamRole::Output);
/// assert_eq!(find_kind("files", OpKind::Sink).unwrap().param("path").unwrap().role, ParamRole::OutputFolder);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum ParamRole {
    /// A value that is no file of the run.
    Value,
    /// A file, or a glob of files, the stage reads (see [`Params::input_files`]).
    Input,
    /// A file the stage writes (replacing it).
    Output,
    /// A folder the stage writes files into.
    OutputFolder,
}

/// One parameter of a built-in stage.
///
/// # Examples
///
/// ```
/// use baton_ops::{ParamDef, ParamRole, ParamType};
/// const END: ParamDef = ParamDef::required("end", ParamType::Int, "one past the last number");
/// assert!(END.required);
/// assert_eq!(END.role, ParamRole::Value);
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
    /// Whether it names a file the stage reads or writes.
    pub role: ParamRole,
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
            role: ParamRole::Value,
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
            role: ParamRole::Value,
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
            role: ParamRole::Value,
        }
    }

    /// The same parameter, naming a file or a glob of files the stage reads.
    ///
    /// # Examples
    ///
    /// ```
    /// use baton_ops::{ParamDef, ParamRole, ParamType};
    /// let path = ParamDef::required("path", ParamType::Str, "a glob of the files").input();
    /// assert_eq!(path.role, ParamRole::Input);
    /// ```
    pub const fn input(self) -> Self {
        Self {
            role: ParamRole::Input,
            ..self
        }
    }

    /// The same parameter, naming a file the stage writes.
    ///
    /// # Examples
    ///
    /// ```
    /// use baton_ops::{ParamDef, ParamRole, ParamType};
    /// let path = ParamDef::required("path", ParamType::Str, "the file").output();
    /// assert_eq!(path.role, ParamRole::Output);
    /// ```
    pub const fn output(self) -> Self {
        Self {
            role: ParamRole::Output,
            ..self
        }
    }

    /// The same parameter, naming a folder the stage writes files into.
    ///
    /// # Examples
    ///
    /// ```
    /// use baton_ops::{ParamDef, ParamRole, ParamType};
    /// let path = ParamDef::required("path", ParamType::Str, "the folder").output_folder();
    /// assert_eq!(path.role, ParamRole::OutputFolder);
    /// ```
    pub const fn output_folder(self) -> Self {
        Self {
            role: ParamRole::OutputFolder,
            ..self
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
    warnings: StageWarnings,
    host: Option<crate::SharedHost>,
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
            warnings: StageWarnings::default(),
            host: None,
        }
    }

    /// The same parameters, for a build whose `python` stages `host` makes
    /// (see [`FunctionHost`](crate::FunctionHost)).
    ///
    /// # Examples
    ///
    /// See [`FunctionHost`](crate::FunctionHost).
    pub fn with_host(mut self, host: crate::SharedHost) -> Self {
        self.host = Some(host);
        self
    }

    /// The program that makes the `python` stages, if any.
    ///
    /// # Examples
    ///
    /// ```
    /// assert!(baton_ops::Params::default().host().is_none());
    /// ```
    pub fn host(&self) -> Option<&crate::SharedHost> {
        self.host.as_ref()
    }

    /// The same parameters, for a stage whose warnings go to `warnings`
    /// (its run's collector: see [`Warnings`](crate::Warnings)).
    ///
    /// # Examples
    ///
    /// ```
    /// let run = baton_ops::Warnings::new();
    /// let params = baton_ops::Params::default().with_warnings(run.stage("filter"));
    /// params.warnings().warn("a word");
    /// assert_eq!(run.read(baton_ops::Moment::Ended)[0].stage, "filter");
    /// ```
    pub fn with_warnings(mut self, warnings: StageWarnings) -> Self {
        self.warnings = warnings;
        self
    }

    /// Where the stage's warnings go (nowhere anyone reads, unless
    /// [`Params::with_warnings`] said otherwise).
    ///
    /// # Examples
    ///
    /// See [`Params::with_warnings`].
    pub fn warnings(&self) -> &StageWarnings {
        &self.warnings
    }

    /// Sets a parameter: what a plan does when it moves a later stage's
    /// work into this one (a `select` into a `parquet` source's `columns`).
    ///
    /// # Examples
    ///
    /// ```
    /// let mut params = baton_ops::Params::default();
    /// params.set("columns", toml::Value::Array(vec!["a".into()]));
    /// assert_eq!(params.str_list("columns").unwrap(), Some(vec!["a".to_string()]));
    /// ```
    pub fn set(&mut self, name: &str, value: toml::Value) {
        self.values.insert(name.to_string(), value);
    }

    /// Every parameter given, by name.
    ///
    /// # Examples
    ///
    /// ```
    /// let params = baton_ops::Params::new(toml::from_str("end = 3").unwrap(), ".");
    /// assert_eq!(params.values().map(|(k, _)| k).collect::<Vec<_>>(), ["end"]);
    /// ```
    pub fn values(&self) -> impl Iterator<Item = (&str, &toml::Value)> {
        self.values.iter().map(|(k, v)| (k.as_str(), v))
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

    /// The files an input parameter names: its glob, relative to the
    /// pipeline file's folder, expanded as the sources expand it (files
    /// only, sorted).
    ///
    /// # Errors
    ///
    /// Naming `name`: it is missing or no string, an invalid glob, a folder
    /// that cannot be read, or no file matching at all.
    ///
    /// # Examples
    ///
    /// ```
    /// let dir = tempfile::tempdir().unwrap();
    /// std::fs::write(dir.path().join("a.log"), "x").unwrap();
    /// let params = baton_ops::Params::new(toml::from_str(r#"path = "*.log""#).unwrap(), dir.path());
    /// assert_eq!(params.input_files("path").unwrap(), [dir.path().join("a.log")]);
    /// ```
    pub fn input_files(&self, name: &str) -> Result<Vec<PathBuf>, OpError> {
        crate::sources::matching(self, name)
    }

    /// Each path or glob of an input parameter with the files it matches
    /// (for saying how many each finds).
    ///
    /// # Errors
    ///
    /// As [`Params::input_files`].
    ///
    /// # Examples
    ///
    /// ```
    /// let dir = tempfile::tempdir().unwrap();
    /// for name in ["a.jpg", "b.png", "c.gif"] {
    ///     std::fs::write(dir.path().join(name), "x").unwrap();
    /// }
    /// let params = baton_ops::Params::new(toml::from_str(r#"path = ["*.{jpg,png}", "c.gif"]"#).unwrap(), dir.path());
    /// let each = params.input_files_each("path").unwrap();
    /// assert_eq!((each[0].0.as_str(), each[0].1.len()), ("*.{jpg,png}", 2));
    /// assert_eq!((each[1].0.as_str(), each[1].1.len()), ("c.gif", 1));
    /// ```
    pub fn input_files_each(&self, name: &str) -> Result<Vec<(String, Vec<PathBuf>)>, OpError> {
        crate::sources::paths::matching_each(self, name)
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
