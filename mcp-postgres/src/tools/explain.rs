//! `explain`: a statement's plan as JSON, with the summary a reader wants first: the
//! nodes that cost most, the row estimates that were badly off, sequential scans of
//! large tables. With `hypothetical_indexes` (HypoPG), the plan as it would be with
//! those indexes, without building them.

use std::collections::HashMap;
use std::sync::Arc;

use mcp_core::protocol::CallToolResult;
use mcp_core::{Context, ToolError};
use schemars::JsonSchema;
use serde::Deserialize;
use serde_json::{Value, json};

use crate::access::Relations;
use crate::databases::Databases;
use crate::guard::plan;
use crate::ident::{quote_ident, quote_qualified};
use crate::transaction::{Access, Tx, Window, run};

use super::plan_tree::{nodes, number};

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ExplainArgs {
    /// The statement to explain (one statement, with $1, $2, ... for `params`).
    pub sql: String,
    /// Values for $1, $2, ... in order.
    #[serde(default)]
    pub params: Vec<Value>,
    /// Which configured database (default: the first).
    pub database: Option<String>,
    /// Run the statement to measure real rows and times (EXPLAIN ANALYZE, BUFFERS).
    /// Reading statements run in a read-only transaction; writes only when the server
    /// allows writes, and are rolled back.
    #[serde(default)]
    pub analyze: bool,
    /// Indexes to imagine (needs the hypopg extension): the plan shows whether the
    /// planner would use them. Not combinable with `analyze`.
    #[serde(default)]
    pub hypothetical_indexes: Vec<HypotheticalIndex>,
}

/// An index that does not exist, for the planner to consider.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct HypotheticalIndex {
    /// The table, `schema.table` or `table`.
    pub table: String,
    /// Its columns, in order.
    pub columns: Vec<String>,
    /// The index method (btree by default; hash, gist, gin, brin).
    pub using: Option<String>,
}

impl HypotheticalIndex {
    fn create_sql(&self) -> Result<String, ToolError> {
        if self.columns.is_empty() {
            return Err(ToolError::invalid_arguments("`hypothetical_indexes[].columns`: give at least one column"));
        }
        let using = self.using.as_deref().unwrap_or("btree").to_ascii_lowercase();
        if !["btree", "hash", "gist", "gin", "brin", "spgist"].contains(&using.as_str()) {
            return Err(ToolError::invalid_arguments(format!(
                "`hypothetical_indexes[].using`: `{using}` is not an index method (btree, hash, gist, gin, brin, spgist)"
            )));
        }
        let columns: Vec<String> = self.columns.iter().map(|c| quote_ident(c)).collect();
        Ok(format!("CREATE INDEX ON {} USING {using} ({})", quote_qualified(&self.table), columns.join(", ")))
    }
}

/// Explains `sql`, summarised.
pub async fn explain(dbs: Arc<Databases>, ctx: Context, args: ExplainArgs) -> Result<CallToolResult, ToolError> {
    // One statement of a kind `execute` would run, with no refused function.
    let statement = dbs.guard.check_write(&args.sql, crate::config::WriteMode::All)?;
    // ANALYZE of a write runs it (rolled back): the rules of a write pick the database.
    let (db, access) = if args.analyze && !statement.is_reading() {
        (dbs.for_write(args.database.as_deref())?.0, Access::ReadWrite)
    } else {
        (dbs.for_read(args.database.as_deref())?, Access::ReadOnly)
    };
    if args.analyze && !args.hypothetical_indexes.is_empty() {
        return Err(ToolError::invalid_arguments(
            "`hypothetical_indexes` cannot be combined with `analyze`: hypothetical indexes are never executed",
        ));
    }
    let mut tx = dbs.begin(&ctx, &db, access).await?;
    let relations = Relations::of(&ctx)?;
    // ANALYZE runs the statement: its plan is checked before. Without it, the plan is
    // only taken, and checked as it comes.
    if args.analyze {
        plan::check(&mut tx, &dbs.guard, &relations, &args.sql, &args.params).await?;
    }
    let result = plan_in(&mut tx, &args).await.and_then(|plan| {
        plan::check_plan(&plan, &dbs.guard, &relations).map_err(ToolError::refused)?;
        Ok(plan)
    });
    let sizes = match &result {
        Ok(plan) => scanned_sizes(&mut tx, plan).await,
        Err(_) => HashMap::new(),
    };
    if !args.hypothetical_indexes.is_empty() {
        // Hypothetical indexes live in the session, not the transaction.
        let _ = run(&mut tx, "SELECT hypopg_reset()", &[], Window::ALL).await;
    }
    tx.rollback();
    let plan = result?;
    let summary = summarize(&plan, &sizes);
    let mut text = summary.join("\n");
    text.push_str("\n\nPlan:\n");
    render_tree(plan.pointer("/0/Plan").unwrap_or(&Value::Null), 0, &mut text);
    Ok(CallToolResult::structured(text, json!({ "database": db.name, "summary": summary, "plan": plan })))
}

