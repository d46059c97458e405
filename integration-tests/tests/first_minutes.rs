//! What a newcomer meets first: the README's "Try it" commands run as written (with the
//! build's own target directory and a free port in place of 3001), the `mcp` client's
//! time against a server, and what it says about a server that fails at start.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

mod common;

use integration_tests::{binary, database_url};
use mcp_core::client::{Client, ClientOptions};
use serde_json::Value;

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().map(Path::to_path_buf).unwrap_or_default()
}

/// Where the build put its binaries (what the READMEs call `target/debug`).
fn build_dir() -> PathBuf {
    binary("mcp").parent().map(Path::to_path_buf).unwrap_or_default()
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).expect("a free port").port()
}

/// The shell lines of a README's first ```sh block (under `## heading` when given), with
/// continued lines joined and comments dropped.
fn commands_in(readme: &str, heading: Option<&str>) -> Vec<String> {
    let text = std::fs::read_to_string(repo_root().join(readme)).unwrap_or_else(|e| panic!("{readme}: {e}"));
    let section = match heading {
        Some(h) => text.split(&format!("\n## {h}\n")).nth(1).unwrap_or_else(|| panic!("{readme}: no ## {h}")),
        None => text.as_str(),
    };
    let block = section.split("```sh\n").nth(1).and_then(|b| b.split("\n```").next()).expect("a sh block");
    block
        .replace("\\\n", " ")
        .lines()
        .map(|l| l.split("  #").next().unwrap_or_default().split_whitespace().collect::<Vec<_>>().join(" "))
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .collect()
}

/// Runs a README's commands as written, but for what only the reader can fill in: the
/// build's target directory, the test services in place of the README's hosts and
/// placeholders (`subs`), a free port in place of the README's, files it names made in a
/// scratch directory. A server command (stdio) is run under `mcp tools --` to time its
/// first answer; an HTTP server is started and must listen; `mcp` commands must answer
/// without error. Returns each command's time, and the lines it left out.
struct Readme {
    /// (what the README says, what the test puts instead), in order.
    subs: Vec<(String, String)>,
    env: Vec<(String, String)>,
    cwd: PathBuf,
}

impl Readme {
    fn new(cwd: &Path) -> Self {
        let target = format!("{}/", build_dir().display());
        Self { subs: vec![("target/debug/".into(), target)], env: Vec::new(), cwd: cwd.to_path_buf() }
    }

    fn sub(mut self, written: &str, instead: impl Into<String>) -> Self {
        self.subs.push((written.into(), instead.into()));
        self
    }

    fn env(mut self, key: &str, value: impl Into<String>) -> Self {
        self.env.push((key.into(), value.into()));
        self
    }

    async fn sh(&self, line: &str) -> (std::process::Output, Duration) {
        let started = Instant::now();
        let output = tokio::process::Command::new("sh")
            .args(["-c", line])
            .current_dir(&self.cwd)
            .envs(self.env.iter().map(|(k, v)| (k, v)))
            .stdin(Stdio::null())
            .output()
            .await
            .unwrap_or_else(|e| panic!("run {line}: {e}"));
        (output, started.elapsed())
    }

