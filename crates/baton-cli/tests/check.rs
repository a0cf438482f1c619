//! `baton check`: every kind of mistake in a pipeline file is reported with
//! its file, line, column and key, and a suggestion where one fits.

mod common;

use baton_ops::OpKind;
use common::{baton, stderr, write};

/// Checks `text` and returns the exit code and the error output.
fn check(text: &str) -> (i32, String) {
    let dir = tempfile::tempdir().unwrap();
    let file = write(dir.path(), "p.toml", text);
    let output = baton().arg("check").arg(&file).output().unwrap();
    let shown = stderr(&output).replace(&*file.to_string_lossy(), "p.toml");
    (output.status.code().unwrap_or(-1), shown)
}

const SINK: &str = "\n[[stage]]\nop = \"discard\"\n";

#[test]
fn a_valid_file_passes() {
    let (code, shown) = check(&format!("[[stage]]\nop = \"range\"\nend = 5\n{SINK}"));
    assert_eq!(code, 0, "{shown}");
    assert!(shown.contains("ok, 2 stages"), "{shown}");
}

#[test]
fn an_unknown_op_is_named_with_its_place_and_the_nearest_op() {
    let (code, shown) = check(&format!("[[stage]]\nop = \"rnage\"\nend = 5\n{SINK}"));
    assert_eq!(code, 2);
    assert!(shown.contains("unknown op `rnage`"), "{shown}");
    assert!(shown.contains("p.toml:2:6 (key `op`)"), "{shown}");
    assert!(shown.contains("did you mean `range`?"), "{shown}");
}

#[test]
fn an_unknown_key_suggests_the_parameter_meant() {
    let (code, shown) = check(&format!("[[stage]]\nop = \"range\"\nedn = 5\n{SINK}"));
    assert_eq!(code, 2);
    assert!(
        shown.contains("unknown key `edn` for op `range`"),
        "{shown}"
    );
    assert!(shown.contains("p.toml:3:1 (key `edn`)"), "{shown}");
    assert!(shown.contains("did you mean `end`?"), "{shown}");
}

#[test]
fn a_value_of_the_wrong_type_says_what_was_expected() {
    let (code, shown) = check(&format!("[[stage]]\nop = \"range\"\nend = \"ten\"\n{SINK}"));
    assert_eq!(code, 2);
    assert!(
        shown.contains("`end` of `range` must be an integer, not a string"),
        "{shown}"
    );
    assert!(shown.contains("p.toml:3:7 (key `end`)"), "{shown}");
}

#[test]
fn a_missing_required_parameter_is_named() {
    let (code, shown) = check(&format!("[[stage]]\nop = \"range\"\n{SINK}"));
    assert_eq!(code, 2);
    assert!(shown.contains("`range` needs `end`"), "{shown}");
    assert!(shown.contains("(key `end`)"), "{shown}");
}

#[test]
fn a_stateful_stage_cannot_run_in_parallel() {
    let text = format!("[[stage]]\nop = \"range\"\nend = 5\n\n[[stage]]\nop = \"batch\"\nsize = 2\nmode = \"parallel\"\n{SINK}");
    let (code, shown) = check(&text);
    assert_eq!(code, 2);
    assert!(shown.contains("`batch` cannot run `parallel`"), "{shown}");
    assert!(shown.contains("p.toml:8:8 (key `mode`)"), "{shown}");
}

#[test]
fn an_in_order_stage_after_an_unordered_combining_stage_is_impossible() {
    let text = "[[stage]]\nop = \"range\"\nend = 5\n\n[[stage]]\nop = \"batch\"\nsize = 2\nmode = \"serial\"\n\n[[stage]]\nop = \"unbatch\"\n\n[[stage]]\nop = \"take\"\ncount = 3\nmode = \"serial_in_order\"\n\n[[stage]]\nop = \"discard\"\n";
    let (code, shown) = check(text);
    assert_eq!(code, 2);
    assert!(shown.contains("source order is already lost"), "{shown}");
    assert!(shown.contains("(key `mode`)"), "{shown}");
}

#[test]
fn a_misspelled_mode_is_suggested() {
    let (code, shown) = check(&format!("[[stage]]\nop = \"range\"\nend = 5\n\n[[stage]]\nop = \"delay\"\nms = 1\nmode = \"paralel\"\n{SINK}"));
    assert_eq!(code, 2);
    assert!(shown.contains("unknown mode \"paralel\""), "{shown}");
    assert!(shown.contains("did you mean `parallel`?"), "{shown}");
}

