//! Configuration: mistakes stop the server with a message that names them; a daemon that
//! is down is not a configuration error (it connects lazily) and its calls say what to do.

mod common;

use common::{TRANSPORTS, Transport, fails_with, run_binary, start_raw};
use serde_json::json;

#[tokio::test]
async fn configuration_mistakes_stop_the_server_and_say_which() {
    let dir = tempfile::tempdir().expect("tempdir");
    let typo = dir.path().join("typo.toml");
    std::fs::write(&typo, "[hosts.prod]\nurl = \"unix:///var/run/docker.sock\"\nread_onyl = true\n").expect("write");
    let twice = dir.path().join("twice.toml");
    std::fs::write(&twice, "[hosts.default]\nurl = \"unix:///x.sock\"\n").expect("write");
    let typo = typo.to_str().expect("utf-8");
    let twice = twice.to_str().expect("utf-8");
    for (args, expected) in [
        (vec!["--hosts-file", typo], "read_onyl"),
        (vec!["--hosts-file", "/nonexistent/hosts.toml"], "cannot read"),
        (vec!["--host", "default=unix:///a.sock", "--hosts-file", twice], "configured twice"),
        (vec!["--host", "nourl"], "NAME=URL"),
        (vec!["--host", "bad name=unix:///a.sock"], "host name `bad name`"),
        (vec!["--host", "a=ssh://-oProxyCommand=x"], "ssh://[user@]host[:port]"),
        (vec!["--host", "a=/var/run/docker.sock"], "no scheme"),
        (vec!["--host", "a=ftp://box"], "unsupported scheme"),
        (vec!["--docker-host", "tcp://127.0.0.1:2376", "--allow-bind-path", "relative/dir"], "absolute"),
        (vec!["--allow-bind-path", "/"], "whole host"),
        (vec!["--max-result-bytes", "10"], "--max-result-bytes"),
        (vec!["--no-such-flag"], "--no-such-flag"),
    ] {
        let (ok, stderr) = run_binary(&args).await;
        assert!(!ok, "{args:?} should fail");
        assert!(stderr.contains(expected), "{args:?}: {stderr}");
    }
}

#[tokio::test]
async fn tls_settings_are_checked_at_start() {
    let dir = tempfile::tempdir().expect("tempdir");
    let certs = dir.path().to_str().expect("utf-8");
    let (ok, stderr) = run_binary(&["--docker-host", "tcp://127.0.0.1:2376"]).await;
    // Plain tcp without DOCKER_TLS_VERIFY is allowed (the daemon may just be down).
    assert!(ok || !stderr.contains("TLS"), "{stderr}");
    let file = dir.path().join("hosts.toml");
    std::fs::write(
        &file,
        format!("[hosts.secure]\nurl = \"tcp://127.0.0.1:2376\"\ntls_verify = true\ncert_path = \"{certs}\"\n"),
    )
    .expect("write");
    let (ok, stderr) = run_binary(&["--hosts-file", file.to_str().expect("utf-8")]).await;
    assert!(!ok && stderr.contains("key.pem"), "{stderr}");
}

#[tokio::test]
async fn a_daemon_that_is_down_gives_an_actionable_error_and_readiness_says_so() {
    let dir = tempfile::tempdir().expect("tempdir");
    let sock = format!("unix://{}/docker.sock", dir.path().display());
    for transport in TRANSPORTS {
        let conn = start_raw(transport, &["--docker-host", &sock]).await;
        fails_with(&conn, "list_containers", json!({}), &["no Docker socket", "is dockerd running"]).await;
    }
    // Over HTTP, /readyz answers 503 with the reason.
    let conn = start_raw(Transport::Http, &["--docker-host", &sock]).await;
    let (status, body) = common::http_get(conn.listen.as_deref().expect("listen"), "/readyz").await;
    assert_eq!(status, 503, "{body}");
    assert!(body.contains("no Docker socket"), "{body}");
}

/// A Docker CLI configuration directory with one context, `name`, pointing at `url`.
fn docker_config_with_context(dir: &std::path::Path, name: &str, url: &str, current: bool) {
    use sha2::Digest as _;
    let digest: String = sha2::Sha256::digest(name.as_bytes()).iter().map(|b| format!("{b:02x}")).collect();
    let meta = dir.join("contexts/meta").join(digest);
    std::fs::create_dir_all(&meta).expect("mkdir");
    let doc = json!({"Name": name, "Metadata": {"Description": "test context"}, "Endpoints": {"docker": {"Host": url, "SkipTLSVerify": false}}});
    std::fs::write(meta.join("meta.json"), doc.to_string()).expect("write meta");
    if current {
        std::fs::write(dir.join("config.json"), json!({"currentContext": name}).to_string()).expect("write config");
    }
}

#[tokio::test]
async fn docker_cli_contexts_name_the_daemon() {
    let host = common::host();
    let dir = tempfile::tempdir().expect("tempdir");
    docker_config_with_context(dir.path(), "testctx", &host, false);
    let config = dir.path().to_str().expect("utf-8");
    for transport in TRANSPORTS {
        let conn = common::start_raw_env(transport, &["--context", "testctx"], &[("DOCKER_CONFIG", config)]).await;
        let out = conn.ok("system_info", json!({})).await;
        assert!(out["serverVersion"].as_str().is_some_and(|v| !v.is_empty()), "{out}");
    }
    // The CLI's current context is used when nothing else names a daemon.
    let current = tempfile::tempdir().expect("tempdir");
    docker_config_with_context(current.path(), "work", &host, true);
    let conn =
        common::start_raw_env(Transport::Stdio, &[], &[("DOCKER_CONFIG", current.path().to_str().expect("utf-8"))])
            .await;
    conn.ok("list_containers", json!({})).await;
    let (ok, stderr) = common::run_binary_env(&["--context", "nope"], &[("DOCKER_CONFIG", config)]).await;
    assert!(!ok && stderr.contains("Docker context `nope`") && stderr.contains("docker context ls"), "{stderr}");
}
