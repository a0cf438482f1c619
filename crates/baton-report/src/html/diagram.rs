//! The pipeline diagram, drawn as in textbooks on instruction pipelines:
//! stages down the side, time along the bottom, one bar per chunk a stage
//! replica ran, coloured and numbered by its item. Reading a column shows the
//! overlap (item k in one stage while item k − 1 is in the next), and the
//! ends show the fill and the drain.
//!
//! A long run has too many spans to draw each: past [`FULL_DETAIL_SPANS`] the
//! diagram shows the first [`HEAD_SPANS`] and the last [`TAIL_SPANS`] in full,
//! and an overview of the whole run in which each stage's row is shaded by
//! how busy its replicas were, so the page stays small (well under 5 MB).

use std::collections::BTreeSet;
use std::fmt::Write;

use super::colour::{hex, item_colour};
use super::markup::{escape, px};
use super::units;
use crate::summary::RunSummary;
use crate::trace::{TraceFile, TraceSpan};

/// Runs with at most this many spans are drawn whole.
pub(crate) const FULL_DETAIL_SPANS: usize = 1_000;
/// Spans drawn in full from the start of a longer run.
pub(crate) const HEAD_SPANS: usize = 400;
/// Spans drawn in full from the end of a longer run.
pub(crate) const TAIL_SPANS: usize = 200;

/// Width of every diagram, in CSS pixels.
pub(crate) const WIDTH: f64 = 1320.0;
const LABEL_WIDTH: f64 = 190.0;
const RIGHT_MARGIN: f64 = 14.0;
const PHASE_HEIGHT: f64 = 20.0;
const AXIS_HEIGHT: f64 = 22.0;
const GROUP_GAP: f64 = 6.0;
const OVERVIEW_ROW: f64 = 16.0;
const OVERVIEW_BIN_PX: f64 = 2.0;

fn plot_width() -> f64 {
    WIDTH - LABEL_WIDTH - RIGHT_MARGIN
}

/// One stage's rows: a lane per replica that ran something.
struct Group {
    stage: usize,
    name: String,
    mode: String,
    replicas: Vec<u32>,
    lane_height: f64,
    top: f64,
    bottleneck: bool,
}

impl Group {
    fn height(&self) -> f64 {
        self.lane_height * self.replicas.len() as f64
    }

    fn lane_top(&self, replica: u32) -> f64 {
        let lane = self.replicas.binary_search(&replica).unwrap_or(0);
        self.top + lane as f64 * self.lane_height
    }
}

/// The rows of the diagram, in pipeline order: the source, then every stage.
struct Layout {
    groups: Vec<Group>,
    height: f64,
}

impl Layout {
    fn new(summary: &RunSummary, spans: &[&TraceSpan]) -> Self {
        let stage_count = summary.stages.len() + 1;
        let mut replicas = vec![BTreeSet::new(); stage_count];
        for span in spans {
            if let Some(set) = replicas.get_mut(span.stage) {
                set.insert(span.replica);
            }
        }
        let bottleneck = summary.bottleneck.as_ref().map(|b| b.stage.as_str());
        let mut top = PHASE_HEIGHT + AXIS_HEIGHT;
        let mut groups = Vec::with_capacity(stage_count);
        for (stage, set) in replicas.into_iter().enumerate() {
            let replicas: Vec<u32> = if set.is_empty() {
                vec![0]
            } else {
                set.into_iter().collect()
            };
            // Few replicas get rows tall enough for item numbers; many get thin rows.
            let lane_height = match replicas.len() {
                1..=4 => 26.0,
                5..=8 => 18.0,
                9..=32 => 10.0,
                n => (320.0 / n as f64).max(3.0),
            };
            let (name, mode) = match stage {
                0 => (summary.source.name.clone(), "source".to_string()),
                i => (
                    summary.stages[i - 1].name.clone(),
                    summary.stages[i - 1].mode.clone(),
                ),
            };
            let group = Group {
                stage,
                bottleneck: bottleneck == Some(name.as_str()),
                name,
                mode,
                replicas,
                lane_height,
                top,
            };
            top += group.height() + GROUP_GAP;
            groups.push(group);
        }
        Self {
            groups,
            height: top + 4.0,
        }
    }
}

