//! # baton-live
//!
//! The live view of a running [baton](baton_engine) pipeline, as `baton run`
//! shows it and as a program that runs its own pipelines (a training loop
//! fed by baton, say) can show it too: one line per stage with the items it
//! has taken in, items/s, replicas, how busy they are, how full the queue in
//! front of it is and the bottleneck marked, and at the end of each line a
//! strip of the stage's busy share over the last seconds. The strips of all
//! stages share one time axis, so stages that work at the same time (the
//! overlap that makes a pipeline faster than one item at a time) stand out
//! as columns filled in several rows at once:
//!
//! ```text
//! ████████████████████░░░░ 44800/60000 items  4.6k/s  eta 3s
//!   extract             45312 done      4612/s  x1   busy   3%  queue     0  ▁▁▁▁▁▁▁▁▁▁
//!   transform           45056 done      4608/s  x1   busy  71%  queue    12  ▆▆▇▆▆▇▆▆▇▆
//!   train                 350 done        36/s  x1   busy 100%  queue     4  ██████████  ◀ bottleneck
//! ```
//!
//! On a terminal the lines are redrawn in place ([`View::Bars`]); when
//! stderr is a file or a pipe a plain line is logged every two seconds
//! ([`View::Log`]).
//!
//! ```
//! use baton_engine::{Mode, Pipeline};
//! use baton_live::{Live, View};
//!
//! let run = Pipeline::from_iter(0..1_000u64)
//!     .stage("square", Mode::parallel(2))
//!     .map(|x| x * x)
//!     .spawn_for_each(|_| {})
//!     .unwrap();
//! // Watches until the run ends (quietly here: a doc test has no terminal).
//! Live::new(View::Quiet).total(1_000).watch(&run.handle());
//! let report = run.join().unwrap();
//! assert_eq!(report.stats.source.items, 1_000);
//! ```

#![forbid(unsafe_code)]

use std::collections::VecDeque;
use std::io::IsTerminal;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use baton_engine::{PipelineHandle, StatsSnapshot};
use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};

/// How a run is shown.
///
/// ```
/// use baton_live::View;
///
/// assert_eq!(View::choose(true), View::Quiet);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum View {
    /// Lines redrawn in place on a terminal, with a progress bar.
    Bars,
    /// A log line every two seconds.
    Log,
    /// Nothing.
    Quiet,
}

impl View {
    /// [`View::Quiet`] if asked, else [`View::Bars`] when stderr is a
    /// terminal and [`View::Log`] when it is not.
    ///
    /// ```
    /// use baton_live::View;
    ///
    /// let view = View::choose(false);
    /// assert_ne!(view, View::Quiet);
    /// ```
    pub fn choose(quiet: bool) -> View {
        if quiet {
            View::Quiet
        } else if std::io::stderr().is_terminal() {
            View::Bars
        } else {
            View::Log
        }
    }
}

/// Where lines about the run from other threads (a Ctrl-C handler's
/// notices, say) go: above the bars while they are drawn, so that a redraw
/// neither overwrites them nor leaves half-cleared bars behind; straight to
/// stderr otherwise. Clones share the same bars.
///
/// ```
/// use baton_live::Notices;
///
/// let notices = Notices::default();
/// notices.print("stopping: finishing the items in flight");
/// let mut written = false;
/// notices.around(&mut || written = true);
/// assert!(written);
/// ```
#[derive(Clone, Debug, Default)]
pub struct Notices(Arc<Mutex<Option<MultiProgress>>>);

impl Notices {
    /// Shows `line`.
    ///
    /// ```
    /// baton_live::Notices::default().print("a line above the bars");
    /// ```
    pub fn print(&self, line: &str) {
        match &*self.bars() {
            Some(multi) => {
                let _ = multi.println(line);
            }
            None => eprintln!("{line}"),
        }
    }

    /// Clears the bars for good, then shows `line`: the last words of a
    /// program about to exit while the view still runs.
    ///
    /// ```
    /// baton_live::Notices::default().print_last("aborted");
    /// ```
    pub fn print_last(&self, line: &str) {
        let mut bars = self.bars();
        if let Some(multi) = bars.take() {
            let _ = multi.clear();
        }
        eprintln!("{line}");
    }

