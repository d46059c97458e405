//! Support for the integration tests: the connector binaries as users run them (found in
//! the target directory, built by `cargo build --workspace`), the services that
//! `scripts/services.sh` starts (read from the environment it prints), and the figures of
//! the load and scale-out runs.
//!
//! The helpers panic with a message saying what to run: they exist for tests.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use mcp_core::client::{Client, ClientError, ClientOptions, EraChoice};
use mcp_core::protocol::CallToolResult;
use mcp_core::testing::Launcher;
use serde_json::Value;

/// The four connectors.
pub const CONNECTORS: [&str; 4] = ["mcp-postgres", "mcp-docker", "mcp-kubernetes", "mcp-n8n"];

/// A connector binary of another package of the workspace. Cargo gives a test only its
/// own package's binaries (`CARGO_BIN_EXE_*`), so the others are found where `cargo build
/// --workspace` puts them: the directory above the test binary's `deps/`.
pub fn binary(name: &str) -> PathBuf {
    let exe = std::env::current_exe().unwrap_or_else(|e| panic!("the test binary's path: {e}"));
    let dir = exe.parent().and_then(|deps| deps.parent()).map(PathBuf::from).unwrap_or_default();
    let path = dir.join(name);
    if !path.is_file() {
        panic!(
            "{} is missing: run `cargo build --workspace` first (scripts/test.sh does), then the integration tests",
            path.display()
        );
    }
    path
}

fn service(var: &str) -> String {
    match std::env::var(var) {
        Ok(v) if !v.is_empty() => v,
        _ => panic!("{var} is not set: run `eval \"$(scripts/services.sh up)\"` (or scripts/test.sh) first"),
    }
}

/// The n8n owner's login (`MCP_TEST_N8N_EMAIL`, `MCP_TEST_N8N_PASSWORD`).
pub fn n8n_login() -> (String, String) {
    (service("MCP_TEST_N8N_EMAIL"), service("MCP_TEST_N8N_PASSWORD"))
}

/// The test database (`MCP_TEST_DATABASE_URL`).
pub fn database_url() -> String {
    service("MCP_TEST_DATABASE_URL")
}

/// The test Docker engine (`DOCKER_HOST`).
pub fn docker_host() -> String {
    service("DOCKER_HOST")
}

/// The test n8n: URL and API key.
pub fn n8n_instance() -> (String, String) {
    (service("MCP_TEST_N8N_URL"), service("MCP_TEST_N8N_API_KEY"))
}

/// mcp-postgres on the test database.
pub fn postgres() -> Launcher {
    Launcher::new(binary("mcp-postgres")).args(["--database-url".to_string(), database_url()])
}

/// mcp-docker on the test engine, given explicitly: the shell's `DOCKER_*` settings and
/// the developer's CLI contexts stay out of the server's environment.
pub fn docker() -> Launcher {
    Launcher::new(binary("mcp-docker"))
        .env_remove("DOCKER_HOST")
        .env_remove("DOCKER_TLS_VERIFY")
        .env_remove("DOCKER_CERT_PATH")
        .env_remove("DOCKER_CONTEXT")
        .env("DOCKER_CONFIG", "/nonexistent/mcp-integration-tests")
        .args(["--docker-host".to_string(), docker_host()])
}

/// mcp-n8n on the test instance (read-only), with the owner's login when the services
/// give it (the node catalogue needs it).
pub fn n8n() -> Launcher {
    let (url, key) = n8n_instance();
    let mut launcher = Launcher::new(binary("mcp-n8n"))
        .env_remove("N8N_API_KEY_FILE")
        .env_remove("MCP_N8N_INSTANCES_FILE")
        .env_remove("MCP_N8N_SCOPE_TAG")
        .env("N8N_API_URL", url)
        .env("N8N_API_KEY", key);
    if let (Ok(email), Ok(password)) = (std::env::var("MCP_TEST_N8N_EMAIL"), std::env::var("MCP_TEST_N8N_PASSWORD")) {
        launcher = launcher.env("N8N_EMAIL", email).env("N8N_PASSWORD", password);
    }
    launcher
}

/// mcp-kubernetes on the cluster a kubeconfig names, with the developer's settings out.
pub fn kubernetes(kubeconfig: &std::path::Path) -> Launcher {
    Launcher::new(binary("mcp-kubernetes"))
        .arg("--kubeconfig")
        .arg(kubeconfig)
        .env_remove("KUBECONFIG")
        .env_remove("KUBERNETES_SERVICE_HOST")
        .env_remove("MCP_KUBERNETES_CONTEXT")
        .env_remove("MCP_KUBERNETES_ALLOW_WRITE")
        .env_remove("MCP_KUBERNETES_ALLOW_DESTRUCTIVE")
        .env_remove("MCP_KUBERNETES_ALLOWED_NAMESPACES")
}

/// Client options speaking one era.
pub fn era(era: EraChoice) -> ClientOptions {
    ClientOptions { era, ..ClientOptions::default() }
}

/// Both protocol eras: the `initialize` handshake (2025-11-25) and stateless 2026-07-28.
pub const ERAS: [EraChoice; 2] = [EraChoice::Handshake, EraChoice::Stateless];

