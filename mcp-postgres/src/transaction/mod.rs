//! One tool call's transaction: a pooled connection, a transaction with a statement
//! timeout, and the guarantee that the server stops working when the call goes away.
//!
//! When a call is cancelled (by the client, or by the call timeout) its future is dropped
//! mid-query; dropping the connection alone would leave the statement running on the
//! server. [`Tx`]'s drop asks the server to cancel the backend (`pg_cancel_backend`,
//! from another connection) and closes the connection instead of returning it to the
//! pool.
//!
//! A rollback cannot change a call's answer, so it is sent after the answer: the
//! connection goes back to the pool only once the rollback is done, and is closed if it
//! fails. A COMMIT stays on the call's path: its failure is the answer.

use std::sync::Arc;
use std::time::Duration;

use futures::future::BoxFuture;
use mcp_core::ToolError;
use sqlx::pool::PoolConnection;
use sqlx::postgres::{PgConnection, PgRow};
use sqlx::{Executor as _, Postgres, Row as _};

use crate::database::{Database, Warm, WarmSlot};
use crate::errors::{describe, is_connection_error, tool_error};
use crate::ident::quote_ident;

mod statement;

pub use statement::{ColumnInfo, Cut, Flow, Rows, Window, Windowed, each_row, run, run_declared, run_gated};

/// How a transaction starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// `BEGIN READ ONLY`, always rolled back.
    ReadOnly,
    /// `BEGIN READ WRITE`, committed or rolled back by the caller.
    ReadWrite,
}

/// The answer when PostgreSQL refused a write prepared before a table it uses changed
/// shape (a read is prepared again and goes on).
const STALE_STATEMENT: &str = "PostgreSQL refused the statement as this connection had prepared it, before a table \
    it uses changed its columns (cached plan must not change result type); nothing was changed. The connection is \
    dropped: run the call again.";

/// What a writing call may have left in its session, undone before the connection goes
/// back to the pool: settings, session-level advisory locks, LISTEN, cursors held past
/// the transaction, temporary tables, sequence state. Sent after the call's answer.
/// (Not `DISCARD ALL`: it would drop the pool's prepared statements.)
const CLEAN_SESSION: &str =
    "RESET ALL; SELECT pg_advisory_unlock_all(); UNLISTEN *; CLOSE ALL; DISCARD TEMP; DISCARD SEQUENCES";

/// A transaction in progress on one connection.
pub struct Tx {
    conn: Option<PoolConnection<Postgres>>,
    /// The server process running this connection, for cancelling it.
    pid: i32,
    /// What the session looked like when the transaction began (its begin message).
    pub begun: Begun,
    db: Arc<Database>,
    access: Access,
    /// A statement is running (its rows not all read): dropping now must cancel it.
    busy: bool,
    /// Begun on a warm connection, and no statement run yet.
    warm_untouched: bool,
    /// The connection keeps statements the server refuses: closed at the end, not pooled.
    discard: bool,
    /// What the transaction was begun with, for keeping its connection warm.
    role: Option<String>,
    timeout: Duration,
}

/// What a transaction's begin message read of its session, for the plan verdicts
/// (`guard::verdicts`): the server's snapshot before any statement of the transaction,
/// and the search path as the call's role sees it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Begun {
    pub snapshot: String,
    pub search_path: String,
}

impl Begun {
    /// The backend's pid and what the begin message read, from its last row.
    fn read(rows: &[PgRow]) -> (i32, Begun) {
        let Some(row) = rows.last() else { return (0, Begun::default()) };
        let text = |i: usize| row.try_get::<String, _>(i).unwrap_or_default();
        (row.try_get::<i32, _>(0).unwrap_or(0), Begun { snapshot: text(1), search_path: text(2) })
    }
}

