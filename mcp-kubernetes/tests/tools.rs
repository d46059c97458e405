//! Every tool over stdio and HTTP, the output bounds, the safety rules and the bad inputs,
//! against the fake API server (or a real cluster named by MCP_TEST_KUBECONFIG).

mod common;

use std::io::Write;

use base64::Engine;
use common::{Cluster, NS, REAL_WAIT, deployment_manifest, eventually, pod_manifest};
use mcp_core::testing::{Transport, text};
use serde_json::{Value, json};

#[tokio::test]
async fn every_tool_over_stdio_and_http() {
    let cluster = Cluster::start().await;
    cluster.widgets().await;
    for transport in [Transport::Stdio, Transport::Http] {
        let t = format!("{transport:?}").to_lowercase();
        let ns = cluster.namespace(&format!("tools-{t}")).await;
        let s = cluster.launcher().args(["--allow-destructive", "--namespace", &ns]).start(transport).await;
        let (pod, deploy, cm) = (format!("demo-{t}"), format!("web-{t}"), format!("settings-{t}"));

        // Apply: a dry run saves nothing, then a multi-document manifest for real.
        let manifest = format!(
            "{}---\n{}---\napiVersion: v1\nkind: ConfigMap\nmetadata: {{name: {cm}}}\ndata: {{mode: fast}}\n---\napiVersion: example.com/v1\nkind: Widget\nmetadata: {{name: w-{t}}}\nspec: {{size: 3, color: red}}\n",
            pod_manifest(&pod),
            deployment_manifest(&deploy, "nginx:1.27")
        );
        let (dry_text, _) = s
            .ok_text("resources_apply", json!({"context": cluster.context, "manifest": manifest, "dry_run": true}))
            .await;
        assert!(dry_text.contains("(server dry run)"), "{dry_text}");
        let unsaved = s.fails("resources_get", json!({"kind": "configmaps", "name": cm})).await;
        assert!(unsaved.contains("404") && unsaved.contains(&format!("\"{cm}\" not found")), "{unsaved}");
        let applied = s.ok("resources_apply", json!({"context": cluster.context, "manifest": manifest})).await;
        let outcomes: Vec<&str> = applied["objects"]
            .as_array()
            .expect("objects")
            .iter()
            .map(|o| o["outcome"].as_str().unwrap_or(""))
            .collect();
        assert_eq!(outcomes, ["created"; 4], "{applied}");
        // The same manifest again is a no-op on the server: nothing written, the
        // resourceVersions kept, each object "unchanged".
        let again = s.ok("resources_apply", json!({"context": cluster.context, "manifest": manifest})).await;
        let versions = |r: &Value| -> Vec<Value> {
            r["objects"].as_array().expect("objects").iter().map(|o| o["resource_version"].clone()).collect()
        };
        let outcomes: Vec<&str> =
            again["objects"].as_array().expect("objects").iter().map(|o| o["outcome"].as_str().unwrap_or("")).collect();
        // The deployment's status changes while it rolls out (a status write is a new
        // resourceVersion), and on a real cluster the pod's too; nothing writes the others.
        let quiet: &[usize] = if cluster.is_real() { &[2, 3] } else { &[0, 2, 3] };
        let (before, after) = (versions(&applied), versions(&again));
        for &i in quiet {
            assert_eq!((outcomes[i], &after[i]), ("unchanged", &before[i]), "object {i}: {again}");
        }
        // A real cluster schedules, pulls and starts the pod in its own time; the fake
        // runs it at once.
        eventually(&cluster, "the pod running", REAL_WAIT, || async {
            let r = s.call("resources_get", json!({"kind": "pods", "name": pod, "fields": ["status.phase"]})).await;
            let only = r.structured_content.clone().unwrap_or_default();
            if only["object"] == json!({"status.phase": "Running"}) { Ok(()) } else { Err(text(&r)) }
        })
        .await;
        eventually(&cluster, "the deployment rolled out", REAL_WAIT, || async {
            let st = s.ok("rollout_status", json!({"kind": "deployment", "name": deploy})).await;
            if st["complete"] == true { Ok(()) } else { Err(st.to_string()) }
        })
        .await;

        // List: a table, selectors, projection, count, CRDs by short name.
        let (table, data) = s.ok_text("resources_list", json!({"kind": "po", "label_selector": "app=demo"})).await;
        assert!(table.starts_with("NAME") && table.contains("READY") && table.contains(&pod), "{table}");
        assert!(
            data["items"]
                .as_array()
                .expect("items")
                .iter()
                .all(|i| i["name"].as_str().is_some_and(|n| n.starts_with("demo-"))),
            "{data}"
        );
        let projected = s.ok("resources_list", json!({"kind": "pods", "fields": ["metadata.name", "spec.containers.image"], "field_selector": format!("metadata.name={pod}")})).await;
        assert_eq!(projected["items"][0]["spec.containers.image"], "busybox:1.36", "{projected}");
        let counted = s.ok("resources_list", json!({"kind": "deployments.apps", "count_only": true})).await;
        assert!(counted["total"].as_u64().is_some_and(|n| n >= 1), "{counted}");
        let widgets = s.ok_text("resources_list", json!({"kind": "wd"})).await.0;
        assert!(widgets.contains(&format!("w-{t}")), "{widgets}");
        let bad_selector = s.fails("resources_list", json!({"kind": "pods", "field_selector": "spec.bogus=1"})).await;
        assert!(bad_selector.contains("field label not supported"), "{bad_selector}");

        // Get, describe, api_resources, explain.
        let (yaml, got) = s.ok_text("resources_get", json!({"kind": "Deployment", "name": deploy})).await;
        assert!(yaml.contains("kind: Deployment") && !yaml.contains("managedFields"), "{yaml}");
        assert_eq!(got["object"]["spec"]["replicas"], 2);
        let (described, d) = s.ok_text("resources_describe", json!({"kind": "deploy", "name": deploy})).await;
        assert!(described.contains("Replicas: 2 desired") && described.contains("Available=True"), "{described}");
        assert!(d["conditions"].as_array().expect("conditions").iter().any(|c| c["meaning"].is_string()), "{d}");
        let kinds = s.ok_text("api_resources", json!({"group": "example.com"})).await.0;
        assert!(kinds.contains("widgets") && kinds.contains("example.com/v1"), "{kinds}");
        let explained =
            s.ok_text("explain_resource", json!({"kind": "pods", "field": "spec.containers.resources"})).await.0;
        assert!(explained.contains("limits") && explained.contains("<map>"), "{explained}");
        // A new CRD's schema reaches a real server's OpenAPI document a little after it is served.
        eventually(&cluster, "the widgets schema published", REAL_WAIT, || async {
            let r = s.call("explain_resource", json!({"kind": "widgets", "field": "spec"})).await;
            let fields = r.structured_content.clone().unwrap_or_default();
            let typed = fields["fields"]
                .as_array()
                .is_some_and(|f| f.iter().any(|f| f["name"] == "size" && f["type"] == "integer"));
            if typed { Ok(()) } else { Err(text(&r)) }
        })
        .await;
        let no_field = s.fails("explain_resource", json!({"kind": "pods", "field": "spec.nope"})).await;
        assert!(no_field.contains("Pod has no field `nope`"), "{no_field}");

        // Patch: merge, strategic (built-in only), json; dry run saves nothing.
        s.ok(
            "resources_patch",
            json!({"context": cluster.context, "kind": "cm", "name": cm, "patch": {"data": {"mode": "slow"}}, "dry_run": true}),
        )
        .await;
        let still = s.ok("resources_get", json!({"kind": "cm", "name": cm})).await;
        assert_eq!(still["object"]["data"]["mode"], "fast");
        s.ok(
            "resources_patch",
            json!({"context": cluster.context, "kind": "cm", "name": cm, "patch": "data:\n  extra: 'yes'\n"}),
        )
        .await;
        s.ok("resources_patch", json!({"context": cluster.context, "kind": "cm", "name": cm, "type": "json", "patch": [{"op": "replace", "path": "/data/mode", "value": "slow"}]})).await;
        let patched = s.ok("resources_get", json!({"kind": "cm", "name": cm})).await;
        assert_eq!(patched["object"]["data"], json!({"mode": "slow", "extra": "yes"}));
        s.ok(
            "resources_patch",
            json!({"context": cluster.context, "kind": "deploy", "name": deploy, "type": "strategic",
            "patch": {"spec": {"template": {"spec": {"containers": [{"name": "web", "image": "nginx:1.28"}]}}}}}),
        )
        .await;
        let crd_strategic = s.fails("resources_patch", json!({"context": cluster.context, "kind": "widgets", "name": format!("w-{t}"), "type": "strategic", "patch": {"spec": {"size": 4}}})).await;
        assert!(crd_strategic.contains("415") && crd_strategic.contains("merge or json"), "{crd_strategic}");

        // Workloads. The container's three lines may still be on their way.
        eventually(&cluster, "the pod's log written", REAL_WAIT, || async {
            let tail = s.ok("pods_log", json!({"name": pod, "tail": 1})).await;
            if tail["lines"] == json!(["ready"]) { Ok(()) } else { Err(tail.to_string()) }
        })
        .await;
        let (logs, l) = s.ok_text("pods_log", json!({"name": pod, "grep": "(?i)error"})).await;
        assert_eq!(l["lines"], json!(["ERROR disk full"]), "{logs}");
        assert!(logs.contains("1 of 3 lines read matched"), "{logs}");
        let previous = s.fails("pods_log", json!({"name": pod, "previous": true})).await;
        assert!(previous.contains("previous terminated container"), "{previous}");
        let exec =
            s.ok("pods_exec", json!({"context": cluster.context, "name": pod, "command": ["sh", "-c", "echo hello; echo oops >&2; exit 3"]})).await;
        assert_eq!(
            (exec["exit_code"].as_i64(), exec["stdout"].as_str(), exec["stderr"].as_str()),
            (Some(3), Some("hello\n"), Some("oops\n")),
            "{exec}"
        );
        let ok_exec =
            s.ok("pods_exec", json!({"context": cluster.context, "name": pod, "command": ["echo", "hi"]})).await;
        assert_eq!(ok_exec["exit_code"], 0);
        let slow = s
            .ok("pods_exec", json!({"context": cluster.context, "name": pod, "command": ["sh", "-c", "echo partial; sleep 30"], "timeout_secs": 1}))
            .await;
        assert_eq!((slow["timed_out"].as_bool(), slow["stdout"].as_str()), (Some(true), Some("partial\n")), "{slow}");
        let big = s
            .ok("pods_exec", json!({"context": cluster.context, "name": pod, "command": ["sh", "-c", "seq 100000"]}))
            .await;
        assert!(
            big["omitted_bytes"].as_u64().is_some_and(|n| n > 0)
                && big["stdout"].as_str().is_some_and(|o| o.len() <= 32 * 1024),
            "exec output is bounded"
        );
        let metrics = s.ok_text("api_resources", json!({"group": "metrics.k8s.io"})).await.0;
        if metrics.contains("metrics.k8s.io/") {
            // metrics-server samples a new pod within a minute or so.
            let top = eventually(&cluster, "the pod's metrics", REAL_WAIT, || async {
                let top = s.ok("pods_top", json!({})).await;
                let found = top["items"].as_array().is_some_and(|items| {
                    items.iter().any(|i| i["name"] == pod.as_str() && i["cpuMillis"].as_f64().is_some())
                });
                if found { Ok(top) } else { Err(top.to_string()) }
            })
            .await;
            assert!(top["items"].as_array().is_some_and(|i| !i.is_empty()), "{top}");
            let ntop = s.ok("nodes_top", json!({})).await;
            let percent = ntop["items"][0]["cpuPercent"].as_f64();
            if cluster.is_real() {
                assert!(percent.is_some_and(|p| p >= 0.0), "{ntop}");
            } else {
                // The fake's node: 1000m used of 4 CPUs.
                assert_eq!(percent, Some(25.0), "{ntop}");
            }
        } else {
            assert!(cluster.is_real(), "the fake serves metrics.k8s.io");
            common::skipped(
                "on this cluster: pods_top and nodes_top: metrics.k8s.io is not served (no metrics-server)",
            );
            let absent = s.fails("pods_top", json!({})).await;
            assert!(absent.contains("metrics-server"), "{absent}");
        }
        let run = s.ok("pods_run", json!({"context": cluster.context, "name": format!("run-{t}"), "image": "busybox:1.36", "command": ["sleep", "60"], "dry_run": true})).await;
        assert_eq!(run["dryRun"], true);
        let not_run = s.fails("resources_get", json!({"kind": "pods", "name": format!("run-{t}")})).await;
        assert!(not_run.contains("404") && not_run.contains(&format!("\"run-{t}\" not found")), "{not_run}");
        s.ok("pods_run", json!({"context": cluster.context, "name": format!("run-{t}"), "image": "busybox:1.36", "env": {"API_TOKEN": "abc"}}))
            .await;
        let scaled = s
            .ok(
                "workload_scale",
                json!({"context": cluster.context, "kind": "deployment", "name": deploy, "replicas": 3}),
            )
            .await;
        assert_eq!((scaled["previousReplicas"].as_i64(), scaled["replicas"].as_i64()), (Some(2), Some(3)));
        eventually(&cluster, "the scaled deployment rolled out", REAL_WAIT, || async {
            let st = s.ok("rollout_status", json!({"kind": "deployment", "name": deploy})).await;
            if st["complete"] == true { Ok(()) } else { Err(st.to_string()) }
        })
        .await;
        s.ok("rollout_restart", json!({"context": cluster.context, "kind": "deployment", "name": deploy})).await;
        let history = s.ok("rollout_history", json!({"kind": "deployment", "name": deploy})).await;
        let revisions = history["revisions"].as_array().expect("revisions");
        assert_eq!(revisions.len(), 3, "create, image change, restart: {history}");
        s.ok(
            "rollout_undo",
            json!({"context": cluster.context, "kind": "deployment", "name": deploy, "to_revision": 1}),
        )
        .await;
        let undone = s
            .ok(
                "resources_get",
                json!({"kind": "deployment", "name": deploy, "fields": ["spec.template.spec.containers.image"]}),
            )
            .await;
        assert_eq!(undone["object"]["spec.template.spec.containers.image"], json!(["nginx:1.27"]), "{undone}");
        let not_rollout = s.fails("rollout_status", json!({"kind": "configmaps", "name": cm})).await;
        assert!(
            not_rollout.contains("rollouts apply to deployments") && not_rollout.contains("configmaps"),
            "{not_rollout}"
        );

        // Cluster.
        let namespaces = s.ok_text("namespaces_list", json!({})).await.0;
        assert!(namespaces.contains(&ns) && namespaces.contains("Active"), "{namespaces}");
        let (nodes, n) = s.ok_text("nodes_list", json!({})).await;
        assert!(nodes.contains("Ready"), "{nodes}");
        if !cluster.is_real() {
            // kind and k3d untaint their single node; the fake's is a tainted control plane.
            assert!(nodes.contains("control-plane") && nodes.contains("NoSchedule"), "{nodes}");
        }
        let first = n["items"][0]["name"].as_str().expect("a node's name").to_string();
        let node = s.ok_text("nodes_list", json!({"name": first})).await.0;
        assert!(node.contains("Allocatable: ") && node.contains("MemoryPressure=False"), "{node}");
        let version = s.ok("cluster_version", json!({})).await;
        assert!(version["gitVersion"].as_str().is_some_and(|v| v.starts_with('v')));
        let contexts = s.ok("contexts_list", json!({})).await;
        assert_eq!(contexts["default"], cluster.context.as_str());
        assert!(!contexts.to_string().contains("token"), "no credentials: {contexts}");

        // Delete: dry run first, then for real.
        s.ok("resources_delete", json!({"context": cluster.context, "kind": "cm", "name": cm, "dry_run": true})).await;
        s.ok("resources_get", json!({"kind": "cm", "name": cm})).await;
        s.ok(
            "resources_delete",
            json!({"context": cluster.context, "kind": "cm", "name": cm, "propagation": "Foreground"}),
        )
        .await;
        // Foreground deletion finishes through the garbage collector on a real cluster.
        let gone = eventually(&cluster, "the configmap deleted", REAL_WAIT, || async {
            let r = s.call("resources_get", json!({"kind": "cm", "name": cm})).await;
            if r.is_error { Ok(text(&r)) } else { Err("still there".to_string()) }
        })
        .await;
        assert!(gone.contains("404") && gone.contains("not found"), "{gone}");
        drop(s);
        cluster.drop_namespace(&ns).await;
    }
}

