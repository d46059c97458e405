//! The engine's JSON documents read as they come, for the tools that answer with one
//! (inspect). bollard parses every response into its typed model, which such a tool then
//! turns back into JSON: together a quarter of an inspect's CPU in the server (perf).
//! Over the transports the connector provides itself (unix sockets, ssh), a GET goes on
//! the same transport instead, and its body's bytes are what the answer is rewritten from
//! (`mcp_core::connector::trim`).

use std::sync::Arc;

use bollard::errors::Error;
use bollard::{API_DEFAULT_VERSION, BollardRequest, Docker, body_full};
use futures::future::BoxFuture;
use http_body_util::{BodyExt as _, Limited};
use hyper::body::{Bytes, Incoming};
use hyper::{Request, Response};
use serde_json::Value;

/// Sends one request to the engine: what a bollard custom transport does.
pub type Transport = Arc<dyn Fn(BollardRequest) -> BoxFuture<'static, Result<Response<Incoming>, Error>> + Send + Sync>;

/// Most bytes of one document (an inspect is a few KiB).
const MOST_BYTES: usize = 16 * 1024 * 1024;

/// Reads documents from one engine, on the transport its bollard client uses.
#[derive(Clone)]
pub struct Documents {
    transport: Transport,
    /// `scheme://host` the transport's requests name (it ignores the host).
    base: &'static str,
    /// For the API version it negotiated and its timeout.
    docker: Docker,
}

impl std::fmt::Debug for Documents {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Documents").field("base", &self.base).finish()
    }
}

/// A bollard client on `transport`, whose requests name `base`, and its documents read
/// on the same transport.
pub fn connect(transport: Transport, base: &'static str, timeout_secs: u64) -> Result<(Docker, Documents), Error> {
    let send = transport.clone();
    let docker = Docker::connect_with_custom_transport(
        move |request| send(request),
        Some(base),
        timeout_secs,
        API_DEFAULT_VERSION,
    )?;
    let documents = Documents { transport, base, docker: docker.clone() };
    Ok((docker, documents))
}

impl Documents {
    /// The document at `path` (`/containers/{id}/json`), its bytes. A status other than
    /// 2xx is the error bollard gives for it. (Members the engine sends as `null`, which
    /// bollard's models leave out, are here: the kit's `trim` prunes them with the empty ones.)
    pub async fn get(&self, path: &str) -> Result<Bytes, Error> {
        let version = self.docker.client_version();
        let uri = format!("{}/v{}.{}{path}", self.base, version.major_version, version.minor_version);
        let request = Request::get(uri).body(body_full(Default::default()))?;
        let response = tokio::time::timeout(self.docker.timeout(), (self.transport)(request))
            .await
            .map_err(|_| Error::RequestTimeoutError)??;
        let status = response.status();
        let body = Limited::new(response.into_body(), MOST_BYTES)
            .collect()
            .await
            .map_err(|e| Error::IOError { err: std::io::Error::other(format!("reading the engine's answer: {e}")) })?
            .to_bytes();
        if !status.is_success() {
            // The engine's errors are `{"message": "..."}`.
            let message = serde_json::from_slice::<Value>(&body)
                .ok()
                .and_then(|v| v.get("message").and_then(Value::as_str).map(str::to_string))
                .unwrap_or_else(|| String::from_utf8_lossy(&body).into_owned());
            return Err(Error::DockerResponseServerError { status_code: status.as_u16(), message });
        }
        Ok(body)
    }
}
