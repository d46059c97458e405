//! The gate in front of every endpoint that serves a client (`/mcp`, the `/ws` upgrade,
//! `/metrics`): one axum middleware, so no handler can forget a check.
//!
//! It refuses, in this order: a request whose `Host` or `Origin` is not ours (403, DNS
//! rebinding protection, decided on the parsed authority by [`crate::transport::origin`]),
//! then one without a valid credential (401 with a `WWW-Authenticate` challenge, or 403 for
//! a token without a required scope; each refusal is an audit line). A request that passes
//! carries the client's [`Identity`] in its extensions, for the handler to take with
//! `Extension<Identity>`.

use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response as HttpResponse};

use super::config::HttpConfig;
use crate::protocol::{ErrorObject, Message, Response};
use crate::security::auth::AuthError;
use crate::security::{Authenticator, Identity};
use crate::server::Server;
use crate::transport::origin::{host_allowed, origin_allowed};
use crate::transport::reply::json_error;

/// A credential carried elsewhere than `Authorization` (as `Bearer <token>`), used when
/// that header is absent: the WebSocket subprotocol of browsers that cannot set headers.
pub(crate) type Fallback = fn(&HeaderMap) -> Option<String>;

/// What one endpoint's gate checks.
pub(crate) struct Gate {
    /// Where authentication refusals are recorded.
    server: Server,
    auth: Option<Arc<Authenticator>>,
    /// `None`: no `Host`/`Origin` check (`/metrics`, which scrapers reach by any address).
    allowed: Option<(Vec<String>, Vec<String>)>,
    /// The transport named in audit lines: `http` or `ws`.
    transport: &'static str,
    fallback: Option<Fallback>,
}

impl Gate {
    pub(crate) fn new(
        server: &Server,
        config: &HttpConfig,
        transport: &'static str,
        origin_checked: bool,
        fallback: Option<Fallback>,
    ) -> Self {
        Self {
            server: server.clone(),
            auth: config.auth.clone(),
            allowed: origin_checked.then(|| (config.allowed_origins.clone(), config.allowed_hosts.clone())),
            transport,
            fallback,
        }
    }

    /// The client's identity, or the response that refuses the request.
    async fn admit(&self, headers: &HeaderMap) -> Result<Identity, HttpResponse> {
        if let Some((origins, hosts)) = &self.allowed {
            check_origin(origins, hosts, headers)?;
        }
        let fallback = self.fallback.and_then(|read| read(headers));
        self.authenticate(headers, fallback.as_deref()).await
    }

    /// The client's identity from its bearer token (or the fallback credential), or the 401
    /// that refuses it.
    async fn authenticate(&self, headers: &HeaderMap, fallback: Option<&str>) -> Result<Identity, HttpResponse> {
        let Some(auth) = &self.auth else { return Ok(Identity::anonymous()) };
        let authorization = headers.get(header::AUTHORIZATION).and_then(|v| v.to_str().ok()).map(str::trim);
        auth.authenticate(authorization.or(fallback)).await.map_err(|e| {
            tracing::debug!(error = %e, "request refused: not authenticated");
            self.server.audit_refusal(self.transport, &e.to_string());
            let challenge = HeaderValue::from_str(&auth.challenge(&e)).unwrap_or(HeaderValue::from_static("Bearer"));
            let (status, word) = match e {
                AuthError::InsufficientScope(_) => (StatusCode::FORBIDDEN, "Forbidden"),
                _ => (StatusCode::UNAUTHORIZED, "Unauthorized"),
            };
            let body = Message::Response(Response::error(None, ErrorObject::invalid_request(format!("{word}: {e}"))));
            (status, [(header::WWW_AUTHENTICATE, challenge)], body.to_vec()).into_response()
        })
    }
}

/// The middleware: admits the request with its identity, or answers the refusal.
pub(crate) async fn check(State(gate): State<Arc<Gate>>, mut request: Request, next: Next) -> HttpResponse {
    match gate.admit(request.headers()).await {
        Ok(identity) => {
            request.extensions_mut().insert(identity);
            next.run(request).await
        }
        Err(refused) => refused,
    }
}