#[tokio::test]
async fn events_are_sorted_and_filtered() {
    let cluster = Cluster::start().await;
    let Some(fake) = cluster.fake_only("events", "it seeds events with chosen times, types and reasons") else {
        return;
    };
    for (i, (kind, name, ty, reason)) in [
        ("Pod", "a", "Warning", "BackOff"),
        ("Pod", "b", "Normal", "Pulled"),
        ("Deployment", "a", "Normal", "ScalingReplicaSet"),
    ]
    .iter()
    .enumerate()
    {
        fake.insert("events", json!({"metadata": {"name": format!("e{i}"), "namespace": NS},
            "involvedObject": {"kind": kind, "name": name, "namespace": NS}, "type": ty, "reason": reason, "message": format!("m{i}"),
            "lastTimestamp": format!("2026-01-01T00:00:0{}Z", 9 - i), "count": 1}));
    }
    let s = cluster.launcher().start(Transport::Stdio).await;
    let all = s.ok("events_list", json!({})).await;
    let messages: Vec<&str> =
        all["items"].as_array().expect("items").iter().filter_map(|e| e["message"].as_str()).collect();
    assert_eq!(messages, ["m2", "m1", "m0"], "oldest first");
    let warnings = s.ok("events_list", json!({"type": "Warning"})).await;
    assert_eq!(warnings["items"].as_array().map(Vec::len), Some(1));
    let pod_a = s.ok("events_list", json!({"kind": "pods", "name": "a"})).await;
    assert_eq!(pod_a["items"][0]["reason"], "BackOff", "{pod_a}");
    let bad_type = s.fails("events_list", json!({"type": "Bad"})).await;
    assert!(bad_type.contains("`type` is Normal or Warning"), "{bad_type}");
}

