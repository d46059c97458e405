//! What a real API server is strict about, and that the connector handles it: field
//! ownership under server-side apply (conflicts named by manager, `force`, fields left out
//! of a later apply removed), no-op writes, continue tokens that expire. Against the fake
//! API server, or a real cluster named by MCP_TEST_KUBECONFIG.

mod common;

use common::Cluster;
use k8s_openapi::api::core::v1::ConfigMap;
use kube::api::{Patch, PatchParams};
use mcp_core::testing::Transport;
use serde_json::{Value, json};

fn data(cm: &ConfigMap) -> Value {
    json!(cm.data.clone().unwrap_or_default())
}

#[tokio::test]
async fn apply_conflicts_name_the_owner_and_force_takes_over() {
    let cluster = Cluster::start().await;
    let ns = cluster.namespace("ssa").await;
    let s = cluster.launcher().args(["--allow-write", "--namespace", &ns]).start(Transport::Stdio).await;
    let ctx = cluster.context.as_str();
    let apply = |manifest: &str, force: bool| json!({"context": ctx, "manifest": manifest, "force": force});
    let ours = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: owned}\ndata: {mode: fast, keep: 'yes'}\n";
    let created = s.ok("resources_apply", apply(ours, false)).await;
    assert_eq!(created["objects"][0]["outcome"], "created", "{created}");
    let cms = cluster.configmaps(&ns).await;

    // Another team's forced apply takes `.data.mode` and adds a field of its own.
    let theirs = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "owned"},
        "data": {"mode": "slow", "team": "b"}});
    cms.patch("owned", &PatchParams::apply("team-b").force(), &Patch::Apply(&theirs)).await.expect("team-b applies");
    let refused = s.fails("resources_apply", apply(ours, false)).await;
    assert!(
        refused.contains("field manager `team-b` owns")
            && refused.contains(".data.mode")
            && refused.contains("force: true"),
        "{refused}"
    );
    let kept = cms.get("owned").await.expect("still there");
    assert_eq!(data(&kept), json!({"mode": "slow", "keep": "yes", "team": "b"}), "a conflict changes nothing");

    // An edit (an Update, not an apply) owns what it changed, too.
    let edit = PatchParams { field_manager: Some("editor".into()), ..Default::default() };
    cms.patch("owned", &edit, &Patch::Merge(json!({"data": {"keep": "no"}}))).await.expect("editor patches");
    let refused = s.fails("resources_apply", apply(ours, false)).await;
    assert!(refused.contains("`editor`") && refused.contains("`team-b`"), "both owners are named: {refused}");

    let forced = s.ok("resources_apply", apply(ours, true)).await;
    assert_eq!(forced["objects"][0]["outcome"], "configured", "{forced}");
    let taken = cms.get("owned").await.expect("there");
    assert_eq!(
        data(&taken),
        json!({"mode": "fast", "keep": "yes", "team": "b"}),
        "force takes over, team-b keeps its own"
    );

    // A field left out of a later apply goes; another manager's stays.
    let fewer = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: owned}\ndata: {mode: fast}\n";
    s.ok("resources_apply", apply(fewer, false)).await;
    let after = cms.get("owned").await.expect("there");
    assert_eq!(data(&after), json!({"mode": "fast", "team": "b"}), "`keep` was ours alone: removed");

    // Applying the same again writes nothing: same resourceVersion, "unchanged".
    let before = after.metadata.resource_version.clone();
    let again = s.ok("resources_apply", apply(fewer, false)).await;
    assert_eq!(again["objects"][0]["outcome"], "unchanged", "{again}");
    assert_eq!(again["objects"][0]["resource_version"].as_str(), before.as_deref(), "{again}");
    drop(s);
    cluster.drop_namespace(&ns).await;
}

