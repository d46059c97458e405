//! In-process cost of the security layers: `Server::answer` for the echo tool, written
//! out as a transport writes it, without any I/O, plain and with the policy, the audit trail (to a file) and
//! both. Separates what the layers cost from the noise of sockets and pipes. Besides the
//! time per call, it reports the CPU time per call of the whole process, the audit
//! writer thread included (what a request costs a machine whose cores are all busy).
//!
//! ```sh
//! cargo bench -p mcp-bench --bench dispatch -- [--quick] [--only plain|policy|audit|policy+audit]
//! ```

// The report is this program's output.
#![allow(clippy::print_stdout)]

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

use std::sync::Arc;
use std::time::{Duration, Instant};

use mcp_core::protocol::{Request, RequestId};
use mcp_core::security::{AuditLog, Identity, Policy};
use mcp_core::server::{Server, ServerBuilder, Session};
use mcp_core::{Context, ToolError, tool};
use serde_json::json;

#[derive(serde::Deserialize, schemars::JsonSchema)]
struct EchoArgs {
    /// The text to send back.
    message: String,
}

fn builder() -> ServerBuilder {
    Server::builder("dispatch-bench", "1")
        .tool(tool("echo", |_ctx: Context, a: EchoArgs| async move { Ok::<_, ToolError>(a.message) }).read_only())
}

fn policy() -> Policy {
    Policy::default()
        .with_toml("deny_tools = [\"drop_*\", \"delete_*\"]\n[identities.bench]\nallow_tools = [\"echo\"]\n", "bench")
        .unwrap_or_default()
}

/// Time per call over one run of `calls`.
fn per_call(runtime: &tokio::runtime::Runtime, server: &Server, calls: usize) -> Duration {
    let session = Arc::new(Session::for_client("bench", Identity::named("bench")));
    let request = |id: i64| Request {
        id: RequestId::Number(id),
        method: "tools/call".into(),
        // Stateless: no initialize needed.
        params: json!({"name": "echo", "arguments": {"message": "hello"}, "_meta": {
            "io.modelcontextprotocol/protocolVersion": "2026-07-28",
            "io.modelcontextprotocol/clientCapabilities": {}
        }})
        .as_object()
        .cloned(),
    };
    runtime.block_on(async {
        // As a transport does: the answer is written out, which closes its audit line.
        let mut out = Vec::with_capacity(1024);
        let started = Instant::now();
        for id in 0..calls {
            let answer = server.answer(&session, request(id as i64), 180, None).await;
            assert!(answer.response().outcome.is_ok());
            answer.write_to(&mut out);
            out.clear();
        }
        started.elapsed() / calls as u32
    })
}

/// The median of each server's rounds, in nanoseconds.
fn medians(mut rounds: Vec<Vec<Duration>>) -> Vec<f64> {
    rounds
        .iter_mut()
        .map(|t| {
            t.sort();
            t[t.len() / 2].as_nanos() as f64
        })
        .collect()
}

/// CPU time used so far by the threads of this process that are still running (from
/// Linux's per-thread schedstat; zero elsewhere).
fn process_cpu() -> Duration {
    mcp_bench::cpu_time(std::process::id()).unwrap_or_default()
}

fn main() -> std::io::Result<()> {
    let quick = std::env::args().any(|a| a == "--quick");
    let calls = if quick { 20_000 } else { 200_000 };
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    let dir = tempfile::tempdir()?;
    let audit = |name: &str| AuditLog::to_file(&dir.path().join(name));
    let servers = [
        ("plain", builder().build()),
        ("policy", builder().policy(policy()).build()),
        ("audit", builder().audit(audit("a.jsonl")?).build()),
        ("policy+audit", builder().policy(policy()).audit(audit("b.jsonl")?).build()),
    ];
    // `--only NAME` runs one server alone (to profile it).
    let only = std::env::args().skip_while(|a| a != "--only").nth(1);
    let servers: Vec<_> = servers.into_iter().filter(|(name, _)| only.as_ref().is_none_or(|o| o == name)).collect();
    // Rounds interleave the servers, so that drifts of the machine hit them all alike;
    // each keeps its median round.
    let mut times: Vec<Vec<Duration>> = vec![Vec::new(); servers.len()];
    let mut cpu: Vec<Vec<Duration>> = vec![Vec::new(); servers.len()];
    for _ in 0..7 {
        for (i, (_, server)) in servers.iter().enumerate() {
            let before = process_cpu();
            times[i].push(per_call(&runtime, server, calls));
            server.flush_audit();
            cpu[i].push((process_cpu().saturating_sub(before)) / calls as u32);
        }
    }
    let (medians, cpu) = (medians(times), medians(cpu));
    for (((name, _), t), c) in servers.iter().zip(&medians).zip(&cpu) {
        println!(
            "{name:<14} {t:>7.0} ns per call  (+{:>5.0} ns over plain)   CPU {c:>7.0} ns per call  (+{:>5.0} ns)",
            t - medians[0],
            c - cpu[0]
        );
    }
    Ok(())
}
