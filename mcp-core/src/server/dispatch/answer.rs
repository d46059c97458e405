//! The way every request goes, whatever the transport: the client's in-flight bound,
//! metrics, the audit line opened before it runs, era detection, routing by method, and
//! the stateless result's decoration.

use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;

use futures::FutureExt;
use serde_json::{Value, json};

use super::envelope::{
    DENIED_BY, HANDSHAKE_METHODS, STATELESS_METHODS, handshake_meta, params_of, stateless_meta, str_param,
};
use super::handlers::Call;
use crate::protocol::types::meta;
use crate::protocol::{
    Era, ErrorObject, LoggingLevel, Message, Notification, ProtocolVersion, Request, RequestId, Response,
};
use crate::security::Identity;
use crate::security::audit::{AuditLog, AuditStart, LineHead, OpenLine};
use crate::server::Server;
use crate::server::context::RequestSink;
use crate::server::outgoing::{Answer, Reply};
use crate::server::session::Session;
use crate::server::tool_set::Table;

/// A response's outcome for metrics and the audit trail, with its error message.
fn classify(response: &Response) -> (&'static str, Option<String>) {
    match &response.outcome {
        Ok(result) if result.get("isError") == Some(&Value::Bool(true)) => {
            let text = result.pointer("/content/0/text").and_then(Value::as_str).unwrap_or_default();
            ("tool_error", Some(text[..crate::server::budget::floor_char_boundary(text, 500)].to_string()))
        }
        Ok(result) if result.get("resultType").and_then(Value::as_str) == Some("input_required") => {
            ("input_required", None)
        }
        Ok(_) => ("ok", None),
        Err(e) if e.data.as_ref().and_then(|d| d.get(DENIED_BY)).is_some() => ("denied", Some(e.message.clone())),
        Err(e) => ("error", Some(e.message.clone())),
    }
}

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
        // The tool table as this request found it (a group may be replaced meanwhile).
        let tools = (req.method == "tools/call").then(|| self.inner.tools.snapshot());
        let (tool, sensitive) = self.subject(&req, tools.as_deref());
        // Dropped before the end (the request was cancelled), the line is written as such.
        let mut audit =
            self.inner.audit.as_ref().map(|log| self.audit_open(log, session, &req, sensitive, bytes_in, started));
        let mut structured_json = None;
        let response = match self.client_slot(session) {
            Err(e) => Response::error(Some(id), e),
            Ok(_slot) => match AssertUnwindSafe(self.route(session, req, sink)).catch_unwind().await {
                Ok(Ok(reply)) => {
                    structured_json = reply.structured_json;
                    Response::result(id, reply.result)
                }
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
        Answer::new(response, audit).with_structured_json(structured_json)
    }

    /// The tool or prompt a request names, if registered: its metrics label (`unknown`
    /// otherwise, so that labels stay bounded), and the argument names the tool declared
    /// sensitive. One lookup serves the metrics and the audit trail.
    fn subject<'a>(&'a self, req: &Request, tools: Option<&'a Table>) -> (&'a str, &'a [String]) {
        let name = req.params.as_ref().and_then(|p| p.get("name")).and_then(Value::as_str);
        match (req.method.as_str(), name) {
            ("tools/call", Some(n)) => tools
                .and_then(|t| t.get_key_value(n))
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
    ) -> Result<Reply, ErrorObject> {
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
                "initialize" => return self.initialize(session, params).map(Reply::from),
                "ping" => return Ok(json!({}).into()),
                "server/discover" => return Ok(self.discover().into()),
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
        let mut structured_json = None;
        let mut result = match req.method.as_str() {
            "server/discover" => return Ok(self.discover().into()),
            "logging/setLevel" => {
                let level: LoggingLevel = serde_json::from_value(params.get("level").cloned().unwrap_or(Value::Null))
                    .map_err(|_| ErrorObject::invalid_params("logging/setLevel needs `level`: one of debug, info, notice, warning, error, critical, alert, emergency"))?;
                session.set_log_level(level);
                json!({})
            }
            "tools/list" => self.list_tools(session, params)?,
            "tools/call" => {
                let reply = self.call_tool(Call { session, req: &req, meta: meta.clone(), sink }).await?;
                structured_json = reply.structured_json;
                reply.result
            }
            "resources/list" => self.list_resources(Call { session, req: &req, meta: meta.clone(), sink }).await?,
            "resources/templates/list" => self.list_templates(params)?,
            "resources/read" => self.read_resource(Call { session, req: &req, meta: meta.clone(), sink }).await?,
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
            "prompts/get" => self.get_prompt(Call { session, req: &req, meta: meta.clone(), sink }).await?,
            "completion/complete" => self.complete(session, params, meta.clone()).await?,
            "subscriptions/listen" => self.listen(&req, sink).await?,
            other => return Err(ErrorObject::method_not_found(other)),
        };
        if stateless {
            // What an authenticated caller gets may be theirs alone (the policy's filters,
            // a role or an impersonation per caller): caches must not share it.
            let identity = session.identity_ref();
            let shared = *identity == Identity::anonymous() || *identity == Identity::local();
            self.decorate_stateless(&req.method, &mut result, shared);
        }
        Ok(Reply { result, structured_json })
    }

    /// Adds `resultType`, server identity and cache hints to a stateless result: `public`
    /// when every caller is the same unauthenticated one (`shared`), else `private`.
    fn decorate_stateless(&self, method: &str, result: &mut Value, shared: bool) {
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
            obj.entry("cacheScope").or_insert_with(|| json!(if shared { "public" } else { "private" }));
        }
    }
}
