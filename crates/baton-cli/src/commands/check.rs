//! `baton check FILE`: every problem in a pipeline file, without running it.

use std::path::Path;
use std::process::ExitCode;

use baton_config::Plan;

pub(crate) fn check(file: &Path) -> anyhow::Result<ExitCode> {
    match Plan::read(file).and_then(Plan::build) {
        Ok(built) => {
            eprintln!("{}: ok, {} stages", file.display(), built.plan.stages.len());
            Ok(ExitCode::SUCCESS)
        }
        Err(problems) => {
            eprint!("{problems}");
            Ok(ExitCode::from(super::BAD_FILE))
        }
    }
}
