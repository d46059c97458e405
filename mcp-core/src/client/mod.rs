//! The MCP client: connects over stdio (spawning the server) or Streamable HTTP, finds
//! out which protocol era the server speaks, and offers typed calls with automatic
//! pagination and multi round-trip (`input_required`) retries.
//!
//! Era discovery follows the 2026-07-28 compatibility rules: probe with
//! `server/discover`; a discover result or a recognised modern error means a stateless
//! server, anything else (another error, silence) means a handshake-era server, which is
//! then initialized.

mod channel;
mod http;
mod options;
mod stdio;
mod ws;

use std::sync::atomic::{AtomicI64, Ordering};
use std::time::Duration;

use serde_json::{Map, Value, json};

use crate::protocol::headers;
use crate::protocol::types::meta;
use crate::protocol::{
    CallToolResult, Era, ErrorObject, Implementation, Notification, ProtocolVersion, Request, RequestId, Response,
    Tool, codes,
};

pub use options::{ClientError, ClientOptions, EraChoice, InputHandler, NotificationHandler};

enum Conn {
    Stdio(stdio::StdioConn),
    Http(Box<http::HttpConn>),
    Ws(ws::WsConn),
}

/// A connected client.
pub struct Client {
    conn: Conn,
    options: ClientOptions,
    version: ProtocolVersion,
    server_info: Option<Implementation>,
    capabilities: Value,
    next_id: AtomicI64,
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client").field("version", &self.version).finish_non_exhaustive()
    }
}

fn is_modern_error(e: &ErrorObject) -> bool {
    matches!(
        e.code,
        codes::UNSUPPORTED_PROTOCOL_VERSION | codes::HEADER_MISMATCH | codes::MISSING_REQUIRED_CLIENT_CAPABILITY
    )
}

impl Client {
    /// Spawns `command` and speaks MCP on its stdin/stdout (stderr is inherited).
    pub async fn connect_stdio(command: tokio::process::Command, options: ClientOptions) -> Result<Self, ClientError> {
        let conn = stdio::StdioConn::spawn(command, options.clone())?;
        Self::start(Conn::Stdio(conn), options).await
    }

    /// Connects to a WebSocket endpoint such as `ws://127.0.0.1:8080/ws`.
    pub async fn connect_ws(url: &str, options: ClientOptions) -> Result<Self, ClientError> {
        let conn = ws::WsConn::connect(url, options.clone()).await?;
        Self::start(Conn::Ws(conn), options).await
    }

    /// Connects to `url`: `ws://` / `wss://` over WebSocket, anything else over
    /// Streamable HTTP.
    pub async fn connect_url(url: &str, options: ClientOptions) -> Result<Self, ClientError> {
        if url.starts_with("ws://") || url.starts_with("wss://") {
            Self::connect_ws(url, options).await
        } else {
            Self::connect_http(url, options).await
        }
    }

    /// Connects to a Streamable HTTP endpoint such as `http://127.0.0.1:8080/mcp`.
    pub async fn connect_http(url: &str, options: ClientOptions) -> Result<Self, ClientError> {
        let conn = http::HttpConn::new(url, options.clone())?;
        Self::start(Conn::Http(Box::new(conn)), options).await
    }

    async fn start(conn: Conn, options: ClientOptions) -> Result<Self, ClientError> {
        let mut client = Self {
            conn,
            options,
            version: ProtocolVersion::LATEST,
            server_info: None,
            capabilities: json!({}),
            next_id: AtomicI64::new(1),
        };
        let modern = match client.options.era {
            EraChoice::Handshake => false,
            EraChoice::Stateless => true,
            EraChoice::Auto => client.probe().await,
        };
        if modern {
            let discovered = match client.request("server/discover", Map::new()).await {
                // Retry once with a revision the server says it supports.
                Err(ClientError::Protocol(e)) if e.code == codes::UNSUPPORTED_PROTOCOL_VERSION => {
                    client.version = client.supported_from(&e).ok_or(ClientError::Protocol(e))?;
                    client.request("server/discover", Map::new()).await?
                }
                other => other?,
            };
            client.adopt_discovery(&discovered);
        } else {
            client.initialize().await?;
        }
        Ok(client)
    }

