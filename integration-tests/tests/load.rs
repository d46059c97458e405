//! 200 concurrent clients (Streamable HTTP, stateless 2026-07-28) calling a mix of read
//! tools across the four connectors for a bounded time; prints throughput, p99 and the
//! error count, and expects no error. `MCP_LOAD_SECS=60` makes a longer run.

mod common;

use std::time::{Duration, Instant};

use common::{Cluster, launcher, read_mix};
use integration_tests::{CONNECTORS, LoadReport, era, load_duration};
use mcp_core::client::{Client, EraChoice};
use mcp_core::testing::Transport;

const CLIENTS: usize = 200;

#[tokio::test(flavor = "multi_thread")]
async fn two_hundred_clients_across_the_connectors() {
    let duration = load_duration(Duration::from_secs(10));
    let cluster = Cluster::start().await;
    let mut servers = Vec::new();
    for connector in CONNECTORS {
        let server = launcher(connector, &cluster).options(era(EraChoice::Stateless)).start(Transport::Http).await;
        let url = format!("http://{}/mcp", server.listen.clone().expect("listen"));
        servers.push((connector, url, server));
    }

    let deadline = Instant::now() + duration;
    let mut tasks = Vec::new();
    for i in 0..CLIENTS {
        // Client i talks to connector i % 4 and cycles through its read tools.
        let (connector, url, _) = &servers[i % servers.len()];
        let (connector, url) = (*connector, url.clone());
        tasks.push(tokio::spawn(async move {
            let mut report = LoadReport::default();
            let client = match Client::connect_url(&url, era(EraChoice::Stateless)).await {
                Ok(c) => c,
                Err(e) => {
                    report.errors += 1;
                    report.samples.push(format!("{connector}: connect: {e}"));
                    return report;
                }
            };
            let mix = read_mix(connector);
            let mut n = i;
            while Instant::now() < deadline {
                let (tool, args) = &mix[n % mix.len()];
                n += 1;
                let started = Instant::now();
                let outcome = client.call_tool(tool, args.clone()).await;
                report.record(started, &outcome, &format!("{connector} {tool}"));
            }
            report
        }));
    }
    let started = Instant::now();
    let mut total = LoadReport::default();
    for task in tasks {
        total.merge(task.await.expect("client task"));
    }
    total.elapsed = started.elapsed();
    eprintln!("load, {CLIENTS} clients over HTTP (2026-07-28), 4 connectors: {total}");
    assert!(total.calls() > CLIENTS, "too few calls: {total}");
    assert_eq!(total.errors, 0, "{total}");
}