#[tokio::test]
async fn an_expired_continue_token_restarts_the_list() {
    let cluster = Cluster::start().await;
    let Some(fake) = cluster.fake_only(
        "an expired continue token",
        "a test cannot make a real server compact its history (it does so every five minutes)",
    ) else {
        return;
    };
    for name in ["c1", "c2", "c3"] {
        fake.insert("configmaps", json!({"metadata": {"name": name, "namespace": common::NS}, "data": {}}));
    }
    let s = cluster.launcher().args(["--namespace", common::NS]).start(Transport::Stdio).await;
    let names = |r: &Value| -> Vec<String> {
        r["items"].as_array().expect("items").iter().filter_map(|i| i["name"].as_str().map(str::to_string)).collect()
    };
    let first = s.ok("resources_list", json!({"kind": "cm", "limit": 2})).await;
    assert_eq!(names(&first), ["c1", "c2"], "{first}");
    let token = first["continue"].as_str().expect("a continue token").to_string();
    let next = s.ok("resources_list", json!({"kind": "cm", "limit": 2, "continue": token})).await;
    assert_eq!((names(&next), next.get("restarted")), (vec!["c3".to_string()], None), "{next}");

    // The page after the first needs the server's token; expire it.
    fake.insert("configmaps", json!({"metadata": {"name": "c4", "namespace": common::NS}, "data": {}}));
    let first = s.ok("resources_list", json!({"kind": "cm", "limit": 3})).await;
    let token = first["continue"].as_str().expect("a continue token").to_string();
    let resumed = s.ok("resources_list", json!({"kind": "cm", "limit": 3, "continue": token.clone()})).await;
    assert_eq!(names(&resumed), ["c4"], "{resumed}");
    fake.compact();
    let (text, restarted) = s.ok_text("resources_list", json!({"kind": "cm", "limit": 3, "continue": token})).await;
    assert_eq!(restarted["restarted"], true, "{restarted}");
    assert_eq!(names(&restarted), ["c1", "c2", "c3"], "from the first row again: {restarted}");
    assert!(text.contains("continue token had expired (HTTP 410)"), "{text}");

    // A token is good only for the list it came from.
    let other = s
        .fails(
            "resources_list",
            json!({"kind": "cm", "namespace": "team-b", "limit": 3, "continue": restarted["continue"]}),
        )
        .await;
    assert!(other.contains("400") && other.contains("continue key is not valid"), "{other}");
}

#[tokio::test]
async fn a_rollout_is_seen_in_progress_then_complete() {
    let cluster = Cluster::start().await;
    let ns = cluster.namespace("rollout").await;
    let s = cluster.launcher().args(["--allow-write", "--namespace", &ns]).start(Transport::Stdio).await;
    // Pods become ready 5 s after they start on a real cluster (the readiness probe), so
    // a rollout there takes at least that; the fake's takes its fixed ROLLOUT.
    let manifest = |image: &str| {
        format!(
            "apiVersion: apps/v1\nkind: Deployment\nmetadata: {{name: slow}}\nspec:\n  replicas: 1\n  selector: {{matchLabels: {{app: slow}}}}\n  template:\n    metadata: {{labels: {{app: slow}}}}\n    spec:\n      containers:\n      - name: c\n        image: {image}\n        command: [sleep, '3600']\n        readinessProbe: {{exec: {{command: ['true']}}, initialDelaySeconds: 5, periodSeconds: 1}}\n"
        )
    };
    s.ok("resources_apply", json!({"context": cluster.context, "manifest": manifest("busybox:1.36")})).await;
    let status = || s.ok("rollout_status", json!({"kind": "deployment", "name": "slow"}));
    let first = status().await;
    assert_eq!(first["complete"], false, "a new deployment is not rolled out at once: {first}");
    if !cluster.is_real() {
        // A real controller may not have observed the new spec yet: its message varies.
        assert_eq!(first["message"], "0 of 1 new replicas have been updated", "{first}");
    }
    let waited = s
        .ok(
            "rollout_status",
            json!({"kind": "deployment", "name": "slow", "wait_seconds": common::REAL_WAIT.as_secs()}),
        )
        .await;
    assert_eq!(waited["complete"], true, "rollout_status waits it out: {waited}");
    // A new template starts the next rollout.
    s.ok("rollout_restart", json!({"context": cluster.context, "kind": "deployment", "name": "slow"})).await;
    let restarted = status().await;
    assert_eq!(restarted["complete"], false, "{restarted}");
    drop(s);
    cluster.drop_namespace(&ns).await;
}

