//! Transports: framing of JSON-RPC messages over stdio, Streamable HTTP and WebSocket.
//!
//! A transport knows nothing about tools: it turns bytes into [`crate::protocol::Message`]s,
//! hands them to [`crate::server::Server`], and writes back what comes out.

mod connection;
pub mod http;
pub mod lines;
pub mod origin;
mod reply;
pub mod stdio;
pub mod ws;

/// Runs a request's task right here when it finishes without waiting, and spawns it only
/// when it waits: most requests never wait, and a spawn wakes idle runtime workers, which
/// costs more than the request itself. Either way `registration` can abort it.
pub(crate) async fn run_or_spawn(
    task: impl std::future::Future<Output = ()> + Send + 'static,
    registration: futures::future::AbortRegistration,
) {
    let mut task = Box::pin(futures::future::Abortable::new(task, registration));
    if futures::poll!(task.as_mut()).is_pending() {
        tokio::spawn(task);
    }
}
