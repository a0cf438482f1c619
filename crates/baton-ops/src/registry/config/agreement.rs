//! Each op's config type agrees with its [`OpDef`] table, which is what
//! `baton check` and `baton ops` read: the same parameter names, the same
//! required ones, the same defaults. Checked for every built-in op, from
//! the values of its worked example.

use std::collections::BTreeSet;

use crate::config::*;
use crate::registry::{all, OpConfig, OpDef, OpKind, ParamType, Params, STAGE_KEYS};

/// The parameters the op's example gives its stage.
fn example_params(def: &OpDef) -> toml::Table {
    let file: toml::Table = toml::from_str(def.example()).expect("the example is TOML");
    let stages = file["stage"].as_array().expect("the example has stages");
    let stage = match def.kind {
        OpKind::Source => stages.first(),
        OpKind::Sink => stages.last(),
        OpKind::Transform => stages.iter().find(|s| s["op"].as_str() == Some(def.name)),
    }
    .and_then(|s| s.as_table())
    .unwrap_or_else(|| panic!("the example of `{}` has its stage", def.name));
    stage
        .iter()
        .filter(|(key, _)| !STAGE_KEYS.contains(&key.as_str()))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect()
}

/// A value of the parameter's type (not necessarily one the op accepts).
fn some_value(ty: ParamType) -> toml::Value {
    match ty {
        ParamType::Int => toml::Value::Integer(1),
        ParamType::Float => toml::Value::Float(1.0),
        ParamType::Bool => toml::Value::Boolean(true),
        ParamType::StrList | ParamType::FloatList => toml::Value::Array(Vec::new()),
        ParamType::StrTable => toml::Value::Table(toml::Table::new()),
        _ => toml::Value::String("x".into()),
    }
}

/// What the op named `C::DEF.name` has to agree on; the op's name, for
/// knowing every op was checked.
fn agrees<C: OpConfig>() -> (OpKind, &'static str) {
    let def = C::DEF;
    let name = def.name;
    let given = example_params(def);
    let params = Params::new(given.clone().into_iter().collect(), ".");
    let config: C = params
        .config()
        .unwrap_or_else(|e| panic!("`{name}`: its example's values: {e}"));

    // Written back, the config names only parameters of the table.
    let written = toml::Value::try_from(&config).expect("a config writes as TOML");
    let table_names: BTreeSet<&str> = def.params.iter().map(|p| p.name).collect();
    for key in written.as_table().expect("a table").keys() {
        assert!(
            table_names.contains(key.as_str()),
            "`{name}`: the config has `{key}`, the table has not"
        );
    }

    for param in def.params {
        let mut values: toml::Table = given.clone();
        // A required parameter is required by the config too.
        if param.required {
            values.remove(param.name);
            let error = Params::new(values.into_iter().collect(), ".")
                .config::<C>()
                .expect_err(&format!("`{name}` without `{}`", param.name));
            assert_eq!(
                error.param.as_deref(),
                Some(param.name),
                "`{name}`: {error}"
            );
            continue;
        }
        // A default of the table is the config's default.
        if let (Some(default), false) = (param.default, given.contains_key(param.name)) {
            let value: toml::Table = toml::from_str(&format!("v = {default}")).unwrap();
            values.insert(param.name.to_string(), value["v"].clone());
            let explicit: C = Params::new(values.into_iter().collect(), ".")
                .config()
                .unwrap_or_else(|e| panic!("`{name}` with its default `{}`: {e}", param.name));
            assert_eq!(
                explicit, config,
                "`{name}`: `{} = {default}` is not the config's default",
                param.name
            );
            continue;
        }
        // Every parameter of the table is a field of the config.
        if !given.contains_key(param.name) {
            values.insert(param.name.to_string(), some_value(param.ty));
            if let Err(error) = Params::new(values.into_iter().collect(), ".").config::<C>() {
                assert!(
                    !error.message.contains("unknown field"),
                    "`{name}`: the table's `{}` is no field of the config: {error}",
                    param.name
                );
            }
        }
    }
    (def.kind, name)
}

#[test]
fn every_op_config_agrees_with_its_table_and_every_op_has_one() {
    #[allow(unused_mut)]
    let mut checked = vec![
        agrees::<RangeConfig>(),
        agrees::<FilesSourceConfig>(),
        agrees::<LinesConfig>(),
        agrees::<CsvSourceConfig>(),
        agrees::<JsonlSourceConfig>(),
        agrees::<ArrowSourceConfig>(),
        agrees::<StdinConfig>(),
        agrees::<IdxConfig>(),
        agrees::<JsonParseConfig>(),
        agrees::<PythonConfig>(),
        agrees::<SelectConfig>(),
        agrees::<RenameConfig>(),
        agrees::<HashConfig>(),
        agrees::<CompressConfig>(),
        agrees::<DecompressConfig>(),
        agrees::<BatchConfig>(),
        agrees::<UnbatchConfig>(),
        agrees::<ShuffleConfig>(),
        agrees::<PrefetchConfig>(),
        agrees::<TakeConfig>(),
        agrees::<SkipConfig>(),
        agrees::<RepeatConfig>(),
        agrees::<ExecConfig>(),
        agrees::<DelayConfig>(),
        agrees::<SpinConfig>(),
        agrees::<StdoutConfig>(),
        agrees::<JsonlSinkConfig>(),
        agrees::<ArrowSinkConfig>(),
        agrees::<FilesSinkConfig>(),
        agrees::<DiscardConfig>(),
        agrees::<CountConfig>(),
    ];
    #[cfg(feature = "images")]
    checked.extend([
        agrees::<ImageDecodeConfig>(),
        agrees::<ImageEncodeConfig>(),
        agrees::<ResizeConfig>(),
        agrees::<CropConfig>(),
        agrees::<FlipConfig>(),
        agrees::<NormalizeConfig>(),
        agrees::<ToTensorConfig>(),
    ]);
    #[cfg(feature = "script")]
    checked.extend([agrees::<FilterConfig>(), agrees::<RemapConfig>()]);
    #[cfg(feature = "regex")]
    checked.extend([agrees::<RegexExtractConfig>()]);
    #[cfg(feature = "parquet")]
    checked.extend([
        agrees::<ParquetSourceConfig>(),
        agrees::<ParquetSinkConfig>(),
    ]);
    #[cfg(feature = "csv")]
    checked.extend([agrees::<CsvSinkConfig>()]);
    #[cfg(feature = "tensors")]
    checked.extend([
        agrees::<NpyConfig>(),
        agrees::<SafetensorsConfig>(),
        agrees::<WebdatasetSourceConfig>(),
        agrees::<WebdatasetSinkConfig>(),
    ]);
    let checked: BTreeSet<(String, &str)> = checked
        .into_iter()
        .map(|(kind, name)| (kind.to_string(), name))
        .collect();
    let every: BTreeSet<(String, &str)> = all()
        .into_iter()
        .map(|op| (op.kind.to_string(), op.name))
        .collect();
    let missing: Vec<_> = every.difference(&checked).collect();
    assert!(
        missing.is_empty(),
        "ops with no config checked: {missing:?}"
    );
}
