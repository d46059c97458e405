//! Performance: `top_queries` (pg_stat_statements), `database_health` (PgHero-style
//! checks, each with a status) and `index_advice` (candidate indexes read from the plans,
//! verified with HypoPG hypothetical indexes when available, heuristics otherwise).
//!
//! Everything runs in READ ONLY transactions. Hypothetical indexes and prepared
//! statements live in the session, not the transaction: `index_advice` removes them
//! before the connection goes back to the pool, and closes the connection when it cannot.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use mcp_core::protocol::CallToolResult;
use mcp_core::server::{IntoToolResult, ServerBuilder, schema_of};
use mcp_core::{Context, ToolError};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};
use sqlx::Executor as _;

use super::operations::{query_chars, table, window};
use crate::access::Relations;
use crate::databases::{Database, Databases};
use crate::ident::quote_ident;
use crate::output::Table;
use crate::transaction::{Access, Rows, Tx, Window, run};
use mcp_core::tool_with;

/// Adds this area's tools.
pub fn register(builder: ServerBuilder, dbs: &Arc<Databases>) -> ServerBuilder {
    builder
        .tool(
            tool_with("top_queries", dbs, top_queries)
                .title("Most expensive queries (pg_stat_statements)")
                .description(
                    "Ranks normalized statements from pg_stat_statements by `sort_by`: total_time (default: where \
                     the server spends its time), mean_time (slowest per call), calls, rows or shared_blks_read \
                     (disk reads). Shows calls, total/mean/min/max/stddev ms, rows, share of all time, buffer cache \
                     hit %, temp blocks and the query text. Needs the pg_stat_statements extension; if it is \
                     missing, the error says how to enable it. Feed slow ones to `explain` or `index_advice`.",
                )
                .read_only()
                .toolset("performance"),
        )
        .tool(
            tool_with("database_health", dbs, database_health)
                .title("Database health checks")
                .description(
                    "Runs PgHero-style checks and reports each as ok / warning / critical (unknown if it could not \
                     run) with a one-line summary, an explanation and the offending objects (with the SQL to fix \
                     them where there is one): connections, cache_hit, table_bloat, vacuum, wraparound, sequences, \
                     long_running_queries, blocked_queries, unused_indexes, duplicate_indexes, invalid_indexes, \
                     invalid_constraints, replication. `checks` runs a subset.",
                )
                .read_only()
                .toolset("performance"),
        )
        .tool(
            tool_with("index_advice", dbs, index_advice)
                .title("Index recommendations")
                .description(
                    "Proposes indexes for up to 10 queries (or, with `workload`, the top queries of \
                     pg_stat_statements): candidates come from the plans (filtered sequential scans, join keys, \
                     sort keys, filters applied after an index). With the hypopg extension each candidate is \
                     created hypothetically, the queries re-planned and only indexes that cut the cost by at least \
                     `min_improvement_percent` are recommended, chosen greedily, with cost before/after and the \
                     CREATE INDEX statement. Without hypopg the candidates are reported as unverified heuristics. \
                     Nothing is built and the queries are never run.",
                )
                .read_only()
                .toolset("performance"),
        )
}

// ---------------------------------------------------------------------------------------
// pg_stat_statements

/// Where pg_stat_statements is, and which columns its version has.
struct StatStatements {
    /// The schema of its view, quoted.
    view: String,
    /// The `pg_stat_statements_info` view (PG 14+), quoted.
    info: Option<String>,
    /// Column names of the time statistics: `*_exec_time` since PG 13, `*_time` before.
    total: &'static str,
    mean: &'static str,
    min: &'static str,
    max: &'static str,
    stddev: &'static str,
}

/// What to do when pg_stat_statements cannot be read: an error the model can act on.
async fn stat_statements(tx: &mut Tx, db: &Database) -> Result<StatStatements, ToolError> {
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

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TopQueriesArgs {
    /// Which configured database (default: the first).
    #[serde(default)]
    pub database: Option<String>,
    /// What to rank by: total_time (default), mean_time, calls, rows, shared_blks_read.
    #[serde(default)]
    pub sort_by: SortBy,
    /// Only statements called at least this many times (default 1).
    #[serde(default)]
    pub min_calls: Option<i64>,
    /// Include statements of every database on the server, not only this one.
    #[serde(default)]
    pub all_databases: bool,
    /// Longest query text to show, in characters (default 500, at most 20000).
    #[serde(default)]
    pub query_chars: Option<usize>,
    /// Most statements to return (default 10).
    #[serde(default)]
    pub limit: Option<usize>,
    /// Statements to skip: pass the `nextOffset` of a truncated result.
    #[serde(default)]
    pub offset: usize,
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
    let rows = run(&mut tx, &sql, &[json!(min_calls), json!(args.all_databases), json!(chars)], window).await.map_err(
        |e| match e {
            ToolError::Failed(m) if m.contains("shared_preload_libraries") => ToolError::failed(format!(
                "{m}\npg_stat_statements must be in shared_preload_libraries (postgresql.conf) and the server \
                 restarted before it collects statistics."
            )),
            other => other,
        },
    )?;
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
    tx.rollback().await?;
    Ok(table(&db, rows, args.offset, Some(note)))
}

// ---------------------------------------------------------------------------------------
// database_health

/// One health check.
#[derive(Debug, Clone, Copy, Deserialize, Serialize, JsonSchema, PartialEq, Eq, PartialOrd, Ord)]
#[serde(rename_all = "snake_case")]
pub enum Check {
    /// Connections in use against max_connections.
    Connections,
    /// Share of table and index reads served from shared buffers.
    CacheHit,
    /// Tables much larger than their live rows need (estimate from statistics).
    TableBloat,
    /// Dead rows VACUUM has not removed; tables never or long not analyzed.
    Vacuum,
    /// Transaction ID age towards wraparound, per database.
    Wraparound,
    /// Sequences (and the columns they feed) close to their maximum.
    Sequences,
    /// Queries running, or transactions idle, longer than `long_running_seconds`.
    LongRunningQueries,
    /// Sessions waiting on locks held by others.
    BlockedQueries,
    /// Indexes never scanned since statistics were reset (not unique, not constraints).
    UnusedIndexes,
    /// Indexes whose columns lead another index on the same table.
    DuplicateIndexes,
    /// Indexes left invalid (a failed CREATE INDEX CONCURRENTLY).
    InvalidIndexes,
    /// Constraints added NOT VALID and never validated.
    InvalidConstraints,
    /// Standby lag and replication slots (inactive slots retain WAL).
    Replication,
    /// Whether the role the connector acts as can reach past the guards: superuser,
    /// or a member of pg_read_server_files, pg_write_server_files,
    /// pg_execute_server_program.
    RolePrivileges,
}

const ALL_CHECKS: [Check; 14] = [
    Check::Connections,
    Check::CacheHit,
    Check::TableBloat,
    Check::Vacuum,
    Check::Wraparound,
    Check::Sequences,
    Check::LongRunningQueries,
    Check::BlockedQueries,
    Check::UnusedIndexes,
    Check::DuplicateIndexes,
    Check::InvalidIndexes,
    Check::InvalidConstraints,
    Check::Replication,
    Check::RolePrivileges,
];

impl Check {
    fn name(self) -> String {
        serde_json::to_value(self).ok().and_then(|v| v.as_str().map(str::to_string)).unwrap_or_default()
    }
}

/// How a check came out.
#[derive(Debug, Clone, Copy, Serialize, JsonSchema, PartialEq, Eq, PartialOrd, Ord)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Critical,
    Warning,
    Unknown,
    Ok,
}

impl Status {
    fn label(self) -> &'static str {
        match self {
            Status::Critical => "CRITICAL",
            Status::Warning => "WARNING",
            Status::Unknown => "UNKNOWN",
            Status::Ok => "OK",
        }
    }
}

/// One check's result.
#[derive(Debug, Serialize, JsonSchema)]
pub struct CheckResult {
    /// The check's name.
    check: Check,
    /// ok, warning, critical, or unknown when the check could not run.
    status: Status,
    /// One line: what was found.
    summary: String,
    /// What the check measures, its thresholds, and what to do.
    explanation: String,
    /// The objects or metrics behind the status (at most `limit`), each with a `severity`.
    findings: Vec<Map<String, Value>>,
    /// Findings there were in all, before `limit`.
    total_findings: usize,
}

/// The health report.
#[derive(Debug, Serialize, JsonSchema)]
pub struct HealthReport {
    /// The configured database checked.
    database: String,
    /// The server's version.
    server_version: String,
    /// How many checks came out at each status.
    counts: BTreeMap<String, usize>,
    /// The checks, worst first.
    checks: Vec<CheckResult>,
}

impl IntoToolResult for HealthReport {
    fn into_tool_result(self) -> CallToolResult {
        let mut text = format!(
            "Health of database `{}` (PostgreSQL {}): {}\n",
            self.database,
            self.server_version,
            ["critical", "warning", "unknown", "ok"]
                .iter()
                .map(|s| format!("{} {s}", self.counts.get(*s).copied().unwrap_or(0)))
                .collect::<Vec<_>>()
                .join(", ")
        );
        for c in &self.checks {
            text.push_str(&format!("{:<8} {}: {}\n", c.status.label(), c.check.name(), c.summary));
        }
        for c in self.checks.iter().filter(|c| c.status != Status::Ok || !c.findings.is_empty()) {
            if c.findings.is_empty() && c.status == Status::Ok {
                continue;
            }
            text.push_str(&format!("\n{} ({}): {}\n", c.check.name(), c.status.label(), c.explanation));
            for f in &c.findings {
                let line: Vec<String> = f
                    .iter()
                    .filter(|(_, v)| !v.is_null())
                    .map(|(k, v)| match v {
                        Value::String(s) => format!("{k}={s}"),
                        other => format!("{k}={other}"),
                    })
                    .collect();
                text.push_str(&format!("  - {}\n", line.join("; ")));
            }
            if c.total_findings > c.findings.len() {
                text.push_str(&format!(
                    "  ({} more; raise `limit` to see them)\n",
                    c.total_findings - c.findings.len()
                ));
            }
        }
        match serde_json::to_value(&self) {
            Ok(structured) => CallToolResult::structured(text, structured),
            Err(e) => CallToolResult::error(format!("could not serialize the report: {e}")),
        }
    }

