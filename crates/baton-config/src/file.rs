//! Reading a pipeline file: TOML with spans, checked key by key against the
//! op registry, every problem reported with its place and a suggestion.

use std::collections::{BTreeMap, HashSet};
use std::ops::Range;
use std::path::Path;
use std::time::Duration;

use baton_engine::ModeKind;
use baton_engine::OnError;
use baton_ops::{find, nearest, Modes, OpDef, OpKind, ParamType, Params, STAGE_KEYS};
use toml::de::{DeTable, DeValue};
use toml::Spanned;

use crate::diagnostic::{Diagnostic, Diagnostics};
use crate::plan::{Plan, PlannedStage, StageSpans};

/// Keys of the `[pipeline]` table.
///
/// # Examples
///
/// ```
/// let text = "[pipeline]\nname = \"demo\"\nthreads = 2\n\n[[stage]]\nop = \"range\"\nend = 3\n\n[[stage]]\nop = \"discard\"\n";
/// let plan = baton_config::Plan::parse("p.toml".as_ref(), text).unwrap();
/// assert_eq!((plan.name.as_str(), plan.threads), ("demo", Some(2)));
/// assert!(baton_config::PIPELINE_KEYS.contains(&"max_in_flight"));
/// ```
pub const PIPELINE_KEYS: &[&str] = &["name", "threads", "max_in_flight"];

struct Reader<'a> {
    file: &'a Path,
    text: &'a str,
    problems: Vec<Diagnostic>,
}

impl Reader<'_> {
    fn problem(
        &mut self,
        span: Option<Range<usize>>,
        message: impl Into<String>,
    ) -> &mut Diagnostic {
        self.problems
            .push(Diagnostic::new(self.file, self.text, span, message));
        self.problems.last_mut().expect("just pushed")
    }

    fn add(&mut self, diagnostic: Diagnostic) {
        self.problems.push(diagnostic);
    }

    fn diag(&self, span: Option<Range<usize>>, message: impl Into<String>) -> Diagnostic {
        Diagnostic::new(self.file, self.text, span, message)
    }
}

fn did_you_mean<'a>(name: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<String> {
    nearest(name, candidates).map(|n| format!("did you mean `{n}`?"))
}

/// Converts a parsed TOML value (with spans) to a plain value.
fn plain(value: &DeValue<'_>) -> toml::Value {
    match value {
        DeValue::String(s) => toml::Value::String(s.to_string()),
        DeValue::Integer(i) => {
            let digits: String = i.as_str().chars().filter(|c| *c != '_').collect();
            let digits = digits.trim_start_matches('+');
            let digits = digits
                .trim_start_matches("0x")
                .trim_start_matches("0o")
                .trim_start_matches("0b");
            toml::Value::Integer(i64::from_str_radix(digits, i.radix()).unwrap_or(0))
        }
        DeValue::Float(f) => {
            let text: String = f.as_str().chars().filter(|c| *c != '_').collect();
            let value = match text.trim_start_matches('+') {
                "inf" => f64::INFINITY,
                "-inf" => f64::NEG_INFINITY,
                "nan" | "-nan" => f64::NAN,
                other => other.parse().unwrap_or(f64::NAN),
            };
            toml::Value::Float(value)
        }
        DeValue::Boolean(b) => toml::Value::Boolean(*b),
        DeValue::Datetime(d) => toml::Value::Datetime(*d),
        DeValue::Array(items) => {
            toml::Value::Array(items.iter().map(|v| plain(v.get_ref())).collect())
        }
        DeValue::Table(table) => toml::Value::Table(
            table
                .iter()
                .map(|(k, v)| (k.get_ref().to_string(), plain(v.get_ref())))
                .collect(),
        ),
    }
}

fn type_name(value: &toml::Value) -> &'static str {
    match value {
        toml::Value::String(_) => "a string",
        toml::Value::Integer(_) => "an integer",
        toml::Value::Float(_) => "a number",
        toml::Value::Boolean(_) => "a boolean",
        toml::Value::Datetime(_) => "a date",
        toml::Value::Array(_) => "an array",
        toml::Value::Table(_) => "a table",
    }
}

