//! Workflow validation against the node types (the instance's own with a login, else the
//! offline catalogue's): every problem at once, each naming its node and field; the
//! expressions (`expressions`) and the AI wiring (`wiring`) included. Every write goes
//! through here, so a partial update cannot pass and still leave a workflow n8n cannot
//! open or run.

use std::collections::{BTreeMap, HashMap, HashSet};

use crate::catalogue::PACKAGES;
use crate::node_types::{Catalog, is_trigger, main_outputs};
pub use crate::problem::{Problem, Severity};
use crate::problem::{err, warn};
use crate::{expressions, wiring};
use serde_json::{Value, json};

/// Settings keys n8n's Public API accepts (it refuses a body with any other key).
pub const SETTINGS_KEYS: &[&str] = &[
    "saveExecutionProgress",
    "saveManualExecutions",
    "saveDataErrorExecution",
    "saveDataSuccessExecution",
    "executionTimeout",
    "errorWorkflow",
    "timezone",
    "executionOrder",
    "callerPolicy",
    "callerIds",
    "timeSavedPerExecution",
    "availableInMCP",
    "timeSavedMode",
];

/// Validates a workflow body (`nodes`, `connections`, `settings`); `for_publish` also
/// requires a trigger. Every problem is returned, errors first.
pub fn validate(workflow: &Value, catalog: Option<&Catalog<'_>>, for_publish: bool) -> Vec<Problem> {
    let mut problems = Vec::new();
    if catalog.is_none() {
        problems
            .push(warn(None, "node types, versions and parameters were not checked: no node type descriptions".into()));
    }
    if let Some(name) = workflow.get("name")
        && name.as_str().is_none_or(|n| n.trim().is_empty())
    {
        problems.push(err(None, "`name` must be a non-empty string".into()));
    }
    let Some(nodes) = workflow["nodes"].as_array() else {
        problems.push(err(None, "`nodes` must be an array of nodes".into()));
        return problems;
    };
    let mut names: HashSet<&str> = HashSet::new();
    let mut by_name: HashMap<&str, &Value> = HashMap::new();
    let mut has_trigger = false;
    let mut webhook_paths: BTreeMap<(String, String), Vec<String>> = BTreeMap::new();
    for (i, node) in nodes.iter().enumerate() {
        let label = node["name"].as_str().map(str::to_string).unwrap_or_else(|| format!("nodes[{i}]"));
        let n = Some(label.as_str());
        if !node.is_object() {
            problems.push(err(n, "a node must be an object".into()));
            continue;
        }
        match node["name"].as_str() {
            Some(name) if !name.trim().is_empty() => {
                if !names.insert(name) {
                    problems.push(err(n, format!("two nodes are named `{name}`: node names must be unique")));
                }
                by_name.entry(name).or_insert(node);
            }
            _ => problems.push(err(n, "`name` is missing or empty".into())),
        }
        let pos_ok = node["position"].as_array().is_some_and(|p| p.len() == 2 && p.iter().all(Value::is_number));
        if !pos_ok {
            problems.push(err(n, "`position` must be [x, y] numbers".into()));
        }
        if !(node.get("parameters").is_none() || node["parameters"].is_object()) {
            problems.push(err(n, "`parameters` must be an object".into()));
        }
        let Some(ty) = node["type"].as_str() else {
            problems.push(err(n, "`type` is missing (e.g. n8n-nodes-base.httpRequest)".into()));
            continue;
        };
        let Some(version) = node["typeVersion"].as_f64() else {
            problems.push(err(
                n,
                format!(
                    "`typeVersion` is missing; installed versions of {ty}: {:?}",
                    catalog.map(|c| c.all_versions(ty)).unwrap_or_default()
                ),
            ));
            continue;
        };
        let Some(catalog) = catalog else {
            if (ty.ends_with("Trigger") || ty.ends_with(".webhook")) && node["disabled"] != Value::Bool(true) {
                has_trigger = true;
            }
            if ty == "n8n-nodes-base.webhook" {
                let params = &node["parameters"];
                let path = params["path"].as_str().unwrap_or_default().trim_matches('/').to_string();
                let method = params["httpMethod"].as_str().unwrap_or("GET").to_string();
                webhook_paths.entry((method, path)).or_default().push(label.clone());
            }
            continue;
        };
        let Some(desc) = catalog.get(ty, Some(version)) else {
            let all = catalog.all_versions(ty);
            if let Some(v) = catalog.offline {
                // The catalogue is n8n's own packages at one version: a community node, or a
                // version newer than the catalogue's, may well be installed on the instance.
                let ours = PACKAGES.iter().any(|(_, prefix)| ty.starts_with(&format!("{prefix}.")));
                let newer = all.last().is_some_and(|&max| version > max);
                if !ours || newer {
                    problems.push(warn(
                        n,
                        format!(
                            "`{ty}` version {version} is not in the catalogue of n8n {v} (installed there: {all:?});                              not checked (a login lets validation use the instance's own node types)"
                        ),
                    ));
                    continue;
                }
            }
            if all.is_empty() {
                let similar = catalog.similar(ty);
                problems.push(err(
                    n,
                    format!(
                        "unknown node type `{ty}`: not installed on this instance{}",
                        if similar.is_empty() {
                            " (search_nodes finds installed types)".to_string()
                        } else {
                            format!("; similar: {}", similar.join(", "))
                        }
                    ),
                ));
            } else {
                problems.push(err(n, format!("`{ty}` has no version {version} here; installed versions: {all:?}")));
            }
            continue;
        };
        if is_trigger(desc) && node["disabled"] != Value::Bool(true) {
            has_trigger = true;
        }
        let params = node.get("parameters").cloned().unwrap_or_else(|| json!({}));
        check_parameters(n, desc, version, &params, &mut problems);
        if ty == "n8n-nodes-base.webhook" {
            let path = params["path"].as_str().unwrap_or_default().trim_matches('/').to_string();
            let method = params["httpMethod"].as_str().unwrap_or("GET").to_string();
            if path.is_empty() {
                problems.push(err(n, "webhook `path` is empty: give it a unique path".into()));
            } else {
                webhook_paths.entry((method, path)).or_default().push(label.clone());
            }
        }
    }
    for ((method, path), nodes) in webhook_paths {
        if nodes.len() > 1 {
            problems.push(err(
                None,
                format!("webhook path `{path}` ({method}) is used by several nodes: {}", nodes.join(", ")),
            ));
        }
    }
    check_connections(workflow, &by_name, catalog, &mut problems);
    let sub_nodes = match catalog {
        Some(c) => {
            wiring::check(workflow, c, &mut problems);
            wiring::sub_nodes(workflow, c)
        }
        None => HashSet::new(),
    };
    expressions::check(workflow, &sub_nodes, &mut problems);
    if let Some(settings) = workflow.get("settings").filter(|s| !s.is_null()) {
        match settings.as_object() {
            Some(map) => {
                for key in map.keys() {
                    if !SETTINGS_KEYS.contains(&key.as_str()) {
                        problems.push(err(
                            None,
                            format!(
                                "settings.{key}: n8n refuses unknown settings; known: {}",
                                SETTINGS_KEYS.join(", ")
                            ),
                        ));
                    }
                }
            }
            None => problems.push(err(None, "`settings` must be an object".into())),
        }
    }
    if for_publish && !has_trigger {
        problems.push(err(
            None,
            "no enabled trigger node (webhook, schedule, ... trigger): a workflow without one cannot be published"
                .into(),
        ));
    }
    problems.sort_by_key(|p| p.severity != Severity::Error);
    problems
}

