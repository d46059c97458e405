//! What the fake serves: its kinds, and the discovery and OpenAPI documents that
//! describe them.

use axum::response::Response;
use serde_json::{Value, json};

use super::ok;

/// One served resource.
#[derive(Clone, Copy)]
pub struct Kind {
    pub group: &'static str,
    pub version: &'static str,
    pub plural: &'static str,
    pub kind: &'static str,
    pub namespaced: bool,
    pub short: &'static [&'static str],
    pub verbs: &'static [&'static str],
    pub scale: bool,
    /// Field selectors it supports besides metadata.name/namespace.
    pub fields: &'static [&'static str],
}

const RW: &[&str] = &["create", "delete", "get", "list", "patch", "update", "watch"];
const RO: &[&str] = &["get", "list"];

/// A served resource of the usual sort: every verb, no scale subresource.
const fn kind(
    group: &'static str,
    version: &'static str,
    plural: &'static str,
    kind: &'static str,
    namespaced: bool,
    short: &'static [&'static str],
    fields: &'static [&'static str],
) -> Kind {
    Kind { group, version, plural, kind, namespaced, short, verbs: RW, scale: false, fields }
}

pub const KINDS: &[Kind] = &[
    kind("", "v1", "namespaces", "Namespace", false, &["ns"], &["status.phase"]),
    kind("", "v1", "pods", "Pod", true, &["po"], &["status.phase", "spec.nodeName"]),
    kind("", "v1", "configmaps", "ConfigMap", true, &["cm"], &[]),
    kind("", "v1", "secrets", "Secret", true, &[], &["type"]),
    kind("", "v1", "services", "Service", true, &["svc"], &[]),
    kind(
        "",
        "v1",
        "events",
        "Event",
        true,
        &["ev"],
        &["involvedObject.kind", "involvedObject.name", "involvedObject.namespace", "type", "reason"],
    ),
    kind("", "v1", "nodes", "Node", false, &["no"], &["spec.unschedulable"]),
    Kind { scale: true, ..kind("apps", "v1", "deployments", "Deployment", true, &["deploy"], &[]) },
    Kind { scale: true, ..kind("apps", "v1", "replicasets", "ReplicaSet", true, &["rs"], &[]) },
    Kind { scale: true, ..kind("apps", "v1", "statefulsets", "StatefulSet", true, &["sts"], &[]) },
    kind("apps", "v1", "daemonsets", "DaemonSet", true, &["ds"], &[]),
    kind("apps", "v1", "controllerrevisions", "ControllerRevision", true, &[], &[]),
    Kind { verbs: RO, ..kind("metrics.k8s.io", "v1beta1", "pods", "PodMetrics", true, &[], &[]) },
    Kind { verbs: RO, ..kind("metrics.k8s.io", "v1beta1", "nodes", "NodeMetrics", false, &[], &[]) },
    kind("example.com", "v1", "widgets", "Widget", true, &["wd"], &[]),
    kind("policy", "v1", "poddisruptionbudgets", "PodDisruptionBudget", true, &["pdb"], &[]),
    kind("rbac.authorization.k8s.io", "v1", "roles", "Role", true, &[], &[]),
    kind("rbac.authorization.k8s.io", "v1", "rolebindings", "RoleBinding", true, &[], &[]),
    kind("rbac.authorization.k8s.io", "v1", "clusterroles", "ClusterRole", false, &[], &[]),
    kind("rbac.authorization.k8s.io", "v1", "clusterrolebindings", "ClusterRoleBinding", false, &[], &[]),
];

pub(super) fn kind_of(group: &str, version: &str, plural: &str) -> Option<&'static Kind> {
    KINDS.iter().find(|k| k.group == group && k.version == version && k.plural == plural)
}

