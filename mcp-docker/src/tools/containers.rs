//! Reading containers: `list_containers` (a compact `docker ps` table), `inspect_container`
//! (full detail, secrets redacted, health logs trimmed), `container_stats`,
//! `container_top` and `container_diff`.

use std::collections::HashMap;
use std::sync::Arc;

use bollard::models::{ChangeType, ContainerStatsResponse, ContainerSummary};
use bollard::query_parameters::{ListContainersOptions, StatsOptions, TopOptions};
use futures::StreamExt;
use mcp_core::server::ServerBuilder;
use mcp_core::{Context, ToolError, tool_with};
use schemars::JsonSchema;
use serde::Serialize;
use serde_json::Value;

use crate::config::Toolset;
use crate::daemons::Daemons;
use crate::errors::NO_CONTAINER;
use crate::names::check_ref;
use crate::output::{
    NARROW, Page, Prebuilt, Rendered, Reply, ago, clip, human_bytes, inspected, listing, one_line, page, rfc3339,
    short_id, table,
};
use mcp_core::connector::Trim;

pub fn register(builder: ServerBuilder, daemons: &Arc<Daemons>) -> ServerBuilder {
    builder.tools_in(
        Toolset::Containers.name(),
        [
            tool_with("list_containers", daemons, list_containers)
                .title("List containers")
                .description(
                    "Lists containers as a compact `docker ps` table: id, name, image, status, ports, created. \
                     Running ones only unless `all`; filter by `name`, `label`, `status`, `ancestor`. Bounded: a cut \
                     list says so and gives the `nextOffset`. Use inspect_container for full detail.",
                )
                .read_only(),
            tool_with("inspect_container", daemons, inspect_container)
                .title("Inspect a container")
                .description(
                    "Full configuration and state of one container (docker inspect), without empty fields and \
                     storage-driver internals. Environment values whose names look secret are redacted, and \
                     health-check logs are cut to the last result.",
                )
                .read_only(),
            tool_with("container_stats", daemons, container_stats)
                .title("Container resource usage")
                .description(
                    "A one-off snapshot of a running container's CPU %, memory (usage, limit, %), network and block \
                     I/O totals and process count, as `docker stats --no-stream` shows it.",
                )
                .read_only(),
            tool_with("container_top", daemons, container_top)
                .title("Processes in a container")
                .description("The processes running in a container (docker top), as a table; bounded like listings.")
                .read_only(),
            tool_with("container_diff", daemons, container_diff)
                .title("Filesystem changes of a container")
                .description(
                    "Files and directories added (A), changed (C) or deleted (D) in a container's filesystem since it \
                     was created from its image (docker diff); bounded, with `offset` for the rest.",
                )
                .read_only(),
        ],
    )
}

tool_args! {
    read ListContainersArgs {
        /// Include stopped containers (default: running only).
        #[serde(default)]
        pub all: bool,
        /// Only containers whose name contains this.
        pub name: Option<String>,
        /// Only containers with these labels: `key` or `key=value` each (all must match).
        #[serde(default)]
        pub label: Vec<String>,
        /// Only containers in this state: created, restarting, running, removing, paused,
        /// exited or dead (implies `all`).
        pub status: Option<String>,
        /// Only containers created from this image (name, name:tag or id) or its descendants.
        pub ancestor: Option<String>,
        /// Containers to skip: pass the `nextOffset` of a cut list.
        #[serde(default)]
        pub offset: usize,
        /// Most containers to return (at most the server's row limit).
        pub limit: Option<usize>,
    }
}

/// One container as `docker ps` shows it.
#[derive(Debug, Serialize, JsonSchema)]
pub struct ContainerRow {
    /// Short id (12 characters).
    pub id: String,
    pub name: String,
    pub image: String,
    /// created, running, paused, restarting, removing, exited or dead.
    pub state: String,
    /// Human status, e.g. "Up 5 minutes (healthy)".
    pub status: String,
    /// Published ports, e.g. "127.0.0.1:8080->80/tcp".
    pub ports: String,
    /// RFC 3339.
    pub created: String,
}

#[derive(Debug, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ContainerList {
    pub host: String,
    pub containers: Vec<ContainerRow>,
    #[serde(flatten)]
    pub page: Page,
}

const STATES: [&str; 7] = ["created", "restarting", "running", "removing", "paused", "exited", "dead"];

