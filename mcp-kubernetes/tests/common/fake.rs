//! An in-process Kubernetes API server for the tests: discovery, OpenAPI v3, objects in
//! memory with resourceVersions, Status errors, selectors, paging, server-side apply and
//! the patch types, dry run, pod logs, exec over the v4/v5 channel WebSocket protocol, a
//! metrics group and a CRD-served group. It rejects what a real server rejects for the
//! calls the connector makes (bad content types, wrong names, stale resourceVersions,
//! unknown field selectors, strategic patches of custom resources, missing namespaces).

// Handlers answer errors as whole responses (their size does not matter in a test
// server) and take what a request carries.
#![allow(clippy::result_large_err, clippy::too_many_arguments, clippy::collapsible_match)]

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::body::Bytes;
use axum::extract::ws::{Message, WebSocket, WebSocketUpgrade};
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use serde_json::{Map, Value, json};

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

pub const KINDS: &[Kind] = &[
    Kind {
        group: "",
        version: "v1",
        plural: "namespaces",
        kind: "Namespace",
        namespaced: false,
        short: &["ns"],
        verbs: RW,
        scale: false,
        fields: &["status.phase"],
    },
    Kind {
        group: "",
        version: "v1",
        plural: "pods",
        kind: "Pod",
        namespaced: true,
        short: &["po"],
        verbs: RW,
        scale: false,
        fields: &["status.phase", "spec.nodeName"],
    },
    Kind {
        group: "",
        version: "v1",
        plural: "configmaps",
        kind: "ConfigMap",
        namespaced: true,
        short: &["cm"],
        verbs: RW,
        scale: false,
        fields: &[],
    },
    Kind {
        group: "",
        version: "v1",
        plural: "secrets",
        kind: "Secret",
        namespaced: true,
        short: &[],
        verbs: RW,
        scale: false,
        fields: &["type"],
    },
    Kind {
        group: "",
        version: "v1",
        plural: "services",
        kind: "Service",
        namespaced: true,
        short: &["svc"],
        verbs: RW,
        scale: false,
        fields: &[],
    },
    Kind {
        group: "",
        version: "v1",
        plural: "events",
        kind: "Event",
        namespaced: true,
        short: &["ev"],
        verbs: RW,
        scale: false,
        fields: &["involvedObject.kind", "involvedObject.name", "involvedObject.namespace", "type", "reason"],
    },
    Kind {
        group: "",
        version: "v1",
        plural: "nodes",
        kind: "Node",
        namespaced: false,
        short: &["no"],
        verbs: RW,
        scale: false,
        fields: &["spec.unschedulable"],
    },
    Kind {
        group: "apps",
        version: "v1",
        plural: "deployments",
        kind: "Deployment",
        namespaced: true,
        short: &["deploy"],
        verbs: RW,
        scale: true,
        fields: &[],
    },
    Kind {
        group: "apps",
        version: "v1",
        plural: "replicasets",
        kind: "ReplicaSet",
        namespaced: true,
        short: &["rs"],
        verbs: RW,
        scale: true,
        fields: &[],
    },
    Kind {
        group: "apps",
        version: "v1",
        plural: "statefulsets",
        kind: "StatefulSet",
        namespaced: true,
        short: &["sts"],
        verbs: RW,
        scale: true,
        fields: &[],
    },
    Kind {
        group: "apps",
        version: "v1",
        plural: "daemonsets",
        kind: "DaemonSet",
        namespaced: true,
        short: &["ds"],
        verbs: RW,
        scale: false,
        fields: &[],
    },
    Kind {
        group: "apps",
        version: "v1",
        plural: "controllerrevisions",
        kind: "ControllerRevision",
        namespaced: true,
        short: &[],
        verbs: RW,
        scale: false,
        fields: &[],
    },
    Kind {
        group: "metrics.k8s.io",
        version: "v1beta1",
        plural: "pods",
        kind: "PodMetrics",
        namespaced: true,
        short: &[],
        verbs: RO,
        scale: false,
        fields: &[],
    },
    Kind {
        group: "metrics.k8s.io",
        version: "v1beta1",
        plural: "nodes",
        kind: "NodeMetrics",
        namespaced: false,
        short: &[],
        verbs: RO,
        scale: false,
        fields: &[],
    },
    Kind {
        group: "example.com",
        version: "v1",
        plural: "widgets",
        kind: "Widget",
        namespaced: true,
        short: &["wd"],
        verbs: RW,
        scale: false,
        fields: &[],
    },
];

fn kind_of(group: &str, version: &str, plural: &str) -> Option<&'static Kind> {
    KINDS.iter().find(|k| k.group == group && k.version == version && k.plural == plural)
}

/// Object key: (group/plural, namespace, name).
type Key = (String, String, String);

#[derive(Default)]
pub struct Store {
    pub objects: BTreeMap<Key, Value>,
    pub rv: u64,
    /// Exec commands seen, for assertions.
    pub execs: Vec<Vec<String>>,
}

#[derive(Clone, Default)]
pub struct Fake {
    pub store: Arc<Mutex<Store>>,
}

