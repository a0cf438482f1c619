//! `stdin`: the lines of standard input, as text or as JSON records.
//!
//! Standard input arrives at its own pace (a pipe from `tail -f`, a socket,
//! a person typing), so it is read on a thread of its own: a line goes on
//! as soon as its chunk fills or, at the latest, after the pipeline's
//! linger (`[pipeline] linger_ms`, 100 ms by default), and Ctrl-C ends the
//! run even while a read waits, with every line already read.
//!
//! # Examples
//!
//! ```
//! use baton_ops::{BuiltOp, OpKind, Params};
//!
//! let params = Params::new(toml::from_str(r#"format = "jsonl""#).unwrap(), ".");
//! let op = baton_ops::find_kind("stdin", OpKind::Source).unwrap();
//! // Nothing is read until the run asks for the first item.
//! let BuiltOp::Source(source) = (op.build)(&params).unwrap() else { unreachable!() };
//! assert_eq!(source.len, None);
//! assert!(source.streaming);
//! ```

use std::io::{BufRead, BufReader};

use serde::{Deserialize, Serialize};

use super::error::SourceError;
use super::jsonl::json_item;
use super::text::Lines;
use crate::item::Item;
use crate::registry::{
    build_from, BuildContext, BuiltOp, BuiltSource, Modes, OpConfig, OpDef, OpError, OpKind,
    ParamDef, ParamType,
};

pub(crate) const DEF: OpDef = OpDef {
    name: "stdin",
    kind: OpKind::Source,
    summary: "the lines of standard input, each as {line} (or as a JSON record with format = \"jsonl\"); a line goes on within the pipeline's linger_ms",
    params: &[ParamDef::with_default(
        "format",
        ParamType::Str,
        "\"lines\"",
        "\"lines\": each line in the field `line`; \"jsonl\": each line is a JSON record (blank lines skipped)",
    )],
    modes: Modes::SERIAL_BLOCKING,
    build: build_from::<StdinConfig>,
};

/// The parameters of `stdin`: the lines of standard input, as text or as
/// JSON records.
///
/// # Examples
///
/// ```
/// use baton_ops::config::{BuildContext, OpConfig, StdinConfig, StdinFormat};
/// use baton_ops::BuiltOp;
///
/// let config = StdinConfig { format: StdinFormat::Jsonl };
/// // Nothing is read until the run asks for the first item.
/// let BuiltOp::Source(source) = config.build(&BuildContext::default()).unwrap() else { unreachable!() };
/// assert!(source.streaming);
/// assert_eq!(serde_json::from_str::<StdinConfig>("{}").unwrap().format, StdinFormat::Lines);
/// ```
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StdinConfig {
    /// `lines`: each line in the field `line`; `jsonl`: each line is a JSON
    /// record (blank lines skipped).
    #[serde(default)]
    pub format: StdinFormat,
}

/// How standard input is read.
///
/// # Examples
///
/// ```
/// use baton_ops::config::StdinFormat;
/// assert_eq!(serde_json::from_str::<StdinFormat>(r#""jsonl""#).unwrap(), StdinFormat::Jsonl);
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StdinFormat {
    /// Each line in the field `line`.
    #[default]
    Lines,
    /// Each line a JSON record; blank lines are skipped.
    Jsonl,
}

impl OpConfig for StdinConfig {
    const DEF: &'static OpDef = &DEF;

    fn build(&self, _: &BuildContext) -> Result<BuiltOp, OpError> {
        let items =
            items(BufReader::new(std::io::stdin()), self.format).map(|r| r.map_err(Into::into));
        Ok(BuiltOp::Source(BuiltSource {
            items: Box::new(items),
            len: None,
            streaming: true,
            parse: None,
        }))
    }
}

/// The items of a stream read as `stdin` is.
fn items(
    reader: impl BufRead + Send + 'static,
    format: StdinFormat,
) -> impl Iterator<Item = Result<Item, SourceError>> + Send {
    Lines::new(reader, "stdin").filter_map(move |line| match format {
        StdinFormat::Lines => Some(line.map(|line| Item::with_field("line", line.text))),
        StdinFormat::Jsonl => line.and_then(json_item).transpose(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{build_error, params};
    use std::io::Cursor;

    fn read(input: &str, format: StdinFormat) -> Vec<Result<Item, String>> {
        items(Cursor::new(input.to_string()), format)
            .map(|r| r.map_err(|e| e.to_string()))
            .collect()
    }

    #[test]
    fn lines_become_the_line_field() {
        let items = read("a\nb\n", StdinFormat::Lines);
        assert_eq!(
            items,
            vec![
                Ok(Item::with_field("line", "a")),
                Ok(Item::with_field("line", "b"))
            ]
        );
    }

    #[test]
    fn jsonl_lines_become_records_and_a_bad_one_names_its_line() {
        let items = read("{\"a\": 1}\n\noops\n", StdinFormat::Jsonl);
        assert_eq!(items[0], Ok(Item::with_field("a", 1)));
        assert_eq!(
            items[1],
            Err("stdin:3: expected value (column 1)".to_string())
        );
    }

    #[test]
    fn an_unknown_format_is_named() {
        let error = build_error(&DEF, &params(&DEF, "format = \"csv\"", ".".as_ref()));
        assert_eq!(error.param.as_deref(), Some("format"));
    }
}
