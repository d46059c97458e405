//! Workflows, reading: list, read (compact or full), versions. The changes are
//! `changes.rs`'s.

use std::sync::Arc;

use mcp_core::connector::fit_json;
use mcp_core::output::Prebuilt;
use mcp_core::server::ServerBuilder;
use mcp_core::{Context, ToolError, tool_with};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

use super::shared::{check_id, fetch_workflow, in_scope, tag_names};
use crate::n8n::{Instance, N8n};
use crate::output::{Out, cursor_note, obj, prebuilt, rendered, some, text};

pub fn register(b: ServerBuilder, n: &Arc<N8n>) -> ServerBuilder {
    b.tools_in("workflows", [
        tool_with("list_workflows", n, list_workflows)
            .description(
                "List workflows as compact rows (id, name, published, archived, tags, node count, trigger types). \
                 Filters: active, tags (all must match), name (substring), project_id. Pages: pass `cursor` from \
                 the previous answer's `next_cursor`.",
            )
            .read_only(),
        tool_with("get_workflow", n, get_workflow)
            .description(
                "Read a workflow. mode `compact` (default): nodes with type, version and short parameters, edges as \
                 `A -> B` lines, settings, webhook URLs. mode `full`: the whole JSON (cut to the budget, saying so). \
                 `nodes`: only these nodes, in full.",
            )
            .read_only(),
        tool_with("workflow_versions", n, workflow_versions)
            .description(
                "A workflow's saved versions (n8n's history, newest first) plus the snapshots this server took \
                 before its own changes. Use a version id with get_workflow_version or rollback_workflow.",
            )
            .read_only(),
        tool_with("get_workflow_version", n, get_workflow_version)
            .description("One saved version of a workflow (compact unless mode is `full`).")
            .read_only(),
    ])
}

mcp_core::tool_args! {
    instance: "Instance name (default: the first configured).";
    pub struct ListArgs {
        /// Only published (true) or unpublished (false) workflows.
        active: Option<bool>,
        /// Only workflows carrying all these tags.
        #[serde(default)]
        tags: Vec<String>,
        /// Only workflows whose name contains this.
        name: Option<String>,
        /// Only workflows of this project.
        project_id: Option<String>,
        /// Rows per page (default and most: --max-rows).
        limit: Option<usize>,
        /// `next_cursor` of the previous page.
        cursor: Option<String>,
    }
}

/// One page of workflows.
#[derive(Debug, Serialize, JsonSchema)]
pub struct WorkflowList {
    /// The instance listed.
    instance: String,
    /// Rows on this page.
    count: usize,
    /// The workflows, compact.
    workflows: Vec<WorkflowRow>,
    /// Pass as `cursor` for the next page.
    #[serde(skip_serializing_if = "Option::is_none")]
    next_cursor: Option<String>,
    /// Says more workflows are left, and how to get them.
    #[serde(skip_serializing_if = "Option::is_none")]
    note: Option<String>,
}

/// The compact row of a workflow.
#[derive(Debug, Serialize, JsonSchema)]
pub struct WorkflowRow {
    /// Workflow id.
    id: String,
    /// Its name.
    name: String,
    /// Whether it is published (active).
    active: bool,
    /// Present, true, when it is archived.
    #[serde(skip_serializing_if = "Option::is_none")]
    archived: Option<bool>,
    /// Its tags' names.
    tags: Vec<String>,
    /// How many nodes it has.
    nodes: usize,
    /// The types of its trigger nodes.
    triggers: Vec<String>,
    /// When it was last changed (RFC 3339).
    #[serde(skip_serializing_if = "Option::is_none")]
    updated: Option<String>,
}

/// Whether a node type starts workflows, by its name.
pub fn is_trigger_type(t: &str) -> bool {
    t.ends_with("Trigger") || t.ends_with(".webhook")
}

