//! Exploring a database: its schemas, objects, tables in detail, functions, extensions,
//! enums and sequences, and a search across every kind of object.
//!
//! Every list is one catalog query with bound parameters, ordered, paged by `offset` /
//! `limit` and cut to the byte budget, so `truncated` and `nextOffset` are exact. The
//! access policy's rules are globs, which SQL cannot match; so a restricted call first
//! works out, in Rust, which schemas it may see and which relations it may not, and binds
//! those as arrays ($1, $2). Filtering therefore happens before paging, and a denied
//! object is never counted, listed, described or found.

use std::fmt::Write as _;
use std::sync::Arc;

use mcp_core::output::Rendered;
use mcp_core::server::ServerBuilder;
use mcp_core::{Context, ToolError};
use schemars::JsonSchema;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

use crate::access::Relations;
use crate::databases::{Database, Databases};
use crate::output::Table;
use crate::transaction::{Access, Tx, Window, run};
use mcp_core::tool_with;

/// Rows a list returns when the call gives no `limit`.
const DEFAULT_LIMIT: usize = 100;

/// Schemas Postgres itself owns: `pg_catalog`, `pg_toast`, `pg_temp_N`, ... (user
/// schemas cannot start with `pg_`) and `information_schema`.
const SYSTEM: &str = "(n.nspname LIKE 'pg\\_%' OR n.nspname = 'information_schema')";

/// The schemas visible to the caller (`$1`, NULL = all).
const NS_VISIBLE: &str = "($1::text[] IS NULL OR n.nspname::text = ANY($1::text[]))";

/// The relations (`c`) visible to the caller: its schema visible and not denied (`$2`).
const REL_VISIBLE: &str = "($1::text[] IS NULL OR n.nspname::text = ANY($1::text[])) \
                           AND ($2::int8[] IS NULL OR c.oid::int8 <> ALL($2::int8[]))";

/// What the calling client may see, as values to bind into catalog SQL.
pub(crate) struct Scope {
    pub relations: Relations,
    /// `$1`: the schemas it may see; `Null` when every schema is allowed.
    schemas: Value,
    /// `$2`: the relations (oids) it may not see; `Null` when none are denied.
    denied: Value,
}

impl Scope {
    /// Works out the client's scope inside `tx` (two catalog reads, only under a policy
    /// that restricts schemas or tables).
    pub async fn load(ctx: &Context, tx: &mut Tx) -> Result<Scope, ToolError> {
        let relations = Relations::of(ctx)?;
        if !relations.restricts() {
            return Ok(Scope { relations, schemas: Value::Null, denied: Value::Null });
        }
        let names = run(tx, "SELECT nspname::text FROM pg_namespace ORDER BY 1", &[], Window::ALL).await?;
        let schemas: Vec<Value> = names
            .rows
            .into_iter()
            .filter_map(|row| row.get(0).and_then(Value::as_str).map(str::to_string))
            .filter(|s| relations.schema_allowed(s))
            .map(Value::String)
            .collect();
        let schemas = Value::Array(schemas);
        // A sequence a table owns (serial, identity) goes with its table.
        let sql = "SELECT c.oid::int8, n.nspname::text, c.relname::text, tn.nspname::text, t.relname::text
                   FROM pg_class c
                   JOIN pg_namespace n ON n.oid = c.relnamespace
                   LEFT JOIN pg_depend d ON c.relkind = 'S' AND d.classid = 'pg_class'::regclass AND d.objid = c.oid
                        AND d.refclassid = 'pg_class'::regclass AND d.deptype IN ('a', 'i')
                   LEFT JOIN pg_class t ON t.oid = d.refobjid
                   LEFT JOIN pg_namespace tn ON tn.oid = t.relnamespace
                   WHERE c.relkind IN ('r', 'p', 'v', 'm', 'f', 'S') AND n.nspname::text = ANY($1::text[])";
        let rels = run(tx, sql, std::slice::from_ref(&schemas), Window::ALL).await?;
        let text = |row: &Value, i: usize| row.get(i).and_then(Value::as_str).map(str::to_string);
        let denied: Vec<Value> = rels
            .rows
            .iter()
            .filter(|row| {
                let (Some(schema), Some(name)) = (text(row, 1), text(row, 2)) else { return false };
                let owner_denied = match (text(row, 3), text(row, 4)) {
                    (Some(s), Some(t)) => !relations.table_allowed(&s, &t),
                    _ => false,
                };
                owner_denied || !relations.table_allowed(&schema, &name)
            })
            .filter_map(|row| row.get(0).cloned())
            .collect();
        Ok(Scope { relations, schemas, denied: Value::Array(denied) })
    }

    /// `[$1]`, for SQL that filters schemas only.
    pub(crate) fn schema_params(&self) -> Vec<Value> {
        vec![self.schemas.clone()]
    }

    /// `[$1, $2]`, for SQL that filters relations.
    pub(crate) fn relation_params(&self) -> Vec<Value> {
        vec![self.schemas.clone(), self.denied.clone()]
    }
}

/// The rows a list call returns.
fn window(dbs: &Databases, offset: usize, limit: Option<usize>) -> Window {
    let max = dbs.settings.max_rows;
    Window {
        offset,
        max_rows: limit.unwrap_or(DEFAULT_LIMIT.min(max)).clamp(1, max),
        max_bytes: dbs.settings.max_result_bytes,
        stop_early: true,
    }
}

/// `name` as an ILIKE pattern: a `%` makes it a pattern as given, otherwise it is a
/// substring (its `_`, `%` and `\` taken literally).
pub(crate) fn like_pattern(pattern: Option<&str>) -> Value {
    match pattern.map(str::trim).filter(|p| !p.is_empty()) {
        None => Value::Null,
        Some(p) if p.contains('%') => Value::String(p.to_string()),
        Some(p) => {
            let mut out = String::from("%");
            for c in p.chars() {
                if matches!(c, '%' | '_' | '\\') {
                    out.push('\\');
                }
                out.push(c);
            }
            out.push('%');
            Value::String(out)
        }
    }
}

fn opt_str(value: &Option<String>) -> Value {
    match value.as_deref().map(str::trim).filter(|s| !s.is_empty()) {
        Some(s) => Value::String(s.to_string()),
        None => Value::Null,
    }
}

/// Runs one list query in a read-only transaction: the caller's scope is bound first,
/// then `build` gives the SQL and the remaining parameters.
async fn list(
    dbs: &Databases,
    ctx: &Context,
    database: Option<&str>,
    window: Window,
    note: Option<String>,
    build: impl FnOnce(&Scope) -> (String, Vec<Value>),
) -> Result<Table, ToolError> {
    let db = dbs.for_read(database)?;
    let mut tx = dbs.begin(ctx, &db, Access::ReadOnly).await?;
    let scope = Scope::load(ctx, &mut tx).await?;
    let (sql, params) = build(&scope);
    let rows = run(&mut tx, &sql, &params, window).await?;
    tx.rollback().await?;
    let note = note.filter(|_| rows.rows.is_empty());
    Ok(Table { database: db.name.clone(), rows, offset: window.offset, rows_affected: None, note, user_sql: false })
}

/// Rows of `sql` as JSON objects, inside `tx`.
async fn objects(tx: &mut Tx, sql: &str, params: &[Value]) -> Result<Vec<Map<String, Value>>, ToolError> {
    let rows = run(tx, sql, params, Window::ALL).await?;
    let names: Vec<String> = rows.columns.iter().map(|c| c.name.clone()).collect();
    Ok(rows
        .rows
        .into_iter()
        .map(|row| match row {
            Value::Array(values) => names.iter().cloned().zip(values).collect(),
            _ => Map::new(),
        })
        .collect())
}

/// Rows of `sql` read into `T` (SQL column aliases match `T`'s field names).
async fn typed<T: DeserializeOwned>(tx: &mut Tx, sql: &str, params: &[Value]) -> Result<Vec<T>, ToolError> {
    objects(tx, sql, params)
        .await?
        .into_iter()
        .map(|m| {
            serde_json::from_value(Value::Object(m))
                .map_err(|e| ToolError::failed(format!("unexpected catalog row ({e}); please report this")))
        })
        .collect()
}

/// `1.5 MB` from bytes, as `pg_size_pretty` would (powers of 1024).
pub(crate) fn pretty_bytes(bytes: i64) -> String {
    const UNITS: [&str; 5] = ["bytes", "kB", "MB", "GB", "TB"];
    let mut value = bytes as f64;
    let mut unit = 0;
    while value.abs() >= 10.0 * 1024.0 && unit < UNITS.len() - 1 {
        value /= 1024.0;
        unit += 1;
    }
    if unit == 0 { format!("{bytes} bytes") } else { format!("{} {}", value.round(), UNITS[unit]) }
}

// ---------------------------------------------------------------------------------------
// list_databases

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ListDatabasesArgs {
    /// Only this configured database (default: all of them).
    #[serde(default)]
    pub database: Option<String>,
    /// Also list template databases (template0, template1).
    #[serde(default)]
    pub include_templates: bool,
    /// Most server databases to list per configured database (default 100).
    #[serde(default)]
    pub limit: Option<usize>,
    /// Server databases to skip (per configured database), to page on.
    #[serde(default)]
    pub offset: usize,
}

/// The configured databases and what each server holds.
#[derive(Debug, Serialize, JsonSchema)]
pub struct DatabaseList {
    /// One entry per configured database, in configuration order (the first is the default).
    pub databases: Vec<ConfiguredDatabase>,
}

/// A database the connector is configured with.
#[derive(Debug, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ConfiguredDatabase {
    /// The name tools take as `database`.
    pub name: String,
    /// What it holds, from the configuration.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Whether writes are refused (configured read-only, or the server runs without --allow-write).
    pub read_only: bool,
    /// Whether it answered now.
    pub reachable: bool,
    /// Why it did not answer.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// The database the connection opens.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub current_database: Option<String>,
    /// The role the connector runs as.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user: Option<String>,
    /// The server's version.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub server_version: Option<String>,
    /// The databases on that server (pg_database), by name.
    pub server_databases: Vec<ServerDatabase>,
    /// Whether more server databases exist than were listed.
    pub truncated: bool,
    /// The `offset` that lists the next ones, when truncated.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_offset: Option<usize>,
}

