//! The scale subresource on the fake: read, and patched as `workload_scale` does.

use axum::body::Bytes;
use axum::http::HeaderMap;
use axum::response::Response;
use serde_json::{Value, json};

use super::{Fake, Kind, Owner, body_json, gk, manager_of, not_found, ok, status, store_object};

pub(super) fn scale(
    fake: &Fake,
    kind: &Kind,
    ns: &str,
    name: &str,
    verb: &str,
    headers: &HeaderMap,
    body: &Bytes,
    dry: bool,
) -> Response {
    let Some(mut obj) = fake.get(&gk(kind), ns, name) else {
        return not_found(kind, name);
    };
    if verb == "patch" {
        let patch =
            match body_json(headers, body, &["application/merge-patch+json", "application/strategic-merge-patch+json"])
            {
                Ok(p) => p,
                Err(r) => return r,
            };
        let Some(replicas) = patch.pointer("/spec/replicas").and_then(Value::as_i64).filter(|r| *r >= 0) else {
            return status(
                422,
                "Invalid",
                "Scale.autoscaling \"\" is invalid: spec.replicas: Invalid value: must be greater than or equal to 0",
            );
        };
        obj["spec"]["replicas"] = json!(replicas);
        let r = store_object(fake, kind, ns, obj.clone(), dry, Owner::Update(&manager_of(&[], headers)), false);
        if !r.status().is_success() {
            return r;
        }
    }
    ok(
        json!({"kind": "Scale", "apiVersion": "autoscaling/v1", "metadata": {"name": name, "namespace": ns, "resourceVersion": obj["metadata"]["resourceVersion"]},
        "spec": {"replicas": obj.pointer("/spec/replicas").cloned().unwrap_or(json!(1))}, "status": {"replicas": obj.pointer("/status/replicas").cloned().unwrap_or(json!(0))}}),
    )
}
