//! SQL identifiers built from names: always quoted, so that a name is never read as SQL.

/// `"a"."b"` from `a.b`.
pub fn quote_qualified(name: &str) -> String {
    name.split('.').map(quote_ident).collect::<Vec<_>>().join(".")
}

/// An identifier in double quotes.
pub fn quote_ident(name: &str) -> String {
    format!("\"{}\"", name.trim().trim_matches('"').replace('"', "\"\""))
}
