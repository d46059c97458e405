//! Error kinds against the real daemon: every failure a client can meet carries its kind
//! in the result's `_meta`, decided on what the daemon answered (or did not) and on which
//! rule refused, never on the message's wording.

mod common;

use common::{IMAGE, admin, host, name, remove, run, start_raw};
use mcp_core::testing::Transport;
use serde_json::json;

#[tokio::test]
async fn failures_carry_the_kind_of_what_went_wrong() {
    let docker = admin().await;
    let n = name("kinds");
    run(&docker, &n, &["sleep", "300"], &[], &[]).await;
    let scoped = name("kinds-scoped");
    let id = run(&docker, &scoped, &["sleep", "300"], &[("team", "kinds")], &[]).await;
    let raw = start_raw(Transport::Stdio, &["--docker-host", &host(), "--allow-write"]).await;
    let cases = [
        ("inspect_container", json!({"container": "mcp-t-no-such-container"}), "not_found"),
        ("container_logs", json!({"container": "mcp-t-no-such-container"}), "not_found"),
        ("inspect_image", json!({"image": "mcp-test/no-such-image:1"}), "not_found"),
        ("inspect_container", json!({"container": "../containers/json"}), "invalid_arguments"),
        ("list_containers", json!({"host": "staging"}), "invalid_arguments"),
        ("create_container", json!({"image": IMAGE, "privileged": true}), "refused"),
        // A running container cannot be removed without force: the daemon's 409.
        ("remove_container", json!({"container": n}), "failed"),
    ];
    for (tool, args, want) in cases {
        let (kind, err) = raw.fails_as(tool, args.clone()).await;
        assert_eq!(kind, want, "{tool} {args}: {err}");
    }
    // Outside the scope a container reads as missing; the server's own is refused.
    let raw = start_raw(
        Transport::Stdio,
        &["--docker-host", &host(), "--allow-write", "--self-container", &id[..12], "--scope-label", "team=kinds"],
    )
    .await;
    let (kind, err) = raw.fails_as("inspect_container", json!({"container": n})).await;
    assert!(kind == "not_found" && err.contains("scope"), "{kind}: {err}");
    let (kind, err) = raw.fails_as("stop_container", json!({"container": scoped})).await;
    assert!(kind == "refused" && err.contains("self-protection"), "{kind}: {err}");
    remove(&docker, &n).await;
    remove(&docker, &scoped).await;
}

#[tokio::test]
async fn a_daemon_out_of_reach_is_unavailable_and_one_that_stalls_timed_out() {
    let raw = start_raw(Transport::Stdio, &["--docker-host", "unix:///nonexistent/mcp-docker-test.sock"]).await;
    let (kind, err) = raw.fails_as("list_containers", json!({})).await;
    assert_eq!(kind, "unavailable", "{err}");
    assert!(err.contains("is dockerd running"), "{err}");

    // A listener that accepts and never answers: a daemon hung or overloaded.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("address");
    let hold = tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((socket, _)) = listener.accept().await {
            held.push(socket);
        }
    });
    let url = format!("tcp://{addr}");
    let raw = start_raw(Transport::Stdio, &["--docker-host", &url, "--request-timeout-secs", "1"]).await;
    let (kind, err) = raw.fails_as("system_info", json!({})).await;
    assert_eq!(kind, "timed_out", "{err}");
    hold.abort();
}
