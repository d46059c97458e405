//! Maintenance: `replication` (slots, WAL senders and their lag, this server's standby
//! status), `vacuum_progress` (VACUUMs running and what autovacuum has done and has to
//! do) and `table_bloat` (wasted space per table and index).
//!
//! Fixed catalog SQL in READ ONLY transactions, bounded like every listing; rows about
//! tables are filtered by the access policy's scopes.

use std::sync::Arc;

use mcp_core::server::ServerBuilder;
use mcp_core::{Context, ToolError, tool_with};
use serde_json::{Value, json};

use super::operations::{filter_window, read_rows, table, window};
use crate::access::Relations;
use crate::databases::Databases;
use crate::ident::quote_ident;
use crate::output::Table;
use crate::transaction::{Access, Window, run};

/// Adds this area's tools.
pub fn register(builder: ServerBuilder, dbs: &Arc<Databases>) -> ServerBuilder {
    builder
        .tools_in(
            "operations",
            [tool_with("replication", dbs, replication)
                .title("Replication: slots, standbys and lag")
                .description(
                    "One row per replication object, `kind` first: `standby` (this server, when it is one: its WAL \
                     receiver, replay lag in seconds and bytes received but not replayed), `sender` (each standby or \
                     logical consumer streaming from this server: state, write/flush/replay lag in seconds, bytes \
                     its replay is behind, sync state) and `slot` (each replication slot: type, active, the WAL it \
                     retains in bytes, wal_status; an inactive slot retains WAL until the disk fills). The note says \
                     whether this server is a primary or a standby, and when nothing replicates.",
                )
                .read_only()
                .idempotent()],
        )
        .tools_in(
            "performance",
            [
                tool_with("vacuum_progress", dbs, vacuum_progress)
                    .title("VACUUM progress and autovacuum status")
                    .description(
                        "One row per table: a VACUUM running on it now (phase, % scanned and vacuumed, index passes, \
                     pid, from pg_stat_progress_vacuum), live and dead rows, the autovacuum threshold (its settings \
                     and the table's own) and `need` (dead rows / threshold: 1 or more means autovacuum is due), \
                     rows changed since the last ANALYZE, the last manual and automatic VACUUM and ANALYZE, and \
                     whether autovacuum is enabled. Running vacuums first, then the tables most in need.",
                    )
                    .read_only(),
                tool_with("table_bloat", dbs, table_bloat)
                    .title("Estimated table and index bloat")
                    .description(
                        "Space wasted in tables and btree indexes (dead rows, free space VACUUM left), largest first: \
                     size, wasted bytes and %, and the fix. Tables are measured with pgstattuple_approx when the \
                     pgstattuple extension is installed in the database (`method` says which), otherwise estimated \
                     from the planner's statistics like indexes (tables never analyzed are not estimated: ANALYZE \
                     them).",
                    )
                    .read_only(),
            ],
        )
}

/// The statistics-based estimate of table bloat (also `database_health`'s `table_bloat`
/// check): CTEs ending in `e(oid, schema, tbl, actual_bytes, expected_bytes)`.
macro_rules! table_bloat_estimate {
    () => {
        "WITH t AS (
           SELECT c.oid, n.nspname::text AS schema, c.relname::text AS tbl, c.reltuples::numeric AS reltuples,
                  c.relpages::numeric AS relpages,
                  current_setting('block_size')::numeric AS bs,
                  COALESCE((SELECT option_value::numeric FROM pg_options_to_table(c.reloptions)
                            WHERE option_name = 'fillfactor'), 100) AS fillfactor
           FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
           WHERE c.relkind IN ('r', 'm') AND c.relpages > 0 AND c.reltuples >= 0
             AND n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname !~ '^pg_toast'
         ), w AS (
           SELECT t.oid,
                  sum((1 - COALESCE(s.null_frac, 0)) * COALESCE(s.avg_width, 0))::numeric AS data_width,
                  bool_or(s.attname IS NULL) AS missing_stats,
                  bool_or(COALESCE(s.null_frac, 0) > 0) AS has_nulls,
                  count(*) AS ncols
           FROM t JOIN pg_attribute a ON a.attrelid = t.oid AND a.attnum > 0 AND NOT a.attisdropped
           LEFT JOIN pg_stats s ON s.schemaname = t.schema AND s.tablename = t.tbl AND s.attname = a.attname
           GROUP BY t.oid
         ), e AS (
           -- A row: 23-byte header (+ null bitmap) and its data, each padded to 8 bytes, plus a
           -- 4-byte line pointer; a page: block size minus its 24-byte header, times fillfactor.
           SELECT t.oid, t.schema, t.tbl, t.relpages * t.bs AS actual_bytes,
                  ceil(t.reltuples * (ceil((23 + CASE WHEN w.has_nulls THEN ceil(w.ncols / 8.0) ELSE 0 END) / 8.0) * 8
                                      + ceil(w.data_width / 8.0) * 8 + 4)
                       / ((t.bs - 24) * t.fillfactor / 100)) * t.bs AS expected_bytes
           FROM t JOIN w ON w.oid = t.oid
           WHERE NOT w.missing_stats
         )"
    };
}
pub(crate) use table_bloat_estimate;

