//! The rest of the instance: tags, users, variables and projects (licence permitting,
//! with a clear message where not), credentials (never their secrets), data tables, the
//! security audit, and a health check that makes an authenticated call.

use std::sync::Arc;
use std::time::Instant;

use mcp_core::server::{ErrorKind, ServerBuilder};
use mcp_core::{Context, Json, ToolError, tool_with};
use reqwest::Method;
use schemars::JsonSchema;
use serde::Deserialize;
use serde_json::{Value, json};

use super::check_id;
use crate::n8n::{Instance, N8n};
use crate::output::obj;
use mcp_core::connector::fit_json;

pub fn register(b: ServerBuilder, n: &Arc<N8n>) -> ServerBuilder {
    b.tool(
        tool_with("list_tags", n, list_tags)
            .toolset("admin")
            .description("List tags (id, name). Pages: `cursor`.")
            .read_only(),
    )
    .tool(
        tool_with("list_users", n, list_users)
            .toolset("admin")
            .description("List users (id, email, name, role, pending). Pages: `cursor`.")
            .read_only(),
    )
    .tool(
        tool_with("list_variables", n, list_variables)
            .toolset("admin")
            .description("List variables (key, value) where the licence includes them. Pages: `cursor`.")
            .read_only(),
    )
    .tool(
        tool_with("list_projects", n, list_projects)
            .toolset("admin")
            .description("List projects (id, name, type) where the licence includes them. Pages: `cursor`.")
            .read_only(),
    )
    .tool(
        tool_with("list_credentials", n, list_credentials)
            .toolset("admin")
            .description("List credentials: id, name, type, dates. Their secrets are never returned. Pages: `cursor`.")
            .read_only(),
    )
    .tool(
        tool_with("credential_schema", n, credential_schema)
            .toolset("admin")
            .description(
                "The fields a credential type needs (JSON Schema), e.g. for create_credential: `httpBasicAuth`.",
            )
            .read_only(),
    )
    .tool(
        tool_with("list_data_tables", n, list_data_tables)
            .toolset("admin")
            .description("List data tables (id, name, columns). Pages: `cursor`.")
            .read_only(),
    )
    .tool(
        tool_with("read_data_table_rows", n, read_data_table_rows)
            .toolset("admin")
            .description(
                "Read rows of a data table, optionally filtered (n8n's filter JSON) and sorted. Pages: `cursor`.",
            )
            .read_only(),
    )
    .tool(
        tool_with("security_audit", n, security_audit)
            .toolset("admin")
            .description(
                "Run n8n's security audit (credentials, database, nodes, filesystem, instance risks) and return \
                     its findings, bounded.",
            )
            .read_only(),
    )
    .tool(
        tool_with("health", n, health)
            .toolset("admin")
            .description(
                "Check each instance (or one): readiness, an authenticated API call (so a wrong key or a proxy \
                     stripping the header shows), the effective API URL, latency, whether writes and runs by id are \
                     possible.",
            )
            .read_only(),
    )
    .tool(tool_with("create_tag", n, create_tag).toolset("admin").description("Create a tag.").additive())
    .tool(
        tool_with("rename_tag", n, rename_tag).toolset("admin").description("Rename a tag.").destructive().idempotent(),
    )
    .tool(
        tool_with("delete_tag", n, delete_tag)
            .toolset("admin")
            .description("Delete a tag (workflows lose it).")
            .destructive()
            .idempotent(),
    )
    .tool(
        tool_with("create_variable", n, create_variable)
            .toolset("admin")
            .description("Create a variable (licence permitting).")
            .additive(),
    )
    .tool(
        tool_with("update_variable", n, update_variable)
            .toolset("admin")
            .description("Change a variable's key or value (licence permitting).")
            .destructive()
            .idempotent(),
    )
    .tool(
        tool_with("delete_variable", n, delete_variable)
            .toolset("admin")
            .description("Delete a variable (licence permitting).")
            .destructive()
            .idempotent(),
    )
    .tool(
        tool_with("create_credential", n, create_credential)
            .toolset("admin")
            .description(
                "Create a credential of a type (credential_schema lists its fields). The secret goes to n8n and is \
                     never echoed or logged; the answer holds only id, name and type.",
            )
            .additive()
            .sensitive(["data"]),
    )
    .tool(
        tool_with("delete_credential", n, delete_credential)
            .toolset("admin")
            .description("Delete a credential.")
            .destructive()
            .idempotent(),
    )
    .tool(
        tool_with("create_data_table", n, create_data_table)
            .toolset("admin")
            .description("Create a data table with columns (name, type: string, number, boolean, date).")
            .additive(),
    )
    .tool(
        tool_with("insert_data_table_rows", n, insert_data_table_rows)
            .toolset("admin")
            .description("Insert rows into a data table (at most 1000 per call).")
            .additive(),
    )
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PageArgs {
    /// Instance name (default: the first configured).
    #[serde(default)]
    instance: Option<String>,
    /// Rows per page (default and most: --max-rows).
    #[serde(default)]
    limit: Option<usize>,
    /// `next_cursor` of the previous page.
    #[serde(default)]
    cursor: Option<String>,
}

/// One page of a list endpoint, with rows mapped through `row`.
async fn page(
    n8n: &N8n,
    inst: &Instance,
    path: &str,
    a: &PageArgs,
    extra: &[(&str, String)],
    gated: Option<&'static str>,
    row: impl Fn(&Value) -> Value,
) -> Result<Value, ToolError> {
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
    let rows: Vec<Value> = p["data"].as_array().into_iter().flatten().map(row).collect();
    let next = p["nextCursor"].as_str().map(str::to_string);
    let mut out = obj([
        ("count", json!(rows.len())),
        ("items", Value::Array(rows)),
        ("next_cursor", json!(next)),
        ("note", if next.is_some() { json!("more: call again with this next_cursor") } else { Value::Null }),
    ]);
    if fit_json(&mut out, n8n.settings.max_result_bytes) {
        out["truncated"] = json!("cut to the result budget: ask for fewer rows with `limit`");
    }
    Ok(out)
}

fn pick(v: &Value, keys: &[&'static str]) -> Value {
    obj(keys.iter().map(|k| (*k, v[*k].clone())))
}

async fn list_tags(n8n: Arc<N8n>, _ctx: Context, a: PageArgs) -> Result<Json<Value>, ToolError> {
    let inst = n8n.instances.for_read(a.instance.as_deref())?;
    Ok(Json(page(&n8n, &inst, "/tags", &a, &[], None, |t| pick(t, &["id", "name"])).await?))
}

async fn list_users(n8n: Arc<N8n>, _ctx: Context, a: PageArgs) -> Result<Json<Value>, ToolError> {
    let inst = n8n.instances.for_read(a.instance.as_deref())?;
    let out = page(&n8n, &inst, "/users", &a, &[("includeRole", "true".into())], Some("users"), |u| {
        pick(u, &["id", "email", "firstName", "lastName", "role", "isPending"])
    })
    .await?;
    Ok(Json(out))
}

async fn list_variables(n8n: Arc<N8n>, _ctx: Context, a: PageArgs) -> Result<Json<Value>, ToolError> {
    let inst = n8n.instances.for_read(a.instance.as_deref())?;
    let out = page(&n8n, &inst, "/variables", &a, &[], Some("variables"), |v| pick(v, &["id", "key", "value", "type"]))
        .await?;
    Ok(Json(out))
}

async fn list_projects(n8n: Arc<N8n>, _ctx: Context, a: PageArgs) -> Result<Json<Value>, ToolError> {
    let inst = n8n.instances.for_read(a.instance.as_deref())?;
    let out = page(&n8n, &inst, "/projects", &a, &[], Some("projects"), |p| pick(p, &["id", "name", "type"])).await?;
    Ok(Json(out))
}

async fn list_credentials(n8n: Arc<N8n>, _ctx: Context, a: PageArgs) -> Result<Json<Value>, ToolError> {
    let inst = n8n.instances.for_read(a.instance.as_deref())?;
    // Only these fields: whatever else n8n sends never reaches the model.
    Ok(Json(
        page(&n8n, &inst, "/credentials", &a, &[], None, |c| {
            pick(c, &["id", "name", "type", "createdAt", "updatedAt"])
        })
        .await?,
    ))
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SchemaArgs {
    /// Instance name (default: the first configured).
    #[serde(default)]
    instance: Option<String>,
    /// Credential type name, e.g. `httpBasicAuth`, `slackApi`.
    #[serde(rename = "type")]
    cred_type: String,
}

async fn credential_schema(n8n: Arc<N8n>, _ctx: Context, a: SchemaArgs) -> Result<Json<Value>, ToolError> {
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
    Ok(Json(json!({"type": a.cred_type, "schema": s})))
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct DataRowsArgs {
    /// Instance name (default: the first configured).
    #[serde(default)]
    instance: Option<String>,
    /// Data table id.
    id: String,
    /// n8n's filter, e.g. {"type": "and", "filters": [{"columnName": "x", "condition": "eq", "value": 1}]}.
    #[serde(default)]
    filter: Option<Value>,
    /// Sort, e.g. `name:asc`.
    #[serde(default)]
    sort_by: Option<String>,
    /// Rows per page (default and most: --max-rows).
    #[serde(default)]
    limit: Option<usize>,
    /// `next_cursor` of the previous page.
    #[serde(default)]
    cursor: Option<String>,
}

async fn list_data_tables(n8n: Arc<N8n>, _ctx: Context, a: PageArgs) -> Result<Json<Value>, ToolError> {
    let inst = n8n.instances.for_read(a.instance.as_deref())?;
    Ok(Json(
        page(&n8n, &inst, "/data-tables", &a, &[], None, |t| {
            let cols: Vec<Value> = t["columns"]
                .as_array()
                .into_iter()
                .flatten()
                .map(|c| json!(format!("{}: {}", c["name"].as_str().unwrap_or("?"), c["type"].as_str().unwrap_or("?"))))
                .collect();
            obj([
                ("id", t["id"].clone()),
                ("name", t["name"].clone()),
                ("columns", json!(cols)),
                ("project_id", t["projectId"].clone()),
            ])
        })
        .await?,
    ))
}

async fn read_data_table_rows(n8n: Arc<N8n>, _ctx: Context, a: DataRowsArgs) -> Result<Json<Value>, ToolError> {
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
    Ok(Json(page(&n8n, &inst, &format!("/data-tables/{}/rows", a.id), &p, &extra, None, Value::clone).await?))
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AuditArgs {
    /// Instance name (default: the first configured).
    #[serde(default)]
    instance: Option<String>,
    /// Only these categories: credentials, database, nodes, filesystem, instance.
    #[serde(default)]
    categories: Vec<String>,
    /// Days without execution after which a workflow counts as abandoned (default 90).
    #[serde(default)]
    days_abandoned_workflow: Option<u32>,
}

async fn security_audit(n8n: Arc<N8n>, _ctx: Context, a: AuditArgs) -> Result<Json<Value>, ToolError> {
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
    Ok(Json(report))
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct HealthArgs {
    /// One instance (default: all).
    #[serde(default)]
    instance: Option<String>,
}

async fn health(n8n: Arc<N8n>, _ctx: Context, a: HealthArgs) -> Result<Json<Value>, ToolError> {
    let list: Vec<Arc<Instance>> = match &a.instance {
        Some(n) => vec![n8n.instances.for_read(Some(n))?],
        None => n8n.instances.all().to_vec(),
    };
    let mut out = Vec::new();
    for inst in list {
        let t = Instant::now();
        let ready = inst.readiness().await;
        let ready_ms = t.elapsed().as_millis() as u64;
        let t = Instant::now();
        let auth = inst.get("/workflows", &[("limit", "1".into())]).await;
        let auth_ms = t.elapsed().as_millis() as u64;
        out.push(obj([
            ("instance", json!(inst.name())),
            ("api_url", json!(format!("{}/api/v1", inst.config.url))),
            ("ready", json!(ready.is_ok())),
            ("readiness_error", ready.err().map(Value::String).unwrap_or(Value::Null)),
            ("readiness_ms", json!(ready_ms)),
            ("authenticated", json!(auth.is_ok())),
            ("api_error", auth.as_ref().err().map(|e| json!(e.to_string())).unwrap_or(Value::Null)),
            ("api_ms", json!(auth_ms)),
            ("writable", json!(n8n.settings.allow_write && !inst.config.read_only)),
            ("run_by_id", json!(inst.config.login.is_some())),
            ("description", json!(inst.config.description)),
        ]));
    }
    let healthy = out.iter().all(|i| i["ready"] == true && i["authenticated"] == true);
    Ok(Json(json!({"healthy": healthy, "instances": out, "scope_tag": n8n.settings.scope_tag})))
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct NameArgs {
    /// Instance name (required when several are configured).
    #[serde(default)]
    instance: Option<String>,
    /// Name.
    name: String,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct IdArgs {
    /// Instance name (required when several are configured).
    #[serde(default)]
    instance: Option<String>,
    /// Id.
    id: String,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RenameArgs {
    /// Instance name (required when several are configured).
    #[serde(default)]
    instance: Option<String>,
    /// Tag id.
    id: String,
    /// New name.
    name: String,
}

async fn create_tag(n8n: Arc<N8n>, _ctx: Context, a: NameArgs) -> Result<Json<Value>, ToolError> {
    let inst = n8n.instances.for_write(a.instance.as_deref())?;
    let t = inst.api(Method::POST, "/tags", &[], Some(&json!({"name": a.name}))).await?;
    Ok(Json(pick(&t, &["id", "name"])))
}

async fn rename_tag(n8n: Arc<N8n>, _ctx: Context, a: RenameArgs) -> Result<Json<Value>, ToolError> {
    let inst = n8n.instances.for_write(a.instance.as_deref())?;
    check_id("id", &a.id)?;
    let t = inst.api(Method::PUT, &format!("/tags/{}", a.id), &[], Some(&json!({"name": a.name}))).await?;
    Ok(Json(pick(&t, &["id", "name"])))
}

async fn delete_tag(n8n: Arc<N8n>, _ctx: Context, a: IdArgs) -> Result<Json<Value>, ToolError> {
    let inst = n8n.instances.for_write(a.instance.as_deref())?;
    check_id("id", &a.id)?;
    let t = inst.get(&format!("/tags/{}", a.id), &[]).await?;
    if n8n.settings.scope_tag.as_deref() == t["name"].as_str() {
        return Err(ToolError::refused("the scope tag cannot be deleted through this server"));
    }
    inst.api(Method::DELETE, &format!("/tags/{}", a.id), &[], None).await?;
    Ok(Json(json!({"id": a.id, "deleted": true})))
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct VariableArgs {
    /// Instance name (required when several are configured).
    #[serde(default)]
    instance: Option<String>,
    /// Variable id (update only).
    #[serde(default)]
    id: Option<String>,
    /// Key (letters, digits and `_`).
    key: String,
    /// Value.
    value: String,
}

async fn create_variable(n8n: Arc<N8n>, _ctx: Context, a: VariableArgs) -> Result<Json<Value>, ToolError> {
    let inst = n8n.instances.for_write(a.instance.as_deref())?;
    inst.gated("variables", Method::POST, "/variables", &[], Some(&json!({"key": a.key, "value": a.value}))).await?;
    Ok(Json(json!({"key": a.key, "created": true})))
}

async fn update_variable(n8n: Arc<N8n>, _ctx: Context, a: VariableArgs) -> Result<Json<Value>, ToolError> {
    let inst = n8n.instances.for_write(a.instance.as_deref())?;
    let id = a.id.ok_or_else(|| ToolError::invalid_arguments("`id`: which variable (list_variables shows ids)"))?;
    check_id("id", &id)?;
    let body = json!({"key": a.key, "value": a.value});
    inst.gated("variables", Method::PUT, &format!("/variables/{id}"), &[], Some(&body)).await?;
    Ok(Json(json!({"id": id, "key": a.key, "updated": true})))
}

async fn delete_variable(n8n: Arc<N8n>, _ctx: Context, a: IdArgs) -> Result<Json<Value>, ToolError> {
    let inst = n8n.instances.for_write(a.instance.as_deref())?;
    check_id("id", &a.id)?;
    inst.gated("variables", Method::DELETE, &format!("/variables/{}", a.id), &[], None).await?;
    Ok(Json(json!({"id": a.id, "deleted": true})))
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CredentialArgs {
    /// Instance name (required when several are configured).
    #[serde(default)]
    instance: Option<String>,
    /// Credential name.
    name: String,
    /// Credential type, e.g. `httpBasicAuth` (credential_schema lists its fields).
    #[serde(rename = "type")]
    cred_type: String,
    /// The fields, e.g. {"user": "...", "password": "..."}.
    data: Value,
}

async fn create_credential(n8n: Arc<N8n>, _ctx: Context, a: CredentialArgs) -> Result<Json<Value>, ToolError> {
    let inst = n8n.instances.for_write(a.instance.as_deref())?;
    if !a.data.is_object() {
        return Err(ToolError::invalid_arguments("`data` must be an object of the type's fields"));
    }
    let body = json!({"name": a.name, "type": a.cred_type, "data": a.data});
    // n8n's message may quote the body it refused; never echo the secret.
    let c = inst.api(Method::POST, "/credentials", &[], Some(&body)).await.map_err(|e| {
        crate::output::reword(e, |m| crate::output::clip(&m.replace(&a.data.to_string(), "[data]"), 600))
    })?;
    Ok(Json(pick(&c, &["id", "name", "type", "createdAt"])))
}

async fn delete_credential(n8n: Arc<N8n>, _ctx: Context, a: IdArgs) -> Result<Json<Value>, ToolError> {
    let inst = n8n.instances.for_write(a.instance.as_deref())?;
    check_id("id", &a.id)?;
    let c = inst.api(Method::DELETE, &format!("/credentials/{}", a.id), &[], None).await?;
    Ok(Json(json!({"id": a.id, "name": c["name"], "deleted": true})))
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TableArgs {
    /// Instance name (required when several are configured).
    #[serde(default)]
    instance: Option<String>,
    /// Table name.
    name: String,
    /// Columns: [{"name": "x", "type": "string"}].
    columns: Vec<Value>,
}

async fn create_data_table(n8n: Arc<N8n>, _ctx: Context, a: TableArgs) -> Result<Json<Value>, ToolError> {
    let inst = n8n.instances.for_write(a.instance.as_deref())?;
    let t = inst.api(Method::POST, "/data-tables", &[], Some(&json!({"name": a.name, "columns": a.columns}))).await?;
    Ok(Json(pick(&t, &["id", "name", "columns"])))
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct InsertArgs {
    /// Instance name (required when several are configured).
    #[serde(default)]
    instance: Option<String>,
    /// Data table id.
    id: String,
    /// Rows: objects keyed by column name.
    rows: Vec<Value>,
}

async fn insert_data_table_rows(n8n: Arc<N8n>, _ctx: Context, a: InsertArgs) -> Result<Json<Value>, ToolError> {
    let inst = n8n.instances.for_write(a.instance.as_deref())?;
    check_id("id", &a.id)?;
    if a.rows.is_empty() || a.rows.len() > 1000 || !a.rows.iter().all(Value::is_object) {
        return Err(ToolError::invalid_arguments("`rows`: 1 to 1000 objects keyed by column name"));
    }
    let r = inst
        .api(
            Method::POST,
            &format!("/data-tables/{}/rows", a.id),
            &[],
            Some(&json!({"data": a.rows, "returnType": "count"})),
        )
        .await?;
    Ok(Json(json!({"id": a.id, "inserted": a.rows.len(), "answer": r})))
}
