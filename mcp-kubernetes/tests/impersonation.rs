//! `--impersonate`: each authenticated caller acts as itself on the cluster, and the
//! cluster's RBAC decides. The fake holds real Roles and RoleBindings and authorizes an
//! impersonated user by them (a real cluster, named by MCP_TEST_KUBECONFIG, does the
//! same with the RBAC objects the test applies).

mod common;

use common::Cluster;
use mcp_core::client::ClientOptions;
use mcp_core::testing::{Connector, Transport};
use serde_json::json;

const ALICE: &str = "alice-token-aaaaaaaaaaaaaaaa";
const BOB: &str = "bob-token-bbbbbbbbbbbbbbbbbbbb";
const SYSTEM: &str = "system-token-cccccccccccccccc";

/// The connector over HTTP with bearer tokens and --impersonate, as the caller `token`.
async fn as_caller(cluster: &Cluster, tokens: &std::path::Path, ns: &str, token: &str) -> Connector {
    cluster
        .launcher()
        .args(["--impersonate", "--namespace", ns, "--auth-tokens-file", tokens.to_str().expect("path")])
        .options(ClientOptions { bearer_token: Some(token.into()), ..Default::default() })
        .start(Transport::Http)
        .await
}

#[tokio::test]
async fn each_caller_acts_as_itself_and_rbac_decides() {
    let cluster = Cluster::start().await;
    let ns = cluster.namespace("imp").await;
    let dir = tempfile::tempdir().expect("dir");
    let tokens = dir.path().join("tokens");
    std::fs::write(&tokens, format!("alice={ALICE}\nbob={BOB}\nsystem:kube-scheduler={SYSTEM}\n")).expect("tokens");
    // alice may read pods in the namespace, by a Role and a RoleBinding; bob has none.
    let rbac = format!(
        "apiVersion: rbac.authorization.k8s.io/v1\nkind: Role\nmetadata: {{name: pod-reader, namespace: {ns}}}\n\
         rules:\n- apiGroups: ['']\n  resources: [pods]\n  verbs: [get, list]\n---\n\
         apiVersion: rbac.authorization.k8s.io/v1\nkind: RoleBinding\nmetadata: {{name: alice-reads-pods, namespace: {ns}}}\n\
         subjects:\n- {{kind: User, name: alice, apiGroup: rbac.authorization.k8s.io}}\n\
         roleRef: {{kind: Role, name: pod-reader, apiGroup: rbac.authorization.k8s.io}}\n"
    );
    let admin = cluster.launcher().arg("--allow-write").start(Transport::Stdio).await;
    admin.ok("resources_apply", json!({"context": cluster.context, "manifest": rbac})).await;
    let cm = format!("apiVersion: v1\nkind: ConfigMap\nmetadata: {{name: plain, namespace: {ns}}}\ndata: {{a: '1'}}\n");
    admin.ok("resources_apply", json!({"context": cluster.context, "manifest": cm})).await;
    // Without impersonation the connector's own credentials read anything.
    admin.ok("resources_list", json!({"kind": "configmaps", "namespace": ns})).await;

    let alice = as_caller(&cluster, &tokens, &ns, ALICE).await;
    let pods = alice.ok("resources_list", json!({"kind": "pods"})).await;
    assert_eq!(pods["context"], cluster.context.as_str(), "{pods}");
    let (kind, refused) = alice.fails_as("resources_list", json!({"kind": "configmaps"})).await;
    assert!(refused.contains("403") && refused.contains("\"alice\"") && refused.contains("configmaps"), "{refused}");
    assert_eq!(kind, "refused", "{refused}");

    let bob = as_caller(&cluster, &tokens, &ns, BOB).await;
    let (kind, refused) = bob.fails_as("resources_list", json!({"kind": "pods"})).await;
    assert!(refused.contains("403") && refused.contains("\"bob\"") && refused.contains("pods"), "{refused}");
    assert_eq!(kind, "refused", "{refused}");

    // A caller named like a Kubernetes system user is refused before any request.
    let system = as_caller(&cluster, &tokens, &ns, SYSTEM).await;
    let reserved = system.fails("resources_list", json!({"kind": "pods"})).await;
    assert!(reserved.contains("reserved by Kubernetes"), "{reserved}");
    drop((alice, bob, system, admin));
    cluster.drop_namespace(&ns).await;
}

#[tokio::test]
async fn impersonation_needs_authenticated_callers() {
    let cluster = Cluster::start().await;
    let (ok, err) = cluster.launcher().arg("--impersonate").run_to_exit().await;
    assert!(!ok && err.contains("--impersonate") && err.contains("needs authentication"), "{err}");
    let listen = format!("127.0.0.1:{}", mcp_core::testing::free_port());
    let (ok, err) = cluster
        .launcher()
        .args(["--impersonate", "--transport", "http", "--listen", &listen])
        .env_remove("MCP_AUTH_TOKENS")
        .run_to_exit()
        .await;
    assert!(!ok && err.contains("needs authentication"), "{err}");
    let dir = tempfile::tempdir().expect("dir");
    let file = dir.path().join("k.toml");
    std::fs::write(&file, "impersonate = true\n").expect("write");
    let (ok, err) = cluster.launcher().args(["--config", file.to_str().expect("path")]).run_to_exit().await;
    assert!(!ok && err.contains("needs authentication"), "{err}");
}
