//! Which files a source reads: a glob, relative to the pipeline file's
//! folder, expanded when the stage is built.

use std::path::{Path, PathBuf};

use crate::registry::{OpError, Params};

/// The files (not folders) matching the glob in the parameter `param`,
/// sorted by path.
///
/// # Errors
///
/// Naming `param`: an invalid glob, a folder that cannot be read, or no
/// file matching at all.
pub(crate) fn matching(params: &Params, param: &str) -> Result<Vec<PathBuf>, OpError> {
    let pattern = Params::need(param, params.str(param)?)?;
    let base = params.base_dir();
    let full = if Path::new(pattern).is_absolute()
        || base.as_os_str().is_empty()
        || base == Path::new(".")
    {
        pattern.to_string()
    } else {
        // The folder is taken literally: a `[` in it is no glob.
        let base = glob::Pattern::escape(&base.to_string_lossy());
        Path::new(&base)
            .join(pattern)
            .to_string_lossy()
            .into_owned()
    };
    let entries = glob::glob(&full)
        .map_err(|e| OpError::param(param, format!("`{pattern}` is not a valid glob: {e}")))?;
    let mut files = Vec::new();
    for entry in entries {
        let path = entry.map_err(|e| {
            OpError::param(
                param,
                format!("cannot read {}: {}", e.path().display(), e.error()),
            )
        })?;
        if path.is_file() {
            files.push(path);
        }
    }
    if files.is_empty() {
        let place = if Path::new(pattern).is_absolute() {
            String::new()
        } else {
            format!(" in {}", base.display())
        };
        return Err(OpError::param(
            param,
            format!("no file matches `{pattern}`{place}"),
        ));
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
        let bad = matching(&params("[a-", dir.path()), "path").unwrap_err();
        assert_eq!(bad.param.as_deref(), Some("path"));
        assert!(bad.message.contains("not a valid glob"), "{bad}");
    }
}
