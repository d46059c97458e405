//! `pods_top` and `nodes_top`: CPU and memory from the metrics API (metrics-server).

use std::sync::Arc;

use kube::Api;
use kube::api::ListParams;
use mcp_core::server::ServerBuilder;
use mcp_core::{Context, ToolError, tool_with};
use schemars::JsonSchema;
use serde::Serialize;
use serde_json::{Value, json};

use super::api::{check_name, dyn_api, tool_args};
use super::pods::pod_namespace;
use crate::clusters::{Clusters, Connection, namespace_scope};
use crate::config::Toolset;
use crate::discovery::Resource;
use crate::errors::{Op, api_error};
use crate::output::{Rendered, clip, cut_line, table};

pub fn register(builder: ServerBuilder, k: &Arc<Clusters>) -> ServerBuilder {
    builder.tools_in(
        Toolset::Workloads.name(),
        [
            tool_with("pods_top", k, pods_top)
                .title("Pod CPU and memory")
                .description(
                    "CPU (millicores) and memory (MiB) of pods from the metrics API (metrics-server), highest first.",
                )
                .read_only(),
            tool_with("nodes_top", k, nodes_top)
                .title("Node CPU and memory")
                .description("CPU and memory use of nodes from the metrics API, with the share of what is allocatable.")
                .read_only(),
        ],
    )
}

