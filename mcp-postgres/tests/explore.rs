//! Exploration tools, table resources and prompts against a real PostgreSQL over stdio and
//! HTTP: real catalog content, paging, and what an access policy hides.

mod common;

use common::{Connector, TRANSPORTS, setup, start, text};
use serde_json::{Map, Value, json};

/// The values of column `name` in a tabular result.
fn column(out: &Value, name: &str) -> Vec<Value> {
    common::records(out).into_iter().map(|r| r.get(name).cloned().unwrap_or(Value::Null)).collect()
}

fn names(out: &Value) -> Vec<String> {
    column(out, "name").into_iter().map(|v| v.as_str().unwrap_or_default().to_string()).collect()
}

async fn drop_schema(s: &str) {
    setup(&format!("DROP SCHEMA IF EXISTS {s} CASCADE")).await;
}

#[tokio::test]
async fn schemas_and_objects_are_listed_with_counts_sizes_and_comments() {
    let s = common::schema("objects");
    setup(&format!(
        "DROP SCHEMA IF EXISTS {s} CASCADE; CREATE SCHEMA {s}; COMMENT ON SCHEMA {s} IS 'shop data';
         CREATE TABLE {s}.customers (id int PRIMARY KEY, name text);
         COMMENT ON TABLE {s}.customers IS 'people who buy';
         INSERT INTO {s}.customers SELECT g, 'c' || g FROM generate_series(1, 1000) g;
         CREATE TABLE {s}.orders (id int PRIMARY KEY, customer_id int REFERENCES {s}.customers);
         CREATE VIEW {s}.big_customers AS SELECT * FROM {s}.customers WHERE id > 500;
         CREATE MATERIALIZED VIEW {s}.customer_count AS SELECT count(*) FROM {s}.customers;
         CREATE SEQUENCE {s}.ticket_seq;
         CREATE TABLE {s}.events (id int, at date) PARTITION BY RANGE (at);
         CREATE TABLE {s}.events_2024 PARTITION OF {s}.events FOR VALUES FROM ('2024-01-01') TO ('2025-01-01');
         CREATE FUNCTION {s}.f() RETURNS int LANGUAGE sql AS 'SELECT 1';
         ANALYZE {s}.customers;"
    ))
    .await;
    for transport in TRANSPORTS {
        let c = start(transport, &[]).await;
        let out = c.ok("list_schemas", json!({"pattern": s})).await;
        let row = common::records(&out).into_iter().find(|r| r["schema"] == json!(s)).expect("the schema is listed");
        assert_eq!(row["tables"], 3, "customers, orders, events (not the partition): {row:?}");
        assert_eq!((row["views"].clone(), row["materialized_views"].clone()), (json!(1), json!(1)));
        assert_eq!((row["sequences"].clone(), row["functions"].clone()), (json!(1), json!(1)));
        assert_eq!(row["comment"], "shop data");
        assert_eq!(row["owner"], "postgres");
        // Postgres's own schemas only on request.
        let plain = c.ok("list_schemas", json!({"pattern": "pg_catalog"})).await;
        assert_eq!(plain["rowCount"], 0);
        let system = c.ok("list_schemas", json!({"pattern": "pg_catalog", "include_system": true})).await;
        assert_eq!(column(&system, "schema"), vec![json!("pg_catalog")]);

        let out = c.ok("list_objects", json!({"schema": s})).await;
        assert_eq!(names(&out), ["big_customers", "customer_count", "customers", "events", "orders", "ticket_seq"]);
        let rows = common::records(&out);
        let customers = &rows[2];
        assert_eq!(customers["kind"], "table");
        assert_eq!(customers["row_estimate"], 1000, "reltuples after ANALYZE");
        assert_eq!(customers["comment"], "people who buy");
        assert!(customers["size_bytes"].as_i64().expect("size") > 8192, "{customers:?}");
        assert_eq!(rows[0]["kind"], "view");
        assert_eq!(rows[0]["row_estimate"], Value::Null);
        assert_eq!(rows[1]["kind"], "materialized_view");
        assert_eq!(rows[3]["kind"], "partitioned_table");
        assert_eq!(rows[5]["kind"], "sequence");
        let tsv = text(&c.call("list_objects", json!({"schema": s, "kinds": ["table"]})).await);
        assert!(tsv.starts_with("schema\tname\tkind\trow_estimate\tsize\tsize_bytes\tcomment\n"), "{tsv}");

        let views = c.ok("list_objects", json!({"schema": s, "kinds": ["view", "materialized_view"]})).await;
        assert_eq!(names(&views), ["big_customers", "customer_count"]);
        let found = c.ok("list_objects", json!({"schema": s, "pattern": "CUSTOMER"})).await;
        assert_eq!(names(&found), ["big_customers", "customer_count", "customers"]);
        let like = c.ok("list_objects", json!({"schema": s, "pattern": "%s"})).await;
        assert_eq!(names(&like), ["big_customers", "customers", "events", "orders"]);
        let by_rows = c.ok("list_objects", json!({"schema": s, "sort": "rows", "kinds": ["table"]})).await;
        assert_eq!(names(&by_rows)[0], "customers");
        let with_parts = c.ok("list_objects", json!({"schema": s, "include_partitions": true})).await;
        assert!(names(&with_parts).contains(&"events_2024".to_string()));

        // Paging: exact, with the truncation flag and the next offset.
        let page = c.ok("list_objects", json!({"schema": s, "limit": 2})).await;
        assert_eq!(names(&page), ["big_customers", "customer_count"]);
        assert_eq!((page["truncated"].clone(), page["nextOffset"].clone()), (json!(true), json!(2)));
        let next = c.ok("list_objects", json!({"schema": s, "limit": 2, "offset": 2})).await;
        assert_eq!(names(&next), ["customers", "events"]);
        let last = c.ok("list_objects", json!({"schema": s, "limit": 2, "offset": 4})).await;
        assert_eq!(names(&last), ["orders", "ticket_seq"]);
        assert_eq!(last["truncated"], false);
        let result = c.call("list_objects", json!({"schema": s, "limit": 1})).await;
        assert!(text(&result).contains("offset=1"), "{}", text(&result));

        let err = c.fails("list_objects", json!({"schema": s, "kinds": ["tables"]})).await;
        assert!(err.contains("kinds") && err.contains("table"), "{err}");
        let err = c.fails("list_objects", json!({"schema": s, "bogus": true})).await;
        assert!(err.contains("bogus"), "{err}");
        let empty = c.call("list_objects", json!({"schema": format!("{s}_missing")})).await;
        assert!(text(&empty).contains("No matching object"), "{}", text(&empty));
    }
    drop_schema(&s).await;
}

