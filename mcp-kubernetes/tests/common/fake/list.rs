//! Lists as a real API server answers them: selectors, `limit`, and continue tokens
//! tied to the list they came from that expire with 410 Gone after a compaction.

use axum::response::Response;
use base64::Engine;
use serde_json::{Value, json};

use super::query::{field_matches, label_matches, param};
use super::{Fake, Kind, api_version, gk, ok, status};

pub(super) fn list(fake: &Fake, kind: &Kind, ns: &str, q: &[(String, String)]) -> Response {
    let st = fake.store.lock().expect("store");
    let label = param(q, "labelSelector").unwrap_or("");
    let field = param(q, "fieldSelector").unwrap_or("");
    let limit: usize = match param(q, "limit").map(str::parse) {
        Some(Ok(n)) => n,
        Some(Err(_)) => return status(400, "BadRequest", "limit must be an integer"),
        None => 0,
    };
    // A continue token names the list it belongs to (resource and namespace: a real
    // server's key prefix), the resourceVersion of its first page and where to resume.
    let prefix = format!("{}/{ns}", gk(kind));
    let after = match param(q, "continue").filter(|c| !c.is_empty()) {
        Some(c) => {
            let token = base64::engine::general_purpose::STANDARD
                .decode(c)
                .ok()
                .and_then(|b| serde_json::from_slice::<Value>(&b).ok());
            let Some(token) = token else {
                return status(400, "BadRequest", "continue key is not valid: illegal base64 data");
            };
            if token["prefix"] != json!(prefix) {
                return status(
                    400,
                    "BadRequest",
                    "continue key is not valid: the continue token does not match the request's resource or namespace",
                );
            }
            if token["rv"].as_u64().is_none_or(|rv| rv < st.compacted) {
                return status(
                    410,
                    "Expired",
                    "The provided continue parameter is too old to display a consistent list result. You can start a new list without the continue parameter.",
                );
            }
            Some((token["start"].as_str().unwrap_or("").to_string(), token["rv"].as_u64().unwrap_or(0)))
        }
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
        if after.as_ref().is_some_and(|(a, _)| format!("{n}/{name}").as_str() <= a.as_str()) {
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
        // Later pages keep the first page's resourceVersion, so they expire with it.
        let rv = after.as_ref().map_or(st.rv, |(_, rv)| *rv);
        let token = json!({"prefix": prefix, "rv": rv, "start": items[limit - 1].0});
        meta["continue"] = json!(base64::engine::general_purpose::STANDARD.encode(token.to_string()));
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
