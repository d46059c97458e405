//! Tools an operator defines in a file (`--tools-file`): typed parameters bound, never
//! interpolated; the same guard as `query` at load; the write tier; the policy; reload on
//! SIGHUP.

mod common;

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::{TRANSPORTS, Transport, confirming, launcher, records, setup, start, start_with};
use mcp_core::client::{ClientOptions, EraChoice, NotificationHandler};
use serde_json::{Value, json};

fn example() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/tools.toml")
}

/// Writes `text` as a tools file in `dir`.
fn tools_file(dir: &tempfile::TempDir, name: &str, text: &str) -> String {
    let path = dir.path().join(name);
    std::fs::write(&path, text).expect("write the tools file");
    path.to_str().expect("path").to_string()
}

async fn count(sql: &str) -> i64 {
    let pool = common::admin().await;
    let n: i64 = sqlx::query_scalar(sql).fetch_one(&pool).await.expect("count");
    pool.close().await;
    n
}

/// The example file's tables: one fixture, so the tests using it take turns.
static SHOP: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

async fn shop() -> tokio::sync::MutexGuard<'static, ()> {
    let turn = SHOP.lock().await;
    setup(
        "CREATE SCHEMA IF NOT EXISTS shop; DROP TABLE IF EXISTS shop.orders;
         CREATE TABLE shop.orders (id int PRIMARY KEY, customer text, status text, total numeric, placed_on date);
         INSERT INTO shop.orders VALUES (1, 'ann', 'paid', 10.5, '2026-01-02'), (2, 'bob', 'shipped', 20, '2026-01-03'),
           (3, 'ann', 'paid', 7, '2025-12-30'), (4, 'cy''s', 'paid', 1, '2026-01-04');",
    )
    .await;
    turn
}

#[tokio::test]
async fn the_example_file_loads_and_its_tools_run_with_defaults_enums_and_arrays() {
    let _turn = shop().await;
    let path = example();
    let path = path.to_str().expect("path");
    for transport in TRANSPORTS {
        let c = start(transport, &["--tools-file", path]).await;
        let names = c.tool_names().await;
        assert!(names.contains(&"orders_by_status".to_string()) && names.contains(&"query".to_string()), "{names:?}");
        // The write tool needs --allow-write.
        assert!(!names.contains(&"cancel_order".to_string()), "{names:?}");
        let tools = c.client.list_tools().await.expect("list");
        let by_status = tools.iter().find(|t| t.name == "orders_by_status").expect("listed");
        let status = &by_status.input_schema["properties"]["status"];
        assert_eq!((&status["default"], &status["enum"]), (&json!("paid"), &json!(["paid", "shipped", "cancelled"])));
        assert_eq!(by_status.annotations.as_ref().and_then(|a| a.read_only_hint), Some(true));
        // Defaults fill what is not given.
        let out = c.ok("orders_by_status", json!({})).await;
        let ids: Vec<Value> = records(&out).iter().map(|r| r["id"].clone()).collect();
        assert_eq!(ids, [json!(4), json!(1), json!(3)]);
        let out = c.ok("orders_by_status", json!({"status": "paid", "since": "2026-01-01"})).await;
        assert_eq!(out["rows"].as_array().map(Vec::len), Some(2));
        // An enum member only; the error names the parameter.
        let (kind, err) = c.fails_as("orders_by_status", json!({"status": "lost"})).await;
        assert_eq!(kind, "invalid_arguments");
        assert!(err.contains("`status`") && err.contains("\"lost\" is not one of"), "{err}");
        let out = c.ok("orders_of_customers", json!({"customers": ["ann", "cy's"]})).await;
        assert_eq!(out["rows"], json!([[1, "ann", "10.5"], [3, "ann", "7"], [4, "cy's", "1"]]));
        // --toolsets selects the file's toolset by name.
        let only = start(transport, &["--tools-file", path, "--toolsets", "sales"]).await;
        assert_eq!(only.tool_names().await, ["orders_by_status", "orders_of_customers"]);
    }
}

/// A tool with one parameter of every type, `b` with a default.
fn typed_file() -> String {
    let mut file = String::from(
        "[[tools]]\nname = \"typed\"\ndescription = \"Echoes one argument of every type\"\nstatement = \"SELECT $1 AS t, \
         $2 + 1 AS i, $3 * 2 AS n, NOT $4 AS b, $5 + 1 AS d, $6 AS ts, $7 AS tz, $8 AS u, $9 -> 'k' AS j, \
         cardinality($10) AS len, $10 AS arr\"\n",
    );
    let params = [
        ("t", "text"),
        ("i", "integer"),
        ("n", "numeric"),
        ("b", "boolean"),
        ("d", "date"),
        ("ts", "timestamp"),
        ("tz", "timestamptz"),
        ("u", "uuid"),
        ("j", "json"),
        ("arr", "integer[]"),
    ];
    for (name, ty) in params {
        let default = if name == "b" { "default = true\n" } else { "" };
        file += &format!("[[tools.parameters]]\nname = \"{name}\"\ntype = \"{ty}\"\ndescription = \"{ty}\"\n{default}");
    }
    file
}