/// A database on a server.
#[derive(Debug, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ServerDatabase {
    pub name: String,
    /// Size in bytes (absent when the role may not connect to it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub size_bytes: Option<i64>,
    /// Size, readable.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub size: Option<String>,
    pub encoding: String,
    pub collation: String,
    /// A template database.
    pub template: bool,
    /// Whether connections are allowed.
    pub allow_connections: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub comment: Option<String>,
}

/// Lists the configured databases and, for each that answers, the server's databases.
pub async fn list_databases(
    dbs: Arc<Databases>,
    ctx: Context,
    args: ListDatabasesArgs,
) -> Result<Rendered<DatabaseList>, ToolError> {
    let chosen: Vec<Arc<Database>> = match &args.database {
        Some(name) => vec![dbs.for_read(Some(name))?],
        None => dbs.all().to_vec(),
    };
    let limit = args.limit.unwrap_or(DEFAULT_LIMIT).clamp(1, dbs.settings.max_rows);
    let probes = chosen.iter().map(|db| describe_server(&dbs, &ctx, db, &args, limit));
    let databases = futures::future::join_all(probes).await;
    let mut text = String::new();
    for d in &databases {
        let _ = write!(text, "{}{}", d.name, if d.read_only { " (read-only)" } else { "" });
        if let Some(desc) = &d.description {
            let _ = write!(text, ": {desc}");
        }
        text.push('\n');
        match &d.error {
            Some(e) => {
                let _ = writeln!(text, "  unreachable: {e}");
            }
            None => {
                let _ = writeln!(
                    text,
                    "  connected to {} as {}, {}",
                    d.current_database.as_deref().unwrap_or("?"),
                    d.user.as_deref().unwrap_or("?"),
                    d.server_version.as_deref().unwrap_or("?")
                );
                let _ = writeln!(text, "  server databases (name\tsize\tencoding\tcollation):");
                for s in &d.server_databases {
                    let _ = writeln!(
                        text,
                        "  {}\t{}\t{}\t{}{}",
                        s.name,
                        s.size.as_deref().unwrap_or("-"),
                        s.encoding,
                        s.collation,
                        if s.template { "\ttemplate" } else { "" }
                    );
                }
                if let Some(next) = d.next_offset {
                    let _ = writeln!(text, "  more server databases: list them with offset={next}");
                }
            }
        }
    }
    Ok(Rendered { text, data: DatabaseList { databases } })
}

async fn describe_server(
    dbs: &Databases,
    ctx: &Context,
    db: &Arc<Database>,
    args: &ListDatabasesArgs,
    limit: usize,
) -> ConfiguredDatabase {
    let mut out = ConfiguredDatabase {
        name: db.name.clone(),
        description: db.description.clone(),
        read_only: db.read_only || !dbs.settings.allow_write,
        reachable: false,
        error: None,
        current_database: None,
        user: None,
        server_version: None,
        server_databases: Vec::new(),
        truncated: false,
        next_offset: None,
    };
    match probe(dbs, ctx, db, args, limit, &mut out).await {
        Ok(()) => out.reachable = true,
        Err(e) => out.error = Some(e.to_string()),
    }
    out
}

async fn probe(
    dbs: &Databases,
    ctx: &Context,
    db: &Arc<Database>,
    args: &ListDatabasesArgs,
    limit: usize,
    out: &mut ConfiguredDatabase,
) -> Result<(), ToolError> {
    let mut tx = dbs.begin(ctx, db, Access::ReadOnly).await?;
    let who = objects(
        &mut tx,
        "SELECT current_database()::text AS db, current_user::text AS usr, current_setting('server_version') AS version",
        &[],
    )
    .await?;
    let field = |k: &str| who.first().and_then(|m| m.get(k)).and_then(Value::as_str).map(str::to_string);
    out.current_database = field("db");
    out.user = field("usr");
    out.server_version = field("version").map(|v| format!("PostgreSQL {v}"));
    let sql = "SELECT x.*, pg_size_pretty(x.\"sizeBytes\") AS size FROM (
                 SELECT d.datname::text AS name,
                        CASE WHEN has_database_privilege(d.oid, 'CONNECT') THEN pg_database_size(d.oid) END AS \"sizeBytes\",
                        pg_encoding_to_char(d.encoding)::text AS encoding, d.datcollate::text AS collation,
                        d.datistemplate AS template, d.datallowconn AS \"allowConnections\",
                        shobj_description(d.oid, 'pg_database') AS comment
                 FROM pg_database d WHERE $1::bool OR NOT d.datistemplate) x
               ORDER BY x.name OFFSET $2::int8 LIMIT $3::int8";
    let params = [json!(args.include_templates), json!(args.offset), json!(limit + 1)];
    let mut list: Vec<ServerDatabase> = typed(&mut tx, sql, &params).await?;
    tx.rollback().await?;
    if list.len() > limit {
        list.truncate(limit);
        out.truncated = true;
        out.next_offset = Some(args.offset + limit);
    }
    out.server_databases = list;
    Ok(())
}

// ---------------------------------------------------------------------------------------
// list_schemas

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ListSchemasArgs {
    /// Which configured database (default: the first).
    #[serde(default)]
    pub database: Option<String>,
    /// Only schemas whose name contains this (case-insensitive), or matches it as an
    /// ILIKE pattern when it contains `%`.
    #[serde(default)]
    pub pattern: Option<String>,
    /// Also list Postgres's own schemas (pg_catalog, information_schema, pg_toast).
    #[serde(default)]
    pub include_system: bool,
    /// Rows to skip: pass the `nextOffset` of a truncated result.
    #[serde(default)]
    pub offset: usize,
    /// Most rows to return (default 100).
    #[serde(default)]
    pub limit: Option<usize>,
}

/// Lists schemas with their owner and how many objects of each kind they hold.
pub async fn list_schemas(dbs: Arc<Databases>, ctx: Context, args: ListSchemasArgs) -> Result<Table, ToolError> {
    let window = window(&dbs, args.offset, args.limit);
    let note = Some("No schema matches.".to_string());
    list(&dbs, &ctx, args.database.as_deref(), window, note, |scope| {
        let sql = format!(
            "SELECT n.nspname::text AS schema, pg_get_userbyid(n.nspowner)::text AS owner,
                    count(c.oid) FILTER (WHERE c.relkind IN ('r', 'p') AND NOT c.relispartition) AS tables,
                    count(c.oid) FILTER (WHERE c.relkind = 'v') AS views,
                    count(c.oid) FILTER (WHERE c.relkind = 'm') AS materialized_views,
                    count(c.oid) FILTER (WHERE c.relkind = 'f') AS foreign_tables,
                    count(c.oid) FILTER (WHERE c.relkind = 'S') AS sequences,
                    (SELECT count(*) FROM pg_proc p WHERE p.pronamespace = n.oid) AS functions,
                    obj_description(n.oid, 'pg_namespace') AS comment
             FROM pg_namespace n
             LEFT JOIN pg_class c ON c.relnamespace = n.oid AND c.relkind IN ('r', 'p', 'v', 'm', 'f', 'S')
                  AND ($2::int8[] IS NULL OR c.oid::int8 <> ALL($2::int8[]))
             WHERE {NS_VISIBLE} AND ($3::bool OR NOT {SYSTEM}) AND ($4::text IS NULL OR n.nspname ILIKE $4::text)
             GROUP BY n.oid, n.nspname, n.nspowner
             ORDER BY n.nspname"
        );
        let mut params = scope.relation_params();
        params.extend([json!(args.include_system), like_pattern(args.pattern.as_deref())]);
        (sql, params)
    })
    .await
}

// ---------------------------------------------------------------------------------------
// list_objects

/// A kind of relation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum ObjectKind {
    /// Tables, partitioned ones included.
    Table,
    View,
    MaterializedView,
    ForeignTable,
    Sequence,
}

impl ObjectKind {
    fn relkinds(self) -> &'static [&'static str] {
        match self {
            ObjectKind::Table => &["r", "p"],
            ObjectKind::View => &["v"],
            ObjectKind::MaterializedView => &["m"],
            ObjectKind::ForeignTable => &["f"],
            ObjectKind::Sequence => &["S"],
        }
    }
}

/// The order of `list_objects`.
#[derive(Debug, Clone, Copy, Default, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum ObjectSort {
    /// By schema, then name.
    #[default]
    Name,
    /// Largest total size (table + indexes + TOAST) first.
    Size,
    /// Most rows (estimated) first.
    Rows,
}

/// `CASE c.relkind ...` as the kind names the tools take.
const KIND_NAME: &str = "CASE c.relkind WHEN 'r' THEN 'table' WHEN 'p' THEN 'partitioned_table' WHEN 'v' THEN 'view' \
                         WHEN 'm' THEN 'materialized_view' WHEN 'f' THEN 'foreign_table' WHEN 'S' THEN 'sequence' \
                         WHEN 'i' THEN 'index' WHEN 'I' THEN 'index' ELSE c.relkind::text END";

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ListObjectsArgs {
    /// Which configured database (default: the first).
    #[serde(default)]
    pub database: Option<String>,
    /// Only this schema (exact name); default: every schema but Postgres's own.
    #[serde(default)]
    pub schema: Option<String>,
    /// Only these kinds (default: all): table, view, materialized_view, foreign_table, sequence.
    #[serde(default)]
    pub kinds: Vec<ObjectKind>,
    /// Only objects whose name contains this (case-insensitive), or matches it as an
    /// ILIKE pattern when it contains `%`.
    #[serde(default)]
    pub pattern: Option<String>,
    /// Order: `name` (default), `size` (largest first) or `rows` (most first).
    #[serde(default)]
    pub sort: ObjectSort,
    /// Also list the partitions of partitioned tables (hidden by default: the parent stands for them).
    #[serde(default)]
    pub include_partitions: bool,
    /// Also list objects in Postgres's own schemas (when `schema` is not given).
    #[serde(default)]
    pub include_system: bool,
    /// Rows to skip: pass the `nextOffset` of a truncated result.
    #[serde(default)]
    pub offset: usize,
    /// Most rows to return (default 100).
    #[serde(default)]
    pub limit: Option<usize>,
}

