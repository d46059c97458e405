//! The tools, one module per area; [`register`] adds them all, tagged with their
//! toolset, and keeps those the settings select (the kit's one rule: reading tools
//! always, changing ones with --allow-write, destructive ones unless --no-destructive).

/// A tool's arguments: first `host`, naming the daemon (`read`: the first by default;
/// `write`: required when several are configured), then the tool's own fields (the kit's
/// `tool_args!`, with this connector's wording of `host`).
macro_rules! tool_args {
    (read $(#[$attr:meta])* $name:ident { $($fields:tt)* }) => {
        mcp_core::tool_args! {
            host: "Which configured Docker host (default: the first).";
            $(#[$attr])* pub struct $name { $($fields)* }
        }
    };
    (write $(#[$attr:meta])* $name:ident { $($fields:tt)* }) => {
        mcp_core::tool_args! {
            host: "Which configured Docker host (required when several are configured).";
            $(#[$attr])* pub struct $name { $($fields)* }
        }
    };
    (@$doc:literal $(#[$attr:meta])* $name:ident { $($fields:tt)* }) => {
        mcp_core::tool_args! { host: $doc; $(#[$attr])* pub struct $name { $($fields)* } }
    };
}

pub mod compose;
pub mod compose_file;
pub mod compose_ops;
pub mod compose_up;
pub mod containers;
pub mod create;
pub mod exec;
pub mod files;
pub mod images;
pub mod lifecycle;
pub mod logs;
pub mod networks;
pub mod system;

use std::sync::Arc;

use mcp_core::connector::ToolSelection;
use mcp_core::server::ServerBuilder;

use crate::daemons::Daemons;

/// Every tool of the connector, as far as `--toolsets`, `--allow-write` and
/// `--no-destructive` keep them.
pub fn register(builder: ServerBuilder, daemons: &Arc<Daemons>) -> ServerBuilder {
    let settings = &daemons.settings;
    let selection = ToolSelection {
        toolsets: settings.toolsets.iter().map(|t| t.name().to_string()).collect(),
        allow_write: settings.allow_write,
        allow_destructive: !settings.no_destructive,
    };
    let builder = containers::register(builder, daemons);
    let builder = logs::register(builder, daemons);
    let builder = images::register(builder, daemons);
    let builder = create::register(builder, daemons);
    let builder = lifecycle::register(builder, daemons);
    let builder = exec::register(builder, daemons);
    let builder = system::register(builder, daemons);
    let builder = compose::register(builder, daemons);
    let builder = networks::register(builder, daemons);
    let builder = files::register(builder, daemons);
    builder.select_tools(&selection)
}
