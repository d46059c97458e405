//! Bad inputs and failing workflows: every problem listed, the failing node's error and
//! input surfaced, unknown node types, unregistered webhooks, publishing refused.

mod common;

use common::{failing_workflow, unique, writer};
use mcp_core::testing::Transport;
use serde_json::json;

#[tokio::test]
async fn a_failing_workflow_names_its_node_error_and_input() {
    for transport in [Transport::Stdio, Transport::Http] {
        let s = writer().start(transport).await;
        let path = unique("fail-hook");
        let wf = failing_workflow(&unique("failing"), &path, "the order total is negative");
        let id = common::create(&s, &wf).await;
        s.ok("publish_workflow", json!({"id": id})).await;
        let run = s
            .ok("run_webhook", json!({"workflow_id": id, "body": {"total": -5, "password": "hunter2"}, "headers": {"Authorization": "Bearer s3cret"}}))
            .await;
        assert_eq!(run["ok"], false, "{run}");
        let exec = run["execution_id"].as_str().expect("execution id").to_string();
        let e = s.ok("wait_execution", json!({"id": exec, "timeout_secs": 30})).await;
        assert_eq!(e["status"], "error", "{e}");
        assert_eq!(e["failure"]["node"], "Fail", "{e}");
        assert_eq!(e["failure"]["type"], "n8n-nodes-base.stopAndError");
        assert!(
            e["failure"]["error"]["message"].as_str().is_some_and(|m| m.contains("the order total is negative")),
            "{e}"
        );
        let input = &e["failure"]["input"][0];
        assert_eq!(input["from"], "Hook");
        assert_eq!(input["items"][0]["body"]["total"], -5, "{e}");
        // Credential-like fields of execution data are redacted.
        let text = e.to_string();
        assert!(!text.contains("hunter2") && !text.contains("s3cret"), "secrets leaked: {text}");
        assert_eq!(input["items"][0]["body"]["password"], "[REDACTED]");
        let errors = s.ok("list_executions", json!({"workflow_id": id, "status": "error"})).await;
        assert_eq!(errors["executions"][0]["id"], exec.as_str(), "{errors}");
        // Retry runs it again (and fails again, the same way).
        let retry = s.ok("retry_execution", json!({"id": exec})).await;
        assert_eq!(retry["retry_of"], exec.as_str());
        s.ok("unpublish_workflow", json!({"id": id})).await;
        s.ok("delete_workflow", json!({"id": id})).await;
    }
}

#[tokio::test]
async fn invalid_workflows_list_every_problem_and_save_nothing() {
    let s = writer().start(Transport::Stdio).await;
    let name = unique("invalid");
    let nodes = json!([
        {"name": "Hook", "type": "n8n-nodes-base.webhook", "typeVersion": 99, "position": [0, 0], "parameters": {"path": "x"}},
        {"name": "Dup", "type": "n8n-nodes-base.noOp", "typeVersion": 1, "position": [0, 0]},
        {"name": "Dup", "type": "n8n-nodes-base.noOp", "typeVersion": 1, "position": [0, 0]},
        {"name": "Ghost", "type": "n8n-nodes-base.doesNotExist", "typeVersion": 1, "position": [0, 0]},
        {"name": "Http", "type": "n8n-nodes-base.httpRequest", "typeVersion": 4.2, "position": [0, 0],
         "parameters": {"method": "FETCH", "url": "http://127.0.0.1:9"}},
        {"name": "NoPos", "type": "n8n-nodes-base.noOp", "typeVersion": 1},
    ]);
    let connections = json!({"Dup": {"main": [[{"node": "Nowhere", "type": "main", "index": 0}]]}});
    let err = s
        .fails(
            "create_workflow",
            json!({"name": name, "nodes": nodes, "connections": connections, "settings": {"bogusSetting": 1}}),
        )
        .await;
    for needle in [
        "has no version 99",
        "two nodes are named `Dup`",
        "unknown node type `n8n-nodes-base.doesNotExist`",
        "\"FETCH\"",
        "`position`",
        "`Nowhere`",
        "settings.bogusSetting",
        "nothing was saved",
    ] {
        assert!(err.contains(needle), "missing `{needle}` in: {err}");
    }
    let listed = s.ok("list_workflows", json!({"name": name})).await;
    assert_eq!(listed["count"], 0, "an invalid workflow was saved: {listed}");

    // The same through validate_workflow, as data: every problem at once.
    let v = s
        .ok("validate_workflow", json!({"workflow": {"nodes": nodes, "connections": connections}, "for_publish": true}))
        .await;
    assert_eq!(v["valid"], false);
    assert!(v["errors"].as_u64().is_some_and(|n| n >= 7), "{v}");
    assert!(v.to_string().contains("no enabled trigger"), "{v}");

    // An unknown node type suggests installed ones.
    let err = s.fails("describe_node", json!({"type": "n8n-nodes-base.httpRequests"})).await;
    assert!(err.contains("not installed") && err.contains("n8n-nodes-base.httpRequest"), "{err}");

    // Bad arguments are named.
    let err = s.fails("create_workflow", json!({"name": "x", "nodes": "not a list"})).await;
    assert!(err.contains("nodes"), "{err}");
    let err = s.fails("get_workflow", json!({"id": "../../etc"})).await;
    assert!(err.contains("not an n8n id"), "{err}");
    let err = s.fails("list_executions", json!({"since": "yesterday"})).await;
    assert!(err.contains("RFC 3339"), "{err}");
    let err = s.fails("get_workflow", json!({"id": "doesNotExist123"})).await;
    assert!(err.contains("not found"), "{err}");
}

