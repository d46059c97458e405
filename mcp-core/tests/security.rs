//! Authentication, access policy, confirmation of destructive tools and the audit trail,
//! over real HTTP on loopback with this crate's client, in both protocol eras.

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use clap::Parser;
use common::{NoArgs, mcp_post, serve_on_loopback};
use mcp_core::cli::ServeArgs;
use mcp_core::client::{Client, ClientError, ClientOptions, EraChoice, InputHandler};
use mcp_core::protocol::ErrorObject;
use mcp_core::security::{AuditLog, Authenticator, Policy};
use mcp_core::server::Server;
use mcp_core::transport::http::HttpConfig;
use mcp_core::{Context, ToolError, tool};
use serde_json::{Value, json};

const ALICE: &str = "alice-token-0123456789";
const OPS: &str = "ops-token-0123456789abc";

#[derive(serde::Deserialize, schemars::JsonSchema)]
struct NoteArgs {
    /// The note.
    text: String,
    /// A credential that must never reach the audit trail.
    #[serde(default)]
    password: Option<String>,
    /// A field whose name does not look secret, declared sensitive by the tool.
    #[serde(default)]
    pin: Option<String>,
}

struct Fixture {
    url: String,
    dropped: Arc<AtomicUsize>,
    audit: tempfile::NamedTempFile,
    server: Server,
}

async fn start(policy_toml: &str) -> Fixture {
    let dropped = Arc::new(AtomicUsize::new(0));
    let counter = dropped.clone();
    let audit = tempfile::NamedTempFile::new().expect("temp file");
    let policy = Policy::default().with_toml(policy_toml, "test").expect("policy");
    let server = Server::builder("security-test", "1.0.0")
        .tool(tool("list_notes", |_ctx: Context, _: NoArgs| async { Ok::<_, ToolError>("no notes") }).read_only())
        .tool(
            tool("add_note", |_ctx: Context, args: NoteArgs| async move {
                let secrets = args.password.iter().chain(&args.pin).map(String::len).sum::<usize>();
                Ok::<_, ToolError>(format!("added {}", args.text.len() + secrets))
            })
            .additive()
            .sensitive(["pin"]),
        )
        .tool(
            tool("drop_notes", move |ctx: Context, _: NoArgs| {
                let counter = counter.clone();
                async move {
                    counter.fetch_add(1, Ordering::SeqCst);
                    Ok::<_, ToolError>(format!("dropped, for {}", ctx.identity().name))
                }
            })
            .destructive(),
        )
        .policy(policy)
        .audit(AuditLog::to_file(audit.path()).expect("audit log"))
        .build();
    let auth = Authenticator::from_tokens(&format!("alice={ALICE}\nops={OPS}"), "test").expect("tokens");
    let config = HttpConfig { auth: Some(Arc::new(auth)), ..Default::default() };
    let url = format!("http://{}/mcp", serve_on_loopback(server.clone(), config).await);
    Fixture { url, dropped, audit, server }
}

/// A client with `token`; `confirm` answers confirmation prompts (`None`: it cannot).
fn options(era: EraChoice, token: &str, confirm: Option<bool>) -> ClientOptions {
    let on_input: Option<InputHandler> = confirm.map(|yes| {
        let handler: InputHandler = Arc::new(move |method: String, _params: Value| {
            Box::pin(async move {
                match method.as_str() {
                    "elicitation/create" => Ok(json!({"action": "accept", "content": {"confirm": yes}})),
                    other => Err(ErrorObject::method_not_found(other)),
                }
            })
        });
        handler
    });
    ClientOptions { era, bearer_token: Some(token.to_string()), on_input, ..Default::default() }
}

async fn tool_names(client: &Client) -> Vec<String> {
    client.list_tools().await.expect("tools/list").into_iter().map(|t| t.name).collect()
}

