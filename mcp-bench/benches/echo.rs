//! The echo benchmark: the same `echo` tool served by mcp-core, by rmcp and by the floor (a
//! bare read-parse-write loop), driven side by side in one run over a real stdio pipe and
//! over HTTP on loopback.
//!
//! ```sh
//! cargo build --release -p mcp-bench --examples
//! cargo bench -p mcp-bench --bench echo -- [--quick] [--json PATH] [--check] [--only mcp-core,rmcp,…]
//!     [--transport stdio|http]
//! ```
//!
//! For each server it measures sequential round trips (p50, p99), throughput with 32
//! requests in flight on one connection (stdio: pipelined on the one pipe; HTTP: 32
//! concurrent requests on a keep-alive pool) and, over stdio, the time from spawn to the
//! first response. `--check` exits non-zero when a target of the mcp-core issue is missed.

// The report is this program's output.
#![allow(clippy::print_stdout)]

use std::io::{BufRead, BufReader, Write};
use std::net::{SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail, ensure};
use mcp_bench::percentile;
use serde_json::{Value, json};

const IN_FLIGHT: usize = 32;
const HANDSHAKE: &str = "2025-11-25";
const STATELESS: &str = "2026-07-28";

#[derive(Clone, Copy, PartialEq)]
enum Era {
    Handshake,
    Stateless,
}

struct Target {
    name: &'static str,
    example: &'static str,
    era: Era,
}

const TARGETS: &[Target] = &[
    Target { name: "mcp-core", example: "bench_server_mcp_core", era: Era::Handshake },
    Target { name: "mcp-core 2026", example: "bench_server_mcp_core", era: Era::Stateless },
    Target { name: "rmcp", example: "bench_server_rmcp", era: Era::Handshake },
    Target { name: "rmcp 2026", example: "bench_server_rmcp", era: Era::Stateless },
    Target { name: "floor", example: "bench_server_floor", era: Era::Handshake },
];

struct Sizes {
    sequential: usize,
    pipelined: usize,
    spawns: usize,
}

#[derive(Default, Clone)]
struct Row {
    p50_us: f64,
    p99_us: f64,
    calls_per_sec: f64,
    first_response_ms: Option<f64>,
}

fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let quick = args.iter().any(|a| a == "--quick");
    let check = args.iter().any(|a| a == "--check");
    let json_path = args.iter().position(|a| a == "--json").and_then(|i| args.get(i + 1)).map(PathBuf::from);
    let sizes = if quick {
        Sizes { sequential: 2_000, pipelined: 10_000, spawns: 5 }
    } else {
        Sizes { sequential: 20_000, pipelined: 200_000, spawns: 30 }
    };
    let only = args.iter().position(|a| a == "--only").and_then(|i| args.get(i + 1)).cloned();
    let selected: Vec<&Target> =
        TARGETS.iter().filter(|t| only.as_deref().is_none_or(|o| o.split(',').any(|o| o == t.name))).collect();
    let transport = args.iter().position(|a| a == "--transport").and_then(|i| args.get(i + 1)).cloned();
    let (run_stdio, run_http) = match transport.as_deref() {
        Some("stdio") => (true, false),
        Some("http") => (false, true),
        _ => (true, true),
    };
    let bin_dir = examples_dir()?;

    let mut results: Vec<(String, &'static str, Row)> = Vec::new();
    for target in selected.iter().filter(|_| run_stdio) {
        let binary = bin_dir.join(target.example);
        let row = bench_stdio(&binary, target.era, &sizes).with_context(|| format!("{} over stdio", target.name))?;
        print_row(target.name, "stdio", &row);
        results.push((target.name.to_owned(), "stdio", row));
    }
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    for target in selected.iter().filter(|_| run_http) {
        let binary = bin_dir.join(target.example);
        let row = runtime
            .block_on(bench_http(&binary, target.era, &sizes))
            .with_context(|| format!("{} over HTTP", target.name))?;
        print_row(target.name, "http", &row);
        results.push((target.name.to_owned(), "http", row));
    }

    let find = |name: &str, transport: &str| {
        results.iter().find(|(n, t, _)| n == name && *t == transport).map(|(_, _, r)| r.clone())
    };
    // Each target compares two rows of this run; targets whose rows were not run are skipped.
    let ratio = |a: Option<Row>, b: Option<Row>, f: fn(&Row) -> f64| Some(f(&a?) / f(&b?));
    let checks = [
        (
            "stdio throughput vs rmcp (>= 5x)",
            ratio(find("mcp-core", "stdio"), find("rmcp", "stdio"), |r| r.calls_per_sec),
            5.0,
            true,
        ),
        (
            "HTTP throughput vs rmcp (>= 2x)",
            ratio(find("mcp-core", "http"), find("rmcp", "http"), |r| r.calls_per_sec),
            2.0,
            true,
        ),
        (
            "stdio sequential p50 vs floor (<= 1.5x)",
            ratio(find("mcp-core", "stdio"), find("floor", "stdio"), |r| r.p50_us),
            1.5,
            false,
        ),
        (
            "first response after spawn, ms (<= 5)",
            find("mcp-core", "stdio").and_then(|r| r.first_response_ms),
            5.0,
            false,
        ),
    ];
    println!();
    let mut missed = 0;
    for (label, value, bound, at_least) in checks {
        let Some(value) = value else { continue };
        let met = if at_least { value >= bound } else { value <= bound };
        missed += usize::from(!met);
        println!("{label:<42} {value:>8.2}  {}", if met { "met" } else { "MISSED" });
    }

    if let Some(path) = json_path {
        let rows: Vec<Value> = results
            .iter()
            .map(|(name, transport, r)| {
                json!({"server": name, "transport": transport, "p50_us": r.p50_us, "p99_us": r.p99_us,
                       "calls_per_sec": r.calls_per_sec, "first_response_ms": r.first_response_ms})
            })
            .collect();
        std::fs::write(&path, serde_json::to_vec_pretty(&rows)?)?;
    }
    ensure!(!check || missed == 0, "{missed} target(s) missed");
    Ok(())
}

