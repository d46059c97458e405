//! Operations and performance tools against a real PostgreSQL over stdio and HTTP:
//! sessions, lock chains and long transactions made on purpose, settings, roles and
//! grants, pg_stat_statements, health checks that find planted problems, and index
//! advice with hypopg and without it.

mod common;

use std::time::Duration;

use common::{TRANSPORTS, setup, start, text};
use serde_json::{Value, json};
use sqlx::{Executor as _, PgPool, Row as _};

/// The values of column `name` in a tabular result.
fn column(out: &Value, name: &str) -> Vec<Value> {
    let columns = out["columns"].as_array().expect("columns");
    let i = columns.iter().position(|c| c["name"] == name).unwrap_or_else(|| panic!("no column {name}: {out}"));
    out["rows"].as_array().expect("rows").iter().map(|r| r[i].clone()).collect()
}

/// The URL of another database on the test server.
fn url_of(database: &str) -> String {
    let url = common::url();
    let (base, query) = match url.split_once('?') {
        Some((b, q)) => (b.to_string(), format!("?{q}")),
        None => (url.clone(), String::new()),
    };
    let cut = base.rfind('/').filter(|&i| i > "postgres://".len()).unwrap_or(base.len());
    format!("{}/{database}{query}", &base[..cut])
}

/// A fresh database of this test run (dropped first if a failed run left it).
async fn fresh_database(name: &str) -> String {
    let pool = common::admin().await;
    pool.execute(format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)").as_str()).await.expect("drop database");
    pool.execute(format!("CREATE DATABASE {name}").as_str()).await.expect("create database");
    pool.close().await;
    url_of(name)
}

/// pg_stat_statements and hypopg in the test database, created once per test binary
/// (CREATE EXTENSION IF NOT EXISTS can race with itself).
async fn extensions() {
    static ONCE: tokio::sync::OnceCell<()> = tokio::sync::OnceCell::const_new();
    ONCE.get_or_init(|| async {
        for attempt in 0..3 {
            let pool = common::admin().await;
            let done = pool
                .execute(sqlx::raw_sql(
                    "CREATE EXTENSION IF NOT EXISTS pg_stat_statements; CREATE EXTENSION IF NOT EXISTS hypopg;",
                ))
                .await;
            pool.close().await;
            match done {
                Ok(_) => return,
                Err(e) if attempt < 2 => {
                    eprintln!("retrying CREATE EXTENSION: {e}");
                    tokio::time::sleep(Duration::from_millis(200)).await;
                }
                Err(e) => panic!("CREATE EXTENSION: {e}"),
            }
        }
    })
    .await;
}

