//! `query` against a real PostgreSQL over stdio and HTTP: typed values, parameters,
//! truncation and paging, errors that say what went wrong.

mod common;

use common::{TRANSPORTS, setup, start, text};
use serde_json::json;

#[tokio::test]
async fn every_type_maps_to_typed_json() {
    let s = common::schema("types");
    setup(&format!(
        "DROP SCHEMA IF EXISTS {s} CASCADE; CREATE SCHEMA {s};
         CREATE TYPE {s}.mood AS ENUM ('sad', 'happy');
         CREATE TABLE {s}.v (
           b bool, i2 int2, i4 int4, i8 int8, f4 float4, f8 float8, n numeric(12,2), m money,
           t text, vc varchar(5), c char(3), j json, jb jsonb, u uuid, by bytea,
           d date, tm time, ts timestamp, tz timestamptz, iv interval, ip inet, mac macaddr,
           bits bit(4), ia int4[], ta text[], r int4range, e {s}.mood, x xml, nul text);
         INSERT INTO {s}.v VALUES (
           true, -2, 4, 9007199254740993, 1.5, 2.25, 12345.60, 12.34,
           'tab\there', 'abc', 'xy', '{{\"a\":[1,2]}}', '{{\"b\":null}}', 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11', '\\x00ff',
           '2024-02-29', '13:45:01.5', '2024-02-29 13:45:01.123456', '2024-02-29 13:45:01+02', '1 year 2 mons 3 days 04:05:06.5',
           '10.1.2.3/32', '08:00:2b:01:02:03', B'1010', ARRAY[1,NULL,3], ARRAY['a','b c'], '[1,5)', 'happy', '<a>x</a>', NULL);"
    ))
    .await;
    for transport in TRANSPORTS {
        let c = start(transport, &[]).await;
        let out = c.ok("query", json!({"sql": format!("SELECT * FROM {s}.v")})).await;
        let row = &out["rows"][0];
        let expected = json!([
            true, -2, 4, 9007199254740993_i64, 1.5, 2.25, "12345.60", "12.34",
            "tab\there", "abc", "xy ", {"a": [1, 2]}, {"b": null}, "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11", "AP8=",
            "2024-02-29", "13:45:01.500", "2024-02-29T13:45:01.123456", "2024-02-29T11:45:01Z", "P1Y2M3DT4H5M6.5S",
            "10.1.2.3/32", "08:00:2b:01:02:03", "1010", [1, null, 3], ["a", "b c"], "[1,5)", "happy", "<a>x</a>", null
        ]);
        for (i, (got, want)) in row.as_array().expect("row").iter().zip(expected.as_array().expect("row")).enumerate() {
            assert_eq!(
                got, want,
                "column {} ({}) over {transport:?}",
                out["columns"][i]["name"], out["columns"][i]["type"]
            );
        }
        assert_eq!(out["columns"][6], json!({"name": "n", "type": "numeric"}));
        assert_eq!(out["columns"][23], json!({"name": "ia", "type": "int4[]"}));
        // The text is a TSV table with COPY-style escapes and \N for NULL.
        let result = c.call("query", json!({"sql": format!("SELECT t, nul, i4 FROM {s}.v")})).await;
        assert_eq!(text(&result), "t\tnul\ti4\ntab\\there\t\\N\t4\n(1 row)\n");
    }
}