/// Examples are built next to the bench binary's `deps/` directory.
fn examples_dir() -> anyhow::Result<PathBuf> {
    if let Some(dir) = std::env::var_os("MCP_BENCH_EXAMPLES") {
        return Ok(PathBuf::from(dir));
    }
    let exe = std::env::current_exe()?;
    let profile_dir = exe.parent().and_then(Path::parent).context("bench binary has no profile directory")?;
    let dir = profile_dir.join("examples");
    ensure!(
        dir.join("bench_server_floor").exists(),
        "servers not built in {}: run `cargo build --release -p mcp-bench --examples` first",
        dir.display()
    );
    Ok(dir)
}

fn print_row(name: &str, transport: &str, row: &Row) {
    let first = row.first_response_ms.map(|ms| format!("{ms:.2} ms")).unwrap_or_else(|| "-".into());
    println!(
        "{name:<14} {transport:<6} p50 {:>7.1} us  p99 {:>7.1} us  {:>9.0} calls/s (32 in flight)  first response {first}",
        row.p50_us, row.p99_us, row.calls_per_sec
    );
}

/// The JSON-RPC request for call `id` in the given era (2026-07-28 carries `_meta` on each).
fn request(era: Era, id: usize, method: &str, params: Value) -> Value {
    let mut params = params;
    if era == Era::Stateless
        && let Some(object) = params.as_object_mut()
    {
        object.insert(
            "_meta".into(),
            json!({
                "io.modelcontextprotocol/protocolVersion": STATELESS,
                "io.modelcontextprotocol/clientCapabilities": {},
                "io.modelcontextprotocol/clientInfo": {"name": "echo-bench", "version": "0"}
            }),
        );
    }
    json!({"jsonrpc": "2.0", "id": id, "method": method, "params": params})
}

fn echo_request(era: Era, id: usize) -> Vec<u8> {
    let mut line = request(era, id, "tools/call", json!({"name": "echo", "arguments": {"message": "hello"}}))
        .to_string()
        .into_bytes();
    line.push(b'\n');
    line
}

fn opening_request(era: Era) -> Value {
    match era {
        Era::Handshake => request(
            era,
            0,
            "initialize",
            json!({"protocolVersion": HANDSHAKE, "capabilities": {}, "clientInfo": {"name": "echo-bench", "version": "0"}}),
        ),
        Era::Stateless => request(era, 0, "server/discover", json!({})),
    }
}

