//! What every request is checked against before it is routed: the methods of each era,
//! the stateless envelope in `_meta` (or the session's handshake), and the params every
//! method reads.

use serde_json::{Map, Value, json};

use crate::protocol::types::meta;
use crate::protocol::{Era, ErrorObject, Implementation, LoggingLevel, ProtocolVersion, Request, codes, jsonrpc::kind};
use crate::server::context::RequestMeta;
use crate::server::session::{Handshake, Session};
use crate::server::state::Binding;

/// Methods a stateless (2026-07-28) request may name.
pub(super) const STATELESS_METHODS: &[&str] = &[
    "server/discover",
    "tools/list",
    "tools/call",
    "resources/list",
    "resources/read",
    "resources/templates/list",
    "prompts/list",
    "prompts/get",
    "completion/complete",
    "subscriptions/listen",
];

/// Methods of the handshake era.
pub(super) const HANDSHAKE_METHODS: &[&str] = &[
    "initialize",
    "ping",
    "logging/setLevel",
    "tools/list",
    "tools/call",
    "resources/list",
    "resources/read",
    "resources/templates/list",
    "resources/subscribe",
    "resources/unsubscribe",
    "prompts/list",
    "prompts/get",
    "completion/complete",
    "server/discover",
];

pub(super) fn params_of(req: &Request) -> &Map<String, Value> {
    static EMPTY: std::sync::OnceLock<Map<String, Value>> = std::sync::OnceLock::new();
    req.params.as_ref().unwrap_or_else(|| EMPTY.get_or_init(Map::new))
}

/// `UnsupportedProtocolVersionError`, listing what this server supports.
pub(crate) fn unsupported_version(requested: &str) -> ErrorObject {
    ErrorObject::new(codes::UNSUPPORTED_PROTOCOL_VERSION, "Unsupported protocol version").with_data(json!({
        "supported": ProtocolVersion::supported_strings(),
        "requested": requested,
    }))
}

/// Reads the stateless envelope from `_meta`, precisely rejecting what is missing.
pub(crate) fn stateless_meta(params: &Map<String, Value>) -> Result<RequestMeta, ErrorObject> {
    let m = match params.get("_meta") {
        Some(Value::Object(m)) => m,
        Some(other) => {
            return Err(ErrorObject::invalid_params(format!("`params._meta` must be an object, got {}", kind(other))));
        }
        None => return Err(ErrorObject::invalid_params("missing `params._meta`")),
    };
    let version = match m.get(meta::PROTOCOL_VERSION) {
        Some(Value::String(v)) => match ProtocolVersion::parse(v) {
            Some(p) if p.era() == Era::Stateless => p,
            _ => return Err(unsupported_version(v)),
        },
        Some(other) => {
            return Err(ErrorObject::invalid_params(format!(
                "`_meta.{}` must be a string, got {}",
                meta::PROTOCOL_VERSION,
                kind(other)
            )));
        }
        None => return Err(ErrorObject::invalid_params(format!("missing `_meta.{}`", meta::PROTOCOL_VERSION))),
    };
    let capabilities = match m.get(meta::CLIENT_CAPABILITIES) {
        Some(v @ Value::Object(_)) => v.clone(),
        Some(other) => {
            return Err(ErrorObject::invalid_params(format!(
                "`_meta.{}` must be an object, got {}",
                meta::CLIENT_CAPABILITIES,
                kind(other)
            )));
        }
        None => {
            return Err(ErrorObject::invalid_params(format!(
                "missing `_meta.{}` (send {{}} when the client has no optional capabilities)",
                meta::CLIENT_CAPABILITIES
            )));
        }
    };
    let client_info = match m.get(meta::CLIENT_INFO) {
        None => None,
        Some(v) => Some(
            serde_json::from_value::<Implementation>(v.clone())
                .map_err(|e| ErrorObject::invalid_params(format!("`_meta.{}` is malformed: {e}", meta::CLIENT_INFO)))?,
        ),
    };
    let log_level = match m.get(meta::LOG_LEVEL) {
        None => None,
        Some(v) => Some(serde_json::from_value::<LoggingLevel>(v.clone()).map_err(|_| {
            ErrorObject::invalid_params(format!(
                "`_meta.{}` must be one of debug, info, notice, warning, error, critical, alert, emergency; got {v}",
                meta::LOG_LEVEL
            ))
        })?),
    };
    Ok(RequestMeta { version, capabilities, client_info, log_level, progress_token: m.get("progressToken").cloned() })
}

/// What a request's `requestState` is bound to: `target` (method and name), the client,
/// and the request's `arguments`.
pub(super) fn binding<'a>(session: &'a Session, req: &'a Request, target: &'a str) -> Binding<'a> {
    Binding {
        target,
        principal: &session.identity_ref().name,
        arguments: params_of(req).get("arguments").and_then(Value::as_object),
    }
}

/// A second `initialize` on one session: the lifecycle has one initialization phase, and
/// what was negotiated stays as it is.
pub(super) fn already_initialized(version: ProtocolVersion) -> ErrorObject {
    ErrorObject::invalid_request(format!(
        "Invalid Request: this session is already initialized (protocol version {}); initialize is \
         sent once, as a session's first request. Open a new session to initialize again",
        version.as_str()
    ))
}

pub(super) fn handshake_meta(hs: &Handshake, params: &Map<String, Value>) -> RequestMeta {
    RequestMeta {
        version: hs.version,
        capabilities: hs.capabilities.clone(),
        client_info: hs.client_info.clone(),
        log_level: None,
        progress_token: params.get("_meta").and_then(|m| m.get("progressToken")).cloned(),
    }
}

pub(super) fn str_param<'a>(params: &'a Map<String, Value>, name: &str, method: &str) -> Result<&'a str, ErrorObject> {
    match params.get(name) {
        Some(Value::String(s)) => Ok(s),
        Some(other) => {
            Err(ErrorObject::invalid_params(format!("`{name}` of {method} must be a string, got {}", kind(other))))
        }
        None => Err(ErrorObject::invalid_params(format!("{method} needs `{name}`"))),
    }
}

pub(super) fn object_param(
    params: &Map<String, Value>,
    name: &str,
    method: &str,
) -> Result<Map<String, Value>, ErrorObject> {
    match params.get(name) {
        None | Some(Value::Null) => Ok(Map::new()),
        Some(Value::Object(o)) => Ok(o.clone()),
        Some(other) => {
            Err(ErrorObject::invalid_params(format!("`{name}` of {method} must be an object, got {}", kind(other))))
        }
    }
}

/// The `data` key of the error for a call the access policy refused: clients and the
/// audit trail tell a denial from other invalid calls by it.
pub(super) const DENIED_BY: &str = "deniedBy";

/// The error for a `name` that no registered `what` (tool, prompt) has.
pub(super) fn unknown(what: &str, name: &str, list: &str) -> ErrorObject {
    ErrorObject::invalid_params(format!("Unknown {what}: {name:?}. Call {list} to see the available {what}s"))
}
