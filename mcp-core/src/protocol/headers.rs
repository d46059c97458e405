//! HTTP headers that mirror the body in 2026-07-28: the Base64 sentinel encoding of
//! `Mcp-Name` / `Mcp-Param-*` values, and the `x-mcp-header` annotations of tool
//! parameters (which arguments a client copies into `Mcp-Param-{Name}` headers).

use base64::Engine as _;
use serde_json::Value;

const SENTINEL_PREFIX: &str = "=?base64?";
const SENTINEL_SUFFIX: &str = "?=";

/// Encodes a value for an `Mcp-Name` / `Mcp-Param-*` header: plain when it is printable
/// ASCII without surrounding spaces, otherwise (and when it looks encoded) Base64.
pub fn encode_value(value: &str) -> String {
    let looks_encoded = value.starts_with(SENTINEL_PREFIX) && value.ends_with(SENTINEL_SUFFIX);
    let plain = value.bytes().all(|b| (0x20..=0x7e).contains(&b)) && value.trim() == value && !looks_encoded;
    if plain {
        value.to_string()
    } else {
        format!("{SENTINEL_PREFIX}{}{SENTINEL_SUFFIX}", base64::engine::general_purpose::STANDARD.encode(value))
    }
}

/// Decodes an `Mcp-Name` / `Mcp-Param-*` value; `None` when the Base64 form is invalid.
pub fn decode_value(raw: &str) -> Option<String> {
    match raw.strip_prefix(SENTINEL_PREFIX).and_then(|r| r.strip_suffix(SENTINEL_SUFFIX)) {
        Some(b64) => base64::engine::general_purpose::STANDARD.decode(b64).ok().and_then(|b| String::from_utf8(b).ok()),
        None => Some(raw.to_string()),
    }
}

/// A tool parameter annotated with `x-mcp-header`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HeaderParam {
    /// The chain of `properties` keys from the schema root to the parameter.
    pub path: Vec<String>,
    /// The `{Name}` of its `Mcp-Param-{Name}` header.
    pub name: String,
}

impl HeaderParam {
    /// The header value for these call arguments, `None` when the argument is absent or null.
    pub fn value_in(&self, arguments: &Value) -> Option<String> {
        let mut value = arguments;
        for key in &self.path {
            value = value.get(key)?;
        }
        match value {
            Value::String(s) => Some(encode_value(s)),
            Value::Bool(b) => Some(b.to_string()),
            Value::Number(n) => Some(n.to_string()),
            _ => None,
        }
    }
}

/// The annotated parameters reachable from the schema root through `properties` only.
pub fn header_params(schema: &Value) -> Vec<HeaderParam> {
    fn walk(schema: &Value, path: &mut Vec<String>, out: &mut Vec<HeaderParam>) {
        let Some(props) = schema.get("properties").and_then(Value::as_object) else { return };
        for (key, prop) in props {
            path.push(key.clone());
            if let Some(name) = prop.get("x-mcp-header").and_then(Value::as_str) {
                out.push(HeaderParam { path: path.clone(), name: name.to_string() });
            }
            walk(prop, path, out);
            path.pop();
        }
    }
    let mut out = Vec::new();
    walk(schema, &mut Vec::new(), &mut out);
    out
}

/// The annotated parameters of a tool's input schema, or why the tool definition is
/// invalid (clients on HTTP must then leave the tool out).
pub fn checked_header_params(schema: &Value) -> Result<Vec<HeaderParam>, String> {
    let params = header_params(schema);
    if count_annotations(schema) != params.len() {
        return Err("an x-mcp-header annotation is not reachable through `properties` alone".into());
    }
    let mut seen: Vec<String> = Vec::new();
    for param in &params {
        let name = &param.name;
        let at = param.path.join(".");
        if name.is_empty() {
            return Err(format!("x-mcp-header of '{at}' is empty"));
        }
        if !name.bytes().all(is_tchar) {
            return Err(format!("x-mcp-header {name:?} of '{at}' is not an HTTP token"));
        }
        let lower = name.to_ascii_lowercase();
        if seen.contains(&lower) {
            return Err(format!("x-mcp-header {name:?} is used twice (names are case-insensitive)"));
        }
        seen.push(lower);
        let mut prop = schema;
        for key in &param.path {
            prop = &prop["properties"][key];
        }
        let ty = prop.get("type").and_then(Value::as_str);
        if !matches!(ty, Some("string" | "integer" | "boolean")) {
            return Err(format!(
                "x-mcp-header {name:?} is on '{at}' of type {}, but only string, integer and boolean are allowed",
                ty.unwrap_or("unspecified")
            ));
        }
    }
    Ok(params)
}