#[tokio::test]
async fn output_is_trimmed_and_secrets_masked() {
    let cluster = Cluster::start().await;
    let ns = cluster.namespace("masking").await;
    let launcher = cluster.launcher().args(["--namespace", &ns]);
    let writer = launcher.clone().arg("--allow-write").start(Transport::Stdio).await;
    let secret = "apiVersion: v1\nkind: Secret\nmetadata: {name: db}\ndata: {password: aHVudGVyMg==, user: YWRtaW4=}\n";
    writer
        .ok(
            "resources_apply",
            json!({"context": cluster.context, "manifest": format!("{secret}---\n{}", pod_manifest("masked"))}),
        )
        .await;
    for s in [writer, launcher.start(Transport::Http).await] {
        let (yaml, got) = s.ok_text("resources_get", json!({"kind": "secrets", "name": "db"})).await;
        assert!(!yaml.contains("aHVudGVyMg") && !yaml.contains("hunter2"), "{yaml}");
        let masked = got["object"]["data"]["password"].as_str().expect("key kept");
        assert!(masked.starts_with("[REDACTED: 7 bytes, hmac "), "{masked}");
        let listed = s.ok("resources_list", json!({"kind": "secrets", "output": "json"})).await;
        assert!(!listed.to_string().contains("aHVudGVyMg"), "{listed}");
        let (pod_yaml, pod) = s.ok_text("resources_get", json!({"kind": "pods", "name": "masked"})).await;
        assert!(!pod_yaml.contains("hunter2") && pod_yaml.contains("debug"), "{pod_yaml}");
        assert!(pod.pointer("/object/metadata/managedFields").is_none() && !pod_yaml.contains("managedFields"));
        let described = s.ok_text("resources_describe", json!({"kind": "pods", "name": "masked"})).await.0;
        assert!(!described.contains("hunter2"), "{described}");
    }
    let open = launcher.clone().arg("--allow-secrets").start(Transport::Stdio).await;
    let got = open.ok("resources_get", json!({"kind": "secrets", "name": "db"})).await;
    assert_eq!(got["object"]["data"]["password"], "hunter2");
    // A stable key makes masked values comparable across restarts.
    let keyed = launcher.args(["--mask-key", "0123456789abcdef0123"]);
    let a = keyed.start(Transport::Stdio).await.ok("resources_get", json!({"kind": "secrets", "name": "db"})).await;
    let b = keyed.start(Transport::Stdio).await.ok("resources_get", json!({"kind": "secrets", "name": "db"})).await;
    assert_eq!(a["object"]["data"], b["object"]["data"]);
    cluster.drop_namespace(&ns).await;
}

