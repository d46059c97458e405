//! Operations: what the server is doing now and how it is set up. `active_queries`,
//! `locks` (blocking chains), `long_transactions`, `settings`, `roles` and `grants`.
//!
//! Every tool runs fixed catalog SQL in a READ ONLY transaction with the caller's values
//! bound as parameters, and returns a [`Table`] (TSV text, the first rows typed, bounded, with
//! `nextOffset` when cut). The helpers at the bottom are shared with `performance`.

use std::sync::Arc;

use mcp_core::server::ServerBuilder;
use mcp_core::{Context, ToolError};
use schemars::JsonSchema;
use serde::Deserialize;
use serde_json::{Value, json};

use crate::access::Relations;
use crate::databases::{Database, Databases};
use crate::output::Table;
use crate::transaction::{Access, Rows, Window, Windowed, run};
use mcp_core::tool_with;

/// Default and largest length of a query text in a row.
const QUERY_CHARS: (usize, usize) = (500, 20_000);

/// Adds this area's tools.
pub fn register(builder: ServerBuilder, dbs: &Arc<Databases>) -> ServerBuilder {
    builder.tools_in(
        "operations",
        [
            tool_with("active_queries", dbs, active_queries)
                .title("Sessions and their running queries")
                .description(
                    "Lists server sessions from pg_stat_activity, longest-running first: pid, user, application, \
                     client, state, wait event, how long the query and transaction have run, which pids block it, and \
                     the query text (cut to `query_chars`). Idle sessions and background workers are left out unless \
                     asked for; `min_duration_seconds` keeps only slow queries. To see who blocks whom, use `locks`.",
                )
                .read_only(),
            tool_with("locks", dbs, locks)
                .title("Lock waits and blocking chains")
                .description(
                    "Shows who blocks whom: one row per (blocked session, blocking session) from pg_blocking_pids, \
                     with the lock waited for, the mode the blocker holds, how long each has waited or been in its \
                     transaction, the root of the chain (the session everyone ultimately waits on) and both \
                     queries. Empty when nothing waits. `all_locks` lists every lock held or awaited instead.",
                )
                .read_only(),
            tool_with("long_transactions", dbs, long_transactions)
                .title("Long-open transactions")
                .description(
                    "Lists transactions open longer than `min_seconds` (default 60), oldest first, including \
                     sessions idle in transaction: these hold locks and keep VACUUM from removing dead rows. Shows \
                     how long the transaction and its current state have lasted, the xmin age it holds back and \
                     the last query.",
                )
                .read_only(),
            tool_with("settings", dbs, settings)
                .title("Server settings")
                .description(
                    "Reads pg_settings: value (with its unit; sizes made readable), default, where it was set, what \
                     changing it takes (restart, reload, SET) and whether a restart is pending. Filter by `pattern` \
                     (name, case-insensitive; substring unless it has % or *), `category` (e.g. \"memory\", \
                     \"autovacuum\", \"replication\") or `changed_only` (not the built-in default).",
                )
                .read_only(),
            tool_with("roles", dbs, roles)
                .title("Roles and their attributes")
                .description(
                    "Lists roles with their attributes (superuser, login, create role, create db, replication, bypass \
                     RLS, inherit, connection limit, expiry), the roles each is a member of and its members, \
                     per-role settings and current connections. Built-in pg_* roles only with `include_system`. For \
                     privileges on tables and schemas, use `grants`.",
                )
                .read_only(),
            tool_with("grants", dbs, grants)
                .title("Privileges on schemas, tables, views and sequences")
                .description(
                    "Lists who may do what: one row per (object, grantee, grantor) with the privileges (SELECT, \
                     INSERT, UPDATE, DELETE, TRUNCATE, REFERENCES, TRIGGER; USAGE, CREATE on schemas) and which of \
                     them the grantee may grant on. Filter by `schema`, `table` and `role` (PUBLIC for everyone). \
                     Privileges a role gets through membership appear on the group role (see `roles`).",
                )
                .read_only(),
        ],
    )
}

