//! Reading a pipeline file, in two phases: toml's spanned document (every
//! key and value with its place), then validation key by key against the op
//! registry into a [`Plan`], every problem reported with its place and a
//! suggestion. The top level and `[pipeline]` are read here, each stage in
//! `stage.rs`.
//!
//! The raw phase is toml's `DeTable` rather than a serde struct of our own:
//! a derived struct stops at the first error and has no room for keys it
//! does not know (an op's parameters), while a pipeline file's reader must
//! report every problem at once and suggest the key meant.

use std::collections::HashSet;
use std::ops::Range;
use std::path::Path;

use baton_engine::ModeKind;
use baton_ops::OpKind;
use toml::de::DeTable;

use crate::diagnostic::{Diagnostic, Diagnostics};
use crate::plan::{Ending, Plan, PlannedStage};
use crate::reader::{did_you_mean, key_diagnostic, Entry, Reader};
use crate::settings::Setting;
use crate::stage::{read_stage, StageTable, MAX_COUNT};
use crate::variables::{expand, Variables};

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
pub const PIPELINE_KEYS: &[&str] = &[
    "name",
    "threads",
    "max_in_flight",
    "linger_ms",
    "cpu_budget",
    "max_auto_replicas",
    "memory_budget",
];

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
        Plan::parse_with(file, text, &Variables::from_env(), &[])
    }

    /// Reads a pipeline file's text into a plan, its `${VAR}` taking their
    /// values from `vars` (see [`Variables`]), then `settings` written into
    /// their stages (see [`Setting`]); the plan's text is the text with
    /// both applied, which problems found later point into.
    ///
    /// # Errors
    ///
    /// [`Diagnostics`]: every `${VAR}` that cannot be replaced (located in
    /// `text`), a setting naming no stage, else every problem in the text
    /// they give.
    ///
    /// # Examples
    ///
    /// ```
    /// use baton_config::{Plan, Variables};
    /// let text = "[[stage]]\nop = \"range\"\nend = ${COUNT}\n\n[[stage]]\nop = \"discard\"\n";
    /// let errors = Plan::parse_with("p.toml".as_ref(), text, &Variables::default(), &[]).unwrap_err();
    /// assert_eq!((errors.0[0].line, errors.0[0].column), (3, 7));
    /// assert!(errors.0[0].message.contains("`COUNT` is not set"));
    /// ```
    pub fn parse_with(
        file: &Path,
        text: &str,
        vars: &Variables,
        settings: &[Setting],
    ) -> Result<Plan, Diagnostics> {
        Plan::parse_ending(file, text, vars, settings, Ending::Sink)
    }

    /// As [`Plan::parse_with`], for a pipeline that ends as `ending` says:
    /// with [`Ending::Loop`] it has no sink (a program iterates its last
    /// stage's items), and a sink at its end is a problem.
    ///
    /// # Errors
    ///
    /// As [`Plan::parse_with`].
    ///
    /// # Examples
    ///
    /// ```
    /// use baton_config::{Ending, Plan, Variables};
    /// let text = "[[stage]]\nop = \"range\"\nend = 3\n\n[[stage]]\nop = \"discard\"\n";
    /// let error = Plan::parse_ending("p.toml".as_ref(), text, &Variables::from_env(), &[], Ending::Loop).unwrap_err();
    /// assert!(error.to_string().contains("the loop that iterates it is its sink"), "{error}");
    /// ```
    pub fn parse_ending(
        file: &Path,
        text: &str,
        vars: &Variables,
        settings: &[Setting],
        ending: Ending,
    ) -> Result<Plan, Diagnostics> {
        let text = match expand(text, vars) {
            Ok(expanded) => expanded,
            Err(problems) => {
                let problems = problems
                    .into_iter()
                    .map(|p| Diagnostic::new(file, text, Some(p.span), p.message))
                    .collect();
                return Err(Diagnostics(problems));
            }
        };
        let text = crate::settings::apply(&text, settings).map_err(|error| {
            Diagnostics(vec![Diagnostic::new(file, &text, None, error.to_string())])
        })?;
        let text = text.as_str();
        let mut reader = Reader::new(file, text);
        let root = match DeTable::parse(text) {
            Ok(root) => root,
            Err(error) => {
                let message = error.message().trim().to_string();
                reader.error(error.span(), format!("this is not valid TOML: {message}"));
                return Err(Diagnostics(reader.problems));
            }
        };
        let mut plan = Plan {
            file: file.to_path_buf(),
            text: text.to_string(),
            name: if file == Path::new("-") {
                "stdin".to_string()
            } else {
                file.file_stem()
                    .map_or("pipeline".to_string(), |s| s.to_string_lossy().into_owned())
            },
            threads: None,
            max_in_flight: None,
            cpu_budget: None,
            memory_budget: None,
            max_auto_replicas: None,
            linger: None,
            stages: Vec::new(),
            nats: Default::default(),
            ending,
        };
        let mut stage_tables = Vec::new();
        for (key, value) in root.get_ref().iter() {
            let entry = Entry::new(key, value);
            match entry.name() {
                "pipeline" => match value.get_ref().as_table() {
                    Some(table) => read_pipeline_table(&mut reader, &mut plan, table),
                    None => {
                        let message = "`pipeline` must be a table: write `[pipeline]`";
                        reader.key_error("pipeline", Some(entry.span()), message);
                    }
                },
                "nats" => match value.get_ref().as_table() {
                    Some(table) => {
                        crate::distributed::read_nats_table(&mut reader, &mut plan, table)
                    }
                    None => {
                        let message = "`nats` must be a table: write `[nats]`";
                        reader.key_error("nats", Some(entry.span()), message);
                    }
                },
                "stage" => match value.get_ref().as_array() {
                    Some(items) => {
                        for item in items.iter() {
                            match item.get_ref().as_table() {
                                Some(table) => stage_tables.push((item.span(), table)),
                                None => {
                                    let message = "every stage must be a table: write `[[stage]]`";
                                    reader.error(Some(item.span()), message);
                                }
                            }
                        }
                    }
                    None => {
                        let message =
                            "`stage` must be a list of tables: write `[[stage]]` before each stage";
                        reader.key_error("stage", Some(entry.key_span()), message);
                    }
                },
                other => {
                    let message = format!("unknown top-level key `{other}`: a pipeline file has `[pipeline]`, `[nats]` and `[[stage]]` tables");
                    let help = did_you_mean(other, ["stage", "pipeline", "nats"]);
                    reader
                        .key_error(other, Some(entry.key_span()), message)
                        .set_maybe_help(help);
                }
            }
        }
        if stage_tables.is_empty() && reader.problems.is_empty() {
            reader
                .error(Some(0..0), "the pipeline has no stages")
                .set_help("add `[[stage]]` tables: a source first, a sink last (see `baton ops`)");
        }
        let mut names = HashSet::new();
        let count = stage_tables.len();
        for (index, (span, table)) in stage_tables.into_iter().enumerate() {
            let table = StageTable::new(text, index, count, span, table, ending);
            if let Some(stage) = read_stage(&mut reader, &table, &mut names) {
                plan.stages.push(stage);
            }
        }
        check_order(&mut reader, &plan.stages);
        reader.problems.extend(crate::clash::check(&plan));
        if reader.problems.is_empty() {
            crate::pushdown::push_down(&mut plan);
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
        Plan::read_with(file, &Variables::from_env(), &[])
    }

    /// Reads a pipeline file into a plan, its `${VAR}` taking their values
    /// from `vars` and `settings` written into its stages (see
    /// [`Plan::parse_with`]); the file `-` is standard input (its relative
    /// paths are then from the current folder).
    ///
    /// # Errors
    ///
    /// [`Diagnostics`]: the file cannot be read, or every problem in it.
    ///
    /// # Examples
    ///
    /// ```
    /// let dir = tempfile::tempdir().unwrap();
    /// let file = dir.path().join("p.toml");
    /// std::fs::write(&file, "[[stage]]\nop = \"range\"\nend = ${N}\n\n[[stage]]\nop = \"discard\"\n").unwrap();
    /// let vars = baton_config::Variables::default().with("N", "4");
    /// let set: baton_config::Setting = "range.end=9".parse().unwrap();
    /// let plan = baton_config::Plan::read_with(&file, &vars, &[set]).unwrap();
    /// assert!(plan.text.contains("end = 9"));
    /// ```
    pub fn read_with(
        file: &Path,
        vars: &Variables,
        settings: &[Setting],
    ) -> Result<Plan, Diagnostics> {
        Plan::read_ending(file, vars, settings, Ending::Sink)
    }

    /// As [`Plan::read_with`], for a pipeline that ends as `ending` says
    /// (see [`Plan::parse_ending`]).
    ///
    /// # Errors
    ///
    /// As [`Plan::read_with`].
    ///
    /// # Examples
    ///
    /// ```
    /// use baton_config::{Ending, Plan, Variables};
    /// let dir = tempfile::tempdir().unwrap();
    /// let file = dir.path().join("train.toml");
    /// std::fs::write(&file, "[[stage]]\nop = \"range\"\nend = 3\n").unwrap();
    /// let plan = Plan::read_ending(&file, &Variables::from_env(), &[], Ending::Loop).unwrap();
    /// assert_eq!(plan.stages.len(), 1);
    /// ```
    pub fn read_ending(
        file: &Path,
        vars: &Variables,
        settings: &[Setting],
        ending: Ending,
    ) -> Result<Plan, Diagnostics> {
        let text = if file == Path::new("-") {
            let mut text = String::new();
            std::io::Read::read_to_string(&mut std::io::stdin(), &mut text).map(|_| text)
        } else {
            std::fs::read_to_string(file)
        };
        match text {
            Ok(text) => Plan::parse_ending(file, &text, vars, settings, ending),
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
        let span: Option<Range<usize>> = param
            .and_then(|p| stage.spans.key(p))
            .or(stage.spans.op.clone())
            .or(stage.spans.table.clone());
        let message = format!("stage `{}` ({}): {message}", stage.name, stage.op.name);
        let mut diagnostic =
            key_diagnostic(&self.file, &self.text, param.unwrap_or("op"), span, message);
        diagnostic.stage = Some(stage.name.clone());
        diagnostic
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

/// The longest linger a file may set: an hour (past it, a streaming
/// source's items would in effect wait for a chunk to fill).
const MAX_LINGER_MS: i64 = 3_600_000;

/// `[pipeline]`: one reader per key.
fn read_pipeline_table(reader: &mut Reader<'_>, plan: &mut Plan, table: &DeTable<'_>) {
    for (key, value) in table.iter() {
        let entry = Entry::new(key, value);
        match entry.name() {
            "name" => match entry.as_str() {
                Some(name) => plan.name = name.to_string(),
                None => {
                    reader.key_error("name", Some(entry.span()), "`name` must be a string");
                }
            },
            "threads" => plan.threads = read_count(reader, entry, "a whole number of threads"),
            "max_in_flight" => {
                plan.max_in_flight = read_count(reader, entry, "a whole number of items")
            }
            "cpu_budget" => plan.cpu_budget = read_count(reader, entry, "a whole number of cores"),
            "memory_budget" => plan.memory_budget = read_memory_budget(reader, entry),
            "max_auto_replicas" => {
                plan.max_auto_replicas = read_count(reader, entry, "a whole number of replicas")
            }
            "linger_ms" => {
                plan.linger = reader
                    .whole(entry, "a whole number of milliseconds", 0, MAX_LINGER_MS)
                    .map(|ms| std::time::Duration::from_millis(ms as u64))
            }
            other => {
                let message = format!(
                    "unknown key `{other}` in `[pipeline]` (keys: {})",
                    PIPELINE_KEYS.join(", ")
                );
                let help = did_you_mean(other, PIPELINE_KEYS.iter().copied());
                reader
                    .key_error(other, Some(entry.key_span()), message)
                    .set_maybe_help(help);
            }
        }
    }
}

/// A count of at least 1 (threads, items).
/// `memory_budget`: a size as a string (`"4 GiB"`), a number of bytes, or
/// `"off"`.
fn read_memory_budget(
    reader: &mut Reader<'_>,
    entry: Entry<'_, '_>,
) -> Option<crate::MemoryBudget> {
    let text = match crate::value::plain(entry.value).0 {
        toml::Value::String(text) => text,
        toml::Value::Integer(bytes) => bytes.to_string(),
        _ => String::new(),
    };
    match text.parse::<crate::MemoryBudget>() {
        Ok(budget) => Some(budget),
        Err(error) => {
            let message = format!("`memory_budget`: {error}");
            reader.key_error("memory_budget", Some(entry.span()), message);
            None
        }
    }
}

fn read_count(reader: &mut Reader<'_>, entry: Entry<'_, '_>, what: &str) -> Option<usize> {
    let n = reader.whole(entry, what, 1, MAX_COUNT)?;
    usize::try_from(n).ok()
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
                let message = format!(
                    "stage `{}` is serial_in_order, but stage `{}` before it ({}) combines items in arrival order (mode serial), so source order is already lost",
                    stage.name, culprit.name, culprit.op.name
                );
                let since = reader.problems.len();
                reader.key_error("mode", span, message).set_help(format!(
                    "make `{}` serial_in_order, or make `{}` serial",
                    culprit.name, stage.name
                ));
                reader.name_stage(since, Some(&stage.name));
                return;
            }
        }
        if stage.loses_order() {
            unordered = Some(stage);
        }
    }
}
