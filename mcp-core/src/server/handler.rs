//! Plain async functions as tools, resources and prompts.
//!
//! A tool is `async fn(Context, Args) -> Result<Out, ToolError>`: `Args` derives
//! `Deserialize + JsonSchema` (its doc comments become the schema's descriptions) and
//! `Out` is anything [`IntoToolResult`]. The builders here erase those types once, at
//! registration, so dispatch is a map lookup and one boxed call.

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use schemars::JsonSchema;
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::{Map, Value};

use super::context::Context;
use super::error::ToolError;
use crate::protocol::{
    CallToolResult, Completion, Content, GetPromptResult, Prompt, PromptArgument, Resource, ResourceContents,
    ResourceTemplate, Tool, ToolAnnotations,
};

pub(crate) type BoxFuture<T> = Pin<Box<dyn Future<Output = T> + Send + 'static>>;
type ErasedTool = dyn Fn(Context, Value) -> BoxFuture<Result<CallToolResult, ToolError>> + Send + Sync;
type ErasedResource =
    dyn Fn(Context, HashMap<String, String>) -> BoxFuture<Result<Vec<ResourceContents>, ToolError>> + Send + Sync;
type ErasedPrompt = dyn Fn(Context, Map<String, Value>) -> BoxFuture<Result<GetPromptResult, ToolError>> + Send + Sync;
pub(crate) type ErasedCompleter =
    dyn Fn(Context, CompletionRequest) -> BoxFuture<Result<Completion, ToolError>> + Send + Sync;
pub(crate) type ErasedLister = dyn Fn(Context) -> BoxFuture<Result<Vec<Resource>, ToolError>> + Send + Sync;

/// What a tool returns, turned into a `tools/call` result.
pub trait IntoToolResult {
    /// The result.
    fn into_tool_result(self) -> CallToolResult;
    /// The output schema, for typed (structured) results.
    fn output_schema() -> Option<Value> {
        None
    }
}

impl IntoToolResult for CallToolResult {
    fn into_tool_result(self) -> CallToolResult {
        self
    }
}

impl IntoToolResult for String {
    fn into_tool_result(self) -> CallToolResult {
        CallToolResult::success(vec![Content::text(self)])
    }
}

impl IntoToolResult for &'static str {
    fn into_tool_result(self) -> CallToolResult {
        CallToolResult::success(vec![Content::text(self)])
    }
}

impl IntoToolResult for Content {
    fn into_tool_result(self) -> CallToolResult {
        CallToolResult::success(vec![self])
    }
}

impl IntoToolResult for Vec<Content> {
    fn into_tool_result(self) -> CallToolResult {
        CallToolResult::success(self)
    }
}

/// A typed result: sent as `structuredContent` (with an `outputSchema` derived from `T`)
/// and, for clients that only read text, as compact JSON text.
#[derive(Debug, Clone)]
pub struct Json<T>(pub T);

impl<T: Serialize + JsonSchema> IntoToolResult for Json<T> {
    fn into_tool_result(self) -> CallToolResult {
        match serde_json::to_value(&self.0) {
            Ok(value) => CallToolResult::structured(value.to_string(), value),
            Err(e) => CallToolResult::error(format!("could not serialize the result: {e}")),
        }
    }
    fn output_schema() -> Option<Value> {
        Some(schema_of::<T>())
    }
}

/// The JSON Schema of `T`, inlined (no `$defs` references where avoidable) for clients
/// that do not resolve references, in the subset every client accepts
/// ([`make_portable`](crate::protocol::make_portable)).
pub fn schema_of<T: JsonSchema>() -> Value {
    let settings = schemars::generate::SchemaSettings::draft2020_12().with(|s| {
        s.inline_subschemas = true;
    });
    // `to_value` moves the tree out: serializing the schema would copy it.
    let mut value = settings.into_generator().into_root_schema_for::<T>().to_value();
    if let Value::Object(map) = &mut value {
        // The title is the Rust type name: noise for a model.
        map.remove("title");
        if !map.contains_key("type") {
            map.insert("type".into(), Value::String("object".into()));
        }
    }
    crate::protocol::make_portable(&mut value);
    value
}

