//! The Streamable HTTP transport at `/mcp`, for both eras on one endpoint.
//!
//! - Stateless (2026-07-28): every POST is self-contained. The `MCP-Protocol-Version`,
//!   `Mcp-Method` and `Mcp-Name` headers must mirror the body. Closing the response stream
//!   cancels the request. GET and DELETE answer 405. Any replica can answer any request.
//! - Handshake era (2025-03-26 to 2025-11-25): `initialize` mints an `Mcp-Session-Id`;
//!   later requests carry it; GET opens the session's stream for server-initiated
//!   messages; DELETE ends the session; SSE events carry ids and a broken stream can be
//!   resumed with `Last-Event-ID`.
//!
//! A request is answered with `application/json` when its handler finishes before sending
//! anything else, and upgraded to `text/event-stream` as soon as it emits a notification
//! or a request, so quick calls stay cheap and long ones stream.

// Validation helpers return the finished HTTP error response as their `Err`: it is built
// once, on the rejection path only, so its size does not matter.
#![allow(clippy::result_large_err)]

use crate::sync::lock;
use std::collections::{HashMap, VecDeque};
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Extension, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response as HttpResponse};
use futures::future::AbortHandle;
use futures::stream::Stream;
use serde_json::Value;
use tokio::sync::mpsc;

use super::reply::json_error;
use crate::protocol::headers::{self as mirror, HeaderParam};
use crate::protocol::types::meta;
use crate::protocol::{Era, ErrorObject, Message, ProtocolVersion, Request, codes, parse_message};
use crate::security::{Authenticator, Identity};
use crate::server::{Answer, Outgoing, Server, Session};
use gate::Gate;

/// Settings of the HTTP listener.
#[derive(Debug, Clone)]
pub struct HttpConfig {
    /// Extra allowed `Origin` values (e.g. `https://app.example.com`, compared by scheme,
    /// host and port; `*` any http(s) origin; `null` the opaque origin). Loopback origins
    /// are always allowed. See [`super::origin`].
    pub allowed_origins: Vec<String>,
    /// Extra allowed `Host` names (`NAME` for any port, `NAME:PORT`, an IP address, or
    /// `*`). Loopback hosts are always allowed; when the server listens on a non-loopback
    /// address, its hosts must be listed or `*`.
    pub allowed_hosts: Vec<String>,
    /// Largest accepted request body.
    pub max_body_bytes: usize,
    /// Interval of SSE keep-alive comments.
    pub keep_alive: Duration,
    /// Handshake-era sessions idle longer than this are dropped.
    pub session_idle_timeout: Duration,
    /// Most concurrent handshake-era sessions.
    pub max_sessions: usize,
    /// Bearer-token authentication; `None` serves everyone as `anonymous`.
    pub auth: Option<Arc<Authenticator>>,
    /// How often the WebSocket transport pings; a peer silent for two intervals is dropped.
    pub ws_ping_interval: Duration,
    /// At shutdown, how long in-flight requests and open streams may take to finish.
    pub drain_timeout: Duration,
    /// How long a client may take to send a request's header (the timer starts when the
    /// server waits for one, so it also ends idle keep-alive connections); a slower
    /// connection is closed.
    pub header_read_timeout: Duration,
    /// Most connections open at once (HTTP, SSE streams and WebSockets alike); further
    /// ones wait in the listen backlog until one closes.
    pub max_connections: usize,
}

impl Default for HttpConfig {
    fn default() -> Self {
        Self {
            allowed_origins: Vec::new(),
            allowed_hosts: Vec::new(),
            max_body_bytes: 16 * 1024 * 1024,
            keep_alive: Duration::from_secs(15),
            session_idle_timeout: Duration::from_secs(3600),
            max_sessions: 10_000,
            auth: None,
            ws_ping_interval: Duration::from_secs(30),
            drain_timeout: Duration::from_secs(10),
            header_read_timeout: Duration::from_secs(10),
            max_connections: 16_384,
        }
    }
}

mod gate;

const SSE_RETRY_MS: u64 = 1000;
const MAX_LOGGED_EVENTS: usize = 1024;
const MAX_LOGGED_STREAMS: usize = 64;

/// One SSE stream of a handshake-era session, logged so that it can be resumed.
#[derive(Default)]
struct StreamLog {
    events: VecDeque<(u64, Option<Arc<str>>)>,
    next_seq: u64,
    live: Option<mpsc::UnboundedSender<SseItem>>,
    finished: bool,
}

#[derive(Debug, Clone)]
enum SseItem {
    Event { id: Option<String>, data: Option<Arc<str>>, retry: Option<u64> },
    End,
}

struct HttpSession {
    session: Arc<Session>,
    streams: Mutex<(u64, HashMap<u64, StreamLog>, VecDeque<u64>)>,
    last_seen: Mutex<tokio::time::Instant>,
    get_open: std::sync::atomic::AtomicBool,
}

impl HttpSession {
    fn new(identity: Identity) -> Self {
        Self {
            session: Arc::new(Session::for_client("http", identity)),
            streams: Mutex::new((0, HashMap::new(), VecDeque::new())),
            last_seen: Mutex::new(tokio::time::Instant::now()),
            get_open: Default::default(),
        }
    }

