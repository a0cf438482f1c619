//! Typed parameters: every built-in op has a config type of its own (as
//! Vector's components have), a plain struct with `serde` derives, so a
//! library user builds an op from Rust values, JSON, or any other serde
//! format, and never from `toml::Value`s.
//!
//! A pipeline file's stage reaches the same type: its checked [`Params`]
//! are deserialized into the op's config ([`Params::config`]) and the
//! config builds the op ([`OpConfig::build`]). The [`OpDef`] table keeps
//! what `baton check` and `baton ops` read (types, bounds, defaults, docs);
//! a test holds each config to its table.

use std::fmt;
use std::path::{Path, PathBuf};

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use super::built::BuiltOp;
use super::def::OpDef;
use super::params::{OpError, Params};
use crate::warnings::StageWarnings;

/// The typed parameters of one built-in op, and how they build it.
///
/// # Examples
///
/// ```
/// use baton_ops::config::{BuildContext, OpConfig, RangeConfig};
/// use baton_ops::BuiltOp;
///
/// let range = RangeConfig { start: 2, end: 9, step: 3 };
/// assert_eq!(RangeConfig::DEF.name, "range");
/// let BuiltOp::Source(source) = range.build(&BuildContext::default()).unwrap() else { unreachable!() };
/// assert_eq!(source.len, Some(3));
///
/// // Any serde format gives the same config, with the same defaults.
/// let from_json: RangeConfig = serde_json::from_str(r#"{"end": 9}"#).unwrap();
/// assert_eq!(from_json, RangeConfig { start: 0, end: 9, step: 1 });
/// ```
pub trait OpConfig:
    Serialize + DeserializeOwned + fmt::Debug + Clone + PartialEq + Send + Sync + 'static
{
    /// The op's definition: its name, kind, modes and documented parameters.
    const DEF: &'static OpDef;

    /// Builds the op.
    ///
    /// # Errors
    ///
    /// A value the op cannot use (a glob that matches nothing, an invalid
    /// expression, ...), naming its parameter.
    fn build(&self, context: &BuildContext) -> Result<BuiltOp, OpError>;
}

/// What an op's build needs besides its parameters: the folder relative
/// paths start from, and where its warnings go.
///
/// # Examples
///
/// ```
/// let context = baton_ops::config::BuildContext::new("/data");
/// assert_eq!(context.path("out.jsonl"), std::path::PathBuf::from("/data/out.jsonl"));
/// assert_eq!(context.path("/tmp/x"), std::path::PathBuf::from("/tmp/x"));
/// ```
#[derive(Clone, Debug, Default)]
pub struct BuildContext {
    base_dir: PathBuf,
    warnings: StageWarnings,
    host: Option<crate::SharedHost>,
}

impl BuildContext {
    /// A context whose relative paths start in `base_dir`.
    ///
    /// # Examples
    ///
    /// See [`BuildContext`].
    pub fn new(base_dir: impl AsRef<Path>) -> Self {
        Self {
            base_dir: base_dir.as_ref().to_path_buf(),
            warnings: StageWarnings::default(),
            host: None,
        }
    }

    /// The same context, with `host` making the `python` stages (see
    /// [`FunctionHost`](crate::FunctionHost)).
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
    /// assert!(baton_ops::config::BuildContext::default().host().is_none());
    /// ```
    pub fn host(&self) -> Option<&crate::SharedHost> {
        self.host.as_ref()
    }

    /// The same context, with the stage's warnings going to `warnings`.
    ///
    /// # Examples
    ///
    /// ```
    /// let run = baton_ops::Warnings::new();
    /// let context = baton_ops::config::BuildContext::new(".").with_warnings(run.stage("s"));
    /// context.warnings().warn("a word");
    /// assert_eq!(run.read(baton_ops::Moment::Ended).len(), 1);
    /// ```
    pub fn with_warnings(mut self, warnings: StageWarnings) -> Self {
        self.warnings = warnings;
        self
    }

    /// The folder relative paths start from.
    ///
    /// # Examples
    ///
    /// ```
    /// let context = baton_ops::config::BuildContext::new("/x");
    /// assert_eq!(context.base_dir(), std::path::Path::new("/x"));
    /// ```
    pub fn base_dir(&self) -> &Path {
        &self.base_dir
    }

    /// Where the stage's warnings go.
    ///
    /// # Examples
    ///
    /// See [`BuildContext::with_warnings`].
    pub fn warnings(&self) -> &StageWarnings {
        &self.warnings
    }

    /// `path`, from the base folder when it is relative.
    ///
    /// # Examples
    ///
    /// See [`BuildContext`].
    pub fn path(&self, path: impl AsRef<Path>) -> PathBuf {
        self.base_dir.join(path)
    }
}

