//! Node type descriptions (the instance's own or the offline catalogue's, same shape),
//! indexed by name, and what a description says about a node: versions, trigger or not,
//! AI sub-node or root, the connection types it takes and gives.

use std::collections::HashMap;

use serde_json::Value;

use crate::catalogue::expression_connection_types;

/// The node types of an instance, indexed by name.
pub struct Catalog<'a> {
    by_name: HashMap<&'a str, Vec<&'a Value>>,
    /// The n8n version of the offline catalogue these come from (`None`: the instance's own).
    pub offline: Option<&'a str>,
}

impl<'a> Catalog<'a> {
    pub fn new(types: &'a [Value]) -> Self {
        let mut by_name: HashMap<&str, Vec<&Value>> = HashMap::new();
        for t in types {
            if let Some(name) = t["name"].as_str() {
                by_name.entry(name).or_default().push(t);
            }
        }
        Self { by_name, offline: None }
    }

    /// The same, saying the types are the offline catalogue's of n8n `version`.
    pub fn offline(mut self, version: Option<&'a str>) -> Self {
        self.offline = version;
        self
    }

    /// The description of `name` at `version` (the newest when `None`).
    pub fn get(&self, name: &str, version: Option<f64>) -> Option<&'a Value> {
        let entries = self.by_name.get(name)?;
        match version {
            Some(v) => entries.iter().copied().find(|e| versions(e).iter().any(|x| (x - v).abs() < 1e-9)),
            None => entries
                .iter()
                .copied()
                .max_by(|a, b| max_version(a).partial_cmp(&max_version(b)).unwrap_or(std::cmp::Ordering::Equal)),
        }
    }

    /// Every version installed of `name`, ascending.
    pub fn all_versions(&self, name: &str) -> Vec<f64> {
        let mut all: Vec<f64> = self.by_name.get(name).into_iter().flatten().flat_map(|e| versions(e)).collect();
        all.sort_by(|a, b| a.partial_cmp(b).unwrap_or(std::cmp::Ordering::Equal));
        all.dedup();
        all
    }

    pub fn names(&self) -> impl Iterator<Item = &&'a str> {
        self.by_name.keys()
    }

    /// Installed types that look like `name` (for "did you mean").
    pub fn similar(&self, name: &str) -> Vec<String> {
        let short = name.rsplit('.').next().unwrap_or(name).to_ascii_lowercase();
        let mut out: Vec<String> = self
            .by_name
            .keys()
            .filter(|n| {
                let s = n.rsplit('.').next().unwrap_or(n).to_ascii_lowercase();
                !short.is_empty() && (s.contains(&short) || short.contains(&s) || edits(&s, &short) <= 2)
            })
            .map(|n| n.to_string())
            .collect();
        out.sort();
        out.truncate(5);
        out
    }
}

/// The versions one description covers.
pub fn versions(t: &Value) -> Vec<f64> {
    match &t["version"] {
        Value::Array(a) => a.iter().filter_map(Value::as_f64).collect(),
        v => v.as_f64().into_iter().collect(),
    }
}

fn max_version(t: &Value) -> f64 {
    versions(t).into_iter().fold(0.0, f64::max)
}

/// Whether a node type starts workflows. Having webhooks is not enough: nodes that send
/// and wait for an answer (Slack, Gmail, Wait, …) have them too.
pub fn is_trigger(t: &Value) -> bool {
    t["group"].as_array().is_some_and(|g| g.iter().any(|x| x == "trigger"))
        || t["name"].as_str().is_some_and(|n| n.ends_with("Trigger") || n.ends_with(".webhook"))
        || t["polling"] == true
}

/// Number of `main` outputs, when it is static (`None`: computed by an expression).
pub fn main_outputs(t: &Value) -> Option<usize> {
    t["outputs"].as_array().map(|a| {
        a.iter().filter(|o| o.as_str() == Some("main") || o.get("type").and_then(Value::as_str) == Some("main")).count()
    })
}

/// The connection types of a description's `inputs` or `outputs` (`field`), and whether
/// an expression computes them (then: the types it can give, as far as its text says).
pub fn connection_types(t: &Value, field: &str) -> (Vec<String>, bool) {
    let of = |items: &[Value]| -> Vec<String> {
        let mut out: Vec<String> = Vec::new();
        for i in items {
            if let Some(ty) = i.as_str().or_else(|| i["type"].as_str())
                && !out.iter().any(|o| o == ty)
            {
                out.push(ty.to_string());
            }
        }
        out
    };
    match &t[field] {
        Value::Array(items) => (of(items), false),
        Value::String(expr) => (expression_connection_types(expr), true),
        Value::Object(o) => (o.get("computed").and_then(Value::as_array).map(|a| of(a)).unwrap_or_default(), true),
        // Not described: unknown, as if computed.
        _ => (Vec::new(), true),
    }
}

/// The AI connection types an input list marks `required` (static lists only).
pub fn required_inputs(t: &Value) -> Vec<String> {
    t["inputs"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|i| i["required"] == true)
        .filter_map(|i| i["type"].as_str().map(str::to_string))
        .filter(|ty| ty != "main")
        .collect()
}

/// What role a node type plays: `trigger`, `ai_sub_node` (it only feeds a root node through
/// an `ai_*` output), `ai_root` (it takes `ai_*` inputs: agents, chains, vector stores) or
/// `node`.
pub fn kind(t: &Value) -> &'static str {
    let (outputs, _) = connection_types(t, "outputs");
    let (inputs, _) = connection_types(t, "inputs");
    if !outputs.is_empty() && outputs.iter().all(|o| o.starts_with("ai_")) {
        "ai_sub_node"
    } else if is_trigger(t) {
        "trigger"
    } else if inputs.iter().any(|i| i.starts_with("ai_")) {
        "ai_root"
    } else {
        "node"
    }
}

/// The edit distance of two short names (for "similar": a typo is one or two edits).
fn edits(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut prev = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let here = row[j + 1];
            row[j + 1] = (prev + usize::from(ca != *cb)).min(row[j] + 1).min(here + 1);
            prev = here;
        }
    }
    row[b.len()]
}