#[tokio::test]
async fn values_without_a_binary_form_come_as_psql_prints_them() {
    let s = common::schema("as_text");
    // A cast to text that fails: the connector must not call it (the type's output
    // function prints the value), or the read would fail with its message.
    setup(&format!(
        "DROP SCHEMA IF EXISTS {s} CASCADE; CREATE SCHEMA {s};
         CREATE TYPE {s}.pair AS (a int, b text);
         CREATE TYPE {s}.mood AS ENUM ('sad', 'happy');
         CREATE FUNCTION {s}.pair_text({s}.pair) RETURNS text LANGUAGE plpgsql AS
           $$ BEGIN RAISE EXCEPTION 'the cast to text ran'; END $$;
         CREATE CAST ({s}.pair AS text) WITH FUNCTION {s}.pair_text({s}.pair);
         CREATE TABLE {s}.t (id int, p point, pr {s}.pair, moods {s}.mood[]);
         INSERT INTO {s}.t VALUES (1, '(1,2)', '(7,\"x y\")', '{{sad,happy}}'), (2, NULL, NULL, NULL);"
    ))
    .await;
    for transport in TRANSPORTS {
        let c = start(transport, &[]).await;
        let sql = format!("SELECT * FROM {s}.t ORDER BY id");
        let out = c.ok("query", json!({"sql": sql})).await;
        assert_eq!(out["rows"], json!([[1, "(1,2)", "(7,\"x y\")", "{sad,happy}"], [2, null, null, null]]));
        let types: Vec<String> = out["columns"]
            .as_array()
            .expect("columns")
            .iter()
            .filter_map(|c| c["type"].as_str().map(String::from))
            .collect();
        assert_eq!(
            types,
            ["int4".into(), "point".into(), format!("{s}.pair"), format!("{s}.mood[]")],
            "their own types"
        );
        // Again, under the plan verdict the first read kept: the same answer.
        assert_eq!(c.ok("query", json!({"sql": sql})).await["rows"], out["rows"]);
        // aclitem has no binary form at all: asked for in binary, the server refuses.
        let acl = "SELECT relname, relacl, to_tsvector('simple', 'two words') AS words FROM pg_catalog.pg_class \
                   WHERE relname = 'pg_class'";
        let out = c.ok("query", json!({"sql": acl})).await;
        let row = out["rows"][0].as_array().expect("a row");
        assert_eq!(row[0], "pg_class");
        assert!(row[1].as_str().is_some_and(|a| a.starts_with('{') && a.contains("=r/")), "{}", row[1]);
        assert_eq!(row[2], "'two':1 'words':2");
        let result = c.call("query", json!({"sql": format!("SELECT p FROM {s}.t ORDER BY id")})).await;
        assert_eq!(text(&result), "p\n(1,2)\n\\N\n(2 rows)\n");
    }
}

#[tokio::test]
async fn a_table_that_changed_shape_is_read_as_it_is_now() {
    let s = common::schema("reshaped");
    setup(&format!("DROP SCHEMA IF EXISTS {s} CASCADE; CREATE SCHEMA {s}; CREATE TABLE {s}.t (id int, x int); INSERT INTO {s}.t VALUES (1, 2);")).await;
    // One connection: the one that prepared the statement before the change reads after it.
    let c = start(common::Transport::Stdio, &["--pool-size", "1", "--allow-write"]).await;
    let read = json!({"sql": format!("SELECT * FROM {s}.t")});
    let write = json!({"sql": format!("UPDATE {s}.t SET id = id RETURNING *")});
    assert_eq!(c.ok("query", read.clone()).await["rows"], json!([[1, 2]]));
    assert_eq!(c.ok("query", read.clone()).await["rows"], json!([[1, 2]]));
    setup(&format!("ALTER TABLE {s}.t ALTER COLUMN x TYPE text")).await;
    assert_eq!(c.ok("query", read.clone()).await["rows"], json!([[1, "2"]]));
    // A column read as text, then gone: the text form kept from before is outdated too.
    setup(&format!("ALTER TABLE {s}.t ADD COLUMN p point")).await;
    assert_eq!(c.ok("query", read.clone()).await["rows"], json!([[1, "2", null]]));
    setup(&format!("ALTER TABLE {s}.t DROP COLUMN p")).await;
    assert_eq!(c.ok("query", read.clone()).await["rows"], json!([[1, "2"]]));
    // A write's transaction cannot go on: it says so, changes nothing, and the next works.
    assert_eq!(c.ok("execute", write.clone()).await["rows"], json!([[1, "2"]]));
    setup(&format!("ALTER TABLE {s}.t ADD COLUMN z int")).await;
    let err = c.fails("execute", write.clone()).await;
    assert!(err.contains("changed its columns") && err.contains("run the call again"), "{err}");
    assert_eq!(c.ok("execute", write).await["rows"], json!([[1, "2", null]]));
    // An error of the statement's own, in a text form, is its own.
    let err = c.fails("query", json!({"sql": "SELECT point(1, 1), 1 / 0"})).await;
    assert!(err.contains("division by zero"), "{err}");
}

