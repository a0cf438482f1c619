//! Data-pipeline stages, mapped onto the engine's own operators:
//! `batch`, `unbatch`, `shuffle`, `prefetch`, `take`, `skip`.

use crate::registry::{BuiltOp, Modes, OpDef, OpError, OpKind, ParamDef, ParamType, Params};

/// Every data-pipeline stage.
pub(crate) const DEFS: &[OpDef] = &[
    OpDef {
        name: "batch",
        kind: OpKind::Transform,
        summary: "groups `size` items into one item whose payload is the batch",
        params: &[
            ParamDef::required("size", ParamType::Int, "items per batch").at_least(1),
            ParamDef::with_default(
                "drop_remainder",
                ParamType::Bool,
                "false",
                "drop a short last batch",
            ),
        ],
        modes: Modes::SERIAL,
        build: |p| {
            let size = positive(p, "size")?;
            Ok(BuiltOp::Batch {
                size,
                exact: p.bool("drop_remainder")?.unwrap_or(false),
            })
        },
    },
    OpDef {
        name: "unbatch",
        kind: OpKind::Transform,
        summary: "turns every batch back into its items",
        params: &[],
        modes: Modes::ANY,
        build: |_| Ok(BuiltOp::Unbatch),
    },
    OpDef {
        name: "shuffle",
        kind: OpKind::Transform,
        summary:
            "shuffles through a buffer of `buffer_size` items, the same way for the same `seed`",
        params: &[
            ParamDef::required("buffer_size", ParamType::Int, "items held to shuffle among")
                .at_least(1),
            ParamDef::with_default("seed", ParamType::Int, "0", "random seed"),
        ],
        modes: Modes::SERIAL,
        build: |p| {
            Ok(BuiltOp::Shuffle {
                buffer: positive(p, "buffer_size")?,
                seed: p.seed("seed")?.unwrap_or(0),
            })
        },
    },
    OpDef {
        name: "prefetch",
        kind: OpKind::Transform,
        summary: "lets `size` more items be made ahead of the stages after it",
        params: &[ParamDef::required("size", ParamType::Int, "items made ahead").at_least(1)],
        modes: Modes::ANY,
        build: |p| Ok(BuiltOp::Prefetch(positive(p, "size")?)),
    },
    OpDef {
        name: "take",
        kind: OpKind::Transform,
        summary: "keeps the first `count` items, then stops the source",
        params: &[ParamDef::required("count", ParamType::Int, "items to keep").at_least(0)],
        modes: Modes::SERIAL,
        build: |p| Ok(BuiltOp::Take(non_negative(p, "count")?)),
    },
    OpDef {
        name: "skip",
        kind: OpKind::Transform,
        summary: "drops the first `count` items",
        params: &[ParamDef::required("count", ParamType::Int, "items to drop").at_least(0)],
        modes: Modes::SERIAL,
        build: |p| Ok(BuiltOp::Skip(non_negative(p, "count")?)),
    },
];

fn non_negative(p: &Params, name: &str) -> Result<usize, OpError> {
    Params::need(name, p.int_as::<usize>(name)?)
}

fn positive(p: &Params, name: &str) -> Result<usize, OpError> {
    match non_negative(p, name)? {
        0 => Err(OpError::param(name, "must be at least 1")),
        n => Ok(n),
    }
}
