//! The run in numbers, as saved under the `"baton"` key of a trace file: all
//! the HTML report needs besides the spans, so a saved trace renders alone.

use baton_engine::{RunReport, Sample, StageSample};
use serde::{Deserialize, Serialize};

/// The version of the summary's layout, saved with it.
///
/// # Examples
///
/// ```
/// use baton_engine::Pipeline;
/// use baton_report::{RunSummary, SUMMARY_FORMAT};
/// let report = Pipeline::from_iter(0..10u32).for_each(|_| {}).unwrap();
/// assert_eq!(RunSummary::from_report("p", &report).format, SUMMARY_FORMAT);
/// ```
pub const SUMMARY_FORMAT: u32 = 1;

/// A finished run in numbers: counters, bounds, the bottleneck verdict and the
/// monitor's samples.
///
/// Rates that have no bound (a stage that took no time) are `None`: JSON has
/// no infinity.
///
/// [`from_report`](Self::from_report) keeps every number in a form JSON
/// carries exactly (15 significant digits or fewer where the full 17 would
/// not read back), so a saved summary reads back equal.
///
/// # Examples
///
/// ```
/// use baton_engine::{Mode, Pipeline};
/// use baton_report::RunSummary;
/// let report = Pipeline::from_iter(0..100u32)
///     .stage("double", Mode::parallel(2))
///     .map(|x| x * 2)
///     .for_each(|_| {})
///     .unwrap();
/// let summary = RunSummary::from_report("doubler", &report);
/// assert_eq!(summary.items, 100);
/// assert_eq!(summary.stages[0].name, "double");
/// assert_eq!(summary.stages[0].mode, "parallel(2)");
/// ```
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RunSummary {
    /// The layout version, [`SUMMARY_FORMAT`].
    pub format: u32,
    /// The pipeline's name, as given to [`TraceFile::from_report`](crate::TraceFile::from_report).
    pub pipeline: String,
    /// CPU worker threads.
    pub threads: usize,
    /// Seconds from the start to the end of the run.
    pub elapsed_s: f64,
    /// Items the source made.
    pub items: u64,
    /// Source items per second achieved.
    pub achieved_items_per_s: f64,
    /// The machine's bound: threads over the CPU time per item (`None`: no CPU time measured).
    pub machine_items_per_s: Option<f64>,
    /// The source.
    pub source: SourceSummary,
    /// Every stage after the source, in pipeline order (the sink last).
    pub stages: Vec<StageSummary>,
    /// What limits the run (`None` when no item flowed).
    pub bottleneck: Option<BottleneckSummary>,
    /// Items skipped to the dead letters.
    pub dead_letters: usize,
    /// Spans recorded (0 when tracing was off).
    pub spans: usize,
    /// 1 when every chunk's spans were recorded; `n` when a long run's
    /// trace kept only the chunks whose index is a multiple of `n`, to stay
    /// within its bound (`Config::max_trace_spans`).
    #[serde(default = "every_chunk")]
    pub span_thinning: u64,
    /// The monitor's samples, in time order.
    pub samples: Vec<SampleSummary>,
    /// The worker processes that ran remote stages (a distributed run;
    /// empty for a local one).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub workers: Vec<WorkerSummary>,
    /// The memory budget and what the process held.
    #[serde(default)]
    pub memory: MemorySummary,
}

/// The memory budget of a run and what the process held (see
/// `baton_engine::MemoryStats`).
///
/// # Examples
///
/// ```
/// use baton_engine::{Config, Pipeline};
/// use baton_report::RunSummary;
/// let report = Pipeline::from_iter(0..10u8)
///     .config(Config::default().memory_budget(Some(1 << 40)))
///     .for_each(|_| {})
///     .unwrap();
/// let memory = RunSummary::from_report("p", &report).memory;
/// assert_eq!(memory.budget_bytes, Some(1 << 40));
/// assert!(memory.held_back.is_none());
/// ```
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MemorySummary {
    /// The budget in bytes (`None`: no guard).
    pub budget_bytes: Option<u64>,
    /// The most the process held at any look, in bytes (0: not known here).
    pub peak_rss_bytes: u64,
    /// The bound on items in flight at the end.
    pub max_in_flight: usize,
    /// Why that bound is lower than the one set, if the budget held the
    /// run back.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub held_back: Option<String>,
}