// ---------------------------------------------------------------------------------------
// active_queries

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ActiveQueriesArgs {
    /// Which configured database to connect through (default: the first). Sessions of
    /// every database on that server are listed; the `database_name` column says which.
    pub database: Option<String>,
    /// Also list idle sessions (connected, running nothing).
    #[serde(default)]
    pub include_idle: bool,
    /// Also list background processes (autovacuum, WAL writer, replication, ...).
    #[serde(default)]
    pub include_background: bool,
    /// Only queries running at least this many seconds.
    pub min_duration_seconds: Option<f64>,
    /// Only sessions of this user (role name, exact).
    pub user: Option<String>,
    /// Longest query text to show, in characters (default 500, at most 20000).
    pub query_chars: Option<usize>,
    /// Most sessions to return (default 50).
    pub limit: Option<usize>,
    /// Sessions to skip: pass the `nextOffset` of a truncated result.
    #[serde(default)]
    pub offset: usize,
}

const ACTIVE_QUERIES: &str = "
SELECT a.pid,
       a.usename AS \"user\",
       a.datname AS database_name,
       a.application_name AS application,
       COALESCE(host(a.client_addr), CASE WHEN a.client_port = -1 THEN 'local socket' END) AS client,
       a.backend_type,
       a.state,
       a.wait_event_type,
       a.wait_event,
       a.query_start,
       CASE WHEN a.state = 'active'
            THEN round(extract(epoch FROM clock_timestamp() - a.query_start)::numeric, 1)::float8 END AS query_seconds,
       round(extract(epoch FROM clock_timestamp() - a.state_change)::numeric, 1)::float8 AS state_seconds,
       round(extract(epoch FROM clock_timestamp() - a.xact_start)::numeric, 1)::float8 AS transaction_seconds,
       pg_blocking_pids(a.pid) AS blocked_by,
       left(a.query, $4) AS query,
       length(a.query) > $4 AS query_truncated
FROM pg_stat_activity a
WHERE a.pid <> pg_backend_pid()
  AND ($1 OR a.state IS DISTINCT FROM 'idle')
  AND ($3 OR a.backend_type = 'client backend')
  AND ($2::float8 IS NULL OR (a.state = 'active'
       AND a.query_start <= clock_timestamp() - make_interval(secs => $2::float8)))
  AND ($5::text IS NULL OR a.usename = $5::text)
ORDER BY a.query_start NULLS LAST, a.pid";

/// Lists sessions and their queries.
pub async fn active_queries(dbs: Arc<Databases>, ctx: Context, args: ActiveQueriesArgs) -> Result<Table, ToolError> {
    if let Some(s) = args.min_duration_seconds
        && !(s.is_finite() && s >= 0.0)
    {
        return Err(ToolError::invalid_arguments("`min_duration_seconds`: expected a number of seconds ≥ 0"));
    }
    let chars = query_chars(args.query_chars)?;
    let params = [
        json!(args.include_idle),
        json!(args.min_duration_seconds),
        json!(args.include_background),
        json!(chars),
        json!(args.user),
    ];
    let db = dbs.for_read(args.database.as_deref())?;
    let window = window(&dbs, args.offset, args.limit, 50)?;
    let rows = read_rows(&dbs, &ctx, &db, ACTIVE_QUERIES, &params, window, None).await?;
    let note = rows.rows.is_empty().then(|| {
        "No session matches (this call's own session is never listed; idle sessions only with include_idle)."
            .to_string()
    });
    Ok(table(&db, rows, args.offset, note))
}

// ---------------------------------------------------------------------------------------
// locks

mcp_core::tool_args! {
    database: "Which configured database to connect through (default: the first).";
    pub struct LocksArgs {
        /// List every lock held or awaited (pg_locks) instead of only blocking chains.
        #[serde(default)]
        pub all_locks: bool,
        /// Longest query text to show, in characters (default 500, at most 20000).
        pub query_chars: Option<usize>,
        /// Most rows to return (default 100).
        pub limit: Option<usize>,
        /// Rows to skip: pass the `nextOffset` of a truncated result.
        #[serde(default)]
        pub offset: usize,
    }
}

