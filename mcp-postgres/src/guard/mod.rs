//! What SQL a tool will send, checked twice.
//!
//! The database enforces read-only itself (every `query` runs in a READ ONLY transaction
//! that is rolled back, as one prepared statement). These checks close what a read-only
//! transaction leaves open: functions that read files, run programs or signal other
//! sessions (`pg_read_file`, `lo_import`, `dblink`, `pg_terminate_backend`, ...), which
//! a privileged role may call even read-only, and statements such as `COPY ... TO
//! PROGRAM` or `DO` blocks.
//!
//! 1. Here, on the text, read with the server's own lexical rules ([`lexer`]): one
//!    statement, its kind, and no refused name called (`name(`) or reached by attribute
//!    notation (`(x).name`), however it is quoted or escaped. This is a fast first filter,
//!    and the only check of the few places a plan does not show (VALUES lists, LIMIT,
//!    ON CONFLICT and MERGE actions) and of statements that have no plan (DDL).
//! 2. In [`plan`], on what PostgreSQL resolved: the statement's `EXPLAIN (VERBOSE)` plan,
//!    taken in the call's own transaction before it runs, names every function it will
//!    call (views expanded, SQL functions inlined, attribute notation and casts
//!    resolved), every relation it reads and every relation it writes.

pub mod lexer;
pub mod plan;
pub mod verdicts;

use mcp_core::ToolError;

use crate::config::WriteMode;
use lexer::{Kind, Token};

/// Function names refused unless allowed by name.
const DENIED_FUNCTIONS: &[&str] = &[
    "pg_stat_file",
    "pg_terminate_backend",
    "pg_cancel_backend",
    "pg_reload_conf",
    "pg_rotate_logfile",
    "pg_promote",
    "pg_switch_wal",
    "pg_create_restore_point",
    "pg_log_backend_memory_contexts",
    "pg_import_system_collations",
    "pg_logdir_ls",
    "set_config",
    "ts_stat",
    "pg_stat_statements_reset",
    // Large objects: files on the server, and data that outlives the transaction.
    "lo_import",
    "lo_export",
    "lo_open",
    "lo_close",
    "loread",
    "lowrite",
    "lo_creat",
    "lo_create",
    "lo_unlink",
    "lo_lseek",
    "lo_lseek64",
    "lo_tell",
    "lo_tell64",
    "lo_truncate",
    "lo_truncate64",
    "lo_from_bytea",
    "lo_get",
    "lo_put",
    // Index maintenance that writes even in a read-only transaction.
    "brin_summarize_new_values",
    "brin_summarize_range",
    "brin_desummarize_range",
    "gin_clean_pending_list",
];

/// Name prefixes refused unless allowed by name: file access (`pg_read_file`,
/// `pg_ls_dir`, adminpack's `pg_file_write`), other servers (`dblink*`), session-level
/// locks that outlive a rollback, replication control and statistics resets.
const DENIED_PREFIXES: &[&str] = &[
    "pg_read_",
    "pg_ls_",
    "pg_file_",
    "dblink",
    "pg_advisory_",
    "pg_try_advisory_",
    "pg_stat_reset",
    "pg_replication_origin",
    "pg_logical_",
    "pg_wal_replay",
    "pg_backup_",
    "pg_start_backup",
    "pg_stop_backup",
];

/// Name parts refused: the `*_to_xml*` family runs SQL or reads tables given as strings
/// (around the relation checks), and replication slot management.
const DENIED_INFIXES: &[&str] = &["_to_xml", "replication_slot"];

