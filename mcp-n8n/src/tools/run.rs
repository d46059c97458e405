//! Running workflows: through a webhook trigger (production or test URL, any method,
//! body, query and headers; the workflow's HTTP answer comes back), or by id through the
//! internal REST API when a login is configured. Both need --allow-write: a run can do
//! anything the workflow does.

use std::sync::Arc;
use std::time::Duration;

use std::collections::BTreeMap;

use mcp_core::output::Prebuilt;
use mcp_core::server::ServerBuilder;
use mcp_core::{Context, ToolError, tool_with};
use reqwest::Method;
use schemars::JsonSchema;
use serde::Serialize;
use serde_json::{Value, json};

use super::executions::{ExecutionStatus, fetch_execution, read_summary};
use super::shared::fetch_workflow;
use super::workflows::is_trigger_type;
use crate::n8n::{Instance, N8n};
use crate::output::{Out, clip, prebuilt, rendered};
use mcp_core::connector::fit_json;
use mcp_core::security::redact::redact_json;

pub fn register(b: ServerBuilder, n: &Arc<N8n>) -> ServerBuilder {
    b.tools_in(
        "run",
        [
            tool_with("run_webhook", n, run_webhook)
                .description(
                    "Run a workflow through its Webhook trigger and return the HTTP answer (status, body) and the \
                 execution it started. Give `workflow_id` (its webhook node is found; `node` picks one of several) \
                 or a raw `path`. `test: true` calls the test URL, which answers only while the editor (or \
                 run_workflow) listens. A published workflow is needed for the production URL.",
                )
                .open_world(true),
            tool_with("run_workflow", n, run_workflow)
                .description(
                    "Run a workflow by id, as the editor's Execute button does (any trigger; needs --email/password \
                 for the internal REST API), and return the execution id; wait_execution follows it. Without a \
                 login, a published workflow with a webhook trigger is run through its webhook instead.",
                )
                .open_world(true),
        ],
    )
}

mcp_core::tool_args! {
    instance: "Instance name (required when several are configured).";
    pub struct WebhookArgs {
        /// The workflow whose webhook to call.
        workflow_id: Option<String>,
        /// The webhook node, when the workflow has several.
        node: Option<String>,
        /// A raw webhook path (instead of workflow_id; not allowed under --scope-tag).
        path: Option<String>,
        /// Call the test URL (/webhook-test/...) instead of the production one.
        #[serde(default)]
        test: bool,
        /// HTTP method (default: the webhook node's, else POST).
        method: Option<String>,
        /// JSON body.
        body: Option<Value>,
        /// Query parameters.
        query: Option<std::collections::BTreeMap<String, String>>,
        /// Extra headers (Host, Content-Length and hop-by-hop headers are refused).
        headers: Option<std::collections::BTreeMap<String, String>>,
        /// Longest to wait for the answer, in seconds (default --webhook-timeout-secs).
        timeout_secs: Option<u64>,
    }
}

/// Headers a caller may not set (they belong to the HTTP layer or would redirect it).
const FORBIDDEN_HEADERS: &[&str] =
    &["host", "content-length", "connection", "transfer-encoding", "upgrade", "te", "trailer", "x-n8n-api-key"];

/// A webhook's HTTP answer, and the execution it started.
#[derive(Debug, Serialize, JsonSchema)]
pub struct WebhookAnswer {
    /// The HTTP status.
    status: u16,
    /// Whether the status is a success (2xx).
    ok: bool,
    /// The URL called.
    url: String,
    /// Its content-type, content-length and location headers.
    headers: BTreeMap<String, String>,
    /// The body: JSON as the workflow answered, or text (redacted unless --show-secrets,
    /// cut to the budget).
    body: Value,
    /// Says the body was cut to the result budget.
    #[serde(skip_serializing_if = "Option::is_none")]
    truncated: Option<String>,
    /// The execution the call started (with `workflow_id`).
    #[serde(skip_serializing_if = "Option::is_none")]
    execution_id: Option<String>,
}

