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
        self.out.send(Message::Request(req)).map_err(|_| ClientError::Transport("the connection is closed".into()))?;
        rx.await.map_err(|_| ClientError::Transport("the connection closed before the answer".into()))
    }

    pub(super) fn notify(&self, n: Notification) -> Result<(), ClientError> {
        self.out.send(Message::Notification(n)).map_err(|_| ClientError::Transport("the connection is closed".into()))
    }
}

pub(crate) mod pending {
    //! Requests awaiting their response, by id.
    use std::collections::HashMap;
    use std::sync::Mutex;

    use tokio::sync::oneshot;

    use crate::protocol::{RequestId, Response};

    #[derive(Default)]
    pub(crate) struct Pending(Mutex<HashMap<RequestId, oneshot::Sender<Response>>>);

    impl Pending {
        pub(crate) fn register(&self, id: RequestId) -> oneshot::Receiver<Response> {
            let (tx, rx) = oneshot::channel();
            crate::sync::lock(&self.0).insert(id, tx);
            rx
        }
        pub(crate) fn complete(&self, r: Response) {
            let Some(id) = r.id.clone() else { return };
            if let Some(tx) = crate::sync::lock(&self.0).remove(&id) {
                let _ = tx.send(r);
            }
        }
        pub(crate) fn fail_all(&self) {
            crate::sync::lock(&self.0).clear();
        }
    }
}
