//! What a run reports: per-stage counters while it runs, and at the end a
//! report that names the bottleneck and the throughput bound it implies.

use std::fmt;
use std::time::Duration;

use crate::error::{DeadLetter, OnError};
use crate::mode::Mode;

/// Counters of one stage.
///
/// # Examples
///
/// ```
/// use baton_engine::{Mode, Pipeline};
/// let report = Pipeline::from_iter(0..100u32)
///     .stage("double", Mode::parallel(2))
///     .map(|x| x * 2)
///     .for_each(|_| {})
///     .unwrap();
/// let double = report.stage("double").unwrap();
/// assert_eq!(double.items_in, 100);
/// assert_eq!(double.items_out, 100);
/// ```
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct StageStats {
    /// The stage's name.
    pub name: String,
    /// How it runs.
    pub mode: Mode,
    /// Its error policy.
    pub on_error: OnError,
    /// Its replica limit now.
    pub replicas: usize,
    /// Replicas running an item now.
    pub active: usize,
    /// Items taken in.
    pub items_in: u64,
    /// Items given out.
    pub items_out: u64,
    /// Chunks run.
    pub chunks: u64,
    /// Time its replicas spent running, summed over replicas.
    pub busy: Duration,
    /// Replica time spent with nothing to do (sampled).
    pub waiting_for_input: Duration,
    /// Time the stage had work while the queue after it was full (sampled).
    pub blocked_on_output: Duration,
    /// Items waiting in its queue now.
    pub queued: usize,
    /// Items waiting in its queue, on average over the run.
    pub mean_queued: f64,
    /// Items that failed (errors and panics).
    pub errors: u64,
    /// Items skipped to the dead letters.
    pub skipped: u64,
    /// Retries made.
    pub retries: u64,
    /// Why the tuner chose `replicas`, for a [`crate::Mode::auto`] stage
    /// (`None` for the others).
    pub tuning: Option<String>,
    /// The most items queued in front now (`None`: unbounded).
    pub buffer: Option<usize>,
    /// Why the tuner chose `buffer`, for a stage whose queue it sizes
    /// ([`StageBuilder::buffer_auto`](crate::StageBuilder::buffer_auto); `None` for the others).
    pub buffer_tuning: Option<String>,
    /// The stage this one runs fused into, if any
    /// ([`StageBuilder::fuse`](crate::StageBuilder::fuse)): a replica of
    /// that stage carries each chunk through this one. Its counters and
    /// times are still its own; its replicas and `active` are those of the
    /// stage it runs in.
    pub fused_into: Option<String>,
}

/// Counters of the source.
///
/// # Examples
///
/// ```
/// use baton_engine::Pipeline;
/// let report = Pipeline::from_iter(0..10u8).for_each(|_| {}).unwrap();
/// assert_eq!(report.stats.source.items, 10);
/// ```
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct SourceStats {
    /// The source's name.
    pub name: String,
    /// The run's items: those the source made, or, after
    /// [`Pipeline::count_run_here`](crate::Pipeline::count_run_here), those
    /// leaving that stage (records parsed from the blocks the source read).
    pub items: u64,
    /// The items the source itself made, as
    /// [`Pipeline::count_by`](crate::Pipeline::count_by) counts them: equal
    /// to `items` unless the run is counted at a later stage.
    pub made: u64,
    /// Time spent making them.
    pub busy: Duration,
    /// Time it was held back by the in-flight bound (backpressure, sampled).
    pub blocked: Duration,
    /// Time it had nothing to give, waiting for its input: a stream whose
    /// items arrive slower than the run would take them. Counts, like
    /// `busy`, toward the source's bound.
    pub waiting_for_input: Duration,
    /// Whether it has ended.
    pub done: bool,
}

