//! The tools, one module per area; [`register`] adds the ones the settings allow.

pub(crate) mod api;
pub mod apply;
pub mod cluster;
pub mod describe;
pub mod explain;
pub mod helm;
pub mod nodes;
pub mod pods;
pub mod resources;
pub mod rollouts;
mod tables;
pub mod top;

use std::sync::Arc;

use mcp_core::connector::ToolSelection;
use mcp_core::server::ServerBuilder;

use crate::clusters::Clusters;

/// Every tool, each tagged with its toolset; the kit's selection keeps what the flags
/// allow (reads always, writes with --allow-write, destructive ones with
/// --allow-destructive, within --toolsets), and lists nothing else: no tokens are spent
/// on tools that could only refuse.
pub fn register(builder: ServerBuilder, k: &Arc<Clusters>) -> ServerBuilder {
    let s = &k.settings;
    let selection = ToolSelection {
        toolsets: s.toolsets.iter().map(|t| t.name().to_string()).collect(),
        allow_write: s.allow_write,
        allow_destructive: s.allow_destructive,
    };
    let builder = resources::register(builder, k);
    let builder = describe::register(builder, k);
    let builder = explain::register(builder, k);
    let builder = apply::register(builder, k);
    let builder = pods::register(builder, k);
    let builder = top::register(builder, k);
    let builder = rollouts::register(builder, k);
    let builder = cluster::register(builder, k);
    let builder = nodes::register(builder, k);
    let builder = helm::register(builder, k);
    builder.select_tools(&selection)
}
