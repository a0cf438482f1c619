//! The file a sink writes, staged: while the run goes it is written as
//! `<name>.partial` in the same folder, and only the sink's `finish`
//! renames it to its own name. A run that fails or is aborted never calls
//! `finish` (the engine drops the sink), so the previous file is left as
//! it was and what was written stays in `<name>.partial`, which the stage
//! says in a warning at the end of the run.
//!
//! The partial file has its clear name from the start, rather than a
//! temporary one renamed on drop, so a run that is killed, or whose sink
//! is dropped late, leaves it just the same; dropping the writer flushes
//! what it buffered.

use std::fs::File;
use std::io::BufWriter;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use super::error::SinkError;
use crate::warnings::{Moment, StageWarnings};

/// A file being written under its partial name.
#[derive(Debug)]
pub(super) struct Staged {
    target: PathBuf,
    /// Where it is written until `commit`; `None` for what is no regular
    /// file (`/dev/null`, a pipe), written in place.
    partial: Option<PathBuf>,
    committed: Arc<AtomicBool>,
}

impl Staged {
    /// Creates the partial file of `target` (and its folders), replacing an
    /// earlier partial one, and tells `warnings` to say where it is if the
    /// run ends before [`Staged::commit`].
    pub(super) fn create(
        target: PathBuf,
        warnings: &StageWarnings,
    ) -> Result<(Self, BufWriter<File>), SinkError> {
        let special = std::fs::metadata(&target).is_ok_and(|m| !m.is_file() && !m.is_dir());
        let partial = (!special).then(|| partial_name(&target));
        let written = partial.as_deref().unwrap_or(&target);
        let file_error = |error| SinkError::File {
            path: written.display().to_string(),
            error,
        };
        if let Some(folder) = written.parent().filter(|p| !p.as_os_str().is_empty()) {
            std::fs::create_dir_all(folder).map_err(file_error)?;
        }
        let file = File::create(written).map_err(file_error)?;
        let committed = Arc::new(AtomicBool::new(false));
        if let Some(partial) = &partial {
            let done = Arc::clone(&committed);
            let before = if target.exists() {
                "is left as it was"
            } else {
                "was not made"
            };
            let message = format!(
                "the run did not finish: what was written is kept in {}, and {} {before}",
                partial.display(),
                target.display()
            );
            warnings.check(move |moment| {
                (moment == Moment::Ended && !done.load(Ordering::Acquire)).then(|| message.clone())
            });
        }
        let staged = Self {
            target,
            partial,
            committed,
        };
        Ok((staged, BufWriter::with_capacity(1 << 16, file)))
    }

    /// The file being written, for errors.
    pub(super) fn written(&self) -> &Path {
        self.partial.as_deref().unwrap_or(&self.target)
    }

    /// Gives the partial file its own name, replacing the previous file.
    /// Call it once everything is written and the writer is closed.
    pub(super) fn commit(&self) -> Result<(), SinkError> {
        if let Some(partial) = &self.partial {
            std::fs::rename(partial, &self.target).map_err(|error| SinkError::File {
                path: format!(
                    "{} (renaming it to {})",
                    partial.display(),
                    self.target.display()
                ),
                error,
            })?;
        }
        self.committed.store(true, Ordering::Release);
        Ok(())
    }
}

/// `out.jsonl` → `out.jsonl.partial`, in the same folder.
fn partial_name(target: &Path) -> PathBuf {
    let mut name = target.file_name().unwrap_or_default().to_os_string();
    name.push(".partial");
    target.with_file_name(name)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::warnings::Warnings;
    use std::io::Write;

    #[test]
    fn until_committed_the_previous_file_stays_and_the_partial_one_is_warned_of() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("out.txt");
        std::fs::write(&target, "previous\n").unwrap();
        let run = Warnings::new();
        let (staged, mut out) = Staged::create(target.clone(), &run.stage("write")).unwrap();
        out.write_all(b"new\n").unwrap();
        drop(out);
        assert_eq!(std::fs::read_to_string(&target).unwrap(), "previous\n");
        assert!(run.read(Moment::Running).is_empty());
        let warnings = run.read(Moment::Ended);
        assert_eq!(warnings.len(), 1);
        let partial = dir.path().join("out.txt.partial");
        assert!(
            warnings[0].message.contains(&partial.display().to_string()),
            "{warnings:?}"
        );
        assert_eq!(std::fs::read_to_string(&partial).unwrap(), "new\n");
        staged.commit().unwrap();
        assert_eq!(std::fs::read_to_string(&target).unwrap(), "new\n");
        assert!(!partial.exists());
        assert!(run.read(Moment::Ended).is_empty());
    }

    #[test]
    fn what_is_not_a_regular_file_is_written_in_place() {
        let (staged, mut out) =
            Staged::create(PathBuf::from("/dev/null"), &StageWarnings::default()).unwrap();
        out.write_all(b"gone").unwrap();
        drop(out);
        assert_eq!(staged.written(), Path::new("/dev/null"));
        staged.commit().unwrap();
    }
}