/// Where the fill ends and the drain starts, in microseconds.
struct Phases {
    fill_end: f64,
    drain_start: f64,
}

impl Phases {
    /// The fill lasts until the last working stage gets its first item; the
    /// drain starts when the first working stage has let go of its last one.
    /// Working stages are those with real work: at least a twentieth of the
    /// busiest stage's busy time. A source or sink that costs nothing would
    /// otherwise set the phases by when a thread happened to get to it.
    fn of(spans: &[&TraceSpan]) -> Option<Self> {
        let stages = spans.iter().map(|s| s.stage).max()? + 1;
        let mut busy = vec![0.0f64; stages];
        for span in spans {
            busy[span.stage] += span.dur_us;
        }
        let busiest = busy.iter().copied().fold(0.0, f64::max);
        let mut working = (0..stages).filter(|&s| busy[s] > 0.0 && busy[s] >= busiest / 20.0);
        let first = working.next()?;
        let last = working.next_back()?;
        let fill_end = spans
            .iter()
            .filter(|s| s.stage == last)
            .map(|s| s.start_us)
            .fold(f64::INFINITY, f64::min);
        let drain_start = spans
            .iter()
            .filter(|s| s.stage == first)
            .map(|s| s.end_us())
            .fold(0.0, f64::max);
        (fill_end < drain_start).then_some(Self {
            fill_end,
            drain_start,
        })
    }
}

/// A stretch of time drawn in full.
struct Window<'a> {
    title: String,
    start: f64,
    end: f64,
    spans: Vec<&'a TraceSpan>,
}

/// Writes the diagram section of the page.
pub(crate) fn render(out: &mut String, trace: &TraceFile) {
    let summary = &trace.baton;
    let all: Vec<TraceSpan> = trace.spans().collect();
    // Empty chunks only mark the end of the stream: nothing to draw.
    let mut spans: Vec<&TraceSpan> = all.iter().filter(|s| s.items > 0).collect();
    spans.sort_by(|a, b| a.start_us.total_cmp(&b.start_us));

    out.push_str("<section id=\"diagram\"><h2>The pipeline over time</h2>\n");
    if spans.is_empty() {
        out.push_str(
            "<p class=\"note\">This run recorded no spans, so there is no diagram: run it with \
             <code>Config::default().trace(true)</code> to record one span per chunk and stage.</p></section>\n",
        );
        return;
    }
    let layout = Layout::new(summary, &spans);
    let run_end = spans
        .iter()
        .map(|s| s.end_us())
        .fold(summary.elapsed_s * 1e6, f64::max);
    let phases = Phases::of(&spans);
    write_explanation(out, summary, &layout);
    let thinning = summary.span_thinning.max(1);
    if thinning > 1 {
        let _ = writeln!(
            out,
            "<p class=\"warning\" id=\"thinned\">This run was long: to keep its memory bounded, baton kept the \
             spans of one chunk in {thinning} (chunks 0, {thinning}, {}, …), so the diagram shows those chunks \
             only, every stage of each, and the overview counts each kept span {thinning} times. The counters \
             and charts cover every item.</p>",
            2 * thinning
        );
    }

    if spans.len() <= FULL_DETAIL_SPANS {
        let _ = writeln!(
            out,
            "<p class=\"note\">All {} spans are drawn (empty end-of-stream chunks are left out). \
             Hover over a bar for its stage replica, item and times.</p>",
            units::count(spans.len() as u64)
        );
        let window = Window {
            title: "the whole run".to_string(),
            start: 0.0,
            end: run_end,
            spans,
        };
        write_window(out, &layout, &window, phases.as_ref());
    } else {
        let head_end = spans[HEAD_SPANS].start_us;
        let tail_start = spans[spans.len() - TAIL_SPANS].start_us;
        // Start at the first span, not at 0: the engine's start-up would
        // otherwise take much of a short window.
        let first = spans[0].start_us;
        let head = Window {
            title: format!("A: the first {} spans", units::count(HEAD_SPANS as u64)),
            start: (first - (head_end - first) * 0.01).max(0.0),
            end: head_end,
            spans: spans
                .iter()
                .copied()
                .filter(|s| s.start_us < head_end)
                .collect(),
        };
        let tail = Window {
            title: format!("B: the last {} spans", units::count(TAIL_SPANS as u64)),
            start: tail_start,
            end: run_end,
            spans: spans
                .iter()
                .copied()
                .filter(|s| s.end_us() > tail_start)
                .collect(),
        };
        let _ = writeln!(
            out,
            "<p class=\"note\">This run has {} spans, too many to draw each. The overview shades each stage by how \
             busy its replicas were in each 1/{} of the run; below it, window A ({} to {}) and window B ({} to {}) \
             draw every span in full: the fill at the start and the drain at the end. The trace file holds every span \
             recorded: open it in Perfetto (ui.perfetto.dev) or chrome://tracing to see them all.</p>",
            units::count(spans.len() as u64),
            (plot_width() / OVERVIEW_BIN_PX) as usize,
            units::duration(head.start / 1e6),
            units::duration(head.end / 1e6),
            units::duration(tail.start / 1e6),
            units::duration(tail.end / 1e6),
        );
        write_overview(
            out,
            &layout,
            &spans,
            run_end,
            thinning as f64,
            &[&head, &tail],
        );
        for window in [&head, &tail] {
            let _ = writeln!(out, "<h3>{}</h3>", escape(&window.title));
            write_window(out, &layout, window, phases.as_ref());
        }
    }
    out.push_str("</section>\n");
}