/// Lists tables, views, materialized views, foreign tables and sequences.
pub async fn list_objects(dbs: Arc<Databases>, ctx: Context, args: ListObjectsArgs) -> Result<Table, ToolError> {
    let window = window(&dbs, args.offset, args.limit);
    let kinds: Vec<ObjectKind> = if args.kinds.is_empty() {
        vec![
            ObjectKind::Table,
            ObjectKind::View,
            ObjectKind::MaterializedView,
            ObjectKind::ForeignTable,
            ObjectKind::Sequence,
        ]
    } else {
        args.kinds.clone()
    };
    let relkinds: Vec<Value> = kinds.iter().flat_map(|k| k.relkinds()).map(|k| json!(k)).collect();
    let order = match args.sort {
        ObjectSort::Name => "x.schema, x.name",
        ObjectSort::Size => "x.size_bytes DESC NULLS LAST, x.schema, x.name",
        ObjectSort::Rows => "x.row_estimate DESC NULLS LAST, x.schema, x.name",
    };
    let note = Some(match &args.schema {
        Some(s) => format!("No matching object in schema `{s}` (or the schema is not visible to this client)."),
        None => "No matching object.".to_string(),
    });
    list(&dbs, &ctx, args.database.as_deref(), window, note, |scope| {
        let sql = format!(
            "SELECT x.schema, x.name, x.kind, x.row_estimate, pg_size_pretty(x.size_bytes) AS size, x.size_bytes, x.comment
             FROM (
               SELECT n.nspname::text AS schema, c.relname::text AS name, {KIND_NAME} AS kind,
                      CASE WHEN c.relkind IN ('r', 'p', 'm', 'f') AND c.reltuples >= 0 THEN c.reltuples::int8 END AS row_estimate,
                      CASE WHEN c.relkind = 'p' THEN
                             (SELECT sum(pg_total_relation_size(t.relid))::int8 FROM pg_partition_tree(c.oid) t)
                           WHEN c.relkind IN ('r', 'm', 'S') THEN pg_total_relation_size(c.oid) END AS size_bytes,
                      obj_description(c.oid, 'pg_class') AS comment
               FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
               WHERE c.relkind::text = ANY($3::text[]) AND {REL_VISIBLE}
                 AND ($4::text IS NULL OR n.nspname::text = $4::text)
                 AND ($4::text IS NOT NULL OR $5::bool OR NOT {SYSTEM})
                 AND ($6::text IS NULL OR c.relname ILIKE $6::text)
                 AND ($7::bool OR NOT c.relispartition)
             ) x
             ORDER BY {order}"
        );
        let mut params = scope.relation_params();
        params.extend([
            Value::Array(relkinds),
            opt_str(&args.schema),
            json!(args.include_system),
            like_pattern(args.pattern.as_deref()),
            json!(args.include_partitions),
        ]);
        (sql, params)
    })
    .await
}

// ---------------------------------------------------------------------------------------
// describe_table

/// How much `describe_table` tells.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Detail {
    /// The table and its columns (with primary-key and foreign-key markers).
    Summary,
    /// Everything: keys both ways, indexes, constraints, triggers, sizes, statistics,
    /// partitioning, view definition.
    #[default]
    Full,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct DescribeTableArgs {
    /// The table (or view, materialized view, foreign table): `name` or `schema.name`.
    /// Without a schema, the one on the search path is taken, else the only one with that name.
    pub table: String,
    /// Its schema, when `table` does not say (exact name).
    #[serde(default)]
    pub schema: Option<String>,
    /// Which configured database (default: the first).
    #[serde(default)]
    pub database: Option<String>,
    /// `summary` (columns only) or `full` (default).
    #[serde(default)]
    pub detail: Detail,
}

/// A table, view, materialized view or foreign table, described.
#[derive(Debug, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct TableDescription {
    pub database: String,
    pub schema: String,
    pub name: String,
    /// table, partitioned_table, view, materialized_view or foreign_table.
    pub kind: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub owner: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub comment: Option<String>,
    /// Rows as of the last ANALYZE (absent if never analyzed, or a view).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub row_estimate: Option<i64>,
    pub columns: Vec<ColumnInfo>,
    /// Its primary key (full detail).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub primary_key: Option<Key>,
    /// Foreign keys from this table to others (full detail).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub foreign_keys: Option<Vec<ForeignKey>>,
    /// Foreign keys from other tables to this one (full detail).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub referenced_by: Option<Vec<Reference>>,
    /// Indexes (full detail).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub indexes: Option<Vec<IndexInfo>>,
    /// Check, unique and exclusion constraints (full detail; keys are above).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub constraints: Option<Vec<Constraint>>,
    /// User triggers (full detail).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub triggers: Option<Vec<Trigger>>,
    /// Sizes on disk (full detail; tables and materialized views).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sizes: Option<Sizes>,
    /// Activity counters since the statistics were last reset (full detail).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub statistics: Option<TableStatistics>,
    /// Partitioning (full detail), when partitioned or a partition.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub partitioning: Option<Partitioning>,
    /// The query of a view or materialized view (full detail).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub view_definition: Option<String>,
}

/// A column.
#[derive(Debug, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ColumnInfo {
    pub name: String,
    /// Its type as Postgres writes it (`character varying(20)`, `timestamp with time zone`).
    #[serde(rename = "type")]
    pub type_name: String,
    pub nullable: bool,
    /// Default expression.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default: Option<String>,
    /// Identity column: `always` or `by default`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub identity: Option<String>,
    /// Generated column: its expression.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub generated: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub comment: Option<String>,
    /// Part of the primary key.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub primary_key: bool,
    /// The `schema.table(column)` it references, when part of a foreign key.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub references: Option<String>,
}

/// A primary key.
#[derive(Debug, Serialize, JsonSchema)]
pub struct Key {
    pub name: String,
    pub columns: Vec<String>,
}

/// A foreign key from this table.
#[derive(Debug, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ForeignKey {
    pub name: String,
    /// Its columns in this table.
    pub columns: Vec<String>,
    /// The referenced table's schema.
    pub referenced_schema: String,
    /// The referenced table.
    pub referenced_table: String,
    /// The referenced columns, in the same order.
    pub referenced_columns: Vec<String>,
    pub on_update: String,
    pub on_delete: String,
    /// False when added NOT VALID and not validated since.
    pub validated: bool,
}

/// A foreign key from another table to this one.
#[derive(Debug, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Reference {
    pub name: String,
    /// The referencing table's schema.
    pub schema: String,
    /// The referencing table.
    pub table: String,
    /// The referencing columns.
    pub columns: Vec<String>,
    /// The columns of this table they reference.
    pub referenced_columns: Vec<String>,
    pub on_update: String,
    pub on_delete: String,
}

/// An index.
#[derive(Debug, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct IndexInfo {
    pub name: String,
    /// `CREATE INDEX ...` as Postgres would write it.
    pub definition: String,
    /// Access method: btree, hash, gin, gist, brin, ...
    pub method: String,
    /// Key columns or expressions, in order.
    pub columns: Vec<String>,
    pub unique: bool,
    pub primary: bool,
    /// False for an index a failed CREATE INDEX CONCURRENTLY left behind (not used by queries).
    pub valid: bool,
    /// WHERE clause of a partial index.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub predicate: Option<String>,
    pub size_bytes: i64,
    pub size: String,
    /// Index scans since statistics were reset.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scans: Option<i64>,
}

/// A check, unique or exclusion constraint.
#[derive(Debug, Serialize, JsonSchema)]
pub struct Constraint {
    pub name: String,
    /// check, unique or exclusion.
    #[serde(rename = "type")]
    pub kind: String,
    /// As Postgres writes it (`CHECK (qty > 0)`).
    pub definition: String,
    pub columns: Vec<String>,
    /// False when added NOT VALID and not validated since.
    pub validated: bool,
}

/// A trigger.
#[derive(Debug, Serialize, Deserialize, JsonSchema)]
pub struct Trigger {
    pub name: String,
    /// `CREATE TRIGGER ...` as Postgres would write it.
    pub definition: String,
    pub enabled: bool,
}

/// Sizes on disk, in bytes.
#[derive(Debug, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Sizes {
    /// Everything: table, indexes and TOAST.
    pub total_bytes: i64,
    pub total: String,
    pub table_bytes: i64,
    pub indexes_bytes: i64,
    pub toast_bytes: i64,
}

/// Counters from pg_stat_all_tables.
#[derive(Debug, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct TableStatistics {
    #[serde(default)]
    pub live_rows: Option<i64>,
    #[serde(default)]
    pub dead_rows: Option<i64>,
    #[serde(default)]
    pub seq_scans: Option<i64>,
    #[serde(default)]
    pub index_scans: Option<i64>,
    #[serde(default)]
    pub last_vacuum: Option<String>,
    #[serde(default)]
    pub last_analyze: Option<String>,
}

/// How a table is partitioned, or what it is a partition of.
#[derive(Debug, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Partitioning {
    /// The partition key (`RANGE (created_at)`), for a partitioned table.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub key: Option<String>,
    /// Its partitions (`schema.name`) with their bounds, for a partitioned table.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub partitions: Vec<Partition>,
    /// The parent (`schema.name`), for a partition.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub partition_of: Option<String>,
    /// Its bound (`FOR VALUES FROM (...) TO (...)`), for a partition.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bound: Option<String>,
}

