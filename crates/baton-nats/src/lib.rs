//! Distributed runs of baton pipelines on NATS JetStream: the transport
//! between the driver and the workers that serve remote stages.
//!
//! ```text
//!   driver                         NATS JetStream                        workers
//!  ┌────────┐  publish (msg id)  ┌─────────────────────┐  pull (shared   ┌──────────┐
//!  │ source │ ─────────────────▶ │ BATON_<run>_S_<st>  │ ──durable────▶  │ replicas │
//!  │ Feeder │   await acks       │ work queue, bounded │   consumer)     │ of <st>  │
//!  └────────┘                    └─────────────────────┘                 └────┬─────┘
//!       ▲ window                                          publish outputs,    │
//!  ┌────┴──────┐  pull, ack     ┌─────────────────────┐   await acks,       │
//!  │ Collector │ ◀───────────── │ BATON_<run>_SINK    │ ◀── then ack input ─┘
//!  │ → sink    │                └─────────────────────┘   (failures → BATON_<run>_DEAD)
//!  └───────────┘
//! ```
//!
//! * [`wire`]: a chunk of items with their sequence numbers, in a compact
//!   binary encoding (postcard; Arrow IPC for records; bytes raw).
//! * [`Topology`]: the run's streams, subjects and consumers, and their
//!   [`Settings`] (limits, ack wait, poison threshold, storage, replicas).
//! * [`serve`]: the worker, serving replicas of one stage.
//! * [`hop`]: the driver's [`Feeder`] and [`Collector`], which together
//!   account for every sequence number, so the driver knows when all items
//!   are back, and gives each exactly once.
//! * [`ConnectOptions`]: the server's address, credentials and TLS.
//!
//! # Guarantees
//!
//! At least once through the pipe (a worker acknowledges its input only
//! after its outputs are stored downstream), exactly once at the
//! collector: every chunk is published with a de-duplication id made of
//! the run, the boundary and its sequence numbers, and the collector drops
//! a sequence number it has already accounted for. An item is never
//! re-injected by publishing it again under a new or reused id: a message
//! not acknowledged is redelivered by JetStream itself, and a retried
//! publish carries the same id, which the server drops if it stored the
//! first. Memory stays bounded everywhere: the feeder runs at most a window
//! of sequence numbers ahead of the collector, streams are bounded and
//! make publishers wait when full, a worker fetches only as many messages
//! as it has idle replicas, and `max_ack_pending` bounds what all workers
//! of a stage hold at once. Items too big for one
//! message (the server's `max_payload`, 1 MiB by default, up to 64 MiB) are
//! refused with a clear error rather than cut: an item's outputs always
//! travel in one message, which is what lets the collector account for it.
//!
//! # Examples
//!
//! A worker and a driver in one program (in practice, on different
//! machines; the same binary, its role chosen by a flag):
//!
//! ```no_run
//! use std::sync::Arc;
//! use baton_engine::{BoxError, Stage};
//! use baton_nats::{hop, serve, Boundary, ConnectOptions, HopOptions, Leftover, Topology, WorkerSpec};
//! use baton_ops::Item;
//!
//! struct Double;
//! impl Stage<Item, Item> for Double {
//!     fn process(&mut self, mut item: Item, out: &mut Vec<Item>) -> Result<(), BoxError> {
//!         let n = item.get("n").and_then(|v| v.as_i64()).unwrap_or(0);
//!         item.set("n", n * 2);
//!         out.push(item);
//!         Ok(())
//!     }
//! }
//!
//! # async fn run() -> Result<(), baton_nats::Error> {
//! let client = ConnectOptions::new("nats://127.0.0.1:4222").connect().await?;
//! let js = baton_nats::jetstream(&client);
//! let run = Topology::new("example", Default::default())?;
//! let boundaries = [Boundary::stage("double"), Boundary::Sink];
//! run.prepare(&js, &boundaries, Leftover::Replace).await?;
//!
//! let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
//! let spec = WorkerSpec::new("double", Boundary::Sink, 2, Arc::new(|| Ok(Box::new(Double) as _)));
//! let worker = tokio::spawn({
//!     let (client, run) = (client.clone(), run.clone());
//!     async move { serve(&client, &run, spec, async { let _ = stopped.await; }).await }
//! });
//!
//! let (mut feeder, mut collector) =
//!     hop(&js, &run, Boundary::stage("double"), Boundary::Sink, HopOptions::default()).await?;
//! tokio::spawn(async move {
//!     for n in 0..100 {
//!         feeder.feed(Item::with_field("n", n)).await?;
//!     }
//!     feeder.finish().await
//! });
//! while let Some(entry) = collector.next().await {
//!     println!("{:?}", entry?);
//! }
//! let _ = stop.send(());
//! worker.await.expect("worker panicked")?;
//! run.remove(&js, &boundaries, false).await?;
//! # Ok(()) }
//! ```

#![warn(missing_docs, missing_debug_implementations)]
#![forbid(unsafe_code)]

mod connect;
mod driver;
mod error;
mod publish;
mod remote;
mod sizing;
mod stats;
mod topology;
pub mod wire;
mod worker;

pub use connect::{Auth, ConnectOptions, Secret, Tls};
pub use driver::{dead_letters, hop, jetstream, BlockingHop, Collector, Feeder, HopOptions, Order};
pub use error::{ClientError, ConnectError, Error, WireError};
pub use remote::Remote;
pub use stats::{worker_stats, WorkerStats};
pub use topology::{Boundary, Leftover, Settings, Storage, Topology};
pub use worker::{serve, MakeReplica, WorkerReport, WorkerSpec};
