//! Who is calling.

/// Who is calling: set by the transport once per connection (stdio, WebSocket) or per
/// request (HTTP), read by the policy, the audit trail and handlers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    /// The bearer token's name, the OAuth subject, or `local` for stdio and
    /// `anonymous` for an HTTP server without authentication.
    pub name: String,
    /// OAuth scopes granted by the access token (empty otherwise).
    pub scopes: Vec<String>,
    /// The groups the OAuth access token's `groups` claim names (empty otherwise), for
    /// connectors that act on the caller's behalf (Kubernetes impersonation).
    pub groups: Vec<String>,
}

impl Identity {
    /// A named identity without OAuth scopes.
    pub fn named(name: impl Into<String>) -> Self {
        Self { name: name.into(), scopes: Vec::new(), groups: Vec::new() }
    }

    /// The user who started a stdio server.
    pub fn local() -> Self {
        Self::named("local")
    }

    /// A client of a network transport without authentication.
    pub fn anonymous() -> Self {
        Self::named("anonymous")
    }
}
