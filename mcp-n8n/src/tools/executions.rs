//! Executions: list (status, workflow, time window, cursor), get in preview / summary /
//! full modes (the summary names the failing node, its error and its input), wait for
//! one to finish with progress notifications, retry, stop, delete. Execution data is
//! redacted (credential-like fields) unless --show-secrets.

use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::DateTime;
use mcp_core::output::Prebuilt;
use mcp_core::server::ServerBuilder;
use mcp_core::{Context, ToolError, tool_with};
use reqwest::Method;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

use super::shared::{Deleted, check_id, fetch_workflow, in_scope};
use crate::n8n::{Instance, N8n};
use crate::output::{Out, cursor_note, obj, parse, prebuilt, rendered, text};
use mcp_core::connector::fit_json;
use mcp_core::security::redact::redact_json;

pub fn register(b: ServerBuilder, n: &Arc<N8n>) -> ServerBuilder {
    b.tools_in(
        "executions",
        [
            tool_with("list_executions", n, list_executions)
                .description(
                    "List executions, newest first: id, workflow, status, mode, start, duration. Filters: workflow_id, \
                 status (success, error, running, waiting, canceled, crashed, new), since/until (RFC 3339). Pages: \
                 `cursor` from `next_cursor`.",
                )
                .read_only(),
            tool_with("get_execution", n, get_execution)
                .description(
                    "Read an execution. mode `summary` (default): status, timing, each node's status and item counts, \
                 and for a failure the failing node, its error and the input items it got. `preview`: status and \
                 nodes only. `full`: every node's output items (limit with `nodes` and `items_limit`). \
                 Credential-like fields are redacted.",
                )
                .read_only(),
            tool_with("wait_execution", n, wait_execution)
                .description(
                    "Wait until an execution finishes (progress notifications while it runs), then return its summary. \
                 Stops waiting after `timeout_secs` (default 60) and says it is still running.",
                )
                .read_only(),
            tool_with("retry_execution", n, retry_execution)
                .description(
                    "Retry a failed execution (with the workflow as it was, or the current one with load_workflow).",
                )
                .open_world(true),
            tool_with("stop_execution", n, stop_execution)
                .description("Stop a running or waiting execution.")
                .destructive()
                .idempotent(),
            tool_with("delete_execution", n, delete_execution)
                .description("Delete an execution and its data.")
                .destructive()
                .idempotent(),
        ],
    )
}

mcp_core::tool_args! {
    instance: "Instance name (default: the first configured).";
    pub struct ListArgs {
        /// Only executions of this workflow.
        workflow_id: Option<String>,
        /// Only with this status: success, error, running, waiting, canceled, crashed, new.
        #[schemars(with = "Option<String>")]
        status: Option<ExecutionStatus>,
        /// Only started at or after this time (RFC 3339, e.g. 2026-01-31T12:00:00Z).
        since: Option<String>,
        /// Only started before this time (RFC 3339).
        until: Option<String>,
        /// Rows per page (default and most: --max-rows).
        limit: Option<usize>,
        /// `next_cursor` of the previous page.
        cursor: Option<String>,
    }
}

/// An execution's status, as n8n words it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum ExecutionStatus {
    /// Finished without error.
    Success,
    /// Failed.
    Error,
    /// Running now.
    Running,
    /// Waiting (a Wait node, a webhook to resume).
    Waiting,
    /// Stopped before it finished.
    Canceled,
    /// The process running it died.
    Crashed,
    /// Queued, not started.
    New,
    /// A status n8n has not said (or one this server does not know).
    #[serde(other)]
    Unknown,
}

impl ExecutionStatus {
    /// The status n8n gives in `v` (unknown when it gives none).
    pub fn of(v: &Value) -> Self {
        parse(v).unwrap_or(Self::Unknown)
    }
    /// Whether the execution has stopped for good.
    pub fn finished(self) -> bool {
        !matches!(self, Self::Running | Self::Waiting | Self::New | Self::Unknown)
    }
    /// Its wire string.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Success => "success",
            Self::Error => "error",
            Self::Running => "running",
            Self::Waiting => "waiting",
            Self::Canceled => "canceled",
            Self::Crashed => "crashed",
            Self::New => "new",
            Self::Unknown => "unknown",
        }
    }
}

