//! What a newcomer meets first: the README's "Try it" commands run as written (with the
//! build's own target directory and a free port in place of 3001), the `mcp` client's
//! time against a server, and what it says about a server that fails at start.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use integration_tests::{binary, database_url};
use mcp_core::client::{Client, ClientOptions};
use serde_json::Value;

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().map(Path::to_path_buf).unwrap_or_default()
}

/// Where the build put its binaries (what the README calls `target/debug`).
fn build_dir() -> PathBuf {
    binary("mcp").parent().map(Path::to_path_buf).unwrap_or_default()
}

/// The shell lines of the README section headed `heading`'s first ```sh block, without
/// comments.
fn commands_under(heading: &str) -> Vec<String> {
    let readme = std::fs::read_to_string(repo_root().join("README.md")).expect("README.md");
    let section = readme.split(&format!("\n## {heading}\n")).nth(1).unwrap_or_else(|| panic!("no ## {heading}"));
    let block = section.split("```sh\n").nth(1).and_then(|b| b.split("\n```").next()).expect("a sh block");
    block
        .lines()
        .map(|l| l.split("  #").next().unwrap_or_default().trim().to_string())
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .collect()
}

fn sh(line: &str, cwd: &Path) -> (Output, Duration) {
    let started = Instant::now();
    let output = Command::new("sh")
        .args(["-c", line])
        .current_dir(cwd)
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| panic!("run {line}: {e}"));
    (output, started.elapsed())
}

/// Stops the background server at the end, whatever happens.
struct Background(std::process::Child);
impl Drop for Background {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn the_try_it_commands_run_as_written() {
    let target = format!("{}/", build_dir().display());
    let port = std::net::TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).expect("a free port").port();
    let audit_dir = tempfile::tempdir().expect("a temp dir");
    let mut background = Vec::new();
    let (mut ran, mut skipped) = (Vec::new(), Vec::new());
    for written in commands_under("Try it") {
        // Placeholders a user fills in (their server, a recorded head) and the build itself.
        if written.contains('…') || written.contains(" HEX ") || written.starts_with("cargo build") {
            skipped.push(written);
            continue;
        }
        let line = written.replace("target/debug/", &target).replace("3001", &port.to_string());
        // The audit trail the verify lines read is the one a server with --audit-log wrote.
        let cwd = if line.contains("audit.jsonl") {
            let (out, _) = sh(
                &format!("{target}mcp tools -- {target}examples/everything --audit-log audit.jsonl"),
                audit_dir.path(),
            );
            assert!(out.status.success(), "writing an audit trail: {}", String::from_utf8_lossy(&out.stderr));
            audit_dir.path().to_path_buf()
        } else {
            repo_root()
        };
        if line.contains("--listen") {
            let child = Command::new("sh")
                .args(["-c", &format!("exec {line}")])
                .current_dir(&cwd)
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .spawn()
                .expect("start the HTTP server");
            background.push(Background(child));
            let up = (0..200).any(|_| {
                std::thread::sleep(Duration::from_millis(25));
                std::net::TcpStream::connect(("127.0.0.1", port)).is_ok()
            });
            assert!(up, "`{written}` did not listen within 5 s");
            ran.push((written, Duration::ZERO));
            continue;
        }
        let (out, took) = sh(&line, &cwd);
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success(),
            "`{written}` failed ({}):\n{stdout}\n{}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        );
        if line.contains("mcp ") {
            let answer: Value = serde_json::from_str(&stdout).unwrap_or_else(|e| panic!("`{written}`: {e}: {stdout}"));
            assert!(answer.get("isError") != Some(&Value::Bool(true)), "`{written}`: {answer}");
            // A client that waits for its server's exit or kills it took 2 s here.
            assert!(took < Duration::from_millis(1500), "`{written}` took {took:?}");
        }
        ran.push((written, took));
    }
    for (command, took) in &ran {
        eprintln!("{:>8.1} ms  {command}", took.as_secs_f64() * 1000.0);
    }
    assert!(ran.len() >= 9, "the README's Try it block shrank or the parser broke: {ran:?}");
    assert_eq!(skipped.len(), 3, "only the build and the two placeholder lines are skipped: {skipped:?}");
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
