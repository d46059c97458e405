//! Fixtures for the 2026-07-28 multi round-trip (`input_required`) scenarios, and the
//! diagnostic tools of the stateless-server scenario.
//!
//! Every tool here asks for input through [`Context::input`]: in the handshake era that
//! sends requests to the client and waits; in 2026-07-28 it returns `input_required` and
//! reads the answers from the retry.

use std::time::Duration;

use mcp_core::protocol::{Content, GetPromptResult, LoggingLevel, PromptMessage};
use mcp_core::server::{Change, InputRequest, ServerBuilder};
use mcp_core::{Context, ToolError, prompt, tool};
use schemars::JsonSchema;
use serde::Deserialize;
use serde_json::{Map, Value, json};

/// No arguments.
#[derive(Deserialize, JsonSchema)]
struct NoArgs {}

fn ask_name(message: &str) -> InputRequest {
    InputRequest::elicit(
        message,
        json!({ "type": "object", "properties": { "name": { "type": "string" } }, "required": ["name"] }),
    )
}

fn accepted_field(answer: &Value, field: &str) -> String {
    answer["content"][field].as_str().unwrap_or("(none)").to_string()
}

async fn elicitation(ctx: Context, _: NoArgs) -> Result<String, ToolError> {
    let answers = ctx.input(vec![("user_name".into(), ask_name("What is your name?"))]).await?;
    Ok(format!("Hello, {}!", accepted_field(&answers["user_name"], "name")))
}

async fn sampling(ctx: Context, _: NoArgs) -> Result<String, ToolError> {
    let request = InputRequest::sample(json!({
        "messages": [{ "role": "user", "content": { "type": "text", "text": "What is the capital of France?" } }],
        "maxTokens": 100,
    }));
    let answers = ctx.input(vec![("capital_question".into(), request)]).await?;
    let text = answers["capital_question"]["content"]["text"].as_str().unwrap_or("(no text)").to_string();
    Ok(format!("The model answered: {text}"))
}

async fn list_roots(ctx: Context, _: NoArgs) -> Result<String, ToolError> {
    let answers = ctx.input(vec![("client_roots".into(), InputRequest::list_roots())]).await?;
    let roots: Vec<String> = answers["client_roots"]["roots"]
        .as_array()
        .map(|r| r.iter().filter_map(|root| root["uri"].as_str().map(str::to_string)).collect())
        .unwrap_or_default();
    Ok(format!("Client roots: {}", roots.join(", ")))
}

const CONFIRM_STATE: &str = "awaiting-confirmation";

async fn request_state(ctx: Context, _: NoArgs) -> Result<String, ToolError> {
    let confirm = InputRequest::elicit(
        "Please confirm",
        json!({ "type": "object", "properties": { "ok": { "type": "boolean" } }, "required": ["ok"] }),
    );
    let answers = ctx.input_with_state(vec![("confirm".into(), confirm)], Some(CONFIRM_STATE.into())).await?;
    if ctx.request_state() != Some(CONFIRM_STATE) {
        return Err(ToolError::failed("the retry did not carry the request state this tool issued"));
    }
    Ok(format!("state-ok: confirmed={}", answers["confirm"]["content"]["ok"]))
}

async fn multiple_inputs(ctx: Context, _: NoArgs) -> Result<String, ToolError> {
    let greeting = InputRequest::sample(json!({
        "messages": [{ "role": "user", "content": { "type": "text", "text": "Generate a greeting" } }],
        "maxTokens": 50,
    }));
    let answers = ctx
        .input_with_state(
            vec![
                ("user_name".into(), ask_name("What is your name?")),
                ("greeting".into(), greeting),
                ("client_roots".into(), InputRequest::list_roots()),
            ],
            Some("multiple".into()),
        )
        .await?;
    Ok(format!(
        "name={}, greeting={}, roots={}",
        accepted_field(&answers["user_name"], "name"),
        answers["greeting"]["content"]["text"],
        answers["client_roots"]["roots"]
    ))
}

async fn multi_round(ctx: Context, _: NoArgs) -> Result<String, ToolError> {
    // The state says which round this retry answers; each round asks one question.
    let name = match ctx.request_state().and_then(|s| s.strip_prefix("round-2:")) {
        Some(name) => name.to_string(),
        None => {
            let answers = ctx
                .input_with_state(
                    vec![("step1".into(), ask_name("Step 1: What is your name?"))],
                    Some("round-1".into()),
                )
                .await?;
            accepted_field(&answers["step1"], "name")
        }
    };
    let color = InputRequest::elicit(
        "Step 2: What is your favorite color?",
        json!({ "type": "object", "properties": { "color": { "type": "string" } }, "required": ["color"] }),
    );
    let answers = ctx.input_with_state(vec![("step2".into(), color)], Some(format!("round-2:{name}"))).await?;
    Ok(format!("{name} likes {}", accepted_field(&answers["step2"], "color")))
}

async fn tampered_state(ctx: Context, _: NoArgs) -> Result<String, ToolError> {
    let confirm = InputRequest::elicit(
        "Please confirm",
        json!({ "type": "object", "properties": { "ok": { "type": "boolean" } }, "required": ["ok"] }),
    );
    ctx.input_with_state(vec![("confirm".into(), confirm)], Some("signed".into())).await?;
    Ok("state verified".into())
}

