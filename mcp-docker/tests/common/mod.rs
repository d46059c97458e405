//! Test support: the real dockerd the test command started, the connector spawned as a
//! real process, and mcp-core's client speaking to it over stdio or HTTP.
//!
//! The daemon comes from DOCKER_HOST (scripts/services.sh starts a private one and prints
//! it, with the image `mcp-test/busybox` imported; scripts/test.sh does the same). The
//! connector gets it explicitly with --docker-host, never from its environment.
//! Each test names its containers with its own tag and the process id, and removes them.
#![allow(dead_code)]

use bollard::Docker;
use bollard::models::{ContainerCreateBody, HostConfig};
use bollard::query_parameters::{CreateContainerOptions, ListContainersOptions, RemoveContainerOptions};
use mcp_core::client::ClientOptions;
use mcp_core::testing::Launcher;
#[allow(unused_imports)] // each test binary uses some of them
pub use mcp_core::testing::{Connector, TRANSPORTS, Transport, http_get, text};
use std::collections::HashMap;

/// The test image, imported from Debian's static busybox.
pub const IMAGE: &str = "mcp-test/busybox:latest";
/// Every container a test makes carries this label, so leftovers can be found.
pub const TEST_LABEL: &str = "mcp-docker-test";

/// The test daemon's URL.
pub fn host() -> String {
    std::env::var("DOCKER_HOST").unwrap_or_else(|_| {
        panic!(
            "DOCKER_HOST is not set: run scripts/test.sh, or in a shell \
             `eval \"$(scripts/services.sh up)\"` (it exports the variable)"
        )
    })
}

/// A direct client for setting up and checking, outside the connector.
pub async fn admin() -> Docker {
    let docker = Docker::connect_with_unix(host().trim_start_matches("unix://"), 60, bollard::API_DEFAULT_VERSION)
        .expect("connect to the test daemon");
    docker.negotiate_version().await.expect("negotiate the API version")
}

/// The test registry (`127.0.0.1:PORT`), holding `mcp-test/busybox:1`.
pub fn registry() -> String {
    std::env::var("MCP_TEST_DOCKER_REGISTRY")
        .unwrap_or_else(|_| panic!("MCP_TEST_DOCKER_REGISTRY is not set: scripts/services.sh starts one"))
}

/// A container name unique to this test run and `tag`.
pub fn name(tag: &str) -> String {
    format!("mcp-t-{tag}-{}", std::process::id())
}

/// Starts a busybox container running `cmd` with no network, labelled for cleanup.
pub async fn run(docker: &Docker, name: &str, cmd: &[&str], labels: &[(&str, &str)], env: &[&str]) -> String {
    remove(docker, name).await;
    let mut all_labels: HashMap<String, String> = labels.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
    all_labels.insert(TEST_LABEL.into(), "1".into());
    let body = ContainerCreateBody {
        image: Some(IMAGE.into()),
        cmd: Some(cmd.iter().map(|s| s.to_string()).collect()),
        env: Some(env.iter().map(|s| s.to_string()).collect()),
        labels: Some(all_labels),
        host_config: Some(HostConfig { network_mode: Some("none".into()), ..Default::default() }),
        ..Default::default()
    };
    let options = CreateContainerOptions { name: Some(name.into()), ..Default::default() };
    let id = docker.create_container(Some(options), body).await.unwrap_or_else(|e| panic!("create {name}: {e}")).id;
    docker.start_container(&id, None).await.unwrap_or_else(|e| panic!("start {name}: {e}"));
    id
}

/// Creates (without starting) a busybox container.
pub async fn create(docker: &Docker, name: &str, cmd: &[&str]) -> String {
    remove(docker, name).await;
    let body = ContainerCreateBody {
        image: Some(IMAGE.into()),
        cmd: Some(cmd.iter().map(|s| s.to_string()).collect()),
        labels: Some([(TEST_LABEL.to_string(), "1".to_string())].into()),
        host_config: Some(HostConfig { network_mode: Some("none".into()), ..Default::default() }),
        ..Default::default()
    };
    let options = CreateContainerOptions { name: Some(name.into()), ..Default::default() };
    docker.create_container(Some(options), body).await.unwrap_or_else(|e| panic!("create {name}: {e}")).id
}

/// Waits until a container has stopped.
pub async fn wait_exit(docker: &Docker, name: &str) {
    use futures::StreamExt;
    // A non-zero exit comes back as an error from bollard: either way it stopped.
    let _ = docker.wait_container(name, None::<bollard::query_parameters::WaitContainerOptions>).next().await;
}

/// Removes a container if it exists.
pub async fn remove(docker: &Docker, name: &str) {
    let _ = docker.remove_container(name, Some(RemoveContainerOptions { force: true, v: true, link: false })).await;
}

/// The state of a container (`running`, `exited`, ...), or None if it does not exist.
pub async fn state(docker: &Docker, name: &str) -> Option<String> {
    let info = docker.inspect_container(name, None).await.ok()?;
    info.state?.status.map(|s| s.to_string())
}

/// Names of the containers (all states) carrying `label`.
pub async fn names_with_label(docker: &Docker, label: &str) -> Vec<String> {
    let options = ListContainersOptions {
        all: true,
        filters: Some([("label".to_string(), vec![label.to_string()])].into()),
        ..Default::default()
    };
    docker
        .list_containers(Some(options))
        .await
        .expect("list")
        .into_iter()
        .filter_map(|c| c.names?.first().map(|n| n.trim_start_matches('/').to_string()))
        .collect()
}