#[tokio::test]
async fn missing_or_wrong_tokens_get_401_with_a_challenge() {
    let f = start("").await;
    let body = json!({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
        "protocolVersion": "2025-11-25", "capabilities": {}, "clientInfo": {"name": "t", "version": "1"}}});
    for (token, expect_error) in [(None, false), (Some("wrong-token-0123456789"), true)] {
        let mut req = mcp_post(&f.url, &body);
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        let resp = req.send().await.expect("send");
        assert_eq!(resp.status(), 401);
        let challenge = resp.headers().get("www-authenticate").and_then(|v| v.to_str().ok()).unwrap_or_default();
        assert!(challenge.starts_with("Bearer"), "{challenge}");
        assert_eq!(challenge.contains("invalid_token"), expect_error, "{challenge}");
    }
    let err = Client::connect_http(&f.url, ClientOptions::default()).await.expect_err("no token");
    assert!(err.to_string().contains("401"), "{err}");
    let client = Client::connect_http(&f.url, options(EraChoice::Auto, ALICE, None)).await.expect("alice connects");
    assert_eq!(tool_names(&client).await.len(), 3);
    f.server.flush_audit();
    let trail = std::fs::read_to_string(f.audit.path()).expect("audit");
    let refusals = trail.lines().filter(|l| l.contains("\"(authentication)\"") && l.contains("\"denied\"")).count();
    assert!(refusals >= 3, "failed authentications must be audited: {trail}");
    assert!(!trail.contains("wrong-token"), "a presented token reached the audit trail");
}

#[tokio::test]
async fn the_policy_hides_and_refuses_tools_per_identity_in_both_eras() {
    let f = start("read_only = true\n[identities.ops]\nread_only = false\ndeny_tools = [\"drop_*\"]").await;
    for era in [EraChoice::Handshake, EraChoice::Stateless] {
        let alice = Client::connect_http(&f.url, options(era, ALICE, None)).await.expect("alice");
        assert_eq!(tool_names(&alice).await, ["list_notes"]);
        let err = alice.call_tool("add_note", json!({"text": "x"})).await.expect_err("denied");
        let ClientError::Protocol(e) = err else { panic!("expected a JSON-RPC error, got {err}") };
        assert!(e.message.contains("read-only mode") && e.message.contains("\"alice\""), "{}", e.message);
        assert_eq!(e.data, Some(json!({"deniedBy": "policy"})), "clients can tell a denial from a bad call");

        let ops = Client::connect_http(&f.url, options(era, OPS, None)).await.expect("ops");
        assert_eq!(tool_names(&ops).await, ["add_note", "list_notes"]);
        let err = ops.call_tool("drop_notes", json!({})).await.expect_err("denied");
        assert!(err.to_string().contains("deny_tools pattern \"drop_*\""), "{err}");
        let added = ops
            .call_tool("add_note", json!({"text": "hi", "password": "hunter2", "pin": "pin-4321"}))
            .await
            .expect("add");
        assert!(!added.is_error);
    }
    assert_eq!(f.dropped.load(Ordering::SeqCst), 0);

    f.server.flush_audit();
    let trail = std::fs::read_to_string(f.audit.path()).expect("audit");
    assert_eq!(mcp_core::security::audit::verify(trail.as_bytes()), Ok(trail.lines().count()));
    assert!(!trail.contains("hunter2"), "a password reached the audit trail");
    assert!(!trail.contains("pin-4321"), "a field the tool declared sensitive reached the audit trail");
    let lines: Vec<Value> = trail.lines().map(|l| serde_json::from_str(l).expect("json line")).collect();
    let denied: Vec<&Value> = lines.iter().filter(|l| l["outcome"] == "denied").collect();
    assert_eq!(denied.len(), 4, "{trail}");
    assert!(denied.iter().any(|l| l["identity"] == "alice" && l["target"] == "add_note" && l["transport"] == "http"));
    let added: Vec<&Value> = lines.iter().filter(|l| l["target"] == "add_note" && l["outcome"] == "ok").collect();
    assert_eq!(added.len(), 2);
    assert_eq!(added[0]["arguments"], json!({"text": "hi", "password": "[REDACTED]", "pin": "[REDACTED]"}));
    assert!(lines.iter().any(|l| l["era"] == "stateless" && l["version"] == "2026-07-28"));
}