async fn wait_for(pool: &PgPool, sql: &str, what: &str) {
    for _ in 0..100 {
        let found: bool = sqlx::query_scalar(sql).fetch_one(pool).await.expect("poll");
        if found {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("timed out waiting for {what}");
}

#[tokio::test]
async fn sessions_locks_and_long_transactions() {
    let s = common::schema("locks");
    let tag = format!("mcp_ops_{}", std::process::id());
    setup(&format!(
        "DROP SCHEMA IF EXISTS {s} CASCADE; CREATE SCHEMA {s}; CREATE TABLE {s}.t (id int); INSERT INTO {s}.t VALUES (1);"
    ))
    .await;
    let pool = PgPoolOptions::new().max_connections(4).connect(&common::url()).await.expect("connect");
    // A transaction holding an exclusive lock, left idle in transaction.
    let mut holder = pool.acquire().await.expect("holder");
    let holder_pid: i32 = sqlx::query_scalar("SELECT pg_backend_pid()").fetch_one(&mut *holder).await.expect("pid");
    holder
        .execute(sqlx::raw_sql(&format!(
            "SET application_name = '{tag}_holder'; BEGIN; LOCK TABLE {s}.t IN ACCESS EXCLUSIVE MODE;"
        )))
        .await
        .expect("lock");
    // A statement blocked behind it, and a slow query.
    let waiter = {
        let pool = pool.clone();
        let (s, tag) = (s.clone(), tag.clone());
        tokio::spawn(async move {
            let mut c = pool.acquire().await.expect("waiter");
            c.execute(sqlx::raw_sql(&format!("SET application_name = '{tag}_waiter'"))).await.expect("name");
            c.execute(format!("SELECT count(*) FROM {s}.t").as_str()).await
        })
    };
    let sleeper = {
        let pool = pool.clone();
        let tag = tag.clone();
        tokio::spawn(async move {
            let mut c = pool.acquire().await.expect("sleeper");
            c.execute(sqlx::raw_sql(&format!("SET application_name = '{tag}_sleeper'"))).await.expect("name");
            c.execute("SELECT pg_sleep(60)").await
        })
    };
    let admin = common::admin().await;
    wait_for(
        &admin,
        &format!("SELECT count(*) = 1 FROM pg_stat_activity WHERE application_name = '{tag}_waiter' AND wait_event_type = 'Lock'"),
        "the waiter to block",
    )
    .await;
    wait_for(
        &admin,
        &format!(
            "SELECT count(*) = 1 FROM pg_stat_activity WHERE application_name = '{tag}_sleeper' AND state = 'active' \
             AND query LIKE '%pg_sleep%'"
        ),
        "the sleeper to run",
    )
    .await;
    let waiter_pid: i32 =
        sqlx::query_scalar(&format!("SELECT pid FROM pg_stat_activity WHERE application_name = '{tag}_waiter'"))
            .fetch_one(&admin)
            .await
            .expect("waiter pid");
    tokio::time::sleep(Duration::from_millis(1100)).await;

    for transport in TRANSPORTS {
        let c = start(transport, &[]).await;
        // active_queries: the running pg_sleep, with its duration; idle sessions left out.
        let out = c.ok("active_queries", json!({"min_duration_seconds": 1})).await;
        let sessions = common::records(&out);
        let sleeping = sessions
            .iter()
            .find(|r| r["application"] == format!("{tag}_sleeper"))
            .unwrap_or_else(|| panic!("the sleeper is listed: {out}"));
        assert!(sleeping["query"].as_str().expect("query").contains("pg_sleep(60)"));
        assert_eq!(sleeping["state"], "active");
        assert!(sleeping["query_seconds"].as_f64().expect("seconds") >= 1.0);
        assert!(sessions.iter().all(|r| r["state"] != "idle"), "idle sessions are left out by default");
        let blocked = sessions.iter().find(|r| r["application"] == format!("{tag}_waiter")).expect("waiter listed");
        assert_eq!(blocked["blocked_by"], json!([holder_pid]));
        let short = c.ok("active_queries", json!({"query_chars": 9, "user": "postgres"})).await;
        let row = common::records(&short)
            .into_iter()
            .find(|r| r["application"] == format!("{tag}_sleeper"))
            .expect("sleeper");
        assert_eq!(row["query"], "SELECT pg");
        assert_eq!(row["query_truncated"], true);
        let none = c.ok("active_queries", json!({"user": "nobody_at_all"})).await;
        assert_eq!(none["rowCount"], 0);
        let err = c.fails("active_queries", json!({"query_chars": 0})).await;
        assert!(err.contains("query_chars"), "{err}");
        let err = c.fails("active_queries", json!({"idle": true})).await;
        assert!(err.contains("idle"), "{err}");

        // locks: the chain holder -> waiter, with both queries.
        let out = c.ok("locks", json!({})).await;
        let edge = common::records(&out)
            .into_iter()
            .find(|r| r["blocked_pid"] == json!(waiter_pid))
            .unwrap_or_else(|| panic!("the blocked session is listed: {out}"));
        assert_eq!(edge["blocking_pid"], json!(holder_pid));
        assert_eq!(edge["root_blocking_pids"], json!([holder_pid]));
        assert_eq!(edge["blocking_state"], "idle in transaction");
        assert!(edge["blocked_query"].as_str().expect("query").contains("count(*)"));
        assert!(edge["blocking_query"].as_str().expect("query").contains("LOCK TABLE"));
        assert_eq!(edge["wanted_mode"], "AccessShareLock");
        assert_eq!(edge["blocking_holds"], "AccessExclusiveLock");
        assert!(edge["waiting_for"].as_str().expect("what").contains(&format!("{s}.t")));
        let all = c.ok("locks", json!({"all_locks": true, "limit": 500})).await;
        assert!(
            common::records(&all).iter().any(|r| r["pid"] == json!(waiter_pid) && r["granted"] == false),
            "the awaited lock is listed: {all}"
        );
        let result = c.call("locks", json!({"limit": 1})).await;
        assert!(!result.is_error);

        // long_transactions: the idle-in-transaction holder, with a note saying why it matters.
        let result = c.call("long_transactions", json!({"min_seconds": 1})).await;
        assert!(!result.is_error, "{}", text(&result));
        let out = result.structured_content.clone().expect("structured");
        let row = common::records(&out).into_iter().find(|r| r["pid"] == json!(holder_pid)).expect("holder listed");
        assert_eq!(row["state"], "idle in transaction");
        assert!(row["transaction_seconds"].as_f64().expect("seconds") >= 1.0);
        assert!(row["last_query"].as_str().expect("query").contains("LOCK TABLE"));
        assert!(text(&result).contains("idle in transaction"), "{}", text(&result));
        let out = c.ok("long_transactions", json!({"min_seconds": 86400})).await;
        assert_eq!(out["rowCount"], 0);
        let err = c.fails("long_transactions", json!({"min_seconds": -1})).await;
        assert!(err.contains("min_seconds"), "{err}");
    }

    holder.execute("ROLLBACK").await.expect("rollback");
    let waited = tokio::time::timeout(Duration::from_secs(10), waiter).await.expect("waiter ends").expect("join");
    assert!(waited.is_ok(), "the waiter runs once the lock is gone: {waited:?}");
    admin
        .execute(
            format!("SELECT pg_cancel_backend(pid) FROM pg_stat_activity WHERE application_name = '{tag}_sleeper'")
                .as_str(),
        )
        .await
        .expect("cancel");
    let _ = tokio::time::timeout(Duration::from_secs(10), sleeper).await;
    drop(holder);
    pool.close().await;
    admin.execute(format!("DROP SCHEMA {s} CASCADE").as_str()).await.expect("drop");
}

use sqlx::postgres::PgPoolOptions;

#[tokio::test]
async fn settings_roles_and_grants() {
    let s = common::schema("grants");
    let role = format!("mcp_reader_{}", std::process::id());
    let group = format!("mcp_group_{}", std::process::id());
    setup(&format!(
        "DROP SCHEMA IF EXISTS {s} CASCADE; DROP ROLE IF EXISTS {role}; DROP ROLE IF EXISTS {group};
         CREATE ROLE {group} NOLOGIN; CREATE ROLE {role} LOGIN CONNECTION LIMIT 3 IN ROLE {group};
         CREATE SCHEMA {s}; CREATE TABLE {s}.t (id int); CREATE TABLE {s}.other (id int);
         GRANT USAGE ON SCHEMA {s} TO {role};
         GRANT SELECT, INSERT ON {s}.t TO {role} WITH GRANT OPTION;
         GRANT SELECT ON {s}.other TO {group};"
    ))
    .await;
    for transport in TRANSPORTS {
        let c = start(transport, &[]).await;
        // settings: the server's value, not this call's own statement timeout.
        let out = c.ok("settings", json!({"pattern": "statement_timeout"})).await;
        let row =
            common::records(&out).into_iter().find(|r| r["name"] == "statement_timeout").expect("statement_timeout");
        assert_eq!(row["raw_value"], "0", "{out}");
        assert_eq!(row["unit"], "ms");
        assert_eq!(row["change_needs"], "SET");
        let out = c.ok("settings", json!({"pattern": "shared_buffers", "category": "memory"})).await;
        let row = &common::records(&out)[0];
        assert_eq!(row["change_needs"], "restart");
        assert!(
            row["value"].as_str().expect("value").ends_with("MB")
                || row["value"].as_str().expect("value").ends_with("kB"),
            "{row:?}"
        );
        let out = c.ok("settings", json!({"changed_only": true, "limit": 500})).await;
        let names = column(&out, "name");
        assert!(names.contains(&json!("shared_preload_libraries")), "{names:?}");
        assert!(column(&out, "source").iter().all(|s| s != "default"));
        let out = c.ok("settings", json!({"pattern": "autovacuum_*"})).await;
        assert!(!column(&out, "name").is_empty());
        assert!(column(&out, "name").iter().all(|n| n.as_str().is_some_and(|n| n.starts_with("autovacuum"))));
        let out = c.ok("settings", json!({"limit": 2})).await;
        assert_eq!(out["truncated"], true);
        assert_eq!(out["nextOffset"], 2);
        let next = c.ok("settings", json!({"limit": 2, "offset": 2})).await;
        assert_ne!(next["rows"][0], out["rows"][0]);
        let out = c.ok("settings", json!({"pattern": "no_such_setting_at_all"})).await;
        assert!(out["note"].as_str().expect("note").contains("No setting"));

        // roles: attributes and memberships.
        let out = c.ok("roles", json!({"pattern": role})).await;
        let row = common::records(&out).into_iter().find(|r| r["role"] == json!(role)).expect("role listed");
        assert_eq!(row["login"], true);
        assert_eq!(row["superuser"], false);
        assert_eq!(row["connection_limit"], 3);
        assert_eq!(row["member_of"], json!([group]));
        let out = c.ok("roles", json!({"pattern": group})).await;
        let row = common::records(&out).into_iter().find(|r| r["role"] == json!(group)).expect("group listed");
        assert_eq!(row["members"], json!([role]));
        assert_eq!(row["login"], false);
        let out = c.ok("roles", json!({})).await;
        assert!(column(&out, "role").iter().all(|r| !r.as_str().unwrap_or("").starts_with("pg_")));
        let out = c.ok("roles", json!({"include_system": true, "pattern": "pg_read_all*"})).await;
        assert!(column(&out, "role").contains(&json!("pg_read_all_stats")));

        // grants: the schema's USAGE and the table's privileges for the role.
        let out = c.ok("grants", json!({"schema": s, "role": role})).await;
        let rows = common::records(&out);
        let usage = rows.iter().find(|r| r["kind"] == "schema").expect("schema grant");
        assert_eq!(usage["privileges"], json!(["USAGE"]));
        let table = rows.iter().find(|r| r["object"] == "t").expect("table grant");
        assert_eq!(table["privileges"], json!(["INSERT", "SELECT"]));
        assert_eq!(table["grantable"], json!(["INSERT", "SELECT"]));
        assert!(rows.iter().all(|r| r["object"] != "other"), "other's grant went to the group");
        let out = c.ok("grants", json!({"table": format!("{s}.other")})).await;
        let grantees = column(&out, "grantee");
        assert!(grantees.contains(&json!(group)) && grantees.contains(&json!("postgres")), "{grantees:?}");
        let owner = common::records(&out).into_iter().find(|r| r["grantee"] == "postgres").expect("owner");
        assert_eq!(owner["grantee_is_owner"], true);
        let err = c.fails("grants", json!({"table": "a.t", "schema": "b"})).await;
        assert!(err.contains("`table`") && err.contains("schema"), "{err}");
        let out = c.ok("grants", json!({"schema": s, "role": "nobody_here"})).await;
        assert_eq!(out["rowCount"], 0);
    }
    setup(&format!("DROP SCHEMA {s} CASCADE; DROP ROLE {role}; DROP ROLE {group};")).await;
}

#[tokio::test]
async fn top_queries_rank_statements_and_say_how_to_enable_them() {
    extensions().await;
    let s = common::schema("top");
    setup(&format!(
        "DROP SCHEMA IF EXISTS {s} CASCADE; CREATE SCHEMA {s};
         CREATE TABLE {s}.w AS SELECT g AS id, g % 500 AS k FROM generate_series(1, 50000) g; ANALYZE {s}.w;"
    ))
    .await;
    let pool = common::admin().await;
    let marker = format!("SELECT count(*) FROM {s}.w WHERE k = $1");
    for i in 0..40 {
        sqlx::query(&marker).bind(i).fetch_one(&pool).await.expect("workload");
    }
    pool.close().await;
    let other = format!("mcp_ops_top_{}", std::process::id());
    let other_url = fresh_database(&other).await;
    let named = format!("other={other_url}");
    for transport in TRANSPORTS {
        let c = start(transport, &["--database", &named]).await;
        let result = c.call("top_queries", json!({"sort_by": "calls", "limit": 500, "min_calls": 40})).await;
        assert!(!result.is_error, "{}", text(&result));
        let out = result.structured_content.clone().expect("structured");
        let row = common::records(&out)
            .into_iter()
            .find(|r| r["query"].as_str().is_some_and(|q| q.contains(&format!("{s}.w"))))
            .unwrap_or_else(|| panic!("the workload statement is ranked: {out}"));
        assert!(row["calls"].as_i64().expect("calls") >= 40);
        assert!(row["total_ms"].as_f64().is_some() && row["mean_ms"].as_f64().is_some());
        assert!(row["rows_per_call"].as_f64().is_some());
        assert!(text(&result).contains("sorted by calls"), "{}", text(&result));
        let calls: Vec<i64> = column(&out, "calls").iter().filter_map(Value::as_i64).collect();
        assert!(calls.windows(2).all(|w| w[0] >= w[1]), "sorted by calls: {calls:?}");
        for sort in ["total_time", "mean_time", "rows", "shared_blks_read"] {
            let out = c.ok("top_queries", json!({"sort_by": sort, "limit": 3})).await;
            assert!(out["rowCount"].as_u64().expect("count") <= 3);
        }
        let err = c.fails("top_queries", json!({"sort_by": "speed"})).await;
        assert!(err.contains("total_time") && err.contains("mean_time"), "{err}");
        // A database without the extension: how to enable it.
        let err = c.fails("top_queries", json!({"database": "other"})).await;
        assert!(err.contains("CREATE EXTENSION pg_stat_statements") && err.contains("other"), "{err}");

        // Workload index advice reads the same statistics; placeholders are planned generically.
        let out = c.ok("index_advice", json!({"workload": true})).await;
        assert_eq!(out["method"], "hypopg");
        assert!(!out["queries"].as_array().expect("queries").is_empty());
        let err = c.fails("index_advice", json!({"workload": true, "database": "other"})).await;
        assert!(err.contains("pg_stat_statements"), "{err}");
    }
    setup(&format!("DROP SCHEMA {s} CASCADE;")).await;
    let pool = common::admin().await;
    pool.execute(format!("DROP DATABASE IF EXISTS {other} WITH (FORCE)").as_str()).await.expect("drop database");
    pool.close().await;
}

fn check<'a>(report: &'a Value, name: &str) -> &'a Value {
    report["checks"]
        .as_array()
        .expect("checks")
        .iter()
        .find(|c| c["check"] == name)
        .unwrap_or_else(|| panic!("no {name}"))
}

