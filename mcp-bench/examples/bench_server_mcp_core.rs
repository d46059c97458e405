//! The echo tool on mcp-core, as a connector would write it.

// As every connector binary does: glibc's malloc takes a lock when one thread frees what
// another allocated, which the audit trail's writer thread does for every request.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

use std::process::ExitCode;

use clap::Parser;
use mcp_core::cli::ServeArgs;
use mcp_core::{Context, Server, ToolError, tool};
use schemars::JsonSchema;
use serde::Deserialize;

#[derive(Parser)]
struct Cli {
    #[command(flatten)]
    serve: ServeArgs,
}

#[derive(Deserialize, JsonSchema)]
struct EchoArgs {
    /// The text to send back.
    message: String,
}

async fn echo(_ctx: Context, args: EchoArgs) -> Result<String, ToolError> {
    Ok(args.message)
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    cli.serve.init_tracing();
    cli.serve.block_on(async {
        let server = cli
            .serve
            .configure(Server::builder("bench-mcp-core", env!("CARGO_PKG_VERSION")))
            .tool(tool("echo", echo).description("Sends the message back").read_only().idempotent())
            .build();
        cli.serve.run(server).await
    })
}