// ---------------------------------------------------------------------------------------
// replication

mcp_core::tool_args! {
    database: "Which configured database to connect through (default: the first); replication is server-wide.";
    pub struct ReplicationArgs {
        /// Most rows to return (default 100).
        pub limit: Option<usize>,
        /// Rows to skip: pass the `nextOffset` of a truncated result.
        #[serde(default)]
        pub offset: usize,
    }
}

const REPLICATION_SUMMARY: &str = "SELECT pg_is_in_recovery(), (SELECT count(*) FROM pg_stat_replication)::int8,
       (SELECT count(*) FROM pg_replication_slots)::int8, current_setting('wal_level')";

const REPLICATION: &str = "
SELECT kind, name, state, active, slot_type, write_lag_seconds, flush_lag_seconds, replay_lag_seconds, wal_bytes,
       pg_size_pretty(wal_bytes) AS wal_size, wal_status, detail
FROM (
  SELECT 0 AS ord, 'standby'::text AS kind, 'this server'::text AS name, r.status::text AS state, NULL::bool AS active,
         NULL::text AS slot_type, NULL::float8 AS write_lag_seconds, NULL::float8 AS flush_lag_seconds,
         CASE WHEN pg_last_wal_receive_lsn() IS NOT DISTINCT FROM pg_last_wal_replay_lsn() THEN 0
              ELSE round(extract(epoch FROM now() - pg_last_xact_replay_timestamp())::numeric, 1) END::float8
           AS replay_lag_seconds,
         pg_wal_lsn_diff(pg_last_wal_receive_lsn(), pg_last_wal_replay_lsn())::int8 AS wal_bytes,
         NULL::text AS wal_status,
         CASE WHEN r.pid IS NULL THEN 'no WAL receiver running (archive recovery, or the primary is unreachable)'
              ELSE concat_ws(', ', 'receiving from ' || r.sender_host || ':' || r.sender_port, 'slot ' || r.slot_name,
                             'last message ' || r.last_msg_receipt_time::text) END AS detail
  FROM (SELECT 1) one LEFT JOIN pg_stat_wal_receiver r ON true
  WHERE pg_is_in_recovery()
  UNION ALL
  SELECT 1, 'sender', COALESCE(NULLIF(application_name, ''), 'pid ' || pid) || COALESCE(' (' || host(client_addr) || ')', ''),
         state, NULL, NULL,
         round(extract(epoch FROM write_lag)::numeric, 3)::float8,
         round(extract(epoch FROM flush_lag)::numeric, 3)::float8,
         round(extract(epoch FROM replay_lag)::numeric, 3)::float8,
         CASE WHEN pg_is_in_recovery() THEN NULL ELSE pg_wal_lsn_diff(pg_current_wal_lsn(), replay_lsn)::int8 END,
         NULL, 'sync ' || sync_state || ', pid ' || pid
  FROM pg_stat_replication
  UNION ALL
  SELECT 2, 'slot', slot_name::text, CASE WHEN active THEN 'active' ELSE 'inactive' END, active, slot_type::text,
         NULL, NULL, NULL,
         pg_wal_lsn_diff(CASE WHEN pg_is_in_recovery() THEN pg_last_wal_receive_lsn() ELSE pg_current_wal_lsn() END,
                         restart_lsn)::int8,
         wal_status,
         concat_ws(', ', 'database ' || database, 'plugin ' || plugin, 'used by pid ' || active_pid,
                   CASE WHEN temporary THEN 'temporary' END,
                   'safe_wal_size ' || pg_size_pretty(safe_wal_size))
  FROM pg_replication_slots
) r
ORDER BY ord, name";

