//! A costly source and a costly parallel stage after it overlap: while one
//! thread carries a chunk through the stage, another reads the next chunk.
//! Without that, a source that costs as much as its parse (a CSV reader and
//! its parser) runs on one thread at a time and the second core idles.

mod common;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use baton_engine::{Config, Mode, Pipeline};
use common::{watchdog, LIMIT};

/// Keeps this thread busy for `time` (on the CPU, not asleep: a sleeping
/// stage would hand its core to the other thread and hide the problem).
fn busy(time: Duration) {
    let start = Instant::now();
    while start.elapsed() < time {
        std::hint::spin_loop();
    }
}

#[test]
fn the_next_chunk_is_read_while_a_worker_carries_the_last_one() {
    watchdog(LIMIT, || {
        const ITEMS: u64 = 120;
        let produced = Arc::new(AtomicU64::new(0));
        let overlapped = Arc::new(AtomicU64::new(0));
        let source = {
            let produced = Arc::clone(&produced);
            (0..ITEMS).inspect(move |_| {
                busy(Duration::from_millis(1));
                produced.fetch_add(1, Ordering::SeqCst);
            })
        };
        let out = {
            let produced = Arc::clone(&produced);
            let overlapped = Arc::clone(&overlapped);
            Pipeline::from_iter(source)
                .config(Config::default().threads(2).max_chunk(1))
                .map(Mode::parallel(2), move |x| {
                    let before = produced.load(Ordering::SeqCst);
                    // Long enough for a woken thread to be scheduled and
                    // read an item even on a loaded machine; far shorter
                    // than the parked thread's backstop (50 ms), so only a
                    // wake-up makes the source run meanwhile.
                    busy(Duration::from_millis(4));
                    if produced.load(Ordering::SeqCst) > before {
                        overlapped.fetch_add(1, Ordering::SeqCst);
                    }
                    x
                })
                .collect()
                .unwrap()
        };
        assert_eq!(out, (0..ITEMS).collect::<Vec<_>>());
        let overlapped = overlapped.load(Ordering::SeqCst);
        // The last item has no next one to read, and a shared machine may
        // deschedule a thread now and then: most, not all.
        assert!(
            overlapped * 2 > ITEMS,
            "the source ran beside the stage for only {overlapped} of {ITEMS} items"
        );
    });
}

/// A serial sink busy with one item must not hold back the chunks that
/// the stages before it emptied: they have nothing for it, and while they
/// waited for their turn behind it they kept their share of the chunk
/// budget, so the source stopped and the next batch was made only once
/// the sink was free (a trainer behind `shuffle` and `batch` waited before
/// every batch).
#[test]
fn emptied_chunks_go_past_a_busy_serial_sink_and_the_source_goes_on() {
    watchdog(LIMIT, || {
        const ITEMS: u64 = 400;
        // Far more chunks of one item than the budget's 4.
        const MUST_READ: u64 = 200;
        let produced = Arc::new(AtomicU64::new(0));
        let source = {
            let produced = Arc::clone(&produced);
            (0..ITEMS).inspect(move |_| {
                produced.fetch_add(1, Ordering::SeqCst);
            })
        };
        let seen = Arc::new(AtomicU64::new(u64::MAX));
        let reached = Arc::clone(&seen);
        let out = Pipeline::from_iter(source)
            .config(
                Config::default()
                    .threads(2)
                    .max_chunk(1)
                    .max_chunks_in_flight(4),
            )
            // Like `batch`: most chunks come out of it empty.
            .filter(Mode::serial_in_order(), |x| x % 100 == 0)
            .map(Mode::serial_in_order().blocking(), move |x| {
                if x == 0 {
                    // Busy with the first item until the source has read
                    // far past the budget (or a deadline, to fail).
                    let deadline = Instant::now() + Duration::from_secs(10);
                    while produced.load(Ordering::SeqCst) < MUST_READ && Instant::now() < deadline {
                        std::thread::sleep(Duration::from_millis(1));
                    }
                    reached.store(produced.load(Ordering::SeqCst), Ordering::SeqCst);
                }
                x
            })
            .collect()
            .unwrap();
        assert_eq!(out, [0, 100, 200, 300]);
        let read = seen.load(Ordering::SeqCst);
        assert!(
            read >= MUST_READ,
            "while the sink was busy the source read only {read} items"
        );
    });
}

#[test]
fn a_worker_feeds_a_serial_stage_from_the_source_a_million_times_without_its_stack_growing() {
    watchdog(LIMIT, || {
        // A million chunks of one item, each emptied by the serial stage
        // (as `batch` empties most of its input): each frees its budget at
        // once, so the worker that ran the stage always finds room to feed
        // it again from the source. It must do so in a loop: a call per
        // chunk overflowed the worker's stack (a Fashion-MNIST validation).
        const ITEMS: u64 = 1_000_000;
        let out = Pipeline::from_iter(0..ITEMS)
            .config(Config::default().threads(1).max_chunk(1))
            .filter(Mode::serial_in_order(), |x| x % 100_000 == 0)
            .map(Mode::serial_in_order(), |x| x + 1)
            .collect()
            .unwrap();
        assert_eq!(
            out,
            (0..ITEMS)
                .filter(|x| x % 100_000 == 0)
                .map(|x| x + 1)
                .collect::<Vec<_>>()
        );
    });
}
