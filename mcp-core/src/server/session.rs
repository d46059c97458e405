//! Per-connection state: what a handshake-era client negotiated, the requests in flight,
//! and the server-to-client requests awaiting an answer.
//!
//! A stateless (2026-07-28) request never reads this state: everything it needs comes in
//! its own `_meta`. The session exists for the handshake era and for cancellation.

use crate::sync::lock;
use std::collections::{HashMap, HashSet};
use std::sync::Mutex;
use std::sync::atomic::{AtomicI64, Ordering};

use futures::future::AbortHandle;
use serde_json::Value;
use tokio::sync::{mpsc, oneshot};

use crate::protocol::{ErrorObject, Implementation, LoggingLevel, Message, ProtocolVersion, RequestId, Response};
use crate::security::Identity;
use crate::security::audit::LineHead;
use std::sync::Arc;

/// What a handshake-era client told us in `initialize`.
#[derive(Debug, Clone)]
pub struct Handshake {
    /// The negotiated revision.
    pub version: ProtocolVersion,
    /// The client's declared capabilities.
    pub capabilities: Value,
    /// The client's name and version.
    pub client_info: Option<Implementation>,
}

/// A channel to the peer for messages outside any request (stdio's writer, HTTP's GET stream).
pub type Outbound = mpsc::UnboundedSender<super::outgoing::Outgoing>;

/// One client connection (a stdio process or an HTTP session).
#[derive(Debug, Default)]
pub struct Session {
    handshake: Mutex<Option<Handshake>>,
    initialized: std::sync::atomic::AtomicBool,
    log_level: Mutex<Option<LoggingLevel>>,
    in_flight: Mutex<HashMap<RequestId, AbortHandle>>,
    pending: Mutex<HashMap<RequestId, oneshot::Sender<Result<Value, ErrorObject>>>>,
    next_id: AtomicI64,
    subscriptions: Mutex<HashSet<String>>,
    push: Mutex<Option<Outbound>>,
    transport: std::sync::OnceLock<&'static str>,
    /// Set once, when the transport opens the session; read on every request.
    identity: std::sync::OnceLock<Arc<Identity>>,
    /// The count of this client's requests in flight, found once per session.
    client_slots: std::sync::OnceLock<Arc<std::sync::atomic::AtomicUsize>>,
    /// The first fields of this session's audit lines, serialized once.
    audit_head: std::sync::OnceLock<LineHead>,
}

impl Session {
    /// A fresh session.
    pub fn new() -> Self {
        Self::default()
    }

    /// A fresh session on `transport` (`stdio`, `http`, `ws`) for `identity`.
    pub fn for_client(transport: &'static str, identity: Identity) -> Self {
        let session = Self::default();
        let _ = session.transport.set(transport);
        let _ = session.identity.set(Arc::new(identity));
        session
    }

