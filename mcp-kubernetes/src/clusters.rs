//! Where the connector's clusters come from: the kubeconfig (read once at start) or the
//! pod's service account. A client per context is made on first use and kept; nothing
//! here has a mutable "current context": every call names its own or gets the default.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use kube::config::{KubeConfigOptions, Kubeconfig};
use kube::{Client, Config};
use mcp_core::connector::{Target, Targets};
use mcp_core::{Context, ToolError};
use tokio::sync::OnceCell;

use crate::config::Settings;
use crate::discovery::Discovery;
use crate::impersonate::{Cache, Caller};
use crate::output::Masker;

/// One context, as a target tools name with `context`. Its client is built on first use
/// and kept: the server starts even when a cluster is down.
pub struct Cluster {
    name: String,
    connection: OnceCell<Arc<Connection>>,
}

impl Target for Cluster {
    fn name(&self) -> &str {
        &self.name
    }
}

impl std::fmt::Debug for Cluster {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Cluster").field("name", &self.name).finish_non_exhaustive()
    }
}

/// One context's connection.
pub struct Connection {
    /// The context's name (`in-cluster` for the service account).
    pub name: String,
    pub client: Client,
    /// The API server's URL, for messages.
    pub server: String,
    /// The namespace calls use when they name none.
    pub default_namespace: String,
    /// Shared by the context's callers (`--impersonate`): discovery is the same for all.
    pub discovery: Arc<Discovery>,
    /// Who the client acts as, with `--impersonate` (Helm is told too).
    pub caller: Option<Caller>,
}

impl std::fmt::Debug for Connection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Connection").field("name", &self.name).field("server", &self.server).finish_non_exhaustive()
    }
}

/// What a call does with its context: the kit's one rule tells reads from writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// Reads: the named context, or the default one.
    Read,
    /// Changes (and exec): must name the context when several are served.
    Write,
}

#[derive(Debug)]
enum Source {
    Kubeconfig { config: Box<Kubeconfig>, path: Option<PathBuf> },
    InCluster,
}

/// What a contexts listing shows about one context (never credentials).
#[derive(Debug, Clone, serde::Serialize, schemars::JsonSchema)]
pub struct ContextInfo {
    pub name: String,
    pub cluster: String,
    pub server: String,
    pub namespace: String,
    /// The kubeconfig user's name (not its credentials).
    pub user: String,
    /// Calls that name no context use this one.
    pub default: bool,
}

/// Every cluster the connector may reach, by context name.
#[derive(Debug)]
pub struct Clusters {
    pub settings: Settings,
    /// Masks Secret values and sensitive env values in everything shown.
    pub masker: Masker,
    source: Source,
    /// Every context, the default first (reads that name none use it).
    targets: Targets<Cluster>,
    /// With `--impersonate`: each caller's connection per context.
    callers: Cache<Connection>,
}

const IN_CLUSTER: &str = "in-cluster";

impl Clusters {
    /// Reads the kubeconfig (or notes the service account); contexts connect lazily, so
    /// the server starts even when a cluster is down.
    pub fn open(settings: Settings) -> Result<Self, String> {
        let in_pod = std::env::var_os("KUBERNETES_SERVICE_HOST").is_some();
        let source = if settings.in_cluster {
            Source::InCluster
        } else if let Some(path) = &settings.kubeconfig {
            let config = Kubeconfig::read_from(path).map_err(|e| format!("kubeconfig {}: {e}", path.display()))?;
            Source::Kubeconfig { config: Box::new(config), path: Some(path.clone()) }
        } else {
            match Kubeconfig::read() {
                Ok(config) => {
                    let path = std::env::var_os("KUBECONFIG")
                        .and_then(|v| std::env::split_paths(&v).find(|p| !p.as_os_str().is_empty()));
                    Source::Kubeconfig { config: Box::new(config), path }
                }
                Err(_) if in_pod => Source::InCluster,
                Err(e) => {
                    return Err(format!(
                        "no kubeconfig ({e}): set KUBECONFIG or --kubeconfig, or run in a pod with a service account"
                    ));
                }
            }
        };
        let default_context = match &source {
            Source::InCluster => {
                if settings.context.as_deref().is_some_and(|c| c != IN_CLUSTER) {
                    return Err(
                        "--context names a kubeconfig context, but credentials come from the service account".into()
                    );
                }
                IN_CLUSTER.to_string()
            }
            Source::Kubeconfig { config, .. } => {
                let chosen = settings.context.clone().or_else(|| config.current_context.clone());
                match chosen {
                    Some(name) => {
                        if !config.contexts.iter().any(|c| c.name == name) {
                            return Err(format!(
                                "context `{name}` is not in the kubeconfig (known: {})",
                                context_names(config).join(", ")
                            ));
                        }
                        name
                    }
                    None => match config.contexts.first() {
                        Some(c) => c.name.clone(),
                        None => return Err("the kubeconfig has no contexts".into()),
                    },
                }
            }
        };
        let mut names = match &source {
            Source::InCluster => vec![],
            Source::Kubeconfig { config, .. } => config.contexts.iter().map(|c| c.name.clone()).collect(),
        };
        names.insert(0, default_context);
        // Merged kubeconfig files may repeat a name; the first one is the one used.
        let mut seen = std::collections::HashSet::new();
        names.retain(|n| seen.insert(n.clone()));
        let list = names.into_iter().map(|name| Cluster { name, connection: OnceCell::new() }).collect();
        let targets = Targets::new("context", list, settings.allow_write)?;
        let masker = Masker { reveal: settings.allow_secrets, key: settings.mask_key.clone() };
        Ok(Self { settings, masker, source, targets, callers: Cache::new() })
    }

