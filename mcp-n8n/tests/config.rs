//! Configuration and access: strict settings, read-only by default, several named
//! instances with read-only markers, a wrong key (401), a key missing a scope (403), the
//! key never echoed, and the tag scope.

mod common;

use common::{instance, launcher, unique, writer};
use mcp_core::testing::{Launcher, Transport};
use serde_json::{Value, json};

fn bare() -> Launcher {
    Launcher::new(env!("CARGO_BIN_EXE_mcp-n8n"))
        .env_remove("N8N_API_URL")
        .env_remove("N8N_API_KEY")
        .env_remove("N8N_API_KEY_FILE")
        .env_remove("N8N_EMAIL")
        .env_remove("N8N_PASSWORD")
        .env_remove("N8N_PASSWORD_FILE")
        .env_remove("MCP_N8N_INSTANCES_FILE")
}

#[tokio::test]
async fn bad_configuration_stops_the_server_with_a_clear_message() {
    let (url, key) = instance();
    let dir = tempfile::tempdir().expect("tempdir");
    let cases: Vec<(Launcher, &str)> = vec![
        (bare(), "no n8n instance"),
        (bare().env("N8N_API_URL", &url), "no API key"),
        (bare().env("N8N_API_URL", "ftp://x").env("N8N_API_KEY", "k"), "expected https://host"),
        (bare().args(["--url", &url, "--api-key-file", "/nonexistent/key"]), "--api-key-file"),
        (bare().env("N8N_API_URL", &url).env("N8N_API_KEY", "k").arg("--max-rows=0"), "--max-rows"),
        (bare().env("N8N_API_URL", &url).env("N8N_API_KEY", "k").arg("--no-such-flag"), "--no-such-flag"),
    ];
    for (l, needle) in cases {
        let (ok, stderr) = l.run_to_exit().await;
        assert!(!ok, "should have failed: {needle}");
        assert!(stderr.contains(needle), "expected `{needle}` in: {stderr}");
        assert!(!stderr.contains(&key), "the key was echoed: {stderr}");
    }
    // An unknown key in the instances file is an error, not ignored.
    let file = dir.path().join("instances.toml");
    std::fs::write(&file, format!("[instances.prod]\nurl = \"{url}\"\napi_key_env = \"K\"\nread_onyl = true\n"))
        .expect("write");
    let (ok, stderr) =
        bare().env("K", &key).args(["--instances-file", file.to_str().unwrap_or_default()]).run_to_exit().await;
    assert!(!ok && stderr.contains("read_onyl"), "{stderr}");
}

#[tokio::test]
async fn empty_login_settings_mean_no_login() {
    // A client config's `${N8N_EMAIL:-}` with the variable unset gives empty values: the
    // server must start without a login (the offline catalogue answers), not refuse.
    let (url, key) = instance();
    let s = bare()
        .env("N8N_API_URL", &url)
        .env("N8N_API_KEY", &key)
        .env("N8N_EMAIL", "")
        .env("N8N_PASSWORD_FILE", "")
        .start(Transport::Stdio)
        .await;
    let found = s.call("search_nodes", json!({"query": "http request"})).await;
    let shown = found.structured_content.clone().unwrap_or_default().to_string();
    assert!(!found.is_error && shown.contains("catalogue"), "{shown}");
    // A password file without an email is still a mistake.
    let (ok, stderr) = bare()
        .env("N8N_API_URL", &url)
        .env("N8N_API_KEY", &key)
        .env("N8N_EMAIL", " ")
        .env("N8N_PASSWORD_FILE", "/some/file")
        .run_to_exit()
        .await;
    assert!(!ok && stderr.contains("--password-file needs --email"), "{stderr}");
}

#[tokio::test]
async fn read_only_by_default() {
    let s = launcher().start(Transport::Stdio).await;
    let names = s.tool_names().await;
    for read in ["list_workflows", "get_workflow", "get_execution", "search_nodes", "validate_workflow", "health"] {
        assert!(names.contains(&read.to_string()), "{read} missing: {names:?}");
    }
    for write in
        ["create_workflow", "edit_workflow", "delete_workflow", "publish_workflow", "run_webhook", "create_credential"]
    {
        assert!(!names.contains(&write.to_string()), "{write} listed in read-only mode");
    }
    let w = writer().start(Transport::Stdio).await;
    let all = w.tool_names().await;
    assert!(all.len() >= 46, "{} tools: {all:?}", all.len());
}

