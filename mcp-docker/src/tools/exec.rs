//! `exec_in_container` (only with --allow-write): a command in a running container, with
//! a timeout and output bounded per stream.

use std::sync::Arc;
use std::time::Duration;

use bollard::exec::{CreateExecOptions, StartExecOptions, StartExecResults};
use futures::StreamExt;
use mcp_core::server::ServerBuilder;
use mcp_core::{Context, ToolError, tool_with};
use schemars::JsonSchema;
use serde::Serialize;

use super::logs::{Stream, Tail, yes};
use crate::config::Toolset;
use crate::daemons::Daemons;
use crate::errors::NO_CONTAINER;
use crate::output::{Rendered, Reply};

pub fn register(builder: ServerBuilder, daemons: &Arc<Daemons>) -> ServerBuilder {
    builder.tools_in(
        Toolset::Containers.name(),
        [tool_with("exec_in_container", daemons, exec_in_container)
            .title("Run a command in a container")
            .description(
                "Runs a command in a running container (docker exec, no shell unless you run one: \
                 [\"sh\",\"-c\",\"...\"]) and returns its exit code, stdout and stderr (the last lines within \
                 the output budget, saying when cut). Gives up after `timeout_secs` (default 30).",
            )
            .destructive()],
    )
}

tool_args! {
    write ExecArgs {
        /// The container's id (or a unique prefix) or name; it must be running.
        pub container: String,
        /// The command and its arguments, e.g. ["ls", "-l", "/"] or ["sh", "-c", "..."].
        pub cmd: Vec<String>,
        /// Extra environment, `NAME=value` each.
        #[serde(default)]
        pub env: Vec<String>,
        /// Working directory inside the container.
        pub working_dir: Option<String>,
        /// User (name or uid[:gid]) to run as.
        pub user: Option<String>,
        /// Seconds to wait for the command (default 30, at most 600).
        pub timeout_secs: Option<u64>,
        /// Return stdout (default true).
        #[serde(default = "yes")]
        pub stdout: bool,
        /// Return stderr (default true).
        #[serde(default = "yes")]
        pub stderr: bool,
    }
}

#[derive(Debug, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ExecResult {
    pub host: String,
    pub container: String,
    /// The command's exit code; absent if it was still running at the timeout.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub exit_code: Option<i64>,
    pub timed_out: bool,
    pub stdout: String,
    pub stderr: String,
    /// Older output was left out to fit the budget.
    pub truncated: bool,
}

pub async fn exec_in_container(daemons: Arc<Daemons>, _ctx: Context, args: ExecArgs) -> Reply<ExecResult> {
    if args.cmd.is_empty() || args.cmd[0].is_empty() {
        return Err(ToolError::invalid_arguments("`cmd`: give the command and its arguments, e.g. [\"ls\", \"/\"]"));
    }
    let timeout = args.timeout_secs.unwrap_or(30);
    if timeout == 0 || timeout > 600 {
        return Err(ToolError::invalid_arguments("`timeout_secs`: between 1 and 600"));
    }
    let call = daemons.write_container(args.host.as_deref(), &args.container).await?;
    let (client, fail) = (&call.docker, call.fail(NO_CONTAINER));
    let options = CreateExecOptions {
        attach_stdout: Some(args.stdout),
        attach_stderr: Some(args.stderr),
        cmd: Some(args.cmd.clone()),
        env: (!args.env.is_empty()).then(|| args.env.clone()),
        working_dir: args.working_dir.clone(),
        user: args.user.clone(),
        ..Default::default()
    };
    let exec = client.create_exec(&call.id, options).await.map_err(&fail)?;
    let started = call
        .docker
        .start_exec(&exec.id, Some(StartExecOptions { detach: false, tty: false, output_capacity: None }))
        .await
        .map_err(&fail)?;
    // Half the budget each, so a chatty stdout cannot hide the error on stderr.
    let half = daemons.settings.max_result_bytes / 2;
    let mut out = Tail::new(usize::MAX, half);
    let mut err = Tail::new(usize::MAX, half);
    let mut timed_out = false;
    if let StartExecResults::Attached { mut output, .. } = started {
        let read = async {
            while let Some(item) = output.next().await {
                match item {
                    Ok(bollard::container::LogOutput::StdErr { message }) => err.push(Stream::Err, &message),
                    Ok(other) => out.push(Stream::Out, other.as_ref()),
                    Err(e) => return Err(fail(e)),
                }
            }
            Ok(())
        };
        match tokio::time::timeout(Duration::from_secs(timeout), read).await {
            Ok(result) => result?,
            Err(_) => timed_out = true,
        }
    }
    out.finish();
    err.finish();
    let inspect = client.inspect_exec(&exec.id).await.map_err(&fail)?;
    let exit_code = if inspect.running == Some(true) { None } else { inspect.exit_code };
    let truncated = out.dropped > 0 || err.dropped > 0;
    let stdout = out.text_of(Stream::Out);
    let stderr = err.text_of(Stream::Err);
    let mut text = match (timed_out, exit_code) {
        (true, _) => format!(
            "Timed out after {timeout} s; the command may still be running in the container (Docker cannot stop an \
             exec'd process: kill it by PID with another exec, or restart the container).\n"
        ),
        (false, Some(code)) => format!("Exit code {code}.\n"),
        (false, None) => "Finished; Docker reported no exit code.\n".into(),
    };
    if truncated {
        text += "[Older output left out to fit the output budget.]\n";
    }
    if !stdout.is_empty() {
        text += &format!("--- stdout\n{stdout}");
    }
    if !stderr.is_empty() {
        text += &format!("--- stderr\n{stderr}");
    }
    Ok(Rendered {
        text,
        data: ExecResult {
            host: call.name.clone(),
            container: args.container,
            exit_code,
            timed_out,
            stdout,
            stderr,
            truncated,
        },
    })
}
