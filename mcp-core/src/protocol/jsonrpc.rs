//! JSON-RPC 2.0 framing: ids, messages, errors, and strict parsing.
//!
//! Parsing is deliberately strict and precise: every rejection says which member was
//! wrong and what was expected, because the peer is often a model or a hand-written
//! client that can only fix what it is told about.

use std::fmt;
use std::sync::Arc;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// The JSON-RPC error codes MCP uses, both the standard ones and the MCP-reserved range.
pub mod codes {
    /// Invalid JSON was received.
    pub const PARSE_ERROR: i32 = -32700;
    /// The JSON sent is not a valid request object.
    pub const INVALID_REQUEST: i32 = -32600;
    /// The method does not exist or is not available.
    pub const METHOD_NOT_FOUND: i32 = -32601;
    /// Invalid method parameters.
    pub const INVALID_PARAMS: i32 = -32602;
    /// Internal JSON-RPC error.
    pub const INTERNAL_ERROR: i32 = -32603;
    /// 2025-11-25 and earlier: resource not found (2026-07-28 uses INVALID_PARAMS).
    pub const RESOURCE_NOT_FOUND_LEGACY: i32 = -32002;
    /// 2025-11-25 URL elicitation required.
    pub const URL_ELICITATION_REQUIRED: i32 = -32042;
    /// 2026-07-28: HTTP headers do not match the body, or are missing or malformed.
    pub const HEADER_MISMATCH: i32 = -32020;
    /// 2026-07-28: the request needs a client capability that was not declared.
    pub const MISSING_REQUIRED_CLIENT_CAPABILITY: i32 = -32021;
    /// 2026-07-28: the requested protocol version is not supported.
    pub const UNSUPPORTED_PROTOCOL_VERSION: i32 = -32022;
}

/// A request id: a string or an integer, never null.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(untagged)]
pub enum RequestId {
    /// An integer id.
    Number(i64),
    /// A string id.
    String(Arc<str>),
}

impl fmt::Display for RequestId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RequestId::Number(n) => write!(f, "{n}"),
            RequestId::String(s) => write!(f, "{s:?}"),
        }
    }
}

impl From<i64> for RequestId {
    fn from(n: i64) -> Self {
        RequestId::Number(n)
    }
}

impl From<&str> for RequestId {
    fn from(s: &str) -> Self {
        RequestId::String(s.into())
    }
}

/// The error member of a JSON-RPC error response.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, thiserror::Error)]
#[error("JSON-RPC error {code}: {message}")]
pub struct ErrorObject {
    /// One of [`codes`] or an application code.
    pub code: i32,
    /// A short, specific description.
    pub message: String,
    /// Extra machine-readable detail.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub data: Option<Value>,
}

impl ErrorObject {
    /// An error with a code and message.
    pub fn new(code: i32, message: impl Into<String>) -> Self {
        Self { code, message: message.into(), data: None }
    }
    /// Attaches `data`.
    pub fn with_data(mut self, data: Value) -> Self {
        self.data = Some(data);
        self
    }
    /// -32700.
    pub fn parse_error(message: impl Into<String>) -> Self {
        Self::new(codes::PARSE_ERROR, message)
    }
    /// -32600.
    pub fn invalid_request(message: impl Into<String>) -> Self {
        Self::new(codes::INVALID_REQUEST, message)
    }
    /// -32601, naming the method.
    pub fn method_not_found(method: &str) -> Self {
        Self::new(codes::METHOD_NOT_FOUND, format!("Method not found: {method}"))
    }
    /// -32602.
    pub fn invalid_params(message: impl Into<String>) -> Self {
        Self::new(codes::INVALID_PARAMS, message)
    }
    /// -32603.
    pub fn internal(message: impl Into<String>) -> Self {
        Self::new(codes::INTERNAL_ERROR, message)
    }
}

/// A request: it has an id and expects a response.
#[derive(Debug, Clone, PartialEq)]
pub struct Request {
    /// The id the response must echo.
    pub id: RequestId,
    /// The method name.
    pub method: String,
    /// The params object, if any.
    pub params: Option<Map<String, Value>>,
}

/// A notification: no id, no response.
#[derive(Debug, Clone, PartialEq)]
pub struct Notification {
    /// The method name.
    pub method: String,
    /// The params object, if any.
    pub params: Option<Map<String, Value>>,
}

/// A response: either a result or an error, for one id.
#[derive(Debug, Clone, PartialEq)]
pub struct Response {
    /// The id of the request this answers; `None` only when the request's id was unreadable.
    pub id: Option<RequestId>,
    /// The outcome.
    pub outcome: Result<Value, ErrorObject>,
}

