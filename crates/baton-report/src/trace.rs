//! The trace file: Chrome's trace event format (JSON object form), which
//! Perfetto and `chrome://tracing` open, with baton's run summary under a key
//! of its own that those viewers ignore.

use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::path::Path;

use baton_engine::{RunReport, Span};
use serde::{Deserialize, Serialize};

use crate::error::ReportError;
use crate::summary::RunSummary;

mod micros;

/// The process id of every event: one run is one process in the viewers.
///
/// # Examples
///
/// ```
/// use baton_engine::{Config, Mode, Pipeline};
/// use baton_report::{TraceFile, PROCESS_ID};
/// let report = Pipeline::from_iter(0..10u32)
///     .config(Config::default().trace(true))
///     .stage("double", Mode::parallel(2)).map(|x| x * 2)
///     .for_each(|_| {})
///     .unwrap();
/// let trace = TraceFile::from_report("doubler", &report);
/// assert!(trace.trace_events.iter().all(|event| event.pid == PROCESS_ID));
/// ```
pub const PROCESS_ID: u32 = 1;

/// Tracks (thread ids) reserved for each stage: the track of replica `r` of
/// stage `s` is `s * TRACKS_PER_STAGE + r`.
///
/// # Examples
///
/// ```
/// use baton_report::{track_id, TRACKS_PER_STAGE};
/// assert_eq!(track_id(1, 0), TRACKS_PER_STAGE);
/// // Replicas past the reserve share the stage's last track.
/// assert_eq!(track_id(1, 5_000), 2 * TRACKS_PER_STAGE - 1);
/// ```
pub const TRACKS_PER_STAGE: u64 = 1000;

/// A run saved as a trace file.
///
/// On disk it is the JSON object form of Chrome's trace event format:
///
/// ```text
/// {"displayTimeUnit": "ms", "traceEvents": [...], "baton": {...}}
/// ```
///
/// * one complete (`"X"`) event per span: `name` is `item N` (or `items N–M`
///   for a chunk), `cat` the stage's name, `ts`/`dur` in microseconds from the
///   run's start (to the nanosecond: see [`TraceEvent::ts_ns`]), `pid`
///   [`PROCESS_ID`], `tid` the track of the stage replica (see [`track_id`])
///   and `args` `{first_seq, items, chunk}`;
/// * metadata (`"M"`) events naming the process and every track
///   (`thread_name` = `<stage> #<replica>`) and sorting the tracks in
///   pipeline order (`thread_sort_index`);
/// * `"baton"`: the [`RunSummary`], all the HTML report needs besides the spans.
///
/// The keys are written in that order on purpose: some Perfetto versions read
/// `displayTimeUnit` only near the start, and stop at the first key they do
/// not know, so `"baton"` comes after the events.
///
/// # Examples
///
/// ```
/// use baton_engine::{Config, Mode, Pipeline};
/// use baton_report::TraceFile;
/// let report = Pipeline::from_iter(0..20u32)
///     .config(Config::default().trace(true))
///     .stage("double", Mode::parallel(2)).map(|x| x * 2)
///     .for_each(|_| {})
///     .unwrap();
/// let trace = TraceFile::from_report("doubler", &report);
/// let dir = tempfile::tempdir().unwrap();
/// let path = dir.path().join("doubler.trace.json");
/// trace.write(&path).unwrap();
/// let back = TraceFile::read(&path).unwrap();
/// assert_eq!(back.baton.pipeline, "doubler");
/// assert_eq!(back.spans().filter(|s| s.stage == 1).map(|s| s.items).sum::<usize>(), 20);
/// ```
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TraceFile {
    /// How viewers show times: always `"ms"` (a display hint; `ts` and `dur`
    /// are microseconds whatever it says).
    #[serde(rename = "displayTimeUnit")]
    pub display_time_unit: String,
    /// The events, metadata first, then spans in start order.
    #[serde(rename = "traceEvents")]
    pub trace_events: Vec<TraceEvent>,
    /// The run in numbers.
    pub baton: RunSummary,
}

