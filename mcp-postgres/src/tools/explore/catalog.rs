//! The other catalog listings: functions, extensions, enums and sequences.

use std::sync::Arc;

use mcp_core::{Context, ToolError};
use schemars::JsonSchema;
use serde::Deserialize;
use serde_json::{Value, json};

use crate::databases::Databases;
use crate::output::Table;

use super::{NS_VISIBLE, REL_VISIBLE, SYSTEM, like_pattern, list, opt_str, window};

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

listing_args! {
    pub struct ListFunctionsArgs {
        /// Only this schema (exact name); default: every schema but Postgres's own.
        pub schema: Option<String>,
        /// Only names containing this (case-insensitive), or matching it as an ILIKE pattern when it contains `%`.
        pub pattern: Option<String>,
        /// Only these kinds (default: all): function, procedure, aggregate, window.
        pub kinds: Vec<FunctionKind>,
        /// Include each routine's full source (`CREATE FUNCTION ...`); longer results.
        pub include_definition: bool,
        /// Also list the functions extensions installed (hidden by default: they are noise).
        pub include_extension_members: bool,
        /// Also list routines in Postgres's own schemas (when `schema` is not given).
        pub include_system: bool,
    }
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

listing_args! {
    pub struct ListExtensionsArgs {
        /// Also list extensions the server could install but that are not installed here.
        pub available: bool,
        /// Only names containing this (case-insensitive), or matching it as an ILIKE pattern when it contains `%`.
        pub pattern: Option<String>,
    }
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

listing_args! {
    pub struct ListEnumsArgs {
        /// Only this schema (exact name); default: every schema but Postgres's own.
        pub schema: Option<String>,
        /// Only names containing this (case-insensitive), or matching it as an ILIKE pattern when it contains `%`.
        pub pattern: Option<String>,
    }
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

listing_args! {
    pub struct ListSequencesArgs {
        /// Only this schema (exact name); default: every schema but Postgres's own.
        pub schema: Option<String>,
        /// Only names containing this (case-insensitive), or matching it as an ILIKE pattern when it contains `%`.
        pub pattern: Option<String>,
        /// Order: `name` (default) or `used` (closest to exhaustion first).
        pub sort: SequenceSort,
    }
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
