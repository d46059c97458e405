//! An in-process Kubernetes API server for the tests: discovery, OpenAPI v3, objects in
//! memory with resourceVersions, Status errors, selectors, paging, server-side apply and
//! the patch types, dry run, pod logs, exec over the v4/v5 channel WebSocket protocol, a
//! metrics group and a CRD-served group. It rejects what a real server rejects for the
//! calls the connector makes (bad content types, wrong names, stale resourceVersions,
//! unknown field selectors, strategic patches of custom resources, missing namespaces).
//! Also PodDisruptionBudgets and the eviction subresource, the node proxy (`fake/nodes.rs`)
//! and RBAC for impersonated requests, decided by the RBAC objects it holds (`fake/rbac.rs`).
//! Strict where users meet it: field managers (`fake/ssa.rs`), no-op writes, preconditions,
//! expiring continue tokens (`fake/list.rs`), rollouts that take time, finalizers and
//! propagation (`fake/deletion.rs`), field validation (`fake/schema.rs`).

// Handlers answer errors as whole responses (their size does not matter in a test
// server) and take what a request carries.
#![allow(clippy::result_large_err, clippy::too_many_arguments, clippy::collapsible_match)]

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

#[path = "fake/controllers.rs"]
mod controllers;
#[path = "fake/deletion.rs"]
mod deletion;
#[path = "fake/kinds.rs"]
mod kinds;
#[path = "fake/list.rs"]
mod list;
#[path = "fake/nodes.rs"]
mod nodes;
#[path = "fake/patch.rs"]
mod patch;
#[path = "fake/pods.rs"]
mod pods;
#[path = "fake/query.rs"]
mod query;
#[path = "fake/rbac.rs"]
mod rbac;
#[path = "fake/scale.rs"]
mod scale;
#[path = "fake/schema.rs"]
mod schema;
#[path = "fake/ssa.rs"]
mod ssa;

use controllers::{new_replicaset, settle_rollouts, start_rollout};
pub use kinds::{KINDS, Kind};
use kinds::{discovery, kind_of};
use list::list;
use patch::{json_patch, merge_patch, strategic_patch};
use pods::{exec, logs, metrics};
use query::{param, query_map};
use scale::scale;

/// Object key: (group/plural, namespace, name).
type Key = (String, String, String);

#[derive(Default)]
pub struct Store {
    pub objects: BTreeMap<Key, Value>,
    pub rv: u64,
    /// Continue tokens issued before this resourceVersion have expired (410 Gone), as
    /// after a real server's etcd compaction (every five minutes by default).
    pub compacted: u64,
    /// Deployments rolling out, and when each rollout finishes.
    pub rollouts: BTreeMap<Key, std::time::Instant>,
    /// Who owns which fields of each object (server-side apply).
    pub managers: BTreeMap<Key, ssa::Managers>,
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

