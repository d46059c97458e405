//! The tools, one module per area; [`register`] adds them all to a server being built.

pub mod custom;
pub mod explain;
pub mod explore;
pub mod export;
pub mod maintenance;
pub mod operations;
pub mod performance;
mod plan_tree;
pub mod sql;

use std::sync::Arc;

use mcp_core::server::ServerBuilder;
use mcp_core::tool_with;

use mcp_core::connector::ToolSelection;

use crate::databases::Databases;

/// Every tool of the connector, tagged with its toolset (`--toolsets`), then selected:
/// `execute` needs --allow-write; `export` has its own gate, --export-dir.
pub fn register(builder: ServerBuilder, dbs: &Arc<Databases>, custom: &custom::Source) -> ServerBuilder {
    let settings = &dbs.settings;
    let selection = ToolSelection {
        toolsets: settings.toolsets.clone(),
        allow_write: settings.allow_write,
        // `execute` is the one destructive tool, and --allow-write is its flag.
        allow_destructive: settings.allow_write,
    };
    let builder = explore::register(builder, dbs);
    let builder = operations::register(builder, dbs);
    let builder = performance::register(builder, dbs);
    let builder = maintenance::register(builder, dbs);
    let builder = sql_tools(builder, dbs);
    let builder = match &settings.export_dir {
        Some(_) => builder.tools_in(
            "sql",
            [tool_with("export", dbs, export::export)
                .title("Export a query result to a file")
                .description(
                    "Runs one reading statement (as `query` does) and streams its whole result, unbounded by the row \
                     limit, to a CSV or JSON Lines file under the server's export directory, reporting progress. \
                     Returns the file path, row count and size; the rows themselves are not returned.",
                )
                .additive()
                .own_gate()],
        ),
        None => builder,
    };
    // After every built-in tool: the file's may not take their names.
    let builder = custom::register(builder, dbs, custom);
    builder.select_tools(&selection)
}

/// `query`, `explain` and `execute`.
fn sql_tools(builder: ServerBuilder, dbs: &Arc<Databases>) -> ServerBuilder {
    let limits = format!(
        "Returns at most {} rows / {} KiB per call; a truncated result says so and gives the `nextOffset` for the rest.",
        dbs.settings.max_rows,
        dbs.settings.max_result_bytes / 1024
    );
    builder.tools_in(
        "sql",
        [
            tool_with("query", dbs, sql::query)
                .title("Run a read-only SQL query")
                .description(format!(
                    "Runs one reading SQL statement (SELECT, WITH, VALUES, TABLE, SHOW, EXPLAIN) in a READ ONLY \
                     transaction that is always rolled back, with a statement timeout. Pass values as `params` \
                     ($1, $2, ...). Returns the rows as a tab-separated table ending with the row count, and \
                     the columns with their Postgres types and the first rows as typed JSON. {limits}"
                ))
                .read_only(),
            tool_with("explain", dbs, explain::explain)
                .title("Explain a query plan")
                .description(
                    "Shows how Postgres would run a statement (EXPLAIN, FORMAT JSON) with a summary: the costliest \
                     nodes, large sequential scans and, with `analyze`, row misestimates and real timings. \
                     `hypothetical_indexes` (needs hypopg) shows whether indexes that do not exist would be used.",
                )
                .read_only(),
            tool_with("execute", dbs, sql::execute)
                .title("Run one write statement")
                .description(
                    "Runs one writing SQL statement (INSERT, UPDATE, DELETE, MERGE; DDL if the server allows it) in \
                     its own transaction and commits it. Returns rows affected and any RETURNING rows. With \
                     `dry_run` the statement runs and is rolled back, reporting what it would change. Only \
                     available when the server was started with --allow-write.",
                )
                .destructive(),
        ],
    )
}
