//! The connector's settings: which kubeconfig and context, what it may change, which
//! kinds and namespaces it may touch, how much one call may return. A TOML file may hold
//! the same settings; unknown keys there are errors, so a misspelt safety setting stops
//! the server instead of being silently ignored.

use std::path::PathBuf;
use std::time::Duration;

use serde::Deserialize;

/// Groups of tools, so a deployment lists only what it needs (every tool definition
/// costs the model context).
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Toolset {
    /// Generic resources: list, get, describe, api_resources, explain.
    Core,
    /// Server-side apply, patch and delete of any resource.
    Apply,
    /// Pods and workloads: logs, exec, top, run, scale, rollouts.
    Workloads,
    /// Namespaces, nodes, events, version.
    Cluster,
    /// Kubeconfig contexts.
    Config,
    /// Helm releases.
    Helm,
}

impl Toolset {
    /// The name tools are tagged with, the same as the flag's value.
    pub fn name(self) -> &'static str {
        match self {
            Toolset::Core => "core",
            Toolset::Apply => "apply",
            Toolset::Workloads => "workloads",
            Toolset::Cluster => "cluster",
            Toolset::Config => "config",
            Toolset::Helm => "helm",
        }
    }
}

/// The flags of `mcp-kubernetes`, besides the ones every connector shares.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct KubeArgs {
    /// A TOML file with the settings below (snake_case keys); flags given on the command
    /// line win over it.
    #[arg(long = "config", env = "MCP_KUBERNETES_CONFIG")]
    pub config_file: Option<PathBuf>,
    /// The kubeconfig file (default: KUBECONFIG, which may list several files, then
    /// ~/.kube/config; in a pod without either, the service account).
    #[arg(long, env = "MCP_KUBERNETES_KUBECONFIG")]
    pub kubeconfig: Option<PathBuf>,
    /// The context calls use when they name none (default: the kubeconfig's
    /// current-context). Every tool takes `context` to choose another per call.
    #[arg(long, env = "MCP_KUBERNETES_CONTEXT")]
    pub context: Option<String>,
    /// Use the pod's service account even when a kubeconfig exists.
    #[arg(long, env = "MCP_KUBERNETES_IN_CLUSTER")]
    pub in_cluster: bool,
    /// The namespace calls use when they name none (default: the context's namespace,
    /// then `default`).
    #[arg(long, env = "MCP_KUBERNETES_NAMESPACE")]
    pub namespace: Option<String>,
    /// Only these namespaces may be read or changed (comma-separated). A policy file's
    /// `namespaces` scope narrows it further per client.
    #[arg(long = "allowed-namespaces", env = "MCP_KUBERNETES_ALLOWED_NAMESPACES", value_delimiter = ',')]
    pub allowed_namespaces: Vec<String>,
    /// Enables the tools that create and change objects (apply, patch, scale, restart,
    /// run, helm install/upgrade); without it the connector only reads.
    #[arg(long, env = "MCP_KUBERNETES_ALLOW_WRITE")]
    pub allow_write: bool,
    /// Also enables the destructive tools (delete, exec, rollout undo, helm rollback and
    /// uninstall); implies --allow-write.
    #[arg(long, env = "MCP_KUBERNETES_ALLOW_DESTRUCTIVE")]
    pub allow_destructive: bool,
    /// Resource kinds never read or changed (comma-separated): `secrets`, `Secret`,
    /// `clusterroles.rbac.authorization.k8s.io`, ...
    #[arg(long = "deny-kinds", env = "MCP_KUBERNETES_DENY_KINDS", value_delimiter = ',')]
    pub deny_kinds: Vec<String>,
    /// Only the tools of these groups (comma-separated; default: all).
    #[arg(long, env = "MCP_KUBERNETES_TOOLSETS", value_enum, value_delimiter = ',')]
    pub toolsets: Vec<Toolset>,
    /// Shows Secret values and sensitive environment values in plain text; by default
    /// they are replaced by a short keyed hash.
    #[arg(long, env = "MCP_KUBERNETES_ALLOW_SECRETS")]
    pub allow_secrets: bool,
    /// The key of the masking hash (default: random per process). Set it to compare
    /// masked values across restarts.
    #[arg(long, env = "MCP_KUBERNETES_MASK_KEY", hide_env_values = true)]
    pub mask_key: Option<String>,
    /// Most rows a listing returns per call (the rest is reachable with `continue`).
    #[arg(long, env = "MCP_KUBERNETES_MAX_ROWS")]
    pub max_rows: Option<usize>,
    /// Most log lines one pods_log call returns.
    #[arg(long, env = "MCP_KUBERNETES_MAX_LOG_LINES")]
    pub max_log_lines: Option<usize>,
    /// Most bytes of text one call renders (tables, documents, logs, exec output).
    #[arg(long, env = "MCP_KUBERNETES_MAX_RESULT_BYTES")]
    pub max_result_bytes: Option<usize>,
    /// Longest a pods_exec command may run, in seconds.
    #[arg(long, env = "MCP_KUBERNETES_EXEC_TIMEOUT_SECS")]
    pub exec_timeout_secs: Option<u64>,
    /// Longest one API request may take, in seconds.
    #[arg(long, env = "MCP_KUBERNETES_REQUEST_TIMEOUT_SECS")]
    pub request_timeout_secs: Option<u64>,
    /// How long API discovery is cached per context, in seconds (an unknown kind
    /// always refreshes it once).
    #[arg(long, env = "MCP_KUBERNETES_DISCOVERY_TTL_SECS")]
    pub discovery_ttl_secs: Option<u64>,
    /// The Helm binary for install, upgrade, rollback and uninstall (default: `helm` on
    /// PATH).
    #[arg(long, env = "MCP_KUBERNETES_HELM_BINARY")]
    pub helm_binary: Option<PathBuf>,
    /// Act as each caller on the cluster: every request carries Impersonate-User (the
    /// bearer token's name or the OAuth subject) and Impersonate-Group (the OAuth
    /// `groups` claim), so the cluster's RBAC decides per user. Needs authentication
    /// (HTTP or WebSocket with --auth-tokens-file or OAuth); the connector's own
    /// credentials need only the `impersonate` verb.
    #[arg(long, env = "MCP_KUBERNETES_IMPERSONATE")]
    pub impersonate: bool,
}