/// One partition.
#[derive(Debug, Serialize, Deserialize, JsonSchema)]
pub struct Partition {
    pub name: String,
    pub bound: String,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Found {
    oid: i64,
    schema: String,
    name: String,
    kind: String,
    visible: bool,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Basics {
    owner: Option<String>,
    comment: Option<String>,
    row_estimate: Option<i64>,
    total_bytes: Option<i64>,
    table_bytes: Option<i64>,
    indexes_bytes: Option<i64>,
    toast_bytes: Option<i64>,
    view_definition: Option<String>,
    partition_key: Option<String>,
    parent_schema: Option<String>,
    parent_name: Option<String>,
    partition_bound: Option<String>,
    live_rows: Option<i64>,
    dead_rows: Option<i64>,
    seq_scans: Option<i64>,
    index_scans: Option<i64>,
    last_vacuum: Option<String>,
    last_analyze: Option<String>,
    has_stats: bool,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct ConstraintRow {
    name: String,
    kind: String,
    definition: String,
    validated: bool,
    columns: Vec<String>,
    other_schema: Option<String>,
    other_table: Option<String>,
    other_columns: Vec<String>,
    on_update: Option<String>,
    on_delete: Option<String>,
}

fn action(code: Option<&str>) -> String {
    match code {
        Some("r") => "RESTRICT",
        Some("c") => "CASCADE",
        Some("n") => "SET NULL",
        Some("d") => "SET DEFAULT",
        _ => "NO ACTION",
    }
    .to_string()
}

/// Splits `schema.table` when `schema` is not given; strips quotes.
fn split_name<'a>(table: &'a str, schema: Option<&'a str>) -> (Option<String>, String) {
    let unquote = |s: &str| {
        let s = s.trim();
        s.strip_prefix('"')
            .and_then(|s| s.strip_suffix('"'))
            .map(|s| s.replace("\"\"", "\""))
            .unwrap_or_else(|| s.to_string())
    };
    match schema.map(str::trim).filter(|s| !s.is_empty()) {
        Some(s) => (Some(unquote(s)), unquote(table)),
        None => match table.split_once('.') {
            Some((s, t)) if !table.trim().starts_with('"') || s.trim().ends_with('"') => (Some(unquote(s)), unquote(t)),
            _ => (None, unquote(table)),
        },
    }
}

/// Describes one table inside `tx`, refusing what the scope denies. Shared with the
/// table resources.
pub(crate) async fn describe_in(
    tx: &mut Tx,
    scope: &Scope,
    database: &str,
    schema: Option<&str>,
    table: &str,
    detail: Detail,
) -> Result<TableDescription, ToolError> {
    let (schema, table) = split_name(table, schema);
    if table.is_empty() {
        return Err(ToolError::invalid_arguments("`table`: give a table name"));
    }
    if let Some(s) = &schema
        && !scope.relations.table_allowed(s, &table)
    {
        return Err(ToolError::refused(format!(
            "access denied: the access policy does not allow this client to see {s}.{table}"
        )));
    }
    // Exact names first, then a case-insensitive match (models often capitalise).
    let sql = format!(
        "SELECT c.oid::int8 AS oid, n.nspname::text AS schema, c.relname::text AS name, {KIND_NAME} AS kind,
                pg_table_is_visible(c.oid) AS visible
         FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
         WHERE lower(c.relname::text) = lower($3::text) AND c.relkind IN ('r', 'p', 'v', 'm', 'f')
           AND ($4::text IS NULL OR n.nspname::text = $4::text) AND {REL_VISIBLE}
         ORDER BY (c.relname::text = $3::text) DESC, pg_table_is_visible(c.oid) DESC, n.nspname
         LIMIT 20"
    );
    let mut params = scope.relation_params();
    params.extend([json!(table), json!(schema)]);
    let found: Vec<Found> = typed(tx, &sql, &params).await?;
    let exact: Vec<&Found> = found.iter().filter(|f| f.name == table).collect();
    let candidates = if exact.is_empty() { found.iter().collect() } else { exact };
    let chosen = match candidates.as_slice() {
        [] => {
            return Err(ToolError::not_found(match &schema {
                Some(s) => format!(
                    "no table or view `{table}` in schema `{s}` (use `list_objects` or `search_objects` to find it)"
                ),
                None => format!(
                    "no table or view named `{table}` in the schemas this client can see (use `search_objects` to \
                     find it, or give `schema`)"
                ),
            }));
        }
        [one] => *one,
        [first, ..] if first.visible => *first,
        many => {
            let names: Vec<String> = many.iter().map(|f| format!("{}.{}", f.schema, f.name)).collect();
            return Err(ToolError::invalid_arguments(format!(
                "`table`: `{table}` is ambiguous, it exists as {}; give `schema` or write `schema.table`",
                names.join(", ")
            )));
        }
    };
    describe_oid(tx, scope, database, chosen, detail).await
}

async fn describe_oid(
    tx: &mut Tx,
    scope: &Scope,
    database: &str,
    found: &Found,
    detail: Detail,
) -> Result<TableDescription, ToolError> {
    let oid = [json!(found.oid)];
    let basics_sql = "SELECT pg_get_userbyid(c.relowner)::text AS owner, obj_description(c.oid, 'pg_class') AS comment,
            CASE WHEN c.relkind IN ('r', 'p', 'm', 'f') AND c.reltuples >= 0 THEN c.reltuples::int8 END AS \"rowEstimate\",
            CASE WHEN c.relkind IN ('r', 'm') THEN pg_total_relation_size(c.oid)
                 WHEN c.relkind = 'p' THEN (SELECT sum(pg_total_relation_size(t.relid))::int8 FROM pg_partition_tree(c.oid) t)
            END AS \"totalBytes\",
            CASE WHEN c.relkind IN ('r', 'm') THEN pg_relation_size(c.oid) END AS \"tableBytes\",
            CASE WHEN c.relkind IN ('r', 'm') THEN pg_indexes_size(c.oid) END AS \"indexesBytes\",
            CASE WHEN c.relkind IN ('r', 'm') AND c.reltoastrelid <> 0 THEN pg_total_relation_size(c.reltoastrelid)
                 WHEN c.relkind IN ('r', 'm') THEN 0 END AS \"toastBytes\",
            CASE WHEN c.relkind IN ('v', 'm') THEN pg_get_viewdef(c.oid, true) END AS \"viewDefinition\",
            CASE WHEN c.relkind = 'p' THEN pg_get_partkeydef(c.oid) END AS \"partitionKey\",
            pn.nspname::text AS \"parentSchema\", pc.relname::text AS \"parentName\",
            CASE WHEN c.relispartition THEN pg_get_expr(c.relpartbound, c.oid) END AS \"partitionBound\",
            s.n_live_tup AS \"liveRows\", s.n_dead_tup AS \"deadRows\", s.seq_scan AS \"seqScans\", s.idx_scan AS \"indexScans\",
            greatest(s.last_vacuum, s.last_autovacuum)::text AS \"lastVacuum\",
            greatest(s.last_analyze, s.last_autoanalyze)::text AS \"lastAnalyze\",
            s.relid IS NOT NULL AS \"hasStats\"
         FROM pg_class c
         LEFT JOIN pg_stat_all_tables s ON s.relid = c.oid
         LEFT JOIN pg_inherits i ON c.relispartition AND i.inhrelid = c.oid
         LEFT JOIN pg_class pc ON pc.oid = i.inhparent
         LEFT JOIN pg_namespace pn ON pn.oid = pc.relnamespace
         WHERE c.oid = $1::int8::oid";
    let basics: Basics = typed(tx, basics_sql, &oid).await?.into_iter().next().ok_or_else(|| {
        ToolError::failed(format!("{}.{} was dropped while being described", found.schema, found.name))
    })?;
    // Single-column foreign keys mark their column; visible targets only.
    let columns_sql = "SELECT a.attname::text AS name, format_type(a.atttypid, a.atttypmod) AS type,
            NOT a.attnotnull AS nullable,
            CASE WHEN a.attgenerated <> 's' THEN pg_get_expr(d.adbin, d.adrelid) END AS default,
            CASE a.attidentity WHEN 'a' THEN 'always' WHEN 'd' THEN 'by default' END AS identity,
            CASE WHEN a.attgenerated = 's' THEN pg_get_expr(d.adbin, d.adrelid) END AS generated,
            col_description(a.attrelid, a.attnum) AS comment,
            EXISTS (SELECT 1 FROM pg_index i WHERE i.indrelid = a.attrelid AND i.indisprimary
                    AND a.attnum = ANY(i.indkey)) AS \"primaryKey\",
            (SELECT quote_ident(fn.nspname) || '.' || quote_ident(fc.relname) || '(' || quote_ident(fa.attname) || ')'
             FROM pg_constraint con
             JOIN pg_class fc ON fc.oid = con.confrelid JOIN pg_namespace fn ON fn.oid = fc.relnamespace
             JOIN pg_attribute fa ON fa.attrelid = con.confrelid AND fa.attnum = con.confkey[1]
             WHERE con.conrelid = a.attrelid AND con.contype = 'f' AND cardinality(con.conkey) = 1
               AND con.conkey[1] = a.attnum
               AND ($2::text[] IS NULL OR fn.nspname::text = ANY($2::text[]))
               AND ($3::int8[] IS NULL OR fc.oid::int8 <> ALL($3::int8[]))
             ORDER BY con.conname LIMIT 1) AS \"references\"
         FROM pg_attribute a
         LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
         WHERE a.attrelid = $1::int8::oid AND a.attnum > 0 AND NOT a.attisdropped
         ORDER BY a.attnum";
    let mut params = oid.to_vec();
    params.extend(scope.relation_params());
    let columns: Vec<ColumnInfo> = typed(tx, columns_sql, &params).await?;
    let mut out = TableDescription {
        database: database.to_string(),
        schema: found.schema.clone(),
        name: found.name.clone(),
        kind: found.kind.clone(),
        owner: basics.owner.clone(),
        comment: basics.comment.clone(),
        row_estimate: basics.row_estimate,
        columns,
        primary_key: None,
        foreign_keys: None,
        referenced_by: None,
        indexes: None,
        constraints: None,
        triggers: None,
        sizes: None,
        statistics: None,
        partitioning: None,
        view_definition: None,
    };
    if detail == Detail::Summary {
        return Ok(out);
    }
    out.view_definition = basics.view_definition.clone();
    if let (Some(total), Some(table), Some(indexes), Some(toast)) =
        (basics.total_bytes, basics.table_bytes, basics.indexes_bytes, basics.toast_bytes)
    {
        out.sizes = Some(Sizes {
            total_bytes: total,
            total: pretty_bytes(total),
            table_bytes: table,
            indexes_bytes: indexes,
            toast_bytes: toast,
        });
    } else if let Some(total) = basics.total_bytes {
        // Partitioned: only the sum over its partitions means something.
        out.sizes = Some(Sizes {
            total_bytes: total,
            total: pretty_bytes(total),
            table_bytes: 0,
            indexes_bytes: 0,
            toast_bytes: 0,
        });
    }
    if basics.has_stats {
        out.statistics = Some(TableStatistics {
            live_rows: basics.live_rows,
            dead_rows: basics.dead_rows,
            seq_scans: basics.seq_scans,
            index_scans: basics.index_scans,
            last_vacuum: basics.last_vacuum.clone(),
            last_analyze: basics.last_analyze.clone(),
        });
    }

    // Constraints of this table (conparentid = 0: a partition's copies of its parent's
    // keys are the parent's), and foreign keys of others pointing here.
    let constraint_sql = "SELECT con.conname::text AS name, con.contype::text AS kind,
            pg_get_constraintdef(con.oid, true) AS definition, con.convalidated AS validated,
            ARRAY(SELECT a.attname::text FROM unnest(con.conkey) WITH ORDINALITY k(num, ord)
                  JOIN pg_attribute a ON a.attrelid = con.conrelid AND a.attnum = k.num ORDER BY k.ord) AS columns,
            fn.nspname::text AS \"otherSchema\", fc.relname::text AS \"otherTable\",
            ARRAY(SELECT a.attname::text FROM unnest(con.confkey) WITH ORDINALITY k(num, ord)
                  JOIN pg_attribute a ON a.attrelid = con.confrelid AND a.attnum = k.num ORDER BY k.ord) AS \"otherColumns\",
            con.confupdtype::text AS \"onUpdate\", con.confdeltype::text AS \"onDelete\"
         FROM pg_constraint con
         LEFT JOIN pg_class fc ON fc.oid = con.confrelid
         LEFT JOIN pg_namespace fn ON fn.oid = fc.relnamespace
         WHERE con.conrelid = $1::int8::oid AND con.contype IN ('p', 'f', 'c', 'u', 'x')
           AND (con.contype <> 'f' OR (($2::text[] IS NULL OR fn.nspname::text = ANY($2::text[]))
                AND ($3::int8[] IS NULL OR fc.oid::int8 <> ALL($3::int8[]))))
         ORDER BY con.conname";
    let rows: Vec<ConstraintRow> = typed(tx, constraint_sql, &params).await?;
    let mut foreign_keys = Vec::new();
    let mut constraints = Vec::new();
    for row in rows {
        match row.kind.as_str() {
            "p" => out.primary_key = Some(Key { name: row.name, columns: row.columns }),
            "f" => foreign_keys.push(ForeignKey {
                name: row.name,
                columns: row.columns,
                referenced_schema: row.other_schema.unwrap_or_default(),
                referenced_table: row.other_table.unwrap_or_default(),
                referenced_columns: row.other_columns,
                on_update: action(row.on_update.as_deref()),
                on_delete: action(row.on_delete.as_deref()),
                validated: row.validated,
            }),
            kind => constraints.push(Constraint {
                name: row.name,
                kind: match kind {
                    "c" => "check",
                    "u" => "unique",
                    _ => "exclusion",
                }
                .to_string(),
                definition: row.definition,
                columns: row.columns,
                validated: row.validated,
            }),
        }
    }
    out.foreign_keys = Some(foreign_keys);
    out.constraints = Some(constraints);

    let referenced_sql = "SELECT con.conname::text AS name, 'f' AS kind, pg_get_constraintdef(con.oid, true) AS definition,
            con.convalidated AS validated,
            ARRAY(SELECT a.attname::text FROM unnest(con.conkey) WITH ORDINALITY k(num, ord)
                  JOIN pg_attribute a ON a.attrelid = con.conrelid AND a.attnum = k.num ORDER BY k.ord) AS columns,
            n.nspname::text AS \"otherSchema\", c.relname::text AS \"otherTable\",
            ARRAY(SELECT a.attname::text FROM unnest(con.confkey) WITH ORDINALITY k(num, ord)
                  JOIN pg_attribute a ON a.attrelid = con.confrelid AND a.attnum = k.num ORDER BY k.ord) AS \"otherColumns\",
            con.confupdtype::text AS \"onUpdate\", con.confdeltype::text AS \"onDelete\"
         FROM pg_constraint con
         JOIN pg_class c ON c.oid = con.conrelid JOIN pg_namespace n ON n.oid = c.relnamespace
         WHERE con.confrelid = $1::int8::oid AND con.contype = 'f' AND con.conparentid = 0
           AND ($2::text[] IS NULL OR n.nspname::text = ANY($2::text[]))
           AND ($3::int8[] IS NULL OR c.oid::int8 <> ALL($3::int8[]))
         ORDER BY n.nspname, c.relname, con.conname";
    let rows: Vec<ConstraintRow> = typed(tx, referenced_sql, &params).await?;
    out.referenced_by = Some(
        rows.into_iter()
            .map(|row| Reference {
                name: row.name,
                schema: row.other_schema.unwrap_or_default(),
                table: row.other_table.unwrap_or_default(),
                columns: row.columns,
                referenced_columns: row.other_columns,
                on_update: action(row.on_update.as_deref()),
                on_delete: action(row.on_delete.as_deref()),
            })
            .collect(),
    );

    let index_sql = "SELECT ic.relname::text AS name, pg_get_indexdef(i.indexrelid) AS definition, am.amname::text AS method,
            ARRAY(SELECT pg_get_indexdef(i.indexrelid, k, true) FROM generate_series(1, i.indnkeyatts::int) k) AS columns,
            i.indisunique AS unique, i.indisprimary AS primary, i.indisvalid AS valid,
            pg_get_expr(i.indpred, i.indrelid) AS predicate,
            pg_relation_size(i.indexrelid) AS \"sizeBytes\", pg_size_pretty(pg_relation_size(i.indexrelid)) AS size,
            s.idx_scan AS scans
         FROM pg_index i
         JOIN pg_class ic ON ic.oid = i.indexrelid
         JOIN pg_am am ON am.oid = ic.relam
         LEFT JOIN pg_stat_all_indexes s ON s.indexrelid = i.indexrelid
         WHERE i.indrelid = $1::int8::oid
         ORDER BY i.indisprimary DESC, ic.relname";
    out.indexes = Some(typed(tx, index_sql, &oid).await?);

    let trigger_sql =
        "SELECT t.tgname::text AS name, pg_get_triggerdef(t.oid, true) AS definition, t.tgenabled <> 'D' AS enabled
         FROM pg_trigger t WHERE t.tgrelid = $1::int8::oid AND NOT t.tgisinternal ORDER BY t.tgname";
    out.triggers = Some(typed(tx, trigger_sql, &oid).await?);

    if basics.partition_key.is_some() || basics.partition_bound.is_some() {
        let partitions: Vec<Partition> = if basics.partition_key.is_some() {
            let sql = "SELECT quote_ident(n.nspname) || '.' || quote_ident(c.relname) AS name,
                    pg_get_expr(c.relpartbound, c.oid) AS bound
                 FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid JOIN pg_namespace n ON n.oid = c.relnamespace
                 WHERE i.inhparent = $1::int8::oid
                   AND ($2::text[] IS NULL OR n.nspname::text = ANY($2::text[]))
                   AND ($3::int8[] IS NULL OR c.oid::int8 <> ALL($3::int8[]))
                 ORDER BY n.nspname, c.relname LIMIT 200";
            typed(tx, sql, &params).await?
        } else {
            Vec::new()
        };
        let parent = match (&basics.parent_schema, &basics.parent_name) {
            (Some(s), Some(t)) if scope.relations.table_allowed(s, t) => Some(format!("{s}.{t}")),
            _ => None,
        };
        out.partitioning = Some(Partitioning {
            key: basics.partition_key.clone(),
            partitions,
            partition_of: parent,
            bound: basics.partition_bound.clone(),
        });
    }
    Ok(out)
}

/// The description as compact text: what a reader scans before the JSON.
pub(crate) fn render(d: &TableDescription) -> String {
    let mut t = String::new();
    let _ = write!(t, "{} {}.{}", d.kind.replace('_', " "), d.schema, d.name);
    if let Some(rows) = d.row_estimate {
        let _ = write!(t, ", ~{rows} rows");
    }
    if let Some(s) = &d.sizes {
        let _ = write!(t, ", {} total", s.total);
        if s.table_bytes > 0 || s.indexes_bytes > 0 {
            let _ = write!(t, " ({} table, {} indexes)", pretty_bytes(s.table_bytes), pretty_bytes(s.indexes_bytes));
        }
    }
    t.push('\n');
    if let Some(c) = &d.comment {
        let _ = writeln!(t, "Comment: {c}");
    }
    let _ = writeln!(t, "Columns:");
    for c in &d.columns {
        let _ = write!(t, "  {} {}{}", c.name, c.type_name, if c.nullable { "" } else { " NOT NULL" });
        if c.primary_key {
            t.push_str(" PK");
        }
        if let Some(i) = &c.identity {
            let _ = write!(t, " GENERATED {} AS IDENTITY", i.to_uppercase());
        }
        if let Some(g) = &c.generated {
            let _ = write!(t, " GENERATED ALWAYS AS ({g}) STORED");
        }
        if let Some(def) = &c.default {
            let _ = write!(t, " DEFAULT {def}");
        }
        if let Some(r) = &c.references {
            let _ = write!(t, " -> {r}");
        }
        if let Some(comment) = &c.comment {
            let _ = write!(t, " -- {comment}");
        }
        t.push('\n');
    }
    if let Some(pk) = &d.primary_key {
        let _ = writeln!(t, "Primary key: {} ({})", pk.name, pk.columns.join(", "));
    }
    if let Some(fks) = d.foreign_keys.as_ref().filter(|f| !f.is_empty()) {
        let _ = writeln!(t, "Foreign keys:");
        for f in fks {
            let _ = writeln!(
                t,
                "  {} ({}) -> {}.{} ({}) ON UPDATE {} ON DELETE {}{}",
                f.name,
                f.columns.join(", "),
                f.referenced_schema,
                f.referenced_table,
                f.referenced_columns.join(", "),
                f.on_update,
                f.on_delete,
                if f.validated { "" } else { " NOT VALID" }
            );
        }
    }
    if let Some(refs) = d.referenced_by.as_ref().filter(|r| !r.is_empty()) {
        let _ = writeln!(t, "Referenced by:");
        for r in refs {
            let _ = writeln!(
                t,
                "  {}.{} ({}) via {} -> ({}) ON DELETE {}",
                r.schema,
                r.table,
                r.columns.join(", "),
                r.name,
                r.referenced_columns.join(", "),
                r.on_delete
            );
        }
    }
    if let Some(indexes) = d.indexes.as_ref().filter(|i| !i.is_empty()) {
        let _ = writeln!(t, "Indexes:");
        for i in indexes {
            let _ = writeln!(
                t,
                "  {}: {} [{}{}{}]",
                i.name,
                i.definition,
                i.size,
                i.scans.map(|s| format!(", {s} scans")).unwrap_or_default(),
                if i.valid { "" } else { ", INVALID" }
            );
        }
    }
    if let Some(cs) = d.constraints.as_ref().filter(|c| !c.is_empty()) {
        let _ = writeln!(t, "Constraints:");
        for c in cs {
            let _ = writeln!(t, "  {}: {}{}", c.name, c.definition, if c.validated { "" } else { " (not validated)" });
        }
    }
    if let Some(ts) = d.triggers.as_ref().filter(|t| !t.is_empty()) {
        let _ = writeln!(t, "Triggers:");
        for tr in ts {
            let _ = writeln!(t, "  {}{}", tr.definition, if tr.enabled { "" } else { " (disabled)" });
        }
    }
    if let Some(p) = &d.partitioning {
        if let Some(key) = &p.key {
            let _ = writeln!(t, "Partitioned by {key}; {} partition(s):", p.partitions.len());
            for part in &p.partitions {
                let _ = writeln!(t, "  {} {}", part.name, part.bound);
            }
        }
        if let Some(parent) = &p.partition_of {
            let _ = writeln!(t, "Partition of {parent} {}", p.bound.as_deref().unwrap_or(""));
        }
    }
    if let Some(s) = &d.statistics {
        let _ = writeln!(
            t,
            "Statistics: {} live / {} dead rows, {} seq scans, {} index scans, last analyze {}",
            s.live_rows.unwrap_or(0),
            s.dead_rows.unwrap_or(0),
            s.seq_scans.unwrap_or(0),
            s.index_scans.map(|v| v.to_string()).unwrap_or_else(|| "-".into()),
            s.last_analyze.as_deref().unwrap_or("never")
        );
    }
    if let Some(v) = &d.view_definition {
        let _ = writeln!(t, "Definition:\n{}", v.trim_end());
    }
    t
}

/// Describes a table: columns, keys both ways, indexes, constraints, triggers, sizes.
pub async fn describe_table(
    dbs: Arc<Databases>,
    ctx: Context,
    args: DescribeTableArgs,
) -> Result<Rendered<TableDescription>, ToolError> {
    let db = dbs.for_read(args.database.as_deref())?;
    let mut tx = dbs.begin(&ctx, &db, Access::ReadOnly).await?;
    let scope = Scope::load(&ctx, &mut tx).await?;
    let description = describe_in(&mut tx, &scope, &db.name, args.schema.as_deref(), &args.table, args.detail).await;
    tx.rollback().await?;
    let description = description?;
    Ok(Rendered { text: render(&description), data: description })
}

// ---------------------------------------------------------------------------------------
// list_functions

/// A kind of routine.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum FunctionKind {
    Function,
    Procedure,
    Aggregate,
    Window,
}

impl FunctionKind {
    fn prokind(self) -> &'static str {
        match self {
            FunctionKind::Function => "f",
            FunctionKind::Procedure => "p",
            FunctionKind::Aggregate => "a",
            FunctionKind::Window => "w",
        }
    }
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ListFunctionsArgs {
    /// Which configured database (default: the first).
    #[serde(default)]
    pub database: Option<String>,
    /// Only this schema (exact name); default: every schema but Postgres's own.
    #[serde(default)]
    pub schema: Option<String>,
    /// Only names containing this (case-insensitive), or matching it as an ILIKE pattern when it contains `%`.
    #[serde(default)]
    pub pattern: Option<String>,
    /// Only these kinds (default: all): function, procedure, aggregate, window.
    #[serde(default)]
    pub kinds: Vec<FunctionKind>,
    /// Include each routine's full source (`CREATE FUNCTION ...`); longer results.
    #[serde(default)]
    pub include_definition: bool,
    /// Also list the functions extensions installed (hidden by default: they are noise).
    #[serde(default)]
    pub include_extension_members: bool,
    /// Also list routines in Postgres's own schemas (when `schema` is not given).
    #[serde(default)]
    pub include_system: bool,
    /// Rows to skip: pass the `nextOffset` of a truncated result.
    #[serde(default)]
    pub offset: usize,
    /// Most rows to return (default 100).
    #[serde(default)]
    pub limit: Option<usize>,
}

/// Lists functions, procedures, aggregates and window functions with their signatures.
pub async fn list_functions(dbs: Arc<Databases>, ctx: Context, args: ListFunctionsArgs) -> Result<Table, ToolError> {
    let window = window(&dbs, args.offset, args.limit);
    let kinds: Vec<Value> = if args.kinds.is_empty() {
        ["f", "p", "a", "w"].iter().map(|k| json!(k)).collect()
    } else {
        args.kinds.iter().map(|k| json!(k.prokind())).collect()
    };
    let definition = if args.include_definition {
        ", CASE WHEN p.prokind IN ('f', 'p') THEN pg_get_functiondef(p.oid) END AS definition"
    } else {
        ""
    };
    let note = Some("No matching function.".to_string());
    list(&dbs, &ctx, args.database.as_deref(), window, note, |scope| {
        let sql = format!(
            "SELECT n.nspname::text AS schema, p.proname::text AS name,
                    pg_get_function_arguments(p.oid) AS arguments,
                    CASE WHEN p.prokind = 'p' THEN NULL ELSE pg_get_function_result(p.oid) END AS returns,
                    CASE p.prokind WHEN 'f' THEN 'function' WHEN 'p' THEN 'procedure' WHEN 'a' THEN 'aggregate'
                                   WHEN 'w' THEN 'window' END AS kind,
                    l.lanname::text AS language,
                    CASE p.provolatile WHEN 'i' THEN 'immutable' WHEN 's' THEN 'stable' ELSE 'volatile' END AS volatility,
                    p.prosecdef AS security_definer, e.extname::text AS extension,
                    obj_description(p.oid, 'pg_proc') AS comment{definition}
             FROM pg_proc p
             JOIN pg_namespace n ON n.oid = p.pronamespace
             JOIN pg_language l ON l.oid = p.prolang
             LEFT JOIN pg_depend d ON d.classid = 'pg_proc'::regclass AND d.objid = p.oid AND d.deptype = 'e'
             LEFT JOIN pg_extension e ON e.oid = d.refobjid
             WHERE {NS_VISIBLE} AND p.prokind::text = ANY($2::text[])
               AND ($3::text IS NULL OR n.nspname::text = $3::text)
               AND ($3::text IS NOT NULL OR $4::bool OR NOT {SYSTEM})
               AND ($5::text IS NULL OR p.proname ILIKE $5::text)
               AND ($6::bool OR e.oid IS NULL)
             ORDER BY n.nspname, p.proname, pg_get_function_identity_arguments(p.oid)"
        );
        let mut params = scope.schema_params();
        params.extend([
            Value::Array(kinds),
            opt_str(&args.schema),
            json!(args.include_system),
            like_pattern(args.pattern.as_deref()),
            json!(args.include_extension_members),
        ]);
        (sql, params)
    })
    .await
}

// ---------------------------------------------------------------------------------------
// list_extensions

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ListExtensionsArgs {
    /// Which configured database (default: the first).
    #[serde(default)]
    pub database: Option<String>,
    /// Also list extensions the server could install but that are not installed here.
    #[serde(default)]
    pub available: bool,
    /// Only names containing this (case-insensitive), or matching it as an ILIKE pattern when it contains `%`.
    #[serde(default)]
    pub pattern: Option<String>,
    /// Rows to skip: pass the `nextOffset` of a truncated result.
    #[serde(default)]
    pub offset: usize,
    /// Most rows to return (default 100).
    #[serde(default)]
    pub limit: Option<usize>,
}

/// Lists installed extensions (and, with `available`, installable ones).
pub async fn list_extensions(dbs: Arc<Databases>, ctx: Context, args: ListExtensionsArgs) -> Result<Table, ToolError> {
    let window = window(&dbs, args.offset, args.limit);
    let note = Some("No matching extension.".to_string());
    list(&dbs, &ctx, args.database.as_deref(), window, note, |scope| {
        // The schema of an extension installed in a schema the client may not see is not shown.
        let sql = format!(
            "SELECT coalesce(e.extname, a.name)::text AS name, e.oid IS NOT NULL AS installed,
                    e.extversion::text AS installed_version, a.default_version::text AS default_version,
                    CASE WHEN {NS_VISIBLE} THEN n.nspname::text END AS schema, a.comment
             FROM pg_extension e
             FULL JOIN pg_available_extensions a ON a.name = e.extname
             LEFT JOIN pg_namespace n ON n.oid = e.extnamespace
             WHERE ($2::bool OR e.oid IS NOT NULL) AND ($3::text IS NULL OR coalesce(e.extname, a.name) ILIKE $3::text)
             ORDER BY 1"
        );
        let mut params = scope.schema_params();
        params.extend([json!(args.available), like_pattern(args.pattern.as_deref())]);
        (sql, params)
    })
    .await
}

// ---------------------------------------------------------------------------------------
// list_enums

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ListEnumsArgs {
    /// Which configured database (default: the first).
    #[serde(default)]
    pub database: Option<String>,
    /// Only this schema (exact name); default: every schema but Postgres's own.
    #[serde(default)]
    pub schema: Option<String>,
    /// Only names containing this (case-insensitive), or matching it as an ILIKE pattern when it contains `%`.
    #[serde(default)]
    pub pattern: Option<String>,
    /// Rows to skip: pass the `nextOffset` of a truncated result.
    #[serde(default)]
    pub offset: usize,
    /// Most rows to return (default 100).
    #[serde(default)]
    pub limit: Option<usize>,
}

/// Lists enum types with their labels in order.
pub async fn list_enums(dbs: Arc<Databases>, ctx: Context, args: ListEnumsArgs) -> Result<Table, ToolError> {
    let window = window(&dbs, args.offset, args.limit);
    let note = Some("No matching enum type.".to_string());
    list(&dbs, &ctx, args.database.as_deref(), window, note, |scope| {
        let sql = format!(
            "SELECT n.nspname::text AS schema, t.typname::text AS name,
                    ARRAY(SELECT e.enumlabel::text FROM pg_enum e WHERE e.enumtypid = t.oid ORDER BY e.enumsortorder) AS labels,
                    obj_description(t.oid, 'pg_type') AS comment
             FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace
             WHERE t.typtype = 'e' AND {NS_VISIBLE}
               AND ($2::text IS NULL OR n.nspname::text = $2::text) AND NOT {SYSTEM}
               AND ($3::text IS NULL OR t.typname ILIKE $3::text)
             ORDER BY n.nspname, t.typname"
        );
        let mut params = scope.schema_params();
        params.extend([opt_str(&args.schema), like_pattern(args.pattern.as_deref())]);
        (sql, params)
    })
    .await
}

// ---------------------------------------------------------------------------------------
// list_sequences

/// The order of `list_sequences`.
#[derive(Debug, Clone, Copy, Default, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum SequenceSort {
    /// By schema, then name.
    #[default]
    Name,
    /// Closest to exhaustion first.
    Used,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ListSequencesArgs {
    /// Which configured database (default: the first).
    #[serde(default)]
    pub database: Option<String>,
    /// Only this schema (exact name); default: every schema but Postgres's own.
    #[serde(default)]
    pub schema: Option<String>,
    /// Only names containing this (case-insensitive), or matching it as an ILIKE pattern when it contains `%`.
    #[serde(default)]
    pub pattern: Option<String>,
    /// Order: `name` (default) or `used` (closest to exhaustion first).
    #[serde(default)]
    pub sort: SequenceSort,
    /// Rows to skip: pass the `nextOffset` of a truncated result.
    #[serde(default)]
    pub offset: usize,
    /// Most rows to return (default 100).
    #[serde(default)]
    pub limit: Option<usize>,
}

/// Lists sequences with their position and how close each is to running out.
pub async fn list_sequences(dbs: Arc<Databases>, ctx: Context, args: ListSequencesArgs) -> Result<Table, ToolError> {
    let window = window(&dbs, args.offset, args.limit);
    let order = match args.sort {
        SequenceSort::Name => "x.schema, x.name",
        SequenceSort::Used => "used_percent DESC NULLS LAST, x.schema, x.name",
    };
    let note = Some("No matching sequence.".to_string());
    list(&dbs, &ctx, args.database.as_deref(), window, note, |scope| {
        // A sequence feeding an int4 (or int2) column runs out at that column's limit,
        // long before its own bigint maximum: the limit is the smaller of the two.
        let sql = format!(
            "SELECT x.schema, x.name, x.type, x.last_value, x.increment, x.min_value, x.max_value, x.cycle, x.owned_by,
                    x.limit_value,
                    CASE WHEN x.last_value IS NULL THEN NULL
                         WHEN x.increment > 0 THEN
                           round((100 * (x.last_value::numeric - x.min_value) / nullif(x.limit_value::numeric - x.min_value, 0)), 2)::float8
                         ELSE round((100 * (x.max_value::numeric - x.last_value) / nullif(x.max_value::numeric - x.limit_value, 0)), 2)::float8
                    END AS used_percent,
                    CASE WHEN x.last_value IS NULL THEN NULL
                         ELSE ((x.limit_value::numeric - x.last_value) / x.increment)::int8 END AS remaining
             FROM (
               SELECT n.nspname::text AS schema, c.relname::text AS name, format_type(s.seqtypid, NULL) AS type,
                      CASE WHEN has_sequence_privilege(c.oid, 'SELECT,USAGE') THEN pg_sequence_last_value(c.oid) END AS last_value,
                      s.seqincrement AS increment, s.seqmin AS min_value, s.seqmax AS max_value, s.seqcycle AS cycle,
                      o.owned_by,
                      CASE WHEN s.seqincrement > 0 THEN least(s.seqmax, coalesce(o.type_max, s.seqmax))
                           ELSE greatest(s.seqmin, coalesce(-o.type_max - 1, s.seqmin)) END AS limit_value
               FROM pg_sequence s
               JOIN pg_class c ON c.oid = s.seqrelid
               JOIN pg_namespace n ON n.oid = c.relnamespace
               LEFT JOIN LATERAL (
                 SELECT quote_ident(tn.nspname) || '.' || quote_ident(t.relname) || '.' || quote_ident(a.attname) AS owned_by,
                        CASE a.atttypid WHEN 'int2'::regtype THEN 32767::int8 WHEN 'int4'::regtype THEN 2147483647::int8 END AS type_max
                 FROM pg_depend d
                 JOIN pg_class t ON t.oid = d.refobjid
                 JOIN pg_namespace tn ON tn.oid = t.relnamespace
                 JOIN pg_attribute a ON a.attrelid = t.oid AND a.attnum = d.refobjsubid
                 WHERE d.classid = 'pg_class'::regclass AND d.objid = c.oid AND d.refclassid = 'pg_class'::regclass
                   AND d.deptype IN ('a', 'i')
                 LIMIT 1) o ON true
               WHERE {REL_VISIBLE} AND ($3::text IS NULL OR n.nspname::text = $3::text) AND NOT {SYSTEM}
                 AND ($4::text IS NULL OR c.relname ILIKE $4::text)
             ) x
             ORDER BY {order}"
        );
        let mut params = scope.relation_params();
        params.extend([opt_str(&args.schema), like_pattern(args.pattern.as_deref())]);
        (sql, params)
    })
    .await
}

// ---------------------------------------------------------------------------------------
// search_objects

/// What `search_objects` looks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum SearchKind {
    Schema,
    /// Tables, partitioned ones included.
    Table,
    View,
    MaterializedView,
    ForeignTable,
    Sequence,
    Column,
    Index,
    /// Functions, aggregates and window functions.
    Function,
    Procedure,
    /// Enum types.
    Enum,
    /// Domains.
    Domain,
    /// Composite types.
    Type,
    Trigger,
    /// Check, unique, primary-key, foreign-key and exclusion constraints.
    Constraint,
}

