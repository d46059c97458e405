//! `list_databases`: the configured databases, each probed, and the other databases of
//! the server behind one of them.

use std::fmt::Write as _;
use std::sync::Arc;

use mcp_core::output::Rendered;
use mcp_core::{Context, ToolError};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::databases::{Database, Databases};
use crate::transaction::Access;

use super::{DEFAULT_LIMIT, objects, typed};

mcp_core::tool_args! {
    database: "Only this configured database (default: all of them).";
    pub struct ListDatabasesArgs {
        /// Also list template databases (template0, template1).
        #[serde(default)]
        pub include_templates: bool,
        /// Most server databases to list per configured database (default 100).
        pub limit: Option<usize>,
        /// Server databases to skip (per configured database), to page on.
        #[serde(default)]
        pub offset: usize,
    }
}

/// The configured databases and what each server holds.
#[derive(Debug, Serialize, JsonSchema)]
pub struct DatabaseList {
    /// One entry per configured database, in configuration order (the first is the default).
    pub databases: Vec<ConfiguredDatabase>,
}

/// A database the connector is configured with.
#[derive(Debug, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ConfiguredDatabase {
    /// The name tools take as `database`.
    pub name: String,
    /// What it holds, from the configuration.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Whether writes are refused (configured read-only, or the server runs without --allow-write).
    pub read_only: bool,
    /// Whether it answered now.
    pub reachable: bool,
    /// Why it did not answer.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// The database the connection opens.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub current_database: Option<String>,
    /// The role the connector runs as.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user: Option<String>,
    /// The server's version.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub server_version: Option<String>,
    /// The databases on that server (pg_database), by name.
    pub server_databases: Vec<ServerDatabase>,
    /// Whether more server databases exist than were listed.
    pub truncated: bool,
    /// The `offset` that lists the next ones, when truncated.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_offset: Option<usize>,
}

/// A database on a server.
#[derive(Debug, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ServerDatabase {
    pub name: String,
    /// Size in bytes (absent when the role may not connect to it).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub size_bytes: Option<i64>,
    /// Size, readable.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub size: Option<String>,
    pub encoding: String,
    pub collation: String,
    /// A template database.
    pub template: bool,
    /// Whether connections are allowed.
    pub allow_connections: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub comment: Option<String>,
}

/// Lists the configured databases and, for each that answers, the server's databases.
pub async fn list_databases(
    dbs: Arc<Databases>,
    ctx: Context,
    args: ListDatabasesArgs,
) -> Result<Rendered<DatabaseList>, ToolError> {
    let chosen: Vec<Arc<Database>> = match &args.database {
        Some(name) => vec![dbs.for_read(Some(name))?],
        None => dbs.all().to_vec(),
    };
    let limit = args.limit.unwrap_or(DEFAULT_LIMIT).clamp(1, dbs.settings.max_rows);
    let probes = chosen.iter().map(|db| describe_server(&dbs, &ctx, db, &args, limit));
    let databases = futures::future::join_all(probes).await;
    let mut text = String::new();
    for d in &databases {
        let _ = write!(text, "{}{}", d.name, if d.read_only { " (read-only)" } else { "" });
        if let Some(desc) = &d.description {
            let _ = write!(text, ": {desc}");
        }
        text.push('\n');
        match &d.error {
            Some(e) => {
                let _ = writeln!(text, "  unreachable: {e}");
            }
            None => {
                let _ = writeln!(
                    text,
                    "  connected to {} as {}, {}",
                    d.current_database.as_deref().unwrap_or("?"),
                    d.user.as_deref().unwrap_or("?"),
                    d.server_version.as_deref().unwrap_or("?")
                );
                let _ = writeln!(text, "  server databases (name\tsize\tencoding\tcollation):");
                for s in &d.server_databases {
                    let _ = writeln!(
                        text,
                        "  {}\t{}\t{}\t{}{}",
                        s.name,
                        s.size.as_deref().unwrap_or("-"),
                        s.encoding,
                        s.collation,
                        if s.template { "\ttemplate" } else { "" }
                    );
                }
                if let Some(next) = d.next_offset {
                    let _ = writeln!(text, "  more server databases: list them with offset={next}");
                }
            }
        }
    }
    Ok(Rendered { text, data: DatabaseList { databases } })
}

async fn describe_server(
    dbs: &Databases,
    ctx: &Context,
    db: &Arc<Database>,
    args: &ListDatabasesArgs,
    limit: usize,
) -> ConfiguredDatabase {
    let mut out = ConfiguredDatabase {
        name: db.name.clone(),
        description: db.description.clone(),
        read_only: db.read_only || !dbs.settings.allow_write,
        reachable: false,
        error: None,
        current_database: None,
        user: None,
        server_version: None,
        server_databases: Vec::new(),
        truncated: false,
        next_offset: None,
    };
    match probe(dbs, ctx, db, args, limit, &mut out).await {
        Ok(()) => out.reachable = true,
        Err(e) => out.error = Some(e.to_string()),
    }
    out
}

async fn probe(
    dbs: &Databases,
    ctx: &Context,
    db: &Arc<Database>,
    args: &ListDatabasesArgs,
    limit: usize,
    out: &mut ConfiguredDatabase,
) -> Result<(), ToolError> {
    let mut tx = dbs.begin(ctx, db, Access::ReadOnly).await?;
    let who = objects(
        &mut tx,
        "SELECT current_database()::text AS db, current_user::text AS usr, current_setting('server_version') AS version",
        &[],
    )
    .await?;
    let field = |k: &str| who.first().and_then(|m| m.get(k)).and_then(Value::as_str).map(str::to_string);
    out.current_database = field("db");
    out.user = field("usr");
    out.server_version = field("version").map(|v| format!("PostgreSQL {v}"));
    let sql = "SELECT x.*, pg_size_pretty(x.\"sizeBytes\") AS size FROM (
                 SELECT d.datname::text AS name,
                        CASE WHEN has_database_privilege(d.oid, 'CONNECT') THEN pg_database_size(d.oid) END AS \"sizeBytes\",
                        pg_encoding_to_char(d.encoding)::text AS encoding, d.datcollate::text AS collation,
                        d.datistemplate AS template, d.datallowconn AS \"allowConnections\",
                        shobj_description(d.oid, 'pg_database') AS comment
                 FROM pg_database d WHERE $1::bool OR NOT d.datistemplate) x
               ORDER BY x.name OFFSET $2::int8 LIMIT $3::int8";
    let params = [json!(args.include_templates), json!(args.offset), json!(limit + 1)];
    let mut list: Vec<ServerDatabase> = typed(&mut tx, sql, &params).await?;
    tx.rollback();
    if list.len() > limit {
        list.truncate(limit);
        out.truncated = true;
        out.next_offset = Some(args.offset + limit);
    }
    out.server_databases = list;
    Ok(())
}