fn write_explanation(out: &mut String, summary: &RunSummary, layout: &Layout) {
    let working: Vec<&Group> = layout.groups.iter().filter(|g| g.stage >= 1).collect();
    let example = match working.as_slice() {
        [a, b, ..] => format!(
            " Read a column from top to bottom: while <code>{}</code> works on item k, <code>{}</code> works on an \
             earlier item; the stages overlap.",
            escape(&a.name),
            escape(&b.name)
        ),
        _ => String::new(),
    };
    let _ = writeln!(
        out,
        "<p>Time runs left to right; each row is a replica of a stage, in pipeline order ({} first). \
         Each bar is one chunk going through one stage; its colour and number are its item's sequence number \
         (a chunk of several items shows its first).{} The band at the top marks the <b>fill</b> (until the last \
         stage with real work gets its first item) and the <b>drain</b> (after the first such stage has let go of \
         its last item).</p>",
        escape(&summary.source.name),
        example
    );
}

/// Draws the spans of `window`, every one as a bar.
fn write_window(out: &mut String, layout: &Layout, window: &Window<'_>, phases: Option<&Phases>) {
    let span = (window.end - window.start).max(1e-3);
    let x_of = |t: f64| {
        LABEL_WIDTH + (t.clamp(window.start, window.end) - window.start) / span * plot_width()
    };
    let _ = writeln!(
        out,
        "<svg class=\"diagram\" xmlns=\"http://www.w3.org/2000/svg\" width=\"{w}\" height=\"{h}\" \
         viewBox=\"0 0 {w} {h}\" role=\"img\" aria-label=\"pipeline diagram: {title}\">",
        w = px(WIDTH),
        h = px(layout.height),
        title = escape(&window.title),
    );
    write_lanes(out, layout);
    let axis_y = PHASE_HEIGHT + AXIS_HEIGHT - 7.0;
    write_time_axis(
        out,
        window.start,
        window.end,
        axis_y,
        axis_y + 3.0,
        layout.height - 4.0,
    );
    if let Some(phases) = phases {
        write_phases(out, layout, phases, &x_of, window);
    }
    out.push_str("<g class=\"bars\">\n");
    for s in &window.spans {
        let Some(group) = layout.groups.get(s.stage) else {
            continue;
        };
        let x0 = x_of(s.start_us);
        let mut width = (x_of(s.end_us()) - x0).max(1.0);
        // A hairline gap keeps back-to-back items of a serial stage apart.
        if width > 4.0 {
            width -= 1.0;
        }
        let lane_top = group.lane_top(s.replica);
        let height = (group.lane_height - 4.0).max(1.0);
        let last = s.first_seq + s.items as u64 - 1;
        let what = if s.items == 1 {
            format!("item {}", s.first_seq)
        } else {
            format!("items {}–{last} ({} items)", s.first_seq, s.items)
        };
        let _ = write!(
            out,
            "<rect class=\"bar\" data-stage=\"{}\" data-seq=\"{}\" x=\"{}\" y=\"{}\" width=\"{}\" height=\"{}\"{} fill=\"{}\">\
             <title>{} #{}: {what}, {} from {}</title></rect>",
            s.stage,
            s.first_seq,
            px(x0),
            px(lane_top + 2.0),
            px(width),
            px(height),
            if width > 6.0 { " rx=\"2\"" } else { "" },
            hex(item_colour(s.first_seq)),
            escape(&group.name),
            s.replica,
            units::duration(s.dur_us / 1e6),
            units::duration(s.start_us / 1e6),
        );
        if group.lane_height >= 16.0 {
            let label = if s.items == 1 {
                s.first_seq.to_string()
            } else {
                format!("{}–{last}", s.first_seq)
            };
            let short = s.first_seq.to_string();
            let fits = |text: &str| width >= text.chars().count() as f64 * 6.8 + 2.0;
            let text = if fits(&label) {
                Some(label)
            } else if fits(&short) {
                Some(short)
            } else {
                None
            };
            if let Some(text) = text {
                let _ = write!(
                    out,
                    "<text class=\"item\" x=\"{}\" y=\"{}\">{text}</text>",
                    px(x0 + width / 2.0),
                    px(lane_top + group.lane_height / 2.0 + 4.0),
                );
            }
        }
        out.push('\n');
    }
    out.push_str("</g></svg>\n");
}

