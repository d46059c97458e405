//! The tools, one module per area and toolset; [`register`] adds them all, tagged, and
//! the kit's tool selection lists those the flags allow (writes with `--allow-write`,
//! destructive ones unless `--no-destructive`, only the `--toolsets` named): a tool
//! that could only refuse is not listed at all.

pub mod admin;
pub mod building;
pub mod changes;
pub mod executions;
pub mod run;
pub mod shared;
pub mod test_run;
pub mod workflows;

use std::sync::Arc;

use mcp_core::server::ServerBuilder;

use crate::n8n::N8n;

pub fn register(builder: ServerBuilder, n8n: &Arc<N8n>) -> ServerBuilder {
    let modules = [
        workflows::register,
        changes::register,
        building::register,
        executions::register,
        run::register,
        test_run::register,
    ];
    let builder = modules.into_iter().fold(builder, |b, register| register(b, n8n));
    admin::register(builder, n8n).select_tools(&n8n.settings.selection)
}
