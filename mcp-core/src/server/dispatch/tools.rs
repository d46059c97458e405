//! `tools/list` (filtered by the policy) and `tools/call` (policy check, confirmation of
//! destructive tools, the output budget).

use serde_json::{Map, Value, json};

use super::envelope::{DENIED_BY, params_of, str_param, unknown};
use super::handlers::Call;
use crate::protocol::{ErrorObject, jsonrpc::kind};
use crate::server::Server;
use crate::server::context::{Context, InputRequest};
use crate::server::error::ToolError;
use crate::server::outgoing::Reply;
use crate::server::session::Session;

impl Server {
    /// The tools the policy lets this client use.
    pub(super) fn list_tools(&self, session: &Session, params: &Map<String, Value>) -> Result<Value, ErrorObject> {
        let identity = session.identity();
        let tools = self.inner.tools.snapshot();
        let allowed: Vec<&crate::protocol::Tool> =
            tools.values().map(|t| &t.tool).filter(|t| self.inner.policy.check(&identity, t).is_ok()).collect();
        self.page(params, allowed.into_iter(), "tools", crate::protocol::Tool::listed)
    }

    pub(super) async fn call_tool(&self, call: Call<'_>) -> Result<Reply, ErrorObject> {
        let params = params_of(call.req);
        let name = str_param(params, "name", "tools/call")?;
        let tools = self.inner.tools.snapshot();
        let route = tools.get(name).ok_or_else(|| unknown("tool", name, "tools/list"))?;
        let args = match params.get("arguments") {
            None | Some(Value::Null) => Value::Object(Map::new()),
            Some(v @ Value::Object(_)) => v.clone(),
            Some(other) => {
                return Err(ErrorObject::invalid_params(format!(
                    "`arguments` of tools/call must be an object, got {}",
                    kind(other)
                )));
            }
        };
        let identity = call.session.identity();
        self.inner
            .policy
            .check(&identity, &route.tool)
            .map_err(|why| ErrorObject::invalid_params(why).with_data(json!({ DENIED_BY: "policy" })))?;
        let confirm = self.inner.policy.needs_confirmation(&identity, &route.tool);
        let handler = route.handler.clone();
        let start = move |ctx: Context| async move {
            if confirm {
                confirm_destructive(&ctx, name).await?;
            }
            handler(ctx, args).await
        };
        let finish = |outcome: Result<_, ToolError>| {
            let mut result = match outcome {
                Ok(r) => r,
                Err(e) => e.into_tool_result()?,
            };
            if crate::server::budget::enforce(&mut result, self.inner.config.max_output_bytes) {
                tracing::debug!(tool = name, "result cut to the output budget");
            }
            Ok(result_value(result))
        };
        self.run_call(call, &format!("tools/call:{name}"), &format!("tool {name}"), start, finish).await
    }
}

/// The result as the answer carries it. The structured content is moved in, not
/// serialized into a second tree: `to_value` copied every key of a backend's document
/// (a container inspect: a fifth of the server's work per call); JSON text stays text.
fn result_value(mut result: crate::protocol::CallToolResult) -> Reply {
    let structured = result.structured_content.take();
    let structured_json = result.structured_json.take();
    let mut value = serde_json::to_value(result)
        .unwrap_or_else(|e| json!({"content": [{"type": "text", "text": e.to_string()}], "isError": true}));
    if let (Some(structured), Value::Object(map)) = (structured, &mut value) {
        map.insert("structuredContent".into(), structured);
    }
    Reply { result: value, structured_json }
}

/// Key of the framework's own confirmation among a call's input requests.
const CONFIRM_KEY: &str = "mcp-core/confirm";

/// Asks the client to confirm a destructive tool (elicitation in the handshake era,
/// `input_required` in 2026-07-28); refuses when it cannot ask or the user declines.
async fn confirm_destructive(ctx: &Context, tool: &str) -> Result<(), ToolError> {
    let request = InputRequest::elicit(
        format!("The tool {tool:?} is destructive: it may delete or overwrite data. Run it?"),
        json!({
            "type": "object",
            "properties": {"confirm": {"type": "boolean", "title": "Run it", "default": false}},
            "required": ["confirm"]
        }),
    );
    if ctx.client_capabilities().get("elicitation").is_none() {
        return Err(ToolError::failed(format!(
            "The tool {tool:?} is destructive and this server requires the user's confirmation before running it, \
             but this client cannot ask for it (it does not support elicitation). Use a client that does, or ask \
             the operator to disable confirmation for this tool."
        )));
    }
    let answers = ctx.input(vec![(CONFIRM_KEY.to_string(), request)]).await?;
    let answer = answers.get(CONFIRM_KEY);
    let accepted = answer.and_then(|a| a.get("action")).and_then(Value::as_str) == Some("accept")
        && answer.and_then(|a| a.pointer("/content/confirm")).and_then(Value::as_bool) == Some(true);
    if accepted {
        Ok(())
    } else {
        Err(ToolError::failed(format!("The user did not confirm the destructive tool {tool:?}; it was not run.")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::CallToolResult;

    #[test]
    fn results_keep_their_structured_content_and_every_other_member() {
        let mut result = CallToolResult::structured("text", json!({"a": {"b": [1, "x"]}}));
        result.meta = Some(serde_json::Map::from_iter([("k".to_string(), json!(1))]));
        let expected = serde_json::to_value(&result).expect("serializable");
        assert_eq!(result_value(result), Reply::from(expected));
        let error = CallToolResult::error("boom");
        let expected = serde_json::to_value(&error).expect("serializable");
        let reply = result_value(error);
        assert_eq!(reply, Reply::from(expected));
        assert!(reply.result.get("structuredContent").is_none());
    }

    #[test]
    fn structured_json_goes_beside_the_tree_not_into_it() {
        let json = crate::protocol::JsonText::new(r#"{"a":[1,"x"]}"#.into()).expect("json");
        let reply = result_value(CallToolResult::structured_json("text", json.clone()));
        assert_eq!(reply.structured_json, Some(json));
        assert_eq!(reply.result, json!({"content": [{"type": "text", "text": "text"}]}));
    }
}
