//! The daemon itself: `system_info` (version, resources, counts, warnings), `disk_usage`
//! (what images, containers and volumes hold, and what could be reclaimed) and
//! `recent_events` (a bounded window of the daemon's event log).

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use bollard::query_parameters::{EventsOptions, ListContainersOptions, ListImagesOptions, ListVolumesOptions};
use futures::StreamExt;
use mcp_core::server::ServerBuilder;
use mcp_core::{Context, ToolError, tool_with};
use schemars::JsonSchema;
use serde::Serialize;

use crate::config::Toolset;
use crate::daemons::Daemons;
use crate::names::check_ref;
use crate::output::{
    Next, Rendered, Reply, clip, cut_note, human_bytes, human_size, one_line, rfc3339, short_id, table,
};

pub fn register(builder: ServerBuilder, daemons: &Arc<Daemons>) -> ServerBuilder {
    builder.tools_in(
        Toolset::System.name(),
        [
            tool_with("system_info", daemons, system_info)
                .title("Docker daemon information")
                .description(
                    "The daemon's version and API version, OS, kernel, CPUs and memory, storage and cgroup drivers, \
                     container and image counts, and its warnings (docker info + docker version, summarized).",
                )
                .read_only(),
            tool_with("disk_usage", daemons, disk_usage)
                .title("Docker disk usage")
                .description(
                    "What images, containers and volumes hold on the daemon and how much could be reclaimed \
                     (as docker system df): counts, sizes, unused images, stopped containers, dangling volumes.",
                )
                .read_only(),
            tool_with("recent_events", daemons, recent_events)
                .title("Recent daemon events")
                .description(
                    "Events in a past time window (default the last 10 minutes, at most 24 hours): containers \
                     created, started, died (with exit codes), OOM kills, health changes, image pulls... Filter by \
                     `type`, `container`, `event`. Newest kept when the window holds more than the row limit.",
                )
                .read_only(),
        ],
    )
}

tool_args! {
    read HostArgs {}
}

#[derive(Debug, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Info {
    pub host: String,
    pub name: String,
    /// `Docker` or `Podman` (its Docker-compatible API), from the version's components.
    pub engine: String,
    pub server_version: String,
    pub api_version: String,
    pub os: String,
    pub kernel: String,
    pub architecture: String,
    pub cpus: i64,
    pub memory_bytes: i64,
    pub storage_driver: String,
    pub cgroup: String,
    pub containers: i64,
    pub running: i64,
    pub paused: i64,
    pub stopped: i64,
    pub images: i64,
    pub security_options: Vec<String>,
    pub warnings: Vec<String>,
}

pub async fn system_info(daemons: Arc<Daemons>, _ctx: Context, args: HostArgs) -> Reply<Info> {
    let call = daemons.read(args.host.as_deref()).await?;
    // Two requests the answer needs, sent together: one engine round trip, not two.
    let (info, version) = futures::try_join!(call.docker.info(), call.docker.version()).map_err(call.fail(""))?;
    // Podman answers the Docker API too; its version names a "Podman Engine" component.
    let podman = version.components.iter().flatten().any(|c| c.name.to_lowercase().contains("podman"));
    let out = Info {
        host: call.name.clone(),
        name: info.name.unwrap_or_default(),
        engine: if podman { "Podman" } else { "Docker" }.to_string(),
        server_version: version.version.or(info.server_version).unwrap_or_default(),
        api_version: version.api_version.unwrap_or_default(),
        os: info.operating_system.unwrap_or_default(),
        kernel: info.kernel_version.unwrap_or_default(),
        architecture: info.architecture.unwrap_or_default(),
        cpus: info.ncpu.unwrap_or(0),
        memory_bytes: info.mem_total.unwrap_or(0),
        storage_driver: info.driver.unwrap_or_default(),
        cgroup: format!(
            "{} v{}",
            info.cgroup_driver.map(|d| d.to_string()).unwrap_or_default(),
            info.cgroup_version.map(|v| v.to_string()).unwrap_or_default()
        ),
        containers: info.containers.unwrap_or(0),
        running: info.containers_running.unwrap_or(0),
        paused: info.containers_paused.unwrap_or(0),
        stopped: info.containers_stopped.unwrap_or(0),
        images: info.images.unwrap_or(0),
        security_options: info.security_options.unwrap_or_default(),
        warnings: info.warnings.unwrap_or_default(),
    };
    let mut text = format!(
        "Host `{}`: {} — {} {} (API {}), {} {}, kernel {}\nCPUs {}, memory {}, storage {}, cgroup {}\n\
         Containers {} ({} running, {} paused, {} stopped), images {}\n",
        out.host,
        out.name,
        out.engine,
        out.server_version,
        out.api_version,
        out.os,
        out.architecture,
        out.kernel,
        out.cpus,
        human_bytes(out.memory_bytes.max(0) as u64),
        out.storage_driver,
        out.cgroup,
        out.containers,
        out.running,
        out.paused,
        out.stopped,
        out.images
    );
    if !out.security_options.is_empty() {
        text += &format!("Security: {}\n", out.security_options.join(", "));
    }
    for w in &out.warnings {
        text += &format!("Warning: {}\n", one_line(w));
    }
    Ok(Rendered { text, data: out })
}

