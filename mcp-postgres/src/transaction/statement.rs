//! One statement in a call's transaction: prepared with the parameters' types, bound, run,
//! its rows decoded to JSON (columns that do not decode asked for as text) and kept inside
//! a [`Window`] of rows and bytes.

use futures::TryStreamExt as _;
use futures::future::BoxFuture;
use mcp_core::ToolError;
use mcp_core::connector::bounded::value_size;
use serde_json::Value;
use sqlx::postgres::{PgArguments, PgRow, PgTypeInfo};
use sqlx::{Column as _, Executor as _, Statement as _, TypeInfo as _};

use super::{Access, Tx, was_cancelled};
use crate::errors::{is_connection_error, is_stale_statement, tool_error};
use crate::guard::lexer;
use crate::values::{self, Kind};

/// A result column: its name and Postgres type.
#[derive(Debug, Clone, serde::Serialize, schemars::JsonSchema)]
pub struct ColumnInfo {
    pub name: String,
    #[serde(rename = "type")]
    pub type_name: String,
}

/// How much of a result to keep.
#[derive(Debug, Clone, Copy)]
pub struct Window {
    /// Rows to skip first.
    pub offset: usize,
    /// Most rows to keep.
    pub max_rows: usize,
    /// Most bytes of row data (as JSON) to keep.
    pub max_bytes: usize,
    /// Stop the statement once the window is full (reads); writes run to their end.
    pub stop_early: bool,
}

impl Window {
    /// Everything, for the connector's own bounded catalog queries.
    pub const ALL: Window = Window { offset: 0, max_rows: usize::MAX, max_bytes: usize::MAX, stop_early: false };
}

/// Rows read from one statement, as JSON arrays in column order.
#[derive(Debug, Default)]
pub struct Rows {
    pub columns: Vec<ColumnInfo>,
    pub rows: Vec<Value>,
    /// Why reading stopped early, when it did.
    pub cut: Option<Cut>,
    /// Rows the statement changed (for writes).
    pub rows_affected: u64,
}

/// Why a result is partial.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cut {
    /// The row limit.
    Rows,
    /// The byte budget.
    Bytes,
    /// The first row alone exceeded the byte budget: its long values were shortened.
    Values,
}

/// Whether to go on reading rows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flow {
    /// Read the next row.
    More,
    /// Stop: the statement is cancelled on the server rather than read to its end.
    Stop,
}

/// What a statement did, besides its rows.
#[derive(Debug, Default)]
pub struct Outcome {
    pub columns: Vec<ColumnInfo>,
    /// Rows the statement changed (writes).
    pub rows_affected: u64,
}

/// Prepares `sql` (one statement, extended protocol), binds `params` by the types the
/// server inferred, runs it and hands each row, decoded to JSON values in column order,
/// to `on_row`.
pub fn each_row<'a, F>(
    tx: &'a mut Tx,
    sql: &'a str,
    params: &'a [Value],
    on_row: F,
) -> BoxFuture<'a, Result<Outcome, ToolError>>
where
    F: FnMut(&[ColumnInfo], Vec<Value>) -> Result<Flow, ToolError> + Send + 'a,
{
    // Boxed: sqlx's executor futures are only provably `Send` at a concrete lifetime.
    Box::pin(
        async move { each_row_inner(tx, sql, params, &[], false, on_row).await.map_err(|a| a.into_tool_error(sql)) },
    )
}

async fn each_row_inner<F>(
    tx: &mut Tx,
    sql: &str,
    params: &[Value],
    declared: &[PgTypeInfo],
    gated: bool,
    mut on_row: F,
) -> Result<Outcome, Attempt>
where
    F: FnMut(&[ColumnInfo], Vec<Value>) -> Result<Flow, ToolError> + Send,
{
    // A warm connection's transaction began before the call: if the server ended the
    // connection meanwhile, the first statement finds out before anything ran in it, and
    // goes again on another connection.
    let first = if std::mem::take(&mut tx.warm_untouched) {
        match each_row_attempt(tx, sql, params, declared, gated, &mut on_row).await {
            Err(Attempt::Lost(_)) => {
                tx.replace_connection().await.map_err(Attempt::Failed)?;
                each_row_attempt(tx, sql, params, declared, gated, &mut on_row).await
            }
            other => other,
        }
    } else {
        each_row_attempt(tx, sql, params, declared, gated, &mut on_row).await
    };
    match first {
        // Prepared before a table it reads changed shape: prepared again, once.
        Err(Attempt::Stale(_)) => {
            tx.forget_statements().await?;
            each_row_attempt(tx, sql, params, declared, gated, &mut on_row).await
        }
        other => other,
    }
}

/// How a statement failed.
enum Attempt {
    /// The connection was gone before any row was read.
    Lost(sqlx::Error),
    Failed(ToolError),
    /// PostgreSQL refused the statement as the connection had prepared it, before a
    /// table it reads changed shape (or may have: a text form's error); nothing of it ran.
    Stale(sqlx::Error),
    /// A gated statement failed (its gate, or anything else that is no timeout): the
    /// caller runs the statement again the usual way, which gives any error its answer.
    Ungated,
}