/// One row per blocking edge; `root_blocking_pids` follows the chain up to sessions
/// that wait on nobody (cycles and depth are bounded).
const BLOCKING: &str = "
WITH RECURSIVE edges AS MATERIALIZED (
  SELECT w.pid AS blocked, b.pid AS blocking
  FROM pg_stat_activity w CROSS JOIN LATERAL unnest(pg_blocking_pids(w.pid)) AS b(pid)
  WHERE w.pid <> pg_backend_pid()
), up(blocked, blocker, depth, path) AS (
  SELECT blocked, blocking, 1, ARRAY[blocked, blocking] FROM edges
  UNION ALL
  SELECT up.blocked, e.blocking, up.depth + 1, up.path || e.blocking
  FROM up JOIN edges e ON e.blocked = up.blocker
  WHERE NOT e.blocking = ANY(up.path) AND up.depth < 32
), roots AS (
  SELECT up.blocked,
         array_agg(DISTINCT up.blocker) FILTER (WHERE NOT EXISTS (SELECT 1 FROM edges e WHERE e.blocked = up.blocker))
           AS root_blockers,
         max(up.depth) AS depth
  FROM up GROUP BY up.blocked
)
SELECT e.blocked AS blocked_pid,
       w.usename AS blocked_user,
       w.application_name AS blocked_application,
       round(extract(epoch FROM clock_timestamp() - w.query_start)::numeric, 1)::float8 AS waiting_seconds,
       wl.locktype || COALESCE(' on ' || wl.relation::regclass::text, '') AS waiting_for,
       wl.mode AS wanted_mode,
       e.blocking AS blocking_pid,
       b.usename AS blocking_user,
       b.application_name AS blocking_application,
       b.state AS blocking_state,
       (SELECT string_agg(DISTINCT l.mode, ', ') FROM pg_locks l
         WHERE l.pid = e.blocking AND l.granted AND l.relation IS NOT DISTINCT FROM wl.relation
           AND l.locktype = wl.locktype) AS blocking_holds,
       round(extract(epoch FROM clock_timestamp() - b.xact_start)::numeric, 1)::float8 AS blocking_transaction_seconds,
       r.root_blockers AS root_blocking_pids,
       r.depth AS chain_depth,
       left(w.query, $1) AS blocked_query,
       left(b.query, $1) AS blocking_query
FROM edges e
JOIN pg_stat_activity w ON w.pid = e.blocked
LEFT JOIN pg_stat_activity b ON b.pid = e.blocking
LEFT JOIN roots r ON r.blocked = e.blocked
LEFT JOIN LATERAL (SELECT l.locktype, l.mode, l.relation FROM pg_locks l
                   WHERE l.pid = e.blocked AND NOT l.granted LIMIT 1) wl ON true
ORDER BY waiting_seconds DESC NULLS LAST, e.blocked, e.blocking";

const ALL_LOCKS: &str = "
SELECT l.pid,
       a.usename AS \"user\",
       a.application_name AS application,
       l.locktype,
       CASE WHEN l.relation IS NOT NULL THEN l.relation::regclass::text END AS relation,
       l.mode,
       l.granted,
       COALESCE(l.transactionid::text, l.virtualxid) AS transaction,
       a.state,
       left(a.query, $1) AS query
FROM pg_locks l LEFT JOIN pg_stat_activity a ON a.pid = l.pid
WHERE l.pid IS DISTINCT FROM pg_backend_pid()
ORDER BY l.granted, l.pid, relation NULLS LAST, l.mode";

/// Lists blocking chains, or every lock.
pub async fn locks(dbs: Arc<Databases>, ctx: Context, args: LocksArgs) -> Result<Table, ToolError> {
    let chars = query_chars(args.query_chars)?;
    let db = dbs.for_read(args.database.as_deref())?;
    let window = window(&dbs, args.offset, args.limit, 100)?;
    let sql = if args.all_locks { ALL_LOCKS } else { BLOCKING };
    let rows = read_rows(&dbs, &ctx, &db, sql, &[json!(chars)], window, None).await?;
    let note = (rows.rows.is_empty() && !args.all_locks && args.offset == 0)
        .then(|| "No session is waiting on a lock held by another.".to_string());
    Ok(table(&db, rows, args.offset, note))
}

