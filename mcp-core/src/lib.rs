//! `mcp-core`: the Model Context Protocol for both of its eras, a server framework,
//! a client, and the stdio and Streamable HTTP transports.
//!
//! Layers, from the bottom: [`protocol`] (messages, no I/O), [`server`] (dispatch and
//! handlers), [`security`] (authentication, access policy, audit trail), [`transport`] (framing over stdio and HTTP), [`client`], and [`cli`] (the
//! command line every connector binary shares).

pub mod cli;
pub mod client;
pub mod connector;
pub mod output;
pub mod protocol;
pub mod security;
pub mod server;
mod sync;
#[cfg(feature = "testing")]
pub mod testing;
pub mod tls;
pub mod transport;

pub use server::{
    Context, ErrorKind, Json, Server, ToolError, prompt, prompt_with, resource, resource_template,
    resource_template_with, resource_with, tool, tool_with,
};
