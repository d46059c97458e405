//! `kubectl get`-style tables: the usual columns of each kind (or the asked fields), and
//! the status cells kubectl computes (a pod's, a node's, anything with conditions).

use serde_json::{Value, json};

use crate::discovery::Resource;
use crate::output::{age, at, cell, clip, lookup};

/// The columns of a table for one kind: kubectl's usual ones, or the asked fields.
pub(super) struct Columns {
    with_namespace: bool,
    fields: Vec<String>,
    kind: String,
    /// The keys of a row's structured copy (lowercased headers), made once per list.
    keys: Vec<String>,
}

impl Columns {
    pub(super) fn for_kind(res: &Resource, fields: &[String], with_namespace: bool) -> Self {
        let mut columns = Self { with_namespace, fields: fields.to_vec(), kind: res.kind.clone(), keys: vec![] };
        columns.keys = columns.headers().iter().map(|h| h.to_ascii_lowercase()).collect();
        columns
    }

    fn kind_headers(&self) -> Vec<&'static str> {
        match self.kind.as_str() {
            "Pod" => vec!["READY", "STATUS", "RESTARTS", "NODE", "AGE"],
            "Deployment" => vec!["READY", "UP-TO-DATE", "AVAILABLE", "AGE"],
            "StatefulSet" => vec!["READY", "AGE"],
            "ReplicaSet" => vec!["DESIRED", "READY", "AGE"],
            "DaemonSet" => vec!["DESIRED", "READY", "AVAILABLE", "AGE"],
            "Service" => vec!["TYPE", "CLUSTER-IP", "PORTS", "AGE"],
            "Node" => vec!["STATUS", "ROLES", "VERSION", "AGE"],
            "Namespace" => vec!["STATUS", "AGE"],
            "Job" => vec!["COMPLETIONS", "AGE"],
            "ConfigMap" => vec!["DATA", "AGE"],
            "Secret" => vec!["TYPE", "DATA", "AGE"],
            "Event" => vec!["TYPE", "REASON", "OBJECT", "MESSAGE"],
            "PersistentVolumeClaim" => vec!["STATUS", "VOLUME", "CAPACITY", "AGE"],
            "Ingress" => vec!["HOSTS", "AGE"],
            _ => vec!["STATUS", "AGE"],
        }
    }

    pub(super) fn headers(&self) -> Vec<&str> {
        let mut h = vec![];
        if self.with_namespace {
            h.push("NAMESPACE");
        }
        if self.fields.is_empty() {
            h.push("NAME");
            h.extend(self.kind_headers());
        } else {
            h.extend(self.fields.iter().map(String::as_str));
        }
        h
    }

    pub(super) fn row(&self, o: &Value, ns: Option<&str>) -> Vec<String> {
        // Fixed paths are read in place; only a path through an array (an asked field,
        // Ingress hosts) builds the values it gathers.
        let s = |p: &str| match at(o, p) {
            Some(v) => cell(v),
            None => lookup(o, p).map(|v| cell(&v)).unwrap_or_else(|| "<none>".into()),
        };
        let n = |p: &str| at(o, p).and_then(Value::as_i64).unwrap_or(0);
        let mut row = Vec::with_capacity(self.keys.len());
        if self.with_namespace {
            row.push(at(o, "metadata.namespace").map(cell).or(ns.map(str::to_string)).unwrap_or_default());
        }
        if !self.fields.is_empty() {
            row.extend(self.fields.iter().map(|f| s(f)));
            return row;
        }
        row.push(s("metadata.name"));
        let age = age(at(o, "metadata.creationTimestamp").and_then(Value::as_str));
        match self.kind.as_str() {
            "Pod" => {
                let statuses =
                    at(o, "status.containerStatuses").and_then(Value::as_array).map_or(&[][..], Vec::as_slice);
                let total = at(o, "spec.containers").and_then(Value::as_array).map_or(0, Vec::len);
                let ready = statuses.iter().filter(|c| c["ready"] == json!(true)).count();
                let restarts: i64 = statuses.iter().filter_map(|c| c["restartCount"].as_i64()).sum();
                row.extend([format!("{ready}/{total}"), pod_status(o), restarts.to_string(), s("spec.nodeName"), age]);
            }
            "Deployment" => row.extend([
                format!("{}/{}", n("status.readyReplicas"), n("spec.replicas")),
                n("status.updatedReplicas").to_string(),
                n("status.availableReplicas").to_string(),
                age,
            ]),
            "StatefulSet" => row.extend([format!("{}/{}", n("status.readyReplicas"), n("spec.replicas")), age]),
            "ReplicaSet" => row.extend([n("spec.replicas").to_string(), n("status.readyReplicas").to_string(), age]),
            "DaemonSet" => row.extend([
                n("status.desiredNumberScheduled").to_string(),
                n("status.numberReady").to_string(),
                n("status.numberAvailable").to_string(),
                age,
            ]),
            "Service" => {
                let ports = at(o, "spec.ports")
                    .and_then(Value::as_array)
                    .map_or(&[][..], Vec::as_slice)
                    .iter()
                    .map(|p| format!("{}/{}", p["port"].as_i64().unwrap_or(0), p["protocol"].as_str().unwrap_or("TCP")))
                    .collect::<Vec<_>>()
                    .join(",");
                row.extend([s("spec.type"), s("spec.clusterIP"), ports, age]);
            }
            "Node" => row.extend([node_ready(o), node_roles(o), s("status.nodeInfo.kubeletVersion"), age]),
            "Namespace" => row.extend([s("status.phase"), age]),
            "Job" => row.extend([
                format!("{}/{}", n("status.succeeded"), at(o, "spec.completions").and_then(Value::as_i64).unwrap_or(1)),
                age,
            ]),
            "ConfigMap" => {
                let count = ["data", "binaryData"]
                    .iter()
                    .filter_map(|f| o.get(f).and_then(Value::as_object))
                    .map(|m| m.len())
                    .sum::<usize>();
                row.extend([count.to_string(), age]);
            }
            "Secret" => {
                let count = o.get("data").and_then(Value::as_object).map_or(0, |m| m.len());
                row.extend([s("type"), count.to_string(), age]);
            }
            "Event" => row.extend([
                s("type"),
                s("reason"),
                format!("{}/{}", s("involvedObject.kind").to_ascii_lowercase(), s("involvedObject.name")),
                clip(&s("message"), 100),
            ]),
            "PersistentVolumeClaim" => {
                row.extend([s("status.phase"), s("spec.volumeName"), s("status.capacity.storage"), age])
            }
            "Ingress" => row.extend([s("spec.rules.host"), age]),
            _ => row.extend([generic_status(o), age]),
        }
        row
    }

    /// A table row as structured content: header → cell.
    pub(super) fn value(&self, row: &[String]) -> Value {
        let mut map = serde_json::Map::new();
        for (key, c) in self.keys.iter().zip(row) {
            map.insert(key.clone(), Value::String(c.clone()));
        }
        Value::Object(map)
    }
}

