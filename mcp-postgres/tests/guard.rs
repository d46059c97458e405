//! The function guard decides on what PostgreSQL resolved, not on spelling: each finding
//! of the attacker's battery (issue 18), reproduced as written against the real server,
//! through `query`, `explain` and `execute`. Each test asserts the effect did not happen
//! (data intact, no lock held, no setting changed), not only that an error came back.

mod common;

use common::{Connector, TRANSPORTS, admin, setup, start};
use serde_json::json;
use std::time::Duration;

/// The extensions the attacks use, created once per run (two concurrent CREATE
/// EXTENSION IF NOT EXISTS can collide).
async fn extensions() {
    static CREATED: tokio::sync::OnceCell<()> = tokio::sync::OnceCell::const_new();
    CREATED
        .get_or_init(|| setup("CREATE EXTENSION IF NOT EXISTS dblink; CREATE EXTENSION IF NOT EXISTS pageinspect;"))
        .await;
}

async fn fixture(tag: &str) -> String {
    extensions().await;
    let s = common::schema(tag);
    setup(&format!(
        "DROP SCHEMA IF EXISTS {s} CASCADE; CREATE SCHEMA {s};
         CREATE TABLE {s}.t (id int PRIMARY KEY, v text);
         INSERT INTO {s}.t SELECT g, 'v' || g FROM generate_series(1, 3) g;
         CREATE VIEW {s}.reads_a_file AS SELECT pg_read_file('PG_VERSION') AS f;
         CREATE FUNCTION {s}.file(text) RETURNS text LANGUAGE sql AS 'SELECT pg_read_file($1)';"
    ))
    .await;
    s
}

async fn count(sql: &str) -> i64 {
    let pool = admin().await;
    let n: i64 = sqlx::query_scalar(sql).fetch_one(&pool).await.unwrap_or_else(|e| panic!("{sql}: {e}"));
    pool.close().await;
    n
}

async fn assert_intact(s: &str) {
    assert_eq!(count(&format!("SELECT count(*) FROM {s}.t")).await, 3, "rows of {s}.t changed");
}

async fn advisory_locks(key: i64) -> i64 {
    count(&format!("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND objid = {key}")).await
}

async fn refused(c: &Connector, tool: &str, args: serde_json::Value) {
    let err = c.fails(tool, args.clone()).await;
    assert!(err.contains("is refused") || err.contains("refused"), "{tool} {args}\n→ {err}");
    assert!(!err.contains("PostgreSQL 1"), "{tool} {args}: the file's contents came back: {err}");
}

