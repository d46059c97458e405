//! Compose awareness from container labels (no compose binary needed):
//! `compose_projects` lists the projects on a host, `compose_project` shows one
//! project's services and the state of their containers.

use std::collections::BTreeMap;
use std::sync::Arc;

use bollard::models::ContainerSummary;
use bollard::query_parameters::LogsOptions;
use mcp_core::connector::bounded::{Next, cut_note};
use mcp_core::server::ServerBuilder;
use mcp_core::{Context, ToolError, tool_with};
use schemars::JsonSchema;
use serde::Serialize;

use crate::compose::{CONFIG_FILES, PROJECT, SERVICE, WORKING_DIR};
use crate::config::Toolset;
use crate::daemons::Daemons;
use crate::output::{Rendered, Reply, clip, one_line, short_id, table};
use crate::tools::compose_ops::{self, label, project_containers};
use crate::tools::compose_up;
use crate::tools::logs::{Tail, parse_time};

pub fn register(builder: ServerBuilder, daemons: &Arc<Daemons>) -> ServerBuilder {
    let file = "The Compose file is `file` (a path under --allow-bind-path, canonicalized) or `content` (inline YAML), \
                with `${VAR}` from the project's `.env` and `env`; keys this server does not implement are errors.";
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
            tool_with("compose_config", daemons, compose_up::compose_config)
                .title("Resolve a Compose file")
                .description(format!(
                    "Reads, interpolates and validates a Compose file without running anything (docker compose \
                     config): the project name, services in start order with their resolved settings (secret \
                     environment values redacted), networks, volumes; every service is judged by the container \
                     guards. {file}"
                ))
                .read_only(),
            tool_with("compose_logs", daemons, compose_logs)
                .title("Compose project logs")
                .description(
                    "The logs of a compose project's containers merged by time, each line prefixed by its service \
                     (docker compose logs): `tail` lines per container, `since`, `services`; the newest lines are \
                     kept within the server's line and byte budget.",
                )
                .read_only(),
            tool_with("compose_up", daemons, compose_up::compose_up)
                .title("Bring a compose project up")
                .description(format!(
                    "Creates and starts a Compose project natively (no compose binary): networks, volumes, then \
                     containers in dependency order, waiting for `service_healthy` / \
                     `service_completed_successfully` dependencies within `timeout_secs`. Every service passes \
                     create_container's guards before anything is created. Running containers with the same \
                     configuration are left as they are; a changed service is refused (compose_down first); images \
                     are not pulled (compose_pull). Containers carry the com.docker.compose.* labels. {file}"
                ))
                .additive()
                .idempotent(),
            tool_with("compose_pull", daemons, compose_ops::compose_pull)
                .title("Pull a compose project's images")
                .description(format!("Pulls every enabled service's image, with progress. {file}"))
                .additive()
                .idempotent()
                .open_world(true),
            tool_with("compose_restart", daemons, compose_ops::compose_restart)
                .title("Restart a compose project")
                .description(
                    "Restarts a compose project's containers (or those of `services`), as restart_container does \
                     (destructive like it: running processes are stopped). Never this server's own container.",
                )
                .destructive(),
            tool_with("compose_down", daemons, compose_ops::compose_down)
                .title("Take a compose project down")
                .description(
                    "Stops and removes a compose project's containers and networks (found by the \
                     com.docker.compose.project label, within the scope), and with `volumes` its volumes. Never \
                     this server's own container.",
                )
                .destructive(),
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

fn is_running(c: &ContainerSummary) -> bool {
    c.state.is_some_and(|s| s.to_string() == "running")
}

pub async fn compose_projects(daemons: Arc<Daemons>, _ctx: Context, args: ProjectsArgs) -> Reply<Projects> {
    let call = daemons.read(args.host.as_deref()).await?;
    let containers = project_containers(&daemons, &call, None).await?;
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
    compose_ops::check_project_name(&args.project)?;
    let call = daemons.read(args.host.as_deref()).await?;
    let containers = project_containers(&daemons, &call, Some(&args.project)).await?;
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

tool_args! {
    read ComposeLogsArgs {
        /// The project's name (see compose_projects).
        pub project: String,
        /// Only these services (default: all).
        #[serde(default)]
        pub services: Vec<String>,
        /// Lines per container, newest (default 100, at most the server's --max-log-lines).
        pub tail: Option<usize>,
        /// Only lines after this: RFC 3339, Unix seconds, or a duration ago (`10m`).
        pub since: Option<String>,
        /// Prefix each line with its time (default true).
        #[serde(default = "crate::tools::logs::yes")]
        pub timestamps: bool,
    }
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct ComposeLogs {
    pub host: String,
    pub project: String,
    /// Lines returned (in the text content, oldest first).
    pub lines: usize,
    /// Older lines were left out (beyond `tail` or the server's budget).
    pub truncated: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

pub async fn compose_logs(daemons: Arc<Daemons>, _ctx: Context, args: ComposeLogsArgs) -> Reply<ComposeLogs> {
    compose_ops::check_project_name(&args.project)?;
    let settings = &daemons.settings;
    let tail = args.tail.unwrap_or(100);
    if tail == 0 || tail > settings.max_log_lines {
        return Err(ToolError::invalid_arguments(format!(
            "`tail`: between 1 and {} lines per container (the server's --max-log-lines)",
            settings.max_log_lines
        )));
    }
    let since = args.since.as_deref().map(|s| parse_time("since", s, chrono::Utc::now().timestamp())).transpose()?;
    let call = daemons.read(args.host.as_deref()).await?;
    let containers = compose_ops::chosen(&daemons, &call, &args.project, &args.services).await?;
    let width = containers.iter().map(|c| label(c, SERVICE).len()).max().unwrap_or(0);
    // (time, order read, line): merged by time, each container's own order kept.
    let mut merged: Vec<(i64, usize, String)> = Vec::new();
    let mut older = false;
    for c in &containers {
        let id = c.id.as_deref().unwrap_or_default();
        let options = LogsOptions {
            stdout: true,
            stderr: true,
            since: since.unwrap_or(0),
            timestamps: true,
            tail: (tail + 1).to_string(),
            ..Default::default()
        };
        let mut buf = Tail::new(tail + 1, settings.max_result_bytes);
        buf.read_all(call.docker.logs(id, Some(options))).await.map_err(call.fail(""))?;
        older |= buf.lines.len() > tail || buf.dropped > 0;
        let skip = buf.lines.len().saturating_sub(tail);
        let service = format!("{:width$}", label(c, SERVICE));
        for (_, line) in buf.lines.into_iter().skip(skip) {
            let (stamp, text) = line.split_once(' ').unwrap_or((line.as_str(), ""));
            let at =
                chrono::DateTime::parse_from_rfc3339(stamp).ok().and_then(|t| t.timestamp_nanos_opt()).unwrap_or(0);
            let shown =
                if args.timestamps { format!("{service} | {stamp} {text}") } else { format!("{service} | {text}") };
            merged.push((at, merged.len(), shown));
        }
    }
    merged.sort();
    // The newest lines within the line and byte budget.
    let (mut kept, mut bytes) = (0, 0);
    for (_, _, line) in merged.iter().rev() {
        if kept == settings.max_log_lines || bytes + line.len() + 1 > settings.max_result_bytes {
            break;
        }
        kept += 1;
        bytes += line.len() + 1;
    }
    let cut = merged.len() - kept;
    let note = (cut > 0 || older).then(|| {
        cut_note(
            format!("the newest {kept} merged lines"),
            Next::Narrow,
            "narrow with `services`, a smaller `tail` or `since`",
        )
    });
    let mut text = note.as_ref().map(|n| format!("[{n}]\n")).unwrap_or_default();
    for (_, _, line) in &merged[cut..] {
        text += line;
        text.push('\n');
    }
    if kept == 0 {
        text += "(no log lines)\n";
    }
    Ok(Rendered {
        text,
        data: ComposeLogs {
            host: call.name.clone(),
            project: args.project,
            lines: kept,
            truncated: note.is_some(),
            note,
        },
    })
}
