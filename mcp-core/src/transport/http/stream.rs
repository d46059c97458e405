//! How a request's output goes out: as one JSON body when its handler finishes before
//! saying anything else, or as an SSE stream from its first notification or request on
//! (with keep-alive comments, and event ids where the stream can be resumed).

use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use axum::body::Bytes;
use axum::http::{HeaderValue, header};
use axum::response::Response as HttpResponse;
use futures::stream::Stream;
use serde_json::Value;
use tokio::sync::mpsc;

use crate::protocol::Message;
use crate::server::{Answer, Outgoing};

pub(super) const SSE_RETRY_MS: u64 = 1000;

#[derive(Debug, Clone)]
pub(super) enum SseItem {
    Event { id: Option<String>, data: Option<Arc<str>>, retry: Option<u64> },
    End,
}

/// How a request's output begins: finished before saying anything, or speaking first.
pub(super) enum Start {
    Done(Answer),
    Speaking(Outgoing, mpsc::UnboundedReceiver<Outgoing>, tokio::sync::oneshot::Receiver<Answer>),
    Dropped,
}

/// Waits for the handler's first output. The handler's sink closes when it finishes, so
/// `None` from the sink means the response is ready (or the request was dropped).
pub(super) async fn first_output(
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
pub(super) async fn forward(
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
pub(super) enum StreamItem {
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

pub(super) fn to_data(item: Outgoing) -> Arc<str> {
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

pub(super) fn sse_response(
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

pub(super) fn unbounded_items(
    mut rx: mpsc::UnboundedReceiver<SseItem>,
) -> std::pin::Pin<Box<dyn Stream<Item = SseItem> + Send>> {
    Box::pin(futures::stream::poll_fn(move |cx| rx.poll_recv(cx)))
}