impl SearchKind {
    /// Every kind, in the order hits of equal rank are shown (the main objects first).
    const ALL: [SearchKind; 15] = [
        SearchKind::Schema,
        SearchKind::Table,
        SearchKind::View,
        SearchKind::MaterializedView,
        SearchKind::ForeignTable,
        SearchKind::Column,
        SearchKind::Function,
        SearchKind::Procedure,
        SearchKind::Enum,
        SearchKind::Domain,
        SearchKind::Type,
        SearchKind::Sequence,
        SearchKind::Index,
        SearchKind::Constraint,
        SearchKind::Trigger,
    ];

    fn name(self) -> &'static str {
        match self {
            SearchKind::Schema => "schema",
            SearchKind::Table => "table",
            SearchKind::View => "view",
            SearchKind::MaterializedView => "materialized_view",
            SearchKind::ForeignTable => "foreign_table",
            SearchKind::Sequence => "sequence",
            SearchKind::Column => "column",
            SearchKind::Index => "index",
            SearchKind::Function => "function",
            SearchKind::Procedure => "procedure",
            SearchKind::Enum => "enum",
            SearchKind::Domain => "domain",
            SearchKind::Type => "type",
            SearchKind::Trigger => "trigger",
            SearchKind::Constraint => "constraint",
        }
    }
}

