//! The spans of a traced run, bounded: past the bound, the spans of every
//! other chunk are dropped (and from then on only chunks whose index is a
//! multiple of the stride are recorded), so memory stays flat however long
//! the run, the timeline keeps every stage of the chunks it shows, and the
//! report can say how much was thinned.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;

use crate::stats::Span;

#[derive(Debug)]
pub(super) struct SpanRecorder {
    spans: Mutex<Vec<Span>>,
    /// Only chunks whose index is a multiple of this are recorded.
    stride: AtomicU64,
    max_spans: usize,
}

impl SpanRecorder {
    pub(super) fn new(max_spans: usize) -> Self {
        Self {
            spans: Mutex::new(Vec::new()),
            stride: AtomicU64::new(1),
            max_spans: max_spans.max(2),
        }
    }

    pub(super) fn record(&self, span: Span) {
        if span.chunk % self.stride.load(Ordering::Relaxed) != 0 {
            return;
        }
        let mut spans = self.spans.lock().unwrap_or_else(|e| e.into_inner());
        // The stride may have doubled while this thread waited for the lock.
        let stride = self.stride.load(Ordering::Relaxed);
        if span.chunk % stride != 0 {
            return;
        }
        spans.push(span);
        if spans.len() >= self.max_spans {
            let stride = stride * 2;
            spans.retain(|s| s.chunk % stride == 0);
            self.stride.store(stride, Ordering::Relaxed);
        }
    }

    /// Takes the spans recorded, in start order, and the stride they were
    /// thinned to (1: none dropped).
    pub(super) fn take(&self) -> (Vec<Span>, u64) {
        let mut spans = std::mem::take(&mut *self.spans.lock().unwrap_or_else(|e| e.into_inner()));
        spans.sort_by_key(|span| span.start);
        (spans, self.stride.load(Ordering::Relaxed))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn span(chunk: u64, stage: usize) -> Span {
        Span {
            stage,
            replica: 0,
            chunk,
            first_seq: chunk,
            items: 1,
            start: Duration::from_nanos(chunk),
            duration: Duration::ZERO,
        }
    }

    #[test]
    fn a_long_run_is_thinned_by_chunk_and_stays_bounded() {
        let recorder = SpanRecorder::new(100);
        for chunk in 0..10_000 {
            for stage in 0..3 {
                recorder.record(span(chunk, stage));
            }
        }
        let (spans, stride) = recorder.take();
        assert!(spans.len() < 100, "{} spans kept", spans.len());
        assert!(stride > 1);
        assert!(spans.iter().all(|s| s.chunk % stride == 0));
        // Every stage of a kept chunk is kept.
        for chunk in spans.iter().map(|s| s.chunk) {
            assert_eq!(spans.iter().filter(|s| s.chunk == chunk).count(), 3);
        }
    }

    #[test]
    fn a_short_run_keeps_every_span() {
        let recorder = SpanRecorder::new(100);
        (0..10).for_each(|chunk| recorder.record(span(chunk, 0)));
        let (spans, stride) = recorder.take();
        assert_eq!((spans.len(), stride), (10, 1));
    }
}
