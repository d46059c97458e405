//! `replication`, `vacuum_progress` and `table_bloat` against the real server: a slot
//! created and dropped, a table with deleted rows showing its dead rows and its bloat,
//! estimated or measured with pgstattuple as the catalog says.

mod common;

use std::time::{Duration, Instant};

use common::{TRANSPORTS, records, setup, start};
use mcp_core::testing::Launcher;
use serde_json::{Map, Value, json};

#[tokio::test]
async fn replication_says_when_nothing_replicates_and_lists_a_slot() {
    let slot = format!("mcp_slot_{}", std::process::id());
    let c = start(TRANSPORTS[0], &[]).await;
    let (text, out) = c.ok_text("replication", json!({})).await;
    assert!(text.contains("This server is a primary"), "{text}");
    assert!(text.contains("pg_stat_replication is empty"), "{text}");
    let named = |out: &Value| records(out).into_iter().find(|r| r["name"] == json!(slot));
    assert!(named(&out).is_none());
    // A physical slot (wal_level replica is enough), reserving WAL at once.
    setup(&format!("SELECT pg_create_physical_replication_slot('{slot}', true)")).await;
    let listed = c.ok("replication", json!({})).await;
    setup(&format!("SELECT pg_drop_replication_slot('{slot}')")).await;
    let row = named(&listed).unwrap_or_else(|| panic!("slot {slot} not listed: {listed}"));
    assert_eq!(
        (&row["kind"], &row["state"], &row["slot_type"]),
        (&json!("slot"), &json!("inactive"), &json!("physical"))
    );
    assert_eq!(row["active"], false);
    assert!(row["wal_bytes"].as_i64().is_some_and(|b| b >= 0), "{row:?}");
    assert_eq!(row["wal_status"], "reserved");
    assert!(listed["note"].as_str().is_some_and(|n| n.contains("replication slot(s)")), "{listed}");
    // Bounded, and bad input named.
    let (kind, err) = c.fails_as("replication", json!({"limit": 0})).await;
    assert_eq!(kind, "invalid_arguments");
    assert!(err.contains("`limit`"), "{err}");
    let err = c.fails("replication", json!({"database": "nope"})).await;
    assert!(err.contains("nope"), "{err}");
}

/// A table of 20,000 rows with 15,000 deleted, autovacuum off so that nothing cleans it.
fn dead_rows_fixture(url_schema: &str) -> String {
    format!(
        "DROP SCHEMA IF EXISTS {url_schema} CASCADE; CREATE SCHEMA {url_schema};
         CREATE TABLE {url_schema}.churn (id int PRIMARY KEY, pad text) WITH (autovacuum_enabled = false);
         INSERT INTO {url_schema}.churn SELECT g, repeat('x', 100) FROM generate_series(1, 20000) g;
         DELETE FROM {url_schema}.churn WHERE id > 5000;
         ANALYZE {url_schema}.churn;
         SELECT pg_stat_force_next_flush();"
    )
}

/// The row of `out` about `name`.
fn row_of(out: &Value, name: &str) -> Map<String, Value> {
    records(out)
        .into_iter()
        .find(|r| r.get("table") == Some(&json!(name)) || r.get("name") == Some(&json!(name)))
        .unwrap_or_else(|| panic!("{name} not in {out}"))
}

