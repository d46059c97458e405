//! API errors as messages a model can act on: what was attempted (verb, resource,
//! namespace, context), what the server said, and what to do next.

use mcp_core::ToolError;
use mcp_core::server::ErrorKind;

/// The call that failed, for the message.
#[derive(Debug, Clone, Default)]
pub struct Op {
    pub verb: String,
    /// `pods`, `deployments.apps`, ...
    pub resource: String,
    pub name: Option<String>,
    pub namespace: Option<String>,
    pub context: Option<String>,
}

impl Op {
    pub fn new(verb: &str, resource: &str) -> Self {
        Self { verb: verb.into(), resource: resource.into(), ..Default::default() }
    }
    pub fn name(mut self, name: &str) -> Self {
        self.name = Some(name.into());
        self
    }
    pub fn namespace(mut self, namespace: Option<&str>) -> Self {
        self.namespace = namespace.map(str::to_string);
        self
    }
    pub fn context(mut self, context: &str) -> Self {
        self.context = Some(context.into());
        self
    }

    fn target(&self) -> String {
        let mut s = self.resource.clone();
        if let Some(n) = &self.name {
            s += &format!(" `{n}`");
        }
        if let Some(ns) = &self.namespace {
            s += &format!(" in namespace `{ns}`");
        }
        if let Some(c) = &self.context {
            s += &format!(" (context `{c}`)");
        }
        s
    }
}

/// The tool error for a failed API call, of the kind [`kind_of`] says.
pub fn api_error(e: kube::Error, op: &Op) -> ToolError {
    let message = describe(&e, op);
    match kind_of(&e) {
        ErrorKind::NotFound => ToolError::not_found(message),
        ErrorKind::Refused => ToolError::refused(message),
        ErrorKind::Unavailable => ToolError::unavailable(message),
        ErrorKind::TimedOut => ToolError::timed_out(message),
        ErrorKind::InvalidArguments => ToolError::invalid_arguments(message),
        _ => ToolError::failed(message),
    }
}

/// What kind of failure `e` is, from the API server's status code or, when no answer
/// came, from the I/O error under it (never from the message's words).
pub fn kind_of(e: &kube::Error) -> ErrorKind {
    match e {
        kube::Error::Api(status) => match status.code {
            404 => ErrorKind::NotFound,
            403 => ErrorKind::Refused,
            // Rejected credentials: the context is unusable until they are renewed.
            401 | 429 | 502 | 503 => ErrorKind::Unavailable,
            408 | 504 => ErrorKind::TimedOut,
            400 | 415 | 422 => ErrorKind::InvalidArguments,
            _ => ErrorKind::Failed,
        },
        other => {
            let io = sources(other).find_map(|s| s.downcast_ref::<std::io::Error>());
            match io.map(std::io::Error::kind) {
                Some(std::io::ErrorKind::TimedOut) => ErrorKind::TimedOut,
                Some(_) => ErrorKind::Unavailable,
                // No answer and no I/O error: the connection or the service failed.
                None if matches!(other, kube::Error::HyperError(_) | kube::Error::Service(_)) => ErrorKind::Unavailable,
                None => ErrorKind::Failed,
            }
        }
    }
}

/// `e` and its sources, outermost first.
fn sources<'a>(
    e: &'a (dyn std::error::Error + 'static),
) -> impl Iterator<Item = &'a (dyn std::error::Error + 'static)> {
    std::iter::successors(Some(e), |e| e.source())
}

/// Advice for a server-side apply conflict, naming the managers that own the fields
/// (the server words it `conflict with "NAME"` or `conflicts with "NAME"`).
fn apply_conflict(message: &str) -> String {
    let mut owners: Vec<&str> = vec![];
    for part in message.split("with \"").skip(1) {
        if let Some(name) = part.split('"').next()
            && !owners.contains(&name)
        {
            owners.push(name);
        }
    }
    let who = match owners.as_slice() {
        [] => "another field manager".to_string(),
        names => format!(
            "field manager{} {}",
            if names.len() > 1 { "s" } else { "" },
            names.iter().map(|n| format!("`{n}`")).collect::<Vec<_>>().join(", ")
        ),
    };
    format!("{who} owns fields this apply changes: set `force: true` to take them over, or leave them out")
}

