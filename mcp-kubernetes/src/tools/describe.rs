//! `resources_describe`: what is going on with one object, its key facts, its status
//! conditions explained, container states for pods, and its recent events.

use std::sync::Arc;

use kube::api::ListParams;
use mcp_core::server::ServerBuilder;
use mcp_core::{Context, ToolError, tool_with};
use schemars::JsonSchema;
use serde::Serialize;
use serde_json::{Value, json};

use super::api::{dyn_api, tool_args};
use super::resources::fetch_object;
use super::tables::pod_status;
use crate::clusters::Clusters;
use crate::config::Toolset;
use crate::errors::Op;
use crate::output::{Rendered, age, clip, cut_text, document};

pub fn register(builder: ServerBuilder, k: &Arc<Clusters>) -> ServerBuilder {
    builder.tools_in(
        Toolset::Core.name(),
        [tool_with("resources_describe", k, resources_describe)
            .title("Describe an object")
            .description(
                "What is going on with one object: its key facts, status conditions explained, container states \
                     for pods, and its recent events (newest last). Start here when something is not working.",
            )
            .read_only()],
    )
}

tool_args! {
pub struct DescribeArgs {
    pub kind: String,
    pub api_version: Option<String>,
    pub name: String,
    pub namespace: Option<String>,
    /// Most events to show (default 20).
    pub events: Option<usize>,
}
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct DescribeResult {
    pub context: String,
    pub resource: String,
    pub name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    /// Status conditions, each with what it means.
    pub conditions: Vec<Value>,
    /// Recent events about the object, oldest first.
    pub events: Vec<Value>,
}

/// What a condition means, for the well-known ones.
fn explain_condition(kind: &str, t: &str, status: &str) -> &'static str {
    match (kind, t, status) {
        ("Pod", "PodScheduled", "False") => {
            "the scheduler found no node for the pod (resources, taints, affinity): see events"
        }
        ("Pod", "Initialized", "False") => "init containers have not all completed",
        ("Pod", "ContainersReady" | "Ready", "False") => "some containers are not ready: see their states below",
        ("Pod", "Ready", "True") => "the pod serves traffic",
        ("Deployment", "Available", "False") => "fewer replicas are available than the minimum the strategy needs",
        ("Deployment", "Available", "True") => "enough replicas are available",
        ("Deployment", "Progressing", "False") => "the rollout is stuck (progressDeadlineSeconds passed)",
        ("Deployment", "Progressing", "True") => "the rollout is progressing or complete",
        ("Deployment", "ReplicaFailure", "True") => {
            "pods could not be created (quota, admission, security): see events"
        }
        ("Node", "Ready", "False" | "Unknown") => "the kubelet is not healthy or not reporting",
        ("Node", "MemoryPressure" | "DiskPressure" | "PIDPressure", "True") => {
            "the node is short of this resource and may evict pods"
        }
        (_, "Ready", "True") => "ready",
        (_, "Ready", "False") => "not ready: see the reason and events",
        _ => "",
    }
}

