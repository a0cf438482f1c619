//! `${VAR}` in pipeline files, as Vector and Docker Compose have them:
//! replaced by the variable's value before the file is read, so a value
//! may stand anywhere (a path, a number, a URL). The forms are
//!
//! | written             | gives                                                   |
//! |---------------------|---------------------------------------------------------|
//! | `${VAR}`            | its value; an error if it is not set                    |
//! | `${VAR:-default}`   | `default` when it is not set or empty                   |
//! | `${VAR-default}`    | `default` when it is not set                            |
//! | `${VAR:?message}`   | an error saying `message` when it is not set or empty   |
//! | `${VAR?message}`    | an error saying `message` when it is not set            |
//! | `$${`               | a plain `${` (for a Rhai backtick string's `${...}`)     |
//!
//! Comments are left as they are: a variable in a commented-out line is
//! neither needed nor replaced. Values come from the environment, then from
//! env files (`KEY=value` lines, as `.env` files have them); the
//! environment wins, as in Compose.

use std::collections::BTreeMap;
use std::ops::Range;
use std::path::{Path, PathBuf};

/// Where the `${VAR}` of a pipeline file take their values.
///
/// # Examples
///
/// ```
/// use baton_config::{Plan, Variables};
///
/// let text = "[[stage]]\nop = \"range\"\nend = ${COUNT:-5}\n\n[[stage]]\nop = \"discard\"\n";
/// let none = Variables::default();
/// let plan = Plan::parse_with("p.toml".as_ref(), text, &none, &[]).unwrap();
/// assert!(plan.text.contains("end = 5"));
///
/// let set = Variables::default().with("COUNT", "12");
/// let plan = Plan::parse_with("p.toml".as_ref(), text, &set, &[]).unwrap();
/// assert!(plan.text.contains("end = 12"));
/// ```
#[derive(Clone, Debug, Default)]
pub struct Variables {
    /// Values given here or read from env files.
    values: BTreeMap<String, String>,
    /// Whether the process's environment is looked at first.
    environment: bool,
}

/// An env file that cannot be read, or a line of it that is not
/// `KEY=value`.
///
/// # Examples
///
/// ```
/// let error = baton_config::Variables::from_env().env_file("no/such/.env".as_ref()).unwrap_err();
/// assert!(error.to_string().starts_with("no/such/.env: "));
/// ```
#[derive(Debug, thiserror::Error)]
#[error("{}: {message}", file.display())]
pub struct EnvFileError {
    /// The env file.
    pub file: PathBuf,
    /// What is wrong with it.
    pub message: String,
}

impl Variables {
    /// The process's environment (what `baton` uses).
    ///
    /// # Examples
    ///
    /// ```
    /// let vars = baton_config::Variables::from_env();
    /// assert_eq!(vars.get("PATH"), std::env::var("PATH").ok());
    /// ```
    pub fn from_env() -> Self {
        Self {
            values: BTreeMap::new(),
            environment: true,
        }
    }

    /// The same, with `name` set to `value` (the environment, if looked
    /// at, still comes first).
    ///
    /// # Examples
    ///
    /// See [`Variables`].
    pub fn with(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.values.insert(name.into(), value.into());
        self
    }

    /// The same, with the variables of an env file: `KEY=value` lines,
    /// `#` comments, values quoted or not, `export KEY=value` too. A later
    /// file's value replaces an earlier one's; the environment still comes
    /// first.
    ///
    /// # Errors
    ///
    /// [`EnvFileError`]: the file cannot be read, or a line is not
    /// `KEY=value` (its line number is said).
    ///
    /// # Examples
    ///
    /// ```
    /// let dir = tempfile::tempdir().unwrap();
    /// let file = dir.path().join(".env");
    /// std::fs::write(&file, "# the input\nBATON_DOC_INPUT=data/*.csv\nexport BATON_DOC_N=\"3\"\n").unwrap();
    /// let vars = baton_config::Variables::default().env_file(&file).unwrap();
    /// assert_eq!(vars.get("BATON_DOC_INPUT").as_deref(), Some("data/*.csv"));
    /// assert_eq!(vars.get("BATON_DOC_N").as_deref(), Some("3"));
    /// ```
    pub fn env_file(mut self, file: &Path) -> Result<Self, EnvFileError> {
        let error = |message: String| EnvFileError {
            file: file.to_path_buf(),
            message,
        };
        let lines = dotenvy::from_path_iter(file).map_err(|e| error(env_error(e)))?;
        for line in lines {
            let (name, value) = line.map_err(|e| error(env_error(e)))?;
            self.values.insert(name, value);
        }
        Ok(self)
    }

