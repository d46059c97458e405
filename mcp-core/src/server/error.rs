//! What a tool, resource or prompt handler can fail with.

use serde_json::{Map, Value};

use crate::protocol::{CallToolResult, ErrorObject, codes};

/// A request for input the client must gather before the call can finish (2026-07-28 MRTR).
#[derive(Debug, Clone, Default)]
pub struct InputRequired {
    /// Server-assigned keys to `{method, params}` request objects.
    pub input_requests: Map<String, Value>,
    /// Opaque state the client echoes back; the framework protects its integrity.
    pub request_state: Option<String>,
}

/// What kind of failure a [`ToolError`] is: what core and clients branch on, never the
/// message's wording. A failed tool call carries it in its result's `_meta` under
/// [`ERROR_KIND_META`] (`"not_found"`, `"invalid_arguments"`, ...).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorKind {
    /// The operation failed for a reason of its own (the message says which).
    Failed,
    /// An argument was wrong; retrying with the same arguments fails the same way.
    InvalidArguments,
    /// What the call names does not exist (a table, a container, a workflow).
    NotFound,
    /// Refused by configuration or policy: read-only, writes disabled, out of scope.
    Refused,
    /// The backend could not be reached or is not ready; retrying later may work.
    Unavailable,
    /// The backend took longer than the call's time limit.
    TimedOut,
    /// A protocol-level failure (answered as a JSON-RPC error).
    Protocol,
    /// The call needs input from the client first.
    InputRequired,
}

/// The `_meta` key of a failed tool result that holds its [`ErrorKind`].
pub const ERROR_KIND_META: &str = "io.github.mcp-connectors/errorKind";

/// Why a handler did not produce its result.
#[derive(Debug, thiserror::Error)]
pub enum ToolError {
    /// The operation failed; the model sees this message (`isError: true`) and can adapt.
    #[error("{0}")]
    Failed(String),
    /// The arguments were wrong; the message names the argument and what was expected.
    #[error("Invalid arguments: {0}")]
    InvalidArguments(String),
    /// What the call names does not exist; the message says what and where.
    #[error("{0}")]
    NotFound(String),
    /// Refused by the server's configuration or access policy; the message says which
    /// setting, so an operator can change it (a model cannot).
    #[error("{0}")]
    Refused(String),
    /// The backend is down, unreachable or refusing connections.
    #[error("{0}")]
    Unavailable(String),
    /// The backend did not answer within the call's time limit.
    #[error("{0}")]
    TimedOut(String),
    /// The resource `uri` does not exist: a JSON-RPC error whose code depends on the
    /// protocol era, so the dispatcher words it.
    #[error("Resource not found: {0}")]
    ResourceNotFound(String),
    /// A protocol-level failure, answered as a JSON-RPC error.
    #[error("{0}")]
    Protocol(ErrorObject),
    /// More input is needed from the client before the call can finish.
    #[error("input required")]
    InputRequired(InputRequired),
}

impl ToolError {
    /// A failure the model should see.
    pub fn failed(message: impl Into<String>) -> Self {
        Self::Failed(message.into())
    }
    /// Bad arguments, naming which and why.
    pub fn invalid_arguments(message: impl Into<String>) -> Self {
        Self::InvalidArguments(message.into())
    }
    /// What the call names does not exist.
    pub fn not_found(message: impl Into<String>) -> Self {
        Self::NotFound(message.into())
    }
    /// Refused by configuration or policy.
    pub fn refused(message: impl Into<String>) -> Self {
        Self::Refused(message.into())
    }
    /// The backend cannot be reached.
    pub fn unavailable(message: impl Into<String>) -> Self {
        Self::Unavailable(message.into())
    }
    /// The backend did not answer in time.
    pub fn timed_out(message: impl Into<String>) -> Self {
        Self::TimedOut(message.into())
    }
    /// The kind of failure, for code that branches on it.
    pub fn kind(&self) -> ErrorKind {
        match self {
            ToolError::Failed(_) => ErrorKind::Failed,
            ToolError::InvalidArguments(_) => ErrorKind::InvalidArguments,
            ToolError::NotFound(_) | ToolError::ResourceNotFound(_) => ErrorKind::NotFound,
            ToolError::Refused(_) => ErrorKind::Refused,
            ToolError::Unavailable(_) => ErrorKind::Unavailable,
            ToolError::TimedOut(_) => ErrorKind::TimedOut,
            ToolError::Protocol(_) => ErrorKind::Protocol,
            ToolError::InputRequired(_) => ErrorKind::InputRequired,
        }
    }
    /// A JSON-RPC error (protocol misuse, not a tool failure).
    pub fn protocol(code: i32, message: impl Into<String>) -> Self {
        Self::Protocol(ErrorObject::new(code, message))
    }
    /// The resource named by `uri` does not exist (a JSON-RPC error with the URI, its code
    /// the one of the request's protocol era).
    pub fn resource_not_found(uri: &str) -> Self {
        Self::ResourceNotFound(uri.to_string())
    }

    /// The result a tool call answers with, or the JSON-RPC error for protocol failures.
    pub(crate) fn into_tool_result(self) -> Result<CallToolResult, ErrorObject> {
        let kind = self.kind();
        match self {
            ToolError::Protocol(e) => Err(e),
            ToolError::InputRequired(_) => {
                Err(ErrorObject::internal("input required outside a request that allows it"))
            }
            e => {
                let mut result = CallToolResult::error(e.to_string());
                let mut meta = Map::new();
                meta.insert(ERROR_KIND_META.into(), serde_json::to_value(kind).unwrap_or(Value::Null));
                result.meta = Some(meta);
                Ok(result)
            }
        }
    }

    /// The JSON-RPC error for non-tool requests (resources, prompts, completion).
    pub(crate) fn into_error_object(self) -> ErrorObject {
        match self {
            ToolError::InvalidArguments(m) => ErrorObject::invalid_params(format!("Invalid arguments: {m}")),
            ToolError::ResourceNotFound(uri) => {
                ErrorObject::new(codes::INVALID_PARAMS, format!("Resource not found: {uri}"))
                    .with_data(serde_json::json!({ "uri": uri }))
            }
            ToolError::Protocol(e) => e,
            ToolError::InputRequired(_) => ErrorObject::internal("input required outside a request that allows it"),
            e => ErrorObject::internal(e.to_string()),
        }
    }
}

impl From<String> for ToolError {
    fn from(s: String) -> Self {
        Self::Failed(s)
    }
}

impl From<&str> for ToolError {
    fn from(s: &str) -> Self {
        Self::Failed(s.to_string())
    }
}

impl From<std::io::Error> for ToolError {
    fn from(e: std::io::Error) -> Self {
        Self::Failed(e.to_string())
    }
}

impl From<serde_json::Error> for ToolError {
    fn from(e: serde_json::Error) -> Self {
        Self::Failed(format!("JSON error: {e}"))
    }
}
