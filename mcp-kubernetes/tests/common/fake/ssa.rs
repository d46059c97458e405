//! Field ownership as a real API server keeps it (server-side apply): each manager owns a
//! set of leaf fields; an apply that changes another manager's field conflicts unless
//! forced (then the field changes hands); fields an applier stops applying are removed
//! unless someone else owns them; Update operations (create, update, patch) take the
//! fields they change. Difference from a real server: lists are atomic leaves here
//! (a real server merges associative lists such as containers by key).

use std::collections::{BTreeMap, BTreeSet};

use serde_json::{Map, Value, json};

/// A field path: the keys from the object's root.
pub type Path = Vec<String>;

/// One manager's entry: its operation (Apply or Update) and the fields it owns.
#[derive(Clone, Debug, PartialEq)]
pub struct Owned {
    pub operation: &'static str,
    pub fields: BTreeSet<Path>,
}

/// Manager name to what it owns, for one object.
pub type Managers = BTreeMap<String, Owned>;

pub fn show(p: &Path) -> String {
    p.iter().map(|s| format!(".{s}")).collect()
}

/// The leaf fields of `obj` a manager can own, with their values. Server-set metadata
/// and status are nobody's.
pub fn leaves(obj: &Value) -> BTreeMap<Path, Value> {
    let mut out = BTreeMap::new();
    let Some(m) = obj.as_object() else { return out };
    for (k, v) in m {
        match k.as_str() {
            "apiVersion" | "kind" | "status" => {}
            "metadata" => {
                for f in ["labels", "annotations", "finalizers", "ownerReferences"] {
                    if let Some(v) = v.get(f) {
                        walk(vec!["metadata".into(), f.into()], v, &mut out);
                    }
                }
            }
            _ => walk(vec![k.clone()], v, &mut out),
        }
    }
    out
}

fn walk(path: Path, v: &Value, out: &mut BTreeMap<Path, Value>) {
    match v {
        Value::Null => {}
        Value::Object(m) if !m.is_empty() => {
            for (k, v) in m {
                let mut p = path.clone();
                p.push(k.clone());
                walk(p, v, out);
            }
        }
        _ => {
            out.insert(path, v.clone());
        }
    }
}

pub fn get<'a>(obj: &'a Value, p: &Path) -> Option<&'a Value> {
    p.iter().try_fold(obj, |v, k| v.get(k))
}

fn set(obj: &mut Value, p: &Path, value: Value) {
    let mut cur = obj;
    for k in &p[..p.len() - 1] {
        if !cur.get(k).is_some_and(Value::is_object) {
            cur[k.as_str()] = json!({});
        }
        cur = &mut cur[k.as_str()];
    }
    cur[p[p.len() - 1].as_str()] = value;
}

fn remove(obj: &mut Value, p: &Path) {
    let mut cur = obj;
    for k in &p[..p.len() - 1] {
        match cur.get_mut(k) {
            Some(v) => cur = v,
            None => return,
        }
    }
    if let Some(m) = cur.as_object_mut() {
        m.remove(&p[p.len() - 1]);
    }
}

/// The conflicts of `manager` applying `applied` to `current`: another manager's fields
/// whose value the apply would change, grouped by manager as a real server words it.
pub fn conflicts(managers: &Managers, manager: &str, current: &Value, applied: &Value) -> Option<String> {
    let mut by_manager: BTreeMap<&str, Vec<String>> = BTreeMap::new();
    for (p, v) in leaves(applied) {
        for (other, owned) in managers {
            if other != manager && owned.fields.contains(&p) && get(current, &p) != Some(&v) {
                by_manager.entry(other).or_default().push(show(&p));
            }
        }
    }
    let n: usize = by_manager.values().map(Vec::len).sum();
    if n == 0 {
        return None;
    }
    let mut msg = format!("Apply failed with {n} conflict{}: ", if n == 1 { "" } else { "s" });
    if n == 1 {
        let (m, fields) = by_manager.iter().next()?;
        msg += &format!("conflict with \"{m}\": {}", fields[0]);
    } else {
        let parts: Vec<String> = by_manager
            .iter()
            .map(|(m, fields)| format!("conflicts with \"{m}\":\n- {}", fields.join("\n- ")))
            .collect();
        msg += &parts.join("\n");
    }
    Some(msg)
}

/// `current` after `manager` applies `applied`: fields it applied before and no longer
/// does are removed (unless another manager owns them), then the applied values set.
pub fn merge(managers: &Managers, manager: &str, current: &Value, applied: &Value) -> Value {
    let mut out = current.clone();
    let now = leaves(applied);
    if let Some(before) = managers.get(manager) {
        for p in &before.fields {
            let shared = managers.iter().any(|(m, o)| m != manager && o.fields.contains(p));
            if !now.contains_key(p) && !shared {
                remove(&mut out, p);
            }
        }
    }
    for (p, v) in now {
        set(&mut out, &p, v);
    }
    out
}

/// Who owns what after a write. `apply`: the applier's fields (`force`: taken from
/// others); otherwise an Update by `manager`, which takes every field it changed.
pub fn record(
    mut managers: Managers,
    manager: &str,
    before: Option<&Value>,
    after: &Value,
    apply: Option<(&Value, bool)>,
) -> Managers {
    let (taken, operation, own) = match apply {
        Some((applied, force)) => {
            let fields: BTreeSet<Path> = leaves(applied).into_keys().collect();
            (if force { fields.clone() } else { BTreeSet::new() }, "Apply", fields)
        }
        None => {
            let old = before.map(leaves).unwrap_or_default();
            let changed: BTreeSet<Path> =
                leaves(after).into_iter().filter(|(p, v)| old.get(p) != Some(v)).map(|(p, _)| p).collect();
            let mut own =
                managers.get(manager).filter(|o| o.operation == "Update").map(|o| o.fields.clone()).unwrap_or_default();
            own.extend(changed.iter().cloned());
            (changed, "Update", own)
        }
    };
    for (m, owned) in managers.iter_mut() {
        if m != manager {
            owned.fields.retain(|p| !taken.contains(p));
        }
    }
    // Fields no longer in the object are nobody's.
    let present = leaves(after);
    managers.insert(manager.to_string(), Owned { operation, fields: own });
    for owned in managers.values_mut() {
        owned.fields.retain(|p| present.contains_key(p));
    }
    managers.retain(|_, o| !o.fields.is_empty());
    managers
}

/// `metadata.managedFields` as a real server writes it (FieldsV1), without timestamps.
pub fn render(managers: &Managers, api_version: &str) -> Value {
    let entries: Vec<Value> = managers
        .iter()
        .map(|(m, owned)| {
            let mut fields = Value::Object(Map::new());
            for p in &owned.fields {
                let mut cur = &mut fields;
                for k in p {
                    cur = &mut cur[format!("f:{k}")];
                    if cur.is_null() {
                        *cur = json!({});
                    }
                }
            }
            json!({"manager": m, "operation": owned.operation, "apiVersion": api_version,
                "fieldsType": "FieldsV1", "fieldsV1": fields})
        })
        .collect();
    Value::Array(entries)
}
