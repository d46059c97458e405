//! Who may do what on the fake when a request impersonates someone: the caller must be
//! allowed to impersonate (the `admin` token is, as a connector's service account with
//! the `impersonate` verb would be; `reader` is not), and the impersonated user and
//! groups are then authorized by the RoleBindings and ClusterRoleBindings the fake holds,
//! through the Roles and ClusterRoles they name, as the RBAC authorizer does.

use axum::http::HeaderMap;
use axum::response::Response;
use serde_json::Value;

use super::{Fake, status};

/// What a request asks to do.
pub struct Attributes<'a> {
    pub verb: &'a str,
    pub group: &'a str,
    /// `pods`, or `pods/eviction` for a subresource.
    pub resource: String,
    pub namespace: &'a str,
    pub name: &'a str,
}

/// The user and groups a request impersonates, if it does.
fn impersonated(headers: &HeaderMap) -> Option<(String, Vec<String>)> {
    let user = headers.get("impersonate-user")?.to_str().ok()?.to_string();
    let mut groups: Vec<String> =
        headers.get_all("impersonate-group").iter().filter_map(|v| v.to_str().ok().map(str::to_string)).collect();
    groups.push("system:authenticated".into());
    Some((user, groups))
}

/// Whether the request may go on: `Err` with the 403 a real server sends.
pub fn authorize(fake: &Fake, who: &str, headers: &HeaderMap, attrs: &Attributes) -> Result<(), Response> {
    let Some((user, groups)) = impersonated(headers) else {
        return Ok(());
    };
    if who != "admin" {
        return Err(status(
            403,
            "Forbidden",
            &format!(
                "users \"{user}\" is forbidden: User \"{who}\" cannot impersonate resource \"users\" in API group \"\" at the cluster scope"
            ),
        ));
    }
    if allowed(fake, &user, &groups, attrs) {
        return Ok(());
    }
    let target =
        if attrs.name.is_empty() { attrs.resource.clone() } else { format!("{} \"{}\"", attrs.resource, attrs.name) };
    let scope = if attrs.namespace.is_empty() {
        " at the cluster scope".to_string()
    } else {
        format!(" in the namespace \"{}\"", attrs.namespace)
    };
    Err(status(
        403,
        "Forbidden",
        &format!(
            "{target} is forbidden: User \"{user}\" cannot {} resource \"{}\" in API group \"{}\"{scope}",
            attrs.verb, attrs.resource, attrs.group
        ),
    ))
}

fn allowed(fake: &Fake, user: &str, groups: &[String], attrs: &Attributes) -> bool {
    let st = fake.store.lock().expect("store");
    let binds = |b: &Value| {
        b["subjects"].as_array().is_some_and(|subjects| {
            subjects.iter().any(|s| match s["kind"].as_str() {
                Some("User") => s["name"] == user,
                Some("Group") => s["name"].as_str().is_some_and(|g| groups.iter().any(|x| x == g)),
                _ => false,
            })
        })
    };
    let role = |kind: &str, ns: &str, name: &str| -> Option<Value> {
        let key = match kind {
            "ClusterRole" => ("clusterroles.rbac.authorization.k8s.io".to_string(), String::new(), name.to_string()),
            _ => ("roles.rbac.authorization.k8s.io".to_string(), ns.to_string(), name.to_string()),
        };
        st.objects.get(&key).cloned()
    };
    for ((g, ns, _), binding) in &st.objects {
        let namespaced = g == "rolebindings.rbac.authorization.k8s.io";
        if !(namespaced || g == "clusterrolebindings.rbac.authorization.k8s.io") || !binds(binding) {
            continue;
        }
        // A RoleBinding grants only inside its namespace.
        if namespaced && ns != attrs.namespace {
            continue;
        }
        let kind = binding.pointer("/roleRef/kind").and_then(Value::as_str).unwrap_or("");
        let name = binding.pointer("/roleRef/name").and_then(Value::as_str).unwrap_or("");
        let Some(r) = role(kind, ns, name) else { continue };
        if r["rules"].as_array().is_some_and(|rules| rules.iter().any(|rule| rule_allows(rule, attrs))) {
            return true;
        }
    }
    false
}

fn rule_allows(rule: &Value, attrs: &Attributes) -> bool {
    let has = |field: &str, want: &str| {
        rule[field].as_array().is_some_and(|l| l.iter().any(|v| v == "*" || v.as_str() == Some(want)))
    };
    let names_ok = match rule["resourceNames"].as_array() {
        Some(names) if !names.is_empty() => names.iter().any(|n| n.as_str() == Some(attrs.name)),
        _ => true,
    };
    has("verbs", attrs.verb) && has("apiGroups", attrs.group) && has("resources", &attrs.resource) && names_ok
}
