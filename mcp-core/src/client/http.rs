//! The client side of Streamable HTTP: one POST per message, answers as JSON or as an
//! SSE stream (read incrementally, so server requests on the stream can be answered
//! while it is open), the handshake era's session id, and the 2026-07-28 headers.

use crate::sync::lock;
use std::sync::{Arc, Mutex};

use futures::StreamExt;
use serde_json::Value;

use super::pending::Pending;
use super::{ClientError, ClientOptions, dispatch_incoming};
use crate::protocol::{Era, Message, Notification, ProtocolVersion, Request, Response, parse_message};
use crate::transport::http::encode_header_value;

pub(crate) struct HttpConn {
    http: reqwest::Client,
    url: String,
    session: Arc<Mutex<Option<String>>>,
    options: ClientOptions,
}

impl HttpConn {
    pub(crate) fn new(url: &str, options: ClientOptions) -> Result<Self, ClientError> {
        let http = reqwest::Client::builder().build().map_err(|e| ClientError::Transport(e.to_string()))?;
        Ok(Self { http, url: url.to_string(), session: Arc::new(Mutex::new(None)), options })
    }

    fn post(&self, msg: &Message, version: ProtocolVersion) -> reqwest::RequestBuilder {
        let mut b = self
            .http
            .post(&self.url)
            .header("content-type", "application/json")
            .header("accept", "application/json, text/event-stream")
            .header("mcp-protocol-version", version.as_str());
        if let Some(id) = lock(&self.session).clone() {
            b = b.header("mcp-session-id", id);
        }
        if let Message::Request(req) = msg
            && version.era() == Era::Stateless
        {
            b = b.header("mcp-method", req.method.as_str());
            let name = req.params.as_ref().and_then(|p| p.get("name").or_else(|| p.get("uri"))).and_then(Value::as_str);
            if let (Some(name), true) =
                (name, matches!(req.method.as_str(), "tools/call" | "prompts/get" | "resources/read"))
            {
                b = b.header("mcp-name", encode_header_value(name));
            }
        }
        b.body(msg.to_vec())
    }

    pub(crate) async fn request(&self, req: Request, version: ProtocolVersion) -> Result<Response, ClientError> {
        let is_init = req.method == "initialize";
        let msg = Message::Request(req);
        let resp = self.post(&msg, version).send().await.map_err(|e| ClientError::Transport(e.to_string()))?;
        if is_init && let Some(id) = resp.headers().get("mcp-session-id").and_then(|v| v.to_str().ok()) {
            *lock(&self.session) = Some(id.to_string());
        }
        let status = resp.status();
        let is_sse = resp
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .is_some_and(|ct| ct.starts_with("text/event-stream"));
        let Message::Request(req) = msg else { unreachable!("built as a request above") };
        if !is_sse {
            let body = resp.bytes().await.map_err(|e| ClientError::Transport(e.to_string()))?;
            return match parse_message(&body) {
                Ok(Message::Response(r)) => Ok(r),
                _ => Err(ClientError::Transport(format!(
                    "HTTP {status}: {}",
                    String::from_utf8_lossy(&body[..body.len().min(300)])
                ))),
            };
        }
        // Read events until our response arrives; answer server requests meanwhile.
        let pending = Pending::default();
        let rx = pending.register(req.id.clone());
        let mut rx = std::pin::pin!(rx);
        let mut stream = resp.bytes_stream();
        let mut buf = Vec::new();
        while let Some(chunk) = stream.next().await {
            let chunk = chunk.map_err(|e| ClientError::Transport(e.to_string()))?;
            buf.extend_from_slice(&chunk);
            while let Some(end) = find_event_end(&buf) {
                let event: Vec<u8> = buf.drain(..end).collect();
                if let Some(data) = event_data(&event)
                    && let Ok(m) = parse_message(data.as_bytes())
                {
                    let conn = self.replier(version);
                    dispatch_incoming(m, &pending, &self.options, conn);
                }
            }
            if let Ok(r) = rx.as_mut().try_recv() {
                return Ok(r);
            }
        }
        rx.await.map_err(|_| ClientError::Transport("the event stream ended before the response".into()))
    }

    /// Posts answers to server requests back (handshake era, same session).
    fn replier(&self, version: ProtocolVersion) -> impl Fn(Response) + Send + Sync + 'static {
        let http = self.http.clone();
        let url = self.url.clone();
        let session = lock(&self.session).clone();
        move |r: Response| {
            let mut b = http
                .post(&url)
                .header("content-type", "application/json")
                .header("accept", "application/json, text/event-stream")
                .header("mcp-protocol-version", version.as_str());
            if let Some(id) = &session {
                b = b.header("mcp-session-id", id);
            }
            let body = Message::Response(r).to_vec();
            tokio::spawn(async move {
                let _ = b.body(body).send().await;
            });
        }
    }

    pub(crate) async fn notify(&self, n: Notification, version: ProtocolVersion) -> Result<(), ClientError> {
        let resp = self
            .post(&Message::Notification(n), version)
            .send()
            .await
            .map_err(|e| ClientError::Transport(e.to_string()))?;
        if resp.status().is_success() {
            Ok(())
        } else {
            Err(ClientError::Transport(format!("notification refused: HTTP {}", resp.status())))
        }
    }

    pub(crate) async fn close(self) {
        let session = lock(&self.session).take();
        if let Some(id) = session {
            let _ = self.http.delete(&self.url).header("mcp-session-id", id).send().await;
        }
    }
}

fn find_event_end(buf: &[u8]) -> Option<usize> {
    buf.windows(2).position(|w| w == b"\n\n").map(|i| i + 2)
}

fn event_data(event: &[u8]) -> Option<String> {
    let text = std::str::from_utf8(event).ok()?;
    let data: Vec<&str> =
        text.lines().filter_map(|l| l.strip_prefix("data:").map(|d| d.strip_prefix(' ').unwrap_or(d))).collect();
    let joined = data.join("\n");
    (!joined.trim().is_empty()).then_some(joined)
}
