//! The cluster as a whole: `namespaces_list`, `nodes_list` (capacity, allocatable,
//! conditions, taints), `events_list` (sorted, filtered), `cluster_version`, and the
//! kubeconfig's `contexts_list`.

use std::sync::Arc;

use k8s_openapi::api::core::v1::{Namespace, Node};
use kube::Api;
use kube::api::ListParams;
use mcp_core::server::ServerBuilder;
use mcp_core::{Context, ToolError, tool_with};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::api::{dyn_api, tool_args};
use super::describe::event_time;
use super::tables::{node_roles, ready_condition};
use crate::clusters::{Clusters, ContextInfo, check_namespace, namespace_scope};
use crate::config::Toolset;
use crate::errors::{Op, api_error};
use crate::output::{Rendered, age, clip, cut_line, one_line, table};

pub fn register(builder: ServerBuilder, k: &Arc<Clusters>) -> ServerBuilder {
    let builder = builder.tools_in(
        Toolset::Cluster.name(),
        [
            tool_with("namespaces_list", k, namespaces_list)
                .title("List namespaces")
                .description(
                    "The namespaces (only the allowed ones when a namespace allowlist applies), with status and age.",
                )
                .read_only(),
            tool_with("nodes_list", k, nodes_list)
                .title("List nodes")
                .description(
                    "Nodes with status, roles, version, allocatable CPU/memory and taints; with `name`, one node in \
                     detail: capacity, allocatable, every condition, taints, addresses, system info.",
                )
                .read_only(),
            tool_with("events_list", k, events_list)
                .title("List events")
                .description(
                    "Events, oldest first (the newest are kept when cut), filtered by involved object (kind, name), \
                     type (Normal or Warning) and reason. The first place to look when something fails.",
                )
                .read_only(),
            tool_with("cluster_version", k, cluster_version)
                .title("Cluster version")
                .description("The API server's Kubernetes version and platform for a context.")
                .read_only(),
        ],
    );
    builder.tools_in(
        Toolset::Config.name(),
        [tool_with("contexts_list", k, contexts_list)
            .title("List kubeconfig contexts")
            .description(
                "The contexts this server can use (name, cluster, server URL, namespace, user name; never \
                     credentials) and which is the default. Pass `context` to any tool to use another one.",
            )
            .read_only()],
    )
}