/// A source's files: one path or glob, or a list of them (`globset`
/// syntax: `*`, `**`, `{a,b}`, `[a-z]`), relative to the pipeline file.
///
/// # Examples
///
/// ```
/// use baton_ops::config::{BuildContext, Paths};
/// let dir = tempfile::tempdir().unwrap();
/// for name in ["a.jpg", "b.png", "c.gif"] {
///     std::fs::write(dir.path().join(name), "x").unwrap();
/// }
/// let one: Paths = serde_json::from_str(r#""*.{jpg,png}""#).unwrap();
/// let many: Paths = serde_json::from_str(r#"["c.gif", "a.jpg"]"#).unwrap();
/// let context = BuildContext::new(dir.path());
/// assert_eq!(one.files("path", &context).unwrap().len(), 2);
/// assert_eq!(many.files("path", &context).unwrap(), [dir.path().join("c.gif"), dir.path().join("a.jpg")]);
/// assert_eq!(Paths::from("x.csv").patterns(), ["x.csv"]);
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(from = "OneOrMany", into = "OneOrMany")]
pub struct Paths(Vec<String>);

#[derive(Clone, Serialize, Deserialize)]
#[serde(untagged)]
enum OneOrMany {
    One(String),
    Many(Vec<String>),
}

impl From<OneOrMany> for Paths {
    fn from(value: OneOrMany) -> Self {
        match value {
            OneOrMany::One(one) => Paths(vec![one]),
            OneOrMany::Many(many) => Paths(many),
        }
    }
}

impl From<Paths> for OneOrMany {
    fn from(paths: Paths) -> Self {
        match <[String; 1]>::try_from(paths.0) {
            Ok([one]) => OneOrMany::One(one),
            Err(many) => OneOrMany::Many(many),
        }
    }
}

impl From<&str> for Paths {
    fn from(one: &str) -> Self {
        Paths(vec![one.to_string()])
    }
}

impl From<Vec<String>> for Paths {
    fn from(many: Vec<String>) -> Self {
        Paths(many)
    }
}

impl Paths {
    /// The paths and globs, as given.
    ///
    /// # Examples
    ///
    /// See [`Paths`].
    pub fn patterns(&self) -> &[String] {
        &self.0
    }

    /// The files named: each pattern's matches sorted by path, the patterns
    /// in their order, a file named twice read once.
    ///
    /// # Errors
    ///
    /// Naming `param`: no pattern at all, an invalid glob, a folder that
    /// cannot be read, or a pattern that matches no file.
    ///
    /// # Examples
    ///
    /// See [`Paths`].
    pub fn files(&self, param: &str, context: &BuildContext) -> Result<Vec<PathBuf>, OpError> {
        crate::sources::paths::files_of_patterns(&self.0, context.base_dir(), param)
    }
}

/// A random seed: any integer. A negative one stands for the `u64` with the
/// same bits, so every integer a file can hold is a seed of its own.
///
/// # Examples
///
/// ```
/// use baton_ops::config::Seed;
/// let seed: Seed = serde_json::from_str("-1").unwrap();
/// assert_eq!(seed, Seed(u64::MAX));
/// let seed: Seed = serde_json::from_str("42").unwrap();
/// assert_eq!(seed.0, 42);
/// assert_eq!(Seed::default(), Seed(0));
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(from = "SeedValue", into = "i64")]
pub struct Seed(pub u64);

#[derive(Deserialize)]
#[serde(untagged)]
enum SeedValue {
    Signed(i64),
    Unsigned(u64),
}

impl From<SeedValue> for Seed {
    fn from(value: SeedValue) -> Self {
        match value {
            // Reinterpreting the bits is the point: no two integers share a seed.
            SeedValue::Signed(n) => Seed(n as u64),
            SeedValue::Unsigned(n) => Seed(n),
        }
    }
}

impl From<Seed> for i64 {
    fn from(seed: Seed) -> Self {
        seed.0 as i64
    }
}

impl Params {
    /// The parameters as the typed config `C`, defaults filled in by `C`.
    ///
    /// # Errors
    ///
    /// Naming the parameter at fault: a value of the wrong type or out of
    /// the type's range, a missing required one, an unknown one.
    ///
    /// # Examples
    ///
    /// ```
    /// use baton_ops::config::RangeConfig;
    /// let params = baton_ops::Params::new(toml::from_str("end = 5").unwrap(), ".");
    /// assert_eq!(params.config::<RangeConfig>().unwrap().end, 5);
    ///
    /// let params = baton_ops::Params::new(toml::from_str("end = 5\nstep = -2").unwrap(), ".");
    /// let error = params.config::<RangeConfig>().unwrap_err();
    /// assert_eq!(error.to_string(), "`step`: must not be negative, not -2");
    ///
    /// let params = baton_ops::Params::new(toml::from_str("start = 5").unwrap(), ".");
    /// assert_eq!(params.config::<RangeConfig>().unwrap_err().to_string(), "`end`: is required");
    /// ```
    pub fn config<C: DeserializeOwned>(&self) -> Result<C, OpError> {
        let table: toml::Table = self
            .values()
            .map(|(k, v)| (k.to_string(), v.clone()))
            .collect();
        serde_path_to_error::deserialize(toml::Value::Table(table)).map_err(|error| {
            let message = error.inner().message().to_string();
            match error.path().to_string() {
                path if path == "." => match missing_field(&message) {
                    Some(field) => OpError::param(field, "is required"),
                    None => OpError::stage(message),
                },
                path => {
                    let param = path.split(['.', '[']).next().unwrap_or(&path).to_string();
                    OpError::param(&param, plain_words(&message))
                }
            }
        })
    }