    /// Runs `write` (to standard output, say) with the bars cleared while
    /// it writes, so that the next redraw does not overwrite what it wrote.
    ///
    /// ```
    /// baton_live::Notices::default().around(&mut || println!("a record"));
    /// ```
    pub fn around(&self, write: &mut dyn FnMut()) {
        match &*self.bars() {
            Some(multi) => multi.suspend(write),
            None => write(),
        }
    }

    fn bars(&self) -> std::sync::MutexGuard<'_, Option<MultiProgress>> {
        self.0.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// Whether the live view draws in colour: `Some(true)` always, `Some(false)`
/// never, `None` as the terminal and the environment say (`NO_COLOR`,
/// `CLICOLOR`, `CLICOLOR_FORCE`). Call it before the view starts.
///
/// # Examples
///
/// ```
/// baton_live::use_colors(Some(false));
/// assert!(!console::colors_enabled_stderr());
/// baton_live::use_colors(None);
/// ```
pub fn use_colors(choice: Option<bool>) {
    match choice {
        Some(on) => {
            console::set_colors_enabled(on);
            console::set_colors_enabled_stderr(on);
        }
        // A colour terminal, `NO_COLOR` unset (console's own test).
        None => console::set_colors_enabled_stderr(
            console::Term::stderr().features().colors_supported(),
        ),
    }
}

/// One line of the view: the source's or a stage's, over the interval
/// between two snapshots.
///
/// ```
/// use baton_live::StageLine;
///
/// let line = StageLine { name: "decode".into(), done: 10, rate: 5.0, replicas: 2, tuned: false, busy: 0.5, queued: 3 };
/// assert!(line.describe(false).contains("busy  50%"));
/// let tuned = StageLine { replicas: 40, tuned: true, ..line };
/// assert!(tuned.describe(false).contains("auto 40"));
/// ```
#[derive(Clone, Debug, PartialEq)]
pub struct StageLine {
    /// The stage's name (the source's, for the first line).
    pub name: String,
    /// Items the stage has taken in (for the source, made).
    pub done: u64,
    /// Items per second taken in over the interval.
    pub rate: f64,
    /// Replicas of the stage (the tuner's count now, when `tuned`).
    pub replicas: usize,
    /// Whether the tuner sets its replicas (`replicas = "auto"`).
    pub tuned: bool,
    /// The share of the interval its replicas were busy, 0 to 1 (more when
    /// a blocking stage has more replicas than the run has threads).
    pub busy: f64,
    /// Items waiting in the queue in front of it.
    pub queued: usize,
}

impl StageLine {
    /// The line as the view shows it (without the busy strip), marked if
    /// it is the `bottleneck`.
    ///
    /// ```
    /// use baton_live::StageLine;
    ///
    /// let line = StageLine { name: "train".into(), done: 7, rate: 1.0, replicas: 1, tuned: false, busy: 1.0, queued: 4 };
    /// assert!(line.describe(true).ends_with("◀ bottleneck"));
    /// ```
    pub fn describe(&self, bottleneck: bool) -> String {
        format!(
            "{:<14} {:>10} done {:>10.0}/s  {:<8} busy {:>3.0}%  queue {:>5}{}",
            self.name,
            self.done,
            self.rate,
            if self.tuned {
                format!("auto {}", self.replicas)
            } else {
                format!("x{}", self.replicas)
            },
            (self.busy * 100.0).min(100.0),
            self.queued,
            if bottleneck { MARK } else { "" }
        )
    }
}

/// The lines for the source and every stage, with rates and busy shares
/// over the interval between `before` and `now`, and the index of the
/// bottleneck's line.
///
/// ```
/// use baton_engine::{Mode, Pipeline};
///
/// let run = Pipeline::from_iter(0..100u64)
///     .stage("double", Mode::serial_in_order())
///     .map(|x| x * 2)
///     .spawn_for_each(|_| {})
///     .unwrap();
/// let handle = run.handle();
/// let before = handle.stats();
/// run.join().unwrap();
/// let (lines, _bottleneck) = baton_live::lines(&before, &handle.stats());
/// assert_eq!(lines[1].name, "double");
/// assert_eq!(lines[1].done, 100);
/// ```
pub fn lines(before: &StatsSnapshot, now: &StatsSnapshot) -> (Vec<StageLine>, Option<usize>) {
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
        tuned: false,
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
            tuned: stage.mode.is_auto(),
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

/// A stage's busy share over its last few intervals, drawn as a strip of
/// block characters from `·` (idle) through `▁` to `█` (busy all the
/// interval), oldest first. Every stage's strip gets a sample at the same
/// moments, so the strips of a view line up in time.
///
/// ```
/// use baton_live::BusyStrip;
///
/// let mut strip = BusyStrip::new(4);
/// for busy in [0.0, 0.5, 1.0, 1.0, 0.25] {
///     strip.push(busy);
/// }
/// assert_eq!(strip.draw(), "▄██▂");
/// ```
#[derive(Clone, Debug, PartialEq)]
pub struct BusyStrip {
    width: usize,
    samples: VecDeque<f64>,
}

impl BusyStrip {
    /// An empty strip of `width` samples.
    ///
    /// ```
    /// assert_eq!(baton_live::BusyStrip::new(3).draw(), "   ");
    /// ```
    pub fn new(width: usize) -> Self {
        Self {
            width,
            samples: VecDeque::with_capacity(width),
        }
    }

    /// Adds the busy share (0 to 1) of the latest interval, dropping the
    /// oldest once the strip is full.
    ///
    /// ```
    /// let mut strip = baton_live::BusyStrip::new(2);
    /// strip.push(0.0);
    /// assert_eq!(strip.draw(), " ·");
    /// ```
    pub fn push(&mut self, busy: f64) {
        if self.width == 0 {
            return;
        }
        if self.samples.len() == self.width {
            self.samples.pop_front();
        }
        self.samples.push_back(busy);
    }

    /// The strip, `width` characters, padded on the left (the past before
    /// the run) while it fills.
    ///
    /// ```
    /// let mut strip = baton_live::BusyStrip::new(3);
    /// strip.push(1.0);
    /// assert_eq!(strip.draw(), "  █");
    /// ```
    pub fn draw(&self) -> String {
        const LEVELS: [char; 9] = ['·', '▁', '▂', '▃', '▄', '▅', '▆', '▇', '█'];
        let pad = self.width - self.samples.len();
        let mut out = " ".repeat(pad);
        for &busy in &self.samples {
            let busy = if busy.is_finite() {
                busy.clamp(0.0, 1.0)
            } else {
                0.0
            };
            // Any work at all shows (`▁`), and only a whole interval's is `█`.
            let level = if busy < 0.005 {
                0
            } else {
                ((busy * 8.0).ceil() as usize).clamp(1, 8)
            };
            out.push(LEVELS[level]);
        }
        out
    }
}

/// Samples in a busy strip on the terminal: at one every half second,
/// the last 12 seconds.
const STRIP_WIDTH: usize = 24;

/// Characters of a stage's line before its strip: the template's indent
/// and [`StageLine::describe`]'s fixed-width columns.
const LINE_WIDTH: usize = 2 + 76;

/// Marks the bottleneck's line.
const MARK: &str = "  ◀ bottleneck";

/// Shows a run until it ends.
///
/// ```
/// use baton_engine::{Mode, Pipeline};
/// use baton_live::{Live, Notices, View};
///
/// let run = Pipeline::from_iter(0..100u64)
///     .stage("double", Mode::serial_in_order())
///     .map(|x| x * 2)
///     .spawn_for_each(|_| {})
///     .unwrap();
/// let mut warned = false;
/// let mut news = || if std::mem::replace(&mut warned, true) { vec![] } else { vec!["warning: none really".to_string()] };
/// let extra = || vec!["trainer: busy 99%".to_string()];
/// Live::new(View::Log)
///     .total(100)
///     .notices(Notices::default())
///     .news(&mut news)
///     .extra(&extra)
///     .watch(&run.handle());
/// run.join().unwrap();
/// ```
pub struct Live<'a> {
    view: View,
    total: Option<u64>,
    notices: Notices,
    news: Option<&'a mut dyn FnMut() -> Vec<String>>,
    extra: Option<&'a dyn Fn() -> Vec<String>>,
}

impl std::fmt::Debug for Live<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Live")
            .field("view", &self.view)
            .field("total", &self.total)
            .finish_non_exhaustive()
    }
}