/// What begins a call's transaction, in one message. Standard strings whatever the
/// server's default: the guard reads the text with that rule. Read-only work may cut a
/// statement short (see `settle_after_cut`); the savepoint lets the transaction go on
/// after that.
fn begin_sql(access: Access, timeout: Duration, role: Option<&str>) -> String {
    format!(
        "BEGIN {}; SET LOCAL statement_timeout = {}; SET LOCAL standard_conforming_strings = on; {}\
         SELECT pg_backend_pid(), txid_current_snapshot()::text, current_setting('search_path'){}",
        match access {
            Access::ReadOnly => "READ ONLY",
            Access::ReadWrite => "READ WRITE",
        },
        timeout.as_millis().max(1),
        role.map(|r| format!("SET LOCAL ROLE {}; ", quote_ident(r))).unwrap_or_default(),
        if access == Access::ReadOnly { "; SAVEPOINT mcp_cut" } else { "" }
    )
}

impl std::fmt::Debug for Tx {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Tx").field("db", &self.db.name).field("pid", &self.pid).finish()
    }
}

impl Tx {
    /// Begins a transaction on `db` whose statements stop after `timeout`. A connection
    /// that died while idle (the server restarted) is replaced once.
    /// With `role`, the transaction acts as that role (`SET LOCAL ROLE`), so that the
    /// database's grants decide what the call may read and change.
    pub fn begin(
        db: &Arc<Database>,
        access: Access,
        timeout: Duration,
        role: Option<&str>,
    ) -> BoxFuture<'static, Result<Tx, ToolError>> {
        Box::pin(Self::begin_inner(db.clone(), access, timeout, role.map(str::to_string)))
    }

    async fn begin_inner(
        db: Arc<Database>,
        access: Access,
        timeout: Duration,
        role: Option<String>,
    ) -> Result<Tx, ToolError> {
        let begin = begin_sql(access, timeout, role.as_deref());
        // A warm connection begun alike is ready; one begun otherwise ends its
        // transaction in the same message that begins this one.
        let mut warm = db.warm.take_for_read().await;
        if let Some(w) = warm.take_if(|w| access == Access::ReadOnly && w.role == role && w.timeout == timeout) {
            return Ok(Tx {
                conn: Some(w.conn),
                pid: w.pid,
                begun: w.begun,
                db,
                access,
                busy: false,
                warm_untouched: true,
                discard: false,
                role,
                timeout,
            });
        }
        let mut attempt = 0;
        loop {
            attempt += 1;
            let (mut conn, sql) = match warm.take() {
                Some(w) => (w.conn, format!("ROLLBACK; {begin}")),
                None => (db.acquire().await.map_err(|e| unavailable(&db, &e))?, begin.clone()),
            };
            match (&mut *conn).fetch_all(sqlx::raw_sql(&sql)).await {
                Ok(rows) => {
                    let (pid, begun) = Begun::read(&rows);
                    return Ok(Tx {
                        conn: Some(conn),
                        pid,
                        begun,
                        db,
                        access,
                        busy: false,
                        warm_untouched: false,
                        discard: false,
                        role,
                        timeout,
                    });
                }
                Err(e) if attempt == 1 && is_connection_error(&e) => {
                    conn.close_on_drop();
                    continue;
                }
                Err(e) => {
                    conn.close_on_drop();
                    if let Some(role) = &role
                        && matches!(&e, sqlx::Error::Database(d) if matches!(d.code().as_deref(), Some("42704" | "42501" | "22023")))
                    {
                        return Err(ToolError::refused(format!(
                            "cannot act as role `{role}` on database `{}` (the access policy's `role`): {}",
                            db.name,
                            describe(&e)
                        )));
                    }
                    return Err(unavailable(&db, &e));
                }
            }
        }
    }

    /// Begins the transaction again on another connection: for a warm one the server
    /// ended while it waited (a restart), before anything ran in it.
    fn replace_connection(&mut self) -> BoxFuture<'_, Result<(), ToolError>> {
        Box::pin(async move {
            if let Some(mut conn) = self.conn.take() {
                conn.close_on_drop();
            }
            let again = Self::begin_inner(self.db.clone(), self.access, self.timeout, self.role.clone()).await?;
            *self = again;
            Ok(())
        })
    }

    /// The server process running the transaction.
    pub fn pid(&self) -> i32 {
        self.pid
    }

    /// The role the transaction acts as (`SET LOCAL ROLE`), if any.
    pub fn role(&self) -> Option<&str> {
        self.role.as_deref()
    }

    /// The connection, for running statements.
    pub fn conn(&mut self) -> &mut PgConnection {
        match self.conn.as_mut() {
            Some(conn) => conn,
            // The connection is only taken by `finish` and `drop`, which consume `self`.
            None => unreachable!("transaction used after it ended"),
        }
    }

    /// Ends the transaction with ROLLBACK, after the call answered: a rollback's outcome
    /// cannot change the answer (one that fails closes the connection, which ends the
    /// transaction all the same). The connection goes back to the pool once it is done.
    pub fn rollback(self) {
        // `drop` rolls back in the background a transaction not running a statement.
        drop(self);
    }

    /// Ends the transaction by closing its connection, which the server then rolls back:
    /// for a call that left something in the session (prepared statements, hypothetical
    /// indexes) and could not undo it, so that no later call inherits it.
    pub fn close(mut self) {
        if let Some(mut conn) = self.conn.take() {
            conn.close_on_drop();
        }
    }

    /// Ends the transaction with COMMIT, whose failure is the call's answer. After a
    /// writing transaction the session's clean-up follows the answer: the connection goes
    /// back to the pool once it is done, and is closed if it fails.
    pub fn commit(mut self) -> BoxFuture<'static, Result<(), ToolError>> {
        Box::pin(async move {
            let Some(mut conn) = self.conn.take() else { return Ok(()) };
            if let Err(e) = (&mut *conn).execute(sqlx::raw_sql("COMMIT")).await {
                conn.close_on_drop();
                return Err(tool_error(&e, None, Some("COMMIT failed")));
            }
            if self.access == Access::ReadWrite {
                after_answer(conn, self.db.clone(), self.pid, CLEAN_SESSION.to_string());
            }
            Ok(())
        })
    }

    /// After PostgreSQL refused a statement the connection had prepared before a table it
    /// reads changed shape: the connection drops every statement it keeps, so that none
    /// is refused again. A read goes back to its savepoint and can go on; a write's
    /// transaction is aborted, and its connection is closed when the call ends.
    fn forget_statements(&mut self) -> BoxFuture<'_, Result<(), ToolError>> {
        Box::pin(async move {
            if self.access == Access::ReadWrite {
                self.discard = true;
                return Err(ToolError::failed(STALE_STATEMENT));
            }
            self.back_to_savepoint("after a table changed shape").await?;
            sqlx::Connection::clear_cached_statements(self.conn())
                .await
                .map_err(|e| tool_error(&e, None, Some("after a table changed shape")))
        })
    }

    /// Takes a read's transaction back to the savepoint its begin set (`after`: what
    /// happened, for the error), undoing a failed or cut statement so that the
    /// transaction goes on.
    fn back_to_savepoint<'a>(&'a mut self, after: &'a str) -> BoxFuture<'a, Result<(), ToolError>> {
        Box::pin(async move {
            let back = (&mut *self.conn()).execute(sqlx::raw_sql("ROLLBACK TO SAVEPOINT mcp_cut")).await;
            back.map(drop).map_err(|e| tool_error(&e, None, Some(after)))
        })
    }

    /// Asks the server to stop the statement running on this transaction's connection.
    /// Uses another connection from the pool; a failure is only logged.
    pub fn cancel_running(&self) -> BoxFuture<'static, ()> {
        cancel_backend(self.db.clone(), self.pid)
    }

    /// After a statement was cut short and cancelled: reads what is left of it (its rows,
    /// or the cancellation error), then returns the transaction to its savepoint, since a
    /// cancelled statement leaves it aborted. The transaction is usable again afterwards.
    fn settle_after_cut(&mut self) -> BoxFuture<'_, Result<(), ToolError>> {
        Box::pin(async move {
            let failed = |e: sqlx::Error| tool_error(&e, None, Some("after cutting a result"));
            // Each error read ends one pending exchange; a few rounds drain them all.
            let mut settled = false;
            for _ in 0..4 {
                match sqlx::Connection::ping(self.conn()).await {
                    Ok(()) => {
                        settled = true;
                        break;
                    }
                    Err(e) if was_cancelled(&e) => continue,
                    Err(e) => return Err(failed(e)),
                }
            }
            if !settled {
                return Err(ToolError::failed("the connection did not settle after cutting a result"));
            }
            if self.access == Access::ReadOnly {
                self.back_to_savepoint("after cutting a result").await?;
            }
            Ok(())
        })
    }
}