    fn output_schema() -> Option<Value> {
        Some(schema_of::<HealthReport>())
    }
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct HealthArgs {
    /// Which configured database (default: the first).
    #[serde(default)]
    pub database: Option<String>,
    /// The checks to run (default: all): connections, cache_hit, table_bloat, vacuum,
    /// wraparound, sequences, long_running_queries, blocked_queries, unused_indexes,
    /// duplicate_indexes, invalid_indexes, invalid_constraints, replication,
    /// role_privileges.
    #[serde(default)]
    pub checks: Vec<Check>,
    /// Most findings listed per check (default 10, at most 100).
    #[serde(default)]
    pub limit: Option<usize>,
    /// A query running (or a transaction idle) this many seconds is long (default 300).
    #[serde(default)]
    pub long_running_seconds: Option<f64>,
}

/// Runs the health checks.
pub async fn database_health(dbs: Arc<Databases>, ctx: Context, args: HealthArgs) -> Result<HealthReport, ToolError> {
    let limit = match args.limit {
        None => 10,
        Some(n) if (1..=100).contains(&n) => n,
        Some(n) => return Err(ToolError::invalid_arguments(format!("`limit`: expected 1 to 100, got {n}"))),
    };
    let long = args.long_running_seconds.unwrap_or(300.0);
    if !(long.is_finite() && long > 0.0) {
        return Err(ToolError::invalid_arguments("`long_running_seconds`: expected a number of seconds > 0"));
    }
    let mut checks: Vec<Check> = if args.checks.is_empty() { ALL_CHECKS.to_vec() } else { args.checks.clone() };
    checks.sort();
    checks.dedup();
    let db = dbs.for_read(args.database.as_deref())?;
    let relations = Relations::of(&ctx)?;
    let mut tx = dbs.begin(&ctx, &db, Access::ReadOnly).await?;
    let version = run(&mut tx, "SELECT current_setting('server_version')", &[], Window::ALL).await?;
    let server_version = version.rows.first().and_then(|r| r.get(0)).and_then(Value::as_str).unwrap_or("?").to_string();
    let mut results = Vec::new();
    for check in checks {
        let (sql, explanation) = check_sql(check);
        // A check that fails (permissions, an old server) is reported, not fatal.
        savepoint(&mut tx, "SAVEPOINT mcp_health").await?;
        let params: Vec<Value> = if check == Check::LongRunningQueries { vec![json!(long)] } else { Vec::new() };
        let outcome = run(&mut tx, sql, &params, Window::ALL).await;
        let result = match outcome {
            Ok(rows) => {
                savepoint(&mut tx, "RELEASE SAVEPOINT mcp_health").await?;
                let mut findings = objects(rows);
                findings.retain(|f| allowed(&relations, f));
                let status = findings
                    .iter()
                    .map(|f| match f.get("severity").and_then(Value::as_str) {
                        Some("critical") => Status::Critical,
                        Some("warning") => Status::Warning,
                        _ => Status::Ok,
                    })
                    .min()
                    .unwrap_or(Status::Ok);
                let summary = summarize_check(check, &findings, long);
                // Informational rows (severity ok) only where they are the measurement.
                if !matches!(
                    check,
                    Check::Connections
                        | Check::CacheHit
                        | Check::Wraparound
                        | Check::Replication
                        | Check::RolePrivileges
                ) {
                    findings.retain(|f| f.get("severity").and_then(Value::as_str) != Some("ok"));
                }
                let total = findings.len();
                findings.truncate(limit);
                CheckResult { check, status, summary, explanation: explanation.into(), findings, total_findings: total }
            }
            Err(e) => {
                savepoint(&mut tx, "ROLLBACK TO SAVEPOINT mcp_health").await?;
                CheckResult {
                    check,
                    status: Status::Unknown,
                    summary: format!("could not run: {}", first_line(&e.to_string())),
                    explanation: explanation.into(),
                    findings: Vec::new(),
                    total_findings: 0,
                }
            }
        };
        results.push(result);
    }
    tx.rollback().await?;
    results.sort_by_key(|r| r.status);
    let mut counts = BTreeMap::new();
    for s in ["critical", "warning", "unknown", "ok"] {
        counts.insert(s.to_string(), 0);
    }
    for r in &results {
        let key = serde_json::to_value(r.status).ok().and_then(|v| v.as_str().map(str::to_string)).unwrap_or_default();
        *counts.entry(key).or_insert(0) += 1;
    }
    Ok(HealthReport { database: db.name.clone(), server_version, counts, checks: results })
}

fn first_line(s: &str) -> &str {
    s.lines().next().unwrap_or(s)
}

async fn savepoint(tx: &mut Tx, command: &'static str) -> Result<(), ToolError> {
    tx.conn()
        .execute(sqlx::raw_sql(command))
        .await
        .map(|_| ())
        .map_err(|e| ToolError::failed(format!("{command} failed: {}", crate::errors::describe(&e))))
}

/// Rows as JSON objects, column name → value.
fn objects(rows: Rows) -> Vec<Map<String, Value>> {
    let names: Vec<String> = rows.columns.iter().map(|c| c.name.clone()).collect();
    rows.rows
        .into_iter()
        .map(|row| match row {
            Value::Array(values) => names.iter().cloned().zip(values).collect(),
            _ => Map::new(),
        })
        .collect()
}

/// Whether the access policy lets the client see the object a finding names.
fn allowed(relations: &Relations, finding: &Map<String, Value>) -> bool {
    match (finding.get("schema").and_then(Value::as_str), finding.get("table").and_then(Value::as_str)) {
        (Some(s), Some(t)) => relations.table_allowed(s, t),
        (Some(s), None) => relations.schema_allowed(s),
        _ => true,
    }
}

fn count_at(findings: &[Map<String, Value>], severities: &[&str]) -> usize {
    findings
        .iter()
        .filter(|f| f.get("severity").and_then(Value::as_str).is_some_and(|s| severities.contains(&s)))
        .count()
}

fn field(f: &Map<String, Value>, key: &str) -> String {
    match f.get(key) {
        Some(Value::String(s)) => s.clone(),
        Some(Value::Null) | None => "?".into(),
        Some(other) => other.to_string(),
    }
}

/// The one-line summary of a check's findings.
fn summarize_check(check: Check, findings: &[Map<String, Value>], long: f64) -> String {
    let problems = count_at(findings, &["warning", "critical"]);
    let names = |key_fields: &[&str]| -> String {
        let list: Vec<String> = findings
            .iter()
            .filter(|f| f.get("severity").and_then(Value::as_str) != Some("ok"))
            .take(3)
            .map(|f| key_fields.iter().map(|k| field(f, k)).collect::<Vec<_>>().join("."))
            .collect();
        let more = if problems > 3 { format!(" and {} more", problems - 3) } else { String::new() };
        format!("{}{more}", list.join(", "))
    };
    match check {
        Check::Connections => match findings.first() {
            Some(f) => format!(
                "{} of {} usable connections in use ({}%)",
                field(f, "used"),
                field(f, "usable"),
                field(f, "percent_used")
            ),
            None => "no data".into(),
        },
        Check::CacheHit => findings
            .iter()
            .map(|f| {
                let low = f.get("too_little_activity").and_then(Value::as_bool).unwrap_or(false);
                format!(
                    "{} {}%{}",
                    field(f, "kind"),
                    field(f, "hit_percent"),
                    if low { " (too little activity to judge)" } else { "" }
                )
            })
            .collect::<Vec<_>>()
            .join(", "),
        Check::TableBloat if problems > 0 => format!("{problems} table(s) bloated: {}", names(&["schema", "table"])),
        Check::TableBloat => "no table with a large share of wasted space".into(),
        Check::Vacuum if problems > 0 => {
            format!("{problems} table(s) need VACUUM or ANALYZE: {}", names(&["schema", "table"]))
        }
        Check::Vacuum => "dead rows and statistics are under control".into(),
        Check::Wraparound => match findings.first() {
            Some(f) => format!(
                "oldest transaction ID age {} in database {} ({}% of the wraparound limit)",
                field(f, "xid_age"),
                field(f, "database_name"),
                field(f, "percent_to_wraparound")
            ),
            None => "no data".into(),
        },
        Check::Sequences if problems > 0 => {
            format!("{problems} sequence(s) over 75% used: {}", names(&["schema", "sequence"]))
        }
        Check::Sequences => "no sequence over 75% of its range".into(),
        Check::LongRunningQueries if problems > 0 => {
            format!("{problems} session(s) running or idle in transaction over {long} s: pids {}", names(&["pid"]))
        }
        Check::LongRunningQueries => format!("no query or idle transaction over {long} s"),
        Check::BlockedQueries if problems > 0 => {
            format!("{problems} session(s) waiting on locks: pids {} (see `locks`)", names(&["blocked_pid"]))
        }
        Check::BlockedQueries => "no session waiting on another's lock".into(),
        Check::UnusedIndexes if problems > 0 => {
            format!("{problems} index(es) never scanned: {}", names(&["schema", "index"]))
        }
        Check::UnusedIndexes => "every non-unique index has been scanned".into(),
        Check::DuplicateIndexes if problems > 0 => {
            format!("{problems} index(es) covered by another: {}", names(&["schema", "index"]))
        }
        Check::DuplicateIndexes => "no index duplicates another's leading columns".into(),
        Check::InvalidIndexes if problems > 0 => {
            format!("{problems} invalid index(es): {}", names(&["schema", "index"]))
        }
        Check::InvalidIndexes => "no invalid index".into(),
        Check::InvalidConstraints if problems > 0 => {
            format!("{problems} constraint(s) not validated: {}", names(&["schema", "table", "constraint"]))
        }
        Check::InvalidConstraints => "every constraint is validated".into(),
        Check::Replication if findings.is_empty() => "no standby, replica or replication slot".into(),
        Check::Replication if problems > 0 => {
            format!("{problems} replication problem(s): {}", names(&["kind", "name"]))
        }
        Check::Replication => format!("{} standby/slot(s), all healthy", findings.len()),
        Check::RolePrivileges if problems > 0 => format!(
            "the connector acts as `{}`, which has powers beyond the guards: {}",
            names(&["role"]),
            findings
                .first()
                .and_then(|f| f.get("powers"))
                .and_then(Value::as_array)
                .map(|p| p.iter().filter_map(Value::as_str).collect::<Vec<_>>().join(", "))
                .unwrap_or_default()
        ),
        Check::RolePrivileges => format!("the connector acts as `{}`, with no server-wide powers", names(&["role"])),
    }
}

/// Each check's SQL (rows with a `severity` of ok / warning / critical) and explanation.
fn check_sql(check: Check) -> (&'static str, &'static str) {
    match check {
        Check::Connections => (
            "SELECT used, usable, max_connections, reserved,
                    round(100.0 * used / NULLIF(usable, 0), 1)::float8 AS percent_used,
                    CASE WHEN used >= 0.9 * usable THEN 'critical' WHEN used >= 0.7 * usable THEN 'warning'
                         ELSE 'ok' END AS severity,
                    by_state
             FROM (SELECT (SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'client backend') AS used,
                          current_setting('max_connections')::int AS max_connections,
                          current_setting('superuser_reserved_connections')::int AS reserved,
                          current_setting('max_connections')::int
                            - current_setting('superuser_reserved_connections')::int AS usable,
                          (SELECT jsonb_object_agg(COALESCE(state, 'unknown'), n)
                           FROM (SELECT state, count(*) AS n FROM pg_stat_activity
                                 WHERE backend_type = 'client backend' GROUP BY state) s) AS by_state) x",
            "Client connections against max_connections minus the superuser reserve. Warning at 70%, critical at \
             90%: new connections fail when it is full. Many idle connections call for a pooler (PgBouncer); \
             many 'idle in transaction' for fixing the application.",
        ),
        Check::CacheHit => (
            "SELECT kind, hit, read, round(100.0 * hit / NULLIF(hit + read, 0), 2)::float8 AS hit_percent,
                    hit + read < 10000 AS too_little_activity,
                    CASE WHEN hit + read < 10000 THEN 'ok'
                         WHEN hit::float8 / (hit + read) < 0.80 THEN 'critical'
                         WHEN hit::float8 / (hit + read) < 0.95 THEN 'warning' ELSE 'ok' END AS severity
             FROM (SELECT 'tables' AS kind, COALESCE(sum(heap_blks_hit), 0)::int8 AS hit,
                          COALESCE(sum(heap_blks_read), 0)::int8 AS read FROM pg_statio_user_tables
                   UNION ALL
                   SELECT 'indexes', COALESCE(sum(idx_blks_hit), 0)::int8, COALESCE(sum(idx_blks_read), 0)::int8
                   FROM pg_statio_user_indexes) x",
            "Share of table and index block reads found in shared buffers since statistics were reset. Below 95% \
             is a warning, below 80% critical (with at least 10000 reads): the working set does not fit in \
             memory; consider more shared_buffers / RAM, or fewer full scans.",
        ),
        Check::TableBloat => (
            "WITH t AS (
               SELECT c.oid, n.nspname::text AS schema, c.relname::text AS tbl, c.reltuples::numeric AS reltuples,
                      c.relpages::numeric AS relpages,
                      current_setting('block_size')::numeric AS bs,
                      COALESCE((SELECT option_value::numeric FROM pg_options_to_table(c.reloptions)
                                WHERE option_name = 'fillfactor'), 100) AS fillfactor
               FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
               WHERE c.relkind IN ('r', 'm') AND c.relpages > 0 AND c.reltuples >= 0
                 AND n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname !~ '^pg_toast'
             ), w AS (
               SELECT t.oid,
                      sum((1 - COALESCE(s.null_frac, 0)) * COALESCE(s.avg_width, 0))::numeric AS data_width,
                      bool_or(s.attname IS NULL) AS missing_stats,
                      bool_or(COALESCE(s.null_frac, 0) > 0) AS has_nulls,
                      count(*) AS ncols
               FROM t JOIN pg_attribute a ON a.attrelid = t.oid AND a.attnum > 0 AND NOT a.attisdropped
               LEFT JOIN pg_stats s ON s.schemaname = t.schema AND s.tablename = t.tbl AND s.attname = a.attname
               GROUP BY t.oid
             ), e AS (
               -- A row: 23-byte header (+ null bitmap) and its data, each padded to 8 bytes, plus a
               -- 4-byte line pointer; a page: block size minus its 24-byte header, times fillfactor.
               SELECT t.schema, t.tbl, t.relpages * t.bs AS actual_bytes,
                      ceil(t.reltuples * (ceil((23 + CASE WHEN w.has_nulls THEN ceil(w.ncols / 8.0) ELSE 0 END) / 8.0) * 8
                                          + ceil(w.data_width / 8.0) * 8 + 4)
                           / ((t.bs - 24) * t.fillfactor / 100)) * t.bs AS expected_bytes
               FROM t JOIN w ON w.oid = t.oid
               WHERE NOT w.missing_stats
             )
             SELECT schema, tbl AS \"table\", pg_size_pretty(actual_bytes) AS size,
                    pg_size_pretty(actual_bytes - expected_bytes) AS wasted,
                    (actual_bytes - expected_bytes)::int8 AS wasted_bytes,
                    round(100 * (actual_bytes - expected_bytes) / actual_bytes, 1)::float8 AS wasted_percent,
                    CASE WHEN actual_bytes - expected_bytes >= 1073741824 THEN 'critical' ELSE 'warning' END AS severity,
                    format('VACUUM FULL %I.%I (locks the table; pg_repack does it online)', schema, tbl) AS fix
             FROM e
             WHERE actual_bytes - expected_bytes >= 10485760 AND (actual_bytes - expected_bytes) >= 0.5 * actual_bytes
             ORDER BY actual_bytes - expected_bytes DESC",
            "Estimated from the planner's statistics (row count, average widths): tables at least half wasted \
             space and 10 MB wasted are a warning, 1 GB critical. Bloat makes scans read pages of dead space; \
             VACUUM only makes it reusable, VACUUM FULL or pg_repack gives it back. Tables never analyzed are \
             not estimated (see `vacuum`).",
        ),
        Check::Vacuum => (
            "SELECT * FROM (
               SELECT s.schemaname::text AS schema, s.relname::text AS \"table\", s.n_live_tup AS live_rows,
                      s.n_dead_tup AS dead_rows,
                      COALESCE(round(100.0 * s.n_dead_tup / NULLIF(s.n_live_tup + s.n_dead_tup, 0), 1), 0)::float8
                        AS dead_percent,
                      GREATEST(s.last_vacuum, s.last_autovacuum) AS last_vacuum,
                      GREATEST(s.last_analyze, s.last_autoanalyze) AS last_analyze,
                      s.n_mod_since_analyze AS changed_since_analyze,
                      EXISTS (SELECT 1 FROM pg_options_to_table(c.reloptions)
                              WHERE option_name = 'autovacuum_enabled'
                                AND lower(option_value) IN ('false', 'off', '0', 'no')) AS autovacuum_disabled
               FROM pg_stat_user_tables s JOIN pg_class c ON c.oid = s.relid
             ) t CROSS JOIN LATERAL (
               SELECT CASE WHEN dead_rows >= 10000 AND dead_percent >= 50 THEN 'critical'
                           WHEN (dead_rows >= 10000 AND dead_percent >= 20)
                             OR (last_analyze IS NULL AND live_rows + changed_since_analyze >= 1000)
                             OR (changed_since_analyze >= 10000 AND changed_since_analyze >= live_rows * 0.5)
                             OR (autovacuum_disabled AND dead_rows >= 1000) THEN 'warning' END AS severity,
                      array_to_string(array_remove(ARRAY[
                        CASE WHEN dead_rows >= 10000 AND dead_percent >= 20
                             THEN 'many dead rows: VACUUM has not kept up' END,
                        CASE WHEN last_analyze IS NULL AND live_rows + changed_since_analyze >= 1000
                             THEN 'never analyzed: the planner has no statistics' END,
                        CASE WHEN changed_since_analyze >= 10000 AND changed_since_analyze >= live_rows * 0.5
                             THEN 'statistics are stale' END,
                        CASE WHEN autovacuum_disabled THEN 'autovacuum is disabled on this table' END], NULL), '; ')
                        AS reason,
                      format('VACUUM (ANALYZE) %I.%I', schema, \"table\") AS fix
             ) x
             WHERE severity IS NOT NULL
             ORDER BY severity = 'critical' DESC, dead_rows DESC, schema, \"table\"",
            "Dead rows (from updates and deletes) that VACUUM has not yet removed, and statistics freshness. At \
             least 10000 dead rows and 20% of the table is a warning, 50% critical; tables never analyzed, with \
             stale statistics or with autovacuum disabled are warnings. Check autovacuum settings and long \
             transactions, which stop VACUUM.",
        ),
        Check::Wraparound => (
            "SELECT datname::text AS database_name, age(datfrozenxid) AS xid_age, mxid_age(datminmxid) AS multixact_age,
                    round(100.0 * age(datfrozenxid) / 2147483648, 1)::float8 AS percent_to_wraparound,
                    CASE WHEN GREATEST(age(datfrozenxid), mxid_age(datminmxid)) >= 1500000000 THEN 'critical'
                         WHEN GREATEST(age(datfrozenxid), mxid_age(datminmxid)) >= 850000000 THEN 'warning'
                         ELSE 'ok' END AS severity
             FROM pg_database WHERE datallowconn
             ORDER BY age(datfrozenxid) DESC",
            "Transaction IDs wrap around after about 2.1 billion; the server stops accepting writes before that. \
             Autovacuum freezes old rows (autovacuum_freeze_max_age); an age over 850 million is a warning, over \
             1.5 billion critical: find what blocks freezing (long transactions, abandoned replication slots or \
             prepared transactions) and VACUUM (FREEZE) the oldest tables.",
        ),
        Check::Sequences => (
            "WITH s AS (
               SELECT sq.schemaname::text AS schema, sq.sequencename::text AS sequence, sq.last_value,
                      sq.min_value, sq.increment_by,
                      LEAST(sq.max_value, CASE col.typname WHEN 'int2' THEN 32767 WHEN 'int4' THEN 2147483647
                                                            ELSE sq.max_value END) AS max_value,
                      col.tbl AS \"table\", col.attname AS column_name, col.typname AS column_type
               FROM pg_sequences sq
               JOIN pg_namespace n ON n.nspname = sq.schemaname
               JOIN pg_class c ON c.relnamespace = n.oid AND c.relname = sq.sequencename
               LEFT JOIN LATERAL (
                 SELECT t.relname::text AS tbl, a.attname::text AS attname, ty.typname::text AS typname
                 FROM pg_depend d
                 JOIN pg_class t ON t.oid = d.refobjid
                 JOIN pg_attribute a ON a.attrelid = d.refobjid AND a.attnum = d.refobjsubid
                 JOIN pg_type ty ON ty.oid = a.atttypid
                 WHERE d.classid = 'pg_class'::regclass AND d.objid = c.oid AND d.refclassid = 'pg_class'::regclass
                   AND d.refobjsubid > 0 AND d.deptype IN ('a', 'i')
                 LIMIT 1) col ON true
               WHERE sq.last_value IS NOT NULL AND NOT sq.cycle AND sq.increment_by > 0
             )
             SELECT schema, sequence, \"table\", column_name, column_type, last_value, max_value,
                    round(100.0 * (last_value - min_value) / NULLIF(max_value - min_value, 0), 1)::float8 AS percent_used,
                    CASE WHEN (last_value - min_value) >= 0.9 * (max_value - min_value) THEN 'critical'
                         WHEN (last_value - min_value) >= 0.75 * (max_value - min_value) THEN 'warning'
                         ELSE 'ok' END AS severity
             FROM s
             WHERE (last_value - min_value) >= 0.75 * (max_value - min_value)
             ORDER BY (last_value - min_value)::numeric / NULLIF(max_value - min_value, 0) DESC",
            "How much of its range each ascending, non-cycling sequence has used, capped by the type of the \
             column it feeds (a bigint sequence behind an integer column fails at 2147483647). Over 75% is a \
             warning, over 90% critical: change the column to bigint (and the sequence's maxvalue) before inserts \
             fail.",
        ),
        Check::LongRunningQueries => (
            "SELECT pid, usename::text AS \"user\", datname::text AS database_name, state,
                    round(extract(epoch FROM clock_timestamp() - query_start)::numeric, 1)::float8 AS query_seconds,
                    round(extract(epoch FROM clock_timestamp() - state_change)::numeric, 1)::float8 AS state_seconds,
                    round(extract(epoch FROM clock_timestamp() - xact_start)::numeric, 1)::float8 AS transaction_seconds,
                    left(query, 300) AS query,
                    CASE WHEN clock_timestamp() - CASE WHEN state = 'active' THEN query_start ELSE state_change END
                              >= make_interval(secs => $1::float8 * 12) THEN 'critical' ELSE 'warning' END AS severity
             FROM pg_stat_activity
             WHERE pid <> pg_backend_pid() AND backend_type = 'client backend'
               AND ((state = 'active' AND query_start <= clock_timestamp() - make_interval(secs => $1::float8))
                 OR (state LIKE 'idle in transaction%'
                     AND state_change <= clock_timestamp() - make_interval(secs => $1::float8)))
             ORDER BY LEAST(query_start, state_change)",
            "Queries running, and sessions idle inside a transaction, longer than `long_running_seconds` (default \
             300) are a warning, twelve times that critical. Long transactions hold locks and stop VACUUM; cancel \
             with pg_cancel_backend(pid) or set statement_timeout / idle_in_transaction_session_timeout.",
        ),
        Check::BlockedQueries => (
            "SELECT w.pid AS blocked_pid, pg_blocking_pids(w.pid) AS blocked_by, w.usename::text AS \"user\",
                    w.wait_event_type, w.wait_event,
                    round(extract(epoch FROM clock_timestamp() - w.query_start)::numeric, 1)::float8 AS waiting_seconds,
                    left(w.query, 300) AS query,
                    CASE WHEN clock_timestamp() - w.query_start >= interval '5 minutes' THEN 'critical'
                         WHEN clock_timestamp() - w.query_start >= interval '10 seconds' THEN 'warning'
                         ELSE 'ok' END AS severity
             FROM pg_stat_activity w
             WHERE w.pid <> pg_backend_pid() AND cardinality(pg_blocking_pids(w.pid)) > 0
             ORDER BY w.query_start",
            "Sessions waiting on a lock another session holds: waiting 10 seconds is a warning, 5 minutes \
             critical. `locks` shows the whole chain and both queries; ending the root blocker's transaction \
             releases the chain.",
        ),
        Check::UnusedIndexes => (
            "SELECT s.schemaname::text AS schema, s.relname::text AS \"table\", s.indexrelname::text AS index,
                    pg_size_pretty(pg_relation_size(s.indexrelid)) AS size,
                    pg_relation_size(s.indexrelid) AS size_bytes,
                    COALESCE((SELECT stats_reset FROM pg_stat_database WHERE datname = current_database()),
                             pg_postmaster_start_time()) AS counted_since,
                    'warning' AS severity,
                    format('DROP INDEX CONCURRENTLY %I.%I', s.schemaname, s.indexrelname) AS fix
             FROM pg_stat_user_indexes s JOIN pg_index i ON i.indexrelid = s.indexrelid
             WHERE s.idx_scan = 0 AND NOT i.indisunique AND NOT i.indisprimary AND i.indisvalid
               AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conindid = s.indexrelid)
             ORDER BY pg_relation_size(s.indexrelid) DESC, 1, 2, 3",
            "Indexes (not unique, not backing a constraint) never scanned since statistics were reset: they cost \
             space and slow every write. Scans on standbys are not counted here, and a new index has had little \
             time: check replicas and the `counted_since` date before dropping.",
        ),
        Check::DuplicateIndexes => (
            "WITH idx AS (
               SELECT i.indexrelid, i.indrelid, i.indisunique, i.indisprimary, i.indnkeyatts, c.relam,
                      (string_to_array(i.indkey::text, ' ')::int2[])[1:i.indnkeyatts] AS keys,
                      (string_to_array(i.indclass::text, ' ')::oid[])[1:i.indnkeyatts] AS classes,
                      pg_get_expr(i.indpred, i.indrelid) AS pred
               FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid
               WHERE i.indisvalid AND i.indexprs IS NULL
             ), dup AS (
               SELECT DISTINCT ON (a.indexrelid) a.indexrelid, a.indrelid, b.indexrelid AS covering
               FROM idx a JOIN idx b ON a.indrelid = b.indrelid AND a.indexrelid <> b.indexrelid
               WHERE a.relam = b.relam AND a.pred IS NOT DISTINCT FROM b.pred
                 AND a.indnkeyatts <= b.indnkeyatts
                 AND a.keys = b.keys[1:a.indnkeyatts] AND a.classes = b.classes[1:a.indnkeyatts]
                 AND NOT a.indisprimary
                 AND (NOT a.indisunique OR (b.indisunique AND a.indnkeyatts = b.indnkeyatts))
                 -- Two identical indexes: report one of them.
                 AND (a.indnkeyatts < b.indnkeyatts OR a.indisunique <> b.indisunique OR b.indisprimary
                      OR a.indexrelid > b.indexrelid)
               ORDER BY a.indexrelid, b.indnkeyatts
             )
             SELECT n.nspname::text AS schema, t.relname::text AS \"table\", ci.relname::text AS index,
                    cb.relname::text AS covered_by,
                    pg_get_indexdef(d.indexrelid) AS definition, pg_get_indexdef(d.covering) AS covering_definition,
                    pg_size_pretty(pg_relation_size(d.indexrelid)) AS size,
                    'warning' AS severity,
                    format('DROP INDEX CONCURRENTLY %I.%I', n.nspname, ci.relname) AS fix
             FROM dup d
             JOIN pg_class t ON t.oid = d.indrelid JOIN pg_namespace n ON n.oid = t.relnamespace
             JOIN pg_class ci ON ci.oid = d.indexrelid JOIN pg_class cb ON cb.oid = d.covering
             WHERE n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname !~ '^pg_toast'
             ORDER BY pg_relation_size(d.indexrelid) DESC, 1, 2, 3",
            "An index whose key columns (same method, operator classes and predicate) are the leading columns of \
             another index on the same table is redundant: the other serves its queries. Unique indexes are kept \
             unless the other is unique on exactly the same columns.",
        ),
        Check::InvalidIndexes => (
            "SELECT n.nspname::text AS schema, t.relname::text AS \"table\", c.relname::text AS index,
                    pg_get_indexdef(i.indexrelid) AS definition, 'warning' AS severity,
                    format('REINDEX INDEX CONCURRENTLY %I.%I (or DROP INDEX CONCURRENTLY and create it again)',
                           n.nspname, c.relname) AS fix
             FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid JOIN pg_class t ON t.oid = i.indrelid
             JOIN pg_namespace n ON n.oid = c.relnamespace
             WHERE NOT i.indisvalid
             ORDER BY 1, 2, 3",
            "Invalid indexes are left by a failed CREATE INDEX CONCURRENTLY (or one still running): the planner \
             never uses them but every write still updates them.",
        ),
        Check::InvalidConstraints => (
            "SELECT n.nspname::text AS schema, t.relname::text AS \"table\", c.conname::text AS \"constraint\",
                    CASE c.contype WHEN 'f' THEN 'foreign key' WHEN 'c' THEN 'check' WHEN 'n' THEN 'not null'
                                   ELSE c.contype::text END AS kind,
                    pg_get_constraintdef(c.oid) AS definition, 'warning' AS severity,
                    format('ALTER TABLE %I.%I VALIDATE CONSTRAINT %I', n.nspname, t.relname, c.conname) AS fix
             FROM pg_constraint c JOIN pg_class t ON t.oid = c.conrelid JOIN pg_namespace n ON n.oid = t.relnamespace
             WHERE NOT c.convalidated
             ORDER BY 1, 2, 3",
            "Constraints added NOT VALID hold for new rows only: rows written before may break them and the \
             planner cannot rely on them. VALIDATE CONSTRAINT checks the old rows with a lock that does not block \
             reads or writes.",
        ),
        Check::Replication => (
            "SELECT 'this server is a standby' AS kind, NULL::text AS name, 'replaying' AS state, NULL::bool AS active,
                    CASE WHEN pg_last_wal_receive_lsn() = pg_last_wal_replay_lsn() THEN 0
                         ELSE round(extract(epoch FROM now() - pg_last_xact_replay_timestamp())::numeric, 1)
                    END::float8 AS lag_seconds,
                    pg_wal_lsn_diff(pg_last_wal_receive_lsn(), pg_last_wal_replay_lsn())::int8 AS lag_bytes,
                    NULL::text AS wal_status,
                    CASE WHEN now() - pg_last_xact_replay_timestamp() >= interval '10 minutes'
                              AND pg_last_wal_receive_lsn() <> pg_last_wal_replay_lsn() THEN 'critical'
                         WHEN now() - pg_last_xact_replay_timestamp() >= interval '1 minute'
                              AND pg_last_wal_receive_lsn() <> pg_last_wal_replay_lsn() THEN 'warning'
                         ELSE 'ok' END AS severity
             WHERE pg_is_in_recovery()
             UNION ALL
             SELECT 'standby', application_name || COALESCE(' (' || host(client_addr) || ')', ''), state, true,
                    round(extract(epoch FROM replay_lag)::numeric, 1)::float8,
                    CASE WHEN pg_is_in_recovery() THEN NULL
                         ELSE pg_wal_lsn_diff(pg_current_wal_lsn(), replay_lsn)::int8 END,
                    sync_state,
                    CASE WHEN replay_lag >= interval '10 minutes' THEN 'critical'
                         WHEN replay_lag >= interval '1 minute' THEN 'warning' ELSE 'ok' END
             FROM pg_stat_replication
             UNION ALL
             SELECT 'slot', slot_name::text || ' (' || slot_type || COALESCE(', ' || database, '') || ')',
                    CASE WHEN active THEN 'active' ELSE 'inactive' END, active, NULL,
                    pg_wal_lsn_diff(CASE WHEN pg_is_in_recovery() THEN pg_last_wal_receive_lsn()
                                         ELSE pg_current_wal_lsn() END, restart_lsn)::int8,
                    wal_status,
                    CASE WHEN wal_status = 'lost' THEN 'critical'
                         WHEN NOT active AND pg_wal_lsn_diff(CASE WHEN pg_is_in_recovery() THEN pg_last_wal_receive_lsn()
                                         ELSE pg_current_wal_lsn() END, restart_lsn) >= 1073741824 THEN 'critical'
                         WHEN NOT active OR wal_status = 'unreserved' THEN 'warning' ELSE 'ok' END
             FROM pg_replication_slots",
            "Standby replay lag (warning at 1 minute, critical at 10) and replication slots. An inactive slot keeps \
             the server from recycling WAL (warning; critical once it retains 1 GB or has lost WAL) and can fill \
             the disk: drop it with pg_drop_replication_slot(name) if its consumer is gone.",
        ),
        Check::RolePrivileges => (
            crate::databases::ROLE_POWERS,
            "The guards refuse the functions that reach outside the database, but a superuser can do much \
             through functions PostgreSQL calls inside other functions, and these roles read and write the \
             server's files. Least privilege is the real boundary: create a role that can only read (CREATE ROLE \
             mcp_reader NOLOGIN; GRANT pg_read_all_data TO mcp_reader; GRANT mcp_reader TO <login role>) and \
             start the connector with --role mcp_reader, or connect as a login role with only the grants it needs.",
        ),
    }
}

