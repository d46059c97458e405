//! A daemon stopped mid-session gives a clear error, and the next call after it is back
//! works, with no restart of the connector. The test runs a dockerd of its own (private
//! socket, data and exec roots, no bridge or iptables), so it disturbs no other test.

mod common;

use std::process::Stdio;
use std::time::Duration;

use common::{Transport, start_raw};
use serde_json::json;

struct Dockerd {
    child: tokio::process::Child,
}

async fn dockerd(dir: &std::path::Path) -> Dockerd {
    let sock = dir.join("d.sock");
    let child = tokio::process::Command::new("dockerd")
        .arg("--host")
        .arg(format!("unix://{}", sock.display()))
        .arg("--data-root")
        .arg(dir.join("data"))
        .arg("--exec-root")
        .arg(dir.join("exec"))
        .arg("--pidfile")
        .arg(dir.join("d.pid"))
        .args(["--bridge=none", "--iptables=false", "--ip6tables=false"])
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(dir.join("dockerd.log")).expect("log"))
        .kill_on_drop(true)
        .spawn()
        .expect("spawn dockerd (is docker.io installed?)");
    let admin = || bollard::Docker::connect_with_unix(sock.to_str().expect("utf-8"), 5, bollard::API_DEFAULT_VERSION);
    for _ in 0..300 {
        if let Ok(d) = admin()
            && d.negotiate_version().await.is_ok()
        {
            return Dockerd { child };
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("the test's dockerd did not come up; see {}", dir.join("dockerd.log").display());
}

impl Dockerd {
    /// SIGTERM, then wait for it to finish stopping (it takes containerd down with it).
    async fn stop(mut self) {
        if let Some(pid) = self.child.id() {
            let _ = std::process::Command::new("kill").arg(pid.to_string()).status();
        }
        let _ = tokio::time::timeout(Duration::from_secs(20), self.child.wait()).await;
    }
}

#[tokio::test]
async fn calls_fail_clearly_while_the_daemon_is_down_and_work_when_it_is_back() {
    // Short path: unix socket paths are limited to 108 bytes.
    let dir = tempfile::Builder::new().prefix("mcpd").tempdir_in("/tmp").expect("tempdir");
    let url = format!("unix://{}/d.sock", dir.path().display());
    let daemon = dockerd(dir.path()).await;
    let conn = start_raw(Transport::Http, &["--docker-host", &url]).await;
    let listen = conn.listen.clone().expect("listen");
    conn.ok("list_containers", json!({"all": true})).await;
    let (status, _) = common::http_get(&listen, "/readyz").await;
    assert_eq!(status, 200);

    daemon.stop().await;
    let err = conn.fails("list_containers", json!({})).await;
    assert!(err.contains("Docker daemon") || err.contains("no Docker socket"), "{err}");
    assert!(err.contains("host `default`"), "{err}");
    let (status, body) = common::http_get(&listen, "/readyz").await;
    assert_eq!(status, 503, "{body}");

    let daemon = dockerd(dir.path()).await;
    let out = conn.ok("list_containers", json!({"all": true})).await;
    assert_eq!(out["host"], "default");
    let (status, _) = common::http_get(&listen, "/readyz").await;
    assert_eq!(status, 200);
    drop(conn);
    daemon.stop().await;
}