    /// The value of `name`: from the environment if looked at and set
    /// there, else as given or read from an env file.
    ///
    /// # Examples
    ///
    /// ```
    /// let vars = baton_config::Variables::default().with("N", "3");
    /// assert_eq!(vars.get("N").as_deref(), Some("3"));
    /// assert_eq!(vars.get("M"), None);
    /// ```
    pub fn get(&self, name: &str) -> Option<String> {
        if self.environment {
            if let Some(value) = std::env::var_os(name) {
                return Some(value.to_string_lossy().into_owned());
            }
        }
        self.values.get(name).cloned()
    }
}

fn env_error(error: dotenvy::Error) -> String {
    match error {
        dotenvy::Error::LineParse(line, at) => {
            format!(
                "this line is not `KEY=value` (at character {}): {line}",
                at + 1
            )
        }
        dotenvy::Error::Io(error) => format!("cannot read the env file: {error}"),
        other => other.to_string(),
    }
}

/// A `${...}` that cannot be replaced: where it is, and why.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Unexpanded {
    pub(crate) span: Range<usize>,
    pub(crate) message: String,
}

/// `text` with every `${...}` outside comments replaced, or every one that
/// cannot be (an unset variable, a `${` never closed, a name that is none).
pub(crate) fn expand(text: &str, vars: &Variables) -> Result<String, Vec<Unexpanded>> {
    if !text.contains("${") {
        return Ok(text.to_string());
    }
    let mut out = String::with_capacity(text.len());
    let mut problems = Vec::new();
    let mut lexer = Lexer::default();
    let mut at = 0;
    while at < text.len() {
        let rest = &text[at..];
        if lexer.in_comment() {
            let end = rest.find('\n').map_or(text.len(), |i| at + i);
            out.push_str(&text[at..end]);
            lexer.end_comment();
            at = end;
            continue;
        }
        if rest.starts_with("$${") {
            out.push_str("${");
            at += 3;
            continue;
        }
        if rest.starts_with("${") {
            match replace(text, at, vars) {
                Ok((value, end)) => {
                    out.push_str(&value);
                    at = end;
                }
                Err((problem, end)) => {
                    problems.push(problem);
                    at = end;
                }
            }
            continue;
        }
        let len = lexer.step(rest);
        out.push_str(&text[at..at + len]);
        at += len;
    }
    if problems.is_empty() {
        Ok(out)
    } else {
        Err(problems)
    }
}