#[tokio::test]
async fn describe_table_shows_columns_keys_both_ways_indexes_constraints_and_triggers() {
    let s = common::schema("describe");
    setup(&format!(
        "DROP SCHEMA IF EXISTS {s} CASCADE; CREATE SCHEMA {s};
         CREATE TABLE {s}.customers (
           id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
           email text NOT NULL UNIQUE,
           name text DEFAULT 'anon');
         COMMENT ON COLUMN {s}.customers.email IS 'login';
         CREATE TABLE {s}.orders (
           id serial PRIMARY KEY,
           customer_id bigint NOT NULL REFERENCES {s}.customers (id) ON DELETE CASCADE,
           qty int CHECK (qty > 0),
           price numeric(10,2),
           total numeric GENERATED ALWAYS AS (qty * price) STORED,
           created_at timestamptz DEFAULT now());
         COMMENT ON TABLE {s}.orders IS 'what was bought';
         CREATE INDEX orders_created_idx ON {s}.orders (created_at) WHERE qty > 1;
         CREATE TABLE {s}.items (order_id int REFERENCES {s}.orders, n int, PRIMARY KEY (order_id, n));
         CREATE FUNCTION {s}.touch() RETURNS trigger LANGUAGE plpgsql AS $$BEGIN RETURN NEW; END$$;
         CREATE TRIGGER orders_touch BEFORE UPDATE ON {s}.orders FOR EACH ROW EXECUTE FUNCTION {s}.touch();
         INSERT INTO {s}.customers (email) SELECT 'c' || g || '@x' FROM generate_series(1, 10) g;
         INSERT INTO {s}.orders (customer_id, qty, price) SELECT 1 + g % 10, g, 2.5 FROM generate_series(1, 200) g;
         ANALYZE {s}.customers; ANALYZE {s}.orders;
         CREATE VIEW {s}.order_view AS SELECT id, qty FROM {s}.orders;
         CREATE TABLE {s}.events (id int, at date) PARTITION BY RANGE (at);
         CREATE TABLE {s}.events_2024 PARTITION OF {s}.events FOR VALUES FROM ('2024-01-01') TO ('2025-01-01');
         CREATE SCHEMA {s}_b; CREATE TABLE {s}.dup (a int); CREATE TABLE {s}_b.dup (b int);"
    ))
    .await;
    for transport in TRANSPORTS {
        let c = start(transport, &[]).await;
        let d = c.ok("describe_table", json!({"table": format!("{s}.orders")})).await;
        assert_eq!(
            (d["schema"].as_str(), d["name"].as_str(), d["kind"].as_str()),
            (Some(s.as_str()), Some("orders"), Some("table"))
        );
        assert_eq!(d["comment"], "what was bought");
        assert_eq!(d["rowEstimate"], 200);
        let cols: Vec<&str> =
            d["columns"].as_array().expect("columns").iter().map(|c| c["name"].as_str().expect("name")).collect();
        assert_eq!(cols, ["id", "customer_id", "qty", "price", "total", "created_at"]);
        let col = |i: usize| &d["columns"][i];
        assert_eq!(col(0)["primaryKey"], true);
        assert_eq!(col(0)["type"], "integer");
        assert!(col(0)["default"].as_str().expect("serial default").starts_with("nextval("), "{}", col(0));
        assert_eq!(col(1)["nullable"], false);
        assert_eq!(col(1)["references"], format!("{s}.customers(id)"));
        assert_eq!(col(2)["nullable"], true);
        assert_eq!(col(3)["type"], "numeric(10,2)");
        assert!(col(4)["generated"].as_str().expect("generated").contains("qty"), "{}", col(4));
        assert_eq!(col(4).get("default"), None, "a generated column has no default");
        assert_eq!(col(5)["type"], "timestamp with time zone");
        assert_eq!(col(5)["default"], "now()");
        assert_eq!(d["primaryKey"], json!({"name": "orders_pkey", "columns": ["id"]}));
        let fk = &d["foreignKeys"][0];
        assert_eq!(fk["columns"], json!(["customer_id"]));
        assert_eq!(
            (fk["referencedSchema"].as_str(), fk["referencedTable"].as_str()),
            (Some(s.as_str()), Some("customers"))
        );
        assert_eq!(fk["referencedColumns"], json!(["id"]));
        assert_eq!((fk["onDelete"].as_str(), fk["onUpdate"].as_str()), (Some("CASCADE"), Some("NO ACTION")));
        let by = d["referencedBy"].as_array().expect("referencedBy");
        assert_eq!(by.len(), 1, "{by:?}");
        assert_eq!((by[0]["table"].as_str(), by[0]["columns"].clone()), (Some("items"), json!(["order_id"])));
        assert_eq!(by[0]["referencedColumns"], json!(["id"]));
        let indexes = d["indexes"].as_array().expect("indexes");
        assert_eq!(indexes.len(), 2);
        assert_eq!((indexes[0]["name"].as_str(), indexes[0]["primary"].clone()), (Some("orders_pkey"), json!(true)));
        assert_eq!(indexes[0]["unique"], true);
        let partial = &indexes[1];
        assert_eq!(partial["name"], "orders_created_idx");
        assert_eq!((partial["unique"].clone(), partial["valid"].clone()), (json!(false), json!(true)));
        assert_eq!(partial["predicate"], "(qty > 1)");
        assert_eq!(partial["columns"], json!(["created_at"]));
        assert_eq!(partial["method"], "btree");
        assert!(
            partial["definition"].as_str().expect("def").starts_with("CREATE INDEX orders_created_idx"),
            "{partial}"
        );
        assert!(partial["sizeBytes"].as_i64().expect("size") > 0);
        assert_eq!(
            d["constraints"],
            json!([{"name": "orders_qty_check", "type": "check", "definition": "CHECK (qty > 0)",
                                             "columns": ["qty"], "validated": true}])
        );
        assert_eq!(d["triggers"][0]["name"], "orders_touch");
        assert_eq!(d["triggers"][0]["enabled"], true);
        assert!(d["triggers"][0]["definition"].as_str().expect("def").contains("BEFORE UPDATE"), "{}", d["triggers"]);
        assert!(d["sizes"]["totalBytes"].as_i64().expect("total") >= d["sizes"]["tableBytes"].as_i64().expect("table"));
        assert!(d["statistics"]["lastAnalyze"].is_string(), "{}", d["statistics"]);
        // The text reads like \d+.
        let t = text(&c.call("describe_table", json!({"table": "orders", "schema": s})).await);
        assert!(
            t.contains("customer_id bigint NOT NULL -> ") && t.contains("Referenced by:") && t.contains("items"),
            "{t}"
        );
        assert!(t.contains("CHECK (qty > 0)") && t.contains("orders_touch"), "{t}");

        // The other side: identity, unique, comments, referenced by orders.
        let d = c.ok("describe_table", json!({"table": "customers", "schema": s})).await;
        assert_eq!(d["columns"][0]["identity"], "always");
        assert_eq!(d["columns"][1]["comment"], "login");
        assert_eq!(d["columns"][2]["default"], "'anon'::text");
        assert_eq!(d["constraints"][0]["type"], "unique");
        assert_eq!(d["constraints"][0]["columns"], json!(["email"]));
        assert_eq!(d["referencedBy"][0]["table"], "orders");
        assert_eq!(d["referencedBy"][0]["onDelete"], "CASCADE");
        assert_eq!(d["foreignKeys"], json!([]));

        // Summary: columns only. Names are found case-insensitively.
        let d = c.ok("describe_table", json!({"table": format!("{s}.ORDERS"), "detail": "summary"})).await;
        assert_eq!(d["name"], "orders");
        assert_eq!(d["columns"].as_array().expect("columns").len(), 6);
        assert!(d.get("indexes").is_none() && d.get("foreignKeys").is_none(), "{d}");

        let d = c.ok("describe_table", json!({"table": format!("{s}.order_view")})).await;
        assert_eq!(d["kind"], "view");
        assert!(d["viewDefinition"].as_str().expect("definition").contains("FROM"), "{d}");
        let d = c.ok("describe_table", json!({"table": format!("{s}.events")})).await;
        assert_eq!(d["partitioning"]["key"], "RANGE (at)");
        assert_eq!(d["partitioning"]["partitions"][0]["name"], format!("{s}.events_2024"));
        assert!(d["partitioning"]["partitions"][0]["bound"].as_str().expect("bound").starts_with("FOR VALUES FROM"));
        let d = c.ok("describe_table", json!({"table": format!("{s}.events_2024")})).await;
        assert_eq!(d["partitioning"]["partitionOf"], format!("{s}.events"));

        let err = c.fails("describe_table", json!({"table": format!("{s}.nope")})).await;
        assert!(err.contains("no table or view `nope`"), "{err}");
        let err = c.fails("describe_table", json!({"table": "dup", "schema": format!("{s}_c")})).await;
        assert!(err.contains("no table or view"), "{err}");
        let err = c.fails("describe_table", json!({"table": format!("{s}.orders"), "detail": "everything"})).await;
        assert!(err.contains("detail"), "{err}");
    }
    // Two schemas off the search path with the same table name: the error names both.
    let c = start(common::Transport::Stdio, &[]).await;
    setup(&format!(
        "CREATE TABLE {s}.dup_{pid} (a int); CREATE TABLE {s}_b.dup_{pid} (b int);",
        pid = std::process::id()
    ))
    .await;
    let err = c.fails("describe_table", json!({"table": format!("dup_{}", std::process::id())})).await;
    assert!(
        err.contains("ambiguous") && err.contains(&format!("{s}.dup_")) && err.contains(&format!("{s}_b.dup_")),
        "{err}"
    );
    drop_schema(&s).await;
    drop_schema(&format!("{s}_b")).await;
}