fn check_connections(
    workflow: &Value,
    by_name: &HashMap<&str, &Value>,
    catalog: Option<&Catalog<'_>>,
    problems: &mut Vec<Problem>,
) {
    let Some(conns) = workflow.get("connections") else {
        problems.push(err(None, "`connections` is missing (use {} for none)".into()));
        return;
    };
    let Some(conns) = conns.as_object() else {
        problems.push(err(None, "`connections` must be an object keyed by source node name".into()));
        return;
    };
    for (source, kinds) in conns {
        let Some(src) = by_name.get(source.as_str()) else {
            problems.push(err(
                Some(source),
                format!("connections start at `{source}`, which is not a node of this workflow"),
            ));
            continue;
        };
        let Some(kinds) = kinds.as_object() else {
            problems.push(err(Some(source), "connections of a node must be an object like {\"main\": [[...]]}".into()));
            continue;
        };
        let outputs =
            src["type"].as_str().and_then(|t| catalog?.get(t, src["typeVersion"].as_f64())).and_then(main_outputs);
        for (kind, slots) in kinds {
            let Some(slots) = slots.as_array() else {
                problems
                    .push(err(Some(source), format!("connections.{source}.{kind} must be an array of output slots")));
                continue;
            };
            if kind == "main"
                && let Some(n) = outputs
                && slots.len() > n
                && slots[n..].iter().any(|s| s.as_array().is_some_and(|a| !a.is_empty()))
            {
                problems.push(err(
                    Some(source),
                    format!("connects from output {} but its node type has {n} output(s)", slots.len() - 1),
                ));
            }
            for slot in slots {
                let targets: &[Value] = match slot {
                    Value::Null => &[],
                    Value::Array(a) => a,
                    _ => {
                        problems.push(err(
                            Some(source),
                            format!("connections.{source}.{kind}: each slot must be an array"),
                        ));
                        continue;
                    }
                };
                for t in targets {
                    match t["node"].as_str() {
                        Some(target) if by_name.contains_key(target) => {
                            if t["type"].as_str().is_none() || !t["index"].is_u64() {
                                problems.push(err(
                                    Some(source),
                                    format!(
                                        "connection to `{target}` needs `type` (e.g. main) and `index` (input number)"
                                    ),
                                ));
                            }
                        }
                        Some(target) => problems.push(err(
                            Some(source),
                            format!("connects to `{target}`, which is not a node of this workflow"),
                        )),
                        None => problems.push(err(Some(source), "a connection lacks its target `node`".into())),
                    }
                }
            }
        }
    }
}

