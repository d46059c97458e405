//! Generic resources through discovery (CRDs included): `resources_list` (tables, field
//! projection, counts, continue cursors), `resources_get`, `resources_describe` (the
//! object, its conditions explained, its events), `api_resources`, `explain_resource`.

use std::sync::Arc;

use base64::Engine;
use kube::api::ListParams;
use mcp_core::connector::bounded::value_size;
use mcp_core::server::ServerBuilder;
use mcp_core::{Context, ToolError, tool_with};
use schemars::JsonSchema;
use serde::de::IgnoredAny;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::{check_name, dyn_api, namespace_for, raw_api, target};
use crate::clusters::{Access, Clusters, check_namespace, namespace_scope};
use crate::config::Toolset;
use crate::discovery::Resource;
use crate::errors::{Op, api_error};
use crate::output::{Prebuilt, Rendered, age, at, cell, clip, cut_text, document, lookup, project, table, trim};

pub fn register(builder: ServerBuilder, k: &Arc<Clusters>) -> ServerBuilder {
    builder
        .tool(
            tool_with("resources_list", k, resources_list)
                .toolset(Toolset::Core.name())
                .title("List resources of any kind")
                .description(
                    "Lists objects of one kind (pods, deployments, services, CRDs: any name api_resources shows) as a \
                     kubectl-style table. Filter with label_selector / field_selector; `fields` projects just those \
                     paths (e.g. [\"metadata.name\",\"status.phase\"]); count_only returns only counts. Bounded: a cut \
                     list returns `continue`, pass it back for the next rows.",
                )
                .read_only(),
        )
        .tool(
            tool_with("resources_get", k, resources_get)
                .toolset(Toolset::Core.name())
                .title("Get one object")
                .description(
                    "One object as compact YAML (or JSON): managedFields and noisy annotations removed, Secret values \
                     and sensitive env values masked. `fields` returns only those paths.",
                )
                .read_only(),
        )
        .tool(
            tool_with("resources_describe", k, resources_describe)
                .toolset(Toolset::Core.name())
                .title("Describe an object")
                .description(
                    "What is going on with one object: its key facts, status conditions explained, container states \
                     for pods, and its recent events (newest last). Start here when something is not working.",
                )
                .read_only(),
        )
        .tool(
            tool_with("api_resources", k, api_resources)
                .toolset(Toolset::Core.name())
                .title("List resource kinds")
                .description(
                    "Every resource kind the cluster serves (CRDs included): name, short names, apiVersion, namespaced, \
                     kind, verbs. Filter by `group` or `search`.",
                )
                .read_only(),
        )
        .tool(
            tool_with("explain_resource", k, explain_resource)
                .toolset(Toolset::Core.name())
                .title("Explain a kind's fields")
                .description(
                    "The fields of a kind, or of one field path (e.g. kind=pods field=spec.containers.resources), with \
                     types and descriptions, from the cluster's OpenAPI schema (CRDs included).",
                )
                .read_only(),
        )
}

/// How a list is rendered.
#[derive(Debug, Clone, Copy, Default, Deserialize, JsonSchema, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum ListOutput {
    /// A kubectl-style table (default).
    #[default]
    Table,
    /// Each object as compact YAML.
    Yaml,
    /// Each object as JSON.
    Json,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ListArgs {
    /// Kubeconfig context (default: the server's default context).
    #[serde(default)]
    pub context: Option<String>,
    /// The kind: plural, singular, Kind or short name (`pods`, `Pod`, `po`), optionally
    /// `name.group` (`deployments.apps`, `widgets.example.com`).
    pub kind: String,
    /// Pins the group/version, e.g. `apps/v1` (default: the preferred version).
    #[serde(default)]
    pub api_version: Option<String>,
    /// Namespace (default: the context's). Ignored for cluster-scoped kinds.
    #[serde(default)]
    pub namespace: Option<String>,
    /// Every namespace (the allowed ones when a namespace allowlist applies).
    #[serde(default)]
    pub all_namespaces: bool,
    /// e.g. `app=web,tier!=cache`.
    #[serde(default)]
    pub label_selector: Option<String>,
    /// e.g. `status.phase=Running` or `metadata.name=x` (what the server supports).
    #[serde(default)]
    pub field_selector: Option<String>,
    /// Most rows to return (default and maximum: the server's row limit).
    #[serde(default)]
    pub limit: Option<usize>,
    /// The `continue` value of a previous, cut listing.
    #[serde(default, rename = "continue")]
    pub continue_token: Option<String>,
    /// Only count the matching objects (per namespace).
    #[serde(default)]
    pub count_only: bool,
    /// Only these dotted paths of each object (`metadata.name`, `status.phase`,
    /// `spec.containers.image`); they become the table's columns.
    #[serde(default)]
    pub fields: Vec<String>,
    /// table (default), yaml or json.
    #[serde(default)]
    pub output: ListOutput,
}

#[derive(Debug, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ListResult {
    pub context: String,
    /// `plural.group`.
    pub resource: String,
    /// The namespace listed, or `*` for all.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    /// Rows (column name → value), projected objects, or whole objects, as asked.
    pub items: Vec<Value>,
    pub returned: usize,
    /// Pass as `continue` for the next rows; absent when the list is complete.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub r#continue: Option<String>,
    /// Objects after these, when the server says.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub remaining: Option<i64>,
    /// Counts per namespace (count_only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub counts: Option<serde_json::Map<String, Value>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub total: Option<u64>,
}

