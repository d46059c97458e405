//! The HTTP runs: a server on loopback, a keep-alive connection pool.

use std::net::{SocketAddr, TcpListener};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail, ensure};
use mcp_bench::{
    Era, HANDSHAKE, IN_FLIGHT, Launch, Row, STATELESS, Sizes, contains, cpu_time, echo_request, opening_method,
    opening_request,
};

fn check_answer(body: &[u8]) -> anyhow::Result<()> {
    mcp_bench::check_answer(body).map_err(anyhow::Error::msg)
}

pub(crate) struct HttpSession {
    client: reqwest::Client,
    url: String,
    era: Era,
    session_id: Option<String>,
    token: Option<String>,
}

impl HttpSession {
    async fn post(&self, body: Vec<u8>, method: &str) -> anyhow::Result<reqwest::Response> {
        let mut request = self
            .client
            .post(&self.url)
            .header("content-type", "application/json")
            .header("accept", "application/json, text/event-stream")
            .body(body);
        if let Some(token) = &self.token {
            request = request.bearer_auth(token);
        }
        match self.era {
            Era::Handshake => {
                request = request.header("mcp-protocol-version", HANDSHAKE);
                if let Some(id) = &self.session_id {
                    request = request.header("mcp-session-id", id);
                }
            }
            Era::Stateless => {
                request = request.header("mcp-protocol-version", STATELESS).header("mcp-method", method);
                if method == "tools/call" {
                    request = request.header("mcp-name", "echo");
                }
            }
        }
        let response = request.send().await?;
        ensure!(response.status().is_success(), "{method}: HTTP {}", response.status());
        Ok(response)
    }

    async fn echo(&self, id: usize) -> anyhow::Result<()> {
        let body = self.post(echo_request(self.era, id), "tools/call").await?.bytes().await?;
        check_answer(&body)
    }
}

/// A server process listening on loopback; killed when dropped.
pub(crate) struct HttpServer {
    child: std::process::Child,
    pub(crate) addr: SocketAddr,
}

impl HttpServer {
    pub(crate) fn spawn(launch: &Launch) -> anyhow::Result<Self> {
        let addr = free_loopback_addr()?;
        let child = Command::new(&launch.binary)
            .args(["--transport", "http", "--listen", &addr.to_string(), "--log-level", "warn"])
            .args(&launch.args)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .with_context(|| format!("spawning {}", launch.binary.display()))?;
        Ok(Self { child, addr })
    }

    pub(crate) fn pid(&self) -> u32 {
        self.child.id()
    }

    /// The server's resident memory, in bytes.
    pub(crate) fn rss_bytes(&self) -> anyhow::Result<u64> {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id()))?;
        let kb = status
            .lines()
            .find_map(|l| l.strip_prefix("VmRSS:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
            .context("no VmRSS")?;
        Ok(kb * 1024)
    }
}

impl Drop for HttpServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub(crate) async fn bench_http(launch: &Launch, era: Era, sizes: &Sizes) -> anyhow::Result<Row> {
    let server = HttpServer::spawn(launch)?;
    drive_http(server.addr, Some(server.pid()), era, sizes, launch.token.clone()).await
}

/// A session with the server at `addr` (retrying while it starts), opened in `era`.
pub(crate) async fn open_session(addr: SocketAddr, era: Era, token: Option<String>) -> anyhow::Result<HttpSession> {
    let client = mcp_core::tls::http_client().pool_max_idle_per_host(IN_FLIGHT * 2).build()?;
    let mut session = HttpSession { client, url: format!("http://{addr}/mcp"), era, session_id: None, token };
    let deadline = Instant::now() + Duration::from_secs(10);
    let opening = loop {
        match session.post(opening_request(era).to_string().into_bytes(), opening_method(era)).await {
            Ok(response) => break response,
            Err(_) if Instant::now() < deadline => tokio::time::sleep(Duration::from_millis(10)).await,
            Err(e) => bail!("server did not come up: {e}"),
        }
    };
    session.session_id = opening.headers().get("mcp-session-id").and_then(|v| v.to_str().ok()).map(str::to_owned);
    let body = opening.bytes().await?;
    ensure!(contains(&body, b"\"result\""), "opening failed: {}", String::from_utf8_lossy(&body));
    if era == Era::Handshake {
        let note = br#"{"jsonrpc":"2.0","method":"notifications/initialized"}"#.to_vec();
        session.post(note, "notifications/initialized").await?;
    }
    Ok(session)
}

/// Echo calls `ids`, IN_FLIGHT at a time on the keep-alive pool.
pub(crate) async fn pipelined(session: &Arc<HttpSession>, ids: std::ops::Range<usize>) -> anyhow::Result<()> {
    let next = Arc::new(AtomicUsize::new(ids.start));
    let workers: Vec<_> = (0..IN_FLIGHT)
        .map(|_| {
            let (session, next, end) = (session.clone(), next.clone(), ids.end);
            tokio::spawn(async move {
                loop {
                    let id = next.fetch_add(1, Ordering::Relaxed);
                    if id >= end {
                        return Ok::<_, anyhow::Error>(());
                    }
                    session.echo(id).await?;
                }
            })
        })
        .collect();
    for worker in workers {
        worker.await??;
    }
    Ok(())
}

/// Echo calls `ids` in bursts of IN_FLIGHT concurrent requests; the next burst waits for
/// all of them (see `StdioServer::bursts`).
pub(crate) async fn bursts(session: &Arc<HttpSession>, ids: std::ops::Range<usize>) -> anyhow::Result<()> {
    let mut next = ids.start;
    while next < ids.end {
        let burst = next..(next + IN_FLIGHT).min(ids.end);
        let calls = burst.clone().map(|id| {
            let session = session.clone();
            tokio::spawn(async move { session.echo(id).await })
        });
        for call in calls.collect::<Vec<_>>() {
            call.await??;
        }
        next = burst.end;
    }
    Ok(())
}

pub(crate) async fn drive_http(
    addr: SocketAddr,
    pid: Option<u32>,
    era: Era,
    sizes: &Sizes,
    token: Option<String>,
) -> anyhow::Result<Row> {
    let session = open_session(addr, era, token).await?;
    for id in 1..=sizes.sequential / 10 {
        session.echo(id).await?;
    }
    let mut latencies = Vec::with_capacity(sizes.sequential);
    for id in 1..=sizes.sequential {
        let sent = Instant::now();
        session.echo(id).await?;
        latencies.push(sent.elapsed());
    }

    let session = Arc::new(session);
    let total = sizes.pipelined / 4;
    let cpu_before = pid.and_then(cpu_time);
    let started = Instant::now();
    pipelined(&session, 1..total + 1).await?;
    let elapsed = started.elapsed();
    let cpu_after = pid.and_then(cpu_time);
    Ok(Row::measured(&mut latencies, total, elapsed).with_server_cpu(cpu_before, cpu_after, total))
}

/// A free port on loopback.
pub(crate) fn free_loopback_addr() -> anyhow::Result<SocketAddr> {
    Ok(TcpListener::bind("127.0.0.1:0")?.local_addr()?)
}
