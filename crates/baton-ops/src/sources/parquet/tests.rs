use std::path::Path;

use arrow_array::{Float64Array, Int64Array, StringArray};
use baton_engine::{Mode, Pipeline};
use parquet::arrow::ArrowWriter;
use parquet::file::properties::WriterProperties;

use super::*;
use crate::testing::{params, read_source};

/// `rows` rows (`n` from `start`, a float, a text with nulls) written to
/// `path` in row groups of `group_rows`.
fn write_numbers(path: &Path, start: i64, rows: i64, group_rows: usize) {
    let n: Vec<i64> = (start..start + rows).collect();
    let half: Vec<f64> = n.iter().map(|n| *n as f64 / 2.0).collect();
    let word: Vec<Option<String>> = n
        .iter()
        .map(|n| (n % 5 != 0).then(|| format!("w{}", n % 7)))
        .collect();
    let batch = RecordBatch::try_from_iter([
        ("n", Arc::new(Int64Array::from(n)) as ArrayRef),
        ("half", Arc::new(Float64Array::from(half)) as ArrayRef),
        ("word", Arc::new(StringArray::from(word)) as ArrayRef),
    ])
    .unwrap();
    let props = WriterProperties::builder()
        .set_max_row_group_row_count(Some(group_rows))
        .build();
    let file = File::create(path).unwrap();
    let mut writer = ArrowWriter::try_new(file, batch.schema(), Some(props)).unwrap();
    writer.write(&batch).unwrap();
    writer.close().unwrap();
}

fn source(toml: &str, dir: &Path) -> BuiltSource {
    match (DEF.build)(&params(&DEF, toml, dir)) {
        Ok(BuiltOp::Source(source)) => source,
        other => panic!("{other:?}"),
    }
}

/// The rows a pipeline gives with the parse stage on `replicas` replicas.
fn rows_through_engine(toml: &str, dir: &Path, replicas: usize) -> Vec<Item> {
    let mut source = source(toml, dir);
    let parse = source.parse.take().unwrap();
    let builder = Pipeline::from_results(source.items).stage("parse", Mode::parallel(replicas));
    let chunks = parse.attach(builder).collect().unwrap();
    chunks.iter().flat_map(Item::rows).collect()
}

#[test]
fn row_groups_decoded_in_parallel_come_out_as_serially_in_order() {
    let dir = tempfile::tempdir().unwrap();
    write_numbers(&dir.path().join("a.parquet"), 0, 5_000, 97);
    write_numbers(&dir.path().join("b.parquet"), 5_000, 3_000, 1_000);
    let toml = "path = \"*.parquet\"\nbatch_rows = 40";
    let serial: Vec<Item> = read_source(&DEF, &params(&DEF, toml, dir.path()))
        .into_iter()
        .map(Result::unwrap)
        .collect();
    assert_eq!(serial.len(), 8_000);
    for (i, row) in serial.iter().enumerate() {
        assert_eq!(row.get("n").unwrap(), i);
    }
    assert_eq!(serial[3].get("half").unwrap(), 1.5);
    assert_eq!(serial[5].get("word").unwrap(), &serde_json::Value::Null);
    assert_eq!(serial[6].get("word").unwrap(), "w6");
    let parallel = rows_through_engine(toml, dir.path(), 4);
    assert_eq!(parallel, serial);
}

#[test]
fn a_chunk_holds_at_most_batch_rows() {
    let dir = tempfile::tempdir().unwrap();
    write_numbers(&dir.path().join("a.parquet"), 0, 1_000, 1_000);
    let mut source = source("path = \"a.parquet\"\nbatch_rows = 300", dir.path());
    let mut decode = source.parse.take().unwrap().replica().unwrap();
    let mut chunks = Vec::new();
    for item in source.items {
        decode.process(item.unwrap(), &mut chunks).unwrap();
    }
    let sizes: Vec<usize> = chunks
        .iter()
        .map(|c| match &c.payload {
            Payload::Records(batch) => batch.num_rows(),
            _ => 0,
        })
        .collect();
    assert_eq!(sizes, [300, 300, 300, 100]);
}