/// One event of a [`TraceFile`].
///
/// # Examples
///
/// ```
/// use baton_report::{EventArgs, Phase, TraceEvent};
/// let event = TraceEvent {
///     name: "item 7".into(),
///     cat: Some("fill".into()),
///     ph: Phase::Complete,
///     ts_ns: 250_001,
///     dur_ns: Some(2_000_000),
///     pid: 1,
///     tid: 1000,
///     args: EventArgs::Span { first_seq: 7, items: 1, chunk: 7 },
/// };
/// let json = serde_json::to_string(&event).unwrap();
/// assert!(json.contains(r#""ph":"X""#));
/// // In the file, microseconds; read back, the same nanoseconds.
/// assert!(json.contains(r#""ts":250.001,"dur":2000.0"#));
/// assert_eq!(serde_json::from_str::<TraceEvent>(&json).unwrap(), event);
/// ```
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TraceEvent {
    /// What the viewers print on the event.
    pub name: String,
    /// The category: the stage's name, for spans.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cat: Option<String>,
    /// The kind of event.
    pub ph: Phase,
    /// Start, in nanoseconds from the run's start.
    ///
    /// Written as `ts`, in microseconds with up to three fractional digits
    /// (`123456789.123`), and read back to the same nanosecond: exactly for
    /// times below 2^43 µs (about 101 days), the nearest nanosecond an `f64`
    /// holds past that.
    #[serde(rename = "ts", with = "micros")]
    pub ts_ns: u64,
    /// Duration in nanoseconds, for complete events; written as `dur`, in
    /// microseconds, like [`ts_ns`](Self::ts_ns).
    #[serde(
        rename = "dur",
        default,
        skip_serializing_if = "Option::is_none",
        with = "micros::option"
    )]
    pub dur_ns: Option<u64>,
    /// The process: always [`PROCESS_ID`].
    pub pid: u32,
    /// The track: see [`track_id`].
    pub tid: u64,
    /// The event's arguments.
    pub args: EventArgs,
}

/// The kinds of trace event a [`TraceFile`] holds.
///
/// # Examples
///
/// ```
/// assert_eq!(serde_json::to_string(&baton_report::Phase::Metadata).unwrap(), r#""M""#);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub enum Phase {
    /// `"X"`: something that ran from `ts` for `dur`.
    #[serde(rename = "X")]
    Complete,
    /// `"M"`: names or orders a process or a track.
    #[serde(rename = "M")]
    Metadata,
}

/// The `args` of a [`TraceEvent`].
///
/// # Examples
///
/// ```
/// use baton_report::EventArgs;
/// let args: EventArgs = serde_json::from_str(r#"{"sort_index": 2000}"#).unwrap();
/// assert_eq!(args, EventArgs::SortIndex { sort_index: 2000 });
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
#[non_exhaustive]
pub enum EventArgs {
    /// A span's chunk.
    Span {
        /// The sequence number of its first item.
        first_seq: u64,
        /// Items in the chunk.
        items: usize,
        /// The chunk's index.
        chunk: u64,
    },
    /// The name of a process or track (`process_name`, `thread_name`).
    Name {
        /// The name.
        name: String,
    },
    /// Where a track goes among the others (`thread_sort_index`).
    SortIndex {
        /// Lower first.
        sort_index: i64,
    },
}

/// A span read back from a [`TraceFile`]: one stage replica's run of one chunk.
///
/// # Examples
///
/// See [`TraceFile::spans`].
#[derive(Clone, Debug, PartialEq)]
pub struct TraceSpan {
    /// 0 for the source, `i + 1` for the `i`-th stage after it.
    pub stage: usize,
    /// The replica that ran it.
    pub replica: u32,
    /// The chunk's index.
    pub chunk: u64,
    /// The sequence number of its first item.
    pub first_seq: u64,
    /// Items in the chunk (0 for the end-of-stream marker).
    pub items: usize,
    /// Start, in microseconds from the run's start.
    pub start_us: f64,
    /// Duration, in microseconds.
    pub dur_us: f64,
}

impl TraceSpan {
    /// End, in microseconds from the run's start.
    ///
    /// # Examples
    ///
    /// ```
    /// let span = baton_report::TraceSpan {
    ///     stage: 1, replica: 0, chunk: 0, first_seq: 0, items: 1, start_us: 10.0, dur_us: 5.0,
    /// };
    /// assert_eq!(span.end_us(), 15.0);
    /// ```
    pub fn end_us(&self) -> f64 {
        self.start_us + self.dur_us
    }
}