/// The state of a run at one moment.
///
/// # Examples
///
/// ```
/// use baton_engine::Pipeline;
/// let report = Pipeline::from_iter(0..10u8).for_each(|_| {}).unwrap();
/// assert_eq!(report.stats.stages.len(), 1); // the sink
/// assert!(report.stats.items_per_second() > 0.0);
/// ```
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct StatsSnapshot {
    /// Time since the start (to the end, for a finished run).
    pub elapsed: Duration,
    /// CPU worker threads.
    pub threads: usize,
    /// The source.
    pub source: SourceStats,
    /// Every stage after the source, in pipeline order (the sink last).
    pub stages: Vec<StageStats>,
    /// Items between source and sink now.
    pub items_in_flight: usize,
    /// Chunks between source and sink now.
    pub chunks_in_flight: usize,
    /// The memory budget and what the process held.
    pub memory: MemoryStats,
}

/// The memory budget of a run ([`Config::memory_budget`](crate::Config::memory_budget)) and what
/// the process held.
///
/// # Examples
///
/// ```
/// use baton_engine::{Config, Pipeline};
/// let report = Pipeline::from_iter(0..1000u64)
///     .config(Config::default().memory_budget(Some(1 << 40)))
///     .for_each(|_| {})
///     .unwrap();
/// assert_eq!(report.stats.memory.budget, Some(1 << 40));
/// assert!(report.stats.memory.lowered.is_none());
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct MemoryStats {
    /// The budget in bytes (`None`: no guard).
    pub budget: Option<u64>,
    /// The process's resident memory at the last look, in bytes (0 where
    /// the system does not tell).
    pub rss: u64,
    /// The most it held at any look.
    pub peak_rss: u64,
    /// The bound on items in flight now.
    pub max_in_flight: usize,
    /// Why that bound is lower than the one set, if the guard lowered it.
    pub lowered: Option<String>,
}

/// How fast one stage could go, given its busy time.
///
/// # Examples
///
/// ```
/// use baton_engine::{Mode, Pipeline};
/// let report = Pipeline::from_iter(0..1000u64)
///     .stage("slow", Mode::serial_in_order())
///     .map(|x| { std::thread::sleep(std::time::Duration::from_micros(50)); x })
///     .for_each(|_| {})
///     .unwrap();
/// let bounds = report.stats.bounds();
/// assert!(bounds.iter().any(|b| b.stage == "slow"));
/// ```
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct StageBound {
    /// The stage (or the source).
    pub stage: String,
    /// Source items per second the stage could keep up with, alone.
    pub items_per_s: f64,
    /// Share of its replicas' time it was busy.
    pub utilisation: f64,
    /// Replicas it could use at once (a CPU stage cannot use more than the threads).
    pub effective_replicas: usize,
}

/// What limits a run.
///
/// # Examples
///
/// See [`RunReport::bottleneck`].
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct Bottleneck {
    /// The stage with the lowest bound.
    pub stage: String,
    /// Its bound, in source items per second.
    pub bound_items_per_s: f64,
    /// The machine's bound: threads over the CPU time of all stages per item.
    pub machine_items_per_s: f64,
    /// Achieved throughput, source items per second.
    pub achieved_items_per_s: f64,
    /// What to change, in words.
    pub verdict: String,
}

impl StatsSnapshot {
    /// Source items per second so far.
    ///
    /// # Examples
    ///
    /// See [`StatsSnapshot`].
    pub fn items_per_second(&self) -> f64 {
        let secs = self.elapsed.as_secs_f64();
        if secs <= 0.0 {
            return 0.0;
        }
        self.source.items as f64 / secs
    }

    /// The bound of the source and of every stage, in source items per second.
    ///
    /// # Examples
    ///
    /// See [`StageBound`].
    pub fn bounds(&self) -> Vec<StageBound> {
        let items = self.source.items as f64;
        let elapsed = self.elapsed.as_secs_f64().max(1e-9);
        let bound = |stage: &str, busy: Duration, replicas: usize| {
            let busy = busy.as_secs_f64();
            StageBound {
                stage: stage.to_string(),
                items_per_s: if busy > 0.0 {
                    items * replicas as f64 / busy
                } else {
                    f64::INFINITY
                },
                utilisation: (busy / (elapsed * replicas as f64)).min(1.0),
                effective_replicas: replicas,
            }
        };
        let source_busy = self.source.busy + self.source.waiting_for_input;
        let mut bounds = vec![bound(&self.source.name, source_busy, 1)];
        for stage in &self.stages {
            let replicas = if stage.mode.is_blocking() {
                stage.replicas
            } else {
                stage.replicas.min(self.threads)
            }
            .max(1);
            bounds.push(bound(&stage.name, stage.busy, replicas));
        }
        bounds
    }

