//! What a server sends a client: messages of its own (notifications, requests for input)
//! and answers to requests. An answer is serialized once, by the transport writing it, and
//! its audit line is closed then with the size that went out: nothing walks a response
//! only to measure it.

use crate::protocol::{Message, Response};
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
}

impl Answer {
    pub(crate) fn new(response: Response, audit: Option<OpenLine>) -> Self {
        Self { response, audit }
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
        if let Some(line) = self.audit.take() {
            let mut json = Vec::new();
            self.response.write_to(&mut json);
            line.close(json.len());
        }
        self.response
    }
}

/// serde_json writes UTF-8 only: the check never fails.
fn text(json: Vec<u8>) -> String {
    String::from_utf8(json).unwrap_or_default()
}
