//! The configured daemons (the kit's [`Targets`], named by the tools' `host` argument)
//! and the settings tools read; plus the one way a tool reaches a daemon: [`Daemons::read`]
//! or [`Daemons::write`] for the host, and [`Daemons::read_container`] /
//! [`Daemons::write_container`] when the call names a container (checked, in scope).

use std::sync::Arc;

use bollard::Docker;
use mcp_core::ToolError;
use mcp_core::connector::Targets;

use crate::config::Settings;
use crate::daemon::Daemon;
use crate::names::check_ref;
use crate::scope::Resolved;

/// Every daemon, plus the settings tools read.
#[derive(Debug)]
pub struct Daemons {
    targets: Targets<Daemon>,
    pub settings: Settings,
    /// The container this connector runs in, if any (never stopped or removed).
    pub self_container: Option<String>,
}

/// A daemon a call goes to, with its client.
pub struct Call {
    pub daemon: Arc<Daemon>,
    pub docker: Docker,
}

impl Call {
    /// [`Daemon::fetch_document`], its failure as a tool error (`hint_404` as for
    /// [`Daemon::fail`]).
    pub async fn document<T, F>(&self, path: &str, fallback: F, hint_404: &str) -> Result<Vec<u8>, ToolError>
    where
        T: serde::Serialize,
        F: std::future::Future<Output = Result<T, bollard::errors::Error>>,
    {
        self.daemon.fetch_document(path, fallback).await.map_err(self.fail(hint_404))
    }
}

impl std::ops::Deref for Call {
    type Target = Daemon;
    fn deref(&self) -> &Daemon {
        &self.daemon
    }
}

/// A call naming a container that passed the scope guard.
pub struct ContainerCall {
    pub call: Call,
    /// What to send to the engine: within a scope the full id the guard resolved (so the
    /// call acts on the container that was checked), otherwise the reference as given.
    pub id: String,
    /// What the guard resolved (within a scope only), its inspect document with it: reuse
    /// it rather than asking the engine again.
    pub info: Option<Resolved>,
}

impl std::ops::Deref for ContainerCall {
    type Target = Call;
    fn deref(&self) -> &Call {
        &self.call
    }
}

impl Daemons {
    /// Describes each daemon; nothing connects yet.
    pub fn open(settings: Settings) -> Result<Self, String> {
        let timeout_secs = settings.request_timeout.as_secs();
        let list =
            settings.hosts.iter().map(|(name, entry)| Daemon::new(name.clone(), entry.clone(), timeout_secs)).collect();
        let targets = Targets::new("host", list, settings.allow_write)?;
        let self_container = settings.self_container.clone().or_else(crate::guard::own_container_id);
        Ok(Self { targets, settings, self_container })
    }

    /// The daemon a reading call names (or the first), connected.
    pub async fn read(&self, host: Option<&str>) -> Result<Call, ToolError> {
        connect(self.targets.for_read(host)?).await
    }

    /// The daemon a writing call names, connected: writes enabled, named when there are
    /// several, not read-only (the kit's rule).
    pub async fn write(&self, host: Option<&str>) -> Result<Call, ToolError> {
        connect(self.targets.for_write(host)?).await
    }

    /// [`Daemons::read`] for a call naming `container`: a valid reference, in scope.
    pub async fn read_container(&self, host: Option<&str>, container: &str) -> Result<ContainerCall, ToolError> {
        self.in_scope(self.targets.for_read(host), container).await
    }

    /// [`Daemons::write`] for a call naming `container`: a valid reference, in scope.
    pub async fn write_container(&self, host: Option<&str>, container: &str) -> Result<ContainerCall, ToolError> {
        self.in_scope(self.targets.for_write(host), container).await
    }

    async fn in_scope(
        &self,
        daemon: Result<Arc<Daemon>, ToolError>,
        container: &str,
    ) -> Result<ContainerCall, ToolError> {
        check_ref("container", container)?;
        let daemon = daemon?;
        let info = self.settings.scope.container(&daemon, container).await?;
        let id = info.as_ref().map_or_else(|| container.to_string(), |i| i.id.clone());
        Ok(ContainerCall { call: connect(daemon).await?, id, info })
    }

    /// The daemon a reading call names, not connected (prompts only name it).
    pub fn named(&self, host: Option<&str>) -> Result<Arc<Daemon>, ToolError> {
        self.targets.for_read(host)
    }

    /// The lines of the instructions that list the daemons.
    pub fn describe(&self) -> String {
        self.targets.describe(|d| {
            format!("{} ({}){}", d.name, d.url, d.description.as_deref().map(|s| format!(": {s}")).unwrap_or_default())
        })
    }

    /// The unix socket paths of the configured daemons (never reachable from a container).
    pub fn socket_paths(&self) -> Vec<String> {
        self.targets.all().iter().filter_map(|d| d.url.strip_prefix("unix://").map(str::to_string)).collect()
    }

    /// A host path a copy or build may read or write, resolved and judged by the
    /// host-path guard (under --allow-bind-path, never a Docker socket).
    pub fn host_path(&self, path: &str) -> Result<std::path::PathBuf, ToolError> {
        crate::guard::check_host_path(&self.settings.guards, path, &self.socket_paths(), "host-path")
    }

    /// Checks that every daemon answers; the error names the first that does not.
    pub async fn ping(&self) -> Result<(), String> {
        for daemon in self.targets.all() {
            daemon.ping().await.map_err(|e| e.to_string())?;
        }
        Ok(())
    }
}

async fn connect(daemon: Arc<Daemon>) -> Result<Call, ToolError> {
    let docker = daemon.client().await?.clone();
    Ok(Call { daemon, docker })
}