/// How much `search_objects` says about each hit.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum SearchDetail {
    /// Kind, schema, table and name only (cheapest).
    #[default]
    Names,
    /// Also a one-line description: column type, function signature, index definition,
    /// row estimate and comment, enum labels.
    Summary,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SearchObjectsArgs {
    /// What to look for: a case-insensitive substring of the name (`cust` finds `customers`
    /// and `customer_id`), or an ILIKE pattern when it contains `%` (`%_at`).
    pub pattern: String,
    /// Which configured database (default: the first).
    #[serde(default)]
    pub database: Option<String>,
    /// Only these kinds (default: all): schema, table, view, materialized_view,
    /// foreign_table, sequence, column, index, function, procedure, enum, domain, type,
    /// trigger, constraint.
    #[serde(default)]
    pub kinds: Vec<SearchKind>,
    /// Only in this schema (exact name).
    #[serde(default)]
    pub schema: Option<String>,
    /// `names` (default) or `summary` (adds a one-line description of each hit).
    #[serde(default)]
    pub detail: SearchDetail,
    /// Also search Postgres's own schemas (pg_catalog, information_schema).
    #[serde(default)]
    pub include_system: bool,
    /// Rows to skip: pass the `nextOffset` of a truncated result.
    #[serde(default)]
    pub offset: usize,
    /// Most rows to return (default 100).
    #[serde(default)]
    pub limit: Option<usize>,
}