/// The value of the `${...}` at `start`, and where the text goes on.
fn replace(
    text: &str,
    start: usize,
    vars: &Variables,
) -> Result<(String, usize), (Unexpanded, usize)> {
    let line_end = text[start..].find('\n').map_or(text.len(), |i| start + i);
    let Some(close) = text[start..line_end].find('}').map(|i| start + i) else {
        let problem = Unexpanded {
            span: start..line_end,
            message: "`${` opens a variable that is not closed on its line: write `${NAME}`, or `$${` for a plain `${`".into(),
        };
        return Err((problem, line_end));
    };
    let end = close + 1;
    let written = &text[start..end];
    let inner = &text[start + 2..close];
    let name_len = inner
        .char_indices()
        .find(|&(i, c)| !(c == '_' || c.is_ascii_alphabetic() || (i > 0 && c.is_ascii_digit())))
        .map_or(inner.len(), |(i, _)| i);
    let (name, rule) = inner.split_at(name_len);
    let fail = |message: String| {
        Err((
            Unexpanded {
                span: start..end,
                message,
            },
            end,
        ))
    };
    if name.is_empty() {
        return fail(format!(
            "`{written}` is not a variable: a name is letters, digits and `_`, not starting with a digit (write `$${{` for a plain `${{`)"
        ));
    }
    let value = vars.get(name);
    let empty = value.as_deref().map_or(true, str::is_empty);
    let value = if rule.is_empty() {
        match value {
            Some(value) => value,
            None => {
                return fail(format!(
                    "`{written}`: `{name}` is not set: set it in the environment or an `--env-file`, give a default with `${{{name}:-default}}`, or write `$${{{name}}}` for a plain `${{{name}}}` (as in Rhai's backtick strings)"
                ))
            }
        }
    } else if let Some(default) = rule.strip_prefix(":-") {
        if empty {
            default.to_string()
        } else {
            value.unwrap_or_default()
        }
    } else if let Some(default) = rule.strip_prefix('-') {
        value.unwrap_or_else(|| default.to_string())
    } else if let Some(message) = rule.strip_prefix(":?") {
        if empty {
            return fail(format!("`{name}` is not set or empty: {message}"));
        }
        value.unwrap_or_default()
    } else if let Some(message) = rule.strip_prefix('?') {
        match value {
            Some(value) => value,
            None => return fail(format!("`{name}` is not set: {message}")),
        }
    } else {
        return fail(format!(
            "`{written}` is not a variable: after the name comes `}}`, `:-default`, `-default`, `:?message` or `?message`"
        ));
    };
    if value.contains('\n') {
        return fail(format!(
            "`{written}`: the value of `{name}` runs over several lines, which a pipeline file's variable may not"
        ));
    }
    Ok((value, end))
}

/// Where the expansion is in the TOML text: in a string (where `#` is no
/// comment) or a comment (where `${` is no variable).
#[derive(Default)]
struct Lexer {
    state: State,
}

#[derive(Default, Clone, Copy, PartialEq, Eq)]
enum State {
    #[default]
    Code,
    Comment,
    /// `"..."`, and whether the last character was an escaping `\`.
    Basic(bool),
    /// `"""..."""`, likewise.
    MultiBasic(bool),
    /// `'...'`.
    Literal,
    /// `'''...'''`.
    MultiLiteral,
}

impl Lexer {
    fn in_comment(&self) -> bool {
        self.state == State::Comment
    }

    fn end_comment(&mut self) {
        self.state = State::Code;
    }

