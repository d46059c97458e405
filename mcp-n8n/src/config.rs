//! The connector's own settings: which n8n instances, with which keys, what it may
//! change, how much a call may return. Unknown flags and unknown keys in the instances
//! file are errors: a misspelt safety setting must stop the server, never be ignored.
//! API keys and passwords are read once here and never printed (the kit's [`Secret`]).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use mcp_core::connector::{Secret, ToolSelection, check_target_names, read_toml};
use serde::Deserialize;

/// The flags of `mcp-n8n`, besides the ones every connector shares.
#[derive(Debug, Clone, clap::Args)]
pub struct N8nArgs {
    /// Base URL of the n8n instance (named `default`), e.g. http://127.0.0.1:5678; a
    /// trailing /api/v1 is accepted and dropped. Its API key comes from N8N_API_KEY or
    /// --api-key-file (never from a flag: flags show in the process list).
    #[arg(long = "url", env = "N8N_API_URL")]
    pub url: Option<String>,
    /// A file holding the API key of the default instance (instead of N8N_API_KEY).
    #[arg(long, env = "N8N_API_KEY_FILE")]
    pub api_key_file: Option<PathBuf>,
    /// The owner's (or a member's) email, for what the Public API cannot do: running a
    /// workflow by id goes through n8n's internal REST API, which needs a login.
    #[arg(long, env = "N8N_EMAIL")]
    pub email: Option<String>,
    /// A file holding the password for --email (or N8N_PASSWORD in the environment).
    #[arg(long, env = "N8N_PASSWORD_FILE", value_parser = clap::builder::TypedValueParser::map(clap::builder::OsStringValueParser::new(), PathBuf::from))]
    pub password_file: Option<PathBuf>,
    /// A TOML file of named instances: `[instances.NAME]` with `url`, `api_key_file` or
    /// `api_key_env`, `read_only`, `description`, and optionally `email` with
    /// `password_file` or `password_env`. Tools take `instance: NAME`.
    #[arg(long, env = "MCP_N8N_INSTANCES_FILE")]
    pub instances_file: Option<PathBuf>,
    /// A node catalogue made by `mcp-n8n catalogue` (for another n8n version) instead of
    /// the embedded one (n8n 2.41.1's); used for node types when no login is configured.
    #[arg(long, env = "MCP_N8N_CATALOGUE")]
    pub catalogue: Option<PathBuf>,
    /// Enables the tools that change workflows, executions, tags, credentials, variables
    /// and data tables; without it the connector only reads.
    #[arg(long, env = "MCP_N8N_ALLOW_WRITE")]
    pub allow_write: bool,
    /// Hides the destructive tools (delete, overwrite, unpublish, ...) even with
    /// --allow-write: a server that can create and run but not destroy.
    #[arg(long, env = "MCP_N8N_NO_DESTRUCTIVE")]
    pub no_destructive: bool,
    /// Only these toolsets, comma-separated: workflows, building, executions, run, admin
    /// (default: all). An unknown name stops the server.
    #[arg(long, env = "MCP_N8N_TOOLSETS", value_delimiter = ',')]
    pub toolsets: Vec<String>,
    /// Only workflows carrying this tag are seen, run or changed, and workflows the
    /// connector creates carry it.
    #[arg(long, env = "MCP_N8N_SCOPE_TAG")]
    pub scope_tag: Option<String>,
    /// Shows credential-like fields (password, token, authorization, cookie, ...) of
    /// execution data as they are; by default they are redacted.
    #[arg(long, env = "MCP_N8N_SHOW_SECRETS")]
    pub show_secrets: bool,
    /// Longest one n8n API request may take, in seconds.
    #[arg(long, env = "MCP_N8N_REQUEST_TIMEOUT_SECS", default_value_t = 30)]
    pub request_timeout_secs: u64,
    /// Longest connecting to n8n may take, in seconds.
    #[arg(long, env = "MCP_N8N_CONNECT_TIMEOUT_SECS", default_value_t = 5)]
    pub connect_timeout_secs: u64,
    /// Longest a webhook call may wait for the workflow's response, in seconds.
    #[arg(long, env = "MCP_N8N_WEBHOOK_TIMEOUT_SECS", default_value_t = 60)]
    pub webhook_timeout_secs: u64,
    /// Most rows a listing returns per call (the rest is reachable with its cursor).
    #[arg(long, env = "MCP_N8N_MAX_ROWS", default_value_t = 100)]
    pub max_rows: usize,
    /// Most bytes of workflow JSON, execution data or response body one call returns.
    #[arg(long, env = "MCP_N8N_MAX_RESULT_BYTES", default_value_t = 48 * 1024)]
    pub max_result_bytes: usize,
}

