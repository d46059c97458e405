//! The rest of the instance: tags, users, variables and projects (licence permitting,
//! with a clear message where not), credentials (never their secrets), data tables, the
//! security audit, and a health check that makes an authenticated call.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Instant;

use mcp_core::connector::bounded::json_size;
use mcp_core::connector::fit_json;
use mcp_core::output::Prebuilt;
use mcp_core::server::{ErrorKind, ServerBuilder, ToolRoute};
use mcp_core::{Context, ToolError, tool_with};
use reqwest::Method;
use schemars::JsonSchema;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Deserializer, Serialize};
use serde_json::{Value, json};

use super::shared::{Deleted, check_id};
use crate::n8n::{Instance, N8n};
use crate::output::{Out, cursor_note, prebuilt, rendered, reword};

pub fn register(b: ServerBuilder, n: &Arc<N8n>) -> ServerBuilder {
    // The lists share one shape: a page of an endpoint's rows, each trimmed to its type.
    let lists = [
        lister::<TagRow>(n, "list_tags", List::of("/tags"), "List tags (id, name). Pages: `cursor`."),
        lister::<UserRow>(
            n,
            "list_users",
            List { path: "/users", gated: Some("users"), query: &[("includeRole", "true")] },
            "List users (id, email, name, role, pending). Pages: `cursor`.",
        ),
        lister::<VariableRow>(
            n,
            "list_variables",
            List::gated("/variables", "variables"),
            "List variables (key, value) where the licence includes them. Pages: `cursor`.",
        ),
        lister::<ProjectRow>(
            n,
            "list_projects",
            List::gated("/projects", "projects"),
            "List projects (id, name, type) where the licence includes them. Pages: `cursor`.",
        ),
        lister::<CredentialRow>(
            n,
            "list_credentials",
            List::of("/credentials"),
            "List credentials: id, name, type, dates. Their secrets are never returned. Pages: `cursor`.",
        ),
        lister::<DataTableRow>(
            n,
            "list_data_tables",
            List::of("/data-tables"),
            "List data tables (id, name, columns). Pages: `cursor`.",
        ),
    ];
    let b = b.tools_in("admin", lists);
    b.tools_in(
        "admin",
        [
            tool_with("credential_schema", n, credential_schema)
                .description(
                    "The fields a credential type needs (JSON Schema), e.g. for create_credential: `httpBasicAuth`.",
                )
                .read_only(),
            tool_with("read_data_table_rows", n, read_data_table_rows)
                .description(
                    "Read rows of a data table, optionally filtered (n8n's filter JSON) and sorted. Pages: `cursor`.",
                )
                .read_only(),
            tool_with("security_audit", n, security_audit)
                .description(
                    "Run n8n's security audit (credentials, database, nodes, filesystem, instance risks) and return \
                     its findings, bounded.",
                )
                .read_only(),
            tool_with("health", n, health)
                .description(
                    "Check each instance (or one): readiness, an authenticated API call (so a wrong key or a proxy \
                     stripping the header shows), the effective API URL, latency, whether writes and runs by id are \
                     possible.",
                )
                .read_only(),
            tool_with("create_tag", n, create_tag).description("Create a tag.").additive(),
            tool_with("rename_tag", n, rename_tag).description("Rename a tag.").destructive().idempotent(),
            tool_with("delete_tag", n, delete_tag)
                .description("Delete a tag (workflows lose it).")
                .destructive()
                .idempotent(),
            tool_with("create_variable", n, create_variable)
                .description("Create a variable (licence permitting).")
                .additive(),
            tool_with("update_variable", n, update_variable)
                .description("Change a variable's key or value (licence permitting).")
                .destructive()
                .idempotent(),
            tool_with("delete_variable", n, delete_variable)
                .description("Delete a variable (licence permitting).")
                .destructive()
                .idempotent(),
            tool_with("create_credential", n, create_credential)
                .description(
                    "Create a credential of a type (credential_schema lists its fields). The secret goes to n8n and is \
                     never echoed or logged; the answer holds only id, name and type.",
                )
                .additive()
                .sensitive(["data"]),
            tool_with("delete_credential", n, delete_credential)
                .description("Delete a credential.")
                .destructive()
                .idempotent(),
            tool_with("create_data_table", n, create_data_table)
                .description("Create a data table with columns (name, type: string, number, boolean, date).")
                .additive(),
            tool_with("insert_data_table_rows", n, insert_data_table_rows)
                .description("Insert rows into a data table (at most 1000 per call).")
                .additive(),
        ],
    )
}