    /// Moves past the start of `rest` and says how many bytes it took: a
    /// character, or a triple quote at once.
    fn step(&mut self, rest: &str) -> usize {
        use State::{Basic, Code, Comment, Literal, MultiBasic, MultiLiteral};
        let triple = |quotes: &str| rest.starts_with(quotes);
        let c = rest.chars().next().expect("not at the end");
        let (state, len) = match (self.state, c) {
            (Code, '#') => (Comment, 1),
            (Code, '"') if triple("\"\"\"") => (MultiBasic(false), 3),
            (Code, '"') => (Basic(false), 1),
            (Code, '\'') if triple("'''") => (MultiLiteral, 3),
            (Code, '\'') => (Literal, 1),
            (Basic(false), '\\') => (Basic(true), 1),
            (Basic(false), '"' | '\n') => (Code, 1),
            (Basic(true), _) => (Basic(false), c.len_utf8()),
            (MultiBasic(false), '\\') => (MultiBasic(true), 1),
            (MultiBasic(true), _) => (MultiBasic(false), c.len_utf8()),
            (MultiBasic(false), '"') if triple("\"\"\"") => (Code, 3),
            (Literal, '\'' | '\n') => (Code, 1),
            (MultiLiteral, '\'') if triple("'''") => (Code, 3),
            (state, _) => (state, c.len_utf8()),
        };
        self.state = state;
        len
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vars() -> Variables {
        Variables::default()
            .with("INPUT", "data/*.csv")
            .with("N", "8")
            .with("EMPTY", "")
            .with("LINES", "a\nb")
    }

    fn expanded(text: &str) -> String {
        expand(text, &vars()).unwrap()
    }

    fn problems(text: &str) -> Vec<Unexpanded> {
        expand(text, &vars()).unwrap_err()
    }

    #[test]
    fn every_form_gives_its_value_or_default() {
        assert_eq!(expanded("path = \"${INPUT}\""), "path = \"data/*.csv\"");
        assert_eq!(expanded("n = ${N}"), "n = 8");
        assert_eq!(expanded("n = ${MISSING:-3}"), "n = 3");
        assert_eq!(expanded("n = ${EMPTY:-3}"), "n = 3");
        assert_eq!(expanded("n = \"${EMPTY-3}\""), "n = \"\"");
        assert_eq!(expanded("n = ${MISSING-3}"), "n = 3");
        assert_eq!(expanded("n = ${N:-3}${N}"), "n = 88");
        assert_eq!(expanded("s = \"${MISSING:-}\""), "s = \"\"");
        assert_eq!(expanded("n = ${N:?give N}"), "n = 8");
    }

    #[test]
    fn a_doubled_dollar_is_a_plain_brace_for_rhai() {
        assert_eq!(
            expanded("expr = \"`n is $${value}`\""),
            "expr = \"`n is ${value}`\""
        );
        assert_eq!(expanded("re = \"^a$\" # $ alone"), "re = \"^a$\" # $ alone");
    }

    #[test]
    fn comments_keep_their_variables() {
        let text = "# end = ${NOT_SET}\nend = ${N} # was ${ALSO_NOT}\ns = \"# ${N}\"\n";
        assert_eq!(
            expanded(text),
            "# end = ${NOT_SET}\nend = 8 # was ${ALSO_NOT}\ns = \"# 8\"\n"
        );
        // A `#` in a string opens no comment, even after an escaped quote
        // or in a multi-line string.
        assert_eq!(
            expanded("s = \"a\\\" # ${N}\"\nt = '''\n# ${N}\n'''\nu = ${N}"),
            "s = \"a\\\" # 8\"\nt = '''\n# 8\n'''\nu = 8"
        );
    }

    #[test]
    fn problems_are_located_and_all_reported() {
        let text = "a = ${UNSET}\nb = ${EMPTY:?set EMPTY to the input}\nc = ${1X}\nd = ${N\ne = ${N+1}\nf = ${LINES}\n";
        let found = problems(text);
        let at = |p: &Unexpanded| &text[p.span.clone()];
        assert_eq!(found.len(), 6, "{found:?}");
        assert_eq!(at(&found[0]), "${UNSET}");
        assert!(found[0].message.contains("`UNSET` is not set"));
        assert!(found[0].message.contains("${UNSET:-default}"));
        assert_eq!(
            found[1].message,
            "`EMPTY` is not set or empty: set EMPTY to the input"
        );
        assert_eq!(at(&found[2]), "${1X}");
        assert!(found[2].message.contains("is not a variable"));
        assert_eq!(at(&found[3]), "${N");
        assert!(found[3].message.contains("not closed"));
        assert!(found[4].message.contains("after the name"));
        assert!(found[5].message.contains("several lines"));
    }

    #[test]
    fn the_environment_comes_before_given_values() {
        let vars = Variables::from_env()
            .with("PATH", "given")
            .with("BATON_SURELY_UNSET_42", "given");
        assert_eq!(vars.get("PATH"), std::env::var("PATH").ok());
        assert_eq!(vars.get("BATON_SURELY_UNSET_42").as_deref(), Some("given"));
    }

    #[test]
    fn an_env_file_with_a_bad_line_says_which() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join(".env");
        std::fs::write(&file, "A=1\nthis is not a variable\n").unwrap();
        let error = Variables::default().env_file(&file).unwrap_err();
        assert!(
            error.to_string().contains("this is not a variable"),
            "{error}"
        );
        assert!(error.to_string().starts_with(&file.display().to_string()));
    }
}
