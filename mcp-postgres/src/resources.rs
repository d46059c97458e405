//! Tables as resources: `postgres://{database}/{schema}/{table}` reads a table's full
//! description as JSON (what `describe_table` returns), and `postgres://{database}/tables`
//! (one per configured database, fixed at start) lists the tables with their URIs, since
//! `resources/list` can only show resources registered when the server is built.
//! Completion fills in the template's database, schema and table, and the prompts'
//! `database` and `schema` arguments. The access policy applies to all of it.

use std::collections::HashMap;
use std::sync::Arc;

use mcp_core::protocol::{Completion, Resource, ResourceContents};
use mcp_core::server::{CompletionRequest, ServerBuilder};
use mcp_core::{Context, ErrorKind, ToolError, resource_template_with, resource_with};
use serde_json::{Value, json};

use crate::databases::{Database, Databases};
use crate::tools::explore::Scope;
use crate::tools::explore::describe::{Detail, describe_in};
use crate::transaction::{Access, Window, run};

/// The table template.
pub const TABLE_TEMPLATE: &str = "postgres://{database}/{schema}/{table}";

/// Most tables a listing resource names; the tools page through the rest.
const LISTING_MAX: usize = 1000;

/// Names as URI segments: the kit's one encoding.
pub use mcp_core::connector::uri::encode_segment as encode;

/// Undoes [`encode`] (and any other percent-encoding); `None` if malformed.
pub use mcp_core::protocol::uri::percent_decode as decode;

/// The URI of a table.
pub fn table_uri(database: &str, schema: &str, table: &str) -> String {
    format!("postgres://{}/{}/{}", encode(database), encode(schema), encode(table))
}

async fn read_table(
    dbs: Arc<Databases>,
    ctx: Context,
    vars: HashMap<String, String>,
) -> Result<ResourceContents, ToolError> {
    let var = |name: &str| {
        vars.get(name).and_then(|v| decode(v)).ok_or_else(|| {
            ToolError::invalid_arguments(format!("`{name}` in the URI is missing or badly percent-encoded"))
        })
    };
    let (database, schema, table) = (var("database")?, var("schema")?, var("table")?);
    let uri = table_uri(&database, &schema, &table);
    let db = dbs.for_read(Some(&database)).map_err(|_| ToolError::resource_not_found(&uri))?;
    let mut tx = dbs.begin(&ctx, &db, Access::ReadOnly).await?;
    let scope = Scope::load(&ctx, &mut tx).await?;
    let described = describe_in(&mut tx, &scope, &db.name, Some(&schema), &table, Detail::Full).await;
    tx.rollback();
    let description = match described {
        Ok(d) => d,
        Err(e) if e.kind() == ErrorKind::NotFound => return Err(ToolError::resource_not_found(&uri)),
        Err(e) => return Err(e),
    };
    let text = serde_json::to_string_pretty(&description)
        .map_err(|e| ToolError::failed(format!("could not serialize the description: {e}")))?;
    Ok(ResourceContents::text(uri, "application/json", text))
}

/// The tables, views and materialized views of `db` the client may see (at most
/// `LISTING_MAX`): rows of schema, name, kind, comment; and whether more exist.
async fn visible_tables(dbs: &Databases, ctx: &Context, db: &Arc<Database>) -> Result<(Vec<Value>, bool), ToolError> {
    let mut tx = dbs.begin(ctx, db, Access::ReadOnly).await?;
    let scope = Scope::load(ctx, &mut tx).await?;
    let sql = "SELECT n.nspname::text, c.relname::text,
                      CASE c.relkind WHEN 'r' THEN 'table' WHEN 'p' THEN 'partitioned_table' WHEN 'v' THEN 'view'
                                     WHEN 'm' THEN 'materialized_view' ELSE 'foreign_table' END,
                      obj_description(c.oid, 'pg_class')
               FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
               WHERE c.relkind IN ('r', 'p', 'v', 'm', 'f') AND NOT c.relispartition
                 AND NOT (n.nspname LIKE 'pg\\_%' OR n.nspname = 'information_schema')
                 AND ($1::text[] IS NULL OR n.nspname::text = ANY($1::text[]))
                 AND ($2::int8[] IS NULL OR c.oid::int8 <> ALL($2::int8[]))
               ORDER BY 1, 2";
    let window = Window { offset: 0, max_rows: LISTING_MAX, max_bytes: usize::MAX, stop_early: true };
    let rows = run(&mut tx, sql, &scope.relation_params(), window).await;
    tx.rollback();
    let rows = rows?;
    Ok((rows.rows, rows.cut.is_some()))
}

