//! `execute` (writes, only with --allow-write) and `explain` against a real PostgreSQL.

mod common;

use common::{TRANSPORTS, admin, confirming, setup, start, start_with, text};
use mcp_core::testing::Launcher;
use serde_json::json;

async fn count(sql: &str) -> i64 {
    let pool = admin().await;
    let n: i64 = sqlx::query_scalar(sql).fetch_one(&pool).await.expect("count");
    pool.close().await;
    n
}

async fn fixture(tag: &str) -> String {
    let s = common::schema(tag);
    setup(&format!(
        "DROP SCHEMA IF EXISTS {s} CASCADE; CREATE SCHEMA {s};
         CREATE TABLE {s}.t (id serial PRIMARY KEY, v text NOT NULL);
         INSERT INTO {s}.t (v) SELECT 'v' || g FROM generate_series(1, 3) g;"
    ))
    .await;
    s
}

#[tokio::test]
async fn writes_commit_and_report_what_changed() {
    let s = fixture("write").await;
    for transport in TRANSPORTS {
        let c = start(transport, &["--allow-write"]).await;
        let before = count(&format!("SELECT count(*) FROM {s}.t")).await;
        let out = c
            .ok(
                "execute",
                json!({"sql": format!("INSERT INTO {s}.t (v) VALUES ($1), ($2) RETURNING v"), "params": ["a", "b"]}),
            )
            .await;
        assert_eq!(out["rowsAffected"], 2);
        assert_eq!(out["rows"], json!([["a"], ["b"]]));
        assert_eq!(count(&format!("SELECT count(*) FROM {s}.t")).await, before + 2);
        let out = c.ok("execute", json!({"sql": format!("UPDATE {s}.t SET v = v || '!' WHERE v IN ('a', 'b')")})).await;
        assert_eq!(out["rowsAffected"], 2);
        let out = c.ok("execute", json!({"sql": format!("DELETE FROM {s}.t WHERE v LIKE '%!'")})).await;
        assert_eq!(out["rowsAffected"], 2);
        assert_eq!(count(&format!("SELECT count(*) FROM {s}.t")).await, before);
        // A failing write changes nothing and says why.
        let err = c.fails("execute", json!({"sql": format!("INSERT INTO {s}.t (v) VALUES (NULL)")})).await;
        assert!(err.contains("23502") && err.contains("null value"), "{err}");
    }
}

#[tokio::test]
async fn a_dry_run_reports_and_rolls_back() {
    let s = fixture("dryrun").await;
    for transport in TRANSPORTS {
        let c = start(transport, &["--allow-write"]).await;
        let result = c
            .call("execute", json!({"sql": format!("DELETE FROM {s}.t WHERE id <= 2 RETURNING id"), "dry_run": true}))
            .await;
        assert!(!result.is_error, "{}", text(&result));
        let out = result.structured_content.clone().expect("structured");
        assert_eq!(out["rowsAffected"], 2);
        assert!(out["note"].as_str().expect("note").contains("rolled back"));
        assert!(text(&result).contains("2 row(s) affected"));
        assert_eq!(count(&format!("SELECT count(*) FROM {s}.t")).await, 3);
    }
}

#[tokio::test]
async fn dml_mode_refuses_schema_changes_and_all_mode_allows_them() {
    let s = fixture("ddl").await;
    for transport in TRANSPORTS {
        let c = start(transport, &["--allow-write"]).await;
        let err = c.fails("execute", json!({"sql": format!("DROP TABLE {s}.t")})).await;
        assert!(err.contains("data changes only") && err.contains("--write-mode all"), "{err}");
        let err = c.fails("execute", json!({"sql": "COMMIT"})).await;
        assert!(err.contains("does not run COMMIT"), "{err}");
        let err = c.fails("execute", json!({"sql": format!("DELETE FROM {s}.t; DROP TABLE {s}.t")})).await;
        assert!(err.contains("exactly one"), "{err}");
        let c = start(transport, &["--allow-write", "--write-mode", "all"]).await;
        let table = format!("{s}.made_{}", transport as u8);
        c.ok("execute", json!({"sql": format!("CREATE TABLE {table} (x int)")})).await;
        assert_eq!(count(&format!("SELECT count(*) FROM pg_tables WHERE schemaname = '{s}'")).await, 2);
        c.ok("execute", json!({"sql": format!("DROP TABLE {table}")})).await;
    }
    assert_eq!(count(&format!("SELECT count(*) FROM {s}.t")).await, 3);
}