fn count_annotations(value: &Value) -> usize {
    match value {
        Value::Object(map) => {
            usize::from(map.contains_key("x-mcp-header")) + map.values().map(count_annotations).sum::<usize>()
        }
        Value::Array(items) => items.iter().map(count_annotations).sum(),
        _ => 0,
    }
}

/// RFC 9110 `tchar`.
fn is_tchar(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn values_are_encoded_as_the_spec_table_says() {
        // Plain printable ASCII as it is; anything else, and what looks encoded, in Base64.
        let table = [
            ("us-west1", "us-west1"),
            ("us west 1", "us west 1"),
            ("Hello, 世界", "=?base64?SGVsbG8sIOS4lueVjA==?="),
            (" padded ", "=?base64?IHBhZGRlZCA=?="),
            ("line1\nline2", "=?base64?bGluZTEKbGluZTI=?="),
            ("=?base64?literal?=", "=?base64?PT9iYXNlNjQ/bGl0ZXJhbD89?="),
        ];
        for (value, encoded) in table {
            assert_eq!(encode_value(value), encoded, "{value:?}");
        }
        for v in ["Hello, 世界", " padded ", "\tx", "plain", ""] {
            assert_eq!(decode_value(&encode_value(v)).as_deref(), Some(v));
        }
        assert_eq!(decode_value("=?base64?!!?="), None);
    }

    #[test]
    fn annotated_parameters_are_found_and_their_values_extracted() {
        let schema = json!({"type": "object", "properties": {
            "region": {"type": "string", "x-mcp-header": "Region"},
            "opts": {"type": "object", "properties": {"tier": {"type": "integer", "x-mcp-header": "Tier"}}},
            "query": {"type": "string"}
        }});
        let params = checked_header_params(&schema).expect("valid");
        assert_eq!(params.len(), 2);
        let args = json!({"region": " eu ", "opts": {"tier": 3}, "query": "x"});
        let values: Vec<_> = params.iter().map(|p| (p.name.as_str(), p.value_in(&args))).collect();
        assert!(values.contains(&("Region", Some("=?base64?IGV1IA==?=".into()))));
        assert!(values.contains(&("Tier", Some("3".into()))));
        assert_eq!(params[0].value_in(&json!({"region": null})), None);
    }

    #[test]
    fn invalid_annotations_are_rejected_with_the_reason() {
        let cases = [
            (json!({"properties": {"a": {"type": "string", "x-mcp-header": ""}}}), "empty"),
            (json!({"properties": {"a": {"type": "string", "x-mcp-header": "A B"}}}), "token"),
            (json!({"properties": {"a": {"type": "string", "x-mcp-header": "A:B"}}}), "token"),
            (json!({"properties": {"a": {"type": "string", "x-mcp-header": "Région"}}}), "token"),
            (json!({"properties": {"a": {"type": "number", "x-mcp-header": "A"}}}), "number"),
            (json!({"properties": {"a": {"type": "object", "x-mcp-header": "A"}}}), "object"),
            (
                json!({"properties": {"a": {"type": "string", "x-mcp-header": "X"}, "b": {"type": "string", "x-mcp-header": "x"}}}),
                "twice",
            ),
            (
                json!({"properties": {"a": {"type": "array", "items": {"type": "string", "x-mcp-header": "A"}}}}),
                "reachable",
            ),
            (json!({"anyOf": [{"properties": {"a": {"type": "string", "x-mcp-header": "A"}}}]}), "reachable"),
        ];
        for (schema, reason) in cases {
            let err = checked_header_params(&schema).expect_err(&schema.to_string());
            assert!(err.contains(reason), "{schema}: {err}");
        }
    }
}
