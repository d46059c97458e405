//! Node operations: `nodes_cordon` / `nodes_uncordon` (spec.unschedulable),
//! `nodes_drain` (cordon, then every pod evicted through the Eviction API, so
//! PodDisruptionBudgets are respected; DaemonSet and mirror pods skipped as kubectl
//! does), and the kubelet's own views through the API server's node proxy: `nodes_log`
//! (its /logs/ files or the node log query) and `nodes_stats_summary` (/stats/summary).

use std::sync::Arc;
use std::time::Duration;

use futures::AsyncReadExt;
use kube::api::ListParams;
use mcp_core::server::ServerBuilder;
use mcp_core::{Context, ToolError, tool_with};
use serde_json::{Value, json};

use super::api::{check_kind, check_name, raw_api, tool_args};
use crate::clusters::{Access, Clusters, Connection, namespace_scope};
use crate::config::Toolset;
use crate::errors::{Op, api_error};
use crate::output::{Rendered, clip, cut_line, table};

pub fn register(builder: ServerBuilder, k: &Arc<Clusters>) -> ServerBuilder {
    builder.tools_in(
        Toolset::Cluster.name(),
        [
            tool_with("nodes_cordon", k, nodes_cordon)
                .title("Cordon a node")
                .description("Marks a node unschedulable: running pods stay, new ones go elsewhere (kubectl cordon).")
                .additive()
                .idempotent(),
            tool_with("nodes_uncordon", k, nodes_uncordon)
                .title("Uncordon a node")
                .description("Marks a node schedulable again (kubectl uncordon).")
                .additive()
                .idempotent(),
            tool_with("nodes_drain", k, nodes_drain)
                .title("Drain a node")
                .description(
                    "Cordons a node, then evicts its pods through the Eviction API, so PodDisruptionBudgets are \
                     respected (a blocked eviction is retried until `timeout_seconds`, then named with its budget). \
                     DaemonSet pods and mirror pods are skipped as kubectl does; pods without a controller need \
                     `force`, pods with emptyDir data `delete_emptydir_data`. Nothing is evicted when a pod would \
                     block the drain. `dry_run` first.",
                )
                .destructive(),
            tool_with("nodes_log", k, nodes_log)
                .title("Node logs")
                .description(
                    "A node's own logs through the API server's node proxy: `path` a file under the kubelet's \
                     /var/log (`kubelet.log`, `syslog`; empty lists them), or `query` a service (`kubelet`) for the \
                     node log query. The last lines, bounded; `grep` filters.",
                )
                .read_only(),
            tool_with("nodes_stats_summary", k, nodes_stats_summary)
                .title("Node stats summary")
                .description(
                    "The kubelet's resource summary of a node (CPU, memory, filesystems, network, runtime images) \
                     and its heaviest pods by memory, through the node proxy's /stats/summary. Works without \
                     metrics-server.",
                )
                .read_only(),
        ],
    )
}

tool_args! {
pub struct CordonArgs {
    /// The node.
    pub name: String,
    /// Validate on the server without changing.
    #[serde(default)]
    pub dry_run: bool,
}
}

tool_args! {
pub struct DrainArgs {
    /// The node.
    pub name: String,
    /// Skip DaemonSet pods (default true, as they would come back at once); false refuses
    /// the drain when the node runs any.
    pub ignore_daemonsets: Option<bool>,
    /// Also evict pods using emptyDir volumes (their data is lost).
    #[serde(default)]
    pub delete_emptydir_data: bool,
    /// Also evict pods no controller manages (they are not recreated).
    #[serde(default)]
    pub force: bool,
    /// Grace period for each pod, in seconds (default: each pod's own).
    pub grace_period_seconds: Option<i64>,
    /// How long to keep retrying evictions a PodDisruptionBudget blocks and to wait for
    /// the pods to go (default 60, at most 600).
    pub timeout_seconds: Option<u64>,
    /// Cordon and evict as a server dry run: nothing changes.
    #[serde(default)]
    pub dry_run: bool,
}
}

