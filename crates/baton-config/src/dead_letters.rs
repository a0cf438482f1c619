//! Where a pipeline file's skipped items go: each stage's `dead_letter`
//! file, written a letter at a time as items are skipped (one JSON line:
//! stage, seq, error, item), so memory stays flat and every letter is on
//! disk whatever way the run ends, even a forced exit. Stages with no file
//! keep a few letters to show and count the rest.

use std::fs::File;
use std::io::Write;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, PoisonError};

use baton_engine::{BoxError, DeadLetter};
use baton_ops::Item;

use crate::plan::Plan;

/// Letters kept, per stage with no file, to show in the summary.
const SHOWN_PER_STAGE: usize = 5;

/// The dead letters of a run: each stage's file, and what was skipped.
///
/// # Examples
///
/// ```
/// let text = r#"
/// [[stage]]
/// op = "range"
/// end = 10
///
/// [[stage]]
/// op = "filter"
/// expr = "value / (value % 3) >= 0"
/// on_error = "skip"
/// dead_letter = "dead.jsonl"
///
/// [[stage]]
/// op = "discard"
/// "#;
/// let dir = tempfile::tempdir().unwrap();
/// let file = dir.path().join("p.toml");
/// std::fs::write(&file, text).unwrap();
/// let run = baton_config::Plan::read(&file).unwrap().build().unwrap().start(&Default::default()).unwrap();
/// let letters = run.dead_letters();
/// run.handle.join().unwrap();
/// let filter = &letters.stages()[1];
/// assert_eq!(filter.skipped, 4); // 0, 3, 6 and 9 divide by zero
/// assert_eq!(std::fs::read_to_string(dir.path().join("dead.jsonl")).unwrap().lines().count(), 4);
/// ```
#[derive(Clone, Debug)]
pub struct DeadLetterFiles {
    /// Each stage's name, and its letters.
    stages: Arc<Vec<(String, Mutex<StageLetters>)>>,
}

/// One stage's dead letters so far.
///
/// # Examples
///
/// See [`DeadLetterFiles`].
#[derive(Clone, Debug, Default)]
#[non_exhaustive]
pub struct StageLetters {
    /// The stage's name.
    pub stage: String,
    /// Its `dead_letter` file, if it has one.
    pub file: Option<PathBuf>,
    /// Items it skipped.
    pub skipped: u64,
    /// The first few (seq, error), when it has no file.
    pub first: Vec<(u64, String)>,
    open: Option<Arc<File>>,
}

impl DeadLetterFiles {
    /// The dead letters of `plan`'s stages; no file is touched until a
    /// letter comes.
    pub(crate) fn new(plan: &Plan) -> Self {
        let stages = plan
            .stages
            .iter()
            .map(|stage| {
                let letters = StageLetters {
                    stage: stage.name.clone(),
                    file: stage.dead_letter.clone(),
                    ..StageLetters::default()
                };
                (stage.name.clone(), Mutex::new(letters))
            })
            .collect();
        Self {
            stages: Arc::new(stages),
        }
    }

    /// Takes one letter: to its stage's file (created, or emptied, with the
    /// first letter of the run), else kept to be shown.
    ///
    /// # Errors
    ///
    /// When the file cannot be written: the engine then fails the run at
    /// that item rather than lose it.
    pub(crate) fn take(&self, letter: DeadLetter) -> Result<(), BoxError> {
        let Some(stage) = self.stage(&letter.stage) else {
            return Err(format!("no stage `{}` to take its dead letter", letter.stage).into());
        };
        let mut stage = stage.lock().unwrap_or_else(PoisonError::into_inner);
        let Some(path) = stage.file.clone() else {
            stage.skipped += 1;
            if stage.first.len() < SHOWN_PER_STAGE {
                stage.first.push((letter.seq, letter.failure.to_string()));
            }
            return Ok(());
        };
        let file = match &stage.open {
            Some(file) => Arc::clone(file),
            None => {
                if let Some(parent) = path.parent() {
                    std::fs::create_dir_all(parent)
                        .map_err(|e| format!("cannot make {}: {e}", parent.display()))?;
                }
                let file = File::create(&path)
                    .map_err(|e| format!("cannot write {}: {e}", path.display()))?;
                Arc::clone(stage.open.insert(Arc::new(file)))
            }
        };
        let item = letter
            .item::<Item>()
            .map(Item::to_json)
            .unwrap_or(serde_json::Value::Null);
        let mut line = serde_json::to_vec(&serde_json::json!({
            "stage": letter.stage,
            "seq": letter.seq,
            "error": letter.failure.to_string(),
            "item": item,
        }))?;
        line.push(b'\n');
        // One write a letter, with no buffer of ours: it is the system's the
        // moment it is taken, whatever happens to this process next.
        (&*file)
            .write_all(&line)
            .map_err(|e| format!("cannot write {}: {e}", path.display()))?;
        // Counted once it is in the file: a letter that could not be kept
        // fails the run at its item and is not said to be written.
        stage.skipped += 1;
        Ok(())
    }

    fn stage(&self, name: &str) -> Option<&Mutex<StageLetters>> {
        self.stages
            .iter()
            .find(|(stage, _)| stage == name)
            .map(|(_, letters)| letters)
    }

    /// Every stage's dead letters so far, in pipeline order.
    ///
    /// # Examples
    ///
    /// See [`DeadLetterFiles`].
    pub fn stages(&self) -> Vec<StageLetters> {
        self.stages
            .iter()
            .map(|(_, letters)| {
                letters
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .clone()
            })
            .collect()
    }

    /// What was skipped, one line per stage that skipped anything: how many,
    /// and where they went (or the first few, when nowhere).
    ///
    /// # Examples
    ///
    /// ```
    /// let text = "[[stage]]\nop = \"range\"\nend = 3\n\n[[stage]]\nop = \"discard\"\n";
    /// let run = baton_config::Plan::parse("p.toml".as_ref(), text).unwrap().build().unwrap().start(&Default::default()).unwrap();
    /// let letters = run.dead_letters();
    /// run.handle.join().unwrap();
    /// assert!(letters.summary().is_empty());
    /// ```
    pub fn summary(&self) -> Vec<String> {
        let mut lines = Vec::new();
        for stage in self.stages().into_iter().filter(|s| s.skipped > 0) {
            let items = if stage.skipped == 1 { "item" } else { "items" };
            match &stage.file {
                Some(file) => lines.push(format!(
                    "stage `{}`: {} {items} skipped, written to {}",
                    stage.stage,
                    stage.skipped,
                    file.display()
                )),
                None => {
                    lines.push(format!(
                        "stage `{}`: {} {items} skipped (set `dead_letter` to keep them)",
                        stage.stage, stage.skipped
                    ));
                    for (seq, error) in &stage.first {
                        lines.push(format!("  item {seq}: {error}"));
                    }
                }
            }
        }
        lines
    }
}
