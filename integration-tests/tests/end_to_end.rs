//! Each connector binary as users run it: a child process over stdio, and an HTTP server
//! reached over Streamable HTTP and WebSocket, driven by mcp-core's client in both
//! protocol eras, calling a real read tool against the real service (Kubernetes: the
//! fake API server unless MCP_TEST_KUBECONFIG names a cluster).

mod common;

use common::{Cluster, launcher, read_call};
use integration_tests::{ERAS, era, expected_version};
use mcp_core::testing::{TRANSPORTS, text};

async fn every_transport_and_era(connector: &str) {
    let cluster = Cluster::start().await;
    let read = read_call(connector);
    for transport in TRANSPORTS {
        for choice in ERAS {
            let server = launcher(connector, &cluster).options(era(choice)).start(transport).await;
            let version = server.client.protocol_version();
            assert_eq!(version.as_str(), expected_version(choice), "{connector} over {transport:?}, {choice:?}");
            let info = server.client.server_info().map(|i| i.name.clone()).unwrap_or_default();
            assert!(!info.is_empty(), "{connector} over {transport:?} ({choice:?}) names no server");
            assert!(
                server.tool_names().await.iter().any(|t| t == read.tool),
                "{connector} over {transport:?} ({choice:?}) does not list {}",
                read.tool
            );
            let result = server.call(read.tool, read.args.clone()).await;
            let shown = format!("{} {}", text(&result), result.structured_content.clone().unwrap_or_default());
            assert!(!result.is_error, "{connector} {} over {transport:?} ({choice:?}) failed: {shown}", read.tool);
            assert!(
                shown.contains(read.expect),
                "{connector} {} over {transport:?} ({choice:?}): `{}` not in {shown}",
                read.tool,
                read.expect
            );
        }
    }
}

#[tokio::test]
async fn postgres_over_every_transport_and_era() {
    every_transport_and_era("mcp-postgres").await;
}

#[tokio::test]
async fn docker_over_every_transport_and_era() {
    every_transport_and_era("mcp-docker").await;
}

#[tokio::test]
async fn kubernetes_over_every_transport_and_era() {
    every_transport_and_era("mcp-kubernetes").await;
}

#[tokio::test]
async fn n8n_over_every_transport_and_era() {
    every_transport_and_era("mcp-n8n").await;
}
