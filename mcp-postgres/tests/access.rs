//! Schema and table scopes from the access policy hold for SQL too: a statement is judged
//! by the relations its plan reads, so a view, a CTE or a subquery cannot smuggle a
//! denied table past the check. Per identity over HTTP with bearer tokens.

mod common;

use common::{TRANSPORTS, setup, start, start_with};
use mcp_core::client::ClientOptions;
use serde_json::json;

async fn fixture(tag: &str) -> (String, String) {
    let s = common::schema(tag);
    let secret = format!("{s}_secret");
    setup(&format!(
        "DROP SCHEMA IF EXISTS {s} CASCADE; DROP SCHEMA IF EXISTS {secret} CASCADE;
         CREATE SCHEMA {s}; CREATE SCHEMA {secret};
         CREATE TABLE {s}.orders (id int, amount int); INSERT INTO {s}.orders VALUES (1, 10), (2, 20);
         CREATE TABLE {s}.salaries (who text, pay int); INSERT INTO {s}.salaries VALUES ('a', 1);
         CREATE TABLE {secret}.keys (k text); INSERT INTO {secret}.keys VALUES ('hunter2');
         CREATE VIEW {s}.innocent AS SELECT k FROM {secret}.keys;"
    ))
    .await;
    (s, secret)
}

#[tokio::test]
async fn statements_reading_denied_relations_are_refused_however_written() {
    let (s, secret) = fixture("acl").await;
    let dir = tempfile::tempdir().expect("tempdir");
    let policy = dir.path().join("policy.toml");
    std::fs::write(&policy, format!("[scopes]\ndeny_schemas = [\"{secret}\"]\ndeny_tables = [\"{s}.salaries\"]\n"))
        .expect("policy");
    let export_dir = tempfile::tempdir().expect("tempdir");
    for transport in TRANSPORTS {
        let args = [
            "--policy-file",
            policy.to_str().expect("path"),
            "--export-dir",
            export_dir.path().to_str().expect("path"),
        ];
        let c = start(transport, &args).await;
        let allowed = c.ok("query", json!({"sql": format!("SELECT sum(amount) AS total FROM {s}.orders")})).await;
        assert_eq!(allowed["rows"], json!([[30]]));
        for sql in [
            format!("SELECT * FROM {secret}.keys"),
            format!("SELECT * FROM {s}.innocent"),
            format!("WITH x AS (SELECT * FROM {secret}.keys) SELECT count(*) FROM x"),
            format!("SELECT (SELECT max(pay) FROM {s}.salaries)"),
            format!("SELECT * FROM {s}.orders o WHERE EXISTS (SELECT 1 FROM {s}.salaries WHERE pay = o.amount)"),
            format!("SELECT * FROM {s}.orders UNION ALL SELECT 0, pay FROM {s}.salaries"),
        ] {
            let err = c.fails("query", json!({ "sql": sql })).await;
            assert!(err.contains("access denied"), "{sql}: {err}");
            assert!(!err.contains("hunter2"));
            let err = c.fails("explain", json!({ "sql": sql })).await;
            assert!(err.contains("access denied"), "explain {sql}: {err}");
        }
        let err = c
            .fails("export", json!({"sql": format!("SELECT * FROM {secret}.keys"), "path": "k.csv", "format": "csv"}))
            .await;
        assert!(err.contains("access denied"), "{err}");
        assert!(!export_dir.path().join("k.csv").exists());
    }
}

#[tokio::test]
async fn each_identity_gets_its_own_scopes() {
    let (s, secret) = fixture("ident").await;
    let dir = tempfile::tempdir().expect("tempdir");
    let policy = dir.path().join("policy.toml");
    std::fs::write(
        &policy,
        format!(
            "[identities.analyst.scopes]\nschemas = [\"{s}\"]\ndeny_tables = [\"{s}.salaries\"]\n[identities.admin]\n"
        ),
    )
    .expect("policy");
    let tokens = dir.path().join("tokens");
    std::fs::write(&tokens, "analyst=analyst-token-0123456789\nadmin=admin-token-0123456789abc\n").expect("tokens");
    let args = ["--policy-file", policy.to_str().expect("path"), "--auth-tokens-file", tokens.to_str().expect("path")];
    let as_ = |token: &str| ClientOptions { bearer_token: Some(token.into()), ..Default::default() };
    let analyst = start_with(TRANSPORTS[1], &args, as_("analyst-token-0123456789")).await;
    let admin = start_with(TRANSPORTS[1], &args, as_("admin-token-0123456789abc")).await;
    let keys = json!({"sql": format!("SELECT k FROM {secret}.keys")});
    assert!(analyst.fails("query", keys.clone()).await.contains("access denied"));
    assert_eq!(admin.ok("query", keys).await["rows"], json!([["hunter2"]]));
    let pay = json!({"sql": format!("SELECT pay FROM {s}.salaries")});
    assert!(analyst.fails("query", pay.clone()).await.contains("access denied"));
    assert_eq!(admin.ok("query", pay).await["rows"], json!([[1]]));
    assert_eq!(
        analyst.ok("query", json!({"sql": format!("SELECT count(*) FROM {s}.orders")})).await["rows"],
        json!([[2]])
    );
}
