//! What SQL a tool will send, checked before it reaches the server.
//!
//! The database enforces read-only itself (every `query` runs in a READ ONLY transaction
//! that is rolled back, as one prepared statement). These checks close what a read-only
//! transaction leaves open: functions that read files, run programs or signal other
//! sessions (`pg_read_file`, `lo_import`, `dblink`, `pg_terminate_backend`, ...), which
//! a privileged role may call even read-only, wherever they appear (select list, FROM,
//! WHERE), and statements such as `COPY ... TO PROGRAM` or `DO` blocks. They work on
//! tokens (strings, quoted identifiers, dollar quotes and comments are understood), not
//! on a full parse, so unusual but valid SQL is not rejected for its shape.

use sqlparser::dialect::PostgreSqlDialect;
use sqlparser::tokenizer::{Token, Tokenizer};

use crate::config::WriteMode;

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
];

/// Name prefixes refused unless allowed by name: file access (`pg_read_file`,
/// `pg_ls_dir`, adminpack's `pg_file_write`), large objects (`lo_import`, `lo_export`),
/// other servers (`dblink*`), session-level locks that outlive a rollback, replication
/// control and statistics resets.
const DENIED_PREFIXES: &[&str] = &[
    "pg_read_",
    "pg_ls_",
    "pg_file_",
    "lo_",
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

impl FunctionGuard {
    pub fn new(allowed: &[String]) -> Self {
        Self { allowed: allowed.to_vec() }
    }

    fn is_denied(&self, name: &str) -> bool {
        if self.allowed.iter().any(|a| a == name) {
            return false;
        }
        DENIED_FUNCTIONS.contains(&name)
            || DENIED_PREFIXES.iter().any(|p| name.starts_with(p))
            || DENIED_INFIXES.iter().any(|p| name.contains(p))
    }

    /// Checks `sql` for `query`: one reading statement, no refused function.
    pub fn check_read(&self, sql: &str) -> Result<Statement, String> {
        let statement = self.check(sql)?;
        if !READ_STATEMENTS.contains(&statement.kind.as_str()) {
            return Err(format!(
                "`query` runs only reading statements (SELECT, WITH, VALUES, TABLE, SHOW, EXPLAIN); this one is {}. \
                 Writes go through `execute` when the server allows writes",
                statement.kind.to_uppercase()
            ));
        }
        Ok(statement)
    }

    /// Checks `sql` for `execute` in `mode`.
    pub fn check_write(&self, sql: &str, mode: WriteMode) -> Result<Statement, String> {
        let statement = self.check(sql)?;
        let kind = statement.kind.as_str();
        if NEVER_EXECUTED.contains(&kind) {
            return Err(format!(
                "`execute` does not run {}: each call is one statement in its own transaction, \
                 which the tool begins and commits itself",
                kind.to_uppercase()
            ));
        }
        if mode == WriteMode::Dml && !DML_STATEMENTS.contains(&kind) {
            return Err(format!(
                "the server allows data changes only (INSERT, UPDATE, DELETE, MERGE); {} is refused. \
                 Schema changes need --write-mode all",
                kind.to_uppercase()
            ));
        }
        Ok(statement)
    }

    /// One statement, its kind, and no refused function anywhere in it.
    fn check(&self, sql: &str) -> Result<Statement, String> {
        let dialect = PostgreSqlDialect {};
        let tokens = Tokenizer::new(&dialect, sql).tokenize().map_err(|e| format!("cannot read the SQL: {e}"))?;
        let significant: Vec<&Token> = tokens.iter().filter(|t| !matches!(t, Token::Whitespace(_))).collect();
        let mut kind = None;
        let mut ended = false;
        for (i, token) in significant.iter().enumerate() {
            match token {
                Token::SemiColon => ended = true,
                _ if ended => {
                    return Err("exactly one SQL statement per call: this text holds several (separated by `;`). \
                                Send them one call at a time"
                        .into());
                }
                Token::Word(word) => {
                    if kind.is_none() {
                        kind = Some(word.value.to_ascii_lowercase());
                    }
                    if matches!(significant.get(i + 1), Some(Token::LParen)) {
                        let name = word.value.to_ascii_lowercase();
                        if self.is_denied(&name) {
                            return Err(format!(
                                "function `{name}` is refused: it reaches outside the database (files, programs, \
                                 other sessions or servers) even in a read-only transaction. An operator can allow \
                                 it with --allow-function {name}"
                            ));
                        }
                    }
                    if word.value.eq_ignore_ascii_case("program") && kind.as_deref() == Some("copy") {
                        return Err("COPY ... PROGRAM is refused".into());
                    }
                }
                Token::LParen if kind.is_none() => {}
                _ if kind.is_none() => return Err("the SQL must start with a statement keyword".into()),
                _ => {}
            }
        }
        let kind = kind.ok_or("the SQL is empty")?;
        Ok(Statement { kind })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn guard() -> FunctionGuard {
        FunctionGuard::new(&["pg_ls_waldir".to_string()])
    }

    #[test]
    fn one_reading_statement_passes() {
        assert_eq!(guard().check_read("  select 1 -- note; drop table x").map(|s| s.kind), Ok("select".into()));
        assert!(guard().check_read("(select 1) union (select 2);").is_ok());
        assert!(guard().check_read("select 'a;b', $$ ; $$, \"x;y\" from t").is_ok());
    }

    #[test]
    fn several_statements_are_refused() {
        let err = guard().check_read("select 1; commit; drop table t").expect_err("two statements");
        assert!(err.contains("exactly one"), "{err}");
    }

    #[test]
    fn denied_functions_are_found_anywhere() {
        for sql in [
            "select pg_read_file('/etc/passwd')",
            "select * from pg_read_file('/etc/passwd')",
            "select * from t where pg_catalog.pg_terminate_backend(42)",
            "select \"lo_import\"('/etc/passwd')",
            "select * from dblink('host=x', 'select 1') as t(a int)",
            "select query_to_xml('select 1', true, true, '')",
            "SELECT PG_LS_DIR ( '.' )",
        ] {
            assert!(guard().check_read(sql).is_err(), "{sql}");
        }
        // Names inside strings or comments are data, not calls; allowed names pass.
        assert!(guard().check_read("select 'pg_read_file(1)' /* lo_import( */").is_ok());
        assert!(guard().check_read("select pg_ls_waldir()").is_ok());
    }

    #[test]
    fn statement_kinds_are_checked_per_tool() {
        assert!(guard().check_read("copy t to program 'id'").is_err());
        assert!(guard().check_read("do $$ begin end $$").is_err());
        assert!(guard().check_write("insert into t values (1)", WriteMode::Dml).is_ok());
        assert!(guard().check_write("drop table t", WriteMode::Dml).is_err());
        assert!(guard().check_write("drop table t", WriteMode::All).is_ok());
        assert!(guard().check_write("commit", WriteMode::All).is_err());
        assert!(guard().check_write("copy t from program 'id'", WriteMode::All).is_err());
    }
}