#[tokio::test]
async fn a_database_marked_read_only_is_never_written() {
    let s = fixture("rodb").await;
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("databases.toml");
    std::fs::write(
        &file,
        format!("[databases.archive]\nurl = \"{}\"\ndescription = \"old orders\"\nread_only = true\n", common::url()),
    )
    .expect("write");
    for transport in TRANSPORTS {
        let c = start(transport, &["--allow-write", "--databases-file", file.to_str().expect("path")]).await;
        let (kind, err) =
            c.fails_as("execute", json!({"sql": format!("DELETE FROM {s}.t"), "database": "archive"})).await;
        assert!(err.contains("`archive` is configured read-only"), "{err}");
        assert_eq!(kind, "refused");
        // The default database (from --database-url) is writable; with two configured, a
        // write names its database.
        c.ok("execute", json!({"sql": format!("UPDATE {s}.t SET v = v WHERE false"), "database": "default"})).await;
        let out = c.ok("query", json!({"sql": "SELECT 1", "database": "archive"})).await;
        assert_eq!(out["database"], "archive");
    }
    assert_eq!(count(&format!("SELECT count(*) FROM {s}.t")).await, 3);
}

#[tokio::test]
async fn with_several_databases_a_write_must_name_its_database() {
    let s = fixture("twodbs").await;
    let other = format!("other={}", common::url());
    for transport in TRANSPORTS {
        let c = start(transport, &["--allow-write", "--database", &other]).await;
        let delete = format!("DELETE FROM {s}.t WHERE id = 1");
        // Before, this landed silently on the first database.
        let (kind, err) = c.fails_as("execute", json!({"sql": delete})).await;
        assert!(err.contains("must name its target") && err.contains("default, other"), "{err}");
        assert_eq!(kind, "invalid_arguments");
        assert_eq!(count(&format!("SELECT count(*) FROM {s}.t")).await, 3, "unchanged");
        // A dry run is a write too; reads still default to the first database.
        c.fails_as("execute", json!({"sql": delete, "dry_run": true})).await;
        let out = c.ok("query", json!({"sql": format!("SELECT count(*) FROM {s}.t")})).await;
        assert_eq!(out["database"], "default");
        let out = c.ok("execute", json!({"sql": delete, "database": "other"})).await;
        assert_eq!((out["database"].as_str(), out["rowsAffected"].as_u64()), (Some("other"), Some(1)));
        assert_eq!(count(&format!("SELECT count(*) FROM {s}.t")).await, 2);
        setup(&format!("INSERT INTO {s}.t (id, v) VALUES (1, 'v1')")).await;
    }
}

#[tokio::test]
async fn writes_wait_for_the_users_confirmation_when_required() {
    let s = fixture("confirm").await;
    let delete = json!({"sql": format!("DELETE FROM {s}.t WHERE id = 1")});
    for transport in TRANSPORTS {
        let args = ["--allow-write", "--confirm-destructive"];
        let declined = start_with(transport, &args, confirming(false)).await;
        let err = declined.fails("execute", delete.clone()).await;
        assert!(err.contains("did not confirm"), "{err}");
        assert_eq!(count(&format!("SELECT count(*) FROM {s}.t")).await, 3);
        // A client that cannot ask is refused rather than written through.
        let unable = start(transport, &args).await;
        let err = unable.fails("execute", delete.clone()).await;
        assert!(err.contains("cannot ask"), "{err}");
        assert_eq!(count(&format!("SELECT count(*) FROM {s}.t")).await, 3);
    }
    let accepted = start_with(TRANSPORTS[0], &["--allow-write", "--confirm-destructive"], confirming(true)).await;
    assert_eq!(accepted.ok("execute", delete).await["rowsAffected"], 1);
    assert_eq!(count(&format!("SELECT count(*) FROM {s}.t")).await, 2);
}

