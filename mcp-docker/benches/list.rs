//! The `list` benchmark: listing 100 containers and inspecting one, through bollard
//! directly and through mcp-docker over stdio (mcp-core's client, parsing every
//! response), side by side in alternating rounds so a noisy machine slows both alike;
//! the inspect also through a server with a `--scope-label` (its guard's inspect is the
//! answer: one Docker request, as bollard makes). Each case prints its ratio to bollard
//! and its target (issue 24), then the CPU each side spends per call (the connector's:
//! the server process plus the client's parsing), which a loaded machine blurs less than
//! wall time. Also the binary's startup time and idle memory.
//!
//! ```sh
//! DOCKER_HOST=unix://... cargo bench -p mcp-docker --bench list -- [--quick]
//! ```
//!
//! `MCP_DOCKER_BENCH_BIN=path` runs another build of the server (to compare two builds).

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

/// Most mcp-docker may take per case, as a multiple of bollard's p50 (issue 24).
const TARGETS: [(&str, f64); 3] =
    [("list_containers", 1.1), ("inspect_container", 1.2), ("inspect_container, scoped", 1.2)];

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

async fn bollard_inspect(docker: &Docker, target: &str) -> anyhow::Result<()> {
    std::hint::black_box(docker.inspect_container(target, None).await?);
    Ok(())
}

async fn mcp_inspect(client: &Client, target: &str) -> anyhow::Result<()> {
    let r = client.call_tool("inspect_container", json!({"container": target})).await?;
    if r.is_error {
        bail!("inspect failed: {:?}", r.content);
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
    let binary = std::env::var("MCP_DOCKER_BENCH_BIN").unwrap_or_else(|_| env!("CARGO_BIN_EXE_mcp-docker").into());
    let binary = binary.as_str();

    let started = Instant::now();
    let client = serve(binary, &host, &[]).await?;
    let startup = started.elapsed();
    let scoped = serve(binary, &host, &["--scope-label", &label()]).await?;

    let result = run(&docker, &client, &scoped, &names, iterations).await;

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
    let missed = result?;
    println!("startup (spawn to initialized, stdio): {:.1} ms", startup.as_secs_f64() * 1000.0);
    if let Some(kib) = idle {
        println!("idle memory (HTTP server, RSS): {:.1} MiB", kib as f64 / 1024.0);
    }
    if missed.is_empty() {
        println!("every case within its target");
    } else {
        println!("missed targets: {}", missed.join(", "));
    }
    Ok(())
}

/// A stdio server (the child just spawned) and its process id, for its CPU time.
struct Served {
    client: Client,
    pid: Option<u32>,
}

async fn serve(binary: &str, host: &str, args: &[&str]) -> anyhow::Result<Served> {
    let before = children();
    let mut cmd = tokio::process::Command::new(binary);
    cmd.args(["--docker-host", host]).args(args).env("MCP_LOG_LEVEL", "warn").kill_on_drop(true);
    // Extra server flags to compare runtimes, e.g. MCP_DOCKER_BENCH_ARGS="--worker-threads 2".
    if let Ok(extra) = std::env::var("MCP_DOCKER_BENCH_ARGS") {
        cmd.args(extra.split_whitespace());
    }
    let client = Client::connect_stdio(cmd, ClientOptions::default()).await?;
    let pid = children().into_iter().find(|p| !before.contains(p));
    Ok(Served { client, pid })
}

/// This process's children.
fn children() -> Vec<u32> {
    let Ok(tasks) = std::fs::read_dir("/proc/self/task") else { return Vec::new() };
    tasks
        .flatten()
        .filter_map(|t| std::fs::read_to_string(t.path().join("children")).ok())
        .flat_map(|c| c.split_whitespace().filter_map(|p| p.parse().ok()).collect::<Vec<u32>>())
        .collect()
}

/// CPU time a process has used (all its threads), from the scheduler's statistics.
fn cpu(pid: &str) -> Duration {
    let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) else { return Duration::ZERO };
    let ns: u64 = tasks
        .flatten()
        .filter_map(|t| std::fs::read_to_string(t.path().join("schedstat")).ok())
        .filter_map(|s| s.split_whitespace().next()?.parse::<u64>().ok())
        .sum();
    Duration::from_nanos(ns)
}

