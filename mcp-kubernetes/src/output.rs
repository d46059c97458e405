//! Results as the model sees them: compact YAML or JSON documents without the noise
//! (`managedFields`, last-applied annotations, node image lists), `kubectl get`-style
//! tables for lists, field projection, and the helpers that keep all of it bounded.

use base64::Engine;
pub use mcp_core::connector::cut_text;
use mcp_core::connector::{Next, cut_note};
pub use mcp_core::output::{Prebuilt, Rendered, clip, one_line, table};
use mcp_core::security::redact::{is_secret_setting_name, keyed_placeholder, redact_text};
use serde_json::{Map, Value};

/// Annotations that repeat the object or carry controller bookkeeping a model never
/// needs (the last-applied one also repeats a Secret's data in clear).
const NOISY_ANNOTATIONS: &[&str] = &[
    "kubectl.kubernetes.io/last-applied-configuration",
    "control-plane.alpha.kubernetes.io/leader",
    "deprecated.daemonset.template.generation",
    "node.alpha.kubernetes.io/ttl",
    "volumes.kubernetes.io/controller-managed-attach-detach",
];

/// Removes what costs tokens and tells nothing: managed fields, noisy annotations, the
/// node's image list, empty maps.
pub fn trim(obj: &mut Value) {
    if let Some(meta) = obj.get_mut("metadata").and_then(Value::as_object_mut) {
        meta.remove("managedFields");
        meta.remove("selfLink");
        if let Some(ann) = meta.get_mut("annotations").and_then(Value::as_object_mut) {
            ann.retain(|k, _| !NOISY_ANNOTATIONS.contains(&k.as_str()));
            if ann.is_empty() {
                meta.remove("annotations");
            }
        }
    }
    if obj.get("kind").and_then(Value::as_str) == Some("Node")
        && let Some(status) = obj.get_mut("status").and_then(Value::as_object_mut)
    {
        status.remove("images");
    }
}

/// What the masking needs: whether to mask and the key of the hash.
#[derive(Debug, Clone)]
pub struct Masker {
    pub reveal: bool,
    pub key: Vec<u8>,
}

impl Masker {
    /// The stand-in for `value`: mcp-core's keyed placeholder (length and a short keyed
    /// hash), so the model can see that a value changed (or equals another) without
    /// seeing it.
    pub fn mask(&self, value: &[u8]) -> String {
        keyed_placeholder(value, &self.key)
    }

    /// Masks Secret values (kept keys) and sensitive env values anywhere in `obj`, whose
    /// kind is `kind` (list items carry no kind of their own).
    pub fn apply(&self, obj: &mut Value, kind: &str) {
        if self.reveal {
            if kind == "Secret" {
                decode_secret_data(obj);
            }
            return;
        }
        if kind == "Secret" {
            for field in ["data", "stringData"] {
                if let Some(map) = obj.get_mut(field).and_then(Value::as_object_mut) {
                    for v in map.values_mut() {
                        let raw = match v.as_str() {
                            Some(s) if field == "data" => base64::engine::general_purpose::STANDARD
                                .decode(s)
                                .unwrap_or_else(|_| s.as_bytes().to_vec()),
                            Some(s) => s.as_bytes().to_vec(),
                            None => v.to_string().into_bytes(),
                        };
                        *v = Value::String(self.mask(&raw));
                    }
                }
            }
        }
        self.mask_env(obj);
    }

    /// Env values of sensitive names, wherever an `env` list appears (pods, templates).
    fn mask_env(&self, v: &mut Value) {
        match v {
            Value::Object(map) => {
                if let Some(Value::Array(env)) = map.get_mut("env") {
                    for var in env.iter_mut() {
                        let sensitive = var.get("name").and_then(Value::as_str).is_some_and(is_secret_setting_name);
                        let Some(value) = var.get_mut("value") else { continue };
                        if sensitive {
                            let raw = value.as_str().unwrap_or_default().as_bytes().to_vec();
                            *value = Value::String(self.mask(&raw));
                        } else {
                            redact_in_place(value);
                        }
                    }
                }
                for (k, child) in map.iter_mut() {
                    if k != "env" {
                        self.mask_env(child);
                    }
                }
            }
            Value::Array(items) => items.iter_mut().for_each(|i| self.mask_env(i)),
            _ => {}
        }
    }

