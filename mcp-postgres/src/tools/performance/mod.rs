//! Performance: `top_queries` (pg_stat_statements), `database_health` (PgHero-style
//! checks, each with a status) and `index_advice` (candidate indexes read from the plans,
//! verified with HypoPG hypothetical indexes when available, heuristics otherwise).
//!
//! Everything runs in READ ONLY transactions. Hypothetical indexes and prepared
//! statements live in the session, not the transaction: `index_advice` removes them
//! before the connection goes back to the pool, and closes the connection when it cannot.

mod candidates;
mod health;
mod health_checks;
mod index_advice;
mod top_queries;

use std::sync::Arc;

use mcp_core::ToolError;
use mcp_core::server::ServerBuilder;
use sqlx::Executor as _;

use crate::databases::Databases;
use crate::transaction::Tx;
use mcp_core::tool_with;

/// Adds this area's tools.
pub fn register(builder: ServerBuilder, dbs: &Arc<Databases>) -> ServerBuilder {
    builder.tools_in(
        "performance",
        [
            tool_with("top_queries", dbs, top_queries::top_queries)
                .title("Most expensive queries (pg_stat_statements)")
                .description(
                    "Ranks normalized statements from pg_stat_statements by `sort_by`: total_time (default: where \
                     the server spends its time), mean_time (slowest per call), calls, rows or shared_blks_read \
                     (disk reads). Shows calls, total/mean/min/max/stddev ms, rows, share of all time, buffer cache \
                     hit %, temp blocks and the query text. Needs the pg_stat_statements extension; if it is \
                     missing, the error says how to enable it. Feed slow ones to `explain` or `index_advice`.",
                )
                .read_only(),
            tool_with("database_health", dbs, health::database_health)
                .title("Database health checks")
                .description(
                    "Runs PgHero-style checks and reports each as ok / warning / critical (unknown if it could not \
                     run) with a one-line summary, an explanation and the offending objects (with the SQL to fix \
                     them where there is one): connections, cache_hit, table_bloat, vacuum, wraparound, sequences, \
                     long_running_queries, blocked_queries, unused_indexes, duplicate_indexes, invalid_indexes, \
                     invalid_constraints, replication. `checks` runs a subset.",
                )
                .read_only(),
            tool_with("index_advice", dbs, index_advice::index_advice)
                .title("Index recommendations")
                .description(
                    "Proposes indexes for up to 10 queries (or, with `workload`, the top queries of \
                     pg_stat_statements): candidates come from the plans (filtered sequential scans, join keys, \
                     sort keys, filters applied after an index). With the hypopg extension each candidate is \
                     created hypothetically, the queries re-planned and only indexes that cut the cost by at least \
                     `min_improvement_percent` are recommended, chosen greedily, with cost before/after and the \
                     CREATE INDEX statement. Without hypopg the candidates are reported as unverified heuristics. \
                     Nothing is built and the queries are never run.",
                )
                .read_only(),
        ],
    )
}

async fn savepoint(tx: &mut Tx, command: &'static str) -> Result<(), ToolError> {
    tx.conn()
        .execute(sqlx::raw_sql(command))
        .await
        .map(|_| ())
        .map_err(|e| ToolError::failed(format!("{command} failed: {}", crate::errors::describe(&e))))
}
