//! API errors as messages a model can act on: what was attempted (verb, resource,
//! namespace, context), what the server said, and what to do next.

use mcp_core::ToolError;

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

/// The tool error for a failed API call.
pub fn api_error(e: kube::Error, op: &Op) -> ToolError {
    ToolError::failed(describe(&e, op))
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
                409 if message.contains("conflict") && message.contains("field") => {
                    "another field manager owns these fields: set `force: true` to take them over, or leave them out".into()
                }
                409 => "conflict: the object changed since it was read (resourceVersion); read it again and retry".into(),
                410 => "the continue token expired: list again from the start".into(),
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
            let unreachable = matches!(other, kube::Error::HyperError(_) | kube::Error::Service(_))
                || chain.contains("onnect")
                || chain.contains("timed out");
            if unreachable {
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
