//! Built-in stages put together on the engine, as a pipeline file would:
//! each built from its parameters through the registry, then added with
//! each attaching itself to a stage of an engine pipeline, as
//! `baton-config` does it.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::Path;
use std::sync::mpsc;
use std::time::Duration;

use baton_engine::{Mode, Pipeline, PipelineError};
use baton_ops::{BuiltOp, BuiltSource, BuiltStage, OpKind, Params, SinkFactory};

/// Runs `body` on a thread of its own and fails the test if it takes longer than a minute.
fn watchdog<T: Send + 'static>(body: impl FnOnce() -> T + Send + 'static) -> T {
    let (tx, rx) = mpsc::channel();
    let worker = std::thread::spawn(move || {
        let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(body));
        let _ = tx.send(result);
    });
    match rx.recv_timeout(Duration::from_secs(60)) {
        Ok(result) => {
            let _ = worker.join();
            result.unwrap_or_else(|panic| std::panic::resume_unwind(panic))
        }
        Err(_) => panic!("the pipeline did not finish within a minute"),
    }
}

/// Builds the op `name` of kind `kind` from parameters written as TOML, relative to `dir`.
fn build(name: &str, kind: OpKind, toml: &str, dir: &Path) -> BuiltOp {
    let op = baton_ops::find_kind(name, kind).unwrap_or_else(|| panic!("no {kind} `{name}`"));
    let values: BTreeMap<String, toml::Value> =
        toml.parse::<toml::Table>().unwrap().into_iter().collect();
    (op.build)(&Params::new(values, dir)).unwrap_or_else(|e| panic!("`{name}`: {e}"))
}

fn source(name: &str, toml: &str, dir: &Path) -> BuiltSource {
    match build(name, OpKind::Source, toml, dir) {
        BuiltOp::Source(source) => source,
        other => panic!("`{name}` built {other:?}"),
    }
}

fn stage(name: &str, toml: &str, dir: &Path) -> BuiltStage {
    match build(name, OpKind::Transform, toml, dir) {
        BuiltOp::Stage(stage) => stage,
        other => panic!("`{name}` built {other:?}"),
    }
}

fn sink(name: &str, toml: &str, dir: &Path) -> SinkFactory {
    match build(name, OpKind::Sink, toml, dir) {
        BuiltOp::Sink(factory) => factory,
        other => panic!("`{name}` built {other:?}"),
    }
}

/// A gzip file of JSON log lines: one in four is a server error, one in
/// eight of those on `/health`.
fn write_log(dir: &Path, lines: usize) {
    let file = std::fs::File::create(dir.join("app.log.gz")).unwrap();
    let mut gz = flate2::write::GzEncoder::new(file, flate2::Compression::default());
    for i in 0..lines {
        let (level, status) = if i % 4 == 0 {
            ("error", 500 + i % 4)
        } else {
            ("info", 200)
        };
        let path = if i % 32 == 0 { "/health" } else { "/api" };
        writeln!(
            gz,
            r#"{{"level": "{level}", "status": {status}, "path": "{path}", "msg": "request {i}", "ms": {i}}}"#
        )
        .unwrap();
    }
    gz.finish().unwrap();
}

