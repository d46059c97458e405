//! The whole life of a workflow against a real n8n, over every transport: create ->
//! validate -> publish -> run via webhook -> execution data -> partial update ->
//! versions and rollback -> unpublish -> archive -> delete.

mod common;

use std::sync::{Arc, Mutex};

use common::{unique, webhook_workflow, writer};
use mcp_core::client::{ClientOptions, NotificationHandler};
use mcp_core::testing::TRANSPORTS;
use serde_json::{Value, json};

#[tokio::test]
async fn a_workflow_from_creation_to_deletion() {
    let launcher = writer();
    for transport in TRANSPORTS {
        let s = launcher.start(transport).await;
        let name = unique("flow");
        let path = unique("flow-hook");
        let wf = webhook_workflow(&name, &path);

        // Validate first: a good workflow has no errors, and can be published.
        let v = s.ok("validate_workflow", json!({"workflow": wf, "for_publish": true})).await;
        assert_eq!(v["valid"], true, "{v}");

        let created = s
            .ok(
                "create_workflow",
                json!({"name": name, "nodes": wf["nodes"], "connections": wf["connections"], "tags": ["mcp-test"]}),
            )
            .await;
        let id = created["id"].as_str().expect("an id").to_string();
        assert_eq!(created["tags"], json!(["mcp-test"]));
        assert_eq!(created["edges"], json!(["Hook -> Greet"]));

        // Compact read shows nodes, edges and the webhook URLs; the list finds it by name.
        let got = s.ok("get_workflow", json!({"id": id})).await;
        assert_eq!(got["nodes"].as_array().map(Vec::len), Some(2));
        assert!(
            got["webhooks"][0]["production"].as_str().is_some_and(|u| u.ends_with(&format!("/webhook/{path}"))),
            "{got}"
        );
        let listed = s.ok("list_workflows", json!({"name": name})).await;
        assert_eq!(listed["workflows"][0]["id"], id.as_str(), "{listed}");
        assert_eq!(listed["workflows"][0]["triggers"], json!(["n8n-nodes-base.webhook"]));
        let full = s.ok("get_workflow", json!({"id": id, "mode": "full"})).await;
        assert_eq!(full["nodes"][1]["parameters"]["assignments"]["assignments"][0]["name"], "greeting");
        let one = s.ok("get_workflow", json!({"id": id, "nodes": ["Greet"]})).await;
        assert_eq!(one["nodes"].as_array().map(Vec::len), Some(1));

        // Before publishing, the production webhook is not registered: a clear error.
        let err = s.fails("run_webhook", json!({"workflow_id": id, "body": {"name": "x"}})).await;
        assert!(err.contains("not registered") && err.contains("publish_workflow"), "{err}");

        let published = s.ok("publish_workflow", json!({"id": id})).await;
        assert_eq!(published["active"], true, "{published}");

        let run = s.ok("run_webhook", json!({"workflow_id": id, "body": {"name": "Ada"}})).await;
        assert_eq!(run["status"], 200, "{run}");
        assert_eq!(run["body"]["greeting"], "hello Ada", "{run}");
        let exec_id = run["execution_id"].as_str().expect("the execution the call started").to_string();

        let waited = s.ok("wait_execution", json!({"id": exec_id, "timeout_secs": 30})).await;
        assert_eq!(waited["status"], "success", "{waited}");
        let summary = s.ok("get_execution", json!({"id": exec_id})).await;
        assert_eq!(summary["last_node"], "Greet");
        assert_eq!(summary["last_output"]["items"][0]["greeting"], "hello Ada", "{summary}");
        let full = s.ok("get_execution", json!({"id": exec_id, "mode": "full", "nodes": ["Hook"]})).await;
        assert_eq!(full["data"]["Hook"][0]["outputs"][0]["items"][0]["body"]["name"], "Ada", "{full}");
        assert!(full["data"].get("Greet").is_none(), "only the nodes asked for: {full}");
        let preview = s.ok("get_execution", json!({"id": exec_id, "mode": "preview"})).await;
        assert!(
            preview.get("last_output").is_none() && preview["nodes"].as_array().map(Vec::len) == Some(2),
            "{preview}"
        );
        let listed = s.ok("list_executions", json!({"workflow_id": id})).await;
        assert!(
            listed["executions"].as_array().is_some_and(|e| e.iter().any(|x| x["id"] == exec_id.as_str())),
            "{listed}"
        );

        // A partial update: a third node wired after Greet, and a renamed node; the
        // connections follow the rename.
        let before = got["version_id"].as_str().expect("version id").to_string();
        let edited = s
            .ok(
                "edit_workflow",
                json!({"id": id, "operations": [
                    {"op": "add_node", "node": {"name": "Tail", "type": "n8n-nodes-base.noOp", "typeVersion": 1, "position": [440, 0]}},
                    {"op": "connect", "from": "Greet", "to": "Tail"},
                    {"op": "rename_node", "name": "Greet", "new_name": "Hello"},
                    {"op": "update_node", "name": "Hello", "parameters": {"includeOtherFields": true}},
                    {"op": "update_settings", "settings": {"executionOrder": "v1"}},
                ]}),
            )
            .await;
        assert_eq!(edited["edges"], json!(["Hello -> Tail", "Hook -> Hello"]), "{edited}");
        assert_eq!(edited["previous_version_id"], before.as_str());

        // The snapshot and n8n's history both know the earlier version; roll back to it.
        let versions = s.ok("workflow_versions", json!({"id": id})).await;
        assert!(versions.to_string().contains(&before), "{versions}");
        let old = s.ok("get_workflow_version", json!({"id": id, "version_id": before})).await;
        assert_eq!(old["edges"], json!(["Hook -> Greet"]), "{old}");
        let rolled = s.ok("rollback_workflow", json!({"id": id, "version_id": before})).await;
        assert_eq!(rolled["edges"], json!(["Hook -> Greet"]), "{rolled}");

        let full_update = s.ok("update_workflow", json!({"id": id, "name": format!("{name}-renamed")})).await;
        assert_eq!(full_update["name"], format!("{name}-renamed"));
        let tags = s.ok("set_workflow_tags", json!({"id": id, "tags": ["mcp-test", "mcp-test-2"]})).await;
        assert_eq!(tags["tags"].as_array().map(Vec::len), Some(2), "{tags}");

        let un = s.ok("unpublish_workflow", json!({"id": id})).await;
        assert_eq!(un["active"], false);
        let ar = s.ok("archive_workflow", json!({"id": id})).await;
        assert_eq!(ar["archived"], true, "{ar}");
        let unar = s.ok("unarchive_workflow", json!({"id": id})).await;
        assert_eq!(unar["archived"], false, "{unar}");

        let deleted_exec = s.ok("delete_execution", json!({"id": exec_id})).await;
        assert_eq!(deleted_exec["deleted"], true);
        let gone = s.fails("get_execution", json!({"id": exec_id})).await;
        assert!(gone.contains("not found"), "{gone}");

        let del = s.ok("delete_workflow", json!({"id": id})).await;
        assert_eq!(del["deleted"], true);
        let gone = s.fails("get_workflow", json!({"id": id})).await;
        assert!(gone.contains("not found"), "{gone}");
    }
}

