//! Every tool's result is typed: tools/list gives each one a specific output schema (an
//! object with described properties, or a choice of such objects), never the generic
//! `{"type": "object"}` of an untyped result.

mod common;

use common::writer;
use mcp_core::testing::Transport;
use serde_json::Value;

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
    assert_eq!(tools.len(), 45);
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