#[tokio::test]
async fn what_authenticated_callers_see_is_cached_privately() {
    // Every caller of a server without authentication is the same one: shared caches may
    // keep its lists. With tokens, the policy filters per caller: caches must not share.
    let open = Server::builder("open", "1.0.0")
        .tool(tool("list_notes", |_ctx: Context, _: NoArgs| async { Ok::<_, ToolError>("no notes") }).read_only())
        .build();
    let open_url = format!("http://{}/mcp", serve_on_loopback(open, HttpConfig::default()).await);
    let anonymous = Client::connect_http(&open_url, ClientOptions { era: EraChoice::Stateless, ..Default::default() })
        .await
        .expect("connect");
    let f = start("").await;
    let alice = Client::connect_http(&f.url, options(EraChoice::Stateless, ALICE, None)).await.expect("alice");
    for (client, scope) in [(&anonymous, "public"), (&alice, "private")] {
        let listed = client.request("tools/list", serde_json::Map::new()).await.expect("tools/list");
        assert_eq!(listed["cacheScope"], scope, "{listed}");
        assert!(listed["ttlMs"].is_u64(), "{listed}");
    }
}

#[tokio::test]
async fn destructive_tools_wait_for_confirmation_in_both_eras() {
    let f = start("confirm_destructive = true").await;
    let mut expected_runs = 0;
    for era in [EraChoice::Handshake, EraChoice::Stateless] {
        let yes = Client::connect_http(&f.url, options(era, OPS, Some(true))).await.expect("connect");
        let result = yes.call_tool("drop_notes", json!({})).await.expect("confirmed call");
        assert!(!result.is_error, "{result:?}");
        expected_runs += 1;
        assert_eq!(f.dropped.load(Ordering::SeqCst), expected_runs);

        let no = Client::connect_http(&f.url, options(era, OPS, Some(false))).await.expect("connect");
        let result = no.call_tool("drop_notes", json!({})).await.expect("declined call");
        assert!(result.is_error);
        assert!(format!("{result:?}").contains("did not confirm"), "{result:?}");

        let cannot_ask = Client::connect_http(&f.url, options(era, OPS, None)).await.expect("connect");
        let result = cannot_ask.call_tool("drop_notes", json!({})).await.expect("refused call");
        assert!(result.is_error);
        assert!(format!("{result:?}").contains("does not support elicitation"), "{result:?}");
        assert_eq!(f.dropped.load(Ordering::SeqCst), expected_runs, "a declined or unasked call ran");

        let list = cannot_ask.call_tool("list_notes", json!({})).await.expect("read-only call");
        assert!(!list.is_error, "read-only tools need no confirmation");
    }
}

#[derive(Parser)]
struct Cli {
    #[command(flatten)]
    serve: ServeArgs,
}

#[tokio::test]
async fn serving_a_public_address_without_auth_is_refused_unless_forced() {
    let cli = Cli::parse_from(["t", "--transport", "http", "--listen", "0.0.0.0:0"]);
    let err = cli.serve.http_config().await.expect_err("refused");
    assert!(err.contains("--insecure-no-auth") && err.contains("without authentication"), "{err}");
    let cli = Cli::parse_from(["t", "--transport", "http", "--listen", "0.0.0.0:0", "--insecure-no-auth"]);
    assert!(cli.serve.http_config().await.is_ok());
    let cli = Cli::parse_from(["t", "--transport", "http", "--listen", "127.0.0.1:0"]);
    assert!(cli.serve.http_config().await.is_ok());
}