#[derive(Debug, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Usage {
    /// images, containers or volumes.
    pub kind: String,
    pub total: usize,
    /// In use: images with a container, running containers, volumes mounted somewhere.
    pub active: usize,
    /// Bytes (unknown for volumes: the Engine reports their size only in `system df`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub size: Option<i64>,
    /// What `prune` would free: unused images, stopped containers' layers.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reclaimable: Option<i64>,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct DiskUsage {
    pub host: String,
    pub usage: Vec<Usage>,
}

/// Computed from the image, container and volume lists rather than `/system/df`, whose
/// shape differs between Engine API versions (and bollard reads only the newest).
pub async fn disk_usage(daemons: Arc<Daemons>, _ctx: Context, args: HostArgs) -> Reply<DiskUsage> {
    let call = daemons.read(args.host.as_deref()).await?;
    let scope =
        daemons.settings.scope.is_set().then(|| [("label".to_string(), daemons.settings.scope.filters())].into());
    // Three independent lists, sent together: the slowest one's time, not their sum.
    let (containers, images, volumes) = futures::try_join!(
        call.docker.list_containers(Some(ListContainersOptions {
            all: true,
            size: true,
            filters: scope,
            ..Default::default()
        })),
        call.docker.list_images(Some(ListImagesOptions { all: false, ..Default::default() })),
        call.docker.list_volumes(None::<ListVolumesOptions>),
    )
    .map_err(call.fail(""))?;
    let volumes = volumes.volumes.unwrap_or_default();
    let used_images: HashSet<&str> = containers.iter().filter_map(|c| c.image_id.as_deref()).collect();
    let image_size: i64 = images.iter().map(|i| i.size).sum();
    let unused_size: i64 = images.iter().filter(|i| !used_images.contains(i.id.as_str())).map(|i| i.size).sum();
    let running = containers.iter().filter(|c| c.state.is_some_and(|s| s.to_string() == "running")).count();
    let rw: i64 = containers.iter().map(|c| c.size_rw.unwrap_or(0)).sum();
    let stopped_rw: i64 = containers
        .iter()
        .filter(|c| c.state.is_none_or(|s| s.to_string() != "running"))
        .map(|c| c.size_rw.unwrap_or(0))
        .sum();
    let mounted: HashSet<&str> =
        containers.iter().flat_map(|c| c.mounts.iter().flatten()).filter_map(|m| m.name.as_deref()).collect();
    let usage = vec![
        Usage {
            kind: "images".into(),
            total: images.len(),
            active: images.iter().filter(|i| used_images.contains(i.id.as_str())).count(),
            size: Some(image_size),
            reclaimable: Some(unused_size),
        },
        Usage {
            kind: "containers".into(),
            total: containers.len(),
            active: running,
            size: Some(rw),
            reclaimable: Some(stopped_rw),
        },
        Usage {
            kind: "volumes".into(),
            total: volumes.len(),
            active: volumes.iter().filter(|v| mounted.contains(v.name.as_str())).count(),
            size: None,
            reclaimable: None,
        },
    ];
    let cells: Vec<Vec<String>> = usage
        .iter()
        .map(|u| {
            vec![
                u.kind.clone(),
                u.total.to_string(),
                u.active.to_string(),
                u.size.map_or("-".into(), human_size),
                u.reclaimable.map_or("-".into(), human_size),
            ]
        })
        .collect();
    let mut text = table(&["TYPE", "TOTAL", "ACTIVE", "SIZE", "RECLAIMABLE"], &cells);
    text += "Image sizes count shared layers once per image; container size is the writable layer.\n";
    Ok(Rendered { text, data: DiskUsage { host: call.name.clone(), usage } })
}

tool_args! {
    read EventsArgs {
        /// How far back: a duration like `30s`, `10m`, `2h` (default `10m`, at most `24h`).
        pub since: Option<String>,
        /// Only this object type: container, image, volume, network, daemon, plugin.
        #[serde(rename = "type")]
        pub kind: Option<String>,
        /// Only events of this container (id or name).
        pub container: Option<String>,
        /// Only these actions, e.g. `die`, `oom`, `start`, `health_status`.
        #[serde(default)]
        pub event: Vec<String>,
    }
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct Event {
    /// RFC 3339.
    pub time: String,
    #[serde(rename = "type")]
    pub kind: String,
    pub action: String,
    /// Short id, or the name for images, volumes and networks.
    pub id: String,
    /// The object's name when it has one (containers), and notable attributes
    /// (`exitCode`, image).
    pub detail: String,
}

#[derive(Debug, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Events {
    pub host: String,
    pub events: Vec<Event>,
    /// Events in the window, before the row limit.
    pub total: usize,
    pub truncated: bool,
}