    /// Opens a logged stream, returning its id and the live receiver.
    fn open_stream(&self) -> (u64, mpsc::UnboundedReceiver<SseItem>) {
        let (tx, rx) = mpsc::unbounded_channel();
        let mut g = lock(&self.streams);
        g.0 += 1;
        let id = g.0;
        g.1.insert(id, StreamLog { live: Some(tx), ..Default::default() });
        g.2.push_back(id);
        while g.2.len() > MAX_LOGGED_STREAMS {
            if let Some(old) = g.2.pop_front() {
                g.1.remove(&old);
            }
        }
        (id, rx)
    }

    /// Appends an event (data `None`: a priming event) to a stream and sends it live.
    fn emit(&self, stream: u64, data: Option<Arc<str>>, retry: Option<u64>) {
        let mut g = lock(&self.streams);
        let Some(log) = g.1.get_mut(&stream) else { return };
        let seq = log.next_seq;
        log.next_seq += 1;
        log.events.push_back((seq, data.clone()));
        if log.events.len() > MAX_LOGGED_EVENTS {
            log.events.pop_front();
        }
        let item = SseItem::Event { id: Some(format!("{stream}-{seq}")), data, retry };
        if let Some(live) = &log.live
            && live.send(item).is_err()
        {
            log.live = None;
        }
    }

    /// Ends the live connection of a stream (after telling the client when to come back);
    /// events keep being logged for a `Last-Event-ID` resumption.
    fn disconnect(&self, stream: u64, retry_ms: u64) {
        self.emit(stream, None, Some(retry_ms));
        let mut g = lock(&self.streams);
        if let Some(log) = g.1.get_mut(&stream)
            && let Some(live) = log.live.take()
        {
            let _ = live.send(SseItem::End);
        }
    }

    fn finish(&self, stream: u64) {
        let mut g = lock(&self.streams);
        if let Some(log) = g.1.get_mut(&stream) {
            log.finished = true;
            if let Some(live) = log.live.take() {
                let _ = live.send(SseItem::End);
            }
        }
    }

    /// Resumes a stream after `Last-Event-ID`: replays later events, then goes live.
    fn resume(&self, last_event_id: &str) -> Option<mpsc::UnboundedReceiver<SseItem>> {
        let (stream, seq) = last_event_id.split_once('-')?;
        let (stream, seq): (u64, u64) = (stream.parse().ok()?, seq.parse().ok()?);
        let mut g = lock(&self.streams);
        let log = g.1.get_mut(&stream)?;
        let (tx, rx) = mpsc::unbounded_channel();
        for (s, data) in log.events.iter().filter(|(s, _)| *s > seq) {
            if data.is_some() {
                let _ = tx.send(SseItem::Event { id: Some(format!("{stream}-{s}")), data: data.clone(), retry: None });
            }
        }
        if log.finished {
            let _ = tx.send(SseItem::End);
        } else {
            log.live = Some(tx);
        }
        Some(rx)
    }

    fn touch(&self) {
        *lock(&self.last_seen) = tokio::time::Instant::now();
    }
}

pub(crate) struct HttpState {
    pub(crate) server: Server,
    pub(crate) config: HttpConfig,
    sessions: Mutex<HashMap<String, Arc<HttpSession>>>,
}

/// The axum router serving MCP at `/mcp`.
pub fn router(server: Server, config: HttpConfig) -> Router {
    let state = Arc::new(HttpState { server, config, sessions: Mutex::new(HashMap::new()) });
    let sweeper = Arc::downgrade(&state);
    tokio::spawn(async move {
        loop {
            let every = sweeper.upgrade().map_or(Duration::from_secs(30), |s| {
                (s.config.session_idle_timeout / 2).clamp(Duration::from_millis(10), Duration::from_secs(30))
            });
            tokio::time::sleep(every).await;
            let Some(state) = sweeper.upgrade() else { break };
            let idle = state.config.session_idle_timeout;
            lock(&state.sessions).retain(|_, s| lock(&s.last_seen).elapsed() < idle);
        }
    });
    // One gate in front of every endpoint that serves a client: `/mcp`, the `/ws` upgrade
    // (whose token may also come as a subprotocol), and `/metrics` (authentication only:
    // scrapers name the server by whatever address they reach it at).
    let gate = |transport, origin_checked, fallback| {
        let gate = Gate::new(&state.server, &state.config, transport, origin_checked, fallback);
        axum::middleware::from_fn_with_state(Arc::new(gate), gate::check)
    };
    let ws = super::ws::Endpoint {
        server: state.server.clone(),
        ping_interval: state.config.ws_ping_interval,
        max_message_bytes: state.config.max_body_bytes,
    };
    Router::new()
        // `any` has no method routes for `route_layer` to wrap: every method reaches the gate.
        .route("/mcp", axum::routing::any(handle).layer(gate("http", true, None)))
        .route(
            "/ws",
            axum::routing::get(super::ws::upgrade)
                .route_layer(gate("ws", true, Some(super::ws::offered_token)))
                .with_state(ws),
        )
        .route("/healthz", axum::routing::get(|| async { "ok" }))
        .route("/readyz", axum::routing::get(readyz))
        .route("/metrics", axum::routing::get(metrics).route_layer(gate("http", false, None)))
        .route("/.well-known/oauth-protected-resource", axum::routing::get(resource_metadata))
        .route("/.well-known/oauth-protected-resource/{*path}", axum::routing::get(resource_metadata))
        // Our own limit applies (with a JSON-RPC error), not axum's 2 MB default.
        .layer(axum::extract::DefaultBodyLimit::max(state.config.max_body_bytes.saturating_add(1)))
        .with_state(state)
}