impl Drop for Tx {
    fn drop(&mut self) {
        let Some(mut conn) = self.conn.take() else { return };
        let Ok(handle) = tokio::runtime::Handle::try_current() else {
            conn.close_on_drop();
            return;
        };
        if self.discard {
            conn.close_on_drop();
            return;
        }
        let db = self.db.clone();
        let pid = self.pid;
        if self.busy {
            // Dropped mid-statement (the call was cancelled or timed out): the statement
            // may still run. Cancel it, then close the connection rather than hand a busy
            // one back to the pool.
            handle.spawn(async move {
                cancel_backend(db, pid).await;
                let _ = conn.close().await;
            });
        } else {
            // Rolled back, or left by an early return (an error).
            match self.access {
                Access::ReadOnly => end_read(conn, db, pid, self.role.take(), self.timeout),
                Access::ReadWrite => after_answer(conn, db, pid, format!("ROLLBACK; {CLEAN_SESSION}")),
            }
        }
    }
}

/// Runs `sql` (the end of a transaction, the session's clean-up) on `conn` in the
/// background; the connection goes back to the pool once it is done, and is closed if it
/// failed.
fn after_answer(mut conn: PoolConnection<Postgres>, db: Arc<Database>, pid: i32, sql: String) {
    let Ok(handle) = tokio::runtime::Handle::try_current() else {
        conn.close_on_drop();
        return;
    };
    handle.spawn(async move {
        if let Err(e) = send_after_cut(&mut conn, &sql).await {
            tracing::debug!(database = %db.name, pid, error = %describe(&e), "ending a transaction failed; connection closed");
            conn.close_on_drop();
        }
    });
}