impl<'a> Live<'a> {
    /// A view of the kind `view`, with no total, its own notices, no news
    /// and no extra lines.
    ///
    /// ```
    /// let live = baton_live::Live::new(baton_live::View::Quiet);
    /// # let _ = live;
    /// ```
    pub fn new(view: View) -> Self {
        Self {
            view,
            total: None,
            notices: Notices::default(),
            news: None,
            extra: None,
        }
    }

    /// The items the run will take in all (the source's size, when known):
    /// the bars then show how far the run is, with an ETA.
    ///
    /// ```
    /// let live = baton_live::Live::new(baton_live::View::Quiet).total(60_000);
    /// # let _ = live;
    /// ```
    pub fn total(mut self, items: u64) -> Self {
        self.total = Some(items);
        self
    }

    /// Where other threads' lines go while the view runs: give a clone of
    /// the [`Notices`] they print to.
    ///
    /// ```
    /// let notices = baton_live::Notices::default();
    /// let live = baton_live::Live::new(baton_live::View::Quiet).notices(notices.clone());
    /// # let _ = live;
    /// ```
    pub fn notices(mut self, notices: Notices) -> Self {
        self.notices = notices;
        self
    }

    /// Lines to show once each, above the bars, as they come (warnings):
    /// `news` is asked for the new ones every tenth of a second.
    ///
    /// ```
    /// let mut news = || Vec::<String>::new();
    /// let live = baton_live::Live::new(baton_live::View::Quiet).news(&mut news);
    /// # let _ = live;
    /// ```
    pub fn news(mut self, news: &'a mut dyn FnMut() -> Vec<String>) -> Self {
        self.news = Some(news);
        self
    }