    /// The machine's bound: CPU threads over the CPU time per item of the
    /// source and every non-blocking stage.
    ///
    /// # Examples
    ///
    /// ```
    /// use baton_engine::{Mode, Pipeline};
    /// let report = Pipeline::from_iter(0..1000u64).map(Mode::parallel(2), |x| x + 1).for_each(|_| {}).unwrap();
    /// assert!(report.stats.machine_bound() > 0.0);
    /// ```
    pub fn machine_bound(&self) -> f64 {
        let cpu: f64 = self.source.busy.as_secs_f64()
            + self
                .stages
                .iter()
                .filter(|s| !s.mode.is_blocking())
                .map(|s| s.busy.as_secs_f64())
                .sum::<f64>();
        if cpu <= 0.0 {
            return f64::INFINITY;
        }
        self.threads as f64 * self.source.items as f64 / cpu
    }

    /// The stage that limits the run, with a verdict, once items have flowed.
    ///
    /// # Examples
    ///
    /// See [`RunReport::bottleneck`].
    pub fn bottleneck(&self) -> Option<Bottleneck> {
        if self.source.items == 0 {
            return None;
        }
        let bounds = self.bounds();
        let worst = bounds
            .iter()
            .min_by(|a, b| a.items_per_s.total_cmp(&b.items_per_s))?
            .clone();
        let machine = self.machine_bound();
        let achieved = self.items_per_second();
        let stage = self.stages.iter().find(|s| s.name == worst.stage);
        let waits_for_input = self.source.waiting_for_input > self.source.busy;
        let verdict = if stage.is_none() && waits_for_input {
            format!(
                "the source `{}` limits the run to about {} items/s: it waits for its input ({:.0}% \
                 of the run), and the run takes items as fast as they arrive; no change after the \
                 source makes it faster.",
                worst.stage,
                human(worst.items_per_s),
                100.0 * self.source.waiting_for_input.as_secs_f64()
                    / self.elapsed.as_secs_f64().max(1e-9)
            )
        } else if worst.items_per_s >= machine * 0.9 || worst.items_per_s.is_infinite() {
            format!(
                "the run is CPU-bound: {} threads would do at most {} items/s; no stage limits it alone. \
                 Make the stages cheaper or add cores.",
                self.threads,
                human(machine)
            )
        } else {
            let what = match stage {
                None => "the source: read faster (interleave several sources) or make its items cheaper".to_string(),
                Some(s) if s.mode.is_serial() => format!(
                    "it is serial ({}); make it parallel if its items are independent, or make it cheaper",
                    s.mode
                ),
                Some(s) if s.mode.is_blocking() => format!(
                    "it blocks with {} replicas; raise them (in flight = throughput x latency)",
                    s.replicas
                ),
                Some(s) if s.replicas < self.threads => {
                    format!("it has {} replicas for {} threads; raise its replicas", s.replicas, self.threads)
                }
                Some(_) => "make it cheaper, or mark it blocking if it waits on I/O".to_string(),
            };
            format!(
                "stage `{}` limits the run to about {} items/s (busy {:.0}% of its replicas' time): {}.",
                worst.stage,
                human(worst.items_per_s),
                worst.utilisation * 100.0,
                what
            )
        };
        // Whatever limits the run, a memory budget that held it back did
        // too: the stages were starved of items by it.
        let verdict = match &self.memory.lowered {
            Some(why) => format!(
                "{verdict} The memory budget held the run back: {why}; raise it (`memory_budget`) \
                 if the machine has room."
            ),
            None => verdict,
        };
        Some(Bottleneck {
            stage: worst.stage,
            bound_items_per_s: worst.items_per_s,
            machine_items_per_s: machine,
            achieved_items_per_s: achieved,
            verdict,
        })
    }
}

