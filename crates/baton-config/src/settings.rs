//! `--set STAGE.KEY=VALUE`: any key of any stage, set as if it were written
//! in the file. The setting is written into the file's text (the value
//! replaced, or a line added to the stage's table) before the text is
//! read, so it is checked exactly as the file is: its type, its bounds, an
//! unknown key with the key meant, all located in the text as set.

use std::collections::HashSet;
use std::str::FromStr;

use toml::de::DeTable;

use crate::reader::did_you_mean;
use crate::stage::free_name;

/// One `STAGE.KEY=VALUE`. The value is TOML (`8`, `true`, `["a", "b"]`,
/// `"text"`); anything that is not is taken as a string, so
/// `read.path=data/*.csv` needs no quotes.
///
/// # Examples
///
/// ```
/// use baton_config::Setting;
/// let setting: Setting = "read.path=data/*.csv".parse().unwrap();
/// assert_eq!((setting.stage.as_str(), setting.key.as_str()), ("read", "path"));
/// assert_eq!(setting.toml_value(), "\"data/*.csv\"");
/// let replicas: Setting = "parse.replicas=8".parse().unwrap();
/// assert_eq!(replicas.toml_value(), "8");
/// assert!("no-equals-sign".parse::<Setting>().is_err());
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Setting {
    /// The stage's name (its `name`, else its op's name, `-2` ... for the
    /// second and later unnamed stages of one op).
    pub stage: String,
    /// The key in its table.
    pub key: String,
    /// The value as given.
    pub value: String,
}

/// A `--set` that cannot be applied.
///
/// # Examples
///
/// ```
/// let error = "x".parse::<baton_config::Setting>().unwrap_err();
/// assert!(error.to_string().contains("STAGE.KEY=VALUE"));
/// ```
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SettingError {
    /// Not `STAGE.KEY=VALUE`.
    #[error("--set {0}: write STAGE.KEY=VALUE, as in `--set read.path=data/*.csv`")]
    Malformed(String),
    /// No stage has that name.
    #[error("--set {text}: no stage is named `{stage}`{}", help.as_ref().map(|h| format!(" ({h})")).unwrap_or_default())]
    UnknownStage {
        /// The setting as given.
        text: String,
        /// The stage it names.
        stage: String,
        /// The name meant, if one is near.
        help: Option<String>,
    },
}

impl FromStr for Setting {
    type Err = SettingError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let malformed = || SettingError::Malformed(text.to_string());
        let (place, value) = text.split_once('=').ok_or_else(malformed)?;
        let (stage, key) = place.trim().rsplit_once('.').ok_or_else(malformed)?;
        if stage.is_empty() || key.is_empty() {
            return Err(malformed());
        }
        Ok(Self {
            stage: stage.to_string(),
            key: key.to_string(),
            value: value.trim().to_string(),
        })
    }
}

impl Setting {
    /// The value as TOML: as given when it is a TOML value, else a string.
    ///
    /// # Examples
    ///
    /// See [`Setting`].
    pub fn toml_value(&self) -> String {
        let is_toml = format!("v = {}", self.value).parse::<toml::Table>().is_ok();
        if is_toml {
            self.value.clone()
        } else {
            toml::Value::String(self.value.clone()).to_string()
        }
    }
}

/// A stage's name, as the reader will name it, with its entries' keys and
/// value spans, and where its last line ends.
struct StageSpans {
    name: String,
    entries: Vec<(String, std::ops::Range<usize>)>,
    line_end: usize,
}

