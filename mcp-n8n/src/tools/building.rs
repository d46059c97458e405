//! Building help: search node types, describe one's parameters, and validate a workflow
//! (saved or not) against them; the types are the instance's own with a login, else the
//! offline catalogue (`crate::catalogue`), and every result names its source.

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
use crate::node_types::{Catalog, connection_types, is_trigger, kind, versions};
use crate::output::{Out, clip, obj, prebuilt, rendered, text};
use crate::validate::{Problem, Severity, validate};
use mcp_core::connector::Page;
use mcp_core::connector::fit_json;
use mcp_core::security::redact::redact_json;

pub fn register(b: ServerBuilder, n: &Arc<N8n>) -> ServerBuilder {
    b.tools_in("building", [
        tool_with("search_nodes", n, search_nodes)
            .description(
                "Search node types by words in their name, description, operations or credential types (e.g. \
                 `http`, `slack send`, `schedule trigger`, `openai chat model`), ranked name > operation > \
                 credential > description. Rows: type, versions, kind (trigger, ai_sub_node with the connection \
                 type it outputs, ai_root, node), matching operations. The instance's own types with a login, \
                 else the offline catalogue of n8n's packages; `source` says which. `offset` pages.",
            )
            .read_only(),
        tool_with("describe_node", n, describe_node)
            .description(
                "A node type at a version (default: the newest): kind, input/output connection types, \
                 credentials, operations, and its parameters: name, type, default, required, options' values, \
                 when each is shown (displayOptions). `parameter` narrows to one parameter with its nested \
                 options in full. `source` says whether the instance or the offline catalogue answered.",
            )
            .read_only(),
        tool_with("validate_workflow", n, validate_workflow)
            .description(
                "Validate a workflow against the node types (the instance's own with a login, else the offline \
                 catalogue; `source` says which): types and versions exist, required parameters set, option \
                 values valid, node names unique, connections reference existing nodes and outputs, expressions' \
                 `{{ }}` closed and the nodes they name present and upstream, AI sub-nodes connected with their \
                 type (ai_languageModel, ai_tool, ai_memory, …) and agents given a model, webhook paths unique, \
                 settings known, and (for_publish) a trigger exists. Give `id` for a saved workflow or `workflow` ({nodes, connections, settings}). \
                 Returns every problem at once.",
            )
            .read_only(),
    ])
}

mcp_core::tool_args! {
    instance: "Instance name (default: the first configured).";
    pub struct SearchArgs {
        /// Words to look for (all must match) in a node's name, description, operations or
        /// credential types.
        query: String,
        /// Only trigger nodes (true) or only non-trigger nodes (false).
        trigger: Option<bool>,
        /// Only nodes of this kind: `trigger`, `ai_sub_node` (chat models, memories, tools,
        /// …), `ai_root` (agents, chains, vector stores) or `node`.
        kind: Option<String>,
        /// Rows (default 20, most 100).
        limit: Option<usize>,
        /// Rows to skip (for the next page).
        offset: Option<usize>,
    }
}

/// Node types matching a search, best first.
#[derive(Debug, Serialize, JsonSchema)]
pub struct NodeSearch {
    /// Where the node types come from: the instance (with a login) or the offline
    /// catalogue of n8n's packages (its version).
    source: String,
    /// How many types match.
    total: usize,
    /// This page of them.
    nodes: Vec<NodeRow>,
    /// Pass as `offset` for the next page.
    #[serde(skip_serializing_if = "Option::is_none")]
    next_offset: Option<usize>,
    /// The kit's note when rows were left out, or what to try when nothing matched.
    #[serde(skip_serializing_if = "Option::is_none")]
    note: Option<String>,
}

/// A node type.
#[derive(Debug, Serialize, JsonSchema)]
pub struct NodeRow {
    /// Its type name, e.g. `n8n-nodes-base.httpRequest`.
    #[serde(rename = "type")]
    node_type: String,
    /// Its display name.
    name: String,
    /// The versions there.
    versions: Vec<f64>,
    /// Whether it starts workflows.
    trigger: bool,
    /// `trigger`, `ai_sub_node`, `ai_root` or `node`.
    kind: &'static str,
    /// For an AI sub-node: the connection types it outputs (how it connects to its root).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    connects_as: Vec<String>,
    /// Its operations matching the query (`resource.operation (what it does)`), at most 5.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    operations: Vec<String>,
    /// What it does, in one line.
    description: String,
}

