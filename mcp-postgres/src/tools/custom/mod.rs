//! Tools an operator defines in a file (`--tools-file`): named, parameterized statements
//! with typed parameters, served as ordinary tools (annotated, selected by tier and
//! toolset, under the policy). Read tools run like `query` (read-only transaction, plan
//! guard, bounded rows); write tools like `execute` (listed only with --allow-write,
//! destructive, so --confirm-destructive asks first). Arguments are bound with their
//! declared types, never put in the text. The file is read again on SIGHUP.

mod file;
mod params;

use std::path::PathBuf;
use std::sync::{Arc, OnceLock};

use mcp_core::server::{ServerBuilder, ToolRoute};
use mcp_core::{Context, Server, ToolError, tool};
use serde_json::{Map, Value, json};
use sqlx::postgres::PgTypeInfo;

pub use file::CustomTool;

use crate::access::Relations;
use crate::databases::Databases;
use crate::guard::plan;
use crate::output::Table;
use crate::transaction::{Access, Window, run_declared};

/// The server's replaceable group these tools form.
const GROUP: &str = "custom";

/// Where the tools come from, and the built-in names they may not take.
#[derive(Debug, Default)]
pub struct Source {
    pub path: Option<PathBuf>,
    builtin: OnceLock<Vec<String>>,
}

impl Source {
    pub fn new(path: Option<PathBuf>) -> Self {
        Self { path, builtin: OnceLock::new() }
    }

    /// The tools of the file as routes (none without a file).
    fn routes(&self, dbs: &Arc<Databases>) -> Result<Vec<ToolRoute>, String> {
        let Some(path) = &self.path else { return Ok(Vec::new()) };
        let builtin = self.builtin.get().map(Vec::as_slice).unwrap_or_default();
        let tools = file::load(path, dbs, &|name| builtin.iter().any(|b| b == name))?;
        Ok(tools.into_iter().map(|t| route(dbs, t)).collect())
    }
}

/// Adds the file's tools as the group `custom`, after every built-in tool: a bad file is
/// a start-up error naming the tool and its line.
pub fn register(builder: ServerBuilder, dbs: &Arc<Databases>, source: &Source) -> ServerBuilder {
    let _ = source.builtin.set(builder.tools().map(|t| t.definition().name.clone()).collect());
    match source.routes(dbs) {
        Ok(routes) => builder.tool_group(GROUP, routes),
        Err(e) => builder.fail(e),
    }
}

/// Reads the file again on every SIGHUP: a valid file replaces the tools (clients hear
/// `notifications/tools/list_changed` when the list changed), an invalid one is reported
/// on stderr and the tools stay as they were.
pub fn reload_on_hangup(server: Server, dbs: Arc<Databases>, source: Arc<Source>) {
    let Some(path) = source.path.clone() else { return };
    tokio::spawn(async move {
        let mut hangups = match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup()) {
            Ok(s) => s,
            Err(e) => {
                tracing::error!("cannot listen for SIGHUP, the tools file will not be reloaded: {e}");
                return;
            }
        };
        while hangups.recv().await.is_some() {
            let outcome = source.routes(&dbs).and_then(|routes| server.replace_tool_group(GROUP, routes));
            match outcome {
                Ok(changed) => {
                    tracing::info!(file = %path.display(), changed, "tools file reloaded");
                }
                Err(e) => tracing::error!("tools file not reloaded, the previous tools stay: {e}"),
            }
        }
    });
}

/// One tool of the file as a route: its schema from the parameters, its annotations from
/// `write`.
fn route(dbs: &Arc<Databases>, custom: CustomTool) -> ToolRoute {
    let schema = input_schema(&custom);
    let description = format!(
        "{} ({} tool defined by the operator{})",
        custom.description.trim_end(),
        if custom.write { "writing" } else { "read-only" },
        custom.database.as_ref().map(|d| format!(", on database `{d}`")).unwrap_or_default()
    );
    let (toolset, write) = (custom.toolset.clone(), custom.write);
    let state = Arc::new((dbs.clone(), Arc::new(custom)));
    let base = tool(state.1.name.clone(), move |ctx: Context, args: Value| call(state.clone(), ctx, args))
        .description(description)
        .input_schema(schema)
        .toolset(toolset);
    if write { base.destructive() } else { base.read_only().idempotent() }
}

