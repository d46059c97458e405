//! `index_advice`: candidate indexes from the plans of the queries to tune, verified
//! with hypothetical indexes (HypoPG) when available.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use mcp_core::protocol::CallToolResult;
use mcp_core::server::{IntoToolResult, schema_of};
use mcp_core::{Context, ToolError};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use sqlx::Executor as _;

use crate::access::Relations;
use crate::databases::{Database, Databases};
use crate::ident::quote_ident;
use crate::transaction::{Access, Tx, Window, run};

use super::candidates::{Candidate, TableInfo, candidates};
use super::savepoint;
use super::top_queries::stat_statements;

use crate::tools::plan_tree::{nodes, text};

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
    pub workload_size: Option<usize>,
    /// Which configured database (default: the first).
    pub database: Option<String>,
    /// Smallest cost reduction, in percent of the total, worth an index (default 10).
    pub min_improvement_percent: Option<f64>,
    /// Most indexes to recommend (default 5, at most 10).
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
        Ok(()) => tx.rollback(),
        Err(_) => tx.close(),
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

/// The (schema, table) of every scan node.
fn scans(plan: &Value) -> Vec<(String, String)> {
    nodes(plan)
        .into_iter()
        .filter_map(|n| Some((text(n, "Schema")?.to_string(), text(n, "Relation Name")?.to_string())))
        .collect()
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
    plans.iter().any(|(_, p)| nodes(p).iter().any(|n| text(n, "Index Name") == Some(index_name)))
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