#[tokio::test]
async fn every_declared_type_binds_and_a_bad_argument_names_its_parameter() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = tools_file(&dir, "typed.toml", &typed_file());
    let good = json!({
        "t": "x", "i": 41, "n": "1.25", "d": "2026-02-28", "ts": "2026-01-02T03:04:05",
        "tz": "2026-01-02T03:04:05+02:00", "u": "6f1c6d0e-6a1e-4c36-9f0e-3c1a2b3d4e5f", "j": {"k": [1, 2]}, "arr": [3, 4, 5]
    });
    for transport in TRANSPORTS {
        let c = start(transport, &["--tools-file", &path]).await;
        let out = c.ok("typed", good.clone()).await;
        let row = &records(&out)[0];
        assert_eq!(row["t"], "x");
        assert_eq!(row["i"], 42);
        assert_eq!(row["n"], "2.50");
        assert_eq!(row["b"], false, "the default true, negated");
        assert_eq!(row["d"], "2026-03-01");
        assert_eq!(row["ts"], "2026-01-02T03:04:05");
        assert_eq!(row["tz"], "2026-01-02T01:04:05Z");
        assert_eq!(row["u"], "6f1c6d0e-6a1e-4c36-9f0e-3c1a2b3d4e5f");
        assert_eq!(row["j"], json!([1, 2]));
        assert_eq!((&row["len"], &row["arr"]), (&json!(3), &json!([3, 4, 5])));
        // The declared types are the statement's: int8, numeric, jsonb.
        let types: Vec<&str> =
            out["columns"].as_array().expect("columns").iter().filter_map(|c| c["type"].as_str()).collect();
        assert_eq!(&types[1..3], ["int8", "numeric"], "{types:?}");
        for (name, bad, expected) in [
            ("i", json!("41"), "expected an integer, got the string \"41\""),
            ("i", json!(1.5), "expected an integer"),
            ("n", json!("lots"), "not a decimal number"),
            ("b", json!("yes"), "expected true or false"),
            ("d", json!("2026-02-30"), "expected YYYY-MM-DD"),
            ("tz", json!("2026-01-02 03:04"), "RFC 3339"),
            ("u", json!("12345"), "not a UUID"),
            ("arr", json!([1, "two"]), "item 1: expected an integer"),
            ("arr", json!(7), "expected an array"),
        ] {
            let mut args = good.clone();
            args[name] = bad;
            let (kind, err) = c.fails_as("typed", args).await;
            assert_eq!(kind, "invalid_arguments", "{name}: {err}");
            assert!(err.contains(&format!("`{name}`")) && err.contains(expected), "{name}: {err}");
        }
        let mut missing = good.clone();
        missing.as_object_mut().expect("object").remove("t");
        assert!(c.fails("typed", missing).await.contains("`t` is required"));
        let mut unknown = good.clone();
        unknown["sql"] = json!("select 1");
        assert!(c.fails("typed", unknown).await.contains("unknown argument `sql`"));
    }
}

#[tokio::test]
async fn an_injection_through_a_parameter_stays_data() {
    let s = common::schema("inject");
    setup(&format!(
        "DROP SCHEMA IF EXISTS {s} CASCADE; CREATE SCHEMA {s}; CREATE TABLE {s}.people (name text);
         INSERT INTO {s}.people VALUES ('ann'), ('bob');"
    ))
    .await;
    let dir = tempfile::tempdir().expect("tempdir");
    let file = format!(
        "[[tools]]\nname = \"person\"\ndescription = \"One person\"\nstatement = \"SELECT name FROM {s}.people WHERE name = $1\"\n\
         [[tools.parameters]]\nname = \"name\"\ntype = \"text\"\ndescription = \"Their name\"\n"
    );
    let path = tools_file(&dir, "inject.toml", &file);
    let c = start(TRANSPORTS[0], &["--tools-file", &path]).await;
    for attack in ["x' OR '1'='1", "'; DROP TABLE people; --", "ann' --"] {
        let out = c.ok("person", json!({"name": attack})).await;
        assert_eq!(out["rows"], json!([]), "{attack}");
    }
    assert_eq!(c.ok("person", json!({"name": "ann"})).await["rows"], json!([["ann"]]));
    assert_eq!(count(&format!("SELECT count(*) FROM {s}.people")).await, 2);
}

