//! Every op's worked example, as `baton ops NAME --format json` gives it,
//! is a pipeline that works: it uses the op where its kind belongs, `baton
//! check` takes it, and `baton run` runs it to the end on small real input
//! files, the ones a user of it would have (`data/orders.csv`,
//! `photos/*.jpg`, `mnist/*.gz`, `shards/*.tar`, ...), and its sink makes
//! something. All of them run, `exec` with an inline Python worker
//! (`python3` must be installed, as for `tests/exec.rs`) and `stdin` fed
//! the events file; only `discard`'s output cannot be looked at, as it
//! keeps none by design.

mod common;

use std::collections::HashMap;
use std::io::{Cursor, Write};
use std::path::Path;

use baton_ops::{OpDef, OpKind, ParamRole};
use common::{baton, stderr, stdout, write};

/// Order exports: ids with leading zeros, a decimal price, an optional coupon.
const ORDERS: &str = "\
order_id,customer,country,price,qty,status,coupon
00101,Ana Lima,PT,24.50,2,paid,
00102,Ben Okafor,NG,129.90,1,paid,SPRING10
00103,Chloe Martin,FR,8.75,6,refunded,NA
00104,Dev Patel,IN,310.00,1,paid,
00105,Eva Novak,CZ,45.20,3,pending,NA
00106,Femi Adeyemi,NG,17.99,4,paid,SPRING10
00107,Gus Larsen,DK,220.00,2,paid,
00108,Hana Sato,JP,12.30,10,refunded,
";

/// Click-stream events, as JSON lines (also what `stdin` is fed).
const EVENTS: &str = r#"{"ts":"2024-05-01T10:00:01Z","user":"ana","event":"view","page":"/home","ms":84}
{"ts":"2024-05-01T10:00:03Z","user":"ana","event":"click","page":"/shoes","ms":132}
{"ts":"2024-05-01T10:00:04Z","user":"ben","event":"view","page":"/home","ms":97}
{"ts":"2024-05-01T10:00:09Z","user":"ana","event":"purchase","page":"/checkout","ms":410}
{"ts":"2024-05-01T10:00:12Z","user":"chloe","event":"click","page":"/bags","ms":65}
{"ts":"2024-05-01T10:00:15Z","user":"ben","event":"click","page":"/shoes","ms":143}
{"ts":"2024-05-01T10:00:21Z","user":"dev","event":"view","page":"/home","ms":77}
{"ts":"2024-05-01T10:00:30Z","user":"ben","event":"purchase","page":"/checkout","ms":388}
{"ts":"2024-05-01T10:00:41Z","user":"chloe","event":"view","page":"/bags","ms":91}
{"ts":"2024-05-01T10:00:47Z","user":"dev","event":"click","page":"/hats","ms":120}
"#;

/// A web server's access log (common log format), health checks and errors included.
const ACCESS_LOG: &str = r#"203.0.113.7 - - [01/May/2024:10:00:00 +0000] "GET /home HTTP/1.1" 200 5120
10.0.0.2 - - [01/May/2024:10:00:01 +0000] "GET /health HTTP/1.1" 200 2
198.51.100.4 - - [01/May/2024:10:00:02 +0000] "POST /api/orders HTTP/1.1" 503 312
203.0.113.7 - - [01/May/2024:10:00:03 +0000] "GET /shoes HTTP/1.1" 200 8410
10.0.0.2 - - [01/May/2024:10:00:11 +0000] "GET /health HTTP/1.1" 200 2
192.0.2.44 - - [01/May/2024:10:00:12 +0000] "GET /api/cart HTTP/1.1" 500 128
198.51.100.4 - - [01/May/2024:10:00:15 +0000] "GET /bags HTTP/1.1" 404 230
"#;

