use std::sync::Arc;

use mcp_core::server::ServerBuilder;

use crate::clusters::Clusters;

pub fn register(builder: ServerBuilder, _k: &Arc<Clusters>) -> ServerBuilder {
    builder
}
