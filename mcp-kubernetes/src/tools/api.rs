//! What every tool calls the API with: a call's target (its context's connection and the
//! kind, checked against the denied kinds and the verbs it serves), its namespace inside
//! the allowlist, checked names, and the API handles (typed, and raw JSON for reads).

use std::sync::Arc;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::ListMeta;
use kube::Api;
use kube::api::{GetParams, ListParams};
use kube::core::DynamicObject;
use mcp_core::{Context, ToolError};
use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::clusters::{Access, Clusters, Connection, check_namespace, namespace_scope};
use crate::config::{valid_dns_label, valid_object_name};
use crate::discovery::Resource;

/// A tool's arguments: `context`, which every tool takes first, then the tool's own
/// fields (the kit's `tool_args!`, with this connector's wording of `context`).
macro_rules! tool_args {
    ($($item:tt)*) => {
        mcp_core::tool_args! {
            context: "Kubeconfig context (default: the server's default context).";
            $($item)*
        }
    };
}
pub(crate) use tool_args;

/// A call's target: the cluster and the resource kind, checked against the denied kinds
/// and the verbs the resource serves.
pub(crate) async fn target(
    k: &Clusters,
    ctx: &Context,
    context: Option<&str>,
    access: Access,
    kind: &str,
    api_version: Option<&str>,
    verb: &str,
) -> Result<(Arc<Connection>, Resource), ToolError> {
    let cluster = k.connect(ctx, context, access).await?;
    let res = cluster.discovery.resolve(&cluster.client, &cluster.name, kind, api_version).await?;
    check_kind(k, &res)?;
    if !res.supports(verb) {
        return Err(ToolError::invalid_arguments(format!(
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
        return Err(ToolError::refused(format!(
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
    cluster: &Connection,
    res: &Resource,
    namespace: Option<&str>,
    write: bool,
) -> Result<Option<String>, ToolError> {
    let scope = namespace_scope(&k.settings, ctx);
    if !res.namespaced {
        if write && scope.is_some() {
            return Err(ToolError::refused(format!(
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
    check_argument("namespace", ns, valid_dns_label, "a valid namespace name")
}

pub(crate) fn check_name(name: &str) -> Result<(), ToolError> {
    check_argument("name", name, valid_object_name, "a valid object name (lowercase letters, digits, `-` and `.`)")
}

/// Refuses `value` of the argument `argument` unless `valid`, saying what it should be.
fn check_argument(argument: &str, value: &str, valid: fn(&str) -> bool, what: &str) -> Result<(), ToolError> {
    if valid(value) {
        return Ok(());
    }
    let shown = crate::output::clip(value, 80);
    Err(ToolError::invalid_arguments(format!("`{argument}`: `{shown}` is not {what}")))
}

/// The dynamic API of `res` in `namespace` (all namespaces or cluster-scoped: `None`).
pub(crate) fn dyn_api(cluster: &Connection, res: &Resource, namespace: Option<&str>) -> Api<DynamicObject> {
    let ar = res.api_resource();
    match namespace {
        Some(ns) if res.namespaced => Api::namespaced_with(cluster.client.clone(), ns, &ar),
        _ => Api::all_with(cluster.client.clone(), &ar),
    }
}

/// Reads of one resource as the API server sends them, parsed straight into JSON values.
/// The tools render from values; `Api<DynamicObject>` would build a typed object (its
/// flattened fields buffered on the way in) only for it to be serialized back, which
/// was a third of a large list's time.
pub(crate) struct RawApi {
    client: kube::Client,
    request: kube::core::Request,
}

/// A list response: its metadata (continue token, remaining count) and its items.
#[derive(Debug, serde::Deserialize)]
#[serde(bound = "T: DeserializeOwned")]
pub(crate) struct RawList<T = Value> {
    #[serde(default)]
    pub metadata: ListMeta,
    /// `null` when the list is empty, from some servers.
    #[serde(default, deserialize_with = "null_as_empty")]
    pub items: Vec<T>,
}

fn null_as_empty<'de, D: serde::Deserializer<'de>, T: serde::Deserialize<'de>>(d: D) -> Result<Vec<T>, D::Error> {
    Ok(<Option<Vec<T>> as serde::Deserialize>::deserialize(d)?.unwrap_or_default())
}

impl RawApi {
    /// One object.
    pub async fn get(&self, name: &str) -> kube::Result<Value> {
        let mut req = self.request.get(name, &GetParams::default()).map_err(kube::Error::BuildRequest)?;
        // The same label kube's own Api::get gives the request (for its tracing).
        req.extensions_mut().insert("get");
        self.client.request(req).await
    }

    /// One page of a list; `T` is what each item becomes (`IgnoredAny` to count them).
    pub async fn list<T: DeserializeOwned>(&self, lp: &ListParams) -> kube::Result<RawList<T>> {
        let mut req = self.request.list(lp).map_err(kube::Error::BuildRequest)?;
        req.extensions_mut().insert("list");
        self.client.request(req).await
    }
}

/// The raw reads of `res` in `namespace` (all namespaces or cluster-scoped: `None`).
pub(crate) fn raw_api(cluster: &Connection, res: &Resource, namespace: Option<&str>) -> RawApi {
    let ns = namespace.filter(|_| res.namespaced);
    let url = <DynamicObject as kube::Resource>::url_path(&res.api_resource(), ns);
    RawApi { client: cluster.client.clone(), request: kube::core::Request::new(url) }
}

/// `kind/name` as kubectl prints it.
pub(crate) fn object_ref(res: &Resource, name: &str, namespace: Option<&str>) -> String {
    let mut s = format!("{}/{name}", res.kind.to_ascii_lowercase());
    if let Some(ns) = namespace {
        s += &format!(" -n {ns}");
    }
    s
}
