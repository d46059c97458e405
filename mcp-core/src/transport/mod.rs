//! Transports: framing of JSON-RPC messages over stdio and Streamable HTTP.
//!
//! A transport knows nothing about tools: it turns bytes into [`crate::protocol::Message`]s,
//! hands them to [`crate::server::Server`], and writes back what comes out.

pub mod http;
pub mod lines;
pub mod stdio;
