//! Test runs with given input items: a saved workflow run from a node whose output the
//! items stand for (its trigger by default) to a destination node, as the editor's
//! partial execution does, and the result summarized (the failing node, its error and
//! the input it received). n8n's Public API cannot run workflows; this goes through the
//! internal REST API (`POST /rest/workflows/{id}/run` with the items as the start node's
//! run data), which needs a login, and is refused clearly without one.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use mcp_core::server::ServerBuilder;
use mcp_core::{Context, ToolError, tool_with};
use reqwest::Method;
use schemars::JsonSchema;
use serde::Serialize;
use serde_json::{Value, json};

use super::run::wait_summary;
use super::shared::fetch_workflow;
use super::workflows::is_trigger_type;
use crate::n8n::N8n;
use crate::output::{Out, clip, rendered};

pub fn register(b: ServerBuilder, n: &Arc<N8n>) -> ServerBuilder {
    b.tools_in(
        "run",
        [tool_with("test_workflow", n, test_workflow)
            .description(
                "Test a saved workflow with given input `items` (JSON objects): they stand for the output of \
                 `start` (default: its trigger), and the nodes from there to `destination` (default: the one \
                 end node) run as in the editor, without publishing or calling a webhook. Returns the \
                 execution's summary (each node's status, and for a failure the failing node, its error and \
                 the input items it received) and `via`, the API used. Needs a login (--email with \
                 --password-file): n8n's Public API cannot run workflows. The nodes really run (HTTP calls, \
                 messages, …).",
            )
            .open_world(true)],
    )
}

mcp_core::tool_args! {
    instance: "Instance name (required when several are configured).";
    pub struct TestArgs {
        /// Workflow id.
        id: String,
        /// Input items: JSON objects, each one item's `json` (at most 1000, 1 MiB in all).
        items: Vec<Value>,
        /// The node whose output the items stand for (default: the workflow's enabled trigger).
        start: Option<String>,
        /// The last node to run (default: the one end node downstream of `start`).
        destination: Option<String>,
        /// Longest to wait for the run, in seconds (default 60, most 600).
        timeout_secs: Option<u64>,
    }
}

/// Most input items and bytes a test run takes.
const MAX_ITEMS: usize = 1000;
const MAX_ITEM_BYTES: usize = 1 << 20;

/// What a test run did.
#[derive(Debug, Serialize, JsonSchema)]
pub struct TestRun {
    /// Workflow id.
    id: String,
    /// The API used: `POST /rest/workflows/{id}/run (partial run from start's given output)`.
    via: String,
    /// The node whose output the items stood for.
    start: String,
    /// The last node run.
    destination: String,
    /// How many input items were given.
    items: usize,
    /// The execution started.
    execution_id: String,
    /// Whether it finished within the wait.
    finished: bool,
    /// The execution's summary, once finished (as get_execution's `summary`).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schemars(with = "Option<crate::tools::executions::ExecutionView>")]
    summary: Option<Value>,
    /// What happened besides, e.g. that the workflow's pinned data was initialized.
    #[serde(skip_serializing_if = "Option::is_none")]
    note: Option<String>,
}