/// Statements `query` runs: the ones that only read.
const READ_STATEMENTS: &[&str] = &["select", "with", "values", "table", "show", "explain"];
/// Statements `execute` runs in DML mode.
const DML_STATEMENTS: &[&str] = &["insert", "update", "delete", "merge", "with"];
/// Statements `execute` never runs: they would end or escape its transaction, run code
/// outside SQL's reach, or cannot run inside a transaction.
const NEVER_EXECUTED: &[&str] = &[
    "begin",
    "start",
    "commit",
    "end",
    "rollback",
    "abort",
    "savepoint",
    "release",
    "prepare",
    "set",
    "reset",
    "do",
    "copy",
    "vacuum",
    "listen",
    "load",
    "discard",
    "checkpoint",
];

/// The refused function names, with the ones the operator allowed.
#[derive(Debug, Clone, Default)]
pub struct FunctionGuard {
    allowed: Vec<String>,
}

/// What a statement is, as far as the tools care.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Statement {
    /// Its first keyword, lowercase (`select`, `insert`, ...).
    pub kind: String,
}

impl Statement {
    /// Whether `query` would run it.
    pub fn is_reading(&self) -> bool {
        READ_STATEMENTS.contains(&self.kind.as_str())
    }
}

impl FunctionGuard {
    pub fn new(allowed: &[String]) -> Self {
        Self { allowed: allowed.to_vec() }
    }

    /// Whether a function of this name (lower case, unqualified) is refused.
    pub fn is_denied(&self, name: &str) -> bool {
        if self.allowed.iter().any(|a| a == name) {
            return false;
        }
        DENIED_FUNCTIONS.contains(&name)
            || DENIED_PREFIXES.iter().any(|p| name.starts_with(p))
            || DENIED_INFIXES.iter().any(|p| name.contains(p))
    }

    /// The refusal of function `name`, as a model should read it.
    pub fn refusal(name: &str) -> String {
        format!(
            "function `{name}` is refused: it reaches outside the database (files, programs, other sessions or \
             servers) or leaves state behind, even in a read-only transaction. An operator can allow it with \
             --allow-function {name}"
        )
    }

    /// Checks `sql` for `query`: one reading statement, no refused function.
    pub fn check_read(&self, sql: &str) -> Result<Statement, ToolError> {
        let statement = self.check(sql)?;
        if !statement.is_reading() {
            return Err(ToolError::invalid_arguments(format!(
                "`query` runs only reading statements (SELECT, WITH, VALUES, TABLE, SHOW, EXPLAIN); this one is {}. \
                 Writes go through `execute` when the server allows writes",
                statement.kind.to_uppercase()
            )));
        }
        Ok(statement)
    }

    /// Checks `sql` for `execute` in `mode`.
    pub fn check_write(&self, sql: &str, mode: WriteMode) -> Result<Statement, ToolError> {
        let statement = self.check(sql)?;
        let kind = statement.kind.as_str();
        if NEVER_EXECUTED.contains(&kind) {
            return Err(ToolError::invalid_arguments(format!(
                "`execute` does not run {}: each call is one statement in its own transaction, \
                 which the tool begins and commits itself",
                kind.to_uppercase()
            )));
        }
        if mode == WriteMode::Dml && !DML_STATEMENTS.contains(&kind) {
            return Err(ToolError::refused(format!(
                "the server allows data changes only (INSERT, UPDATE, DELETE, MERGE); {} is refused. \
                 Schema changes need --write-mode all",
                kind.to_uppercase()
            )));
        }
        Ok(statement)
    }

