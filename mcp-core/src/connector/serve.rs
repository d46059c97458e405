//! The `main` of every connector binary, but its flags: start logging, open the
//! connector's state from its settings, register its tools, serve on the chosen
//! transport. A configuration error still builds a server, one that refuses to start and
//! says why on stderr, so every transport reports it the same way.

use std::process::ExitCode;
use std::sync::Arc;
use std::time::Instant;

use clap::{CommandFactory, FromArgMatches};

use crate::Server;
use crate::cli::ServeArgs;
use crate::server::ServerBuilder;

/// A connector's command line: the flags every connector shares, then its own `A`.
#[derive(clap::Parser)]
struct Cli<A: clap::Args> {
    #[command(flatten)]
    serve: ServeArgs,
    #[command(flatten)]
    connector: A,
}

/// What a connector binary's `main` is: parse the shared flags and the connector's own
/// `A` (`--help` and `--version` say `name`, `version` and `about`), then [`serve`] the
/// connector `open` makes of them (given the shared flags too, for a setting checked
/// against them).
pub fn run<A: clap::Args, C: Connector>(
    name: &'static str,
    version: &'static str,
    about: &'static str,
    open: impl FnOnce(&A, &ServeArgs) -> Result<C, String>,
) -> ExitCode {
    let entered = Instant::now();
    let command = Cli::<A>::command().name(name).bin_name(name).version(crate::cli::version_text(version)).about(about);
    let cli = match Cli::<A>::from_arg_matches(&command.get_matches()) {
        Ok(cli) => cli,
        Err(e) => e.exit(),
    };
    serve_timed(entered, &cli.serve, name, version, || open(&cli.connector, &cli.serve))
}

/// A connector: shared state (pools, clients, settings) that registers its handlers.
pub trait Connector: Send + Sync + 'static {
    /// Adds the connector's instructions, readiness check, tools, resources and prompts.
    fn register(self: &Arc<Self>, builder: ServerBuilder) -> ServerBuilder;
    /// Runs once the server is built and about to serve (background tasks, start-up
    /// warnings). Not called when the server will refuse to start.
    fn started(self: &Arc<Self>, _server: &Server) {}
}

/// Serves the connector `open` makes, as `name` at `version`, with the shared flags
/// `args`. `open` runs inside the runtime; its error stops the server with its message.
pub fn serve<C: Connector>(
    args: &ServeArgs,
    name: &'static str,
    version: &'static str,
    open: impl FnOnce() -> Result<C, String>,
) -> ExitCode {
    serve_timed(Instant::now(), args, name, version, open)
}

/// [`serve`], saying (at debug level, target `mcp_core::start`) how long each part of the
/// start took since `entered`, the start of `main`'s work: what the start bench reports
/// (`mcp-bench/benches/echo/start.rs`).
fn serve_timed<C: Connector>(
    entered: Instant,
    args: &ServeArgs,
    name: &'static str,
    version: &'static str,
    open: impl FnOnce() -> Result<C, String>,
) -> ExitCode {
    let parsed = entered.elapsed();
    args.init_tracing();
    args.block_on(async {
        let runtime = entered.elapsed();
        let builder = Server::builder(name, version);
        let (builder, connector) = match open() {
            Ok(connector) => {
                let connector = Arc::new(connector);
                (connector.register(builder), Some(connector))
            }
            Err(e) => (builder.fail(e), None),
        };
        let opened = entered.elapsed();
        let server = args.configure(builder).build();
        let built = entered.elapsed();
        tracing::debug!(
            target: "mcp_core::start",
            flags_us = parsed.as_micros() as u64,
            runtime_us = (runtime - parsed).as_micros() as u64,
            open_us = (opened - runtime).as_micros() as u64,
            build_us = (built - opened).as_micros() as u64,
            "started"
        );
        if let Some(connector) = connector
            && server.startup_error().is_none()
        {
            connector.started(&server);
        }
        args.run(server).await
    })
}
