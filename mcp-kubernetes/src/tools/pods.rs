//! Pods: `pods_log` (bounded, with grep), `pods_exec` (bounded output and time) and
//! `pods_run`.

use std::sync::Arc;
use std::time::Duration;

use k8s_openapi::api::core::v1::Pod;
use kube::Api;
use kube::api::{AttachParams, LogParams, PostParams};
use mcp_core::server::ServerBuilder;
use mcp_core::{Context, ToolError, tool_with};
use schemars::JsonSchema;
use serde::Serialize;
use serde_json::{Value, json};
use tokio::io::AsyncReadExt;

use super::api::{check_name, namespace_for, target, tool_args};
use super::apply::FIELD_MANAGER;
use crate::clusters::{Access, Clusters, Connection, namespace_scope};
use crate::config::Toolset;
use crate::errors::{Op, api_error};
use crate::output::{Rendered, clip, cut_line};

pub fn register(builder: ServerBuilder, k: &Arc<Clusters>) -> ServerBuilder {
    builder.tools_in(
        Toolset::Workloads.name(),
        [
            tool_with("pods_log", k, pods_log)
                .title("Read a pod's logs")
                .description(
                    "The last lines of a container's log (tail, default 200), optionally since a time window, of the \
                     previous (crashed) instance, and filtered by `grep` (a regular expression). Bounded: says when lines \
                     were left out.",
                )
                .read_only(),
            tool_with("pods_exec", k, pods_exec)
                .title("Run a command in a container")
                .description(
                    "Runs a command (argv list, no shell unless you call one) in a running container, without a \
                     terminal or input, and returns its exit code, stdout and stderr, bounded in size and time.",
                )
                .destructive(),
            tool_with("pods_run", k, pods_run)
                .title("Run a pod from an image")
                .description(
                    "Creates a single pod from an image (like kubectl run), with optional command, args, env, labels \
                     and port. dry_run=true validates it on the server without creating it.",
                )
                .additive(),
        ],
    )
}

tool_args! {
pub struct LogArgs {
    /// The pod.
    pub name: String,
    pub namespace: Option<String>,
    /// The container (required when the pod has several).
    pub container: Option<String>,
    /// Last lines to read (default 200, at most the server's log-line limit); with `grep`,
    /// the lines searched.
    pub tail: Option<usize>,
    /// Only lines newer than this: `30s`, `10m`, `2h`, `1d`.
    pub since: Option<String>,
    /// The previous instance of the container (after a crash or restart).
    #[serde(default)]
    pub previous: bool,
    /// Only lines matching this regular expression (case-insensitive with `(?i)`).
    pub grep: Option<String>,
    /// Prefix each line with its timestamp.
    #[serde(default)]
    pub timestamps: bool,
}
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
pub(super) fn pod_namespace(
    k: &Clusters,
    ctx: &Context,
    cluster: &Connection,
    namespace: Option<&str>,
) -> Result<String, ToolError> {
    let ns = namespace.filter(|n| !n.is_empty()).unwrap_or(&cluster.default_namespace).to_string();
    super::api::check_ns_name(&ns)?;
    crate::clusters::check_namespace(&namespace_scope(&k.settings, ctx), &ns)?;
    Ok(ns)
}

/// The `grep` argument as a bounded regular expression (`None` when absent or empty).
pub(crate) fn grep_regex(grep: Option<&str>) -> Result<Option<regex::Regex>, ToolError> {
    match grep.filter(|g| !g.is_empty()) {
        Some(p) => regex::RegexBuilder::new(p)
            .size_limit(1 << 20)
            .build()
            .map(Some)
            .map_err(|e| ToolError::invalid_arguments(format!("`grep` is not a valid regular expression: {e}"))),
        None => Ok(None),
    }
}

/// The newest lines, which matter most: the end of `lines`, at most `max_lines` of them
/// and `max_bytes` in all (at least one), each clipped.
pub(crate) fn last_lines(lines: &[&str], max_lines: usize, max_bytes: usize) -> Vec<String> {
    let mut kept: Vec<String> = vec![];
    let mut bytes = 0;
    for line in lines.iter().rev().take(max_lines) {
        let line = clip(line, 2000);
        if bytes + line.len() + 1 > max_bytes && !kept.is_empty() {
            break;
        }
        bytes += line.len() + 1;
        kept.push(line);
    }
    kept.reverse();
    kept
}

pub(crate) async fn pods_log(k: Arc<Clusters>, ctx: Context, args: LogArgs) -> Result<Rendered<LogResult>, ToolError> {
    check_name(&args.name)?;
    let cluster = k.read(&ctx, args.context.as_deref()).await?;
    let pods = cluster.discovery.resolve(&cluster.client, &cluster.name, "pods", Some("v1")).await?;
    super::api::check_kind(&k, &pods)?;
    let ns = pod_namespace(&k, &ctx, &cluster, args.namespace.as_deref())?;
    let max_lines = k.settings.max_log_lines;
    let grep = grep_regex(args.grep.as_deref())?;
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
    let kept = last_lines(&matching, max_lines, k.settings.max_result_bytes);
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

tool_args! {
pub struct ExecArgs {
    /// The pod.
    pub name: String,
    pub namespace: Option<String>,
    /// The container (default: the pod's first).
    pub container: Option<String>,
    /// The command and its arguments, e.g. ["cat", "/etc/os-release"] or ["sh", "-c", "ls | wc -l"].
    pub command: Vec<String>,
    /// Seconds before the command is abandoned (default and maximum: the server's exec
    /// timeout).
    pub timeout_secs: Option<u64>,
}
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
    let cluster = k.write(&ctx, args.context.as_deref()).await?;
    let pods = cluster.discovery.resolve(&cluster.client, &cluster.name, "pods", Some("v1")).await?;
    super::api::check_kind(&k, &pods)?;
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

tool_args! {
pub struct RunArgs {
    /// The pod's name.
    pub name: String,
    /// The image, e.g. `busybox:1.36`.
    pub image: String,
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
    pub port: Option<u16>,
    /// Always, OnFailure or Never (default).
    pub restart_policy: Option<String>,
    #[serde(default)]
    pub dry_run: bool,
}
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
    let (cluster, res) = target(&k, &ctx, args.context.as_deref(), Access::Write, "pods", Some("v1"), "create").await?;
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(parse_since("10m").ok(), Some(600));
        assert!(parse_since("ten").is_err());
        assert!(parse_since("5y").is_err());
    }
}