fn finding<'a>(check: &'a Value, key: &str, value: &str) -> Option<&'a Value> {
    check["findings"].as_array().expect("findings").iter().find(|f| f[key] == value)
}

#[tokio::test]
async fn database_health_reports_every_check_and_finds_planted_problems() {
    let s = common::schema("health");
    let slot = format!("mcp_ops_slot_{}", std::process::id());
    setup(&format!(
        "DROP SCHEMA IF EXISTS {s} CASCADE; CREATE SCHEMA {s};
         CREATE TABLE {s}.bloat (id int, pad text) WITH (autovacuum_enabled = false);
         INSERT INTO {s}.bloat SELECT g, repeat('x', 100) FROM generate_series(1, 200000) g;
         DELETE FROM {s}.bloat WHERE id % 10 <> 0;
         ANALYZE {s}.bloat;
         CREATE TABLE {s}.dup (a int, b int);
         INSERT INTO {s}.dup SELECT g, g FROM generate_series(1, 100000) g;
         CREATE INDEX dup_a ON {s}.dup (a);
         CREATE INDEX dup_ab ON {s}.dup (a, b);
         CREATE TABLE {s}.c (n int); INSERT INTO {s}.c VALUES (-1);
         ALTER TABLE {s}.c ADD CONSTRAINT c_positive CHECK (n > 0) NOT VALID;
         CREATE INDEX c_broken ON {s}.c (n);
         UPDATE pg_index SET indisvalid = false WHERE indexrelid = '{s}.c_broken'::regclass;
         CREATE SEQUENCE {s}.seq MAXVALUE 100; SELECT setval('{s}.seq', 95);
         SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE slot_name = '{slot}';
         SELECT pg_create_physical_replication_slot('{slot}');"
    ))
    .await;
    // The statistics of the DELETE reach pg_stat_user_tables shortly after.
    let admin = common::admin().await;
    wait_for(
        &admin,
        &format!("SELECT COALESCE((SELECT n_dead_tup > 100000 FROM pg_stat_user_tables WHERE relid = '{s}.bloat'::regclass), false)"),
        "dead rows to be counted",
    )
    .await;
    for transport in TRANSPORTS {
        let c = start(transport, &[]).await;
        let result = c.call("database_health", json!({"limit": 100})).await;
        assert!(!result.is_error, "{}", text(&result));
        let report = result.structured_content.clone().expect("structured");
        let checks = report["checks"].as_array().expect("checks");
        assert_eq!(checks.len(), 14, "{report}");
        for c in checks {
            assert!(["ok", "warning", "critical"].contains(&c["status"].as_str().expect("status")), "{c}");
            assert!(
                !c["summary"].as_str().expect("summary").is_empty()
                    && !c["explanation"].as_str().expect("why").is_empty()
            );
        }
        let body = text(&result);
        assert!(body.starts_with("Health of database `default`"), "{body}");
        assert!(body.contains("CRITICAL sequences:"), "status lines first: {body}");

        let bloat = check(&report, "table_bloat");
        assert_ne!(bloat["status"], "ok", "{bloat}");
        let found = finding(bloat, "table", "bloat").unwrap_or_else(|| panic!("the bloated table: {bloat}"));
        assert!(found["wasted_percent"].as_f64().expect("percent") > 50.0, "{found}");

        let vacuum = check(&report, "vacuum");
        let found = finding(vacuum, "table", "bloat").unwrap_or_else(|| panic!("the unvacuumed table: {vacuum}"));
        assert_eq!(found["severity"], "critical");
        assert!(found["reason"].as_str().expect("reason").contains("autovacuum is disabled"));

        let unused = check(&report, "unused_indexes");
        assert_eq!(unused["status"], "warning");
        assert!(finding(unused, "index", "dup_ab").is_some(), "{unused}");

        let duplicate = check(&report, "duplicate_indexes");
        let found = finding(duplicate, "index", "dup_a").unwrap_or_else(|| panic!("the duplicate: {duplicate}"));
        assert_eq!(found["covered_by"], "dup_ab");
        assert!(finding(duplicate, "index", "dup_ab").is_none(), "the wider index is kept");

        let invalid = check(&report, "invalid_indexes");
        assert!(finding(invalid, "index", "c_broken").is_some(), "{invalid}");

        let constraints = check(&report, "invalid_constraints");
        let found = finding(constraints, "constraint", "c_positive").unwrap_or_else(|| panic!("{constraints}"));
        assert!(found["fix"].as_str().expect("fix").contains("VALIDATE CONSTRAINT c_positive"));

        let sequences = check(&report, "sequences");
        assert_eq!(sequences["status"], "critical");
        let found = finding(sequences, "sequence", "seq").unwrap_or_else(|| panic!("{sequences}"));
        assert_eq!(found["percent_used"], 94.9);

        let replication = check(&report, "replication");
        assert_ne!(replication["status"], "ok");
        assert!(
            replication["findings"]
                .as_array()
                .expect("findings")
                .iter()
                .any(|f| f["name"].as_str().is_some_and(|n| n.starts_with(&slot)) && f["state"] == "inactive"),
            "{replication}"
        );
        let connections = check(&report, "connections");
        assert!(connections["findings"][0]["used"].as_i64().expect("used") >= 1);
        assert!(check(&report, "cache_hit")["findings"].as_array().expect("findings").len() == 2);

        // A subset, and a bad check name.
        let out = c.ok("database_health", json!({"checks": ["sequences", "invalid_constraints"]})).await;
        assert_eq!(out["checks"].as_array().expect("checks").len(), 2);
        let err = c.fails("database_health", json!({"checks": ["bloat"]})).await;
        assert!(err.contains("table_bloat"), "the valid names are listed: {err}");
        let err = c.fails("database_health", json!({"limit": 0})).await;
        assert!(err.contains("limit"), "{err}");
    }
    admin.execute(format!("SELECT pg_drop_replication_slot('{slot}')").as_str()).await.expect("drop slot");
    admin.execute(format!("DROP SCHEMA {s} CASCADE").as_str()).await.expect("drop");
    admin.close().await;
}