#[tokio::test]
async fn toolsets_and_no_destructive_narrow_the_tools() {
    let s = writer().args(["--toolsets", "executions,run"]).start(Transport::Stdio).await;
    let mut names = s.tool_names().await;
    names.sort();
    assert_eq!(
        names,
        [
            "delete_execution",
            "get_execution",
            "list_executions",
            "retry_execution",
            "run_webhook",
            "run_workflow",
            "stop_execution",
            "test_workflow",
            "wait_execution"
        ]
    );
    // Through the environment too, with every destructive tool hidden though writes are on.
    let s = writer()
        .env("MCP_N8N_TOOLSETS", "workflows")
        .env("MCP_N8N_NO_DESTRUCTIVE", "true")
        .start(Transport::Stdio)
        .await;
    let names = s.tool_names().await;
    for kept in ["list_workflows", "get_workflow", "create_workflow", "publish_workflow", "unarchive_workflow"] {
        assert!(names.contains(&kept.to_string()), "{kept} missing: {names:?}");
    }
    for hidden in ["delete_workflow", "update_workflow", "edit_workflow", "unpublish_workflow", "list_executions"] {
        assert!(!names.contains(&hidden.to_string()), "{hidden} listed: {names:?}");
    }
    // A destructive call is refused as an unknown tool, not run.
    let err = s.client.call_tool("delete_workflow", json!({"id": "abc"})).await.expect_err("unknown tool");
    assert!(err.to_string().contains("Unknown tool"), "{err}");
    // A misspelt toolset stops the server, naming the known ones.
    let (ok, stderr) = writer().args(["--toolsets", "workflow"]).run_to_exit().await;
    assert!(
        !ok && stderr.contains("`workflow`") && stderr.contains("building, executions, run, workflows"),
        "{stderr}"
    );
}

#[tokio::test]
async fn failures_carry_the_kind_n8n_answered_with() {
    let s = writer().start(Transport::Stdio).await;
    assert_eq!(s.fails_as("get_workflow", json!({"id": "doesNotExist123"})).await.0, "not_found");
    assert_eq!(s.fails_as("get_execution", json!({"id": "999999999"})).await.0, "not_found");
    assert_eq!(s.fails_as("get_workflow", json!({"id": "../x"})).await.0, "invalid_arguments");
    assert_eq!(s.fails_as("list_variables", json!({})).await.0, "refused");
    let (url, _) = instance();
    let wrong = bare().env("N8N_API_URL", &url).env("N8N_API_KEY", "wrong-key").start(Transport::Stdio).await;
    assert_eq!(wrong.fails_as("list_workflows", json!({})).await.0, "refused");
    let port = mcp_core::testing::free_port();
    let down = bare().env("N8N_API_URL", format!("http://127.0.0.1:{port}")).env("N8N_API_KEY", "k");
    let down = down.start(Transport::Stdio).await;
    assert_eq!(down.fails_as("list_workflows", json!({})).await.0, "unavailable");
}

#[tokio::test]
async fn a_wrong_key_is_a_clear_401_and_never_echoed() {
    let (url, _) = instance();
    let secret = "wrong-key-0123456789";
    let s = bare().env("N8N_API_URL", &url).env("N8N_API_KEY", secret).start(Transport::Stdio).await;
    let err = s.fails("list_workflows", json!({})).await;
    assert!(err.contains("401") && err.contains("rejected the API key") && err.contains("N8N_API_KEY"), "{err}");
    assert!(!err.contains(secret), "{err}");
    let health = s.ok("health", json!({})).await;
    assert_eq!(health["healthy"], false);
    assert_eq!(health["instances"][0]["ready"], true);
    assert_eq!(health["instances"][0]["authenticated"], false);
    assert!(!health.to_string().contains(secret));
}

