//! Work pushed down into the source: a `parquet` or `csv` source followed
//! directly by `select` and `filter` stages decodes only the columns they
//! can use (its `columns`), and a `parquet` source skips the row groups
//! whose statistics prove a filter false for every row (its `where`). The
//! stages stay where they are and do the exact work, so the rows that come
//! out are the same; the source only reads less. (One difference, as in
//! DuckDB and polars: a CSV value of a column that is not decoded is not
//! checked against its type either, so a row is no longer rejected for a
//! bad value in a column the pipeline drops.) Each change is noted on the
//! source's stage, for `baton run --dry-run`.
//!
//! Only what is provably safe is pushed: the run of `select`/`filter`
//! stages right after the source, up to the first other stage (a `rename`
//! or a `map` would change what the names mean). A projection needs a
//! `select`, and every `filter` before it compiled (so that its fields are
//! known, and kept); a `filter` is pushed when it compiles and every field
//! it reads is still the source's own at that point. What the file already
//! sets is kept: `columns` is never replaced, `where` is joined with `&&`.

use baton_records::Predicate;

use crate::plan::Plan;

/// The sources that take pushed-down work.
const SOURCES: &[&str] = &["parquet", "csv"];

/// The sources that also take a pushed-down `where` (row groups skipped
/// by their statistics).
const WHERE_SOURCES: &[&str] = &["parquet"];

/// Pushes what it can of the stages after the source into it.
pub(crate) fn push_down(plan: &mut Plan) {
    let Some((source, rest)) = plan.stages.split_first_mut() else {
        return;
    };
    if source.op.kind != baton_ops::OpKind::Source || !SOURCES.contains(&source.op.name) {
        return;
    }
    // The fields the stages so far leave (None: all of the source's).
    let mut available: Option<Vec<String>> = None;
    // Fields the filters before the first select read.
    let mut needed: Vec<String> = Vec::new();
    let mut projection: Option<(Vec<String>, String)> = None;
    let mut projection_blocked = false;
    let mut conditions: Vec<(String, String)> = Vec::new();
    for stage in rest.iter() {
        if stage.op.kind != baton_ops::OpKind::Transform {
            break;
        }
        match stage.op.name {
            "filter" => {
                let Ok(Some(expr)) = stage.params.str("expr") else {
                    break;
                };
                let Ok(predicate) = Predicate::compile(expr) else {
                    projection_blocked |= projection.is_none();
                    continue;
                };
                let fields = predicate.fields();
                let own = available.as_ref().map_or(true, |kept| {
                    fields.iter().all(|f| kept.iter().any(|k| k == f))
                });
                if own {
                    conditions.push((expr.to_string(), stage.name.clone()));
                }
                if projection.is_none() {
                    needed.extend(fields.into_iter().map(str::to_string));
                }
            }
            "select" => {
                let Ok(Some(fields)) = stage.params.str_list("fields") else {
                    break;
                };
                if projection.is_none() && !projection_blocked {
                    let mut columns = fields.clone();
                    for field in &needed {
                        if !columns.contains(field) {
                            columns.push(field.clone());
                        }
                    }
                    projection = Some((columns, stage.name.clone()));
                }
                available = Some(match available {
                    None => fields,
                    Some(kept) => fields.into_iter().filter(|f| kept.contains(f)).collect(),
                });
            }
            _ => break,
        }
    }
    if let Some((columns, from)) = projection {
        if source.params.raw("columns").is_none() {
            let list = columns.iter().cloned().map(toml::Value::String).collect();
            source.params.set("columns", toml::Value::Array(list));
            // A field the select does not find is skipped there, not an error.
            source
                .params
                .set("columns_optional", toml::Value::Boolean(true));
            source.notes.push(format!(
                "`columns` pushed down from `{from}`: only {} decoded",
                columns.join(", ")
            ));
        }
    }
    if !conditions.is_empty() && WHERE_SOURCES.contains(&source.op.name) {
        let mut parts: Vec<String> = Vec::new();
        if let Ok(Some(own)) = source.params.str("where") {
            parts.push(format!("({own})"));
        }
        parts.extend(conditions.iter().map(|(expr, _)| format!("({expr})")));
        source
            .params
            .set("where", toml::Value::String(parts.join(" && ")));
        let from: Vec<String> = conditions
            .iter()
            .map(|(_, name)| format!("`{name}`"))
            .collect();
        source.notes.push(format!(
            "`where` pushed down from {}: row groups in which no row can match are skipped",
            from.join(", ")
        ));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plan(stages: &str) -> Plan {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("a.parquet"), "").unwrap();
        let text = format!(
            "[[stage]]\nop = \"parquet\"\npath = \"a.parquet\"\n\n{stages}\n[[stage]]\nop = \"discard\"\n"
        );
        Plan::parse(&dir.path().join("p.toml"), &text).unwrap()
    }

    fn source_param(plan: &Plan, name: &str) -> Option<String> {
        plan.stages[0].params.raw(name).map(ToString::to_string)
    }

    #[test]
    fn a_filter_then_a_select_give_where_and_the_columns_both_need() {
        let plan = plan(
            "[[stage]]\nop = \"filter\"\nexpr = \"origin == \\\"JFK\\\" && delay > 60\"\n\n[[stage]]\nop = \"select\"\nfields = [\"flight\", \"delay\"]\n",
        );
        assert_eq!(
            source_param(&plan, "columns").as_deref(),
            Some(r#"["flight", "delay", "origin"]"#)
        );
        assert_eq!(
            plan.stages[0].params.str("where").unwrap(),
            Some(r#"(origin == "JFK" && delay > 60)"#)
        );
        assert_eq!(plan.stages[0].notes.len(), 2);
    }

    #[test]
    fn a_filter_after_a_select_is_pushed_only_on_kept_fields() {
        let plan = plan(
            "[[stage]]\nop = \"select\"\nfields = [\"a\"]\n\n[[stage]]\nop = \"filter\"\nexpr = \"b > 1\"\n\n[[stage]]\nop = \"filter\"\nexpr = \"a > 1\"\n",
        );
        assert_eq!(source_param(&plan, "columns").as_deref(), Some(r#"["a"]"#));
        assert_eq!(plan.stages[0].params.str("where").unwrap(), Some("(a > 1)"));
    }

    #[test]
    fn an_uncompiled_filter_blocks_the_projection_and_another_stage_ends_the_run() {
        let plan = plan(
            "[[stage]]\nop = \"filter\"\nexpr = \"record.len() > 1\"\n\n[[stage]]\nop = \"select\"\nfields = [\"a\"]\n",
        );
        assert_eq!(source_param(&plan, "columns"), None);
        assert_eq!(source_param(&plan, "where"), None);
        let plan = plan_with_rename();
        assert_eq!(source_param(&plan, "columns"), None);
        assert!(plan.stages[0].notes.is_empty());
    }

    fn plan_with_rename() -> Plan {
        plan("[[stage]]\nop = \"rename\"\nfields = { a = \"b\" }\n\n[[stage]]\nop = \"select\"\nfields = [\"b\"]\n")
    }
}
