//! A compose project's whole life on the Engine API, no compose binary: `compose_config`
//! reads and validates a Compose file, `compose_up` creates its networks, volumes and
//! containers in dependency order, `compose_down`, `compose_restart`, `compose_pull`.
//! Every service is judged by create_container's guards and the scope before anything is
//! created; what is made carries the `com.docker.compose.*` labels the compose CLI reads.
//! (`compose_logs` and the reading tools are in `compose`, which registers them all.)

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use bollard::models::{
    ContainerCreateBody, ContainerSummary, EndpointSettings, HealthConfig, NetworkConnectRequest, NetworkCreateRequest,
    NetworkingConfig, VolumeCreateRequest,
};
use bollard::query_parameters::{
    CreateContainerOptions, ListContainersOptions, ListNetworksOptions, ListVolumesOptions, RemoveContainerOptions,
    RemoveVolumeOptions, RestartContainerOptions, StopContainerOptions,
};
use mcp_core::security::redact::redact_env;
use mcp_core::{Context, ToolError};
use schemars::JsonSchema;
use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::compose_spec::{self, Condition, Project, Service};
use crate::compose_vars::{Vars, parse_env_file};
use crate::daemons::{Call, Daemons};
use crate::errors::is_missing;
use crate::output::{Rendered, Reply, clip, short_id, table};
use crate::tools::create::{CreateArgs, MountKind, MountSpec, body, check_guards, check_scope, provenance};
use crate::tools::images::{PullArgs, pull_image};

/// The arguments that name a Compose file, shared by compose_config, compose_up and
/// compose_pull (declared once, so they cannot drift).
macro_rules! file_args {
    ($kind:ident $name:ident { $($extra:tt)* }) => {
        tool_args! {
            $kind $name {
                /// Path of the Compose file (or of its directory, holding compose.yaml,
                /// compose.yml, docker-compose.yaml or docker-compose.yml) on the server's
                /// host: only under --allow-bind-path, `..` and symlinks resolved. Or give `content`.
                pub file: Option<String>,
                /// The Compose file's YAML text, instead of `file`.
                pub content: Option<String>,
                /// The directory relative paths, `env_file` and `.env` resolve against (default:
                /// the file's directory). Under --allow-bind-path.
                pub project_directory: Option<String>,
                /// The project name (default: the file's `name`, else the directory's name).
                pub project: Option<String>,
                /// Profiles to enable (services with `profiles` run only when one is named).
                #[serde(default)]
                pub profiles: Vec<String>,
                /// Variables for `${VAR}` interpolation, over those of the project's `.env` file.
                /// The server's own environment is never read.
                #[serde(default)]
                pub env: BTreeMap<String, String>,
                /// Only these services and what they depend on (default: every enabled service).
                #[serde(default)]
                pub services: Vec<String>,
                $($extra)*
            }
        }

        impl $name {
            fn source(&self) -> FileSource<'_> {
                FileSource {
                    file: self.file.as_deref(),
                    content: self.content.as_deref(),
                    project_directory: self.project_directory.as_deref(),
                    project: self.project.as_deref(),
                    profiles: &self.profiles,
                    env: &self.env,
                    services: &self.services,
                }
            }
        }
    };
}

file_args! { read ConfigArgs {} }
file_args! { write PullFileArgs {} }
file_args! {
    write UpArgs {
        /// Seconds to wait for the whole project to come up, dependencies' health
        /// included (default 120, at most 900).
        pub timeout_secs: Option<u64>,
    }
}

pub struct FileSource<'a> {
    file: Option<&'a str>,
    content: Option<&'a str>,
    project_directory: Option<&'a str>,
    project: Option<&'a str>,
    profiles: &'a [String],
    env: &'a BTreeMap<String, String>,
    services: &'a [String],
}

const FILE_NAMES: [&str; 4] = ["compose.yaml", "compose.yml", "docker-compose.yaml", "docker-compose.yml"];

