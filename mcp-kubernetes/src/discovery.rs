//! API discovery: which resources a cluster serves (CRDs included), cached per context,
//! and how a name a model types (`pods`, `Pod`, `po`, `deployments.apps`,
//! `widgets.example.com`) becomes one of them.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::future::join_all;
use kube::Client;
use kube::core::ApiResource;
use mcp_core::ToolError;
use serde_json::Value;
use tokio::sync::Mutex;

use crate::errors::{Op, api_error};

/// One served resource (the preferred version of its group).
#[derive(Debug, Clone, serde::Serialize, schemars::JsonSchema)]
pub struct Resource {
    /// Plural name, as in URLs (`deployments`).
    pub name: String,
    pub singular: String,
    pub kind: String,
    /// Empty for the core group.
    pub group: String,
    pub version: String,
    pub namespaced: bool,
    pub verbs: Vec<String>,
    pub short_names: Vec<String>,
    /// Has a `scale` subresource.
    pub scalable: bool,
}

impl Resource {
    pub fn api_version(&self) -> String {
        if self.group.is_empty() { self.version.clone() } else { format!("{}/{}", self.group, self.version) }
    }
    /// `plural.group` (or the plural alone for the core group), as RBAC and kubectl name it.
    pub fn qualified(&self) -> String {
        if self.group.is_empty() { self.name.clone() } else { format!("{}.{}", self.name, self.group) }
    }
    pub fn api_resource(&self) -> ApiResource {
        ApiResource {
            group: self.group.clone(),
            version: self.version.clone(),
            api_version: self.api_version(),
            kind: self.kind.clone(),
            plural: self.name.clone(),
        }
    }
    pub fn supports(&self, verb: &str) -> bool {
        self.verbs.iter().any(|v| v == verb)
    }
    /// Whether `deny` (lowercased kind, plural, `plural.group` or `kind.group`) names it.
    pub fn matches_name(&self, deny: &str) -> bool {
        let kind = self.kind.to_ascii_lowercase();
        if self.group.is_empty() {
            deny == self.name || deny == kind || deny == self.singular
        } else {
            deny == self.qualified() || deny == format!("{kind}.{}", self.group) || deny == self.name || deny == kind
        }
    }
}

/// Every resource a cluster serves, in the server's priority order.
#[derive(Debug, Default)]
pub struct Catalog {
    pub resources: Vec<Resource>,
    /// Groups whose discovery failed (an aggregated API down), with the reason.
    pub failed_groups: Vec<(String, String)>,
}

impl Catalog {
    /// The resource `query` names; `api_version` pins the group and version.
    pub fn find(&self, query: &str, api_version: Option<&str>) -> Option<&Resource> {
        let q = query.trim();
        let lower = q.to_ascii_lowercase();
        let (group_pin, version_pin) = match api_version.map(str::trim).filter(|s| !s.is_empty()) {
            Some(av) => match av.split_once('/') {
                Some((g, v)) => (Some(g.to_string()), Some(v.to_string())),
                None => (Some(String::new()), Some(av.to_string())),
            },
            None => (None, None),
        };
        let name_matches = |r: &Resource, name: &str| {
            r.name == name
                || r.singular == name
                || r.kind.eq_ignore_ascii_case(name)
                || r.short_names.iter().any(|s| s == name)
        };
        let group_ok = |r: &Resource| group_pin.as_ref().is_none_or(|g| &r.group == g);
        let version_ok = |r: &Resource| version_pin.as_ref().is_none_or(|v| &r.version == v);
        // Exact kind spelling first (`Pod`), then any name form, then `name.group`.
        if let Some(r) = self.resources.iter().find(|r| r.kind == q && group_ok(r) && version_ok(r)) {
            return Some(r);
        }
        if let Some(r) = self.resources.iter().find(|r| name_matches(r, &lower) && group_ok(r) && version_ok(r)) {
            return Some(r);
        }
        let (name, group) = lower.split_once('.')?;
        self.resources.iter().find(|r| name_matches(r, name) && r.group == group && version_ok(r))
    }

    /// Resources whose names resemble `query`, for an error message.
    pub fn suggestions(&self, query: &str) -> Vec<String> {
        let q = query.to_ascii_lowercase();
        let stem = q.trim_end_matches('s');
        let mut out: Vec<String> = self
            .resources
            .iter()
            .filter(|r| !stem.is_empty() && (r.name.contains(stem) || stem.contains(r.singular.as_str())))
            .map(Resource::qualified)
            .collect();
        out.truncate(5);
        out
    }
}

/// The discovery cache of one context.
#[derive(Debug)]
pub struct Discovery {
    ttl: Duration,
    catalog: Mutex<Option<(Instant, Arc<Catalog>)>>,
    /// OpenAPI documents by group-version path (`api/v1`, `apis/apps/v1`).
    openapi: Mutex<HashMap<String, Arc<Value>>>,
}

impl Discovery {
    pub fn new(ttl: Duration) -> Self {
        Self { ttl, catalog: Mutex::new(None), openapi: Mutex::new(HashMap::new()) }
    }

    /// The cached catalog, fetched when absent or older than the TTL (or `refresh`).
    pub async fn catalog(&self, client: &Client, context: &str, refresh: bool) -> Result<Arc<Catalog>, ToolError> {
        let mut slot = self.catalog.lock().await;
        if !refresh
            && let Some((at, catalog)) = slot.as_ref()
            && at.elapsed() < self.ttl
        {
            return Ok(catalog.clone());
        }
        let catalog = Arc::new(fetch(client, context).await?);
        *slot = Some((Instant::now(), catalog.clone()));
        Ok(catalog)
    }

