//! Reading one `[[stage]]` table into a [`PlannedStage`]: one reader per
//! key, called in the order the keys depend on each other. The op decides
//! which parameters are valid, the mode whether `replicas` is, the error
//! policy whether `retries`, `backoff_ms` and `dead_letter` are.

use std::collections::{BTreeMap, HashSet};
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::time::Duration;

use baton_engine::{ModeKind, OnError};
use baton_ops::{find, find_kind, OpDef, OpKind, ParamDef, ParamType, Params, STAGE_KEYS};
use toml::de::DeTable;

use crate::plan::{Ending, PlannedStage, StageSpans};
use crate::reader::{did_you_mean, Entry, Reader};
use crate::value::{plain, type_name};

/// The largest count that fits both the file's integers and `usize`.
pub(crate) const MAX_COUNT: i64 = if usize::BITS >= i64::BITS {
    i64::MAX
} else {
    usize::MAX as i64
};

/// A stage's table as the file has it, with spans, and its place in the
/// pipeline.
pub(crate) struct StageTable<'t, 'i> {
    /// 1-based, for messages.
    ordinal: usize,
    /// What its place asks for: a source first, a sink last.
    expected: OpKind,
    /// Whether it is the last stage of a pipeline a loop iterates.
    last_before_loop: bool,
    /// Where its `[[stage]]` header is (else the table itself).
    header: Range<usize>,
    entries: Vec<Entry<'t, 'i>>,
}

impl<'t, 'i> StageTable<'t, 'i> {
    /// Stage `index` of `count`, whose table is at `span` of `text`.
    pub(crate) fn new(
        text: &str,
        index: usize,
        count: usize,
        span: Range<usize>,
        table: &'t DeTable<'i>,
        ending: Ending,
    ) -> Self {
        let last_before_loop = ending == Ending::Loop && index > 0 && index + 1 == count;
        let expected = if index == 0 {
            OpKind::Source
        } else if index + 1 == count && ending == Ending::Sink {
            OpKind::Sink
        } else {
            OpKind::Transform
        };
        // toml gives the span of the keys; the header is what the reader
        // looks for when told "stage 3".
        let header = text[..span.start.min(text.len())]
            .rfind("[[stage]]")
            .map_or(span, |at| at..at + "[[stage]]".len());
        Self {
            ordinal: index + 1,
            expected,
            last_before_loop,
            header,
            entries: table.iter().map(|(k, v)| Entry::new(k, v)).collect(),
        }
    }

    fn get(&self, key: &str) -> Option<Entry<'t, 'i>> {
        self.entries.iter().copied().find(|e| e.name() == key)
    }

    /// The stage's name as written (its `name`, else its `op`), for
    /// problems found before its real name is known.
    fn written_name(&self) -> Option<&'t str> {
        let name = self.get("name").and_then(|e| e.as_str());
        name.filter(|n| !n.trim().is_empty())
            .or_else(|| self.get("op").and_then(|e| e.as_str()))
    }
}

/// Reads a stage; `None` when it has problems (all reported, each naming
/// the stage). `names` holds the names taken by the stages before it.
pub(crate) fn read_stage(
    reader: &mut Reader<'_>,
    table: &StageTable<'_, '_>,
    names: &mut HashSet<String>,
) -> Option<PlannedStage> {
    let before = reader.problems.len();
    let Some(op) = read_op(reader, table) else {
        reader.name_stage(before, table.written_name());
        return None;
    };
    check_place(reader, table, op);
    let name = read_name(reader, table, op, names);
    let mode = read_mode(reader, table, op);
    let (replicas, auto_replicas) = match read_replicas(reader, table, mode) {
        Some(Replicas::Auto) => (None, true),
        Some(Replicas::Count(n)) => (Some(n), false),
        None => (None, false),
    };
    let (buffer, auto_buffer) = match read_buffer(reader, table) {
        Some(Buffer::Auto) => (None, true),
        Some(Buffer::Items(n)) => (Some(n), false),
        None => (None, false),
    };
    let fuse = read_fuse(reader, table);
    let on_error = read_error_policy(reader, table);
    let dead_letter = read_dead_letter(reader, table, on_error);
    let params = read_params(reader, table, op);
    let placement =
        crate::distributed::read_placement(reader, table.get("placement"), op.kind, mode);
    reader.name_stage(before, Some(&name));
    if reader.problems.len() > before {
        return None;
    }
    let spans = StageSpans {
        table: Some(table.header.clone()),
        op: table.get("op").map(|e| e.span()),
        keys: table
            .entries
            .iter()
            .map(|e| (e.name().to_string(), e.line_span()))
            .collect(),
    };
    Some(PlannedStage {
        name,
        op,
        mode,
        replicas,
        auto_replicas,
        blocking: op.modes.blocking,
        buffer,
        auto_buffer,
        fuse,
        on_error,
        dead_letter,
        params: Params::new(params, base_dir(reader.file)),
        placement,
        notes: Vec::new(),
        spans,
    })
}

