//! What can go wrong, by layer: the wire format, the connection, and the
//! run on top of them.

use std::time::Duration;

/// A boxed error from the NATS client, kept as the source of ours.
pub type ClientError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// A chunk that could not be encoded or decoded.
///
/// # Examples
///
/// ```
/// use baton_nats::{wire, WireError};
/// assert!(matches!(wire::decode(&[]), Err(WireError::Empty)));
/// ```
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum WireError {
    /// The body is empty.
    #[error("an empty message is not a chunk of items")]
    Empty,
    /// The body was written by another version of the format.
    #[error("a chunk of format version {0}, this baton reads version 1 (run the same baton on the driver and the workers)")]
    Version(u8),
    /// The envelope could not be written.
    #[error("cannot encode a chunk: {0}")]
    Encode(#[source] postcard::Error),
    /// The envelope could not be read.
    #[error("cannot decode a chunk: {0}")]
    Decode(#[source] postcard::Error),
    /// An item with no binary form, or bytes that are not an item.
    #[error("{0}")]
    Item(#[from] baton_ops::binary::BinaryError),
    /// One entry is larger than a message may be.
    #[error("the item of sequence number {seq} takes {bytes} bytes on the wire, more than a message may ({max_bytes}): raise the server's max_payload (up to 64 MiB)")]
    EntryTooLarge {
        /// Its sequence number.
        seq: u64,
        /// Its size.
        bytes: usize,
        /// The most a message may take.
        max_bytes: usize,
    },
}

/// The server could not be reached or refused us.
///
/// The messages name the server's address without any user name or
/// password in it; secrets never appear.
///
/// # Examples
///
/// ```
/// use baton_nats::ConnectError;
/// let error = ConnectError::Refused { url: "nats://db:4222".into() };
/// assert!(error.to_string().contains("wrong user, password, token or key"));
/// ```
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConnectError {
    /// No answer within the connect timeout.
    #[error("no NATS server answered at {url} within {} s", after.as_secs_f32())]
    TimedOut {
        /// The server's address (without credentials).
        url: String,
        /// How long we waited.
        after: Duration,
    },
    /// The server is not there (refused, unknown host, ...).
    #[error("cannot reach a NATS server at {url}: {reason}")]
    Unreachable {
        /// The server's address (without credentials).
        url: String,
        /// Why, as the client says.
        reason: String,
    },
    /// The server refused our credentials.
    #[error("the NATS server at {url} refused the connection: wrong user, password, token or key")]
    Refused {
        /// The server's address (without credentials).
        url: String,
    },
    /// TLS could not be set up.
    #[error("TLS with the NATS server at {url}: {reason}")]
    Tls {
        /// The server's address (without credentials).
        url: String,
        /// Why.
        reason: String,
    },
    /// A credentials file could not be read.
    #[error("cannot read the NATS credentials file {path}: {source}")]
    Credentials {
        /// The file.
        path: std::path::PathBuf,
        /// Why.
        source: std::io::Error,
    },
}

/// An error of a distributed run.
///
/// # Examples
///
/// ```
/// let error = baton_nats::Error::LeftoverRun { run: "nightly".into(), stream: "BATON_nightly_S_resize".into(), messages: 12 };
/// assert!(error.to_string().contains("earlier run"));
/// ```
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The connection failed.
    #[error(transparent)]
    Connect(#[from] ConnectError),
    /// A chunk could not be encoded or decoded.
    #[error(transparent)]
    Wire(#[from] WireError),
    /// A name that cannot be a run's name.
    #[error("`{0}` cannot name a run: use letters, digits, `-` and `_`")]
    BadRunName(String),
    /// A stream of this run is left from an earlier run.
    #[error("stream {stream} of run `{run}` is left from an earlier run ({messages} messages in it): use another run name, or replace or resume it")]
    LeftoverRun {
        /// The run.
        run: String,
        /// The stream.
        stream: String,
        /// How many messages it still holds.
        messages: u64,
    },
    /// The server could not create, find or change a stream or consumer.
    #[error("JetStream {what}: {source}")]
    JetStream {
        /// What we were doing.
        what: String,
        /// The client's error.
        #[source]
        source: ClientError,
    },
    /// A publish kept failing.
    #[error("cannot publish to {subject}: {source}")]
    Publish {
        /// Where to.
        subject: String,
        /// The client's error.
        #[source]
        source: ClientError,
    },
    /// A stage's replica could not be made.
    #[error("stage `{stage}`: cannot make a replica: {error}")]
    Replica {
        /// The stage.
        stage: String,
        /// Why.
        error: baton_engine::BoxError,
    },
    /// The run was stopped before it ended.
    #[error("the run was stopped")]
    Stopped,
    /// The feeder of a hop went away before it finished: the collector
    /// cannot know how many items to wait for.
    #[error("the feeder stopped before it finished: the hop cannot tell when it is over")]
    FeederGone,
}

impl Error {
    pub(crate) fn jetstream(what: impl Into<String>, source: impl Into<ClientError>) -> Self {
        Error::JetStream {
            what: what.into(),
            source: source.into(),
        }
    }
}
