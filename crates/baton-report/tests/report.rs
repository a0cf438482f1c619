//! The report of real runs: the trace file and the page's structure.

mod common;

use std::collections::BTreeMap;

use baton_engine::{Config, Mode, Pipeline};
use baton_report::{render_html, TraceFile};
use common::{bottling_trace, output_dir, watchdog, BOTTLES, LIMIT};

/// A bar of the pipeline diagram, read back from the page's SVG.
#[derive(Debug, Clone, Copy)]
struct Bar {
    stage: usize,
    seq: u64,
    x: f64,
    y: f64,
    width: f64,
}

impl Bar {
    fn overlaps(&self, other: &Bar) -> bool {
        self.x < other.x + other.width && other.x < self.x + self.width
    }
}

/// Every `<rect class="bar" ...>` of the page, in order.
fn bars(html: &str) -> Vec<Bar> {
    html.split("<rect class=\"bar\" ")
        .skip(1)
        .map(|tail| {
            let tag = format!(" {}", &tail[..tail.find('>').expect("unclosed bar")]);
            let attr = |name: &str| -> f64 {
                let key = format!(" {name}=\"");
                let start = tag
                    .find(&key)
                    .unwrap_or_else(|| panic!("bar without {name}: {tag}"))
                    + key.len();
                let value = &tag[start..];
                value[..value.find('"').unwrap()].parse().unwrap()
            };
            Bar {
                stage: attr("data-stage") as usize,
                seq: attr("data-seq") as u64,
                x: attr("x"),
                y: attr("y"),
                width: attr("width"),
            }
        })
        .collect()
}

#[test]
fn the_bottling_line_page_shows_every_span_the_stages_and_the_verdict() {
    watchdog(LIMIT, || {
        let trace = bottling_trace();
        let html = render_html(&trace);
        std::fs::write(output_dir().join("bottling-structure.html"), &html).unwrap();

        // One bar per span that carried items (end-of-stream chunks are left out).
        let drawn: Vec<Bar> = bars(&html);
        let spans = trace.spans().filter(|s| s.items > 0).count();
        assert_eq!(drawn.len(), spans, "one bar per span");
        for (stage, name) in [(1, "fill"), (2, "seal")] {
            let mut seqs: Vec<u64> = drawn
                .iter()
                .filter(|b| b.stage == stage)
                .map(|b| b.seq)
                .collect();
            seqs.sort_unstable();
            assert_eq!(
                seqs,
                (0..BOTTLES).collect::<Vec<_>>(),
                "every bottle in {name}"
            );
            assert!(html.contains(&format!(">{name}")), "no label for {name}");
        }
        assert!(
            html.contains(&format!(">{}", trace.baton.source.name)),
            "no source label"
        );

        // The overlap, as drawn: bottle k at the filler while an earlier one is at the sealer.
        let at = |stage: usize| -> BTreeMap<u64, Bar> {
            drawn
                .iter()
                .filter(|b| b.stage == stage)
                .map(|b| (b.seq, *b))
                .collect()
        };
        let (fill, seal) = (at(1), at(2));
        let overlapping = (1..BOTTLES)
            .filter(|k| (0..*k).any(|j| fill[k].overlaps(&seal[&j])))
            .count();
        assert!(
            overlapping >= (BOTTLES as usize - 1) / 2,
            "only {overlapping} of {} bottles were filled while an earlier one was sealed",
            BOTTLES - 1
        );
        // The same in the trace itself, in time.
        let spans: Vec<_> = trace.spans().filter(|s| s.items > 0).collect();
        let in_time = spans
            .iter()
            .filter(|f| f.stage == 1)
            .filter(|f| {
                spans.iter().any(|s| {
                    s.stage == 2
                        && s.first_seq < f.first_seq
                        && s.start_us < f.end_us()
                        && f.start_us < s.end_us()
                })
            })
            .count();
        assert!(
            in_time >= (BOTTLES as usize - 1) / 2,
            "only {in_time} fills overlap an earlier seal in time"
        );
        assert!(fill[&0].y < seal[&0].y, "fill is drawn above seal");
        assert!(
            (0..BOTTLES).all(|k| fill[&k].x < seal[&k].x),
            "a bottle is sealed before it is filled"
        );

        // The verdict, up top.
        let bottleneck = trace.baton.bottleneck.as_ref().expect("no bottleneck");
        assert!(
            ["fill", "seal"].contains(&bottleneck.stage.as_str()),
            "{bottleneck:?}"
        );
        let header = &html[..html.find("id=\"diagram\"").unwrap()];
        assert!(header.contains(&format!("Bottleneck: <code>{}</code>", bottleneck.stage)));
        assert!(header.contains("of this bound"));
        assert!(
            html.contains("class=\"bottleneck\""),
            "the bottleneck's table row is marked"
        );
        for section in ["The pipeline over time", "Over time", "Stages"] {
            assert!(
                html.contains(&format!("<h2>{section}</h2>")),
                "no {section} section"
            );
        }
        for stage in ["fill", "seal", "sink"] {
            assert!(
                html.contains(&format!("{stage}: busy, share of its replicas")),
                "no busy chart for {stage}"
            );
            assert!(
                html.contains(&format!("{stage}: items queued")),
                "no queue chart for {stage}"
            );
        }
    });
}