#[test]
fn replicas_need_a_parallel_stage_and_a_number() {
    let serial = format!("[[stage]]\nop = \"range\"\nend = 5\n\n[[stage]]\nop = \"delay\"\nms = 1\nmode = \"serial\"\nreplicas = 4\n{SINK}");
    let (code, shown) = check(&serial);
    assert_eq!(code, 2);
    assert!(
        shown.contains("`replicas` needs `mode = \"parallel\"`"),
        "{shown}"
    );
    let auto = format!("[[stage]]\nop = \"range\"\nend = 5\n\n[[stage]]\nop = \"delay\"\nms = 1\nreplicas = \"auto\"\n{SINK}");
    let (code, shown) = check(&auto);
    assert_eq!(code, 0, "{shown}");
    let word = format!("[[stage]]\nop = \"range\"\nend = 5\n\n[[stage]]\nop = \"delay\"\nms = 1\nreplicas = \"many\"\n{SINK}");
    let (code, shown) = check(&word);
    assert_eq!(code, 2);
    assert!(shown.contains("a whole number (or \"auto\")"), "{shown}");
}

#[test]
fn a_missing_input_file_points_at_its_path() {
    let (code, shown) = check(&format!(
        "[[stage]]\nop = \"lines\"\npath = \"no/such/*.log\"\n{SINK}"
    ));
    assert_eq!(code, 2, "{shown}");
    assert!(shown.contains("(key `path`)"), "{shown}");
    assert!(shown.contains("p.toml:3:"), "{shown}");
}

#[test]
fn the_first_stage_must_be_a_source_and_the_last_a_sink() {
    let (code, shown) =
        check("[[stage]]\nop = \"delay\"\nms = 1\n\n[[stage]]\nop = \"range\"\nend = 3\n");
    assert_eq!(code, 2);
    assert!(
        shown.contains("the first stage must be a source"),
        "{shown}"
    );
    assert!(shown.contains("the last stage must be a sink"), "{shown}");
}

#[test]
fn invalid_toml_is_located() {
    let (code, shown) = check("[[stage]]\nop = \"range\nend = 3\n");
    assert_eq!(code, 2);
    assert!(shown.contains("not valid TOML"), "{shown}");
    assert!(shown.contains("p.toml:2:"), "{shown}");
}

#[test]
fn unknown_top_level_keys_and_duplicate_names_are_reported() {
    let (code, shown) = check(&format!("[[stages]]\nop = \"range\"\n{SINK}"));
    assert_eq!(code, 2);
    assert!(shown.contains("unknown top-level key `stages`"), "{shown}");
    assert!(shown.contains("did you mean `stage`?"), "{shown}");
    let twice = "[[stage]]\nname = \"a\"\nop = \"range\"\nend = 2\n\n[[stage]]\nname = \"a\"\nop = \"discard\"\n";
    let (code, shown) = check(twice);
    assert_eq!(code, 2);
    assert!(shown.contains("two stages are named `a`"), "{shown}");
}

#[test]
fn every_problem_is_reported_at_once() {
    let text = "[[stage]]\nop = \"range\"\nedn = 5\n\n[[stage]]\nop = \"dleay\"\n\n[[stage]]\nop = \"discard\"\nfoo = 1\n";
    let (code, shown) = check(text);
    assert_eq!(code, 2);
    assert!(shown.contains("`edn`"), "{shown}");
    assert!(shown.contains("`dleay`"), "{shown}");
    assert!(shown.contains("`foo`"), "{shown}");
    assert!(shown.contains("errors"), "{shown}");
}