/// Ends a read's transaction after its answer and, when the database has no warm
/// connection and no one waits for one, begins the next read's transaction in the same
/// message: the next read then starts without a round trip. The warm connection goes
/// back to the pool after [`WarmSlot::HOLD`] if no read takes it.
fn end_read(mut conn: PoolConnection<Postgres>, db: Arc<Database>, pid: i32, role: Option<String>, timeout: Duration) {
    let Ok(handle) = tokio::runtime::Handle::try_current() else {
        conn.close_on_drop();
        return;
    };
    // Claimed now, before the answer goes out, so that the next read waits for this
    // connection rather than take another from the pool.
    if !db.warm.start_warming() {
        return after_answer(conn, db, pid, "ROLLBACK".to_string());
    }
    handle.spawn(async move {
        let sql = format!("ROLLBACK; {}", begin_sql(Access::ReadOnly, timeout, role.as_deref()));
        let begun = match send_after_cut(&mut conn, &sql).await {
            Ok(rows) => Begun::read(&rows).1,
            Err(e) => {
                tracing::debug!(database = %db.name, pid, error = %describe(&e), "ending a read failed; connection closed");
                conn.close_on_drop();
                drop(conn);
                db.warm.abandon();
                return;
            }
        };
        match db.warm.put(Warm { conn, pid, begun, role, timeout }) {
            Ok(generation) => {
                tokio::time::sleep(WarmSlot::HOLD).await;
                if let Some(warm) = db.warm.take_if(generation) {
                    after_answer(warm.conn, db, pid, "ROLLBACK".to_string());
                }
            }
            Err(warm) => after_answer(warm.conn, db, pid, "ROLLBACK".to_string()),
        }
    });
}

/// Prepared statements each connection keeps (sqlx's cache; `databases.rs` sets it).
pub const STATEMENT_CACHE: usize = 100;

/// A connection whose cache has fewer free places than this after a call is emptied
/// then, off the next call's path, in one round trip: sqlx closes each statement it
/// evicts in a round trip of its own, which would otherwise fall on a call's path at
/// every new statement once the cache is full (a call prepares at most a few).
const CACHE_ROOM: usize = 8;