/// A list endpoint of the Public API.
#[derive(Debug, Clone, Copy)]
struct List {
    path: &'static str,
    /// The licence-gated feature it belongs to, for its 403's wording.
    gated: Option<&'static str>,
    /// Query parameters it always takes.
    query: &'static [(&'static str, &'static str)],
}

impl List {
    const fn of(path: &'static str) -> Self {
        List { path, gated: None, query: &[] }
    }
    const fn gated(path: &'static str, feature: &'static str) -> Self {
        List { path, gated: Some(feature), query: &[] }
    }
}

/// The tool `name` listing `list`'s rows as `T`s (what `T` does not name never reaches
/// the model).
fn lister<T>(n: &Arc<N8n>, name: &'static str, list: List, description: &'static str) -> ToolRoute
where
    T: DeserializeOwned + Serialize + JsonSchema + Send + 'static,
{
    tool_with(name, n, move |n8n: Arc<N8n>, _ctx: Context, a: PageArgs| async move {
        let inst = n8n.instances.for_read(a.instance.as_deref())?;
        let query: Vec<(&str, String)> = list.query.iter().map(|(k, v)| (*k, v.to_string())).collect();
        Ok(rendered(page::<T>(&n8n, &inst, list.path, &a, &query, list.gated).await?))
    })
    .description(description)
    .read_only()
}

mcp_core::tool_args! {
    instance: "Instance name (default: the first configured).";
    pub struct PageArgs {
        /// Rows per page (default and most: --max-rows).
        limit: Option<usize>,
        /// `next_cursor` of the previous page.
        cursor: Option<String>,
    }
}

/// One page of rows.
#[derive(Debug, Serialize, JsonSchema)]
pub struct ItemPage<T> {
    /// Rows on this page.
    count: usize,
    /// The rows.
    items: Vec<T>,
    /// Pass as `cursor` for the next page.
    #[serde(skip_serializing_if = "Option::is_none")]
    next_cursor: Option<String>,
    /// Says more rows are left, and how to get them.
    #[serde(skip_serializing_if = "Option::is_none")]
    note: Option<String>,
    /// Says rows were left out to keep to the result budget.
    #[serde(skip_serializing_if = "Option::is_none")]
    truncated: Option<String>,
}

/// One page of a list endpoint, each row read as a `T`; rows past the result budget are
/// left out, and the page says so.
async fn page<T: DeserializeOwned + Serialize>(
    n8n: &N8n,
    inst: &Instance,
    path: &str,
    a: &PageArgs,
    extra: &[(&str, String)],
    gated: Option<&'static str>,
) -> Result<ItemPage<T>, ToolError> {
    let limit = a.limit.unwrap_or(n8n.settings.max_rows).clamp(1, n8n.settings.max_rows);
    let mut q: Vec<(&str, String)> = vec![("limit", limit.to_string())];
    q.extend(extra.iter().cloned());
    if let Some(c) = &a.cursor {
        q.push(("cursor", c.clone()));
    }
    let p = match gated {
        Some(feature) => inst.gated(feature, Method::GET, path, &q, None).await?,
        None => inst.get(path, &q).await?,
    };
    let mut items = Vec::new();
    for row in p["data"].as_array().into_iter().flatten() {
        items.push(T::deserialize(row).map_err(|e| {
            ToolError::failed(format!("n8n instance `{}` answered {path} with a row not as expected: {e}", inst.name()))
        })?);
    }
    let mut cut = 0;
    while items.len() > 1 && json_size(&items) > n8n.settings.max_result_bytes {
        items.pop();
        cut += 1;
    }
    let next_cursor = p["nextCursor"].as_str().map(str::to_string);
    let note = cursor_note(items.len(), "rows", next_cursor.as_deref(), "ask for fewer with `limit`");
    let truncated = (cut > 0).then(|| format!("{cut} rows cut to the result budget: ask for fewer rows with `limit`"));
    Ok(ItemPage { count: items.len(), items, next_cursor, note, truncated })
}

