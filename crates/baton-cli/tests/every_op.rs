//! Every op of the registry runs through `baton run` in a small pipeline
//! file and does what it says. An op the table below does not cover fails
//! the test: no op can be listed (by `baton ops`, accepted by `baton check`)
//! and be unusable.

mod common;

use std::path::Path;

use baton_ops::OpKind;
use common::{baton, stderr, stdout, write};

/// A 4x4 RGB PNG.
const PNG: &[u8] = &[
    137, 80, 78, 71, 13, 10, 26, 10, 0, 0, 0, 13, 73, 72, 68, 82, 0, 0, 0, 4, 0, 0, 0, 4, 8, 2, 0,
    0, 0, 38, 147, 9, 41, 0, 0, 0, 41, 73, 68, 65, 84, 120, 218, 13, 199, 49, 1, 0, 0, 12, 194, 48,
    132, 33, 12, 97, 21, 81, 89, 91, 190, 36, 177, 113, 145, 152, 212, 214, 85, 250, 153, 157, 155,
    236, 131, 197, 33, 120, 23, 242, 23, 193, 89, 168, 11, 58, 0, 0, 0, 0, 73, 69, 78, 68, 174, 66,
    96, 130,
];

/// The stages before the op under test.
const RANGE: &str = "[[stage]]\nop = \"range\"\nend = 6\n";
const TEXT_FILE: &str = "[[stage]]\nop = \"files\"\npath = \"in.txt\"\n";
const IMAGE: &str =
    "[[stage]]\nop = \"files\"\npath = \"img.png\"\n\n[[stage]]\nop = \"image_decode\"\n";
/// Tensors: the image as a CHW tensor.
const TENSOR: &str = "[[stage]]\nop = \"files\"\npath = \"img.png\"\n\n[[stage]]\nop = \"image_decode\"\n\n[[stage]]\nop = \"to_tensor\"\n";
/// An IDX file of two 2x3 grey images.
const IDX: &[u8] = &[
    0, 0, 8, 3, 0, 0, 0, 2, 0, 0, 0, 2, 0, 0, 0, 3, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12,
];
/// The stage after the op under test.
const OUT: &str = "[[stage]]\nop = \"jsonl\"\npath = \"out.jsonl\"\n";

/// How one op is run and what it must do.
struct Case {
    op: &'static str,
    kind: OpKind,
    /// The stages before it (none for a source).
    before: &'static str,
    /// Its own table's keys after `op`.
    params: &'static str,
    /// The stages after it (none for a sink).
    after: &'static str,
    /// What the run must have made: `Err` says what is wrong.
    check: fn(&Path, &str) -> Result<(), String>,
}

/// `out.jsonl` has `n` lines, and contains `text`.
fn out(dir: &Path, n: usize, text: &str) -> Result<(), String> {
    let lines =
        std::fs::read_to_string(dir.join("out.jsonl")).map_err(|e| format!("no out.jsonl: {e}"))?;
    if lines.lines().count() != n || !lines.contains(text) {
        return Err(format!("expected {n} lines with `{text}`, got:\n{lines}"));
    }
    Ok(())
}

fn contains(haystack: &str, needle: &str) -> Result<(), String> {
    if haystack.contains(needle) {
        Ok(())
    } else {
        Err(format!("expected `{needle}` in:\n{haystack}"))
    }
}

/// The file `path` starts with `magic`.
fn starts_with(path: &Path, magic: &[u8]) -> Result<(), String> {
    let bytes = std::fs::read(path).map_err(|e| format!("{}: {e}", path.display()))?;
    bytes
        .starts_with(magic)
        .then_some(())
        .ok_or_else(|| format!("{} does not start with {magic:?}", path.display()))
}