/// The stage names on the left and a band behind each stage's rows.
fn write_lanes(out: &mut String, layout: &Layout) {
    for (i, group) in layout.groups.iter().enumerate() {
        let class = if group.bottleneck {
            "lane bottleneck"
        } else if i % 2 == 0 {
            "lane even"
        } else {
            "lane"
        };
        let _ = writeln!(
            out,
            "<rect class=\"{class}\" x=\"0\" y=\"{}\" width=\"{}\" height=\"{}\"/>",
            px(group.top - GROUP_GAP / 2.0),
            px(WIDTH),
            px(group.height() + GROUP_GAP),
        );
        let middle = group.top + group.height() / 2.0;
        let (name_y, mode_y) = if group.height() >= 26.0 {
            (middle - 1.0, middle + 11.0)
        } else {
            (middle + 4.0, f64::NAN)
        };
        let _ = write!(
            out,
            "<text class=\"stage{}\" x=\"10\" y=\"{}\">{}{}</text>",
            if group.bottleneck { " bottleneck" } else { "" },
            px(name_y),
            escape(&group.name),
            if group.bottleneck {
                " ◀ bottleneck"
            } else {
                ""
            },
        );
        if mode_y.is_finite() {
            let _ = write!(
                out,
                "<text class=\"mode\" x=\"10\" y=\"{}\">{}</text>",
                px(mode_y),
                escape(&group.mode)
            );
        }
        if group.replicas.len() > 1 && group.lane_height >= 10.0 {
            for &replica in &group.replicas {
                let _ = write!(
                    out,
                    "<text class=\"replica\" x=\"{}\" y=\"{}\">#{replica}</text>",
                    px(LABEL_WIDTH - 6.0),
                    px(group.lane_top(replica) + group.lane_height / 2.0 + 3.5),
                );
            }
        }
        out.push('\n');
    }
}