/// What a run would reach with some stages' replicas changed: a prediction
/// from [`StatsSnapshot::what_if`].
///
/// # Examples
///
/// See [`StatsSnapshot::what_if`].
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub struct WhatIf {
    /// Source items per second the run would reach.
    pub items_per_s: f64,
    /// What it reached as measured.
    pub measured_items_per_s: f64,
    /// What would limit it: a stage (`stage \`name\``), the source, or
    /// the cores.
    pub limited_by: String,
}

/// Reads as the CLI prints it: `about 1.20 M items/s (this run: 800.0 k);
/// the limit would be stage `decode``.
///
/// # Examples
///
/// ```
/// use baton_engine::{Mode, Pipeline};
/// let report = Pipeline::from_iter(0..20_000u64)
///     .stage("work", Mode::parallel(1))
///     .map(|v| v * 2)
///     .for_each(|_| {})
///     .unwrap();
/// let then = report.stats.what_if(&[("work", 2)]).unwrap();
/// assert!(then.to_string().starts_with("about "));
/// assert!(then.to_string().contains("items/s (this run: "));
/// ```
impl std::fmt::Display for WhatIf {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "about {} items/s (this run: {}); the limit would be {}",
            human(self.items_per_s),
            human(self.measured_items_per_s),
            self.limited_by
        )
    }
}

impl StatsSnapshot {
    /// Predicts the throughput with the replicas of some parallel stages
    /// set to new counts, from this run's measurements: every stage's bound
    /// ([`StatsSnapshot::bounds`]: replicas over its time per item) with the
    /// new counts, and the cores' ([`StatsSnapshot::machine_bound`]); the
    /// lowest is the limit, and the run reaches the share of it that it
    /// reaches of today's limit (the overhead of hand-offs and waits stays
    /// what it was). A stage's time per item is taken as measured: a
    /// blocking stage whose waits lengthen with more replicas (a server
    /// that slows under load) does better in the prediction than it will.
    ///
    /// # Errors
    ///
    /// A message when a name is no stage's, or names a serial stage, or the
    /// run has not moved items yet.
    ///
    /// # Examples
    ///
    /// ```
    /// use baton_engine::{Config, Mode, Pipeline};
    /// let report = Pipeline::from_iter(0..200u64)
    ///     .config(Config::default().threads(2))
    ///     .stage("fetch", Mode::parallel(2).blocking())
    ///     .map(|x| { std::thread::sleep(std::time::Duration::from_millis(1)); x })
    ///     .for_each(|_| {})
    ///     .unwrap();
    /// let faster = report.stats.what_if(&[("fetch", 8)]).unwrap();
    /// // Four times the replicas of the stage that limits the run: about
    /// // four times the items, the stage still the limit.
    /// assert!(faster.items_per_s > 3.0 * faster.measured_items_per_s);
    /// assert_eq!(faster.limited_by, "stage `fetch`");
    /// assert!(report.stats.what_if(&[("nope", 8)]).is_err());
    /// ```
    pub fn what_if(&self, replicas: &[(&str, usize)]) -> Result<WhatIf, String> {
        if self.source.items == 0 {
            return Err("the run has not moved any item yet: nothing to predict from".into());
        }
        let mut changed = self.clone();
        for &(name, count) in replicas {
            let stage = changed
                .stages
                .iter_mut()
                .find(|s| s.name == name)
                .ok_or_else(|| format!("no stage is named `{name}`"))?;
            if stage.mode.is_serial() {
                return Err(format!(
                    "stage `{name}` is {}: it has one replica",
                    stage.mode.kind()
                ));
            }
            stage.replicas = count.max(1);
        }
        let limit = |stats: &StatsSnapshot| {
            let machine = stats.machine_bound();
            let bounds = stats.bounds();
            let worst = bounds
                .iter()
                .enumerate()
                .min_by(|a, b| a.1.items_per_s.total_cmp(&b.1.items_per_s))
                .map(|(i, b)| (i, b.items_per_s))
                .unwrap_or((0, f64::INFINITY));
            match worst {
                (_, bound) if machine < bound => {
                    (machine, format!("the cores ({} threads)", stats.threads))
                }
                (0, bound) => (bound, "the source".to_string()),
                (i, bound) => (bound, format!("stage `{}`", stats.stages[i - 1].name)),
            }
        };
        let (now, _) = limit(self);
        let (then, limited_by) = limit(&changed);
        let measured = self.items_per_second();
        let share = if now.is_finite() && now > 0.0 {
            (measured / now).clamp(0.0, 1.0)
        } else {
            1.0
        };
        Ok(WhatIf {
            items_per_s: if then.is_finite() {
                then * share
            } else {
                measured
            },
            measured_items_per_s: measured,
            limited_by,
        })
    }
}

