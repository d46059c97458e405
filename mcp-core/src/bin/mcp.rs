//! `mcp`: a command-line MCP client for trying any server.
//!
//! ```sh
//! mcp tools -- CMD ARGS...                 # spawn a stdio server
//! mcp call TOOL '{"arg":1}' -- CMD ARGS...
//! mcp tools --url http://127.0.0.1:8080/mcp
//! mcp tools --url ws://127.0.0.1:8080/ws
//! mcp audit verify audit.jsonl             # check an audit trail's hash chain
//! mcp audit verify audit.jsonl --expect-head HEX --expect-lines N --audit-key-file KEY
//! ```
//!
//! Results are printed to stdout as JSON; errors go to stderr with a non-zero exit code.

use std::process::ExitCode;

use clap::{Parser, Subcommand, ValueEnum};
use mcp_core::client::{Client, ClientError, ClientOptions, EraChoice};
use serde_json::{Value, json};

#[derive(Parser)]
#[command(
    name = "mcp",
    version = mcp_core::cli::version_text(env!("CARGO_PKG_VERSION")),
    about = "Talk to any MCP server over stdio or Streamable HTTP"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
    /// Streamable HTTP (`http://…/mcp`) or WebSocket (`ws://…/ws`) endpoint, instead of a
    /// command after `--`.
    #[arg(long, global = true)]
    url: Option<String>,
    /// Protocol era: auto (probe), modern (2026-07-28) or legacy (initialize handshake).
    #[arg(long, global = true, value_enum, default_value = "auto")]
    era: Era,
    /// Answer elicitation requests by accepting with this JSON content, over the defaults the
    /// request declares (default: decline).
    #[arg(long, global = true)]
    accept_elicitation: Option<String>,
    /// Bearer token for HTTP servers that require one (better given in MCP_TOKEN).
    #[arg(long, global = true, env = "MCP_TOKEN", hide_env_values = true)]
    token: Option<String>,
    /// Seconds to wait for each answer.
    #[arg(long, global = true, default_value_t = 60)]
    timeout: u64,
    /// The server command and its arguments (stdio).
    #[arg(last = true, global = true)]
    server: Vec<String>,
}

#[derive(Clone, Copy, ValueEnum)]
enum Era {
    Auto,
    Modern,
    Legacy,
}

#[derive(Subcommand)]
enum AuditCommand {
    /// Check the hash chain of an audit trail; report the first broken line. Prints the
    /// trail's head (its last line's hash) and line count: recorded elsewhere and given back
    /// with --expect-head and --expect-lines, they show a trail cut short or its last line
    /// edited, which the chain alone cannot.
    Verify {
        file: std::path::PathBuf,
        /// A head printed by an earlier verify: some line of the trail must have this hash
        /// (line N's, with --expect-lines N); lines written since may follow it.
        #[arg(long, value_name = "HEX")]
        expect_head: Option<String>,
        /// A line count printed by an earlier verify: the trail must have at least this many.
        #[arg(long, value_name = "N")]
        expect_lines: Option<usize>,
        /// The key of a keyed trail (the server's --audit-key-file).
        #[arg(long, value_name = "PATH")]
        audit_key_file: Option<std::path::PathBuf>,
        /// The head of the trail this file continues (the file before it, rotated away),
        /// instead of the genesis value.
        #[arg(long, value_name = "HEX")]
        after: Option<String>,
    },
}

#[derive(Subcommand)]
enum Command {
    /// Show the server's identity, protocol version and capabilities.
    Discover,
    /// List tools.
    Tools,
    /// Call a tool with JSON arguments.
    Call { name: String, arguments: Option<String> },
    /// List resources and resource templates.
    Resources,
    /// Read a resource.
    Read { uri: String },
    /// Work with audit trails written by `--audit-log`.
    #[command(subcommand)]
    Audit(AuditCommand),
    /// List prompts.
    Prompts,
    /// Get a prompt with JSON arguments.
    Prompt { name: String, arguments: Option<String> },
}

fn parse_json(what: &str, text: Option<&str>) -> Result<Value, String> {
    match text {
        None => Ok(json!({})),
        Some(t) => serde_json::from_str(t).map_err(|e| format!("{what} must be JSON: {e}")),
    }
}