impl ListResult {
    /// The structured content, moved into a JSON value: serializing the struct would copy
    /// every row (`serde_json::to_value`); a test keeps the two identical.
    fn into_value(self) -> Value {
        let mut m = serde_json::Map::new();
        m.insert("context".into(), Value::String(self.context));
        m.insert("resource".into(), Value::String(self.resource));
        if let Some(ns) = self.namespace {
            m.insert("namespace".into(), Value::String(ns));
        }
        m.insert("items".into(), Value::Array(self.items));
        m.insert("returned".into(), json!(self.returned));
        if let Some(c) = self.r#continue {
            m.insert("continue".into(), Value::String(c));
        }
        if let Some(r) = self.remaining {
            m.insert("remaining".into(), json!(r));
        }
        if let Some(c) = self.counts {
            m.insert("counts".into(), Value::Object(c));
        }
        if let Some(t) = self.total {
            m.insert("total".into(), json!(t));
        }
        Value::Object(m)
    }
}

/// Where a cut listing resumes: which namespace of the list, the server's continue token
/// for the page it was in, and how many of that page's objects were already returned.
#[derive(Debug, Default, Serialize, Deserialize, PartialEq)]
struct Cursor {
    #[serde(default)]
    n: usize,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    c: Option<String>,
    #[serde(default)]
    s: usize,
}

impl Cursor {
    fn encode(&self) -> String {
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(serde_json::to_vec(self).unwrap_or_default())
    }
    fn decode(s: &str) -> Result<Self, ToolError> {
        base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(s.trim())
            .ok()
            .and_then(|b| serde_json::from_slice(&b).ok())
            .ok_or_else(|| {
                ToolError::invalid_arguments("`continue`: not a value this server returned; list again without it")
            })
    }
}

/// The namespaces a list covers: `[None]` for one request (cluster-scoped, or all
/// namespaces without an allowlist), else each allowed or chosen namespace.
fn list_namespaces(
    k: &Clusters,
    ctx: &Context,
    cluster: &crate::clusters::Connection,
    res: &Resource,
    namespace: Option<&str>,
    all: bool,
) -> Result<Vec<Option<String>>, ToolError> {
    if !res.namespaced {
        return Ok(vec![None]);
    }
    let scope = namespace_scope(&k.settings, ctx);
    if all {
        return Ok(match scope {
            Some(allowed) => allowed.into_iter().map(Some).collect(),
            None => vec![None],
        });
    }
    let ns = namespace_for(k, ctx, cluster, res, namespace, false)?;
    Ok(vec![ns])
}

