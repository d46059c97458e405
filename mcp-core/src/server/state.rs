//! Integrity protection for `requestState` (2026-07-28 multi round-trip requests).
//!
//! The state travels through the client, so it is attacker-controlled on its way back.
//! It is signed with HMAC-SHA256 and bound, as the specification advises, to the method
//! and target name, the client's identity, a digest of the call's arguments, and an
//! expiry: it cannot be forged, used by another client, used on another request or with
//! other arguments, or kept forever. Replicas behind a load balancer share the key
//! (`--state-secret`) so any of them can verify.
//!
//! It is not single-use: within its expiry the same client may present it again with the
//! same arguments (a retry after a lost response does exactly that). A stateless replica
//! cannot know what another replica already accepted without shared storage, and a
//! per-process record would promise at-most-once only on one replica; a handler whose
//! step must happen at most once enforces that where the effect happens (the spec's
//! advice too).

use std::time::{SystemTime, UNIX_EPOCH};

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};

type HmacSha256 = Hmac<Sha256>;

#[derive(Serialize, Deserialize)]
struct Payload {
    /// The handler's own state.
    #[serde(skip_serializing_if = "Option::is_none")]
    s: Option<String>,
    /// Method and target the state belongs to.
    m: String,
    /// The client it was issued to.
    #[serde(default)]
    p: String,
    /// Digest of the call's arguments.
    #[serde(default)]
    a: String,
    /// Expiry, seconds since the epoch.
    e: u64,
}

/// The request a state is issued for, and may only come back with.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Binding<'a> {
    /// Method and target, e.g. `tools/call:query`.
    pub(crate) target: &'a str,
    /// The client's identity.
    pub(crate) principal: &'a str,
    /// The call's arguments (`None`: none, the same as `{}`).
    pub(crate) arguments: Option<&'a Map<String, Value>>,
}

impl Binding<'_> {
    /// SHA-256 of the arguments' canonical JSON (keys sorted, no spaces), so that the
    /// same arguments give the same digest however the client ordered or spaced them.
    fn arguments_digest(&self) -> String {
        let mut text = Vec::new();
        match self.arguments {
            Some(map) => write_object(map, &mut text),
            None => text.extend_from_slice(b"{}"),
        }
        B64.encode(Sha256::digest(&text))
    }
}

fn write_canonical(value: &Value, out: &mut Vec<u8>) {
    match value {
        Value::Object(map) => write_object(map, out),
        Value::Array(items) => {
            out.push(b'[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                write_canonical(item, out);
            }
            out.push(b']');
        }
        // Scalars as serde_json writes them: one spelling per parsed value.
        scalar => out.extend_from_slice(scalar.to_string().as_bytes()),
    }
}

fn write_object(map: &Map<String, Value>, out: &mut Vec<u8>) {
    // Sorted here: the map keeps insertion order when serde_json's `preserve_order` is on.
    let mut entries: Vec<(&String, &Value)> = map.iter().collect();
    entries.sort_unstable_by(|a, b| a.0.cmp(b.0));
    out.push(b'{');
    for (i, (key, value)) in entries.into_iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        out.extend_from_slice(Value::String(key.clone()).to_string().as_bytes());
        out.push(b':');
        write_canonical(value, out);
    }
    out.push(b'}');
}

/// Signs and verifies request state.
#[derive(Clone)]
pub(crate) struct StateSealer {
    key: Vec<u8>,
    ttl_secs: u64,
}

impl std::fmt::Debug for StateSealer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StateSealer").field("ttl_secs", &self.ttl_secs).finish_non_exhaustive()
    }
}

fn now() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0)
}

impl StateSealer {
    pub(crate) fn new(key: Vec<u8>, ttl_secs: u64) -> Self {
        Self { key, ttl_secs }
    }

    fn mac(&self) -> HmacSha256 {
        // HMAC accepts keys of any length, so this cannot fail.
        HmacSha256::new_from_slice(&self.key).unwrap_or_else(|_| unreachable!("HMAC takes any key length"))
    }

    /// Seals `state` for a retry of the request `binding` describes.
    pub(crate) fn seal(&self, binding: &Binding<'_>, state: Option<String>) -> String {
        let payload = Payload {
            s: state,
            m: binding.target.to_string(),
            p: binding.principal.to_string(),
            a: binding.arguments_digest(),
            e: now() + self.ttl_secs,
        };
        let body = B64.encode(serde_json::to_vec(&payload).unwrap_or_default());
        let mut mac = self.mac();
        mac.update(body.as_bytes());
        let sig = B64.encode(mac.finalize().into_bytes());
        format!("{body}.{sig}")
    }

