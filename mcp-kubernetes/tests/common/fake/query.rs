//! Query strings and selectors as the API server reads them: percent-decoding, label
//! selectors (`=`, `!=`, `in`, existence) and field selectors, refusing unknown fields.

use serde_json::{Map, Value};

use super::Kind;

pub(super) fn label_matches(labels: &Map<String, Value>, selector: &str) -> Result<bool, String> {
    for req in selector.split(',').map(str::trim).filter(|s| !s.is_empty()) {
        let ok = if let Some((k, v)) = req.split_once("!=") {
            labels.get(k.trim()).and_then(Value::as_str) != Some(v.trim())
        } else if let Some((k, v)) = req.split_once("==").or_else(|| req.split_once('=')) {
            labels.get(k.trim()).and_then(Value::as_str) == Some(v.trim())
        } else if let Some(k) = req.strip_prefix('!') {
            !labels.contains_key(k.trim())
        } else if req.chars().all(|c| c.is_ascii_alphanumeric() || "-_./".contains(c)) {
            labels.contains_key(req)
        } else {
            return Err(format!("unable to parse requirement: {req}"));
        };
        if !ok {
            return Ok(false);
        }
    }
    Ok(true)
}

pub(super) fn field_matches(kind: &Kind, obj: &Value, selector: &str) -> Result<bool, String> {
    for req in selector.split(',').map(str::trim).filter(|s| !s.is_empty()) {
        let (field, value, negate) = if let Some((f, v)) = req.split_once("!=") {
            (f, v, true)
        } else if let Some((f, v)) = req.split_once("==").or_else(|| req.split_once('=')) {
            (f, v, false)
        } else {
            return Err(format!("invalid selector: '{req}'; can't understand '{req}'"));
        };
        if !matches!(field, "metadata.name" | "metadata.namespace") && !kind.fields.contains(&field) {
            return Err(format!("field label not supported: {field}"));
        }
        let pointer = format!("/{}", field.replace('.', "/"));
        let actual = obj.pointer(&pointer).map(|v| match v {
            Value::String(s) => s.clone(),
            other => other.to_string(),
        });
        let eq = actual.as_deref().unwrap_or("") == value;
        if eq == negate {
            return Ok(false);
        }
    }
    Ok(true)
}

pub(super) fn query_map(q: Option<&str>) -> Vec<(String, String)> {
    q.map(url_pairs).unwrap_or_default()
}

fn url_pairs(q: &str) -> Vec<(String, String)> {
    q.split('&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            (decode(k), decode(v))
        })
        .collect()
}

fn decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < bytes.len() => {
                let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).ok().and_then(|h| u8::from_str_radix(h, 16).ok());
                match hex {
                    Some(b) => {
                        out.push(b);
                        i += 2;
                    }
                    None => out.push(b'%'),
                }
            }
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

pub(super) fn param<'a>(q: &'a [(String, String)], name: &str) -> Option<&'a str> {
    q.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
}