/// `op`: the op decides which keys are valid, so it is read first. Some
/// names are both a source and a sink (`jsonl`, `csv`, `files`): the
/// stage's place decides which is meant.
fn read_op(reader: &mut Reader<'_>, table: &StageTable<'_, '_>) -> Option<&'static OpDef> {
    let ordinal = table.ordinal;
    let Some(entry) = table.get("op") else {
        reader
            .key_error(
                "op",
                Some(table.header.clone()),
                format!("stage {ordinal} has no `op`"),
            )
            .set_help("name a built-in stage, e.g. `op = \"range\"` (see `baton ops`)");
        return None;
    };
    let Some(name) = entry.as_str() else {
        let message = format!("`op` of stage {ordinal} must be a string");
        reader.key_error("op", Some(entry.span()), message);
        return None;
    };
    // An op this build leaves out (a cargo feature turned off) is named
    // with the feature that brings it, not as unknown.
    let left_out = baton_ops::left_out()
        .into_iter()
        .filter(|op| op.name == name)
        .min_by_key(|op| op.kind != table.expected);
    if let Some(left) = left_out {
        if find_kind(name, table.expected).is_none() {
            let message = format!("op `{name}` in stage {ordinal} is not in this build of baton");
            let help = format!(
                "it comes with baton-ops' `{}` feature, which this build turned off",
                left.feature
            );
            reader
                .key_error("op", Some(entry.span()), message)
                .set_help(help);
            return None;
        }
    }
    match find(name) {
        Some(op) => Some(find_kind(op.name, table.expected).unwrap_or(op)),
        None => {
            let all = baton_ops::all();
            let help = did_you_mean(name, all.iter().map(|op| op.name))
                .unwrap_or_else(|| "`baton ops` lists the built-in stages".into());
            let message = format!("unknown op `{name}` in stage {ordinal}");
            reader
                .key_error("op", Some(entry.span()), message)
                .set_help(help);
            None
        }
    }
}

/// A source first, a sink last, neither in between.
fn check_place(reader: &mut Reader<'_>, table: &StageTable<'_, '_>, op: &OpDef) {
    let expected = table.expected;
    if op.kind == expected {
        return;
    }
    if table.last_before_loop && op.kind == OpKind::Sink {
        let span = table.get("op").map(|e| e.span());
        let message = format!(
            "`{}` is a sink, but this pipeline has none: the loop that iterates it is its sink",
            op.name
        );
        reader
            .key_error("op", span, message)
            .set_help("remove this stage: the loop takes the items of the stage before it");
        return;
    }
    let place = match expected {
        OpKind::Source => "the first stage must be a source",
        OpKind::Sink => "the last stage must be a sink",
        OpKind::Transform => {
            "a stage between the source and the sink must be neither a source nor a sink"
        }
    };
    let candidates: Vec<&str> = baton_ops::all()
        .iter()
        .filter(|o| o.kind == expected)
        .map(|o| o.name)
        .collect();
    let span = table.get("op").map(|e| e.span());
    let message = format!("{place}, but `{}` is a {}", op.name, op.kind);
    reader
        .key_error("op", span, message)
        .set_help(format!("{expected} ops: {}", candidates.join(", ")));
}

/// `name`: unique; an unnamed stage takes its op's name, with a number
/// when that is taken.
fn read_name(
    reader: &mut Reader<'_>,
    table: &StageTable<'_, '_>,
    op: &OpDef,
    names: &mut HashSet<String>,
) -> String {
    let name = match table.get("name") {
        None => free_name(op.name, names),
        Some(entry) => {
            let name = match entry.as_str() {
                Some(name) if !name.trim().is_empty() => name.to_string(),
                _ => {
                    let message = "`name` must be a non-empty string";
                    reader.key_error("name", Some(entry.span()), message);
                    op.name.to_string()
                }
            };
            if names.contains(&name) {
                let message = format!("two stages are named `{name}`");
                reader.key_error("name", Some(entry.span()), message);
            }
            name
        }
    };
    names.insert(name.clone());
    name
}

/// `base`, or `base-2`, `base-3`, ... whichever is not taken yet.
pub(crate) fn free_name(base: &str, names: &HashSet<String>) -> String {
    let mut name = base.to_string();
    let mut n = 2;
    while names.contains(&name) {
        name = format!("{base}-{n}");
        n += 1;
    }
    name
}

/// `mode`: one of the op's modes (its default when not given).
fn read_mode(reader: &mut Reader<'_>, table: &StageTable<'_, '_>, op: &OpDef) -> ModeKind {
    let Some(entry) = table.get("mode") else {
        return op.modes.default;
    };
    let Some(mode) = entry.as_str().and_then(ModeKind::parse) else {
        let help = did_you_mean(
            entry.as_str().unwrap_or(""),
            ModeKind::ALL.map(ModeKind::as_str),
        )
        .unwrap_or_else(|| "modes: serial_in_order, serial, parallel".into());
        let message = format!("unknown mode {}", reader.source(entry.span()));
        reader
            .key_error("mode", Some(entry.span()), message)
            .set_help(help);
        return op.modes.default;
    };
    if !op.modes.allows(mode) {
        let allowed: Vec<&str> = op.modes.allowed.iter().map(|m| m.as_str()).collect();
        let message = format!(
            "`{}` cannot run `{}`: it keeps state across items",
            op.name,
            mode.as_str()
        );
        reader
            .key_error("mode", Some(entry.span()), message)
            .set_help(format!("use mode = \"{}\"", allowed.join("\" or \"")));
    }
    mode
}

/// What `replicas` says.
enum Replicas {
    Count(usize),
    Auto,
}

/// `replicas`: a parallel stage's count or `"auto"`, if the file sets one
/// (unset, the engine mode gets one per thread: see
/// [`PlannedStage::engine_mode`]).
fn read_replicas(
    reader: &mut Reader<'_>,
    table: &StageTable<'_, '_>,
    mode: ModeKind,
) -> Option<Replicas> {
    let entry = table.get("replicas")?;
    let auto = entry.as_str() == Some("auto");
    let n = match auto {
        true => 0,
        false => reader.whole(entry, "a whole number (or \"auto\")", 1, MAX_COUNT)?,
    };
    if mode != ModeKind::Parallel {
        let message = format!(
            "`replicas` needs `mode = \"parallel\"`; this stage is {}",
            mode.as_str()
        );
        reader
            .key_error("replicas", Some(entry.span()), message)
            .set_help("set mode = \"parallel\" or drop `replicas`");
        return None;
    }
    match auto {
        true => Some(Replicas::Auto),
        false => usize::try_from(n).ok().map(Replicas::Count),
    }
}

/// What `buffer` says.
enum Buffer {
    Items(usize),
    Auto,
}

/// `buffer`: the most items queued in front of the stage, or `"auto"`
/// for the tuner to size it, if the file sets it.
fn read_buffer(reader: &mut Reader<'_>, table: &StageTable<'_, '_>) -> Option<Buffer> {
    let entry = table.get("buffer")?;
    if entry.as_str() == Some("auto") {
        return Some(Buffer::Auto);
    }
    let n = reader.whole(entry, "a whole number of items (or \"auto\")", 1, MAX_COUNT)?;
    usize::try_from(n).ok().map(Buffer::Items)
}

/// `fuse`: whether the stage may run fused with its neighbours (`true`
/// unless the file says `false`).
fn read_fuse(reader: &mut Reader<'_>, table: &StageTable<'_, '_>) -> bool {
    let Some(entry) = table.get("fuse") else {
        return true;
    };
    match plain(entry.value).0 {
        toml::Value::Boolean(on) => on,
        other => {
            let message = format!("`fuse` must be true or false, not {}", type_name(&other));
            reader.key_error("fuse", Some(entry.span()), message);
            true
        }
    }
}

/// `on_error`, with `retries` and `backoff_ms` for `"retry"` (and only then).
fn read_error_policy(reader: &mut Reader<'_>, table: &StageTable<'_, '_>) -> OnError {
    let attempts = table
        .get("retries")
        .and_then(|e| reader.whole(e, "a whole number", 1, u32::MAX.into()))
        .and_then(|n| u32::try_from(n).ok())
        .unwrap_or(3);
    let backoff = table
        .get("backoff_ms")
        .and_then(|e| reader.whole(e, "a whole number of milliseconds", 0, i64::MAX))
        .and_then(|ms| u64::try_from(ms).ok())
        .map_or(Duration::from_millis(100), Duration::from_millis);
    let policy = match table.get("on_error") {
        None => OnError::Fail,
        Some(entry) => match entry.as_str() {
            Some("fail") => OnError::Fail,
            Some("skip") => OnError::Skip,
            Some("retry") => OnError::Retry { attempts, backoff },
            other => {
                let help = did_you_mean(other.unwrap_or(""), ["fail", "skip", "retry"])
                    .unwrap_or_else(|| "on_error is \"fail\", \"skip\" or \"retry\"".into());
                let message = format!("unknown error policy {}", reader.source(entry.span()));
                reader
                    .key_error("on_error", Some(entry.span()), message)
                    .set_help(help);
                OnError::Fail
            }
        },
    };
    if policy == OnError::Fail {
        for key in ["retries", "backoff_ms"] {
            if let Some(entry) = table.get(key) {
                let message = format!("`{key}` only applies with `on_error = \"retry\"`");
                reader.key_error(key, Some(entry.key_span()), message);
            }
        }
    }
    policy
}

/// `dead_letter`: where skipped items go, relative to the pipeline file;
/// only with `on_error = "skip"`.
fn read_dead_letter(
    reader: &mut Reader<'_>,
    table: &StageTable<'_, '_>,
    on_error: OnError,
) -> Option<PathBuf> {
    let entry = table.get("dead_letter")?;
    let Some(path) = entry.as_str() else {
        reader.key_error(
            "dead_letter",
            Some(entry.span()),
            "`dead_letter` must be a path",
        );
        return None;
    };
    if on_error != OnError::Skip {
        let message = "`dead_letter` only applies with `on_error = \"skip\"`";
        reader.key_error("dead_letter", Some(entry.span()), message);
        return None;
    }
    Some(reader.file.parent().unwrap_or(Path::new(".")).join(path))
}

/// The op's parameters: every other key, checked against the op's
/// definitions (name, type, bounds), and the defaults of those not given.
fn read_params(
    reader: &mut Reader<'_>,
    table: &StageTable<'_, '_>,
    op: &OpDef,
) -> BTreeMap<String, toml::Value> {
    let mut values = BTreeMap::new();
    for entry in &table.entries {
        if STAGE_KEYS.contains(&entry.name()) {
            continue;
        }
        match op.param(entry.name()) {
            None => unknown_param(reader, *entry, op),
            Some(param) => {
                if let Some(value) = read_param(reader, *entry, op, param) {
                    values.insert(param.name.to_string(), value);
                }
            }
        }
    }
    for param in op.params {
        if table.get(param.name).is_some() {
            continue; // read above, or reported there
        }
        if param.required {
            let message = format!(
                "`{}` needs `{}` ({}: {})",
                op.name,
                param.name,
                param.ty.name(),
                param.doc
            );
            let ordinal = table.ordinal;
            reader
                .key_error(param.name, table.get("op").map(|e| e.span()), message)
                .set_help(format!("add `{} = ...` to stage {ordinal}", param.name));
        } else if let Some(default) = param.default.and_then(default_value) {
            values.insert(param.name.to_string(), default);
        }
    }
    values
}

fn unknown_param(reader: &mut Reader<'_>, entry: Entry<'_, '_>, op: &OpDef) {
    let key = entry.name();
    let candidates = op
        .params
        .iter()
        .map(|p| p.name)
        .chain(STAGE_KEYS.iter().copied());
    let help = did_you_mean(key, candidates).unwrap_or_else(|| {
        let params: Vec<&str> = op.params.iter().map(|p| p.name).collect();
        if params.is_empty() {
            format!("`{}` takes no parameters", op.name)
        } else {
            format!("`{}` takes: {}", op.name, params.join(", "))
        }
    });
    let message = format!("unknown key `{key}` for op `{}`", op.name);
    reader
        .key_error(key, Some(entry.key_span()), message)
        .set_help(help);
}

/// One parameter's value: of its type, every number fitting in 64 bits and
/// within the parameter's bounds.
fn read_param(
    reader: &mut Reader<'_>,
    entry: Entry<'_, '_>,
    op: &OpDef,
    param: &ParamDef,
) -> Option<toml::Value> {
    let key = entry.name();
    let text = reader.text;
    let source = |span: Range<usize>| text.get(span).unwrap_or("");
    let (value, unfit) = plain(entry.value);
    let mut fail = |span: Range<usize>, must: String, found: &str| {
        let message = format!("`{key}` of `{}` must be {must}, not {found}", op.name);
        reader
            .key_error(key, Some(span), message)
            .set_help(param.doc);
    };
    if !param.ty.accepts(&value) {
        fail(entry.span(), article(param.ty), type_name(&value));
        return None;
    }
    if !unfit.is_empty() {
        for number in &unfit {
            // A scalar with bounds says them; a number in a list, its type's.
            let must = match param.bounds {
                Some(bounds) if number.span == entry.span() => bounds.to_string(),
                _ => number.expected(),
            };
            fail(number.span.clone(), must, source(number.span.clone()));
        }
        return None;
    }
    if let Some(bounds) = param.bounds.filter(|b| !b.contains(&value)) {
        fail(entry.span(), bounds.to_string(), source(entry.span()));
        return None;
    }
    Some(value)
}

/// A parameter's default, written in TOML in its definition (every one is
/// checked by a test, so `None` does not happen).
fn default_value(default: &str) -> Option<toml::Value> {
    format!("v = {default}")
        .parse::<toml::Table>()
        .ok()?
        .remove("v")
}

/// `a string`, `an integer`: a type's name with its article.
fn article(ty: ParamType) -> String {
    let name = ty.name();
    if name.starts_with(['a', 'e', 'i', 'o', 'u']) {
        format!("an {name}")
    } else {
        format!("a {name}")
    }
}

/// The folder a stage's relative paths start from: the pipeline file's.
fn base_dir(file: &Path) -> PathBuf {
    match file.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir.to_path_buf(),
        _ => PathBuf::from("."),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_default_in_the_registry_is_toml_of_its_type() {
        for op in baton_ops::all() {
            for param in op.params {
                let Some(default) = param.default else {
                    continue;
                };
                let value = default_value(default).unwrap_or_else(|| {
                    panic!("`{}`.`{}`: {default} is not TOML", op.name, param.name)
                });
                assert!(param.ty.accepts(&value), "`{}`.`{}`", op.name, param.name);
                if let Some(bounds) = param.bounds {
                    assert!(bounds.contains(&value), "`{}`.`{}`", op.name, param.name);
                }
            }
        }
    }
}
