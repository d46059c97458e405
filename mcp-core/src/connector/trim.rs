//! A backend's JSON document rewritten for a model in one pass over its bytes: compact,
//! without the members that carry nothing (null, "", [], {}), secrets in env lists
//! redacted, and the rules of [`Trim`]. No tree is built: parsing a container's inspect
//! into a `serde_json::Value`, pruning it and writing it out again was two thirds of
//! mcp-docker's work per inspect (perf), and the JSON text written here goes to the
//! client as it is ([`crate::output::Prebuilt`]).

use std::borrow::Cow;
use std::fmt;

use serde::de::{DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};

use crate::output::clip;
use crate::security::redact::redact_env;

/// What is cut from a document besides its empty members. Paths name object members from
/// the top; array items do not count (`State/Health/Log/Output` is each log entry's).
#[derive(Debug, Clone, Copy, Default)]
pub struct Trim<'a> {
    /// Members of the top object left out (`GraphDriver`: the storage driver's paths).
    pub drop: &'a [&'a str],
    /// Lists of `NAME=value` strings whose secret values are redacted.
    pub env: &'a [&'a [&'a str]],
    /// Whether to redact `env` (off with `--show-secrets`).
    pub redact: bool,
    /// Lists of which only the last item is kept (the last health check is the one that
    /// matters; the engine keeps five).
    pub last: &'a [&'a [&'a str]],
    /// Strings cut to a number of bytes (a health check's output is unbounded).
    pub clip: &'a [(&'a [&'a str], usize)],
}

/// `body` (one JSON document) trimmed by `trim`, as compact JSON text.
pub fn trimmed(body: &[u8], trim: &Trim) -> Result<String, serde_json::Error> {
    // Checked whole first: a member left out is skipped unread, and the document must
    // still be the UTF-8 JSON requires (serde_json does not check what it skips).
    let body = std::str::from_utf8(body).map_err(|e| serde::de::Error::custom(format!("not UTF-8: {e}")))?;
    let mut out = Vec::with_capacity(body.len());
    let mut de = serde_json::Deserializer::from_str(body);
    // The document itself is kept even when empty: `{}` rather than no JSON at all.
    Writer { out: &mut out, path: &mut Vec::new(), trim, keep: true }.deserialize(&mut de)?;
    de.end()?;
    // Made of the UTF-8 input and serde_json's own writing: the check does not fail.
    String::from_utf8(out).map_err(|e| serde::de::Error::custom(e.to_string()))
}

/// Writes one value to `out`. `keep`: an array item (leaving it out would shift the items
/// after it) or the document itself, written even when empty; otherwise an empty value
/// writes nothing. Returns whether it wrote anything.
struct Writer<'w, 'de> {
    out: &'w mut Vec<u8>,
    /// The object members from the top to this value.
    path: &'w mut Vec<Cow<'de, str>>,
    trim: &'w Trim<'w>,
    keep: bool,
}

impl<'de> Writer<'_, 'de> {
    fn at(&self, path: &[&str]) -> bool {
        self.path.len() == path.len() && self.path.iter().zip(path).all(|(a, b)| a == b)
    }

    fn string(self, s: &str) -> Result<bool, serde_json::Error> {
        if s.is_empty() && !self.keep {
            return Ok(false);
        }
        let trim = self.trim;
        let rewritten = if trim.redact && trim.env.iter().any(|p| self.at(p)) {
            Cow::Owned(redact_env(s))
        } else if let Some((_, bytes)) = trim.clip.iter().find(|(p, _)| self.at(p)) {
            Cow::Owned(clip(s, *bytes))
        } else {
            Cow::Borrowed(s)
        };
        serde_json::to_writer(&mut *self.out, rewritten.as_ref())?;
        Ok(true)
    }

    fn scalar(self, value: impl serde::Serialize) -> Result<bool, serde_json::Error> {
        serde_json::to_writer(&mut *self.out, &value)?;
        Ok(true)
    }

    fn item<'x>(&'x mut self) -> Writer<'x, 'de> {
        Writer { out: self.out, path: self.path, trim: self.trim, keep: true }
    }
}

impl<'de> DeserializeSeed<'de> for Writer<'_, 'de> {
    type Value = bool;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<bool, D::Error> {
        deserializer.deserialize_any(self)
    }
}

/// A visit's result with the writer's own errors (writing into memory, which does not
/// fail) turned into the deserializer's.
fn lift<E: serde::de::Error>(r: Result<bool, serde_json::Error>) -> Result<bool, E> {
    r.map_err(E::custom)
}