/// Formats a rate with a unit prefix.
fn human(rate: f64) -> String {
    if !rate.is_finite() {
        "unbounded".to_string()
    } else if rate >= 1e6 {
        format!("{:.2} M", rate / 1e6)
    } else if rate >= 1e3 {
        format!("{:.1} k", rate / 1e3)
    } else {
        format!("{rate:.1}")
    }
}

/// One stage's run of one chunk, for timelines (recorded when
/// [`Config::trace`](crate::Config::trace) is on).
///
/// # Examples
///
/// ```
/// use baton_engine::{Config, Mode, Pipeline};
/// let report = Pipeline::from_iter(0..100u32)
///     .config(Config::default().trace(true))
///     .map(Mode::parallel(2), |x| x + 1)
///     .for_each(|_| {})
///     .unwrap();
/// let spans = &report.trace;
/// assert_eq!(spans.iter().filter(|s| s.stage == 1).map(|s| s.items).sum::<usize>(), 100);
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct Span {
    /// 0 for the source, `i + 1` for the `i`-th stage after it.
    pub stage: usize,
    /// The replica (of that stage) that ran it.
    pub replica: u32,
    /// The chunk's index.
    pub chunk: u64,
    /// The sequence number of its first item.
    pub first_seq: u64,
    /// Items in the chunk.
    pub items: usize,
    /// When it started, from the run's start.
    pub start: Duration,
    /// How long it took.
    pub duration: Duration,
}

/// One stage in a [`Sample`].
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use baton_engine::{Config, Mode, Pipeline};
/// let report = Pipeline::from_iter(0..50u32)
///     .config(Config::default().sample_every(Duration::from_millis(1)))
///     .stage("nap", Mode::serial())
///     .map(|x| {
///         std::thread::sleep(Duration::from_millis(1));
///         x
///     })
///     .for_each(|_| {})
///     .unwrap();
/// assert!(!report.samples.is_empty());
/// for sample in &report.samples {
///     let nap = &sample.stages[0];
///     assert!(nap.active <= 1); // a serial stage has one replica
///     assert!(nap.items_out <= 50);
/// }
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct StageSample {
    /// Replicas running.
    pub active: usize,
    /// Replicas allowed (what the tuner chose, for a [`crate::Mode::auto`] stage).
    pub replicas: usize,
    /// Items queued in front.
    pub queued_items: usize,
    /// Items taken in so far.
    pub items_in: u64,
    /// Items given out so far.
    pub items_out: u64,
    /// Busy time so far, in ns.
    pub busy_ns: u64,
    /// The most items its queue could hold then (`None`: unbounded).
    pub buffer: Option<usize>,
}

/// The state of every stage at one moment, taken by the monitor.
///
/// # Examples
///
/// ```
/// use baton_engine::Pipeline;
/// let report = Pipeline::from_iter(0..10u8).for_each(|_| {}).unwrap();
/// for sample in &report.samples {
///     assert_eq!(sample.stages.len(), report.stats.stages.len());
/// }
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct Sample {
    /// When, from the run's start.
    pub at: Duration,
    /// Items made by the source so far.
    pub source_items: u64,
    /// Items in flight.
    pub in_flight: usize,
    /// The bound on items in flight then (lower than the user's while the
    /// memory guard holds the run back).
    pub max_in_flight: usize,
    /// The process's resident memory then, in bytes (0 where the system
    /// does not tell, or before the first look).
    pub rss_bytes: u64,
    /// Every stage, in order.
    pub stages: Vec<StageSample>,
}

