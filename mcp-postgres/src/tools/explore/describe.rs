//! `describe_table`: one table, view or materialized view in full (columns, keys both
//! ways, indexes, constraints, triggers, sizes, statistics, partitions), as structured
//! data and as text. One cohesive job: the catalog queries and their rendering.

use std::fmt::Write as _;
use std::sync::Arc;

use mcp_core::output::Rendered;
use mcp_core::{Context, ToolError};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::databases::Databases;
use crate::transaction::{Access, Tx};

use super::{KIND_NAME, REL_VISIBLE, Scope, pretty_bytes, typed};

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
    pub schema: Option<String>,
    /// Which configured database (default: the first).
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
    #[serde(skip_serializing_if = "Option::is_none")]
    pub default: Option<String>,
    /// Identity column: `always` or `by default`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub identity: Option<String>,
    /// Generated column: its expression.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub generated: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub comment: Option<String>,
    /// Part of the primary key.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub primary_key: bool,
    /// The `schema.table(column)` it references, when part of a foreign key.
    #[serde(skip_serializing_if = "Option::is_none")]
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
    #[serde(skip_serializing_if = "Option::is_none")]
    pub predicate: Option<String>,
    pub size_bytes: i64,
    pub size: String,
    /// Index scans since statistics were reset.
    #[serde(skip_serializing_if = "Option::is_none")]
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
    pub live_rows: Option<i64>,
    pub dead_rows: Option<i64>,
    pub seq_scans: Option<i64>,
    pub index_scans: Option<i64>,
    pub last_vacuum: Option<String>,
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
    tx.rollback();
    let description = description?;
    Ok(Rendered { text: render(&description), data: description })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_split_on_the_schema_dot() {
        assert_eq!(split_name("public.orders", None), (Some("public".into()), "orders".into()));
        assert_eq!(split_name("orders", Some("sales")), (Some("sales".into()), "orders".into()));
        assert_eq!(split_name("orders", None), (None, "orders".into()));
        assert_eq!(split_name("\"My\".\"Odd.Table\"", None), (Some("My".into()), "Odd.Table".into()));
        assert_eq!(split_name("\"a.b\"", None), (None, "a.b".into()));
    }
}
