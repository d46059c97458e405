//! The client against this crate's server over real HTTP on loopback, in both eras:
//! listing with pagination, calls, and input requests answered through the handler
//! (a server request in the handshake era, an `input_required` retry in 2026-07-28).

use std::sync::Arc;

use mcp_core::client::{Client, ClientOptions, EraChoice};
use mcp_core::protocol::{Era, ErrorObject};
use mcp_core::server::Server;
use mcp_core::transport::http::{HttpConfig, serve_listener};
use mcp_core::{Context, ToolError, tool};
use serde_json::{Value, json};

#[derive(serde::Deserialize, schemars::JsonSchema)]
struct EchoArgs {
    /// Text to send back.
    message: String,
}

async fn echo(_ctx: Context, args: EchoArgs) -> Result<String, ToolError> {
    Ok(args.message)
}

#[derive(serde::Deserialize, schemars::JsonSchema)]
struct NoArgs {}

async fn ask(ctx: Context, _: NoArgs) -> Result<String, ToolError> {
    let answer = ctx.elicit("Your name?", json!({"type":"object","properties":{"name":{"type":"string"}}})).await?;
    Ok(format!("hello {}", answer.content.and_then(|c| c.get("name").cloned()).unwrap_or(Value::Null)))
}

async fn start() -> String {
    let mut builder = Server::builder("client-test", "1.0.0")
        .tool(tool("echo", echo).read_only())
        .tool(tool("ask", ask).read_only())
        .configure(|c| c.page_size = 2);
    for i in 0..3 {
        builder = builder.tool(tool(format!("extra_{i}"), echo).read_only());
    }
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(serve_listener(builder.build(), listener, HttpConfig::default(), futures::future::pending()));
    format!("http://{addr}/mcp")
}

fn options(era: EraChoice) -> ClientOptions {
    ClientOptions {
        era,
        on_input: Some(Arc::new(|method: String, _params: Value| {
            Box::pin(async move {
                match method.as_str() {
                    "elicitation/create" => Ok(json!({"action":"accept","content":{"name":"Ada"}})),
                    other => Err(ErrorObject::method_not_found(other)),
                }
            })
        })),
        ..Default::default()
    }
}

#[tokio::test]
async fn client_and_server_agree_in_both_eras() {
    let url = start().await;
    for (choice, era) in [
        (EraChoice::Handshake, Era::Handshake),
        (EraChoice::Stateless, Era::Stateless),
        (EraChoice::Auto, Era::Stateless),
    ] {
        let client = Client::connect_http(&url, options(choice)).await.expect("connect");
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
