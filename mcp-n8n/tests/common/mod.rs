//! What every test shares: the n8n instance started by `scripts/lib.sh` (`start_n8n`),
//! a launcher for the connector, unique names (the instance is shared and never assumed
//! empty), and workflow bodies.
#![allow(dead_code)]

use std::sync::atomic::{AtomicU32, Ordering};

use mcp_core::testing::{Connector, Launcher};
use serde_json::{Value, json};

/// `(url, api key)` of the test instance; panics with the way to start one.
pub fn instance() -> (String, String) {
    match (std::env::var("MCP_TEST_N8N_URL"), std::env::var("MCP_TEST_N8N_API_KEY")) {
        (Ok(u), Ok(k)) if !u.is_empty() && !k.is_empty() => (u, k),
        _ => panic!(
            "these tests need a real n8n: `source scripts/lib.sh; start_n8n` exports MCP_TEST_N8N_URL and \
             MCP_TEST_N8N_API_KEY (scripts/test.sh does it)"
        ),
    }
}

pub fn env(name: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| panic!("{name} is not set: start n8n with scripts/lib.sh's start_n8n"))
}

/// The connector on the test instance with its API key alone (no login: node types from
/// the offline catalogue, no run by id); read-only.
pub fn api_key_only() -> Launcher {
    let (url, key) = instance();
    Launcher::new(env!("CARGO_BIN_EXE_mcp-n8n"))
        .env_remove("N8N_API_KEY_FILE")
        .env_remove("MCP_N8N_INSTANCES_FILE")
        .env_remove("MCP_N8N_SCOPE_TAG")
        .env_remove("MCP_N8N_CATALOGUE")
        .env_remove("N8N_EMAIL")
        .env_remove("N8N_PASSWORD")
        .env_remove("N8N_PASSWORD_FILE")
        .env("N8N_API_URL", url)
        .env("N8N_API_KEY", key)
}

/// The connector on the test instance, with a login (node types, run by id); read-only.
pub fn launcher() -> Launcher {
    api_key_only().env("N8N_EMAIL", env("MCP_TEST_N8N_EMAIL")).env("N8N_PASSWORD", env("MCP_TEST_N8N_PASSWORD"))
}

/// The same with --allow-write.
pub fn writer() -> Launcher {
    launcher().arg("--allow-write")
}

/// A name no other test (or earlier run) uses.
pub fn unique(prefix: &str) -> String {
    static N: AtomicU32 = AtomicU32::new(0);
    let nanos =
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.subsec_nanos()).unwrap_or(0);
    format!("{prefix}-{}-{}-{}", std::process::id(), N.fetch_add(1, Ordering::Relaxed), nanos % 100_000)
}

/// Creates `wf` (a body from the functions below); what create_workflow answered.
pub async fn created(s: &Connector, wf: &Value) -> Value {
    s.ok("create_workflow", json!({"name": wf["name"], "nodes": wf["nodes"], "connections": wf["connections"]})).await
}

/// Creates `wf`; its id.
pub async fn create(s: &Connector, wf: &Value) -> String {
    created(s, wf).await["id"].as_str().expect("the created workflow's id").to_string()
}

/// Creates a [`webhook_workflow`] named after `prefix`, listening on `path`; its id.
pub async fn create_webhook(s: &Connector, prefix: &str, path: &str) -> String {
    create(s, &webhook_workflow(&unique(prefix), path)).await
}

/// Webhook (POST /webhook/<path>, answers with the last node's output) -> `next`.
fn after_webhook(name: &str, path: &str, next: Value) -> Value {
    let target = next["name"].clone();
    json!({
        "name": name,
        "nodes": [
            {"name": "Hook", "type": "n8n-nodes-base.webhook", "typeVersion": 2, "position": [0, 0],
             "parameters": {"path": path, "httpMethod": "POST", "responseMode": "lastNode"}, "webhookId": path},
            next,
        ],
        "connections": {"Hook": {"main": [[{"node": target, "type": "main", "index": 0}]]}},
    })
}

/// Webhook -> Set (adds `greeting` from the body's `name`).
pub fn webhook_workflow(name: &str, path: &str) -> Value {
    let greet = json!({"name": "Greet", "type": "n8n-nodes-base.set", "typeVersion": 3.4, "position": [220, 0],
        "parameters": {"assignments": {"assignments": [
            {"id": "a1", "name": "greeting", "value": "={{ 'hello ' + $json.body.name }}", "type": "string"}]},
            "includeOtherFields": false}});
    after_webhook(name, path, greet)
}

/// Webhook -> Stop and Error with `message`: every run fails in `Fail`.
pub fn failing_workflow(name: &str, path: &str, message: &str) -> Value {
    let fail = json!({"name": "Fail", "type": "n8n-nodes-base.stopAndError", "typeVersion": 1, "position": [220, 0],
        "parameters": {"errorMessage": message}});
    after_webhook(name, path, fail)
}

/// Manual trigger -> Set: runs only by id.
pub fn manual_workflow(name: &str) -> Value {
    json!({
        "name": name,
        "nodes": [
            {"name": "Start", "type": "n8n-nodes-base.manualTrigger", "typeVersion": 1, "position": [0, 0], "parameters": {}},
            {"name": "Set", "type": "n8n-nodes-base.set", "typeVersion": 3.4, "position": [220, 0],
             "parameters": {"assignments": {"assignments": [{"id": "a1", "name": "x", "value": "1", "type": "string"}]}}},
        ],
        "connections": {"Start": {"main": [[{"node": "Set", "type": "main", "index": 0}]]}},
    })
}

/// The workflow `id` as n8n stores it, read past the connector (its public API, with the
/// test key): what a refused call must have left alone.
pub async fn stored(id: &str) -> Value {
    let (url, key) = instance();
    let response = reqwest::Client::new()
        .get(format!("{url}/api/v1/workflows/{id}"))
        .header("X-N8N-API-KEY", key)
        .send()
        .await
        .unwrap_or_else(|e| panic!("GET workflow {id} from n8n: {e}"));
    assert!(response.status().is_success(), "GET workflow {id}: {}", response.status());
    response.json().await.unwrap_or_else(|e| panic!("workflow {id} as JSON: {e}"))
}
