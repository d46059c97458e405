//! The floor: the least a server must do per call. It reads a line (or a POST body), parses
//! it with serde_json and writes the echo answer, with no framework, validation or
//! dispatch. No real server can be faster; the benchmark reports everyone against it.

use std::io::{BufRead, Write};

use axum::Router;
use axum::body::Bytes;
use axum::http::header;
use axum::response::IntoResponse;
use axum::routing::post;
use axum::serve::ListenerExt;
use clap::Parser;
use mcp_bench::ServerArgs;
use serde_json::{Value, json};

fn answer(request: &[u8]) -> Option<Vec<u8>> {
    let request: Value = serde_json::from_slice(request).ok()?;
    let id = request.get("id")?.clone();
    let result = match request.get("method").and_then(Value::as_str) {
        Some("initialize") => json!({
            "protocolVersion": "2025-11-25",
            "capabilities": {"tools": {}},
            "serverInfo": {"name": "bench-floor", "version": "0"}
        }),
        _ => {
            let message = request.pointer("/params/arguments/message").cloned().unwrap_or(Value::Null);
            json!({"content": [{"type": "text", "text": message}], "isError": false})
        }
    };
    serde_json::to_vec(&json!({"jsonrpc": "2.0", "id": id, "result": result})).ok()
}

fn serve_stdio() -> std::io::Result<()> {
    let stdin = std::io::stdin().lock();
    let mut stdout = std::io::stdout().lock();
    for line in stdin.split(b'\n') {
        if let Some(mut reply) = answer(&line?) {
            reply.push(b'\n');
            stdout.write_all(&reply)?;
            stdout.flush()?;
        }
    }
    Ok(())
}

async fn mcp(body: Bytes) -> impl IntoResponse {
    let reply = answer(&body).unwrap_or_default();
    ([(header::CONTENT_TYPE, "application/json")], reply)
}

fn main() -> std::io::Result<()> {
    let cli = ServerArgs::parse();
    if cli.transport == "stdio" {
        return serve_stdio();
    }
    let runtime = tokio::runtime::Runtime::new()?;
    runtime.block_on(async {
        // TCP_NODELAY, as every server under test sets it.
        let listener = tokio::net::TcpListener::bind(cli.listen).await?.tap_io(|tcp| {
            let _ = tcp.set_nodelay(true);
        });
        axum::serve(listener, Router::new().route("/mcp", post(mcp))).await
    })
}