/// The track (`tid`) of replica `replica` of stage `stage` (0 is the source).
///
/// Replicas from [`TRACKS_PER_STAGE`] on share the last track of their stage.
///
/// # Examples
///
/// ```
/// assert_eq!(baton_report::track_id(2, 3), 2003);
/// ```
pub fn track_id(stage: usize, replica: u32) -> u64 {
    stage as u64 * TRACKS_PER_STAGE + u64::from(replica).min(TRACKS_PER_STAGE - 1)
}

/// The name of a span event: `item N`, `items N–M`, or `end of stream` for
/// the empty chunk that closes a stage.
fn span_name(span: &Span) -> String {
    match span.items {
        0 => "end of stream".to_string(),
        1 => format!("item {}", span.first_seq),
        n => format!("items {}–{}", span.first_seq, span.first_seq + n as u64 - 1),
    }
}

/// Whole nanoseconds (saturating: `u64` nanoseconds last 584 years).
fn nanos(duration: std::time::Duration) -> u64 {
    u64::try_from(duration.as_nanos()).unwrap_or(u64::MAX)
}

impl TraceFile {
    /// Builds the trace of `report`, a run of the pipeline called `name`.
    ///
    /// The run should have had [`Config::trace`](baton_engine::Config::trace)
    /// on; without it the file holds the summary and no spans.
    ///
    /// # Examples
    ///
    /// See [`TraceFile`].
    pub fn from_report(name: &str, report: &RunReport) -> Self {
        let baton = RunSummary::from_report(name, report);
        let mut tracks: Vec<(usize, u32)> =
            report.trace.iter().map(|s| (s.stage, s.replica)).collect();
        tracks.sort_unstable();
        tracks.dedup();
        let mut events = Vec::with_capacity(1 + 2 * tracks.len() + report.trace.len());
        events.push(TraceEvent {
            name: "process_name".to_string(),
            cat: None,
            ph: Phase::Metadata,
            ts_ns: 0,
            dur_ns: None,
            pid: PROCESS_ID,
            tid: 0,
            args: EventArgs::Name {
                name: format!("baton: {name}"),
            },
        });
        for &(stage, replica) in &tracks {
            let tid = track_id(stage, replica);
            let stage_name = baton.stage_name(stage).unwrap_or("?");
            let metadata = |name: &str, args| TraceEvent {
                name: name.to_string(),
                cat: None,
                ph: Phase::Metadata,
                ts_ns: 0,
                dur_ns: None,
                pid: PROCESS_ID,
                tid,
                args,
            };
            events.push(metadata(
                "thread_name",
                EventArgs::Name {
                    name: format!("{stage_name} #{replica}"),
                },
            ));
            events.push(metadata(
                "thread_sort_index",
                EventArgs::SortIndex {
                    sort_index: tid as i64,
                },
            ));
        }
        events.extend(report.trace.iter().map(|span| TraceEvent {
            name: span_name(span),
            cat: Some(baton.stage_name(span.stage).unwrap_or("?").to_string()),
            ph: Phase::Complete,
            ts_ns: nanos(span.start),
            dur_ns: Some(nanos(span.duration)),
            pid: PROCESS_ID,
            tid: track_id(span.stage, span.replica),
            args: EventArgs::Span {
                first_seq: span.first_seq,
                items: span.items,
                chunk: span.chunk,
            },
        }));
        Self {
            display_time_unit: "ms".to_string(),
            trace_events: events,
            baton,
        }
    }

