//! An example server exposing every feature of the protocol, with the fixtures the
//! official conformance suite exercises. Run it over stdio (the default) or HTTP:
//!
//! ```sh
//! cargo run --example everything                                  # stdio
//! cargo run --example everything -- --transport http --listen 127.0.0.1:3001
//! ```

use std::collections::HashMap;
use std::process::ExitCode;
use std::time::Duration;

use clap::Parser;
use mcp_core::cli::ServeArgs;
use mcp_core::protocol::{Completion, Content, GetPromptResult, LoggingLevel, PromptMessage, ResourceContents};
use mcp_core::server::{Change, CompletionRequest, InputRequest, Json, Server, ServerBuilder};
use mcp_core::{Context, ToolError, prompt, resource, resource_template, tool};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

/// A 1x1 red PNG.
const PNG: &str = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8DwHwAFBQIAX8jx0gAAAABJRU5ErkJggg==";
/// A tiny silent WAV.
const WAV: &str = "UklGRiQAAABXQVZFZm10IBAAAAABAAEARKwAAIhYAQACABAAZGF0YQAAAAA=";

#[derive(Parser)]
#[command(version = mcp_core::cli::version_text(env!("CARGO_PKG_VERSION")), about = "Example MCP server with every protocol feature")]
struct Cli {
    #[command(flatten)]
    serve: ServeArgs,
}

/// No arguments.
#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
struct NoArgs {}

#[derive(Deserialize, JsonSchema)]
struct EchoArgs {
    /// The text to send back.
    message: String,
}

async fn echo(_ctx: Context, args: EchoArgs) -> Result<String, ToolError> {
    Ok(args.message)
}

#[derive(Deserialize, JsonSchema)]
struct AddArgs {
    /// First addend.
    a: f64,
    /// Second addend.
    b: f64,
}

/// The sum of two numbers.
#[derive(Serialize, JsonSchema)]
struct Sum {
    /// a + b.
    sum: f64,
}

async fn add(_ctx: Context, args: AddArgs) -> Result<Json<Sum>, ToolError> {
    Ok(Json(Sum { sum: args.a + args.b }))
}

async fn simple_text(_ctx: Context, _: NoArgs) -> Result<&'static str, ToolError> {
    Ok("This is a simple text response for testing.")
}

async fn image(_ctx: Context, _: NoArgs) -> Result<Content, ToolError> {
    Ok(Content::image(PNG, "image/png"))
}

async fn audio(_ctx: Context, _: NoArgs) -> Result<Content, ToolError> {
    Ok(Content::audio(WAV, "audio/wav"))
}

async fn embedded(_ctx: Context, _: NoArgs) -> Result<Content, ToolError> {
    Ok(Content::resource(ResourceContents::text(
        "test://embedded-resource",
        "text/plain",
        "This is an embedded resource content.",
    )))
}

async fn mixed(_ctx: Context, _: NoArgs) -> Result<Vec<Content>, ToolError> {
    Ok(vec![
        Content::text("Multiple content types test:"),
        Content::image(PNG, "image/png"),
        Content::resource(ResourceContents::text(
            "test://mixed-content-resource",
            "application/json",
            r#"{"test":"data","value":123}"#,
        )),
    ])
}

async fn with_logging(ctx: Context, _: NoArgs) -> Result<&'static str, ToolError> {
    ctx.log(LoggingLevel::Info, Some("everything"), json!("Tool execution started"));
    tokio::time::sleep(Duration::from_millis(50)).await;
    ctx.log(LoggingLevel::Info, Some("everything"), json!("Tool processing data"));
    tokio::time::sleep(Duration::from_millis(50)).await;
    ctx.log(LoggingLevel::Info, Some("everything"), json!("Tool execution completed"));
    Ok("Tool with logging executed successfully")
}

async fn with_progress(ctx: Context, _: NoArgs) -> Result<&'static str, ToolError> {
    for (i, p) in [0.0, 50.0, 100.0].into_iter().enumerate() {
        if i > 0 {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        ctx.progress(p, Some(100.0), None);
    }
    Ok("Tool with progress executed successfully")
}

async fn error_handling(_ctx: Context, _: NoArgs) -> Result<String, ToolError> {
    Err(ToolError::failed("This tool intentionally returns an error for testing"))
}

