//! Handshake-era sessions: each one's logged SSE streams (resumable with
//! `Last-Event-ID`), and the table of open sessions, owned by the `/mcp` endpoint's state.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::http::{HeaderMap, StatusCode};
use axum::response::Response as HttpResponse;
use tokio::sync::mpsc;

use super::config::HttpConfig;
use super::headers::header_str;
use super::stream::SseItem;
use crate::protocol::ErrorObject;
use crate::security::Identity;
use crate::server::{Server, Session};
use crate::sync::lock;
use crate::transport::reply::json_error;

const MAX_LOGGED_EVENTS: usize = 1024;

const MAX_LOGGED_STREAMS: usize = 64;

/// One SSE stream of a handshake-era session, logged so that it can be resumed.
#[derive(Default)]
struct StreamLog {
    events: VecDeque<(u64, Option<Arc<str>>)>,
    next_seq: u64,
    live: Option<mpsc::UnboundedSender<SseItem>>,
    finished: bool,
}

pub(super) struct HttpSession {
    pub(super) session: Arc<Session>,
    streams: Mutex<(u64, HashMap<u64, StreamLog>, VecDeque<u64>)>,
    last_seen: Mutex<tokio::time::Instant>,
    pub(super) get_open: std::sync::atomic::AtomicBool,
}

impl HttpSession {
    pub(super) fn new(identity: Identity) -> Self {
        Self {
            session: Arc::new(Session::for_client("http", identity)),
            streams: Mutex::new((0, HashMap::new(), VecDeque::new())),
            last_seen: Mutex::new(tokio::time::Instant::now()),
            get_open: Default::default(),
        }
    }

    /// Opens a logged stream, returning its id and the live receiver.
    pub(super) fn open_stream(&self) -> (u64, mpsc::UnboundedReceiver<SseItem>) {
        let (tx, rx) = mpsc::unbounded_channel();
        let mut g = lock(&self.streams);
        g.0 += 1;
        let id = g.0;
        g.1.insert(id, StreamLog { live: Some(tx), ..Default::default() });
        g.2.push_back(id);
        while g.2.len() > MAX_LOGGED_STREAMS {
            if let Some(old) = g.2.pop_front() {
                g.1.remove(&old);
            }
        }
        (id, rx)
    }

    /// Appends an event (data `None`: a priming event) to a stream and sends it live.
    pub(super) fn emit(&self, stream: u64, data: Option<Arc<str>>, retry: Option<u64>) {
        let mut g = lock(&self.streams);
        let Some(log) = g.1.get_mut(&stream) else { return };
        let seq = log.next_seq;
        log.next_seq += 1;
        log.events.push_back((seq, data.clone()));
        if log.events.len() > MAX_LOGGED_EVENTS {
            log.events.pop_front();
        }
        let item = SseItem::Event { id: Some(format!("{stream}-{seq}")), data, retry };
        if let Some(live) = &log.live
            && live.send(item).is_err()
        {
            log.live = None;
        }
    }

    /// Ends the live connection of a stream (after telling the client when to come back);
    /// events keep being logged for a `Last-Event-ID` resumption.
    pub(super) fn disconnect(&self, stream: u64, retry_ms: u64) {
        self.emit(stream, None, Some(retry_ms));
        let mut g = lock(&self.streams);
        if let Some(log) = g.1.get_mut(&stream)
            && let Some(live) = log.live.take()
        {
            let _ = live.send(SseItem::End);
        }
    }

    pub(super) fn finish(&self, stream: u64) {
        let mut g = lock(&self.streams);
        if let Some(log) = g.1.get_mut(&stream) {
            log.finished = true;
            if let Some(live) = log.live.take() {
                let _ = live.send(SseItem::End);
            }
        }
    }

    /// Resumes a stream after `Last-Event-ID`: replays later events, then goes live.
    pub(super) fn resume(&self, last_event_id: &str) -> Option<mpsc::UnboundedReceiver<SseItem>> {
        let (stream, seq) = last_event_id.split_once('-')?;
        let (stream, seq): (u64, u64) = (stream.parse().ok()?, seq.parse().ok()?);
        let mut g = lock(&self.streams);
        let log = g.1.get_mut(&stream)?;
        let (tx, rx) = mpsc::unbounded_channel();
        for (s, data) in log.events.iter().filter(|(s, _)| *s > seq) {
            if data.is_some() {
                let _ = tx.send(SseItem::Event { id: Some(format!("{stream}-{s}")), data: data.clone(), retry: None });
            }
        }
        if log.finished {
            let _ = tx.send(SseItem::End);
        } else {
            log.live = Some(tx);
        }
        Some(rx)
    }

