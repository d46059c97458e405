//! `search_objects`: a name fragment looked up across every kind of object.

use std::sync::Arc;

use mcp_core::{Context, ToolError};
use schemars::JsonSchema;
use serde::Deserialize;
use serde_json::{Value, json};

use crate::databases::Databases;
use crate::output::Table;

use super::{KIND_NAME, NS_VISIBLE, REL_VISIBLE, like_pattern, list, opt_str, window};

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

mcp_core::tool_args! {
    database: "Which configured database (default: the first).";
    pub struct SearchObjectsArgs {
        /// What to look for: a case-insensitive substring of the name (`cust` finds `customers`
        /// and `customer_id`), or an ILIKE pattern when it contains `%` (`%_at`).
        pub pattern: String,
        /// Only these kinds (default: all): schema, table, view, materialized_view,
        /// foreign_table, sequence, column, index, function, procedure, enum, domain, type,
        /// trigger, constraint.
        #[serde(default)]
        pub kinds: Vec<SearchKind>,
        /// Only in this schema (exact name).
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
        pub limit: Option<usize>,
    }
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
