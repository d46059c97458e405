//! What the server logs (stderr) never holds the text of user SQL: a statement may carry
//! a secret, and sqlx would log a slow one's text at WARN.

mod common;

use std::time::Duration;

#[tokio::test]
async fn slow_statements_are_not_logged_with_their_text() {
    let secret = format!("s3cret-{}", std::process::id());
    // A statement slower than sqlx's 1 s threshold, which also makes PostgreSQL send a
    // notice (a word too long for a tsvector).
    let sql = format!("SELECT pg_sleep(1.2), '{secret}' AS token, to_tsvector('simple', repeat('x', 3000)) AS v");
    let (answer, logs) = common::one_call_with_stderr(&[], &[("MCP_LOG_LEVEL", "debug")], &sql, Duration::ZERO).await;
    assert!(answer.contains(&secret) && !answer.contains("\"isError\":true"), "the query failed: {answer}");
    // Positive control: sqlx's log events for this very statement reach the captured
    // stderr (its notice, logged by sqlx), so a slow-statement line would be there too.
    assert!(logs.contains("word is too long to be indexed"), "the statement's sqlx events are not captured:\n{logs}");
    assert!(!logs.contains(&secret), "user SQL reached the logs:\n{logs}");
}