    /// One statement, its kind, and no refused function named anywhere in it. Text that
    /// is not one statement is the caller's mistake; a refused name is the policy's refusal.
    fn check(&self, sql: &str) -> Result<Statement, ToolError> {
        let (tokens, error) = lexer::tokens(sql);
        if let Some(e) = error {
            return Err(ToolError::invalid_arguments(format!("cannot read the SQL: {e}")));
        }
        let mut kind: Option<String> = None;
        let mut ended = false;
        for (i, token) in tokens.iter().enumerate() {
            match token.kind {
                Kind::Punct(b';') => ended = true,
                _ if ended => {
                    return Err(ToolError::invalid_arguments(
                        "exactly one SQL statement per call: this text holds several (separated by `;`). Send them \
                         one call at a time",
                    ));
                }
                Kind::Ident => {
                    let name = token.name.as_deref().unwrap_or_default();
                    if kind.is_none() {
                        kind = Some(name.to_string());
                    }
                    if self.is_denied(name) && is_function_position(&tokens, i) {
                        return Err(ToolError::refused(Self::refusal(name)));
                    }
                    if name == "program" && kind.as_deref() == Some("copy") {
                        return Err(ToolError::refused("COPY ... PROGRAM is refused"));
                    }
                }
                Kind::Punct(b'(') if kind.is_none() => {}
                _ if kind.is_none() => {
                    return Err(ToolError::invalid_arguments("the SQL must start with a statement keyword"));
                }
                _ => {}
            }
        }
        let kind = kind.ok_or_else(|| ToolError::invalid_arguments("the SQL is empty"))?;
        Ok(Statement { kind })
    }
}

/// Whether the name at `i` may be a function: called (`name(`), or reached by attribute
/// notation (`(x).name`, `col.name`), which calls `name(x)` when no column matches.
fn is_function_position(tokens: &[Token], i: usize) -> bool {
    matches!(tokens.get(i + 1).map(|t| t.kind), Some(Kind::Punct(b'(')))
        || (i > 0 && matches!(tokens[i - 1].kind, Kind::Punct(b'.')))
}

/// The statement an `EXPLAIN` statement explains, as the text that follows its options
/// (`EXPLAIN (ANALYZE) SELECT ...` gives `SELECT ...`); `None` when `sql` is not one.
pub fn explained_statement(sql: &str) -> Option<&str> {
    let (tokens, error) = lexer::tokens(sql);
    if error.is_some() || tokens.first()?.name.as_deref() != Some("explain") {
        return None;
    }
    let mut i = 1;
    if matches!(tokens.get(i)?.kind, Kind::Punct(b'(')) {
        let mut depth = 0;
        loop {
            match tokens.get(i)?.kind {
                Kind::Punct(b'(') => depth += 1,
                Kind::Punct(b')') => depth -= 1,
                _ => {}
            }
            i += 1;
            if depth == 0 {
                break;
            }
        }
    } else {
        while tokens.get(i).is_some_and(|t| {
            sql.as_bytes()[t.start].is_ascii_alphabetic()
                && matches!(t.name.as_deref(), Some("analyze" | "analyse" | "verbose"))
        }) {
            i += 1;
        }
    }
    Some(&sql[tokens.get(i)?.start..])
}

#[cfg(test)]
mod tests {
    use super::*;
    use mcp_core::ErrorKind;

    fn guard() -> FunctionGuard {
        FunctionGuard::new(&["pg_ls_waldir".to_string()])
    }

    #[test]
    fn one_reading_statement_passes() {
        assert_eq!(guard().check_read("  select 1 -- note; drop table x").expect("reads").kind, "select");
        assert!(guard().check_read("(select 1) union (select 2);").is_ok());
        assert!(guard().check_read("select 'a;b', $$ ; $$, \"x;y\" from t").is_ok());
    }

    #[test]
    fn several_statements_are_refused() {
        let err = guard().check_read("select 1; commit; drop table t").expect_err("two statements");
        assert!(err.to_string().contains("exactly one"), "{err}");
        assert_eq!(err.kind(), ErrorKind::InvalidArguments);
        // A string the server ends earlier than a naive reader would.
        let err = guard().check_read(r"select '\'; drop table t; --'").expect_err("two statements");
        assert!(err.to_string().contains("exactly one"), "{err}");
    }

