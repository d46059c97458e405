//! Database errors as messages a model can act on: Postgres's own message, its SQLSTATE,
//! the detail and hint, and where in the SQL it went wrong; and as the [`ErrorKind`] a
//! client branches on, decided by the SQLSTATE (never by the wording).

use mcp_core::{ErrorKind, ToolError};
use sqlx::postgres::{PgDatabaseError, PgErrorPosition};

/// The kind of failure a SQLSTATE means.
pub fn kind_of_sqlstate(code: &str) -> ErrorKind {
    match code {
        // query_canceled: the statement timeout, or the call was cancelled.
        "57014" => ErrorKind::TimedOut,
        // undefined table, column, function, schema, object.
        "42P01" | "42703" | "42883" | "3F000" | "42704" => ErrorKind::NotFound,
        // insufficient_privilege, read_only_sql_transaction.
        "42501" | "25006" => ErrorKind::Refused,
        // invalid authorization: a wrong password or a role that may not log in.
        c if c.starts_with("28") => ErrorKind::Refused,
        // connection exceptions, shutdown and crash of the server, too many connections,
        // the database not yet accepting connections.
        c if c.starts_with("08") => ErrorKind::Unavailable,
        "57P01" | "57P02" | "57P03" | "53300" => ErrorKind::Unavailable,
        // Syntax errors and data exceptions: the statement or its values are at fault.
        c if c.starts_with("42") || c.starts_with("22") => ErrorKind::InvalidArguments,
        _ => ErrorKind::Failed,
    }
}

/// The kind of failure `e` is.
pub fn kind_of(e: &sqlx::Error) -> ErrorKind {
    match e {
        sqlx::Error::Database(db) => db.code().map_or(ErrorKind::Failed, |c| kind_of_sqlstate(&c)),
        sqlx::Error::PoolTimedOut | sqlx::Error::PoolClosed | sqlx::Error::Io(_) | sqlx::Error::Tls(_) => {
            ErrorKind::Unavailable
        }
        _ => ErrorKind::Failed,
    }
}

/// A tool error of `kind` saying `message`.
pub fn with_kind(kind: ErrorKind, message: String) -> ToolError {
    match kind {
        ErrorKind::InvalidArguments => ToolError::invalid_arguments(message),
        ErrorKind::NotFound => ToolError::not_found(message),
        ErrorKind::Refused => ToolError::refused(message),
        ErrorKind::Unavailable => ToolError::unavailable(message),
        ErrorKind::TimedOut => ToolError::timed_out(message),
        _ => ToolError::failed(message),
    }
}

/// `e` about the argument `argument` (`queries[2]`): the same kind, its message
/// prefixed with the argument's name.
pub fn in_argument(argument: &str, e: ToolError) -> ToolError {
    let kind = e.kind();
    match e {
        ToolError::Failed(m)
        | ToolError::InvalidArguments(m)
        | ToolError::NotFound(m)
        | ToolError::Refused(m)
        | ToolError::Unavailable(m)
        | ToolError::TimedOut(m) => with_kind(kind, format!("`{argument}`: {m}")),
        other => other,
    }
}

/// `e` as a tool error of its kind, described with the position in `sql`; `context`
/// (`"ROLLBACK failed"`) goes before the description.
pub fn tool_error(e: &sqlx::Error, sql: Option<&str>, context: Option<&str>) -> ToolError {
    let described = describe_in(e, sql);
    let message = match context {
        Some(context) => format!("{context}: {described}"),
        None => described,
    };
    with_kind(kind_of(e), message)
}

/// A readable account of `e`, with the position in `sql` when Postgres gave one.
pub fn describe_in(e: &sqlx::Error, sql: Option<&str>) -> String {
    match e {
        sqlx::Error::Database(db) => match db.try_downcast_ref::<PgDatabaseError>() {
            Some(pg) => describe_pg(pg, sql),
            None => db.message().to_string(),
        },
        sqlx::Error::PoolTimedOut => {
            "the database did not answer in time (no connection available): it may be down or overloaded; \
             try again shortly"
                .into()
        }
        sqlx::Error::Io(io) => format!("cannot reach the database: {io}"),
        sqlx::Error::Tls(tls) => format!("TLS to the database failed: {tls}"),
        other => other.to_string(),
    }
}

