//! Handshake-era requests: `initialize` opens a session, later POSTs name it, GET opens
//! its stream for server-initiated messages (or resumes one after `Last-Event-ID`), DELETE
//! ends it.

use std::sync::Arc;

use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response as HttpResponse};
use futures::future::AbortHandle;
use tokio::sync::mpsc;

use super::headers::{accepts, header_str};
use super::sessions::{HttpSession, HttpState, session_of};
use super::stream::{SSE_RETRY_MS, Start, StreamItem, first_output, forward, sse_response, to_data, unbounded_items};
use crate::protocol::types::meta;
use crate::protocol::{Era, ProtocolVersion};
use crate::protocol::{ErrorObject, Request};
use crate::security::Identity;
use crate::server::{Answer, Outgoing};
use crate::sync::lock;
use crate::transport::reply::json_error;

pub(super) async fn handshake_request(
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
    crate::transport::run_or_spawn(
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

pub(super) async fn get(state: Arc<HttpState>, headers: HeaderMap, identity: &Identity) -> HttpResponse {
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

pub(super) fn delete(state: Arc<HttpState>, headers: HeaderMap, identity: &Identity) -> HttpResponse {
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