async fn run_webhook(n8n: Arc<N8n>, _ctx: Context, a: WebhookArgs) -> Out<WebhookAnswer> {
    let inst = n8n.instances.for_write(a.instance.as_deref())?;
    let (path, node_method) = match (&a.workflow_id, &a.path) {
        (Some(id), None) => {
            let wf = fetch_workflow(&n8n, &inst, id).await?;
            let hooks: Vec<&Value> = wf["nodes"]
                .as_array()
                .into_iter()
                .flatten()
                .filter(|n| n["type"] == "n8n-nodes-base.webhook" && n["disabled"] != true)
                .filter(|n| a.node.as_deref().is_none_or(|x| n["name"] == x))
                .collect();
            match hooks.as_slice() {
                [one] => (
                    one["parameters"]["path"].as_str().unwrap_or_default().to_string(),
                    one["parameters"]["httpMethod"].as_str().map(str::to_string),
                ),
                [] => {
                    return Err(ToolError::failed(format!(
                        "workflow {id} has no enabled Webhook node{}",
                        a.node.as_deref().map(|n| format!(" named `{n}`")).unwrap_or_default()
                    )));
                }
                _ => {
                    return Err(ToolError::invalid_arguments(
                        "the workflow has several webhooks: name one with `node`",
                    ));
                }
            }
        }
        (None, Some(p)) if n8n.settings.scope_tag.is_none() => (p.clone(), None),
        (None, Some(_)) => {
            return Err(ToolError::invalid_arguments(
                "under --scope-tag give `workflow_id`, so the scope can be checked",
            ));
        }
        _ => return Err(ToolError::invalid_arguments("give exactly one of `workflow_id` and `path`")),
    };
    // A caller's `path` is a URL path (percent-encoded); a Webhook node's is literal.
    let segments = crate::n8n::webhook_segments(&path, a.path.is_some())?;
    let method_s = a.method.clone().or(node_method).unwrap_or_else(|| "POST".into()).to_uppercase();
    let method = match method_s.as_str() {
        "GET" => Method::GET,
        "POST" => Method::POST,
        "PUT" => Method::PUT,
        "PATCH" => Method::PATCH,
        "DELETE" => Method::DELETE,
        "HEAD" => Method::HEAD,
        other => {
            return Err(ToolError::invalid_arguments(format!(
                "`method`: `{other}` (GET, POST, PUT, PATCH, DELETE, HEAD)"
            )));
        }
    };
    let mut headers = Vec::new();
    for (k, v) in a.headers.unwrap_or_default() {
        let lk = k.to_ascii_lowercase();
        if FORBIDDEN_HEADERS.contains(&lk.as_str()) || reqwest::header::HeaderName::from_bytes(k.as_bytes()).is_err() {
            return Err(ToolError::invalid_arguments(format!("`headers`: `{k}` cannot be set")));
        }
        if reqwest::header::HeaderValue::from_str(&v).is_err() {
            return Err(ToolError::invalid_arguments(format!(
                "`headers`: the value of `{k}` is not a valid header value"
            )));
        }
        headers.push((k, v));
    }
    let query: Vec<(String, String)> = a.query.unwrap_or_default().into_iter().collect();
    let timeout =
        a.timeout_secs.map(Duration::from_secs).unwrap_or(n8n.settings.webhook_timeout).max(Duration::from_secs(1));
    let prefix = if a.test { "webhook-test" } else { "webhook" };
    let url = inst.webhook_url(prefix, &segments)?;
    let shown = url.path().to_string();
    let body = if matches!(method, Method::GET | Method::HEAD) { None } else { a.body.as_ref() };
    let before = latest_execution(&inst, a.workflow_id.as_deref()).await;
    // n8n answers 404 for a moment right after publishing: retry briefly.
    let mut attempt = 0;
    let (status, resp_headers, bytes) = loop {
        let r = inst.webhook(&url, method.clone(), &query, &headers, body, timeout).await?;
        if r.0.as_u16() == 404 && !a.test && attempt < 5 {
            attempt += 1;
            tokio::time::sleep(Duration::from_millis(200)).await;
            continue;
        }
        break r;
    };
    let text = String::from_utf8_lossy(&bytes).into_owned();
    let json_body: Option<Value> = serde_json::from_slice(&bytes).ok();
    if status.as_u16() == 404 {
        let n8n_msg = json_body.as_ref().and_then(|b| b["message"].as_str()).unwrap_or(&text);
        return Err(ToolError::not_found(format!(
            "the webhook {method_s} {shown} is not registered on `{}` (404: {}). {}",
            inst.name(),
            clip(n8n_msg, 200),
            if a.test {
                "The test URL answers only while the workflow listens for a test event (run_workflow starts that)."
            } else {
                "Publish the workflow (publish_workflow) and check the method and path (get_workflow lists its webhooks)."
            }
        )));
    }
    let mut body_out = json_body.unwrap_or(Value::String(text));
    if !n8n.settings.show_secrets {
        body_out = redact_json(&body_out, &[]);
    }
    let truncated = fit_json(&mut body_out, n8n.settings.max_result_bytes);
    let execution_id = match &a.workflow_id {
        Some(_) => {
            let after = latest_execution(&inst, a.workflow_id.as_deref()).await;
            if after.is_some() && after != before { after } else { None }
        }
        None => None,
    };
    Ok(rendered(WebhookAnswer {
        status: status.as_u16(),
        ok: status.is_success(),
        url: url.to_string(),
        headers: resp_headers.into_iter().collect(),
        body: body_out,
        truncated: truncated.then(|| "the body was cut to the result budget".to_string()),
        execution_id,
    }))
}

