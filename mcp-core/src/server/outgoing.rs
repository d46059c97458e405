//! What a server sends a client: messages of its own (notifications, requests for input)
//! and answers to requests. An answer is serialized once, by the transport writing it, and
//! its audit line is closed then with the size that went out: nothing walks a response
//! only to measure it.

use crate::protocol::{Message, Response};
use crate::security::audit::OpenLine;

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

    /// The item's compact JSON as text (a WebSocket text frame, an SSE event's data).
    pub fn into_text(self) -> String {
        let mut json = Vec::with_capacity(128);
        self.write_to(&mut json);
        // serde_json writes UTF-8 only: the check never fails.
        String::from_utf8(json).unwrap_or_default()
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
    pub fn write_to(mut self, out: &mut Vec<u8>) {
        let start = out.len();
        self.response.write_to(out);
        if let Some(line) = self.audit.take() {
            line.close(out.len() - start);
        }
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
