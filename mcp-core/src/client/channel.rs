//! What every connection of the client shares: routing what arrives (responses to the
//! requests awaiting them, notifications, the server's own requests) and, for the
//! message-framed ones (stdio, WebSocket), the sending half.

use std::sync::Arc;

use serde_json::{Value, json};

use super::options::{ClientError, ClientOptions};
use crate::protocol::{Message, Notification, Request, Response};

/// Routes an incoming message for a connection: responses complete pending requests,
/// notifications go to the handler, server requests are answered via `reply`.
pub(crate) fn dispatch_incoming(
    msg: Message,
    pending: &pending::Pending,
    options: &ClientOptions,
    reply: impl Fn(Response) + Send + Sync + 'static,
) {
    match msg {
        Message::Response(r) => pending.complete(r),
        Message::Notification(n) => {
            if let Some(h) = &options.on_notification {
                h(n);
            }
        }
        Message::Request(req) => {
            let options = options.clone();
            tokio::spawn(async move {
                let params = req.params.map(Value::Object).unwrap_or(Value::Null);
                let outcome =
                    if req.method == "ping" { Ok(json!({})) } else { options.answer(&req.method, params).await };
                reply(Response { id: Some(req.id), outcome });
            });
        }
    }
}

/// A message-framed connection (stdio, WebSocket): what is sent goes into `out`, what
/// arrives is matched to `pending` requests by a reader task.
pub(crate) struct Channel {
    pub(super) out: tokio::sync::mpsc::UnboundedSender<Message>,
    pub(super) pending: Arc<pending::Pending>,
}

impl Channel {
    pub(super) async fn request(&self, req: Request) -> Result<Response, ClientError> {
        let rx = self.pending.register(req.id.clone());
        self.out.send(Message::Request(req)).map_err(|_| self.closed())?;
        rx.await.map_err(|_| self.closed())
    }

    pub(super) fn notify(&self, n: Notification) -> Result<(), ClientError> {
        self.out.send(Message::Notification(n)).map_err(|_| self.closed())
    }

    /// Why the connection can carry nothing more (the server's exit and its stderr, for a
    /// stdio server), once the reader has said so.
    fn closed(&self) -> ClientError {
        ClientError::Transport(self.pending.closed_reason().unwrap_or_else(|| "the connection is closed".into()))
    }
}

pub(crate) mod pending {
    //! Requests awaiting their response, by id, and why none can be answered any more once
    //! the connection ended.
    use std::collections::HashMap;
    use std::sync::Mutex;

    use tokio::sync::oneshot;

    use crate::protocol::{RequestId, Response};

    #[derive(Default)]
    struct State {
        waiting: HashMap<RequestId, oneshot::Sender<Response>>,
        closed: Option<String>,
    }

    #[derive(Default)]
    pub(crate) struct Pending(Mutex<State>);

    impl Pending {
        /// Awaits the response to `id`; once the connection ended, the receiver fails at
        /// once instead of waiting for the request timeout.
        pub(crate) fn register(&self, id: RequestId) -> oneshot::Receiver<Response> {
            let (tx, rx) = oneshot::channel();
            let mut state = crate::sync::lock(&self.0);
            if state.closed.is_none() {
                state.waiting.insert(id, tx);
            }
            rx
        }
        pub(crate) fn complete(&self, r: Response) {
            let Some(id) = r.id.clone() else { return };
            if let Some(tx) = crate::sync::lock(&self.0).waiting.remove(&id) {
                let _ = tx.send(r);
            }
        }
        /// Fails every waiting request, and every later one, with `reason` (the first
        /// reason given stays: it is the closest to the cause).
        pub(crate) fn fail_all(&self, reason: impl Into<String>) {
            let mut state = crate::sync::lock(&self.0);
            state.closed.get_or_insert_with(|| reason.into());
            state.waiting.clear();
        }
        pub(crate) fn closed_reason(&self) -> Option<String> {
            crate::sync::lock(&self.0).closed.clone()
        }
    }

    #[cfg(test)]
    mod tests {
        use super::*;
        use crate::protocol::Response;

        #[tokio::test]
        async fn after_the_end_a_request_fails_at_once_with_the_first_reason() {
            let pending = Pending::default();
            let early = pending.register(RequestId::Number(1));
            pending.fail_all("the server exited with exit status: 3");
            pending.fail_all("the connection is closed");
            assert!(early.await.is_err());
            let late = pending.register(RequestId::Number(2));
            let waited = tokio::time::timeout(std::time::Duration::from_millis(100), late).await;
            assert!(matches!(waited, Ok(Err(_))), "a request after the end must fail at once");
            assert_eq!(pending.closed_reason().as_deref(), Some("the server exited with exit status: 3"));
            pending.complete(Response { id: Some(RequestId::Number(2)), outcome: Ok(serde_json::json!({})) });
        }
    }
}