/// The input schema: one property per parameter (type, description, default, enum),
/// required unless it has a default; read tools also take `offset`.
fn input_schema(custom: &CustomTool) -> Value {
    let mut properties = Map::new();
    let mut required = Vec::new();
    for p in &custom.params {
        let mut schema = p.ty.schema();
        schema["description"] = Value::String(p.description.clone());
        if let Some(d) = &p.default {
            schema["default"] = d.clone();
        } else {
            required.push(p.name.clone());
        }
        if let Some(allowed) = &p.allowed {
            schema["enum"] = Value::Array(allowed.clone());
        }
        properties.insert(p.name.clone(), schema);
    }
    if !custom.write {
        properties.insert(
            file::OFFSET.into(),
            json!({"type": "integer", "minimum": 0, "description": "Rows to skip: the `nextOffset` a cut result gave"}),
        );
    }
    json!({"type": "object", "properties": properties, "required": required, "additionalProperties": false})
}

/// The arguments in `$n` order, each checked against its declaration, and the offset.
fn arguments(custom: &CustomTool, args: &Value) -> Result<(Vec<Value>, usize), ToolError> {
    let empty = Map::new();
    let given = args.as_object().unwrap_or(&empty);
    let bad = |e: String| ToolError::invalid_arguments(e);
    if let Some(unknown) = given.keys().find(|k| {
        let paging = !custom.write && k.as_str() == file::OFFSET;
        !paging && !custom.params.iter().any(|p| &p.name == *k)
    }) {
        let names: Vec<&str> = custom.params.iter().map(|p| p.name.as_str()).collect();
        return Err(bad(format!("unknown argument `{unknown}`; `{}` takes: {}", custom.name, names.join(", "))));
    }
    let mut values = Vec::with_capacity(custom.params.len());
    for p in &custom.params {
        let value = match (given.get(&p.name), &p.default) {
            (Some(v), _) => v.clone(),
            (None, Some(d)) => d.clone(),
            (None, None) => return Err(bad(format!("`{}` is required: {}", p.name, p.description))),
        };
        p.ty.check(&value).map_err(|e| bad(format!("`{}`: {e}", p.name)))?;
        if let Some(allowed) = &p.allowed
            && !allowed.contains(&value)
        {
            let list: Vec<String> = allowed.iter().map(Value::to_string).collect();
            return Err(bad(format!("`{}`: {value} is not one of {}", p.name, list.join(", "))));
        }
        values.push(value);
    }
    let offset = match given.get(file::OFFSET) {
        None => 0,
        Some(v) => v
            .as_u64()
            .and_then(|n| usize::try_from(n).ok())
            .ok_or_else(|| bad(format!("`offset`: expected a non-negative integer, got {v}")))?,
    };
    Ok((values, offset))
}

/// Runs one call of an operator's tool.
async fn call(state: Arc<(Arc<Databases>, Arc<CustomTool>)>, ctx: Context, args: Value) -> Result<Table, ToolError> {
    let (dbs, custom) = (&state.0, &state.1);
    let (values, offset) = arguments(custom, &args)?;
    let types: Vec<PgTypeInfo> = custom.params.iter().map(|p| p.ty.pg()).collect();
    let relations = Relations::of(&ctx)?;
    let settings = &dbs.settings;
    let window =
        Window { offset, max_rows: settings.max_rows, max_bytes: settings.max_result_bytes, stop_early: !custom.write };
    if !custom.write {
        let db = dbs.for_read(custom.database.as_deref())?;
        let mut tx = dbs.begin(&ctx, &db, Access::ReadOnly).await?;
        if custom.kind != "show" {
            plan::check_declared(&mut tx, &dbs.guard, &relations, &custom.statement, &values, &types).await?;
        }
        let rows = run_declared(&mut tx, &custom.statement, &values, &types, window).await?;
        tx.rollback();
        return Ok(Table { database: db.name.clone(), rows, offset, rows_affected: None, note: None, user_sql: false });
    }
    let (db, _) = dbs.for_write(custom.database.as_deref())?;
    let mut tx = dbs.begin(&ctx, &db, Access::ReadWrite).await?;
    if matches!(custom.kind.as_str(), "insert" | "update" | "delete" | "merge" | "with") {
        plan::check_declared(&mut tx, &dbs.guard, &relations, &custom.statement, &values, &types).await?;
    } else if relations.restricts() {
        return Err(ToolError::refused(
            "schema changes are not available under an access policy that restricts schemas or tables",
        ));
    }
    let rows = run_declared(&mut tx, &custom.statement, &values, &types, window).await?;
    let affected = rows.rows_affected;
    tx.commit().await?;
    Ok(Table { database: db.name.clone(), rows, offset: 0, rows_affected: Some(affected), note: None, user_sql: false })
}
