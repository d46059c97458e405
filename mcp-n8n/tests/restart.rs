//! n8n stopped in the middle of a session and started again: calls fail clearly while it
//! is down, and the next call after it is back works (with a new login session).

mod common;

use std::time::Duration;

use common::writer;
use mcp_core::testing::{Transport, skip};
use serde_json::json;

fn sh(cmd: &str) -> bool {
    std::process::Command::new("sh").arg("-c").arg(cmd).status().is_ok_and(|s| s.success())
}

#[tokio::test]
async fn n8n_stopped_and_restarted_mid_session() {
    let (Ok(start), Ok(pidfile)) = (std::env::var("MCP_TEST_N8N_START"), std::env::var("MCP_TEST_N8N_PIDFILE")) else {
        return skip(
            "n8n_stopped_and_restarted_mid_session",
            "this n8n was not started by start_n8n (no MCP_TEST_N8N_START to restart it)",
        );
    };
    let s = writer().start(Transport::Stdio).await;
    // A first call logs in and caches the node types.
    s.ok("search_nodes", json!({"query": "webhook"})).await;
    s.ok("list_workflows", json!({"limit": 1})).await;

    let pid = std::fs::read_to_string(&pidfile).expect("pidfile").trim().to_string();
    assert!(sh(&format!("kill {pid}")), "could not stop n8n ({pid})");
    for _ in 0..300 {
        if !sh(&format!("kill -0 {pid} 2>/dev/null")) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let err = s.fails("list_workflows", json!({})).await;
    assert!(err.contains("not reachable") && err.contains("is n8n running"), "{err}");
    let h = s.ok("health", json!({})).await;
    assert_eq!(h["healthy"], false);

    assert!(sh(&start), "restart failed");
    let mut back = false;
    for _ in 0..600 {
        let h = s.call("health", json!({})).await;
        if h.structured_content.as_ref().is_some_and(|v| v["healthy"] == true) {
            back = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(back, "n8n did not come back within 60 s");
    s.ok("list_workflows", json!({"limit": 1})).await;
    // The internal API's session is renewed transparently.
    let wf = common::manual_workflow(&common::unique("after-restart"));
    let id = common::create(&s, &wf).await;
    let ran = s.ok("run_workflow", json!({"id": id, "wait": true})).await;
    assert_eq!(ran["status"], "success", "{ran}");
    s.ok("delete_workflow", json!({"id": id})).await;
}
