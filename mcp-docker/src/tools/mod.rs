//! The tools, one module per area; [`register`] adds them all to a server being built.

pub mod compose;
pub mod containers;
pub mod files;
pub mod images;
pub mod lifecycle;
pub mod logs;
pub mod networks;
pub mod system;

use std::sync::Arc;

use mcp_core::ToolError;
use mcp_core::server::ServerBuilder;

use crate::config::Toolset;
use crate::daemons::Daemons;

/// The group a tool belongs to, for `--toolsets`.
fn toolset(tool: &str) -> Toolset {
    match tool {
        "system_info" | "disk_usage" | "recent_events" => Toolset::System,
        "compose_projects" | "compose_project" => Toolset::Compose,
        "prune" => Toolset::Networks,
        t if t.contains("image") => Toolset::Images,
        t if t.contains("network") || t.contains("volume") => Toolset::Networks,
        _ => Toolset::Containers,
    }
}

/// Every tool of the connector as far as `--toolsets` and `--no-destructive` keep them.
pub fn register(builder: ServerBuilder, daemons: &Arc<Daemons>) -> ServerBuilder {
    let selected = daemons.settings.toolsets.clone();
    let no_destructive = daemons.settings.no_destructive;
    all_tools(builder, daemons).retain_tools(move |route| {
        let tool = route.definition();
        let destructive = tool.annotations.as_ref().and_then(|a| a.destructive_hint).unwrap_or(false);
        (selected.is_empty() || selected.contains(&toolset(&tool.name))) && !(no_destructive && destructive)
    })
}

/// Every tool of the connector; the changing ones only with `--allow-write`.
fn all_tools(builder: ServerBuilder, daemons: &Arc<Daemons>) -> ServerBuilder {
    let builder = containers::register(builder, daemons);
    let builder = logs::register(builder, daemons);
    let builder = images::register(builder, daemons);
    let builder = lifecycle::register_read(builder, daemons);
    let builder = system::register(builder, daemons);
    let builder = compose::register(builder, daemons);
    let builder = networks::register(builder, daemons);
    let builder = files::register(builder, daemons);
    if !daemons.settings.allow_write {
        // Not listed at all: no tokens spent on tools that could only refuse.
        return builder;
    }
    let builder = lifecycle::register(builder, daemons);
    let builder = networks::register_write(builder, daemons);
    let builder = files::register_write(builder, daemons);
    images::register_write(builder, daemons)
}

/// Rejects an id or name that cannot be one before it reaches a URL path.
pub(crate) fn check_ref(what: &str, value: &str) -> Result<(), ToolError> {
    // Container ids and names never hold `/`, `:` or `@` (image references do); keeping
    // them out means a name cannot reach another API path.
    let allowed = if matches!(what, "container" | "id") { "_.-" } else { "_.-:/@+" };
    let ok = !value.is_empty()
        && value.len() <= 256
        && value.chars().all(|c| c.is_ascii_alphanumeric() || allowed.contains(c))
        && !value.contains("..");
    if ok {
        Ok(())
    } else {
        Err(ToolError::invalid_arguments(format!(
            "`{what}`: `{}` is not a valid id or name (letters, digits and {allowed} only)",
            crate::output::clip(value, 80)
        )))
    }
}