#[tokio::test]
async fn a_5000_object_list_is_bounded_and_pages_completely() {
    let cluster = Cluster::start().await;
    let Some(fake) = cluster.fake_only("5,000 objects", "seeding them through the API would take minutes") else {
        return;
    };
    fake.insert("namespaces", json!({"metadata": {"name": "bulk"}}));
    for i in 0..5000 {
        fake.insert("configmaps", json!({"metadata": {"name": format!("cm-{i:05}"), "namespace": "bulk", "labels": {"batch": (i % 2).to_string()}},
            "data": {"payload": "x".repeat(500)}}));
    }
    let s = cluster.launcher().args(["--max-output-bytes", "65536"]).start(Transport::Stdio).await;
    let counted = s.ok("resources_list", json!({"kind": "configmaps", "namespace": "bulk", "count_only": true})).await;
    assert_eq!(counted["total"], 5000);
    let even = s
        .ok(
            "resources_list",
            json!({"kind": "configmaps", "namespace": "bulk", "count_only": true, "label_selector": "batch=0"}),
        )
        .await;
    assert_eq!(even["total"], 2500);

    let mut seen = std::collections::BTreeSet::new();
    let mut token: Option<String> = None;
    let mut calls = 0;
    loop {
        let mut args = json!({"kind": "configmaps", "namespace": "bulk", "limit": 5000});
        if let Some(t) = &token {
            args["continue"] = json!(t);
        }
        let result = s.call("resources_list", args).await;
        assert!(!result.is_error, "{}", text(&result));
        let body = text(&result);
        assert!(body.len() <= 65536 + 512, "within the budget: {}", body.len());
        let data = result.structured_content.expect("structured");
        for item in data["items"].as_array().expect("items") {
            assert!(seen.insert(item["name"].as_str().expect("name").to_string()), "no row twice");
        }
        calls += 1;
        assert!(data["returned"].as_u64().is_some_and(|n| n <= 200), "at most --max-rows");
        match data["continue"].as_str() {
            Some(t) => {
                assert!(body.contains("call again with continue="), "the cut is said");
                token = Some(t.to_string());
            }
            None => break,
        }
    }
    assert_eq!((seen.len(), calls), (5000, 25));

    // Whole objects are cut by bytes, and the cursor resumes inside the page.
    let big = s
        .ok_text("resources_list", json!({"kind": "configmaps", "namespace": "bulk", "output": "yaml", "limit": 200}))
        .await;
    assert!(big.1["returned"].as_u64().is_some_and(|n| n < 200) && big.1["continue"].is_string(), "cut by bytes");
    let next = s.ok("resources_list", json!({"kind": "configmaps", "namespace": "bulk", "output": "yaml", "limit": 1, "continue": big.1["continue"]})).await;
    let returned = big.1["returned"].as_u64().expect("n") as usize;
    assert_eq!(next["items"][0]["metadata"]["name"], format!("cm-{returned:05}"));

    // The framework's budget cuts what a tool still returns above it.
    let small = cluster.launcher().args(["--max-output-bytes", "2000"]).start(Transport::Stdio).await;
    let r = small.call("resources_list", json!({"kind": "configmaps", "namespace": "bulk", "limit": 100})).await;
    assert!(text(&r).contains("[output truncated"), "{}", text(&r));
}

