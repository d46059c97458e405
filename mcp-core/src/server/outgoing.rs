//! What a server sends a client: messages of its own (notifications, requests for input)
//! and answers to requests. An answer is serialized once, by the transport writing it, and
//! its audit line is closed then with the size that went out: nothing walks a response
//! only to measure it.

use serde_json::Value;

use crate::protocol::{JsonText, Message, Response};
use crate::security::audit::{HeldLines, OpenLine};

/// One item for a client's connection, in the order it must go out.
#[derive(Debug)]
pub enum Outgoing {
    /// A notification or a request of the server's.
    Message(Message),
    /// The answer to one of the client's requests.
    Answer(Answer),
}

impl Outgoing {
    /// Appends the item's compact JSON to `out` (no newline).
    pub fn write_to(self, out: &mut Vec<u8>) {
        match self {
            Outgoing::Message(message) => message.write_to(out),
            Outgoing::Answer(answer) => answer.write_to(out),
        }
    }

    /// Like [`write_to`](Self::write_to), but an answer's audit line joins `held`, to be
    /// queued once the transport has written the batch it is part of.
    pub fn write_holding_line(self, out: &mut Vec<u8>, held: &mut HeldLines) {
        match self {
            Outgoing::Message(message) => message.write_to(out),
            Outgoing::Answer(answer) => answer.write_holding_line(out, held),
        }
    }

    /// The item's compact JSON as text (a WebSocket text frame, an SSE event's data).
    pub fn into_text(self) -> String {
        let mut json = Vec::with_capacity(128);
        self.write_to(&mut json);
        text(json)
    }

    /// Like [`into_text`](Self::into_text), but an answer's audit line joins `held`.
    pub fn into_text_holding_line(self, held: &mut HeldLines) -> String {
        let mut json = Vec::with_capacity(128);
        self.write_holding_line(&mut json, held);
        text(json)
    }

    /// Whether this is a notification with method `method`.
    pub(crate) fn is_notification(&self, method: &str) -> bool {
        matches!(self, Outgoing::Message(Message::Notification(n)) if n.method == method)
    }
}

impl From<Message> for Outgoing {
    fn from(message: Message) -> Self {
        Outgoing::Message(message)
    }
}

/// A request's response, with the request's audit line (if the server keeps a trail) still
/// open for the number of bytes the response takes on the wire.
#[derive(Debug)]
pub struct Answer {
    response: Response,
    audit: Option<OpenLine>,
    /// The result's `structuredContent`, as JSON text, written into it on the way out.
    structured_json: Option<JsonText>,
}

/// A request's result on its way to an [`Answer`]: the tree, and the structured content
/// a tool gave as JSON text (see [`JsonText`]).
#[derive(Debug, PartialEq)]
pub(crate) struct Reply {
    pub result: Value,
    pub structured_json: Option<JsonText>,
}

impl From<Value> for Reply {
    fn from(result: Value) -> Self {
        Self { result, structured_json: None }
    }
}

impl Answer {
    pub(crate) fn new(response: Response, audit: Option<OpenLine>) -> Self {
        Self { response, audit, structured_json: None }
    }

    /// An answer whose result takes `structured_json` as its `structuredContent`.
    pub(crate) fn with_structured_json(mut self, structured_json: Option<JsonText>) -> Self {
        self.structured_json = structured_json;
        self
    }

    /// The response.
    pub fn response(&self) -> &Response {
        &self.response
    }

    /// Appends the response's compact JSON to `out` and closes its audit line.
    pub fn write_to(self, out: &mut Vec<u8>) {
        if let (Some(line), bytes_out) = self.write_line_open(out) {
            line.close(bytes_out);
        }
    }

    /// Appends the response's compact JSON to `out`; its audit line joins `held`.
    pub fn write_holding_line(self, out: &mut Vec<u8>, held: &mut HeldLines) {
        if let (Some(line), bytes_out) = self.write_line_open(out) {
            held.hold(line, bytes_out);
        }
    }

    /// Appends the response's compact JSON to `out`: its audit line, still open, and the
    /// bytes written.
    fn write_line_open(mut self, out: &mut Vec<u8>) -> (Option<OpenLine>, usize) {
        let start = out.len();
        self.response.write_to(out);
        if let (Some(json), Some(_), Ok(Value::Object(result))) =
            (&self.structured_json, &self.response.id, &self.response.outcome)
            && !result.is_empty()
        {
            splice_structured(out, json);
        }
        (self.audit.take(), out.len() - start)
    }

    /// The response's compact JSON.
    pub fn into_bytes(self) -> Vec<u8> {
        let mut out = Vec::with_capacity(128);
        self.write_to(&mut out);
        out
    }

    /// The response, for callers that do not send it as JSON themselves (tests, in-process
    /// embeddings): its audit line is closed with the size its JSON would take.
    pub fn into_response(mut self) -> Response {
        if let (Some(json), Ok(Value::Object(result))) = (self.structured_json.take(), &mut self.response.outcome) {
            result.insert("structuredContent".into(), json.to_value());
        }
        if let Some(line) = self.audit.take() {
            let mut json = Vec::new();
            self.response.write_to(&mut json);
            line.close(json.len());
        }
        self.response
    }
}

/// Writes `json` as the `structuredContent` of the result just written at the end of
/// `out`: `{"jsonrpc":..,"id":..,"result":{..}}`, the result last and not empty, so the
/// member goes before its two closing braces.
fn splice_structured(out: &mut Vec<u8>, json: &JsonText) {
    debug_assert!(out.ends_with(b"}}"));
    out.truncate(out.len() - 2);
    out.extend_from_slice(b",\"structuredContent\":");
    out.extend_from_slice(json.get().as_bytes());
    out.extend_from_slice(b"}}");
}

/// serde_json writes UTF-8 only: the check never fails.
fn text(json: Vec<u8>) -> String {
    String::from_utf8(json).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::protocol::{ErrorObject, RequestId};

    fn json_text(s: &str) -> Option<JsonText> {
        Some(JsonText::new(s.into()).expect("json"))
    }

    #[test]
    fn structured_json_is_written_into_the_result_and_kept_for_in_process_callers() {
        let doc = r#"{"Id":"a\"b","N":[1,{"x":null}]}"#;
        let result = json!({"content": [{"type": "text", "text": doc}], "resultType": "complete"});
        let answer = || Answer::new(Response::result(RequestId::Number(7), result.clone()), None);
        let wire: Value = serde_json::from_slice(&answer().with_structured_json(json_text(doc)).into_bytes())
            .expect("one JSON message");
        let mut expected = result.clone();
        expected["structuredContent"] = serde_json::from_str(doc).expect("json");
        assert_eq!(wire, json!({"jsonrpc": "2.0", "id": 7, "result": expected}));
        let response = answer().with_structured_json(json_text(doc)).into_response();
        assert_eq!(response.outcome.ok(), Some(expected));
    }

    #[test]
    fn structured_json_never_goes_into_an_error_or_an_empty_result() {
        let error = Answer::new(Response::error(Some(RequestId::Number(1)), ErrorObject::internal("x")), None);
        let plain = Answer::new(Response::error(Some(RequestId::Number(1)), ErrorObject::internal("x")), None);
        assert_eq!(error.with_structured_json(json_text("{}")).into_bytes(), plain.into_bytes());
        let empty = Answer::new(Response::result(RequestId::Number(2), json!({})), None);
        assert_eq!(
            empty.with_structured_json(json_text("[1]")).into_bytes(),
            br#"{"jsonrpc":"2.0","id":2,"result":{}}"#
        );
    }
}
