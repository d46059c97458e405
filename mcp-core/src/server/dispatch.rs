//! Method routing for both eras: decide the era of each request, validate its envelope,
//! run the handler under the server's limits, and shape the result for the era.

use std::collections::HashMap;
use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use futures::FutureExt;
use serde_json::{Map, Value, json};

use super::Server;
use super::change::Change;
use super::context::{Context, InputRequest, RequestMeta, RequestSink, Scope};
use super::error::ToolError;
use super::handler::{CompletionRequest, ResourceKind};
use super::outgoing::Answer;
use super::session::{Handshake, Session};
use super::state::Binding;
use crate::protocol::types::meta;
use crate::protocol::{
    Era, ErrorObject, Implementation, LoggingLevel, Message, Notification, ProtocolVersion, Request, RequestId,
    Response, codes, jsonrpc::kind,
};
use crate::security::audit::{AuditLog, AuditStart, LineHead, OpenLine};

/// Methods a stateless (2026-07-28) request may name.
const STATELESS_METHODS: &[&str] = &[
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
const HANDSHAKE_METHODS: &[&str] = &[
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

fn params_of(req: &Request) -> &Map<String, Value> {
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
fn binding<'a>(session: &'a Session, req: &'a Request, target: &'a str) -> Binding<'a> {
    Binding {
        target,
        principal: &session.identity_ref().name,
        arguments: params_of(req).get("arguments").and_then(Value::as_object),
    }
}

/// A second `initialize` on one session: the lifecycle has one initialization phase, and
/// what was negotiated stays as it is.
fn already_initialized(version: ProtocolVersion) -> ErrorObject {
    ErrorObject::invalid_request(format!(
        "Invalid Request: this session is already initialized (protocol version {}); initialize is \
         sent once, as a session's first request. Open a new session to initialize again",
        version.as_str()
    ))
}

fn handshake_meta(hs: &Handshake, params: &Map<String, Value>) -> RequestMeta {
    RequestMeta {
        version: hs.version,
        capabilities: hs.capabilities.clone(),
        client_info: hs.client_info.clone(),
        log_level: None,
        progress_token: params.get("_meta").and_then(|m| m.get("progressToken")).cloned(),
    }
}

fn str_param<'a>(params: &'a Map<String, Value>, name: &str, method: &str) -> Result<&'a str, ErrorObject> {
    match params.get(name) {
        Some(Value::String(s)) => Ok(s),
        Some(other) => {
            Err(ErrorObject::invalid_params(format!("`{name}` of {method} must be a string, got {}", kind(other))))
        }
        None => Err(ErrorObject::invalid_params(format!("{method} needs `{name}`"))),
    }
}

fn object_param(params: &Map<String, Value>, name: &str, method: &str) -> Result<Map<String, Value>, ErrorObject> {
    match params.get(name) {
        None | Some(Value::Null) => Ok(Map::new()),
        Some(Value::Object(o)) => Ok(o.clone()),
        Some(other) => {
            Err(ErrorObject::invalid_params(format!("`{name}` of {method} must be an object, got {}", kind(other))))
        }
    }
}

/// A response's outcome for metrics and the audit trail, with its error message.
fn classify(response: &Response) -> (&'static str, Option<String>) {
    match &response.outcome {
        Ok(result) if result.get("isError") == Some(&Value::Bool(true)) => {
            let text = result.pointer("/content/0/text").and_then(Value::as_str).unwrap_or_default();
            ("tool_error", Some(text[..super::budget::floor_char_boundary(text, 500)].to_string()))
        }
        Ok(result) if result.get("resultType").and_then(Value::as_str) == Some("input_required") => {
            ("input_required", None)
        }
        Ok(_) => ("ok", None),
        Err(e) if e.data.as_ref().and_then(|d| d.get(DENIED_BY)).is_some() => ("denied", Some(e.message.clone())),
        Err(e) => ("error", Some(e.message.clone())),
    }
}

/// The `data` key of the error for a call the access policy refused: clients and the
/// audit trail tell a denial from other invalid calls by it.
const DENIED_BY: &str = "deniedBy";

/// A request's place among those its client has in flight, given back when dropped. A
/// counter rather than a semaphore: taking and giving back are one atomic operation
/// each, where a semaphore's release takes a lock (this runs on every request).
struct ClientSlot<'a>(&'a AtomicUsize);

impl<'a> ClientSlot<'a> {
    fn take(count: &'a AtomicUsize, limit: usize) -> Option<Self> {
        count.fetch_update(Ordering::Acquire, Ordering::Relaxed, |n| (n < limit).then_some(n + 1)).ok()?;
        Some(Self(count))
    }
}