/// A worker process of a distributed run, as it reported itself at the
/// run's end.
///
/// # Examples
///
/// ```
/// let worker = baton_report::WorkerSummary {
///     stage: "resize".into(),
///     serves: "resize".into(),
///     host: "node-2".into(),
///     pid: 4242,
///     replicas: 4,
///     items: 1000,
///     messages: 10,
///     retries: 0,
///     dead_letters: 0,
///     busy_s: 2.0,
///     stopped: false,
/// };
/// assert_eq!(worker.utilisation(4.0), 0.125);
/// ```
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WorkerSummary {
    /// The remote stage it served.
    pub stage: String,
    /// The run's stage that stands for the remote ones (their names
    /// joined with `+`).
    pub serves: String,
    /// The machine it ran on.
    pub host: String,
    /// Its process id there.
    pub pid: u32,
    /// Its replicas of the stage.
    pub replicas: usize,
    /// Items through its replicas.
    pub items: u64,
    /// Messages (chunks of items) it acknowledged.
    pub messages: u64,
    /// Messages it put back after a failure, for another try.
    pub retries: u64,
    /// Items it sent to the dead letters.
    pub dead_letters: u64,
    /// Seconds its replicas spent on items, added up.
    pub busy_s: f64,
    /// Whether it had stopped before the run ended.
    pub stopped: bool,
}

impl WorkerSummary {
    /// The share of its replicas' time over `elapsed_s` spent on items,
    /// 0 to 1.
    ///
    /// # Examples
    ///
    /// See [`WorkerSummary`].
    pub fn utilisation(&self, elapsed_s: f64) -> f64 {
        let capacity = elapsed_s * self.replicas.max(1) as f64;
        if capacity > 0.0 {
            (self.busy_s / capacity).clamp(0.0, 1.0)
        } else {
            0.0
        }
    }
}

/// Traces written before thinning existed kept every chunk.
fn every_chunk() -> u64 {
    1
}

/// The source of a run, in numbers.
///
/// # Examples
///
/// ```
/// use baton_engine::Pipeline;
/// use baton_report::RunSummary;
/// let report = Pipeline::from_iter(0..10u8).for_each(|_| {}).unwrap();
/// assert_eq!(RunSummary::from_report("p", &report).source.items, 10);
/// ```
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SourceSummary {
    /// Its name.
    pub name: String,
    /// The run's items (see `baton_engine::SourceStats::items`).
    pub items: u64,
    /// The items the source itself made, when the run's items are counted
    /// at a later stage (`None`: they are the source's).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub made: Option<u64>,
    /// Seconds spent making them.
    pub busy_s: f64,
    /// Seconds it was held back by the in-flight bound (backpressure, sampled).
    pub blocked_s: f64,
    /// Seconds it had nothing to give, waiting for its input (a slow stream).
    #[serde(default)]
    pub waiting_for_input_s: f64,
    /// Items per second it could make alone (`None`: unbounded).
    pub bound_items_per_s: Option<f64>,
    /// Share of the run it was busy, 0 to 1.
    pub utilisation: f64,
}

/// One stage of a run, in numbers.
///
/// # Examples
///
/// ```
/// use baton_engine::{Mode, Pipeline};
/// use baton_report::RunSummary;
/// let report = Pipeline::from_iter(0..10u8)
///     .stage("inc", Mode::serial_in_order()).map(|x| x + 1)
///     .for_each(|_| {}).unwrap();
/// let inc = &RunSummary::from_report("p", &report).stages[0];
/// assert_eq!((inc.items_in, inc.items_out), (10, 10));
/// assert_eq!(inc.mode, "serial_in_order");
/// ```
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StageSummary {
    /// Its name.
    pub name: String,
    /// How it ran, as `baton_engine::Mode` prints it (`serial_in_order`,
    /// `parallel(4) blocking`, ...).
    pub mode: String,
    /// Its replica limit at the end.
    pub replicas: usize,
    /// Items taken in.
    pub items_in: u64,
    /// Items given out.
    pub items_out: u64,
    /// Chunks run.
    pub chunks: u64,
    /// Seconds its replicas spent running, summed over replicas.
    pub busy_s: f64,
    /// Seconds of replica time with nothing to do, as a share of the stage (sampled).
    pub waiting_for_input_s: f64,
    /// Seconds it had work while the queue after it was full (sampled).
    pub blocked_on_output_s: f64,
    /// Items waiting in its queue, on average over the run.
    pub mean_queued: f64,
    /// Items that failed.
    pub errors: u64,
    /// Items skipped to the dead letters.
    pub skipped: u64,
    /// Retries made.
    pub retries: u64,
    /// Source items per second it could keep up with alone (`None`: unbounded).
    pub bound_items_per_s: Option<f64>,
    /// Share of its replicas' time it was busy, 0 to 1.
    pub utilisation: f64,
    /// Why the tuner chose its replicas (`replicas = "auto"` only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tuning: Option<String>,
    /// The most items queued in front of it at the end (`None`: unbounded).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub buffer: Option<usize>,
    /// Why the tuner chose that queue (`buffer = "auto"` only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub buffer_tuning: Option<String>,
    /// The stage it runs fused into, if any: that stage's replicas carry
    /// its chunks (its counters and times are its own).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fused_into: Option<String>,
}