/// Searches every kind of object by name; exact matches first, then prefixes.
pub async fn search_objects(dbs: Arc<Databases>, ctx: Context, args: SearchObjectsArgs) -> Result<Table, ToolError> {
    let pattern = like_pattern(Some(&args.pattern));
    if pattern.is_null() {
        return Err(ToolError::invalid_arguments("`pattern`: give part of a name to look for"));
    }
    let window = window(&dbs, args.offset, args.limit);
    let kinds: Vec<Value> = if args.kinds.is_empty() { SearchKind::ALL.to_vec() } else { args.kinds.clone() }
        .into_iter()
        .map(|k| json!(k.name()))
        .collect();
    let term = args.pattern.trim().to_lowercase();
    let detail_column = if args.detail == SearchDetail::Summary { ", detail" } else { "" };
    // Fixed names, not user text: safe to write into the SQL.
    let kind_order = SearchKind::ALL.iter().map(|k| format!("'{}'", k.name())).collect::<Vec<_>>().join(", ");
    let note = Some(format!("Nothing named like `{}`.", args.pattern.trim()));
    list(&dbs, &ctx, args.database.as_deref(), window, note, |scope| {
        // Each branch yields (kind, schema, table, name, detail); $7 says whether the
        // detail is wanted (it costs catalog function calls).
        let sql = format!(
            "WITH hits AS (
               SELECT 'schema'::text AS kind, n.nspname::text AS schema, NULL::text AS table_name, n.nspname::text AS name,
                      CASE WHEN $7::bool THEN 'owner ' || pg_get_userbyid(n.nspowner)
                           || coalesce(' -- ' || obj_description(n.oid, 'pg_namespace'), '') END AS detail
               FROM pg_namespace n
               WHERE 'schema' = ANY($3::text[]) AND n.nspname ILIKE $4::text AND {NS_VISIBLE}
             UNION ALL
               SELECT CASE c.relkind WHEN 'p' THEN 'table' ELSE {KIND_NAME} END, n.nspname::text, NULL, c.relname::text,
                      CASE WHEN $7::bool THEN concat_ws(' -- ',
                           CASE WHEN c.relkind IN ('r', 'p', 'm', 'f') AND c.reltuples >= 0 THEN '~' || c.reltuples::int8 || ' rows' END,
                           obj_description(c.oid, 'pg_class')) END
               FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
               WHERE c.relkind IN ('r', 'p', 'v', 'm', 'f', 'S') AND NOT c.relispartition
                 AND c.relname ILIKE $4::text AND {REL_VISIBLE}
             UNION ALL
               SELECT 'column', n.nspname::text, c.relname::text, a.attname::text,
                      CASE WHEN $7::bool THEN format_type(a.atttypid, a.atttypmod)
                           || CASE WHEN a.attnotnull THEN ' not null' ELSE '' END
                           || coalesce(' -- ' || col_description(c.oid, a.attnum), '') END
               FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid JOIN pg_namespace n ON n.oid = c.relnamespace
               WHERE 'column' = ANY($3::text[]) AND c.relkind IN ('r', 'p', 'v', 'm', 'f') AND NOT c.relispartition
                 AND a.attnum > 0 AND NOT a.attisdropped AND a.attname ILIKE $4::text AND {REL_VISIBLE}
             UNION ALL
               SELECT 'index', n.nspname::text, c.relname::text, ic.relname::text,
                      CASE WHEN $7::bool THEN pg_get_indexdef(i.indexrelid) END
               FROM pg_index i JOIN pg_class ic ON ic.oid = i.indexrelid
               JOIN pg_class c ON c.oid = i.indrelid JOIN pg_namespace n ON n.oid = c.relnamespace
               WHERE 'index' = ANY($3::text[]) AND ic.relname ILIKE $4::text AND {REL_VISIBLE}
             UNION ALL
               SELECT CASE WHEN p.prokind = 'p' THEN 'procedure' ELSE 'function' END, n.nspname::text, NULL, p.proname::text,
                      CASE WHEN $7::bool THEN p.proname || '(' || pg_get_function_arguments(p.oid) || ')'
                           || coalesce(' returns ' || pg_get_function_result(p.oid), '') END
               FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
               WHERE ('function' = ANY($3::text[]) OR 'procedure' = ANY($3::text[])) AND p.proname ILIKE $4::text
                 AND {NS_VISIBLE}
             UNION ALL
               SELECT CASE t.typtype WHEN 'e' THEN 'enum' WHEN 'd' THEN 'domain' ELSE 'type' END, n.nspname::text, NULL,
                      t.typname::text,
                      CASE WHEN $7::bool THEN CASE t.typtype
                           WHEN 'e' THEN (SELECT string_agg(e.enumlabel, ', ' ORDER BY e.enumsortorder) FROM pg_enum e
                                          WHERE e.enumtypid = t.oid)
                           WHEN 'd' THEN format_type(t.typbasetype, t.typtypmod)
                           ELSE 'composite type' END END
               FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace
               WHERE ('enum' = ANY($3::text[]) OR 'domain' = ANY($3::text[]) OR 'type' = ANY($3::text[]))
                 AND t.typname ILIKE $4::text AND {NS_VISIBLE}
                 AND (t.typtype IN ('e', 'd')
                      OR (t.typtype = 'c' AND (SELECT r.relkind FROM pg_class r WHERE r.oid = t.typrelid) = 'c'))
             UNION ALL
               SELECT 'trigger', n.nspname::text, c.relname::text, tg.tgname::text,
                      CASE WHEN $7::bool THEN pg_get_triggerdef(tg.oid, true) END
               FROM pg_trigger tg JOIN pg_class c ON c.oid = tg.tgrelid JOIN pg_namespace n ON n.oid = c.relnamespace
               WHERE 'trigger' = ANY($3::text[]) AND NOT tg.tgisinternal AND tg.tgname ILIKE $4::text AND {REL_VISIBLE}
             UNION ALL
               SELECT 'constraint', n.nspname::text, c.relname::text, con.conname::text,
                      CASE WHEN $7::bool THEN pg_get_constraintdef(con.oid, true) END
               FROM pg_constraint con JOIN pg_class c ON c.oid = con.conrelid JOIN pg_namespace n ON n.oid = c.relnamespace
               WHERE 'constraint' = ANY($3::text[]) AND con.conparentid = 0 AND con.conname ILIKE $4::text
                 AND {REL_VISIBLE}
             )
             SELECT kind, schema, table_name AS \"table\", name{detail_column}
             FROM hits h
             WHERE h.kind = ANY($3::text[])
               AND ($5::text IS NULL OR h.schema = $5::text)
               AND ($6::bool OR NOT (h.schema LIKE 'pg\\_%' OR h.schema = 'information_schema'))
             ORDER BY CASE WHEN lower(h.name) = $8::text THEN 0 WHEN starts_with(lower(h.name), $8::text) THEN 1 ELSE 2 END,
                      array_position(ARRAY[{kind_order}], h.kind), h.schema, h.table_name NULLS FIRST, h.name"
        );
        let mut params = scope.relation_params();
        params.extend([
            Value::Array(kinds),
            pattern,
            opt_str(&args.schema),
            json!(args.include_system),
            json!(args.detail == SearchDetail::Summary),
            json!(term),
        ]);
        (sql, params)
    })
    .await
}

