//! The client side of Streamable HTTP: one POST per message, answers as JSON or as an
//! SSE stream (read incrementally, so server requests on the stream can be answered
//! while it is open, and resumed with `Last-Event-ID` when the server closes it early),
//! the handshake era's session id, and the 2026-07-28 headers (`Mcp-Method`, `Mcp-Name`,
//! and the `Mcp-Param-*` mirrors of annotated tool arguments).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::sync::lock;

use futures::StreamExt;
use serde_json::Value;

use super::channel::dispatch_incoming;
use super::channel::pending::Pending;
use super::options::{ClientError, ClientOptions};
use crate::protocol::headers::{self, HeaderParam};
use crate::protocol::{Era, Message, Notification, ProtocolVersion, Request, RequestId, Response, parse_message};

/// How many times one request's stream is resumed before giving up.
const MAX_RESUMPTIONS: usize = 5;
/// Wait before resuming when the server gave no `retry`.
const DEFAULT_RETRY: Duration = Duration::from_secs(1);

pub(crate) struct HttpConn {
    endpoint: Endpoint,
    options: ClientOptions,
    /// The `x-mcp-header` parameters of each listed tool.
    param_headers: Mutex<HashMap<String, Vec<HeaderParam>>>,
    /// The handshake era's GET stream, on which the server sends its own requests.
    listener: Mutex<Option<tokio::task::AbortHandle>>,
}

/// Where and as which session to send: cheap to clone into background tasks.
#[derive(Clone)]
struct Endpoint {
    http: reqwest::Client,
    url: String,
    session: Arc<Mutex<Option<String>>>,
}

impl Endpoint {
    /// Opens (or, after `last_event_id`, resumes) an event stream with GET.
    async fn get_stream(
        &self,
        version: ProtocolVersion,
        last_event_id: Option<&str>,
    ) -> Result<reqwest::Response, ClientError> {
        let mut get = self
            .http
            .get(&self.url)
            .header("accept", "text/event-stream")
            .header("mcp-protocol-version", version.as_str());
        if let Some(id) = lock(&self.session).clone() {
            get = get.header("mcp-session-id", id);
        }
        if let Some(last) = last_event_id {
            get = get.header("last-event-id", last);
        }
        let resp = get.send().await.map_err(|e| ClientError::Transport(e.to_string()))?;
        if resp.status().is_success() {
            Ok(resp)
        } else {
            Err(ClientError::Transport(format!("GET of the event stream failed: HTTP {}", resp.status())))
        }
    }

    /// Posts answers to server requests back (handshake era, same session).
    fn replier(&self, version: ProtocolVersion) -> impl Fn(Response) + Send + Sync + 'static {
        let endpoint = self.clone();
        move |r: Response| {
            let post = endpoint.post(version).body(Message::Response(r).to_vec());
            tokio::spawn(async move {
                let _ = post.send().await;
            });
        }
    }

    /// A POST carrying what every message needs: the media types, the revision, the session.
    fn post(&self, version: ProtocolVersion) -> reqwest::RequestBuilder {
        let mut b = self
            .http
            .post(&self.url)
            .header("content-type", "application/json")
            .header("accept", "application/json, text/event-stream")
            .header("mcp-protocol-version", version.as_str());
        if let Some(id) = lock(&self.session).clone() {
            b = b.header("mcp-session-id", id);
        }
        b
    }
}

/// How a response's event stream ended.
enum StreamEnd {
    Answered(Response),
    /// Closed before the response; resumable from the last event id seen.
    Closed {
        last_event_id: Option<String>,
        retry: Option<Duration>,
    },
}