/// A successful echo answer: a result, not a JSON-RPC error and not a tool error.
fn check_answer(body: &[u8]) -> anyhow::Result<()> {
    let ok = contains(body, b"\"result\"") && !contains(body, b"\"isError\":true") && contains(body, b"hello");
    ensure!(ok, "unexpected answer: {}", String::from_utf8_lossy(body));
    Ok(())
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

// ---------------------------------------------------------------------------------------
// stdio

struct StdioServer {
    child: Child,
    stdin: ChildStdin,
    stdout: BufReader<ChildStdout>,
}

impl StdioServer {
    fn spawn(binary: &Path) -> anyhow::Result<Self> {
        let mut child = Command::new(binary)
            .args(["--transport", "stdio", "--log-level", "warn"])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .with_context(|| format!("spawning {}", binary.display()))?;
        let stdin = child.stdin.take().context("no stdin")?;
        let stdout = BufReader::new(child.stdout.take().context("no stdout")?);
        Ok(Self { child, stdin, stdout })
    }

    fn send(&mut self, line: &[u8]) -> anyhow::Result<()> {
        self.stdin.write_all(line)?;
        self.stdin.flush()?;
        Ok(())
    }

    fn receive(&mut self, line: &mut Vec<u8>) -> anyhow::Result<()> {
        line.clear();
        ensure!(self.stdout.read_until(b'\n', line)? > 0, "server closed stdout");
        Ok(())
    }

    fn open(&mut self, era: Era) -> anyhow::Result<()> {
        let mut line = opening_request(era).to_string().into_bytes();
        line.push(b'\n');
        self.send(&line)?;
        let mut answer = Vec::new();
        self.receive(&mut answer)?;
        ensure!(contains(&answer, b"\"result\""), "opening failed: {}", String::from_utf8_lossy(&answer));
        if era == Era::Handshake {
            self.send(b"{\"jsonrpc\":\"2.0\",\"method\":\"notifications/initialized\"}\n")?;
        }
        Ok(())
    }

    fn stop(mut self) {
        drop(self.stdin);
        let deadline = Instant::now() + Duration::from_secs(5);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn bench_stdio(binary: &Path, era: Era, sizes: &Sizes) -> anyhow::Result<Row> {
    let mut first_responses = Vec::with_capacity(sizes.spawns);
    for _ in 0..sizes.spawns {
        let started = Instant::now();
        let mut server = StdioServer::spawn(binary)?;
        server.open(era)?;
        first_responses.push(started.elapsed());
        server.stop();
    }

    let mut server = StdioServer::spawn(binary)?;
    server.open(era)?;
    let requests: Vec<Vec<u8>> = (1..=sizes.sequential.max(sizes.pipelined)).map(|id| echo_request(era, id)).collect();
    let mut answer = Vec::new();
    // Warm up, then time each round trip.
    for request in requests.iter().take(sizes.sequential / 10) {
        server.send(request)?;
        server.receive(&mut answer)?;
    }
    let mut latencies = Vec::with_capacity(sizes.sequential);
    for request in &requests[..sizes.sequential] {
        let sent = Instant::now();
        server.send(request)?;
        server.receive(&mut answer)?;
        latencies.push(sent.elapsed());
        check_answer(&answer)?;
    }

    // Pipelined: keep IN_FLIGHT requests outstanding. The reader publishes how many answers
    // arrived whenever it has drained what the pipe held; the writer then sends, in one
    // write, as many requests as the window has room for (as a batching client would).
    let StdioServer { child, mut stdin, mut stdout } = server;
    let total = sizes.pipelined;
    let mut stream = Vec::new();
    let mut offsets = vec![0];
    for request in &requests[..total] {
        stream.extend_from_slice(request);
        offsets.push(stream.len());
    }
    let answered = Arc::new((Mutex::new(0usize), Condvar::new()));
    let publish = answered.clone();
    let reader = std::thread::spawn(move || -> anyhow::Result<BufReader<ChildStdout>> {
        let mut line = Vec::new();
        for count in 1..=total {
            line.clear();
            ensure!(stdout.read_until(b'\n', &mut line)? > 0, "server closed stdout");
            check_answer(&line)?;
            if stdout.buffer().is_empty() || count == total {
                let (done, wake) = &*publish;
                *done.lock().map_err(|_| anyhow::anyhow!("poisoned"))? = count;
                wake.notify_one();
            }
        }
        Ok(stdout)
    });
    let started = Instant::now();
    let mut sent = 0;
    while sent < total {
        let (done, wake) = &*answered;
        let mut answered_now = done.lock().map_err(|_| anyhow::anyhow!("poisoned"))?;
        while sent - *answered_now >= IN_FLIGHT {
            answered_now = wake.wait(answered_now).map_err(|_| anyhow::anyhow!("poisoned"))?;
        }
        let until = (*answered_now + IN_FLIGHT).min(total);
        drop(answered_now);
        stdin.write_all(&stream[offsets[sent]..offsets[until]])?;
        stdin.flush()?;
        sent = until;
    }
    let stdout = reader.join().map_err(|_| anyhow::anyhow!("reader thread panicked"))??;
    let elapsed = started.elapsed();
    StdioServer { child, stdin, stdout }.stop();

    Ok(Row {
        p50_us: micros(percentile(&mut latencies, 0.50)),
        p99_us: micros(percentile(&mut latencies, 0.99)),
        calls_per_sec: total as f64 / elapsed.as_secs_f64(),
        first_response_ms: Some(percentile(&mut first_responses, 0.50).as_secs_f64() * 1e3),
    })
}

fn micros(d: Duration) -> f64 {
    d.as_secs_f64() * 1e6
}

// ---------------------------------------------------------------------------------------
// HTTP

struct HttpSession {
    client: reqwest::Client,
    url: String,
    era: Era,
    session_id: Option<String>,
}

impl HttpSession {
    async fn post(&self, body: Vec<u8>, method: &str) -> anyhow::Result<reqwest::Response> {
        let mut request = self
            .client
            .post(&self.url)
            .header("content-type", "application/json")
            .header("accept", "application/json, text/event-stream")
            .body(body);
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

async fn bench_http(binary: &Path, era: Era, sizes: &Sizes) -> anyhow::Result<Row> {
    let addr = free_loopback_addr()?;
    let mut child = Command::new(binary)
        .args(["--transport", "http", "--listen", &addr.to_string(), "--log-level", "warn"])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .with_context(|| format!("spawning {}", binary.display()))?;
    let outcome = drive_http(addr, era, sizes).await;
    let _ = child.kill();
    let _ = child.wait();
    outcome
}

async fn drive_http(addr: SocketAddr, era: Era, sizes: &Sizes) -> anyhow::Result<Row> {
    let client = reqwest::Client::builder().pool_max_idle_per_host(IN_FLIGHT * 2).build()?;
    let mut session = HttpSession { client, url: format!("http://{addr}/mcp"), era, session_id: None };
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
    let next = Arc::new(AtomicUsize::new(0));
    let total = sizes.pipelined / 4;
    let started = Instant::now();
    let workers: Vec<_> = (0..IN_FLIGHT)
        .map(|_| {
            let (session, next) = (session.clone(), next.clone());
            tokio::spawn(async move {
                loop {
                    let id = next.fetch_add(1, Ordering::Relaxed);
                    if id >= total {
                        return Ok::<_, anyhow::Error>(());
                    }
                    session.echo(id + 1).await?;
                }
            })
        })
        .collect();
    for worker in workers {
        worker.await??;
    }
    let elapsed = started.elapsed();
    Ok(Row {
        p50_us: micros(percentile(&mut latencies, 0.50)),
        p99_us: micros(percentile(&mut latencies, 0.99)),
        calls_per_sec: total as f64 / elapsed.as_secs_f64(),
        first_response_ms: None,
    })
}

fn opening_method(era: Era) -> &'static str {
    match era {
        Era::Handshake => "initialize",
        Era::Stateless => "server/discover",
    }
}

fn free_loopback_addr() -> anyhow::Result<SocketAddr> {
    Ok(TcpListener::bind("127.0.0.1:0")?.local_addr()?)
}
