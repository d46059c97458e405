//! The listener's settings.

use std::sync::Arc;
use std::time::Duration;

use crate::security::Authenticator;

/// Settings of the HTTP listener.
#[derive(Debug, Clone)]
pub struct HttpConfig {
    /// Extra allowed `Origin` values (e.g. `https://app.example.com`, compared by scheme,
    /// host and port; `*` any http(s) origin; `null` the opaque origin). Loopback origins
    /// are always allowed. See [`crate::transport::origin`].
    pub allowed_origins: Vec<String>,
    /// Extra allowed `Host` names (`NAME` for any port, `NAME:PORT`, an IP address, or
    /// `*`). Loopback hosts are always allowed; when the server listens on a non-loopback
    /// address, its hosts must be listed or `*`.
    pub allowed_hosts: Vec<String>,
    /// Largest accepted request body.
    pub max_body_bytes: usize,
    /// Interval of SSE keep-alive comments.
    pub keep_alive: Duration,
    /// Handshake-era sessions idle longer than this are dropped.
    pub session_idle_timeout: Duration,
    /// Most concurrent handshake-era sessions.
    pub max_sessions: usize,
    /// Bearer-token authentication; `None` serves everyone as `anonymous`.
    pub auth: Option<Arc<Authenticator>>,
    /// How often the WebSocket transport pings; a peer silent for two intervals is dropped.
    pub ws_ping_interval: Duration,
    /// At shutdown, how long in-flight requests and open streams may take to finish.
    pub drain_timeout: Duration,
    /// How long a client may take to send a request's header (the timer starts when the
    /// server waits for one, so it also ends idle keep-alive connections); a slower
    /// connection is closed.
    pub header_read_timeout: Duration,
    /// Most connections open at once (HTTP, SSE streams and WebSockets alike); further
    /// ones wait in the listen backlog until one closes.
    pub max_connections: usize,
}

impl Default for HttpConfig {
    fn default() -> Self {
        Self {
            allowed_origins: Vec::new(),
            allowed_hosts: Vec::new(),
            max_body_bytes: 16 * 1024 * 1024,
            keep_alive: Duration::from_secs(15),
            session_idle_timeout: Duration::from_secs(3600),
            max_sessions: 10_000,
            auth: None,
            ws_ping_interval: Duration::from_secs(30),
            drain_timeout: Duration::from_secs(10),
            header_read_timeout: Duration::from_secs(10),
            max_connections: 16_384,
        }
    }
}
