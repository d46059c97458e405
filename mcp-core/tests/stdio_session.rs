//! A line-based session end to end (the stdio framing over an in-memory pipe): bad input
//! of every kind gets the right error and the session stays usable afterwards.

mod common;

use std::time::Duration;

use common::echo;
use mcp_core::server::Server;
use mcp_core::transport::stdio::{StdioConfig, serve_lines};
use mcp_core::{Context, ToolError, tool};
use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader, DuplexStream};

#[derive(serde::Deserialize, schemars::JsonSchema)]
struct SleepArgs {
    /// Milliseconds.
    ms: u64,
}

async fn sleep(_ctx: Context, args: SleepArgs) -> Result<String, ToolError> {
    tokio::time::sleep(Duration::from_millis(args.ms)).await;
    // The duration tells one call's answer from another's under the same id.
    Ok(format!("slept {}", args.ms))
}

/// Told when a `hold` call is running, so that a test knows how long it has run.
static HELD: tokio::sync::Notify = tokio::sync::Notify::const_new();

async fn hold(_ctx: Context, _args: SleepArgs) -> Result<String, ToolError> {
    HELD.notify_one();
    tokio::time::sleep(Duration::from_secs(5)).await;
    Ok("held".into())
}

fn builder() -> mcp_core::server::ServerBuilder {
    Server::builder("test", "1.0.0")
        .tool(tool("echo", echo).read_only())
        .tool(tool("sleep", sleep).read_only())
        .tool(tool("hold", hold).read_only())
        .configure(|c| c.call_timeout = Duration::from_millis(500))
}

struct Peer {
    input: DuplexStream,
    output: tokio::io::Lines<BufReader<DuplexStream>>,
}

impl Peer {
    fn start(max_line_bytes: usize) -> Self {
        Self::serve(builder().build(), max_line_bytes)
    }

    fn serve(server: Server, max_line_bytes: usize) -> Self {
        let (client_in, server_in) = tokio::io::duplex(1 << 20);
        let (server_out, client_out) = tokio::io::duplex(1 << 20);
        let config = StdioConfig { max_line_bytes, ..Default::default() };
        tokio::spawn(serve_lines(server, BufReader::new(server_in), server_out, config, futures::future::pending()));
        Self { input: client_in, output: BufReader::new(client_out).lines() }
    }

    async fn send_raw(&mut self, line: &[u8]) {
        self.input.write_all(line).await.expect("write");
        self.input.write_all(b"\n").await.expect("write");
    }

    async fn send(&mut self, v: Value) {
        self.send_raw(v.to_string().as_bytes()).await;
    }

    async fn recv(&mut self) -> Value {
        let line = tokio::time::timeout(Duration::from_secs(5), self.output.next_line())
            .await
            .expect("a reply within 5 s")
            .expect("read")
            .expect("a line");
        serde_json::from_str(&line).expect("stdout carries JSON only")
    }

    async fn call(&mut self, v: Value) -> Value {
        self.send(v).await;
        self.recv().await
    }

    async fn assert_alive(&mut self, id: i64) {
        let r = self.call(json!({"jsonrpc":"2.0","id":id,"method":"ping"})).await;
        assert_eq!(r, json!({"jsonrpc":"2.0","id":id,"result":{}}), "session still answers");
    }

