//! What a handler can do besides computing its result: report progress, log to the
//! client, and ask the client for input, the same way in both protocol eras.

use std::sync::Arc;
use std::time::Duration;

use serde_json::{Map, Value, json};
use tokio::sync::mpsc;

use super::error::{InputRequired, ToolError};
use super::session::Session;
use crate::protocol::{
    ElicitResult, Era, ErrorObject, Implementation, LoggingLevel, Message, Notification, ProtocolVersion, Request,
    codes,
};

/// A channel for messages that belong to one request (progress, logs, input requests).
pub type RequestSink = mpsc::UnboundedSender<super::outgoing::Outgoing>;

/// What a request declared about itself, from `_meta` (stateless) or the handshake.
#[derive(Debug, Clone)]
pub struct RequestMeta {
    /// The revision this request speaks.
    pub version: ProtocolVersion,
    /// The client's capabilities for this request.
    pub capabilities: Value,
    /// The client's identity, when given.
    pub client_info: Option<Implementation>,
    /// The level from which log notifications are wanted; `None`: no logs (stateless era).
    pub log_level: Option<LoggingLevel>,
    /// The token progress notifications must carry.
    pub progress_token: Option<Value>,
}

pub(crate) struct Scope {
    pub(crate) session: Arc<Session>,
    pub(crate) meta: RequestMeta,
    pub(crate) sink: Option<RequestSink>,
    pub(crate) input_responses: Map<String, Value>,
    pub(crate) request_state: Option<String>,
    pub(crate) input_timeout: Duration,
    pub(crate) changes: Option<tokio::sync::broadcast::Sender<super::change::Change>>,
    pub(crate) policy: Arc<crate::security::Policy>,
}

/// The method of the internal message by which a handler asks the HTTP transport to close
/// the current response stream (handshake era, SEP-1699 polling). Never sent on the wire.
pub const CLOSE_STREAM: &str = "$/mcp-core/closeStream";

/// The handle a tool, resource or prompt handler receives.
#[derive(Clone)]
pub struct Context {
    pub(crate) scope: Arc<Scope>,
}

impl std::fmt::Debug for Context {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Context").field("version", &self.scope.meta.version).finish_non_exhaustive()
    }
}

/// One request for input: `elicitation/create`, `sampling/createMessage` or `roots/list`.
#[derive(Debug, Clone, PartialEq)]
pub struct InputRequest {
    /// The method.
    pub method: String,
    /// Its params.
    pub params: Value,
}

impl InputRequest {
    /// A form elicitation: `message` shown to the user, `schema` the fields to fill.
    pub fn elicit(message: impl Into<String>, schema: Value) -> Self {
        Self {
            method: "elicitation/create".into(),
            params: json!({ "mode": "form", "message": message.into(), "requestedSchema": schema }),
        }
    }
    /// A sampling request with the given params (`messages`, `maxTokens`, ...).
    pub fn sample(params: Value) -> Self {
        Self { method: "sampling/createMessage".into(), params }
    }
    /// A roots listing.
    pub fn list_roots() -> Self {
        Self { method: "roots/list".into(), params: json!({}) }
    }

    /// The client capability this request needs.
    fn capability(&self) -> &'static str {
        match self.method.as_str() {
            "elicitation/create" => "elicitation",
            "sampling/createMessage" => "sampling",
            _ => "roots",
        }
    }
}

impl Context {
    /// A context for calling handlers directly (tests, embedding), with no client attached.
    pub fn detached(version: ProtocolVersion) -> Self {
        Self {
            scope: Arc::new(Scope {
                session: Arc::new(Session::new()),
                meta: RequestMeta {
                    version,
                    capabilities: json!({}),
                    client_info: None,
                    log_level: None,
                    progress_token: None,
                },
                sink: None,
                input_responses: Map::new(),
                request_state: None,
                input_timeout: Duration::from_secs(1),
                changes: None,
                policy: Arc::default(),
            }),
        }
    }

    /// Who the client is (token name, OAuth subject, `local` on stdio).
    pub fn identity(&self) -> Arc<crate::security::Identity> {
        self.scope.session.identity()
    }

    /// A named resource scope the access policy sets for this client (for example the
    /// schemas or namespaces it may touch); `None` when the policy does not restrict it.
    /// Connectors enforce their resource-level rules with it.
    pub fn policy_scope(&self, name: &str) -> Option<Vec<String>> {
        self.scope.policy.scope(&self.identity(), name).map(<[String]>::to_vec)
    }

    /// The revision the request speaks.
    pub fn protocol_version(&self) -> ProtocolVersion {
        self.scope.meta.version
    }

    /// The client's identity, when it gave one.
    pub fn client_info(&self) -> Option<&Implementation> {
        self.scope.meta.client_info.as_ref()
    }

    /// The client's declared capabilities for this request.
    pub fn client_capabilities(&self) -> &Value {
        &self.scope.meta.capabilities
    }

    /// The verified `requestState` of a retried 2026-07-28 request.
    pub fn request_state(&self) -> Option<&str> {
        self.scope.request_state.as_deref()
    }

    fn send(&self, msg: Message) {
        if let Some(sink) = &self.scope.sink {
            let _ = sink.send(msg.into());
        }
    }