// ---------------------------------------------------------------------------------------
// long_transactions

mcp_core::tool_args! {
    database: "Which configured database to connect through (default: the first).";
    pub struct LongTransactionsArgs {
        /// Only transactions open at least this many seconds (default 60).
        pub min_seconds: Option<f64>,
        /// Also list background processes' transactions (autovacuum, ...).
        #[serde(default)]
        pub include_background: bool,
        /// Longest query text to show, in characters (default 500, at most 20000).
        pub query_chars: Option<usize>,
        /// Most rows to return (default 50).
        pub limit: Option<usize>,
        /// Rows to skip: pass the `nextOffset` of a truncated result.
        #[serde(default)]
        pub offset: usize,
    }
}

const LONG_TRANSACTIONS: &str = "
SELECT a.pid,
       a.usename AS \"user\",
       a.datname AS database_name,
       a.application_name AS application,
       COALESCE(host(a.client_addr), CASE WHEN a.client_port = -1 THEN 'local socket' END) AS client,
       a.state,
       a.xact_start,
       round(extract(epoch FROM clock_timestamp() - a.xact_start)::numeric, 1)::float8 AS transaction_seconds,
       round(extract(epoch FROM clock_timestamp() - a.state_change)::numeric, 1)::float8 AS state_seconds,
       a.backend_xid::text AS xid,
       age(a.backend_xmin) AS xmin_age,
       a.wait_event_type,
       a.wait_event,
       pg_blocking_pids(a.pid) AS blocked_by,
       left(a.query, $2) AS last_query
FROM pg_stat_activity a
WHERE a.pid <> pg_backend_pid()
  AND a.xact_start IS NOT NULL
  AND a.xact_start <= clock_timestamp() - make_interval(secs => $1::float8)
  AND ($3 OR a.backend_type = 'client backend')
ORDER BY a.xact_start, a.pid";

/// Lists transactions open longer than a threshold.
pub async fn long_transactions(
    dbs: Arc<Databases>,
    ctx: Context,
    args: LongTransactionsArgs,
) -> Result<Table, ToolError> {
    let min = args.min_seconds.unwrap_or(60.0);
    if !(min.is_finite() && min >= 0.0) {
        return Err(ToolError::invalid_arguments("`min_seconds`: expected a number of seconds ≥ 0"));
    }
    let chars = query_chars(args.query_chars)?;
    let db = dbs.for_read(args.database.as_deref())?;
    let window = window(&dbs, args.offset, args.limit, 50)?;
    let params = [json!(min), json!(chars), json!(args.include_background)];
    let rows = read_rows(&dbs, &ctx, &db, LONG_TRANSACTIONS, &params, window, None).await?;
    let idle = rows
        .rows
        .iter()
        .filter(|r| r.get(5).and_then(Value::as_str).is_some_and(|s| s.starts_with("idle in transaction")))
        .count();
    let note = if rows.rows.is_empty() && args.offset == 0 {
        Some(format!("No transaction has been open for {min} s or more."))
    } else if idle > 0 {
        Some(format!(
            "{idle} session(s) are idle in transaction: they hold their locks and keep VACUUM from removing dead \
             rows until they commit or roll back (idle_in_transaction_session_timeout ends such sessions)."
        ))
    } else {
        None
    };
    Ok(table(&db, rows, args.offset, note))
}

// ---------------------------------------------------------------------------------------
// settings

