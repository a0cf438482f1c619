//! The one error-policy loop: try an item; on failure retry it with
//! backoff, then skip it to the dead letters or fail the run, as the
//! stage's [`OnError`](crate::OnError) says. Every operator's per-item path
//! goes through [`apply`]; a panic counts as a failure.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::Ordering;

use super::StageContext;
use crate::context::sleep_unless_set;
use crate::error::{BoxError, ItemFailure, StageFailure};

/// Runs `f`, turning an error or a panic into a failure.
pub(crate) fn caught<R>(f: impl FnOnce() -> Result<R, BoxError>) -> Result<R, StageFailure> {
    match catch_unwind(AssertUnwindSafe(f)) {
        Ok(Ok(value)) => Ok(value),
        Ok(Err(error)) => Err(StageFailure::Error(error)),
        Err(panic) => Err(StageFailure::from_panic(panic)),
    }
}

/// Tries `once` on `item` until it succeeds or the stage's policy gives up.
/// Returns the item with what `once` gave, or `None` when the item was
/// skipped (it is then, whole, in the dead letters). `once` borrows the
/// item so that it survives a failed try; a stage that consumes its input
/// clones it inside `once`.
///
/// # Errors
///
/// The item's failure, once the policy says to fail the run.
pub(crate) fn apply<In: Send + 'static, R>(
    ctx: &StageContext,
    seq: u64,
    item: In,
    mut once: impl FnMut(&In) -> Result<R, StageFailure>,
) -> Result<Option<(In, R)>, ItemFailure> {
    let (mut retries_left, mut wait, skip) = ctx.policy.plan();
    loop {
        let failure = match once(&item) {
            Ok(value) => return Ok(Some((item, value))),
            Err(failure) => failure,
        };
        if retries_left > 0 && !ctx.is_stopping() {
            retries_left -= 1;
            ctx.counters.retries.fetch_add(1, Ordering::Relaxed);
            sleep_unless_set(&ctx.winding_down, wait);
            wait = wait.saturating_mul(2);
            continue;
        }
        if skip {
            ctx.skip(seq, failure, Some(Box::new(item)))?;
            return Ok(None);
        }
        let mut failed = ctx.fail(seq, failure);
        failed.cut_short = retries_left > 0;
        return Err(failed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dead_letters::DeadLetters;
    use crate::error::OnError;
    use std::sync::atomic::AtomicBool;
    use std::sync::Arc;
    use std::time::Duration;

    fn ctx(policy: OnError) -> StageContext {
        StageContext {
            name: Arc::from("s"),
            policy,
            dead_letters: Arc::new(DeadLetters::new(None, 100)),
            counters: Arc::default(),
            stopping: Arc::new(AtomicBool::new(false)),
            winding_down: Arc::new(AtomicBool::new(false)),
            buffers: Arc::default(),
            off_thread_cpu: None,
        }
    }

    fn failing_until(n: u32) -> impl FnMut(&u32) -> Result<u32, StageFailure> {
        let mut tries = 0;
        move |item| {
            tries += 1;
            caught(|| {
                if tries > n {
                    Ok(item * 2)
                } else {
                    Err("no".into())
                }
            })
        }
    }

    #[test]
    fn retries_until_a_try_succeeds() {
        let ctx = ctx(OnError::Retry {
            attempts: 3,
            backoff: Duration::ZERO,
        });
        let done = apply(&ctx, 7, 5u32, failing_until(2)).unwrap();
        assert_eq!(done, Some((5, 10)));
        assert_eq!(ctx.counters.retries.load(Ordering::Relaxed), 2);
        assert_eq!(ctx.counters.errors.load(Ordering::Relaxed), 0);
    }

    #[test]
    fn skips_the_whole_item_once_the_retries_are_spent() {
        let ctx = ctx(OnError::RetryThenSkip {
            attempts: 1,
            backoff: Duration::ZERO,
        });
        assert!(apply(&ctx, 7, 5u32, failing_until(9)).unwrap().is_none());
        let letters = ctx.dead_letters.take();
        assert_eq!(letters[0].seq, 7);
        assert_eq!(letters[0].item::<u32>(), Some(&5));
        assert_eq!(ctx.counters.skipped.load(Ordering::Relaxed), 1);
    }

    #[test]
    fn fails_with_the_items_sequence_number_and_a_caught_panic() {
        let ctx = ctx(OnError::Fail);
        let failure = apply(&ctx, 3, 1u32, |_| {
            caught(|| -> Result<(), _> { panic!("boom") })
        })
        .unwrap_err();
        assert_eq!(failure.seq, 3);
        assert_eq!(failure.failure.to_string(), "panicked: boom");
    }

    #[test]
    fn a_stopping_run_does_not_retry() {
        let ctx = ctx(OnError::Retry {
            attempts: 1_000,
            backoff: Duration::from_secs(60),
        });
        ctx.winding_down.store(true, Ordering::Relaxed);
        assert!(apply(&ctx, 0, 1u32, failing_until(u32::MAX)).is_err());
        assert_eq!(ctx.counters.retries.load(Ordering::Relaxed), 0);
    }
}
