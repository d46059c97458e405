//! Everything besides workflows, over stdio and HTTP: building help, tags, users,
//! variables and projects (licence-gated), credentials (never their secrets), data
//! tables, the audit, health, resources and prompts.

mod common;

use common::{unique, writer};
use mcp_core::testing::Transport;
use serde_json::json;

#[tokio::test]
async fn building_help_comes_from_the_instance() {
    for transport in [Transport::Stdio, Transport::Http] {
        let s = writer().start(transport).await;
        let found = s.ok("search_nodes", json!({"query": "http request"})).await;
        assert_eq!(found["nodes"][0]["type"], "n8n-nodes-base.httpRequest", "{found}");
        let triggers = s.ok("search_nodes", json!({"query": "schedule", "trigger": true})).await;
        assert!(triggers["nodes"].as_array().is_some_and(|n| n.iter().all(|t| t["trigger"] == true) && !n.is_empty()));
        let page2 = s.ok("search_nodes", json!({"query": "trigger", "limit": 5, "offset": 5})).await;
        assert_eq!(page2["nodes"].as_array().map(Vec::len), Some(5));
        assert_eq!(page2["next_offset"], 10);
        let d = s.ok("describe_node", json!({"type": "n8n-nodes-base.httpRequest"})).await;
        let params = d["parameters"].as_array().expect("parameters");
        assert!(params.iter().any(|p| p["name"] == "url" && p["required"] == true), "{d}");
        assert!(d["versions"].as_array().is_some_and(|v| v.len() > 3));
        let one = s.ok("describe_node", json!({"type": "n8n-nodes-base.webhook", "parameter": "httpMethod"})).await;
        assert!(one.to_string().contains("POST"), "{one}");
        let err = s.fails("describe_node", json!({"type": "n8n-nodes-base.webhook", "version": 7})).await;
        assert!(err.contains("no version 7"), "{err}");
    }
}

#[tokio::test]
async fn tags_users_variables_projects() {
    for transport in [Transport::Stdio, Transport::Http] {
        let s = writer().start(transport).await;
        let name = unique("t").chars().rev().take(20).collect::<String>();
        let tag = s.ok("create_tag", json!({"name": name})).await;
        let id = tag["id"].as_str().expect("id").to_string();
        let renamed = s.ok("rename_tag", json!({"id": id, "name": format!("{name}x")})).await;
        assert_eq!(renamed["name"], format!("{name}x"));
        let mut found = false;
        let mut cursor: Option<String> = None;
        loop {
            let page = s.ok("list_tags", json!({"limit": 50, "cursor": cursor})).await;
            found |= page["items"].as_array().is_some_and(|t| t.iter().any(|t| t["id"] == id.as_str()));
            match page["next_cursor"].as_str() {
                Some(c) => cursor = Some(c.to_string()),
                None => break,
            }
        }
        assert!(found);
        s.ok("delete_tag", json!({"id": id})).await;

        let users = s.ok("list_users", json!({})).await;
        assert!(
            users["items"]
                .as_array()
                .is_some_and(|u| u.iter().any(|u| u["email"] == common::env("MCP_TEST_N8N_EMAIL").as_str())),
            "{users}"
        );
        // Variables and projects are licence-gated on a community instance: the message says so.
        let err = s.fails("list_variables", json!({})).await;
        assert!(err.contains("licence"), "{err}");
        let err = s.fails("create_variable", json!({"key": "K1", "value": "v"})).await;
        assert!(err.contains("licence"), "{err}");
        let err = s.fails("list_projects", json!({})).await;
        assert!(err.contains("licence"), "{err}");
    }
}

#[tokio::test]
async fn credentials_never_show_their_secrets() {
    let s = writer().start(Transport::Stdio).await;
    let schema = s.ok("credential_schema", json!({"type": "httpBasicAuth"})).await;
    assert!(schema.to_string().contains("password"), "{schema}");
    let err = s.fails("credential_schema", json!({"type": "noSuchType"})).await;
    assert!(err.contains("noSuchType"), "{err}");
    let name = unique("cred");
    let secret = "pa55-w0rd-never-shown";
    let (text, made) = s
        .ok_text(
            "create_credential",
            json!({"name": name, "type": "httpBasicAuth", "data": {"user": "u", "password": secret}}),
        )
        .await;
    assert!(!text.contains(secret));
    let id = made["id"].as_str().expect("id").to_string();
    let (text, list) = s.ok_text("list_credentials", json!({"limit": 250})).await;
    assert!(!text.contains(secret));
    assert!(
        list["items"]
            .as_array()
            .is_some_and(|c| c.iter().any(|c| c["id"] == id.as_str() && c["type"] == "httpBasicAuth"))
    );
    s.ok("delete_credential", json!({"id": id})).await;
}