/// Readiness: the connector's backend answers.
async fn readyz(State(state): State<Arc<HttpState>>) -> HttpResponse {
    match state.server.ready().await {
        Ok(()) => "ready".into_response(),
        Err(why) => (StatusCode::SERVICE_UNAVAILABLE, format!("not ready: {why}")).into_response(),
    }
}

/// Prometheus metrics; behind the same authentication as `/mcp` (the router puts the gate in
/// front), since they name tools.
async fn metrics(State(state): State<Arc<HttpState>>) -> HttpResponse {
    (
        [(header::CONTENT_TYPE, "application/openmetrics-text; version=1.0.0; charset=utf-8")],
        state.server.metrics_text(),
    )
        .into_response()
}

/// Binds `addr` and serves until the process receives SIGTERM or Ctrl-C.
pub async fn serve_http(server: Server, addr: SocketAddr, config: HttpConfig) -> std::io::Result<()> {
    let listener = tokio::net::TcpListener::bind(addr).await?;
    tracing::info!(address = %listener.local_addr()?, "serving MCP over Streamable HTTP at /mcp");
    serve_listener(server, listener, config, shutdown_signal()).await
}

/// Serves on an already bound listener until `shutdown` completes.
///
/// Each connection is served by hyper with a header-read timeout (a client that sends
/// part of a request and stalls is dropped) and holds one of `max_connections` slots for
/// as long as it is open, a WebSocket's included.
pub async fn serve_listener(
    server: Server,
    listener: tokio::net::TcpListener,
    config: HttpConfig,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let drain = config.drain_timeout;
    let header_timeout = config.header_read_timeout;
    let slots =
        Arc::new(tokio::sync::Semaphore::new(config.max_connections.clamp(1, tokio::sync::Semaphore::MAX_PERMITS)));
    let app = router(server, config);
    let stop = tokio_util::sync::CancellationToken::new();
    // Each connection task holds a receiver; the sender sees them all gone when they end.
    let (open_tx, open_rx) = tokio::sync::watch::channel(());
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        // At the limit, new connections wait in the kernel's backlog until one closes.
        let slot = tokio::select! {
            slot = slots.clone().acquire_owned() => match slot {
                Ok(slot) => slot,
                Err(_) => break,
            },
            () = &mut shutdown => break,
        };
        let tcp = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((tcp, _)) => tcp,
                Err(e) => {
                    accept_failed(e).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        // Without TCP_NODELAY, a response written in parts (SSE events) waits for the
        // peer's delayed ACK: 40 ms per streamed answer.
        let _ = tcp.set_nodelay(true);
        let io = hyper_util::rt::TokioIo::new(Slotted { tcp, _slot: slot });
        let service = hyper_util::service::TowerToHyperService::new(app.clone());
        let (stop, open) = (stop.clone(), open_rx.clone());
        tokio::spawn(async move {
            let mut builder = hyper::server::conn::http1::Builder::new();
            builder.timer(hyper_util::rt::TokioTimer::new()).header_read_timeout(header_timeout);
            let mut conn = std::pin::pin!(builder.serve_connection(io, service).with_upgrades());
            let served = tokio::select! {
                served = conn.as_mut() => served,
                () = stop.cancelled() => {
                    conn.as_mut().graceful_shutdown();
                    conn.await
                }
            };
            if let Err(e) = served {
                tracing::debug!(error = %e, "connection ended with an error");
            }
            drop(open);
        });
    }
    stop.cancel();
    drop(open_rx);
    // Graceful, within a bound: open streams (SSE) may never end by themselves.
    if tokio::time::timeout(drain, open_tx.closed()).await.is_err() {
        tracing::warn!("connections still open {} s after shutdown began; stopping anyway", drain.as_secs_f64());
    }
    Ok(())
}