/// A file the project reads, judged by the host-path guard; None when it does not exist.
fn read_guarded(daemons: &Daemons, path: &Path) -> Result<Option<String>, ToolError> {
    let text = path.to_str().ok_or_else(|| ToolError::invalid_arguments("paths must be UTF-8"))?;
    let real = daemons.host_path(text)?;
    let meta = match std::fs::metadata(&real) {
        Ok(m) => m,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(ToolError::failed(format!("`{text}`: {e}"))),
    };
    if !meta.is_file() || meta.len() > compose_spec::MAX_FILE_BYTES as u64 {
        return Err(ToolError::invalid_arguments(format!(
            "`{text}` is not a file of at most {} KiB",
            compose_spec::MAX_FILE_BYTES / 1024
        )));
    }
    std::fs::read_to_string(&real).map(Some).map_err(|e| ToolError::failed(format!("`{text}`: {e}")))
}

/// Reads the Compose file the arguments name and resolves it, restricted to the
/// services asked for (and their dependencies).
pub fn load(daemons: &Daemons, src: &FileSource<'_>) -> Result<Project, ToolError> {
    let (yaml, config_file, file_dir) = match (src.file, src.content) {
        (Some(file), None) => {
            let mut path = daemons.host_path(file)?;
            if path.is_dir() {
                path = FILE_NAMES.iter().map(|n| path.join(n)).find(|p| p.is_file()).ok_or_else(|| {
                    ToolError::not_found(format!("`file`: `{file}` holds none of {}", FILE_NAMES.join(", ")))
                })?;
            }
            let yaml = read_guarded(daemons, &path)?
                .ok_or_else(|| ToolError::not_found(format!("`file`: `{file}` does not exist")))?;
            let dir = path.parent().map(Path::to_path_buf);
            (yaml, Some(path), dir)
        }
        (None, Some(content)) => (content.to_string(), None, None),
        _ => return Err(ToolError::invalid_arguments("give exactly one of `file` (a path) and `content` (YAML text)")),
    };
    let working_dir = match src.project_directory {
        Some(dir) => Some(daemons.host_path(dir)?),
        None => file_dir,
    };
    let mut vars = Vars::new();
    if let Some(dir) = &working_dir
        && let Some(text) = read_guarded(daemons, &dir.join(".env"))?
    {
        let pairs = parse_env_file(&text, &Vars::new())
            .map_err(|e| ToolError::invalid_arguments(format!("`.env` in {}: {e}", dir.display())))?;
        vars.extend(pairs);
    }
    vars.extend(src.env.iter().map(|(k, v)| (k.clone(), v.clone())));
    let read_file = |p: &Path| read_guarded(daemons, p);
    let mut project = compose_spec::load(&compose_spec::Source {
        yaml: &yaml,
        working_dir,
        config_file,
        vars,
        project: src.project.map(str::to_string),
        profiles: src.profiles.to_vec(),
        read_file: &read_file,
    })?;
    select(&mut project, src.services)?;
    Ok(project)
}

/// Keeps the named services and what they depend on.
fn select(project: &mut Project, wanted: &[String]) -> Result<(), ToolError> {
    if wanted.is_empty() {
        return Ok(());
    }
    let mut keep: BTreeSet<String> = BTreeSet::new();
    let mut todo: Vec<String> = wanted.to_vec();
    while let Some(name) = todo.pop() {
        let service = project.services.iter().find(|s| s.name == name).ok_or_else(|| {
            ToolError::invalid_arguments(format!(
                "`services`: `{}` is not an enabled service of project `{}`",
                clip(&name, 80),
                project.name
            ))
        })?;
        if keep.insert(name) {
            todo.extend(service.depends_on.keys().cloned());
        }
    }
    project.services.retain(|s| keep.contains(&s.name));
    Ok(())
}

/// create_container's arguments for a service, so the same validation and guards apply.
fn create_args(host: Option<&str>, s: &Service) -> CreateArgs {
    let mounts = s
        .mounts
        .iter()
        .map(|m| MountSpec {
            kind: match m.kind.as_str() {
                "bind" => MountKind::Bind,
                "tmpfs" => MountKind::Tmpfs,
                _ => MountKind::Volume,
            },
            source: m.source.clone(),
            target: m.target.clone(),
            read_only: m.read_only,
        })
        .collect();
    CreateArgs {
        host: host.map(str::to_string),
        image: s.image.clone(),
        name: Some(s.container_name.clone()),
        cmd: s.command.clone(),
        entrypoint: s.entrypoint.clone(),
        env: s.environment.clone(),
        ports: s.ports.clone(),
        mounts,
        labels: s.labels.clone(),
        restart: s.restart.clone(),
        cpus: s.cpus,
        memory: s.mem_limit.clone(),
        network: s.network_mode.clone().or_else(|| s.networks.keys().next().cloned()),
        working_dir: s.working_dir.clone(),
        user: s.user.clone(),
        privileged: s.privileged,
        pid: s.pid.clone(),
        ipc: s.ipc.clone(),
        cap_add: s.cap_add.clone(),
    }
}

