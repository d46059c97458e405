//! Memory per idle session: the server's resident memory before and after opening many
//! handshake-era HTTP sessions, then as many WebSocket connections.

use std::time::Duration;

use anyhow::{Context as _, ensure};
use futures::StreamExt;
use mcp_bench::{Era, Launch, opening_request};

use crate::http::HttpServer;

/// Bytes per idle session: (HTTP sessions, WebSocket connections).
pub(crate) async fn bench_sessions(launch: &Launch, count: usize) -> anyhow::Result<(f64, f64)> {
    let server = HttpServer::spawn(launch)?;
    let client = mcp_core::tls::http_client().build().expect("an HTTP client");
    let url = format!("http://{}/mcp", server.addr);
    let open = || async {
        let mut request = client
            .post(&url)
            .header("content-type", "application/json")
            .header("accept", "application/json, text/event-stream")
            .body(opening_request(Era::Handshake).to_string());
        if let Some(t) = &launch.token {
            request = request.bearer_auth(t);
        }
        let response = request.send().await?;
        ensure!(response.headers().contains_key("mcp-session-id"), "no session id");
        Ok::<_, anyhow::Error>(())
    };
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while open().await.is_err() {
        ensure!(std::time::Instant::now() < deadline, "server did not come up");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    settle().await;
    let before = server.rss_bytes()?;
    for _ in 0..count {
        open().await?;
    }
    settle().await;
    let http = (server.rss_bytes()?.saturating_sub(before)) as f64 / count as f64;
    drop(server);

    let server = HttpServer::spawn(launch)?;
    let mut sockets = vec![crate::ws::connect(server.addr, Era::Handshake, launch.token.as_deref()).await?];
    settle().await;
    let before = server.rss_bytes()?;
    let batch = 100;
    while sockets.len() < count + 1 {
        let connecting: Vec<_> =
            (0..batch).map(|_| crate::ws::connect(server.addr, Era::Handshake, launch.token.as_deref())).collect();
        for socket in futures::future::join_all(connecting).await {
            sockets.push(socket.context("opening an idle WebSocket")?);
        }
    }
    settle().await;
    let ws = (server.rss_bytes()?.saturating_sub(before)) as f64 / (sockets.len() - 1) as f64;
    // Keep them open until measured, and make sure they still are.
    for socket in sockets.iter_mut().take(3) {
        ensure!(futures::poll!(socket.next()).is_pending(), "an idle socket was closed");
    }
    Ok((http, ws))
}

async fn settle() {
    tokio::time::sleep(Duration::from_millis(300)).await;
}
