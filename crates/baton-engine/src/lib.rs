//! # baton-engine
//!
//! The engine of baton: it runs a pipeline of serial and parallel stages
//! over a stream of items on one machine, with the stages overlapped in
//! time, every core busy, memory bounded and nothing lost.
//!
//! ```
//! use baton_engine::{Mode, Pipeline};
//!
//! let total = Pipeline::from_iter(0..10_000u64)
//!     .stage("square", Mode::parallel(4)).map(|x| x * x)    // 4 replicas at once
//!     .stage("odd", Mode::parallel(4)).filter(|x| x % 2 == 1)
//!     .fold(0u64, |sum, x| sum + x)                          // serial, in source order
//!     .unwrap();
//! assert_eq!(total, (0..10_000u64).map(|x| x * x).filter(|x| x % 2 == 1).sum());
//! ```
//!
//! ## Semantics
//!
//! * **Order.** Every item carries the sequence number of its source item.
//!   Per-item stages never reorder the stream by themselves; in-order
//!   stages and sinks see items in source order whatever ran before them in
//!   parallel. Stages that combine items (`batch`, `shuffle`, `window`, a
//!   stateful serial stage) see arrival order unless `serial_in_order` (the
//!   default for them). See [`Mode`].
//! * **Overlap.** CPU worker threads (one per core by default) carry items
//!   through consecutive stages without hand-offs; queues exist only where
//!   an item must wait (a busy serial stage, a reorder gap, a blocking stage).
//!   Items move in chunks sized automatically so the engine's own cost per
//!   item is a few nanoseconds.
//! * **Bounded memory.** A bound on items (and chunks) in flight between the
//!   source and the sink; a fast source waits (backpressure). See [`Config`].
//! * **Blocking stages.** A stage marked [`Mode::blocking`] runs on threads
//!   of its own, one per replica, so waiting on I/O never takes a core. As
//!   the first stage, its threads read the source themselves, and only as
//!   many keep going as the stages after it can keep up with: the replica
//!   count is a ceiling, not a number of threads always awake.
//! * **Streaming input.** [`Pipeline::from_stream`] reads input that
//!   arrives at its own pace (stdin, a socket) on a thread of its own: an
//!   item goes on when its chunk fills or after [`Config::linger`], and a
//!   stop ends the run even while a read waits.
//! * **Errors.** Per stage, [`OnError`]: fail fast (the first error, with the
//!   stage's name and the item's sequence number, after every item before
//!   it and none after it), skip to the dead letters, or retry with backoff. A panic in user code is an error like any other.
//!   Dead letters go to [`Pipeline::on_dead_letter`]'s handler as they
//!   happen, or are kept (up to a bound) for the report. A stage that waits
//!   on the outside world watches its [`Cancellation`] (from
//!   [`Stage::open`]), so an abort never waits for it.
//! * **Control.** [`RunHandle`] and [`PipelineHandle`] stop (drain) or abort
//!   a run, read its [`StatsSnapshot`], and change a stage's replicas while
//!   it runs. Dropping a running pipeline aborts it.
//! * **Report.** [`RunReport`] names the bottleneck stage and the throughput
//!   bound it implies.

#![forbid(unsafe_code)]
#![warn(missing_docs, missing_debug_implementations)]

mod chunk;
mod chunk_floor;
mod config;
mod context;
mod dead_letters;
mod error;
mod executor;
mod handle;
mod mode;
mod off_thread;
mod ops;
mod pipeline;
mod source;
mod stage;
mod stats;
mod stream;

pub use chunk_floor::ChunkFloor;
pub use config::Config;
pub use context::{Cancellation, ReplicaContext};
pub use error::{BoxError, DeadLetter, OnError, PipelineError, StageFailure};
pub use handle::{PipelineHandle, PipelineIter, RunHandle};
pub use mode::{Mode, ModeKind};
pub use off_thread::{OffThreadCpu, ProcessCpu};
pub use ops::chunked::{ChunkOutputs, FailedPart, ItemReport};
pub use ops::custom::{Sink, Stage};
pub use pipeline::{Pipeline, StageBuilder};
pub use source::Interleave;
pub use stats::{
    Bottleneck, MemoryStats, RunReport, Sample, SourceStats, Span, StageBound, StageSample,
    StageStats, StatsSnapshot, WhatIf,
};

/// The README's examples, compiled and run as doc tests so they cannot rot.
#[cfg(doctest)]
#[doc = include_str!("../../../README.md")]
pub struct ReadmeDoctests;