mcp_core::tool_args! {
    database: "Which configured database (default: the first).";
    pub struct SettingsArgs {
        /// Setting names to match, case-insensitive: a substring (`timeout`), or a pattern
        /// with `%` or `*` as wildcards (`autovacuum_*`).
        pub pattern: Option<String>,
        /// Category to match, case-insensitive substring (e.g. "memory", "autovacuum",
        /// "replication", "logging", "query tuning").
        pub category: Option<String>,
        /// Only settings changed from the built-in default (by the configuration file,
        /// ALTER SYSTEM, ALTER DATABASE/ROLE ... SET, the command line).
        #[serde(default)]
        pub changed_only: bool,
        /// Most settings to return (default 100).
        pub limit: Option<usize>,
        /// Settings to skip: pass the `nextOffset` of a truncated result.
        #[serde(default)]
        pub offset: usize,
    }
}

/// The value a new session gets (`reset_val`), not this call's own: each call runs with
/// its own `SET LOCAL statement_timeout`, which would otherwise show as the server's.
const SETTINGS: &str = "
WITH s AS (
  SELECT name, reset_val AS raw, unit, vartype, boot_val, category, short_desc, context, pending_restart,
         sourcefile, sourceline,
         CASE WHEN source = 'session'
              THEN CASE WHEN reset_val = boot_val THEN 'default' ELSE 'non-default (file, database or role)' END
              ELSE source END AS source
  FROM pg_settings
)
SELECT name,
       CASE WHEN vartype IN ('integer', 'real') AND unit IN ('8kB', 'kB', 'MB', 'B')
            THEN CASE WHEN raw::numeric < 0 THEN raw
                      ELSE pg_size_pretty(raw::numeric * CASE unit WHEN '8kB' THEN 8192 WHEN 'kB' THEN 1024
                                                                     WHEN 'MB' THEN 1048576 ELSE 1 END) END
            ELSE raw || COALESCE(' ' || unit, '') END AS value,
       raw AS raw_value,
       unit,
       boot_val AS default_value,
       source,
       sourcefile || ':' || sourceline AS source_file,
       CASE context WHEN 'postmaster' THEN 'restart' WHEN 'sighup' THEN 'reload'
                    WHEN 'internal' THEN 'read-only' WHEN 'backend' THEN 'new connection'
                    WHEN 'superuser-backend' THEN 'new connection (superuser)'
                    WHEN 'superuser' THEN 'SET (superuser)' ELSE 'SET' END AS change_needs,
       pending_restart,
       category,
       short_desc AS description
FROM s
WHERE ($1::text IS NULL OR name ILIKE $1::text)
  AND ($2::text IS NULL OR category ILIKE $2::text)
  AND (NOT $3 OR (source NOT IN ('default', 'override', 'client')))
ORDER BY name";

/// Reads server settings.
pub async fn settings(dbs: Arc<Databases>, ctx: Context, args: SettingsArgs) -> Result<Table, ToolError> {
    let pattern = args
        .pattern
        .as_deref()
        .map(str::trim)
        .filter(|p| !p.is_empty())
        .map(|p| if p.contains(['%', '*']) { p.replace('*', "%") } else { format!("%{p}%") });
    let category = args.category.as_deref().map(str::trim).filter(|c| !c.is_empty()).map(|c| format!("%{c}%"));
    let db = dbs.for_read(args.database.as_deref())?;
    let window = window(&dbs, args.offset, args.limit, 100)?;
    let params = [json!(pattern), json!(category), json!(args.changed_only)];
    let rows = read_rows(&dbs, &ctx, &db, SETTINGS, &params, window, None).await?;
    let note = (rows.rows.is_empty() && args.offset == 0)
        .then(|| "No setting matches; try a shorter `pattern` or no `category`.".to_string());
    Ok(table(&db, rows, args.offset, note))
}

// ---------------------------------------------------------------------------------------
// roles and grants

mcp_core::tool_args! {
    database: "Which configured database (default: the first).";
    pub struct RolesArgs {
        /// Role names to match, case-insensitive: a substring, or a pattern with `%` or `*`.
        pub pattern: Option<String>,
        /// Also list the built-in pg_* roles.
        #[serde(default)]
        pub include_system: bool,
        /// Most roles to return (default 100).
        pub limit: Option<usize>,
        /// Roles to skip: pass the `nextOffset` of a truncated result.
        #[serde(default)]
        pub offset: usize,
    }
}

