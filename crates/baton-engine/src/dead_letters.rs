//! Where skipped items go: to a handler as they happen, or kept (up to a
//! bound) for the run's report.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;

use crate::error::{BoxError, DeadLetter};

/// A function that takes every dead letter as it happens; an error (the
/// letter could not be kept) fails the run at that item.
pub(crate) type DeadLetterHandler = Box<dyn Fn(DeadLetter) -> Result<(), BoxError> + Send + Sync>;

/// A run's dead letters: handed to the user's handler as they happen, else
/// kept in memory up to a bound; past it they are counted, not kept.
pub(crate) struct DeadLetters {
    handler: Option<DeadLetterHandler>,
    kept: Mutex<Vec<DeadLetter>>,
    keep_at_most: usize,
    /// Letters neither handed over nor kept (the bound was reached).
    dropped: AtomicU64,
}

impl std::fmt::Debug for DeadLetters {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DeadLetters")
            .field("handler", &self.handler.is_some())
            .field("keep_at_most", &self.keep_at_most)
            .finish_non_exhaustive()
    }
}

impl DeadLetters {
    pub(crate) fn new(handler: Option<DeadLetterHandler>, keep_at_most: usize) -> Self {
        Self {
            handler,
            kept: Mutex::new(Vec::new()),
            keep_at_most,
            dropped: AtomicU64::new(0),
        }
    }

    /// Takes one letter: to the handler, or kept while there is room.
    ///
    /// # Errors
    ///
    /// The handler's, when it could not keep the letter.
    pub(crate) fn push(&self, letter: DeadLetter) -> Result<(), BoxError> {
        if let Some(handler) = &self.handler {
            return handler(letter);
        }
        let mut kept = self.kept.lock().unwrap_or_else(|e| e.into_inner());
        if kept.len() < self.keep_at_most {
            kept.push(letter);
        } else {
            drop(kept);
            self.dropped.fetch_add(1, Ordering::Relaxed);
        }
        Ok(())
    }

    /// Takes the letters kept so far.
    pub(crate) fn take(&self) -> Vec<DeadLetter> {
        std::mem::take(&mut *self.kept.lock().unwrap_or_else(|e| e.into_inner()))
    }

    /// How many letters were neither handed over nor kept.
    pub(crate) fn dropped(&self) -> u64 {
        self.dropped.load(Ordering::Relaxed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::StageFailure;
    use std::sync::Arc;

    fn letter(seq: u64) -> DeadLetter {
        DeadLetter {
            stage: "s".into(),
            seq,
            failure: StageFailure::Panic("x".into()),
            item: None,
        }
    }

    #[test]
    fn past_the_bound_letters_are_counted_not_kept() {
        let letters = DeadLetters::new(None, 2);
        (0..5).for_each(|seq| letters.push(letter(seq)).unwrap());
        assert_eq!(letters.take().len(), 2);
        assert_eq!(letters.dropped(), 3);
    }

    #[test]
    fn a_handler_gets_every_letter_and_nothing_is_kept() {
        let seen = Arc::new(Mutex::new(Vec::new()));
        let sink = Arc::clone(&seen);
        let handler: DeadLetterHandler = Box::new(move |l| {
            sink.lock().unwrap().push(l.seq);
            Ok(())
        });
        let letters = DeadLetters::new(Some(handler), 1);
        (0..5).for_each(|seq| letters.push(letter(seq)).unwrap());
        assert_eq!(*seen.lock().unwrap(), vec![0, 1, 2, 3, 4]);
        assert!(letters.take().is_empty());
        assert_eq!(letters.dropped(), 0);
    }
}