pub(crate) async fn resources_describe(
    k: Arc<Clusters>,
    ctx: Context,
    args: DescribeArgs,
) -> Result<Rendered<DescribeResult>, ToolError> {
    let (cluster, res, ns, obj) = fetch_object(
        &k,
        &ctx,
        args.context.as_deref(),
        &args.kind,
        args.api_version.as_deref(),
        &args.name,
        args.namespace.as_deref(),
    )
    .await?;
    let mut text = format!("{} {}", res.kind, args.name);
    if let Some(ns) = &ns {
        text += &format!(" in namespace {ns}");
    }
    text += &format!(" (context {}, {})\n", cluster.name, res.api_version());
    text += &format!("Created: {} ago\n", age(obj.pointer("/metadata/creationTimestamp").and_then(Value::as_str)));
    if let Some(labels) = obj.pointer("/metadata/labels").and_then(Value::as_object) {
        let l: Vec<String> = labels.iter().map(|(k, v)| format!("{k}={}", v.as_str().unwrap_or_default())).collect();
        text += &format!("Labels: {}\n", clip(&l.join(", "), 500));
    }
    if let Some(owners) = obj.pointer("/metadata/ownerReferences").and_then(Value::as_array) {
        let o: Vec<String> = owners
            .iter()
            .map(|o| format!("{}/{}", o["kind"].as_str().unwrap_or("?"), o["name"].as_str().unwrap_or("?")))
            .collect();
        text += &format!("Owned by: {}\n", o.join(", "));
    }
    match res.kind.as_str() {
        "Pod" => {
            text += &format!(
                "Status: {}  Node: {}  IP: {}\n",
                pod_status(&obj),
                obj.pointer("/spec/nodeName").and_then(Value::as_str).unwrap_or("<none>"),
                obj.pointer("/status/podIP").and_then(Value::as_str).unwrap_or("<none>")
            );
            text += "Containers:\n";
            let statuses =
                obj.pointer("/status/containerStatuses").and_then(Value::as_array).cloned().unwrap_or_default();
            for c in obj.pointer("/spec/containers").and_then(Value::as_array).cloned().unwrap_or_default() {
                let name = c["name"].as_str().unwrap_or("?");
                let st = statuses.iter().find(|s| s["name"] == name);
                let state = st
                    .and_then(|s| s["state"].as_object())
                    .and_then(|m| m.iter().next().map(|(k, v)| (k.clone(), v.clone())))
                    .map(|(k, v)| {
                        let reason = v["reason"].as_str().map(|r| format!(" ({r})")).unwrap_or_default();
                        let code = v["exitCode"].as_i64().map(|c| format!(" exit code {c}")).unwrap_or_default();
                        let msg = v["message"].as_str().map(|m| format!(": {}", clip(m, 300))).unwrap_or_default();
                        format!("{k}{reason}{code}{msg}")
                    })
                    .unwrap_or_else(|| "not started".into());
                let last = st
                    .and_then(|s| s.pointer("/lastState/terminated"))
                    .map(|t| {
                        format!(
                            "; last terminated: {} exit code {}",
                            t["reason"].as_str().unwrap_or("?"),
                            t["exitCode"].as_i64().unwrap_or(0)
                        )
                    })
                    .unwrap_or_default();
                text += &format!(
                    "  {name}: image {}, {state}, ready={}, restarts={}{last}\n",
                    c["image"].as_str().unwrap_or("?"),
                    st.map(|s| s["ready"] == json!(true)).unwrap_or(false),
                    st.and_then(|s| s["restartCount"].as_i64()).unwrap_or(0)
                );
            }
        }
        "Deployment" | "StatefulSet" | "ReplicaSet" => {
            let n = |p: &str| obj.pointer(p).and_then(Value::as_i64).unwrap_or(0);
            text += &format!(
                "Replicas: {} desired, {} updated, {} ready, {} available\n",
                n("/spec/replicas"),
                n("/status/updatedReplicas"),
                n("/status/readyReplicas"),
                n("/status/availableReplicas")
            );
            let images: Vec<String> = obj
                .pointer("/spec/template/spec/containers")
                .and_then(Value::as_array)
                .map(|cs| {
                    cs.iter()
                        .map(|c| {
                            format!("{}={}", c["name"].as_str().unwrap_or("?"), c["image"].as_str().unwrap_or("?"))
                        })
                        .collect()
                })
                .unwrap_or_default();
            text += &format!("Images: {}\n", images.join(", "));
        }
        _ => {}
    }
    let mut conditions = vec![];
    if let Some(list) = obj.pointer("/status/conditions").and_then(Value::as_array) {
        text += "Conditions:\n";
        for c in list {
            let t = c["type"].as_str().unwrap_or("?");
            let s = c["status"].as_str().unwrap_or("?");
            let meaning = explain_condition(&res.kind, t, s);
            text += &format!(
                "  {t}={s}{}{}{}\n",
                c["reason"].as_str().map(|r| format!(" ({r})")).unwrap_or_default(),
                c["message"].as_str().map(|m| format!(": {}", clip(m, 300))).unwrap_or_default(),
                if meaning.is_empty() { String::new() } else { format!(" — {meaning}") }
            );
            let mut c = c.clone();
            if !meaning.is_empty() {
                c["meaning"] = json!(meaning);
            }
            conditions.push(c);
        }
    }
    // Events about this object; failing to read them (RBAC) does not fail the describe.
    let wanted = args.events.unwrap_or(20).clamp(1, 200);
    let mut events = vec![];
    let events_res =
        cluster.discovery.catalog(&cluster.client, &cluster.name, false).await?.find("events", Some("v1")).cloned();
    if let Some(ev_res) = events_res {
        let api = dyn_api(&cluster, &ev_res, ns.as_deref());
        let mut selector = format!("involvedObject.name={},involvedObject.kind={}", args.name, res.kind);
        if let Some(ns) = &ns {
            selector += &format!(",involvedObject.namespace={ns}");
        }
        match api.list(&ListParams::default().fields(&selector)).await {
            Ok(list) => {
                let mut items: Vec<Value> =
                    list.items.iter().map(|e| serde_json::to_value(e).unwrap_or(Value::Null)).collect();
                items.sort_by_key(|e| event_time(e).unwrap_or_default());
                let skip = items.len().saturating_sub(wanted);
                for e in items.into_iter().skip(skip) {
                    events.push(json!({
                        "type": e["type"], "reason": e["reason"], "message": e["message"],
                        "count": e["count"], "lastSeen": event_time(&e),
                    }));
                }
                text += "Events:\n";
                if events.is_empty() {
                    text += "  <none>\n";
                }
                for e in &events {
                    text += &format!(
                        "  {} ago  {}  {}  {}{}\n",
                        age(e["lastSeen"].as_str()),
                        e["type"].as_str().unwrap_or("?"),
                        e["reason"].as_str().unwrap_or("?"),
                        clip(&crate::output::one_line(e["message"].as_str().unwrap_or("")), 300),
                        e["count"].as_i64().filter(|c| *c > 1).map(|c| format!(" (x{c})")).unwrap_or_default()
                    );
                }
            }
            Err(e) => {
                text += &format!("Events: not readable: {}\n", crate::errors::describe(&e, &Op::new("list", "events")))
            }
        }
    }
    if let Some(spec) = obj.get("spec") {
        let (spec_text, _) = cut_text(document(spec, false), 4096, "use resources_get with fields=[\"spec\"]");
        text += &format!("Spec:\n{spec_text}");
    }
    let (text, _) = cut_text(text, k.settings.max_result_bytes, "use resources_get with `fields`");
    Ok(Rendered {
        text,
        data: DescribeResult {
            context: cluster.name.clone(),
            resource: res.qualified(),
            name: args.name,
            namespace: ns,
            conditions,
            events,
        },
    })
}

/// When an event last happened (series, lastTimestamp, eventTime or creation).
pub(crate) fn event_time(e: &Value) -> Option<String> {
    ["/series/lastObservedTime", "/lastTimestamp", "/eventTime", "/firstTimestamp", "/metadata/creationTimestamp"]
        .iter()
        .find_map(|p| e.pointer(p).and_then(Value::as_str).map(str::to_string))
}