#[tokio::test]
async fn functions_extensions_enums_and_sequences_are_listed() {
    let s = common::schema("catalog");
    setup(&format!(
        "DROP SCHEMA IF EXISTS {s} CASCADE; CREATE SCHEMA {s};
         CREATE TYPE {s}.mood AS ENUM ('sad', 'ok', 'happy'); COMMENT ON TYPE {s}.mood IS 'feelings';
         CREATE FUNCTION {s}.add(a int, b int) RETURNS int LANGUAGE sql IMMUTABLE AS 'SELECT a + b';
         CREATE PROCEDURE {s}.noop() LANGUAGE sql AS 'SELECT 1';
         CREATE AGGREGATE {s}.mysum(int) (SFUNC = int4pl, STYPE = int);
         CREATE SEQUENCE {s}.small AS int MAXVALUE 100; SELECT setval('{s}.small', 75);
         CREATE TABLE {s}.u (id int);
         CREATE SEQUENCE {s}.big_seq OWNED BY {s}.u.id;
         SELECT setval('{s}.big_seq', 1073741824);
         CREATE SEQUENCE {s}.fresh;"
    ))
    .await;
    for transport in TRANSPORTS {
        let c = start(transport, &[]).await;
        let out = c.ok("list_functions", json!({"schema": s})).await;
        assert_eq!(names(&out), ["add", "mysum", "noop"]);
        let rows = common::records(&out);
        assert_eq!(rows[0]["arguments"], "a integer, b integer");
        assert_eq!(rows[0]["returns"], "integer");
        assert_eq!((rows[0]["kind"].as_str(), rows[0]["language"].as_str()), (Some("function"), Some("sql")));
        assert_eq!(rows[0]["volatility"], "immutable");
        assert_eq!(rows[1]["kind"], "aggregate");
        assert_eq!((rows[2]["kind"].clone(), rows[2]["returns"].clone()), (json!("procedure"), Value::Null));
        let procs = c.ok("list_functions", json!({"schema": s, "kinds": ["procedure"]})).await;
        assert_eq!(names(&procs), ["noop"]);
        let defs = c.ok("list_functions", json!({"schema": s, "pattern": "add", "include_definition": true})).await;
        assert!(column(&defs, "definition")[0].as_str().expect("definition").contains("SELECT a + b"), "{defs}");

        let ext = c.ok("list_extensions", json!({})).await;
        let plpgsql = common::records(&ext).into_iter().find(|r| r["name"] == "plpgsql").expect("plpgsql is installed");
        assert_eq!((plpgsql["installed"].clone(), plpgsql["schema"].clone()), (json!(true), json!("pg_catalog")));
        assert!(plpgsql["installed_version"].is_string());
        let available = c.ok("list_extensions", json!({"available": true, "pattern": "pg_trgm"})).await;
        let trgm = &common::records(&available)[0];
        assert_eq!(trgm["name"], "pg_trgm");
        assert!(trgm["default_version"].is_string() && trgm["comment"].is_string(), "{trgm:?}");

        let enums = c.ok("list_enums", json!({"schema": s})).await;
        assert_eq!(common::records(&enums)[0]["labels"], json!(["sad", "ok", "happy"]));
        assert_eq!(common::records(&enums)[0]["comment"], "feelings");

        let seqs = c.ok("list_sequences", json!({"schema": s})).await;
        assert_eq!(names(&seqs), ["big_seq", "fresh", "small"]);
        let rows = common::records(&seqs);
        let (big, fresh, small) = (&rows[0], &rows[1], &rows[2]);
        assert_eq!(
            (small["last_value"].clone(), small["max_value"].clone(), small["increment"].clone()),
            (json!(75), json!(100), json!(1))
        );
        assert_eq!(small["type"], "integer");
        assert_eq!(small["used_percent"], 74.75, "(75 - 1) / (100 - 1)");
        assert_eq!(small["remaining"], 25);
        // A bigint sequence feeding an int column runs out at the column's limit.
        assert_eq!(big["owned_by"], format!("{s}.u.id"));
        assert_eq!(big["limit_value"], 2147483647);
        assert_eq!(big["max_value"], json!(i64::MAX));
        assert_eq!(big["used_percent"], 50.0);
        assert_eq!((fresh["last_value"].clone(), fresh["used_percent"].clone()), (Value::Null, Value::Null));
        let by_use = c.ok("list_sequences", json!({"schema": s, "sort": "used"})).await;
        assert_eq!(names(&by_use), ["small", "big_seq", "fresh"]);
    }
    drop_schema(&s).await;
}