/// What limits a run.
///
/// # Examples
///
/// ```
/// use baton_engine::{Mode, Pipeline};
/// use baton_report::RunSummary;
/// let report = Pipeline::from_iter(0..200u64)
///     .stage("slow", Mode::serial_in_order())
///     .map(|x| { std::thread::sleep(std::time::Duration::from_micros(200)); x })
///     .for_each(|_| {})
///     .unwrap();
/// let bottleneck = RunSummary::from_report("p", &report).bottleneck.unwrap();
/// assert_eq!(bottleneck.stage, "slow");
/// assert!(bottleneck.verdict.contains("slow"));
/// ```
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BottleneckSummary {
    /// The stage (or source) with the lowest bound.
    pub stage: String,
    /// Its bound, in source items per second (`None`: unbounded).
    pub bound_items_per_s: Option<f64>,
    /// What to change, in words.
    pub verdict: String,
}

/// The monitor's view of every stage at one moment.
///
/// # Examples
///
/// ```
/// use baton_engine::Pipeline;
/// use baton_report::RunSummary;
/// let report = Pipeline::from_iter(0..10u8).for_each(|_| {}).unwrap();
/// for sample in RunSummary::from_report("p", &report).samples {
///     assert_eq!(sample.stages.len(), 1); // the sink
/// }
/// ```
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SampleSummary {
    /// Seconds from the run's start.
    pub at_s: f64,
    /// Items made by the source so far.
    pub source_items: u64,
    /// Items in flight.
    pub in_flight: usize,
    /// The bound on items in flight then (lower than the one set while the
    /// memory budget holds the run back).
    #[serde(default)]
    pub max_in_flight: usize,
    /// The process's resident memory then, in bytes (0: not known).
    #[serde(default)]
    pub rss_bytes: u64,
    /// Every stage, in pipeline order.
    pub stages: Vec<StageSampleSummary>,
}

/// One stage in a [`SampleSummary`].
///
/// # Examples
///
/// ```
/// let sample = baton_report::StageSampleSummary { active: 1, replicas: 2, queued_items: 3, items_in: 10, items_out: 10, busy_ns: 5_000, buffer: 64 };
/// assert_eq!(sample.queued_items, 3);
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StageSampleSummary {
    /// Replicas running.
    pub active: usize,
    /// Replicas allowed then: what the tuner chose, for an auto stage (0
    /// in traces of older versions).
    #[serde(default)]
    pub replicas: usize,
    /// Items queued in front of it.
    pub queued_items: usize,
    /// Items taken in so far (absent in traces of older versions).
    #[serde(default)]
    pub items_in: u64,
    /// Items given out so far.
    pub items_out: u64,
    /// Busy time so far, summed over replicas, in nanoseconds.
    pub busy_ns: u64,
    /// The most items its queue could hold then (0: unbounded, or traces
    /// of older versions).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub buffer: usize,
}

fn is_zero(n: &usize) -> bool {
    *n == 0
}

