//! Nodes on the fake: the Eviction API honouring PodDisruptionBudgets (a 429 when the
//! budget allows no disruption, computed from the pods it selects as the disruption
//! controller would), and the kubelet's node proxy (/logs/ with a file listing, Range
//! reads and the node log query; /stats/summary from the pods on the node).

use axum::body::Bytes;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use super::{Fake, body_json, now, ok, param, status};

/// What the fake kubelet's /var/log holds on every node.
pub const KUBELET_LOG: &str =
    "I0101 kubelet starting\nI0101 node ready\nE0101 failed to pull image \"nope:1\"\nI0101 synced pods\n";

/// The budgets of `ns` selecting `labels`, with the disruptions each allows now.
fn budgets(fake: &Fake, ns: &str, labels: &serde_json::Map<String, Value>) -> Vec<(String, i64, i64, i64)> {
    let st = fake.store.lock().expect("store");
    let selects = |sel: &Value, obj_labels: &serde_json::Map<String, Value>| {
        sel["matchLabels"].as_object().is_none_or(|m| m.iter().all(|(k, v)| obj_labels.get(k) == Some(v)))
    };
    let mut out = vec![];
    for ((g, n, name), pdb) in &st.objects {
        if g != "poddisruptionbudgets.policy" || n != ns || !selects(&pdb["spec"]["selector"], labels) {
            continue;
        }
        let healthy = st
            .objects
            .iter()
            .filter(|((g, n, _), p)| {
                g == "pods"
                    && n == ns
                    && p.pointer("/status/phase") == Some(&json!("Running"))
                    && selects(
                        &pdb["spec"]["selector"],
                        p["metadata"]["labels"].as_object().unwrap_or(&Default::default()),
                    )
            })
            .count() as i64;
        let min = match (pdb.pointer("/spec/minAvailable"), pdb.pointer("/spec/maxUnavailable")) {
            (Some(m), _) => m.as_i64().unwrap_or(0),
            (None, Some(u)) => healthy - u.as_i64().unwrap_or(0),
            _ => 0,
        };
        out.push((name.clone(), (healthy - min).max(0), min, healthy));
    }
    out
}

pub(super) fn evict(fake: &Fake, ns: &str, name: &str, headers: &HeaderMap, body: &Bytes) -> Response {
    let eviction = match body_json(headers, body, &["application/json"]) {
        Ok(e) => e,
        Err(r) => return r,
    };
    if !matches!(eviction["apiVersion"].as_str(), Some("policy/v1" | "policy/v1beta1"))
        || eviction["kind"] != "Eviction"
    {
        return status(400, "BadRequest", "the body must be a policy/v1 Eviction");
    }
    if eviction.pointer("/metadata/name").and_then(Value::as_str) != Some(name) {
        return status(400, "BadRequest", "name in URL does not match name in Eviction object");
    }
    let Some(pod) = fake.get("pods", ns, name) else {
        return status(404, "NotFound", &format!("pods \"{name}\" not found"));
    };
    let labels = pod["metadata"]["labels"].as_object().cloned().unwrap_or_default();
    let running = pod.pointer("/status/phase") == Some(&json!("Running"));
    if running && let Some((pdb, _, min, healthy)) = budgets(fake, ns, &labels).into_iter().find(|b| b.1 == 0) {
        let body = json!({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
            "message": "Cannot evict pod as it would violate the pod's disruption budget.", "reason": "TooManyRequests",
            "details": {"causes": [{"reason": "DisruptionBudget", "message": format!("The disruption budget {pdb} needs {min} healthy pods and has {healthy} currently")}]},
            "code": 429});
        return (StatusCode::TOO_MANY_REQUESTS, [("content-type", "application/json")], body.to_string())
            .into_response();
    }
    let dry = eviction.pointer("/deleteOptions/dryRun") == Some(&json!(["All"]));
    if !dry {
        fake.store.lock().expect("store").objects.remove(&("pods".to_string(), ns.to_string(), name.to_string()));
    }
    (
        StatusCode::CREATED,
        [("content-type", "application/json")],
        json!({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success", "code": 201}).to_string(),
    )
        .into_response()
}

/// `/api/v1/nodes/{node}/proxy/{rest}`.
pub(super) fn proxy(fake: &Fake, node: &str, rest: &str, q: &[(String, String)], headers: &HeaderMap) -> Response {
    if fake.get("nodes", "", node).is_none() {
        return status(404, "NotFound", &format!("nodes \"{node}\" not found"));
    }
    let text = |code: StatusCode, t: String| (code, [("content-type", "text/plain")], t).into_response();
    match rest {
        "logs" | "logs/" => match param(q, "query") {
            Some("kubelet") => {
                let n: usize = param(q, "tailLines").and_then(|n| n.parse().ok()).unwrap_or(usize::MAX);
                let lines: Vec<&str> = KUBELET_LOG.lines().collect();
                let start = lines.len().saturating_sub(n);
                text(StatusCode::OK, lines[start..].iter().map(|l| format!("{l}\n")).collect())
            }
            Some(other) => text(StatusCode::NOT_FOUND, format!("no service {other}\n")),
            None => (
                StatusCode::OK,
                [("content-type", "text/html")],
                "<pre>\n<a href=\"kubelet.log\">kubelet.log</a>\n<a href=\"pods/\">pods/</a>\n</pre>\n".to_string(),
            )
                .into_response(),
        },
        "logs/kubelet.log" => {
            let range = headers.get("range").and_then(|v| v.to_str().ok());
            match range.and_then(|r| r.strip_prefix("bytes=-")).and_then(|n| n.parse::<usize>().ok()) {
                Some(n) if n < KUBELET_LOG.len() => {
                    text(StatusCode::PARTIAL_CONTENT, KUBELET_LOG[KUBELET_LOG.len() - n..].to_string())
                }
                _ => text(StatusCode::OK, KUBELET_LOG.to_string()),
            }
        }
        // A file served whole, as by a kubelet without Range support.
        "logs/big.log" => text(StatusCode::OK, (1..=3000).map(|i| format!("line {i}\n")).collect()),
        "stats/summary" => {
            let st = fake.store.lock().expect("store");
            let pods: Vec<Value> = st
                .objects
                .iter()
                .filter(|((g, _, _), p)| g == "pods" && p.pointer("/spec/nodeName") == Some(&json!(node)))
                .enumerate()
                .map(|(i, ((_, ns, name), _))| {
                    json!({"podRef": {"name": name, "namespace": ns}, "cpu": {"usageNanoCores": 1_000_000 * (i + 1)},
                        "memory": {"workingSetBytes": 1_048_576 * 10 * (i + 1)}})
                })
                .collect();
            ok(json!({"node": {"nodeName": node, "cpu": {"time": now(), "usageNanoCores": 250_000_000},
                "memory": {"workingSetBytes": 1_073_741_824u64, "availableBytes": 6_442_450_944u64},
                "fs": {"usedBytes": 5_368_709_120u64, "capacityBytes": 53_687_091_200u64},
                "runtime": {"imageFs": {"usedBytes": 2_147_483_648u64, "capacityBytes": 53_687_091_200u64}},
                "network": {"rxBytes": 1000, "txBytes": 2000}}, "pods": pods}))
        }
        _ => text(StatusCode::NOT_FOUND, "404 page not found\n".into()),
    }
}
