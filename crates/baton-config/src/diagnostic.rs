//! Errors in a pipeline file, each pointing at a line, a column and a key,
//! rendered like a compiler's.

use std::fmt;
use std::ops::Range;
use std::path::{Path, PathBuf};

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
        let (line, column, source_line, width) = match span {
            Some(span) => locate(text, span),
            None => (0, 0, String::new(), 0),
        };
        Self {
            file: file.to_path_buf(),
            line,
            column,
            key: None,
            stage: None,
            message: message.into(),
            help: None,
            source_line,
            width,
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

/// Turns a byte span into line, column, the line's text and the span's width.
fn locate(text: &str, span: Range<usize>) -> (usize, usize, String, usize) {
    let mut start = span.start.min(text.len());
    while !text.is_char_boundary(start) {
        start -= 1;
    }
    let line_start = text[..start].rfind('\n').map_or(0, |i| i + 1);
    let line_end = text[start..].find('\n').map_or(text.len(), |i| start + i);
    let line = text[..start].matches('\n').count() + 1;
    let column = text[line_start..start].chars().count() + 1;
    let mut end = span.end.clamp(start, line_end);
    while !text.is_char_boundary(end) {
        end += 1;
    }
    let width = text[start..end].chars().count().max(1);
    (
        line,
        column,
        text[line_start..line_end]
            .trim_end_matches('\r')
            .to_string(),
        width,
    )
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "error: {}", self.message)?;
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

/// Every problem found in a pipeline file (at least one).
///
/// # Examples
///
/// ```
/// let errors = baton_config::Diagnostics(vec![]);
/// assert_eq!(errors.to_string(), "");
/// ```
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
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
    fn renders_a_caret_under_the_span() {
        let text = "op = \"rnage\"";
        let d = Diagnostic::new(Path::new("f.toml"), text, Some(5..12), "unknown op");
        let shown = d.to_string();
        assert!(shown.contains("1 | op = \"rnage\""), "{shown}");
        assert!(shown.contains("  |      ^^^^^^^"), "{shown}");
    }
}
