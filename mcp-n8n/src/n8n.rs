//! The n8n instances and the one place that talks HTTP to them: the Public API
//! (`/api/v1`, `X-N8N-API-KEY`), the node-type catalogue (`/types/nodes.json`), webhooks,
//! and, when a login is configured, the internal REST API (run a workflow by id).
//! Every failure becomes a message naming the instance and what to do about it, of the
//! kind its HTTP status or transport failure says (see [`status_kind`]).

use std::sync::Arc;
use std::time::Duration;

use mcp_core::ToolError;
use mcp_core::connector::{Target, Targets};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use tokio::sync::Mutex;

use crate::catalogue::Catalogue;
use crate::config::{InstanceConfig, Settings};

/// Largest API answer read into memory (a full execution with big items can be large;
/// anything past this is refused rather than buffered without end).
const MAX_BODY: usize = 64 << 20;

/// One n8n instance: its settings, an HTTP client, and lazily fetched state.
#[derive(Debug)]
pub struct Instance {
    pub config: InstanceConfig,
    http: mcp_core::tls::LazyClient,
    /// The node types installed there, fetched on first use (with a login).
    node_types: Mutex<Option<Arc<Vec<Value>>>>,
    /// The offline catalogue, used without a login (shared by every instance).
    offline: Arc<Offline>,
    /// The internal REST API's session cookie, after a login.
    session: Mutex<Option<String>>,
    /// Workflows as they were before this connector changed them: `(workflow id,
    /// versionId, body)`, newest last; a fallback for rollback when n8n's own history
    /// does not hold that version.
    pub snapshots: Mutex<Vec<(String, String, Value)>>,
}

impl Target for Instance {
    fn name(&self) -> &str {
        &self.config.name
    }
    fn read_only(&self) -> bool {
        self.config.read_only
    }
}

/// All configured instances and the settings.
#[derive(Debug)]
pub struct N8n {
    pub settings: Settings,
    /// The instances tools name with `instance`: reads default to the first, writes
    /// follow the kit's rule.
    pub instances: Targets<Instance>,
}

/// The offline node catalogue: `--catalogue FILE` (read at start, so a bad file stops
/// the server) or the embedded one (decompressed on first use: startup stays fast).
#[derive(Debug, Default)]
pub struct Offline {
    file: Option<std::path::PathBuf>,
    loaded: std::sync::OnceLock<Result<Arc<Catalogue>, String>>,
}

impl Offline {
    fn get(&self) -> Result<Arc<Catalogue>, ToolError> {
        self.loaded
            .get_or_init(|| Catalogue::load(self.file.as_deref()).map(Arc::new))
            .clone()
            .map_err(ToolError::failed)
    }
}

/// Node type descriptions and where they came from (results name it).
#[derive(Debug, Clone)]
pub struct NodeTypes {
    pub types: Arc<Vec<Value>>,
    /// `instance `name`` or the catalogue's [`Catalogue::source`].
    pub source: String,
    /// The catalogue's n8n version when the types are the offline catalogue's.
    pub offline: Option<String>,
}

/// Most snapshots kept per connector (each is a full workflow).
const MAX_SNAPSHOTS: usize = 200;

impl N8n {
    pub fn open(settings: Settings) -> Result<Self, String> {
        let offline = Arc::new(Offline { file: settings.catalogue.clone(), loaded: Default::default() });
        if settings.catalogue.is_some() {
            offline.get().map_err(|e| e.to_string())?;
        }
        let mut instances = Vec::new();
        for config in &settings.instances {
            let (connect, request) = (settings.connect_timeout, settings.request_timeout);
            // Built on the first call: its trust store is not loaded at start.
            let http = mcp_core::tls::LazyClient::new(move |b| {
                b.connect_timeout(connect)
                    .timeout(request)
                    .redirect(reqwest::redirect::Policy::none())
                    // n8n (Node) closes a keep-alive connection idle for 5 s; a request sent on
                    // one just then fails ("connection closed before message completed").
                    .pool_idle_timeout(Duration::from_secs(4))
                    .user_agent(concat!("mcp-n8n/", env!("CARGO_PKG_VERSION")))
            });
            instances.push(Instance {
                config: config.clone(),
                http,
                node_types: Mutex::new(None),
                offline: offline.clone(),
                session: Mutex::new(None),
                snapshots: Mutex::new(Vec::new()),
            });
        }
        let instances = Targets::new("instance", instances, settings.allow_write)?;
        Ok(Self { settings, instances })
    }
}

