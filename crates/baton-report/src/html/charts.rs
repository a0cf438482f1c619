//! Small line charts of the monitor's samples: throughput and items in flight
//! for the run, then busy share and queue fill for every stage.
//!
//! Counters in the samples are totals so far; a value over an interval (a
//! rate, a busy share) is the difference between two samples over the time
//! between them, drawn as a step across that interval.

use std::fmt::Write;

use super::colour::stage_colour;
use super::markup::{escape, px};
use super::units;
use crate::summary::{RunSummary, SampleSummary};

/// At most this many intervals are drawn; longer series are thinned evenly
/// (a difference over a longer interval is that interval's mean).
const MAX_POINTS: usize = 400;

const MARGIN_LEFT: f64 = 56.0;
const MARGIN_RIGHT: f64 = 12.0;
const MARGIN_TOP: f64 = 12.0;
const MARGIN_BOTTOM: f64 = 22.0;

/// How a series is drawn.
enum Shape {
    /// A value held over each interval `(from, to, value)`, filled below.
    Steps(Vec<(f64, f64, f64)>),
    /// Values at instants `(at, value)`, joined.
    Line(Vec<(f64, f64)>),
}

struct Series {
    label: String,
    colour: &'static str,
    shape: Shape,
}

struct Chart {
    label: String,
    width: f64,
    height: f64,
    end_s: f64,
    y_max: f64,
    y_format: fn(f64) -> String,
    series: Vec<Series>,
}

/// One moment of the run, with an origin at zero added before the first sample.
struct Moment<'a> {
    at_s: f64,
    sample: Option<&'a SampleSummary>,
}

impl Moment<'_> {
    fn source_items(&self) -> f64 {
        self.sample.map_or(0.0, |s| s.source_items as f64)
    }

    fn in_flight(&self) -> f64 {
        self.sample.map_or(0.0, |s| s.in_flight as f64)
    }

    /// The bound on items in flight, and the process's resident memory in
    /// bytes, at this moment (`None` for the origin and older traces).
    fn bound_and_memory(&self) -> Option<(f64, f64)> {
        self.sample
            .filter(|s| s.max_in_flight > 0)
            .map(|s| (s.max_in_flight as f64, s.rss_bytes as f64))
    }

    /// The bound on the queue in front of stage `i` (`None`: unbounded).
    fn buffer(&self, i: usize) -> Option<f64> {
        self.sample
            .and_then(|s| s.stages.get(i))
            .filter(|s| s.buffer > 0)
            .map(|s| s.buffer as f64)
    }

    /// Replicas allowed and running at this moment (0 for the origin, and
    /// for the allowed ones in traces of older versions).
    fn replicas(&self, i: usize) -> (f64, f64) {
        self.sample
            .and_then(|s| s.stages.get(i))
            .map_or((0.0, 0.0), |s| (s.replicas as f64, s.active as f64))
    }

    fn stage(&self, i: usize) -> (f64, f64, f64) {
        self.sample
            .and_then(|s| s.stages.get(i))
            .map_or((0.0, 0.0, 0.0), |s| {
                (s.busy_ns as f64, s.queued_items as f64, s.items_in as f64)
            })
    }
}