tool_args! {
pub struct TopArgs {
    /// Namespace for pods (default: the context's).
    pub namespace: Option<String>,
    /// Pods of every (allowed) namespace.
    #[serde(default)]
    pub all_namespaces: bool,
    /// One pod or node by name.
    pub name: Option<String>,
    pub label_selector: Option<String>,
    /// Sort by `cpu` (default) or `memory`.
    pub sort_by: Option<String>,
}
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct TopResult {
    pub context: String,
    /// name, namespace (pods), cpu millicores, memory MiB (and percentages for nodes).
    pub items: Vec<Value>,
    pub truncated: bool,
}

/// Kubernetes CPU quantity (`250m`, `1`, `12345n`, `3u`) in millicores.
pub fn cpu_millis(q: &str) -> f64 {
    let q = q.trim();
    let (num, unit) = q.split_at(q.find(|c: char| c.is_ascii_alphabetic()).unwrap_or(q.len()));
    let n: f64 = num.parse().unwrap_or(0.0);
    match unit {
        "n" => n / 1e6,
        "u" => n / 1e3,
        "m" => n,
        _ => n * 1000.0,
    }
}

/// Kubernetes memory quantity (`128Mi`, `1Gi`, `123456Ki`, `1e9`, `500M`) in MiB.
pub fn mem_mib(q: &str) -> f64 {
    let q = q.trim();
    let (num, unit) = q.split_at(q.find(|c: char| c.is_ascii_alphabetic() && c != 'e').unwrap_or(q.len()));
    let n: f64 = num.parse().unwrap_or(0.0);
    let bytes = match unit {
        "Ki" => n * 1024.0,
        "Mi" => n * 1024.0 * 1024.0,
        "Gi" => n * 1024.0 * 1024.0 * 1024.0,
        "Ti" => n * 1024f64.powi(4),
        "k" => n * 1e3,
        "M" => n * 1e6,
        "G" => n * 1e9,
        "T" => n * 1e12,
        _ => n,
    };
    bytes / (1024.0 * 1024.0)
}

async fn metrics_resource(k: &Clusters, cluster: &Connection, plural: &str) -> Result<Resource, ToolError> {
    let catalog = cluster.discovery.catalog(&cluster.client, &cluster.name, false).await?;
    let found = catalog.resources.iter().find(|r| r.group == "metrics.k8s.io" && r.name == plural).cloned();
    let res = match found {
        Some(r) => r,
        None => {
            let failed = catalog.failed_groups.iter().find(|(g, _)| g.starts_with("metrics.k8s.io/"));
            return Err(ToolError::unavailable(match failed {
                Some((_, e)) => {
                    format!("the metrics API (metrics.k8s.io) is registered but not answering: {}", clip(e, 300))
                }
                None => format!(
                    "the metrics API (metrics.k8s.io) is not served by context `{}`: install metrics-server to see CPU and memory use",
                    cluster.name
                ),
            }));
        }
    };
    super::api::check_kind(k, &res)?;
    Ok(res)
}

/// Sorts by `by` (CPU unless `memory`), highest first, and keeps the top `max`; says
/// whether any were cut.
fn sort_and_cut(items: &mut Vec<Value>, by: Option<&str>, max: usize) -> bool {
    let key = if by == Some("memory") { "memoryMiB" } else { "cpuMillis" };
    items.sort_by(|a, b| b[key].as_f64().unwrap_or(0.0).total_cmp(&a[key].as_f64().unwrap_or(0.0)));
    let truncated = items.len() > max;
    items.truncate(max);
    truncated
}

async fn pods_top(k: Arc<Clusters>, ctx: Context, args: TopArgs) -> Result<Rendered<TopResult>, ToolError> {
    let cluster = k.read(&ctx, args.context.as_deref()).await?;
    let res = metrics_resource(&k, &cluster, "pods").await?;
    let namespaces: Vec<Option<String>> = match (args.all_namespaces, namespace_scope(&k.settings, &ctx)) {
        (true, Some(allowed)) => allowed.into_iter().map(Some).collect(),
        (true, None) => vec![None],
        (false, _) => vec![Some(pod_namespace(&k, &ctx, &cluster, args.namespace.as_deref())?)],
    };
    let mut items = vec![];
    for ns in &namespaces {
        let api = dyn_api(&cluster, &res, ns.as_deref());
        let mut lp = ListParams::default();
        if let Some(l) = args.label_selector.as_deref().filter(|l| !l.is_empty()) {
            lp = lp.labels(l);
        }
        if let Some(n) = &args.name {
            check_name(n)?;
            lp = lp.fields(&format!("metadata.name={n}"));
        }
        let list = api.list(&lp).await.map_err(|e| {
            api_error(e, &Op::new("list", "pods.metrics.k8s.io").namespace(ns.as_deref()).context(&cluster.name))
        })?;
        for m in list.items {
            let v = serde_json::to_value(&m).unwrap_or(Value::Null);
            let containers = v["containers"].as_array().cloned().unwrap_or_default();
            let cpu: f64 = containers
                .iter()
                .map(|c| cpu_millis(c.pointer("/usage/cpu").and_then(Value::as_str).unwrap_or("0")))
                .sum();
            let mem: f64 = containers
                .iter()
                .map(|c| mem_mib(c.pointer("/usage/memory").and_then(Value::as_str).unwrap_or("0")))
                .sum();
            items.push(json!({
                "namespace": v.pointer("/metadata/namespace"), "name": v.pointer("/metadata/name"),
                "cpuMillis": cpu.round(), "memoryMiB": (mem * 10.0).round() / 10.0,
            }));
        }
    }
    let truncated = sort_and_cut(&mut items, args.sort_by.as_deref(), k.settings.max_rows);
    let rows: Vec<Vec<String>> = items
        .iter()
        .map(|i| {
            vec![
                i["namespace"].as_str().unwrap_or("").into(),
                i["name"].as_str().unwrap_or("").into(),
                format!("{}m", i["cpuMillis"]),
                format!("{}Mi", i["memoryMiB"]),
            ]
        })
        .collect();
    let mut text = table(&["NAMESPACE", "NAME", "CPU", "MEMORY"], &rows);
    if truncated {
        text += &cut_line(format_args!("the top {}", k.settings.max_rows), "narrow with namespace or label_selector");
    }
    Ok(Rendered { text, data: TopResult { context: cluster.name.clone(), items, truncated } })
}

async fn nodes_top(k: Arc<Clusters>, ctx: Context, args: TopArgs) -> Result<Rendered<TopResult>, ToolError> {
    let cluster = k.read(&ctx, args.context.as_deref()).await?;
    let res = metrics_resource(&k, &cluster, "nodes").await?;
    let api = dyn_api(&cluster, &res, None);
    let mut lp = ListParams::default();
    if let Some(l) = args.label_selector.as_deref().filter(|l| !l.is_empty()) {
        lp = lp.labels(l);
    }
    let list = api
        .list(&lp)
        .await
        .map_err(|e| api_error(e, &Op::new("list", "nodes.metrics.k8s.io").context(&cluster.name)))?;
    let nodes: Api<k8s_openapi::api::core::v1::Node> = Api::all(cluster.client.clone());
    let allocatable: std::collections::HashMap<String, (f64, f64)> = nodes
        .list(&ListParams::default())
        .await
        .map(|l| {
            l.items
                .into_iter()
                .filter_map(|n| {
                    let a = n.status.as_ref()?.allocatable.as_ref()?;
                    Some((n.metadata.name.clone()?, (cpu_millis(&a.get("cpu")?.0), mem_mib(&a.get("memory")?.0))))
                })
                .collect()
        })
        .unwrap_or_default();
    let mut items = vec![];
    for m in list.items {
        let v = serde_json::to_value(&m).unwrap_or(Value::Null);
        let name = v.pointer("/metadata/name").and_then(Value::as_str).unwrap_or("").to_string();
        if args.name.as_deref().is_some_and(|n| n != name) {
            continue;
        }
        let cpu = cpu_millis(v.pointer("/usage/cpu").and_then(Value::as_str).unwrap_or("0"));
        let mem = mem_mib(v.pointer("/usage/memory").and_then(Value::as_str).unwrap_or("0"));
        let (acpu, amem) = allocatable.get(&name).copied().unwrap_or((0.0, 0.0));
        let pct = |u: f64, a: f64| if a > 0.0 { json!((u / a * 100.0).round()) } else { Value::Null };
        items.push(json!({"name": name, "cpuMillis": cpu.round(), "cpuPercent": pct(cpu, acpu), "memoryMiB": mem.round(), "memoryPercent": pct(mem, amem)}));
    }
    let truncated = sort_and_cut(&mut items, args.sort_by.as_deref(), k.settings.max_rows);
    let rows: Vec<Vec<String>> = items
        .iter()
        .map(|i| {
            vec![
                i["name"].as_str().unwrap_or("").into(),
                format!("{}m", i["cpuMillis"]),
                i["cpuPercent"].as_f64().map(|p| format!("{p}%")).unwrap_or_else(|| "?".into()),
                format!("{}Mi", i["memoryMiB"]),
                i["memoryPercent"].as_f64().map(|p| format!("{p}%")).unwrap_or_else(|| "?".into()),
            ]
        })
        .collect();
    let text = table(&["NAME", "CPU", "CPU%", "MEMORY", "MEMORY%"], &rows);
    Ok(Rendered { text, data: TopResult { context: cluster.name.clone(), items, truncated } })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantities() {
        assert_eq!(cpu_millis("250m"), 250.0);
        assert_eq!(cpu_millis("2"), 2000.0);
        assert_eq!(cpu_millis("5000000n"), 5.0);
        assert_eq!(mem_mib("128Mi"), 128.0);
        assert_eq!(mem_mib("1Gi"), 1024.0);
    }
}