/// The input schema of arguments `A`: [`schema_of`], where an optional member that may be
/// null says its default is null (`"default": null`), as serde's own reading of a missing
/// `Option` has it, so argument types need no `#[serde(default)]` on `Option` fields.
pub fn input_schema_of<A: JsonSchema>() -> Value {
    let mut schema = schema_of::<A>();
    default_optional_to_null(&mut schema);
    schema
}

fn default_optional_to_null(schema: &mut Value) {
    let Value::Object(map) = schema else { return };
    // Taken out while the properties are changed, rather than copied.
    let required = map.remove("required");
    let names: &[Value] = match &required {
        Some(Value::Array(names)) => names,
        _ => &[],
    };
    if let Some(Value::Object(properties)) = map.get_mut("properties") {
        for (name, property) in properties.iter_mut() {
            if let Value::Object(p) = property
                && !names.iter().any(|n| n == name.as_str())
                && !p.contains_key("default")
                && allows_null(p)
            {
                p.insert("default".into(), Value::Null);
            }
        }
    }
    if let Some(required) = required {
        map.insert("required".into(), required);
    }
    for (key, child) in map.iter_mut() {
        match (key.as_str(), child) {
            ("default" | "examples" | "const" | "enum", _) => {}
            (_, Value::Array(items)) => items.iter_mut().for_each(default_optional_to_null),
            (_, child @ Value::Object(_)) => default_optional_to_null(child),
            _ => {}
        }
    }
}

/// Whether a schema admits null: `type: "null"`, a type list with it, or a null branch.
fn allows_null(schema: &Map<String, Value>) -> bool {
    let null_type = |t: &Value| t == "null" || t.as_array().is_some_and(|ts| ts.iter().any(|t| t == "null"));
    schema.get("type").is_some_and(null_type)
        || ["anyOf", "oneOf"].iter().any(|k| {
            schema
                .get(*k)
                .and_then(Value::as_array)
                .is_some_and(|branches| branches.iter().any(|b| b.get("type").is_some_and(null_type)))
        })
}

/// Deserializes `value` into `T`, naming the path of the first bad member.
pub(crate) fn parse_args<T: DeserializeOwned>(value: Value) -> Result<T, String> {
    serde_path_to_error::deserialize(value).map_err(|e| {
        let path = e.path().to_string();
        let inner = e.into_inner();
        if path == "." { inner.to_string() } else { format!("`{path}`: {inner}") }
    })
}

/// A registered tool: its description and its erased handler.
#[derive(Clone)]
pub struct ToolRoute {
    pub(crate) tool: Tool,
    pub(crate) handler: Arc<ErasedTool>,
    /// Argument names the audit trail redacts, besides the secret-looking ones.
    pub(crate) sensitive: Vec<String>,
    /// The group `--toolsets` selects it by.
    pub(crate) toolset: Option<std::borrow::Cow<'static, str>>,
    /// The replaceable group it belongs to (see [`crate::Server::replace_tool_group`]).
    pub(crate) group: Option<Arc<str>>,
    /// Enabled by a flag of its own rather than by `--allow-write` (see [`ToolRoute::own_gate`]).
    pub(crate) own_gate: bool,
    /// The derived schemas not made yet: made when the server is built, for the tools
    /// it keeps only (a read-only server lists fewer than half of some connectors' tools).
    pub(crate) pending: PendingSchemas,
}

/// Makers of a tool's derived schemas, until [`make_schemas`] runs them.
#[derive(Clone, Copy, Default)]
pub(crate) struct PendingSchemas {
    input: Option<fn() -> Value>,
    output: Option<fn() -> Option<Value>>,
}

/// Makes the derived schemas of `routes` not made yet, each maker run once however many
/// of them share it (every tabular tool of mcp-postgres has one result type). Makers are
/// told apart by address: two copies of one maker only make its schema twice.
pub(crate) fn make_schemas<'a>(routes: impl IntoIterator<Item = &'a mut ToolRoute>) {
    let routes: Vec<&mut ToolRoute> = routes.into_iter().collect();
    // The last tool of a maker takes its schema; only the others get copies.
    let mut inputs: Shared<Value> = HashMap::new();
    let mut outputs: Shared<Option<Value>> = HashMap::new();
    for route in &routes {
        if let Some(make) = route.pending.input {
            inputs.entry(make as usize).or_default().0 += 1;
        }
        if let Some(make) = route.pending.output {
            outputs.entry(make as usize).or_default().0 += 1;
        }
    }
    for route in routes {
        if let Some(make) = route.pending.input.take() {
            route.tool.input_schema = take_or_copy(&mut inputs, make);
        }
        if let Some(make) = route.pending.output.take() {
            route.tool.output_schema = take_or_copy(&mut outputs, make);
        }
    }
}

