//! Built-in sinks (to be written).

use crate::registry::OpDef;

/// Every built-in op of this family.
pub(crate) const DEFS: &[OpDef] = &[];
