//! The streams and consumers of a distributed run.
//!
//! Each **boundary** (the queue in front of a remote stage, and the one in
//! front of the driver's sink) is a JetStream stream with work-queue
//! retention: a message leaves it when it is acknowledged. Its limits are
//! bounded (`max_messages`, `max_bytes`) with "discard new": a publisher
//! to a full stream gets an error and waits and retries, so nothing is
//! dropped and memory stays bounded. All replicas of a stage, on every
//! worker, share one durable pull consumer with explicit acks; its
//! `max_ack_pending` bounds the messages out at workers at once, its
//! `ack_wait` bounds how long a lost worker's messages wait before they go
//! to another. A dead-letter stream per run keeps what failed on every
//! delivery.
//!
//! Every name carries the run's name, so runs that share a server never
//! mix: streams `BATON_<run>_S_<stage>`, `BATON_<run>_SINK`,
//! `BATON_<run>_DEAD`; subjects `baton.<run>.<stage>.in`,
//! `baton.<run>._sink.in`, `baton.<run>._dead.<stage>`. Names outside
//! `[A-Za-z0-9-]` are escaped (`_` and two hex digits per byte), so every
//! stage name is allowed and two names never meet.
//!
//! File storage syncs to disk every two minutes by default (the server's
//! `jetstream { sync_interval }`): a killed server keeps its data, a lost
//! machine may lose the last moments; set `sync_interval: always` on the
//! server, or use 3 replicas, where that matters.

use std::time::Duration;

use async_nats::jetstream::consumer::{pull, AckPolicy, DeliverPolicy, PullConsumer};
use async_nats::jetstream::stream::{self, DiscardPolicy, RetentionPolicy, StorageType};
use async_nats::jetstream::{self, Context};

use crate::error::Error;

/// The key of a run's epoch in its streams' metadata.
const EPOCH_KEY: &str = "baton_epoch";

/// An epoch no other making of a run's streams has had: the time in
/// nanoseconds and the process id, in hex.
fn new_epoch() -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    format!("{nanos:x}{:x}", std::process::id())
}

/// Where the messages of a run's streams are kept.
///
/// # Examples
///
/// ```
/// assert_eq!(baton_nats::Storage::default(), baton_nats::Storage::File);
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Storage {
    /// On disk: survives a restart of the server.
    #[default]
    File,
    /// In memory: faster, lost when the server stops.
    Memory,
}

/// What to do with a stream left from an earlier run of the same name (a
/// driver that crashed, or was killed, before it removed its streams).
///
/// # Examples
///
/// ```
/// assert_eq!(baton_nats::Leftover::default(), baton_nats::Leftover::Fail);
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Leftover {
    /// Stop with [`Error::LeftoverRun`], which names the stream: the safe
    /// default, since its messages (and its de-duplication memory, which
    /// would silently drop this run's messages of the same ids) belong to
    /// the other run.
    #[default]
    Fail,
    /// Delete the run's streams and start afresh.
    Replace,
    /// Keep them and go on where the earlier run stopped (the same run,
    /// restarted: its message ids are the same, so nothing is repeated).
    Resume,
}

/// The limits and timings of a run's streams and consumers.
///
/// The driver's settings make the streams and consumers; a worker takes
/// the ack wait and the poison threshold from the consumer it binds to,
/// so workers need not be told them.
///
/// The defaults suit a few workers on a LAN: a lost worker's messages go
/// elsewhere after `ack_wait` (4 s; workers send "in progress" for slow
/// items, so a slow item is not redelivered); an item failing on 5
/// deliveries goes to the dead-letter stream.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// let settings = baton_nats::Settings { ack_wait: Duration::from_secs(10), ..Default::default() };
/// assert_eq!(settings.replicas, 1);
/// ```
#[derive(Clone, Debug)]
pub struct Settings {
    /// File or memory.
    pub storage: Storage,
    /// Copies of each stream in a cluster: 1 or 3.
    pub replicas: usize,
    /// Most messages in a boundary's stream before publishers wait.
    pub max_messages: i64,
    /// Most bytes in a boundary's stream before publishers wait.
    pub max_bytes: i64,
    /// How long the server remembers a message id to drop a duplicate.
    pub duplicate_window: Duration,
    /// How long a delivered message waits for its ack before it goes to
    /// another replica.
    pub ack_wait: Duration,
    /// Deliveries of a message after which its failing items go to the
    /// dead-letter stream (the poison threshold).
    pub max_deliver: u32,
    /// Most messages out at a stage's replicas (all workers together).
    pub max_ack_pending: i64,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            storage: Storage::File,
            replicas: 1,
            max_messages: 1024,
            max_bytes: 256 << 20,
            duplicate_window: Duration::from_secs(120),
            ack_wait: Duration::from_secs(4),
            max_deliver: 5,
            max_ack_pending: 256,
        }
    }
}