// ---------------------------------------------------------------------------------------

/// Adds the exploration tools.
pub fn register(builder: ServerBuilder, dbs: &Arc<Databases>) -> ServerBuilder {
    let paging = "Lists are ordered and paged: `limit` (default 100) and `offset`; a truncated result says so and \
                  gives `nextOffset`. Objects the access policy hides are never listed.";
    builder
        .tool(
            tool_with("list_databases", dbs, list_databases)
                .title("List databases")
                .description(
                    "The databases this server is configured with (the names tools take as `database`, with \
                     descriptions and read-only markers) and, for each that answers, the databases on its server \
                     with size and encoding. Start here when several databases are configured.",
                )
                .read_only()
                .toolset("explore"),
        )
        .tool(
            tool_with("list_schemas", dbs, list_schemas)
                .title("List schemas")
                .description(format!(
                    "Schemas with owner, comment and how many tables, views, materialized views, foreign tables, \
                     sequences and functions each holds. Postgres's own schemas only with `include_system`. {paging}"
                ))
                .read_only()
                .toolset("explore"),
        )
        .tool(
            tool_with("list_objects", dbs, list_objects)
                .title("List tables, views and sequences")
                .description(format!(
                    "Tables, views, materialized views, foreign tables and sequences, in one schema or all, with \
                     kind, estimated rows, total size and comment. Filter by `kinds` and name `pattern`; `sort` by \
                     name, size or rows to find the big ones. {paging}"
                ))
                .read_only()
                .toolset("explore"),
        )
        .tool(
            tool_with("describe_table", dbs, describe_table)
                .title("Describe a table")
                .description(
                    "One table, view, materialized view or foreign table: columns (type, nullability, default, \
                     identity, generated, comment), primary key, foreign keys in both directions (what it \
                     references and what references it), indexes (definition, unique, valid, size, scans), \
                     check/unique/exclusion constraints, triggers, sizes, row estimate, statistics, partitioning \
                     and view definition. `detail: summary` gives the columns only.",
                )
                .read_only()
                .toolset("explore"),
        )
        .tool(
            tool_with("list_functions", dbs, list_functions)
                .title("List functions and procedures")
                .description(format!(
                    "Functions, procedures, aggregates and window functions with arguments, return type, language, \
                     volatility and security definer; `include_definition` adds their source. Extension members \
                     are hidden unless `include_extension_members`. {paging}"
                ))
                .read_only()
                .toolset("explore"),
        )
        .tool(
            tool_with("list_extensions", dbs, list_extensions)
                .title("List extensions")
                .description(format!(
                    "Installed extensions with version and schema; with `available`, also those the server can \
                     install (default version, description). {paging}"
                ))
                .read_only()
                .toolset("explore"),
        )
        .tool(
            tool_with("list_enums", dbs, list_enums)
                .title("List enum types")
                .description(format!("Enum types with their labels in order. {paging}"))
                .read_only()
                .toolset("explore"),
        )
        .tool(
            tool_with("list_sequences", dbs, list_sequences)
                .title("List sequences")
                .description(format!(
                    "Sequences with type, last value, increment, bounds, owning column and how close each is to \
                     exhaustion (`used_percent`, `remaining` calls), measured against the owning column's type \
                     when that is smaller (an int4 column stops at 2147483647). `sort: used` puts the closest \
                     first. {paging}"
                ))
                .read_only()
                .toolset("explore"),
        )
        .tool(
            tool_with("search_objects", dbs, search_objects)
                .title("Search objects by name")
                .description(format!(
                    "Finds schemas, tables, views, sequences, columns, indexes, functions, procedures, enums, \
                     domains, composite types, triggers and constraints whose name contains `pattern` \
                     (case-insensitive; `%` makes it an ILIKE pattern). Exact matches first, then prefixes. \
                     `detail: summary` adds a one-line description (column type, signature, definition). {paging}"
                ))
                .read_only()
                .toolset("explore"),
        )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn patterns_are_substrings_unless_they_say_otherwise() {
        assert_eq!(like_pattern(Some("order")), json!("%order%"));
        assert_eq!(like_pattern(Some("created_at")), json!("%created\\_at%"));
        assert_eq!(like_pattern(Some("ord%")), json!("ord%"));
        assert_eq!(like_pattern(Some("  ")), Value::Null);
        assert_eq!(like_pattern(None), Value::Null);
    }

    #[test]
    fn names_split_on_the_schema_dot() {
        assert_eq!(split_name("public.orders", None), (Some("public".into()), "orders".into()));
        assert_eq!(split_name("orders", Some("sales")), (Some("sales".into()), "orders".into()));
        assert_eq!(split_name("orders", None), (None, "orders".into()));
        assert_eq!(split_name("\"My\".\"Odd.Table\"", None), (Some("My".into()), "Odd.Table".into()));
        assert_eq!(split_name("\"a.b\"", None), (None, "a.b".into()));
    }

    #[test]
    fn sizes_read_like_pg_size_pretty() {
        assert_eq!(pretty_bytes(8192), "8192 bytes");
        assert_eq!(pretty_bytes(16384), "16 kB");
        assert_eq!(pretty_bytes(5 * 1024 * 1024 * 1024), "5120 MB");
    }
}
