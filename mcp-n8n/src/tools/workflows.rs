//! Workflows: list, read (compact or full), create, update (whole or by operations),
//! delete, archive, publish, versions and rollback, tags. Every write is validated
//! against the instance's node types first and snapshots the workflow as it was, so
//! `rollback_workflow` can bring any earlier version back.

use std::sync::Arc;

use mcp_core::server::ServerBuilder;
use mcp_core::{Context, Json, ToolError, tool_with};
use reqwest::Method;
use schemars::JsonSchema;
use serde::Deserialize;
use serde_json::{Map, Value, json};

use super::{check_id, fetch_workflow, in_scope, tag_names};
use crate::n8n::{Instance, N8n};
use crate::output::obj;
use crate::validate::{Catalog, Problem, SETTINGS_KEYS, validate};
use mcp_core::connector::fit_json;

pub fn register(b: ServerBuilder, n: &Arc<N8n>) -> ServerBuilder {
    b.tool(
        tool_with("list_workflows", n, list_workflows)
            .toolset("workflows")
            .description(
                "List workflows as compact rows (id, name, published, archived, tags, node count, trigger types). \
                 Filters: active, tags (all must match), name (substring), project_id. Pages: pass `cursor` from \
                 the previous answer's `next_cursor`.",
            )
            .read_only(),
    )
    .tool(
        tool_with("get_workflow", n, get_workflow)
            .toolset("workflows")
            .description(
                "Read a workflow. mode `compact` (default): nodes with type, version and short parameters, edges as \
                 `A -> B` lines, settings, webhook URLs. mode `full`: the whole JSON (cut to the budget, saying so). \
                 `nodes`: only these nodes, in full.",
            )
            .read_only(),
    )
    .tool(
        tool_with("workflow_versions", n, workflow_versions)
            .toolset("workflows")
            .description(
                "A workflow's saved versions (n8n's history, newest first) plus the snapshots this server took \
                 before its own changes. Use a version id with get_workflow_version or rollback_workflow.",
            )
            .read_only(),
    )
    .tool(
        tool_with("get_workflow_version", n, get_workflow_version)
            .toolset("workflows")
            .description("One saved version of a workflow (compact unless mode is `full`).")
            .read_only(),
    )
    .tool(
        tool_with("create_workflow", n, create_workflow)
            .toolset("workflows")
            .description(
                "Create a workflow from nodes and connections (n8n's JSON). It is validated against this instance's \
                 node types and versions first; every problem is listed and nothing is saved if any is an error. \
                 Under --scope-tag the scope tag is added.",
            )
            .additive(),
    )
    .tool(
        tool_with("update_workflow", n, update_workflow)
            .toolset("workflows")
            .description(
                "Replace parts of a workflow: any of name, nodes, connections, settings (what you leave out is kept). \
                 Validated before saving; the previous version is snapshotted and returned as \
                 `previous_version_id` for rollback_workflow.",
            )
            .destructive(),
    )
    .tool(
        tool_with("edit_workflow", n, edit_workflow)
            .toolset("workflows")
            .description(
                "Change a workflow by operations applied in order: add_node, remove_node (and its connections), \
                 update_node (parameters merged; null removes a key), rename_node (connections follow), connect, \
                 disconnect, rename_workflow, update_settings. The result is validated as a whole before saving; \
                 `validate_only` shows the result's problems without saving. Snapshot before the write.",
            )
            .destructive(),
    )
    .tool(
        tool_with("rollback_workflow", n, rollback_workflow)
            .toolset("workflows")
            .description(
                "Bring a workflow back to an earlier version (from workflow_versions): its nodes, connections and \
                 settings are saved as a new version (the current one is snapshotted first).",
            )
            .destructive(),
    )
    .tool(
        tool_with("delete_workflow", n, delete_workflow)
            .toolset("workflows")
            .description("Delete a workflow for good (a snapshot is kept in this server's memory).")
            .destructive(),
    )
    .tool(
        tool_with("archive_workflow", n, archive_workflow)
            .toolset("workflows")
            .description("Archive a workflow (unpublished and hidden, reversible with unarchive_workflow).")
            .destructive(),
    )
    .tool(
        tool_with("unarchive_workflow", n, unarchive_workflow)
            .toolset("workflows")
            .description("Bring an archived workflow back.")
            .additive()
            .idempotent(),
    )
    .tool(
        tool_with("publish_workflow", n, publish_workflow)
            .toolset("workflows")
            .description(
                "Publish (activate) a workflow so its triggers and production webhooks run. Refused when validation \
                 finds an error (including: no trigger), listing every problem.",
            )
            .additive()
            .idempotent(),
    )
    .tool(
        tool_with("unpublish_workflow", n, unpublish_workflow)
            .toolset("workflows")
            .description("Unpublish (deactivate) a workflow.")
            .destructive()
            .idempotent(),
    )
    .tool(
        tool_with("set_workflow_tags", n, set_workflow_tags)
            .toolset("workflows")
            .description("Set a workflow's tags by name (missing tags are created). The scope tag cannot be removed.")
            .destructive()
            .idempotent(),
    )
}

