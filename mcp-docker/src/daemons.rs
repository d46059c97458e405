//! The configured daemons: one lazily connected client each, picked per call by name.
//! No "current host" is kept between calls, so concurrent calls never retarget each other.

use std::sync::Arc;

use bollard::{API_DEFAULT_VERSION, Docker};
use mcp_core::ToolError;
use tokio::sync::OnceCell;

use crate::config::{HostEntry, Settings, cert_dir};
use crate::errors::describe;

/// One daemon the connector serves.
#[derive(Debug)]
pub struct Daemon {
    pub name: String,
    pub url: String,
    pub description: Option<String>,
    /// Writes refused here whatever the flags say.
    pub read_only: bool,
    entry: HostEntry,
    timeout_secs: u64,
    /// Built on first use: bollard checks a unix socket exists when it builds the
    /// client, and a daemon down at start must not stop the server.
    client: OnceCell<Docker>,
}

impl Daemon {
    /// The client, connecting (and negotiating the API version) on first use. A failure
    /// is not cached: the next call tries again, so a daemon that comes back is used.
    pub async fn client(&self) -> Result<&Docker, ToolError> {
        self.client
            .get_or_try_init(|| async {
                let docker = self.connect().map_err(|e| self.unreachable(&e))?;
                // Old daemons (Debian's 20.10 speaks API 1.41) refuse newer clients: speak
                // the daemon's version. The version lives in the client's shared state.
                docker.clone().negotiate_version().await.map_err(|e| self.unreachable(&e))?;
                Ok(docker)
            })
            .await
    }

    fn connect(&self) -> Result<Docker, bollard::errors::Error> {
        let url = self.url.as_str();
        let t = self.timeout_secs;
        if url.starts_with("unix://") {
            return Docker::connect_with_unix(url, t, API_DEFAULT_VERSION);
        }
        if self.entry.tls_verify || url.starts_with("https://") {
            let dir = cert_dir(&self.entry).map_err(|e| bollard::errors::Error::IOError {
                err: std::io::Error::new(std::io::ErrorKind::NotFound, e),
            })?;
            return Docker::connect_with_ssl(
                url,
                &dir.join("key.pem"),
                &dir.join("cert.pem"),
                &dir.join("ca.pem"),
                t,
                API_DEFAULT_VERSION,
            );
        }
        Docker::connect_with_http(url, t, API_DEFAULT_VERSION)
    }

    fn unreachable(&self, e: &bollard::errors::Error) -> ToolError {
        ToolError::failed(format!("host `{}` ({}): {}", self.name, self.url, describe(e)))
    }
}

/// Every daemon, plus the settings tools read.
#[derive(Debug)]
pub struct Daemons {
    list: Vec<Arc<Daemon>>,
    pub settings: Settings,
    /// The container this connector runs in, if any (never stopped or removed).
    pub self_container: Option<String>,
}

impl Daemons {
    /// Describes each daemon; nothing connects yet.
    pub fn open(settings: Settings) -> Self {
        let timeout_secs = settings.request_timeout.as_secs();
        let list = settings
            .hosts
            .iter()
            .map(|(name, entry)| {
                Arc::new(Daemon {
                    name: name.clone(),
                    url: entry.url.clone(),
                    description: entry.description.clone(),
                    read_only: entry.read_only,
                    entry: entry.clone(),
                    timeout_secs,
                    client: OnceCell::new(),
                })
            })
            .collect();
        let self_container = settings.self_container.clone().or_else(crate::guard::own_container_id);
        Self { list, settings, self_container }
    }

    /// The daemon a reading call names, or the first one.
    pub fn get(&self, name: Option<&str>) -> Result<Arc<Daemon>, ToolError> {
        match name {
            None => Ok(self.list[0].clone()),
            Some(name) => self.list.iter().find(|d| d.name == name).cloned().ok_or_else(|| {
                ToolError::invalid_arguments(format!("`host`: no host named `{name}`; configured: {}", self.names()))
            }),
        }
    }

    /// The daemon a writing call names: with several, it must name one (a write never
    /// lands on a default the model did not choose), and it must not be read-only.
    pub fn writable(&self, name: Option<&str>) -> Result<Arc<Daemon>, ToolError> {
        if !self.settings.allow_write {
            return Err(ToolError::failed("writes are disabled: the server was started without --allow-write"));
        }
        if name.is_none() && self.list.len() > 1 {
            return Err(ToolError::invalid_arguments(format!(
                "`host`: several hosts are configured, so a change must name its target: one of {}",
                self.names()
            )));
        }
        let daemon = self.get(name)?;
        if daemon.read_only {
            return Err(ToolError::failed(format!(
                "host `{}` is configured read-only (read_only = true in the hosts file)",
                daemon.name
            )));
        }
        Ok(daemon)
    }

    pub fn all(&self) -> &[Arc<Daemon>] {
        &self.list
    }

    fn names(&self) -> String {
        self.list.iter().map(|d| d.name.as_str()).collect::<Vec<_>>().join(", ")
    }

    /// The unix socket paths of the configured daemons (never reachable from a container).
    pub fn socket_paths(&self) -> Vec<String> {
        self.list.iter().filter_map(|d| d.url.strip_prefix("unix://").map(str::to_string)).collect()
    }

    /// `key=value` filters for the scope labels (empty without --scope-label).
    pub fn scope_filters(&self) -> Vec<String> {
        self.settings.scope_labels.iter().map(|(k, v)| format!("{k}={v}")).collect()
    }

    /// Refuses a container outside the --scope-label scope as if it did not exist: the
    /// server is not to see it at all. The one check every tool naming a container makes.
    pub async fn scoped(&self, daemon: &Daemon, container: &str) -> Result<(), ToolError> {
        if self.settings.scope_labels.is_empty() {
            return Ok(());
        }
        crate::scope::resolve(self, daemon, container).await.map(drop)
    }

    /// Checks that every daemon answers; the error names the first that does not.
    pub async fn ping(&self) -> Result<(), String> {
        for daemon in &self.list {
            let client = daemon.client().await.map_err(|e| e.to_string())?;
            client.ping().await.map_err(|e| format!("host `{}` ({}): {}", daemon.name, daemon.url, describe(&e)))?;
        }
        Ok(())
    }
}
