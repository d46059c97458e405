//! The connector's own settings: which daemons, what it may change, which guards are
//! relaxed, how much a call may return. Unknown flags and unknown keys in the hosts file
//! are errors: a misspelt safety setting must stop the server, never be silently ignored.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use mcp_core::connector::{read_toml, valid_name};
use serde::Deserialize;

use crate::guard::{Guards, normalize};
use crate::output::Window;
use crate::scope::Scope;

/// Groups of tools, to list only what a deployment needs (every tool definition costs
/// the model context). Each tool is tagged with its group's [`Toolset::name`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Toolset {
    /// Containers: list, inspect, logs, stats, top, diff, wait, files, and the changes.
    Containers,
    /// Images: list, inspect, history, pull, push, build, tag, remove.
    Images,
    /// Networks and volumes, and prune.
    Networks,
    /// system_info, disk_usage, recent_events.
    System,
    /// Compose projects: list, show, config, logs, up, pull, restart, down.
    Compose,
}

impl Toolset {
    /// The name tools are tagged with, as `--toolsets` spells it.
    pub const fn name(self) -> &'static str {
        match self {
            Toolset::Containers => "containers",
            Toolset::Images => "images",
            Toolset::Networks => "networks",
            Toolset::System => "system",
            Toolset::Compose => "compose",
        }
    }
}

/// Where Docker listens when nothing says otherwise.
pub const DEFAULT_HOST: &str = "unix:///var/run/docker.sock";

/// The flags of `mcp-docker`, besides the ones every connector shares.
#[derive(Debug, Clone, clap::Args)]
pub struct DockerArgs {
    /// The daemon to serve (named `default`): `unix:///path`, `tcp://host:port`,
    /// `http://…`, `https://…` or `ssh://[user@]host[:port]`. With DOCKER_TLS_VERIFY set, tcp:// uses TLS with the
    /// key.pem, cert.pem and ca.pem under DOCKER_CERT_PATH (default ~/.docker).
    #[arg(long, env = "DOCKER_HOST")]
    pub docker_host: Option<String>,
    /// A Docker CLI context (`docker context ls`) to use as the default daemon, read from
    /// ~/.docker/contexts (or DOCKER_CONFIG). Without --docker-host or hosts, the CLI's
    /// current context (~/.docker/config.json) is used when it is not `default`.
    #[arg(long, env = "DOCKER_CONTEXT")]
    pub context: Option<String>,
    /// A named daemon, `NAME=URL`; repeat for several. Tools take `host: NAME`.
    #[arg(long = "host", value_name = "NAME=URL")]
    pub hosts: Vec<String>,
    /// A TOML file of named daemons: `[hosts.NAME]` with `url`, `description`,
    /// `read_only`, and for TLS `tls_verify` and `cert_path`.
    #[arg(long, env = "MCP_DOCKER_HOSTS_FILE")]
    pub hosts_file: Option<PathBuf>,
    /// Enables the tools that change containers and images; without it the connector
    /// only reads.
    #[arg(long, env = "MCP_DOCKER_ALLOW_WRITE")]
    pub allow_write: bool,
    /// With --allow-write, still leaves out every destructive tool (stop, kill, remove,
    /// exec, prune, ...): the server can create and start, never destroy.
    #[arg(long, env = "MCP_DOCKER_NO_DESTRUCTIVE")]
    pub no_destructive: bool,
    /// Only the tools of these groups (comma-separated; default: all).
    #[arg(long, env = "MCP_DOCKER_TOOLSETS", value_enum, value_delimiter = ',')]
    pub toolsets: Vec<Toolset>,
    /// A host directory that containers may bind-mount (the path or anything under it);
    /// repeat for several. Without any, bind mounts are refused.
    #[arg(long = "allow-bind-path", env = "MCP_DOCKER_ALLOW_BIND_PATHS", value_delimiter = ',')]
    pub allow_bind_paths: Vec<PathBuf>,
    /// Lets `create_container`/`run_container` make privileged containers.
    #[arg(long, env = "MCP_DOCKER_ALLOW_PRIVILEGED")]
    pub allow_privileged: bool,
    /// Lets containers join the host's network, PID or IPC namespace.
    #[arg(long, env = "MCP_DOCKER_ALLOW_HOST_NAMESPACES")]
    pub allow_host_namespaces: bool,
    /// Lets containers be given added Linux capabilities (`cap_add`).
    #[arg(long, env = "MCP_DOCKER_ALLOW_CAP_ADD")]
    pub allow_cap_add: bool,
    /// Shows environment values whose names look secret (PASSWORD, TOKEN, KEY, ...) in
    /// `inspect_container`; by default they are redacted.
    #[arg(long, env = "MCP_DOCKER_SHOW_SECRETS")]
    pub show_secrets: bool,
    /// The id of the container this connector runs in, when it cannot be detected from
    /// /proc (it is never stopped, killed, paused or removed).
    #[arg(long, env = "MCP_DOCKER_SELF_CONTAINER")]
    pub self_container: Option<String>,
    /// Only containers carrying this label (`KEY=VALUE`) are seen or changed, and what the
    /// server creates carries it; repeat for several (all must match).
    #[arg(long = "scope-label", env = "MCP_DOCKER_SCOPE_LABELS", value_delimiter = ',', value_name = "KEY=VALUE")]
    pub scope_labels: Vec<String>,
    /// Most log lines one `container_logs` call returns.
    #[arg(long, env = "MCP_DOCKER_MAX_LOG_LINES", default_value_t = 1000)]
    pub max_log_lines: usize,
    /// Most bytes of logs, exec output or listing one call returns.
    #[arg(long, env = "MCP_DOCKER_MAX_RESULT_BYTES", default_value_t = 64 * 1024)]
    pub max_result_bytes: usize,
    /// Most bytes one copy into or out of a container moves.
    #[arg(long, env = "MCP_DOCKER_MAX_COPY_BYTES", default_value_t = 64 << 20)]
    pub max_copy_bytes: usize,
    /// Most rows a listing returns per call (the rest is reachable with `offset`).
    #[arg(long, env = "MCP_DOCKER_MAX_ROWS", default_value_t = 200)]
    pub max_rows: usize,
    /// Longest one Docker API request may take, in seconds.
    #[arg(long, env = "MCP_DOCKER_REQUEST_TIMEOUT_SECS", default_value_t = 60)]
    pub request_timeout_secs: u64,
}