async fn resources_list(k: Arc<Clusters>, ctx: Context, args: ListArgs) -> Result<Prebuilt<ListResult>, ToolError> {
    let (cluster, res) =
        target(&k, args.context.as_deref(), Access::Read, &args.kind, args.api_version.as_deref(), "list").await?;
    let namespaces = list_namespaces(&k, &ctx, &cluster, &res, args.namespace.as_deref(), args.all_namespaces)?;
    let scope = namespace_scope(&k.settings, &ctx);
    let ns_label = if !res.namespaced {
        None
    } else if args.all_namespaces {
        Some("*".to_string())
    } else {
        namespaces.first().cloned().flatten()
    };
    let op = |ns: Option<&str>| Op::new("list", &res.qualified()).namespace(ns).context(&cluster.name);
    let base = ListParams {
        label_selector: args.label_selector.clone().filter(|s| !s.is_empty()),
        field_selector: args.field_selector.clone().filter(|s| !s.is_empty()),
        ..Default::default()
    };
    let mut result = ListResult {
        context: cluster.name.clone(),
        resource: res.qualified(),
        namespace: ns_label.clone(),
        items: vec![],
        returned: 0,
        r#continue: None,
        remaining: None,
        counts: None,
        total: None,
    };

    if args.count_only {
        let mut counts = serde_json::Map::new();
        let mut total = 0u64;
        let mut partial = false;
        for ns in &namespaces {
            let api = raw_api(&cluster, &res, ns.as_deref());
            let mut token: Option<String> = None;
            let mut n = 0u64;
            for page in 0.. {
                if page >= 200 {
                    partial = true;
                    break;
                }
                let lp = ListParams { limit: Some(500), continue_token: token.clone(), ..base.clone() };
                let list = api.list::<IgnoredAny>(&lp).await.map_err(|e| api_error(e, &op(ns.as_deref())))?;
                n += list.items.len() as u64;
                if let Some(rest) = list.metadata.remaining_item_count.filter(|r| *r >= 0) {
                    n += rest as u64;
                    break;
                }
                match list.metadata.continue_.filter(|c| !c.is_empty()) {
                    Some(c) => token = Some(c),
                    None => break,
                }
            }
            total += n;
            counts.insert(ns.clone().unwrap_or_else(|| if res.namespaced { "*".into() } else { "".into() }), json!(n));
        }
        let mut text = format!(
            "{} {}{}{}\n",
            total,
            res.qualified(),
            ns_label.as_deref().map(|n| format!(" in namespace {n}")).unwrap_or_default(),
            if partial { " (at least: counting stopped after 100,000 per namespace)" } else { "" }
        );
        if counts.len() > 1 {
            for (ns, n) in &counts {
                text += &format!("  {ns}: {n}\n");
            }
        }
        result.counts = Some(counts);
        result.total = Some(total);
        return Ok(Prebuilt::new(text, result.into_value()));
    }

    let max_rows = k.settings.max_rows;
    let limit = args.limit.unwrap_or(max_rows).clamp(1, max_rows);
    let budget = k.settings.max_result_bytes;
    let mut cursor = match &args.continue_token {
        Some(t) if !t.is_empty() => Cursor::decode(t)?,
        _ => Cursor::default(),
    };
    if cursor.n >= namespaces.len() {
        return Err(ToolError::invalid_arguments(
            "`continue`: it does not belong to this listing; list again without it",
        ));
    }
    let columns = Columns::for_kind(&res, &args.fields, args.all_namespaces && res.namespaced);
    // The default columns read only names, counts and status fields, never a Secret value
    // or an env var: such rows skip the trimming and masking walks over each object.
    let plain_table = args.output == ListOutput::Table && args.fields.is_empty();
    let mut rows: Vec<Vec<String>> = vec![];
    let mut docs = String::new();
    let mut bytes = 0usize;
    let mut next: Option<Cursor> = None;
    'namespaces: while cursor.n < namespaces.len() {
        let ns = namespaces[cursor.n].clone();
        if let Some(ns) = &ns {
            check_namespace(&scope, ns)?;
        }
        let api = raw_api(&cluster, &res, ns.as_deref());
        let want = limit - result.items.len();
        let lp = ListParams {
            limit: Some((want + cursor.s).min(u32::MAX as usize) as u32),
            continue_token: cursor.c.clone(),
            ..base.clone()
        };
        let list = api.list::<Value>(&lp).await.map_err(|e| api_error(e, &op(ns.as_deref())))?;
        let server_continue = list.metadata.continue_.filter(|c| !c.is_empty());
        result.remaining = list.metadata.remaining_item_count;
        for (i, mut obj) in list.items.into_iter().enumerate().skip(cursor.s) {
            if result.items.len() >= limit {
                next = Some(Cursor { n: cursor.n, c: cursor.c.clone(), s: i });
                break 'namespaces;
            }
            if !plain_table {
                trim(&mut obj);
                k.masker.apply(&mut obj, &res.kind);
            }
            let (row_text, row_value, row) = match args.output {
                ListOutput::Table => {
                    let row = columns.row(&obj, ns.as_deref());
                    let value = columns.value(&row);
                    (None, value, Some(row))
                }
                ListOutput::Yaml | ListOutput::Json => {
                    let v = if args.fields.is_empty() { obj } else { project(&obj, &args.fields) };
                    let text = document(&v, args.output == ListOutput::Json);
                    (Some(text), v, None)
                }
            };
            // The text and the structured copy are each bounded: count the larger.
            let text_len = match (&row_text, &row) {
                (Some(t), _) => t.len() + 4,
                // The row as the table prints it: cells two spaces apart.
                (None, Some(r)) => r.iter().map(String::len).sum::<usize>() + 2 * r.len().saturating_sub(1),
                (None, None) => 0,
            };
            let size = text_len.max(value_size(&row_value)) + 1;
            // Always keep one row, so one large object cannot stall paging.
            if !result.items.is_empty() && bytes + size > budget {
                next = Some(Cursor { n: cursor.n, c: cursor.c.clone(), s: i });
                break 'namespaces;
            }
            bytes += size;
            result.items.push(row_value);
            if let Some(r) = row {
                rows.push(r);
            }
            if let Some(t) = row_text {
                docs += "---\n";
                docs += &t;
                docs.push('\n');
            }
        }
        match server_continue {
            Some(c) => cursor = Cursor { n: cursor.n, c: Some(c), s: 0 },
            None => cursor = Cursor { n: cursor.n + 1, c: None, s: 0 },
        }
        if result.items.len() >= limit {
            if cursor.n < namespaces.len() {
                next = Some(cursor);
            }
            break;
        }
    }
    result.returned = result.items.len();
    result.r#continue = next.map(|c| c.encode());
    let mut text = if args.output == ListOutput::Table {
        if rows.is_empty() { String::new() } else { table(&columns.headers(), &rows) }
    } else {
        docs
    };
    if result.items.is_empty() {
        text = format!(
            "No {} found{}.\n",
            res.qualified(),
            ns_label
                .as_deref()
                .map(|n| if n == "*" { " in any namespace".into() } else { format!(" in namespace {n}") })
                .unwrap_or_default()
        );
    }
    if let Some(c) = &result.r#continue {
        text += &format!(
            "[{} rows shown{}; more exist: call again with continue=\"{c}\", or narrow with selectors or fields]\n",
            result.returned,
            result.remaining.map(|r| format!(", about {r} after this page")).unwrap_or_default()
        );
    }
    Ok(Prebuilt::new(text, result.into_value()))
}

/// The columns of a table for one kind: kubectl's usual ones, or the asked fields.
struct Columns {
    with_namespace: bool,
    fields: Vec<String>,
    kind: String,
    /// The keys of a row's structured copy (lowercased headers), made once per list.
    keys: Vec<String>,
}

impl Columns {
    fn for_kind(res: &Resource, fields: &[String], with_namespace: bool) -> Self {
        let mut columns = Self { with_namespace, fields: fields.to_vec(), kind: res.kind.clone(), keys: vec![] };
        columns.keys = columns.headers().iter().map(|h| h.to_ascii_lowercase()).collect();
        columns
    }