fn row(wf: &Value) -> WorkflowRow {
    let nodes = wf["nodes"].as_array();
    let triggers = nodes
        .into_iter()
        .flatten()
        .filter_map(|n| n["type"].as_str())
        .filter(|t| is_trigger_type(t))
        .map(str::to_string);
    WorkflowRow {
        id: text(&wf["id"]).unwrap_or_default(),
        name: text(&wf["name"]).unwrap_or_default(),
        active: wf["active"] == true,
        archived: wf["isArchived"].as_bool().filter(|a| *a),
        tags: tag_names(wf),
        nodes: nodes.map_or(0, Vec::len),
        triggers: triggers.collect(),
        updated: text(&wf["updatedAt"]),
    }
}

async fn list_workflows(n8n: Arc<N8n>, _ctx: Context, a: ListArgs) -> Out<WorkflowList> {
    let inst = n8n.instances.for_read(a.instance.as_deref())?;
    let limit = a.limit.unwrap_or(n8n.settings.max_rows).clamp(1, n8n.settings.max_rows);
    let mut tags = a.tags.clone();
    if let Some(t) = &n8n.settings.scope_tag {
        tags.push(t.clone());
    }
    let mut q: Vec<(&str, String)> = vec![("limit", limit.to_string()), ("excludePinnedData", "true".into())];
    if let Some(active) = a.active {
        q.push(("active", active.to_string()));
    }
    if !tags.is_empty() {
        q.push(("tags", tags.join(",")));
    }
    if let Some(name) = &a.name {
        q.push(("name", name.clone()));
    }
    if let Some(p) = &a.project_id {
        q.push(("projectId", p.clone()));
    }
    if let Some(c) = &a.cursor {
        q.push(("cursor", c.clone()));
    }
    let page = inst.get("/workflows", &q).await?;
    // n8n matches any of the tags; every one must match here (and the scope tag always).
    let rows: Vec<WorkflowRow> = page["data"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|wf| {
            let have = tag_names(wf);
            tags.iter().all(|t| have.contains(t)) && in_scope(&n8n, wf)
        })
        .map(row)
        .collect();
    let next = page["nextCursor"].as_str().map(str::to_string);
    let note = cursor_note(rows.len(), "workflows", next.as_deref(), "filter by name, tags or active");
    Ok(rendered(WorkflowList {
        instance: inst.name().to_string(),
        count: rows.len(),
        workflows: rows,
        next_cursor: next,
        note,
    }))
}

mcp_core::tool_args! {
    instance: "Instance name (default: the first configured).";
    pub struct GetArgs {
        /// Workflow id.
        pub id: String,
        /// `compact` (default) or `full`.
        #[schemars(with = "Option<String>")]
        pub mode: Option<WorkflowMode>,
        /// Only these nodes, with all their parameters.
        #[serde(default)]
        pub nodes: Vec<String>,
    }
}

/// How much of a workflow a read shows.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum WorkflowMode {
    /// Nodes with short parameters, edges as lines, webhook URLs.
    #[default]
    Compact,
    /// n8n's whole document, cut to the budget.
    Full,
}

/// A workflow as get_workflow and get_workflow_version show it: compact (the fields
/// below), `full` (n8n's own document, with its own keys beside these), or the chosen
/// `nodes` in full. Parts past the result budget are cut and marked in place.
#[derive(Debug, JsonSchema)]
#[allow(dead_code)] // Only its schema is used: the view is built as JSON.
pub struct WorkflowView {
    /// Workflow id.
    id: String,
    /// Its name.
    name: Option<String>,
    /// Whether it is published (active).
    active: Option<bool>,
    /// Whether it is archived.
    archived: Option<bool>,
    /// The saved version shown.
    version_id: Option<String>,
    /// The published version, if any.
    published_version_id: Option<String>,
    /// Its tags' names (cut strings mark what was left out).
    tags: Option<Value>,
    /// Its settings, as n8n keeps them.
    settings: Option<Value>,
    /// Nodes: compact rows (name, type, version, short parameters, credentials' names),
    /// or n8n's nodes in full.
    nodes: Option<Value>,
    /// Connections as `A -> B` lines (`A[1] -> B` for a second output).
    edges: Option<Value>,
    /// Production and test URLs of its Webhook nodes.
    webhooks: Option<Value>,
    /// When it was last changed (RFC 3339).
    updated: Option<String>,
    /// Says the view was cut to the result budget, and how to see the rest.
    truncated: Option<String>,
}

