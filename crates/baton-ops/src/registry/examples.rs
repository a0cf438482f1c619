//! A worked example for every built-in op: a small, whole pipeline file (a
//! source, the op where it belongs with parameters worth showing, a sink)
//! that `baton ops NAME` prints after the op's parameters.
//!
//! Each is a file of its own, `examples/<source|stage|sink>/<name>.toml`,
//! so that it reads and is edited as the pipeline file it is. Its relative
//! paths are the ones a user has (`data/orders.csv`, `photos/*.jpg`,
//! `out/...`); baton-cli's `op_examples` test makes those inputs and runs
//! every example with the `baton` binary, so none can rot.

use super::def::{OpDef, OpKind};

/// One op's example, found by its folder and name.
macro_rules! example {
    (source $name:literal) => {
        (
            OpKind::Source,
            $name,
            include_str!(concat!("examples/source/", $name, ".toml")),
        )
    };
    (stage $name:literal) => {
        (
            OpKind::Transform,
            $name,
            include_str!(concat!("examples/stage/", $name, ".toml")),
        )
    };
    (sink $name:literal) => {
        (
            OpKind::Sink,
            $name,
            include_str!(concat!("examples/sink/", $name, ".toml")),
        )
    };
}

/// Every op's example: its kind (a source and a sink may share a name),
/// its name, the pipeline file.
const EXAMPLES: &[(OpKind, &str, &str)] = &[
    example!(source "range"),
    example!(source "files"),
    example!(source "lines"),
    example!(source "csv"),
    example!(source "jsonl"),
    example!(source "parquet"),
    example!(source "arrow"),
    example!(source "stdin"),
    example!(source "idx"),
    example!(source "webdataset"),
    example!(stage "json_parse"),
    example!(stage "select"),
    example!(stage "rename"),
    example!(stage "python"),
    example!(stage "filter"),
    example!(stage "remap"),
    example!(stage "regex_extract"),
    example!(stage "hash"),
    example!(stage "compress"),
    example!(stage "decompress"),
    example!(stage "batch"),
    example!(stage "unbatch"),
    example!(stage "shuffle"),
    example!(stage "prefetch"),
    example!(stage "take"),
    example!(stage "skip"),
    example!(stage "repeat"),
    example!(stage "image_decode"),
    example!(stage "image_encode"),
    example!(stage "resize"),
    example!(stage "crop"),
    example!(stage "flip"),
    example!(stage "normalize"),
    example!(stage "to_tensor"),
    example!(stage "exec"),
    example!(stage "delay"),
    example!(stage "spin"),
    example!(sink "stdout"),
    example!(sink "jsonl"),
    example!(sink "csv"),
    example!(sink "parquet"),
    example!(sink "arrow"),
    example!(sink "files"),
    example!(sink "npy"),
    example!(sink "safetensors"),
    example!(sink "webdataset"),
    example!(sink "discard"),
    example!(sink "count"),
];

impl OpDef {
    /// A worked example of the op: a whole pipeline file that uses it with
    /// parameters worth knowing, between a source and a sink, under a
    /// comment saying what it does. It is what `baton ops NAME` shows; its
    /// relative paths are a user's own (`data/orders.csv`, `photos/*.jpg`,
    /// `out/...`). Every built-in op has one (a test sees to it); an op
    /// without one gives an empty text.
    ///
    /// # Examples
    ///
    /// ```
    /// use baton_ops::{find_kind, OpKind};
    ///
    /// let example = find_kind("csv", OpKind::Sink).unwrap().example();
    /// assert!(example.starts_with("# "));
    /// let file: toml::Table = toml::from_str(example).unwrap();
    /// let stages = file["stage"].as_array().unwrap();
    /// // A sink's example ends with it (a source's starts with it).
    /// assert_eq!(stages.last().unwrap()["op"].as_str(), Some("csv"));
    /// ```
    pub fn example(&self) -> &'static str {
        EXAMPLES
            .iter()
            .find(|(kind, name, _)| *kind == self.kind && *name == self.name)
            .map_or("", |(_, _, text)| text)
    }
}

#[cfg(test)]
mod tests {
    use super::EXAMPLES;
    use crate::registry::{all, find_kind, OpKind};

    /// The ops of `text`'s `[[stage]]` tables, in order.
    fn stage_ops(text: &str) -> Vec<String> {
        let file: toml::Table = toml::from_str(text).expect("an example is valid TOML");
        file["stage"]
            .as_array()
            .expect("an example has [[stage]] tables")
            .iter()
            .map(|stage| {
                stage["op"]
                    .as_str()
                    .expect("every stage names its op")
                    .to_string()
            })
            .collect()
    }

    #[test]
    fn every_op_has_an_example_that_uses_it_where_its_kind_belongs() {
        for op in all() {
            let example = op.example();
            assert!(
                example.starts_with("# "),
                "the example of {} `{}` must start with a comment saying what it does",
                op.kind,
                op.name
            );
            let ops = stage_ops(example);
            assert!(ops.len() >= 2, "{} `{}`: {ops:?}", op.kind, op.name);
            let used = match op.kind {
                OpKind::Source => ops[0] == op.name,
                OpKind::Sink => ops[ops.len() - 1] == op.name,
                OpKind::Transform => ops[1..ops.len() - 1].iter().any(|o| o == op.name),
            };
            assert!(
                used,
                "{} `{}` is not in its place in {ops:?}",
                op.kind, op.name
            );
        }
    }

    #[test]
    fn every_example_is_of_an_op_and_only_one() {
        for (i, (kind, name, _)) in EXAMPLES.iter().enumerate() {
            let left_out = crate::registry::left_out()
                .iter()
                .any(|op| op.name == *name && op.kind == *kind);
            assert!(
                find_kind(name, *kind).is_some() || left_out,
                "no {kind} `{name}`"
            );
            assert!(
                !EXAMPLES[..i].iter().any(|(k, n, _)| k == kind && n == name),
                "two examples of {kind} `{name}`"
            );
        }
    }
}