    fn kind_headers(&self) -> Vec<&'static str> {
        match self.kind.as_str() {
            "Pod" => vec!["READY", "STATUS", "RESTARTS", "NODE", "AGE"],
            "Deployment" => vec!["READY", "UP-TO-DATE", "AVAILABLE", "AGE"],
            "StatefulSet" => vec!["READY", "AGE"],
            "ReplicaSet" => vec!["DESIRED", "READY", "AGE"],
            "DaemonSet" => vec!["DESIRED", "READY", "AVAILABLE", "AGE"],
            "Service" => vec!["TYPE", "CLUSTER-IP", "PORTS", "AGE"],
            "Node" => vec!["STATUS", "ROLES", "VERSION", "AGE"],
            "Namespace" => vec!["STATUS", "AGE"],
            "Job" => vec!["COMPLETIONS", "AGE"],
            "ConfigMap" => vec!["DATA", "AGE"],
            "Secret" => vec!["TYPE", "DATA", "AGE"],
            "Event" => vec!["TYPE", "REASON", "OBJECT", "MESSAGE"],
            "PersistentVolumeClaim" => vec!["STATUS", "VOLUME", "CAPACITY", "AGE"],
            "Ingress" => vec!["HOSTS", "AGE"],
            _ => vec!["STATUS", "AGE"],
        }
    }

    fn headers(&self) -> Vec<&str> {
        let mut h = vec![];
        if self.with_namespace {
            h.push("NAMESPACE");
        }
        if self.fields.is_empty() {
            h.push("NAME");
            h.extend(self.kind_headers());
        } else {
            h.extend(self.fields.iter().map(String::as_str));
        }
        h
    }

    fn row(&self, o: &Value, ns: Option<&str>) -> Vec<String> {
        // Fixed paths are read in place; only a path through an array (an asked field,
        // Ingress hosts) builds the values it gathers.
        let s = |p: &str| match at(o, p) {
            Some(v) => cell(v),
            None => lookup(o, p).map(|v| cell(&v)).unwrap_or_else(|| "<none>".into()),
        };
        let n = |p: &str| at(o, p).and_then(Value::as_i64).unwrap_or(0);
        let mut row = Vec::with_capacity(self.keys.len());
        if self.with_namespace {
            row.push(at(o, "metadata.namespace").map(cell).or(ns.map(str::to_string)).unwrap_or_default());
        }
        if !self.fields.is_empty() {
            row.extend(self.fields.iter().map(|f| s(f)));
            return row;
        }
        row.push(s("metadata.name"));
        let age = age(at(o, "metadata.creationTimestamp").and_then(Value::as_str));
        match self.kind.as_str() {
            "Pod" => {
                let statuses =
                    at(o, "status.containerStatuses").and_then(Value::as_array).map_or(&[][..], Vec::as_slice);
                let total = at(o, "spec.containers").and_then(Value::as_array).map_or(0, Vec::len);
                let ready = statuses.iter().filter(|c| c["ready"] == json!(true)).count();
                let restarts: i64 = statuses.iter().filter_map(|c| c["restartCount"].as_i64()).sum();
                row.extend([format!("{ready}/{total}"), pod_status(o), restarts.to_string(), s("spec.nodeName"), age]);
            }
            "Deployment" => row.extend([
                format!("{}/{}", n("status.readyReplicas"), n("spec.replicas")),
                n("status.updatedReplicas").to_string(),
                n("status.availableReplicas").to_string(),
                age,
            ]),
            "StatefulSet" => row.extend([format!("{}/{}", n("status.readyReplicas"), n("spec.replicas")), age]),
            "ReplicaSet" => row.extend([n("spec.replicas").to_string(), n("status.readyReplicas").to_string(), age]),
            "DaemonSet" => row.extend([
                n("status.desiredNumberScheduled").to_string(),
                n("status.numberReady").to_string(),
                n("status.numberAvailable").to_string(),
                age,
            ]),
            "Service" => {
                let ports = at(o, "spec.ports")
                    .and_then(Value::as_array)
                    .map_or(&[][..], Vec::as_slice)
                    .iter()
                    .map(|p| format!("{}/{}", p["port"].as_i64().unwrap_or(0), p["protocol"].as_str().unwrap_or("TCP")))
                    .collect::<Vec<_>>()
                    .join(",");
                row.extend([s("spec.type"), s("spec.clusterIP"), ports, age]);
            }
            "Node" => row.extend([node_ready(o), node_roles(o), s("status.nodeInfo.kubeletVersion"), age]),
            "Namespace" => row.extend([s("status.phase"), age]),
            "Job" => row.extend([
                format!("{}/{}", n("status.succeeded"), at(o, "spec.completions").and_then(Value::as_i64).unwrap_or(1)),
                age,
            ]),
            "ConfigMap" => {
                let count = ["data", "binaryData"]
                    .iter()
                    .filter_map(|f| o.get(f).and_then(Value::as_object))
                    .map(|m| m.len())
                    .sum::<usize>();
                row.extend([count.to_string(), age]);
            }
            "Secret" => {
                let count = o.get("data").and_then(Value::as_object).map_or(0, |m| m.len());
                row.extend([s("type"), count.to_string(), age]);
            }
            "Event" => row.extend([
                s("type"),
                s("reason"),
                format!("{}/{}", s("involvedObject.kind").to_ascii_lowercase(), s("involvedObject.name")),
                clip(&s("message"), 100),
            ]),
            "PersistentVolumeClaim" => {
                row.extend([s("status.phase"), s("spec.volumeName"), s("status.capacity.storage"), age])
            }
            "Ingress" => row.extend([s("spec.rules.host"), age]),
            _ => row.extend([generic_status(o), age]),
        }
        row
    }

    /// A table row as structured content: header → cell.
    fn value(&self, row: &[String]) -> Value {
        let mut map = serde_json::Map::new();
        for (key, c) in self.keys.iter().zip(row) {
            map.insert(key.clone(), Value::String(c.clone()));
        }
        Value::Object(map)
    }
}

