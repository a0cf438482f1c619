//! Publishing chunks to a boundary: every chunk with its de-duplication id,
//! every publish ack awaited, a full stream waited out.
//!
//! JetStream answers each publish with an ack once the message is stored
//! (on a majority of a replicated stream's nodes). A publisher that does
//! not wait for it cannot know the stream was full ("discard new") or the
//! node was gone, and would lose the message; so every ack is awaited, and
//! a refused publish is retried, with the same message id, until it is
//! stored. The same id makes a retry harmless: the server drops a second
//! copy of an id it has seen within its duplicate window.

use std::time::Duration;

use async_nats::jetstream::context::{PublishAckFuture, PublishErrorKind};
use async_nats::jetstream::message::PublishMessage;
use async_nats::jetstream::Context;
use bytes::Bytes;

use crate::error::Error;
use crate::topology::{Boundary, Topology};
use crate::wire::EncodedChunk;

/// How long a publish may keep failing for another reason than a full
/// stream (a server restarting, a cluster electing a leader) before the
/// run gives up.
const PATIENCE: Duration = Duration::from_secs(60);

/// Publishes chunks to the boundaries of one run.
#[derive(Clone, Debug)]
pub(crate) struct Publisher {
    js: Context,
    topology: Topology,
}

/// The header that carries a run's epoch (see [`Topology::epoch`]).
pub(crate) const EPOCH_HEADER: &str = "Baton-Epoch";

/// The epoch a message carries (empty when it has none).
pub(crate) fn epoch_of(message: &async_nats::jetstream::Message) -> &str {
    message
        .headers
        .as_ref()
        .and_then(|headers| headers.get(EPOCH_HEADER))
        .map_or("", |value| value.as_str())
}

/// The room a message's headers take (its id, its epoch, the status line).
const HEADER_ROOM: usize = 1024;

impl Publisher {
    pub(crate) fn new(js: Context, topology: Topology) -> Self {
        Self { js, topology }
    }

    /// The most bytes a chunk's body may take: the server's `max_payload`
    /// less room for the headers.
    pub(crate) fn max_body(&self) -> usize {
        self.js
            .client()
            .server_info()
            .max_payload
            .saturating_sub(HEADER_ROOM)
            .max(HEADER_ROOM)
    }

    /// The most bytes one pull of the driver's collector may bring: enough for a
    /// message of the largest size, else 16 MiB. A pull bounded only by
    /// its count of messages lets the server push more than the 64 MiB
    /// it buffers for a client, and it then cuts the client off as a slow
    /// consumer, losing what was on the way until the ack wait ends.
    pub(crate) fn pull_bytes(&self) -> usize {
        (self.max_body() + HEADER_ROOM).max(16 << 20)
    }

    /// Publishes a chunk to a subject with an id and the run's epoch,
    /// sending it and returning the future of its ack.
    async fn send(
        &self,
        subject: &str,
        id: &str,
        epoch: &str,
        body: Bytes,
    ) -> Result<PublishAckFuture, async_nats::jetstream::context::PublishError> {
        let mut message = PublishMessage::build().payload(body).message_id(id);
        if !epoch.is_empty() {
            message = message.header(EPOCH_HEADER, epoch);
        }
        self.js.send_publish(subject.to_string(), message).await
    }

    /// Publishes chunks to a boundary, all sent before any ack is awaited,
    /// and returns once every one is stored.
    /// Each message's id carries the run's `epoch`, so that what a worker
    /// of a replaced run publishes late never takes the id of this run's
    /// message (the server would drop the real one as its duplicate).
    pub(crate) async fn chunks(
        &self,
        boundary: &Boundary,
        chunks: Vec<EncodedChunk>,
        epoch: &str,
    ) -> Result<(), Error> {
        let subject = self.topology.subject(boundary);
        let ids: Vec<String> = chunks
            .iter()
            .map(|c| {
                with_epoch(
                    self.topology
                        .message_id(boundary, c.first_seq, c.last_seq, c.entries),
                    epoch,
                )
            })
            .collect();
        let mut pending = Vec::with_capacity(chunks.len());
        for (chunk, id) in chunks.iter().zip(&ids) {
            pending.push(self.send(&subject, id, epoch, chunk.body.clone()).await);
        }
        for ((chunk, id), sent) in chunks.into_iter().zip(&ids).zip(pending) {
            let first = match sent {
                Ok(ack) => ack.await.map(drop),
                Err(error) => Err(error),
            };
            if let Err(error) = first {
                self.retry(&subject, id, epoch, chunk.body, error).await?;
            }
        }
        Ok(())
    }

    /// Publishes one message with an id (to which the run's `epoch` is
    /// added) and waits until it is stored.
    pub(crate) async fn one(
        &self,
        subject: &str,
        id: &str,
        epoch: &str,
        body: Bytes,
    ) -> Result<(), Error> {
        let id = with_epoch(id.to_string(), epoch);
        let first = match self.send(subject, &id, epoch, body.clone()).await {
            Ok(ack) => ack.await.map(drop),
            Err(error) => Err(error),
        };
        match first {
            Ok(()) => Ok(()),
            Err(error) => self.retry(subject, &id, epoch, body, error).await,
        }
    }

    /// Publishes again until stored: forever while the stream is full (the
    /// consumer downstream drains it), up to [`PATIENCE`] for other failures.
    async fn retry(
        &self,
        subject: &str,
        id: &str,
        epoch: &str,
        body: Bytes,
        mut error: async_nats::jetstream::context::PublishError,
    ) -> Result<(), Error> {
        let mut failing_since = tokio::time::Instant::now();
        let mut wait = Duration::from_millis(5);
        loop {
            if matches!(error.kind(), PublishErrorKind::MaxPayloadExceeded) {
                return Err(Error::Publish {
                    subject: subject.to_string(),
                    source: Box::new(error),
                });
            }
            if is_full(&error) {
                failing_since = tokio::time::Instant::now();
            } else if failing_since.elapsed() > PATIENCE {
                return Err(Error::Publish {
                    subject: subject.to_string(),
                    source: Box::new(error),
                });
            }
            tokio::time::sleep(wait).await;
            wait = (wait * 2).min(Duration::from_millis(250));
            let attempt = match self.send(subject, id, epoch, body.clone()).await {
                Ok(ack) => ack.await.map(drop),
                Err(error) => Err(error),
            };
            match attempt {
                Ok(()) => return Ok(()),
                Err(next) => error = next,
            }
        }
    }
}

/// Whether a publish was refused because the stream is full ("discard new").
fn is_full(error: &async_nats::jetstream::context::PublishError) -> bool {
    let text = error.to_string().to_lowercase();
    text.contains("maximum messages")
        || text.contains("maximum bytes")
        || text.contains("resources exceeded")
}

/// A message id with the run's epoch, when it has one.
fn with_epoch(id: String, epoch: &str) -> String {
    if epoch.is_empty() {
        id
    } else {
        format!("{id}@{epoch}")
    }
}
