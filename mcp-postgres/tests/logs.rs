//! What the server logs (stderr) never holds the text of user SQL: a statement may carry
//! a secret, and sqlx would log a slow one's text at WARN.

mod common;

use std::process::Stdio;

use serde_json::json;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};

#[tokio::test]
async fn slow_statements_are_not_logged_with_their_text() {
    let secret = format!("s3cret-{}", std::process::id());
    let mut child = common::launcher()
        .env("MCP_LOG_LEVEL", "debug")
        .command()
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn mcp-postgres");
    // One stateless (2026-07-28) call: a statement slower than sqlx's 1 s threshold.
    let call = json!({"jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": {
        "name": "query",
        "arguments": {"sql": format!("SELECT pg_sleep(1.2), '{secret}' AS token")},
        "_meta": {
            "io.modelcontextprotocol/protocolVersion": "2026-07-28",
            "io.modelcontextprotocol/clientCapabilities": {},
            "io.modelcontextprotocol/clientInfo": {"name": "logs-test", "version": "0"}
        }
    }});
    let mut stdin = child.stdin.take().expect("stdin");
    stdin.write_all(format!("{call}\n").as_bytes()).await.expect("write the call");
    let mut answer = String::new();
    BufReader::new(child.stdout.take().expect("stdout")).read_line(&mut answer).await.expect("read the answer");
    assert!(answer.contains(&secret) && !answer.contains("\"isError\":true"), "the query failed: {answer}");
    drop(stdin);
    let mut logs = String::new();
    child.stderr.take().expect("stderr").read_to_string(&mut logs).await.expect("read stderr");
    let _ = child.wait().await;
    assert!(!logs.contains(&secret), "user SQL reached the logs:\n{logs}");
}