/// The protocol version a client in `era` must end up speaking with these servers.
pub fn expected_version(era: EraChoice) -> &'static str {
    match era {
        EraChoice::Stateless => "2026-07-28",
        _ => "2025-11-25",
    }
}

/// How long a load run lasts: `MCP_LOAD_SECS` for a longer run, else `default`.
pub fn load_duration(default: Duration) -> Duration {
    std::env::var("MCP_LOAD_SECS")
        .ok()
        .and_then(|s| s.parse::<f64>().ok())
        .filter(|s| *s > 0.0)
        .map(Duration::from_secs_f64)
        .unwrap_or(default)
}

/// Whether a failed call may be sent again to another replica: the connection failed or
/// the load balancer answered that the replica failed (502, 503, 504). A JSON-RPC error
/// or a tool's error result is an answer, not a reason to retry.
pub fn retryable(error: &ClientError) -> bool {
    match error {
        ClientError::Transport(message) => {
            !message.contains("HTTP ") || ["HTTP 502", "HTTP 503", "HTTP 504"].iter().any(|s| message.contains(s))
        }
        ClientError::Timeout(_) | ClientError::Protocol(_) | ClientError::Unexpected(_) => false,
    }
}

/// Calls a read-only (so idempotent) tool, sending it again up to `attempts` times in all
/// while the failure is [`retryable`]. Returns the last outcome and how many retries it
/// took.
pub async fn call_retrying(
    client: &Client,
    tool: &str,
    args: Value,
    attempts: u32,
) -> (Result<CallToolResult, ClientError>, u32) {
    let mut retries = 0;
    loop {
        match client.call_tool(tool, args.clone()).await {
            Err(e) if retryable(&e) && retries + 1 < attempts => {
                retries += 1;
                // A short pause lets the balancer mark the dead replica down.
                tokio::time::sleep(Duration::from_millis(20 * u64::from(retries))).await;
            }
            outcome => return (outcome, retries),
        }
    }
}

/// Figures of a load run.
#[derive(Debug, Default, Clone)]
pub struct LoadReport {
    /// Latency of every call that completed (successful or not).
    pub latencies: Vec<Duration>,
    /// Calls that failed (transport error or an error result), after any retries.
    pub errors: u64,
    /// Retries sent.
    pub retries: u64,
    /// The first few errors, to show why.
    pub samples: Vec<String>,
    /// Wall time of the run.
    pub elapsed: Duration,
}

impl LoadReport {
    /// Merges another client's figures.
    pub fn merge(&mut self, other: LoadReport) {
        self.latencies.extend(other.latencies);
        self.errors += other.errors;
        self.retries += other.retries;
        let room = 5usize.saturating_sub(self.samples.len());
        self.samples.extend(other.samples.into_iter().take(room));
    }

    /// Records one call's outcome.
    pub fn record(&mut self, started: Instant, outcome: &Result<CallToolResult, ClientError>, what: &str) {
        self.record_expecting(started, outcome, what, "");
    }

    /// Records one call's outcome; a success whose answer (text and structured content)
    /// lacks `expect` is a wrong answer, counted as a failure.
    pub fn record_expecting(
        &mut self,
        started: Instant,
        outcome: &Result<CallToolResult, ClientError>,
        what: &str,
        expect: &str,
    ) {
        self.latencies.push(started.elapsed());
        let failure = match outcome {
            Ok(r) if r.is_error => Some(format!("{what}: error result: {}", mcp_core::testing::text(r))),
            Ok(r) if !expect.is_empty() => {
                let shown =
                    format!("{} {}", mcp_core::testing::text(r), r.structured_content.clone().unwrap_or_default());
                (!shown.contains(expect)).then(|| format!("{what}: `{expect}` not in: {shown:.300}"))
            }
            Ok(_) => None,
            Err(e) => Some(format!("{what}: {e}")),
        };
        if let Some(f) = failure {
            self.errors += 1;
            if self.samples.len() < 5 {
                self.samples.push(f);
            }
        }
    }

    /// Calls made.
    pub fn calls(&self) -> usize {
        self.latencies.len()
    }

    /// Calls per second over the run.
    pub fn throughput(&self) -> f64 {
        self.calls() as f64 / self.elapsed.as_secs_f64().max(f64::EPSILON)
    }

    /// The latency under which `q` (0..=1) of the calls completed.
    pub fn percentile(&self, q: f64) -> Duration {
        let mut sorted = self.latencies.clone();
        sorted.sort_unstable();
        if sorted.is_empty() {
            return Duration::ZERO;
        }
        let index = ((sorted.len() as f64 - 1.0) * q).round() as usize;
        sorted[index.min(sorted.len() - 1)]
    }
}

impl std::fmt::Display for LoadReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} calls in {:.1} s: {:.0} calls/s, p50 {:.1} ms, p99 {:.1} ms, {} errors, {} retries",
            self.calls(),
            self.elapsed.as_secs_f64(),
            self.throughput(),
            self.percentile(0.5).as_secs_f64() * 1e3,
            self.percentile(0.99).as_secs_f64() * 1e3,
            self.errors,
            self.retries
        )?;
        for s in &self.samples {
            write!(f, "\n  e.g. {s}")?;
        }
        Ok(())
    }
}