/// `text` with every setting written into its stage's table.
pub(crate) fn apply(text: &str, settings: &[Setting]) -> Result<String, SettingError> {
    if settings.is_empty() {
        return Ok(text.to_string());
    }
    // A text that is no TOML is left for the reader to say so.
    let Ok(root) = DeTable::parse(text) else {
        return Ok(text.to_string());
    };
    let mut stages: Vec<StageSpans> = Vec::new();
    let mut names = HashSet::new();
    if let Some(list) = root
        .get_ref()
        .get("stage")
        .and_then(|s| s.get_ref().as_array())
    {
        for table in list.iter().filter_map(|t| t.get_ref().as_table()) {
            let entries: Vec<(String, std::ops::Range<usize>)> = table
                .iter()
                .map(|(k, v)| (k.get_ref().to_string(), v.span()))
                .collect();
            let text_of = |key: &str| {
                table
                    .iter()
                    .find(|(k, _)| k.get_ref() == key)
                    .and_then(|(_, v)| v.get_ref().as_str().map(str::to_string))
            };
            let name = match text_of("name").filter(|n| !n.trim().is_empty()) {
                Some(name) => name,
                None => free_name(&text_of("op").unwrap_or_default(), &names),
            };
            names.insert(name.clone());
            let last = entries.iter().map(|(_, span)| span.end).max().unwrap_or(0);
            let line_end = text[last..].find('\n').map_or(text.len(), |i| last + i);
            stages.push(StageSpans {
                name,
                entries,
                line_end,
            });
        }
    }
    // A later setting of a key wins over an earlier one.
    let mut last = Vec::new();
    for (i, setting) in settings.iter().enumerate() {
        let later = settings[i + 1..]
            .iter()
            .any(|s| s.stage == setting.stage && s.key == setting.key);
        if !later {
            last.push(setting);
        }
    }
    // Edits as (at, length replaced, new text), applied from the end.
    let mut edits = Vec::new();
    for setting in last {
        let Some(StageSpans {
            entries, line_end, ..
        }) = stages.iter().find(|stage| stage.name == setting.stage)
        else {
            return Err(SettingError::UnknownStage {
                text: format!("{}.{}={}", setting.stage, setting.key, setting.value),
                stage: setting.stage.clone(),
                help: did_you_mean(&setting.stage, stages.iter().map(|s| s.name.as_str())),
            });
        };
        let value = setting.toml_value();
        match entries.iter().find(|(key, _)| *key == setting.key) {
            Some((_, span)) => edits.push((span.start, span.len(), value)),
            None => {
                let bare = setting
                    .key
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
                let key = if bare {
                    setting.key.clone()
                } else {
                    toml::Value::String(setting.key.clone()).to_string()
                };
                edits.push((*line_end, 0, format!("\n{key} = {value}")));
            }
        }
    }
    // From the end, so that every place stays where it was found; lines
    // added at one place keep the settings' order.
    let mut text = text.to_string();
    let mut order: Vec<usize> = (0..edits.len()).collect();
    order.sort_by_key(|&i| (std::cmp::Reverse(edits[i].0), std::cmp::Reverse(i)));
    for i in order {
        let (at, len, new) = &edits[i];
        text.replace_range(*at..*at + *len, new);
    }
    Ok(text)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set(text: &str, settings: &[&str]) -> Result<String, SettingError> {
        let settings: Vec<Setting> = settings.iter().map(|s| s.parse().unwrap()).collect();
        apply(text, &settings)
    }

    const FILE: &str = "[[stage]]\nname = \"read\"\nop = \"range\"\nend = 10\n\n[[stage]]\nop = \"filter\"\nexpr = \"value > 1\"\n\n[[stage]]\nop = \"filter\"\nexpr = \"value > 2\"\n\n[[stage]]\nop = \"discard\"\n";

    #[test]
    fn a_value_is_replaced_where_it_stands() {
        let text = set(FILE, &["read.end=20", "filter-2.expr=value > 5"]).unwrap();
        assert!(text.contains("end = 20\n"), "{text}");
        assert!(text.contains("expr = \"value > 1\""), "{text}");
        assert!(text.contains("expr = \"value > 5\""), "{text}");
    }

    #[test]
    fn a_key_not_written_is_added_to_its_stage() {
        let text = set(FILE, &["filter.replicas=4", "filter.mode=parallel"]).unwrap();
        assert!(
            text.contains("expr = \"value > 1\"\nreplicas = 4\nmode = \"parallel\"\n"),
            "{text}"
        );
    }

    #[test]
    fn the_last_setting_of_a_key_wins() {
        let text = set(FILE, &["read.end=20", "read.end=30"]).unwrap();
        assert!(
            text.contains("end = 30\n") && !text.contains("end = 20"),
            "{text}"
        );
        let text = set(FILE, &["read.step=2", "read.step=3"]).unwrap();
        assert!(
            text.contains("step = 3\n") && !text.contains("step = 2"),
            "{text}"
        );
    }

    #[test]
    fn an_unknown_stage_names_the_one_meant() {
        let error = set(FILE, &["raed.end=20"]).unwrap_err();
        assert_eq!(
            error.to_string(),
            "--set raed.end=20: no stage is named `raed` (did you mean `read`?)"
        );
    }
}
