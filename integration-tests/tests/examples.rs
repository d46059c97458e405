//! The example client configurations in `examples/` (Claude Desktop, VS Code, Cursor,
//! Claude Code) as the clients read them: each file is loaded, its placeholders and
//! `${...}` references are replaced by the test services' values (as the user, or the
//! client's own expansion, would), every server it names is started over stdio and
//! called.

mod common;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use common::{Cluster, read_call};
use integration_tests::{CONNECTORS, binary, database_url, docker_host, n8n_instance, n8n_login};
use mcp_core::testing::{Launcher, Transport, text};
use serde_json::Value;

/// Where the examples keep the n8n login's password, under the home directory.
const N8N_PASSWORD_FILE: &str = ".config/mcp-n8n/n8n-password";

/// What a user puts in place of the placeholders: the test services.
struct Values {
    vars: BTreeMap<String, String>,
    literals: Vec<(&'static str, String)>,
}

impl Values {
    fn new(cluster: &Cluster, home: &Path) -> Self {
        let db = database_url();
        let (n8n_url, n8n_key) = n8n_instance();
        let (n8n_email, _) = n8n_login();
        let docker = docker_host();
        let kubeconfig = cluster.kubeconfig.display().to_string();
        let vars = BTreeMap::from([
            // Claude Code expands the user's environment.
            ("DATABASE_URL".to_string(), db.clone()),
            ("DOCKER_HOST".to_string(), docker.clone()),
            ("N8N_API_URL".to_string(), n8n_url.clone()),
            ("N8N_API_KEY".to_string(), n8n_key.clone()),
            ("N8N_EMAIL".to_string(), n8n_email.clone()),
            ("N8N_PASSWORD_FILE".to_string(), home.join(N8N_PASSWORD_FILE).display().to_string()),
            ("HOME".to_string(), home.display().to_string()),
            // VS Code: its own variables and the answers to the inputs it prompts for.
            ("userHome".to_string(), home.display().to_string()),
            ("input:database-url".to_string(), db.clone()),
            ("input:n8n-api-key".to_string(), n8n_key.clone()),
            ("input:n8n-email".to_string(), n8n_email.clone()),
        ]);
        let literals = vec![
            ("postgres://USER:PASSWORD@127.0.0.1:5432/DATABASE", db),
            ("unix:///var/run/docker.sock", docker),
            ("/home/YOU/.kube/config", kubeconfig),
            ("http://127.0.0.1:5678", n8n_url),
            ("YOUR_N8N_API_KEY", n8n_key),
            ("YOUR_N8N_EMAIL", n8n_email),
            ("/home/YOU/.config/mcp-n8n/n8n-password", home.join(N8N_PASSWORD_FILE).display().to_string()),
        ];
        Self { vars, literals }
    }