#[test]
fn the_mcp_cli_verifies_audit_trails_and_finds_tampering() {
    let file = tempfile::NamedTempFile::new().expect("temp");
    let log = AuditLog::to_file(file.path()).expect("open");
    for method in ["tools/list", "tools/call", "resources/read"] {
        log.record(mcp_core::security::audit::AuditRecord {
            transport: "stdio",
            identity: Arc::new(mcp_core::security::Identity::local()),
            era: "handshake",
            version: "2025-11-25",
            method: method.into(),
            target: None,
            arguments: None,
            outcome: "ok",
            error: None,
            duration: std::time::Duration::from_millis(1),
            bytes_in: 1,
            bytes_out: 1,
        });
    }
    log.flush();
    let mcp = env!("CARGO_BIN_EXE_mcp");
    let ok = std::process::Command::new(mcp).args(["audit", "verify"]).arg(file.path()).output().expect("run mcp");
    assert!(ok.status.success(), "{}", String::from_utf8_lossy(&ok.stderr));
    assert!(String::from_utf8_lossy(&ok.stdout).contains("\"lines\": 3"));

    let text = std::fs::read_to_string(file.path()).expect("read");
    std::fs::write(file.path(), text.replacen("tools/call", "tools/kill", 1)).expect("tamper");
    let bad = std::process::Command::new(mcp).args(["audit", "verify"]).arg(file.path()).output().expect("run mcp");
    assert!(!bad.status.success());
    assert!(String::from_utf8_lossy(&bad.stderr).contains("line 3"), "{}", String::from_utf8_lossy(&bad.stderr));
}

#[tokio::test]
async fn audit_lines_carry_the_sizes_of_the_request_and_response_on_the_wire() {
    let f = start("").await;
    let request = json!({"jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": {
        "name": "add_note", "arguments": {"text": "caf\u{e9} \"quoted\""},
        "_meta": {"io.modelcontextprotocol/protocolVersion": "2026-07-28",
                  "io.modelcontextprotocol/clientCapabilities": {}}}})
    .to_string();
    let response = mcp_post(&f.url, &request)
        .bearer_auth(OPS)
        .header("mcp-protocol-version", "2026-07-28")
        .header("mcp-method", "tools/call")
        .header("mcp-name", "add_note")
        .send()
        .await
        .expect("POST");
    assert!(response.status().is_success(), "{}", response.status());
    let body = response.bytes().await.expect("body");
    assert!(String::from_utf8_lossy(&body).contains("added"), "{}", String::from_utf8_lossy(&body));

    f.server.flush_audit();
    let trail = std::fs::read_to_string(f.audit.path()).expect("audit");
    let line: Value = trail
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).expect("json line"))
        .find(|l| l["target"] == "add_note")
        .expect("the call's line");
    assert_eq!(line["bytes_in"], request.len(), "the request body: {line}");
    assert_eq!(line["bytes_out"], body.len(), "the response body: {line}");
    assert_eq!((line["identity"].as_str(), line["outcome"].as_str()), (Some("ops"), Some("ok")), "{line}");
}

/// A server as connectors start by default: loopback, no authentication.
async fn open_server(config: HttpConfig) -> std::net::SocketAddr {
    let server = Server::builder("rebinding-test", "1.0.0")
        .tool(tool("list_notes", |_ctx: Context, _: NoArgs| async { Ok::<_, ToolError>("the notes") }).read_only())
        .build();
    serve_on_loopback(server, config).await
}

/// Sends one raw HTTP/1.1 request (so that `Host` is exactly what the test says) and
/// returns the status and the body.
async fn raw_http(addr: std::net::SocketAddr, head: &str, body: &str) -> (u16, String) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut tcp = tokio::net::TcpStream::connect(addr).await.expect("connect");
    let request = format!("{head}Content-Length: {}\r\nConnection: close\r\n\r\n{body}", body.len());
    tcp.write_all(request.as_bytes()).await.expect("write");
    let mut response = Vec::new();
    tokio::time::timeout(std::time::Duration::from_secs(5), tcp.read_to_end(&mut response))
        .await
        .expect("an answer within 5 s")
        .expect("read");
    let text = String::from_utf8_lossy(&response).to_string();
    let status = text.split(' ').nth(1).and_then(|s| s.parse().ok()).unwrap_or(0);
    let body = text.split_once("\r\n\r\n").map(|(_, b)| b.to_string()).unwrap_or_default();
    (status, body)
}