/// A boundary: the stream in front of a remote stage, or the one in front
/// of the driver's sink.
///
/// # Examples
///
/// ```
/// use baton_nats::{Boundary, Topology};
/// let run = Topology::new("nightly", Default::default()).unwrap();
/// assert_eq!(run.subject(&Boundary::stage("resize")), "baton.nightly.resize.in");
/// assert_eq!(run.subject(&Boundary::Sink), "baton.nightly._sink.in");
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Boundary {
    /// The queue in front of the remote stage of this name.
    Stage(String),
    /// The queue in front of the driver's sink (the collector's).
    Sink,
}

impl Boundary {
    /// The boundary in front of a stage.
    ///
    /// # Examples
    ///
    /// See [`Boundary`].
    pub fn stage(name: impl Into<String>) -> Self {
        Boundary::Stage(name.into())
    }

    fn token(&self) -> String {
        match self {
            Boundary::Stage(name) => token(name),
            Boundary::Sink => "_sink".into(),
        }
    }

    fn stream_suffix(&self) -> String {
        match self {
            Boundary::Stage(name) => format!("S_{}", token(name)),
            Boundary::Sink => "SINK".into(),
        }
    }

    /// The durable consumer's name: all replicas of the stage share it.
    fn consumer(&self) -> &'static str {
        match self {
            Boundary::Stage(_) => "replicas",
            Boundary::Sink => "collector",
        }
    }
}

/// A run's names and settings: which streams, subjects and consumers it
/// uses, and how they are made.
///
/// # Examples
///
/// ```
/// use baton_nats::{Boundary, Topology};
/// let run = Topology::new("nightly", Default::default()).unwrap();
/// assert_eq!(run.stream(&Boundary::stage("resize")), "BATON_nightly_S_resize");
/// assert_eq!(run.stream(&Boundary::stage("csv.parse")), "BATON_nightly_S_csv_2eparse");
/// assert!(Topology::new("", Default::default()).is_err());
/// ```
#[derive(Clone, Debug)]
pub struct Topology {
    run: String,
    settings: Settings,
}

impl Topology {
    /// The topology of the run of this name.
    ///
    /// # Errors
    ///
    /// [`Error::BadRunName`] for an empty name or one of other characters
    /// than letters, digits, `-` and `_`.
    ///
    /// # Examples
    ///
    /// See [`Topology`].
    pub fn new(run: &str, settings: Settings) -> Result<Self, Error> {
        let fine = !run.is_empty()
            && run.len() <= 64
            && run
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
        if !fine {
            return Err(Error::BadRunName(run.to_string()));
        }
        Ok(Self {
            run: run.to_string(),
            settings,
        })
    }

    /// The run's name.
    ///
    /// # Examples
    ///
    /// ```
    /// let run = baton_nats::Topology::new("r1", Default::default()).unwrap();
    /// assert_eq!(run.run(), "r1");
    /// ```
    pub fn run(&self) -> &str {
        &self.run
    }

    /// The settings.
    ///
    /// # Examples
    ///
    /// ```
    /// let run = baton_nats::Topology::new("r1", Default::default()).unwrap();
    /// assert_eq!(run.settings().max_deliver, 5);
    /// ```
    pub fn settings(&self) -> &Settings {
        &self.settings
    }

    fn run_token(&self) -> String {
        token(&self.run)
    }

    /// The subject messages for a boundary are published to.
    ///
    /// # Examples
    ///
    /// See [`Boundary`].
    pub fn subject(&self, boundary: &Boundary) -> String {
        format!("baton.{}.{}.in", self.run_token(), boundary.token())
    }

    /// The stream of a boundary.
    ///
    /// # Examples
    ///
    /// See [`Topology`].
    pub fn stream(&self, boundary: &Boundary) -> String {
        format!("BATON_{}_{}", self.run_token(), boundary.stream_suffix())
    }

    /// The run's dead-letter stream.
    ///
    /// # Examples
    ///
    /// ```
    /// let run = baton_nats::Topology::new("r1", Default::default()).unwrap();
    /// assert_eq!(run.dead_letter_stream(), "BATON_r1_DEAD");
    /// ```
    pub fn dead_letter_stream(&self) -> String {
        format!("BATON_{}_DEAD", self.run_token())
    }