    /// `${NAME}` and `${NAME:-default}` expanded, then the literal placeholders replaced.
    fn substitute(&self, s: &str) -> String {
        let mut out = String::new();
        let mut rest = s;
        while let Some(start) = rest.find("${") {
            out.push_str(&rest[..start]);
            let end = rest[start..].find('}').map(|e| start + e).unwrap_or_else(|| panic!("unclosed ${{ in {s}"));
            let inner = &rest[start + 2..end];
            let (name, default) = match inner.split_once(":-") {
                Some((n, d)) => (n, Some(d)),
                None => (inner, None),
            };
            match (self.vars.get(name), default) {
                (Some(v), _) => out.push_str(v),
                (None, Some(d)) => out.push_str(d),
                (None, None) => panic!("the example uses ${{{name}}}, which the test does not know"),
            }
            rest = &rest[end + 1..];
        }
        out.push_str(rest);
        for (placeholder, value) in &self.literals {
            out = out.replace(placeholder, value);
        }
        for left in ["${", "/home/YOU", "YOUR_", "USER:PASSWORD", "/DATABASE"] {
            assert!(!out.contains(left), "placeholder `{left}` left in `{out}` (from `{s}`)");
        }
        out
    }
}

/// Starts every server the file names and calls its read tool; returns the connectors seen.
async fn run_example(file: &str, servers_key: &str) {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../examples").join(file);
    let raw = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()));
    let config: Value = serde_json::from_str(&raw).unwrap_or_else(|e| panic!("{file} is not JSON: {e}"));
    let servers = config[servers_key].as_object().unwrap_or_else(|| panic!("{file} has no `{servers_key}` object"));

    let cluster = Cluster::start().await;
    // A home directory holding the kubeconfig where the examples expect it.
    let home = tempfile::tempdir().expect("tempdir");
    std::fs::create_dir_all(home.path().join(".kube")).expect("mkdir .kube");
    std::fs::copy(&cluster.kubeconfig, home.path().join(".kube/config")).expect("copy kubeconfig");
    // And the n8n login's password where the examples expect it.
    let password = home.path().join(N8N_PASSWORD_FILE);
    std::fs::create_dir_all(password.parent().expect("a parent")).expect("mkdir .config/mcp-n8n");
    std::fs::write(&password, n8n_login().1).expect("write the password file");
    let values = Values::new(&cluster, home.path());

    let mut seen = Vec::new();
    for (name, server) in servers {
        if let Some(kind) = server.get("type") {
            assert_eq!(kind, "stdio", "{file}: {name}");
        }
        let command = server["command"].as_str().unwrap_or_else(|| panic!("{file}: {name} has no command"));
        assert!(CONNECTORS.contains(&command), "{file}: {name} runs `{command}`, not a connector of this project");
        let mut launcher = Launcher::new(binary(command))
            .env_remove("KUBECONFIG")
            .env_remove("DOCKER_HOST")
            .env_remove("DOCKER_CONTEXT")
            .env("DOCKER_CONFIG", "/nonexistent/mcp-integration-tests")
            .env("HOME", home.path());
        for arg in server["args"].as_array().into_iter().flatten() {
            launcher = launcher.arg(values.substitute(arg.as_str().expect("string argument")));
        }
        for (key, value) in server["env"].as_object().into_iter().flatten() {
            launcher = launcher.env(key, values.substitute(value.as_str().expect("string value")));
        }
        let connector = launcher.start(Transport::Stdio).await;
        let read = read_call(command);
        let result = connector.call(read.tool, read.args.clone()).await;
        let shown = format!("{} {}", text(&result), result.structured_content.clone().unwrap_or_default());
        assert!(!result.is_error, "{file}: {name}: {} failed: {shown}", read.tool);
        assert!(shown.contains(read.expect), "{file}: {name}: `{}` not in {shown}", read.expect);
        if command == "mcp-n8n" {
            // The login works as configured: node types come from the instance itself, and
            // running by id (the internal REST API) is possible.
            let found = connector.call("search_nodes", serde_json::json!({"query": "http request"})).await;
            let shown = format!("{}", found.structured_content.clone().unwrap_or_default());
            assert!(
                shown.contains("instance `default`"),
                "{file}: {name}: search_nodes not from the instance: {shown}"
            );
            let health = connector.call("health", serde_json::json!({})).await;
            let shown = format!("{}", health.structured_content.clone().unwrap_or_default());
            assert!(!health.is_error && !shown.contains("\"run_by_id\":false"), "{file}: {name}: {shown}");
        }
        seen.push(command.to_string());
    }
    seen.sort();
    let mut all = CONNECTORS.map(String::from).to_vec();
    all.sort();
    assert_eq!(seen, all, "{file} must run all four connectors");
}

#[tokio::test]
async fn claude_desktop_config() {
    run_example("claude_desktop_config.json", "mcpServers").await;
}

#[tokio::test]
async fn vscode_mcp_json() {
    run_example(".vscode/mcp.json", "servers").await;
}

#[tokio::test]
async fn cursor_mcp_json() {
    run_example(".cursor/mcp.json", "mcpServers").await;
}

#[tokio::test]
async fn claude_code_mcp_json() {
    run_example(".mcp.json", "mcpServers").await;
}

/// Claude Code rejects the whole file when a `${VAR}` without a default is unset: every
/// reference but `HOME` carries one (`${VAR:-default}`).
#[test]
fn claude_code_mcp_json_survives_unset_variables() {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../examples/.mcp.json");
    let raw = std::fs::read_to_string(&path).expect("read .mcp.json");
    let references: Vec<&str> =
        raw.split("${").skip(1).map(|rest| rest.split('}').next().unwrap_or_default()).collect();
    assert!(references.len() >= 6, "{references:?}");
    let bare: Vec<&&str> = references.iter().filter(|r| **r != "HOME" && !r.contains(":-")).collect();
    assert!(bare.is_empty(), "variables without a default in .mcp.json: {bare:?}");
}
