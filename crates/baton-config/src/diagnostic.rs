//! Errors in a pipeline file, each pointing at a line, a column and a key,
//! rendered like a compiler's, or as JSON for editors and CI.

use std::fmt;
use std::ops::Range;
use std::path::{Path, PathBuf};

use serde::{Serialize, Serializer};

/// How bad a problem is. Every problem baton finds today stops the file
/// from running; the field is there so that JSON readers need not change
/// when warnings come.
///
/// # Examples
///
/// ```
/// assert_eq!(baton_config::Severity::Error.to_string(), "error");
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
#[non_exhaustive]
pub enum Severity {
    /// The file cannot run.
    Error,
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Severity::Error => "error",
        })
    }
}

/// One problem found in a pipeline file.
///
/// # Examples
///
/// ```
/// use baton_config::Diagnostic;
/// let text = "[[stage]]\nop = \"rnage\"\n";
/// let d = Diagnostic::new("p.toml".as_ref(), text, Some(15..22), "unknown op `rnage`")
///     .with_key("op")
///     .with_help("did you mean `range`?");
/// assert_eq!((d.line, d.column), (2, 6));
/// assert_eq!((d.end_line, d.end_column), (2, 13));
/// let shown = d.to_string();
/// assert!(shown.contains("p.toml:2:6"));
/// assert!(shown.contains("did you mean `range`?"));
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Diagnostic {
    /// The pipeline file.
    pub file: PathBuf,
    /// 1-based line (0 when the problem has no place in the file).
    pub line: usize,
    /// 1-based column, in characters.
    pub column: usize,
    /// 1-based line where the span ends (0 when the problem has no place).
    pub end_line: usize,
    /// 1-based column just past the span's last character.
    pub end_column: usize,
    /// How bad it is.
    pub severity: Severity,
    /// The key involved, if any (`op`, `replicas`, `path`, ...).
    pub key: Option<String>,
    /// The stage involved, by name, if any.
    pub stage: Option<String>,
    /// What is wrong.
    pub message: String,
    /// What to do about it, if known.
    pub help: Option<String>,
    /// The line of the file, for display.
    source_line: String,
    /// Width of the underline, in characters.
    width: usize,
}

impl Diagnostic {
    /// A problem at byte range `span` of `text` (the file's contents).
    ///
    /// # Examples
    ///
    /// See [`Diagnostic`].
    pub fn new(
        file: &Path,
        text: &str,
        span: Option<Range<usize>>,
        message: impl Into<String>,
    ) -> Self {
        let place = span.map(|span| locate(text, span)).unwrap_or_default();
        Self {
            file: file.to_path_buf(),
            line: place.line,
            column: place.column,
            end_line: place.end_line,
            end_column: place.end_column,
            severity: Severity::Error,
            key: None,
            stage: None,
            message: message.into(),
            help: None,
            source_line: place.source_line,
            width: place.width,
        }
    }

    /// Names the key involved.
    ///
    /// # Examples
    ///
    /// See [`Diagnostic`].
    pub fn with_key(mut self, key: impl Into<String>) -> Self {
        self.key = Some(key.into());
        self
    }

    /// Adds advice.
    ///
    /// # Examples
    ///
    /// See [`Diagnostic`].
    pub fn with_help(mut self, help: impl Into<String>) -> Self {
        self.help = Some(help.into());
        self
    }

    /// Adds advice, in place.
    pub(crate) fn set_help(&mut self, help: impl Into<String>) -> &mut Self {
        self.help = Some(help.into());
        self
    }

    /// Adds advice, in place, if there is some.
    pub(crate) fn set_maybe_help(&mut self, help: Option<String>) -> &mut Self {
        if let Some(help) = help {
            self.help = Some(help);
        }
        self
    }
}

/// Where a span is, in the terms people and editors use.
#[derive(Default)]
struct Place {
    line: usize,
    column: usize,
    end_line: usize,
    end_column: usize,
    /// The text of the span's first line.
    source_line: String,
    /// Characters to underline on that line (at least 1).
    width: usize,
}

/// Turns a byte span into lines and columns (1-based, in characters).
fn locate(text: &str, span: Range<usize>) -> Place {
    let mut start = span.start.min(text.len());
    while !text.is_char_boundary(start) {
        start -= 1;
    }
    let mut end = span.end.clamp(start, text.len());
    while !text.is_char_boundary(end) {
        end += 1;
    }
    let (line, column) = line_and_column(text, start);
    let (end_line, end_column) = line_and_column(text, end);
    let line_start = text[..start].rfind('\n').map_or(0, |i| i + 1);
    let line_end = text[start..].find('\n').map_or(text.len(), |i| start + i);
    // The underline stays on the first line.
    let width = text[start..end.min(line_end)].chars().count().max(1);
    Place {
        line,
        column,
        end_line,
        end_column,
        source_line: text[line_start..line_end]
            .trim_end_matches('\r')
            .to_string(),
        width,
    }
}