async fn test_workflow(n8n: Arc<N8n>, ctx: Context, a: TestArgs) -> Out<TestRun> {
    let inst = n8n.instances.for_write(a.instance.as_deref())?;
    if a.items.is_empty() || a.items.len() > MAX_ITEMS {
        return Err(ToolError::invalid_arguments(format!("`items`: give 1 to {MAX_ITEMS} JSON objects")));
    }
    if let Some(i) = a.items.iter().position(|i| !i.is_object()) {
        return Err(ToolError::invalid_arguments(format!("`items[{i}]` must be a JSON object (one item's json)")));
    }
    if serde_json::to_vec(&a.items).map_or(usize::MAX, |b| b.len()) > MAX_ITEM_BYTES {
        return Err(ToolError::invalid_arguments("`items`: at most 1 MiB of JSON in all"));
    }
    let wf = fetch_workflow(&n8n, &inst, &a.id).await?;
    if inst.config.login.is_none() {
        return Err(ToolError::refused(format!(
            "test runs are not supported without a login on `{}`: n8n's Public API cannot run a workflow, and the \
             internal REST API that can (POST /rest/workflows/{{id}}/run with the items as run data) needs one. \
             Configure --email with --password-file (or email/password_file in the instances file).",
            inst.name()
        )));
    }
    let nodes: Vec<&Value> = wf["nodes"].as_array().into_iter().flatten().filter(|n| n["disabled"] != true).collect();
    let names: HashSet<&str> = nodes.iter().filter_map(|n| n["name"].as_str()).collect();
    let start = match &a.start {
        Some(s) if names.contains(s.as_str()) => s.clone(),
        Some(s) => {
            return Err(ToolError::invalid_arguments(format!(
                "`start`: `{}` is not an enabled node of workflow {}",
                clip(s, 80),
                a.id
            )));
        }
        None => {
            let triggers: Vec<&str> = nodes
                .iter()
                .filter(|n| n["type"].as_str().is_some_and(is_trigger_type))
                .filter_map(|n| n["name"].as_str())
                .collect();
            match triggers.as_slice() {
                [one] => one.to_string(),
                [] => {
                    return Err(ToolError::invalid_arguments(
                        "`start`: the workflow has no enabled trigger; name a node",
                    ));
                }
                many => {
                    return Err(ToolError::invalid_arguments(format!(
                        "`start`: the workflow has several triggers ({}); name one",
                        many.join(", ")
                    )));
                }
            }
        }
    };
    let downstream = downstream_main(&wf["connections"], &start);
    let destination = match &a.destination {
        Some(d) if downstream.contains(d) => d.clone(),
        Some(d) => {
            return Err(ToolError::invalid_arguments(format!(
                "`destination`: `{}` is not downstream of `{start}`",
                clip(d, 80)
            )));
        }
        None => {
            let ends = ends(&wf["connections"], &downstream);
            match ends.as_slice() {
                [one] => one.clone(),
                [] => return Err(ToolError::invalid_arguments(format!("nothing is connected after `{start}`"))),
                many => {
                    return Err(ToolError::invalid_arguments(format!(
                        "`destination`: the run from `{start}` ends in several nodes ({}); name one",
                        many.join(", ")
                    )));
                }
            }
        }
    };
    // n8n's partial run reads the workflow's pinned data and fails on a workflow never
    // opened in the editor (null): an empty set changes nothing else (not its version).
    let path = format!("/workflows/{}", a.id);
    let saved = inst.rest(Method::GET, &path, None).await?.unwrap_or(Value::Null);
    let mut note = None;
    if saved["pinData"].is_null() {
        let body = json!({"pinData": {}, "versionId": saved["versionId"]});
        inst.rest(Method::PATCH, &path, Some(&body)).await?;
        note = Some("the workflow's pinned data was initialized to {} (n8n needs it for a partial run)".to_string());
    }
    let items: Vec<Value> = a.items.iter().map(|i| json!({"json": i})).collect();
    let now = chrono::Utc::now().timestamp_millis();
    let body = json!({
        "runData": {start.clone(): [{"startTime": now, "executionTime": 0, "executionIndex": 0, "source": [],
                                     "data": {"main": [items]}, "executionStatus": "success"}]},
        "destinationNode": {"nodeName": destination, "mode": "inclusive"},
    });
    let started = inst.rest(Method::POST, &format!("{path}/run"), Some(&body)).await?.unwrap_or(Value::Null);
    let Some(execution_id) = crate::output::text(&started["executionId"]) else {
        return Err(ToolError::failed(format!("n8n did not start an execution: {}", clip(&started.to_string(), 300))));
    };
    let summary = wait_summary(&n8n, &inst, &ctx, &execution_id, a.timeout_secs).await?;
    Ok(rendered(TestRun {
        via: format!("POST /rest/workflows/{}/run (partial run from `{start}`'s given output)", a.id),
        id: a.id,
        start,
        destination,
        items: a.items.len(),
        execution_id,
        finished: summary.is_some(),
        summary,
        note,
    }))
}

/// The nodes reachable from `start` over `main` connections (itself excluded).
fn downstream_main(connections: &Value, start: &str) -> Vec<String> {
    let mut next: HashMap<&str, Vec<&str>> = HashMap::new();
    for (source, kinds) in connections.as_object().into_iter().flatten() {
        for t in kinds["main"].as_array().into_iter().flatten().flat_map(|s| s.as_array().into_iter().flatten()) {
            if let Some(target) = t["node"].as_str() {
                next.entry(source.as_str()).or_default().push(target);
            }
        }
    }
    let mut seen: Vec<String> = Vec::new();
    let mut stack = vec![start];
    while let Some(n) = stack.pop() {
        for t in next.get(n).into_iter().flatten() {
            if *t != start && !seen.iter().any(|s| s == t) {
                seen.push(t.to_string());
                stack.push(t);
            }
        }
    }
    seen
}

/// Those of `nodes` with no `main` connection onwards.
fn ends(connections: &Value, nodes: &[String]) -> Vec<String> {
    nodes
        .iter()
        .filter(|n| {
            connections[n.as_str()]["main"]
                .as_array()
                .is_none_or(|slots| slots.iter().all(|s| s.as_array().is_none_or(Vec::is_empty)))
        })
        .cloned()
        .collect()
}