/// A pod's status as kubectl shows it: a waiting or terminated reason beats the phase.
pub(crate) fn pod_status(o: &Value) -> String {
    if o.pointer("/metadata/deletionTimestamp").is_some() {
        return "Terminating".into();
    }
    let statuses = o.pointer("/status/containerStatuses").and_then(Value::as_array).map_or(&[][..], Vec::as_slice);
    for c in statuses {
        if let Some(r) = c.pointer("/state/waiting/reason").and_then(Value::as_str) {
            return r.into();
        }
        if let Some(r) = c.pointer("/state/terminated/reason").and_then(Value::as_str)
            && o.pointer("/status/phase").and_then(Value::as_str) != Some("Succeeded")
        {
            return r.into();
        }
    }
    o.pointer("/status/phase").and_then(Value::as_str).unwrap_or("Unknown").to_string()
}

fn node_ready(o: &Value) -> String {
    let ready = o
        .pointer("/status/conditions")
        .and_then(Value::as_array)
        .and_then(|c| c.iter().find(|c| c["type"] == "Ready"))
        .map(|c| if c["status"] == "True" { "Ready" } else { "NotReady" })
        .unwrap_or("Unknown");
    if o.pointer("/spec/unschedulable") == Some(&json!(true)) {
        format!("{ready},SchedulingDisabled")
    } else {
        ready.into()
    }
}

pub(crate) fn node_roles(o: &Value) -> String {
    let roles: Vec<&str> = o
        .pointer("/metadata/labels")
        .and_then(Value::as_object)
        .map(|l| l.keys().filter_map(|k| k.strip_prefix("node-role.kubernetes.io/")).collect())
        .unwrap_or_default();
    if roles.is_empty() { "<none>".into() } else { roles.join(",") }
}

/// A status for any kind: the phase, else the Ready/Available condition.
fn generic_status(o: &Value) -> String {
    if let Some(p) = o.pointer("/status/phase").and_then(Value::as_str) {
        return p.into();
    }
    let conditions = o.pointer("/status/conditions").and_then(Value::as_array).map_or(&[][..], Vec::as_slice);
    for t in ["Ready", "Available", "Established"] {
        if let Some(c) = conditions.iter().find(|c| c["type"] == t) {
            return format!("{t}={}", c["status"].as_str().unwrap_or("?"));
        }
    }
    "<none>".into()
}

