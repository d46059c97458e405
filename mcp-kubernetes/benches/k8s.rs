#![allow(clippy::print_stdout)] // a benchmark reports on stdout

//! List 1,000 pods and get one, through the MCP stdio server and through kube directly,
//! against the in-process fake API server, side by side. Discovery is warmed first, so
//! the figures are of the cached path. `--quick` runs a few iterations (the test command).

#[path = "../tests/common/fake.rs"]
#[allow(dead_code)]
mod fake;

use std::time::{Duration, Instant};

use k8s_openapi::api::core::v1::Pod;
use kube::api::ListParams;
use kube::config::{KubeConfigOptions, Kubeconfig};
use kube::{Api, Client, Config};
use mcp_core::testing::{Launcher, Transport};
use serde_json::json;

async fn measure<F, Fut>(iterations: usize, mut f: F) -> Duration
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    f().await;
    let mut samples = Vec::with_capacity(iterations);
    for _ in 0..iterations {
        let start = Instant::now();
        f().await;
        samples.push(start.elapsed());
    }
    samples.sort();
    samples[samples.len() / 2]
}

fn main() {
    let quick = std::env::args().any(|a| a == "--quick");
    let iterations = if quick { 5 } else { 50 };
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
        // Warm discovery (cached afterwards) and check the server returns all 1,000.
        let first = server.ok("resources_list", json!({"kind": "pods", "limit": 1000})).await;
        assert_eq!(first["returned"], 1000);

        let kube_list = measure(iterations, || async {
            let list = pods.list(&ListParams::default().limit(1000)).await.expect("list");
            assert_eq!(list.items.len(), 1000);
        })
        .await;
        let mcp_list = measure(iterations, || async {
            let r = server.call("resources_list", json!({"kind": "pods", "limit": 1000})).await;
            assert!(!r.is_error);
        })
        .await;
        let kube_get = measure(iterations * 4, || async {
            pods.get("pod-0500").await.expect("get");
        })
        .await;
        let mcp_get = measure(iterations * 4, || async {
            let r = server.call("resources_get", json!({"kind": "pods", "name": "pod-0500"})).await;
            assert!(!r.is_error);
        })
        .await;
        let ratio = |a: Duration, b: Duration| a.as_secs_f64() / b.as_secs_f64();
        println!("mcp-kubernetes benchmark (fake API server on loopback, median of {iterations} runs; get: {} runs)", iterations * 4);
        println!("{:<28} {:>12} {:>12} {:>8}", "operation", "kube", "mcp (stdio)", "ratio");
        println!("{:<28} {:>10.2?} {:>12.2?} {:>7.2}x", "list 1,000 pods (table)", kube_list, mcp_list, ratio(mcp_list, kube_list));
        println!("{:<28} {:>10.2?} {:>12.2?} {:>7.2}x", "get 1 pod (yaml)", kube_get, mcp_get, ratio(mcp_get, kube_get));
    });
}
