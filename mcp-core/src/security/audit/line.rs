//! What one audit line says: the record of a request ([`AuditRecord`]), its first fields
//! shared by a session ([`LineHead`]), and the line begun before the request runs and
//! completed when it ends ([`PendingLine`]).

use std::time::{Duration, Instant};

use serde_json::Value;

use super::json::{push_int, push_known, push_millis, push_str, write_redacted};
use crate::security::identity::Identity;
use crate::security::redact;

/// What happened in one request.
#[derive(Debug, Clone)]
pub struct AuditRecord {
    /// The transport: `stdio`, `http` or `ws`.
    pub transport: &'static str,
    /// The client identity (token name, OAuth subject, `local`, `anonymous`).
    pub identity: std::sync::Arc<Identity>,
    /// `handshake` or `stateless`, with the protocol revision.
    pub era: &'static str,
    /// The protocol revision (empty before a handshake).
    pub version: &'static str,
    /// The JSON-RPC method.
    pub method: String,
    /// The tool, prompt or resource the request is about.
    pub target: Option<String>,
    /// The arguments, redacted.
    pub arguments: Option<Value>,
    /// `ok`, `tool_error`, `input_required`, `denied` or `error`.
    pub outcome: &'static str,
    /// The error message, for failures.
    pub error: Option<String>,
    /// Time taken.
    pub duration: Duration,
    /// Size of the request as received, in bytes.
    pub bytes_in: usize,
    /// Size of the response as sent, in bytes.
    pub bytes_out: usize,
}

/// A line's first fields (transport, identity, era, version), serialized. They are the
/// same for every request of a session in one protocol revision: a session keeps its own
/// head, and its lines start with a copy of it.
#[derive(Debug)]
pub struct LineHead {
    era: &'static str,
    version: &'static str,
    text: Box<[u8]>,
}

impl LineHead {
    /// The head of the lines of `identity` over `transport`, in `era` at `version` (empty
    /// before a handshake).
    pub fn new(transport: &'static str, identity: &str, era: &'static str, version: &'static str) -> Self {
        let mut text = Vec::with_capacity(64 + identity.len());
        text.extend_from_slice(b"\"transport\":");
        push_known(&mut text, transport);
        text.extend_from_slice(b",\"identity\":");
        push_str(&mut text, identity);
        text.extend_from_slice(b",\"era\":");
        push_known(&mut text, era);
        text.extend_from_slice(b",\"version\":");
        push_known(&mut text, version);
        Self { era, version, text: text.into_boxed_slice() }
    }

    /// Whether this head holds `era` and `version` (a session's transport and identity
    /// never change).
    pub fn is_for(&self, era: &str, version: &str) -> bool {
        // Both are this crate's static names: the same pointers, nearly always.
        let same = |a: &str, b: &str| std::ptr::eq(a, b) || a == b;
        same(self.era, era) && same(self.version, version)
    }
}

/// The fields of a request known before it runs.
#[derive(Debug, Clone, Copy)]
pub struct AuditStart<'a> {
    /// Transport, identity, era and version.
    pub head: &'a LineHead,
    /// The JSON-RPC method.
    pub method: &'a str,
    /// The tool, prompt or resource the request is about.
    pub target: Option<&'a str>,
    /// The arguments as received: they are redacted as they are written.
    pub arguments: Option<&'a Value>,
    /// Argument names the tool declared sensitive.
    pub sensitive: &'a [String],
    /// Size of the request as received, in bytes.
    pub bytes_in: usize,
}

/// How a request ended.
#[derive(Debug, Clone, Copy)]
pub struct AuditEnd<'a> {
    /// `ok`, `tool_error`, `input_required`, `denied` or `error`.
    pub outcome: &'static str,
    /// The error message, for failures.
    pub error: Option<&'a str>,
    /// Time taken.
    pub duration: Duration,
    /// Size of the response, in bytes.
    pub bytes_out: usize,
}

/// A line begun before its request runs: the fields known then are already serialized
/// (arguments redacted), so that nothing of the request is cloned for the audit trail.
#[derive(Debug)]
pub(super) struct PendingLine {
    /// The body so far, without the opening brace (the writer puts `ts` and `prev` first).
    pub(super) body: Vec<u8>,
    pub(super) bytes_in: usize,
    /// When the request started: the line's `ts`.
    pub(super) started: Instant,
}

