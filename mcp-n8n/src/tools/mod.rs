//! The tools, one module per area; [`register`] adds them all to a server being built.
//! Tools that change anything are registered only with `--allow-write` (not listed at
//! all otherwise: no tokens spent on tools that could only refuse).

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
    if !n8n.settings.allow_write {
        return builder;
    }
    let builder = workflows::register_write(builder, n8n);
    let builder = executions::register_write(builder, n8n);
    let builder = run::register_write(builder, n8n);
    admin::register_write(builder, n8n)
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
        return Err(ToolError::failed(format!(
            "not found on `{}`: workflow {id} (only workflows tagged `{}` are in scope)",
            inst.name(),
            n8n.settings.scope_tag.as_deref().unwrap_or_default()
        )));
    }
    Ok(wf)
}

/// Retries a call a few times over ~1 s while n8n settles (a webhook answers 404 for a
/// moment after publishing, a delete 409 just after unpublishing).
pub async fn settle<F, Fut, T>(mut f: F) -> Result<T, ToolError>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<T, ToolError>>,
{
    let mut last = None;
    for _ in 0..10 {
        match f().await {
            Ok(v) => return Ok(v),
            Err(ToolError::Failed(m)) if m.contains("409") || m.contains("Conflict") => {
                last = Some(ToolError::Failed(m));
                tokio::time::sleep(std::time::Duration::from_millis(150)).await;
            }
            Err(e) => return Err(e),
        }
    }
    Err(last.unwrap_or_else(|| ToolError::failed("n8n kept answering 409 Conflict")))
}
