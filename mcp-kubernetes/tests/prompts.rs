//! Prompts, resources and completion against the fake API server (or a real cluster named
//! by MCP_TEST_KUBECONFIG): each prompt gathers its evidence in one bounded report, the
//! `k8s://` resources read contexts, namespaces and objects through the tools' checks,
//! and completion offers what exists.

mod common;

use common::{Cluster, REAL_WAIT, eventually};
use mcp_core::testing::{Connector, Transport};
use serde_json::{Value, json};

/// A Deployment whose container prints a fatal line and exits, so it crash-loops.
fn crashing(name: &str) -> String {
    common::deployment_manifest(name, "busybox:1.36").replace("replicas: 2", "replicas: 1").replace(
        "        image: busybox:1.36\n",
        "        image: busybox:1.36\n        command: [sh, -c, 'echo starting; echo FATAL config missing; exit 3']\n",
    )
}

/// On the fake, the pod a ReplicaSet of `deploy` would make, restarted and waiting in
/// CrashLoopBackOff (a real cluster gets there by itself).
fn crashed_pod(deploy: &str, ns: &str) -> Value {
    json!({"metadata": {"name": format!("{deploy}-5d9c7-abcde"), "namespace": ns, "labels": {"app": deploy},
            "ownerReferences": [{"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": format!("{deploy}-5d9c7"), "uid": "u", "controller": true}]},
        "spec": {"nodeName": "node-1", "containers": [{"name": "web", "image": "busybox:1.36",
            "command": ["sh", "-c", "echo starting; echo FATAL config missing; exit 3"]}]},
        "status": {"phase": "Running", "containerStatuses": [{"name": "web", "image": "busybox:1.36", "ready": false, "restartCount": 4,
            "state": {"waiting": {"reason": "CrashLoopBackOff", "message": "back-off 40s restarting failed container"}},
            "lastState": {"terminated": {"exitCode": 3, "reason": "Error"}}}]}})
}

fn prompt_text(v: &Value) -> String {
    v["messages"][0]["content"]["text"].as_str().unwrap_or_default().to_string()
}

async fn complete(s: &Connector, reference: Value, argument: &str, value: &str, context: Value) -> Vec<String> {
    let mut params = serde_json::Map::new();
    params.insert("ref".into(), reference);
    params.insert("argument".into(), json!({"name": argument, "value": value}));
    params.insert("context".into(), json!({"arguments": context}));
    let r = s.client.request("completion/complete", params).await.expect("completion");
    r["completion"]["values"]
        .as_array()
        .expect("values")
        .iter()
        .filter_map(|v| v.as_str().map(str::to_string))
        .collect()
}

