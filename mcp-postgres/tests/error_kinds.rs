//! Each failure carries its kind in the result's `_meta`, decided from what PostgreSQL or
//! the connection said (its SQLSTATE), never from the message: one call per kind a
//! client can meet, against the real server.

mod common;

use common::{TRANSPORTS, launcher, setup, start};
use serde_json::json;

#[tokio::test]
async fn failures_carry_their_kind() {
    let s = common::schema("kinds");
    setup(&format!(
        "DROP SCHEMA IF EXISTS {s} CASCADE; CREATE SCHEMA {s}; CREATE SEQUENCE {s}.seq; CREATE TABLE {s}.t (id int);"
    ))
    .await;
    let c = start(TRANSPORTS[0], &["--statement-timeout-ms", "200"]).await;
    let cases = [
        // 42P01, 42703: what the SQL names does not exist.
        (json!({"sql": format!("SELECT * FROM {s}.nope")}), "not_found"),
        (json!({"sql": format!("SELECT nope FROM {s}.t")}), "not_found"),
        // 42601, 22P02: the statement or its values are at fault.
        (json!({"sql": "SELECT FROM WHERE"}), "invalid_arguments"),
        (json!({"sql": "SELECT $1::int", "params": ["x"]}), "invalid_arguments"),
        // 57014: the statement timeout.
        (json!({"sql": "SELECT pg_sleep(5)"}), "timed_out"),
        // 25006: a write inside the read-only transaction; the guard's own refusal.
        (json!({"sql": format!("SELECT nextval('{s}.seq')")}), "refused"),
        (json!({"sql": "SELECT pg_read_file('/etc/passwd')"}), "refused"),
    ];
    for (args, kind) in cases {
        let (got, text) = c.fails_as("query", args.clone()).await;
        assert_eq!(got, kind, "{args}: {text}");
    }
    let (got, text) = c.fails_as("describe_table", json!({"table": format!("{s}.nope")})).await;
    assert_eq!(got, "not_found", "{text}");
    // Nothing listens on port 1: the database is unavailable, not the call wrong.
    let down = launcher().args(["--database", "down=postgres://u@127.0.0.1:1/db", "--connect-timeout-secs", "1"]);
    let c = down.start(TRANSPORTS[0]).await;
    let (got, text) = c.fails_as("query", json!({"sql": "SELECT 1", "database": "down"})).await;
    assert_eq!(got, "unavailable", "{text}");
}
