//! Distributed runs: where each stage runs (`placement`), the `[nats]`
//! table, and the plan cut into what the driver runs itself and the
//! *remote segments* (runs of consecutive remote stages) that workers
//! serve. This crate knows no transport: the binary puts a stage of its
//! own (one that publishes to the workers and collects their outputs) in
//! place of each segment ([`Built::replace_segment`]), and a worker builds
//! only the stage it serves ([`Plan::build_stage`]).

use std::path::PathBuf;
use std::time::Duration;

use baton_engine::{ModeKind, OnError};
use baton_ops::{BuiltOp, BuiltStage, OpKind};
use toml::de::DeTable;

use crate::build::Built;
use crate::diagnostic::Diagnostics;
use crate::plan::{Plan, PlannedStage};
use crate::reader::{did_you_mean, Entry, Reader};

/// Where a stage runs.
///
/// # Examples
///
/// ```
/// let text = "[[stage]]\nop = \"range\"\nend = 3\n\n[[stage]]\nop = \"rename\"\nfields = { value = \"n\" }\nplacement = \"remote\"\n\n[[stage]]\nop = \"discard\"\n";
/// let plan = baton_config::Plan::parse("p.toml".as_ref(), text).unwrap();
/// assert_eq!(plan.stages[1].placement, baton_config::Placement::Remote);
/// assert_eq!(plan.stages[2].placement, baton_config::Placement::Local);
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Placement {
    /// In the process that runs the pipeline (always, without `--nats`).
    #[default]
    Local,
    /// On the workers of a distributed run (`baton worker`), when the run
    /// has `--nats`; locally otherwise.
    Remote,
}

impl Placement {
    /// Its name in a pipeline file.
    ///
    /// # Examples
    ///
    /// ```
    /// assert_eq!(baton_config::Placement::Remote.as_str(), "remote");
    /// ```
    pub fn as_str(self) -> &'static str {
        match self {
            Placement::Local => "local",
            Placement::Remote => "remote",
        }
    }
}

/// Keys of the `[nats]` table.
///
/// # Examples
///
/// ```
/// assert!(baton_config::NATS_KEYS.contains(&"url"));
/// ```
pub const NATS_KEYS: &[&str] = &[
    "url",
    "run",
    "storage",
    "user",
    "password",
    "token",
    "nkey",
    "credentials",
    "tls_ca",
    "tls_cert",
    "tls_key",
    "stream_replicas",
    "max_messages",
    "max_bytes",
    "ack_wait_ms",
    "max_deliver",
    "max_ack_pending",
    "window",
];

/// Where a distributed run's streams keep their messages.
///
/// # Examples
///
/// ```
/// assert_eq!(baton_config::StreamStorage::default(), baton_config::StreamStorage::File);
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum StreamStorage {
    /// On the server's disk: survives its restart.
    #[default]
    File,
    /// In the server's memory: faster, lost when it stops.
    Memory,
}

/// A password or token from a pipeline file: never shown by `Debug`.
///
/// # Examples
///
/// ```
/// let secret = baton_config::SecretText::new("pw");
/// assert_eq!(format!("{secret:?}"), "SecretText(***)");
/// assert_eq!(secret.expose(), "pw");
/// ```
#[derive(Clone, Default, PartialEq, Eq)]
pub struct SecretText(String);

impl SecretText {
    /// Wraps a secret.
    ///
    /// # Examples
    ///
    /// See [`SecretText`].
    pub fn new(secret: impl Into<String>) -> Self {
        Self(secret.into())
    }

    /// The secret itself, to hand to the client.
    ///
    /// # Examples
    ///
    /// See [`SecretText`].
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for SecretText {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SecretText(***)")
    }
}

