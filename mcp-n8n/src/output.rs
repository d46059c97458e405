//! Bounding and cleaning what goes back to the model: byte budgets with a note saying
//! what was cut and how to get the rest (redaction of credential-like fields is
//! `mcp_core::security::redact`'s).

pub use mcp_core::output::clip;
use serde_json::{Map, Value};

/// Serialized size in bytes.
pub fn size(value: &Value) -> usize {
    mcp_core::connector::bounded::value_size(value)
}

/// Cuts a JSON value to about `max` bytes: long strings are shortened, arrays keep their
/// first items, and every cut is marked in place (`"…N more items"`), so the shape stays
/// readable. Returns whether anything was cut.
pub fn fit(value: &mut Value, max: usize) -> bool {
    if size(value) <= max {
        return false;
    }
    // Strings first: one huge string (a binary blob, a long HTML body) is the usual cause.
    for limit in [2048usize, 512, 128] {
        shorten_strings(value, limit);
        if size(value) <= max {
            return true;
        }
    }
    for keep in [50usize, 20, 5, 1] {
        cut_arrays(value, keep);
        if size(value) <= max {
            return true;
        }
    }
    // Still too large (very wide objects): replace the deepest big objects by a summary.
    summarize_objects(value, max);
    true
}

fn shorten_strings(value: &mut Value, limit: usize) {
    match value {
        Value::String(s) if s.len() > limit => {
            let len = s.len();
            *s = format!("{} …[{} bytes cut]", clip(s, limit), len.saturating_sub(limit));
        }
        Value::Array(items) => items.iter_mut().for_each(|v| shorten_strings(v, limit)),
        Value::Object(map) => map.values_mut().for_each(|v| shorten_strings(v, limit)),
        _ => {}
    }
}

fn cut_arrays(value: &mut Value, keep: usize) {
    match value {
        Value::Array(items) => {
            if items.len() > keep + 1 {
                let more = items.len() - keep;
                items.truncate(keep);
                items.push(Value::String(format!("…{more} more items cut")));
            }
            items.iter_mut().for_each(|v| cut_arrays(v, keep));
        }
        Value::Object(map) => map.values_mut().for_each(|v| cut_arrays(v, keep)),
        _ => {}
    }
}

fn summarize_objects(value: &mut Value, max: usize) {
    if let Value::Object(map) = value {
        let keys: Vec<String> = map.keys().cloned().collect();
        let mut total = 0;
        for k in keys {
            let s = map.get(&k).map(size).unwrap_or(0);
            if total + s > max {
                let kind = match map.get(&k) {
                    Some(Value::Object(o)) => format!("object with {} keys", o.len()),
                    Some(Value::Array(a)) => format!("array of {}", a.len()),
                    _ => "value".into(),
                };
                map.insert(k, Value::String(format!("…cut ({kind}, {s} bytes)")));
                total += 40;
            } else {
                total += s;
            }
        }
    }
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

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn fit_cuts_and_marks() {
        let mut v = json!({"items": (0..1000).map(|i| json!({"i": i, "s": "x".repeat(100)})).collect::<Vec<_>>()});
        assert!(fit(&mut v, 4096));
        assert!(size(&v) <= 4096, "{}", size(&v));
        assert!(v.to_string().contains("more items cut"));
        let mut small = json!({"a": 1});
        assert!(!fit(&mut small, 4096));
    }

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
