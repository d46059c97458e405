//! `explain_resource`: a kind's fields, or one field path's, with types and
//! descriptions from the cluster's OpenAPI schema (v3, else v2; CRDs included).

use std::sync::Arc;

use mcp_core::server::ServerBuilder;
use mcp_core::{Context, ToolError, tool_with};
use schemars::JsonSchema;
use serde::Serialize;
use serde_json::{Value, json};

use super::api::tool_args;
use crate::clusters::Clusters;
use crate::config::Toolset;
use crate::discovery::Resource;
use crate::errors::{Op, api_error};
use crate::output::{Rendered, clip, cut_text};

pub fn register(builder: ServerBuilder, k: &Arc<Clusters>) -> ServerBuilder {
    builder.tools_in(
        Toolset::Core.name(),
        [tool_with("explain_resource", k, explain_resource)
            .title("Explain a kind's fields")
            .description(
                "The fields of a kind, or of one field path (e.g. kind=pods field=spec.containers.resources), with \
                     types and descriptions, from the cluster's OpenAPI schema (CRDs included).",
            )
            .read_only()],
    )
}

tool_args! {
pub struct ExplainArgs {
    /// The kind (`pods`, `Deployment`, `widgets.example.com`).
    pub kind: String,
    pub api_version: Option<String>,
    /// A dotted field path inside the kind, e.g. `spec.containers.resources` (default:
    /// the top level).
    pub field: Option<String>,
}
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct ExplainResult {
    pub kind: String,
    pub api_version: String,
    pub field: String,
    #[serde(rename = "type")]
    pub type_name: String,
    pub description: String,
    /// name, type, required, description of each sub-field.
    pub fields: Vec<Value>,
}

async fn explain_resource(
    k: Arc<Clusters>,
    ctx: Context,
    args: ExplainArgs,
) -> Result<Rendered<ExplainResult>, ToolError> {
    let cluster = k.read(&ctx, args.context.as_deref()).await?;
    let res =
        cluster.discovery.resolve(&cluster.client, &cluster.name, &args.kind, args.api_version.as_deref()).await?;
    super::api::check_kind(&k, &res)?;
    let (doc, refs_prefix) = openapi_doc(&cluster, &res).await?;
    let schemas =
        if refs_prefix == "#/definitions/" { doc.get("definitions") } else { doc.pointer("/components/schemas") };
    let Some(schemas) = schemas.and_then(Value::as_object) else {
        return Err(ToolError::failed("the cluster's OpenAPI document has no schemas"));
    };
    let top = schemas
        .values()
        .find(|s| {
            s.get("x-kubernetes-group-version-kind").and_then(Value::as_array).is_some_and(|gvks| {
                gvks.iter().any(|g| {
                    g["group"] == res.group.as_str()
                        && g["version"] == res.version.as_str()
                        && g["kind"] == res.kind.as_str()
                })
            })
        })
        .ok_or_else(|| {
            ToolError::failed(format!("the cluster publishes no OpenAPI schema for {} {}", res.api_version(), res.kind))
        })?;
    let resolve = |s: &Value| -> Value {
        let mut s = s.clone();
        for _ in 0..8 {
            let r = s.get("$ref").and_then(Value::as_str).map(str::to_string).or_else(|| {
                s.get("allOf")
                    .and_then(Value::as_array)
                    .and_then(|a| a.first())
                    .and_then(|f| f.get("$ref"))
                    .and_then(Value::as_str)
                    .map(str::to_string)
            });
            let Some(r) = r else { break };
            let desc = s.get("description").cloned();
            let name = r.strip_prefix(refs_prefix).unwrap_or(&r);
            s = schemas.get(name).cloned().unwrap_or(Value::Null);
            if let (Some(d), Some(obj)) = (desc, s.as_object_mut()) {
                obj.insert("description".into(), d);
            }
        }
        s
    };
    let mut node = resolve(top);
    let path = args.field.clone().unwrap_or_default();
    for seg in path.split('.').filter(|s| !s.is_empty()) {
        // Through arrays and maps to their element type.
        while node.get("type") == Some(&json!("array"))
            || node.get("additionalProperties").is_some_and(Value::is_object) && node.get("properties").is_none()
        {
            node = resolve(node.get("items").or(node.get("additionalProperties")).unwrap_or(&Value::Null));
        }
        node = match node.pointer(&format!("/properties/{seg}")) {
            Some(child) => resolve(child),
            None => {
                return Err(ToolError::invalid_arguments(format!(
                    "{} has no field `{seg}` (in `{path}`); explain its parent to see the fields",
                    res.kind
                )));
            }
        };
    }
    let type_of = |s: &Value| -> String {
        let r = resolve(s);
        match r.get("type").and_then(Value::as_str) {
            Some("array") => {
                format!("[]{}", r.get("items").map(|i| type_name(&resolve(i))).unwrap_or_else(|| "?".into()))
            }
            _ => type_name(&r),
        }
    };
    let mut element = node.clone();
    while element.get("type") == Some(&json!("array")) {
        element = resolve(element.get("items").unwrap_or(&Value::Null));
    }
    let required: Vec<String> = element
        .get("required")
        .and_then(Value::as_array)
        .map(|r| r.iter().filter_map(|v| v.as_str().map(str::to_string)).collect())
        .unwrap_or_default();
    let mut fields = vec![];
    let mut lines = String::new();
    if let Some(props) = element.get("properties").and_then(Value::as_object) {
        for (name, p) in props {
            let desc = resolve(p)
                .get("description")
                .or(p.get("description"))
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_string();
            let first = desc.split(". ").next().unwrap_or("").trim().to_string();
            let t = type_of(p);
            let req = required.contains(name);
            lines += &format!(
                "  {name}\t<{t}>{}\n    {}\n",
                if req { " -required-" } else { "" },
                clip(&crate::output::one_line(&first), 200)
            );
            fields.push(json!({"name": name, "type": t, "required": req, "description": clip(&desc, 500)}));
        }
    }
    let description = node.get("description").and_then(Value::as_str).unwrap_or("").to_string();
    let type_name_s = type_of(&node);
    let mut text = format!("KIND:     {}\nVERSION:  {}\n", res.kind, res.api_version());
    if !path.is_empty() {
        text += &format!("FIELD:    {path} <{type_name_s}>\n");
    }
    text += &format!("\nDESCRIPTION:\n  {}\n", clip(&description, 2000));
    if !lines.is_empty() {
        text += &format!("\nFIELDS:\n{lines}");
    }
    let (text, _) = cut_text(text, k.settings.max_result_bytes, "explain a narrower `field`");
    Ok(Rendered {
        text,
        data: ExplainResult {
            kind: res.kind.clone(),
            api_version: res.api_version(),
            field: path,
            type_name: type_name_s,
            description,
            fields,
        },
    })
}

fn type_name(s: &Value) -> String {
    match s.get("type").and_then(Value::as_str) {
        Some("object") if s.get("properties").is_some() => "Object".into(),
        Some("object") => "map".into(),
        Some(t) => t.to_string(),
        None if s.get("properties").is_some() => "Object".into(),
        None if s.get("x-kubernetes-int-or-string").is_some() => "IntOrString".into(),
        None => "Object".into(),
    }
}

/// The OpenAPI document describing `res`: v3 per group-version, v2 when v3 is not
/// served. Returns the document and the prefix its `$ref`s use.
async fn openapi_doc(
    cluster: &crate::clusters::Connection,
    res: &Resource,
) -> Result<(Arc<Value>, &'static str), ToolError> {
    let gv_path = if res.group.is_empty() {
        format!("api/{}", res.version)
    } else {
        format!("apis/{}/{}", res.group, res.version)
    };
    if let Some(doc) = cluster.discovery.openapi_doc(&gv_path).await {
        return Ok((doc, "#/components/schemas/"));
    }
    if let Some(doc) = cluster.discovery.openapi_doc("v2").await {
        return Ok((doc, "#/definitions/"));
    }
    let op = Op::new("get", "/openapi/v3").context(&cluster.name);
    let get = |path: String| {
        let client = cluster.client.clone();
        async move {
            let req = http::Request::get(path).body(Vec::new()).map_err(|e| ToolError::failed(e.to_string()))?;
            Ok::<_, ToolError>(client.request::<Value>(req).await)
        }
    };
    match get("/openapi/v3".into()).await? {
        Ok(index) => {
            let url = index
                .pointer(&format!("/paths/{}", gv_path.replace('~', "~0").replace('/', "~1")))
                .and_then(|p| p.get("serverRelativeURL"))
                .and_then(Value::as_str)
                .ok_or_else(|| {
                    ToolError::failed(format!("the cluster publishes no OpenAPI v3 document for {gv_path}"))
                })?
                .to_string();
            let doc = Arc::new(get(url).await?.map_err(|e| api_error(e, &op))?);
            cluster.discovery.store_openapi_doc(&gv_path, doc.clone()).await;
            Ok((doc, "#/components/schemas/"))
        }
        Err(kube::Error::Api(s)) if s.code == 404 => {
            let doc =
                Arc::new(get("/openapi/v2".into()).await?.map_err(|e| api_error(e, &Op::new("get", "/openapi/v2")))?);
            cluster.discovery.store_openapi_doc("v2", doc.clone()).await;
            Ok((doc, "#/definitions/"))
        }
        Err(e) => Err(api_error(e, &op)),
    }
}