/// A tag.
#[derive(Debug, Serialize, Deserialize, JsonSchema)]
pub struct TagRow {
    /// Tag id.
    id: String,
    /// Its name.
    name: String,
}

/// A user.
#[derive(Debug, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct UserRow {
    /// User id.
    id: String,
    /// Their email.
    #[serde(skip_serializing_if = "Option::is_none")]
    email: Option<String>,
    /// First name.
    #[serde(skip_serializing_if = "Option::is_none")]
    first_name: Option<String>,
    /// Last name.
    #[serde(skip_serializing_if = "Option::is_none")]
    last_name: Option<String>,
    /// Their global role, e.g. `global:owner`.
    #[serde(skip_serializing_if = "Option::is_none")]
    role: Option<Value>,
    /// Whether they have not accepted their invitation yet.
    #[serde(skip_serializing_if = "Option::is_none")]
    is_pending: Option<bool>,
}

/// A variable.
#[derive(Debug, Serialize, Deserialize, JsonSchema)]
pub struct VariableRow {
    /// Variable id.
    id: String,
    /// Its key.
    key: String,
    /// Its value.
    #[serde(skip_serializing_if = "Option::is_none")]
    value: Option<String>,
    /// Its type.
    #[serde(rename = "type", skip_serializing_if = "Option::is_none")]
    kind: Option<String>,
}

/// A project.
#[derive(Debug, Serialize, Deserialize, JsonSchema)]
pub struct ProjectRow {
    /// Project id.
    id: String,
    /// Its name.
    #[serde(skip_serializing_if = "Option::is_none")]
    name: Option<String>,
    /// `personal` or `team`.
    #[serde(rename = "type", skip_serializing_if = "Option::is_none")]
    kind: Option<String>,
}

/// A credential, without its secrets.
#[derive(Debug, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct CredentialRow {
    /// Credential id.
    id: String,
    /// Its name.
    name: String,
    /// Its type, e.g. `httpBasicAuth`.
    #[serde(rename = "type")]
    kind: String,
    /// When it was created (RFC 3339).
    #[serde(skip_serializing_if = "Option::is_none")]
    created_at: Option<String>,
    /// When it was last changed (RFC 3339).
    #[serde(skip_serializing_if = "Option::is_none")]
    updated_at: Option<String>,
}

/// A data table.
#[derive(Debug, Serialize, Deserialize, JsonSchema)]
pub struct DataTableRow {
    /// Data table id.
    id: String,
    /// Its name.
    name: String,
    /// Its columns, as `name: type`.
    #[serde(deserialize_with = "column_names")]
    columns: Vec<String>,
    /// Its project.
    #[serde(rename(deserialize = "projectId"), skip_serializing_if = "Option::is_none")]
    project_id: Option<String>,
}

/// n8n's columns (`[{name, type}]`) as `name: type` lines.
fn column_names<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<String>, D::Error> {
    let columns = Option::<Vec<Value>>::deserialize(d)?.unwrap_or_default();
    let line = |c: &Value| format!("{}: {}", c["name"].as_str().unwrap_or("?"), c["type"].as_str().unwrap_or("?"));
    Ok(columns.iter().map(line).collect())
}

mcp_core::tool_args! {
    instance: "Instance name (default: the first configured).";
    pub struct SchemaArgs {
        /// Credential type name, e.g. `httpBasicAuth`, `slackApi`.
        #[serde(rename = "type")]
        cred_type: String,
    }
}