/// Writes the "over time" section of the page.
pub(crate) fn render(out: &mut String, summary: &RunSummary) {
    out.push_str("<section id=\"over-time\"><h2>Over time</h2>\n");
    if summary.samples.is_empty() {
        out.push_str(
            "<p class=\"note\">The run ended before the monitor took its first sample, so there is nothing to \
             chart over time.</p></section>\n",
        );
        return;
    }
    let moments = thin(summary);
    let end_s = moments
        .last()
        .map_or(summary.elapsed_s, |m| m.at_s)
        .max(summary.elapsed_s)
        .max(1e-6);
    let intervals: Vec<(&Moment<'_>, &Moment<'_>)> = moments
        .windows(2)
        .map(|pair| (&pair[0], &pair[1]))
        .filter(|(a, b)| b.at_s > a.at_s)
        .collect();
    let rate = |value: &dyn Fn(&Moment<'_>) -> f64| -> Vec<(f64, f64, f64)> {
        intervals
            .iter()
            .map(|(a, b)| {
                (
                    a.at_s,
                    b.at_s,
                    ((value(b) - value(a)) / (b.at_s - a.at_s)).max(0.0),
                )
            })
            .collect()
    };
    let _ = writeln!(
        out,
        "<p>From the monitor's {} samples (one every {} or so){}. A rate or a busy share is the change between two \
         samples over the time between them.</p>",
        units::count(summary.samples.len() as u64),
        units::duration(end_s / summary.samples.len() as f64),
        if moments.len() < summary.samples.len() + 1 {
            format!(", thinned to {} points", units::count(moments.len() as u64))
        } else {
            String::new()
        },
    );

    let source_rate = rate(&|m| m.source_items());
    let last_stage = summary.stages.len().saturating_sub(1);
    let sink_rate = rate(&|m| m.stage(last_stage).2);
    let rate_max = source_rate
        .iter()
        .chain(&sink_rate)
        .map(|&(_, _, v)| v)
        .fold(0.0, f64::max);
    let mut series = vec![Series {
        label: format!("{} (source) items/s", summary.source.name),
        colour: stage_colour(0),
        shape: Shape::Steps(source_rate),
    }];
    if let Some(sink) = summary.stages.last() {
        series.push(Series {
            label: format!("{} (last stage) items in/s", sink.name),
            colour: stage_colour(1),
            shape: Shape::Steps(sink_rate),
        });
    }
    out.push_str("<div class=\"chart-row\">");
    write_chart(
        out,
        &Chart {
            label: "Throughput, items per second".to_string(),
            width: 640.0,
            height: 170.0,
            end_s,
            y_max: nice_ceiling(rate_max),
            y_format: |v| units::rate(Some(v)),
            series,
        },
    );
    let in_flight: Vec<(f64, f64)> = moments.iter().map(|m| (m.at_s, m.in_flight())).collect();
    let in_flight_max = in_flight.iter().map(|&(_, v)| v).fold(0.0, f64::max);
    let mut in_flight_series = vec![Series {
        label: "items in flight".to_string(),
        colour: stage_colour(2),
        shape: Shape::Line(in_flight),
    }];
    // The bound, when the memory budget held the run below the one set.
    let bounds: Vec<(f64, f64)> = moments
        .iter()
        .filter_map(|m| Some((m.at_s, m.bound_and_memory()?.0)))
        .collect();
    let highest_bound = bounds.iter().map(|&(_, v)| v).fold(0.0, f64::max);
    let held_back =
        summary.memory.held_back.is_some() || bounds.iter().any(|&(_, v)| v < highest_bound);
    let mut in_flight_top = in_flight_max;
    if held_back {
        in_flight_top = in_flight_top.max(bounds.iter().map(|&(_, v)| v).fold(0.0, f64::max));
        in_flight_series.push(Series {
            label: "bound on items in flight (the memory budget's)".to_string(),
            colour: stage_colour(3),
            shape: Shape::Line(bounds),
        });
    }
    write_chart(
        out,
        &Chart {
            label: "Items in flight (between source and sink)".to_string(),
            width: 640.0,
            height: 170.0,
            end_s,
            y_max: nice_ceiling(in_flight_top),
            y_format: items,
            series: in_flight_series,
        },
    );
    let memory: Vec<(f64, f64)> = moments
        .iter()
        .filter_map(|m| Some((m.at_s, m.bound_and_memory()?.1)))
        .filter(|&(_, rss)| rss > 0.0)
        .collect();
    if !memory.is_empty() {
        let budget = summary.memory.budget_bytes.map(|b| b as f64);
        let peak = memory.iter().map(|&(_, v)| v).fold(0.0, f64::max);
        // The budget is drawn when it is within sight of what was held.
        let shown_budget = budget.filter(|&b| b <= 4.0 * peak);
        let mut series = vec![Series {
            label: "memory the process held".to_string(),
            colour: stage_colour(4),
            shape: Shape::Line(memory),
        }];
        if let Some(budget) = shown_budget {
            series.push(Series {
                label: "memory budget".to_string(),
                colour: stage_colour(5),
                shape: Shape::Line(vec![(0.0, budget), (end_s, budget)]),
            });
        }
        write_chart(
            out,
            &Chart {
                label: match budget {
                    Some(b) => format!("Memory the process held (budget {})", units::bytes(b)),
                    None => "Memory the process held (no budget)".to_string(),
                },
                width: 640.0,
                height: 170.0,
                end_s,
                y_max: nice_ceiling(peak.max(shown_budget.unwrap_or(0.0))),
                y_format: units::bytes,
                series,
            },
        );
    }
    out.push_str("</div>\n");
    if let Some(why) = &summary.memory.held_back {
        let _ = writeln!(
            out,
            "<p class=\"tuning\">Held back by the memory budget: {}</p>",
            escape(why)
        );
    }

    let bottleneck = summary.bottleneck.as_ref().map(|b| b.stage.as_str());
    for (i, stage) in summary.stages.iter().enumerate() {
        let tuned = stage.tuning.is_some();
        let busy: Vec<(f64, f64, f64)> = intervals
            .iter()
            .map(|(a, b)| {
                // A tuned stage's replicas change: its share is of those
                // allowed then.
                let allowed = b.replicas(i).0;
                let replicas = match tuned && allowed > 0.0 {
                    true => allowed,
                    false => stage.replicas.max(1) as f64,
                };
                let share = (b.stage(i).0 - a.stage(i).0) / ((b.at_s - a.at_s) * 1e9 * replicas);
                (a.at_s, b.at_s, share.clamp(0.0, 1.0))
            })
            .collect();
        let queued: Vec<(f64, f64)> = moments.iter().map(|m| (m.at_s, m.stage(i).1)).collect();
        let mut queued_max = queued.iter().map(|&(_, v)| v).fold(0.0, f64::max);
        let mut queue_series = vec![Series {
            label: "queued items".to_string(),
            colour: stage_colour(i),
            shape: Shape::Line(queued),
        }];
        // A queue the tuner sizes: its bound over time beside it.
        if stage.buffer_tuning.is_some() {
            let bound: Vec<(f64, f64)> = moments
                .iter()
                .filter_map(|m| Some((m.at_s, m.buffer(i)?)))
                .collect();
            queued_max = bound.iter().map(|&(_, v)| v).fold(queued_max, f64::max);
            queue_series.push(Series {
                label: "queue bound the tuner set".to_string(),
                colour: stage_colour(i + 1),
                shape: Shape::Line(bound),
            });
        }
        let is_bottleneck = bottleneck == Some(stage.name.as_str());
        let _ = writeln!(
            out,
            "<div class=\"stage-card{}\"><h3><code>{}</code> <span class=\"mode\">{}, {} replica{}</span>{}</h3><div class=\"chart-row\">",
            if is_bottleneck { " bottleneck" } else { "" },
            escape(&stage.name),
            escape(&stage.mode),
            stage.replicas,
            if stage.replicas == 1 { "" } else { "s" },
            if is_bottleneck { " <span class=\"badge\">bottleneck</span>" } else { "" },
        );
        if let Some(head) = &stage.fused_into {
            let _ = writeln!(
                out,
                "<p class=\"tuning\">Runs fused into <code>{}</code>: its replicas carry this stage's chunks; the times here are this stage's own.</p>",
                escape(head)
            );
        }
        if let Some(why) = &stage.tuning {
            let _ = writeln!(out, "<p class=\"tuning\">Tuned: {}</p>", escape(why));
        }
        if let Some(why) = &stage.buffer_tuning {
            let _ = writeln!(out, "<p class=\"tuning\">Queue tuned: {}</p>", escape(why));
        }
        let colour = stage_colour(i);
        write_chart(
            out,
            &Chart {
                label: format!("{}: busy, share of its replicas' time", stage.name),
                width: 640.0,
                height: 120.0,
                end_s,
                y_max: 1.0,
                y_format: units::percent,
                series: vec![Series {
                    label: "busy".to_string(),
                    colour,
                    shape: Shape::Steps(busy),
                }],
            },
        );
        write_chart(
            out,
            &Chart {
                label: format!("{}: items queued in front of it", stage.name),
                width: 640.0,
                height: 120.0,
                end_s,
                y_max: nice_ceiling(queued_max),
                y_format: items,
                series: queue_series,
            },
        );
        if tuned {
            let allowed: Vec<(f64, f64)> =
                moments.iter().map(|m| (m.at_s, m.replicas(i).0)).collect();
            let running: Vec<(f64, f64)> =
                moments.iter().map(|m| (m.at_s, m.replicas(i).1)).collect();
            let most = allowed.iter().map(|&(_, v)| v).fold(1.0, f64::max);
            write_chart(
                out,
                &Chart {
                    label: format!("{}: replicas the tuner allowed, and running", stage.name),
                    width: 640.0,
                    height: 120.0,
                    end_s,
                    y_max: nice_ceiling(most),
                    y_format: replicas,
                    series: vec![
                        Series {
                            label: "replicas allowed".to_string(),
                            colour,
                            shape: Shape::Line(allowed),
                        },
                        Series {
                            label: "replicas running".to_string(),
                            colour: stage_colour(i + 1),
                            shape: Shape::Line(running),
                        },
                    ],
                },
            );
        }
        out.push_str("</div></div>\n");
    }
    out.push_str("</section>\n");
}