/// An application's JSON log lines (gzipped into `logs/app.log.gz`).
const APP_LOG: &str = r#"{"ts":"2024-05-01T10:00:02Z","level":"info","service":"api","msg":"user=ana code=200 order placed"}
{"ts":"2024-05-01T10:00:05Z","level":"error","service":"api","msg":"user=ben code=503 upstream timeout"}
{"ts":"2024-05-01T10:00:07Z","level":"warn","service":"cart","msg":"user=chloe code=429 slow down"}
{"ts":"2024-05-01T10:00:09Z","level":"error","service":"cart","msg":"user=dev code=500 cart not found"}
"#;

/// How many photos, MNIST samples.
const PHOTOS: u32 = 4;
const DIGITS: u32 = 10;

/// `bytes` gzipped.
fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    encoder.write_all(bytes).unwrap();
    encoder.finish().unwrap()
}

/// A 64x48 JPEG photo, a gradient that differs with `n`.
fn photo(n: u32) -> Vec<u8> {
    let image = image::RgbImage::from_fn(64, 48, |x, y| {
        image::Rgb([(x * 4 + n * 40) as u8, (y * 5) as u8, (n * 60) as u8])
    });
    let mut bytes = Cursor::new(Vec::new());
    image
        .write_to(&mut bytes, image::ImageFormat::Jpeg)
        .unwrap();
    bytes.into_inner()
}

/// MNIST as it is downloaded: gzipped IDX files of 28x28 grey images and
/// of their labels.
fn mnist() -> (Vec<u8>, Vec<u8>) {
    let mut images = vec![0, 0, 8, 3];
    for dimension in [DIGITS, 28, 28] {
        images.extend(dimension.to_be_bytes());
    }
    images.extend((0..DIGITS * 28 * 28).map(|i| (i * 7 % 256) as u8));
    let mut labels = vec![0, 0, 8, 1];
    labels.extend(DIGITS.to_be_bytes());
    labels.extend((0..DIGITS).map(|i| (i % 10) as u8));
    (gzip(&images), gzip(&labels))
}

/// Runs `text` as a pipeline file in `dir` (to make inputs with baton itself).
fn run_in(dir: &Path, text: &str) {
    let file = write(dir, "make-input.toml", text);
    let output = baton()
        .args(["run", "--quiet"])
        .arg(&file)
        .output()
        .unwrap();
    assert!(output.status.success(), "{}\n{text}", stderr(&output));
    std::fs::remove_file(file).unwrap();
}

/// Makes in `dir` every input file the examples name.
fn make_inputs(dir: &Path) {
    write(dir, "data/orders.csv", ORDERS);
    write(dir, "data/events.jsonl", EVENTS);
    write(dir, "logs/access.log", ACCESS_LOG);
    let put = |name: &str, bytes: &[u8]| {
        let path = dir.join(name);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, bytes).unwrap();
    };
    put("logs/app.log.gz", &gzip(APP_LOG.as_bytes()));
    let photos: Vec<Vec<u8>> = (0..PHOTOS).map(photo).collect();
    for (n, jpeg) in photos.iter().enumerate() {
        put(&format!("photos/IMG_{:04}.jpg", n + 1), jpeg);
    }
    let (images, labels) = mnist();
    put("mnist/train-images-idx3-ubyte.gz", &images);
    put("mnist/train-labels-idx1-ubyte.gz", &labels);
    // The columnar formats, written by baton from the CSV.
    for format in ["parquet", "arrow"] {
        run_in(
            dir,
            &format!(
                "[[stage]]\nop = \"csv\"\npath = \"data/orders.csv\"\n\n\
                 [[stage]]\nop = \"{format}\"\npath = \"data/orders.{format}\"\n"
            ),
        );
    }
    // WebDataset shards of two samples each: <key>.jpg and <key>.cls.
    let members = tempfile::tempdir().unwrap();
    for shard in 0..PHOTOS / 2 {
        let mut names = Vec::new();
        for n in shard * 2..shard * 2 + 2 {
            let key = format!("{n:06}");
            std::fs::write(
                members.path().join(format!("{key}.jpg")),
                &photos[n as usize],
            )
            .unwrap();
            write(
                members.path(),
                &format!("{key}.cls"),
                &format!("{}\n", n % 3),
            );
            names.extend([format!("{key}.jpg"), format!("{key}.cls")]);
        }
        let tar = dir.join(format!("shards/train-{shard:06}.tar"));
        std::fs::create_dir_all(tar.parent().unwrap()).unwrap();
        let status = std::process::Command::new("tar")
            .arg("cf")
            .arg(&tar)
            .args(&names)
            .current_dir(members.path())
            .status()
            .unwrap();
        assert!(status.success(), "tar failed");
    }
}