#[tokio::test]
async fn finalizers_hold_a_deleted_object_and_propagation_decides_its_dependents() {
    let cluster = Cluster::start().await;
    let ns = cluster.namespace("finalizers").await;
    let s = cluster.launcher().args(["--allow-destructive", "--namespace", &ns]).start(Transport::Stdio).await;
    let ctx = cluster.context.as_str();
    let held =
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: held, finalizers: [example.com/hold]}\ndata: {a: '1'}\n";
    s.ok("resources_apply", json!({"context": ctx, "manifest": held})).await;
    let (said, _) = s.ok_text("resources_delete", json!({"context": ctx, "kind": "cm", "name": "held"})).await;
    assert!(said.contains("deletion started") && said.contains("example.com/hold"), "{said}");
    let still =
        s.ok("resources_get", json!({"kind": "cm", "name": "held", "fields": ["metadata.deletionTimestamp"]})).await;
    assert!(still["object"]["metadata.deletionTimestamp"].is_string(), "marked, not gone: {still}");
    // Removing the last finalizer lets it go.
    s.ok(
        "resources_patch",
        json!({"context": ctx, "kind": "cm", "name": "held", "patch": {"metadata": {"finalizers": null}}}),
    )
    .await;
    let gone = common::eventually(&cluster, "the released configmap gone", common::REAL_WAIT, || async {
        let r = s.call("resources_get", json!({"kind": "cm", "name": "held"})).await;
        if r.is_error { Ok(mcp_core::testing::text(&r)) } else { Err("still there".into()) }
    })
    .await;
    assert!(gone.contains("404"), "{gone}");
    // Without finalizers the answer is "deleted", not "started".
    let plain = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: plain}\n";
    s.ok("resources_apply", json!({"context": ctx, "manifest": plain})).await;
    let (said, _) = s.ok_text("resources_delete", json!({"context": ctx, "kind": "cm", "name": "plain"})).await;
    assert!(said.ends_with("deleted\n"), "{said}");

    // A deployment owns its ReplicaSet: Orphan keeps it (without its owner), Background
    // removes it after the deployment.
    let replicasets = |app: &'static str| {
        let s = &s;
        async move {
            s.ok(
                "resources_list",
                json!({"kind": "replicasets.apps", "label_selector": format!("app={app}"), "output": "json"}),
            )
            .await["items"]
                .as_array()
                .cloned()
                .unwrap_or_default()
        }
    };
    for (name, policy) in [("kept", "Orphan"), ("cascade", "Background")] {
        s.ok("resources_apply", json!({"context": ctx, "manifest": common::deployment_manifest(name, "nginx:1.27")}))
            .await;
        common::eventually(&cluster, "the deployment's replicaset", common::REAL_WAIT, || async {
            if replicasets(name).await.len() == 1 { Ok(()) } else { Err("no replicaset yet".to_string()) }
        })
        .await;
        s.ok("resources_delete", json!({"context": ctx, "kind": "deploy", "name": name, "propagation": policy})).await;
        common::eventually(&cluster, "the dependents handled", common::REAL_WAIT, || async {
            let left = replicasets(name).await;
            let ok = match policy {
                "Orphan" => {
                    left.len() == 1 && left[0].pointer("/metadata/ownerReferences").is_none_or(|r| r == &json!([]))
                }
                _ => left.is_empty(),
            };
            if ok { Ok(()) } else { Err(format!("{policy}: {left:?}")) }
        })
        .await;
    }
    drop(s);
    cluster.drop_namespace(&ns).await;
}

#[tokio::test]
async fn misspelt_fields_and_non_base64_secrets_are_refused() {
    let cluster = Cluster::start().await;
    let ns = cluster.namespace("strict-fields").await;
    let s = cluster.launcher().args(["--allow-write", "--namespace", &ns]).start(Transport::Stdio).await;
    let ctx = cluster.context.as_str();
    // The connector asks for strict field validation: a typo fails instead of being
    // dropped (a real server's default is to drop it with a warning).
    let typo = common::deployment_manifest("typo", "nginx:1.27").replace("replicas:", "replics:");
    let refused = s.fails("resources_apply", json!({"context": ctx, "manifest": typo})).await;
    assert!(
        refused.contains(".spec.replics")
            && refused.contains("field not declared in schema")
            && refused.contains("explain_resource"),
        "{refused}"
    );
    let absent = s.fails("resources_get", json!({"kind": "deploy", "name": "typo"})).await;
    assert!(absent.contains("404"), "nothing was created: {absent}");
    let cm = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: settings}\ndata: {a: '1'}\n";
    s.ok("resources_apply", json!({"context": ctx, "manifest": cm})).await;
    let patched = s
        .fails(
            "resources_patch",
            json!({"context": ctx, "kind": "cm", "name": "settings", "patch": {"datta": {"a": "2"}}}),
        )
        .await;
    assert!(patched.contains("unknown field \"datta\""), "{patched}");

    let secret = "apiVersion: v1\nkind: Secret\nmetadata: {name: creds}\ndata: {password: 'hunter2!'}\n";
    let not_base64 = s.fails("resources_apply", json!({"context": ctx, "manifest": secret})).await;
    assert!(not_base64.contains("illegal base64") && not_base64.contains("stringData"), "{not_base64}");
    assert!(!not_base64.contains("hunter2"), "the value is not echoed: {not_base64}");
    let plain = "apiVersion: v1\nkind: Secret\nmetadata: {name: creds}\nstringData: {password: 'hunter2!'}\n";
    s.ok("resources_apply", json!({"context": ctx, "manifest": plain})).await;
    let stored = cluster.client().await;
    let secrets: kube::Api<k8s_openapi::api::core::v1::Secret> = kube::Api::namespaced(stored, &ns);
    let got = secrets.get("creds").await.expect("the secret");
    let password = got.data.unwrap_or_default().get("password").map(|b| b.0.clone());
    assert_eq!(password.as_deref(), Some(&b"hunter2!"[..]), "stringData lands in data");
    drop(s);
    cluster.drop_namespace(&ns).await;
}
