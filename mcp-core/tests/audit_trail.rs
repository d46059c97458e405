//! The audit trail as an operator meets it: a server configured by the shared flags
//! (`--audit-log`, `--audit-key-file`, `--redact-names`) writes it over HTTP on loopback, and
//! the real `mcp audit verify` judges it after each of an attacker's edits.

mod common;

use clap::Parser;
use common::serve_on_loopback;
use mcp_core::cli::ServeArgs;
use mcp_core::client::{Client, ClientOptions};
use mcp_core::server::Server;
use mcp_core::transport::http::HttpConfig;
use mcp_core::{Context, ToolError, tool};
use serde_json::{Map, Value, json};

#[derive(Parser)]
struct Cli {
    #[command(flatten)]
    serve: ServeArgs,
}

/// A server built from `flags`, with a `note` tool taking any arguments.
fn server(flags: &[&str]) -> Server {
    let cli = Cli::try_parse_from(std::iter::once("server").chain(flags.iter().copied())).expect("flags");
    let note = tool("note", |_ctx: Context, args: Map<String, Value>| async move {
        Ok::<_, ToolError>(format!("{} fields", args.len()))
    });
    cli.serve.configure(Server::builder("audit-test", "1.0.0").tool(note)).build()
}

/// Serves `server` on loopback, calls `note` with each of `calls`, and returns the trail.
async fn calls_through(server: Server, trail: &std::path::Path, calls: &[Value]) -> String {
    assert_eq!(server.startup_error(), None);
    let url = format!("http://{}/mcp", serve_on_loopback(server.clone(), HttpConfig::default()).await);
    let client = Client::connect_http(&url, ClientOptions::default()).await.expect("connect");
    for arguments in calls {
        let result = client.call_tool("note", arguments.clone()).await.expect("call");
        assert!(!result.is_error, "{result:?}");
    }
    client.close().await;
    server.flush_audit();
    std::fs::read_to_string(trail).expect("read the trail")
}

/// `mcp audit verify FILE ARGS...`: whether it says intact, its stdout parsed, its stderr.
fn verify(file: &std::path::Path, args: &[&str]) -> (bool, Value, String) {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_mcp"))
        .args(["audit", "verify"])
        .arg(file)
        .args(args)
        .output()
        .expect("run mcp");
    let stdout = serde_json::from_slice(&out.stdout).unwrap_or(Value::Null);
    (out.status.success(), stdout, String::from_utf8_lossy(&out.stderr).into_owned())
}

fn path_str(path: &std::path::Path) -> &str {
    path.to_str().expect("a UTF-8 temp path")
}

/// A key file readable by its owner only.
fn key_file(dir: &tempfile::TempDir, name: &str, key: &str) -> std::path::PathBuf {
    let path = dir.path().join(name);
    std::fs::write(&path, key).expect("write key");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).expect("chmod");
    }
    path
}

#[tokio::test]
async fn secrets_named_or_shaped_never_reach_the_trail() {
    let dir = tempfile::tempdir().expect("tempdir");
    let trail = dir.path().join("audit.jsonl");
    let flags = ["--audit-log", path_str(&trail), "--redact-names", "pin,one-time-code"];
    let arguments = json!({
        "api-key": "S01-api-key", "x-api-key": "S02-x-api-key", "private-key": "S03-private-key",
        "Cookie": "S04-cookie", "pwd": "S05-pwd", "bearer": "S06-bearer", "passphrase": "S07-passphrase",
        "url": "postgres://admin:S08-url-password@db:5432/app",
        "argv": ["deploy", "--token=S09-argv-token", "--password", "S10-argv-password", "--replicas", "3"],
        "command": "tool --api-key S11-command-key now",
        "header": "Authorization: Bearer S12-bearer-token",
        "jwt": "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJTMTMifQ.S13-jwt-signature",
        "pem": "-----BEGIN RSA PRIVATE KEY-----\nS14-pem-body\n-----END RSA PRIVATE KEY-----",
        "connection": "host=db password=S15-conn-password user=app",
        "pin": "S16-pin", "oneTimeCode": "S17-otp",
        "author": "ada", "note": "hello",
    });
    let text = calls_through(server(&flags), &trail, &[arguments]).await;
    let leaked: Vec<String> = (1..=17).map(|i| format!("S{i:02}-")).filter(|s| text.contains(s.as_str())).collect();
    assert!(leaked.is_empty(), "secrets {leaked:?} reached the trail: {text}");
    assert!(!text.contains("eyJzdWIiOiJTMTMifQ"), "the JWT reached the trail: {text}");
    let line: Value = text
        .lines()
        .map(|l| serde_json::from_str(l).expect("json"))
        .find(|l: &Value| l["target"] == "note")
        .expect("the call's line");
    let args = &line["arguments"];
    assert_eq!(args["x-api-key"], "[REDACTED]");
    assert_eq!(args["url"], "postgres://admin:[REDACTED]@db:5432/app", "the user stays, the password goes");
    assert_eq!(args["argv"], json!(["deploy", "--token=[REDACTED]", "--password", "[REDACTED]", "--replicas", "3"]));
    assert_eq!(args["pem"], "-----BEGIN RSA PRIVATE KEY-----[REDACTED]-----END RSA PRIVATE KEY-----");
    assert_eq!((&args["author"], &args["note"]), (&json!("ada"), &json!("hello")), "what is not secret stays");

    let (intact, out, err) = verify(&trail, &[]);
    assert!(intact, "{err}");
    assert_eq!(out["lines"], text.lines().count());
}

