//! Shaping what goes back to the model (bounding is the kit's `fit_json`, redaction
//! `mcp_core::security::redact`'s).

use mcp_core::ToolError;
pub use mcp_core::output::clip;
use serde_json::{Map, Value};

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
