//! The example connector served over HTTP on loopback and driven by the client, as a
//! model would use it: paging, the path guard against every spelling of "outside", the
//! error kinds, roots and toolsets.

use mcp_core::client::{Client, ClientOptions};
use mcp_core::protocol::CallToolResult;
use mcp_core::server::{ERROR_KIND_META, Server};
use mcp_core::transport::http::{HttpConfig, serve_listener};
use serde_json::{Value, json};

use super::*;

struct Fixture {
    client: Client,
    _dirs: (tempfile::TempDir, tempfile::TempDir),
}

/// Two roots (`main`, `other`) and, beside them, a file no call may read.
async fn start(toolsets: &[&str]) -> Fixture {
    let (main, other) = (tempfile::tempdir().expect("dir"), tempfile::tempdir().expect("dir"));
    let m = main.path();
    std::fs::create_dir(m.join("sub")).expect("mkdir");
    std::fs::write(m.join("a.txt"), "alpha\nneedle one\n").expect("write");
    std::fs::write(m.join("sub/b.txt"), "beta\nneedle two\n").expect("write");
    std::fs::write(m.join("big.txt"), "0123456789\n".repeat(300)).expect("write");
    std::fs::write(other.path().join("secret.txt"), "needle outside\n").expect("write");
    std::os::unix::fs::symlink(other.path(), m.join("escape")).expect("symlink");
    let args = FilesArgs {
        roots: vec![format!("main={}", m.display()), format!("other={}", other.path().display())],
        toolsets: toolsets.iter().map(|t| t.to_string()).collect(),
        max_bytes: 1024,
    };
    let files = Arc::new(Files::open(&args).expect("valid roots"));
    let server = files.register(Server::builder("files", "0")).build();
    assert_eq!(server.startup_error(), None);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let url = format!("http://{}/mcp", listener.local_addr().expect("addr"));
    tokio::spawn(serve_listener(server, listener, HttpConfig::default(), futures::future::pending()));
    let client = Client::connect_http(&url, ClientOptions::default()).await.expect("connect");
    Fixture { client, _dirs: (main, other) }
}

async fn call(f: &Fixture, tool: &str, args: Value) -> CallToolResult {
    f.client.call_tool(tool, args).await.expect("tools/call")
}

async fn ok(f: &Fixture, tool: &str, args: Value) -> Value {
    let result = call(f, tool, args).await;
    assert!(!result.is_error, "{tool}: {:?}", result.content);
    result.structured_content.expect("structured content")
}

/// The kind of a failed call, and its message.
async fn fails(f: &Fixture, tool: &str, args: Value) -> (String, String) {
    let result = call(f, tool, args).await;
    assert!(result.is_error, "{tool} should fail: {:?}", result.structured_content);
    let kind = result.meta.as_ref().and_then(|m| m.get(ERROR_KIND_META)).and_then(Value::as_str);
    let text = serde_json::to_value(&result.content).expect("content")[0]["text"].as_str().unwrap_or("").to_string();
    (kind.unwrap_or("none").to_string(), text)
}

#[tokio::test]
async fn listings_are_sorted_and_paged() {
    let f = start(&[]).await;
    let page = ok(&f, "list_dir", json!({})).await;
    let names: Vec<&str> =
        page["entries"].as_array().expect("entries").iter().filter_map(|e| e["name"].as_str()).collect();
    assert_eq!(names, ["a.txt", "big.txt", "escape", "sub"]);
    assert_eq!(page["entries"][3]["kind"], "dir");
    assert_eq!(page["entries"][0]["size"], 17);
    let sub = ok(&f, "list_dir", json!({"path": "sub", "offset": 0})).await;
    assert_eq!((sub["path"].as_str(), sub["page"]["total"].as_u64()), (Some("sub"), Some(1)));
    let rest = ok(&f, "list_dir", json!({"offset": 3})).await;
    assert_eq!(rest["entries"][0]["name"], "sub");
    assert_eq!(rest["page"]["offset"], 3);
}