/// Per maker: how many tools still need its schema, and the schema once made.
type Shared<T> = HashMap<usize, (usize, Option<T>)>;

fn take_or_copy<T: Clone>(made: &mut Shared<T>, make: fn() -> T) -> T {
    let Some((left, schema)) = made.get_mut(&(make as usize)) else { return make() };
    *left -= 1;
    if *left == 0 {
        return schema.take().unwrap_or_else(make);
    }
    schema.get_or_insert_with(make).clone()
}

impl std::fmt::Debug for ToolRoute {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ToolRoute").field("name", &self.tool.name).finish()
    }
}

/// Makes a tool from an async function `(Context, Args) -> Result<Out, ToolError>`.
pub fn tool<F, Fut, A, O>(name: impl Into<String>, handler: F) -> ToolRoute
where
    F: Fn(Context, A) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<O, ToolError>> + Send + 'static,
    A: DeserializeOwned + JsonSchema + Send + 'static,
    O: IntoToolResult + 'static,
{
    let handler = Arc::new(handler);
    let erased: Arc<ErasedTool> = Arc::new(move |ctx: Context, args: Value| {
        let handler = handler.clone();
        Box::pin(async move {
            let args: A = parse_args(args).map_err(ToolError::InvalidArguments)?;
            handler(ctx, args).await.map(IntoToolResult::into_tool_result)
        })
    });
    ToolRoute {
        tool: Tool {
            name: name.into(),
            title: None,
            description: None,
            input_schema: Value::Null,
            output_schema: None,
            annotations: None,
            meta: None,
        },
        handler: erased,
        sensitive: Vec::new(),
        toolset: None,
        group: None,
        own_gate: false,
        pending: PendingSchemas { input: Some(input_schema_of::<A>), output: Some(O::output_schema) },
    }
}

/// Makes a tool whose handler also receives shared state (a connection pool, an API
/// client): `async fn(Arc<S>, Context, Args) -> Result<Out, ToolError>`.
pub fn tool_with<S, F, Fut, A, O>(name: impl Into<String>, state: &Arc<S>, handler: F) -> ToolRoute
where
    S: Send + Sync + 'static,
    F: Fn(Arc<S>, Context, A) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<O, ToolError>> + Send + 'static,
    A: DeserializeOwned + JsonSchema + Send + 'static,
    O: IntoToolResult + 'static,
{
    let state = state.clone();
    tool(name, move |ctx, args| handler(state.clone(), ctx, args))
}