impl RunSummary {
    /// Sums up `report` for the pipeline called `pipeline`.
    ///
    /// # Examples
    ///
    /// See [`RunSummary`].
    pub fn from_report(pipeline: &str, report: &RunReport) -> Self {
        let stats = &report.stats;
        let elapsed = exact_in_json(stats.elapsed.as_secs_f64());
        let bounds = stats.bounds();
        // `bounds()` lists the source first, then every stage in order.
        let source_bound = &bounds[0];
        let source = SourceSummary {
            name: stats.source.name.clone(),
            items: stats.source.items,
            made: (stats.source.made != stats.source.items).then_some(stats.source.made),
            busy_s: exact_in_json(stats.source.busy.as_secs_f64()),
            blocked_s: exact_in_json(stats.source.blocked.as_secs_f64()),
            waiting_for_input_s: exact_in_json(stats.source.waiting_for_input.as_secs_f64()),
            bound_items_per_s: finite(source_bound.items_per_s),
            utilisation: exact_in_json(source_bound.utilisation),
        };
        let stages = stats
            .stages
            .iter()
            .zip(&bounds[1..])
            .map(|(stage, bound)| StageSummary {
                name: stage.name.clone(),
                mode: stage.mode.to_string(),
                replicas: stage.replicas,
                items_in: stage.items_in,
                items_out: stage.items_out,
                chunks: stage.chunks,
                busy_s: exact_in_json(stage.busy.as_secs_f64()),
                waiting_for_input_s: exact_in_json(stage.waiting_for_input.as_secs_f64()),
                blocked_on_output_s: exact_in_json(stage.blocked_on_output.as_secs_f64()),
                mean_queued: exact_in_json(stage.mean_queued),
                errors: stage.errors,
                skipped: stage.skipped,
                retries: stage.retries,
                bound_items_per_s: finite(bound.items_per_s),
                utilisation: exact_in_json(bound.utilisation),
                tuning: stage.tuning.clone(),
                buffer: stage.buffer,
                buffer_tuning: stage.buffer_tuning.clone(),
                fused_into: stage.fused_into.clone(),
            })
            .collect();
        let bottleneck = stats.bottleneck().map(|b| BottleneckSummary {
            stage: b.stage,
            bound_items_per_s: finite(b.bound_items_per_s),
            verdict: b.verdict,
        });
        Self {
            format: SUMMARY_FORMAT,
            pipeline: pipeline.to_string(),
            threads: stats.threads,
            elapsed_s: elapsed,
            items: stats.source.items,
            achieved_items_per_s: exact_in_json(stats.items_per_second()),
            machine_items_per_s: finite(stats.machine_bound()),
            source,
            stages,
            bottleneck,
            dead_letters: stats.stages.iter().map(|s| s.skipped).sum::<u64>() as usize,
            spans: report.trace.len(),
            span_thinning: report.trace_thinning.max(1),
            workers: Vec::new(),
            memory: MemorySummary {
                budget_bytes: stats.memory.budget,
                peak_rss_bytes: stats.memory.peak_rss,
                max_in_flight: stats.memory.max_in_flight,
                held_back: stats.memory.lowered.clone(),
            },
            samples: report
                .samples
                .iter()
                .map(SampleSummary::from_sample)
                .collect(),
        }
    }

    /// The name of track `stage` in the trace: 0 is the source, `i + 1` the
    /// `i`-th stage.
    ///
    /// # Examples
    ///
    /// ```
    /// use baton_engine::{Mode, Pipeline};
    /// use baton_report::RunSummary;
    /// let report = Pipeline::from_iter(0..10u8)
    ///     .stage("inc", Mode::serial_in_order()).map(|x| x + 1)
    ///     .for_each(|_| {}).unwrap();
    /// let summary = RunSummary::from_report("p", &report);
    /// assert_eq!(summary.stage_name(1), Some("inc"));
    /// assert_eq!(summary.stage_name(0), Some(summary.source.name.as_str()));
    /// assert_eq!(summary.stage_name(9), None);
    /// ```
    pub fn stage_name(&self, stage: usize) -> Option<&str> {
        match stage {
            0 => Some(&self.source.name),
            i => self.stages.get(i - 1).map(|s| s.name.as_str()),
        }
    }

    /// The summed busy time of the source and every stage, in seconds: about
    /// how long the run would take with one item at a time and no overlap.
    ///
    /// # Examples
    ///
    /// ```
    /// use baton_engine::Pipeline;
    /// use baton_report::RunSummary;
    /// let report = Pipeline::from_iter(0..10u8).for_each(|_| {}).unwrap();
    /// assert!(RunSummary::from_report("p", &report).work_s() >= 0.0);
    /// ```
    pub fn work_s(&self) -> f64 {
        self.source.busy_s + self.stages.iter().map(|s| s.busy_s).sum::<f64>()
    }
}

impl SampleSummary {
    fn from_sample(sample: &Sample) -> Self {
        Self {
            at_s: exact_in_json(sample.at.as_secs_f64()),
            source_items: sample.source_items,
            in_flight: sample.in_flight,
            max_in_flight: sample.max_in_flight,
            rss_bytes: sample.rss_bytes,
            stages: sample
                .stages
                .iter()
                .map(StageSampleSummary::from_stage_sample)
                .collect(),
        }
    }
}

