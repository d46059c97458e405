//! What an HTTP endpoint answers when it refuses a request before any handler runs: a
//! JSON-RPC error as the body, with the HTTP status that says why. Shared by `/mcp`, the
//! `/ws` upgrade and the gate in front of both.

use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response as HttpResponse};

use crate::protocol::{ErrorObject, Message, RequestId, Response};

/// `error` (for the request `id`, when known) as a JSON body with `status`.
pub(crate) fn json_error(status: StatusCode, error: ErrorObject, id: Option<RequestId>) -> HttpResponse {
    let body = Message::Response(Response::error(id, error)).to_vec();
    (status, [(header::CONTENT_TYPE, "application/json")], body).into_response()
}