/// Whether a property is shown for these parameter values (a simple reading of n8n's
/// `displayOptions`: equality on sibling values and `@version`; conditions it cannot read
/// count as met, so that nothing is reported that n8n would accept).
fn shown(prop: &Value, params: &Value, defaults: &HashMap<String, Value>, version: f64) -> bool {
    let Some(opts) = prop.get("displayOptions") else { return true };
    let value_of = |k: &str| -> Option<Value> {
        if k == "@version" {
            return Some(json!(version));
        }
        if k.starts_with('/') {
            return None;
        }
        params.get(k).cloned().or_else(|| defaults.get(k).cloned())
    };
    let matches = |want: &Value, have: &Value| -> Option<bool> {
        match want {
            Value::Object(_) => None, // conditions such as {_cnd: {gte: 2}}
            w => Some(w == have || (w.as_f64().is_some() && w.as_f64() == have.as_f64())),
        }
    };
    if let Some(show) = opts["show"].as_object() {
        for (k, wants) in show {
            let Some(have) = value_of(k) else { continue };
            let wants = wants.as_array().cloned().unwrap_or_default();
            let results: Vec<Option<bool>> = wants.iter().map(|w| matches(w, &have)).collect();
            if results.iter().any(Option::is_none) {
                continue;
            }
            if !results.contains(&Some(true)) {
                return false;
            }
        }
    }
    if let Some(hide) = opts["hide"].as_object() {
        for (k, wants) in hide {
            let Some(have) = value_of(k) else { continue };
            if wants.as_array().is_some_and(|ws| ws.iter().any(|w| matches(w, &have) == Some(true))) {
                return false;
            }
        }
    }
    true
}

