//! Test support for connector crates (cargo feature `testing`): start a connector binary
//! as a real process over stdio, Streamable HTTP or WebSocket, and drive it with this
//! crate's client.
//!
//! ```ignore
//! let launcher = Launcher::new(env!("CARGO_BIN_EXE_mcp-postgres")).args(["--database-url", &url]);
//! for transport in TRANSPORTS {
//!     let server = launcher.start(transport).await;
//!     let rows = server.ok("query", json!({"sql": "select 1"})).await;
//! }
//! ```
//!
//! Helpers here panic with a message naming the tool and transport: they are for tests.

use std::ffi::OsString;
use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;

use serde_json::Value;

use crate::client::{Client, ClientOptions};
use crate::protocol::{CallToolResult, Content};
use crate::server::ERROR_KIND_META;

/// How a test reaches the connector.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transport {
    /// The client spawns the server and speaks on its stdin/stdout.
    Stdio,
    /// The server listens on loopback; the client POSTs to `/mcp`.
    Http,
    /// The server listens on loopback; the client connects to `/ws`.
    WebSocket,
}

/// Every transport, for tests that loop over them.
pub const TRANSPORTS: [Transport; 3] = [Transport::Stdio, Transport::Http, Transport::WebSocket];

/// How to start a connector binary: program, arguments, environment, client options.
/// Cheap to clone, so a test can derive variants (`launcher.clone().arg("--allow-write")`).
#[derive(Debug, Clone)]
pub struct Launcher {
    program: PathBuf,
    args: Vec<OsString>,
    env: Vec<(OsString, OsString)>,
    env_remove: Vec<OsString>,
    options: ClientOptions,
}

impl Launcher {
    /// A launcher for `program` (usually `env!("CARGO_BIN_EXE_<name>")`), logging warnings
    /// only, so a failing test's output shows what went wrong and little else.
    pub fn new(program: impl Into<PathBuf>) -> Self {
        Self {
            program: program.into(),
            args: Vec::new(),
            env: vec![("MCP_LOG_LEVEL".into(), "warn".into())],
            env_remove: Vec::new(),
            options: ClientOptions::default(),
        }
    }

    /// Adds one argument.
    pub fn arg(mut self, arg: impl Into<OsString>) -> Self {
        self.args.push(arg.into());
        self
    }

