//! The accept loop: each connection served by hyper's HTTP/1 builder with a header-read
//! timeout, holding one of `max_connections` slots until its socket closes (a WebSocket's
//! included), and a graceful shutdown bounded by `drain_timeout`.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use super::config::HttpConfig;
use super::router::router;
use crate::server::Server;

/// Binds `addr` and serves until the process receives SIGTERM or Ctrl-C.
pub async fn serve_http(server: Server, addr: SocketAddr, config: HttpConfig) -> std::io::Result<()> {
    let listener = tokio::net::TcpListener::bind(addr).await?;
    tracing::info!(address = %listener.local_addr()?, "serving MCP over Streamable HTTP at /mcp");
    serve_listener(server, listener, config, shutdown_signal()).await
}

/// Serves on an already bound listener until `shutdown` completes.
///
/// Each connection is served by hyper with a header-read timeout (a client that sends
/// part of a request and stalls is dropped) and holds one of `max_connections` slots for
/// as long as it is open, a WebSocket's included.
pub async fn serve_listener(
    server: Server,
    listener: tokio::net::TcpListener,
    config: HttpConfig,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let drain = config.drain_timeout;
    let header_timeout = config.header_read_timeout;
    let slots =
        Arc::new(tokio::sync::Semaphore::new(config.max_connections.clamp(1, tokio::sync::Semaphore::MAX_PERMITS)));
    let app = router(server, config);
    let stop = tokio_util::sync::CancellationToken::new();
    // Each connection task holds a receiver; the sender sees them all gone when they end.
    let (open_tx, open_rx) = tokio::sync::watch::channel(());
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        // At the limit, new connections wait in the kernel's backlog until one closes.
        let slot = tokio::select! {
            slot = slots.clone().acquire_owned() => match slot {
                Ok(slot) => slot,
                Err(_) => break,
            },
            () = &mut shutdown => break,
        };
        let tcp = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((tcp, _)) => tcp,
                Err(e) => {
                    accept_failed(e).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        // Without TCP_NODELAY, a response written in parts (SSE events) waits for the
        // peer's delayed ACK: 40 ms per streamed answer.
        let _ = tcp.set_nodelay(true);
        let io = hyper_util::rt::TokioIo::new(Slotted { tcp, _slot: slot });
        let service = hyper_util::service::TowerToHyperService::new(app.clone());
        let (stop, open) = (stop.clone(), open_rx.clone());
        tokio::spawn(async move {
            let mut builder = hyper::server::conn::http1::Builder::new();
            builder.timer(hyper_util::rt::TokioTimer::new()).header_read_timeout(header_timeout);
            let mut conn = std::pin::pin!(builder.serve_connection(io, service).with_upgrades());
            let served = tokio::select! {
                served = conn.as_mut() => served,
                () = stop.cancelled() => {
                    conn.as_mut().graceful_shutdown();
                    conn.await
                }
            };
            if let Err(e) = served {
                tracing::debug!(error = %e, "connection ended with an error");
            }
            drop(open);
        });
    }
    stop.cancel();
    drop(open_rx);
    // Graceful, within a bound: open streams (SSE) may never end by themselves.
    if tokio::time::timeout(drain, open_tx.closed()).await.is_err() {
        tracing::warn!("connections still open {} s after shutdown began; stopping anyway", drain.as_secs_f64());
    }
    Ok(())
}

/// A failed `accept`: the peer's own failures are skipped; others (out of file
/// descriptors) would fail again at once, so the loop pauses before trying again.
async fn accept_failed(e: std::io::Error) {
    use std::io::ErrorKind::{ConnectionAborted, ConnectionRefused, ConnectionReset};
    if !matches!(e.kind(), ConnectionAborted | ConnectionRefused | ConnectionReset) {
        tracing::error!(error = %e, "accepting a connection failed");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// A connection with its slot among `max_connections`, given back when it closes (after
/// a WebSocket upgrade, when the WebSocket does).
struct Slotted {
    tcp: tokio::net::TcpStream,
    _slot: tokio::sync::OwnedSemaphorePermit,
}

impl tokio::io::AsyncRead for Slotted {
    fn poll_read(
        self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        buf: &mut tokio::io::ReadBuf<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::pin::Pin::new(&mut self.get_mut().tcp).poll_read(cx, buf)
    }
}

impl tokio::io::AsyncWrite for Slotted {
    fn poll_write(
        self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        buf: &[u8],
    ) -> std::task::Poll<std::io::Result<usize>> {
        std::pin::Pin::new(&mut self.get_mut().tcp).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> std::task::Poll<std::io::Result<usize>> {
        std::pin::Pin::new(&mut self.get_mut().tcp).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.tcp.is_write_vectored()
    }

    fn poll_flush(
        self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::pin::Pin::new(&mut self.get_mut().tcp).poll_flush(cx)
    }

    fn poll_shutdown(
        self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::pin::Pin::new(&mut self.get_mut().tcp).poll_shutdown(cx)
    }
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => futures::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = futures::future::pending::<()>();
    tokio::select! { _ = ctrl_c => {}, _ = term => {} }
}
