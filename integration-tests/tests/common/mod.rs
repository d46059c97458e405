//! What the integration test binaries share: a Kubernetes cluster (a real one named by
//! MCP_TEST_KUBECONFIG, else mcp-kubernetes' in-process fake API server, included from
//! its tests rather than copied), and one real read call per connector with the check of
//! its answer.
#![allow(dead_code)]

#[allow(dead_code, clippy::all)]
#[path = "../../../mcp-kubernetes/tests/common/fake.rs"]
pub mod fake;

use std::path::PathBuf;

use integration_tests::{docker, kubernetes, n8n, postgres};
use mcp_core::testing::Launcher;
use serde_json::{Value, json};

/// The namespace seeded in the fake (and expected on a real cluster).
pub const NS: &str = "default";

/// A cluster and a kubeconfig naming it; the fake stops when this is dropped.
pub struct Cluster {
    pub kubeconfig: PathBuf,
    pub fake: Option<fake::Fake>,
    _dir: tempfile::TempDir,
    task: Option<tokio::task::JoinHandle<()>>,
}

impl Drop for Cluster {
    fn drop(&mut self) {
        if let Some(task) = &self.task {
            task.abort();
        }
    }
}

impl Cluster {
    pub async fn start() -> Self {
        let dir = tempfile::tempdir().expect("tempdir");
        if let Some(path) = std::env::var("MCP_TEST_KUBECONFIG").ok().filter(|s| !s.is_empty()) {
            return Self { kubeconfig: PathBuf::from(path), fake: None, _dir: dir, task: None };
        }
        let fake = fake::Fake::new();
        fake.insert("namespaces", json!({"metadata": {"name": "integration"}}));
        let (addr, task) = fake.clone().serve("127.0.0.1:0".parse().expect("addr")).await;
        let kubeconfig = dir.path().join("kubeconfig");
        let yaml = format!(
            "apiVersion: v1\nkind: Config\ncurrent-context: main\nclusters:\n- name: fake\n  cluster:\n    server: http://{addr}\n\
             users:\n- name: admin\n  user:\n    token: admin-token\ncontexts:\n- name: main\n  context:\n    cluster: fake\n    \
             user: admin\n    namespace: {NS}\n"
        );
        std::fs::write(&kubeconfig, yaml).expect("write kubeconfig");
        Self { kubeconfig, fake: Some(fake), _dir: dir, task: Some(task) }
    }

    pub fn launcher(&self) -> Launcher {
        kubernetes(&self.kubeconfig)
    }
}

/// A real read call of a connector and what its answer must contain.
#[derive(Debug, Clone)]
pub struct Read {
    pub tool: &'static str,
    pub args: Value,
    /// Text the result must contain: something only the real service can have answered.
    pub expect: &'static str,
}

/// The read call the end-to-end and composition tests make on each connector.
pub fn read_call(connector: &str) -> Read {
    match connector {
        "mcp-postgres" => Read {
            tool: "query",
            args: json!({"sql": "SELECT 'integration-' || (40 + 2)::text AS answer"}),
            expect: "integration-42",
        },
        "mcp-docker" => Read { tool: "list_images", args: json!({}), expect: "mcp-test/busybox" },
        "mcp-kubernetes" => Read { tool: "namespaces_list", args: json!({}), expect: "kube-system" },
        // n8n's own report of its settings: no key of the connector's, and nothing an
        // offline catalogue could answer.
        "mcp-n8n" => Read {
            tool: "security_audit",
            args: json!({"categories": ["instance"]}),
            expect: "\"publicApiEnabled\":true",
        },
        other => panic!("no read call for {other}"),
    }
}

/// A mixed set of read calls per connector, for the load tests: tool, arguments, and text
/// a right answer contains (something of the service's, not a key of the connector's).
pub fn read_mix(connector: &str) -> Vec<(&'static str, Value, &'static str)> {
    match connector {
        "mcp-postgres" => vec![
            ("query", json!({"sql": "SELECT 40 + 2 AS n"}), "[[42]]"),
            ("list_schemas", json!({}), "public"),
            ("query", json!({"sql": "SELECT count(*) > 100 AS many FROM pg_class"}), "[[true]]"),
        ],
        "mcp-docker" => {
            vec![("system_info", json!({}), "\"engine\":\"Docker\""), ("list_images", json!({}), "mcp-test/busybox")]
        }
        "mcp-kubernetes" => vec![("namespaces_list", json!({}), "kube-system"), ("nodes_list", json!({}), "Ready")],
        // n8n's own role name: only the instance can answer it (its security audit, the
        // end-to-end marker, is too heavy for n8n's one process under 200 clients).
        "mcp-n8n" => {
            vec![("list_users", json!({}), "global:owner"), ("list_workflows", json!({"limit": 5}), "\"count\"")]
        }
        other => panic!("no read mix for {other}"),
    }
}

/// The launcher of a connector on the test services (`cluster` for Kubernetes).
pub fn launcher(connector: &str, cluster: &Cluster) -> Launcher {
    match connector {
        "mcp-postgres" => postgres(),
        "mcp-docker" => docker(),
        "mcp-kubernetes" => cluster.launcher(),
        "mcp-n8n" => n8n(),
        other => panic!("unknown connector {other}"),
    }
}