// ---------------------------------------------------------------------------------------
// index_advice

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct IndexAdviceArgs {
    /// The queries to tune (1 to 10): SELECT / WITH, or UPDATE / DELETE (only planned,
    /// never run). $1, $2, ... placeholders are fine: they are planned generically.
    #[serde(default)]
    pub queries: Vec<String>,
    /// Instead of `queries`: tune the top statements of pg_stat_statements (by total
    /// time) in this database, weighted by their calls.
    #[serde(default)]
    pub workload: bool,
    /// How many top statements `workload` takes (default 10, at most 10).
    #[serde(default)]
    pub workload_size: Option<usize>,
    /// Which configured database (default: the first).
    #[serde(default)]
    pub database: Option<String>,
    /// Smallest cost reduction, in percent of the total, worth an index (default 10).
    #[serde(default)]
    pub min_improvement_percent: Option<f64>,
    /// Most indexes to recommend (default 5, at most 10).
    #[serde(default)]
    pub max_indexes: Option<usize>,
}

/// A query being tuned.
struct Query {
    sql: String,
    /// How much its cost counts: 1, or its calls in workload mode.
    weight: f64,
    plan: Value,
    cost: f64,
}

/// A candidate index.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct Candidate {
    schema: String,
    table: String,
    columns: Vec<String>,
}