/// One daemon as the hosts file describes it.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HostEntry {
    /// Where it listens.
    pub url: String,
    /// What it runs, shown to the model.
    pub description: Option<String>,
    /// Never changed, even with `--allow-write`.
    #[serde(default)]
    pub read_only: bool,
    /// TLS with client certificates (tcp:// and https://).
    #[serde(default)]
    pub tls_verify: bool,
    /// The directory holding key.pem, cert.pem and ca.pem (default ~/.docker).
    pub cert_path: Option<PathBuf>,
    /// ssh:// only: the private key to log in with (default: the ssh client's own
    /// configuration and agent).
    pub ssh_identity_file: Option<PathBuf>,
    /// ssh:// only: the known-hosts file the host key must be in (default: the ssh
    /// client's, ~/.ssh/known_hosts). Unknown host keys are refused, never accepted.
    pub ssh_known_hosts_file: Option<PathBuf>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct HostsFile {
    hosts: BTreeMap<String, HostEntry>,
}

/// Everything the connector needs, validated.
#[derive(Debug, Clone)]
pub struct Settings {
    /// Daemons by name, in a stable order; the first is the default for reads.
    pub hosts: Vec<(String, HostEntry)>,
    pub allow_write: bool,
    pub no_destructive: bool,
    /// Empty: every toolset.
    pub toolsets: Vec<Toolset>,
    pub guards: Guards,
    pub show_secrets: bool,
    pub self_container: Option<String>,
    /// The labels every container in scope carries.
    pub scope: Scope,
    pub max_log_lines: usize,
    pub max_result_bytes: usize,
    pub max_rows: usize,
    pub max_copy_bytes: usize,
    pub request_timeout: Duration,
}