/// What started an execution, as n8n words it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum RunMode {
    /// The editor's run button, or run_workflow.
    Manual,
    /// A trigger node (schedule, event).
    Trigger,
    /// A webhook call.
    Webhook,
    /// A retry of another execution.
    Retry,
    /// Another workflow (Execute Workflow node).
    Integrated,
    /// The command line.
    Cli,
    /// An error workflow.
    Error,
    /// n8n itself.
    Internal,
    /// An evaluation run.
    Evaluation,
    /// A chat message.
    Chat,
    /// A mode this server does not know.
    #[serde(other)]
    Other,
}

/// One page of executions, newest first.
#[derive(Debug, Serialize, JsonSchema)]
pub struct ExecutionList {
    /// Rows on this page.
    count: usize,
    /// The executions.
    executions: Vec<ExecutionRow>,
    /// Pass as `cursor` for the next page.
    #[serde(skip_serializing_if = "Option::is_none")]
    next_cursor: Option<String>,
    /// Says more executions are left, and how to get them.
    #[serde(skip_serializing_if = "Option::is_none")]
    note: Option<String>,
}

/// An execution, in one row.
#[derive(Debug, Serialize, JsonSchema)]
pub struct ExecutionRow {
    /// Execution id.
    id: String,
    /// Its workflow.
    #[serde(skip_serializing_if = "Option::is_none")]
    workflow_id: Option<String>,
    /// How it went.
    status: ExecutionStatus,
    /// What started it.
    #[serde(skip_serializing_if = "Option::is_none")]
    mode: Option<RunMode>,
    /// When it started (RFC 3339).
    #[serde(skip_serializing_if = "Option::is_none")]
    started: Option<String>,
    /// How long it ran, in milliseconds.
    #[serde(skip_serializing_if = "Option::is_none")]
    duration_ms: Option<i64>,
    /// The execution it retried.
    #[serde(skip_serializing_if = "Option::is_none")]
    retry_of: Option<String>,
    /// The retry that succeeded it.
    #[serde(skip_serializing_if = "Option::is_none")]
    retried_by: Option<String>,
}

fn time(field: &str, s: &Option<String>) -> Result<Option<i64>, ToolError> {
    s.as_deref()
        .map(|t| {
            DateTime::parse_from_rfc3339(t.trim())
                .map(|d| d.timestamp_millis())
                .map_err(|e| ToolError::invalid_arguments(format!("`{field}`: `{t}` is not RFC 3339 ({e})")))
        })
        .transpose()
}

fn millis(v: &Value) -> Option<i64> {
    v.as_str().and_then(|s| DateTime::parse_from_rfc3339(s).ok()).map(|d| d.timestamp_millis())
}

/// How long an execution ran, in milliseconds.
fn duration(e: &Value) -> Option<i64> {
    Some(millis(&e["stoppedAt"])? - millis(&e["startedAt"])?)
}

fn exec_row(e: &Value) -> ExecutionRow {
    ExecutionRow {
        id: text(&e["id"]).unwrap_or_default(),
        workflow_id: text(&e["workflowId"]),
        status: ExecutionStatus::of(&e["status"]),
        mode: parse(&e["mode"]),
        started: text(&e["startedAt"]),
        duration_ms: duration(e),
        retry_of: text(&e["retryOf"]),
        retried_by: text(&e["retrySuccessId"]),
    }
}

/// Whether an execution's workflow is in the tag scope (always, without a scope).
async fn exec_in_scope(n8n: &N8n, inst: &Instance, workflow_id: &str, cache: &mut Map<String, Value>) -> bool {
    if n8n.settings.scope_tag.is_none() {
        return true;
    }
    if let Some(v) = cache.get(workflow_id) {
        return v == &Value::Bool(true);
    }
    let ok = match inst.get(&format!("/workflows/{workflow_id}"), &[]).await {
        Ok(wf) => in_scope(n8n, &wf),
        Err(_) => false,
    };
    cache.insert(workflow_id.to_string(), Value::Bool(ok));
    ok
}

