//! Node operations against the fake API server (or a real cluster named by
//! MCP_TEST_KUBECONFIG): cordon and uncordon, a drain through the Eviction API that a
//! PodDisruptionBudget blocks, the kubelet's logs and stats through the node proxy, and
//! the bad inputs.

mod common;

use common::{Cluster, NS};
use mcp_core::testing::Transport;
use serde_json::{Value, json};

/// The first node's name (the fake's `node-1`, a real cluster's first).
async fn first_node(s: &mcp_core::testing::Connector) -> String {
    let nodes = s.ok("nodes_list", json!({})).await;
    nodes["items"][0]["name"].as_str().expect("a node").to_string()
}

#[tokio::test]
async fn cordon_and_uncordon_a_node() {
    let cluster = Cluster::start().await;
    let ctx = cluster.context.as_str();
    let read_only = cluster.launcher().start(Transport::Stdio).await.tool_names().await;
    assert!(!read_only.iter().any(|t| t.starts_with("nodes_cordon") || t == "nodes_drain"), "{read_only:?}");
    assert!(read_only.iter().any(|t| t == "nodes_log") && read_only.iter().any(|t| t == "nodes_stats_summary"));
    let s = cluster.launcher().arg("--allow-write").start(Transport::Stdio).await;
    let names = s.tool_names().await;
    assert!(names.iter().any(|t| t == "nodes_cordon") && !names.iter().any(|t| t == "nodes_drain"), "{names:?}");
    let node = first_node(&s).await;
    let dry = s.ok("nodes_cordon", json!({"context": ctx, "name": node, "dry_run": true})).await;
    assert_eq!((dry["changed"].clone(), dry["dryRun"].clone()), (json!(true), json!(true)), "{dry}");
    let detail = s.ok("nodes_list", json!({"name": node})).await;
    assert!(!s.ok_text("nodes_list", json!({"name": node})).await.0.contains("Unschedulable: true"), "{detail}");
    let cordoned = s.ok("nodes_cordon", json!({"context": ctx, "name": node})).await;
    assert_eq!(cordoned["changed"], true, "{cordoned}");
    let text = s.ok_text("nodes_list", json!({"name": node})).await.0;
    assert!(text.contains("Unschedulable: true"), "{text}");
    let again = s.ok_text("nodes_cordon", json!({"context": ctx, "name": node})).await;
    assert!(again.0.contains("already cordoned") && again.1["changed"] == false, "{again:?}");
    let uncordoned = s.ok("nodes_uncordon", json!({"context": ctx, "name": node})).await;
    assert_eq!(uncordoned["changed"], true, "{uncordoned}");
    let text = s.ok_text("nodes_list", json!({"name": node})).await.0;
    assert!(text.contains("Unschedulable: false"), "{text}");

    // Bad input: a missing node, a bad name, no context with several served (the fake's).
    let (kind, missing) = s.fails_as("nodes_cordon", json!({"context": ctx, "name": "no-such-node"})).await;
    assert!(missing.contains("no-such-node") && missing.contains("not found"), "{missing}");
    assert_eq!(kind, "not_found", "{missing}");
    let bad = s.fails("nodes_uncordon", json!({"context": ctx, "name": "../x"})).await;
    assert!(bad.contains("`name`") && bad.contains("not a valid object name"), "{bad}");
    if cluster.fake.is_some() {
        let unnamed = s.fails("nodes_cordon", json!({"name": node})).await;
        assert!(unnamed.contains("must name its target"), "{unnamed}");
    }
    // With a namespace allowlist, cluster-scoped writes are refused.
    let scoped = cluster.launcher().args(["--allow-write", "--allowed-namespaces", NS]).start(Transport::Stdio).await;
    let refused = scoped.fails("nodes_cordon", json!({"context": ctx, "name": node})).await;
    assert!(refused.contains("cluster-scoped"), "{refused}");
}