#[tokio::test]
async fn the_verifier_finds_each_edit_the_anchors_it_is_given_can_show() {
    let dir = tempfile::tempdir().expect("tempdir");
    let trail = dir.path().join("audit.jsonl");
    let calls: Vec<Value> = (0..4).map(|i| json!({"n": i})).collect();
    let text = calls_through(server(&["--audit-log", path_str(&trail)]), &trail, &calls).await;
    let (intact, out, err) = verify(&trail, &[]);
    assert!(intact, "{err}");
    let lines = text.lines().count();
    assert_eq!(out["lines"], lines);
    assert!(out["note"].as_str().is_some_and(|n| n.contains("--expect-head")), "{out}");
    let head = out["head"].as_str().expect("the head is printed").to_owned();
    let count = lines.to_string();
    let anchors = ["--expect-head", &head, "--expect-lines", &count];
    assert_eq!(verify(&trail, &anchors).1["expected_head_at_line"], lines);

    let edit = |name: &str, content: String| {
        let path = dir.path().join(name);
        std::fs::write(&path, content).expect("write");
        path
    };
    let all: Vec<&str> = text.lines().collect();
    let joined = |lines: &[&str]| lines.iter().map(|l| format!("{l}\n")).collect::<String>();

    // The last line edited: the chain alone cannot see it; the recorded head does.
    let (last, rest) = all.split_last().expect("lines");
    let edited = edit("last.jsonl", joined(rest) + &last.replace("\"bytes_out\":", "\"bytes_out\":1") + "\n");
    assert!(verify(&edited, &[]).0);
    let (intact, _, err) = verify(&edited, &anchors);
    assert!(!intact && err.contains(&format!("expected the head {head} at line {lines}, found ")), "{err}");

    // The first line deleted.
    let (intact, _, err) = verify(&edit("head.jsonl", joined(&all[1..])), &[]);
    assert!(!intact && err.contains("line 1: first line is not the start of a trail (prev is not genesis)"), "{err}");

    // The last lines deleted.
    let cut = edit("cut.jsonl", joined(&all[..lines - 2]));
    assert!(verify(&cut, &[]).0);
    let (intact, _, err) = verify(&cut, &["--expect-lines", &count]);
    assert!(!intact && err.contains(&format!("expected at least {lines} lines, found {}", lines - 2)), "{err}");
    let (intact, _, err) = verify(&cut, &["--expect-head", &head]);
    assert!(!intact && err.contains("truncated"), "{err}");

    // The file emptied.
    let (intact, out, err) = verify(&edit("empty.jsonl", String::new()), &[]);
    assert!(!intact && out.is_null() && err.contains("the trail is empty"), "{err}");
}

/// `lines` chained again from genesis with SHA-256, as whoever edits an unkeyed trail can.
fn rechain(lines: &[&str]) -> String {
    use sha2::{Digest, Sha256};
    let mut prev = "0".repeat(64);
    let mut out = String::new();
    for line in lines {
        let mut value: Value = serde_json::from_str(line).expect("json");
        value["prev"] = json!(prev);
        let line = value.to_string();
        prev = Sha256::digest(line.as_bytes()).iter().map(|b| format!("{b:02x}")).collect();
        out.push_str(&line);
        out.push('\n');
    }
    out
}