async fn list_executions(n8n: Arc<N8n>, _ctx: Context, a: ListArgs) -> Out<ExecutionList> {
    let inst = n8n.instances.for_read(a.instance.as_deref())?;
    let since = time("since", &a.since)?;
    let until = time("until", &a.until)?;
    let limit = a.limit.unwrap_or(n8n.settings.max_rows).clamp(1, n8n.settings.max_rows);
    let mut q: Vec<(&str, String)> = vec![("limit", limit.to_string()), ("includeData", "false".into())];
    if let Some(w) = &a.workflow_id {
        check_id("workflow_id", w)?;
        fetch_workflow(&n8n, &inst, w).await?;
        q.push(("workflowId", w.clone()));
    }
    if let Some(s) = a.status {
        if s == ExecutionStatus::Unknown {
            return Err(ToolError::invalid_arguments(
                "`status`: not one of success, error, running, waiting, canceled, crashed, new",
            ));
        }
        q.push(("status", s.as_str().to_string()));
    }
    if let Some(c) = &a.cursor {
        q.push(("cursor", c.clone()));
    }
    // n8n filters the window itself; the check below keeps it exact on older versions.
    if let Some(s) = &a.since {
        q.push(("startedAfter", s.trim().to_string()));
    }
    if let Some(u) = &a.until {
        q.push(("startedBefore", u.trim().to_string()));
    }
    let page = inst.get("/executions", &q).await?;
    let mut cache = Map::new();
    let mut rows = Vec::new();
    let mut older_than_window = false;
    for e in page["data"].as_array().into_iter().flatten() {
        let started = millis(&e["startedAt"]).or_else(|| millis(&e["createdAt"]));
        if let (Some(s), Some(t)) = (since, started)
            && t < s
        {
            // Newest first: everything after this is older still.
            older_than_window = true;
            break;
        }
        if let (Some(u), Some(t)) = (until, started)
            && t >= u
        {
            continue;
        }
        let wid = e["workflowId"].as_str().unwrap_or_default();
        if exec_in_scope(&n8n, &inst, wid, &mut cache).await {
            rows.push(exec_row(e));
        }
    }
    let next = if older_than_window { None } else { page["nextCursor"].as_str().map(str::to_string) };
    let note = cursor_note(rows.len(), "executions", next.as_deref(), "filter by workflow_id, status or time");
    Ok(rendered(ExecutionList { count: rows.len(), executions: rows, next_cursor: next, note }))
}

mcp_core::tool_args! {
    instance: "Instance name (default: the first configured).";
    pub struct GetArgs {
        /// Execution id.
        pub id: String,
        /// `summary` (default), `preview` or `full`.
        #[schemars(with = "Option<String>")]
        pub mode: Option<ExecutionMode>,
        /// With `full`: only these nodes.
        #[serde(default)]
        pub nodes: Vec<String>,
        /// With `full`: most items per node output (default 5, most 100).
        pub items_limit: Option<usize>,
    }
}

/// How much of an execution get_execution shows.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ExecutionMode {
    /// Status, timing, nodes, the failure with its input, the last output.
    #[default]
    Summary,
    /// Status and nodes only.
    Preview,
    /// The summary and every node's output items.
    Full,
}

/// An execution as get_execution (and wait_execution, run_workflow with `wait`) shows it.
/// Parts past the result budget are cut and marked in place.
#[derive(Debug, JsonSchema)]
#[allow(dead_code)] // Only its schema is used: the view is built as JSON.
pub struct ExecutionView {
    /// Execution id.
    id: String,
    /// Its workflow.
    workflow_id: Option<String>,
    /// Its workflow's name.
    workflow_name: Option<String>,
    /// How it went.
    status: ExecutionStatus,
    /// What started it.
    mode: Option<RunMode>,
    /// When it started (RFC 3339).
    started: Option<String>,
    /// How long it ran, in milliseconds.
    duration_ms: Option<i64>,
    /// The last node that ran.
    last_node: Option<String>,
    /// Each node that ran: node, status, runs, items_out (per output), time_ms, error.
    nodes: Value,
    /// For a failure: the failing node, its type, its error (message, description,
    /// http_code, type), the input items it got (from, output, items, total_items) and
    /// its parameters.
    failure: Option<Value>,
    /// (summary) The last node's first output items and their total.
    last_output: Option<Value>,
    /// (full) Per node, its runs: status, time_ms, error, outputs (items, total_items).
    data: Option<Value>,
    /// (wait_execution) How long the call waited, in milliseconds.
    waited_ms: Option<u64>,
    /// Says the view was cut to the result budget, and how to see the rest.
    truncated: Option<String>,
}

/// What wait_execution saw: the finished execution, or one still running.
#[derive(Debug, JsonSchema)]
#[serde(untagged)]
#[allow(dead_code, clippy::large_enum_variant)] // Only its schema is used.
pub enum Waited {
    /// Finished: its summary.
    Finished(ExecutionView),
    /// Still running when the wait ended.
    Running(StillRunning),
}

/// An execution still running when a wait ended.
#[derive(Debug, Serialize, JsonSchema)]
pub struct StillRunning {
    /// Execution id.
    pub id: String,
    /// Its status now.
    pub status: ExecutionStatus,
    /// Always false.
    pub finished: bool,
    /// What to do next.
    pub note: String,
}