#[test]
fn an_integer_too_large_for_64_bits_is_located_not_read_as_zero() {
    let text = format!("[[stage]]\nop = \"range\"\nend = 99999999999999999999\n{SINK}");
    let (code, shown) = check(&text);
    assert_eq!(code, 2, "{shown}");
    assert!(
        shown.contains("`end` of `range` must be an integer from -9223372036854775808 to 9223372036854775807, not 99999999999999999999"),
        "{shown}"
    );
    assert!(shown.contains("p.toml:3:7 (key `end`)"), "{shown}");
    // `run` reads the file the same way: it must refuse, not count 0 items.
    let dir = tempfile::tempdir().unwrap();
    let file = write(dir.path(), "p.toml", &text);
    let output = baton().args(["run", "-q"]).arg(&file).output().unwrap();
    assert_eq!(output.status.code(), Some(2), "{}", stderr(&output));
    // A float too large for 64 bits is no infinity either.
    let (code, shown) = check(&format!(
        "[[stage]]\nop = \"range\"\nend = 5\n\n[[stage]]\nop = \"delay\"\nms = 1e400\n{SINK}"
    ));
    assert_eq!(code, 2, "{shown}");
    assert!(shown.contains("p.toml:7:6 (key `ms`)"), "{shown}");
}

#[test]
fn stage_counts_must_be_positive_whole_numbers_that_fit() {
    let stage = |keys: &str| {
        format!("[[stage]]\nop = \"range\"\nend = 5\n\n[[stage]]\nop = \"delay\"\nms = 1\n{keys}\n{SINK}")
    };
    let cases = [
        ("buffer = -1", "`buffer` must be at least 1, not -1", "8:10"),
        ("buffer = 0", "`buffer` must be at least 1, not 0", "8:10"),
        (
            "buffer = 1.5",
            "`buffer` must be a whole number of items (or \"auto\"), not a number",
            "8:10",
        ),
        (
            "replicas = 0",
            "`replicas` must be at least 1, not 0",
            "8:12",
        ),
        (
            "replicas = 2.5",
            "`replicas` must be a whole number (or \"auto\"), not a number",
            "8:12",
        ),
        (
            "on_error = \"retry\"\nretries = 0",
            "`retries` must be at least 1, not 0",
            "9:11",
        ),
        (
            "on_error = \"retry\"\nretries = 5000000000",
            "`retries` must be at most 4294967295, not 5000000000",
            "9:11",
        ),
        (
            "on_error = \"retry\"\nbackoff_ms = -5",
            "`backoff_ms` must be at least 0, not -5",
            "9:14",
        ),
        (
            "on_error = \"retry\"\nbackoff_ms = 0.5",
            "`backoff_ms` must be a whole number of milliseconds, not a number",
            "9:14",
        ),
    ];
    for (keys, message, place) in cases {
        let (code, shown) = check(&stage(keys));
        assert_eq!(code, 2, "{keys}: {shown}");
        assert!(shown.contains(message), "{keys}: {shown}");
        assert!(
            shown.contains(&format!("p.toml:{place} (key `")),
            "{keys}: {shown}"
        );
    }
    let (code, shown) = check(&format!(
        "[pipeline]\nthreads = 0\n\n[[stage]]\nop = \"range\"\nend = 5\n{SINK}"
    ));
    assert_eq!(code, 2, "{shown}");
    assert!(
        shown.contains("`threads` must be at least 1, not 0"),
        "{shown}"
    );
}

#[test]
fn an_op_parameter_out_of_its_declared_range_is_located_at_its_value() {
    let cases = [
        (
            "op = \"batch\"\nsize = 0",
            "`size` of `batch` must be at least 1, not 0",
            "7:8",
        ),
        (
            "op = \"take\"\ncount = -1",
            "`count` of `take` must be at least 0, not -1",
            "7:9",
        ),
        (
            "op = \"resize\"\nwidth = 5000000000\nheight = 2",
            "`width` of `resize` must be from 1 to 4294967295, not 5000000000",
            "7:9",
        ),
        (
            "op = \"image_encode\"\nquality = 101",
            "`quality` of `image_encode` must be from 1 to 100, not 101",
            "7:11",
        ),
        (
            "op = \"flip\"\nhorizontal = 1.5",
            "`horizontal` of `flip` must be from 0 to 1, not 1.5",
            "7:14",
        ),
        (
            "op = \"delay\"\nms = -1",
            "`ms` of `delay` must be from 0 to 3600000, not -1",
            "7:6",
        ),
        (
            "op = \"spin\"\niterations = -3",
            "`iterations` of `spin` must be at least 0, not -3",
            "7:14",
        ),
    ];
    for (stage, message, place) in cases {
        let text = format!("[[stage]]\nop = \"range\"\nend = 5\n\n[[stage]]\n{stage}\n{SINK}");
        let (code, shown) = check(&text);
        assert_eq!(code, 2, "{stage}: {shown}");
        assert!(shown.contains(message), "{stage}: {shown}");
        assert!(
            shown.contains(&format!("p.toml:{place} (key `")),
            "{stage}: {shown}"
        );
    }
    let (code, shown) = check(&format!(
        "[[stage]]\nop = \"range\"\nend = 5\nstep = 0\n{SINK}"
    ));
    assert_eq!(code, 2, "{shown}");
    assert!(
        shown.contains("`step` of `range` must be at least 1, not 0"),
        "{shown}"
    );
}

