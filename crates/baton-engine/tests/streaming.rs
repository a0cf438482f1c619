//! Streaming sources: slow input reaches the sink within the linger, fast
//! input still moves in full chunks, a stop ends a run whose source is
//! blocked in a read, and nothing read is lost or reordered.

mod common;

use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use baton_engine::{Config, Mode, OnError, Pipeline};
use common::{watchdog, LIMIT};

/// An endless producer that sends `0, 1, 2, ...` with the time each was
/// sent, one every `every`, until nobody listens.
fn slow_producer(every: Duration) -> mpsc::Receiver<(u64, Instant)> {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for n in 0u64.. {
            if tx.send((n, Instant::now())).is_err() {
                return;
            }
            std::thread::sleep(every);
        }
    });
    rx
}

#[test]
fn slow_input_reaches_the_sink_within_the_linger_not_when_a_chunk_fills() {
    watchdog(LIMIT, || {
        let linger = Duration::from_millis(20);
        let mut items = Pipeline::from_stream(slow_producer(Duration::from_millis(150)))
            .config(Config::default().linger(linger))
            .map(Mode::parallel(2), |(n, sent)| (n * 2, sent))
            .into_iter();
        let mut lags = Vec::new();
        for expected in 0..6u64 {
            let (n, sent) = items.next().unwrap().unwrap();
            assert_eq!(n, expected * 2, "in source order");
            lags.push(sent.elapsed());
        }
        items.handle().unwrap().stop();
        // Without a linger an item would wait for a chunk to fill (forever
        // here); with it, for the linger and a scheduling delay. The bound
        // is loose: these machines are shared and slow.
        lags.sort();
        let median = lags[lags.len() / 2];
        assert!(
            median < Duration::from_millis(500),
            "items waited {lags:?} (linger {linger:?})"
        );
    });
}

#[test]
fn fast_input_moves_in_full_chunks() {
    watchdog(LIMIT, || {
        let n = 200_000u64;
        let sum = Arc::new(Mutex::new(0u64));
        let total = Arc::clone(&sum);
        let report = Pipeline::from_stream(0..n)
            .config(Config::default().max_chunk(1024))
            .stage("double", Mode::parallel(2))
            .map(|x| x * 2)
            .stage("sink", Mode::serial_in_order())
            .for_each(move |x| *total.lock().unwrap() += x)
            .unwrap();
        assert_eq!(*sum.lock().unwrap(), n * (n - 1));
        let sink = report.stage("sink").unwrap();
        assert_eq!(sink.items_in, n);
        // A chunk per item would be 200,000 chunks: the linger must not cut
        // chunks short when input keeps coming.
        assert!(
            sink.chunks < n / 20,
            "{} chunks for {n} items: chunks were cut short",
            sink.chunks
        );
    });
}

/// A stream that gives `items` and then blocks in its next read forever,
/// as `tail -f` or a quiet socket does.
struct BlocksAfter {
    next: u64,
    items: u64,
}

impl Iterator for BlocksAfter {
    type Item = u64;
    fn next(&mut self) -> Option<u64> {
        if self.next == self.items {
            loop {
                std::thread::park();
            }
        }
        self.next += 1;
        Some(self.next - 1)
    }
}

#[test]
fn a_stop_ends_a_run_whose_source_is_blocked_in_a_read_and_keeps_what_was_read() {
    watchdog(LIMIT, || {
        let seen = Arc::new(Mutex::new(Vec::new()));
        let sink = Arc::clone(&seen);
        let run = Pipeline::from_stream(BlocksAfter { next: 0, items: 5 })
            // A linger longer than the test: only the stop can let the
            // items out of the source.
            .config(Config::default().linger(Duration::from_secs(3600)))
            .map(Mode::parallel(2), |x| x + 100)
            .spawn_for_each(move |x| sink.lock().unwrap().push(x))
            .unwrap();
        let handle = run.handle();
        std::thread::sleep(Duration::from_millis(200));
        assert!(!handle.is_finished(), "the source never ends by itself");
        handle.stop();
        let report = run.join().unwrap();
        assert_eq!(*seen.lock().unwrap(), vec![100, 101, 102, 103, 104]);
        assert_eq!(report.stats.source.items, 5);
    });
}

#[test]
fn an_abort_ends_a_run_whose_source_is_blocked_in_a_read() {
    watchdog(LIMIT, || {
        let run = Pipeline::from_stream(BlocksAfter { next: 0, items: 0 })
            .spawn_for_each(|_: u64| {})
            .unwrap();
        std::thread::sleep(Duration::from_millis(50));
        run.handle().abort();
        assert!(run.join().is_err());
    });
}

#[test]
fn failed_stream_items_are_skipped_in_order_and_a_panic_in_the_stream_fails_the_run() {
    watchdog(LIMIT, || {
        let lines = (0..1_000u64).map(|n| if n % 10 == 3 { Err("bad") } else { Ok(n) });
        let mut iter = Pipeline::from_stream_results(lines)
            .source_on_error(OnError::Skip)
            .into_iter();
        let items: Vec<u64> = iter.by_ref().map(Result::unwrap).collect();
        assert_eq!(
            items,
            (0..1_000).filter(|n| n % 10 != 3).collect::<Vec<_>>()
        );
        let dead: Vec<u64> = iter.dead_letters().iter().map(|l| l.seq).collect();
        assert_eq!(dead, (0..1_000).filter(|n| n % 10 == 3).collect::<Vec<_>>());

        let panicking = (0..10u64).inspect(|n| assert!(*n < 5, "the stream broke"));
        let error = Pipeline::from_stream(panicking).collect().unwrap_err();
        assert!(error.to_string().contains("the stream broke"), "{error}");
    });
}

/// A sink that buffers what it writes and records what it wrote out.
struct Buffered {
    buffer: Vec<u64>,
    written: Arc<Mutex<Vec<(u64, Instant)>>>,
}

impl baton_engine::Sink<(u64, Instant)> for Buffered {
    fn write(&mut self, (n, _sent): (u64, Instant)) -> Result<(), baton_engine::BoxError> {
        self.buffer.push(n);
        Ok(())
    }

    fn flush(&mut self) -> Result<(), baton_engine::BoxError> {
        let now = Instant::now();
        let mut written = self.written.lock().unwrap();
        written.extend(self.buffer.drain(..).map(|n| (n, now)));
        Ok(())
    }
}

#[test]
fn a_buffering_sink_writes_slow_input_out_as_it_comes() {
    watchdog(LIMIT, || {
        let written = Arc::new(Mutex::new(Vec::new()));
        let sink = Buffered {
            buffer: Vec::new(),
            written: Arc::clone(&written),
        };
        let run = Pipeline::from_stream(slow_producer(Duration::from_millis(100)))
            .config(Config::default().linger(Duration::from_millis(10)))
            .stage("write", Mode::serial_in_order())
            .spawn_sink(sink)
            .unwrap();
        let deadline = Instant::now() + Duration::from_secs(30);
        while written.lock().unwrap().len() < 4 {
            assert!(Instant::now() < deadline, "nothing was written out");
            std::thread::sleep(Duration::from_millis(5));
        }
        run.stop();
        run.join().unwrap();
        let written = written.lock().unwrap();
        let order: Vec<u64> = written.iter().map(|(n, _)| *n).collect();
        assert_eq!(order, (0..order.len() as u64).collect::<Vec<_>>());
    });
}