    /// Masks values under sensitive keys in a free-form document (Helm values).
    pub fn mask_values(&self, v: &mut Value) {
        if self.reveal {
            return;
        }
        match v {
            Value::Object(map) => {
                for (k, child) in map.iter_mut() {
                    if is_secret_setting_name(k) && !child.is_object() && !child.is_array() && !child.is_null() {
                        let raw = match child.as_str() {
                            Some(s) => s.as_bytes().to_vec(),
                            None => child.to_string().into_bytes(),
                        };
                        *child = Value::String(self.mask(&raw));
                    } else {
                        self.mask_values(child);
                    }
                }
            }
            Value::Array(items) => items.iter_mut().for_each(|i| self.mask_values(i)),
            value => redact_in_place(value),
        }
    }
}

/// Secrets inside a string whose name does not look secret (a URL's password, a bearer
/// token), replaced by mcp-core's placeholder.
fn redact_in_place(value: &mut Value) {
    if let Value::String(s) = value
        && let std::borrow::Cow::Owned(redacted) = redact_text(s)
    {
        *s = redacted;
    }
}

/// With secrets revealed, `data` is shown decoded when it is text (base64 otherwise).
fn decode_secret_data(obj: &mut Value) {
    if let Some(map) = obj.get_mut("data").and_then(Value::as_object_mut) {
        for v in map.values_mut() {
            if let Some(s) = v.as_str()
                && let Ok(bytes) = base64::engine::general_purpose::STANDARD.decode(s)
                && let Ok(text) = String::from_utf8(bytes)
            {
                *v = Value::String(text);
            }
        }
    }
}

/// The kit's one note that a table or text was cut, on a line of its own; nothing pages
/// it, so `narrow` says how to ask for less.
pub fn cut_line(shown: impl std::fmt::Display, narrow: &str) -> String {
    format!("[{}]\n", cut_note(shown, Next::Narrow, narrow))
}

/// An object as compact YAML (or JSON when asked).
pub fn document(obj: &Value, json: bool) -> String {
    if json { serde_json::to_string_pretty(obj).unwrap_or_default() } else { yaml(obj) }
}

/// `v` as YAML, the very text serde_yaml_ng writes (a test compares them), but written
/// directly: serde_yaml_ng drives libyaml's emitter event by event and tries to parse
/// every string back to choose its quoting, which made YAML most of a get's CPU. Scalars
/// this does not know to be plain are quoted by serde_yaml_ng itself; a document with a
/// multi-line string or an unusual key is left to it whole.
fn yaml(v: &Value) -> String {
    yaml_direct(v).unwrap_or_else(|Unusual| {
        serde_yaml_ng::to_string(v).unwrap_or_else(|_| serde_json::to_string_pretty(v).unwrap_or_default())
    })
}

fn yaml_direct(v: &Value) -> Result<String, Unusual> {
    let mut out = String::with_capacity(1024);
    match v {
        Value::Object(map) if !map.is_empty() => yaml_map(map, 0, false, &mut out)?,
        Value::Array(items) if !items.is_empty() => yaml_seq(items, 0, false, &mut out)?,
        _ => return Err(Unusual),
    }
    Ok(out)
}

/// Something [`yaml`] leaves to serde_yaml_ng.
struct Unusual;

fn indent(out: &mut String, n: usize) {
    out.extend(std::iter::repeat_n(' ', n));
}

/// A block mapping at column `col`; `inline`: its first key continues the current line
/// (after `- `).
fn yaml_map(map: &Map<String, Value>, col: usize, inline: bool, out: &mut String) -> Result<(), Unusual> {
    for (i, (key, value)) in map.iter().enumerate() {
        if i > 0 || !inline {
            indent(out, col);
        }
        // libyaml writes keys over 128 bytes as complex keys (`? key`).
        if key.len() > 128 {
            return Err(Unusual);
        }
        yaml_str(key, out)?;
        out.push(':');
        match value {
            Value::Object(m) if !m.is_empty() => {
                out.push('\n');
                yaml_map(m, col + 2, false, out)?;
            }
            // libyaml does not indent a sequence under a mapping key.
            Value::Array(a) if !a.is_empty() => {
                out.push('\n');
                yaml_seq(a, col, false, out)?;
            }
            scalar => {
                out.push(' ');
                yaml_scalar(scalar, out)?;
                out.push('\n');
            }
        }
    }
    Ok(())
}

