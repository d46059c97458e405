//! Checks of AI wiring: sub-nodes (chat models, memories, tools, output parsers, …) feed
//! root nodes (agents, chains) through `ai_*` connections of the type both sides declare;
//! a root missing its required model, a sub-node connected as `main` or with a type its
//! node does not give, and a sub-node connected to nothing are all reported.

use std::collections::{BTreeMap, HashMap, HashSet};

use serde_json::Value;

use crate::node_types::{Catalog, connection_types, kind, required_inputs};
use crate::problem::{Problem, err, warn};

/// The names of the enabled nodes whose type is an AI sub-node (for the expression check).
pub fn sub_nodes(workflow: &Value, catalog: &Catalog<'_>) -> HashSet<String> {
    described(workflow, catalog)
        .into_iter()
        .filter(|(_, d)| kind(d) == "ai_sub_node")
        .map(|(name, _)| name.to_string())
        .collect()
}

/// Each node with its type's description, where the catalogue has it.
fn described<'w, 'c>(workflow: &'w Value, catalog: &Catalog<'c>) -> Vec<(&'w str, &'c Value)> {
    workflow["nodes"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|n| {
            let desc = catalog.get(n["type"].as_str()?, n["typeVersion"].as_f64())?;
            Some((n["name"].as_str()?, desc))
        })
        .collect()
}

pub fn check(workflow: &Value, catalog: &Catalog<'_>, problems: &mut Vec<Problem>) {
    let nodes: HashMap<&str, &Value> = described(workflow, catalog).into_iter().collect();
    let disabled: HashSet<&str> = workflow["nodes"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|n| n["disabled"] == true)
        .filter_map(|n| n["name"].as_str())
        .collect();
    // (target, type) -> sources; and which sub-nodes connect anywhere.
    let mut into: BTreeMap<(&str, &str), Vec<&str>> = BTreeMap::new();
    let mut connected: HashSet<&str> = HashSet::new();
    for (source, kinds) in workflow["connections"].as_object().into_iter().flatten() {
        for (ctype, slots) in kinds.as_object().into_iter().flatten() {
            for t in slots.as_array().into_iter().flatten().flat_map(|s| s.as_array().into_iter().flatten()) {
                let Some(target) = t["node"].as_str() else { continue };
                connected.insert(source.as_str());
                into.entry((target, ctype.as_str())).or_default().push(source.as_str());
                let declared = t["type"].as_str().unwrap_or(ctype);
                if declared != ctype {
                    problems.push(err(
                        Some(source),
                        format!(
                            "connection to `{target}` is listed under `{ctype}` but says type `{declared}`: \
                             both must be the same connection type"
                        ),
                    ));
                }
                edge(source, ctype, target, &nodes, problems);
            }
        }
    }
    for (name, desc) in &nodes {
        if disabled.contains(name) {
            continue;
        }
        let (inputs, computed) = connection_types(desc, "inputs");
        let mut required = required_inputs(desc);
        // Computed inputs (agents, chains) do not say `required` in a form one can read;
        // every n8n node taking a language model needs one.
        if computed && inputs.iter().any(|i| i == "ai_languageModel") {
            required.push("ai_languageModel".into());
        }
        required.dedup();
        for r in required {
            if !into.contains_key(&(*name, r.as_str())) {
                problems.push(err(
                    Some(name),
                    format!(
                        "needs {} connected to it as `{r}`, and none is: connect one with connection type `{r}`",
                        what(&r)
                    ),
                ));
            }
        }
        if kind(desc) == "ai_sub_node" && !connected.contains(name) {
            let (outputs, _) = connection_types(desc, "outputs");
            problems.push(warn(
                Some(name),
                format!(
                    "is an AI sub-node (output {}) connected to no root node: it does nothing until connected \
                     to an agent or chain",
                    outputs.join(", ")
                ),
            ));
        }
    }
}

