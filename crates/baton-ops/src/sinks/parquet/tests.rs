use arrow_array::{Float64Array, Int64Array, StringArray};
use arrow_select::concat::concat_batches;
use serde_json::json;

use super::*;
use crate::testing::{params, read_chunks, run_sink};

fn source(name: &str) -> &'static OpDef {
    crate::find_kind(name, OpKind::Source).unwrap()
}

fn one_batch(chunks: &[RecordBatch]) -> RecordBatch {
    concat_batches(&chunks[0].schema(), chunks).unwrap()
}

#[test]
fn csv_to_parquet_and_back_keeps_values_and_types() {
    let dir = tempfile::tempdir().unwrap();
    let mut text = String::from("id,name,score,ok,zip\n");
    for i in 0..3_000 {
        let name = if i % 11 == 0 {
            String::new()
        } else {
            format!("\"n, {i}\"")
        };
        text.push_str(&format!(
            "{i},{name},{}.25,{},0{}\n",
            i % 13,
            i % 2 == 0,
            i % 100
        ));
    }
    std::fs::write(dir.path().join("in.csv"), &text).unwrap();
    let csv = source("csv");
    let from_csv = read_chunks(
        csv,
        &params(csv, "path = \"in.csv\"\nblock_bytes = 10000", dir.path()),
    );
    assert!(from_csv.len() > 3, "several chunks");
    let items = from_csv.iter().cloned().map(Item::records).collect();
    let toml = "path = \"out/t.parquet\"\nrow_group_rows = 700";
    assert!(run_sink(&DEF, &params(&DEF, toml, dir.path()), items).is_empty());
    let pq = source("parquet");
    let back = read_chunks(pq, &params(pq, "path = \"out/t.parquet\"", dir.path()));
    assert_eq!(back.len(), 5, "row groups of 700 rows");
    let (written, read) = (one_batch(&from_csv), one_batch(&back));
    assert_eq!(read.schema(), written.schema());
    assert_eq!(read, written);
    let types: Vec<String> = read
        .schema()
        .fields()
        .iter()
        .map(|f| f.data_type().to_string())
        .collect();
    assert_eq!(types, ["Int64", "Utf8", "Float64", "Boolean", "Utf8"]);
    assert!(!dir.path().join("out/t.parquet.partial").exists());
}

#[test]
fn parquet_to_parquet_under_each_compression() {
    let dir = tempfile::tempdir().unwrap();
    let batch = RecordBatch::try_from_iter([
        (
            "n",
            Arc::new(Int64Array::from_iter(
                (0..5_000).map(|n| (n % 9 != 0).then_some(n)),
            )) as _,
        ),
        (
            "x",
            Arc::new(Float64Array::from_iter_values(
                (0..5_000).map(|n| n as f64 * 0.5),
            )) as _,
        ),
        (
            "s",
            Arc::new(StringArray::from_iter_values(
                (0..5_000).map(|n| format!("v{}", n % 17)),
            )) as _,
        ),
    ])
    .unwrap();
    let first = "first.parquet";
    run_sink(
        &DEF,
        &params(&DEF, &format!("path = {first:?}"), dir.path()),
        vec![Item::records(batch.clone())],
    );
    let pq = source("parquet");
    for compression in ["zstd", "snappy", "gzip", "lz4", "none"] {
        let chunks = read_chunks(
            pq,
            &params(
                pq,
                "path = \"first.parquet\"\nbatch_rows = 1000",
                dir.path(),
            ),
        );
        let items = chunks.into_iter().map(Item::records).collect();
        let toml = format!("path = \"again.parquet\"\ncompression = {compression:?}");
        assert!(run_sink(&DEF, &params(&DEF, &toml, dir.path()), items).is_empty());
        let back = read_chunks(pq, &params(pq, "path = \"again.parquet\"", dir.path()));
        assert_eq!(one_batch(&back), batch, "{compression}");
    }
}

#[test]
fn rows_are_written_as_columns() {
    let dir = tempfile::tempdir().unwrap();
    let items = vec![
        Item::record(json!({"a": 1, "b": "x"})),
        Item::record(json!({"a": 2, "b": null})),
    ];
    assert!(run_sink(
        &DEF,
        &params(&DEF, "path = \"r.parquet\"", dir.path()),
        items
    )
    .is_empty());
    let pq = source("parquet");
    let back = read_chunks(pq, &params(pq, "path = \"r.parquet\"", dir.path()));
    let rows: Vec<Item> = Item::records(one_batch(&back)).rows();
    assert_eq!(rows[0], Item::record(json!({"a": 1, "b": "x"})));
    assert_eq!(rows[1], Item::record(json!({"a": 2, "b": null})));
}

#[test]
fn until_finished_the_file_is_partial_and_no_items_is_an_empty_file() {
    let dir = tempfile::tempdir().unwrap();
    let BuiltOp::Sink(make) =
        (DEF.build)(&params(&DEF, "path = \"p.parquet\"", dir.path())).unwrap()
    else {
        panic!("a sink")
    };
    let mut sink = make().unwrap();
    sink.write(Item::record(json!({"a": 1}))).unwrap();
    assert!(!dir.path().join("p.parquet").exists());
    assert!(dir.path().join("p.parquet.partial").exists());
    sink.finish().unwrap();
    assert!(dir.path().join("p.parquet").exists());

    assert!(run_sink(
        &DEF,
        &params(&DEF, "path = \"e.parquet\"", dir.path()),
        vec![]
    )
    .is_empty());
    let file = File::open(dir.path().join("e.parquet")).unwrap();
    let reader =
        parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder::try_new(file).unwrap();
    assert_eq!(reader.schema().fields().len(), 0);
}

#[test]
fn a_chunk_unlike_the_first_is_an_error_naming_the_column() {
    let dir = tempfile::tempdir().unwrap();
    let ints =
        RecordBatch::try_from_iter([("a", Arc::new(Int64Array::from(vec![1])) as _)]).unwrap();
    let text =
        RecordBatch::try_from_iter([("a", Arc::new(StringArray::from(vec!["x"])) as _)]).unwrap();
    let errors = run_sink(
        &DEF,
        &params(&DEF, "path = \"m.parquet\"", dir.path()),
        vec![Item::records(ints), Item::records(text)],
    );
    assert_eq!(errors.len(), 1);
    assert!(
        errors[0].contains("its column `a` is Utf8, but Int64 in the file"),
        "{}",
        errors[0]
    );
}

#[test]
fn an_unknown_compression_is_refused() {
    let error = crate::testing::build_error(
        &DEF,
        &params(
            &DEF,
            "path = \"x.parquet\"\ncompression = \"brotli\"",
            ".".as_ref(),
        ),
    );
    assert_eq!(error.param.as_deref(), Some("compression"));
}

#[test]
fn row_groups_of_no_rows_are_refused_when_built_from_rust() {
    let config = ParquetSinkConfig {
        path: "x.parquet".into(),
        compression: ParquetSinkCompression::None,
        row_group_rows: 0,
    };
    let error = config.build(&BuildContext::default()).unwrap_err();
    assert_eq!(
        error.to_string(),
        "`row_group_rows`: must be positive, not 0"
    );
}
