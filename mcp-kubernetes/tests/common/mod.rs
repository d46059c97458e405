//! What every test shares: a cluster to talk to (a real one when MCP_TEST_KUBECONFIG or
//! KUBECONFIG names one, else the in-process fake API server) and a kubeconfig for it.

#![allow(dead_code)]

pub mod fake;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use mcp_core::testing::Launcher;

pub use fake::Fake;

/// A cluster and a kubeconfig naming it.
pub struct Cluster {
    /// The fake, when no real cluster was given; tests of fake-only situations (a
    /// forbidden user, a server that goes away) need it.
    pub fake: Option<Fake>,
    pub kubeconfig: PathBuf,
    /// The context the tests use: `main` on the fake, the kubeconfig's current context
    /// (or MCP_TEST_CONTEXT) on a real cluster.
    pub context: String,
    /// Where the `flaky` context points: nothing listens there until a test starts it.
    pub flaky_addr: SocketAddr,
    _dir: tempfile::TempDir,
    _task: Option<tokio::task::JoinHandle<()>>,
}

/// The fake's seeded namespace (tests on a real cluster make their own: [`Cluster::namespace`]).
pub const NS: &str = "team-a";

/// How long a real cluster may take to reach a state (a pod running, a rollout done).
pub const REAL_WAIT: Duration = Duration::from_secs(180);
/// How long the fake may: its rollouts take a fixed moment, everything else is at once.
pub const FAKE_WAIT: Duration = Duration::from_secs(10);

impl Cluster {
    pub async fn start() -> Self {
        let dir = tempfile::tempdir().expect("tempdir");
        let flaky_addr: SocketAddr = format!("127.0.0.1:{}", mcp_core::testing::free_port()).parse().expect("addr");
        let real = std::env::var("MCP_TEST_KUBECONFIG").ok().filter(|s| !s.is_empty());
        if let Some(path) = real {
            let context = std::env::var("MCP_TEST_CONTEXT").ok().filter(|c| !c.is_empty()).unwrap_or_else(|| {
                let config = kube::config::Kubeconfig::read_from(&path)
                    .unwrap_or_else(|e| panic!("MCP_TEST_KUBECONFIG={path}: {e}"));
                config.current_context.unwrap_or_else(|| panic!("{path} has no current-context: set MCP_TEST_CONTEXT"))
            });
            return Self { fake: None, kubeconfig: PathBuf::from(path), context, flaky_addr, _dir: dir, _task: None };
        }
        let fake = Fake::new();
        fake.insert("namespaces", serde_json::json!({"metadata": {"name": NS}}));
        fake.insert("namespaces", serde_json::json!({"metadata": {"name": "team-b"}}));
        let (addr, task) = fake.clone().serve("127.0.0.1:0".parse().expect("addr")).await;
        let kubeconfig = dir.path().join("kubeconfig");
        std::fs::write(&kubeconfig, kubeconfig_yaml(addr, flaky_addr)).expect("write kubeconfig");
        Self { fake: Some(fake), kubeconfig, context: "main".into(), flaky_addr, _dir: dir, _task: Some(task) }
    }

    pub fn is_real(&self) -> bool {
        self.fake.is_none()
    }

    /// Says why a test stops here on a real cluster (what only the fake can stage).
    pub fn fake_only(&self, test: &str, why: &str) -> Option<&Fake> {
        if self.fake.is_none() {
            skipped(&format!("on a real cluster: {test}: {why}"));
        }
        self.fake.as_ref()
    }