impl Candidate {
    fn target(&self) -> String {
        format!("{}.{}", ident(&self.schema), ident(&self.table))
    }
    fn create(&self, concurrently: bool) -> String {
        format!(
            "CREATE INDEX {}ON {} ({})",
            if concurrently { "CONCURRENTLY " } else { "" },
            self.target(),
            self.columns.iter().map(|c| ident(c)).collect::<Vec<_>>().join(", ")
        )
    }
    fn label(&self) -> String {
        format!("{}.{} ({})", self.schema, self.table, self.columns.join(", "))
    }
}

/// An identifier, quoted only when it must be.
fn ident(name: &str) -> String {
    const RESERVED: &[&str] = &[
        "all",
        "analyse",
        "analyze",
        "and",
        "any",
        "array",
        "as",
        "asc",
        "both",
        "case",
        "cast",
        "check",
        "collate",
        "column",
        "constraint",
        "create",
        "current_date",
        "current_role",
        "current_time",
        "current_timestamp",
        "current_user",
        "default",
        "deferrable",
        "desc",
        "distinct",
        "do",
        "else",
        "end",
        "except",
        "false",
        "fetch",
        "for",
        "foreign",
        "from",
        "grant",
        "group",
        "having",
        "in",
        "initially",
        "intersect",
        "into",
        "lateral",
        "leading",
        "limit",
        "localtime",
        "localtimestamp",
        "not",
        "null",
        "offset",
        "on",
        "only",
        "or",
        "order",
        "placing",
        "primary",
        "references",
        "returning",
        "select",
        "session_user",
        "some",
        "symmetric",
        "table",
        "then",
        "to",
        "trailing",
        "true",
        "union",
        "unique",
        "user",
        "using",
        "variadic",
        "when",
        "where",
        "window",
        "with",
    ];
    let simple = name.chars().next().is_some_and(|c| c.is_ascii_lowercase() || c == '_')
        && name.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
    if simple && !RESERVED.contains(&name) { name.to_string() } else { quote_ident(name) }
}

