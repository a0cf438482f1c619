//! What the libraries log (a Rhai script's `print` and `debug`, an `exec`
//! worker's stderr, warnings) reaches stderr through `tracing`: shown by
//! default, more with `-v`, as `RUST_LOG` says when it is set.

mod common;

use common::{baton, stderr, write};

const FILE: &str = "[[stage]]\nop = \"range\"\nend = 3\n\n\
                    [[stage]]\nop = \"filter\"\nexpr = \"debug(value) == ()\"\n\n\
                    [[stage]]\nop = \"discard\"\n";

fn run(args: &[&str], rust_log: Option<&str>) -> String {
    let dir = tempfile::tempdir().unwrap();
    let file = write(dir.path(), "p.toml", FILE);
    let mut command = baton();
    command.args(args).arg("run").arg(&file).arg("--quiet");
    match rust_log {
        Some(filter) => command.env("RUST_LOG", filter),
        None => command.env_remove("RUST_LOG"),
    };
    let output = command.output().unwrap();
    assert!(output.status.success(), "{}", stderr(&output));
    stderr(&output)
}

#[test]
fn script_output_is_shown_by_default_hidden_by_rust_log_and_detailed_by_v() {
    let plain = run(&[], None);
    for value in 0..3 {
        assert!(plain.contains(&format!("1:1: {value}\n")), "{plain}");
    }
    assert!(!plain.contains("INFO"), "{plain}");

    assert!(!run(&[], Some("off")).contains("1:1:"));
    assert!(!run(&[], Some("baton::script=warn")).contains("1:1:"));

    let detailed = run(&["-v"], None);
    assert!(
        detailed.contains("INFO baton::script: 1:1: 0"),
        "{detailed}"
    );
}

#[test]
fn an_exec_workers_stderr_is_shown_with_its_stage_and_replica() {
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        "worker.py",
        "import sys\nfor line in sys.stdin:\n    print('working on', line.strip(), file=sys.stderr, flush=True)\n    print(line, end='', flush=True)\n",
    );
    let file = write(
        dir.path(),
        "p.toml",
        "[[stage]]\nop = \"range\"\nend = 2\n\n\
         [[stage]]\nname = \"work\"\nop = \"exec\"\ncommand = [\"python3\", \"worker.py\"]\nreplicas = 1\n\n\
         [[stage]]\nop = \"discard\"\n",
    );
    let output = baton()
        .env_remove("RUST_LOG")
        .arg("run")
        .arg(&file)
        .arg("--quiet")
        .output()
        .unwrap();
    let text = stderr(&output);
    assert!(output.status.success(), "{text}");
    // The label is the worker's program; the replica's number follows.
    assert!(text.contains("[exec python3 #0] working on {"), "{text}");
    assert!(text.contains("\"value\":1}"), "{text}");
}
