//! Changing any resource: `resources_apply` (server-side apply of multi-document YAML or
//! JSON), `resources_patch` (merge, JSON or strategic) and `resources_delete`. Every one
//! has `dry_run`, which the API server validates and admits without persisting.

use std::sync::Arc;

use kube::api::{DeleteParams, Patch, PatchParams, PropagationPolicy};
use kube::core::Request;
use mcp_core::server::ServerBuilder;
use mcp_core::{Context, ToolError, tool_with};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::api::{check_name, dyn_api, namespace_for, object_ref, target, tool_args};
use crate::clusters::{Access, Clusters};
use crate::config::Toolset;
use crate::errors::{Op, api_error, describe};
use crate::output::{Rendered, clip};

pub fn register(builder: ServerBuilder, k: &Arc<Clusters>) -> ServerBuilder {
    builder.tools_in(
        Toolset::Apply.name(),
        [
            tool_with("resources_apply", k, resources_apply)
                .title("Apply manifests (server-side apply)")
                .description(
                    "Creates or updates objects from YAML or JSON (several documents separated by ---, or a List) with \
                     server-side apply. Objects without a namespace go to `namespace` (default: the context's). \
                     dry_run=true validates everything on the server without saving; use it first. force=true takes \
                     over fields another manager owns.",
                )
                .sensitive(["manifest"])
                .idempotent(),
            tool_with("resources_patch", k, resources_patch).title("Patch an object").description(
                "Patches one object: type merge (RFC 7386, default), json (RFC 6902 operations) or strategic \
                     (built-in kinds only: lists of containers etc. merge by name). dry_run=true shows the result \
                     without saving.",
            ),
            tool_with("resources_delete", k, resources_delete)
                .title("Delete an object")
                .description(
                    "Deletes one object. dry_run=true checks it could be deleted without deleting; propagation \
                     Background (default), Foreground or Orphan decides what happens to what it owns.",
                )
                .destructive(),
        ],
    )
}

/// The field manager of everything this server applies.
pub const FIELD_MANAGER: &str = "mcp-kubernetes";
/// Most documents one apply takes.
const MAX_DOCUMENTS: usize = 100;
/// Largest manifest accepted, in bytes.
const MAX_MANIFEST_BYTES: usize = 2 << 20;