/// An execution with its data, after the scope check.
pub async fn fetch_execution(n8n: &N8n, inst: &Instance, id: &str, data: bool) -> Result<Value, ToolError> {
    check_id("id", id)?;
    let e = inst.get(&format!("/executions/{id}"), &[("includeData", data.to_string())]).await?;
    let wid = e["workflowId"].as_str().unwrap_or_default().to_string();
    if !exec_in_scope(n8n, inst, &wid, &mut Map::new()).await {
        return Err(ToolError::not_found(format!(
            "not found on `{}`: execution {id} (outside the tag scope)",
            inst.name()
        )));
    }
    Ok(e)
}

/// Output items of a node run, as `[[items of output 0], [items of output 1], ...]`.
fn outputs(run: &Value) -> Vec<Vec<Value>> {
    run["data"]["main"].as_array().into_iter().flatten().map(|o| o.as_array().cloned().unwrap_or_default()).collect()
}

/// The JSON of the first `n` items (binary data replaced by its metadata).
fn items(list: &[Value], n: usize) -> Vec<Value> {
    list.iter()
        .take(n)
        .map(|i| {
            let mut v = i["json"].clone();
            if let Some(bin) = i["binary"].as_object()
                && let Value::Object(m) = &mut v
            {
                let meta: Map<String, Value> = bin
                    .iter()
                    .map(|(k, b)| {
                        (
                            k.clone(),
                            json!({"mimeType": b["mimeType"], "fileName": b["fileName"], "fileSize": b["fileSize"]}),
                        )
                    })
                    .collect();
                m.insert("_binary".into(), Value::Object(meta));
            }
            v
        })
        .collect()
}

fn error_of(e: &Value) -> Value {
    obj([
        ("message", e["message"].clone()),
        ("description", e["description"].clone()),
        ("http_code", e["httpCode"].clone()),
        ("node", e["node"]["name"].clone()),
        ("type", e["name"].clone()),
    ])
}

/// The summary: per node, and the failure with the failing node's input.
pub fn summary(e: &Value, mode: ExecutionMode) -> Value {
    let run_data = e["data"]["resultData"]["runData"].as_object();
    let mut order: Vec<(&String, &Value)> = run_data.into_iter().flatten().collect();
    order.sort_by_key(|(_, runs)| runs[0]["startTime"].as_i64().unwrap_or(0));
    let nodes: Vec<Value> = order
        .iter()
        .map(|(name, runs)| {
            let last = runs.as_array().and_then(|r| r.last()).cloned().unwrap_or(Value::Null);
            let counts: Vec<usize> = outputs(&last).iter().map(Vec::len).collect();
            obj([
                ("node", json!(name)),
                ("status", last["executionStatus"].clone()),
                ("runs", json!(runs.as_array().map_or(0, Vec::len))),
                ("items_out", json!(counts)),
                ("time_ms", last["executionTime"].clone()),
                ("error", if last["error"].is_null() { Value::Null } else { json!(last["error"]["message"]) }),
            ])
        })
        .collect();
    let top_error = &e["data"]["resultData"]["error"];
    let failing = order
        .iter()
        .rev()
        .find(|(_, runs)| runs.as_array().and_then(|r| r.last()).is_some_and(|r| !r["error"].is_null()));
    let failure = failing.map(|(name, runs)| {
        let last = runs.as_array().and_then(|r| r.last()).cloned().unwrap_or(Value::Null);
        // Its input: what the node before it sent on the connected output.
        let input: Vec<Value> = last["source"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|s| {
                let prev = s["previousNode"].as_str()?;
                let out = s["previousNodeOutput"].as_u64().unwrap_or(0) as usize;
                let prev_run = run_data?.get(prev)?.as_array()?.last()?;
                Some(json!({"from": prev, "output": out, "items": items(outputs(prev_run).get(out)?, 3),
                            "total_items": outputs(prev_run).get(out).map_or(0, Vec::len)}))
            })
            .collect();
        let node_type = e["workflowData"]["nodes"]
            .as_array()
            .and_then(|ns| ns.iter().find(|n| n["name"] == name.as_str()))
            .map(|n| n["type"].clone())
            .unwrap_or(Value::Null);
        obj([
            ("node", json!(name)),
            ("type", node_type),
            ("error", error_of(&last["error"])),
            ("input", Value::Array(input)),
            (
                "parameters",
                e["workflowData"]["nodes"]
                    .as_array()
                    .and_then(|ns| ns.iter().find(|n| n["name"] == name.as_str()))
                    .map(|n| n["parameters"].clone())
                    .unwrap_or(Value::Null),
            ),
        ])
    });
    let failure = failure.or_else(|| (!top_error.is_null()).then(|| json!({"error": error_of(top_error)})));
    let last_node = e["data"]["resultData"]["lastNodeExecuted"].clone();
    let output = if mode == ExecutionMode::Summary {
        last_node
            .as_str()
            .and_then(|n| run_data?.get(n)?.as_array()?.last().cloned())
            .map(|r| {
                let outs = outputs(&r);
                json!({"items": outs.first().map(|o| items(o, 2)).unwrap_or_default(),
                       "total_items": outs.first().map_or(0, Vec::len)})
            })
            .unwrap_or(Value::Null)
    } else {
        Value::Null
    };
    let dur = match (millis(&e["startedAt"]), millis(&e["stoppedAt"])) {
        (Some(a), Some(b)) => json!(b - a),
        _ => Value::Null,
    };
    obj([
        ("id", e["id"].clone()),
        ("workflow_id", e["workflowId"].clone()),
        ("workflow_name", e["workflowData"]["name"].clone()),
        ("status", e["status"].clone()),
        ("mode", e["mode"].clone()),
        ("started", e["startedAt"].clone()),
        ("duration_ms", dur),
        ("last_node", last_node),
        ("nodes", Value::Array(nodes)),
        ("failure", failure.unwrap_or(Value::Null)),
        ("last_output", output),
    ])
}