/// The labels compose puts on a service's container.
fn compose_labels(project: &Project, s: &Service) -> HashMap<String, String> {
    let depends: Vec<String> = s
        .depends_on
        .iter()
        .map(|(d, c)| {
            let c = serde_json::to_value(c).ok().and_then(|v| v.as_str().map(str::to_string)).unwrap_or_default();
            format!("{d}:{c}:false")
        })
        .collect();
    let mut labels: HashMap<String, String> = [
        (compose_spec::PROJECT, project.name.clone()),
        (compose_spec::SERVICE, s.name.clone()),
        (compose_spec::NUMBER, "1".into()),
        (compose_spec::ONEOFF, "False".into()),
        (compose_spec::CONFIG_HASH, config_hash(s)),
        (compose_spec::VERSION, compose_spec::COMPOSE_VERSION.into()),
        (compose_spec::DEPENDS_ON, depends.join(",")),
        (compose_spec::WORKING_DIR, project.working_dir.clone()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect();
    if let Some(file) = &project.config_file {
        labels.insert(compose_spec::CONFIG_FILES.into(), file.clone());
    }
    labels
}

/// A digest of the service's resolved configuration: an existing container with the same
/// hash is the same service, one with another hash is out of date.
fn config_hash(s: &Service) -> String {
    let json = serde_json::to_vec(s).unwrap_or_default();
    Sha256::digest(&json).iter().map(|b| format!("{b:02x}")).collect()
}

/// The full create request of a service: create_container's, plus what compose sets
/// that create_container does not take.
fn service_body(project: &Project, s: &Service, args: &CreateArgs) -> Result<ContainerCreateBody, ToolError> {
    let mut body = body(args, "compose_up")?;
    body.labels.get_or_insert_with(HashMap::new).extend(compose_labels(project, s));
    body.hostname = s.hostname.clone();
    body.tty = Some(s.tty);
    body.open_stdin = Some(s.stdin_open);
    body.stop_signal = s.stop_signal.clone();
    body.stop_timeout = s.stop_grace_period;
    body.healthcheck = s.healthcheck.as_ref().map(|h| HealthConfig {
        test: Some(h.test.clone()),
        interval: h.interval,
        timeout: h.timeout,
        retries: h.retries,
        start_period: h.start_period,
        start_interval: None,
    });
    if let Some((first, aliases)) = s.networks.iter().next() {
        let mut aliases = aliases.clone();
        aliases.push(s.name.clone());
        let endpoint = EndpointSettings { aliases: Some(aliases), ..Default::default() };
        body.networking_config = Some(NetworkingConfig { endpoints_config: Some([(first.clone(), endpoint)].into()) });
    }
    if let Some(host) = &mut body.host_config {
        host.init = s.init;
        host.readonly_rootfs = Some(s.read_only);
        host.cap_drop = (!s.cap_drop.is_empty()).then(|| s.cap_drop.clone());
        if !s.tmpfs.is_empty() {
            let mut tmpfs = HashMap::new();
            for t in &s.tmpfs {
                let (path, opts) = t.split_once(':').unwrap_or((t.as_str(), ""));
                tmpfs.insert(path.to_string(), opts.to_string());
            }
            host.tmpfs = Some(tmpfs);
        }
    }
    Ok(body)
}

/// The containers of `project` (of every project when None) on the host, within the scope.
pub async fn project_containers(
    daemons: &Daemons,
    call: &Call,
    project: Option<&str>,
) -> Result<Vec<ContainerSummary>, ToolError> {
    let label = match project {
        Some(p) => format!("{}={p}", compose_spec::PROJECT),
        None => compose_spec::PROJECT.to_string(),
    };
    let labels: Vec<String> = std::iter::once(label).chain(daemons.settings.scope.filters()).collect();
    let filters: HashMap<String, Vec<String>> = [("label".to_string(), labels)].into();
    let options = ListContainersOptions { all: true, filters: Some(filters), ..Default::default() };
    call.docker.list_containers(Some(options)).await.map_err(call.fail(""))
}

pub fn label<'a>(c: &'a ContainerSummary, key: &str) -> &'a str {
    c.labels.as_ref().and_then(|l| l.get(key)).map_or("", String::as_str)
}

