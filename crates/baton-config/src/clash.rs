//! Outputs that would destroy inputs, or each other, refused before
//! anything runs.
//!
//! A sink replaces its file when the run finishes, and dead letters are
//! written over their file at the end: an output that is an input (the
//! pipeline file included), another output or another stage's dead-letter
//! file would silently destroy data. So every path the stages name is
//! compared, as the file system sees it (relative to the pipeline file,
//! `..` and symlinks resolved, a glob by the files it matches now):
//!
//! - a file written may not be a file read, nor a file another key writes;
//! - a folder written into (the `files` sink) may not hold a file read or
//!   written by another key, nor be inside another folder written into.
//!
//! A clash is reported at the later key, naming the earlier one.

use std::path::{Component, Path, PathBuf};

use baton_ops::ParamRole;

use crate::diagnostic::Diagnostic;
use crate::plan::{Plan, PlannedStage};

/// What a key does with its path.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Use {
    Reads,
    Writes,
    WritesInto,
}

/// One path a key of the file names.
#[derive(Debug)]
struct Claim<'a> {
    /// The stage and key; `None` for the pipeline file itself.
    by: Option<(&'a PlannedStage, &'a str)>,
    used: Use,
    /// As the file system sees it.
    path: PathBuf,
}

/// Every clash between the paths of `plan`'s stages.
pub(crate) fn check(plan: &Plan) -> Vec<Diagnostic> {
    let claims = claims(plan);
    let mut problems = Vec::new();
    for (later, claim) in claims.iter().enumerate() {
        let Some((stage, key)) = claim.by else {
            continue;
        };
        if let Some(earlier) = claims[..later].iter().find(|e| clash(e, claim)) {
            let message = explain(plan, earlier, claim);
            problems.push(plan.stage_diagnostic(stage, Some(key), message).with_help(
                match claim.used {
                    Use::WritesInto => "write into a folder of its own",
                    _ => "give every output a file of its own, apart from the inputs",
                },
            ));
        }
    }
    problems
}

/// The paths of every stage's keys, in the file's order, after the
/// pipeline file itself.
fn claims(plan: &Plan) -> Vec<Claim<'_>> {
    // Inputs clash only with outputs: with none, there is nothing to
    // resolve (a glob of thousands of files costs a path walk each).
    if !writes_anything(plan) {
        return Vec::new();
    }
    let mut folders = Folders::default();
    let mut claims = vec![Claim {
        by: None,
        used: Use::Reads,
        path: canonical(&plan.file),
    }];
    for stage in &plan.stages {
        for param in stage.op.params {
            let by = Some((stage, param.name));
            match param.role {
                ParamRole::Input => {
                    // A glob that matches nothing is the build's to report.
                    let files = stage.params.input_files(param.name).unwrap_or_default();
                    claims.extend(files.iter().map(|file| Claim {
                        by,
                        used: Use::Reads,
                        path: folders.canonical_file(file),
                    }));
                }
                ParamRole::Output | ParamRole::OutputFolder => {
                    if let Ok(Some(path)) = stage.params.path(param.name) {
                        claims.push(Claim {
                            by,
                            used: if param.role == ParamRole::Output {
                                Use::Writes
                            } else {
                                Use::WritesInto
                            },
                            path: canonical(&path),
                        });
                    }
                }
                // A plain value names no file of the run.
                _ => {}
            }
        }
        if let Some(path) = &stage.dead_letter {
            claims.push(Claim {
                by: Some((stage, "dead_letter")),
                used: Use::Writes,
                path: canonical(path),
            });
        }
    }
    claims
}

/// Whether `a` and `b` would destroy one another's data.
fn clash(a: &Claim<'_>, b: &Claim<'_>) -> bool {
    let within = |folder: &Path, path: &Path| path.starts_with(folder);
    match (a.used, b.used) {
        (Use::Reads, Use::Reads) => false,
        (Use::WritesInto, _) => within(&a.path, &b.path),
        (_, Use::WritesInto) => within(&b.path, &a.path),
        _ => a.path == b.path,
    }
}

/// What is wrong, said from the later claim `b`, naming the earlier `a`.
fn explain(plan: &Plan, a: &Claim<'_>, b: &Claim<'_>) -> String {
    let key = b.by.map_or("", |(_, key)| key);
    let Some((stage, a_key)) = a.by else {
        return match b.used {
            Use::WritesInto => format!(
                "`{key}` writes its files into `{}`, which holds the pipeline file itself",
                b.path.display()
            ),
            _ => format!(
                "`{key}` would write `{}`: the pipeline file itself",
                b.path.display()
            ),
        };
    };
    let line = stage.spans.key(a_key).map(|span| {
        plan.text[..span.start.min(plan.text.len())]
            .matches('\n')
            .count()
            + 1
    });
    let earlier = match line {
        Some(line) => format!("stage `{}` (`{a_key}`, line {line})", stage.name),
        None => format!("stage `{}` (`{a_key}`)", stage.name),
    };
    match (a.used, b.used) {
        (Use::Reads, Use::Writes) => format!(
            "`{key}` would write `{}`, which {earlier} reads: the output would destroy its input",
            b.path.display()
        ),
        (Use::Reads, Use::WritesInto) => format!(
            "`{key}` writes its files into `{}`, which holds `{}`, read by {earlier}: a file of the same name would destroy it",
            b.path.display(),
            a.path.display()
        ),
        (Use::WritesInto, _) => format!(
            "`{key}` would write `{}` inside `{}`, the folder {earlier} writes its files into: one would destroy the other",
            b.path.display(),
            a.path.display()
        ),
        (_, Use::WritesInto) => format!(
            "`{key}` writes its files into `{}`, which holds `{}`, written by {earlier}: one would destroy the other",
            b.path.display(),
            a.path.display()
        ),
        _ => format!(
            "`{key}` would write `{}`, which {earlier} writes too: one would destroy the other",
            b.path.display()
        ),
    }
}

