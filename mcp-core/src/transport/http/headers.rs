//! What a request's headers must say: content negotiation (`Accept`, `Content-Type`) and,
//! in the stateless era, the `Mcp-Method`, `Mcp-Name` and `Mcp-Param-*` headers that mirror
//! the body.

use axum::http::{HeaderMap, StatusCode};
use axum::response::Response as HttpResponse;
use serde_json::Value;

use crate::protocol::codes;
use crate::protocol::headers::{self as mirror, HeaderParam};
use crate::protocol::{ErrorObject, Request};
use crate::server::Server;
use crate::transport::reply::json_error;

pub(super) fn header_str<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers.get(name).and_then(|v| v.to_str().ok()).map(str::trim)
}

pub(super) fn mismatch(message: String, id: Option<crate::protocol::RequestId>) -> HttpResponse {
    json_error(StatusCode::BAD_REQUEST, ErrorObject::new(codes::HEADER_MISMATCH, message), id)
}

/// Checks that the stateless request's headers mirror its body.
pub(super) fn validate_stateless_headers(
    server: &Server,
    headers: &HeaderMap,
    req: &Request,
) -> Result<(), HttpResponse> {
    let id = Some(req.id.clone());
    match header_str(headers, "mcp-method") {
        None => return Err(mismatch("Header mismatch: missing Mcp-Method header".into(), id)),
        Some(m) if m != req.method => {
            return Err(mismatch(
                format!("Header mismatch: Mcp-Method header value '{m}' does not match body value '{}'", req.method),
                id,
            ));
        }
        Some(_) => {}
    }
    let params = req.params.as_ref();
    let name_field = match req.method.as_str() {
        "tools/call" | "prompts/get" => Some("name"),
        "resources/read" => Some("uri"),
        _ => None,
    };
    if let Some(field) = name_field {
        let body_name = params.and_then(|p| p.get(field)).and_then(Value::as_str);
        match (header_str(headers, "mcp-name"), body_name) {
            (None, _) => return Err(mismatch("Header mismatch: missing Mcp-Name header".into(), id)),
            (Some(raw), body) => {
                let decoded = mirror::decode_value(raw).ok_or_else(|| {
                    mismatch(format!("Header mismatch: Mcp-Name header value '{raw}' is not valid base64"), id.clone())
                })?;
                if Some(decoded.as_str()) != body {
                    return Err(mismatch(
                        format!(
                            "Header mismatch: Mcp-Name header value '{decoded}' does not match body value '{}'",
                            body.unwrap_or("")
                        ),
                        id,
                    ));
                }
            }
        }
    }
    if req.method == "tools/call" {
        validate_param_headers(server, headers, req)?;
    }
    Ok(())
}

/// `x-mcp-header` parameters: each annotated argument present in the body must be mirrored
/// in its `Mcp-Param-{Name}` header, with the same value.
fn validate_param_headers(server: &Server, headers: &HeaderMap, req: &Request) -> Result<(), HttpResponse> {
    let params = req.params.as_ref();
    let Some(name) = params.and_then(|p| p.get("name")).and_then(Value::as_str) else { return Ok(()) };
    let tools = server.inner.tools.snapshot();
    let Some(route) = tools.get(name) else { return Ok(()) };
    let args = params.and_then(|p| p.get("arguments"));
    let id = Some(req.id.clone());
    for HeaderParam { path, name: header_name } in mirror::header_params(&route.tool.input_schema) {
        let mut value = args;
        for key in &path {
            value = value.and_then(|v| v.get(key));
        }
        let body_value = match value {
            None | Some(Value::Null) => None,
            Some(Value::String(s)) => Some(s.clone()),
            Some(Value::Bool(b)) => Some(b.to_string()),
            Some(Value::Number(n)) => Some(n.to_string()),
            Some(other) => Some(other.to_string()),
        };
        let header = format!("mcp-param-{}", header_name.to_ascii_lowercase());
        let raw = header_str(headers, &header);
        if headers.get(&header).is_some() && raw.is_none() {
            return Err(mismatch(format!("Header mismatch: Mcp-Param-{header_name} contains invalid characters"), id));
        }
        match (raw, body_value) {
            (None, None) => {}
            (None, Some(_)) => {
                return Err(mismatch(
                    format!(
                        "Header mismatch: missing Mcp-Param-{header_name} header for argument '{}'",
                        path.join(".")
                    ),
                    id,
                ));
            }
            (Some(_), None) => {}
            (Some(raw), Some(body)) => {
                let decoded = mirror::decode_value(raw).ok_or_else(|| {
                    mismatch(format!("Header mismatch: Mcp-Param-{header_name} is not valid base64"), id.clone())
                })?;
                let equal = decoded == body
                    || matches!((decoded.parse::<f64>(), body.parse::<f64>()), (Ok(a), Ok(b)) if a == b);
                if !equal {
                    return Err(mismatch(
                        format!(
                            "Header mismatch: Mcp-Param-{header_name} header value '{decoded}' does not match body value '{body}'"
                        ),
                        id,
                    ));
                }
            }
        }
    }
    Ok(())
}

