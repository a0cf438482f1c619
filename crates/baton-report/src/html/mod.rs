//! The HTML report: one self-contained page, drawn from a [`TraceFile`]
//! alone. Charts are inline SVG written here; the page loads nothing (no
//! scripts, styles or fonts from elsewhere), and hover tooltips are SVG
//! `<title>`s, so it reads the same offline, in any browser, without
//! JavaScript.

mod charts;
mod colour;
mod diagram;
mod markup;
mod table;
mod units;

use std::fmt::Write;

pub use colour::item_colour;
use markup::{escape, escape_with_code};

use crate::summary::RunSummary;
use crate::trace::TraceFile;

/// Renders the report of a run as one self-contained HTML page.
///
/// The page has, from the top:
///
/// 1. a header: the pipeline's name, items, elapsed time, achieved
///    throughput, and the verdict: which stage limits the run, by how much,
///    and what to change;
/// 2. the pipeline diagram: stages (a row per replica) against time, a bar
///    per chunk coloured and numbered by its item (see [`item_colour`]), with
///    the fill and the drain marked. Runs of more than 1,000 spans show an
///    overview plus the first 400 and last 200 spans in full (the page says so);
/// 3. charts over time: throughput, items in flight, and per stage the busy
///    share and the queue in front of it;
/// 4. a table of every stage's counters, the bottleneck's row highlighted.
///
/// # Examples
///
/// ```
/// use baton_engine::{Config, Mode, Pipeline};
/// use baton_report::{render_html, TraceFile};
/// let report = Pipeline::from_iter(0..50u32)
///     .config(Config::default().trace(true))
///     .stage("square", Mode::parallel(2)).map(|x| x * x)
///     .for_each(|_| {})
///     .unwrap();
/// let html = render_html(&TraceFile::from_report("squares", &report));
/// assert!(html.starts_with("<!DOCTYPE html>"));
/// assert!(html.contains("squares"));
/// assert!(!html.contains("<script src"));
/// ```
pub fn render_html(trace: &TraceFile) -> String {
    let summary = &trace.baton;
    let mut out = String::with_capacity(64 * 1024 + summary.spans * 200);
    let _ = write!(
        out,
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>{} – baton run report</title>\n<style>{}</style></head>\n<body><main>\n",
        escape(&summary.pipeline),
        STYLE
    );
    write_header(&mut out, summary);
    diagram::render(&mut out, trace);
    charts::render(&mut out, summary);
    table::render(&mut out, summary);
    table::render_workers(&mut out, summary);
    out.push_str(
        "<footer>Made by baton-report from the run's trace file alone. That file is in Chrome's trace event format: \
         open it in Perfetto (ui.perfetto.dev) or chrome://tracing to zoom into every span.</footer>\n</main></body></html>\n",
    );
    out
}

fn write_header(out: &mut String, summary: &RunSummary) {
    let elapsed = summary.elapsed_s;
    let _ = writeln!(
        out,
        "<header><div class=\"eyebrow\">baton run report</div><h1>{}</h1>\n<div class=\"figures\">",
        escape(&summary.pipeline)
    );
    let overlap = if elapsed > 0.0 {
        summary.work_s() / elapsed
    } else {
        0.0
    };
    let figures = [
        (units::count(summary.items), "items".to_string()),
        (units::duration(elapsed), "elapsed".to_string()),
        (
            units::rate(Some(summary.achieved_items_per_s)),
            "items/s achieved".to_string(),
        ),
        (summary.threads.to_string(), "CPU threads".to_string()),
        (
            format!("{overlap:.1}×"),
            format!(
                "work at once: {} of stage time in {}",
                units::duration(summary.work_s()),
                units::duration(elapsed)
            ),
        ),
        (
            units::rate(summary.machine_items_per_s),
            "items/s machine bound".to_string(),
        ),
    ];
    for (value, label) in figures {
        let _ = write!(
            out,
            "<div class=\"figure\"><div class=\"value\">{}</div><div class=\"label\">{}</div></div>",
            escape(&value),
            escape(&label)
        );
    }
    out.push_str("</div>\n");
    match &summary.bottleneck {
        None => out.push_str(
            "<div class=\"verdict calm\"><div class=\"verdict-title\">No verdict</div>\
             <p>No item flowed, so no stage can be said to limit the run.</p></div>\n",
        ),
        Some(bottleneck) => {
            let _ = write!(
                out,
                "<div class=\"verdict\"><div class=\"verdict-title\">Bottleneck: <code>{}</code>{}</div>\
                 <p class=\"verdict-text\">{}</p>",
                escape(&bottleneck.stage),
                bottleneck
                    .bound_items_per_s
                    .map(|b| format!(" <span class=\"bound\">at most {} items/s</span>", units::rate(Some(b))))
                    .unwrap_or_default(),
                escape_with_code(&bottleneck.verdict),
            );
            if let Some(more) = how_much(summary) {
                let _ = write!(out, "<p class=\"verdict-more\">{more}</p>");
            }
            out.push_str("</div>\n");
        }
    }
    if summary.dead_letters > 0 {
        let _ = writeln!(
            out,
            "<p class=\"warning\">{} items failed and were skipped to the dead letters.</p>",
            units::count(summary.dead_letters as u64)
        );
    }
    out.push_str("</header>\n");
}