/// Runs the connector with `file` to its exit: it must fail, saying `expected`.
async fn refused_at_start(dir: &tempfile::TempDir, file: &str, expected: &[&str]) {
    let path = tools_file(dir, "bad.toml", file);
    let (ok, stderr) = launcher().args(["--tools-file", &path]).run_to_exit().await;
    assert!(!ok, "started with {file}");
    for e in expected {
        assert!(stderr.contains(e), "{e:?} not in: {stderr}");
    }
    assert!(stderr.contains(&path), "{stderr}");
}

#[tokio::test]
async fn a_bad_tools_file_stops_the_start_naming_the_tool_and_its_line() {
    let dir = tempfile::tempdir().expect("tempdir");
    let ok = "[[tools]]\nname = \"fine\"\ndescription = \"d\"\nstatement = \"SELECT 1\"\n\n";
    refused_at_start(
        &dir,
        &format!("{ok}[[tools]]\nname = \"two\"\ndescription = \"d\"\nstatement = \"SELECT 1; DROP TABLE t\"\n"),
        &["line 6, tool `two`", "exactly one SQL statement"],
    )
    .await;
    refused_at_start(
        &dir,
        &format!("{ok}\n[[tools]]\nname = \"files\"\ndescription = \"d\"\nstatement = \"SELECT pg_read_file('/etc/passwd')\"\n"),
        &["line 7, tool `files`", "`pg_read_file` is refused"],
    )
    .await;
    refused_at_start(
        &dir,
        "[[tools]]\nname = \"query\"\ndescription = \"d\"\nstatement = \"SELECT 1\"\n",
        &["line 1, tool `query`", "built-in tool"],
    )
    .await;
    // `execute` is not listed without --allow-write, and its name is still taken.
    refused_at_start(
        &dir,
        "[[tools]]\nname = \"execute\"\ndescription = \"d\"\nstatement = \"SELECT 1\"\n",
        &["tool `execute`", "built-in tool"],
    )
    .await;
    refused_at_start(
        &dir,
        "[[tools]]\nname = \"w\"\ndescription = \"d\"\nstatement = \"DELETE FROM t\"\n",
        &["tool `w`", "`query` runs only reading statements"],
    )
    .await;
    refused_at_start(
        &dir,
        "[[tools]]\nname = \"p\"\ndescription = \"d\"\nstatement = \"SELECT $1, $2\"\n[[tools.parameters]]\nname = \"a\"\n\
         type = \"text\"\ndescription = \"a\"\n",
        &["tool `p`", "$2", "1 parameter is declared"],
    )
    .await;
    refused_at_start(
        &dir,
        "[[tools]]\nname = \"p\"\ndescription = \"d\"\nstatement = \"SELECT $1\"\n[[tools.parameters]]\nname = \"a\"\n\
         type = \"int\"\ndescription = \"a\"\ndefault = 1\n",
        &["tool `p`", "parameter 1", "unknown type `int`"],
    )
    .await;
    refused_at_start(
        &dir,
        "[[tools]]\nname = \"e\"\ndescription = \"d\"\nstatement = \"EXPLAIN SELECT 1\"\n",
        &["tool `e`", "EXPLAIN is the `explain` tool's"],
    )
    .await;
    // With writes enabled and two databases, a write tool must name its database.
    let write = "[[tools]]\nname = \"w\"\ndescription = \"d\"\nstatement = \"DELETE FROM t\"\nwrite = true\n";
    let path = tools_file(&dir, "write.toml", write);
    let other = format!("other={}", common::url());
    let (ok, stderr) =
        launcher().args(["--tools-file", &path, "--allow-write", "--database", &other]).run_to_exit().await;
    assert!(!ok && stderr.contains("tool `w`: a write tool: `database`: several are configured"), "{stderr}");
    refused_at_start(&dir, "[[tools]]\nname = \"x\"\ndescripton = \"d\"\nstatement = \"SELECT 1\"\n", &["descripton"])
        .await;
}