#[test]
fn the_page_loads_nothing_from_elsewhere() {
    watchdog(LIMIT, || {
        let html = render_html(&bottling_trace());
        for needle in ["<script", "<link", "@import", "url(", "src=", "https://"] {
            assert!(!html.contains(needle), "the page contains {needle:?}");
        }
        // The only URL is the SVG namespace, which is a name, not a fetch.
        assert_eq!(
            html.matches("http://").count(),
            html.matches("xmlns=\"http://www.w3.org/2000/svg\"").count()
        );
    });
}

#[test]
fn a_saved_trace_renders_the_same_page() {
    watchdog(LIMIT, || {
        let trace = bottling_trace();
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("bottling.trace.json");
        trace.write(&path).unwrap();
        let back = TraceFile::read(&path).unwrap();
        assert_eq!(render_html(&back), render_html(&trace));
    });
}

#[test]
fn a_long_run_is_sampled_into_a_small_page() {
    watchdog(LIMIT, || {
        // One item per chunk, so every item makes a span in every stage: > 100k spans.
        let items = 35_000u64;
        let report = Pipeline::from_iter(0..items)
            .config(Config::default().trace(true).max_chunk(1))
            .stage("inc", Mode::parallel(2))
            .map(|x| x + 1)
            .for_each(|_| {})
            .unwrap();
        assert!(
            report.trace.len() >= 100_000,
            "only {} spans",
            report.trace.len()
        );
        let html = render_html(&TraceFile::from_report("long", &report));
        std::fs::write(output_dir().join("long-run.html"), &html).unwrap();
        assert!(html.len() < 5_000_000, "the page is {} bytes", html.len());
        let drawn = bars(&html).len();
        assert!((600..=1_000).contains(&drawn), "{drawn} bars drawn");
        assert!(
            html.contains("too many to draw each"),
            "the page does not say it samples"
        );
        assert!(html.contains("Overview: the whole run"));
    });
}

#[test]
fn an_untraced_run_gets_a_page_without_a_diagram() {
    watchdog(LIMIT, || {
        let report = Pipeline::from_iter(0..100u32)
            .stage("double", Mode::parallel(2))
            .map(|x| x * 2)
            .for_each(|_| {})
            .unwrap();
        let html = render_html(&TraceFile::from_report("untraced", &report));
        assert!(bars(&html).is_empty());
        assert!(html.contains("recorded no spans"));
        assert!(html.contains("<h2>Stages</h2>"));
    });
}