    /// Expires every continue token issued so far, as a compaction would.
    pub fn compact(&self) {
        let mut st = self.store.lock().expect("store");
        st.compacted = st.rv + 1;
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
    settle_rollouts(&mut fake.store.lock().expect("store"));
    let path = uri.path().to_string();
    let query = query_map(uri.query());
    if method == Method::GET
        && let Some(r) = discovery(&path)
    {
        return r;
    }
    let segs: Vec<&str> = path.trim_matches('/').split('/').collect();
    if let ["api", "v1", "nodes", node, "proxy", ..] = segs.as_slice() {
        let attrs =
            rbac::Attributes { verb: "get", group: "", resource: "nodes/proxy".into(), namespace: "", name: node };
        if let Err(r) = rbac::authorize(&fake, who, &headers, &attrs) {
            return r;
        }
        let rest = path.splitn(7, '/').nth(6).unwrap_or("");
        return nodes::proxy(&fake, node, rest, &query, &headers);
    }
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
        (&Method::POST, Some(_), Some(_)) => "create",
        (&Method::PUT, Some(_), _) => "update",
        (&Method::PATCH, Some(_), _) => "patch",
        (&Method::DELETE, Some(_), _) => "delete",
        _ => return status(405, "MethodNotAllowed", "the server does not allow this method on the requested resource"),
    };
    if !kind.verbs.contains(&verb) {
        return status(405, "MethodNotAllowed", "the server does not allow this method on the requested resource");
    }
    let attrs = rbac::Attributes {
        verb,
        group,
        resource: match sub {
            Some(s) => format!("{}/{s}", kind.plural),
            None => kind.plural.to_string(),
        },
        namespace: ns.unwrap_or(""),
        name: name.unwrap_or(""),
    };
    if let Err(r) = rbac::authorize(&fake, who, &headers, &attrs) {
        return r;
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
    let call = Call { fake: &fake, kind, ns, name: name.unwrap_or(""), headers: &headers, body: &body, q: &query, dry };
    match (verb, sub) {
        ("list", _) => list(&fake, kind, ns, &query),
        ("get", None) => match fake.get(&gk(kind), ns, name.unwrap_or("")) {
            Some(o) => ok(o),
            None => not_found(kind, name.unwrap_or("")),
        },
        ("get", Some("log")) if kind.kind == "Pod" => logs(&fake, ns, name.unwrap_or(""), &query),
        ("create", Some("eviction")) if kind.kind == "Pod" => {
            nodes::evict(&fake, ns, name.unwrap_or(""), &headers, &body)
        }
        ("get", Some("scale")) | ("patch", Some("scale")) if kind.scale => {
            scale(&fake, kind, ns, name.unwrap_or(""), verb, &headers, &body, dry)
        }
        (_, Some(s)) => status(404, "NotFound", &format!("the server could not find the requested resource ({s})")),
        ("create", None) => create(call),
        ("update", None) => update(call),
        ("patch", None) => patch(call),
        ("delete", None) => delete(call),
        _ => status(405, "MethodNotAllowed", "not allowed"),
    }
}

fn not_found(kind: &Kind, name: &str) -> Response {
    status(404, "NotFound", &format!("{} \"{name}\" not found", gk(kind)))
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

/// Field validation: a Secret's data must be base64; undeclared fields are dropped, or
/// refused when the client asked for `fieldValidation=Strict`.
fn check_fields(kind: &Kind, obj: &mut Value, q: &[(String, String)], apply: bool) -> Result<(), Response> {
    if kind.kind == "Secret" {
        schema::secret(obj).map_err(|e| status(400, "BadRequest", &e))?;
    }
    let unknown = schema::prune(kind, obj);
    if !unknown.is_empty() && param(q, "fieldValidation") == Some("Strict") {
        return Err(status(400, "BadRequest", &schema::strict_error(apply, &unknown)));
    }
    Ok(())
}

fn namespace_exists(st: &Store, ns: &str) -> bool {
    st.objects.contains_key(&("namespaces".to_string(), String::new(), ns.to_string()))
}

/// Who writes: an Update by a field manager, or an apply of a configuration (forced or not).
pub(crate) enum Owner<'a> {
    Update(&'a str),
    Apply(&'a str, &'a Value, bool),
}

/// The field manager of a non-apply write: `fieldManager`, else the client's name from
/// its user agent, as a real server derives it.
fn manager_of(q: &[(String, String)], headers: &HeaderMap) -> String {
    if let Some(m) = param(q, "fieldManager").filter(|m| !m.is_empty()) {
        return m.to_string();
    }
    let agent = headers.get("user-agent").and_then(|v| v.to_str().ok()).unwrap_or("");
    match agent.split('/').next().filter(|a| !a.is_empty()) {
        Some(a) => a.to_string(),
        None => "unknown".into(),
    }
}

fn store_object(
    fake: &Fake,
    kind: &Kind,
    ns: &str,
    mut obj: Value,
    dry: bool,
    owner: Owner,
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
        for f in ["deletionTimestamp", "deletionGracePeriodSeconds"] {
            if let Some(v) = prev["metadata"].get(f) {
                obj["metadata"][f] = v.clone();
            }
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
    // No status is no `status` key (not a null one), whatever the kind.
    if obj.get("status").is_some_and(Value::is_null) {
        obj.as_object_mut().map(|m| m.remove("status"));
    }
    let (manager, apply) = match owner {
        Owner::Update(m) => (m, None),
        Owner::Apply(m, applied, force) => (m, Some((applied, force))),
    };
    fill_server_fields(kind, &mut obj, rv, manager);
    let rollout = if kind.kind == "Deployment" { start_rollout(&st, &key, previous.as_ref(), &mut obj) } else { None };
    let managers =
        ssa::record(st.managers.get(&key).cloned().unwrap_or_default(), manager, previous.as_ref(), &obj, apply);
    obj["metadata"]["managedFields"] = ssa::render(&managers, &api_version(kind));
    // A write that changes nothing (values and ownership) is a no-op: a real server
    // answers with the stored object and does not bump its resourceVersion.
    if let Some(prev) = &previous {
        let mut same = obj.clone();
        same["metadata"]["resourceVersion"] = prev["metadata"]["resourceVersion"].clone();
        if &same == prev {
            return ok(prev.clone());
        }
    }
    if !dry {
        st.managers.insert(key.clone(), managers);
        if let Some(done) = rollout {
            st.rollouts.insert(key.clone(), done);
        }
        st.rv = rv;
        let template_changed =
            previous.as_ref().is_none_or(|p| p.pointer("/spec/template") != obj.pointer("/spec/template"));
        if kind.kind == "Deployment" && template_changed {
            new_replicaset(&mut st, &obj);
        }
        st.objects.insert(key.clone(), obj.clone());
        deletion::finish(&mut st, &key);
    }
    let code = if created { StatusCode::CREATED } else { StatusCode::OK };
    (code, [("content-type", "application/json")], obj.to_string()).into_response()
}

/// What a write handler is given: the request, resolved.
#[derive(Clone, Copy)]
struct Call<'a> {
    fake: &'a Fake,
    kind: &'a Kind,
    ns: &'a str,
    name: &'a str,
    headers: &'a HeaderMap,
    body: &'a Bytes,
    q: &'a [(String, String)],
    dry: bool,
}

fn create(c: Call) -> Response {
    let Call { fake, kind, ns, headers, body, q, dry, .. } = c;
    let mut obj = match body_json(headers, body, &["application/json"]) {
        Ok(o) => o,
        Err(r) => return r,
    };
    if let Err(r) = check_fields(kind, &mut obj, q, false).and_then(|_| validate(kind, &obj, ns, None)) {
        return r;
    }
    let name = obj["metadata"]["name"].as_str().unwrap_or("").to_string();
    if fake.get(&gk(kind), ns, &name).is_some() {
        return status(409, "AlreadyExists", &format!("{} \"{name}\" already exists", gk(kind)));
    }
    store_object(fake, kind, ns, obj, dry, Owner::Update(&manager_of(q, headers)), true)
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

fn update(c: Call) -> Response {
    let Call { fake, kind, ns, name, headers, body, q, dry } = c;
    let mut obj = match body_json(headers, body, &["application/json"]) {
        Ok(o) => o,
        Err(r) => return r,
    };
    if let Err(r) = check_fields(kind, &mut obj, q, false) {
        return r;
    }
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
    store_object(fake, kind, ns, obj, dry, Owner::Update(&manager_of(q, headers)), false)
}

fn patch(c: Call) -> Response {
    let Call { fake, kind, ns, name, headers, body, q, dry } = c;
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
    let mut result = match ct.as_str() {
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
            if let Err(r) =
                check_fields(kind, &mut patch_doc, q, true).and_then(|_| validate(kind, &patch_doc, ns, Some(name)))
            {
                return r;
            }
            if let Some(cur) = &current
                && let Err(r) = precondition(kind, cur, &patch_doc)
            {
                return r;
            }
            if let Some(m) = patch_doc["metadata"].as_object_mut() {
                m.remove("resourceVersion");
            }
            let force = param(q, "force") == Some("true");
            let applied = patch_doc.clone();
            let owner = Owner::Apply(manager, &applied, force);
            match current {
                None => return store_object(fake, kind, ns, patch_doc, dry, owner, true),
                Some(cur) => {
                    let managers = {
                        let st = fake.store.lock().expect("store");
                        st.managers.get(&(gk(kind), ns.to_string(), name.to_string())).cloned().unwrap_or_default()
                    };
                    if !force && let Some(msg) = ssa::conflicts(&managers, manager, &cur, &applied) {
                        return status(409, "Conflict", &msg);
                    }
                    let merged = ssa::merge(&managers, manager, &cur, &applied);
                    return store_object(fake, kind, ns, merged, dry, owner, false);
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
            // Whatever the patch type, a resourceVersion in the patched object is a
            // precondition (a JSON or strategic patch can set it as well as a merge).
            if let Err(r) = precondition(kind, &cur, &target) {
                return r;
            }
            target
        }
    };
    if let Err(r) = check_fields(kind, &mut result, q, false).and_then(|_| validate(kind, &result, ns, Some(name))) {
        return r;
    }
    store_object(fake, kind, ns, result, dry, Owner::Update(&manager_of(q, headers)), false)
}

fn delete(c: Call) -> Response {
    let Call { fake, kind, ns, name, headers, body, q, dry } = c;
    // DeleteOptions come in the body (clients may also use the query).
    let options: Value = if body.is_empty() {
        json!({})
    } else {
        match body_json(headers, body, &["application/json"]) {
            Ok(v) => v,
            Err(r) => return r,
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
    // Preconditions: the delete applies only to the object the caller read.
    for (field, label) in [("uid", "UID"), ("resourceVersion", "ResourceVersion")] {
        if let Some(want) = options.pointer(&format!("/preconditions/{field}")).and_then(Value::as_str)
            && Some(want) != obj["metadata"][field].as_str()
        {
            let have = obj["metadata"][field].as_str().unwrap_or("");
            return status(
                409,
                "Conflict",
                &format!(
                    "Operation cannot be fulfilled on {} \"{name}\": Precondition failed: {label} in precondition: {want}, {label} in object meta: {have}",
                    gk(kind)
                ),
            );
        }
    }
    if dry {
        return ok(obj);
    }
    match deletion::delete(&mut st, &key, policy.unwrap_or("Background")) {
        // Pending: the object as it now is, marked for deletion.
        Some(pending) => ok(pending),
        // Gone at once: a Status, as a real server answers for most kinds.
        None => ok(json!({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success",
            "details": {"name": name, "group": kind.group, "kind": kind.plural, "uid": obj["metadata"]["uid"]}})),
    }
}