const ROLES: &str = "
SELECT r.rolname AS role,
       r.rolsuper AS superuser,
       r.rolcanlogin AS login,
       r.rolcreaterole AS create_role,
       r.rolcreatedb AS create_db,
       r.rolreplication AS replication,
       r.rolbypassrls AS bypass_rls,
       r.rolinherit AS inherit,
       NULLIF(r.rolconnlimit, -1) AS connection_limit,
       r.rolvaliduntil AS valid_until,
       ARRAY(SELECT g.rolname::text FROM pg_auth_members m JOIN pg_roles g ON g.oid = m.roleid
             WHERE m.member = r.oid ORDER BY 1) AS member_of,
       ARRAY(SELECT u.rolname::text FROM pg_auth_members m JOIN pg_roles u ON u.oid = m.member
             WHERE m.roleid = r.oid ORDER BY 1) AS members,
       r.rolconfig AS settings,
       (SELECT count(*) FROM pg_stat_activity a WHERE a.usesysid = r.oid) AS connections
FROM pg_roles r
WHERE ($1 OR r.rolname !~ '^pg_')
  AND ($2::text IS NULL OR r.rolname ILIKE $2::text)
ORDER BY r.rolname";

/// Lists roles.
pub async fn roles(dbs: Arc<Databases>, ctx: Context, args: RolesArgs) -> Result<Table, ToolError> {
    let pattern = args
        .pattern
        .as_deref()
        .map(str::trim)
        .filter(|p| !p.is_empty())
        .map(|p| if p.contains(['%', '*']) { p.replace('*', "%") } else { format!("%{p}%") });
    let db = dbs.for_read(args.database.as_deref())?;
    let window = window(&dbs, args.offset, args.limit, 100)?;
    let rows = read_rows(&dbs, &ctx, &db, ROLES, &[json!(args.include_system), json!(pattern)], window, None).await?;
    Ok(table(&db, rows, args.offset, None))
}

mcp_core::tool_args! {
    database: "Which configured database (default: the first).";
    pub struct GrantsArgs {
        /// Only this schema (exact name). Without `table`, the schema's own privileges
        /// (USAGE, CREATE) are listed too.
        pub schema: Option<String>,
        /// Only this table, view or sequence: `name` or `schema.name`.
        pub table: Option<String>,
        /// Only privileges granted to this role (exact name; `PUBLIC` for everyone).
        pub role: Option<String>,
        /// Also list pg_catalog, information_schema and other system schemas.
        #[serde(default)]
        pub include_system: bool,
        /// Most rows to return (default 200).
        pub limit: Option<usize>,
        /// Rows to skip: pass the `nextOffset` of a truncated result.
        #[serde(default)]
        pub offset: usize,
    }
}

/// Privileges from the ACLs themselves (`aclexplode`), with the owner's implicit
/// privileges (`acldefault`) when nothing was ever granted: information_schema shows
/// only what the current role can see.
const GRANTS: &str = "
WITH objects AS (
  SELECT n.nspname::text AS schema, NULL::text AS name, 'schema'::text AS kind, n.nspacl AS acl,
         n.nspowner AS owner, 'n'::\"char\" AS deftype
  FROM pg_namespace n WHERE $2::text IS NULL
  UNION ALL
  SELECT n.nspname::text, c.relname::text,
         CASE c.relkind WHEN 'r' THEN 'table' WHEN 'p' THEN 'table' WHEN 'v' THEN 'view'
                        WHEN 'm' THEN 'materialized view' WHEN 'S' THEN 'sequence' ELSE 'foreign table' END,
         c.relacl, c.relowner, CASE WHEN c.relkind = 'S' THEN 's' ELSE 'r' END::\"char\"
  FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
  WHERE c.relkind IN ('r', 'p', 'v', 'm', 'S', 'f') AND ($2::text IS NULL OR c.relname = $2::text)
), exploded AS (
  SELECT o.schema, o.name, o.kind, o.owner, x.grantor, x.grantee, x.privilege_type, x.is_grantable,
         CASE WHEN x.grantee = 0 THEN 'PUBLIC' ELSE pg_get_userbyid(x.grantee)::text END AS grantee_name
  FROM objects o CROSS JOIN LATERAL aclexplode(COALESCE(o.acl, acldefault(o.deftype, o.owner))) x
  WHERE ($1::text IS NULL OR o.schema = $1::text)
    AND ($4 OR (o.schema NOT IN ('pg_catalog', 'information_schema')
                AND o.schema NOT LIKE 'pg\\_toast%' AND o.schema NOT LIKE 'pg\\_temp\\_%'))
)
SELECT schema,
       name AS object,
       kind,
       grantee_name AS grantee,
       array_agg(privilege_type::text ORDER BY privilege_type) AS privileges,
       COALESCE(array_agg(privilege_type::text ORDER BY privilege_type) FILTER (WHERE is_grantable), '{}')
         AS grantable,
       pg_get_userbyid(grantor)::text AS grantor,
       grantee = owner AS grantee_is_owner