    /// The discover probe: true when the server speaks the stateless era.
    async fn probe(&mut self) -> bool {
        let params = self.with_meta(Map::new(), ProtocolVersion::LATEST);
        let req = Request { id: self.id(), method: "server/discover".into(), params: Some(params) };
        let probe = tokio::time::timeout(Duration::from_secs(5), self.send(req, ProtocolVersion::LATEST)).await;
        match probe {
            Ok(Ok(Response { outcome: Ok(result), .. })) => {
                self.adopt_discovery(&result);
                result.get("supportedVersions").is_some()
            }
            Ok(Ok(Response { outcome: Err(e), .. })) if is_modern_error(&e) => true,
            _ => false,
        }
    }

    /// The newest stateless revision both sides support, from an UnsupportedProtocolVersion
    /// error's `data.supported`.
    fn supported_from(&self, error: &ErrorObject) -> Option<ProtocolVersion> {
        let supported = error.data.as_ref()?.get("supported")?.as_array()?;
        ProtocolVersion::ALL
            .iter()
            .rev()
            .copied()
            .find(|v| v.era() == Era::Stateless && supported.iter().any(|s| s.as_str() == Some(v.as_str())))
    }

    fn adopt_discovery(&mut self, result: &Value) {
        self.capabilities = result.get("capabilities").cloned().unwrap_or_else(|| json!({}));
        self.server_info = result
            .get("_meta")
            .and_then(|m| m.get(meta::SERVER_INFO))
            .and_then(|v| serde_json::from_value(v.clone()).ok());
        let supported: Vec<&str> = result
            .get("supportedVersions")
            .and_then(Value::as_array)
            .map(|a| a.iter().filter_map(Value::as_str).collect())
            .unwrap_or_default();
        self.version = ProtocolVersion::ALL
            .iter()
            .rev()
            .copied()
            .find(|v| v.era() == Era::Stateless && supported.contains(&v.as_str()))
            .unwrap_or(ProtocolVersion::LATEST);
    }

    async fn initialize(&mut self) -> Result<(), ClientError> {
        let params = json!({
            "protocolVersion": ProtocolVersion::LATEST_HANDSHAKE.as_str(),
            "capabilities": self.options.capabilities(),
            "clientInfo": self.options.info,
        });
        let req = Request::new(self.id(), "initialize", params);
        let result = self.send(req, ProtocolVersion::LATEST_HANDSHAKE).await?.outcome.map_err(ClientError::Protocol)?;
        let version = result.get("protocolVersion").and_then(Value::as_str).and_then(ProtocolVersion::parse);
        self.version = version.filter(|v| v.era() == Era::Handshake).ok_or_else(|| {
            ClientError::Unexpected(format!("initialize answered an unknown protocolVersion: {result}"))
        })?;
        self.capabilities = result.get("capabilities").cloned().unwrap_or_else(|| json!({}));
        self.server_info = result.get("serverInfo").and_then(|v| serde_json::from_value(v.clone()).ok());
        let note = Notification::new("notifications/initialized", Value::Null);
        match &self.conn {
            Conn::Stdio(c) => c.channel.notify(note),
            Conn::Ws(c) => c.channel.notify(note),
            Conn::Http(c) => {
                c.notify(note, self.version).await?;
                c.listen(self.version).await;
                Ok(())
            }
        }
    }

    fn id(&self) -> RequestId {
        RequestId::Number(self.next_id.fetch_add(1, Ordering::Relaxed))
    }

    fn with_meta(&self, mut params: Map<String, Value>, version: ProtocolVersion) -> Map<String, Value> {
        if version.era() == Era::Stateless {
            let m = params.entry("_meta").or_insert_with(|| json!({}));
            if let Value::Object(m) = m {
                m.insert(meta::PROTOCOL_VERSION.into(), json!(version.as_str()));
                m.insert(meta::CLIENT_CAPABILITIES.into(), self.options.capabilities());
                m.insert(meta::CLIENT_INFO.into(), json!(self.options.info));
            }
        }
        params
    }

    async fn send(&self, req: Request, version: ProtocolVersion) -> Result<Response, ClientError> {
        let timeout = self.options.request_timeout;
        let fut = async {
            match &self.conn {
                Conn::Stdio(c) => c.channel.request(req).await,
                Conn::Ws(c) => c.channel.request(req).await,
                Conn::Http(c) => c.request(req, version).await,
            }
        };
        tokio::time::timeout(timeout, fut).await.map_err(|_| ClientError::Timeout(timeout))?
    }

    /// The revision in use.
    pub fn protocol_version(&self) -> ProtocolVersion {
        self.version
    }