impl Response {
    /// Appends the compact JSON of this response to `out`.
    pub fn write_to(&self, out: &mut Vec<u8>) {
        // Serializing these types into a Vec cannot fail: keys are strings and values are JSON.
        let _ = match self {
            Response { id: Some(id), outcome: Ok(result) } => {
                serde_json::to_writer(&mut *out, &WireResult { jsonrpc: "2.0", id, result })
            }
            Response { id, outcome: Err(error) } => {
                serde_json::to_writer(&mut *out, &WireError { jsonrpc: "2.0", id, error })
            }
            Response { id: None, outcome: Ok(_) } => serde_json::to_writer(
                &mut *out,
                &WireError { jsonrpc: "2.0", id: &None, error: &ErrorObject::internal("result without id") },
            ),
        };
    }

    /// A success.
    pub fn result(id: RequestId, result: Value) -> Self {
        Self { id: Some(id), outcome: Ok(result) }
    }
    /// A failure.
    pub fn error(id: Option<RequestId>, error: ErrorObject) -> Self {
        Self { id, outcome: Err(error) }
    }
}

/// Any JSON-RPC message.
#[derive(Debug, Clone, PartialEq)]
pub enum Message {
    /// A request.
    Request(Request),
    /// A notification.
    Notification(Notification),
    /// A response.
    Response(Response),
}

/// Why an incoming text could not be taken as a message, with the response to send back.
#[derive(Debug, Clone, PartialEq)]
pub struct Rejection {
    /// The request id, when it could be read (so the error can be correlated).
    pub id: Option<RequestId>,
    /// The error to answer with.
    pub error: ErrorObject,
}

impl Rejection {
    fn new(id: Option<RequestId>, error: ErrorObject) -> Self {
        Self { id, error }
    }

    /// Refuses an invalid request: `Invalid Request: {why}`.
    fn invalid(id: Option<RequestId>, why: impl std::fmt::Display) -> Self {
        Self::new(id, ErrorObject::invalid_request(format!("Invalid Request: {why}")))
    }
    /// The error response to send for this rejection.
    pub fn into_response(self) -> Response {
        Response::error(self.id, self.error)
    }
}

/// Parses one JSON-RPC message from bytes, validating it strictly.
pub fn parse_message(bytes: &[u8]) -> Result<Message, Rejection> {
    let value: Value = serde_json::from_slice(bytes)
        .map_err(|e| Rejection::new(None, ErrorObject::parse_error(format!("Parse error: invalid JSON: {e}"))))?;
    message_from_value(value)
}

fn read_id(value: &Value) -> Result<RequestId, String> {
    match value {
        Value::String(s) => Ok(RequestId::String(s.as_str().into())),
        Value::Number(n) => n
            .as_i64()
            .map(RequestId::Number)
            .ok_or_else(|| format!("`id` must be a string or an integer, got the number {n}")),
        Value::Null => Err("`id` must be a string or an integer, not null".into()),
        other => Err(format!("`id` must be a string or an integer, got {}", kind(other))),
    }
}

/// The JSON kind of a value, for error messages.
pub fn kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// Whether a message's members make it an error response (and nothing else).
fn is_error_response(obj: &Map<String, Value>) -> bool {
    obj.contains_key("error") && !obj.contains_key("result") && !obj.contains_key("method")
}