/// How close the run came to the bottleneck's bound, and how much faster it
/// could go if the bottleneck were fixed: up to the next lowest bound.
fn how_much(summary: &RunSummary) -> Option<String> {
    let bottleneck = summary.bottleneck.as_ref()?;
    let bound = bottleneck.bound_items_per_s?;
    let name = escape(&bottleneck.stage);
    let mut text = format!(
        "The run achieved {} items/s, {} of this bound.",
        units::rate(Some(summary.achieved_items_per_s)),
        units::percent(summary.achieved_items_per_s / bound)
    );
    let others = std::iter::once((
        summary.source.name.as_str(),
        summary.source.bound_items_per_s,
    ))
    .chain(
        summary
            .stages
            .iter()
            .map(|s| (s.name.as_str(), s.bound_items_per_s)),
    )
    .filter(|(n, _)| *n != bottleneck.stage)
    .filter_map(|(n, b)| Some((format!("stage <code>{}</code>", escape(n)), b?)));
    let machine = summary
        .machine_items_per_s
        .map(|m| (format!("the machine ({} threads)", summary.threads), m));
    let next = others.chain(machine).min_by(|a, b| a.1.total_cmp(&b.1));
    let _ = match next {
        Some((who, rate)) => {
            let gain = rate / bound;
            if gain < 1.1 {
                write!(
                    text,
                    " The next limit, {who} at {} items/s, is about as low ({gain:.2}×): making <code>{name}</code> \
                     faster alone gains little; both must get faster.",
                    units::rate(Some(rate))
                )
            } else {
                write!(
                    text,
                    " Making <code>{name}</code> faster could speed the run up to {gain:.1}×, until {who} limits it at \
                     {} items/s.",
                    units::rate(Some(rate))
                )
            }
        }
        None => write!(
            text,
            " Nothing else limits it: any gain in <code>{name}</code> is a gain for the run."
        ),
    };
    Some(text)
}

