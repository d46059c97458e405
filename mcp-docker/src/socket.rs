//! `unix://` daemons over connections kept open between requests. bollard's own unix
//! client opens one per request (its pool is off), so the engine accepts, serves and
//! closes a connection for every call: a fifth of an inspect's time on both sides.
//! A kept connection the engine closed just as a request went out fails that request;
//! a body-less GET (every read) is then sent once more, on a new connection.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use bollard::{BollardRequest, Docker, body_full};
use hyper::Method;
use hyper::body::Body as _;
use hyper::{Request, Uri};
use hyper_util::client::legacy::Client;
use hyper_util::rt::{TokioExecutor, TokioIo};
use tokio::net::UnixStream;

use crate::documents::{self, Documents, Transport};

/// How long an unused connection stays open: long enough to serve a model's next call,
/// short enough to let go of an engine the server no longer talks to.
const IDLE: Duration = Duration::from_secs(10);

/// The Host the requests name, as the docker CLI's; the connector ignores it.
const BASE: &str = "http://api.moby.localhost";

/// A client for the daemon listening on the unix socket `url` (`unix:///path`), and its
/// documents read on the same connections.
pub fn connect(url: &str, timeout_secs: u64) -> Result<(Docker, Documents), bollard::errors::Error> {
    let path = url.strip_prefix("unix://").unwrap_or(url);
    // As bollard's unix client does: a missing socket is an error now, not at the first call.
    if !Path::new(path).exists() {
        return Err(bollard::errors::Error::SocketNotFoundError(path.to_string()));
    }
    let path: Arc<Path> = Path::new(path).into();
    let connector = tower::service_fn(move |_: Uri| {
        let path = path.clone();
        // Boxed: hyper wants a connector's future `Unpin`.
        Box::pin(async move { UnixStream::connect(&*path).await.map(TokioIo::new) })
    });
    let client = Client::builder(TokioExecutor::new()).pool_idle_timeout(IDLE).build(connector);
    let transport: Transport = Arc::new(move |request: BollardRequest| {
        let client = client.clone();
        Box::pin(async move {
            let again = retryable(&request);
            match client.request(request).await {
                Err(e) if e.is_connect() => Err(e.into()),
                Err(e) => match again {
                    Some(request) => {
                        tracing::debug!(error = %e, "a kept Docker connection failed; sending again");
                        Ok(client.request(request).await?)
                    }
                    None => Err(e.into()),
                },
                Ok(response) => Ok(response),
            }
        })
    });
    documents::connect(transport, BASE, timeout_secs)
}

/// A copy of `request` to send again if it fails, when that is safe: a GET without body.
fn retryable(request: &BollardRequest) -> Option<BollardRequest> {
    if request.method() != Method::GET || !request.body().is_end_stream() {
        return None;
    }
    let mut copy = Request::builder().method(Method::GET).uri(request.uri().clone()).version(request.version());
    if let Some(headers) = copy.headers_mut() {
        *headers = request.headers().clone();
    }
    copy.body(body_full(Default::default())).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_body_less_get_is_sent_again() {
        let get = Request::get("http://x/containers/json").header("x-a", "1").body(body_full(Default::default()));
        let copy = retryable(&get.expect("request")).expect("a GET is retried");
        assert_eq!((copy.method(), copy.uri().path()), (&Method::GET, "/containers/json"));
        assert_eq!(copy.headers()["x-a"], "1");
        let post = Request::post("http://x/containers/a/stop").body(body_full(Default::default()));
        assert!(retryable(&post.expect("request")).is_none());
        let get_with_body = Request::get("http://x/a").body(body_full("{}".into()));
        assert!(retryable(&get_with_body.expect("request")).is_none());
    }

    #[test]
    fn a_missing_socket_is_refused_at_once() {
        let e = connect("unix:///nonexistent/docker.sock", 5).expect_err("refused");
        assert!(e.to_string().contains("/nonexistent/docker.sock"), "{e}");
    }
}
