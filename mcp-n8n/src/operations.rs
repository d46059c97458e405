//! `edit_workflow`'s operations, applied in order to a workflow body (n8n's PUT shape):
//! nodes added, removed, changed and renamed with their connections following.

use mcp_core::ToolError;
use schemars::JsonSchema;
use serde::Deserialize;
use serde_json::{Map, Value, json};

/// One change of `edit_workflow`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(tag = "op", rename_all = "snake_case", deny_unknown_fields)]
pub enum Operation {
    /// Add a node: {name, type, typeVersion, position, parameters, ...}.
    AddNode { node: Value },
    /// Remove a node and every connection to or from it.
    RemoveNode { name: String },
    /// Change a node: `parameters` are merged into the current ones (null removes a key);
    /// the other fields replace.
    UpdateNode {
        name: String,
        parameters: Option<Map<String, Value>>,
        type_version: Option<f64>,
        position: Option<[f64; 2]>,
        disabled: Option<bool>,
        credentials: Option<Value>,
        notes: Option<String>,
    },
    /// Rename a node; connections follow.
    RenameNode { name: String, new_name: String },
    /// Connect `from`'s output to `to`'s input.
    Connect {
        from: String,
        to: String,
        /// Output index of `from` (default 0; e.g. 1 for the false branch of an If).
        #[serde(default)]
        output: usize,
        /// Input index of `to` (default 0).
        #[serde(default)]
        input: usize,
        /// Connection kind (default `main`; AI nodes use ai_tool, ai_languageModel, ...).
        kind: Option<String>,
    },
    /// Remove connections from `from` to `to` (all outputs unless `output` is given).
    Disconnect { from: String, to: String, output: Option<usize>, kind: Option<String> },
    /// Rename the workflow.
    RenameWorkflow { name: String },
    /// Merge settings (null removes a key).
    UpdateSettings { settings: Map<String, Value> },
}

fn node_index(body: &Value, name: &str, i: usize) -> Result<usize, ToolError> {
    body["nodes"]
        .as_array()
        .and_then(|ns| ns.iter().position(|n| n["name"] == name))
        .ok_or_else(|| ToolError::invalid_arguments(format!("operations[{i}]: no node named `{name}`")))
}

/// Applies operations to a PUT body.
pub fn apply(body: &mut Value, ops: Vec<Operation>) -> Result<(), ToolError> {
    if !body["connections"].is_object() {
        body["connections"] = json!({});
    }
    for (i, op) in ops.into_iter().enumerate() {
        match op {
            Operation::AddNode { mut node } => {
                let Some(name) = node["name"].as_str().map(str::to_string) else {
                    return Err(ToolError::invalid_arguments(format!("operations[{i}]: add_node needs node.name")));
                };
                if node_index(body, &name, i).is_ok() {
                    return Err(ToolError::invalid_arguments(format!(
                        "operations[{i}]: a node `{name}` already exists"
                    )));
                }
                if node.get("parameters").is_none() {
                    node["parameters"] = json!({});
                }
                if let Some(ns) = body["nodes"].as_array_mut() {
                    ns.push(node);
                }
            }
            Operation::RemoveNode { name } => {
                let idx = node_index(body, &name, i)?;
                if let Some(ns) = body["nodes"].as_array_mut() {
                    ns.remove(idx);
                }
                if let Some(c) = body["connections"].as_object_mut() {
                    c.remove(&name);
                }
                retain_targets(body, |t| t["node"] != name.as_str());
            }
            Operation::UpdateNode { name, parameters, type_version, position, disabled, credentials, notes } => {
                let idx = node_index(body, &name, i)?;
                let node = &mut body["nodes"][idx];
                if let Some(p) = parameters {
                    merge(&mut node["parameters"], p);
                }
                if let Some(v) = type_version {
                    node["typeVersion"] = json!(v);
                }
                if let Some(p) = position {
                    node["position"] = json!(p);
                }
                if let Some(d) = disabled {
                    node["disabled"] = json!(d);
                }
                if let Some(c) = credentials {
                    node["credentials"] = c;
                }
                if let Some(n) = notes {
                    node["notes"] = json!(n);
                }
            }
            Operation::RenameNode { name, new_name } => {
                let idx = node_index(body, &name, i)?;
                if node_index(body, &new_name, i).is_ok() {
                    return Err(ToolError::invalid_arguments(format!(
                        "operations[{i}]: a node `{new_name}` already exists"
                    )));
                }
                body["nodes"][idx]["name"] = json!(new_name);
                if let Some(c) = body["connections"].as_object_mut()
                    && let Some(v) = c.remove(&name)
                {
                    c.insert(new_name.clone(), v);
                }
                for_each_target(body, |t| {
                    if t["node"] == name.as_str() {
                        t["node"] = json!(new_name);
                    }
                });
            }
            Operation::Connect { from, to, output, input, kind } => {
                node_index(body, &from, i)?;
                node_index(body, &to, i)?;
                let kind = kind.unwrap_or_else(|| "main".into());
                let slots = body["connections"][&from][&kind].take();
                let mut slots: Vec<Value> = slots.as_array().cloned().unwrap_or_default();
                while slots.len() <= output {
                    slots.push(json!([]));
                }
                let target = json!({"node": to, "type": kind, "index": input});
                if let Some(list) = slots[output].as_array_mut() {
                    if !list.contains(&target) {
                        list.push(target);
                    }
                } else {
                    slots[output] = json!([target]);
                }
                body["connections"][&from][&kind] = Value::Array(slots);
            }
            Operation::Disconnect { from, to, output, kind } => {
                let kind = kind.unwrap_or_else(|| "main".into());
                let mut removed = false;
                if let Some(slots) = body["connections"][&from][&kind].as_array_mut() {
                    for (o, slot) in slots.iter_mut().enumerate() {
                        if output.is_some_and(|x| x != o) {
                            continue;
                        }
                        if let Some(list) = slot.as_array_mut() {
                            let before = list.len();
                            list.retain(|t| t["node"] != to.as_str());
                            removed |= list.len() != before;
                        }
                    }
                }
                if !removed {
                    return Err(ToolError::invalid_arguments(format!(
                        "operations[{i}]: no {kind} connection from `{from}` to `{to}`"
                    )));
                }
            }
            Operation::RenameWorkflow { name } => body["name"] = json!(name),
            Operation::UpdateSettings { settings } => merge(&mut body["settings"], settings),
        }
    }
    Ok(())
}