impl Attempt {
    fn into_tool_error(self, sql: &str) -> ToolError {
        match self {
            Attempt::Lost(e) => tool_error(&e, Some(sql), None),
            Attempt::Failed(e) => e,
            Attempt::Ungated => ToolError::failed("a gated statement failed outside `run_gated`"),
            Attempt::Stale(e) if is_stale_statement(&e) => ToolError::failed(super::STALE_STATEMENT),
            Attempt::Stale(e) => tool_error(&e, Some(sql), None),
        }
    }
}

impl From<ToolError> for Attempt {
    fn from(e: ToolError) -> Self {
        Attempt::Failed(e)
    }
}

async fn each_row_attempt<F>(
    tx: &mut Tx,
    sql: &str,
    params: &[Value],
    declared: &[PgTypeInfo],
    gated: bool,
    on_row: &mut F,
) -> Result<Outcome, Attempt>
where
    F: FnMut(&[ColumnInfo], Vec<Value>) -> Result<Flow, ToolError> + Send,
{
    let mut read_any = false;
    // `as_text`: the statement is the text form, built on the columns the connection
    // kept from an earlier preparation, which a table changed since may have outdated
    // (its error is then no stale-plan error): prepared again, it tells.
    let failed = |e: sqlx::Error, read_any: bool, as_text: bool| {
        let ran = matches!(e, sqlx::Error::Database(_)) && !was_cancelled(&e);
        if !read_any && is_connection_error(&e) {
            Attempt::Lost(e)
        } else if !read_any && is_stale_statement(&e) {
            Attempt::Stale(e)
        } else if gated && ran {
            // A timeout stands: the statement would only time out again.
            Attempt::Ungated
        } else if as_text && !read_any && ran {
            Attempt::Stale(e)
        } else {
            Attempt::Failed(tool_error(&e, Some(sql), None))
        }
    };
    let text_sql: String;
    let mut as_text = false;
    let mut statement = prepare(tx, sql, declared).await.map_err(|e| failed(e, false, false))?;
    let columns: Vec<ColumnInfo> = statement
        .columns()
        .iter()
        .map(|c| ColumnInfo { name: c.name().to_string(), type_name: c.type_info().name().to_lowercase() })
        .collect();
    let mut kinds: Vec<Kind> = statement.columns().iter().map(|c| Kind::of(c.type_info())).collect();
    // Columns this connector cannot read in binary (or the server cannot send so) are
    // asked for as text, by a second statement around the first. Reads only: a write's
    // RETURNING cannot stand in a subquery, and a read can go back to its savepoint.
    if tx.access == Access::ReadOnly
        && !kinds.iter().all(Kind::decodes)
        && let Some(body) = lexer::subquery_body(sql)
    {
        text_sql = values::text_form(body, &kinds);
        match prepare(tx, &text_sql, declared).await {
            Ok(text) => {
                as_text = true;
                statement = text;
                kinds = statement.columns().iter().map(|c| Kind::of(c.type_info())).collect();
            }
            Err(e) if gated || is_connection_error(&e) => return Err(failed(e, false, false)),
            // The statement as it came, with its undecoded columns shown as such.
            Err(_) => {
                tx.back_to_savepoint("after asking for values as text").await?;
            }
        }
    }
    let types = match statement.parameters() {
        Some(sqlx::Either::Left(types)) => types.to_vec(),
        _ => Vec::new(),
    };
    let args: PgArguments = values::bind_all(&types, params)
        .map_err(|e| if gated { Attempt::Ungated } else { Attempt::Failed(ToolError::invalid_arguments(e)) })?;
    let mut outcome = Outcome { columns, rows_affected: 0 };
    // One statement (the extended protocol allows no more); `fetch_many` is how sqlx
    // yields its rows and its command tag (rows affected) together.
    tx.busy = true;
    #[allow(deprecated)]
    let mut stream = statement.query_with(args).fetch_many(tx.conn());
    let mut stopped = false;
    loop {
        let item = match stream.try_next().await {
            Ok(Some(item)) => item,
            Ok(None) => break,
            Err(e) => {
                // An error ends the statement; nothing is left running.
                drop(stream);
                tx.busy = false;
                return Err(failed(e, read_any, as_text));
            }
        };
        let row: PgRow = match item {
            sqlx::Either::Left(done) => {
                outcome.rows_affected += done.rows_affected();
                continue;
            }
            sqlx::Either::Right(row) => row,
        };
        read_any = true;
        let values: Vec<Value> = kinds.iter().enumerate().map(|(i, k)| values::decode(&row, i, k)).collect();
        if on_row(&outcome.columns, values)? == Flow::Stop {
            stopped = true;
            break;
        }
    }
    drop(stream);
    if !stopped {
        tx.busy = false;
    }
    if stopped {
        // The rest would be read and thrown away; stop the server producing it.
        tx.cancel_running().await;
        tx.settle_after_cut().await?;
        tx.busy = false;
    }
    Ok(outcome)
}