/// Sends `sql` on a connection whose last statement may have been cut: the cancellation
/// of a statement whose rows were cut can land on the next command (the server takes it
/// when it next runs one), so a cancelled attempt is sent once more. A nearly full
/// statement cache is emptied first.
async fn send_after_cut(conn: &mut PgConnection, sql: &str) -> Result<Vec<PgRow>, sqlx::Error> {
    if sqlx::Connection::cached_statements_size(&*conn) + CACHE_ROOM > STATEMENT_CACHE {
        sqlx::Connection::clear_cached_statements(&mut *conn).await?;
    }
    let mut result = (&mut *conn).fetch_all(sqlx::raw_sql(sql)).await;
    if result.as_ref().is_err_and(was_cancelled) {
        result = (&mut *conn).fetch_all(sqlx::raw_sql(sql)).await;
    }
    result
}

fn cancel_backend(db: Arc<Database>, pid: i32) -> BoxFuture<'static, ()> {
    Box::pin(async move {
        if pid != 0 {
            cancel_backend_inner(&db, pid).await;
        }
    })
}

async fn cancel_backend_inner(db: &Database, pid: i32) {
    let cancel = async {
        let mut conn = db.acquire().await?;
        (&mut *conn).execute(sqlx::query("SELECT pg_cancel_backend($1)").bind(pid)).await
    };
    match tokio::time::timeout(Duration::from_secs(5), cancel).await {
        Ok(Ok(_)) => tracing::debug!(database = %db.name, pid, "cancelled a statement"),
        Ok(Err(e)) => tracing::warn!(database = %db.name, pid, error = %describe(&e), "could not cancel a statement"),
        Err(_) => tracing::warn!(database = %db.name, pid, "timed out cancelling a statement"),
    }
}

fn was_cancelled(e: &sqlx::Error) -> bool {
    matches!(e, sqlx::Error::Database(db) if db.code().as_deref() == Some("57014"))
}

