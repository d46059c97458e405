//! `top_queries`: the statements pg_stat_statements ranks highest.

use std::sync::Arc;

use mcp_core::{Context, ToolError};
use schemars::JsonSchema;
use serde::Deserialize;
use serde_json::{Value, json};

use crate::databases::{Database, Databases};
use crate::ident::quote_ident;
use crate::output::Table;
use crate::tools::operations::{query_chars, table, window};
use crate::transaction::{Access, Tx, Window, run};

/// Where pg_stat_statements is, and which columns its version has.
pub(super) struct StatStatements {
    /// The schema of its view, quoted.
    pub(super) view: String,
    /// The `pg_stat_statements_info` view (PG 14+), quoted.
    pub(super) info: Option<String>,
    /// Column names of the time statistics: `*_exec_time` since PG 13, `*_time` before.
    pub(super) total: &'static str,
    pub(super) mean: &'static str,
    pub(super) min: &'static str,
    pub(super) max: &'static str,
    pub(super) stddev: &'static str,
}

/// What to do when pg_stat_statements cannot be read: an error the model can act on.
pub(super) async fn stat_statements(tx: &mut Tx, db: &Database) -> Result<StatStatements, ToolError> {
    let found = run(
        tx,
        "SELECT n.nspname::text, current_setting('shared_preload_libraries') ~ 'pg_stat_statements',
                to_regclass(quote_ident(n.nspname) || '.pg_stat_statements_info') IS NOT NULL,
                EXISTS (SELECT 1 FROM pg_attribute a
                        WHERE a.attrelid = to_regclass(quote_ident(n.nspname) || '.pg_stat_statements')
                          AND a.attname = 'total_exec_time')
         FROM pg_extension e JOIN pg_namespace n ON n.oid = e.extnamespace
         WHERE e.extname = 'pg_stat_statements'",
        &[],
        Window::ALL,
    )
    .await?;
    let Some(Value::Array(row)) = found.rows.first() else {
        let loaded = run(tx, "SELECT current_setting('shared_preload_libraries')", &[], Window::ALL).await?;
        let libraries = loaded.rows.first().and_then(|r| r.get(0)).and_then(Value::as_str).unwrap_or("").to_string();
        return Err(ToolError::failed(if libraries.contains("pg_stat_statements") {
            format!(
                "pg_stat_statements is loaded by the server but not installed in database `{}`: a role allowed to \
                 create extensions must run CREATE EXTENSION pg_stat_statements; statistics then appear here.",
                db.name
            )
        } else {
            format!(
                "pg_stat_statements is not available in database `{}`: add it to shared_preload_libraries in \
                 postgresql.conf (currently {:?}), restart the server, then run CREATE EXTENSION \
                 pg_stat_statements as a role allowed to create extensions. Until then, `active_queries` shows \
                 what runs now.",
                db.name, libraries
            )
        }));
    };
    let schema = quote_ident(row.first().and_then(Value::as_str).unwrap_or("public"));
    if row.get(1) == Some(&Value::Bool(false)) {
        return Err(ToolError::failed(format!(
            "the pg_stat_statements extension is installed in database `{}` but the server does not load its \
             library: add pg_stat_statements to shared_preload_libraries in postgresql.conf and restart the server.",
            db.name
        )));
    }
    let modern = row.get(3) == Some(&Value::Bool(true));
    Ok(StatStatements {
        view: format!("{schema}.pg_stat_statements"),
        info: (row.get(2) == Some(&Value::Bool(true))).then(|| format!("{schema}.pg_stat_statements_info")),
        total: if modern { "total_exec_time" } else { "total_time" },
        mean: if modern { "mean_exec_time" } else { "mean_time" },
        min: if modern { "min_exec_time" } else { "min_time" },
        max: if modern { "max_exec_time" } else { "max_time" },
        stddev: if modern { "stddev_exec_time" } else { "stddev_time" },
    })
}

/// What to rank statements by.
#[derive(Debug, Clone, Copy, Default, Deserialize, JsonSchema, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum SortBy {
    /// Total execution time over all calls: where the server spends its time.
    #[default]
    TotalTime,
    /// Mean execution time per call: the slowest statements.
    MeanTime,
    /// Number of calls.
    Calls,
    /// Rows returned or affected, in total.
    Rows,
    /// Shared blocks read from disk (not found in the buffer cache): I/O-heavy statements.
    SharedBlksRead,
}

impl SortBy {
    fn column(self) -> &'static str {
        match self {
            SortBy::TotalTime => "total_time",
            SortBy::MeanTime => "mean_time",
            SortBy::Calls => "calls",
            SortBy::Rows => "rows",
            SortBy::SharedBlksRead => "shared_blks_read",
        }
    }
}