/// Lists containers compactly: the bulk of `docker inspect` (health logs, mounts, network
/// settings) is what made other servers return 100+ KB for a few dozen containers.
pub async fn list_containers(daemons: Arc<Daemons>, _ctx: Context, args: ListContainersArgs) -> Reply<ContainerList> {
    let mut filters: HashMap<String, Vec<String>> = HashMap::new();
    if let Some(name) = &args.name {
        filters.insert("name".into(), vec![name.clone()]);
    }
    let labels: Vec<String> = args.label.iter().cloned().chain(daemons.settings.scope.filters()).collect();
    if !labels.is_empty() {
        filters.insert("label".into(), labels);
    }
    if let Some(status) = &args.status {
        if !STATES.contains(&status.as_str()) {
            return Err(ToolError::invalid_arguments(format!(
                "`status`: `{status}` is not a container state; use one of {}",
                STATES.join(", ")
            )));
        }
        filters.insert("status".into(), vec![status.clone()]);
    }
    if let Some(ancestor) = &args.ancestor {
        check_ref("ancestor", ancestor)?;
        filters.insert("ancestor".into(), vec![ancestor.clone()]);
    }
    let options = ListContainersOptions {
        all: args.all || args.status.is_some(),
        filters: (!filters.is_empty()).then_some(filters),
        ..Default::default()
    };
    let call = daemons.read(args.host.as_deref()).await?;
    let summaries = call
        .docker
        .list_containers(Some(options))
        .await
        .map_err(call.fail("check the filters (an unknown `ancestor` image is an error)"))?;
    let rows: Vec<ContainerRow> = summaries.into_iter().map(row).collect();
    let empty = format!(
        "No containers{} on host `{}`.\n",
        if args.all || args.status.is_some() { "" } else { " running (all=true includes stopped ones)" },
        call.name
    );
    let (containers, text, page) = listing(
        rows,
        daemons.settings.window(args.offset, args.limit),
        ("containers", &["CONTAINER ID", "NAME", "IMAGE", "STATUS", "PORTS", "CREATED"]),
        |r| format!("{} {} {} {} {} {}", r.id, r.name, r.image, r.status, r.ports, r.created),
        |r| {
            vec![r.id.clone(), r.name.clone(), clip(&r.image, 60), r.status.clone(), r.ports.clone(), r.created.clone()]
        },
        Some(empty),
    );
    Ok(Rendered { text, data: ContainerList { host: call.name.clone(), containers, page } })
}

fn row(c: ContainerSummary) -> ContainerRow {
    let name =
        c.names.as_ref().and_then(|n| n.first()).map(|n| n.trim_start_matches('/').to_string()).unwrap_or_default();
    let mut ports: Vec<String> = c
        .ports
        .unwrap_or_default()
        .iter()
        .map(|p| {
            let proto = p.typ.map(|t| t.to_string()).unwrap_or_else(|| "tcp".into());
            match p.public_port {
                Some(public) => {
                    format!("{}:{public}->{}/{proto}", p.ip.as_deref().unwrap_or("0.0.0.0"), p.private_port)
                }
                None => format!("{}/{proto}", p.private_port),
            }
        })
        .collect();
    ports.sort();
    ports.dedup();
    let created = c.created.unwrap_or_default();
    ContainerRow {
        id: short_id(c.id.as_deref().unwrap_or_default()),
        name,
        image: one_line(c.image.as_deref().unwrap_or_default()),
        state: c.state.map(|s| s.to_string()).unwrap_or_default(),
        status: one_line(c.status.as_deref().unwrap_or_default()),
        ports: ports.join(", "),
        created: format!("{} ({})", rfc3339(created), ago(created)),
    }
}

tool_args! {
    read ContainerArgs {
        /// The container's id (or a unique prefix) or name.
        pub container: String,
    }
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct Inspected {
    pub host: String,
    /// Docker's inspect document, with secret env values redacted.
    pub container: Value,
}

/// What an inspect shows of a container: its env redacted; of the health-check results
/// Docker keeps (up to five, each with unbounded output), the last, its output clipped;
/// not the storage driver's paths.
fn container_trim(redact: bool) -> Trim<'static> {
    Trim {
        drop: &["GraphDriver"],
        env: &[&["Config", "Env"]],
        redact,
        last: &[&["State", "Health", "Log"]],
        clip: &[(&["State", "Health", "Log", "Output"], 1024)],
    }
}

pub async fn inspect_container(
    daemons: Arc<Daemons>,
    _ctx: Context,
    args: ContainerArgs,
) -> Result<Prebuilt<Inspected>, ToolError> {
    let mut call = daemons.read_container(args.host.as_deref(), &args.container).await?;
    // Within a scope the guard's inspect is the answer: the engine is asked once.
    let document = match call.info.take() {
        Some(info) => info.document,
        None => {
            let path = format!("/containers/{}/json", call.id);
            call.document(&path, call.docker.inspect_container(&call.id, None), NO_CONTAINER).await?
        }
    };
    inspected(&call.name, "container", &document, &container_trim(!daemons.settings.show_secrets))
}

