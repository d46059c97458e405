//! Networks and volumes: list and inspect (always), create, remove, prune, and
//! connect/disconnect a container (only with --allow-write). What is created carries
//! the provenance labels.

use std::collections::HashMap;
use std::sync::Arc;

use bollard::models::{NetworkConnectRequest, NetworkCreateRequest, NetworkDisconnectRequest, VolumeCreateRequest};
use bollard::query_parameters::{
    InspectNetworkOptions, ListNetworksOptions, ListVolumesOptions, PruneContainersOptions, PruneImagesOptions,
    PruneNetworksOptions, PruneVolumesOptions, RemoveVolumeOptions,
};
use mcp_core::server::ServerBuilder;
use mcp_core::{Context, ToolError, tool_with};
use schemars::JsonSchema;
use serde::Serialize;
use serde_json::Value;

use super::create::provenance;
use crate::config::Toolset;
use crate::daemons::Daemons;
use crate::errors::{NO_NETWORK, NO_VOLUME};
use crate::names::{check_new_name, check_ref};
use crate::output::{Page, Prebuilt, Rendered, Reply, clip, human_size, inspected, listing, one_line, said, short_id};
use mcp_core::connector::Trim;

const NO_ATTACHMENT: &str = "Check the network (list_networks) and the container (list_containers)";

pub fn register(builder: ServerBuilder, daemons: &Arc<Daemons>) -> ServerBuilder {
    builder.tools_in(
        Toolset::Networks.name(),
        [
            tool_with("list_networks", daemons, list_networks)
                .title("List networks")
                .description(
                    "Networks as a table: id, name, driver, scope, internal. Filter by `name`, `label`, `driver`.",
                )
                .read_only(),
            tool_with("inspect_network", daemons, inspect_network)
                .title("Inspect a network")
                .description("One network's configuration (IPAM, options, labels) and the containers attached to it.")
                .read_only(),
            tool_with("list_volumes", daemons, list_volumes)
                .title("List volumes")
                .description(
                    "Volumes as a table: name, driver, created, labels. `dangling` lists those no container uses.",
                )
                .read_only(),
            tool_with("inspect_volume", daemons, inspect_volume)
                .title("Inspect a volume")
                .description("One volume's driver, mount point on the host, options and labels.")
                .read_only(),
            tool_with("create_network", daemons, create_network)
                .title("Create a network")
                .description(
                    "Creates a bridge (default) or overlay network; `internal` cuts it off from outside. Labelled \
                     mcp-docker.managed=true.",
                )
                .additive(),
            tool_with("remove_network", daemons, remove_network)
                .title("Remove a network")
                .description("Removes a network no container is attached to.")
                .destructive(),
            tool_with("connect_network", daemons, connect_network)
                .title("Connect a container to a network")
                .description("Attaches a container to a network (docker network connect), optionally with DNS aliases.")
                .additive()
                .idempotent(),
            tool_with("disconnect_network", daemons, disconnect_network)
                .title("Disconnect a container from a network")
                .description("Detaches a container from a network (docker network disconnect).")
                .destructive()
                .idempotent(),
            tool_with("create_volume", daemons, create_volume)
                .title("Create a volume")
                .description("Creates a named volume (driver `local` by default). Labelled mcp-docker.managed=true.")
                .additive()
                .idempotent(),
            tool_with("remove_volume", daemons, remove_volume)
                .title("Remove a volume")
                .description("Removes a volume and its data; refused while a container uses it.")
                .destructive(),
            tool_with("prune", daemons, prune)
                .title("Prune unused objects")
                .description(
                    "Removes, optionally only those with a `label`: stopped containers (`what: containers`), dangling \
                     images (`images`; untagged layers no tag points to), networks no container uses (`networks`), or \
                     volumes no container uses (`volumes`: their data is lost). Returns what was removed and the \
                     space reclaimed.",
                )
                .destructive(),
        ],
    )
}