/// Lists replication slots, WAL senders and this server's standby status.
pub async fn replication(dbs: Arc<Databases>, ctx: Context, args: ReplicationArgs) -> Result<Table, ToolError> {
    let db = dbs.for_read(args.database.as_deref())?;
    let window = window(&dbs, args.offset, args.limit, 100)?;
    let mut tx = dbs.begin(&ctx, &db, Access::ReadOnly).await?;
    let summary = run(&mut tx, REPLICATION_SUMMARY, &[], Window::ALL).await?;
    let rows = run(&mut tx, REPLICATION, &[], window).await?;
    tx.rollback();
    let first = summary.rows.first().and_then(Value::as_array).cloned().unwrap_or_default();
    let standby = first.first().and_then(Value::as_bool).unwrap_or(false);
    let senders = first.get(1).and_then(Value::as_i64).unwrap_or(0);
    let slots = first.get(2).and_then(Value::as_i64).unwrap_or(0);
    let wal_level = first.get(3).and_then(Value::as_str).unwrap_or("?");
    let mut note = format!(
        "This server is a {} (wal_level {wal_level}). ",
        if standby { "standby, replaying WAL from a primary" } else { "primary" }
    );
    note += &match senders {
        0 => "No standby or logical consumer is streaming from it (pg_stat_replication is empty). ".to_string(),
        n => format!("{n} WAL sender(s) stream from it. "),
    };
    note += &match slots {
        0 => "It has no replication slot.".to_string(),
        n => format!("It has {n} replication slot(s)."),
    };
    Ok(table(&db, rows, args.offset, Some(note)))
}

// ---------------------------------------------------------------------------------------
// vacuum_progress

mcp_core::tool_args! {
    database: "Which configured database (default: the first).";
    /// `vacuum_progress`'s and `table_bloat`'s arguments.
    pub struct TablesArgs {
        /// Only tables (and their indexes) of this schema.
        pub schema: Option<String>,
        /// Only this table (and its indexes): its name, without the schema.
        pub table: Option<String>,
        /// Most rows to return (default 50).
        pub limit: Option<usize>,
        /// Rows to skip: pass the `nextOffset` of a truncated result.
        #[serde(default)]
        pub offset: usize,
    }
}

const VACUUM: &str = "
SELECT s.schemaname::text AS schema, s.relname::text AS \"table\",
       p.phase AS vacuum_phase,
       CASE WHEN p.heap_blks_total > 0 THEN round(100.0 * p.heap_blks_scanned / p.heap_blks_total, 1)::float8 END
         AS scanned_percent,
       CASE WHEN p.heap_blks_total > 0 THEN round(100.0 * p.heap_blks_vacuumed / p.heap_blks_total, 1)::float8 END
         AS vacuumed_percent,
       p.index_vacuum_count AS index_passes,
       p.pid AS vacuum_pid,
       s.n_live_tup AS live_rows, s.n_dead_tup AS dead_rows,
       COALESCE(round(100.0 * s.n_dead_tup / NULLIF(s.n_live_tup + s.n_dead_tup, 0), 1), 0)::float8 AS dead_percent,
       round(th.threshold)::int8 AS autovacuum_threshold,
       round((s.n_dead_tup / NULLIF(th.threshold, 0))::numeric, 2)::float8 AS need,
       s.n_mod_since_analyze AS changed_since_analyze,
       s.last_vacuum, s.last_autovacuum, s.last_analyze, s.last_autoanalyze,
       s.vacuum_count, s.autovacuum_count, s.analyze_count, s.autoanalyze_count,
       th.enabled AS autovacuum_enabled
FROM pg_stat_user_tables s
JOIN pg_class c ON c.oid = s.relid
LEFT JOIN pg_stat_progress_vacuum p
  ON p.relid = s.relid AND p.datid = (SELECT oid FROM pg_database WHERE datname = current_database())
