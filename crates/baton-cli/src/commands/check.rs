//! `baton check FILE...`: every problem in pipeline files, without running them,
//! as text for people or as JSON for editors and CI.

use std::path::PathBuf;
use std::process::ExitCode;

use baton_config::{Diagnostic, Plan};

/// How `baton check` shows the problems it finds.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum Format {
    /// Like a compiler, on stderr.
    #[default]
    Text,
    /// A JSON array of problems on stdout (`[]` when the file is valid).
    Json,
}

/// Checks every file, says what is wrong with each, and exits with
/// [`BAD_FILE`](super::BAD_FILE) if any has a problem.
pub(crate) fn check(files: &[PathBuf], format: Format) -> anyhow::Result<ExitCode> {
    let mut all_problems: Vec<Diagnostic> = Vec::new();
    let mut bad = 0;
    for file in files {
        // A `python` stage's function is Python's to resolve, when the
        // file is iterated from there: here it is taken as named.
        let host: baton_ops::SharedHost = std::sync::Arc::new(baton_ops::CheckingHost);
        match super::read_plan(file).and_then(|plan| plan.build_hosted(Some(host))) {
            Ok(built) => {
                if format == Format::Text {
                    eprintln!("{}: ok, {} stages", file.display(), built.plan.stages.len());
                    eprint!("{}", inputs(&built.plan));
                    eprint!("{}", python_functions(&built.plan));
                }
            }
            Err(problems) => {
                bad += 1;
                if format == Format::Text {
                    eprint!("{problems}");
                }
                all_problems.extend(problems.0);
            }
        }
    }
    match format {
        Format::Text if files.len() > 1 && bad > 0 => {
            eprintln!("{bad} of {} files have problems", files.len());
        }
        Format::Text => {}
        Format::Json => println!("{}", serde_json::to_string_pretty(&all_problems)?),
    }
    Ok(if bad == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(super::BAD_FILE)
    })
}

/// The Python functions the plan's `python` stages call: a line each.
fn python_functions(plan: &Plan) -> String {
    let mut text = String::new();
    for stage in plan.stages.iter().filter(|s| s.op.name == "python") {
        if let Ok(Some(function)) = stage.params.str("function") {
            text.push_str(&format!(
                "  stage `{}` calls Python's `{function}`: it runs when the file is iterated \
                 from Python\n",
                stage.name
            ));
        }
    }
    text
}

/// What each input path or glob of the plan's stages matches: a line each.
fn inputs(plan: &Plan) -> String {
    let mut text = String::new();
    for stage in &plan.stages {
        for param in stage.op.params {
            if param.role != baton_ops::ParamRole::Input {
                continue;
            }
            let Ok(each) = stage.params.input_files_each(param.name) else {
                continue;
            };
            for (pattern, files) in each {
                let count = files.len();
                let files = if count == 1 { "file" } else { "files" };
                text.push_str(&format!(
                    "  stage `{}` {}: `{pattern}` matches {count} {files}\n",
                    stage.name, param.name
                ));
            }
        }
    }
    text
}
