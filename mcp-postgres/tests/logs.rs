//! What the server logs (stderr) never holds the text of user SQL: a statement may carry
//! a secret, and sqlx would log a slow one's text at WARN.

mod common;

use std::time::Duration;

#[tokio::test]
async fn slow_statements_are_not_logged_with_their_text() {
    let secret = format!("s3cret-{}", std::process::id());
    // A statement slower than sqlx's 1 s threshold.
    let sql = format!("SELECT pg_sleep(1.2), '{secret}' AS token");
    let (answer, logs) = common::one_call_with_stderr(&[], &[("MCP_LOG_LEVEL", "debug")], &sql, Duration::ZERO).await;
    assert!(answer.contains(&secret) && !answer.contains("\"isError\":true"), "the query failed: {answer}");
    assert!(!logs.contains(&secret), "user SQL reached the logs:\n{logs}");
}
