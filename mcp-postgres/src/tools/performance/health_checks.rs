//! The SQL of each `database_health` check and what it means: data, one entry per check.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// One health check.
#[derive(Debug, Clone, Copy, Deserialize, Serialize, JsonSchema, PartialEq, Eq, PartialOrd, Ord)]
#[serde(rename_all = "snake_case")]
pub enum Check {
    /// Connections in use against max_connections.
    Connections,
    /// Share of table and index reads served from shared buffers.
    CacheHit,
    /// Tables much larger than their live rows need (estimate from statistics).
    TableBloat,
    /// Dead rows VACUUM has not removed; tables never or long not analyzed.
    Vacuum,
    /// Transaction ID age towards wraparound, per database.
    Wraparound,
    /// Sequences (and the columns they feed) close to their maximum.
    Sequences,
    /// Queries running, or transactions idle, longer than `long_running_seconds`.
    LongRunningQueries,
    /// Sessions waiting on locks held by others.
    BlockedQueries,
    /// Indexes never scanned since statistics were reset (not unique, not constraints).
    UnusedIndexes,
    /// Indexes whose columns lead another index on the same table.
    DuplicateIndexes,
    /// Indexes left invalid (a failed CREATE INDEX CONCURRENTLY).
    InvalidIndexes,
    /// Constraints added NOT VALID and never validated.
    InvalidConstraints,
    /// Standby lag and replication slots (inactive slots retain WAL).
    Replication,
    /// Whether the role the connector acts as can reach past the guards: superuser,
    /// or a member of pg_read_server_files, pg_write_server_files,
    /// pg_execute_server_program.
    RolePrivileges,
}

pub(super) const ALL_CHECKS: [Check; 14] = [
    Check::Connections,
    Check::CacheHit,
    Check::TableBloat,
    Check::Vacuum,
    Check::Wraparound,
    Check::Sequences,
    Check::LongRunningQueries,
    Check::BlockedQueries,
    Check::UnusedIndexes,
    Check::DuplicateIndexes,
    Check::InvalidIndexes,
    Check::InvalidConstraints,
    Check::Replication,
    Check::RolePrivileges,
];

impl Check {
    pub(super) fn name(self) -> String {
        serde_json::to_value(self).ok().and_then(|v| v.as_str().map(str::to_string)).unwrap_or_default()
    }
}

