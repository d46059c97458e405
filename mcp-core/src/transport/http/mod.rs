//! The Streamable HTTP transport at `/mcp`, for both eras on one endpoint.
//!
//! - Stateless (2026-07-28): every POST is self-contained. The `MCP-Protocol-Version`,
//!   `Mcp-Method` and `Mcp-Name` headers must mirror the body. Closing the response stream
//!   cancels the request. GET and DELETE answer 405. Any replica can answer any request.
//! - Handshake era (2025-03-26 to 2025-11-25): `initialize` mints an `Mcp-Session-Id`;
//!   later requests carry it; GET opens the session's stream for server-initiated
//!   messages; DELETE ends the session; SSE events carry ids and a broken stream can be
//!   resumed with `Last-Event-ID`.
//!
//! A request is answered with `application/json` when its handler finishes before sending
//! anything else, and upgraded to `text/event-stream` as soon as it emits a notification
//! or a request, so quick calls stay cheap and long ones stream.

// Validation helpers return the finished HTTP error response as their `Err`: it is built
// once, on the rejection path only, so its size does not matter.
#![allow(clippy::result_large_err)]

mod config;
mod gate;
mod handshake;
mod headers;
mod listener;
mod router;
mod sessions;
mod stateless;
mod stream;

pub use config::HttpConfig;
pub use listener::{serve_http, serve_listener};
pub use router::router;