/// Vertical grid lines at round times from `line_top` to `line_bottom`,
/// labelled at `label_y`.
fn write_time_axis(
    out: &mut String,
    start_us: f64,
    end_us: f64,
    label_y: f64,
    line_top: f64,
    line_bottom: f64,
) {
    let (start, end) = (start_us / 1e6, end_us / 1e6);
    let step = units::nice_step(end - start, 10);
    let mut tick = (start / step).ceil() * step;
    while tick <= end + step * 1e-9 {
        let x = LABEL_WIDTH + (tick - start) / (end - start).max(1e-12) * plot_width();
        let _ = writeln!(
            out,
            "<line class=\"grid\" x1=\"{x}\" y1=\"{}\" x2=\"{x}\" y2=\"{}\"/><text class=\"tick\" x=\"{x}\" y=\"{}\">{}</text>",
            px(line_top),
            px(line_bottom),
            px(label_y),
            units::tick_label(tick, step, end),
            x = px(x),
        );
        tick += step;
    }
}

/// The fill / steady state / drain band along the top.
fn write_phases(
    out: &mut String,
    layout: &Layout,
    phases: &Phases,
    x_of: &dyn Fn(f64) -> f64,
    window: &Window<'_>,
) {
    let bands = [
        ("fill", 0.0, phases.fill_end),
        ("steady state", phases.fill_end, phases.drain_start),
        ("drain", phases.drain_start, f64::INFINITY),
    ];
    for (i, (label, from, to)) in bands.iter().enumerate() {
        let (from, to) = (from.max(window.start), to.min(window.end));
        if to <= from {
            continue;
        }
        let (x0, x1) = (x_of(from), x_of(to));
        let _ = write!(
            out,
            "<rect class=\"phase phase{i}\" x=\"{}\" y=\"2\" width=\"{}\" height=\"{}\"/>",
            px(x0),
            px((x1 - x0).max(1.0)),
            px(PHASE_HEIGHT - 4.0),
        );
        // The fill or drain band too narrow for its name gets it beside, inside the run.
        let width = x1 - x0;
        let (text, x, anchor) = match i {
            0 if width < 40.0 => (*label, x0 + 3.0, "start"),
            2 if width < 40.0 => (*label, x1 - 3.0, "end"),
            _ if width >= label.len() as f64 * 6.5 + 8.0 => (*label, (x0 + x1) / 2.0, "middle"),
            _ => continue,
        };
        let _ = write!(
            out,
            "<text class=\"phase-label\" x=\"{}\" y=\"{}\" text-anchor=\"{anchor}\">{text}</text>",
            px(x),
            px(PHASE_HEIGHT / 2.0 + 4.0),
        );
    }
    for t in [phases.fill_end, phases.drain_start] {
        if t > window.start && t < window.end {
            let x = px(x_of(t));
            let _ = write!(
                out,
                "<line class=\"phase-edge\" x1=\"{x}\" y1=\"{}\" x2=\"{x}\" y2=\"{}\"/>",
                px(PHASE_HEIGHT - 2.0),
                px(layout.height - 4.0),
            );
        }
    }
    out.push('\n');
}

