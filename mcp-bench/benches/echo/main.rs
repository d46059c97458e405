//! The echo benchmark: the same `echo` tool served by mcp-core, by rmcp and by the floor (a
//! bare read-parse-write loop), driven side by side in one run over a real stdio pipe,
//! over HTTP on loopback and (mcp-core only: rmcp has no WebSocket server) over WebSocket.
//!
//! ```sh
//! cargo build --release -p mcp-bench --examples
//! cargo bench -p mcp-bench --bench echo -- [--quick] [--json PATH] [--check] [--only mcp-core,rmcp,…]
//!     [--transport stdio|http|ws] [--cost] [--sessions N] [--start]
//! ```
//!
//! For each server it measures sequential round trips (p50, p99), throughput with 32
//! requests in flight on one connection (stdio and WebSocket: pipelined on the one
//! connection; HTTP: 32 concurrent requests on a keep-alive pool) and, over stdio, the
//! time from spawn to the first response. The "secure" rows run mcp-core with everything
//! on: bearer-token auth, a policy file and an audit trail written to a file; what that
//! costs is then measured on a plain and a secure server side by side (see `cost.rs`;
//! `--cost` measures only that; `MCP_BENCH_AUDIT_LOG=/dev/null` sends their trails nowhere,
//! to see the disk's share). `--sessions N` measures instead the server's memory per idle
//! session (N HTTP sessions, then N WebSocket connections). `--start` measures instead
//! each server's first answer after spawn and its idle memory, the connectors' too (see
//! `start.rs`). `--check` exits non-zero when a target is missed.

// The report is this program's output.
#![allow(clippy::print_stdout)]

mod cost;
mod http;
mod sessions;
mod start;
mod stdio;
mod ws;

use std::path::{Path, PathBuf};

use anyhow::{Context as _, ensure};
use mcp_bench::{Era, Launch, Row, Sizes};
use serde_json::{Value, json};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Transport {
    Stdio,
    Http,
    Ws,
}

impl Transport {
    fn name(self) -> &'static str {
        match self {
            Transport::Stdio => "stdio",
            Transport::Http => "http",
            Transport::Ws => "ws",
        }
    }
}

struct Target {
    name: &'static str,
    example: &'static str,
    era: Era,
    /// Auth, policy and audit on.
    secure: bool,
    transports: &'static [Transport],
}

const ALL: &[Transport] = &[Transport::Stdio, Transport::Http, Transport::Ws];
const NO_WS: &[Transport] = &[Transport::Stdio, Transport::Http];

const TARGETS: &[Target] = &[
    Target { name: "mcp-core", example: "bench_server_mcp_core", era: Era::Handshake, secure: false, transports: ALL },
    Target {
        name: "mcp-core secure",
        example: "bench_server_mcp_core",
        era: Era::Handshake,
        secure: true,
        transports: ALL,
    },
    Target {
        name: "mcp-core 2026",
        example: "bench_server_mcp_core",
        era: Era::Stateless,
        secure: false,
        transports: ALL,
    },
    Target { name: "rmcp", example: "bench_server_rmcp", era: Era::Handshake, secure: false, transports: NO_WS },
    Target { name: "rmcp 2026", example: "bench_server_rmcp", era: Era::Stateless, secure: false, transports: NO_WS },
    Target { name: "floor", example: "bench_server_floor", era: Era::Handshake, secure: false, transports: NO_WS },
];

const TOKEN: &str = "echo-bench-token-0123456789";

fn flag<'a>(args: &'a [String], name: &str) -> Option<&'a str> {
    args.iter().position(|a| a == name).and_then(|i| args.get(i + 1)).map(String::as_str)
}

fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let quick = args.iter().any(|a| a == "--quick");
    let check = args.iter().any(|a| a == "--check");
    let sizes = if quick {
        Sizes { sequential: 2_000, pipelined: 10_000, spawns: 5 }
    } else {
        Sizes { sequential: 20_000, pipelined: 200_000, spawns: 30 }
    };
    let bin_dir = examples_dir()?;
    let scratch = tempfile::tempdir()?;
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;

    if let Some(count) = flag(&args, "--sessions") {
        let count: usize = count.parse().context("--sessions takes a number")?;
        let args = vec!["--max-sessions".to_string(), (count + 10).to_string()];
        let launch = Launch { binary: bin_dir.join("bench_server_mcp_core"), args, token: None };
        let (http, ws) = runtime.block_on(sessions::bench_sessions(&launch, count))?;
        println!(
            "idle memory per session, {count} open: HTTP {:.1} KiB, WebSocket {:.1} KiB",
            http / 1024.0,
            ws / 1024.0
        );
        return Ok(());
    }

    if args.iter().any(|a| a == "--start") {
        let missed = bench_start(&bin_dir, scratch.path(), flag(&args, "--only"))?;
        ensure!(!check || missed == 0, "{missed} target(s) missed");
        return Ok(());
    }

    let only = flag(&args, "--only");
    let transports: Vec<Transport> = match flag(&args, "--transport") {
        Some("stdio") => vec![Transport::Stdio],
        Some("http") => vec![Transport::Http],
        Some("ws") => vec![Transport::Ws],
        _ => ALL.to_vec(),
    };
    let cost_only = args.iter().any(|a| a == "--cost");
    let mut results: Vec<(String, &'static str, Row)> = Vec::new();
    let mut costs: Vec<(Transport, cost::Cost)> = Vec::new();
    for transport in transports {
        // The security layers' cost: the secure server against the plain one, side by side.
        let [plain, secure] = [&TARGETS[0], &TARGETS[1]];
        if only.is_none_or(|o| o.split(',').any(|n| n == plain.name) && o.split(',').any(|n| n == secure.name)) {
            // Short chunks, many rounds: the machine's drifts are slow next to a chunk.
            let (rounds, chunk) = match (quick, transport) {
                (true, _) => (3, 2_000),
                (false, Transport::Http) => (41, 2_000),
                (false, _) => (41, 6_000),
            };
            let (a, b) =
                (launch(&bin_dir, plain, scratch.path(), 100)?, launch(&bin_dir, secure, scratch.path(), 101)?);
            let cost = cost::measure(transport, plain.era, &a, &b, rounds, chunk, &runtime)
                .with_context(|| format!("the security layers' cost over {}", transport.name()))?;
            costs.push((transport, cost));
        }
        if cost_only {
            continue;
        }
        let targets: Vec<(usize, &Target)> = TARGETS
            .iter()
            .enumerate()
            .filter(|(_, t)| t.transports.contains(&transport))
            .filter(|(_, t)| only.is_none_or(|o| o.split(',').any(|n| n == t.name)))
            .collect();
        // The machines are noisy: a full run makes three rounds and keeps each target's
        // median. Rounds run the targets in turn (A B C, A B C, ...) so that a slow spell
        // of the machine falls on all of them rather than on one.
        let mut runs: Vec<Vec<Row>> = vec![Vec::new(); targets.len()];
        for _ in 0..if quick { 1 } else { 3 } {
            for ((i, target), runs) in targets.iter().zip(&mut runs) {
                let launch = launch(&bin_dir, target, scratch.path(), *i)?;
                let row = match transport {
                    Transport::Stdio => stdio::bench_stdio(&launch, target.era, &sizes),
                    Transport::Http => runtime.block_on(http::bench_http(&launch, target.era, &sizes)),
                    Transport::Ws => runtime.block_on(ws::bench_ws(&launch, target.era, &sizes)),
                }
                .with_context(|| format!("{} over {}", target.name, transport.name()))?;
                runs.push(row);
            }
        }
        for ((_, target), runs) in targets.iter().zip(runs) {
            let row = median_row(runs);
            print_row(target.name, transport.name(), &row);
            results.push((target.name.to_owned(), transport.name(), row));
        }
    }

    let find = |name: &str, transport: &str| {
        results.iter().find(|(n, t, _)| n == name && *t == transport).map(|(_, _, r)| r.clone())
    };
    // Each target compares two rows of this run; targets whose rows were not run are skipped.
    let ratio = |a: Option<Row>, b: Option<Row>, f: fn(&Row) -> f64| Some(f(&a?) / f(&b?));
    let throughput = |r: &Row| r.calls_per_sec;
    let cost_of = |t: Transport| costs.iter().find(|(c, _)| *c == t).map(|(_, c)| c.ratio);
    let throughput_of = |t: Transport| costs.iter().find(|(c, _)| *c == t).map(|(_, c)| c.throughput_ratio);
    let checks = [
        (
            "stdio throughput vs rmcp (>= 5x)",
            ratio(find("mcp-core", "stdio"), find("rmcp", "stdio"), throughput),
            5.0,
            true,
        ),
        (
            "HTTP throughput vs rmcp (>= 2x)",
            ratio(find("mcp-core", "http"), find("rmcp", "http"), throughput),
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
        // The security layers' cost, measured side by side (cost.rs): the calls per second
        // the secure server keeps, as the target says, and its CPU per call, which is what
        // it keeps where every core is busy.
        ("HTTP secure vs plain, calls/s (>= 0.9)", throughput_of(Transport::Http), 0.9, true),
        ("WebSocket secure vs plain, calls/s (>= 0.9)", throughput_of(Transport::Ws), 0.9, true),
        // stdio has no authentication: its policy + audit cost is held to the same bound.
        ("stdio policy+audit vs plain, calls/s (>= 0.9)", throughput_of(Transport::Stdio), 0.9, true),
        ("HTTP secure vs plain, server CPU (>= 0.9)", cost_of(Transport::Http), 0.9, true),
        ("WebSocket secure vs plain, server CPU (>= 0.9)", cost_of(Transport::Ws), 0.9, true),
        ("stdio policy+audit vs plain, server CPU (>= 0.9)", cost_of(Transport::Stdio), 0.9, true),
    ];
    println!();
    for (transport, c) in &costs {
        println!(
            "secure vs plain over {:<5}: server CPU/call {:.2} us (audit writer {:.2} us) vs {:.2} us, ratio {:.3} (middle half of the rounds {:.3} to {:.3}; the median's 95% interval {:.3} to {:.3})",
            transport.name(),
            c.secure_us,
            c.audit_writer_us,
            c.plain_us,
            c.ratio,
            c.quartiles.0,
            c.quartiles.1,
            c.interval.0,
            c.interval.1
        );
        println!(
            "    calls/s, secure over plain: {:.3} (middle half of the rounds {:.3} to {:.3}; the median's 95% interval {:.3} to {:.3})",
            c.throughput_ratio,
            c.throughput_quartiles.0,
            c.throughput_quartiles.1,
            c.throughput_interval.0,
            c.throughput_interval.1
        );
        if let Some((bytes, hash_us)) = c.audit_line {
            println!(
                "    its audit lines average {bytes:.0} bytes; the SHA-256 chaining one takes {hash_us:.2} us here"
            );
        }
    }
    println!();
    if cfg!(debug_assertions) {
        println!("(an unoptimized build: a smoke run, whose figures and targets mean nothing)");
    }
    let mut missed = 0;
    for (label, value, bound, at_least) in checks {
        let Some(value) = value else { continue };
        let met = if at_least { value >= bound } else { value <= bound };
        missed += usize::from(!met);
        println!("{label:<52} {value:>8.2}  {}", if met { "met" } else { "MISSED" });
    }

    if let Some(path) = flag(&args, "--json") {
        let rows: Vec<Value> = results
            .iter()
            .map(|(name, transport, r)| {
                json!({"server": name, "transport": transport, "p50_us": r.p50_us, "p99_us": r.p99_us,
                       "calls_per_sec": r.calls_per_sec, "first_response_ms": r.first_response_ms,
                       "server_cpu_us": r.server_cpu_us})
            })
            .collect();
        let costs: Vec<Value> = costs
            .iter()
            .map(|(transport, c)| {
                json!({"transport": transport.name(), "plain_cpu_us": c.plain_us, "secure_cpu_us": c.secure_us,
                       "audit_writer_cpu_us": c.audit_writer_us,
                       "audit_line_bytes": c.audit_line.map(|l| l.0), "audit_line_sha256_us": c.audit_line.map(|l| l.1),
                       "ratio": c.ratio, "first_quartile": c.quartiles.0, "third_quartile": c.quartiles.1,
                       "ratio_interval_95": [c.interval.0, c.interval.1],
                       "calls_per_sec_ratio": c.throughput_ratio,
                       "calls_per_sec_ratio_interval_95": [c.throughput_interval.0, c.throughput_interval.1],
                       "calls_per_sec_first_quartile": c.throughput_quartiles.0,
                       "calls_per_sec_third_quartile": c.throughput_quartiles.1})
            })
            .collect();
        std::fs::write(path, serde_json::to_vec_pretty(&json!({"rows": rows, "security_cost": costs}))?)?;
    }
    ensure!(!check || missed == 0, "{missed} target(s) missed");
    Ok(())
}

/// Start and idle, side by side: every server once per round, three rounds, each one's
/// median; then the targets. Returns how many were missed.
fn bench_start(bin_dir: &Path, scratch: &Path, only: Option<&str>) -> anyhow::Result<usize> {
    let subjects: Vec<start::Subject> = start::subjects(bin_dir, scratch)?
        .into_iter()
        .filter(|s| only.is_none_or(|o| o.split(',').any(|n| n == s.name)))
        .collect();
    let mut runs: Vec<Vec<start::Start>> = vec![Vec::new(); subjects.len()];
    for _ in 0..3 {
        for (subject, runs) in subjects.iter().zip(&mut runs) {
            runs.push(start::measure(subject).with_context(|| format!("starting {}", subject.name))?);
        }
    }
    let mut rows = Vec::new();
    for (subject, mut runs) in subjects.iter().zip(runs) {
        runs.sort_by(|a, b| a.first_ms.total_cmp(&b.first_ms));
        let first_ms = runs[runs.len() / 2].first_ms;
        runs.sort_by_key(|r| r.rss_kib);
        let row = start::Start { first_ms, ..runs[runs.len() / 2].clone() };
        start::print(&subject.name, &row);
        rows.push((subject.name.as_str(), row));
    }
    let get = |name: &str| rows.iter().find(|(n, _)| *n == name).map(|(_, r)| r);
    let mut checks: Vec<(String, Option<f64>, f64)> = vec![
        (
            "mcp-core first answer vs rmcp's (<= 1x)".into(),
            get("mcp-core").zip(get("rmcp")).map(|(a, b)| a.first_ms / b.first_ms),
            1.0,
        ),
        (
            "mcp-core idle RSS vs rmcp's (<= 1.5x)".into(),
            get("mcp-core").zip(get("rmcp")).map(|(a, b)| a.rss_kib as f64 / b.rss_kib as f64),
            1.5,
        ),
    ];
    for (name, row) in rows.iter().filter(|(n, _)| n.starts_with("mcp-") && *n != "mcp-core") {
        let echo = get("mcp-core").map(|e| row.first_ms - e.first_ms);
        checks.push((format!("{name} first answer minus echo's, ms (<= 2)"), echo, 2.0));
        checks.push((format!("{name} idle RSS, MiB (<= 12)"), Some(row.rss_kib as f64 / 1024.0), 12.0));
    }
    println!();
    let mut missed = 0;
    for (label, value, bound) in checks {
        let Some(value) = value else { continue };
        let met = value <= bound;
        missed += usize::from(!met);
        println!("{label:<52} {value:>8.2}  {}", if met { "met" } else { "MISSED" });
    }
    // What a first answer pays before `main` that rmcp's does not.
    if let (Some(ours), Some(theirs)) = (get("mcp-core"), get("rmcp"))
        && ours.first_ms > theirs.first_ms
    {
        let mib = |kib: u64| kib as f64 / 1024.0;
        println!(
            "  mcp-core's extra start: {} relocations applied before main against rmcp's {} ({:.1} against {:.1} MiB \
             of data and relocations resident)",
            ours.relocations.map_or("?".to_string(), |n| n.to_string()),
            theirs.relocations.map_or("?".to_string(), |n| n.to_string()),
            mib(ours.binary_data_kib),
            mib(theirs.binary_data_kib)
        );
    }
    Ok(missed)
}

/// How to start `target`: the secure rows get a token file, a policy and an audit trail.
fn launch(bin_dir: &Path, target: &Target, scratch: &Path, index: usize) -> anyhow::Result<Launch> {
    let binary = bin_dir.join(target.example);
    if !target.secure {
        return Ok(Launch { binary, args: Vec::new(), token: None });
    }
    let tokens = scratch.join("tokens");
    std::fs::write(&tokens, format!("bench={TOKEN}\n"))?;
    let policy = scratch.join("policy.toml");
    std::fs::write(&policy, "deny_tools = [\"drop_*\", \"delete_*\"]\n[identities.bench]\nallow_tools = [\"echo\"]\n")?;
    let audit = std::env::var_os("MCP_BENCH_AUDIT_LOG")
        .map(PathBuf::from)
        .unwrap_or_else(|| scratch.join(format!("audit-{index}-{}.jsonl", std::process::id())));
    let path = |p: &Path| p.display().to_string();
    Ok(Launch {
        binary,
        args: vec![
            "--auth-tokens-file".into(),
            path(&tokens),
            "--policy-file".into(),
            path(&policy),
            "--audit-log".into(),
            path(&audit),
        ],
        token: Some(TOKEN.into()),
    })
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

/// The run with the median throughput, with the median of the runs' server CPU per call.
fn median_row(mut runs: Vec<Row>) -> Row {
    let mut cpu: Vec<f64> = runs.iter().filter_map(|r| r.server_cpu_us).collect();
    cpu.sort_by(f64::total_cmp);
    runs.sort_by(|a, b| a.calls_per_sec.total_cmp(&b.calls_per_sec));
    let middle = runs.len() / 2;
    let row = runs.swap_remove(middle);
    Row { server_cpu_us: cpu.get(cpu.len() / 2).copied(), ..row }
}

fn print_row(name: &str, transport: &str, row: &Row) {
    let first = row.first_response_ms.map(|ms| format!("{ms:.2} ms")).unwrap_or_else(|| "-".into());
    let cpu = row.server_cpu_us.map(|us| format!("{us:.1} us")).unwrap_or_else(|| "-".into());
    println!(
        "{name:<16} {transport:<6} p50 {:>7.1} us  p99 {:>7.1} us  {:>9.0} calls/s (32 in flight)  server CPU/call {cpu:>8}  first response {first}",
        row.p50_us, row.p99_us, row.calls_per_sec
    );
}
