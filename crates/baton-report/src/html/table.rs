//! The stats table: one row per stage, the bottleneck's row highlighted.

use std::fmt::Write;

use super::markup::escape;
use super::units;
use crate::summary::RunSummary;

/// Writes the "stages" section of the page.
pub(crate) fn render(out: &mut String, summary: &RunSummary) {
    let elapsed = summary.elapsed_s.max(1e-12);
    let bottleneck = summary.bottleneck.as_ref().map(|b| b.stage.as_str());
    out.push_str(
        "<section id=\"stages\"><h2>Stages</h2>\n<table class=\"stats\"><thead><tr>\
         <th>stage</th><th>mode</th><th class=\"num\">replicas</th><th class=\"num\">in</th><th class=\"num\">out</th>\
         <th class=\"num\">busy</th><th class=\"num\">waiting for input</th><th class=\"num\">blocked on output</th>\
         <th class=\"num\">mean queue</th><th class=\"num\">bound, items/s</th><th class=\"num\">errors</th>\
         <th class=\"num\">skipped</th></tr></thead><tbody>\n",
    );
    let source = &summary.source;
    let _ = writeln!(
        out,
        "<tr{}><td><code>{}</code>{}</td><td>source</td><td class=\"num\">1</td><td class=\"num\">–</td><td class=\"num\">{}</td>\
         {}<td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">–</td><td class=\"num\">{}</td>\
         <td class=\"num\">–</td><td class=\"num\">–</td></tr>",
        row_class(bottleneck == Some(source.name.as_str())),
        escape(&source.name),
        badge(bottleneck == Some(source.name.as_str())),
        units::count(source.made.unwrap_or(source.items)),
        busy_cell(source.utilisation),
        units::percent(share(source.waiting_for_input_s, elapsed)),
        units::percent(share(source.blocked_s, elapsed)),
        units::rate(source.bound_items_per_s),
    );
    for stage in &summary.stages {
        let is_bottleneck = bottleneck == Some(stage.name.as_str());
        let _ = writeln!(
            out,
            "<tr{}><td><code>{}</code>{}</td><td>{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td>\
             {}<td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{:.1}</td><td class=\"num\">{}</td>\
             <td class=\"num{}\">{}</td><td class=\"num\">{}</td></tr>",
            row_class(is_bottleneck),
            escape(&stage.name),
            badge(is_bottleneck),
            mode_cell(stage),
            stage.replicas,
            units::count(stage.items_in),
            units::count(stage.items_out),
            busy_cell(stage.utilisation),
            units::percent(share(stage.waiting_for_input_s, elapsed)),
            units::percent(share(stage.blocked_on_output_s, elapsed)),
            stage.mean_queued,
            units::rate(stage.bound_items_per_s),
            if stage.errors > 0 { " bad" } else { "" },
            units::count(stage.errors),
            units::count(stage.skipped),
        );
    }
    out.push_str(
        "</tbody></table>\n<p class=\"note\"><b>busy</b>: share of its replicas' time spent running items. \
         <b>waiting for input</b>: share of the run its replicas sat idle with an empty queue. \
         <b>blocked on output</b>: share of the run it had work while the queue after it was full (for the source: \
         held back by the bound on items in flight). Waiting and blocked are sampled by the monitor. \
         <b>bound</b>: the source items per second the stage could keep up with alone, items × replicas ÷ busy time; \
         the lowest bound is the bottleneck.</p></section>\n",
    );
}

/// Writes the "workers" section: the processes that ran remote stages.
pub(crate) fn render_workers(out: &mut String, summary: &RunSummary) {
    if summary.workers.is_empty() {
        return;
    }
    out.push_str(
        "<section id=\"workers\"><h2>Remote workers</h2>\n<table class=\"stats\"><thead><tr>\
         <th>stage</th><th>host</th><th class=\"num\">pid</th><th class=\"num\">replicas</th>\
         <th class=\"num\">items</th><th class=\"num\">messages</th><th class=\"num\">busy</th>\
         <th class=\"num\">retried</th><th class=\"num\">dead letters</th><th>state</th></tr></thead><tbody>\n",
    );
    for worker in &summary.workers {
        let _ = writeln!(
            out,
            "<tr><td><code>{}</code>{}</td><td>{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td>\
             <td class=\"num\">{}</td><td class=\"num\">{}</td>{}<td class=\"num\">{}</td>\
             <td class=\"num{}\">{}</td><td>{}</td></tr>",
            escape(&worker.stage),
            if worker.serves == worker.stage {
                String::new()
            } else {
                format!(" <span class=\"note\">in <code>{}</code></span>", escape(&worker.serves))
            },
            escape(&worker.host),
            worker.pid,
            worker.replicas,
            units::count(worker.items),
            units::count(worker.messages),
            busy_cell(worker.utilisation(summary.elapsed_s)),
            units::count(worker.retries),
            if worker.dead_letters > 0 { " bad" } else { "" },
            units::count(worker.dead_letters),
            if worker.stopped { "stopped" } else { "serving" },
        );
    }
    out.push_str(
        "</tbody></table>\n<p class=\"note\">Each worker process as it reported itself at the end of the run. \
         <b>busy</b>: share of its replicas' time over the whole run spent on items (a worker that joined late \
         or left early shows less). <b>retried</b>: chunks it put back after a failure, for another delivery.</p></section>\n",
    );
}

/// `part` of `whole`, at most all of it: sampled times can overshoot the
/// run by up to one sampling interval.
fn share(part: f64, whole: f64) -> f64 {
    (part / whole).clamp(0.0, 1.0)
}

fn row_class(bottleneck: bool) -> &'static str {
    if bottleneck {
        " class=\"bottleneck\""
    } else {
        ""
    }
}

fn badge(bottleneck: bool) -> &'static str {
    if bottleneck {
        " <span class=\"badge\">bottleneck</span>"
    } else {
        ""
    }
}

/// A percentage with a small bar behind it.
fn busy_cell(share: f64) -> String {
    format!(
        "<td class=\"num\"><span class=\"meter\"><span style=\"width:{:.0}%\"></span></span>{}</td>",
        (share * 100.0).clamp(0.0, 100.0),
        units::percent(share)
    )
}

/// A stage's mode, and the stage it runs fused into, if any.
fn mode_cell(stage: &crate::StageSummary) -> String {
    match &stage.fused_into {
        Some(head) => format!(
            "{}, fused into <code>{}</code>",
            escape(&stage.mode),
            escape(head)
        ),
        None => escape(&stage.mode).to_string(),
    }
}
