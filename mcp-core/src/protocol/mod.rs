//! The Model Context Protocol as data: JSON-RPC framing, revisions, and wire types.
//!
//! Nothing in here does I/O; transports and the server build on it.

pub mod headers;
pub mod jsonrpc;
pub mod portable_schema;
pub mod types;
pub mod uri;
pub mod version;

pub use jsonrpc::{ErrorObject, Message, Notification, Rejection, Request, RequestId, Response, codes, parse_message};
pub use portable_schema::make_portable;
pub use types::*;
pub use version::{Era, ProtocolVersion};
