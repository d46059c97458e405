//! The server framework: register tools, resources and prompts as plain async
//! functions, then serve them over any transport.
//!
//! ```no_run
//! use mcp_core::server::{Context, Server, ToolError, tool};
//!
//! #[derive(serde::Deserialize, schemars::JsonSchema)]
//! struct EchoArgs {
//!     /// The text to send back.
//!     message: String,
//! }
//!
//! async fn echo(_ctx: Context, args: EchoArgs) -> Result<String, ToolError> {
//!     Ok(args.message)
//! }
//!
//! let server = Server::builder("echo", "1.0.0")
//!     .tool(tool("echo", echo).description("Sends the message back").read_only())
//!     .build();
//! ```

mod budget;
mod change;
mod context;
pub(crate) mod dispatch;
mod error;
mod handler;
mod metrics;
mod outgoing;
mod session;
mod state;
mod tool_set;

use std::collections::BTreeMap;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use crate::security::{AuditLog, Policy};
use tokio::sync::{Semaphore, broadcast};

pub use change::Change;
pub use context::{CLOSE_STREAM, Context, InputRequest, RequestMeta, RequestSink};
pub use error::{ERROR_KIND_META, ErrorKind, InputRequired, ToolError};
pub use handler::{
    CompletionRequest, IntoResourceContents, IntoToolResult, Json, PromptRoute, ResourceRoute, ToolRoute,
    input_schema_of, prompt, prompt_with, resource, resource_template, resource_template_with, resource_with,
    schema_of, tool, tool_with,
};
pub use outgoing::{Answer, Outgoing};
pub use session::{Handshake, Outbound, Session};

use crate::protocol::{Completion, Implementation};
use handler::{ErasedCompleter, ErasedLister, ResourceKind};
use state::StateSealer;

/// Limits and knobs every server has.
#[derive(Debug, Clone)]
pub struct ServerConfig {
    /// Longest a single call may run before it is stopped with an error.
    pub call_timeout: Duration,
    /// Most requests handled at once; more wait their turn.
    pub max_concurrency: usize,
    /// Most requests one client identity may have in flight (0: no bound of its own);
    /// more are refused at once rather than queued.
    pub max_in_flight_per_client: usize,
    /// Most bytes of text and binary payload in one tool result.
    pub max_output_bytes: usize,
    /// Items per page of every list.
    pub page_size: usize,
    /// `ttlMs` on cacheable results (2026-07-28).
    pub list_ttl_ms: u64,
    /// How long the server waits for the client to answer an input request (handshake era).
    pub input_timeout: Duration,
    /// Key that signs `requestState`; replicas must share it. Random when `None`.
    pub state_secret: Option<Vec<u8>>,
}

impl Default for ServerConfig {
    fn default() -> Self {
        Self {
            call_timeout: Duration::from_secs(120),
            max_concurrency: 256,
            max_in_flight_per_client: 64,
            max_output_bytes: 256 * 1024,
            page_size: 100,
            list_ttl_ms: 60_000,
            input_timeout: Duration::from_secs(600),
            state_secret: None,
        }
    }
}

pub(crate) struct ServerInner {
    pub(crate) info: Implementation,
    pub(crate) instructions: Option<String>,
    pub(crate) tools: tool_set::ToolSet,
    pub(crate) resources: BTreeMap<String, ResourceRoute>,
    pub(crate) templates: Vec<ResourceRoute>,
    pub(crate) prompts: BTreeMap<String, PromptRoute>,
    pub(crate) completer: Option<Arc<ErasedCompleter>>,
    pub(crate) resource_lister: Option<Arc<ErasedLister>>,
    pub(crate) config: ServerConfig,
    pub(crate) permits: Semaphore,
    pub(crate) sealer: StateSealer,
    pub(crate) changes: broadcast::Sender<Change>,
    pub(crate) policy: Arc<Policy>,
    pub(crate) audit: Option<AuditLog>,
    pub(crate) startup_error: Option<String>,
    pub(crate) metrics: metrics::Metrics,
    /// Requests in flight per client identity.
    pub(crate) client_slots: std::sync::Mutex<std::collections::HashMap<String, Arc<std::sync::atomic::AtomicUsize>>>,
    pub(crate) readiness: Option<Arc<Readiness>>,
}