pub async fn read_execution(n8n: &N8n, inst: &Instance, a: &GetArgs) -> Result<Value, ToolError> {
    let mode = a.mode.unwrap_or_default();
    let e = fetch_execution(n8n, inst, &a.id, true).await?;
    let e = if n8n.settings.show_secrets { e } else { redact_json(&e, &[]) };
    let mut out = match mode {
        ExecutionMode::Summary | ExecutionMode::Preview => summary(&e, mode),
        ExecutionMode::Full => {
            let limit = a.items_limit.unwrap_or(5).clamp(1, 100);
            let mut nodes = Map::new();
            for (name, runs) in e["data"]["resultData"]["runData"].as_object().into_iter().flatten() {
                if !a.nodes.is_empty() && !a.nodes.contains(name) {
                    continue;
                }
                let runs: Vec<Value> = runs
                    .as_array()
                    .into_iter()
                    .flatten()
                    .map(|r| {
                        let outs: Vec<Value> = outputs(r)
                            .iter()
                            .map(|o| json!({"items": items(o, limit), "total_items": o.len()}))
                            .collect();
                        obj([
                            ("status", r["executionStatus"].clone()),
                            ("time_ms", r["executionTime"].clone()),
                            ("error", if r["error"].is_null() { Value::Null } else { error_of(&r["error"]) }),
                            ("outputs", Value::Array(outs)),
                        ])
                    })
                    .collect();
                nodes.insert(name.clone(), Value::Array(runs));
            }
            let mut s = summary(&e, mode);
            s["data"] = Value::Object(nodes);
            s
        }
    };
    if fit_json(&mut out, n8n.settings.max_result_bytes)
        && let Value::Object(m) = &mut out
    {
        m.insert(
            "truncated".into(),
            json!("cut to the result budget: use mode full with `nodes: [name]` and a small `items_limit`"),
        );
    }
    Ok(out)
}

async fn get_execution(n8n: Arc<N8n>, _ctx: Context, a: GetArgs) -> Result<Prebuilt<ExecutionView>, ToolError> {
    let inst = n8n.instances.for_read(a.instance.as_deref())?;
    Ok(prebuilt(read_execution(&n8n, &inst, &a).await?))
}

/// The summary of execution `id` (the default view of get_execution).
pub async fn read_summary(n8n: &N8n, inst: &Instance, id: &str) -> Result<Value, ToolError> {
    let args = GetArgs { instance: None, id: id.to_string(), mode: None, nodes: vec![], items_limit: None };
    read_execution(n8n, inst, &args).await
}

mcp_core::tool_args! {
    instance: "Instance name (default: the first configured).";
    pub struct WaitArgs {
        /// Execution id.
        id: String,
        /// Longest to wait, in seconds (default 60, most 600; the call's own time limit applies too).
        timeout_secs: Option<u64>,
    }
}

