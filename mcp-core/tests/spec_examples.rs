//! The protocol types against the specification's own JSON examples (2026-07-28).

use std::path::PathBuf;

use mcp_core::protocol::{CallToolResult, Message, Tool, parse_message};
use serde_json::Value;

fn examples_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../shared/mcp-spec/examples-2026-07-28")
}

fn examples() -> Vec<(String, Value)> {
    let mut out = Vec::new();
    let dir =
        std::fs::read_dir(examples_dir()).expect("../shared/mcp-spec/examples-2026-07-28 must exist beside the clone");
    for kind in dir {
        let kind = kind.expect("dir entry");
        let name = kind.file_name().to_string_lossy().to_string();
        for file in std::fs::read_dir(kind.path()).expect("example folder") {
            let path = file.expect("file").path();
            let text = std::fs::read_to_string(&path).expect("example text");
            let value: Value = serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            out.push((name.clone(), value));
        }
    }
    out
}

#[test]
fn every_jsonrpc_example_parses_and_round_trips() {
    let mut checked = 0;
    for (kind, value) in examples() {
        if value.get("jsonrpc").is_none() {
            continue;
        }
        let bytes = serde_json::to_vec(&value).expect("json");
        let msg = parse_message(&bytes).unwrap_or_else(|r| panic!("{kind}: rejected: {}", r.error.message));
        let again: Value = serde_json::from_slice(&msg.to_vec()).expect("json");
        assert_eq!(again, value, "{kind} did not round-trip");
        match (&msg, kind.as_str()) {
            (Message::Request(_), k) => assert!(k.ends_with("Request"), "{k} parsed as a request"),
            (Message::Notification(_), k) => assert!(k.ends_with("Notification"), "{k} parsed as a notification"),
            (Message::Response(r), k) => {
                assert!(k.ends_with("Response") || k.ends_with("Error"), "{k} parsed as a response");
                if k.ends_with("Error") {
                    assert!(r.outcome.is_err(), "{k} should be an error");
                }
            }
        }
        checked += 1;
    }
    assert!(checked >= 30, "only {checked} JSON-RPC examples found");
}

#[test]
fn tool_and_result_examples_deserialize_into_typed_values() {
    let mut tools = 0;
    let mut results = 0;
    for (kind, value) in examples() {
        match kind.as_str() {
            "Tool" => {
                let tool: Tool = serde_json::from_value(value.clone()).unwrap_or_else(|e| panic!("Tool: {e}"));
                assert_eq!(serde_json::to_value(&tool).expect("json")["name"], value["name"]);
                tools += 1;
            }
            "CallToolResult" => {
                let mut v = value.clone();
                if let Value::Object(m) = &mut v {
                    m.remove("resultType");
                    m.remove("_meta");
                }
                let r: CallToolResult = serde_json::from_value(v).unwrap_or_else(|e| panic!("CallToolResult: {e}"));
                assert!(!r.content.is_empty() || r.structured_content.is_some());
                results += 1;
            }
            _ => {}
        }
    }
    assert!(tools > 0 && results > 0, "tools {tools}, results {results}");
}
