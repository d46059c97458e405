//! Verdicts of the plan check, kept so that a read repeated while nothing has committed
//! on the server runs without taking its plan again: one round trip instead of two.
//!
//! A verdict stands for what PostgreSQL resolved a statement to, which depends on the
//! catalog (views, rules, functions, policies), the session's search path and the role.
//! The catalog changes only by a committed transaction, and any commit anywhere on the
//! server changes its snapshot (`txid_current_snapshot()`). So a verdict is kept with
//! the snapshot read when its transaction began, before the plan was taken; and it is
//! reused only inside a statement that checks, after PostgreSQL planned it and before
//! anything in it runs, that the snapshot is still that one. The statement is run as
//! `SELECT * FROM (SELECT * FROM (<sql>) OFFSET 0) WHERE <gate>`: a condition on no
//! column, which PostgreSQL evaluates once, before the rest of the plan (its One-Time
//! Filter; the fenced subquery keeps the statement's own such conditions out of it),
//! and which fails with an error when anything has committed since. Any failure of a
//! gated statement sends the call the usual way: the plan is taken again, then the
//! statement runs as the user wrote it.
//!
//! Kept per connection (its pid), role, search path, SQL text and parameter values; only
//! for statements whose plan writes nothing and locks no row, and not under an access
//! policy with scopes (whose checks depend on the client).

use std::collections::HashMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

use serde_json::Value;

use super::lexer;
use crate::transaction::Tx;

/// Most verdicts kept per database; when full, all are dropped and kept anew.
const MOST_VERDICTS: usize = 512;
/// Longer statements and parameter lists are checked every time: the cache stays small.
const MOST_SQL_BYTES: usize = 16 * 1024;
const MOST_PARAMS_BYTES: usize = 4 * 1024;

/// The verdicts kept for one database.
#[derive(Debug, Default)]
pub struct Verdicts {
    kept: Mutex<HashMap<Key, String>>,
    /// Reads a gated statement answered.
    answered: AtomicU64,
}

#[derive(Debug, PartialEq, Eq, Hash)]
struct Key {
    pid: i32,
    role: Option<String>,
    search_path: String,
    sql: String,
    params: String,
}

impl Key {
    fn of(tx: &Tx, sql: &str, params: &[Value]) -> Option<Key> {
        let encoded = serde_json::to_string(params).ok()?;
        if sql.len() > MOST_SQL_BYTES || encoded.len() > MOST_PARAMS_BYTES || tx.begun.snapshot.is_empty() {
            return None;
        }
        Some(Key {
            pid: tx.pid(),
            role: tx.role().map(str::to_string),
            search_path: tx.begun.search_path.clone(),
            sql: sql.to_string(),
            params: encoded,
        })
    }
}

/// A statement to run in place of a checked one, and its parameters.
#[derive(Debug, PartialEq)]
pub struct Gated {
    pub sql: String,
    pub params: Vec<Value>,
}

impl Verdicts {
    /// `sql` in its gate, when a verdict for it stands as far as `tx`'s begin saw: the
    /// snapshot then is the one the verdict was kept with.
    pub fn gated(&self, tx: &Tx, sql: &str, params: &[Value]) -> Option<Gated> {
        let key = Key::of(tx, sql, params)?;
        let snapshot = self.kept.lock().ok()?.get(&key)?.clone();
        if snapshot != tx.begun.snapshot {
            return None;
        }
        gate(sql, params, snapshot)
    }

    /// Keeps the verdict that `sql` with `params` passed the plan check in `tx`.
    pub fn keep(&self, tx: &Tx, sql: &str, params: &[Value]) {
        let Some(key) = Key::of(tx, sql, params) else { return };
        if lexer::subquery_body(sql).is_none() {
            return;
        }
        if let Ok(mut kept) = self.kept.lock() {
            if kept.len() >= MOST_VERDICTS && !kept.contains_key(&key) {
                kept.clear();
            }
            kept.insert(key, tx.begun.snapshot.clone());
        }
    }

    /// Counts a read its gated statement answered.
    pub fn answered(&self) {
        self.answered.fetch_add(1, Ordering::Relaxed);
    }

    /// How many reads gated statements answered.
    #[cfg(test)]
    pub fn answers(&self) -> u64 {
        self.answered.load(Ordering::Relaxed)
    }
}

