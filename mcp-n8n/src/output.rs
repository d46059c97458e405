//! Shaping what goes back to the model (bounding is the kit's `fit_json`, redaction
//! `mcp_core::security::redact`'s).

use mcp_core::ToolError;
use mcp_core::connector::{Next, cut_note};
pub use mcp_core::output::clip;
use mcp_core::output::{Prebuilt, Rendered};
use schemars::JsonSchema;
use serde::Serialize;
use serde_json::{Map, Value};

/// A tool's typed result: its text is the compact JSON of `data`, as models read it.
pub type Out<T> = Result<Rendered<T>, ToolError>;

/// `data` with its compact JSON as the text.
pub fn rendered<T: Serialize>(data: T) -> Rendered<T> {
    Rendered { text: serde_json::to_string(&data).unwrap_or_default(), data }
}

/// A document built as JSON (an n8n document trimmed and cut to the budget), described
/// by `T`.
pub fn prebuilt<T: JsonSchema>(value: Value) -> Prebuilt<T> {
    Prebuilt::new(value.to_string(), value)
}

/// The kit's note for a page of `count` `what` with more behind `next`.
pub fn cursor_note(count: usize, what: &str, next: Option<&str>, narrow: &str) -> Option<String> {
    next.map(|cursor| cut_note(format!("{count} {what}"), Next::Cursor(cursor), narrow))
}

/// A string field of n8n's JSON (numbers as their text: ids are numbers in some versions).
pub fn text(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// A member of n8n's JSON that is there (not null).
pub fn some(v: &Value) -> Option<Value> {
    (!v.is_null()).then(|| v.clone())
}

/// A typed value read from n8n's JSON (an enum of its wire strings), if it is one.
pub fn parse<T: serde::de::DeserializeOwned>(v: &Value) -> Option<T> {
    T::deserialize(v).ok()
}

/// An object from pairs, skipping nulls (compact results spend no tokens on "null").
pub fn obj<I: IntoIterator<Item = (&'static str, Value)>>(pairs: I) -> Value {
    let mut map = Map::new();
    for (k, v) in pairs {
        if !v.is_null() {
            map.insert(k.to_string(), v);
        }
    }
    Value::Object(map)
}

/// `e` with its message rewritten by `f`, of the same kind.
pub fn reword(e: ToolError, f: impl FnOnce(String) -> String) -> ToolError {
    match e {
        ToolError::Failed(m) => ToolError::Failed(f(m)),
        ToolError::InvalidArguments(m) => ToolError::InvalidArguments(f(m)),
        ToolError::NotFound(m) => ToolError::NotFound(f(m)),
        ToolError::Refused(m) => ToolError::Refused(f(m)),
        ToolError::Unavailable(m) => ToolError::Unavailable(f(m)),
        ToolError::TimedOut(m) => ToolError::TimedOut(f(m)),
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    #[test]
    fn execution_data_loses_credential_fields_and_secrets_in_values() {
        let v = json!({"headers": {"authorization": "Bearer x", "cookie": "a=b", "x-n8n-api-key": "k", "host": "h"},
            "password": "p", "url": "https://u:pw@h/x"});
        let r = mcp_core::security::redact::redact_json(&v, &[]);
        assert_eq!(r["headers"]["authorization"], "[REDACTED]");
        assert_eq!(r["headers"]["cookie"], "[REDACTED]");
        assert_eq!(r["headers"]["x-n8n-api-key"], "[REDACTED]");
        assert_eq!(r["headers"]["host"], "h");
        assert_eq!(r["password"], "[REDACTED]");
        assert_eq!(r["url"], "https://u:[REDACTED]@h/x");
    }
}