/// The `[nats]` table: how a distributed run reaches NATS and sizes its
/// streams. Every field is optional; the binary fills in the transport's
/// defaults (and `--nats URL` overrides `url`).
///
/// # Examples
///
/// ```
/// let text = "[nats]\nurl = \"nats://10.0.0.5:4222\"\nrun = \"nightly\"\nstorage = \"memory\"\n\n[[stage]]\nop = \"range\"\nend = 3\n\n[[stage]]\nop = \"discard\"\n";
/// let plan = baton_config::Plan::parse("p.toml".as_ref(), text).unwrap();
/// assert_eq!(plan.nats.url.as_deref(), Some("nats://10.0.0.5:4222"));
/// assert_eq!(plan.nats.run.as_deref(), Some("nightly"));
/// assert_eq!(plan.nats.storage, Some(baton_config::StreamStorage::Memory));
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct NatsTable {
    /// The server (or several, comma-separated: a cluster's nodes).
    pub url: Option<String>,
    /// The run's name in every subject and stream (default: the
    /// pipeline's name): runs sharing a server must differ in it.
    pub run: Option<String>,
    /// File or memory storage for the streams.
    pub storage: Option<StreamStorage>,
    /// A user name (with `password`).
    pub user: Option<String>,
    /// A password (better given in the environment, `NATS_PASSWORD`).
    pub password: Option<SecretText>,
    /// A token (better given in the environment, `NATS_TOKEN`).
    pub token: Option<SecretText>,
    /// A file holding an NKey seed, relative to the pipeline file.
    pub nkey: Option<PathBuf>,
    /// A credentials file (`nsc` writes them), relative to the pipeline file.
    pub credentials: Option<PathBuf>,
    /// A CA certificate to trust for TLS, relative to the pipeline file.
    pub tls_ca: Option<PathBuf>,
    /// A client certificate for TLS, relative to the pipeline file.
    pub tls_cert: Option<PathBuf>,
    /// The client certificate's key, relative to the pipeline file.
    pub tls_key: Option<PathBuf>,
    /// Copies of each stream in a cluster (1 or 3).
    pub stream_replicas: Option<usize>,
    /// Most messages in a stream before publishers wait.
    pub max_messages: Option<i64>,
    /// Most bytes in a stream before publishers wait.
    pub max_bytes: Option<i64>,
    /// How long a delivered message waits for its ack before it goes to
    /// another worker.
    pub ack_wait: Option<Duration>,
    /// Deliveries after which a failing item goes to the dead letters.
    pub max_deliver: Option<u32>,
    /// Most messages out at a stage's workers at once.
    pub max_ack_pending: Option<i64>,
    /// Most items in flight through each remote segment.
    pub window: Option<u64>,
}