    /// The context calls that name none read from.
    pub fn default_context(&self) -> &str {
        self.targets.all()[0].name()
    }

    /// The served contexts, the default first.
    pub fn targets(&self) -> &Targets<Cluster> {
        &self.targets
    }

    /// The kubeconfig file Helm should read, when credentials come from one.
    pub fn kubeconfig_path(&self) -> Option<&PathBuf> {
        match &self.source {
            Source::Kubeconfig { path, .. } => path.as_ref(),
            Source::InCluster => None,
        }
    }

    pub fn in_cluster(&self) -> bool {
        matches!(self.source, Source::InCluster)
    }

    /// Every context, sorted by name.
    pub fn contexts(&self) -> Vec<ContextInfo> {
        match &self.source {
            Source::InCluster => vec![ContextInfo {
                name: IN_CLUSTER.into(),
                cluster: IN_CLUSTER.into(),
                server: "https://kubernetes.default.svc".into(),
                namespace: self.settings.namespace.clone().unwrap_or_else(|| "default".into()),
                user: "service account".into(),
                default: true,
            }],
            Source::Kubeconfig { config, .. } => {
                let mut out: Vec<ContextInfo> = config
                    .contexts
                    .iter()
                    .map(|c| {
                        let ctx = c.context.clone().unwrap_or_default();
                        let server = config
                            .clusters
                            .iter()
                            .find(|k| k.name == ctx.cluster)
                            .and_then(|k| k.cluster.as_ref())
                            .and_then(|k| k.server.clone())
                            .unwrap_or_default();
                        ContextInfo {
                            name: c.name.clone(),
                            cluster: ctx.cluster.clone(),
                            server,
                            namespace: ctx.namespace.clone().unwrap_or_else(|| "default".into()),
                            user: ctx.user.clone().unwrap_or_default(),
                            default: c.name == self.default_context(),
                        }
                    })
                    .collect();
                out.sort_by(|a, b| a.name.cmp(&b.name));
                out
            }
        }
    }

    /// The connection to the context a reading call names (the default when `None` or
    /// empty), made on first use.
    pub async fn read(&self, ctx: &Context, context: Option<&str>) -> Result<Arc<Connection>, ToolError> {
        self.connect(ctx, context, Access::Read).await
    }

    /// The connection to the context a writing call names: the kit's rule decides
    /// (writes enabled, and a named context when several are served).
    pub async fn write(&self, ctx: &Context, context: Option<&str>) -> Result<Arc<Connection>, ToolError> {
        self.connect(ctx, context, Access::Write).await
    }

    /// The connection for `access` to `context` on behalf of the call's client: with
    /// `--impersonate`, one acting as the caller's identity.
    pub async fn connect(
        &self,
        ctx: &Context,
        context: Option<&str>,
        access: Access,
    ) -> Result<Arc<Connection>, ToolError> {
        let own = self.own_connection(context, access).await?;
        if !self.settings.impersonate {
            return Ok(own);
        }
        let caller = Caller::of(&ctx.identity())?;
        self.callers.get_or(&own.name, &caller, || {
            Ok(Connection {
                name: own.name.clone(),
                client: caller.client(&own.client)?,
                server: own.server.clone(),
                default_namespace: own.default_namespace.clone(),
                discovery: own.discovery.clone(),
                caller: Some(caller.clone()),
            })
        })
    }

