//! The tools, one module per area; [`register`] adds the ones the settings allow.

pub mod apply;
pub mod cluster;
pub mod helm;
pub mod resources;
pub mod workloads;

use std::sync::Arc;

use kube::Api;
use kube::core::DynamicObject;
use mcp_core::server::ServerBuilder;
use mcp_core::{Context, ToolError};

use crate::clusters::{Cluster, Clusters, check_namespace, namespace_scope};
use crate::config::{Toolset, valid_dns_label, valid_object_name};
use crate::discovery::Resource;

/// The group a tool belongs to, for `--toolsets`.
fn toolset(tool: &str) -> Toolset {
    match tool {
        "resources_apply" | "resources_patch" | "resources_delete" => Toolset::Apply,
        "contexts_list" => Toolset::Config,
        "namespaces_list" | "nodes_list" | "events_list" | "cluster_version" => Toolset::Cluster,
        t if t.starts_with("resources_") || t == "api_resources" || t == "explain_resource" => Toolset::Core,
        t if t.starts_with("helm_") => Toolset::Helm,
        _ => Toolset::Workloads,
    }
}

/// Every tool the settings allow: reads always, writes with --allow-write, destructive
/// ones with --allow-destructive, within --toolsets.
pub fn register(builder: ServerBuilder, k: &Arc<Clusters>) -> ServerBuilder {
    let s = &k.settings;
    let selected = s.toolsets.clone();
    let (write, destructive) = (s.allow_write, s.allow_destructive);
    let builder = resources::register(builder, k);
    let builder = apply::register(builder, k);
    let builder = workloads::register(builder, k);
    let builder = cluster::register(builder, k);
    let builder = helm::register(builder, k);
    builder.retain_tools(move |route| {
        let tool = route.definition();
        let hints = tool.annotations.as_ref();
        let is_destructive = hints.and_then(|a| a.destructive_hint).unwrap_or(false);
        let allowed = if route.is_read_only() {
            true
        } else if is_destructive {
            destructive
        } else {
            write
        };
        // Not listed at all: no tokens spent on tools that could only refuse.
        allowed && (selected.is_empty() || selected.contains(&toolset(&tool.name)))
    })
}

/// A call's target: the cluster and the resource kind, checked against the denied kinds
/// and the verbs the resource serves.
pub(crate) async fn target(
    k: &Clusters,
    context: Option<&str>,
    kind: &str,
    api_version: Option<&str>,
    verb: &str,
) -> Result<(Arc<Cluster>, Resource), ToolError> {
    let cluster = k.get(context).await?;
    let res = cluster.discovery.resolve(&cluster.client, &cluster.name, kind, api_version).await?;
    check_kind(k, &res)?;
    if !res.supports(verb) {
        return Err(ToolError::failed(format!(
            "{} does not support `{verb}` (it serves: {})",
            res.qualified(),
            res.verbs.join(", ")
        )));
    }
    Ok((cluster, res))
}

/// Refuses a kind the operator denied.
pub(crate) fn check_kind(k: &Clusters, res: &Resource) -> Result<(), ToolError> {
    if k.settings.deny_kinds.iter().any(|d| res.matches_name(d)) {
        return Err(ToolError::failed(format!(
            "{} is a denied kind on this server (--deny-kinds): it can be neither read nor changed",
            res.qualified()
        )));
    }
    Ok(())
}

/// The namespace a call on `res` uses: the given one or the context's default, inside
/// the allowlist; `None` for cluster-scoped kinds (which writes may not touch while a
/// namespace allowlist applies).
pub(crate) fn namespace_for(
    k: &Clusters,
    ctx: &Context,
    cluster: &Cluster,
    res: &Resource,
    namespace: Option<&str>,
    write: bool,
) -> Result<Option<String>, ToolError> {
    let scope = namespace_scope(&k.settings, ctx);
    if !res.namespaced {
        if write && scope.is_some() {
            return Err(ToolError::failed(format!(
                "{} is cluster-scoped, and this server may change objects only inside its allowed namespaces",
                res.qualified()
            )));
        }
        return Ok(None);
    }
    let ns = namespace.filter(|n| !n.is_empty()).unwrap_or(&cluster.default_namespace).to_string();
    check_ns_name(&ns)?;
    check_namespace(&scope, &ns)?;
    Ok(Some(ns))
}

pub(crate) fn check_ns_name(ns: &str) -> Result<(), ToolError> {
    if valid_dns_label(ns) {
        Ok(())
    } else {
        Err(ToolError::invalid_arguments(format!(
            "`namespace`: `{}` is not a valid namespace name",
            crate::output::clip(ns, 80)
        )))
    }
}

pub(crate) fn check_name(name: &str) -> Result<(), ToolError> {
    if valid_object_name(name) {
        Ok(())
    } else {
        Err(ToolError::invalid_arguments(format!(
            "`name`: `{}` is not a valid object name (lowercase letters, digits, `-` and `.`)",
            crate::output::clip(name, 80)
        )))
    }
}

/// The dynamic API of `res` in `namespace` (all namespaces or cluster-scoped: `None`).
pub(crate) fn dyn_api(cluster: &Cluster, res: &Resource, namespace: Option<&str>) -> Api<DynamicObject> {
    let ar = res.api_resource();
    match namespace {
        Some(ns) if res.namespaced => Api::namespaced_with(cluster.client.clone(), ns, &ar),
        _ => Api::all_with(cluster.client.clone(), &ar),
    }
}

/// `kind/name` as kubectl prints it.
pub(crate) fn object_ref(res: &Resource, name: &str, namespace: Option<&str>) -> String {
    let mut s = format!("{}/{name}", res.kind.to_ascii_lowercase());
    if let Some(ns) = namespace {
        s += &format!(" -n {ns}");
    }
    s
}