#[derive(Debug, Clone, Copy, Default, Deserialize, JsonSchema, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum DocOutput {
    #[default]
    Yaml,
    Json,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct GetArgs {
    /// Kubeconfig context (default: the server's default context).
    #[serde(default)]
    pub context: Option<String>,
    /// The kind (`pods`, `Deployment`, `widgets.example.com`, ...).
    pub kind: String,
    #[serde(default)]
    pub api_version: Option<String>,
    pub name: String,
    /// Namespace (default: the context's). Ignored for cluster-scoped kinds.
    #[serde(default)]
    pub namespace: Option<String>,
    /// Only these dotted paths (`status`, `spec.containers.image`).
    #[serde(default)]
    pub fields: Vec<String>,
    /// yaml (default) or json.
    #[serde(default)]
    pub output: DocOutput,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct ObjectResult {
    pub context: String,
    pub resource: String,
    /// The object, trimmed and masked (or the projected fields).
    pub object: Value,
    /// The text was cut to the server's result limit.
    pub truncated: bool,
}

/// Fetches one object, trimmed and masked.
pub(crate) async fn fetch_object(
    k: &Clusters,
    ctx: &Context,
    context: Option<&str>,
    kind: &str,
    api_version: Option<&str>,
    name: &str,
    namespace: Option<&str>,
) -> Result<(Arc<crate::clusters::Connection>, Resource, Option<String>, Value), ToolError> {
    check_name(name)?;
    let (cluster, res) = target(k, context, Access::Read, kind, api_version, "get").await?;
    let ns = namespace_for(k, ctx, &cluster, &res, namespace, false)?;
    let api = raw_api(&cluster, &res, ns.as_deref());
    let mut value = api.get(name).await.map_err(|e| {
        api_error(e, &Op::new("get", &res.qualified()).name(name).namespace(ns.as_deref()).context(&cluster.name))
    })?;
    trim(&mut value);
    k.masker.apply(&mut value, &res.kind);
    Ok((cluster, res, ns, value))
}

async fn resources_get(k: Arc<Clusters>, ctx: Context, args: GetArgs) -> Result<Prebuilt<ObjectResult>, ToolError> {
    let (cluster, res, _, value) = fetch_object(
        &k,
        &ctx,
        args.context.as_deref(),
        &args.kind,
        args.api_version.as_deref(),
        &args.name,
        args.namespace.as_deref(),
    )
    .await?;
    let value = if args.fields.is_empty() { value } else { project(&value, &args.fields) };
    let (text, truncated) = cut_text(
        document(&value, args.output == DocOutput::Json),
        k.settings.max_result_bytes,
        "ask for less with `fields` (e.g. [\"status\"])",
    );
    // Moved into the structured content, not serialized into a copy.
    let value = json!({"context": cluster.name, "resource": res.qualified(), "object": value, "truncated": truncated});
    Ok(Prebuilt::new(text, value))
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct DescribeArgs {
    /// Kubeconfig context (default: the server's default context).
    #[serde(default)]
    pub context: Option<String>,
    pub kind: String,
    #[serde(default)]
    pub api_version: Option<String>,
    pub name: String,
    #[serde(default)]
    pub namespace: Option<String>,
    /// Most events to show (default 20).
    #[serde(default)]
    pub events: Option<usize>,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct DescribeResult {
    pub context: String,
    pub resource: String,
    pub name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    /// Status conditions, each with what it means.
    pub conditions: Vec<Value>,
    /// Recent events about the object, oldest first.
    pub events: Vec<Value>,
}

/// What a condition means, for the well-known ones.
fn explain_condition(kind: &str, t: &str, status: &str) -> &'static str {
    match (kind, t, status) {
        ("Pod", "PodScheduled", "False") => {
            "the scheduler found no node for the pod (resources, taints, affinity): see events"
        }
        ("Pod", "Initialized", "False") => "init containers have not all completed",
        ("Pod", "ContainersReady" | "Ready", "False") => "some containers are not ready: see their states below",
        ("Pod", "Ready", "True") => "the pod serves traffic",
        ("Deployment", "Available", "False") => "fewer replicas are available than the minimum the strategy needs",
        ("Deployment", "Available", "True") => "enough replicas are available",
        ("Deployment", "Progressing", "False") => "the rollout is stuck (progressDeadlineSeconds passed)",
        ("Deployment", "Progressing", "True") => "the rollout is progressing or complete",
        ("Deployment", "ReplicaFailure", "True") => {
            "pods could not be created (quota, admission, security): see events"
        }
        ("Node", "Ready", "False" | "Unknown") => "the kubelet is not healthy or not reporting",
        ("Node", "MemoryPressure" | "DiskPressure" | "PIDPressure", "True") => {
            "the node is short of this resource and may evict pods"
        }
        (_, "Ready", "True") => "ready",
        (_, "Ready", "False") => "not ready: see the reason and events",
        _ => "",
    }
}

async fn resources_describe(
    k: Arc<Clusters>,
    ctx: Context,
    args: DescribeArgs,
) -> Result<Rendered<DescribeResult>, ToolError> {
    let (cluster, res, ns, obj) = fetch_object(
        &k,
        &ctx,
        args.context.as_deref(),
        &args.kind,
        args.api_version.as_deref(),
        &args.name,
        args.namespace.as_deref(),
    )
    .await?;
    let mut text = format!("{} {}", res.kind, args.name);
    if let Some(ns) = &ns {
        text += &format!(" in namespace {ns}");
    }
    text += &format!(" (context {}, {})\n", cluster.name, res.api_version());
    text += &format!("Created: {} ago\n", age(obj.pointer("/metadata/creationTimestamp").and_then(Value::as_str)));
    if let Some(labels) = obj.pointer("/metadata/labels").and_then(Value::as_object) {
        let l: Vec<String> = labels.iter().map(|(k, v)| format!("{k}={}", v.as_str().unwrap_or_default())).collect();
        text += &format!("Labels: {}\n", clip(&l.join(", "), 500));
    }
    if let Some(owners) = obj.pointer("/metadata/ownerReferences").and_then(Value::as_array) {
        let o: Vec<String> = owners
            .iter()
            .map(|o| format!("{}/{}", o["kind"].as_str().unwrap_or("?"), o["name"].as_str().unwrap_or("?")))
            .collect();
        text += &format!("Owned by: {}\n", o.join(", "));
    }
    match res.kind.as_str() {
        "Pod" => {
            text += &format!(
                "Status: {}  Node: {}  IP: {}\n",
                pod_status(&obj),
                obj.pointer("/spec/nodeName").and_then(Value::as_str).unwrap_or("<none>"),
                obj.pointer("/status/podIP").and_then(Value::as_str).unwrap_or("<none>")
            );
            text += "Containers:\n";
            let statuses =
                obj.pointer("/status/containerStatuses").and_then(Value::as_array).cloned().unwrap_or_default();
            for c in obj.pointer("/spec/containers").and_then(Value::as_array).cloned().unwrap_or_default() {
                let name = c["name"].as_str().unwrap_or("?");
                let st = statuses.iter().find(|s| s["name"] == name);
                let state = st
                    .and_then(|s| s["state"].as_object())
                    .and_then(|m| m.iter().next().map(|(k, v)| (k.clone(), v.clone())))
                    .map(|(k, v)| {
                        let reason = v["reason"].as_str().map(|r| format!(" ({r})")).unwrap_or_default();
                        let code = v["exitCode"].as_i64().map(|c| format!(" exit code {c}")).unwrap_or_default();
                        let msg = v["message"].as_str().map(|m| format!(": {}", clip(m, 300))).unwrap_or_default();
                        format!("{k}{reason}{code}{msg}")
                    })
                    .unwrap_or_else(|| "not started".into());
                let last = st
                    .and_then(|s| s.pointer("/lastState/terminated"))
                    .map(|t| {
                        format!(
                            "; last terminated: {} exit code {}",
                            t["reason"].as_str().unwrap_or("?"),
                            t["exitCode"].as_i64().unwrap_or(0)
                        )
                    })
                    .unwrap_or_default();
                text += &format!(
                    "  {name}: image {}, {state}, ready={}, restarts={}{last}\n",
                    c["image"].as_str().unwrap_or("?"),
                    st.map(|s| s["ready"] == json!(true)).unwrap_or(false),
                    st.and_then(|s| s["restartCount"].as_i64()).unwrap_or(0)
                );
            }
        }
        "Deployment" | "StatefulSet" | "ReplicaSet" => {
            let n = |p: &str| obj.pointer(p).and_then(Value::as_i64).unwrap_or(0);
            text += &format!(
                "Replicas: {} desired, {} updated, {} ready, {} available\n",
                n("/spec/replicas"),
                n("/status/updatedReplicas"),
                n("/status/readyReplicas"),
                n("/status/availableReplicas")
            );
            let images: Vec<String> = obj
                .pointer("/spec/template/spec/containers")
                .and_then(Value::as_array)
                .map(|cs| {
                    cs.iter()
                        .map(|c| {
                            format!("{}={}", c["name"].as_str().unwrap_or("?"), c["image"].as_str().unwrap_or("?"))
                        })
                        .collect()
                })
                .unwrap_or_default();
            text += &format!("Images: {}\n", images.join(", "));
        }
        _ => {}
    }
    let mut conditions = vec![];
    if let Some(list) = obj.pointer("/status/conditions").and_then(Value::as_array) {
        text += "Conditions:\n";
        for c in list {
            let t = c["type"].as_str().unwrap_or("?");
            let s = c["status"].as_str().unwrap_or("?");
            let meaning = explain_condition(&res.kind, t, s);
            text += &format!(
                "  {t}={s}{}{}{}\n",
                c["reason"].as_str().map(|r| format!(" ({r})")).unwrap_or_default(),
                c["message"].as_str().map(|m| format!(": {}", clip(m, 300))).unwrap_or_default(),
                if meaning.is_empty() { String::new() } else { format!(" — {meaning}") }
            );
            let mut c = c.clone();
            if !meaning.is_empty() {
                c["meaning"] = json!(meaning);
            }
            conditions.push(c);
        }
    }
    // Events about this object; failing to read them (RBAC) does not fail the describe.
    let wanted = args.events.unwrap_or(20).clamp(1, 200);
    let mut events = vec![];
    let events_res =
        cluster.discovery.catalog(&cluster.client, &cluster.name, false).await?.find("events", Some("v1")).cloned();
    if let Some(ev_res) = events_res {
        let api = dyn_api(&cluster, &ev_res, ns.as_deref());
        let mut selector = format!("involvedObject.name={},involvedObject.kind={}", args.name, res.kind);
        if let Some(ns) = &ns {
            selector += &format!(",involvedObject.namespace={ns}");
        }
        match api.list(&ListParams::default().fields(&selector)).await {
            Ok(list) => {
                let mut items: Vec<Value> =
                    list.items.iter().map(|e| serde_json::to_value(e).unwrap_or(Value::Null)).collect();
                items.sort_by_key(|e| event_time(e).unwrap_or_default());
                let skip = items.len().saturating_sub(wanted);
                for e in items.into_iter().skip(skip) {
                    events.push(json!({
                        "type": e["type"], "reason": e["reason"], "message": e["message"],
                        "count": e["count"], "lastSeen": event_time(&e),
                    }));
                }
                text += "Events:\n";
                if events.is_empty() {
                    text += "  <none>\n";
                }
                for e in &events {
                    text += &format!(
                        "  {} ago  {}  {}  {}{}\n",
                        age(e["lastSeen"].as_str()),
                        e["type"].as_str().unwrap_or("?"),
                        e["reason"].as_str().unwrap_or("?"),
                        clip(&crate::output::one_line(e["message"].as_str().unwrap_or("")), 300),
                        e["count"].as_i64().filter(|c| *c > 1).map(|c| format!(" (x{c})")).unwrap_or_default()
                    );
                }
            }
            Err(e) => {
                text += &format!("Events: not readable: {}\n", crate::errors::describe(&e, &Op::new("list", "events")))
            }
        }
    }
    if let Some(spec) = obj.get("spec") {
        let (spec_text, _) = cut_text(document(spec, false), 4096, "use resources_get with fields=[\"spec\"]");
        text += &format!("Spec:\n{spec_text}");
    }
    let (text, _) = cut_text(text, k.settings.max_result_bytes, "use resources_get with `fields`");
    Ok(Rendered {
        text,
        data: DescribeResult {
            context: cluster.name.clone(),
            resource: res.qualified(),
            name: args.name,
            namespace: ns,
            conditions,
            events,
        },
    })
}

/// When an event last happened (series, lastTimestamp, eventTime or creation).
pub(crate) fn event_time(e: &Value) -> Option<String> {
    ["/series/lastObservedTime", "/lastTimestamp", "/eventTime", "/firstTimestamp", "/metadata/creationTimestamp"]
        .iter()
        .find_map(|p| e.pointer(p).and_then(Value::as_str).map(str::to_string))
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ApiResourcesArgs {
    /// Kubeconfig context (default: the server's default context).
    #[serde(default)]
    pub context: Option<String>,
    /// Only this API group (`""` or `core` for the core group, `apps`, `example.com`).
    #[serde(default)]
    pub group: Option<String>,
    /// Only kinds whose names contain this.
    #[serde(default)]
    pub search: Option<String>,
    /// Only namespaced (true) or cluster-scoped (false) kinds.
    #[serde(default)]
    pub namespaced: Option<bool>,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct ApiResourcesResult {
    pub context: String,
    pub resources: Vec<Resource>,
    /// API groups whose discovery failed, with the reason.
    pub unavailable_groups: Vec<String>,
}

async fn api_resources(
    k: Arc<Clusters>,
    _ctx: Context,
    args: ApiResourcesArgs,
) -> Result<Rendered<ApiResourcesResult>, ToolError> {
    let cluster = k.read(args.context.as_deref()).await?;
    let catalog = cluster.discovery.catalog(&cluster.client, &cluster.name, false).await?;
    let group = args.group.as_deref().map(|g| if g == "core" { "" } else { g });
    let search = args.search.as_deref().map(str::to_ascii_lowercase);
    let resources: Vec<Resource> = catalog
        .resources
        .iter()
        .filter(|r| group.is_none_or(|g| r.group == g))
        .filter(|r| args.namespaced.is_none_or(|n| r.namespaced == n))
        .filter(|r| search.as_deref().is_none_or(|s| r.name.contains(s) || r.kind.to_ascii_lowercase().contains(s)))
        .cloned()
        .collect();
    let rows: Vec<Vec<String>> = resources
        .iter()
        .map(|r| {
            vec![
                r.name.clone(),
                r.short_names.join(","),
                r.api_version(),
                r.namespaced.to_string(),
                r.kind.clone(),
                r.verbs.join(","),
            ]
        })
        .collect();
    let mut text = table(&["NAME", "SHORTNAMES", "APIVERSION", "NAMESPACED", "KIND", "VERBS"], &rows);
    let unavailable: Vec<String> =
        catalog.failed_groups.iter().map(|(g, e)| format!("{g}: {}", clip(e, 200))).collect();
    if !unavailable.is_empty() {
        text += &format!("Unavailable API groups: {}\n", unavailable.join("; "));
    }
    let (text, _) = cut_text(text, k.settings.max_result_bytes, "filter with `group` or `search`");
    Ok(Rendered {
        text,
        data: ApiResourcesResult { context: cluster.name.clone(), resources, unavailable_groups: unavailable },
    })
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ExplainArgs {
    /// Kubeconfig context (default: the server's default context).
    #[serde(default)]
    pub context: Option<String>,
    /// The kind (`pods`, `Deployment`, `widgets.example.com`).
    pub kind: String,
    #[serde(default)]
    pub api_version: Option<String>,
    /// A dotted field path inside the kind, e.g. `spec.containers.resources` (default:
    /// the top level).
    #[serde(default)]
    pub field: Option<String>,
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
    _ctx: Context,
    args: ExplainArgs,
) -> Result<Rendered<ExplainResult>, ToolError> {
    let cluster = k.read(args.context.as_deref()).await?;
    let res =
        cluster.discovery.resolve(&cluster.client, &cluster.name, &args.kind, args.api_version.as_deref()).await?;
    super::check_kind(&k, &res)?;
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_round_trip_and_reject_garbage() {
        let c = Cursor { n: 2, c: Some("abc".into()), s: 7 };
        assert_eq!(Cursor::decode(&c.encode()).expect("decode"), c);
        assert!(Cursor::decode("not a cursor!").is_err());
    }

    #[test]
    fn list_results_move_into_the_value_serde_would_write() {
        let full = || ListResult {
            context: "main".into(),
            resource: "pods".into(),
            namespace: Some("team-a".into()),
            items: vec![json!({"name": "a"}), json!({"name": "b"})],
            returned: 2,
            r#continue: Some("abc".into()),
            remaining: Some(-1),
            counts: Some(serde_json::Map::from_iter([("team-a".to_string(), json!(2))])),
            total: Some(2),
        };
        assert_eq!(full().into_value(), serde_json::to_value(full()).expect("serialize"));
        let bare =
            || ListResult { namespace: None, r#continue: None, remaining: None, counts: None, total: None, ..full() };
        assert_eq!(bare().into_value(), serde_json::to_value(bare()).expect("serialize"));
    }

    #[test]
    fn table_cells_read_fixed_paths_and_gather_through_arrays() {
        let res = Resource {
            name: "ingresses".into(),
            singular: "ingress".into(),
            kind: "Ingress".into(),
            group: "networking.k8s.io".into(),
            version: "v1".into(),
            namespaced: true,
            verbs: vec![],
            short_names: vec![],
            scalable: false,
        };
        let ing = json!({"metadata": {"name": "web", "namespace": "team-a"},
            "spec": {"rules": [{"host": "a.example"}, {"host": "b.example"}]}});
        let columns = Columns::for_kind(&res, &[], true);
        let row = columns.row(&ing, None);
        assert_eq!(row[..3], ["team-a", "web", "a.example,b.example"]);
        assert_eq!(columns.value(&row)["hosts"], "a.example,b.example");
        let columns = Columns::for_kind(&res, &["spec.rules.0.host".into(), "spec.nothing".into()], false);
        assert_eq!(columns.row(&ing, None), ["a.example", "<none>"]);
    }

    #[test]
    fn pod_status_prefers_waiting_reason() {
        let pod = json!({"status": {"phase": "Running", "containerStatuses": [{"state": {"waiting": {"reason": "CrashLoopBackOff"}}}]}});
        assert_eq!(pod_status(&pod), "CrashLoopBackOff");
    }
}