/// The kind of failure an HTTP status of n8n means: what is missing is not found, a
/// rejected key or a missing scope or licence is refused, a request n8n cannot accept
/// is invalid arguments, an overloaded or restarting instance is unavailable.
pub fn status_kind(status: StatusCode, message: String) -> ToolError {
    match status.as_u16() {
        404 => ToolError::not_found(message),
        401 | 403 => ToolError::refused(message),
        400 | 422 => ToolError::invalid_arguments(message),
        408 | 504 => ToolError::timed_out(message),
        502 | 503 => ToolError::unavailable(message),
        _ => ToolError::failed(message),
    }
}

impl Instance {
    pub fn name(&self) -> &str {
        &self.config.name
    }

    /// A Public API call; `path` starts with `/` and is relative to `/api/v1`.
    pub async fn api(
        &self,
        method: Method,
        path: &str,
        query: &[(&str, String)],
        body: Option<&Value>,
    ) -> Result<Value, ToolError> {
        self.request(&Call { method, path, query, body, gated: None, settle: false }).await
    }

    pub async fn get(&self, path: &str, query: &[(&str, String)]) -> Result<Value, ToolError> {
        self.api(Method::GET, path, query, None).await
    }

    /// A call to a licence-gated feature (`variables`, `projects`, ...): its 403 says so.
    pub async fn gated(
        &self,
        feature: &'static str,
        method: Method,
        path: &str,
        query: &[(&str, String)],
        body: Option<&Value>,
    ) -> Result<Value, ToolError> {
        self.request(&Call { method, path, query, body, gated: Some(feature), settle: false }).await
    }

    /// A body-less call retried a few times over ~1.5 s while n8n answers 409 Conflict
    /// (a delete just after unpublishing, say).
    pub async fn settled(&self, method: Method, path: &str) -> Result<Value, ToolError> {
        self.request(&Call { method, path, query: &[], body: None, gated: None, settle: true }).await
    }

    async fn request(&self, call: &Call<'_>) -> Result<Value, ToolError> {
        let mut attempt = 0;
        loop {
            match self.once(call).await? {
                (status, _) if status == StatusCode::CONFLICT && call.settle && attempt < 10 => {
                    attempt += 1;
                    tokio::time::sleep(Duration::from_millis(150)).await;
                }
                (status, value) if status.is_success() => return Ok(value),
                (status, value) => return Err(self.status_error(status, call, &value)),
            }
        }
    }

    /// The HTTP client, built on the first call.
    fn client(&self) -> Result<&reqwest::Client, ToolError> {
        self.http.get().map_err(ToolError::failed)
    }

    /// One request: its status and its JSON body (a text body as a JSON string).
    async fn once(&self, call: &Call<'_>) -> Result<(StatusCode, Value), ToolError> {
        let (method, path, query, body) = (call.method.clone(), call.path, call.query, call.body);
        let url = format!("{}/api/v1{path}", self.config.url);
        let mut req =
            self.client()?.request(method.clone(), &url).header("X-N8N-API-KEY", self.config.api_key.expose());
        if !query.is_empty() {
            req = req.query(query);
        }
        if let Some(body) = body {
            req = req.json(body);
        }
        let resp = req.send().await.map_err(|e| self.transport_error(&e))?;
        let status = resp.status();
        let bytes = read_body(resp).await.map_err(|e| self.transport_error(&e))?;
        let parsed = if bytes.is_empty() { Ok(Value::Null) } else { serde_json::from_slice(&bytes) };
        match parsed {
            Ok(value) => Ok((status, value)),
            // An answer that is not JSON is not the Public API's (a proxy's page, a
            // wrong base URL): never read it as an empty result.
            Err(_) if status.is_success() => Err(ToolError::failed(format!(
                "n8n instance `{}` answered {method} {path} with a body that is not JSON ({}): is {} the n8n base URL?",
                self.name(),
                crate::output::clip(String::from_utf8_lossy(&bytes).trim(), 120),
                self.config.url
            ))),
            Err(_) => Ok((status, Value::String(String::from_utf8_lossy(&bytes).into_owned()))),
        }
    }

