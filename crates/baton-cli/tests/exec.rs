//! `exec` stages run by `baton run`: what the worker's failures and
//! environment look like from the command line.

mod common;

use common::{baton, stderr, write};

#[test]
fn an_answer_over_the_limit_names_the_stage_the_item_and_the_limit() {
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        "worker.py",
        r#"
import json, sys
for line in sys.stdin:
    item = json.loads(line)
    if item["value"] == 2:
        while True:
            sys.stdout.write("x" * 4096)  # no newline, ever
    print(json.dumps(item), flush=True)
"#,
    );
    let file = write(
        dir.path(),
        "p.toml",
        "[[stage]]\nop = \"range\"\nend = 5\n\n\
         [[stage]]\nname = \"babble\"\nop = \"exec\"\ncommand = [\"python3\", \"worker.py\"]\nmax_answer_bytes = 1000\n\n\
         [[stage]]\nop = \"count\"\n",
    );
    let output = baton()
        .args(["run", "--quiet"])
        .arg(&file)
        .output()
        .unwrap();
    let log = stderr(&output);
    assert_eq!(output.status.code(), Some(1), "{log}");
    assert!(
        log.contains("stage `babble` failed on item 2: ")
            && log.contains("longer than `max_answer_bytes` (1000 bytes)"),
        "{log}"
    );
}

#[test]
fn a_variable_not_allowed_does_not_reach_the_worker() {
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        "worker.py",
        r#"
import json, os, sys
for line in sys.stdin:
    item = json.loads(line)
    item["secret"] = os.environ.get("BATON_TEST_SECRET")
    item["mode"] = os.environ.get("MODE")
    print(json.dumps(item), flush=True)
"#,
    );
    let pipeline = |env: &str| {
        format!(
            "[[stage]]\nop = \"range\"\nend = 1\n\n\
             [[stage]]\nop = \"exec\"\ncommand = [\"python3\", \"worker.py\"]\n{env}\n\n\
             [[stage]]\nop = \"jsonl\"\npath = \"out.jsonl\"\n"
        )
    };
    let run = |env: &str| -> serde_json::Value {
        let file = write(dir.path(), "p.toml", &pipeline(env));
        let output = baton()
            .args(["run", "--quiet"])
            .arg(&file)
            .env("BATON_TEST_SECRET", "hunter2")
            .output()
            .unwrap();
        assert!(output.status.success(), "{}", stderr(&output));
        let out = std::fs::read_to_string(dir.path().join("out.jsonl")).unwrap();
        serde_json::from_str(out.trim()).unwrap()
    };
    assert_eq!(run("")["secret"], "hunter2", "inherited by default");
    let allowed = run("env_allow = [\"PATH\", \"HOME\"]\nenv = { MODE = \"fast\" }");
    assert_eq!(allowed["secret"], serde_json::Value::Null, "{allowed}");
    assert_eq!(allowed["mode"], "fast");
}

#[test]
fn a_jsonl_worker_never_loses_the_items_payload() {
    let dir = tempfile::tempdir().unwrap();
    // Binary files, not JSON: what must reach the `files` sink intact.
    for n in 0..3u8 {
        let bytes: Vec<u8> = (0..=255u8).map(|b| b.wrapping_mul(n + 1)).collect();
        std::fs::create_dir_all(dir.path().join("in")).unwrap();
        std::fs::write(dir.path().join(format!("in/{n}.bin")), bytes).unwrap();
    }
    // The worker sees the record only, and names the output file.
    write(
        dir.path(),
        "worker.py",
        r#"
import json, os, sys
for line in sys.stdin:
    item = json.loads(line)
    item["name"] = os.path.basename(item["path"])
    print(json.dumps(item), flush=True)
"#,
    );
    let file = write(
        dir.path(),
        "p.toml",
        "[[stage]]\nop = \"files\"\npath = \"in/*.bin\"\n\n\
         [[stage]]\nname = \"rename\"\nop = \"exec\"\ncommand = [\"python3\", \"worker.py\"]\n\n\
         [[stage]]\nop = \"files\"\npath = \"out\"\nfield = \"name\"\n",
    );
    let output = baton()
        .args(["run", "--quiet"])
        .arg(&file)
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", stderr(&output));
    for n in 0..3 {
        let name = format!("{n}.bin");
        assert_eq!(
            std::fs::read(dir.path().join("out").join(&name)).unwrap(),
            std::fs::read(dir.path().join("in").join(&name)).unwrap(),
            "{name} came out other than it went in"
        );
    }
}