/// A readable account of `e` while doing `op`.
pub fn describe(e: &kube::Error, op: &Op) -> String {
    match e {
        kube::Error::Api(status) => {
            let message = status.message.trim();
            let advice = match status.code {
                401 => "the context's credentials were rejected (expired token or certificate?)".to_string(),
                403 => format!(
                    "forbidden by RBAC: the context's user may not `{}` {}. Ask for that permission or use a context that has it",
                    op.verb, op.resource
                ),
                404 => "not found: check the name and namespace (resources_list shows what exists)".into(),
                409 if status.reason == "AlreadyExists" => {
                    "it already exists: use resources_apply to change it, or another name".into()
                }
                409 if message.starts_with("Apply failed with") => apply_conflict(message),
                409 => "conflict: the object changed since it was read (resourceVersion); read it again and retry".into(),
                410 => "the continue token expired: list again from the start".into(),
                400 if message.contains("illegal base64") => {
                    "a Secret's `data` values must be base64-encoded; put plain text under `stringData` instead".into()
                }
                400 if message.contains("field not declared in schema") || message.contains("unknown field") => {
                    "the object has a field its kind does not declare (a typo?): explain_resource lists the fields".into()
                }
                415 => "the server does not accept this patch type here (strategic merge works only on built-in kinds; use merge or json)".into(),
                422 => "invalid: the server rejected the object's content".into(),
                429 => "the API server is throttling requests: retry shortly".into(),
                503 => "the API server (or the aggregated API behind this group) is unavailable".into(),
                _ => String::new(),
            };
            let mut out = format!("{} {} failed: HTTP {}", op.verb, op.target(), status.code);
            if !status.reason.is_empty() {
                out += &format!(" {}", status.reason);
            }
            if !advice.is_empty() {
                out += &format!(": {advice}");
            }
            if !message.is_empty() {
                out += &format!(". Server said: {}", crate::output::clip(message, 1500));
            }
            if let Some(details) = &status.details {
                let causes: Vec<String> = details
                    .causes
                    .iter()
                    .map(|c| format!("{}: {}", c.field, c.message))
                    .filter(|s| s != ": ")
                    .take(10)
                    .collect();
                if !causes.is_empty() {
                    out += &format!(" [{}]", causes.join("; "));
                }
            }
            out
        }
        other => {
            let chain = error_chain(other);
            if matches!(kind_of(other), ErrorKind::Unavailable | ErrorKind::TimedOut) {
                format!(
                    "cannot reach the API server for {} {}: {chain}. Check that the cluster is up and the context's \
                     server address is right; the next call tries again",
                    op.verb,
                    op.target()
                )
            } else {
                format!("{} {} failed: {chain}", op.verb, op.target())
            }
        }
    }
}

/// An error with its sources, outermost first, repeated texts removed.
fn error_chain(e: &dyn std::error::Error) -> String {
    let mut parts: Vec<String> = vec![e.to_string()];
    let mut source = e.source();
    while let Some(s) = source {
        let text = s.to_string();
        if !parts.iter().any(|p| p.contains(&text)) {
            parts.push(text);
        }
        source = s.source();
    }
    parts.join(": ")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn status(code: u16) -> kube::Error {
        let status = serde_json::from_value(serde_json::json!({"code": code, "message": "m"})).expect("a Status");
        kube::Error::Api(Box::new(status))
    }

    #[test]
    fn status_codes_and_io_errors_map_to_kinds() {
        let cases = [
            (404, ErrorKind::NotFound),
            (403, ErrorKind::Refused),
            (401, ErrorKind::Unavailable),
            (503, ErrorKind::Unavailable),
            (504, ErrorKind::TimedOut),
            (422, ErrorKind::InvalidArguments),
            (400, ErrorKind::InvalidArguments),
            (409, ErrorKind::Failed),
            (410, ErrorKind::Failed),
            (500, ErrorKind::Failed),
        ];
        for (code, kind) in cases {
            assert_eq!(kind_of(&status(code)), kind, "HTTP {code}");
            assert_eq!(api_error(status(code), &Op::new("get", "pods")).kind(), kind, "HTTP {code}");
        }
        let io = |k: std::io::ErrorKind| kube::Error::Service(Box::new(std::io::Error::from(k)));
        assert_eq!(kind_of(&io(std::io::ErrorKind::TimedOut)), ErrorKind::TimedOut);
        assert_eq!(kind_of(&io(std::io::ErrorKind::ConnectionRefused)), ErrorKind::Unavailable);
        let refused = api_error(io(std::io::ErrorKind::ConnectionRefused), &Op::new("list", "pods"));
        assert!(refused.to_string().contains("cannot reach the API server"), "{refused}");
        let json = serde_json::from_str::<serde_json::Value>("{").expect_err("bad json");
        assert_eq!(kind_of(&kube::Error::SerdeError(json)), ErrorKind::Failed);
    }

    #[test]
    fn apply_conflicts_name_their_managers() {
        let one = apply_conflict("Apply failed with 1 conflict: conflict with \"helm\" using v1: .data.mode");
        assert!(one.starts_with("field manager `helm` owns") && one.contains("force: true"), "{one}");
        let two = apply_conflict(
            "Apply failed with 2 conflicts: conflicts with \"a\" using v1:\n- .x\nconflicts with \"b\" using v1:\n- .y",
        );
        assert!(two.starts_with("field managers `a`, `b` own"), "{two}");
    }
}
