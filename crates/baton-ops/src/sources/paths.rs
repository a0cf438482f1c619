//! Which files a source reads: a path or a glob, or a list of them,
//! relative to the pipeline file's folder, expanded when the stage is built.
//!
//! Globs have `globset`'s syntax, as the tools people know (ripgrep, git)
//! have it: `*` and `?` within a folder name, `**` across folders,
//! `{jpg,png}` alternatives, `[a-z]` classes. A path with none of these is
//! taken as it is.

use std::path::{Component, Path, PathBuf};

use globset::GlobBuilder;

use crate::registry::{OpError, Params, Paths};

/// The files (not folders) the parameter `param` names: each pattern's
/// matches sorted by path, the patterns in their order, a file named twice
/// read once.
///
/// # Errors
///
/// Naming `param`: an invalid glob, a folder that cannot be read, or a
/// pattern that matches no file.
pub(crate) fn matching(params: &Params, param: &str) -> Result<Vec<PathBuf>, OpError> {
    files_of_patterns(
        patterns_of(params, param)?.patterns(),
        params.base_dir(),
        param,
    )
}

/// Each pattern of the parameter `param` with the files it matches, sorted.
///
/// # Errors
///
/// As [`matching`].
pub(crate) fn matching_each(
    params: &Params,
    param: &str,
) -> Result<Vec<(String, Vec<PathBuf>)>, OpError> {
    files_each_of_patterns(
        patterns_of(params, param)?.patterns(),
        params.base_dir(),
        param,
    )
}

/// The paths and globs of the parameter `param`.
fn patterns_of(params: &Params, param: &str) -> Result<Paths, OpError> {
    match params.raw(param) {
        None => Err(OpError::param(param, "is required")),
        Some(value) => value
            .clone()
            .try_into()
            .map_err(|_| OpError::param(param, "expected a path or glob, or an array of them")),
    }
}

/// The files `patterns` name, from `base` when relative: each pattern's
/// matches sorted by path, the patterns in their order, a file named twice
/// read once.
///
/// # Errors
///
/// As [`matching`].
pub(crate) fn files_of_patterns(
    patterns: &[String],
    base: &Path,
    param: &str,
) -> Result<Vec<PathBuf>, OpError> {
    let mut files = Vec::new();
    let mut seen = std::collections::HashSet::new();
    for (_, matched) in files_each_of_patterns(patterns, base, param)? {
        for file in matched {
            if seen.insert(file.clone()) {
                files.push(file);
            }
        }
    }
    Ok(files)
}

/// Each of `patterns`, from `base` when relative, with the files it
/// matches, sorted (the checks of [`matching_each`], naming `param`).
pub(crate) fn files_each_of_patterns(
    patterns: &[String],
    base: &Path,
    param: &str,
) -> Result<Vec<(String, Vec<PathBuf>)>, OpError> {
    if patterns.is_empty() {
        return Err(OpError::param(
            param,
            "names no file: give at least one path or glob",
        ));
    }
    patterns
        .iter()
        .cloned()
        .map(|pattern| {
            let files =
                files_of(base, &pattern).map_err(|message| OpError::param(param, message))?;
            if files.is_empty() {
                let place = if Path::new(&pattern).is_absolute() {
                    String::new()
                } else {
                    format!(" in {}", base.display())
                };
                return Err(OpError::param(
                    param,
                    format!("no file matches `{pattern}`{place}"),
                ));
            }
            Ok((pattern, files))
        })
        .collect()
}

/// Whether `text` holds glob syntax.
fn is_glob(text: &str) -> bool {
    text.contains(['*', '?', '[', '{'])
}

