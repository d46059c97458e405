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

/// Why a handler did not produce its result.
#[derive(Debug, thiserror::Error)]
pub enum ToolError {
    /// The operation failed; the model sees this message (`isError: true`) and can adapt.
    #[error("{0}")]
    Failed(String),
    /// The arguments were wrong; the message names the argument and what was expected.
    #[error("Invalid arguments: {0}")]
    InvalidArguments(String),
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
    /// A JSON-RPC error (protocol misuse, not a tool failure).
    pub fn protocol(code: i32, message: impl Into<String>) -> Self {
        Self::Protocol(ErrorObject::new(code, message))
    }
    /// The resource named by `uri` does not exist (JSON-RPC invalid params, with the URI).
    pub fn resource_not_found(uri: &str) -> Self {
        Self::Protocol(
            ErrorObject::new(codes::INVALID_PARAMS, format!("Resource not found: {uri}"))
                .with_data(serde_json::json!({ "uri": uri })),
        )
    }

    /// The result a tool call answers with, or the JSON-RPC error for protocol failures.
    pub(crate) fn into_tool_result(self) -> Result<CallToolResult, ErrorObject> {
        match self {
            ToolError::Failed(m) => Ok(CallToolResult::error(m)),
            e @ ToolError::InvalidArguments(_) => Ok(CallToolResult::error(e.to_string())),
            ToolError::Protocol(e) => Err(e),
            ToolError::InputRequired(_) => {
                Err(ErrorObject::internal("input required outside a request that allows it"))
            }
        }
    }

    /// The JSON-RPC error for non-tool requests (resources, prompts, completion).
    pub(crate) fn into_error_object(self) -> ErrorObject {
        match self {
            ToolError::Failed(m) => ErrorObject::internal(m),
            ToolError::InvalidArguments(m) => ErrorObject::invalid_params(format!("Invalid arguments: {m}")),
            ToolError::Protocol(e) => e,
            ToolError::InputRequired(_) => ErrorObject::internal("input required outside a request that allows it"),
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