    /// The connector's own connection for `access` to `context` (readiness checks use
    /// it), made on first use; a failed attempt is not kept, so the next call tries again.
    pub async fn own_connection(&self, context: Option<&str>, access: Access) -> Result<Arc<Connection>, ToolError> {
        let context = context.filter(|c| !c.is_empty());
        let cluster = match access {
            Access::Read => self.targets.for_read(context)?,
            Access::Write => self.targets.for_write(context)?,
        };
        let connection = cluster.connection.get_or_try_init(|| self.open_connection(&cluster.name)).await?;
        Ok(connection.clone())
    }

    async fn open_connection(&self, name: &str) -> Result<Arc<Connection>, ToolError> {
        let (mut config, server) = self.config_for(name).await?;
        config.connect_timeout = Some(Duration::from_secs(5).min(self.settings.request_timeout));
        config.read_timeout = Some(self.settings.request_timeout);
        // kube retries 429/503/504 up to 15 times with a backoff growing to minutes: a
        // call would outlive its bound, and a drain must see a budget's 429 to retry it
        // within its own timeout and then name the budget.
        config.default_retry = false;
        let default_namespace = self.settings.namespace.clone().unwrap_or_else(|| config.default_namespace.clone());
        let client = Client::try_from(config)
            .map_err(|e| ToolError::failed(format!("context `{name}`: cannot build a client: {e}")))?;
        Ok(Arc::new(Connection {
            name: name.to_string(),
            client,
            server,
            default_namespace,
            discovery: Arc::new(Discovery::new(self.settings.discovery_ttl)),
            caller: None,
        }))
    }

    async fn config_for(&self, name: &str) -> Result<(Config, String), ToolError> {
        match &self.source {
            Source::InCluster => {
                if name != IN_CLUSTER {
                    return Err(ToolError::invalid_arguments(format!(
                        "context `{name}` does not exist: credentials come from the service account (context `{IN_CLUSTER}`)"
                    )));
                }
                let config = Config::incluster()
                    .map_err(|e| ToolError::failed(format!("cannot use the service account: {e}")))?;
                let server = config.cluster_url.to_string();
                Ok((config, server))
            }
            Source::Kubeconfig { config, .. } => {
                if !config.contexts.iter().any(|c| c.name == name) {
                    return Err(ToolError::invalid_arguments(format!(
                        "context `{name}` does not exist; the kubeconfig has: {} (contexts_list shows them)",
                        context_names(config).join(", ")
                    )));
                }
                let options = KubeConfigOptions { context: Some(name.to_string()), ..Default::default() };
                let config = Config::from_custom_kubeconfig((**config).clone(), &options)
                    .await
                    .map_err(|e| ToolError::failed(format!("context `{name}`: {e}")))?;
                let server = config.cluster_url.to_string();
                Ok((config, server))
            }
        }
    }
}

fn context_names(config: &Kubeconfig) -> Vec<String> {
    let mut names: Vec<String> = config.contexts.iter().map(|c| c.name.clone()).collect();
    names.sort();
    names
}

/// The namespaces a call may touch: the operator's allowlist narrowed by the client's
/// policy scope `namespaces`. `None`: no restriction.
pub fn namespace_scope(settings: &Settings, ctx: &Context) -> Option<Vec<String>> {
    let policy = ctx.policy_scope("namespaces");
    match (settings.allowed_namespaces.is_empty(), policy) {
        (true, None) => None,
        (true, Some(p)) => Some(p),
        (false, None) => Some(settings.allowed_namespaces.clone()),
        (false, Some(p)) => Some(settings.allowed_namespaces.iter().filter(|n| p.contains(n)).cloned().collect()),
    }
}

/// Refuses a namespace outside the call's scope.
pub fn check_namespace(scope: &Option<Vec<String>>, namespace: &str) -> Result<(), ToolError> {
    match scope {
        Some(allowed) if !allowed.iter().any(|n| n == namespace) => Err(ToolError::refused(format!(
            "namespace `{namespace}` is outside the namespaces this server may touch ({})",
            if allowed.is_empty() { "none".to_string() } else { allowed.join(", ") }
        ))),
        _ => Ok(()),
    }
}
