//! Test support: the real PostgreSQL the test command started, the connector spawned as
//! a real process, and mcp-core's client speaking to it over stdio, HTTP or WebSocket
//! (`mcp_core::testing`).
//!
//! The database comes from MCP_TEST_DATABASE_URL (scripts/services.sh starts one and
//! prints it; scripts/test.sh uses the same mechanism). Each test works in schemas of its own.
#![allow(dead_code)]

use mcp_core::client::ClientOptions;
use mcp_core::testing::Launcher;
#[allow(unused_imports)] // each test binary uses some of them
pub use mcp_core::testing::{Connector, TRANSPORTS, Transport, text};
use sqlx::postgres::PgPoolOptions;
use sqlx::{Executor as _, PgPool};

/// The test database's URL.
pub fn url() -> String {
    std::env::var("MCP_TEST_DATABASE_URL").unwrap_or_else(|_| {
        panic!("MCP_TEST_DATABASE_URL is not set: run scripts/test.sh, or `eval \"$(scripts/services.sh up)\"`")
    })
}

/// A direct connection for setting up and checking data, outside the connector.
pub async fn admin() -> PgPool {
    PgPoolOptions::new().max_connections(2).connect(&url()).await.expect("connect to the test database")
}

/// Runs setup SQL (several statements allowed) directly.
pub async fn setup(sql: &str) {
    let pool = admin().await;
    pool.execute(sqlx::raw_sql(sql)).await.unwrap_or_else(|e| panic!("setup failed: {e}\n{sql}"));
    pool.close().await;
}

/// The connector on the test database.
pub fn launcher() -> Launcher {
    Launcher::new(env!("CARGO_BIN_EXE_mcp-postgres")).args(["--database-url".to_string(), url()])
}

/// Starts the connector on the test database with extra `args`.
pub async fn start(transport: Transport, args: &[&str]) -> Connector {
    launcher().args(args).start(transport).await
}

/// [`start`] with client options (an input handler, a token).
pub async fn start_with(transport: Transport, args: &[&str], options: ClientOptions) -> Connector {
    launcher().args(args).options(options).start(transport).await
}

/// The URL of database `db` on the test server (the test URL with its path replaced).
pub fn database_url(db: &str) -> String {
    let url = url();
    let (base, _) = url.rsplit_once('/').expect("a URL path");
    let query = url.split_once('?').map(|(_, q)| format!("?{q}")).unwrap_or_default();
    format!("{base}/{db}{query}")
}

/// A client that answers the server's confirmation of a destructive tool with `answer`.
pub fn confirming(answer: bool) -> ClientOptions {
    let handler: mcp_core::client::InputHandler = std::sync::Arc::new(move |method: String, _params| {
        Box::pin(async move {
            match method.as_str() {
                "elicitation/create" => Ok(serde_json::json!({"action": "accept", "content": {"confirm": answer}})),
                other => Err(mcp_core::protocol::ErrorObject::method_not_found(other)),
            }
        })
    });
    ClientOptions { on_input: Some(handler), ..Default::default() }
}

/// A schema name unique to this test run and `tag`.
pub fn schema(tag: &str) -> String {
    format!("t_{tag}_{}", std::process::id())
}

/// A tabular result's rows as objects keyed by column name.
pub fn records(out: &serde_json::Value) -> Vec<serde_json::Map<String, serde_json::Value>> {
    let names: Vec<String> = out["columns"]
        .as_array()
        .expect("columns")
        .iter()
        .map(|c| c["name"].as_str().expect("column name").to_string())
        .collect();
    out["rows"]
        .as_array()
        .expect("rows")
        .iter()
        .map(|r| names.iter().cloned().zip(r.as_array().expect("row").iter().cloned()).collect())
        .collect()
}

/// Starts the connector with piped stdio and `env`, sends one stateless `query` call of
/// `sql`, waits `settle` after its answer (for work beside the call, such as start-up
/// checks), then closes stdin. Returns the answer line and everything written on stderr.
pub async fn one_call_with_stderr(
    args: &[&str],
    env: &[(&str, &str)],
    sql: &str,
    settle: std::time::Duration,
) -> (String, String) {
    use std::process::Stdio;
    use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
    let mut launcher = launcher().args(args);
    for (key, value) in env {
        launcher = launcher.env(key, value);
    }
    let mut child = launcher
        .command()
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn mcp-postgres");
    let call = serde_json::json!({"jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": {
        "name": "query", "arguments": {"sql": sql},
        "_meta": {
            "io.modelcontextprotocol/protocolVersion": "2026-07-28",
            "io.modelcontextprotocol/clientCapabilities": {},
            "io.modelcontextprotocol/clientInfo": {"name": "stderr-test", "version": "0"}
        }
    }});
    let mut stdin = child.stdin.take().expect("stdin");
    stdin.write_all(format!("{call}\n").as_bytes()).await.expect("write the call");
    let mut answer = String::new();
    BufReader::new(child.stdout.take().expect("stdout")).read_line(&mut answer).await.expect("read the answer");
    tokio::time::sleep(settle).await;
    drop(stdin);
    let mut logs = String::new();
    child.stderr.take().expect("stderr").read_to_string(&mut logs).await.expect("read stderr");
    let _ = child.wait().await;
    (answer, logs)
}
