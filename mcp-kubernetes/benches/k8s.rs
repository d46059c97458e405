#![allow(clippy::print_stdout)] // a benchmark reports on stdout

//! List 1,000 pods and get one, through the MCP stdio server and through kube directly,
//! against the in-process fake API server, side by side. The first call (client built,
//! discovery fetched) is timed apart; the figures are of the second and later calls, with
//! discovery cached. Rounds interleave kube and MCP so that noise on the shared machine
//! hits both alike ("paired": the median of each round's MCP/kube ratio). Two floors show what any call over the same stdio pipe costs: a
//! protocol request (`server/discover`), and `contexts_list` (a tool call that does not reach the API server).
//!
//! `--quick` runs a few rounds (the test command); `--rounds N` sets the count;
//! `--only list|get|floor` runs just the MCP side of one operation (for a profiler).

#[path = "../tests/common/fake.rs"]
#[allow(dead_code)]
mod fake;

use std::time::{Duration, Instant};

use k8s_openapi::api::core::v1::Pod;
use kube::api::ListParams;
use kube::config::{KubeConfigOptions, Kubeconfig};
use kube::{Api, Client, Config};
use mcp_core::testing::{Connector, Launcher, Transport};
use serde_json::{Map, json};

async fn time<Fut: std::future::Future<Output = ()>>(f: Fut) -> Duration {
    let start = Instant::now();
    f.await;
    start.elapsed()
}

fn median(mut samples: Vec<Duration>) -> Duration {
    samples.sort();
    samples[samples.len() / 2]
}

async fn mcp_list(server: &Connector) {
    let r = server.call("resources_list", json!({"kind": "pods", "limit": 1000})).await;
    assert!(!r.is_error);
}

async fn mcp_get(server: &Connector) {
    let r = server.call("resources_get", json!({"kind": "pods", "name": "pod-0500"})).await;
    assert!(!r.is_error);
}

async fn mcp_floor(server: &Connector) {
    let r = server.call("contexts_list", json!({})).await;
    assert!(!r.is_error);
}