/// `in.csv` made `in.NAME` by baton itself, for the columnar sources.
fn convert(dir: &Path, name: &str) -> Result<(), String> {
    let text = format!("[[stage]]\nop = \"csv\"\npath = \"in.csv\"\n\n[[stage]]\nop = \"{name}\"\npath = \"in.{name}\"\n");
    let file = write(dir, "convert.toml", &text);
    let output = baton()
        .args(["run", "--quiet"])
        .arg(&file)
        .output()
        .map_err(|e| e.to_string())?;
    output
        .status
        .success()
        .then_some(())
        .ok_or_else(|| stderr(&output))
}

fn cases() -> Vec<Case> {
    use OpKind::{Sink, Source, Transform};
    let case = |op, kind, before, params, after, check| Case {
        op,
        kind,
        before,
        params,
        after,
        check,
    };
    vec![
        // Sources.
        case("range", Source, "", "end = 3", OUT, |d, _| out(d, 3, "{\"value\":2}")),
        case("files", Source, "", "path = \"in.txt\"", OUT, |d, _| out(d, 1, "bytes[6]")),
        case("lines", Source, "", "path = \"in.txt\"", OUT, |d, _| out(d, 3, "\"line\":\"c\"")),
        case("csv", Source, "", "path = \"in.csv\"", OUT, |d, _| out(d, 2, "\"name\":\"y\"")),
        case("jsonl", Source, "", "path = \"in.jsonl\"", OUT, |d, _| out(d, 2, "{\"n\":2}")),
        case("stdin", Source, "", "", OUT, |d, _| out(d, 2, "\"line\":\"from stdin\"")),
        case("parquet", Source, "", "path = \"in.parquet\"", OUT, |d, _| out(d, 2, "{\"name\":\"y\",\"n\":2}")),
        case("arrow", Source, "", "path = \"in.arrow\"", OUT, |d, _| out(d, 2, "{\"name\":\"y\",\"n\":2}")),
        case("webdataset", Source, "", "path = \"in.tar\"", OUT, |d, _| out(d, 1, "\"txt\":\"a\\nb\\nc\\n\"")),
        case("idx", Source, "", "images = \"in.idx\"", OUT, |d, _| out(d, 2, "image[3x2]")),
        // Record stages.
        case("json_parse", Transform, "[[stage]]\nop = \"lines\"\npath = \"in.jsonl\"\n", "", OUT, |d, _| out(d, 2, "{\"n\":1}")),
        case("select", Transform, RANGE, "fields = [\"value\"]", OUT, |d, _| out(d, 6, "{\"value\":5}")),
        case("rename", Transform, RANGE, "fields = { value = \"n\" }", OUT, |d, _| out(d, 6, "{\"n\":5}")),
        case("filter", Transform, RANGE, "expr = \"value >= 3\"", OUT, |d, _| out(d, 3, "{\"value\":3}")),
        case("remap", Transform, RANGE, "fields = { twice = \"value * 2\" }", OUT, |d, _| out(d, 6, "{\"twice\":10,\"value\":5}")),
        case("regex_extract", Transform, "[[stage]]\nop = \"lines\"\npath = \"in.txt\"\n", "pattern = '(?P<letter>\\w)'", OUT, |d, _| out(d, 3, "\"letter\":\"b\"")),
        case("hash", Transform, RANGE, "fields = [\"value\"]\nalgorithm = \"xxh3\"", OUT, |d, _| out(d, 6, "\"hash\":\"")),
        case("compress", Transform, TEXT_FILE, "codec = \"gzip\"", OUT, |d, _| out(d, 1, "bytes[")),
        case("decompress", Transform, "[[stage]]\nop = \"files\"\npath = \"in.txt\"\n\n[[stage]]\nop = \"compress\"\ncodec = \"zstd\"\n", "codec = \"zstd\"", OUT, |d, _| out(d, 1, "bytes[6]")),
        // Data-pipeline stages.
        case("batch", Transform, RANGE, "size = 4", OUT, |d, _| out(d, 2, "\"size\":2")),
        case("unbatch", Transform, "[[stage]]\nop = \"range\"\nend = 6\n\n[[stage]]\nop = \"batch\"\nsize = 4\n", "", OUT, |d, _| out(d, 6, "{\"value\":5}")),
        case("shuffle", Transform, RANGE, "buffer_size = 4\nseed = 3", OUT, |d, _| out(d, 6, "{\"value\":5}")),
        case("prefetch", Transform, RANGE, "size = 8", OUT, |d, _| out(d, 6, "{\"value\":5}")),
        case("repeat", Transform, RANGE, "epochs = 2", OUT, |d, _| out(d, 12, "{\"epoch\":1,\"value\":5}")),
        case("take", Transform, RANGE, "count = 2", OUT, |d, _| out(d, 2, "{\"value\":1}")),
        case("skip", Transform, RANGE, "count = 2", OUT, |d, _| out(d, 4, "{\"value\":2}")),
        // Image stages.
        case("image_decode", Transform, "[[stage]]\nop = \"files\"\npath = \"img.png\"\n", "", OUT, |d, _| out(d, 1, "image[4x4]")),
        case("image_encode", Transform, IMAGE, "format = \"jpeg\"", OUT, |d, _| out(d, 1, "bytes[")),
        case("resize", Transform, IMAGE, "width = 2\nheight = 3", OUT, |d, _| out(d, 1, "image[2x3]")),
        case("crop", Transform, IMAGE, "width = 2\nheight = 2", OUT, |d, _| out(d, 1, "image[2x2]")),
        case("flip", Transform, IMAGE, "horizontal = 1.0", OUT, |d, _| out(d, 1, "image[4x4]")),
        case("normalize", Transform, IMAGE, "mean = [0.5, 0.5, 0.5]\nstd = [0.25, 0.25, 0.25]", OUT, |d, _| out(d, 1, "tensor[3, 4, 4]")),
        case("to_tensor", Transform, IMAGE, "channels = 1", OUT, |d, _| out(d, 1, "tensor[1, 4, 4]")),
        // Work done elsewhere, and simulated work.
        case("exec", Transform, RANGE, "command = [\"cat\"]", OUT, |d, _| out(d, 6, "{\"value\":5}")),
        case("delay", Transform, RANGE, "ms = 1", OUT, |d, _| out(d, 6, "{\"value\":5}")),
        case("spin", Transform, RANGE, "iterations = 0", OUT, |d, _| out(d, 6, "{\"value\":5}")),
        // Sinks.
        case("stdout", Sink, RANGE, "", "", |_, printed| contains(printed, "{\"value\":0}\n{\"value\":1}\n")),
        case("jsonl", Sink, RANGE, "path = \"out.jsonl\"", "", |d, _| out(d, 6, "{\"value\":5}")),
        case("csv", Sink, RANGE, "path = \"out.csv\"", "", |d, _| {
            let text = std::fs::read_to_string(d.join("out.csv")).map_err(|e| e.to_string())?;
            contains(&text, "value\n0\n1\n2\n3\n4\n5\n")
        }),
        case("parquet", Sink, RANGE, "path = \"out.parquet\"", "", |d, _| starts_with(&d.join("out.parquet"), b"PAR1")),
        case("arrow", Sink, RANGE, "path = \"out.arrow\"", "", |d, _| starts_with(&d.join("out.arrow"), b"ARROW1")),
        case("files", Sink, RANGE, "path = \"out\"\nfield = \"value\"", "", |d, _| {
            let text = std::fs::read_to_string(d.join("out/5")).map_err(|e| e.to_string())?;
            contains(&text, "{\"value\":5}")
        }),
        case("npy", Sink, TENSOR, "path = \"out.npy\"", "", |d, _| starts_with(&d.join("out.npy"), b"\x93NUMPY")),
        case("safetensors", Sink, TENSOR, "path = \"out.safetensors\"", "", |d, _| {
            let bytes = std::fs::read(d.join("out.safetensors")).map_err(|e| e.to_string())?;
            contains(&String::from_utf8_lossy(&bytes), "\"data\":{\"dtype\":\"F32\",\"shape\":[1,3,4,4]")
        }),
        case("webdataset", Sink, IMAGE, "path = \"out-%d.tar\"", "", |d, _| {
            let bytes = std::fs::read(d.join("out-0.tar")).map_err(|e| e.to_string())?;
            contains(&String::from_utf8_lossy(&bytes), "000000000.png")
        }),
        case("discard", Sink, RANGE, "", "", |_, printed| {
            printed.is_empty().then_some(()).ok_or_else(|| format!("printed {printed}"))
        }),
        case("count", Sink, RANGE, "", "", |_, printed| contains(printed, "count: 6")),
    ]
}

