//! What every test shares: a cluster to talk to (a real one when MCP_TEST_KUBECONFIG or
//! KUBECONFIG names one, else the in-process fake API server) and a kubeconfig for it.

#![allow(dead_code)]

pub mod fake;

use std::net::SocketAddr;
use std::path::PathBuf;

use mcp_core::testing::Launcher;

pub use fake::Fake;

/// A cluster and a kubeconfig naming it.
pub struct Cluster {
    /// The fake, when no real cluster was given; tests of fake-only situations (a
    /// forbidden user, a server that goes away) need it.
    pub fake: Option<Fake>,
    pub kubeconfig: PathBuf,
    /// Where the `flaky` context points: nothing listens there until a test starts it.
    pub flaky_addr: SocketAddr,
    _dir: tempfile::TempDir,
    _task: Option<tokio::task::JoinHandle<()>>,
}

/// The namespace tests work in.
pub const NS: &str = "team-a";

impl Cluster {
    pub async fn start() -> Self {
        let dir = tempfile::tempdir().expect("tempdir");
        let flaky_addr: SocketAddr = format!("127.0.0.1:{}", mcp_core::testing::free_port()).parse().expect("addr");
        let real = std::env::var("MCP_TEST_KUBECONFIG").ok().filter(|s| !s.is_empty());
        if let Some(path) = real {
            return Self { fake: None, kubeconfig: PathBuf::from(path), flaky_addr, _dir: dir, _task: None };
        }
        let fake = Fake::new();
        fake.insert("namespaces", serde_json::json!({"metadata": {"name": NS}}));
        fake.insert("namespaces", serde_json::json!({"metadata": {"name": "team-b"}}));
        let (addr, task) = fake.clone().serve("127.0.0.1:0".parse().expect("addr")).await;
        let kubeconfig = dir.path().join("kubeconfig");
        std::fs::write(&kubeconfig, kubeconfig_yaml(addr, flaky_addr)).expect("write kubeconfig");
        Self { fake: Some(fake), kubeconfig, flaky_addr, _dir: dir, _task: Some(task) }
    }

    /// The connector on this cluster, with the developer's own settings kept out.
    pub fn launcher(&self) -> Launcher {
        Launcher::new(env!("CARGO_BIN_EXE_mcp-kubernetes"))
            .args(["--kubeconfig", self.kubeconfig.to_str().expect("utf-8 path")])
            .env_remove("KUBECONFIG")
            .env_remove("KUBERNETES_SERVICE_HOST")
            .env_remove("MCP_KUBERNETES_CONTEXT")
            .env_remove("MCP_KUBERNETES_ALLOW_WRITE")
            .env_remove("MCP_KUBERNETES_ALLOW_DESTRUCTIVE")
            .env_remove("MCP_KUBERNETES_ALLOWED_NAMESPACES")
    }
}

fn kubeconfig_yaml(addr: SocketAddr, flaky: SocketAddr) -> String {
    format!(
        "apiVersion: v1
kind: Config
current-context: main
clusters:
- name: fake
  cluster:
    server: http://{addr}
- name: down
  cluster:
    server: http://{flaky}
users:
- name: admin
  user:
    token: admin-token
- name: reader
  user:
    token: reader-token
contexts:
- name: main
  context:
    cluster: fake
    user: admin
    namespace: {NS}
- name: limited
  context:
    cluster: fake
    user: reader
    namespace: {NS}
- name: flaky
  context:
    cluster: down
    user: admin
    namespace: {NS}
"
    )
}

/// A pod whose container prints three lines (busybox on a real cluster; the fake reads
/// the echo words from the script).
pub fn pod_manifest(name: &str) -> String {
    format!(
        "apiVersion: v1
kind: Pod
metadata:
  name: {name}
  labels: {{app: demo}}
spec:
  containers:
  - name: main
    image: busybox:1.36
    command: [sh, -c, 'echo starting up; echo ERROR disk full; echo ready; sleep 3600']
    env:
    - {{name: DB_PASSWORD, value: hunter2}}
    - {{name: LOG_LEVEL, value: debug}}
"
    )
}

pub fn deployment_manifest(name: &str, image: &str) -> String {
    format!(
        "apiVersion: apps/v1
kind: Deployment
metadata:
  name: {name}
spec:
  replicas: 2
  selector:
    matchLabels: {{app: {name}}}
  template:
    metadata:
      labels: {{app: {name}}}
    spec:
      containers:
      - name: web
        image: {image}
"
    )
}
