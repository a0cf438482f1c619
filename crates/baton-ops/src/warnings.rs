//! Warnings: what a run's stages have to tell the user that is not an
//! error (a filter testing a field no item has, an output left partial).
//!
//! The engine has no channel for them and a library does not print, so a
//! run has one [`Warnings`] collector that the front end reads, and each
//! stage gets a [`StageWarnings`] handle to it through its [`Params`]
//! (see [`Params::with_warnings`]). A stage either says something at once
//! ([`StageWarnings::warn`]) or, for what only becomes true over many
//! items, registers a check ([`StageWarnings::check`]) that looks at what
//! the stage has seen each time the warnings are read: while the run goes
//! ([`Moment::Running`], for a live view) or once it has ended
//! ([`Moment::Ended`], for the summary).
//!
//! [`Params`]: crate::Params
//! [`Params::with_warnings`]: crate::Params::with_warnings

use std::fmt;
use std::sync::{Arc, Mutex};

/// When the warnings are read.
///
/// # Examples
///
/// See [`StageWarnings::check`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Moment {
    /// While the run goes: a check says only what more items cannot undo.
    Running,
    /// Once the run has ended: every item the stage will see, it has seen.
    Ended,
}

/// One warning, from one stage.
///
/// # Examples
///
/// ```
/// let warnings = baton_ops::Warnings::new();
/// warnings.stage("filter").warn("careful");
/// let all = warnings.read(baton_ops::Moment::Ended);
/// assert_eq!(all[0].to_string(), "stage `filter`: careful");
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Warning {
    /// The stage's name.
    pub stage: String,
    /// What it says.
    pub message: String,
}

impl fmt::Display for Warning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "stage `{}`: {}", self.stage, self.message)
    }
}

/// A check a stage registers: `None` while there is nothing to say.
type Check = Arc<dyn Fn(Moment) -> Option<String> + Send + Sync>;

#[derive(Default)]
struct Entries {
    said: Vec<Warning>,
    checks: Vec<(Arc<str>, Check)>,
}

/// The warnings of one run: every stage's, in the order they were given.
/// Cloning it gives another handle to the same collector.
///
/// # Examples
///
/// ```
/// use baton_ops::{Moment, Warnings};
///
/// let warnings = Warnings::new();
/// let filter = warnings.stage("filter");
/// filter.warn("the field `levle` is in no item");
/// filter.warn("the field `levle` is in no item"); // said once
/// assert_eq!(warnings.read(Moment::Ended).len(), 1);
/// ```
#[derive(Clone, Default)]
pub struct Warnings(Arc<Mutex<Entries>>);

impl fmt::Debug for Warnings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let entries = self.entries();
        f.debug_struct("Warnings")
            .field("said", &entries.said)
            .field("checks", &entries.checks.len())
            .finish()
    }
}

impl Warnings {
    /// An empty collector.
    ///
    /// # Examples
    ///
    /// ```
    /// assert!(baton_ops::Warnings::new().read(baton_ops::Moment::Ended).is_empty());
    /// ```
    pub fn new() -> Self {
        Self::default()
    }

    /// The handle of the stage `name`.
    ///
    /// # Examples
    ///
    /// See [`Warnings`].
    pub fn stage(&self, name: &str) -> StageWarnings {
        StageWarnings {
            stage: Arc::from(name),
            run: self.clone(),
        }
    }

    /// Every warning as of `moment`: what was said, then what the checks
    /// find, each once.
    ///
    /// # Examples
    ///
    /// See [`StageWarnings::check`].
    pub fn read(&self, moment: Moment) -> Vec<Warning> {
        let (mut all, checks) = {
            let entries = self.entries();
            (entries.said.clone(), entries.checks.clone())
        };
        // Run outside the lock: a check may take locks of its own stage's.
        for (stage, check) in checks {
            if let Some(message) = check(moment) {
                let warning = Warning {
                    stage: stage.to_string(),
                    message,
                };
                if !all.contains(&warning) {
                    all.push(warning);
                }
            }
        }
        all
    }

    fn entries(&self) -> std::sync::MutexGuard<'_, Entries> {
        // A panic while holding it leaves a list that is still whole.
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// One stage's handle to its run's [`Warnings`]. The default one belongs
/// to a collector nobody reads (a stage used on its own, in a test).
///
/// # Examples
///
/// ```
/// let warnings = baton_ops::Warnings::new();
/// let handle = warnings.stage("write");
/// assert_eq!(handle.stage(), "write");
/// ```
#[derive(Clone, Debug, Default)]
pub struct StageWarnings {
    stage: Arc<str>,
    run: Warnings,
}

impl StageWarnings {
    /// The stage's name.
    ///
    /// # Examples
    ///
    /// See [`StageWarnings`].
    pub fn stage(&self) -> &str {
        &self.stage
    }

    /// Says something now; the same message twice is one warning.
    ///
    /// # Examples
    ///
    /// See [`Warnings`].
    pub fn warn(&self, message: impl Into<String>) {
        let warning = Warning {
            stage: self.stage.to_string(),
            message: message.into(),
        };
        let mut entries = self.run.entries();
        if !entries.said.contains(&warning) {
            entries.said.push(warning);
        }
    }

    /// Registers a check, called each time the warnings are read, with
    /// what it may assume ([`Moment`]): its message, or `None`. It runs on
    /// the reader's thread, so it only reads what the stage keeps (behind
    /// an `Arc` with atomics or a lock).
    ///
    /// # Examples
    ///
    /// ```
    /// use std::sync::atomic::{AtomicU64, Ordering};
    /// use std::sync::Arc;
    /// use baton_ops::{Moment, Warnings};
    ///
    /// let warnings = Warnings::new();
    /// let kept = Arc::new(AtomicU64::new(0));
    /// let seen = Arc::clone(&kept);
    /// warnings.stage("filter").check(move |moment| {
    ///     let none = seen.load(Ordering::Relaxed) == 0;
    ///     (none && moment == Moment::Ended).then(|| "no item was kept".to_string())
    /// });
    /// assert!(warnings.read(Moment::Running).is_empty());
    /// assert_eq!(warnings.read(Moment::Ended)[0].message, "no item was kept");
    /// kept.fetch_add(1, Ordering::Relaxed);
    /// assert!(warnings.read(Moment::Ended).is_empty());
    /// ```
    pub fn check(&self, check: impl Fn(Moment) -> Option<String> + Send + Sync + 'static) {
        self.run
            .entries()
            .checks
            .push((Arc::clone(&self.stage), Arc::new(check)));
    }
}