    async fn run(mut self, readme: &str, heading: Option<&str>) -> (Vec<(String, Duration)>, Vec<String>) {
        let target = build_dir();
        let mut background = Vec::new();
        let (mut ran, mut skipped) = (Vec::new(), Vec::new());
        for written in commands_in(readme, heading) {
            let mut line = written.clone();
            for (from, to) in &self.subs {
                line = line.replace(from.as_str(), to);
            }
            for connector in integration_tests::CONNECTORS {
                if line.starts_with(&format!("{connector} ")) {
                    line = format!("{}/{line}", target.display());
                }
            }
            // The build itself, and what only the reader can fill in.
            if line.starts_with("cargo build") || line.contains('…') || line.contains(" HEX ") {
                skipped.push(written);
                continue;
            }
            if let Some(assignments) = line.strip_prefix("export ") {
                for pair in assignments.split_whitespace() {
                    let (k, v) = pair.split_once('=').unwrap_or_else(|| panic!("{readme}: `{written}`"));
                    self.env.push((k.into(), v.into()));
                }
                ran.push((written, Duration::ZERO));
                continue;
            }
            if line.contains("--transport http") {
                if !line.contains("--listen") {
                    line.push_str(&format!(" --listen 127.0.0.1:{}", free_port()));
                }
                let port: u16 = line
                    .split("--listen 127.0.0.1:")
                    .nth(1)
                    .and_then(|rest| rest.split_whitespace().next())
                    .and_then(|p| p.parse().ok())
                    .unwrap_or_else(|| panic!("{readme}: no loopback --listen in `{line}`"));
                let child = tokio::process::Command::new("sh")
                    .args(["-c", &format!("exec env {line}")])
                    .current_dir(&self.cwd)
                    .envs(self.env.iter().map(|(k, v)| (k, v)))
                    .stdin(Stdio::null())
                    .stdout(Stdio::null())
                    .kill_on_drop(true)
                    .spawn()
                    .expect("start the HTTP server");
                background.push(child);
                let started = Instant::now();
                let mut up = false;
                while !up && started.elapsed() < Duration::from_secs(10) {
                    tokio::time::sleep(Duration::from_millis(25)).await;
                    up = tokio::net::TcpStream::connect(("127.0.0.1", port)).await.is_ok();
                }
                assert!(up, "{readme}: `{written}` did not listen within 10 s");
                ran.push((written, started.elapsed()));
                continue;
            }
            let is_client = line.split_whitespace().find(|w| !w.contains('=')).is_some_and(|w| w.ends_with("/mcp"));
            let command = if is_client { line.clone() } else { format!("{}/mcp tools -- {line}", target.display()) };
            let (out, took) = self.sh(&command).await;
            let stdout = String::from_utf8_lossy(&out.stdout);
            assert!(
                out.status.success(),
                "{readme}: `{written}` failed ({}):\n{stdout}\n{}",
                out.status,
                String::from_utf8_lossy(&out.stderr)
            );
            if stdout.trim_start().starts_with('{') {
                let answer: Value = serde_json::from_str(&stdout).unwrap_or_else(|e| panic!("`{written}`: {e}"));
                assert!(answer.get("isError") != Some(&Value::Bool(true)), "{readme}: `{written}`: {answer}");
            }
            // A client that waits out its server's exit, or kills it, took 2 s here.
            assert!(took < Duration::from_millis(1500), "{readme}: `{written}` took {took:?}");
            ran.push((written, took));
        }
        for (command, took) in &ran {
            eprintln!("{:>8.1} ms  {command}", took.as_secs_f64() * 1000.0);
        }
        (ran, skipped)
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn the_try_it_commands_run_as_written() {
    // The audit lines verify the trail a server with --audit-log wrote where they run.
    let dir = tempfile::tempdir().expect("a temp dir");
    let target = build_dir();
    let trail = format!("{0}/mcp tools -- {0}/examples/everything --audit-log audit.jsonl", target.display());
    let written = Command::new("sh").args(["-c", &trail]).current_dir(dir.path()).output().expect("mcp");
    assert!(written.status.success(), "writing an audit trail: {}", String::from_utf8_lossy(&written.stderr));
    let audit = dir.path().join("audit.jsonl").display().to_string();
    let (ran, skipped) = Readme::new(&repo_root())
        .sub("3001", free_port().to_string())
        .sub("audit verify audit.jsonl", format!("audit verify {audit}"))
        .run("README.md", Some("Try it"))
        .await;
    assert!(ran.len() >= 9, "the README's Try it block shrank or the parser broke: {ran:?}");
    assert_eq!(skipped.len(), 3, "only the build and the two placeholder lines are skipped: {skipped:?}");
}

/// Each connector README's quick start, with the test services in place of the reader's.
#[tokio::test(flavor = "multi_thread")]
async fn each_connector_readmes_quick_start_runs_as_written() {
    let scratch = tempfile::tempdir().expect("a temp dir");
    let dir = scratch.path();
    let db = database_url();
    let docker = integration_tests::docker_host();
    let (n8n_url, n8n_key) = integration_tests::n8n_instance();
    let cluster = common::Cluster::start().await;
    std::fs::write(dir.join("dbs.toml"), format!("[databases.shop]\nurl = \"{db}\"\n")).expect("dbs.toml");
    std::fs::write(dir.join("tokens"), "reader=a-reader-token-0123456789abcdefghijklmnop\n").expect("tokens");
    std::fs::write(dir.join("n8n-pass"), std::env::var("MCP_TEST_N8N_PASSWORD").unwrap_or_default()).expect("pass");
    let home = dir.join("home");
    std::fs::create_dir_all(home.join(".kube")).expect("mkdir");
    std::fs::copy(&cluster.kubeconfig, home.join(".kube/config")).expect("kubeconfig");
    let port = free_port().to_string();
    let runs = [
        (
            "mcp-postgres/README.md",
            Readme::new(dir).sub("postgres://reader@db.internal/shop", db.clone()).sub("postgres://…", db.clone()),
            3,
            0,
        ),
        (
            "mcp-docker/README.md",
            Readme::new(dir)
                .env("DOCKER_HOST", docker.clone())
                .sub("unix:///run/user/1000/docker.sock", docker.clone())
                .sub("/srv/data", dir.display().to_string())
                .sub("127.0.0.1:8080", format!("127.0.0.1:{port}")),
            3,
            1,
        ),
        (
            "mcp-kubernetes/README.md",
            Readme::new(dir).env("HOME", home.display().to_string()).sub("127.0.0.1:8080", format!("127.0.0.1:{port}")),
            3,
            1,
        ),
        (
            "mcp-n8n/README.md",
            Readme::new(dir)
                .sub("http://127.0.0.1:5678", n8n_url.clone())
                .sub("N8N_API_KEY=…", format!("N8N_API_KEY={n8n_key}"))
                .sub("me@example.com", std::env::var("MCP_TEST_N8N_EMAIL").unwrap_or_default())
                .sub("~/.n8n-pass", dir.join("n8n-pass").display().to_string())
                .sub("127.0.0.1:8080", format!("127.0.0.1:{port}")),
            4,
            1,
        ),
    ];
    for (readme, run, at_least, skips) in runs {
        let (ran, skipped) = run.run(readme, None).await;
        assert!(ran.len() >= at_least, "{readme}: {ran:?}");
        assert_eq!(skipped.len(), skips, "{readme}: skipped {skipped:?}");
    }
}

#[test]
fn a_server_that_fails_at_start_is_reported_within_a_second() {
    let mcp = binary("mcp");
    let kubernetes = binary("mcp-kubernetes");
    let cases: [(&str, Vec<String>, &str); 2] = [
        (
            "exit status: 3",
            vec!["sh".into(), "-c".into(), "echo 'the config is broken' >&2; exit 3".into()],
            "the config is broken",
        ),
        (
            "exit status",
            vec!["env".into(), "KUBECONFIG=/nonexistent".into(), kubernetes.display().to_string()],
            "/nonexistent",
        ),
    ];
    for (status, server, said) in cases {
        let started = Instant::now();
        let out = Command::new(&mcp).arg("tools").arg("--").args(&server).stdin(Stdio::null()).output().expect("mcp");
        let took = started.elapsed();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{server:?}: {stderr}");
        assert!(took < Duration::from_secs(1), "{server:?} reported after {took:?}");
        let last = stderr.lines().last().unwrap_or_default();
        assert!(stderr.contains(status) && stderr.contains("exited with"), "{server:?}: {stderr}");
        assert!(stderr.contains(said), "the server's own words must reach the user: {stderr}");
        eprintln!("{:>8.1} ms  {last}", took.as_secs_f64() * 1000.0);
    }
}

/// The `mcp` command's whole run against mcp-postgres, next to the time an in-process
/// client takes to the same answer: the difference is the command's own cost (start,
/// printing, and closing the server).
#[tokio::test]
async fn mcp_tools_ends_soon_after_the_servers_answer() {
    let url = database_url();
    let server = [binary("mcp-postgres").display().to_string(), "--database-url".into(), url];
    let (mut command_best, mut answer_best) = (Duration::MAX, Duration::MAX);
    for _ in 0..3 {
        let started = Instant::now();
        let out = tokio::process::Command::new(binary("mcp"))
            .arg("tools")
            .arg("--")
            .args(&server)
            .stdin(Stdio::null())
            .stderr(Stdio::null())
            .output()
            .await
            .expect("mcp");
        command_best = command_best.min(started.elapsed());
        assert!(out.status.success());

        let started = Instant::now();
        let mut command = tokio::process::Command::new(&server[0]);
        command.args(&server[1..]);
        let client = Client::connect_stdio(command, ClientOptions::default()).await.expect("connect");
        let tools = client.list_tools().await.expect("tools");
        answer_best = answer_best.min(started.elapsed());
        assert!(!tools.is_empty());
        let status = client.close().await.expect("an exit status");
        assert!(status.success(), "mcp-postgres must exit by itself at EOF: {status}");
    }
    let overhead = command_best.saturating_sub(answer_best);
    eprintln!(
        "mcp tools: {:.1} ms; the server's answer in process: {:.1} ms; the command's own cost: {:.1} ms",
        command_best.as_secs_f64() * 1000.0,
        answer_best.as_secs_f64() * 1000.0,
        overhead.as_secs_f64() * 1000.0
    );
    // The target is 50 ms; the bound leaves room for a loaded CI machine and still fails
    // for a client that waits out a 2 s timeout.
    assert!(overhead < Duration::from_millis(250), "the command adds {overhead:?}");
}

#[test]
fn every_binary_says_its_version_and_the_revisions_it_speaks() {
    let version = env!("CARGO_PKG_VERSION");
    for name in integration_tests::CONNECTORS.iter().chain(&["mcp"]) {
        let out = Command::new(binary(name)).arg("--version").output().expect("--version");
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(out.status.success(), "{name} --version: {text}");
        assert_eq!(
            text.trim(),
            format!("{name} {version} (MCP 2026-07-28, 2025-11-25, 2025-06-18, 2025-03-26, 2024-11-05)"),
            "{name}"
        );
    }
}