impl Plan {
    /// Reads a pipeline file's text into a plan, or every problem found.
    ///
    /// # Errors
    ///
    /// [`Diagnostics`]: every problem, each with file, line, column and key.
    ///
    /// # Examples
    ///
    /// ```
    /// let text = "[[stage]]\nop = \"rnage\"\nend = 3\n\n[[stage]]\nop = \"discard\"\n";
    /// let errors = baton_config::Plan::parse("p.toml".as_ref(), text).unwrap_err();
    /// let first = &errors.0[0];
    /// assert_eq!((first.line, first.key.as_deref()), (2, Some("op")));
    /// assert_eq!(first.help.as_deref(), Some("did you mean `range`?"));
    /// ```
    pub fn parse(file: &Path, text: &str) -> Result<Plan, Diagnostics> {
        let mut reader = Reader {
            file,
            text,
            problems: Vec::new(),
        };
        let root = match DeTable::parse(text) {
            Ok(root) => root,
            Err(error) => {
                let message = error.message().trim().to_string();
                reader.problem(error.span(), format!("this is not valid TOML: {message}"));
                return Err(Diagnostics(reader.problems));
            }
        };
        let default_name = file
            .file_stem()
            .map_or("pipeline".to_string(), |s| s.to_string_lossy().into_owned());
        let mut plan = Plan {
            file: file.to_path_buf(),
            text: text.to_string(),
            name: default_name,
            threads: None,
            max_in_flight: None,
            stages: Vec::new(),
        };
        let mut stage_tables = Vec::new();
        for (key, value) in root.get_ref().iter() {
            match key.get_ref().as_ref() {
                "pipeline" => match value.get_ref().as_table() {
                    Some(table) => read_pipeline_table(&mut reader, &mut plan, table),
                    None => {
                        reader
                            .problem(
                                Some(value.span()),
                                "`pipeline` must be a table: write `[pipeline]`",
                            )
                            .key = Some("pipeline".into());
                    }
                },
                "stage" => match value.get_ref().as_array() {
                    Some(items) => {
                        for item in items.iter() {
                            match item.get_ref().as_table() {
                                Some(table) => stage_tables.push((item.span(), table)),
                                None => {
                                    reader.problem(
                                        Some(item.span()),
                                        "every stage must be a table: write `[[stage]]`",
                                    );
                                }
                            }
                        }
                    }
                    None => {
                        reader
                            .problem(Some(key.span()), "`stage` must be a list of tables: write `[[stage]]` before each stage")
                            .key = Some("stage".into());
                    }
                },
                other => {
                    let help = did_you_mean(other, ["stage", "pipeline"]);
                    let d = reader
                        .diag(Some(key.span()), format!("unknown top-level key `{other}`: a pipeline file has `[pipeline]` and `[[stage]]` tables"))
                        .with_key(other)
                        .with_maybe_help(help);
                    reader.add(d);
                }
            }
        }
        if stage_tables.is_empty() && reader.problems.is_empty() {
            reader
                .problem(Some(0..0), "the pipeline has no stages")
                .set_help("add `[[stage]]` tables: a source first, a sink last (see `baton ops`)");
        }
        let mut names = HashSet::new();
        let count = stage_tables.len();
        for (index, (span, table)) in stage_tables.into_iter().enumerate() {
            if let Some(stage) = read_stage(&mut reader, index, count, span, table, &mut names) {
                plan.stages.push(stage);
            }
        }
        check_order(&mut reader, &plan.stages);
        reader.problems.extend(crate::clash::check(&plan));
        if reader.problems.is_empty() {
            Ok(plan)
        } else {
            Err(Diagnostics(reader.problems))
        }
    }

    /// Reads a pipeline file into a plan.
    ///
    /// # Errors
    ///
    /// [`Diagnostics`]: the file cannot be read, or every problem in it.
    ///
    /// # Examples
    ///
    /// ```
    /// let missing = baton_config::Plan::read("no/such/file.toml".as_ref()).unwrap_err();
    /// assert!(missing.to_string().contains("cannot read"));
    /// ```
    pub fn read(file: &Path) -> Result<Plan, Diagnostics> {
        match std::fs::read_to_string(file) {
            Ok(text) => Plan::parse(file, &text),
            Err(error) => Err(Diagnostics(vec![Diagnostic::new(
                file,
                "",
                None,
                format!("cannot read the pipeline file: {error}"),
            )])),
        }
    }

