//! The WebSocket transport over real sockets: round trips in both eras with this crate's
//! client, input requests over the socket, authentication (header and subprotocol),
//! and the framing rules (subprotocol, binary frames, oversized messages, text that is
//! not UTF-8, bad JSON, Origin, keepalive), and the handshake's one initialize.

mod common;

use std::sync::Arc;
use std::time::Duration;

use common::{NoArgs, answering_ada, ask, echo, serve_on_loopback};
use futures::{SinkExt, StreamExt};
use mcp_core::client::{Client, ClientOptions, EraChoice};
use mcp_core::security::{AuditLog, Authenticator};
use mcp_core::server::{Server, ServerBuilder};
use mcp_core::transport::http::HttpConfig;
use mcp_core::{Context, ToolError, tool};
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Message as WsMessage;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::HeaderValue;

const TOKEN: &str = "ws-test-token-0123456789";

async fn start(config: HttpConfig) -> String {
    serve(test_server().build(), config).await
}

fn test_server() -> ServerBuilder {
    Server::builder("ws-test", "1.0.0").tool(tool("echo", echo).read_only()).tool(tool("ask", ask).read_only())
}

/// Serves `server` on a loopback port: its WebSocket URL.
async fn serve(server: Server, config: HttpConfig) -> String {
    format!("ws://{}/ws", serve_on_loopback(server, config).await)
}

fn with_auth() -> HttpConfig {
    let auth = Authenticator::from_tokens(&format!("tester={TOKEN}"), "test").expect("tokens");
    HttpConfig { auth: Some(Arc::new(auth)), ..Default::default() }
}

fn options(era: EraChoice, token: Option<&str>) -> ClientOptions {
    ClientOptions { bearer_token: token.map(str::to_string), ..answering_ada(era) }
}

/// A raw socket offering `protocols`, for the framing tests.
async fn raw(
    url: &str,
    protocols: &str,
    origin: Option<&str>,
) -> Result<tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>, String> {
    let mut request = url.into_client_request().map_err(|e| e.to_string())?;
    request
        .headers_mut()
        .insert("sec-websocket-protocol", HeaderValue::from_str(protocols).map_err(|e| e.to_string())?);
    if let Some(o) = origin {
        request.headers_mut().insert("origin", HeaderValue::from_str(o).map_err(|e| e.to_string())?);
    }
    tokio_tungstenite::connect_async(request).await.map(|(s, _)| s).map_err(|e| e.to_string())
}

async fn next_text(
    socket: &mut tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>,
) -> Value {
    serde_json::from_str(&next_frame(socket).await).expect("JSON frame")
}

/// The next text frame, as it came.
async fn next_frame(
    socket: &mut tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>,
) -> String {
    loop {
        match tokio::time::timeout(Duration::from_secs(5), socket.next()).await {
            Ok(Some(Ok(WsMessage::Text(t)))) => return t.to_string(),
            Ok(Some(Ok(WsMessage::Ping(_) | WsMessage::Pong(_)))) => continue,
            other => panic!("expected a text frame, got {other:?}"),
        }
    }
}

async fn close_code(
    socket: &mut tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>,
) -> u16 {
    loop {
        match tokio::time::timeout(Duration::from_secs(5), socket.next()).await {
            Ok(Some(Ok(WsMessage::Close(Some(frame))))) => return frame.code.into(),
            Ok(Some(Ok(_))) => continue,
            other => panic!("expected a close frame, got {other:?}"),
        }
    }
}

#[tokio::test]
async fn both_eras_round_trip_with_input_requests() {
    let url = start(with_auth()).await;
    for era in [EraChoice::Handshake, EraChoice::Stateless] {
        let client = Client::connect_ws(&url, options(era, Some(TOKEN))).await.expect("connect");
        let tools = client.list_tools().await.expect("tools/list");
        assert_eq!(tools.len(), 2);
        let echoed = client.call_tool("echo", json!({"message": "over ws"})).await.expect("call");
        assert_eq!(echoed.content[0].as_text(), Some("over ws"));
        let asked = client.call_tool("ask", json!({})).await.expect("call with input");
        assert_eq!(asked.content[0].as_text(), Some("hello \"Ada\""), "{era:?}");
        client.close().await;
    }
    // The mcp CLI's URL dispatch picks WebSocket for ws:// URLs.
    let client = Client::connect_url(&url, options(EraChoice::Auto, Some(TOKEN))).await.expect("connect_url");
    assert!(client.server_info().is_some());
}

