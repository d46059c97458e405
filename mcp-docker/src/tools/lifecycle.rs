//! Changing containers (only with --allow-write): create and run behind the safety
//! guards, start, stop, restart, kill, pause, unpause, remove (never the connector's own
//! container), and exec with a timeout and bounded output. `wait_container` only
//! observes, so it is listed with the reading tools.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::Duration;

use bollard::exec::{CreateExecOptions, StartExecOptions, StartExecResults};
use bollard::models::{
    ContainerCreateBody, HostConfig, Mount, MountType, PortBinding, RestartPolicy, RestartPolicyNameEnum,
};
use bollard::query_parameters::{
    CreateContainerOptions, KillContainerOptions, RemoveContainerOptions, RestartContainerOptions,
    StopContainerOptions, WaitContainerOptions,
};
use futures::StreamExt;
use mcp_core::server::ServerBuilder;
use mcp_core::{Context, ToolError};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::logs::{Stream, Tail};
use mcp_core::tool_with;

use super::check_ref;
use crate::daemons::{Daemon, Daemons};
use crate::errors::{NO_CONTAINER, NO_IMAGE, failed};
use crate::guard::{self, check_create};
use crate::output::{Rendered, clip, short_id};
use crate::scope;

/// The label every created container carries, so they can be found and told apart.
pub const MANAGED_LABEL: &str = "mcp-docker.managed";
const LABEL_PREFIX: &str = "mcp-docker.";

pub fn register(builder: ServerBuilder, daemons: &Arc<Daemons>) -> ServerBuilder {
    let guards = "Guards (each refusal says which, and the flag that relaxes it): no privileged containers \
                  (--allow-privileged), no host network/pid/ipc (--allow-host-namespaces), no cap_add \
                  (--allow-cap-add), bind mounts only under --allow-bind-path directories, never the Docker socket. \
                  With a scope label, `container:X` network/pid/ipc and named volumes only within the scope. \
                  Published ports bind 127.0.0.1 unless a host IP is given. The container is labelled \
                  mcp-docker.managed=true with the tool and time.";
    builder
        .tool(
            tool_with("create_container", daemons, create_container)
                .title("Create a container")
                .description(format!(
                    "Creates (does not start) a container from a local image: command, env, ports, mounts, labels, \
                     restart policy, CPU and memory limits, network. {guards}"
                ))
                .additive(),
        )
        .tool(
            tool_with("run_container", daemons, run_container)
                .title("Create and start a container")
                .description(format!(
                    "Creates a container as create_container does, then starts it (docker run -d); a container that \
                     fails to start is removed again. {guards}"
                ))
                .additive(),
        )
        .tool(
            tool_with("start_container", daemons, start_container)
                .title("Start a container")
                .description("Starts a created or stopped container.")
                .additive()
                .idempotent(),
        )
        .tool(
            tool_with("stop_container", daemons, stop_container)
                .title("Stop a container")
                .description("Stops a running container: SIGTERM, then SIGKILL after `timeout_secs` (default 10).")
                .destructive()
                .idempotent(),
        )
        .tool(
            tool_with("restart_container", daemons, restart_container)
                .title("Restart a container")
                .description("Stops (as stop_container) and starts a container again.")
                .destructive(),
        )
        .tool(
            tool_with("kill_container", daemons, kill_container)
                .title("Send a signal to a container")
                .description("Sends a signal to a container's main process (default SIGKILL).")
                .destructive(),
        )
        .tool(
            tool_with("pause_container", daemons, pause_container)
                .title("Pause a container")
                .description("Freezes every process of a container (cgroup freezer) until unpause_container.")
                .destructive()
                .idempotent(),
        )
        .tool(
            tool_with("unpause_container", daemons, unpause_container)
                .title("Unpause a container")
                .description("Resumes a paused container.")
                .additive()
                .idempotent(),
        )
        .tool(
            tool_with("rename_container", daemons, rename_container)
                .title("Rename a container")
                .description("Gives a container a new name.")
                .additive()
                .idempotent(),
        )
        .tool(
            tool_with("remove_container", daemons, remove_container)
                .title("Remove a container")
                .description(
                    "Removes a container; a running one only with `force`. `volumes` also removes its anonymous \
                     volumes. Never removes the container this server runs in.",
                )
                .destructive(),
        )
        .tool(
            tool_with("exec_in_container", daemons, exec_in_container)
                .title("Run a command in a container")
                .description(
                    "Runs a command in a running container (docker exec, no shell unless you run one: \
                     [\"sh\",\"-c\",\"...\"]) and returns its exit code, stdout and stderr (the last lines within \
                     the output budget, saying when cut). Gives up after `timeout_secs` (default 30).",
                )
                .destructive(),
        )
}