/// Node writes: the kind allowed and, since nodes are cluster-scoped, no namespace
/// allowlist in force (a drain reaches pods of every namespace).
async fn node_for_write(
    k: &Clusters,
    ctx: &Context,
    context: Option<&str>,
    name: &str,
) -> Result<Arc<Connection>, ToolError> {
    check_name(name)?;
    let (cluster, _) = super::api::target(k, ctx, context, Access::Write, "nodes", Some("v1"), "patch").await?;
    if namespace_scope(&k.settings, ctx).is_some() {
        return Err(ToolError::refused(
            "nodes are cluster-scoped, and this server may change objects only inside its allowed namespaces",
        ));
    }
    Ok(cluster)
}

/// Sets spec.unschedulable; whether it changed.
async fn set_unschedulable(cluster: &Connection, name: &str, value: bool, dry_run: bool) -> Result<bool, ToolError> {
    let api: kube::Api<k8s_openapi::api::core::v1::Node> = kube::Api::all(cluster.client.clone());
    let op = Op::new("patch", "nodes").name(name).context(&cluster.name);
    let node =
        api.get(name).await.map_err(|e| api_error(e, &Op::new("get", "nodes").name(name).context(&cluster.name)))?;
    let was = node.spec.and_then(|s| s.unschedulable).unwrap_or(false);
    if was == value {
        return Ok(false);
    }
    let pp = kube::api::PatchParams { dry_run, ..Default::default() };
    let patch = kube::api::Patch::Merge(json!({"spec": {"unschedulable": value}}));
    api.patch(name, &pp, &patch).await.map_err(|e| api_error(e, &op))?;
    Ok(true)
}

async fn cordon(k: Arc<Clusters>, ctx: Context, args: CordonArgs, value: bool) -> Result<Rendered<Value>, ToolError> {
    let cluster = node_for_write(&k, &ctx, args.context.as_deref(), &args.name).await?;
    let changed = set_unschedulable(&cluster, &args.name, value, args.dry_run).await?;
    let what = if value { "cordoned" } else { "uncordoned" };
    let text = format!(
        "node/{} {}{}\n",
        args.name,
        if changed { what.to_string() } else { format!("already {what}") },
        if args.dry_run { " (server dry run)" } else { "" }
    );
    Ok(Rendered {
        text,
        data: json!({"context": cluster.name, "node": args.name, "unschedulable": value, "changed": changed, "dryRun": args.dry_run}),
    })
}

async fn nodes_cordon(k: Arc<Clusters>, ctx: Context, args: CordonArgs) -> Result<Rendered<Value>, ToolError> {
    cordon(k, ctx, args, true).await
}

async fn nodes_uncordon(k: Arc<Clusters>, ctx: Context, args: CordonArgs) -> Result<Rendered<Value>, ToolError> {
    cordon(k, ctx, args, false).await
}