#[tokio::test]
async fn bad_inputs_get_specific_errors() {
    let cluster = Cluster::start().await;
    let ns = cluster.namespace("inputs").await;
    let s = cluster
        .launcher()
        .args([
            "--allow-destructive",
            "--namespace",
            &ns,
            "--allowed-namespaces",
            &format!("{ns},default"),
            "--deny-kinds",
            "clusterroles.rbac.authorization.k8s.io,services",
        ])
        .start(Transport::Stdio)
        .await;
    // A manifest the connector or the server refuses, with its message.
    let apply_fails =
        |manifest: &str| s.fails("resources_apply", json!({"context": cluster.context, "manifest": manifest}));
    let unknown = s.fails("resources_list", json!({"kind": "gizmos"})).await;
    assert!(unknown.contains("unknown kind `gizmos`") && unknown.contains("api_resources"), "{unknown}");
    let malformed = apply_fails("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x\n").await;
    assert!(malformed.contains("not valid YAML"), "{malformed}");
    let no_name = apply_fails("apiVersion: v1\nkind: ConfigMap\nmetadata: {}\n").await;
    assert!(no_name.contains("metadata.name"), "{no_name}");
    let invalid =
        apply_fails("apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec: {containers: [{name: c}]}\n").await;
    assert!(invalid.contains("422") && invalid.contains("image: Required value"), "{invalid}");
    // kube-system exists everywhere and is outside the allowlist.
    let outside = s.fails("resources_list", json!({"kind": "pods", "namespace": "kube-system"})).await;
    assert!(outside.contains("namespace `kube-system` is outside"), "{outside}");
    let outside_apply =
        apply_fails("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x, namespace: kube-system}\n").await;
    assert!(outside_apply.contains("outside"), "{outside_apply}");
    let ns_list = s.ok_text("namespaces_list", json!({})).await.0;
    assert!(!ns_list.contains("kube-system") && ns_list.contains(&ns), "{ns_list}");
    let denied = s.fails("resources_list", json!({"kind": "svc"})).await;
    assert!(denied.contains("denied kind"), "{denied}");
    let no_context = s.fails("resources_list", json!({"kind": "pods", "context": "prod"})).await;
    assert!(no_context.contains("no context named `prod`") && no_context.contains(&cluster.context), "{no_context}");
    let bad_name = s.fails("resources_get", json!({"kind": "pods", "name": "../../etc"})).await;
    assert!(bad_name.contains("not a valid object name"), "{bad_name}");
    let bad_regex = s.fails("pods_log", json!({"name": "x", "grep": "("})).await;
    assert!(bad_regex.contains("`grep`"), "{bad_regex}");
    let bad_cursor = s.fails("resources_list", json!({"kind": "pods", "continue": "garbage!"})).await;
    assert!(bad_cursor.contains("`continue`"), "{bad_cursor}");
    let strict_args = s.fails("resources_list", json!({"kind": "pods", "namespce": "x"})).await;
    assert!(strict_args.contains("namespce"), "{strict_args}");

    // Update conflict: a manifest carrying a stale resourceVersion.
    s.ok(
        "resources_apply",
        json!({"context": cluster.context, "manifest": "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: cfg}\ndata: {a: '1'}\n"}),
    )
    .await;
    let conflict = s.fails("resources_apply", json!({"context": cluster.context, "manifest": "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: cfg, resourceVersion: '1'}\ndata: {a: '2'}\n"})).await;
    assert!(conflict.contains("409") && conflict.contains("read it again and retry"), "{conflict}");
    let conflict_patch = s
        .fails(
            "resources_patch",
            json!({"context": cluster.context, "kind": "cm", "name": "cfg", "patch": {"metadata": {"resourceVersion": "1"}, "data": {"a": "3"}}}),
        )
        .await;
    assert!(conflict_patch.contains("409"), "{conflict_patch}");
    // A JSON patch's resourceVersion is a precondition too.
    let stale_ops = json!([{"op": "replace", "path": "/metadata/resourceVersion", "value": "1"}, {"op": "replace", "path": "/data/a", "value": "4"}]);
    let conflict_json = s
        .fails(
            "resources_patch",
            json!({"context": cluster.context, "kind": "cm", "name": "cfg", "type": "json", "patch": stale_ops}),
        )
        .await;
    assert!(conflict_json.contains("409") && conflict_json.contains("read it again and retry"), "{conflict_json}");

    if cluster.fake.is_some() {
        // A user whose RBAC allows reading only.
        let forbidden = s
            .fails(
                "resources_apply",
                json!({"context": "limited", "manifest": "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: y}\n"}),
            )
            .await;
        assert!(
            forbidden.contains("403")
                && forbidden.contains("may not `apply` configmaps")
                && forbidden.contains("cannot patch resource \"configmaps\""),
            "{forbidden}"
        );
        let exec_forbidden =
            s.fails("pods_exec", json!({"context": "limited", "name": "any", "command": ["ls"]})).await;
        assert!(exec_forbidden.contains("403") && exec_forbidden.contains("pods/exec"), "{exec_forbidden}");
        let read = s.ok("resources_list", json!({"context": "limited", "kind": "configmaps"})).await;
        assert_eq!(read["context"], "limited");
    } else {
        common::skipped("on a real cluster: RBAC refusals: they need the fake's read-only user");
    }
    drop(s);
    cluster.drop_namespace(&ns).await;
}

