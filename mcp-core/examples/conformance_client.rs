//! The client under test in the official conformance suite's client mode:
//!
//! ```sh
//! npx conformance client --command "target/debug/examples/conformance_client" --scenario tools_call
//! ```
//!
//! The suite appends the server URL, names the scenario in `MCP_CONFORMANCE_SCENARIO`,
//! passes scenario data in `MCP_CONFORMANCE_CONTEXT` and the revision to speak in
//! `MCP_CONFORMANCE_PROTOCOL_VERSION`. Everything protocol-related is this crate's
//! `Client`, the library the `mcp` command is built on; this file only decides what to do
//! in each scenario, as a user of the client would.

use std::process::ExitCode;
use std::sync::Arc;

use mcp_core::client::{Client, ClientOptions, EraChoice, elicitation_content};
use mcp_core::protocol::{ErrorObject, Tool};
use serde_json::{Map, Value, json};

#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    let _ = tracing_subscriber::fmt().with_writer(std::io::stderr).with_ansi(false).try_init();
    match run().await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!("{e}");
            ExitCode::FAILURE
        }
    }
}

async fn run() -> Result<(), String> {
    let url = std::env::args().next_back().filter(|a| a.starts_with("http")).ok_or("usage: conformance_client URL")?;
    let scenario = std::env::var("MCP_CONFORMANCE_SCENARIO").unwrap_or_default();
    let context: Value = std::env::var("MCP_CONFORMANCE_CONTEXT")
        .ok()
        .and_then(|c| serde_json::from_str(&c).ok())
        .unwrap_or(Value::Null);
    let era = match std::env::var("MCP_CONFORMANCE_PROTOCOL_VERSION").ok().as_deref() {
        Some("2026-07-28") => EraChoice::Stateless,
        Some(_) => EraChoice::Handshake,
        None => EraChoice::Auto,
    };
    let options = ClientOptions { era, on_input: Some(Arc::new(answer_input)), ..Default::default() };
    let client = Client::connect_http(&url, options).await.map_err(|e| format!("connect: {e}"))?;
    let outcome = exercise(&client, &scenario, &context).await;
    client.close().await;
    outcome
}

/// Accepts elicitations with the schema's defaults (plus `confirmed: true` for the
/// confirmation prompts of the multi round-trip scenarios), and answers sampling and roots.
fn answer_input(
    method: String,
    params: Value,
) -> std::pin::Pin<Box<dyn std::future::Future<Output = Result<Value, ErrorObject>> + Send>> {
    Box::pin(async move {
        match method.as_str() {
            "elicitation/create" => {
                let mut given = json!({});
                if params.pointer("/requestedSchema/properties/confirmed").is_some() {
                    given = json!({"confirmed": true});
                }
                Ok(json!({"action": "accept", "content": elicitation_content(&params, &given)}))
            }
            "sampling/createMessage" => Ok(json!({
                "role": "assistant",
                "content": {"type": "text", "text": "sampled"},
                "model": "conformance-client",
                "stopReason": "endTurn"
            })),
            "roots/list" => Ok(json!({"roots": []})),
            other => Err(ErrorObject::method_not_found(other)),
        }
    })
}

async fn exercise(client: &Client, scenario: &str, context: &Value) -> Result<(), String> {
    let tools = client.list_tools().await.map_err(|e| format!("tools/list: {e}"))?;
    let call = |name: &str, args: Value| {
        let name = name.to_string();
        async move { client.call_tool(&name, args).await.map(drop).map_err(|e| format!("tools/call {name}: {e}")) }
    };
    match scenario {
        "initialize" | "json-schema-ref-no-deref" => Ok(()),
        "tools_call" => call("add_numbers", json!({"a": 5, "b": 3})).await,
        "json-schema-2020-12-preservation" => {
            let focal = tools.iter().find(|t| t.name != "json_schema_echo").ok_or("no focal tool listed")?;
            call("json_schema_echo", json!({"schema": focal.input_schema})).await
        }
        "sep-2322-client-request-state" => {
            for name in
                ["test_mrtr_echo_state", "test_mrtr_unrelated", "test_mrtr_no_state", "test_mrtr_no_result_type"]
            {
                call(name, json!({})).await?;
            }
            Ok(())
        }
        "http-custom-headers" => {
            let calls = context.get("toolCalls").and_then(Value::as_array).ok_or("no toolCalls in the context")?;
            for c in calls {
                let name = c.get("name").and_then(Value::as_str).ok_or("a toolCall without a name")?;
                call(name, c.get("arguments").cloned().unwrap_or(json!({}))).await?;
            }
            Ok(())
        }
        "http-standard-headers" => {
            if let Some(tool) = tools.first() {
                call(&tool.name, example_arguments(tool)).await?;
            }
            let resources = client.list_resources().await.map_err(|e| format!("resources/list: {e}"))?;
            if let Some(uri) = resources.first().and_then(|r| r.get("uri")).and_then(Value::as_str) {
                client.read_resource(uri).await.map_err(|e| format!("resources/read: {e}"))?;
            }
            let prompts = client.list_prompts().await.map_err(|e| format!("prompts/list: {e}"))?;
            if let Some(name) = prompts.first().and_then(|p| p.get("name")).and_then(Value::as_str) {
                client.get_prompt(name, json!({})).await.map_err(|e| format!("prompts/get: {e}"))?;
            }
            Ok(())
        }
        // Everything else: call each listed tool with arguments its schema accepts.
        _ => {
            for tool in &tools {
                call(&tool.name, example_arguments(tool)).await?;
            }
            Ok(())
        }
    }
}

/// Arguments for a tool's required parameters: the first enum value, else a value of
/// the declared type.
fn example_arguments(tool: &Tool) -> Value {
    let schema = &tool.input_schema;
    let mut args = Map::new();
    for key in schema.get("required").and_then(Value::as_array).into_iter().flatten().filter_map(Value::as_str) {
        let prop = &schema["properties"][key];
        let value = prop.get("enum").and_then(|e| e.get(0)).cloned().unwrap_or_else(|| {
            match prop.get("type").and_then(Value::as_str) {
                Some("integer" | "number") => json!(1),
                Some("boolean") => json!(true),
                Some("object") => json!({}),
                Some("array") => json!([]),
                _ => json!("example"),
            }
        });
        args.insert(key.to_string(), value);
    }
    Value::Object(args)
}