/// The 1-based line and column (in characters) of byte `at` of `text`, a
/// character boundary.
fn line_and_column(text: &str, at: usize) -> (usize, usize) {
    let line_start = text[..at].rfind('\n').map_or(0, |i| i + 1);
    let line = text[..at].matches('\n').count() + 1;
    (line, text[line_start..at].chars().count() + 1)
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "{}: {}", self.severity, self.message)?;
        let key = self
            .key
            .as_ref()
            .map(|k| format!(" (key `{k}`)"))
            .unwrap_or_default();
        if self.line == 0 {
            writeln!(f, "  --> {}{key}", self.file.display())?;
        } else {
            writeln!(
                f,
                "  --> {}:{}:{}{key}",
                self.file.display(),
                self.line,
                self.column
            )?;
            let gutter = self.line.to_string().len();
            writeln!(f, "{:gutter$} |", "")?;
            writeln!(f, "{} | {}", self.line, self.source_line)?;
            writeln!(
                f,
                "{:gutter$} | {}{}",
                "",
                " ".repeat(self.column - 1),
                "^".repeat(self.width)
            )?;
        }
        if let Some(help) = &self.help {
            writeln!(f, "  = help: {help}")?;
        }
        Ok(())
    }
}

/// As JSON, for editors and CI: `file`, `line`, `column` (`null` when the
/// problem has no place in the file), `end_line` and `end_column` (only
/// when it has), `severity`, `key`, `stage`, `message`, `help`.
impl Serialize for Diagnostic {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        #[derive(Serialize)]
        struct View<'a> {
            file: std::borrow::Cow<'a, str>,
            line: Option<usize>,
            column: Option<usize>,
            #[serde(skip_serializing_if = "Option::is_none")]
            end_line: Option<usize>,
            #[serde(skip_serializing_if = "Option::is_none")]
            end_column: Option<usize>,
            severity: Severity,
            key: Option<&'a str>,
            stage: Option<&'a str>,
            message: &'a str,
            help: Option<&'a str>,
        }
        let placed = self.line > 0;
        View {
            file: self.file.to_string_lossy(),
            line: placed.then_some(self.line),
            column: placed.then_some(self.column),
            end_line: placed.then_some(self.end_line),
            end_column: placed.then_some(self.end_column),
            severity: self.severity,
            key: self.key.as_deref(),
            stage: self.stage.as_deref(),
            message: &self.message,
            help: self.help.as_deref(),
        }
        .serialize(serializer)
    }
}

/// Every problem found in a pipeline file (at least one). As JSON, an
/// array of [`Diagnostic`]s.
///
/// # Examples
///
/// ```
/// let errors = baton_config::Diagnostics(vec![]);
/// assert_eq!(errors.to_string(), "");
///
/// let text = "[[stage]]\nop = \"range\"\nedn = 5\n\n[[stage]]\nop = \"discard\"\n";
/// let errors = baton_config::Plan::parse("p.toml".as_ref(), text).unwrap_err();
/// let json = serde_json::to_value(&errors).unwrap();
/// assert_eq!(json[0]["key"], "edn");
/// assert_eq!(json[0]["stage"], "range");
/// assert_eq!((json[0]["line"].as_u64(), json[0]["end_column"].as_u64()), (Some(3), Some(4)));
/// ```
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error, Serialize)]
pub struct Diagnostics(pub Vec<Diagnostic>);

impl fmt::Display for Diagnostics {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, d) in self.0.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            write!(f, "{d}")?;
        }
        if self.0.len() > 1 {
            writeln!(f, "\n{} errors", self.0.len())?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn columns_count_characters_not_bytes() {
        let text = "name = \"é\"\nop = 1\n";
        let at = text.find("op").unwrap();
        let d = Diagnostic::new(Path::new("f.toml"), text, Some(at..at + 2), "x");
        assert_eq!((d.line, d.column), (2, 1));
        let d = Diagnostic::new(Path::new("f.toml"), text, Some(10..11), "x");
        assert_eq!((d.line, d.column), (1, 10));
    }

    #[test]
    fn a_span_over_several_lines_ends_on_its_last_line() {
        let text = "a = 1\nb = [\n  2,\n]\n";
        let d = Diagnostic::new(Path::new("f.toml"), text, Some(10..18), "x");
        assert_eq!((d.line, d.column, d.end_line, d.end_column), (2, 5, 4, 2));
        assert!(d.to_string().contains("2 | b = [\n  |     ^\n"), "{d}");
    }

    #[test]
    fn renders_a_caret_under_the_span() {
        let text = "op = \"rnage\"";
        let d = Diagnostic::new(Path::new("f.toml"), text, Some(5..12), "unknown op");
        let shown = d.to_string();
        assert!(shown.contains("1 | op = \"rnage\""), "{shown}");
        assert!(shown.contains("  |      ^^^^^^^"), "{shown}");
    }
}
