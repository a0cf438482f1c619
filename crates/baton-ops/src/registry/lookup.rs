//! Finding ops: every built-in one, one by name (and kind), and the
//! nearest name to a typo.

use super::def::{OpDef, OpKind};

/// Every built-in stage, sources first, then stages, then sinks.
///
/// # Examples
///
/// ```
/// let names: Vec<_> = baton_ops::all().iter().map(|op| op.name).collect();
/// assert!(names.contains(&"range"));
/// ```
pub fn all() -> Vec<&'static OpDef> {
    let mut ops: Vec<&'static OpDef> = crate::sources::DEFS
        .iter()
        .chain(crate::records::DEFS)
        .chain(crate::data::DEFS)
        .chain(crate::images::DEFS)
        .chain(crate::exec::DEFS)
        .chain(crate::simulate::DEFS)
        .chain(crate::sinks::DEFS)
        .collect();
    ops.sort_by_key(|op| match op.kind {
        OpKind::Source => 0,
        OpKind::Transform => 1,
        OpKind::Sink => 2,
    });
    ops
}

/// The built-in stage named `name` (the source, when a source and a sink
/// share it: see [`find_kind`]).
///
/// # Examples
///
/// ```
/// assert!(baton_ops::find("no_such_op").is_none());
/// ```
pub fn find(name: &str) -> Option<&'static OpDef> {
    all().into_iter().find(|op| op.name == name)
}

/// The built-in stage named `name` of the kind `kind`. A source and a sink
/// may share a name (`files`, `csv`, `jsonl`): where a stage sits in a
/// pipeline says which is meant, and [`find`] gives the source.
///
/// # Examples
///
/// ```
/// use baton_ops::{find_kind, OpKind};
/// assert_eq!(find_kind("jsonl", OpKind::Sink).unwrap().kind, OpKind::Sink);
/// assert_eq!(find_kind("jsonl", OpKind::Source).unwrap().kind, OpKind::Source);
/// assert!(find_kind("range", OpKind::Sink).is_none());
/// ```
pub fn find_kind(name: &str, kind: OpKind) -> Option<&'static OpDef> {
    all()
        .into_iter()
        .find(|op| op.name == name && op.kind == kind)
}

/// The nearest of `candidates` to `name`, if one is near enough to be a typo.
///
/// # Examples
///
/// ```
/// assert_eq!(baton_ops::nearest("rnage", ["range", "lines"]), Some("range"));
/// assert_eq!(baton_ops::nearest("zzzzzz", ["range", "lines"]), None);
/// ```
pub fn nearest<'a>(name: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    candidates
        .into_iter()
        .map(|c| (strsim::damerau_levenshtein(name, c), c))
        .filter(|(d, c)| *d <= (c.len().max(name.len()) / 3).max(1) + 1)
        .min_by_key(|(d, _)| *d)
        .map(|(_, c)| c)
}