    /// Lines shown under the stages' and redrawn with them (a distributed
    /// run's workers, a trainer's figures); as many lines each time.
    ///
    /// ```
    /// let extra = || vec!["workers: 3".to_string()];
    /// let live = baton_live::Live::new(baton_live::View::Quiet).extra(&extra);
    /// # let _ = live;
    /// ```
    pub fn extra(mut self, extra: &'a dyn Fn() -> Vec<String>) -> Self {
        self.extra = Some(extra);
        self
    }

    /// Shows the run of `handle` until it ends, and clears the bars.
    ///
    /// ```
    /// use baton_engine::{Mode, Pipeline};
    ///
    /// let run = Pipeline::from_iter(0..10u64)
    ///     .stage("id", Mode::serial_in_order())
    ///     .map(|x| x)
    ///     .spawn_for_each(|_| {})
    ///     .unwrap();
    /// baton_live::Live::new(baton_live::View::Quiet).watch(&run.handle());
    /// run.join().unwrap();
    /// ```
    pub fn watch(mut self, handle: &PipelineHandle) {
        match self.view {
            View::Quiet => while !handle.wait_timeout(Duration::from_secs(1)) {},
            View::Log => self.watch_log(handle),
            View::Bars => self.watch_bars(handle),
        }
    }

    fn fresh(&mut self) -> Vec<String> {
        self.news.as_mut().map(|news| news()).unwrap_or_default()
    }

    fn extra_lines(&self) -> Vec<String> {
        self.extra.map(|extra| extra()).unwrap_or_default()
    }