/// A pod on `node` owned by a ReplicaSet (or a DaemonSet, or nothing), labelled `app`.
fn pod(name: &str, node: &str, app: &str, owner: Option<&str>) -> Value {
    let mut p = json!({"metadata": {"name": name, "namespace": NS, "labels": {"app": app}},
        "spec": {"nodeName": node, "containers": [{"name": "c", "image": "busybox"}]}});
    if let Some(kind) = owner {
        p["metadata"]["ownerReferences"] =
            json!([{"apiVersion": "apps/v1", "kind": kind, "name": app, "uid": "u", "controller": true}]);
    }
    p
}

#[tokio::test]
async fn drain_evicts_through_the_eviction_api_and_respects_budgets() {
    let cluster = Cluster::start().await;
    let Some(fake) = cluster.fake_only(
        "a full drain",
        "it evicts every pod of a node, which a shared real cluster needs; its PDB refusal is checked by dry run below",
    ) else {
        return drain_blocked_by_a_budget_on_a_real_cluster(&cluster).await;
    };
    let ctx = cluster.context.as_str();
    fake.insert(
        "nodes",
        json!({"metadata": {"name": "node-2"}, "status": {"conditions": [{"type": "Ready", "status": "True"}]}}),
    );
    fake.insert("pods", pod("web-1", "node-2", "web", Some("ReplicaSet")));
    fake.insert("pods", pod("agent-1", "node-2", "agent", Some("DaemonSet")));
    let mut mirror = pod("etcd-node-2", "node-2", "etcd", None);
    mirror["metadata"]["annotations"] = json!({"kubernetes.io/config.mirror": "abc"});
    fake.insert("pods", mirror);
    fake.insert("pods", pod("web-0", "node-1", "web", Some("ReplicaSet")));
    fake.insert("pods", pod("loose", "node-2", "loose", None));
    let write = cluster.launcher().arg("--allow-write").start(Transport::Stdio).await;
    assert!(!write.tool_names().await.iter().any(|t| t == "nodes_drain"), "drain is destructive");
    let s = cluster.launcher().arg("--allow-destructive").start(Transport::Stdio).await;

    // A pod no controller manages blocks the drain before anything changes.
    let blocked = s.fails("nodes_drain", json!({"context": ctx, "name": "node-2"})).await;
    assert!(blocked.contains("loose") && blocked.contains("force") && blocked.contains("nothing changed"), "{blocked}");
    assert!(fake.get("nodes", "", "node-2").expect("node").pointer("/spec/unschedulable").is_none());
    fake.store.lock().expect("store").objects.remove(&("pods".into(), NS.into(), "loose".into()));

    // Both web pods are needed: the budget allows no disruption, so the eviction is a
    // 429, retried until the timeout, then named with its budget and pod.
    fake.insert(
        "poddisruptionbudgets.policy",
        json!({"metadata": {"name": "web-pdb", "namespace": NS}, "spec": {"minAvailable": 2, "selector": {"matchLabels": {"app": "web"}}}}),
    );
    let started = std::time::Instant::now();
    let (kind, pdb) = s.fails_as("nodes_drain", json!({"context": ctx, "name": "node-2", "timeout_seconds": 3})).await;
    assert!(started.elapsed() >= std::time::Duration::from_secs(2), "retried until the timeout");
    assert!(
        pdb.contains("PodDisruptionBudget `web-pdb`") && pdb.contains("pod `web-1`") && pdb.contains("429"),
        "{pdb}"
    );
    assert_eq!(kind, "timed_out", "{pdb}");
    assert!(fake.get("pods", NS, "web-1").is_some(), "the blocked pod stays");
    assert_eq!(fake.get("nodes", "", "node-2").expect("node").pointer("/spec/unschedulable"), Some(&json!(true)));

    // With the budget relaxed, a dry run evicts nothing; then the drain goes through,
    // skipping the DaemonSet and mirror pods.
    fake.insert(
        "poddisruptionbudgets.policy",
        json!({"metadata": {"name": "web-pdb", "namespace": NS}, "spec": {"minAvailable": 1, "selector": {"matchLabels": {"app": "web"}}}}),
    );
    let dry = s.ok("nodes_drain", json!({"context": ctx, "name": "node-2", "dry_run": true})).await;
    assert_eq!(dry["evicted"], json!([{"namespace": NS, "pod": "web-1"}]), "{dry}");
    assert!(fake.get("pods", NS, "web-1").is_some(), "a dry run evicts nothing");
    let (text, done) = s.ok_text("nodes_drain", json!({"context": ctx, "name": "node-2"})).await;
    assert_eq!(done["evicted"], json!([{"namespace": NS, "pod": "web-1"}]), "{done}");
    let skipped: Vec<&str> =
        done["skipped"].as_array().expect("skipped").iter().filter_map(|s| s["pod"].as_str()).collect();
    assert_eq!(skipped, ["agent-1", "etcd-node-2"], "{text}");
    assert!(fake.get("pods", NS, "web-1").is_none() && fake.get("pods", NS, "agent-1").is_some());
    assert!(fake.get("pods", NS, "web-0").is_some(), "other nodes' pods stay");
    let refuse_ds = s.fails("nodes_drain", json!({"context": ctx, "name": "node-2", "ignore_daemonsets": false})).await;
    assert!(refuse_ds.contains("agent-1") && refuse_ds.contains("ignore_daemonsets"), "{refuse_ds}");

    // Bad input.
    let missing = s.fails("nodes_drain", json!({"context": ctx, "name": "no-such-node"})).await;
    assert!(missing.contains("no-such-node") && missing.contains("not found"), "{missing}");
    let grace = s.fails("nodes_drain", json!({"context": ctx, "name": "node-2", "grace_period_seconds": -1})).await;
    assert!(grace.contains("grace_period_seconds"), "{grace}");
}

