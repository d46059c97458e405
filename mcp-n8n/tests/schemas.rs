//! Every tool's result is typed: tools/list gives each one a specific output schema (an
//! object with described properties, or a choice of such objects), never the generic
//! `{"type": "object"}` of an untyped result.

mod common;

use common::writer;
use mcp_core::testing::Transport;
use serde_json::{Value, json};

/// The object schemas a result may be: the schema itself, or each of its `anyOf`.
fn objects(schema: &Value) -> Vec<&Value> {
    match schema["anyOf"].as_array() {
        Some(choices) => choices.iter().collect(),
        None => vec![schema],
    }
}

#[tokio::test]
async fn every_tool_has_a_specific_output_schema() {
    let s = writer().start(Transport::Stdio).await;
    let tools = s.client.list_tools().await.expect("tools/list");
    assert_eq!(tools.len(), 46);
    for tool in &tools {
        let schema = tool.output_schema.as_ref().unwrap_or_else(|| panic!("{}: no output schema", tool.name));
        for object in objects(schema) {
            let properties = object["properties"].as_object();
            assert!(properties.is_some_and(|p| !p.is_empty()), "{}: not a specific object: {schema}", tool.name);
            for (name, property) in properties.into_iter().flatten() {
                assert!(property["description"].is_string(), "{}.{name} has no description: {schema}", tool.name);
            }
        }
    }
    // Statuses and modes are enums of n8n's wire strings, not free strings.
    let list = tools.iter().find(|t| t.name == "list_executions").and_then(|t| t.output_schema.clone());
    let status = &list.unwrap_or_default()["properties"]["executions"]["items"]["properties"]["status"];
    let values: Vec<&str> =
        status["oneOf"].as_array().into_iter().flatten().filter_map(|v| v["const"].as_str()).collect();
    for wire in ["success", "error", "running", "waiting", "canceled", "crashed", "new"] {
        assert!(values.contains(&wire), "{wire} missing from {status}");
    }
}

/// Why `value` does not conform to `schema` (the subset of JSON Schema schemars writes:
/// type, const, oneOf/anyOf, properties, required, items), if it does not.
fn mismatch(value: &Value, schema: &Value, at: &str) -> Option<String> {
    if let Some(choices) = schema["anyOf"].as_array().or(schema["oneOf"].as_array()) {
        let fits = choices.iter().any(|choice| mismatch(value, choice, at).is_none());
        return (!fits).then(|| format!("{at}: {value} is none of {schema}"));
    }
    if let Some(c) = schema.get("const") {
        return (c != value).then(|| format!("{at}: {value} is not {c}"));
    }
    let kind = match value {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(n) if n.is_i64() || n.is_u64() => "integer",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    };
    let allowed: Vec<&str> = match &schema["type"] {
        Value::String(t) => vec![t.as_str()],
        Value::Array(ts) => ts.iter().filter_map(Value::as_str).collect(),
        _ => vec![],
    };
    let integer_as_number = kind == "integer" && allowed.contains(&"number");
    if !allowed.is_empty() && !allowed.contains(&kind) && !integer_as_number {
        return Some(format!("{at}: {value} is a {kind}, not {allowed:?}"));
    }
    if let Value::Object(map) = value {
        for required in schema["required"].as_array().into_iter().flatten().filter_map(Value::as_str) {
            if !map.contains_key(required) {
                return Some(format!("{at}: `{required}` is missing"));
            }
        }
        for (key, member) in map {
            if let Some(sub) = schema["properties"].get(key)
                && let Some(why) = mismatch(member, sub, &format!("{at}.{key}"))
            {
                return Some(why);
            }
        }
    }
    if let (Value::Array(items), Some(sub)) = (value, schema.get("items")) {
        return items.iter().enumerate().find_map(|(i, item)| mismatch(item, sub, &format!("{at}[{i}]")));
    }
    None
}