/// Every visible table of every reachable database, as resources (`resources/list`).
async fn list_table_resources(dbs: Arc<Databases>, ctx: Context) -> Result<Vec<Resource>, ToolError> {
    let mut out = Vec::new();
    for db in dbs.all() {
        let rows = match visible_tables(&dbs, &ctx, db).await {
            Ok((rows, _)) => rows,
            // One database being down must not hide the others' tables.
            Err(e) => {
                tracing::debug!(database = %db.name, error = %e, "tables not listed");
                continue;
            }
        };
        for row in rows {
            let text = |i: usize| row.get(i).and_then(Value::as_str).unwrap_or_default().to_string();
            let (schema, table, kind) = (text(0), text(1), text(2));
            out.push(Resource {
                uri: table_uri(&db.name, &schema, &table),
                name: format!("{}/{schema}.{table}", db.name),
                title: None,
                description: Some(match row.get(3).and_then(Value::as_str) {
                    Some(comment) => format!("{kind}: {comment}"),
                    None => kind.replace('_', " "),
                }),
                mime_type: Some("application/json".into()),
                size: None,
            });
        }
    }
    Ok(out)
}

async fn list_tables(dbs: Arc<Databases>, ctx: Context, database: String) -> Result<ResourceContents, ToolError> {
    let db = dbs.for_read(Some(&database))?;
    let (rows, truncated) = visible_tables(&dbs, &ctx, &db).await?;
    let tables: Vec<Value> = rows
        .iter()
        .map(|row| {
            let text = |i: usize| row.get(i).and_then(Value::as_str).unwrap_or_default();
            let mut entry = json!({
                "uri": table_uri(&db.name, text(0), text(1)),
                "schema": text(0),
                "name": text(1),
                "kind": text(2),
            });
            if let Some(comment) = row.get(3).and_then(Value::as_str) {
                entry["comment"] = json!(comment);
            }
            entry
        })
        .collect();
    let mut body = json!({ "database": db.name, "tables": tables, "truncated": truncated });
    if truncated {
        body["note"] = json!(format!(
            "Only the first {LISTING_MAX} tables are listed; use the list_objects tool (with offset) for the rest."
        ));
    }
    let uri = listing_uri(&db.name);
    let text = serde_json::to_string_pretty(&body)
        .map_err(|e| ToolError::failed(format!("could not serialize the listing: {e}")))?;
    Ok(ResourceContents::text(uri, "application/json", text))
}

/// The URI of a database's table listing.
pub fn listing_uri(database: &str) -> String {
    format!("postgres://{}/tables", encode(database))
}

/// Completion values for a template variable or prompt argument.
async fn complete(dbs: Arc<Databases>, ctx: Context, req: CompletionRequest) -> Result<Completion, ToolError> {
    let known = (req.ref_type == "ref/resource" && req.ref_name == TABLE_TEMPLATE)
        || (req.ref_type == "ref/prompt" && crate::prompts::NAMES.contains(&req.ref_name.as_str()));
    if !known {
        return Ok(Completion { values: Vec::new(), total: None, has_more: false });
    }
    let prefix = req.value.as_str();
    let values: Vec<String> = match req.argument.as_str() {
        "database" => dbs.names().into_iter().filter(|n| n.starts_with(prefix)).map(str::to_string).collect(),
        "schema" | "table" => {
            // An unreachable database completes nothing rather than failing the request.
            catalog_names(&dbs, &ctx, &req).await.unwrap_or_default()
        }
        _ => Vec::new(),
    };
    // The catalog queries stop at 101 names: past 100, the total is unknown.
    let has_more = values.len() > 100;
    let total = (!has_more).then_some(values.len() as u64);
    Ok(Completion { has_more, values: values.into_iter().take(100).collect(), total })
}