/// Where a query word is found in a node type, best first.
const WEIGHTS: [(&str, i32); 4] = [("name", 10), ("operation", 5), ("credential", 4), ("description", 1)];

async fn search_nodes(n8n: Arc<N8n>, _ctx: Context, a: SearchArgs) -> Out<NodeSearch> {
    let inst = n8n.instances.for_read(a.instance.as_deref())?;
    let words: Vec<String> = a.query.split_whitespace().take(10).map(str::to_lowercase).collect();
    if words.is_empty() {
        return Err(ToolError::invalid_arguments("`query`: give at least one word"));
    }
    if let Some(k) = a.kind.as_deref().filter(|k| !KINDS.contains(k)) {
        return Err(ToolError::invalid_arguments(format!(
            "`kind`: `{}` is not one of {}",
            clip(k, 40),
            KINDS.join(", ")
        )));
    }
    let types = inst.node_types().await?;
    let catalog = Catalog::new(&types.types);
    let mut hits: Vec<(i32, &Value, Vec<String>)> = Vec::new();
    let mut names: Vec<&&str> = catalog.names().collect();
    names.sort();
    for name in names {
        let Some(t) = catalog.get(name, None) else { continue };
        if a.trigger.is_some_and(|want| want != is_trigger(t)) || a.kind.as_deref().is_some_and(|k| k != kind(t)) {
            continue;
        }
        let display = t["displayName"].as_str().unwrap_or_default().to_lowercase();
        let ops = operations(t);
        let fields = [
            format!("{} {display}", name.to_lowercase()),
            ops.join(" ").to_lowercase(),
            credential_names(t).join(" ").to_lowercase(),
            t["description"].as_str().unwrap_or_default().to_lowercase(),
        ];
        let mut score = 0;
        let all = words.iter().all(|w| {
            let best = WEIGHTS.iter().zip(&fields).filter(|(_, f)| f.contains(w.as_str())).map(|((_, s), _)| *s).max();
            score += best.unwrap_or(0);
            best.is_some()
        });
        if !all {
            continue;
        }
        // An exact display name first, then shorter names (the base node before its variants).
        if display == words.join(" ") {
            score += 100;
        }
        score -= display.len() as i32 / 8;
        let matched: Vec<String> =
            ops.into_iter().filter(|o| words.iter().any(|w| o.to_lowercase().contains(w.as_str()))).take(5).collect();
        hits.push((score, t, matched));
    }
    hits.sort_by_key(|(s, _, _)| -s);
    let limit = a.limit.unwrap_or(20).clamp(1, 100);
    let offset = a.offset.unwrap_or(0);
    let total = hits.len();
    let nodes: Vec<NodeRow> = hits
        .into_iter()
        .skip(offset)
        .take(limit)
        .map(|(_, t, operations)| {
            let name = t["name"].as_str().unwrap_or_default();
            let kind = kind(t);
            NodeRow {
                node_type: name.to_string(),
                name: text(&t["displayName"]).unwrap_or_default(),
                versions: catalog.all_versions(name),
                trigger: is_trigger(t),
                kind,
                connects_as: if kind == "ai_sub_node" { connection_types(t, "outputs").0 } else { Vec::new() },
                operations,
                description: clip(t["description"].as_str().unwrap_or_default(), 160),
            }
        })
        .collect();
    let page = Page::new(total, offset, nodes.len());
    let note = if total == 0 {
        Some(format!(
            "no node type matches all of `{}` (searched names, descriptions, operations and credential types); try \
             fewer or other words, e.g. the service's name",
            words.join(" ")
        ))
    } else {
        page.note("node types", "add words to the query")
    };
    Ok(rendered(NodeSearch { source: types.source, total, nodes, next_offset: page.next_offset, note }))
}

/// The values `kind` takes.
const KINDS: &[&str] = &["trigger", "ai_sub_node", "ai_root", "node"];

