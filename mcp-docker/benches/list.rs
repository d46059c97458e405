//! The `list` benchmark: listing 100 containers and inspecting one, through bollard
//! directly and through mcp-docker over stdio (mcp-core's client, parsing every
//! response), side by side in alternating rounds so a noisy machine slows both alike.
//! Also the binary's startup time (spawn to the first answer) and idle memory.
//!
//! ```sh
//! DOCKER_HOST=unix://... cargo bench -p mcp-docker --bench list -- [--quick]
//! ```
//!
//! Target: mcp-docker at most 1.2x bollard on both cases (the daemon's own work
//! dominates; the connector adds a table rendering and a JSON-RPC round trip).

// The report is this program's output.
#![allow(clippy::print_stdout)]

use std::collections::HashMap;
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};
use bollard::Docker;
use bollard::models::{ContainerCreateBody, HostConfig};
use bollard::query_parameters::{CreateContainerOptions, ListContainersOptions, RemoveContainerOptions};
use mcp_core::client::{Client, ClientOptions};
use serde_json::json;

const CONTAINERS: usize = 100;

fn host() -> anyhow::Result<String> {
    std::env::var("DOCKER_HOST").context("DOCKER_HOST is not set: `eval \"$(scripts/services.sh up)\"`")
}

fn label() -> String {
    format!("mcp-bench={}", std::process::id())
}

async fn setup(docker: &Docker) -> anyhow::Result<Vec<String>> {
    let (k, v) = ("mcp-bench".to_string(), std::process::id().to_string());
    let mut names = Vec::new();
    for i in 0..CONTAINERS {
        let name = format!("mcp-bench-{}-{i}", std::process::id());
        let body = ContainerCreateBody {
            image: Some("mcp-test/busybox:latest".into()),
            cmd: Some(vec!["true".into()]),
            labels: Some(HashMap::from([(k.clone(), v.clone()), ("mcp-docker-test".into(), "1".into())])),
            host_config: Some(HostConfig { network_mode: Some("none".into()), ..Default::default() }),
            ..Default::default()
        };
        docker
            .create_container(Some(CreateContainerOptions { name: Some(name.clone()), ..Default::default() }), body)
            .await?;
        names.push(name);
    }
    Ok(names)
}

async fn bollard_list(docker: &Docker) -> anyhow::Result<()> {
    let filters = HashMap::from([("label".to_string(), vec![label()])]);
    let list = docker
        .list_containers(Some(ListContainersOptions { all: true, filters: Some(filters), ..Default::default() }))
        .await?;
    if list.len() != CONTAINERS {
        bail!("bollard listed {}", list.len());
    }
    std::hint::black_box(list);
    Ok(())
}

async fn mcp_list(client: &Client) -> anyhow::Result<()> {
    let result = client.call_tool("list_containers", json!({"all": true, "label": [label()]})).await?;
    let total = result.structured_content.as_ref().and_then(|s| s["total"].as_u64()).unwrap_or(0);
    if result.is_error || total != CONTAINERS as u64 {
        bail!("mcp listed {total}");
    }
    Ok(())
}

fn percentile(samples: &mut [Duration], p: f64) -> Duration {
    samples.sort();
    samples[((samples.len() - 1) as f64 * p).round() as usize]
}