#[test]
fn columns_decodes_only_those_in_their_order() {
    let dir = tempfile::tempdir().unwrap();
    write_numbers(&dir.path().join("a.parquet"), 0, 10, 4);
    let rows = read_source(
        &DEF,
        &params(
            &DEF,
            "path = \"a.parquet\"\ncolumns = [\"word\", \"n\"]",
            dir.path(),
        ),
    );
    let row = rows[1].as_ref().unwrap();
    assert_eq!(row.fields.keys().collect::<Vec<_>>(), ["n", "word"]);
    assert_eq!(
        serde_json::Value::Object(row.fields.clone()),
        serde_json::json!({"n": 1, "word": "w1"})
    );
    let mut source = source(
        "path = \"a.parquet\"\ncolumns = [\"word\", \"n\"]",
        dir.path(),
    );
    let mut decode = source.parse.take().unwrap().replica().unwrap();
    let mut chunks = Vec::new();
    decode
        .process(source.items.next().unwrap().unwrap(), &mut chunks)
        .unwrap();
    let Payload::Records(batch) = &chunks[0].payload else {
        panic!("records")
    };
    let names: Vec<&str> = batch
        .schema_ref()
        .fields()
        .iter()
        .map(|f| f.name().as_str())
        .collect();
    assert_eq!(names, ["word", "n"]);
}

#[test]
fn an_unknown_column_names_the_file_and_the_column_unless_optional() {
    let dir = tempfile::tempdir().unwrap();
    write_numbers(&dir.path().join("a.parquet"), 0, 10, 4);
    let rows = read_source(
        &DEF,
        &params(
            &DEF,
            "path = \"a.parquet\"\ncolumns = [\"n\", \"nope\"]",
            dir.path(),
        ),
    );
    let expected = format!(
        "{}: no column `nope` (its columns: n, half, word)",
        dir.path().join("a.parquet").display()
    );
    assert_eq!(rows, [Err(expected)]);
    let rows = read_source(
        &DEF,
        &params(
            &DEF,
            "path = \"a.parquet\"\ncolumns = [\"nope\", \"n\"]\ncolumns_optional = true",
            dir.path(),
        ),
    );
    assert_eq!(rows.len(), 10);
    assert_eq!(rows[9].as_ref().unwrap(), &Item::with_field("n", 9));
}

/// The rows of a source that a compiled filter keeps.
fn filtered(toml: &str, dir: &Path, expr: &str) -> (usize, Vec<Item>) {
    let predicate = Predicate::compile(expr).unwrap();
    let mut source = source(toml, dir);
    let mut decode = source.parse.take().unwrap().replica().unwrap();
    let (mut groups, mut rows) = (0, Vec::new());
    for item in source.items {
        groups += 1;
        let mut chunks = Vec::new();
        decode.process(item.unwrap(), &mut chunks).unwrap();
        for chunk in chunks {
            let Payload::Records(batch) = chunk.payload else {
                panic!("records")
            };
            rows.extend(Item::records(predicate.filter(&batch).unwrap()).rows());
        }
    }
    (groups, rows)
}

#[test]
fn where_skips_row_groups_and_the_filtered_rows_are_the_same() {
    let dir = tempfile::tempdir().unwrap();
    write_numbers(&dir.path().join("a.parquet"), 0, 1_000, 100);
    let cases = [
        ("n >= 250 && n < 420", 3),
        ("n < 0 || n > 10000", 0),
        ("n == 999", 1),
        ("500 <= n && half < 260.0", 1),
        ("word == \"w3\"", 10),
        ("word == \"zz\"", 0),
        ("n % 7 == 0", 10),
        ("n > 950 || word == \"w1\"", 10),
        ("n != 5", 10),
    ];
    for (expr, groups) in cases {
        let all = filtered("path = \"a.parquet\"", dir.path(), expr);
        assert_eq!(all.0, 10);
        let toml = format!("path = \"a.parquet\"\nwhere = {expr:?}");
        let pruned = filtered(&toml, dir.path(), expr);
        assert_eq!(pruned.0, groups, "{expr}: row groups read");
        assert_eq!(pruned.1, all.1, "{expr}: the same rows");
    }
}