pub fn check_project_name(project: &str) -> Result<(), ToolError> {
    if project.is_empty() || project.len() > 128 || project.contains(['=', ',']) {
        return Err(ToolError::invalid_arguments("`project`: a compose project name (see compose_projects)"));
    }
    Ok(())
}

// ---- compose_config ----

#[derive(Debug, Serialize, JsonSchema)]
pub struct Config {
    /// The resolved project (secret-looking environment values redacted).
    pub project: Project,
}

pub async fn compose_config(daemons: Arc<Daemons>, _ctx: Context, args: ConfigArgs) -> Reply<Config> {
    let mut project = load(&daemons, &args.source())?;
    for s in &project.services {
        check_guards(&daemons, &create_args(None, s)).map_err(|e| in_service(&s.name, e))?;
    }
    for s in &mut project.services {
        s.environment = s.environment.iter().map(|e| redact_env(e)).collect();
    }
    let size = mcp_core::connector::bounded::json_size(&project);
    if size > daemons.settings.max_result_bytes {
        return Err(ToolError::invalid_arguments(format!(
            "the resolved project is {size} bytes, over the server's --max-result-bytes ({}); name fewer `services`",
            daemons.settings.max_result_bytes
        )));
    }
    let cells: Vec<Vec<String>> = project
        .services
        .iter()
        .map(|s| {
            let deps: Vec<String> = s.depends_on.keys().cloned().collect();
            vec![s.name.clone(), clip(&s.image, 50), s.container_name.clone(), deps.join(",")]
        })
        .collect();
    let mut text = format!(
        "Project `{}` (working dir `{}`): valid, every service passes the guards. Services in start order:\n",
        project.name, project.working_dir
    );
    text += &table(&["SERVICE", "IMAGE", "CONTAINER", "DEPENDS ON"], &cells);
    if !project.disabled.is_empty() {
        text += &format!("Disabled by profiles: {}\n", project.disabled.join(", "));
    }
    Ok(Rendered { text, data: Config { project } })
}

/// An error naming the service it concerns (a guard's refusal, the engine's answer).
fn in_service(service: &str, e: ToolError) -> ToolError {
    prefixed(&format!("service `{service}`"), e)
}

/// `e` with `prefix: ` before its message, its kind kept.
fn prefixed(prefix: &str, e: ToolError) -> ToolError {
    let p = |m: String| format!("{prefix}: {m}");
    match e {
        ToolError::Failed(m) => ToolError::Failed(p(m)),
        ToolError::InvalidArguments(m) => ToolError::InvalidArguments(p(m)),
        ToolError::NotFound(m) => ToolError::NotFound(p(m)),
        ToolError::Refused(m) => ToolError::Refused(p(m)),
        ToolError::Unavailable(m) => ToolError::Unavailable(p(m)),
        ToolError::TimedOut(m) => ToolError::TimedOut(p(m)),
        other => other,
    }
}

// ---- compose_up ----

#[derive(Debug, Serialize, JsonSchema)]
pub struct UpService {
    pub service: String,
    pub container: String,
    /// Short id.
    pub id: String,
    /// `created`, `started` (existing, was stopped) or `running` (left as it was).
    pub action: String,
}

#[derive(Debug, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Up {
    pub host: String,
    pub project: String,
    pub services: Vec<UpService>,
    pub networks_created: Vec<String>,
    pub volumes_created: Vec<String>,
}