#[tokio::test]
async fn search_finds_every_kind_of_object_best_match_first() {
    let s = common::schema("search");
    let tok = format!("zqx{}", std::process::id());
    setup(&format!(
        "DROP SCHEMA IF EXISTS {s} CASCADE; CREATE SCHEMA {s};
         CREATE TABLE {s}.{tok}_orders (id int PRIMARY KEY, {tok}_code text NOT NULL);
         COMMENT ON COLUMN {s}.{tok}_orders.{tok}_code IS 'the code';
         CREATE INDEX {tok}_idx ON {s}.{tok}_orders ({tok}_code);
         CREATE FUNCTION {s}.{tok}_fn(x int) RETURNS int LANGUAGE sql AS 'SELECT x';
         CREATE TYPE {s}.{tok}_kind AS ENUM ('a', 'b');
         CREATE VIEW {s}.{tok}_view AS SELECT 1 AS x;
         CREATE TABLE {s}.a_{tok} (id int);"
    ))
    .await;
    for transport in TRANSPORTS {
        let c = start(transport, &[]).await;
        let out = c.ok("search_objects", json!({"pattern": tok.to_uppercase()})).await;
        let hits: Vec<(String, String)> = common::records(&out)
            .iter()
            .map(|r| (r["kind"].as_str().unwrap_or("").to_string(), r["name"].as_str().unwrap_or("").to_string()))
            .collect();
        for want in [
            ("table", format!("{tok}_orders")),
            ("column", format!("{tok}_code")),
            ("index", format!("{tok}_idx")),
            ("index", format!("{tok}_orders_pkey")),
            ("constraint", format!("{tok}_orders_pkey")),
            ("function", format!("{tok}_fn")),
            ("enum", format!("{tok}_kind")),
            ("view", format!("{tok}_view")),
            ("table", format!("a_{tok}")),
        ] {
            assert!(hits.contains(&(want.0.to_string(), want.1.clone())), "{want:?} not in {hits:?}");
        }
        // Prefix matches come before mere substrings; among equals, tables before their parts.
        assert_eq!(hits[0], ("table".to_string(), format!("{tok}_orders")), "{hits:?}");
        assert_eq!(hits.last().map(|h| h.1.clone()), Some(format!("a_{tok}")), "{hits:?}");
        let column_hit = common::records(&out).into_iter().find(|r| r["kind"] == "column").expect("column");
        assert_eq!(column_hit["table"], format!("{tok}_orders"));
        assert_eq!(column_hit["schema"], json!(s));
        assert!(column_hit.get("detail").is_none(), "names only by default");

        let out =
            c.ok("search_objects", json!({"pattern": tok, "kinds": ["column", "function"], "detail": "summary"})).await;
        let rows = common::records(&out);
        assert_eq!(rows.len(), 2, "{rows:?}");
        let detail = |kind: &str| rows.iter().find(|r| r["kind"] == kind).map(|r| r["detail"].clone()).expect(kind);
        assert_eq!(detail("column"), "text not null -- the code");
        assert_eq!(detail("function"), format!("{tok}_fn(x integer) returns integer"));
        let out = c.ok("search_objects", json!({"pattern": tok, "kinds": ["enum"], "detail": "summary"})).await;
        assert_eq!(column(&out, "detail"), vec![json!("a, b")]);

        let like = c.ok("search_objects", json!({"pattern": format!("{tok}%code")})).await;
        assert_eq!(names(&like), [format!("{tok}_code")]);
        let page = c.ok("search_objects", json!({"pattern": tok, "limit": 3})).await;
        assert_eq!(
            (page["rowCount"].clone(), page["truncated"].clone(), page["nextOffset"].clone()),
            (json!(3), json!(true), json!(3))
        );
        let rest = c.ok("search_objects", json!({"pattern": tok, "offset": 3, "limit": 100})).await;
        assert_eq!(rest["rowCount"].as_u64().expect("count") + 3, hits.len() as u64);
        let none = c.call("search_objects", json!({"pattern": format!("{tok}_none")})).await;
        assert!(text(&none).contains("Nothing named like"), "{}", text(&none));
        let err = c.fails("search_objects", json!({"pattern": "  "})).await;
        assert!(err.contains("pattern"), "{err}");
        // System catalogs on request only.
        let sys = c
            .ok("search_objects", json!({"pattern": "pg_class", "kinds": ["view", "table"], "include_system": true}))
            .await;
        assert!(names(&sys).contains(&"pg_class".to_string()), "{sys}");
        let user = c.ok("search_objects", json!({"pattern": "pg_class", "kinds": ["table"]})).await;
        assert!(!names(&user).contains(&"pg_class".to_string()));
    }
    drop_schema(&s).await;
}

