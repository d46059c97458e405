//! The boundary: what PostgreSQL resolved a statement to, read from its
//! `EXPLAIN (VERBOSE, FORMAT JSON)` plan, taken in the call's own transaction just
//! before the statement runs (same role, same search path, same parameters).
//!
//! A verbose plan deparses every expression it evaluates, so a function reached through
//! attribute notation (`('/'::text).pg_ls_dir`), Unicode escapes, a view, an inlined SQL
//! function or a set-returning function in FROM appears under its resolved name, called
//! as `name(...)`. Every relation the plan reads or writes appears with its schema. The
//! checks here decide on those names:
//! - no refused function is called;
//! - no system catalog is written (`UPDATE pg_authid ...`, `UPDATE pg_settings ...`,
//!   which a rule turns into `set_config`);
//! - under an access policy with scopes, only allowed relations are read, and nothing
//!   that exposes other relations' contents (planner statistics, raw pages).

use mcp_core::ToolError;
use serde_json::Value;

use super::FunctionGuard;
use super::lexer::{self, Kind};
use crate::access::Relations;
use sqlx::postgres::PgTypeInfo;

use super::verdicts::Verdicts;
use crate::transaction::{Rows, Tx, Window, run, run_declared, run_gated};

/// How the plan is asked for: verbose (every expression deparsed, every relation with its
/// schema), as JSON; without costs, which the checks do not read (a smaller plan to send
/// and parse on every call).
const EXPLAIN: &str = "EXPLAIN (VERBOSE, FORMAT JSON, COSTS OFF)";

/// Schemas whose tables are the server's own: never written through DML.
const SYSTEM_SCHEMAS: &[&str] = &["pg_catalog", "information_schema", "pg_toast"];

/// Catalog tables that hold other tables' contents (most common values, histogram
/// bounds): `pg_stats` and `pg_stats_ext` are views over them. Refused under scopes.
const CONTENT_RELATIONS: &[&str] = &["pg_statistic", "pg_statistic_ext_data"];

/// Functions that read other relations' contents around the scan checks (pageinspect's
/// raw pages). Refused under scopes.
const CONTENT_FUNCTIONS: &[&str] = &["get_raw_page", "heap_page_items", "heap_page_item_attrs", "tuple_data_split"];

/// Takes the plan of `sql` in `tx` and checks it. Returns the plan.
pub async fn check(
    tx: &mut Tx,
    guard: &FunctionGuard,
    relations: &Relations,
    sql: &str,
    params: &[Value],
) -> Result<Value, ToolError> {
    check_declared(tx, guard, relations, sql, params, &[]).await
}

/// A read's statement, checked and run. Under a verdict that still stands (see
/// [`super::verdicts`]) the statement runs alone, in its gate; otherwise its plan is
/// taken and checked first, and a plan that writes and locks nothing is kept as a verdict.
pub async fn checked_read(
    tx: &mut Tx,
    guard: &FunctionGuard,
    verdicts: &Verdicts,
    relations: &Relations,
    sql: &str,
    params: &[Value],
    window: Window,
) -> Result<Rows, ToolError> {
    // Under a policy with scopes the checks depend on the client: taken every time.
    let reusable = !relations.restricts();
    if reusable
        && let Some(gated) = verdicts.gated(tx, sql, params)
        && let Some(rows) = run_gated(tx, &gated.sql, &gated.params, window).await?
    {
        verdicts.answered();
        return Ok(rows);
    }
    let plan = check(tx, guard, relations, sql, params).await?;
    let rows = run(tx, sql, params, window).await?;
    if reusable && reads_only(&plan) {
        verdicts.keep(tx, sql, params);
    }
    Ok(rows)
}

/// Whether a plan neither writes (a data-modifying WITH) nor locks rows (FOR UPDATE).
fn reads_only(plan: &Value) -> bool {
    match plan {
        Value::Object(map) => {
            !matches!(map.get("Node Type").and_then(Value::as_str), Some("ModifyTable" | "LockRows"))
                && map.values().all(reads_only)
        }
        Value::Array(items) => items.iter().all(reads_only),
        _ => true,
    }
}

/// [`check`] with the parameters' types `declared` (an operator's tool), not inferred.
pub async fn check_declared(
    tx: &mut Tx,
    guard: &FunctionGuard,
    relations: &Relations,
    sql: &str,
    params: &[Value],
    declared: &[PgTypeInfo],
) -> Result<Value, ToolError> {
    let explain = format!("{EXPLAIN} {sql}");
    let explained = run_declared(tx, &explain, params, declared, Window::ALL).await?;
    let plan = explained.rows.first().and_then(|row| row.get(0)).cloned().unwrap_or(Value::Null);
    check_plan(&plan, guard, relations).map_err(ToolError::refused)?;
    Ok(plan)
}

/// [`check`] for a statement that may have no plan (DDL, with `--write-mode all`): one
/// that has (`CREATE TABLE ... AS SELECT`) is checked; one whose EXPLAIN fails is left to
/// the text pass. The transaction goes on either way.
pub async fn check_if_plannable(
    tx: &mut Tx,
    guard: &FunctionGuard,
    relations: &Relations,
    sql: &str,
    params: &[Value],
) -> Result<(), ToolError> {
    run(tx, "SAVEPOINT mcp_plan", &[], Window::ALL).await?;
    match run(tx, &format!("{EXPLAIN} {sql}"), params, Window::ALL).await {
        Ok(explained) => {
            let plan = explained.rows.first().and_then(|row| row.get(0)).cloned().unwrap_or(Value::Null);
            check_plan(&plan, guard, relations).map_err(ToolError::refused)?;
            run(tx, "RELEASE SAVEPOINT mcp_plan", &[], Window::ALL).await?;
        }
        Err(_) => {
            run(tx, "ROLLBACK TO SAVEPOINT mcp_plan", &[], Window::ALL).await?;
        }
    }
    Ok(())
}