/// One instance as the instances file describes it.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct InstanceEntry {
    url: String,
    api_key_file: Option<PathBuf>,
    api_key_env: Option<String>,
    #[serde(default)]
    read_only: bool,
    description: Option<String>,
    email: Option<String>,
    password_file: Option<PathBuf>,
    password_env: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct InstancesFile {
    instances: BTreeMap<String, InstanceEntry>,
}

/// A login for n8n's internal REST API.
#[derive(Debug, Clone)]
pub struct Login {
    pub email: String,
    pub password: Secret,
}

/// One instance, validated.
#[derive(Debug, Clone)]
pub struct InstanceConfig {
    pub name: String,
    /// Base URL without a trailing slash or /api/v1.
    pub url: String,
    pub api_key: Secret,
    pub read_only: bool,
    pub description: Option<String>,
    pub login: Option<Login>,
}

/// Everything the connector needs, validated.
#[derive(Debug, Clone)]
pub struct Settings {
    /// Instances in a stable order; the first is the default for reads.
    pub instances: Vec<InstanceConfig>,
    pub allow_write: bool,
    /// Which tools are listed (toolsets, writes, destructive ones).
    pub selection: ToolSelection,
    pub scope_tag: Option<String>,
    pub show_secrets: bool,
    pub request_timeout: Duration,
    pub connect_timeout: Duration,
    pub webhook_timeout: Duration,
    pub max_rows: usize,
    pub max_result_bytes: usize,
    /// `--catalogue`: the offline node catalogue's file (default: the embedded one).
    pub catalogue: Option<PathBuf>,
}

impl N8nArgs {
    /// Checks the flags, reads the key files and the instances file.
    pub fn settings(&self) -> Result<Settings, String> {
        let mut instances = Vec::new();
        if let Some(url) = self.url.as_deref().map(str::trim).filter(|u| !u.is_empty()) {
            let api_key = match &self.api_key_file {
                Some(path) => Secret::from_file(path, "--api-key-file")?,
                None => Secret::from_env("N8N_API_KEY")?.ok_or(
                    "no API key for the default instance: set N8N_API_KEY or --api-key-file \
                     (create a key in n8n under Settings → n8n API)",
                )?,
            };
            // An empty value is no value: a client config's `${N8N_EMAIL:-}` with the
            // variable unset means no login, not a login with an empty email.
            let email = self.email.as_deref().map(str::trim).filter(|e| !e.is_empty());
            let password_file = self.password_file.as_ref().filter(|p| !p.as_os_str().is_empty());
            let login = match email {
                Some(email) => Some(Login {
                    email: email.to_string(),
                    password: match password_file {
                        Some(path) => Secret::from_file(path, "--password-file")?,
                        None => Secret::from_env("N8N_PASSWORD")?
                            .ok_or("--email needs a password: --password-file or N8N_PASSWORD")?,
                    },
                }),
                None if password_file.is_some() => return Err("--password-file needs --email".into()),
                None => None,
            };
            instances.push(InstanceConfig {
                name: "default".into(),
                url: normalize_url(url)?,
                api_key,
                read_only: false,
                description: None,
                login,
            });
        } else if self.api_key_file.is_some() || self.email.is_some() {
            return Err("--api-key-file and --email apply to --url (N8N_API_URL), which is not set".into());
        }
        if let Some(path) = &self.instances_file {
            instances.extend(read_instances_file(path)?);
        }
        if instances.is_empty() {
            return Err("no n8n instance: set N8N_API_URL (or --url) and N8N_API_KEY, or --instances-file".into());
        }
        let scope_tag = match self.scope_tag.as_deref().map(str::trim) {
            Some("") => return Err("--scope-tag is empty".into()),
            Some(t) if t.len() > 24 => return Err(format!("--scope-tag `{t}`: n8n tags hold at most 24 characters")),
            other => other.map(str::to_string),
        };
        if self.max_rows == 0 || self.max_rows > 250 || self.max_result_bytes < 1024 {
            return Err("--max-rows must be 1..=250 (n8n's page limit) and --max-result-bytes at least 1024".into());
        }
        Ok(Settings {
            instances,
            allow_write: self.allow_write,
            selection: ToolSelection {
                toolsets: self.toolsets.iter().map(|t| t.trim().to_string()).filter(|t| !t.is_empty()).collect(),
                allow_write: self.allow_write,
                allow_destructive: !self.no_destructive,
            },
            scope_tag,
            show_secrets: self.show_secrets,
            request_timeout: Duration::from_secs(self.request_timeout_secs.max(1)),
            connect_timeout: Duration::from_secs(self.connect_timeout_secs.max(1)),
            webhook_timeout: Duration::from_secs(self.webhook_timeout_secs.max(1)),
            max_rows: self.max_rows,
            max_result_bytes: self.max_result_bytes,
            catalogue: self.catalogue.clone(),
        })
    }
}

