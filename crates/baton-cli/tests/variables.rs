//! `${VAR}` in pipeline files, `--env-file`, `--set`, and a pipeline read from
//! standard input, as a user meets them on the command line.

mod common;

use common::{baton, jsonl_values, stderr, write};

const FILE: &str = "[[stage]]\nop = \"range\"\nend = ${COUNT:-3}\n\n\
                    [[stage]]\nop = \"jsonl\"\npath = \"${OUT}\"\n";

#[test]
fn variables_come_from_the_environment_then_env_files_with_defaults() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "p.toml", FILE);
    let env = write(
        dir.path(),
        "run.env",
        "# where it goes\nOUT=from-file.jsonl\nCOUNT=4\n",
    );

    // The env file's values.
    let output = baton()
        .current_dir(dir.path())
        .args(["run", "p.toml", "--quiet", "--env-file", "run.env"])
        .env_remove("OUT")
        .env_remove("COUNT")
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", stderr(&output));
    assert_eq!(
        jsonl_values(&dir.path().join("from-file.jsonl")),
        [0, 1, 2, 3]
    );

    // The environment comes first; a default stands in for what is unset.
    let output = baton()
        .current_dir(dir.path())
        .arg("--env-file")
        .arg(&env)
        .args(["run", "p.toml", "--quiet"])
        .env("OUT", "from-env.jsonl")
        .env_remove("COUNT")
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", stderr(&output));
    assert_eq!(
        jsonl_values(&dir.path().join("from-env.jsonl")),
        [0, 1, 2, 3]
    );
    let output = baton()
        .current_dir(dir.path())
        .args(["run", "p.toml", "--quiet"])
        .env("OUT", "default.jsonl")
        .env_remove("COUNT")
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", stderr(&output));
    assert_eq!(jsonl_values(&dir.path().join("default.jsonl")), [0, 1, 2]);
}

#[test]
fn an_unset_variable_is_a_located_error_and_nothing_runs() {
    let dir = tempfile::tempdir().unwrap();
    let file = write(
        dir.path(),
        "p.toml",
        &format!("# the output: ${{NOT_EVEN_READ}}\n{FILE}\n[nats]\nurl = \"${{NATS:?say which server}}\"\n"),
    );
    for command in ["check", "run"] {
        let output = baton()
            .current_dir(dir.path())
            .arg(command)
            .arg(&file)
            .env_remove("OUT")
            .env_remove("NATS")
            .output()
            .unwrap();
        let text = stderr(&output);
        assert_eq!(output.status.code(), Some(2), "{text}");
        assert!(text.contains("p.toml:8:9"), "{text}");
        assert!(text.contains("`OUT` is not set"), "{text}");
        assert!(text.contains("p.toml:11:8"), "{text}");
        assert!(
            text.contains("`NATS` is not set or empty: say which server"),
            "{text}"
        );
        assert!(!text.contains("NOT_EVEN_READ"), "{text}");
    }
    assert!(!dir.path().join("out.jsonl").exists());
}

#[test]
fn a_missing_or_broken_env_file_is_refused_with_its_name() {
    let dir = tempfile::tempdir().unwrap();
    let file = write(dir.path(), "p.toml", FILE);
    write(
        dir.path(),
        "broken.env",
        "OUT=x.jsonl\nnot a line of an env file\n",
    );
    for env in ["missing.env", "broken.env"] {
        let output = baton()
            .current_dir(dir.path())
            .args(["check", "--env-file", env])
            .arg(&file)
            .output()
            .unwrap();
        let text = stderr(&output);
        assert_eq!(output.status.code(), Some(2), "{text}");
        assert!(text.contains(env), "{text}");
    }
}

#[test]
fn a_pipeline_read_from_standard_input() {
    let dir = tempfile::tempdir().unwrap();
    let output = baton()
        .current_dir(dir.path())
        .args(["run", "-", "--quiet"])
        .env("OUT", "piped.jsonl")
        .env("COUNT", "5")
        .write_stdin(FILE)
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", stderr(&output));
    assert_eq!(
        jsonl_values(&dir.path().join("piped.jsonl")),
        [0, 1, 2, 3, 4]
    );

    // Its problems are located too.
    let output = baton()
        .args(["check", "-"])
        .write_stdin("[[stage]]\nop = \"rnage\"\n")
        .output()
        .unwrap();
    let text = stderr(&output);
    assert_eq!(output.status.code(), Some(2), "{text}");
    assert!(text.contains("-:2:"), "{text}");
    assert!(text.contains("did you mean `range`?"), "{text}");
}

#[test]
fn set_changes_any_key_of_any_stage_and_is_checked_as_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let file = write(
        dir.path(),
        "p.toml",
        "[[stage]]\nname = \"read\"\nop = \"range\"\nend = 3\n\n\
         [[stage]]\nop = \"filter\"\nexpr = \"value > 0\"\n\n\
         [[stage]]\nop = \"jsonl\"\npath = \"out.jsonl\"\n",
    );
    // A value replaced, a key added, a string without quotes.
    let output = baton()
        .current_dir(dir.path())
        .arg("run")
        .arg(&file)
        .args(["--quiet", "--set", "read.end=6", "--set", "read.step=2"])
        .args([
            "--set",
            "jsonl.path=set.jsonl",
            "--set",
            "filter.expr=value != 2",
        ])
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", stderr(&output));
    assert_eq!(jsonl_values(&dir.path().join("set.jsonl")), [0, 4]);
    assert!(!dir.path().join("out.jsonl").exists());

    // Wrong type, unknown key, unknown stage, no `STAGE.KEY=`: each refused
    // with its place, nothing run.
    let cases = [
        (
            "read.end=many",
            "`end` of `range` must be an integer, not a string",
        ),
        ("read.ned=3", "did you mean `end`?"),
        (
            "raed.end=3",
            "no stage is named `raed` (did you mean `read`?)",
        ),
        ("read=3", "write STAGE.KEY=VALUE"),
    ];
    for (setting, said) in cases {
        let output = baton()
            .current_dir(dir.path())
            .args(["run", "p.toml", "--quiet", "--set", setting])
            .output()
            .unwrap();
        let text = stderr(&output);
        assert_eq!(output.status.code(), Some(2), "{setting}: {text}");
        assert!(text.contains(said), "{setting}: {text}");
    }
    assert!(!dir.path().join("out.jsonl").exists());
}