#[tokio::test]
async fn partial_updates_are_validated_before_saving() {
    let s = writer().start(Transport::Stdio).await;
    let id = common::create_webhook(&s, "partial", &unique("partial-hook")).await;
    let before = common::stored(&id).await;
    // A type version the instance does not have: refused, nothing saved.
    let err = s
        .fails(
            "edit_workflow",
            json!({"id": id, "operations": [{"op": "update_node", "name": "Greet", "type_version": 42}]}),
        )
        .await;
    assert!(err.contains("no version 42"), "{err}");
    // An option value the node does not offer.
    let err = s
        .fails("edit_workflow", json!({"id": id, "operations": [{"op": "update_node", "name": "Hook", "parameters": {"httpMethod": "BREW"}}]}))
        .await;
    assert!(err.contains("BREW"), "{err}");
    // Removing the node a connection needs removes the connection too, so it stays valid.
    let dry = s
        .ok(
            "edit_workflow",
            json!({"id": id, "validate_only": true, "operations": [{"op": "remove_node", "name": "Greet"}]}),
        )
        .await;
    assert_eq!(dry["valid"], true, "{dry}");
    assert_eq!(dry["saved"], false);
    assert_eq!(dry["edges"], json!([]));
    // Operations on nodes that are not there are named.
    let err = s
        .fails("edit_workflow", json!({"id": id, "operations": [{"op": "connect", "from": "Hook", "to": "Nope"}]}))
        .await;
    assert!(err.contains("operations[0]") && err.contains("Nope"), "{err}");
    let err = s.fails("edit_workflow", json!({"id": id, "operations": [{"op": "explode"}]})).await;
    assert!(err.contains("explode"), "{err}");
    // Still the original, as the connector and as n8n itself tell: nothing was saved.
    let got = s.ok("get_workflow", json!({"id": id})).await;
    assert_eq!(got["edges"], json!(["Hook -> Greet"]));
    let after = common::stored(&id).await;
    for field in ["versionId", "nodes", "connections", "updatedAt"] {
        assert_eq!(after[field], before[field], "`{field}` changed by refused edits");
    }
    // Disable the trigger (a valid edit: saved), then publish: refused, and not published.
    let no_trigger = s
        .ok("edit_workflow", json!({"id": id, "operations": [{"op": "update_node", "name": "Hook", "disabled": true}]}))
        .await;
    assert!(no_trigger["version_id"].is_string());
    assert_ne!(common::stored(&id).await["versionId"], before["versionId"], "the valid edit was saved");
    let err = s.fails("publish_workflow", json!({"id": id})).await;
    assert!(err.contains("no enabled trigger") && err.contains("not published"), "{err}");
    assert_eq!(common::stored(&id).await["active"], false, "published without a trigger");
    s.ok("delete_workflow", json!({"id": id})).await;
}

#[tokio::test]
async fn an_unregistered_webhook_says_what_to_do() {
    let s = writer().start(Transport::Stdio).await;
    let err = s.fails("run_webhook", json!({"path": unique("nobody-listens"), "method": "POST"})).await;
    assert!(err.contains("not registered") && err.contains("404"), "{err}");
    let err = s.fails("run_webhook", json!({"path": unique("nobody"), "test": true})).await;
    assert!(err.contains("test"), "{err}");
    let err = s.fails("run_webhook", json!({"path": "x", "headers": {"Host": "evil"}})).await;
    assert!(err.contains("cannot be set"), "{err}");
}