/// `wait_container` changes nothing, so it is listed whether or not writes are allowed.
pub fn register_read(builder: ServerBuilder, daemons: &Arc<Daemons>) -> ServerBuilder {
    builder.tool(
        tool_with("wait_container", daemons, wait_container)
            .title("Wait for a container to stop")
            .description(
                "Waits until a container stops (or up to `timeout_secs`, default 30) and returns its exit code.",
            )
            .read_only(),
    )
}

/// A bind, volume or tmpfs mount.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct MountSpec {
    /// `bind` (a host path, only under the allowed bind paths), `volume` (a named
    /// volume, created if missing) or `tmpfs`. Default `volume`.
    #[serde(default, rename = "type")]
    pub kind: MountKind,
    /// Host path (bind) or volume name (volume); none for tmpfs.
    #[serde(default)]
    pub source: Option<String>,
    /// Path inside the container.
    pub target: String,
    #[serde(default)]
    pub read_only: bool,
}

#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum MountKind {
    Bind,
    #[default]
    Volume,
    Tmpfs,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateArgs {
    /// Which configured Docker host (required when several are configured).
    #[serde(default)]
    pub host: Option<String>,
    /// The image (must be present on the host: see list_images).
    pub image: String,
    /// The container's name (default: Docker picks one).
    #[serde(default)]
    pub name: Option<String>,
    /// The command and its arguments (default: the image's).
    #[serde(default)]
    pub cmd: Option<Vec<String>>,
    /// Replaces the image's entrypoint.
    #[serde(default)]
    pub entrypoint: Option<Vec<String>>,
    /// Environment, `NAME=value` each.
    #[serde(default)]
    pub env: Vec<String>,
    /// Published ports: `containerPort[/proto]`, `hostPort:containerPort[/proto]` or
    /// `hostIp:hostPort:containerPort[/proto]`. Without a host IP they bind 127.0.0.1.
    #[serde(default)]
    pub ports: Vec<String>,
    #[serde(default)]
    pub mounts: Vec<MountSpec>,
    /// Labels to set (keys starting `mcp-docker.` are reserved for provenance).
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
    /// `no` (default), `always`, `unless-stopped`, `on-failure` or `on-failure:N`.
    #[serde(default)]
    pub restart: Option<String>,
    /// CPU limit in CPUs, e.g. 0.5.
    #[serde(default)]
    pub cpus: Option<f64>,
    /// Memory limit: bytes, or with a unit `k`, `m`, `g` (e.g. `256m`).
    #[serde(default)]
    pub memory: Option<String>,
    /// Network to join: `none`, `bridge`, a user network's name, or `container:NAME`.
    #[serde(default)]
    pub network: Option<String>,
    /// Working directory inside the container.
    #[serde(default)]
    pub working_dir: Option<String>,
    /// User (name or uid[:gid]) to run as.
    #[serde(default)]
    pub user: Option<String>,
    /// Privileged mode (refused unless the server allows it).
    #[serde(default)]
    pub privileged: bool,
    /// PID namespace, e.g. `host` (refused unless the server allows host namespaces).
    #[serde(default)]
    pub pid: Option<String>,
    /// IPC namespace, e.g. `host` (refused unless the server allows host namespaces).
    #[serde(default)]
    pub ipc: Option<String>,
    /// Linux capabilities to add (refused unless the server allows it).
    #[serde(default)]
    pub cap_add: Vec<String>,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct Created {
    pub host: String,
    /// Full id.
    pub id: String,
    pub name: String,
    /// Whether it was started (run_container).
    pub started: bool,
    /// Docker's warnings, if any.
    pub warnings: Vec<String>,
}

pub async fn create_container(
    daemons: Arc<Daemons>,
    _ctx: Context,
    args: CreateArgs,
) -> Result<Rendered<Created>, ToolError> {
    create(&daemons, args, "create_container", false).await
}

pub async fn run_container(
    daemons: Arc<Daemons>,
    _ctx: Context,
    args: CreateArgs,
) -> Result<Rendered<Created>, ToolError> {
    create(&daemons, args, "run_container", true).await
}

async fn create(daemons: &Daemons, args: CreateArgs, tool: &str, start: bool) -> Result<Rendered<Created>, ToolError> {
    check_ref("image", &args.image)?;
    if let Some(name) = &args.name
        && (name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric() || "_.-".contains(c)))
    {
        return Err(ToolError::invalid_arguments(format!(
            "`name`: `{}` may hold only letters, digits, _ . -",
            clip(name, 80)
        )));
    }
    let binds: Vec<&str> =
        args.mounts.iter().filter(|m| m.kind == MountKind::Bind).filter_map(|m| m.source.as_deref()).collect();
    let request = guard::Request {
        privileged: args.privileged,
        network: args.network.as_deref(),
        pid: args.pid.as_deref(),
        ipc: args.ipc.as_deref(),
        cap_add: &args.cap_add,
        binds,
    };
    check_create(&daemons.settings.guards, &request, &daemons.socket_paths())?;
    let daemon = daemons.writable(args.host.as_deref())?;
    let mut body = body(&args, tool)?;
    if let Some(labels) = &mut body.labels {
        labels.extend(daemons.settings.scope_labels.iter().cloned());
    }
    // Judged on the body about to be sent, which the checks rewrite to what they resolved.
    if let Some(host) = &mut body.host_config {
        let mut modes = [
            ("network", &mut host.network_mode),
            ("pid", &mut host.pid_mode),
            ("ipc", &mut host.ipc_mode),
            ("uts", &mut host.uts_mode),
        ];
        scope::check_joins(daemons, &daemon, &mut modes).await?;
        if let Some(mounts) = &mut host.mounts {
            scope::check_volumes(daemons, &daemon, mounts).await?;
        }
    }
    let client = daemon.client().await?;
    let options = CreateContainerOptions { name: args.name.clone(), ..Default::default() };
    let created = client
        .create_container(Some(options), body)
        .await
        .map_err(|e| failed(&daemon, &e, &format!("{NO_IMAGE}: images are not pulled implicitly")))?;
    let id = created.id;
    if start && let Err(e) = client.start_container(&id, None).await {
        // Leave nothing behind that the model did not get to use.
        let _ = client.remove_container(&id, Some(RemoveContainerOptions { force: true, ..Default::default() })).await;
        return Err(failed(&daemon, &e, NO_CONTAINER));
    }
    let name = args.name.clone().unwrap_or_else(|| short_id(&id));
    let text = format!(
        "{} container {name} ({}) on host `{}`.{}",
        if start { "Started" } else { "Created" },
        short_id(&id),
        daemon.name,
        if created.warnings.is_empty() { String::new() } else { format!(" Warnings: {}", created.warnings.join("; ")) }
    );
    Ok(Rendered {
        text,
        data: Created { host: daemon.name.clone(), id, name, started: start, warnings: created.warnings },
    })
}

