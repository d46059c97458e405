//! How a client connects ([`ClientOptions`], [`EraChoice`]) and how its calls fail
//! ([`ClientError`]).

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use serde_json::{Value, json};

use crate::protocol::{ErrorObject, Implementation, Notification};

/// Why a client call failed.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// The server answered with a JSON-RPC error.
    #[error("server error {}: {}", .0.code, .0.message)]
    Protocol(ErrorObject),
    /// The connection failed or carried something that is not MCP.
    #[error("transport: {0}")]
    Transport(String),
    /// No answer in time.
    #[error("timed out after {0:?}")]
    Timeout(Duration),
    /// The answer did not have the expected shape.
    #[error("unexpected answer: {0}")]
    Unexpected(String),
}

type BoxFuture<T> = Pin<Box<dyn Future<Output = T> + Send>>;
/// Answers a server's request for input (`elicitation/create`, `sampling/createMessage`,
/// `roots/list`) with the client's result for it.
pub type InputHandler = Arc<dyn Fn(String, Value) -> BoxFuture<Result<Value, ErrorObject>> + Send + Sync>;
/// Receives notifications (progress, logs, list changes).
pub type NotificationHandler = Arc<dyn Fn(Notification) + Send + Sync>;

/// Which era to speak.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EraChoice {
    /// Probe with `server/discover`, fall back to `initialize`.
    Auto,
    /// Always 2026-07-28.
    Stateless,
    /// Always the `initialize` handshake.
    Handshake,
}

/// Options for connecting.
#[derive(Clone)]
pub struct ClientOptions {
    /// The client's identity.
    pub info: Implementation,
    /// The era to speak.
    pub era: EraChoice,
    /// Deadline of each request.
    pub request_timeout: Duration,
    /// Answers input requests; without one, input requests are declined.
    pub on_input: Option<InputHandler>,
    /// Receives notifications.
    pub on_notification: Option<NotificationHandler>,
    /// Sent as `Authorization: Bearer …` to HTTP servers.
    pub bearer_token: Option<String>,
}

impl std::fmt::Debug for ClientOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClientOptions").field("era", &self.era).finish_non_exhaustive()
    }
}

impl Default for ClientOptions {
    fn default() -> Self {
        Self {
            info: Implementation::new("mcp-core-client", env!("CARGO_PKG_VERSION")),
            era: EraChoice::Auto,
            request_timeout: Duration::from_secs(60),
            on_input: None,
            on_notification: None,
            bearer_token: None,
        }
    }
}

impl ClientOptions {
    pub(super) fn capabilities(&self) -> Value {
        if self.on_input.is_some() { json!({ "elicitation": {}, "sampling": {}, "roots": {} }) } else { json!({}) }
    }

    /// Answers a server's input request through the handler.
    pub(super) async fn answer(&self, method: &str, params: Value) -> Result<Value, ErrorObject> {
        match &self.on_input {
            Some(h) => h(method.to_string(), params).await,
            None => Err(ErrorObject::method_not_found(method)),
        }
    }
}
