//! Workflows, changing: create, update (whole or by operations), delete, archive,
//! publish, rollback, tags. Every write is validated against the instance's node types
//! first and snapshots the workflow as it was, so `rollback_workflow` can bring any
//! earlier version back.

use std::sync::Arc;

use mcp_core::server::ServerBuilder;
use mcp_core::{Context, ToolError, tool_with};
use reqwest::Method;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

use super::shared::fetch_workflow;
use super::workflows::{WebhookUrls, edges, version_body, webhook_urls};
use crate::n8n::{Instance, N8n};
use crate::node_types::Catalog;
use crate::operations::{Operation, apply};
use crate::output::{Out, rendered, text};
use crate::validate::{Problem, SETTINGS_KEYS, Severity, validate};

pub fn register(b: ServerBuilder, n: &Arc<N8n>) -> ServerBuilder {
    b.tools_in("workflows", [
        tool_with("create_workflow", n, create_workflow)
            .description(
                "Create a workflow from nodes and connections (n8n's JSON). It is validated against this instance's \
                 node types and versions first; every problem is listed and nothing is saved if any is an error. \
                 Under --scope-tag the scope tag is added.",
            )
            .additive(),
        tool_with("update_workflow", n, update_workflow)
            .description(
                "Replace parts of a workflow: any of name, nodes, connections, settings (what you leave out is kept). \
                 Validated before saving; the previous version is snapshotted and returned as \
                 `previous_version_id` for rollback_workflow.",
            )
            .destructive(),
        tool_with("edit_workflow", n, edit_workflow)
            .description(
                "Change a workflow by operations applied in order: add_node, remove_node (and its connections), \
                 update_node (parameters merged; null removes a key), rename_node (connections follow), connect, \
                 disconnect, rename_workflow, update_settings. The result is validated as a whole before saving; \
                 `validate_only` shows the result's problems without saving. Snapshot before the write.",
            )
            .destructive(),
        tool_with("rollback_workflow", n, rollback_workflow)
            .description(
                "Bring a workflow back to an earlier version (from workflow_versions): its nodes, connections and \
                 settings are saved as a new version (the current one is snapshotted first).",
            )
            .destructive(),
        tool_with("delete_workflow", n, delete_workflow)
            .description("Delete a workflow for good (a snapshot is kept in this server's memory).")
            .destructive(),
        tool_with("archive_workflow", n, archive_workflow)
            .description("Archive a workflow (unpublished and hidden, reversible with unarchive_workflow).")
            .destructive(),
        tool_with("unarchive_workflow", n, unarchive_workflow)
            .description("Bring an archived workflow back.")
            .additive()
            .idempotent(),
        tool_with("publish_workflow", n, publish_workflow)
            .description(
                "Publish (activate) a workflow so its triggers and production webhooks run. Refused when validation \
                 finds an error (including: no trigger), listing every problem.",
            )
            .additive()
            .idempotent(),
        tool_with("unpublish_workflow", n, unpublish_workflow)
            .description("Unpublish (deactivate) a workflow.")
            .destructive()
            .idempotent(),
        tool_with("set_workflow_tags", n, set_workflow_tags)
            .description("Set a workflow's tags by name (missing tags are created). The scope tag cannot be removed.")
            .destructive()
            .idempotent(),
    ])
}

/// The instance argument, shared by every tool.
#[derive(Debug, Deserialize, JsonSchema)]
pub struct IdArgs {
    /// Instance name (default: the first configured).
    pub instance: Option<String>,
    /// Workflow id.
    pub id: String,
}