#[test]
fn a_where_that_cannot_be_checked_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    write_numbers(&dir.path().join("a.parquet"), 0, 10, 4);
    let error = crate::testing::build_error(
        &DEF,
        &params(
            &DEF,
            "path = \"a.parquet\"\nwhere = \"n.abs() > 1\"",
            dir.path(),
        ),
    );
    assert_eq!(error.param.as_deref(), Some("where"));
}

#[test]
fn a_file_that_is_not_parquet_or_is_cut_short_is_named() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("text.parquet"), "a,b\n1,2\n").unwrap();
    let whole = dir.path().join("whole.parquet");
    write_numbers(&whole, 0, 1_000, 100);
    let bytes = std::fs::read(&whole).unwrap();
    std::fs::write(dir.path().join("cut.parquet"), &bytes[..bytes.len() / 2]).unwrap();
    for name in ["text.parquet", "cut.parquet"] {
        let rows = read_source(&DEF, &params(&DEF, &format!("path = {name:?}"), dir.path()));
        let [Err(message)] = &rows[..] else {
            panic!("{rows:?}")
        };
        let at = format!("{}: not a Parquet file", dir.path().join(name).display());
        assert!(message.starts_with(&at), "{message}");
    }
    // A footer intact but a row group damaged: the error names the file and the group.
    let mut damaged = bytes.clone();
    for byte in &mut damaged[200..2_000] {
        *byte = 0xff;
    }
    std::fs::write(dir.path().join("damaged.parquet"), &damaged).unwrap();
    let rows = read_source(
        &DEF,
        &params(&DEF, "path = \"damaged.parquet\"", dir.path()),
    );
    let message = rows
        .iter()
        .find_map(|r| r.as_ref().err())
        .expect("an error");
    let at = format!(
        "{}: row group 0: ",
        dir.path().join("damaged.parquet").display()
    );
    assert!(message.starts_with(&at), "{message}");
}

#[test]
fn a_big_row_group_is_cut_into_slices_when_the_file_has_an_offset_index() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("big.parquet");
    write_numbers(&path, 0, 10_000, 10_000);
    let toml = "path = \"big.parquet\"\nbatch_rows = 1500";
    let items: Vec<Item> = source(toml, dir.path()).items.map(Result::unwrap).collect();
    assert_eq!(items.len(), 7, "slices of 1500 rows");
    assert_eq!(items[6].get(FIRST_ROW).unwrap(), 9000);
    assert_eq!(items[6].get(ROWS).unwrap(), 1000);
    let rows = rows_through_engine(toml, dir.path(), 3);
    assert_eq!(rows.len(), 10_000);
    assert!(rows
        .iter()
        .enumerate()
        .all(|(i, row)| row.get("n").unwrap() == i));

    // Without an offset index, the row group is read whole.
    let bare = dir.path().join("bare.parquet");
    let batch = RecordBatch::try_from_iter([(
        "n",
        Arc::new(Int64Array::from_iter_values(0..10_000)) as ArrayRef,
    )])
    .unwrap();
    let props = WriterProperties::builder()
        .set_offset_index_disabled(true)
        .set_statistics_enabled(parquet::file::properties::EnabledStatistics::Chunk)
        .build();
    let mut writer =
        ArrowWriter::try_new(File::create(&bare).unwrap(), batch.schema(), Some(props)).unwrap();
    writer.write(&batch).unwrap();
    writer.close().unwrap();
    let items = source("path = \"bare.parquet\"\nbatch_rows = 1500", dir.path())
        .items
        .count();
    assert_eq!(items, 1);
}
