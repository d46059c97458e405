//! (being written)

use std::sync::Arc;

use mcp_core::server::ServerBuilder;

use crate::databases::Databases;

/// Adds this area's tools.
pub fn register(builder: ServerBuilder, _dbs: &Arc<Databases>) -> ServerBuilder {
    builder
}