#[tokio::test]
async fn run_by_id_waits_and_retry_and_stop() {
    let s = writer().start(mcp_core::testing::Transport::Stdio).await;
    let wf = common::manual_workflow(&unique("manual"));
    let created = common::created(&s, &wf).await;
    let id = created["id"].as_str().expect("id").to_string();
    let ran = s.ok("run_workflow", json!({"id": id, "wait": true, "timeout_secs": 60})).await;
    assert_eq!(ran["status"], "success", "{ran}");
    assert_eq!(ran["last_output"]["items"][0]["x"], "1", "{ran}");
    let started = s.ok("run_workflow", json!({"id": id})).await;
    let exec = started["execution_id"].as_str().expect("execution id").to_string();
    let waited = s.ok("wait_execution", json!({"id": exec})).await;
    assert_eq!(waited["status"], "success");
    // Stopping a finished execution says so instead of failing.
    let stop = s.ok("stop_execution", json!({"id": exec})).await;
    assert!(stop["note"].as_str().is_some_and(|n| n.contains("already finished")), "{stop}");
    s.ok("delete_workflow", json!({"id": id})).await;
}

#[tokio::test]
async fn a_running_execution_is_watched_then_stopped() {
    let seen: Arc<Mutex<Vec<Value>>> = Arc::default();
    let sink = seen.clone();
    let handler: NotificationHandler = Arc::new(move |n| {
        if n.method == "notifications/progress"
            && let Ok(mut seen) = sink.lock()
        {
            seen.push(n.params.clone().map(Value::Object).unwrap_or_default());
        }
    });
    let options = ClientOptions { on_notification: Some(handler), ..Default::default() };
    let s = writer().options(options).start(mcp_core::testing::Transport::Http).await;
    let name = unique("slow");
    let nodes = json!([
        {"name": "Start", "type": "n8n-nodes-base.manualTrigger", "typeVersion": 1, "position": [0, 0], "parameters": {}},
        {"name": "Pause", "type": "n8n-nodes-base.wait", "typeVersion": 1.1, "position": [220, 0],
         "parameters": {"resume": "timeInterval", "amount": 30, "unit": "seconds"}, "webhookId": name},
    ]);
    let connections = json!({"Start": {"main": [[{"node": "Pause", "type": "main", "index": 0}]]}});
    let id = s.ok("create_workflow", json!({"name": name, "nodes": nodes, "connections": connections})).await["id"]
        .as_str()
        .expect("id")
        .to_string();
    let started = s.ok("run_workflow", json!({"id": id})).await;
    let exec = started["execution_id"].as_str().expect("execution id").to_string();
    let params = json!({"name": "wait_execution", "arguments": {"id": exec, "timeout_secs": 2}, "_meta": {"progressToken": "w-1"}});
    let result = s.client.request("tools/call", params.as_object().cloned().unwrap_or_default()).await.expect("wait");
    let waited = result["structuredContent"].clone();
    assert_eq!(waited["finished"], false, "{waited}");
    let progress = seen.lock().map(|p| p.clone()).unwrap_or_default();
    assert!(!progress.is_empty(), "no progress notifications while waiting");
    assert!(progress.iter().all(|p| p["progressToken"] == "w-1" && p["total"] == 2.0), "{progress:?}");
    assert!(waited["note"].as_str().is_some_and(|n| n.contains("stop_execution")), "{waited}");
    let running = s.ok("list_executions", json!({"workflow_id": id, "status": waited["status"]})).await;
    assert_eq!(running["executions"][0]["id"], exec.as_str(), "{running}");
    let stopped = s.ok("stop_execution", json!({"id": exec})).await;
    assert_eq!(stopped["status"], "canceled", "{stopped}");
    let after = s.ok("get_execution", json!({"id": exec, "mode": "preview"})).await;
    assert_eq!(after["status"], "canceled", "{after}");
    s.ok("delete_workflow", json!({"id": id})).await;
}

#[tokio::test]
async fn the_test_url_answers_while_the_workflow_listens() {
    let s = writer().start(mcp_core::testing::Transport::Stdio).await;
    let id = common::create_webhook(&s, "testurl", &unique("test-hook")).await;
    // Unpublished: the test URL answers only once a manual run listens for it.
    let err = s.fails("run_webhook", json!({"workflow_id": id, "test": true, "body": {"name": "x"}})).await;
    assert!(err.contains("not registered") && err.contains("run_workflow"), "{err}");
    let listening = s.ok("run_workflow", json!({"id": id})).await;
    assert_eq!(listening["waiting_for_webhook"], true, "{listening}");
    let run = s
        .ok("run_webhook", json!({"workflow_id": id, "test": true, "body": {"name": "Grace"}, "query": {"q": "1"}}))
        .await;
    assert_eq!(run["status"], 200, "{run}");
    assert_eq!(run["body"]["greeting"], "hello Grace", "{run}");
    assert!(run["url"].as_str().is_some_and(|u| u.contains("/webhook-test/")));
    s.ok("delete_workflow", json!({"id": id})).await;
}
