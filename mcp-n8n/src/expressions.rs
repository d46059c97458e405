//! Checks of the expressions in a workflow's parameters: `{{ … }}` closed, and every node
//! an expression names (`$('Name')`, `$node["Name"]`, `$items("Name")`) present and
//! upstream of the node using it, so that it has run when the expression is evaluated.

use std::collections::{BTreeSet, HashMap, HashSet};

use serde_json::Value;

use crate::problem::{Problem, err, warn};

/// Most expression strings read per node (a node's parameters are bounded by n8n, but a
/// body given to validate_workflow is not).
const MAX_EXPRESSIONS: usize = 500;

/// Problems of the expressions of every node of `workflow`; `sub_nodes` are the nodes
/// whose type feeds a root node through `ai_*` outputs only (they run in the root's
/// context, so their upstream is the root's).
pub fn check(workflow: &Value, sub_nodes: &HashSet<String>, problems: &mut Vec<Problem>) {
    let Some(nodes) = workflow["nodes"].as_array() else { return };
    let names: HashSet<&str> = nodes.iter().filter_map(|n| n["name"].as_str()).collect();
    let graph = Graph::of(&workflow["connections"]);
    for node in nodes {
        let Some(name) = node["name"].as_str() else { continue };
        let mut exprs = Vec::new();
        collect(&node["parameters"], "", &mut exprs);
        let mut upstream: Option<HashSet<String>> = None;
        let mut reported: BTreeSet<String> = BTreeSet::new();
        for (path, expr) in exprs.iter().take(MAX_EXPRESSIONS) {
            if let Some(why) = unbalanced(expr) {
                problems.push(err(Some(name), format!("parameter `{path}`: {why}")));
            }
            for target in referenced_nodes(expr) {
                if !reported.insert(target.clone()) {
                    continue;
                }
                if !names.contains(target.as_str()) {
                    problems.push(err(
                        Some(name),
                        format!(
                            "parameter `{path}` references node `{target}`, which is not in this workflow \
                             (node names: {})",
                            sample(&names)
                        ),
                    ));
                    continue;
                }
                let up = upstream.get_or_insert_with(|| graph.upstream(name, sub_nodes.contains(name)));
                if target != name && !up.contains(&target) {
                    problems.push(warn(
                        Some(name),
                        format!(
                            "parameter `{path}` references node `{target}`, which is not upstream of `{name}`: it will \
                             not have run when this expression is evaluated (connect it before `{name}`)"
                        ),
                    ));
                }
            }
        }
    }
}

/// A few node names, for a message.
fn sample(names: &HashSet<&str>) -> String {
    let mut v: Vec<&str> = names.iter().copied().collect();
    v.sort();
    let more = v.len().saturating_sub(10);
    v.truncate(10);
    let mut s = v.iter().map(|n| format!("`{n}`")).collect::<Vec<_>>().join(", ");
    if more > 0 {
        s.push_str(&format!(", … {more} more"));
    }
    s
}

/// Every expression string (`=…` holding `{{`) under `v`, with its parameter path.
fn collect(v: &Value, path: &str, out: &mut Vec<(String, String)>) {
    if out.len() >= MAX_EXPRESSIONS {
        return;
    }
    match v {
        Value::String(s) if s.starts_with('=') && s.contains("{{") => out.push((path.to_string(), s.clone())),
        Value::Array(items) => {
            for (i, item) in items.iter().enumerate() {
                collect(item, &format!("{path}[{i}]"), out);
            }
        }
        Value::Object(map) => {
            for (k, item) in map {
                let p = if path.is_empty() { k.clone() } else { format!("{path}.{k}") };
                collect(item, &p, out);
            }
        }
        _ => {}
    }
}

/// Why an expression's `{{ … }}` are not balanced, if they are not: n8n takes the text
/// from each `{{` to the next `}}`, so an unclosed one breaks the whole value.
pub fn unbalanced(expr: &str) -> Option<String> {
    let mut rest = expr;
    while let Some(open) = rest.find("{{") {
        let after = &rest[open + 2..];
        let Some(close) = after.find("}}") else {
            let at = expr.len() - rest.len() + open;
            return Some(format!(
                "the expression's `{{{{` at character {at} is never closed with `}}}}`: `{}`",
                crate::output::clip(&expr[at..], 60)
            ));
        };
        if after[..close].trim().is_empty() {
            return Some("the expression has an empty `{{ }}`".into());
        }
        rest = &after[close + 2..];
    }
    None
}

/// The node names an expression refers to: `$('Name')`, `$node["Name"]`, `$node.Name`,
/// `$items("Name")` (any quote).
pub fn referenced_nodes(expr: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    let mut push = |name: String| {
        if !name.is_empty() && !out.contains(&name) {
            out.push(name);
        }
    };
    for (prefix, close) in [("$(", ')'), ("$items(", ')'), ("$node[", ']')] {
        let mut rest = expr;
        while let Some(i) = rest.find(prefix) {
            rest = &rest[i + prefix.len()..];
            let trimmed = rest.trim_start();
            let Some(quote) = trimmed.chars().next().filter(|c| matches!(c, '\'' | '"' | '`')) else { continue };
            let body = &trimmed[1..];
            let Some(end) = find_unescaped(body, quote) else { continue };
            let after = body[end + 1..].trim_start();
            // Only a whole literal argument names a node (`$('a' + x)` is computed).
            if after.starts_with(close) || (close == ')' && after.starts_with(',')) {
                push(body[..end].replace(&format!("\\{quote}"), &quote.to_string()));
            }
        }
    }
    let mut rest = expr;
    while let Some(i) = rest.find("$node.") {
        rest = &rest[i + 6..];
        let name: String = rest.chars().take_while(|c| c.is_alphanumeric() || *c == '_' || *c == '$').collect();
        push(name);
    }
    out
}

