//! `baton ops`: the built-in stages, straight from the registry the parser uses.

use std::process::ExitCode;

use baton_ops::{OpDef, OpKind};

pub(crate) fn ops(name: Option<&str>) -> anyhow::Result<ExitCode> {
    let all = baton_ops::all();
    let chosen: Vec<&OpDef> = match name {
        None => all,
        Some(name) => match baton_ops::find(name) {
            Some(op) => vec![op],
            None => {
                let help = baton_ops::nearest(name, all.iter().map(|op| op.name))
                    .map(|n| format!(" (did you mean `{n}`?)"))
                    .unwrap_or_default();
                let message = format!("no built-in stage is named `{name}`{help}");
                return Err(super::BadArgument(message).into());
            }
        },
    };
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
    }
    Ok(ExitCode::SUCCESS)
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