/// DNS-rebinding protection: the `Origin` (when present) and `Host` must be ours, as
/// [`crate::transport::origin`] parses them.
fn check_origin(allowed_origins: &[String], allowed_hosts: &[String], headers: &HeaderMap) -> Result<(), HttpResponse> {
    let forbidden = |what: &str, value: &str| {
        tracing::warn!(value, "request refused: {what} not allowed");
        Err(json_error(
            StatusCode::FORBIDDEN,
            ErrorObject::invalid_request(format!(
                "Forbidden: {what} {value:?} is not allowed (DNS rebinding protection)"
            )),
            None,
        ))
    };
    // One value each: a second header would be a second opinion on who we are.
    let mut origins = headers.get_all(header::ORIGIN).iter();
    if let Some(origin) = origins.next() {
        let text = origin.to_str().unwrap_or("");
        if origins.next().is_some() || !origin_allowed(text, allowed_origins) {
            return forbidden("Origin", text);
        }
    }
    let mut hosts = headers.get_all(header::HOST).iter();
    if let Some(host) = hosts.next() {
        let text = host.to_str().unwrap_or("");
        if hosts.next().is_some() || !host_allowed(text, allowed_hosts) {
            return forbidden("Host", text);
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::security::AuditLog;
    use axum::Router;
    use axum::body::Body;
    use tower::ServiceExt;

    const TOKEN: &str = "aaaaaaaaaaaaaaaaaaaa";

    /// A router whose one endpoint, behind the gate, answers with the identity it was given.
    fn gated(server: &Server, config: &HttpConfig, origin_checked: bool, fallback: Option<Fallback>) -> Router {
        let gate = Arc::new(Gate::new(server, config, "http", origin_checked, fallback));
        let echo = |axum::Extension(identity): axum::Extension<Identity>| async move { identity.name };
        Router::new()
            .route("/", axum::routing::get(echo))
            .route_layer(axum::middleware::from_fn_with_state(gate, check))
    }

    fn with_tokens() -> HttpConfig {
        let auth = Authenticator::from_tokens(&format!("alice={TOKEN}"), "test").expect("tokens");
        HttpConfig { auth: Some(Arc::new(auth)), ..Default::default() }
    }

    /// Sends a GET with `headers`; the status, the `WWW-Authenticate` value and the body.
    async fn send(router: Router, headers: &[(&str, &str)]) -> (StatusCode, Option<String>, String) {
        let mut request = axum::http::Request::get("/");
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        let response = router.oneshot(request.body(Body::empty()).expect("request")).await.expect("infallible");
        let challenge = response.headers().get(header::WWW_AUTHENTICATE).map(|v| v.to_str().expect("ascii").to_owned());
        let status = response.status();
        let body = axum::body::to_bytes(response.into_body(), 1 << 20).await.expect("body");
        (status, challenge, String::from_utf8_lossy(&body).into_owned())
    }

    #[tokio::test]
    async fn a_foreign_origin_or_host_is_refused_with_403_before_authentication() {
        let server = Server::builder("t", "1").build();
        let config = with_tokens();
        for headers in [
            [("host", "127.0.0.1:8080"), ("origin", "http://evil.example")],
            [("host", "127.attacker.example:8080"), ("origin", "http://127.0.0.1:8080")],
        ] {
            // No token: the Origin/Host refusal comes first, so no challenge is given.
            let (status, challenge, body) = send(gated(&server, &config, true, None), &headers).await;
            assert_eq!(status, StatusCode::FORBIDDEN, "{headers:?}: {body}");
            assert!(body.contains("DNS rebinding") && challenge.is_none(), "{body}");
        }
        // Two Host headers are two opinions on who we are: refused, even if both are ours.
        let (status, _, _) =
            send(gated(&server, &HttpConfig::default(), true, None), &[("host", "localhost"), ("host", "localhost")])
                .await;
        assert_eq!(status, StatusCode::FORBIDDEN);
        // An endpoint gated without the Origin/Host check (metrics) does not refuse them.
        let foreign = [("host", "10.0.0.5:8080"), ("authorization", &format!("Bearer {TOKEN}"))];
        let (status, _, body) = send(gated(&server, &config, false, None), &foreign).await;
        assert_eq!((status, body.as_str()), (StatusCode::OK, "alice"));
    }

    #[tokio::test]
    async fn a_missing_or_invalid_token_gets_401_with_a_challenge_and_an_audit_line() {
        let dir = tempfile::tempdir().expect("dir");
        let trail = dir.path().join("audit.jsonl");
        let server = Server::builder("t", "1").audit(AuditLog::to_file(&trail).expect("trail")).build();
        let config = with_tokens();
        for authorization in [None, Some("Bearer wrong-token-0123456789"), Some(&format!("Basic {TOKEN}")[..])] {
            let mut headers = vec![("host", "localhost")];
            headers.extend(authorization.map(|a| ("authorization", a)));
            let (status, challenge, body) = send(gated(&server, &config, true, None), &headers).await;
            assert_eq!(status, StatusCode::UNAUTHORIZED, "{authorization:?}: {body}");
            assert!(challenge.is_some_and(|c| c.starts_with("Bearer")), "{authorization:?}");
            assert!(body.contains("Unauthorized") && !body.contains(TOKEN), "{body}");
        }
        server.flush_audit();
        let lines = std::fs::read_to_string(&trail).expect("trail");
        let refusals: Vec<serde_json::Value> = lines.lines().map(|l| serde_json::from_str(l).expect("json")).collect();
        assert_eq!(refusals.len(), 3, "{lines}");
        for line in &refusals {
            assert_eq!((&line["outcome"], &line["method"]), (&"denied".into(), &"(authentication)".into()), "{line}");
            assert_eq!(line["transport"], "http");
        }
    }

    #[tokio::test]
    async fn an_admitted_request_reaches_the_handler_with_its_identity() {
        let server = Server::builder("t", "1").build();
        let bearer = format!("Bearer {TOKEN}");
        let (status, _, body) =
            send(gated(&server, &with_tokens(), true, None), &[("host", "localhost"), ("authorization", &bearer)])
                .await;
        assert_eq!((status, body.as_str()), (StatusCode::OK, "alice"));
        // Without authentication configured, everyone is anonymous.
        let (status, _, body) = send(gated(&server, &HttpConfig::default(), true, None), &[("host", "[::1]:1")]).await;
        assert_eq!((status, body.as_str()), (StatusCode::OK, "anonymous"));
    }

    #[tokio::test]
    async fn the_fallback_credential_counts_only_where_the_endpoint_takes_one() {
        let server = Server::builder("t", "1").build();
        let offered = format!("mcp, mcp.auth.{TOKEN}");
        let headers = [("host", "localhost"), ("sec-websocket-protocol", offered.as_str())];
        let fallback: Fallback = crate::transport::ws::offered_token;
        let (status, _, body) = send(gated(&server, &with_tokens(), true, Some(fallback)), &headers).await;
        assert_eq!((status, body.as_str()), (StatusCode::OK, "alice"));
        let (status, _, _) = send(gated(&server, &with_tokens(), true, None), &headers).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
    }
}