impl HttpConn {
    pub(crate) fn new(url: &str, options: ClientOptions) -> Result<Self, ClientError> {
        let mut headers = reqwest::header::HeaderMap::new();
        if let Some(token) = &options.bearer_token {
            let mut value = reqwest::header::HeaderValue::from_str(&format!("Bearer {token}")).map_err(|_| {
                ClientError::Transport("the bearer token holds characters not allowed in a header".into())
            })?;
            value.set_sensitive(true);
            headers.insert(reqwest::header::AUTHORIZATION, value);
        }
        let http = crate::tls::http_client()
            .default_headers(headers)
            .build()
            .map_err(|e| ClientError::Transport(e.to_string()))?;
        Ok(Self {
            endpoint: Endpoint { http, url: url.to_string(), session: Arc::new(Mutex::new(None)) },
            options,
            param_headers: Mutex::new(HashMap::new()),
            listener: Mutex::new(None),
        })
    }

    /// Opens the GET stream, and keeps it open (resuming it when it ends), so that requests
    /// and notifications the server sends outside any request reach the handlers. Returns
    /// once the stream is established, so that nothing sent afterwards can miss it; a server
    /// without a GET stream (405) is fine.
    pub(crate) async fn listen(&self, version: ProtocolVersion) {
        let Ok(first) = self.endpoint.get_stream(version, None).await else { return };
        let (endpoint, options) = (self.endpoint.clone(), self.options.clone());
        let task = tokio::spawn(async move {
            let mut stream = Ok(first);
            let mut last_event_id: Option<String> = None;
            while let Ok(resp) = stream {
                let pending = Pending::default();
                match read_events(resp, &pending, None, &options, &endpoint, version).await {
                    Ok(StreamEnd::Closed { last_event_id: last, retry }) => {
                        last_event_id = last.or(last_event_id);
                        tokio::time::sleep(retry.unwrap_or(DEFAULT_RETRY).max(Duration::from_millis(100))).await;
                    }
                    _ => return,
                }
                stream = endpoint.get_stream(version, last_event_id.as_deref()).await;
            }
        });
        *lock(&self.listener) = Some(task.abort_handle());
    }

    /// Whether `tool` was seen in a listing.
    pub(crate) fn knows_tool(&self, tool: &str) -> bool {
        lock(&self.param_headers).contains_key(tool)
    }

    /// Remembers which arguments of `tool` are mirrored into headers.
    pub(crate) fn learn_tool(&self, tool: &str, params: Vec<HeaderParam>) {
        lock(&self.param_headers).insert(tool.to_string(), params);
    }

    fn post(&self, msg: &Message, version: ProtocolVersion) -> reqwest::RequestBuilder {
        let mut b = self.endpoint.post(version);
        if let Message::Request(req) = msg
            && version.era() == Era::Stateless
        {
            b = b.header("mcp-method", req.method.as_str());
            let name = req.params.as_ref().and_then(|p| p.get("name").or_else(|| p.get("uri"))).and_then(Value::as_str);
            if let (Some(name), true) =
                (name, matches!(req.method.as_str(), "tools/call" | "prompts/get" | "resources/read"))
            {
                b = b.header("mcp-name", headers::encode_value(name));
            }
            if req.method == "tools/call"
                && let Some(params) = &req.params
                && let (Some(name), Some(args)) = (params.get("name").and_then(Value::as_str), params.get("arguments"))
                && let Some(mirrored) = lock(&self.param_headers).get(name)
            {
                for param in mirrored {
                    if let Some(value) = param.value_in(args) {
                        b = b.header(format!("mcp-param-{}", param.name), value);
                    }
                }
            }
        }
        b.body(msg.to_vec())
    }

