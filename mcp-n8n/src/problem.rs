//! A problem validation found: how bad, which node, what to do.

use serde::Serialize;

/// How bad a problem is.
#[derive(Debug, Clone, Copy, Serialize, schemars::JsonSchema, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// n8n would refuse the workflow, or it would break.
    Error,
    /// It would run, but likely not as meant.
    Warning,
}

impl std::fmt::Display for Severity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Severity::Error => "error",
            Severity::Warning => "warning",
        })
    }
}

/// One problem found.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema, PartialEq)]
pub struct Problem {
    /// `error` (n8n would refuse it or it would break) or `warning`.
    pub severity: Severity,
    /// The node concerned, if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub node: Option<String>,
    /// What is wrong and how to fix it.
    pub message: String,
}

pub fn err(node: Option<&str>, message: String) -> Problem {
    Problem { severity: Severity::Error, node: node.map(str::to_string), message }
}

pub fn warn(node: Option<&str>, message: String) -> Problem {
    Problem { severity: Severity::Warning, node: node.map(str::to_string), message }
}