impl Drop for ClientSlot<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Release);
    }
}

impl Server {
    /// Answers one request. `sink` carries the request's own messages (progress, logs,
    /// handshake-era input requests) ahead of the response. For callers that do not write
    /// the response as JSON themselves; transports use [`Server::answer`].
    pub async fn handle_request(&self, session: &Arc<Session>, req: Request, sink: Option<RequestSink>) -> Response {
        let size = req.params.as_ref().map_or(0, crate::connector::bounded::object_size);
        self.answer(session, req, size, sink).await.into_response()
    }

    /// Answers one request that took `bytes_in` bytes on the wire. The answer is written
    /// by the transport, which closes its audit line with the bytes that went out.
    pub async fn answer(
        &self,
        session: &Arc<Session>,
        req: Request,
        bytes_in: usize,
        sink: Option<RequestSink>,
    ) -> Answer {
        let id = req.id.clone();
        let started = Instant::now();
        let _in_flight = self.inner.metrics.start();
        let method = req.method.clone();
        let (tool, sensitive) = self.subject(&req);
        // Dropped before the end (the request was cancelled), the line is written as such.
        let mut audit =
            self.inner.audit.as_ref().map(|log| self.audit_open(log, session, &req, sensitive, bytes_in, started));
        let response = match self.client_slot(session) {
            Err(e) => Response::error(Some(id), e),
            Ok(_slot) => match AssertUnwindSafe(self.route(session, req, sink)).catch_unwind().await {
                Ok(Ok(result)) => Response::result(id, result),
                Ok(Err(e)) => Response::error(Some(id), e),
                Err(_) => {
                    tracing::error!(request = %id, "handler panicked");
                    Response::error(Some(id), ErrorObject::internal("Internal error: the handler failed unexpectedly"))
                }
            },
        };
        let (outcome, error) = classify(&response);
        let elapsed = started.elapsed();
        self.inner.metrics.finish(&method, tool, outcome, elapsed.as_secs_f64());
        if let Some(line) = &mut audit {
            line.answered(outcome, error, elapsed);
        }
        Answer::new(response, audit)
    }

    /// The tool or prompt a request names, if registered: its metrics label (`unknown`
    /// otherwise, so that labels stay bounded), and the argument names the tool declared
    /// sensitive. One lookup serves the metrics and the audit trail.
    fn subject(&self, req: &Request) -> (&str, &[String]) {
        let name = req.params.as_ref().and_then(|p| p.get("name")).and_then(Value::as_str);
        match (req.method.as_str(), name) {
            ("tools/call", Some(n)) => self
                .inner
                .tools
                .get_key_value(n)
                .map_or(("unknown", &[]), |(k, route)| (k.as_str(), route.sensitive.as_slice())),
            ("prompts/get", Some(n)) => {
                (self.inner.prompts.get_key_value(n).map_or("unknown", |(k, _)| k.as_str()), &[])
            }
            _ => ("", &[]),
        }
    }