/// Why a candidate was proposed, and how it did.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct CandidateReport {
    /// `schema.table`.
    table: String,
    /// Index columns, in order.
    columns: Vec<String>,
    /// The statement that would build it (CONCURRENTLY: without blocking writes).
    create_statement: String,
    /// What in the plans suggested it.
    reasons: Vec<String>,
    /// Workload cost with this index alone (hypopg only).
    #[serde(skip_serializing_if = "Option::is_none")]
    cost_with_index: Option<f64>,
    /// Cost reduction with this index alone, percent (hypopg only).
    #[serde(skip_serializing_if = "Option::is_none")]
    improvement_percent: Option<f64>,
    /// Whether the planner used it in any plan (hypopg only).
    #[serde(skip_serializing_if = "Option::is_none")]
    used_by_planner: Option<bool>,
    /// Estimated index size in bytes (hypopg only).
    #[serde(skip_serializing_if = "Option::is_none")]
    estimated_size_bytes: Option<i64>,
    /// recommended, not_used, too_small_gain, redundant, or heuristic (unverified).
    verdict: String,
}

/// One query's costs.
#[derive(Debug, Serialize, JsonSchema)]
pub struct QueryReport {
    /// The query (cut to 300 characters).
    query: String,
    /// Its weight in the total (its calls in workload mode).
    weight: f64,
    /// Planner cost now.
    cost_before: f64,
    /// Planner cost with every recommended index (hypopg only).
    #[serde(skip_serializing_if = "Option::is_none")]
    cost_after: Option<f64>,
}

/// The advice.
#[derive(Debug, Serialize, JsonSchema)]
pub struct Advice {
    /// The configured database.
    database: String,
    /// `hypopg` (costs verified by the planner) or `heuristic` (read from the plans only).
    method: String,
    /// The findings, most important first.
    summary: Vec<String>,
    /// The indexes to create, best first.
    recommendations: Vec<CandidateReport>,
    /// Every candidate considered.
    candidates: Vec<CandidateReport>,
    /// The queries and their costs.
    queries: Vec<QueryReport>,
    /// Weighted planner cost of all queries now.
    total_cost_before: f64,
    /// Weighted planner cost with the recommended indexes (hypopg only).
    #[serde(skip_serializing_if = "Option::is_none")]
    total_cost_after: Option<f64>,
}

impl IntoToolResult for Advice {
    fn into_tool_result(self) -> CallToolResult {
        let mut text = self.summary.join("\n");
        text.push('\n');
        if !self.candidates.is_empty() {
            text.push_str("\nCandidates:\n");
            for c in &self.candidates {
                text.push_str(&format!("- [{}] {}", c.verdict, c.create_statement));
                if let Some(p) = c.improvement_percent {
                    text.push_str(&format!(" (alone: -{p:.1}% cost"));
                    if let Some(size) = c.estimated_size_bytes {
                        text.push_str(&format!(", ~{} KiB", size / 1024));
                    }
                    text.push(')');
                }
                text.push_str(&format!(": {}\n", c.reasons.join("; ")));
            }
        }
        text.push_str("\nQueries:\n");
        for q in &self.queries {
            text.push_str(&format!("- cost {:.2}", q.cost_before));
            if let Some(after) = q.cost_after {
                text.push_str(&format!(" -> {after:.2}"));
            }
            text.push_str(&format!(": {}\n", q.query));
        }
        match serde_json::to_value(&self) {
            Ok(structured) => CallToolResult::structured(text, structured),
            Err(e) => CallToolResult::error(format!("could not serialize the advice: {e}")),
        }
    }

    fn output_schema() -> Option<Value> {
        Some(schema_of::<Advice>())
    }
}

/// Names of this call's prepared statements: unique in the process, so a statement a
/// failed call left on a pooled connection can never collide with a new one.
static STATEMENTS: AtomicU64 = AtomicU64::new(0);

/// Recommends indexes.
pub async fn index_advice(dbs: Arc<Databases>, ctx: Context, args: IndexAdviceArgs) -> Result<Advice, ToolError> {
    let threshold = args.min_improvement_percent.unwrap_or(10.0);
    if !(threshold.is_finite() && (0.0..=100.0).contains(&threshold)) {
        return Err(ToolError::invalid_arguments("`min_improvement_percent`: expected 0 to 100"));
    }
    let max_indexes = match args.max_indexes {
        None => 5,
        Some(n) if (1..=10).contains(&n) => n,
        Some(n) => return Err(ToolError::invalid_arguments(format!("`max_indexes`: expected 1 to 10, got {n}"))),
    };
    match (args.queries.is_empty(), args.workload) {
        (true, false) => {
            return Err(ToolError::invalid_arguments(
                "`queries`: give 1 to 10 queries to tune, or set `workload: true` to tune the top statements of \
                 pg_stat_statements",
            ));
        }
        (false, true) => {
            return Err(ToolError::invalid_arguments("`queries` and `workload` exclude each other: give one"));
        }
        _ => {}
    }
    if args.queries.len() > 10 {
        return Err(ToolError::invalid_arguments(format!(
            "`queries`: at most 10 queries per call, got {}",
            args.queries.len()
        )));
    }
    for (i, q) in args.queries.iter().enumerate() {
        check_tunable(&dbs, q).map_err(|e| crate::errors::in_argument(&format!("queries[{i}]"), e))?;
    }
    let workload_size = match args.workload_size {
        None => 10,
        Some(n) if (1..=10).contains(&n) => n,
        Some(n) => return Err(ToolError::invalid_arguments(format!("`workload_size`: expected 1 to 10, got {n}"))),
    };
    let db = dbs.for_read(args.database.as_deref())?;
    let relations = Relations::of(&ctx)?;
    let mut tx = dbs.begin(&ctx, &db, Access::ReadOnly).await?;
    let mut session = Session { hypopg: None, touched: false };
    let result =
        advise(&dbs, &db, &relations, &mut tx, &mut session, &args, threshold, max_indexes, workload_size).await;
    // Hypothetical indexes and prepared statements outlive the transaction: clear them,
    // or close the connection so that no later call inherits them.
    let clean = if session.touched { cleanup(&mut tx, &session).await } else { Ok(()) };
    match clean {
        Ok(()) => tx.rollback().await?,
        Err(_) => drop(tx),
    }
    result
}

/// What `index_advice` left in the session.
struct Session {
    /// The schema of hypopg's functions, quoted, when installed.
    hypopg: Option<String>,
    /// Whether anything session-level may have been created.
    touched: bool,
}

async fn cleanup(tx: &mut Tx, session: &Session) -> Result<(), ToolError> {
    savepoint(tx, "ROLLBACK TO SAVEPOINT mcp_advice_call").await?;
    if let Some(h) = &session.hypopg {
        run(tx, &format!("SELECT {h}.hypopg_reset()"), &[], Window::ALL).await?;
    }
    let left =
        run(tx, "SELECT name FROM pg_prepared_statements WHERE name LIKE 'mcp\\_advice\\_%'", &[], Window::ALL).await?;
    for row in left.rows {
        if let Some(name) = row.get(0).and_then(Value::as_str) {
            tx.conn()
                .execute(sqlx::raw_sql(&format!("DEALLOCATE {}", quote_ident(name))))
                .await
                .map_err(|e| ToolError::failed(crate::errors::describe(&e)))?;
        }
    }
    Ok(())
}

/// Which statements can be tuned: one reading statement, or UPDATE / DELETE.
fn check_tunable(dbs: &Databases, sql: &str) -> Result<(), ToolError> {
    match dbs.guard.check_read(sql) {
        Ok(s) if matches!(s.kind.as_str(), "select" | "with" | "values" | "table") => Ok(()),
        Ok(s) => Err(ToolError::invalid_arguments(format!(
            "{} has no plan to tune; give a SELECT, WITH, UPDATE or DELETE",
            s.kind.to_uppercase()
        ))),
        Err(read_error) => match dbs.guard.check_write(sql, crate::config::WriteMode::All) {
            Ok(s) if matches!(s.kind.as_str(), "update" | "delete") => Ok(()),
            _ => Err(read_error),
        },
    }
}