    /// A new, empty namespace of this test's own (`mcp-HINT-xxxxxx`), so that runs and
    /// tests never meet on a real cluster. [`Cluster::drop_namespace`] removes it.
    pub async fn namespace(&self, hint: &str) -> String {
        let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.subsec_nanos());
        let name = format!("mcp-{hint}-{:06x}", (nanos ^ std::process::id().rotate_left(16)) & 0xff_ffff);
        let admin = self.launcher().arg("--allow-write").start(mcp_core::testing::Transport::Stdio).await;
        let manifest = format!("apiVersion: v1\nkind: Namespace\nmetadata: {{name: {name}}}\n");
        admin.ok("resources_apply", serde_json::json!({"context": self.context, "manifest": manifest})).await;
        name
    }

    /// Deletes a namespace [`Cluster::namespace`] made (on a real cluster; the fake goes
    /// away with the test). A failed test leaves its namespace behind, named by the test.
    pub async fn drop_namespace(&self, name: &str) {
        if self.is_real() {
            let admin = self.launcher().arg("--allow-destructive").start(mcp_core::testing::Transport::Stdio).await;
            admin
                .ok(
                    "resources_delete",
                    serde_json::json!({"context": self.context, "kind": "namespaces", "name": name}),
                )
                .await;
        }
    }

    /// Makes sure `widgets.example.com` is served: the fake serves it built in, a real
    /// cluster gets its CustomResourceDefinition (kept afterwards: other runs use it).
    pub async fn widgets(&self) {
        if !self.is_real() {
            return;
        }
        let admin = self.launcher().arg("--allow-write").start(mcp_core::testing::Transport::Stdio).await;
        admin.ok("resources_apply", serde_json::json!({"context": self.context, "manifest": WIDGET_CRD})).await;
        eventually(self, "the widgets CRD served", REAL_WAIT, || async {
            let r = admin.call("api_resources", serde_json::json!({"group": "example.com"})).await;
            let text = mcp_core::testing::text(&r);
            if text.contains("widgets") { Ok(()) } else { Err(text) }
        })
        .await;
    }

    /// A client of the cluster of its own (not the connector's), for another field
    /// manager's writes and checks that do not go through the connector.
    pub async fn client(&self) -> kube::Client {
        let kubeconfig = kube::config::Kubeconfig::read_from(&self.kubeconfig).expect("kubeconfig");
        let options = kube::config::KubeConfigOptions { context: Some(self.context.clone()), ..Default::default() };
        let config = kube::Config::from_custom_kubeconfig(kubeconfig, &options).await.expect("client config");
        kube::Client::try_from(config).expect("client")
    }

    /// ConfigMaps of `ns` through [`Cluster::client`].
    pub async fn configmaps(&self, ns: &str) -> kube::Api<k8s_openapi::api::core::v1::ConfigMap> {
        kube::Api::namespaced(self.client().await, ns)
    }

    /// The connector on this cluster, with the developer's own settings kept out.
    pub fn launcher(&self) -> Launcher {
        Launcher::new(env!("CARGO_BIN_EXE_mcp-kubernetes"))
            .args(["--kubeconfig", self.kubeconfig.to_str().expect("utf-8 path")])
            .env_remove("KUBECONFIG")
            .env_remove("KUBERNETES_SERVICE_HOST")
            // The tests' context, as a default a test's own --context overrides.
            .env("MCP_KUBERNETES_CONTEXT", &self.context)
            .env_remove("MCP_KUBERNETES_ALLOW_WRITE")
            .env_remove("MCP_KUBERNETES_ALLOW_DESTRUCTIVE")
            .env_remove("MCP_KUBERNETES_ALLOWED_NAMESPACES")
    }
}

/// A stand-in `helm` in `dir` that prints the arguments it was given, for tests of the
/// command the connector runs.
pub fn stand_in_helm(dir: &std::path::Path) -> PathBuf {
    let helm = dir.join("helm");
    std::fs::write(&helm, "#!/bin/sh\necho \"helm $*\"\n").expect("write");
    let mut perms = std::fs::metadata(&helm).expect("meta").permissions();
    std::os::unix::fs::PermissionsExt::set_mode(&mut perms, 0o755);
    std::fs::set_permissions(&helm, perms).expect("chmod");
    helm
}

/// Says what a test leaves out here and why (shown with `--nocapture`, and in a
/// failure's output).
#[allow(clippy::print_stdout)]
pub fn skipped(what: &str) {
    println!("skipped {what}");
}

/// Polls `check` until it gives a value: for up to `limit` on a real cluster, where
/// objects settle asynchronously; on the fake, which settles at once, the first answer
/// must do (the tests stay strict there).
pub async fn eventually<T, F, Fut>(cluster: &Cluster, what: &str, limit: Duration, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<T, String>>,
{
    let start = std::time::Instant::now();
    loop {
        match check().await {
            Ok(v) => return v,
            Err(_) if cluster.is_real() && start.elapsed() < limit => {
                tokio::time::sleep(Duration::from_millis(500)).await
            }
            // The fake's rollouts take a moment too (its ROLLOUT), nothing else does.
            Err(_) if !cluster.is_real() && start.elapsed() < FAKE_WAIT => {
                tokio::time::sleep(Duration::from_millis(100)).await
            }
            Err(last) => {
                let when = if cluster.is_real() {
                    format!("within {limit:?}")
                } else {
                    format!("within {FAKE_WAIT:?} on the fake")
                };
                panic!("{what}: not reached {when}: {last}")
            }
        }
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

/// The custom resource the tests use (the fake serves the same group built in).
pub const WIDGET_CRD: &str = "apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata: {name: widgets.example.com}
spec:
  group: example.com
  names: {plural: widgets, singular: widget, kind: Widget, shortNames: [wd]}
  scope: Namespaced
  versions:
  - name: v1
    served: true
    storage: true
    schema:
      openAPIV3Schema:
        type: object
        properties:
          spec:
            type: object
            properties:
              size: {type: integer}
              color: {type: string}
";

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