fn rss_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status.lines().find_map(|l| l.strip_prefix("VmRSS:")).and_then(|v| v.split_whitespace().next()?.parse().ok())
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> anyhow::Result<()> {
    let quick = std::env::args().any(|a| a == "--quick");
    let iterations = if quick { 20 } else { 200 };
    let host = host()?;
    let docker = Docker::connect_with_unix(host.trim_start_matches("unix://"), 60, bollard::API_DEFAULT_VERSION)?
        .negotiate_version()
        .await?;
    let names = setup(&docker).await?;
    let binary = env!("CARGO_BIN_EXE_mcp-docker");

    let started = Instant::now();
    let mut cmd = tokio::process::Command::new(binary);
    cmd.args(["--docker-host", &host]).env("MCP_LOG_LEVEL", "warn").kill_on_drop(true);
    // Extra server flags to compare runtimes, e.g. MCP_DOCKER_BENCH_ARGS="--worker-threads 2".
    if let Ok(extra) = std::env::var("MCP_DOCKER_BENCH_ARGS") {
        cmd.args(extra.split_whitespace());
    }
    let client = Client::connect_stdio(cmd, ClientOptions::default()).await?;
    let startup = started.elapsed();

    let result = run(&docker, &client, &names, iterations).await;

    // Idle memory: an HTTP server, so the process is ours to measure.
    let mut http = tokio::process::Command::new(binary)
        .args(["--docker-host", &host, "--transport", "http", "--listen", "127.0.0.1:0", "--worker-threads", "1"])
        .env("MCP_LOG_LEVEL", "warn")
        .kill_on_drop(true)
        .spawn()?;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let idle = http.id().and_then(rss_kib);
    let _ = http.start_kill();

    for name in &names {
        let _ = docker.remove_container(name, Some(RemoveContainerOptions { force: true, ..Default::default() })).await;
    }
    let ratios = result?;
    println!("startup (spawn to initialized, stdio): {:.1} ms", startup.as_secs_f64() * 1000.0);
    if let Some(kib) = idle {
        println!("idle memory (HTTP server, RSS): {:.1} MiB", kib as f64 / 1024.0);
    }
    let worst = ratios.iter().cloned().fold(0.0, f64::max);
    println!("target: mcp-docker <= 1.2x bollard; worst ratio {worst:.2}x");
    Ok(())
}

async fn run(docker: &Docker, client: &Client, names: &[String], iterations: usize) -> anyhow::Result<Vec<f64>> {
    let target = &names[CONTAINERS / 2];
    // Warm both paths (connection, version negotiation, page cache).
    for _ in 0..3 {
        bollard_list(docker).await?;
        mcp_list(client).await?;
    }
    let (mut bl, mut ml, mut bi, mut mi) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    for _ in 0..iterations {
        let t = Instant::now();
        bollard_list(docker).await?;
        bl.push(t.elapsed());
        let t = Instant::now();
        mcp_list(client).await?;
        ml.push(t.elapsed());
        let t = Instant::now();
        std::hint::black_box(docker.inspect_container(target, None).await?);
        bi.push(t.elapsed());
        let t = Instant::now();
        let r = client.call_tool("inspect_container", json!({"container": target})).await?;
        if r.is_error {
            bail!("inspect failed");
        }
        mi.push(t.elapsed());
    }
    // The connector's floor: a call refused before any Docker request.
    let mut floor = Vec::new();
    for _ in 0..iterations {
        let t = Instant::now();
        let r = client.call_tool("list_containers", json!({"status": "bogus"})).await?;
        if !r.is_error {
            bail!("expected a refusal");
        }
        floor.push(t.elapsed());
    }
    println!("{CONTAINERS} containers, {iterations} rounds, p50 / p99:");
    println!(
        "  MCP round trip without Docker (stdio, refused call): {:.3} ms",
        percentile(&mut floor, 0.5).as_secs_f64() * 1e3
    );
    let mut ratios = Vec::new();
    for (case, b, m) in [("list_containers", &mut bl, &mut ml), ("inspect_container", &mut bi, &mut mi)] {
        let (b50, b99, m50, m99) = (percentile(b, 0.5), percentile(b, 0.99), percentile(m, 0.5), percentile(m, 0.99));
        let ratio = m50.as_secs_f64() / b50.as_secs_f64();
        println!(
            "  {case:18} bollard {:7.3} / {:7.3} ms   mcp-docker {:7.3} / {:7.3} ms   {ratio:.2}x",
            b50.as_secs_f64() * 1e3,
            b99.as_secs_f64() * 1e3,
            m50.as_secs_f64() * 1e3,
            m99.as_secs_f64() * 1e3
        );
        ratios.push(ratio);
    }
    Ok(ratios)
}
