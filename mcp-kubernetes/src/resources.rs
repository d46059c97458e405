//! The clusters as resources: `k8s://contexts` (the contexts, never credentials),
//! `k8s://{context}/namespaces` (a context's namespaces, each with its URI) and
//! `k8s://{context}/{namespace}/{kind}/{name}` (one object as trimmed, masked YAML;
//! `_` as the namespace of cluster-scoped kinds). Every variable is percent-encoded.
//! `resources/list` shows each context's namespaces listing and the default context's
//! namespaces and workloads; completion fills in contexts, namespaces, kinds and names, for the
//! template and for the prompts' arguments. Reads go through the same checks as the tools
//! (denied kinds, the namespace scope, --impersonate).

use std::collections::HashMap;
use std::sync::Arc;

use kube::api::ListParams;
use mcp_core::connector::cut_text;
use mcp_core::connector::uri::encode_segment as encode;
use mcp_core::protocol::uri::percent_decode;
use mcp_core::protocol::{Completion, Resource, ResourceContents};
use mcp_core::server::{CompletionRequest, ErrorKind, ServerBuilder};
use mcp_core::{Context, ToolError, resource_template_with, resource_with};
use serde_json::{Value, json};

use crate::clusters::{Clusters, check_namespace, namespace_scope};
use crate::output::document;
use crate::tools::api::raw_api;
use crate::tools::resources::fetch_object;

pub const OBJECT_TEMPLATE: &str = "k8s://{context}/{namespace}/{kind}/{name}";
pub const NAMESPACES_TEMPLATE: &str = "k8s://{context}/namespaces";
const CONTEXTS_URI: &str = "k8s://contexts";
/// The namespace segment of cluster-scoped objects.
pub const CLUSTER_SCOPED: &str = "_";
/// Most entries a listing resource or `resources/list` names per context.
const LISTING_MAX: usize = 200;
/// Most values one completion returns (the protocol's bound).
const COMPLETION_MAX: usize = 100;

pub fn register(builder: ServerBuilder, k: &Arc<Clusters>) -> ServerBuilder {
    let lister = k.clone();
    let completer = k.clone();
    builder
        .resource(
            resource_with(CONTEXTS_URI, "contexts", k, read_contexts)
                .title("Kubeconfig contexts")
                .description("The contexts this server can use (never credentials), each with its namespaces' URI.")
                .mime_type("application/json"),
        )
        .resource(
            resource_template_with(NAMESPACES_TEMPLATE, "namespaces", k, read_namespaces)
                .title("Namespaces of a context")
                .description(
                    "The namespaces of a context (the allowed ones), each with the URI of its object. The context \
                     name is percent-encoded.",
                )
                .mime_type("application/json"),
        )
        .resource(
            resource_template_with(OBJECT_TEMPLATE, "object", k, read_object)
                .title("Kubernetes object")
                .description(
                    "One object as YAML, trimmed and with Secret values masked, as resources_get shows it. `kind` \
                     is a plural or `plural.group` (`pods`, `deployments.apps`); `namespace` is `_` for \
                     cluster-scoped kinds; every part percent-encoded.",
                )
                .mime_type("application/yaml"),
        )
        .resource_lister(move |ctx| list_resources(lister.clone(), ctx))
        .completion(move |ctx, req| complete(completer.clone(), ctx, req))
}

/// The URI of an object (`namespace` `None` for cluster-scoped kinds).
pub fn object_uri(context: &str, namespace: Option<&str>, kind: &str, name: &str) -> String {
    format!(
        "k8s://{}/{}/{}/{}",
        encode(context),
        namespace.map_or(CLUSTER_SCOPED.to_string(), encode),
        encode(kind),
        encode(name)
    )
}

pub fn namespaces_uri(context: &str) -> String {
    format!("k8s://{}/namespaces", encode(context))
}

type Vars = HashMap<String, String>;

/// A decoded template variable; a missing or malformed one means no such resource.
fn var(vars: &Vars, name: &str, uri: &str) -> Result<String, ToolError> {
    vars.get(name).and_then(|v| percent_decode(v)).ok_or_else(|| ToolError::resource_not_found(uri))
}

/// What cannot be found is "resource not found"; other failures keep their kind.
fn not_found(uri: &str) -> impl Fn(ToolError) -> ToolError + '_ {
    move |e| match e.kind() {
        ErrorKind::NotFound | ErrorKind::InvalidArguments => ToolError::resource_not_found(uri),
        _ => e,
    }
}

fn json_contents(uri: String, value: &Value) -> Result<ResourceContents, ToolError> {
    let text = serde_json::to_string_pretty(value).map_err(|e| ToolError::failed(format!("cannot serialize: {e}")))?;
    Ok(ResourceContents::text(uri, "application/json", text))
}

async fn read_contexts(k: Arc<Clusters>, _ctx: Context) -> Result<ResourceContents, ToolError> {
    let contexts: Vec<Value> = k
        .contexts()
        .into_iter()
        .map(|c| {
            let uri = namespaces_uri(&c.name);
            let mut v = serde_json::to_value(&c).unwrap_or(Value::Null);
            v["namespacesUri"] = json!(uri);
            v
        })
        .collect();
    json_contents(CONTEXTS_URI.into(), &json!({"contexts": contexts, "default": k.default_context()}))
}