#[tokio::test]
async fn long_queries_show_in_health() {
    let pool = common::admin().await;
    let tag = format!("mcp_ops_long_{}", std::process::id());
    let sleeper = {
        let pool = pool.clone();
        let tag = tag.clone();
        tokio::spawn(async move {
            let mut c = pool.acquire().await.expect("sleeper");
            c.execute(sqlx::raw_sql(&format!("SET application_name = '{tag}'"))).await.expect("name");
            c.execute("SELECT pg_sleep(30)").await
        })
    };
    wait_for(
        &pool,
        &format!("SELECT count(*) = 1 FROM pg_stat_activity WHERE application_name = '{tag}' AND state = 'active'"),
        "the sleeper",
    )
    .await;
    let pid: i32 = sqlx::query(&format!("SELECT pid FROM pg_stat_activity WHERE application_name = '{tag}'"))
        .fetch_one(&pool)
        .await
        .expect("pid")
        .get(0);
    tokio::time::sleep(Duration::from_millis(1200)).await;
    for transport in TRANSPORTS {
        let c = start(transport, &[]).await;
        let out = c
            .ok("database_health", json!({"checks": ["long_running_queries"], "long_running_seconds": 1, "limit": 100}))
            .await;
        let long = check(&out, "long_running_queries");
        assert_ne!(long["status"], "ok");
        assert!(long["findings"].as_array().expect("findings").iter().any(|f| f["pid"] == json!(pid)), "{long}");
    }
    pool.execute(format!("SELECT pg_cancel_backend({pid})").as_str()).await.expect("cancel");
    let _ = tokio::time::timeout(Duration::from_secs(10), sleeper).await;
    pool.close().await;
}

