//! Building help from the instance itself: search the node types it has installed,
//! describe one's parameters, and validate a workflow (saved or not) against them.

use std::sync::Arc;

use mcp_core::output::Prebuilt;
use mcp_core::server::ServerBuilder;
use mcp_core::{Context, ToolError, tool_with};
use schemars::JsonSchema;
use serde::Serialize;
use serde_json::{Value, json};

use super::changes::put_body;
use super::shared::fetch_workflow;
use crate::n8n::N8n;
use crate::output::{Out, clip, obj, prebuilt, rendered, text};
use crate::validate::{Catalog, Problem, Severity, is_trigger, validate, versions};
use mcp_core::connector::fit_json;
use mcp_core::security::redact::redact_json;

pub fn register(b: ServerBuilder, n: &Arc<N8n>) -> ServerBuilder {
    b.tool(
        tool_with("search_nodes", n, search_nodes)
            .toolset("building")
            .description(
                "Search the node types installed on the instance by words in their name, display name or \
                 description (e.g. `http`, `slack message`, `schedule trigger`). Rows: type, versions, trigger or \
                 not, one-line description. `offset` pages.",
            )
            .read_only(),
    )
    .tool(
        tool_with("describe_node", n, describe_node)
            .toolset("building")
            .description(
                "A node type's parameters at a version (default: the newest installed): name, type, default, \
                 required, options' values, and when each is shown (displayOptions). `parameter` narrows to one \
                 parameter with its nested options in full.",
            )
            .read_only(),
    )
    .tool(
        tool_with("validate_workflow", n, validate_workflow)
            .toolset("building")
            .description(
                "Validate a workflow against this instance's installed node types and versions: types exist, \
                 versions exist, required parameters set, option values valid, node names unique, connections \
                 reference existing nodes and outputs, webhook paths unique, settings known, and (for_publish) a \
                 trigger exists. Give `id` for a saved workflow or `workflow` ({nodes, connections, settings}). \
                 Returns every problem at once.",
            )
            .read_only(),
    )
}

mcp_core::tool_args! {
    instance: "Instance name (default: the first configured).";
    pub struct SearchArgs {
        /// Words to look for (all must match).
        query: String,
        /// Only trigger nodes (true) or only non-trigger nodes (false).
        trigger: Option<bool>,
        /// Rows (default 20, most 100).
        limit: Option<usize>,
        /// Rows to skip (for the next page).
        offset: Option<usize>,
    }
}

/// Node types matching a search, best first.
#[derive(Debug, Serialize, JsonSchema)]
pub struct NodeSearch {
    /// How many types match.
    total: usize,
    /// This page of them.
    nodes: Vec<NodeRow>,
    /// Pass as `offset` for the next page.
    #[serde(skip_serializing_if = "Option::is_none")]
    next_offset: Option<usize>,
}

/// An installed node type.
#[derive(Debug, Serialize, JsonSchema)]
pub struct NodeRow {
    /// Its type name, e.g. `n8n-nodes-base.httpRequest`.
    #[serde(rename = "type")]
    node_type: String,
    /// Its display name.
    name: String,
    /// The versions installed.
    versions: Vec<f64>,
    /// Whether it starts workflows.
    trigger: bool,
    /// What it does, in one line.
    description: String,
}

