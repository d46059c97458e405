//! Operating a compose project found by its labels: `compose_down`, `compose_restart`,
//! and `compose_pull` (the images its file names); plus how the compose tools find a
//! project's containers and name what failed.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;

use bollard::models::ContainerSummary;
use bollard::query_parameters::{
    ListContainersOptions, ListNetworksOptions, ListVolumesOptions, RemoveContainerOptions, RemoveVolumeOptions,
    RestartContainerOptions, StopContainerOptions,
};
use mcp_core::{Context, ToolError};
use schemars::JsonSchema;
use serde::Serialize;

use crate::compose;
use crate::daemons::{Call, Daemons};
use crate::errors::is_missing;
use crate::output::{Rendered, Reply, clip};
use crate::tools::compose_file::{PullFileArgs, load};
use crate::tools::images::{PullArgs, pull_image};

/// The containers of `project` (of every project when None) on the host, within the scope.
pub async fn project_containers(
    daemons: &Daemons,
    call: &Call,
    project: Option<&str>,
) -> Result<Vec<ContainerSummary>, ToolError> {
    let label = match project {
        Some(p) => format!("{}={p}", compose::PROJECT),
        None => compose::PROJECT.to_string(),
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

/// An error naming the service it concerns (a guard's refusal, the engine's answer).
pub fn in_service(service: &str, e: ToolError) -> ToolError {
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
        std::iter::once(format!("{}={}", compose::PROJECT, args.project))
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
    let known: BTreeSet<&str> = all.iter().map(|c| label(c, compose::SERVICE)).collect();
    if let Some(s) = services.iter().find(|s| !known.contains(s.as_str())) {
        return Err(ToolError::invalid_arguments(format!(
            "`services`: project `{project}` has no service `{}` (it has: {})",
            clip(s, 80),
            known.into_iter().collect::<Vec<_>>().join(", ")
        )));
    }
    let mut chosen: Vec<ContainerSummary> = all
        .into_iter()
        .filter(|c| services.is_empty() || services.iter().any(|s| s == label(c, compose::SERVICE)))
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