#[allow(clippy::too_many_arguments)]
async fn advise(
    dbs: &Databases,
    db: &Database,
    relations: &Relations,
    tx: &mut Tx,
    session: &mut Session,
    args: &IndexAdviceArgs,
    threshold: f64,
    max_indexes: usize,
    workload_size: usize,
) -> Result<Advice, ToolError> {
    let hypopg = run(
        tx,
        "SELECT quote_ident(n.nspname) FROM pg_extension e JOIN pg_namespace n ON n.oid = e.extnamespace
         WHERE e.extname = 'hypopg'",
        &[],
        Window::ALL,
    )
    .await?;
    session.hypopg = hypopg.rows.first().and_then(|r| r.get(0)).and_then(Value::as_str).map(str::to_string);
    let mut notes = Vec::new();
    let texts: Vec<(String, f64)> = if args.workload {
        let pss = stat_statements(tx, db).await?;
        let top = run(
            tx,
            &format!(
                "SELECT query, calls FROM {view}
                 WHERE dbid = (SELECT oid FROM pg_database WHERE datname = current_database())
                   AND query !~* '(pg_stat_statements|hypopg|pg_catalog\\.|information_schema\\.|pg_prepared_statements)'
                 ORDER BY {total} DESC LIMIT 200",
                view = pss.view,
                total = pss.total
            ),
            &[],
            Window::ALL,
        )
        .await?;
        let picked: Vec<(String, f64)> = top
            .rows
            .iter()
            .filter_map(|r| Some((r.get(0)?.as_str()?.to_string(), r.get(1)?.as_f64().unwrap_or(1.0))))
            .filter(|(q, _)| check_tunable(dbs, q).is_ok())
            .take(workload_size)
            .collect();
        if picked.is_empty() {
            return Err(ToolError::failed(
                "pg_stat_statements holds no tunable statement (SELECT, WITH, UPDATE, DELETE) for this database \
                 yet; run the workload first or pass `queries`",
            ));
        }
        picked
    } else {
        args.queries.iter().map(|q| (q.clone(), 1.0)).collect()
    };
    session.touched = true;
    savepoint(tx, "SAVEPOINT mcp_advice_call").await?;
    savepoint(tx, "SET LOCAL plan_cache_mode = force_generic_plan").await?;
    let mut queries = Vec::new();
    for (i, (sql, weight)) in texts.into_iter().enumerate() {
        match plan(tx, &sql).await {
            Ok(plan) => {
                if let Err(refused) = crate::guard::plan::check_plan(&plan, &dbs.guard, relations) {
                    if args.workload {
                        continue;
                    }
                    return Err(ToolError::refused(format!("`queries[{i}]`: {refused}")));
                }
                let cost = root_cost(&plan);
                queries.push(Query { sql, weight, plan, cost });
            }
            Err(e) if args.workload => notes.push(format!("Skipped a statement that could not be planned: {e}")),
            Err(e) => return Err(ToolError::failed(format!("`queries[{i}]` could not be planned: {e}"))),
        }
    }
    // Candidates, with the catalog facts they need.
    let mut tables: BTreeMap<(String, String), TableInfo> = BTreeMap::new();
    let mut found: BTreeMap<Candidate, BTreeSet<String>> = BTreeMap::new();
    for q in &queries {
        for (schema, table) in scans(&q.plan) {
            if let std::collections::btree_map::Entry::Vacant(e) = tables.entry((schema.clone(), table.clone())) {
                e.insert(table_info(tx, &schema, &table).await?);
            }
        }
        for (candidate, reason) in candidates(&q.plan, &tables) {
            found.entry(candidate).or_default().insert(reason);
        }
    }
    // An index with these leading columns exists: the planner already chose not to use it.
    found.retain(|c, _| {
        tables.get(&(c.schema.clone(), c.table.clone())).is_some_and(|t| {
            !t.indexes.iter().any(|ix| ix.len() >= c.columns.len() && ix[..c.columns.len()] == c.columns[..])
        })
    });
    let mut found: Vec<(Candidate, Vec<String>)> =
        found.into_iter().map(|(c, r)| (c, r.into_iter().collect())).collect();
    // The most promising first (most reasons, then fewer columns), at most 20 evaluated.
    found.sort_by(|a, b| b.1.len().cmp(&a.1.len()).then(a.0.columns.len().cmp(&b.0.columns.len())).then(a.0.cmp(&b.0)));
    found.truncate(20);
    let total_before: f64 = queries.iter().map(|q| q.weight * q.cost).sum();
    let mut advice = Advice {
        database: db.name.clone(),
        method: String::new(),
        summary: Vec::new(),
        recommendations: Vec::new(),
        candidates: Vec::new(),
        queries: Vec::new(),
        total_cost_before: round2(total_before),
        total_cost_after: None,
    };
    match session.hypopg.clone() {
        Some(h) => verify(tx, &h, &queries, &found, &tables, threshold, max_indexes, &mut advice).await?,
        None => heuristics(tx, &queries, &found, &tables, &mut advice).await?,
    }
    advice.summary.extend(notes);
    Ok(advice)
}

fn round2(x: f64) -> f64 {
    (x * 100.0).round() / 100.0
}

fn root_cost(plan: &Value) -> f64 {
    plan.pointer("/0/Plan/Total Cost").and_then(Value::as_f64).unwrap_or(0.0)
}

/// Plans `sql` generically (placeholders without values), in a savepoint so that a bad
/// query does not end the transaction.
async fn plan(tx: &mut Tx, sql: &str) -> Result<Value, String> {
    let name = format!("mcp_advice_{}", STATEMENTS.fetch_add(1, Ordering::Relaxed));
    savepoint(tx, "SAVEPOINT mcp_advice_plan").await.map_err(|e| e.to_string())?;
    let result = plan_prepared(tx, &name, sql).await;
    if result.is_err() {
        savepoint(tx, "ROLLBACK TO SAVEPOINT mcp_advice_plan").await.map_err(|e| e.to_string())?;
    } else {
        savepoint(tx, "RELEASE SAVEPOINT mcp_advice_plan").await.map_err(|e| e.to_string())?;
    }
    // Prepared statements survive a rollback; remove this one whatever happened.
    let exists = run(tx, "SELECT 1 FROM pg_prepared_statements WHERE name = $1", &[json!(name)], Window::ALL)
        .await
        .map_err(|e| e.to_string())?;
    if !exists.rows.is_empty() {
        tx.conn()
            .execute(sqlx::raw_sql(&format!("DEALLOCATE {name}")))
            .await
            .map_err(|e| crate::errors::describe(&e))?;
    }
    result
}

async fn plan_prepared(tx: &mut Tx, name: &str, sql: &str) -> Result<Value, String> {
    // The extended protocol takes one statement only: `sql` cannot smuggle a second one.
    run(tx, &format!("PREPARE {name} AS {sql}"), &[], Window::ALL).await.map_err(|e| e.to_string())?;
    let params = run(
        tx,
        "SELECT COALESCE(cardinality(parameter_types), 0) FROM pg_prepared_statements WHERE name = $1",
        &[json!(name)],
        Window::ALL,
    )
    .await
    .map_err(|e| e.to_string())?;
    let n = params.rows.first().and_then(|r| r.get(0)).and_then(Value::as_u64).unwrap_or(0) as usize;
    let execute = if n == 0 { name.to_string() } else { format!("{name}({})", vec!["NULL"; n].join(", ")) };
    let rows = run(tx, &format!("EXPLAIN (VERBOSE, FORMAT JSON) EXECUTE {execute}"), &[], Window::ALL)
        .await
        .map_err(|e| e.to_string())?;
    rows.rows.first().and_then(|r| r.get(0)).cloned().ok_or_else(|| "EXPLAIN returned no plan".to_string())
}

/// What the advisor knows of a table.
#[derive(Debug, Default)]
struct TableInfo {
    columns: BTreeSet<String>,
    rows: f64,
    /// Key columns of each existing valid index, in order.
    indexes: Vec<Vec<String>>,
    /// A table an index can be created on (not a view, not a system catalog).
    indexable: bool,
}

async fn table_info(tx: &mut Tx, schema: &str, table: &str) -> Result<TableInfo, ToolError> {
    let rows = run(
        tx,
        "SELECT c.reltuples::float8, c.relkind IN ('r', 'm', 'p') AND n.nspname NOT IN ('pg_catalog', 'information_schema')
                  AND n.nspname !~ '^pg_toast',
                ARRAY(SELECT a.attname::text FROM pg_attribute a WHERE a.attrelid = c.oid AND a.attnum > 0
                      AND NOT a.attisdropped),
                ARRAY(SELECT array_to_string(ARRAY(SELECT a.attname::text
                                                   FROM unnest(i.indkey::int2[]) WITH ORDINALITY k(attnum, ord)
                                                   JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.attnum
                                                   ORDER BY k.ord), chr(1))
                      FROM pg_index i WHERE i.indrelid = c.oid AND i.indisvalid AND i.indpred IS NULL)
         FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
         WHERE n.nspname = $1 AND c.relname = $2",
        &[json!(schema), json!(table)],
        Window::ALL,
    )
    .await?;
    let Some(Value::Array(row)) = rows.rows.into_iter().next() else { return Ok(TableInfo::default()) };
    let strings = |v: Option<&Value>| -> Vec<String> {
        v.and_then(Value::as_array)
            .map(|a| a.iter().filter_map(Value::as_str).map(str::to_string).collect())
            .unwrap_or_default()
    };
    Ok(TableInfo {
        rows: row.first().and_then(Value::as_f64).unwrap_or(0.0).max(0.0),
        indexable: row.get(1) == Some(&Value::Bool(true)),
        columns: strings(row.get(2)).into_iter().collect(),
        indexes: strings(row.get(3)).into_iter().map(|s| s.split('\u{1}').map(str::to_string).collect()).collect(),
    })
}

/// Every plan node, depth first.
fn plan_nodes(plan: &Value) -> Vec<&Value> {
    fn walk<'a>(node: &'a Value, out: &mut Vec<&'a Value>) {
        out.push(node);
        if let Some(Value::Array(children)) = node.get("Plans") {
            children.iter().for_each(|c| walk(c, out));
        }
    }
    let mut out = Vec::new();
    if let Some(root) = plan.pointer("/0/Plan") {
        walk(root, &mut out);
    }
    out
}

fn text<'a>(node: &'a Value, key: &str) -> Option<&'a str> {
    node.get(key).and_then(Value::as_str)
}

/// The (schema, table) of every scan node.
fn scans(plan: &Value) -> Vec<(String, String)> {
    plan_nodes(plan)
        .into_iter()
        .filter_map(|n| Some((text(n, "Schema")?.to_string(), text(n, "Relation Name")?.to_string())))
        .collect()
}

/// How a column is compared.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Op {
    /// `=`, `= ANY`, `IS NULL`: any position in a btree.
    Eq,
    /// `<`, `>`, `<=`, `>=`: a btree's last used column.
    Range,
    /// Anything else (`<>`, `~~`, functions): no btree help assumed.
    Other,
}

/// A column a condition refers to: (alias, column, how compared).
type ColumnRef = (Option<String>, String, Op);