    /// What a failed status means, for a model and for the person configuring it.
    fn status_error(&self, status: StatusCode, call: &Call<'_>, body: &Value) -> ToolError {
        let (method, path, gated) = (&call.method, call.path, call.gated);
        let message = body
            .get("message")
            .and_then(Value::as_str)
            .map(str::to_string)
            .or_else(|| body.as_str().map(|s| crate::output::clip(s, 300)))
            .unwrap_or_default();
        let name = self.name();
        let path = path.split('?').next().unwrap_or(path);
        let call_text =
            if path.starts_with("/rest/") { format!("{method} {path}") } else { format!("{method} /api/v1{path}") };
        let call = &call_text;
        let text = match status.as_u16() {
            403 if gated.is_some() => format!(
                "{} are not available here: this n8n instance's licence does not include them (a paid feature), or \
                 the API key lacks their scope. (n8n instance `{name}` refused {call} with 403 Forbidden{})",
                gated.unwrap_or_default(),
                if message.is_empty() { String::new() } else { format!(": {message}") }
            ),
            401 => format!(
                "n8n instance `{name}` ({}) rejected the API key (401 Unauthorized): the key is wrong, expired or \
                 revoked. Create one in n8n under Settings → n8n API and give it in N8N_API_KEY or --api-key-file.",
                self.config.url
            ),
            403 => format!(
                "n8n instance `{name}` refused {call} (403 Forbidden{}): the API key lacks the scope this call needs \
                 (give the key that scope in Settings → n8n API), or the instance's licence does not include this \
                 feature, or the key's user has no access to it.",
                if message.is_empty() { String::new() } else { format!(": {message}") }
            ),
            404 => format!(
                "not found on `{name}` ({call}){}",
                if message.is_empty() { String::new() } else { format!(": {message}") }
            ),
            _ => format!(
                "n8n instance `{name}` answered {call} with {status}{}",
                if message.is_empty() { String::new() } else { format!(": {message}") }
            ),
        };
        status_kind(status, text)
    }

    /// A failure below HTTP: unreachable, timed out, cut off.
    pub fn transport_error(&self, e: &reqwest::Error) -> ToolError {
        let name = self.name();
        let url = &self.config.url;
        if e.is_timeout() {
            return ToolError::timed_out(format!(
                "n8n instance `{name}` at {url} timed out (see --request-timeout-secs)"
            ));
        }
        let what = if e.is_connect() {
            // A refused TLS handshake is a connect error too: say which, not just "down".
            let chain = source_chain(e);
            if chain.contains("certificate") || chain.contains("tls") || chain.contains("TLS") {
                format!(
                    "refused the TLS connection: {chain} (for a private CA, point SSL_CERT_FILE at its certificate)"
                )
            } else {
                format!("is not reachable (connection failed: {chain}): is n8n running there?")
            }
        } else {
            return ToolError::failed(format!("n8n instance `{name}` at {url} failed: {}", source_chain(e)));
        };
        // Refused connections, unknown names and refused handshakes: the backend cannot be
        // reached as configured.
        ToolError::unavailable(format!("n8n instance `{name}` at {url} {what}"))
    }

    /// `GET /healthz/readiness`: whether the instance is up, without the key.
    pub async fn readiness(&self) -> Result<(), String> {
        let url = format!("{}/healthz/readiness", self.config.url);
        match self.http.get()?.get(&url).timeout(Duration::from_secs(5)).send().await {
            Ok(r) if r.status().is_success() => Ok(()),
            Ok(r) => Err(format!("{url} answered {}", r.status())),
            Err(e) => Err(format!("{url}: {}", source_chain(&e))),
        }
    }

    /// Every node type's description: the instance's own (`/types/nodes.json`, cached
    /// after the first call) with a login, since n8n serves it only to a logged-in user;
    /// without one, the offline catalogue of n8n's packages.
    pub async fn node_types(&self) -> Result<NodeTypes, ToolError> {
        if self.config.login.is_none() {
            let c = self.offline.get()?;
            return Ok(NodeTypes { types: c.nodes.clone(), source: c.source(), offline: Some(c.version.clone()) });
        }
        let source = format!("instance `{}` (/types/nodes.json)", self.name());
        let mut cache = self.node_types.lock().await;
        if let Some(types) = cache.as_ref() {
            return Ok(NodeTypes { types: types.clone(), source, offline: None });
        }
        // The editor's catalogue: what this instance has installed, at its versions.
        let (status, bytes) = self.session_request(Method::GET, "/types/nodes.json", None).await?;
        if !status.is_success() {
            return Err(ToolError::failed(format!(
                "n8n instance `{}` did not serve its node types (/types/nodes.json: {status})",
                self.name()
            )));
        }
        let types: Vec<Value> = serde_json::from_slice(&bytes)
            .map_err(|e| ToolError::failed(format!("node types of `{}`: not the expected JSON: {e}", self.name())))?;
        let types = Arc::new(types);
        *cache = Some(types.clone());
        Ok(NodeTypes { types, source, offline: None })
    }