/// The checks on a plan already taken.
pub fn check_plan(plan: &Value, guard: &FunctionGuard, relations: &Relations) -> Result<(), String> {
    let mut found = Found::default();
    walk(plan, &mut found);
    for name in &found.functions {
        if guard.is_denied(name) {
            return Err(FunctionGuard::refusal(name));
        }
    }
    for (schema, table) in &found.written {
        if SYSTEM_SCHEMAS.contains(&schema.as_str()) {
            return Err(format!(
                "writing to the system catalog {schema}.{table} is refused: catalogs change only through DDL, GRANT \
                 and SET, which this tool does not run as data changes"
            ));
        }
    }
    if !relations.restricts() {
        return Ok(());
    }
    if let Some(name) = found.functions.iter().find(|f| CONTENT_FUNCTIONS.contains(&f.as_str())) {
        return Err(format!(
            "access denied: `{name}` reads tables' raw contents around the access policy's scopes, and is refused \
             under a policy with scopes"
        ));
    }
    for (schema, table) in &found.read {
        if schema == "pg_catalog" && CONTENT_RELATIONS.contains(&table.as_str()) {
            return Err(format!(
                "access denied: {schema}.{table} (behind pg_stats and pg_stats_ext) holds values of every table, and \
                 is refused under an access policy with scopes; describe_table shows what the policy allows"
            ));
        }
        if !relations.table_allowed(schema, table) {
            return Err(format!(
                "access denied: the statement reads {schema}.{table}, which the access policy does not allow this \
                 client to read"
            ));
        }
    }
    Ok(())
}

/// What a plan names.
#[derive(Debug, Default, PartialEq)]
struct Found {
    /// Functions called, unqualified, lower case.
    functions: Vec<String>,
    /// `(schema, relation)` scanned.
    read: Vec<(String, String)>,
    /// `(schema, relation)` a ModifyTable node writes.
    written: Vec<(String, String)>,
}

fn push_unique<T: PartialEq>(list: &mut Vec<T>, item: T) {
    if !list.contains(&item) {
        list.push(item);
    }
}

fn walk(node: &Value, found: &mut Found) {
    match node {
        Value::Object(map) => {
            if let (Some(Value::String(schema)), Some(Value::String(table))) =
                (map.get("Schema"), map.get("Relation Name"))
            {
                let pair = (schema.clone(), table.clone());
                if map.get("Node Type").and_then(Value::as_str) == Some("ModifyTable") {
                    push_unique(&mut found.written, pair);
                } else {
                    push_unique(&mut found.read, pair);
                }
            }
            if let Some(Value::String(name)) = map.get("Function Name") {
                push_unique(&mut found.functions, name.to_lowercase());
            }
            map.values().for_each(|v| walk(v, found));
        }
        Value::Array(items) => items.iter().for_each(|v| walk(v, found)),
        // Any string may hold a deparsed expression (Output, Filter, Sort Key, Function
        // Call, Hash Cond, ...); reading them all leaves no key forgotten. A name that
        // only looks like a call (an alias) can refuse a statement, never let one pass.
        Value::String(text) => called_names(text, &mut found.functions),
        _ => {}
    }
}

/// The names called in a deparsed expression: a name followed by `(`.
fn called_names(text: &str, out: &mut Vec<String>) {
    if !text.contains('(') {
        return;
    }
    let (tokens, _) = lexer::tokens(text);
    for pair in tokens.windows(2) {
        if pair[0].kind == Kind::Ident
            && pair[1].kind == Kind::Punct(b'(')
            && let Some(name) = &pair[0].name
        {
            push_unique(out, name.clone());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn names_are_found_at_every_depth_of_a_plan() {
        let plan = json!([{"Plan": {"Node Type": "ModifyTable", "Schema": "public", "Relation Name": "t",
        "Plans": [{"Node Type": "Hash Join", "Hash Cond": "(a.id = upper(b.x))", "Plans": [
            {"Node Type": "Seq Scan", "Schema": "public", "Relation Name": "a",
             "Output": ["a.id", "pg_catalog.pg_read_file('x'::text)"]},
            {"Node Type": "Function Scan", "Function Name": "pg_ls_dir", "Schema": "pg_catalog",
             "Function Call": "pg_ls_dir('/'::text)"},
            {"Node Type": "Hash", "Plans": [{"Node Type": "Index Scan", "Schema": "secret", "Relation Name": "b",
              "Filter": "(b.note <> 'set_config(x)'::text)"}]}
        ]}]}}]);
        let mut found = Found::default();
        walk(&plan, &mut found);
        assert_eq!(found.written, vec![("public".to_string(), "t".to_string())]);
        assert_eq!(found.read, vec![("public".to_string(), "a".to_string()), ("secret".to_string(), "b".to_string())]);
        // The string constant's text is not a call.
        assert_eq!(found.functions, vec!["upper", "pg_read_file", "pg_ls_dir"]);
        let guard = FunctionGuard::default();
        assert!(check_plan(&plan, &guard, &Relations::default()).expect_err("refused").contains("pg_read_file"));
    }

    #[test]
    fn system_catalogs_are_never_written() {
        let plan = json!([{"Plan": {"Node Type": "ModifyTable", "Operation": "Update", "Schema": "pg_catalog",
            "Relation Name": "pg_authid", "Plans": []}}]);
        let err = check_plan(&plan, &FunctionGuard::default(), &Relations::default()).expect_err("refused");
        assert!(err.contains("pg_catalog.pg_authid"), "{err}");
    }
}