/// Merges `changes` into the object `into` (made one if it is not): a null removes its key.
fn merge(into: &mut Value, changes: Map<String, Value>) {
    if !into.is_object() {
        *into = json!({});
    }
    if let Some(current) = into.as_object_mut() {
        for (k, v) in changes {
            if v.is_null() {
                current.remove(&k);
            } else {
                current.insert(k, v);
            }
        }
    }
}

fn for_each_target(body: &mut Value, mut f: impl FnMut(&mut Value)) {
    for kinds in body["connections"].as_object_mut().into_iter().flat_map(|c| c.values_mut()) {
        for slots in kinds.as_object_mut().into_iter().flat_map(|k| k.values_mut()) {
            for slot in slots.as_array_mut().into_iter().flatten() {
                for t in slot.as_array_mut().into_iter().flatten() {
                    f(t);
                }
            }
        }
    }
}

fn retain_targets(body: &mut Value, keep: impl Fn(&Value) -> bool) {
    for kinds in body["connections"].as_object_mut().into_iter().flat_map(|c| c.values_mut()) {
        for slots in kinds.as_object_mut().into_iter().flat_map(|k| k.values_mut()) {
            for slot in slots.as_array_mut().into_iter().flatten() {
                if let Some(list) = slot.as_array_mut() {
                    list.retain(&keep);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tools::workflows::edges;

    fn body() -> Value {
        json!({"name": "w", "nodes": [{"name": "A", "parameters": {"x": 1}}, {"name": "B"}],
               "connections": {"A": {"main": [[{"node": "B", "type": "main", "index": 0}]]}}, "settings": {}})
    }

    #[test]
    fn rename_moves_connections() {
        let mut b = body();
        apply(&mut b, vec![Operation::RenameNode { name: "B".into(), new_name: "C".into() }]).ok();
        assert_eq!(edges(&b["connections"]), vec!["A -> C"]);
        apply(&mut b, vec![Operation::RenameNode { name: "A".into(), new_name: "Z".into() }]).ok();
        assert_eq!(edges(&b["connections"]), vec!["Z -> C"]);
    }

    #[test]
    fn remove_drops_connections_and_merge_removes_nulls() {
        let mut b = body();
        let ops = vec![
            Operation::UpdateNode {
                name: "A".into(),
                parameters: serde_json::from_value(json!({"x": null, "y": 2})).ok(),
                type_version: None,
                position: None,
                disabled: Some(true),
                credentials: None,
                notes: None,
            },
            Operation::RemoveNode { name: "B".into() },
        ];
        assert!(apply(&mut b, ops).is_ok());
        assert_eq!(b["nodes"][0]["parameters"], json!({"y": 2}));
        assert!(edges(&b["connections"]).is_empty());
        assert!(apply(&mut b, vec![Operation::RemoveNode { name: "nope".into() }]).is_err());
    }

    #[test]
    fn connect_second_output_and_disconnect() {
        let mut b = body();
        let ops = vec![Operation::Connect { from: "A".into(), to: "B".into(), output: 1, input: 0, kind: None }];
        assert!(apply(&mut b, ops).is_ok());
        assert_eq!(edges(&b["connections"]), vec!["A -> B", "A[1] -> B"]);
        let ops = vec![Operation::Disconnect { from: "A".into(), to: "B".into(), output: Some(0), kind: None }];
        assert!(apply(&mut b, ops).is_ok());
        assert_eq!(edges(&b["connections"]), vec!["A[1] -> B"]);
    }
}