/// `[nats]`: one reader per key.
pub(crate) fn read_nats_table(reader: &mut Reader<'_>, plan: &mut Plan, table: &DeTable<'_>) {
    let base = reader
        .file
        .parent()
        .filter(|dir| !dir.as_os_str().is_empty())
        .map_or_else(|| PathBuf::from("."), PathBuf::from);
    let nats = &mut plan.nats;
    for (key, value) in table.iter() {
        let entry = Entry::new(key, value);
        let string = |reader: &mut Reader<'_>, what: &str| match entry.as_str() {
            Some(text) if !text.trim().is_empty() => Some(text.to_string()),
            _ => {
                let message = format!("`{}` in `[nats]` must be {what}", entry.name());
                reader.key_error(entry.name(), Some(entry.span()), message);
                None
            }
        };
        match entry.name() {
            "url" => nats.url = string(reader, "a server's address, like \"nats://host:4222\""),
            "run" => {
                nats.run = string(reader, "a run name").and_then(|run| {
                    if run
                        .chars()
                        .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
                    {
                        Some(run)
                    } else {
                        let message = format!("`run` in `[nats]` may hold only letters, digits, `-` and `_` (it names streams and subjects), not {run:?}");
                        reader.key_error("run", Some(entry.span()), message);
                        None
                    }
                })
            }
            "storage" => {
                nats.storage = match entry.as_str() {
                    Some("file") => Some(StreamStorage::File),
                    Some("memory") => Some(StreamStorage::Memory),
                    other => {
                        let help = did_you_mean(other.unwrap_or(""), ["file", "memory"])
                            .unwrap_or_else(|| "storage is \"file\" or \"memory\"".into());
                        let message = format!(
                            "unknown storage {} in `[nats]`",
                            reader.source(entry.span())
                        );
                        reader
                            .key_error("storage", Some(entry.span()), message)
                            .set_help(help);
                        None
                    }
                }
            }
            "user" => nats.user = string(reader, "a user name"),
            "password" | "token" => {
                // The value is not quoted back, not even in an error.
                let secret = match entry.as_str() {
                    Some(text) if !text.is_empty() => Some(SecretText::new(text)),
                    _ => {
                        let message = format!("`{}` in `[nats]` must be a string", entry.name());
                        reader.key_error(entry.name(), None, message);
                        None
                    }
                };
                if entry.name() == "password" {
                    nats.password = secret;
                } else {
                    nats.token = secret;
                }
            }
            "nkey" => {
                nats.nkey = string(reader, "the path of a file holding an NKey seed")
                    .map(|path| base.join(path))
            }
            "tls_cert" => {
                nats.tls_cert = string(reader, "the path of a client certificate")
                    .map(|path| base.join(path))
            }
            "tls_key" => {
                nats.tls_key =
                    string(reader, "the path of a client certificate's key").map(|path| base.join(path))
            }
            "credentials" => {
                nats.credentials = string(reader, "the path of a credentials file")
                    .map(|path| base.join(path))
            }
            "tls_ca" => {
                nats.tls_ca =
                    string(reader, "the path of a CA certificate").map(|path| base.join(path))
            }
            "stream_replicas" => {
                nats.stream_replicas = reader
                    .whole(entry, "1 or 3", 1, 5)
                    .and_then(|n| usize::try_from(n).ok())
            }
            "max_messages" => {
                nats.max_messages = reader.whole(entry, "a whole number of messages", 1, i64::MAX)
            }
            "max_bytes" => {
                nats.max_bytes =
                    reader.whole(entry, "a whole number of bytes", 1 << 20, i64::MAX)
            }
            "ack_wait_ms" => {
                nats.ack_wait = reader
                    .whole(entry, "a whole number of milliseconds", 100, 86_400_000)
                    .map(|ms| Duration::from_millis(ms as u64))
            }
            "max_deliver" => {
                nats.max_deliver = reader
                    .whole(entry, "a whole number of deliveries", 1, 1000)
                    .and_then(|n| u32::try_from(n).ok())
            }
            "max_ack_pending" => {
                nats.max_ack_pending =
                    reader.whole(entry, "a whole number of messages", 1, i64::MAX)
            }
            "window" => {
                nats.window = reader
                    .whole(entry, "a whole number of items", 1, 1 << 30)
                    .map(|n| n as u64)
            }
            other => {
                let message = format!(
                    "unknown key `{other}` in `[nats]` (keys: {})",
                    NATS_KEYS.join(", ")
                );
                let help = did_you_mean(other, NATS_KEYS.iter().copied());
                reader
                    .key_error(other, Some(entry.key_span()), message)
                    .set_maybe_help(help);
            }
        }
    }
}

/// `placement`: `"local"` (the default) or `"remote"`; a remote stage is
/// a parallel stage between the source and the sink (its replicas run on
/// workers, each item on whichever replica takes it).
pub(crate) fn read_placement(
    reader: &mut Reader<'_>,
    entry: Option<Entry<'_, '_>>,
    kind: OpKind,
    mode: ModeKind,
) -> Placement {
    let Some(entry) = entry else {
        return Placement::Local;
    };
    let placement = match entry.as_str() {
        Some("local") => return Placement::Local,
        Some("remote") => Placement::Remote,
        other => {
            let help = did_you_mean(other.unwrap_or(""), ["local", "remote"])
                .unwrap_or_else(|| "placement is \"local\" or \"remote\"".into());
            let message = format!("unknown placement {}", reader.source(entry.span()));
            reader
                .key_error("placement", Some(entry.span()), message)
                .set_help(help);
            return Placement::Local;
        }
    };
    if kind != OpKind::Transform {
        let message = format!(
            "a {kind} runs where the pipeline runs: only the stages between the source and the sink can be remote"
        );
        reader.key_error("placement", Some(entry.span()), message);
        return Placement::Local;
    }
    if mode != ModeKind::Parallel {
        let message = format!(
            "a remote stage runs as replicas on workers, each item on whichever takes it, so it must be parallel; this stage is {}",
            mode.as_str()
        );
        reader
            .key_error("placement", Some(entry.span()), message)
            .set_help("set mode = \"parallel\", or keep the stage local");
        return Placement::Local;
    }
    placement
}

