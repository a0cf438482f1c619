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
    /// Cores the tuner may fill with `replicas = "auto"` stages
    /// (`[pipeline] cpu_budget`), if set: the worker threads otherwise.
    pub cpu_budget: Option<usize>,
    /// The memory budget (`[pipeline] memory_budget`), if set: the engine's
    /// default otherwise.
    pub memory_budget: Option<crate::MemoryBudget>,
    /// Most replicas the tuner gives one auto stage (`[pipeline]
    /// max_auto_replicas`), if set.
    pub max_auto_replicas: Option<usize>,
    /// How long an item of a streaming source (`stdin`) may wait for its
    /// chunk to fill (`[pipeline] linger_ms`), if set.
    pub linger: Option<std::time::Duration>,
    /// The stages, source first, sink last (or, when the pipeline ends in
    /// a loop, the last stage whose items the loop takes).
    pub stages: Vec<PlannedStage>,
    /// The `[nats]` table, for a distributed run (all unset without one).
    pub nats: crate::NatsTable,
    /// What takes the last stage's items: a sink of the file, or the
    /// program iterating them.
    pub ending: Ending,
}

/// What ends a pipeline: a sink stage (a file `baton run` runs), or the
/// program that iterates its items (a Python training loop is its sink).
///
/// # Examples
///
/// ```
/// use baton_config::{Ending, Plan, Variables};
/// let text = "[[stage]]\nop = \"range\"\nend = 3\n\n[[stage]]\nop = \"batch\"\nsize = 2\n";
/// let vars = Variables::from_env();
/// let plan = Plan::parse_ending("p.toml".as_ref(), text, &vars, &[], Ending::Loop).unwrap();
/// assert_eq!(plan.ending, Ending::Loop);
/// // A file run by `baton run` needs its sink.
/// assert!(Plan::parse("p.toml".as_ref(), text).is_err());
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Ending {
    /// The last stage is a sink.
    #[default]
    Sink,
    /// No sink: the program iterating the run takes the last stage's items.
    Loop,
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
/// assert_eq!(rename.replicas, Some(4));
/// ```
#[derive(Debug)]
pub struct PlannedStage {
    /// Its unique name.
    pub name: String,
    /// Its built-in op.
    pub op: &'static OpDef,
    /// How it runs.
    pub mode: ModeKind,
    /// The replicas the file (or the command line) sets, if it does: only
    /// a parallel stage has them; unset, it gets one per CPU thread (see
    /// [`PlannedStage::engine_mode`], the one place that decides).
    pub replicas: Option<usize>,
    /// Whether the engine tunes its replicas while it runs (`replicas =
    /// "auto"`; `replicas` is then unset).
    pub auto_replicas: bool,
    /// Whether it waits on I/O (runs on threads of its own).
    pub blocking: bool,
    /// Most items queued in front of it, if bounded.
    pub buffer: Option<usize>,
    /// Whether the engine sizes the queue in front of it while it runs
    /// (`buffer = "auto"`; `buffer` is then unset).
    pub auto_buffer: bool,
    /// Whether it may run fused with the stages next to it (`fuse = false`
    /// keeps it apart; see `baton_engine::StageBuilder::fuse`).
    pub fuse: bool,
    /// What it does when an item fails.
    pub on_error: OnError,
    /// Where skipped items are written (JSON lines), if anywhere.
    pub dead_letter: Option<PathBuf>,
    /// The op's parameters.
    pub params: Params,
    /// Where it runs in a distributed run.
    pub placement: crate::Placement,
    /// What the plan changed in the stage (work of later stages pushed
    /// down into a source), to show in `baton run --dry-run`.
    pub notes: Vec<String>,
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
    /// Whether it combines items (a serial-only op such as `shuffle` or
    /// `batch`) in arrival order (mode `serial`): source order is lost after
    /// it.
    ///
    /// # Examples
    ///
    /// ```
    /// let text = "[[stage]]\nop = \"range\"\nend = 3\n\n[[stage]]\nop = \"shuffle\"\nbuffer_size = 2\nmode = \"serial\"\n\n[[stage]]\nop = \"discard\"\nmode = \"serial\"\n";
    /// let plan = baton_config::Plan::parse("p.toml".as_ref(), text).unwrap();
    /// let lost: Vec<bool> = plan.stages.iter().map(|s| s.loses_order()).collect();
    /// assert_eq!(lost, [false, true, false]);
    /// ```
    pub fn loses_order(&self) -> bool {
        self.op.kind == baton_ops::OpKind::Transform
            && self.op.modes.allowed == baton_ops::Modes::SERIAL.allowed
            && self.mode == ModeKind::Serial
    }

    /// The engine mode the stage runs in, with `threads` CPU worker threads:
    /// a parallel stage whose replicas are not set gets one per thread.
    ///
    /// # Examples
    ///
    /// ```
    /// let text = "[[stage]]\nop = \"range\"\nend = 3\n\n[[stage]]\nop = \"rename\"\nfields = { value = \"n\" }\n\n[[stage]]\nop = \"discard\"\n";
    /// let mut plan = baton_config::Plan::parse("p.toml".as_ref(), text).unwrap();
    /// assert!(plan.stages[0].engine_mode(8).keeps_order());
    /// let rename = &mut plan.stages[1];
    /// assert_eq!(rename.replicas, None);
    /// assert_eq!(rename.engine_mode(8).replicas(), 8);
    /// rename.replicas = Some(3);
    /// assert_eq!(rename.engine_mode(8).replicas(), 3);
    /// rename.auto_replicas = true;
    /// assert!(rename.engine_mode(8).is_auto());
    /// ```
    pub fn engine_mode(&self, threads: usize) -> Mode {
        let mode = match self.auto_replicas && self.mode == ModeKind::Parallel {
            true => Mode::auto(),
            false => self.mode.with_replicas(self.replicas.unwrap_or(threads)),
        };
        if self.blocking {
            mode.blocking()
        } else {
            mode
        }
    }
}
