//! # baton-config
//!
//! Pipeline files for baton: a `[[stage]]` list in TOML, read with spans,
//! checked against the op registry of `baton-ops` (unknown ops and keys,
//! wrong types, missing parameters, impossible modes, missing files), every
//! problem reported with file, line, column, key and the nearest valid name;
//! then built on the engine.
//!
//! ```
//! use baton_config::Plan;
//! let text = r#"
//! [[stage]]
//! op = "range"
//! end = 10
//!
//! [[stage]]
//! op = "discard"
//! "#;
//! let run = Plan::parse("p.toml".as_ref(), text).unwrap().build().unwrap().start(&Default::default()).unwrap();
//! assert_eq!(run.handle.join().unwrap().stats.source.items, 10);
//! ```

#![forbid(unsafe_code)]
#![warn(missing_docs, missing_debug_implementations)]

mod build;
mod clash;
mod dead_letters;
mod diagnostic;
mod distributed;
mod file;
mod memory;
mod plan;
mod pushdown;
mod reader;
mod settings;
mod stage;
mod value;
mod variables;

pub use baton_ops::STAGE_KEYS;
pub use build::{Built, Iterated, RunOptions, Started};
pub use dead_letters::{DeadLetterFiles, StageLetters};
pub use diagnostic::{Diagnostic, Diagnostics, Severity};
pub use distributed::{NatsTable, Placement, RemoteSegment, SecretText, StreamStorage, NATS_KEYS};
pub use file::PIPELINE_KEYS;
pub use memory::{MemoryBudget, MemoryBudgetError};
pub use plan::{Ending, Plan, PlannedStage};
pub use settings::{Setting, SettingError};
pub use variables::{EnvFileError, Variables};
