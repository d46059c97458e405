//! Each call's transaction ends before its connection serves another call, though a
//! read-only call's rollback is sent after its answer (with the next read's BEGIN), and
//! the server is left with no transaction open once calls stop; a connection that died while
//! idle in the pool is replaced, though the pool no longer pings before each call.

mod common;

use common::{Transport, admin, start};
use serde_json::{Value, json};

/// The call's transaction start and the server process that ran it.
const WHO: &str = "SELECT transaction_timestamp()::text AS started, pg_backend_pid() AS pid";

fn started_and_pid(out: &Value) -> (String, i64) {
    let row = &out["rows"][0];
    (row[0].as_str().expect("started").to_string(), row[1].as_i64().expect("pid"))
}

#[tokio::test]
async fn the_next_call_on_a_connection_gets_a_new_transaction() {
    // One connection: the second call waits for the first one's rollback.
    let c = start(Transport::Stdio, &["--pool-size", "1"]).await;
    let mut seen = Vec::new();
    for _ in 0..5 {
        seen.push(started_and_pid(&c.ok("query", json!({ "sql": WHO })).await));
    }
    for pair in seen.windows(2) {
        assert_eq!(pair[0].1, pair[1].1, "the same connection serves every call: {seen:?}");
        assert_ne!(pair[0].0, pair[1].0, "a call ran in the previous call's transaction: {seen:?}");
    }
    // A failed statement leaves an aborted transaction: the next call is not in it.
    let failed = c.call("query", json!({ "sql": "SELECT 1/0" })).await;
    assert!(failed.is_error, "{failed:?}");
    let (started, _) = started_and_pid(&c.ok("query", json!({ "sql": WHO })).await);
    assert_ne!(started, seen[4].0);
    // Nothing is left open for long: the next read's transaction, begun after this
    // answer, ends when no read comes within the warm hold (250 ms).
    let pool = admin().await;
    let mut state: Option<String> = None;
    for _ in 0..20 {
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        state = sqlx::query_scalar("SELECT state FROM pg_stat_activity WHERE pid = $1")
            .bind(seen[0].1 as i32)
            .fetch_optional(&pool)
            .await
            .expect("pg_stat_activity");
        if state.as_deref() == Some("idle") {
            break;
        }
    }
    assert_eq!(state.as_deref(), Some("idle"), "the backend is still in a transaction 2 s after the last call");
}

#[tokio::test]
async fn a_connection_that_died_in_the_pool_is_replaced() {
    let c = start(Transport::Stdio, &["--pool-size", "1"]).await;
    let (_, pid) = started_and_pid(&c.ok("query", json!({ "sql": WHO })).await);
    let pool = admin().await;
    let killed: bool = sqlx::query_scalar("SELECT pg_terminate_backend($1, 5000)")
        .bind(pid as i32)
        .fetch_one(&pool)
        .await
        .expect("kill");
    assert!(killed);
    // The connector was not told: its next call finds the dead connection and replaces it.
    let (_, again) = started_and_pid(&c.ok("query", json!({ "sql": WHO })).await);
    assert_ne!(again, pid);
}