#[tokio::test]
async fn vacuum_progress_shows_dead_rows_and_the_need_for_autovacuum() {
    let s = common::schema("vacuum");
    setup(&dead_rows_fixture(&s)).await;
    let c = start(TRANSPORTS[0], &[]).await;
    // Statistics reach the shared counters shortly after the deleting session goes idle.
    let started = Instant::now();
    let out = loop {
        let out = c.ok("vacuum_progress", json!({"schema": s})).await;
        if row_of(&out, "churn")["dead_rows"] == json!(15000) || started.elapsed() > Duration::from_secs(10) {
            break out;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    let row = row_of(&out, "churn");
    assert_eq!((&row["dead_rows"], &row["live_rows"]), (&json!(15000), &json!(5000)), "{row:?}");
    assert_eq!(row["autovacuum_enabled"], false);
    assert_eq!(row["vacuum_phase"], Value::Null, "no VACUUM runs on it");
    // Threshold 50 + 0.2 × 5,000 rows: 15,000 dead rows are far past it.
    assert_eq!(row["autovacuum_threshold"], 1050);
    assert!(row["need"].as_f64().is_some_and(|n| n > 14.0), "{row:?}");
    assert!(row["last_analyze"].is_string(), "{row:?}");
    assert!(out["note"].as_str().is_some_and(|n| n.contains("No VACUUM is running")), "{out}");
    // Filters that match nothing say so; bad input is named.
    let none = c.ok("vacuum_progress", json!({"schema": s, "table": "absent"})).await;
    assert_eq!(none["rows"], json!([]));
    let (kind, err) = c.fails_as("vacuum_progress", json!({"limit": 0})).await;
    assert_eq!(kind, "invalid_arguments");
    assert!(err.contains("`limit`"), "{err}");
    assert!(c.fails("vacuum_progress", json!({"schema": 3})).await.contains("schema"));
}

#[tokio::test]
async fn table_bloat_estimates_a_table_and_its_index_with_deleted_rows() {
    let s = common::schema("bloat");
    setup(&dead_rows_fixture(&s)).await;
    let c = start(TRANSPORTS[0], &[]).await;
    let out = c.ok("table_bloat", json!({"schema": s})).await;
    let table = row_of(&out, "churn");
    assert_eq!((&table["kind"], &table["method"]), (&json!("table"), &json!("estimate")), "{table:?}");
    // Three quarters of the rows are dead: at least half the table is wasted.
    assert!(table["wasted_percent"].as_f64().is_some_and(|p| p >= 50.0), "{table:?}");
    let index = row_of(&out, "churn_pkey");
    assert_eq!((&index["kind"], &index["table"]), (&json!("index"), &json!("churn")));
    assert!(index["wasted_percent"].as_f64().is_some_and(|p| p >= 50.0), "{index:?}");
    assert!(out["note"].as_str().is_some_and(|n| n.contains("pgstattuple is not installed")), "{out}");
    let (kind, _) = c.fails_as("table_bloat", json!({"limit": 0})).await;
    assert_eq!(kind, "invalid_arguments");
}

/// With pgstattuple in the database's catalog, tables are measured rather than estimated.
#[tokio::test]
async fn table_bloat_measures_with_pgstattuple_when_the_catalog_has_it() {
    let db = format!("t_pgstattuple_{}", std::process::id());
    setup(&format!("DROP DATABASE IF EXISTS {db}")).await;
    setup(&format!("CREATE DATABASE {db}")).await;
    let url = common::database_url(&db);
    let pool = sqlx::PgPool::connect(&url).await.expect("connect");
    let fixture = format!("CREATE EXTENSION pgstattuple; {}", dead_rows_fixture("m"));
    sqlx::Executor::execute(&pool, sqlx::raw_sql(&fixture)).await.expect("fixture");
    pool.close().await;
    let c = Launcher::new(env!("CARGO_BIN_EXE_mcp-postgres")).args(["--database-url", &url]).start(TRANSPORTS[0]).await;
    let out = c.ok("table_bloat", json!({"schema": "m"})).await;
    let table = row_of(&out, "churn");
    assert_eq!(table["method"], "pgstattuple_approx", "{table:?}");
    assert!(table["wasted_percent"].as_f64().is_some_and(|p| p >= 50.0), "{table:?}");
    assert_eq!(row_of(&out, "churn_pkey")["method"], "estimate");
    drop(c);
    setup(&format!("DROP DATABASE IF EXISTS {db} WITH (FORCE)")).await;
}