    /// Reports progress, if the client asked for it with a progress token.
    pub fn progress(&self, progress: f64, total: Option<f64>, message: Option<&str>) {
        let Some(token) = &self.scope.meta.progress_token else { return };
        let mut params = json!({ "progressToken": token, "progress": progress });
        if let Some(total) = total {
            params["total"] = json!(total);
        }
        if let Some(message) = message {
            params["message"] = json!(message);
        }
        self.send(Message::Notification(Notification::new("notifications/progress", params)));
    }

    /// Tells clients that something changed (list-changed or resource-updated notifications).
    pub fn notify(&self, change: super::change::Change) {
        if let Some(changes) = &self.scope.changes {
            let _ = changes.send(change);
        }
    }

    /// Asks the HTTP transport to close this request's event stream now and let the client
    /// reconnect after `retry` (handshake era, where streams are resumable); the result is
    /// delivered on the resumed stream. Other transports ignore it.
    pub fn close_stream(&self, retry: Duration) {
        self.send(Message::Notification(Notification::new(
            CLOSE_STREAM,
            json!({ "retryMs": retry.as_millis() as u64 }),
        )));
    }

    /// Sends a log message to the client if it asked for this level.
    pub fn log(&self, level: LoggingLevel, logger: Option<&str>, data: Value) {
        let wanted = match self.scope.meta.version.era() {
            Era::Stateless => self.scope.meta.log_level,
            Era::Handshake => self.scope.session.log_level().or(Some(LoggingLevel::Debug)),
        };
        match wanted {
            Some(min) if level >= min => {}
            _ => return,
        }
        let mut params = json!({ "level": level, "data": data });
        if let Some(logger) = logger {
            params["logger"] = json!(logger);
        }
        self.send(Message::Notification(Notification::new("notifications/message", params)));
    }

    /// Asks the user to fill a form; the answer's `action` says whether they accepted.
    pub async fn elicit(&self, message: &str, schema: Value) -> Result<ElicitResult, ToolError> {
        let mut answers = self.input(vec![("elicitation".into(), InputRequest::elicit(message, schema))]).await?;
        let answer = answers.remove("elicitation").unwrap_or(Value::Null);
        serde_json::from_value(answer)
            .map_err(|e| ToolError::failed(format!("the client's elicitation answer is malformed: {e}")))
    }

    /// Gathers input from the client: in the handshake era by sending it requests and
    /// waiting; in the stateless era from the retry's `inputResponses`, or else by
    /// returning an `input_required` result that asks for what is missing.
    pub async fn input(&self, requests: Vec<(String, InputRequest)>) -> Result<Map<String, Value>, ToolError> {
        self.input_with_state(requests, None).await
    }

    /// Like [`Context::input`], carrying `state` to the retry (2026-07-28), where
    /// [`Context::request_state`] returns it, verified.
    pub async fn input_with_state(
        &self,
        requests: Vec<(String, InputRequest)>,
        state: Option<String>,
    ) -> Result<Map<String, Value>, ToolError> {
        for (_, req) in &requests {
            let cap = req.capability();
            if self.scope.meta.capabilities.get(cap).is_none() {
                return Err(self.missing_capability(cap));
            }
        }
        match self.scope.meta.version.era() {
            Era::Stateless => {
                let mut answers = Map::new();
                let mut missing = Map::new();
                for (key, req) in requests {
                    match self.scope.input_responses.get(&key) {
                        Some(answer) => {
                            answers.insert(key, answer.clone());
                        }
                        None => {
                            missing.insert(key, json!({ "method": req.method, "params": req.params }));
                        }
                    }
                }
                if missing.is_empty() {
                    Ok(answers)
                } else {
                    Err(ToolError::InputRequired(InputRequired { input_requests: missing, request_state: state }))
                }
            }
            Era::Handshake => {
                let mut answers = Map::new();
                for (key, req) in requests {
                    let answer = self.request_from_client(&req.method, req.params).await?;
                    answers.insert(key, answer);
                }
                Ok(answers)
            }
        }
    }

    fn missing_capability(&self, cap: &str) -> ToolError {
        match self.scope.meta.version.era() {
            Era::Stateless => ToolError::Protocol(
                ErrorObject::new(
                    codes::MISSING_REQUIRED_CLIENT_CAPABILITY,
                    format!("This request needs the client capability `{cap}`, which the request did not declare"),
                )
                .with_data(json!({ "requiredCapabilities": { cap: {} } })),
            ),
            Era::Handshake => ToolError::failed(format!(
                "This tool needs the client capability `{cap}`, which the client did not declare in initialize"
            )),
        }
    }

    /// Sends a request to the client (handshake era) and waits for its answer.
    async fn request_from_client(&self, method: &str, params: Value) -> Result<Value, ToolError> {
        let Some(sink) = &self.scope.sink else {
            return Err(ToolError::failed("no client connection to ask for input"));
        };
        let (id, rx) = self.scope.session.expect_response();
        if sink.send(Message::Request(Request::new(id.clone(), method, params)).into()).is_err() {
            self.scope.session.forget_pending(&id);
            return Err(ToolError::failed("the client connection closed"));
        }
        match tokio::time::timeout(self.scope.input_timeout, rx).await {
            Ok(Ok(Ok(value))) => Ok(value),
            Ok(Ok(Err(e))) => Err(ToolError::failed(format!("the client refused {method}: {}", e.message))),
            Ok(Err(_)) => Err(ToolError::failed("the client connection closed")),
            Err(_) => {
                self.scope.session.forget_pending(&id);
                Err(ToolError::failed(format!(
                    "the client did not answer {method} within {} s",
                    self.scope.input_timeout.as_secs()
                )))
            }
        }
    }
}
