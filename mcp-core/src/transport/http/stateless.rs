//! Stateless (2026-07-28) POSTs: every request self-contained, its headers mirroring its
//! body; closing the response cancels the request.

use std::sync::Arc;

use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response as HttpResponse};
use futures::future::AbortHandle;
use tokio::sync::mpsc;

use super::headers::{header_str, mismatch, validate_stateless_headers};
use super::sessions::HttpState;
use super::stream::{SseItem, Start, StreamItem, first_output, forward, sse_response, unbounded_items};
use crate::protocol::codes;
use crate::protocol::{ErrorObject, Request};
use crate::security::Identity;
use crate::server::{Answer, Outgoing, Session};
use crate::transport::reply::json_error;

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

/// Validates a stateless request's envelope and headers (all failures are 400s), then serves it.
pub(super) async fn stateless_post(
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
    crate::transport::run_or_spawn(
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

/// Aborts the handler when the response (or its stream) is dropped.
struct AbortOnDrop(AbortHandle);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}