impl ToolRoute {
    /// Arguments the audit trail must redact (names that do not look secret by themselves,
    /// such as a connection string).
    pub fn sensitive<S: Into<String>>(mut self, fields: impl IntoIterator<Item = S>) -> Self {
        self.sensitive.extend(fields.into_iter().map(Into::into));
        self
    }
    /// What the tool does, for the model.
    pub fn description(mut self, text: impl Into<String>) -> Self {
        self.tool.description = Some(text.into());
        self
    }
    /// A human-readable title.
    pub fn title(mut self, title: impl Into<String>) -> Self {
        self.tool.title = Some(title.into());
        self
    }
    fn annotations(&mut self) -> &mut ToolAnnotations {
        self.tool.annotations.get_or_insert_with(ToolAnnotations::default)
    }
    /// Marks the tool read-only (it changes nothing); read-only servers list only these.
    pub fn read_only(mut self) -> Self {
        let a = self.annotations();
        a.read_only_hint = Some(true);
        a.destructive_hint = Some(false);
        self
    }
    /// Marks the tool destructive (it may delete or overwrite).
    pub fn destructive(mut self) -> Self {
        let a = self.annotations();
        a.read_only_hint = Some(false);
        a.destructive_hint = Some(true);
        self
    }
    /// Marks the tool as changing state without destroying anything.
    pub fn additive(mut self) -> Self {
        let a = self.annotations();
        a.read_only_hint = Some(false);
        a.destructive_hint = Some(false);
        self
    }
    /// Marks repeated identical calls as harmless.
    pub fn idempotent(mut self) -> Self {
        self.annotations().idempotent_hint = Some(true);
        self
    }
    /// Marks the tool as reaching outside a closed world (the internet, other systems).
    pub fn open_world(mut self, open: bool) -> Self {
        self.annotations().open_world_hint = Some(open);
        self
    }
    /// Replaces the generated input schema (for schemas Rust types cannot express).
    pub fn input_schema(mut self, mut schema: Value) -> Self {
        crate::protocol::make_portable(&mut schema);
        self.tool.input_schema = schema;
        self.pending.input = None;
        self
    }
    /// Sets the output schema explicitly (made portable like derived ones).
    pub fn output_schema(mut self, mut schema: Value) -> Self {
        crate::protocol::make_portable(&mut schema);
        self.tool.output_schema = Some(schema);
        self.pending.output = None;
        self
    }
    /// Puts the tool in a toolset, the group `--toolsets` selects.
    pub fn toolset(mut self, name: impl Into<std::borrow::Cow<'static, str>>) -> Self {
        self.toolset = Some(name.into());
        self
    }
    /// Says the tool's effects are enabled by a flag of its own (an export directory, say)
    /// rather than by `--allow-write`: the tool selection keeps it without writes.
    pub fn own_gate(mut self) -> Self {
        self.own_gate = true;
        self
    }
    /// The toolset the tool is in, if any.
    pub fn toolset_name(&self) -> Option<&str> {
        self.toolset.as_deref()
    }
    /// Whether a flag of its own enables the tool (see [`ToolRoute::own_gate`]).
    pub fn has_own_gate(&self) -> bool {
        self.own_gate
    }
    /// Whether the tool is annotated destructive.
    pub fn is_destructive(&self) -> bool {
        self.tool.annotations.as_ref().and_then(|a| a.destructive_hint).unwrap_or(false)
    }
    /// The tool's wire description. Its derived schemas are made when the server is
    /// built (before, they are `null` and absent).
    pub fn definition(&self) -> &Tool {
        &self.tool
    }
    /// Whether the tool is annotated read-only.
    pub fn is_read_only(&self) -> bool {
        self.tool.annotations.as_ref().and_then(|a| a.read_only_hint).unwrap_or(false)
    }
}

/// What a resource handler returns.
pub trait IntoResourceContents {
    /// The contents.
    fn into_contents(self) -> Vec<ResourceContents>;
}

impl IntoResourceContents for ResourceContents {
    fn into_contents(self) -> Vec<ResourceContents> {
        vec![self]
    }
}

impl IntoResourceContents for Vec<ResourceContents> {
    fn into_contents(self) -> Vec<ResourceContents> {
        self
    }
}

/// A registered resource or URI template.
#[derive(Clone)]
pub struct ResourceRoute {
    pub(crate) kind: ResourceKind,
    pub(crate) handler: Arc<ErasedResource>,
}

impl std::fmt::Debug for ResourceRoute {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ResourceRoute").finish_non_exhaustive()
    }
}

#[derive(Clone, Debug)]
pub(crate) enum ResourceKind {
    Static(Resource),
    Template(ResourceTemplate, UriTemplate),
}

/// A resource at a fixed URI, read by `handler(ctx)`.
pub fn resource<F, Fut, O>(uri: impl Into<String>, name: impl Into<String>, handler: F) -> ResourceRoute
where
    F: Fn(Context) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<O, ToolError>> + Send + 'static,
    O: IntoResourceContents + 'static,
{
    let handler = Arc::new(handler);
    ResourceRoute {
        kind: ResourceKind::Static(Resource {
            uri: uri.into(),
            name: name.into(),
            title: None,
            description: None,
            mime_type: None,
            size: None,
        }),
        handler: Arc::new(move |ctx, _| {
            let handler = handler.clone();
            Box::pin(async move { handler(ctx).await.map(IntoResourceContents::into_contents) })
        }),
    }
}

