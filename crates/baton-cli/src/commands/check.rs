//! `baton check FILE`: every problem in a pipeline file, without running it,
//! as text for people or as JSON for editors and CI.

use std::path::Path;
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

pub(crate) fn check(file: &Path, format: Format) -> anyhow::Result<ExitCode> {
    let result = Plan::read(file).and_then(Plan::build);
    let code = if result.is_ok() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(super::BAD_FILE)
    };
    match (format, result) {
        (Format::Text, Ok(built)) => {
            eprintln!("{}: ok, {} stages", file.display(), built.plan.stages.len());
        }
        (Format::Text, Err(problems)) => eprint!("{problems}"),
        (Format::Json, result) => {
            let problems: &[Diagnostic] = match &result {
                Ok(_) => &[],
                Err(problems) => &problems.0,
            };
            println!("{}", serde_json::to_string_pretty(problems)?);
        }
    }
    Ok(code)
}