/// What a credential type needs.
#[derive(Debug, Serialize, JsonSchema)]
pub struct CredentialSchema {
    /// The credential type.
    #[serde(rename = "type")]
    kind: String,
    /// Its fields, as n8n's JSON Schema.
    schema: Value,
}

async fn credential_schema(n8n: Arc<N8n>, _ctx: Context, a: SchemaArgs) -> Out<CredentialSchema> {
    let inst = n8n.instances.for_read(a.instance.as_deref())?;
    check_id("type", &a.cred_type)?;
    let s = inst.get(&format!("/credentials/schema/{}", a.cred_type), &[]).await.map_err(|e| match e.kind() {
        ErrorKind::NotFound => ToolError::not_found(format!(
            "no credential type `{}` on `{}` (types are named like httpBasicAuth, slackApi)",
            a.cred_type,
            inst.name()
        )),
        _ => e,
    })?;
    Ok(rendered(CredentialSchema { kind: a.cred_type, schema: s }))
}

mcp_core::tool_args! {
    instance: "Instance name (default: the first configured).";
    pub struct DataRowsArgs {
        /// Data table id.
        id: String,
        /// n8n's filter, e.g. {"type": "and", "filters": [{"columnName": "x", "condition": "eq", "value": 1}]}.
        filter: Option<Value>,
        /// Sort, e.g. `name:asc`.
        sort_by: Option<String>,
        /// Rows per page (default and most: --max-rows).
        limit: Option<usize>,
        /// `next_cursor` of the previous page.
        cursor: Option<String>,
    }
}

async fn read_data_table_rows(n8n: Arc<N8n>, _ctx: Context, a: DataRowsArgs) -> Out<ItemPage<Value>> {
    let inst = n8n.instances.for_read(a.instance.as_deref())?;
    check_id("id", &a.id)?;
    let mut extra = Vec::new();
    if let Some(f) = &a.filter {
        extra.push(("filter", f.to_string()));
    }
    if let Some(s) = &a.sort_by {
        extra.push(("sortBy", s.clone()));
    }
    let p = PageArgs { instance: a.instance.clone(), limit: a.limit, cursor: a.cursor.clone() };
    Ok(rendered(page(&n8n, &inst, &format!("/data-tables/{}/rows", a.id), &p, &extra, None).await?))
}

mcp_core::tool_args! {
    instance: "Instance name (default: the first configured).";
    pub struct AuditArgs {
        /// Only these categories: credentials, database, nodes, filesystem, instance.
        #[serde(default)]
        categories: Vec<String>,
        /// Days without execution after which a workflow counts as abandoned (default 90).
        days_abandoned_workflow: Option<u32>,
    }
}

/// n8n's security audit: one report per category with risks found (keys such as
/// `Credentials Risk Report`), cut to the result budget and marked in place.
#[derive(Debug, JsonSchema)]
#[allow(dead_code)] // Only its schema is used: the report is n8n's, passed through.
pub struct AuditReport {
    /// The reports, by category title: risk, sections (title, description,
    /// recommendation, location).
    #[serde(flatten)]
    reports: BTreeMap<String, Value>,
    /// Says the report was cut to the result budget.
    truncated: Option<String>,
}

async fn security_audit(n8n: Arc<N8n>, _ctx: Context, a: AuditArgs) -> Result<Prebuilt<AuditReport>, ToolError> {
    let inst = n8n.instances.for_read(a.instance.as_deref())?;
    let mut opts = json!({});
    if !a.categories.is_empty() {
        opts["categories"] = json!(a.categories);
    }
    if let Some(d) = a.days_abandoned_workflow {
        opts["daysAbandonedWorkflow"] = json!(d);
    }
    let mut report = inst.api(Method::POST, "/audit", &[], Some(&json!({"additionalOptions": opts}))).await?;
    if fit_json(&mut report, n8n.settings.max_result_bytes) {
        report["truncated"] = json!("cut to the result budget: ask for one category at a time");
    }
    Ok(prebuilt(report))
}