/// The newest execution of a workflow, to tell which one a webhook call started.
async fn latest_execution(inst: &Instance, workflow_id: Option<&str>) -> Option<String> {
    let id = workflow_id?;
    let page = inst.get("/executions", &[("workflowId", id.to_string()), ("limit", "1".into())]).await.ok()?;
    page["data"][0]["id"].as_str().map(str::to_string).or_else(|| page["data"][0]["id"].as_i64().map(|i| i.to_string()))
}

mcp_core::tool_args! {
    instance: "Instance name (required when several are configured).";
    pub struct RunArgs {
        /// Workflow id.
        id: String,
        /// Wait for the run to finish (up to `timeout_secs`) and return its summary.
        #[serde(default)]
        wait: bool,
        /// Longest to wait, in seconds (default 60).
        timeout_secs: Option<u64>,
    }
}

/// What run_workflow did.
#[derive(Debug, JsonSchema)]
#[serde(untagged)]
#[allow(dead_code, clippy::large_enum_variant)] // Only its schema is used: the outcome is built as JSON.
pub enum RunOutcome {
    /// With `wait`, finished: the execution's summary.
    Finished(crate::tools::executions::ExecutionView),
    /// Started (or, with `wait`, still running when the wait ended).
    Started(Started),
    /// The workflow listens for one test event.
    Listening(Listening),
    /// Without a login: the published workflow run through its webhook.
    Webhook(WebhookAnswer),
}

/// A run started.
#[derive(Debug, Serialize, JsonSchema)]
pub struct Started {
    /// Workflow id.
    id: String,
    /// The execution started.
    execution_id: String,
    /// With `wait`: false, it had not finished.
    #[serde(skip_serializing_if = "Option::is_none")]
    finished: Option<bool>,
    /// How to follow it.
    note: String,
}

/// A workflow waiting for its test event.
#[derive(Debug, Serialize, JsonSchema)]
pub struct Listening {
    /// Workflow id.
    id: String,
    /// Always true.
    waiting_for_webhook: bool,
    /// What to do now.
    note: String,
}