/// On a real cluster: a Deployment of one replica under a budget of minAvailable 1; a
/// dry-run drain of its node is refused by the API server's budget check.
async fn drain_blocked_by_a_budget_on_a_real_cluster(cluster: &Cluster) {
    let ns = cluster.namespace("drain").await;
    let s = cluster.launcher().args(["--allow-destructive", "--namespace", &ns]).start(Transport::Stdio).await;
    let manifest = format!(
        "{}---\napiVersion: policy/v1\nkind: PodDisruptionBudget\nmetadata: {{name: web-pdb}}\nspec:\n  minAvailable: 1\n  selector: {{matchLabels: {{app: pdbweb}}}}\n",
        common::deployment_manifest("pdbweb", "nginx:1.27").replace("replicas: 2", "replicas: 1")
    );
    s.ok("resources_apply", json!({"context": cluster.context, "manifest": manifest})).await;
    let node = common::eventually(cluster, "the pod scheduled and running", common::REAL_WAIT, || async {
        let pods = s
            .ok(
                "resources_list",
                json!({"kind": "pods", "label_selector": "app=pdbweb", "fields": ["spec.nodeName", "status.phase"]}),
            )
            .await;
        match (pods["items"][0]["spec.nodeName"].as_str(), pods["items"][0]["status.phase"].as_str()) {
            (Some(n), Some("Running")) => Ok(n.to_string()),
            _ => Err(pods.to_string()),
        }
    })
    .await;
    let blocked = s
        .fails(
            "nodes_drain",
            json!({"context": cluster.context, "name": node, "dry_run": true, "timeout_seconds": 3, "force": true, "delete_emptydir_data": true}),
        )
        .await;
    assert!(blocked.contains("web-pdb") && blocked.contains("429"), "{blocked}");
    drop(s);
    cluster.drop_namespace(&ns).await;
}