    async fn initialize(&mut self) {
        let r = self
            .call(json!({"jsonrpc":"2.0","id":0,"method":"initialize","params":{
                "protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"t","version":"1"}}}))
            .await;
        assert_eq!(r["result"]["protocolVersion"], "2025-06-18");
        self.send(json!({"jsonrpc":"2.0","method":"notifications/initialized"})).await;
    }
}

fn modern_meta() -> Value {
    json!({"io.modelcontextprotocol/protocolVersion":"2026-07-28","io.modelcontextprotocol/clientCapabilities":{}})
}

/// A stateless `tools/call` of `name` with `arguments` (`Value::Null`: none).
fn tool_call(id: i64, name: &str, arguments: Value) -> Value {
    let mut params = json!({"_meta": modern_meta(), "name": name});
    if !arguments.is_null() {
        params["arguments"] = arguments;
    }
    json!({"jsonrpc": "2.0", "id": id, "method": "tools/call", "params": params})
}

#[tokio::test]
async fn malformed_messages_get_specific_errors_and_the_session_survives() {
    let mut p = Peer::start(1 << 20);
    p.send_raw(b"{this is not json").await;
    let r = p.recv().await;
    assert_eq!(r["error"]["code"], -32700);
    assert_eq!(r["id"], Value::Null);
    p.assert_alive(1).await;

    let r = p.call(json!({"jsonrpc":"1.0","id":2,"method":"ping"})).await;
    assert_eq!((r["id"].clone(), r["error"]["code"].clone()), (json!(2), json!(-32600)));
    let r = p.call(json!({"jsonrpc":"2.0","id":3,"method":"no/such/method"})).await;
    assert_eq!(r["error"]["code"], -32601);
    let r = p.call(json!({"jsonrpc":"2.0","id":4,"method":"tools/list","params":[1,2]})).await;
    assert_eq!(r["error"]["code"], -32602);
    p.assert_alive(5).await;
}

#[tokio::test]
async fn handshake_era_requests_before_initialize_are_refused() {
    let mut p = Peer::start(1 << 20);
    let r = p.call(json!({"jsonrpc":"2.0","id":1,"method":"tools/list"})).await;
    assert_eq!(r["error"]["code"], -32600);
    assert!(r["error"]["message"].as_str().expect("message").contains("initialize"));
    p.initialize().await;
    let r = p
        .call(
            json!({"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"echo","arguments":{"message":"hi"}}}),
        )
        .await;
    assert_eq!(r["result"]["content"][0]["text"], "hi");
    assert!(r["result"].get("resultType").is_none(), "handshake-era results keep their old shape");
}

#[tokio::test]
async fn stateless_requests_validate_their_meta_envelope() {
    let mut p = Peer::start(1 << 20);
    let r = p.call(json!({"jsonrpc":"2.0","id":1,"method":"tools/list","params":{"_meta":{"io.modelcontextprotocol/protocolVersion":"2026-07-28"}}})).await;
    assert_eq!(r["error"]["code"], -32602);
    assert!(r["error"]["message"].as_str().expect("message").contains("clientCapabilities"));
    let r = p
        .call(json!({"jsonrpc":"2.0","id":2,"method":"server/discover","params":{"_meta":{
            "io.modelcontextprotocol/protocolVersion":"1999-01-01","io.modelcontextprotocol/clientCapabilities":{}}}}))
        .await;
    assert_eq!(r["error"]["code"], -32022);
    assert_eq!(r["error"]["data"]["requested"], "1999-01-01");
    assert!(r["error"]["data"]["supported"].as_array().expect("list").contains(&json!("2026-07-28")));
    let r = p.call(json!({"jsonrpc":"2.0","id":3,"method":"ping","params":{"_meta":modern_meta()}})).await;
    assert_eq!(r["error"]["code"], -32601, "ping does not exist in 2026-07-28");
    let r = p.call(tool_call(4, "echo", json!({"message":"m"}))).await;
    assert_eq!(r["result"]["resultType"], "complete");
    assert_eq!(r["result"]["_meta"]["io.modelcontextprotocol/serverInfo"]["name"], "test");
}

#[tokio::test]
async fn invalid_arguments_name_the_field_and_unknown_tools_are_protocol_errors() {
    let mut p = Peer::start(1 << 20);
    let r = p.call(tool_call(1, "echo", json!({"message":42}))).await;
    assert_eq!(r["result"]["isError"], true);
    let text = r["result"]["content"][0]["text"].as_str().expect("text");
    assert!(text.contains("`message`") && text.contains("expected a string"), "{text}");
    let r = p.call(tool_call(2, "nope", Value::Null)).await;
    assert_eq!(r["error"]["code"], -32602);
}

#[tokio::test]
async fn duplicate_ids_in_flight_are_refused_and_cancellation_stops_a_call() {
    let mut p = Peer::start(1 << 20);
    let call = |id: i64, ms: u64| tool_call(id, "sleep", json!({"ms":ms}));
    p.send(call(7, 300)).await;
    let r = p.call(call(7, 1)).await;
    assert_eq!(r["error"]["code"], -32600);
    assert!(r["error"]["message"].as_str().expect("message").contains("Duplicate request id"));
    let r = p.recv().await;
    assert_eq!(r["id"], 7);
    assert_eq!(r["result"]["content"][0]["text"], "slept 300");

    p.send(call(8, 200)).await;
    p.send(json!({"jsonrpc":"2.0","method":"notifications/cancelled","params":{"requestId":8}})).await;
    // Once cancelled, id 8 is free again (a call still running would make this a
    // duplicate), and the cancelled call never answers: had it kept running, its
    // "slept 200" would come first, or take the new call's place.
    let r = p.call(call(8, 350)).await;
    assert_eq!(r["id"], 8);
    assert_eq!(r["result"]["content"][0]["text"], "slept 350", "{r}");
    p.assert_alive(9).await;
}

#[tokio::test]
async fn calls_past_the_deadline_are_stopped_with_a_clear_error() {
    let mut p = Peer::start(1 << 20);
    let r = p.call(tool_call(1, "sleep", json!({"ms":5000}))).await;
    assert_eq!(r["result"]["isError"], true);
    assert!(r["result"]["content"][0]["text"].as_str().expect("text").contains("deadline"));
}

#[tokio::test]
async fn a_100_mb_line_is_refused_without_ending_the_session() {
    let mut p = Peer::start(16 * 1024 * 1024);
    let mut huge = Vec::with_capacity(100 * 1024 * 1024 + 64);
    huge.extend_from_slice(br#"{"jsonrpc":"2.0","id":1,"method":"ping","params":{"pad":""#);
    huge.resize(100 * 1024 * 1024, b'x');
    huge.extend_from_slice(br#""}}"#);
    let writer = {
        let mut input = p.input;
        tokio::spawn(async move {
            input.write_all(&huge).await.expect("write");
            input.write_all(b"\n").await.expect("write");
            input
        })
    };
    let r = tokio::time::timeout(Duration::from_secs(30), p.output.next_line())
        .await
        .expect("reply")
        .expect("io")
        .expect("line");
    let r: Value = serde_json::from_str(&r).expect("json");
    assert_eq!(r["error"]["code"], -32600);
    assert!(r["error"]["message"].as_str().expect("message").contains("too large"));
    p.input = writer.await.expect("writer");
    p.assert_alive(2).await;
}

#[tokio::test]
async fn the_audit_trail_records_sizes_on_the_wire_and_cancelled_calls() {
    let trail = tempfile::NamedTempFile::new().expect("temp file");
    let server = builder().audit(mcp_core::security::AuditLog::to_file(trail.path()).expect("audit log")).build();
    let mut p = Peer::serve(server.clone(), 1 << 20);
    let request = tool_call(1, "echo", json!({"message":"h\u{e9}llo \"quoted\""})).to_string();
    p.send_raw(request.as_bytes()).await;
    let answer = tokio::time::timeout(Duration::from_secs(5), p.output.next_line())
        .await
        .expect("a reply within 5 s")
        .expect("read")
        .expect("a line");
    let sent = std::time::Instant::now();
    p.send(tool_call(2, "hold", json!({"ms": 0}))).await;
    // Running for 50 ms at least, known to the test, before it is cancelled.
    tokio::time::timeout(Duration::from_secs(5), HELD.notified()).await.expect("the call starts");
    tokio::time::sleep(Duration::from_millis(50)).await;
    p.send(json!({"jsonrpc":"2.0","method":"notifications/cancelled","params":{"requestId":2}})).await;
    p.assert_alive(3).await;
    let window = sent.elapsed().as_secs_f64() * 1000.0;
    server.flush_audit();

    let text = std::fs::read_to_string(trail.path()).expect("read trail");
    let lines: Vec<Value> = text.lines().map(|l| serde_json::from_str(l).expect("a JSON line")).collect();
    assert_eq!(mcp_core::security::audit::verify(text.as_bytes()), Ok(lines.len()));
    let echo = lines.iter().find(|l| l["target"] == "echo").expect("the echo call's line");
    assert_eq!(echo["bytes_in"], request.len(), "the request as read: {echo}");
    assert_eq!(echo["bytes_out"], answer.len(), "the response as written: {echo}");
    assert_eq!(echo["outcome"], "ok");
    let held = lines.iter().find(|l| l["target"] == "hold").expect("the cancelled call has its line");
    assert_eq!(held["outcome"], "cancelled", "{held}");
    assert_eq!(held["bytes_out"], 0, "nothing was sent for it: {held}");
    // Between the 50 ms it surely ran and the time the test saw pass.
    let took = held["duration_ms"].as_f64().expect("duration");
    assert!((50.0..=window).contains(&took), "{took} ms not in 50..={window} ms: {held}");
}

#[tokio::test]
async fn each_audit_line_names_the_era_and_revision_of_its_own_request() {
    let trail = tempfile::NamedTempFile::new().expect("temp file");
    let server = builder().audit(mcp_core::security::AuditLog::to_file(trail.path()).expect("audit log")).build();
    let mut p = Peer::serve(server.clone(), 1 << 20);
    let echo = |id: i64, meta: Option<Value>| {
        let mut params = json!({"name": "echo", "arguments": {"message": id.to_string()}});
        if let Some(meta) = meta {
            params["_meta"] = meta;
        }
        json!({"jsonrpc": "2.0", "id": id, "method": "tools/call", "params": params})
    };
    // Before the handshake, a stateless request; then the handshake, and both eras in turn
    // on the one session (which keeps the first fields of its lines).
    p.call(echo(1, Some(modern_meta()))).await;
    p.initialize().await;
    for (id, meta) in [(2, None), (3, Some(modern_meta())), (4, None)] {
        let r = p.call(echo(id, meta)).await;
        assert_eq!(r["result"]["content"][0]["text"], id.to_string(), "{r}");
    }
    server.flush_audit();

    let text = std::fs::read_to_string(trail.path()).expect("read trail");
    let lines: Vec<Value> = text.lines().map(|l| serde_json::from_str(l).expect("a JSON line")).collect();
    let seen: Vec<(&str, &str, &str)> = lines
        .iter()
        .map(|l| {
            (
                l["method"].as_str().unwrap_or("?"),
                l["era"].as_str().unwrap_or("?"),
                l["version"].as_str().unwrap_or("?"),
            )
        })
        .collect();
    let expected = [
        ("tools/call", "stateless", "2026-07-28"),
        ("initialize", "handshake", ""),
        ("tools/call", "handshake", "2025-06-18"),
        ("tools/call", "stateless", "2026-07-28"),
        ("tools/call", "handshake", "2025-06-18"),
    ];
    assert_eq!(seen, expected, "{text}");
    assert!(lines.iter().all(|l| l["transport"] == "stdio" && l["identity"] == "local"), "{text}");
}

#[tokio::test]
async fn a_second_initialize_is_an_invalid_request_and_changes_nothing() {
    let mut p = Peer::start(1 << 20);
    p.initialize().await;
    let r = p
        .call(json!({"jsonrpc":"2.0","id":1,"method":"initialize","params":{
            "protocolVersion":"2025-03-26","capabilities":{"elicitation":{}},"clientInfo":{"name":"t2","version":"2"}}}))
        .await;
    assert_eq!((r["id"].clone(), r["error"]["code"].clone()), (json!(1), json!(-32600)), "{r}");
    let message = r["error"]["message"].as_str().expect("message");
    assert!(message.contains("already initialized") && message.contains("2025-06-18"), "{message}");
    p.assert_alive(2).await;

    // Two at once on a fresh session: one negotiates, the other is refused.
    let mut p = Peer::start(1 << 20);
    let init = |id: i64, version: &str| {
        json!({"jsonrpc":"2.0","id":id,"method":"initialize","params":{
            "protocolVersion":version,"capabilities":{},"clientInfo":{"name":"t","version":"1"}}})
    };
    p.send(init(10, "2025-06-18")).await;
    p.send(init(11, "2025-03-26")).await;
    let answers = [p.recv().await, p.recv().await];
    let ok: Vec<&Value> = answers.iter().filter(|a| a.get("result").is_some()).collect();
    let refused: Vec<&Value> = answers.iter().filter(|a| a["error"]["code"] == -32600).collect();
    assert_eq!((ok.len(), refused.len()), (1, 1), "{answers:?}");
}

#[derive(serde::Deserialize, schemars::JsonSchema)]
struct DropArgs {
    /// The table to drop.
    table: String,
}

/// Asks for confirmation (2026-07-28: `input_required`), carrying state to the retry.
async fn drop_table(ctx: Context, args: DropArgs) -> Result<String, ToolError> {
    let ask = mcp_core::server::InputRequest::elicit(
        format!("Drop {}?", args.table),
        json!({"type": "object", "properties": {"ok": {"type": "boolean"}}}),
    );
    ctx.input_with_state(vec![("confirm".into(), ask)], Some(format!("asked about {}", args.table))).await?;
    Ok(format!("dropped {} ({})", args.table, ctx.request_state().unwrap_or("no state")))
}

#[tokio::test]
async fn request_state_is_refused_with_other_arguments() {
    let mut p = Peer::serve(builder().tool(tool("drop_table", drop_table)).build(), 1 << 20);
    let meta = json!({"io.modelcontextprotocol/protocolVersion":"2026-07-28",
                      "io.modelcontextprotocol/clientCapabilities":{"elicitation":{}}});
    let call = |id: i64, table: &str, retry: Option<&str>| {
        let mut params = json!({"_meta": meta, "name": "drop_table", "arguments": {"table": table}});
        if let Some(state) = retry {
            params["requestState"] = json!(state);
            params["inputResponses"] = json!({"confirm": {"action": "accept", "content": {"ok": true}}});
        }
        json!({"jsonrpc":"2.0","id":id,"method":"tools/call","params":params})
    };
    let asked = p.call(call(1, "scratch", None)).await;
    assert_eq!(asked["result"]["resultType"], "input_required", "{asked}");
    let state = asked["result"]["requestState"].as_str().expect("requestState").to_string();

    // The user confirmed dropping `scratch`; the same state must not drop `customers`.
    let r = p.call(call(2, "customers", Some(&state))).await;
    assert_eq!(r["error"]["code"], -32602, "{r}");
    let message = r["error"]["message"].as_str().expect("message");
    assert!(message.contains("Invalid requestState") && message.contains("different arguments"), "{message}");

    let r = p.call(call(3, "scratch", Some(&state))).await;
    assert_eq!(r["result"]["content"][0]["text"], "dropped scratch (asked about scratch)", "{r}");
}

#[derive(serde::Deserialize, schemars::JsonSchema)]
struct DocumentArgs {
    /// The document's JSON text, as a backend sent it.
    json: String,
}

/// A tool answering with a backend's document as JSON text (no tree built of it).
async fn document(_ctx: Context, args: DocumentArgs) -> Result<mcp_core::protocol::CallToolResult, ToolError> {
    let json = mcp_core::protocol::JsonText::new(args.json).map_err(|e| ToolError::invalid_arguments(e.to_string()))?;
    Ok(mcp_core::protocol::CallToolResult::structured_json(json.get().to_string(), json))
}

#[tokio::test]
async fn structured_content_given_as_json_text_arrives_whole_in_both_eras() {
    let mut p = Peer::serve(builder().tool(tool("document", document).read_only()).build(), 1 << 20);
    let doc = json!({"Id": "abc", "State": {"Running": true, "Pid": 7}, "Env": ["A=1", "quote=\"x\""], "n": 1.5});
    // Stateless: the answer is decorated (resultType, serverInfo) and still takes the document.
    let r = p.call(tool_call(1, "document", json!({"json": doc.to_string()}))).await;
    assert_eq!(r["result"]["structuredContent"], doc, "{r}");
    assert_eq!(r["result"]["resultType"], "complete");
    assert_eq!(r["result"]["content"][0]["text"], doc.to_string());
    // Pretty-printed JSON (line breaks between tokens) still goes out on one line.
    let pretty = serde_json::to_string_pretty(&doc).expect("json");
    let r = p.call(tool_call(2, "document", json!({"json": pretty}))).await;
    assert_eq!(r["result"]["structuredContent"], doc, "{r}");
    p.assert_alive(3).await;
    // Not JSON: the tool's own error, and no structured content.
    let r = p.call(tool_call(4, "document", json!({"json": "{\"a\": 1"}))).await;
    assert_eq!(r["result"]["isError"], true, "{r}");
    assert!(r["result"].get("structuredContent").is_none(), "{r}");

    p.initialize().await;
    let r = p
        .call(json!({"jsonrpc":"2.0","id":5,"method":"tools/call","params":{"name":"document","arguments":{"json": doc.to_string()}}}))
        .await;
    assert_eq!(r["result"]["structuredContent"], doc, "{r}");
    assert!(r["result"].get("resultType").is_none(), "{r}");
    p.assert_alive(6).await;
}