fn status(code: u16, reason: &str, message: &str) -> Response {
    let body = json!({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
        "message": message, "reason": reason, "code": code});
    (
        StatusCode::from_u16(code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
        [("content-type", "application/json")],
        body.to_string(),
    )
        .into_response()
}

fn ok(v: Value) -> Response {
    (StatusCode::OK, [("content-type", "application/json")], v.to_string()).into_response()
}

fn gk(k: &Kind) -> String {
    if k.group.is_empty() { k.plural.to_string() } else { format!("{}.{}", k.plural, k.group) }
}

fn api_version(k: &Kind) -> String {
    if k.group.is_empty() { k.version.to_string() } else { format!("{}/{}", k.group, k.version) }
}

fn now() -> String {
    chrono::Utc::now().format("%Y-%m-%dT%H:%M:%SZ").to_string()
}

impl Fake {
    pub fn new() -> Self {
        let fake = Self::default();
        fake.seed_base();
        fake
    }

    /// Namespaces, a node, and what every cluster has.
    fn seed_base(&self) {
        for ns in ["default", "kube-system"] {
            self.insert("namespaces", json!({"metadata": {"name": ns}}));
        }
        self.insert(
            "nodes",
            json!({"metadata": {"name": "node-1", "labels": {"node-role.kubernetes.io/control-plane": ""}},
                "spec": {"taints": [{"key": "node-role.kubernetes.io/control-plane", "effect": "NoSchedule"}]},
                "status": {"capacity": {"cpu": "4", "memory": "8Gi", "pods": "110"}, "allocatable": {"cpu": "4", "memory": "7Gi", "pods": "110"},
                    "conditions": [{"type": "Ready", "status": "True", "reason": "KubeletReady", "message": "kubelet is posting ready status"},
                                   {"type": "MemoryPressure", "status": "False", "reason": "KubeletHasSufficientMemory", "message": "ok"}],
                    "addresses": [{"type": "InternalIP", "address": "10.0.0.1"}],
                    "nodeInfo": {"kubeletVersion": "v1.37.0", "operatingSystem": "linux", "architecture": "amd64", "containerRuntimeVersion": "containerd://2.0", "kernelVersion": "6.1"},
                    "images": [{"names": ["busybox"], "sizeBytes": 1}]}}),
        );
    }

    /// Stores `obj` directly (test seeding), filling what the server would.
    pub fn insert(&self, plural_gk: &str, mut obj: Value) {
        let kind = KINDS.iter().find(|k| gk(k) == plural_gk).expect("known kind");
        let mut st = self.store.lock().expect("store");
        st.rv += 1;
        let rv = st.rv;
        fill_server_fields(kind, &mut obj, rv, "seed");
        let key = (
            gk(kind),
            obj.pointer("/metadata/namespace").and_then(Value::as_str).unwrap_or("").to_string(),
            obj["metadata"]["name"].as_str().unwrap_or("").to_string(),
        );
        st.objects.insert(key, obj);
    }

    pub fn get(&self, plural_gk: &str, ns: &str, name: &str) -> Option<Value> {
        self.store
            .lock()
            .expect("store")
            .objects
            .get(&(plural_gk.to_string(), ns.to_string(), name.to_string()))
            .cloned()
    }

    pub fn router(self) -> Router {
        Router::new()
            .route("/api/v1/namespaces/{ns}/pods/{name}/exec", axum::routing::get(exec).post(exec))
            .fallback(handle)
            .with_state(self)
    }

    /// Serves on `addr` (port 0: any) until the returned handle is aborted.
    pub async fn serve(self, addr: SocketAddr) -> (SocketAddr, tokio::task::JoinHandle<()>) {
        let listener = tokio::net::TcpListener::bind(addr).await.expect("bind fake API server");
        let addr = listener.local_addr().expect("addr");
        let app = self.router();
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        (addr, task)
    }
}

fn fill_server_fields(kind: &Kind, obj: &mut Value, rv: u64, manager: &str) {
    obj["apiVersion"] = json!(api_version(kind));
    obj["kind"] = json!(kind.kind);
    let meta = obj["metadata"].as_object_mut().expect("metadata");
    meta.insert("resourceVersion".into(), json!(rv.to_string()));
    meta.entry("uid").or_insert_with(|| json!(format!("uid-{rv}")));
    meta.entry("creationTimestamp").or_insert_with(|| json!(now()));
    meta.entry("generation").or_insert(json!(1));
    // Real servers record who owns which fields; the connector must hide it.
    meta.insert("managedFields".into(), json!([{"manager": manager, "operation": "Apply", "apiVersion": api_version(kind), "fieldsType": "FieldsV1", "fieldsV1": {"f:metadata": {}}}]));
    simulate_controllers(kind, obj);
}

/// What the kubelet and controllers would report soon after, so status reads are real.
fn simulate_controllers(kind: &Kind, obj: &mut Value) {
    match kind.kind {
        "Namespace" => obj["status"] = json!({"phase": "Active"}),
        "Pod" => {
            let containers = obj.pointer("/spec/containers").and_then(Value::as_array).cloned().unwrap_or_default();
            let statuses: Vec<Value> = containers
                .iter()
                .map(|c| json!({"name": c["name"], "image": c["image"], "ready": true, "restartCount": 0, "state": {"running": {"startedAt": now()}}}))
                .collect();
            if obj.pointer("/status/containerStatuses").is_none() {
                obj["status"] = json!({"phase": "Running", "podIP": "10.1.0.5", "containerStatuses": statuses,
                    "conditions": [{"type": "Ready", "status": "True"}, {"type": "PodScheduled", "status": "True"}]});
                if obj.pointer("/spec/nodeName").is_none() {
                    obj["spec"]["nodeName"] = json!("node-1");
                }
            }
        }
        "Deployment" | "StatefulSet" => {
            let replicas = obj.pointer("/spec/replicas").and_then(Value::as_i64).unwrap_or(1);
            let generation = obj.pointer("/metadata/generation").cloned().unwrap_or(json!(1));
            obj["status"] = json!({"observedGeneration": generation, "replicas": replicas, "updatedReplicas": replicas,
                "readyReplicas": replicas, "availableReplicas": replicas,
                "conditions": [{"type": "Available", "status": "True", "reason": "MinimumReplicasAvailable"},
                               {"type": "Progressing", "status": "True", "reason": "NewReplicaSetAvailable"}]});
        }
        _ => {}
    }
}

fn label_matches(labels: &Map<String, Value>, selector: &str) -> Result<bool, String> {
    for req in selector.split(',').map(str::trim).filter(|s| !s.is_empty()) {
        let ok = if let Some((k, v)) = req.split_once("!=") {
            labels.get(k.trim()).and_then(Value::as_str) != Some(v.trim())
        } else if let Some((k, v)) = req.split_once("==").or_else(|| req.split_once('=')) {
            labels.get(k.trim()).and_then(Value::as_str) == Some(v.trim())
        } else if let Some(k) = req.strip_prefix('!') {
            !labels.contains_key(k.trim())
        } else if req.chars().all(|c| c.is_ascii_alphanumeric() || "-_./".contains(c)) {
            labels.contains_key(req)
        } else {
            return Err(format!("unable to parse requirement: {req}"));
        };
        if !ok {
            return Ok(false);
        }
    }
    Ok(true)
}

fn field_matches(kind: &Kind, obj: &Value, selector: &str) -> Result<bool, String> {
    for req in selector.split(',').map(str::trim).filter(|s| !s.is_empty()) {
        let (field, value, negate) = if let Some((f, v)) = req.split_once("!=") {
            (f, v, true)
        } else if let Some((f, v)) = req.split_once("==").or_else(|| req.split_once('=')) {
            (f, v, false)
        } else {
            return Err(format!("invalid selector: '{req}'; can't understand '{req}'"));
        };
        if !matches!(field, "metadata.name" | "metadata.namespace") && !kind.fields.contains(&field) {
            return Err(format!("field label not supported: {field}"));
        }
        let pointer = format!("/{}", field.replace('.', "/"));
        let actual = obj.pointer(&pointer).map(|v| match v {
            Value::String(s) => s.clone(),
            other => other.to_string(),
        });
        let eq = actual.as_deref().unwrap_or("") == value;
        if eq == negate {
            return Ok(false);
        }
    }
    Ok(true)
}

fn query_map(q: Option<&str>) -> Vec<(String, String)> {
    q.map(url_pairs).unwrap_or_default()
}

fn url_pairs(q: &str) -> Vec<(String, String)> {
    q.split('&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            (decode(k), decode(v))
        })
        .collect()
}