    /// The transport name, for the audit trail.
    pub fn transport(&self) -> &'static str {
        self.transport.get().copied().unwrap_or("embedded")
    }

    /// Who the client is; `local` when no transport said otherwise.
    pub fn identity(&self) -> Arc<Identity> {
        self.identity.get_or_init(|| Arc::new(Identity::local())).clone()
    }

    /// [`Session::identity`], borrowed.
    pub(crate) fn identity_ref(&self) -> &Identity {
        self.identity.get_or_init(|| Arc::new(Identity::local()))
    }

    /// This client's count of requests in flight, shared by its sessions (`find` looks
    /// it up, once per session).
    pub(crate) fn client_slots(
        &self,
        find: impl FnOnce() -> Arc<std::sync::atomic::AtomicUsize>,
    ) -> &Arc<std::sync::atomic::AtomicUsize> {
        self.client_slots.get_or_init(find)
    }

    /// The first fields of this session's audit lines: made by `make` the first time.
    pub(crate) fn audit_head(&self, make: impl FnOnce() -> LineHead) -> &LineHead {
        self.audit_head.get_or_init(make)
    }

    /// The negotiated revision, without copying the rest of the handshake.
    pub fn negotiated_version(&self) -> Option<ProtocolVersion> {
        lock(&self.handshake).as_ref().map(|hs| hs.version)
    }

    /// The handshake, once `initialize` succeeded.
    pub fn handshake(&self) -> Option<Handshake> {
        lock(&self.handshake).clone()
    }

    /// Records the handshake; false (and nothing changes) when the session already has
    /// one: a session is initialized once.
    pub(crate) fn set_handshake(&self, hs: Handshake) -> bool {
        let mut handshake = lock(&self.handshake);
        if handshake.is_some() {
            return false;
        }
        *handshake = Some(hs);
        true
    }

    pub(crate) fn mark_initialized(&self) {
        self.initialized.store(true, Ordering::Release);
    }

    /// Whether `notifications/initialized` arrived.
    pub fn is_initialized(&self) -> bool {
        self.initialized.load(Ordering::Acquire)
    }

    pub(crate) fn log_level(&self) -> Option<LoggingLevel> {
        *lock(&self.log_level)
    }

    pub(crate) fn set_log_level(&self, level: LoggingLevel) {
        *lock(&self.log_level) = Some(level);
    }

    /// Records a running request so that `notifications/cancelled` can abort it; false
    /// when a request with the same id is already running (ids must be unique).
    pub fn track(&self, id: RequestId, handle: AbortHandle) -> bool {
        match lock(&self.in_flight).entry(id) {
            std::collections::hash_map::Entry::Occupied(_) => false,
            std::collections::hash_map::Entry::Vacant(v) => {
                v.insert(handle);
                true
            }
        }
    }

    /// Forgets a finished request; returns false if it was already cancelled.
    pub fn untrack(&self, id: &RequestId) -> bool {
        lock(&self.in_flight).remove(id).is_some()
    }

    /// Aborts a running request; returns whether it was running.
    pub fn cancel(&self, id: &RequestId) -> bool {
        match lock(&self.in_flight).remove(id) {
            Some(handle) => {
                handle.abort();
                true
            }
            None => false,
        }
    }

    /// Aborts every running request (the client is gone: no one would read the answers).
    pub fn cancel_all(&self) {
        for (_, handle) in lock(&self.in_flight).drain() {
            handle.abort();
        }
    }

    /// How many requests are running.
    pub fn in_flight(&self) -> usize {
        lock(&self.in_flight).len()
    }

    /// Allocates an id for a server-to-client request and a receiver for its answer.
    pub(crate) fn expect_response(&self) -> (RequestId, oneshot::Receiver<Result<Value, ErrorObject>>) {
        let n = self.next_id.fetch_add(1, Ordering::Relaxed);
        let id = RequestId::String(format!("srv-{n}").into());
        let (tx, rx) = oneshot::channel();
        lock(&self.pending).insert(id.clone(), tx);
        (id, rx)
    }

    /// Drops a pending server-to-client request (its waiter gave up).
    pub(crate) fn forget_pending(&self, id: &RequestId) {
        lock(&self.pending).remove(id);
    }

    /// Delivers the client's answer to a server-to-client request; false if nobody waits.
    pub fn deliver_response(&self, response: Response) -> bool {
        let Some(id) = response.id else { return false };
        match lock(&self.pending).remove(&id) {
            Some(tx) => tx.send(response.outcome).is_ok(),
            None => false,
        }
    }

    pub(crate) fn subscribe(&self, uri: String) {
        lock(&self.subscriptions).insert(uri);
    }

    pub(crate) fn unsubscribe(&self, uri: &str) {
        lock(&self.subscriptions).remove(uri);
    }

    pub(crate) fn is_subscribed(&self, uri: &str) -> bool {
        lock(&self.subscriptions).contains(uri)
    }

    /// Sets the channel for messages outside any request.
    pub fn set_push(&self, out: Outbound) {
        *lock(&self.push) = Some(out);
    }

    /// Clears the push channel (the GET stream closed).
    pub fn clear_push(&self) {
        *lock(&self.push) = None;
    }

    pub fn push(&self, msg: Message) -> bool {
        match lock(&self.push).as_ref() {
            Some(tx) => tx.send(msg.into()).is_ok(),
            None => false,
        }
    }
}