/// A stateless call of `list_notes`, as a page that reached the server would send it.
async fn call_with(addr: std::net::SocketAddr, host: &str, origin: Option<&str>) -> (u16, String) {
    let body = json!({"jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": {
        "name": "list_notes", "arguments": {},
        "_meta": {"io.modelcontextprotocol/protocolVersion": "2026-07-28",
                  "io.modelcontextprotocol/clientCapabilities": {}}}})
    .to_string();
    let mut head = format!(
        "POST /mcp HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\n\
         Accept: application/json, text/event-stream\r\nMCP-Protocol-Version: 2026-07-28\r\n\
         Mcp-Method: tools/call\r\nMcp-Name: list_notes\r\n"
    );
    if let Some(origin) = origin {
        head.push_str(&format!("Origin: {origin}\r\n"));
    }
    raw_http(addr, &head, &body).await
}

/// A WebSocket upgrade with exactly this `Host` (and `Origin`): the HTTP status it gets.
async fn upgrade_with(addr: std::net::SocketAddr, host: &str, origin: Option<&str>) -> u16 {
    use tokio_tungstenite::tungstenite::client::IntoClientRequest;
    use tokio_tungstenite::tungstenite::http::HeaderValue;
    let mut request = format!("ws://{addr}/ws").into_client_request().expect("request");
    let headers = request.headers_mut();
    headers.insert("sec-websocket-protocol", HeaderValue::from_static("mcp"));
    headers.insert("host", HeaderValue::from_str(host).expect("host value"));
    if let Some(origin) = origin {
        headers.insert("origin", HeaderValue::from_str(origin).expect("origin value"));
    }
    match tokio_tungstenite::connect_async(request).await {
        Ok((_, response)) => response.status().as_u16(),
        Err(tokio_tungstenite::tungstenite::Error::Http(response)) => response.status().as_u16(),
        Err(e) => panic!("upgrade failed without an HTTP answer: {e}"),
    }
}

#[tokio::test]
async fn dns_rebinding_hosts_and_origins_are_refused_over_http_and_websocket() {
    let addr = open_server(HttpConfig::default()).await;
    let port = addr.port();
    let refused = [
        // A name made to resolve to 127.0.0.1, with its page's own Origin.
        (format!("127.attacker.example:{port}"), Some(format!("http://127.attacker.example:{port}"))),
        (format!("127.attacker.example:{port}"), None),
        (format!("127.0.0.1.nip.io:{port}"), Some(format!("http://127.0.0.1.nip.io:{port}"))),
        (format!("127.0.0.1.nip.io:{port}"), None),
        (format!("localhost.attacker.example:{port}"), None),
        (format!("2130706433:{port}"), None),
        (format!("0x7f.1:{port}"), None),
        (format!("127.0.0.1.:{port}"), None),
        (format!("127.0.0.1:{port}x"), None),
        (format!("evil.com@127.0.0.1:{port}"), None),
        // A loopback Host with a foreign Origin, userinfo tricks included.
        (format!("127.0.0.1:{port}"), Some("http://127.0.0.1@evil.com".to_string())),
        (format!("127.0.0.1:{port}"), Some("http://evil.com@127.0.0.1".to_string())),
        (format!("127.0.0.1:{port}"), Some(format!("http://127.0.0.1:{port}/"))),
        (format!("127.0.0.1:{port}"), Some("null".to_string())),
        (format!("127.0.0.1:{port}"), Some("file://localhost".to_string())),
    ];
    for (host, origin) in &refused {
        let (status, body) = call_with(addr, host, origin.as_deref()).await;
        assert_eq!(status, 403, "HTTP, Host {host:?}, Origin {origin:?}: {body}");
        assert!(body.contains("DNS rebinding") && !body.contains("the notes"), "{body}");
        assert_eq!(
            upgrade_with(addr, host, origin.as_deref()).await,
            403,
            "WebSocket, Host {host:?}, Origin {origin:?}"
        );
    }
    let allowed = [
        (format!("127.0.0.1:{port}"), None),
        (format!("127.0.0.1:{port}"), Some(format!("http://127.0.0.1:{port}"))),
        (format!("localhost:{port}"), Some(format!("http://localhost:{port}"))),
        (format!("LOCALHOST.:{port}"), Some("https://LocalHost:8443".to_string())),
        (format!("127.0.0.2:{port}"), Some("http://127.0.0.2".to_string())),
        (format!("[::1]:{port}"), Some(format!("http://[::1]:{port}"))),
        (format!("[0:0:0:0:0:0:0:1]:{port}"), None),
        (format!("[::ffff:127.0.0.1]:{port}"), None),
    ];
    for (host, origin) in &allowed {
        let (status, body) = call_with(addr, host, origin.as_deref()).await;
        assert_eq!(status, 200, "HTTP, Host {host:?}, Origin {origin:?}: {body}");
        assert!(body.contains("the notes"), "{body}");
        assert_eq!(
            upgrade_with(addr, host, origin.as_deref()).await,
            101,
            "WebSocket, Host {host:?}, Origin {origin:?}"
        );
    }
}