fn decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < bytes.len() => {
                let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).ok().and_then(|h| u8::from_str_radix(h, 16).ok());
                match hex {
                    Some(b) => {
                        out.push(b);
                        i += 2;
                    }
                    None => out.push(b'%'),
                }
            }
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn param<'a>(q: &'a [(String, String)], name: &str) -> Option<&'a str> {
    q.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
}

/// Who the bearer token says the caller is.
fn user(headers: &HeaderMap) -> Option<&'static str> {
    match headers.get("authorization").and_then(|v| v.to_str().ok()) {
        Some("Bearer admin-token") => Some("admin"),
        Some("Bearer reader-token") => Some("reader"),
        _ => None,
    }
}

async fn handle(State(fake): State<Fake>, method: Method, uri: Uri, headers: HeaderMap, body: Bytes) -> Response {
    let Some(who) = user(&headers) else {
        return status(401, "Unauthorized", "Unauthorized");
    };
    let path = uri.path().to_string();
    let query = query_map(uri.query());
    if method == Method::GET
        && let Some(r) = discovery(&path)
    {
        return r;
    }
    let segs: Vec<&str> = path.trim_matches('/').split('/').collect();
    let (group, version, rest) = match segs.as_slice() {
        ["api", v, rest @ ..] => ("", *v, rest),
        ["apis", g, v, rest @ ..] => (*g, *v, rest),
        _ => return status(404, "NotFound", "the server could not find the requested resource"),
    };
    let (ns, plural, name, sub) = match rest {
        ["namespaces", ns, plural, tail @ ..] => (Some(*ns), *plural, tail.first().copied(), tail.get(1).copied()),
        [plural, tail @ ..] => (None, *plural, tail.first().copied(), tail.get(1).copied()),
        [] => return status(404, "NotFound", "the server could not find the requested resource"),
    };
    let Some(kind) = kind_of(group, version, plural) else {
        return status(404, "NotFound", "the server could not find the requested resource");
    };
    if kind.namespaced != ns.is_some() && !(kind.namespaced && ns.is_none() && name.is_none() && method == Method::GET)
    {
        return status(404, "NotFound", "the server could not find the requested resource");
    }
    let verb = match (&method, name, sub) {
        (&Method::GET, None, _) => "list",
        (&Method::GET, Some(_), _) => "get",
        (&Method::POST, None, _) => "create",
        (&Method::PUT, Some(_), _) => "update",
        (&Method::PATCH, Some(_), _) => "patch",
        (&Method::DELETE, Some(_), _) => "delete",
        _ => return status(405, "MethodNotAllowed", "the server does not allow this method on the requested resource"),
    };
    if !kind.verbs.contains(&verb) {
        return status(405, "MethodNotAllowed", "the server does not allow this method on the requested resource");
    }
    if who == "reader" && !matches!(verb, "get" | "list") {
        let target = match name {
            Some(n) => format!("{} \"{n}\"", gk(kind)),
            None => gk(kind),
        };
        let sub_s = sub.map(|s| format!("/{s}")).unwrap_or_default();
        return status(
            403,
            "Forbidden",
            &format!(
                "{target} is forbidden: User \"reader\" cannot {verb} resource \"{}{sub_s}\" in API group \"{}\"{}",
                kind.plural,
                kind.group,
                ns.map(|n| format!(" in the namespace \"{n}\"")).unwrap_or_default()
            ),
        );
    }
    if let Some(dry) = param(&query, "dryRun")
        && dry != "All"
    {
        return status(400, "BadRequest", &format!("unsupported dry run value \"{dry}\": only All is supported"));
    }
    let dry = param(&query, "dryRun") == Some("All");
    let ns = ns.unwrap_or("");
    if kind.group == "metrics.k8s.io" {
        return metrics(&fake, kind, ns, &query);
    }
    match (verb, sub) {
        ("list", _) => list(&fake, kind, ns, &query),
        ("get", None) => match fake.get(&gk(kind), ns, name.unwrap_or("")) {
            Some(o) => ok(o),
            None => not_found(kind, name.unwrap_or("")),
        },
        ("get", Some("log")) if kind.kind == "Pod" => logs(&fake, ns, name.unwrap_or(""), &query),
        ("get", Some("scale")) | ("patch", Some("scale")) if kind.scale => {
            scale(&fake, kind, ns, name.unwrap_or(""), verb, &headers, &body, dry)
        }
        (_, Some(s)) => status(404, "NotFound", &format!("the server could not find the requested resource ({s})")),
        ("create", None) => create(&fake, kind, ns, &headers, &body, dry),
        ("update", None) => update(&fake, kind, ns, name.unwrap_or(""), &body, dry),
        ("patch", None) => patch(&fake, kind, ns, name.unwrap_or(""), &headers, &body, &query, dry),
        ("delete", None) => delete(&fake, kind, ns, name.unwrap_or(""), &query, &body, dry),
        _ => status(405, "MethodNotAllowed", "not allowed"),
    }
}