#[test]
fn ops_shows_the_range_of_a_number_parameter() {
    let output = baton().args(["ops", "batch"]).output().unwrap();
    let shown = common::stdout(&output);
    assert!(shown.contains("integer, at least 1"), "{shown}");
    let output = baton().args(["ops", "image_encode"]).output().unwrap();
    let shown = common::stdout(&output);
    assert!(shown.contains("integer, from 1 to 100"), "{shown}");
}

#[test]
fn several_files_are_checked_at_once_and_each_says_its_own() {
    let dir = tempfile::tempdir().unwrap();
    let good = write(
        dir.path(),
        "good.toml",
        &format!("[[stage]]\nop = \"range\"\nend = 5\n{SINK}"),
    );
    let bad = write(
        dir.path(),
        "bad.toml",
        &format!("[[stage]]\nop = \"rnage\"\n{SINK}"),
    );
    let worse = write(
        dir.path(),
        "worse.toml",
        "[[stage]]\nop = \"range\"\nedn = 5\n",
    );
    let output = baton()
        .arg("check")
        .args([&good, &bad, &worse])
        .output()
        .unwrap();
    let text = stderr(&output);
    assert_eq!(output.status.code(), Some(2), "{text}");
    assert!(text.contains("good.toml: ok, 2 stages"), "{text}");
    assert!(text.contains("bad.toml:2:6"), "{text}");
    assert!(text.contains("worse.toml:3:1"), "{text}");
    assert!(text.contains("2 of 3 files have problems"), "{text}");

    // As JSON: one array of every file's problems.
    let output = baton()
        .args(["check", "--format", "json"])
        .args([&good, &bad])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    let problems: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    let files: Vec<&str> = problems
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["file"].as_str().unwrap())
        .collect();
    assert!(
        !files.is_empty() && files.iter().all(|f| f.ends_with("bad.toml")),
        "{files:?}"
    );

    // Good files only: success.
    let output = baton().arg("check").args([&good, &good]).output().unwrap();
    assert!(output.status.success(), "{}", stderr(&output));
}

#[test]
fn globs_have_alternatives_double_stars_and_lists_and_check_counts_each() {
    let dir = tempfile::tempdir().unwrap();
    for name in [
        "photos/a.jpg",
        "photos/b.png",
        "photos/c.gif",
        "photos/2024/d.jpg",
    ] {
        write(dir.path(), name, "x");
    }
    let file = write(
        dir.path(),
        "p.toml",
        "[[stage]]\nname = \"read\"\nop = \"files\"\npath = [\"photos/*.{jpg,png}\", \"photos/**/*.jpg\"]\n\n\
         [[stage]]\nop = \"select\"\nfields = [\"path\"]\n\n\
         [[stage]]\nop = \"jsonl\"\npath = \"out.jsonl\"\n",
    );
    let output = baton().arg("check").arg(&file).output().unwrap();
    let text = stderr(&output);
    assert!(output.status.success(), "{text}");
    assert!(
        text.contains("stage `read` path: `photos/*.{jpg,png}` matches 2 files"),
        "{text}"
    );
    assert!(
        text.contains("stage `read` path: `photos/**/*.jpg` matches 2 files"),
        "{text}"
    );

    let output = baton()
        .arg("run")
        .arg(&file)
        .arg("--quiet")
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", stderr(&output));
    let read = std::fs::read_to_string(dir.path().join("out.jsonl")).unwrap();
    let names: Vec<&str> = read
        .lines()
        .map(|line| line.rsplit('/').next().unwrap().trim_end_matches("\"}"))
        .collect();
    assert_eq!(
        names,
        ["a.jpg", "b.png", "d.jpg"],
        "each file once, in the list's order"
    );

    // A pattern of the list that matches nothing is named.
    let file = write(
        dir.path(),
        "bad.toml",
        "[[stage]]\nop = \"files\"\npath = [\"photos/*.jpg\", \"photos/*.tiff\"]\n\n[[stage]]\nop = \"discard\"\n",
    );
    let output = baton().arg("check").arg(&file).output().unwrap();
    let text = stderr(&output);
    assert_eq!(output.status.code(), Some(2), "{text}");
    assert!(text.contains("no file matches `photos/*.tiff`"), "{text}");
    assert!(text.contains("bad.toml:3:"), "{text}");
}