mcp_core::tool_args! {
    instance: "One instance (default: all).";
    pub struct HealthArgs {
    }
}

/// Whether the instances answer, and what this server may do on them.
#[derive(Debug, Serialize, JsonSchema)]
pub struct Health {
    /// Whether every instance checked is ready and accepts the key.
    healthy: bool,
    /// Each instance checked.
    instances: Vec<InstanceHealth>,
    /// The tag every visible workflow carries (--scope-tag), if any.
    scope_tag: Option<String>,
}

/// One instance's health.
#[derive(Debug, Serialize, JsonSchema)]
pub struct InstanceHealth {
    /// Its name.
    instance: String,
    /// The Public API's URL this server calls.
    api_url: String,
    /// Whether `/healthz/readiness` answered success.
    ready: bool,
    /// Why it did not.
    #[serde(skip_serializing_if = "Option::is_none")]
    readiness_error: Option<String>,
    /// How long the readiness check took.
    readiness_ms: u64,
    /// Whether an authenticated API call succeeded (the key is accepted).
    authenticated: bool,
    /// Why it did not.
    #[serde(skip_serializing_if = "Option::is_none")]
    api_error: Option<String>,
    /// How long that call took.
    api_ms: u64,
    /// Whether changes are allowed there.
    writable: bool,
    /// Whether a login is configured (run by id, test runs, the instance's own node types).
    run_by_id: bool,
    /// Its description from the configuration.
    #[serde(skip_serializing_if = "Option::is_none")]
    description: Option<String>,
}

async fn health(n8n: Arc<N8n>, _ctx: Context, a: HealthArgs) -> Out<Health> {
    let list: Vec<Arc<Instance>> = match &a.instance {
        Some(n) => vec![n8n.instances.for_read(Some(n))?],
        None => n8n.instances.all().to_vec(),
    };
    let mut instances = Vec::new();
    for inst in list {
        let t = Instant::now();
        let ready = inst.readiness().await;
        let readiness_ms = t.elapsed().as_millis() as u64;
        let t = Instant::now();
        let auth = inst.get("/workflows", &[("limit", "1".into())]).await;
        let api_ms = t.elapsed().as_millis() as u64;
        instances.push(InstanceHealth {
            instance: inst.name().to_string(),
            api_url: format!("{}/api/v1", inst.config.url),
            ready: ready.is_ok(),
            readiness_error: ready.err(),
            readiness_ms,
            authenticated: auth.is_ok(),
            api_error: auth.err().map(|e| e.to_string()),
            api_ms,
            writable: n8n.settings.allow_write && !inst.config.read_only,
            run_by_id: inst.config.login.is_some(),
            description: inst.config.description.clone(),
        });
    }
    let healthy = instances.iter().all(|i| i.ready && i.authenticated);
    Ok(rendered(Health { healthy, instances, scope_tag: n8n.settings.scope_tag.clone() }))
}

mcp_core::tool_args! {
    instance: "Instance name (required when several are configured).";
    pub struct NameArgs {
        /// Name.
        name: String,
    }
}
mcp_core::tool_args! {
    instance: "Instance name (required when several are configured).";
    pub struct IdArgs {
        /// Id.
        id: String,
    }
}
mcp_core::tool_args! {
    instance: "Instance name (required when several are configured).";
    pub struct RenameArgs {
        /// Tag id.
        id: String,
        /// New name.
        name: String,
    }
}

/// The instance a write names (open to writes), after checking `id` when there is one.
fn writable(n8n: &N8n, instance: Option<&str>, id: Option<&str>) -> Result<Arc<Instance>, ToolError> {
    let inst = n8n.instances.for_write(instance)?;
    if let Some(id) = id {
        check_id("id", id)?;
    }
    Ok(inst)
}

