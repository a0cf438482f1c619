use std::path::Path;
use std::sync::Arc;

use arrow_array::{ArrayRef, Float32Array, Int64Array, RecordBatch, StringArray};
use arrow_ipc::writer::{FileWriter, IpcWriteOptions, StreamWriter};
use baton_engine::{Mode, Pipeline};

use super::*;
use crate::testing::{params, read_chunks, read_source};

fn batch(from: i64, rows: i64) -> RecordBatch {
    let n = from..from + rows;
    RecordBatch::try_from_iter([
        (
            "n",
            Arc::new(Int64Array::from_iter_values(n.clone())) as ArrayRef,
        ),
        (
            "f",
            Arc::new(Float32Array::from_iter_values(
                n.clone().map(|n| n as f32 / 4.0),
            )) as ArrayRef,
        ),
        (
            "s",
            Arc::new(StringArray::from_iter(
                n.map(|n| (n % 4 != 0).then(|| format!("s{n}"))),
            )) as ArrayRef,
        ),
    ])
    .unwrap()
}

/// `count` batches of 50 rows in the file or stream format.
fn write(path: &Path, stream: bool, count: i64, options: IpcWriteOptions) -> Vec<RecordBatch> {
    let batches: Vec<RecordBatch> = (0..count).map(|i| batch(i * 50, 50)).collect();
    let file = File::create(path).unwrap();
    let schema = batches[0].schema();
    if stream {
        let mut writer = StreamWriter::try_new_with_options(file, &schema, options).unwrap();
        batches.iter().for_each(|b| writer.write(b).unwrap());
        writer.finish().unwrap();
    } else {
        let mut writer = FileWriter::try_new_with_options(file, &schema, options).unwrap();
        batches.iter().for_each(|b| writer.write(b).unwrap());
        writer.finish().unwrap();
    }
    batches
}

#[test]
fn file_and_stream_formats_are_told_apart_and_read_whole() {
    let dir = tempfile::tempdir().unwrap();
    let lz4 = IpcWriteOptions::default()
        .try_with_compression(Some(arrow_ipc::CompressionType::LZ4_FRAME))
        .unwrap();
    let in_file = write(&dir.path().join("a.feather"), false, 7, lz4);
    let in_stream = write(
        &dir.path().join("b.arrows"),
        true,
        3,
        IpcWriteOptions::default(),
    );
    let file = read_chunks(&DEF, &params(&DEF, "path = \"a.feather\"", dir.path()));
    assert_eq!(file, in_file);
    let stream = read_chunks(&DEF, &params(&DEF, "path = \"b.arrows\"", dir.path()));
    assert_eq!(stream, in_stream);
    let both = read_chunks(&DEF, &params(&DEF, "path = \"*\"", dir.path()));
    assert_eq!(both.len(), 10);
    // Told the wrong format, the file is an error naming it.
    let rows = read_source(
        &DEF,
        &params(
            &DEF,
            "path = \"a.feather\"\nformat = \"stream\"",
            dir.path(),
        ),
    );
    let at = format!(
        "{}: not an Arrow IPC stream",
        dir.path().join("a.feather").display()
    );
    assert!(rows[0].as_ref().unwrap_err().starts_with(&at), "{rows:?}");
}

#[test]
fn batches_read_in_parallel_come_out_in_order() {
    let dir = tempfile::tempdir().unwrap();
    let written = write(
        &dir.path().join("a.arrow"),
        false,
        40,
        IpcWriteOptions::default(),
    );
    let BuiltOp::Source(mut source) =
        (DEF.build)(&params(&DEF, "path = \"a.arrow\"", dir.path())).unwrap()
    else {
        panic!("a source")
    };
    let parse = source.parse.take().unwrap();
    let builder = Pipeline::from_results(source.items).stage("parse", Mode::parallel(4));
    let read: Vec<RecordBatch> = parse
        .attach(builder)
        .collect()
        .unwrap()
        .into_iter()
        .map(|item| match item.payload {
            Payload::Records(batch) => batch,
            _ => panic!("records"),
        })
        .collect();
    assert_eq!(read, written);
}

#[test]
fn columns_reads_those_in_order_and_an_unknown_one_names_the_file() {
    let dir = tempfile::tempdir().unwrap();
    write(
        &dir.path().join("a.arrow"),
        false,
        2,
        IpcWriteOptions::default(),
    );
    write(
        &dir.path().join("b.arrows"),
        true,
        2,
        IpcWriteOptions::default(),
    );
    for name in ["a.arrow", "b.arrows"] {
        let toml = format!("path = {name:?}\ncolumns = [\"s\", \"n\"]");
        let chunks = read_chunks(&DEF, &params(&DEF, &toml, dir.path()));
        let names: Vec<String> = chunks[0]
            .schema()
            .fields()
            .iter()
            .map(|f| f.name().clone())
            .collect();
        assert_eq!(names, ["s", "n"], "{name}");
        let toml = format!("path = {name:?}\ncolumns = [\"n\", \"x\"]");
        let rows = read_source(&DEF, &params(&DEF, &toml, dir.path()));
        let expected = format!(
            "{}: no column `x` (its columns: n, f, s)",
            dir.path().join(name).display()
        );
        assert_eq!(rows, [Err(expected)]);
    }
}

#[test]
fn a_file_that_is_not_arrow_or_is_cut_short_is_named() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("text.arrow"), "a,b\n1,2\n").unwrap();
    write(
        &dir.path().join("whole.arrow"),
        false,
        5,
        IpcWriteOptions::default(),
    );
    let bytes = std::fs::read(dir.path().join("whole.arrow")).unwrap();
    std::fs::write(dir.path().join("cut.arrow"), &bytes[..bytes.len() / 2]).unwrap();
    for (name, what) in [("text.arrow", "stream"), ("cut.arrow", "file")] {
        let rows = read_source(&DEF, &params(&DEF, &format!("path = {name:?}"), dir.path()));
        let message = rows
            .iter()
            .find_map(|r| r.as_ref().err())
            .expect("an error");
        let at = format!(
            "{}: not an Arrow IPC {what}",
            dir.path().join(name).display()
        );
        assert!(message.starts_with(&at), "{message}");
    }
}

#[test]
fn a_stream_cut_short_ends_at_its_bad_batch_with_an_error() {
    let dir = tempfile::tempdir().unwrap();
    write(
        &dir.path().join("whole.arrows"),
        true,
        6,
        IpcWriteOptions::default(),
    );
    let bytes = std::fs::read(dir.path().join("whole.arrows")).unwrap();
    std::fs::write(dir.path().join("cut.arrows"), &bytes[..bytes.len() * 2 / 3]).unwrap();
    let rows = read_source(&DEF, &params(&DEF, "path = \"cut.arrows\"", dir.path()));
    let errors: Vec<&String> = rows.iter().filter_map(|r| r.as_ref().err()).collect();
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert!(errors[0].starts_with(&dir.path().join("cut.arrows").display().to_string()));
    assert!(rows.len() >= 150 && rows.len() < 300, "{}", rows.len());
}