    /// Opens sealed state, checking signature, binding and expiry.
    pub(crate) fn open(&self, binding: &Binding<'_>, sealed: &str) -> Result<Option<String>, &'static str> {
        let (body, sig) = sealed.split_once('.').ok_or("requestState is malformed")?;
        let sig = B64.decode(sig).map_err(|_| "requestState is malformed")?;
        let mut mac = self.mac();
        mac.update(body.as_bytes());
        mac.verify_slice(&sig).map_err(|_| "requestState failed integrity verification")?;
        let payload: Payload =
            B64.decode(body).ok().and_then(|b| serde_json::from_slice(&b).ok()).ok_or("requestState is malformed")?;
        if payload.m != binding.target {
            return Err("requestState belongs to a different request");
        }
        if payload.p != binding.principal {
            return Err("requestState was issued to another client");
        }
        if payload.a != binding.arguments_digest() {
            return Err("requestState was issued for different arguments; retry with the arguments of the \
                 original request, or start again without requestState");
        }
        if payload.e < now() {
            return Err("requestState has expired; start the request again without it");
        }
        Ok(payload.s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn bound<'a>(target: &'a str, principal: &'a str, arguments: Option<&'a Map<String, Value>>) -> Binding<'a> {
        Binding { target, principal, arguments }
    }

    #[test]
    fn sealed_state_round_trips_and_rejects_tampering() {
        let s = StateSealer::new(b"k".to_vec(), 60);
        let a = bound("tools/call:a", "alice", None);
        let sealed = s.seal(&a, Some("step-2".into()));
        assert_eq!(s.open(&a, &sealed), Ok(Some("step-2".into())));
        assert!(s.open(&bound("tools/call:b", "alice", None), &sealed).is_err());
        let mut bad = sealed.clone();
        bad.replace_range(0..1, if sealed.starts_with('A') { "B" } else { "A" });
        assert!(s.open(&a, &bad).is_err());
        assert!(s.open(&a, "garbage").is_err());
        let other = StateSealer::new(b"other".to_vec(), 60);
        assert!(other.open(&a, &sealed).is_err());
        let expired = StateSealer::new(b"k".to_vec(), 0);
        let old = Payload {
            s: None,
            m: "x".into(),
            p: "alice".into(),
            a: bound("x", "alice", None).arguments_digest(),
            e: 1,
        };
        let body = B64.encode(serde_json::to_vec(&old).expect("json"));
        let mut mac = expired.mac();
        mac.update(body.as_bytes());
        let forged = format!("{body}.{}", B64.encode(mac.finalize().into_bytes()));
        assert!(expired.open(&bound("x", "alice", None), &forged).expect_err("expired").contains("expired"));
    }

    #[test]
    fn state_is_bound_to_the_client_and_the_arguments() {
        let s = StateSealer::new(b"k".to_vec(), 60);
        let args = |v: Value| v.as_object().cloned().expect("an object");
        let drop_a = args(json!({"table": "a", "opts": {"cascade": false, "n": 1}}));
        let sealed = s.seal(&bound("tools/call:drop", "alice", Some(&drop_a)), None);
        // The same arguments, however ordered.
        let reordered = args(json!({"opts": {"n": 1, "cascade": false}, "table": "a"}));
        assert_eq!(s.open(&bound("tools/call:drop", "alice", Some(&reordered)), &sealed), Ok(None));
        for other in [
            json!({"table": "b", "opts": {"cascade": false, "n": 1}}),
            json!({"table": "a", "opts": {"cascade": true, "n": 1}}),
            json!({"table": "a", "opts": {"cascade": false, "n": 1.0}}),
            json!({"table": "a", "opts": {"cascade": false, "n": 1}, "extra": null}),
            json!({"table": "a"}),
            json!({}),
        ] {
            let other = args(other);
            let err = s.open(&bound("tools/call:drop", "alice", Some(&other)), &sealed).expect_err("other arguments");
            assert!(err.contains("different arguments"), "{err}");
        }
        let err = s.open(&bound("tools/call:drop", "mallory", Some(&drop_a)), &sealed).expect_err("other client");
        assert!(err.contains("another client"), "{err}");
        // No arguments and empty arguments are the same call.
        let none = s.seal(&bound("tools/call:x", "alice", None), None);
        assert_eq!(s.open(&bound("tools/call:x", "alice", Some(&Map::new())), &none), Ok(None));
    }
}
