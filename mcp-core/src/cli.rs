//! The command line every connector binary shares: transport, listen address, log level
//! and limits, each flag also read from an environment variable.
//!
//! ```no_run
//! use clap::Parser;
//! use mcp_core::cli::ServeArgs;
//!
//! #[derive(Parser)]
//! struct Cli {
//!     #[command(flatten)]
//!     serve: ServeArgs,
//! }
//!
//! fn main() -> std::process::ExitCode {
//!     let cli = Cli::parse();
//!     cli.serve.init_tracing();
//!     cli.serve.block_on(async {
//!         let server = cli.serve.configure(mcp_core::Server::builder("demo", "1.0.0")).build();
//!         cli.serve.run(server).await
//!     })
//! }
//! ```

use std::net::SocketAddr;
use std::process::ExitCode;
use std::time::Duration;

use std::sync::Arc;

use crate::security::auth::{JwksSource, OAuthConfig};
use crate::security::{AuditKey, AuditLog, Authenticator, Policy};
use crate::server::{Server, ServerBuilder};
use crate::transport::{http, stdio};

/// What `--version` prints after a binary's name: its version and the protocol revisions
/// it speaks, newest first (`0.1.0 (MCP 2026-07-28, 2025-11-25, …)`).
pub fn version_text(version: &str) -> String {
    format!("{version} (MCP {})", crate::protocol::ProtocolVersion::supported_strings().join(", "))
}

/// How the server talks to its client.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum TransportKind {
    /// Newline-delimited JSON on stdin/stdout (clients spawn the server).
    Stdio,
    /// Streamable HTTP at /mcp.
    Http,
}

/// Flags common to every MCP server binary.
#[derive(Debug, Clone, clap::Args)]
pub struct ServeArgs {
    /// Transport to serve on.
    #[arg(long, env = "MCP_TRANSPORT", value_enum, default_value = "stdio")]
    pub transport: TransportKind,
    /// Address for the HTTP transport (loopback by default).
    #[arg(long, env = "MCP_LISTEN", default_value = "127.0.0.1:8080")]
    pub listen: SocketAddr,
    /// Log level or tracing filter (logs go to stderr).
    #[arg(long, env = "MCP_LOG_LEVEL", default_value = "info")]
    pub log_level: String,
    /// Longest a single tool call may run, in seconds.
    #[arg(long, env = "MCP_CALL_TIMEOUT_SECS", default_value_t = 120)]
    pub call_timeout_secs: u64,
    /// Most bytes of output one tool result may carry back to the model.
    #[arg(long, env = "MCP_MAX_OUTPUT_BYTES", default_value_t = 256 * 1024)]
    pub max_output_bytes: usize,
    /// Most requests handled at once.
    #[arg(long, env = "MCP_MAX_CONCURRENCY", default_value_t = 256)]
    pub max_concurrency: usize,
    /// Most requests one authenticated client may have in flight (0: no bound).
    #[arg(long, env = "MCP_MAX_IN_FLIGHT_PER_CLIENT", default_value_t = 64)]
    pub max_in_flight_per_client: usize,
    /// Most open handshake-era HTTP sessions.
    #[arg(long, env = "MCP_MAX_SESSIONS", default_value_t = 10_000)]
    pub max_sessions: usize,
    /// HTTP sessions idle this long (seconds) are ended.
    #[arg(long, env = "MCP_SESSION_IDLE_SECS", default_value_t = 3600)]
    pub session_idle_secs: u64,
    /// Largest accepted HTTP body or WebSocket message, in bytes.
    #[arg(long, env = "MCP_MAX_BODY_BYTES", default_value_t = 16 * 1024 * 1024)]
    pub max_body_bytes: usize,
    /// Seconds an HTTP client may take to send a request's header; slower connections,
    /// and keep-alive connections idle that long, are closed.
    #[arg(long, env = "MCP_HEADER_READ_TIMEOUT_SECS", default_value_t = 10)]
    pub header_read_timeout_secs: u64,
    /// Most HTTP connections open at once (SSE streams and WebSockets included); more
    /// wait until one closes.
    #[arg(long, env = "MCP_MAX_CONNECTIONS", default_value_t = 16_384)]
    pub max_connections: usize,
    /// Items per page of list results.
    #[arg(long, env = "MCP_PAGE_SIZE", default_value_t = 100)]
    pub page_size: usize,
    /// Extra allowed Origin values for HTTP (comma-separated); loopback is always allowed.
    #[arg(long, env = "MCP_ALLOWED_ORIGINS", value_delimiter = ',')]
    pub allowed_origins: Vec<String>,
    /// Extra allowed Host names for HTTP (comma-separated); loopback is always allowed.
    #[arg(long, env = "MCP_ALLOWED_HOSTS", value_delimiter = ',')]
    pub allowed_hosts: Vec<String>,
    /// Threads running requests; 0 chooses by transport: one for stdio (a single client,
    /// and no cross-thread wake-ups on each message), one per core for HTTP.
    #[arg(long, env = "MCP_WORKER_THREADS", default_value_t = 0)]
    pub worker_threads: usize,
    /// Only tools annotated read-only are listed and callable.
    #[arg(long, env = "MCP_READ_ONLY")]
    pub read_only: bool,
    /// Only these tools (comma-separated globs) are listed and callable.
    #[arg(long, env = "MCP_ALLOW_TOOLS", value_delimiter = ',')]
    pub allow_tools: Vec<String>,
    /// These tools (comma-separated globs) are never listed or callable.
    #[arg(long, env = "MCP_DENY_TOOLS", value_delimiter = ',')]
    pub deny_tools: Vec<String>,
    /// Access policy per client identity, with resource scopes (TOML).
    #[arg(long, env = "MCP_POLICY_FILE")]
    pub policy_file: Option<std::path::PathBuf>,
    /// Ask the client to confirm before any destructive tool runs.
    #[arg(long, env = "MCP_CONFIRM_DESTRUCTIVE")]
    pub confirm_destructive: bool,
    /// Audit trail: a file to append to, or `stderr`.
    #[arg(long, env = "MCP_AUDIT_LOG")]
    pub audit_log: Option<String>,
    /// Key the audit trail's chain (HMAC-SHA256) with the key in this file (32 bytes or
    /// more, readable by its owner only), so that it cannot be rewritten without the key.
    #[arg(long, env = "MCP_AUDIT_KEY_FILE", requires = "audit_log")]
    pub audit_key_file: Option<std::path::PathBuf>,
    /// More names (comma-separated) whose values are redacted, in the audit trail and in
    /// every connector's output, besides the built-in ones (password, token, api key, ...).
    #[arg(long, env = "MCP_REDACT_NAMES", value_delimiter = ',')]
    pub redact_names: Vec<String>,
    /// Bearer tokens for HTTP and WebSocket clients: a file of `name=token` lines (the
    /// MCP_AUTH_TOKENS variable may hold the same entries instead).
    #[arg(long, env = "MCP_AUTH_TOKENS_FILE")]
    pub auth_tokens_file: Option<std::path::PathBuf>,
    /// OAuth: the authorization server whose access tokens (JWT) are accepted (`iss`).
    #[arg(long, env = "MCP_OAUTH_ISSUER", requires_all = ["oauth_audience", "oauth_jwks"])]
    pub oauth_issuer: Option<String>,
    /// OAuth: this server's resource URL, which tokens must name in `aud`.
    #[arg(long, env = "MCP_OAUTH_AUDIENCE")]
    pub oauth_audience: Option<String>,
    /// OAuth: the issuer's signing keys, a JWKS file or an http(s) URL.
    #[arg(long, env = "MCP_OAUTH_JWKS")]
    pub oauth_jwks: Option<String>,
    /// OAuth: scopes every token must hold (comma-separated).
    #[arg(long, env = "MCP_OAUTH_REQUIRED_SCOPES", value_delimiter = ',')]
    pub oauth_required_scopes: Vec<String>,
    /// Serve a non-loopback address without authentication (anyone who can reach it can
    /// use every allowed tool).
    #[arg(long, env = "MCP_INSECURE_NO_AUTH")]
    pub insecure_no_auth: bool,
    /// Secret that signs requestState; set the same value on every replica.
    #[arg(long, env = "MCP_STATE_SECRET", hide_env_values = true)]
    pub state_secret: Option<String>,
}

