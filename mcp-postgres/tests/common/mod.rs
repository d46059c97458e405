//! Test support: the real PostgreSQL the test command started, the connector spawned as
//! a real process, and mcp-core's client speaking to it over stdio or HTTP.
//!
//! The database comes from MCP_POSTGRES_TEST_URL (scripts/test.sh starts one; for a
//! development shell, scripts/postgres.sh). Each test works in schemas of its own.
#![allow(dead_code)]

use std::process::Stdio;
use std::time::Duration;

use mcp_core::client::{Client, ClientOptions};
use mcp_core::protocol::{CallToolResult, Content};
use serde_json::Value;
use sqlx::postgres::PgPoolOptions;
use sqlx::{Executor as _, PgPool};

/// The test database's URL.
pub fn url() -> String {
    std::env::var("MCP_POSTGRES_TEST_URL").unwrap_or_else(|_| {
        panic!("MCP_POSTGRES_TEST_URL is not set: run scripts/test.sh, or scripts/postgres.sh for a dev database")
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

/// How a test reaches the connector.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transport {
    Stdio,
    Http,
}

pub const TRANSPORTS: [Transport; 2] = [Transport::Stdio, Transport::Http];

/// A running connector and a client connected to it.
pub struct Connector {
    pub client: Client,
    /// The HTTP server process (stdio servers belong to the client).
    child: Option<tokio::process::Child>,
    pub transport: Transport,
}

impl Drop for Connector {
    fn drop(&mut self) {
        if let Some(child) = &mut self.child {
            let _ = child.start_kill();
        }
    }
}

fn command(args: &[&str]) -> tokio::process::Command {
    let mut cmd = tokio::process::Command::new(env!("CARGO_BIN_EXE_mcp-postgres"));
    cmd.args(args).env("MCP_LOG_LEVEL", "warn").kill_on_drop(true);
    cmd
}

/// Starts the connector on the test database with extra `args`.
pub async fn start(transport: Transport, args: &[&str]) -> Connector {
    start_with(transport, args, ClientOptions::default()).await
}

/// [`start`] with client options (an input handler, a token).
pub async fn start_with(transport: Transport, args: &[&str], options: ClientOptions) -> Connector {
    let url = url();
    let mut all = vec!["--database-url", url.as_str()];
    all.extend_from_slice(args);
    match transport {
        Transport::Stdio => {
            let mut cmd = command(&all);
            cmd.stderr(Stdio::inherit());
            let client = Client::connect_stdio(cmd, options).await.expect("connect over stdio");
            Connector { client, child: None, transport }
        }
        Transport::Http => {
            let port = free_port();
            let listen = format!("127.0.0.1:{port}");
            all.extend_from_slice(&["--transport", "http", "--listen", &listen]);
            let mut child = command(&all).stdin(Stdio::null()).spawn().expect("spawn the HTTP server");
            let endpoint = format!("http://{listen}/mcp");
            let mut last_error = String::new();
            for _ in 0..100 {
                if let Ok(Some(status)) = child.try_wait() {
                    panic!("the HTTP server exited at start: {status}");
                }
                match Client::connect_http(&endpoint, options.clone()).await {
                    Ok(client) => return Connector { client, child: Some(child), transport },
                    Err(e) => last_error = e.to_string(),
                }
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            panic!("the HTTP server did not answer: {last_error}");
        }
    }
}

fn free_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    listener.local_addr().expect("addr").port()
}

impl Connector {
    /// Calls a tool; the result may be an error result (`isError`).
    pub async fn call(&self, tool: &str, args: Value) -> CallToolResult {
        self.client.call_tool(tool, args).await.unwrap_or_else(|e| panic!("{tool} over {:?}: {e}", self.transport))
    }

    /// Calls a tool that must succeed; returns its structured content.
    pub async fn ok(&self, tool: &str, args: Value) -> Value {
        let result = self.call(tool, args.clone()).await;
        assert!(!result.is_error, "{tool}({args}) over {:?} failed: {}", self.transport, text(&result));
        result.structured_content.clone().unwrap_or(Value::Null)
    }

    /// Calls a tool that must fail; returns its error text.
    pub async fn fails(&self, tool: &str, args: Value) -> String {
        let result = self.call(tool, args.clone()).await;
        assert!(result.is_error, "{tool}({args}) over {:?} should have failed: {}", self.transport, text(&result));
        text(&result)
    }
}

/// All the text of a result.
pub fn text(result: &CallToolResult) -> String {
    result
        .content
        .iter()
        .filter_map(|c| match c {
            Content::Text { text, .. } => Some(text.as_str()),
            _ => None,
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// A schema name unique to this test run and `tag`.
pub fn schema(tag: &str) -> String {
    format!("t_{tag}_{}", std::process::id())
}