#[tokio::test]
async fn a_write_tool_needs_allow_write_and_waits_for_confirmation() {
    let _turn = shop().await;
    let path = example();
    let path = path.to_str().expect("path");
    let paid = "SELECT count(*) FROM shop.orders WHERE status = 'paid'";
    let without = start(TRANSPORTS[0], &["--tools-file", path]).await;
    let err = without.client.call_tool("cancel_order", json!({"order_id": 1})).await.expect_err("not listed");
    assert!(err.to_string().contains("Unknown tool: \"cancel_order\""), "{err}");
    assert_eq!(count(paid).await, 3);
    let with = ["--tools-file", path, "--allow-write", "--confirm-destructive"];
    let declined = start_with(TRANSPORTS[0], &with, confirming(false)).await;
    let tools = declined.client.list_tools().await.expect("list");
    let cancel = tools.iter().find(|t| t.name == "cancel_order").expect("listed with --allow-write");
    assert_eq!(cancel.annotations.as_ref().and_then(|a| a.destructive_hint), Some(true));
    assert!(declined.fails("cancel_order", json!({"order_id": 1})).await.contains("did not confirm"));
    assert_eq!(count(paid).await, 3);
    let accepted = start_with(TRANSPORTS[0], &with, confirming(true)).await;
    let out = accepted.ok("cancel_order", json!({"order_id": 1})).await;
    assert_eq!((&out["rowsAffected"], &out["rows"]), (&json!(1), &json!([[1, "cancelled"]])));
    assert_eq!(count(paid).await, 2);
    // A bad argument type never reaches the database.
    let (kind, err) = accepted.fails_as("cancel_order", json!({"order_id": "1 OR true"})).await;
    assert_eq!(kind, "invalid_arguments");
    assert!(err.contains("`order_id`"), "{err}");
    assert_eq!(count(paid).await, 2);
}

#[tokio::test]
async fn the_policy_denies_a_custom_tool_like_any_other() {
    let _turn = shop().await;
    let dir = tempfile::tempdir().expect("tempdir");
    let policy = dir.path().join("policy.toml");
    std::fs::write(&policy, "deny_tools = [\"orders_by_*\"]\n").expect("policy");
    let path = example();
    let args = ["--tools-file", path.to_str().expect("path"), "--policy-file", policy.to_str().expect("path")];
    let c = start(TRANSPORTS[0], &args).await;
    let names = c.tool_names().await;
    assert!(!names.contains(&"orders_by_status".to_string()), "{names:?}");
    assert!(names.contains(&"orders_of_customers".to_string()), "{names:?}");
    let err = c.client.call_tool("orders_by_status", json!({})).await.expect_err("denied");
    assert!(err.to_string().contains("orders_by_status"), "{err}");
}

#[tokio::test]
async fn sighup_reloads_a_valid_file_and_keeps_the_tools_of_an_invalid_one() {
    let dir = tempfile::tempdir().expect("tempdir");
    let one = "[[tools]]\nname = \"first\"\ndescription = \"d\"\nstatement = \"SELECT 1 AS one\"\n";
    let path = tools_file(&dir, "tools.toml", one);
    let seen: Arc<Mutex<Vec<String>>> = Arc::default();
    let sink = seen.clone();
    let handler: NotificationHandler = Arc::new(move |n| sink.lock().expect("lock").push(n.method));
    let options = ClientOptions { era: EraChoice::Handshake, on_notification: Some(handler), ..Default::default() };
    let c = start_with(Transport::Http, &["--tools-file", &path], options).await;
    let pid = c.pid().expect("an HTTP server has a pid").to_string();
    let hangup = || {
        let status = std::process::Command::new("kill").args(["-HUP", &pid]).status().expect("kill");
        assert!(status.success());
    };
    let list_changes =
        || seen.lock().expect("lock").iter().filter(|m| *m == "notifications/tools/list_changed").count();
    assert!(c.tool_names().await.contains(&"first".to_string()));
    // A valid new file: the tools are swapped and the client is told.
    let two = "[[tools]]\nname = \"second\"\ndescription = \"d\"\nstatement = \"SELECT 2 AS two\"\n";
    std::fs::write(&path, two).expect("rewrite");
    hangup();
    let started = Instant::now();
    while list_changes() == 0 && started.elapsed() < Duration::from_secs(10) {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(list_changes(), 1);
    let names = c.tool_names().await;
    assert!(names.contains(&"second".to_string()) && !names.contains(&"first".to_string()), "{names:?}");
    assert_eq!(c.ok("second", json!({})).await["rows"], json!([[2]]));
    // An invalid file: the server stays up with the tools it had, and says nothing changed.
    std::fs::write(&path, "[[tools]]\nname = \"bad\"\ndescription = \"d\"\nstatement = \"SELECT 1; SELECT 2\"\n")
        .expect("rewrite");
    hangup();
    tokio::time::sleep(Duration::from_millis(700)).await;
    assert_eq!(c.ok("second", json!({})).await["rows"], json!([[2]]));
    assert!(!c.tool_names().await.contains(&"bad".to_string()));
    assert_eq!(list_changes(), 1);
}
