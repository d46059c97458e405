//! The same echo tool on rmcp, the official Rust SDK, written the way its README shows.

use axum::serve::ListenerExt;
use clap::Parser;
use mcp_bench::ServerArgs;
use rmcp::handler::server::wrapper::Parameters;
use rmcp::transport::streamable_http_server::session::local::LocalSessionManager;
use rmcp::transport::{StreamableHttpServerConfig, StreamableHttpService};
use rmcp::{ServiceExt, tool, tool_router};
use schemars::JsonSchema;
use serde::Deserialize;

#[derive(Deserialize, JsonSchema)]
struct EchoArgs {
    /// The text to send back.
    message: String,
}

#[derive(Clone)]
struct EchoServer;

#[tool_router(server_handler)]
impl EchoServer {
    #[tool(description = "Sends the message back")]
    async fn echo(&self, Parameters(args): Parameters<EchoArgs>) -> String {
        args.message
    }
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cli = ServerArgs::parse();
    if cli.transport == "stdio" {
        EchoServer.serve(rmcp::transport::stdio()).await?.waiting().await?;
        return Ok(());
    }
    let service = StreamableHttpService::new(
        || Ok(EchoServer),
        LocalSessionManager::default().into(),
        StreamableHttpServerConfig::default(),
    );
    // TCP_NODELAY, as every server under test sets it.
    let listener = tokio::net::TcpListener::bind(cli.listen).await?.tap_io(|tcp| {
        let _ = tcp.set_nodelay(true);
    });
    axum::serve(listener, axum::Router::new().nest_service("/mcp", service)).await?;
    Ok(())
}