    /// The subject a stage's dead letters are published to.
    ///
    /// # Examples
    ///
    /// ```
    /// let run = baton_nats::Topology::new("r1", Default::default()).unwrap();
    /// assert_eq!(run.dead_letter_subject("resize"), "baton.r1._dead.resize");
    /// ```
    pub fn dead_letter_subject(&self, stage: &str) -> String {
        format!("baton.{}._dead.{}", self.run_token(), token(stage))
    }

    /// The key-value bucket workers report their stats in.
    ///
    /// # Examples
    ///
    /// ```
    /// let run = baton_nats::Topology::new("r1", Default::default()).unwrap();
    /// assert_eq!(run.stats_bucket(), "BATON_r1_WORKERS");
    /// ```
    pub fn stats_bucket(&self) -> String {
        format!("BATON_{}_WORKERS", self.run_token())
    }

    /// The de-duplication id of a chunk published to a boundary: the run,
    /// the boundary and the chunk's sequence numbers, and nothing of the
    /// attempt, so a chunk published again (a worker redoing a message
    /// whose ack it never sent) is dropped by the server.
    ///
    /// # Examples
    ///
    /// ```
    /// use baton_nats::{Boundary, Topology};
    /// let run = Topology::new("r1", Default::default()).unwrap();
    /// assert_eq!(run.message_id(&Boundary::Sink, 10, 19, 10), "r1.SINK.10-19.10");
    /// ```
    pub fn message_id(&self, boundary: &Boundary, first: u64, last: u64, entries: usize) -> String {
        format!(
            "{}.{}.{first}-{last}.{entries}",
            self.run_token(),
            boundary.stream_suffix()
        )
    }

    fn boundary_stream(&self, boundary: &Boundary, epoch: &str) -> stream::Config {
        stream::Config {
            metadata: [(EPOCH_KEY.to_string(), epoch.to_string())].into(),
            name: self.stream(boundary),
            subjects: vec![self.subject(boundary)],
            retention: RetentionPolicy::WorkQueue,
            discard: DiscardPolicy::New,
            max_messages: self.settings.max_messages,
            max_bytes: self.settings.max_bytes,
            storage: self.storage(),
            num_replicas: self.settings.replicas,
            duplicate_window: self.settings.duplicate_window,
            description: Some(format!("baton run `{}`: items to {boundary:?}", self.run)),
            ..Default::default()
        }
    }

    fn dead_letters(&self) -> stream::Config {
        stream::Config {
            name: self.dead_letter_stream(),
            subjects: vec![format!("baton.{}._dead.*", self.run_token())],
            retention: RetentionPolicy::Limits,
            storage: self.storage(),
            num_replicas: self.settings.replicas,
            duplicate_window: self.settings.duplicate_window,
            description: Some(format!("baton run `{}`: dead letters", self.run)),
            ..Default::default()
        }
    }

    fn storage(&self) -> StorageType {
        match self.settings.storage {
            Storage::File => StorageType::File,
            Storage::Memory => StorageType::Memory,
        }
    }

    fn consumer_config(&self, boundary: &Boundary) -> pull::Config {
        pull::Config {
            durable_name: Some(boundary.consumer().into()),
            ack_policy: AckPolicy::Explicit,
            deliver_policy: DeliverPolicy::All,
            ack_wait: self.settings.ack_wait,
            // Workers dead-letter a message themselves at `max_deliver`;
            // the server's own limit stays above it, so a worker that dies
            // while dead-lettering leaves the message to another instead
            // of stranding it in the work queue.
            max_deliver: i64::from(self.settings.max_deliver.max(1)) + DELIVERY_MARGIN,
            max_ack_pending: self.settings.max_ack_pending,
            num_replicas: 0,
            ..Default::default()
        }
    }

