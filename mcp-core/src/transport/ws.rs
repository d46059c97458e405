//! The WebSocket transport at `/ws`, on the same listener as `/mcp`.
//!
//! MCP has no official WebSocket binding yet; this follows the draft (SEP-1288) where it
//! decides something:
//!
//! - The client offers the `mcp` subprotocol (`Sec-WebSocket-Protocol: mcp`); the server
//!   selects it, and refuses an upgrade that does not offer it.
//! - Authentication as for HTTP (`Authorization: Bearer`), or, for browsers that cannot
//!   set headers, an extra offered subprotocol `mcp.auth.<token>`.
//! - One JSON-RPC message per UTF-8 text frame, in both directions. Binary frames close
//!   the connection with 1003; a message over the size limit with 1009; a text frame
//!   that is not UTF-8 with 1007; another protocol violation with 1002.
//! - The connection is the session: both eras work over it as over stdio (`initialize`
//!   first, or `_meta` on every request).
//! - The server pings every `ws_ping_interval`; a peer silent for two intervals is closed
//!   with 1001. A normal end is 1000.

use std::time::Duration;

use axum::extract::ws::{CloseFrame, Message as WsMessage, Utf8Bytes, WebSocket, WebSocketUpgrade};
use axum::extract::{Extension, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response as HttpResponse};
use futures::SinkExt;

use super::connection::{AtHand, Connection, batch};
use super::reply::json_error;
use crate::protocol::ErrorObject;
use crate::security::Identity;
use crate::security::audit::HeldLines;
use crate::server::{Outgoing, Server};

/// The subprotocol clients must offer.
pub const SUBPROTOCOL: &str = "mcp";
/// Prefix of the subprotocol that carries a bearer token.
const AUTH_PREFIX: &str = "mcp.auth.";

/// What the `/ws` endpoint needs of the listener's settings.
#[derive(Clone)]
pub(crate) struct Endpoint {
    pub(crate) server: Server,
    /// How often the server pings; a peer silent for two intervals is dropped.
    pub(crate) ping_interval: Duration,
    /// The largest message accepted.
    pub(crate) max_message_bytes: usize,
}

/// The subprotocols a client offers.
fn offered(headers: &HeaderMap) -> impl Iterator<Item = &str> {
    headers
        .get_all("sec-websocket-protocol")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(str::trim)
}

/// The bearer token offered as the subprotocol `mcp.auth.<token>`, as an `Authorization`
/// value: the gate's credential when the header is absent.
pub(crate) fn offered_token(headers: &HeaderMap) -> Option<String> {
    offered(headers).find_map(|p| p.strip_prefix(AUTH_PREFIX)).map(|t| format!("Bearer {t}"))
}

/// The upgrade, past the gate (Origin, Host and authentication are checked there).
pub(crate) async fn upgrade(
    State(endpoint): State<Endpoint>,
    Extension(identity): Extension<Identity>,
    headers: HeaderMap,
    ws: WebSocketUpgrade,
) -> HttpResponse {
    if !offered(&headers).any(|p| p == SUBPROTOCOL) {
        return json_error(
            StatusCode::BAD_REQUEST,
            ErrorObject::invalid_request("WebSocket clients must offer the `mcp` subprotocol (Sec-WebSocket-Protocol)"),
            None,
        );
    }
    let max_message_bytes = endpoint.max_message_bytes;
    // Small buffers: tungstenite's defaults (128 KiB each way) would cost every idle
    // connection a quarter of a megabyte; messages larger than a buffer still arrive whole.
    ws.protocols([SUBPROTOCOL])
        .read_buffer_size(8 * 1024)
        .write_buffer_size(8 * 1024)
        .max_message_size(max_message_bytes)
        .on_upgrade(move |socket| serve(endpoint, socket, identity))
        .into_response()
}