/// A connector's readiness check: does its backend answer?
pub type Readiness = dyn Fn() -> std::pin::Pin<Box<dyn Future<Output = Result<(), String>> + Send>> + Send + Sync;

/// A server: the registered handlers and their limits. Cheap to clone; one server can
/// serve any number of transports and sessions at once.
#[derive(Clone)]
pub struct Server {
    pub(crate) inner: Arc<ServerInner>,
}

impl std::fmt::Debug for Server {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Server").field("name", &self.inner.info.name).finish_non_exhaustive()
    }
}

/// Collects handlers and settings for a [`Server`].
pub struct ServerBuilder {
    info: Implementation,
    instructions: Option<String>,
    tools: BTreeMap<String, ToolRoute>,
    /// Selection rules, kept to apply to replaced groups too.
    keep: Vec<tool_set::Keep>,
    /// Names registered outside any group.
    fixed: std::collections::BTreeSet<String>,
    /// Replaceable groups declared.
    groups: std::collections::BTreeSet<String>,
    resources: BTreeMap<String, ResourceRoute>,
    templates: Vec<ResourceRoute>,
    prompts: BTreeMap<String, PromptRoute>,
    completer: Option<Arc<ErasedCompleter>>,
    resource_lister: Option<Arc<ErasedLister>>,
    config: ServerConfig,
    policy: Policy,
    audit: Option<AuditLog>,
    startup_error: Option<String>,
    readiness: Option<Arc<Readiness>>,
}

impl std::fmt::Debug for ServerBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServerBuilder").field("name", &self.info.name).finish_non_exhaustive()
    }
}

impl Server {
    /// Starts a server named `name` at `version`.
    pub fn builder(name: impl Into<String>, version: impl Into<String>) -> ServerBuilder {
        ServerBuilder {
            info: Implementation::new(name, version),
            instructions: None,
            tools: BTreeMap::new(),
            keep: Vec::new(),
            fixed: Default::default(),
            groups: Default::default(),
            resources: BTreeMap::new(),
            templates: Vec::new(),
            prompts: BTreeMap::new(),
            completer: None,
            resource_lister: None,
            config: ServerConfig::default(),
            policy: Policy::default(),
            audit: None,
            startup_error: None,
            readiness: None,
        }
    }

    /// The Prometheus text exposition of the server's metrics.
    pub fn metrics_text(&self) -> String {
        self.inner.metrics.encode()
    }

    /// Whether the connector's backend answers (always ready without a check).
    pub async fn ready(&self) -> Result<(), String> {
        match &self.inner.readiness {
            None => Ok(()),
            Some(check) => match tokio::time::timeout(Duration::from_secs(5), check()).await {
                Ok(result) => result,
                Err(_) => Err("the readiness check did not answer within 5 s".into()),
            },
        }
    }

    /// A configuration error found while building (a bad policy file, an audit log that
    /// cannot be opened); the server refuses to serve with it.
    pub fn startup_error(&self) -> Option<&str> {
        self.inner.startup_error.as_deref()
    }

    /// The access policy.
    pub fn policy(&self) -> &Policy {
        &self.inner.policy
    }

    /// Waits until the audit trail holds every request answered so far.
    pub fn flush_audit(&self) {
        if let Some(audit) = &self.inner.audit {
            audit.flush();
        }
    }

    /// Records a request refused before it reached the protocol (failed authentication).
    pub fn audit_refusal(&self, transport: &'static str, reason: &str) {
        if let Some(audit) = &self.inner.audit {
            audit.record(crate::security::audit::AuditRecord {
                transport,
                identity: Arc::new(crate::security::Identity::named("unauthenticated")),
                era: "",
                version: "",
                method: "(authentication)".into(),
                target: None,
                arguments: None,
                outcome: "denied",
                error: Some(reason.to_string()),
                duration: std::time::Duration::ZERO,
                bytes_in: 0,
                bytes_out: 0,
            });
        }
    }