impl<'de> Visitor<'de> for Writer<'_, 'de> {
    type Value = bool;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a JSON value")
    }

    fn visit_unit<E: serde::de::Error>(self) -> Result<bool, E> {
        if self.keep {
            self.out.extend_from_slice(b"null");
        }
        Ok(self.keep)
    }

    fn visit_bool<E: serde::de::Error>(self, v: bool) -> Result<bool, E> {
        lift(self.scalar(v))
    }

    fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<bool, E> {
        lift(self.scalar(v))
    }

    fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<bool, E> {
        lift(self.scalar(v))
    }

    fn visit_f64<E: serde::de::Error>(self, v: f64) -> Result<bool, E> {
        // Written as serde_json writes a `Value`'s number (non-finite ones cannot be parsed).
        lift(self.scalar(v))
    }

    fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<bool, E> {
        lift(self.string(v))
    }

    fn visit_seq<A: SeqAccess<'de>>(mut self, mut seq: A) -> Result<bool, A::Error> {
        let start = self.out.len();
        self.out.push(b'[');
        let only_last = self.trim.last.iter().any(|p| self.at(p));
        let mut items = 0usize;
        loop {
            let item_start = self.out.len();
            if items > 0 {
                self.out.push(b',');
            }
            if !seq.next_element_seed(self.item())?.unwrap_or(false) {
                self.out.truncate(item_start);
                break;
            }
            if only_last && items > 0 {
                // Keep this item alone: move it over the ones before it.
                let item = self.out.split_off(item_start + 1);
                self.out.truncate(start + 1);
                self.out.extend_from_slice(&item);
            } else {
                items += 1;
            }
        }
        if items == 0 && !self.keep {
            self.out.truncate(start);
            return Ok(false);
        }
        self.out.push(b']');
        Ok(true)
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<bool, A::Error> {
        let start = self.out.len();
        self.out.push(b'{');
        let top = self.path.is_empty();
        let mut members = 0usize;
        while let Some(key) = map.next_key_seed(Key)? {
            if top && self.trim.drop.contains(&key.as_ref()) {
                map.next_value::<IgnoredAny>()?;
                continue;
            }
            let member_start = self.out.len();
            if members > 0 {
                self.out.push(b',');
            }
            serde_json::to_writer(&mut *self.out, key.as_ref()).map_err(serde::de::Error::custom)?;
            self.out.push(b':');
            self.path.push(key);
            let wrote = map.next_value_seed(Writer { out: self.out, path: self.path, trim: self.trim, keep: false });
            self.path.pop();
            if wrote? {
                members += 1;
            } else {
                self.out.truncate(member_start);
            }
        }
        if members == 0 && !self.keep {
            self.out.truncate(start);
            return Ok(false);
        }
        self.out.push(b'}');
        Ok(true)
    }
}

/// An object's key, borrowed from the input when it has no escapes.
struct Key;

impl<'de> DeserializeSeed<'de> for Key {
    type Value = Cow<'de, str>;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Self::Value, D::Error> {
        deserializer.deserialize_str(self)
    }
}

