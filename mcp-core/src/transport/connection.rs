//! What stdio and WebSocket share: a long-lived connection carrying one JSON-RPC message
//! per frame in each direction, with requests running concurrently and their answers,
//! notifications and server requests funnelled into one outgoing queue.

use std::sync::Arc;
use std::time::Duration;

use futures::FutureExt;
use futures::future::AbortHandle;
use tokio::sync::mpsc;

use crate::protocol::{ErrorObject, Message, Response, parse_message};
use crate::security::Identity;
use crate::server::{Answer, Outgoing, Server, Session};

/// The most frames a connection takes from input already at hand (read, or readable at
/// once) before it writes the answers that are ready. A pipelined client's answers then go
/// out together, in one write instead of one each, and every answer still goes out after
/// at most this many frames.
pub(crate) const TAKE_AT_HAND: usize = 64;

/// Takes frames from input already at hand, [`TAKE_AT_HAND`] at most in a row.
#[derive(Debug, Default)]
pub(crate) struct AtHand {
    /// Frames taken since answers were last written.
    taken: usize,
}

impl AtHand {
    /// What `next` (a connection's next frame) gives at once, if this may take one more.
    /// `None`: the connection waits for what comes first, the answers ready before input.
    pub(crate) fn take<T>(&mut self, next: impl std::future::Future<Output = T>) -> Option<T> {
        let frame = if self.taken < TAKE_AT_HAND { next.now_or_never() } else { None };
        self.taken = if frame.is_some() { self.taken + 1 } else { 0 };
        frame
    }
}

/// One client connection, from the server's side.
pub(crate) struct Connection {
    server: Server,
    session: Arc<Session>,
    out: mpsc::UnboundedSender<Outgoing>,
    forwarder: tokio::task::JoinHandle<()>,
}

impl Connection {
    /// Opens a connection on `transport` for `identity`; the receiver yields everything
    /// to send to the client.
    pub(crate) fn open(
        server: Server,
        transport: &'static str,
        identity: Identity,
    ) -> (Self, mpsc::UnboundedReceiver<Outgoing>) {
        let (out, rx) = mpsc::unbounded_channel();
        let session = Arc::new(Session::for_client(transport, identity));
        session.set_push(out.clone());
        let forwarder = tokio::spawn(crate::server::forward_changes(server.clone(), session.clone()));
        (Self { server, session, out, forwarder }, rx)
    }

    /// Handles one incoming frame. Requests run here until they first wait, then on
    /// their own task, so that a slow request never holds up the next frame.
    pub(crate) async fn accept(&self, bytes: &[u8]) {
        match parse_message(bytes) {
            Ok(Message::Request(req)) => {
                let id = req.id.clone();
                let (abort, registration) = AbortHandle::new_pair();
                if !self.session.track(id.clone(), abort) {
                    let e = ErrorObject::invalid_request(format!(
                        "Duplicate request id {id}: a request with this id is still running"
                    ));
                    self.refuse(Response::error(Some(id), e));
                    return;
                }
                let (server, session, out) = (self.server.clone(), self.session.clone(), self.out.clone());
                let size = bytes.len();
                super::run_or_spawn(
                    async move {
                        let answer = server.answer(&session, req, size, Some(out.clone())).await;
                        // A request cancelled meanwhile gets no response.
                        if session.untrack(&id) {
                            let _ = out.send(Outgoing::Answer(answer));
                        }
                    },
                    registration,
                )
                .await;
            }
            Ok(Message::Notification(n)) => self.server.handle_notification(&self.session, n),
            Ok(Message::Response(r)) => {
                if !self.session.deliver_response(r) {
                    tracing::debug!("response to no pending request ignored");
                }
            }
            Err(rejection) => self.refuse(rejection.into_response()),
        }
    }

    /// Answers a frame that was too large to read.
    pub(crate) fn refuse_oversized(&self, size: usize, limit: usize) {
        let e = ErrorObject::invalid_request(format!(
            "Request too large: a message of {size} bytes exceeds the {limit} byte limit; it was discarded"
        ));
        self.refuse(Response::error(None, e));
    }

    /// Answers a frame that no request handled.
    fn refuse(&self, response: Response) {
        let _ = self.out.send(Outgoing::Answer(Answer::new(response, None)));
    }

    /// Stops taking input and returns until when requests still running may answer: read
    /// the queue until then; it closes as soon as the last one has answered. With the
    /// peer gone there is no one to answer: its requests are cancelled at once.
    pub(crate) fn close(self, drain: Duration, peer_gone: bool) -> Closing {
        self.forwarder.abort();
        self.session.clear_push();
        if peer_gone {
            self.session.cancel_all();
        }
        drop(self.out);
        Closing {
            session: self.session,
            deadline: tokio::time::Instant::now() + if peer_gone { Duration::ZERO } else { drain },
        }
    }
}

/// A connection that takes no more input, while its last answers drain.
pub(crate) struct Closing {
    session: Arc<Session>,
    /// Until when requests still running may answer.
    pub(crate) deadline: tokio::time::Instant,
}

impl Drop for Closing {
    /// Requests that outlived the drain cannot answer any more: stop them.
    fn drop(&mut self) {
        self.session.cancel_all();
    }
}

/// `first` and the messages queued right now behind it (at most `max`), to send in one go.
pub(crate) fn batch(first: Outgoing, more: &mut mpsc::UnboundedReceiver<Outgoing>, max: usize) -> Vec<Outgoing> {
    let mut batch = vec![first];
    while batch.len() < max {
        match more.try_recv() {
            Ok(message) => batch.push(message),
            Err(_) => break,
        }
    }
    batch.retain(|m| !m.is_notification(crate::server::CLOSE_STREAM));
    batch
}