    /// The server's identity.
    pub fn info(&self) -> &Implementation {
        &self.inner.info
    }

    /// The server's limits.
    pub fn config(&self) -> &ServerConfig {
        &self.inner.config
    }

    /// Replaces the tools of `group` (declared with [`ServerBuilder::tool_group`]) with
    /// `routes`, atomically: a call in progress finishes with the tool it started with,
    /// the next list and call see the new set. The builder's selection (tiers, toolsets)
    /// applies to them as to every tool, and the policy at list and call time. When the
    /// listed tools changed, clients are told (`notifications/tools/list_changed`) and
    /// the answer is `true`. A name a built-in tool has (even one the selection left out)
    /// or a name given twice is an error, and the old set stays.
    pub fn replace_tool_group(&self, group: &str, routes: impl IntoIterator<Item = ToolRoute>) -> Result<bool, String> {
        let changed = self.inner.tools.replace(group, routes.into_iter().collect())?;
        if changed {
            self.notify(Change::Tools);
        }
        Ok(changed)
    }

    /// Tells subscribed clients that something changed.
    pub fn notify(&self, change: Change) {
        let _ = self.inner.changes.send(change);
    }

    /// A receiver of changes, for transports that forward them.
    pub fn changes(&self) -> broadcast::Receiver<Change> {
        self.inner.changes.subscribe()
    }
}

impl ServerBuilder {
    /// Guidance for the model on how to use this server.
    pub fn instructions(mut self, text: impl Into<String>) -> Self {
        self.instructions = Some(text.into());
        self
    }
    /// Adds a tool (see [`tool`]). A later tool with the same name replaces an earlier one.
    pub fn tool(mut self, route: ToolRoute) -> Self {
        let name = route.tool.name.clone();
        if let Some(group) = self.tools.get(&name).and_then(|r| r.group.clone()) {
            return self.fail(format!("tool `{name}` of group `{group}`: a built-in tool has that name"));
        }
        self.fixed.insert(name.clone());
        self.tools.insert(name, route);
        self
    }
    /// Adds `routes` as the replaceable group `group`: tools the server can swap while it
    /// serves ([`Server::replace_tool_group`]), such as tools an operator defines in a
    /// file. They are ordinary tools otherwise (selection, policy, annotations). A name a
    /// tool outside the group already has is a start-up error.
    pub fn tool_group(mut self, group: &str, routes: impl IntoIterator<Item = ToolRoute>) -> Self {
        self.groups.insert(group.to_string());
        let tag: Arc<str> = Arc::from(group);
        for mut route in routes {
            let name = route.tool.name.clone();
            if self.fixed.contains(&name) {
                return self.fail(format!("tool `{name}` of group `{group}`: a built-in tool has that name"));
            }
            route.group = Some(tag.clone());
            self.tools.insert(name, route);
        }
        self
    }
    /// Adds a resource or a resource template (see [`resource`], [`resource_template`]).
    pub fn resource(mut self, route: ResourceRoute) -> Self {
        match &route.kind {
            ResourceKind::Static(r) => {
                self.resources.insert(r.uri.clone(), route);
            }
            ResourceKind::Template(..) => self.templates.push(route),
        }
        self
    }
    /// Adds a prompt (see [`prompt`]).
    pub fn prompt(mut self, route: PromptRoute) -> Self {
        self.prompts.insert(route.prompt.name.clone(), route);
        self
    }
    /// Answers `completion/complete` for prompt arguments and template variables.
    pub fn completion<F, Fut>(mut self, handler: F) -> Self
    where
        F: Fn(Context, CompletionRequest) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<Completion, ToolError>> + Send + 'static,
    {
        self.completer = Some(handler::completer(handler));
        self
    }
    /// Lists resources that exist at request time (a database's tables, a host's
    /// containers), after the static ones, in `resources/list`. The handler sees the
    /// caller's [`Context`], so it can leave out what the client may not see; it returns
    /// every resource in a stable order, and the framework pages them.
    pub fn resource_lister<F, Fut>(mut self, handler: F) -> Self
    where
        F: Fn(Context) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<Vec<crate::protocol::Resource>, ToolError>> + Send + 'static,
    {
        self.resource_lister = Some(handler::lister(handler));
        self
    }
    /// Replaces the limits.
    pub fn config(mut self, config: ServerConfig) -> Self {
        self.config = config;
        self
    }
    /// Changes the limits in place.
    pub fn configure(mut self, f: impl FnOnce(&mut ServerConfig)) -> Self {
        f(&mut self.config);
        self
    }
    /// Keeps only the tools for which `keep` is true (access policy, toolsets), now and
    /// in every group replaced later.
    pub fn retain_tools(mut self, keep: impl Fn(&ToolRoute) -> bool + Send + Sync + 'static) -> Self {
        self.tools.retain(|_, t| keep(t));
        self.keep.push(Arc::new(keep));
        self
    }
    /// Every tool registered so far.
    pub fn tools(&self) -> impl Iterator<Item = &ToolRoute> {
        self.tools.values()
    }
    /// Sets the access policy (see [`Policy`]).
    pub fn policy(mut self, policy: Policy) -> Self {
        self.policy = policy;
        self
    }