#[tokio::test]
async fn list_databases_reports_each_configured_database() {
    for transport in TRANSPORTS {
        let c = start(transport, &["--database", "down=postgres://postgres@127.0.0.1:1/x"]).await;
        let out = c.ok("list_databases", json!({})).await;
        let dbs = out["databases"].as_array().expect("databases");
        assert_eq!(dbs.len(), 2);
        let up = &dbs[0];
        assert_eq!(
            (up["name"].as_str(), up["reachable"].clone(), up["readOnly"].clone()),
            (Some("default"), json!(true), json!(true))
        );
        assert_eq!(up["user"], "postgres");
        assert!(up["serverVersion"].as_str().expect("version").starts_with("PostgreSQL "), "{up}");
        let server = up["serverDatabases"].as_array().expect("server databases");
        let postgres = server.iter().find(|d| d["name"] == "postgres").expect("the postgres database");
        assert!(postgres["sizeBytes"].as_i64().expect("size") > 0 && postgres["encoding"].is_string(), "{postgres}");
        assert!(!server.iter().any(|d| d["template"] == true), "templates only on request");
        let down = &dbs[1];
        assert_eq!((down["name"].as_str(), down["reachable"].clone()), (Some("down"), json!(false)));
        assert!(down["error"].as_str().expect("error").contains("unavailable"), "{down}");

        let t = c.ok("list_databases", json!({"database": "default", "include_templates": true, "limit": 100})).await;
        let server = t["databases"][0]["serverDatabases"].as_array().expect("server databases");
        assert!(server.iter().any(|d| d["name"] == "template1" && d["template"] == true), "{t}");
        let page = c.ok("list_databases", json!({"database": "default", "include_templates": true, "limit": 1})).await;
        assert_eq!(page["databases"][0]["truncated"], true);
        assert_eq!(page["databases"][0]["nextOffset"], 1);
        let err = c.fails("list_databases", json!({"database": "nope"})).await;
        assert!(err.contains("no database named `nope`"), "{err}");
        let t = text(&c.call("list_databases", json!({})).await);
        assert!(
            t.contains("default (read-only)") && t.contains("down (read-only)") && t.contains("unreachable"),
            "{t}"
        );
    }
}