/// Checks one connection against both ends' declared connection types.
fn edge(source: &str, ctype: &str, target: &str, nodes: &HashMap<&str, &Value>, problems: &mut Vec<Problem>) {
    if let Some(src) = nodes.get(source) {
        let (outputs, computed) = connection_types(src, "outputs");
        let fits = outputs.is_empty() || outputs.iter().any(|o| o == ctype) || (computed && ctype == "main");
        if !fits {
            let hint = match outputs.iter().find(|o| o.starts_with("ai_")) {
                Some(o) if ctype == "main" => format!(
                    ": it is an AI sub-node; connect it to a node taking `{o}` with connection type `{o}` \
                     (from its `{o}` output)"
                ),
                _ => String::new(),
            };
            problems.push(err(
                Some(source),
                format!(
                    "connects to `{target}` as `{ctype}`, but its node type only outputs {}{hint}",
                    outputs.join(", ")
                ),
            ));
            return;
        }
    }
    if let Some(dst) = nodes.get(target) {
        let (inputs, computed) = connection_types(dst, "inputs");
        // A computed list is trusted only as far as its text names types.
        if (!computed || !inputs.is_empty()) && !inputs.iter().any(|i| i == ctype) {
            problems.push(err(
                Some(source),
                format!(
                    "connects to `{target}` as `{ctype}`, but `{target}` takes {}",
                    if inputs.is_empty() { "no input".to_string() } else { inputs.join(", ") }
                ),
            ));
        }
    }
}

/// What kind of sub-node a connection type takes, for messages.
fn what(ctype: &str) -> &'static str {
    match ctype {
        "ai_languageModel" => "a chat model",
        "ai_memory" => "a memory",
        "ai_tool" => "a tool",
        "ai_outputParser" => "an output parser",
        "ai_embedding" => "an embeddings model",
        "ai_document" => "a document loader",
        "ai_textSplitter" => "a text splitter",
        "ai_vectorStore" => "a vector store",
        "ai_retriever" => "a retriever",
        _ => "a sub-node",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn sub_nodes_must_connect_with_their_type() {
        let types = vec![
            json!({"name": "agent", "version": 1, "inputs": "={{ [{type: 'main'}, {type: 'ai_languageModel'}, {type: 'ai_tool'}, {type: 'ai_memory'}] }}", "outputs": ["main"]}),
            json!({"name": "model", "version": 1, "inputs": [], "outputs": ["ai_languageModel"]}),
            json!({"name": "memory", "version": 1, "inputs": [], "outputs": ["ai_memory"]}),
            json!({"name": "set", "version": 1, "inputs": ["main"], "outputs": ["main"]}),
        ];
        let c = Catalog::new(&types);
        let node = |name: &str, ty: &str| json!({"name": name, "type": ty, "typeVersion": 1});
        let wf = json!({"nodes": [node("Agent", "agent"), node("Model", "model"), node("Memory", "memory"),
                                  node("Set", "set"), node("Loose", "memory")],
            "connections": {
                "Memory": {"ai_tool": [[{"node": "Agent", "type": "ai_tool", "index": 0}]]},
                "Model": {"main": [[{"node": "Set", "type": "main", "index": 0}]]},
                "Set": {"ai_memory": [[{"node": "Agent", "type": "ai_memory", "index": 0}]]}}});
        let mut p = Vec::new();
        check(&wf, &c, &mut p);
        let text = serde_json::to_string(&p).unwrap_or_default();
        for needle in [
            "connects to `Agent` as `ai_tool`, but its node type only outputs ai_memory",
            "connects to `Set` as `main`, but its node type only outputs ai_languageModel: it is an AI sub-node",
            "needs a chat model connected to it as `ai_languageModel`",
            "connected to no root node",
            "connects to `Agent` as `ai_memory`, but its node type only outputs main",
        ] {
            assert!(text.contains(needle), "missing {needle}: {text}");
        }
        assert_eq!(p.len(), 5, "{text}");
    }
}