async fn search_nodes(n8n: Arc<N8n>, _ctx: Context, a: SearchArgs) -> Out<NodeSearch> {
    let inst = n8n.instances.for_read(a.instance.as_deref())?;
    let words: Vec<String> = a.query.split_whitespace().take(10).map(str::to_lowercase).collect();
    if words.is_empty() {
        return Err(ToolError::invalid_arguments("`query`: give at least one word"));
    }
    let types = inst.require_node_types().await?;
    let catalog = Catalog::new(&types);
    let mut hits: Vec<(i32, &Value)> = Vec::new();
    let mut names: Vec<&&str> = catalog.names().collect();
    names.sort();
    for name in names {
        let Some(t) = catalog.get(name, None) else { continue };
        if a.trigger.is_some_and(|want| want != is_trigger(t)) {
            continue;
        }
        let display = t["displayName"].as_str().unwrap_or_default().to_lowercase();
        let hay = format!(
            "{} {display} {}",
            name.to_lowercase(),
            t["description"].as_str().unwrap_or_default().to_lowercase()
        );
        if words.iter().all(|w| hay.contains(w)) {
            // An exact display name first, then matches in the name, then shorter names.
            let in_name = words
                .iter()
                .filter(|w| display.contains(w.as_str()) || name.to_lowercase().contains(w.as_str()))
                .count() as i32;
            let exact = if display == words.join(" ") { 100 } else { 0 };
            let score = exact + in_name * 10 - (display.len() as i32 / 8);
            hits.push((score, t));
        }
    }
    hits.sort_by_key(|(s, _)| -s);
    let limit = a.limit.unwrap_or(20).clamp(1, 100);
    let offset = a.offset.unwrap_or(0);
    let total = hits.len();
    let nodes = hits
        .iter()
        .skip(offset)
        .take(limit)
        .map(|(_, t)| {
            let name = t["name"].as_str().unwrap_or_default();
            NodeRow {
                node_type: name.to_string(),
                name: text(&t["displayName"]).unwrap_or_default(),
                versions: catalog.all_versions(name),
                trigger: is_trigger(t),
                description: clip(t["description"].as_str().unwrap_or_default(), 160),
            }
        })
        .collect();
    let next_offset = (offset + limit < total).then_some(offset + limit);
    Ok(rendered(NodeSearch { total, nodes, next_offset }))
}

mcp_core::tool_args! {
    instance: "Instance name (default: the first configured).";
    pub struct DescribeArgs {
        /// Node type, e.g. `n8n-nodes-base.httpRequest`.
        #[serde(rename = "type")]
        node_type: String,
        /// Type version (default: the newest installed).
        version: Option<f64>,
        /// Only this parameter, in full.
        parameter: Option<String>,
    }
}

/// A parameter, compactly.
fn param(p: &Value) -> Value {
    let options: Option<Vec<Value>> = p["options"].as_array().map(|opts| {
        opts.iter()
            .take(40)
            .map(|o| match (o.get("value"), o.get("name")) {
                (Some(v), _) => v.clone(),
                (None, Some(n)) => json!(format!("{} (collection)", n.as_str().unwrap_or_default())),
                _ => Value::Null,
            })
            .collect()
    });
    obj([
        ("name", p["name"].clone()),
        ("type", p["type"].clone()),
        (
            "default",
            match &p["default"] {
                Value::String(s) if s.is_empty() => Value::Null,
                Value::Object(o) if o.is_empty() => Value::Null,
                Value::Array(a) if a.is_empty() => Value::Null,
                v => redact_json(v, &[]),
            },
        ),
        ("required", if p["required"] == true { json!(true) } else { Value::Null }),
        ("options", options.map(Value::Array).unwrap_or(Value::Null)),
        ("show_when", p["displayOptions"]["show"].clone()),
        ("hide_when", p["displayOptions"]["hide"].clone()),
        ("description", p["description"].as_str().map(|d| json!(clip(d, 200))).unwrap_or(Value::Null)),
    ])
}

/// A node type's description at one version, or (with `parameter`) one parameter of it
/// in full. Parts past the result budget are cut and marked in place.
#[derive(Debug, JsonSchema)]
#[allow(dead_code)] // Only its schema is used: the description is built as JSON.
pub struct NodeDescription {
    /// Its type name.
    #[schemars(rename = "type")]
    node_type: String,
    /// The version described.
    version: f64,
    /// Its display name.
    name: Option<String>,
    /// Every version installed.
    versions: Option<Vec<f64>>,
    /// Whether it starts workflows.
    trigger: Option<bool>,
    /// What it does.
    description: Option<String>,
    /// Its inputs, or `computed` when an expression decides them.
    inputs: Option<Value>,
    /// Its outputs, or `computed`.
    outputs: Option<Value>,
    /// Credential types it takes: name, required.
    credentials: Option<Value>,
    /// Its parameters, compact: name, type, default, required, options, show_when,
    /// hide_when, description.
    parameters: Option<Value>,
    /// The versions this description covers.
    versions_in_this_description: Option<Value>,
    /// With `parameter`: that parameter, as n8n describes it.
    parameter: Option<Value>,
    /// Says the description was cut to the result budget.
    truncated: Option<String>,
}