tool_args! {
pub struct ContextArg {}
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct Listing {
    pub context: String,
    pub items: Vec<Value>,
    pub truncated: bool,
}

async fn namespaces_list(k: Arc<Clusters>, ctx: Context, args: ContextArg) -> Result<Rendered<Listing>, ToolError> {
    let cluster = k.read(&ctx, args.context.as_deref()).await?;
    let scope = namespace_scope(&k.settings, &ctx);
    let api: Api<Namespace> = Api::all(cluster.client.clone());
    let list = api
        .list(&ListParams::default())
        .await
        .map_err(|e| api_error(e, &Op::new("list", "namespaces").context(&cluster.name)))?;
    let mut items = vec![];
    let mut rows = vec![];
    for ns in list.items {
        let name = ns.metadata.name.clone().unwrap_or_default();
        if check_namespace(&scope, &name).is_err() {
            continue;
        }
        let phase = ns.status.and_then(|s| s.phase).unwrap_or_default();
        let created = ns.metadata.creation_timestamp.map(|t| t.0.to_string());
        rows.push(vec![name.clone(), phase.clone(), age(created.as_deref())]);
        items.push(json!({"name": name, "status": phase, "created": created}));
    }
    let (total, truncated) = (items.len(), items.len() > k.settings.max_rows);
    items.truncate(k.settings.max_rows);
    rows.truncate(k.settings.max_rows);
    let mut text = table(&["NAME", "STATUS", "AGE"], &rows);
    if truncated {
        text += &cut_line(
            format_args!("the first {} of {total} namespaces", rows.len()),
            "use resources_list kind=namespaces, which pages",
        );
    }
    Ok(Rendered { text, data: Listing { context: cluster.name.clone(), items, truncated } })
}

tool_args! {
pub struct NodesArgs {
    /// One node in detail.
    pub name: Option<String>,
    pub label_selector: Option<String>,
}
}

fn taints(n: &Value) -> Vec<String> {
    n.pointer("/spec/taints")
        .and_then(Value::as_array)
        .map(|ts| {
            ts.iter()
                .map(|t| {
                    let value = t["value"].as_str().map(|v| format!("={v}")).unwrap_or_default();
                    format!("{}{value}:{}", t["key"].as_str().unwrap_or("?"), t["effect"].as_str().unwrap_or("?"))
                })
                .collect()
        })
        .unwrap_or_default()
}

pub(crate) async fn nodes_list(
    k: Arc<Clusters>,
    ctx: Context,
    args: NodesArgs,
) -> Result<Rendered<Listing>, ToolError> {
    let cluster = k.read(&ctx, args.context.as_deref()).await?;
    let nodes_res = cluster.discovery.resolve(&cluster.client, &cluster.name, "nodes", Some("v1")).await?;
    super::api::check_kind(&k, &nodes_res)?;
    let api: Api<Node> = Api::all(cluster.client.clone());
    if let Some(name) = &args.name {
        super::api::check_name(name)?;
        let node = api
            .get(name)
            .await
            .map_err(|e| api_error(e, &Op::new("get", "nodes").name(name).context(&cluster.name)))?;
        let v = serde_json::to_value(&node).unwrap_or(Value::Null);
        let st = |p: &str| v.pointer(p).cloned().unwrap_or(Value::Null);
        let mut text = format!("Node {name} (context {})\nRoles: {}\n", cluster.name, node_roles(&v));
        for (label, p) in [("Capacity", "/status/capacity"), ("Allocatable", "/status/allocatable")] {
            if let Some(m) = v.pointer(p).and_then(Value::as_object) {
                let parts: Vec<String> = m.iter().map(|(k, q)| format!("{k}={}", q.as_str().unwrap_or("?"))).collect();
                text += &format!("{label}: {}\n", parts.join(", "));
            }
        }
        let t = taints(&v);
        text += &format!("Taints: {}\n", if t.is_empty() { "<none>".into() } else { t.join(", ") });
        text +=
            &format!("Unschedulable: {}\n", v.pointer("/spec/unschedulable").and_then(Value::as_bool).unwrap_or(false));
        text += "Conditions:\n";
        for c in v.pointer("/status/conditions").and_then(Value::as_array).cloned().unwrap_or_default() {
            text += &format!(
                "  {}={} ({}): {}\n",
                c["type"].as_str().unwrap_or("?"),
                c["status"].as_str().unwrap_or("?"),
                c["reason"].as_str().unwrap_or(""),
                clip(c["message"].as_str().unwrap_or(""), 200)
            );
        }
        if let Some(a) = v.pointer("/status/addresses").and_then(Value::as_array) {
            let parts: Vec<String> = a
                .iter()
                .map(|a| format!("{}={}", a["type"].as_str().unwrap_or("?"), a["address"].as_str().unwrap_or("?")))
                .collect();
            text += &format!("Addresses: {}\n", parts.join(", "));
        }
        if let Some(info) = v.pointer("/status/nodeInfo") {
            text += &format!(
                "System: kubelet {}, {} {}, runtime {}, kernel {}\n",
                info["kubeletVersion"].as_str().unwrap_or("?"),
                info["operatingSystem"].as_str().unwrap_or("?"),
                info["architecture"].as_str().unwrap_or("?"),
                info["containerRuntimeVersion"].as_str().unwrap_or("?"),
                info["kernelVersion"].as_str().unwrap_or("?")
            );
        }
        let item = json!({"name": name, "roles": node_roles(&v), "capacity": st("/status/capacity"), "allocatable": st("/status/allocatable"),
            "conditions": st("/status/conditions"), "taints": st("/spec/taints"), "addresses": st("/status/addresses"), "nodeInfo": st("/status/nodeInfo")});
        return Ok(Rendered {
            text,
            data: Listing { context: cluster.name.clone(), items: vec![item], truncated: false },
        });
    }
    let mut lp = ListParams::default();
    if let Some(l) = args.label_selector.as_deref().filter(|l| !l.is_empty()) {
        lp = lp.labels(l);
    }
    let list = api.list(&lp).await.map_err(|e| api_error(e, &Op::new("list", "nodes").context(&cluster.name)))?;
    let mut rows = vec![];
    let mut items = vec![];
    for node in list.items.iter().take(k.settings.max_rows) {
        let v = serde_json::to_value(node).unwrap_or(Value::Null);
        let name = v.pointer("/metadata/name").and_then(Value::as_str).unwrap_or("").to_string();
        let ready = ready_condition(&v);
        let pressure: Vec<String> = v
            .pointer("/status/conditions")
            .and_then(Value::as_array)
            .map(|cs| {
                cs.iter()
                    .filter(|c| c["type"] != "Ready" && c["status"] == "True")
                    .filter_map(|c| c["type"].as_str().map(str::to_string))
                    .collect()
            })
            .unwrap_or_default();
        let status = if pressure.is_empty() { ready.to_string() } else { format!("{ready},{}", pressure.join(",")) };
        let cpu = v.pointer("/status/allocatable/cpu").and_then(Value::as_str).unwrap_or("?").to_string();
        let mem = v.pointer("/status/allocatable/memory").and_then(Value::as_str).unwrap_or("?").to_string();
        let t = taints(&v);
        let version = v.pointer("/status/nodeInfo/kubeletVersion").and_then(Value::as_str).unwrap_or("?").to_string();
        rows.push(vec![
            name.clone(),
            status.clone(),
            node_roles(&v),
            version.clone(),
            cpu.clone(),
            mem.clone(),
            if t.is_empty() { "<none>".into() } else { t.join(",") },
        ]);
        items.push(json!({"name": name, "status": status, "roles": node_roles(&v), "version": version, "allocatableCpu": cpu, "allocatableMemory": mem, "taints": t}));
    }
    let truncated = list.items.len() > k.settings.max_rows;
    let mut text = table(&["NAME", "STATUS", "ROLES", "VERSION", "CPU", "MEMORY", "TAINTS"], &rows);
    if truncated {
        let shown = format!("the first {} of {} nodes", rows.len(), list.items.len());
        text += &cut_line(shown, "narrow with label_selector");
    }
    Ok(Rendered { text, data: Listing { context: cluster.name.clone(), items, truncated } })
}

tool_args! {
pub struct EventsArgs {
    /// Namespace (default: the context's).
    pub namespace: Option<String>,
    /// Events of every (allowed) namespace.
    #[serde(default)]
    pub all_namespaces: bool,
    /// Only events about objects of this kind (`Pod`, `Deployment`).
    pub kind: Option<String>,
    /// Only events about the object of this name.
    pub name: Option<String>,
    /// `Normal` or `Warning`.
    #[serde(rename = "type")]
    pub event_type: Option<String>,
    /// Only this reason (`BackOff`, `FailedScheduling`, ...).
    pub reason: Option<String>,
    /// Most events to return, newest kept (default 100).
    pub limit: Option<usize>,
}
}

pub(crate) async fn events_list(
    k: Arc<Clusters>,
    ctx: Context,
    args: EventsArgs,
) -> Result<Rendered<Listing>, ToolError> {
    let cluster = k.read(&ctx, args.context.as_deref()).await?;
    let res = cluster.discovery.resolve(&cluster.client, &cluster.name, "events", Some("v1")).await?;
    super::api::check_kind(&k, &res)?;
    let scope = namespace_scope(&k.settings, &ctx);
    let namespaces: Vec<Option<String>> = match (args.all_namespaces, scope.clone()) {
        (true, Some(allowed)) => allowed.into_iter().map(Some).collect(),
        (true, None) => vec![None],
        (false, _) => {
            let ns =
                args.namespace.clone().filter(|n| !n.is_empty()).unwrap_or_else(|| cluster.default_namespace.clone());
            super::api::check_ns_name(&ns)?;
            check_namespace(&scope, &ns)?;
            vec![Some(ns)]
        }
    };
    let mut selectors = vec![];
    let field_value = |what: &str, v: &str| -> Result<String, ToolError> {
        if v.is_empty() || v.len() > 253 || v.contains([',', '=', '!', '\\']) {
            return Err(ToolError::invalid_arguments(format!("`{what}`: `{}` is not a valid value", clip(v, 60))));
        }
        Ok(v.to_string())
    };
    if let Some(kd) = &args.kind {
        // Event's involvedObject.kind is the Kind (`Pod`), whatever spelling was given.
        let kind = match cluster.discovery.catalog(&cluster.client, &cluster.name, false).await?.find(kd, None) {
            Some(r) => r.kind.clone(),
            None => field_value("kind", kd)?,
        };
        selectors.push(format!("involvedObject.kind={kind}"));
    }
    if let Some(n) = &args.name {
        selectors.push(format!("involvedObject.name={}", field_value("name", n)?));
    }
    if let Some(t) = &args.event_type {
        if !matches!(t.as_str(), "Normal" | "Warning") {
            return Err(ToolError::invalid_arguments("`type` is Normal or Warning"));
        }
        selectors.push(format!("type={t}"));
    }
    if let Some(r) = &args.reason {
        selectors.push(format!("reason={}", field_value("reason", r)?));
    }
    let mut events: Vec<Value> = vec![];
    for ns in &namespaces {
        let api = dyn_api(&cluster, &res, ns.as_deref());
        let mut lp = ListParams::default().limit(5000);
        if !selectors.is_empty() {
            lp = lp.fields(&selectors.join(","));
        }
        let list = api
            .list(&lp)
            .await
            .map_err(|e| api_error(e, &Op::new("list", "events").namespace(ns.as_deref()).context(&cluster.name)))?;
        events.extend(list.items.iter().map(|e| serde_json::to_value(e).unwrap_or(Value::Null)));
    }
    events.sort_by_key(|e| event_time(e).unwrap_or_default());
    let limit = args.limit.unwrap_or(100).clamp(1, k.settings.max_rows);
    let total = events.len();
    let events: Vec<Value> = events.into_iter().skip(total.saturating_sub(limit)).collect();
    let mut rows = vec![];
    let mut items = vec![];
    for e in &events {
        let object = format!(
            "{}/{}",
            e.pointer("/involvedObject/kind").and_then(Value::as_str).unwrap_or("?").to_ascii_lowercase(),
            e.pointer("/involvedObject/name").and_then(Value::as_str).unwrap_or("?")
        );
        let when = event_time(e);
        let message = one_line(e["message"].as_str().unwrap_or(""));
        rows.push(vec![
            e.pointer("/metadata/namespace").and_then(Value::as_str).unwrap_or("").to_string(),
            age(when.as_deref()),
            e["type"].as_str().unwrap_or("").into(),
            e["reason"].as_str().unwrap_or("").into(),
            object.clone(),
            e["count"].as_i64().unwrap_or(1).to_string(),
            clip(&message, 200),
        ]);
        items.push(json!({"namespace": e.pointer("/metadata/namespace"), "lastSeen": when, "type": e["type"], "reason": e["reason"],
            "object": object, "count": e["count"], "message": clip(&message, 1000)}));
    }
    let truncated = total > events.len();
    let mut text = if rows.is_empty() {
        "No events match.\n".to_string()
    } else {
        table(&["NAMESPACE", "LAST SEEN", "TYPE", "REASON", "OBJECT", "COUNT", "MESSAGE"], &rows)
    };
    if truncated {
        let shown = format!("the newest {} of {total} events", events.len());
        text += &cut_line(shown, "filter by kind, name, type or reason");
    }
    Ok(Rendered { text, data: Listing { context: cluster.name.clone(), items, truncated } })
}

async fn cluster_version(k: Arc<Clusters>, ctx: Context, args: ContextArg) -> Result<Rendered<Value>, ToolError> {
    let cluster = k.read(&ctx, args.context.as_deref()).await?;
    let v = cluster
        .client
        .apiserver_version()
        .await
        .map_err(|e| api_error(e, &Op::new("get", "/version").context(&cluster.name)))?;
    let text = format!(
        "Kubernetes {} ({}, {}) at {} (context {})\n",
        v.git_version, v.platform, v.go_version, cluster.server, cluster.name
    );
    Ok(Rendered {
        text,
        data: json!({"context": cluster.name, "server": cluster.server, "gitVersion": v.git_version, "major": v.major, "minor": v.minor, "platform": v.platform}),
    })
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct ContextsResult {
    pub contexts: Vec<ContextInfo>,
    pub default: String,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct NoArgs {}

async fn contexts_list(k: Arc<Clusters>, _ctx: Context, _args: NoArgs) -> Result<Rendered<ContextsResult>, ToolError> {
    let contexts = k.contexts();
    let rows: Vec<Vec<String>> = contexts
        .iter()
        .map(|c| {
            vec![
                if c.default { "*".into() } else { String::new() },
                c.name.clone(),
                c.cluster.clone(),
                c.server.clone(),
                c.namespace.clone(),
                c.user.clone(),
            ]
        })
        .collect();
    let text = table(&["DEFAULT", "NAME", "CLUSTER", "SERVER", "NAMESPACE", "USER"], &rows);
    Ok(Rendered { text, data: ContextsResult { contexts, default: k.default_context().to_string() } })
}
