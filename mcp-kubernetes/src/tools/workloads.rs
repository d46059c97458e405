//! Pods and workloads: `pods_log` (bounded, with grep), `pods_exec` (bounded output and
//! time), `pods_top` / `nodes_top` (metrics API), `pods_run`, `workload_scale`, and
//! rollouts (`rollout_status`, `rollout_restart`, `rollout_history`, `rollout_undo`) for
//! Deployments, StatefulSets and DaemonSets.

use std::sync::Arc;
use std::time::Duration;

use k8s_openapi::api::core::v1::Pod;
use kube::Api;
use kube::api::{AttachParams, ListParams, LogParams, Patch, PatchParams, PostParams};
use mcp_core::server::ServerBuilder;
use mcp_core::{Context, ToolError, tool_with};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use tokio::io::AsyncReadExt;

use super::apply::FIELD_MANAGER;
use super::{check_name, dyn_api, namespace_for, object_ref, target};
use crate::clusters::{Access, Clusters, Connection, namespace_scope};
use crate::config::Toolset;
use crate::discovery::Resource;
use crate::errors::{Op, api_error};
use crate::output::{Rendered, clip, cut_line, table};

pub fn register(builder: ServerBuilder, k: &Arc<Clusters>) -> ServerBuilder {
    builder
        .tool(
            tool_with("pods_log", k, pods_log)
                .toolset(Toolset::Workloads.name())
                .title("Read a pod's logs")
                .description(
                    "The last lines of a container's log (tail, default 200), optionally since a time window, of the \
                     previous (crashed) instance, and filtered by `grep` (a regular expression). Bounded: says when lines \
                     were left out.",
                )
                .read_only(),
        )
        .tool(
            tool_with("pods_exec", k, pods_exec)
                .toolset(Toolset::Workloads.name())
                .title("Run a command in a container")
                .description(
                    "Runs a command (argv list, no shell unless you call one) in a running container, without a \
                     terminal or input, and returns its exit code, stdout and stderr, bounded in size and time.",
                )
                .destructive(),
        )
        .tool(
            tool_with("pods_top", k, pods_top)
                .toolset(Toolset::Workloads.name())
                .title("Pod CPU and memory")
                .description("CPU (millicores) and memory (MiB) of pods from the metrics API (metrics-server), highest first.")
                .read_only(),
        )
        .tool(
            tool_with("nodes_top", k, nodes_top)
                .toolset(Toolset::Workloads.name())
                .title("Node CPU and memory")
                .description("CPU and memory use of nodes from the metrics API, with the share of what is allocatable.")
                .read_only(),
        )
        .tool(
            tool_with("pods_run", k, pods_run)
                .toolset(Toolset::Workloads.name())
                .title("Run a pod from an image")
                .description(
                    "Creates a single pod from an image (like kubectl run), with optional command, args, env, labels \
                     and port. dry_run=true validates it on the server without creating it.",
                )
                .additive(),
        )
        .tool(
            tool_with("workload_scale", k, workload_scale)
                .toolset(Toolset::Workloads.name())
                .title("Scale a workload")
                .description("Sets the replicas of a Deployment, StatefulSet, ReplicaSet or any kind with a scale subresource.")
                .idempotent(),
        )
        .tool(
            tool_with("rollout_status", k, rollout_status)
                .toolset(Toolset::Workloads.name())
                .title("Rollout status")
                .description(
                    "Whether a Deployment, StatefulSet or DaemonSet finished rolling out, as kubectl rollout status says \
                     it; wait_seconds waits (bounded) for it to finish.",
                )
                .read_only(),
        )
        .tool(
            tool_with("rollout_history", k, rollout_history)
                .toolset(Toolset::Workloads.name())
                .title("Rollout history")
                .description("The revisions of a Deployment (its ReplicaSets), StatefulSet or DaemonSet (ControllerRevisions), with images and change causes.")
                .read_only(),
        )
        .tool(
            tool_with("rollout_restart", k, rollout_restart)
                .toolset(Toolset::Workloads.name())
                .title("Restart a rollout")
                .description("Restarts every pod of a Deployment, StatefulSet or DaemonSet by a rolling update (kubectl rollout restart).")
                .idempotent(),
        )
        .tool(
            tool_with("rollout_undo", k, rollout_undo)
                .toolset(Toolset::Workloads.name())
                .title("Undo a rollout")
                .description(
                    "Rolls a Deployment, StatefulSet or DaemonSet back to a previous revision (default: the one before \
                     the current); rollout_history lists them.",
                )
                .destructive(),
        )
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct LogArgs {
    /// Kubeconfig context (default: the server's default context).
    #[serde(default)]
    pub context: Option<String>,
    /// The pod.
    pub name: String,
    #[serde(default)]
    pub namespace: Option<String>,
    /// The container (required when the pod has several).
    #[serde(default)]
    pub container: Option<String>,
    /// Last lines to read (default 200, at most the server's log-line limit); with `grep`,
    /// the lines searched.
    #[serde(default)]
    pub tail: Option<usize>,
    /// Only lines newer than this: `30s`, `10m`, `2h`, `1d`.
    #[serde(default)]
    pub since: Option<String>,
    /// The previous instance of the container (after a crash or restart).
    #[serde(default)]
    pub previous: bool,
    /// Only lines matching this regular expression (case-insensitive with `(?i)`).
    #[serde(default)]
    pub grep: Option<String>,
    /// Prefix each line with its timestamp.
    #[serde(default)]
    pub timestamps: bool,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct LogResult {
    pub context: String,
    pub pod: String,
    pub namespace: String,
    pub lines: Vec<String>,
    /// Lines read before filtering.
    pub read: usize,
    /// Lines left out (filter or bounds).
    pub omitted: usize,
    pub truncated: bool,
}

/// `30s`, `10m`, `2h`, `1d` as seconds.
pub fn parse_since(s: &str) -> Result<i64, ToolError> {
    let s = s.trim();
    let (num, unit) = s.split_at(s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len()));
    let n: i64 = num
        .parse()
        .map_err(|_| ToolError::invalid_arguments(format!("`since`: `{s}` is not like 30s, 10m, 2h or 1d")))?;
    let mult = match unit {
        "" | "s" => 1,
        "m" => 60,
        "h" => 3600,
        "d" => 86400,
        _ => return Err(ToolError::invalid_arguments(format!("`since`: unknown unit in `{s}` (use s, m, h or d)"))),
    };
    if n <= 0 {
        return Err(ToolError::invalid_arguments("`since` must be positive"));
    }
    Ok(n.saturating_mul(mult))
}

/// The namespace of a pod call, checked against the allowlist.
fn pod_namespace(
    k: &Clusters,
    ctx: &Context,
    cluster: &Connection,
    namespace: Option<&str>,
) -> Result<String, ToolError> {
    let ns = namespace.filter(|n| !n.is_empty()).unwrap_or(&cluster.default_namespace).to_string();
    super::check_ns_name(&ns)?;
    crate::clusters::check_namespace(&namespace_scope(&k.settings, ctx), &ns)?;
    Ok(ns)
}

async fn pods_log(k: Arc<Clusters>, ctx: Context, args: LogArgs) -> Result<Rendered<LogResult>, ToolError> {
    check_name(&args.name)?;
    let cluster = k.read(args.context.as_deref()).await?;
    let pods = cluster.discovery.resolve(&cluster.client, &cluster.name, "pods", Some("v1")).await?;
    super::check_kind(&k, &pods)?;
    let ns = pod_namespace(&k, &ctx, &cluster, args.namespace.as_deref())?;
    let max_lines = k.settings.max_log_lines;
    let grep = match args.grep.as_deref().filter(|g| !g.is_empty()) {
        Some(p) => Some(
            regex::RegexBuilder::new(p)
                .size_limit(1 << 20)
                .build()
                .map_err(|e| ToolError::invalid_arguments(format!("`grep` is not a valid regular expression: {e}")))?,
        ),
        None => None,
    };
    // With a filter, read more lines than are returned: the matches are what is bounded.
    let default_tail = if grep.is_some() { max_lines * 10 } else { 200 };
    let tail = args.tail.unwrap_or(default_tail).clamp(1, if grep.is_some() { max_lines * 10 } else { max_lines });
    let params = LogParams {
        container: args.container.clone().filter(|c| !c.is_empty()),
        previous: args.previous,
        since_seconds: args.since.as_deref().map(parse_since).transpose()?,
        tail_lines: Some(tail as i64),
        timestamps: args.timestamps,
        // The server stops sending past this, whatever the line count.
        limit_bytes: Some((k.settings.max_result_bytes * 16) as i64),
        ..Default::default()
    };
    let api: Api<Pod> = Api::namespaced(cluster.client.clone(), &ns);
    let op = Op::new("get", "pods/log").name(&args.name).namespace(Some(&ns)).context(&cluster.name);
    let text = api.logs(&args.name, &params).await.map_err(|e| api_error(e, &op))?;
    let all: Vec<&str> = text.lines().collect();
    let read = all.len();
    let matching: Vec<&str> = match &grep {
        Some(re) => all.into_iter().filter(|l| re.is_match(l)).collect(),
        None => all,
    };
    let matched = matching.len();
    // The newest lines matter most: keep the end, within lines and bytes.
    let mut kept: Vec<String> = vec![];
    let mut bytes = 0;
    for line in matching.iter().rev().take(max_lines) {
        let line = clip(line, 2000);
        if bytes + line.len() + 1 > k.settings.max_result_bytes && !kept.is_empty() {
            break;
        }
        bytes += line.len() + 1;
        kept.push(line);
    }
    kept.reverse();
    let omitted = read - kept.len();
    let truncated = kept.len() < matched;
    let mut out = kept.join("\n");
    if !out.is_empty() {
        out.push('\n');
    }
    if grep.is_some() {
        out += &format!("[{} of {read} lines read matched `{}`", matched, args.grep.as_deref().unwrap_or_default());
        out += &if truncated { format!("; the last {} shown]\n", kept.len()) } else { "]\n".to_string() };
    } else if truncated {
        let shown = format!("the last {} of {read} lines", kept.len());
        out += &cut_line(shown, "narrow with tail or since, or filter with grep");
    }
    if read == 0 {
        out = "(no log lines in this window)\n".into();
    }
    Ok(Rendered {
        text: out,
        data: LogResult {
            context: cluster.name.clone(),
            pod: args.name,
            namespace: ns,
            lines: kept,
            read,
            omitted,
            truncated,
        },
    })
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ExecArgs {
    /// Kubeconfig context (default: the server's default context).
    #[serde(default)]
    pub context: Option<String>,
    /// The pod.
    pub name: String,
    #[serde(default)]
    pub namespace: Option<String>,
    /// The container (default: the pod's first).
    #[serde(default)]
    pub container: Option<String>,
    /// The command and its arguments, e.g. ["cat", "/etc/os-release"] or ["sh", "-c", "ls | wc -l"].
    pub command: Vec<String>,
    /// Seconds before the command is abandoned (default and maximum: the server's exec
    /// timeout).
    #[serde(default)]
    pub timeout_secs: Option<u64>,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct ExecResult {
    pub context: String,
    pub pod: String,
    pub namespace: String,
    /// The exit code, when the command finished.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub exit_code: Option<i64>,
    pub stdout: String,
    pub stderr: String,
    pub timed_out: bool,
    /// Output bytes left out beyond the bound.
    pub omitted_bytes: usize,
}

/// Reads at most `max` bytes of `reader` and counts the rest.
async fn read_bounded(
    mut reader: impl tokio::io::AsyncRead + Unpin,
    max: usize,
    out: &mut Vec<u8>,
    dropped: &mut usize,
) {
    let mut buf = [0u8; 8192];
    loop {
        match reader.read(&mut buf).await {
            Ok(0) | Err(_) => return,
            Ok(n) => {
                let room = max.saturating_sub(out.len()).min(n);
                out.extend_from_slice(&buf[..room]);
                *dropped += n - room;
            }
        }
    }
}

async fn pods_exec(k: Arc<Clusters>, ctx: Context, args: ExecArgs) -> Result<Rendered<ExecResult>, ToolError> {
    check_name(&args.name)?;
    if args.command.is_empty() || args.command[0].is_empty() {
        return Err(ToolError::invalid_arguments("`command` is empty: give the program and its arguments"));
    }
    if args.command.len() > 256 || args.command.iter().map(String::len).sum::<usize>() > 64 * 1024 {
        return Err(ToolError::invalid_arguments("`command` is too long"));
    }
    let cluster = k.write(args.context.as_deref()).await?;
    let pods = cluster.discovery.resolve(&cluster.client, &cluster.name, "pods", Some("v1")).await?;
    super::check_kind(&k, &pods)?;
    let ns = pod_namespace(&k, &ctx, &cluster, args.namespace.as_deref())?;
    let limit = k.settings.exec_timeout;
    let timeout = args.timeout_secs.map(Duration::from_secs).unwrap_or(limit).min(limit).max(Duration::from_secs(1));
    let api: Api<Pod> = Api::namespaced(cluster.client.clone(), &ns);
    let mut params = AttachParams::default().stdin(false).stdout(true).stderr(true).tty(false);
    if let Some(c) = args.container.as_deref().filter(|c| !c.is_empty()) {
        params = params.container(c);
    }
    let op = Op::new("create", "pods/exec").name(&args.name).namespace(Some(&ns)).context(&cluster.name);
    let mut process = tokio::time::timeout(timeout, api.exec(&args.name, args.command.clone(), &params))
        .await
        .map_err(|_| {
            ToolError::timed_out(format!("exec into pod `{}` did not start within {}s", args.name, timeout.as_secs()))
        })?
        .map_err(|e| api_error(e, &op))?;
    let max = k.settings.max_result_bytes / 2;
    let (mut stdout, mut stderr) = (Vec::new(), Vec::new());
    let (mut dropped_out, mut dropped_err) = (0usize, 0usize);
    let out_reader = process.stdout();
    let err_reader = process.stderr();
    let status = process.take_status();
    let collect = async {
        let read_out = async {
            if let Some(r) = out_reader {
                read_bounded(r, max, &mut stdout, &mut dropped_out).await;
            }
        };
        let read_err = async {
            if let Some(r) = err_reader {
                read_bounded(r, max, &mut stderr, &mut dropped_err).await;
            }
        };
        tokio::join!(read_out, read_err);
        match status {
            Some(s) => s.await,
            None => None,
        }
    };
    let (status, timed_out) = match tokio::time::timeout(timeout, collect).await {
        Ok(s) => (s, false),
        Err(_) => (None, true),
    };
    process.abort();
    // The error channel's Status: Success, or Failure with an ExitCode cause.
    let success = |s: &k8s_openapi::apimachinery::pkg::apis::meta::v1::Status| s.status.as_deref() == Some("Success");
    let exit_code = status.as_ref().map(|s| {
        if success(s) {
            0
        } else {
            s.details
                .as_ref()
                .and_then(|d| d.causes.as_ref())
                .and_then(|c| c.iter().find(|c| c.reason.as_deref() == Some("ExitCode")))
                .and_then(|c| c.message.as_deref())
                .and_then(|m| m.parse::<i64>().ok())
                .unwrap_or(-1)
        }
    });
    let failure = status.as_ref().filter(|s| !success(s)).and_then(|s| s.message.clone());
    let result = ExecResult {
        context: cluster.name.clone(),
        pod: args.name.clone(),
        namespace: ns,
        exit_code: if timed_out { None } else { exit_code },
        stdout: String::from_utf8_lossy(&stdout).into_owned(),
        stderr: String::from_utf8_lossy(&stderr).into_owned(),
        timed_out,
        omitted_bytes: dropped_out + dropped_err,
    };
    let mut text = match (timed_out, result.exit_code) {
        (true, _) => format!("timed out after {}s (the command was abandoned); output so far:\n", timeout.as_secs()),
        (false, Some(code)) => format!("exit code {code}\n"),
        (false, None) => "finished (no exit status reported)\n".into(),
    };
    if let Some(m) = failure.filter(|m| !m.is_empty() && result.exit_code != Some(0)) {
        text += &format!("status: {}\n", clip(&m, 500));
    }
    text += &format!("--- stdout ---\n{}", result.stdout);
    if !result.stderr.is_empty() {
        text += &format!("\n--- stderr ---\n{}", result.stderr);
    }
    if result.omitted_bytes > 0 {
        let total = result.stdout.len() + result.stderr.len() + result.omitted_bytes;
        let shown = format!("{} of {total} bytes of output", total - result.omitted_bytes);
        text += &format!("\n{}", cut_line(shown, "narrow the command, e.g. pipe it through head or grep"));
    }
    Ok(Rendered { text, data: result })
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TopArgs {
    /// Kubeconfig context (default: the server's default context).
    #[serde(default)]
    pub context: Option<String>,
    /// Namespace for pods (default: the context's).
    #[serde(default)]
    pub namespace: Option<String>,
    /// Pods of every (allowed) namespace.
    #[serde(default)]
    pub all_namespaces: bool,
    /// One pod or node by name.
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub label_selector: Option<String>,
    /// Sort by `cpu` (default) or `memory`.
    #[serde(default)]
    pub sort_by: Option<String>,
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
    super::check_kind(k, &res)?;
    Ok(res)
}

fn sort_items(items: &mut [Value], by: Option<&str>) {
    let key = if by == Some("memory") { "memoryMiB" } else { "cpuMillis" };
    items.sort_by(|a, b| b[key].as_f64().unwrap_or(0.0).total_cmp(&a[key].as_f64().unwrap_or(0.0)));
}

async fn pods_top(k: Arc<Clusters>, ctx: Context, args: TopArgs) -> Result<Rendered<TopResult>, ToolError> {
    let cluster = k.read(args.context.as_deref()).await?;
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
    sort_items(&mut items, args.sort_by.as_deref());
    let truncated = items.len() > k.settings.max_rows;
    items.truncate(k.settings.max_rows);
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

async fn nodes_top(k: Arc<Clusters>, _ctx: Context, args: TopArgs) -> Result<Rendered<TopResult>, ToolError> {
    let cluster = k.read(args.context.as_deref()).await?;
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
    sort_items(&mut items, args.sort_by.as_deref());
    let truncated = items.len() > k.settings.max_rows;
    items.truncate(k.settings.max_rows);
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

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RunArgs {
    /// Kubeconfig context (default: the server's default context).
    #[serde(default)]
    pub context: Option<String>,
    /// The pod's name.
    pub name: String,
    /// The image, e.g. `busybox:1.36`.
    pub image: String,
    #[serde(default)]
    pub namespace: Option<String>,
    /// Replaces the image's entrypoint.
    #[serde(default)]
    pub command: Vec<String>,
    /// Arguments to the entrypoint.
    #[serde(default)]
    pub args: Vec<String>,
    /// Environment variables.
    #[serde(default)]
    pub env: std::collections::BTreeMap<String, String>,
    /// Labels (the pod also gets `run=<name>`).
    #[serde(default)]
    pub labels: std::collections::BTreeMap<String, String>,
    /// A container port to declare.
    #[serde(default)]
    pub port: Option<u16>,
    /// Always, OnFailure or Never (default).
    #[serde(default)]
    pub restart_policy: Option<String>,
    #[serde(default)]
    pub dry_run: bool,
}

async fn pods_run(k: Arc<Clusters>, ctx: Context, args: RunArgs) -> Result<Rendered<Value>, ToolError> {
    check_name(&args.name)?;
    if args.image.is_empty()
        || args.image.len() > 512
        || args.image.chars().any(|c| c.is_whitespace() || c.is_control())
    {
        return Err(ToolError::invalid_arguments("`image` must be an image reference without spaces"));
    }
    let policy = args.restart_policy.as_deref().unwrap_or("Never");
    if !matches!(policy, "Always" | "OnFailure" | "Never") {
        return Err(ToolError::invalid_arguments("`restart_policy` is Always, OnFailure or Never"));
    }
    let (cluster, res) = target(&k, args.context.as_deref(), Access::Write, "pods", Some("v1"), "create").await?;
    let ns = namespace_for(&k, &ctx, &cluster, &res, args.namespace.as_deref(), true)?.unwrap_or_default();
    let mut labels = args.labels.clone();
    labels.insert("run".into(), args.name.clone());
    labels.insert("app.kubernetes.io/managed-by".into(), FIELD_MANAGER.into());
    let mut container = json!({"name": args.name, "image": args.image});
    if !args.command.is_empty() {
        container["command"] = json!(args.command);
    }
    if !args.args.is_empty() {
        container["args"] = json!(args.args);
    }
    if !args.env.is_empty() {
        container["env"] = json!(args.env.iter().map(|(k, v)| json!({"name": k, "value": v})).collect::<Vec<_>>());
    }
    if let Some(p) = args.port {
        container["ports"] = json!([{"containerPort": p}]);
    }
    let pod: Pod = serde_json::from_value(json!({
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": args.name, "namespace": ns, "labels": labels},
        "spec": {"containers": [container], "restartPolicy": policy},
    }))
    .map_err(|e| ToolError::invalid_arguments(format!("cannot build the pod: {e}")))?;
    let api: Api<Pod> = Api::namespaced(cluster.client.clone(), &ns);
    let params = PostParams { dry_run: args.dry_run, field_manager: Some(FIELD_MANAGER.into()) };
    let created = api.create(&params, &pod).await.map_err(|e| {
        api_error(e, &Op::new("create", "pods").name(&args.name).namespace(Some(&ns)).context(&cluster.name))
    })?;
    let text = format!(
        "pod/{} {} in namespace {ns}; follow it with resources_describe or pods_log\n",
        args.name,
        if args.dry_run { "would be created (server dry run)" } else { "created" }
    );
    Ok(Rendered {
        text,
        data: json!({"context": cluster.name, "name": args.name, "namespace": ns, "dryRun": args.dry_run,
            "phase": created.status.and_then(|s| s.phase)}),
    })
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ScaleArgs {
    /// Kubeconfig context (default: the server's default context).
    #[serde(default)]
    pub context: Option<String>,
    /// deployments, statefulsets, replicasets, or any kind with a scale subresource.
    pub kind: String,
    pub name: String,
    #[serde(default)]
    pub namespace: Option<String>,
    pub replicas: u32,
    #[serde(default)]
    pub dry_run: bool,
}

async fn workload_scale(k: Arc<Clusters>, ctx: Context, args: ScaleArgs) -> Result<Rendered<Value>, ToolError> {
    check_name(&args.name)?;
    if args.replicas > 10_000 {
        return Err(ToolError::invalid_arguments("`replicas` above 10000 is surely a mistake"));
    }
    let (cluster, res) = target(&k, args.context.as_deref(), Access::Write, &args.kind, None, "get").await?;
    if !res.scalable {
        return Err(ToolError::invalid_arguments(format!(
            "{} has no scale subresource: it cannot be scaled",
            res.qualified()
        )));
    }
    let ns = namespace_for(&k, &ctx, &cluster, &res, args.namespace.as_deref(), true)?;
    let api = dyn_api(&cluster, &res, ns.as_deref());
    let op = Op::new("patch", &format!("{}/scale", res.qualified()))
        .name(&args.name)
        .namespace(ns.as_deref())
        .context(&cluster.name);
    let before = api.get_scale(&args.name).await.map_err(|e| api_error(e, &op))?;
    let previous = before.spec.and_then(|s| s.replicas).unwrap_or(0);
    let params = PatchParams { dry_run: args.dry_run, field_manager: Some(FIELD_MANAGER.into()), ..Default::default() };
    api.patch_scale(&args.name, &params, &Patch::Merge(json!({"spec": {"replicas": args.replicas}})))
        .await
        .map_err(|e| api_error(e, &op))?;
    let text = format!(
        "{} scaled from {previous} to {} replicas{}\n",
        object_ref(&res, &args.name, ns.as_deref()),
        args.replicas,
        if args.dry_run { " (server dry run, nothing changed)" } else { "; rollout_status follows progress" }
    );
    Ok(Rendered {
        text,
        data: json!({"context": cluster.name, "resource": res.qualified(), "name": args.name, "namespace": ns,
            "previousReplicas": previous, "replicas": args.replicas, "dryRun": args.dry_run}),
    })
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RolloutArgs {
    /// Kubeconfig context (default: the server's default context).
    #[serde(default)]
    pub context: Option<String>,
    /// deployment, statefulset or daemonset.
    pub kind: String,
    pub name: String,
    #[serde(default)]
    pub namespace: Option<String>,
    /// rollout_status: wait up to this many seconds for the rollout to finish (default 0).
    /// rollout_undo: ignored.
    #[serde(default)]
    pub wait_seconds: Option<u64>,
    /// rollout_undo: the revision to return to (default: the previous one).
    #[serde(default)]
    pub to_revision: Option<i64>,
    /// rollout_restart and rollout_undo: validate on the server without changing.
    #[serde(default)]
    pub dry_run: bool,
}

async fn rollout_target(
    k: &Clusters,
    ctx: &Context,
    args: &RolloutArgs,
    write: bool,
) -> Result<(Arc<Connection>, Resource, Option<String>, Api<kube::core::DynamicObject>), ToolError> {
    check_name(&args.name)?;
    let access = if write { Access::Write } else { Access::Read };
    let (cluster, res) = target(k, args.context.as_deref(), access, &args.kind, None, "get").await?;
    if res.group != "apps" || !matches!(res.kind.as_str(), "Deployment" | "StatefulSet" | "DaemonSet") {
        return Err(ToolError::invalid_arguments(format!(
            "rollouts apply to deployments, statefulsets and daemonsets, not {}",
            res.qualified()
        )));
    }
    let ns = namespace_for(k, ctx, &cluster, &res, args.namespace.as_deref(), write)?;
    let api = dyn_api(&cluster, &res, ns.as_deref());
    Ok((cluster, res, ns, api))
}

/// Whether a rollout is done, and what it is waiting for (kubectl's rules).
pub fn rollout_state(kind: &str, o: &Value) -> (bool, String) {
    let n = |p: &str| o.pointer(p).and_then(Value::as_i64).unwrap_or(0);
    let generation = n("/metadata/generation");
    let observed = n("/status/observedGeneration");
    if observed < generation {
        return (false, "waiting for the controller to observe the latest spec".into());
    }
    match kind {
        "Deployment" => {
            if let Some(c) = o
                .pointer("/status/conditions")
                .and_then(Value::as_array)
                .and_then(|c| c.iter().find(|c| c["type"] == "Progressing"))
                && c["reason"] == "ProgressDeadlineExceeded"
            {
                return (false, "the rollout exceeded its progress deadline: see resources_describe and events".into());
            }
            let desired = o.pointer("/spec/replicas").and_then(Value::as_i64).unwrap_or(1);
            let (updated, replicas, available) =
                (n("/status/updatedReplicas"), n("/status/replicas"), n("/status/availableReplicas"));
            if updated < desired {
                (false, format!("{updated} of {desired} new replicas have been updated"))
            } else if replicas > updated {
                (false, format!("{} old replicas are pending termination", replicas - updated))
            } else if available < updated {
                (false, format!("{available} of {updated} updated replicas are available"))
            } else {
                (true, "successfully rolled out".into())
            }
        }
        "StatefulSet" => {
            let desired = o.pointer("/spec/replicas").and_then(Value::as_i64).unwrap_or(1);
            let (ready, updated) = (n("/status/readyReplicas"), n("/status/updatedReplicas"));
            if ready < desired {
                (false, format!("{ready} of {desired} pods are ready"))
            } else if o.pointer("/spec/updateStrategy/type").and_then(Value::as_str) != Some("OnDelete")
                && o.pointer("/status/updateRevision") != o.pointer("/status/currentRevision")
            {
                (false, format!("{updated} of {desired} pods are at the new revision"))
            } else {
                (
                    true,
                    format!(
                        "rolled out: {ready} pods ready at revision {}",
                        o.pointer("/status/currentRevision").and_then(Value::as_str).unwrap_or("?")
                    ),
                )
            }
        }
        _ => {
            let desired = n("/status/desiredNumberScheduled");
            let (updated, available) = (n("/status/updatedNumberScheduled"), n("/status/numberAvailable"));
            if updated < desired {
                (false, format!("{updated} of {desired} updated pods are scheduled"))
            } else if available < desired {
                (false, format!("{available} of {desired} updated pods are available"))
            } else {
                (true, "successfully rolled out".into())
            }
        }
    }
}

async fn rollout_status(k: Arc<Clusters>, ctx: Context, args: RolloutArgs) -> Result<Rendered<Value>, ToolError> {
    let (cluster, res, ns, api) = rollout_target(&k, &ctx, &args, false).await?;
    let op = Op::new("get", &res.qualified()).name(&args.name).namespace(ns.as_deref()).context(&cluster.name);
    let deadline = tokio::time::Instant::now() + Duration::from_secs(args.wait_seconds.unwrap_or(0).min(300));
    loop {
        let obj =
            serde_json::to_value(api.get(&args.name).await.map_err(|e| api_error(e, &op))?).unwrap_or(Value::Null);
        let (done, message) = rollout_state(&res.kind, &obj);
        if done || tokio::time::Instant::now() >= deadline {
            let text = format!("{}: {message}\n", object_ref(&res, &args.name, ns.as_deref()));
            return Ok(Rendered {
                text,
                data: json!({"context": cluster.name, "resource": res.qualified(), "name": args.name, "namespace": ns, "complete": done, "message": message}),
            });
        }
        tokio::time::sleep(Duration::from_secs(2)).await;
    }
}

async fn rollout_restart(k: Arc<Clusters>, ctx: Context, args: RolloutArgs) -> Result<Rendered<Value>, ToolError> {
    let (cluster, res, ns, api) = rollout_target(&k, &ctx, &args, true).await?;
    let now = chrono::Utc::now().format("%Y-%m-%dT%H:%M:%SZ").to_string();
    let patch =
        json!({"spec": {"template": {"metadata": {"annotations": {"kubectl.kubernetes.io/restartedAt": now}}}}});
    let params = PatchParams { dry_run: args.dry_run, field_manager: Some(FIELD_MANAGER.into()), ..Default::default() };
    let op = Op::new("patch", &res.qualified()).name(&args.name).namespace(ns.as_deref()).context(&cluster.name);
    api.patch(&args.name, &params, &Patch::Merge(&patch)).await.map_err(|e| api_error(e, &op))?;
    let text = format!(
        "{} restarted{}\n",
        object_ref(&res, &args.name, ns.as_deref()),
        if args.dry_run { " (server dry run, nothing changed)" } else { "; rollout_status follows progress" }
    );
    Ok(Rendered {
        text,
        data: json!({"context": cluster.name, "resource": res.qualified(), "name": args.name, "namespace": ns, "restartedAt": now, "dryRun": args.dry_run}),
    })
}

/// The revisions of a workload, oldest first: (revision, pod template, change cause, created).
async fn revisions(
    cluster: &Connection,
    res: &Resource,
    ns: Option<&str>,
    obj: &Value,
    k: &Clusters,
) -> Result<Vec<(i64, Value, String, String)>, ToolError> {
    let uid = obj.pointer("/metadata/uid").and_then(Value::as_str).unwrap_or_default().to_string();
    let selector = obj
        .pointer("/spec/selector/matchLabels")
        .and_then(Value::as_object)
        .map(|m| m.iter().map(|(k, v)| format!("{k}={}", v.as_str().unwrap_or_default())).collect::<Vec<_>>().join(","))
        .unwrap_or_default();
    let owned_kind = if res.kind == "Deployment" { "replicasets" } else { "controllerrevisions" };
    let owned = cluster.discovery.resolve(&cluster.client, &cluster.name, owned_kind, Some("apps/v1")).await?;
    super::check_kind(k, &owned)?;
    let api = dyn_api(cluster, &owned, ns);
    let list = api
        .list(&ListParams::default().labels(&selector))
        .await
        .map_err(|e| api_error(e, &Op::new("list", &owned.qualified()).namespace(ns).context(&cluster.name)))?;
    let mut out = vec![];
    for item in list.items {
        let v = serde_json::to_value(&item).unwrap_or(Value::Null);
        let mine = v
            .pointer("/metadata/ownerReferences")
            .and_then(Value::as_array)
            .is_some_and(|o| o.iter().any(|o| o["uid"] == uid.as_str()));
        if !mine {
            continue;
        }
        let cause = v
            .pointer("/metadata/annotations/kubernetes.io~1change-cause")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string();
        let created = v.pointer("/metadata/creationTimestamp").and_then(Value::as_str).unwrap_or("").to_string();
        let (rev, template) = if res.kind == "Deployment" {
            let rev = v
                .pointer("/metadata/annotations/deployment.kubernetes.io~1revision")
                .and_then(Value::as_str)
                .and_then(|r| r.parse().ok())
                .unwrap_or(0);
            (rev, v.pointer("/spec/template").cloned().unwrap_or(Value::Null))
        } else {
            (v["revision"].as_i64().unwrap_or(0), v.pointer("/data/spec/template").cloned().unwrap_or(Value::Null))
        };
        out.push((rev, template, cause, created));
    }
    out.sort_by_key(|r| r.0);
    Ok(out)
}

fn template_images(t: &Value) -> String {
    t.pointer("/spec/containers")
        .and_then(Value::as_array)
        .map(|cs| {
            cs.iter()
                .map(|c| format!("{}={}", c["name"].as_str().unwrap_or("?"), c["image"].as_str().unwrap_or("?")))
                .collect::<Vec<_>>()
                .join(",")
        })
        .unwrap_or_default()
}

async fn rollout_history(k: Arc<Clusters>, ctx: Context, args: RolloutArgs) -> Result<Rendered<Value>, ToolError> {
    let (cluster, res, ns, api) = rollout_target(&k, &ctx, &args, false).await?;
    let op = Op::new("get", &res.qualified()).name(&args.name).namespace(ns.as_deref()).context(&cluster.name);
    let obj = serde_json::to_value(api.get(&args.name).await.map_err(|e| api_error(e, &op))?).unwrap_or(Value::Null);
    let revs = revisions(&cluster, &res, ns.as_deref(), &obj, &k).await?;
    let rows: Vec<Vec<String>> = revs
        .iter()
        .map(|(r, t, cause, created)| {
            vec![
                r.to_string(),
                created.clone(),
                template_images(t),
                if cause.is_empty() { "<none>".into() } else { clip(cause, 100) },
            ]
        })
        .collect();
    let text = format!(
        "{}\n{}",
        object_ref(&res, &args.name, ns.as_deref()),
        table(&["REVISION", "CREATED", "IMAGES", "CHANGE-CAUSE"], &rows)
    );
    let items: Vec<Value> = revs.iter().map(|(r, t, cause, created)| json!({"revision": r, "created": created, "images": template_images(t), "changeCause": cause})).collect();
    Ok(Rendered {
        text,
        data: json!({"context": cluster.name, "resource": res.qualified(), "name": args.name, "namespace": ns, "revisions": items}),
    })
}

async fn rollout_undo(k: Arc<Clusters>, ctx: Context, args: RolloutArgs) -> Result<Rendered<Value>, ToolError> {
    let (cluster, res, ns, api) = rollout_target(&k, &ctx, &args, true).await?;
    let op = Op::new("update", &res.qualified()).name(&args.name).namespace(ns.as_deref()).context(&cluster.name);
    let current = api.get(&args.name).await.map_err(|e| api_error(e, &op))?;
    let mut obj = serde_json::to_value(&current).unwrap_or(Value::Null);
    let revs = revisions(&cluster, &res, ns.as_deref(), &obj, &k).await?;
    let latest = revs.last().map(|r| r.0).unwrap_or(0);
    let wanted = match args.to_revision.filter(|r| *r > 0) {
        Some(r) => r,
        None => revs.iter().rev().map(|r| r.0).find(|r| *r < latest).ok_or_else(|| {
            ToolError::failed(format!(
                "{} has no earlier revision to return to (rollout_history lists them)",
                object_ref(&res, &args.name, ns.as_deref())
            ))
        })?,
    };
    let Some((_, template, _, _)) = revs.iter().find(|r| r.0 == wanted) else {
        return Err(ToolError::not_found(format!("revision {wanted} not found (rollout_history lists the revisions)")));
    };
    let mut template = template.clone();
    // The pod-template-hash label belongs to the ReplicaSet, not to the template.
    if let Some(labels) = template.pointer_mut("/metadata/labels").and_then(Value::as_object_mut) {
        labels.remove("pod-template-hash");
    }
    if let Some(t) = template.as_object_mut() {
        t.remove("$patch");
    }
    obj["spec"]["template"] = template;
    let mut updated: kube::core::DynamicObject =
        serde_json::from_value(obj).map_err(|e| ToolError::failed(format!("cannot rebuild the object: {e}")))?;
    updated.metadata.managed_fields = None;
    // The resourceVersion stays: a change made meanwhile makes this a 409 conflict
    // instead of being overwritten.
    let params = PostParams { dry_run: args.dry_run, field_manager: Some(FIELD_MANAGER.into()) };
    api.replace(&args.name, &params, &updated).await.map_err(|e| api_error(e, &op))?;
    let text = format!(
        "{} rolled back to revision {wanted}{}\n",
        object_ref(&res, &args.name, ns.as_deref()),
        if args.dry_run { " (server dry run, nothing changed)" } else { "" }
    );
    Ok(Rendered {
        text,
        data: json!({"context": cluster.name, "resource": res.qualified(), "name": args.name, "namespace": ns, "revision": wanted, "dryRun": args.dry_run}),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantities_and_durations() {
        assert_eq!(cpu_millis("250m"), 250.0);
        assert_eq!(cpu_millis("2"), 2000.0);
        assert_eq!(cpu_millis("5000000n"), 5.0);
        assert_eq!(mem_mib("128Mi"), 128.0);
        assert_eq!(mem_mib("1Gi"), 1024.0);
        assert_eq!(parse_since("10m").ok(), Some(600));
        assert!(parse_since("ten").is_err());
        assert!(parse_since("5y").is_err());
    }

    #[test]
    fn deployment_rollout_rules() {
        let o = json!({"metadata": {"generation": 2}, "status": {"observedGeneration": 2, "updatedReplicas": 1, "replicas": 2, "availableReplicas": 1}, "spec": {"replicas": 2}});
        assert_eq!(rollout_state("Deployment", &o), (false, "1 of 2 new replicas have been updated".into()));
        let done = json!({"metadata": {"generation": 2}, "status": {"observedGeneration": 2, "updatedReplicas": 2, "replicas": 2, "availableReplicas": 2}, "spec": {"replicas": 2}});
        assert!(rollout_state("Deployment", &done).0);
    }
}