/// Copies the folder `from` into `to`, sub-folders too.
fn copy_folder(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_folder(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), target).unwrap();
        }
    }
}

/// Whether `path` is a non-empty file, or a folder holding one.
fn holds_something(path: &Path) -> bool {
    if path.is_dir() {
        std::fs::read_dir(path)
            .unwrap()
            .any(|entry| holds_something(&entry.unwrap().path()))
    } else {
        std::fs::metadata(path).is_ok_and(|meta| meta.len() > 0)
    }
}

/// The first file of a numbered series (`shards/train-%06d.tar` gives
/// `shards/train-000000.tar`); any other path as it is.
fn first_of_series(path: &str) -> String {
    let Some((before, after)) = path.split_once('%') else {
        return path.to_string();
    };
    let digits: String = after.chars().take_while(char::is_ascii_digit).collect();
    let width = digits.parse().unwrap_or(0);
    let rest = after[digits.len()..].strip_prefix('d').unwrap_or(after);
    format!("{before}{:0width$}{rest}", 0)
}

/// The ops of the example's stages, in order, and its sink's table.
fn stages(example: &str) -> Result<(Vec<String>, toml::Table), String> {
    let file: toml::Table = toml::from_str(example).map_err(|e| format!("not TOML: {e}"))?;
    let stages = file
        .get("stage")
        .and_then(|stages| stages.as_array())
        .ok_or("no [[stage]] tables")?;
    let ops = stages
        .iter()
        .map(|stage| stage.get("op").and_then(|op| op.as_str()).map(String::from))
        .collect::<Option<Vec<_>>>()
        .ok_or("a stage without `op`")?;
    let sink = stages
        .last()
        .and_then(|stage| stage.as_table())
        .cloned()
        .ok_or("no sink")?;
    Ok((ops, sink))
}

/// Checks and runs the example of `op` in a copy of `inputs`: `Err` says
/// what is wrong.
fn try_example(op: &OpDef, example: &str, inputs: &Path) -> Result<(), String> {
    // (a) A comment on top, and the op where its kind belongs.
    if !example.starts_with("# ") {
        return Err("it does not start with a `#` comment saying what it does".into());
    }
    let (ops, sink) = stages(example)?;
    let in_place = match op.kind {
        OpKind::Source => ops.first().is_some_and(|first| first == op.name),
        OpKind::Sink => ops.last().is_some_and(|last| last == op.name),
        OpKind::Transform => ops.len() > 2 && ops[1..ops.len() - 1].iter().any(|o| o == op.name),
    };
    if !in_place || ops.len() < 2 {
        return Err(format!(
            "it does not use the {} in its place: {ops:?}",
            op.kind
        ));
    }

    // (b) `baton check` takes it, with no warning.
    let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
    copy_folder(inputs, dir.path());
    let file = write(dir.path(), &format!("{}.toml", op.name), example);
    let output = baton().arg("check").arg(&file).output().unwrap();
    let shown = format!("{}{}", stdout(&output), stderr(&output));
    if !output.status.success() || shown.contains("warning") {
        return Err(format!("`baton check` says:\n{shown}"));
    }

    // (c) `python` calls a Python function: it runs from Python (the
    // pytest `test_the_worked_example_of_python_runs_from_python` runs
    // it there), and `baton run` refuses it saying so.
    if op.name == "python" {
        let output = baton()
            .args(["run", "--quiet"])
            .arg(&file)
            .output()
            .unwrap();
        let said = stderr(&output);
        if output.status.success() || !said.contains("from Python") || !said.contains("function") {
            return Err(format!(
                "`baton run` should refuse it from Python's side:\n{said}"
            ));
        }
        return Ok(());
    }

    // (c) `baton run` runs it, with no warning, and its sink makes something.
    let output = baton()
        .args(["run", "--quiet"])
        .arg(&file)
        .write_stdin(EVENTS)
        .output()
        .unwrap();
    let printed = stdout(&output);
    if !output.status.success() || stderr(&output).contains("warning") {
        return Err(format!("`baton run` says:\n{}", stderr(&output)));
    }
    let sink_name = sink["op"].as_str().unwrap_or_default();
    let sink_def = baton_ops::find_kind(sink_name, OpKind::Sink)
        .ok_or_else(|| format!("`{sink_name}` is no sink"))?;
    let outputs: Vec<&str> = sink_def
        .params
        .iter()
        .filter(|param| matches!(param.role, ParamRole::Output | ParamRole::OutputFolder))
        .filter_map(|param| sink.get(param.name).and_then(|path| path.as_str()))
        .collect();
    for path in &outputs {
        if !path.starts_with("out/") {
            return Err(format!("its output `{path}` is not under out/"));
        }
        if !holds_something(&dir.path().join(first_of_series(path))) {
            return Err(format!("`baton run` made nothing in `{path}`"));
        }
    }
    // A sink without a file prints what it makes (`stdout`, `count`),
    // except `discard`, which keeps nothing by design.
    if outputs.is_empty() && sink_name != "discard" && printed.trim().is_empty() {
        return Err("`baton run` printed nothing".into());
    }
    Ok(())
}