#[tokio::test]
async fn a_trail_rewritten_whole_is_caught_by_a_recorded_head_or_by_its_key() {
    let dir = tempfile::tempdir().expect("tempdir");
    let calls: Vec<Value> = (0..4).map(|i| json!({"n": i})).collect();
    let write = |name: &str, content: String| {
        let path = dir.path().join(name);
        std::fs::write(&path, content).expect("write");
        path
    };

    // Unkeyed: a line removed and the chain rewritten verifies, but for the recorded head.
    let plain = dir.path().join("plain.jsonl");
    let text = calls_through(server(&["--audit-log", path_str(&plain)]), &plain, &calls).await;
    let head = verify(&plain, &[]).1["head"].as_str().expect("head").to_owned();
    let mut lines: Vec<&str> = text.lines().collect();
    lines.remove(2);
    let rewritten = write("plain-rewritten.jsonl", rechain(&lines));
    assert!(verify(&rewritten, &[]).0, "an unkeyed chain can be rewritten whole");
    let (intact, _, err) = verify(&rewritten, &["--expect-head", &head]);
    assert!(!intact && err.contains(&format!("expected the head {head}, found it nowhere")), "{err}");

    // Keyed: the same rewrite fails, with the key, at the first line the attacker re-chained.
    let key = key_file(&dir, "key", &format!("{}\n", "5a".repeat(32)));
    let keyed = dir.path().join("keyed.jsonl");
    let flags = ["--audit-log", path_str(&keyed), "--audit-key-file", path_str(&key)];
    let text = calls_through(server(&flags), &keyed, &calls).await;
    assert!(!text.contains(&"5a".repeat(32)), "the key is not in the trail");
    let with_key = ["--audit-key-file", path_str(&key)];
    let (intact, out, err) = verify(&keyed, &with_key);
    assert!(intact && out["keyed"] == true && out["lines"] == text.lines().count(), "{err}");
    let mut lines: Vec<&str> = text.lines().collect();
    lines.remove(2);
    let (intact, _, err) = verify(&write("keyed-rewritten.jsonl", rechain(&lines)), &with_key);
    assert!(!intact && err.contains("line 2: its `prev` does not match"), "{err}");
    let stripped: Vec<String> = lines
        .iter()
        .map(|l| {
            let mut v: Value = serde_json::from_str(l).expect("json");
            v.as_object_mut().expect("object").remove("key_id");
            v.to_string()
        })
        .collect();
    let stripped = write("keyed-stripped.jsonl", rechain(&stripped.iter().map(String::as_str).collect::<Vec<_>>()));
    let (intact, _, err) = verify(&stripped, &with_key);
    assert!(!intact && err.contains("the trail is not keyed, but a key was given"), "{err}");

    // Without the key, or with another, the keyed trail does not pass.
    let (intact, _, err) = verify(&keyed, &[]);
    assert!(!intact && err.contains("the trail is keyed") && err.contains("give its key"), "{err}");
    let other = key_file(&dir, "other", &"6b".repeat(32));
    let (intact, _, err) = verify(&keyed, &["--audit-key-file", path_str(&other)]);
    assert!(!intact && err.contains("a wrong key"), "{err}");

    // A restarted server continues the keyed trail with its key, and will not without it.
    let text = calls_through(server(&flags), &keyed, &calls[..1]).await;
    assert_eq!(verify(&keyed, &with_key).1["lines"], text.lines().count());
    let refused = server(&["--audit-log", path_str(&keyed)]);
    let err = refused.startup_error().expect("refused");
    assert!(err.contains("keyed") && err.contains("--audit-key-file"), "{err}");
}

#[test]
fn key_files_open_to_others_or_too_short_stop_the_server() {
    let dir = tempfile::tempdir().expect("tempdir");
    let trail = dir.path().join("audit.jsonl");
    let short = key_file(&dir, "short", "tooshort");
    let err = server(&["--audit-log", path_str(&trail), "--audit-key-file", path_str(&short)]);
    let err = err.startup_error().expect("refused");
    assert!(err.contains("at least 32 bytes") && err.contains("short"), "{err}");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let open = key_file(&dir, "open", &"ab".repeat(32));
        std::fs::set_permissions(&open, std::fs::Permissions::from_mode(0o640)).expect("chmod");
        let refused = server(&["--audit-log", path_str(&trail), "--audit-key-file", path_str(&open)]);
        let err = refused.startup_error().expect("refused");
        assert!(err.contains("mode 640") && err.contains("chmod 600"), "{err}");
        let (intact, _, err) = verify(&trail, &["--audit-key-file", path_str(&open)]);
        assert!(!intact && err.contains("chmod 600"), "{err}");
    }
    assert!(Cli::try_parse_from(["server", "--audit-key-file", "k"]).is_err(), "a key needs a trail");
}
