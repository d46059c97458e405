//! Every tool of every connector has schemas every client accepts: nothing the official
//! Inspector's `--strict` check flags (a bare `true`, a type list, a format JSON Schema
//! does not define), and input schemas in the subset model providers' function calling
//! takes (an object at the root without combinators there, no references); and tabular
//! results whose rows a validating client checks once, not row by row.

mod common;

use common::{Cluster, launcher};
use integration_tests::CONNECTORS;
use mcp_core::protocol::portable_schema::problems;
use mcp_core::testing::Transport;
use serde_json::Value;

/// Whether `schema` holds a `$ref` anywhere.
fn has_ref(schema: &Value) -> bool {
    match schema {
        Value::Object(map) => map.contains_key("$ref") || map.values().any(has_ref),
        Value::Array(items) => items.iter().any(has_ref),
        _ => false,
    }
}

#[tokio::test]
async fn every_tool_schema_is_portable() {
    let cluster = Cluster::start().await;
    let mut found = Vec::new();
    let mut tools_seen = 0;
    let export_dir = tempfile::tempdir().expect("a temp dir");
    let export = export_dir.path().display().to_string();
    // The operator's own tools too: their schemas are built from the file, not derived.
    let tools_file = concat!(env!("CARGO_MANIFEST_DIR"), "/../mcp-postgres/examples/tools.toml");
    for connector in CONNECTORS {
        // Every tier, so that every tool is listed.
        let all_tools: &[&str] = match connector {
            "mcp-postgres" => &["--allow-write", "--export-dir", &export, "--tools-file", tools_file],
            "mcp-kubernetes" => &["--allow-write", "--allow-destructive"],
            _ => &["--allow-write"],
        };
        let c = launcher(connector, &cluster).args(all_tools.iter().copied()).start(Transport::Stdio).await;
        let tools = c.client.list_tools().await.expect("tools/list");
        tools_seen += tools.len();
        for tool in tools {
            let input = &tool.input_schema;
            for problem in problems(input) {
                found.push(format!("{connector} {} inputSchema{problem}", tool.name));
            }
            if input.get("type").and_then(Value::as_str) != Some("object") {
                found.push(format!("{connector} {}: the input schema's root is not an object", tool.name));
            }
            for combinator in ["anyOf", "oneOf", "allOf", "not", "enum", "if"] {
                if input.get(combinator).is_some() {
                    found.push(format!("{connector} {}: `{combinator}` at the input schema's root", tool.name));
                }
            }
            if has_ref(input) {
                found.push(format!("{connector} {}: a $ref in the input schema", tool.name));
            }
            if let Some(output) = &tool.output_schema {
                for problem in problems(output) {
                    found.push(format!("{connector} {} outputSchema{problem}", tool.name));
                }
                // A validating client checks a schema under `items` once per row: a
                // tabular result's rows must cost it one check (issue 24).
                if output["properties"]["rows"].get("items").is_some() {
                    found.push(format!("{connector} {}: outputSchema checks `rows` row by row", tool.name));
                }
            }
        }
        drop(c);
    }
    assert!(tools_seen > 130, "only {tools_seen} tools listed");
    assert!(found.is_empty(), "{} unportable schemas:\n{}", found.len(), found.join("\n"));
}