/// A block sequence at column `col`; `inline` as for [`yaml_map`].
fn yaml_seq(items: &[Value], col: usize, inline: bool, out: &mut String) -> Result<(), Unusual> {
    for (i, item) in items.iter().enumerate() {
        if i > 0 || !inline {
            indent(out, col);
        }
        out.push_str("- ");
        match item {
            Value::Object(m) if !m.is_empty() => yaml_map(m, col + 2, true, out)?,
            Value::Array(a) if !a.is_empty() => yaml_seq(a, col + 2, true, out)?,
            scalar => {
                yaml_scalar(scalar, out)?;
                out.push('\n');
            }
        }
    }
    Ok(())
}

fn yaml_scalar(v: &Value, out: &mut String) -> Result<(), Unusual> {
    match v {
        Value::Null => out.push_str("null"),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Number(n) if n.is_i64() || n.is_u64() => out.push_str(&n.to_string()),
        Value::String(s) => yaml_str(s, out)?,
        Value::Object(_) => out.push_str("{}"),
        Value::Array(_) => out.push_str("[]"),
        // Floats (rare in Kubernetes objects): ryu's digits and `.inf` spellings as serde_yaml_ng has them.
        Value::Number(_) => quoted_by_serde_yaml(v, out)?,
    }
    Ok(())
}

fn yaml_str(s: &str, out: &mut String) -> Result<(), Unusual> {
    if plain(s) {
        out.push_str(s);
        Ok(())
    } else {
        quoted_by_serde_yaml(&s, out)
    }
}

/// A scalar as serde_yaml_ng writes it alone, when that is one line.
fn quoted_by_serde_yaml<T: serde::Serialize + ?Sized>(v: &T, out: &mut String) -> Result<(), Unusual> {
    let text = serde_yaml_ng::to_string(v).map_err(|_| Unusual)?;
    let line = text.strip_suffix('\n').unwrap_or(&text);
    if line.contains('\n') {
        return Err(Unusual);
    }
    out.push_str(line);
    Ok(())
}

/// Whether `s` is certainly written plain (unquoted) by serde_yaml_ng: a conservative
/// subset of libyaml's rules (no indicator first, no `: ` or ` #`, printable ASCII, no
/// edge spaces) that would not read back as a null, bool or number.
fn plain(s: &str) -> bool {
    let b = s.as_bytes();
    let (Some(&first), Some(&last)) = (b.first(), b.last()) else {
        return false;
    };
    if !(first.is_ascii_alphanumeric() || first == b'/' || first == b'_') || last == b' ' {
        return false;
    }
    for (i, &c) in b.iter().enumerate() {
        let next = b.get(i + 1).copied();
        let ok = match c {
            b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' => true,
            b'-' | b'.' | b'_' | b'/' | b'=' | b'+' | b'@' | b'%' | b'~' | b'^' | b'$' | b'(' | b')' | b';' => true,
            b':' => next.is_some_and(|n| n != b' '),
            b' ' => next.is_some_and(|n| n != b'#'),
            _ => false,
        };
        if !ok {
            return false;
        }
    }
    if first.is_ascii_digit() {
        return s.parse::<f64>().is_err() && !["0x", "0o", "0b"].iter().any(|p| s.starts_with(p));
    }
    !matches!(s, "null" | "Null" | "NULL" | "true" | "True" | "TRUE" | "false" | "False" | "FALSE")
}

/// The value at a dotted path (`status.phase`, `spec.containers.image`); through an
/// array, the path applies to each element. A segment may be a list index (`containers.0`).
pub fn lookup(v: &Value, path: &str) -> Option<Value> {
    let segs: Vec<&str> = path.split('.').filter(|s| !s.is_empty()).collect();
    walk(v, &segs)
}

/// The value at a dotted path that crosses no array (or crosses one by index), borrowed:
/// tables read several such cells per row.
pub fn at<'a>(v: &'a Value, path: &str) -> Option<&'a Value> {
    path.split('.').filter(|s| !s.is_empty()).try_fold(v, |v, seg| match v {
        Value::Object(map) => map.get(seg),
        Value::Array(items) => items.get(seg.parse::<usize>().ok()?),
        _ => None,
    })
}

/// Walks by reference and clones only what is found (tables look up many cells).
fn walk(v: &Value, segs: &[&str]) -> Option<Value> {
    let Some((seg, rest)) = segs.split_first() else {
        return Some(v.clone());
    };
    match v {
        Value::Object(map) => walk(map.get(*seg)?, rest),
        Value::Array(items) => match seg.parse::<usize>() {
            Ok(i) => walk(items.get(i)?, rest),
            Err(_) => {
                let found: Vec<Value> = items.iter().filter_map(|i| walk(i, segs)).collect();
                if found.is_empty() { None } else { Some(Value::Array(found)) }
            }
        },
        _ => None,
    }
}