/// The whole run, one row per stage, shaded by the share of its replicas'
/// time spent busy in each bin; the windows drawn in full are outlined.
fn write_overview(
    out: &mut String,
    layout: &Layout,
    spans: &[&TraceSpan],
    run_end: f64,
    weight: f64,
    windows: &[&Window<'_>],
) {
    let bins = (plot_width() / OVERVIEW_BIN_PX) as usize;
    let bin_us = (run_end / bins as f64).max(1e-3);
    let mut busy = vec![vec![0.0f64; bins]; layout.groups.len()];
    for s in spans {
        let Some(row) = busy.get_mut(s.stage) else {
            continue;
        };
        let first = ((s.start_us / bin_us) as usize).min(bins - 1);
        let last = ((s.end_us() / bin_us) as usize).min(bins - 1);
        for (bin, slot) in row.iter_mut().enumerate().take(last + 1).skip(first) {
            let (from, to) = (bin as f64 * bin_us, (bin + 1) as f64 * bin_us);
            *slot += weight * (s.end_us().min(to) - s.start_us.max(from)).max(0.0);
        }
    }
    let top = AXIS_HEIGHT;
    let rows_bottom = top + layout.groups.len() as f64 * OVERVIEW_ROW;
    let height = rows_bottom + AXIS_HEIGHT;
    let _ = writeln!(
        out,
        "<h3>Overview: the whole run</h3>\n<svg class=\"diagram overview\" xmlns=\"http://www.w3.org/2000/svg\" \
         width=\"{w}\" height=\"{h}\" viewBox=\"0 0 {w} {h}\" role=\"img\" aria-label=\"overview of the whole run\">",
        w = px(WIDTH),
        h = px(height),
    );
    for (i, (group, row)) in layout.groups.iter().zip(&busy).enumerate() {
        let y = top + i as f64 * OVERVIEW_ROW;
        let _ = write!(
            out,
            "<rect class=\"lane{}\" x=\"0\" y=\"{}\" width=\"{}\" height=\"{}\"/><text class=\"stage{}\" x=\"10\" y=\"{}\">{}</text>",
            if group.bottleneck { " bottleneck" } else if i % 2 == 0 { " even" } else { "" },
            px(y),
            px(WIDTH),
            px(OVERVIEW_ROW),
            if group.bottleneck { " bottleneck" } else { "" },
            px(y + OVERVIEW_ROW / 2.0 + 4.0),
            escape(&group.name),
        );
        // Runs of bins at the same tenth of busy share become one rectangle.
        let lanes = group.replicas.len() as f64;
        let level =
            |bin: usize| ((row[bin] / (bin_us * lanes)).clamp(0.0, 1.0) * 10.0).round() as u32;
        let mut bin = 0;
        while bin < bins {
            let shade = level(bin);
            let mut until = bin + 1;
            while until < bins && level(until) == shade {
                until += 1;
            }
            if shade > 0 {
                let _ = write!(
                    out,
                    "<rect class=\"busy\" x=\"{}\" y=\"{}\" width=\"{}\" height=\"{}\" fill-opacity=\"{:.1}\"/>",
                    px(LABEL_WIDTH + bin as f64 * OVERVIEW_BIN_PX),
                    px(y + 2.0),
                    px((until - bin) as f64 * OVERVIEW_BIN_PX),
                    px(OVERVIEW_ROW - 4.0),
                    f64::from(shade) / 10.0,
                );
            }
            bin = until;
        }
        out.push('\n');
    }
    write_time_axis(
        out,
        0.0,
        run_end,
        rows_bottom + 15.0,
        top,
        rows_bottom + 3.0,
    );
    let x_of = |t: f64| LABEL_WIDTH + t / run_end.max(1e-3) * plot_width();
    for window in windows {
        let (x0, x1) = (x_of(window.start), x_of(window.end));
        let _ = writeln!(
            out,
            "<rect class=\"window\" x=\"{}\" y=\"{}\" width=\"{}\" height=\"{}\"/><text class=\"tick\" x=\"{}\" y=\"{}\">{}</text>",
            px(x0),
            px(top - 2.0),
            px((x1 - x0).max(2.0)),
            px(rows_bottom - top + 4.0),
            px((x0 + x1) / 2.0),
            px(top - 6.0),
            escape(window.title.split(':').next().unwrap_or("")),
        );
    }
    out.push_str("</svg>\n");
}