#[derive(Debug, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Stats {
    pub host: String,
    pub container: String,
    pub name: String,
    pub running: bool,
    /// Percent of one CPU (200 = two CPUs busy), as `docker stats` reports it.
    pub cpu_percent: f64,
    /// Memory in use, without the page cache, in bytes.
    pub memory_usage: u64,
    /// The container's memory limit (the host's memory when unlimited), in bytes.
    pub memory_limit: u64,
    pub memory_percent: f64,
    pub net_rx_bytes: u64,
    pub net_tx_bytes: u64,
    pub block_read_bytes: u64,
    pub block_write_bytes: u64,
    pub pids: u64,
}

pub async fn container_stats(daemons: Arc<Daemons>, _ctx: Context, args: ContainerArgs) -> Reply<Stats> {
    let call = daemons.read_container(args.host.as_deref(), &args.container).await?;
    // stream=false, one_shot=false: the daemon samples twice, so the CPU % has a base.
    let options = StatsOptions { stream: false, one_shot: false };
    let first = call.docker.stats(&call.id, Some(options)).next().await;
    let s = match first {
        Some(Ok(s)) => s,
        Some(Err(e)) => return Err(call.fail(NO_CONTAINER)(e)),
        None => return Err(ToolError::failed(format!("host `{}`: the daemon sent no stats", call.name))),
    };
    let stats = compute(&call.name, &args.container, &s);
    let text = if stats.running {
        table(
            &["CONTAINER", "NAME", "CPU %", "MEM USAGE / LIMIT", "MEM %", "NET I/O", "BLOCK I/O", "PIDS"],
            &[vec![
                stats.container.clone(),
                stats.name.clone(),
                format!("{:.2}%", stats.cpu_percent),
                format!("{} / {}", human_bytes(stats.memory_usage), human_bytes(stats.memory_limit)),
                format!("{:.2}%", stats.memory_percent),
                format!("{} / {}", human_bytes(stats.net_rx_bytes), human_bytes(stats.net_tx_bytes)),
                format!("{} / {}", human_bytes(stats.block_read_bytes), human_bytes(stats.block_write_bytes)),
                stats.pids.to_string(),
            ]],
        )
    } else {
        format!("Container `{}` is not running: it uses no CPU or memory.\n", args.container)
    };
    Ok(Rendered { text, data: stats })
}

fn compute(host: &str, container: &str, s: &ContainerStatsResponse) -> Stats {
    let cpu = s.cpu_stats.as_ref();
    let pre = s.precpu_stats.as_ref();
    let total = |c: Option<&bollard::models::ContainerCpuStats>| {
        c.and_then(|c| c.cpu_usage.as_ref()).and_then(|u| u.total_usage).unwrap_or(0)
    };
    let system = |c: Option<&bollard::models::ContainerCpuStats>| c.and_then(|c| c.system_cpu_usage).unwrap_or(0);
    let cpu_delta = total(cpu).saturating_sub(total(pre)) as f64;
    let system_delta = system(cpu).saturating_sub(system(pre)) as f64;
    let cpus = cpu
        .and_then(|c| c.online_cpus.map(f64::from))
        .or_else(|| cpu.and_then(|c| c.cpu_usage.as_ref()?.percpu_usage.as_ref().map(|p| p.len() as f64)))
        .unwrap_or(1.0);
    let cpu_percent = if system_delta > 0.0 { cpu_delta / system_delta * cpus * 100.0 } else { 0.0 };
    let memory = s.memory_stats.as_ref();
    let usage = memory.and_then(|m| m.usage).unwrap_or(0);
    // Docker's CLI subtracts the inactive page cache (cgroup v1 and v2 name it differently).
    let cache = memory
        .and_then(|m| m.stats.as_ref())
        .and_then(|st| st.get("total_inactive_file").or_else(|| st.get("inactive_file")).copied())
        .filter(|c| *c < usage)
        .unwrap_or(0);
    let memory_usage = usage - cache;
    let memory_limit = memory.and_then(|m| m.limit).unwrap_or(0);
    let (rx, tx) = s.networks.as_ref().map_or((0, 0), |n| {
        n.values().fold((0, 0), |(rx, tx), v| (rx + v.rx_bytes.unwrap_or(0), tx + v.tx_bytes.unwrap_or(0)))
    });
    let (read, write) =
        s.blkio_stats.as_ref().and_then(|b| b.io_service_bytes_recursive.as_ref()).map_or((0, 0), |entries| {
            entries.iter().fold((0, 0), |(r, w), e| match e.op.as_deref().map(str::to_ascii_lowercase).as_deref() {
                Some("read") => (r + e.value.unwrap_or(0), w),
                Some("write") => (r, w + e.value.unwrap_or(0)),
                _ => (r, w),
            })
        });
    let pids = s.pids_stats.as_ref().and_then(|p| p.current).unwrap_or(0);
    Stats {
        host: host.to_string(),
        container: short_id(s.id.as_deref().unwrap_or(container)),
        name: s.name.as_deref().unwrap_or_default().trim_start_matches('/').to_string(),
        // A stopped container reports no pids and no memory at all.
        running: pids > 0 || usage > 0,
        cpu_percent: (cpu_percent * 100.0).round() / 100.0,
        memory_usage,
        memory_limit,
        memory_percent: if memory_limit > 0 {
            (memory_usage as f64 / memory_limit as f64 * 10000.0).round() / 100.0
        } else {
            0.0
        },
        net_rx_bytes: rx,
        net_tx_bytes: tx,
        block_read_bytes: read,
        block_write_bytes: write,
        pids,
    }
}