/// What a finished run reports.
///
/// # Examples
///
/// ```
/// use baton_engine::{Mode, Pipeline};
/// let report = Pipeline::from_iter(0..2_000u64)
///     .stage("slow", Mode::serial_in_order())
///     .map(|x| { std::thread::sleep(std::time::Duration::from_micros(20)); x })
///     .stage("fast", Mode::parallel(2))
///     .map(|x| x + 1)
///     .for_each(|_| {})
///     .unwrap();
/// let bottleneck = report.bottleneck().unwrap();
/// assert_eq!(bottleneck.stage, "slow");
/// println!("{report}");
/// ```
#[derive(Debug)]
#[non_exhaustive]
pub struct RunReport {
    /// Counters at the end.
    pub stats: StatsSnapshot,
    /// Items skipped under `OnError::Skip`, with their errors, when no
    /// handler took them as they happened
    /// ([`Pipeline::on_dead_letter`](crate::Pipeline::on_dead_letter)); at
    /// most [`Config::keep_dead_letters`](crate::Config::keep_dead_letters).
    pub dead_letters: Vec<DeadLetter>,
    /// Skipped items past that bound: counted, not kept.
    pub dead_letters_not_kept: u64,
    /// Spans, when tracing was on, in start order.
    pub trace: Vec<Span>,
    /// 1 when every chunk's spans were kept; `n` when a long run's trace was
    /// thinned to the chunks whose index is a multiple of `n`, to stay
    /// within [`Config::max_trace_spans`](crate::Config::max_trace_spans).
    pub trace_thinning: u64,
    /// The monitor's samples over time.
    pub samples: Vec<Sample>,
}

impl RunReport {
    /// The counters of the stage named `name`.
    ///
    /// # Examples
    ///
    /// See [`StageStats`].
    pub fn stage(&self, name: &str) -> Option<&StageStats> {
        self.stats.stages.iter().find(|s| s.name == name)
    }

    /// What limits the run, with a verdict.
    ///
    /// # Examples
    ///
    /// See [`RunReport`].
    pub fn bottleneck(&self) -> Option<Bottleneck> {
        self.stats.bottleneck()
    }
}

/// A stage's mode as the summary shows it: with the replicas the tuner
/// chose last, for an auto stage, and the stage it runs fused into.
fn mode_now(stage: &StageStats) -> String {
    let mode = match stage.mode.is_auto() {
        true => stage
            .mode
            .to_string()
            .replace("(auto)", &format!("(auto: {})", stage.replicas)),
        false => stage.mode.to_string(),
    };
    match &stage.fused_into {
        Some(head) => format!("{mode}, fused into {head}"),
        None => mode,
    }
}

impl fmt::Display for RunReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let s = &self.stats;
        writeln!(
            f,
            "{} items in {:.3} s: {} items/s on {} threads",
            s.source.items,
            s.elapsed.as_secs_f64(),
            human(s.items_per_second()),
            s.threads
        )?;
        writeln!(
            f,
            "{:<16} {:<30} {:>10} {:>10} {:>8} {:>7} {:>12} {:>7}",
            "stage", "mode", "in", "out", "busy%", "queue", "bound/s", "errors"
        )?;
        let bounds = s.bounds();
        writeln!(
            f,
            "{:<16} {:<30} {:>10} {:>10} {:>7.0}% {:>7} {:>12} {:>7}",
            s.source.name,
            "source",
            "-",
            s.source.made,
            bounds[0].utilisation * 100.0,
            "-",
            human(bounds[0].items_per_s),
            "-"
        )?;
        for (stage, bound) in s.stages.iter().zip(&bounds[1..]) {
            writeln!(
                f,
                "{:<16} {:<30} {:>10} {:>10} {:>7.0}% {:>7.1} {:>12} {:>7}",
                stage.name,
                mode_now(stage),
                stage.items_in,
                stage.items_out,
                bound.utilisation * 100.0,
                stage.mean_queued,
                human(bound.items_per_s),
                stage.errors
            )?;
        }
        if let Some(bottleneck) = self.bottleneck() {
            writeln!(f, "bottleneck: {}", bottleneck.verdict)?;
        }
        let skipped: u64 = s.stages.iter().map(|stage| stage.skipped).sum();
        if skipped > 0 {
            writeln!(f, "{skipped} items skipped to the dead letters")?;
        }
        Ok(())
    }
}
