//! Operating a server over HTTP: health and readiness, Prometheus metrics, and the limits
//! (request body size, requests in flight per client, idle session expiry).

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

use common::{NoArgs, mcp_post, serve_on_loopback};
use mcp_core::client::{Client, ClientOptions, EraChoice};
use mcp_core::security::Authenticator;
use mcp_core::server::Server;
use mcp_core::transport::http::{HttpConfig, serve_listener};
use mcp_core::{Context, ToolError, tool};
use serde_json::json;

const TOKEN: &str = "ops-test-token-0123456789";

struct Fixture {
    base: String,
    backend_up: Arc<AtomicBool>,
    release: Arc<tokio::sync::Notify>,
    /// `wait` calls that reached the handler.
    entered: Arc<AtomicUsize>,
}

/// Waits until `count` says `n` (a handler reached), for at most 10 s.
async fn until(count: &AtomicUsize, n: usize) {
    let started = std::time::Instant::now();
    while count.load(Ordering::SeqCst) < n {
        assert!(started.elapsed() < Duration::from_secs(10), "{n} calls never reached the handler");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

async fn start(config: HttpConfig) -> Fixture {
    let backend_up = Arc::new(AtomicBool::new(true));
    let release = Arc::new(tokio::sync::Notify::new());
    let entered = Arc::new(AtomicUsize::new(0));
    let (up, gate, count) = (backend_up.clone(), release.clone(), entered.clone());
    let server = Server::builder("ops-test", "1.0.0")
        .tool(tool("ping", |_ctx: Context, _: NoArgs| async { Ok::<_, ToolError>("pong") }).read_only())
        .tool(
            tool("wait", move |_ctx: Context, _: NoArgs| {
                let (gate, count) = (gate.clone(), count.clone());
                async move {
                    // Created before it counts, so no notify_waiters after the count is missed.
                    let released = gate.notified();
                    count.fetch_add(1, Ordering::SeqCst);
                    released.await;
                    Ok::<_, ToolError>("released")
                }
            })
            .read_only(),
        )
        .readiness(move || {
            let up = up.load(Ordering::SeqCst);
            async move { if up { Ok(()) } else { Err("the database does not answer".into()) } }
        })
        .configure(|c| c.max_in_flight_per_client = 2)
        .build();
    let base = format!("http://{}", serve_on_loopback(server, config).await);
    Fixture { base, backend_up, release, entered }
}

fn authed() -> HttpConfig {
    let auth = Authenticator::from_tokens(&format!("ops={TOKEN}"), "test").expect("tokens");
    HttpConfig { auth: Some(Arc::new(auth)), ..Default::default() }
}

fn client_options(era: EraChoice) -> ClientOptions {
    ClientOptions { era, bearer_token: Some(TOKEN.into()), ..Default::default() }
}

#[tokio::test]
async fn health_readiness_and_metrics() {
    let f = start(authed()).await;
    let http = mcp_core::tls::http_client().build().expect("an HTTP client");
    let get = |path: &str| http.get(format!("{}{path}", f.base)).send();
    assert_eq!(get("/healthz").await.expect("healthz").status(), 200);
    assert_eq!(get("/readyz").await.expect("readyz").status(), 200);
    f.backend_up.store(false, Ordering::SeqCst);
    let not_ready = get("/readyz").await.expect("readyz");
    assert_eq!(not_ready.status(), 503);
    assert!(not_ready.text().await.unwrap_or_default().contains("the database does not answer"));

    assert_eq!(get("/metrics").await.expect("metrics").status(), 401, "metrics name tools: they need the token");
    let client =
        Client::connect_http(&format!("{}/mcp", f.base), client_options(EraChoice::Stateless)).await.expect("connect");
    for _ in 0..3 {
        client.call_tool("ping", json!({})).await.expect("ping");
    }
    let _ = client.call_tool("no_such_tool", json!({})).await;
    let text = http
        .get(format!("{}/metrics", f.base))
        .bearer_auth(TOKEN)
        .send()
        .await
        .expect("metrics")
        .text()
        .await
        .expect("body");
    assert!(text.contains(r#"mcp_requests_total{method="tools/call",tool="ping",outcome="ok"} 3"#), "{text}");
    assert!(text.contains(r#"mcp_requests_total{method="tools/call",tool="unknown",outcome="error"} 1"#), "{text}");
    assert!(text.contains(r#"mcp_request_duration_seconds_count{method="tools/call"} 4"#), "{text}");
    assert!(text.contains("mcp_requests_in_flight 0"), "{text}");
}

#[tokio::test]
async fn one_client_cannot_hold_more_than_its_share_of_requests() {
    let f = start(authed()).await;
    let url = format!("{}/mcp", f.base);
    let client = Arc::new(Client::connect_http(&url, client_options(EraChoice::Stateless)).await.expect("connect"));
    let waiting: Vec<_> = (0..2)
        .map(|_| {
            let c = client.clone();
            tokio::spawn(async move { c.call_tool("wait", json!({})).await })
        })
        .collect();
    until(&f.entered, 2).await;
    let err = client.call_tool("ping", json!({})).await.expect_err("third request refused");
    assert!(err.to_string().contains("Too many requests in flight for client \"ops\""), "{err}");
    f.release.notify_waiters();
    for w in waiting {
        w.await.expect("join").expect("released call");
    }
    client.call_tool("ping", json!({})).await.expect("slots are given back");
}

#[tokio::test]
async fn oversized_bodies_get_413_and_idle_sessions_expire() {
    let config = HttpConfig {
        max_body_bytes: 64 * 1024,
        session_idle_timeout: Duration::from_millis(300),
        ..Default::default()
    };
    let f = start(config).await;
    let url = format!("{}/mcp", f.base);
    let big = json!({"jsonrpc": "2.0", "id": 1, "method": "ping", "params": {"pad": "x".repeat(100_000)}});
    let resp = mcp_post(&url, big).send().await.expect("send");
    assert_eq!(resp.status(), 413);

    let client = Client::connect_http(&url, ClientOptions { era: EraChoice::Handshake, ..Default::default() })
        .await
        .expect("connect");
    client.call_tool("ping", json!({})).await.expect("fresh session works");
    tokio::time::sleep(Duration::from_millis(700)).await;
    let err = client.call_tool("ping", json!({})).await.expect_err("session expired");
    assert!(err.to_string().contains("expired") || err.to_string().contains("not found"), "{err}");
}

#[tokio::test]
async fn shutdown_drains_within_its_bound_even_with_open_streams() {
    let entered = Arc::new(AtomicUsize::new(0));
    let count = entered.clone();
    let server = Server::builder("drain-test", "1.0.0")
        .tool(tool("ping", |_ctx: Context, _: NoArgs| async { Ok::<_, ToolError>("pong") }).read_only())
        .tool(
            tool("work", move |_ctx: Context, _: NoArgs| {
                let count = count.clone();
                async move {
                    count.fetch_add(1, Ordering::SeqCst);
                    // Shorter than the drain bound: it must finish, not be cut.
                    tokio::time::sleep(Duration::from_millis(150)).await;
                    Ok::<_, ToolError>("done")
                }
            })
            .read_only(),
        )
        .build();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let url = format!("http://{}/mcp", listener.local_addr().expect("addr"));
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let config = HttpConfig { drain_timeout: Duration::from_millis(1000), ..Default::default() };
    let serving = tokio::spawn(serve_listener(server, listener, config, async {
        let _ = stopped.await;
    }));
    // A handshake-era client holds the session's GET stream open.
    let client = Arc::new(
        Client::connect_http(&url, ClientOptions { era: EraChoice::Handshake, ..Default::default() })
            .await
            .expect("connect"),
    );
    client.call_tool("ping", json!({})).await.expect("ping");
    // A call in flight when the shutdown begins.
    let c = client.clone();
    let in_flight = tokio::spawn(async move { c.call_tool("work", json!({})).await });
    until(&entered, 1).await;
    let began = std::time::Instant::now();
    let _ = stop.send(());
    let answer = in_flight.await.expect("join").expect("the call in flight is answered, not cut");
    assert_eq!(answer.content[0].as_text(), Some("done"), "{answer:?}");
    let finished = tokio::time::timeout(Duration::from_secs(5), serving).await;
    assert!(finished.is_ok(), "the server did not stop");
    // Well under the 5 s above, though the GET stream stays open: the bound holds.
    assert!(began.elapsed() < Duration::from_secs(3), "took {:?}", began.elapsed());
}