#[tokio::test]
async fn prompts_gather_a_bounded_report() {
    let cluster = Cluster::start().await;
    let ns = cluster.namespace("prompts").await;
    let s = cluster
        .launcher()
        .args(["--allow-write", "--namespace", &ns, "--max-result-bytes", "8192"])
        .start(Transport::Stdio)
        .await;
    s.ok("resources_apply", json!({"context": cluster.context, "manifest": crashing("crash")})).await;
    let pod = match &cluster.fake {
        Some(fake) => {
            fake.insert("pods", crashed_pod("crash", &ns));
            "crash-5d9c7-abcde".to_string()
        }
        None => {
            eventually(&cluster, "the pod crash-looping", REAL_WAIT, || async {
                let pods = s
                    .ok("resources_list", json!({"kind": "pods", "label_selector": "app=crash", "output": "json"}))
                    .await;
                let p = &pods["items"][0];
                match (
                    p.pointer("/metadata/name"),
                    p.pointer("/status/containerStatuses/0/restartCount").and_then(Value::as_i64),
                ) {
                    (Some(n), Some(r)) if r > 0 => Ok(n.as_str().unwrap_or_default().to_string()),
                    _ => Err(pods.to_string()),
                }
            })
            .await
        }
    };
    let names: Vec<String> = s
        .client
        .list_prompts()
        .await
        .expect("prompts")
        .iter()
        .filter_map(|p| p["name"].as_str().map(str::to_string))
        .collect();
    assert_eq!(names.len(), 3, "{names:?}");

    let diagnosis =
        s.client.get_prompt("diagnose_workload", json!({"kind": "deployment", "name": "crash"})).await.expect("prompt");
    let text = prompt_text(&diagnosis);
    for section in [
        "### rollout_status deployment crash",
        "### resources_describe deployment crash",
        "### resources_list pods app=crash",
        &format!("### resources_describe pod {pod}"),
        "### pods_log",
    ] {
        assert!(text.contains(section), "{section} in {text}");
    }
    assert!(
        text.contains("FATAL config missing") && text.contains("previous instance"),
        "the crashed container's logs: {text}"
    );
    assert!(text.contains("CrashLoopBackOff") && text.contains("never instructions"), "{text}");
    assert!(text.len() < 8192 + 2048, "bounded by --max-result-bytes: {} bytes", text.len());

    let explained = s.client.get_prompt("explain_failure", json!({"pod": pod})).await.expect("prompt");
    let text = prompt_text(&explained);
    assert!(text.contains("FATAL config missing") && text.contains("exit code 137"), "{text}");

    let health = s.client.get_prompt("cluster_health", json!({})).await.expect("prompt");
    let text = prompt_text(&health);
    assert!(text.contains("### nodes_list") && text.contains("### events_list Warning"), "{text}");

    // Bad input: not a workload, a missing pod, an unknown argument, an unknown context.
    let e = s
        .client
        .get_prompt("diagnose_workload", json!({"kind": "configmap", "name": "crash"}))
        .await
        .expect_err("not a workload");
    assert!(e.to_string().contains("rollouts apply to deployments"), "{e}");
    let e = s.client.get_prompt("explain_failure", json!({"pod": "no-such-pod"})).await.expect_err("missing");
    assert!(e.to_string().contains("no-such-pod") && e.to_string().contains("not found"), "{e}");
    let e = s.client.get_prompt("explain_failure", json!({"pod": pod, "podd": 1})).await.expect_err("unknown argument");
    assert!(e.to_string().contains("podd"), "{e}");
    let e = s.client.get_prompt("cluster_health", json!({"context": "prod"})).await.expect_err("unknown context");
    assert!(e.to_string().contains("prod"), "{e}");
    drop(s);
    cluster.drop_namespace(&ns).await;
}

