//! What goes wrong in a record stage, naming the field or payload at fault.

use std::io;

use crate::codec::Codec;

/// An item a record stage cannot handle.
#[derive(Debug, thiserror::Error)]
pub(crate) enum RecordError {
    /// A field the stage needs is not there.
    #[error("no field `{field}`")]
    MissingField {
        /// The field.
        field: String,
    },
    /// A field that must be a string is something else.
    #[error("field `{field}` is {found}, not a string")]
    NotAString {
        /// The field.
        field: String,
        /// What it is ("a number").
        found: &'static str,
    },
    /// A field that must hold JSON text does not.
    #[error("field `{field}` is not valid JSON: {message}")]
    BadJson {
        /// The field.
        field: String,
        /// What is wrong, with the column.
        message: String,
    },
    /// The stage works on a bytes payload and the item has another.
    #[error("the item's payload is `{found}`, not bytes")]
    NotBytes {
        /// The payload's kind.
        found: &'static str,
    },
    /// Compressing or decompressing failed.
    #[error("{codec} {action} failed: {error}")]
    Codec {
        /// The codec.
        codec: Codec,
        /// "compression" or "decompression".
        action: &'static str,
        /// Why.
        error: io::Error,
    },
    /// The filter expression failed on this item.
    #[cfg(feature = "script")]
    #[error("`expr` failed: {message}")]
    Filter {
        /// Why, with the position in the expression.
        message: String,
    },
    /// A `remap` expression failed on this item.
    #[cfg(feature = "script")]
    #[error("field `{field}`: its expression failed: {message}")]
    Remap {
        /// The field it computes.
        field: String,
        /// Why, with the position in the expression.
        message: String,
    },
}