/// Spellings of calls the battery got through, and ones it did not try.
fn bypasses(s: &str, url: &str) -> Vec<String> {
    vec![
        r#"SELECT U&"\0070g_read_file"('PG_VERSION')"#.into(),
        r#"SELECT U&"!0070g_read_file" UESCAPE '!' ('PG_VERSION')"#.into(),
        r#"SELECT * FROM U&"\0070g_ls_dir"('.')"#.into(),
        format!(r#"SELECT U&"\0064blink_exec"('{url}', 'DELETE FROM {s}.t')"#),
        r#"SELECT U&"\0070g_terminate_backend"(pg_backend_pid())"#.into(),
        r#"SELECT U&"\006Co_import"('/etc/hostname')"#.into(),
        r#"SELECT U&"\0070g_advisory_lock"(424242)"#.into(),
        r#"SELECT U&"\0073et_config"('search_path', 'x', false)"#.into(),
        // Attribute notation: `(x).f` calls f(x).
        "SELECT ('PG_VERSION'::text).pg_read_file".into(),
        "SELECT ('.'::text).pg_ls_dir".into(),
        "SELECT (pid).pg_cancel_backend FROM pg_stat_activity WHERE pid <> pg_backend_pid()".into(),
        "SELECT (424242::bigint).pg_advisory_lock".into(),
        r#"SELECT (424242::bigint)."pg_advisory_lock""#.into(),
        r#"SELECT ('PG_VERSION'::text).U&"\0070g_read_file""#.into(),
        // Resolved only by the server: a view, an inlined SQL function.
        format!("SELECT * FROM {s}.reads_a_file"),
        format!("SELECT {s}.file('PG_VERSION')"),
        // Everywhere a statement can hold one.
        "WITH x AS (SELECT ('PG_VERSION'::text).pg_read_file AS f) SELECT * FROM x".into(),
        "SELECT * FROM (SELECT ('PG_VERSION'::text).pg_read_file) q".into(),
        "SELECT * FROM (VALUES ('.')) v(d), LATERAL (SELECT (v.d).pg_ls_dir) l".into(),
        format!("SELECT 1 FROM {s}.t WHERE (('PG_VERSION'::text).pg_read_file) IS NOT NULL"),
        format!("SELECT 1 FROM {s}.t LIMIT length(('PG_VERSION'::text).pg_read_file)"),
        "VALUES (1), (length(('PG_VERSION'::text).pg_read_file))".into(),
    ]
}

#[tokio::test]
async fn calls_are_refused_however_spelt_in_query_and_explain() {
    let s = fixture("spelt").await;
    let url = common::url();
    for transport in TRANSPORTS {
        let c = start(transport, &[]).await;
        for sql in bypasses(&s, &url) {
            refused(&c, "query", json!({ "sql": sql })).await;
            refused(&c, "query", json!({ "sql": format!("EXPLAIN ANALYZE {sql}") })).await;
            refused(&c, "explain", json!({ "sql": sql, "analyze": true })).await;
            refused(&c, "explain", json!({ "sql": sql })).await;
        }
        assert_intact(&s).await;
        assert_eq!(advisory_locks(424242).await, 0, "a session-level advisory lock was left held");
        // What stays allowed: the same shapes with harmless functions.
        let out = c
            .ok(
                "query",
                json!({"sql": format!("SELECT ('abc'::text).upper AS u, U&\"\\0075pper\"('x') AS v, \
                                      (SELECT count(*) FROM {s}.t) AS n")}),
            )
            .await;
        assert_eq!(out["rows"], json!([["ABC", "X", 3]]));
    }
}

#[tokio::test]
async fn calls_are_refused_however_spelt_in_execute() {
    let s = fixture("spelt_exec").await;
    let url = common::url();
    let c = start(TRANSPORTS[0], &["--allow-write", "--write-mode", "all"]).await;
    for sql in bypasses(&s, &url) {
        refused(&c, "execute", json!({ "sql": sql })).await;
    }
    for sql in [
        format!(r#"DELETE FROM {s}.t WHERE U&"\0070g_read_file"('PG_VERSION') IS NOT NULL"#),
        format!("DELETE FROM {s}.t WHERE length(('PG_VERSION'::text).pg_read_file) > 0"),
        format!("UPDATE {s}.t SET v = (SELECT f FROM {s}.reads_a_file)"),
        format!("INSERT INTO {s}.t SELECT 9, {s}.file('PG_VERSION')"),
        format!("INSERT INTO {s}.t VALUES (8, 'a'), (9, ('PG_VERSION'::text).pg_read_file)"),
        // DDL that runs a query: its plan is checked too.
        format!("CREATE TABLE {s}.copied AS SELECT * FROM {s}.reads_a_file"),
        format!("CREATE MATERIALIZED VIEW {s}.mv AS SELECT {s}.file('PG_VERSION')"),
    ] {
        refused(&c, "execute", json!({ "sql": sql })).await;
    }
    assert_intact(&s).await;
    assert_eq!(advisory_locks(424242).await, 0);
    assert_eq!(
        count(&format!(
            "SELECT count(*) FROM pg_class WHERE relname IN ('copied', 'mv') AND relnamespace = '{s}'::regnamespace"
        ))
        .await,
        0
    );
    // DDL without a plan still runs.
    c.ok("execute", json!({"sql": format!("CREATE TABLE {s}.plain (a int)")})).await;
}

#[tokio::test]
async fn dml_mode_never_writes_the_catalogs() {
    let s = fixture("catalog").await;
    setup(&format!("DROP ROLE IF EXISTS {s}_r; CREATE ROLE {s}_r NOSUPERUSER NOLOGIN;")).await;
    // One connection, so that what one call leaves behind is what the next one sees.
    let c = start(TRANSPORTS[0], &["--allow-write", "--pool-size", "1"]).await;
    let path_before = c.ok("query", json!({"sql": "SHOW search_path"})).await["rows"].clone();
    for sql in [
        "UPDATE pg_settings SET setting = 'x' WHERE name = 'search_path'".to_string(),
        format!("UPDATE pg_catalog.pg_class SET relname = 'renamed' WHERE oid = '{s}.t'::regclass"),
        format!("UPDATE pg_authid SET rolsuper = true WHERE rolname = '{s}_r'"),
        format!(
            "WITH x AS (UPDATE pg_catalog.pg_class SET relname = 'renamed' WHERE oid = '{s}.t'::regclass RETURNING 1) SELECT * FROM x"
        ),
        "INSERT INTO pg_catalog.pg_namespace (oid, nspname, nspowner) VALUES (99999, 'x', 10)".to_string(),
        "DELETE FROM information_schema.sql_features WHERE false".to_string(),
    ] {
        let err = c.fails("execute", json!({ "sql": sql })).await;
        assert!(err.contains("refused"), "{sql}\n→ {err}");
    }
    assert_eq!(c.ok("query", json!({"sql": "SHOW search_path"})).await["rows"], path_before);
    assert_eq!(
        count(&format!("SELECT count(*) FROM pg_class WHERE oid = '{s}.t'::regclass AND relname = 't'")).await,
        1
    );
    assert_eq!(count(&format!("SELECT count(*) FROM pg_roles WHERE rolname = '{s}_r' AND rolsuper")).await, 0);
    assert_intact(&s).await;
    // Ordinary writes still run.
    let out = c.ok("execute", json!({"sql": format!("UPDATE {s}.t SET v = v WHERE id = 1")})).await;
    assert_eq!(out["rowsAffected"], json!(1), "{out}");
}

#[tokio::test]
async fn a_writing_call_leaves_nothing_in_its_session() {
    let s = fixture("clean").await;
    let c = start(
        TRANSPORTS[0],
        &["--allow-write", "--write-mode", "all", "--pool-size", "1", "--allow-function", "pg_advisory_lock"],
    )
    .await;
    c.ok("execute", json!({"sql": "CREATE TEMP TABLE left_behind (a int)"})).await;
    c.ok("execute", json!({"sql": "SELECT pg_advisory_lock(515151)"})).await;
    // The clean-up follows the answer; the next call on the one connection waits for it.
    let err = c.fails("query", json!({"sql": "SELECT count(*) FROM left_behind"})).await;
    assert!(err.contains("does not exist"), "the temporary table outlived its call: {err}");
    assert_eq!(advisory_locks(515151).await, 0, "the session-level lock outlived its call");
    // The one connection is still usable, with its prepared statements.
    assert_eq!(c.ok("query", json!({"sql": format!("SELECT count(*) FROM {s}.t")})).await["rows"], json!([[3]]));
}

#[tokio::test]
async fn scopes_cannot_be_read_around_through_statistics_or_raw_pages() {
    let s = fixture("stats").await;
    let secret = format!("{s}_secret");
    setup(&format!(
        "DROP SCHEMA IF EXISTS {secret} CASCADE; CREATE SCHEMA {secret};
         CREATE TABLE {secret}.keys (k text); INSERT INTO {secret}.keys SELECT 'hunter' || g FROM generate_series(1, 50) g;
         ANALYZE {secret}.keys;"
    ))
    .await;
    let stats = format!("SELECT attname, histogram_bounds::text AS h FROM pg_stats WHERE schemaname = '{secret}'");
    let pages = format!("SELECT t_data FROM heap_page_items(get_raw_page('{secret}.keys', 0))");
    let ext = format!("SELECT * FROM pg_stats_ext WHERE schemaname = '{secret}'");
    // Without a policy they answer: the leak is real.
    let open = start(TRANSPORTS[0], &[]).await;
    assert!(open.ok("query", json!({ "sql": stats })).await.to_string().contains("hunter"));
    let dir = tempfile::tempdir().expect("tempdir");
    let policy = dir.path().join("policy.toml");
    std::fs::write(&policy, format!("[scopes]\ndeny_schemas = [\"{secret}\"]\n")).expect("policy");
    for transport in TRANSPORTS {
        let c = start(transport, &["--policy-file", policy.to_str().expect("path")]).await;
        for sql in [&stats, &pages, &ext, &"SELECT count(*) FROM pg_statistic".to_string()] {
            let err = c.fails("query", json!({ "sql": sql })).await;
            assert!(err.contains("access denied"), "{sql}\n→ {err}");
            assert!(!err.contains("hunter"));
        }
        // The catalogs that describe rather than hold data stay readable.
        let out = c.ok("query", json!({"sql": format!("SELECT count(*) FROM pg_class WHERE relname = 't'")})).await;
        assert!(out["rows"][0][0].as_i64().is_some_and(|n| n >= 1));
    }
}

#[tokio::test]
async fn a_role_bounds_every_call_by_the_database_s_own_grants() {
    let s = fixture("role").await;
    let role = format!("{s}_reader");
    setup(&format!(
        "DROP TABLE IF EXISTS {s}.hidden; CREATE TABLE {s}.hidden (x int); INSERT INTO {s}.hidden VALUES (1);
         DROP ROLE IF EXISTS {role}; CREATE ROLE {role} NOLOGIN;
         GRANT USAGE ON SCHEMA {s} TO {role}; GRANT SELECT ON {s}.t TO {role};"
    ))
    .await;
    // Globally, with --role.
    let c = start(TRANSPORTS[0], &["--role", &role]).await;
    assert_eq!(c.ok("query", json!({"sql": "SELECT current_user::text"})).await["rows"], json!([[role.clone()]]));
    assert_eq!(c.ok("query", json!({"sql": format!("SELECT count(*) FROM {s}.t")})).await["rows"], json!([[3]]));
    let err = c.fails("query", json!({"sql": format!("SELECT * FROM {s}.hidden")})).await;
    assert!(err.contains("permission denied"), "{err}");
    let health = c.ok("database_health", json!({"checks": ["role_privileges"]})).await;
    assert_eq!(health["checks"][0]["status"], json!("ok"), "{health}");
    // Per identity, from the policy file; the superuser's own report says so plainly.
    let dir = tempfile::tempdir().expect("tempdir");
    let policy = dir.path().join("policy.toml");
    std::fs::write(&policy, format!("[scopes]\nrole = [\"{role}\"]\n")).expect("policy");
    let c = start(TRANSPORTS[1], &["--policy-file", policy.to_str().expect("path")]).await;
    let err = c.fails("query", json!({"sql": format!("SELECT * FROM {s}.hidden")})).await;
    assert!(err.contains("permission denied"), "{err}");
    let plain = start(TRANSPORTS[0], &[]).await;
    let health = plain.ok("database_health", json!({"checks": ["role_privileges"]})).await;
    assert_eq!(health["checks"][0]["status"], json!("critical"), "{health}");
    assert!(health.to_string().contains("superuser"), "{health}");
    // A role the login cannot take is a clear error, not a silent fallback.
    let c = start(TRANSPORTS[0], &["--role", "no_such_role_here"]).await;
    let err = c.fails("query", json!({"sql": "SELECT 1"})).await;
    assert!(err.contains("cannot act as role `no_such_role_here`"), "{err}");
}

/// `name` spelt as a client may spell it; each one names the same function to the server.
fn spellings(name: &str) -> Vec<String> {
    let escaped: String = name.chars().map(|c| format!("\\{:04X}", c as u32)).collect();
    let bang: String = name.chars().map(|c| format!("!{:04x}", c as u32)).collect();
    let first_escaped = format!("\\{:04X}{}", name.as_bytes()[0], &name[1..]);
    vec![
        name.to_string(),
        name.to_uppercase(),
        format!("\"{name}\""),
        format!("pg_catalog.{name}"),
        format!("\"pg_catalog\" . \"{name}\""),
        format!("PG_CATALOG./* c */{}", name.to_uppercase()),
        format!("U&\"{escaped}\""),
        format!("u&\"{first_escaped}\""),
        format!("U&\"{bang}\" UESCAPE '!'"),
        format!("pg_catalog.U&\"{bang}\"\n  UESCAPE '!'"),
    ]
}

/// Every refused function above, in every spelling, called directly and by attribute
/// notation, in every place a statement can hold an expression, also behind views the
/// test creates: all refused, and none had an effect.
#[tokio::test]
async fn generated_spellings_of_refused_calls_are_all_refused() {
    let s = fixture("generated").await;
    let targets = [
        ("pg_read_file", "'PG_VERSION'::text"),
        ("pg_ls_dir", "'.'::text"),
        ("pg_stat_file", "'PG_VERSION'::text"),
        ("pg_advisory_lock", "717171::bigint"),
        ("pg_cancel_backend", "0"),
    ];
    let mut views = String::new();
    for (i, (name, arg)) in targets.iter().enumerate() {
        views += &format!("CREATE VIEW {s}.v{i} AS SELECT {name}({arg})::text AS x; ");
        views += &format!("CREATE VIEW {s}.w{i} AS SELECT x FROM {s}.v{i} WHERE x IS NOT NULL; ");
    }
    setup(&views).await;
    let contexts = [
        "SELECT {}",
        "SELECT ({})::text AS x",
        "SELECT * FROM (SELECT {} AS x) sub",
        "WITH c AS (SELECT {} AS x) SELECT * FROM c",
        "WITH RECURSIVE r(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM r WHERE n < 2) SELECT {} FROM r",
        "SELECT * FROM generate_series(1, 1) g, LATERAL (SELECT {} AS x) l",
        "SELECT 1 WHERE ({})::text IS NOT NULL",
        "SELECT count(*) FILTER (WHERE ({})::text IS NOT NULL) FROM generate_series(1, 2)",
        "SELECT row_number() OVER (ORDER BY ({})::text) FROM generate_series(1, 2)",
        "SELECT CASE WHEN true THEN ({})::text END",
        "SELECT 1 LIMIT length(({})::text)",
        "VALUES ('a'), (({})::text)",
        "SELECT ARRAY[({})::text]",
        "SELECT (SELECT ({})::text) AS x",
        "SELECT 1 FROM generate_series(1, 1) g GROUP BY g HAVING ({})::text IS NOT NULL",
        "TABLE {s}.t UNION ALL SELECT 0, ({})::text",
    ];
    let c = start(TRANSPORTS[0], &[]).await;
    let mut tried = 0;
    for (name, arg) in targets {
        for spelt in spellings(name) {
            for call in [format!("{spelt}({arg})"), format!("({arg}).{spelt}")] {
                for context in contexts {
                    let sql = context.replace("{s}", &s).replace("{}", &call);
                    let err = c.fails("query", json!({ "sql": sql })).await;
                    assert!(err.contains("is refused"), "{sql}\n→ {err}");
                    tried += 1;
                }
            }
            let sql = format!("SELECT * FROM {spelt}({arg}) AS f");
            assert!(c.fails("query", json!({ "sql": sql })).await.contains("is refused"), "{sql}");
            tried += 1;
        }
    }
    for i in 0..targets.len() {
        for sql in [format!("SELECT * FROM {s}.v{i}"), format!("SELECT count(*) FROM {s}.w{i}")] {
            assert!(c.fails("query", json!({ "sql": sql })).await.contains("is refused"), "{sql}");
            tried += 1;
        }
    }
    assert!(tried > 1500, "{tried} statements");
    assert_eq!(advisory_locks(717171).await, 0, "an advisory lock was taken");
    assert_intact(&s).await;
}

/// The guard costs ordinary work nothing: analytic queries of every common shape run.
#[tokio::test]
async fn ordinary_analytic_queries_are_still_allowed() {
    let s = fixture("ordinary").await;
    setup(&format!(
        "CREATE TABLE {s}.orders (id int, customer text, amount numeric, at timestamptz, doc jsonb);
         INSERT INTO {s}.orders SELECT g, 'c' || (g % 3), g * 1.5, '2026-01-01'::timestamptz + g * interval '1 day',
                jsonb_build_object('tags', jsonb_build_array('a', 'b'), 'n', g) FROM generate_series(1, 20) g;
         CREATE VIEW {s}.recent AS SELECT * FROM {s}.orders WHERE at > '2026-01-10';"
    ))
    .await;
    let c = start(TRANSPORTS[0], &[]).await;
    for sql in [
        format!("SELECT o.customer, sum(o.amount) FROM {s}.orders o JOIN {s}.t ON t.id = o.id GROUP BY 1 ORDER BY 1"),
        format!(
            "SELECT id, amount, sum(amount) OVER (PARTITION BY customer ORDER BY at ROWS BETWEEN 2 PRECEDING AND CURRENT ROW) FROM {s}.orders"
        ),
        format!("SELECT id, rank() OVER w, lag(amount) OVER w FROM {s}.orders WINDOW w AS (ORDER BY amount DESC)"),
        format!(
            "SELECT doc->'tags'->>0, doc->>'n', jsonb_array_length(doc->'tags'), doc @> '{{\"n\": 3}}' FROM {s}.orders"
        ),
        format!("SELECT * FROM {s}.orders, jsonb_array_elements_text(doc->'tags') tag WHERE tag = 'a'"),
        "SELECT g, g * g FROM generate_series(1, 10) g".to_string(),
        "SELECT d::date FROM generate_series('2026-01-01'::timestamptz, '2026-01-05', '1 day') d".to_string(),
        format!(
            "SELECT date_trunc('week', at), extract(dow FROM at), to_char(at, 'YYYY-MM'), age(at, '2025-01-01') FROM {s}.orders"
        ),
        format!(
            "SELECT customer, percentile_cont(0.5) WITHIN GROUP (ORDER BY amount) FROM {s}.orders GROUP BY customer"
        ),
        format!("WITH big AS (SELECT * FROM {s}.orders WHERE amount > 10) SELECT count(*) FROM big"),
        format!("SELECT * FROM {s}.t a, LATERAL (SELECT count(*) FROM {s}.orders o WHERE o.id <= a.id) l"),
        format!("SELECT customer, count(*) FILTER (WHERE amount > 5) FROM {s}.orders GROUP BY ROLLUP (customer)"),
        format!("SELECT upper(v), (v).upper, lower(v), length(v), substring(v FROM 2), v || '!' FROM {s}.t"),
        format!("SELECT string_agg(v, ',' ORDER BY id), array_agg(id) FROM {s}.t"),
        format!("SELECT * FROM {s}.recent ORDER BY at DESC LIMIT 3 OFFSET 1"),
        format!("SELECT coalesce(NULL, v), nullif(v, 'v1'), greatest(id, 2) FROM {s}.t"),
        format!("SELECT id FROM {s}.orders WHERE id IN (SELECT id FROM {s}.t) AND EXISTS (SELECT 1)"),
        "VALUES (1, 'a'), (2, 'b')".to_string(),
        format!("TABLE {s}.t"),
        "SELECT now() - interval '1 hour', current_date, pg_size_pretty(pg_database_size(current_database()))"
            .to_string(),
        "SELECT relname FROM pg_class WHERE relkind = 'r' ORDER BY relname LIMIT 3".to_string(),
        "SELECT $q$ pg_read_file('x') $q$ AS text_not_a_call, 'lo_import(1)' AS also".to_string(),
        "EXPLAIN SELECT 1".to_string(),
        "SHOW search_path".to_string(),
    ] {
        let result = c.call("query", json!({ "sql": sql })).await;
        assert!(!result.is_error, "{sql}\n→ {}", common::text(&result));
    }
}

/// What the server writes on stderr over one call, with `args`.
async fn stderr_of_one_call(args: &[&str]) -> String {
    // The check runs beside the first calls; give it the time of a few round trips.
    let (answer, logs) = common::one_call_with_stderr(args, &[], "SELECT 1", Duration::from_millis(500)).await;
    assert!(answer.contains("\"result\""), "{answer}");
    logs
}

#[tokio::test]
async fn start_up_says_plainly_when_the_role_can_reach_past_the_guards() {
    let s = fixture("warn").await;
    let role = format!("{s}_plain");
    setup(&format!("DROP ROLE IF EXISTS {role}; CREATE ROLE {role} NOLOGIN;")).await;
    // The test database's login is a superuser.
    let logs = stderr_of_one_call(&[]).await;
    assert!(logs.contains("powers beyond its guards") && logs.contains("superuser"), "{logs}");
    assert!(logs.contains("--role"), "the warning says how to avoid it: {logs}");
    let logs = stderr_of_one_call(&["--role", &role]).await;
    assert!(!logs.contains("powers beyond its guards"), "{logs}");
}