    /// Makes the run's streams, consumers and stats bucket (the driver does
    /// this before it publishes): one stream per boundary, in order, the
    /// dead-letter stream, and the stats bucket.
    ///
    /// # Errors
    ///
    /// [`Error::LeftoverRun`] when a stream of this run exists already and
    /// `leftover` is [`Leftover::Fail`]; [`Error::JetStream`] when the
    /// server refuses (no JetStream, too few nodes for the replicas, ...).
    ///
    /// # Examples
    ///
    /// ```no_run
    /// # async fn run(js: async_nats::jetstream::Context) -> Result<(), baton_nats::Error> {
    /// use baton_nats::{Boundary, Leftover, Topology};
    /// let run = Topology::new("nightly", Default::default())?;
    /// run.prepare(&js, &[Boundary::stage("resize"), Boundary::Sink], Leftover::Fail).await?;
    /// # Ok(()) }
    /// ```
    pub async fn prepare(
        &self,
        js: &Context,
        boundaries: &[Boundary],
        leftover: Leftover,
    ) -> Result<(), Error> {
        let mut names: Vec<String> = boundaries.iter().map(|b| self.stream(b)).collect();
        names.push(self.dead_letter_stream());
        // A run resumed keeps its epoch; any other gets a new one.
        let mut epoch = None;
        for name in &names {
            let existing = match js.get_stream(name).await {
                Ok(mut stream) => {
                    let info = stream
                        .info()
                        .await
                        .map_err(|e| Error::jetstream(format!("stream {name}"), e))?;
                    if leftover == Leftover::Resume && epoch.is_none() {
                        epoch = info.config.metadata.get(EPOCH_KEY).cloned();
                    }
                    Some(info.state.messages)
                }
                Err(error) if stream_missing(&error) => None,
                Err(error) => return Err(Error::jetstream(format!("stream {name}"), error)),
            };
            match (existing, leftover) {
                (None, _) | (Some(_), Leftover::Resume) => {}
                (Some(messages), Leftover::Fail) => {
                    return Err(Error::LeftoverRun {
                        run: self.run.clone(),
                        stream: name.clone(),
                        messages,
                    })
                }
                (Some(_), Leftover::Replace) => {
                    js.delete_stream(name)
                        .await
                        .map_err(|e| Error::jetstream(format!("deleting stream {name}"), e))?;
                }
            }
        }
        if leftover == Leftover::Replace {
            // The earlier run's workers are no stats of this one.
            let _ = js.delete_key_value(self.stats_bucket()).await;
        }
        // Made before the boundaries' consumers, which workers wait for:
        // a worker that finds its consumer finds these too.
        js.create_or_update_stream(self.dead_letters())
            .await
            .map_err(|e| Error::jetstream("creating the dead-letter stream", e))?;
        js.create_or_update_key_value(jetstream::kv::Config {
            bucket: self.stats_bucket(),
            history: 1,
            storage: self.storage(),
            num_replicas: self.settings.replicas,
            ..Default::default()
        })
        .await
        .map_err(|e| Error::jetstream("creating the workers' stats bucket", e))?;
        let epoch = epoch.unwrap_or_else(new_epoch);
        for boundary in boundaries {
            let config = self.boundary_stream(boundary, &epoch);
            let name = config.name.clone();
            let stream = js
                .create_or_update_stream(config)
                .await
                .map_err(|e| Error::jetstream(format!("creating stream {name}"), e))?;
            let _ = stream;
            let stream = js
                .get_stream(&name)
                .await
                .map_err(|e| Error::jetstream(format!("stream {name}"), e))?;
            stream
                .get_or_create_consumer::<pull::Config>(
                    boundary.consumer(),
                    self.consumer_config(boundary),
                )
                .await
                .map_err(|e| Error::jetstream(format!("consumer of {name}"), e))?;
        }
        Ok(())
    }

    /// The epoch of the run's streams: made anew each time a driver makes
    /// them (kept when it resumes them). Messages carry it, and a driver
    /// drops what comes with another: what a worker of a replaced run
    /// publishes late is not this run's. Empty for streams made without.
    ///
    /// # Errors
    ///
    /// [`Error::JetStream`] when the boundary's stream is not there.
    ///
    /// # Examples
    ///
    /// ```no_run
    /// # async fn run(js: async_nats::jetstream::Context) -> Result<(), baton_nats::Error> {
    /// use baton_nats::{Boundary, Leftover, Topology};
    /// let run = Topology::new("nightly", Default::default())?;
    /// run.prepare(&js, &[Boundary::Sink], Leftover::Replace).await?;
    /// let first = run.epoch(&js, &Boundary::Sink).await?;
    /// run.prepare(&js, &[Boundary::Sink], Leftover::Replace).await?;
    /// assert_ne!(run.epoch(&js, &Boundary::Sink).await?, first);
    /// # Ok(()) }
    /// ```
    pub async fn epoch(&self, js: &Context, boundary: &Boundary) -> Result<String, Error> {
        let name = self.stream(boundary);
        let mut stream = js
            .get_stream(&name)
            .await
            .map_err(|e| Error::jetstream(format!("stream {name}"), e))?;
        let info = stream
            .info()
            .await
            .map_err(|e| Error::jetstream(format!("stream {name}"), e))?;
        Ok(info
            .config
            .metadata
            .get(EPOCH_KEY)
            .cloned()
            .unwrap_or_default())
    }

