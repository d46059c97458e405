//! Building without guessing: the offline node catalogue (embedded, and the same as what
//! `mcp-n8n catalogue` makes of the installed n8n packages), search and describe without
//! a login, validation of expressions and AI wiring against the catalogue and against the
//! instance's own types, and test runs with given input items.

mod common;

use std::io::Read;
use std::path::PathBuf;

use common::{api_key_only, create, launcher, unique, writer};
use mcp_core::testing::Transport;
use serde_json::{Value, json};

/// The n8n install `start_n8n` made (its node_modules hold the catalogue's packages).
fn install_dir() -> PathBuf {
    let cache = std::env::var("MCP_CACHE_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|_| PathBuf::from(std::env::var("HOME").unwrap_or_default()).join(".cache/mcp-connectors"));
    let dir = cache.join("n8n-2.41.1");
    assert!(dir.join("node_modules/n8n-nodes-base").is_dir(), "no n8n install at {}: run start_n8n", dir.display());
    dir
}

fn gunzip(path: &std::path::Path) -> Value {
    let file = std::fs::File::open(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let mut text = Vec::new();
    flate2::read::GzDecoder::new(file).read_to_end(&mut text).expect("gzip");
    serde_json::from_slice(&text).expect("JSON")
}

#[tokio::test]
async fn the_embedded_catalogue_is_what_the_installed_packages_make() {
    let out = tempfile::tempdir().expect("a temp dir");
    let file = out.path().join("c.json.gz");
    let status = std::process::Command::new(env!("CARGO_BIN_EXE_mcp-n8n"))
        .args(["catalogue", "--from"])
        .arg(install_dir())
        .arg("--out")
        .arg(&file)
        .status()
        .expect("mcp-n8n catalogue");
    assert!(status.success());
    let made = gunzip(&file);
    let embedded = gunzip(&PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("catalogue/n8n-2.41.1.json.gz"));
    assert_eq!(made["n8n_version"], "2.41.1");
    // Not assert_eq on the documents: a 13 MB diff helps nobody; say which node differs.
    let names = |d: &Value| d["nodes"].as_array().map(|n| n.len()).unwrap_or(0);
    assert_eq!(names(&made), names(&embedded), "node count differs: regenerate with `mcp-n8n catalogue`");
    for (m, e) in made["nodes"].as_array().into_iter().flatten().zip(embedded["nodes"].as_array().into_iter().flatten())
    {
        assert!(m == e, "{} differs from the embedded catalogue: regenerate it with `mcp-n8n catalogue`", m["name"]);
    }
    assert!(made == embedded);

    // A catalogue file is taken with --catalogue, and a broken one stops the server.
    let s = api_key_only().arg("--catalogue").arg(&file).start(Transport::Stdio).await;
    let found = s.ok("search_nodes", json!({"query": "http request"})).await;
    assert!(found["source"].as_str().is_some_and(|src| src.contains(file.to_str().unwrap_or("?"))), "{found}");
    std::fs::write(out.path().join("bad.json.gz"), b"nonsense").expect("write");
    let (ok, stderr) = api_key_only().arg("--catalogue").arg(out.path().join("bad.json.gz")).run_to_exit().await;
    assert!(!ok && stderr.contains("catalogue"), "{stderr}");
    // Bad input to the step itself.
    let bad = std::process::Command::new(env!("CARGO_BIN_EXE_mcp-n8n"))
        .args(["catalogue", "--from", "/nonexistent", "--out"])
        .arg(out.path().join("x"))
        .output()
        .expect("mcp-n8n catalogue");
    assert!(!bad.status.success() && String::from_utf8_lossy(&bad.stderr).contains("/nonexistent"));
}

#[tokio::test]
async fn search_and_describe_work_with_the_api_key_alone() {
    let s = api_key_only().start(Transport::Stdio).await;
    let found = s.ok("search_nodes", json!({"query": "slack send"})).await;
    assert_eq!(found["source"], "catalogue of n8n 2.41.1 (embedded)", "{found}");
    assert_eq!(found["nodes"][0]["type"], "n8n-nodes-base.slack", "{found}");
    assert_eq!(found["nodes"][0]["kind"], "node", "a send-and-wait webhook is not a trigger: {found}");
    assert!(found["nodes"][0]["operations"].to_string().contains("message.post (Send a message)"), "{found}");
    // By credential type and by kind, with the connection type a sub-node outputs.
    let by_cred = s.ok("search_nodes", json!({"query": "openAiApi", "kind": "ai_sub_node"})).await;
    let rows = by_cred["nodes"].as_array().expect("rows");
    assert!(rows.iter().any(|r| r["type"] == "@n8n/n8n-nodes-langchain.lmChatOpenAi"), "{by_cred}");
    let model = rows.iter().find(|r| r["type"] == "@n8n/n8n-nodes-langchain.lmChatOpenAi").expect("the model");
    assert_eq!(model["connects_as"], json!(["ai_languageModel"]));
    // No match: an empty page that says what to try, not an error.
    let none = s.ok("search_nodes", json!({"query": "zzqqxx nosuchservice"})).await;
    assert_eq!(none["total"], 0);
    assert!(none["note"].as_str().is_some_and(|n| n.contains("no node type matches")), "{none}");
    let err = s.fails("search_nodes", json!({"query": "x", "kind": "robot"})).await;
    assert!(err.contains("`kind`") && err.contains("ai_sub_node"), "{err}");

    let agent = s.ok("describe_node", json!({"type": "@n8n/n8n-nodes-langchain.agent"})).await;
    assert_eq!(agent["kind"], "ai_root");
    assert_eq!(agent["source"], "catalogue of n8n 2.41.1 (embedded)");
    let inputs = agent["inputs"]["types"].as_array().expect("computed inputs");
    for t in ["main", "ai_languageModel", "ai_memory", "ai_tool", "ai_outputParser"] {
        assert!(inputs.iter().any(|i| i == t), "{t} missing: {agent}");
    }
    let http = s.ok("describe_node", json!({"type": "n8n-nodes-base.httpRequest"})).await;
    assert!(
        http["parameters"].as_array().is_some_and(|p| p.iter().any(|p| p["name"] == "url" && p["required"] == true))
    );
    let one = s.ok("describe_node", json!({"type": "n8n-nodes-base.slack", "parameter": "operation"})).await;
    assert!(one.to_string().contains("\"post\""), "{one}");
    let (kind, err) = s.fails_as("describe_node", json!({"type": "n8n-nodes-base.slak"})).await;
    assert_eq!(kind, "not_found");
    assert!(err.contains("not in the catalogue of n8n 2.41.1") && err.contains("n8n-nodes-base.slack"), "{err}");
}

/// Chat trigger -> Agent -> Set, with what a model gets wrong: a memory wired as a tool,
/// no chat model, an expression naming a node that does not exist, one naming a node
/// downstream, and an unclosed `{{`.
fn miswired() -> Value {
    json!({"name": unique("miswired"), "nodes": [
        {"name": "Chat", "type": "@n8n/n8n-nodes-langchain.chatTrigger", "typeVersion": 1.1, "position": [0, 0], "parameters": {}},
        {"name": "Agent", "type": "@n8n/n8n-nodes-langchain.agent", "typeVersion": 2.2, "position": [200, 0],
         "parameters": {"promptType": "define", "text": "={{ $('Missing Node').item.json.chatInput }} {{ $('Set').item.json.x }}"}},
        {"name": "Memory", "type": "@n8n/n8n-nodes-langchain.memoryBufferWindow", "typeVersion": 1.3, "position": [200, 200], "parameters": {}},
        {"name": "Set", "type": "n8n-nodes-base.set", "typeVersion": 3.4, "position": [400, 0],
         "parameters": {"assignments": {"assignments": [{"id": "a", "name": "x", "value": "={{ $json.output ", "type": "string"}]}}},
    ], "connections": {
        "Chat": {"main": [[{"node": "Agent", "type": "main", "index": 0}]]},
        "Memory": {"ai_tool": [[{"node": "Agent", "type": "ai_tool", "index": 0}]]},
        "Agent": {"main": [[{"node": "Set", "type": "main", "index": 0}]]},
    }})
}

/// The same agent wired right: model, memory and a tool connected with their types, and
/// expressions naming upstream nodes (the tool's names the agent's trigger).
fn wired() -> Value {
    json!({"name": unique("wired"), "nodes": [
        {"name": "Chat", "type": "@n8n/n8n-nodes-langchain.chatTrigger", "typeVersion": 1.1, "position": [0, 0], "parameters": {}},
        {"name": "Agent", "type": "@n8n/n8n-nodes-langchain.agent", "typeVersion": 2.2, "position": [200, 0],
         "parameters": {"promptType": "define", "text": "={{ $('Chat').item.json.chatInput }}"}},
        {"name": "Model", "type": "@n8n/n8n-nodes-langchain.lmChatOpenAi", "typeVersion": 1.2, "position": [100, 200],
         "parameters": {"model": {"__rl": true, "mode": "list", "value": "gpt-4o-mini"}, "options": {}}},
        {"name": "Memory", "type": "@n8n/n8n-nodes-langchain.memoryBufferWindow", "typeVersion": 1.3, "position": [200, 200], "parameters": {}},
        {"name": "Calc", "type": "@n8n/n8n-nodes-langchain.toolCalculator", "typeVersion": 1, "position": [300, 200], "parameters": {}},
        {"name": "Fetch", "type": "n8n-nodes-base.httpRequestTool", "typeVersion": 4.2, "position": [400, 200],
         "parameters": {"url": "={{ 'http://127.0.0.1:9/' + $('Chat').item.json.sessionId }}", "toolDescription": "fetch"}},
        {"name": "Set", "type": "n8n-nodes-base.set", "typeVersion": 3.4, "position": [400, 0],
         "parameters": {"assignments": {"assignments": [{"id": "a", "name": "x", "value": "={{ $json.output }} {{ $('Agent').item.json.output }}", "type": "string"}]}}},
    ], "connections": {
        "Chat": {"main": [[{"node": "Agent", "type": "main", "index": 0}]]},
        "Model": {"ai_languageModel": [[{"node": "Agent", "type": "ai_languageModel", "index": 0}]]},
        "Memory": {"ai_memory": [[{"node": "Agent", "type": "ai_memory", "index": 0}]]},
        "Calc": {"ai_tool": [[{"node": "Agent", "type": "ai_tool", "index": 0}]]},
        "Fetch": {"ai_tool": [[{"node": "Agent", "type": "ai_tool", "index": 0}]]},
        "Agent": {"main": [[{"node": "Set", "type": "main", "index": 0}]]},
    }})
}

fn problems(v: &Value) -> String {
    v["problems"].to_string()
}

#[tokio::test]
async fn validation_reads_expressions_and_ai_wiring_with_either_source() {
    for (launch, source) in [(api_key_only(), "catalogue of n8n 2.41.1"), (launcher(), "instance `default`")] {
        let s = launch.start(Transport::Stdio).await;
        let v = s.ok("validate_workflow", json!({"workflow": miswired()})).await;
        assert!(v["source"].as_str().is_some_and(|src| src.starts_with(source)), "{v}");
        assert_eq!(v["valid"], false);
        let p = problems(&v);
        for needle in [
            "connects to `Agent` as `ai_tool`, but its node type only outputs ai_memory",
            "needs a chat model connected to it as `ai_languageModel`",
            "references node `Missing Node`, which is not in this workflow",
            "references node `Set`, which is not upstream of `Agent`",
            "is never closed with `}}`",
        ] {
            assert!(p.contains(needle), "{source}: missing {needle}: {p}");
        }
        assert_eq!(v["errors"], 4, "{source}: {p}");
        let good = s.ok("validate_workflow", json!({"workflow": wired()})).await;
        assert_eq!(good["problems"], json!([]), "{source}: {good}");
        // A sub-node wired as `main`.
        let mut wf = wired();
        wf["connections"]["Model"] = json!({"main": [[{"node": "Set", "type": "main", "index": 0}]]});
        let v = s.ok("validate_workflow", json!({"workflow": wf})).await;
        let p = problems(&v);
        assert!(p.contains("connects to `Set` as `main`, but its node type only outputs ai_languageModel"), "{p}");
        assert!(p.contains("needs a chat model"), "{p}");
    }
    // Writes are checked the same way: nothing is saved.
    let w = writer().start(Transport::Stdio).await;
    let wf = miswired();
    let err = w
        .fails("create_workflow", json!({"name": wf["name"], "nodes": wf["nodes"], "connections": wf["connections"]}))
        .await;
    assert!(err.contains("Missing Node") && err.contains("ai_memory"), "{err}");
}

/// Webhook -> Greet (Set: `g` = 'hi ' + name) -> Check (Code: throws on `hi bad`).
fn checked_greeting(path: &str) -> Value {
    json!({"name": unique("test-run"), "nodes": [
        {"name": "Hook", "type": "n8n-nodes-base.webhook", "typeVersion": 2, "position": [0, 0],
         "parameters": {"path": path, "httpMethod": "POST"}, "webhookId": path},
        {"name": "Greet", "type": "n8n-nodes-base.set", "typeVersion": 3.4, "position": [200, 0],
         "parameters": {"assignments": {"assignments": [{"id": "a", "name": "g", "value": "={{ 'hi ' + $json.name }}", "type": "string"}]}}},
        {"name": "Check", "type": "n8n-nodes-base.code", "typeVersion": 2, "position": [400, 0],
         "parameters": {"jsCode": "for (const i of $input.all()) { if (i.json.g === 'hi bad') throw new Error('bad name'); }\nreturn $input.all();"}},
    ], "connections": {
        "Hook": {"main": [[{"node": "Greet", "type": "main", "index": 0}]]},
        "Greet": {"main": [[{"node": "Check", "type": "main", "index": 0}]]},
    }})
}

#[tokio::test]
async fn test_runs_take_given_items_and_name_the_failing_node() {
    let s = writer().start(Transport::Stdio).await;
    let id = create(&s, &checked_greeting(&unique("test-run"))).await;
    // Passing items: every node ran, nothing published, no webhook called.
    let ok = s.ok("test_workflow", json!({"id": id, "items": [{"name": "ann"}, {"name": "bob"}]})).await;
    assert_eq!(ok["via"], format!("POST /rest/workflows/{id}/run (partial run from `Hook`'s given output)"));
    assert_eq!((ok["start"].as_str(), ok["destination"].as_str()), (Some("Hook"), Some("Check")), "{ok}");
    assert_eq!(ok["summary"]["status"], "success", "{ok}");
    assert!(ok["summary"]["last_output"].to_string().contains("hi bob"), "{ok}");
    // A failing item: the failing node, its error and the input it got.
    let bad = s.ok("test_workflow", json!({"id": id, "items": [{"name": "ann"}, {"name": "bad"}]})).await;
    let failure = &bad["summary"]["failure"];
    assert_eq!(bad["summary"]["status"], "error", "{bad}");
    assert_eq!(failure["node"], "Check", "{bad}");
    assert!(failure.to_string().contains("bad name") && failure.to_string().contains("hi bad"), "{failure}");
    // Up to a node before the end.
    let part = s.ok("test_workflow", json!({"id": id, "items": [{"name": "bad"}], "destination": "Greet"})).await;
    assert_eq!(part["summary"]["status"], "success", "{part}");
    // Bad input.
    for (args, needle) in [
        (json!({"id": id, "items": []}), "`items`"),
        (json!({"id": id, "items": [1]}), "`items[0]` must be a JSON object"),
        (json!({"id": id, "items": [{}], "start": "Nope"}), "`start`: `Nope`"),
        (json!({"id": id, "items": [{}], "destination": "Hook"}), "`destination`: `Hook` is not downstream"),
    ] {
        let err = s.fails("test_workflow", args).await;
        assert!(err.contains(needle), "{needle}: {err}");
    }
    // Without a login: refused, saying what is missing.
    let k = api_key_only().arg("--allow-write").start(Transport::Stdio).await;
    let (kind, err) = k.fails_as("test_workflow", json!({"id": id, "items": [{"name": "ann"}]})).await;
    assert_eq!(kind, "refused");
    assert!(err.contains("not supported without a login") && err.contains("--password-file"), "{err}");
    s.ok("delete_workflow", json!({"id": id})).await;
}