/// Short text of a parameter value for the compact view.
fn short(v: &Value) -> Value {
    match v {
        Value::String(s) => json!(crate::output::clip(s, 160)),
        Value::Object(_) | Value::Array(_) => {
            let s = v.to_string();
            if s.len() > 200 {
                json!(format!("{} …({} bytes)", crate::output::clip(&s, 160), s.len()))
            } else {
                v.clone()
            }
        }
        other => other.clone(),
    }
}

/// Connections as `A -> B` lines (`A[1] -> B` for a second output, `(ai_tool)` for other kinds).
pub fn edges(connections: &Value) -> Vec<String> {
    let mut out = Vec::new();
    for (source, kinds) in connections.as_object().into_iter().flatten() {
        for (kind, slots) in kinds.as_object().into_iter().flatten() {
            for (i, slot) in slots.as_array().into_iter().flatten().enumerate() {
                for t in slot.as_array().into_iter().flatten() {
                    let target = t["node"].as_str().unwrap_or("?");
                    let out_idx = if i > 0 { format!("[{i}]") } else { String::new() };
                    let in_idx = t["index"].as_u64().filter(|x| *x > 0).map(|x| format!("[{x}]")).unwrap_or_default();
                    let kind_s = if kind == "main" { String::new() } else { format!(" ({kind})") };
                    out.push(format!("{source}{out_idx} -> {target}{in_idx}{kind_s}"));
                }
            }
        }
    }
    out
}

/// A Webhook node's URLs.
#[derive(Debug, Serialize, JsonSchema)]
pub struct WebhookUrls {
    /// The Webhook node.
    node: String,
    /// The HTTP method it listens for.
    method: String,
    /// Its production URL (answers while the workflow is published).
    production: String,
    /// Its test URL (answers while the editor or run_workflow listens).
    test: String,
}

/// Production and test URLs of a workflow's webhook nodes.
pub fn webhook_urls(inst: &Instance, wf: &Value) -> Vec<WebhookUrls> {
    wf["nodes"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|n| n["type"] == "n8n-nodes-base.webhook")
        .filter_map(|n| {
            let path = n["parameters"]["path"].as_str()?.trim_matches('/');
            Some(WebhookUrls {
                node: text(&n["name"]).unwrap_or_default(),
                method: n["parameters"]["httpMethod"].as_str().unwrap_or("GET").to_string(),
                production: format!("{}/webhook/{path}", inst.config.url),
                test: format!("{}/webhook-test/{path}", inst.config.url),
            })
        })
        .collect()
}

pub fn compact(inst: &Instance, wf: &Value) -> Value {
    let nodes: Vec<Value> = wf["nodes"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|n| {
            let params: Map<String, Value> =
                n["parameters"].as_object().into_iter().flatten().map(|(k, v)| (k.clone(), short(v))).collect();
            let creds: Vec<String> = n["credentials"]
                .as_object()
                .into_iter()
                .flatten()
                .map(|(k, v)| format!("{k}: {}", v["name"].as_str().unwrap_or("?")))
                .collect();
            obj([
                ("name", n["name"].clone()),
                ("type", n["type"].clone()),
                ("version", n["typeVersion"].clone()),
                ("disabled", if n["disabled"] == true { json!(true) } else { Value::Null }),
                ("parameters", if params.is_empty() { Value::Null } else { Value::Object(params) }),
                ("credentials", if creds.is_empty() { Value::Null } else { json!(creds) }),
            ])
        })
        .collect();
    obj([
        ("id", wf["id"].clone()),
        ("name", wf["name"].clone()),
        ("active", wf["active"].clone()),
        ("archived", wf["isArchived"].clone()),
        ("version_id", wf["versionId"].clone()),
        ("published_version_id", wf["activeVersionId"].clone()),
        ("tags", json!(tag_names(wf))),
        ("settings", wf["settings"].clone()),
        ("nodes", Value::Array(nodes)),
        ("edges", json!(edges(&wf["connections"]))),
        ("webhooks", {
            let w = webhook_urls(inst, wf);
            if w.is_empty() { Value::Null } else { json!(w) }
        }),
        ("updated", wf["updatedAt"].clone()),
    ])
}