mcp_core::tool_args! {
    database: "Which configured database (default: the first).";
    pub struct TopQueriesArgs {
        /// What to rank by: total_time (default), mean_time, calls, rows, shared_blks_read.
        #[serde(default)]
        pub sort_by: SortBy,
        /// Only statements called at least this many times (default 1).
        pub min_calls: Option<i64>,
        /// Include statements of every database on the server, not only this one.
        #[serde(default)]
        pub all_databases: bool,
        /// Longest query text to show, in characters (default 500, at most 20000).
        pub query_chars: Option<usize>,
        /// Most statements to return (default 10).
        pub limit: Option<usize>,
        /// Statements to skip: pass the `nextOffset` of a truncated result.
        #[serde(default)]
        pub offset: usize,
    }
}

/// Ranks statements from pg_stat_statements.
pub async fn top_queries(dbs: Arc<Databases>, ctx: Context, args: TopQueriesArgs) -> Result<Table, ToolError> {
    let chars = query_chars(args.query_chars)?;
    let min_calls = args.min_calls.unwrap_or(1);
    if min_calls < 0 {
        return Err(ToolError::invalid_arguments("`min_calls`: expected a number ≥ 0"));
    }
    let db = dbs.for_read(args.database.as_deref())?;
    let window = window(&dbs, args.offset, args.limit, 10)?;
    let mut tx = dbs.begin(&ctx, &db, Access::ReadOnly).await?;
    let pss = stat_statements(&mut tx, &db).await?;
    // Only catalog-derived names and fixed column names are formatted in; user values are bound.
    let sql = format!(
        "WITH s AS (
           SELECT s.userid, s.dbid, s.queryid, s.query, s.calls, s.rows,
                  s.{total} AS total_time, s.{mean} AS mean_time, s.{min} AS min_time, s.{max} AS max_time,
                  s.{stddev} AS stddev_time, s.shared_blks_hit, s.shared_blks_read, s.temp_blks_written
           FROM {view} s
           WHERE $2 OR s.dbid = (SELECT oid FROM pg_database WHERE datname = current_database())
         ), total AS (SELECT sum(total_time) AS t FROM s)
         SELECT s.queryid::text AS queryid,
                r.rolname::text AS \"user\",
                d.datname::text AS database_name,
                s.calls,
                round(s.total_time::numeric, 2)::float8 AS total_ms,
                round(s.mean_time::numeric, 3)::float8 AS mean_ms,
                round(s.min_time::numeric, 3)::float8 AS min_ms,
                round(s.max_time::numeric, 3)::float8 AS max_ms,
                round(s.stddev_time::numeric, 3)::float8 AS stddev_ms,
                s.rows,
                round(s.rows::numeric / NULLIF(s.calls, 0), 1)::float8 AS rows_per_call,
                round((100 * s.total_time / NULLIF(total.t, 0))::numeric, 1)::float8 AS percent_of_total_time,
                round(100.0 * s.shared_blks_hit / NULLIF(s.shared_blks_hit + s.shared_blks_read, 0), 1)::float8
                  AS cache_hit_percent,
                s.shared_blks_read,
                s.temp_blks_written,
                left(s.query, $3) AS query
         FROM s CROSS JOIN total
         LEFT JOIN pg_roles r ON r.oid = s.userid
         LEFT JOIN pg_database d ON d.oid = s.dbid
         WHERE s.calls >= $1
         ORDER BY s.{sort} DESC NULLS LAST, s.queryid",
        total = pss.total,
        mean = pss.mean,
        min = pss.min,
        max = pss.max,
        stddev = pss.stddev,
        view = pss.view,
        sort = args.sort_by.column(),
    );
    // Whether the server loads the library was checked on its own setting (`stat_statements`).
    let rows = run(&mut tx, &sql, &[json!(min_calls), json!(args.all_databases), json!(chars)], window).await?;
    let mut note = format!("Times in milliseconds, sorted by {} (highest first).", args.sort_by.column());
    // Read after a possibly cut result: the transaction stays usable (see `run`).
    if let Some(info) = &pss.info {
        let stats = run(&mut tx, &format!("SELECT stats_reset::text, dealloc FROM {info}"), &[], Window::ALL).await?;
        if let Some(Value::Array(r)) = stats.rows.first() {
            if let Some(since) = r.first().and_then(Value::as_str) {
                note.push_str(&format!(" Statistics since {since}."));
            }
            if let Some(n) = r.get(1).and_then(Value::as_i64).filter(|n| *n > 0) {
                note.push_str(&format!(
                    " {n} statement(s) were evicted for lack of room (raise pg_stat_statements.max to keep more)."
                ));
            }
        }
    }
    if rows.rows.is_empty() && args.offset == 0 {
        note.push_str(" No statement recorded yet (or none with min_calls); statistics accumulate as queries run.");
    }
    tx.rollback();
    Ok(table(&db, rows, args.offset, Some(note)))
}