/// Validates an already-parsed JSON value as a JSON-RPC message.
pub fn message_from_value(value: Value) -> Result<Message, Rejection> {
    let mut obj = match value {
        Value::Object(obj) => obj,
        Value::Array(_) => {
            return Err(Rejection::invalid(
                None,
                "JSON-RPC batches are not supported by MCP; send one message per line or POST",
            ));
        }
        other => {
            return Err(Rejection::invalid(None, format!("a message must be a JSON object, got {}", kind(&other))));
        }
    };
    // Read the id first so that every later error can be correlated with the request.
    let id = match obj.remove("id") {
        None => None,
        // `null` is the id of an error answering a message whose id could not be read
        // (JSON-RPC 2.0, 5.1): this crate writes it so, and must read it back.
        Some(Value::Null) if is_error_response(&obj) => None,
        Some(raw) => match read_id(&raw) {
            Ok(id) => Some(id),
            Err(msg) => {
                return Err(Rejection::invalid(None, msg));
            }
        },
    };
    match obj.get("jsonrpc") {
        Some(Value::String(v)) if v == "2.0" => {}
        Some(other) => {
            return Err(Rejection::invalid(id, format!("`jsonrpc` must be \"2.0\", got {other}")));
        }
        None => {
            return Err(Rejection::invalid(id, "missing `jsonrpc` member (must be \"2.0\")"));
        }
    }
    if let Some(method) = obj.remove("method") {
        let method = match method {
            Value::String(m) => m,
            other => {
                return Err(Rejection::invalid(id, format!("`method` must be a string, got {}", kind(&other))));
            }
        };
        let params = match obj.remove("params") {
            None | Some(Value::Null) => None,
            Some(Value::Object(p)) => Some(p),
            Some(other) => {
                return Err(Rejection::new(
                    id,
                    ErrorObject::invalid_params(format!(
                        "Invalid params: `params` of {method} must be an object, got {}",
                        kind(&other)
                    )),
                ));
            }
        };
        return Ok(match id {
            Some(id) => Message::Request(Request { id, method, params }),
            None => Message::Notification(Notification { method, params }),
        });
    }
    let has_result = obj.contains_key("result");
    let has_error = obj.contains_key("error");
    match (has_result, has_error) {
        (true, false) => {
            let Some(id) = id else {
                return Err(Rejection::invalid(None, "a result response needs an `id`"));
            };
            let result = obj.remove("result").unwrap_or(Value::Null);
            Ok(Message::Response(Response::result(id, result)))
        }
        (false, true) => {
            let raw = obj.remove("error").unwrap_or(Value::Null);
            let error: ErrorObject = serde_json::from_value(raw)
                .map_err(|e| Rejection::invalid(id.clone(), format!("malformed `error` member: {e}")))?;
            Ok(Message::Response(Response::error(id, error)))
        }
        (true, true) => Err(Rejection::invalid(id, "a response must not carry both `result` and `error`")),
        (false, false) => Err(Rejection::invalid(
            id,
            "a message needs `method` (request or notification) or `result`/`error` (response)",
        )),
    }
}

#[derive(Serialize)]
struct WireRequest<'a> {
    jsonrpc: &'static str,
    id: &'a RequestId,
    method: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    params: Option<&'a Map<String, Value>>,
}

#[derive(Serialize)]
struct WireNotification<'a> {
    jsonrpc: &'static str,
    method: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    params: Option<&'a Map<String, Value>>,
}

#[derive(Serialize)]
struct WireResult<'a> {
    jsonrpc: &'static str,
    id: &'a RequestId,
    result: &'a Value,
}

#[derive(Serialize)]
struct WireError<'a> {
    jsonrpc: &'static str,
    id: &'a Option<RequestId>,
    error: &'a ErrorObject,
}

impl Message {
    /// Serializes the message as compact JSON (no newlines, so it is a valid stdio line).
    pub fn to_vec(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(128);
        self.write_to(&mut out);
        out
    }

    /// Appends the compact JSON of this message to `out`.
    pub fn write_to(&self, out: &mut Vec<u8>) {
        // Serializing these types into a Vec cannot fail: keys are strings and values are JSON.
        let _ = match self {
            Message::Request(r) => serde_json::to_writer(
                &mut *out,
                &WireRequest { jsonrpc: "2.0", id: &r.id, method: &r.method, params: r.params.as_ref() },
            ),
            Message::Notification(n) => serde_json::to_writer(
                &mut *out,
                &WireNotification { jsonrpc: "2.0", method: &n.method, params: n.params.as_ref() },
            ),
            Message::Response(r) => {
                r.write_to(out);
                Ok(())
            }
        };
    }

    /// The message as a JSON value.
    pub fn to_value(&self) -> Value {
        serde_json::from_slice(&self.to_vec()).unwrap_or(Value::Null)
    }
}

impl From<Response> for Message {
    fn from(r: Response) -> Self {
        Message::Response(r)
    }
}

impl From<Notification> for Message {
    fn from(n: Notification) -> Self {
        Message::Notification(n)
    }
}

impl From<Request> for Message {
    fn from(r: Request) -> Self {
        Message::Request(r)
    }
}

impl Notification {
    /// A notification with params built from a JSON value (an object, or null for none).
    pub fn new(method: impl Into<String>, params: Value) -> Self {
        let params = match params {
            Value::Object(m) => Some(m),
            _ => None,
        };
        Self { method: method.into(), params }
    }
}