#[tokio::test]
async fn authentication_by_header_or_subprotocol() {
    let url = start(with_auth()).await;
    let err = Client::connect_ws(&url, options(EraChoice::Auto, None)).await.expect_err("no token");
    assert!(err.to_string().contains("401"), "{err}");
    let err =
        Client::connect_ws(&url, options(EraChoice::Auto, Some("wrong-token-0123456789"))).await.expect_err("bad");
    assert!(err.to_string().contains("401"), "{err}");
    let mut socket = raw(&url, &format!("mcp, mcp.auth.{TOKEN}"), None).await.expect("token as subprotocol");
    socket
        .send(WsMessage::Text(
            json!({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
                "protocolVersion": "2025-11-25", "capabilities": {}, "clientInfo": {"name": "raw", "version": "1"}}})
            .to_string()
            .into(),
        ))
        .await
        .expect("send");
    assert_eq!(next_text(&mut socket).await["result"]["protocolVersion"], "2025-11-25");
}

#[tokio::test]
async fn framing_rules_are_enforced_with_clear_close_codes() {
    let config = HttpConfig { max_body_bytes: 4096, ..Default::default() };
    let url = start(config).await;

    let refused = raw(&url, "graphql-ws", None).await.expect_err("no mcp subprotocol");
    assert!(refused.contains("400"), "{refused}");
    let refused = raw(&url, "mcp", Some("http://evil.example")).await.expect_err("foreign origin");
    assert!(refused.contains("403"), "{refused}");

    let mut socket = raw(&url, "mcp", None).await.expect("connect");
    socket.send(WsMessage::Text("{not json".into())).await.expect("send");
    assert_eq!(next_text(&mut socket).await["error"]["code"], -32700);
    let discover = json!({"jsonrpc": "2.0", "id": 2, "method": "server/discover", "params": {"_meta": {
        "io.modelcontextprotocol/protocolVersion": "2026-07-28", "io.modelcontextprotocol/clientCapabilities": {}}}});
    socket.send(WsMessage::Text(discover.to_string().into())).await.expect("send");
    assert!(next_text(&mut socket).await["result"]["supportedVersions"].is_array(), "alive after bad JSON");
    socket.send(WsMessage::Binary(vec![1, 2, 3].into())).await.expect("send");
    assert_eq!(close_code(&mut socket).await, 1003);

    let mut socket = raw(&url, "mcp", None).await.expect("connect");
    socket.send(WsMessage::Text("x".repeat(10_000).into())).await.expect("send");
    assert_eq!(close_code(&mut socket).await, 1009);
}

#[tokio::test]
async fn silent_peers_are_dropped_after_two_ping_intervals() {
    use tokio::io::AsyncReadExt;
    let url = start(HttpConfig { ws_ping_interval: Duration::from_millis(100), ..Default::default() }).await;
    let mut socket = raw(&url, "mcp", None).await.expect("connect");
    // Not reading means not answering pings. Read the raw bytes afterwards: a WebSocket
    // client would try to answer the queued pings first and fail on the closed socket.
    tokio::time::sleep(Duration::from_millis(600)).await;
    let tokio_tungstenite::MaybeTlsStream::Plain(tcp) = socket.get_mut() else { panic!("plain TCP expected") };
    let mut bytes = Vec::new();
    let read = tokio::time::timeout(Duration::from_secs(5), tcp.read_to_end(&mut bytes)).await;
    assert!(read.is_ok(), "the server did not close the connection");
    // An unmasked close frame (0x88) whose payload starts with the code 1001.
    let closed_1001 = bytes.windows(4).any(|w| w[0] == 0x88 && w[1] >= 2 && w[2..4] == 1001u16.to_be_bytes());
    assert!(closed_1001, "no close frame with 1001 in {bytes:?}");
}

/// Tells the test when a tool's future is dropped (the call was cancelled).
struct DropSignal(Arc<tokio::sync::Notify>);

impl Drop for DropSignal {
    fn drop(&mut self) {
        self.0.notify_one();
    }
}

