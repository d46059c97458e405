//! `ssh://` daemons against a real OpenSSH server on loopback in front of the test engine
//! (scripts/lib.sh's start_sshd: a generated host key, an authorized test key, sessions
//! given the test engine's DOCKER_HOST): the connector reaches the engine as the docker
//! CLI does (`ssh HOST docker system dial-stdio`), an unknown host key is refused, and a
//! URL that could smuggle ssh options stops the server at start.

mod common;

use common::{TRANSPORTS, admin, fails_with, run_binary_env, start_raw};
use serde_json::json;

fn env(name: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| {
        panic!("{name} is not set: `eval \"$(scripts/services.sh up)\"` starts an sshd in front of the test engine")
    })
}

/// A hosts file naming the ssh daemon as `remote`, with `known_hosts` as its known hosts.
fn hosts_file(dir: &std::path::Path, known_hosts: &str) -> String {
    let path = dir.join("hosts.toml");
    let text = format!(
        "[hosts.remote]\nurl = \"{}\"\nssh_identity_file = \"{}\"\nssh_known_hosts_file = \"{known_hosts}\"\n",
        env("MCP_TEST_DOCKER_SSH"),
        env("MCP_TEST_DOCKER_SSH_KEY"),
    );
    std::fs::write(&path, text).expect("write");
    path.display().to_string()
}

#[tokio::test]
async fn a_daemon_behind_ssh_is_used_like_a_local_one() {
    let docker = admin().await;
    let dir = tempfile::tempdir().expect("tempdir");
    let file = hosts_file(dir.path(), &env("MCP_TEST_DOCKER_SSH_KNOWN_HOSTS"));
    let version = docker.version().await.expect("version").version.unwrap_or_default();
    for transport in TRANSPORTS {
        let n = common::name_for("ssh", transport);
        common::remove(&docker, &n).await;
        let conn = start_raw(transport, &["--hosts-file", &file, "--allow-write"]).await;
        let (text, out) = conn.ok_text("system_info", json!({})).await;
        assert_eq!(out["host"], "remote", "{text}");
        assert!(text.contains(&version), "{version} not in {text}");
        let args = common::create_args(&n, ("ssh-test", &n), json!({"cmd": ["sh", "-c", "echo over-ssh; sleep 300"]}));
        conn.ok_text("run_container", args).await;
        // The same engine: the container is there, seen directly.
        assert_eq!(common::state(&docker, &n).await.as_deref(), Some("running"));
        let mut logs = String::new();
        for _ in 0..50 {
            logs = conn.ok_text("container_logs", json!({"container": n})).await.0;
            if logs.contains("over-ssh") {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
        assert!(logs.contains("over-ssh"), "{logs}");
        conn.ok_text("remove_container", json!({"container": n, "force": true})).await;
        assert_eq!(common::state(&docker, &n).await, None);
    }
}

#[tokio::test]
async fn an_unknown_host_key_is_refused_never_accepted() {
    let dir = tempfile::tempdir().expect("tempdir");
    let empty = dir.path().join("known_hosts");
    std::fs::write(&empty, "").expect("write");
    let file = hosts_file(dir.path(), empty.to_str().expect("utf-8"));
    let conn = start_raw(common::Transport::Stdio, &["--hosts-file", &file]).await;
    fails_with(&conn, "system_info", json!({}), &["host `remote`", "Host key verification failed"]).await;
    assert_eq!(std::fs::read_to_string(&empty).expect("read"), "", "the host key was written to known_hosts");
}

#[tokio::test]
async fn ssh_urls_that_could_carry_options_stop_the_server() {
    for url in ["ssh://-oProxyCommand=touch /tmp/pwned", "ssh://me@box/path", "ssh://box:99999"] {
        let (ok, stderr) = run_binary_env(&[], &[("DOCKER_HOST", url)]).await;
        assert!(!ok && stderr.contains("ssh://[user@]host[:port]"), "{url}: {stderr}");
    }
}