async fn plan_in(tx: &mut Tx, args: &ExplainArgs) -> Result<Value, ToolError> {
    if !args.hypothetical_indexes.is_empty() {
        // Decided on the catalog, not on an error's words: is hypopg installed here?
        let installed = run(tx, "SELECT 1 FROM pg_extension WHERE extname = 'hypopg'", &[], Window::ALL).await?;
        if installed.rows.is_empty() {
            return Err(ToolError::failed(
                "hypothetical indexes need the hypopg extension, which is not installed in this database \
                 (CREATE EXTENSION hypopg, as a privileged role)",
            ));
        }
    }
    for index in &args.hypothetical_indexes {
        let create = index.create_sql()?;
        run(tx, "SELECT indexrelid FROM hypopg_create_index($1)", &[Value::String(create)], Window::ALL).await?;
    }
    let options = if args.analyze { "ANALYZE, BUFFERS, VERBOSE, FORMAT JSON" } else { "VERBOSE, FORMAT JSON" };
    let rows = run(tx, &format!("EXPLAIN ({options}) {}", args.sql), &args.params, Window::ALL).await?;
    rows.rows.first().and_then(|r| r.get(0)).cloned().ok_or_else(|| ToolError::failed("EXPLAIN returned no plan"))
}

/// The estimated row count of each table the plan scans sequentially, by `schema.table`.
async fn scanned_sizes(tx: &mut Tx, plan: &Value) -> HashMap<String, f64> {
    let mut sizes = HashMap::new();
    for node in nodes(plan) {
        if node.get("Node Type").and_then(Value::as_str) != Some("Seq Scan") {
            continue;
        }
        let (Some(schema), Some(table)) =
            (node.get("Schema").and_then(Value::as_str), node.get("Relation Name").and_then(Value::as_str))
        else {
            continue;
        };
        let name = format!("{schema}.{table}");
        let sql = "SELECT c.reltuples::float8 FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace \
                   WHERE n.nspname = $1 AND c.relname = $2";
        let params = [Value::String(schema.into()), Value::String(table.into())];
        if let Ok(rows) = run(tx, sql, &params, Window::ALL).await
            && let Some(n) = rows.rows.first().and_then(|r| r.get(0)).and_then(Value::as_f64)
        {
            sizes.insert(name, n);
        }
    }
    sizes
}

fn label(node: &Value) -> String {
    let kind = node.get("Node Type").and_then(Value::as_str).unwrap_or("?");
    match (node.get("Schema").and_then(Value::as_str), node.get("Relation Name").and_then(Value::as_str)) {
        (Some(s), Some(r)) => format!("{kind} on {s}.{r}"),
        (None, Some(r)) => format!("{kind} on {r}"),
        _ => match node.get("Index Name").and_then(Value::as_str) {
            Some(i) => format!("{kind} using {i}"),
            None => kind.to_string(),
        },
    }
}