pub(super) fn discovery(path: &str) -> Option<Response> {
    let resources = |group: &str, version: &str| {
        let mut list: Vec<Value> = vec![];
        for k in KINDS.iter().filter(|k| k.group == group && k.version == version) {
            list.push(
                json!({"name": k.plural, "singularName": k.kind.to_ascii_lowercase(), "namespaced": k.namespaced,
                "kind": k.kind, "verbs": k.verbs, "shortNames": k.short}),
            );
            if k.scale {
                list.push(
                    json!({"name": format!("{}/scale", k.plural), "singularName": "", "namespaced": k.namespaced,
                    "group": "autoscaling", "version": "v1", "kind": "Scale", "verbs": ["get", "patch", "update"]}),
                );
            }
            if k.kind == "Pod" {
                list.push(json!({"name": "pods/log", "singularName": "", "namespaced": true, "kind": "Pod", "verbs": ["get"]}));
                list.push(json!({"name": "pods/exec", "singularName": "", "namespaced": true, "kind": "PodExecOptions", "verbs": ["create", "get"]}));
                list.push(json!({"name": "pods/eviction", "singularName": "", "namespaced": true, "group": "policy", "version": "v1", "kind": "Eviction", "verbs": ["create"]}));
            }
        }
        json!({"kind": "APIResourceList", "apiVersion": "v1", "groupVersion": if group.is_empty() { version.to_string() } else { format!("{group}/{version}") }, "resources": list})
    };
    let groups = ["apps", "metrics.k8s.io", "example.com", "policy", "rbac.authorization.k8s.io"];
    let v = match path {
        "/version" => {
            json!({"major": "1", "minor": "37", "gitVersion": "v1.37.0-fake", "gitCommit": "0", "gitTreeState": "clean",
            "buildDate": "2026-01-01T00:00:00Z", "goVersion": "go1.25", "compiler": "gc", "platform": "linux/amd64"})
        }
        "/api" => {
            json!({"kind": "APIVersions", "versions": ["v1"], "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0", "serverAddress": "127.0.0.1"}]})
        }
        "/apis" => json!({"kind": "APIGroupList", "apiVersion": "v1", "groups": groups.iter().map(|g| {
            let v = if *g == "metrics.k8s.io" { "v1beta1" } else { "v1" };
            json!({"name": g, "versions": [{"groupVersion": format!("{g}/{v}"), "version": v}], "preferredVersion": {"groupVersion": format!("{g}/{v}"), "version": v}})
        }).collect::<Vec<_>>()}),
        "/api/v1" => resources("", "v1"),
        "/apis/apps/v1" => resources("apps", "v1"),
        "/apis/metrics.k8s.io/v1beta1" => resources("metrics.k8s.io", "v1beta1"),
        "/apis/example.com/v1" => resources("example.com", "v1"),
        "/apis/policy/v1" => resources("policy", "v1"),
        "/apis/rbac.authorization.k8s.io/v1" => resources("rbac.authorization.k8s.io", "v1"),
        "/openapi/v3" => json!({"paths": {
            "api/v1": {"serverRelativeURL": "/openapi/v3/api/v1?hash=A1"},
            "apis/apps/v1": {"serverRelativeURL": "/openapi/v3/apis/apps/v1?hash=B2"},
            "apis/example.com/v1": {"serverRelativeURL": "/openapi/v3/apis/example.com/v1?hash=C3"}}}),
        "/openapi/v3/api/v1" => json!({"openapi": "3.0.0", "components": {"schemas": {
            "io.k8s.api.core.v1.Pod": {"description": "Pod is a collection of containers that can run on a host.", "type": "object",
                "x-kubernetes-group-version-kind": [{"group": "", "kind": "Pod", "version": "v1"}],
                "properties": {"apiVersion": {"type": "string", "description": "APIVersion defines the versioned schema."},
                    "kind": {"type": "string", "description": "Kind is a string value."},
                    "metadata": {"allOf": [{"$ref": "#/components/schemas/io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta"}], "description": "Standard object's metadata."},
                    "spec": {"allOf": [{"$ref": "#/components/schemas/io.k8s.api.core.v1.PodSpec"}], "description": "Specification of the desired behavior of the pod."}}},
            "io.k8s.api.core.v1.PodSpec": {"description": "PodSpec is a description of a pod.", "type": "object", "required": ["containers"],
                "properties": {"containers": {"type": "array", "items": {"allOf": [{"$ref": "#/components/schemas/io.k8s.api.core.v1.Container"}]},
                    "description": "List of containers belonging to the pod."},
                    "nodeName": {"type": "string", "description": "NodeName indicates in which node this pod is scheduled."}}},
            "io.k8s.api.core.v1.Container": {"description": "A single application container.", "type": "object", "required": ["name"],
                "properties": {"name": {"type": "string", "description": "Name of the container."},
                    "image": {"type": "string", "description": "Container image name."},
                    "resources": {"allOf": [{"$ref": "#/components/schemas/io.k8s.api.core.v1.ResourceRequirements"}], "description": "Compute Resources required by this container."}}},
            "io.k8s.api.core.v1.ResourceRequirements": {"description": "ResourceRequirements describes the compute resource requirements.", "type": "object",
                "properties": {"limits": {"type": "object", "additionalProperties": {"type": "string"}, "description": "Limits describes the maximum amount of compute resources allowed."},
                    "requests": {"type": "object", "additionalProperties": {"type": "string"}, "description": "Requests describes the minimum amount of compute resources required."}}},
            "io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta": {"description": "ObjectMeta is metadata.", "type": "object",
                "properties": {"name": {"type": "string", "description": "Name must be unique within a namespace."}}}}}}),
        "/openapi/v3/apis/example.com/v1" => json!({"openapi": "3.0.0", "components": {"schemas": {
            "com.example.v1.Widget": {"type": "object", "description": "A widget of the example CRD.",
                "x-kubernetes-group-version-kind": [{"group": "example.com", "kind": "Widget", "version": "v1"}],
                "properties": {"spec": {"type": "object", "description": "The widget's wanted state.",
                    "properties": {"size": {"type": "integer", "description": "How big it is."}, "color": {"type": "string", "description": "Its color."}}}}}}}}),
        "/openapi/v3/apis/apps/v1" => json!({"openapi": "3.0.0", "components": {"schemas": {}}}),
        _ => return None,
    };
    Some(ok(v))
}