#[tokio::test]
async fn a_dropped_client_closes_its_socket_and_the_server_cancels_its_calls() {
    let cancelled = Arc::new(tokio::sync::Notify::new());
    let started = Arc::new(tokio::sync::Notify::new());
    let (signal, running) = (cancelled.clone(), started.clone());
    let server = Server::builder("ws-test", "1.0.0")
        .tool(
            tool("hang", move |_ctx: Context, _: NoArgs| {
                let guard = DropSignal(signal.clone());
                running.notify_one();
                async move {
                    let _guard = guard;
                    futures::future::pending::<()>().await;
                    Ok::<_, ToolError>(String::new())
                }
            })
            .read_only(),
        )
        .build();
    let url = serve(server, HttpConfig::default()).await;

    let client = Arc::new(Client::connect_ws(&url, ClientOptions::default()).await.expect("connect"));
    let caller = client.clone();
    let call = tokio::spawn(async move { caller.call_tool("hang", json!({})).await });
    tokio::time::timeout(Duration::from_secs(5), started.notified()).await.expect("the call reaches the tool");
    assert!(!call.is_finished(), "the call should still be running");
    // Gone without `close`: as a process that is killed, or a task that is aborted.
    call.abort();
    drop(client);
    tokio::time::timeout(Duration::from_secs(5), cancelled.notified())
        .await
        .expect("the server should cancel the call of a client whose socket went away");
}

#[tokio::test]
async fn every_answer_has_an_audit_line_with_the_size_of_its_frame() {
    let trail = tempfile::NamedTempFile::new().expect("temp file");
    let server = test_server().audit(AuditLog::to_file(trail.path()).expect("audit log")).build();
    let url = serve(server.clone(), with_auth()).await;
    let mut socket = raw(&url, &format!("mcp, mcp.auth.{TOKEN}"), None).await.expect("connect");
    // Sent back to back, so that the answers go out several frames to a write.
    const CALLS: usize = 50;
    let meta = json!({"io.modelcontextprotocol/protocolVersion": "2026-07-28",
                      "io.modelcontextprotocol/clientCapabilities": {}});
    for i in 0..CALLS {
        let call = json!({"jsonrpc": "2.0", "id": i, "method": "tools/call",
                          "params": {"name": "echo", "arguments": {"message": format!("m{i}")}, "_meta": meta}});
        socket.feed(WsMessage::Text(call.to_string().into())).await.expect("send");
    }
    socket.flush().await.expect("send");
    let mut frame_sizes = vec![0; CALLS];
    for _ in 0..CALLS {
        let frame = next_frame(&mut socket).await;
        let answer: Value = serde_json::from_str(&frame).expect("JSON frame");
        let id = answer["id"].as_u64().and_then(|id| usize::try_from(id).ok()).expect("an answer's id");
        frame_sizes[id] = frame.len();
    }
    // One more round trip: the server has queued the lines of every batch written before.
    let ping = json!({"jsonrpc": "2.0", "id": "last", "method": "ping", "params": {"_meta": meta}});
    socket.send(WsMessage::Text(ping.to_string().into())).await.expect("send");
    assert_eq!(next_text(&mut socket).await["id"], "last");
    server.flush_audit();

    let text = std::fs::read_to_string(trail.path()).expect("read the trail");
    let lines: Vec<Value> = text.lines().map(|l| serde_json::from_str(l).expect("a JSON line")).collect();
    assert_eq!(mcp_core::security::audit::verify(text.as_bytes()), Ok(lines.len()), "{text}");
    // The ping's line may still be on its way.
    let calls: Vec<&Value> = lines.iter().filter(|l| l["method"] == "tools/call").collect();
    assert_eq!(calls.len(), CALLS, "{text}");
    for line in calls {
        assert_eq!((line["transport"].as_str(), line["identity"].as_str()), (Some("ws"), Some("tester")), "{line}");
        assert_eq!((line["target"].as_str(), line["outcome"].as_str()), (Some("echo"), Some("ok")), "{line}");
        let message = line["arguments"]["message"].as_str().expect("the echoed message");
        let i: usize = message.trim_start_matches('m').parse().expect("the call's number");
        assert_eq!(line["bytes_out"], frame_sizes[i], "the frame as written: {line}");
    }
}