/// [`describe_in`] without SQL to point into.
pub fn describe(e: &sqlx::Error) -> String {
    describe_in(e, None)
}

fn describe_pg(pg: &PgDatabaseError, sql: Option<&str>) -> String {
    let mut out = format!("{} (SQLSTATE {})", pg.message(), pg.code());
    if let Some(detail) = pg.detail() {
        out += &format!("\nDetail: {detail}");
    }
    if let Some(hint) = pg.hint() {
        out += &format!("\nHint: {hint}");
    }
    if let (Some(PgErrorPosition::Original(position)), Some(sql)) = (pg.position(), sql) {
        out += &format!("\nPosition: character {position}{}", near(sql, position));
    }
    if pg.code() == "57014" {
        out += "\nThe statement was cancelled: it ran past the statement timeout or the call was cancelled. \
                Narrow it (WHERE, LIMIT) or use `explain` to see why it is slow.";
    }
    out
}

/// ` near "…"`: the SQL around a 1-based character position.
fn near(sql: &str, position: usize) -> String {
    let chars: Vec<char> = sql.chars().collect();
    let at = position.saturating_sub(1).min(chars.len());
    let start = at.saturating_sub(20);
    let end = (at + 20).min(chars.len());
    let snippet: String = chars[start..end].iter().collect::<String>().replace('\n', " ");
    format!(" (near \"{}\")", snippet.trim())
}

/// Whether `e` means the connection itself failed (worth one retry on a fresh one).
pub fn is_connection_error(e: &sqlx::Error) -> bool {
    matches!(e, sqlx::Error::Io(_) | sqlx::Error::Protocol(_) | sqlx::Error::PoolClosed)
        || matches!(e, sqlx::Error::Database(db) if db.code().is_some_and(|c| c.starts_with("08") || c == "57P01"))
}

/// PostgreSQL refused a statement this connection prepared before a table it reads
/// changed shape (its columns or their types): the kept preparation cannot run again.
pub fn is_stale_statement(e: &sqlx::Error) -> bool {
    matches!(e, sqlx::Error::Database(db)
        if db.code().as_deref() == Some("0A000") && db.message().contains("cached plan must not change result type"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sqlstates_map_to_kinds() {
        for (code, kind) in [
            ("57014", ErrorKind::TimedOut),
            ("42P01", ErrorKind::NotFound),
            ("42703", ErrorKind::NotFound),
            ("42883", ErrorKind::NotFound),
            ("3F000", ErrorKind::NotFound),
            ("42501", ErrorKind::Refused),
            ("25006", ErrorKind::Refused),
            ("08006", ErrorKind::Unavailable),
            ("57P01", ErrorKind::Unavailable),
            ("53300", ErrorKind::Unavailable),
            ("42601", ErrorKind::InvalidArguments),
            ("42804", ErrorKind::InvalidArguments),
            ("22P02", ErrorKind::InvalidArguments),
            ("22012", ErrorKind::InvalidArguments),
            ("23505", ErrorKind::Failed),
            ("40001", ErrorKind::Failed),
            ("XX000", ErrorKind::Failed),
        ] {
            assert_eq!(kind_of_sqlstate(code), kind, "{code}");
        }
        assert_eq!(kind_of(&sqlx::Error::PoolTimedOut), ErrorKind::Unavailable);
        let refused = std::io::Error::from(std::io::ErrorKind::ConnectionRefused);
        assert_eq!(kind_of(&sqlx::Error::Io(refused)), ErrorKind::Unavailable);
        assert_eq!(kind_of(&sqlx::Error::RowNotFound), ErrorKind::Failed);
    }
}