#[tokio::test]
async fn a_large_result_sends_its_rows_once() {
    for transport in TRANSPORTS {
        let c = start(transport, &["--max-rows", "5000", "--max-result-bytes", "1048576"]).await;
        let sql = "SELECT g AS id, 'name-' || g AS name FROM generate_series(1, 3000) g";
        let result = c.call("query", json!({"sql": sql})).await;
        let text = text(&result);
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 1 + 3000 + 1, "header, every row, the count");
        assert_eq!((lines[0], lines[3000], lines[3001]), ("id\tname", "3000\tname-3000", "(3000 rows)"));
        let s = result.structured_content.expect("structured");
        assert_eq!(s["rowCount"], 3000);
        assert_eq!(s["truncated"], false);
        // The structure repeats only the first rows: well under the text's size.
        let typed = s["rows"].as_array().expect("rows");
        assert_eq!(typed[0], json!([1, "name-1"]));
        assert!(typed.len() <= 500, "{} rows repeated", typed.len());
        assert!(s.to_string().len() * 2 < text.len(), "{} bytes of structure", s.to_string().len());
        // A small result is whole in both.
        let small = c.ok("query", json!({"sql": "SELECT g FROM generate_series(1, 20) g"})).await;
        assert_eq!(small["rows"].as_array().map(Vec::len), Some(20));
    }
}

#[tokio::test]
async fn parameters_are_bound_by_their_inferred_types() {
    for transport in TRANSPORTS {
        let c = start(transport, &[]).await;
        let out = c
            .ok(
                "query",
                json!({
                    "sql": "SELECT $1::int + 1 AS a, $2::text || '!' AS b, $3::numeric * 2 AS c, $4::timestamptz AS d, \
                            $5::jsonb -> 'k' AS e, $6::uuid AS f, $7::int[] AS g, $8::bool AS h, $9::text IS NULL AS i",
                    "params": [41, "hi", "1.25", "2024-01-01T00:00:00+01:00", {"k": [true]},
                               "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11", [1, 2], true, null]
                }),
            )
            .await;
        assert_eq!(
            out["rows"][0],
            json!([
                42,
                "hi!",
                "2.50",
                "2023-12-31T23:00:00Z",
                [true],
                "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11",
                [1, 2],
                true,
                true
            ])
        );
        let err = c.fails("query", json!({"sql": "SELECT $1::int, $2::int", "params": [1]})).await;
        assert!(err.contains("2 parameters") && err.contains("1 given"), "{err}");
        let err = c.fails("query", json!({"sql": "SELECT $1::int", "params": ["abc"]})).await;
        assert!(err.contains("params[0]") && err.contains("integer"), "{err}");
        let err = c.fails("query", json!({"sql": "SELECT $1::int2", "params": [70000]})).await;
        assert!(err.contains("out of range"), "{err}");
    }
}