/// A node type's operations as `resource.operation (what it does)`, from its
/// `operation` parameters' options and the `resource` each is shown for.
fn operations(t: &Value) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for p in t["properties"].as_array().into_iter().flatten().filter(|p| p["name"] == "operation") {
        let resources: Vec<&str> = p["displayOptions"]["show"]["resource"]
            .as_array()
            .map(|r| r.iter().filter_map(Value::as_str).collect())
            .unwrap_or_default();
        for o in p["options"].as_array().into_iter().flatten() {
            let Some(op) = o["value"].as_str() else { continue };
            // What it does in words (`Send a message`), which is what a query says.
            let words = o["action"].as_str().or(o["name"].as_str()).filter(|w| !w.eq_ignore_ascii_case(op));
            let op = match words {
                Some(w) => format!("{op} ({w})"),
                None => op.to_string(),
            };
            let ops: Vec<String> =
                if resources.is_empty() { vec![op] } else { resources.iter().map(|r| format!("{r}.{op}")).collect() };
            for o in ops {
                if !out.contains(&o) {
                    out.push(o);
                }
            }
        }
    }
    out
}

fn credential_names(t: &Value) -> Vec<String> {
    t["credentials"].as_array().into_iter().flatten().filter_map(|c| text(&c["name"])).collect()
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
    /// Where the description comes from: the instance (with a login) or the offline
    /// catalogue of n8n's packages (its version).
    source: String,
    /// `trigger`, `ai_sub_node` (connects to a root through its `ai_*` output),
    /// `ai_root` (takes `ai_*` sub-nodes) or `node`.
    kind: Option<String>,
    /// What it does.
    description: Option<String>,
    /// n8n's advice for building with it, where it gives some.
    hint: Option<String>,
    /// Its input connection types (`main`, `ai_languageModel`, …), or {computed: true,
    /// types} when an expression decides them.
    inputs: Option<Value>,
    /// Its output connection types, likewise.
    outputs: Option<Value>,
    /// Credential types it takes: name, required.
    credentials: Option<Value>,
    /// Its operations, `resource.operation` (`parameter: "operation"` shows them in full).
    operations: Option<Vec<String>>,
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
    let types = inst.node_types().await?;
    let catalog = Catalog::new(&types.types);
    let all = catalog.all_versions(&a.node_type);
    if all.is_empty() {
        let similar = catalog.similar(&a.node_type);
        let place = match &types.offline {
            Some(_) => format!("in the {}", types.source),
            None => format!("installed on `{}`", inst.name()),
        };
        return Err(ToolError::not_found(format!(
            "node type `{}` is not {place}{}",
            clip(&a.node_type, 120),
            if similar.is_empty() {
                " (search_nodes finds node types)".into()
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
        json!({"type": a.node_type, "version": version, "source": types.source, "parameter": found})
    } else {
        let creds: Vec<Value> = t["credentials"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|c| json!({"name": c["name"], "required": c["required"]}))
            .collect();
        let ops = operations(t);
        obj([
            ("type", json!(a.node_type)),
            ("source", json!(types.source)),
            ("name", t["displayName"].clone()),
            ("version", json!(version)),
            ("versions", json!(all)),
            ("trigger", json!(is_trigger(t))),
            ("kind", json!(kind(t))),
            ("description", t["description"].clone()),
            ("hint", t["builderHint"].as_str().map(|h| json!(clip(h, 600))).unwrap_or(Value::Null)),
            ("inputs", connections(t, "inputs")),
            ("outputs", connections(t, "outputs")),
            ("credentials", if creds.is_empty() { Value::Null } else { Value::Array(creds) }),
            ("operations", if ops.is_empty() { Value::Null } else { json!(ops) }),
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

/// Inputs or outputs as connection types; `computed` when an expression decides them
/// (then the types it can give).
fn connections(t: &Value, field: &str) -> Value {
    match connection_types(t, field) {
        (types, false) => json!(types),
        (types, true) => json!({"computed": true, "types": types}),
    }
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
    /// The node types checked against: the instance's own (with a login) or the offline
    /// catalogue of n8n's packages (its version).
    source: String,
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
    let catalog = Catalog::new(&types.types).offline(types.offline.as_deref());
    let problems = validate(&body, Some(&catalog), a.for_publish);
    let errors = problems.iter().filter(|p| p.severity == Severity::Error).count();
    let source = types.source.clone();
    Ok(rendered(Validation { valid: errors == 0, errors, warnings: problems.len() - errors, problems, source }))
}