#[test]
fn explain_shows_the_plan_its_bounds_and_the_order_each_stage_sees() {
    let dir = tempfile::tempdir().unwrap();
    let ordered = write(
        dir.path(),
        "ordered.toml",
        "[pipeline]\nmax_in_flight = 5000\n\n[[stage]]\nop = \"range\"\nend = 9\n\n\
         [[stage]]\nname = \"work\"\nop = \"hash\"\nfields = [\"value\"]\nmode = \"parallel\"\nreplicas = 3\nbuffer = 64\n\n\
         [[stage]]\nop = \"jsonl\"\npath = \"out.jsonl\"\n",
    );
    let output = baton().arg("explain").arg(&ordered).output().unwrap();
    let text = common::stdout(&output);
    assert!(output.status.success(), "{}", stderr(&output));
    assert!(
        text.contains("work") && text.contains("parallel x3"),
        "{text}"
    );
    assert!(
        text.contains("at most 5000 items between the source and the sink"),
        "{text}"
    );
    assert!(
        text.contains("at most about 64 items queued in front of `work`"),
        "{text}"
    );
    assert!(
        text.contains("so `jsonl` writes in source order."),
        "{text}"
    );

    let shuffled = write(
        dir.path(),
        "shuffled.toml",
        "[[stage]]\nop = \"range\"\nend = 9\n\n[[stage]]\nop = \"shuffle\"\nbuffer_size = 4\nmode = \"serial\"\n\n\
         [[stage]]\nop = \"discard\"\nmode = \"serial\"\n",
    );
    let output = baton().arg("explain").arg(&shuffled).output().unwrap();
    let text = common::stdout(&output);
    assert!(output.status.success(), "{}", stderr(&output));
    assert!(
        text.contains("combines items as they come (mode serial)"),
        "{text}"
    );
    assert!(
        text.contains("so `discard` writes in arrival order from `shuffle` on"),
        "{text}"
    );

    // A bad file: its problems, located, as `check` gives them.
    let bad = write(dir.path(), "bad.toml", "[[stage]]\nop = \"rnage\"\n");
    let output = baton().arg("explain").arg(&bad).output().unwrap();
    assert_eq!(output.status.code(), Some(2));
    assert!(stderr(&output).contains("did you mean `range`?"));
}

#[test]
fn ops_gives_one_op_with_a_stage_to_start_from_and_all_of_them_as_json() {
    // The stage to start from is a stage `baton check` takes.
    let output = baton().args(["ops", "range"]).output().unwrap();
    let text = common::stdout(&output);
    assert!(output.status.success());
    let start = text
        .split_once("a stage to start from:")
        .unwrap_or_else(|| panic!("no stage to start from:\n{text}"))
        .1;
    // The worked example follows it (`op_examples.rs` runs every one).
    let (start, example) = start
        .split_once("an example pipeline")
        .unwrap_or_else(|| panic!("no example after the stage to start from:\n{text}"));
    assert!(
        example.contains("\n\n# ") && example.contains("op = \"range\""),
        "{example}"
    );
    let table: String = start.lines().map(|l| format!("{}\n", l.trim())).collect();
    assert!(table.contains("[[stage]]\nop = \"range\"\n"), "{table}");
    let dir = tempfile::tempdir().unwrap();
    let file = write(dir.path(), "p.toml", &format!("{table}{SINK}"));
    let output = baton().arg("check").arg(&file).output().unwrap();
    assert!(output.status.success(), "{}\n{table}", stderr(&output));
    let output = baton().args(["ops", "resize"]).output().unwrap();
    let text = common::stdout(&output);
    assert!(text.contains("    width = 1 "), "{text}");
    assert!(text.contains("    # keep_aspect = false"), "{text}");

    // JSON: every op, with its parameters' types, defaults and bounds.
    let output = baton().args(["ops", "--format", "json"]).output().unwrap();
    assert!(output.status.success());
    let ops: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    let ops = ops.as_array().unwrap();
    assert!(ops.len() > 40, "{}", ops.len());
    let resize = ops.iter().find(|op| op["name"] == "resize").unwrap();
    assert_eq!(resize["kind"], "stage");
    assert_eq!(resize["default_mode"], "parallel");
    let width = &resize["params"][0];
    assert_eq!(
        (width["name"].as_str(), width["type"].as_str()),
        (Some("width"), Some("integer"))
    );
    assert_eq!(
        (width["required"].as_bool(), width["min"].as_i64()),
        (Some(true), Some(1))
    );
    let csv = ops
        .iter()
        .find(|op| op["name"] == "csv" && op["kind"] == "source")
        .unwrap();
    assert_eq!(csv["params"][0]["role"], "input");
    assert_eq!(
        csv["params"][0]["type"],
        "path or glob, or an array of them"
    );
    for op in ops {
        let example = op["example"].as_str().unwrap_or_default();
        assert!(example.starts_with("# "), "{}: {example}", op["name"]);
    }
}