    /// A diagnostic at a stage's parameter (or its `op` key), for problems
    /// found when the stage is built.
    pub(crate) fn stage_diagnostic(
        &self,
        stage: &PlannedStage,
        param: Option<&str>,
        message: String,
    ) -> Diagnostic {
        let span = param
            .and_then(|p| stage.spans.key(p))
            .or(stage.spans.op.clone())
            .or(stage.spans.table.clone());
        let d = Diagnostic::new(
            &self.file,
            &self.text,
            span,
            format!("stage `{}` ({}): {message}", stage.name, stage.op.name),
        );
        match param {
            Some(p) => d.with_key(p),
            None => d.with_key("op"),
        }
    }

    /// Finds a stage by name, or says which names there are.
    ///
    /// # Errors
    ///
    /// A message naming the nearest stage name.
    ///
    /// # Examples
    ///
    /// ```
    /// let text = "[[stage]]\nop = \"range\"\nend = 3\n\n[[stage]]\nname = \"out\"\nop = \"discard\"\n";
    /// let mut plan = baton_config::Plan::parse("p.toml".as_ref(), text).unwrap();
    /// assert!(plan.stage_mut("out").is_ok());
    /// assert!(plan.stage_mut("otu").unwrap_err().contains("did you mean `out`?"));
    /// ```
    pub fn stage_mut(&mut self, name: &str) -> Result<&mut PlannedStage, String> {
        let names: Vec<String> = self.stages.iter().map(|s| s.name.clone()).collect();
        match self.stages.iter_mut().find(|s| s.name == name) {
            Some(stage) => Ok(stage),
            None => {
                let help = did_you_mean(name, names.iter().map(String::as_str)).unwrap_or_default();
                Err(format!(
                    "no stage is named `{name}` (stages: {}) {help}",
                    names.join(", ")
                )
                .trim_end()
                .to_string())
            }
        }
    }
}

fn positive(
    reader: &mut Reader<'_>,
    key: &Spanned<toml::de::DeString<'_>>,
    value: &Spanned<DeValue<'_>>,
    what: &str,
) -> Option<usize> {
    match value.get_ref().as_integer().map(|_| plain(value.get_ref())) {
        Some(toml::Value::Integer(n)) if n >= 1 => Some(n as usize),
        Some(toml::Value::Integer(n)) => {
            reader
                .problem(
                    Some(value.span()),
                    format!("`{}` must be at least 1, not {n}", key.get_ref()),
                )
                .key = Some(key.get_ref().to_string());
            None
        }
        _ => {
            let got = type_name(&plain(value.get_ref()));
            reader
                .problem(
                    Some(value.span()),
                    format!("`{}` must be {what}, not {got}", key.get_ref()),
                )
                .key = Some(key.get_ref().to_string());
            None
        }
    }
}

fn read_pipeline_table(reader: &mut Reader<'_>, plan: &mut Plan, table: &DeTable<'_>) {
    for (key, value) in table.iter() {
        match key.get_ref().as_ref() {
            "name" => match value.get_ref().as_str() {
                Some(name) => plan.name = name.to_string(),
                None => {
                    reader
                        .problem(Some(value.span()), "`name` must be a string")
                        .key = Some("name".into());
                }
            },
            "threads" => plan.threads = positive(reader, key, value, "a whole number of threads"),
            "max_in_flight" => {
                plan.max_in_flight = positive(reader, key, value, "a whole number of items")
            }
            other => {
                let help = did_you_mean(other, PIPELINE_KEYS.iter().copied());
                let d = reader
                    .diag(
                        Some(key.span()),
                        format!(
                            "unknown key `{other}` in `[pipeline]` (keys: {})",
                            PIPELINE_KEYS.join(", ")
                        ),
                    )
                    .with_key(other)
                    .with_maybe_help(help);
                reader.add(d);
            }
        }
    }
}