/// A key holding only `workflow:read`, made through n8n's internal API as the owner.
async fn scoped_key(url: &str) -> String {
    let http = mcp_core::tls::http_client().build().expect("an HTTP client");
    let login = http
        .post(format!("{url}/rest/login"))
        .header("browser-id", "tests")
        .json(&json!({"emailOrLdapLoginId": common::env("MCP_TEST_N8N_EMAIL"), "password": common::env("MCP_TEST_N8N_PASSWORD")}))
        .send()
        .await
        .expect("login");
    let cookie = login
        .headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok()?.split(';').next().map(str::to_string))
        .find(|c| c.starts_with("n8n-auth="))
        .expect("session cookie");
    let made: Value = http
        .post(format!("{url}/rest/api-keys"))
        .header("cookie", cookie)
        .header("browser-id", "tests")
        .json(&json!({"label": unique("scoped"), "scopes": ["workflow:read"], "expiresAt": null}))
        .send()
        .await
        .expect("create key")
        .json()
        .await
        .expect("json");
    made["data"]["rawApiKey"].as_str().expect("rawApiKey").to_string()
}

#[tokio::test]
async fn a_key_missing_a_scope_is_a_clear_403() {
    let (url, _) = instance();
    let key = scoped_key(&url).await;
    let s = bare().env("N8N_API_URL", &url).env("N8N_API_KEY", &key).start(Transport::Stdio).await;
    let err = s.fails("list_tags", json!({})).await;
    assert!(err.contains("403") && err.contains("scope"), "{err}");
    assert!(!err.contains(&key));
}

#[tokio::test]
async fn several_instances_chosen_per_call_with_read_only_markers() {
    let (url, key) = instance();
    let dir = tempfile::tempdir().expect("tempdir");
    let key_file = dir.path().join("key");
    std::fs::write(&key_file, &key).expect("write key");
    let file = dir.path().join("instances.toml");
    std::fs::write(
        &file,
        format!(
            "[instances.dev]\nurl = \"{url}/api/v1/\"\napi_key_file = \"{}\"\ndescription = \"development\"\n\n\
             [instances.prod]\nurl = \"{url}\"\napi_key_env = \"PROD_KEY\"\nread_only = true\n",
            key_file.display()
        ),
    )
    .expect("write");
    let s = bare()
        .env("PROD_KEY", &key)
        .args(["--instances-file", file.to_str().unwrap_or_default(), "--allow-write"])
        .start(Transport::Stdio)
        .await;
    let h = s.ok("health", json!({})).await;
    assert_eq!(h["instances"].as_array().map(Vec::len), Some(2), "{h}");
    assert_eq!(h["instances"][0]["api_url"], format!("{url}/api/v1"));
    assert_eq!(h["instances"][1]["writable"], false);
    s.ok("list_workflows", json!({"instance": "prod", "limit": 1})).await;
    let wf = common::manual_workflow(&unique("multi"));
    let args = json!({"name": wf["name"], "nodes": wf["nodes"], "connections": wf["connections"]});
    let err = s.fails("create_workflow", args.clone()).await;
    assert!(err.contains("several are configured") && err.contains("dev") && err.contains("prod"), "{err}");
    let mut on_prod = args.clone();
    on_prod["instance"] = json!("prod");
    let err = s.fails("create_workflow", on_prod).await;
    assert!(err.contains("read-only"), "{err}");
    let mut on_dev = args;
    on_dev["instance"] = json!("dev");
    let id = s.ok("create_workflow", on_dev).await["id"].as_str().expect("id").to_string();
    let err = s.fails("list_workflows", json!({"instance": "staging"})).await;
    assert!(err.contains("no instance named `staging`"), "{err}");
    s.ok("delete_workflow", json!({"instance": "dev", "id": id})).await;
}