fn not_found(kind: &Kind, name: &str) -> Response {
    status(404, "NotFound", &format!("{} \"{name}\" not found", gk(kind)))
}

fn discovery(path: &str) -> Option<Response> {
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
            }
        }
        json!({"kind": "APIResourceList", "apiVersion": "v1", "groupVersion": if group.is_empty() { version.to_string() } else { format!("{group}/{version}") }, "resources": list})
    };
    let groups = ["apps", "metrics.k8s.io", "example.com"];
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

fn list(fake: &Fake, kind: &Kind, ns: &str, q: &[(String, String)]) -> Response {
    let st = fake.store.lock().expect("store");
    let label = param(q, "labelSelector").unwrap_or("");
    let field = param(q, "fieldSelector").unwrap_or("");
    let limit: usize = match param(q, "limit").map(str::parse) {
        Some(Ok(n)) => n,
        Some(Err(_)) => return status(400, "BadRequest", "limit must be an integer"),
        None => 0,
    };
    let after = match param(q, "continue").filter(|c| !c.is_empty()) {
        Some(c) => match c.strip_prefix("fake-continue:") {
            Some(k) => Some(k.to_string()),
            None => return status(400, "BadRequest", "continue key is not valid: illegal base64 data"),
        },
        None => None,
    };
    let mut items = vec![];
    for ((g, n, name), obj) in st.objects.range((gk(kind), String::new(), String::new())..) {
        if g != &gk(kind) {
            break;
        }
        if !ns.is_empty() && n != ns {
            continue;
        }
        if after.as_deref().is_some_and(|a| format!("{n}/{name}").as_str() <= a) {
            continue;
        }
        let labels = obj.pointer("/metadata/labels").and_then(Value::as_object).cloned().unwrap_or_default();
        match label_matches(&labels, label) {
            Ok(true) => {}
            Ok(false) => continue,
            Err(e) => return status(400, "BadRequest", &e),
        }
        match field_matches(kind, obj, field) {
            Ok(true) => {}
            Ok(false) => continue,
            Err(e) => return status(400, "BadRequest", &e),
        }
        items.push((format!("{n}/{name}"), obj.clone()));
    }
    let total = items.len();
    let mut meta = json!({"resourceVersion": st.rv.to_string()});
    if limit > 0 && total > limit {
        meta["continue"] = json!(format!("fake-continue:{}", items[limit - 1].0));
        if label.is_empty() && field.is_empty() {
            meta["remainingItemCount"] = json!(total - limit);
        }
        items.truncate(limit);
    }
    // List items carry no kind or apiVersion, as from a real server.
    let items: Vec<Value> = items
        .into_iter()
        .map(|(_, mut o)| {
            if let Some(m) = o.as_object_mut() {
                m.remove("kind");
                m.remove("apiVersion");
            }
            o
        })
        .collect();
    ok(json!({"kind": format!("{}List", kind.kind), "apiVersion": api_version(kind), "metadata": meta, "items": items}))
}