impl Settings {
    /// The window of a listing call: from `offset`, at most `limit` rows (the server's
    /// row limit when not given or larger), within the byte budget.
    pub fn window(&self, offset: usize, limit: Option<usize>) -> Window {
        Window {
            offset,
            limit: limit.unwrap_or(self.max_rows).clamp(1, self.max_rows),
            max_bytes: self.max_result_bytes,
        }
    }
}

impl DockerArgs {
    /// Checks the flags and reads the hosts file.
    pub fn settings(&self) -> Result<Settings, String> {
        let mut hosts: Vec<(String, HostEntry)> = Vec::new();
        for spec in &self.hosts {
            let Some((name, url)) = spec.split_once('=') else {
                return Err(format!("--host expects NAME=URL, got `{spec}`"));
            };
            hosts.push((name.trim().into(), entry_from_env(url.trim())));
        }
        if let Some(path) = &self.hosts_file {
            hosts.extend(read_hosts_file(path)?);
        }
        if let Some(url) = &self.docker_host {
            // DOCKER_HOST is the default daemon unless named daemons were given: then it
            // is most likely just the environment of the shell, not a choice.
            if hosts.is_empty() && !url.trim().is_empty() {
                hosts.push(("default".into(), entry_from_env(url.trim())));
            }
        }
        if let Some(name) = &self.context {
            if !hosts.is_empty() {
                return Err("--context names the default daemon: give it alone, not with --docker-host or hosts".into());
            }
            if name != "default" {
                hosts.push(("default".into(), context_entry(&docker_config_dir()?, name)?));
            }
        } else if hosts.is_empty()
            && let Ok(dir) = docker_config_dir()
            && let Some(current) = current_context(&dir)
        {
            hosts.push(("default".into(), context_entry(&dir, &current)?));
        }
        if hosts.is_empty() {
            hosts.push(("default".into(), entry_from_env(DEFAULT_HOST)));
        }
        for (i, (name, entry)) in hosts.iter().enumerate() {
            if !valid_name(name) {
                return Err(format!(
                    "host name `{name}`: use letters, digits, `_` and `-` (it becomes a tool argument)"
                ));
            }
            if hosts[..i].iter().any(|(n, _)| n == name) {
                return Err(format!("host `{name}` is configured twice"));
            }
            check_url(name, entry)?;
        }
        if self.max_log_lines == 0 || self.max_rows == 0 || self.max_result_bytes < 1024 {
            return Err("--max-log-lines and --max-rows must be at least 1 and --max-result-bytes at least 1024".into());
        }
        let mut bind_paths = Vec::new();
        for path in &self.allow_bind_paths {
            if !path.is_absolute() {
                return Err(format!("--allow-bind-path {}: must be an absolute path", path.display()));
            }
            let normal = normalize(path);
            if normal == Path::new("/") {
                return Err(
                    "--allow-bind-path /: would allow mounting the whole host; name narrower directories".into()
                );
            }
            bind_paths.push(normal);
        }
        let mut scope_labels = Vec::new();
        for spec in &self.scope_labels {
            match spec.split_once('=') {
                Some((k, v)) if !k.trim().is_empty() && !k.starts_with("mcp-docker.") => {
                    scope_labels.push((k.trim().to_string(), v.trim().to_string()));
                }
                _ => return Err(format!("--scope-label expects KEY=VALUE (not an mcp-docker.* key), got `{spec}`")),
            }
        }
        Ok(Settings {
            hosts,
            allow_write: self.allow_write,
            no_destructive: self.no_destructive,
            toolsets: self.toolsets.clone(),
            guards: Guards {
                allow_privileged: self.allow_privileged,
                allow_host_namespaces: self.allow_host_namespaces,
                allow_cap_add: self.allow_cap_add,
                bind_paths,
            },
            show_secrets: self.show_secrets,
            self_container: self.self_container.as_ref().map(|s| s.trim().to_string()).filter(|s| !s.is_empty()),
            scope: Scope::new(scope_labels),
            max_log_lines: self.max_log_lines,
            max_result_bytes: self.max_result_bytes,
            max_rows: self.max_rows,
            max_copy_bytes: self.max_copy_bytes.max(1),
            request_timeout: Duration::from_secs(self.request_timeout_secs.max(1)),
        })
    }
}

