//! The reader's tools: where a problem is reported (one way for a key),
//! the entries of a table with their spans, and whole numbers in bounds.

use std::ops::Range;
use std::path::Path;

use baton_ops::nearest;
use toml::de::{DeString, DeValue};
use toml::Spanned;

use crate::diagnostic::Diagnostic;
use crate::value::{plain, type_name};

/// Reads one pipeline file, collecting every problem instead of stopping at
/// the first.
pub(crate) struct Reader<'a> {
    pub(crate) file: &'a Path,
    pub(crate) text: &'a str,
    pub(crate) problems: Vec<Diagnostic>,
}

impl<'a> Reader<'a> {
    pub(crate) fn new(file: &'a Path, text: &'a str) -> Self {
        Self {
            file,
            text,
            problems: Vec::new(),
        }
    }

    /// Reports a problem with `key` (see [`key_diagnostic`]).
    pub(crate) fn key_error(
        &mut self,
        key: &str,
        span: Option<Range<usize>>,
        message: impl Into<String>,
    ) -> &mut Diagnostic {
        let diagnostic = key_diagnostic(self.file, self.text, key, span, message);
        self.push(diagnostic)
    }

    /// Reports a problem that belongs to no key (invalid TOML, a stage that
    /// is not a table, a file with no stages).
    pub(crate) fn error(
        &mut self,
        span: Option<Range<usize>>,
        message: impl Into<String>,
    ) -> &mut Diagnostic {
        let diagnostic = Diagnostic::new(self.file, self.text, span, message);
        self.push(diagnostic)
    }

    fn push(&mut self, diagnostic: Diagnostic) -> &mut Diagnostic {
        let at = self.problems.len();
        self.problems.push(diagnostic);
        &mut self.problems[at]
    }

    /// Names the stage of every problem reported since `since`.
    pub(crate) fn name_stage(&mut self, since: usize, stage: Option<&str>) {
        for problem in &mut self.problems[since..] {
            problem.stage = stage.map(str::to_string);
        }
    }

    /// The text of the file at `span`, as written (for messages).
    pub(crate) fn source(&self, span: Range<usize>) -> &'a str {
        self.text.get(span).unwrap_or("")
    }

    /// A whole number from `min` to `max` for `entry`, or a reported
    /// problem: `what` says what was expected when the value is no integer.
    pub(crate) fn whole(
        &mut self,
        entry: Entry<'_, '_>,
        what: &str,
        min: i64,
        max: i64,
    ) -> Option<i64> {
        let key = entry.name();
        let (value, unfit) = plain(entry.value);
        let (found, below) = match (value, unfit.first()) {
            (toml::Value::Integer(n), None) if (min..=max).contains(&n) => return Some(n),
            (toml::Value::Integer(n), None) => (n.to_string(), n < min),
            (toml::Value::Integer(_), Some(unfit)) => {
                let literal = self.source(unfit.span.clone()).to_string();
                let below = literal.starts_with('-');
                (literal, below)
            }
            (other, _) => {
                let message = format!("`{key}` must be {what}, not {}", type_name(&other));
                self.key_error(key, Some(entry.span()), message);
                return None;
            }
        };
        let message = if below {
            format!("`{key}` must be at least {min}, not {found}")
        } else {
            format!("`{key}` must be at most {max}, not {found}")
        };
        self.key_error(key, Some(entry.span()), message);
        None
    }
}

/// A problem with `key`, at `span`: the key itself, its value, or (for a
/// missing key) the place it belongs to. Every problem with a key is made
/// here, whether found while reading or while building.
pub(crate) fn key_diagnostic(
    file: &Path,
    text: &str,
    key: &str,
    span: Option<Range<usize>>,
    message: impl Into<String>,
) -> Diagnostic {
    Diagnostic::new(file, text, span, message).with_key(key)
}

/// `did you mean ...?` for the candidate nearest to `name`, if one is near.
pub(crate) fn did_you_mean<'c>(
    name: &str,
    candidates: impl IntoIterator<Item = &'c str>,
) -> Option<String> {
    nearest(name, candidates).map(|n| format!("did you mean `{n}`?"))
}

/// One `key = value` of a table, with where each part is in the file.
#[derive(Clone, Copy)]
pub(crate) struct Entry<'t, 'i> {
    key: &'t Spanned<DeString<'i>>,
    pub(crate) value: &'t Spanned<DeValue<'i>>,
}

impl<'t, 'i> Entry<'t, 'i> {
    pub(crate) fn new(key: &'t Spanned<DeString<'i>>, value: &'t Spanned<DeValue<'i>>) -> Self {
        Self { key, value }
    }

    /// The key.
    pub(crate) fn name(&self) -> &'t str {
        self.key.get_ref()
    }

    /// Where the key is.
    pub(crate) fn key_span(&self) -> Range<usize> {
        self.key.span()
    }

    /// Where the value is.
    pub(crate) fn span(&self) -> Range<usize> {
        self.value.span()
    }

    /// The whole `key = value`.
    pub(crate) fn line_span(&self) -> Range<usize> {
        self.key.span().start..self.value.span().end
    }

    /// The value, if it is a string.
    pub(crate) fn as_str(&self) -> Option<&'t str> {
        self.value.get_ref().as_str()
    }
}
