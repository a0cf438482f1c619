//! Workers' stats, where a driver can read them: one key per worker in the
//! run's key-value bucket, rewritten every quarter of a second and when it
//! stops (so what a driver reads is at most that old).

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use async_nats::jetstream::Context;
use futures::StreamExt;
use serde::{Deserialize, Serialize};
use tokio::sync::oneshot;

use crate::error::Error;
use crate::topology::Topology;
use crate::worker::Counters;

/// What a worker reports of itself.
///
/// # Examples
///
/// ```
/// let stats = baton_nats::WorkerStats::here("resize", 4);
/// assert_eq!(stats.pid, std::process::id());
/// assert_eq!(stats.items, 0);
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct WorkerStats {
    /// The stage it serves.
    pub stage: String,
    /// The machine's name.
    pub host: String,
    /// Its process id.
    pub pid: u32,
    /// How many replicas it runs.
    pub replicas: usize,
    /// Messages it acknowledged.
    pub messages: u64,
    /// Items through its replicas.
    pub items: u64,
    /// Items it sent to the dead-letter stream.
    pub dead_letters: u64,
    /// Messages it put back after a failure.
    pub retries: u64,
    /// Milliseconds its replicas spent working.
    pub busy_ms: u64,
    /// Whether it has stopped.
    pub stopped: bool,
}

impl WorkerStats {
    /// The stats of a worker in this process, all counters at zero.
    ///
    /// # Examples
    ///
    /// See [`WorkerStats`].
    pub fn here(stage: &str, replicas: usize) -> Self {
        let host = nix::unistd::gethostname()
            .ok()
            .and_then(|h| h.into_string().ok())
            .unwrap_or_else(|| "unknown".into());
        Self {
            stage: stage.to_string(),
            host,
            pid: std::process::id(),
            replicas,
            ..Self::default()
        }
    }

    /// Its key in the bucket: stage, host and pid.
    fn key(&self) -> String {
        let clean = |s: &str| {
            s.chars()
                .map(|c| {
                    if c.is_ascii_alphanumeric() || c == '-' {
                        c
                    } else {
                        '_'
                    }
                })
                .collect::<String>()
        };
        format!("{}.{}.{}", clean(&self.stage), clean(&self.host), self.pid)
    }
}

/// Reads the stats of every worker that served the run.
///
/// # Errors
///
/// [`Error::JetStream`] when the bucket is not there or cannot be read.
///
/// # Examples
///
/// ```no_run
/// # async fn run(js: async_nats::jetstream::Context) -> Result<(), baton_nats::Error> {
/// let run = baton_nats::Topology::new("nightly", Default::default())?;
/// for worker in baton_nats::worker_stats(&js, &run).await? {
///     println!("{} pid {}: {} items", worker.host, worker.pid, worker.items);
/// }
/// # Ok(()) }
/// ```
pub async fn worker_stats(js: &Context, topology: &Topology) -> Result<Vec<WorkerStats>, Error> {
    let bucket = js
        .get_key_value(topology.stats_bucket())
        .await
        .map_err(|e| Error::jetstream("the workers' stats bucket", e))?;
    let mut keys = bucket
        .keys()
        .await
        .map_err(|e| Error::jetstream("the workers' stats keys", e))?;
    let mut all = Vec::new();
    while let Some(key) = keys.next().await {
        let key = key.map_err(|e| Error::jetstream("the workers' stats keys", e))?;
        if let Ok(Some(value)) = bucket.get(key).await {
            if let Ok(stats) = serde_json::from_slice::<WorkerStats>(&value) {
                all.push(stats);
            }
        }
    }
    Ok(all)
}

/// Writes a worker's stats four times a second until stopped, then once more.
pub(crate) struct StatsReporter {
    stop: oneshot::Sender<()>,
    task: tokio::task::JoinHandle<()>,
}

impl StatsReporter {
    pub(crate) fn start(
        js: Context,
        topology: Topology,
        base: WorkerStats,
        counters: Arc<Counters>,
    ) -> Self {
        let (stop, mut stopped) = oneshot::channel();
        let task = tokio::spawn(async move {
            // Found at once when the driver made the run; looked for again
            // while it is not (a server coming back, say).
            let bucket = loop {
                tokio::select! {
                    found = js.get_key_value(topology.stats_bucket()) => {
                        if let Ok(bucket) = found {
                            break bucket;
                        }
                    }
                    _ = &mut stopped => return,
                }
                tokio::select! {
                    () = tokio::time::sleep(Duration::from_millis(250)) => {}
                    _ = &mut stopped => return,
                }
            };
            let snapshot = |stopped: bool| WorkerStats {
                messages: counters.messages.load(Ordering::Relaxed),
                items: counters.items.load(Ordering::Relaxed),
                dead_letters: counters.dead_letters.load(Ordering::Relaxed),
                retries: counters.retries.load(Ordering::Relaxed),
                busy_ms: counters.busy_ns.load(Ordering::Relaxed) / 1_000_000,
                stopped,
                ..base.clone()
            };
            let key = base.key();
            let mut tick = tokio::time::interval(Duration::from_millis(250));
            loop {
                tokio::select! {
                    _ = tick.tick() => {
                        if let Ok(value) = serde_json::to_vec(&snapshot(false)) {
                            let _ = bucket.put(&key, value.into()).await;
                        }
                    }
                    _ = &mut stopped => break,
                }
            }
            if let Ok(value) = serde_json::to_vec(&snapshot(true)) {
                let _ =
                    tokio::time::timeout(Duration::from_secs(2), bucket.put(&key, value.into()))
                        .await;
            }
        });
        Self { stop, task }
    }

    pub(crate) async fn stop(self) {
        let _ = self.stop.send(());
        let _ = self.task.await;
    }
}