/// The page's style: system fonts only, nothing fetched.
const STYLE: &str = r#"
:root { --ink: #1d2330; --muted: #5d6778; --rule: #dde2ea; --bg: #ffffff; --band: #f3f5f9; --hot: #b3261e; --hot-bg: #fdf0ee; }
* { box-sizing: border-box; }
body { margin: 0; background: var(--bg); color: var(--ink); font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, "Liberation Sans", "DejaVu Sans", Arial, sans-serif; }
main { max-width: 1360px; margin: 0 auto; padding: 18px 20px 40px; }
h1 { font-size: 26px; margin: 0 0 10px; }
h2 { font-size: 18px; margin: 28px 0 6px; padding-top: 10px; border-top: 1px solid var(--rule); }
h3 { font-size: 14px; margin: 14px 0 4px; }
p { margin: 4px 0 8px; max-width: 1320px; }
code { font-family: "DejaVu Sans Mono", "Liberation Mono", Menlo, Consolas, monospace; font-size: 0.92em; background: #eef1f6; padding: 0 4px; border-radius: 3px; }
.eyebrow { text-transform: uppercase; letter-spacing: 0.08em; font-size: 11px; color: var(--muted); }
.figures { display: flex; flex-wrap: wrap; gap: 10px; margin: 6px 0 12px; }
.figure { border: 1px solid var(--rule); border-radius: 6px; padding: 6px 14px; min-width: 120px; }
.figure .value { font-size: 20px; font-weight: 650; }
.figure .label { font-size: 12px; color: var(--muted); }
.verdict { border-left: 6px solid var(--hot); background: var(--hot-bg); padding: 10px 16px; border-radius: 4px; }
.verdict.calm { border-left-color: var(--muted); background: var(--band); }
.verdict-title { font-size: 20px; font-weight: 700; color: var(--hot); }
.verdict-title .bound { font-size: 15px; font-weight: 500; color: var(--ink); margin-left: 8px; }
.verdict-text { font-size: 16px; margin: 6px 0 4px; }
.verdict-more { margin: 0; color: #3a4150; }
.warning { color: var(--hot); font-weight: 600; }
.note { color: var(--muted); font-size: 12.5px; }
svg { display: block; max-width: 100%; height: auto; }
svg text { font-family: system-ui, "Liberation Sans", "DejaVu Sans", Arial, sans-serif; }
.diagram { margin: 6px 0 10px; }
.diagram .lane { fill: #ffffff; }
.diagram .lane.even { fill: var(--band); }
.diagram .lane.bottleneck { fill: var(--hot-bg); }
.diagram .stage { font-size: 13px; font-weight: 650; fill: var(--ink); }
.diagram .stage.bottleneck { fill: var(--hot); }
.diagram .mode { font-size: 11px; fill: var(--muted); }
.diagram .replica { font-size: 9.5px; fill: var(--muted); text-anchor: end; }
.diagram .grid { stroke: #d5dae3; stroke-width: 1; }
.diagram .tick { font-size: 11px; fill: var(--muted); text-anchor: middle; }
.diagram .item { font-size: 10.5px; font-weight: 600; fill: #1b1f27; text-anchor: middle; pointer-events: none; }
.diagram .phase0, .diagram .phase2 { fill: #f3dfb4; }
.diagram .phase1 { fill: #e3ebf5; }
.diagram .phase-label { font-size: 11px; fill: #3d4759; font-style: italic; }
.diagram .phase-edge { stroke: #42506a; stroke-width: 1; stroke-dasharray: 3 3; }
.diagram .busy { fill: #2f5d8a; }
.diagram .window { fill: none; stroke: var(--hot); stroke-width: 1.5; stroke-dasharray: 4 2; }
.bar:hover { stroke: #1b1f27; stroke-width: 1.5; }
.chart-row { display: flex; flex-wrap: wrap; gap: 16px; }
.chart { margin: 0; flex: 1 1 600px; max-width: 660px; }
.chart figcaption { font-size: 12.5px; color: var(--muted); margin-bottom: 2px; }
.chart .key { display: inline-block; width: 10px; height: 10px; border-radius: 2px; margin: 0 4px 0 10px; vertical-align: -1px; }
.chart .grid { stroke: #e4e8ef; stroke-width: 1; }
.chart .axis { stroke: #9aa3b2; stroke-width: 1; }
.chart .area { fill-opacity: 0.16; stroke: none; }
.chart .line { fill: none; stroke-width: 1.8; stroke-linejoin: round; }
.chart .tick { font-size: 11px; fill: var(--muted); text-anchor: middle; }
.chart .ylabel { font-size: 11px; fill: var(--muted); text-anchor: end; }
.stage-card { border: 1px solid var(--rule); border-radius: 6px; padding: 4px 12px 8px; margin: 10px 0; }
.stage-card.bottleneck { border-color: var(--hot); background: #fffafa; }
.stage-card h3 .mode { font-weight: 400; color: var(--muted); font-size: 12.5px; margin-left: 6px; }
.stage-card p.tuning { color: var(--muted); font-size: 12.5px; margin: 2px 0 6px; }
.badge { display: inline-block; background: var(--hot); color: #fff; font-size: 11px; font-weight: 600; padding: 1px 7px; border-radius: 9px; margin-left: 8px; vertical-align: 1px; }
table.stats { border-collapse: collapse; width: 100%; font-size: 13px; margin: 6px 0; }
table.stats th { text-align: left; font-weight: 600; color: var(--muted); border-bottom: 2px solid var(--rule); padding: 6px 8px; white-space: nowrap; }
table.stats td { border-bottom: 1px solid var(--rule); padding: 6px 8px; white-space: nowrap; }
table.stats .num { text-align: right; font-variant-numeric: tabular-nums; }
table.stats tr.bottleneck td { background: var(--hot-bg); font-weight: 600; }
table.stats tr.bottleneck td:first-child { box-shadow: inset 4px 0 0 var(--hot); }
table.stats .bad { color: var(--hot); font-weight: 700; }
.meter { display: inline-block; width: 60px; height: 8px; background: #e8ecf2; border-radius: 4px; margin-right: 8px; vertical-align: 0; overflow: hidden; }
.meter span { display: block; height: 100%; background: #2f5d8a; }
tr.bottleneck .meter span { background: var(--hot); }
footer { margin-top: 30px; padding-top: 10px; border-top: 1px solid var(--rule); color: var(--muted); font-size: 12px; }
"#;