#[test]
fn a_long_run_keeps_a_bounded_trace_and_the_page_says_it_was_thinned() {
    watchdog(LIMIT, || {
        let report = Pipeline::from_iter(0..20_000u64)
            .config(
                Config::default()
                    .trace(true)
                    .max_chunk(1)
                    .max_trace_spans(2_000),
            )
            .stage("double", Mode::parallel(2))
            .map(|x| x * 2)
            .for_each(|_| {})
            .unwrap();
        // 20,000 chunks through a source and two stages: 60,000 spans unbounded.
        assert!(report.trace.len() <= 2_000, "{} spans", report.trace.len());
        let thinning = report.trace_thinning;
        assert!(thinning >= 16, "thinned by {thinning}");
        assert!(report.trace.iter().all(|s| s.chunk % thinning == 0));

        let trace = TraceFile::from_report("long", &report);
        assert_eq!(trace.baton.span_thinning, thinning);
        let html = render_html(&trace);
        assert!(
            html.contains("id=\"thinned\""),
            "the page says nothing of thinning"
        );
        assert!(html.contains(&format!("one chunk in {thinning}")));
        // The saved trace reads back with its thinning.
        let path = output_dir().join("thinned-trace.json");
        trace.write(&path).unwrap();
        assert_eq!(
            TraceFile::read(&path).unwrap().baton.span_thinning,
            thinning
        );

        let short = TraceFile::from_report("short", &common::bottling_line());
        assert_eq!(short.baton.span_thinning, 1);
        assert!(!render_html(&short).contains("id=\"thinned\""));
    });
}

#[test]
fn a_distributed_run_lists_its_workers_and_keeps_them_in_the_saved_trace() {
    let report = Pipeline::from_iter(0..1000u32)
        .stage("resize", Mode::parallel(2))
        .map(|x| x + 1)
        .for_each(|_| {})
        .unwrap();
    let mut trace = TraceFile::from_report("remote", &report);
    assert!(!render_html(&trace).contains("Remote workers"));
    let worker =
        |host: &str, pid: u32, items: u64, dead_letters: u64| baton_report::WorkerSummary {
            stage: "resize".into(),
            serves: "resize+tag".into(),
            host: host.into(),
            pid,
            replicas: 2,
            items,
            messages: items / 100,
            retries: 1,
            dead_letters,
            busy_s: 0.5,
            stopped: false,
        };
    trace.baton.workers = vec![
        worker("node-1", 4242, 600, 0),
        worker("node-<2>", 77, 400, 3),
    ];
    let html = render_html(&trace);
    let section = &html[html
        .find("<section id=\"workers\">")
        .expect("a workers section")..];
    let section = &section[..section.find("</section>").unwrap()];
    assert_eq!(
        section.matches("<tr>").count(),
        3,
        "a header and two rows: {section}"
    );
    assert!(
        section.contains("node-1") && section.contains("4242"),
        "{section}"
    );
    assert!(section.contains("node-&lt;2&gt;"), "escaped: {section}");
    assert!(section.contains("<code>resize+tag</code>"), "{section}");

    // Saved and read back, the trace renders the same page.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("trace.json");
    trace.write(&path).unwrap();
    let read = TraceFile::read(&path).unwrap();
    assert_eq!(read.baton.workers, trace.baton.workers);
    assert_eq!(render_html(&read), html);
}

#[test]
fn a_tuned_stage_shows_its_replicas_over_time_and_why() {
    watchdog(LIMIT, || {
        // A stage that waits 1 ms an item, on auto: the tuner raises its
        // replicas from one per thread within the first samples.
        let report = Pipeline::from_iter(0..3_000u32)
            .config(Config::default().threads(2))
            .stage("fetch", Mode::auto().blocking())
            .map(|x| {
                std::thread::sleep(std::time::Duration::from_millis(1));
                x
            })
            .for_each(|_| {})
            .unwrap();
        let fetch = report.stage("fetch").unwrap();
        let why = fetch.tuning.clone().unwrap();
        let html = render_html(&TraceFile::from_report("tuned", &report));
        assert!(html.contains("fetch: replicas the tuner allowed, and running"));
        assert!(html.contains(&format!("Tuned: {why}")), "{why}");
        // The series: from one per thread to what the tuner chose.
        let trace = TraceFile::from_report("tuned", &report);
        let allowed: Vec<usize> = trace
            .baton
            .samples
            .iter()
            .map(|s| s.stages[0].replicas)
            .collect();
        assert_eq!(allowed.first(), Some(&2), "{allowed:?}");
        assert!(allowed.iter().any(|&r| r > 8), "{allowed:?}");
        // An untuned stage (the sink) gets no such chart.
        assert_eq!(
            html.matches("replicas the tuner allowed").count(),
            html.matches("fetch: replicas the tuner allowed").count()
        );
    });
}