#[derive(Deserialize, JsonSchema)]
struct SamplingArgs {
    /// The prompt to send to the LLM.
    prompt: String,
}

async fn sampling(ctx: Context, args: SamplingArgs) -> Result<String, ToolError> {
    let request = InputRequest::sample(json!({
        "messages": [{ "role": "user", "content": { "type": "text", "text": args.prompt } }],
        "maxTokens": 100,
    }));
    let mut answers = ctx.input(vec![("sampling".into(), request)]).await?;
    let answer = answers.remove("sampling").unwrap_or(Value::Null);
    let text = answer["content"]["text"].as_str().map(str::to_string).unwrap_or_else(|| answer["content"].to_string());
    Ok(format!("LLM response: {text}"))
}

#[derive(Deserialize, JsonSchema)]
struct ElicitArgs {
    /// The message to show the user.
    message: String,
}

async fn elicitation(ctx: Context, args: ElicitArgs) -> Result<String, ToolError> {
    let schema = json!({
        "type": "object",
        "properties": {
            "username": { "type": "string", "description": "User's response" },
            "email": { "type": "string", "description": "User's email address" }
        },
        "required": ["username", "email"]
    });
    let answer = ctx.elicit(&args.message, schema).await?;
    Ok(format!("User response: action={}, content={}", answer.action, json!(answer.content.unwrap_or_default())))
}

async fn elicitation_defaults(ctx: Context, _: NoArgs) -> Result<String, ToolError> {
    let schema = json!({
        "type": "object",
        "properties": {
            "name": { "type": "string", "description": "User name", "default": "John Doe" },
            "age": { "type": "integer", "description": "User age", "default": 30 },
            "score": { "type": "number", "description": "User score", "default": 95.5 },
            "status": { "type": "string", "description": "User status", "enum": ["active", "inactive", "pending"], "default": "active" },
            "verified": { "type": "boolean", "description": "Verification status", "default": true }
        }
    });
    let answer = ctx.elicit("Please review and update the form fields with defaults", schema).await?;
    Ok(format!(
        "Elicitation completed: action={}, content={}",
        answer.action,
        json!(answer.content.unwrap_or_default())
    ))
}

async fn elicitation_enums(ctx: Context, _: NoArgs) -> Result<String, ToolError> {
    let schema = json!({
        "type": "object",
        "properties": {
            "untitledSingle": { "type": "string", "enum": ["option1", "option2", "option3"] },
            "titledSingle": { "type": "string", "oneOf": [
                { "const": "value1", "title": "First Option" },
                { "const": "value2", "title": "Second Option" },
                { "const": "value3", "title": "Third Option" }
            ]},
            "legacyEnum": { "type": "string", "enum": ["opt1", "opt2", "opt3"], "enumNames": ["Option One", "Option Two", "Option Three"] },
            "untitledMulti": { "type": "array", "items": { "type": "string", "enum": ["option1", "option2", "option3"] } },
            "titledMulti": { "type": "array", "items": { "anyOf": [
                { "const": "value1", "title": "First Choice" },
                { "const": "value2", "title": "Second Choice" },
                { "const": "value3", "title": "Third Choice" }
            ]}}
        }
    });
    let answer = ctx.elicit("Please choose from the enum fields", schema).await?;
    Ok(format!(
        "Elicitation completed: action={}, content={}",
        answer.action,
        json!(answer.content.unwrap_or_default())
    ))
}

async fn json_schema_tool(_ctx: Context, _: Value) -> Result<&'static str, ToolError> {
    Ok("ok")
}

async fn reconnection(ctx: Context, _: NoArgs) -> Result<&'static str, ToolError> {
    // Closes the HTTP response stream mid-call; the client resumes with Last-Event-ID.
    ctx.close_stream(Duration::from_millis(500));
    tokio::time::sleep(Duration::from_millis(200)).await;
    Ok("Reconnection test completed successfully")
}

async fn trigger_tool_change(ctx: Context, _: NoArgs) -> Result<&'static str, ToolError> {
    ctx.notify(Change::Tools);
    Ok("Tool list change notified")
}

