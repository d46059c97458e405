//! The `n8n` benchmark: listing 100 workflows and reading one execution, through n8n's
//! Public API directly (reqwest, parsing the JSON) and through mcp-n8n over stdio
//! (mcp-core's client, parsing every response), in alternating rounds so a noisy machine
//! slows both alike. Also startup time (spawn to the `initialize` answer) and idle
//! memory of mcp-n8n and of the npm `@leonardsellem/n8n-mcp-server` (node).
//!
//! ```sh
//! source scripts/lib.sh; start_n8n
//! MCP_N8N_REFERENCE_JS=$(n8n_reference_server) cargo bench -p mcp-n8n --bench n8n -- [--quick]
//! ```
//!
//! Target: mcp-n8n at most 1.2x the direct calls (n8n's own work dominates; the
//! connector adds a compact rendering and a JSON-RPC round trip).

// The report is this program's output.
#![allow(clippy::print_stdout)]

use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};
use mcp_core::client::{Client, ClientOptions};
use serde_json::{Value, json};

const WORKFLOWS: usize = 100;

struct Direct {
    http: reqwest::Client,
    url: String,
    key: String,
}

impl Direct {
    async fn get(&self, path: &str, query: &[(&str, &str)]) -> anyhow::Result<Value> {
        let r = self
            .http
            .get(format!("{}/api/v1{path}", self.url))
            .query(query)
            .header("X-N8N-API-KEY", &self.key)
            .send()
            .await?;
        if !r.status().is_success() {
            bail!("{path}: {}", r.status());
        }
        Ok(r.json().await?)
    }
}

fn percentile(samples: &mut [Duration], p: f64) -> Duration {
    samples.sort();
    samples[((samples.len() as f64 - 1.0) * p).round() as usize]
}

fn rss_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status.lines().find_map(|l| l.strip_prefix("VmRSS:")).and_then(|v| v.split_whitespace().next()?.parse().ok())
}

/// `rounds` start-ups of the command `make` builds: the median time to the `initialize`
/// answer in ms, and the last idle RSS.
fn startups(rounds: usize, make: impl Fn() -> Command) -> anyhow::Result<(f64, u64)> {
    let mut times = Vec::new();
    let mut rss = 0;
    for _ in 0..rounds {
        let (t, r) = startup(make())?;
        times.push(t);
        rss = r;
    }
    Ok((percentile(&mut times, 0.5).as_secs_f64() * 1e3, rss))
}