#[tokio::test]
async fn index_advice_verifies_with_hypopg_and_falls_back_to_heuristics() {
    extensions().await;
    let s = common::schema("advice");
    let table = |s: &str| {
        format!(
            "DROP SCHEMA IF EXISTS {s} CASCADE; CREATE SCHEMA {s};
             CREATE TABLE {s}.orders AS
               SELECT g AS id, g % 5000 AS customer_id, (ARRAY['new', 'paid', 'sent'])[g % 3 + 1] AS status,
                      now() - make_interval(secs => g) AS created_at
               FROM generate_series(1, 50000) g;
             CREATE TABLE {s}.customers AS SELECT g AS id, 'c' || g AS name FROM generate_series(1, 5000) g;
             ANALYZE {s}.orders; ANALYZE {s}.customers;"
        )
    };
    setup(&table(&s)).await;
    // A database without hypopg, for the heuristic path.
    let other = format!("mcp_ops_adv_{}", std::process::id());
    let other_url = fresh_database(&other).await;
    let pool = PgPoolOptions::new().max_connections(1).connect(&other_url).await.expect("connect other");
    pool.execute(sqlx::raw_sql(&table(&s))).await.expect("other setup");
    pool.close().await;
    let named = format!("other={other_url}");
    let filtered = format!("SELECT * FROM {s}.orders WHERE customer_id = 42");
    for transport in TRANSPORTS {
        // One connection, so that `query` sees the session the advisor used.
        let c = start(transport, &["--pool-size", "1", "--database", &named]).await;
        let result = c.call("index_advice", json!({"queries": [filtered]})).await;
        assert!(!result.is_error, "{}", text(&result));
        let out = result.structured_content.clone().expect("structured");
        assert_eq!(out["method"], "hypopg", "{out}");
        let best = &out["recommendations"][0];
        assert_eq!(best["columns"], json!(["customer_id"]), "{out}");
        assert_eq!(best["create_statement"], format!("CREATE INDEX CONCURRENTLY ON {s}.orders (customer_id)"));
        assert_eq!(best["used_by_planner"], true);
        assert!(best["estimated_size_bytes"].as_i64().expect("size") > 0);
        let (before, after) =
            (out["total_cost_before"].as_f64().expect("before"), out["total_cost_after"].as_f64().expect("after"));
        assert!(after < before / 10.0, "{before} -> {after}");
        assert!(text(&result).starts_with("Recommended 1 index(es), verified with hypopg"), "{}", text(&result));
        // Nothing is left in the session: no hypothetical index, no prepared statement.
        let left = c
            .ok(
                "query",
                json!({"sql": "SELECT (SELECT count(*) FROM hypopg_list_indexes) + \
                              (SELECT count(*) FROM pg_prepared_statements WHERE name LIKE 'mcp_advice%') AS n"}),
            )
            .await;
        assert_eq!(left["rows"][0], json!([0]), "{left}");

        // Joins, sorts and placeholders; several queries at once.
        let out = c
            .ok(
                "index_advice",
                json!({"queries": [
                    format!("SELECT o.id, c.name FROM {s}.orders o JOIN {s}.customers c ON c.id = o.customer_id WHERE c.name = 'c7'"),
                    format!("SELECT id FROM {s}.orders WHERE status = $1 AND created_at > $2 ORDER BY created_at LIMIT 10"),
                    filtered.clone(),
                ]}),
            )
            .await;
        assert_eq!(out["queries"].as_array().expect("queries").len(), 3);
        assert!(!out["recommendations"].as_array().expect("recs").is_empty(), "{out}");
        assert!(out["total_cost_after"].as_f64().expect("after") < out["total_cost_before"].as_f64().expect("before"));
        assert!(
            out["candidates"].as_array().expect("candidates").len()
                >= out["recommendations"].as_array().expect("r").len()
        );

        // An already indexed query: nothing to recommend.
        let out = c.ok("index_advice", json!({"queries": ["SELECT 1"]})).await;
        assert_eq!(out["recommendations"], json!([]));

        // Without hypopg: the same candidate, labelled a heuristic.
        let result = c.call("index_advice", json!({"queries": [filtered], "database": "other"})).await;
        assert!(!result.is_error, "{}", text(&result));
        let out = result.structured_content.clone().expect("structured");
        assert_eq!(out["method"], "heuristic");
        assert_eq!(out["recommendations"][0]["columns"], json!(["customer_id"]), "{out}");
        assert_eq!(out["recommendations"][0]["verdict"], "heuristic");
        assert!(text(&result).starts_with("HEURISTIC, not verified"), "{}", text(&result));
        assert!(text(&result).contains("CREATE EXTENSION hypopg"), "{}", text(&result));

        // Bad arguments.
        let err = c.fails("index_advice", json!({})).await;
        assert!(err.contains("`queries`") && err.contains("workload"), "{err}");
        let err = c.fails("index_advice", json!({"queries": [format!("DROP TABLE {s}.orders")]})).await;
        assert!(err.contains("queries[0]"), "{err}");
        let err = c.fails("index_advice", json!({"queries": vec!["SELECT 1"; 11]})).await;
        assert!(err.contains("at most 10"), "{err}");
        let err = c.fails("index_advice", json!({"queries": [format!("SELECT * FROM {s}.missing")]})).await;
        assert!(err.contains("queries[0]") && err.contains("does not exist"), "{err}");
        // The failed plan left the session clean too.
        let left = c
            .ok("query", json!({"sql": "SELECT count(*) FROM pg_prepared_statements WHERE name LIKE 'mcp_advice%'"}))
            .await;
        assert_eq!(left["rows"][0], json!([0]));
    }
    setup(&format!("DROP SCHEMA {s} CASCADE;")).await;
    let pool = common::admin().await;
    pool.execute(format!("DROP DATABASE IF EXISTS {other} WITH (FORCE)").as_str()).await.expect("drop database");
    pool.close().await;
}