    #[test]
    fn denied_functions_are_found_in_every_spelling() {
        for sql in [
            "select pg_read_file('/etc/passwd')",
            "select * from pg_read_file('/etc/passwd')",
            "select * from t where pg_catalog.pg_terminate_backend(42)",
            "select \"lo_import\"('/etc/passwd')",
            "select * from dblink('host=x', 'select 1') as t(a int)",
            "select query_to_xml('select 1', true, true, '')",
            "SELECT PG_LS_DIR ( '.' )",
            "select pg_read_file /* gap */ ('x')",
            r#"SELECT U&"\0070g_read_file"('/etc/passwd')"#,
            r#"SELECT U&"!0070g_read_file" UESCAPE '!' ('/etc/passwd')"#,
            r#"SELECT u&"\+000070g_read_file"('/etc/passwd')"#,
            "select ('/etc/passwd'::text).pg_read_file",
            "select (pid).pg_cancel_backend from pg_stat_activity",
            r#"select (424242::bigint)."pg_advisory_lock""#,
            r#"select x.U&"\0070g_ls_dir" from (select '/' as x) x"#,
            "select 1 from t limit length(pg_read_file('x'))",
            "values (1), (length(pg_read_file('x')))",
            "select x$a$, pg_read_file('x') --$a$",
        ] {
            let err = guard().check_read(sql).expect_err(sql).to_string();
            assert!(err.contains("is refused") || err.contains("cannot read"), "{sql}: {err}");
        }
        // Names inside strings or comments are data, not calls; allowed names pass;
        // a column that merely shares a prefix with a refused name is not a call.
        assert!(guard().check_read("select 'pg_read_file(1)' /* lo_import( */").is_ok());
        assert!(guard().check_read(r"select $x$ pg_read_file('a') $x$, E'\\' || 'lo_import('").is_ok());
        assert!(guard().check_read("select pg_ls_waldir()").is_ok());
        assert!(guard().check_read("select lo_price, loan, t.pg_reader from t").is_ok());
        // After a dot, a refused name may be attribute notation: refused even where it
        // is a column.
        assert!(guard().check_read("select t.dblink_count from t").is_err());
    }

    #[test]
    fn unreadable_text_is_refused() {
        for sql in ["select 'abc", "select /* x", r#"select U&"\zzzz"(1)"#, "select \"\"()"] {
            let err = guard().check_read(sql).expect_err(sql);
            assert!(err.to_string().contains("cannot read"), "{sql}");
            assert_eq!(err.kind(), ErrorKind::InvalidArguments);
        }
    }

    #[test]
    fn statement_kinds_are_checked_per_tool() {
        let err = guard().check_read("copy t to program 'id'").expect_err("program");
        assert_eq!(err.kind(), ErrorKind::Refused);
        assert_eq!(guard().check_read("select pg_read_file('x')").expect_err("refused").kind(), ErrorKind::Refused);
        assert!(guard().check_read("do $$ begin end $$").is_err());
        assert!(guard().check_write("insert into t values (1)", WriteMode::Dml).is_ok());
        assert_eq!(guard().check_write("drop table t", WriteMode::Dml).expect_err("ddl").kind(), ErrorKind::Refused);
        assert!(guard().check_write("drop table t", WriteMode::All).is_ok());
        assert!(guard().check_write("commit", WriteMode::All).is_err());
        assert!(guard().check_write("copy t from program 'id'", WriteMode::All).is_err());
    }

    #[test]
    fn the_explained_statement_follows_the_options() {
        assert_eq!(explained_statement("EXPLAIN SELECT 1"), Some("SELECT 1"));
        assert_eq!(explained_statement("explain analyze verbose select 1"), Some("select 1"));
        assert_eq!(
            explained_statement("explain (analyze, format json) with x as (select 1) table x"),
            Some("with x as (select 1) table x")
        );
        assert_eq!(
            explained_statement(r#"explain (U&"\0061nalyze") select pg_read_file('x')"#),
            Some("select pg_read_file('x')")
        );
        assert_eq!(explained_statement("select 1"), None);
        assert_eq!(explained_statement("explain (analyze"), None);
    }
}