/// What a drain does with one pod.
#[derive(Debug, PartialEq, Eq)]
enum Plan {
    Evict,
    Skip(&'static str),
    Block(String),
}

/// kubectl's rules for one pod on a node being drained.
fn plan(pod: &Value, args: &DrainArgs) -> Plan {
    let done = matches!(pod.pointer("/status/phase").and_then(Value::as_str), Some("Succeeded" | "Failed"));
    if pod.pointer("/metadata/annotations/kubernetes.io~1config.mirror").is_some() {
        return Plan::Skip("mirror pod (static, managed by the kubelet)");
    }
    let controller = pod
        .pointer("/metadata/ownerReferences")
        .and_then(Value::as_array)
        .and_then(|os| os.iter().find(|o| o["controller"] == true));
    if controller.is_some_and(|c| c["kind"] == "DaemonSet") {
        return if args.ignore_daemonsets.unwrap_or(true) {
            Plan::Skip("DaemonSet pod")
        } else {
            Plan::Block("managed by a DaemonSet (set ignore_daemonsets)".into())
        };
    }
    if controller.is_none() && !done && !args.force {
        return Plan::Block("no controller manages it, so it would not come back (set force)".into());
    }
    let empty_dir = pod
        .pointer("/spec/volumes")
        .and_then(Value::as_array)
        .is_some_and(|vs| vs.iter().any(|v| v.get("emptyDir").is_some()));
    if empty_dir && !done && !args.delete_emptydir_data {
        return Plan::Block("uses emptyDir data that would be lost (set delete_emptydir_data)".into());
    }
    Plan::Evict
}

fn pod_key(pod: &Value) -> (String, String) {
    let s = |p: &str| pod.pointer(p).and_then(Value::as_str).unwrap_or("").to_string();
    (s("/metadata/namespace"), s("/metadata/name"))
}

/// The PodDisruptionBudgets of `ns` whose selector matches the pod's labels (as the
/// API server reads them: matchLabels and matchExpressions).
async fn budgets_of(cluster: &Connection, pod: &Value) -> Vec<String> {
    let (ns, _) = pod_key(pod);
    let api: kube::Api<k8s_openapi::api::policy::v1::PodDisruptionBudget> =
        kube::Api::namespaced(cluster.client.clone(), &ns);
    let Ok(list) = api.list(&ListParams::default()).await else {
        return vec![];
    };
    let labels: std::collections::BTreeMap<String, String> =
        pod.pointer("/metadata/labels").cloned().and_then(|l| serde_json::from_value(l).ok()).unwrap_or_default();
    list.items
        .into_iter()
        .filter(|b| b.spec.as_ref().and_then(|s| s.selector.as_ref()).is_some_and(|sel| selects(sel, &labels)))
        .filter_map(|b| b.metadata.name)
        .collect()
}

/// Whether a label selector selects `labels` (an empty selector selects everything).
fn selects(
    sel: &k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector,
    labels: &std::collections::BTreeMap<String, String>,
) -> bool {
    let by_label = sel.match_labels.iter().flatten().all(|(k, v)| labels.get(k) == Some(v));
    let by_expr = sel.match_expressions.iter().flatten().all(|e| {
        let values = e.values.clone().unwrap_or_default();
        match e.operator.as_str() {
            "In" => labels.get(&e.key).is_some_and(|v| values.contains(v)),
            "NotIn" => labels.get(&e.key).is_none_or(|v| !values.contains(v)),
            "Exists" => labels.contains_key(&e.key),
            "DoesNotExist" => !labels.contains_key(&e.key),
            _ => false,
        }
    });
    by_label && by_expr
}

/// One eviction through policy/v1; `Ok(false)` when a disruption budget refused it (429).
async fn evict(cluster: &Connection, ns: &str, name: &str, args: &DrainArgs) -> Result<bool, ToolError> {
    let mut delete_options = json!({});
    if let Some(g) = args.grace_period_seconds {
        delete_options["gracePeriodSeconds"] = json!(g);
    }
    if args.dry_run {
        delete_options["dryRun"] = json!(["All"]);
    }
    let body = json!({"apiVersion": "policy/v1", "kind": "Eviction", "metadata": {"name": name, "namespace": ns},
        "deleteOptions": delete_options});
    let url = format!("/api/v1/namespaces/{ns}/pods/{name}/eviction");
    let request = http::Request::post(url)
        .header(http::header::CONTENT_TYPE, "application/json")
        .body(serde_json::to_vec(&body).unwrap_or_default())
        .map_err(|e| ToolError::failed(format!("cannot build the eviction of pod `{name}`: {e}")))?;
    match cluster.client.request::<Value>(request).await {
        Ok(_) => Ok(true),
        Err(kube::Error::Api(s)) if s.code == 429 => Ok(false),
        // Gone already: nothing left to evict.
        Err(kube::Error::Api(s)) if s.code == 404 => Ok(true),
        Err(e) => {
            Err(api_error(e, &Op::new("create", "pods/eviction").name(name).namespace(Some(ns)).context(&cluster.name)))
        }
    }
}

async fn pods_on(k: &Clusters, cluster: &Connection, node: &str) -> Result<Vec<Value>, ToolError> {
    let pods = cluster.discovery.resolve(&cluster.client, &cluster.name, "pods", Some("v1")).await?;
    check_kind(k, &pods)?;
    let lp = ListParams::default().fields(&format!("spec.nodeName={node}")).limit(5000);
    let list = raw_api(cluster, &pods, None)
        .list::<Value>(&lp)
        .await
        .map_err(|e| api_error(e, &Op::new("list", "pods").context(&cluster.name)))?;
    Ok(list.items)
}

async fn nodes_drain(k: Arc<Clusters>, ctx: Context, args: DrainArgs) -> Result<Rendered<Value>, ToolError> {
    let cluster = node_for_write(&k, &ctx, args.context.as_deref(), &args.name).await?;
    let timeout = Duration::from_secs(args.timeout_seconds.unwrap_or(60).clamp(1, 600));
    if args.grace_period_seconds.is_some_and(|g| g < 0) {
        return Err(ToolError::invalid_arguments("`grace_period_seconds` must be 0 or more"));
    }
    // The node must exist before anything is planned (a missing node is not "no pods").
    let api: kube::Api<k8s_openapi::api::core::v1::Node> = kube::Api::all(cluster.client.clone());
    api.get(&args.name)
        .await
        .map_err(|e| api_error(e, &Op::new("get", "nodes").name(&args.name).context(&cluster.name)))?;
    let pods = pods_on(&k, &cluster, &args.name).await?;
    let mut evict_list = vec![];
    let mut skipped = vec![];
    let mut blocking = vec![];
    for pod in &pods {
        let (ns, name) = pod_key(pod);
        match plan(pod, &args) {
            Plan::Evict => evict_list.push((ns, name)),
            Plan::Skip(why) => skipped.push(json!({"namespace": ns, "pod": name, "reason": why})),
            Plan::Block(why) => blocking.push(format!("{ns}/{name}: {why}")),
        }
    }
    if !blocking.is_empty() {
        let shown: Vec<String> = blocking.iter().take(20).cloned().collect();
        return Err(ToolError::refused(format!(
            "node `{}` was not drained (nothing changed): {} pod(s) would block it:\n{}{}",
            args.name,
            blocking.len(),
            shown.join("\n"),
            if blocking.len() > shown.len() {
                format!("\n... and {} more", blocking.len() - shown.len())
            } else {
                String::new()
            }
        )));
    }
    let cordoned = set_unschedulable(&cluster, &args.name, true, args.dry_run).await?;
    let deadline = tokio::time::Instant::now() + timeout;
    let mut pending = evict_list.clone();
    let mut evicted = vec![];
    loop {
        let mut blocked = vec![];
        for (ns, name) in pending {
            if evict(&cluster, &ns, &name, &args).await? {
                evicted.push(json!({"namespace": ns, "pod": name}));
            } else {
                blocked.push((ns, name));
            }
        }
        if blocked.is_empty() {
            break;
        }
        if tokio::time::Instant::now() >= deadline {
            let (ns, name) = &blocked[0];
            let pod = pods.iter().find(|p| pod_key(p) == (ns.clone(), name.clone())).cloned().unwrap_or(Value::Null);
            let budgets = budgets_of(&cluster, &pod).await;
            let budget = if budgets.is_empty() {
                "a PodDisruptionBudget".to_string()
            } else {
                format!("PodDisruptionBudget `{}`", budgets.join("`, `"))
            };
            return Err(ToolError::timed_out(format!(
                "node `{}` is cordoned but not drained: evicting pod `{name}` in namespace `{ns}` would violate \
                 {budget} (HTTP 429), still after {}s; {} of {} pods evicted, {} blocked. Scale the workload up, \
                 wait, or relax the budget, then drain again (nodes_uncordon undoes the cordon)",
                args.name,
                timeout.as_secs(),
                evicted.len(),
                evict_list.len(),
                blocked.len()
            )));
        }
        tokio::time::sleep(Duration::from_secs(2).min(timeout)).await;
        pending = blocked;
    }
    // Evicted pods terminate in their own time: wait for them, within the same bound.
    let mut remaining: Vec<String> = vec![];
    if !args.dry_run {
        loop {
            let left = pods_on(&k, &cluster, &args.name).await?;
            remaining = left
                .iter()
                .map(pod_key)
                .filter(|key| evict_list.contains(key))
                .map(|(ns, name)| format!("{ns}/{name}"))
                .collect();
            if remaining.is_empty() || tokio::time::Instant::now() >= deadline {
                break;
            }
            tokio::time::sleep(Duration::from_secs(2)).await;
        }
    }
    let dry = if args.dry_run { " (server dry run)" } else { "" };
    let mut text = format!(
        "node/{} {}{dry}; {} pod(s) evicted, {} skipped\n",
        args.name,
        if cordoned { "cordoned" } else { "already cordoned" },
        evicted.len(),
        skipped.len()
    );
    for e in evicted.iter().take(k.settings.max_rows) {
        text += &format!("  evicted {}/{}\n", e["namespace"].as_str().unwrap_or(""), e["pod"].as_str().unwrap_or(""));
    }
    for s in skipped.iter().take(k.settings.max_rows) {
        text += &format!(
            "  skipped {}/{}: {}\n",
            s["namespace"].as_str().unwrap_or(""),
            s["pod"].as_str().unwrap_or(""),
            s["reason"].as_str().unwrap_or("")
        );
    }
    if !remaining.is_empty() {
        text += &format!("  still terminating after {}s: {}\n", timeout.as_secs(), clip(&remaining.join(", "), 500));
    }
    evicted.truncate(k.settings.max_rows);
    skipped.truncate(k.settings.max_rows);
    remaining.truncate(k.settings.max_rows);
    Ok(Rendered {
        text,
        data: json!({"context": cluster.name, "node": args.name, "cordoned": true, "evicted": evicted, "skipped": skipped,
            "stillTerminating": remaining, "dryRun": args.dry_run}),
    })
}

tool_args! {
pub struct NodeLogArgs {
    /// The node.
    pub name: String,
    /// A file under the node's /var/log (`kubelet.log`, `syslog`, `pods/...`); empty:
    /// the list of files.
    pub path: Option<String>,
    /// Instead of `path`: a service for the node log query (`kubelet`; needs the
    /// NodeLogQuery feature).
    pub query: Option<String>,
    /// Last lines to return (default 200, at most the server's --max-log-lines).
    pub tail: Option<usize>,
    /// Only lines matching this regular expression.
    pub grep: Option<String>,
}
}

/// A relative path under /var/log: plain segments only.
fn check_log_path(path: &str) -> Result<(), ToolError> {
    let ok = path.len() <= 512
        && !path.starts_with('/')
        && path.split('/').all(|s| {
            !s.is_empty()
                && s != "."
                && s != ".."
                && s.bytes().all(|b| b.is_ascii_alphanumeric() || b"-_.:@".contains(&b))
        });
    if ok {
        Ok(())
    } else {
        Err(ToolError::invalid_arguments(format!(
            "`path`: `{}` is not a relative path under /var/log (plain names separated by `/`, no `..`)",
            clip(path, 80)
        )))
    }
}

/// Reads at most `max` bytes of a node proxy response (the rest is not read).
async fn proxy_get(
    cluster: &Connection,
    node: &str,
    path: &str,
    range: Option<usize>,
    max: usize,
) -> Result<(Vec<u8>, bool), ToolError> {
    let mut request = http::Request::get(format!("/api/v1/nodes/{node}/proxy/{path}"));
    if let Some(n) = range {
        // The kubelet serves files with Range support: only the end is sent.
        request = request.header(http::header::RANGE, format!("bytes=-{n}"));
    }
    let request = request.body(vec![]).map_err(|e| ToolError::failed(format!("cannot build the request: {e}")))?;
    let op = Op::new("get", "nodes/proxy").name(node).context(&cluster.name);
    let stream = cluster.client.request_stream(request).await.map_err(|e| api_error(e, &op))?;
    let mut out = Vec::new();
    let mut limited = stream.take(max as u64 + 1);
    limited.read_to_end(&mut out).await.map_err(|e| {
        ToolError::unavailable(format!("reading nodes/proxy of `{node}` (context `{}`): {e}", cluster.name))
    })?;
    let more = out.len() > max;
    out.truncate(max);
    Ok((out, more))
}

async fn nodes_log(k: Arc<Clusters>, ctx: Context, args: NodeLogArgs) -> Result<Rendered<Value>, ToolError> {
    check_name(&args.name)?;
    let (cluster, res) =
        super::api::target(&k, &ctx, args.context.as_deref(), Access::Read, "nodes", Some("v1"), "get").await?;
    check_kind(&k, &res)?;
    // A node's logs hold every namespace's (/var/log/pods, containers, the kubelet's own
    // lines about them): not for a server confined to some namespaces.
    if namespace_scope(&k.settings, &ctx).is_some() {
        return Err(ToolError::refused(
            "node logs span every namespace, and this server may read only inside its allowed namespaces",
        ));
    }
    let max_lines = k.settings.max_log_lines;
    let tail = args.tail.unwrap_or(200).clamp(1, max_lines);
    let grep = super::pods::grep_regex(args.grep.as_deref())?;
    let path = args.path.clone().unwrap_or_default();
    let read_max = k.settings.max_result_bytes * 16;
    let (url, range) = match args.query.as_deref().filter(|q| !q.is_empty()) {
        Some(q) => {
            if !path.is_empty() {
                return Err(ToolError::invalid_arguments("give `path` or `query`, not both"));
            }
            if !q.bytes().all(|b| b.is_ascii_alphanumeric() || b"-_.@".contains(&b)) || q.len() > 128 {
                return Err(ToolError::invalid_arguments(format!(
                    "`query`: `{}` is not a service name (letters, digits, `-_.@`)",
                    clip(q, 60)
                )));
            }
            (format!("logs/?query={q}&tailLines={}", if grep.is_some() { tail * 10 } else { tail }), None)
        }
        None if path.is_empty() => ("logs/".to_string(), None),
        None => {
            check_log_path(&path)?;
            (format!("logs/{path}"), Some(read_max))
        }
    };
    let (bytes, more) = proxy_get(&cluster, &args.name, &url, range, read_max).await?;
    let body = String::from_utf8_lossy(&bytes);
    if args.query.is_none() && path.is_empty() {
        // The kubelet's directory listing is HTML: keep the names.
        let names: Vec<String> = body
            .split("href=\"")
            .skip(1)
            .filter_map(|s| s.split('"').next())
            .map(str::to_string)
            .take(k.settings.max_rows)
            .collect();
        let text = format!("Logs on node {} (pass one as `path`):\n{}\n", args.name, names.join("\n"));
        return Ok(Rendered { text, data: json!({"context": cluster.name, "node": args.name, "files": names}) });
    }
    let mut lines: Vec<&str> = body.lines().collect();
    // A node that honours the suffix range sends at most `read_max` bytes, the first line
    // possibly cut in the middle. More means it ignored the range and these are the
    // file's first bytes: the last line is the cut one, and the newest lines are not here.
    let range_ignored = range.is_some() && more;
    if range_ignored {
        lines.pop();
    } else if more || range.is_some() && bytes.len() >= read_max {
        lines.remove(0);
    }
    let read = lines.len();
    if let Some(re) = &grep {
        lines.retain(|l| re.is_match(l));
    }
    let matched = lines.len();
    let kept = super::pods::last_lines(&lines, tail, k.settings.max_result_bytes);
    let truncated = kept.len() < matched || more;
    let mut text = kept.join("\n");
    if !text.is_empty() {
        text.push('\n');
    }
    if truncated {
        text += &cut_line(
            format_args!("the last {} of {matched} lines{}", kept.len(), if grep.is_some() { " matching" } else { "" }),
            "narrow with grep, or a smaller tail",
        );
    }
    if range_ignored {
        text += &format!(
            "[The node ignored the range request: these lines are from the file's first {} KiB, not its end.]\n",
            read_max >> 10
        );
    }
    if read == 0 {
        text = "(no log lines)\n".into();
    }
    Ok(Rendered {
        text,
        data: json!({"context": cluster.name, "node": args.name, "lines": kept, "read": read, "truncated": truncated}),
    })
}

tool_args! {
pub struct StatsArgs {
    /// The node.
    pub name: String,
    /// How many of the heaviest pods to show (default 10, at most the server's --max-rows).
    pub top_pods: Option<usize>,
}
}

fn mib(v: &Value) -> String {
    v.as_f64().map_or("-".into(), |b| format!("{:.0}Mi", b / 1_048_576.0))
}

fn millicores(v: &Value) -> String {
    v.as_f64().map_or("-".into(), |n| format!("{:.0}m", n / 1_000_000.0))
}

async fn nodes_stats_summary(k: Arc<Clusters>, ctx: Context, args: StatsArgs) -> Result<Rendered<Value>, ToolError> {
    check_name(&args.name)?;
    let (cluster, _) =
        super::api::target(&k, &ctx, args.context.as_deref(), Access::Read, "nodes", Some("v1"), "get").await?;
    // A summary of a large node runs to megabytes; more than this is not a summary.
    let max = 32 << 20;
    let (bytes, more) = proxy_get(&cluster, &args.name, "stats/summary", None, max).await?;
    if more {
        return Err(ToolError::failed(format!("the stats summary of `{}` is over {} MiB", args.name, max >> 20)));
    }
    let summary: Value = serde_json::from_slice(&bytes)
        .map_err(|e| ToolError::failed(format!("the stats summary of `{}` is not JSON: {e}", args.name)))?;
    let node = &summary["node"];
    let scope = namespace_scope(&k.settings, &ctx);
    let mut pods: Vec<&Value> = summary["pods"].as_array().map(|p| p.iter().collect()).unwrap_or_default();
    // Pods of namespaces outside the scope are not shown.
    pods.retain(|p| {
        let ns = p.pointer("/podRef/namespace").and_then(Value::as_str).unwrap_or("");
        crate::clusters::check_namespace(&scope, ns).is_ok()
    });
    pods.sort_by(|a, b| {
        let m = |p: &Value| p.pointer("/memory/workingSetBytes").and_then(Value::as_f64).unwrap_or(0.0);
        m(b).total_cmp(&m(a))
    });
    let top = args.top_pods.unwrap_or(10).clamp(1, k.settings.max_rows);
    let total_pods = pods.len();
    let mut text = format!(
        "Node {} (context {}): CPU {}, memory working set {} (available {}), root fs used {} of {}, image fs used {} of {}\n",
        args.name,
        cluster.name,
        millicores(&node["cpu"]["usageNanoCores"]),
        mib(&node["memory"]["workingSetBytes"]),
        mib(&node["memory"]["availableBytes"]),
        mib(&node["fs"]["usedBytes"]),
        mib(&node["fs"]["capacityBytes"]),
        mib(&node.pointer("/runtime/imageFs/usedBytes").cloned().unwrap_or(Value::Null)),
        mib(&node.pointer("/runtime/imageFs/capacityBytes").cloned().unwrap_or(Value::Null)),
    );
    let rows: Vec<Vec<String>> = pods
        .iter()
        .take(top)
        .map(|p| {
            vec![
                p.pointer("/podRef/namespace").and_then(Value::as_str).unwrap_or("").to_string(),
                p.pointer("/podRef/name").and_then(Value::as_str).unwrap_or("").to_string(),
                millicores(&p["cpu"]["usageNanoCores"]),
                mib(&p["memory"]["workingSetBytes"]),
            ]
        })
        .collect();
    text += &table(&["NAMESPACE", "POD", "CPU", "MEMORY"], &rows);
    if total_pods > rows.len() {
        text += &cut_line(format_args!("the heaviest {} of {total_pods} pods", rows.len()), "raise top_pods");
    }
    let top_pods: Vec<Value> = pods
        .iter()
        .take(top)
        .map(|p| {
            json!({"namespace": p.pointer("/podRef/namespace"), "name": p.pointer("/podRef/name"),
                "cpuNanoCores": p.pointer("/cpu/usageNanoCores"), "memoryWorkingSetBytes": p.pointer("/memory/workingSetBytes")})
        })
        .collect();
    let data = json!({"context": cluster.name, "node": args.name,
        "cpu": node["cpu"], "memory": node["memory"], "fs": node["fs"], "runtime": node["runtime"], "network": {
            "rxBytes": node.pointer("/network/rxBytes"), "txBytes": node.pointer("/network/txBytes")},
        "pods": total_pods, "topPods": top_pods});
    Ok(Rendered { text, data })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn drain(force: bool) -> DrainArgs {
        DrainArgs {
            context: None,
            name: "n".into(),
            ignore_daemonsets: None,
            delete_emptydir_data: false,
            force,
            grace_period_seconds: None,
            timeout_seconds: None,
            dry_run: false,
        }
    }

    #[test]
    fn drain_plans_follow_kubectl() {
        let owned = |kind: &str| json!({"metadata": {"ownerReferences": [{"kind": kind, "controller": true}]}});
        assert_eq!(plan(&owned("ReplicaSet"), &drain(false)), Plan::Evict);
        assert_eq!(plan(&owned("DaemonSet"), &drain(false)), Plan::Skip("DaemonSet pod"));
        let mirror = json!({"metadata": {"annotations": {"kubernetes.io/config.mirror": "x"}}});
        assert!(matches!(plan(&mirror, &drain(false)), Plan::Skip(_)));
        assert!(matches!(plan(&json!({"metadata": {}}), &drain(false)), Plan::Block(_)));
        assert_eq!(plan(&json!({"metadata": {}}), &drain(true)), Plan::Evict);
        let mut scratch = owned("ReplicaSet");
        scratch["spec"] = json!({"volumes": [{"name": "tmp", "emptyDir": {}}]});
        assert!(matches!(plan(&scratch, &drain(false)), Plan::Block(why) if why.contains("delete_emptydir_data")));
    }

    #[test]
    fn budget_selectors_match_labels_and_expressions() {
        let labels: std::collections::BTreeMap<String, String> =
            [("app".to_string(), "web".to_string()), ("tier".to_string(), "front".to_string())].into();
        let sel = |v: Value| serde_json::from_value(v).expect("selector");
        assert!(selects(&sel(json!({"matchLabels": {"app": "web"}})), &labels));
        assert!(!selects(&sel(json!({"matchLabels": {"app": "db"}})), &labels));
        assert!(selects(&sel(json!({})), &labels), "an empty selector selects every pod");
        let expr = |op: &str, values: Value| {
            sel(json!({"matchExpressions": [{"key": "tier", "operator": op, "values": values}]}))
        };
        assert!(selects(&expr("In", json!(["front", "back"])), &labels));
        assert!(!selects(&expr("NotIn", json!(["front"])), &labels));
        assert!(selects(&expr("Exists", json!([])), &labels));
        assert!(!selects(&expr("DoesNotExist", json!([])), &labels));
        assert!(!selects(&expr("Bogus", json!([])), &labels), "an unknown operator selects nothing");
    }

    #[test]
    fn log_paths_stay_under_var_log() {
        assert!(check_log_path("kubelet.log").is_ok());
        assert!(check_log_path("pods/ns_pod_uid/main/0.log").is_ok());
        for bad in ["/etc/shadow", "../etc", "a/../../b", "a//b", "a b", ""] {
            assert!(check_log_path(bad).is_err(), "{bad}");
        }
    }
}
