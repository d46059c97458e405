//! Fixtures for the 2026-07-28 multi round-trip (input_required) scenarios.

use mcp_core::server::ServerBuilder;

pub fn register(builder: ServerBuilder) -> ServerBuilder {
    builder
}
