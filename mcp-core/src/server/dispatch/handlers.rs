//! Running a handler: its context (with a stateless retry's verified `requestState` and
//! `inputResponses`), the concurrency bound and call deadline, and input requests turned
//! into the stateless interim result.

use std::sync::Arc;

use serde_json::{Map, Value, json};

use super::envelope::{binding, object_param, params_of};
use crate::protocol::{Era, ErrorObject, Request, jsonrpc::kind};
use crate::server::Server;
use crate::server::context::{Context, RequestMeta, RequestSink, Scope};
use crate::server::error::ToolError;
use crate::server::session::Session;
use crate::server::state::Binding;

/// A request on its way to its handler: what the handler's context is built from.
pub(super) struct Call<'a> {
    pub(super) session: &'a Arc<Session>,
    pub(super) req: &'a Request,
    pub(super) meta: RequestMeta,
    pub(super) sink: Option<RequestSink>,
}

impl Server {
    /// Runs a call's handler (`start`) about `target` with the call's context, under the
    /// limits (`what` names it in the deadline's message). `finish` makes the result of its
    /// outcome, except an input request, which becomes the stateless interim result.
    pub(super) async fn run_call<T, F, R: From<Value>>(
        &self,
        call: Call<'_>,
        target: &str,
        what: &str,
        start: impl FnOnce(Context) -> F,
        finish: impl FnOnce(Result<T, ToolError>) -> Result<R, ErrorObject>,
    ) -> Result<R, ErrorObject>
    where
        F: Future<Output = Result<T, ToolError>>,
    {
        let Call { session, req, meta, sink } = call;
        let ctx = self.context(session, req, target, meta.clone(), sink)?;
        match self.run(what, start(ctx)).await {
            Err(ToolError::InputRequired(ir)) => {
                self.input_required(&binding(session, req, target), &meta, ir).map(R::from)
            }
            outcome => finish(outcome),
        }
    }

    /// Builds the handler's context; for stateless retries, verifies `requestState` and
    /// reads `inputResponses`.
    pub(super) fn context(
        &self,
        session: &Arc<Session>,
        req: &Request,
        target: &str,
        meta: RequestMeta,
        sink: Option<RequestSink>,
    ) -> Result<Context, ErrorObject> {
        let params = params_of(req);
        let (input_responses, request_state) = if meta.version.era() == Era::Stateless {
            let responses = object_param(params, "inputResponses", &req.method)?;
            for (key, value) in &responses {
                if !value.is_object() {
                    return Err(ErrorObject::invalid_params(format!(
                        "`inputResponses.{key}` must be an object (the client's result for that input request), got {}",
                        kind(value)
                    )));
                }
            }
            let state = match params.get("requestState") {
                None | Some(Value::Null) => None,
                Some(Value::String(s)) => self
                    .inner
                    .sealer
                    .open(&binding(session, req, target), s)
                    .map_err(|why| ErrorObject::invalid_params(format!("Invalid requestState: {why}")))?,
                Some(other) => {
                    return Err(ErrorObject::invalid_params(format!(
                        "`requestState` must be a string, got {}",
                        kind(other)
                    )));
                }
            };
            (responses, state)
        } else {
            (Map::new(), None)
        };
        Ok(self.new_context(session, meta, sink, input_responses, request_state))
    }

    pub(super) fn new_context(
        &self,
        session: &Arc<Session>,
        meta: RequestMeta,
        sink: Option<RequestSink>,
        input_responses: Map<String, Value>,
        request_state: Option<String>,
    ) -> Context {
        Context {
            scope: Arc::new(Scope {
                session: session.clone(),
                meta,
                sink,
                input_responses,
                request_state,
                input_timeout: self.inner.config.input_timeout,
                changes: Some(self.inner.changes.clone()),
                policy: self.inner.policy.clone(),
            }),
        }
    }

    /// Runs a handler under the concurrency bound and the call deadline.
    pub(super) async fn run<T>(
        &self,
        what: &str,
        fut: impl Future<Output = Result<T, ToolError>>,
    ) -> Result<T, ToolError> {
        let _permit =
            self.inner.permits.acquire().await.map_err(|_| ToolError::failed("the server is shutting down"))?;
        let timeout = self.inner.config.call_timeout;
        match tokio::time::timeout(timeout, fut).await {
            Ok(r) => r,
            Err(_) => Err(ToolError::failed(format!(
                "{what} did not finish within the {} s call deadline and was stopped; try a smaller request",
                timeout.as_secs_f64()
            ))),
        }
    }

    /// Turns an input-required outcome into the stateless interim result.
    fn input_required(
        &self,
        binding: &Binding<'_>,
        meta: &RequestMeta,
        ir: crate::server::error::InputRequired,
    ) -> Result<Value, ErrorObject> {
        if meta.version.era() != Era::Stateless {
            return Err(ErrorObject::internal("input required outside the stateless era"));
        }
        let mut result = json!({ "resultType": "input_required" });
        if !ir.input_requests.is_empty() {
            result["inputRequests"] = Value::Object(ir.input_requests);
        }
        result["requestState"] = json!(self.inner.sealer.seal(binding, ir.request_state));
        Ok(result)
    }
}
