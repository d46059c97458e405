//! Field validation as a real API server does it: with `fieldValidation=Strict` a field
//! the kind does not declare is an error; otherwise it is dropped. Secrets' `data` must be
//! base64 and `stringData` is folded into it. Difference from a real server: the fake
//! knows the fields of the top level, metadata, a Deployment's and a Widget's spec, not a
//! whole schema.

use base64::Engine;
use serde_json::{Value, json};

use super::Kind;

const METADATA: &[&str] = &[
    "name",
    "generateName",
    "namespace",
    "labels",
    "annotations",
    "finalizers",
    "ownerReferences",
    "resourceVersion",
    "uid",
    "generation",
    "creationTimestamp",
    "deletionTimestamp",
    "deletionGracePeriodSeconds",
    "managedFields",
    "selfLink",
];

/// The fields of the top level and of `spec` the fake knows for `kind` (None: not checked).
fn declared(kind: &str) -> Option<(&'static [&'static str], Option<&'static [&'static str]>)> {
    Some(match kind {
        "ConfigMap" => (&["data", "binaryData", "immutable"], None),
        "Secret" => (&["data", "stringData", "type", "immutable"], None),
        "Deployment" => (
            &["spec", "status"],
            Some(&[
                "replicas",
                "selector",
                "template",
                "strategy",
                "minReadySeconds",
                "revisionHistoryLimit",
                "progressDeadlineSeconds",
                "paused",
            ]),
        ),
        "Widget" => (&["spec", "status"], Some(&["size", "color"])),
        "Pod" | "Namespace" | "StatefulSet" | "DaemonSet" | "ReplicaSet" | "Service" => (&["spec", "status"], None),
        _ => return None,
    })
}

/// The undeclared fields of `obj` (as `.a.b` paths), removed from it.
pub(super) fn prune(kind: &Kind, obj: &mut Value) -> Vec<String> {
    let Some((top, spec)) = declared(kind.kind) else { return vec![] };
    let mut unknown = vec![];
    let mut drop_from = |v: &mut Value, at: &str, known: &[&str]| {
        if let Some(m) = v.as_object_mut() {
            let extra: Vec<String> = m.keys().filter(|k| !known.contains(&k.as_str())).cloned().collect();
            for k in extra {
                m.remove(&k);
                unknown.push(format!("{at}.{k}"));
            }
        }
    };
    let mut top_known = vec!["apiVersion", "kind", "metadata"];
    top_known.extend_from_slice(top);
    drop_from(obj, "", &top_known);
    if let Some(meta) = obj.get_mut("metadata") {
        drop_from(meta, ".metadata", METADATA);
    }
    if let (Some(spec_known), Some(s)) = (spec, obj.get_mut("spec")) {
        drop_from(s, ".spec", spec_known);
    }
    unknown
}

/// The error a real server gives for undeclared fields under Strict validation.
pub(super) fn strict_error(apply: bool, unknown: &[String]) -> String {
    if apply {
        unknown.iter().map(|f| format!("{f}: field not declared in schema")).collect::<Vec<_>>().join(", ")
    } else {
        let fields: Vec<String> =
            unknown.iter().map(|f| format!("unknown field \"{}\"", f.trim_start_matches('.'))).collect();
        format!("strict decoding error: {}", fields.join(", "))
    }
}

/// A Secret's `data` decoded as the server would: each value base64, `stringData` folded in.
pub(super) fn secret(obj: &mut Value) -> Result<(), String> {
    let engine = base64::engine::general_purpose::STANDARD;
    if let Some(data) = obj.get("data").and_then(Value::as_object) {
        for v in data.values() {
            let s = v.as_str().unwrap_or("");
            if let Err(e) = engine.decode(s) {
                return Err(format!(
                    "Secret in version \"v1\" cannot be handled as a Secret: illegal base64 data: {e}"
                ));
            }
        }
    }
    if let Some(Value::Object(plain)) = obj.as_object_mut().and_then(|m| m.remove("stringData")) {
        for (k, v) in plain {
            obj["data"][k] = json!(engine.encode(v.as_str().unwrap_or("")));
        }
    }
    Ok(())
}