fn validate(kind: &Kind, obj: &Value, ns: &str, name_in_url: Option<&str>) -> Result<(), Response> {
    let name = obj.pointer("/metadata/name").and_then(Value::as_str).unwrap_or("");
    let invalid = |msg: String| status(422, "Invalid", &format!("{} \"{name}\" is invalid: {msg}", kind.kind));
    if name.is_empty() {
        return Err(invalid("metadata.name: Required value: name or generateName is required".into()));
    }
    if !name.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '.') {
        return Err(invalid(format!(
            "metadata.name: Invalid value: \"{name}\": a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.'"
        )));
    }
    if let Some(u) = name_in_url
        && u != name
    {
        return Err(status(
            400,
            "BadRequest",
            &format!("the name of the object ({name}) does not match the name on the URL ({u})"),
        ));
    }
    if let Some(body_ns) = obj.pointer("/metadata/namespace").and_then(Value::as_str)
        && kind.namespaced
        && body_ns != ns
    {
        return Err(status(
            400,
            "BadRequest",
            "the namespace of the provided object does not match the namespace sent on the request",
        ));
    }
    if obj.get("kind").and_then(Value::as_str).is_some_and(|k| k != kind.kind) {
        return Err(status(400, "BadRequest", &format!("the object's kind does not match {}", kind.kind)));
    }
    match kind.kind {
        "Pod" => {
            let containers = obj.pointer("/spec/containers").and_then(Value::as_array).cloned().unwrap_or_default();
            if containers.is_empty() {
                return Err(invalid("spec.containers: Required value".into()));
            }
            for (i, c) in containers.iter().enumerate() {
                if c["image"].as_str().is_none_or(str::is_empty) {
                    return Err(invalid(format!("spec.containers[{i}].image: Required value")));
                }
            }
        }
        "ConfigMap" => {
            if let Some(d) = obj.get("data").and_then(Value::as_object)
                && d.values().any(|v| !v.is_string())
            {
                return Err(status(
                    400,
                    "BadRequest",
                    "json: cannot unmarshal into Go struct field ConfigMap.data of type string",
                ));
            }
        }
        "Deployment" => {
            if obj.pointer("/spec/selector").is_none() || obj.pointer("/spec/template/spec/containers").is_none() {
                return Err(invalid(
                    "spec.selector: Required value; spec.template.spec.containers: Required value".into(),
                ));
            }
        }
        "Widget" => {
            if let Some(size) = obj.pointer("/spec/size")
                && !size.is_i64()
            {
                return Err(invalid("spec.size: Invalid value: must be of type integer".into()));
            }
        }
        _ => {}
    }
    Ok(())
}

fn body_json(headers: &HeaderMap, body: &Bytes, allowed: &[&str]) -> Result<Value, Response> {
    let ct = headers.get("content-type").and_then(|v| v.to_str().ok()).unwrap_or("");
    let ct = ct.split(';').next().unwrap_or("").trim();
    if !allowed.contains(&ct) {
        return Err(status(
            415,
            "UnsupportedMediaType",
            &format!(
                "the body of the request was in an unknown format - accepted media types include: {}",
                allowed.join(", ")
            ),
        ));
    }
    serde_json::from_slice(body).map_err(|e| status(400, "BadRequest", &format!("error decoding body: {e}")))
}

fn namespace_exists(st: &Store, ns: &str) -> bool {
    st.objects.contains_key(&("namespaces".to_string(), String::new(), ns.to_string()))
}

fn store_object(
    fake: &Fake,
    kind: &Kind,
    ns: &str,
    mut obj: Value,
    dry: bool,
    manager: &str,
    created: bool,
) -> Response {
    let mut st = fake.store.lock().expect("store");
    if kind.namespaced && !namespace_exists(&st, ns) {
        return status(404, "NotFound", &format!("namespaces \"{ns}\" not found"));
    }
    if kind.namespaced {
        obj["metadata"]["namespace"] = json!(ns);
    }
    let name = obj["metadata"]["name"].as_str().unwrap_or("").to_string();
    let key = (gk(kind), ns.to_string(), name);
    let previous = st.objects.get(&key).cloned();
    let rv = st.rv + 1;
    if let Some(prev) = &previous {
        for f in ["uid", "creationTimestamp"] {
            obj["metadata"][f] = prev["metadata"][f].clone();
        }
        let spec_changed = prev.get("spec") != obj.get("spec");
        let generation =
            prev.pointer("/metadata/generation").and_then(Value::as_i64).unwrap_or(1) + i64::from(spec_changed);
        obj["metadata"]["generation"] = json!(generation);
        obj["status"] = prev.get("status").cloned().unwrap_or(Value::Null);
        if kind.kind == "Pod" && obj["status"].is_null() {
            obj.as_object_mut().map(|m| m.remove("status"));
        }
    } else if let Some(m) = obj.as_object_mut() {
        m.remove("status");
        for f in ["uid", "creationTimestamp", "generation"] {
            m["metadata"].as_object_mut().map(|meta| meta.remove(f));
        }
    }
    if kind.kind == "Pod" && obj.get("status").is_some_and(Value::is_null) {
        obj.as_object_mut().map(|m| m.remove("status"));
    }
    fill_server_fields(kind, &mut obj, rv, manager);
    if !dry {
        st.rv = rv;
        let template_changed =
            previous.as_ref().is_none_or(|p| p.pointer("/spec/template") != obj.pointer("/spec/template"));
        if kind.kind == "Deployment" && template_changed {
            new_replicaset(&mut st, &obj);
        }
        st.objects.insert(key, obj.clone());
    }
    let code = if created { StatusCode::CREATED } else { StatusCode::OK };
    (code, [("content-type", "application/json")], obj.to_string()).into_response()
}