    pub(super) fn touch(&self) {
        *lock(&self.last_seen) = tokio::time::Instant::now();
    }
}

pub(crate) struct HttpState {
    pub(crate) server: Server,
    pub(crate) config: HttpConfig,
    pub(super) sessions: Mutex<HashMap<String, Arc<HttpSession>>>,
}

impl HttpState {
    pub(super) fn new(server: Server, config: HttpConfig) -> Self {
        Self { server, config, sessions: Mutex::new(HashMap::new()) }
    }

    /// Drops sessions idle longer than `session_idle_timeout`, in a task that ends with
    /// the state.
    pub(super) fn sweep_idle_sessions(state: &Arc<Self>) {
        let sweeper = Arc::downgrade(state);
        tokio::spawn(async move {
            loop {
                let every = sweeper.upgrade().map_or(Duration::from_secs(30), |s| {
                    (s.config.session_idle_timeout / 2).clamp(Duration::from_millis(10), Duration::from_secs(30))
                });
                tokio::time::sleep(every).await;
                let Some(state) = sweeper.upgrade() else { break };
                let idle = state.config.session_idle_timeout;
                lock(&state.sessions).retain(|_, s| lock(&s.last_seen).elapsed() < idle);
            }
        });
    }
}

/// The session named by `Mcp-Session-Id`, `None` when the header is absent.
/// A session is only ever used by the client that opened it.
pub(super) fn session_of(
    state: &HttpState,
    headers: &HeaderMap,
    identity: &Identity,
) -> Result<Option<Arc<HttpSession>>, HttpResponse> {
    let Some(id) = header_str(headers, "mcp-session-id") else { return Ok(None) };
    match lock(&state.sessions).get(id) {
        Some(s) if s.session.identity().name != identity.name => Err(json_error(
            StatusCode::FORBIDDEN,
            ErrorObject::invalid_request("Forbidden: this session belongs to another client"),
            None,
        )),
        Some(s) if lock(&s.last_seen).elapsed() >= state.config.session_idle_timeout => Err(json_error(
            StatusCode::NOT_FOUND,
            ErrorObject::invalid_request("Session expired after being idle; initialize a new one"),
            None,
        )),
        Some(s) => {
            s.touch();
            Ok(Some(s.clone()))
        }
        None => Err(json_error(
            StatusCode::NOT_FOUND,
            ErrorObject::invalid_request("Session not found: it ended or expired; initialize a new one"),
            None,
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The next item of a stream, as (event id, data), `None` for its end.
    fn next(rx: &mut mpsc::UnboundedReceiver<SseItem>) -> Option<(Option<String>, Option<String>)> {
        match rx.try_recv().expect("an item is waiting") {
            SseItem::Event { id, data, .. } => Some((id, data.map(|d| d.to_string()))),
            SseItem::End => None,
        }
    }

    fn event(id: String, data: Option<&str>) -> Option<(Option<String>, Option<String>)> {
        Some((Some(id), data.map(str::to_owned)))
    }

    #[test]
    fn a_stream_resumes_after_its_last_event_id_with_what_was_logged_since() {
        let s = HttpSession::new(Identity::anonymous());
        let (stream, mut live) = s.open_stream();
        let id = |seq: u64| format!("{stream}-{seq}");
        s.emit(stream, None, Some(1000));
        s.emit(stream, Some("a".into()), None);
        s.disconnect(stream, 500);
        s.emit(stream, Some("b".into()), None);
        assert_eq!(next(&mut live), event(id(0), None), "the priming event");
        assert_eq!(next(&mut live), event(id(1), Some("a")));
        assert_eq!(next(&mut live), event(id(2), None), "told when to come back");
        assert_eq!(next(&mut live), None, "then disconnected");
        assert!(live.try_recv().is_err(), "b was logged, not sent");

        let mut resumed = s.resume(&id(1)).expect("a known stream");
        assert_eq!(next(&mut resumed), event(id(3), Some("b")), "replayed: data after event 1 only");
        s.emit(stream, Some("c".into()), None);
        assert_eq!(next(&mut resumed), event(id(4), Some("c")), "then live");
        s.finish(stream);
        assert_eq!(next(&mut resumed), None);
        // A finished stream replays and ends at once.
        let mut again = s.resume(&id(3)).expect("still logged");
        assert_eq!((next(&mut again), next(&mut again)), (event(id(4), Some("c")), None));

        for unknown in [format!("{}-0", stream + 1), "x-1".into(), "1".into(), String::new()] {
            assert!(s.resume(&unknown).is_none(), "{unknown:?}");
        }
    }
}
