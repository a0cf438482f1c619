//! Built-in exec (to be written).

use crate::registry::OpDef;

/// Every built-in op of this family.
pub(crate) const DEFS: &[OpDef] = &[];