impl ServeArgs {
    /// Sends `tracing` output to stderr at the chosen level (stdout is for protocol only).
    pub fn init_tracing(&self) {
        let filter = tracing_subscriber::EnvFilter::try_new(&self.log_level)
            .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
        let _ =
            tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr).with_ansi(false).try_init();
    }

    /// The async runtime suited to the transport (see `--worker-threads`).
    pub fn runtime(&self) -> std::io::Result<tokio::runtime::Runtime> {
        let threads = match (self.worker_threads, self.transport) {
            (0, TransportKind::Stdio) => 1,
            (0, TransportKind::Http) => std::thread::available_parallelism().map_or(2, usize::from),
            (n, _) => n,
        };
        let mut builder = if threads == 1 {
            tokio::runtime::Builder::new_current_thread()
        } else {
            let mut b = tokio::runtime::Builder::new_multi_thread();
            b.worker_threads(threads);
            b
        };
        builder.enable_all().build()
    }

    /// Runs a connector's `main` on [`ServeArgs::runtime`].
    pub fn block_on(&self, main: impl std::future::Future<Output = ExitCode>) -> ExitCode {
        match self.runtime() {
            Ok(runtime) => runtime.block_on(main),
            Err(e) => {
                tracing::error!(error = %e, "cannot start the async runtime");
                ExitCode::FAILURE
            }
        }
    }

    /// Applies the limits, the access policy and the audit trail to a server being built.
    /// A bad policy file or an audit log that cannot be opened makes [`ServeArgs::run`]
    /// refuse to start, saying why.
    pub fn configure(&self, builder: ServerBuilder) -> ServerBuilder {
        let builder = match self.policy() {
            Ok(policy) => builder.policy(policy),
            Err(e) => builder.fail(e),
        };
        let builder = match crate::security::redact::set_extra_names(&self.redact_names) {
            Ok(()) => builder,
            Err(e) => builder.fail(format!("--redact-names: {e}")),
        };
        let key = match self.audit_key_file.as_deref().map(AuditKey::from_file).transpose() {
            Ok(key) => key,
            Err(e) => return builder.fail(e),
        };
        let builder = match self.audit_log.as_deref() {
            None => builder,
            Some("stderr") => builder.audit(AuditLog::to_stderr_keyed(key)),
            Some(path) => match AuditLog::to_file_keyed(std::path::Path::new(path), key) {
                Ok(log) => builder.audit(log),
                Err(e) => builder.fail(format!("cannot open the audit log {path}: {e}")),
            },
        };
        builder.configure(|c| {
            c.call_timeout = Duration::from_secs(self.call_timeout_secs.max(1));
            c.max_output_bytes = self.max_output_bytes.max(1024);
            c.max_concurrency = self.max_concurrency.max(1);
            c.max_in_flight_per_client = self.max_in_flight_per_client;
            c.page_size = self.page_size.max(1);
            if let Some(secret) = &self.state_secret {
                c.state_secret = Some(secret.as_bytes().to_vec());
            }
        })
    }

    /// The access policy from the flags and the policy file.
    pub fn policy(&self) -> Result<Policy, String> {
        let policy = Policy::from_flags(self.read_only, self.allow_tools.clone(), self.deny_tools.clone())?
            .confirm_destructive(self.confirm_destructive);
        match &self.policy_file {
            Some(path) => policy.with_file(path),
            None => Ok(policy),
        }
    }

    /// The authentication the flags ask for: bearer tokens from `--auth-tokens-file` or
    /// `MCP_AUTH_TOKENS`, OAuth from the `--oauth-*` flags; `None` when neither is given.
    pub async fn authenticator(&self) -> Result<Option<Authenticator>, String> {
        let tokens = match (&self.auth_tokens_file, std::env::var("MCP_AUTH_TOKENS")) {
            (Some(path), _) => Some(Authenticator::from_file(path)?),
            (None, Ok(tokens)) => Some(Authenticator::from_tokens(&tokens, "MCP_AUTH_TOKENS")?),
            (None, Err(_)) => None,
        };
        let (Some(issuer), Some(audience), Some(jwks)) = (&self.oauth_issuer, &self.oauth_audience, &self.oauth_jwks)
        else {
            return Ok(tokens);
        };
        let jwks = if jwks.starts_with("http://") || jwks.starts_with("https://") {
            JwksSource::Url(jwks.clone())
        } else {
            JwksSource::File(jwks.into())
        };
        let config = OAuthConfig {
            issuer: issuer.clone(),
            audience: audience.clone(),
            jwks,
            required_scopes: self.oauth_required_scopes.clone(),
        };
        tokens.unwrap_or_default().with_oauth(config).await.map(Some)
    }

    /// The HTTP settings from the flags.
    pub async fn http_config(&self) -> Result<http::HttpConfig, String> {
        crate::transport::origin::check_allowed(&self.allowed_hosts, &self.allowed_origins)?;
        let auth = self.authenticator().await?.map(Arc::new);
        if auth.is_none() && !self.listen.ip().is_loopback() && !self.insecure_no_auth {
            return Err(format!(
                "refusing to listen on {} without authentication: anyone who can reach it could use every tool. \
                 Give --auth-tokens-file (or MCP_AUTH_TOKENS), listen on 127.0.0.1, or pass --insecure-no-auth",
                self.listen
            ));
        }
        Ok(http::HttpConfig {
            allowed_origins: self.allowed_origins.clone(),
            allowed_hosts: self.allowed_hosts.clone(),
            max_sessions: self.max_sessions.max(1),
            session_idle_timeout: Duration::from_secs(self.session_idle_secs.max(1)),
            max_body_bytes: self.max_body_bytes.max(1024),
            header_read_timeout: Duration::from_secs(self.header_read_timeout_secs.max(1)),
            max_connections: self.max_connections.max(1),
            auth,
            ..Default::default()
        })
    }

    /// Serves until the client leaves (stdio) or the process is told to stop (HTTP).
    pub async fn run(&self, server: Server) -> ExitCode {
        if let Some(e) = server.startup_error() {
            tracing::error!("not starting: {e}");
            return ExitCode::FAILURE;
        }
        let result = match self.transport {
            TransportKind::Stdio => stdio::serve_stdio(server.clone(), stdio::StdioConfig::default()).await,
            TransportKind::Http => match self.http_config().await {
                Ok(config) => http::serve_http(server.clone(), self.listen, config).await,
                Err(e) => {
                    tracing::error!("not starting: {e}");
                    return ExitCode::FAILURE;
                }
            },
        };
        server.flush_audit();
        match result {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                tracing::error!(error = %e, "server stopped with an error");
                ExitCode::FAILURE
            }
        }
    }
}