/// The settings file: the same names as the flags, in snake_case.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileConfig {
    kubeconfig: Option<PathBuf>,
    context: Option<String>,
    in_cluster: Option<bool>,
    namespace: Option<String>,
    allowed_namespaces: Option<Vec<String>>,
    allow_write: Option<bool>,
    allow_destructive: Option<bool>,
    deny_kinds: Option<Vec<String>>,
    toolsets: Option<Vec<Toolset>>,
    allow_secrets: Option<bool>,
    mask_key: Option<String>,
    max_rows: Option<usize>,
    max_log_lines: Option<usize>,
    max_result_bytes: Option<usize>,
    exec_timeout_secs: Option<u64>,
    request_timeout_secs: Option<u64>,
    discovery_ttl_secs: Option<u64>,
    helm_binary: Option<PathBuf>,
    impersonate: Option<bool>,
}

/// Everything the connector needs, validated.
#[derive(Debug, Clone)]
pub struct Settings {
    pub kubeconfig: Option<PathBuf>,
    pub context: Option<String>,
    pub in_cluster: bool,
    pub namespace: Option<String>,
    /// Empty: every namespace.
    pub allowed_namespaces: Vec<String>,
    pub allow_write: bool,
    pub allow_destructive: bool,
    /// Lowercased kind, plural or `plural.group` names.
    pub deny_kinds: Vec<String>,
    /// Empty: every toolset.
    pub toolsets: Vec<Toolset>,
    pub allow_secrets: bool,
    pub mask_key: Vec<u8>,
    pub max_rows: usize,
    pub max_log_lines: usize,
    pub max_result_bytes: usize,
    pub exec_timeout: Duration,
    pub request_timeout: Duration,
    pub discovery_ttl: Duration,
    pub helm_binary: PathBuf,
    /// Act as each caller (impersonation headers).
    pub impersonate: bool,
}