tool_args! {
    read TopArgs {
        /// The container's id (or a unique prefix) or name.
        pub container: String,
        /// Options for `ps` (default `-ef`), e.g. `aux` or `-o pid,comm,rss`.
        pub ps_args: Option<String>,
        /// Processes to skip: pass the `nextOffset` of a cut list.
        #[serde(default)]
        pub offset: usize,
    }
}

#[derive(Debug, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Processes {
    pub host: String,
    pub container: String,
    /// Column names, as `ps` printed them.
    pub titles: Vec<String>,
    /// One array of cells per process, in column order.
    pub processes: Vec<Vec<String>>,
    #[serde(flatten)]
    pub page: Page,
}

pub async fn container_top(daemons: Arc<Daemons>, _ctx: Context, args: TopArgs) -> Reply<Processes> {
    let ps_args = args.ps_args.clone().unwrap_or_else(|| "-ef".into());
    // `ps` runs on the daemon's host: keep its arguments to options, never paths or shell.
    if ps_args.len() > 100 || !ps_args.chars().all(|c| c.is_ascii_alphanumeric() || " -,=_%".contains(c)) {
        return Err(ToolError::invalid_arguments(format!(
            "`ps_args`: `{}` may hold only letters, digits, spaces and -,=_% (ps options)",
            clip(&ps_args, 80)
        )));
    }
    let call = daemons.read_container(args.host.as_deref(), &args.container).await?;
    let top =
        call.docker.top_processes(&call.id, Some(TopOptions { ps_args })).await.map_err(call.fail(NO_CONTAINER))?;
    let titles = top.titles.unwrap_or_default();
    let headers: Vec<&str> = titles.iter().map(String::as_str).collect();
    let window = daemons.settings.window(args.offset, None);
    let processes = top.processes.unwrap_or_default();
    let (processes, text, page) =
        listing(processes, window, ("processes", &headers), |p| p.join(" "), Clone::clone, None);
    Ok(Rendered {
        text,
        data: Processes { host: call.name.clone(), container: args.container, titles, processes, page },
    })
}

tool_args! {
    read DiffArgs {
        /// The container's id (or a unique prefix) or name.
        pub container: String,
        /// Changes to skip: pass the `nextOffset` of a cut list.
        #[serde(default)]
        pub offset: usize,
    }
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct Change {
    /// A (added), C (changed) or D (deleted).
    pub kind: String,
    pub path: String,
}

#[derive(Debug, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Changes {
    pub host: String,
    pub container: String,
    pub changes: Vec<Change>,
    #[serde(flatten)]
    pub page: Page,
}

pub async fn container_diff(daemons: Arc<Daemons>, _ctx: Context, args: DiffArgs) -> Reply<Changes> {
    let call = daemons.read_container(args.host.as_deref(), &args.container).await?;
    let changes = call.docker.container_changes(&call.id).await.map_err(call.fail(NO_CONTAINER))?.unwrap_or_default();
    let mut changes: Vec<Change> = changes
        .into_iter()
        .map(|c| Change {
            kind: match c.kind {
                ChangeType::_0 => "C",
                ChangeType::_1 => "A",
                ChangeType::_2 => "D",
            }
            .into(),
            path: c.path,
        })
        .collect();
    changes.sort_by(|a, b| a.path.cmp(&b.path));
    let window = daemons.settings.window(args.offset, None);
    let (kept, info) =
        page(changes, window.offset, window.limit, window.max_bytes, |c| format!("{} {}", c.kind, c.path));
    let mut text: String = kept.iter().map(|(_, line)| format!("{line}\n")).collect();
    if kept.is_empty() {
        text = "No filesystem changes.\n".into();
    }
    if let Some(note) = info.note("changes", NARROW) {
        text += &note;
    }
    Ok(Rendered {
        text,
        data: Changes {
            host: call.name.clone(),
            container: args.container,
            changes: kept.into_iter().map(|(c, _)| c).collect(),
            page: info,
        },
    })
}