/// The findings worth reading before the plan itself.
pub fn summarize(plan: &Value, sizes: &HashMap<String, f64>) -> Vec<String> {
    let all = nodes(plan);
    let mut out = Vec::new();
    let Some(root) = all.first() else { return vec!["No plan.".into()] };
    let analyzed = root.get("Actual Total Time").is_some();
    out.push(format!(
        "Estimated total cost {:.2}, {} row(s){}",
        number(root, "Total Cost"),
        number(root, "Plan Rows"),
        if analyzed {
            format!(
                "; actual time {:.3} ms, {} row(s)",
                number(&plan[0], "Execution Time").max(number(root, "Actual Total Time")),
                number(root, "Actual Rows")
            )
        } else {
            String::new()
        }
    ));
    // Exclusive cost: what a node adds over its children.
    let mut costly: Vec<(f64, String)> = all
        .iter()
        .map(|n| {
            let children: f64 = n
                .get("Plans")
                .and_then(Value::as_array)
                .map(|c| c.iter().map(|c| number(c, "Total Cost")).sum())
                .unwrap_or(0.0);
            ((number(n, "Total Cost") - children).max(0.0), label(n))
        })
        .collect();
    costly.sort_by(|a, b| b.0.total_cmp(&a.0));
    for (cost, name) in costly.iter().take(3).filter(|(c, _)| *c > 0.0) {
        out.push(format!("Costly: {name} (own cost {cost:.2})"));
    }
    for n in &all {
        if n.get("Node Type").and_then(Value::as_str) == Some("Seq Scan") {
            let table = format!(
                "{}.{}",
                n.get("Schema").and_then(Value::as_str).unwrap_or_default(),
                n.get("Relation Name").and_then(Value::as_str).unwrap_or_default()
            );
            let size = sizes.get(&table).copied().unwrap_or(0.0);
            if size >= 10_000.0 {
                out.push(format!(
                    "Sequential scan of {size} rows: {}{}",
                    label(n),
                    n.get("Filter")
                        .and_then(Value::as_str)
                        .map(|f| format!(" filtering {f}; an index may help"))
                        .unwrap_or_default()
                ));
            }
        }
        if analyzed && n.get("Actual Rows").is_some() {
            let (planned, actual) = (number(n, "Plan Rows").max(1.0), number(n, "Actual Rows").max(1.0));
            let ratio = if actual > planned { actual / planned } else { planned / actual };
            if ratio >= 10.0 {
                out.push(format!(
                    "Misestimate: {} planned {} row(s), got {} ({ratio:.0}x off); ANALYZE the table or add statistics",
                    label(n),
                    number(n, "Plan Rows"),
                    number(n, "Actual Rows")
                ));
            }
        }
    }
    for n in &all {
        if let Some(index) = n.get("Index Name").and_then(Value::as_str)
            && index.starts_with('<')
        {
            out.push(format!("The planner would use hypothetical index {index} ({})", label(n)));
        }
    }
    out
}

fn render_tree(node: &Value, depth: usize, out: &mut String) {
    if node.is_null() {
        return;
    }
    out.push_str(&"  ".repeat(depth));
    out.push_str(&format!(
        "-> {} (cost={:.2}..{:.2} rows={}",
        label(node),
        number(node, "Startup Cost"),
        number(node, "Total Cost"),
        number(node, "Plan Rows")
    ));
    if node.get("Actual Rows").is_some() {
        out.push_str(&format!(
            ") (actual time={:.3}..{:.3} rows={} loops={}",
            number(node, "Actual Startup Time"),
            number(node, "Actual Total Time"),
            number(node, "Actual Rows"),
            number(node, "Actual Loops")
        ));
    }
    out.push_str(")\n");
    for key in ["Index Cond", "Hash Cond", "Filter", "Join Filter"] {
        if let Some(cond) = node.get(key).and_then(Value::as_str) {
            out.push_str(&format!("{}   {key}: {cond}\n", "  ".repeat(depth)));
        }
    }
    if let Some(Value::Array(children)) = node.get("Plans") {
        children.iter().for_each(|c| render_tree(c, depth + 1, out));
    }
}