fn find_unescaped(s: &str, quote: char) -> Option<usize> {
    let mut escaped = false;
    for (i, c) in s.char_indices() {
        if escaped {
            escaped = false;
        } else if c == '\\' {
            escaped = true;
        } else if c == quote {
            return Some(i);
        }
    }
    None
}

/// The connections as edges: which nodes feed which, by connection type.
struct Graph {
    /// target -> sources, over `main` connections.
    main_into: HashMap<String, Vec<String>>,
    /// source -> targets, over `ai_*` connections (a sub-node to the root it serves).
    ai_to: HashMap<String, Vec<String>>,
}

impl Graph {
    fn of(connections: &Value) -> Self {
        let mut g = Graph { main_into: HashMap::new(), ai_to: HashMap::new() };
        for (source, kinds) in connections.as_object().into_iter().flatten() {
            for (kind, slots) in kinds.as_object().into_iter().flatten() {
                for t in slots.as_array().into_iter().flatten().flat_map(|s| s.as_array().into_iter().flatten()) {
                    let Some(target) = t["node"].as_str() else { continue };
                    if kind == "main" {
                        g.main_into.entry(target.to_string()).or_default().push(source.clone());
                    } else {
                        g.ai_to.entry(source.clone()).or_default().push(target.to_string());
                    }
                }
            }
        }
        g
    }

    /// The nodes that have run when `node` evaluates its parameters: the ancestors over
    /// `main` of the node itself and, for a sub-node, of the roots it serves (and their
    /// roots: a model of a tool of an agent), the roots included.
    fn upstream(&self, node: &str, sub_node: bool) -> HashSet<String> {
        let mut contexts = vec![node.to_string()];
        let mut seen: HashSet<String> = HashSet::from([node.to_string()]);
        if sub_node {
            let mut i = 0;
            while i < contexts.len() {
                for root in self.ai_to.get(&contexts[i]).into_iter().flatten() {
                    if seen.insert(root.clone()) {
                        contexts.push(root.clone());
                    }
                }
                i += 1;
            }
        }
        let mut up: HashSet<String> = HashSet::new();
        let mut stack: Vec<String> = contexts.clone();
        if sub_node {
            up.extend(contexts.iter().skip(1).cloned());
        }
        while let Some(n) = stack.pop() {
            for s in self.main_into.get(&n).into_iter().flatten() {
                if up.insert(s.clone()) {
                    stack.push(s.clone());
                }
            }
        }
        up
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn node_references_are_read_in_every_spelling() {
        let e = "={{ $('Get user').item.json.id }} {{ $node[\"HTTP Request\"].json.x }} {{ $node.Set.json }} \
                 {{ $items('It\\'s') }} {{ $('a' + b) }}";
        assert_eq!(referenced_nodes(e), ["Get user", "It's", "HTTP Request", "Set"]);
    }

    #[test]
    fn unclosed_and_empty_expressions_are_found() {
        assert!(unbalanced("={{ $json.a }} and {{ $json.b }}").is_none());
        assert!(unbalanced("={{ $json.a ").is_some_and(|w| w.contains("never closed")));
        assert!(unbalanced("=x {{ }}").is_some_and(|w| w.contains("empty")));
    }

    #[test]
    fn references_must_be_present_and_upstream() {
        let wf = json!({"nodes": [
            {"name": "A", "parameters": {}}, {"name": "B", "parameters": {"v": "={{ $('A').item.json.x }}"}},
            {"name": "C", "parameters": {"v": "={{ $('B').item.json.x }}", "w": "={{ $('Nope').item.json }}"}},
            {"name": "D", "parameters": {"v": "={{ $('C').item.json.x }}"}},
            {"name": "Tool", "parameters": {"v": "={{ $('A').item.json.x }}"}},
        ], "connections": {"A": {"main": [[{"node": "B", "type": "main", "index": 0}, {"node": "D", "type": "main", "index": 0}]]},
                           "Tool": {"ai_tool": [[{"node": "B", "type": "ai_tool", "index": 0}]]}}});
        let mut p = Vec::new();
        check(&wf, &HashSet::from(["Tool".to_string()]), &mut p);
        let text = serde_json::to_string(&p).unwrap_or_default();
        assert_eq!(p.len(), 3, "{text}");
        assert!(text.contains("`Nope`, which is not in this workflow"), "{text}");
        assert!(text.contains("`B`, which is not upstream of `C`"), "{text}");
        assert!(text.contains("`C`, which is not upstream of `D`"), "{text}");
    }
}