fn read_stage(
    reader: &mut Reader<'_>,
    index: usize,
    count: usize,
    table_span: Range<usize>,
    table: &DeTable<'_>,
    names: &mut HashSet<String>,
) -> Option<PlannedStage> {
    let ordinal = index + 1;
    let header = reader.text[..table_span.start.min(reader.text.len())]
        .rfind("[[stage]]")
        .map(|at| at..at + 9);
    let mut spans = StageSpans {
        table: header.or(Some(table_span.clone())),
        op: None,
        keys: Vec::new(),
    };
    for (key, value) in table.iter() {
        spans.keys.push((
            key.get_ref().to_string(),
            key.span().start..value.span().end,
        ));
    }
    let get = |name: &str| table.iter().find(|(k, _)| k.get_ref().as_ref() == name);
    // The op decides which keys are valid: read it first.
    let op: Option<&'static OpDef> = match get("op") {
        None => {
            reader
                .problem(spans.table.clone(), format!("stage {ordinal} has no `op`"))
                .set_help("name a built-in stage, e.g. `op = \"range\"` (see `baton ops`)");
            None
        }
        Some((_, value)) => {
            spans.op = Some(value.span());
            match value.get_ref().as_str() {
                None => {
                    reader
                        .problem(
                            Some(value.span()),
                            format!("`op` of stage {ordinal} must be a string"),
                        )
                        .key = Some("op".into());
                    None
                }
                Some(name) => match find(name) {
                    Some(op) => Some(op),
                    None => {
                        let all = baton_ops::all();
                        let help = did_you_mean(name, all.iter().map(|op| op.name))
                            .or_else(|| Some("`baton ops` lists the built-in stages".into()));
                        let d = reader
                            .diag(
                                Some(value.span()),
                                format!("unknown op `{name}` in stage {ordinal}"),
                            )
                            .with_key("op")
                            .with_maybe_help(help);
                        reader.add(d);
                        None
                    }
                },
            }
        }
    };
    let expected_kind = if index == 0 {
        OpKind::Source
    } else if index + 1 == count {
        OpKind::Sink
    } else {
        OpKind::Transform
    };
    // Some names are both a source and a sink (`jsonl`, `csv`, `files`):
    // the stage's place decides which is meant.
    let op = op.map(|op| baton_ops::find_kind(op.name, expected_kind).unwrap_or(op))?;
    let before = reader.problems.len();
    if op.kind != expected_kind {
        let place = match expected_kind {
            OpKind::Source => "the first stage must be a source",
            OpKind::Sink => "the last stage must be a sink",
            OpKind::Transform => {
                "a stage between the source and the sink must be neither a source nor a sink"
            }
        };
        let candidates: Vec<&str> = baton_ops::all()
            .iter()
            .filter(|o| o.kind == expected_kind)
            .map(|o| o.name)
            .collect();
        reader
            .problem(
                spans.op.clone(),
                format!("{place}, but `{}` is a {}", op.name, op.kind),
            )
            .set_key("op")
            .set_help(format!("{} ops: {}", expected_kind, candidates.join(", ")));
    }

    let name = match get("name") {
        Some((_, value)) => match value.get_ref().as_str() {
            Some(name) if !name.trim().is_empty() => name.to_string(),
            _ => {
                reader
                    .problem(Some(value.span()), "`name` must be a non-empty string")
                    .key = Some("name".into());
                op.name.to_string()
            }
        },
        None => op.name.to_string(),
    };
    let name = if names.contains(&name) {
        if get("name").is_some() {
            let span = get("name").map(|(_, v)| v.span());
            reader
                .problem(span, format!("two stages are named `{name}`"))
                .key = Some("name".into());
            name
        } else {
            (2..)
                .map(|n| format!("{name}-{n}"))
                .find(|n| !names.contains(n))
                .expect("some suffix is free")
        }
    } else {
        name
    };
    names.insert(name.clone());

    let mode = match get("mode") {
        None => op.modes.default,
        Some((_, value)) => match value.get_ref().as_str().and_then(ModeKind::parse) {
            Some(mode) => mode,
            None => {
                let text = value.get_ref().as_str().unwrap_or("");
                let help = did_you_mean(text, ModeKind::ALL.iter().map(|m| m.as_str()))
                    .unwrap_or_else(|| "modes: serial_in_order, serial, parallel".into());
                reader
                    .problem(
                        Some(value.span()),
                        format!("unknown mode {}", plain(value.get_ref())),
                    )
                    .key = Some("mode".into());
                reader.problems.last_mut().expect("just pushed").help = Some(help);
                op.modes.default
            }
        },
    };
    if !op.modes.allows(mode) {
        let span = get("mode").map(|(_, v)| v.span());
        let allowed: Vec<&str> = op.modes.allowed.iter().map(|m| m.as_str()).collect();
        reader
            .problem(
                span,
                format!(
                    "`{}` cannot run `{}`: it keeps state across items",
                    op.name,
                    mode.as_str()
                ),
            )
            .set_key("mode")
            .set_help(format!("use mode = \"{}\"", allowed.join("\" or \"")));
    }

    let mut replicas = if mode == ModeKind::Parallel { 0 } else { 1 };
    if let Some((key, value)) = get("replicas") {
        if value.get_ref().as_str() == Some("auto") {
            reader
                .problem(
                    Some(value.span()),
                    "`replicas = \"auto\"` needs autotuning, which baton does not have yet",
                )
                .set_key("replicas")
                .set_help("give a number of replicas");
        } else if let Some(n) = positive(reader, key, value, "a whole number (or \"auto\")") {
            if mode != ModeKind::Parallel {
                reader
                    .problem(
                        Some(value.span()),
                        format!(
                            "`replicas` needs `mode = \"parallel\"`; this stage is {}",
                            mode.as_str()
                        ),
                    )
                    .set_key("replicas")
                    .set_help("set mode = \"parallel\" or drop `replicas`");
            } else {
                replicas = n;
            }
        }
    }

    let buffer = match get("buffer") {
        None => None,
        Some((_, value)) => match plain(value.get_ref()) {
            toml::Value::Integer(n) if n >= 0 => Some(n as usize),
            other => {
                reader
                    .problem(
                        Some(value.span()),
                        format!(
                            "`buffer` must be a whole number of items, not {}",
                            type_name(&other)
                        ),
                    )
                    .key = Some("buffer".into());
                None
            }
        },
    };

    let retries = match get("retries") {
        None => 3,
        Some((key, value)) => positive(reader, key, value, "a whole number").unwrap_or(3) as u32,
    };
    let backoff = match get("backoff_ms") {
        None => Duration::from_millis(100),
        Some((_, value)) => match plain(value.get_ref()) {
            toml::Value::Integer(n) if n >= 0 => Duration::from_millis(n as u64),
            _ => {
                reader
                    .problem(
                        Some(value.span()),
                        "`backoff_ms` must be a whole number of milliseconds",
                    )
                    .key = Some("backoff_ms".into());
                Duration::from_millis(100)
            }
        },
    };
    let on_error = match get("on_error") {
        None => OnError::Fail,
        Some((_, value)) => match value.get_ref().as_str() {
            Some("fail") => OnError::Fail,
            Some("skip") => OnError::Skip,
            Some("retry") => OnError::Retry {
                attempts: retries,
                backoff,
            },
            other => {
                let help = did_you_mean(other.unwrap_or(""), ["fail", "skip", "retry"])
                    .unwrap_or_else(|| "on_error is \"fail\", \"skip\" or \"retry\"".into());
                let d = reader
                    .diag(
                        Some(value.span()),
                        format!("unknown error policy {}", plain(value.get_ref())),
                    )
                    .with_key("on_error")
                    .with_help(help);
                reader.add(d);
                OnError::Fail
            }
        },
    };
    if on_error == OnError::Fail {
        for key in ["retries", "backoff_ms"] {
            if let Some((k, _)) = get(key) {
                reader
                    .problem(
                        Some(k.span()),
                        format!("`{key}` only applies with `on_error = \"retry\"`"),
                    )
                    .key = Some(key.into());
            }
        }
    }
    let dead_letter = match get("dead_letter") {
        None => None,
        Some((_, value)) => match value.get_ref().as_str() {
            Some(path) if on_error == OnError::Skip => {
                Some(reader.file.parent().unwrap_or(Path::new(".")).join(path))
            }
            Some(_) => {
                reader
                    .problem(
                        Some(value.span()),
                        "`dead_letter` only applies with `on_error = \"skip\"`",
                    )
                    .key = Some("dead_letter".into());
                None
            }
            None => {
                reader
                    .problem(Some(value.span()), "`dead_letter` must be a path")
                    .key = Some("dead_letter".into());
                None
            }
        },
    };

    let mut values = BTreeMap::new();
    for (key, value) in table.iter() {
        let key_name = key.get_ref().as_ref();
        if STAGE_KEYS.contains(&key_name) {
            continue;
        }
        let Some(param) = op.param(key_name) else {
            let candidates: Vec<&str> = op
                .params
                .iter()
                .map(|p| p.name)
                .chain(STAGE_KEYS.iter().copied())
                .collect();
            let help = did_you_mean(key_name, candidates.iter().copied()).or_else(|| {
                let params: Vec<&str> = op.params.iter().map(|p| p.name).collect();
                Some(if params.is_empty() {
                    format!("`{}` takes no parameters", op.name)
                } else {
                    format!("`{}` takes: {}", op.name, params.join(", "))
                })
            });
            let d = reader
                .diag(
                    Some(key.span()),
                    format!("unknown key `{key_name}` for op `{}`", op.name),
                )
                .with_key(key_name)
                .with_maybe_help(help);
            reader.add(d);
            continue;
        };
        let plain_value = plain(value.get_ref());
        if !param.ty.accepts(&plain_value) {
            let d = reader
                .diag(
                    Some(value.span()),
                    format!(
                        "`{key_name}` of `{}` must be {}, not {}",
                        op.name,
                        article(param.ty),
                        type_name(&plain_value)
                    ),
                )
                .with_key(key_name)
                .with_help(param.doc);
            reader.add(d);
            continue;
        }
        values.insert(key_name.to_string(), plain_value);
    }
    for param in op.params {
        if values.contains_key(param.name) {
            continue;
        }
        if param.required {
            if table
                .iter()
                .any(|(k, _)| k.get_ref().as_ref() == param.name)
            {
                continue; // present but wrong: already reported
            }
            reader
                .problem(
                    spans.op.clone(),
                    format!(
                        "`{}` needs `{}` ({}: {})",
                        op.name,
                        param.name,
                        param.ty.name(),
                        param.doc
                    ),
                )
                .set_key(param.name)
                .set_help(format!("add `{} = ...` to stage {ordinal}", param.name));
        } else if let Some(default) = param.default {
            match default.parse::<toml::Value>().ok().or_else(|| {
                format!("v = {default}")
                    .parse::<toml::Table>()
                    .ok()?
                    .remove("v")
            }) {
                Some(value) => {
                    values.insert(param.name.to_string(), value);
                }
                None => unreachable!(
                    "the default of `{}`.`{}` is not TOML: {default}",
                    op.name, param.name
                ),
            }
        }
    }
    if reader.problems.len() > before {
        return None;
    }
    let base_dir = reader
        .file
        .parent()
        .map_or_else(|| Path::new(".").to_path_buf(), Path::to_path_buf);
    let base_dir = if base_dir.as_os_str().is_empty() {
        Path::new(".").to_path_buf()
    } else {
        base_dir
    };
    Some(PlannedStage {
        name,
        op,
        mode,
        replicas,
        blocking: op.modes.blocking,
        buffer,
        on_error,
        dead_letter,
        params: Params::new(values, base_dir),
        spans,
    })
}

