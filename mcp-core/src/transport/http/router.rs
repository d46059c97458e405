//! The router: `/mcp` (both eras), the `/ws` upgrade, and the operations endpoints, with
//! the gate in front of every endpoint that serves a client.

use std::sync::Arc;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Extension, State};
use axum::http::Method;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response as HttpResponse};
use serde_json::Value;

use super::config::HttpConfig;
use super::gate::{self, Gate};
use super::handshake::{delete, get, handshake_request};
use super::headers::{accepts, header_str};
use super::sessions::{HttpState, session_of};
use super::stateless::stateless_post;
use crate::protocol::types::meta;
use crate::protocol::{Era, ProtocolVersion, parse_message};
use crate::protocol::{ErrorObject, Message};
use crate::security::Identity;
use crate::server::{Server, Session};
use crate::transport::reply::json_error;

/// The axum router serving MCP at `/mcp`.
pub fn router(server: Server, config: HttpConfig) -> Router {
    let state = Arc::new(HttpState::new(server, config));
    HttpState::sweep_idle_sessions(&state);
    // One gate in front of every endpoint that serves a client: `/mcp`, the `/ws` upgrade
    // (whose token may also come as a subprotocol), and `/metrics` (authentication only:
    // scrapers name the server by whatever address they reach it at).
    let gate = |transport, origin_checked, fallback| {
        let gate = Gate::new(&state.server, &state.config, transport, origin_checked, fallback);
        axum::middleware::from_fn_with_state(Arc::new(gate), gate::check)
    };
    let ws = crate::transport::ws::Endpoint {
        server: state.server.clone(),
        ping_interval: state.config.ws_ping_interval,
        max_message_bytes: state.config.max_body_bytes,
    };
    Router::new()
        // `any` has no method routes for `route_layer` to wrap: every method reaches the gate.
        .route("/mcp", axum::routing::any(handle).layer(gate("http", true, None)))
        .route(
            "/ws",
            axum::routing::get(crate::transport::ws::upgrade)
                .route_layer(gate("ws", true, Some(crate::transport::ws::offered_token)))
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