impl KubeArgs {
    /// Merges the settings file under the flags and checks the result.
    pub fn settings(&self) -> Result<Settings, String> {
        let file = match &self.config_file {
            Some(path) => mcp_core::connector::read_toml::<FileConfig>(path, "--config")?,
            None => FileConfig::default(),
        };
        let allow_destructive = self.allow_destructive || file.allow_destructive.unwrap_or(false);
        let pick_list = |flag: &Vec<String>, file: Option<Vec<String>>| {
            if flag.is_empty() { file.unwrap_or_default() } else { flag.clone() }
        };
        let allowed_namespaces: Vec<String> = pick_list(&self.allowed_namespaces, file.allowed_namespaces)
            .into_iter()
            .map(|s| s.trim().to_string())
            .filter(|s| !s.is_empty())
            .collect();
        for ns in &allowed_namespaces {
            if !valid_dns_label(ns) {
                return Err(format!("allowed namespace `{ns}` is not a valid namespace name"));
            }
        }
        let namespace = self.namespace.clone().or(file.namespace).filter(|s| !s.trim().is_empty());
        if let Some(ns) = &namespace {
            if !valid_dns_label(ns) {
                return Err(format!("--namespace `{ns}` is not a valid namespace name"));
            }
            if !allowed_namespaces.is_empty() && !allowed_namespaces.contains(ns) {
                return Err(format!(
                    "--namespace `{ns}` is outside --allowed-namespaces ({})",
                    allowed_namespaces.join(", ")
                ));
            }
        }
        let deny_kinds = pick_list(&self.deny_kinds, file.deny_kinds)
            .into_iter()
            .map(|s| s.trim().to_ascii_lowercase())
            .filter(|s| !s.is_empty())
            .collect();
        let toolsets = if self.toolsets.is_empty() { file.toolsets.unwrap_or_default() } else { self.toolsets.clone() };
        let mask_key = match self.mask_key.clone().or(file.mask_key) {
            Some(key) if key.len() < 16 => return Err("--mask-key must be at least 16 characters".into()),
            Some(key) => key.into_bytes(),
            None => rand::random::<[u8; 32]>().to_vec(),
        };
        let positive = |name: &str, v: usize| {
            if v == 0 { Err(format!("--{name} must be at least 1")) } else { Ok(v) }
        };
        let settings = Settings {
            kubeconfig: self.kubeconfig.clone().or(file.kubeconfig),
            context: self.context.clone().or(file.context).filter(|s| !s.trim().is_empty()),
            in_cluster: self.in_cluster || file.in_cluster.unwrap_or(false),
            namespace,
            allowed_namespaces,
            allow_write: self.allow_write || file.allow_write.unwrap_or(false) || allow_destructive,
            allow_destructive,
            deny_kinds,
            toolsets,
            allow_secrets: self.allow_secrets || file.allow_secrets.unwrap_or(false),
            mask_key,
            max_rows: positive("max-rows", self.max_rows.or(file.max_rows).unwrap_or(200))?,
            max_log_lines: positive("max-log-lines", self.max_log_lines.or(file.max_log_lines).unwrap_or(1000))?,
            max_result_bytes: positive(
                "max-result-bytes",
                self.max_result_bytes.or(file.max_result_bytes).unwrap_or(64 * 1024),
            )?,
            exec_timeout: Duration::from_secs(positive(
                "exec-timeout-secs",
                self.exec_timeout_secs.or(file.exec_timeout_secs).unwrap_or(30) as usize,
            )? as u64),
            request_timeout: Duration::from_secs(positive(
                "request-timeout-secs",
                self.request_timeout_secs.or(file.request_timeout_secs).unwrap_or(30) as usize,
            )? as u64),
            discovery_ttl: Duration::from_secs(self.discovery_ttl_secs.or(file.discovery_ttl_secs).unwrap_or(300)),
            helm_binary: self.helm_binary.clone().or(file.helm_binary).unwrap_or_else(|| PathBuf::from("helm")),
            impersonate: self.impersonate || file.impersonate.unwrap_or(false),
        };
        if settings.in_cluster && settings.kubeconfig.is_some() {
            return Err("--in-cluster and --kubeconfig exclude each other: choose one source of credentials".into());
        }
        Ok(settings)
    }
}

/// Refuses `--impersonate` when no caller is authenticated (stdio, or HTTP without
/// bearer tokens or OAuth): every call would act as the same made-up identity.
pub fn impersonation_has_callers(args: &KubeArgs, serve: &mcp_core::cli::ServeArgs) -> Result<(), String> {
    let file = match &args.config_file {
        Some(path) if !args.impersonate => mcp_core::connector::read_toml::<FileConfig>(path, "--config")?.impersonate,
        _ => None,
    };
    if !args.impersonate && file != Some(true) {
        return Ok(());
    }
    let tokens = serve.auth_tokens_file.is_some() || std::env::var_os("MCP_AUTH_TOKENS").is_some();
    let authenticated = tokens || serve.oauth_issuer.is_some();
    if serve.transport == mcp_core::cli::TransportKind::Stdio || !authenticated {
        return Err("--impersonate acts as each authenticated caller, so it needs authentication: serve over HTTP \
                    with --auth-tokens-file (or MCP_AUTH_TOKENS) or OAuth (--oauth-issuer ...)"
            .into());
    }
    Ok(())
}

/// A Kubernetes name of the DNS-label kind (namespaces): lowercase letters, digits and
/// `-`, at most 63 characters, starting and ending with an alphanumeric.
pub fn valid_dns_label(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 63
        && s.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !s.starts_with('-')
        && !s.ends_with('-')
}

/// A Kubernetes object name (DNS subdomain): lowercase alphanumerics, `-` and `.`, at
/// most 253 characters; some kinds (RBAC) also allow `:`, so that is accepted too.
pub fn valid_object_name(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 253
        && s.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b':' | b'_'))
        && !s.contains("..")
        && s != "."
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn destructive_implies_write_and_file_keys_are_strict() {
        let args = KubeArgs { allow_destructive: true, ..Default::default() };
        let s = args.settings().expect("settings");
        assert!(s.allow_write && s.allow_destructive);
        let err = toml::from_str::<FileConfig>("allow_wirte = true").expect_err("unknown key");
        assert!(err.to_string().contains("allow_wirte"), "{err}");
    }

    #[test]
    fn namespace_must_be_in_allowlist() {
        let args =
            KubeArgs { namespace: Some("prod".into()), allowed_namespaces: vec!["dev".into()], ..Default::default() };
        assert!(args.settings().expect_err("outside").contains("outside --allowed-namespaces"));
    }

    #[test]
    fn names() {
        assert!(valid_dns_label("team-a"));
        assert!(!valid_dns_label("Team"));
        assert!(valid_object_name("system:controller:x"));
        assert!(!valid_object_name("../etc"));
        assert!(!valid_object_name("a/b"));
    }
}