/// Resources matching an RFC 6570 template such as `file:///{path}`, read by
/// `handler(ctx, variables)`.
pub fn resource_template<F, Fut, O>(template: impl Into<String>, name: impl Into<String>, handler: F) -> ResourceRoute
where
    F: Fn(Context, HashMap<String, String>) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<O, ToolError>> + Send + 'static,
    O: IntoResourceContents + 'static,
{
    let template = template.into();
    let handler = Arc::new(handler);
    ResourceRoute {
        kind: ResourceKind::Template(
            ResourceTemplate {
                uri_template: template.clone(),
                name: name.into(),
                title: None,
                description: None,
                mime_type: None,
            },
            UriTemplate::parse(&template),
        ),
        handler: Arc::new(move |ctx, vars| {
            let handler = handler.clone();
            Box::pin(async move { handler(ctx, vars).await.map(IntoResourceContents::into_contents) })
        }),
    }
}

/// [`resource`] whose handler also receives shared state: `async fn(Arc<S>, Context)`.
pub fn resource_with<S, F, Fut, O>(
    uri: impl Into<String>,
    name: impl Into<String>,
    state: &Arc<S>,
    handler: F,
) -> ResourceRoute
where
    S: Send + Sync + 'static,
    F: Fn(Arc<S>, Context) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<O, ToolError>> + Send + 'static,
    O: IntoResourceContents + 'static,
{
    let state = state.clone();
    resource(uri, name, move |ctx| handler(state.clone(), ctx))
}

/// [`resource_template`] whose handler also receives shared state:
/// `async fn(Arc<S>, Context, variables)`.
pub fn resource_template_with<S, F, Fut, O>(
    template: impl Into<String>,
    name: impl Into<String>,
    state: &Arc<S>,
    handler: F,
) -> ResourceRoute
where
    S: Send + Sync + 'static,
    F: Fn(Arc<S>, Context, HashMap<String, String>) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<O, ToolError>> + Send + 'static,
    O: IntoResourceContents + 'static,
{
    let state = state.clone();
    resource_template(template, name, move |ctx, vars| handler(state.clone(), ctx, vars))
}

impl ResourceRoute {
    /// A description.
    pub fn description(mut self, text: impl Into<String>) -> Self {
        match &mut self.kind {
            ResourceKind::Static(r) => r.description = Some(text.into()),
            ResourceKind::Template(t, _) => t.description = Some(text.into()),
        }
        self
    }
    /// The MIME type.
    pub fn mime_type(mut self, mime: impl Into<String>) -> Self {
        match &mut self.kind {
            ResourceKind::Static(r) => r.mime_type = Some(mime.into()),
            ResourceKind::Template(t, _) => t.mime_type = Some(mime.into()),
        }
        self
    }
    /// A title.
    pub fn title(mut self, title: impl Into<String>) -> Self {
        match &mut self.kind {
            ResourceKind::Static(r) => r.title = Some(title.into()),
            ResourceKind::Template(t, _) => t.title = Some(title.into()),
        }
        self
    }
}

/// A URI template of RFC 6570 level 1 (`{var}` expansions), matched against URIs.
#[derive(Clone, Debug)]
pub(crate) struct UriTemplate {
    parts: Vec<TemplatePart>,
}

#[derive(Clone, Debug)]
enum TemplatePart {
    Literal(String),
    Var(String),
}

impl UriTemplate {
    pub(crate) fn parse(template: &str) -> Self {
        let mut parts = Vec::new();
        let mut rest = template;
        while let Some(open) = rest.find('{') {
            if open > 0 {
                parts.push(TemplatePart::Literal(rest[..open].to_string()));
            }
            match rest[open..].find('}') {
                Some(close) => {
                    let name = rest[open + 1..open + close].trim_start_matches(['+', '#']);
                    parts.push(TemplatePart::Var(name.to_string()));
                    rest = &rest[open + close + 1..];
                }
                None => {
                    parts.push(TemplatePart::Literal(rest[open..].to_string()));
                    rest = "";
                }
            }
        }
        if !rest.is_empty() {
            parts.push(TemplatePart::Literal(rest.to_string()));
        }
        Self { parts }
    }

    /// The variables of `uri` if it matches; a variable never spans a `/` unless it is last.
    pub(crate) fn matches(&self, uri: &str) -> Option<HashMap<String, String>> {
        let mut vars = HashMap::new();
        let mut rest = uri;
        let mut i = 0;
        while i < self.parts.len() {
            match &self.parts[i] {
                TemplatePart::Literal(lit) => {
                    rest = rest.strip_prefix(lit.as_str())?;
                }
                TemplatePart::Var(name) => {
                    let value = match self.parts.get(i + 1) {
                        Some(TemplatePart::Literal(next)) => {
                            let end = rest.find(next.as_str())?;
                            let v = &rest[..end];
                            if v.contains('/') {
                                return None;
                            }
                            v
                        }
                        _ => rest,
                    };
                    if value.is_empty() {
                        return None;
                    }
                    vars.insert(name.clone(), value.to_string());
                    rest = &rest[value.len()..];
                }
            }
            i += 1;
        }
        rest.is_empty().then_some(vars)
    }
}

