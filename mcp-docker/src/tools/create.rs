//! Creating containers (only with --allow-write): `create_container` and `run_container`
//! build the request from the arguments, judge it with the safety guards and the scope,
//! and label what they make with its provenance ([`provenance`], shared with networks,
//! volumes and builds).

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use bollard::models::{
    ContainerCreateBody, HostConfig, Mount, MountType, PortBinding, RestartPolicy, RestartPolicyNameEnum,
};
use bollard::query_parameters::{CreateContainerOptions, RemoveContainerOptions};
use mcp_core::server::ServerBuilder;
use mcp_core::{Context, ToolError, tool_with};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::config::Toolset;
use crate::daemons::{Call, Daemons};
use crate::errors::{NO_CONTAINER, NO_IMAGE};
use crate::guard::{self, check_create};
use crate::names::{check_new_name, check_ref};
use crate::output::{Rendered, Reply, clip, short_id};

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
    builder.tools_in(
        Toolset::Containers.name(),
        [
            tool_with("create_container", daemons, create_container)
                .title("Create a container")
                .description(format!(
                    "Creates (does not start) a container from a local image: command, env, ports, mounts, labels, \
                     restart policy, CPU and memory limits, network. {guards}"
                ))
                .additive(),
            tool_with("run_container", daemons, run_container)
                .title("Create and start a container")
                .description(format!(
                    "Creates a container as create_container does, then starts it (docker run -d); a container that \
                     fails to start is removed again. {guards}"
                ))
                .additive(),
        ],
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

tool_args! {
    write CreateArgs {
        /// The image (must be present on the host: see list_images).
        pub image: String,
        /// The container's name (default: Docker picks one).
        pub name: Option<String>,
        /// The command and its arguments (default: the image's).
        pub cmd: Option<Vec<String>>,
        /// Replaces the image's entrypoint.
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
        pub restart: Option<String>,
        /// CPU limit in CPUs, e.g. 0.5.
        pub cpus: Option<f64>,
        /// Memory limit: bytes, or with a unit `k`, `m`, `g` (e.g. `256m`).
        pub memory: Option<String>,
        /// Network to join: `none`, `bridge`, a user network's name, or `container:NAME`.
        pub network: Option<String>,
        /// Working directory inside the container.
        pub working_dir: Option<String>,
        /// User (name or uid[:gid]) to run as.
        pub user: Option<String>,
        /// Privileged mode (refused unless the server allows it).
        #[serde(default)]
        pub privileged: bool,
        /// PID namespace, e.g. `host` (refused unless the server allows host namespaces).
        pub pid: Option<String>,
        /// IPC namespace, e.g. `host` (refused unless the server allows host namespaces).
        pub ipc: Option<String>,
        /// Linux capabilities to add (refused unless the server allows it).
        #[serde(default)]
        pub cap_add: Vec<String>,
    }
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

pub async fn create_container(daemons: Arc<Daemons>, _ctx: Context, args: CreateArgs) -> Reply<Created> {
    create(&daemons, args, "create_container", false).await
}

pub async fn run_container(daemons: Arc<Daemons>, _ctx: Context, args: CreateArgs) -> Reply<Created> {
    create(&daemons, args, "run_container", true).await
}

async fn create(daemons: &Daemons, args: CreateArgs, tool: &str, start: bool) -> Reply<Created> {
    check_ref("image", &args.image)?;
    if let Some(name) = &args.name {
        check_new_name(name, None)?;
    }
    check_guards(daemons, &args)?;
    let mut body = body(&args, tool)?;
    let call = daemons.write(args.host.as_deref()).await?;
    check_scope(daemons, &call, &mut body).await?;
    let options = CreateContainerOptions { name: args.name.clone(), ..Default::default() };
    let hint = format!("{NO_IMAGE}: images are not pulled implicitly");
    let created = call.docker.create_container(Some(options), body).await.map_err(call.fail(&hint))?;
    let id = created.id;
    if start && let Err(e) = call.docker.start_container(&id, None).await {
        // Leave nothing behind that the model did not get to use.
        let options = RemoveContainerOptions { force: true, ..Default::default() };
        let _ = call.docker.remove_container(&id, Some(options)).await;
        return Err(call.fail(NO_CONTAINER)(e));
    }
    let name = args.name.clone().unwrap_or_else(|| short_id(&id));
    let text = format!(
        "{} container {name} ({}) on host `{}`.{}",
        if start { "Started" } else { "Created" },
        short_id(&id),
        call.name,
        if created.warnings.is_empty() { String::new() } else { format!(" Warnings: {}", created.warnings.join("; ")) }
    );
    Ok(Rendered {
        text,
        data: Created { host: call.name.clone(), id, name, started: start, warnings: created.warnings },
    })
}

/// The create-time guards (privilege, namespaces, capabilities, bind paths, sockets)
/// judging what `args` ask for.
pub fn check_guards(daemons: &Daemons, args: &CreateArgs) -> Result<(), ToolError> {
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
    check_create(&daemons.settings.guards, &request, &daemons.socket_paths())
}

/// The scope guard on the body about to be sent: the scope labels added, joined
/// namespaces and named volumes checked (and rewritten to what they resolved).
pub async fn check_scope(daemons: &Daemons, call: &Call, body: &mut ContainerCreateBody) -> Result<(), ToolError> {
    let scope = &daemons.settings.scope;
    if let Some(labels) = &mut body.labels {
        labels.extend(scope.labels());
    }
    if let Some(host) = &mut body.host_config {
        let mut modes = [
            ("network", &mut host.network_mode),
            ("pid", &mut host.pid_mode),
            ("ipc", &mut host.ipc_mode),
            ("uts", &mut host.uts_mode),
        ];
        scope.check_joins(call, &mut modes).await?;
        if let Some(mounts) = &mut host.mounts {
            scope.check_volumes(call, mounts).await?;
        }
    }
    Ok(())
}

/// The create request, with provenance labels and validated limits.
pub fn body(args: &CreateArgs, tool: &str) -> Result<ContainerCreateBody, ToolError> {
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