/// `T` read from n8n's answer to a change.
fn answer<T: DeserializeOwned>(inst: &Instance, value: &Value) -> Result<T, ToolError> {
    T::deserialize(value).map_err(|e| {
        ToolError::failed(format!("n8n instance `{}` answered a change not as expected: {e}", inst.name()))
    })
}

async fn create_tag(n8n: Arc<N8n>, _ctx: Context, a: NameArgs) -> Out<TagRow> {
    let inst = writable(&n8n, a.instance.as_deref(), None)?;
    let t = inst.api(Method::POST, "/tags", &[], Some(&json!({"name": a.name}))).await?;
    Ok(rendered(answer(&inst, &t)?))
}

async fn rename_tag(n8n: Arc<N8n>, _ctx: Context, a: RenameArgs) -> Out<TagRow> {
    let inst = writable(&n8n, a.instance.as_deref(), Some(&a.id))?;
    let t = inst.api(Method::PUT, &format!("/tags/{}", a.id), &[], Some(&json!({"name": a.name}))).await?;
    Ok(rendered(answer(&inst, &t)?))
}

async fn delete_tag(n8n: Arc<N8n>, _ctx: Context, a: IdArgs) -> Out<Deleted> {
    let inst = writable(&n8n, a.instance.as_deref(), Some(&a.id))?;
    let t = inst.get(&format!("/tags/{}", a.id), &[]).await?;
    if n8n.settings.scope_tag.as_deref() == t["name"].as_str() {
        return Err(ToolError::refused("the scope tag cannot be deleted through this server"));
    }
    inst.api(Method::DELETE, &format!("/tags/{}", a.id), &[], None).await?;
    Ok(rendered(Deleted { id: a.id, name: None, deleted: true }))
}

mcp_core::tool_args! {
    instance: "Instance name (required when several are configured).";
    pub struct VariableArgs {
        /// Variable id (update only).
        id: Option<String>,
        /// Key (letters, digits and `_`).
        key: String,
        /// Value.
        value: String,
    }
}

/// A variable created or changed.
#[derive(Debug, Serialize, JsonSchema)]
pub struct VariableChanged {
    /// Variable id (when changed).
    #[serde(skip_serializing_if = "Option::is_none")]
    id: Option<String>,
    /// Its key.
    key: String,
    /// True when it was created.
    #[serde(skip_serializing_if = "Option::is_none")]
    created: Option<bool>,
    /// True when it was changed.
    #[serde(skip_serializing_if = "Option::is_none")]
    updated: Option<bool>,
}

async fn create_variable(n8n: Arc<N8n>, _ctx: Context, a: VariableArgs) -> Out<VariableChanged> {
    let inst = writable(&n8n, a.instance.as_deref(), None)?;
    inst.gated("variables", Method::POST, "/variables", &[], Some(&json!({"key": a.key, "value": a.value}))).await?;
    Ok(rendered(VariableChanged { id: None, key: a.key, created: Some(true), updated: None }))
}

async fn update_variable(n8n: Arc<N8n>, _ctx: Context, a: VariableArgs) -> Out<VariableChanged> {
    let id = a.id.ok_or_else(|| ToolError::invalid_arguments("`id`: which variable (list_variables shows ids)"))?;
    let inst = writable(&n8n, a.instance.as_deref(), Some(&id))?;
    let body = json!({"key": a.key, "value": a.value});
    inst.gated("variables", Method::PUT, &format!("/variables/{id}"), &[], Some(&body)).await?;
    Ok(rendered(VariableChanged { id: Some(id), key: a.key, created: None, updated: Some(true) }))
}

async fn delete_variable(n8n: Arc<N8n>, _ctx: Context, a: IdArgs) -> Out<Deleted> {
    let inst = writable(&n8n, a.instance.as_deref(), Some(&a.id))?;
    inst.gated("variables", Method::DELETE, &format!("/variables/{}", a.id), &[], None).await?;
    Ok(rendered(Deleted { id: a.id, name: None, deleted: true }))
}

