//! The client side of WebSocket: offers the `mcp` subprotocol, sends one JSON-RPC message
//! per text frame, and matches answers by id on a reader task (the framing the server's
//! `transport::ws` documents).

use std::sync::Arc;

use futures::{SinkExt, StreamExt};
use tokio::sync::mpsc;
use tokio_tungstenite::tungstenite::Message as WsMessage;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::HeaderValue;

use super::channel::pending::Pending;
use super::channel::{Channel, dispatch_incoming};
use super::options::{ClientError, ClientOptions};
use crate::protocol::{Message, parse_message};

pub(crate) struct WsConn {
    pub(crate) channel: Channel,
    reader: tokio::task::JoinHandle<()>,
    writer: Option<tokio::task::JoinHandle<()>>,
}

impl Drop for WsConn {
    /// A client dropped without `close` must still close its socket, so that the server
    /// sees it leave and cancels what it was running. The reader holds a sender for its
    /// replies, which would keep the writer, and so the socket, open forever: stop it, and
    /// the writer ends (with a close frame) once the channel's last sender is gone.
    fn drop(&mut self) {
        self.reader.abort();
    }
}

impl WsConn {
    pub(crate) async fn connect(url: &str, options: ClientOptions) -> Result<Self, ClientError> {
        let mut request =
            url.into_client_request().map_err(|e| ClientError::Transport(format!("bad WebSocket URL {url}: {e}")))?;
        let headers = request.headers_mut();
        headers.insert("sec-websocket-protocol", HeaderValue::from_static(crate::transport::ws::SUBPROTOCOL));
        if let Some(token) = &options.bearer_token {
            let mut value = HeaderValue::from_str(&format!("Bearer {token}")).map_err(|_| {
                ClientError::Transport("the bearer token holds characters not allowed in a header".into())
            })?;
            value.set_sensitive(true);
            headers.insert("authorization", value);
        }
        let (socket, _) = tokio_tungstenite::connect_async(request)
            .await
            .map_err(|e| ClientError::Transport(format!("WebSocket connection to {url} failed: {e}")))?;
        let (mut sink, mut stream) = socket.split();
        let (out, mut rx) = mpsc::unbounded_channel::<Message>();
        let writer = tokio::spawn(async move {
            while let Some(message) = rx.recv().await {
                let text = String::from_utf8(message.to_vec()).unwrap_or_default();
                if sink.send(WsMessage::Text(text.into())).await.is_err() {
                    break;
                }
            }
            let _ = sink.send(WsMessage::Close(None)).await;
        });
        let pending = Arc::new(Pending::default());
        let (reader_pending, reply_out) = (pending.clone(), out.clone());
        let reader = tokio::spawn(async move {
            while let Some(Ok(frame)) = stream.next().await {
                match frame {
                    WsMessage::Text(text) => match parse_message(text.as_bytes()) {
                        Ok(message) => {
                            let out = reply_out.clone();
                            dispatch_incoming(message, &reader_pending, &options, move |r| {
                                let _ = out.send(Message::Response(r));
                            });
                        }
                        Err(e) => tracing::warn!(error = %e.error.message, "server sent a frame that is not MCP"),
                    },
                    WsMessage::Close(frame) => {
                        tracing::debug!(?frame, "server closed the WebSocket");
                        break;
                    }
                    _ => {}
                }
            }
            reader_pending.fail_all("the WebSocket closed");
        });
        Ok(Self { channel: Channel { out, pending }, reader, writer: Some(writer) })
    }

    /// Sends what is queued, then a close frame. The reader goes first: it holds a sender
    /// for its replies, which would keep the writer waiting.
    pub(crate) async fn close(mut self) {
        let writer = self.writer.take();
        drop(self);
        if let Some(writer) = writer {
            let _ = tokio::time::timeout(std::time::Duration::from_secs(2), writer).await;
        }
    }
}