#[tokio::test]
async fn large_results_are_cut_and_paged() {
    for transport in TRANSPORTS {
        let c = start(transport, &["--max-rows", "100"]).await;
        let sql = "SELECT g AS n FROM generate_series(1, 1000000) g ORDER BY g";
        let first = c.ok("query", json!({"sql": sql})).await;
        assert_eq!(first["rowCount"], 100);
        assert_eq!(first["truncated"], true);
        assert_eq!(first["nextOffset"], 100);
        let second = c.ok("query", json!({"sql": sql, "offset": 100, "limit": 10})).await;
        assert_eq!(second["rows"][0], json!([101]));
        assert_eq!(second["rowCount"], 10);
        let result = c.call("query", json!({"sql": sql, "limit": 3})).await;
        assert!(text(&result).contains("offset=3"), "the text says how to get the rest: {}", text(&result));
        // A byte budget cuts wide rows too.
        let wide = c.ok("query", json!({"sql": "SELECT repeat('x', 10000) FROM generate_series(1, 50)"})).await;
        assert!(wide["rowCount"].as_u64().expect("count") < 50, "{}", wide["rowCount"]);
        assert_eq!(wide["truncated"], true);
        // A single value larger than the whole budget is shortened, and says so.
        let huge = c.ok("query", json!({"sql": "SELECT 1 AS id, repeat('y', 1000000) AS doc"})).await;
        let doc = huge["rows"][0][1].as_str().expect("text");
        assert!(doc.len() < 200_000 && doc.contains("more bytes"), "{}", doc.len());
        assert_eq!(huge["rows"][0][0], 1);
        assert_eq!(huge["truncated"], true);
        // Exactly the limit is not truncated.
        let exact = c.ok("query", json!({"sql": "SELECT 1 FROM generate_series(1, 100)"})).await;
        assert_eq!(exact["truncated"], false);
    }
}

#[tokio::test]
async fn errors_say_what_and_where() {
    let s = common::schema("errors");
    setup(&format!("DROP SCHEMA IF EXISTS {s} CASCADE; CREATE SCHEMA {s}; CREATE TABLE {s}.t (id int);")).await;
    for transport in TRANSPORTS {
        let c = start(transport, &[]).await;
        let err = c.fails("query", json!({"sql": "SELECT * FROM t WHERE id = = 1"})).await;
        assert!(err.contains("syntax error") && err.contains("42601") && err.contains("Position: character"), "{err}");
        let err = c.fails("query", json!({"sql": format!("SELECT * FROM {s}.missing")})).await;
        assert!(err.contains("does not exist") && err.contains("42P01"), "{err}");
        let err = c.fails("query", json!({"sql": "SELECT 1", "database": "nope"})).await;
        assert!(err.contains("no database named `nope`") && err.contains("default"), "{err}");
        let err = c.fails("query", json!({"sql": "SELECT 1", "bogus": 1})).await;
        assert!(err.contains("bogus"), "unknown arguments are named: {err}");
    }
}

#[tokio::test]
async fn statement_timeout_stops_a_slow_query() {
    for transport in TRANSPORTS {
        let c = start(transport, &["--statement-timeout-ms", "300"]).await;
        let started = std::time::Instant::now();
        let err = c.fails("query", json!({"sql": "SELECT pg_sleep(10)"})).await;
        assert!(err.contains("57014") && err.contains("statement timeout"), "{err}");
        assert!(started.elapsed().as_secs() < 5, "took {:?}", started.elapsed());
        // The connection is usable afterwards.
        assert_eq!(c.ok("query", json!({"sql": "SELECT 7"})).await["rows"][0], json!([7]));
    }
}

#[tokio::test]
async fn toolsets_trim_the_tool_list() {
    let c = start(TRANSPORTS[0], &["--toolsets", "sql,performance"]).await;
    let mut names: Vec<String> = c.client.list_tools().await.expect("tools").into_iter().map(|t| t.name).collect();
    names.sort();
    let performance = ["database_health", "explain", "index_advice", "query", "table_bloat", "top_queries"];
    assert_eq!(names, [&performance[..], &["vacuum_progress"]].concat());
    // A misspelt toolset stops the start, naming the ones there are.
    let (ok, stderr) = common::launcher().args(["--toolsets", "sql,perfromance"]).run_to_exit().await;
    assert!(!ok && stderr.contains("`perfromance`") && stderr.contains("known: explore"), "{stderr}");
    let all = start(TRANSPORTS[0], &[]).await.client.list_tools().await.expect("tools").len();
    assert!(all >= 20, "{all} tools by default");
}