/// Spawns a stdio server, sends `initialize`, and measures the time to its answer and
/// its resident memory a moment later (idle).
fn startup(mut cmd: Command) -> anyhow::Result<(Duration, u64)> {
    let started = Instant::now();
    let mut child = cmd.stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::null()).spawn()?;
    let mut stdin = child.stdin.take().context("stdin")?;
    let mut stdout = BufReader::new(child.stdout.take().context("stdout")?);
    let init = json!({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
        "protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "bench", "version": "1"}}});
    writeln!(stdin, "{init}")?;
    let mut line = String::new();
    loop {
        line.clear();
        if stdout.read_line(&mut line)? == 0 {
            bail!("the server closed stdout before answering initialize");
        }
        if line.contains("\"id\":1") {
            break;
        }
    }
    let took = started.elapsed();
    writeln!(stdin, "{}", json!({"jsonrpc": "2.0", "method": "notifications/initialized"}))?;
    std::thread::sleep(Duration::from_millis(500));
    let rss = rss_kib(child.id()).unwrap_or(0);
    let _ = child.kill();
    let _ = child.wait();
    Ok((took, rss))
}

async fn setup(client: &Client, direct: &Direct) -> anyhow::Result<(Vec<String>, String)> {
    let tag = format!("bench{}", std::process::id() % 1_000_000);
    let mut ids = Vec::new();
    for i in 0..WORKFLOWS {
        let path = format!("bench-{}-{i}", std::process::id());
        let r = client
            .call_tool(
                "create_workflow",
                json!({"name": path, "tags": [tag], "connections": {"Hook": {"main": [[{"node": "Set", "type": "main", "index": 0}]]}},
                       "nodes": [
                    {"name": "Hook", "type": "n8n-nodes-base.webhook", "typeVersion": 2, "position": [0, 0],
                     "parameters": {"path": path, "httpMethod": "POST", "responseMode": "lastNode"}, "webhookId": path},
                    {"name": "Set", "type": "n8n-nodes-base.set", "typeVersion": 3.4, "position": [220, 0],
                     "parameters": {"assignments": {"assignments": [{"id": "a", "name": "n", "value": "={{ $json.body.n }}", "type": "number"}]}}}]}),
            )
            .await?;
        let v = r.structured_content.context("create_workflow: no structured content")?;
        ids.push(v["id"].as_str().context("no id")?.to_string());
    }
    client.call_tool("publish_workflow", json!({"id": ids[0]})).await?;
    let run = client.call_tool("run_webhook", json!({"workflow_id": ids[0], "body": {"n": 7}})).await?;
    let exec = run.structured_content.and_then(|v| v["execution_id"].as_str().map(str::to_string));
    let exec = exec.context("the webhook run started no execution")?;
    client.call_tool("wait_execution", json!({"id": exec})).await?;
    // Warm both paths (connections, n8n's caches).
    direct.get("/workflows", &[("limit", "100"), ("tags", &tag)]).await?;
    Ok((ids, exec))
}

async fn run(client: &Client, direct: &Direct, tag: &str, exec: &str, iterations: usize) -> anyhow::Result<()> {
    let mut d_list = Vec::new();
    let mut m_list = Vec::new();
    let mut d_exec = Vec::new();
    let mut m_exec = Vec::new();
    for _ in 0..iterations {
        let t = Instant::now();
        let v = direct.get("/workflows", &[("limit", "100"), ("tags", tag), ("excludePinnedData", "true")]).await?;
        if v["data"].as_array().map(Vec::len) != Some(WORKFLOWS) {
            bail!("direct list returned {:?} rows", v["data"].as_array().map(Vec::len));
        }
        d_list.push(t.elapsed());
        let t = Instant::now();
        let r = client.call_tool("list_workflows", json!({"tags": [tag], "limit": 100})).await?;
        if r.structured_content.as_ref().and_then(|v| v["count"].as_u64()) != Some(WORKFLOWS as u64) {
            bail!("mcp list failed: {:?}", r.content);
        }
        m_list.push(t.elapsed());
        let t = Instant::now();
        let v = direct.get(&format!("/executions/{exec}"), &[("includeData", "true")]).await?;
        if v["status"] != "success" {
            bail!("direct execution: {v}");
        }
        d_exec.push(t.elapsed());
        let t = Instant::now();
        let r = client.call_tool("get_execution", json!({"id": exec})).await?;
        if r.is_error {
            bail!("mcp get_execution failed: {:?}", r.content);
        }
        m_exec.push(t.elapsed());
    }
    for (what, d, m) in [("list 100 workflows", &mut d_list, &mut m_list), ("get execution", &mut d_exec, &mut m_exec)]
    {
        let (d50, m50) = (percentile(d, 0.5), percentile(m, 0.5));
        let (d95, m95) = (percentile(d, 0.95), percentile(m, 0.95));
        println!(
            "{what:>20}: direct p50 {:6.2} ms p95 {:6.2} ms | mcp-n8n p50 {:6.2} ms p95 {:6.2} ms | ratio p50 {:.2}x{}",
            d50.as_secs_f64() * 1e3,
            d95.as_secs_f64() * 1e3,
            m50.as_secs_f64() * 1e3,
            m95.as_secs_f64() * 1e3,
            m50.as_secs_f64() / d50.as_secs_f64(),
            if m50.as_secs_f64() / d50.as_secs_f64() <= 1.2 { "" } else { "  (over the 1.2x target)" }
        );
    }
    Ok(())
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let quick = std::env::args().any(|a| a == "--quick");
    let url =
        std::env::var("MCP_TEST_N8N_URL").context("MCP_TEST_N8N_URL is not set: `source scripts/lib.sh; start_n8n`")?;
    let key = std::env::var("MCP_TEST_N8N_API_KEY").context("MCP_TEST_N8N_API_KEY is not set")?;
    let email = std::env::var("MCP_TEST_N8N_EMAIL").unwrap_or_default();
    let password = std::env::var("MCP_TEST_N8N_PASSWORD").unwrap_or_default();
    let bin = env!("CARGO_BIN_EXE_mcp-n8n");
    let server = || {
        let mut cmd = tokio::process::Command::new(bin);
        cmd.arg("--allow-write")
            .env("N8N_API_URL", &url)
            .env("N8N_API_KEY", &key)
            .env("N8N_EMAIL", &email)
            .env("N8N_PASSWORD", &password)
            .env("MCP_LOG_LEVEL", "warn")
            .kill_on_drop(true);
        cmd
    };
    let client = Client::connect_stdio(server(), ClientOptions::default()).await?;
    let direct = Direct {
        http: mcp_core::tls::http_client().build().expect("an HTTP client"),
        url: url.clone(),
        key: key.clone(),
    };
    let (ids, exec) = setup(&client, &direct).await?;
    let tag = format!("bench{}", std::process::id() % 1_000_000);
    let iterations = if quick { 20 } else { 200 };
    println!("n8n benchmark: {WORKFLOWS} workflows, {iterations} alternating rounds (n8n at {url})");
    let result = run(&client, &direct, &tag, &exec, iterations).await;
    for id in &ids {
        let _ = client.call_tool("unpublish_workflow", json!({"id": id})).await;
        let _ = client.call_tool("delete_workflow", json!({"id": id})).await;
    }
    result?;

    let rounds = if quick { 3 } else { 10 };
    let (p50, rss) = startups(rounds, || {
        let mut c = Command::new(bin);
        c.env("N8N_API_URL", &url).env("N8N_API_KEY", &key).env("MCP_LOG_LEVEL", "warn");
        c
    })?;
    println!("{:>20}: startup p50 {:6.1} ms, idle RSS {:6.1} MiB", "mcp-n8n", p50, rss as f64 / 1024.0);
    match std::env::var("MCP_N8N_REFERENCE_JS") {
        Ok(js) if std::path::Path::new(&js).exists() => {
            let (p50, rss) = startups(rounds, || {
                let mut c = Command::new("node");
                c.arg(&js).env("N8N_API_URL", format!("{url}/api/v1")).env("N8N_API_KEY", &key);
                c
            })?;
            println!(
                "{:>20}: startup p50 {:6.1} ms, idle RSS {:6.1} MiB (node {})",
                "leonardsellem 0.1.8",
                p50,
                rss as f64 / 1024.0,
                Command::new("node")
                    .arg("--version")
                    .output()
                    .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
                    .unwrap_or_default()
            );
        }
        _ => println!(
            "@leonardsellem/n8n-mcp-server: not compared (MCP_N8N_REFERENCE_JS unset; scripts/lib.sh n8n_reference_server installs it)"
        ),
    }
    Ok(())
}