/// `sql` as a subquery under the gate; the snapshot is the last parameter. The
/// statement goes inside a subquery with `OFFSET 0`, which PostgreSQL neither merges into
/// the query around it nor pushes conditions into: the gate is then the only condition
/// of the outer query, alone in its one-time filter. Merged, it would share that filter
/// with the statement's own conditions on no column (`(SELECT count(*) FROM v) > 0`),
/// which PostgreSQL orders by cost and could evaluate first. Every name the gate uses is
/// schema-qualified: a function or operator of the same name earlier on the search path
/// must not answer for it.
fn gate(sql: &str, params: &[Value], snapshot: String) -> Option<Gated> {
    let body = lexer::subquery_body(sql)?;
    let n = params.len() + 1;
    let now = "pg_catalog.txid_current_snapshot()::pg_catalog.text";
    let sql = format!(
        "SELECT * FROM (SELECT * FROM (\n{body}\n) AS mcp_statement OFFSET 0) AS mcp_checked WHERE CASE WHEN {now} OPERATOR(pg_catalog.=) ${n}::pg_catalog.text \
         THEN true ELSE ('mcp-postgres: the plan verdict expired, the snapshot is now ' OPERATOR(pg_catalog.||) \
         {now})::pg_catalog.bool END"
    );
    let mut all = params.to_vec();
    all.push(Value::String(snapshot));
    Some(Gated { sql, params: all })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    use std::sync::Arc;
    use std::time::Duration;

    use sqlx::{Connection as _, Executor as _, PgConnection};

    use crate::access::Relations;
    use crate::database::Database;
    use crate::guard::FunctionGuard;
    use crate::guard::plan::checked_read;
    use crate::transaction::tests::connections;
    use crate::transaction::{Access, Rows, Window};

    async fn admin() -> PgConnection {
        let url = std::env::var("MCP_TEST_DATABASE_URL").expect("MCP_TEST_DATABASE_URL");
        PgConnection::connect(&url).await.expect("connect")
    }

    /// A schema of this test's own, with a view `v` of one row.
    async fn fixture(admin: &mut PgConnection, tag: &str) -> String {
        let s = format!("verdicts_{tag}_{}", std::process::id());
        admin
            .execute(sqlx::raw_sql(&format!(
                "DROP SCHEMA IF EXISTS {s} CASCADE; CREATE SCHEMA {s}; CREATE VIEW {s}.v AS SELECT 1 AS x"
            )))
            .await
            .expect("fixture");
        s
    }

    async fn begin(db: &Arc<Database>) -> Tx {
        Tx::begin(db, Access::ReadOnly, Duration::from_secs(5), None).await.expect("begin")
    }

    async fn read(db: &Arc<Database>, sql: &str) -> Result<Rows, mcp_core::ToolError> {
        let mut tx = begin(db).await;
        let guard = FunctionGuard::default();
        let rows = checked_read(&mut tx, &guard, &db.verdicts, &Relations::default(), sql, &[], Window::ALL).await;
        tx.rollback();
        rows
    }

    /// Reads `sql` until its gated statement answers (a commit elsewhere on the server
    /// sends a read the usual way and renews the verdict); returns that answer.
    async fn read_gated(db: &Arc<Database>, sql: &str) -> Rows {
        for _ in 0..20 {
            let before = db.verdicts.answers();
            let rows = read(db, sql).await.expect(sql);
            if db.verdicts.answers() > before {
                return rows;
            }
        }
        panic!("no gated statement answered `{sql}`");
    }

    #[tokio::test]
    async fn a_repeated_read_is_answered_by_its_gated_statement_alike() {
        let mut admin = admin().await;
        let s = fixture(&mut admin, "alike").await;
        let db = connections(1);
        for sql in [
            // Same column twice, the order kept, a final `;` and a comment.
            format!("SELECT x AS a, x + 1 AS a FROM {s}.v UNION ALL SELECT 5, 4 ORDER BY 1 DESC; -- end"),
            format!("WITH w AS (SELECT x FROM {s}.v) SELECT 'text', x, NULL FROM w"),
            format!("TABLE {s}.v"),
            "VALUES (1, 'a'), (2, 'b')".to_string(),
            "(SELECT 1) UNION (SELECT 2) ORDER BY 1".to_string(),
        ] {
            let first = read(&db, &sql).await.expect(&sql);
            let gated = read_gated(&db, &sql).await;
            assert_eq!(gated.rows, first.rows, "{sql}");
            let names = |r: &Rows| r.columns.iter().map(|c| (c.name.clone(), c.type_name.clone())).collect::<Vec<_>>();
            assert_eq!(names(&gated), names(&first), "{sql}");
        }
        // A statement that cannot stand as a subquery keeps no verdict.
        let before = db.verdicts.answers();
        for _ in 0..3 {
            read(&db, "SHOW work_mem").await.ok();
        }
        assert_eq!(db.verdicts.answers(), before);
    }

    /// Keeps a verdict for `sql` (`{s}`: the test's schema) for exactly the snapshot of a
    /// transaction, so that its gated statement is tried; replaces the view `v` with
    /// `view` (`{victim}`: the pid of another session) after that snapshot was read and
    /// before the statement is planned; then the read must be refused for
    /// `pg_terminate_backend`, and the other session must live.
    async fn a_replaced_view_is_refused(tag: &str, sql: &str, view: &str) {
        let mut admin = admin().await;
        let s = fixture(&mut admin, tag).await;
        let mut victim = self::admin().await;
        let victim_pid: i32 = sqlx::query_scalar("SELECT pg_backend_pid()").fetch_one(&mut victim).await.expect("pid");
        let db = connections(1);
        let sql = sql.replace("{s}", &s);
        let mut tx = begin(&db).await;
        db.verdicts.keep(&tx, &sql, &[]);
        assert!(db.verdicts.gated(&tx, &sql, &[]).is_some());
        let view = view.replace("{s}", &s).replace("{victim}", &victim_pid.to_string());
        admin.execute(sqlx::raw_sql(&format!("CREATE OR REPLACE VIEW {s}.v AS {view}"))).await.expect("replace");
        let guard = FunctionGuard::default();
        let err = checked_read(&mut tx, &guard, &db.verdicts, &Relations::default(), &sql, &[], Window::ALL)
            .await
            .expect_err("the new view's plan is refused");
        assert!(err.to_string().contains("pg_terminate_backend"), "{err}");
        tx.rollback();
        let alive: i32 = sqlx::query_scalar("SELECT 1").fetch_one(&mut victim).await.expect("the victim lives");
        assert_eq!(alive, 1);
    }

    #[tokio::test]
    async fn a_view_replaced_after_the_transaction_began_is_checked_again() {
        let view = "SELECT 1 AS x, pg_terminate_backend({victim}) AS y";
        a_replaced_view_is_refused("race", "SELECT x FROM {s}.v", view).await;
    }

    /// A condition on no column of the user's own (`(SELECT count(*) FROM v) > 0`) is a
    /// one-time filter too; PostgreSQL orders such filters by cost, so the gate must
    /// stand apart from the user's statement to be evaluated first.
    #[tokio::test]
    async fn the_gate_runs_before_the_users_own_one_time_conditions() {
        let sql = "SELECT 1 AS one WHERE (SELECT count(*) FROM {s}.v) > 0";
        a_replaced_view_is_refused("initplan", sql, "SELECT 1 AS x WHERE pg_terminate_backend({victim})").await;
    }

    #[tokio::test]
    async fn a_failing_gated_read_answers_with_the_users_own_statement() {
        let mut admin = admin().await;
        let s = fixture(&mut admin, "fails").await;
        let db = connections(1);
        let sql = format!("SELECT 1 / (x - 1) FROM {s}.v");
        let mut tx = begin(&db).await;
        db.verdicts.keep(&tx, &sql, &[]);
        let guard = FunctionGuard::default();
        let err = checked_read(&mut tx, &guard, &db.verdicts, &Relations::default(), &sql, &[], Window::ALL)
            .await
            .expect_err("division by zero");
        let message = err.to_string();
        assert!(message.contains("division by zero"), "{message}");
        assert!(!message.contains("mcp_checked"), "the gate shows in the error: {message}");
        tx.rollback();
    }

    #[test]
    fn the_gate_follows_the_statement_on_a_line_of_its_own() {
        let gated = gate("select $1 -- a comment", &[json!(5)], "10:12:11".into()).expect("gated");
        // The comment ends at the line break: the gate is not commented out.
        assert!(
            gated
                .sql
                .starts_with("SELECT * FROM (SELECT * FROM (\nselect $1 -- a comment\n) AS mcp_statement OFFSET 0)")
        );
        assert!(gated.sql.contains("OPERATOR(pg_catalog.=) $2::pg_catalog.text"), "{}", gated.sql);
        assert_eq!(gated.params, vec![json!(5), json!("10:12:11")]);
    }
}