pub async fn compose_up(daemons: Arc<Daemons>, _ctx: Context, args: UpArgs) -> Reply<Up> {
    let timeout = args.timeout_secs.unwrap_or(120);
    if timeout == 0 || timeout > 900 {
        return Err(ToolError::invalid_arguments("`timeout_secs`: between 1 and 900"));
    }
    let project = load(&daemons, &args.source())?;
    // Every guard judges every service before anything is made.
    let mut plans = Vec::new();
    for s in &project.services {
        let create = create_args(args.host.as_deref(), s);
        check_guards(&daemons, &create).map_err(|e| in_service(&s.name, e))?;
        plans.push((s, service_body(&project, s, &create).map_err(|e| in_service(&s.name, e))?));
    }
    let call = daemons.write(args.host.as_deref()).await?;
    for (s, body) in &mut plans {
        check_scope(&daemons, &call, body).await.map_err(|e| in_service(&s.name, e))?;
    }
    let existing = project_containers(&daemons, &call, Some(&project.name)).await?;
    check_can_start(&call, &project, &plans, &existing).await?;
    let work = async {
        let networks_created = make_networks(&daemons, &call, &project).await?;
        let volumes_created = make_volumes(&daemons, &call, &project).await?;
        let mut services = Vec::new();
        for (s, body) in plans {
            for (dep, condition) in &s.depends_on {
                let name = &project.services.iter().find(|d| &d.name == dep).map(|d| d.container_name.clone());
                wait_for(&call, dep, name.as_deref().unwrap_or(dep), *condition).await?;
            }
            services.push(up_service(&call, s, body, &existing).await?);
        }
        Ok::<_, ToolError>((networks_created, volumes_created, services))
    };
    let (networks_created, volumes_created, services) =
        tokio::time::timeout(Duration::from_secs(timeout), work).await.map_err(|_| {
            ToolError::timed_out(format!(
                "project `{}` did not come up within {timeout} s (what was made stays; compose_project shows it, \
                 compose_down removes it)",
                project.name
            ))
        })??;
    let cells: Vec<Vec<String>> =
        services.iter().map(|u| vec![u.service.clone(), u.container.clone(), u.action.clone()]).collect();
    let text = format!(
        "Project `{}` is up on host `{}`.\n{}",
        project.name,
        call.name,
        table(&["SERVICE", "CONTAINER", "ACTION"], &cells)
    );
    Ok(Rendered {
        text,
        data: Up { host: call.name.clone(), project: project.name, services, networks_created, volumes_created },
    })
}

/// Refuses, before anything is made, what would fail half-way: a missing image, a
/// missing external network or volume, a service whose container is out of date (up
/// never removes a container: compose_down does), a container name taken by another.
async fn check_can_start(
    call: &Call,
    project: &Project,
    plans: &[(&Service, ContainerCreateBody)],
    existing: &[ContainerSummary],
) -> Result<(), ToolError> {
    let mut missing = Vec::new();
    for (s, body) in plans {
        if let Err(e) = call.docker.inspect_image(&s.image).await {
            if !is_missing(&e) {
                return Err(call.fail("")(e));
            }
            missing.push(s.image.clone());
        }
        let hash = body.labels.as_ref().and_then(|l| l.get(compose_spec::CONFIG_HASH));
        if let Some(c) = existing.iter().find(|c| label(c, compose_spec::SERVICE) == s.name)
            && Some(&label(c, compose_spec::CONFIG_HASH).to_string()) != hash
        {
            return Err(ToolError::refused(format!(
                "service `{}`: its container {} was made from another configuration; compose_down the project \
                 (or remove that container) first, then compose_up",
                s.name,
                short_id(c.id.as_deref().unwrap_or_default())
            )));
        }
        if !existing.iter().any(|c| label(c, compose_spec::SERVICE) == s.name)
            && call.docker.inspect_container(&s.container_name, None).await.is_ok()
        {
            return Err(ToolError::refused(format!(
                "service `{}`: a container named `{}` exists and is not this project's",
                s.name, s.container_name
            )));
        }
    }
    if !missing.is_empty() {
        missing.sort();
        missing.dedup();
        return Err(ToolError::not_found(format!(
            "host `{}`: image(s) not present: {}; compose_pull pulls the project's images (images are not pulled \
             implicitly)",
            call.name,
            missing.join(", ")
        )));
    }
    for n in project.networks.iter().filter(|n| n.external) {
        call.docker.inspect_network(&n.name, None).await.map_err(call.fail("an external network must exist"))?;
    }
    for v in project.volumes.iter().filter(|v| v.external) {
        call.docker.inspect_volume(&v.name).await.map_err(call.fail("an external volume must exist"))?;
    }
    Ok(())
}

fn object_labels(
    daemons: &Daemons,
    project: &Project,
    kind: &str,
    key: &str,
    own: &BTreeMap<String, String>,
) -> Result<HashMap<String, String>, ToolError> {
    let mut labels = provenance(own, "compose_up")?;
    labels.extend(daemons.settings.scope.labels());
    labels.insert(compose_spec::PROJECT.into(), project.name.clone());
    labels.insert(kind.into(), key.into());
    labels.insert(compose_spec::VERSION.into(), compose_spec::COMPOSE_VERSION.into());
    Ok(labels)
}