#[tokio::test]
async fn a_long_file_reads_whole_through_its_offsets() {
    let f = start(&[]).await;
    let (mut offset, mut whole, mut calls) = (0, String::new(), 0);
    loop {
        let part = ok(&f, "read_file", json!({"path": "big.txt", "offset": offset})).await;
        whole += part["text"].as_str().expect("text");
        calls += 1;
        match part["nextOffset"].as_u64() {
            Some(next) => offset = next as usize,
            None => break,
        }
    }
    assert_eq!(whole, "0123456789\n".repeat(300));
    assert_eq!(calls, 4, "3300 bytes at 1024 a call");
    let result = call(&f, "read_file", json!({"path": "big.txt"})).await;
    let text = serde_json::to_value(&result.content).expect("content")[0]["text"].as_str().unwrap_or("").to_string();
    assert!(text.contains("Truncated: showing bytes 0-1024 of 3300. Get the rest with offset=1024"), "{text}");
}

#[tokio::test]
async fn no_spelling_reaches_outside_a_root() {
    let f = start(&[]).await;
    let outside = ["../secret.txt", "escape/secret.txt", "sub/../../secret.txt", "/etc/passwd", "escape"];
    for path in outside {
        for tool in ["read_file", "list_dir"] {
            let (kind, text) = fails(&f, tool, json!({"path": path})).await;
            assert!(kind == "refused" || kind == "not_found", "{tool} {path}: {kind} {text}");
            assert!(!text.contains("needle outside") && !text.contains("root:"), "{text}");
        }
    }
    let (kind, text) = fails(&f, "read_file", json!({"path": "escape/secret.txt"})).await;
    assert_eq!(kind, "refused", "{text}");
    assert!(text.contains("resolves outside root `main`"), "{text}");
    let (kind, _) = fails(&f, "read_file", json!({"path": "nope.txt"})).await;
    assert_eq!(kind, "not_found");
    // Search does not follow the link out either.
    let found = ok(&f, "search", json!({"text": "needle"})).await;
    let paths: Vec<&str> =
        found["matches"].as_array().expect("matches").iter().filter_map(|m| m["path"].as_str()).collect();
    assert_eq!(paths, ["a.txt", "sub/b.txt"]);
}

#[tokio::test]
async fn roots_are_chosen_by_name_and_unknown_ones_are_listed() {
    let f = start(&[]).await;
    let other = ok(&f, "search", json!({"root": "other", "text": "needle"})).await;
    assert_eq!(other["matches"][0]["path"], "secret.txt");
    assert_eq!(other["page"]["total"], 1);
    let (kind, text) = fails(&f, "list_dir", json!({"root": "nope"})).await;
    assert_eq!(kind, "invalid_arguments");
    assert!(text.contains("configured: main, other"), "{text}");
    let (kind, _) = fails(&f, "search", json!({"text": ""})).await;
    assert_eq!(kind, "invalid_arguments");
}

#[tokio::test]
async fn toolsets_choose_the_tools_listed() {
    let f = start(&["search"]).await;
    let tools: Vec<String> = f.client.list_tools().await.expect("tools/list").into_iter().map(|t| t.name).collect();
    assert_eq!(tools, ["search"]);
    let dir = tempfile::tempdir().expect("dir");
    let args = FilesArgs {
        roots: vec![format!("main={}", dir.path().display())],
        toolsets: vec!["serach".into()],
        max_bytes: 1024,
    };
    let server = Arc::new(Files::open(&args).expect("valid")).register(Server::builder("files", "0")).build();
    let error = server.startup_error().expect("refused");
    assert!(error.contains("`serach`") && error.contains("known: browse, search"), "{error}");
    assert!(Files::open(&FilesArgs { roots: vec!["bad name=/".into()], ..args.clone() }).is_err());
    assert!(Files::open(&FilesArgs { roots: vec!["noequals".into()], ..args }).is_err());
}