    /// The spans, in the order of the file (start order for a file this
    /// crate wrote).
    ///
    /// # Examples
    ///
    /// ```
    /// use baton_engine::{Config, Pipeline};
    /// use baton_report::TraceFile;
    /// let report = Pipeline::from_iter(0..5u8)
    ///     .config(Config::default().trace(true))
    ///     .for_each(|_| {})
    ///     .unwrap();
    /// let trace = TraceFile::from_report("p", &report);
    /// assert_eq!(trace.spans().count(), report.trace.len());
    /// assert!(trace.spans().all(|s| s.stage <= 1));
    /// ```
    pub fn spans(&self) -> impl Iterator<Item = TraceSpan> + '_ {
        self.trace_events
            .iter()
            .filter_map(|event| match (&event.ph, &event.args) {
                (
                    Phase::Complete,
                    &EventArgs::Span {
                        first_seq,
                        items,
                        chunk,
                    },
                ) => Some(TraceSpan {
                    stage: (event.tid / TRACKS_PER_STAGE) as usize,
                    replica: (event.tid % TRACKS_PER_STAGE) as u32,
                    chunk,
                    first_seq,
                    items,
                    start_us: micros::micros_from_nanos(event.ts_ns),
                    dur_us: micros::micros_from_nanos(event.dur_ns.unwrap_or(0)),
                }),
                _ => None,
            })
    }

    /// Saves the trace as JSON at `path`.
    ///
    /// # Errors
    ///
    /// [`ReportError::Write`] if the file cannot be created or written.
    ///
    /// # Examples
    ///
    /// See [`TraceFile`].
    pub fn write(&self, path: impl AsRef<Path>) -> Result<(), ReportError> {
        let path = path.as_ref();
        let fail = |source: io::Error| ReportError::Write {
            path: path.to_path_buf(),
            source,
        };
        let mut out = BufWriter::new(File::create(path).map_err(fail)?);
        serde_json::to_writer(&mut out, self).map_err(|e| fail(e.into()))?;
        out.write_all(b"\n").map_err(fail)?;
        out.flush().map_err(fail)
    }

    /// Loads a trace saved by [`TraceFile::write`].
    ///
    /// # Errors
    ///
    /// [`ReportError::Read`] if the file cannot be read, and
    /// [`ReportError::Parse`] (with the line and column) if it is not a baton
    /// trace file.
    ///
    /// # Examples
    ///
    /// See [`TraceFile`] and [`ReportError`].
    pub fn read(path: impl AsRef<Path>) -> Result<Self, ReportError> {
        let path = path.as_ref();
        let text = std::fs::read_to_string(path).map_err(|source| ReportError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        serde_json::from_str(&text).map_err(|source| ReportError::Parse {
            path: path.to_path_buf(),
            line: source.line(),
            column: source.column(),
            source,
        })
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use baton_engine::{Config, Mode, Pipeline};
    use serde_json::Value;

    use super::*;

    /// A small traced run: a parallel stage, so some stage has two tracks.
    fn small_trace() -> TraceFile {
        let report = Pipeline::from_iter(0..64u64)
            .config(Config::default().trace(true).threads(2).max_chunk(4))
            .stage("square", Mode::parallel(2))
            .map(|x| {
                std::thread::sleep(std::time::Duration::from_micros(50));
                x * x
            })
            .stage("add", Mode::serial_in_order())
            .map(|x| x + 1)
            .for_each(|_| {})
            .unwrap();
        assert!(!report.trace.is_empty(), "the run recorded no spans");
        TraceFile::from_report("squares", &report)
    }

    #[test]
    fn json_round_trip_keeps_everything() {
        let trace = small_trace();
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("squares.trace.json");
        trace.write(&path).unwrap();
        let back = TraceFile::read(&path).unwrap();
        assert_eq!(back, trace);
        assert_eq!(
            back.spans().collect::<Vec<_>>(),
            trace.spans().collect::<Vec<_>>()
        );
    }

    #[test]
    fn top_level_keys_come_in_the_order_viewers_need() {
        let json = serde_json::to_string(&small_trace()).unwrap();
        let unit = json.find("\"displayTimeUnit\":\"ms\"").unwrap();
        let events = json.find("\"traceEvents\"").unwrap();
        let baton = json.rfind("\"baton\"").unwrap();
        assert!(unit < events && events < baton, "keys out of order");
    }

    #[test]
    fn span_events_follow_the_trace_event_format() {
        let trace = small_trace();
        let json: Value = serde_json::to_value(&trace).unwrap();
        let events = json["traceEvents"].as_array().unwrap();
        let spans: Vec<&Value> = events.iter().filter(|e| e["ph"] == "X").collect();
        assert_eq!(spans.len(), trace.baton.spans);
        for event in &spans {
            assert!(event["ts"].as_f64().unwrap() >= 0.0, "{event}");
            assert!(event["dur"].as_f64().unwrap() >= 0.0, "{event}");
            assert_eq!(event["pid"], 1, "{event}");
            let tid = event["tid"].as_u64().unwrap();
            let stage = (tid / 1000) as usize;
            assert_eq!(
                event["cat"],
                trace.baton.stage_name(stage).unwrap(),
                "{event}"
            );
            let args = &event["args"];
            let (first, items) = (
                args["first_seq"].as_u64().unwrap(),
                args["items"].as_u64().unwrap(),
            );
            assert!(args["chunk"].is_u64(), "{event}");
            let name = event["name"].as_str().unwrap();
            match items {
                0 => assert_eq!(name, "end of stream"),
                1 => assert_eq!(name, format!("item {first}")),
                n => assert_eq!(name, format!("items {first}–{}", first + n - 1)),
            }
        }
        // Microseconds: every span starts within the run.
        let elapsed_us = trace.baton.elapsed_s * 1e6;
        assert!(spans
            .iter()
            .all(|e| e["ts"].as_f64().unwrap() <= elapsed_us + 1.0));
        // The parallel stage ran on two replicas, each its own track.
        let square_tracks: BTreeSet<u64> = spans
            .iter()
            .filter(|e| e["cat"] == "square")
            .map(|e| e["tid"].as_u64().unwrap())
            .collect();
        assert!(
            square_tracks.iter().all(|t| (1000..2000).contains(t)),
            "{square_tracks:?}"
        );
        // Items through each stage add up.
        for (stage, name) in [(1usize, "square"), (2, "add")] {
            let items: u64 = spans
                .iter()
                .filter(|e| e["cat"] == name)
                .map(|e| e["args"]["items"].as_u64().unwrap())
                .sum();
            assert_eq!(items, 64, "stage {stage} ({name})");
        }
    }

    #[test]
    fn every_track_is_named_and_sorted_in_pipeline_order() {
        let trace = small_trace();
        let tracks: BTreeSet<u64> = trace
            .trace_events
            .iter()
            .filter(|e| e.ph == Phase::Complete)
            .map(|e| e.tid)
            .collect();
        for &tid in &tracks {
            let named = trace
                .trace_events
                .iter()
                .find(|e| e.ph == Phase::Metadata && e.name == "thread_name" && e.tid == tid);
            let stage = trace
                .baton
                .stage_name((tid / TRACKS_PER_STAGE) as usize)
                .unwrap();
            match named.map(|e| &e.args) {
                Some(EventArgs::Name { name }) => {
                    assert_eq!(name, &format!("{stage} #{}", tid % TRACKS_PER_STAGE))
                }
                other => panic!("track {tid} has no thread_name: {other:?}"),
            }
            let sorted = trace
                .trace_events
                .iter()
                .find(|e| e.ph == Phase::Metadata && e.name == "thread_sort_index" && e.tid == tid);
            assert!(
                matches!(sorted.map(|e| &e.args), Some(EventArgs::SortIndex { sort_index }) if *sort_index == tid as i64),
                "track {tid} has no thread_sort_index"
            );
        }
        assert!(trace
            .trace_events
            .iter()
            .any(|e| e.ph == Phase::Metadata && e.name == "process_name"));
        // Metadata first, then the spans in start order.
        let first_span = trace
            .trace_events
            .iter()
            .position(|e| e.ph == Phase::Complete)
            .unwrap();
        assert!(trace.trace_events[first_span..]
            .iter()
            .all(|e| e.ph == Phase::Complete));
        assert!(trace.trace_events[first_span..]
            .windows(2)
            .all(|w| w[0].ts_ns <= w[1].ts_ns));
    }

    #[test]
    fn a_bad_file_is_named_with_line_and_column() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("not-a-trace.json");
        std::fs::write(
            &path,
            "{\n  \"displayTimeUnit\": \"ms\",\n  \"traceEvents\": [ oops ]\n}\n",
        )
        .unwrap();
        let err = TraceFile::read(&path).unwrap_err();
        let message = err.to_string();
        assert!(message.contains("not-a-trace.json"), "{message}");
        match err {
            ReportError::Parse { line, column, .. } => assert_eq!((line, column), (3, 20)),
            other => panic!("expected a parse error, got {other:?}"),
        }
        assert!(message.contains(":3:20:"), "{message}");
    }

    #[test]
    fn a_missing_file_is_named() {
        let err = TraceFile::read("/nonexistent/run.trace.json").unwrap_err();
        assert!(matches!(err, ReportError::Read { .. }));
        assert!(err.to_string().contains("/nonexistent/run.trace.json"));
    }

    #[test]
    fn an_untraced_run_still_makes_a_valid_file() {
        let report = Pipeline::from_iter(0..10u8).for_each(|_| {}).unwrap();
        let trace = TraceFile::from_report("quiet", &report);
        assert_eq!(trace.spans().count(), 0);
        assert_eq!(trace.trace_events.len(), 1, "only the process name");
        let json = serde_json::to_string(&trace).unwrap();
        assert_eq!(serde_json::from_str::<TraceFile>(&json).unwrap(), trace);
    }
}