/// The namespaces of `context` the call may see, sorted, at most `max` (and whether
/// there were more).
async fn visible_namespaces(
    k: &Clusters,
    ctx: &Context,
    context: &str,
    max: usize,
) -> Result<(Vec<String>, bool), ToolError> {
    let cluster = k.read(ctx, Some(context)).await?;
    let res = cluster.discovery.resolve(&cluster.client, &cluster.name, "namespaces", Some("v1")).await?;
    crate::tools::api::check_kind(k, &res)?;
    let scope = namespace_scope(&k.settings, ctx);
    let list = raw_api(&cluster, &res, None).list::<Value>(&ListParams::default().limit(5000)).await.map_err(|e| {
        crate::errors::api_error(e, &crate::errors::Op::new("list", "namespaces").context(&cluster.name))
    })?;
    let mut names: Vec<String> = list
        .items
        .iter()
        .filter_map(|n| n.pointer("/metadata/name").and_then(Value::as_str))
        .filter(|n| check_namespace(&scope, n).is_ok())
        .map(str::to_string)
        .collect();
    names.sort();
    let more = names.len() > max;
    names.truncate(max);
    Ok((names, more))
}

async fn read_namespaces(k: Arc<Clusters>, ctx: Context, vars: Vars) -> Result<ResourceContents, ToolError> {
    let raw = format!("k8s://{}/namespaces", vars.get("context").map_or("", String::as_str));
    let context = var(&vars, "context", &raw)?;
    let uri = namespaces_uri(&context);
    let (names, truncated) = visible_namespaces(&k, &ctx, &context, LISTING_MAX).await.map_err(not_found(&uri))?;
    let namespaces: Vec<Value> =
        names.iter().map(|n| json!({"name": n, "uri": object_uri(&context, None, "namespaces", n)})).collect();
    let mut body = json!({"context": context, "namespaces": namespaces, "truncated": truncated});
    if truncated {
        body["note"] = json!(format!("Only the first {LISTING_MAX} namespaces are listed; namespaces_list shows all."));
    }
    json_contents(uri, &body)
}

async fn read_object(k: Arc<Clusters>, ctx: Context, vars: Vars) -> Result<ResourceContents, ToolError> {
    let raw = |n: &str| vars.get(n).map_or("", String::as_str).to_string();
    let raw_uri = format!("k8s://{}/{}/{}/{}", raw("context"), raw("namespace"), raw("kind"), raw("name"));
    let (context, namespace, kind, name) = (
        var(&vars, "context", &raw_uri)?,
        var(&vars, "namespace", &raw_uri)?,
        var(&vars, "kind", &raw_uri)?,
        var(&vars, "name", &raw_uri)?,
    );
    let scoped = namespace != CLUSTER_SCOPED;
    let uri = object_uri(&context, scoped.then_some(namespace.as_str()), &kind, &name);
    let (_, res, _, value) =
        fetch_object(&k, &ctx, Some(&context), &kind, None, &name, scoped.then_some(namespace.as_str()))
            .await
            .map_err(not_found(&uri))?;
    // The URI names the object exactly: a namespaced kind needs its namespace, a
    // cluster-scoped one `_` (no default namespace fills in).
    if res.namespaced != scoped {
        return Err(ToolError::resource_not_found(&uri));
    }
    let (text, _) =
        cut_text(document(&value, false), k.settings.max_result_bytes, "read it with resources_get and `fields`");
    Ok(ResourceContents::text(uri, "application/yaml", text))
}

/// Each context's namespaces listing, then the default context's namespaces as objects
/// (an unreachable cluster lists only its listing, never fails the request).
async fn list_resources(k: Arc<Clusters>, ctx: Context) -> Result<Vec<Resource>, ToolError> {
    let resource = |uri: String, name: String, description: String, mime: &str| Resource {
        uri,
        name,
        title: None,
        description: Some(description),
        mime_type: Some(mime.into()),
        size: None,
    };
    let mut out = vec![];
    for c in k.targets().names() {
        out.push(resource(
            namespaces_uri(c),
            format!("{c} namespaces"),
            format!("The namespaces of context `{c}`"),
            "application/json",
        ));
    }
    let default = k.default_context().to_string();
    match visible_namespaces(&k, &ctx, &default, LISTING_MAX).await {
        Ok((names, _)) => {
            for n in names {
                out.push(resource(
                    object_uri(&default, None, "namespaces", &n),
                    format!("{default}/{n}"),
                    format!("Namespace `{n}` of context `{default}`"),
                    "application/yaml",
                ));
            }
        }
        Err(e) => tracing::debug!(context = %default, error = %e, "namespaces not listed"),
    }
    match workloads(&k, &ctx, &default).await {
        Ok(found) => {
            for (kind, ns, name) in found {
                out.push(resource(
                    object_uri(&default, Some(&ns), &kind, &name),
                    format!("{default}/{ns}/{kind}/{name}"),
                    format!("{kind} `{name}` in namespace `{ns}` of context `{default}`"),
                    "application/yaml",
                ));
            }
        }
        Err(e) => tracing::debug!(context = %default, error = %e, "workloads not listed"),
    }
    Ok(out)
}