/// The create request, with provenance labels and validated limits.
fn body(args: &CreateArgs, tool: &str) -> Result<ContainerCreateBody, ToolError> {
    for entry in &args.env {
        if entry.split_once('=').is_none_or(|(k, _)| k.is_empty()) {
            return Err(ToolError::invalid_arguments(format!("`env`: `{}` is not NAME=value", clip(entry, 80))));
        }
    }
    let labels = provenance(&args.labels, tool)?;
    let (exposed, bindings) = ports(&args.ports)?;
    let mounts = args.mounts.iter().map(mount).collect::<Result<Vec<_>, _>>()?;
    let nano_cpus = match args.cpus {
        None => None,
        Some(c) if c > 0.0 && c <= 1024.0 => Some((c * 1e9).round() as i64),
        Some(c) => {
            return Err(ToolError::invalid_arguments(format!("`cpus`: {c} is not a CPU count between 0 and 1024")));
        }
    };
    let memory = args.memory.as_deref().map(parse_memory).transpose()?;
    let host_config = HostConfig {
        privileged: Some(args.privileged),
        network_mode: args.network.clone(),
        pid_mode: args.pid.clone(),
        ipc_mode: args.ipc.clone(),
        cap_add: (!args.cap_add.is_empty()).then(|| args.cap_add.clone()),
        mounts: (!mounts.is_empty()).then_some(mounts),
        port_bindings: (!bindings.is_empty()).then_some(bindings),
        restart_policy: args.restart.as_deref().map(restart_policy).transpose()?,
        nano_cpus,
        memory,
        ..Default::default()
    };
    Ok(ContainerCreateBody {
        image: Some(args.image.clone()),
        cmd: args.cmd.clone(),
        entrypoint: args.entrypoint.clone(),
        env: (!args.env.is_empty()).then(|| args.env.clone()),
        labels: Some(labels),
        exposed_ports: (!exposed.is_empty()).then_some(exposed),
        working_dir: args.working_dir.clone(),
        user: args.user.clone(),
        host_config: Some(host_config),
        ..Default::default()
    })
}