#[derive(Debug, Clone, PartialEq)]
enum Token {
    Ident(String),
    Dot,
    Open,
    Close,
    Cast,
    Operator(String),
    Other,
}

fn tokenize(s: &str) -> Vec<Token> {
    let chars: Vec<char> = s.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if c.is_whitespace() {
            i += 1;
        } else if c == '\'' {
            // A literal; '' is an escaped quote.
            i += 1;
            while i < chars.len() {
                if chars[i] == '\'' {
                    if chars.get(i + 1) == Some(&'\'') {
                        i += 2;
                        continue;
                    }
                    break;
                }
                i += 1;
            }
            i += 1;
            out.push(Token::Other);
        } else if c == '"' {
            let mut name = String::new();
            i += 1;
            while i < chars.len() {
                if chars[i] == '"' {
                    if chars.get(i + 1) == Some(&'"') {
                        name.push('"');
                        i += 2;
                        continue;
                    }
                    break;
                }
                name.push(chars[i]);
                i += 1;
            }
            i += 1;
            out.push(Token::Ident(name));
        } else if c.is_alphabetic() || c == '_' {
            let start = i;
            while i < chars.len() && (chars[i].is_alphanumeric() || chars[i] == '_' || chars[i] == '$') {
                i += 1;
            }
            out.push(Token::Ident(chars[start..i].iter().collect()));
        } else if c.is_ascii_digit() || c == '$' {
            i += 1;
            while i < chars.len() && (chars[i].is_ascii_alphanumeric() || chars[i] == '.') {
                i += 1;
            }
            out.push(Token::Other);
        } else if c == '.' {
            out.push(Token::Dot);
            i += 1;
        } else if c == '(' {
            out.push(Token::Open);
            i += 1;
        } else if c == ')' {
            out.push(Token::Close);
            i += 1;
        } else if c == ':' && chars.get(i + 1) == Some(&':') {
            out.push(Token::Cast);
            i += 2;
        } else if "=<>!~*+-/%^|&@#?".contains(c) {
            let start = i;
            while i < chars.len() && "=<>!~*+-/%^|&@#?".contains(chars[i]) {
                i += 1;
            }
            out.push(Token::Operator(chars[start..i].iter().collect()));
        } else {
            out.push(Token::Other);
            i += 1;
        }
    }
    out
}

fn classify(op: &str) -> Op {
    match op {
        "=" => Op::Eq,
        "<" | "<=" | ">" | ">=" => Op::Range,
        _ => Op::Other,
    }
}

/// The columns a plan condition refers to, each with the comparison it is in.
fn column_refs(condition: &str) -> Vec<ColumnRef> {
    const KEYWORDS: &[&str] = &[
        "AND", "OR", "NOT", "IS", "NULL", "ANY", "ALL", "TRUE", "FALSE", "CASE", "WHEN", "THEN", "ELSE", "END", "DESC",
        "ASC", "NULLS", "FIRST", "LAST", "SubPlan", "InitPlan", "hashed", "COLLATE", "LIKE", "ILIKE", "IN", "ARRAY",
    ];
    let tokens = tokenize(condition);
    let mut out = Vec::new();
    let mut i = 0;
    let mut previous_operator: Option<String> = None;
    while i < tokens.len() {
        match &tokens[i] {
            Token::Operator(op) => {
                previous_operator = Some(op.clone());
                i += 1;
            }
            Token::Cast => {
                // Skip the type name (which may be several words, or carry a modifier).
                i += 1;
                while let Some(Token::Ident(_)) = tokens.get(i) {
                    i += 1;
                }
                if tokens.get(i) == Some(&Token::Open) {
                    while i < tokens.len() && tokens[i] != Token::Close {
                        i += 1;
                    }
                    i += 1;
                }
            }
            Token::Ident(first) => {
                let mut path = vec![first.clone()];
                let mut j = i + 1;
                while tokens.get(j) == Some(&Token::Dot) {
                    match tokens.get(j + 1) {
                        Some(Token::Ident(next)) => path.push(next.clone()),
                        _ => break,
                    }
                    j += 2;
                }
                let is_call = tokens.get(j) == Some(&Token::Open);
                let keyword = path.len() == 1 && KEYWORDS.iter().any(|k| k.eq_ignore_ascii_case(first));
                if !is_call && !keyword {
                    // The comparison: the operator after the column (past closing parentheses
                    // and casts), or else the one before it.
                    let mut k = j;
                    loop {
                        match tokens.get(k) {
                            Some(Token::Close) => k += 1,
                            Some(Token::Cast) => {
                                k += 1;
                                while let Some(Token::Ident(_)) = tokens.get(k) {
                                    k += 1;
                                }
                            }
                            _ => break,
                        }
                    }
                    let op = match tokens.get(k) {
                        Some(Token::Operator(op)) => classify(op),
                        Some(Token::Ident(w)) if w.eq_ignore_ascii_case("IS") => Op::Eq,
                        _ => match previous_operator.as_deref() {
                            Some(op) => classify(op),
                            None => Op::Other,
                        },
                    };
                    let column = path.pop().unwrap_or_default();
                    out.push((path.pop(), column, op));
                }
                i = j;
            }
            _ => i += 1,
        }
    }
    out
}

/// Candidate indexes a plan suggests, each with the reason.
fn candidates(plan: &Value, tables: &BTreeMap<(String, String), TableInfo>) -> Vec<(Candidate, String)> {
    let nodes = plan_nodes(plan);
    // Alias → relation, from the scan nodes.
    let mut aliases: BTreeMap<String, (String, String)> = BTreeMap::new();
    for n in &nodes {
        if let (Some(s), Some(t)) = (text(n, "Schema"), text(n, "Relation Name")) {
            aliases.insert(text(n, "Alias").unwrap_or(t).to_string(), (s.to_string(), t.to_string()));
        }
    }
    let resolve = |alias: &Option<String>, column: &str, own: Option<&(String, String)>| -> Option<(String, String)> {
        let relation = match alias {
            Some(a) => aliases.get(a)?,
            None => own?,
        };
        let info = tables.get(relation)?;
        (info.indexable && info.columns.contains(column)).then(|| relation.clone())
    };
    // Equality and range columns each relation is filtered on.
    let mut filters: BTreeMap<(String, String), (Vec<String>, Vec<String>)> = BTreeMap::new();
    let mut out = Vec::new();
    let push_unique = |list: &mut Vec<String>, c: &str| {
        if !list.iter().any(|x| x == c) {
            list.push(c.to_string());
        }
    };
    for n in &nodes {
        let kind = text(n, "Node Type").unwrap_or("");
        let own = match (text(n, "Schema"), text(n, "Relation Name")) {
            (Some(s), Some(t)) => Some((s.to_string(), t.to_string())),
            _ => None,
        };
        let Some(own) = own else { continue };
        let filter = text(n, "Filter");
        let index_cond = text(n, "Index Cond").or_else(|| text(n, "Recheck Cond"));
        let (mut eq, mut range) = (Vec::new(), Vec::new());
        for (alias, column, op) in filter.map(column_refs).unwrap_or_default() {
            if resolve(&alias, &column, Some(&own)).as_ref() == Some(&own) {
                match op {
                    Op::Eq => push_unique(&mut eq, &column),
                    Op::Range => push_unique(&mut range, &column),
                    Op::Other => {}
                }
            }
        }
        let entry = filters.entry(own.clone()).or_default();
        eq.iter().for_each(|c| push_unique(&mut entry.0, c));
        range.iter().for_each(|c| push_unique(&mut entry.1, c));
        if eq.is_empty() && range.is_empty() {
            continue;
        }
        let rows = tables.get(&own).map(|t| t.rows).unwrap_or(0.0);
        let what = format!("{kind} on {}.{} (~{rows:.0} rows) filtering {}", own.0, own.1, filter.unwrap_or_default());
        let mut leading: Vec<String> = Vec::new();
        if kind == "Seq Scan" {
            for c in eq.iter().chain(range.iter()) {
                out.push((
                    Candidate { schema: own.0.clone(), table: own.1.clone(), columns: vec![c.clone()] },
                    what.clone(),
                ));
            }
        } else if let Some(cond) = index_cond {
            // An index is used but rows are still filtered after it: extend its columns.
            for (alias, column, op) in column_refs(cond) {
                if op == Op::Eq && resolve(&alias, &column, Some(&own)).as_ref() == Some(&own) {
                    push_unique(&mut leading, &column);
                }
            }
        }
        let mut composite = leading;
        eq.iter().for_each(|c| push_unique(&mut composite, c));
        if let Some(r) = range.first() {
            push_unique(&mut composite, r);
        }
        composite.truncate(4);
        if composite.len() >= 2 {
            out.push((Candidate { schema: own.0.clone(), table: own.1.clone(), columns: composite }, what));
        }
    }
    for n in &nodes {
        // Join keys: an index on the inner side can turn a hash join into index lookups.
        for key in ["Hash Cond", "Merge Cond", "Join Filter"] {
            let Some(cond) = text(n, key) else { continue };
            for (alias, column, _) in column_refs(cond) {
                if alias.is_none() {
                    continue;
                }
                if let Some(rel) = resolve(&alias, &column, None) {
                    let mut columns: Vec<String> = filters.get(&rel).map(|f| f.0.clone()).unwrap_or_default();
                    push_unique(&mut columns, &column);
                    columns.truncate(4);
                    let reason = format!("{key} {cond}");
                    if columns.len() > 1 {
                        out.push((
                            Candidate { schema: rel.0.clone(), table: rel.1.clone(), columns: vec![column.clone()] },
                            reason.clone(),
                        ));
                    }
                    out.push((Candidate { schema: rel.0, table: rel.1, columns }, reason));
                }
            }
        }
        // Sort keys of one relation: an index in that order avoids the sort.
        if let Some(Value::Array(keys)) = n.get("Sort Key") {
            let refs: Vec<ColumnRef> = keys.iter().filter_map(Value::as_str).flat_map(column_refs).collect();
            let resolved: Vec<(String, String, String)> =
                refs.iter().filter_map(|(a, c, _)| resolve(a, c, None).map(|(s, t)| (s, t, c.clone()))).collect();
            if !resolved.is_empty()
                && resolved.len() == refs.len()
                && resolved.iter().all(|r| r.0 == resolved[0].0 && r.1 == resolved[0].1)
            {
                let rel = (resolved[0].0.clone(), resolved[0].1.clone());
                let mut columns: Vec<String> = filters.get(&rel).map(|f| f.0.clone()).unwrap_or_default();
                resolved.iter().for_each(|r| push_unique(&mut columns, &r.2));
                columns.truncate(4);
                let keys: Vec<&str> = keys.iter().filter_map(Value::as_str).collect();
                out.push((Candidate { schema: rel.0, table: rel.1, columns }, format!("Sort Key {}", keys.join(", "))));
            }
        }
    }
    out
}

/// Costs of every query (weighted) with the hypothetical indexes present now.
async fn workload_cost(tx: &mut Tx, queries: &[Query]) -> Result<(f64, Vec<(f64, Value)>), ToolError> {
    let mut total = 0.0;
    let mut each = Vec::new();
    for q in queries {
        let plan = plan(tx, &q.sql).await.map_err(ToolError::failed)?;
        let cost = root_cost(&plan);
        total += q.weight * cost;
        each.push((cost, plan));
    }
    Ok((total, each))
}