/// A run of consecutive remote stages: the driver publishes the items
/// going into the first, and collects what comes out of the last.
///
/// # Examples
///
/// ```
/// let text = "[[stage]]\nop = \"range\"\nend = 3\n\n[[stage]]\nop = \"rename\"\nfields = { value = \"n\" }\nplacement = \"remote\"\n\n[[stage]]\nop = \"discard\"\n";
/// let built = baton_config::Plan::parse("p.toml".as_ref(), text).unwrap().build().unwrap();
/// let segments = built.remote_segments();
/// assert_eq!(segments[0].stages, ["rename"]);
/// assert_eq!(segments[0].next, None, "the sink comes next");
/// assert_eq!(segments[0].name(), "rename");
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct RemoteSegment {
    /// Its stages' names, in order.
    pub stages: Vec<String>,
    /// The local stage after it, or `None` when the sink comes next.
    pub next: Option<String>,
    /// Whether the stage after it takes a record at a time (the driver
    /// then hands it rows, an item each).
    pub rows_after: bool,
    /// What the driver does with an item that failed on every delivery:
    /// the first stage's `on_error` (`fail` stops the run, `skip` records
    /// it; a retry is the workers' own, up to `max_deliver`).
    pub on_error: OnError,
}

impl RemoteSegment {
    /// The name of the stage that stands for the segment in the driver's
    /// pipeline (and its live view and report): its stages' names joined
    /// with `+`.
    ///
    /// # Examples
    ///
    /// See [`RemoteSegment`].
    pub fn name(&self) -> String {
        self.stages.join("+")
    }
}

impl Built {
    /// The runs of consecutive remote stages, in order.
    ///
    /// # Examples
    ///
    /// See [`RemoteSegment`].
    pub fn remote_segments(&self) -> Vec<RemoteSegment> {
        let stages = &self.plan.stages;
        let mut segments: Vec<RemoteSegment> = Vec::new();
        let mut i = 0;
        while i < stages.len() {
            if stages[i].placement != Placement::Remote {
                i += 1;
                continue;
            }
            let start = i;
            while i < stages.len() && stages[i].placement == Placement::Remote {
                i += 1;
            }
            let next = stages.get(i).filter(|s| s.op.kind != OpKind::Sink);
            let rows_after =
                matches!(self.ops.get(i), Some(BuiltOp::Stage(s)) if !s.takes_records());
            segments.push(RemoteSegment {
                stages: stages[start..i].iter().map(|s| s.name.clone()).collect(),
                next: next.map(|s| s.name.clone()),
                rows_after,
                on_error: match stages[start].on_error {
                    OnError::Skip => OnError::Skip,
                    _ => OnError::Fail,
                },
            });
        }
        segments
    }

    /// Checks that every remote stage can run on a worker: it is made of
    /// replicas (not one of the engine's own operators, such as `take`).
    ///
    /// # Errors
    ///
    /// Every remote stage that cannot, located at its `placement`.
    ///
    /// # Examples
    ///
    /// ```
    /// let text = "[[stage]]\nop = \"range\"\nend = 3\n\n[[stage]]\nop = \"rename\"\nfields = { value = \"n\" }\nplacement = \"remote\"\n\n[[stage]]\nop = \"discard\"\n";
    /// let built = baton_config::Plan::parse("p.toml".as_ref(), text).unwrap().build().unwrap();
    /// assert!(built.check_remote().is_ok());
    /// ```
    pub fn check_remote(&self) -> Result<(), Diagnostics> {
        let mut problems = Vec::new();
        for (stage, op) in self.plan.stages.iter().zip(&self.ops) {
            if stage.placement != Placement::Remote {
                continue;
            }
            let ok = matches!(op, BuiltOp::Stage(built) if built.replica().is_ok());
            if !ok {
                problems.push(self.plan.stage_diagnostic(
                    stage,
                    Some("placement"),
                    "this op runs inside the driver's engine (it sees the whole stream), so it cannot be remote".into(),
                ));
            }
        }
        if problems.is_empty() {
            Ok(())
        } else {
            Err(Diagnostics(problems))
        }
    }