/// The caller's labels plus the provenance labels (which the caller may not set).
pub fn provenance<'a>(
    user: impl IntoIterator<Item = (&'a String, &'a String)>,
    tool: &str,
) -> Result<HashMap<String, String>, ToolError> {
    let mut labels: HashMap<String, String> = HashMap::new();
    for (k, v) in user {
        if k.starts_with(LABEL_PREFIX) {
            return Err(ToolError::invalid_arguments(format!(
                "`labels`: `{k}`: keys starting `{LABEL_PREFIX}` are reserved for the connector's provenance labels"
            )));
        }
        labels.insert(k.clone(), v.clone());
    }
    labels.insert(MANAGED_LABEL.into(), "true".into());
    labels.insert(format!("{LABEL_PREFIX}tool"), tool.into());
    labels.insert(format!("{LABEL_PREFIX}created"), chrono::Utc::now().format("%Y-%m-%dT%H:%M:%SZ").to_string());
    labels.insert(format!("{LABEL_PREFIX}version"), env!("CARGO_PKG_VERSION").into());
    Ok(labels)
}

type PortMap = HashMap<String, Option<Vec<PortBinding>>>;

/// Parses published ports into exposed ports and bindings.
fn ports(specs: &[String]) -> Result<(Vec<String>, PortMap), ToolError> {
    let mut exposed = Vec::new();
    let mut bindings: PortMap = HashMap::new();
    for spec in specs {
        let bad = || {
            ToolError::invalid_arguments(format!(
                "`ports`: `{}`: use containerPort[/tcp|udp], hostPort:containerPort[/proto] or hostIp:hostPort:containerPort[/proto]",
                clip(spec, 80)
            ))
        };
        let (addr, proto) = match spec.split_once('/') {
            Some((a, p)) if ["tcp", "udp", "sctp"].contains(&p) => (a, p),
            Some(_) => return Err(bad()),
            None => (spec.as_str(), "tcp"),
        };
        let parts: Vec<&str> = addr.rsplitn(3, ':').collect();
        let port = |s: &str| s.parse::<u16>().ok().filter(|p| *p > 0);
        let (container, host_port, host_ip) = match parts.as_slice() {
            [c] => (port(c).ok_or_else(bad)?, None, None),
            [c, h] => (port(c).ok_or_else(bad)?, Some(port(h).ok_or_else(bad)?), None),
            [c, h, ip] => (port(c).ok_or_else(bad)?, Some(port(h).ok_or_else(bad)?), Some(ip.trim_matches(['[', ']']))),
            _ => return Err(bad()),
        };
        let key = format!("{container}/{proto}");
        exposed.push(key.clone());
        if let Some(host_port) = host_port {
            let host_ip = host_ip.unwrap_or("127.0.0.1");
            if host_ip.parse::<std::net::IpAddr>().is_err() {
                return Err(bad());
            }
            bindings
                .entry(key)
                .or_insert_with(|| Some(Vec::new()))
                .get_or_insert_with(Vec::new)
                .push(PortBinding { host_ip: Some(host_ip.to_string()), host_port: Some(host_port.to_string()) });
        }
    }
    Ok((exposed, bindings))
}

fn mount(spec: &MountSpec) -> Result<Mount, ToolError> {
    if !spec.target.starts_with('/') {
        return Err(ToolError::invalid_arguments(format!(
            "`mounts`: target `{}` must be an absolute path",
            spec.target
        )));
    }
    let typ = match spec.kind {
        MountKind::Bind => MountType::BIND,
        MountKind::Volume => MountType::VOLUME,
        MountKind::Tmpfs => MountType::TMPFS,
    };
    match (spec.kind, &spec.source) {
        (MountKind::Bind, None) => {
            return Err(ToolError::invalid_arguments("`mounts`: a bind mount needs `source`, the host path"));
        }
        (MountKind::Tmpfs, Some(_)) => {
            return Err(ToolError::invalid_arguments("`mounts`: a tmpfs mount takes no `source`"));
        }
        _ => {}
    }
    Ok(Mount {
        target: Some(spec.target.clone()),
        source: spec.source.clone(),
        typ: Some(typ),
        read_only: Some(spec.read_only),
        ..Default::default()
    })
}