    /// The server's identity, when it gave one.
    pub fn server_info(&self) -> Option<&Implementation> {
        self.server_info.as_ref()
    }

    /// The server's capabilities.
    pub fn server_capabilities(&self) -> &Value {
        &self.capabilities
    }

    /// Sends any request and returns its result. In the stateless era, `input_required`
    /// results are answered through the input handler and the request retried (at most
    /// 10 rounds).
    pub async fn request(&self, method: &str, params: Map<String, Value>) -> Result<Value, ClientError> {
        let mut params = params;
        for _ in 0..10 {
            let req = Request {
                id: self.id(),
                method: method.into(),
                params: Some(self.with_meta(params.clone(), self.version)),
            };
            let result = self.send(req, self.version).await?.outcome.map_err(ClientError::Protocol)?;
            if result.get("resultType").and_then(Value::as_str) != Some("input_required") {
                return Ok(result);
            }
            let mut responses = Map::new();
            if let Some(Value::Object(requests)) = result.get("inputRequests") {
                for (key, r) in requests {
                    let m = r.get("method").and_then(Value::as_str).unwrap_or_default();
                    let p = r.get("params").cloned().unwrap_or(Value::Null);
                    let answer = self.options.answer(m, p).await.map_err(|e| {
                        ClientError::Unexpected(format!(
                            "the server needs input ({m}) that this client cannot give: {}",
                            e.message
                        ))
                    })?;
                    responses.insert(key.clone(), answer);
                }
            }
            params.insert("inputResponses".into(), Value::Object(responses));
            match result.get("requestState") {
                Some(state) => params.insert("requestState".into(), state.clone()),
                None => params.remove("requestState"),
            };
        }
        Err(ClientError::Unexpected(format!("{method} still needed input after 10 rounds")))
    }

    async fn list_all(&self, method: &str, key: &str) -> Result<Vec<Value>, ClientError> {
        let mut items = Vec::new();
        let mut cursor: Option<String> = None;
        for _ in 0..1000 {
            let mut params = Map::new();
            if let Some(c) = &cursor {
                params.insert("cursor".into(), json!(c));
            }
            let page = self.request(method, params).await?;
            if let Some(Value::Array(a)) = page.get(key) {
                items.extend(a.iter().cloned());
            }
            cursor = page.get("nextCursor").and_then(Value::as_str).map(str::to_string);
            if cursor.is_none() {
                return Ok(items);
            }
        }
        Err(ClientError::Unexpected(format!("{method} returned more than 1000 pages")))
    }

    /// Every tool, across pages.
    ///
    /// Over HTTP, a tool whose `x-mcp-header` annotations break the spec's rules is left
    /// out (with a warning), as the 2026-07-28 revision requires; the others' annotated
    /// arguments are mirrored into `Mcp-Param-*` headers when they are called.
    pub async fn list_tools(&self) -> Result<Vec<Tool>, ClientError> {
        let raw = self.list_all("tools/list", "tools").await?;
        let mut tools = Vec::with_capacity(raw.len());
        for value in raw {
            let tool: Tool =
                serde_json::from_value(value).map_err(|e| ClientError::Unexpected(format!("malformed tool: {e}")))?;
            if let Conn::Http(conn) = &self.conn {
                match headers::checked_header_params(&tool.input_schema) {
                    Ok(params) => conn.learn_tool(&tool.name, params),
                    Err(reason) => {
                        tracing::warn!(tool = %tool.name, %reason, "tool left out: invalid x-mcp-header");
                        continue;
                    }
                }
            }
            tools.push(tool);
        }
        Ok(tools)
    }

    /// Every resource, across pages (as JSON).
    pub async fn list_resources(&self) -> Result<Vec<Value>, ClientError> {
        self.list_all("resources/list", "resources").await
    }

    /// Every resource template, across pages (as JSON).
    pub async fn list_resource_templates(&self) -> Result<Vec<Value>, ClientError> {
        self.list_all("resources/templates/list", "resourceTemplates").await
    }

    /// Every prompt, across pages (as JSON).
    pub async fn list_prompts(&self) -> Result<Vec<Value>, ClientError> {
        self.list_all("prompts/list", "prompts").await
    }