async fn long_running(ctx: Context, args: SleepArgs) -> Result<String, ToolError> {
    let steps = args.seconds.clamp(1, 60);
    for i in 0..steps {
        ctx.progress(i as f64, Some(steps as f64), Some("working"));
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
    Ok(format!("slept {steps} s"))
}

#[derive(Deserialize, JsonSchema)]
struct SleepArgs {
    /// How long to run, in seconds (1-60).
    seconds: u32,
}

/// The resources whose contents never change: name, description, contents.
fn fixed_resources() -> [(&'static str, &'static str, ResourceContents); 3] {
    let text = |uri, text| ResourceContents::text(uri, "text/plain", text);
    let static_text = "This is the content of the static text resource.";
    [
        ("static-text", "A static text resource", text("test://static-text", static_text)),
        ("static-binary", "A static binary resource", ResourceContents::blob("test://static-binary", "image/png", PNG)),
        ("watched-resource", "A resource to subscribe to", text("test://watched-resource", "Watched resource content")),
    ]
}

/// Registers the [`fixed_resources`].
fn register_fixed(mut builder: ServerBuilder) -> ServerBuilder {
    for (name, description, contents) in fixed_resources() {
        let uri = contents.uri().to_owned();
        let (ResourceContents::Text { mime_type, .. } | ResourceContents::Blob { mime_type, .. }) = &contents;
        let mime_type = mime_type.clone().unwrap_or_default();
        let read = move |_ctx: Context| std::future::ready(Ok::<_, ToolError>(contents.clone()));
        builder = builder.resource(resource(uri, name, read).description(description).mime_type(mime_type));
    }
    builder
}

async fn template_data(_ctx: Context, vars: HashMap<String, String>) -> Result<ResourceContents, ToolError> {
    let id = vars.get("id").cloned().unwrap_or_default();
    let uri = format!("test://template/{id}/data");
    let body = json!({ "id": id, "templateTest": true, "data": format!("Data for ID: {id}") });
    Ok(ResourceContents::text(uri, "application/json", body.to_string()))
}

async fn simple_prompt(_ctx: Context, _: NoArgs) -> Result<GetPromptResult, ToolError> {
    Ok(GetPromptResult {
        description: None,
        messages: vec![PromptMessage::user(Content::text("This is a simple prompt for testing."))],
    })
}

#[derive(Deserialize, JsonSchema)]
struct PromptArgs {
    /// First test argument.
    arg1: String,
    /// Second test argument.
    arg2: String,
}

async fn prompt_with_arguments(_ctx: Context, args: PromptArgs) -> Result<GetPromptResult, ToolError> {
    let text = format!("Prompt with arguments: arg1='{}', arg2='{}'", args.arg1, args.arg2);
    Ok(GetPromptResult { description: None, messages: vec![PromptMessage::user(Content::text(text))] })
}

#[derive(Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
struct EmbedArgs {
    /// URI of the resource to embed.
    resource_uri: String,
}

async fn prompt_with_resource(_ctx: Context, args: EmbedArgs) -> Result<GetPromptResult, ToolError> {
    Ok(GetPromptResult {
        description: None,
        messages: vec![
            PromptMessage::user(Content::resource(ResourceContents::text(
                args.resource_uri,
                "text/plain",
                "Embedded resource content for testing.",
            ))),
            PromptMessage::user(Content::text("Please process the embedded resource above.")),
        ],
    })
}

async fn prompt_with_image(_ctx: Context, _: NoArgs) -> Result<GetPromptResult, ToolError> {
    Ok(GetPromptResult {
        description: None,
        messages: vec![
            PromptMessage::user(Content::image(PNG, "image/png")),
            PromptMessage::user(Content::text("Please analyze the image above.")),
        ],
    })
}

async fn complete(_ctx: Context, req: CompletionRequest) -> Result<Completion, ToolError> {
    let candidates: &[&str] = match (req.ref_name.as_str(), req.argument.as_str()) {
        ("test_prompt_with_arguments", _) => &["paris", "park", "party", "hello", "world"],
        ("test://template/{id}/data", "id") => &["1", "2", "3", "123"],
        _ => &[],
    };
    let values: Vec<String> = candidates.iter().filter(|c| c.starts_with(&req.value)).map(|c| c.to_string()).collect();
    Ok(Completion { total: Some(values.len() as u64), values, has_more: false })
}

fn json_schema_2020_12() -> Value {
    json!({
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "type": "object",
        "$defs": { "address": { "$anchor": "addressDef", "type": "object", "properties": { "street": { "type": "string" }, "city": { "type": "string" } } } },
        "properties": {
            "name": { "type": "string" },
            "address": { "$ref": "#/$defs/address" },
            "contactMethod": { "type": "string", "enum": ["phone", "email"] },
            "phone": { "type": "string" },
            "email": { "type": "string" }
        },
        "allOf": [{ "anyOf": [{ "required": ["phone"] }, { "required": ["email"] }] }],
        "if": { "properties": { "contactMethod": { "const": "phone" } }, "required": ["contactMethod"] },
        "then": { "required": ["phone"] },
        "else": { "required": ["email"] },
        "additionalProperties": false
    })
}

fn server(cli: &Cli) -> Server {
    let builder = Server::builder("mcp-core-everything", env!("CARGO_PKG_VERSION"))
        .instructions("A test server exposing every MCP feature; tools named test_* are conformance fixtures.")
        .tool(tool("echo", echo).description("Sends the message back").read_only().idempotent())
        .tool(tool("add", add).description("Adds two numbers and returns a typed result").read_only().idempotent())
        .tool(tool("test_simple_text", simple_text).description("Returns simple text").read_only())
        .tool(tool("test_image_content", image).description("Returns an image").read_only())
        .tool(tool("test_audio_content", audio).description("Returns audio").read_only())
        .tool(tool("test_embedded_resource", embedded).description("Returns an embedded resource").read_only())
        .tool(tool("test_multiple_content_types", mixed).description("Returns text, image and resource").read_only())
        .tool(tool("test_tool_with_logging", with_logging).description("Logs three messages while running").read_only())
        .tool(
            tool("test_tool_with_progress", with_progress)
                .description("Reports progress 0, 50, 100 of 100")
                .read_only(),
        )
        .tool(tool("test_error_handling", error_handling).description("Always fails").read_only())
        .tool(tool("test_sampling", sampling).description("Asks the client's LLM to answer a prompt").read_only())
        .tool(tool("test_elicitation", elicitation).description("Asks the user for a username and email").read_only())
        .tool(
            tool("test_elicitation_sep1034_defaults", elicitation_defaults)
                .description("Elicitation with defaults")
                .read_only(),
        )
        .tool(
            tool("test_elicitation_sep1330_enums", elicitation_enums)
                .description("Elicitation with every enum form")
                .read_only(),
        )
        .tool(
            tool("json_schema_2020_12_tool", json_schema_tool)
                .description("Tool with JSON Schema 2020-12 features")
                .input_schema(json_schema_2020_12())
                .read_only(),
        )
        .tool(
            tool("test_reconnection", reconnection)
                .description("Closes the SSE stream mid-call to test resumption")
                .read_only(),
        )
        .tool(
            tool("test_trigger_tool_change", trigger_tool_change)
                .description("Announces a tool list change")
                .read_only(),
        )
        .tool(
            tool("long_running", long_running)
                .description("Runs for a while, reporting progress each second")
                .read_only(),
        )
        .resource(
            resource_template("test://template/{id}/data", "template-data", template_data)
                .description("Data for an id")
                .mime_type("application/json"),
        )
        .prompt(prompt("test_simple_prompt", simple_prompt).description("A simple prompt without arguments"))
        .prompt(prompt("test_prompt_with_arguments", prompt_with_arguments).description("A prompt with two arguments"))
        .prompt(
            prompt("test_prompt_with_embedded_resource", prompt_with_resource)
                .description("A prompt embedding a resource"),
        )
        .prompt(prompt("test_prompt_with_image", prompt_with_image).description("A prompt with an image"))
        .completion(complete);
    let builder = mrtr::register(register_fixed(builder));
    cli.serve.configure(builder).build()
}

mod mrtr;

fn main() -> ExitCode {
    let cli = Cli::parse();
    cli.serve.init_tracing();
    cli.serve.block_on(async { cli.serve.run(server(&cli)).await })
}