#[test]
fn the_memory_budget_and_a_tuned_queue_show_over_time_and_why() {
    watchdog(LIMIT, || {
        // A budget below what the process holds: the run is held to the
        // fewest items in flight all along, and the page says so; a queue
        // on auto shows its bound beside what it held. The run lasts at
        // least 100 ms (a pause every 2,000 items), so that the guard (it
        // looks every 10 ms) sees it: 200,000 plain items could end first.
        let report = Pipeline::from_iter(0..200_000u32)
            .config(Config::default().threads(2).memory_budget(Some(1_000_000)))
            .stage("write", Mode::serial_in_order())
            .buffer_auto()
            .map(|x| {
                if x % 2_000 == 0 {
                    std::thread::sleep(std::time::Duration::from_millis(1));
                }
                x
            })
            .for_each(|_| {})
            .unwrap();
        let trace = TraceFile::from_report("held", &report);
        let html = render_html(&trace);
        let why = report.stats.memory.lowered.clone().unwrap();
        assert!(
            html.contains("Memory the process held (budget 977 KiB)"),
            "no memory chart"
        );
        assert!(html.contains("bound on items in flight (the memory budget"));
        assert!(
            html.contains(&format!("Held back by the memory budget: {why}")),
            "{why}"
        );
        assert!(html.contains("queue bound the tuner set"));
        let queue_why = report
            .stage("write")
            .unwrap()
            .buffer_tuning
            .clone()
            .unwrap();
        assert!(
            html.contains(&format!("Queue tuned: {queue_why}")),
            "{queue_why}"
        );
        assert!(trace
            .baton
            .samples
            .iter()
            .all(|s| s.rss_bytes > 0 && s.max_in_flight > 0));
        assert!(trace.baton.samples.iter().all(|s| s.stages[0].buffer >= 64));
        // With the guard off (nothing read of the process's memory) and no
        // tuned queue, none of them is drawn.
        let plain = Pipeline::from_iter(0..20_000u32)
            .config(Config::default().threads(2).memory_budget(None))
            .for_each(|_| {})
            .unwrap();
        let html = render_html(&TraceFile::from_report("plain", &plain));
        assert!(!html.contains("Memory the process held"));
        assert!(!html.contains("bound on items in flight (the memory budget"));
        assert!(!html.contains("queue bound the tuner set"));
    });
}

#[test]
fn a_fused_stage_keeps_its_own_row_card_and_spans_and_says_where_it_runs() {
    watchdog(LIMIT, || {
        // Long enough to be sampled (the cards are drawn from samples):
        // a pause every 1,000 items, 40 ms in all, sampled every 2 ms.
        let report = Pipeline::from_iter(0..20_000u64)
            .config(
                Config::default()
                    .threads(2)
                    .trace(true)
                    .max_chunk(500)
                    .sample_every(std::time::Duration::from_millis(2)),
            )
            .stage("add", Mode::parallel(2))
            .map(|x| {
                if x % 1_000 == 0 {
                    std::thread::sleep(std::time::Duration::from_millis(2));
                }
                x + 1
            })
            .stage("double", Mode::parallel(2))
            .map(|x| x * 2)
            .for_each(|_| {})
            .unwrap();
        assert!(
            report.samples.len() >= 2,
            "{} samples",
            report.samples.len()
        );
        let trace = TraceFile::from_report("fused", &report);
        let html = render_html(&trace);
        assert!(
            html.contains("parallel(2), fused into <code>add</code>"),
            "no row note"
        );
        assert!(
            html.contains("Runs fused into <code>add</code>"),
            "no card note"
        );
        assert!(!html.contains("fused into <code>double</code>"));
        // The timeline draws both stages' spans.
        assert!(report.trace.iter().any(|s| s.stage == 1));
        assert!(report.trace.iter().any(|s| s.stage == 2));
    });
}