/// The samples to draw: an origin at zero, then at most [`MAX_POINTS`]
/// samples evenly spread, always keeping the last.
fn thin(summary: &RunSummary) -> Vec<Moment<'_>> {
    let samples = &summary.samples;
    let stride = samples.len().div_ceil(MAX_POINTS).max(1);
    let mut moments = vec![Moment {
        at_s: 0.0,
        sample: None,
    }];
    for (i, sample) in samples.iter().enumerate() {
        if i % stride == stride - 1 || i + 1 == samples.len() {
            moments.push(Moment {
                at_s: sample.at_s,
                sample: Some(sample),
            });
        }
    }
    moments
}

/// A number of items on an axis: whole, or with one decimal between whole numbers.
/// A replica count on an axis.
fn replicas(value: f64) -> String {
    items(value)
}

fn items(value: f64) -> String {
    if value.fract() == 0.0 {
        units::count(value as u64)
    } else {
        format!("{value:.1}")
    }
}

/// A round number at or above `value` (1, 2 or 5 times a power of ten), at least 1.
fn nice_ceiling(value: f64) -> f64 {
    if value <= 1.0 || !value.is_finite() {
        return 1.0;
    }
    let magnitude = 10f64.powf(value.log10().floor());
    [1.0, 2.0, 5.0, 10.0]
        .iter()
        .map(|m| m * magnitude)
        .find(|&c| c >= value)
        .unwrap_or(10.0 * magnitude)
}

