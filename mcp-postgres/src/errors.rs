//! Database errors as messages a model can act on: Postgres's own message, its SQLSTATE,
//! the detail and hint, and where in the SQL it went wrong.

use sqlx::postgres::{PgDatabaseError, PgErrorPosition};

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
