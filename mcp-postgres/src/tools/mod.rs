//! The tools, one module per area; [`register`] adds them all to a server being built.

pub mod explain;
pub mod explore;
pub mod export;
pub mod operations;
pub mod performance;
pub mod sql;

use std::sync::Arc;

use mcp_core::server::ServerBuilder;
use mcp_core::tool_with;

use crate::config::Toolset;
use crate::databases::Databases;

/// The group a tool belongs to, for `--toolsets`.
fn toolset(tool: &str) -> Toolset {
    match tool {
        "query" | "explain" | "export" | "execute" => Toolset::Sql,
        "active_queries" | "locks" | "long_transactions" | "settings" | "roles" | "grants" => Toolset::Operations,
        "top_queries" | "database_health" | "index_advice" => Toolset::Performance,
        _ => Toolset::Explore,
    }
}

/// Every tool of the connector, as far as `--toolsets` keeps them.
pub fn register(builder: ServerBuilder, dbs: &Arc<Databases>) -> ServerBuilder {
    let selected = dbs.settings.toolsets.clone();
    all_tools(builder, dbs)
        .retain_tools(move |route| selected.is_empty() || selected.contains(&toolset(&route.definition().name)))
}

fn all_tools(builder: ServerBuilder, dbs: &Arc<Databases>) -> ServerBuilder {
    let limits = format!(
        "Returns at most {} rows / {} KiB per call; a truncated result says so and gives the `nextOffset` for the rest.",
        dbs.settings.max_rows,
        dbs.settings.max_result_bytes / 1024
    );
    let builder = explore::register(builder, dbs);
    let builder = operations::register(builder, dbs);
    let builder = performance::register(builder, dbs);
    let builder = builder
        .tool(
            tool_with("query", dbs, sql::query)
                .title("Run a read-only SQL query")
                .description(format!(
                    "Runs one reading SQL statement (SELECT, WITH, VALUES, TABLE, SHOW, EXPLAIN) in a READ ONLY \
                     transaction that is always rolled back, with a statement timeout. Pass values as `params` \
                     ($1, $2, ...). Returns columns with their Postgres types and rows as typed JSON, and the rows \
                     as a tab-separated table. {limits}"
                ))
                .read_only(),
        )
        .tool(
            tool_with("explain", dbs, explain::explain)
                .title("Explain a query plan")
                .description(
                    "Shows how Postgres would run a statement (EXPLAIN, FORMAT JSON) with a summary: the costliest \
                     nodes, large sequential scans and, with `analyze`, row misestimates and real timings. \
                     `hypothetical_indexes` (needs hypopg) shows whether indexes that do not exist would be used.",
                )
                .read_only(),
        );
    let builder = if dbs.settings.export_dir.is_some() {
        builder.tool(
            tool_with("export", dbs, export::export)
                .title("Export a query result to a file")
                .description(
                    "Runs one reading statement (as `query` does) and streams its whole result, unbounded by the row \
                     limit, to a CSV or JSON Lines file under the server's export directory, reporting progress. \
                     Returns the file path, row count and size; the rows themselves are not returned.",
                )
                .additive(),
        )
    } else {
        builder
    };
    if !dbs.settings.allow_write {
        // Not listed at all: no tokens spent on a tool that could only refuse.
        return builder;
    }
    builder.tool(
        tool_with("execute", dbs, sql::execute)
            .title("Run one write statement")
            .description(
                "Runs one writing SQL statement (INSERT, UPDATE, DELETE, MERGE; DDL if the server allows it) in \
                     its own transaction and commits it. Returns rows affected and any RETURNING rows. With \
                     `dry_run` the statement runs and is rolled back, reporting what it would change. Only \
                     available when the server was started with --allow-write.",
            )
            .destructive(),
    )
}