fn article(ty: ParamType) -> String {
    let name = ty.name();
    if name.starts_with(['a', 'e', 'i', 'o', 'u']) {
        format!("an {name}")
    } else {
        format!("a {name}")
    }
}

/// A stage that combines items (a serial-only op) run in arrival order makes
/// source order meaningless after it: an in-order stage later promises what
/// cannot be kept.
fn check_order(reader: &mut Reader<'_>, stages: &[PlannedStage]) {
    let mut unordered: Option<&PlannedStage> = None;
    for stage in stages {
        if let Some(culprit) = unordered {
            if stage.mode == ModeKind::SerialInOrder && stage.op.kind != OpKind::Source {
                let span = stage.spans.key("mode").or(stage.spans.op.clone());
                reader
                    .problem(
                        span,
                        format!(
                            "stage `{}` is serial_in_order, but stage `{}` before it ({}) combines items in arrival order (mode serial), so source order is already lost",
                            stage.name, culprit.name, culprit.op.name
                        ),
                    )
                    .set_key("mode").set_help(format!(
                    "make `{}` serial_in_order, or make `{}` serial",
                    culprit.name, stage.name
                ));
                return;
            }
        }
        let combines =
            stage.op.modes.allowed == Modes::SERIAL.allowed && stage.op.kind == OpKind::Transform;
        if combines && stage.mode == ModeKind::Serial {
            unordered = Some(stage);
        }
    }
}
