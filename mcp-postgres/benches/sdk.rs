//! The `sdk` benchmark: `query` end to end as the official SDK clients see it, against
//! mcp-postgres and against the archived reference server
//! `@modelcontextprotocol/server-postgres` (npm), side by side in alternating rounds of one
//! run. The clients (sdk_client.py: the Python SDK, PyPI `mcp`; sdk_client.mjs: the
//! TypeScript SDK, npm `@modelcontextprotocol/client`) parse every response and validate
//! `structuredContent` against the tool's `outputSchema`, as they do for any caller.
//!
//! ```sh
//! MCP_TEST_DATABASE_URL=postgres://... MCP_SDK_PYTHON=$CACHE/py-mcp/bin/python \
//!   MCP_SERVER_POSTGRES_JS=$CACHE/npm/node_modules/@modelcontextprotocol/server-postgres/dist/index.js \
//!   [MCP_TS_SDK_DIR=$CACHE/npm] cargo bench -p mcp-postgres --bench sdk -- [--quick]
//! ```
//!
//! scripts/setup-tools.sh installs both SDKs and the reference server into the cache;
//! scripts/test.sh sets the variables. Cases: the `query` bench's point select and its
//! 10,000-row select. Target: mcp-postgres no slower than server-postgres through the
//! Python SDK client.

// The report is this program's output.
#![allow(clippy::print_stdout)]

mod common;

use std::collections::BTreeMap;
use std::process::Command;

use anyhow::{Context as _, bail};
use serde_json::Value;

const SERVER_POSTGRES: &str = "server-postgres";

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let quick = std::env::args().any(|a| a == "--quick");
    let url = common::url()?;
    let python = std::env::var("MCP_SDK_PYTHON")
        .context("set MCP_SDK_PYTHON to a python with the `mcp` package (scripts/setup-tools.sh)")?;
    let reference = std::env::var("MCP_SERVER_POSTGRES_JS")
        .context("set MCP_SERVER_POSTGRES_JS to server-postgres's dist/index.js (scripts/setup-tools.sh)")?;
    common::setup(&url).await?.close().await;

    let connector = env!("CARGO_BIN_EXE_mcp-postgres");
    let mut servers: Vec<String> = vec![format!("mcp-postgres={connector}")];
    servers.extend(common::connector_args(&url));
    servers.extend(["--".into(), format!("{SERVER_POSTGRES}=node"), reference, url.clone()]);
    // Per round: the point select runs 20x this many times, the 10,000-row select this many.
    let (iterations, rounds) = if quick { ("1", "1") } else { ("20", "3") };
    let here = concat!(env!("CARGO_MANIFEST_DIR"), "/benches");

    let mut script = Command::new(&python);
    script.arg(format!("{here}/sdk_client.py")).args([iterations, rounds]).args(&servers);
    cases(&mut script);
    report("Python SDK (PyPI mcp)", run(script)?, true)?;

    match std::env::var("MCP_TS_SDK_DIR") {
        Ok(dir) => {
            // ESM resolves packages from the script's own directory.
            let copy = format!("{dir}/sdk-bench-client.mjs");
            std::fs::copy(format!("{here}/sdk_client.mjs"), &copy).context("copying the TypeScript client")?;
            let mut script = Command::new("node");
            script.arg(&copy).args([iterations, rounds]).args(&servers);
            cases(&mut script);
            report("TypeScript SDK (npm @modelcontextprotocol/client)", run(script)?, false)?;
        }
        Err(_) => println!("(MCP_TS_SDK_DIR not set: the TypeScript SDK client is not measured)"),
    }
    Ok(())
}

/// The `query` bench's cases, for a client script.
fn cases(script: &mut Command) {
    script.env("MCP_BENCH_POINT", common::POINT).env("MCP_BENCH_MANY", common::MANY);
}

/// Runs a client script; its lines of JSON, one per (server, case).
fn run(mut script: Command) -> anyhow::Result<Vec<Value>> {
    let out = script.output().with_context(|| format!("starting {script:?}"))?;
    if !out.status.success() {
        bail!("{script:?} failed ({}): {}", out.status, String::from_utf8_lossy(&out.stderr));
    }
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).with_context(|| format!("a line of the client's report: {l}")))
        .collect()
}

fn report(client: &str, lines: Vec<Value>, with_target: bool) -> anyhow::Result<()> {
    println!("{client}");
    let mut by_case: BTreeMap<String, BTreeMap<String, (f64, Option<f64>)>> = BTreeMap::new();
    for l in &lines {
        let (Some(server), Some(case), Some(median)) =
            (l["server"].as_str(), l["case"].as_str(), l["median_us"].as_f64())
        else {
            bail!("unexpected report line: {l}");
        };
        println!(
            "  {server:<18} {case:<14} {median:>10.1} us{}",
            l["validation_us"]
                .as_f64()
                .map(|v| format!("  (of which output-schema validation {v:.1} us)"))
                .unwrap_or_default()
        );
        by_case.entry(case.into()).or_default().insert(server.into(), (median, l["validation_us"].as_f64()));
    }
    for (case, servers) in &by_case {
        let (Some((ours, _)), Some((theirs, _))) = (servers.get("mcp-postgres"), servers.get(SERVER_POSTGRES)) else {
            bail!("the client reported {case} for only some servers");
        };
        let ratio = ours / theirs;
        // The target is the issue's: the 10,000-row case through the Python client.
        let verdict = match (with_target && case == "10,000 rows", ratio <= 1.0) {
            (false, _) => "",
            (true, true) => "  (target <= 1.0: met)",
            (true, false) => "  (target <= 1.0: MISSED)",
        };
        println!("  {case:<14} mcp-postgres / server-postgres: {ratio:.2}x{verdict}");
    }
    Ok(())
}