    /// A slot among the requests this client may have in flight at once.
    fn client_slot<'s>(&self, session: &'s Session) -> Result<Option<ClientSlot<'s>>, ErrorObject> {
        let limit = self.inner.config.max_in_flight_per_client;
        if limit == 0 {
            return Ok(None);
        }
        let identity = session.identity_ref();
        // Unauthenticated HTTP clients all share one name: a bound on it would bound them all.
        if identity.name == "anonymous" && identity.scopes.is_empty() {
            return Ok(None);
        }
        let count = session.client_slots(|| {
            let mut all = crate::sync::lock(&self.inner.client_slots);
            all.entry(identity.name.clone()).or_default().clone()
        });
        ClientSlot::take(count, limit).map(Some).ok_or_else(|| {
            ErrorObject::internal(format!(
                "Too many requests in flight for client {:?}: the limit is {limit}; wait for some to finish",
                identity.name
            ))
        })
    }

    /// The audit line of a request, opened before it runs (`sensitive`: the argument names
    /// its tool declared sensitive).
    fn audit_open(
        &self,
        log: &AuditLog,
        session: &Session,
        req: &Request,
        sensitive: &[String],
        bytes_in: usize,
        started: Instant,
    ) -> OpenLine {
        let params = params_of(req);
        let stateless = params.get("_meta").and_then(|m| m.get(meta::PROTOCOL_VERSION)).and_then(Value::as_str);
        let (era, version) = match stateless {
            Some(v) => ("stateless", ProtocolVersion::parse(v).map_or("unsupported", |v| v.as_str())),
            None => ("handshake", session.negotiated_version().map_or("", |v| v.as_str())),
        };
        let target = params.get("name").or_else(|| params.get("uri")).and_then(Value::as_str);
        let make = || LineHead::new(session.transport(), &session.identity_ref().name, era, version);
        // Before its handshake a session has no version yet: it keeps the head of its first
        // request that has one. A request of another era or revision makes its own.
        let kept = (!version.is_empty()).then(|| session.audit_head(make)).filter(|h| h.is_for(era, version));
        let fresh;
        let head = match kept {
            Some(head) => head,
            None => {
                fresh = make();
                &fresh
            }
        };
        log.open(
            AuditStart { head, method: &req.method, target, arguments: params.get("arguments"), sensitive, bytes_in },
            started,
        )
    }

    /// Handles a notification from the client.
    pub fn handle_notification(&self, session: &Session, n: Notification) {
        match n.method.as_str() {
            "notifications/initialized" => session.mark_initialized(),
            "notifications/cancelled" => {
                let id = n.params.as_ref().and_then(|p| p.get("requestId")).cloned();
                match id.map(serde_json::from_value::<RequestId>) {
                    Some(Ok(id)) => {
                        if session.cancel(&id) {
                            tracing::debug!(request = %id, "cancelled by the client");
                        }
                    }
                    _ => tracing::debug!("notifications/cancelled without a valid requestId"),
                }
            }
            "notifications/roots/list_changed" | "notifications/progress" => {}
            other => tracing::debug!(method = other, "ignoring unknown notification"),
        }
    }

    /// Handles any incoming message; returns what must be sent back, if anything.
    /// Transports that need no concurrency (tests, simple embeddings) can use this.
    pub async fn handle_message(
        &self,
        session: &Arc<Session>,
        msg: Message,
        sink: Option<RequestSink>,
    ) -> Option<Response> {
        match msg {
            Message::Request(req) => Some(self.handle_request(session, req, sink).await),
            Message::Notification(n) => {
                self.handle_notification(session, n);
                None
            }
            Message::Response(r) => {
                session.deliver_response(r);
                None
            }
        }
    }

    async fn route(
        &self,
        session: &Arc<Session>,
        req: Request,
        sink: Option<RequestSink>,
    ) -> Result<Value, ErrorObject> {
        let params = params_of(&req);
        let has_stateless_meta = params.get("_meta").and_then(|m| m.get(meta::PROTOCOL_VERSION)).is_some();
        let meta = if has_stateless_meta {
            let meta = stateless_meta(params)?;
            if !STATELESS_METHODS.contains(&req.method.as_str()) {
                return Err(ErrorObject::method_not_found(&req.method));
            }
            meta
        } else {
            match req.method.as_str() {
                "initialize" => return self.initialize(session, params),
                "ping" => return Ok(json!({})),
                "server/discover" => return Ok(self.discover()),
                _ => {}
            }
            let Some(hs) = session.handshake() else {
                if !HANDSHAKE_METHODS.contains(&req.method.as_str())
                    && !STATELESS_METHODS.contains(&req.method.as_str())
                {
                    return Err(ErrorObject::method_not_found(&req.method));
                }
                return Err(ErrorObject::invalid_request(format!(
                    "{} before initialize: handshake-era clients must call initialize first; \
                     2026-07-28 clients must send `_meta.{}` and `_meta.{}` on every request",
                    req.method,
                    meta::PROTOCOL_VERSION,
                    meta::CLIENT_CAPABILITIES
                )));
            };
            if !HANDSHAKE_METHODS.contains(&req.method.as_str()) {
                return Err(ErrorObject::method_not_found(&req.method));
            }
            handshake_meta(&hs, params)
        };
        let stateless = meta.version.era() == Era::Stateless;
        let mut result = match req.method.as_str() {
            "server/discover" => return Ok(self.discover()),
            "logging/setLevel" => {
                let level: LoggingLevel = serde_json::from_value(params.get("level").cloned().unwrap_or(Value::Null))
                    .map_err(|_| ErrorObject::invalid_params("logging/setLevel needs `level`: one of debug, info, notice, warning, error, critical, alert, emergency"))?;
                session.set_log_level(level);
                json!({})
            }
            "tools/list" => self.list_tools(session, params)?,
            "tools/call" => self.call_tool(session, &req, meta.clone(), sink).await?,
            "resources/list" => self.list_resources(session, &req, meta.clone(), sink).await?,
            "resources/templates/list" => self.list_templates(params)?,
            "resources/read" => self.read_resource(session, &req, meta.clone(), sink).await?,
            "resources/subscribe" => {
                let uri = str_param(params, "uri", "resources/subscribe")?;
                session.subscribe(uri.to_string());
                json!({})
            }
            "resources/unsubscribe" => {
                let uri = str_param(params, "uri", "resources/unsubscribe")?;
                session.unsubscribe(uri);
                json!({})
            }
            "prompts/list" => self.list_prompts(params)?,
            "prompts/get" => self.get_prompt(session, &req, meta.clone(), sink).await?,
            "completion/complete" => self.complete(session, params, meta.clone()).await?,
            "subscriptions/listen" => self.listen(&req, sink).await?,
            other => return Err(ErrorObject::method_not_found(other)),
        };
        if stateless {
            self.decorate_stateless(&req.method, &mut result);
        }
        Ok(result)
    }

    /// Adds `resultType`, server identity and cache hints to a stateless result.
    fn decorate_stateless(&self, method: &str, result: &mut Value) {
        let Value::Object(obj) = result else { return };
        obj.entry("resultType").or_insert_with(|| json!("complete"));
        let m = obj.entry("_meta").or_insert_with(|| json!({}));
        if let Value::Object(m) = m {
            m.insert(meta::SERVER_INFO.into(), json!(self.inner.info));
        }
        if matches!(
            method,
            "tools/list" | "prompts/list" | "resources/list" | "resources/templates/list" | "resources/read"
        ) && obj.get("resultType").and_then(Value::as_str) == Some("complete")
        {
            obj.entry("ttlMs").or_insert_with(|| json!(self.inner.config.list_ttl_ms));
            obj.entry("cacheScope").or_insert_with(|| json!("public"));
        }
    }

    fn capabilities(&self) -> Value {
        let mut caps = json!({ "logging": {} });
        if !self.inner.tools.is_empty() {
            caps["tools"] = json!({ "listChanged": true });
        }
        if !self.inner.resources.is_empty() || !self.inner.templates.is_empty() || self.inner.resource_lister.is_some()
        {
            caps["resources"] = json!({ "subscribe": true, "listChanged": true });
        }
        if !self.inner.prompts.is_empty() {
            caps["prompts"] = json!({ "listChanged": true });
        }
        if self.inner.completer.is_some() {
            caps["completions"] = json!({});
        }
        caps
    }

    fn initialize(&self, session: &Session, params: &Map<String, Value>) -> Result<Value, ErrorObject> {
        if let Some(version) = session.negotiated_version() {
            return Err(already_initialized(version));
        }
        let requested = str_param(params, "protocolVersion", "initialize")?;
        let version = match ProtocolVersion::parse(requested) {
            Some(v) if v.era() == Era::Handshake => v,
            _ => ProtocolVersion::LATEST_HANDSHAKE,
        };
        let capabilities = match params.get("capabilities") {
            Some(v @ Value::Object(_)) => v.clone(),
            None => json!({}),
            Some(other) => {
                return Err(ErrorObject::invalid_params(format!(
                    "`capabilities` of initialize must be an object, got {}",
                    kind(other)
                )));
            }
        };
        let client_info =
            match params.get("clientInfo") {
                None => None,
                Some(v) => Some(serde_json::from_value::<Implementation>(v.clone()).map_err(|e| {
                    ErrorObject::invalid_params(format!("`clientInfo` of initialize is malformed: {e}"))
                })?),
            };
        // Checked again as it is set: two initialize requests may run at once.
        if !session.set_handshake(Handshake { version, capabilities, client_info }) {
            return Err(already_initialized(session.negotiated_version().unwrap_or(version)));
        }
        let mut result = json!({
            "protocolVersion": version.as_str(),
            "capabilities": self.capabilities(),
            "serverInfo": self.inner.info,
        });
        if let Some(instructions) = &self.inner.instructions {
            result["instructions"] = json!(instructions);
        }
        Ok(result)
    }

    fn discover(&self) -> Value {
        let mut result = json!({
            "resultType": "complete",
            "supportedVersions": ProtocolVersion::supported_strings(),
            "capabilities": self.capabilities(),
            "_meta": { meta::SERVER_INFO: self.inner.info },
            "ttlMs": self.inner.config.list_ttl_ms,
            "cacheScope": "public",
        });
        if let Some(instructions) = &self.inner.instructions {
            result["instructions"] = json!(instructions);
        }
        result
    }

    fn page<T: serde::Serialize>(
        &self,
        params: &Map<String, Value>,
        items: impl ExactSizeIterator<Item = T>,
        key: &str,
    ) -> Result<Value, ErrorObject> {
        let start = match params.get("cursor") {
            None | Some(Value::Null) => 0,
            Some(Value::String(c)) => decode_cursor(c).ok_or_else(|| {
                ErrorObject::invalid_params(format!("`cursor` {c:?} is not a cursor this server issued"))
            })?,
            Some(other) => {
                return Err(ErrorObject::invalid_params(format!("`cursor` must be a string, got {}", kind(other))));
            }
        };
        let total = items.len();
        let size = self.inner.config.page_size.max(1);
        let page: Vec<T> = items.skip(start).take(size).collect();
        let mut result = json!({ key: page });
        if start + size < total {
            result["nextCursor"] = json!(encode_cursor(start + size));
        }
        Ok(result)
    }

    /// The tools the policy lets this client use.
    fn list_tools(&self, session: &Session, params: &Map<String, Value>) -> Result<Value, ErrorObject> {
        let identity = session.identity();
        let allowed: Vec<&crate::protocol::Tool> = self
            .inner
            .tools
            .values()
            .map(|t| &t.tool)
            .filter(|t| self.inner.policy.check(&identity, t).is_ok())
            .collect();
        self.page(params, allowed.into_iter(), "tools")
    }

    /// The static resources, then those the connector's lister finds for this client.
    async fn list_resources(
        &self,
        session: &Arc<Session>,
        req: &Request,
        meta: RequestMeta,
        sink: Option<RequestSink>,
    ) -> Result<Value, ErrorObject> {
        let params = params_of(req);
        let mut items: Vec<crate::protocol::Resource> = self
            .inner
            .resources
            .values()
            .filter_map(|r| match &r.kind {
                ResourceKind::Static(res) => Some(res.clone()),
                ResourceKind::Template(..) => None,
            })
            .collect();
        if let Some(lister) = &self.inner.resource_lister {
            let ctx = self.context(session, req, "resources/list", meta, sink)?;
            let listed = self.run("listing resources", lister(ctx)).await.map_err(ToolError::into_error_object)?;
            items.extend(listed);
        }
        self.page(params, items.into_iter(), "resources")
    }

    fn list_templates(&self, params: &Map<String, Value>) -> Result<Value, ErrorObject> {
        let items: Vec<_> = self
            .inner
            .templates
            .iter()
            .filter_map(|r| match &r.kind {
                ResourceKind::Template(t, _) => Some(t),
                ResourceKind::Static(_) => None,
            })
            .collect();
        self.page(params, items.into_iter(), "resourceTemplates")
    }

    fn list_prompts(&self, params: &Map<String, Value>) -> Result<Value, ErrorObject> {
        self.page(params, self.inner.prompts.values().map(|p| &p.prompt), "prompts")
    }

    /// Builds the handler's context; for stateless retries, verifies `requestState` and
    /// reads `inputResponses`.
    fn context(
        &self,
        session: &Arc<Session>,
        req: &Request,
        target: &str,
        meta: RequestMeta,
        sink: Option<RequestSink>,
    ) -> Result<Context, ErrorObject> {
        let params = params_of(req);
        let (input_responses, request_state) = if meta.version.era() == Era::Stateless {
            let responses = object_param(params, "inputResponses", &req.method)?;
            for (key, value) in &responses {
                if !value.is_object() {
                    return Err(ErrorObject::invalid_params(format!(
                        "`inputResponses.{key}` must be an object (the client's result for that input request), got {}",
                        kind(value)
                    )));
                }
            }
            let state = match params.get("requestState") {
                None | Some(Value::Null) => None,
                Some(Value::String(s)) => self
                    .inner
                    .sealer
                    .open(&binding(session, req, target), s)
                    .map_err(|why| ErrorObject::invalid_params(format!("Invalid requestState: {why}")))?,
                Some(other) => {
                    return Err(ErrorObject::invalid_params(format!(
                        "`requestState` must be a string, got {}",
                        kind(other)
                    )));
                }
            };
            (responses, state)
        } else {
            (Map::new(), None)
        };
        Ok(self.new_context(session, meta, sink, input_responses, request_state))
    }

    fn new_context(
        &self,
        session: &Arc<Session>,
        meta: RequestMeta,
        sink: Option<RequestSink>,
        input_responses: Map<String, Value>,
        request_state: Option<String>,
    ) -> Context {
        Context {
            scope: Arc::new(Scope {
                session: session.clone(),
                meta,
                sink,
                input_responses,
                request_state,
                input_timeout: self.inner.config.input_timeout,
                changes: Some(self.inner.changes.clone()),
                policy: self.inner.policy.clone(),
            }),
        }
    }

    /// Runs a handler under the concurrency bound and the call deadline.
    async fn run<T>(&self, what: &str, fut: impl Future<Output = Result<T, ToolError>>) -> Result<T, ToolError> {
        let _permit =
            self.inner.permits.acquire().await.map_err(|_| ToolError::failed("the server is shutting down"))?;
        let timeout = self.inner.config.call_timeout;
        match tokio::time::timeout(timeout, fut).await {
            Ok(r) => r,
            Err(_) => Err(ToolError::failed(format!(
                "{what} did not finish within the {} s call deadline and was stopped; try a smaller request",
                timeout.as_secs_f64()
            ))),
        }
    }

    /// Turns an input-required outcome into the stateless interim result.
    fn input_required(
        &self,
        binding: &Binding<'_>,
        meta: &RequestMeta,
        ir: super::error::InputRequired,
    ) -> Result<Value, ErrorObject> {
        if meta.version.era() != Era::Stateless {
            return Err(ErrorObject::internal("input required outside the stateless era"));
        }
        let mut result = json!({ "resultType": "input_required" });
        if !ir.input_requests.is_empty() {
            result["inputRequests"] = Value::Object(ir.input_requests);
        }
        result["requestState"] = json!(self.inner.sealer.seal(binding, ir.request_state));
        Ok(result)
    }

    async fn call_tool(
        &self,
        session: &Arc<Session>,
        req: &Request,
        meta: RequestMeta,
        sink: Option<RequestSink>,
    ) -> Result<Value, ErrorObject> {
        let params = params_of(req);
        let name = str_param(params, "name", "tools/call")?;
        let Some(route) = self.inner.tools.get(name) else {
            return Err(ErrorObject::invalid_params(format!(
                "Unknown tool: {name:?}. Call tools/list to see the available tools"
            )));
        };
        let args = match params.get("arguments") {
            None | Some(Value::Null) => Value::Object(Map::new()),
            Some(v @ Value::Object(_)) => v.clone(),
            Some(other) => {
                return Err(ErrorObject::invalid_params(format!(
                    "`arguments` of tools/call must be an object, got {}",
                    kind(other)
                )));
            }
        };
        let identity = session.identity();
        self.inner
            .policy
            .check(&identity, &route.tool)
            .map_err(|why| ErrorObject::invalid_params(why).with_data(json!({ DENIED_BY: "policy" })))?;
        let target = format!("tools/call:{name}");
        let ctx = self.context(session, req, &target, meta.clone(), sink)?;
        let confirm = self.inner.policy.needs_confirmation(&identity, &route.tool);
        let handler = route.handler.clone();
        let call = async move {
            if confirm {
                confirm_destructive(&ctx, name).await?;
            }
            handler(ctx, args).await
        };
        let outcome = self.run(&format!("tool {name}"), call).await;
        let mut result = match outcome {
            Ok(r) => r,
            Err(ToolError::InputRequired(ir)) => {
                return self.input_required(&binding(session, req, &target), &meta, ir);
            }
            Err(e) => e.into_tool_result()?,
        };
        if super::budget::enforce(&mut result, self.inner.config.max_output_bytes) {
            tracing::debug!(tool = name, "result cut to the output budget");
        }
        Ok(serde_json::to_value(result)
            .unwrap_or_else(|e| json!({"content": [{"type": "text", "text": e.to_string()}], "isError": true})))
    }

    async fn read_resource(
        &self,
        session: &Arc<Session>,
        req: &Request,
        meta: RequestMeta,
        sink: Option<RequestSink>,
    ) -> Result<Value, ErrorObject> {
        let params = params_of(req);
        let uri = str_param(params, "uri", "resources/read")?;
        let (route, vars) = if let Some(route) = self.inner.resources.get(uri) {
            (route, HashMap::new())
        } else {
            let found = self.inner.templates.iter().find_map(|r| match &r.kind {
                ResourceKind::Template(_, t) => t.matches(uri).map(|vars| (r, vars)),
                ResourceKind::Static(_) => None,
            });
            match found {
                Some(f) => f,
                None => return Err(self.resource_not_found(uri, meta.version)),
            }
        };
        let target = format!("resources/read:{uri}");
        let ctx = self.context(session, req, &target, meta.clone(), sink)?;
        match self.run(&format!("reading {uri}"), (route.handler)(ctx, vars)).await {
            Ok(contents) => Ok(json!({ "contents": contents })),
            Err(ToolError::InputRequired(ir)) => self.input_required(&binding(session, req, &target), &meta, ir),
            Err(ToolError::ResourceNotFound(missing)) => Err(self.resource_not_found(&missing, meta.version)),
            Err(e) => Err(e.into_error_object()),
        }
    }

    fn resource_not_found(&self, uri: &str, version: ProtocolVersion) -> ErrorObject {
        // 2026-07-28 moved "not found" from -32002 to -32602.
        let code =
            if version.era() == Era::Stateless { codes::INVALID_PARAMS } else { codes::RESOURCE_NOT_FOUND_LEGACY };
        ErrorObject::new(code, format!("Resource not found: {uri}")).with_data(json!({ "uri": uri }))
    }

    async fn get_prompt(
        &self,
        session: &Arc<Session>,
        req: &Request,
        meta: RequestMeta,
        sink: Option<RequestSink>,
    ) -> Result<Value, ErrorObject> {
        let params = params_of(req);
        let name = str_param(params, "name", "prompts/get")?;
        let Some(route) = self.inner.prompts.get(name) else {
            return Err(ErrorObject::invalid_params(format!(
                "Unknown prompt: {name:?}. Call prompts/list to see the available prompts"
            )));
        };
        let args = object_param(params, "arguments", "prompts/get")?;
        let target = format!("prompts/get:{name}");
        let ctx = self.context(session, req, &target, meta.clone(), sink)?;
        match self.run(&format!("prompt {name}"), (route.handler)(ctx, args)).await {
            Ok(result) => serde_json::to_value(result).map_err(|e| ErrorObject::internal(e.to_string())),
            Err(ToolError::InputRequired(ir)) => self.input_required(&binding(session, req, &target), &meta, ir),
            Err(e) => Err(e.into_error_object()),
        }
    }

    async fn complete(
        &self,
        session: &Arc<Session>,
        params: &Map<String, Value>,
        meta: RequestMeta,
    ) -> Result<Value, ErrorObject> {
        let reference = object_param(params, "ref", "completion/complete")?;
        let ref_type = str_param(&reference, "type", "completion/complete ref")?.to_string();
        let ref_name = match ref_type.as_str() {
            "ref/prompt" => str_param(&reference, "name", "completion/complete ref")?.to_string(),
            "ref/resource" => str_param(&reference, "uri", "completion/complete ref")?.to_string(),
            other => {
                return Err(ErrorObject::invalid_params(format!(
                    "`ref.type` must be ref/prompt or ref/resource, got {other:?}"
                )));
            }
        };
        let argument = object_param(params, "argument", "completion/complete")?;
        let arg_name = str_param(&argument, "name", "completion/complete argument")?.to_string();
        let value = str_param(&argument, "value", "completion/complete argument")?.to_string();
        let context = object_param(params, "context", "completion/complete")?
            .get("arguments")
            .and_then(Value::as_object)
            .map(|m| m.iter().filter_map(|(k, v)| Some((k.clone(), v.as_str()?.to_string()))).collect())
            .unwrap_or_default();
        let completion = match &self.inner.completer {
            None => Default::default(),
            Some(completer) => {
                let ctx = self.new_context(session, meta, None, Map::new(), None);
                let req = CompletionRequest { ref_type, ref_name, argument: arg_name, value, context };
                let mut c = self.run("completion", completer(ctx, req)).await.map_err(ToolError::into_error_object)?;
                if c.values.len() > 100 {
                    c.total.get_or_insert(c.values.len() as u64);
                    c.values.truncate(100);
                    c.has_more = true;
                }
                c
            }
        };
        Ok(json!({ "completion": completion }))
    }

    /// `subscriptions/listen`: acknowledge, then forward the opted-in changes until the
    /// client goes away (stdio: cancellation; HTTP: the stream closes).
    async fn listen(&self, req: &Request, sink: Option<RequestSink>) -> Result<Value, ErrorObject> {
        let params = params_of(req);
        let filter = match params.get("notifications") {
            Some(Value::Object(f)) => f.clone(),
            Some(other) => {
                return Err(ErrorObject::invalid_params(format!(
                    "`notifications` must be an object, got {}",
                    kind(other)
                )));
            }
            None => {
                return Err(ErrorObject::invalid_params(
                    "subscriptions/listen needs `notifications` (the filter of notification types)",
                ));
            }
        };
        let Some(sink) = sink else {
            return Err(ErrorObject::internal("this transport cannot stream notifications"));
        };
        let flag = |k: &str| filter.get(k).and_then(Value::as_bool).unwrap_or(false);
        let caps = self.capabilities();
        let tools = flag("toolsListChanged") && caps.get("tools").is_some();
        let prompts = flag("promptsListChanged") && caps.get("prompts").is_some();
        let resources = flag("resourcesListChanged") && caps.get("resources").is_some();
        let uris: Vec<String> = if caps.get("resources").is_some() {
            filter
                .get("resourceSubscriptions")
                .and_then(Value::as_array)
                .map(|a| a.iter().filter_map(|u| u.as_str().map(str::to_string)).collect())
                .unwrap_or_default()
        } else {
            Vec::new()
        };
        let mut ack = Map::new();
        if tools {
            ack.insert("toolsListChanged".into(), json!(true));
        }
        if prompts {
            ack.insert("promptsListChanged".into(), json!(true));
        }
        if resources {
            ack.insert("resourcesListChanged".into(), json!(true));
        }
        if !uris.is_empty() {
            ack.insert("resourceSubscriptions".into(), json!(uris));
        }
        let sub_meta = json!({ meta::SUBSCRIPTION_ID: req.id });
        let mut changes = self.changes();
        let _ = sink.send(
            Message::Notification(Notification::new(
                "notifications/subscriptions/acknowledged",
                json!({ "_meta": sub_meta, "notifications": ack }),
            ))
            .into(),
        );
        loop {
            let change = match changes.recv().await {
                Ok(c) => c,
                Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => continue,
                Err(tokio::sync::broadcast::error::RecvError::Closed) => break,
            };
            let note = match change {
                Change::Tools if tools => {
                    Notification::new("notifications/tools/list_changed", json!({ "_meta": sub_meta }))
                }
                Change::Prompts if prompts => {
                    Notification::new("notifications/prompts/list_changed", json!({ "_meta": sub_meta }))
                }
                Change::Resources if resources => {
                    Notification::new("notifications/resources/list_changed", json!({ "_meta": sub_meta }))
                }
                Change::ResourceUpdated(uri) if uris.contains(&uri) => {
                    Notification::new("notifications/resources/updated", json!({ "_meta": sub_meta, "uri": uri }))
                }
                _ => continue,
            };
            if sink.send(Message::Notification(note).into()).is_err() {
                break;
            }
        }
        Ok(json!({ "_meta": { meta::SUBSCRIPTION_ID: req.id } }))
    }

    /// The handshake-era notification for a change, if this session wants it.
    pub fn handshake_notification(&self, session: &Session, change: &Change) -> Option<Notification> {
        session.handshake()?;
        Some(match change {
            Change::Tools => Notification::new("notifications/tools/list_changed", Value::Null),
            Change::Prompts => Notification::new("notifications/prompts/list_changed", Value::Null),
            Change::Resources => Notification::new("notifications/resources/list_changed", Value::Null),
            Change::ResourceUpdated(uri) if session.is_subscribed(uri) => {
                Notification::new("notifications/resources/updated", json!({ "uri": uri }))
            }
            Change::ResourceUpdated(_) => return None,
        })
    }
}

