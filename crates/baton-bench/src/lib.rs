//! The reference pipeline workloads of `shared/bench/WORKLOADS.md`, run on
//! the baton engine and on a sequential baseline.
//!
//! Every workload is a serial source emitting items `0..n`, a few stages
//! that transform each item's value, and a serial in-order sink that folds
//! the values into a checksum. Both implementations call the same stage
//! functions ([`stages`]), so they do identical work item for item; the
//! sequential one is also the reference that every run's checksum is checked
//! against.
//!
//! The `baton-bench` binary runs each (workload, implementation, run) in a
//! child process of its own, so that each run reports its own peak RSS, and
//! prints one JSON line ([`report::RunReport`]) per run.

#![forbid(unsafe_code)]
#![warn(missing_docs, missing_debug_implementations)]

pub mod baton;
pub mod checksum;
pub mod error;
pub mod report;
pub mod rss;
pub mod run;
pub mod sequential;
pub mod spin;
pub mod stages;
pub mod workload;