/// `compact`, `full`, or the chosen nodes in full, bounded by the budget.
fn shape(
    n8n: &N8n,
    inst: &Instance,
    wf: &Value,
    mode: Option<WorkflowMode>,
    nodes: &[String],
) -> Result<Value, ToolError> {
    let mut out = if !nodes.is_empty() {
        let picked: Vec<Value> = wf["nodes"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|n| n["name"].as_str().is_some_and(|name| nodes.iter().any(|x| x == name)))
            .cloned()
            .collect();
        let missing: Vec<&String> =
            nodes.iter().filter(|x| !picked.iter().any(|n| n["name"].as_str() == Some(x.as_str()))).collect();
        if !missing.is_empty() {
            return Err(ToolError::invalid_arguments(format!("`nodes`: no node named {missing:?} in this workflow")));
        }
        json!({"id": wf["id"], "name": wf["name"], "version_id": wf["versionId"], "nodes": picked})
    } else {
        match mode.unwrap_or_default() {
            WorkflowMode::Compact => compact(inst, wf),
            WorkflowMode::Full => wf.clone(),
        }
    };
    if fit_json(&mut out, n8n.settings.max_result_bytes)
        && let Value::Object(m) = &mut out
    {
        m.insert(
            "truncated".into(),
            json!("cut to the result budget: read single nodes with `nodes: [names]` to see them whole"),
        );
    }
    Ok(out)
}

async fn get_workflow(n8n: Arc<N8n>, _ctx: Context, a: GetArgs) -> Result<Prebuilt<WorkflowView>, ToolError> {
    let inst = n8n.instances.for_read(a.instance.as_deref())?;
    let wf = fetch_workflow(&n8n, &inst, &a.id).await?;
    Ok(prebuilt(shape(&n8n, &inst, &wf, a.mode, &a.nodes)?))
}

mcp_core::tool_args! {
    instance: "Instance name (default: the first configured).";
    pub struct VersionsArgs {
        /// Workflow id.
        id: String,
        /// Versions per page (default 20, most 100).
        limit: Option<usize>,
        /// `next_cursor` of the previous page.
        cursor: Option<String>,
    }
}

fn history_query(limit: usize, cursor: Option<&str>) -> Vec<(&'static str, String)> {
    let mut q = vec![("limit", limit.to_string())];
    if let Some(c) = cursor {
        q.push(("cursor", c.to_string()));
    }
    q
}

/// A workflow's saved versions.
#[derive(Debug, Serialize, JsonSchema)]
pub struct Versions {
    /// Workflow id.
    id: String,
    /// The version saved now.
    current_version_id: Option<String>,
    /// n8n's history, newest first.
    versions: Vec<VersionRow>,
    /// Versions this server snapshotted before its own changes, newest first.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    snapshots: Vec<Snapshot>,
    /// Pass as `cursor` for older versions.
    #[serde(skip_serializing_if = "Option::is_none")]
    next_cursor: Option<String>,
    /// Says why n8n's history is missing, when it is.
    #[serde(skip_serializing_if = "Option::is_none")]
    note: Option<String>,
}

