//! What the mcp-postgres benches share: the database URL, the bench table and how the
//! connector is started, so that every bench measures the same query on the same terms.

use anyhow::Context as _;
use sqlx::postgres::PgPoolOptions;
use sqlx::{Executor as _, PgPool};

pub const POINT: &str = "SELECT id, name, score, created, active FROM mcp_bench.rows WHERE id = 4242";
pub const MANY: &str = "SELECT id, name, score, created, active FROM mcp_bench.rows ORDER BY id LIMIT 10000";

/// MCP_TEST_DATABASE_URL without TLS unless it says otherwise: the npm server's driver
/// does not use TLS unless told, and every target must use the same transport.
pub fn url() -> anyhow::Result<String> {
    let url = std::env::var("MCP_TEST_DATABASE_URL")
        .context("set MCP_TEST_DATABASE_URL to a PostgreSQL to measure (scripts/services.sh)")?;
    Ok(if url.contains("sslmode=") {
        url
    } else {
        format!("{url}{}sslmode=disable", if url.contains('?') { '&' } else { '?' })
    })
}

/// A one-connection pool on which the bench table exists (created if missing).
pub async fn setup(url: &str) -> anyhow::Result<PgPool> {
    let pool = PgPoolOptions::new().max_connections(1).connect(url).await.context("connecting")?;
    pool.execute(sqlx::raw_sql(
        "CREATE SCHEMA IF NOT EXISTS mcp_bench;
         CREATE TABLE IF NOT EXISTS mcp_bench.rows (id int PRIMARY KEY, name text, score float8, created timestamptz, active bool);
         INSERT INTO mcp_bench.rows SELECT g, 'name-' || g, g * 0.5, '2024-01-01'::timestamptz + g * interval '1 minute', g % 2 = 0
           FROM generate_series(1, 20000) g ON CONFLICT DO NOTHING;
         ANALYZE mcp_bench.rows;",
    ))
    .await
    .context("creating the bench table")?;
    Ok(pool)
}

/// mcp-postgres's arguments: one connection, and limits above the 10,000-row case.
pub fn connector_args(url: &str) -> Vec<String> {
    [
        "--database-url",
        url,
        "--pool-size",
        "1",
        "--max-rows",
        "10000",
        "--max-result-bytes",
        "67108864",
        "--max-output-bytes",
        "67108864",
    ]
    .map(String::from)
    .to_vec()
}