#[tokio::test]
async fn the_tag_scope_hides_and_marks() {
    let scope = format!("scope{}", std::process::id() % 100_000);
    let outside = writer().start(Transport::Stdio).await;
    let wf = common::manual_workflow(&unique("outside"));
    let out_id = common::create(&outside, &wf).await;
    let s = writer().args(["--scope-tag", &scope]).start(Transport::Http).await;
    let wf = common::manual_workflow(&unique("inside"));
    let created = common::created(&s, &wf).await;
    assert_eq!(created["tags"], json!([scope]));
    let in_id = created["id"].as_str().expect("id").to_string();
    let listed = s.ok("list_workflows", json!({})).await;
    let ids: Vec<&str> =
        listed["workflows"].as_array().into_iter().flatten().filter_map(|w| w["id"].as_str()).collect();
    assert!(ids.contains(&in_id.as_str()) && !ids.contains(&out_id.as_str()), "{listed}");
    let err = s.fails("get_workflow", json!({"id": out_id})).await;
    assert!(err.contains("not found") && err.contains(&scope), "{err}");
    let err = s.fails("delete_workflow", json!({"id": out_id})).await;
    assert!(err.contains("not found"), "{err}");
    let err = s.fails("run_webhook", json!({"path": "anything"})).await;
    assert!(err.contains("scope"), "{err}");
    // The scope tag stays when tags are set.
    let tags = s.ok("set_workflow_tags", json!({"id": in_id, "tags": []})).await;
    assert_eq!(tags["tags"], json!([scope]));
    s.ok("delete_workflow", json!({"id": in_id})).await;
    outside.ok("delete_workflow", json!({"id": out_id})).await;
}

/// An HTTPS endpoint on loopback (`openssl s_server` with a certificate for 127.0.0.1
/// from a throwaway CA): its URL, the CA file, and the process (killed on drop).
async fn tls_endpoint(dir: &std::path::Path) -> (String, std::path::PathBuf, tokio::process::Child) {
    let file = |name: &str| dir.join(name).display().to_string();
    let (ca, ca_key, cert, key, csr, ext) =
        (file("ca.pem"), file("ca.key"), file("cert.pem"), file("key.pem"), file("req.csr"), file("ext.cnf"));
    std::fs::write(&ext, "subjectAltName=IP:127.0.0.1\nbasicConstraints=CA:FALSE\n").expect("write ext");
    let steps: [Vec<&str>; 3] = [
        vec![
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "1",
            "-subj",
            "/CN=mcp test CA",
            "-keyout",
            &ca_key,
            "-out",
            &ca,
        ],
        vec!["req", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=127.0.0.1", "-keyout", &key, "-out", &csr],
        vec![
            "x509",
            "-req",
            "-in",
            &csr,
            "-CA",
            &ca,
            "-CAkey",
            &ca_key,
            "-CAcreateserial",
            "-days",
            "1",
            "-extfile",
            &ext,
            "-out",
            &cert,
        ],
    ];
    for args in steps {
        let status = tokio::process::Command::new("openssl")
            .args(&args)
            .stderr(std::process::Stdio::null())
            .status()
            .await
            .expect("run openssl");
        assert!(status.success(), "openssl {args:?} failed");
    }
    let port = mcp_core::testing::free_port();
    let server = tokio::process::Command::new("openssl")
        .args(["s_server", "-quiet", "-www", "-accept", &port.to_string(), "-cert", &cert, "-key", &key])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .expect("start openssl s_server");
    for _ in 0..100 {
        if tokio::net::TcpStream::connect(("127.0.0.1", port)).await.is_ok() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    (format!("https://127.0.0.1:{port}"), dir.join("ca.pem"), server)
}

#[tokio::test]
async fn https_instances_are_verified_against_the_trust_store() {
    let dir = tempfile::tempdir().expect("temp dir");
    let (url, ca, _server) = tls_endpoint(dir.path()).await;
    // Not trusted: the handshake is refused for the certificate, and says so.
    let s = bare()
        .env("N8N_API_URL", &url)
        .env("N8N_API_KEY", "k")
        .env("SSL_CERT_FILE", "/nonexistent")
        .start(Transport::Stdio)
        .await;
    let err = s.fails("list_workflows", json!({})).await;
    assert!(err.contains("refused the TLS connection") && err.contains("certificate"), "{err}");
    // Trusted through SSL_CERT_FILE: TLS succeeds, and what fails is that this server is
    // not n8n (an HTML status page).
    let s =
        bare().env("N8N_API_URL", &url).env("N8N_API_KEY", "k").env("SSL_CERT_FILE", &ca).start(Transport::Stdio).await;
    let err = s.fails("list_workflows", json!({})).await;
    assert!(!err.to_lowercase().contains("certificate") && err.contains("not JSON"), "{err}");
}
