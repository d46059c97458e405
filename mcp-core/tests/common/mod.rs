//! What the integration tests share: the small tools they serve, the loopback listener,
//! and a client that answers input requests.

// Each test binary compiles this module and uses only part of it.
#![allow(dead_code)]

use std::net::SocketAddr;
use std::sync::Arc;

use mcp_core::client::{ClientOptions, EraChoice};
use mcp_core::protocol::ErrorObject;
use mcp_core::server::Server;
use mcp_core::transport::http::{HttpConfig, serve_listener};
use mcp_core::{Context, ToolError};
use serde_json::{Value, json};

#[derive(serde::Deserialize, schemars::JsonSchema)]
pub struct EchoArgs {
    /// Text to send back.
    pub message: String,
}

/// Sends the message back.
pub async fn echo(_ctx: Context, args: EchoArgs) -> Result<String, ToolError> {
    Ok(args.message)
}

#[derive(serde::Deserialize, schemars::JsonSchema)]
pub struct NoArgs {}

/// Asks the client for a name (an input request) and greets it.
pub async fn ask(ctx: Context, _: NoArgs) -> Result<String, ToolError> {
    let answer = ctx.elicit("Your name?", json!({"type":"object","properties":{"name":{"type":"string"}}})).await?;
    Ok(format!("hello {}", answer.content.and_then(|c| c.get("name").cloned()).unwrap_or(Value::Null)))
}

/// Serves `server` over HTTP (and WebSocket) on a loopback port until the test ends.
pub async fn serve_on_loopback(server: Server, config: HttpConfig) -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(serve_listener(server, listener, config, futures::future::pending()));
    addr
}

/// A client speaking `era` that answers every elicitation with the name Ada.
pub fn answering_ada(era: EraChoice) -> ClientOptions {
    ClientOptions {
        era,
        on_input: Some(Arc::new(|method: String, _params: Value| {
            Box::pin(async move {
                match method.as_str() {
                    "elicitation/create" => Ok(json!({"action": "accept", "content": {"name": "Ada"}})),
                    other => Err(ErrorObject::method_not_found(other)),
                }
            })
        })),
        ..Default::default()
    }
}

/// A POST of `body` to `url` as MCP clients send it (JSON, accepting JSON or SSE).
pub fn mcp_post(url: &str, body: impl ToString) -> reqwest::RequestBuilder {
    mcp_core::tls::http_client()
        .build()
        .expect("an HTTP client")
        .post(url)
        .header("content-type", "application/json")
        .header("accept", "application/json, text/event-stream")
        .body(body.to_string())
}
