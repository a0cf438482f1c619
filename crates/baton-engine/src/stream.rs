//! Streaming sources: input that arrives at its own pace (standard input,
//! a socket, a queue). A thread of their own reads them, so that a read
//! that waits never holds a CPU worker nor the run: a stop ends the run
//! whatever the read is doing. What has arrived goes on as a chunk once the
//! chunk is full or its first item has waited the pipeline's linger
//! ([`Config::linger`](crate::Config::linger)), like Kafka's `linger.ms`:
//! fast input fills whole chunks, slow input still flows within a bound.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::time::{Duration, Instant};

use crossbeam_channel::{bounded, Receiver, TryRecvError};

use crate::chunk::{ChunkData, SeqsBuilder};
use crate::error::{BoxError, ItemFailure, OnError, StageFailure};
use crate::source::{Produced, Source, SourceStart};
use crate::stage::StageContext;

/// Items read ahead of the stages, at most: the reader waits past it.
const READ_AHEAD: usize = 4_096;

/// The stream, until the run starts a thread to read it.
pub(crate) type Reader<T> = Box<dyn Iterator<Item = Result<T, BoxError>> + Send>;

/// A source read by a thread of its own (see the module's docs).
pub(crate) struct StreamSource<T> {
    reader: Option<Reader<T>>,
    arrived: Option<Receiver<Result<T, BoxError>>>,
    linger: Duration,
    held: Vec<T>,
    held_seqs: SeqsBuilder,
    /// When the first item held was taken from the reader.
    held_since: Option<Instant>,
}

impl<T: Send + 'static> StreamSource<T> {
    pub(crate) fn new(reader: Reader<T>) -> Self {
        Self {
            reader: Some(reader),
            arrived: None,
            linger: Duration::ZERO,
            held: Vec::new(),
            held_seqs: SeqsBuilder::with_capacity(0),
            held_since: None,
        }
    }

    /// Takes what has arrived, up to `max` held; returns whether the
    /// reader has ended (and everything it read has been taken).
    fn take_arrived(
        &mut self,
        max: usize,
        next_seq: &mut u64,
        ctx: &StageContext,
    ) -> Result<bool, ItemFailure> {
        let Some(arrived) = &self.arrived else {
            return Ok(true);
        };
        while self.held.len() < max {
            let next = match arrived.try_recv() {
                Ok(next) => next,
                Err(TryRecvError::Empty) => return Ok(false),
                Err(TryRecvError::Disconnected) => return Ok(true),
            };
            let seq = *next_seq;
            *next_seq += 1;
            match next {
                Ok(item) => {
                    self.held_since.get_or_insert_with(Instant::now);
                    self.held.push(item);
                    self.held_seqs.push(seq);
                }
                Err(error) if ctx.policy == OnError::Skip => {
                    if let Err(failure) = ctx.skip(seq, StageFailure::Error(error), None) {
                        return Err(self.with_held(failure));
                    }
                }
                Err(error) => {
                    let failure = ctx.fail(seq, StageFailure::Error(error));
                    return Err(self.with_held(failure));
                }
            }
        }
        Ok(false)
    }

    /// `failure`, with the items held before it, which still go on.
    fn with_held(&mut self, failure: ItemFailure) -> ItemFailure {
        self.held_since = None;
        let items = std::mem::take(&mut self.held);
        let seqs = std::mem::replace(&mut self.held_seqs, SeqsBuilder::with_capacity(0));
        failure.with_done(items, seqs.finish())
    }

    /// Hands over what is held.
    fn give(&mut self, ended: bool) -> Produced {
        self.held_since = None;
        let items = std::mem::take(&mut self.held);
        let seqs = std::mem::replace(&mut self.held_seqs, SeqsBuilder::with_capacity(0));
        Produced::Items(ChunkData::from_vec(items, seqs.finish()), ended)
    }
}

impl<T: Send + 'static> Source for StreamSource<T> {
    fn start(&mut self, start: SourceStart) -> std::io::Result<()> {
        let Some(mut reader) = self.reader.take() else {
            return Ok(());
        };
        let SourceStart { wake, linger } = start;
        self.linger = linger;
        let (arrivals, arrived) = bounded(READ_AHEAD);
        std::thread::Builder::new()
            .name("baton-stream-reader".into())
            .spawn(move || {
                loop {
                    // A panic in the stream ends it, as a failed item.
                    let (next, last) = match catch_unwind(AssertUnwindSafe(|| reader.next())) {
                        Ok(Some(next)) => (next, false),
                        Ok(None) => break,
                        Err(panic) => (
                            Err(StageFailure::from_panic(panic).to_string().into()),
                            true,
                        ),
                    };
                    // The run has ended when nobody takes items any more.
                    if arrivals.send(next).is_err() {
                        return;
                    }
                    // Whoever runs the source looks again before it parks,
                    // so only an item into an empty queue needs a wake-up.
                    if arrivals.len() <= 1 {
                        wake();
                    }
                    if last {
                        break;
                    }
                }
                drop(arrivals);
                wake();
            })?;
        self.arrived = Some(arrived);
        Ok(())
    }

    fn produce(
        &mut self,
        max: usize,
        next_seq: &mut u64,
        ctx: &StageContext,
    ) -> Result<Produced, ItemFailure> {
        let ended = self.take_arrived(max, next_seq, ctx)?;
        let Some(since) = self.held_since else {
            return Ok(if ended {
                Produced::Items(ChunkData::empty(), true)
            } else {
                Produced::Waiting(None)
            });
        };
        let due = since + self.linger;
        if ended || self.held.len() >= max || Instant::now() >= due {
            return Ok(self.give(ended));
        }
        Ok(Produced::Waiting(Some(due)))
    }

    fn drain(
        &mut self,
        max: usize,
        next_seq: &mut u64,
        ctx: &StageContext,
    ) -> Result<Produced, ItemFailure> {
        let ended = self.take_arrived(max, next_seq, ctx)?;
        // Done once nothing is left: what is still on its way is not read.
        let nothing_left = ended || self.held.len() < max;
        Ok(self.give(nothing_left))
    }
}
