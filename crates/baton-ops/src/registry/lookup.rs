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
        .chain(crate::exec::DEFS)
        .chain(crate::host::DEFS)
        .chain(crate::simulate::DEFS)
        .chain(crate::sinks::DEFS)
        .collect();
    #[cfg(feature = "images")]
    ops.extend(crate::images::DEFS);
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

/// A built-in op this build leaves out, and the cargo feature of
/// `baton-ops` that brings it.
///
/// # Examples
///
/// ```
/// // With the default features every op is in.
/// assert!(baton_ops::left_out().is_empty());
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LeftOut {
    /// The op's name.
    pub name: &'static str,
    /// Where it sits in a pipeline.
    pub kind: OpKind,
    /// The feature that brings it.
    pub feature: &'static str,
}

/// Every op behind a feature, with that feature.
const FEATURED: &[(&str, OpKind, &str)] = &[
    ("image_decode", OpKind::Transform, "images"),
    ("image_encode", OpKind::Transform, "images"),
    ("resize", OpKind::Transform, "images"),
    ("crop", OpKind::Transform, "images"),
    ("flip", OpKind::Transform, "images"),
    ("normalize", OpKind::Transform, "images"),
    ("to_tensor", OpKind::Transform, "images"),
    ("filter", OpKind::Transform, "script"),
    ("remap", OpKind::Transform, "script"),
    ("regex_extract", OpKind::Transform, "regex"),
    ("parquet", OpKind::Source, "parquet"),
    ("parquet", OpKind::Sink, "parquet"),
    ("csv", OpKind::Sink, "csv"),
    ("npy", OpKind::Sink, "tensors"),
    ("safetensors", OpKind::Sink, "tensors"),
    ("webdataset", OpKind::Source, "tensors"),
    ("webdataset", OpKind::Sink, "tensors"),
];

/// Whether this build has the feature `name`.
fn has_feature(name: &str) -> bool {
    (name == "images" && cfg!(feature = "images"))
        || (name == "script" && cfg!(feature = "script"))
        || (name == "regex" && cfg!(feature = "regex"))
        || (name == "parquet" && cfg!(feature = "parquet"))
        || (name == "csv" && cfg!(feature = "csv"))
        || (name == "tensors" && cfg!(feature = "tensors"))
}

/// The built-in ops this build of `baton-ops` leaves out (its cargo
/// features were turned off), so that a pipeline naming one is told which
/// feature brings it rather than that no such op exists.
///
/// # Examples
///
/// See [`LeftOut`].
pub fn left_out() -> Vec<LeftOut> {
    FEATURED
        .iter()
        .filter(|(_, _, feature)| !has_feature(feature))
        .map(|&(name, kind, feature)| LeftOut {
            name,
            kind,
            feature,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    #[cfg(all(
        feature = "images",
        feature = "script",
        feature = "regex",
        feature = "parquet",
        feature = "csv",
        feature = "tensors"
    ))]
    fn every_op_behind_a_feature_is_a_built_in_op_of_that_kind() {
        for &(name, kind, feature) in FEATURED {
            assert!(find_kind(name, kind).is_some(), "{name} ({kind})");
            assert!(has_feature(feature), "{feature}");
        }
    }

    #[test]
    fn what_is_left_out_is_not_found() {
        for left in left_out() {
            assert!(find_kind(left.name, left.kind).is_none(), "{left:?}");
        }
    }
}