    /// Records every request in an audit trail.
    pub fn audit(mut self, log: AuditLog) -> Self {
        self.audit = Some(log);
        self
    }

    /// Sets the readiness check behind `/readyz` (for example, a `SELECT 1`).
    pub fn readiness<F, Fut>(mut self, check: F) -> Self
    where
        F: Fn() -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<(), String>> + Send + 'static,
    {
        self.readiness = Some(Arc::new(move || Box::pin(check())));
        self
    }

    /// Records a configuration error: the built server will refuse to serve, saying why.
    pub fn fail(mut self, error: impl Into<String>) -> Self {
        self.startup_error.get_or_insert(error.into());
        self
    }

    /// Finishes the server.
    pub fn build(mut self) -> Server {
        // Only now, for the tools kept: the others' schemas would be made for nothing.
        handler::make_schemas(self.tools.values_mut());
        let key = self.config.state_secret.clone().unwrap_or_else(|| {
            let mut k = vec![0u8; 32];
            rand::fill(&mut k[..]);
            k
        });
        let (changes, _) = broadcast::channel(64);
        Server {
            inner: Arc::new(ServerInner {
                info: self.info,
                instructions: self.instructions,
                tools: tool_set::ToolSet::new(self.tools, self.keep, self.fixed, self.groups),
                resources: self.resources,
                templates: self.templates,
                prompts: self.prompts,
                completer: self.completer,
                resource_lister: self.resource_lister,
                permits: Semaphore::new(self.config.max_concurrency.max(1)),
                sealer: StateSealer::new(key, 600),
                config: self.config,
                changes,
                policy: Arc::new(self.policy),
                audit: self.audit,
                startup_error: self.startup_error,
                metrics: metrics::Metrics::new(),
                client_slots: Default::default(),
                readiness: self.readiness,
            }),
        }
    }
}

/// Forwards list and resource changes to a handshake-era client on `session`'s push
/// channel, until the server is dropped. Every transport with sessions spawns one.
pub(crate) async fn forward_changes(server: Server, session: Arc<Session>) {
    let mut changes = server.changes();
    loop {
        match changes.recv().await {
            Ok(change) => {
                if let Some(n) = server.handshake_notification(&session, &change) {
                    session.push(crate::protocol::Message::Notification(n));
                }
            }
            Err(broadcast::error::RecvError::Lagged(_)) => continue,
            Err(broadcast::error::RecvError::Closed) => break,
        }
    }
}
