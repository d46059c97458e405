//! `query` cannot change anything, whatever SQL it is given: one test per known escape
//! (the archived reference server's `COMMIT; DROP`, transaction-mode tricks, writes in
//! CTEs and functions, and the functions that reach outside the database even in a
//! read-only transaction, also when called in FROM). Each asserts the data is unchanged.

mod common;

use common::{Connector, TRANSPORTS, admin, setup, start};
use serde_json::json;

async fn fixture(tag: &str) -> String {
    let s = common::schema(tag);
    setup(&format!(
        "DROP SCHEMA IF EXISTS {s} CASCADE; CREATE SCHEMA {s};
         CREATE TABLE {s}.t (id int PRIMARY KEY, v text);
         INSERT INTO {s}.t SELECT g, 'v' || g FROM generate_series(1, 3) g;
         CREATE SEQUENCE {s}.seq;
         CREATE FUNCTION {s}.wipe() RETURNS int LANGUAGE sql AS 'DELETE FROM {s}.t RETURNING 1';"
    ))
    .await;
    s
}

/// The table still holds its three original rows.
async fn assert_intact(s: &str) {
    let pool = admin().await;
    let rows: Vec<(i32, String)> =
        sqlx::query_as(&format!("SELECT id, v FROM {s}.t ORDER BY id")).fetch_all(&pool).await.expect("read back");
    assert_eq!(rows, vec![(1, "v1".into()), (2, "v2".into()), (3, "v3".into())], "data changed in {s}");
    let exists: bool = sqlx::query_scalar("SELECT to_regclass($1) IS NOT NULL")
        .bind(format!("{s}.t"))
        .fetch_one(&pool)
        .await
        .expect("q");
    assert!(exists);
    pool.close().await;
}

async fn refused(c: &Connector, sql: &str, reason: &str) {
    let err = c.fails("query", json!({ "sql": sql })).await;
    assert!(err.contains(reason), "{sql}\n→ {err}");
}

/// Each statement (`{s}` stands for the test's schema) is refused by `query` with its
/// reason, over every transport, and the data is left as it was.
async fn all_refused(tag: &str, cases: &[(&str, &str)]) {
    let s = fixture(tag).await;
    for transport in TRANSPORTS {
        let c = start(transport, &[]).await;
        for (sql, reason) in cases {
            refused(&c, &sql.replace("{s}", &s), reason).await;
        }
        assert_intact(&s).await;
    }
}

#[tokio::test]
async fn commit_then_write_in_one_string_is_refused() {
    let one = "exactly one";
    let reading = "only reading statements";
    all_refused(
        "commit",
        &[
            ("COMMIT; DROP TABLE {s}.t", one),
            ("SELECT 1; DELETE FROM {s}.t", one),
            ("SELECT 1 /* ; */ ; DELETE FROM {s}.t -- ;", one),
            ("COMMIT", reading),
            ("ROLLBACK", reading),
            ("BEGIN", reading),
            ("END", reading),
        ],
    )
    .await;
}

#[tokio::test]
async fn transaction_mode_tricks_are_refused() {
    let reading = "only reading statements";
    all_refused(
        "txmode",
        &[
            ("SET TRANSACTION READ WRITE", reading),
            ("SET SESSION CHARACTERISTICS AS TRANSACTION READ WRITE", reading),
            ("SELECT set_config('transaction_read_only', 'off', true)", "set_config"),
            ("RESET ALL", reading),
        ],
    )
    .await;
}

#[tokio::test]
async fn writes_hidden_in_reading_statements_are_stopped_by_the_database() {
    let read_only = "read-only transaction";
    all_refused(
        "hidden",
        &[
            ("WITH d AS (DELETE FROM {s}.t RETURNING *) SELECT count(*) FROM d", read_only),
            ("SELECT {s}.wipe()", read_only),
            ("SELECT * FROM {s}.wipe()", read_only),
            ("SELECT nextval('{s}.seq')", read_only),
            ("SELECT * FROM {s}.t FOR UPDATE", read_only),
            ("EXPLAIN ANALYZE DELETE FROM {s}.t", read_only),
            ("SELECT * INTO {s}.copy FROM {s}.t", read_only),
        ],
    )
    .await;
}