/// A database that cannot be reached, or refused the call's transaction.
fn unavailable(db: &Database, e: &sqlx::Error) -> ToolError {
    let message = match e {
        sqlx::Error::Io(io) => format!("database `{}` is unavailable: cannot reach {}: {io}", db.name, db.address()),
        _ => format!("database `{}` is unavailable: {}", db.name, describe(e)),
    };
    match crate::errors::kind_of(e) {
        // Refused the login or the role: the configuration, not the server's state.
        mcp_core::ErrorKind::Refused => ToolError::refused(message),
        _ => ToolError::unavailable(message),
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A one-connection database on the test service (MCP_TEST_DATABASE_URL).
    fn one_connection() -> Arc<Database> {
        connections(1)
    }

    /// A database of `size` connections on the test service.
    pub(crate) fn connections(size: u32) -> Arc<Database> {
        let url = std::env::var("MCP_TEST_DATABASE_URL").unwrap_or_else(|_| {
            panic!("MCP_TEST_DATABASE_URL is not set: run scripts/test.sh, or `eval \"$(scripts/services.sh up)\"`")
        });
        let options: sqlx::postgres::PgConnectOptions = url.parse().expect("a valid URL");
        let pool = sqlx::postgres::PgPoolOptions::new()
            .max_connections(size)
            .connect_lazy_with(options.statement_cache_capacity(STATEMENT_CACHE));
        Arc::new(Database {
            name: "test".into(),
            description: None,
            read_only: true,
            role: None,
            pool,
            diagnosing: tokio::sync::Mutex::new(()),
            reachable_at: std::sync::Mutex::new(None),
            used: tokio::sync::watch::Sender::new(false),
            warm: Default::default(),
            verdicts: Default::default(),
        })
    }

    async fn begin(db: &Arc<Database>) -> Tx {
        Tx::begin(db, Access::ReadOnly, Duration::from_secs(5), None).await.expect("begin")
    }

    #[tokio::test]
    async fn a_rolled_back_connection_is_reused_and_a_closed_one_is_not() {
        let db = one_connection();
        let first = begin(&db).await;
        let pid = first.pid;
        assert_ne!(pid, 0);
        first.rollback();
        let again = begin(&db).await;
        assert_eq!(again.pid, pid, "a rolled-back connection goes back to the pool");
        // What a call that could not clean its session does: nothing it left may reach
        // the next call, so the connection is gone.
        again.close();
        let next = begin(&db).await;
        assert_ne!(next.pid, pid, "a closed connection must not serve the next call");
        next.rollback();
    }

    #[tokio::test]
    async fn a_nearly_full_statement_cache_is_emptied_after_the_call_not_during_one() {
        let db = one_connection();
        let mut most_before_a_call = 0;
        let mut pids = std::collections::HashSet::new();
        // Distinct statements, as a model writes them: more than the cache holds.
        for i in 0..STATEMENT_CACHE + 30 {
            let mut tx = begin(&db).await;
            pids.insert(tx.pid);
            let cached = sqlx::Connection::cached_statements_size(tx.conn());
            most_before_a_call = most_before_a_call.max(cached);
            let rows = run(&mut tx, &format!("SELECT {i} AS n"), &[], Window::ALL).await.expect("read");
            assert_eq!(rows.rows[0][0], i);
            tx.rollback();
        }
        // Every call found room for its statements: none was evicted on its path.
        assert!(most_before_a_call + CACHE_ROOM <= STATEMENT_CACHE, "a call began with {most_before_a_call} cached");
        assert_eq!(pids.len(), 1, "the connection was kept");
    }

    #[tokio::test]
    async fn a_read_that_cannot_stand_as_a_subquery_keeps_its_own_error() {
        let db = one_connection();
        let mut tx = begin(&db).await;
        // A point asks for the text form; wrapped, this statement fails at parse time
        // (a data-modifying WITH must be at the top level). The user's own error stands.
        let sql = "WITH gone AS (DELETE FROM pg_catalog.pg_description RETURNING point(1, 2) AS p) SELECT * FROM gone";
        let err = run(&mut tx, sql, &[], Window::ALL).await.expect_err("a write in a read-only transaction");
        assert!(err.to_string().contains("read-only transaction"), "{err}");
        tx.rollback();
        // And one that can: its point comes as text.
        let mut tx = begin(&db).await;
        let rows = run(&mut tx, "SELECT point(3, 4) AS p", &[], Window::ALL).await.expect("a read");
        assert_eq!(rows.rows[0][0], "(3,4)");
        tx.rollback();
    }

    /// Waits (at most a second) until the read that just ended left its connection warm.
    async fn until_warm(db: &Database) {
        for _ in 0..100 {
            if db.warm.is_held() {
                return;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        panic!("no connection was kept warm after a read");
    }

    async fn one_text(tx: &mut Tx, sql: &str) -> String {
        let rows = run(tx, sql, &[], Window::ALL).await.expect(sql);
        rows.rows[0][0].as_str().expect("text").to_string()
    }

    #[tokio::test]
    async fn the_next_read_starts_in_the_transaction_the_last_one_began() {
        let db = one_connection();
        let first = begin(&db).await;
        let pid = first.pid;
        first.rollback();
        until_warm(&db).await;
        let mut next = begin(&db).await;
        assert_eq!(next.pid, pid);
        assert!(!db.warm.is_held(), "the warm connection was taken");
        // Begun as a read's transaction is: read-only, with the call's timeout, and
        // able to go on after a cut.
        assert_eq!(one_text(&mut next, "SHOW transaction_read_only").await, "on");
        assert_eq!(one_text(&mut next, "SHOW statement_timeout").await, "5s");
        run(&mut next, "ROLLBACK TO SAVEPOINT mcp_cut", &[], Window::ALL).await.expect("the savepoint exists");
        let err = run(&mut next, "CREATE TABLE mcp_warm_write (x int)", &[], Window::ALL).await.expect_err("read-only");
        assert!(err.to_string().contains("read-only"), "{err}");
        next.rollback();
        // Another timeout, or a write, takes the warm connection and begins its own.
        until_warm(&db).await;
        let mut other = Tx::begin(&db, Access::ReadOnly, Duration::from_secs(7), None).await.expect("begin");
        assert_eq!(other.pid, pid);
        assert_eq!(one_text(&mut other, "SHOW statement_timeout").await, "7s");
        other.rollback();
        until_warm(&db).await;
        let mut write = Tx::begin(&db, Access::ReadWrite, Duration::from_secs(5), None).await.expect("begin");
        assert_eq!(write.pid, pid);
        assert_eq!(one_text(&mut write, "SHOW transaction_read_only").await, "off");
        write.rollback();
    }

    #[tokio::test]
    async fn a_warm_transaction_serves_only_a_read_acting_as_its_role() {
        let db = one_connection();
        let reader = Some("pg_read_all_data");
        let as_role = Tx::begin(&db, Access::ReadOnly, Duration::from_secs(5), reader).await.expect("begin");
        let pid = as_role.pid;
        as_role.rollback();
        until_warm(&db).await;
        // A read as the connection's own role must not inherit the warm `SET LOCAL ROLE`,
        // nor the other way round.
        let mut own = begin(&db).await;
        assert_eq!(own.pid, pid);
        assert_eq!(one_text(&mut own, "SELECT (current_user = session_user)::text").await, "true");
        own.rollback();
        until_warm(&db).await;
        let mut scoped = Tx::begin(&db, Access::ReadOnly, Duration::from_secs(5), reader).await.expect("begin");
        assert_eq!(scoped.pid, pid);
        assert_eq!(one_text(&mut scoped, "SELECT current_user::text").await, "pg_read_all_data");
        scoped.rollback();
    }

    #[tokio::test]
    async fn a_warm_connection_goes_back_to_the_pool_when_unused_or_wanted() {
        let db = connections(2);
        begin(&db).await.rollback();
        until_warm(&db).await;
        // Anyone else needing a connection gets it, out of its transaction, at once,
        // although the pool's other connection is in use.
        let busy = begin(&db).await;
        assert!(!db.warm.is_held());
        let warm_pid = busy.pid;
        busy.rollback();
        until_warm(&db).await;
        let mut held = db.pool.acquire().await.expect("the pool's other connection");
        let started = std::time::Instant::now();
        let conn = db.acquire().await.expect("the warm connection");
        assert!(started.elapsed() < WarmSlot::HOLD, "waited for the warm connection to expire");
        assert_eq!(state_of(&mut held, warm_pid).await, "idle", "the warm transaction ends before it is handed out");
        drop(conn);
        // Unused, it ends its transaction and goes back to the pool: the server shows no
        // idle transaction.
        let last = begin(&db).await;
        let last_pid = last.pid;
        last.rollback();
        until_warm(&db).await;
        tokio::time::sleep(WarmSlot::HOLD + Duration::from_millis(200)).await;
        assert!(!db.warm.is_held(), "the warm connection outlived its hold");
        assert_eq!(state_of(&mut held, last_pid).await, "idle");
        assert_eq!(db.pool.num_idle(), 1, "the connection is back in the pool");
    }

    #[tokio::test]
    async fn a_warm_connection_the_server_ended_is_replaced_before_the_first_statement() {
        let db = connections(2);
        let first = begin(&db).await;
        let pid = first.pid;
        first.rollback();
        until_warm(&db).await;
        let mut other = db.pool.acquire().await.expect("the pool's other connection");
        let ended: bool = sqlx::query_scalar("SELECT pg_terminate_backend($1)")
            .bind(pid)
            .fetch_one(&mut *other)
            .await
            .expect("terminate");
        assert!(ended);
        drop(other);
        let mut tx = begin(&db).await;
        let rows = run(&mut tx, "SELECT 1", &[], Window::ALL).await.expect("runs on another connection");
        assert_eq!(rows.rows, vec![serde_json::json!([1])]);
        assert_ne!(tx.pid, pid);
        assert_eq!(one_text(&mut tx, "SHOW transaction_read_only").await, "on");
        tx.rollback();
    }

    /// What `pg_stat_activity` says a backend is doing.
    async fn state_of(conn: &mut PgConnection, pid: i32) -> String {
        sqlx::query_scalar("SELECT state FROM pg_stat_activity WHERE pid = $1")
            .bind(pid)
            .fetch_one(conn)
            .await
            .expect("the backend is alive")
    }
}