/// The workloads (Deployments, StatefulSets, DaemonSets) of `context` in the namespaces
/// the call may see, at most [`LISTING_MAX`] in all: (`plural.group`, namespace, name).
async fn workloads(k: &Clusters, ctx: &Context, context: &str) -> Result<Vec<(String, String, String)>, ToolError> {
    let cluster = k.read(ctx, Some(context)).await?;
    let scope = namespace_scope(&k.settings, ctx);
    let namespaces: Vec<Option<String>> = match &scope {
        Some(allowed) => allowed.iter().cloned().map(Some).collect(),
        None => vec![None],
    };
    let mut out = vec![];
    for kind in ["deployments", "statefulsets", "daemonsets"] {
        let res = cluster.discovery.resolve(&cluster.client, &cluster.name, kind, Some("apps/v1")).await?;
        if crate::tools::api::check_kind(k, &res).is_err() {
            continue;
        }
        for ns in &namespaces {
            let left = LISTING_MAX.saturating_sub(out.len());
            if left == 0 {
                return Ok(out);
            }
            let lp = ListParams::default().limit(left as u32);
            let list = raw_api(&cluster, &res, ns.as_deref()).list::<Value>(&lp).await.map_err(|e| {
                crate::errors::api_error(e, &crate::errors::Op::new("list", &res.qualified()).context(&cluster.name))
            })?;
            for o in list.items.iter().take(left) {
                let text = |p: &str| o.pointer(p).and_then(Value::as_str).unwrap_or_default().to_string();
                out.push((res.qualified(), text("/metadata/namespace"), text("/metadata/name")));
            }
        }
    }
    Ok(out)
}

/// Completion of the object template's variables and of the prompts' arguments.
async fn complete(k: Arc<Clusters>, ctx: Context, req: CompletionRequest) -> Result<Completion, ToolError> {
    let known = (req.ref_type == "ref/resource"
        && [OBJECT_TEMPLATE, NAMESPACES_TEMPLATE].contains(&req.ref_name.as_str()))
        || (req.ref_type == "ref/prompt" && crate::prompts::NAMES.contains(&req.ref_name.as_str()));
    if !known {
        return Ok(Completion { values: vec![], total: None, has_more: false });
    }
    let given = |n: &str| req.context.get(n).and_then(|v| percent_decode(v)).filter(|v| !v.is_empty());
    let context = given("context").unwrap_or_else(|| k.default_context().to_string());
    let prefix = req.value.as_str();
    // A cluster that cannot answer completes nothing rather than failing the request.
    let values: Vec<String> = match req.argument.as_str() {
        "context" => k.targets().names().into_iter().map(str::to_string).collect(),
        "namespace" => visible_namespaces(&k, &ctx, &context, 5000).await.map(|(n, _)| n).unwrap_or_default(),
        "kind" => match k.read(&ctx, Some(&context)).await {
            Ok(cluster) => match cluster.discovery.catalog(&cluster.client, &cluster.name, false).await {
                Ok(catalog) => catalog.resources.iter().map(|r| r.qualified()).collect(),
                Err(_) => vec![],
            },
            Err(_) => vec![],
        },
        "name" | "pod" => object_names(&k, &ctx, &req, &context).await.unwrap_or_default(),
        _ => vec![],
    };
    let mut values: Vec<String> = values.into_iter().filter(|v| v.starts_with(prefix)).collect();
    values.sort();
    values.dedup();
    let total = values.len();
    values.truncate(COMPLETION_MAX);
    Ok(Completion { has_more: total > values.len(), total: Some(total as u64), values })
}

/// Names of the objects of the request's kind (`pods` for a prompt's `pod`) in its
/// namespace, from one bounded list.
async fn object_names(
    k: &Clusters,
    ctx: &Context,
    req: &CompletionRequest,
    context: &str,
) -> Result<Vec<String>, ToolError> {
    let kind = if req.argument == "pod" {
        "pods".to_string()
    } else {
        req.context.get("kind").and_then(|v| percent_decode(v)).unwrap_or_default()
    };
    if kind.is_empty() {
        return Ok(vec![]);
    }
    let (cluster, res) =
        crate::tools::api::target(k, ctx, Some(context), crate::clusters::Access::Read, &kind, None, "list").await?;
    let ns = req.context.get("namespace").and_then(|v| percent_decode(v)).filter(|n| n != CLUSTER_SCOPED);
    let ns = crate::tools::api::namespace_for(k, ctx, &cluster, &res, ns.as_deref(), false)?;
    let list =
        raw_api(&cluster, &res, ns.as_deref()).list::<Value>(&ListParams::default().limit(500)).await.map_err(|e| {
            crate::errors::api_error(e, &crate::errors::Op::new("list", &res.qualified()).context(&cluster.name))
        })?;
    Ok(list
        .items
        .iter()
        .filter_map(|o| o.pointer("/metadata/name").and_then(Value::as_str).map(str::to_string))
        .collect())
}