mcp_core::tool_args! {
    instance: "Instance name (required when several are configured).";
    pub struct CredentialArgs {
        /// Credential name.
        name: String,
        /// Credential type, e.g. `httpBasicAuth` (credential_schema lists its fields).
        #[serde(rename = "type")]
        cred_type: String,
        /// The fields, e.g. {"user": "...", "password": "..."}.
        data: Value,
    }
}

async fn create_credential(n8n: Arc<N8n>, _ctx: Context, a: CredentialArgs) -> Out<CredentialRow> {
    let inst = writable(&n8n, a.instance.as_deref(), None)?;
    if !a.data.is_object() {
        return Err(ToolError::invalid_arguments("`data` must be an object of the type's fields"));
    }
    let body = json!({"name": a.name, "type": a.cred_type, "data": a.data});
    // n8n's message may quote the body it refused; never echo the secret.
    let c = inst
        .api(Method::POST, "/credentials", &[], Some(&body))
        .await
        .map_err(|e| reword(e, |m| crate::output::clip(&m.replace(&a.data.to_string(), "[data]"), 600)))?;
    let mut row: CredentialRow = answer(&inst, &c)?;
    // The answer is what was created: only its creation date, as before.
    row.updated_at = None;
    Ok(rendered(row))
}

async fn delete_credential(n8n: Arc<N8n>, _ctx: Context, a: IdArgs) -> Out<Deleted> {
    let inst = writable(&n8n, a.instance.as_deref(), Some(&a.id))?;
    let c = inst.api(Method::DELETE, &format!("/credentials/{}", a.id), &[], None).await?;
    Ok(rendered(Deleted { id: a.id, name: c["name"].as_str().map(str::to_string), deleted: true }))
}

mcp_core::tool_args! {
    instance: "Instance name (required when several are configured).";
    pub struct TableArgs {
        /// Table name.
        name: String,
        /// Columns: [{"name": "x", "type": "string"}].
        columns: Vec<Value>,
    }
}

/// A data table just created.
#[derive(Debug, Serialize, Deserialize, JsonSchema)]
pub struct DataTableCreated {
    /// Data table id.
    id: String,
    /// Its name.
    name: String,
    /// Its columns, as n8n describes them (name, type, index, ...).
    #[serde(skip_serializing_if = "Option::is_none")]
    columns: Option<Value>,
}

async fn create_data_table(n8n: Arc<N8n>, _ctx: Context, a: TableArgs) -> Out<DataTableCreated> {
    let inst = writable(&n8n, a.instance.as_deref(), None)?;
    let t = inst.api(Method::POST, "/data-tables", &[], Some(&json!({"name": a.name, "columns": a.columns}))).await?;
    Ok(rendered(answer(&inst, &t)?))
}

mcp_core::tool_args! {
    instance: "Instance name (required when several are configured).";
    pub struct InsertArgs {
        /// Data table id.
        id: String,
        /// Rows: objects keyed by column name.
        rows: Vec<Value>,
    }
}

/// Rows inserted.
#[derive(Debug, Serialize, JsonSchema)]
pub struct Inserted {
    /// Data table id.
    id: String,
    /// How many rows were sent.
    inserted: usize,
    /// n8n's answer (the count it inserted).
    answer: Value,
}

async fn insert_data_table_rows(n8n: Arc<N8n>, _ctx: Context, a: InsertArgs) -> Out<Inserted> {
    let inst = writable(&n8n, a.instance.as_deref(), Some(&a.id))?;
    if a.rows.is_empty() || a.rows.len() > 1000 || !a.rows.iter().all(Value::is_object) {
        return Err(ToolError::invalid_arguments("`rows`: 1 to 1000 objects keyed by column name"));
    }
    let body = json!({"data": a.rows, "returnType": "count"});
    let answer = inst.api(Method::POST, &format!("/data-tables/{}/rows", a.id), &[], Some(&body)).await?;
    Ok(rendered(Inserted { id: a.id, inserted: a.rows.len(), answer }))
}
