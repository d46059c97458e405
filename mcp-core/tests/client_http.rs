//! The client against this crate's server over real HTTP on loopback, in both eras:
//! listing with pagination, calls, and input requests answered through the handler
//! (a server request in the handshake era, an `input_required` retry in 2026-07-28).

mod common;

use common::{answering_ada, ask, echo, serve_on_loopback};
use mcp_core::client::{Client, ClientOptions, EraChoice};
use mcp_core::protocol::Era;
use mcp_core::server::Server;
use mcp_core::tool;
use mcp_core::transport::http::HttpConfig;
use serde_json::json;

async fn start() -> String {
    let mut builder = Server::builder("client-test", "1.0.0")
        .tool(tool("echo", echo).read_only())
        .tool(tool("ask", ask).read_only())
        .configure(|c| c.page_size = 2);
    for i in 0..3 {
        builder = builder.tool(tool(format!("extra_{i}"), echo).read_only());
    }
    let addr = serve_on_loopback(builder.build(), HttpConfig::default()).await;
    format!("http://{addr}/mcp")
}

#[tokio::test]
async fn client_and_server_agree_in_both_eras() {
    let url = start().await;
    for (choice, era) in [
        (EraChoice::Handshake, Era::Handshake),
        (EraChoice::Stateless, Era::Stateless),
        (EraChoice::Auto, Era::Stateless),
    ] {
        let client = Client::connect_http(&url, answering_ada(choice)).await.expect("connect");
        assert_eq!(client.protocol_version().era(), era, "{choice:?}");
        let tools = client.list_tools().await.expect("list");
        assert_eq!(tools.len(), 5, "all pages of 2 were fetched");
        let names: Vec<_> = tools.iter().map(|t| t.name.as_str()).collect();
        assert_eq!(names, ["ask", "echo", "extra_0", "extra_1", "extra_2"], "deterministic order");
        let r = client.call_tool("echo", json!({"message":"hi"})).await.expect("call");
        assert_eq!(serde_json::to_value(&r.content[0]).expect("json")["text"], "hi");
        let r = client.call_tool("ask", json!({})).await.expect("ask");
        assert_eq!(serde_json::to_value(&r.content[0]).expect("json")["text"], "hello \"Ada\"", "{choice:?}");
        client.close().await;
    }
}

#[tokio::test]
async fn without_an_input_handler_input_requests_fail_clearly() {
    let url = start().await;
    let client = Client::connect_http(&url, ClientOptions { era: EraChoice::Stateless, ..Default::default() })
        .await
        .expect("connect");
    let err = client.call_tool("ask", json!({})).await.expect_err("no capability");
    assert!(err.to_string().contains("elicitation"), "{err}");
}