#[test]
fn every_op_has_a_worked_example_that_checks_and_runs() {
    let output = baton().args(["ops", "--format", "json"]).output().unwrap();
    assert!(output.status.success(), "{}", stderr(&output));
    let listed: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    let examples: HashMap<(String, String), String> = listed
        .as_array()
        .unwrap()
        .iter()
        .map(|op| {
            let text = |key: &str| op[key].as_str().unwrap_or_default().to_string();
            ((text("kind"), text("name")), text("example"))
        })
        .collect();

    let inputs = tempfile::tempdir().unwrap();
    make_inputs(inputs.path());
    let mut problems = Vec::new();
    for op in baton_ops::all() {
        let key = (op.kind.to_string(), op.name.to_string());
        let example = examples.get(&key).map(String::as_str).unwrap_or_default();
        if example.is_empty() {
            problems.push(format!(
                "{} `{}` has no example in `baton ops --format json`",
                op.kind, op.name
            ));
        } else if let Err(problem) = try_example(op, example, inputs.path()) {
            problems.push(format!(
                "the example of {} `{}`: {problem}",
                op.kind, op.name
            ));
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n\n"));
}

#[test]
fn a_missing_input_or_an_output_that_stays_empty_fails_an_example() {
    // The test above can only pass with good examples: here, bad ones fail it.
    let inputs = tempfile::tempdir().unwrap();
    make_inputs(inputs.path());
    let rename = baton_ops::find("rename").unwrap();
    let example = rename.example();
    assert!(try_example(rename, example, inputs.path()).is_ok());

    let missing = example.replace("data/orders.csv", "data/no-such.csv");
    let problem = try_example(rename, &missing, inputs.path()).unwrap_err();
    assert!(problem.contains("`baton check` says"), "{problem}");

    let sink = "[[stage]]\nop = \"jsonl\"";
    let nothing = example.replace(
        sink,
        &format!("[[stage]]\nop = \"take\"\ncount = 0\n\n{sink}"),
    );
    assert_ne!(nothing, example);
    let problem = try_example(rename, &nothing, inputs.path()).unwrap_err();
    assert!(problem.contains("made nothing"), "{problem}");

    let elsewhere = example.replace("op = \"rename\"", "op = \"select\"");
    let problem = try_example(rename, &elsewhere, inputs.path()).unwrap_err();
    assert!(problem.contains("in its place"), "{problem}");
}
