//! One daemon the connector serves: its settings and a lazily connected client. The
//! daemon is a [`Target`] of the kit: named by the tools' `host` argument.

use bollard::{API_DEFAULT_VERSION, Docker};
use mcp_core::ToolError;
use mcp_core::connector::Target;
use tokio::sync::OnceCell;

use crate::config::{HostEntry, cert_dir};
use crate::documents::Documents;
use crate::errors::{describe, failed, with_kind};

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
    /// Built on first use: a unix socket must exist when the client is built, and a
    /// daemon down at start must not stop the server.
    client: OnceCell<Connected>,
}

/// A connected daemon's client, and its documents when its transport is the connector's
/// own (unix sockets, ssh).
#[derive(Debug)]
struct Connected {
    docker: Docker,
    documents: Option<Documents>,
}

impl Target for Daemon {
    fn name(&self) -> &str {
        &self.name
    }
    fn read_only(&self) -> bool {
        self.read_only
    }
}

impl Daemon {
    /// Describes the daemon `entry` names; nothing connects yet.
    pub fn new(name: String, entry: HostEntry, timeout_secs: u64) -> Self {
        Daemon {
            name,
            url: entry.url.clone(),
            description: entry.description.clone(),
            read_only: entry.read_only,
            entry,
            timeout_secs,
            client: OnceCell::new(),
        }
    }

    /// The client, connecting (and negotiating the API version) on first use. A failure
    /// is not cached: the next call tries again, so a daemon that comes back is used.
    pub async fn client(&self) -> Result<&Docker, ToolError> {
        let connected = self
            .client
            .get_or_try_init(|| async {
                let (docker, documents) = self.connect().map_err(|e| self.unreachable(&e))?;
                // Old daemons (Debian's 20.10 speaks API 1.41) refuse newer clients: speak
                // the daemon's version. The version lives in the client's shared state
                // (which the documents' clone shares too).
                docker.clone().negotiate_version().await.map_err(|e| self.unreachable(&e))?;
                Ok::<_, ToolError>(Connected { docker, documents })
            })
            .await?;
        Ok(&connected.docker)
    }

    /// The documents read as they come (`documents.rs`), once connected over a
    /// transport of the connector's own.
    pub fn documents(&self) -> Option<&Documents> {
        self.client.get()?.documents.as_ref()
    }

    /// The engine's document at `path` (`/containers/{id}/json`) as JSON text: read as it
    /// comes where the transport is the connector's own (`documents.rs`), otherwise
    /// bollard's typed `fallback` written out.
    pub async fn fetch_document<T, F>(&self, path: &str, fallback: F) -> Result<Vec<u8>, bollard::errors::Error>
    where
        T: serde::Serialize,
        F: std::future::Future<Output = Result<T, bollard::errors::Error>>,
    {
        match self.documents() {
            Some(documents) => documents.get(path).await.map(Vec::from),
            None => Ok(serde_json::to_vec(&fallback.await?)?),
        }
    }

    /// The tool error for a failed call here (see [`failed`]), as a `map_err` argument.
    pub fn fail<'a>(&'a self, hint_404: &'a str) -> impl Fn(bollard::errors::Error) -> ToolError + 'a {
        move |e| failed(&self.name, &e, hint_404)
    }

    /// Checks that the daemon answers.
    pub async fn ping(&self) -> Result<(), ToolError> {
        self.client().await?.ping().await.map(drop).map_err(|e| self.unreachable(&e))
    }

    fn connect(&self) -> Result<(Docker, Option<Documents>), bollard::errors::Error> {
        let url = self.url.as_str();
        let t = self.timeout_secs;
        if url.starts_with("unix://") {
            return crate::socket::connect(url, t).map(|(docker, documents)| (docker, Some(documents)));
        }
        if url.starts_with("ssh://") {
            let (key, known) = (self.entry.ssh_identity_file.as_deref(), self.entry.ssh_known_hosts_file.as_deref());
            return crate::ssh::connect(&self.name, url, key, known, t)
                .map(|(docker, documents)| (docker, Some(documents)));
        }
        if self.entry.tls_verify || url.starts_with("https://") {
            let dir = cert_dir(&self.entry).map_err(|e| bollard::errors::Error::IOError {
                err: std::io::Error::new(std::io::ErrorKind::NotFound, e),
            })?;
            let docker = Docker::connect_with_ssl(
                url,
                &dir.join("key.pem"),
                &dir.join("cert.pem"),
                &dir.join("ca.pem"),
                t,
                API_DEFAULT_VERSION,
            )?;
            return Ok((docker, None));
        }
        Ok((Docker::connect_with_http(url, t, API_DEFAULT_VERSION)?, None))
    }

    fn unreachable(&self, e: &bollard::errors::Error) -> ToolError {
        with_kind(e, format!("host `{}` ({}): {}", self.name, self.url, describe(e)))
    }
}