tool_args! {
    read ListArgs {
        /// Only those whose name contains this.
        pub name: Option<String>,
        /// Only those with these labels: `key` or `key=value` each.
        #[serde(default)]
        pub label: Vec<String>,
        /// Networks: only this driver (bridge, host, null, overlay, ...).
        pub driver: Option<String>,
        /// Volumes: only those no container uses (true) or only used ones (false).
        pub dangling: Option<bool>,
        /// Rows to skip: pass the `nextOffset` of a cut list.
        #[serde(default)]
        pub offset: usize,
    }
}

fn filters(args: &ListArgs) -> Option<HashMap<String, Vec<String>>> {
    let mut f: HashMap<String, Vec<String>> = HashMap::new();
    if let Some(name) = &args.name {
        f.insert("name".into(), vec![name.clone()]);
    }
    if !args.label.is_empty() {
        f.insert("label".into(), args.label.clone());
    }
    if let Some(driver) = &args.driver {
        f.insert("driver".into(), vec![driver.clone()]);
    }
    if let Some(dangling) = args.dangling {
        f.insert("dangling".into(), vec![dangling.to_string()]);
    }
    (!f.is_empty()).then_some(f)
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct NetworkRow {
    /// Short id.
    pub id: String,
    pub name: String,
    pub driver: String,
    pub scope: String,
    pub internal: bool,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct NetworkList {
    pub host: String,
    pub networks: Vec<NetworkRow>,
    #[serde(flatten)]
    pub page: Page,
}

pub async fn list_networks(daemons: Arc<Daemons>, _ctx: Context, args: ListArgs) -> Reply<NetworkList> {
    if args.dangling.is_some() {
        return Err(ToolError::invalid_arguments("`dangling` applies to volumes; for networks use `prune`"));
    }
    let call = daemons.read(args.host.as_deref()).await?;
    let networks = call
        .docker
        .list_networks(Some(ListNetworksOptions { filters: filters(&args) }))
        .await
        .map_err(call.fail(""))?;
    let mut rows: Vec<NetworkRow> = networks
        .into_iter()
        .map(|n| NetworkRow {
            id: short_id(n.id.as_deref().unwrap_or_default()),
            name: one_line(n.name.as_deref().unwrap_or_default()),
            driver: n.driver.unwrap_or_default(),
            scope: n.scope.unwrap_or_default(),
            internal: n.internal.unwrap_or(false),
        })
        .collect();
    rows.sort_by(|a, b| a.name.cmp(&b.name));
    let (networks, text, page) = listing(
        rows,
        daemons.settings.window(args.offset, None),
        ("networks", &["NETWORK ID", "NAME", "DRIVER", "SCOPE", "INTERNAL"]),
        |r| format!("{} {} {} {}", r.id, r.name, r.driver, r.scope),
        |r| vec![r.id.clone(), r.name.clone(), r.driver.clone(), r.scope.clone(), r.internal.to_string()],
        None,
    );
    Ok(Rendered { text, data: NetworkList { host: call.name.clone(), networks, page } })
}

tool_args! {
    @"Which configured Docker host (default: the first; required for changes when\nseveral are configured)." NamedArgs {
        /// The network's or volume's name (or id).
        pub name: String,
    }
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct Inspected {
    pub host: String,
    /// Docker's inspect document.
    pub detail: Value,
}

pub async fn inspect_network(daemons: Arc<Daemons>, _ctx: Context, args: NamedArgs) -> Detail {
    check_ref("name", &args.name)?;
    let call = daemons.read(args.host.as_deref()).await?;
    let network =
        call.docker.inspect_network(&args.name, None::<InspectNetworkOptions>).await.map_err(call.fail(NO_NETWORK))?;
    detail(&call.name, &network)
}

/// An inspect tool's answer: the engine's document as text and, not copied again, as the
/// structured `detail`.
type Detail = Result<Prebuilt<Inspected>, ToolError>;

fn detail(host: &str, document: &impl Serialize) -> Detail {
    inspected(host, "detail", &serde_json::to_vec(document)?, &Trim::default())
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct VolumeRow {
    pub name: String,
    pub driver: String,
    /// RFC 3339, when the driver reports it.
    pub created: String,
    /// `key=value` pairs, sorted.
    pub labels: String,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct VolumeList {
    pub host: String,
    pub volumes: Vec<VolumeRow>,
    #[serde(flatten)]
    pub page: Page,
}

pub async fn list_volumes(daemons: Arc<Daemons>, _ctx: Context, args: ListArgs) -> Reply<VolumeList> {
    let call = daemons.read(args.host.as_deref()).await?;
    let mut filters = filters(&args);
    if daemons.settings.scope.is_set() {
        // Volumes carry the scope labels like containers: only those in scope are seen.
        filters
            .get_or_insert_with(HashMap::new)
            .entry("label".into())
            .or_default()
            .extend(daemons.settings.scope.filters());
    }
    let list = call.docker.list_volumes(Some(ListVolumesOptions { filters })).await.map_err(call.fail(""))?;
    let mut rows: Vec<VolumeRow> = list
        .volumes
        .unwrap_or_default()
        .into_iter()
        .map(|v| {
            let mut labels: Vec<String> = v.labels.iter().map(|(k, v)| format!("{k}={v}")).collect();
            labels.sort();
            VolumeRow {
                name: one_line(&v.name),
                driver: v.driver,
                created: v.created_at.map(|t| t.to_string()).unwrap_or_default(),
                labels: one_line(&labels.join(",")),
            }
        })
        .collect();
    rows.sort_by(|a, b| a.name.cmp(&b.name));
    let (volumes, text, page) = listing(
        rows,
        daemons.settings.window(args.offset, None),
        ("volumes", &["VOLUME NAME", "DRIVER", "CREATED", "LABELS"]),
        |r| format!("{} {} {} {}", r.name, r.driver, r.created, r.labels),
        |r| vec![r.name.clone(), r.driver.clone(), r.created.clone(), clip(&r.labels, 80)],
        Some(format!("No volumes match on host `{}`.\n", call.name)),
    );
    Ok(Rendered { text, data: VolumeList { host: call.name.clone(), volumes, page } })
}

pub async fn inspect_volume(daemons: Arc<Daemons>, _ctx: Context, args: NamedArgs) -> Detail {
    check_ref("name", &args.name)?;
    let call = daemons.read(args.host.as_deref()).await?;
    // Within a scope the guard's inspect is the answer: the engine is asked once.
    let volume = match daemons.settings.scope.volume(&call, &args.name).await? {
        Some(volume) => volume,
        None => call.docker.inspect_volume(&args.name).await.map_err(call.fail(NO_VOLUME))?,
    };
    detail(&call.name, &volume)
}

tool_args! {
    write CreateNetworkArgs {
        pub name: String,
        /// `bridge` (default) or `overlay`.
        pub driver: Option<String>,
        /// No route outside the network.
        #[serde(default)]
        pub internal: bool,
        /// Labels to set (keys starting `mcp-docker.` are reserved).
        #[serde(default)]
        pub labels: HashMap<String, String>,
    }
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct Changed {
    pub host: String,
    /// The object's name or id.
    pub name: String,
    /// What happened, in a sentence.
    pub message: String,
}

fn changed(host: &str, name: &str, message: String) -> Rendered<Changed> {
    said(message, |message| Changed { host: host.into(), name: name.into(), message })
}

pub async fn create_network(daemons: Arc<Daemons>, _ctx: Context, args: CreateNetworkArgs) -> Reply<Changed> {
    check_new_name(&args.name, Some(128))?;
    let driver = args.driver.clone().unwrap_or_else(|| "bridge".into());
    if !["bridge", "overlay"].contains(&driver.as_str()) {
        return Err(ToolError::invalid_arguments(format!(
            "`driver`: `{driver}`: only bridge and overlay networks can be created here (macvlan, ipvlan and host \
             attach containers to the host's own network)"
        )));
    }
    let mut labels = provenance(&args.labels, "create_network")?;
    labels.extend(daemons.settings.scope.labels());
    let call = daemons.write(args.host.as_deref()).await?;
    let request = NetworkCreateRequest {
        name: args.name.clone(),
        driver: Some(driver),
        internal: Some(args.internal),
        labels: Some(labels),
        ..Default::default()
    };
    let created = call.docker.create_network(request).await.map_err(call.fail(""))?;
    Ok(changed(&call.name, &args.name, format!("Created network {} ({}).", args.name, short_id(&created.id))))
}

pub async fn remove_network(daemons: Arc<Daemons>, _ctx: Context, args: NamedArgs) -> Reply<Changed> {
    check_ref("name", &args.name)?;
    if ["bridge", "host", "none"].contains(&args.name.as_str()) {
        return Err(ToolError::invalid_arguments(format!(
            "`name`: `{}` is a predefined network and cannot be removed",
            args.name
        )));
    }
    let call = daemons.write(args.host.as_deref()).await?;
    call.docker.remove_network(&args.name).await.map_err(call.fail(NO_NETWORK))?;
    Ok(changed(&call.name, &args.name, format!("Removed network {}.", args.name)))
}

tool_args! {
    write ConnectArgs {
        /// The network's name or id.
        pub network: String,
        /// The container's id or name.
        pub container: String,
        /// DNS names for the container on this network (connect only).
        #[serde(default)]
        pub aliases: Vec<String>,
        /// Disconnect even if the container is running oddly (disconnect only).
        #[serde(default)]
        pub force: bool,
    }
}

pub async fn connect_network(daemons: Arc<Daemons>, _ctx: Context, args: ConnectArgs) -> Reply<Changed> {
    check_ref("network", &args.network)?;
    let call = daemons.write_container(args.host.as_deref(), &args.container).await?;
    let endpoint = (!args.aliases.is_empty())
        .then(|| bollard::models::EndpointSettings { aliases: Some(args.aliases.clone()), ..Default::default() });
    call.docker
        .connect_network(&args.network, NetworkConnectRequest { container: call.id.clone(), endpoint_config: endpoint })
        .await
        .map_err(call.fail(NO_ATTACHMENT))?;
    Ok(changed(&call.name, &args.network, format!("Connected {} to {}.", args.container, args.network)))
}

pub async fn disconnect_network(daemons: Arc<Daemons>, _ctx: Context, args: ConnectArgs) -> Reply<Changed> {
    check_ref("network", &args.network)?;
    let call = daemons.write_container(args.host.as_deref(), &args.container).await?;
    call.docker
        .disconnect_network(
            &args.network,
            NetworkDisconnectRequest { container: call.id.clone(), force: Some(args.force) },
        )
        .await
        .map_err(call.fail(NO_ATTACHMENT))?;
    Ok(changed(&call.name, &args.network, format!("Disconnected {} from {}.", args.container, args.network)))
}

tool_args! {
    write CreateVolumeArgs {
        pub name: String,
        /// The volume driver (default `local`).
        pub driver: Option<String>,
        /// Labels to set (keys starting `mcp-docker.` are reserved).
        #[serde(default)]
        pub labels: HashMap<String, String>,
    }
}

pub async fn create_volume(daemons: Arc<Daemons>, _ctx: Context, args: CreateVolumeArgs) -> Reply<Changed> {
    check_new_name(&args.name, Some(128))?;
    let mut labels = provenance(&args.labels, "create_volume")?;
    labels.extend(daemons.settings.scope.labels());
    let call = daemons.write(args.host.as_deref()).await?;
    let request = VolumeCreateRequest {
        name: Some(args.name.clone()),
        driver: args.driver.clone(),
        labels: Some(labels),
        ..Default::default()
    };
    let volume = call.docker.create_volume(request).await.map_err(call.fail(""))?;
    Ok(changed(&call.name, &args.name, format!("Volume {} is ready (driver {}).", volume.name, volume.driver)))
}

tool_args! {
    write RemoveVolumeArgs {
        pub name: String,
        /// Remove even if the driver reports an error about it (not while in use).
        #[serde(default)]
        pub force: bool,
    }
}

pub async fn remove_volume(daemons: Arc<Daemons>, _ctx: Context, args: RemoveVolumeArgs) -> Reply<Changed> {
    check_ref("name", &args.name)?;
    let call = daemons.write(args.host.as_deref()).await?;
    daemons.settings.scope.volume(&call, &args.name).await?;
    call.docker
        .remove_volume(&args.name, Some(RemoveVolumeOptions { force: args.force }))
        .await
        .map_err(call.fail(NO_VOLUME))?;
    Ok(changed(&call.name, &args.name, format!("Removed volume {}.", args.name)))
}

tool_args! {
    write PruneArgs {
        /// `containers`, `images`, `networks` or `volumes`.
        pub what: String,
        /// Only those with these labels: `key` or `key=value` each.
        #[serde(default)]
        pub label: Vec<String>,
    }
}

#[derive(Debug, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Pruned {
    pub host: String,
    pub removed: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub space_reclaimed: Option<i64>,
}

pub async fn prune(daemons: Arc<Daemons>, _ctx: Context, args: PruneArgs) -> Reply<Pruned> {
    if !["containers", "images", "networks", "volumes"].contains(&args.what.as_str()) {
        return Err(ToolError::invalid_arguments(format!(
            "`what`: `{}`: use `containers`, `images`, `networks` or `volumes`",
            clip(&args.what, 40)
        )));
    }
    // Within --scope-label, only in-scope objects are pruned.
    let labels: Vec<String> = args.label.iter().cloned().chain(daemons.settings.scope.filters()).collect();
    let filters: Option<HashMap<String, Vec<String>>> =
        (!labels.is_empty()).then(|| [("label".to_string(), labels)].into());
    let call = daemons.write(args.host.as_deref()).await?;
    let (removed, space) = match args.what.as_str() {
        "containers" => {
            let r =
                call.docker.prune_containers(Some(PruneContainersOptions { filters })).await.map_err(call.fail(""))?;
            (r.containers_deleted.unwrap_or_default().iter().map(|id| short_id(id)).collect(), r.space_reclaimed)
        }
        "images" => {
            let mut filters = filters.unwrap_or_default();
            filters.insert("dangling".into(), vec!["true".into()]);
            let r = call
                .docker
                .prune_images(Some(PruneImagesOptions { filters: Some(filters) }))
                .await
                .map_err(call.fail(""))?;
            let removed = r
                .images_deleted
                .unwrap_or_default()
                .into_iter()
                .filter_map(|i| i.deleted.map(|d| short_id(&d)).or(i.untagged))
                .collect();
            (removed, r.space_reclaimed)
        }
        "networks" => {
            let r = call.docker.prune_networks(Some(PruneNetworksOptions { filters })).await.map_err(call.fail(""))?;
            (r.networks_deleted.unwrap_or_default(), None)
        }
        "volumes" => {
            let r = call.docker.prune_volumes(Some(PruneVolumesOptions { filters })).await.map_err(call.fail(""))?;
            (r.volumes_deleted.unwrap_or_default(), r.space_reclaimed)
        }
        other => {
            return Err(ToolError::invalid_arguments(format!(
                "`what`: `{other}`: use `containers`, `images`, `networks` or `volumes`"
            )));
        }
    };
    let text = if removed.is_empty() {
        format!("Nothing to prune: no unused {}.", args.what)
    } else {
        format!(
            "Removed {} {}: {}{}",
            removed.len(),
            args.what,
            removed.join(", "),
            space.map(|s| format!(" ({} reclaimed)", human_size(s))).unwrap_or_default()
        )
    };
    Ok(Rendered { text, data: Pruned { host: call.name.clone(), removed, space_reclaimed: space } })
}