async fn catalog_names(dbs: &Databases, ctx: &Context, req: &CompletionRequest) -> Result<Vec<String>, ToolError> {
    let db = dbs.for_read(req.context.get("database").map(String::as_str))?;
    let mut tx = dbs.begin(ctx, &db, Access::ReadOnly).await?;
    let scope = Scope::load(ctx, &mut tx).await?;
    let prefix = like_prefix(&req.value);
    let (sql, mut params) = if req.argument == "schema" {
        (
            "SELECT n.nspname::text FROM pg_namespace n
             WHERE NOT (n.nspname LIKE 'pg\\_%' OR n.nspname = 'information_schema')
               AND ($1::text[] IS NULL OR n.nspname::text = ANY($1::text[])) AND n.nspname::text LIKE $2::text
             ORDER BY 1 LIMIT 101",
            scope.schema_params(),
        )
    } else {
        (
            "SELECT c.relname::text FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
             WHERE c.relkind IN ('r', 'p', 'v', 'm', 'f') AND NOT c.relispartition
               AND ($1::text[] IS NULL OR n.nspname::text = ANY($1::text[]))
               AND ($2::int8[] IS NULL OR c.oid::int8 <> ALL($2::int8[]))
               AND c.relname::text LIKE $3::text
               AND ($4::text IS NULL OR n.nspname::text = $4::text)
               AND ($4::text IS NOT NULL OR NOT (n.nspname LIKE 'pg\\_%' OR n.nspname = 'information_schema'))
             ORDER BY 1 LIMIT 101",
            scope.relation_params(),
        )
    };
    params.push(Value::String(prefix));
    if req.argument == "table" {
        let schema = req.context.get("schema").and_then(|s| decode(s));
        params.push(schema.map(Value::String).unwrap_or(Value::Null));
    }
    let rows = run(&mut tx, sql, &params, Window::ALL).await;
    tx.rollback();
    Ok(rows?.rows.iter().filter_map(|r| r.get(0).and_then(Value::as_str).map(str::to_string)).collect())
}

/// A LIKE pattern matching names that start with `prefix` (taken literally).
fn like_prefix(prefix: &str) -> String {
    let mut out = String::new();
    for c in prefix.chars() {
        if matches!(c, '%' | '_' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out.push('%');
    out
}

/// Adds the table resources, the listing per database and completion.
pub fn register(builder: ServerBuilder, dbs: &Arc<Databases>) -> ServerBuilder {
    let mut builder = builder.resource(
        resource_template_with(TABLE_TEMPLATE, "table", dbs, read_table)
            .title("Table description")
            .description(
                "A table, view or materialized view described as JSON: columns, keys both ways, indexes, \
                 constraints, triggers, sizes. Names are percent-encoded; postgres://{database}/tables lists them.",
            )
            .mime_type("application/json"),
    );
    for name in dbs.names() {
        let database = name.to_string();
        builder = builder.resource(
            resource_with(listing_uri(name), format!("{name} tables"), dbs, move |dbs, ctx| {
                list_tables(dbs, ctx, database.clone())
            })
            .title(format!("Tables of database `{name}`"))
            .description(format!(
                "The tables, views and materialized views of `{name}` (up to {LISTING_MAX}), each with the URI \
                 of its description."
            ))
            .mime_type("application/json"),
        );
    }
    let lister = dbs.clone();
    let builder = builder.resource_lister(move |ctx| list_table_resources(lister.clone(), ctx));
    let completer = dbs.clone();
    builder.completion(move |ctx, req| complete(completer.clone(), ctx, req))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_survive_the_uri() {
        for name in ["orders", "Order Items", "a/b", "naïve", "100%"] {
            assert_eq!(decode(&encode(name)).as_deref(), Some(name));
        }
        assert_eq!(table_uri("default", "public", "Order Items"), "postgres://default/public/Order%20Items");
        assert_eq!(decode("%zz"), None);
        assert_eq!(like_prefix("a_b"), "a\\_b%");
    }
}
