//! `baton explain FILE`: the plan as it would run (every stage's mode,
//! replicas, thread, buffer and error policy), the bounds that keep its
//! memory flat, and what order each stage sees, with the reason.

use std::path::Path;
use std::process::ExitCode;

use baton_config::{Placement, Plan};
use baton_engine::ModeKind;
use baton_ops::OpKind;

pub(crate) fn explain(file: &Path) -> anyhow::Result<ExitCode> {
    let built = match super::read_plan(file).and_then(Plan::build) {
        Ok(built) => built,
        Err(problems) => {
            eprint!("{problems}");
            return Ok(ExitCode::from(super::BAD_FILE));
        }
    };
    print!("{}", explanation(&built.plan));
    Ok(ExitCode::SUCCESS)
}

fn explanation(plan: &Plan) -> String {
    let mut text = super::run::describe_plan(plan, None, None);
    text.push_str("\nbounds:\n");
    text.push_str(&format!(
        "  at most {} items between the source and the sink at once ({}); a source waits when they are there\n",
        plan.max_in_flight.unwrap_or(1 << 17),
        if plan.max_in_flight.is_some() {
            "[pipeline] max_in_flight"
        } else {
            "the default; `[pipeline] max_in_flight` sets it"
        }
    ));
    for stage in plan.stages.iter().filter(|s| s.buffer.is_some()) {
        text.push_str(&format!(
            "  at most about {} items queued in front of `{}` (its buffer)\n",
            stage.buffer.unwrap_or_default(),
            stage.name
        ));
    }
    text.push_str(
        "  chunks sized by the engine to about 100 µs of work each (at most 16,384 items)\n",
    );
    text.push_str("\norder:\n");
    let mut lost_at: Option<&str> = None;
    for stage in &plan.stages {
        let seen = match (stage.op.kind, lost_at) {
            (OpKind::Source, _) => "makes the items, numbered in source order".to_string(),
            (_, None) if stage.loses_order() => {
                "combines items as they come (mode serial): from here on, arrival order"
                    .to_string()
            }
            (_, Some(culprit)) => format!(
                "arrival order: `{culprit}` before it combined items as they came (mode serial)"
            ),
            (_, None) => match stage.mode {
                ModeKind::SerialInOrder => {
                    "source order, one at a time: the engine puts items back in sequence before it, whatever ran in parallel earlier".to_string()
                }
                ModeKind::Serial => {
                    "one at a time as they come (mode serial); it hands them on in sequence".to_string()
                }
                _ => {
                    "any order, its replicas at once; the stream is not reordered, a later in-order stage gets source order back".to_string()
                }
            },
        };
        let remote = if stage.placement == Placement::Remote {
            " [remote: on workers with --nats, order restored by the driver]"
        } else {
            ""
        };
        text.push_str(&format!("  {:<14} {seen}{remote}\n", stage.name));
        if lost_at.is_none() && stage.loses_order() {
            lost_at = Some(stage.name.as_str());
        }
    }
    let sink = plan.stages.last().map(|s| s.name.as_str()).unwrap_or("");
    text.push_str(&match lost_at {
        None => format!("  so `{sink}` writes in source order.\n"),
        Some(culprit) => format!(
            "  so `{sink}` writes in arrival order from `{culprit}` on; make `{culprit}` serial_in_order to keep source order.\n"
        ),
    });
    text
}