async fn start_with_policy(transport: common::Transport, policy: &std::path::Path) -> Connector {
    start(transport, &["--policy-file", policy.to_str().expect("utf-8 path")]).await
}

#[tokio::test]
async fn an_access_policy_hides_denied_schemas_and_tables_everywhere() {
    let s = common::schema("policy");
    let secret = format!("{s}_secret");
    setup(&format!(
        "DROP SCHEMA IF EXISTS {s} CASCADE; DROP SCHEMA IF EXISTS {secret} CASCADE;
         CREATE SCHEMA {s}; CREATE SCHEMA {secret};
         CREATE TABLE {s}.employees (id int PRIMARY KEY, name text);
         CREATE TABLE {s}.salaries (id serial PRIMARY KEY, employee_id int REFERENCES {s}.employees, amount int);
         CREATE TABLE {secret}.keys (k text);
         CREATE TYPE {secret}.level AS ENUM ('x');
         CREATE FUNCTION {secret}.hidden_fn() RETURNS int LANGUAGE sql AS 'SELECT 1';"
    ))
    .await;
    let dir = tempfile::tempdir().expect("tempdir");
    let policy = dir.path().join("policy.toml");
    std::fs::write(&policy, format!("[scopes]\ndeny_schemas = [\"{secret}\"]\ndeny_tables = [\"{s}.salaries\"]\n"))
        .expect("write the policy");
    for transport in TRANSPORTS {
        let c = start_with_policy(transport, &policy).await;
        let schemas = c.ok("list_schemas", json!({"pattern": s})).await;
        let listed: Vec<Value> = column(&schemas, "schema");
        assert!(listed.contains(&json!(s)) && !listed.contains(&json!(secret)), "{listed:?}");
        let row = common::records(&schemas).into_iter().find(|r| r["schema"] == json!(s)).expect("schema");
        assert_eq!(
            (row["tables"].clone(), row["sequences"].clone()),
            (json!(1), json!(0)),
            "salaries and its sequence are not counted"
        );

        assert_eq!(names(&c.ok("list_objects", json!({"schema": s})).await), ["employees"]);
        assert_eq!(c.ok("list_objects", json!({"schema": secret})).await["rowCount"], 0);
        assert_eq!(c.ok("list_sequences", json!({"schema": s})).await["rowCount"], 0);
        assert_eq!(c.ok("list_enums", json!({"schema": secret})).await["rowCount"], 0);
        assert_eq!(c.ok("list_functions", json!({"schema": secret})).await["rowCount"], 0);
        let found = c.ok("search_objects", json!({"pattern": "salar", "schema": s})).await;
        assert_eq!(found["rowCount"], 0, "{found}");
        let found = c.ok("search_objects", json!({"pattern": s})).await;
        assert!(!common::records(&found).iter().any(|r| r["schema"] == json!(secret)), "{found}");
        let found = c.ok("search_objects", json!({"pattern": "amount", "schema": s})).await;
        assert_eq!(found["rowCount"], 0, "columns of a denied table are hidden: {found}");

        let err = c.fails("describe_table", json!({"table": format!("{s}.salaries")})).await;
        assert!(err.contains("access denied") && !err.contains("amount"), "{err}");
        let err = c.fails("describe_table", json!({"table": "keys", "schema": secret})).await;
        assert!(err.contains("access denied"), "{err}");
        let d = c.ok("describe_table", json!({"table": format!("{s}.employees")})).await;
        assert_eq!(d["referencedBy"], json!([]), "the denied table's key is not shown");
        let err = c.client.read_resource(&format!("postgres://default/{s}/salaries")).await.expect_err("denied");
        assert!(err.to_string().contains("access denied"), "{err}");
        let listing = c.client.read_resource("postgres://default/tables").await.expect("listing");
        let body = listing["contents"][0]["text"].as_str().expect("text");
        assert!(
            body.contains(&format!("{s}/employees"))
                && !body.contains(&format!("{s}/salaries"))
                && !body.contains(&secret),
            "{body}"
        );
    }
    drop_schema(&s).await;
    drop_schema(&secret).await;
}

