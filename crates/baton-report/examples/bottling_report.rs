//! Runs a small bottling line and writes its trace and HTML report.
//!
//! ```text
//! cargo run -p baton-report --example bottling_report -- [OUT_DIR] [BOTTLES]
//! ```
//!
//! Fill (serial, 2 ms a bottle), then cap (three cappers, blocking, 5 ms),
//! then label (serial, 1 ms). Writes `bottling.trace.json` (open it in
//! Perfetto or chrome://tracing) and `bottling.html` to OUT_DIR (default:
//! the current folder).

use std::path::PathBuf;
use std::thread::sleep;
use std::time::Duration;

use baton_engine::{Config, Mode, Pipeline};
use baton_report::{render_html, TraceFile};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let out = PathBuf::from(args.next().unwrap_or_else(|| ".".to_string()));
    let bottles: u64 = args.next().map(|n| n.parse()).transpose()?.unwrap_or(60);

    let report = Pipeline::from_iter(0..bottles)
        .config(Config::default().trace(true))
        .stage("fill", Mode::serial_in_order().blocking())
        .map(|bottle| {
            sleep(Duration::from_millis(2));
            bottle
        })
        .stage("cap", Mode::parallel(3).blocking())
        .map(|bottle| {
            sleep(Duration::from_millis(5));
            bottle
        })
        .stage("label", Mode::serial_in_order().blocking())
        .map(|bottle| {
            sleep(Duration::from_millis(1));
            bottle
        })
        .for_each(|_| {})?;
    println!("{report}");

    std::fs::create_dir_all(&out)?;
    let trace = TraceFile::from_report("bottling line", &report);
    let trace_path = out.join("bottling.trace.json");
    trace.write(&trace_path)?;
    // The page is drawn from the saved file alone, as a later `baton report` would.
    let html_path = out.join("bottling.html");
    std::fs::write(&html_path, render_html(&TraceFile::read(&trace_path)?))?;
    println!("wrote {} and {}", trace_path.display(), html_path.display());
    Ok(())
}
