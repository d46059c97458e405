//! A database that cannot be used is reported with its cause as soon as the cause is
//! known (nothing listening, a wrong password), not after the pool's wait.

mod common;

use std::str::FromStr;
use std::time::{Duration, Instant};

use common::{TRANSPORTS, admin};
use mcp_core::testing::Launcher;
use serde_json::json;
use sqlx::postgres::PgConnectOptions;

/// The connector on `url` alone, with the default connect timeout (seconds).
fn on(url: &str) -> Launcher {
    Launcher::new(env!("CARGO_BIN_EXE_mcp-postgres")).args(["--database-url", url])
}

/// The test server's host and port.
fn server() -> (String, u16) {
    let options = PgConnectOptions::from_str(&common::url()).expect("the test database URL");
    (options.get_host().to_string(), options.get_port())
}

#[tokio::test]
async fn a_closed_port_is_named_within_a_second() {
    let port = std::net::TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).expect("a free port").port();
    let c = on(&format!("postgres://u@127.0.0.1:{port}/db")).start(TRANSPORTS[0]).await;
    // Two calls at once (and the start-up check beside them): each waiter learns the
    // cause, not only the one that looked.
    let started = Instant::now();
    let (first, second) =
        tokio::join!(c.fails_as("query", json!({"sql": "SELECT 1"})), c.fails_as("list_schemas", json!({})));
    let took = started.elapsed();
    for (kind, text) in [first, second] {
        assert_eq!(kind, "unavailable", "{text}");
        assert!(text.to_lowercase().contains("connection refused"), "{text}");
        assert!(text.contains(&format!("127.0.0.1:{port}")), "the address must be named: {text}");
        assert!(took < Duration::from_secs(1), "reported after {took:?}: {text}");
    }
}

#[tokio::test]
async fn a_wrong_password_is_named_within_a_second() {
    // scripts/lib.sh makes this one role give its password (scram) on loopback.
    sqlx::raw_sql(
        "DO $$ BEGIN CREATE ROLE mcp_password_test LOGIN PASSWORD 'the-right-one'; \
         EXCEPTION WHEN duplicate_object THEN NULL; END $$",
    )
    .execute(&admin().await)
    .await
    .expect("create the role");
    let (host, port) = server();
    let c = on(&format!("postgres://mcp_password_test:wrong@{host}:{port}/postgres")).start(TRANSPORTS[0]).await;
    let started = Instant::now();
    let (kind, text) = c.fails_as("query", json!({"sql": "SELECT 1"})).await;
    let took = started.elapsed();
    assert_eq!(kind, "refused", "a login refused is the configuration's fault: {text}");
    assert!(text.contains("password authentication failed for user \"mcp_password_test\""), "{text}");
    assert!(!text.contains("wrong"), "the password must not be echoed: {text}");
    assert!(took < Duration::from_secs(1), "reported after {took:?}: {text}");
}

#[tokio::test]
async fn start_connects_nowhere_until_a_call_needs_the_database() {
    // A listener that never answers: every connection the server opens shows here.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("a loopback port");
    let port = listener.local_addr().expect("its address").port();
    let c = on(&format!("postgres://u@127.0.0.1:{port}/db")).start(TRANSPORTS[0]).await;
    assert!(!c.client.list_tools().await.expect("tools/list").is_empty());
    // The role check and the schema watch would have connected by now, were they eager.
    let early = tokio::time::timeout(Duration::from_millis(500), listener.accept()).await;
    assert!(early.is_err(), "the server connected before any call needed the database");
    let call = tokio::spawn(async move { c.call("query", json!({"sql": "SELECT 1"})).await });
    let accepted = tokio::time::timeout(Duration::from_secs(5), listener.accept()).await;
    assert!(accepted.is_ok_and(|a| a.is_ok()), "the first call did not connect");
    call.abort();
}
