//! Exploring a database: its schemas, objects, tables in detail, functions, extensions,
//! enums and sequences, and a search across every kind of object.
//!
//! Every list is one catalog query with bound parameters, ordered, paged by `offset` /
//! `limit` and cut to the byte budget, so `truncated` and `nextOffset` are exact. The
//! access policy's rules are globs, which SQL cannot match; so a restricted call first
//! works out, in Rust, which schemas it may see and which relations it may not, and binds
//! those as arrays ($1, $2). Filtering therefore happens before paging, and a denied
//! object is never counted, listed, described or found.

/// The arguments of an explore listing: its own fields, and the three every listing
/// takes (`database`, `offset`, `limit`), written once so that their names, defaults and
/// descriptions cannot drift apart between tools. Every field is optional (the
/// container's `default`), so the listing's own fields must have defaults too. (Not `#[serde(flatten)]`: serde does
/// not combine it with `deny_unknown_fields`.) Defined before the modules that use it.
macro_rules! listing_args {
    (pub struct $name:ident { $($(#[$field_attr:meta])* pub $field:ident: $ty:ty,)* }) => {
        mcp_core::tool_args! {
            database: "Which configured database (default: the first).";
            #[derive(Default)]
            #[serde(default)]
            pub struct $name {
                $($(#[$field_attr])* pub $field: $ty,)*
                /// Rows to skip: pass the `nextOffset` of a truncated result.
                pub offset: usize,
                /// Most rows to return (default 100).
                pub limit: Option<usize>,
            }
        }
    };
}

pub(crate) mod catalog;
pub(crate) mod databases;
pub(crate) mod describe;
pub(crate) mod objects;
pub(crate) mod search;

use std::sync::Arc;

use mcp_core::server::ServerBuilder;
use mcp_core::{Context, ToolError};
use serde::de::DeserializeOwned;
use serde_json::{Map, Value};

use crate::access::Relations;
use crate::databases::Databases;
use crate::output::Table;
use crate::transaction::{Access, Tx, Window, run};
use mcp_core::tool_with;

/// Adds the exploration tools.
pub fn register(builder: ServerBuilder, dbs: &Arc<Databases>) -> ServerBuilder {
    let paging = "Lists are ordered and paged: `limit` (default 100) and `offset`; a truncated result says so and \
                  gives `nextOffset`. Objects the access policy hides are never listed.";
    builder.tools_in(
        "explore",
        [
            tool_with("list_databases", dbs, databases::list_databases)
                .title("List databases")
                .description(
                    "The databases this server is configured with (the names tools take as `database`, with \
                     descriptions and read-only markers) and, for each that answers, the databases on its server \
                     with size and encoding. Start here when several databases are configured.",
                )
                .read_only(),
            tool_with("list_schemas", dbs, objects::list_schemas)
                .title("List schemas")
                .description(format!(
                    "Schemas with owner, comment and how many tables, views, materialized views, foreign tables, \
                     sequences and functions each holds. Postgres's own schemas only with `include_system`. {paging}"
                ))
                .read_only(),
            tool_with("list_objects", dbs, objects::list_objects)
                .title("List tables, views and sequences")
                .description(format!(
                    "Tables, views, materialized views, foreign tables and sequences, in one schema or all, with \
                     kind, estimated rows, total size and comment. Filter by `kinds` and name `pattern`; `sort` by \
                     name, size or rows to find the big ones. {paging}"
                ))
                .read_only(),
            tool_with("describe_table", dbs, describe::describe_table)
                .title("Describe a table")
                .description(
                    "One table, view, materialized view or foreign table: columns (type, nullability, default, \
                     identity, generated, comment), primary key, foreign keys in both directions (what it \
                     references and what references it), indexes (definition, unique, valid, size, scans), \
                     check/unique/exclusion constraints, triggers, sizes, row estimate, statistics, partitioning \
                     and view definition. `detail: summary` gives the columns only.",
                )
                .read_only(),
            tool_with("list_functions", dbs, catalog::list_functions)
                .title("List functions and procedures")
                .description(format!(
                    "Functions, procedures, aggregates and window functions with arguments, return type, language, \
                     volatility and security definer; `include_definition` adds their source. Extension members \
                     are hidden unless `include_extension_members`. {paging}"
                ))
                .read_only(),
            tool_with("list_extensions", dbs, catalog::list_extensions)
                .title("List extensions")
                .description(format!(
                    "Installed extensions with version and schema; with `available`, also those the server can \
                     install (default version, description). {paging}"
                ))
                .read_only(),
            tool_with("list_enums", dbs, catalog::list_enums)
                .title("List enum types")
                .description(format!("Enum types with their labels in order. {paging}"))
                .read_only(),
            tool_with("list_sequences", dbs, catalog::list_sequences)
                .title("List sequences")
                .description(format!(
                    "Sequences with type, last value, increment, bounds, owning column and how close each is to \
                     exhaustion (`used_percent`, `remaining` calls), measured against the owning column's type \
                     when that is smaller (an int4 column stops at 2147483647). `sort: used` puts the closest \
                     first. {paging}"
                ))
                .read_only(),
            tool_with("search_objects", dbs, search::search_objects)
                .title("Search objects by name")
                .description(format!(
                    "Finds schemas, tables, views, sequences, columns, indexes, functions, procedures, enums, \
                     domains, composite types, triggers and constraints whose name contains `pattern` \
                     (case-insensitive; `%` makes it an ILIKE pattern). Exact matches first, then prefixes. \
                     `detail: summary` adds a one-line description (column type, signature, definition). {paging}"
                ))
                .read_only(),
        ],
    )
}

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
/// `CASE c.relkind ...` as the kind names the tools take.
const KIND_NAME: &str = "CASE c.relkind WHEN 'r' THEN 'table' WHEN 'p' THEN 'partitioned_table' WHEN 'v' THEN 'view' \
                         WHEN 'm' THEN 'materialized_view' WHEN 'f' THEN 'foreign_table' WHEN 'S' THEN 'sequence' \
                         WHEN 'i' THEN 'index' WHEN 'I' THEN 'index' ELSE c.relkind::text END";

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
    tx.rollback();
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

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn patterns_are_substrings_unless_they_say_otherwise() {
        assert_eq!(like_pattern(Some("order")), json!("%order%"));
        assert_eq!(like_pattern(Some("created_at")), json!("%created\\_at%"));
        assert_eq!(like_pattern(Some("ord%")), json!("ord%"));
        assert_eq!(like_pattern(Some("  ")), Value::Null);
        assert_eq!(like_pattern(None), Value::Null);
    }

    #[test]
    fn sizes_read_like_pg_size_pretty() {
        assert_eq!(pretty_bytes(8192), "8192 bytes");
        assert_eq!(pretty_bytes(16384), "16 kB");
        assert_eq!(pretty_bytes(5 * 1024 * 1024 * 1024), "5120 MB");
    }
}