/// The instance argument, shared by every tool.
#[derive(Debug, Deserialize, JsonSchema)]
pub struct IdArgs {
    /// Instance name (default: the first configured).
    #[serde(default)]
    pub instance: Option<String>,
    /// Workflow id.
    pub id: String,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ListArgs {
    /// Instance name (default: the first configured).
    #[serde(default)]
    instance: Option<String>,
    /// Only published (true) or unpublished (false) workflows.
    #[serde(default)]
    active: Option<bool>,
    /// Only workflows carrying all these tags.
    #[serde(default)]
    tags: Vec<String>,
    /// Only workflows whose name contains this.
    #[serde(default)]
    name: Option<String>,
    /// Only workflows of this project.
    #[serde(default)]
    project_id: Option<String>,
    /// Rows per page (default and most: --max-rows).
    #[serde(default)]
    limit: Option<usize>,
    /// `next_cursor` of the previous page.
    #[serde(default)]
    cursor: Option<String>,
}

/// The compact row of a workflow.
fn row(wf: &Value) -> Value {
    let nodes = wf["nodes"].as_array();
    let triggers: Vec<&str> = nodes
        .into_iter()
        .flatten()
        .filter_map(|n| n["type"].as_str())
        .filter(|t| t.ends_with("Trigger") || t.ends_with(".webhook"))
        .collect();
    obj([
        ("id", wf["id"].clone()),
        ("name", wf["name"].clone()),
        ("active", wf["active"].clone()),
        ("archived", wf["isArchived"].clone().as_bool().filter(|a| *a).map(Value::Bool).unwrap_or(Value::Null)),
        ("tags", json!(tag_names(wf))),
        ("nodes", json!(nodes.map_or(0, Vec::len))),
        ("triggers", json!(triggers)),
        ("updated", wf["updatedAt"].clone()),
    ])
}

async fn list_workflows(n8n: Arc<N8n>, _ctx: Context, a: ListArgs) -> Result<Json<Value>, ToolError> {
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
    let rows: Vec<Value> = page["data"]
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
    Ok(Json(obj([
        ("instance", json!(inst.name())),
        ("count", json!(rows.len())),
        ("workflows", Value::Array(rows)),
        ("next_cursor", json!(next)),
        ("note", if next.is_some() { json!("more workflows: call again with this next_cursor") } else { Value::Null }),
    ])))
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct GetArgs {
    /// Instance name (default: the first configured).
    #[serde(default)]
    pub instance: Option<String>,
    /// Workflow id.
    pub id: String,
    /// `compact` (default) or `full`.
    #[serde(default)]
    pub mode: Option<String>,
    /// Only these nodes, with all their parameters.
    #[serde(default)]
    pub nodes: Vec<String>,
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

/// Production and test URLs of a workflow's webhook nodes.
fn webhook_urls(inst: &Instance, wf: &Value) -> Vec<Value> {
    wf["nodes"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|n| n["type"] == "n8n-nodes-base.webhook")
        .filter_map(|n| {
            let path = n["parameters"]["path"].as_str()?.trim_matches('/');
            Some(json!({
                "node": n["name"],
                "method": n["parameters"]["httpMethod"].as_str().unwrap_or("GET"),
                "production": format!("{}/webhook/{path}", inst.config.url),
                "test": format!("{}/webhook-test/{path}", inst.config.url),
            }))
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
            if w.is_empty() { Value::Null } else { Value::Array(w) }
        }),
        ("updated", wf["updatedAt"].clone()),
    ])
}

/// `compact`, `full`, or the chosen nodes in full, bounded by the budget.
fn shape(n8n: &N8n, inst: &Instance, wf: &Value, mode: Option<&str>, nodes: &[String]) -> Result<Value, ToolError> {
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
        match mode.unwrap_or("compact") {
            "compact" => compact(inst, wf),
            "full" => wf.clone(),
            other => return Err(ToolError::invalid_arguments(format!("`mode`: `{other}` is not compact or full"))),
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

async fn get_workflow(n8n: Arc<N8n>, _ctx: Context, a: GetArgs) -> Result<Json<Value>, ToolError> {
    let inst = n8n.instances.for_read(a.instance.as_deref())?;
    let wf = fetch_workflow(&n8n, &inst, &a.id).await?;
    Ok(Json(shape(&n8n, &inst, &wf, a.mode.as_deref(), &a.nodes)?))
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct VersionsArgs {
    /// Instance name (default: the first configured).
    #[serde(default)]
    instance: Option<String>,
    /// Workflow id.
    id: String,
    /// Versions per page (default 20, most 100).
    #[serde(default)]
    limit: Option<usize>,
    /// `next_cursor` of the previous page.
    #[serde(default)]
    cursor: Option<String>,
}

fn history_query(limit: usize, cursor: Option<&str>) -> Vec<(&'static str, String)> {
    let mut q = vec![("limit", limit.to_string())];
    if let Some(c) = cursor {
        q.push(("cursor", c.to_string()));
    }
    q
}

async fn workflow_versions(n8n: Arc<N8n>, _ctx: Context, a: VersionsArgs) -> Result<Json<Value>, ToolError> {
    let inst = n8n.instances.for_read(a.instance.as_deref())?;
    let wf = fetch_workflow(&n8n, &inst, &a.id).await?;
    let limit = a.limit.unwrap_or(20).clamp(1, 100);
    let history = inst.get(&format!("/workflows/{}/history", a.id), &history_query(limit, a.cursor.as_deref())).await;
    let (versions, next, note) = match history {
        Ok(v) => (v["data"].as_array().cloned().unwrap_or_default(), v["nextCursor"].clone(), Value::Null),
        Err(e) => (Vec::new(), Value::Null, json!(format!("n8n's history is not available: {e}"))),
    };
    let versions: Vec<Value> = versions
        .iter()
        .map(|v| {
            obj([
                ("version_id", v["versionId"].clone()),
                ("created", v["createdAt"].clone()),
                ("authors", v["authors"].clone()),
                ("name", v["name"].clone()),
                ("current", json!(v["versionId"] == wf["versionId"])),
                ("published", json!(v["versionId"] == wf["activeVersionId"] && !wf["activeVersionId"].is_null())),
            ])
        })
        .collect();
    let snaps: Vec<Value> = inst
        .snapshots
        .lock()
        .await
        .iter()
        .rev()
        .filter(|(id, _, _)| *id == a.id)
        .map(|(_, v, body)| json!({"version_id": v, "updated": body["updatedAt"]}))
        .collect();
    Ok(Json(obj([
        ("id", json!(a.id)),
        ("current_version_id", wf["versionId"].clone()),
        ("versions", Value::Array(versions)),
        ("snapshots", if snaps.is_empty() { Value::Null } else { Value::Array(snaps) }),
        ("next_cursor", next),
        ("note", note),
    ])))
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct VersionArgs {
    /// Instance name (default: the first configured).
    #[serde(default)]
    instance: Option<String>,
    /// Workflow id.
    id: String,
    /// Version id (from workflow_versions).
    version_id: String,
    /// `compact` (default) or `full`.
    #[serde(default)]
    mode: Option<String>,
}

/// A version's body: this server's snapshot, or n8n's history.
async fn version_body(inst: &Instance, id: &str, version: &str) -> Result<Value, ToolError> {
    check_id("version_id", version)?;
    if let Some((_, _, body)) = inst.snapshots.lock().await.iter().rev().find(|(i, v, _)| i == id && v == version) {
        return Ok(body.clone());
    }
    inst.get(&format!("/workflows/{id}/versions/{version}"), &[]).await
}

async fn get_workflow_version(n8n: Arc<N8n>, _ctx: Context, a: VersionArgs) -> Result<Json<Value>, ToolError> {
    let inst = n8n.instances.for_read(a.instance.as_deref())?;
    let wf = fetch_workflow(&n8n, &inst, &a.id).await?;
    let mut body = version_body(&inst, &a.id, &a.version_id).await?;
    if let Value::Object(m) = &mut body {
        m.entry("id").or_insert(wf["id"].clone());
        m.entry("name").or_insert(wf["name"].clone());
    }
    Ok(Json(shape(&n8n, &inst, &body, a.mode.as_deref(), &[])?))
}

/// Validates `body` against the instance's node types; `Err` lists every problem when
/// any is an error.
pub async fn check(inst: &Instance, body: &Value, for_publish: bool) -> Result<Vec<Problem>, ToolError> {
    let types = inst.node_types().await?;
    let catalog = types.as_deref().map(|t| Catalog::new(t));
    let problems = validate(body, catalog.as_ref(), for_publish);
    if problems.iter().any(|p| p.severity == "error") {
        let lines: Vec<String> = problems
            .iter()
            .map(|p| {
                format!(
                    "- {}{}: {}",
                    p.severity,
                    p.node.as_ref().map(|n| format!(" [{n}]")).unwrap_or_default(),
                    p.message
                )
            })
            .collect();
        let message = format!(
            "the workflow is not valid on `{}` ({} problem(s)); {}:\n{}",
            inst.name(),
            problems.len(),
            if for_publish { "not published" } else { "nothing was saved" },
            lines.join("\n")
        );
        // A saved workflow that cannot be published is a state of n8n, not an argument.
        return Err(if for_publish { ToolError::failed(message) } else { ToolError::invalid_arguments(message) });
    }
    Ok(problems)
}

/// The body n8n's PUT accepts, built from a workflow as GET returns it (echoing the
/// whole GET answer back is refused).
pub fn put_body(wf: &Value) -> Value {
    let settings: Map<String, Value> = wf["settings"]
        .as_object()
        .into_iter()
        .flatten()
        .filter(|(k, _)| SETTINGS_KEYS.contains(&k.as_str()))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    let mut body = json!({
        "name": wf["name"],
        "nodes": wf["nodes"],
        "connections": wf["connections"],
        "settings": settings,
    });
    if !wf["staticData"].is_null() {
        body["staticData"] = wf["staticData"].clone();
    }
    body
}

/// Saves `body` over workflow `id` after a snapshot of `current`; the compact answer.
async fn save(inst: &Instance, current: &Value, body: &Value, problems: Vec<Problem>) -> Result<Value, ToolError> {
    inst.snapshot(current).await;
    let id = current["id"].as_str().unwrap_or_default();
    let saved = inst.api(Method::PUT, &format!("/workflows/{id}"), &[], Some(body)).await?;
    Ok(obj([
        ("id", saved["id"].clone()),
        ("name", saved["name"].clone()),
        ("version_id", saved["versionId"].clone()),
        ("previous_version_id", current["versionId"].clone()),
        ("active", saved["active"].clone()),
        ("nodes", json!(saved["nodes"].as_array().map_or(0, Vec::len))),
        ("edges", json!(edges(&saved["connections"]))),
        ("warnings", if problems.is_empty() { Value::Null } else { json!(problems) }),
    ]))
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateArgs {
    /// Instance name (required when several are configured).
    #[serde(default)]
    instance: Option<String>,
    /// Workflow name.
    name: String,
    /// Nodes: each {name, type, typeVersion, position: [x, y], parameters, credentials?, disabled?}.
    nodes: Vec<Value>,
    /// Connections: {"Source": {"main": [[{"node": "Target", "type": "main", "index": 0}]]}}.
    #[serde(default)]
    connections: Option<Value>,
    /// Settings, e.g. {"executionOrder": "v1"}.
    #[serde(default)]
    settings: Option<Value>,
    /// Tag names to set (created when missing).
    #[serde(default)]
    tags: Vec<String>,
}

async fn create_workflow(n8n: Arc<N8n>, _ctx: Context, a: CreateArgs) -> Result<Json<Value>, ToolError> {
    let inst = n8n.instances.for_write(a.instance.as_deref())?;
    let body = json!({
        "name": a.name,
        "nodes": a.nodes,
        "connections": a.connections.unwrap_or_else(|| json!({})),
        "settings": a.settings.unwrap_or_else(|| json!({"executionOrder": "v1"})),
    });
    let problems = check(&inst, &body, false).await?;
    let created = inst.api(Method::POST, "/workflows", &[], Some(&body)).await?;
    let id = created["id"].as_str().unwrap_or_default().to_string();
    let mut tags = a.tags;
    if let Some(t) = &n8n.settings.scope_tag
        && !tags.contains(t)
    {
        tags.push(t.clone());
    }
    let tags = if tags.is_empty() { Vec::new() } else { put_tags(&inst, &id, &tags).await? };
    Ok(Json(obj([
        ("id", json!(id)),
        ("name", created["name"].clone()),
        ("version_id", created["versionId"].clone()),
        ("tags", json!(tags)),
        ("edges", json!(edges(&created["connections"]))),
        ("warnings", if problems.is_empty() { Value::Null } else { json!(problems) }),
    ])))
}

/// Sets a workflow's tags by name, creating missing ones; the names set.
async fn put_tags(inst: &Instance, id: &str, names: &[String]) -> Result<Vec<String>, ToolError> {
    let mut ids = Vec::new();
    for name in names {
        let name = name.trim();
        if name.is_empty() || name.len() > 24 {
            return Err(ToolError::invalid_arguments(format!("tag `{name}`: 1 to 24 characters")));
        }
        ids.push(json!({"id": tag_id(inst, name, true).await?}));
    }
    let set = inst.api(Method::PUT, &format!("/workflows/{id}/tags"), &[], Some(&Value::Array(ids))).await?;
    Ok(set.as_array().into_iter().flatten().filter_map(|t| t["name"].as_str().map(str::to_string)).collect())
}

/// A tag's id by name, created when `create` and missing.
pub async fn tag_id(inst: &Instance, name: &str, create: bool) -> Result<String, ToolError> {
    let mut cursor: Option<String> = None;
    loop {
        let mut q = vec![("limit", "250".to_string())];
        if let Some(c) = &cursor {
            q.push(("cursor", c.clone()));
        }
        let page = inst.get("/tags", &q).await?;
        if let Some(t) = page["data"].as_array().into_iter().flatten().find(|t| t["name"] == name) {
            return Ok(t["id"].as_str().unwrap_or_default().to_string());
        }
        match page["nextCursor"].as_str() {
            Some(c) => cursor = Some(c.to_string()),
            None => break,
        }
    }
    if !create {
        return Err(ToolError::not_found(format!("no tag named `{name}` on `{}`", inst.name())));
    }
    let made = inst.api(Method::POST, "/tags", &[], Some(&json!({"name": name}))).await?;
    Ok(made["id"].as_str().unwrap_or_default().to_string())
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateArgs {
    /// Instance name (required when several are configured).
    #[serde(default)]
    instance: Option<String>,
    /// Workflow id.
    id: String,
    /// New name.
    #[serde(default)]
    name: Option<String>,
    /// All nodes (replaces the current ones).
    #[serde(default)]
    nodes: Option<Vec<Value>>,
    /// All connections (replaces the current ones).
    #[serde(default)]
    connections: Option<Value>,
    /// Settings (replace the current ones).
    #[serde(default)]
    settings: Option<Value>,
}

async fn update_workflow(n8n: Arc<N8n>, _ctx: Context, a: UpdateArgs) -> Result<Json<Value>, ToolError> {
    let inst = n8n.instances.for_write(a.instance.as_deref())?;
    let current = fetch_workflow(&n8n, &inst, &a.id).await?;
    let mut body = put_body(&current);
    if let Some(name) = a.name {
        body["name"] = json!(name);
    }
    if let Some(nodes) = a.nodes {
        body["nodes"] = json!(nodes);
    }
    if let Some(c) = a.connections {
        body["connections"] = c;
    }
    if let Some(s) = a.settings {
        body["settings"] = s;
    }
    let problems = check(&inst, &body, false).await?;
    Ok(Json(save(&inst, &current, &body, problems).await?))
}

/// One change of `edit_workflow`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(tag = "op", rename_all = "snake_case", deny_unknown_fields)]
pub enum Operation {
    /// Add a node: {name, type, typeVersion, position, parameters, ...}.
    AddNode { node: Value },
    /// Remove a node and every connection to or from it.
    RemoveNode { name: String },
    /// Change a node: `parameters` are merged into the current ones (null removes a key);
    /// the other fields replace.
    UpdateNode {
        name: String,
        #[serde(default)]
        parameters: Option<Map<String, Value>>,
        #[serde(default)]
        type_version: Option<f64>,
        #[serde(default)]
        position: Option<[f64; 2]>,
        #[serde(default)]
        disabled: Option<bool>,
        #[serde(default)]
        credentials: Option<Value>,
        #[serde(default)]
        notes: Option<String>,
    },
    /// Rename a node; connections follow.
    RenameNode { name: String, new_name: String },
    /// Connect `from`'s output to `to`'s input.
    Connect {
        from: String,
        to: String,
        /// Output index of `from` (default 0; e.g. 1 for the false branch of an If).
        #[serde(default)]
        output: usize,
        /// Input index of `to` (default 0).
        #[serde(default)]
        input: usize,
        /// Connection kind (default `main`; AI nodes use ai_tool, ai_languageModel, ...).
        #[serde(default)]
        kind: Option<String>,
    },
    /// Remove connections from `from` to `to` (all outputs unless `output` is given).
    Disconnect {
        from: String,
        to: String,
        #[serde(default)]
        output: Option<usize>,
        #[serde(default)]
        kind: Option<String>,
    },
    /// Rename the workflow.
    RenameWorkflow { name: String },
    /// Merge settings (null removes a key).
    UpdateSettings { settings: Map<String, Value> },
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct EditArgs {
    /// Instance name (required when several are configured).
    #[serde(default)]
    instance: Option<String>,
    /// Workflow id.
    id: String,
    /// Operations, applied in order (at most 100).
    operations: Vec<Operation>,
    /// Only apply and validate; save nothing.
    #[serde(default)]
    validate_only: bool,
}

fn node_index(body: &Value, name: &str, i: usize) -> Result<usize, ToolError> {
    body["nodes"]
        .as_array()
        .and_then(|ns| ns.iter().position(|n| n["name"] == name))
        .ok_or_else(|| ToolError::invalid_arguments(format!("operations[{i}]: no node named `{name}`")))
}

/// Applies operations to a PUT body.
pub fn apply(body: &mut Value, ops: Vec<Operation>) -> Result<(), ToolError> {
    if !body["connections"].is_object() {
        body["connections"] = json!({});
    }
    for (i, op) in ops.into_iter().enumerate() {
        match op {
            Operation::AddNode { mut node } => {
                let Some(name) = node["name"].as_str().map(str::to_string) else {
                    return Err(ToolError::invalid_arguments(format!("operations[{i}]: add_node needs node.name")));
                };
                if node_index(body, &name, i).is_ok() {
                    return Err(ToolError::invalid_arguments(format!(
                        "operations[{i}]: a node `{name}` already exists"
                    )));
                }
                if node.get("parameters").is_none() {
                    node["parameters"] = json!({});
                }
                if let Some(ns) = body["nodes"].as_array_mut() {
                    ns.push(node);
                }
            }
            Operation::RemoveNode { name } => {
                let idx = node_index(body, &name, i)?;
                if let Some(ns) = body["nodes"].as_array_mut() {
                    ns.remove(idx);
                }
                if let Some(c) = body["connections"].as_object_mut() {
                    c.remove(&name);
                }
                retain_targets(body, |t| t["node"] != name.as_str());
            }
            Operation::UpdateNode { name, parameters, type_version, position, disabled, credentials, notes } => {
                let idx = node_index(body, &name, i)?;
                let node = &mut body["nodes"][idx];
                if let Some(p) = parameters {
                    if !node["parameters"].is_object() {
                        node["parameters"] = json!({});
                    }
                    if let Some(cur) = node["parameters"].as_object_mut() {
                        for (k, v) in p {
                            if v.is_null() {
                                cur.remove(&k);
                            } else {
                                cur.insert(k, v);
                            }
                        }
                    }
                }
                if let Some(v) = type_version {
                    node["typeVersion"] = json!(v);
                }
                if let Some(p) = position {
                    node["position"] = json!(p);
                }
                if let Some(d) = disabled {
                    node["disabled"] = json!(d);
                }
                if let Some(c) = credentials {
                    node["credentials"] = c;
                }
                if let Some(n) = notes {
                    node["notes"] = json!(n);
                }
            }
            Operation::RenameNode { name, new_name } => {
                let idx = node_index(body, &name, i)?;
                if node_index(body, &new_name, i).is_ok() {
                    return Err(ToolError::invalid_arguments(format!(
                        "operations[{i}]: a node `{new_name}` already exists"
                    )));
                }
                body["nodes"][idx]["name"] = json!(new_name);
                if let Some(c) = body["connections"].as_object_mut()
                    && let Some(v) = c.remove(&name)
                {
                    c.insert(new_name.clone(), v);
                }
                for_each_target(body, |t| {
                    if t["node"] == name.as_str() {
                        t["node"] = json!(new_name);
                    }
                });
            }
            Operation::Connect { from, to, output, input, kind } => {
                node_index(body, &from, i)?;
                node_index(body, &to, i)?;
                let kind = kind.unwrap_or_else(|| "main".into());
                let slots = body["connections"][&from][&kind].take();
                let mut slots: Vec<Value> = slots.as_array().cloned().unwrap_or_default();
                while slots.len() <= output {
                    slots.push(json!([]));
                }
                let target = json!({"node": to, "type": kind, "index": input});
                if let Some(list) = slots[output].as_array_mut() {
                    if !list.contains(&target) {
                        list.push(target);
                    }
                } else {
                    slots[output] = json!([target]);
                }
                body["connections"][&from][&kind] = Value::Array(slots);
            }
            Operation::Disconnect { from, to, output, kind } => {
                let kind = kind.unwrap_or_else(|| "main".into());
                let mut removed = false;
                if let Some(slots) = body["connections"][&from][&kind].as_array_mut() {
                    for (o, slot) in slots.iter_mut().enumerate() {
                        if output.is_some_and(|x| x != o) {
                            continue;
                        }
                        if let Some(list) = slot.as_array_mut() {
                            let before = list.len();
                            list.retain(|t| t["node"] != to.as_str());
                            removed |= list.len() != before;
                        }
                    }
                }
                if !removed {
                    return Err(ToolError::invalid_arguments(format!(
                        "operations[{i}]: no {kind} connection from `{from}` to `{to}`"
                    )));
                }
            }
            Operation::RenameWorkflow { name } => body["name"] = json!(name),
            Operation::UpdateSettings { settings } => {
                if !body["settings"].is_object() {
                    body["settings"] = json!({});
                }
                if let Some(cur) = body["settings"].as_object_mut() {
                    for (k, v) in settings {
                        if v.is_null() {
                            cur.remove(&k);
                        } else {
                            cur.insert(k, v);
                        }
                    }
                }
            }
        }
    }
    Ok(())
}

fn for_each_target(body: &mut Value, mut f: impl FnMut(&mut Value)) {
    for kinds in body["connections"].as_object_mut().into_iter().flat_map(|c| c.values_mut()) {
        for slots in kinds.as_object_mut().into_iter().flat_map(|k| k.values_mut()) {
            for slot in slots.as_array_mut().into_iter().flatten() {
                for t in slot.as_array_mut().into_iter().flatten() {
                    f(t);
                }
            }
        }
    }
}

fn retain_targets(body: &mut Value, keep: impl Fn(&Value) -> bool) {
    for kinds in body["connections"].as_object_mut().into_iter().flat_map(|c| c.values_mut()) {
        for slots in kinds.as_object_mut().into_iter().flat_map(|k| k.values_mut()) {
            for slot in slots.as_array_mut().into_iter().flatten() {
                if let Some(list) = slot.as_array_mut() {
                    list.retain(&keep);
                }
            }
        }
    }
}

async fn edit_workflow(n8n: Arc<N8n>, _ctx: Context, a: EditArgs) -> Result<Json<Value>, ToolError> {
    if a.operations.is_empty() || a.operations.len() > 100 {
        return Err(ToolError::invalid_arguments("`operations`: give 1 to 100 operations"));
    }
    let inst = if a.validate_only {
        n8n.instances.for_read(a.instance.as_deref())?
    } else {
        n8n.instances.for_write(a.instance.as_deref())?
    };
    let current = fetch_workflow(&n8n, &inst, &a.id).await?;
    let mut body = put_body(&current);
    apply(&mut body, a.operations)?;
    if a.validate_only {
        let types = inst.node_types().await?;
        let catalog = types.as_deref().map(|t| Catalog::new(t));
        let problems = validate(&body, catalog.as_ref(), false);
        return Ok(Json(json!({
            "valid": !problems.iter().any(|p| p.severity == "error"),
            "problems": problems,
            "nodes": body["nodes"].as_array().map_or(0, Vec::len),
            "edges": edges(&body["connections"]),
            "saved": false,
        })));
    }
    let problems = check(&inst, &body, false).await?;
    Ok(Json(save(&inst, &current, &body, problems).await?))
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RollbackArgs {
    /// Instance name (required when several are configured).
    #[serde(default)]
    instance: Option<String>,
    /// Workflow id.
    id: String,
    /// The version to bring back (from workflow_versions, or a `previous_version_id`).
    version_id: String,
}

async fn rollback_workflow(n8n: Arc<N8n>, _ctx: Context, a: RollbackArgs) -> Result<Json<Value>, ToolError> {
    let inst = n8n.instances.for_write(a.instance.as_deref())?;
    let current = fetch_workflow(&n8n, &inst, &a.id).await?;
    let old = version_body(&inst, &a.id, &a.version_id).await?;
    let mut body = put_body(&current);
    body["nodes"] = old["nodes"].clone();
    body["connections"] = old["connections"].clone();
    if old["settings"].is_object() {
        body["settings"] = put_body(&old)["settings"].clone();
    }
    if old["name"].is_string() {
        body["name"] = old["name"].clone();
    }
    let problems = check(&inst, &body, false).await?;
    let mut out = save(&inst, &current, &body, problems).await?;
    out["restored_from"] = json!(a.version_id);
    Ok(Json(out))
}

async fn delete_workflow(n8n: Arc<N8n>, _ctx: Context, a: IdArgs) -> Result<Json<Value>, ToolError> {
    let inst = n8n.instances.for_write(a.instance.as_deref())?;
    let current = fetch_workflow(&n8n, &inst, &a.id).await?;
    inst.snapshot(&current).await;
    let path = format!("/workflows/{}", a.id);
    inst.settled(Method::DELETE, &path).await?;
    Ok(Json(json!({"id": a.id, "name": current["name"], "deleted": true,
        "note": "a snapshot stays in this server's memory until it restarts (get_workflow_version with the last version_id)",
        "last_version_id": current["versionId"]})))
}

async fn simple_post(n8n: &N8n, a: &IdArgs, action: &str) -> Result<(Arc<Instance>, Value), ToolError> {
    let inst = n8n.instances.for_write(a.instance.as_deref())?;
    let current = fetch_workflow(n8n, &inst, &a.id).await?;
    inst.snapshot(&current).await;
    let path = format!("/workflows/{}/{action}", a.id);
    let out = inst.settled(Method::POST, &path).await?;
    Ok((inst, out))
}

async fn archive_workflow(n8n: Arc<N8n>, _ctx: Context, a: IdArgs) -> Result<Json<Value>, ToolError> {
    let (_, wf) = simple_post(&n8n, &a, "archive").await?;
    Ok(Json(json!({"id": a.id, "archived": wf["isArchived"].as_bool().unwrap_or(true), "active": wf["active"]})))
}

async fn unarchive_workflow(n8n: Arc<N8n>, _ctx: Context, a: IdArgs) -> Result<Json<Value>, ToolError> {
    let (_, wf) = simple_post(&n8n, &a, "unarchive").await?;
    Ok(Json(json!({"id": a.id, "archived": wf["isArchived"].as_bool().unwrap_or(false)})))
}

async fn publish_workflow(n8n: Arc<N8n>, _ctx: Context, a: IdArgs) -> Result<Json<Value>, ToolError> {
    let inst = n8n.instances.for_write(a.instance.as_deref())?;
    let current = fetch_workflow(&n8n, &inst, &a.id).await?;
    let problems = check(&inst, &put_body(&current), true).await?;
    let path = format!("/workflows/{}/publish", a.id);
    let wf = inst.settled(Method::POST, &path).await?;
    Ok(Json(obj([
        ("id", json!(a.id)),
        ("active", wf["active"].clone()),
        ("published_version_id", wf["activeVersionId"].clone()),
        ("webhooks", json!(webhook_urls(&inst, &wf))),
        ("warnings", if problems.is_empty() { Value::Null } else { json!(problems) }),
    ])))
}

async fn unpublish_workflow(n8n: Arc<N8n>, _ctx: Context, a: IdArgs) -> Result<Json<Value>, ToolError> {
    let (_, wf) = simple_post(&n8n, &a, "unpublish").await?;
    Ok(Json(json!({"id": a.id, "active": wf["active"]})))
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TagsArgs {
    /// Instance name (required when several are configured).
    #[serde(default)]
    instance: Option<String>,
    /// Workflow id.
    id: String,
    /// Tag names (the workflow gets exactly these; missing tags are created).
    tags: Vec<String>,
}

async fn set_workflow_tags(n8n: Arc<N8n>, _ctx: Context, a: TagsArgs) -> Result<Json<Value>, ToolError> {
    let inst = n8n.instances.for_write(a.instance.as_deref())?;
    fetch_workflow(&n8n, &inst, &a.id).await?;
    let mut tags = a.tags;
    if tags.len() > 50 {
        return Err(ToolError::invalid_arguments("`tags`: at most 50"));
    }
    if let Some(t) = &n8n.settings.scope_tag
        && !tags.contains(t)
    {
        tags.push(t.clone());
    }
    let set = put_tags(&inst, &a.id, &tags).await?;
    Ok(Json(json!({"id": a.id, "tags": set})))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn body() -> Value {
        json!({"name": "w", "nodes": [{"name": "A", "parameters": {"x": 1}}, {"name": "B"}],
               "connections": {"A": {"main": [[{"node": "B", "type": "main", "index": 0}]]}}, "settings": {}})
    }

    #[test]
    fn rename_moves_connections() {
        let mut b = body();
        apply(&mut b, vec![Operation::RenameNode { name: "B".into(), new_name: "C".into() }]).ok();
        assert_eq!(edges(&b["connections"]), vec!["A -> C"]);
        apply(&mut b, vec![Operation::RenameNode { name: "A".into(), new_name: "Z".into() }]).ok();
        assert_eq!(edges(&b["connections"]), vec!["Z -> C"]);
    }

    #[test]
    fn remove_drops_connections_and_merge_removes_nulls() {
        let mut b = body();
        let ops = vec![
            Operation::UpdateNode {
                name: "A".into(),
                parameters: serde_json::from_value(json!({"x": null, "y": 2})).ok(),
                type_version: None,
                position: None,
                disabled: Some(true),
                credentials: None,
                notes: None,
            },
            Operation::RemoveNode { name: "B".into() },
        ];
        assert!(apply(&mut b, ops).is_ok());
        assert_eq!(b["nodes"][0]["parameters"], json!({"y": 2}));
        assert!(edges(&b["connections"]).is_empty());
        assert!(apply(&mut b, vec![Operation::RemoveNode { name: "nope".into() }]).is_err());
    }

    #[test]
    fn connect_second_output_and_disconnect() {
        let mut b = body();
        let ops = vec![Operation::Connect { from: "A".into(), to: "B".into(), output: 1, input: 0, kind: None }];
        assert!(apply(&mut b, ops).is_ok());
        assert_eq!(edges(&b["connections"]), vec!["A -> B", "A[1] -> B"]);
        let ops = vec![Operation::Disconnect { from: "A".into(), to: "B".into(), output: Some(0), kind: None }];
        assert!(apply(&mut b, ops).is_ok());
        assert_eq!(edges(&b["connections"]), vec!["A[1] -> B"]);
    }
}