/// Each check's SQL (rows with a `severity` of ok / warning / critical) and explanation.
pub(super) fn check_sql(check: Check) -> (&'static str, &'static str) {
    match check {
        Check::Connections => (
            "SELECT used, usable, max_connections, reserved,
                    round(100.0 * used / NULLIF(usable, 0), 1)::float8 AS percent_used,
                    CASE WHEN used >= 0.9 * usable THEN 'critical' WHEN used >= 0.7 * usable THEN 'warning'
                         ELSE 'ok' END AS severity,
                    by_state
             FROM (SELECT (SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'client backend') AS used,
                          current_setting('max_connections')::int AS max_connections,
                          current_setting('superuser_reserved_connections')::int AS reserved,
                          current_setting('max_connections')::int
                            - current_setting('superuser_reserved_connections')::int AS usable,
                          (SELECT jsonb_object_agg(COALESCE(state, 'unknown'), n)
                           FROM (SELECT state, count(*) AS n FROM pg_stat_activity
                                 WHERE backend_type = 'client backend' GROUP BY state) s) AS by_state) x",
            "Client connections against max_connections minus the superuser reserve. Warning at 70%, critical at \
             90%: new connections fail when it is full. Many idle connections call for a pooler (PgBouncer); \
             many 'idle in transaction' for fixing the application.",
        ),
        Check::CacheHit => (
            "SELECT kind, hit, read, round(100.0 * hit / NULLIF(hit + read, 0), 2)::float8 AS hit_percent,
                    hit + read < 10000 AS too_little_activity,
                    CASE WHEN hit + read < 10000 THEN 'ok'
                         WHEN hit::float8 / (hit + read) < 0.80 THEN 'critical'
                         WHEN hit::float8 / (hit + read) < 0.95 THEN 'warning' ELSE 'ok' END AS severity
             FROM (SELECT 'tables' AS kind, COALESCE(sum(heap_blks_hit), 0)::int8 AS hit,
                          COALESCE(sum(heap_blks_read), 0)::int8 AS read FROM pg_statio_user_tables
                   UNION ALL
                   SELECT 'indexes', COALESCE(sum(idx_blks_hit), 0)::int8, COALESCE(sum(idx_blks_read), 0)::int8
                   FROM pg_statio_user_indexes) x",
            "Share of table and index block reads found in shared buffers since statistics were reset. Below 95% \
             is a warning, below 80% critical (with at least 10000 reads): the working set does not fit in \
             memory; consider more shared_buffers / RAM, or fewer full scans.",
        ),
        Check::TableBloat => (
            concat!(
                crate::tools::maintenance::table_bloat_estimate!(),
                "
             SELECT schema, tbl AS \"table\", pg_size_pretty(actual_bytes) AS size,
                    pg_size_pretty(actual_bytes - expected_bytes) AS wasted,
                    (actual_bytes - expected_bytes)::int8 AS wasted_bytes,
                    round(100 * (actual_bytes - expected_bytes) / actual_bytes, 1)::float8 AS wasted_percent,
                    CASE WHEN actual_bytes - expected_bytes >= 1073741824 THEN 'critical' ELSE 'warning' END AS severity,
                    format('VACUUM FULL %I.%I (locks the table; pg_repack does it online)', schema, tbl) AS fix
             FROM e
             WHERE actual_bytes - expected_bytes >= 10485760 AND (actual_bytes - expected_bytes) >= 0.5 * actual_bytes
             ORDER BY actual_bytes - expected_bytes DESC"
            ),
            "Estimated from the planner's statistics (row count, average widths): tables at least half wasted \
             space and 10 MB wasted are a warning, 1 GB critical. Bloat makes scans read pages of dead space; \
             VACUUM only makes it reusable, VACUUM FULL or pg_repack gives it back. Tables never analyzed are \
             not estimated (see `vacuum`).",
        ),
        Check::Vacuum => (
            "SELECT * FROM (
               SELECT s.schemaname::text AS schema, s.relname::text AS \"table\", s.n_live_tup AS live_rows,
                      s.n_dead_tup AS dead_rows,
                      COALESCE(round(100.0 * s.n_dead_tup / NULLIF(s.n_live_tup + s.n_dead_tup, 0), 1), 0)::float8
                        AS dead_percent,
                      GREATEST(s.last_vacuum, s.last_autovacuum) AS last_vacuum,
                      GREATEST(s.last_analyze, s.last_autoanalyze) AS last_analyze,
                      s.n_mod_since_analyze AS changed_since_analyze,
                      EXISTS (SELECT 1 FROM pg_options_to_table(c.reloptions)
                              WHERE option_name = 'autovacuum_enabled'
                                AND lower(option_value) IN ('false', 'off', '0', 'no')) AS autovacuum_disabled
               FROM pg_stat_user_tables s JOIN pg_class c ON c.oid = s.relid
             ) t CROSS JOIN LATERAL (
               SELECT CASE WHEN dead_rows >= 10000 AND dead_percent >= 50 THEN 'critical'
                           WHEN (dead_rows >= 10000 AND dead_percent >= 20)
                             OR (last_analyze IS NULL AND live_rows + changed_since_analyze >= 1000)
                             OR (changed_since_analyze >= 10000 AND changed_since_analyze >= live_rows * 0.5)
                             OR (autovacuum_disabled AND dead_rows >= 1000) THEN 'warning' END AS severity,
                      array_to_string(array_remove(ARRAY[
                        CASE WHEN dead_rows >= 10000 AND dead_percent >= 20
                             THEN 'many dead rows: VACUUM has not kept up' END,
                        CASE WHEN last_analyze IS NULL AND live_rows + changed_since_analyze >= 1000
                             THEN 'never analyzed: the planner has no statistics' END,
                        CASE WHEN changed_since_analyze >= 10000 AND changed_since_analyze >= live_rows * 0.5
                             THEN 'statistics are stale' END,
                        CASE WHEN autovacuum_disabled THEN 'autovacuum is disabled on this table' END], NULL), '; ')
                        AS reason,
                      format('VACUUM (ANALYZE) %I.%I', schema, \"table\") AS fix
             ) x
             WHERE severity IS NOT NULL
             ORDER BY severity = 'critical' DESC, dead_rows DESC, schema, \"table\"",
            "Dead rows (from updates and deletes) that VACUUM has not yet removed, and statistics freshness. At \
             least 10000 dead rows and 20% of the table is a warning, 50% critical; tables never analyzed, with \
             stale statistics or with autovacuum disabled are warnings. Check autovacuum settings and long \
             transactions, which stop VACUUM.",
        ),
        Check::Wraparound => (
            "SELECT datname::text AS database_name, age(datfrozenxid) AS xid_age, mxid_age(datminmxid) AS multixact_age,
                    round(100.0 * age(datfrozenxid) / 2147483648, 1)::float8 AS percent_to_wraparound,
                    CASE WHEN GREATEST(age(datfrozenxid), mxid_age(datminmxid)) >= 1500000000 THEN 'critical'
                         WHEN GREATEST(age(datfrozenxid), mxid_age(datminmxid)) >= 850000000 THEN 'warning'
                         ELSE 'ok' END AS severity
             FROM pg_database WHERE datallowconn
             ORDER BY age(datfrozenxid) DESC",
            "Transaction IDs wrap around after about 2.1 billion; the server stops accepting writes before that. \
             Autovacuum freezes old rows (autovacuum_freeze_max_age); an age over 850 million is a warning, over \
             1.5 billion critical: find what blocks freezing (long transactions, abandoned replication slots or \
             prepared transactions) and VACUUM (FREEZE) the oldest tables.",
        ),
        Check::Sequences => (
            "WITH s AS (
               SELECT sq.schemaname::text AS schema, sq.sequencename::text AS sequence, sq.last_value,
                      sq.min_value, sq.increment_by,
                      LEAST(sq.max_value, CASE col.typname WHEN 'int2' THEN 32767 WHEN 'int4' THEN 2147483647
                                                            ELSE sq.max_value END) AS max_value,
                      col.tbl AS \"table\", col.attname AS column_name, col.typname AS column_type
               FROM pg_sequences sq
               JOIN pg_namespace n ON n.nspname = sq.schemaname
               JOIN pg_class c ON c.relnamespace = n.oid AND c.relname = sq.sequencename
               LEFT JOIN LATERAL (
                 SELECT t.relname::text AS tbl, a.attname::text AS attname, ty.typname::text AS typname
                 FROM pg_depend d
                 JOIN pg_class t ON t.oid = d.refobjid
                 JOIN pg_attribute a ON a.attrelid = d.refobjid AND a.attnum = d.refobjsubid
                 JOIN pg_type ty ON ty.oid = a.atttypid
                 WHERE d.classid = 'pg_class'::regclass AND d.objid = c.oid AND d.refclassid = 'pg_class'::regclass
                   AND d.refobjsubid > 0 AND d.deptype IN ('a', 'i')
                 LIMIT 1) col ON true
               WHERE sq.last_value IS NOT NULL AND NOT sq.cycle AND sq.increment_by > 0
             )
             SELECT schema, sequence, \"table\", column_name, column_type, last_value, max_value,
                    round(100.0 * (last_value - min_value) / NULLIF(max_value - min_value, 0), 1)::float8 AS percent_used,
                    CASE WHEN (last_value - min_value) >= 0.9 * (max_value - min_value) THEN 'critical'
                         WHEN (last_value - min_value) >= 0.75 * (max_value - min_value) THEN 'warning'
                         ELSE 'ok' END AS severity
             FROM s
             WHERE (last_value - min_value) >= 0.75 * (max_value - min_value)
             ORDER BY (last_value - min_value)::numeric / NULLIF(max_value - min_value, 0) DESC",
            "How much of its range each ascending, non-cycling sequence has used, capped by the type of the \
             column it feeds (a bigint sequence behind an integer column fails at 2147483647). Over 75% is a \
             warning, over 90% critical: change the column to bigint (and the sequence's maxvalue) before inserts \
             fail.",
        ),
        Check::LongRunningQueries => (
            "SELECT pid, usename::text AS \"user\", datname::text AS database_name, state,
                    round(extract(epoch FROM clock_timestamp() - query_start)::numeric, 1)::float8 AS query_seconds,
                    round(extract(epoch FROM clock_timestamp() - state_change)::numeric, 1)::float8 AS state_seconds,
                    round(extract(epoch FROM clock_timestamp() - xact_start)::numeric, 1)::float8 AS transaction_seconds,
                    left(query, 300) AS query,
                    CASE WHEN clock_timestamp() - CASE WHEN state = 'active' THEN query_start ELSE state_change END
                              >= make_interval(secs => $1::float8 * 12) THEN 'critical' ELSE 'warning' END AS severity
             FROM pg_stat_activity
             WHERE pid <> pg_backend_pid() AND backend_type = 'client backend'
               AND ((state = 'active' AND query_start <= clock_timestamp() - make_interval(secs => $1::float8))
                 OR (state LIKE 'idle in transaction%'
                     AND state_change <= clock_timestamp() - make_interval(secs => $1::float8)))
             ORDER BY LEAST(query_start, state_change)",
            "Queries running, and sessions idle inside a transaction, longer than `long_running_seconds` (default \
             300) are a warning, twelve times that critical. Long transactions hold locks and stop VACUUM; cancel \
             with pg_cancel_backend(pid) or set statement_timeout / idle_in_transaction_session_timeout.",
        ),
        Check::BlockedQueries => (
            "SELECT w.pid AS blocked_pid, pg_blocking_pids(w.pid) AS blocked_by, w.usename::text AS \"user\",
                    w.wait_event_type, w.wait_event,
                    round(extract(epoch FROM clock_timestamp() - w.query_start)::numeric, 1)::float8 AS waiting_seconds,
                    left(w.query, 300) AS query,
                    CASE WHEN clock_timestamp() - w.query_start >= interval '5 minutes' THEN 'critical'
                         WHEN clock_timestamp() - w.query_start >= interval '10 seconds' THEN 'warning'
                         ELSE 'ok' END AS severity
             FROM pg_stat_activity w
             WHERE w.pid <> pg_backend_pid() AND cardinality(pg_blocking_pids(w.pid)) > 0
             ORDER BY w.query_start",
            "Sessions waiting on a lock another session holds: waiting 10 seconds is a warning, 5 minutes \
             critical. `locks` shows the whole chain and both queries; ending the root blocker's transaction \
             releases the chain.",
        ),
        Check::UnusedIndexes => (
            "SELECT s.schemaname::text AS schema, s.relname::text AS \"table\", s.indexrelname::text AS index,
                    pg_size_pretty(pg_relation_size(s.indexrelid)) AS size,
                    pg_relation_size(s.indexrelid) AS size_bytes,
                    COALESCE((SELECT stats_reset FROM pg_stat_database WHERE datname = current_database()),
                             pg_postmaster_start_time()) AS counted_since,
                    'warning' AS severity,
                    format('DROP INDEX CONCURRENTLY %I.%I', s.schemaname, s.indexrelname) AS fix
             FROM pg_stat_user_indexes s JOIN pg_index i ON i.indexrelid = s.indexrelid
             WHERE s.idx_scan = 0 AND NOT i.indisunique AND NOT i.indisprimary AND i.indisvalid
               AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conindid = s.indexrelid)
             ORDER BY pg_relation_size(s.indexrelid) DESC, 1, 2, 3",
            "Indexes (not unique, not backing a constraint) never scanned since statistics were reset: they cost \
             space and slow every write. Scans on standbys are not counted here, and a new index has had little \
             time: check replicas and the `counted_since` date before dropping.",
        ),
        Check::DuplicateIndexes => (
            "WITH idx AS (
               SELECT i.indexrelid, i.indrelid, i.indisunique, i.indisprimary, i.indnkeyatts, c.relam,
                      (string_to_array(i.indkey::text, ' ')::int2[])[1:i.indnkeyatts] AS keys,
                      (string_to_array(i.indclass::text, ' ')::oid[])[1:i.indnkeyatts] AS classes,
                      pg_get_expr(i.indpred, i.indrelid) AS pred
               FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid
               WHERE i.indisvalid AND i.indexprs IS NULL
             ), dup AS (
               SELECT DISTINCT ON (a.indexrelid) a.indexrelid, a.indrelid, b.indexrelid AS covering
               FROM idx a JOIN idx b ON a.indrelid = b.indrelid AND a.indexrelid <> b.indexrelid
               WHERE a.relam = b.relam AND a.pred IS NOT DISTINCT FROM b.pred
                 AND a.indnkeyatts <= b.indnkeyatts
                 AND a.keys = b.keys[1:a.indnkeyatts] AND a.classes = b.classes[1:a.indnkeyatts]
                 AND NOT a.indisprimary
                 AND (NOT a.indisunique OR (b.indisunique AND a.indnkeyatts = b.indnkeyatts))
                 -- Two identical indexes: report one of them.
                 AND (a.indnkeyatts < b.indnkeyatts OR a.indisunique <> b.indisunique OR b.indisprimary
                      OR a.indexrelid > b.indexrelid)
               ORDER BY a.indexrelid, b.indnkeyatts
             )
             SELECT n.nspname::text AS schema, t.relname::text AS \"table\", ci.relname::text AS index,
                    cb.relname::text AS covered_by,
                    pg_get_indexdef(d.indexrelid) AS definition, pg_get_indexdef(d.covering) AS covering_definition,
                    pg_size_pretty(pg_relation_size(d.indexrelid)) AS size,
                    'warning' AS severity,
                    format('DROP INDEX CONCURRENTLY %I.%I', n.nspname, ci.relname) AS fix
             FROM dup d
             JOIN pg_class t ON t.oid = d.indrelid JOIN pg_namespace n ON n.oid = t.relnamespace
             JOIN pg_class ci ON ci.oid = d.indexrelid JOIN pg_class cb ON cb.oid = d.covering
             WHERE n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname !~ '^pg_toast'
             ORDER BY pg_relation_size(d.indexrelid) DESC, 1, 2, 3",
            "An index whose key columns (same method, operator classes and predicate) are the leading columns of \
             another index on the same table is redundant: the other serves its queries. Unique indexes are kept \
             unless the other is unique on exactly the same columns.",
        ),
        Check::InvalidIndexes => (
            "SELECT n.nspname::text AS schema, t.relname::text AS \"table\", c.relname::text AS index,
                    pg_get_indexdef(i.indexrelid) AS definition, 'warning' AS severity,
                    format('REINDEX INDEX CONCURRENTLY %I.%I (or DROP INDEX CONCURRENTLY and create it again)',
                           n.nspname, c.relname) AS fix
             FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid JOIN pg_class t ON t.oid = i.indrelid
             JOIN pg_namespace n ON n.oid = c.relnamespace
             WHERE NOT i.indisvalid
             ORDER BY 1, 2, 3",
            "Invalid indexes are left by a failed CREATE INDEX CONCURRENTLY (or one still running): the planner \
             never uses them but every write still updates them.",
        ),
        Check::InvalidConstraints => (
            "SELECT n.nspname::text AS schema, t.relname::text AS \"table\", c.conname::text AS \"constraint\",
                    CASE c.contype WHEN 'f' THEN 'foreign key' WHEN 'c' THEN 'check' WHEN 'n' THEN 'not null'
                                   ELSE c.contype::text END AS kind,
                    pg_get_constraintdef(c.oid) AS definition, 'warning' AS severity,
                    format('ALTER TABLE %I.%I VALIDATE CONSTRAINT %I', n.nspname, t.relname, c.conname) AS fix
             FROM pg_constraint c JOIN pg_class t ON t.oid = c.conrelid JOIN pg_namespace n ON n.oid = t.relnamespace
             WHERE NOT c.convalidated
             ORDER BY 1, 2, 3",
            "Constraints added NOT VALID hold for new rows only: rows written before may break them and the \
             planner cannot rely on them. VALIDATE CONSTRAINT checks the old rows with a lock that does not block \
             reads or writes.",
        ),
        Check::Replication => (
            "SELECT 'this server is a standby' AS kind, NULL::text AS name, 'replaying' AS state, NULL::bool AS active,
                    CASE WHEN pg_last_wal_receive_lsn() = pg_last_wal_replay_lsn() THEN 0
                         ELSE round(extract(epoch FROM now() - pg_last_xact_replay_timestamp())::numeric, 1)
                    END::float8 AS lag_seconds,
                    pg_wal_lsn_diff(pg_last_wal_receive_lsn(), pg_last_wal_replay_lsn())::int8 AS lag_bytes,
                    NULL::text AS wal_status,
                    CASE WHEN now() - pg_last_xact_replay_timestamp() >= interval '10 minutes'
                              AND pg_last_wal_receive_lsn() <> pg_last_wal_replay_lsn() THEN 'critical'
                         WHEN now() - pg_last_xact_replay_timestamp() >= interval '1 minute'
                              AND pg_last_wal_receive_lsn() <> pg_last_wal_replay_lsn() THEN 'warning'
                         ELSE 'ok' END AS severity
             WHERE pg_is_in_recovery()
             UNION ALL
             SELECT 'standby', application_name || COALESCE(' (' || host(client_addr) || ')', ''), state, true,
                    round(extract(epoch FROM replay_lag)::numeric, 1)::float8,
                    CASE WHEN pg_is_in_recovery() THEN NULL
                         ELSE pg_wal_lsn_diff(pg_current_wal_lsn(), replay_lsn)::int8 END,
                    sync_state,
                    CASE WHEN replay_lag >= interval '10 minutes' THEN 'critical'
                         WHEN replay_lag >= interval '1 minute' THEN 'warning' ELSE 'ok' END
             FROM pg_stat_replication
             UNION ALL
             SELECT 'slot', slot_name::text || ' (' || slot_type || COALESCE(', ' || database, '') || ')',
                    CASE WHEN active THEN 'active' ELSE 'inactive' END, active, NULL,
                    pg_wal_lsn_diff(CASE WHEN pg_is_in_recovery() THEN pg_last_wal_receive_lsn()
                                         ELSE pg_current_wal_lsn() END, restart_lsn)::int8,
                    wal_status,
                    CASE WHEN wal_status = 'lost' THEN 'critical'
                         WHEN NOT active AND pg_wal_lsn_diff(CASE WHEN pg_is_in_recovery() THEN pg_last_wal_receive_lsn()
                                         ELSE pg_current_wal_lsn() END, restart_lsn) >= 1073741824 THEN 'critical'
                         WHEN NOT active OR wal_status = 'unreserved' THEN 'warning' ELSE 'ok' END
             FROM pg_replication_slots",
            "Standby replay lag (warning at 1 minute, critical at 10) and replication slots. An inactive slot keeps \
             the server from recycling WAL (warning; critical once it retains 1 GB or has lost WAL) and can fill \
             the disk: drop it with pg_drop_replication_slot(name) if its consumer is gone.",
        ),
        Check::RolePrivileges => (
            crate::databases::ROLE_POWERS,
            "The guards refuse the functions that reach outside the database, but a superuser can do much \
             through functions PostgreSQL calls inside other functions, and these roles read and write the \
             server's files. Least privilege is the real boundary: create a role that can only read (CREATE ROLE \
             mcp_reader NOLOGIN; GRANT pg_read_all_data TO mcp_reader; GRANT mcp_reader TO <login role>) and \
             start the connector with --role mcp_reader, or connect as a login role with only the grants it needs.",
        ),
    }
}