/// Key of the framework's own confirmation among a call's input requests.
const CONFIRM_KEY: &str = "mcp-core/confirm";

/// Asks the client to confirm a destructive tool (elicitation in the handshake era,
/// `input_required` in 2026-07-28); refuses when it cannot ask or the user declines.
async fn confirm_destructive(ctx: &Context, tool: &str) -> Result<(), ToolError> {
    let request = InputRequest::elicit(
        format!("The tool {tool:?} is destructive: it may delete or overwrite data. Run it?"),
        json!({
            "type": "object",
            "properties": {"confirm": {"type": "boolean", "title": "Run it", "default": false}},
            "required": ["confirm"]
        }),
    );
    if ctx.client_capabilities().get("elicitation").is_none() {
        return Err(ToolError::failed(format!(
            "The tool {tool:?} is destructive and this server requires the user's confirmation before running it, \
             but this client cannot ask for it (it does not support elicitation). Use a client that does, or ask \
             the operator to disable confirmation for this tool."
        )));
    }
    let answers = ctx.input(vec![(CONFIRM_KEY.to_string(), request)]).await?;
    let answer = answers.get(CONFIRM_KEY);
    let accepted = answer.and_then(|a| a.get("action")).and_then(Value::as_str) == Some("accept")
        && answer.and_then(|a| a.pointer("/content/confirm")).and_then(Value::as_bool) == Some(true);
    if accepted {
        Ok(())
    } else {
        Err(ToolError::failed(format!("The user did not confirm the destructive tool {tool:?}; it was not run.")))
    }
}

fn encode_cursor(offset: usize) -> String {
    B64.encode(format!("o:{offset}"))
}

fn decode_cursor(cursor: &str) -> Option<usize> {
    let raw = B64.decode(cursor).ok()?;
    std::str::from_utf8(&raw).ok()?.strip_prefix("o:")?.parse().ok()
}