/// Runs one case in a fresh folder: `Err` says what went wrong.
fn run(case: &Case) -> Result<(), String> {
    let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
    write(dir.path(), "in.txt", "a\nb\nc\n");
    write(dir.path(), "in.csv", "name,n\nx,1\ny,2\n");
    write(dir.path(), "in.jsonl", "{\"n\":1}\n{\"n\":2}\n");
    std::fs::write(dir.path().join("img.png"), PNG).map_err(|e| e.to_string())?;
    std::fs::write(dir.path().join("in.idx"), IDX).map_err(|e| e.to_string())?;
    // A WebDataset shard of one sample, `in`, with a `txt` member.
    let tarred = std::process::Command::new("tar")
        .args(["cf", "in.tar", "in.txt"])
        .current_dir(dir.path())
        .status()
        .map_err(|e| e.to_string())?;
    if !tarred.success() {
        return Err("tar failed".into());
    }
    if case.kind == OpKind::Source && ["parquet", "arrow"].contains(&case.op) {
        convert(dir.path(), case.op)?;
    }
    let mut text = String::from(case.before);
    text.push_str(&format!(
        "\n[[stage]]\nop = \"{}\"\n{}\n",
        case.op, case.params
    ));
    if !case.after.is_empty() {
        text.push('\n');
        text.push_str(case.after);
    }
    let file = write(dir.path(), "p.toml", &text);
    let output = baton()
        .args(["run", "--quiet"])
        .arg(&file)
        .write_stdin("from stdin\nand more\n")
        .output()
        .map_err(|e| e.to_string())?;
    if !output.status.success() {
        return Err(format!("`baton run` failed: {}\n{text}", stderr(&output)));
    }
    (case.check)(dir.path(), &stdout(&output)).map_err(|e| format!("{e}\n{text}"))
}

#[test]
fn every_op_of_the_registry_runs_in_a_pipeline_file() {
    let cases = cases();
    let mut problems = Vec::new();
    for op in baton_ops::all() {
        if op.name == "python" {
            // It calls a Python function, so it runs from Python: the
            // pytest `test_the_worked_example_of_python_runs_from_python`
            // runs it there, and `op_examples` checks that `baton run`
            // refuses it saying so.
            continue;
        }
        let mine: Vec<&Case> = cases
            .iter()
            .filter(|c| c.op == op.name && c.kind == op.kind)
            .collect();
        match mine.as_slice() {
            [] => problems.push(format!(
                "{} `{}` has no case here: add one to `cases()`",
                op.kind, op.name
            )),
            [case] => {
                if let Err(problem) = run(case) {
                    problems.push(format!("{} `{}`: {problem}", op.kind, op.name));
                }
            }
            _ => problems.push(format!("{} `{}` has two cases", op.kind, op.name)),
        }
    }
    for case in &cases {
        if baton_ops::find_kind(case.op, case.kind).is_none() {
            problems.push(format!(
                "the case of {} `{}` names no op",
                case.kind, case.op
            ));
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n\n"));
}