/// The files `pattern` names, from `base` when it is relative.
fn files_of(base: &Path, pattern: &str) -> Result<Vec<PathBuf>, String> {
    let relative = Path::new(pattern);
    let full = if relative.is_absolute() {
        relative.to_path_buf()
    } else {
        base.join(relative)
    };
    if !is_glob(pattern) {
        return Ok(if full.is_file() {
            vec![full]
        } else {
            Vec::new()
        });
    }
    // Walk from the folders before the first glob, as deep as the glob
    // reaches (all the way with `**`), matching what follows them.
    let mut root = if relative.is_absolute() {
        PathBuf::new()
    } else {
        base.to_path_buf()
    };
    let mut rest = Vec::new();
    for component in relative.components() {
        let text = component.as_os_str().to_string_lossy();
        if rest.is_empty() && !is_glob(&text) {
            root.push(component);
        } else {
            rest.push(text.into_owned());
        }
    }
    let glob = GlobBuilder::new(&rest.join("/"))
        .literal_separator(true)
        .backslash_escape(true)
        .build()
        .map_err(|e| format!("`{pattern}` is not a valid glob: {}", e.kind()))?
        .compile_matcher();
    let depth = if rest.iter().any(|part| part.contains("**")) {
        usize::MAX
    } else {
        rest.len()
    };
    let root = if root.as_os_str().is_empty() {
        PathBuf::from(".")
    } else {
        root
    };
    if !root.is_dir() {
        return Ok(Vec::new());
    }
    let mut files = Vec::new();
    for entry in walkdir::WalkDir::new(&root)
        .min_depth(1)
        .max_depth(depth)
        .follow_links(true)
    {
        let entry = entry.map_err(|e| {
            let at = e.path().unwrap_or(&root).display().to_string();
            format!(
                "cannot read {at}: {}",
                e.io_error().map_or(e.to_string(), |io| io.to_string())
            )
        })?;
        if !entry.file_type().is_file() {
            continue;
        }
        let Ok(inside) = entry.path().strip_prefix(&root) else {
            continue;
        };
        let inside: Vec<String> = inside
            .components()
            .filter_map(|c| match c {
                Component::Normal(part) => Some(part.to_string_lossy().into_owned()),
                _ => None,
            })
            .collect();
        if glob.is_match(inside.join("/")) {
            files.push(entry.into_path());
        }
    }
    files.sort();
    Ok(files)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    fn params(pattern: &str, dir: &Path) -> Params {
        let mut values = BTreeMap::new();
        values.insert("path".to_string(), toml::Value::String(pattern.into()));
        Params::new(values, dir)
    }

    #[test]
    fn matches_files_relative_to_the_folder_sorted_and_without_folders() {
        let dir = tempfile::tempdir().unwrap();
        for name in ["b.log", "a.log", "c.txt"] {
            std::fs::write(dir.path().join(name), "x").unwrap();
        }
        std::fs::create_dir(dir.path().join("d.log")).unwrap();
        let files = matching(&params("*.log", dir.path()), "path").unwrap();
        assert_eq!(
            files,
            vec![dir.path().join("a.log"), dir.path().join("b.log")]
        );
    }

    #[test]
    fn a_folder_with_glob_characters_is_taken_literally() {
        let dir = tempfile::tempdir().unwrap();
        let odd = dir.path().join("run[1]");
        std::fs::create_dir(&odd).unwrap();
        std::fs::write(odd.join("a.log"), "x").unwrap();
        assert_eq!(
            matching(&params("*.log", &odd), "path").unwrap(),
            vec![odd.join("a.log")]
        );
    }

    #[test]
    fn no_match_and_a_bad_glob_name_the_parameter() {
        let dir = tempfile::tempdir().unwrap();
        let none = matching(&params("*.nothing", dir.path()), "path").unwrap_err();
        assert_eq!(none.param.as_deref(), Some("path"));
        assert!(
            none.message.contains("no file matches `*.nothing`"),
            "{none}"
        );
        let bad = matching(&params("[a-.log", dir.path()), "path").unwrap_err();
        assert_eq!(bad.param.as_deref(), Some("path"));
        assert!(bad.message.contains("not a valid glob"), "{bad}");
    }
}

#[cfg(test)]
mod globset_tests {
    use super::*;
    use std::collections::BTreeMap;

    fn folder() -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        for name in [
            "photos/a.jpg",
            "photos/b.png",
            "photos/c.gif",
            "photos/2024/d.jpg",
            "photos/2024/deep/e.png",
            "notes/x1.txt",
            "notes/x2.txt",
            "notes/y1.txt",
        ] {
            let path = dir.path().join(name);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(path, "x").unwrap();
        }
        dir
    }

    fn found(dir: &Path, value: toml::Value) -> Vec<String> {
        let mut values = BTreeMap::new();
        values.insert("path".to_string(), value);
        matching(&Params::new(values, dir), "path")
            .unwrap()
            .iter()
            .map(|p| p.strip_prefix(dir).unwrap().display().to_string())
            .collect()
    }

    fn one(dir: &Path, pattern: &str) -> Vec<String> {
        found(dir, toml::Value::String(pattern.into()))
    }

    #[test]
    fn alternatives_classes_and_double_stars() {
        let dir = folder();
        let dir = dir.path();
        assert_eq!(
            one(dir, "photos/*.{jpg,png}"),
            ["photos/a.jpg", "photos/b.png"]
        );
        assert_eq!(
            one(dir, "photos/**/*.{jpg,png}"),
            [
                "photos/2024/d.jpg",
                "photos/2024/deep/e.png",
                "photos/a.jpg",
                "photos/b.png"
            ]
        );
        assert_eq!(
            one(dir, "notes/x[0-9].txt"),
            ["notes/x1.txt", "notes/x2.txt"]
        );
        assert_eq!(one(dir, "*/?1.txt"), ["notes/x1.txt", "notes/y1.txt"]);
        assert_eq!(one(dir, "photos/a.jpg"), ["photos/a.jpg"]);
    }

    #[test]
    fn a_list_keeps_its_order_and_reads_a_file_once() {
        let dir = folder();
        let list = toml::Value::Array(vec![
            "notes/y1.txt".into(),
            "notes/*.txt".into(),
            "photos/c.gif".into(),
        ]);
        assert_eq!(
            found(dir.path(), list),
            [
                "notes/y1.txt",
                "notes/x1.txt",
                "notes/x2.txt",
                "photos/c.gif"
            ]
        );
    }

    #[test]
    fn each_pattern_that_matches_nothing_is_named() {
        let dir = folder();
        let mut values = BTreeMap::new();
        values.insert(
            "path".to_string(),
            toml::Value::Array(vec!["notes/*.txt".into(), "photos/*.tiff".into()]),
        );
        let error = matching(&Params::new(values, dir.path()), "path").unwrap_err();
        assert!(
            error.message.contains("no file matches `photos/*.tiff`"),
            "{error}"
        );
        let each = {
            let mut values = BTreeMap::new();
            values.insert(
                "path".to_string(),
                toml::Value::Array(vec!["notes/*.txt".into(), "photos/*.jpg".into()]),
            );
            matching_each(&Params::new(values, dir.path()), "path").unwrap()
        };
        let counts: Vec<(&str, usize)> = each.iter().map(|(p, f)| (p.as_str(), f.len())).collect();
        assert_eq!(counts, [("notes/*.txt", 3), ("photos/*.jpg", 1)]);
    }
}
