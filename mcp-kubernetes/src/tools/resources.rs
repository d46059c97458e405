//! Generic resources through discovery (CRDs included): `resources_list` (tables, field
//! projection, counts, continue cursors), `resources_get` and `api_resources`;
//! `describe` and `explain` are their own modules, and `tables` draws the tables.

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

use super::api::{check_name, namespace_for, raw_api, target, tool_args};
use super::tables::Columns;
use crate::clusters::{Access, Clusters, check_namespace, namespace_scope};
use crate::config::Toolset;
use crate::discovery::Resource;
use crate::errors::{Op, api_error};
use crate::output::{Prebuilt, Rendered, clip, cut_text, document, project, table, trim};

pub fn register(builder: ServerBuilder, k: &Arc<Clusters>) -> ServerBuilder {
    builder.tools_in(
        Toolset::Core.name(),
        [
            tool_with("resources_list", k, resources_list)
                .title("List resources of any kind")
                .description(
                    "Lists objects of one kind (pods, deployments, services, CRDs: any name api_resources shows) as a \
                     kubectl-style table. Filter with label_selector / field_selector; `fields` projects just those \
                     paths (e.g. [\"metadata.name\",\"status.phase\"]); count_only returns only counts. Bounded: a cut \
                     list returns `continue`, pass it back for the next rows.",
                )
                .read_only(),
            tool_with("resources_get", k, resources_get)
                .title("Get one object")
                .description(
                    "One object as compact YAML (or JSON): managedFields and noisy annotations removed, Secret values \
                     and sensitive env values masked. `fields` returns only those paths.",
                )
                .read_only(),
            tool_with("api_resources", k, api_resources)
                .title("List resource kinds")
                .description(
                    "Every resource kind the cluster serves (CRDs included): name, short names, apiVersion, namespaced, \
                     kind, verbs. Filter by `group` or `search`.",
                )
                .read_only(),
        ],
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

tool_args! {
pub struct ListArgs {
    /// The kind: plural, singular, Kind or short name (`pods`, `Pod`, `po`), optionally
    /// `name.group` (`deployments.apps`, `widgets.example.com`).
    pub kind: String,
    /// Pins the group/version, e.g. `apps/v1` (default: the preferred version).
    pub api_version: Option<String>,
    /// Namespace (default: the context's). Ignored for cluster-scoped kinds.
    pub namespace: Option<String>,
    /// Every namespace (the allowed ones when a namespace allowlist applies).
    #[serde(default)]
    pub all_namespaces: bool,
    /// e.g. `app=web,tier!=cache`.
    pub label_selector: Option<String>,
    /// e.g. `status.phase=Running` or `metadata.name=x` (what the server supports).
    pub field_selector: Option<String>,
    /// Most rows to return (default and maximum: the server's row limit).
    pub limit: Option<usize>,
    /// The `continue` value of a previous, cut listing.
    #[serde(rename = "continue")]
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
    /// The server's continue token had expired (HTTP 410: the API server compacted the
    /// history it pointed into), so the listing restarted from its namespace's first row:
    /// rows shown before may come again.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub restarted: bool,
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
        if self.restarted {
            m.insert("restarted".into(), Value::Bool(true));
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
    #[serde(skip_serializing_if = "Option::is_none")]
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

pub(crate) async fn resources_list(
    k: Arc<Clusters>,
    ctx: Context,
    args: ListArgs,
) -> Result<Prebuilt<ListResult>, ToolError> {
    let (cluster, res) =
        target(&k, &ctx, args.context.as_deref(), Access::Read, &args.kind, args.api_version.as_deref(), "list")
            .await?;
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
        restarted: false,
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
                let list = match api.list::<IgnoredAny>(&lp).await {
                    // The token expired under a long count: count this namespace again.
                    Err(kube::Error::Api(e)) if e.code == 410 && token.is_some() => {
                        (n, token) = (0, None);
                        continue;
                    }
                    other => other.map_err(|e| api_error(e, &op(ns.as_deref())))?,
                };
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
        let list = match api.list::<Value>(&lp).await {
            // An expired token (the server compacted past it) cannot be resumed: list
            // this namespace again from its start, and say so.
            Err(kube::Error::Api(e)) if e.code == 410 && cursor.c.is_some() => {
                result.restarted = true;
                cursor = Cursor { n: cursor.n, c: None, s: 0 };
                let lp = ListParams { limit: Some(want.min(u32::MAX as usize) as u32), ..base.clone() };
                api.list::<Value>(&lp).await.map_err(|e| api_error(e, &op(ns.as_deref())))?
            }
            other => other.map_err(|e| api_error(e, &op(ns.as_deref())))?,
        };
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
    if result.restarted {
        text += "[the server's continue token had expired (HTTP 410), so the listing restarted from the first row: rows shown before may appear again]\n";
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

#[derive(Debug, Clone, Copy, Default, Deserialize, JsonSchema, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum DocOutput {
    #[default]
    Yaml,
    Json,
}

tool_args! {
pub struct GetArgs {
    /// The kind (`pods`, `Deployment`, `widgets.example.com`, ...).
    pub kind: String,
    pub api_version: Option<String>,
    pub name: String,
    /// Namespace (default: the context's). Ignored for cluster-scoped kinds.
    pub namespace: Option<String>,
    /// Only these dotted paths (`status`, `spec.containers.image`).
    #[serde(default)]
    pub fields: Vec<String>,
    /// yaml (default) or json.
    #[serde(default)]
    pub output: DocOutput,
}
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
    let (cluster, res) = target(k, ctx, context, Access::Read, kind, api_version, "get").await?;
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

tool_args! {
pub struct ApiResourcesArgs {
    /// Only this API group (`""` or `core` for the core group, `apps`, `example.com`).
    pub group: Option<String>,
    /// Only kinds whose names contain this.
    pub search: Option<String>,
    /// Only namespaced (true) or cluster-scoped (false) kinds.
    pub namespaced: Option<bool>,
}
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
    ctx: Context,
    args: ApiResourcesArgs,
) -> Result<Rendered<ApiResourcesResult>, ToolError> {
    let cluster = k.read(&ctx, args.context.as_deref()).await?;
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
            restarted: true,
        };
        assert_eq!(full().into_value(), serde_json::to_value(full()).expect("serialize"));
        let bare = || ListResult {
            namespace: None,
            r#continue: None,
            remaining: None,
            counts: None,
            total: None,
            restarted: false,
            ..full()
        };
        assert_eq!(bare().into_value(), serde_json::to_value(bare()).expect("serialize"));
    }
}
