use arrow_array::{Int64Array, StringArray};
use serde_json::json;

use super::*;
use crate::testing::{build_error, params, run_sink};

fn batch(from: i64) -> RecordBatch {
    RecordBatch::try_from_iter([
        (
            "n",
            std::sync::Arc::new(Int64Array::from_iter_values(from..from + 100)) as _,
        ),
        (
            "s",
            std::sync::Arc::new(StringArray::from_iter(
                (from..from + 100).map(|n| (n % 3 != 0).then(|| n.to_string())),
            )) as _,
        ),
    ])
    .unwrap()
}

#[test]
#[cfg(feature = "zstd")]
fn writes_the_file_format_by_default_and_the_stream_format_when_asked() {
    let dir = tempfile::tempdir().unwrap();
    let items = || vec![Item::records(batch(0)), Item::records(batch(100))];
    for compression in ["none", "lz4", "zstd"] {
        let toml = format!("path = \"f.arrow\"\ncompression = {compression:?}");
        assert!(run_sink(&DEF, &params(&DEF, &toml, dir.path()), items()).is_empty());
        let file = File::open(dir.path().join("f.arrow")).unwrap();
        let reader = arrow_ipc::reader::FileReader::try_new(file, None).unwrap();
        assert_eq!(reader.num_batches(), 2);
        let read: Vec<RecordBatch> = reader.map(Result::unwrap).collect();
        assert_eq!(read, [batch(0), batch(100)], "{compression}");
    }
    let toml = "path = \"s.arrows\"\nformat = \"stream\"";
    assert!(run_sink(&DEF, &params(&DEF, toml, dir.path()), items()).is_empty());
    let file = File::open(dir.path().join("s.arrows")).unwrap();
    let reader = arrow_ipc::reader::StreamReader::try_new(file, None).unwrap();
    let read: Vec<RecordBatch> = reader.map(Result::unwrap).collect();
    assert_eq!(read, [batch(0), batch(100)]);
}

#[test]
fn rows_are_gathered_into_batches_and_no_items_is_an_empty_file() {
    let dir = tempfile::tempdir().unwrap();
    let items = (0..10).map(|n| Item::record(json!({"n": n}))).collect();
    assert!(run_sink(&DEF, &params(&DEF, "path = \"r.arrow\"", dir.path()), items).is_empty());
    let file = File::open(dir.path().join("r.arrow")).unwrap();
    let mut reader = arrow_ipc::reader::FileReader::try_new(file, None).unwrap();
    assert_eq!(reader.next().unwrap().unwrap().num_rows(), 10);

    assert!(run_sink(
        &DEF,
        &params(&DEF, "path = \"e.arrow\"", dir.path()),
        vec![]
    )
    .is_empty());
    let file = File::open(dir.path().join("e.arrow")).unwrap();
    let reader = arrow_ipc::reader::FileReader::try_new(file, None).unwrap();
    assert_eq!(reader.num_batches(), 0);
}

#[test]
fn an_unknown_format_or_compression_is_refused() {
    let error = build_error(
        &DEF,
        &params(&DEF, "path = \"x\"\nformat = \"feather1\"", ".".as_ref()),
    );
    assert_eq!(error.param.as_deref(), Some("format"));
    let error = build_error(
        &DEF,
        &params(&DEF, "path = \"x\"\ncompression = \"gzip\"", ".".as_ref()),
    );
    assert_eq!(error.param.as_deref(), Some("compression"));
}

#[test]
fn a_wrong_value_names_the_parameter_and_the_values_it_takes() {
    let error = build_error(
        &DEF,
        &params(&DEF, "path = \"x\"\nformat = \"feather1\"", ".".as_ref()),
    );
    let message = error.to_string();
    assert!(
        message.starts_with("`format`: ")
            && message.contains("`file`")
            && message.contains("`stream`"),
        "{message}"
    );
}
