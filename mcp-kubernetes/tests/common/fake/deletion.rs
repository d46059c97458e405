//! Deletion as a real API server does it: finalizers hold an object (marked with a
//! deletionTimestamp) until they are removed; propagation decides what happens to the
//! objects it owns (Background: deleted after it, Foreground: deleted before it, with a
//! `foregroundDeletion` finalizer meanwhile, Orphan: kept, their ownerReference
//! removed). Difference from a real cluster: the fake's garbage collector runs at once,
//! inside the request.

use serde_json::{Value, json};

use super::{Key, Store, now};

/// The objects `owner_uid` owns.
fn dependents(st: &Store, owner_uid: &Value) -> Vec<Key> {
    st.objects
        .iter()
        .filter(|(_, o)| {
            o.pointer("/metadata/ownerReferences")
                .and_then(Value::as_array)
                .is_some_and(|refs| refs.iter().any(|r| &r["uid"] == owner_uid))
        })
        .map(|(k, _)| k.clone())
        .collect()
}

fn finalizers(obj: &Value) -> Vec<String> {
    obj.pointer("/metadata/finalizers")
        .and_then(Value::as_array)
        .map(|f| f.iter().filter_map(Value::as_str).map(str::to_string).collect())
        .unwrap_or_default()
}

/// Deletes `key` under `policy`; returns the object when its deletion is pending
/// (finalizers left), `None` when it is gone.
pub(super) fn delete(st: &mut Store, key: &Key, policy: &str) -> Option<Value> {
    let obj = st.objects.get(key)?.clone();
    let uid = obj["metadata"]["uid"].clone();
    let owned = dependents(st, &uid);
    let mut answer = None;
    if policy == "Foreground" && !owned.is_empty() {
        // What the caller sees: the owner waits for its dependents.
        let mut shown = obj.clone();
        mark(&mut shown, st.rv + 1);
        let mut f = finalizers(&shown);
        f.push("foregroundDeletion".into());
        shown["metadata"]["finalizers"] = json!(f);
        answer = Some(shown);
    }
    for dep in owned {
        if policy == "Orphan" {
            if let Some(d) = st.objects.get_mut(&dep)
                && let Some(refs) = d.pointer_mut("/metadata/ownerReferences").and_then(Value::as_array_mut)
            {
                refs.retain(|r| r["uid"] != uid);
            }
        } else {
            delete(st, &dep, "Background");
        }
    }
    st.rv += 1;
    if finalizers(&obj).is_empty() {
        st.objects.remove(key);
        st.managers.remove(key);
        st.rollouts.remove(key);
        return answer;
    }
    let rv = st.rv;
    let stored = st.objects.get_mut(key)?;
    mark(stored, rv);
    Some(answer.unwrap_or_else(|| stored.clone()))
}

fn mark(obj: &mut Value, rv: u64) {
    if obj.pointer("/metadata/deletionTimestamp").is_none() {
        obj["metadata"]["deletionTimestamp"] = json!(now());
        obj["metadata"]["deletionGracePeriodSeconds"] = json!(0);
    }
    obj["metadata"]["resourceVersion"] = json!(rv.to_string());
}

/// After a write to an object being deleted: gone once its last finalizer is.
pub(super) fn finish(st: &mut Store, key: &Key) {
    if st
        .objects
        .get(key)
        .is_some_and(|o| o.pointer("/metadata/deletionTimestamp").is_some() && finalizers(o).is_empty())
    {
        st.objects.remove(key);
        st.managers.remove(key);
    }
}