/// `http(s)://host[:port][/prefix]`, without a trailing slash or `/api/v1` (users give
/// both forms; the anchors' users stumble on which one is expected).
pub fn normalize_url(url: &str) -> Result<String, String> {
    let mut u = url.trim().trim_end_matches('/').to_string();
    if let Some(stripped) = u.strip_suffix("/api/v1") {
        u = stripped.to_string();
    }
    let parsed = reqwest::Url::parse(&u).map_err(|e| format!("n8n URL `{u}`: {e}"))?;
    if !matches!(parsed.scheme(), "http" | "https") || parsed.host_str().is_none() {
        return Err(format!("n8n URL `{u}`: expected https://host[:port] or http://host:port"));
    }
    if !parsed.username().is_empty() || parsed.password().is_some() || parsed.query().is_some() {
        return Err(format!(
            "n8n URL `{}`: no user, password or query in the URL (the key goes in N8N_API_KEY)",
            parsed.host_str().unwrap_or_default()
        ));
    }
    Ok(u.trim_end_matches('/').to_string())
}

fn read_instances_file(path: &Path) -> Result<Vec<InstanceConfig>, String> {
    let file: InstancesFile = read_toml(path, "--instances-file")?;
    check_target_names("instance", file.instances.keys().map(String::as_str))
        .map_err(|e| format!("--instances-file {}: {e}", path.display()))?;
    let mut out = Vec::new();
    for (name, entry) in file.instances {
        let here = format!("--instances-file {}: instance `{name}`", path.display());
        let api_key = match (&entry.api_key_file, &entry.api_key_env) {
            (Some(file), None) => Secret::from_file(file, &format!("{here}: api_key_file"))?,
            (None, Some(var)) => Secret::from_env(var)?.ok_or(format!("{here}: api_key_env {var} is not set"))?,
            _ => return Err(format!("{here}: give exactly one of api_key_file and api_key_env")),
        };
        let login = match (&entry.email, &entry.password_file, &entry.password_env) {
            (None, None, None) => None,
            (Some(email), Some(file), None) => Some(Login {
                email: email.clone(),
                password: Secret::from_file(file, &format!("{here}: password_file"))?,
            }),
            (Some(email), None, Some(var)) => Some(Login {
                email: email.clone(),
                password: Secret::from_env(var)?.ok_or(format!("{here}: password_env {var} is not set"))?,
            }),
            _ => return Err(format!("{here}: `email` needs exactly one of password_file and password_env")),
        };
        out.push(InstanceConfig {
            url: normalize_url(&entry.url).map_err(|e| format!("{here}: {e}"))?,
            name,
            api_key,
            read_only: entry.read_only,
            description: entry.description,
            login,
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_are_normalized() {
        for (given, normal) in [
            ("http://h:5678/api/v1/", "http://h:5678"),
            (" http://n8n.example/x/ ", "http://n8n.example/x"),
            ("https://n8n.example/api/v1/", "https://n8n.example"),
        ] {
            assert_eq!(normalize_url(given).as_deref(), Ok(normal));
        }
        assert!(normalize_url("ftp://n8n.example").is_err_and(|e| e.contains("expected https://")));
        for bad in ["ftp://h", "http://u:p@h", "nonsense"] {
            assert!(normalize_url(bad).is_err(), "{bad}");
        }
    }
}
