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

use std::collections::BTreeMap;
use std::process::Command;

use anyhow::{Context as _, bail};
use serde_json::Value;
use sqlx::Executor as _;
use sqlx::postgres::PgPoolOptions;

const SERVER_POSTGRES: &str = "server-postgres";

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let quick = std::env::args().any(|a| a == "--quick");
    let url = std::env::var("MCP_TEST_DATABASE_URL")
        .context("set MCP_TEST_DATABASE_URL to a PostgreSQL to measure (scripts/services.sh)")?;
    // The same transport for both: the npm server's driver does not use TLS unless told.
    let url = if url.contains("sslmode=") {
        url
    } else {
        format!("{url}{}sslmode=disable", if url.contains('?') { '&' } else { '?' })
    };
    let python = std::env::var("MCP_SDK_PYTHON")
        .context("set MCP_SDK_PYTHON to a python with the `mcp` package (scripts/setup-tools.sh)")?;
    let reference = std::env::var("MCP_SERVER_POSTGRES_JS")
        .context("set MCP_SERVER_POSTGRES_JS to server-postgres's dist/index.js (scripts/setup-tools.sh)")?;
    setup(&url).await?;

    let connector = env!("CARGO_BIN_EXE_mcp-postgres");
    let mut servers: Vec<String> = vec![format!("mcp-postgres={connector}")];
    servers.extend(
        [
            "--database-url",
            &url,
            "--pool-size",
            "1",
            "--max-rows",
            "10000",
            "--max-result-bytes",
            "67108864",
            "--max-output-bytes",
            "67108864",
        ]
        .map(String::from),
    );
    servers.extend(["--".into(), format!("{SERVER_POSTGRES}=node"), reference, url.clone()]);
    // Per round: the point select runs 20x this many times, the 10,000-row select this many.
    let (iterations, rounds) = if quick { ("3", "1") } else { ("20", "3") };
    let here = concat!(env!("CARGO_MANIFEST_DIR"), "/benches");

    let mut script = Command::new(&python);
    script.arg(format!("{here}/sdk_client.py")).args([iterations, rounds]).args(&servers);
    report("Python SDK (PyPI mcp)", run(script)?, true)?;

    match std::env::var("MCP_TS_SDK_DIR") {
        Ok(dir) => {
            // ESM resolves packages from the script's own directory.
            let copy = format!("{dir}/sdk-bench-client.mjs");
            std::fs::copy(format!("{here}/sdk_client.mjs"), &copy).context("copying the TypeScript client")?;
            let mut script = Command::new("node");
            script.arg(&copy).args([iterations, rounds]).args(&servers);
            report("TypeScript SDK (npm @modelcontextprotocol/client)", run(script)?, false)?;
        }
        Err(_) => println!("(MCP_TS_SDK_DIR not set: the TypeScript SDK client is not measured)"),
    }
    Ok(())
}

/// The bench table of the `query` bench, created if missing.
async fn setup(url: &str) -> anyhow::Result<()> {
    let pool = PgPoolOptions::new().max_connections(1).connect(url).await.context("connecting")?;
    pool.execute(sqlx::raw_sql(
        "CREATE SCHEMA IF NOT EXISTS mcp_bench;
         CREATE TABLE IF NOT EXISTS mcp_bench.rows (id int PRIMARY KEY, name text, score float8, created timestamptz, active bool);
         INSERT INTO mcp_bench.rows SELECT g, 'name-' || g, g * 0.5, '2024-01-01'::timestamptz + g * interval '1 minute', g % 2 = 0
           FROM generate_series(1, 20000) g ON CONFLICT DO NOTHING;
         ANALYZE mcp_bench.rows;",
    ))
    .await
    .context("creating the bench table")?;
    pool.close().await;
    Ok(())
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
        let verdict = match (with_target, ratio <= 1.0) {
            (false, _) => "",
            (true, true) => "  (target <= 1.0: met)",
            (true, false) => "  (target <= 1.0: MISSED)",
        };
        println!("  {case:<14} mcp-postgres / server-postgres: {ratio:.2}x{verdict}");
    }
    Ok(())
}