    /// The URL of a webhook of this instance: its base URL, then `prefix`, then each
    /// segment (from [`webhook_segments`]) percent-encoded as one path segment. The built
    /// URL is checked to lie under `prefix`, and it is what is sent.
    pub fn webhook_url(&self, prefix: &str, segments: &[String]) -> Result<reqwest::Url, ToolError> {
        let bad_base = || ToolError::failed(format!("instance `{}`: its URL cannot hold a webhook path", self.name()));
        let mut url = reqwest::Url::parse(&self.config.url).map_err(|_| bad_base())?;
        let under = format!("{}/{prefix}/", url.path().trim_end_matches('/'));
        url.path_segments_mut().map_err(|_| bad_base())?.pop_if_empty().push(prefix).extend(segments);
        let path = url.path();
        if !path.starts_with(&under) || path.len() == under.len() {
            return Err(ToolError::invalid_arguments(format!(
                "`path`: the webhook URL would be {path}, which is not under {under}"
            )));
        }
        Ok(url)
    }

    /// Calls a webhook of this instance at `url` (from [`Instance::webhook_url`]: never
    /// another host or path).
    pub async fn webhook(
        &self,
        url: &reqwest::Url,
        method: Method,
        query: &[(String, String)],
        headers: &[(String, String)],
        body: Option<&Value>,
        timeout: Duration,
    ) -> Result<(StatusCode, Vec<(String, String)>, Vec<u8>), ToolError> {
        let mut req = self.client()?.request(method, url.clone()).timeout(timeout);
        if !query.is_empty() {
            req = req.query(query);
        }
        for (k, v) in headers {
            req = req.header(k.as_str(), v.as_str());
        }
        if let Some(body) = body {
            req = req.json(body);
        }
        let resp = req.send().await.map_err(|e| self.transport_error(&e))?;
        let status = resp.status();
        let headers = resp
            .headers()
            .iter()
            .filter(|(k, _)| matches!(k.as_str(), "content-type" | "content-length" | "location"))
            .map(|(k, v)| (k.to_string(), String::from_utf8_lossy(v.as_bytes()).into_owned()))
            .collect();
        let bytes = read_body(resp).await.map_err(|e| self.transport_error(&e))?;
        Ok((status, headers, bytes))
    }

    /// A call to the internal REST API (`/rest/...`) with a session from the configured
    /// login; `None` when no login is configured.
    pub async fn rest(&self, method: Method, path: &str, body: Option<&Value>) -> Result<Option<Value>, ToolError> {
        if self.config.login.is_none() {
            return Ok(None);
        }
        let (status, bytes) = self.session_request(method.clone(), &format!("/rest{path}"), body).await?;
        let value: Value = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
        if !status.is_success() {
            let path = format!("/rest{path}");
            let call = Call { method, path: &path, query: &[], body: None, gated: None, settle: false };
            return Err(self.status_error(status, &call, &value));
        }
        Ok(Some(value.get("data").cloned().unwrap_or(value)))
    }