async fn make_networks(daemons: &Daemons, call: &Call, project: &Project) -> Result<Vec<String>, ToolError> {
    let mut made = Vec::new();
    for n in project.networks.iter().filter(|n| !n.external) {
        if call.docker.inspect_network(&n.name, None).await.is_ok() {
            continue;
        }
        let request = NetworkCreateRequest {
            name: n.name.clone(),
            driver: Some(n.driver.clone()),
            internal: Some(n.internal),
            labels: Some(object_labels(daemons, project, compose_spec::NETWORK, &n.key, &n.labels)?),
            ..Default::default()
        };
        call.docker.create_network(request).await.map_err(call.fail(""))?;
        made.push(n.name.clone());
    }
    Ok(made)
}

async fn make_volumes(daemons: &Daemons, call: &Call, project: &Project) -> Result<Vec<String>, ToolError> {
    let mut made = Vec::new();
    for v in project.volumes.iter().filter(|v| !v.external) {
        if call.docker.inspect_volume(&v.name).await.is_ok() {
            continue;
        }
        let request = VolumeCreateRequest {
            name: Some(v.name.clone()),
            driver: v.driver.clone(),
            labels: Some(object_labels(daemons, project, compose_spec::VOLUME, &v.key, &v.labels)?),
            ..Default::default()
        };
        call.docker.create_volume(request).await.map_err(call.fail(""))?;
        made.push(v.name.clone());
    }
    Ok(made)
}

/// Waits until `container` (service `service`) meets `condition`; the caller bounds the time.
async fn wait_for(call: &Call, service: &str, container: &str, condition: Condition) -> Result<(), ToolError> {
    if condition == Condition::Started {
        return Ok(());
    }
    loop {
        let info = call.docker.inspect_container(container, None).await.map_err(call.fail(""))?;
        let state = info.state.unwrap_or_default();
        let status = state.status.map(|s| s.to_string()).unwrap_or_default();
        let health = state.health.as_ref().and_then(|h| h.status).map(|s| s.to_string()).unwrap_or_default();
        match condition {
            Condition::Healthy if health == "healthy" => return Ok(()),
            Condition::Healthy if health == "unhealthy" => {
                let last = state
                    .health
                    .and_then(|h| h.log)
                    .and_then(|l| l.last().and_then(|r| r.output.clone()))
                    .unwrap_or_default();
                return Err(ToolError::failed(format!(
                    "service `{service}` is unhealthy (its dependents were not started); last check: {}",
                    clip(last.trim(), 200)
                )));
            }
            Condition::Healthy if health.is_empty() || health == "none" => {
                return Err(ToolError::invalid_arguments(format!(
                    "service `{service}` has no healthcheck, so `condition: service_healthy` can never hold"
                )));
            }
            Condition::CompletedSuccessfully if status == "exited" => {
                return match state.exit_code {
                    Some(0) => Ok(()),
                    code => Err(ToolError::failed(format!(
                        "service `{service}` exited with code {} (its dependents were not started)",
                        code.unwrap_or(-1)
                    ))),
                };
            }
            _ if status == "exited" || status == "dead" => {
                return Err(ToolError::failed(format!(
                    "service `{service}` stopped (exit code {}) before it was healthy",
                    state.exit_code.unwrap_or(-1)
                )));
            }
            _ => tokio::time::sleep(Duration::from_millis(250)).await,
        }
    }
}

async fn up_service(
    call: &Call,
    s: &Service,
    body: ContainerCreateBody,
    existing: &[ContainerSummary],
) -> Result<UpService, ToolError> {
    let fail = |e| in_service(&s.name, call.fail("")(e));
    let (id, action) = match existing.iter().find(|c| label(c, compose_spec::SERVICE) == s.name) {
        Some(c) => {
            let id = c.id.clone().unwrap_or_default();
            if c.state.is_some_and(|st| st.to_string() == "running") {
                (id, "running")
            } else {
                call.docker.start_container(&id, None).await.map_err(fail)?;
                (id, "started")
            }
        }
        None => {
            let options = CreateContainerOptions { name: Some(s.container_name.clone()), ..Default::default() };
            let id = call.docker.create_container(Some(options), body).await.map_err(fail)?.id;
            for (net, aliases) in s.networks.iter().skip(1) {
                let mut aliases = aliases.clone();
                aliases.push(s.name.clone());
                let request = NetworkConnectRequest {
                    container: id.clone(),
                    endpoint_config: Some(EndpointSettings { aliases: Some(aliases), ..Default::default() }),
                };
                call.docker.connect_network(net, request).await.map_err(fail)?;
            }
            call.docker.start_container(&id, None).await.map_err(fail)?;
            (id, "created")
        }
    };
    Ok(UpService {
        service: s.name.clone(),
        container: s.container_name.clone(),
        id: short_id(&id),
        action: action.into(),
    })
}

