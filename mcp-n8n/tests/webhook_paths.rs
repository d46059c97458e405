//! `run_webhook` reaches the instance's webhooks only: a `path` that decodes (once or
//! twice) to a dot segment, a separator or a backslash is refused before any request,
//! against a real n8n whose /healthz, Public API and /rest would otherwise answer.

mod common;

use common::{unique, writer};
use mcp_core::testing::TRANSPORTS;
use serde_json::json;

#[tokio::test]
async fn encoded_and_dotted_paths_cannot_leave_the_webhook_prefix() {
    let launcher = writer();
    for transport in TRANSPORTS {
        let s = launcher.start(transport).await;
        for path in [
            "%2e%2e/healthz",
            "%2E%2E%2Fhealthz",
            "..%2fapi/v1/workflows",
            "%252e%252e/healthz",
            "webhook/../../healthz",
            "./../rest/login",
            "..\\healthz",
            "%5c..%5chealthz",
            "..%5c..%5chealthz",
            "a//../../healthz",
            ".%2e/healthz",
            "%2e/%2e%2e/healthz",
        ] {
            for method in ["GET", "POST"] {
                let err = s.fails("run_webhook", json!({"path": path, "method": method})).await;
                assert!(err.contains("is not a webhook path") && !err.contains("\"ok\""), "{path}: {err}");
            }
            let err = s.fails("run_webhook", json!({"path": path, "test": true})).await;
            assert!(err.contains("is not a webhook path"), "{path}: {err}");
        }
    }
}

#[tokio::test]
async fn a_webhook_path_with_a_space_and_unicode_still_runs() {
    let s = writer().start(mcp_core::testing::Transport::Stdio).await;
    let raw = unique("café hook");
    let id = common::create_webhook(&s, "unicode-path", &raw).await;
    s.ok("publish_workflow", json!({"id": id})).await;
    // By workflow id (the node's literal path), and by the caller's percent-encoded path.
    let by_id = s.ok("run_webhook", json!({"workflow_id": id, "body": {"name": "Ada"}})).await;
    assert_eq!(by_id["body"]["greeting"], "hello Ada", "{by_id}");
    let encoded = raw.replace(' ', "%20").replace('é', "%C3%A9");
    let by_path = s.ok("run_webhook", json!({"path": encoded, "body": {"name": "Grace"}})).await;
    assert_eq!(by_path["body"]["greeting"], "hello Grace", "{by_path}");
    assert!(by_path["url"].as_str().is_some_and(|u| u.ends_with(&format!("/webhook/{encoded}"))), "{by_path}");
    s.ok("unpublish_workflow", json!({"id": id})).await;
    s.ok("delete_workflow", json!({"id": id})).await;
}