const MAX_WINDOW_SECS: i64 = 24 * 3600;

pub async fn recent_events(daemons: Arc<Daemons>, _ctx: Context, args: EventsArgs) -> Reply<Events> {
    let window = parse_window(args.since.as_deref().unwrap_or("10m"))?;
    let mut filters: HashMap<String, Vec<String>> = HashMap::new();
    if let Some(kind) = &args.kind {
        const KINDS: [&str; 8] = ["container", "image", "volume", "network", "daemon", "plugin", "service", "node"];
        if !KINDS.contains(&kind.as_str()) {
            return Err(ToolError::invalid_arguments(format!("`type`: `{kind}`: one of {}", KINDS.join(", "))));
        }
        filters.insert("type".into(), vec![kind.clone()]);
    }
    if let Some(container) = &args.container {
        check_ref("container", container)?;
        filters.insert("container".into(), vec![container.clone()]);
    }
    if daemons.settings.scope.is_set() {
        // Events carry their object's labels: only those of in-scope objects are shown.
        filters.insert("label".into(), daemons.settings.scope.filters());
    }
    if !args.event.is_empty() {
        filters.insert("event".into(), args.event.clone());
    }
    let call = daemons.read(args.host.as_deref()).await?;
    let now = chrono::Utc::now();
    let (secs, nanos) = (now.timestamp(), now.timestamp_subsec_nanos());
    // With `until` the daemon replays the window and ends the stream: nothing waits.
    // Nanoseconds matter: whole seconds would drop the events of the current second.
    let options = EventsOptions {
        since: Some(format!("{}.{nanos:09}", secs - window)),
        until: Some(format!("{secs}.{nanos:09}")),
        filters: (!filters.is_empty()).then_some(filters),
    };
    let max = daemons.settings.max_rows;
    let mut kept: std::collections::VecDeque<Event> = std::collections::VecDeque::new();
    let mut total = 0;
    let mut stream = call.docker.events(Some(options));
    while let Some(item) = stream.next().await {
        let e = item.map_err(call.fail(""))?;
        total += 1;
        let actor = e.actor.unwrap_or_default();
        let attributes = actor.attributes.unwrap_or_default();
        let kind = e.typ.map(|t| t.to_string()).unwrap_or_default();
        let raw_id = actor.id.unwrap_or_default();
        let id = if raw_id.len() == 64 { short_id(&raw_id) } else { raw_id };
        let mut detail = Vec::new();
        if let Some(name) = attributes.get("name") {
            detail.push(format!("name={name}"));
        }
        for key in ["exitCode", "image", "signal", "container"] {
            if let Some(v) = attributes.get(key) {
                detail.push(format!("{key}={}", clip(v, 80)));
            }
        }
        kept.push_back(Event {
            time: rfc3339(e.time.unwrap_or(0)),
            kind,
            action: one_line(&e.action.unwrap_or_default()),
            id,
            detail: one_line(&detail.join(" ")),
        });
        if kept.len() > max {
            kept.pop_front();
        }
    }
    let events: Vec<Event> = kept.into_iter().collect();
    let truncated = total > events.len();
    let cells: Vec<Vec<String>> = events
        .iter()
        .map(|e| vec![e.time.clone(), e.kind.clone(), e.action.clone(), e.id.clone(), e.detail.clone()])
        .collect();
    let mut text = if cells.is_empty() {
        format!("No events on host `{}` in the window.\n", call.name)
    } else {
        table(&["TIME", "TYPE", "ACTION", "ID", "DETAIL"], &cells)
    };
    if truncated {
        let shown = format!("the newest {} of {total} events", events.len());
        text += &cut_note(shown, Next::Narrow, "narrow with `since`, `type`, `container` or `event`");
        text.push('\n');
    }
    Ok(Rendered { text, data: Events { host: call.name.clone(), events, total, truncated } })
}

fn parse_window(spec: &str) -> Result<i64, ToolError> {
    let (number, unit) = spec.trim().split_at(spec.trim().len().saturating_sub(1));
    let scale = match unit {
        "s" => 1,
        "m" => 60,
        "h" => 3600,
        _ => 0,
    };
    number.parse::<i64>().ok().map(|n| n.saturating_mul(scale)).filter(|s| *s > 0 && *s <= MAX_WINDOW_SECS).ok_or_else(
        || {
            ToolError::invalid_arguments(format!(
                "`since`: `{}`: a duration like 30s, 10m or 2h, at most 24h",
                clip(spec, 40)
            ))
        },
    )
}