/// Validates `body` against the instance's node types; `Err` lists every problem when
/// any is an error.
pub async fn check(inst: &Instance, body: &Value, for_publish: bool) -> Result<Vec<Problem>, ToolError> {
    let types = inst.node_types().await?;
    let catalog = Catalog::new(&types.types).offline(types.offline.as_deref());
    let problems = validate(body, Some(&catalog), for_publish);
    if problems.iter().any(|p| p.severity == Severity::Error) {
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

/// A workflow as a change saved it.
#[derive(Debug, Serialize, JsonSchema)]
pub struct Saved {
    /// Workflow id.
    id: String,
    /// Its name.
    name: String,
    /// The version just saved.
    version_id: Option<String>,
    /// The version before the change (rollback_workflow brings it back).
    previous_version_id: Option<String>,
    /// Whether it is published (active).
    active: bool,
    /// How many nodes it has.
    nodes: usize,
    /// Connections as `A -> B` lines.
    edges: Vec<String>,
    /// Problems validation found that are not errors.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    warnings: Vec<Problem>,
    /// The version a rollback brought back.
    #[serde(skip_serializing_if = "Option::is_none")]
    restored_from: Option<String>,
}

/// Saves `body` over workflow `id` after a snapshot of `current`; the compact answer.
async fn save(inst: &Instance, current: &Value, body: &Value, warnings: Vec<Problem>) -> Result<Saved, ToolError> {
    inst.snapshot(current).await;
    let id = current["id"].as_str().unwrap_or_default();
    let saved = inst.api(Method::PUT, &format!("/workflows/{id}"), &[], Some(body)).await?;
    Ok(Saved {
        id: text(&saved["id"]).unwrap_or_default(),
        name: text(&saved["name"]).unwrap_or_default(),
        version_id: text(&saved["versionId"]),
        previous_version_id: text(&current["versionId"]),
        active: saved["active"] == true,
        nodes: saved["nodes"].as_array().map_or(0, Vec::len),
        edges: edges(&saved["connections"]),
        warnings,
        restored_from: None,
    })
}

mcp_core::tool_args! {
    instance: "Instance name (required when several are configured).";
    pub struct CreateArgs {
        /// Workflow name.
        name: String,
        /// Nodes: each {name, type, typeVersion, position: [x, y], parameters, credentials?, disabled?}.
        nodes: Vec<Value>,
        /// Connections: {"Source": {"main": [[{"node": "Target", "type": "main", "index": 0}]]}}.
        connections: Option<Value>,
        /// Settings, e.g. {"executionOrder": "v1"}.
        settings: Option<Value>,
        /// Tag names to set (created when missing).
        #[serde(default)]
        tags: Vec<String>,
    }
}

/// A workflow just created.
#[derive(Debug, Serialize, JsonSchema)]
pub struct Created {
    /// Its id.
    id: String,
    /// Its name.
    name: String,
    /// Its first version.
    version_id: Option<String>,
    /// Its tags' names.
    tags: Vec<String>,
    /// Connections as `A -> B` lines.
    edges: Vec<String>,
    /// Problems validation found that are not errors.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    warnings: Vec<Problem>,
}

async fn create_workflow(n8n: Arc<N8n>, _ctx: Context, a: CreateArgs) -> Out<Created> {
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
    Ok(rendered(Created {
        id,
        name: text(&created["name"]).unwrap_or_default(),
        version_id: text(&created["versionId"]),
        tags,
        edges: edges(&created["connections"]),
        warnings: problems,
    }))
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

mcp_core::tool_args! {
    instance: "Instance name (required when several are configured).";
    pub struct UpdateArgs {
        /// Workflow id.
        id: String,
        /// New name.
        name: Option<String>,
        /// All nodes (replaces the current ones).
        nodes: Option<Vec<Value>>,
        /// All connections (replaces the current ones).
        connections: Option<Value>,
        /// Settings (replace the current ones).
        settings: Option<Value>,
    }
}

async fn update_workflow(n8n: Arc<N8n>, _ctx: Context, a: UpdateArgs) -> Out<Saved> {
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
    Ok(rendered(save(&inst, &current, &body, problems).await?))
}

mcp_core::tool_args! {
    instance: "Instance name (required when several are configured).";
    pub struct EditArgs {
        /// Workflow id.
        id: String,
        /// Operations, applied in order (at most 100).
        operations: Vec<Operation>,
        /// Only apply and validate; save nothing.
        #[serde(default)]
        validate_only: bool,
    }
}

/// What edit_workflow did: saved the result, or (validate_only) checked it.
#[derive(Debug, Serialize, JsonSchema)]
#[serde(untagged)]
pub enum Edited {
    /// Saved.
    Saved(Saved),
    /// Checked only, nothing saved.
    Checked(Checked),
}

/// The result of operations applied and validated, not saved.
#[derive(Debug, Serialize, JsonSchema)]
pub struct Checked {
    /// Whether validation found no error.
    valid: bool,
    /// Every problem found.
    problems: Vec<Problem>,
    /// How many nodes the result has.
    nodes: usize,
    /// The result's connections as `A -> B` lines.
    edges: Vec<String>,
    /// Always false: nothing was saved.
    saved: bool,
}

async fn edit_workflow(n8n: Arc<N8n>, _ctx: Context, a: EditArgs) -> Out<Edited> {
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
        let catalog = Catalog::new(&types.types).offline(types.offline.as_deref());
        let problems = validate(&body, Some(&catalog), false);
        return Ok(rendered(Edited::Checked(Checked {
            valid: !problems.iter().any(|p| p.severity == Severity::Error),
            problems,
            nodes: body["nodes"].as_array().map_or(0, Vec::len),
            edges: edges(&body["connections"]),
            saved: false,
        })));
    }
    let problems = check(&inst, &body, false).await?;
    Ok(rendered(Edited::Saved(save(&inst, &current, &body, problems).await?)))
}

mcp_core::tool_args! {
    instance: "Instance name (required when several are configured).";
    pub struct RollbackArgs {
        /// Workflow id.
        id: String,
        /// The version to bring back (from workflow_versions, or a `previous_version_id`).
        version_id: String,
    }
}

async fn rollback_workflow(n8n: Arc<N8n>, _ctx: Context, a: RollbackArgs) -> Out<Saved> {
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
    out.restored_from = Some(a.version_id);
    Ok(rendered(out))
}

/// A workflow deleted.
#[derive(Debug, Serialize, JsonSchema)]
pub struct WorkflowDeleted {
    /// Its id.
    id: String,
    /// Its name.
    name: String,
    /// Always true.
    deleted: bool,
    /// Where its snapshot stays.
    note: String,
    /// Its last version (get_workflow_version reads the snapshot).
    last_version_id: Option<String>,
}

/// A workflow's state after a change of it.
#[derive(Debug, Serialize, JsonSchema)]
pub struct WorkflowState {
    /// Workflow id.
    id: String,
    /// Whether it is published (active).
    #[serde(skip_serializing_if = "Option::is_none")]
    active: Option<bool>,
    /// Whether it is archived.
    #[serde(skip_serializing_if = "Option::is_none")]
    archived: Option<bool>,
}

/// A workflow just published.
#[derive(Debug, Serialize, JsonSchema)]
pub struct Published {
    /// Workflow id.
    id: String,
    /// Whether it is published (active) now.
    active: bool,
    /// The version now published.
    #[serde(skip_serializing_if = "Option::is_none")]
    published_version_id: Option<String>,
    /// Its Webhook nodes' URLs.
    webhooks: Vec<WebhookUrls>,
    /// Problems validation found that are not errors.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    warnings: Vec<Problem>,
}

/// The workflow `a` names, read in scope from an instance open to writes and
/// snapshotted, then `method` sent to `/workflows/{id}{action}` (retried while n8n
/// answers 409): the workflow as it was and n8n's answer.
async fn act(n8n: &N8n, a: &IdArgs, method: Method, action: &str) -> Result<(Value, Value), ToolError> {
    let inst = n8n.instances.for_write(a.instance.as_deref())?;
    let current = fetch_workflow(n8n, &inst, &a.id).await?;
    inst.snapshot(&current).await;
    let out = inst.settled(method, &format!("/workflows/{}{action}", a.id)).await?;
    Ok((current, out))
}

async fn delete_workflow(n8n: Arc<N8n>, _ctx: Context, a: IdArgs) -> Out<WorkflowDeleted> {
    let (current, _) = act(&n8n, &a, Method::DELETE, "").await?;
    Ok(rendered(WorkflowDeleted {
        id: a.id,
        name: text(&current["name"]).unwrap_or_default(),
        deleted: true,
        note: "a snapshot stays in this server's memory until it restarts (get_workflow_version with the last \
               version_id)"
            .into(),
        last_version_id: text(&current["versionId"]),
    }))
}

async fn archive_workflow(n8n: Arc<N8n>, _ctx: Context, a: IdArgs) -> Out<WorkflowState> {
    let (_, wf) = act(&n8n, &a, Method::POST, "/archive").await?;
    let (active, archived) = (wf["active"].as_bool(), Some(wf["isArchived"].as_bool().unwrap_or(true)));
    Ok(rendered(WorkflowState { id: a.id, active, archived }))
}

async fn unarchive_workflow(n8n: Arc<N8n>, _ctx: Context, a: IdArgs) -> Out<WorkflowState> {
    let (_, wf) = act(&n8n, &a, Method::POST, "/unarchive").await?;
    Ok(rendered(WorkflowState { id: a.id, active: None, archived: Some(wf["isArchived"].as_bool().unwrap_or(false)) }))
}

async fn publish_workflow(n8n: Arc<N8n>, _ctx: Context, a: IdArgs) -> Out<Published> {
    let inst = n8n.instances.for_write(a.instance.as_deref())?;
    let current = fetch_workflow(&n8n, &inst, &a.id).await?;
    let warnings = check(&inst, &put_body(&current), true).await?;
    let wf = inst.settled(Method::POST, &format!("/workflows/{}/publish", a.id)).await?;
    Ok(rendered(Published {
        id: a.id,
        active: wf["active"] == true,
        published_version_id: text(&wf["activeVersionId"]),
        webhooks: webhook_urls(&inst, &wf),
        warnings,
    }))
}

async fn unpublish_workflow(n8n: Arc<N8n>, _ctx: Context, a: IdArgs) -> Out<WorkflowState> {
    let (_, wf) = act(&n8n, &a, Method::POST, "/unpublish").await?;
    Ok(rendered(WorkflowState { id: a.id, active: wf["active"].as_bool(), archived: None }))
}

mcp_core::tool_args! {
    instance: "Instance name (required when several are configured).";
    pub struct TagsArgs {
        /// Workflow id.
        id: String,
        /// Tag names (the workflow gets exactly these; missing tags are created).
        tags: Vec<String>,
    }
}

/// A workflow's tags after they were set.
#[derive(Debug, Serialize, JsonSchema)]
pub struct TagsSet {
    /// Workflow id.
    id: String,
    /// Its tags' names now.
    tags: Vec<String>,
}

async fn set_workflow_tags(n8n: Arc<N8n>, _ctx: Context, a: TagsArgs) -> Out<TagsSet> {
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
    Ok(rendered(TagsSet { id: a.id, tags: set }))
}
