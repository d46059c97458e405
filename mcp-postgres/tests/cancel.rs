//! A cancelled call stops its statement on the server, not only in the connector: by the
//! client's `notifications/cancelled`, and by the server's own call timeout.

mod common;

use std::process::Stdio;
use std::time::{Duration, Instant};

use common::{TRANSPORTS, admin, start};
use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};

/// How many backends are running a statement containing `marker`.
async fn running(marker: &str) -> i64 {
    let pool = admin().await;
    let n: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM pg_stat_activity WHERE state = 'active' AND query LIKE '%' || $1 || '%' \
         AND pid <> pg_backend_pid()",
    )
    .bind(marker)
    .fetch_one(&pool)
    .await
    .expect("pg_stat_activity");
    pool.close().await;
    n
}

/// Waits until `running(marker)` is `want`, up to `limit`.
async fn wait_running(marker: &str, want: i64, limit: Duration) -> bool {
    let started = Instant::now();
    while started.elapsed() < limit {
        if running(marker).await == want {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    false
}

#[tokio::test]
async fn a_client_cancellation_stops_the_statement_on_the_server() {
    // Raw JSON-RPC over the stdio pipe, to send the notification at a chosen moment.
    let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_mcp-postgres"))
        .args(["--database-url", &common::url()])
        .env("MCP_LOG_LEVEL", "warn")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("spawn");
    let mut stdin = child.stdin.take().expect("stdin");
    let mut stdout = BufReader::new(child.stdout.take().expect("stdout")).lines();
    let mut send = async |message: Value| {
        stdin.write_all(format!("{message}\n").as_bytes()).await.expect("write");
        stdin.flush().await.expect("flush");
    };
    send(json!({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
        "protocolVersion": "2025-11-25", "capabilities": {}, "clientInfo": {"name": "t", "version": "1"}}}))
    .await;
    let _ = stdout.next_line().await.expect("read").expect("initialize answer");
    send(json!({"jsonrpc": "2.0", "method": "notifications/initialized"})).await;
    let marker = format!("cancel_marker_{}", std::process::id());
    send(json!({"jsonrpc": "2.0", "id": 2, "method": "tools/call", "params": {
        "name": "query", "arguments": {"sql": format!("SELECT pg_sleep(60) AS {marker}")}}}))
    .await;
    assert!(wait_running(&marker, 1, Duration::from_secs(10)).await, "the statement never started");
    send(json!({"jsonrpc": "2.0", "method": "notifications/cancelled", "params": {"requestId": 2, "reason": "test"}}))
        .await;
    assert!(wait_running(&marker, 0, Duration::from_secs(5)).await, "the statement still runs on the server");
    // The connector still answers, on a healthy connection.
    send(json!({"jsonrpc": "2.0", "id": 3, "method": "tools/call", "params": {
        "name": "query", "arguments": {"sql": "SELECT 5 AS five"}}}))
    .await;
    let line = tokio::time::timeout(Duration::from_secs(10), async {
        loop {
            let line = stdout.next_line().await.expect("read").expect("an answer");
            let msg: Value = serde_json::from_str(&line).expect("json");
            if msg["id"] == 3 {
                return msg;
            }
        }
    })
    .await
    .expect("answer to the next call");
    assert_eq!(line["result"]["structuredContent"]["rows"], json!([[5]]), "{line}");
}

#[tokio::test]
async fn the_call_timeout_stops_the_statement_on_the_server() {
    for transport in TRANSPORTS {
        let c = start(transport, &["--call-timeout-secs", "1"]).await;
        let marker = format!("timeout_marker_{}_{}", std::process::id(), transport as u8);
        let started = Instant::now();
        let result = c.client.call_tool("query", json!({"sql": format!("SELECT pg_sleep(60) AS {marker}")})).await;
        let said = match result {
            Ok(r) => {
                assert!(r.is_error, "a 60 s sleep cannot succeed in 1 s");
                common::text(&r)
            }
            Err(e) => e.to_string(),
        };
        assert!(said.contains("deadline"), "{said}");
        assert!(started.elapsed() < Duration::from_secs(10));
        assert!(
            wait_running(&marker, 0, Duration::from_secs(5)).await,
            "still running on the server over {transport:?}"
        );
        assert_eq!(c.ok("query", json!({"sql": "SELECT 1"})).await["rows"], json!([[1]]));
    }
}

#[tokio::test]
async fn a_truncated_result_stops_the_statement_instead_of_reading_it_all() {
    for transport in TRANSPORTS {
        let c = start(transport, &["--max-rows", "10"]).await;
        let started = Instant::now();
        // A cross join streams tens of millions of rows; reading them all would take minutes.
        let sql = "SELECT a.oid, b.oid, c.oid FROM pg_class a, pg_class b, pg_class c";
        let out = c.ok("query", json!({ "sql": sql })).await;
        assert_eq!(out["rowCount"], 10);
        assert_eq!(out["truncated"], true);
        assert!(started.elapsed() < Duration::from_secs(5), "took {:?}", started.elapsed());
    }
}