/// The cheapest request of the stateless revision (the era the bench client speaks).
async fn ping(server: &Connector) {
    server.client.request("server/discover", Map::new()).await.expect("server/discover");
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let value_of = |flag: &str| args.iter().position(|a| a == flag).and_then(|i| args.get(i + 1)).cloned();
    let quick = args.iter().any(|a| a == "--quick");
    let rounds: usize = value_of("--rounds").and_then(|r| r.parse().ok()).unwrap_or(if quick { 5 } else { 60 });
    let only = value_of("--only");
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().expect("runtime");
    runtime.block_on(async move {
        let fake = fake::Fake::new();
        fake.insert("namespaces", json!({"metadata": {"name": "bench"}}));
        for i in 0..1000 {
            fake.insert("pods", json!({"metadata": {"name": format!("pod-{i:04}"), "namespace": "bench", "labels": {"app": "bench"}},
                "spec": {"containers": [{"name": "main", "image": "busybox:1.36", "env": [{"name": "API_TOKEN", "value": "x"}]}]}}));
        }
        let (addr, _task) = fake.serve("127.0.0.1:0".parse().expect("addr")).await;
        let dir = tempfile::tempdir().expect("dir");
        let path = dir.path().join("kubeconfig");
        let yaml = format!(
            "apiVersion: v1\nkind: Config\ncurrent-context: bench\nclusters:\n- name: fake\n  cluster:\n    server: http://{addr}\n\
             users:\n- name: admin\n  user:\n    token: admin-token\ncontexts:\n- name: bench\n  context:\n    cluster: fake\n    user: admin\n    namespace: bench\n"
        );
        std::fs::write(&path, &yaml).expect("kubeconfig");

        let config = Config::from_custom_kubeconfig(Kubeconfig::from_yaml(&yaml).expect("parse"), &KubeConfigOptions::default()).await.expect("config");
        let client = Client::try_from(config).expect("client");
        let pods: Api<Pod> = Api::namespaced(client, "bench");

        let server = Launcher::new(env!("CARGO_BIN_EXE_mcp-kubernetes"))
            .args(["--kubeconfig", path.to_str().expect("path"), "--max-rows", "1000", "--max-result-bytes", "4000000", "--max-output-bytes", "8000000"])
            .env_remove("KUBECONFIG")
            .start(Transport::Stdio)
            .await;
        // The first call builds the context's client and fetches discovery; later calls
        // use both from the cache. It must return all 1,000.
        let start = Instant::now();
        let first = server.ok("resources_list", json!({"kind": "pods", "limit": 1000})).await;
        let cold = start.elapsed();
        assert_eq!(first["returned"], 1000);

        if let Some(op) = only {
            let start = Instant::now();
            for _ in 0..rounds {
                match op.as_str() {
                    "list" => mcp_list(&server).await,
                    "get" => mcp_get(&server).await,
                    _ => mcp_floor(&server).await,
                }
            }
            println!("{rounds} × mcp {op}: {:.2?} each", start.elapsed() / rounds as u32);
            return;
        }

        // Warm every path once, then interleave.
        pods.get("pod-0500").await.expect("get");
        mcp_get(&server).await;
        mcp_floor(&server).await;
        ping(&server).await;
        let (mut kube_list, mut mcp_lists) = (vec![], vec![]);
        let (mut kube_get, mut mcp_gets, mut floors, mut pings) = (vec![], vec![], vec![], vec![]);
        for _ in 0..rounds {
            kube_list.push(time(async {
                let list = pods.list(&ListParams::default().limit(1000)).await.expect("list");
                assert_eq!(list.items.len(), 1000);
            }).await);
            mcp_lists.push(time(mcp_list(&server)).await);
            // A get is short: several per round, so its median rests on more samples.
            for _ in 0..4 {
                kube_get.push(time(async {
                    pods.get("pod-0500").await.expect("get");
                }).await);
                mcp_gets.push(time(mcp_get(&server)).await);
                floors.push(time(mcp_floor(&server)).await);
                pings.push(time(ping(&server)).await);
            }
        }
        // Each round's MCP time over the kube time next to it: steadier than a ratio of
        // medians when the machine's load drifts during the run.
        let paired = |kube: &[Duration], mcp: &[Duration]| {
            let mut r: Vec<f64> = kube.iter().zip(mcp).map(|(k, m)| m.as_secs_f64() / k.as_secs_f64()).collect();
            r.sort_by(f64::total_cmp);
            r[r.len() / 2]
        };
        let (list_paired, get_paired) = (paired(&kube_list, &mcp_lists), paired(&kube_get, &mcp_gets));
        let (kube_list, mcp_list) = (median(kube_list), median(mcp_lists));
        let (kube_get, mcp_get) = (median(kube_get), median(mcp_gets));
        let (floor, ping) = (median(floors), median(pings));
        let ratio = |a: Duration, b: Duration| a.as_secs_f64() / b.as_secs_f64();
        println!("mcp-kubernetes benchmark (fake API server on loopback; medians of {rounds} interleaved rounds, gets: {})", rounds * 4);
        println!("first MCP call (client built, discovery fetched, 1,000 pods listed): {cold:.2?}");
        println!("{:<36} {:>10} {:>12} {:>8} {:>8}", "operation", "kube", "mcp (stdio)", "ratio", "paired");
        println!("{:<36} {:>10.2?} {:>12.2?} {:>7.2}x {:>7.2}x", "list 1,000 pods (table)", kube_list, mcp_list, ratio(mcp_list, kube_list), list_paired);
        println!("{:<36} {:>10.2?} {:>12.2?} {:>7.2}x {:>7.2}x", "get 1 pod (yaml)", kube_get, mcp_get, ratio(mcp_get, kube_get), get_paired);
        println!("{:<36} {:>10} {:>12.2?}", "floor: server/discover (no tool)", "", ping);
        println!("{:<36} {:>10} {:>12.2?}", "floor: contexts_list (no API call)", "", floor);
        println!(
            "get with the floor added to kube: {:.2}x (what a get could reach if the connector cost nothing beyond a tool call)",
            ratio(mcp_get, kube_get + floor)
        );
    });
}