impl PendingLine {
    /// Serializes the fields known before the request runs.
    pub(super) fn begin(start: AuditStart<'_>, started: Instant) -> Self {
        let mut body = Vec::with_capacity(256);
        body.extend_from_slice(&start.head.text);
        body.extend_from_slice(b",\"method\":");
        push_str(&mut body, start.method);
        if let Some(target) = start.target {
            body.extend_from_slice(b",\"target\":");
            push_str(&mut body, target);
        }
        if let Some(arguments) = start.arguments {
            body.extend_from_slice(b",\"arguments\":");
            write_redacted(&mut body, arguments, start.sensitive);
        }
        Self { body, bytes_in: start.bytes_in, started }
    }

    /// Adds the outcome: the body is complete.
    pub(super) fn finish(&mut self, end: AuditEnd<'_>) {
        let body = &mut self.body;
        body.extend_from_slice(b",\"outcome\":");
        push_known(body, end.outcome);
        if let Some(error) = end.error {
            body.extend_from_slice(b",\"error\":");
            // An error may quote what failed: a URL with its password, a header.
            push_str(body, &redact::redact_text(error));
        }
        body.extend_from_slice(b",\"duration_ms\":");
        push_millis(body, end.duration);
        body.extend_from_slice(b",\"bytes_in\":");
        push_int(body, self.bytes_in as u64);
        body.extend_from_slice(b",\"bytes_out\":");
        push_int(body, end.bytes_out as u64);
        body.push(b'}');
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn secrets_are_redacted_by_name_and_by_declaration() {
        let v =
            redact::redact_json(&json!({"query": "select", "dsn": "postgres://u:p@h", "Token": "t"}), &["dsn".into()]);
        assert_eq!(v, json!({"query": "select", "dsn": "[REDACTED]", "Token": "[REDACTED]"}));
    }

    #[test]
    fn lines_hold_every_field_in_order_with_arguments_redacted_as_they_are_written() {
        let arguments = json!({"b": [1, {"secret": "s"}], "a": "x\ny\"", "dsn": "d", "n": null, "f": 1.5});
        let head = LineHead::new("http", "ci \"bot\"", "stateless", "2026-07-28");
        assert!(head.is_for("stateless", "2026-07-28") && !head.is_for("handshake", "2026-07-28"));
        let mut line = PendingLine::begin(
            AuditStart {
                head: &head,
                method: "tools/call",
                target: Some("query"),
                arguments: Some(&arguments),
                sensitive: &["dsn".into()],
                bytes_in: 42,
            },
            Instant::now(),
        );
        let end = AuditEnd {
            outcome: "tool_error",
            error: Some("bad\nthing at postgres://u:pw@h/db"),
            duration: Duration::from_micros(250),
            bytes_out: 7,
        };
        line.finish(end);
        let text = String::from_utf8([b"{".as_slice(), &line.body].concat()).expect("utf-8");
        let body: Value = serde_json::from_str(&text).expect("json");
        let expected = json!({
            "transport": "http", "identity": "ci \"bot\"", "era": "stateless", "version": "2026-07-28",
            "method": "tools/call", "target": "query", "arguments": redact::redact_json(&arguments, &["dsn".into()]),
            "outcome": "tool_error", "error": "bad\nthing at postgres://u:[REDACTED]@h/db", "duration_ms": 0.25, "bytes_in": 42, "bytes_out": 7,
        });
        assert_eq!(body, expected);
        // The order of the lines written before (and that readers of the trail may expect).
        let order = ["transport", "identity", "era", "version", "method", "target", "arguments", "outcome"];
        let order = order.iter().chain(&["error", "duration_ms", "bytes_in", "bytes_out"]);
        let at: Vec<Option<usize>> = order.map(|k| text.find(&format!("\"{k}\":"))).collect();
        assert!(at.iter().all(Option::is_some) && at.is_sorted(), "{text}");
        let mut written = Vec::new();
        write_redacted(&mut written, &arguments, &["dsn".into()]);
        assert_eq!(written, serde_json::to_vec(&redact::redact_json(&arguments, &["dsn".into()])).expect("json"));
    }
}
