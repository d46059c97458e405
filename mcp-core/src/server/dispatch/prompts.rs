//! `prompts/list`, `prompts/get`, and `completion/complete`.

use std::sync::Arc;

use serde_json::{Map, Value, json};

use super::envelope::{object_param, params_of, str_param, unknown};
use super::handlers::Call;
use crate::protocol::ErrorObject;
use crate::server::Server;
use crate::server::context::RequestMeta;
use crate::server::error::ToolError;
use crate::server::handler::CompletionRequest;
use crate::server::session::Session;

impl Server {
    pub(super) fn list_prompts(&self, params: &Map<String, Value>) -> Result<Value, ErrorObject> {
        self.page(params, self.inner.prompts.values().map(|p| &p.prompt), "prompts", |p| json!(p))
    }

    pub(super) async fn get_prompt(&self, call: Call<'_>) -> Result<Value, ErrorObject> {
        let params = params_of(call.req);
        let name = str_param(params, "name", "prompts/get")?;
        let route = self.inner.prompts.get(name).ok_or_else(|| unknown("prompt", name, "prompts/list"))?;
        let args = object_param(params, "arguments", "prompts/get")?;
        let start = |ctx| (route.handler)(ctx, args);
        self.run_call(call, &format!("prompts/get:{name}"), &format!("prompt {name}"), start, |outcome| match outcome {
            Ok(result) => serde_json::to_value(result).map_err(|e| ErrorObject::internal(e.to_string())),
            Err(e) => Err(e.into_error_object()),
        })
        .await
    }

    pub(super) async fn complete(
        &self,
        session: &Arc<Session>,
        params: &Map<String, Value>,
        meta: RequestMeta,
    ) -> Result<Value, ErrorObject> {
        let reference = object_param(params, "ref", "completion/complete")?;
        let ref_type = str_param(&reference, "type", "completion/complete ref")?.to_string();
        let ref_name = match ref_type.as_str() {
            "ref/prompt" => str_param(&reference, "name", "completion/complete ref")?.to_string(),
            "ref/resource" => str_param(&reference, "uri", "completion/complete ref")?.to_string(),
            other => {
                return Err(ErrorObject::invalid_params(format!(
                    "`ref.type` must be ref/prompt or ref/resource, got {other:?}"
                )));
            }
        };
        let argument = object_param(params, "argument", "completion/complete")?;
        let arg_name = str_param(&argument, "name", "completion/complete argument")?.to_string();
        let value = str_param(&argument, "value", "completion/complete argument")?.to_string();
        let context = object_param(params, "context", "completion/complete")?
            .get("arguments")
            .and_then(Value::as_object)
            .map(|m| m.iter().filter_map(|(k, v)| Some((k.clone(), v.as_str()?.to_string()))).collect())
            .unwrap_or_default();
        let completion = match &self.inner.completer {
            None => Default::default(),
            Some(completer) => {
                let ctx = self.new_context(session, meta, None, Map::new(), None);
                let req = CompletionRequest { ref_type, ref_name, argument: arg_name, value, context };
                let mut c = self.run("completion", completer(ctx, req)).await.map_err(ToolError::into_error_object)?;
                if c.values.len() > 100 {
                    c.total.get_or_insert(c.values.len() as u64);
                    c.values.truncate(100);
                    c.has_more = true;
                }
                c
            }
        };
        Ok(json!({ "completion": completion }))
    }
}
