//! # baton-report
//!
//! Reports of [baton](baton_engine) pipeline runs, made from a finished
//! [`RunReport`](baton_engine::RunReport):
//!
//! * a [`TraceFile`]: Chrome's trace event format, which Perfetto
//!   (ui.perfetto.dev) and `chrome://tracing` open, one event per span and a
//!   track per stage replica in pipeline order, plus a [`RunSummary`] of the
//!   run under a key those viewers ignore;
//! * [`render_html`]: one self-contained HTML page, drawn from a trace file
//!   alone, with the verdict on what limits the run, the pipeline diagram
//!   (stages against time, as textbooks draw instruction pipelines), charts
//!   over time and a table of every stage.
//!
//! ```
//! use baton_engine::{Config, Mode, Pipeline};
//! use baton_report::{render_html, TraceFile};
//!
//! let report = Pipeline::from_iter(0..40u64)
//!     .config(Config::default().trace(true))
//!     .stage("fill", Mode::serial_in_order())
//!     .map(|bottle| { std::thread::sleep(std::time::Duration::from_micros(200)); bottle })
//!     .stage("seal", Mode::serial_in_order())
//!     .map(|bottle| { std::thread::sleep(std::time::Duration::from_micros(200)); bottle })
//!     .for_each(|_| {})
//!     .unwrap();
//!
//! let dir = tempfile::tempdir().unwrap();
//! let path = dir.path().join("bottling.trace.json");
//! TraceFile::from_report("bottling line", &report).write(&path).unwrap();
//!
//! // Later, from the saved trace alone:
//! let html = render_html(&TraceFile::read(&path).unwrap());
//! std::fs::write(dir.path().join("bottling.html"), html).unwrap();
//! ```
//!
//! The engine knows nothing of files or formats; this crate is the layer
//! that writes them.

#![forbid(unsafe_code)]
#![warn(missing_docs, missing_debug_implementations)]

mod error;
mod html;
mod summary;
mod trace;

pub use error::ReportError;
pub use html::{item_colour, render_html};
pub use summary::{
    BottleneckSummary, MemorySummary, RunSummary, SampleSummary, SourceSummary, StageSampleSummary,
    StageSummary, WorkerSummary, SUMMARY_FORMAT,
};
pub use trace::{
    track_id, EventArgs, Phase, TraceEvent, TraceFile, TraceSpan, PROCESS_ID, TRACKS_PER_STAGE,
};