FROM exploded
WHERE $3::text IS NULL OR grantee_name = $3::text
GROUP BY schema, name, kind, grantee_name, grantee, grantor, owner
ORDER BY schema, name NULLS FIRST, grantee_name, grantor";

/// Lists privileges on schemas and relations.
pub async fn grants(dbs: Arc<Databases>, ctx: Context, args: GrantsArgs) -> Result<Table, ToolError> {
    let mut schema = args.schema.as_deref().map(unquote).filter(|s| !s.is_empty());
    let mut table_name = None;
    if let Some(t) = args.table.as_deref().map(str::trim).filter(|t| !t.is_empty()) {
        match split_qualified(t) {
            (Some(s), name) => {
                if schema.as_ref().is_some_and(|given| *given != s) {
                    return Err(ToolError::invalid_arguments(format!(
                        "`table`: `{t}` names schema `{s}`, but `schema` is `{}`",
                        schema.unwrap_or_default()
                    )));
                }
                schema = Some(s);
                table_name = Some(name);
            }
            (None, name) => table_name = Some(name),
        }
    }
    let role = args
        .role
        .as_deref()
        .map(str::trim)
        .filter(|r| !r.is_empty())
        .map(|r| if r.eq_ignore_ascii_case("public") { "PUBLIC".to_string() } else { unquote(r) });
    let db = dbs.for_read(args.database.as_deref())?;
    let window = window(&dbs, args.offset, args.limit, 200)?;
    let relations = Relations::of(&ctx)?;
    let keep = |row: &[Value]| {
        let schema = row.first().and_then(Value::as_str).unwrap_or_default();
        match row.get(1).and_then(Value::as_str) {
            Some(object) => relations.table_allowed(schema, object),
            None => relations.schema_allowed(schema),
        }
    };
    let params = [json!(schema), json!(table_name), json!(role), json!(args.include_system)];
    let filter: Option<RowFilter<'_>> = if relations.restricts() { Some(&keep) } else { None };
    let rows = read_rows(&dbs, &ctx, &db, GRANTS, &params, window, filter).await?;
    let note = (rows.rows.is_empty() && args.offset == 0)
        .then(|| "No privileges match: check the schema, table and role names (they are exact).".to_string());
    Ok(table(&db, rows, args.offset, note))
}

/// `"Name"` → `Name`, `name` → `name`: a name as given, without identifier quotes.
fn unquote(name: &str) -> String {
    let name = name.trim();
    if name.len() >= 2 && name.starts_with('"') && name.ends_with('"') {
        name[1..name.len() - 1].replace("\"\"", "\"")
    } else {
        name.to_string()
    }
}

/// `schema.table` → (Some(schema), table); a dot inside double quotes is part of a name.
pub(crate) fn split_qualified(name: &str) -> (Option<String>, String) {
    let mut quoted = false;
    for (i, c) in name.char_indices() {
        match c {
            '"' => quoted = !quoted,
            '.' if !quoted => return (Some(unquote(&name[..i])), unquote(&name[i + 1..])),
            _ => {}
        }
    }
    (None, unquote(name))
}