/// One outgoing item as a text frame.
fn text_frame(item: Outgoing) -> WsMessage {
    WsMessage::Text(item.into_text().into())
}

fn close(code: u16, reason: &str) -> WsMessage {
    WsMessage::Close(Some(CloseFrame { code, reason: Utf8Bytes::from(reason) }))
}

/// The close frame that answers a frame the WebSocket library refused (RFC 6455 7.4.1),
/// or `None` when the connection itself failed and there is no one to tell.
fn closing_for(error: axum::Error) -> Option<WsMessage> {
    use tokio_tungstenite::tungstenite::Error;
    use tokio_tungstenite::tungstenite::error::CapacityError;
    let error = error.into_inner();
    match error.downcast_ref::<Error>()? {
        Error::Capacity(CapacityError::MessageTooLong { .. }) => Some(close(1009, "message too big")),
        Error::Capacity(_) => Some(close(1009, "frame too big")),
        // A text frame (or a fragmented text message) that is not UTF-8.
        Error::Utf8(_) => Some(close(1007, "text frames must be valid UTF-8")),
        Error::Protocol(_) => Some(close(1002, "protocol violation")),
        _ => None,
    }
}

async fn serve(endpoint: Endpoint, mut socket: WebSocket, identity: Identity) {
    let Endpoint { server, ping_interval, .. } = endpoint;
    let (connection, mut rx) = Connection::open(server, "ws", identity);
    // The audit lines of a batch of frames, queued once the batch is written.
    let mut lines = HeldLines::default();
    let mut ping = tokio::time::interval(ping_interval);
    ping.tick().await;
    let mut last_heard = tokio::time::Instant::now();
    // The client closed or lost the socket: its requests are cancelled, not drained.
    let mut peer_gone = false;
    let mut at_hand = AtHand::default();
    let ending = loop {
        let frame = match at_hand.take(socket.recv()) {
            Some(frame) => frame,
            None => tokio::select! {
                biased;
                Some(first) = rx.recv() => {
                    // Frames queue up and go out in one write: one syscall per batch.
                    for item in batch(first, &mut rx, 256) {
                        let frame = WsMessage::Text(item.into_text_holding_line(&mut lines).into());
                        if socket.feed(frame).await.is_err() {
                            peer_gone = true;
                        }
                    }
                    peer_gone = peer_gone || socket.flush().await.is_err();
                    lines.queue();
                    if peer_gone {
                        break None;
                    }
                    continue;
                }
                frame = socket.recv() => frame,
                _ = ping.tick() => {
                    if last_heard.elapsed() > ping_interval * 2 {
                        break Some(close(1001, "no answer to pings"));
                    }
                    if socket.send(WsMessage::Ping(Default::default())).await.is_err() {
                        peer_gone = true;
                        break None;
                    }
                    continue;
                }
            },
        };
        last_heard = tokio::time::Instant::now();
        match frame {
            Some(Ok(WsMessage::Text(text))) => connection.accept(text.as_bytes()).await,
            Some(Ok(WsMessage::Binary(_))) => {
                break Some(close(1003, "binary frames are not supported: send JSON-RPC messages as text"));
            }
            Some(Ok(WsMessage::Ping(_) | WsMessage::Pong(_))) => {}
            Some(Ok(WsMessage::Close(_))) | None => {
                peer_gone = true;
                break None;
            }
            Some(Err(e)) => {
                tracing::debug!(error = %e, "WebSocket read failed");
                let ending = closing_for(e);
                peer_gone = ending.is_none();
                break ending;
            }
        }
    };
    let closing = connection.close(Duration::from_secs(5), peer_gone);
    while let Ok(Some(item)) = tokio::time::timeout_at(closing.deadline, rx.recv()).await {
        if socket.send(text_frame(item)).await.is_err() {
            return;
        }
    }
    if !peer_gone {
        let _ = socket.send(ending.unwrap_or_else(|| close(1000, "bye"))).await;
    }
}