    /// A request with the login's session cookie (logging in first, and again once when
    /// the session has expired or n8n restarted).
    async fn session_request(
        &self,
        method: Method,
        path: &str,
        body: Option<&Value>,
    ) -> Result<(StatusCode, Vec<u8>), ToolError> {
        let Some(login) = &self.config.login else {
            return Err(ToolError::failed(format!("no login is configured for `{}`", self.name())));
        };
        for attempt in 0..2 {
            let cookie = {
                let mut session = self.session.lock().await;
                if session.is_none() || attempt > 0 {
                    let resp = self
                        .client()?
                        .post(format!("{}/rest/login", self.config.url))
                        .header("browser-id", "mcp-n8n")
                        .json(&json!({"emailOrLdapLoginId": login.email, "password": login.password.expose()}))
                        .send()
                        .await
                        .map_err(|e| self.transport_error(&e))?;
                    if !resp.status().is_success() {
                        return Err(ToolError::refused(format!(
                            "n8n instance `{}` refused the login of {} ({}): check --email and the password",
                            self.name(),
                            login.email,
                            resp.status()
                        )));
                    }
                    let cookie = resp
                        .headers()
                        .get_all("set-cookie")
                        .iter()
                        .filter_map(|v| v.to_str().ok())
                        .filter_map(|v| v.split(';').next())
                        .find(|c| c.starts_with("n8n-auth="))
                        .map(str::to_string)
                        .ok_or_else(|| ToolError::failed("n8n's login answer carried no session cookie"))?;
                    *session = Some(cookie);
                }
                session.clone().unwrap_or_default()
            };
            let mut req = self
                .client()?
                .request(method.clone(), format!("{}{path}", self.config.url))
                .timeout(Duration::from_secs(120))
                .header("cookie", cookie)
                // n8n ties a session to the browser id it was made with.
                .header("browser-id", "mcp-n8n");
            if let Some(body) = body {
                req = req.json(body);
            }
            let resp = req.send().await.map_err(|e| self.transport_error(&e))?;
            let status = resp.status();
            if status == StatusCode::UNAUTHORIZED && attempt == 0 {
                continue;
            }
            let bytes = read_body(resp).await.map_err(|e| self.transport_error(&e))?;
            return Ok((status, bytes));
        }
        Err(ToolError::failed(format!("n8n instance `{}` kept refusing the session", self.name())))
    }

    /// Records the workflow as it is before a change.
    pub async fn snapshot(&self, workflow: &Value) {
        let id = workflow["id"].as_str().unwrap_or_default().to_string();
        let version = workflow["versionId"].as_str().unwrap_or_default().to_string();
        let mut snaps = self.snapshots.lock().await;
        if !snaps.iter().any(|(i, v, _)| *i == id && *v == version) {
            snaps.push((id, version, workflow.clone()));
        }
        if snaps.len() > MAX_SNAPSHOTS {
            let extra = snaps.len() - MAX_SNAPSHOTS;
            snaps.drain(..extra);
        }
    }
}

/// One Public API request as [`Instance::request`] sends it.
struct Call<'a> {
    method: Method,
    /// Relative to `/api/v1`.
    path: &'a str,
    query: &'a [(&'a str, String)],
    body: Option<&'a Value>,
    /// The licence-gated feature this call reaches, for its 403's wording.
    gated: Option<&'static str>,
    /// Retry while n8n answers 409 Conflict.
    settle: bool,
}

/// Reads a body up to [`MAX_BODY`].
async fn read_body(mut resp: reqwest::Response) -> Result<Vec<u8>, reqwest::Error> {
    let mut out = Vec::new();
    while let Some(chunk) = resp.chunk().await? {
        if out.len() + chunk.len() > MAX_BODY {
            break;
        }
        out.extend_from_slice(&chunk);
    }
    Ok(out)
}

/// An error with its causes (reqwest's own message is often just "error sending request").
fn source_chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut cur = e.source();
    while let Some(s) = cur {
        let s_text = s.to_string();
        if !text.contains(&s_text) {
            text = format!("{text}: {s_text}");
        }
        cur = s.source();
    }
    text
}

/// The segments of a webhook path, each as n8n will see it once decoded, refusing what
/// could lead the request out of the webhook prefix: `.` and `..` segments, empty ones,
/// backslashes, `?` and `#`, control characters, and, in a percent-encoded path, an
/// encoded `/` or `\` or a `%` left after decoding (a second encoding layer), so that no
/// decoding further down can make a dot segment or a separator. `encoded` says whether
/// `path` is percent-encoded (a caller's URL path) or literal (a Webhook node's `path`).
pub fn webhook_segments(path: &str, encoded: bool) -> Result<Vec<String>, ToolError> {
    let refuse = |why: &str| {
        ToolError::invalid_arguments(format!(
            "`path`: `{}` is not a webhook path: {why}",
            crate::output::clip(path, 80)
        ))
    };
    if path.len() > 512 {
        return Err(refuse("longer than 512 bytes"));
    }
    if path.contains(['\\', '?', '#']) || path.chars().any(char::is_control) {
        return Err(refuse("backslashes, `?`, `#` and control characters are not allowed (pass `query` for a query)"));
    }
    let trimmed = path.trim_matches('/');
    if trimmed.is_empty() {
        return Err(refuse("it is empty"));
    }
    let mut segments = Vec::new();
    for raw in trimmed.split('/') {
        let segment = if encoded {
            mcp_core::protocol::uri::percent_decode(raw)
                .ok_or_else(|| refuse("a `%` not followed by two hex digits, or not UTF-8"))?
        } else {
            raw.to_string()
        };
        if segment.is_empty() {
            return Err(refuse("it has an empty segment (`//`)"));
        }
        if segment == "." || segment == ".." {
            return Err(refuse("`.` and `..` segments (encoded or not) would leave the webhook prefix"));
        }
        if encoded && segment.contains(['/', '\\', '%']) {
            return Err(refuse("an encoded `/`, `\\` or `%` (encoded twice) is not allowed"));
        }
        if segment.chars().any(char::is_control) {
            return Err(refuse("control characters are not allowed"));
        }
        segments.push(segment);
    }
    Ok(segments)
}