    /// The resource `query` names, refreshing discovery once when it is unknown (a CRD
    /// installed since the last fetch).
    pub async fn resolve(
        &self,
        client: &Client,
        context: &str,
        query: &str,
        api_version: Option<&str>,
    ) -> Result<Resource, ToolError> {
        if query.trim().is_empty() {
            return Err(ToolError::invalid_arguments("`kind` is empty: name a resource such as pods or deployments"));
        }
        let catalog = self.catalog(client, context, false).await?;
        if let Some(r) = catalog.find(query, api_version) {
            return Ok(r.clone());
        }
        let catalog = self.catalog(client, context, true).await?;
        if let Some(r) = catalog.find(query, api_version) {
            return Ok(r.clone());
        }
        let mut message = format!(
            "unknown kind `{query}`{}: context `{context}` serves no such resource",
            api_version.map(|v| format!(" in {v}")).unwrap_or_default()
        );
        let near = catalog.suggestions(query);
        if !near.is_empty() {
            message += &format!(". Did you mean: {}?", near.join(", "));
        }
        message += " (api_resources lists every kind)";
        Err(ToolError::not_found(message))
    }

    pub async fn openapi_doc(&self, path: &str) -> Option<Arc<Value>> {
        self.openapi.lock().await.get(path).cloned()
    }

    pub async fn store_openapi_doc(&self, path: &str, doc: Arc<Value>) {
        let mut docs = self.openapi.lock().await;
        // Documents are large: keep a few group-versions only.
        if docs.len() >= 8 {
            docs.clear();
        }
        docs.insert(path.to_string(), doc);
    }
}

async fn fetch(client: &Client, context: &str) -> Result<Catalog, ToolError> {
    let op = |what: &str| Op::new("get", what).context(context);
    let core = client.list_core_api_versions().await.map_err(|e| api_error(e, &op("/api (discovery)")))?;
    let groups = client.list_api_groups().await.map_err(|e| api_error(e, &op("/apis (discovery)")))?;
    let mut versions: Vec<(String, String)> =
        core.versions.iter().take(1).map(|v| (String::new(), v.clone())).collect();
    for g in &groups.groups {
        let version = g
            .preferred_version
            .as_ref()
            .map(|p| p.version.clone())
            .or_else(|| g.versions.first().map(|v| v.version.clone()));
        if let Some(v) = version {
            versions.push((g.name.clone(), v));
        }
    }
    let lists = join_all(versions.iter().map(|(group, version)| async move {
        if group.is_empty() {
            client.list_core_api_resources(version).await
        } else {
            client.list_api_group_resources(&format!("{group}/{version}")).await
        }
    }))
    .await;
    let mut catalog = Catalog::default();
    for ((group, version), list) in versions.into_iter().zip(lists) {
        let list = match list {
            Ok(list) => list,
            Err(e) if group.is_empty() => return Err(api_error(e, &op("/api/v1 (discovery)"))),
            Err(e) => {
                catalog.failed_groups.push((format!("{group}/{version}"), e.to_string()));
                continue;
            }
        };
        let scalable: Vec<String> =
            list.resources.iter().filter_map(|r| r.name.strip_suffix("/scale").map(str::to_string)).collect();
        for r in list.resources.iter().filter(|r| !r.name.contains('/')) {
            catalog.resources.push(Resource {
                singular: if r.singular_name.is_empty() {
                    r.kind.to_ascii_lowercase()
                } else {
                    r.singular_name.clone()
                },
                name: r.name.clone(),
                kind: r.kind.clone(),
                group: group.clone(),
                version: version.clone(),
                namespaced: r.namespaced,
                verbs: r.verbs.clone(),
                short_names: r.short_names.clone().unwrap_or_default(),
                scalable: scalable.contains(&r.name),
            });
        }
    }
    Ok(catalog)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn res(name: &str, kind: &str, group: &str, short: &[&str]) -> Resource {
        Resource {
            name: name.into(),
            singular: kind.to_ascii_lowercase(),
            kind: kind.into(),
            group: group.into(),
            version: "v1".into(),
            namespaced: true,
            verbs: vec!["get".into()],
            short_names: short.iter().map(|s| s.to_string()).collect(),
            scalable: false,
        }
    }

    #[test]
    fn names_resolve_in_every_form() {
        let catalog = Catalog {
            resources: vec![
                res("pods", "Pod", "", &["po"]),
                res("events", "Event", "", &["ev"]),
                res("deployments", "Deployment", "apps", &["deploy"]),
                res("events", "Event", "events.k8s.io", &[]),
            ],
            failed_groups: vec![],
        };
        for q in ["pods", "pod", "Pod", "po", "PODS"] {
            assert_eq!(catalog.find(q, None).map(|r| r.name.as_str()), Some("pods"), "{q}");
        }
        assert_eq!(catalog.find("deploy", None).map(|r| r.group.as_str()), Some("apps"));
        assert_eq!(catalog.find("deployments.apps", None).map(|r| r.group.as_str()), Some("apps"));
        assert_eq!(catalog.find("events", None).map(|r| r.group.as_str()), Some(""));
        assert_eq!(catalog.find("events.events.k8s.io", None).map(|r| r.group.as_str()), Some("events.k8s.io"));
        assert_eq!(catalog.find("Event", Some("events.k8s.io/v1")).map(|r| r.group.as_str()), Some("events.k8s.io"));
        assert!(catalog.find("widgets", None).is_none());
        assert!(res("secrets", "Secret", "", &[]).matches_name("secret"));
        assert!(
            res("clusterroles", "ClusterRole", "rbac.authorization.k8s.io", &[])
                .matches_name("clusterroles.rbac.authorization.k8s.io")
        );
    }
}