impl<'de> Visitor<'de> for Key {
    type Value = Cow<'de, str>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a string")
    }

    fn visit_borrowed_str<E: serde::de::Error>(self, v: &'de str) -> Result<Self::Value, E> {
        Ok(Cow::Borrowed(v))
    }

    fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Self::Value, E> {
        Ok(Cow::Owned(v.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use serde_json::{Value, json};

    use super::*;

    const CONTAINER: Trim = Trim {
        drop: &["GraphDriver"],
        env: &[&["Config", "Env"]],
        redact: true,
        last: &[&["State", "Health", "Log"]],
        clip: &[(&["State", "Health", "Log", "Output"], 8)],
    };

    fn trim(doc: &Value, trim: &Trim) -> Value {
        let text = trimmed(doc.to_string().as_bytes(), trim).expect("valid JSON");
        assert!(!text.contains('\n'), "one line: {text}");
        serde_json::from_str(&text).expect("trimmed is JSON")
    }

    #[test]
    fn empty_members_go_and_values_stay() {
        let doc = json!({
            "Id": "abc", "Null": null, "Empty": "", "NoList": [], "NoMap": {},
            "Zero": 0, "False": false, "Neg": -3, "Float": 1.5, "Big": u64::MAX,
            "Nested": {"Gone": {"AlsoGone": [], "Null": null}, "Kept": {"A": "x"}},
            "List": [null, "", [], {}, {"Only": null}, 1, "é \"q\" \\ \u{1}"],
            "GraphDriver": {"Data": {"MergedDir": "/var/lib/docker/x"}},
        });
        let expected = json!({
            "Id": "abc", "Zero": 0, "False": false, "Neg": -3, "Float": 1.5, "Big": u64::MAX,
            "Nested": {"Kept": {"A": "x"}},
            "List": [null, "", [], {}, {}, 1, "é \"q\" \\ \u{1}"],
        });
        assert_eq!(trim(&doc, &CONTAINER), expected);
        assert_eq!(
            trim(&json!({"GraphDriver": {"Name": "overlay2"}}), &Trim::default()),
            json!({"GraphDriver": {"Name": "overlay2"}})
        );
    }

    #[test]
    fn env_secrets_are_redacted_only_where_named_and_when_asked() {
        let doc = json!({
            "Config": {"Env": ["PATH=/bin", "DB_PASSWORD=hunter2", "NOEQUALS"]},
            "Other": {"Env": ["DB_PASSWORD=hunter2"]},
        });
        let out = trim(&doc, &CONTAINER);
        let env = out.pointer("/Config/Env").expect("env").to_string();
        assert!(!env.contains("hunter2") && env.contains("PATH=/bin") && env.contains("NOEQUALS"), "{env}");
        assert_eq!(out["Other"]["Env"], json!(["DB_PASSWORD=hunter2"]), "not a path the rules name");
        let shown = trim(&doc, &Trim { redact: false, ..CONTAINER });
        assert_eq!(shown["Config"]["Env"], doc["Config"]["Env"]);
    }

    #[test]
    fn only_the_last_health_check_stays_and_its_output_is_clipped() {
        let log = |n: u64| json!({"ExitCode": n, "Output": format!("check number {n}"), "End": null});
        let doc = json!({"State": {"Health": {"Status": "healthy", "Log": [log(1), log(2), log(3)]}}});
        let out = trim(&doc, &CONTAINER);
        assert_eq!(out["State"]["Health"]["Log"], json!([{"ExitCode": 3, "Output": clip("check number 3", 8)}]));
        let one = json!({"State": {"Health": {"Log": [log(9)]}}});
        assert_eq!(trim(&one, &CONTAINER)["State"]["Health"]["Log"][0]["ExitCode"], 9);
        let none = json!({"State": {"Health": {"Status": "starting", "Log": []}}});
        assert_eq!(trim(&none, &CONTAINER), json!({"State": {"Health": {"Status": "starting"}}}));
    }

    #[test]
    fn what_is_not_one_json_document_is_an_error() {
        let hidden = b"{\"GraphDriver\":\"\xaa\"}";
        for bad in [&b"{\"a\":"[..], b"{} {}", b"", b"{\"a\":1,}", b"\xff", b"[1,2", hidden] {
            assert!(trimmed(bad, &CONTAINER).is_err(), "{:?}", String::from_utf8_lossy(bad));
        }
        assert_eq!(trimmed(b"{\"A\":null}", &CONTAINER).expect("json"), "{}");
        assert_eq!(trimmed(b" null ", &CONTAINER).expect("json"), "null");
        assert_eq!(trimmed(b"[]", &CONTAINER).expect("json"), "[]");
        assert_eq!(trimmed(b" [ 1 , {\"a\" : \"\"} ] ", &CONTAINER).expect("json"), "[1,{}]");
    }

    /// The rewrite gives what parsing, pruning and writing the tree gave (key order aside).
    #[test]
    fn a_real_inspect_document_trims_as_the_tree_did() {
        let doc = json!({
            "Id": "11dc", "Created": "2026-12-07T14:55:43Z", "Path": "true", "Args": [],
            "State": {"Status": "created", "Running": false, "Pid": 0, "Error": "", "StartedAt": "0001-01-01T00:00:00Z"},
            "HostConfig": {"Binds": null, "LogConfig": {"Type": "json-file", "Config": {}}, "PortBindings": {},
                           "RestartPolicy": {"Name": "no", "MaximumRetryCount": 0}, "CapAdd": null},
            "Mounts": [], "Config": {"Env": ["A=1", "PASSWORD=x"], "Labels": {"k": ""}, "Cmd": ["true"]},
            "NetworkSettings": {"Networks": {"none": {"IPAMConfig": null, "Links": null, "NetworkID": "n1"}}},
        });
        let expected = json!({
            "Id": "11dc", "Created": "2026-12-07T14:55:43Z", "Path": "true",
            "State": {"Status": "created", "Running": false, "Pid": 0, "StartedAt": "0001-01-01T00:00:00Z"},
            "HostConfig": {"LogConfig": {"Type": "json-file"}, "RestartPolicy": {"Name": "no", "MaximumRetryCount": 0}},
            "Config": {"Env": ["A=1", "PASSWORD=[REDACTED]"], "Cmd": ["true"]},
            "NetworkSettings": {"Networks": {"none": {"NetworkID": "n1"}}},
        });
        let out = trim(&doc, &CONTAINER);
        assert_eq!(out["Config"]["Env"][1], json!(redact_env("PASSWORD=x")));
        let mut out = out;
        out["Config"]["Env"][1] = json!("PASSWORD=[REDACTED]");
        assert_eq!(out, expected);
    }
}