fn restart_policy(spec: &str) -> Result<RestartPolicy, ToolError> {
    let (name, count) = match spec.split_once(':') {
        Some(("on-failure", n)) => (
            RestartPolicyNameEnum::ON_FAILURE,
            Some(n.parse::<i64>().map_err(|_| {
                ToolError::invalid_arguments(format!("`restart`: `{spec}`: the retry count must be a number"))
            })?),
        ),
        Some(_) => {
            return Err(ToolError::invalid_arguments(format!("`restart`: `{spec}`: only on-failure takes a count")));
        }
        None => match spec {
            "no" => (RestartPolicyNameEnum::NO, None),
            "always" => (RestartPolicyNameEnum::ALWAYS, None),
            "unless-stopped" => (RestartPolicyNameEnum::UNLESS_STOPPED, None),
            "on-failure" => (RestartPolicyNameEnum::ON_FAILURE, None),
            _ => {
                return Err(ToolError::invalid_arguments(format!(
                    "`restart`: `{spec}`: use no, always, unless-stopped, on-failure or on-failure:N"
                )));
            }
        },
    };
    Ok(RestartPolicy { name: Some(name), maximum_retry_count: count })
}

/// `256m`, `1g`, `512k` or plain bytes.
fn parse_memory(spec: &str) -> Result<i64, ToolError> {
    let s = spec.trim().to_ascii_lowercase();
    let s = s.strip_suffix('b').unwrap_or(&s);
    let (number, scale) = match s.chars().last() {
        Some('k') => (&s[..s.len() - 1], 1i64 << 10),
        Some('m') => (&s[..s.len() - 1], 1 << 20),
        Some('g') => (&s[..s.len() - 1], 1 << 30),
        _ => (s, 1),
    };
    number
        .parse::<f64>()
        .ok()
        .map(|n| (n * scale as f64) as i64)
        // Docker's own floor is 6 MiB; below it the daemon refuses with a vaguer message.
        .filter(|b| *b >= 6 << 20)
        .ok_or_else(|| {
            ToolError::invalid_arguments(format!("`memory`: `{spec}`: use bytes or a size like 256m (at least 6m)"))
        })
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TargetArgs {
    /// Which configured Docker host (required when several are configured).
    #[serde(default)]
    pub host: Option<String>,
    /// The container's id (or a unique prefix) or name.
    pub container: String,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct StopArgs {
    /// Which configured Docker host (required when several are configured).
    #[serde(default)]
    pub host: Option<String>,
    /// The container's id (or a unique prefix) or name.
    pub container: String,
    /// Seconds to wait after SIGTERM before SIGKILL (default 10).
    #[serde(default)]
    pub timeout_secs: Option<u32>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct KillArgs {
    /// Which configured Docker host (required when several are configured).
    #[serde(default)]
    pub host: Option<String>,
    /// The container's id (or a unique prefix) or name.
    pub container: String,
    /// The signal, e.g. SIGTERM, SIGHUP, 9 (default SIGKILL).
    #[serde(default)]
    pub signal: Option<String>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RemoveArgs {
    /// Which configured Docker host (required when several are configured).
    #[serde(default)]
    pub host: Option<String>,
    /// The container's id (or a unique prefix) or name.
    pub container: String,
    /// Remove it even if it is running (it is killed first).
    #[serde(default)]
    pub force: bool,
    /// Also remove its anonymous volumes.
    #[serde(default)]
    pub volumes: bool,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct Action {
    pub host: String,
    pub container: String,
    /// What happened, in a sentence.
    pub message: String,
}

fn done(daemon: &Daemon, container: &str, message: String) -> Rendered<Action> {
    Rendered { text: message.clone(), data: Action { host: daemon.name.clone(), container: container.into(), message } }
}

/// Resolves `container` and refuses if it is the one this server runs in.
async fn not_self(daemons: &Daemons, daemon: &Daemon, container: &str, verb: &str) -> Result<(), ToolError> {
    let Some(own) = &daemons.self_container else { return Ok(()) };
    let client = daemon.client().await?;
    let info = client.inspect_container(container, None).await.map_err(|e| failed(daemon, &e, NO_CONTAINER))?;
    let id = info.id.unwrap_or_default();
    if !id.is_empty() && (id.starts_with(own.as_str()) || own.starts_with(&id)) {
        return Err(ToolError::failed(format!(
            "refused by the self-protection guard: `{container}` is the container this MCP server runs in; {verb} it \
             would cut the connection you are using. No flag relaxes this guard."
        )));
    }
    Ok(())
}

/// Checks the arguments, picks the writable daemon and applies the self guard.
async fn target(
    daemons: &Daemons,
    host: Option<&str>,
    container: &str,
    verb: Option<&str>,
) -> Result<Arc<Daemon>, ToolError> {
    check_ref("container", container)?;
    let daemon = daemons.writable(host)?;
    daemons.scoped(&daemon, container).await?;
    if let Some(verb) = verb {
        not_self(daemons, &daemon, container, verb).await?;
    }
    Ok(daemon)
}

pub async fn start_container(
    daemons: Arc<Daemons>,
    _ctx: Context,
    args: TargetArgs,
) -> Result<Rendered<Action>, ToolError> {
    let daemon = target(&daemons, args.host.as_deref(), &args.container, None).await?;
    let client = daemon.client().await?;
    // Docker answers 304 for a container already running, which bollard reports as
    // success: ask first, so the model is told what really happened.
    let message = if running(&daemon, &args.container).await? {
        format!("{} was already running.", args.container)
    } else {
        client.start_container(&args.container, None).await.map_err(|e| failed(&daemon, &e, NO_CONTAINER))?;
        format!("Started {}.", args.container)
    };
    Ok(done(&daemon, &args.container, message))
}

pub async fn stop_container(
    daemons: Arc<Daemons>,
    _ctx: Context,
    args: StopArgs,
) -> Result<Rendered<Action>, ToolError> {
    let daemon = target(&daemons, args.host.as_deref(), &args.container, Some("stopping")).await?;
    let client = daemon.client().await?;
    let t = args.timeout_secs.map(|t| t.min(600) as i32);
    let message = if running(&daemon, &args.container).await? {
        client
            .stop_container(&args.container, Some(StopContainerOptions { t, signal: None }))
            .await
            .map_err(|e| failed(&daemon, &e, NO_CONTAINER))?;
        format!("Stopped {}.", args.container)
    } else {
        format!("{} was not running.", args.container)
    };
    Ok(done(&daemon, &args.container, message))
}

/// Whether the container is running (paused counts: it still holds its processes).
async fn running(daemon: &Daemon, container: &str) -> Result<bool, ToolError> {
    let client = daemon.client().await?;
    let info = client.inspect_container(container, None).await.map_err(|e| failed(daemon, &e, NO_CONTAINER))?;
    Ok(info.state.and_then(|s| s.running).unwrap_or(false))
}

pub async fn restart_container(
    daemons: Arc<Daemons>,
    _ctx: Context,
    args: StopArgs,
) -> Result<Rendered<Action>, ToolError> {
    let daemon = target(&daemons, args.host.as_deref(), &args.container, Some("restarting")).await?;
    let client = daemon.client().await?;
    let t = args.timeout_secs.map(|t| t.min(600) as i32);
    client
        .restart_container(&args.container, Some(RestartContainerOptions { t, signal: None }))
        .await
        .map_err(|e| failed(&daemon, &e, NO_CONTAINER))?;
    Ok(done(&daemon, &args.container, format!("Restarted {}.", args.container)))
}

pub async fn kill_container(
    daemons: Arc<Daemons>,
    _ctx: Context,
    args: KillArgs,
) -> Result<Rendered<Action>, ToolError> {
    let signal = args.signal.clone().unwrap_or_else(|| "SIGKILL".into());
    if signal.is_empty() || signal.len() > 16 || !signal.chars().all(|c| c.is_ascii_alphanumeric() || c == '+') {
        return Err(ToolError::invalid_arguments(format!(
            "`signal`: `{}` is not a signal name or number",
            clip(&signal, 40)
        )));
    }
    let daemon = target(&daemons, args.host.as_deref(), &args.container, Some("killing")).await?;
    let client = daemon.client().await?;
    client
        .kill_container(&args.container, Some(KillContainerOptions { signal: signal.clone() }))
        .await
        .map_err(|e| failed(&daemon, &e, NO_CONTAINER))?;
    Ok(done(&daemon, &args.container, format!("Sent {signal} to {}.", args.container)))
}

pub async fn pause_container(
    daemons: Arc<Daemons>,
    _ctx: Context,
    args: TargetArgs,
) -> Result<Rendered<Action>, ToolError> {
    let daemon = target(&daemons, args.host.as_deref(), &args.container, Some("pausing")).await?;
    let client = daemon.client().await?;
    client.pause_container(&args.container).await.map_err(|e| failed(&daemon, &e, NO_CONTAINER))?;
    Ok(done(&daemon, &args.container, format!("Paused {}.", args.container)))
}

pub async fn unpause_container(
    daemons: Arc<Daemons>,
    _ctx: Context,
    args: TargetArgs,
) -> Result<Rendered<Action>, ToolError> {
    let daemon = target(&daemons, args.host.as_deref(), &args.container, None).await?;
    let client = daemon.client().await?;
    client.unpause_container(&args.container).await.map_err(|e| failed(&daemon, &e, NO_CONTAINER))?;
    Ok(done(&daemon, &args.container, format!("Unpaused {}.", args.container)))
}

pub async fn remove_container(
    daemons: Arc<Daemons>,
    _ctx: Context,
    args: RemoveArgs,
) -> Result<Rendered<Action>, ToolError> {
    let daemon = target(&daemons, args.host.as_deref(), &args.container, Some("removing")).await?;
    let client = daemon.client().await?;
    let options = RemoveContainerOptions { force: args.force, v: args.volumes, ..Default::default() };
    client.remove_container(&args.container, Some(options)).await.map_err(|e| {
        let mut err = failed(&daemon, &e, NO_CONTAINER);
        if let (bollard::errors::Error::DockerResponseServerError { status_code: 409, .. }, ToolError::Failed(m)) =
            (&e, &mut err)
        {
            *m += " (stop it first, or pass force=true)";
        }
        err
    })?;
    Ok(done(&daemon, &args.container, format!("Removed {}.", args.container)))
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RenameArgs {
    /// Which configured Docker host (required when several are configured).
    #[serde(default)]
    pub host: Option<String>,
    /// The container's id (or a unique prefix) or name.
    pub container: String,
    /// The new name.
    pub name: String,
}

pub async fn rename_container(
    daemons: Arc<Daemons>,
    _ctx: Context,
    args: RenameArgs,
) -> Result<Rendered<Action>, ToolError> {
    if args.name.is_empty() || !args.name.chars().all(|c| c.is_ascii_alphanumeric() || "_.-".contains(c)) {
        return Err(ToolError::invalid_arguments(format!(
            "`name`: `{}` may hold only letters, digits, _ . -",
            clip(&args.name, 80)
        )));
    }
    let daemon = target(&daemons, args.host.as_deref(), &args.container, None).await?;
    let client = daemon.client().await?;
    client
        .rename_container(
            &args.container,
            bollard::query_parameters::RenameContainerOptions { name: args.name.clone() },
        )
        .await
        .map_err(|e| failed(&daemon, &e, NO_CONTAINER))?;
    Ok(done(&daemon, &args.container, format!("Renamed {} to {}.", args.container, args.name)))
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ExecArgs {
    /// Which configured Docker host (required when several are configured).
    #[serde(default)]
    pub host: Option<String>,
    /// The container's id (or a unique prefix) or name; it must be running.
    pub container: String,
    /// The command and its arguments, e.g. ["ls", "-l", "/"] or ["sh", "-c", "..."].
    pub cmd: Vec<String>,
    /// Extra environment, `NAME=value` each.
    #[serde(default)]
    pub env: Vec<String>,
    /// Working directory inside the container.
    #[serde(default)]
    pub working_dir: Option<String>,
    /// User (name or uid[:gid]) to run as.
    #[serde(default)]
    pub user: Option<String>,
    /// Seconds to wait for the command (default 30, at most 600).
    #[serde(default)]
    pub timeout_secs: Option<u64>,
    /// Return stdout (default true).
    #[serde(default = "yes")]
    pub stdout: bool,
    /// Return stderr (default true).
    #[serde(default = "yes")]
    pub stderr: bool,
}

fn yes() -> bool {
    true
}

#[derive(Debug, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ExecResult {
    pub host: String,
    pub container: String,
    /// The command's exit code; absent if it was still running at the timeout.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub exit_code: Option<i64>,
    pub timed_out: bool,
    pub stdout: String,
    pub stderr: String,
    /// Older output was left out to fit the budget.
    pub truncated: bool,
}

pub async fn exec_in_container(
    daemons: Arc<Daemons>,
    _ctx: Context,
    args: ExecArgs,
) -> Result<Rendered<ExecResult>, ToolError> {
    if args.cmd.is_empty() || args.cmd[0].is_empty() {
        return Err(ToolError::invalid_arguments("`cmd`: give the command and its arguments, e.g. [\"ls\", \"/\"]"));
    }
    let timeout = args.timeout_secs.unwrap_or(30);
    if timeout == 0 || timeout > 600 {
        return Err(ToolError::invalid_arguments("`timeout_secs`: between 1 and 600"));
    }
    let daemon = target(&daemons, args.host.as_deref(), &args.container, None).await?;
    let client = daemon.client().await?;
    let options = CreateExecOptions {
        attach_stdout: Some(args.stdout),
        attach_stderr: Some(args.stderr),
        cmd: Some(args.cmd.clone()),
        env: (!args.env.is_empty()).then(|| args.env.clone()),
        working_dir: args.working_dir.clone(),
        user: args.user.clone(),
        ..Default::default()
    };
    let exec = client.create_exec(&args.container, options).await.map_err(|e| failed(&daemon, &e, NO_CONTAINER))?;
    let started = client
        .start_exec(&exec.id, Some(StartExecOptions { detach: false, tty: false, output_capacity: None }))
        .await
        .map_err(|e| failed(&daemon, &e, NO_CONTAINER))?;
    // Half the budget each, so a chatty stdout cannot hide the error on stderr.
    let half = daemons.settings.max_result_bytes / 2;
    let mut out = Tail::new(usize::MAX, half);
    let mut err = Tail::new(usize::MAX, half);
    let mut timed_out = false;
    if let StartExecResults::Attached { mut output, .. } = started {
        let read = async {
            while let Some(item) = output.next().await {
                match item {
                    Ok(bollard::container::LogOutput::StdErr { message }) => err.push(Stream::Err, &message),
                    Ok(other) => out.push(Stream::Out, other.as_ref()),
                    Err(e) => return Err(failed(&daemon, &e, NO_CONTAINER)),
                }
            }
            Ok(())
        };
        match tokio::time::timeout(Duration::from_secs(timeout), read).await {
            Ok(result) => result?,
            Err(_) => timed_out = true,
        }
    }
    out.finish();
    err.finish();
    let inspect = client.inspect_exec(&exec.id).await.map_err(|e| failed(&daemon, &e, NO_CONTAINER))?;
    let exit_code = if inspect.running == Some(true) { None } else { inspect.exit_code };
    let truncated = out.dropped > 0 || err.dropped > 0;
    let stdout = out.text_of(Stream::Out);
    let stderr = err.text_of(Stream::Err);
    let mut text = match (timed_out, exit_code) {
        (true, _) => format!(
            "Timed out after {timeout} s; the command may still be running in the container (Docker cannot stop an \
             exec'd process: kill it by PID with another exec, or restart the container).\n"
        ),
        (false, Some(code)) => format!("Exit code {code}.\n"),
        (false, None) => "Finished; Docker reported no exit code.\n".into(),
    };
    if truncated {
        text += "[Older output left out to fit the output budget.]\n";
    }
    if !stdout.is_empty() {
        text += &format!("--- stdout\n{stdout}");
    }
    if !stderr.is_empty() {
        text += &format!("--- stderr\n{stderr}");
    }
    Ok(Rendered {
        text,
        data: ExecResult {
            host: daemon.name.clone(),
            container: args.container,
            exit_code,
            timed_out,
            stdout,
            stderr,
            truncated,
        },
    })
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct WaitArgs {
    /// Which configured Docker host (default: the first).
    #[serde(default)]
    pub host: Option<String>,
    /// The container's id (or a unique prefix) or name.
    pub container: String,
    /// Seconds to wait at most (default 30, at most 600).
    #[serde(default)]
    pub timeout_secs: Option<u64>,
}

#[derive(Debug, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Waited {
    pub host: String,
    pub container: String,
    /// Whether it stopped within the timeout.
    pub stopped: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub exit_code: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

pub async fn wait_container(
    daemons: Arc<Daemons>,
    _ctx: Context,
    args: WaitArgs,
) -> Result<Rendered<Waited>, ToolError> {
    check_ref("container", &args.container)?;
    let timeout = args.timeout_secs.unwrap_or(30);
    if timeout == 0 || timeout > 600 {
        return Err(ToolError::invalid_arguments("`timeout_secs`: between 1 and 600"));
    }
    let daemon = daemons.get(args.host.as_deref())?;
    daemons.scoped(&daemon, &args.container).await?;
    let client = daemon.client().await?;
    let options = WaitContainerOptions { condition: "not-running".into() };
    let mut stream = client.wait_container(&args.container, Some(options));
    let (stopped, exit_code, error) = match tokio::time::timeout(Duration::from_secs(timeout), stream.next()).await {
        Err(_) => (false, None, None),
        Ok(Some(Ok(r))) => (true, Some(r.status_code), r.error.and_then(|e| e.message).filter(|m| !m.is_empty())),
        // bollard reports a non-zero exit as an error; for a wait it is just the result.
        Ok(Some(Err(bollard::errors::Error::DockerContainerWaitError { error, code }))) => {
            (true, Some(code), Some(error).filter(|e| !e.is_empty()))
        }
        Ok(Some(Err(e))) => return Err(failed(&daemon, &e, NO_CONTAINER)),
        Ok(None) => return Err(ToolError::failed(format!("host `{}`: the wait ended without a result", daemon.name))),
    };
    let text = match exit_code {
        Some(code) if stopped => format!("{} stopped with exit code {code}.", args.container),
        _ => format!("{} was still running after {timeout} s.", args.container),
    };
    Ok(Rendered {
        text,
        data: Waited { host: daemon.name.clone(), container: args.container, stopped, exit_code, error },
    })
}