/// Whether hypopg is there is read from the database's catalog: a database without it
/// gets the advice, one with it (`explain_summarises_the_plan`) the plan.
#[tokio::test]
async fn hypothetical_indexes_without_hypopg_say_how_to_get_it() {
    let db = format!("t_nohypopg_{}", std::process::id());
    setup(&format!("DROP DATABASE IF EXISTS {db}")).await;
    setup(&format!("CREATE DATABASE {db}")).await;
    let url = common::database_url(&db);
    let c = Launcher::new(env!("CARGO_BIN_EXE_mcp-postgres")).args(["--database-url", &url]).start(TRANSPORTS[0]).await;
    let index = json!([{"table": "pg_class", "columns": ["relname"]}]);
    let err = c.fails("explain", json!({"sql": "SELECT 1 FROM pg_class", "hypothetical_indexes": index})).await;
    assert!(err.contains("need the hypopg extension"), "{err}");
    // Without hypothetical indexes the same database explains as usual.
    c.ok("explain", json!({"sql": "SELECT 1 FROM pg_class"})).await;
    drop(c);
    setup(&format!("DROP DATABASE IF EXISTS {db} WITH (FORCE)")).await;
}

#[tokio::test]
async fn explain_summarises_the_plan() {
    let s = common::schema("explain");
    setup(&format!(
        "DROP SCHEMA IF EXISTS {s} CASCADE; CREATE SCHEMA {s};
         CREATE TABLE {s}.big (id int, k int, pad text);
         INSERT INTO {s}.big SELECT g, g % 1000, repeat('x', 20) FROM generate_series(1, 50000) g;
         ANALYZE {s}.big;
         CREATE EXTENSION IF NOT EXISTS hypopg;"
    ))
    .await;
    let sql = format!("SELECT * FROM {s}.big WHERE k = $1");
    for transport in TRANSPORTS {
        let c = start(transport, &[]).await;
        let result = c.call("explain", json!({"sql": sql, "params": [7]})).await;
        assert!(!result.is_error, "{}", text(&result));
        let out = result.structured_content.clone().expect("structured");
        assert_eq!(out["plan"][0]["Plan"]["Node Type"], "Seq Scan");
        let summary = out["summary"].to_string();
        assert!(
            summary.contains("Sequential scan of 50000 rows") && summary.contains("an index may help"),
            "{summary}"
        );
        assert!(text(&result).contains(&format!("-> Seq Scan on {s}.big")), "{}", text(&result));
        // ANALYZE of a reading statement runs, read-only.
        let out = c.ok("explain", json!({"sql": sql, "params": [7], "analyze": true})).await;
        assert_eq!(out["plan"][0]["Plan"]["Actual Rows"], 50);
        // A hypothetical index on k: the planner would use it, and nothing is built.
        let out = c
            .ok("explain", json!({"sql": sql, "params": [7], "hypothetical_indexes": [{"table": format!("{s}.big"), "columns": ["k"]}]}))
            .await;
        assert!(out["summary"].to_string().contains("hypothetical index"), "{}", out["summary"]);
        assert_eq!(count(&format!("SELECT count(*) FROM pg_indexes WHERE schemaname = '{s}'")).await, 0);
        // ANALYZE of a write needs write mode, and is rolled back.
        let (kind, err) = c.fails_as("explain", json!({"sql": format!("DELETE FROM {s}.big"), "analyze": true})).await;
        assert!(err.contains("--allow-write"), "{err}");
        assert_eq!(kind, "refused");
        let err = c.fails("explain", json!({"sql": format!("SELECT * FROM {s}.nope")})).await;
        assert!(err.contains("does not exist"), "{err}");
    }
    let c = start(TRANSPORTS[0], &["--allow-write"]).await;
    c.ok("explain", json!({"sql": format!("DELETE FROM {s}.big WHERE k = 1"), "analyze": true})).await;
    assert_eq!(count(&format!("SELECT count(*) FROM {s}.big")).await, 50000);
}