/// Whether any stage writes a file or into a folder (dead letters too).
fn writes_anything(plan: &Plan) -> bool {
    plan.stages.iter().any(|stage| {
        stage.dead_letter.is_some()
            || stage.op.params.iter().any(|param| {
                matches!(param.role, ParamRole::Output | ParamRole::OutputFolder)
                    && matches!(stage.params.path(param.name), Ok(Some(_)))
            })
    })
}

/// The folders of the files a glob matched, each resolved once.
#[derive(Default)]
struct Folders(std::collections::HashMap<PathBuf, PathBuf>);

impl Folders {
    /// `file` as the file system sees it: its folder resolved (once for
    /// all the files in it), the file itself resolved only if it is a
    /// symbolic link.
    fn canonical_file(&mut self, file: &Path) -> PathBuf {
        let is_link = file
            .symlink_metadata()
            .is_ok_and(|meta| meta.file_type().is_symlink());
        let (Some(folder), Some(name), false) = (file.parent(), file.file_name(), is_link) else {
            return canonical(file);
        };
        self.0
            .entry(folder.to_path_buf())
            .or_insert_with(|| canonical(folder))
            .join(name)
    }
}

/// `path` as the file system sees it: absolute, the longest part that
/// exists resolved (symlinks, `..`), the rest (not made yet) as written
/// with `.` and `..` taken lexically.
fn canonical(path: &Path) -> PathBuf {
    let absolute = match std::env::current_dir() {
        Ok(here) => here.join(path),
        Err(_) => path.to_path_buf(),
    };
    let mut lexical = PathBuf::new();
    for part in absolute.components() {
        match part {
            Component::CurDir => {}
            Component::ParentDir => {
                lexical.pop();
            }
            other => lexical.push(other),
        }
    }
    for existing in lexical.ancestors() {
        if let Ok(real) = existing.canonicalize() {
            return match lexical.strip_prefix(existing) {
                Ok(rest) if !rest.as_os_str().is_empty() => real.join(rest),
                _ => real,
            };
        }
    }
    lexical
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn canonical_resolves_what_exists_and_keeps_the_rest() {
        let dir = tempfile::tempdir().unwrap();
        let real = dir.path().canonicalize().unwrap();
        std::fs::create_dir(real.join("a")).unwrap();
        std::os::unix::fs::symlink(real.join("a"), real.join("link")).unwrap();
        assert_eq!(
            canonical(&real.join("link/new/x.jsonl")),
            real.join("a/new/x.jsonl")
        );
        assert_eq!(canonical(&real.join("a/./b/../c")), real.join("a/c"));
        assert_eq!(canonical(&real.join("missing/../a")), real.join("a"));
        assert_eq!(
            canonical(&real.join("a")).as_os_str(),
            real.join("a").as_os_str()
        );
    }

    #[test]
    fn a_file_is_resolved_through_its_folder_and_its_own_link() {
        let dir = tempfile::tempdir().unwrap();
        let real = dir.path().canonicalize().unwrap();
        std::fs::create_dir(real.join("a")).unwrap();
        std::fs::write(real.join("a/x.txt"), "x").unwrap();
        std::os::unix::fs::symlink(real.join("a"), real.join("folder-link")).unwrap();
        std::os::unix::fs::symlink(real.join("a/x.txt"), real.join("a/y.txt")).unwrap();
        let mut folders = Folders::default();
        assert_eq!(
            folders.canonical_file(&real.join("folder-link/x.txt")),
            real.join("a/x.txt")
        );
        assert_eq!(
            folders.canonical_file(&real.join("folder-link/y.txt")),
            real.join("a/x.txt"),
            "a link is followed to its file"
        );
    }

    #[test]
    fn a_folder_written_into_holds_what_is_below_it() {
        let claim = |used, path: &str| Claim {
            by: None,
            used,
            path: PathBuf::from(path),
        };
        let folder = claim(Use::WritesInto, "/d/out");
        assert!(clash(&folder, &claim(Use::Reads, "/d/out/a.png")));
        assert!(clash(&claim(Use::Writes, "/d/out/dead.jsonl"), &folder));
        assert!(!clash(&folder, &claim(Use::Reads, "/d/outside.png")));
        assert!(!clash(
            &claim(Use::Reads, "/d/a"),
            &claim(Use::Reads, "/d/a")
        ));
        assert!(clash(
            &claim(Use::Writes, "/d/a"),
            &claim(Use::Writes, "/d/a")
        ));
    }
}
