//! The tools, one module per area and toolset; [`register`] adds them all, tagged, and
//! the kit's tool selection lists those the flags allow (writes with `--allow-write`,
//! destructive ones unless `--no-destructive`, only the `--toolsets` named): a tool
//! that could only refuse is not listed at all.

pub mod admin;
pub mod building;
pub mod executions;
pub mod run;
pub mod workflows;

use std::sync::Arc;

use mcp_core::ToolError;
use mcp_core::server::ServerBuilder;
use serde_json::Value;

use crate::n8n::{Instance, N8n};

pub fn register(builder: ServerBuilder, n8n: &Arc<N8n>) -> ServerBuilder {
    let builder = workflows::register(builder, n8n);
    let builder = building::register(builder, n8n);
    let builder = executions::register(builder, n8n);
    let builder = run::register(builder, n8n);
    let builder = admin::register(builder, n8n);
    builder.select_tools(&n8n.settings.selection)
}

/// Rejects an id that cannot be one before it reaches a URL path.
pub fn check_id(what: &str, id: &str) -> Result<(), ToolError> {
    if !id.is_empty() && id.len() <= 64 && id.chars().all(|c| c.is_ascii_alphanumeric() || "_-".contains(c)) {
        Ok(())
    } else {
        Err(ToolError::invalid_arguments(format!(
            "`{what}`: `{}` is not an n8n id (letters, digits, `_` and `-`)",
            crate::output::clip(id, 80)
        )))
    }
}

/// The names of a workflow's tags.
pub fn tag_names(workflow: &Value) -> Vec<String> {
    workflow["tags"]
        .as_array()
        .map(|t| t.iter().filter_map(|t| t["name"].as_str().map(str::to_string)).collect())
        .unwrap_or_default()
}

/// Whether the workflow is visible under `--scope-tag`.
pub fn in_scope(n8n: &N8n, workflow: &Value) -> bool {
    match &n8n.settings.scope_tag {
        Some(tag) => tag_names(workflow).iter().any(|t| t == tag),
        None => true,
    }
}

/// A workflow by id, refused when it is outside the tag scope (as if it did not exist,
/// so the scope does not leak what lies outside it).
pub async fn fetch_workflow(n8n: &N8n, inst: &Instance, id: &str) -> Result<Value, ToolError> {
    check_id("id", id)?;
    let wf = inst.get(&format!("/workflows/{id}"), &[]).await?;
    if !in_scope(n8n, &wf) {
        return Err(ToolError::not_found(format!(
            "not found on `{}`: workflow {id} (only workflows tagged `{}` are in scope)",
            inst.name(),
            n8n.settings.scope_tag.as_deref().unwrap_or_default()
        )));
    }
    Ok(wf)
}
