//! The patch types as the API server applies them: JSON merge (RFC 7386), strategic
//! merge (lists of named objects merge by name) and JSON patch (RFC 6902).

use serde_json::{Value, json};

pub(super) fn merge_patch(target: &mut Value, patch: &Value) {
    match patch {
        Value::Object(p) => {
            if !target.is_object() {
                *target = json!({});
            }
            let t = target.as_object_mut().expect("object");
            for (k, v) in p {
                if v.is_null() {
                    t.remove(k);
                } else {
                    merge_patch(t.entry(k.clone()).or_insert(Value::Null), v);
                }
            }
        }
        other => *target = other.clone(),
    }
}

/// Strategic merge: like merge, but lists of objects with `name` merge by name.
pub(super) fn strategic_patch(target: &mut Value, patch: &Value) {
    match (target, patch) {
        (Value::Object(t), Value::Object(p)) => {
            for (k, v) in p {
                if v.is_null() {
                    t.remove(k);
                    continue;
                }
                let entry = t.entry(k.clone()).or_insert(Value::Null);
                match (entry.as_array_mut(), v.as_array()) {
                    (Some(existing), Some(items)) if items.iter().all(|i| i.get("name").is_some()) => {
                        for item in items {
                            match existing.iter_mut().find(|e| e.get("name") == item.get("name")) {
                                Some(e) => strategic_patch(e, item),
                                None => existing.push(item.clone()),
                            }
                        }
                    }
                    _ => {
                        if entry.is_object() && v.is_object() {
                            strategic_patch(entry, v);
                        } else {
                            *entry = v.clone();
                        }
                    }
                }
            }
        }
        (t, p) => *t = p.clone(),
    }
}

pub(super) fn json_patch(target: &mut Value, ops: &Value) -> Result<(), String> {
    for op in ops.as_array().ok_or("a JSON patch is a list")? {
        let path = op["path"].as_str().ok_or("missing path")?;
        let (parent_path, last) = path.rsplit_once('/').ok_or("invalid path")?;
        let last = last.replace("~1", "/").replace("~0", "~");
        match op["op"].as_str() {
            Some("add") | Some("replace") => {
                let parent =
                    target.pointer_mut(parent_path).ok_or_else(|| format!("doc is missing path: \"{path}\""))?;
                match parent {
                    Value::Object(m) => {
                        if op["op"] == "replace" && !m.contains_key(&last) {
                            return Err(format!("replace operation does not apply: doc is missing key: {path}"));
                        }
                        m.insert(last, op["value"].clone());
                    }
                    Value::Array(a) if last == "-" => a.push(op["value"].clone()),
                    Value::Array(a) => {
                        let i: usize = last.parse().map_err(|_| "bad index")?;
                        if i > a.len() {
                            return Err("index out of range".into());
                        }
                        if op["op"] == "replace" {
                            a[i] = op["value"].clone()
                        } else {
                            a.insert(i, op["value"].clone())
                        }
                    }
                    _ => return Err("invalid target".into()),
                }
            }
            Some("remove") => {
                let parent = target.pointer_mut(parent_path).ok_or("missing path")?;
                let removed = match parent {
                    Value::Object(m) => m.remove(&last).is_some(),
                    Value::Array(a) => {
                        last.parse::<usize>().ok().filter(|i| *i < a.len()).map(|i| a.remove(i)).is_some()
                    }
                    _ => false,
                };
                if !removed {
                    return Err(format!("remove operation does not apply: doc is missing path: \"{path}\""));
                }
            }
            Some("test") => {
                if target.pointer(path) != Some(&op["value"]) {
                    return Err(format!("testing value {path} failed"));
                }
            }
            other => return Err(format!("unsupported op {other:?}")),
        }
    }
    Ok(())
}