CROSS JOIN LATERAL (
  SELECT COALESCE((SELECT option_value::float8 FROM pg_options_to_table(c.reloptions)
                   WHERE option_name = 'autovacuum_vacuum_threshold'),
                  current_setting('autovacuum_vacuum_threshold')::float8)
         + COALESCE((SELECT option_value::float8 FROM pg_options_to_table(c.reloptions)
                     WHERE option_name = 'autovacuum_vacuum_scale_factor'),
                    current_setting('autovacuum_vacuum_scale_factor')::float8) * GREATEST(c.reltuples, 0) AS threshold,
         current_setting('autovacuum')::bool
           AND NOT EXISTS (SELECT 1 FROM pg_options_to_table(c.reloptions)
                           WHERE option_name = 'autovacuum_enabled'
                             AND lower(option_value) IN ('false', 'off', '0', 'no')) AS enabled
) th
WHERE ($1::text IS NULL OR s.schemaname = $1::text) AND ($2::text IS NULL OR s.relname = $2::text)
ORDER BY p.pid IS NULL, need DESC NULLS LAST, dead_rows DESC, schema, \"table\"";

/// Lists tables with their running VACUUM and autovacuum status.
pub async fn vacuum_progress(dbs: Arc<Databases>, ctx: Context, args: TablesArgs) -> Result<Table, ToolError> {
    let db = dbs.for_read(args.database.as_deref())?;
    let window = window(&dbs, args.offset, args.limit, 50)?;
    let relations = Relations::of(&ctx)?;
    let params = [json!(args.schema), json!(args.table)];
    let allowed = |row: &[Value]| table_allowed(&relations, row, 0, 1);
    let keep = relations.restricts().then_some(&allowed as &(dyn Fn(&[Value]) -> bool + Sync));
    let rows = read_rows(&dbs, &ctx, &db, VACUUM, &params, window, keep).await?;
    let running = rows.rows.iter().filter(|r| r.get(2).is_some_and(|phase| !phase.is_null())).count();
    let note = match (running, rows.rows.is_empty()) {
        (_, true) => "No table matches (only tables this client may see are listed).".to_string(),
        (0, false) => "No VACUUM is running on these tables now; the tables most in need come first (need ≥ 1: \
                       autovacuum is due)."
            .to_string(),
        (n, false) => format!("{n} VACUUM(s) running, listed first; then the tables most in need."),
    };
    Ok(table(&db, rows, args.offset, Some(note)))
}

/// Whether the client may see the table named in `row` at columns `schema` and `table`.
fn table_allowed(relations: &Relations, row: &[Value], schema: usize, table: usize) -> bool {
    let text = |i: usize| row.get(i).and_then(Value::as_str).unwrap_or_default();
    relations.table_allowed(text(schema), text(table))
}

// ---------------------------------------------------------------------------------------
// table_bloat

/// btree indexes estimated from their keys' average widths: an index tuple is an 8-byte
/// header and its key padded to 8 bytes, plus a 4-byte line pointer; a leaf page is the
/// block minus its 24-byte header and 16-byte special space, times fillfactor (90).
const INDEX_ESTIMATE: &str = ",
ix AS (
  SELECT n.nspname::text AS schema, ci.relname::text AS idx, ct.relname::text AS tbl,
         ci.relpages::numeric * current_setting('block_size')::numeric AS actual_bytes,
         (1 + ceil(ci.reltuples::numeric * (8 + ceil(k.key_width / 8.0) * 8 + 4)
                   / ((current_setting('block_size')::numeric - 40)
                      * COALESCE((SELECT option_value::numeric FROM pg_options_to_table(ci.reloptions)
                                  WHERE option_name = 'fillfactor'), 90) / 100)))
           * current_setting('block_size')::numeric AS expected_bytes
  FROM pg_index x
  JOIN pg_class ci ON ci.oid = x.indexrelid
  JOIN pg_class ct ON ct.oid = x.indrelid
  JOIN pg_namespace n ON n.oid = ci.relnamespace
  JOIN pg_am am ON am.oid = ci.relam
  CROSS JOIN LATERAL (
    SELECT sum(COALESCE(s.avg_width, 0))::numeric AS key_width, bool_or(s.attname IS NULL) AS missing_stats
    FROM unnest(x.indkey::int2[]) AS key(attnum)
    JOIN pg_attribute a ON a.attrelid = x.indrelid AND a.attnum = key.attnum
    LEFT JOIN pg_stats s ON s.schemaname = n.nspname AND s.tablename = ct.relname AND s.attname = a.attname
  ) k
  WHERE am.amname = 'btree' AND ci.relpages > 1 AND ci.reltuples >= 0 AND 0 <> ALL (x.indkey::int2[])
    AND NOT k.missing_stats
    AND n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname !~ '^pg_toast'
)";

