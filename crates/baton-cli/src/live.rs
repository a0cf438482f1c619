//! The live view: one line per stage while a pipeline runs, with items done,
//! items/s, replicas, how busy they are, how full the queue in front is, and
//! the bottleneck marked; an overall bar with an ETA when the source's size
//! is known. Plain periodic log lines when stderr is not a terminal.

use std::io::IsTerminal;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use baton_engine::{PipelineHandle, StatsSnapshot};
use baton_ops::{Moment, Warning, Warnings};
use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};

/// How the run is shown.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum View {
    /// Bars on a terminal.
    Bars,
    /// A log line every few seconds.
    Log,
    /// Nothing.
    Quiet,
}

impl View {
    pub(crate) fn choose(quiet: bool) -> View {
        if quiet {
            View::Quiet
        } else if std::io::stderr().is_terminal() {
            View::Bars
        } else {
            View::Log
        }
    }
}

/// Where lines about the run from other threads (Ctrl-C's notices) go:
/// above the bars while they are drawn, so that a redraw neither overwrites
/// them nor leaves half-cleared bars behind; straight to stderr otherwise.
#[derive(Clone, Debug, Default)]
pub(crate) struct Notices(Arc<Mutex<Option<MultiProgress>>>);

impl Notices {
    /// Shows `line`.
    pub(crate) fn print(&self, line: &str) {
        match &*self.bars() {
            Some(multi) => {
                let _ = multi.println(line);
            }
            None => eprintln!("{line}"),
        }
    }

    /// Clears the bars for good, then shows `line`: the last words of a
    /// program about to exit while the view still runs.
    pub(crate) fn print_last(&self, line: &str) {
        let mut bars = self.bars();
        if let Some(multi) = bars.take() {
            let _ = multi.clear();
        }
        eprintln!("{line}");
    }

    /// Runs `write` (to standard output) with the bars cleared while it
    /// writes, so that the next redraw does not overwrite what it wrote.
    pub(crate) fn around(&self, write: &mut dyn FnMut()) {
        match &*self.bars() {
            Some(multi) => multi.suspend(write),
            None => write(),
        }
    }

    fn bars(&self) -> std::sync::MutexGuard<'_, Option<MultiProgress>> {
        self.0.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// One line per stage, computed from two snapshots: `done` counts the
/// items a stage has taken in (for the source, made).
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct StageLine {
    pub(crate) name: String,
    pub(crate) done: u64,
    pub(crate) rate: f64,
    pub(crate) replicas: usize,
    pub(crate) busy: f64,
    pub(crate) queued: usize,
}

/// The lines for the source and every stage, with rates and busy shares over
/// the interval between `before` and `now`, and the index of the bottleneck.
pub(crate) fn lines(
    before: &StatsSnapshot,
    now: &StatsSnapshot,
) -> (Vec<StageLine>, Option<usize>) {
    let dt = now
        .elapsed
        .saturating_sub(before.elapsed)
        .as_secs_f64()
        .max(1e-6);
    let mut lines = vec![StageLine {
        name: now.source.name.clone(),
        // What the source made (blocks, when a parse stage makes the
        // run's records from them), like the stages' counts below.
        done: now.source.made,
        rate: (now.source.made - before.source.made.min(now.source.made)) as f64 / dt,
        replicas: 1,
        busy: (now.source.busy.saturating_sub(before.source.busy)).as_secs_f64() / dt,
        queued: 0,
    }];
    for (i, stage) in now.stages.iter().enumerate() {
        let (busy_before, in_before) = before
            .stages
            .get(i)
            .map_or((Duration::ZERO, 0), |s| (s.busy, s.items_in));
        let replicas = if stage.mode.is_blocking() {
            stage.replicas
        } else {
            stage.replicas.min(now.threads)
        }
        .max(1);
        lines.push(StageLine {
            name: stage.name.clone(),
            done: stage.items_in,
            rate: (stage.items_in.saturating_sub(in_before)) as f64 / dt,
            replicas: stage.replicas,
            busy: (stage.busy.saturating_sub(busy_before)).as_secs_f64() / (dt * replicas as f64),
            queued: stage.queued,
        });
    }
    let bottleneck = now
        .bottleneck()
        .and_then(|b| lines.iter().position(|line| line.name == b.stage))
        .filter(|_| now.source.items > 0);
    (lines, bottleneck)
}

fn describe(line: &StageLine, bottleneck: bool) -> String {
    format!(
        "{:<14} {:>10} done {:>10.0}/s  x{:<3} busy {:>3.0}%  queue {:>5}{}",
        line.name,
        line.done,
        line.rate,
        line.replicas,
        (line.busy * 100.0).min(100.0),
        line.queued,
        if bottleneck { "  ◀ bottleneck" } else { "" }
    )
}

/// Shows the run until it ends, with `notices` (Ctrl-C's), the warnings
/// its stages give while it goes (each once; the summary gives them again
/// as they stand at the end) and the `extra` lines under the stages' (a
/// distributed run's workers: as many lines each time).
pub(crate) fn watch(
    handle: &PipelineHandle,
    view: View,
    total: Option<u64>,
    notices: &Notices,
    warnings: &Warnings,
    extra: &dyn Fn() -> Vec<String>,
) {
    let mut news = News {
        warnings,
        shown: Vec::new(),
    };
    match view {
        View::Quiet => while !handle.wait_timeout(Duration::from_secs(1)) {},
        View::Log => watch_log(handle, &mut news, extra),
        View::Bars => watch_bars(handle, total, notices, &mut news, extra),
    }
}

/// The warnings of a run not shown yet.
struct News<'a> {
    warnings: &'a Warnings,
    shown: Vec<Warning>,
}