#[tokio::test]
async fn configured_hosts_and_origins_are_allowed_by_exact_parsed_name() {
    let config = HttpConfig {
        allowed_hosts: vec!["mcp.example.com".into()],
        allowed_origins: vec!["https://app.example.com".into()],
        ..Default::default()
    };
    let addr = open_server(config).await;
    let port = addr.port();
    for (host, origin, expected) in [
        (format!("mcp.example.com:{port}"), Some("https://app.example.com"), 200),
        (format!("MCP.Example.com.:{port}"), Some("https://APP.example.com:443"), 200),
        ("mcp.example.com".to_string(), None, 200),
        (format!("localhost:{port}"), Some("https://app.example.com"), 200),
        (format!("mcp.example.com.evil.com:{port}"), None, 403),
        (format!("x.mcp.example.com:{port}"), None, 403),
        (format!("mcp.example.com:{port}"), Some("http://app.example.com"), 403),
        (format!("mcp.example.com:{port}"), Some("https://app.example.com.evil.com"), 403),
        (format!("mcp.example.com:{port}"), Some("https://app.example.com@evil.com"), 403),
    ] {
        let (status, body) = call_with(addr, &host, origin).await;
        assert_eq!(status, expected, "HTTP, Host {host:?}, Origin {origin:?}: {body}");
        let upgraded = if expected == 200 { 101 } else { 403 };
        assert_eq!(upgrade_with(addr, &host, origin).await, upgraded, "WebSocket, Host {host:?}, Origin {origin:?}");
    }
}

#[tokio::test]
async fn malformed_allowed_hosts_or_origins_are_refused_at_start() {
    let cli = Cli::parse_from(["t", "--transport", "http", "--allowed-hosts", "https://mcp.example.com"]);
    let err = cli.serve.http_config().await.expect_err("a URL is not a host");
    assert!(err.contains("--allowed-hosts") && err.contains("https://mcp.example.com"), "{err}");
    let cli = Cli::parse_from(["t", "--transport", "http", "--allowed-origins", "app.example.com"]);
    let err = cli.serve.http_config().await.expect_err("a host is not an origin");
    assert!(err.contains("--allowed-origins"), "{err}");
}