#[cfg(test)]
mod status_tests {
    use super::*;
    use mcp_core::server::ErrorKind;

    #[test]
    fn statuses_map_to_error_kinds() {
        let kind = |code: u16| status_kind(StatusCode::from_u16(code).expect("a status"), "x".into()).kind();
        assert_eq!(kind(404), ErrorKind::NotFound);
        assert_eq!(kind(401), ErrorKind::Refused);
        assert_eq!(kind(403), ErrorKind::Refused);
        assert_eq!(kind(400), ErrorKind::InvalidArguments);
        assert_eq!(kind(422), ErrorKind::InvalidArguments);
        assert_eq!(kind(503), ErrorKind::Unavailable);
        assert_eq!(kind(504), ErrorKind::TimedOut);
        assert_eq!(kind(409), ErrorKind::Failed);
        assert_eq!(kind(500), ErrorKind::Failed);
    }

    fn instance(url: &str, timeout: Duration) -> Instance {
        let config = crate::config::InstanceConfig {
            name: "t".into(),
            url: url.into(),
            api_key: mcp_core::connector::Secret::new("k"),
            read_only: false,
            description: None,
            login: None,
        };
        let http = mcp_core::tls::LazyClient::new(move |b| b.timeout(timeout));
        Instance {
            config,
            http,
            node_types: Mutex::new(None),
            offline: Default::default(),
            session: Mutex::new(None),
            snapshots: Mutex::new(Vec::new()),
        }
    }

    #[tokio::test]
    async fn unreachable_and_slow_instances_are_unavailable_and_timed_out() {
        // A port nobody listens on: connection refused.
        let port = std::net::TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).expect("a port").port();
        let e = instance(&format!("http://127.0.0.1:{port}"), Duration::from_secs(5)).get("/x", &[]).await;
        let e = e.expect_err("refused");
        assert_eq!(e.kind(), ErrorKind::Unavailable, "{e}");
        assert!(e.to_string().contains("is n8n running"), "{e}");
        // A name that does not resolve.
        let e = instance("http://no-such-host.invalid", Duration::from_secs(5)).get("/x", &[]).await;
        assert_eq!(e.expect_err("unresolved").kind(), ErrorKind::Unavailable);
        // A listener that accepts and never answers.
        let silent = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        let url = format!("http://{}", silent.local_addr().expect("addr"));
        let e = instance(&url, Duration::from_millis(300)).get("/x", &[]).await.expect_err("timed out");
        assert_eq!(e.kind(), ErrorKind::TimedOut, "{e}");
    }
}

#[cfg(test)]
mod webhook_path_tests {
    use super::webhook_segments;

    #[test]
    fn encoded_dot_segments_separators_and_double_encoding_are_refused() {
        for bad in [
            "%2e%2e/healthz",
            "%2E%2E%2Fhealthz",
            "..%2fapi/v1/workflows",
            "%252e%252e/healthz",
            "webhook/../../healthz",
            "./../rest/login",
            "..\\healthz",
            "%5c..%5chealthz",
            "a//b",
            "a/%2e/b",
            "x%2",
            "x%zz",
            "",
            "/",
        ] {
            assert!(webhook_segments(bad, true).is_err(), "{bad}");
        }
        assert!(webhook_segments("../x", false).is_err());
        assert_eq!(webhook_segments("/a%20b/caf%C3%A9/", true).expect("ok"), ["a b", "café"]);
        // A node's literal path keeps its `%`.
        assert_eq!(webhook_segments("50%off", false).expect("ok"), ["50%off"]);
    }
}
