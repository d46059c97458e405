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

/// The caller's exec goes through its own client too (a WebSocket upgrade through the
/// impersonating service), and needs its own `pods/exec` binding.
#[tokio::test]
async fn exec_as_the_caller_needs_the_callers_binding() {
    let cluster = Cluster::start().await;
    let Some(fake) = cluster.fake_only("exec as the caller", "it needs a pod the fake runs at once") else {
        return;
    };
    let dir = tempfile::tempdir().expect("dir");
    let tokens = dir.path().join("tokens");
    std::fs::write(&tokens, format!("alice={ALICE}\n")).expect("tokens");
    fake.insert("pods", serde_json::from_str(&format!(
        "{{\"metadata\": {{\"name\": \"shell\", \"namespace\": \"{}\"}}, \"spec\": {{\"containers\": [{{\"name\": \"c\", \"image\": \"busybox\"}}]}}}}",
        common::NS
    )).expect("pod"));
    let alice = cluster
        .launcher()
        .args(["--impersonate", "--allow-destructive", "--auth-tokens-file", tokens.to_str().expect("path")])
        .options(ClientOptions { bearer_token: Some(ALICE.into()), ..Default::default() })
        .start(Transport::Http)
        .await;
    let exec = json!({"context": cluster.context, "name": "shell", "command": ["echo", "hi"]});
    let refused = alice.fails("pods_exec", exec.clone()).await;
    assert!(refused.contains("403") && refused.contains("\"alice\"") && refused.contains("pods/exec"), "{refused}");
    let grant = format!(
        "apiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRole\nmetadata: {{name: exec}}\n\
         rules:\n- apiGroups: ['']\n  resources: [pods/exec]\n  verbs: [create]\n---\n\
         apiVersion: rbac.authorization.k8s.io/v1\nkind: RoleBinding\nmetadata: {{name: alice-exec, namespace: {}}}\n\
         subjects:\n- {{kind: User, name: alice}}\nroleRef: {{kind: ClusterRole, name: exec, apiGroup: rbac.authorization.k8s.io}}\n",
        common::NS
    );
    let admin = cluster.launcher().arg("--allow-write").start(Transport::Stdio).await;
    admin.ok("resources_apply", json!({"context": cluster.context, "manifest": grant})).await;
    let ran = alice.ok("pods_exec", exec).await;
    assert_eq!((ran["exit_code"].clone(), ran["stdout"].clone()), (json!(0), json!("hi\n")), "{ran}");
}

/// With OAuth, the access token's `groups` claim becomes Impersonate-Group: a user with
/// no binding of their own reads through their group's.
#[tokio::test]
async fn oauth_groups_are_impersonated_too() {
    let cluster = Cluster::start().await;
    let ns = cluster.namespace("groups").await;
    let fixtures = concat!(env!("CARGO_MANIFEST_DIR"), "/../mcp-core/tests/fixtures");
    let rbac = format!(
        "apiVersion: rbac.authorization.k8s.io/v1\nkind: Role\nmetadata: {{name: pod-reader, namespace: {ns}}}\n\
         rules:\n- apiGroups: ['']\n  resources: [pods]\n  verbs: [get, list]\n---\n\
         apiVersion: rbac.authorization.k8s.io/v1\nkind: RoleBinding\nmetadata: {{name: readers, namespace: {ns}}}\n\
         subjects:\n- {{kind: Group, name: pod-readers, apiGroup: rbac.authorization.k8s.io}}\n\
         roleRef: {{kind: Role, name: pod-reader, apiGroup: rbac.authorization.k8s.io}}\n"
    );
    let admin = cluster.launcher().arg("--allow-write").start(Transport::Stdio).await;
    admin.ok("resources_apply", json!({"context": cluster.context, "manifest": rbac})).await;
    let token = |groups: serde_json::Value| {
        let exp = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).expect("clock").as_secs() + 600;
        let claims = json!({"iss": "https://issuer.test", "aud": "https://mcp.test/mcp", "sub": "carol", "exp": exp, "groups": groups});
        let mut header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::ES256);
        header.kid = Some("test-key-1".into());
        let pem = std::fs::read(format!("{fixtures}/oauth-test-key.pem")).expect("test key");
        let key = jsonwebtoken::EncodingKey::from_ec_pem(&pem).expect("test key");
        jsonwebtoken::encode(&header, &claims, &key).expect("sign")
    };
    let jwks = format!("{fixtures}/oauth-test-jwks.json");
    let launcher = cluster.launcher().args([
        "--impersonate",
        "--namespace",
        &ns,
        "--oauth-issuer",
        "https://issuer.test",
        "--oauth-audience",
        "https://mcp.test/mcp",
        "--oauth-jwks",
        &jwks,
    ]);
    let as_carol =
        |groups| launcher.clone().options(ClientOptions { bearer_token: Some(token(groups)), ..Default::default() });
    let member = as_carol(json!(["pod-readers", "other"])).start(Transport::Http).await;
    member.ok("resources_list", json!({"kind": "pods"})).await;
    // Helm acts as the caller too: a stand-in binary shows its arguments.
    let dir = tempfile::tempdir().expect("dir");
    let helm = common::stand_in_helm(dir.path());
    let helm_user = as_carol(json!(["pod-readers", "other"]))
        .args(["--allow-destructive", "--helm-binary", helm.to_str().expect("path")])
        .start(Transport::Http)
        .await;
    let out =
        helm_user.ok("helm_rollback", json!({"context": cluster.context, "release": "shop", "revision": 1})).await;
    let line = out["output"].as_str().expect("output");
    assert!(line.contains("--kube-as-user carol --kube-as-group pod-readers --kube-as-group other"), "{line}");
    let outsider = as_carol(json!(["other"])).start(Transport::Http).await;
    let refused = outsider.fails("resources_list", json!({"kind": "pods"})).await;
    assert!(refused.contains("403") && refused.contains("\"carol\""), "{refused}");
    let reserved = as_carol(json!(["system:masters"])).start(Transport::Http).await;
    let refused = reserved.fails("resources_list", json!({"kind": "pods"})).await;
    assert!(refused.contains("system:masters") && refused.contains("reserved"), "{refused}");
    drop((member, helm_user, outsider, reserved, admin));
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