/// Prepares `sql`: with the parameters' types `declared` (an operator's tool), or as the
/// server infers them.
async fn prepare<'q>(
    tx: &mut Tx,
    sql: &'q str,
    declared: &[PgTypeInfo],
) -> Result<sqlx::postgres::PgStatement<'q>, sqlx::Error> {
    if declared.is_empty() { tx.conn().prepare(sql).await } else { tx.conn().prepare_with(sql, declared).await }
}

/// Cuts the strings of `row` so that the row fits in about `budget` bytes, each cut
/// string saying how much it lost. Other values (numbers, JSON documents) are kept.
fn shorten_values(row: &mut Value, budget: usize) {
    let Value::Array(values) = row else { return };
    let share = (budget / values.len().max(1)).max(64);
    for v in values.iter_mut() {
        if let Value::String(s) = v
            && s.len() > share
        {
            let mut keep = share;
            while !s.is_char_boundary(keep) {
                keep -= 1;
            }
            let lost = s.len() - keep;
            s.truncate(keep);
            s.push_str(&format!("…[{lost} more bytes; select a substring or length() to see the rest]"));
        }
    }
}

/// Rows offered one by one, kept while they fit a [`Window`]: the one place that
/// decides offsets, row and byte limits and when a result is cut.
#[derive(Debug)]
pub struct Windowed {
    window: Window,
    rows: Vec<Value>,
    cut: Option<Cut>,
    seen: usize,
    bytes: usize,
}

impl Windowed {
    pub fn new(window: Window) -> Self {
        Self { window, rows: Vec::new(), cut: None, seen: 0, bytes: 0 }
    }

    /// Takes one row (a JSON array); says whether reading should stop.
    pub fn offer(&mut self, row: Value) -> Flow {
        self.seen += 1;
        if self.seen <= self.window.offset || self.cut.is_some() {
            return Flow::More;
        }
        if self.rows.len() >= self.window.max_rows {
            self.cut = Some(Cut::Rows);
        } else {
            let mut value = row;
            let mut len = value_size(&value);
            if self.rows.is_empty() && len > self.window.max_bytes {
                // A first row larger than the whole budget: shorten its long values
                // rather than return nothing (or everything).
                shorten_values(&mut value, self.window.max_bytes);
                len = value_size(&value);
                self.cut = Some(Cut::Values);
                self.rows.push(value);
            } else if self.bytes + len > self.window.max_bytes && !self.rows.is_empty() {
                self.cut = Some(Cut::Bytes);
            } else {
                self.rows.push(value);
            }
            self.bytes += len;
        }
        if self.cut.is_some() && self.window.stop_early { Flow::Stop } else { Flow::More }
    }

    /// Whether the result has been cut.
    pub fn is_cut(&self) -> bool {
        self.cut.is_some()
    }

    /// The kept rows.
    pub fn finish(self, columns: Vec<ColumnInfo>, rows_affected: u64) -> Rows {
        Rows { columns, rows: self.rows, cut: self.cut, rows_affected }
    }
}

/// Runs `sql` like [`each_row`] and keeps the rows inside `window`.
pub async fn run(tx: &mut Tx, sql: &str, params: &[Value], window: Window) -> Result<Rows, ToolError> {
    run_declared(tx, sql, params, &[], window).await
}

/// [`run`] with the parameters' types `declared` rather than inferred (none: inferred).
pub fn run_declared<'a>(
    tx: &'a mut Tx,
    sql: &'a str,
    params: &'a [Value],
    declared: &'a [PgTypeInfo],
    window: Window,
) -> BoxFuture<'a, Result<Rows, ToolError>> {
    Box::pin(
        async move { windowed(tx, sql, params, declared, false, window).await.map_err(|a| a.into_tool_error(sql)) },
    )
}

/// Runs a statement through [`each_row_inner`], keeping the rows inside `window`.
async fn windowed(
    tx: &mut Tx,
    sql: &str,
    params: &[Value],
    declared: &[PgTypeInfo],
    gated: bool,
    window: Window,
) -> Result<Rows, Attempt> {
    let mut kept = Windowed::new(window);
    let offer = |_: &[ColumnInfo], values: Vec<Value>| Ok(kept.offer(Value::Array(values)));
    let outcome = each_row_inner(tx, sql, params, declared, gated, offer).await?;
    Ok(kept.finish(outcome.columns, outcome.rows_affected))
}

/// Runs a read's statement wrapped in its plan verdict's gate (`guard::verdicts`), like
/// [`run`]. `None`: the gate found the verdict expired, or the statement failed; the
/// transaction is back at its savepoint, and the caller takes the plan and runs the
/// statement as usual (which answers any error with the user's own text).
pub fn run_gated<'a>(
    tx: &'a mut Tx,
    gated_sql: &'a str,
    params: &'a [Value],
    window: Window,
) -> BoxFuture<'a, Result<Option<Rows>, ToolError>> {
    Box::pin(async move {
        match windowed(tx, gated_sql, params, &[], true, window).await {
            Ok(rows) => Ok(Some(rows)),
            Err(Attempt::Ungated) => {
                tx.back_to_savepoint("after an expired plan verdict").await?;
                Ok(None)
            }
            Err(other) => Err(other.into_tool_error(gated_sql)),
        }
    })
}