/// One version in n8n's history.
#[derive(Debug, Serialize, JsonSchema)]
pub struct VersionRow {
    /// Version id (for get_workflow_version and rollback_workflow).
    version_id: String,
    /// When it was saved (RFC 3339).
    #[serde(skip_serializing_if = "Option::is_none")]
    created: Option<String>,
    /// Who saved it.
    #[serde(skip_serializing_if = "Option::is_none")]
    authors: Option<Value>,
    /// The workflow's name in that version.
    #[serde(skip_serializing_if = "Option::is_none")]
    name: Option<Value>,
    /// Whether it is the version saved now.
    current: bool,
    /// Whether it is the published version.
    published: bool,
}

/// A version this server snapshotted.
#[derive(Debug, Serialize, JsonSchema)]
pub struct Snapshot {
    /// Version id.
    version_id: String,
    /// When that version was saved (RFC 3339).
    #[serde(skip_serializing_if = "Option::is_none")]
    updated: Option<String>,
}

async fn workflow_versions(n8n: Arc<N8n>, _ctx: Context, a: VersionsArgs) -> Out<Versions> {
    let inst = n8n.instances.for_read(a.instance.as_deref())?;
    let wf = fetch_workflow(&n8n, &inst, &a.id).await?;
    let limit = a.limit.unwrap_or(20).clamp(1, 100);
    let history = inst.get(&format!("/workflows/{}/history", a.id), &history_query(limit, a.cursor.as_deref())).await;
    let (versions, next_cursor, note) = match history {
        Ok(v) => (v["data"].as_array().cloned().unwrap_or_default(), text(&v["nextCursor"]), None),
        Err(e) => (Vec::new(), None, Some(format!("n8n's history is not available: {e}"))),
    };
    let versions = versions
        .iter()
        .map(|v| VersionRow {
            version_id: text(&v["versionId"]).unwrap_or_default(),
            created: text(&v["createdAt"]),
            authors: some(&v["authors"]),
            name: some(&v["name"]),
            current: v["versionId"] == wf["versionId"],
            published: v["versionId"] == wf["activeVersionId"] && !wf["activeVersionId"].is_null(),
        })
        .collect();
    let snapshots = inst
        .snapshots
        .lock()
        .await
        .iter()
        .rev()
        .filter(|(id, _, _)| *id == a.id)
        .map(|(_, v, body)| Snapshot { version_id: v.clone(), updated: text(&body["updatedAt"]) })
        .collect();
    let current_version_id = text(&wf["versionId"]);
    Ok(rendered(Versions { id: a.id, current_version_id, versions, snapshots, next_cursor, note }))
}

mcp_core::tool_args! {
    instance: "Instance name (default: the first configured).";
    pub struct VersionArgs {
        /// Workflow id.
        id: String,
        /// Version id (from workflow_versions).
        version_id: String,
        /// `compact` (default) or `full`.
        #[schemars(with = "Option<String>")]
        mode: Option<WorkflowMode>,
    }
}

/// A version's body: this server's snapshot, or n8n's history.
pub async fn version_body(inst: &Instance, id: &str, version: &str) -> Result<Value, ToolError> {
    check_id("version_id", version)?;
    if let Some((_, _, body)) = inst.snapshots.lock().await.iter().rev().find(|(i, v, _)| i == id && v == version) {
        return Ok(body.clone());
    }
    inst.get(&format!("/workflows/{id}/versions/{version}"), &[]).await
}

async fn get_workflow_version(
    n8n: Arc<N8n>,
    _ctx: Context,
    a: VersionArgs,
) -> Result<Prebuilt<WorkflowView>, ToolError> {
    let inst = n8n.instances.for_read(a.instance.as_deref())?;
    let wf = fetch_workflow(&n8n, &inst, &a.id).await?;
    let mut body = version_body(&inst, &a.id, &a.version_id).await?;
    if let Value::Object(m) = &mut body {
        m.entry("id").or_insert(wf["id"].clone());
        m.entry("name").or_insert(wf["name"].clone());
    }
    Ok(prebuilt(shape(&n8n, &inst, &body, a.mode, &[])?))
}
