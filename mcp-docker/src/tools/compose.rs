//! Compose awareness from container labels (no compose binary needed):
//! `compose_projects` lists the projects on a host, `compose_project` shows one
//! project's services and the state of their containers.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use bollard::models::ContainerSummary;
use bollard::query_parameters::ListContainersOptions;
use mcp_core::server::ServerBuilder;
use mcp_core::{Context, ToolError, tool_with};
use schemars::JsonSchema;
use serde::Serialize;

use crate::config::Toolset;
use crate::daemons::{Call, Daemons};
use crate::output::{Rendered, Reply, clip, one_line, short_id, table};

const PROJECT: &str = "com.docker.compose.project";
const SERVICE: &str = "com.docker.compose.service";
const WORKING_DIR: &str = "com.docker.compose.project.working_dir";
const CONFIG_FILES: &str = "com.docker.compose.project.config_files";

pub fn register(builder: ServerBuilder, daemons: &Arc<Daemons>) -> ServerBuilder {
    builder.tools_in(
        Toolset::Compose.name(),
        [
            tool_with("compose_projects", daemons, compose_projects)
                .title("List compose projects")
                .description(
                    "The Docker Compose projects on a host, found from their containers' labels: name, services, \
                     containers running / total, working directory.",
                )
                .read_only(),
            tool_with("compose_project", daemons, compose_project)
                .title("Show a compose project")
                .description(
                    "One compose project's services and each service's containers with image, state and status, as \
                     `docker compose ps` shows them.",
                )
                .read_only(),
        ],
    )
}

tool_args! {
    read ProjectsArgs {}
}

#[derive(Debug, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Project {
    pub name: String,
    pub services: Vec<String>,
    pub running: usize,
    pub containers: usize,
    pub working_dir: String,
    pub config_files: String,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct Projects {
    pub host: String,
    pub projects: Vec<Project>,
}

async fn project_containers(
    call: &Call,
    scope: &[String],
    project: Option<&str>,
) -> Result<Vec<ContainerSummary>, ToolError> {
    let label = match project {
        Some(p) => format!("{PROJECT}={p}"),
        None => PROJECT.to_string(),
    };
    let labels: Vec<String> = std::iter::once(label).chain(scope.iter().cloned()).collect();
    let filters: HashMap<String, Vec<String>> = [("label".to_string(), labels)].into();
    let options = ListContainersOptions { all: true, filters: Some(filters), ..Default::default() };
    call.docker.list_containers(Some(options)).await.map_err(call.fail(""))
}

fn label<'a>(c: &'a ContainerSummary, key: &str) -> &'a str {
    c.labels.as_ref().and_then(|l| l.get(key)).map_or("", String::as_str)
}

fn is_running(c: &ContainerSummary) -> bool {
    c.state.is_some_and(|s| s.to_string() == "running")
}

pub async fn compose_projects(daemons: Arc<Daemons>, _ctx: Context, args: ProjectsArgs) -> Reply<Projects> {
    let call = daemons.read(args.host.as_deref()).await?;
    let containers = project_containers(&call, &daemons.settings.scope.filters(), None).await?;
    let mut by_project: BTreeMap<String, Vec<&ContainerSummary>> = BTreeMap::new();
    for c in &containers {
        by_project.entry(label(c, PROJECT).to_string()).or_default().push(c);
    }
    let projects: Vec<Project> = by_project
        .into_iter()
        .take(daemons.settings.max_rows)
        .map(|(name, cs)| {
            let mut services: Vec<String> = cs.iter().map(|c| label(c, SERVICE).to_string()).collect();
            services.sort();
            services.dedup();
            Project {
                name,
                services,
                running: cs.iter().filter(|c| is_running(c)).count(),
                containers: cs.len(),
                working_dir: cs.first().map(|c| label(c, WORKING_DIR).to_string()).unwrap_or_default(),
                config_files: cs.first().map(|c| label(c, CONFIG_FILES).to_string()).unwrap_or_default(),
            }
        })
        .collect();
    let cells: Vec<Vec<String>> = projects
        .iter()
        .map(|p| {
            vec![
                one_line(&p.name),
                clip(&one_line(&p.services.join(",")), 80),
                format!("{}/{}", p.running, p.containers),
                one_line(&p.working_dir),
            ]
        })
        .collect();
    let text = if cells.is_empty() {
        format!("No compose projects on host `{}`.\n", call.name)
    } else {
        table(&["PROJECT", "SERVICES", "RUNNING", "WORKING DIR"], &cells)
    };
    Ok(Rendered { text, data: Projects { host: call.name.clone(), projects } })
}

tool_args! {
    read ProjectArgs {
        /// The project's name (see compose_projects).
        pub project: String,
    }
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct ServiceContainer {
    pub service: String,
    /// Short id.
    pub id: String,
    pub name: String,
    pub image: String,
    pub state: String,
    pub status: String,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct ProjectDetail {
    pub host: String,
    pub project: String,
    pub containers: Vec<ServiceContainer>,
}

pub async fn compose_project(daemons: Arc<Daemons>, _ctx: Context, args: ProjectArgs) -> Reply<ProjectDetail> {
    if args.project.is_empty() || args.project.len() > 128 || args.project.contains(['=', ',']) {
        return Err(ToolError::invalid_arguments("`project`: a compose project name (see compose_projects)"));
    }
    let call = daemons.read(args.host.as_deref()).await?;
    let containers = project_containers(&call, &daemons.settings.scope.filters(), Some(&args.project)).await?;
    if containers.is_empty() {
        return Err(ToolError::not_found(format!(
            "host `{}`: no containers belong to compose project `{}`; compose_projects lists the projects",
            call.name, args.project
        )));
    }
    let mut rows: Vec<ServiceContainer> = containers
        .iter()
        .take(daemons.settings.max_rows)
        .map(|c| ServiceContainer {
            service: label(c, SERVICE).to_string(),
            id: short_id(c.id.as_deref().unwrap_or_default()),
            name: c
                .names
                .as_ref()
                .and_then(|n| n.first())
                .map(|n| n.trim_start_matches('/').to_string())
                .unwrap_or_default(),
            image: one_line(c.image.as_deref().unwrap_or_default()),
            state: c.state.map(|s| s.to_string()).unwrap_or_default(),
            status: one_line(c.status.as_deref().unwrap_or_default()),
        })
        .collect();
    rows.sort_by(|a, b| (&a.service, &a.name).cmp(&(&b.service, &b.name)));
    let cells: Vec<Vec<String>> =
        rows.iter().map(|r| vec![r.service.clone(), r.name.clone(), clip(&r.image, 60), r.status.clone()]).collect();
    let text = table(&["SERVICE", "NAME", "IMAGE", "STATUS"], &cells);
    Ok(Rendered { text, data: ProjectDetail { host: call.name.clone(), project: args.project, containers: rows } })
}