#[test]
fn lines_of_a_gzip_file_parsed_filtered_selected_and_written() {
    watchdog(|| {
        let temp = tempfile::tempdir().unwrap();
        let dir = temp.path();
        write_log(dir, 1000);

        let lines = source("lines", r#"path = "*.log.gz""#, dir)
            .into_rows()
            .unwrap();
        let parse = stage("json_parse", "", dir);
        let filter = stage(
            "filter",
            r#"expr = 'level == "error" && status >= 500 && path != "/health"'"#,
            dir,
        );
        let select = stage("select", r#"fields = ["msg", "status"]"#, dir);
        let write = sink("jsonl", r#"path = "out/errors.jsonl""#, dir);

        let pipeline = Pipeline::from_results(lines.items);
        let pipeline = parse.attach(pipeline.stage("json_parse", Mode::parallel(2)));
        let pipeline = filter.attach(pipeline.stage("filter", Mode::parallel(2)));
        let pipeline = select.attach(pipeline.stage("select", Mode::parallel(2)));
        let report = pipeline
            .stage("out", Mode::serial_in_order().blocking())
            .sink(write().unwrap())
            .unwrap();
        assert_eq!(report.stage("out").unwrap().items_in, 250 - 32);

        let text = std::fs::read_to_string(dir.join("out/errors.jsonl")).unwrap();
        let expected: String = (0..1000)
            .filter(|i| i % 4 == 0 && i % 32 != 0)
            .map(|i| format!("{{\"msg\":\"request {i}\",\"status\":500}}\n"))
            .collect();
        assert_eq!(text, expected, "in source order, only the selected fields");
    });
}

#[test]
fn a_bad_line_fails_the_run_naming_the_stage_the_item_and_the_field() {
    watchdog(|| {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("a.log"),
            "{\"a\": 1}\n{\"a\": 2\n{\"a\": 3}\n",
        )
        .unwrap();
        let lines = source("lines", r#"path = "a.log""#, dir.path())
            .into_rows()
            .unwrap();
        let parse = stage("json_parse", "", dir.path());
        let result = parse
            .attach(Pipeline::from_results(lines.items).stage("json_parse", Mode::parallel(2)))
            .collect();
        match result {
            Err(PipelineError::Stage { stage, seq, .. }) => {
                assert_eq!((stage.as_ref(), seq), ("json_parse", 1));
            }
            other => panic!("unexpected {other:?}"),
        }
        let lines = source("lines", r#"path = "a.log""#, dir.path())
            .into_rows()
            .unwrap();
        let error = stage("json_parse", "", dir.path())
            .attach(Pipeline::from_results(lines.items).stage("json_parse", Mode::parallel(2)))
            .collect()
            .unwrap_err()
            .to_string();
        assert!(error.contains("field `line` is not valid JSON"), "{error}");
    });
}

#[test]
fn files_compressed_then_decompressed_come_back_the_same() {
    watchdog(|| {
        let dir = tempfile::tempdir().unwrap();
        let input = dir.path().join("in");
        std::fs::create_dir(&input).unwrap();
        for i in 0..20 {
            std::fs::write(
                input.join(format!("{i}.txt")),
                format!("file {i}\n").repeat(i + 1),
            )
            .unwrap();
        }
        let files = source("files", r#"path = "in/*.txt""#, dir.path());
        let name = stage(
            "regex_extract",
            r#"field = "path"
pattern = '(?P<name>[0-9]+\.txt)$'"#,
            dir.path(),
        );
        let pack = stage("compress", r#"codec = "zstd""#, dir.path());
        let unpack = stage("decompress", r#"codec = "zstd""#, dir.path());
        let write = sink(
            "files",
            r#"path = "out"
field = "name""#,
            dir.path(),
        );
        let pipeline = Pipeline::from_results(files.items);
        let pipeline = name.attach(pipeline.stage("name", Mode::parallel(2)));
        let pipeline = pack.attach(pipeline.stage("compress", Mode::parallel(2)));
        let pipeline = unpack.attach(pipeline.stage("decompress", Mode::parallel(2)));
        pipeline
            .stage("out", Mode::serial().blocking())
            .sink(write().unwrap())
            .unwrap();
        for i in 0..20 {
            let name = format!("{i}.txt");
            assert_eq!(
                std::fs::read(dir.path().join("out").join(&name)).unwrap(),
                std::fs::read(input.join(&name)).unwrap(),
                "{name}"
            );
        }
    });
}

#[test]
fn every_op_of_the_families_is_registered() {
    let names: Vec<&str> = baton_ops::all().iter().map(|op| op.name).collect();
    for name in [
        "files",
        "lines",
        "csv",
        "jsonl",
        "stdin",
        "json_parse",
        "select",
        "rename",
        "filter",
        "regex_extract",
        "hash",
        "compress",
        "decompress",
        "stdout",
        "discard",
        "count",
    ] {
        assert!(names.contains(&name), "{name}");
    }
    // A source and a sink may share a name; a pipeline file tells them apart by position.
    for name in ["files", "csv", "jsonl"] {
        assert!(
            baton_ops::find_kind(name, OpKind::Source).is_some(),
            "{name}"
        );
        assert!(baton_ops::find_kind(name, OpKind::Sink).is_some(), "{name}");
    }
}