    /// Puts `stage` in place of `segment`'s stages: in the plan, one
    /// parallel, blocking stage named [`RemoteSegment::name`] with
    /// `replicas` replicas (each holds a chunk in flight to the workers),
    /// the segment's error policy, and a note saying where its stages run.
    ///
    /// # Panics
    ///
    /// If the segment is not one of [`Built::remote_segments`].
    ///
    /// # Examples
    ///
    /// ```
    /// use baton_ops::{BuiltStage, Item};
    /// let text = "[[stage]]\nop = \"range\"\nend = 3\n\n[[stage]]\nop = \"rename\"\nfields = { value = \"n\" }\nplacement = \"remote\"\n\n[[stage]]\nop = \"discard\"\n";
    /// let mut built = baton_config::Plan::parse("p.toml".as_ref(), text).unwrap().build().unwrap();
    /// let segment = built.remote_segments().remove(0);
    /// // A stand-in that does the segment's work here (the binary's publishes it).
    /// struct Renamed;
    /// impl baton_engine::Stage<Item, Item> for Renamed {
    ///     fn process(&mut self, mut item: Item, out: &mut Vec<Item>) -> Result<(), baton_engine::BoxError> {
    ///         let value = item.get("value").cloned().unwrap_or_default();
    ///         out.push(Item::with_field("n", value));
    ///         Ok(())
    ///     }
    /// }
    /// built.replace_segment(&segment, BuiltStage::replicas(|| Ok(Renamed)), 4);
    /// assert_eq!(built.plan.stages[1].name, "rename");
    /// assert_eq!(built.plan.stages[1].replicas, Some(4));
    /// let run = built.start(&Default::default()).unwrap();
    /// assert_eq!(run.handle.join().unwrap().stats.stages[0].items_out, 3);
    /// ```
    pub fn replace_segment(&mut self, segment: &RemoteSegment, stage: BuiltStage, replicas: usize) {
        let stages = &mut self.plan.stages;
        let start = stages
            .iter()
            .position(|s| Some(&s.name) == segment.stages.first())
            .expect("a segment of this plan");
        let end = start + segment.stages.len();
        let removed: Vec<PlannedStage> = stages.drain(start..end).collect();
        let first = &removed[0];
        let placed = PlannedStage {
            name: segment.name(),
            op: first.op,
            mode: ModeKind::Parallel,
            replicas: Some(replicas.max(1)),
            auto_replicas: false,
            blocking: true,
            buffer: first.buffer,
            auto_buffer: first.auto_buffer,
            fuse: first.fuse,
            on_error: segment.on_error,
            dead_letter: first.dead_letter.clone(),
            params: first.params.clone(),
            placement: Placement::Remote,
            notes: vec![format!(
                "runs on the workers of the distributed run ({}); each of these {} replicas here keeps a chunk in flight to them",
                segment.stages.join(", "),
                replicas.max(1)
            )],
            spans: first.spans.clone(),
        };
        stages.insert(start, placed);
        self.ops.drain(start..end);
        self.ops.insert(start, BuiltOp::Stage(stage));
    }
}