impl News<'_> {
    fn fresh(&mut self) -> Vec<String> {
        let mut fresh = Vec::new();
        for warning in self.warnings.read(Moment::Running) {
            if !self.shown.contains(&warning) {
                fresh.push(format!("warning: {warning}"));
                self.shown.push(warning);
            }
        }
        fresh
    }
}

fn watch_log(handle: &PipelineHandle, news: &mut News<'_>, extra: &dyn Fn() -> Vec<String>) {
    let every = Duration::from_secs(2);
    let mut before = handle.stats();
    let mut last = Instant::now();
    // Each wait ends as soon as the run does: the summary is not held back.
    while !handle.wait_timeout(Duration::from_millis(50)) {
        for line in news.fresh() {
            eprintln!("{line}");
        }
        if last.elapsed() < every {
            continue;
        }
        last = Instant::now();
        let now = handle.stats();
        let (lines, bottleneck) = lines(&before, &now);
        let parts: Vec<String> = lines
            .iter()
            .map(|l| format!("{} {} ({:.0}/s)", l.name, l.done, l.rate))
            .collect();
        let slowest = bottleneck
            .map(|i| format!(" | bottleneck: {}", lines[i].name))
            .unwrap_or_default();
        eprintln!(
            "[{:>6.1}s] {}{}",
            now.elapsed.as_secs_f64(),
            parts.join(" | "),
            slowest
        );
        for line in extra() {
            eprintln!("           {line}");
        }
        before = now;
    }
}

fn watch_bars(
    handle: &PipelineHandle,
    total: Option<u64>,
    notices: &Notices,
    news: &mut News<'_>,
    extra: &dyn Fn() -> Vec<String>,
) {
    let multi = MultiProgress::with_draw_target(ProgressDrawTarget::stderr_with_hz(10));
    *notices.bars() = Some(multi.clone());
    let overall = multi.add(match total {
        Some(n) => ProgressBar::new(n),
        None => ProgressBar::new_spinner(),
    });
    let style = match total {
        Some(_) => ProgressStyle::with_template(
            "{bar:40.cyan/blue} {pos}/{len} items  {per_sec}  eta {eta}",
        ),
        None => ProgressStyle::with_template("{spinner} {pos} items  {per_sec}  {elapsed}"),
    };
    if let Ok(style) = style {
        overall.set_style(style);
    }
    let first = handle.stats();
    let mut rows: Vec<ProgressBar> = Vec::new();
    for _ in 0..=first.stages.len() + extra().len() {
        let row = multi.add(ProgressBar::new_spinner());
        if let Ok(style) = ProgressStyle::with_template("  {msg}") {
            row.set_style(style);
        }
        rows.push(row);
    }
    let mut before = first;
    let mut last = Instant::now();
    while !handle.wait_timeout(Duration::from_millis(100)) {
        let now = handle.stats();
        // Done means through the whole pipeline: taken in by the sink.
        overall.set_position(now.stages.last().map_or(now.source.items, |s| s.items_in));
        for line in news.fresh() {
            let _ = multi.println(line);
        }
        if last.elapsed() >= Duration::from_millis(500) {
            let (lines, bottleneck) = lines(&before, &now);
            for (i, (row, line)) in rows.iter().zip(&lines).enumerate() {
                row.set_message(describe(line, bottleneck == Some(i)));
            }
            for (row, line) in rows[lines.len().min(rows.len())..].iter().zip(extra()) {
                row.set_message(line);
            }
            before = now;
            last = Instant::now();
        }
    }
    // Taken under the lock: a notice is printed above the bars or after them.
    let mut bars = notices.bars();
    bars.take();
    overall.finish_and_clear();
    for row in rows {
        row.finish_and_clear();
    }
    let _ = multi.clear();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_show_rates_between_two_snapshots() {
        let run = baton_engine::Pipeline::from_iter(0..20_000u64)
            .stage("slow", baton_engine::Mode::serial_in_order())
            .map(|x| {
                std::thread::sleep(Duration::from_micros(20));
                x
            })
            .spawn_for_each(|_| {})
            .unwrap();
        let handle = run.handle();
        let before = handle.stats();
        std::thread::sleep(Duration::from_millis(200));
        let now = handle.stats();
        handle.abort();
        let _ = run.join();
        let (lines, bottleneck) = lines(&before, &now);
        assert_eq!(lines.len(), 3, "source, slow, sink");
        assert_eq!(lines[1].name, "slow");
        assert!(lines[1].rate > 0.0);
        assert_eq!(bottleneck, Some(1));
        assert!(describe(&lines[1], true).contains("◀ bottleneck"));
    }
}