fn uses_index(plans: &[(f64, Value)], index_name: &str) -> bool {
    plans.iter().any(|(_, p)| plan_nodes(p).iter().any(|n| text(n, "Index Name") == Some(index_name)))
}

async fn hypothetical(tx: &mut Tx, hypopg: &str, candidate: &Candidate) -> Result<(i64, String, i64), ToolError> {
    let created = run(
        tx,
        &format!(
            "SELECT indexrelid::int8, indexname::text, {hypopg}.hypopg_relation_size(indexrelid)::int8
             FROM {hypopg}.hypopg_create_index($1)"
        ),
        &[json!(candidate.create(false))],
        Window::ALL,
    )
    .await?;
    let row = created.rows.first().and_then(Value::as_array).cloned().unwrap_or_default();
    match (row.first().and_then(Value::as_i64), row.get(1).and_then(Value::as_str)) {
        (Some(oid), Some(name)) => Ok((oid, name.to_string(), row.get(2).and_then(Value::as_i64).unwrap_or(0))),
        _ => Err(ToolError::failed(format!("hypopg did not create {}", candidate.label()))),
    }
}

/// Greedy search with hypothetical indexes: each round keeps the candidate that lowers
/// the weighted workload cost most, while it lowers it by at least `threshold` percent.
#[allow(clippy::too_many_arguments)]
async fn verify(
    tx: &mut Tx,
    hypopg: &str,
    queries: &[Query],
    found: &[(Candidate, Vec<String>)],
    _tables: &BTreeMap<(String, String), TableInfo>,
    threshold: f64,
    max_indexes: usize,
    advice: &mut Advice,
) -> Result<(), ToolError> {
    advice.method = "hypopg".into();
    let before = advice.total_cost_before;
    let mut reports: Vec<CandidateReport> = Vec::new();
    // Each candidate alone.
    for (c, reasons) in found {
        let (oid, name, size) = hypothetical(tx, hypopg, c).await?;
        let (cost, plans) = workload_cost(tx, queries).await?;
        run(tx, &format!("SELECT {hypopg}.hypopg_drop_index($1::oid)"), &[json!(oid)], Window::ALL).await?;
        let used = uses_index(&plans, &name);
        reports.push(CandidateReport {
            table: format!("{}.{}", c.schema, c.table),
            columns: c.columns.clone(),
            create_statement: c.create(true),
            reasons: reasons.clone(),
            cost_with_index: Some(round2(cost)),
            improvement_percent: Some(round2(percent(before, cost))),
            used_by_planner: Some(used),
            estimated_size_bytes: Some(size),
            verdict: if !used {
                "not_used".into()
            } else if percent(before, cost) < threshold {
                "too_small_gain".into()
            } else {
                "redundant".into()
            },
        });
    }
    // Greedy rounds over the candidates that helped alone.
    let mut current = before;
    let mut chosen: Vec<usize> = Vec::new();
    let mut remaining: Vec<usize> = (0..found.len())
        .filter(|&i| {
            reports[i].used_by_planner == Some(true) && reports[i].improvement_percent.unwrap_or(0.0) >= threshold
        })
        .collect();
    while chosen.len() < max_indexes && !remaining.is_empty() {
        let mut best: Option<(usize, f64)> = None;
        for &i in &remaining {
            let (oid, _, _) = hypothetical(tx, hypopg, &found[i].0).await?;
            let (cost, _) = workload_cost(tx, queries).await?;
            run(tx, &format!("SELECT {hypopg}.hypopg_drop_index($1::oid)"), &[json!(oid)], Window::ALL).await?;
            // Prefer the cheaper cost, then the narrower index.
            let better = match best {
                None => true,
                Some((b, bc)) => {
                    cost < bc - 1e-9
                        || ((cost - bc).abs() < 1e-9 && found[i].0.columns.len() < found[b].0.columns.len())
                }
            };
            if better {
                best = Some((i, cost));
            }
        }
        let Some((i, cost)) = best else { break };
        if percent(current, cost) < threshold {
            break;
        }
        // Keep it for the next rounds.
        hypothetical(tx, hypopg, &found[i].0).await?;
        current = cost;
        chosen.push(i);
        remaining.retain(|&r| r != i);
    }
    let (after, plans) = workload_cost(tx, queries).await?;
    run(tx, &format!("SELECT {hypopg}.hypopg_reset()"), &[], Window::ALL).await?;
    for &i in &chosen {
        reports[i].verdict = "recommended".into();
    }
    advice.recommendations = chosen.iter().map(|&i| reports[i].clone()).collect();
    advice.total_cost_after = Some(round2(after));
    advice.queries = queries
        .iter()
        .zip(&plans)
        .map(|(q, (cost, _))| QueryReport {
            query: cut(&q.sql, 300),
            weight: q.weight,
            cost_before: round2(q.cost),
            cost_after: Some(round2(*cost)),
        })
        .collect();
    if advice.recommendations.is_empty() {
        advice.summary.push(format!(
            "No index recommended (verified with hypopg): no candidate lowers the planner's cost by {threshold}% or \
             more. {} candidate(s) considered.",
            reports.len()
        ));
    } else {
        advice.summary.push(format!(
            "Recommended {} index(es), verified with hypopg hypothetical indexes: total planner cost {:.2} -> {:.2} \
             (-{:.1}%).",
            advice.recommendations.len(),
            before,
            after,
            percent(before, after)
        ));
        for r in &advice.recommendations {
            advice.summary.push(format!(
                "{}; -- alone: cost -{:.1}%, ~{} KiB",
                r.create_statement,
                r.improvement_percent.unwrap_or(0.0),
                r.estimated_size_bytes.unwrap_or(0) / 1024
            ));
        }
    }
    advice.summary.push(
        "Costs are planner estimates from current statistics (ANALYZE first if they are stale); \
         CONCURRENTLY builds without blocking writes."
            .into(),
    );
    reports.sort_by(|a, b| {
        (a.verdict != "recommended")
            .cmp(&(b.verdict != "recommended"))
            .then(b.improvement_percent.unwrap_or(0.0).total_cmp(&a.improvement_percent.unwrap_or(0.0)))
    });
    advice.candidates = reports;
    Ok(())
}

/// Without hypopg: the candidates themselves, ranked, clearly unverified.
async fn heuristics(
    tx: &mut Tx,
    queries: &[Query],
    found: &[(Candidate, Vec<String>)],
    tables: &BTreeMap<(String, String), TableInfo>,
    advice: &mut Advice,
) -> Result<(), ToolError> {
    advice.method = "heuristic".into();
    let available = run(tx, "SELECT 1 FROM pg_available_extensions WHERE name = 'hypopg'", &[], Window::ALL).await?;
    let mut reports: Vec<(f64, CandidateReport)> = found
        .iter()
        .map(|(c, reasons)| {
            let rows = tables.get(&(c.schema.clone(), c.table.clone())).map(|t| t.rows).unwrap_or(0.0);
            let report = CandidateReport {
                table: format!("{}.{}", c.schema, c.table),
                columns: c.columns.clone(),
                create_statement: c.create(true),
                reasons: reasons.clone(),
                cost_with_index: None,
                improvement_percent: None,
                used_by_planner: None,
                estimated_size_bytes: None,
                verdict: if rows >= 1000.0 { "heuristic".into() } else { "small_table".into() },
            };
            (rows, report)
        })
        .collect();
    reports.sort_by(|a, b| b.0.total_cmp(&a.0));
    advice.recommendations =
        reports.iter().filter(|(rows, _)| *rows >= 1000.0).map(|(_, r)| r.clone()).take(5).collect();
    advice.candidates = reports.into_iter().map(|(_, r)| r).collect();
    advice.queries = queries
        .iter()
        .map(|q| QueryReport {
            query: cut(&q.sql, 300),
            weight: q.weight,
            cost_before: round2(q.cost),
            cost_after: None,
        })
        .collect();
    advice.summary.push(format!(
        "HEURISTIC, not verified: hypopg is not installed in this database, so these indexes were read from the \
         plans (filtered sequential scans, join and sort keys) and their effect was not measured. {}",
        if available.rows.is_empty() {
            "Install the hypopg package on the server and CREATE EXTENSION hypopg to have each candidate verified."
        } else {
            "hypopg is available on the server: CREATE EXTENSION hypopg (as a role allowed to) to have each \
             candidate verified by the planner."
        }
    ));
    if advice.recommendations.is_empty() {
        advice.summary.push("No candidate on a table of 1000 rows or more.".into());
    }
    for r in &advice.recommendations {
        advice.summary.push(format!("{}; -- {}", r.create_statement, r.reasons.join("; ")));
    }
    Ok(())
}

fn percent(before: f64, after: f64) -> f64 {
    if before <= 0.0 { 0.0 } else { (before - after) / before * 100.0 }
}

fn cut(s: &str, max: usize) -> String {
    match s.char_indices().nth(max) {
        Some((i, _)) => format!("{}…", &s[..i]),
        None => s.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn conditions_yield_columns_with_their_comparison() {
        let refs = column_refs("((t.a = 42) AND (t.b > $1) AND ((t.c)::text ~~ 'x%'::text) AND (t.d IS NULL))");
        assert_eq!(
            refs,
            vec![
                (Some("t".into()), "a".into(), Op::Eq),
                (Some("t".into()), "b".into(), Op::Range),
                (Some("t".into()), "c".into(), Op::Other),
                (Some("t".into()), "d".into(), Op::Eq),
            ]
        );
        let join = column_refs("(o.customer_id = c.id)");
        assert_eq!(join[1], (Some("c".into()), "id".into(), Op::Eq));
        let quoted = column_refs("(\"T\".\"Odd Name\" = lower('a''b'::text))");
        assert_eq!(quoted, vec![(Some("T".into()), "Odd Name".into(), Op::Eq)]);
    }

    #[test]
    fn identifiers_are_quoted_only_when_needed() {
        assert_eq!(ident("customer_id"), "customer_id");
        assert_eq!(ident("order"), "\"order\"");
        assert_eq!(ident("Mixed"), "\"Mixed\"");
    }

    #[test]
    fn a_filtered_seq_scan_proposes_its_columns() {
        let plan = json!([{"Plan": {"Node Type": "Seq Scan", "Schema": "s", "Relation Name": "t", "Alias": "t",
            "Filter": "((t.a = 1) AND (t.b >= 5))"}}]);
        let mut tables = BTreeMap::new();
        tables.insert(
            ("s".to_string(), "t".to_string()),
            TableInfo {
                columns: ["a", "b"].iter().map(|s| s.to_string()).collect(),
                rows: 5e4,
                indexable: true,
                ..Default::default()
            },
        );
        let found: Vec<Vec<String>> = candidates(&plan, &tables).into_iter().map(|(c, _)| c.columns).collect();
        assert!(found.contains(&vec!["a".to_string()]), "{found:?}");
        assert!(found.contains(&vec!["a".to_string(), "b".to_string()]), "{found:?}");
    }
}
