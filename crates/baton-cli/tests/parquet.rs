//! Parquet and Arrow IPC from the command line: CSV made Parquet, then a
//! Parquet file filtered and projected (with the work pushed down into the
//! source) back to CSV, as a user runs it; and files exchanged with
//! `pyarrow`, an implementation of the formats independent of baton's.
//!
//! The `pyarrow` tests need Python's `pyarrow` (`pip install pyarrow`;
//! `scripts/test.sh` installs it); without it they fail, unless
//! `BATON_SKIP_PYARROW_TESTS=1` is set.

mod common;

use std::path::Path;
use std::process::Command;

use common::{baton, stderr, stdout, write};

/// Flights-like CSV rows, in `id` order: ints, text, `NA` for a missing
/// delay, quoted commas and newlines.
fn flights(rows: usize) -> String {
    let mut text = String::from("id,origin,dep_delay,note\n");
    for i in 0..rows {
        let origin = ["JFK", "LGA", "EWR"][i % 3];
        let delay = if i % 10 == 0 {
            "NA".to_string()
        } else {
            format!("{}", ((i * 37) % 200) as i64 - 20)
        };
        let note = if i % 7 == 0 {
            "\"late, \"\"very\"\"\nlate\"".to_string()
        } else {
            format!("n{i}")
        };
        text.push_str(&format!("{i},{origin},{delay},{note}\n"));
    }
    text
}

fn run(pipeline: &Path) {
    let output = baton().arg("run").arg(pipeline).output().unwrap();
    assert!(output.status.success(), "{}", stderr(&output));
}

#[test]
fn csv_made_parquet_then_filtered_and_selected_back_to_csv_gives_the_rows_of_the_csv() {
    let dir = tempfile::tempdir().unwrap();
    let text = flights(30_000);
    write(dir.path(), "flights.csv", &text);
    run(&write(
        dir.path(),
        "to_parquet.toml",
        r#"
[[stage]]
op = "csv"
path = "flights.csv"
null_values = ["NA"]
block_bytes = 65536

[[stage]]
op = "parquet"
path = "data/flights.parquet"
row_group_rows = 1000
"#,
    ));
    let query = write(
        dir.path(),
        "query.toml",
        r#"
[[stage]]
name = "read"
op = "parquet"
path = "data/*.parquet"

[[stage]]
op = "filter"
expr = 'origin == "JFK" && dep_delay > 60 && id >= 20000'

[[stage]]
op = "select"
fields = ["note", "dep_delay"]

[[stage]]
op = "csv"
path = "out.csv"
"#,
    );
    // The plan shows what was pushed into the source.
    let output = baton()
        .args(["run", "--dry-run"])
        .arg(&query)
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", stderr(&output));
    let plan = stdout(&output);
    assert!(
        plan.contains(r#"columns = ["note", "dep_delay", "origin", "id"]"#),
        "{plan}"
    );
    assert!(
        plan.contains("# `where` pushed down from `filter`"),
        "{plan}"
    );
    run(&query);

    // The same query on the `csv` crate's rows, in order.
    let mut expected = csv::Writer::from_writer(Vec::new());
    expected.write_record(["note", "dep_delay"]).unwrap();
    let mut reader = csv::Reader::from_reader(text.as_bytes());
    for row in reader.records() {
        let row = row.unwrap();
        let id: u64 = row[0].parse().unwrap();
        let delay: Option<i64> = row[2].parse().ok();
        if &row[1] == "JFK" && delay.is_some_and(|d| d > 60) && id >= 20_000 {
            expected.write_record([&row[3], &row[2]]).unwrap();
        }
    }
    let want = String::from_utf8(expected.into_inner().unwrap()).unwrap();
    let got = std::fs::read_to_string(dir.path().join("out.csv")).unwrap();
    assert!(got.lines().count() > 300, "{got}");
    assert_eq!(got, want);
}

#[test]
fn a_file_that_is_not_parquet_fails_the_run_naming_it() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "bad.parquet", "id,name\n1,x\n");
    let pipeline = write(
        dir.path(),
        "p.toml",
        "[[stage]]\nop = \"parquet\"\npath = \"bad.parquet\"\n\n[[stage]]\nop = \"count\"\n",
    );
    let output = baton().arg("run").arg(&pipeline).output().unwrap();
    assert!(!output.status.success());
    let log = stderr(&output);
    assert!(log.contains("bad.parquet: not a Parquet file"), "{log}");
}

/// Whether `pyarrow` can be used.
///
/// # Panics
///
/// When it cannot and skipping was not asked for.
fn pyarrow() -> bool {
    if std::env::var("BATON_SKIP_PYARROW_TESTS").as_deref() == Ok("1") {
        eprintln!("BATON_SKIP_PYARROW_TESTS=1: skipping the pyarrow test");
        return false;
    }
    let found = Command::new("python3")
        .args(["-c", "import pyarrow.parquet, pyarrow.feather"])
        .status()
        .is_ok_and(|s| s.success());
    assert!(
        found,
        "Python's pyarrow is not installed, and this test checks baton's files against it. \
         Install it with `pip install pyarrow` (scripts/test.sh does), or set \
         BATON_SKIP_PYARROW_TESTS=1 to skip this test."
    );
    true
}

