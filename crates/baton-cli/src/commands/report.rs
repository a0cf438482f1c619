//! `baton report TRACE -o report.html`: renders a saved trace.

use std::path::Path;
use std::process::ExitCode;

use anyhow::Context;

pub(crate) fn report(trace: &Path, output: &Path) -> anyhow::Result<ExitCode> {
    let trace = baton_report::TraceFile::read(trace)?;
    let html = baton_report::render_html(&trace);
    std::fs::write(output, html)
        .with_context(|| format!("cannot write the report to {}", output.display()))?;
    eprintln!("wrote {}", output.display());
    Ok(ExitCode::SUCCESS)
}
