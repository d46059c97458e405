//! Configuration: libpq's PG* variables alone are enough, and mistakes stop the server
//! with a message instead of being ignored.

mod common;

use std::process::Stdio;

use mcp_core::client::{Client, ClientOptions};
use serde_json::json;

fn binary() -> std::process::Command {
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_mcp-postgres"));
    cmd.env_remove("DATABASE_URL").stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::piped());
    cmd
}

#[tokio::test]
async fn libpq_variables_alone_name_the_database() {
    let url = common::url();
    // postgres://user@host:port/db
    let rest = url.strip_prefix("postgres://").expect("a postgres:// URL");
    let (user, rest) = rest.split_once('@').expect("user@");
    let (host_port, db) = rest.split_once('/').expect("/db");
    let (host, port) = host_port.split_once(':').expect("host:port");
    let mut cmd = tokio::process::Command::new(env!("CARGO_BIN_EXE_mcp-postgres"));
    cmd.env_remove("DATABASE_URL")
        .env("PGHOST", host)
        .env("PGPORT", port)
        .env("PGUSER", user)
        .env("PGDATABASE", db)
        .env("MCP_LOG_LEVEL", "warn")
        .kill_on_drop(true);
    let client = Client::connect_stdio(cmd, ClientOptions::default()).await.expect("connect");
    let result = client.call_tool("query", json!({"sql": "SELECT current_database() AS db"})).await.expect("call");
    assert!(!result.is_error, "{}", common::text(&result));
    assert_eq!(result.structured_content.expect("structured")["rows"], json!([[db]]));
}

#[test]
fn mistakes_stop_the_server_with_a_reason() {
    let cases: [(&[&str], &str); 5] = [
        (&["--databse-url", "postgres://x/y"], "--databse-url"),
        (&["--database", "nourl"], "NAME=URL"),
        (&["--database", "a=postgres://h/x", "--database", "a=postgres://h/y"], "configured twice"),
        (&["--database", "bad name=postgres://h/x"], "letters, digits"),
        (&["--write-mode", "everything", "--database-url", "postgres://h/x"], "everything"),
    ];
    for (args, expected) in cases {
        let out = binary().args(args).output().expect("run");
        assert!(!out.status.success(), "{args:?} must fail");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.contains(expected), "{args:?}: {stderr}");
    }
    // No database at all, and no PG* variables.
    let mut cmd = binary();
    for (k, _) in std::env::vars().filter(|(k, _)| k.starts_with("PG")) {
        cmd.env_remove(k);
    }
    let out = cmd.output().expect("run");
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("no database"), "{}", String::from_utf8_lossy(&out.stderr));
    // A password never reaches the message.
    let out = binary().args(["--database-url", "postgres://u:s3cret@h:notaport/db"]).output().expect("run");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success() && !stderr.contains("s3cret"), "{stderr}");
}

#[tokio::test]
async fn tls_connections_verify_the_server() {
    let ca = std::env::var("MCP_POSTGRES_TEST_CA").expect("MCP_POSTGRES_TEST_CA (set by scripts/test.sh)");
    let url = format!("{}?sslmode=verify-full&sslrootcert={ca}", common::url());
    let mut cmd = tokio::process::Command::new(env!("CARGO_BIN_EXE_mcp-postgres"));
    cmd.args(["--database-url", &url]).env("MCP_LOG_LEVEL", "warn").kill_on_drop(true);
    let client = Client::connect_stdio(cmd, ClientOptions::default()).await.expect("connect");
    let sql = "SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()";
    let result = client.call_tool("query", json!({ "sql": sql })).await.expect("call");
    assert!(!result.is_error, "{}", common::text(&result));
    assert_eq!(result.structured_content.expect("structured")["rows"], json!([[true]]), "the session is encrypted");
    // A certificate the server's is not signed by is refused, and the call says why.
    let other = tempfile::tempdir().expect("tempdir");
    let wrong_ca = other.path().join("ca.crt");
    let made = std::process::Command::new("openssl")
        .args(["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=other"])
        .arg("-keyout")
        .arg(other.path().join("ca.key"))
        .arg("-out")
        .arg(&wrong_ca)
        .output()
        .expect("openssl");
    assert!(made.status.success());
    let url = format!("{}?sslmode=verify-full&sslrootcert={}", common::url(), wrong_ca.display());
    let mut cmd = tokio::process::Command::new(env!("CARGO_BIN_EXE_mcp-postgres"));
    cmd.args(["--database-url", &url, "--connect-timeout-secs", "2"]).env("MCP_LOG_LEVEL", "warn").kill_on_drop(true);
    let client = Client::connect_stdio(cmd, ClientOptions::default()).await.expect("connect");
    let result = client.call_tool("query", json!({ "sql": "SELECT 1" })).await.expect("call");
    assert!(result.is_error);
    let text = common::text(&result);
    assert!(text.contains("unavailable") && text.to_lowercase().contains("certificate"), "{text}");
}