async fn run_workflow(n8n: Arc<N8n>, ctx: Context, a: RunArgs) -> Result<Prebuilt<RunOutcome>, ToolError> {
    let inst = n8n.instances.for_write(a.instance.as_deref())?;
    let wf = fetch_workflow(&n8n, &inst, &a.id).await?;
    if inst.config.login.is_none() {
        let webhook = wf["nodes"].as_array().into_iter().flatten().any(|n| n["type"] == "n8n-nodes-base.webhook");
        if webhook && wf["active"] == true {
            let args = WebhookArgs {
                instance: a.instance.clone(),
                workflow_id: Some(a.id.clone()),
                node: None,
                path: None,
                test: false,
                method: None,
                body: None,
                query: None,
                headers: None,
                timeout_secs: a.timeout_secs,
            };
            let answer = run_webhook(n8n, ctx, args).await?;
            return Ok(prebuilt(json!(answer.data)));
        }
        return Err(ToolError::refused(format!(
            "n8n's Public API cannot run a workflow by id. Configure a login for `{}` (--email with \
             --password-file, or email/password_file in the instances file) so the internal REST API can, or give \
             the workflow a Webhook trigger, publish it and use run_webhook.",
            inst.name()
        )));
    }
    // The editor's manual run: the workflow as saved, started from its first trigger.
    let trigger = wf["nodes"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|n| n["type"].as_str().is_some_and(is_trigger_type) && n["disabled"] != true)
        .and_then(|n| n["name"].as_str())
        .map(str::to_string);
    let mut body = json!({"workflowData": wf});
    if let Some(t) = &trigger {
        body["triggerToStartFrom"] = json!({"name": t});
    }
    let started =
        inst.rest(Method::POST, &format!("/workflows/{}/run", a.id), Some(&body)).await?.unwrap_or(Value::Null);
    let exec_id = started["executionId"]
        .as_str()
        .map(str::to_string)
        .or_else(|| started["executionId"].as_i64().map(|i| i.to_string()));
    let Some(exec_id) = exec_id else {
        if started["waitingForWebhook"] == true {
            let note = "the workflow listens for one test event: call run_webhook with test: true now".into();
            return Ok(prebuilt(json!(Listening { id: a.id, waiting_for_webhook: true, note })));
        }
        return Err(ToolError::failed(format!("n8n did not start an execution: {}", clip(&started.to_string(), 300))));
    };
    if !a.wait {
        let note = "wait_execution follows it".into();
        return Ok(prebuilt(json!(Started { id: a.id, execution_id: exec_id, finished: None, note })));
    }
    match wait_summary(&n8n, &inst, &ctx, &exec_id, a.timeout_secs).await? {
        Some(summary) => Ok(prebuilt(summary)),
        None => {
            let note = "still running; wait_execution follows it".into();
            Ok(prebuilt(json!(Started { id: a.id, execution_id: exec_id, finished: Some(false), note })))
        }
    }
}

/// Waits up to `timeout_secs` (default 60, most 600) for an execution to finish, with
/// progress notifications; its summary, or `None` while it still runs.
pub async fn wait_summary(
    n8n: &N8n,
    inst: &Instance,
    ctx: &Context,
    exec_id: &str,
    timeout_secs: Option<u64>,
) -> Result<Option<Value>, ToolError> {
    let timeout = Duration::from_secs(timeout_secs.unwrap_or(60).clamp(1, 600));
    let start = std::time::Instant::now();
    loop {
        let e = fetch_execution(n8n, inst, exec_id, false).await;
        if let Ok(e) = &e
            && ExecutionStatus::of(&e["status"]).finished()
        {
            return Ok(Some(read_summary(n8n, inst, exec_id).await?));
        }
        if start.elapsed() >= timeout {
            return Ok(None);
        }
        ctx.progress(start.elapsed().as_secs_f64(), Some(timeout.as_secs_f64()), Some("running"));
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
}