// ---- compose_down, compose_restart ----

tool_args! {
    write DownArgs {
        /// The project's name (see compose_projects).
        pub project: String,
        /// Also remove the project's named volumes (and containers' anonymous volumes).
        #[serde(default)]
        pub volumes: bool,
        /// Seconds to wait for each container to stop before it is killed (default 10).
        pub timeout_secs: Option<u32>,
    }
}

#[derive(Debug, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Down {
    pub host: String,
    pub project: String,
    pub containers_removed: Vec<String>,
    pub networks_removed: Vec<String>,
    pub volumes_removed: Vec<String>,
}

fn container_name(c: &ContainerSummary) -> String {
    c.names.as_ref().and_then(|n| n.first()).map(|n| n.trim_start_matches('/').to_string()).unwrap_or_default()
}

fn refuse_self(daemons: &Daemons, containers: &[ContainerSummary], verb: &str) -> Result<(), ToolError> {
    if let Some(own) = &daemons.self_container
        && let Some(c) = containers.iter().find(|c| c.id.as_deref().is_some_and(|id| id.starts_with(own.as_str())))
    {
        return Err(ToolError::refused(format!(
            "refused: the project holds this server's own container {}, which it never {verb}s",
            container_name(c)
        )));
    }
    Ok(())
}

pub async fn compose_down(daemons: Arc<Daemons>, _ctx: Context, args: DownArgs) -> Reply<Down> {
    check_project_name(&args.project)?;
    let stop_secs = args.timeout_secs.unwrap_or(10).min(600);
    let call = daemons.write(args.host.as_deref()).await?;
    let containers = project_containers(&daemons, &call, Some(&args.project)).await?;
    refuse_self(&daemons, &containers, "remove")?;
    let mut removed = Vec::new();
    for c in &containers {
        let id = c.id.clone().unwrap_or_default();
        let stop = StopContainerOptions { t: Some(stop_secs as i32), ..Default::default() };
        if let Err(e) = call.docker.stop_container(&id, Some(stop)).await
            && !is_missing(&e)
        {
            return Err(call.fail("")(e));
        }
        let options = RemoveContainerOptions { force: true, v: args.volumes, link: false };
        call.docker.remove_container(&id, Some(options)).await.map_err(call.fail(""))?;
        removed.push(container_name(c));
    }
    let filters: HashMap<String, Vec<String>> = [(
        "label".to_string(),
        std::iter::once(format!("{}={}", compose_spec::PROJECT, args.project))
            .chain(daemons.settings.scope.filters())
            .collect(),
    )]
    .into();
    let networks = call
        .docker
        .list_networks(Some(ListNetworksOptions { filters: Some(filters.clone()) }))
        .await
        .map_err(call.fail(""))?;
    let mut networks_removed = Vec::new();
    for n in networks {
        let name = n.name.unwrap_or_default();
        call.docker.remove_network(&name).await.map_err(call.fail(""))?;
        networks_removed.push(name);
    }
    let mut volumes_removed = Vec::new();
    if args.volumes {
        let list = call
            .docker
            .list_volumes(Some(ListVolumesOptions { filters: Some(filters) }))
            .await
            .map_err(call.fail(""))?;
        for v in list.volumes.unwrap_or_default() {
            call.docker
                .remove_volume(&v.name, Some(RemoveVolumeOptions { force: false }))
                .await
                .map_err(call.fail(""))?;
            volumes_removed.push(v.name);
        }
    }
    if removed.is_empty() && networks_removed.is_empty() && volumes_removed.is_empty() {
        return Err(ToolError::not_found(format!(
            "host `{}`: nothing belongs to compose project `{}`; compose_projects lists the projects",
            call.name, args.project
        )));
    }
    let text = format!(
        "Project `{}` is down on host `{}`: removed {} container(s) [{}], {} network(s) [{}], {} volume(s) [{}].",
        args.project,
        call.name,
        removed.len(),
        removed.join(", "),
        networks_removed.len(),
        networks_removed.join(", "),
        volumes_removed.len(),
        volumes_removed.join(", ")
    );
    Ok(Rendered {
        text,
        data: Down {
            host: call.name.clone(),
            project: args.project,
            containers_removed: removed,
            networks_removed,
            volumes_removed,
        },
    })
}