#[tokio::test]
async fn data_tables_audit_health() {
    let s = writer().start(Transport::Http).await;
    let name = unique("table");
    let t = s
        .ok(
            "create_data_table",
            json!({"name": name, "columns": [{"name": "city", "type": "string"}, {"name": "n", "type": "number"}]}),
        )
        .await;
    let id = t["id"].as_str().expect("id").to_string();
    let rows: Vec<_> = (0..12).map(|i| json!({"city": format!("c{i}"), "n": i})).collect();
    let ins = s.ok("insert_data_table_rows", json!({"id": id, "rows": rows})).await;
    assert_eq!(ins["inserted"], 12);
    let page = s.ok("read_data_table_rows", json!({"id": id, "limit": 5})).await;
    assert_eq!(page["count"], 5);
    assert!(page["next_cursor"].is_string(), "{page}");
    let filtered = s
        .ok("read_data_table_rows", json!({"id": id, "filter": {"type": "and", "filters": [{"columnName": "city", "condition": "eq", "value": "c3"}]}}))
        .await;
    assert_eq!(filtered["items"][0]["n"], 3, "{filtered}");
    let tables = s.ok("list_data_tables", json!({"limit": 250})).await;
    assert!(tables["items"].as_array().is_some_and(|t| t.iter().any(|t| t["name"] == name.as_str())), "{tables}");
    let err = s.fails("insert_data_table_rows", json!({"id": id, "rows": []})).await;
    assert!(err.contains("rows"), "{err}");

    // Only the category asked for, n8n's own report of it: the security settings of this
    // instance, whose public API is on (the tests reach it through that API).
    let audit = s.ok("security_audit", json!({"categories": ["instance"]})).await;
    let reports: Vec<&String> = audit.as_object().map(|o| o.keys().collect()).unwrap_or_default();
    assert_eq!(reports, ["Instance Risk Report"], "{audit}");
    let report = &audit["Instance Risk Report"];
    assert_eq!(report["risk"], "instance", "{audit}");
    let settings = report["sections"]
        .as_array()
        .and_then(|s| s.iter().find(|s| s["title"] == "Security settings"))
        .unwrap_or_else(|| panic!("no `Security settings` section: {audit}"));
    assert_eq!(settings["settings"]["features"]["publicApiEnabled"], true, "{audit}");
    let h = s.ok("health", json!({})).await;
    assert_eq!(h["healthy"], true, "{h}");
    assert_eq!(h["instances"][0]["run_by_id"], true);
}

#[tokio::test]
async fn resources_and_prompts() {
    let s = writer().start(Transport::Stdio).await;
    let wf = common::manual_workflow(&unique("res"));
    let id = common::create(&s, &wf).await;
    let run = s.ok("run_workflow", json!({"id": id, "wait": true})).await;
    let exec = run["id"].as_str().expect("execution id").to_string();
    let templates = s.client.list_resource_templates().await.expect("templates");
    let uris: Vec<String> = templates.iter().filter_map(|t| t["uriTemplate"].as_str().map(str::to_string)).collect();
    assert!(
        uris.contains(&"n8n://workflows/{id}".into()) && uris.contains(&"n8n://executions/{id}".into()),
        "{uris:?}"
    );
    let r = s.client.read_resource(&format!("n8n://workflows/{id}")).await.expect("read workflow");
    assert!(r["contents"][0]["text"].as_str().is_some_and(|t| t.contains("Start -> Set")), "{r}");
    let r = s.client.read_resource(&format!("n8n://executions/{exec}")).await.expect("read execution");
    assert!(r["contents"][0]["text"].as_str().is_some_and(|t| t.contains("success")), "{r}");
    assert!(s.client.read_resource("n8n://workflows/doesNotExist99").await.is_err());
    let prompts = s.client.list_prompts().await.expect("prompts");
    assert_eq!(prompts.len(), 2);
    let p = s.client.get_prompt("debug_execution", json!({"execution_id": exec})).await.expect("prompt");
    assert!(p.to_string().contains(&exec) && p.to_string().contains("get_execution"));
    let p = s
        .client
        .get_prompt("build_workflow", json!({"description": "post new rows to a webhook"}))
        .await
        .expect("prompt");
    assert!(p.to_string().contains("validate_workflow"));
    s.ok("delete_workflow", json!({"id": id})).await;
}

/// Every tool outside the workflow life cycle (which tests/flow.rs runs on every
/// transport) called once over stdio and over HTTP, with its expected outcome.
#[tokio::test]
async fn every_other_tool_answers_over_stdio_and_http() {
    let calls = [
        ("health", json!({}), true),
        ("list_workflows", json!({"limit": 2}), true),
        ("list_executions", json!({"limit": 2}), true),
        ("list_tags", json!({"limit": 2}), true),
        ("list_users", json!({}), true),
        ("list_credentials", json!({"limit": 2}), true),
        ("list_data_tables", json!({"limit": 2}), true),
        ("search_nodes", json!({"query": "set"}), true),
        ("describe_node", json!({"type": "n8n-nodes-base.set"}), true),
        ("validate_workflow", json!({"workflow": {"nodes": [], "connections": {}}}), true),
        ("credential_schema", json!({"type": "httpHeaderAuth"}), true),
        ("security_audit", json!({"categories": ["nodes"]}), true),
        ("list_variables", json!({}), false),
        ("list_projects", json!({}), false),
        ("update_variable", json!({"id": "abc", "key": "K", "value": "v"}), false),
        ("delete_variable", json!({"id": "abc"}), false),
        ("read_data_table_rows", json!({"id": "AAAAAAAAAAAAAAAA"}), false),
        ("get_execution", json!({"id": "999999999"}), false),
        ("retry_execution", json!({"id": "999999999"}), false),
    ];
    for transport in [Transport::Stdio, Transport::Http] {
        let s = writer().start(transport).await;
        assert_eq!(s.tool_names().await.len(), 46);
        for (tool, args, ok) in &calls {
            if *ok {
                s.ok(tool, args.clone()).await;
            } else {
                let err = s.fails(tool, args.clone()).await;
                assert!(err.contains("licence") || err.contains("not found"), "{tool}: {err}");
            }
        }
    }
}