/// A registered prompt.
#[derive(Clone)]
pub struct PromptRoute {
    pub(crate) prompt: Prompt,
    pub(crate) handler: Arc<ErasedPrompt>,
}

impl std::fmt::Debug for PromptRoute {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PromptRoute").field("name", &self.prompt.name).finish()
    }
}

/// Makes a prompt from `async fn(Context, Args) -> Result<GetPromptResult, ToolError>`;
/// the prompt's arguments are the fields of `Args` (with their doc comments).
pub fn prompt<F, Fut, A>(name: impl Into<String>, handler: F) -> PromptRoute
where
    F: Fn(Context, A) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<GetPromptResult, ToolError>> + Send + 'static,
    A: DeserializeOwned + JsonSchema + Send + 'static,
{
    let schema = schema_of::<A>();
    let required: Vec<&str> = schema
        .get("required")
        .and_then(Value::as_array)
        .map(|r| r.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    let arguments = schema
        .get("properties")
        .and_then(Value::as_object)
        .map(|props| {
            props
                .iter()
                .map(|(name, p)| PromptArgument {
                    name: name.clone(),
                    description: p.get("description").and_then(Value::as_str).map(str::to_string),
                    required: required.contains(&name.as_str()),
                })
                .collect()
        })
        .unwrap_or_default();
    let handler = Arc::new(handler);
    PromptRoute {
        prompt: Prompt { name: name.into(), title: None, description: None, arguments },
        handler: Arc::new(move |ctx, args| {
            let handler = handler.clone();
            Box::pin(async move {
                let args: A = parse_args(Value::Object(args)).map_err(ToolError::InvalidArguments)?;
                handler(ctx, args).await
            })
        }),
    }
}

/// [`prompt`] whose handler also receives shared state: `async fn(Arc<S>, Context, Args)`.
pub fn prompt_with<S, F, Fut, A>(name: impl Into<String>, state: &Arc<S>, handler: F) -> PromptRoute
where
    S: Send + Sync + 'static,
    F: Fn(Arc<S>, Context, A) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<GetPromptResult, ToolError>> + Send + 'static,
    A: DeserializeOwned + JsonSchema + Send + 'static,
{
    let state = state.clone();
    prompt(name, move |ctx, args| handler(state.clone(), ctx, args))
}

impl PromptRoute {
    /// A description.
    pub fn description(mut self, text: impl Into<String>) -> Self {
        self.prompt.description = Some(text.into());
        self
    }
    /// A title.
    pub fn title(mut self, title: impl Into<String>) -> Self {
        self.prompt.title = Some(title.into());
        self
    }
}

/// What `completion/complete` asks for.
#[derive(Debug, Clone)]
pub struct CompletionRequest {
    /// `ref/prompt` or `ref/resource`.
    pub ref_type: String,
    /// The prompt name or the template URI.
    pub ref_name: String,
    /// The argument being completed.
    pub argument: String,
    /// What the user typed so far.
    pub value: String,
    /// Arguments already resolved.
    pub context: HashMap<String, String>,
}

pub(crate) fn completer<F, Fut>(handler: F) -> Arc<ErasedCompleter>
where
    F: Fn(Context, CompletionRequest) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<Completion, ToolError>> + Send + 'static,
{
    let handler = Arc::new(handler);
    Arc::new(move |ctx, req| {
        let handler = handler.clone();
        Box::pin(async move { handler(ctx, req).await })
    })
}

pub(crate) fn lister<F, Fut>(handler: F) -> Arc<ErasedLister>
where
    F: Fn(Context) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<Vec<Resource>, ToolError>> + Send + 'static,
{
    let handler = Arc::new(handler);
    Arc::new(move |ctx| {
        let handler = handler.clone();
        Box::pin(async move { handler(ctx).await })
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(serde::Deserialize, schemars::JsonSchema)]
    #[allow(dead_code)]
    struct Inner {
        /// A nested optional.
        depth: Option<u32>,
        level: u8,
    }

    #[derive(serde::Deserialize, schemars::JsonSchema)]
    #[allow(dead_code)]
    struct Attributed {
        /// Optional text.
        text: Option<String>,
        inner: Option<Inner>,
        #[serde(default)]
        list: Vec<Inner>,
        choice: Option<Choice>,
        needed: String,
    }

    #[derive(serde::Deserialize, schemars::JsonSchema)]
    #[allow(dead_code)]
    struct InnerPlain {
        /// A nested optional.
        depth: Option<u32>,
        level: u8,
    }

    #[derive(serde::Deserialize, schemars::JsonSchema)]
    #[allow(dead_code)]
    struct Plain {
        /// Optional text.
        text: Option<String>,
        inner: Option<InnerPlain>,
        #[serde(default)]
        list: Vec<InnerPlain>,
        choice: Option<Choice>,
        needed: String,
    }

    #[derive(serde::Deserialize, schemars::JsonSchema)]
    #[serde(rename_all = "lowercase")]
    #[allow(dead_code)]
    enum Choice {
        One,
        Two,
    }

    #[test]
    fn optional_members_default_to_null_without_an_attribute() {
        let with = input_schema_of::<Attributed>();
        let mut without = input_schema_of::<Plain>();
        // Only the types' names differ.
        let rename = without.to_string().replace("InnerPlain", "Inner");
        without = serde_json::from_str(&rename).expect("json");
        assert_eq!(with, without);
        assert_eq!(without["properties"]["text"]["default"], Value::Null);
        assert!(without["properties"]["needed"].get("default").is_none());
        // Output schemas keep what the types say.
        assert!(schema_of::<Plain>()["properties"]["text"].get("default").is_none());
    }

    #[test]
    fn uri_templates_match_and_extract() {
        let t = UriTemplate::parse("test://template/{id}/data");
        let vars = t.matches("test://template/42/data").expect("match");
        assert_eq!(vars["id"], "42");
        assert!(t.matches("test://template/42/other").is_none());
        assert!(t.matches("test://template//data").is_none());
        let t = UriTemplate::parse("file:///{path}");
        assert_eq!(t.matches("file:///a/b.txt").expect("tail var")["path"], "a/b.txt");
    }

    #[test]
    fn schemas_made_once_per_maker_are_each_types_own() {
        // Two types of one name (one per function): schemas made once per maker must not
        // mix them.
        fn first() -> ToolRoute {
            #[derive(serde::Deserialize, schemars::JsonSchema)]
            #[allow(dead_code)]
            struct Same {
                left: u8,
            }
            tool("first", |_: Context, _: Same| std::future::ready(Ok::<_, ToolError>(String::new())))
        }
        fn second() -> ToolRoute {
            #[derive(serde::Deserialize, schemars::JsonSchema)]
            #[allow(dead_code)]
            struct Same {
                right: String,
            }
            tool("second", |_: Context, _: Same| std::future::ready(Ok::<_, ToolError>(String::new())))
        }
        let mut routes = [first(), second(), first()];
        make_schemas(routes.iter_mut());
        let [a, b, again] = routes.map(|r| r.tool.input_schema);
        assert!(a["properties"].get("left").is_some() && a["properties"].get("right").is_none());
        assert!(b["properties"].get("right").is_some() && b["properties"].get("left").is_none());
        assert_eq!(again, a);
    }

    #[derive(serde::Deserialize, schemars::JsonSchema)]
    #[allow(dead_code)]
    struct Args {
        /// The message to echo.
        message: String,
        count: Option<u32>,
    }

    #[test]
    fn schemas_carry_doc_comments_and_argument_errors_name_the_field() {
        let s = schema_of::<Args>();
        assert_eq!(s["type"], "object");
        assert_eq!(s["properties"]["message"]["description"], "The message to echo.");
        assert_eq!(s["required"], serde_json::json!(["message"]));
        let e = parse_args::<Args>(serde_json::json!({"message": 5})).err().expect("error");
        assert!(e.contains("message") && e.contains("expected a string"), "{e}");
        let e = parse_args::<Args>(serde_json::json!({})).err().expect("error");
        assert!(e.contains("missing field `message`"), "{e}");
    }
}