tool_args! {
    write RestartArgs {
        /// The project's name (see compose_projects).
        pub project: String,
        /// Only these services (default: all).
        #[serde(default)]
        pub services: Vec<String>,
        /// Seconds to wait for each container to stop before it is killed (default 10).
        pub timeout_secs: Option<u32>,
    }
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct Restarted {
    pub host: String,
    pub project: String,
    pub containers: Vec<String>,
}

pub async fn compose_restart(daemons: Arc<Daemons>, _ctx: Context, args: RestartArgs) -> Reply<Restarted> {
    check_project_name(&args.project)?;
    let call = daemons.write(args.host.as_deref()).await?;
    let containers = chosen(&daemons, &call, &args.project, &args.services).await?;
    refuse_self(&daemons, &containers, "restart")?;
    let mut done = Vec::new();
    for c in &containers {
        let options =
            RestartContainerOptions { t: Some(args.timeout_secs.unwrap_or(10).min(600) as i32), ..Default::default() };
        call.docker
            .restart_container(c.id.as_deref().unwrap_or_default(), Some(options))
            .await
            .map_err(call.fail(""))?;
        done.push(container_name(c));
    }
    let text = format!("Restarted {} container(s) of project `{}`: {}.", done.len(), args.project, done.join(", "));
    Ok(Rendered { text, data: Restarted { host: call.name.clone(), project: args.project, containers: done } })
}

/// The project's containers of the named services (all when none named); an unknown
/// service or an empty project is an error.
pub async fn chosen(
    daemons: &Daemons,
    call: &Call,
    project: &str,
    services: &[String],
) -> Result<Vec<ContainerSummary>, ToolError> {
    let all = project_containers(daemons, call, Some(project)).await?;
    if all.is_empty() {
        return Err(ToolError::not_found(format!(
            "host `{}`: no containers belong to compose project `{project}`; compose_projects lists the projects",
            call.name
        )));
    }
    let known: BTreeSet<&str> = all.iter().map(|c| label(c, compose_spec::SERVICE)).collect();
    if let Some(s) = services.iter().find(|s| !known.contains(s.as_str())) {
        return Err(ToolError::invalid_arguments(format!(
            "`services`: project `{project}` has no service `{}` (it has: {})",
            clip(s, 80),
            known.into_iter().collect::<Vec<_>>().join(", ")
        )));
    }
    let mut chosen: Vec<ContainerSummary> = all
        .into_iter()
        .filter(|c| services.is_empty() || services.iter().any(|s| s == label(c, compose_spec::SERVICE)))
        .collect();
    chosen.sort_by_key(container_name);
    Ok(chosen)
}

// ---- compose_pull ----

#[derive(Debug, Serialize, JsonSchema)]
pub struct Pulled {
    pub host: String,
    pub project: String,
    /// Image and Docker's last status line for it.
    pub images: BTreeMap<String, String>,
}

pub async fn compose_pull(daemons: Arc<Daemons>, ctx: Context, args: PullFileArgs) -> Reply<Pulled> {
    let project = load(&daemons, &args.source())?;
    let images: BTreeSet<String> = project.services.iter().map(|s| s.image.clone()).collect();
    let mut host = String::new();
    let mut statuses = BTreeMap::new();
    for image in images {
        let pull = PullArgs { host: args.host.clone(), image: image.clone(), platform: None };
        let done = pull_image(daemons.clone(), ctx.clone(), pull)
            .await
            .map_err(|e| prefixed(&format!("image `{image}`"), e))?;
        host = done.data.host;
        statuses.insert(image, done.data.status);
    }
    let lines: Vec<String> = statuses.iter().map(|(i, s)| format!("{i}: {s}")).collect();
    let text = format!("Pulled {} image(s) for project `{}`:\n{}\n", statuses.len(), project.name, lines.join("\n"));
    Ok(Rendered { text, data: Pulled { host, project: project.name, images: statuses } })
}