/// A masked client frame, written as bytes: the library would not send invalid UTF-8.
fn client_frame(fin: bool, opcode: u8, payload: &[u8]) -> Vec<u8> {
    assert!(payload.len() < 126, "short frames only");
    let mask = [0x37, 0xfa, 0x21, 0x3d];
    let mut frame = vec![if fin { 0x80 } else { 0 } | opcode, 0x80 | payload.len() as u8];
    frame.extend_from_slice(&mask);
    frame.extend(payload.iter().enumerate().map(|(i, b)| b ^ mask[i % 4]));
    frame
}

/// Everything the server sends until it closes the connection, as raw bytes.
async fn raw_until_closed(
    socket: &mut tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>,
    frames: &[Vec<u8>],
) -> Vec<u8> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let tokio_tungstenite::MaybeTlsStream::Plain(tcp) = socket.get_mut() else { panic!("plain TCP expected") };
    for frame in frames {
        tcp.write_all(frame).await.expect("write");
    }
    let mut bytes = Vec::new();
    let read = tokio::time::timeout(Duration::from_secs(5), tcp.read_to_end(&mut bytes)).await;
    assert!(read.is_ok(), "the server did not close the connection");
    bytes
}

/// Whether `bytes` hold an (unmasked, server) close frame with `code`.
fn has_close(bytes: &[u8], code: u16) -> bool {
    bytes.windows(4).any(|w| w[0] == 0x88 && w[1] >= 2 && w[2..4] == code.to_be_bytes())
}

#[tokio::test]
async fn a_text_frame_that_is_not_utf8_closes_with_1007() {
    let url = start(HttpConfig::default()).await;
    // One frame: a JSON text with a lone continuation byte in a string.
    let mut socket = raw(&url, "mcp", None).await.expect("connect");
    let bytes = raw_until_closed(&mut socket, &[client_frame(true, 0x1, b"{\"a\":\"\x80\"}")]).await;
    assert!(has_close(&bytes, 1007), "no close frame with 1007 in {bytes:?}");
    // A fragmented message whose continuation frame breaks the encoding.
    let mut socket = raw(&url, "mcp", None).await.expect("connect");
    let frames = [client_frame(false, 0x1, b"{\"a\":\"caf"), client_frame(true, 0x0, b"\xc3\x28\"}")];
    let bytes = raw_until_closed(&mut socket, &frames).await;
    assert!(has_close(&bytes, 1007), "no close frame with 1007 in {bytes:?}");
    // A valid character split across two fragments is fine.
    let mut socket = raw(&url, "mcp", None).await.expect("connect");
    let ping = b"{\"jsonrpc\":\"2.0\",\"id\":\"caf\xc3";
    let frames = [client_frame(false, 0x1, ping), client_frame(true, 0x0, b"\xa9\",\"method\":\"ping\"}")];
    {
        use tokio::io::AsyncWriteExt;
        let tokio_tungstenite::MaybeTlsStream::Plain(tcp) = socket.get_mut() else { panic!("plain TCP expected") };
        for frame in &frames {
            tcp.write_all(frame).await.expect("write");
        }
    }
    let answer = next_text(&mut socket).await;
    assert_eq!(answer["id"], "caf\u{e9}", "{answer}");
}

#[tokio::test]
async fn a_second_initialize_on_a_websocket_is_an_invalid_request() {
    let url = start(HttpConfig::default()).await;
    let mut socket = raw(&url, "mcp", None).await.expect("connect");
    for (id, version) in [(1, "2025-11-25"), (2, "2025-06-18")] {
        let init = json!({"jsonrpc": "2.0", "id": id, "method": "initialize", "params": {
            "protocolVersion": version, "capabilities": {}, "clientInfo": {"name": "raw", "version": "1"}}});
        socket.send(WsMessage::Text(init.to_string().into())).await.expect("send");
        let answer = next_text(&mut socket).await;
        if id == 1 {
            assert_eq!(answer["result"]["protocolVersion"], "2025-11-25", "{answer}");
        } else {
            assert_eq!(answer["error"]["code"], -32600, "{answer}");
            assert!(
                answer["error"]["message"].as_str().unwrap_or_default().contains("already initialized"),
                "{answer}"
            );
        }
    }
}