async fn describe_node(n8n: Arc<N8n>, _ctx: Context, a: DescribeArgs) -> Result<Prebuilt<NodeDescription>, ToolError> {
    let inst = n8n.instances.for_read(a.instance.as_deref())?;
    let types = inst.require_node_types().await?;
    let catalog = Catalog::new(&types);
    let all = catalog.all_versions(&a.node_type);
    if all.is_empty() {
        let similar = catalog.similar(&a.node_type);
        return Err(ToolError::not_found(format!(
            "node type `{}` is not installed on `{}`{}",
            a.node_type,
            inst.name(),
            if similar.is_empty() {
                " (search_nodes finds installed types)".into()
            } else {
                format!("; similar: {}", similar.join(", "))
            }
        )));
    }
    let version = a.version.unwrap_or_else(|| all.last().copied().unwrap_or(1.0));
    let Some(t) = catalog.get(&a.node_type, Some(version)) else {
        return Err(ToolError::invalid_arguments(format!(
            "`version`: {} has no version {version}; installed: {all:?}",
            a.node_type
        )));
    };
    let props = t["properties"].as_array().cloned().unwrap_or_default();
    let mut out = if let Some(name) = &a.parameter {
        let found: Vec<Value> = props.iter().filter(|p| p["name"] == name.as_str()).cloned().collect();
        if found.is_empty() {
            return Err(ToolError::invalid_arguments(format!(
                "`parameter`: {} has no parameter `{name}`",
                a.node_type
            )));
        }
        json!({"type": a.node_type, "version": version, "parameter": found})
    } else {
        let creds: Vec<Value> = t["credentials"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|c| json!({"name": c["name"], "required": c["required"]}))
            .collect();
        obj([
            ("type", json!(a.node_type)),
            ("name", t["displayName"].clone()),
            ("version", json!(version)),
            ("versions", json!(all)),
            ("trigger", json!(is_trigger(t))),
            ("description", t["description"].clone()),
            ("inputs", if t["inputs"].is_array() { t["inputs"].clone() } else { json!("computed") }),
            ("outputs", if t["outputs"].is_array() { t["outputs"].clone() } else { json!("computed") }),
            ("credentials", if creds.is_empty() { Value::Null } else { Value::Array(creds) }),
            ("parameters", Value::Array(props.iter().filter(|p| p["type"] != "notice").map(param).collect())),
            ("versions_in_this_description", json!(versions(t))),
        ])
    };
    if fit_json(&mut out, n8n.settings.max_result_bytes)
        && let Value::Object(m) = &mut out
    {
        m.insert("truncated".into(), json!("cut to the result budget: ask for one `parameter` at a time"));
    }
    Ok(prebuilt(out))
}

mcp_core::tool_args! {
    instance: "Instance name (default: the first configured).";
    pub struct ValidateArgs {
        /// A saved workflow's id.
        id: Option<String>,
        /// An unsaved workflow: {name?, nodes, connections, settings?}.
        workflow: Option<Value>,
        /// Also check what publishing needs (an enabled trigger).
        #[serde(default)]
        for_publish: bool,
    }
}

/// What validation found.
#[derive(Debug, Serialize, JsonSchema)]
pub struct Validation {
    /// Whether no problem is an error.
    valid: bool,
    /// How many problems are errors.
    errors: usize,
    /// How many are warnings.
    warnings: usize,
    /// Every problem, errors first.
    problems: Vec<Problem>,
}

async fn validate_workflow(n8n: Arc<N8n>, _ctx: Context, a: ValidateArgs) -> Out<Validation> {
    let inst = n8n.instances.for_read(a.instance.as_deref())?;
    let body = match (&a.id, a.workflow) {
        (Some(id), None) => put_body(&fetch_workflow(&n8n, &inst, id).await?),
        (None, Some(wf)) if wf.is_object() => wf,
        (None, Some(_)) => {
            return Err(ToolError::invalid_arguments("`workflow` must be an object {nodes, connections}"));
        }
        _ => return Err(ToolError::invalid_arguments("give exactly one of `id` and `workflow`")),
    };
    let types = inst.node_types().await?;
    let catalog = types.as_deref().map(|t| Catalog::new(t));
    let problems = validate(&body, catalog.as_ref(), a.for_publish);
    let errors = problems.iter().filter(|p| p.severity == Severity::Error).count();
    Ok(rendered(Validation { valid: errors == 0, errors, warnings: problems.len() - errors, problems }))
}
