//! `list_schemas` and `list_objects`: what a database holds, schema by schema.

use std::sync::Arc;

use mcp_core::{Context, ToolError};
use schemars::JsonSchema;
use serde::Deserialize;
use serde_json::{Value, json};

use crate::databases::Databases;
use crate::output::Table;

use super::{KIND_NAME, NS_VISIBLE, REL_VISIBLE, SYSTEM, like_pattern, list, opt_str, window};

listing_args! {
    pub struct ListSchemasArgs {
        /// Only schemas whose name contains this (case-insensitive), or matches it as an
        /// ILIKE pattern when it contains `%`.
        pub pattern: Option<String>,
        /// Also list Postgres's own schemas (pg_catalog, information_schema, pg_toast).
        pub include_system: bool,
    }
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

listing_args! {
    pub struct ListObjectsArgs {
        /// Only this schema (exact name); default: every schema but Postgres's own.
        pub schema: Option<String>,
        /// Only these kinds (default: all): table, view, materialized_view, foreign_table, sequence.
        pub kinds: Vec<ObjectKind>,
        /// Only objects whose name contains this (case-insensitive), or matches it as an
        /// ILIKE pattern when it contains `%`.
        pub pattern: Option<String>,
        /// Order: `name` (default), `size` (largest first) or `rows` (most first).
        pub sort: ObjectSort,
        /// Also list the partitions of partitioned tables (hidden by default: the parent stands for them).
        pub include_partitions: bool,
        /// Also list objects in Postgres's own schemas (when `schema` is not given).
        pub include_system: bool,
    }
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