/// The kit's one rule for targets: the fake's kubeconfig serves several contexts, so a
/// change that names none is refused (it never lands on a default the model did not
/// choose) and the object stays as it was; naming the context, it goes through.
#[tokio::test]
async fn with_several_contexts_a_write_must_name_its_context() {
    let cluster = Cluster::start().await;
    if cluster.fake_only("a write without `context`", "it needs the fake's kubeconfig of several contexts").is_none() {
        return;
    }
    let s = cluster.launcher().arg("--allow-destructive").start(Transport::Stdio).await;
    let ctx = cluster.context.as_str();
    let manifest = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: pinned}\ndata: {mode: fast}\n";
    s.ok("resources_apply", json!({"context": ctx, "manifest": manifest})).await;
    let changes = [
        ("resources_apply", json!({"manifest": manifest.replace("fast", "slow")})),
        ("resources_patch", json!({"kind": "cm", "name": "pinned", "patch": {"data": {"mode": "slow"}}})),
        ("workload_scale", json!({"kind": "deployment", "name": "pinned", "replicas": 0})),
        ("resources_delete", json!({"kind": "cm", "name": "pinned"})),
    ];
    for (tool, args) in &changes {
        let refused = s.call(tool, args.clone()).await;
        let message = text(&refused);
        assert!(refused.is_error && message.contains("must name its target"), "{tool}: {message}");
        assert!(message.contains("main") && message.contains("limited"), "{tool} names the contexts: {message}");
    }
    let unchanged = s.ok("resources_get", json!({"kind": "cm", "name": "pinned"})).await;
    assert_eq!(unchanged["object"]["data"], json!({"mode": "fast"}), "{unchanged}");
    // Reads still default to the default context; a named write goes through.
    let patch = json!({"context": ctx, "kind": "cm", "name": "pinned", "patch": {"data": {"mode": "slow"}}});
    s.ok("resources_patch", patch).await;
    let changed = s.ok("resources_get", json!({"kind": "cm", "name": "pinned"})).await;
    assert_eq!(changed["object"]["data"], json!({"mode": "slow"}), "{changed}");
}

/// A failed call says what kind of failure it was, from the API server's answer (or its
/// absence), so a client can branch without reading the message.
#[tokio::test]
async fn api_errors_carry_their_kind() {
    let cluster = Cluster::start().await;
    let Some(_) = cluster.fake_only("error kinds", "the read-only user and the unreachable context are the fake's")
    else {
        return;
    };
    let s = cluster.launcher().args(["--allow-write", "--allowed-namespaces", NS]).start(Transport::Stdio).await;
    let ctx = cluster.context.as_str();
    let cm = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: kinds}\ndata: {a: '1'}\n";
    s.ok("resources_apply", json!({"context": ctx, "manifest": cm})).await;
    let stale = json!({"context": ctx, "kind": "cm", "name": "kinds", "patch": {"metadata": {"resourceVersion": "1"}}});
    let cases = [
        ("resources_get", json!({"kind": "cm", "name": "absent"}), "not_found"),
        ("resources_list", json!({"kind": "gizmos"}), "not_found"),
        (
            "resources_patch",
            json!({"context": "limited", "kind": "cm", "name": "kinds", "patch": {"data": {"a": "2"}}}),
            "refused",
        ),
        ("resources_list", json!({"kind": "pods", "namespace": "team-b"}), "refused"),
        ("resources_list", json!({"context": "flaky", "kind": "pods"}), "unavailable"),
        (
            "resources_patch",
            json!({"context": ctx, "kind": "cm", "name": "kinds", "patch": {"data": {"a": 2}}}),
            "invalid_arguments",
        ),
        ("resources_patch", stale, "failed"),
    ];
    for (tool, args, kind) in cases {
        assert_eq!(s.fails_as(tool, args.clone()).await.0, kind, "{tool} {args}");
    }
}