/// Runs a Python script in `dir`; its standard output.
fn python(dir: &Path, script: &str) -> String {
    let output = Command::new("python3")
        .arg("-c")
        .arg(script)
        .current_dir(dir)
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).unwrap()
}

#[test]
fn files_written_by_pyarrow_are_read_and_pyarrow_reads_what_baton_writes() {
    if !pyarrow() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    python(
        dir.path(),
        r#"
import pyarrow as pa, pyarrow.parquet as pq, pyarrow.feather as feather, pyarrow.ipc as ipc
n = 5000
table = pa.table({
    "n": pa.array(range(n), pa.int64()),
    "small": pa.array([i % 100 for i in range(n)], pa.int32()),
    "x": pa.array([None if i % 9 == 0 else i / 4 for i in range(n)], pa.float64()),
    "s": pa.array([None if i % 5 == 0 else f"s{i % 13}, é" for i in range(n)]),
    "ok": pa.array([i % 2 == 0 for i in range(n)]),
})
pq.write_table(table, "py.parquet", row_group_size=600, compression="snappy")
feather.write_feather(table, "py.feather")  # v2, lz4
with ipc.new_stream("py.arrows", table.schema) as out:
    for batch in table.to_batches(max_chunksize=700):
        out.write_batch(batch)
"#,
    );
    for (op, file) in [
        ("parquet", "py.parquet"),
        ("arrow", "py.feather"),
        ("arrow", "py.arrows"),
    ] {
        let out = format!("{file}.jsonl");
        let pipeline = write(
            dir.path(),
            "read.toml",
            &format!(
                "[[stage]]\nop = \"{op}\"\npath = \"{file}\"\n\n[[stage]]\nop = \"jsonl\"\npath = \"{out}\"\n"
            ),
        );
        run(&pipeline);
        let text = std::fs::read_to_string(dir.path().join(&out)).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 5000, "{file}");
        assert_eq!(
            lines[0], r#"{"n":0,"small":0,"x":null,"s":null,"ok":true}"#,
            "{file}"
        );
        assert_eq!(
            lines[4321], r#"{"n":4321,"small":21,"x":1080.25,"s":"s5, é","ok":false}"#,
            "{file}"
        );
    }

    // pyarrow's statistics skip row groups: of 600 rows each, two can hold n >= 4500.
    let query = write(
        dir.path(),
        "query.toml",
        "[[stage]]\nname = \"read\"\nop = \"parquet\"\npath = \"py.parquet\"\n\n[[stage]]\nop = \"filter\"\nexpr = 'n >= 4500 && s != \"s1, é\"'\n\n[[stage]]\nop = \"count\"\n",
    );
    let output = baton().arg("run").arg(&query).output().unwrap();
    assert!(output.status.success(), "{}", stderr(&output));
    // 500 rows, less the 30 whose `s` is "s1, é" (a null is unequal).
    assert_eq!(stdout(&output), "count: 470\n");
    let log = stderr(&output);
    let read: Vec<&str> = log
        .lines()
        .find(|line| line.starts_with("read "))
        .map(|line| line.split_whitespace().collect())
        .unwrap_or_default();
    assert_eq!(read.get(3), Some(&"2"), "row groups read: {log}");

    // baton writes, pyarrow reads.
    write(dir.path(), "in.csv", &flights(3000));
    for (op, extra) in [
        ("parquet", "row_group_rows = 1000"),
        ("arrow", ""),
        ("arrow", "format = \"stream\"\ncompression = \"zstd\""),
    ] {
        let pipeline = write(
            dir.path(),
            "write.toml",
            &format!(
                "[[stage]]\nop = \"csv\"\npath = \"in.csv\"\nnull_values = [\"NA\"]\n\n[[stage]]\nop = \"{op}\"\npath = \"out.{op}\"\n{extra}\n"
            ),
        );
        run(&pipeline);
        let read = match (op, extra.contains("stream")) {
            ("parquet", _) => "pq.read_table('out.parquet')",
            (_, false) => "ipc.open_file('out.arrow').read_all()",
            (_, true) => "ipc.open_stream('out.arrow').read_all()",
        };
        let summary = python(
            dir.path(),
            &format!(
                r#"
import pyarrow.parquet as pq, pyarrow.ipc as ipc
t = {read}
rows = t.to_pylist()
print(t.num_rows, t.schema.types, rows[1], rows[7]["note"], rows[10]["dep_delay"])
"#
            ),
        );
        assert_eq!(
            summary.trim(),
            r#"3000 [DataType(int64), DataType(string), DataType(int64), DataType(string)] {'id': 1, 'origin': 'LGA', 'dep_delay': 17, 'note': 'n1'} late, "very"
late None"#,
            "{op} {extra}"
        );
    }
}
