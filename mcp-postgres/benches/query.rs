//! The `query` benchmark: the same SQL through sqlx directly, through mcp-postgres over
//! stdio (mcp-core's client, parsing every response) and through the archived reference
//! server `@modelcontextprotocol/server-postgres` (npm), side by side, in rounds that
//! alternate between them so that a noisy machine slows all of them alike.
//!
//! ```sh
//! MCP_TEST_DATABASE_URL=postgres://... cargo bench -p mcp-postgres --bench query -- [--quick]
//! ```
//!
//! Cases: a point select by primary key, the same with a new text at each call (a
//! comment that changes, so that no prepared statement and no kept plan verdict is
//! reused: the plan check runs every time), and a 10,000-row select of five typed columns.
//! The reference server runs when MCP_SERVER_POSTGRES_JS names its `dist/index.js` and
//! `node` is on PATH (scripts/test.sh sets both). Targets (issue 24): mcp-postgres at most
//! 1.3x raw sqlx on the point select, 1.6x on the 10,000-row case; the new-text case has
//! none (it shows what the plan check costs).
//!
//! Then the point select's steps, each timed on its own with sqlx on one connection: what
//! a `query` call sends to the server (the pool's checks, the transaction's set-up, the
//! guard's plan, which a repeated read skips while its verdict stands, the statement, the
//! rollback; the begin goes with the previous read's rollback, off the next call's path,
//! when calls follow within 250 ms, as here) and the MCP round trip (a call the text
//! guard refuses before any database work). What the connector's call costs beyond their
//! sum is its own work: decoding, rendering, JSON.
//!
//! `MCP_POSTGRES_BENCH_BIN=path` also runs another build of the server, side by side (to
//! compare two builds in one run).

// The report is this program's output.
#![allow(clippy::print_stdout)]

use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};
use mcp_core::client::{Client, ClientOptions};
use serde_json::json;
use sqlx::types::chrono::{DateTime, Utc};
use sqlx::{Executor as _, PgPool, Row as _};

mod common;

use common::{MANY, POINT};

struct Case {
    name: &'static str,
    sql: &'static str,
    /// A comment that changes at every call follows the SQL.
    new_text: bool,
    rows: usize,
    iterations: usize,
    /// Most mcp-postgres / sqlx.
    target: Option<f64>,
}

enum Target {
    Sqlx(PgPool),
    Mcp(Box<Client>),
}

impl Target {
    async fn run(&self, case: &Case) -> anyhow::Result<()> {
        static CALLS: AtomicUsize = AtomicUsize::new(0);
        let sql = if case.new_text {
            format!("{} /* call {} */", case.sql, CALLS.fetch_add(1, Ordering::Relaxed))
        } else {
            case.sql.to_string()
        };
        match self {
            Target::Sqlx(pool) => {
                // What an application does: fetch and decode every column.
                let rows = sqlx::query(&sql).fetch_all(pool).await?;
                let mut check = 0usize;
                for row in &rows {
                    let id: i32 = row.try_get(0)?;
                    let name: String = row.try_get(1)?;
                    let score: f64 = row.try_get(2)?;
                    let created: DateTime<Utc> = row.try_get(3)?;
                    let active: bool = row.try_get(4)?;
                    check +=
                        (id as usize) + name.len() + (score as usize) + created.timestamp() as usize + active as usize;
                }
                std::hint::black_box(check);
                if rows.len() != case.rows {
                    bail!("sqlx returned {} rows", rows.len());
                }
            }
            Target::Mcp(client) => {
                let result = client.call_tool("query", json!({ "sql": sql })).await?;
                if result.is_error {
                    bail!("query failed: {:?}", result.content);
                }
                // mcp-postgres returns structured rows; the reference server only text.
                let rows = match &result.structured_content {
                    Some(s) => s["rowCount"].as_u64().unwrap_or(0) as usize,
                    None => case.rows,
                };
                if rows != case.rows {
                    bail!("the server returned {rows} rows");
                }
            }
        }
        Ok(())
    }
}

async fn stdio(program: &str, args: &[&str]) -> anyhow::Result<Client> {
    let mut cmd = tokio::process::Command::new(program);
    cmd.args(args).env("MCP_LOG_LEVEL", "warn").kill_on_drop(true);
    Client::connect_stdio(cmd, ClientOptions::default()).await.with_context(|| format!("starting {program}"))
}