    pub(crate) async fn request(&self, req: Request, version: ProtocolVersion) -> Result<Response, ClientError> {
        let is_init = req.method == "initialize";
        let msg = Message::Request(req);
        let resp = self.post(&msg, version).send().await.map_err(|e| ClientError::Transport(e.to_string()))?;
        if is_init && let Some(id) = resp.headers().get("mcp-session-id").and_then(|v| v.to_str().ok()) {
            *lock(&self.endpoint.session) = Some(id.to_string());
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
                // An error that answers no request in particular (`"id": null`) with an
                // error status is the transport's refusal (401, 403, ...): say the status.
                Ok(Message::Response(r)) if r.id.is_some() || status.is_success() => Ok(r),
                _ => Err(ClientError::Transport(format!(
                    "HTTP {status}: {}",
                    String::from_utf8_lossy(&body[..body.len().min(300)])
                ))),
            };
        }
        // Read events until our response arrives, answering server requests meanwhile;
        // when the server closes the stream first, resume it with GET and Last-Event-ID.
        let mut stream = resp;
        for _ in 0..=MAX_RESUMPTIONS {
            let pending = Pending::default();
            match read_events(stream, &pending, Some(&req.id), &self.options, &self.endpoint, version).await? {
                StreamEnd::Answered(r) => return Ok(r),
                StreamEnd::Closed { last_event_id: None, .. } => break,
                StreamEnd::Closed { last_event_id: Some(last), retry } => {
                    tokio::time::sleep(retry.unwrap_or(DEFAULT_RETRY)).await;
                    stream = self.endpoint.get_stream(version, Some(&last)).await?;
                }
            }
        }
        Err(ClientError::Transport("the event stream ended before the response".into()))
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
        if let Some(listener) = lock(&self.listener).take() {
            listener.abort();
        }
        let session = lock(&self.endpoint.session).take();
        if let Some(id) = session {
            let _ = self.endpoint.http.delete(&self.endpoint.url).header("mcp-session-id", id).send().await;
        }
    }
}

/// Reads one event stream, dispatching what it carries, until the response to `want`
/// arrives (when given) or the stream ends.
async fn read_events(
    resp: reqwest::Response,
    pending: &Pending,
    want: Option<&RequestId>,
    options: &ClientOptions,
    endpoint: &Endpoint,
    version: ProtocolVersion,
) -> Result<StreamEnd, ClientError> {
    let rx = want.map(|id| pending.register(id.clone()));
    let mut rx = rx.map(Box::pin);
    let mut stream = resp.bytes_stream();
    let mut buf = Vec::new();
    let (mut last_event_id, mut retry) = (None, None);
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(|e| ClientError::Transport(e.to_string()))?;
        buf.extend_from_slice(&chunk);
        while let Some(end) = find_event_end(&buf) {
            let raw: Vec<u8> = buf.drain(..end).collect();
            let event = SseEvent::parse(&raw);
            last_event_id = event.id.or(last_event_id);
            retry = event.retry.or(retry);
            if let Some(data) = event.data
                && let Ok(m) = parse_message(data.as_bytes())
            {
                dispatch_incoming(m, pending, options, endpoint.replier(version));
            }
        }
        if let Some(Ok(r)) = rx.as_mut().map(|rx| rx.as_mut().try_recv()) {
            return Ok(StreamEnd::Answered(r));
        }
    }
    match rx.as_mut().map(|rx| rx.as_mut().try_recv()) {
        Some(Ok(r)) => Ok(StreamEnd::Answered(r)),
        _ => Ok(StreamEnd::Closed { last_event_id, retry }),
    }
}

fn find_event_end(buf: &[u8]) -> Option<usize> {
    buf.windows(2).position(|w| w == b"\n\n").map(|i| i + 2)
}

/// The fields of one server-sent event that matter here.
struct SseEvent {
    id: Option<String>,
    retry: Option<Duration>,
    data: Option<String>,
}

impl SseEvent {
    fn parse(raw: &[u8]) -> Self {
        let text = String::from_utf8_lossy(raw);
        let (mut id, mut retry, mut data) = (None, None, Vec::new());
        for line in text.lines() {
            let (field, value) = line.split_once(':').unwrap_or((line, ""));
            let value = value.strip_prefix(' ').unwrap_or(value);
            match field {
                "id" => id = Some(value.to_string()),
                "retry" => retry = value.trim().parse().ok().map(Duration::from_millis),
                "data" => data.push(value),
                _ => {}
            }
        }
        let data = data.join("\n");
        Self { id, retry, data: (!data.trim().is_empty()).then_some(data) }
    }
}
