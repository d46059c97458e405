//! `resources/list` (static resources, then the connector's lister), templates, and
//! `resources/read` (exact URIs, then templates).

use std::collections::HashMap;

use serde_json::{Map, Value, json};

use super::envelope::{params_of, str_param};
use super::handlers::Call;
use crate::protocol::{Era, ErrorObject, ProtocolVersion, codes};
use crate::server::Server;
use crate::server::error::ToolError;
use crate::server::handler::ResourceKind;

impl Server {
    /// The static resources, then those the connector's lister finds for this client.
    pub(super) async fn list_resources(&self, call: Call<'_>) -> Result<Value, ErrorObject> {
        let params = params_of(call.req);
        let mut items: Vec<crate::protocol::Resource> = self
            .inner
            .resources
            .values()
            .filter_map(|r| match &r.kind {
                ResourceKind::Static(res) => Some(res.clone()),
                ResourceKind::Template(..) => None,
            })
            .collect();
        if let Some(lister) = &self.inner.resource_lister {
            let ctx = self.context(call.session, call.req, "resources/list", call.meta, call.sink)?;
            let listed = self.run("listing resources", lister(ctx)).await.map_err(ToolError::into_error_object)?;
            items.extend(listed);
        }
        self.page(params, items.into_iter(), "resources", |r| json!(r))
    }

    pub(super) fn list_templates(&self, params: &Map<String, Value>) -> Result<Value, ErrorObject> {
        let items: Vec<_> = self
            .inner
            .templates
            .iter()
            .filter_map(|r| match &r.kind {
                ResourceKind::Template(t, _) => Some(t),
                ResourceKind::Static(_) => None,
            })
            .collect();
        self.page(params, items.into_iter(), "resourceTemplates", |t| json!(t))
    }

    pub(super) async fn read_resource(&self, call: Call<'_>) -> Result<Value, ErrorObject> {
        let uri = str_param(params_of(call.req), "uri", "resources/read")?;
        let version = call.meta.version;
        let (route, vars) = if let Some(route) = self.inner.resources.get(uri) {
            (route, HashMap::new())
        } else {
            let found = self.inner.templates.iter().find_map(|r| match &r.kind {
                ResourceKind::Template(_, t) => t.matches(uri).map(|vars| (r, vars)),
                ResourceKind::Static(_) => None,
            });
            found.ok_or_else(|| self.resource_not_found(uri, version))?
        };
        let start = |ctx| (route.handler)(ctx, vars);
        self.run_call(call, &format!("resources/read:{uri}"), &format!("reading {uri}"), start, |outcome| match outcome
        {
            Ok(contents) => Ok(json!({ "contents": contents })),
            Err(ToolError::ResourceNotFound(missing)) => Err(self.resource_not_found(&missing, version)),
            Err(e) => Err(e.into_error_object()),
        })
        .await
    }

    fn resource_not_found(&self, uri: &str, version: ProtocolVersion) -> ErrorObject {
        // 2026-07-28 moved "not found" from -32002 to -32602.
        let code =
            if version.era() == Era::Stateless { codes::INVALID_PARAMS } else { codes::RESOURCE_NOT_FOUND_LEGACY };
        ErrorObject::new(code, format!("Resource not found: {uri}")).with_data(json!({ "uri": uri }))
    }
}
