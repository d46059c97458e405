//! Running SQL: `query` (read-only, always rolled back), `execute` (one write in its own
//! transaction, or a dry run) and `explain` (the plan, with a readable summary).

use std::sync::Arc;

use mcp_core::{Context, ToolError};
use schemars::JsonSchema;
use serde::Deserialize;
use serde_json::Value;

use crate::access::Relations;
use crate::databases::Databases;
use crate::guard::{explained_statement, plan};
use crate::output::Table;
use crate::transaction::{Access, Window, run};

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct QueryArgs {
    /// One reading SQL statement: SELECT, WITH, VALUES, TABLE, SHOW or EXPLAIN. Put
    /// values in `params` and refer to them as $1, $2, ... rather than in the text.
    pub sql: String,
    /// Values for $1, $2, ... in order (JSON numbers, strings, booleans, null, arrays;
    /// timestamps as RFC 3339 strings, bytea as base64).
    #[serde(default)]
    pub params: Vec<Value>,
    /// Which configured database (default: the first).
    pub database: Option<String>,
    /// Rows to skip: to page through a truncated result, pass the `nextOffset` it gave.
    #[serde(default)]
    pub offset: usize,
    /// Most rows to return (at most the server's row limit).
    pub limit: Option<usize>,
}

/// Runs one reading statement in a READ ONLY transaction that is always rolled back.
pub async fn query(dbs: Arc<Databases>, ctx: Context, args: QueryArgs) -> Result<Table, ToolError> {
    let statement = dbs.guard.check_read(&args.sql)?;
    let db = dbs.for_read(args.database.as_deref())?;
    let relations = Relations::of(&ctx)?;
    if relations.restricts() && statement.kind == "explain" {
        return Err(ToolError::refused(
            "EXPLAIN through `query` is not available under this access policy; use the `explain` tool",
        ));
    }
    let settings = &dbs.settings;
    let window = Window {
        offset: args.offset,
        max_rows: args.limit.unwrap_or(settings.max_rows).clamp(1, settings.max_rows),
        max_bytes: settings.max_result_bytes,
        stop_early: true,
    };
    let mut tx = dbs.begin(&ctx, &db, Access::ReadOnly).await?;
    let rows = match statement.kind.as_str() {
        // SHOW has no plan and calls nothing.
        "show" => run(&mut tx, &args.sql, &args.params, window).await?,
        // EXPLAIN ANALYZE runs the statement it explains: that one is checked.
        "explain" => {
            let inner = explained_statement(&args.sql).ok_or_else(|| {
                ToolError::invalid_arguments("`sql`: cannot find the statement this EXPLAIN explains")
            })?;
            plan::check(&mut tx, &dbs.guard, &relations, inner, &args.params).await?;
            run(&mut tx, &args.sql, &args.params, window).await?
        }
        _ => plan::checked_read(&mut tx, &dbs.guard, &db.verdicts, &relations, &args.sql, &args.params, window).await?,
    };
    tx.rollback();
    Ok(Table { database: db.name.clone(), rows, offset: args.offset, rows_affected: None, note: None, user_sql: true })
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ExecuteArgs {
    /// One writing SQL statement (INSERT, UPDATE, DELETE, MERGE; DDL when the server
    /// allows it). Add RETURNING to see the changed rows.
    pub sql: String,
    /// Values for $1, $2, ... in order.
    #[serde(default)]
    pub params: Vec<Value>,
    /// Which configured database (required when several are configured: a change never
    /// lands on a default).
    pub database: Option<String>,
    /// Run it, report what it would change, then roll it back.
    #[serde(default)]
    pub dry_run: bool,
}

/// Runs one write statement in its own transaction, committed unless `dry_run`.
pub async fn execute(dbs: Arc<Databases>, ctx: Context, args: ExecuteArgs) -> Result<Table, ToolError> {
    let (db, mode) = dbs.for_write(args.database.as_deref())?;
    let statement = dbs.guard.check_write(&args.sql, mode)?;
    let relations = Relations::of(&ctx)?;
    let settings = &dbs.settings;
    let mut tx = dbs.begin(&ctx, &db, Access::ReadWrite).await?;
    if matches!(
        statement.kind.as_str(),
        "insert" | "update" | "delete" | "merge" | "with" | "select" | "values" | "table"
    ) {
        plan::check(&mut tx, &dbs.guard, &relations, &args.sql, &args.params).await?;
    } else if relations.restricts() {
        return Err(ToolError::refused(
            "schema changes are not available under an access policy that restricts schemas or tables",
        ));
    } else {
        // DDL: `CREATE TABLE ... AS SELECT` and the like have a plan to check.
        plan::check_if_plannable(&mut tx, &dbs.guard, &relations, &args.sql, &args.params).await?;
    }
    let window =
        Window { offset: 0, max_rows: settings.max_rows, max_bytes: settings.max_result_bytes, stop_early: false };
    let rows = run(&mut tx, &args.sql, &args.params, window).await?;
    let affected = rows.rows_affected;
    let note = if args.dry_run {
        tx.rollback();
        Some(format!("Dry run: the statement ran and would change {affected} row(s); it was rolled back."))
    } else {
        tx.commit().await?;
        None
    };
    Ok(Table { database: db.name.clone(), rows, offset: 0, rows_affected: Some(affected), note, user_sql: true })
}