    /// The durable consumer of a boundary, once the driver has made it:
    /// waits for it (a worker may start before the run), until `patience`
    /// has passed.
    ///
    /// # Errors
    ///
    /// [`Error::JetStream`] when the consumer is not there after `patience`
    /// or the server fails.
    ///
    /// # Examples
    ///
    /// ```no_run
    /// # async fn run(js: async_nats::jetstream::Context) -> Result<(), baton_nats::Error> {
    /// use std::time::Duration;
    /// use baton_nats::{Boundary, Topology};
    /// let run = Topology::new("nightly", Default::default())?;
    /// let consumer = run.consumer(&js, &Boundary::stage("resize"), Duration::from_secs(30)).await?;
    /// # Ok(()) }
    /// ```
    pub async fn consumer(
        &self,
        js: &Context,
        boundary: &Boundary,
        patience: Duration,
    ) -> Result<PullConsumer, Error> {
        let name = self.stream(boundary);
        let deadline = tokio::time::Instant::now() + patience;
        loop {
            let attempt = async {
                let stream = js
                    .get_stream(&name)
                    .await
                    .map_err(crate::error::ClientError::from)?;
                stream
                    .get_consumer::<pull::Config>(boundary.consumer())
                    .await
            };
            match attempt.await {
                Ok(consumer) => return Ok(consumer),
                Err(error) if tokio::time::Instant::now() >= deadline => {
                    return Err(Error::jetstream(
                        format!(
                            "consumer {} of stream {name} (is the run started?)",
                            boundary.consumer()
                        ),
                        error,
                    ))
                }
                Err(_) => tokio::time::sleep(Duration::from_millis(200)).await,
            }
        }
    }

    /// Deletes the run's streams and stats bucket (the driver does this at
    /// the end of a run; the dead letters go with them unless
    /// `keep_dead_letters`). Dead letters kept belong to this run: the next
    /// run of the same name finds them and must replace them (or take
    /// another name), since a new dead letter of the same item within the
    /// duplicate window would be dropped as theirs.
    ///
    /// # Errors
    ///
    /// [`Error::JetStream`] when the server fails; a stream already gone is fine.
    ///
    /// # Examples
    ///
    /// ```no_run
    /// # async fn run(js: async_nats::jetstream::Context) -> Result<(), baton_nats::Error> {
    /// use baton_nats::{Boundary, Topology};
    /// let run = Topology::new("nightly", Default::default())?;
    /// run.remove(&js, &[Boundary::stage("resize"), Boundary::Sink], true).await?;
    /// # Ok(()) }
    /// ```
    pub async fn remove(
        &self,
        js: &Context,
        boundaries: &[Boundary],
        keep_dead_letters: bool,
    ) -> Result<(), Error> {
        let mut names: Vec<String> = boundaries.iter().map(|b| self.stream(b)).collect();
        if !keep_dead_letters {
            names.push(self.dead_letter_stream());
        }
        names.push(format!("KV_{}", self.stats_bucket()));
        for name in names {
            match js.delete_stream(&name).await {
                Ok(_) => {}
                Err(error) if error.to_string().contains("not found") => {}
                Err(error) => {
                    return Err(Error::jetstream(format!("deleting stream {name}"), error))
                }
            }
        }
        Ok(())
    }
}

/// How many deliveries the server's limit keeps above the workers' poison
/// threshold (see `consumer_config`).
const DELIVERY_MARGIN: i64 = 3;

/// The workers' poison threshold, read back from a consumer's `max_deliver`.
pub(crate) fn poison_threshold(max_deliver: i64) -> u32 {
    u32::try_from(max_deliver - DELIVERY_MARGIN)
        .unwrap_or(u32::MAX)
        .max(1)
}

fn stream_missing(error: &async_nats::jetstream::context::GetStreamError) -> bool {
    use async_nats::jetstream::context::GetStreamErrorKind;
    use async_nats::jetstream::ErrorCode;
    matches!(error.kind(), GetStreamErrorKind::JetStream(e) if e.error_code() == ErrorCode::STREAM_NOT_FOUND)
}

/// A name as one token of a subject or stream name: `[A-Za-z0-9-]` kept,
/// every other byte as `_` and two hex digits (so distinct names stay
/// distinct, and the `_` between a stream name's parts is unambiguous).
fn token(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    for byte in name.bytes() {
        if byte.is_ascii_alphanumeric() || byte == b'-' {
            out.push(byte as char);
        } else {
            out.push_str(&format!("_{byte:02x}"));
        }
    }
    if out.is_empty() {
        out.push_str("_00");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_escaped_apart() {
        assert_eq!(token("a.b"), "a_2eb");
        assert_eq!(token("a_b"), "a_5fb");
        assert_ne!(token("a b"), token("a_b"));
        assert_eq!(token("été"), "_c3_a9t_c3_a9");
    }
}
