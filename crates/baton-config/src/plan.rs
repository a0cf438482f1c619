//! The plan: a pipeline file, validated, with every default filled in.

use std::ops::Range;
use std::path::PathBuf;

use baton_engine::ModeKind;
use baton_engine::{Mode, OnError};
use baton_ops::{OpDef, Params};

/// A validated pipeline, ready to build.
///
/// # Examples
///
/// ```
/// let text = "[[stage]]\nop = \"range\"\nend = 3\n\n[[stage]]\nop = \"discard\"\n";
/// let plan = baton_config::Plan::parse("p.toml".as_ref(), text).unwrap();
/// assert_eq!(plan.stages.len(), 2);
/// assert_eq!(plan.stages[0].name, "range");
/// ```
#[derive(Debug)]
pub struct Plan {
    /// The pipeline file.
    pub file: PathBuf,
    /// Its text (for diagnostics found later, at build time).
    pub text: String,
    /// The pipeline's name (`[pipeline] name`, else the file's stem).
    pub name: String,
    /// CPU worker threads (`[pipeline] threads`), if set.
    pub threads: Option<usize>,
    /// Items in flight at most (`[pipeline] max_in_flight`), if set.
    pub max_in_flight: Option<usize>,
    /// The stages, source first, sink last.
    pub stages: Vec<PlannedStage>,
}

/// One stage of a plan.
///
/// # Examples
///
/// ```
/// let text = "[[stage]]\nop = \"range\"\nend = 3\n\n[[stage]]\nop = \"rename\"\nfields = { value = \"n\" }\nreplicas = 4\n\n[[stage]]\nop = \"discard\"\n";
/// let plan = baton_config::Plan::parse("p.toml".as_ref(), text).unwrap();
/// let rename = &plan.stages[1];
/// assert_eq!(rename.name, "rename");
/// assert_eq!(rename.mode, baton_engine::ModeKind::Parallel);
/// assert_eq!(rename.replicas, 4);
/// ```
#[derive(Debug)]
pub struct PlannedStage {
    /// Its unique name.
    pub name: String,
    /// Its built-in op.
    pub op: &'static OpDef,
    /// How it runs.
    pub mode: ModeKind,
    /// Replicas (1 unless parallel).
    pub replicas: usize,
    /// Whether it waits on I/O (runs on threads of its own).
    pub blocking: bool,
    /// Most items queued in front of it, if bounded.
    pub buffer: Option<usize>,
    /// What it does when an item fails.
    pub on_error: OnError,
    /// Where skipped items are written (JSON lines), if anywhere.
    pub dead_letter: Option<PathBuf>,
    /// The op's parameters.
    pub params: Params,
    /// Where things are in the file, for errors found later.
    pub(crate) spans: StageSpans,
}

/// Byte spans of a stage's parts in the file.
#[derive(Debug, Clone, Default)]
pub(crate) struct StageSpans {
    pub(crate) table: Option<Range<usize>>,
    pub(crate) op: Option<Range<usize>>,
    pub(crate) keys: Vec<(String, Range<usize>)>,
}

impl StageSpans {
    pub(crate) fn key(&self, key: &str) -> Option<Range<usize>> {
        self.keys
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, span)| span.clone())
    }
}

impl PlannedStage {
    /// The engine mode the stage runs in.
    ///
    /// # Examples
    ///
    /// ```
    /// let text = "[[stage]]\nop = \"range\"\nend = 3\n\n[[stage]]\nop = \"discard\"\n";
    /// let plan = baton_config::Plan::parse("p.toml".as_ref(), text).unwrap();
    /// assert!(plan.stages[0].engine_mode().keeps_order());
    /// ```
    pub fn engine_mode(&self) -> Mode {
        let mode = self.mode.with_replicas(self.replicas);
        if self.blocking {
            mode.blocking()
        } else {
            mode
        }
    }
}
