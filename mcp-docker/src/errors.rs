//! Docker errors as messages a model can act on (the daemon's own message, what the
//! status means, what to try next) and as error kinds clients can branch on: a missing
//! object is `not_found`, a daemon that cannot be reached `unavailable`, one that does
//! not answer in time `timed_out`, a request the daemon calls malformed
//! `invalid_arguments`; anything else (a 409 conflict, a 500) `failed`.

use bollard::errors::Error;
use mcp_core::ToolError;

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

/// The tool error of kind matching `e`, with `message`.
pub fn with_kind(e: &Error, message: String) -> ToolError {
    match e {
        Error::DockerResponseServerError { status_code: 404, .. } => ToolError::not_found(message),
        Error::DockerResponseServerError { status_code: 400, .. } => ToolError::invalid_arguments(message),
        Error::SocketNotFoundError(_) | Error::HyperLegacyError { .. } | Error::IOError { .. } => {
            ToolError::unavailable(message)
        }
        Error::RequestTimeoutError => ToolError::timed_out(message),
        _ => ToolError::failed(message),
    }
}

/// Whether the daemon said the object does not exist.
pub fn is_missing(e: &Error) -> bool {
    matches!(e, Error::DockerResponseServerError { status_code: 404, .. })
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

/// The tool error for a failed Docker call on the host named `host`; `hint_404` says how
/// to find the right id when the object does not exist.
pub fn failed(host: &str, e: &Error, hint_404: &str) -> ToolError {
    let mut message = format!("host `{host}`: {}", describe(e));
    if let Error::DockerResponseServerError { status_code, .. } = e
        && let Some(advice) = advice(*status_code, hint_404)
    {
        message += &format!(". {advice}");
    }
    with_kind(e, message)
}

/// Hint for an unknown container.
pub const NO_CONTAINER: &str = "Check the id or name with list_containers (all=true includes stopped ones)";
/// Hint for an unknown image.
pub const NO_IMAGE: &str = "Check the reference with list_images";
/// Hint for an unknown volume.
pub const NO_VOLUME: &str = "Check the name with list_volumes";
/// Hint for an unknown network.
pub const NO_NETWORK: &str = "Check the name with list_networks";

#[cfg(test)]
mod tests {
    use super::*;
    use mcp_core::server::ErrorKind;

    fn status(status_code: u16) -> Error {
        Error::DockerResponseServerError { status_code, message: "No such container: x".into() }
    }

    #[test]
    fn daemon_errors_map_to_kinds() {
        let refused = std::io::Error::new(std::io::ErrorKind::ConnectionRefused, "connection refused");
        let cases = [
            (status(404), ErrorKind::NotFound),
            (status(400), ErrorKind::InvalidArguments),
            (status(409), ErrorKind::Failed),
            (status(500), ErrorKind::Failed),
            (Error::SocketNotFoundError("/nope.sock".into()), ErrorKind::Unavailable),
            (Error::IOError { err: refused }, ErrorKind::Unavailable),
            (Error::RequestTimeoutError, ErrorKind::TimedOut),
            (Error::APIVersionParseError {}, ErrorKind::Failed),
        ];
        for (e, kind) in cases {
            assert_eq!(failed("h", &e, NO_CONTAINER).kind(), kind, "{e:?}");
        }
    }

    #[test]
    fn messages_keep_the_daemons_words_and_the_advice() {
        let e = failed("prod", &status(404), NO_CONTAINER).to_string();
        assert!(e.starts_with("host `prod`: No such container: x (HTTP 404)") && e.contains("list_containers"), "{e}");
        let conflict = Error::DockerResponseServerError { status_code: 409, message: "is in use".into() };
        let e = failed("prod", &conflict, NO_CONTAINER).to_string();
        assert!(e.contains("is in use (HTTP 409)") && e.contains("conflicting state"), "{e}");
        assert!(failed("h", &Error::SocketNotFoundError("/x.sock".into()), "").to_string().contains("/x.sock"));
    }
}