#[tokio::test]
async fn kubelet_logs_and_stats_through_the_node_proxy() {
    let cluster = Cluster::start().await;
    let s = cluster.launcher().start(Transport::Stdio).await;
    let node = first_node(&s).await;
    if let Some(fake) = cluster.fake.as_ref() {
        fake.insert("pods", pod("heavy", &node, "heavy", Some("ReplicaSet")));
        fake.insert("pods", pod("light", &node, "light", Some("ReplicaSet")));
    }
    let listing = s.ok("nodes_log", json!({"name": node})).await;
    assert!(listing["files"].as_array().is_some_and(|f| !f.is_empty()), "{listing}");
    if cluster.is_real() {
        common::skipped("on a real cluster: kubelet.log contents: log file names differ by distribution");
    } else {
        let (text, data) = s.ok_text("nodes_log", json!({"name": node, "path": "kubelet.log", "tail": 2})).await;
        assert_eq!(data["lines"], json!(["E0101 failed to pull image \"nope:1\"", "I0101 synced pods"]), "{text}");
        assert!(text.contains("the last 2 of 4 lines"), "{text}");
        let errors = s.ok("nodes_log", json!({"name": node, "path": "kubelet.log", "grep": "^E"})).await;
        assert_eq!(errors["lines"], json!(["E0101 failed to pull image \"nope:1\""]), "{errors}");
        let query = s.ok("nodes_log", json!({"name": node, "query": "kubelet", "tail": 1})).await;
        assert_eq!(query["lines"], json!(["I0101 synced pods"]), "{query}");
        // A node that ignores the Range request: at most 16 x --max-result-bytes is read,
        // and the reply says these are the file's first lines.
        let small = cluster.launcher().args(["--max-result-bytes", "1024"]).start(Transport::Stdio).await;
        let (text, whole) = small.ok_text("nodes_log", json!({"name": node, "path": "big.log", "tail": 3})).await;
        assert!(text.contains("ignored the range request") && whole["truncated"] == true, "{text}");
        let last: u32 = whole["lines"][2]
            .as_str()
            .and_then(|l| l.strip_prefix("line "))
            .and_then(|n| n.parse().ok())
            .expect("a line");
        // "line N\n" is 10 or 11 bytes here: 16 KiB ends near line 1,600, far from 3,000.
        assert!((1000..2000).contains(&last), "the lines end inside the first 16 KiB: {last}");
    }
    let (text, stats) = s.ok_text("nodes_stats_summary", json!({"name": node, "top_pods": 1})).await;
    assert!(stats["memory"]["workingSetBytes"].as_f64().is_some_and(|b| b > 0.0), "{stats}");
    assert_eq!(stats["topPods"].as_array().map(Vec::len), Some(1), "{stats}");
    assert!(text.contains("NAMESPACE") && text.contains("Truncated: showing the heaviest 1"), "{text}");

    // Bad input: paths outside /var/log, both path and query, a missing node.
    for bad in ["../../etc/shadow", "/etc/passwd", "a//b"] {
        let e = s.fails("nodes_log", json!({"name": node, "path": bad})).await;
        assert!(e.contains("`path`") && e.contains("/var/log"), "{e}");
    }
    let both = s.fails("nodes_log", json!({"name": node, "path": "kubelet.log", "query": "kubelet"})).await;
    assert!(both.contains("not both"), "{both}");
    let bad_query = s.fails("nodes_log", json!({"name": node, "query": "kubelet&x=1"})).await;
    assert!(bad_query.contains("`query`"), "{bad_query}");
    // A server confined to some namespaces does not read node logs, which span them all.
    let scoped = cluster.launcher().args(["--allowed-namespaces", NS]).start(Transport::Stdio).await;
    let refused = scoped.fails("nodes_log", json!({"name": node, "path": "kubelet.log"})).await;
    assert!(refused.contains("span every namespace"), "{refused}");
    let missing = s.fails("nodes_stats_summary", json!({"name": "no-such-node"})).await;
    assert!(missing.contains("no-such-node") && missing.contains("not found"), "{missing}");
}