#[tokio::test]
async fn tables_are_resources_with_a_template_a_listing_and_completion() {
    let s = common::schema("resources");
    setup(&format!(
        "DROP SCHEMA IF EXISTS {s} CASCADE; CREATE SCHEMA {s};
         CREATE TABLE {s}.orders (id int PRIMARY KEY, note text);
         CREATE TABLE {s}.\"Order Lines\" (order_id int REFERENCES {s}.orders);"
    ))
    .await;
    for transport in TRANSPORTS {
        let c = start(transport, &[]).await;
        let templates = c.client.list_resource_templates().await.expect("templates");
        let template = templates
            .iter()
            .find(|t| t["uriTemplate"] == "postgres://{database}/{schema}/{table}")
            .expect("the table template");
        assert_eq!(template["mimeType"], "application/json");
        let resources = c.client.list_resources().await.expect("resources");
        assert!(resources.iter().any(|r| r["uri"] == "postgres://default/tables"), "{resources:?}");

        let read = c.client.read_resource(&format!("postgres://default/{s}/orders")).await.expect("read");
        let content = &read["contents"][0];
        assert_eq!(content["mimeType"], "application/json");
        assert_eq!(content["uri"], format!("postgres://default/{s}/orders"));
        let d: Value = serde_json::from_str(content["text"].as_str().expect("text")).expect("JSON");
        assert_eq!(d["columns"][1]["name"], "note");
        assert_eq!(d["primaryKey"]["columns"], json!(["id"]));
        assert_eq!(d["referencedBy"][0]["table"], "Order Lines");
        // Names are percent-encoded in URIs.
        let read = c.client.read_resource(&format!("postgres://default/{s}/Order%20Lines")).await.expect("read");
        let d: Value = serde_json::from_str(read["contents"][0]["text"].as_str().expect("text")).expect("JSON");
        assert_eq!(d["foreignKeys"][0]["referencedTable"], "orders");
        let listing = c.client.read_resource("postgres://default/tables").await.expect("listing");
        let body: Value = serde_json::from_str(listing["contents"][0]["text"].as_str().expect("text")).expect("JSON");
        let uris: Vec<&str> =
            body["tables"].as_array().expect("tables").iter().filter_map(|t| t["uri"].as_str()).collect();
        assert!(uris.contains(&format!("postgres://default/{s}/Order%20Lines").as_str()), "{uris:?}");
        let err = c.client.read_resource(&format!("postgres://default/{s}/missing")).await.expect_err("missing");
        assert!(err.to_string().contains("Resource not found"), "{err}");
        let err = c.client.read_resource(&format!("postgres://nope/{s}/orders")).await.expect_err("no database");
        assert!(err.to_string().contains("Resource not found"), "{err}");

        // Completion of the template's variables.
        let complete = |argument: &str, value: &str, context: Value| {
            let mut params = Map::new();
            params
                .insert("ref".into(), json!({"type": "ref/resource", "uri": "postgres://{database}/{schema}/{table}"}));
            params.insert("argument".into(), json!({"name": argument, "value": value}));
            params.insert("context".into(), json!({"arguments": context}));
            c.client.request("completion/complete", params)
        };
        let out = complete("database", "def", json!({})).await.expect("complete");
        assert_eq!(out["completion"]["values"], json!(["default"]));
        let out = complete("schema", &s, json!({"database": "default"})).await.expect("complete");
        assert_eq!(out["completion"]["values"][0], json!(s));
        let out = complete("table", "ord", json!({"database": "default", "schema": s})).await.expect("complete");
        assert_eq!(out["completion"]["values"], json!(["orders"]));
    }
    drop_schema(&s).await;
}

