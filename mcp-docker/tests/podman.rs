//! The connector against Podman's Docker-compatible API (`podman system service`), which
//! users point `DOCKER_HOST` at: the same tools, from list to exec to removal.
//!
//! The service comes from MCP_TEST_PODMAN_HOST (the services mechanism starts one, with
//! the test image imported, when Debian's `podman` is installable).

mod common;

use common::{TRANSPORTS, launcher};
use serde_json::json;

fn podman_host() -> String {
    std::env::var("MCP_TEST_PODMAN_HOST").unwrap_or_else(|_| {
        panic!("MCP_TEST_PODMAN_HOST is not set: `eval \"$(scripts/services.sh up)\"` starts a Podman service")
    })
}

#[tokio::test]
async fn podman_serves_the_same_tools_from_run_to_remove() {
    let host = podman_host();
    for transport in TRANSPORTS {
        let conn = launcher().args(["--docker-host", &host, "--allow-write"]).start(transport).await;
        let n = common::name_for("podman", transport);
        let _ = conn.call("remove_container", json!({"container": n, "force": true})).await;

        let (info, _) = conn.ok_text("system_info", json!({})).await;
        assert!(info.to_lowercase().contains("podman"), "{info}");
        let images = conn.ok("list_images", json!({})).await.to_string();
        assert!(images.contains("mcp-test/busybox"), "{images}");

        conn.ok(
            "run_container",
            json!({"image": "localhost/mcp-test/busybox:latest", "name": n, "network": "none",
                   "cmd": ["sh", "-c", "echo hello-from-podman; sleep 300"]}),
        )
        .await;
        let (listed, _) = conn.ok_text("list_containers", json!({})).await;
        assert!(listed.contains(&n), "{listed}");
        let inspected = conn.ok("inspect_container", json!({"container": n})).await;
        assert_eq!(inspected["container"]["State"]["Running"], true, "{inspected}");

        // Logs arrive once the shell has run its echo.
        let mut logs = String::new();
        for _ in 0..50 {
            logs = conn.ok_text("container_logs", json!({"container": n, "tail": 10})).await.0;
            if logs.contains("hello-from-podman") {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
        assert!(logs.contains("hello-from-podman"), "{logs}");

        let exec =
            conn.ok("exec_in_container", json!({"container": n, "cmd": ["sh", "-c", "echo $((6*7)); exit 3"]})).await;
        assert_eq!(exec["exitCode"], 3, "{exec}");
        assert!(exec.to_string().contains("42"), "{exec}");

        conn.ok("stop_container", json!({"container": n, "timeout_secs": 1})).await;
        conn.ok("remove_container", json!({"container": n})).await;
        let err = conn.fails("inspect_container", json!({"container": n})).await;
        assert!(err.to_lowercase().contains("no such container"), "{err}");
    }
}
