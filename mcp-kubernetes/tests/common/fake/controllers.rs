//! What the fake's controllers do besides settling status: the deployment controller's
//! ReplicaSets.

use serde_json::{Value, json};

use super::{Store, fill_server_fields, kind_of};

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