#[tokio::test]
async fn an_unreachable_api_server_is_reported_then_recovers() {
    let cluster = Cluster::start().await;
    if cluster.fake_only("an unreachable API server", "it starts a second fake where nothing listened").is_none() {
        return;
    }
    let s = cluster.launcher().args(["--request-timeout-secs", "3"]).start(Transport::Stdio).await;
    let down = s.fails("resources_list", json!({"kind": "pods", "context": "flaky"})).await;
    assert!(down.contains("cannot reach the API server") && down.contains("flaky"), "{down}");
    let other = common::Fake::new();
    other.insert("namespaces", json!({"metadata": {"name": NS}}));
    let (_, task) = other.serve(cluster.flaky_addr).await;
    let listed = s.ok("resources_list", json!({"kind": "pods", "context": "flaky"})).await;
    assert_eq!(listed["context"], "flaky");
    task.abort();
}

#[tokio::test]
async fn tiers_and_toolsets_decide_what_is_listed() {
    let cluster = Cluster::start().await;
    let launcher = cluster.launcher();
    let read_only = launcher.start(Transport::Stdio).await.tool_names().await;
    assert!(read_only.contains(&"resources_list".to_string()) && read_only.contains(&"helm_values".to_string()));
    assert!(
        !read_only.iter().any(|t| t == "resources_apply" || t == "resources_delete" || t == "pods_exec"),
        "{read_only:?}"
    );
    let write = launcher.clone().arg("--allow-write").start(Transport::Stdio).await.tool_names().await;
    assert!(write.contains(&"resources_apply".to_string()) && write.contains(&"workload_scale".to_string()));
    assert!(
        !write
            .iter()
            .any(|t| t == "resources_delete" || t == "pods_exec" || t == "rollout_undo" || t == "helm_uninstall"),
        "{write:?}"
    );
    let all = launcher.clone().arg("--allow-destructive").start(Transport::Stdio).await.tool_names().await;
    assert_eq!(all.len(), 36, "{all:?}");
    let core = launcher.clone().args(["--toolsets", "core,config"]).start(Transport::Stdio).await.tool_names().await;
    let mut core_sorted = core.clone();
    core_sorted.sort();
    assert_eq!(
        core_sorted,
        ["api_resources", "contexts_list", "explain_resource", "resources_describe", "resources_get", "resources_list"]
    );
    // A real object each refused delete would remove: refusals must be the guard's, not
    // a 404 for a name that never existed.
    let ns = cluster.namespace("tiers").await;
    let writer = launcher.clone().args(["--allow-write", "--namespace", &ns]).start(Transport::Stdio).await;
    let manifest = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: keep-me}\ndata: {a: '1'}\n";
    writer.ok("resources_apply", json!({"context": cluster.context, "manifest": manifest})).await;
    let delete = json!({"context": cluster.context, "kind": "cm", "name": "keep-me", "namespace": ns});
    // Without the destructive tier the tool is not there to call.
    let unlisted = writer.client.call_tool("resources_delete", delete.clone()).await;
    let unlisted = match unlisted {
        Err(e) => e.to_string(),
        Ok(r) => panic!("resources_delete ran without --allow-destructive: {}", text(&r)),
    };
    assert!(unlisted.contains("resources_delete"), "{unlisted}");
    // Destructive tools ask first when the operator wants confirmation; this client cannot.
    let confirm = launcher.clone().args(["--allow-destructive", "--confirm-destructive"]).start(Transport::Stdio).await;
    let refused = confirm.fails("resources_delete", delete.clone()).await;
    assert!(
        refused.contains("requires the user's confirmation") && refused.contains("does not support elicitation"),
        "{refused}"
    );
    let kept = writer.ok("resources_get", json!({"kind": "cm", "name": "keep-me"})).await;
    assert_eq!(kept["object"]["data"], json!({"a": "1"}), "both refusals left the object: {kept}");
    // The positive control: with the tier and no confirmation asked, the same call deletes.
    let deleter = launcher.clone().arg("--allow-destructive").start(Transport::Stdio).await;
    deleter.ok("resources_delete", delete).await;
    let gone = writer.fails("resources_get", json!({"kind": "cm", "name": "keep-me"})).await;
    assert!(gone.contains("404"), "{gone}");
    cluster.drop_namespace(&ns).await;
}

#[tokio::test]
async fn configuration_errors_stop_the_server() {
    let cluster = Cluster::start().await;
    let (ok, err) = cluster.launcher().args(["--context", "nope"]).run_to_exit().await;
    assert!(!ok && err.contains("context `nope` is not in the kubeconfig"), "{err}");
    let dir = tempfile::tempdir().expect("dir");
    let file = dir.path().join("k.toml");
    std::fs::write(&file, "allow_wirte = true\n").expect("write");
    let (ok, err) = cluster.launcher().args(["--config", file.to_str().expect("path")]).run_to_exit().await;
    assert!(!ok && err.contains("allow_wirte"), "{err}");
    let (ok, err) = mcp_core::testing::Launcher::new(env!("CARGO_BIN_EXE_mcp-kubernetes"))
        .args(["--kubeconfig", "/nonexistent/kubeconfig"])
        .run_to_exit()
        .await;
    assert!(!ok && err.contains("/nonexistent/kubeconfig"), "{err}");
    std::fs::write(&file, "allow_write = true\nallowed_namespaces = [\"team-a\"]\nmax_rows = 5\n").expect("write");
    let s = cluster.launcher().args(["--config", file.to_str().expect("path")]).start(Transport::Stdio).await;
    assert!(s.tool_names().await.contains(&"resources_apply".to_string()));
    let outside = s.fails("resources_list", json!({"kind": "pods", "namespace": "default"})).await;
    assert!(outside.contains("namespace `default` is outside") && outside.contains("team-a"), "{outside}");
}

