//! Backpressure: with a sink 100 times slower than the source, the memory a
//! run holds stays flat however many items go through. Measured for real,
//! by a global allocator that counts the bytes alive in this test process.

mod common;

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use baton_engine::{Config, Mode, Pipeline};
use common::{watchdog, LIMIT};

/// Counts the bytes alive and the most ever alive at once.
struct Counting;

static LIVE: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let ptr = unsafe { System.alloc(layout) };
        if !ptr.is_null() {
            let live = LIVE.fetch_add(layout.size(), Ordering::Relaxed) + layout.size();
            PEAK.fetch_max(live, Ordering::Relaxed);
        }
        ptr
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) };
        LIVE.fetch_sub(layout.size(), Ordering::Relaxed);
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

/// The tests here measure the whole process: one at a time.
static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());

const ITEM_BYTES: usize = 16 * 1024;
/// The source makes an item in about a microsecond; the sink takes 100 µs.
const SINK_TIME: Duration = Duration::from_micros(100);

/// Runs `items` items of [`ITEM_BYTES`] each from a fast source to a slow
/// sink and returns the most bytes alive at once above what was alive before.
fn peak_growth(items: usize, build: fn(Pipeline<Vec<u8>>) -> Pipeline<Vec<u8>>) -> usize {
    let before = LIVE.load(Ordering::SeqCst);
    PEAK.store(before, Ordering::SeqCst);
    let source = Pipeline::from_iter((0..items).map(|i| vec![i as u8; ITEM_BYTES]))
        .config(Config::default().threads(2).max_in_flight(64));
    let seen = Arc::new(AtomicUsize::new(0));
    let counted = Arc::clone(&seen);
    build(source)
        .for_each(move |item| {
            std::thread::sleep(SINK_TIME);
            assert_eq!(item.len(), ITEM_BYTES);
            counted.fetch_add(1, Ordering::Relaxed);
        })
        .expect("the run succeeds");
    assert_eq!(
        seen.load(Ordering::Relaxed),
        items,
        "every item reaches the sink"
    );
    PEAK.load(Ordering::SeqCst).saturating_sub(before)
}

fn assert_flat(what: &'static str, build: fn(Pipeline<Vec<u8>>) -> Pipeline<Vec<u8>>) {
    let _guard = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    watchdog(LIMIT, move || {
        let small = peak_growth(500, build);
        let large = peak_growth(4_000, build);
        // 64 items in flight, each 16 KiB, plus what the engine keeps: far
        // below the 64 MiB the larger run would hold if nothing held the source back.
        let bound = 4 * 64 * ITEM_BYTES;
        assert!(
            large <= bound,
            "{what}: {large} bytes alive at the peak for 4000 items (bound {bound})"
        );
        assert!(
            large <= small + small / 2 + ITEM_BYTES * 8,
            "{what}: the peak grew with the number of items: {small} bytes for 500, {large} for 4000"
        );
    });
}

#[test]
fn a_slow_sink_holds_back_a_fast_source() {
    assert_flat("source to sink", |p| p);
}

#[test]
fn a_slow_sink_holds_back_parallel_stages() {
    assert_flat("through parallel stages", |p| {
        p.map(Mode::parallel(4), |mut v: Vec<u8>| {
            v[0] = v[0].wrapping_add(1);
            v
        })
        .map(Mode::parallel(2).blocking(), |v: Vec<u8>| v)
    });
}

#[test]
fn a_slow_sink_holds_back_batching_and_shuffling() {
    assert_flat("through batch, shuffle and unbatch", |p| {
        p.shuffle(32, 7).batch(8).unbatch()
    });
}