/// A pod's status as kubectl shows it: a waiting or terminated reason beats the phase.
pub(crate) fn pod_status(o: &Value) -> String {
    if o.pointer("/metadata/deletionTimestamp").is_some() {
        return "Terminating".into();
    }
    let statuses = o.pointer("/status/containerStatuses").and_then(Value::as_array).map_or(&[][..], Vec::as_slice);
    for c in statuses {
        if let Some(r) = c.pointer("/state/waiting/reason").and_then(Value::as_str) {
            return r.into();
        }
        if let Some(r) = c.pointer("/state/terminated/reason").and_then(Value::as_str)
            && o.pointer("/status/phase").and_then(Value::as_str) != Some("Succeeded")
        {
            return r.into();
        }
    }
    o.pointer("/status/phase").and_then(Value::as_str).unwrap_or("Unknown").to_string()
}

/// A node's Ready condition as kubectl shows it: `Ready`, `NotReady` or `Unknown`.
pub(super) fn ready_condition(o: &Value) -> &'static str {
    o.pointer("/status/conditions")
        .and_then(Value::as_array)
        .and_then(|c| c.iter().find(|c| c["type"] == "Ready"))
        .map(|c| if c["status"] == "True" { "Ready" } else { "NotReady" })
        .unwrap_or("Unknown")
}

fn node_ready(o: &Value) -> String {
    let ready = ready_condition(o);
    if o.pointer("/spec/unschedulable") == Some(&json!(true)) {
        format!("{ready},SchedulingDisabled")
    } else {
        ready.into()
    }
}

pub(crate) fn node_roles(o: &Value) -> String {
    let roles: Vec<&str> = o
        .pointer("/metadata/labels")
        .and_then(Value::as_object)
        .map(|l| l.keys().filter_map(|k| k.strip_prefix("node-role.kubernetes.io/")).collect())
        .unwrap_or_default();
    if roles.is_empty() { "<none>".into() } else { roles.join(",") }
}

/// A status for any kind: the phase, else the Ready/Available condition.
fn generic_status(o: &Value) -> String {
    if let Some(p) = o.pointer("/status/phase").and_then(Value::as_str) {
        return p.into();
    }
    let conditions = o.pointer("/status/conditions").and_then(Value::as_array).map_or(&[][..], Vec::as_slice);
    for t in ["Ready", "Available", "Established"] {
        if let Some(c) = conditions.iter().find(|c| c["type"] == t) {
            return format!("{t}={}", c["status"].as_str().unwrap_or("?"));
        }
    }
    "<none>".into()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn table_cells_read_fixed_paths_and_gather_through_arrays() {
        let res = Resource {
            name: "ingresses".into(),
            singular: "ingress".into(),
            kind: "Ingress".into(),
            group: "networking.k8s.io".into(),
            version: "v1".into(),
            namespaced: true,
            verbs: vec![],
            short_names: vec![],
            scalable: false,
        };
        let ing = json!({"metadata": {"name": "web", "namespace": "team-a"},
            "spec": {"rules": [{"host": "a.example"}, {"host": "b.example"}]}});
        let columns = Columns::for_kind(&res, &[], true);
        let row = columns.row(&ing, None);
        assert_eq!(row[..3], ["team-a", "web", "a.example,b.example"]);
        assert_eq!(columns.value(&row)["hosts"], "a.example,b.example");
        let columns = Columns::for_kind(&res, &["spec.rules.0.host".into(), "spec.nothing".into()], false);
        assert_eq!(columns.row(&ing, None), ["a.example", "<none>"]);
    }

    #[test]
    fn pod_status_prefers_waiting_reason() {
        let pod = json!({"status": {"phase": "Running", "containerStatuses": [{"state": {"waiting": {"reason": "CrashLoopBackOff"}}}]}});
        assert_eq!(pod_status(&pod), "CrashLoopBackOff");
    }
}