// ---------------------------------------------------------------------------------------
// Shared helpers (also used by `performance`)

/// The rows to return: `limit` (default `default`), never above the server's row limit.
pub(crate) fn window(
    dbs: &Databases,
    offset: usize,
    limit: Option<usize>,
    default: usize,
) -> Result<Window, ToolError> {
    let max = dbs.settings.max_rows.max(1);
    if limit == Some(0) {
        return Err(ToolError::invalid_arguments(format!("`limit`: expected 1 to {max}")));
    }
    Ok(Window {
        offset,
        max_rows: limit.unwrap_or(default).clamp(1, max),
        max_bytes: dbs.settings.max_result_bytes,
        stop_early: true,
    })
}

/// The `query_chars` argument, checked.
pub(crate) fn query_chars(given: Option<usize>) -> Result<usize, ToolError> {
    match given {
        None => Ok(QUERY_CHARS.0),
        Some(n) if (1..=QUERY_CHARS.1).contains(&n) => Ok(n),
        Some(n) => {
            Err(ToolError::invalid_arguments(format!("`query_chars`: expected 1 to {}, got {n}", QUERY_CHARS.1)))
        }
    }
}

/// Which rows of a catalog result the client may see.
pub(crate) type RowFilter<'a> = &'a (dyn Fn(&[Value]) -> bool + Sync);

/// Runs one catalog statement read-only and keeps the rows in `window`; with `keep`,
/// only the rows it accepts (the access policy's filter) count towards the window.
pub(crate) async fn read_rows(
    dbs: &Databases,
    ctx: &Context,
    db: &Arc<Database>,
    sql: &str,
    params: &[Value],
    window: Window,
    keep: Option<RowFilter<'_>>,
) -> Result<Rows, ToolError> {
    let mut tx = dbs.begin(ctx, db, Access::ReadOnly).await?;
    let rows = match keep {
        None => run(&mut tx, sql, params, window).await?,
        Some(keep) => {
            let all = run(&mut tx, sql, params, Window::ALL).await?;
            filter_window(all, window, keep)
        }
    };
    tx.rollback();
    Ok(rows)
}

/// The rows `keep` accepts, cut to `window` the way [`run`] cuts.
pub(crate) fn filter_window(all: Rows, window: Window, keep: &dyn Fn(&[Value]) -> bool) -> Rows {
    let mut kept = Windowed::new(window);
    for row in all.rows.into_iter().filter(|r| r.as_array().is_some_and(|r| keep(r))) {
        kept.offer(row);
        if kept.is_cut() {
            break;
        }
    }
    kept.finish(all.columns, 0)
}

/// A [`Table`] of `rows` read from `db`.
pub(crate) fn table(db: &Database, rows: Rows, offset: usize, note: Option<String>) -> Table {
    Table { database: db.name.clone(), rows, offset, rows_affected: None, note, user_sql: false }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::transaction::{ColumnInfo, Cut};

    #[test]
    fn qualified_names_split_outside_quotes() {
        assert_eq!(split_qualified("s.t"), (Some("s".into()), "t".into()));
        assert_eq!(split_qualified("\"a.b\".\"T\""), (Some("a.b".into()), "T".into()));
        assert_eq!(split_qualified("t"), (None, "t".into()));
    }

    #[test]
    fn filtered_rows_are_windowed_after_filtering() {
        let all = Rows {
            columns: vec![ColumnInfo { name: "n".into(), type_name: "int4".into() }],
            rows: (0..10).map(|i| json!([i])).collect(),
            ..Rows::default()
        };
        let even = |r: &[Value]| r[0].as_i64().is_some_and(|n| n % 2 == 0);
        let window = Window { offset: 1, max_rows: 2, max_bytes: usize::MAX, stop_early: true };
        let out = filter_window(all, window, &even);
        assert_eq!(out.rows, vec![json!([2]), json!([4])]);
        assert_eq!(out.cut, Some(Cut::Rows));
    }
}