#[tokio::test]
async fn prompts_guide_exploration_optimisation_and_review() {
    let s = common::schema("review");
    setup(&format!(
        "DROP SCHEMA IF EXISTS {s} CASCADE; CREATE SCHEMA {s};
         CREATE TABLE {s}.parents (id int PRIMARY KEY);
         CREATE TABLE {s}.children (id bigint, parent_id bigint REFERENCES {s}.parents, price money, at timestamp);
         CREATE TABLE {s}.\"CamelCase\" (id serial PRIMARY KEY);
         CREATE INDEX children_a ON {s}.children (id);
         CREATE INDEX children_b ON {s}.children (id, at);"
    ))
    .await;
    for transport in TRANSPORTS {
        let c = start(transport, &[]).await;
        let prompts = c.client.list_prompts().await.expect("prompts");
        let names: Vec<&str> = prompts.iter().filter_map(|p| p["name"].as_str()).collect();
        for name in ["explore_database", "optimize_query", "review_schema"] {
            assert!(names.contains(&name), "{names:?}");
        }
        let optimize = prompts.iter().find(|p| p["name"] == "optimize_query").expect("optimize_query");
        let sql_arg =
            optimize["arguments"].as_array().expect("arguments").iter().find(|a| a["name"] == "sql").expect("sql");
        assert_eq!(sql_arg["required"], true);

        let got = c.client.get_prompt("explore_database", json!({"focus": "billing"})).await.expect("prompt");
        let t = got["messages"][0]["content"]["text"].as_str().expect("text");
        assert!(
            t.contains("list_schemas") && t.contains("describe_table") && t.contains("LIMIT") && t.contains("billing"),
            "{t}"
        );

        let got =
            c.client.get_prompt("optimize_query", json!({"sql": "SELECT * FROM t WHERE a = 1"})).await.expect("prompt");
        let t = got["messages"][0]["content"]["text"].as_str().expect("text");
        assert!(
            t.contains("SELECT * FROM t WHERE a = 1") && t.contains("hypothetical_indexes") && t.contains("analyze"),
            "{t}"
        );
        let err = c.client.get_prompt("optimize_query", json!({})).await.expect_err("sql is required");
        assert!(err.to_string().contains("sql"), "{err}");

        let got =
            c.client.get_prompt("review_schema", json!({"schema": s, "database": "default"})).await.expect("prompt");
        let t = got["messages"][0]["content"]["text"].as_str().expect("text").to_string();
        assert!(t.contains(&format!("`{s}`")) && t.contains("\"database\": \"default\""), "{t}");
        // Every check it carries runs, and finds what this schema gets wrong.
        let checks: Vec<&str> = t.split("```sql\n").skip(1).filter_map(|b| b.split("\n```").next()).collect();
        assert_eq!(checks.len(), 7, "{t}");
        let mut found = Vec::new();
        for sql in checks {
            let out = c.ok("query", json!({"sql": sql, "params": [s]})).await;
            found.push(out["rows"].to_string());
        }
        assert!(found[0].contains("children") && !found[0].contains("parents"), "no primary key: {}", found[0]);
        assert!(found[1].contains("children_parent_id_fkey"), "unindexed foreign key: {}", found[1]);
        assert!(found[2].contains("parent_id"), "nullable foreign key: {}", found[2]);
        assert!(found[3].contains("bigint") && found[3].contains("integer"), "key type mismatch: {}", found[3]);
        assert!(
            found[4].contains("money")
                && found[4].contains("timestamp without time zone")
                && found[4].contains("serial"),
            "{}",
            found[4]
        );
        assert!(found[5].contains("CamelCase"), "quoted names: {}", found[5]);
        assert!(found[6].contains("children_a") && found[6].contains("children_b"), "duplicate index: {}", found[6]);
        let err =
            c.client.get_prompt("review_schema", json!({"schema": s, "database": "nope"})).await.expect_err("bad db");
        assert!(err.to_string().contains("nope"), "{err}");
    }
    drop_schema(&s).await;
}