impl StageSampleSummary {
    fn from_stage_sample(sample: &StageSample) -> Self {
        Self {
            active: sample.active,
            replicas: sample.replicas,
            queued_items: sample.queued_items,
            items_in: sample.items_in,
            items_out: sample.items_out,
            busy_ns: sample.busy_ns,
            buffer: sample.buffer.unwrap_or(0),
        }
    }
}

/// `Some(rate)` for a finite rate (see [`exact_in_json`]), `None` for an
/// unbounded one.
fn finite(rate: f64) -> Option<f64> {
    rate.is_finite().then(|| exact_in_json(rate))
}

/// `number` itself if serde_json reads it back exactly, else the nearest
/// number with fewer significant digits (15 at most) that it does.
///
/// Why: serde_json's default float parser takes a number's digits as an
/// integer and multiplies or divides it by a power of ten in one `f64`
/// operation. That is exact when the integer is below 2^53 and the power at
/// most 10^22, but a number printed with 16 or 17 digits can come back one
/// unit in the last place off. Its `float_roundtrip` feature reads every `f64`
/// exactly, but cargo would turn it on for every crate in the build and slow
/// all their float parsing. Thirteen digits or more are kept for anything
/// from nanoseconds to 10^20, far finer than a run measures.
///
/// A number no shorter form helps (none of a run's: they lie beyond
/// 10^±200) is returned as it is.
fn exact_in_json(number: f64) -> f64 {
    let reads_back_as_itself = |candidate: f64| {
        let json = serde_json::to_string(&candidate).unwrap_or_default();
        serde_json::from_str::<f64>(&json).is_ok_and(|back| back == candidate)
    };
    if !number.is_finite() || reads_back_as_itself(number) {
        return number;
    }
    // `{:.n$e}` rounds to `n` digits after the leading one.
    (0..15)
        .rev()
        .filter_map(|decimals| format!("{number:.decimals$e}").parse().ok())
        .find(|&shorter| reads_back_as_itself(shorter))
        .unwrap_or(number)
}

#[cfg(test)]
mod tests {
    use baton_engine::{Config, Mode, Pipeline};

    use super::*;

    /// Writes `number` through serde_json and reads it back.
    fn through_json(number: f64) -> f64 {
        serde_json::from_str(&serde_json::to_string(&number).unwrap()).unwrap()
    }

    #[test]
    fn numbers_kept_for_json_read_back_exactly() {
        // Ratios that print with 17 digits, which serde_json's default
        // parser reads back one unit in the last place off.
        for ratio in [
            0.9026424723103839,
            1.1121502759364599,
            0.10590252925462347,
            9.912526243239235,
        ] {
            let kept = exact_in_json(ratio);
            assert_eq!(through_json(kept), kept, "{ratio} kept as {kept}");
            assert!(
                (kept - ratio).abs() <= ratio * 1e-14,
                "{ratio} kept as {kept}"
            );
        }
        // Every scale from a nanosecond (in seconds) to a rate far past any
        // run's: kept to 13 digits or more.
        let mut state: u64 = 0x9E37_79B9_7F4A_7C15;
        for _ in 0..200_000 {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            let digits = (state >> 11) as f64 / (1u64 << 53) as f64;
            let exponent = (state % 29) as i32 - 9;
            let number = (1.0 + 9.0 * digits) * 10f64.powi(exponent);
            let kept = exact_in_json(number);
            assert_eq!(through_json(kept), kept, "{number:e} kept as {kept:e}");
            assert_eq!(exact_in_json(kept), kept, "{number:e} kept as {kept:e}");
            assert!(
                (kept - number).abs() <= number * 1e-12,
                "{number:e} kept as {kept:e}"
            );
        }
        assert_eq!(exact_in_json(0.0), 0.0);
        assert_eq!(exact_in_json(-2.5), -2.5);
        assert!(exact_in_json(f64::NAN).is_nan());
    }

    #[test]
    fn a_summary_reads_back_equal() {
        let report = Pipeline::from_iter(0..200u64)
            .config(Config::default().threads(2).max_chunk(3))
            .stage("square", Mode::parallel(2))
            .map(|x| x * x)
            .stage("add", Mode::serial_in_order())
            .map(|x| x + 1)
            .for_each(|_| {})
            .unwrap();
        let summary = RunSummary::from_report("squares", &report);
        let json = serde_json::to_string(&summary).unwrap();
        assert_eq!(serde_json::from_str::<RunSummary>(&json).unwrap(), summary);
    }
}