impl Request {
    /// A request with params built from a JSON value (an object, or null for none).
    pub fn new(id: RequestId, method: impl Into<String>, params: Value) -> Self {
        let params = match params {
            Value::Object(m) => Some(m),
            _ => None,
        };
        Self { id, method: method.into(), params }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn parse(v: Value) -> Result<Message, Rejection> {
        parse_message(v.to_string().as_bytes())
    }

    #[test]
    fn requests_notifications_and_responses_are_told_apart() {
        let m = parse(json!({"jsonrpc":"2.0","id":1,"method":"ping"})).expect("request");
        assert!(matches!(m, Message::Request(Request { id: RequestId::Number(1), .. })));
        let m = parse(json!({"jsonrpc":"2.0","method":"notifications/initialized"})).expect("notification");
        assert!(matches!(m, Message::Notification(_)));
        let m = parse(json!({"jsonrpc":"2.0","id":"a","result":{}})).expect("response");
        assert!(matches!(m, Message::Response(Response { outcome: Ok(_), .. })));
        let m = parse(json!({"jsonrpc":"2.0","id":"a","error":{"code":-32601,"message":"x"}})).expect("error");
        assert!(matches!(m, Message::Response(Response { outcome: Err(ErrorObject { code: -32601, .. }), .. })));
    }

    #[test]
    fn malformed_input_gets_precise_errors() {
        let r = parse_message(b"{not json").expect_err("parse error");
        assert_eq!(r.error.code, codes::PARSE_ERROR);
        let r = parse(json!({"jsonrpc":"1.0","id":7,"method":"ping"})).expect_err("wrong version");
        assert_eq!(r.error.code, codes::INVALID_REQUEST);
        assert_eq!(r.id, Some(RequestId::Number(7)));
        assert!(r.error.message.contains("\"2.0\""));
        let r = parse(json!({"jsonrpc":"2.0","id":null,"method":"ping"})).expect_err("null id");
        assert!(r.error.message.contains("not null"));
        let r = parse(json!({"jsonrpc":"2.0","id":1.5,"method":"ping"})).expect_err("float id");
        assert!(r.error.message.contains("integer"));
        let r = parse(json!({"jsonrpc":"2.0","id":1,"method":"x","params":[1]})).expect_err("array params");
        assert_eq!(r.error.code, codes::INVALID_PARAMS);
        let r = parse(json!([{"jsonrpc":"2.0","id":1,"method":"ping"}])).expect_err("batch");
        assert!(r.error.message.contains("batches"));
        let r = parse(json!({"jsonrpc":"2.0","id":1,"method":5})).expect_err("method type");
        assert!(r.error.message.contains("`method` must be a string"));
    }

    #[test]
    fn serialization_round_trips() {
        let msgs = vec![
            Message::Request(Request::new(RequestId::from("x"), "tools/call", json!({"name":"a"}))),
            Message::Notification(Notification::new("notifications/progress", json!({"progress":1}))),
            Message::Response(Response::result(RequestId::Number(3), json!({"resultType":"complete"}))),
            Message::Response(Response::error(None, ErrorObject::parse_error("bad"))),
        ];
        for m in msgs {
            let bytes = m.to_vec();
            assert!(!bytes.contains(&b'\n'));
            if let Message::Response(Response { id: None, .. }) = m {
                let v: Value = serde_json::from_slice(&bytes).expect("json");
                assert_eq!(v["id"], Value::Null);
            }
            assert_eq!(parse_message(&bytes).expect("round trip"), m);
        }
    }

    #[test]
    fn numbers_come_back_as_they_were_read() {
        // Found by fuzz/jsonrpc_decode: without serde_json's `float_roundtrip`, a number
        // beyond u64 was read one ulp off, so writing it and reading it again changed it.
        let text =
            br#"{"jsonrpc":"2.0","id":3,"method":"m","params":{"x":184467440703709551606,"y":0.30000000000000004}}"#;
        let message = parse_message(text).expect("a request");
        assert_eq!(parse_message(&message.to_vec()).expect("written out"), message);
    }

    #[test]
    fn a_null_id_is_read_on_error_responses_only() {
        // Found by fuzz/jsonrpc_decode: an error without an id was read, but the same error
        // written out (`"id": null`, as servers answer unreadable requests) was refused.
        let m = parse(json!({"jsonrpc":"2.0","id":null,"error":{"code":-32700,"message":"Parse error"}}));
        assert!(matches!(m, Ok(Message::Response(Response { id: None, outcome: Err(_) }))), "{m:?}");
        for refused in [
            json!({"jsonrpc":"2.0","id":null,"method":"ping"}),
            json!({"jsonrpc":"2.0","id":null,"result":{}}),
            json!({"jsonrpc":"2.0","id":null,"result":{},"error":{"code":1,"message":"x"}}),
        ] {
            let r = parse(refused.clone()).expect_err("a null id");
            assert!(r.error.message.contains("not null"), "{refused}: {}", r.error.message);
        }
    }
}