impl Plan {
    /// Builds only stage `name`, as a worker does: its replicas, and
    /// whether the stage after it takes a record at a time (its outputs
    /// then go on as rows). Nothing else of the pipeline is opened (a
    /// worker need not see the source's files).
    ///
    /// # Errors
    ///
    /// No stage of that name, a stage that is not remote, or one that
    /// could not be built: located in the file.
    ///
    /// # Examples
    ///
    /// ```
    /// use baton_ops::Item;
    /// let text = "[[stage]]\nop = \"csv\"\npath = \"not/here.csv\"\n\n[[stage]]\nop = \"rename\"\nfields = { a = \"b\" }\nplacement = \"remote\"\n\n[[stage]]\nop = \"discard\"\n";
    /// let plan = baton_config::Plan::parse("p.toml".as_ref(), text).unwrap();
    /// let rename = plan.build_stage("rename").unwrap();
    /// let mut out = Vec::new();
    /// rename.replica().unwrap().process(Item::with_field("a", 1), &mut out).unwrap();
    /// assert_eq!(out, [Item::with_field("b", 1)]);
    /// assert!(plan.build_stage("discard").unwrap_err().to_string().contains("not remote"));
    /// ```
    pub fn build_stage(&self, name: &str) -> Result<BuiltStage, Diagnostics> {
        let Some(index) = self.stages.iter().position(|s| s.name == name) else {
            let names: Vec<&str> = self.stages.iter().map(|s| s.name.as_str()).collect();
            let help = did_you_mean(name, names.iter().copied()).unwrap_or_default();
            return Err(Diagnostics(vec![crate::Diagnostic::new(
                &self.file,
                "",
                None,
                format!(
                    "no stage is named `{name}` (stages: {}) {help}",
                    names.join(", ")
                )
                .trim_end()
                .to_string(),
            )]));
        };
        let stage = &self.stages[index];
        if stage.placement != Placement::Remote {
            let message =
                "it is not remote: only stages with `placement = \"remote\"` run on workers"
                    .to_string();
            return Err(Diagnostics(vec![self.stage_diagnostic(
                stage,
                Some("placement"),
                message,
            )]));
        }
        let built = |stage: &PlannedStage| {
            (stage.op.build)(&stage.params).map_err(|e| {
                Diagnostics(vec![self.stage_diagnostic(
                    stage,
                    e.param.as_deref(),
                    e.message,
                )])
            })
        };
        let BuiltOp::Stage(op) = built(stage)? else {
            return Err(Diagnostics(vec![self.stage_diagnostic(
                stage,
                Some("placement"),
                "it is not a stage between the source and the sink".into(),
            )]));
        };
        if op.replica().is_err() {
            return Err(Diagnostics(vec![self.stage_diagnostic(
                stage,
                Some("placement"),
                "this op runs inside the driver's engine (it sees the whole stream), so it cannot be remote".into(),
            )]));
        }
        // A stage that takes a record at a time next: hand it rows.
        let next_wants_rows = match self.stages.get(index + 1) {
            Some(next) if next.op.kind == OpKind::Transform => {
                matches!(built(next), Ok(BuiltOp::Stage(n)) if !n.takes_records())
            }
            _ => false,
        };
        Ok(if next_wants_rows { op.into_rows() } else { op })
    }

    /// The stage after `name` in the plan, or `None` when the sink (or
    /// nothing) comes next: where a worker of `name` sends its outputs.
    ///
    /// # Examples
    ///
    /// ```
    /// let text = "[[stage]]\nop = \"range\"\nend = 3\n\n[[stage]]\nop = \"rename\"\nfields = { value = \"n\" }\nplacement = \"remote\"\n\n[[stage]]\nop = \"discard\"\n";
    /// let plan = baton_config::Plan::parse("p.toml".as_ref(), text).unwrap();
    /// assert_eq!(plan.next_stage("range").as_deref(), Some("rename"));
    /// assert_eq!(plan.next_stage("rename"), None);
    /// ```
    pub fn next_stage(&self, name: &str) -> Option<String> {
        let index = self.stages.iter().position(|s| s.name == name)?;
        self.stages
            .get(index + 1)
            .filter(|s| s.op.kind != OpKind::Sink)
            .map(|s| s.name.clone())
    }
}
