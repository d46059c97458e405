//! What the tools modules share: id checks and the tag scope.

use mcp_core::ToolError;
use schemars::JsonSchema;
use serde::Serialize;
use serde_json::Value;

use crate::n8n::{Instance, N8n};

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

/// Something deleted.
#[derive(Debug, Serialize, JsonSchema)]
pub struct Deleted {
    /// Its id.
    pub id: String,
    /// Its name, where it has one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Always true.
    pub deleted: bool,
}