    /// What a build needs besides the values: the base folder and where
    /// warnings go.
    ///
    /// # Examples
    ///
    /// ```
    /// let params = baton_ops::Params::new(Default::default(), "/data");
    /// assert_eq!(params.context().base_dir(), std::path::Path::new("/data"));
    /// ```
    pub fn context(&self) -> BuildContext {
        BuildContext {
            base_dir: self.base_dir().to_path_buf(),
            warnings: self.warnings().clone(),
            host: self.host().cloned(),
        }
    }
}

/// Builds the op of config `C` from a pipeline file's checked parameters:
/// what every [`OpDef::build`] is.
///
/// # Errors
///
/// As [`Params::config`] and [`OpConfig::build`].
///
/// # Examples
///
/// ```
/// use baton_ops::config::{build_from, RangeConfig};
/// let params = baton_ops::Params::new(toml::from_str("end = 4").unwrap(), ".");
/// let baton_ops::BuiltOp::Source(source) = build_from::<RangeConfig>(&params).unwrap() else { unreachable!() };
/// assert_eq!(source.len, Some(4));
/// ```
pub fn build_from<C: OpConfig>(params: &Params) -> Result<BuiltOp, OpError> {
    params.config::<C>()?.build(&params.context())
}

/// The field of serde's "missing field `x`".
fn missing_field(message: &str) -> Option<&str> {
    message.strip_prefix("missing field `")?.split('`').next()
}

/// serde's "invalid value: integer `-2`, expected u32" as a person says it:
/// "must not be negative, not -2"; other messages as they are.
fn plain_words(message: &str) -> String {
    let integer = |rest: &str| -> Option<(i128, String)> {
        let (number, rest) = rest.strip_prefix("integer `")?.split_once("`, expected ")?;
        Some((number.parse().ok()?, rest.to_string()))
    };
    let Some((n, ty)) = message.strip_prefix("invalid value: ").and_then(integer) else {
        return message.to_string();
    };
    let limits = |bits: u32, signed: bool| -> (i128, i128) {
        if signed {
            (-(1i128 << (bits - 1)), (1i128 << (bits - 1)) - 1)
        } else {
            (0, (1i128 << bits) - 1)
        }
    };
    let (min, max) = match ty.as_str() {
        "u8" => limits(8, false),
        "u16" => limits(16, false),
        "u32" => limits(32, false),
        "u64" | "usize" => limits(64, false),
        "i8" => limits(8, true),
        "i16" => limits(16, true),
        "i32" => limits(32, true),
        "i64" | "isize" => limits(64, true),
        // A `NonZero*` and the like say what they expect themselves.
        _ if n == 0 && ty.contains("nonzero") => return "must be positive, not 0".to_string(),
        _ => return message.to_string(),
    };
    match n {
        n if n < min && min == 0 => format!("must not be negative, not {n}"),
        n if n < min => format!("must be at least {min}, not {n}"),
        n if n > max => format!("must be at most {max}, not {n}"),
        _ => message.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn integer_range_errors_are_said_plainly() {
        assert_eq!(
            plain_words("invalid value: integer `-1`, expected usize"),
            "must not be negative, not -1"
        );
        assert_eq!(
            plain_words("invalid value: integer `5000000000`, expected u32"),
            "must be at most 4294967295, not 5000000000"
        );
        assert_eq!(
            plain_words("invalid value: integer `-200`, expected i8"),
            "must be at least -128, not -200"
        );
        assert_eq!(
            plain_words("invalid type: string \"x\", expected i64"),
            "invalid type: string \"x\", expected i64"
        );
    }

    #[test]
    fn paths_read_one_or_many_and_write_back_the_same() {
        let one: Paths = toml::Value::String("a/*.csv".into()).try_into().unwrap();
        assert_eq!(one.patterns(), ["a/*.csv"]);
        assert_eq!(
            serde_json::to_string(&one).unwrap(),
            r#""a/*.csv""#.to_string()
        );
        let many: Paths = serde_json::from_str(r#"["a", "b"]"#).unwrap();
        assert_eq!(serde_json::to_string(&many).unwrap(), r#"["a","b"]"#);
    }

    #[test]
    fn an_unknown_parameter_is_named() {
        let params = Params::new(toml::from_str("end = 1\nstpe = 2").unwrap(), ".");
        let error = params.config::<crate::config::RangeConfig>().unwrap_err();
        assert_eq!(error.param.as_deref(), Some("stpe"));
    }
}

#[cfg(test)]
mod agreement;