fn check_parameters(node: Option<&str>, desc: &Value, version: f64, params: &Value, problems: &mut Vec<Problem>) {
    let Some(props) = desc["properties"].as_array() else { return };
    let Some(given) = params.as_object() else { return };
    let defaults: HashMap<String, Value> = props
        .iter()
        .filter_map(|p| Some((p["name"].as_str()?.to_string(), p.get("default").cloned().unwrap_or(Value::Null))))
        .collect();
    let known: HashSet<&str> = props.iter().filter_map(|p| p["name"].as_str()).collect();
    for key in given.keys() {
        if !known.contains(key.as_str()) {
            problems.push(warn(
                node,
                format!(
                    "parameter `{key}` is not a parameter of this node type and version (describe_node lists them)"
                ),
            ));
        }
    }
    let mut options: BTreeMap<&str, (Value, Vec<Value>)> = BTreeMap::new();
    for prop in props {
        let Some(name) = prop["name"].as_str() else { continue };
        if !shown(prop, params, &defaults, version) {
            continue;
        }
        let value = given.get(name);
        let is_expr = value.and_then(Value::as_str).is_some_and(|s| s.starts_with('='));
        if prop["required"] == Value::Bool(true) && prop["type"] != "notice" {
            let empty_default = matches!(prop.get("default"), None | Some(Value::Null))
                || prop["default"] == json!("")
                || prop["default"].as_object().is_some_and(|o| o.is_empty());
            let empty_value = match value {
                None => true,
                Some(Value::String(s)) => s.is_empty(),
                Some(Value::Null) => true,
                _ => false,
            };
            if empty_value && empty_default {
                problems.push(err(node, format!("required parameter `{name}` is missing")));
            }
        }
        if let (Some(v), false) = (value, is_expr)
            && prop["type"] == "options"
            && let Some(opts) = prop["options"].as_array()
        {
            // One name can have several definitions (per version or mode): a value is
            // wrong only when no shown definition offers it.
            let entry = options.entry(name).or_insert_with(|| (v.clone(), Vec::new()));
            for o in opts.iter().filter_map(|o| o.get("value")) {
                if !entry.1.contains(o) {
                    entry.1.push(o.clone());
                }
            }
        }
    }
    for (name, (v, allowed)) in options {
        if !allowed.is_empty() && !allowed.contains(&v) {
            let list: Vec<String> = allowed.iter().take(20).map(|a| a.to_string()).collect();
            problems.push(err(node, format!("parameter `{name}` is {v}, not one of its options: {}", list.join(", "))));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn types() -> Vec<Value> {
        vec![
            json!({"name": "n8n-nodes-base.webhook", "version": [1, 2], "group": ["trigger"], "outputs": ["main"],
                   "properties": [{"name": "path", "type": "string", "default": ""},
                                  {"name": "httpMethod", "type": "options", "default": "GET",
                                   "options": [{"value": "GET"}, {"value": "POST"}]}]}),
            json!({"name": "n8n-nodes-base.if", "version": 2, "group": ["transform"], "outputs": ["main", "main"],
                   "properties": [{"name": "mode", "type": "options", "default": "a", "options": [{"value": "a"}, {"value": "b"}]},
                                  {"name": "url", "type": "string", "default": "", "required": true,
                                   "displayOptions": {"show": {"mode": ["b"]}}}]}),
        ]
    }

    #[test]
    fn every_problem_is_listed() {
        let t = types();
        let c = Catalog::new(&t);
        let wf = json!({"name": "x", "nodes": [
            {"name": "W", "type": "n8n-nodes-base.webhook", "typeVersion": 3, "position": [0, 0], "parameters": {}},
            {"name": "I", "type": "n8n-nodes-base.if", "typeVersion": 2, "position": [0, 0], "parameters": {"mode": "b", "extra": 1}},
            {"name": "I", "type": "n8n-nodes-base.nope", "typeVersion": 1, "position": [0, 0]},
        ], "connections": {"W": {"main": [[{"node": "Z", "type": "main", "index": 0}]]},
                           "I": {"main": [[], [], [{"node": "W", "type": "main", "index": 0}]]}},
           "settings": {"bogus": true}});
        let p = validate(&wf, Some(&c), true);
        let text = serde_json::to_string(&p).unwrap_or_default();
        for needle in [
            "no version 3",
            "required parameter `url`",
            "`extra`",
            "two nodes are named",
            "unknown node type",
            "`Z`",
            "output 2",
            "settings.bogus",
            "no enabled trigger",
        ] {
            assert!(text.contains(needle), "missing {needle}: {text}");
        }
    }

    #[test]
    fn a_good_workflow_passes() {
        let t = types();
        let c = Catalog::new(&t);
        let wf = json!({"name": "x", "nodes": [
            {"name": "W", "type": "n8n-nodes-base.webhook", "typeVersion": 2, "position": [0, 0], "parameters": {"path": "p", "httpMethod": "POST"}},
            {"name": "I", "type": "n8n-nodes-base.if", "typeVersion": 2, "position": [0, 0], "parameters": {"mode": "a"}},
        ], "connections": {"W": {"main": [[{"node": "I", "type": "main", "index": 0}]]}}});
        assert_eq!(validate(&wf, Some(&c), true), vec![]);
    }
}
