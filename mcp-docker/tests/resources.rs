//! Resources, prompts, --scope-label and confirmation of destructive calls, against a
//! real dockerd over stdio and HTTP.

mod common;

use std::sync::Arc;

use common::{TRANSPORTS, admin, fails_with, name, remove, run, start, start_with, state};
use mcp_core::client::{ClientOptions, InputHandler};
use mcp_core::protocol::ErrorObject;
use serde_json::{Value, json};

#[tokio::test]
async fn containers_and_their_logs_are_resources() {
    let docker = admin().await;
    let n = name("resource");
    run(&docker, &n, &["sh", "-c", "echo hello-resource; echo oops >&2; sleep 300"], &[], &["SECRET_KEY=s3cr3t"]).await;
    for transport in TRANSPORTS {
        let conn = start(transport, &[]).await;
        let templates = conn.client.list_resource_templates().await.expect("templates");
        let uris: Vec<&str> = templates.iter().filter_map(|t| t["uriTemplate"].as_str()).collect();
        assert!(
            uris.contains(&"docker://containers/{id}") && uris.contains(&"docker://containers/{id}/logs"),
            "{uris:?}"
        );

        let read = conn.client.read_resource(&format!("docker://containers/{n}")).await.expect("read");
        let text = read["contents"][0]["text"].as_str().expect("text");
        let doc: Value = serde_json::from_str(text).expect("json");
        assert_eq!(doc["Name"], format!("/{n}"));
        assert!(!text.contains("s3cr3t"), "secrets redacted in resources too");

        let mut logs = String::new();
        for _ in 0..50 {
            let read = conn.client.read_resource(&format!("docker://containers/{n}/logs")).await.expect("read logs");
            logs = read["contents"][0]["text"].as_str().expect("text").to_string();
            if logs.contains("oops") {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
        assert!(logs.contains("hello-resource") && logs.contains("[stderr]"), "{logs}");
        assert_eq!(read_mime(&conn, &format!("docker://containers/{n}/logs")).await, "text/plain");

        let err = conn.client.read_resource("docker://containers/mcp-no-such-container").await.expect_err("missing");
        assert!(err.to_string().contains("not found"), "{err}");

        let prompts = conn.client.list_prompts().await.expect("prompts");
        let names: Vec<&str> = prompts.iter().filter_map(|p| p["name"].as_str()).collect();
        assert!(names.contains(&"debug_container") && names.contains(&"host_overview"), "{names:?}");
        let got = conn.client.get_prompt("debug_container", json!({"container": n})).await.expect("prompt");
        let text = got["messages"][0]["content"]["text"].as_str().expect("text");
        assert!(text.contains("inspect_container") && text.contains(&n) && text.contains("container_logs"), "{text}");
        let got = conn.client.get_prompt("host_overview", json!({})).await.expect("prompt");
        assert!(got["messages"][0]["content"]["text"].as_str().expect("text").contains("list_containers"));
    }
    remove(&docker, &n).await;
}

async fn read_mime(conn: &common::Connector, uri: &str) -> String {
    let read = conn.client.read_resource(uri).await.expect("read");
    read["contents"][0]["mimeType"].as_str().unwrap_or_default().to_string()
}

#[tokio::test]
async fn scope_labels_hide_and_protect_containers_outside_the_scope() {
    let docker = admin().await;
    let inside = name("scope-in");
    let outside = name("scope-out");
    let (scope, k, v) = common::scope_label("scope");
    run(&docker, &inside, &["sleep", "300"], &[(k, v)], &[]).await;
    run(&docker, &outside, &["sleep", "300"], &[], &[]).await;
    for transport in TRANSPORTS {
        let conn = start(transport, &["--allow-write", "--scope-label", &scope]).await;
        let out = conn.ok("list_containers", json!({"all": true})).await;
        let names: Vec<&str> =
            out["containers"].as_array().expect("list").iter().filter_map(|c| c["name"].as_str()).collect();
        assert_eq!(names, vec![inside.as_str()], "only the scoped container is seen");
        conn.ok("inspect_container", json!({"container": inside})).await;
        for (tool, args) in [
            ("inspect_container", json!({"container": outside})),
            ("container_logs", json!({"container": outside})),
            ("container_stats", json!({"container": outside})),
            ("exec_in_container", json!({"container": outside, "cmd": ["true"]})),
            ("stop_container", json!({"container": outside})),
            ("remove_container", json!({"container": outside, "force": true})),
        ] {
            fails_with(&conn, tool, args, &["No such container", "scope"]).await;
        }
        assert_eq!(state(&docker, &outside).await.as_deref(), Some("running"));

        // What it creates carries the scope label, so it stays visible to it.
        let made = common::name_for("scope-made", transport);
        conn.ok("create_container", json!({"image": common::IMAGE, "name": made, "cmd": ["true"], "network": "none"}))
            .await;
        let labels =
            docker.inspect_container(&made, None).await.expect("inspect").config.expect("c").labels.expect("l");
        assert_eq!(labels.get(k).map(String::as_str), Some(v));
        conn.ok("remove_container", json!({"container": made})).await;
    }
    remove(&docker, &inside).await;
    remove(&docker, &outside).await;
}

fn confirming(answer: bool) -> ClientOptions {
    let handler: InputHandler = Arc::new(move |method: String, _params: Value| {
        Box::pin(async move {
            match method.as_str() {
                "elicitation/create" => Ok(json!({"action": "accept", "content": {"confirm": answer}})),
                other => Err(ErrorObject::method_not_found(other)),
            }
        })
    });
    ClientOptions { on_input: Some(handler), ..Default::default() }
}

#[tokio::test]
async fn destructive_calls_wait_for_the_users_confirmation_when_required() {
    let docker = admin().await;
    let n = name("confirm");
    run(&docker, &n, &["sleep", "300"], &[], &[]).await;
    let args = ["--allow-write", "--confirm-destructive"];
    for transport in TRANSPORTS {
        let declined = start_with(transport, &args, confirming(false)).await;
        fails_with(&declined, "stop_container", json!({"container": n, "timeout_secs": 1}), &["did not confirm"]).await;
        let unable = start(transport, &args).await;
        fails_with(&unable, "remove_container", json!({"container": n, "force": true}), &["cannot ask"]).await;
        assert_eq!(state(&docker, &n).await.as_deref(), Some("running"));
        // Additive calls are not asked about.
        unable.ok("start_container", json!({"container": n})).await;
    }
    let accepted = start_with(TRANSPORTS[0], &args, confirming(true)).await;
    accepted.ok("stop_container", json!({"container": n, "timeout_secs": 1})).await;
    assert_eq!(state(&docker, &n).await.as_deref(), Some("exited"));
    remove(&docker, &n).await;
}