fn helm_record(release: &Value) -> String {
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    gz.write_all(release.to_string().as_bytes()).expect("gzip");
    let inner = base64::engine::general_purpose::STANDARD.encode(gz.finish().expect("gzip"));
    base64::engine::general_purpose::STANDARD.encode(inner)
}

#[tokio::test]
async fn helm_releases_are_read_from_the_cluster() {
    let cluster = Cluster::start().await;
    let ns = cluster.namespace("helm").await;
    let launcher = cluster.launcher().args(["--namespace", &ns]);
    // Release records as Helm stores them, written through the API like any Secret.
    let writer = launcher.clone().arg("--allow-write").start(Transport::Stdio).await;
    for (version, status, image) in [(1, "superseded", "1.0"), (2, "deployed", "1.1")] {
        let release = json!({"name": "shop", "namespace": ns, "version": version,
            "info": {"status": status, "first_deployed": "2026-01-01T00:00:00Z", "last_deployed": format!("2026-01-0{version}T00:00:00Z"), "description": "Upgrade complete", "notes": "Visit the shop."},
            "chart": {"metadata": {"name": "shop", "version": format!("0.{version}.0"), "appVersion": image}, "values": {"replicas": 1, "db": {"host": "db"}}},
            "config": {"db": {"password": "s3cret"}, "replicas": 2},
            "manifest": "---\napiVersion: v1\nkind: Service\nmetadata:\n  name: shop\n---\napiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: shop\n"});
        let secret = json!({"apiVersion": "v1", "kind": "Secret",
            "metadata": {"name": format!("sh.helm.release.v1.shop.v{version}"),
            "labels": {"owner": "helm", "name": "shop", "status": status, "version": version.to_string()}},
            "type": "helm.sh/release.v1", "data": {"release": helm_record(&release)}});
        writer.ok("resources_apply", json!({"context": cluster.context, "manifest": secret.to_string()})).await;
    }
    drop(writer);
    for transport in [Transport::Stdio, Transport::Http] {
        let s = launcher.clone().arg("--allow-destructive").start(transport).await;
        let (list, l) = s.ok_text("helm_list", json!({})).await;
        assert!(list.contains("shop-0.2.0") && list.contains("deployed"), "{list}");
        assert_eq!(l["releases"].as_array().map(Vec::len), Some(1));
        let status = s.ok_text("helm_status", json!({"release": "shop"})).await.0;
        assert!(
            status.contains("REVISION: 2") && status.contains("Service/shop") && status.contains("Visit the shop."),
            "{status}"
        );
        let history = s.ok("helm_history", json!({"release": "shop"})).await;
        assert_eq!(history["revisions"].as_array().map(Vec::len), Some(2));
        let values = s.ok_text("helm_values", json!({"release": "shop"})).await;
        assert!(!values.0.contains("s3cret") && values.0.contains("replicas: 2"), "{}", values.0);
        let all = s.ok("helm_values", json!({"release": "shop", "all": true})).await;
        assert_eq!(all["values"]["db"]["host"], "db");
        let no_release = s.fails("helm_status", json!({"release": "nope"})).await;
        assert!(no_release.contains("release `nope` not found"), "{no_release}");
        let no_helm =
            s.fails("helm_install", json!({"context": cluster.context, "release": "x", "chart": "repo/x"})).await;
        assert!(no_helm.contains("binary is not installed") && no_helm.contains("helm_list"), "{no_helm}");
        let flag = s
            .fails("helm_install", json!({"context": cluster.context, "release": "x", "chart": "--post-renderer=evil"}))
            .await;
        assert!(flag.contains("`chart`"), "{flag}");
    }
    let denied = launcher.clone().args(["--deny-kinds", "secrets"]).start(Transport::Stdio).await;
    let refused = denied.fails("helm_list", json!({})).await;
    assert!(refused.contains("denied kind"), "{refused}");

    // With a helm binary, the call's context, namespace and kubeconfig are passed.
    let dir = tempfile::tempdir().expect("dir");
    let helm = common::stand_in_helm(dir.path());
    let s = launcher
        .args(["--allow-destructive", "--helm-binary", helm.to_str().expect("path")])
        .start(Transport::Stdio)
        .await;
    let out = s.ok("helm_upgrade", json!({"context": cluster.context, "release": "shop", "chart": "repo/shop", "version": "0.3.0", "values": "replicas: 3\n", "dry_run": true, "install": true})).await;
    let line = out["output"].as_str().expect("output");
    let (in_ns, in_context) = (format!("--namespace {ns}"), format!("--kube-context {}", cluster.context));
    for part in [
        "upgrade shop repo/shop",
        "--version 0.3.0",
        "--dry-run=server",
        "--install",
        "--values ",
        &in_ns,
        &in_context,
        "--kubeconfig ",
    ] {
        assert!(line.contains(part), "{part} in {line}");
    }
    let rollback = s.ok("helm_rollback", json!({"context": cluster.context, "release": "shop", "revision": 1})).await;
    assert!(rollback["output"].as_str().is_some_and(|o| o.contains("rollback shop 1")));
    drop(s);
    cluster.drop_namespace(&ns).await;
}