    /// Calls a tool.
    pub async fn call_tool(&self, name: &str, arguments: Value) -> Result<CallToolResult, ClientError> {
        let mut params = Map::new();
        params.insert("name".into(), json!(name));
        params.insert("arguments".into(), arguments);
        // Over HTTP, a tool's x-mcp-header arguments must be mirrored: learn them first.
        if let Conn::Http(conn) = &self.conn
            && self.version.era() == Era::Stateless
            && !conn.knows_tool(name)
        {
            self.list_tools().await?;
        }
        let mut result = match self.request("tools/call", params.clone()).await {
            // The tool's header annotations are unknown or changed: learn them and retry.
            Err(ClientError::Protocol(e)) if e.code == codes::HEADER_MISMATCH && matches!(self.conn, Conn::Http(_)) => {
                self.list_tools().await?;
                self.request("tools/call", params).await?
            }
            other => other?,
        };
        if let Value::Object(m) = &mut result {
            m.remove("resultType");
            // The stateless era's server info is the connection's, not the result's; the
            // rest of `_meta` stays (a failed call's kind is there: `ERROR_KIND_META`).
            if let Some(Value::Object(result_meta)) = m.get_mut("_meta") {
                result_meta.remove(meta::SERVER_INFO);
                if result_meta.is_empty() {
                    m.remove("_meta");
                }
            }
        }
        tool_result(result)
    }

    /// Reads a resource (the `contents` array and the rest of the result, as JSON).
    pub async fn read_resource(&self, uri: &str) -> Result<Value, ClientError> {
        let mut params = Map::new();
        params.insert("uri".into(), json!(uri));
        self.request("resources/read", params).await
    }

    /// Gets a prompt with arguments.
    pub async fn get_prompt(&self, name: &str, arguments: Value) -> Result<Value, ClientError> {
        let mut params = Map::new();
        params.insert("name".into(), json!(name));
        params.insert("arguments".into(), arguments);
        self.request("prompts/get", params).await
    }

    /// Ends the connection. Stdio: closes the server's stdin and waits for it to exit
    /// (SIGTERM after 2 s, SIGKILL 2 s later), returning its exit status; HTTP: ends the
    /// session; WebSocket: sends a close frame.
    pub async fn close(self) -> Option<std::process::ExitStatus> {
        match self.conn {
            Conn::Stdio(c) => return c.close().await,
            Conn::Ws(c) => c.close().await,
            Conn::Http(c) => c.close().await,
        }
        None
    }
}

/// The content that accepts an elicitation with every default its `requestedSchema`
/// declares, overlaid with `given` (SEP-1034: clients pre-fill defaults).
pub fn elicitation_content(params: &Value, given: &Value) -> Value {
    let mut content = Map::new();
    if let Some(props) = params.pointer("/requestedSchema/properties").and_then(Value::as_object) {
        for (key, prop) in props {
            if let Some(default) = prop.get("default") {
                content.insert(key.clone(), default.clone());
            }
        }
    }
    if let Value::Object(given) = given {
        content.extend(given.iter().map(|(k, v)| (k.clone(), v.clone())));
    }
    Value::Object(content)
}

/// A `tools/call` result, typed. The structured content is moved across, not deserialized
/// into a second tree (for a container inspect, a fifth of the client's work per call).
fn tool_result(mut result: Value) -> Result<CallToolResult, ClientError> {
    let structured = match &mut result {
        Value::Object(m) => m.remove("structuredContent").filter(|v| !v.is_null()),
        _ => None,
    };
    let mut typed: CallToolResult =
        serde_json::from_value(result).map_err(|e| ClientError::Unexpected(format!("malformed tool result: {e}")))?;
    typed.structured_content = structured;
    Ok(typed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_tool_result_keeps_its_structured_content_and_reads_the_rest() {
        let doc = json!({"host": "a", "container": {"Id": "x", "Config": {"Env": ["A=1"]}}});
        let r = tool_result(json!({"content": [{"type": "text", "text": "t"}], "structuredContent": doc.clone()}))
            .expect("a result");
        assert_eq!(r.structured_content, Some(doc));
        assert_eq!(serde_json::to_value(&r.content).expect("json"), json!([{"type": "text", "text": "t"}]));
        assert!(!r.is_error);

        let r = tool_result(json!({"content": [], "structuredContent": null, "isError": true})).expect("a result");
        assert_eq!((r.structured_content, r.is_error), (None, true));

        let e = tool_result(json!({"content": "not a list", "structuredContent": {}})).expect_err("malformed");
        assert!(e.to_string().contains("malformed tool result"), "{e}");
    }
}