/// A daemon given by URL alone takes its TLS settings from Docker's usual variables.
fn entry_from_env(url: &str) -> HostEntry {
    let tls_verify = std::env::var("DOCKER_TLS_VERIFY").is_ok_and(|v| !v.is_empty() && v != "0");
    HostEntry {
        url: url.to_string(),
        description: None,
        read_only: false,
        tls_verify,
        cert_path: std::env::var_os("DOCKER_CERT_PATH").filter(|p| !p.is_empty()).map(PathBuf::from),
        ssh_identity_file: None,
        ssh_known_hosts_file: None,
    }
}

/// Where the Docker CLI keeps its configuration: DOCKER_CONFIG or ~/.docker.
fn docker_config_dir() -> Result<PathBuf, String> {
    if let Some(dir) = std::env::var_os("DOCKER_CONFIG").filter(|d| !d.is_empty()) {
        return Ok(PathBuf::from(dir));
    }
    std::env::var_os("HOME")
        .map(|home| PathBuf::from(home).join(".docker"))
        .ok_or_else(|| "no DOCKER_CONFIG and no HOME to find the Docker CLI's contexts".to_string())
}

/// The CLI's current context, when it is set and not `default`.
fn current_context(dir: &Path) -> Option<String> {
    let text = std::fs::read_to_string(dir.join("config.json")).ok()?;
    let config: serde_json::Value = serde_json::from_str(&text).ok()?;
    config["currentContext"].as_str().filter(|c| !c.is_empty() && *c != "default").map(str::to_string)
}

/// A context's endpoint, as `docker context create` stores it: the metadata under
/// `contexts/meta/<sha256 of the name>/meta.json`, TLS material under `contexts/tls/…`.
fn context_entry(dir: &Path, name: &str) -> Result<HostEntry, String> {
    use sha2::Digest as _;
    let digest: String = sha2::Sha256::digest(name.as_bytes()).iter().map(|b| format!("{b:02x}")).collect();
    let meta_path = dir.join("contexts/meta").join(&digest).join("meta.json");
    let text = std::fs::read_to_string(&meta_path).map_err(|e| {
        format!("Docker context `{name}`: cannot read {}: {e} (see `docker context ls`)", meta_path.display())
    })?;
    let meta: serde_json::Value =
        serde_json::from_str(&text).map_err(|e| format!("Docker context `{name}`: {}: {e}", meta_path.display()))?;
    let endpoint = &meta["Endpoints"]["docker"];
    let url = endpoint["Host"]
        .as_str()
        .filter(|h| !h.is_empty())
        .ok_or_else(|| format!("Docker context `{name}` has no docker endpoint host"))?;
    let tls_dir = dir.join("contexts/tls").join(&digest).join("docker");
    let tls_verify = tls_dir.join("ca.pem").is_file() && !endpoint["SkipTLSVerify"].as_bool().unwrap_or(false);
    Ok(HostEntry {
        url: url.to_string(),
        description: meta["Metadata"]["Description"].as_str().map(|d| format!("Docker context {name}: {d}")),
        read_only: false,
        tls_verify,
        cert_path: tls_verify.then_some(tls_dir),
        ssh_identity_file: None,
        ssh_known_hosts_file: None,
    })
}

fn read_hosts_file(path: &Path) -> Result<BTreeMap<String, HostEntry>, String> {
    read_toml::<HostsFile>(path, "--hosts-file").map(|file| file.hosts)
}

