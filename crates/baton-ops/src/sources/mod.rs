//! Sources: the first stage of a pipeline file.

mod range;

use crate::registry::OpDef;

/// Every built-in source.
pub(crate) const DEFS: &[OpDef] = &[range::DEF];