/// The connector with the test's Docker settings only: the shell's `DOCKER_*` variables
/// and the developer's CLI contexts must not leak in.
pub fn launcher() -> Launcher {
    Launcher::new(env!("CARGO_BIN_EXE_mcp-docker"))
        .env_remove("DOCKER_HOST")
        .env_remove("DOCKER_TLS_VERIFY")
        .env_remove("DOCKER_CERT_PATH")
        .env_remove("DOCKER_CONTEXT")
        .env("DOCKER_CONFIG", "/nonexistent/mcp-docker-test")
}

/// Starts the connector on the test daemon with extra `args`.
pub async fn start(transport: Transport, args: &[&str]) -> Connector {
    launcher().args(["--docker-host", &host()]).args(args).start(transport).await
}

/// [`start`] with client options (a notification handler).
pub async fn start_with(transport: Transport, args: &[&str], options: ClientOptions) -> Connector {
    launcher().args(["--docker-host", &host()]).args(args).options(options).start(transport).await
}

/// Starts the connector with exactly `args` (no default host).
pub async fn start_raw(transport: Transport, args: &[&str]) -> Connector {
    launcher().args(args).start(transport).await
}

/// [`start_raw`] with extra environment variables (set after the defaults, so they win).
pub async fn start_raw_env(transport: Transport, args: &[&str], env: &[(&str, &str)]) -> Connector {
    with_env(launcher(), env).args(args).start(transport).await
}

/// Runs the binary with `args` and returns its exit success and stderr (for
/// configuration errors, which stop it before it serves).
pub async fn run_binary(args: &[&str]) -> (bool, String) {
    launcher().args(args).run_to_exit().await
}

/// [`run_binary`] with extra environment variables.
pub async fn run_binary_env(args: &[&str], env: &[(&str, &str)]) -> (bool, String) {
    with_env(launcher(), env).args(args).run_to_exit().await
}

fn with_env(launcher: Launcher, env: &[(&str, &str)]) -> Launcher {
    env.iter().fold(launcher, |l, (k, v)| l.env(k, v))
}

/// Calls `tool` on `conn`, expects it to fail, and checks its message says each of
/// `needles`; returns the message.
pub async fn fails_with(conn: &Connector, tool: &str, args: serde_json::Value, needles: &[&str]) -> String {
    let err = conn.fails(tool, args.clone()).await;
    for needle in needles {
        assert!(err.contains(needle), "{tool} {args}: `{needle}` not in: {err}");
    }
    err
}

/// Arguments for `create_container`/`run_container`: a busybox sleeping on no network as
/// `n`, labelled for cleanup and with `label`, plus `extra` (which wins).
pub fn create_args(n: &str, label: (&str, &str), extra: serde_json::Value) -> serde_json::Value {
    let mut args = serde_json::json!({
        "image": IMAGE, "name": n, "cmd": ["sleep", "300"], "network": "none",
        "labels": {TEST_LABEL: "1", label.0: label.1}
    });
    if let (serde_json::Value::Object(a), serde_json::Value::Object(e)) = (&mut args, extra) {
        a.extend(e);
    }
    args
}

/// A temporary directory holding `allowed` (for --allow-bind-path) and `outside`; the
/// directory is removed when the first value is dropped.
pub fn host_dirs() -> (tempfile::TempDir, std::path::PathBuf, std::path::PathBuf) {
    let dir = tempfile::tempdir().expect("tempdir");
    let (allowed, outside) = (dir.path().join("allowed"), dir.path().join("outside"));
    for d in [&allowed, &outside] {
        std::fs::create_dir(d).expect("mkdir");
    }
    (dir, allowed, outside)
}

/// [`start`] recording the params of every progress notification the server sends.
pub async fn start_recording_progress(
    transport: Transport,
    args: &[&str],
) -> (Connector, std::sync::Arc<std::sync::Mutex<Vec<serde_json::Value>>>) {
    let seen: std::sync::Arc<std::sync::Mutex<Vec<serde_json::Value>>> = Default::default();
    let sink = seen.clone();
    let handler: mcp_core::client::NotificationHandler = std::sync::Arc::new(move |n| {
        if n.method == "notifications/progress" {
            let params = n.params.clone().map(serde_json::Value::Object).unwrap_or_default();
            sink.lock().expect("lock").push(params);
        }
    });
    let options = ClientOptions { on_notification: Some(handler), ..Default::default() };
    (start_with(transport, args, options).await, seen)
}

/// A container name unique to this run, `tag` and `transport`.
pub fn name_for(tag: &str, transport: Transport) -> String {
    name(&format!("{tag}-{transport:?}").to_lowercase())
}

/// [`name_for`], with any leftover container of that name removed.
pub async fn fresh_name(docker: &Docker, tag: &str, transport: Transport) -> String {
    let n = name_for(tag, transport);
    remove(docker, &n).await;
    n
}

/// [`run`] for a shell `script`, with no extra labels or environment.
pub async fn run_sh(docker: &Docker, name: &str, script: &str) -> String {
    run(docker, name, &["sh", "-c", script], &[], &[]).await
}

/// A scope label unique to this run, `team=TAG-PID`: the flag's value, its key, its value
/// (leaked: a few bytes per test, so it reads as the `&str` labels are).
pub fn scope_label(tag: &str) -> (String, &'static str, &'static str) {
    let value: &'static str = format!("{tag}-{}", std::process::id()).leak();
    (format!("team={value}"), "team", value)
}
