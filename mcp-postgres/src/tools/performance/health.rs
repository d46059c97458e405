//! `database_health`: PgHero-style checks, each with a status, a summary and the
//! objects at fault.

use std::collections::BTreeMap;
use std::sync::Arc;

use mcp_core::protocol::CallToolResult;
use mcp_core::server::{IntoToolResult, schema_of};
use mcp_core::{Context, ToolError};
use schemars::JsonSchema;
use serde::Serialize;
use serde_json::{Map, Value, json};

use crate::access::Relations;
use crate::databases::Databases;
use crate::transaction::{Access, Rows, Window, run};

use super::health_checks::{ALL_CHECKS, Check, check_sql};
use super::savepoint;

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

mcp_core::tool_args! {
    database: "Which configured database (default: the first).";
    pub struct HealthArgs {
        /// The checks to run (default: all): connections, cache_hit, table_bloat, vacuum,
        /// wraparound, sequences, long_running_queries, blocked_queries, unused_indexes,
        /// duplicate_indexes, invalid_indexes, invalid_constraints, replication,
        /// role_privileges.
        #[serde(default)]
        pub checks: Vec<Check>,
        /// Most findings listed per check (default 10, at most 100).
        pub limit: Option<usize>,
        /// A query running (or a transaction idle) this many seconds is long (default 300).
        pub long_running_seconds: Option<f64>,
    }
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
    tx.rollback();
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