#[tokio::test]
async fn a_client_that_stalls_in_its_header_is_disconnected_after_the_timeout() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let timeout = std::time::Duration::from_millis(400);
    let addr = open_server(HttpConfig { header_read_timeout: timeout, ..Default::default() }).await;
    // Half a header line, then nothing; and a connection that never sends a byte.
    let mut partial = tokio::net::TcpStream::connect(addr).await.expect("connect");
    partial.write_all(b"POST /mcp HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Ty").await.expect("write");
    let silent = tokio::net::TcpStream::connect(addr).await.expect("connect");
    let started = std::time::Instant::now();
    for (name, mut tcp) in [("partial header", partial), ("silent", silent)] {
        let mut rest = Vec::new();
        let read = tokio::time::timeout(std::time::Duration::from_secs(5), tcp.read_to_end(&mut rest)).await;
        assert!(read.is_ok(), "{name}: the connection was still open 5 s later");
        let elapsed = started.elapsed();
        assert!(elapsed >= timeout.mul_f32(0.9), "{name}: closed after {elapsed:?}, before the timeout");
        assert!(!String::from_utf8_lossy(&rest).contains("200 OK"), "{name}: {}", String::from_utf8_lossy(&rest));
    }
    // A client that sends its request in time is answered.
    let (status, body) = call_with(addr, &addr.to_string(), None).await;
    assert_eq!(status, 200, "{body}");
}

#[tokio::test]
async fn connections_beyond_the_limit_wait_for_one_to_close() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let addr = open_server(HttpConfig { max_connections: 2, ..Default::default() }).await;
    let held: Vec<tokio::net::TcpStream> =
        futures::future::join_all((0..2).map(|_| tokio::net::TcpStream::connect(addr)))
            .await
            .into_iter()
            .map(|c| c.expect("connect"))
            .collect();
    // The kernel completes the handshake (the backlog), but the server does not take the
    // third connection, so its request waits.
    let mut third = tokio::net::TcpStream::connect(addr).await.expect("connect");
    third.write_all(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n").await.expect("write");
    let mut answer = Vec::new();
    let early = tokio::time::timeout(std::time::Duration::from_millis(500), third.read_to_end(&mut answer)).await;
    assert!(early.is_err(), "answered beyond the limit: {}", String::from_utf8_lossy(&answer));
    drop(held);
    tokio::time::timeout(std::time::Duration::from_secs(5), third.read_to_end(&mut answer))
        .await
        .expect("answered once a slot was free")
        .expect("read");
    assert!(String::from_utf8_lossy(&answer).starts_with("HTTP/1.1 200"), "{}", String::from_utf8_lossy(&answer));
}

#[tokio::test]
async fn a_second_initialize_on_an_http_session_is_an_invalid_request() {
    let addr = open_server(HttpConfig::default()).await;
    let url = format!("http://{addr}/mcp");
    let post = |body: Value, session: Option<String>| {
        let mut req = mcp_post(&url, &body);
        if let Some(id) = session {
            req = req.header("mcp-session-id", id);
        }
        req.send()
    };
    let init = |id: i64, version: &str| {
        json!({"jsonrpc": "2.0", "id": id, "method": "initialize", "params": {
            "protocolVersion": version, "capabilities": {}, "clientInfo": {"name": "t", "version": "1"}}})
    };
    let first = post(init(1, "2025-11-25"), None).await.expect("initialize");
    let session = first.headers().get("mcp-session-id").and_then(|v| v.to_str().ok()).expect("a session").to_string();
    assert_eq!(first.json::<Value>().await.expect("json")["result"]["protocolVersion"], "2025-11-25");

    let again = post(init(2, "2025-03-26"), Some(session.clone())).await.expect("second initialize");
    let answer: Value = again.json().await.expect("json");
    assert_eq!(answer["id"], 2, "{answer}");
    assert_eq!(answer["error"]["code"], -32600, "{answer}");
    let message = answer["error"]["message"].as_str().unwrap_or_default();
    assert!(message.contains("already initialized") && message.contains("2025-11-25"), "{message}");

    // The session goes on, as negotiated the first time.
    let list = json!({"jsonrpc": "2.0", "id": 3, "method": "tools/list"});
    let listed: Value = post(list, Some(session)).await.expect("tools/list").json().await.expect("json");
    assert_eq!(listed["result"]["tools"][0]["name"], "list_notes", "{listed}");
    // Without a session id, initialize still opens a new session.
    let other = post(init(4, "2025-03-26"), None).await.expect("initialize");
    assert!(other.headers().contains_key("mcp-session-id"));
    assert_eq!(other.json::<Value>().await.expect("json")["result"]["protocolVersion"], "2025-03-26");
}
