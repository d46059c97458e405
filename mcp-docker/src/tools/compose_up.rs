//! Bringing a compose project up on the Engine API, no compose binary: `compose_config`
//! resolves and judges a Compose file, `compose_up` creates its networks, volumes and
//! containers in dependency order, waiting for the conditions `depends_on` names. Every
//! service is judged by create_container's guards and the scope before anything is
//! created; what is made carries the `com.docker.compose.*` labels the compose CLI reads.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::Duration;

use bollard::models::{
    ContainerCreateBody, ContainerSummary, EndpointSettings, HealthConfig, NetworkConnectRequest, NetworkCreateRequest,
    NetworkingConfig, VolumeCreateRequest,
};
use bollard::query_parameters::CreateContainerOptions;
use mcp_core::security::redact::redact_env;
use mcp_core::{Context, ToolError};
use schemars::JsonSchema;
use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::compose::{self, Condition, Project, Service};
use crate::daemons::{Call, Daemons};
use crate::errors::is_missing;
use crate::output::{Rendered, Reply, clip, short_id, table};
use crate::tools::compose_file::{ConfigArgs, UpArgs, load};
use crate::tools::compose_ops::{in_service, label, project_containers};
use crate::tools::create::{CreateArgs, MountKind, MountSpec, body, check_guards, check_scope, provenance};

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
        (compose::PROJECT, project.name.clone()),
        (compose::SERVICE, s.name.clone()),
        (compose::NUMBER, "1".into()),
        (compose::ONEOFF, "False".into()),
        (compose::CONFIG_HASH, config_hash(s)),
        (compose::VERSION, compose::COMPOSE_VERSION.into()),
        (compose::DEPENDS_ON, depends.join(",")),
        (compose::WORKING_DIR, project.working_dir.clone()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect();
    if let Some(file) = &project.config_file {
        labels.insert(compose::CONFIG_FILES.into(), file.clone());
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
        let hash = body.labels.as_ref().and_then(|l| l.get(compose::CONFIG_HASH));
        if let Some(c) = existing.iter().find(|c| label(c, compose::SERVICE) == s.name)
            && Some(&label(c, compose::CONFIG_HASH).to_string()) != hash
        {
            return Err(ToolError::refused(format!(
                "service `{}`: its container {} was made from another configuration; compose_down the project \
                 (or remove that container) first, then compose_up",
                s.name,
                short_id(c.id.as_deref().unwrap_or_default())
            )));
        }
        if !existing.iter().any(|c| label(c, compose::SERVICE) == s.name)
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
    labels.insert(compose::PROJECT.into(), project.name.clone());
    labels.insert(kind.into(), key.into());
    labels.insert(compose::VERSION.into(), compose::COMPOSE_VERSION.into());
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
            labels: Some(object_labels(daemons, project, compose::NETWORK, &n.key, &n.labels)?),
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
            labels: Some(object_labels(daemons, project, compose::VOLUME, &v.key, &v.labels)?),
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
    let (id, action) = match existing.iter().find(|c| label(c, compose::SERVICE) == s.name) {
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