/// CPU per call of `calls` runs of `f`: of this process, and of `server` if given.
async fn cpu_per_call<F: std::future::Future<Output = anyhow::Result<()>>>(
    calls: u32,
    server: Option<u32>,
    mut f: impl FnMut() -> F,
) -> anyhow::Result<(Duration, Duration)> {
    let server = server.map(|p| p.to_string());
    let (me0, srv0) = (cpu("self"), server.as_deref().map_or(Duration::ZERO, cpu));
    for _ in 0..calls {
        f().await?;
    }
    let (me1, srv1) = (cpu("self"), server.as_deref().map_or(Duration::ZERO, cpu));
    Ok(((me1 - me0) / calls, srv1.saturating_sub(srv0) / calls))
}

async fn run(
    docker: &Docker,
    served: &Served,
    scoped: &Served,
    names: &[String],
    iterations: usize,
) -> anyhow::Result<Vec<String>> {
    let (client, target) = (&served.client, &names[CONTAINERS / 2]);
    // Warm every path (connection, version negotiation, page cache).
    for _ in 0..3 {
        bollard_list(docker).await?;
        mcp_list(client).await?;
        mcp_inspect(client, target).await?;
        mcp_inspect(&scoped.client, target).await?;
    }
    // The lists first, then the inspects (a list's aftermath in the daemon would slow the
    // inspect after it); each pair alternates which side goes first.
    let mut samples: [(Vec<Duration>, Vec<Duration>); 3] = Default::default();
    for round in 0..iterations {
        for side in if round % 2 == 0 { [0, 1] } else { [1, 0] } {
            let t = Instant::now();
            if side == 0 {
                bollard_list(docker).await?;
                samples[0].0.push(t.elapsed());
            } else {
                mcp_list(client).await?;
                samples[0].1.push(t.elapsed());
            }
        }
    }
    for round in 0..iterations {
        for (case, client) in [(1, client), (2, &scoped.client)] {
            let mut pair = [Duration::ZERO; 2];
            for side in if round % 2 == 0 { [0, 1] } else { [1, 0] } {
                let t = Instant::now();
                if side == 0 {
                    bollard_inspect(docker, target).await?;
                } else {
                    mcp_inspect(client, target).await?;
                }
                pair[side] = t.elapsed();
            }
            samples[case].0.push(pair[0]);
            samples[case].1.push(pair[1]);
        }
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
    let ms = |d: Duration| d.as_secs_f64() * 1e3;
    let mut missed = Vec::new();
    for ((case, target), (b, m)) in TARGETS.iter().zip(samples.iter_mut()) {
        let (b50, b99, m50, m99) = (percentile(b, 0.5), percentile(b, 0.99), percentile(m, 0.5), percentile(m, 0.99));
        let ratio = m50.as_secs_f64() / b50.as_secs_f64();
        let verdict = if ratio <= *target { "ok" } else { "MISSED" };
        println!(
            "  {case:26} bollard {:7.3} / {:7.3} ms   mcp-docker {:7.3} / {:7.3} ms   {ratio:.2}x (target <= {target}x: {verdict})",
            ms(b50),
            ms(b99),
            ms(m50),
            ms(m99)
        );
        if ratio > *target {
            missed.push(format!("{case} {ratio:.2}x > {target}x"));
        }
    }
    // CPU per call, in phases (a process's CPU time cannot be split between interleaved calls).
    let calls = (iterations as u32 / 2).max(10);
    println!("CPU per call ({calls} calls): bollard | mcp-docker server + client:");
    let (b, _) = cpu_per_call(calls, None, || bollard_list(docker)).await?;
    let (c, s) = cpu_per_call(calls, served.pid, || mcp_list(client)).await?;
    println!("  {:26} {:7.3} ms | {:7.3} + {:.3} ms", "list_containers", ms(b), ms(s), ms(c));
    let (b, _) = cpu_per_call(calls, None, || bollard_inspect(docker, target)).await?;
    for (case, served) in [("inspect_container", served), ("inspect_container, scoped", scoped)] {
        let (c, s) = cpu_per_call(calls, served.pid, || mcp_inspect(&served.client, target)).await?;
        println!("  {case:26} {:7.3} ms | {:7.3} + {:.3} ms", ms(b), ms(s), ms(c));
    }
    Ok(missed)
}
