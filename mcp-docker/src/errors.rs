//! Docker errors as messages a model can act on: the daemon's own message, what the
//! status means, and what to try next.

use bollard::errors::Error;
use mcp_core::ToolError;

use crate::daemons::Daemon;

/// A readable account of `e`.
pub fn describe(e: &Error) -> String {
    match e {
        Error::DockerResponseServerError { status_code, message } => {
            format!("{} (HTTP {status_code})", message.trim())
        }
        Error::SocketNotFoundError(path) => {
            format!("no Docker socket at {path}: is dockerd running? (set DOCKER_HOST, --docker-host or --host)")
        }
        Error::RequestTimeoutError => {
            "the Docker daemon did not answer in time (--request-timeout-secs): it may be overloaded".into()
        }
        Error::HyperLegacyError { err } => {
            format!("cannot reach the Docker daemon: {err} (is dockerd running and the URL right?)")
        }
        Error::IOError { err } => format!("cannot reach the Docker daemon: {err}"),
        Error::APIVersionParseError {} => "the daemon reported an API version this client cannot parse".into(),
        other => other.to_string(),
    }
}

/// What to do about an error status, besides Docker's message.
fn advice(status: u16, hint_404: &str) -> Option<&str> {
    match status {
        404 => Some(hint_404).filter(|h| !h.is_empty()),
        409 => Some("the object is in a conflicting state (in use, already exists, or not running)"),
        304 => Some("nothing to do: it is already in that state"),
        _ => None,
    }
}

/// The tool error for a failed Docker call on `daemon`; `hint_404` says how to find the
/// right id when the object does not exist.
pub fn failed(daemon: &Daemon, e: &Error, hint_404: &str) -> ToolError {
    let mut message = format!("host `{}`: {}", daemon.name, describe(e));
    if let Error::DockerResponseServerError { status_code, .. } = e
        && let Some(advice) = advice(*status_code, hint_404)
    {
        message += &format!(". {advice}");
    }
    ToolError::failed(message)
}

/// Hint for an unknown container.
pub const NO_CONTAINER: &str = "Check the id or name with list_containers (all=true includes stopped ones)";
/// Hint for an unknown image.
pub const NO_IMAGE: &str = "Check the reference with list_images";
/// Hint for an unknown volume.
pub const NO_VOLUME: &str = "Check the name with list_volumes";