    fn watch_log(&mut self, handle: &PipelineHandle) {
        let every = Duration::from_secs(2);
        let mut before = handle.stats();
        let mut last = Instant::now();
        // Each wait ends as soon as the run does: the summary is not held back.
        while !handle.wait_timeout(Duration::from_millis(50)) {
            for line in self.fresh() {
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
            for line in self.extra_lines() {
                eprintln!("           {line}");
            }
            before = now;
        }
    }

    fn watch_bars(&mut self, handle: &PipelineHandle) {
        let multi = MultiProgress::with_draw_target(ProgressDrawTarget::stderr_with_hz(10));
        *self.notices.bars() = Some(multi.clone());
        let overall = multi.add(match self.total {
            Some(n) => ProgressBar::new(n),
            None => ProgressBar::new_spinner(),
        });
        let style = match self.total {
            Some(_) => ProgressStyle::with_template(
                "{bar:40.cyan/blue} {pos}/{len} items  {per_sec:0}  eta {eta}",
            ),
            None => ProgressStyle::with_template("{spinner} {pos} items  {per_sec:0}  {elapsed}"),
        };
        if let Ok(style) = style {
            overall.set_style(style);
        }
        let first = handle.stats();
        // The strips take what the terminal has left after the rest of a
        // line and its bottleneck mark, so that the mark is never cut off.
        let width =
            console::Term::stderr()
                .size_checked()
                .map_or(STRIP_WIDTH, |(_rows, columns)| {
                    usize::from(columns)
                        .saturating_sub(LINE_WIDTH + 2 + MARK.chars().count())
                        .min(STRIP_WIDTH)
                });
        let mut strips = vec![BusyStrip::new(width); first.stages.len() + 1];
        let add_row = || {
            let row = multi.add(ProgressBar::new_spinner());
            if let Ok(style) = ProgressStyle::with_template("  {msg}") {
                row.set_style(style);
            }
            row
        };
        let mut rows: Vec<ProgressBar> = (0..first.stages.len() + 1 + self.extra_lines().len())
            .map(|_| add_row())
            .collect();
        let mut before = first;
        // The lines are drawn at the first tick, then every half second.
        let mut last: Option<Instant> = None;
        while !handle.wait_timeout(Duration::from_millis(100)) {
            let now = handle.stats();
            // Done means through the whole pipeline: taken in by the sink.
            overall.set_position(now.stages.last().map_or(now.source.items, |s| s.items_in));
            for line in self.fresh() {
                let _ = multi.println(line);
            }
            if last.map_or(true, |last| last.elapsed() >= Duration::from_millis(500)) {
                let (lines, bottleneck) = lines(&before, &now);
                for (i, ((row, line), strip)) in
                    rows.iter().zip(&lines).zip(&mut strips).enumerate()
                {
                    strip.push(line.busy);
                    let mut text = line.describe(false);
                    if width > 0 {
                        text.push_str("  ");
                        text.push_str(&strip.draw());
                    }
                    if bottleneck == Some(i) {
                        text.push_str(MARK);
                    }
                    row.set_message(text);
                }
                // The extra lines may come and go (a warning): a row for
                // each, blank once it has gone.
                let extra = self.extra_lines();
                while rows.len() < lines.len() + extra.len() {
                    rows.push(add_row());
                }
                let mut extra = extra.into_iter();
                for row in &rows[lines.len().min(rows.len())..] {
                    row.set_message(extra.next().unwrap_or_default());
                }
                before = now;
                last = Some(Instant::now());
            }
        }
        // Taken under the lock: a notice is printed above the bars or after them.
        let mut bars = self.notices.bars();
        bars.take();
        overall.finish_and_clear();
        for row in rows {
            row.finish_and_clear();
        }
        let _ = multi.clear();
    }
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
        assert!(
            lines[1].busy > 0.5,
            "the serial stage sleeps most of the time: {lines:?}"
        );
        assert_eq!(bottleneck, Some(1));
        assert!(lines[1].describe(true).contains("◀ bottleneck"));
    }

    #[test]
    fn a_line_has_the_width_its_strip_is_fitted_to() {
        let line = StageLine {
            name: "transform".into(),
            done: 45_056,
            rate: 4_608.0,
            replicas: 2,
            tuned: false,
            busy: 0.71,
            queued: 12,
        };
        assert_eq!(line.describe(false).chars().count() + 2, LINE_WIDTH);
        assert_eq!(
            line.describe(true).chars().count() + 2,
            LINE_WIDTH + MARK.chars().count()
        );
    }

    #[test]
    fn a_strip_keeps_its_width_and_draws_the_latest_samples_last() {
        let mut strip = BusyStrip::new(5);
        assert_eq!(strip.draw().chars().count(), 5);
        for i in 0..=8 {
            strip.push(f64::from(i) / 8.0);
        }
        assert_eq!(strip.draw(), "▄▅▆▇█");
        strip.push(f64::NAN);
        strip.push(3.0);
        assert_eq!(
            strip.draw(),
            "▆▇█·█",
            "nothing known is idle; over 1 is full"
        );
        strip.push(0.001);
        assert_eq!(strip.draw(), "▇█·█·", "a trace of work rounds to idle");
        strip.push(0.01);
        assert_eq!(strip.draw(), "█·█·▁", "a little work shows");
    }
}