async fn wait_execution(n8n: Arc<N8n>, ctx: Context, a: WaitArgs) -> Result<Prebuilt<Waited>, ToolError> {
    let inst = n8n.instances.for_read(a.instance.as_deref())?;
    let timeout = Duration::from_secs(a.timeout_secs.unwrap_or(60).clamp(1, 600));
    let start = Instant::now();
    let mut delay = Duration::from_millis(200);
    loop {
        let e = fetch_execution(&n8n, &inst, &a.id, false).await?;
        let status = ExecutionStatus::of(&e["status"]);
        if status.finished() {
            let mut out = read_summary(&n8n, &inst, &a.id).await?;
            out["waited_ms"] = json!(start.elapsed().as_millis() as u64);
            return Ok(prebuilt(out));
        }
        let elapsed = start.elapsed();
        if elapsed >= timeout {
            let (secs, status_s) = (timeout.as_secs(), status.as_str());
            let note = format!("still {status_s} after {secs} s; call wait_execution again, or stop_execution");
            let running = StillRunning { id: a.id, status, finished: false, note };
            return Ok(prebuilt(json!(running)));
        }
        let status = status.as_str();
        ctx.progress(
            elapsed.as_secs_f64(),
            Some(timeout.as_secs_f64()),
            Some(&format!("execution {} is {status}", a.id)),
        );
        tokio::time::sleep(delay.min(timeout - elapsed)).await;
        delay = (delay * 2).min(Duration::from_secs(2));
    }
}

mcp_core::tool_args! {
    instance: "Instance name (required when several are configured).";
    pub struct RetryArgs {
        /// Execution id (a failed one).
        id: String,
        /// Run the workflow as it is now instead of as it was then.
        #[serde(default)]
        load_workflow: bool,
    }
}

/// A retry just started.
#[derive(Debug, Serialize, JsonSchema)]
pub struct Retried {
    /// The execution retried.
    retry_of: String,
    /// The new execution.
    #[serde(skip_serializing_if = "Option::is_none")]
    id: Option<String>,
    /// Its status.
    status: ExecutionStatus,
    /// How to follow it.
    note: String,
}

/// An execution after a stop, or one that had already finished.
#[derive(Debug, Serialize, JsonSchema)]
pub struct Stopped {
    /// Execution id.
    id: String,
    /// Its status now.
    status: ExecutionStatus,
    /// Says it had already finished, when it had.
    #[serde(skip_serializing_if = "Option::is_none")]
    note: Option<String>,
}

async fn retry_execution(n8n: Arc<N8n>, _ctx: Context, a: RetryArgs) -> Out<Retried> {
    let inst = n8n.instances.for_write(a.instance.as_deref())?;
    fetch_execution(&n8n, &inst, &a.id, false).await?;
    let e = inst
        .api(Method::POST, &format!("/executions/{}/retry", a.id), &[], Some(&json!({"loadWorkflow": a.load_workflow})))
        .await?;
    Ok(rendered(Retried {
        retry_of: a.id,
        id: text(&e["id"]),
        status: ExecutionStatus::of(&e["status"]),
        note: "wait_execution or get_execution with the new id shows how it went".into(),
    }))
}

mcp_core::tool_args! {
    instance: "Instance name (required when several are configured).";
    pub struct ExecIdArgs {
        /// Execution id.
        id: String,
    }
}

async fn stop_execution(n8n: Arc<N8n>, _ctx: Context, a: ExecIdArgs) -> Out<Stopped> {
    let inst = n8n.instances.for_write(a.instance.as_deref())?;
    let before = fetch_execution(&n8n, &inst, &a.id, false).await?;
    let status = ExecutionStatus::of(&before["status"]);
    if status.finished() {
        return Ok(rendered(Stopped { id: a.id, status, note: Some("already finished; nothing to stop".into()) }));
    }
    let e = inst.api(Method::POST, &format!("/executions/{}/stop", a.id), &[], None).await?;
    let status = parse(&e["status"]).unwrap_or(ExecutionStatus::Canceled);
    Ok(rendered(Stopped { id: a.id, status, note: None }))
}

async fn delete_execution(n8n: Arc<N8n>, _ctx: Context, a: ExecIdArgs) -> Out<Deleted> {
    let inst = n8n.instances.for_write(a.instance.as_deref())?;
    fetch_execution(&n8n, &inst, &a.id, false).await?;
    inst.settled(Method::DELETE, &format!("/executions/{}", a.id)).await?;
    Ok(rendered(Deleted { id: a.id, name: None, deleted: true }))
}