/// Checks the URL's scheme and, for TLS, that the certificates are there: a daemon that
/// is merely down is fine at start (it connects lazily), a URL that can never work is not.
fn check_url(name: &str, entry: &HostEntry) -> Result<(), String> {
    let url = entry.url.as_str();
    let Some((scheme, rest)) = url.split_once("://") else {
        return Err(format!(
            "host `{name}`: `{url}` has no scheme; use unix:///path/docker.sock, tcp://host:port or https://host:port"
        ));
    };
    if scheme != "ssh" && (entry.ssh_identity_file.is_some() || entry.ssh_known_hosts_file.is_some()) {
        return Err(format!(
            "host `{name}`: ssh_identity_file and ssh_known_hosts_file apply to ssh:// only (`{url}`)"
        ));
    }
    match scheme {
        "unix" => {
            if !rest.starts_with('/') {
                return Err(format!("host `{name}`: `{url}`: a unix socket path must be absolute"));
            }
            if entry.tls_verify {
                return Err(format!("host `{name}`: TLS does not apply to a unix socket (`{url}`)"));
            }
        }
        "tcp" | "http" | "https" => {
            if rest.is_empty() || rest.starts_with('/') {
                return Err(format!("host `{name}`: `{url}` names no host:port"));
            }
            if scheme == "http" && entry.tls_verify {
                return Err(format!("host `{name}`: `{url}` is plain http but TLS verification is on"));
            }
            if entry.tls_verify || scheme == "https" {
                let dir = cert_dir(entry)?;
                for file in ["key.pem", "cert.pem", "ca.pem"] {
                    if !dir.join(file).is_file() {
                        return Err(format!(
                            "host `{name}`: TLS needs {} (set DOCKER_CERT_PATH or `cert_path`)",
                            dir.join(file).display()
                        ));
                    }
                }
            }
        }
        "ssh" => {
            crate::ssh::parse(url).map_err(|e| format!("host `{name}`: {e}"))?;
            if entry.tls_verify {
                return Err(format!("host `{name}`: TLS does not apply to ssh:// (`{url}`); ssh encrypts"));
            }
        }
        other => {
            return Err(format!(
                "host `{name}`: unsupported scheme `{other}://`; use unix://, tcp://, http://, https:// or ssh://"
            ));
        }
    }
    Ok(())
}

/// Where a TLS daemon's client certificates are.
pub fn cert_dir(entry: &HostEntry) -> Result<PathBuf, String> {
    if let Some(dir) = &entry.cert_path {
        return Ok(dir.clone());
    }
    std::env::var_os("HOME")
        .map(|home| PathBuf::from(home).join(".docker"))
        .ok_or_else(|| "TLS: no DOCKER_CERT_PATH and no HOME to find ~/.docker".to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(url: &str) -> HostEntry {
        HostEntry {
            url: url.into(),
            description: None,
            read_only: false,
            tls_verify: false,
            cert_path: None,
            ssh_identity_file: None,
            ssh_known_hosts_file: None,
        }
    }

    #[test]
    fn unknown_keys_in_the_hosts_file_are_errors() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("hosts.toml");
        std::fs::write(&path, "[hosts.prod]\nurl = \"unix:///x.sock\"\nread_onyl = true\n").expect("write");
        let err = read_hosts_file(&path).expect_err("typo must fail");
        assert!(err.contains("read_onyl"), "{err}");
    }

    #[test]
    fn urls_are_checked_up_front() {
        assert!(check_url("a", &entry("unix:///var/run/docker.sock")).is_ok());
        assert!(check_url("a", &entry("tcp://127.0.0.1:2375")).is_ok());
        assert!(check_url("a", &entry("/var/run/docker.sock")).expect_err("no scheme").contains("no scheme"));
        assert!(check_url("a", &entry("ssh://me@box:2222")).is_ok());
        assert!(check_url("a", &entry("ssh://-oProxyCommand=x")).expect_err("option").contains("host must be"));
        assert!(check_url("a", &entry("unix://relative.sock")).expect_err("relative").contains("absolute"));
        let mut tls = entry("tcp://127.0.0.1:2376");
        tls.tls_verify = true;
        tls.cert_path = Some("/nonexistent-certs".into());
        assert!(check_url("a", &tls).expect_err("certs").contains("key.pem"));
    }
}