/// Only the `fields` of `obj`, each under its path.
pub fn project(obj: &Value, fields: &[String]) -> Value {
    let mut out = Map::new();
    for f in fields {
        out.insert(f.clone(), lookup(obj, f).unwrap_or(Value::Null));
    }
    Value::Object(out)
}

/// A value as one table cell.
pub fn cell(v: &Value) -> String {
    // Most cells are short one-line strings: copied once, not rebuilt twice.
    if let Value::String(s) = v
        && s.len() <= 120
        && !s.chars().any(char::is_control)
    {
        return s.clone();
    }
    let s = match v {
        Value::Null => "<none>".to_string(),
        Value::String(s) => s.clone(),
        Value::Array(items) => items.iter().map(cell).collect::<Vec<_>>().join(","),
        other => other.to_string(),
    };
    clip(&one_line(&s), 120)
}

/// How long ago an RFC 3339 time was, as kubectl prints it (`5m`, `3h`, `12d`).
pub fn age(time: Option<&str>) -> String {
    let Some(t) = time.and_then(|t| chrono::DateTime::parse_from_rfc3339(t).ok()) else {
        return "<unknown>".into();
    };
    let secs = (chrono::Utc::now() - t.with_timezone(&chrono::Utc)).num_seconds().max(0);
    match secs {
        0..120 => format!("{secs}s"),
        120..7200 => format!("{}m", secs / 60),
        7200..172_800 => format!("{}h", secs / 3600),
        _ => format!("{}d", secs / 86400),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn masker() -> Masker {
        Masker { reveal: false, key: b"0123456789abcdef".to_vec() }
    }

    #[test]
    fn secrets_and_sensitive_env_are_masked_with_stable_hashes() {
        let mut s = json!({"kind": "Secret", "data": {"password": "aHVudGVyMg==", "user": "YWRtaW4="}});
        masker().apply(&mut s, "Secret");
        let masked = s["data"]["password"].as_str().expect("masked");
        assert!(masked.starts_with("[REDACTED: 7 bytes, hmac "), "{masked}");
        assert!(!s.to_string().contains("aHVudGVyMg"));
        let again = masker().mask(b"hunter2");
        assert_eq!(masked, again);
        assert_ne!(masker().mask(b"hunter3"), again);

        let mut pod = json!({"spec": {"containers": [{"env": [
            {"name": "DB_PASSWORD", "value": "pw"}, {"name": "LOG_LEVEL", "value": "debug"},
            {"name": "x-api-key", "value": "k"}, {"name": "DATABASE_URL", "value": "postgres://u:pw@h/db"}]}]}});
        masker().apply(&mut pod, "Pod");
        let env = &pod["spec"]["containers"][0]["env"];
        for i in [0, 2] {
            assert!(env[i]["value"].as_str().is_some_and(|v| v.starts_with("[REDACTED: ")), "{env}");
        }
        assert_eq!(env[1]["value"], "debug");
        assert_eq!(env[3]["value"], "postgres://u:[REDACTED]@h/db", "secrets inside values of other names");

        let mut values = json!({"auth": {"password": "p"}, "externalDatabase": {"url": "postgres://u:pw@h/db"}});
        masker().mask_values(&mut values);
        assert!(values["auth"]["password"].as_str().is_some_and(|v| v.starts_with("[REDACTED: ")), "{values}");
        assert_eq!(values["externalDatabase"]["url"], "postgres://u:[REDACTED]@h/db");
    }

    #[test]
    fn trimming_and_projection() {
        let mut o = json!({"kind": "Pod", "metadata": {"name": "a", "managedFields": [{}],
            "annotations": {"kubectl.kubernetes.io/last-applied-configuration": "{}"}},
            "spec": {"containers": [{"image": "x"}, {"image": "y"}]}});
        trim(&mut o);
        assert_eq!(o["metadata"], json!({"name": "a"}));
        assert_eq!(lookup(&o, "spec.containers.image"), Some(json!(["x", "y"])));
        assert_eq!(lookup(&o, "spec.containers.1.image"), Some(json!("y")));
        assert_eq!(project(&o, &["metadata.name".into(), "x.y".into()]), json!({"metadata.name": "a", "x.y": null}));
    }

    /// The direct YAML writer must give serde_yaml_ng's text for anything: Kubernetes-like
    /// objects, and many random documents of awkward strings.
    #[test]
    fn yaml_is_the_text_serde_yaml_writes() {
        // Whether the direct writer handled `v` (and then wrote the same text).
        let check = |v: &Value| {
            let want = serde_yaml_ng::to_string(v).expect("serde_yaml_ng");
            assert_eq!(yaml(v), want, "for {v}");
            match yaml_direct(v) {
                Ok(text) => assert_eq!(text, want, "for {v}"),
                Err(Unusual) => return false,
            }
            true
        };
        let mut pod = json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "web-0", "namespace": "team-a",
            "creationTimestamp": "2024-05-01T10:00:00Z", "resourceVersion": "1234", "uid": "0a1b2c3d-1111",
            "labels": {"app.kubernetes.io/name": "web", "tier": "true"}, "annotations": {"note": "a: b", "n2": "x #y"}},
            "spec": {"containers": [{"name": "main", "image": "busybox:1.36", "command": ["sh", "-c", "echo hi; sleep 1"],
                "args": [], "resources": {}, "ports": [{"containerPort": 8080, "protocol": "TCP"}],
                "env": [{"name": "A", "value": ""}, {"name": "B", "value": "0123"}, {"name": "C", "value": "1e5"}]}],
                "nodeSelector": {"kubernetes.io/os": "linux"}, "priority": -5, "ratio": 0.5, "big": 1.0e30,
                "nested": [[1, 2], [], [{"a": null}], {}], "script": "line one\nline two\n"},
            "status": {"phase": "Running", "ok": false, "conditions": [{"type": "Ready", "status": "True"}]}});
        assert!(!check(&pod), "a multi-line string is left to serde_yaml_ng");
        pod["spec"]["script"] = json!("one line");
        assert!(check(&pod), "an ordinary object is written directly");
        let words = [
            "",
            " ",
            "a",
            "~",
            "null",
            "NULL",
            "True",
            "false",
            "yes",
            "no",
            "on",
            "0",
            "007",
            "0x1f",
            "0o17",
            "0b1",
            "-1",
            "+1",
            "1.5",
            ".5",
            "1.",
            "1e3",
            ".inf",
            "-.inf",
            ".nan",
            "inf",
            "nan",
            "1_000",
            "2024-01-01",
            "10.0.0.1",
            "a:b",
            "a: b",
            "a:",
            "-a",
            "- a",
            "--- x",
            "...",
            "a #b",
            "a#b",
            "#a",
            "@a",
            "`a",
            "'a",
            "\"a",
            "a'b",
            "a\"b",
            "a, b",
            "[a]",
            "{a}",
            "a[0]",
            "?a",
            "? a",
            "!a",
            "&a",
            "*a",
            "|a",
            ">a",
            "%a",
            "é",
            "naïve",
            "a\tb",
            "a\u{7}b",
            "trailing ",
            " leading",
            "two  spaces",
            "x\ny",
            "x\n",
            "\n",
            "/path/to",
            "_x",
            "app.kubernetes.io/name",
            "500m",
            "1Gi",
            "sha256:abc",
            "http://x:80/y",
            "a=b,c",
        ];
        let mut seed = 0x2545_f491_4f6c_dd1du64;
        let mut next = |n: usize| {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            (seed % n as u64) as usize
        };
        fn build(depth: usize, words: &[&str], next: &mut dyn FnMut(usize) -> usize) -> Value {
            match if depth > 3 { next(4) } else { next(7) } {
                0 => json!(words[next(words.len())]),
                1 => json!(next(1000) as i64 - 500),
                2 => json!(next(3) == 0),
                3 => Value::Null,
                4 | 5 => {
                    let mut m = Map::new();
                    for _ in 0..next(4) {
                        m.insert(words[next(words.len())].to_string(), build(depth + 1, words, next));
                    }
                    Value::Object(m)
                }
                _ => Value::Array((0..next(4)).map(|_| build(depth + 1, words, next)).collect()),
            }
        }
        for w in words {
            check(&json!({ w: w }));
            check(&json!([w]));
        }
        // Documents of one-line strings, so that most exercise the direct writer.
        let one_line: Vec<&str> = words.iter().copied().filter(|w| !w.contains('\n')).collect();
        let direct = (0..3000)
            .filter(|_| check(&json!({"a": build(0, &one_line, &mut next), "b": [build(1, &one_line, &mut next)]})))
            .count();
        assert!(direct > 2500, "only {direct} of 3000 written directly");
    }
}