/// The deployment controller: a new ReplicaSet per template, numbered by revision.
fn new_replicaset(st: &mut Store, deploy: &Value) {
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

fn create(fake: &Fake, kind: &Kind, ns: &str, headers: &HeaderMap, body: &Bytes, dry: bool) -> Response {
    let obj = match body_json(headers, body, &["application/json"]) {
        Ok(o) => o,
        Err(r) => return r,
    };
    if let Err(r) = validate(kind, &obj, ns, None) {
        return r;
    }
    let name = obj["metadata"]["name"].as_str().unwrap_or("").to_string();
    if fake.get(&gk(kind), ns, &name).is_some() {
        return status(409, "AlreadyExists", &format!("{} \"{name}\" already exists", gk(kind)));
    }
    store_object(fake, kind, ns, obj, dry, "mcp-kubernetes", true)
}

fn precondition(kind: &Kind, current: &Value, incoming: &Value) -> Result<(), Response> {
    if let Some(rv) = incoming.pointer("/metadata/resourceVersion").and_then(Value::as_str)
        && Some(rv) != current.pointer("/metadata/resourceVersion").and_then(Value::as_str)
    {
        let name = current["metadata"]["name"].as_str().unwrap_or("");
        return Err(status(
            409,
            "Conflict",
            &format!(
                "Operation cannot be fulfilled on {} \"{name}\": the object has been modified; please apply your changes to the latest version and try again",
                gk(kind)
            ),
        ));
    }
    Ok(())
}

fn update(fake: &Fake, kind: &Kind, ns: &str, name: &str, body: &Bytes, dry: bool) -> Response {
    let Ok(obj) = serde_json::from_slice::<Value>(body) else {
        return status(400, "BadRequest", "error decoding body");
    };
    let Some(current) = fake.get(&gk(kind), ns, name) else {
        return not_found(kind, name);
    };
    if obj.pointer("/metadata/resourceVersion").is_none() {
        return status(
            422,
            "Invalid",
            &format!(
                "{} \"{name}\" is invalid: metadata.resourceVersion: Invalid value: 0: must be specified for an update",
                kind.kind
            ),
        );
    }
    if let Err(r) = precondition(kind, &current, &obj).and_then(|_| validate(kind, &obj, ns, Some(name))) {
        return r;
    }
    store_object(fake, kind, ns, obj, dry, "mcp-kubernetes", false)
}

fn merge_patch(target: &mut Value, patch: &Value) {
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
fn strategic_patch(target: &mut Value, patch: &Value) {
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

fn json_patch(target: &mut Value, ops: &Value) -> Result<(), String> {
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

#[allow(clippy::too_many_arguments)]
fn patch(
    fake: &Fake,
    kind: &Kind,
    ns: &str,
    name: &str,
    headers: &HeaderMap,
    body: &Bytes,
    q: &[(String, String)],
    dry: bool,
) -> Response {
    let ct = headers
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_string();
    let current = fake.get(&gk(kind), ns, name);
    let mut patch_doc: Value = match ct.as_str() {
        "application/apply-patch+yaml" => match serde_yaml_ng::from_slice(body) {
            Ok(v) => v,
            Err(e) => return status(400, "BadRequest", &format!("error decoding YAML: {e}")),
        },
        "application/merge-patch+json" | "application/strategic-merge-patch+json" | "application/json-patch+json" => {
            match serde_json::from_slice(body) {
                Ok(v) => v,
                Err(e) => return status(400, "BadRequest", &format!("error decoding patch: {e}")),
            }
        }
        _ => {
            return status(
                415,
                "UnsupportedMediaType",
                &format!(
                    "the body of the request was in an unknown format - accepted media types include: application/json-patch+json, application/merge-patch+json, application/apply-patch+yaml, application/strategic-merge-patch+json (got {ct})"
                ),
            );
        }
    };
    let result = match ct.as_str() {
        "application/apply-patch+yaml" => {
            let Some(manager) = param(q, "fieldManager").filter(|m| !m.is_empty()) else {
                return status(
                    400,
                    "BadRequest",
                    "PATCH requests with apply content type must have a fieldManager query parameter",
                );
            };
            if patch_doc.get("apiVersion").and_then(Value::as_str) != Some(api_version(kind).as_str())
                || patch_doc.get("kind").and_then(Value::as_str) != Some(kind.kind)
            {
                return status(400, "BadRequest", "apiVersion and kind must be set and match the request URL");
            }
            if let Err(r) = validate(kind, &patch_doc, ns, Some(name)) {
                return r;
            }
            match current {
                None => {
                    if let Some(m) = patch_doc["metadata"].as_object_mut() {
                        m.remove("resourceVersion");
                    }
                    return store_object(fake, kind, ns, patch_doc, dry, manager, true);
                }
                Some(cur) => {
                    if let Err(r) = precondition(kind, &cur, &patch_doc) {
                        return r;
                    }
                    // Another manager's values may not be changed without force.
                    let owner = cur.pointer("/metadata/managedFields/0/manager").and_then(Value::as_str).unwrap_or("");
                    let force = param(q, "force") == Some("true");
                    if owner != manager && owner != "seed" && !force {
                        let mut conflicts = vec![];
                        if let (Some(a), Some(b)) = (
                            cur.get("data").and_then(Value::as_object),
                            patch_doc.get("data").and_then(Value::as_object),
                        ) {
                            for (k, v) in b {
                                if a.get(k).is_some_and(|old| old != v) {
                                    conflicts.push(format!(".data.{k}"));
                                }
                            }
                        }
                        if !conflicts.is_empty() {
                            return status(
                                409,
                                "Conflict",
                                &format!(
                                    "Apply failed with {} conflict: conflict with \"{owner}\": {}",
                                    conflicts.len(),
                                    conflicts.join(", ")
                                ),
                            );
                        }
                    }
                    let mut merged = cur.clone();
                    if let Some(m) = patch_doc["metadata"].as_object_mut() {
                        m.remove("resourceVersion");
                    }
                    merge_patch(&mut merged, &patch_doc);
                    let manager = manager.to_string();
                    return store_object(fake, kind, ns, merged, dry, &manager, false);
                }
            }
        }
        _ => {
            let Some(cur) = current else {
                return not_found(kind, name);
            };
            let mut target = cur.clone();
            match ct.as_str() {
                "application/merge-patch+json" => {
                    if !patch_doc.is_object() {
                        return status(400, "BadRequest", "a merge patch must be a JSON object");
                    }
                    if let Err(r) = precondition(kind, &cur, &patch_doc) {
                        return r;
                    }
                    if let Some(m) = patch_doc.get_mut("metadata").and_then(Value::as_object_mut) {
                        m.remove("resourceVersion");
                    }
                    merge_patch(&mut target, &patch_doc)
                }
                "application/strategic-merge-patch+json" => {
                    if kind.group == "example.com" {
                        return status(
                            415,
                            "UnsupportedMediaType",
                            "strategic merge patch is not supported for custom resources: use merge or json patch",
                        );
                    }
                    strategic_patch(&mut target, &patch_doc)
                }
                _ => {
                    if let Err(e) = json_patch(&mut target, &patch_doc) {
                        return status(422, "Invalid", &e);
                    }
                }
            }
            target
        }
    };
    if let Err(r) = validate(kind, &result, ns, Some(name)) {
        return r;
    }
    let manager = param(q, "fieldManager").unwrap_or("unknown").to_string();
    store_object(fake, kind, ns, result, dry, &manager, false)
}

fn delete(fake: &Fake, kind: &Kind, ns: &str, name: &str, q: &[(String, String)], body: &Bytes, dry: bool) -> Response {
    // DeleteOptions come in the body (clients may also use the query).
    let options: Value = if body.is_empty() {
        json!({})
    } else {
        match serde_json::from_slice(body) {
            Ok(v) => v,
            Err(e) => return status(400, "BadRequest", &format!("error decoding DeleteOptions: {e}")),
        }
    };
    let dry = match options.get("dryRun") {
        None => dry,
        Some(v) if *v == json!(["All"]) => true,
        Some(v) => return status(400, "BadRequest", &format!("unsupported dry run value {v}: only All is supported")),
    };
    let policy = options.get("propagationPolicy").and_then(Value::as_str).or(param(q, "propagationPolicy"));
    if let Some(p) = policy
        && !matches!(p, "Background" | "Foreground" | "Orphan")
    {
        return status(400, "BadRequest", &format!("unsupported propagation policy \"{p}\""));
    }
    let key = (gk(kind), ns.to_string(), name.to_string());
    let mut st = fake.store.lock().expect("store");
    let Some(obj) = st.objects.get(&key).cloned() else {
        return not_found(kind, name);
    };
    if !dry {
        st.objects.remove(&key);
    }
    ok(obj)
}

fn scale(
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
        let r = store_object(fake, kind, ns, obj.clone(), dry, "mcp-kubernetes", false);
        if !r.status().is_success() {
            return r;
        }
    }
    ok(
        json!({"kind": "Scale", "apiVersion": "autoscaling/v1", "metadata": {"name": name, "namespace": ns, "resourceVersion": obj["metadata"]["resourceVersion"]},
        "spec": {"replicas": obj.pointer("/spec/replicas").cloned().unwrap_or(json!(1))}, "status": {"replicas": obj.pointer("/status/replicas").cloned().unwrap_or(json!(0))}}),
    )
}

/// What a container "prints": the `echo` words of an `sh -c` script, one line each.
fn scripted_output(script: &str) -> (String, String, i64, u64) {
    let (mut out, mut err, mut code, mut sleep) = (String::new(), String::new(), 0, 0);
    for part in script.split(';').map(str::trim) {
        if let Some(rest) = part.strip_prefix("echo ") {
            let (text, to_err) = match rest.strip_suffix(">&2") {
                Some(t) => (t.trim(), true),
                None => (rest.trim(), false),
            };
            let line = format!("{}\n", text.trim_matches('"').trim_matches('\''));
            if to_err { err += &line } else { out += &line }
        } else if let Some(n) = part.strip_prefix("exit ") {
            code = n.trim().parse().unwrap_or(1);
            break;
        } else if let Some(n) = part.strip_prefix("sleep ") {
            sleep += n.trim().parse::<u64>().unwrap_or(0);
        } else if let Some(n) = part.strip_prefix("seq ") {
            for i in 1..=n.trim().parse::<u64>().unwrap_or(0) {
                out += &format!("{i}\n");
            }
        }
    }
    (out, err, code, sleep)
}

fn logs(fake: &Fake, ns: &str, name: &str, q: &[(String, String)]) -> Response {
    let Some(pod) = fake.get("pods", ns, name) else {
        return status(404, "NotFound", &format!("pods \"{name}\" not found"));
    };
    let containers = pod.pointer("/spec/containers").and_then(Value::as_array).cloned().unwrap_or_default();
    let names: Vec<&str> = containers.iter().filter_map(|c| c["name"].as_str()).collect();
    let container = match param(q, "container") {
        Some(c) => match containers.iter().find(|x| x["name"] == c) {
            Some(x) => x.clone(),
            None => return status(400, "BadRequest", &format!("container {c} is not valid for pod {name}")),
        },
        None if containers.len() == 1 => containers[0].clone(),
        None => {
            return status(
                400,
                "BadRequest",
                &format!("a container name must be specified for pod {name}, choose one of: [{}]", names.join(" ")),
            );
        }
    };
    if param(q, "previous") == Some("true") {
        return status(
            400,
            "BadRequest",
            &format!(
                "previous terminated container \"{}\" in pod \"{name}\" not found",
                container["name"].as_str().unwrap_or("")
            ),
        );
    }
    let command: Vec<String> = container["command"]
        .as_array()
        .map(|a| a.iter().filter_map(|v| v.as_str().map(str::to_string)).collect())
        .unwrap_or_default();
    let script =
        if command.first().map(String::as_str) == Some("sh") && command.get(1).map(String::as_str) == Some("-c") {
            command.get(2).cloned().unwrap_or_default()
        } else {
            String::new()
        };
    let (out, _, _, _) = scripted_output(&script);
    let mut lines: Vec<&str> = out.lines().collect();
    if let Some(t) = param(q, "tailLines") {
        let Ok(t) = t.parse::<usize>() else { return status(400, "BadRequest", "tailLines must be an integer") };
        lines = lines.split_off(lines.len().saturating_sub(t));
    }
    let mut text = lines.iter().map(|l| format!("{l}\n")).collect::<String>();
    if let Some(b) = param(q, "limitBytes").and_then(|b| b.parse::<usize>().ok()) {
        text.truncate(b);
    }
    (StatusCode::OK, [("content-type", "text/plain")], text).into_response()
}

fn metrics(fake: &Fake, kind: &Kind, ns: &str, q: &[(String, String)]) -> Response {
    let st = fake.store.lock().expect("store");
    let field = param(q, "fieldSelector").unwrap_or("");
    let mut items = vec![];
    let source = if kind.plural == "pods" { "pods" } else { "nodes" };
    for ((g, n, name), obj) in st.objects.iter() {
        if g != source || (!ns.is_empty() && n != ns) {
            continue;
        }
        if !field.is_empty() && field != format!("metadata.name={name}") {
            continue;
        }
        let seed = name.bytes().map(u64::from).sum::<u64>();
        if kind.plural == "pods" {
            let containers: Vec<Value> = obj.pointer("/spec/containers").and_then(Value::as_array).cloned().unwrap_or_default().iter()
                .map(|c| json!({"name": c["name"], "usage": {"cpu": format!("{}m", seed % 500 + 1), "memory": format!("{}Ki", (seed % 64 + 1) * 1024)}}))
                .collect();
            items.push(json!({"metadata": {"name": name, "namespace": n}, "timestamp": now(), "window": "15s", "containers": containers}));
        } else {
            items.push(json!({"metadata": {"name": name}, "timestamp": now(), "window": "15s", "usage": {"cpu": "1000m", "memory": "2048Mi"}}));
        }
    }
    ok(
        json!({"kind": format!("{}List", kind.kind), "apiVersion": "metrics.k8s.io/v1beta1", "metadata": {}, "items": items}),
    )
}

async fn exec(
    State(fake): State<Fake>,
    Path((ns, name)): Path<(String, String)>,
    RawQuery(q): RawQuery,
    headers: HeaderMap,
    ws: Result<WebSocketUpgrade, axum::extract::ws::rejection::WebSocketUpgradeRejection>,
) -> Response {
    if user(&headers).is_none() {
        return status(401, "Unauthorized", "Unauthorized");
    }
    if user(&headers) == Some("reader") {
        return status(
            403,
            "Forbidden",
            &format!(
                "pods \"{name}\" is forbidden: User \"reader\" cannot create resource \"pods/exec\" in API group \"\" in the namespace \"{ns}\""
            ),
        );
    }
    let q = query_map(q.as_deref());
    let command: Vec<String> = q.iter().filter(|(k, _)| k == "command").map(|(_, v)| v.clone()).collect();
    if command.is_empty() {
        return status(400, "BadRequest", "you must specify at least 1 command");
    }
    let Some(pod) = fake.get("pods", &ns, &name) else {
        return status(404, "NotFound", &format!("pods \"{name}\" not found"));
    };
    let containers = pod.pointer("/spec/containers").and_then(Value::as_array).cloned().unwrap_or_default();
    if let Some(c) = param(&q, "container")
        && !containers.iter().any(|x| x["name"] == c)
    {
        return status(400, "BadRequest", &format!("container {c} is not valid for pod {name}"));
    }
    let protocols: Vec<String> = headers
        .get("sec-websocket-protocol")
        .and_then(|v| v.to_str().ok())
        .map(|v| v.split(',').map(|s| s.trim().to_string()).collect())
        .unwrap_or_default();
    let Some(proto) = ["v5.channel.k8s.io", "v4.channel.k8s.io"].into_iter().find(|p| protocols.iter().any(|x| x == p))
    else {
        return status(
            400,
            "BadRequest",
            "no supported remotecommand subprotocol was requested (want v4.channel.k8s.io or v5.channel.k8s.io)",
        );
    };
    let Ok(ws) = ws else {
        return status(400, "BadRequest", "Upgrade request required");
    };
    fake.store.lock().expect("store").execs.push(command.clone());
    ws.protocols([proto]).on_upgrade(move |socket| run_exec(socket, command))
}

async fn run_exec(mut socket: WebSocket, command: Vec<String>) {
    let (out, err, code, sleep) = match command.as_slice() {
        [sh, c, script] if sh == "sh" && c == "-c" => scripted_output(script),
        [echo, rest @ ..] if echo == "echo" => (format!("{}\n", rest.join(" ")), String::new(), 0, 0),
        [other, ..] => (String::new(), format!("exec: \"{other}\": executable file not found in $PATH\n"), 127, 0),
        [] => (String::new(), String::new(), 0, 0),
    };
    let frame = |channel: u8, data: &[u8]| {
        let mut v = vec![channel];
        v.extend_from_slice(data);
        Message::Binary(v.into())
    };
    // Output in chunks, as a container writes it.
    for chunk in out.as_bytes().chunks(4096) {
        if socket.send(frame(1, chunk)).await.is_err() {
            return;
        }
    }
    if !err.is_empty() && socket.send(frame(2, err.as_bytes())).await.is_err() {
        return;
    }
    if sleep > 0 {
        tokio::time::sleep(std::time::Duration::from_secs(sleep)).await;
    }
    let status = if code == 0 {
        json!({"metadata": {}, "status": "Success"})
    } else {
        json!({"metadata": {}, "status": "Failure", "message": format!("command terminated with non-zero exit code: error executing command [{}], exit code {code}", command.join(" ")),
            "reason": "NonZeroExitCode", "details": {"causes": [{"reason": "ExitCode", "message": code.to_string()}]}})
    };
    let _ = socket.send(frame(3, status.to_string().as_bytes())).await;
    let _ = socket.send(Message::Close(None)).await;
}