fn write_chart(out: &mut String, chart: &Chart) {
    let (w, h) = (chart.width, chart.height);
    let plot_w = w - MARGIN_LEFT - MARGIN_RIGHT;
    let plot_h = h - MARGIN_TOP - MARGIN_BOTTOM;
    let x_of = |t: f64| MARGIN_LEFT + (t / chart.end_s).clamp(0.0, 1.0) * plot_w;
    let y_of = |v: f64| MARGIN_TOP + plot_h - (v / chart.y_max).clamp(0.0, 1.0) * plot_h;
    let _ = write!(
        out,
        "<figure class=\"chart\"><figcaption>{}",
        escape(&chart.label)
    );
    if chart.series.len() > 1 {
        for series in &chart.series {
            let _ = write!(
                out,
                " <span class=\"key\" style=\"background:{}\"></span>{}",
                series.colour,
                escape(&series.label)
            );
        }
    }
    let _ = writeln!(
        out,
        "</figcaption><svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 {w} {h}\" width=\"{w}\" height=\"{h}\" role=\"img\" aria-label=\"{}\">",
        escape(&chart.label),
        w = px(w),
        h = px(h),
    );
    for fraction in [0.0, 0.5, 1.0] {
        let y = y_of(chart.y_max * fraction);
        let _ = write!(
            out,
            "<line class=\"grid\" x1=\"{}\" y1=\"{y}\" x2=\"{}\" y2=\"{y}\"/><text class=\"ylabel\" x=\"{}\" y=\"{}\">{}</text>",
            px(MARGIN_LEFT),
            px(w - MARGIN_RIGHT),
            px(MARGIN_LEFT - 5.0),
            px(y_of(chart.y_max * fraction) + 4.0),
            escape(&(chart.y_format)(chart.y_max * fraction)),
            y = px(y),
        );
    }
    let step = units::nice_step(chart.end_s, (plot_w / 90.0) as usize);
    let mut tick = 0.0;
    while tick <= chart.end_s * (1.0 + 1e-9) {
        let _ = write!(
            out,
            "<text class=\"tick\" x=\"{}\" y=\"{}\">{}</text>",
            px(x_of(tick)),
            px(h - 6.0),
            units::tick_label(tick, step, chart.end_s),
        );
        tick += step;
    }
    for series in &chart.series {
        match &series.shape {
            Shape::Steps(steps) if !steps.is_empty() => {
                let mut path = format!("M{} {}", px(x_of(steps[0].0)), px(y_of(0.0)));
                for &(from, to, value) in steps {
                    let _ = write!(
                        path,
                        "L{} {}H{}",
                        px(x_of(from)),
                        px(y_of(value)),
                        px(x_of(to))
                    );
                }
                let last = steps[steps.len() - 1].1;
                let _ = write!(
                    out,
                    "<path class=\"area\" fill=\"{c}\" d=\"{path}L{} {}Z\"/><path class=\"line\" stroke=\"{c}\" d=\"{path}\"/>",
                    px(x_of(last)),
                    px(y_of(0.0)),
                    c = series.colour,
                );
            }
            Shape::Line(points) if !points.is_empty() => {
                let coords: Vec<String> = points
                    .iter()
                    .map(|&(t, v)| format!("{},{}", px(x_of(t)), px(y_of(v))))
                    .collect();
                let _ = write!(
                    out,
                    "<polyline class=\"line\" stroke=\"{}\" points=\"{}\"/>",
                    series.colour,
                    coords.join(" ")
                );
            }
            _ => {}
        }
    }
    let _ = write!(
        out,
        "<line class=\"axis\" x1=\"{l}\" y1=\"{b}\" x2=\"{r}\" y2=\"{b}\"/><line class=\"axis\" x1=\"{l}\" y1=\"{t}\" x2=\"{l}\" y2=\"{b}\"/>",
        l = px(MARGIN_LEFT),
        r = px(w - MARGIN_RIGHT),
        t = px(MARGIN_TOP),
        b = px(MARGIN_TOP + plot_h),
    );
    out.push_str("</svg></figure>\n");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ceilings_are_round() {
        assert_eq!(nice_ceiling(0.3), 1.0);
        assert_eq!(nice_ceiling(19.0), 20.0);
        assert_eq!(nice_ceiling(450.0), 500.0);
        assert_eq!(nice_ceiling(1000.0), 1000.0);
        assert_eq!(nice_ceiling(1001.0), 2000.0);
    }
}
