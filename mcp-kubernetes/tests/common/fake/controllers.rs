//! What the fake's controllers do besides settling status: the deployment controller's
//! ReplicaSets and rollouts that take time.

use std::time::{Duration, Instant};

use serde_json::{Value, json};

use super::{KINDS, Key, Store, fill_server_fields, gk, kind_of, simulate_controllers};

/// The deployment controller: a new ReplicaSet per template, numbered by revision.
pub(super) fn new_replicaset(st: &mut Store, deploy: &Value) {
    let ns = deploy["metadata"]["namespace"].as_str().unwrap_or("").to_string();
    let name = deploy["metadata"]["name"].as_str().unwrap_or("").to_string();
    let uid = deploy["metadata"]["uid"].clone();
    let revision = st
        .objects
        .iter()
        .filter(|((g, n, _), o)| {
            g == "replicasets.apps" && n == &ns && o.pointer("/metadata/ownerReferences/0/uid") == Some(&uid)
        })
        .filter_map(|(_, o)| {
            o.pointer("/metadata/annotations/deployment.kubernetes.io~1revision")
                .and_then(Value::as_str)
                .and_then(|r| r.parse::<i64>().ok())
        })
        .max()
        .unwrap_or(0)
        + 1;
    let mut template = deploy.pointer("/spec/template").cloned().unwrap_or(json!({}));
    let hash = format!("h{}", st.rv);
    template["metadata"]["labels"]["pod-template-hash"] = json!(hash);
    let mut labels = deploy.pointer("/spec/selector/matchLabels").cloned().unwrap_or(json!({}));
    labels["pod-template-hash"] = json!(hash);
    st.rv += 1;
    let mut rs = json!({"metadata": {"name": format!("{name}-{hash}"), "namespace": ns, "labels": labels,
        "annotations": {"deployment.kubernetes.io/revision": revision.to_string()},
        "ownerReferences": [{"apiVersion": "apps/v1", "kind": "Deployment", "name": name, "uid": uid, "controller": true}]},
        "spec": {"replicas": deploy.pointer("/spec/replicas").cloned().unwrap_or(json!(1)), "selector": deploy.pointer("/spec/selector"), "template": template}});
    let kind = kind_of("apps", "v1", "replicasets").expect("rs kind");
    let rv = st.rv;
    fill_server_fields(kind, &mut rs, rv, "kube-controller-manager");
    st.objects.insert(("replicasets.apps".into(), ns, rs["metadata"]["name"].as_str().unwrap_or("").to_string()), rs);
}

/// How long the fake's deployment controller takes to roll a change out. A real one
/// takes as long as the pods take to become available; this is fixed.
pub const ROLLOUT: Duration = Duration::from_millis(600);

/// A Deployment whose pods change (created, a new template or replica count) starts a
/// rollout: until [`ROLLOUT`] has passed its status shows the new replicas not yet
/// updated, as a real controller's would. Returns when the rollout is to finish.
pub(super) fn start_rollout(st: &Store, key: &Key, previous: Option<&Value>, obj: &mut Value) -> Option<Instant> {
    let changed = previous.is_none_or(|p| {
        p.pointer("/spec/template") != obj.pointer("/spec/template")
            || p.pointer("/spec/replicas") != obj.pointer("/spec/replicas")
    });
    let prev_status = previous.and_then(|p| p.get("status")).cloned().unwrap_or(json!({}));
    if !changed {
        // Nothing new: a rollout under way goes on as it was.
        if st.rollouts.contains_key(key) {
            obj["status"] = prev_status;
        }
        return None;
    }
    let desired = obj.pointer("/spec/replicas").and_then(Value::as_i64).unwrap_or(1);
    let available = prev_status["availableReplicas"].as_i64().unwrap_or(0);
    let name = obj["metadata"]["name"].as_str().unwrap_or("").to_string();
    obj["status"] = json!({"observedGeneration": obj["metadata"]["generation"], "replicas": desired,
        "updatedReplicas": 0, "readyReplicas": prev_status["readyReplicas"].as_i64().unwrap_or(0),
        "availableReplicas": available, "unavailableReplicas": desired,
        "conditions": [
            if available >= desired {
                json!({"type": "Available", "status": "True", "reason": "MinimumReplicasAvailable"})
            } else {
                json!({"type": "Available", "status": "False", "reason": "MinimumReplicasUnavailable"})
            },
            {"type": "Progressing", "status": "True", "reason": "ReplicaSetUpdated",
             "message": format!("ReplicaSet of deployment \"{name}\" is progressing.")}]});
    Some(Instant::now() + ROLLOUT)
}

/// Finishes the rollouts whose time has come: their status settles (a status write, so
/// a new resourceVersion).
pub(super) fn settle_rollouts(st: &mut Store) {
    let now = Instant::now();
    let due: Vec<Key> = st.rollouts.iter().filter(|(_, t)| **t <= now).map(|(k, _)| k.clone()).collect();
    for key in due {
        st.rollouts.remove(&key);
        let Some(kind) = KINDS.iter().find(|k| gk(k) == key.0) else { continue };
        let rv = st.rv + 1;
        if let Some(obj) = st.objects.get_mut(&key) {
            simulate_controllers(kind, obj);
            obj["metadata"]["resourceVersion"] = json!(rv.to_string());
            st.rv = rv;
        }
    }
}
