//! `baton ops`: the built-in stages, straight from the registry the parser uses.

use std::process::ExitCode;

use baton_ops::{OpDef, OpKind, ParamRole, ParamType};

/// How `baton ops` shows the ops.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum Format {
    /// For people: each op, its modes and parameters (and, for one op, a
    /// stage to start from and a worked example pipeline).
    #[default]
    Text,
    /// A JSON array of ops, for editors and scripts.
    Json,
}

pub(crate) fn ops(name: Option<&str>, format: Format) -> anyhow::Result<ExitCode> {
    let all = baton_ops::all();
    let chosen: Vec<&OpDef> = match name {
        None => all,
        Some(name) => {
            // A source and a sink may share a name (`csv`, `files`): both are shown.
            let named: Vec<&OpDef> = all.iter().copied().filter(|op| op.name == name).collect();
            if named.is_empty() {
                let help = baton_ops::nearest(name, all.iter().map(|op| op.name))
                    .map(|n| format!(" (did you mean `{n}`?)"))
                    .unwrap_or_default();
                let message = format!("no built-in stage is named `{name}`{help}");
                return Err(super::BadArgument(message).into());
            }
            named
        }
    };
    if format == Format::Json {
        let ops: Vec<serde_json::Value> = chosen.iter().map(|op| as_json(op)).collect();
        println!("{}", serde_json::to_string_pretty(&ops)?);
        return Ok(ExitCode::SUCCESS);
    }
    let one = name.is_some();
    let mut kind = None;
    for op in chosen {
        if kind != Some(op.kind) {
            kind = Some(op.kind);
            println!(
                "{}",
                match op.kind {
                    OpKind::Source => "SOURCES",
                    OpKind::Transform => "STAGES",
                    OpKind::Sink => "SINKS",
                }
            );
        }
        print!("{}", describe(op));
        if one {
            print!("{}", starting_stage(op));
            print!("{}", worked_example(op));
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// A stage table to start from: the op, its required parameters with a
/// value of their type to replace, its optional ones commented out with
/// their defaults.
fn starting_stage(op: &OpDef) -> String {
    let mut text = String::from("  a stage to start from:\n\n    [[stage]]\n");
    text.push_str(&format!("    op = \"{}\"\n", op.name));
    for param in op.params {
        let placeholder = match param.ty {
            ParamType::Int => param.bounds.map_or(1, |b| b.min.max(1)).to_string(),
            ParamType::Float => "1.0".to_string(),
            ParamType::Bool => "true".to_string(),
            ParamType::StrList | ParamType::FloatList => "[]".to_string(),
            ParamType::StrTable => "{}".to_string(),
            ParamType::Paths if param.role == ParamRole::Input => "\"data/*.csv\"".to_string(),
            _ => "\"...\"".to_string(),
        };
        match (param.required, param.default) {
            (true, _) => text.push_str(&format!(
                "    {} = {placeholder}{}# {}\n",
                param.name,
                " ".repeat(24usize.saturating_sub(param.name.len() + placeholder.len() + 3)),
                param.doc
            )),
            (false, Some(default)) => {
                text.push_str(&format!("    # {} = {default}\n", param.name));
            }
            (false, None) => text.push_str(&format!("    # {} = {placeholder}\n", param.name)),
        }
    }
    text.push('\n');
    text
}

/// The op's worked example, a whole pipeline file. It is printed as it is,
/// not indented, to be copied into a file: an indent would change the text
/// of a multi-line string (an `exec` worker's inline Python).
fn worked_example(op: &OpDef) -> String {
    let example = op.example();
    if example.is_empty() {
        return String::new();
    }
    format!(
        "  an example pipeline (save it as a .toml file and `baton run` it):\n\n{}\n\n",
        example.trim_end()
    )
}

/// An op as JSON: name, kind, summary, modes, every parameter, and its
/// worked example.
fn as_json(op: &OpDef) -> serde_json::Value {
    let params: Vec<serde_json::Value> = op
        .params
        .iter()
        .map(|p| {
            serde_json::json!({
                "name": p.name,
                "type": p.ty.name(),
                "required": p.required,
                "default": p.default,
                "min": p.bounds.map(|b| b.min),
                "max": p.bounds.and_then(|b| (b.max != i64::MAX).then_some(b.max)),
                "doc": p.doc,
                "role": match p.role {
                    ParamRole::Input => "input",
                    ParamRole::Output => "output",
                    ParamRole::OutputFolder => "output_folder",
                    _ => "value",
                },
            })
        })
        .collect();
    serde_json::json!({
        "name": op.name,
        "kind": match op.kind {
            OpKind::Source => "source",
            OpKind::Transform => "stage",
            OpKind::Sink => "sink",
        },
        "summary": op.summary,
        "modes": op.modes.allowed.iter().map(|m| m.as_str()).collect::<Vec<_>>(),
        "default_mode": op.modes.default.as_str(),
        "blocking": op.modes.blocking,
        "params": params,
        "example": op.example(),
    })
}

fn describe(op: &OpDef) -> String {
    let modes: Vec<&str> = op.modes.allowed.iter().map(|m| m.as_str()).collect();
    let mut text = format!(
        "  {:<14} {}\n  {:<14} modes: {} (default {}){}\n",
        op.name,
        op.summary,
        "",
        modes.join(", "),
        op.modes.default.as_str(),
        if op.modes.blocking { "; blocking" } else { "" }
    );
    for param in op.params {
        let need = match (param.required, param.default) {
            (true, _) => "required".to_string(),
            (false, Some(default)) => format!("default {default}"),
            (false, None) => "optional".to_string(),
        };
        text.push_str(&format!(
            "      {:<16} {:<18} {:<16} {}\n",
            param.name,
            param.type_text(),
            need,
            param.doc
        ));
    }
    text.push('\n');
    text
}
