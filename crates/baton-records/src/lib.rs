//! # baton-records
//!
//! Records as [Arrow](https://arrow.apache.org) record batches: the form in
//! which baton's record stages move rows, a chunk of them at a time, with
//! the values of each field in one typed column.
//!
//! * [`Blocks`] cuts a byte stream into blocks that end on record
//!   boundaries (quote-aware for CSV), so that blocks parse in parallel;
//! * [`CsvFormat`] reads a header and infers column types once per file,
//!   then parses each block into a [`RecordBatch`](arrow_array::RecordBatch);
//!   [`JsonLinesFormat`] parses JSON lines, each block with the schema its
//!   lines have; [`TextLines`] makes text lines into rows of `line`,
//!   `path`, `line_no`;
//! * [`rows`] turns batches into rows of JSON-like fields and back, for the
//!   stages that work a record at a time;
//! * [`Predicate`] compiles a filter written in [Rhai](https://rhai.rs)'s
//!   syntax into column-wise evaluation with Arrow's kernels.
//!
//! ```
//! use baton_records::{Blocks, Boundary, CsvFormat, Predicate};
//!
//! let text = "origin,delay\nJFK,75\nLGA,90\nJFK,5\n";
//! let format = CsvFormat::default();
//! let (names, rest) = format.split_header(text.as_bytes(), "f.csv").unwrap();
//! let schema = format.infer_schema(&names, &text.as_bytes()[rest..], "f.csv").unwrap();
//! let block = Blocks::new(&text.as_bytes()[rest..], Boundary::CsvRecords, 1 << 20).next().unwrap().unwrap();
//! let batch = format.parse(&block, &schema, "f.csv").unwrap();
//! let late = Predicate::compile(r#"origin == "JFK" && delay > 60"#).unwrap();
//! assert_eq!(late.filter(&batch).unwrap().num_rows(), 1);
//! ```

#![forbid(unsafe_code)]
#![warn(missing_docs, missing_debug_implementations)]

mod csv;
mod error;
mod expr;
mod jsonl;
pub mod rows;
mod split;
mod text;

pub use crate::csv::{ColumnType, CsvFormat};
pub use crate::error::{RecordsError, Rejected};
pub use crate::expr::{Bound, ColumnRange, Predicate};
pub use crate::jsonl::JsonLinesFormat;
pub use crate::split::{Block, Blocks, Boundary};
pub use crate::text::TextLines;

/// Arrow's record batch, the records' chunk, re-exported for users of this crate.
pub use arrow_array::RecordBatch;
/// A shared schema of record batches, re-exported.
pub use arrow_schema::SchemaRef;