fn median(mut samples: Vec<Duration>) -> Duration {
    samples.sort();
    samples[samples.len() / 2]
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let quick = std::env::args().any(|a| a == "--quick");
    let url = common::url()?;
    let pool = common::setup(&url).await?;

    let mut targets: Vec<(&str, Target)> = vec![("sqlx (direct)", Target::Sqlx(pool.clone()))];
    let connector = env!("CARGO_BIN_EXE_mcp-postgres");
    let mcp_args = common::connector_args(&url);
    let mcp_args: Vec<&str> = mcp_args.iter().map(String::as_str).collect();
    targets.push(("mcp-postgres", Target::Mcp(Box::new(stdio(connector, &mcp_args).await?))));
    let other = std::env::var("MCP_POSTGRES_BENCH_BIN").ok();
    if let Some(other) = &other {
        targets.push(("mcp-postgres (other build)", Target::Mcp(Box::new(stdio(other, &mcp_args).await?))));
    }
    match std::env::var("MCP_SERVER_POSTGRES_JS") {
        Ok(js) => targets
            .push(("server-postgres (npm)", Target::Mcp(Box::new(stdio("node", &[js.as_str(), url.as_str()]).await?)))),
        Err(_) => println!("(MCP_SERVER_POSTGRES_JS not set: the npm reference server is not measured)"),
    }

    let scale = if quick { 10 } else { 1 };
    let cases = [
        Case {
            name: "point select",
            sql: POINT,
            new_text: false,
            rows: 1,
            iterations: 2000 / scale,
            target: Some(1.3),
        },
        Case { name: "point, new text", sql: POINT, new_text: true, rows: 1, iterations: 2000 / scale, target: None },
        Case {
            name: "10,000 rows",
            sql: MANY,
            new_text: false,
            rows: 10_000,
            iterations: 100 / scale,
            target: Some(1.6),
        },
    ];
    let rounds = if quick { 1 } else { 3 };
    let mut results: Vec<Vec<Duration>> = vec![Vec::new(); targets.len() * cases.len()];
    for (ci, case) in cases.iter().enumerate() {
        for (_, target) in &targets {
            for _ in 0..(case.iterations / 10).max(3) {
                target.run(case).await?;
            }
        }
        for _ in 0..rounds {
            for (ti, (_, target)) in targets.iter().enumerate() {
                let mut samples = Vec::with_capacity(case.iterations);
                for _ in 0..case.iterations {
                    let started = Instant::now();
                    target.run(case).await?;
                    samples.push(started.elapsed());
                }
                results[ci * targets.len() + ti].push(median(samples));
            }
        }
    }

    println!("{:<24} {:<16} {:>12}", "target", "case", "median");
    let at = |ci: usize, ti: usize| median(results[ci * targets.len() + ti].clone());
    for (ci, case) in cases.iter().enumerate() {
        for (ti, (name, _)) in targets.iter().enumerate() {
            println!("{name:<24} {:<16} {:>9.1} us", case.name, at(ci, ti).as_secs_f64() * 1e6);
        }
    }
    println!();
    for (ci, case) in cases.iter().enumerate() {
        let ratio = at(ci, 1).as_secs_f64() / at(ci, 0).as_secs_f64();
        let verdict = match case.target {
            Some(target) => format!("  (target <= {target}: {})", if ratio <= target { "met" } else { "MISSED" }),
            None => String::new(),
        };
        println!("{:<16} mcp-postgres / sqlx direct: {ratio:.2}x{verdict}", case.name);
        for (ti, (name, _)) in targets.iter().enumerate().skip(2) {
            let ratio = at(ci, ti).as_secs_f64() / at(ci, 1).as_secs_f64();
            println!("{:<16} {name} / mcp-postgres: {ratio:.2}x", case.name);
        }
    }
    if let Target::Mcp(client) = &targets[1].1 {
        steps(&pool, client, if quick { 200 } else { 2000 }).await?;
    }
    Ok(())
}

/// The point select's steps, each timed alone (median of `n`), next to a whole call.
async fn steps(pool: &PgPool, client: &Client, n: usize) -> anyhow::Result<()> {
    let explain = format!("EXPLAIN (VERBOSE, FORMAT JSON, COSTS OFF) {POINT}");
    // What a `query` call's transaction starts with (transaction/mod.rs).
    let begin = "BEGIN READ ONLY; SET LOCAL statement_timeout = 30000; SET LOCAL standard_conforming_strings = on; \
                 SELECT pg_backend_pid(); SAVEPOINT mcp_cut";
    let mut times: Vec<Vec<Duration>> = vec![Vec::new(); 8];
    let mut conn = pool.acquire().await?;
    for i in 0..n + n / 10 {
        let mut lap = Instant::now();
        let mut step = |k: usize, times: &mut Vec<Vec<Duration>>| {
            if i >= n / 10 {
                times[k].push(lap.elapsed());
            }
            lap = Instant::now();
        };
        sqlx::Connection::ping(&mut *conn).await?;
        step(0, &mut times);
        conn.fetch_all(sqlx::raw_sql(begin)).await?;
        step(1, &mut times);
        let plan: serde_json::Value = sqlx::query_scalar(&explain).fetch_one(&mut *conn).await?;
        std::hint::black_box(plan);
        step(2, &mut times);
        sqlx::query(POINT).fetch_all(&mut *conn).await?;
        step(3, &mut times);
        conn.execute(sqlx::raw_sql("ROLLBACK")).await?;
        step(4, &mut times);
        // The refused call: parsing, dispatch, the text guard and the error, no database.
        client.call_tool("query", json!({ "sql": "COMMIT" })).await?;
        step(5, &mut times);
        client.call_tool("query", json!({ "sql": POINT })).await?;
        step(6, &mut times);
        sqlx::query(POINT).fetch_all(&mut *conn).await?;
        step(7, &mut times);
    }
    let names = [
        "ping (the pool's test on release, off the call's path)",
        "begin (with the last read's rollback, off the call's path)",
        "plan check (EXPLAIN VERBOSE, JSON; skipped while kept)",
        "statement (cached prepared)",
        "rollback (after the answer, off the call's path)",
        "MCP round trip (a refused call)",
        "whole mcp-postgres query call",
        "whole sqlx point select (no pool)",
    ];
    println!();
    println!("point select, step by step (median of {n}, one connection):");
    for (name, t) in names.iter().zip(times) {
        println!("  {name:<56} {:>8.1} us", median(t).as_secs_f64() * 1e6);
    }
    Ok(())
}