/// A failed `accept`: the peer's own failures are skipped; others (out of file
/// descriptors) would fail again at once, so the loop pauses before trying again.
async fn accept_failed(e: std::io::Error) {
    use std::io::ErrorKind::{ConnectionAborted, ConnectionRefused, ConnectionReset};
    if !matches!(e.kind(), ConnectionAborted | ConnectionRefused | ConnectionReset) {
        tracing::error!(error = %e, "accepting a connection failed");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// A connection with its slot among `max_connections`, given back when it closes (after
/// a WebSocket upgrade, when the WebSocket does).
struct Slotted {
    tcp: tokio::net::TcpStream,
    _slot: tokio::sync::OwnedSemaphorePermit,
}

impl tokio::io::AsyncRead for Slotted {
    fn poll_read(
        self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        buf: &mut tokio::io::ReadBuf<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::pin::Pin::new(&mut self.get_mut().tcp).poll_read(cx, buf)
    }
}

impl tokio::io::AsyncWrite for Slotted {
    fn poll_write(
        self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        buf: &[u8],
    ) -> std::task::Poll<std::io::Result<usize>> {
        std::pin::Pin::new(&mut self.get_mut().tcp).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> std::task::Poll<std::io::Result<usize>> {
        std::pin::Pin::new(&mut self.get_mut().tcp).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.tcp.is_write_vectored()
    }

    fn poll_flush(
        self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::pin::Pin::new(&mut self.get_mut().tcp).poll_flush(cx)
    }

    fn poll_shutdown(
        self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::pin::Pin::new(&mut self.get_mut().tcp).poll_shutdown(cx)
    }
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => futures::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = futures::future::pending::<()>();
    tokio::select! { _ = ctrl_c => {}, _ = term => {} }
}

fn header_str<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers.get(name).and_then(|v| v.to_str().ok()).map(str::trim)
}

async fn handle(
    State(state): State<Arc<HttpState>>,
    Extension(identity): Extension<Identity>,
    method: Method,
    headers: HeaderMap,
    body: Bytes,
) -> HttpResponse {
    match method {
        Method::POST => post(state, headers, body, identity).await,
        Method::GET => get(state, headers, &identity).await,
        Method::DELETE => delete(state, headers, &identity),
        _ => (StatusCode::METHOD_NOT_ALLOWED, [(header::ALLOW, "GET, POST, DELETE")]).into_response(),
    }
}

/// The OAuth protected-resource metadata (RFC 9728); 404 without OAuth.
async fn resource_metadata(State(state): State<Arc<HttpState>>) -> HttpResponse {
    match state.config.auth.as_ref().and_then(|a| a.resource_metadata()) {
        Some(doc) => axum::Json(doc).into_response(),
        None => (StatusCode::NOT_FOUND, "this server does not use OAuth").into_response(),
    }
}

fn mismatch(message: String, id: Option<crate::protocol::RequestId>) -> HttpResponse {
    json_error(StatusCode::BAD_REQUEST, ErrorObject::new(codes::HEADER_MISMATCH, message), id)
}

/// Checks that the stateless request's headers mirror its body.
fn validate_stateless_headers(server: &Server, headers: &HeaderMap, req: &Request) -> Result<(), HttpResponse> {
    let id = Some(req.id.clone());
    match header_str(headers, "mcp-method") {
        None => return Err(mismatch("Header mismatch: missing Mcp-Method header".into(), id)),
        Some(m) if m != req.method => {
            return Err(mismatch(
                format!("Header mismatch: Mcp-Method header value '{m}' does not match body value '{}'", req.method),
                id,
            ));
        }
        Some(_) => {}
    }
    let params = req.params.as_ref();
    let name_field = match req.method.as_str() {
        "tools/call" | "prompts/get" => Some("name"),
        "resources/read" => Some("uri"),
        _ => None,
    };
    if let Some(field) = name_field {
        let body_name = params.and_then(|p| p.get(field)).and_then(Value::as_str);
        match (header_str(headers, "mcp-name"), body_name) {
            (None, _) => return Err(mismatch("Header mismatch: missing Mcp-Name header".into(), id)),
            (Some(raw), body) => {
                let decoded = mirror::decode_value(raw).ok_or_else(|| {
                    mismatch(format!("Header mismatch: Mcp-Name header value '{raw}' is not valid base64"), id.clone())
                })?;
                if Some(decoded.as_str()) != body {
                    return Err(mismatch(
                        format!(
                            "Header mismatch: Mcp-Name header value '{decoded}' does not match body value '{}'",
                            body.unwrap_or("")
                        ),
                        id,
                    ));
                }
            }
        }
    }
    if req.method == "tools/call" {
        validate_param_headers(server, headers, req)?;
    }
    Ok(())
}

/// `x-mcp-header` parameters: each annotated argument present in the body must be mirrored
/// in its `Mcp-Param-{Name}` header, with the same value.
fn validate_param_headers(server: &Server, headers: &HeaderMap, req: &Request) -> Result<(), HttpResponse> {
    let params = req.params.as_ref();
    let Some(name) = params.and_then(|p| p.get("name")).and_then(Value::as_str) else { return Ok(()) };
    let Some(route) = server.inner.tools.get(name) else { return Ok(()) };
    let args = params.and_then(|p| p.get("arguments"));
    let id = Some(req.id.clone());
    for HeaderParam { path, name: header_name } in mirror::header_params(&route.tool.input_schema) {
        let mut value = args;
        for key in &path {
            value = value.and_then(|v| v.get(key));
        }
        let body_value = match value {
            None | Some(Value::Null) => None,
            Some(Value::String(s)) => Some(s.clone()),
            Some(Value::Bool(b)) => Some(b.to_string()),
            Some(Value::Number(n)) => Some(n.to_string()),
            Some(other) => Some(other.to_string()),
        };
        let header = format!("mcp-param-{}", header_name.to_ascii_lowercase());
        let raw = header_str(headers, &header);
        if headers.get(&header).is_some() && raw.is_none() {
            return Err(mismatch(format!("Header mismatch: Mcp-Param-{header_name} contains invalid characters"), id));
        }
        match (raw, body_value) {
            (None, None) => {}
            (None, Some(_)) => {
                return Err(mismatch(
                    format!(
                        "Header mismatch: missing Mcp-Param-{header_name} header for argument '{}'",
                        path.join(".")
                    ),
                    id,
                ));
            }
            (Some(_), None) => {}
            (Some(raw), Some(body)) => {
                let decoded = mirror::decode_value(raw).ok_or_else(|| {
                    mismatch(format!("Header mismatch: Mcp-Param-{header_name} is not valid base64"), id.clone())
                })?;
                let equal = decoded == body
                    || matches!((decoded.parse::<f64>(), body.parse::<f64>()), (Ok(a), Ok(b)) if a == b);
                if !equal {
                    return Err(mismatch(
                        format!(
                            "Header mismatch: Mcp-Param-{header_name} header value '{decoded}' does not match body value '{body}'"
                        ),
                        id,
                    ));
                }
            }
        }
    }
    Ok(())
}

/// The HTTP status of a JSON-RPC error in the stateless era.
fn status_of(error: &ErrorObject) -> StatusCode {
    match error.code {
        codes::METHOD_NOT_FOUND => StatusCode::NOT_FOUND,
        codes::UNSUPPORTED_PROTOCOL_VERSION | codes::HEADER_MISMATCH | codes::MISSING_REQUIRED_CLIENT_CAPABILITY => {
            StatusCode::BAD_REQUEST
        }
        codes::PARSE_ERROR | codes::INVALID_REQUEST => StatusCode::BAD_REQUEST,
        _ => StatusCode::OK,
    }
}

fn accepts(headers: &HeaderMap, post: bool) -> bool {
    let accept = header_str(headers, "accept").unwrap_or("");
    if accept.is_empty() {
        // Many simple clients omit Accept; serving them JSON is harmless.
        return true;
    }
    let has = |t: &str| {
        accept.split(',').any(|p| {
            let p = p.split(';').next().unwrap_or("").trim();
            p == t || p == "*/*"
        })
    };
    if post { has("application/json") && has("text/event-stream") } else { has("text/event-stream") }
}

async fn post(state: Arc<HttpState>, headers: HeaderMap, body: Bytes, identity: Identity) -> HttpResponse {
    if body.len() > state.config.max_body_bytes {
        return json_error(
            StatusCode::PAYLOAD_TOO_LARGE,
            ErrorObject::invalid_request(format!(
                "Request too large: {} bytes exceeds the {} byte limit",
                body.len(),
                state.config.max_body_bytes
            )),
            None,
        );
    }
    if let Some(ct) = header_str(&headers, "content-type")
        && !ct.to_ascii_lowercase().starts_with("application/json")
    {
        return json_error(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            ErrorObject::invalid_request(format!("Unsupported Content-Type {ct:?}: send application/json")),
            None,
        );
    }
    if !accepts(&headers, true) {
        return json_error(
            StatusCode::NOT_ACCEPTABLE,
            ErrorObject::invalid_request(
                "Not Acceptable: the Accept header must list both application/json and text/event-stream",
            ),
            None,
        );
    }
    let msg = match parse_message(&body) {
        Ok(m) => m,
        Err(rejection) => return json_error(StatusCode::BAD_REQUEST, rejection.error, rejection.id),
    };
    let header_version = header_str(&headers, "mcp-protocol-version").map(str::to_string);
    match msg {
        Message::Request(req) => {
            let body_version = req
                .params
                .as_ref()
                .and_then(|p| p.get("_meta"))
                .and_then(|m| m.get(meta::PROTOCOL_VERSION))
                .and_then(Value::as_str)
                .map(str::to_string);
            let header_era = header_version.as_deref().and_then(ProtocolVersion::parse).map(|v| v.era());
            if body_version.is_some() || header_era == Some(Era::Stateless) {
                return stateless_post(state, headers, req, body.len(), body_version, identity).await;
            }
            if let Some(v) = header_version.filter(|_| header_era.is_none() && req.method != "initialize") {
                return json_error(
                    StatusCode::BAD_REQUEST,
                    crate::server::dispatch::unsupported_version(&v),
                    Some(req.id),
                );
            }
            handshake_request(state, headers, req, body.len(), identity).await
        }
        Message::Notification(n) => {
            match session_of(&state, &headers, &identity) {
                Ok(Some(s)) => state.server.handle_notification(&s.session, n),
                Ok(None) => state.server.handle_notification(&Session::for_client("http", identity), n),
                Err(r) => return r,
            }
            StatusCode::ACCEPTED.into_response()
        }
        Message::Response(r) => match session_of(&state, &headers, &identity) {
            Ok(Some(s)) => {
                s.session.deliver_response(r);
                StatusCode::ACCEPTED.into_response()
            }
            Ok(None) => json_error(
                StatusCode::BAD_REQUEST,
                ErrorObject::invalid_request("a response needs the Mcp-Session-Id of the session that asked"),
                None,
            ),
            Err(r) => r,
        },
    }
}

/// The session named by `Mcp-Session-Id`, `None` when the header is absent.
/// A session is only ever used by the client that opened it.
fn session_of(
    state: &HttpState,
    headers: &HeaderMap,
    identity: &Identity,
) -> Result<Option<Arc<HttpSession>>, HttpResponse> {
    let Some(id) = header_str(headers, "mcp-session-id") else { return Ok(None) };
    match lock(&state.sessions).get(id) {
        Some(s) if s.session.identity().name != identity.name => Err(json_error(
            StatusCode::FORBIDDEN,
            ErrorObject::invalid_request("Forbidden: this session belongs to another client"),
            None,
        )),
        Some(s) if lock(&s.last_seen).elapsed() >= state.config.session_idle_timeout => Err(json_error(
            StatusCode::NOT_FOUND,
            ErrorObject::invalid_request("Session expired after being idle; initialize a new one"),
            None,
        )),
        Some(s) => {
            s.touch();
            Ok(Some(s.clone()))
        }
        None => Err(json_error(
            StatusCode::NOT_FOUND,
            ErrorObject::invalid_request("Session not found: it ended or expired; initialize a new one"),
            None,
        )),
    }
}

/// Aborts the handler when the response (or its stream) is dropped.
struct AbortOnDrop(AbortHandle);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// How a request's output begins: finished before saying anything, or speaking first.
enum Start {
    Done(Answer),
    Speaking(Outgoing, mpsc::UnboundedReceiver<Outgoing>, tokio::sync::oneshot::Receiver<Answer>),
    Dropped,
}

/// Waits for the handler's first output. The handler's sink closes when it finishes, so
/// `None` from the sink means the response is ready (or the request was dropped).
async fn first_output(
    mut rx: mpsc::UnboundedReceiver<Outgoing>,
    mut done: tokio::sync::oneshot::Receiver<Answer>,
) -> Start {
    tokio::select! {
        biased;
        r = &mut done => match (r, rx.try_recv()) {
            (Ok(r), Err(_)) => Start::Done(r),
            (Ok(r), Ok(first)) => {
                let (tx, done) = tokio::sync::oneshot::channel();
                let _ = tx.send(r);
                Start::Speaking(first, rx, done)
            }
            (Err(_), _) => Start::Dropped,
        },
        m = rx.recv() => match m {
            Some(first) => Start::Speaking(first, rx, done),
            None => match done.await {
                Ok(r) => Start::Done(r),
                Err(_) => Start::Dropped,
            },
        },
    }
}

/// Forwards a speaking handler's messages, then its response, as SSE data.
async fn forward(
    first: Outgoing,
    mut rx: mpsc::UnboundedReceiver<Outgoing>,
    done: tokio::sync::oneshot::Receiver<Answer>,
    mut emit: impl FnMut(StreamItem) -> bool,
) {
    if !emit(StreamItem::of(first)) {
        return;
    }
    while let Some(m) = rx.recv().await {
        if !emit(StreamItem::of(m)) {
            return;
        }
    }
    if let Ok(answer) = done.await {
        emit(StreamItem::Data(to_data(Outgoing::Answer(answer))));
    }
}

/// What a request's stream carries next.
enum StreamItem {
    Data(Arc<str>),
    /// Close the connection, keeping the stream resumable; reconnect after this many ms.
    Close(u64),
}

impl StreamItem {
    fn of(item: Outgoing) -> Self {
        match item {
            Outgoing::Message(Message::Notification(n)) if n.method == crate::server::CLOSE_STREAM => {
                StreamItem::Close(
                    n.params.as_ref().and_then(|p| p.get("retryMs")).and_then(Value::as_u64).unwrap_or(SSE_RETRY_MS),
                )
            }
            item => StreamItem::Data(to_data(item)),
        }
    }
}

/// Validates a stateless request's envelope and headers (all failures are 400s), then serves it.
async fn stateless_post(
    state: Arc<HttpState>,
    headers: HeaderMap,
    req: Request,
    size: usize,
    body_version: Option<String>,
    identity: Identity,
) -> HttpResponse {
    let id = Some(req.id.clone());
    let header_version = header_str(&headers, "mcp-protocol-version");
    match (header_version, body_version.as_deref()) {
        (None, _) => return mismatch("Header mismatch: missing MCP-Protocol-Version header".into(), id),
        (Some(h), Some(b)) if h != b => {
            return mismatch(
                format!("Header mismatch: MCP-Protocol-Version header value '{h}' does not match body value '{b}'"),
                id,
            );
        }
        _ => {}
    }
    if let Err(e) = crate::server::dispatch::stateless_meta(req.params.as_ref().unwrap_or(&serde_json::Map::new())) {
        return json_error(StatusCode::BAD_REQUEST, e, id);
    }
    if let Err(r) = validate_stateless_headers(&state.server, &headers, &req) {
        return r;
    }
    stateless_request(state, req, size, identity).await
}

async fn stateless_request(state: Arc<HttpState>, req: Request, size: usize, identity: Identity) -> HttpResponse {
    let (tx, rx) = mpsc::unbounded_channel::<Outgoing>();
    let (done_tx, done_rx) = tokio::sync::oneshot::channel::<Answer>();
    let (abort, registration) = AbortHandle::new_pair();
    // Dropping the response (the client hung up) cancels the request.
    let guard = AbortOnDrop(abort);
    let server = state.server.clone();
    super::run_or_spawn(
        async move {
            let session = Arc::new(Session::for_client("http", identity));
            let answer = server.answer(&session, req, size, Some(tx)).await;
            let _ = done_tx.send(answer);
        },
        registration,
    )
    .await;
    match first_output(rx, done_rx).await {
        Start::Done(answer) => {
            let status = match &answer.response().outcome {
                Err(e) => status_of(e),
                Ok(_) => StatusCode::OK,
            };
            (status, [(header::CONTENT_TYPE, "application/json")], answer.into_bytes()).into_response()
        }
        Start::Speaking(first, rx, done) => {
            let (item_tx, item_rx) = mpsc::unbounded_channel();
            tokio::spawn(forward(first, rx, done, move |out| match out {
                StreamItem::Data(data) => {
                    item_tx.send(SseItem::Event { id: None, data: Some(data), retry: None }).is_ok()
                }
                // Stateless streams are not resumable: closing one would lose the request.
                StreamItem::Close(_) => true,
            }));
            let items = unbounded_items(item_rx);
            let guarded = futures::stream::unfold((items, guard), |(mut items, guard)| async move {
                use futures::StreamExt;
                let item = items.next().await?;
                Some((item, (items, guard)))
            });
            sse_response(Box::pin(guarded), state.config.keep_alive, None)
        }
        Start::Dropped => {
            json_error(StatusCode::INTERNAL_SERVER_ERROR, ErrorObject::internal("the request was dropped"), None)
        }
    }
}

fn to_data(item: Outgoing) -> Arc<str> {
    item.into_text().into()
}

/// Formats one SSE event. A priming event (no data) still carries an empty `data:` field,
/// which is what clients recognise as "an id to resume from".
fn sse_event(id: Option<&str>, data: Option<&str>, retry: Option<u64>) -> Bytes {
    let mut out = String::with_capacity(data.map(str::len).unwrap_or(0) + 48);
    if let Some(id) = id {
        out.push_str("id: ");
        out.push_str(id);
        out.push('\n');
    }
    if let Some(ms) = retry {
        out.push_str(&format!("retry: {ms}\n"));
    }
    match data {
        Some(d) => {
            out.push_str("event: message\n");
            // Serialized JSON never contains a raw newline, so one data line suffices.
            out.push_str("data: ");
            out.push_str(d);
            out.push('\n');
        }
        None => out.push_str("data: \n"),
    }
    out.push('\n');
    Bytes::from(out)
}

fn sse_response(
    items: std::pin::Pin<Box<dyn Stream<Item = SseItem> + Send>>,
    keep_alive: Duration,
    session_id: Option<&str>,
) -> HttpResponse {
    use futures::StreamExt;
    let events = items.take_while(|i| futures::future::ready(!matches!(i, SseItem::End))).map(|item| match item {
        SseItem::Event { id, data, retry } => sse_event(id.as_deref(), data.as_deref(), retry),
        SseItem::End => Bytes::new(),
    });
    // Comments keep idle connections alive through proxies; they end with the events.
    let mut ticker = tokio::time::interval_at(tokio::time::Instant::now() + keep_alive, keep_alive);
    let pings = futures::stream::poll_fn(move |cx| ticker.poll_tick(cx).map(|_| Some(Bytes::from_static(b":\n\n"))));
    let body = futures::stream::select_with_strategy(
        events.map(Some).chain(futures::stream::once(async { None })),
        pings.map(Some),
        |_: &mut ()| futures::stream::PollNext::Left,
    )
    .take_while(|b| futures::future::ready(b.is_some()))
    .filter_map(|b| futures::future::ready(b.map(Ok::<_, Infallible>)));
    let mut resp = HttpResponse::new(axum::body::Body::from_stream(body));
    let h = resp.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static("text/event-stream"));
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    h.insert("x-accel-buffering", HeaderValue::from_static("no"));
    if let Some(id) = session_id.and_then(|s| HeaderValue::from_str(s).ok()) {
        h.insert("mcp-session-id", id);
    }
    resp
}

async fn handshake_request(
    state: Arc<HttpState>,
    headers: HeaderMap,
    req: Request,
    size: usize,
    identity: Identity,
) -> HttpResponse {
    // An initialize naming a session goes to that session, which refuses it: it is
    // initialized already. Without one, it opens a new session.
    let opens = req.method == "initialize" && header_str(&headers, "mcp-session-id").is_none();
    let (http_session, session_id) = if opens {
        if lock(&state.sessions).len() >= state.config.max_sessions {
            return json_error(
                StatusCode::SERVICE_UNAVAILABLE,
                ErrorObject::internal("Too many sessions; try again later"),
                Some(req.id),
            );
        }
        let s = Arc::new(HttpSession::new(identity));
        let id = uuid::Uuid::new_v4().simple().to_string();
        (s, id)
    } else {
        match session_of(&state, &headers, &identity) {
            Ok(Some(s)) => {
                let id = header_str(&headers, "mcp-session-id").unwrap_or_default().to_string();
                (s, id)
            }
            Ok(None) => {
                return json_error(
                    StatusCode::BAD_REQUEST,
                    ErrorObject::invalid_request(format!(
                        "Bad Request: {} needs an Mcp-Session-Id header (call initialize first), \
                         or `_meta.{}` for the stateless 2026-07-28 protocol",
                        req.method,
                        meta::PROTOCOL_VERSION
                    )),
                    Some(req.id),
                );
            }
            Err(r) => return r,
        }
    };
    let (tx, rx) = mpsc::unbounded_channel::<Outgoing>();
    let (done_tx, done_rx) = tokio::sync::oneshot::channel::<Answer>();
    let server = state.server.clone();
    let session = http_session.session.clone();
    let id = req.id.clone();
    let (abort, registration) = AbortHandle::new_pair();
    if !session.track(id.clone(), abort) {
        return json_error(
            StatusCode::CONFLICT,
            ErrorObject::invalid_request(format!("Duplicate request id {id}: a request with this id is still running")),
            Some(id),
        );
    }
    // In this era a disconnect is not a cancellation: the handler runs on, and its stream
    // is logged so that the client can resume it with Last-Event-ID.
    super::run_or_spawn(
        {
            let session = session.clone();
            async move {
                let answer = server.answer(&session, req, size, Some(tx)).await;
                if session.untrack(&id) {
                    let _ = done_tx.send(answer);
                }
            }
        },
        registration,
    )
    .await;
    match first_output(rx, done_rx).await {
        Start::Done(answer) => {
            if opens && answer.response().outcome.is_ok() {
                lock(&state.sessions).insert(session_id.clone(), http_session.clone());
                tokio::spawn(crate::server::forward_changes(state.server.clone(), http_session.session.clone()));
            }
            let mut resp =
                (StatusCode::OK, [(header::CONTENT_TYPE, "application/json")], answer.into_bytes()).into_response();
            if let Ok(v) = HeaderValue::from_str(&session_id) {
                resp.headers_mut().insert("mcp-session-id", v);
            }
            resp
        }
        Start::Speaking(first, rx, done) => {
            let (stream, live) = http_session.open_stream();
            // The priming event: an id to resume from, and how long to wait before doing so.
            http_session.emit(stream, None, Some(SSE_RETRY_MS));
            let hs = http_session.clone();
            tokio::spawn(async move {
                let emitter = hs.clone();
                forward(first, rx, done, move |out| {
                    match out {
                        StreamItem::Data(data) => emitter.emit(stream, Some(data), None),
                        StreamItem::Close(retry) => emitter.disconnect(stream, retry),
                    }
                    true
                })
                .await;
                hs.finish(stream);
            });
            sse_response(unbounded_items(live), state.config.keep_alive, Some(&session_id))
        }
        Start::Dropped => json_error(StatusCode::OK, ErrorObject::internal("the request was cancelled"), None),
    }
}

fn unbounded_items(mut rx: mpsc::UnboundedReceiver<SseItem>) -> std::pin::Pin<Box<dyn Stream<Item = SseItem> + Send>> {
    Box::pin(futures::stream::poll_fn(move |cx| rx.poll_recv(cx)))
}

async fn get(state: Arc<HttpState>, headers: HeaderMap, identity: &Identity) -> HttpResponse {
    let version = header_str(&headers, "mcp-protocol-version").and_then(ProtocolVersion::parse);
    if version.map(|v| v.era()) == Some(Era::Stateless) || header_str(&headers, "mcp-session-id").is_none() {
        return (
            StatusCode::METHOD_NOT_ALLOWED,
            [(header::ALLOW, "POST")],
            "GET streams belong to handshake-era sessions; the 2026-07-28 protocol uses subscriptions/listen",
        )
            .into_response();
    }
    if !accepts(&headers, false) {
        return json_error(
            StatusCode::NOT_ACCEPTABLE,
            ErrorObject::invalid_request("Not Acceptable: GET needs Accept: text/event-stream"),
            None,
        );
    }
    let s = match session_of(&state, &headers, identity) {
        Ok(Some(s)) => s,
        Ok(None) => unreachable!("checked above"),
        Err(r) => return r,
    };
    let session_id = header_str(&headers, "mcp-session-id").unwrap_or_default().to_string();
    if let Some(last) = header_str(&headers, "last-event-id") {
        return match s.resume(last) {
            Some(rx) => sse_response(unbounded_items(rx), state.config.keep_alive, Some(&session_id)),
            None => json_error(
                StatusCode::BAD_REQUEST,
                ErrorObject::invalid_request(format!("Unknown Last-Event-ID {last:?}")),
                None,
            ),
        };
    }
    if s.get_open.swap(true, std::sync::atomic::Ordering::AcqRel) {
        return json_error(
            StatusCode::CONFLICT,
            ErrorObject::invalid_request("This session already has an open GET stream"),
            None,
        );
    }
    let (stream, live) = s.open_stream();
    s.emit(stream, None, Some(SSE_RETRY_MS));
    let (push_tx, mut push_rx) = mpsc::unbounded_channel::<Outgoing>();
    s.session.set_push(push_tx);
    let hs = s.clone();
    tokio::spawn(async move {
        while let Some(item) = push_rx.recv().await {
            hs.emit(stream, Some(to_data(item)), None);
        }
    });
    // When the client goes away, the GET slot frees up.
    let hs = s.clone();
    let items = unbounded_items(live);
    let guarded = futures::stream::unfold((items, GetSlot(hs)), |(mut items, slot)| async move {
        use futures::StreamExt;
        let item = items.next().await?;
        Some((item, (items, slot)))
    });
    sse_response(Box::pin(guarded), state.config.keep_alive, Some(&session_id))
}

struct GetSlot(Arc<HttpSession>);

impl Drop for GetSlot {
    fn drop(&mut self) {
        self.0.get_open.store(false, std::sync::atomic::Ordering::Release);
        self.0.session.clear_push();
    }
}

fn delete(state: Arc<HttpState>, headers: HeaderMap, identity: &Identity) -> HttpResponse {
    let Some(id) = header_str(&headers, "mcp-session-id") else {
        return (
            StatusCode::METHOD_NOT_ALLOWED,
            [(header::ALLOW, "POST")],
            "DELETE ends handshake-era sessions; send Mcp-Session-Id",
        )
            .into_response();
    };
    if let Err(refused) = session_of(&state, &headers, identity) {
        return refused;
    }
    match lock(&state.sessions).remove(id) {
        Some(_) => StatusCode::NO_CONTENT.into_response(),
        None => json_error(StatusCode::NOT_FOUND, ErrorObject::invalid_request("Session not found"), None),
    }
}