#[tokio::test]
async fn functions_reaching_outside_the_database_are_refused_anywhere() {
    let s = fixture("outside").await;
    for transport in TRANSPORTS {
        let c = start(transport, &[]).await;
        for sql in [
            "SELECT pg_read_file('/etc/passwd')",
            // The Postgres MCP Pro bypass: a function called in FROM.
            "SELECT * FROM pg_read_file('/etc/passwd')",
            "SELECT * FROM pg_catalog.pg_read_binary_file('/etc/passwd')",
            "SELECT * FROM pg_ls_dir('.')",
            "SELECT lo_import('/etc/passwd')",
            "SELECT * FROM \"lo_export\"(1, '/tmp/x')",
            "SELECT * FROM dblink('host=127.0.0.1', 'DELETE FROM t') AS r(x text)",
            "SELECT pg_terminate_backend(pg_backend_pid())",
            "SELECT 1 FROM pg_stat_activity WHERE pg_cancel_backend(pid)",
            "SELECT query_to_xml('SELECT pg_read_file(''/etc/passwd'')', true, true, '')",
            "SELECT pg_reload_conf()",
            "SELECT pg_advisory_lock(1)",
        ] {
            refused(&c, sql, "is refused").await;
        }
        refused(&c, &format!("COPY {s}.t TO PROGRAM 'cat > /tmp/mcp-pg-x'"), "PROGRAM is refused").await;
        refused(&c, "COPY (SELECT 1) TO '/tmp/mcp-pg-y'", "only reading statements").await;
        refused(&c, &format!("DO $$ BEGIN DELETE FROM {s}.t; END $$"), "only reading statements").await;
        refused(&c, &format!("CALL {s}.nothing()"), "only reading statements").await;
        assert!(!std::path::Path::new("/tmp/mcp-pg-x").exists() && !std::path::Path::new("/tmp/mcp-pg-y").exists());
        assert_intact(&s).await;
    }
}

#[tokio::test]
async fn an_operator_can_allow_a_refused_function_by_name() {
    for transport in TRANSPORTS {
        let c = start(transport, &["--allow-function", "pg_ls_dir"]).await;
        let out = c.ok("query", json!({"sql": "SELECT count(*) > 0 AS any FROM pg_ls_dir('.')"})).await;
        assert_eq!(out["rows"][0], json!([true]));
        refused(&c, "SELECT pg_read_file('PG_VERSION')", "is refused").await;
    }
}

#[tokio::test]
async fn the_write_tool_is_absent_unless_writes_are_allowed() {
    for transport in TRANSPORTS {
        let c = start(transport, &[]).await;
        let tools = c.client.list_tools().await.expect("tools");
        assert!(tools.iter().any(|t| t.name == "query"));
        assert!(!tools.iter().any(|t| t.name == "execute"), "execute listed without --allow-write");
        for t in &tools {
            let a = t.annotations.as_ref().expect("annotated");
            assert_eq!(a.read_only_hint, Some(true), "{} must be read-only", t.name);
        }
        assert!(c.client.call_tool("execute", json!({"sql": "SELECT 1"})).await.is_err());
    }
}

/// A read repeated while nothing commits reuses its plan check's verdict; a view
/// replaced in between (here, to take a session lock that outlives the rollback) is
/// planned and checked again, over every transport.
#[tokio::test]
async fn a_view_replaced_between_two_reads_is_checked_again() {
    let s = fixture("replaced").await;
    let key = 7_000_000 + i64::from(std::process::id() % 1_000_000);
    let benign = format!("CREATE OR REPLACE VIEW {s}.v AS SELECT id, 0::bigint AS k FROM {s}.t");
    let locking = format!(
        "CREATE OR REPLACE VIEW {s}.v AS SELECT id, {key}::bigint AS k FROM {s}.t WHERE pg_try_advisory_lock({key})"
    );
    let sql = format!("SELECT id FROM {s}.v ORDER BY id");
    for transport in TRANSPORTS {
        setup(&benign).await;
        let c = start(transport, &[]).await;
        for _ in 0..3 {
            let out = c.ok("query", json!({ "sql": sql })).await;
            assert_eq!(out["rowCount"], 3, "{out}");
        }
        setup(&locking).await;
        refused(&c, &sql, "pg_try_advisory_lock").await;
        let pool = admin().await;
        let held: i64 = sqlx::query_scalar("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND objid = $1")
            .bind(key)
            .fetch_one(&pool)
            .await
            .expect("pg_locks");
        assert_eq!(held, 0, "the replaced view's lock was taken");
        pool.close().await;
    }
    assert_intact(&s).await;
}