    /// Adds arguments.
    pub fn args<I, S>(mut self, args: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<OsString>,
    {
        self.args.extend(args.into_iter().map(Into::into));
        self
    }

    /// Sets an environment variable of the server process.
    pub fn env(mut self, key: impl Into<OsString>, value: impl Into<OsString>) -> Self {
        self.env.push((key.into(), value.into()));
        self
    }

    /// Removes a variable the test process has from the server's environment (so a
    /// developer's shell settings do not leak into a test).
    pub fn env_remove(mut self, key: impl Into<OsString>) -> Self {
        self.env_remove.push(key.into());
        self
    }

    /// The client's options (input and notification handlers, a bearer token, the era).
    pub fn options(mut self, options: ClientOptions) -> Self {
        self.options = options;
        self
    }

    /// The server command with this launcher's arguments and environment; killed when
    /// dropped.
    pub fn command(&self) -> tokio::process::Command {
        let mut cmd = tokio::process::Command::new(&self.program);
        for key in &self.env_remove {
            cmd.env_remove(key);
        }
        cmd.envs(self.env.iter().map(|(k, v)| (k, v))).args(&self.args).kill_on_drop(true);
        cmd
    }

    /// Starts the server and connects a client over `transport`; panics if it cannot.
    pub async fn start(&self, transport: Transport) -> Connector {
        match self.try_start(transport).await {
            Ok(connector) => connector,
            Err(e) => panic!("start {} over {transport:?}: {e}", self.program.display()),
        }
    }

    /// Starts the server and connects a client over `transport`.
    pub async fn try_start(&self, transport: Transport) -> Result<Connector, String> {
        match transport {
            Transport::Stdio => {
                let mut cmd = self.command();
                cmd.stderr(Stdio::inherit());
                let client = Client::connect_stdio(cmd, self.options.clone()).await.map_err(|e| e.to_string())?;
                Ok(Connector { client, transport, listen: None, child: None })
            }
            Transport::Http | Transport::WebSocket => {
                let listen = format!("127.0.0.1:{}", free_port());
                let mut cmd = self.command();
                cmd.args(["--transport", "http", "--listen", &listen]).stdin(Stdio::null());
                let mut child = cmd.spawn().map_err(|e| format!("spawn: {e}"))?;
                let url = match transport {
                    Transport::WebSocket => format!("ws://{listen}/ws"),
                    _ => format!("http://{listen}/mcp"),
                };
                // The server binds after parsing its configuration; poll until it answers.
                let mut last_error = String::new();
                for _ in 0..200 {
                    if let Ok(Some(status)) = child.try_wait() {
                        return Err(format!("the server exited at start: {status}"));
                    }
                    match Client::connect_url(&url, self.options.clone()).await {
                        Ok(client) => {
                            return Ok(Connector { client, transport, listen: Some(listen), child: Some(child) });
                        }
                        Err(e) => last_error = e.to_string(),
                    }
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
                Err(format!("the server did not answer at {url} within 10 s: {last_error}"))
            }
        }
    }

    /// Runs the binary to its exit with no client (for configuration errors, which stop it
    /// before it serves): whether it succeeded, and its stderr.
    pub async fn run_to_exit(&self) -> (bool, String) {
        let output = self
            .command()
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .output()
            .await
            .unwrap_or_else(|e| panic!("run {}: {e}", self.program.display()));
        (output.status.success(), String::from_utf8_lossy(&output.stderr).into_owned())
    }
}

/// A running connector and a client connected to it. Dropping it kills the server.
#[derive(Debug)]
pub struct Connector {
    /// The connected client, for anything the helpers below do not cover.
    pub client: Client,
    /// How the client reaches the server.
    pub transport: Transport,
    /// Where an HTTP or WebSocket server listens (`127.0.0.1:PORT`).
    pub listen: Option<String>,
    /// The HTTP server process (a stdio server belongs to the client).
    child: Option<tokio::process::Child>,
}

impl Drop for Connector {
    fn drop(&mut self) {
        if let Some(child) = &mut self.child {
            let _ = child.start_kill();
        }
    }
}

impl Connector {
    /// Calls a tool; the result may be an error result (`isError`).
    pub async fn call(&self, tool: &str, args: Value) -> CallToolResult {
        self.client.call_tool(tool, args).await.unwrap_or_else(|e| panic!("{tool} over {:?}: {e}", self.transport))
    }

    /// Calls a tool that must succeed; returns its structured content.
    pub async fn ok(&self, tool: &str, args: Value) -> Value {
        self.ok_text(tool, args).await.1
    }

    /// Calls a tool that must succeed; returns its text and structured content.
    pub async fn ok_text(&self, tool: &str, args: Value) -> (String, Value) {
        let result = self.call(tool, args.clone()).await;
        assert!(!result.is_error, "{tool}({args}) over {:?} failed: {}", self.transport, text(&result));
        (text(&result), result.structured_content.unwrap_or(Value::Null))
    }

    /// Calls a tool that must fail; returns its error text.
    pub async fn fails(&self, tool: &str, args: Value) -> String {
        let result = self.call(tool, args.clone()).await;
        assert!(result.is_error, "{tool}({args}) over {:?} should have failed: {}", self.transport, text(&result));
        text(&result)
    }

    /// Calls a tool that must fail; returns the failure's kind as the server sent it in
    /// the result's `_meta` (`"not_found"`, `"refused"`, ...; empty if none) and its text.
    pub async fn fails_as(&self, tool: &str, args: Value) -> (String, String) {
        let result = self.call(tool, args.clone()).await;
        assert!(result.is_error, "{tool}({args}) over {:?} should have failed: {}", self.transport, text(&result));
        let kind = error_kind(&result).and_then(Value::as_str).unwrap_or_default().to_string();
        (kind, text(&result))
    }

    /// The names of the tools listed to this client.
    pub async fn tool_names(&self) -> Vec<String> {
        let tools =
            self.client.list_tools().await.unwrap_or_else(|e| panic!("tools/list over {:?}: {e}", self.transport));
        tools.into_iter().map(|t| t.name).collect()
    }

    /// The process id of an HTTP or WebSocket server (stdio servers belong to the client).
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().and_then(|c| c.id())
    }
}

/// All the text content of a result, joined by newlines.
pub fn text(result: &CallToolResult) -> String {
    result
        .content
        .iter()
        .filter_map(|c| match c {
            Content::Text { text, .. } => Some(text.as_str()),
            _ => None,
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// The kind of a failed result (`"not_found"`, `"refused"`, ...), as the server sent it.
pub fn error_kind(result: &CallToolResult) -> Option<&Value> {
    result.meta.as_ref().and_then(|m| m.get(ERROR_KIND_META))
}

/// A TCP port free on loopback right now.
pub fn free_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind a loopback port");
    listener.local_addr().expect("local address").port()
}

/// A plain HTTP/1.1 GET on loopback (operations endpoints): the status code and body.
pub async fn http_get(addr: &str, path: &str) -> (u16, String) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap_or_else(|e| panic!("connect to {addr}: {e}"));
    let request = format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n");
    stream.write_all(request.as_bytes()).await.expect("write the request");
    let mut response = String::new();
    stream.read_to_string(&mut response).await.expect("read the response");
    let status = response.split_whitespace().nth(1).and_then(|s| s.parse().ok()).unwrap_or(0);
    let body = response.split_once("\r\n\r\n").map(|(_, b)| b.to_string()).unwrap_or_default();
    (status, body)
}

/// Set to `1` by scripts/test.sh: CI starts every service itself, so a skip there means a
/// test did not run and must fail the run instead of counting as a pass.
pub const NO_SKIP_ENV: &str = "MCP_TEST_NO_SKIP";
/// A file each skip is appended to (one line: test, reason), for the run's summary.
pub const SKIP_LOG_ENV: &str = "MCP_TEST_SKIP_LOG";

/// The one way a test skips: prints `skipped: <test>: <reason>`, appends the same line to
/// the file named by `MCP_TEST_SKIP_LOG` (if set), and panics instead when
/// `MCP_TEST_NO_SKIP=1`. The caller returns right after.
///
/// ```ignore
/// let Some(start) = var("MCP_TEST_N8N_START") else {
///     return mcp_core::testing::skip("n8n_restarted", "no MCP_TEST_N8N_START to restart n8n");
/// };
/// ```
pub fn skip(test: &str, reason: &str) {
    let log = std::env::var_os(SKIP_LOG_ENV).filter(|p| !p.is_empty()).map(PathBuf::from);
    record_skip(test, reason, std::env::var(NO_SKIP_ENV).is_ok_and(|v| v == "1"), log.as_deref());
}

fn record_skip(test: &str, reason: &str, no_skip: bool, log: Option<&std::path::Path>) {
    let line = format!("skipped: {test}: {reason}");
    eprintln!("{line}");
    if let Some(path) = log {
        use std::io::Write;
        let appended = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .and_then(|mut f| f.write_all(format!("{line}\n").as_bytes()));
        if let Err(e) = appended {
            eprintln!("could not record the skip in {}: {e}", path.display());
        }
    }
    // After recording, so that the run's summary lists the skip that failed it.
    assert!(!no_skip, "{line} ({NO_SKIP_ENV}=1: every skip is a failure)");
}

#[cfg(test)]
mod tests {
    use super::record_skip;

    #[test]
    fn a_skip_is_printed_and_appended_to_the_log() {
        let dir = tempfile::tempdir().expect("dir");
        let log = dir.path().join("skips");
        record_skip("first", "no service", false, Some(&log));
        record_skip("second", "no handle", false, Some(&log));
        let text = std::fs::read_to_string(&log).expect("log written");
        assert_eq!(text, "skipped: first: no service\nskipped: second: no handle\n");
    }

    #[test]
    #[should_panic(expected = "skipped: strict: no service (MCP_TEST_NO_SKIP=1: every skip is a failure)")]
    fn a_skip_fails_when_skips_are_forbidden() {
        record_skip("strict", "no service", true, None);
    }
}