/// The rows both methods share, once their table part `tables` is chosen.
fn bloat_sql(tables: &str) -> String {
    format!(
        "{}{INDEX_ESTIMATE}
SELECT kind, schema, name, \"table\", size_bytes, pg_size_pretty(size_bytes) AS size, wasted_bytes,
       pg_size_pretty(wasted_bytes) AS wasted,
       round(100.0 * wasted_bytes / NULLIF(size_bytes, 0), 1)::float8 AS wasted_percent, method,
       CASE WHEN kind = 'table' THEN format('VACUUM FULL %I.%I (locks the table; pg_repack does it online)', schema, name)
            ELSE format('REINDEX INDEX CONCURRENTLY %I.%I', schema, name) END AS fix
FROM (
  {tables}
  UNION ALL
  SELECT 'index', schema, idx, tbl, actual_bytes::int8, GREATEST(actual_bytes - expected_bytes, 0)::int8, 'estimate'
  FROM ix
) b (kind, schema, name, \"table\", size_bytes, wasted_bytes, method)
WHERE ($1::text IS NULL OR schema = $1::text) AND ($2::text IS NULL OR \"table\" = $2::text)
ORDER BY wasted_bytes DESC, schema, name",
        table_bloat_estimate!()
    )
}

/// Where pgstattuple is installed in this database, read from the catalog.
const PGSTATTUPLE: &str = "SELECT n.nspname::text FROM pg_extension e JOIN pg_namespace n ON n.oid = e.extnamespace
 WHERE e.extname = 'pgstattuple'";

/// Lists tables and indexes by wasted space.
pub async fn table_bloat(dbs: Arc<Databases>, ctx: Context, args: TablesArgs) -> Result<Table, ToolError> {
    let db = dbs.for_read(args.database.as_deref())?;
    let window = window(&dbs, args.offset, args.limit, 50)?;
    let relations = Relations::of(&ctx)?;
    let mut tx = dbs.begin(&ctx, &db, Access::ReadOnly).await?;
    let installed = run(&mut tx, PGSTATTUPLE, &[], Window::ALL).await?;
    let schema = installed.rows.first().and_then(|r| r.get(0)).and_then(Value::as_str).map(str::to_string);
    let tables = match &schema {
        // Filtered before the function runs: only the tables asked about are read.
        Some(ext) => format!(
            "SELECT 'table', t.schema, t.tbl, t.tbl, p.table_len, (p.dead_tuple_len + p.approx_free_space)::int8, \
             'pgstattuple_approx' FROM t CROSS JOIN LATERAL {}.pgstattuple_approx(t.oid) p \
             WHERE ($1::text IS NULL OR t.schema = $1::text) AND ($2::text IS NULL OR t.tbl = $2::text)",
            quote_ident(ext)
        ),
        None => "SELECT 'table', schema, tbl, tbl, actual_bytes::int8, \
                 GREATEST(actual_bytes - expected_bytes, 0)::int8, 'estimate' FROM e"
            .to_string(),
    };
    let params = [json!(args.schema), json!(args.table)];
    let sql = bloat_sql(&tables);
    let rows = if relations.restricts() {
        let all = run(&mut tx, &sql, &params, Window::ALL).await?;
        filter_window(all, window, &|row: &[Value]| table_allowed(&relations, row, 1, 3))
    } else {
        run(&mut tx, &sql, &params, window).await?
    };
    tx.rollback();
    let method = match &schema {
        Some(_) => "Tables measured with pgstattuple_approx (dead rows and free space); indexes estimated.",
        None => {
            "Estimated from the planner's statistics (pgstattuple is not installed in this database: CREATE \
             EXTENSION pgstattuple measures tables instead). Tables and indexes never analyzed are left out."
        }
    };
    Ok(table(&db, rows, args.offset, Some(method.to_string())))
}