#[tokio::test]
async fn contexts_namespaces_and_objects_are_resources() {
    let cluster = Cluster::start().await;
    let ns = cluster.namespace("res").await;
    let ctx = cluster.context.clone();
    let s = cluster.launcher().args(["--allow-write", "--namespace", &ns]).start(Transport::Stdio).await;
    let secret = "apiVersion: v1\nkind: Secret\nmetadata: {name: creds}\nstringData: {password: hunter2}\n";
    s.ok("resources_apply", json!({"context": ctx, "manifest": format!("{secret}---\n{}", common::deployment_manifest("web", "nginx:1.27"))})).await;

    let read = |uri: String| {
        let c = &s.client;
        async move { c.read_resource(&uri).await }
    };
    let contexts = read("k8s://contexts".into()).await.expect("contexts");
    assert!(contexts["contents"][0]["text"].as_str().is_some_and(|t| t.contains(&format!("\"{ctx}\""))), "{contexts}");
    let namespaces = read(format!("k8s://{ctx}/namespaces")).await.expect("namespaces");
    let body: Value = serde_json::from_str(namespaces["contents"][0]["text"].as_str().expect("text")).expect("json");
    let entry = body["namespaces"]
        .as_array()
        .expect("list")
        .iter()
        .find(|n| n["name"] == ns.as_str())
        .cloned()
        .expect("own namespace");
    assert_eq!(entry["uri"], format!("k8s://{ctx}/_/namespaces/{ns}"), "{body}");
    let deploy = read(format!("k8s://{ctx}/{ns}/deployments.apps/web")).await.expect("object");
    let yaml = deploy["contents"][0]["text"].as_str().expect("yaml");
    assert!(yaml.contains("kind: Deployment") && !yaml.contains("managedFields"), "{yaml}");
    let masked = read(format!("k8s://{ctx}/{ns}/secrets/creds")).await.expect("secret");
    let yaml = masked["contents"][0]["text"].as_str().expect("yaml");
    assert!(yaml.contains("REDACTED") && !yaml.contains("hunter2") && !yaml.contains("aHVudGVyMg"), "{yaml}");
    let own = read(format!("k8s://{ctx}/_/namespaces/{ns}")).await.expect("cluster-scoped");
    assert!(own["contents"][0]["text"].as_str().is_some_and(|t| t.contains("kind: Namespace")), "{own}");

    // Not found: a missing object, a namespaced kind without its namespace, a
    // cluster-scoped kind with one, a bad escape, a name with a slash, another context.
    for uri in [
        format!("k8s://{ctx}/{ns}/deployments.apps/nope"),
        format!("k8s://{ctx}/_/deployments.apps/web"),
        format!("k8s://{ctx}/{ns}/namespaces/{ns}"),
        format!("k8s://{ctx}/{ns}/pods/%zz"),
        format!("k8s://{ctx}/{ns}/pods/a/b"),
        "k8s://prod/namespaces".to_string(),
    ] {
        let e = read(uri.clone()).await.expect_err("not found");
        assert!(e.to_string().to_lowercase().contains("not found"), "{uri}: {e}");
    }

    let listed = s.client.list_resources().await.expect("list");
    let uris: Vec<&str> = listed.iter().filter_map(|r| r["uri"].as_str()).collect();
    assert!(uris.contains(&format!("k8s://{ctx}/namespaces").as_str()), "{uris:?}");
    assert!(uris.contains(&format!("k8s://{ctx}/_/namespaces/{ns}").as_str()), "{uris:?}");
    assert!(uris.contains(&format!("k8s://{ctx}/{ns}/deployments.apps/web").as_str()), "{uris:?}");
    // Inside a namespace scope, only its objects are listed.
    let scoped = cluster.launcher().args(["--allowed-namespaces", "default"]).start(Transport::Stdio).await;
    let listed = scoped.client.list_resources().await.expect("list");
    assert!(!listed.iter().any(|r| r["uri"].as_str().is_some_and(|u| u.contains(&ns))), "{listed:?}");
    let templates = s.client.list_resource_templates().await.expect("templates");
    assert!(templates.iter().any(|t| t["uriTemplate"] == "k8s://{context}/{namespace}/{kind}/{name}"), "{templates:?}");

    // Completion offers what exists, for the template and the prompts.
    let template = json!({"type": "ref/resource", "uri": "k8s://{context}/{namespace}/{kind}/{name}"});
    assert!(complete(&s, template.clone(), "context", "", json!({})).await.contains(&ctx));
    let nss = complete(&s, template.clone(), "namespace", &ns[..6], json!({"context": ctx})).await;
    assert!(nss.contains(&ns), "{nss:?}");
    let kinds = complete(&s, template.clone(), "kind", "deploy", json!({"context": ctx})).await;
    assert_eq!(kinds, ["deployments.apps"], "{kinds:?}");
    let names =
        complete(&s, template, "name", "w", json!({"context": ctx, "namespace": ns, "kind": "deployments.apps"})).await;
    assert_eq!(names, ["web"], "{names:?}");
    let prompt = json!({"type": "ref/prompt", "name": "diagnose_workload"});
    assert_eq!(complete(&s, prompt, "name", "we", json!({"namespace": ns, "kind": "deployment"})).await, ["web"]);
    drop(s);
    cluster.drop_namespace(&ns).await;
}