async fn capabilities(ctx: Context, _: NoArgs) -> Result<String, ToolError> {
    // Ask only for what the client said it can do.
    let caps = ctx.client_capabilities().clone();
    let mut wanted = Vec::new();
    if caps.get("elicitation").is_some() {
        wanted.push(("user_name".to_string(), ask_name("What is your name?")));
    }
    if caps.get("sampling").is_some() {
        wanted.push((
            "greeting".to_string(),
            InputRequest::sample(json!({
                "messages": [{ "role": "user", "content": { "type": "text", "text": "Generate a greeting" } }],
                "maxTokens": 50,
            })),
        ));
    }
    if wanted.is_empty() {
        return Ok("The client declared no capability to ask for input".into());
    }
    let answers: Map<String, Value> = ctx.input(wanted).await?;
    Ok(format!("received {} answers", answers.len()))
}

async fn missing_capability(ctx: Context, _: NoArgs) -> Result<String, ToolError> {
    // Needs sampling unconditionally: a client without it gets -32021.
    let request = InputRequest::sample(json!({
        "messages": [{ "role": "user", "content": { "type": "text", "text": "Say hi" } }],
        "maxTokens": 10,
    }));
    ctx.input(vec![("hi".into(), request)]).await?;
    Ok("sampled".into())
}

async fn streaming_elicitation(ctx: Context, _: NoArgs) -> Result<String, ToolError> {
    ctx.progress(0.0, Some(1.0), Some("about to ask"));
    tokio::time::sleep(Duration::from_millis(20)).await;
    let answers = ctx.input(vec![("user_name".into(), ask_name("What is your name?"))]).await?;
    Ok(format!("Hello, {}!", accepted_field(&answers["user_name"], "name")))
}

async fn logging_tool(ctx: Context, _: NoArgs) -> Result<&'static str, ToolError> {
    ctx.log(LoggingLevel::Info, Some("everything"), json!("logging tool ran"));
    ctx.log(LoggingLevel::Warning, Some("everything"), json!("a warning"));
    Ok("logged")
}

async fn trigger_prompt_change(ctx: Context, _: NoArgs) -> Result<&'static str, ToolError> {
    ctx.notify(Change::Prompts);
    Ok("Prompt list change notified")
}

async fn input_prompt(ctx: Context, _: NoArgs) -> Result<GetPromptResult, ToolError> {
    let ask = InputRequest::elicit(
        "What context should the prompt use?",
        json!({ "type": "object", "properties": { "context": { "type": "string" } }, "required": ["context"] }),
    );
    let answers = ctx.input(vec![("user_context".into(), ask)]).await?;
    let context = accepted_field(&answers["user_context"], "context");
    Ok(GetPromptResult {
        description: Some("A prompt built from user-provided context".into()),
        messages: vec![PromptMessage::user(Content::text(format!("Use this context: {context}")))],
    })
}

/// Arguments mirrored into `Mcp-Param-*` headers (`x-mcp-header`).
async fn custom_headers(_ctx: Context, args: Value) -> Result<String, ToolError> {
    Ok(format!("Tool call received with {} arguments", args.as_object().map(Map::len).unwrap_or(0)))
}

fn custom_headers_schema() -> Value {
    json!({
        "type": "object",
        "properties": {
            "region": { "type": "string", "description": "Region to run in", "x-mcp-header": "Region" },
            "priority": { "type": "integer", "description": "Priority", "x-mcp-header": "Priority" },
            "verbose": { "type": "boolean", "description": "Verbose output", "x-mcp-header": "Verbose" },
            "query": { "type": "string", "description": "The query" }
        },
        "required": ["region", "query"]
    })
}

pub fn register(builder: ServerBuilder) -> ServerBuilder {
    builder
        .tool(
            tool("test_input_required_result_elicitation", elicitation)
                .description("Asks the user's name (MRTR)")
                .read_only(),
        )
        .tool(
            tool("test_input_required_result_sampling", sampling)
                .description("Asks the client's LLM a question (MRTR)")
                .read_only(),
        )
        .tool(
            tool("test_input_required_result_list_roots", list_roots)
                .description("Asks for the client's roots (MRTR)")
                .read_only(),
        )
        .tool(
            tool("test_input_required_result_request_state", request_state)
                .description("Round-trips requestState (MRTR)")
                .read_only(),
        )
        .tool(
            tool("test_input_required_result_multiple_inputs", multiple_inputs)
                .description("Asks three things at once (MRTR)")
                .read_only(),
        )
        .tool(
            tool("test_input_required_result_multi_round", multi_round)
                .description("Asks in two rounds (MRTR)")
                .read_only(),
        )
        .tool(
            tool("test_input_required_result_tampered_state", tampered_state)
                .description("Issues signed requestState (MRTR)")
                .read_only(),
        )
        .tool(
            tool("test_input_required_result_capabilities", capabilities)
                .description("Asks only what the client supports (MRTR)")
                .read_only(),
        )
        .tool(
            tool("test_missing_capability", missing_capability)
                .description("Needs the sampling capability")
                .read_only(),
        )
        .tool(
            tool("test_streaming_elicitation", streaming_elicitation)
                .description("Streams progress, then asks for input")
                .read_only(),
        )
        .tool(tool("test_logging_tool", logging_tool).description("Logs two messages").read_only())
        .tool(
            tool("test_trigger_prompt_change", trigger_prompt_change)
                .description("Announces a prompt list change")
                .read_only(),
        )
        .tool(
            tool("test_custom_headers", custom_headers)
                .description("Arguments mirrored into Mcp-Param headers")
                .input_schema(custom_headers_schema())
                .read_only(),
        )
        .prompt(
            prompt("test_input_required_result_prompt", input_prompt)
                .description("A prompt that needs user context (MRTR)"),
        )
}
