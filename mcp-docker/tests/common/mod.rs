//! Test support: the real dockerd the test command started, the connector spawned as a
//! real process, and mcp-core's client speaking to it over stdio or HTTP.
//!
//! The daemon comes from MCP_DOCKER_TEST_HOST (scripts/test.sh starts a private one with
//! `start_docker` from scripts/lib.sh, which also imports the image `mcp-test/busybox`).
//! Each test names its containers with its own tag and the process id, and removes them.
#![allow(dead_code)]

use std::collections::HashMap;
use std::process::Stdio;
use std::time::Duration;

use bollard::Docker;
use bollard::models::{ContainerCreateBody, HostConfig};
use bollard::query_parameters::{CreateContainerOptions, ListContainersOptions, RemoveContainerOptions};
use mcp_core::client::{Client, ClientOptions};
use mcp_core::protocol::{CallToolResult, Content};
use serde_json::Value;

/// The test image, imported from Debian's static busybox.
pub const IMAGE: &str = "mcp-test/busybox:latest";
/// Every container a test makes carries this label, so leftovers can be found.
pub const TEST_LABEL: &str = "mcp-docker-test";

/// The test daemon's URL.
pub fn host() -> String {
    std::env::var("MCP_DOCKER_TEST_HOST").unwrap_or_else(|_| {
        panic!(
            "MCP_DOCKER_TEST_HOST is not set: run scripts/test.sh, or in a shell \
             `source scripts/lib.sh; start_docker` (it exports the variable)"
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
    std::env::var("MCP_DOCKER_TEST_REGISTRY")
        .unwrap_or_else(|_| panic!("MCP_DOCKER_TEST_REGISTRY is not set: start_docker in scripts/lib.sh starts one"))
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

/// How a test reaches the connector.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transport {
    Stdio,
    Http,
}

pub const TRANSPORTS: [Transport; 2] = [Transport::Stdio, Transport::Http];

/// A running connector and a client connected to it.
pub struct Connector {
    pub client: Client,
    /// The HTTP server process (stdio servers belong to the client).
    child: Option<tokio::process::Child>,
    pub transport: Transport,
    /// Where the HTTP server listens (`127.0.0.1:PORT`).
    pub listen: Option<String>,
}

impl Drop for Connector {
    fn drop(&mut self) {
        if let Some(child) = &mut self.child {
            let _ = child.start_kill();
        }
    }
}

fn command(args: &[&str]) -> tokio::process::Command {
    command_env(args, &[])
}

fn command_env(args: &[&str], env: &[(&str, &str)]) -> tokio::process::Command {
    let mut cmd = tokio::process::Command::new(env!("CARGO_BIN_EXE_mcp-docker"));
    cmd.envs(env.iter().copied());
    // The tests choose the daemon themselves; the shell's Docker settings must not leak in.
    cmd.args(args)
        .env("MCP_LOG_LEVEL", "warn")
        .env_remove("DOCKER_HOST")
        .env_remove("DOCKER_TLS_VERIFY")
        .env_remove("DOCKER_CERT_PATH")
        .env_remove("DOCKER_CONTEXT")
        .kill_on_drop(true);
    if !env.iter().any(|(k, _)| *k == "DOCKER_CONFIG") {
        // Nor the developer's Docker CLI contexts.
        cmd.env("DOCKER_CONFIG", "/nonexistent/mcp-docker-test");
    }
    cmd
}

/// Starts the connector on the test daemon with extra `args`.
pub async fn start(transport: Transport, args: &[&str]) -> Connector {
    let host = host();
    let mut all = vec!["--docker-host", host.as_str()];
    all.extend_from_slice(args);
    start_raw(transport, &all).await
}

/// [`start`] with client options (a notification handler).
pub async fn start_with(transport: Transport, args: &[&str], options: ClientOptions) -> Connector {
    let host = host();
    let mut all = vec!["--docker-host", host.as_str()];
    all.extend_from_slice(args);
    start_raw_with(transport, &all, options).await
}

/// Starts the connector with exactly `args` (no default host).
pub async fn start_raw(transport: Transport, args: &[&str]) -> Connector {
    start_raw_with(transport, args, ClientOptions::default()).await
}

/// [`start_raw`] with extra environment variables.
pub async fn start_raw_env(transport: Transport, args: &[&str], env: &[(&str, &str)]) -> Connector {
    start_raw_full(transport, args, env, ClientOptions::default()).await
}

async fn start_raw_with(transport: Transport, args: &[&str], options: ClientOptions) -> Connector {
    start_raw_full(transport, args, &[], options).await
}

async fn start_raw_full(
    transport: Transport,
    args: &[&str],
    env: &[(&str, &str)],
    options: ClientOptions,
) -> Connector {
    match transport {
        Transport::Stdio => {
            let mut cmd = command_env(args, env);
            cmd.stderr(Stdio::inherit());
            let client = Client::connect_stdio(cmd, options).await.expect("connect over stdio");
            Connector { client, child: None, transport, listen: None }
        }
        Transport::Http => {
            let port = free_port();
            let listen = format!("127.0.0.1:{port}");
            let mut all = args.to_vec();
            all.extend_from_slice(&["--transport", "http", "--listen", &listen]);
            let mut child = command_env(&all, env).stdin(Stdio::null()).spawn().expect("spawn the HTTP server");
            let endpoint = format!("http://{listen}/mcp");
            let mut last_error = String::new();
            for _ in 0..100 {
                if let Ok(Some(status)) = child.try_wait() {
                    panic!("the HTTP server exited at start: {status}");
                }
                match Client::connect_http(&endpoint, options.clone()).await {
                    Ok(client) => return Connector { client, child: Some(child), transport, listen: Some(listen) },
                    Err(e) => last_error = e.to_string(),
                }
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            panic!("the HTTP server did not answer: {last_error}");
        }
    }
}

/// Runs the binary with `args` and returns its exit success and stderr (for
/// configuration errors, which stop it before it serves).
pub async fn run_binary(args: &[&str]) -> (bool, String) {
    run_binary_env(args, &[]).await
}

/// [`run_binary`] with extra environment variables.
pub async fn run_binary_env(args: &[&str], env: &[(&str, &str)]) -> (bool, String) {
    let output = command_env(args, env)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .output()
        .await
        .expect("run the binary");
    (output.status.success(), String::from_utf8_lossy(&output.stderr).into_owned())
}

/// A plain HTTP GET on loopback: the status code and body.
pub async fn http_get(addr: &str, path: &str) -> (u16, String) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut stream = tokio::net::TcpStream::connect(addr).await.expect("connect");
    let request = format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n");
    stream.write_all(request.as_bytes()).await.expect("write");
    let mut response = String::new();
    stream.read_to_string(&mut response).await.expect("read");
    let status = response.split_whitespace().nth(1).and_then(|s| s.parse().ok()).unwrap_or(0);
    let body = response.split_once("\r\n\r\n").map(|(_, b)| b.to_string()).unwrap_or_default();
    (status, body)
}

pub fn free_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    listener.local_addr().expect("addr").port()
}

impl Connector {
    /// Calls a tool; the result may be an error result (`isError`).
    pub async fn call(&self, tool: &str, args: Value) -> CallToolResult {
        self.client.call_tool(tool, args).await.unwrap_or_else(|e| panic!("{tool} over {:?}: {e}", self.transport))
    }

    /// Calls a tool that must succeed; returns its structured content.
    pub async fn ok(&self, tool: &str, args: Value) -> Value {
        let result = self.call(tool, args.clone()).await;
        assert!(!result.is_error, "{tool}({args}) over {:?} failed: {}", self.transport, text(&result));
        result.structured_content.clone().unwrap_or(Value::Null)
    }

    /// Calls a tool that must succeed; returns its text and structured content.
    pub async fn ok_text(&self, tool: &str, args: Value) -> (String, Value) {
        let result = self.call(tool, args.clone()).await;
        assert!(!result.is_error, "{tool}({args}) over {:?} failed: {}", self.transport, text(&result));
        (text(&result), result.structured_content.clone().unwrap_or(Value::Null))
    }

    /// Calls a tool that must fail; returns its error text.
    pub async fn fails(&self, tool: &str, args: Value) -> String {
        let result = self.call(tool, args.clone()).await;
        assert!(result.is_error, "{tool}({args}) over {:?} should have failed: {}", self.transport, text(&result));
        text(&result)
    }

    /// The names of the tools listed.
    pub async fn tool_names(&self) -> Vec<String> {
        self.client.list_tools().await.expect("tools/list").into_iter().map(|t| t.name).collect()
    }
}

/// All the text of a result.
pub fn text(result: &CallToolResult) -> String {
    result
        .content
        .iter()
        .filter_map(|c| match c {
            Content::Text { text, .. } => Some(text.as_str()),
            _ => None,
        })
        .collect::<Vec<_>>()
        .join("\n")
}
