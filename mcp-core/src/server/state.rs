//! Integrity protection for `requestState` (2026-07-28 multi round-trip requests).
//!
//! The state travels through the client, so it is attacker-controlled on its way back.
//! It is signed with HMAC-SHA256 and bound to the method, the target name and an expiry,
//! so that it cannot be forged, replayed on another request, or kept forever. Replicas
//! behind a load balancer share the key (`--state-secret`) so any of them can verify.

use std::time::{SystemTime, UNIX_EPOCH};

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use sha2::Sha256;

type HmacSha256 = Hmac<Sha256>;

#[derive(Serialize, Deserialize)]
struct Payload {
    /// The handler's own state.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    s: Option<String>,
    /// Method and target the state belongs to.
    m: String,
    /// Expiry, seconds since the epoch.
    e: u64,
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

    /// Seals `state` for a retry of `binding` (method and target name).
    pub(crate) fn seal(&self, binding: &str, state: Option<String>) -> String {
        let payload = Payload { s: state, m: binding.to_string(), e: now() + self.ttl_secs };
        let body = B64.encode(serde_json::to_vec(&payload).unwrap_or_default());
        let mut mac = self.mac();
        mac.update(body.as_bytes());
        let sig = B64.encode(mac.finalize().into_bytes());
        format!("{body}.{sig}")
    }

    /// Opens sealed state, checking signature, binding and expiry.
    pub(crate) fn open(&self, binding: &str, sealed: &str) -> Result<Option<String>, &'static str> {
        let (body, sig) = sealed.split_once('.').ok_or("requestState is malformed")?;
        let sig = B64.decode(sig).map_err(|_| "requestState is malformed")?;
        let mut mac = self.mac();
        mac.update(body.as_bytes());
        mac.verify_slice(&sig).map_err(|_| "requestState failed integrity verification")?;
        let payload: Payload =
            B64.decode(body).ok().and_then(|b| serde_json::from_slice(&b).ok()).ok_or("requestState is malformed")?;
        if payload.m != binding {
            return Err("requestState belongs to a different request");
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

    #[test]
    fn sealed_state_round_trips_and_rejects_tampering() {
        let s = StateSealer::new(b"k".to_vec(), 60);
        let sealed = s.seal("tools/call:a", Some("step-2".into()));
        assert_eq!(s.open("tools/call:a", &sealed), Ok(Some("step-2".into())));
        assert!(s.open("tools/call:b", &sealed).is_err());
        let mut bad = sealed.clone();
        bad.replace_range(0..1, if sealed.starts_with('A') { "B" } else { "A" });
        assert!(s.open("tools/call:a", &bad).is_err());
        assert!(s.open("tools/call:a", "garbage").is_err());
        let other = StateSealer::new(b"other".to_vec(), 60);
        assert!(other.open("tools/call:a", &sealed).is_err());
        let expired = StateSealer::new(b"k".to_vec(), 0);
        let old = Payload { s: None, m: "x".into(), e: 1 };
        let body = B64.encode(serde_json::to_vec(&old).expect("json"));
        let mut mac = expired.mac();
        mac.update(body.as_bytes());
        let forged = format!("{body}.{}", B64.encode(mac.finalize().into_bytes()));
        assert!(expired.open("x", &forged).expect_err("expired").contains("expired"));
    }
}