tool_args! {
pub struct ApplyArgs {
    /// YAML or JSON: one or more documents (`---` between them), or a `List`.
    pub manifest: String,
    /// Namespace for objects that name none (default: the context's).
    pub namespace: Option<String>,
    /// Validate and admit on the server without saving.
    #[serde(default)]
    pub dry_run: bool,
    /// Take over fields owned by another field manager instead of failing.
    #[serde(default)]
    pub force: bool,
}
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct AppliedObject {
    pub api_version: String,
    pub kind: String,
    pub name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    /// created, configured, unchanged, or failed.
    pub outcome: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub resource_version: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct ApplyResult {
    pub context: String,
    pub dry_run: bool,
    pub objects: Vec<AppliedObject>,
}

/// Splits a manifest into objects: YAML documents (JSON is YAML), `List`s expanded.
pub fn parse_manifest(text: &str) -> Result<Vec<Value>, ToolError> {
    if text.len() > MAX_MANIFEST_BYTES {
        return Err(ToolError::invalid_arguments(format!(
            "`manifest` is larger than {MAX_MANIFEST_BYTES} bytes: apply it in parts"
        )));
    }
    let mut out = vec![];
    for (i, doc) in serde_yaml_ng::Deserializer::from_str(text).enumerate() {
        let value = Value::deserialize(doc).map_err(|e| {
            ToolError::invalid_arguments(format!("`manifest` document {} is not valid YAML or JSON: {e}", i + 1))
        })?;
        match value {
            Value::Null => continue,
            Value::Object(_) => {}
            _ => return Err(ToolError::invalid_arguments(format!("`manifest` document {} is not an object", i + 1))),
        }
        if value.get("kind").and_then(Value::as_str).is_some_and(|k| k.ends_with("List"))
            && let Some(items) = value.get("items").and_then(Value::as_array)
        {
            out.extend(items.iter().cloned());
        } else {
            out.push(value);
        }
        if out.len() > MAX_DOCUMENTS {
            return Err(ToolError::invalid_arguments(format!(
                "`manifest` holds more than {MAX_DOCUMENTS} objects: apply it in parts"
            )));
        }
    }
    if out.is_empty() {
        return Err(ToolError::invalid_arguments("`manifest` holds no object"));
    }
    for (i, o) in out.iter().enumerate() {
        let missing =
            ["apiVersion", "kind"].into_iter().find(|f| o.get(f).and_then(Value::as_str).is_none_or(str::is_empty));
        if let Some(f) = missing {
            return Err(ToolError::invalid_arguments(format!("`manifest` object {} has no `{f}`", i + 1)));
        }
        if o.pointer("/metadata/name").and_then(Value::as_str).is_none_or(str::is_empty) {
            return Err(ToolError::invalid_arguments(format!(
                "`manifest` object {} ({}) has no metadata.name (generateName cannot be applied)",
                i + 1,
                o["kind"].as_str().unwrap_or("?")
            )));
        }
    }
    Ok(out)
}

async fn resources_apply(k: Arc<Clusters>, ctx: Context, args: ApplyArgs) -> Result<Rendered<ApplyResult>, ToolError> {
    let objects = parse_manifest(&args.manifest)?;
    let cluster = k.write(&ctx, args.context.as_deref()).await?;
    // Resolve and check every object before changing anything: a denied kind or a
    // namespace outside the allowlist refuses the whole manifest.
    let mut planned = vec![];
    for obj in objects {
        let api_version = obj["apiVersion"].as_str().unwrap_or_default().to_string();
        let kind = obj["kind"].as_str().unwrap_or_default().to_string();
        let (_, res) = target(&k, &ctx, Some(&cluster.name), Access::Write, &kind, Some(&api_version), "patch").await?;
        let name = obj.pointer("/metadata/name").and_then(Value::as_str).unwrap_or_default().to_string();
        check_name(&name)?;
        let given = obj.pointer("/metadata/namespace").and_then(Value::as_str).map(str::to_string);
        let ns = namespace_for(&k, &ctx, &cluster, &res, given.as_deref().or(args.namespace.as_deref()), true)?;
        planned.push((res, name, ns, obj));
    }
    let mut params = PatchParams::apply(FIELD_MANAGER).validation_strict();
    params.force = args.force;
    params.dry_run = args.dry_run;
    let mut result = ApplyResult { context: cluster.name.clone(), dry_run: args.dry_run, objects: vec![] };
    let mut text = String::new();
    let mut failed = false;
    for (res, name, ns, mut obj) in planned {
        if let (Some(ns), Some(meta)) = (&ns, obj.get_mut("metadata").and_then(Value::as_object_mut)) {
            meta.insert("namespace".into(), json!(ns));
        }
        let mut entry = AppliedObject {
            api_version: res.api_version(),
            kind: res.kind.clone(),
            name: name.clone(),
            namespace: ns.clone(),
            outcome: String::new(),
            resource_version: None,
            error: None,
        };
        if failed {
            entry.outcome = "skipped".into();
            text += &format!("{} skipped (an earlier object failed)\n", object_ref(&res, &name, ns.as_deref()));
            result.objects.push(entry);
            continue;
        }
        let api = dyn_api(&cluster, &res, ns.as_deref());
        // Whether it exists decides "created" vs "configured"; the apply itself does not say.
        let before = api.get_opt(&name).await.ok().flatten().and_then(|o| o.metadata.resource_version);
        match api.patch(&name, &params, &Patch::Apply(&obj)).await {
            Ok(applied) => {
                let rv = applied.metadata.resource_version.clone();
                entry.outcome = match (&before, &rv) {
                    (None, _) => "created",
                    (Some(b), Some(a)) if b == a => "unchanged",
                    _ => "configured",
                }
                .into();
                entry.resource_version = if args.dry_run { None } else { rv };
                text += &format!(
                    "{} {}{}\n",
                    object_ref(&res, &name, ns.as_deref()),
                    entry.outcome,
                    if args.dry_run { " (server dry run)" } else { "" }
                );
            }
            Err(e) => {
                let op = Op::new("apply", &res.qualified()).name(&name).namespace(ns.as_deref()).context(&cluster.name);
                let message = describe(&e, &op);
                text += &format!("{} failed: {message}\n", object_ref(&res, &name, ns.as_deref()));
                entry.outcome = "failed".into();
                entry.error = Some(message);
                failed = true;
            }
        }
        result.objects.push(entry);
    }
    if failed {
        // The model must not take a partly applied manifest for a success.
        return Err(ToolError::failed(format!("apply stopped at the first failure:\n{text}")));
    }
    Ok(Rendered { text, data: result })
}

/// How a patch document is interpreted.
#[derive(Debug, Clone, Copy, Default, Deserialize, JsonSchema, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum PatchType {
    /// JSON merge patch (RFC 7386): maps merge, lists are replaced, null removes.
    #[default]
    Merge,
    /// JSON patch (RFC 6902): a list of {op, path, value} operations.
    Json,
    /// Strategic merge patch: like merge, but lists of named items (containers, env,
    /// ports) merge by key. Built-in kinds only.
    Strategic,
}

tool_args! {
pub struct PatchArgs {
    pub kind: String,
    pub api_version: Option<String>,
    pub name: String,
    pub namespace: Option<String>,
    /// The patch: a JSON object (merge, strategic) or array (json), or the same as a
    /// YAML/JSON string.
    pub patch: Value,
    /// merge (default), json or strategic.
    #[serde(default, rename = "type")]
    pub patch_type: PatchType,
    #[serde(default)]
    pub dry_run: bool,
}
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct ChangeResult {
    pub context: String,
    pub resource: String,
    pub name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    pub dry_run: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub resource_version: Option<String>,
    /// What happened, in words.
    pub outcome: String,
}

async fn resources_patch(k: Arc<Clusters>, ctx: Context, args: PatchArgs) -> Result<Rendered<ChangeResult>, ToolError> {
    check_name(&args.name)?;
    let patch = match args.patch {
        Value::String(s) => serde_yaml_ng::from_str::<Value>(&s)
            .map_err(|e| ToolError::invalid_arguments(format!("`patch` is not valid YAML or JSON: {e}")))?,
        v => v,
    };
    match (args.patch_type, &patch) {
        (PatchType::Json, Value::Array(_)) | (PatchType::Merge | PatchType::Strategic, Value::Object(_)) => {}
        (PatchType::Json, _) => {
            return Err(ToolError::invalid_arguments("`patch`: a json patch is a list of operations"));
        }
        _ => return Err(ToolError::invalid_arguments("`patch`: a merge or strategic patch is an object")),
    }
    let (cluster, res) =
        target(&k, &ctx, args.context.as_deref(), Access::Write, &args.kind, args.api_version.as_deref(), "patch")
            .await?;
    let ns = namespace_for(&k, &ctx, &cluster, &res, args.namespace.as_deref(), true)?;
    let api = dyn_api(&cluster, &res, ns.as_deref());
    // Strict: a misspelt field is an error, not silently dropped (the server's default).
    let params = PatchParams {
        dry_run: args.dry_run,
        field_manager: Some(FIELD_MANAGER.into()),
        field_validation: Some(kube::api::ValidationDirective::Strict),
        ..Default::default()
    };
    let op = Op::new("patch", &res.qualified()).name(&args.name).namespace(ns.as_deref()).context(&cluster.name);
    let patched: Value = match args.patch_type {
        PatchType::Merge => serde_json::to_value(
            api.patch(&args.name, &params, &Patch::Merge(&patch)).await.map_err(|e| api_error(e, &op))?,
        ),
        PatchType::Strategic => serde_json::to_value(
            api.patch(&args.name, &params, &Patch::Strategic(&patch)).await.map_err(|e| api_error(e, &op))?,
        ),
        PatchType::Json => {
            // kube's typed JSON patch needs another crate; the request is the merge
            // request with the JSON-patch content type.
            let mut req = Request::new(api.resource_url())
                .patch(&args.name, &params, &Patch::Merge(&patch))
                .map_err(|e| ToolError::failed(format!("cannot build the request: {e}")))?;
            req.headers_mut()
                .insert(http::header::CONTENT_TYPE, http::HeaderValue::from_static("application/json-patch+json"));
            cluster.client.request::<Value>(req).await.map_err(|e| api_error(e, &op))
        }
        .map(Ok)?,
    }
    .unwrap_or(Value::Null);
    let rv = patched.pointer("/metadata/resourceVersion").and_then(Value::as_str).map(str::to_string);
    let outcome = format!(
        "{} patched{}",
        object_ref(&res, &args.name, ns.as_deref()),
        if args.dry_run { " (server dry run, nothing saved)" } else { "" }
    );
    let mut shown = patched.clone();
    crate::output::trim(&mut shown);
    k.masker.apply(&mut shown, &res.kind);
    let (doc, _) = crate::output::cut_text(
        crate::output::document(&shown, false),
        k.settings.max_result_bytes / 2,
        "use resources_get with `fields` to see parts",
    );
    Ok(Rendered {
        text: format!("{outcome}\n{}", clip(&doc, k.settings.max_result_bytes)),
        data: ChangeResult {
            context: cluster.name.clone(),
            resource: res.qualified(),
            name: args.name,
            namespace: ns,
            dry_run: args.dry_run,
            resource_version: if args.dry_run { None } else { rv },
            outcome,
        },
    })
}

#[derive(Debug, Clone, Copy, Default, Deserialize, JsonSchema)]
pub enum Propagation {
    /// Delete now; the garbage collector removes dependents afterwards (default).
    #[default]
    Background,
    /// Dependents are deleted first; the object goes last.
    Foreground,
    /// Dependents are kept, without their owner.
    Orphan,
}

tool_args! {
pub struct DeleteArgs {
    pub kind: String,
    pub api_version: Option<String>,
    pub name: String,
    pub namespace: Option<String>,
    /// Check that it could be deleted, without deleting.
    #[serde(default)]
    pub dry_run: bool,
    #[serde(default)]
    pub propagation: Propagation,
    /// Seconds the object's pods get to stop (default: their own setting).
    pub grace_period_seconds: Option<u32>,
}
}

async fn resources_delete(
    k: Arc<Clusters>,
    ctx: Context,
    args: DeleteArgs,
) -> Result<Rendered<ChangeResult>, ToolError> {
    check_name(&args.name)?;
    let (cluster, res) =
        target(&k, &ctx, args.context.as_deref(), Access::Write, &args.kind, args.api_version.as_deref(), "delete")
            .await?;
    let ns = namespace_for(&k, &ctx, &cluster, &res, args.namespace.as_deref(), true)?;
    let api = dyn_api(&cluster, &res, ns.as_deref());
    let params = DeleteParams {
        dry_run: args.dry_run,
        grace_period_seconds: args.grace_period_seconds,
        propagation_policy: Some(match args.propagation {
            Propagation::Background => PropagationPolicy::Background,
            Propagation::Foreground => PropagationPolicy::Foreground,
            Propagation::Orphan => PropagationPolicy::Orphan,
        }),
        ..Default::default()
    };
    let op = Op::new("delete", &res.qualified()).name(&args.name).namespace(ns.as_deref()).context(&cluster.name);
    let done = api.delete(&args.name, &params).await.map_err(|e| api_error(e, &op))?;
    // The server answers with the object while its deletion waits (finalizers, or
    // dependents first under Foreground), with a Status once it is gone.
    let waiting = done.left().map(|o| o.metadata.finalizers.unwrap_or_default());
    let state = match waiting {
        _ if args.dry_run => "would be deleted (server dry run, nothing deleted)".to_string(),
        None => "deleted".into(),
        Some(f) if f.is_empty() => "deletion started (the object is still there for now)".into(),
        Some(f) => format!(
            "deletion started: it stays until its finalizers are removed ({}){}",
            clip(&f.join(", "), 500),
            if f.iter().any(|f| f == "foregroundDeletion") { "; its dependents go first" } else { "" }
        ),
    };
    let outcome = format!("{} {state}", object_ref(&res, &args.name, ns.as_deref()));
    Ok(Rendered {
        text: outcome.clone() + "\n",
        data: ChangeResult {
            context: cluster.name.clone(),
            resource: res.qualified(),
            name: args.name,
            namespace: ns,
            dry_run: args.dry_run,
            resource_version: None,
            outcome,
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn manifests_split_and_check() {
        let docs = parse_manifest("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\n---\n---\n{\"apiVersion\":\"v1\",\"kind\":\"List\",\"items\":[{\"apiVersion\":\"v1\",\"kind\":\"Secret\",\"metadata\":{\"name\":\"b\"}}]}")
            .expect("parse");
        assert_eq!(docs.len(), 2);
        assert_eq!(docs[1]["kind"], "Secret");
        assert!(parse_manifest("kind: [unclosed").is_err());
        assert!(parse_manifest("apiVersion: v1\nkind: ConfigMap\nmetadata: {}\n").is_err());
        assert!(parse_manifest("- 1\n- 2\n").is_err());
        assert!(parse_manifest("").is_err());
    }
}