pub(super) fn accepts(headers: &HeaderMap, post: bool) -> bool {
    let accept = header_str(headers, "accept").unwrap_or("");
    if accept.is_empty() {
        // Many simple clients omit Accept; serving them JSON is harmless.
        return true;
    }
    let has = |t: &str| {
        accept.split(',').any(|p| {
            let p = p.split(';').next().unwrap_or("").trim();
            p == t || p == "*/*"
        })
    };
    if post { has("application/json") && has("text/event-stream") } else { has("text/event-stream") }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::server::{Context, ToolError, tool};

    fn headers(pairs: &[(&str, &str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.append(
                axum::http::HeaderName::from_bytes(name.as_bytes()).expect("name"),
                value.parse().expect("value"),
            );
        }
        map
    }

    fn request(method: &str, params: Value) -> Request {
        Request::new(crate::protocol::RequestId::Number(7), method, params)
    }

    /// A server with one tool whose `region` and `priority` arguments are mirrored in headers.
    fn server() -> Server {
        async fn run(_: Context, _: Value) -> Result<String, ToolError> {
            Ok(String::new())
        }
        let schema = json!({"type": "object", "properties": {
            "region": {"type": "string", "x-mcp-header": "Region"},
            "priority": {"type": "integer", "x-mcp-header": "Priority"},
            "query": {"type": "string"}}});
        Server::builder("t", "1").tool(tool("deploy", run).input_schema(schema)).build()
    }

    /// The JSON-RPC error code and message of a refusal.
    fn refusal(result: Result<(), HttpResponse>) -> (StatusCode, i64, String) {
        let response = result.expect_err("refused");
        let status = response.status();
        let body = futures::executor::block_on(axum::body::to_bytes(response.into_body(), 1 << 20)).expect("body");
        let body: Value = serde_json::from_slice(&body).expect("json");
        let message = body["error"]["message"].as_str().unwrap_or_default().to_owned();
        (status, body["error"]["code"].as_i64().unwrap_or_default(), message)
    }

    #[test]
    fn a_post_must_accept_json_and_an_event_stream_a_get_an_event_stream() {
        for (accept, post, get) in [
            ("application/json, text/event-stream", true, true),
            ("text/event-stream;q=0.9, application/json;q=1", true, true),
            ("*/*", true, true),
            ("application/json", false, false),
            ("text/event-stream", false, true),
            ("text/html", false, false),
            // application/json-seq is not application/json.
            ("application/json-seq, text/event-stream", false, true),
        ] {
            let h = headers(&[("accept", accept)]);
            assert_eq!((accepts(&h, true), accepts(&h, false)), (post, get), "Accept: {accept}");
        }
        // Many simple clients send no Accept at all: they get JSON.
        assert!(accepts(&HeaderMap::new(), true) && accepts(&HeaderMap::new(), false));
    }

    #[test]
    fn the_method_and_name_headers_must_mirror_the_body() {
        let server = server();
        let call = request("tools/call", json!({"name": "deploy", "arguments": {}}));
        let ok = headers(&[("mcp-method", "tools/call"), ("mcp-name", "deploy")]);
        assert!(validate_stateless_headers(&server, &ok, &call).is_ok());
        for (pairs, expected) in [
            (vec![("mcp-name", "deploy")], "missing Mcp-Method header"),
            (vec![("mcp-method", "tools/list"), ("mcp-name", "deploy")], "Mcp-Method header value 'tools/list'"),
            (vec![("mcp-method", "tools/call")], "missing Mcp-Name header"),
            (vec![("mcp-method", "tools/call"), ("mcp-name", "other")], "Mcp-Name header value 'other'"),
            (vec![("mcp-method", "tools/call"), ("mcp-name", "=?base64?%%%?=")], "is not valid base64"),
        ] {
            let (status, code, message) = refusal(validate_stateless_headers(&server, &headers(&pairs), &call));
            assert_eq!((status, code), (StatusCode::BAD_REQUEST, i64::from(codes::HEADER_MISMATCH)), "{pairs:?}");
            assert!(message.contains(expected), "{pairs:?}: {message}");
        }
        // A resource is named by its URI, Base64-encoded when it is not plain ASCII.
        let read = request("resources/read", json!({"uri": "file:///café"}));
        let encoded = mirror::encode_value("file:///café");
        let h = headers(&[("mcp-method", "resources/read"), ("mcp-name", &encoded)]);
        assert!(validate_stateless_headers(&server, &h, &read).is_ok(), "{encoded}");
        // Methods without a target need no Mcp-Name.
        let list = request("tools/list", json!({}));
        assert!(validate_stateless_headers(&server, &headers(&[("mcp-method", "tools/list")]), &list).is_ok());
    }

    #[test]
    fn annotated_arguments_must_be_mirrored_in_their_param_headers() {
        let server = server();
        let call = |args: Value| request("tools/call", json!({"name": "deploy", "arguments": args}));
        let base = [("mcp-method", "tools/call"), ("mcp-name", "deploy")];
        let with = |extra: &[(&str, &str)]| headers(&[&base[..], extra].concat());
        let args = json!({"region": "eu-west", "priority": 3, "query": "unmirrored"});
        let mirrored = with(&[("mcp-param-region", "eu-west"), ("mcp-param-priority", "3.0")]);
        assert!(validate_stateless_headers(&server, &mirrored, &call(args.clone())).is_ok(), "3.0 is the number 3");
        // An absent argument needs no header.
        assert!(validate_stateless_headers(&server, &with(&[]), &call(json!({"query": "q"}))).is_ok());
        for (extra, expected) in [
            (vec![("mcp-param-priority", "3")], "missing Mcp-Param-Region header for argument 'region'"),
            (
                vec![("mcp-param-region", "us-east"), ("mcp-param-priority", "3")],
                "Mcp-Param-Region header value 'us-east' does not match body value 'eu-west'",
            ),
            (vec![("mcp-param-region", "eu-west"), ("mcp-param-priority", "4")], "Mcp-Param-Priority header value"),
        ] {
            let (_, code, message) = refusal(validate_stateless_headers(&server, &with(&extra), &call(args.clone())));
            assert_eq!(code, i64::from(codes::HEADER_MISMATCH), "{extra:?}");
            assert!(message.contains(expected), "{extra:?}: {message}");
        }
    }
}