#[test]
fn ops_naming_a_source_and_a_sink_shows_both_with_their_examples() {
    let output = baton().args(["ops", "csv"]).output().unwrap();
    assert!(output.status.success());
    let text = common::stdout(&output);
    let (source, sink) = text
        .split_once("SINKS\n")
        .unwrap_or_else(|| panic!("no sink:\n{text}"));
    assert!(source.starts_with("SOURCES\n  csv "), "{text}");
    assert!(sink.starts_with("  csv "), "{text}");
    for (shown, kind) in [(source, OpKind::Source), (sink, OpKind::Sink)] {
        let example = baton_ops::find_kind("csv", kind).unwrap().example();
        // As it is, not indented: it is a file to copy.
        assert!(shown.contains(example.trim_end()), "{kind}:\n{shown}");
    }

    let output = baton()
        .args(["ops", "csv", "--format", "json"])
        .output()
        .unwrap();
    let ops: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    let kinds: Vec<&str> = ops
        .as_array()
        .unwrap()
        .iter()
        .map(|op| op["kind"].as_str().unwrap())
        .collect();
    assert_eq!(kinds, ["source", "sink"]);
    assert_eq!(
        ops[1]["example"].as_str(),
        Some(baton_ops::find_kind("csv", OpKind::Sink).unwrap().example())
    );
}

#[test]
fn a_python_stage_checks_clean_and_is_named_as_left_to_python() {
    let stage = "[[stage]]\nname = \"clean\"\nop = \"python\"\nfunction = \"cleaning:clean\"\n";
    let (code, shown) = check(&format!(
        "[[stage]]\nop = \"range\"\nend = 5\n\n{stage}{SINK}"
    ));
    assert_eq!(code, 0, "{shown}");
    assert!(shown.contains("ok, 3 stages"), "{shown}");
    assert!(
        shown.contains("stage `clean` calls Python's `cleaning:clean`"),
        "{shown}"
    );
    // Its other keys are checked all the same.
    let (code, shown) = check(&format!(
        "[[stage]]\nop = \"range\"\nend = 5\n\n{stage}fnction = 1\n{SINK}"
    ));
    assert_eq!(code, 2, "{shown}");
    assert!(shown.contains("fnction"), "{shown}");
}

#[test]
fn an_auto_buffer_is_taken_and_a_bad_one_names_what_it_may_be() {
    let file = format!("[[stage]]\nop = \"range\"\nend = 5\n\n[[stage]]\nop = \"delay\"\nms = 1\nbuffer = \"auto\"\n{SINK}");
    let (code, shown) = check(&file);
    assert_eq!(code, 0, "{shown}");
    let file = format!("[[stage]]\nop = \"range\"\nend = 5\n\n[[stage]]\nop = \"delay\"\nms = 1\nbuffer = \"deep\"\n{SINK}");
    let (code, shown) = check(&file);
    assert_eq!(code, 2, "{shown}");
    assert!(
        shown.contains("`buffer` must be a whole number of items (or \"auto\")"),
        "{shown}"
    );
}