/// Results of a workflow's whole life, and of the other tools, conform to the schemas
/// tools/list gives.
#[tokio::test]
async fn results_conform_to_their_output_schemas() {
    let s = writer().start(Transport::Stdio).await;
    let tools = s.client.list_tools().await.expect("tools/list");
    let checked = |tool: &'static str, args: Value| {
        let schema = tools.iter().find(|t| t.name == tool).and_then(|t| t.output_schema.clone());
        let s = &s;
        async move {
            let value = s.ok(tool, args).await;
            if let Some(why) = mismatch(&value, &schema.unwrap_or_default(), tool) {
                panic!("{why}\n{value}");
            }
            value
        }
    };
    let wf = common::webhook_workflow(&common::unique("schemas"), &common::unique("schema-hook"));
    let created =
        checked("create_workflow", json!({"name": wf["name"], "nodes": wf["nodes"], "connections": wf["connections"]}));
    let created = created.await;
    let (id, first) = (created["id"].as_str().expect("id"), created["version_id"].clone());
    for (tool, args) in [
        ("get_workflow", json!({"id": id})),
        ("get_workflow", json!({"id": id, "mode": "full"})),
        ("get_workflow", json!({"id": id, "nodes": ["Greet"]})),
        ("list_workflows", json!({"limit": 2})),
        ("workflow_versions", json!({"id": id})),
        (
            "edit_workflow",
            json!({"id": id, "validate_only": true, "operations": [{"op": "rename_workflow", "name": "x"}]}),
        ),
        ("update_workflow", json!({"id": id, "name": common::unique("schemas-renamed")})),
        ("rollback_workflow", json!({"id": id, "version_id": first})),
        ("set_workflow_tags", json!({"id": id, "tags": ["mcp-test"]})),
        ("publish_workflow", json!({"id": id})),
    ] {
        checked(tool, args).await;
    }
    let run = checked("run_webhook", json!({"workflow_id": id, "body": {"name": "Ada"}})).await;
    let exec = run["execution_id"].as_str().expect("an execution").to_string();
    for (tool, args) in [
        ("wait_execution", json!({"id": exec, "timeout_secs": 30})),
        ("get_execution", json!({"id": exec, "mode": "preview"})),
        ("get_execution", json!({"id": exec, "mode": "full"})),
        ("list_executions", json!({"workflow_id": id})),
        ("stop_execution", json!({"id": exec})),
        ("unpublish_workflow", json!({"id": id})),
        ("archive_workflow", json!({"id": id})),
        ("unarchive_workflow", json!({"id": id})),
        ("health", json!({})),
        ("list_tags", json!({"limit": 5})),
        ("list_users", json!({})),
        ("list_credentials", json!({"limit": 5})),
        ("list_data_tables", json!({"limit": 5})),
        ("search_nodes", json!({"query": "http"})),
        ("describe_node", json!({"type": "n8n-nodes-base.set"})),
        ("validate_workflow", json!({"id": id, "for_publish": true})),
        ("credential_schema", json!({"type": "httpBasicAuth"})),
        ("security_audit", json!({"categories": ["instance"]})),
        ("delete_execution", json!({"id": exec})),
        ("delete_workflow", json!({"id": id})),
    ] {
        checked(tool, args).await;
    }
    let tag = checked("create_tag", json!({"name": common::unique("t").chars().rev().take(20).collect::<String>()}));
    let tag = tag.await["id"].clone();
    checked("rename_tag", json!({"id": tag, "name": common::unique("r").chars().rev().take(20).collect::<String>()}))
        .await;
    checked("delete_tag", json!({"id": tag})).await;
    let columns = json!([{"name": "n", "type": "number"}]);
    let table = checked("create_data_table", json!({"name": common::unique("schemas"), "columns": columns})).await;
    checked("insert_data_table_rows", json!({"id": table["id"], "rows": [{"n": 1}, {"n": 2}]})).await;
    checked("read_data_table_rows", json!({"id": table["id"]})).await;
    let data = json!({"user": "u", "password": "p"});
    let credential =
        checked("create_credential", json!({"name": common::unique("schemas"), "type": "httpBasicAuth", "data": data}));
    checked("delete_credential", json!({"id": credential.await["id"]})).await;
    let manual = common::create(&s, &common::manual_workflow(&common::unique("schemas-manual"))).await;
    checked("run_workflow", json!({"id": manual, "wait": true})).await;
    checked("run_workflow", json!({"id": manual})).await;
    checked("test_workflow", json!({"id": manual, "items": [{"a": 1}]})).await;
    checked("delete_workflow", json!({"id": manual})).await;
}