fn verify_audit(command: &AuditCommand) -> Result<Value, String> {
    use mcp_core::security::audit::{AuditKey, Expected, verify_with};
    let AuditCommand::Verify { file, expect_head, expect_lines, audit_key_file, after } = command;
    let key = audit_key_file.as_deref().map(AuditKey::from_file).transpose()?;
    let reader = std::fs::File::open(file).map_err(|e| format!("cannot open {}: {e}", file.display()))?;
    let expected =
        Expected { key: key.as_ref(), after: after.as_deref(), head: expect_head.as_deref(), lines: *expect_lines };
    let trail = verify_with(reader, &expected).map_err(|b| format!("{}: not intact: {b}", file.display()))?;
    let mut out = json!({
        "file": file,
        "chain": "intact",
        "lines": trail.lines,
        "head": trail.head,
        "keyed": trail.key_id.is_some(),
    });
    if let Some(id) = &trail.key_id {
        out["key_id"] = json!(id);
    }
    match trail.head_at {
        Some(at) => out["expected_head_at_line"] = json!(at),
        None if expect_lines.is_none() => {
            out["note"] = json!(
                "nothing anchors the end of this trail: record its head and line count elsewhere and give them \
                 back with --expect-head and --expect-lines to detect lines cut from the end or a last line edited"
            );
        }
        None => {}
    }
    Ok(out)
}

async fn run(cli: Cli) -> Result<Value, String> {
    if let Command::Audit(command) = &cli.command {
        return verify_audit(command);
    }
    let accept = cli.accept_elicitation.as_deref().map(|t| parse_json("--accept-elicitation", Some(t))).transpose()?;
    let mut options = ClientOptions {
        era: match cli.era {
            Era::Auto => EraChoice::Auto,
            Era::Modern => EraChoice::Stateless,
            Era::Legacy => EraChoice::Handshake,
        },
        request_timeout: std::time::Duration::from_secs(cli.timeout.max(1)),
        bearer_token: cli.token.clone(),
        ..Default::default()
    };
    options.on_input = Some(std::sync::Arc::new(move |method: String, params: Value| {
        let accept = accept.clone();
        Box::pin(async move {
            match (method.as_str(), accept) {
                ("elicitation/create", Some(given)) => {
                    Ok(json!({ "action": "accept", "content": mcp_core::client::elicitation_content(&params, &given) }))
                }
                ("elicitation/create", None) => Ok(json!({ "action": "decline" })),
                ("roots/list", _) => Ok(json!({ "roots": [] })),
                (other, _) => Err(mcp_core::protocol::ErrorObject::method_not_found(other)),
            }
        })
    }));
    let client = match (&cli.url, cli.server.split_first()) {
        (Some(url), _) => Client::connect_url(url, options).await,
        (None, Some((program, args))) => {
            let mut cmd = tokio::process::Command::new(program);
            cmd.args(args);
            Client::connect_stdio(cmd, options).await
        }
        (None, None) => return Err("give a server: --url URL, or -- COMMAND ARGS...".into()),
    }
    .map_err(|e| format!("could not connect: {e}"))?;
    let result = match &cli.command {
        Command::Discover => Ok(json!({
            "protocolVersion": client.protocol_version().as_str(),
            "serverInfo": client.server_info(),
            "capabilities": client.server_capabilities(),
        })),
        Command::Tools => client.list_tools().await.map(|t| json!({ "tools": t })),
        Command::Call { name, arguments } => {
            let args = parse_json("the tool arguments", arguments.as_deref())?;
            client.call_tool(name, args).await.map(|r| json!(r))
        }
        Command::Resources => {
            async {
                Ok::<_, ClientError>(json!({
                    "resources": client.list_resources().await?,
                    "resourceTemplates": client.list_resource_templates().await?,
                }))
            }
            .await
        }
        Command::Read { uri } => client.read_resource(uri).await,
        Command::Audit(_) => unreachable!("handled before connecting"),
        Command::Prompts => client.list_prompts().await.map(|p| json!({ "prompts": p })),
        Command::Prompt { name, arguments } => {
            let args = parse_json("the prompt arguments", arguments.as_deref())?;
            client.get_prompt(name, args).await
        }
    };
    client.close().await;
    result.map_err(|e| e.to_string())
}

#[tokio::main]
async fn main() -> ExitCode {
    let _ = tracing_subscriber::fmt().with_writer(std::io::stderr).with_env_filter("warn").try_init();
    let cli = Cli::parse();
    match run(cli).await {
        Ok(v) => {
            use std::io::Write;
            // A closed pipe (e.g. `| head`) is not an error worth a panic.
            let _ = writeln!(std::io::stdout(), "{}", serde_json::to_string_pretty(&v).unwrap_or_default());
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("mcp: {e}");
            ExitCode::FAILURE
        }
    }
}
