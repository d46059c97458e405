//! Changing a container's state (only with --allow-write): start, stop, restart, kill,
//! pause, unpause, rename and remove, one body for all ([`act`] with a [`Verb`]); the
//! ones that would stop a process never touch the connector's own container.
//! `wait_container` only observes, so it is a reading tool.

use std::sync::Arc;
use std::time::Duration;

use bollard::query_parameters::{
    KillContainerOptions, RemoveContainerOptions, RenameContainerOptions, RestartContainerOptions,
    StopContainerOptions, WaitContainerOptions,
};
use futures::StreamExt;
use mcp_core::server::ServerBuilder;
use mcp_core::{Context, ToolError, tool_with};
use schemars::JsonSchema;
use serde::Serialize;

use crate::config::Toolset;
use crate::daemons::{ContainerCall, Daemons};
use crate::errors::NO_CONTAINER;
use crate::names::check_new_name;
use crate::output::{Rendered, Reply, clip, said};

pub fn register(builder: ServerBuilder, daemons: &Arc<Daemons>) -> ServerBuilder {
    builder.tools_in(
        Toolset::Containers.name(),
        [
            tool_with("start_container", daemons, |d, _, a: TargetArgs| act(d, a.host, a.container, Verb::Start))
                .title("Start a container")
                .description("Starts a created or stopped container.")
                .additive()
                .idempotent(),
            tool_with("stop_container", daemons, |d, _, a: StopArgs| {
                act(d, a.host, a.container, Verb::Stop(a.timeout_secs))
            })
            .title("Stop a container")
            .description("Stops a running container: SIGTERM, then SIGKILL after `timeout_secs` (default 10).")
            .destructive()
            .idempotent(),
            tool_with("restart_container", daemons, |d, _, a: StopArgs| {
                act(d, a.host, a.container, Verb::Restart(a.timeout_secs))
            })
            .title("Restart a container")
            .description("Stops (as stop_container) and starts a container again.")
            .destructive(),
            tool_with("kill_container", daemons, kill_container)
                .title("Send a signal to a container")
                .description("Sends a signal to a container's main process (default SIGKILL).")
                .destructive(),
            tool_with("pause_container", daemons, |d, _, a: TargetArgs| act(d, a.host, a.container, Verb::Pause))
                .title("Pause a container")
                .description("Freezes every process of a container (cgroup freezer) until unpause_container.")
                .destructive()
                .idempotent(),
            tool_with("unpause_container", daemons, |d, _, a: TargetArgs| act(d, a.host, a.container, Verb::Unpause))
                .title("Unpause a container")
                .description("Resumes a paused container.")
                .additive()
                .idempotent(),
            tool_with("rename_container", daemons, rename_container)
                .title("Rename a container")
                .description("Gives a container a new name.")
                .additive()
                .idempotent(),
            tool_with("remove_container", daemons, |d, _, a: RemoveArgs| {
                act(d, a.host, a.container, Verb::Remove { force: a.force, volumes: a.volumes })
            })
            .title("Remove a container")
            .description(
                "Removes a container; a running one only with `force`. `volumes` also removes its anonymous \
                 volumes. Never removes the container this server runs in.",
            )
            .destructive(),
            tool_with("wait_container", daemons, wait_container)
                .title("Wait for a container to stop")
                .description(
                    "Waits until a container stops (or up to `timeout_secs`, default 30) and returns its exit code.",
                )
                .read_only(),
        ],
    )
}

tool_args! {
    write TargetArgs {
        /// The container's id (or a unique prefix) or name.
        pub container: String,
    }
}

tool_args! {
    write StopArgs {
        /// The container's id (or a unique prefix) or name.
        pub container: String,
        /// Seconds to wait after SIGTERM before SIGKILL (default 10).
        pub timeout_secs: Option<u32>,
    }
}

tool_args! {
    write KillArgs {
        /// The container's id (or a unique prefix) or name.
        pub container: String,
        /// The signal, e.g. SIGTERM, SIGHUP, 9 (default SIGKILL).
        pub signal: Option<String>,
    }
}

tool_args! {
    write RemoveArgs {
        /// The container's id (or a unique prefix) or name.
        pub container: String,
        /// Remove it even if it is running (it is killed first).
        #[serde(default)]
        pub force: bool,
        /// Also remove its anonymous volumes.
        #[serde(default)]
        pub volumes: bool,
    }
}

tool_args! {
    write RenameArgs {
        /// The container's id (or a unique prefix) or name.
        pub container: String,
        /// The new name.
        pub name: String,
    }
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct Action {
    pub host: String,
    pub container: String,
    /// What happened, in a sentence.
    pub message: String,
}

/// What a lifecycle tool does to its container.
enum Verb {
    Start,
    /// With the seconds between SIGTERM and SIGKILL.
    Stop(Option<u32>),
    Restart(Option<u32>),
    /// With the signal.
    Kill(String),
    Pause,
    Unpause,
    Rename(String),
    Remove {
        force: bool,
        volumes: bool,
    },
}

impl Verb {
    /// How the self-protection guard names the verbs that would cut this server off.
    fn cuts_off(&self) -> Option<&'static str> {
        match self {
            Verb::Stop(_) => Some("stopping"),
            Verb::Restart(_) => Some("restarting"),
            Verb::Kill(_) => Some("killing"),
            Verb::Pause => Some("pausing"),
            Verb::Remove { .. } => Some("removing"),
            Verb::Start | Verb::Unpause | Verb::Rename(_) => None,
        }
    }

    /// Does it, and says what happened.
    async fn apply(&self, call: &ContainerCall, c: &str) -> Result<String, ToolError> {
        // `c` as the caller named it, for the message; `id` what the guard checked.
        let (docker, fail, id) = (&call.docker, call.fail(NO_CONTAINER), call.id.as_str());
        let t = |timeout: &Option<u32>| timeout.map(|t| t.min(600) as i32);
        Ok(match self {
            // Docker answers 304 for a container already running, which bollard reports
            // as success: ask first, so the model is told what really happened.
            Verb::Start if running(call).await? => format!("{c} was already running."),
            Verb::Start => {
                docker.start_container(id, None).await.map_err(fail)?;
                format!("Started {c}.")
            }
            Verb::Stop(_) if !running(call).await? => format!("{c} was not running."),
            Verb::Stop(timeout) => {
                let options = StopContainerOptions { t: t(timeout), signal: None };
                docker.stop_container(id, Some(options)).await.map_err(fail)?;
                format!("Stopped {c}.")
            }
            Verb::Restart(timeout) => {
                let options = RestartContainerOptions { t: t(timeout), signal: None };
                docker.restart_container(id, Some(options)).await.map_err(fail)?;
                format!("Restarted {c}.")
            }
            Verb::Kill(signal) => {
                docker.kill_container(id, Some(KillContainerOptions { signal: signal.clone() })).await.map_err(fail)?;
                format!("Sent {signal} to {c}.")
            }
            Verb::Pause => {
                docker.pause_container(id).await.map_err(fail)?;
                format!("Paused {c}.")
            }
            Verb::Unpause => {
                docker.unpause_container(id).await.map_err(fail)?;
                format!("Unpaused {c}.")
            }
            Verb::Rename(name) => {
                docker.rename_container(id, RenameContainerOptions { name: name.clone() }).await.map_err(fail)?;
                format!("Renamed {c} to {name}.")
            }
            Verb::Remove { force, volumes } => {
                let options = RemoveContainerOptions { force: *force, v: *volumes, ..Default::default() };
                docker.remove_container(id, Some(options)).await.map_err(|e| {
                    let conflict =
                        matches!(e, bollard::errors::Error::DockerResponseServerError { status_code: 409, .. });
                    match fail(e) {
                        ToolError::Failed(m) if conflict => {
                            ToolError::failed(m + " (stop it first, or pass force=true)")
                        }
                        other => other,
                    }
                })?;
                format!("Removed {c}.")
            }
        })
    }
}

/// The one body of the lifecycle tools: the writable daemon, the container in scope,
/// the self-protection guard for the verbs that need it, then the verb.
async fn act(daemons: Arc<Daemons>, host: Option<String>, container: String, verb: Verb) -> Reply<Action> {
    let call = daemons.write_container(host.as_deref(), &container).await?;
    if let Some(verb) = verb.cuts_off() {
        not_self(&daemons, &call, &container, verb).await?;
    }
    let message = verb.apply(&call, &container).await?;
    Ok(said(message, |message| Action { host: call.name.clone(), container, message }))
}

/// Refuses if `container` resolves to the one this server runs in.
async fn not_self(daemons: &Daemons, call: &ContainerCall, container: &str, verb: &str) -> Result<(), ToolError> {
    let Some(own) = &daemons.self_container else { return Ok(()) };
    let (id, _) = resolved(call).await?;
    if !id.is_empty() && (id.starts_with(own.as_str()) || own.starts_with(&id)) {
        return Err(ToolError::refused(format!(
            "refused by the self-protection guard: `{container}` is the container this MCP server runs in; {verb} it \
             would cut the connection you are using. No flag relaxes this guard."
        )));
    }
    Ok(())
}

/// Whether the container is running (paused counts: it still holds its processes).
async fn running(call: &ContainerCall) -> Result<bool, ToolError> {
    Ok(resolved(call).await?.1)
}

/// The container's full id and whether it is running: as the scope guard resolved it
/// when it asked (this call), else as the engine says now.
async fn resolved(call: &ContainerCall) -> Result<(String, bool), ToolError> {
    if let Some(info) = &call.info {
        return Ok((info.id.clone(), info.running));
    }
    let info = crate::scope::resolve(&call.daemon, &call.id).await?;
    Ok((info.id, info.running))
}

pub async fn kill_container(daemons: Arc<Daemons>, _ctx: Context, args: KillArgs) -> Reply<Action> {
    let signal = args.signal.unwrap_or_else(|| "SIGKILL".into());
    if signal.is_empty() || signal.len() > 16 || !signal.chars().all(|c| c.is_ascii_alphanumeric() || c == '+') {
        return Err(ToolError::invalid_arguments(format!(
            "`signal`: `{}` is not a signal name or number",
            clip(&signal, 40)
        )));
    }
    act(daemons, args.host, args.container, Verb::Kill(signal)).await
}

pub async fn rename_container(daemons: Arc<Daemons>, _ctx: Context, args: RenameArgs) -> Reply<Action> {
    check_new_name(&args.name, None)?;
    act(daemons, args.host, args.container, Verb::Rename(args.name)).await
}

tool_args! {
    read WaitArgs {
        /// The container's id (or a unique prefix) or name.
        pub container: String,
        /// Seconds to wait at most (default 30, at most 600).
        pub timeout_secs: Option<u64>,
    }
}

#[derive(Debug, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Waited {
    pub host: String,
    pub container: String,
    /// Whether it stopped within the timeout.
    pub stopped: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub exit_code: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

pub async fn wait_container(daemons: Arc<Daemons>, _ctx: Context, args: WaitArgs) -> Reply<Waited> {
    let timeout = args.timeout_secs.unwrap_or(30);
    if timeout == 0 || timeout > 600 {
        return Err(ToolError::invalid_arguments("`timeout_secs`: between 1 and 600"));
    }
    let call = daemons.read_container(args.host.as_deref(), &args.container).await?;
    let options = WaitContainerOptions { condition: "not-running".into() };
    let mut stream = call.docker.wait_container(&call.id, Some(options));
    let (stopped, exit_code, error) = match tokio::time::timeout(Duration::from_secs(timeout), stream.next()).await {
        Err(_) => (false, None, None),
        Ok(Some(Ok(r))) => (true, Some(r.status_code), r.error.and_then(|e| e.message).filter(|m| !m.is_empty())),
        // bollard reports a non-zero exit as an error; for a wait it is just the result.
        Ok(Some(Err(bollard::errors::Error::DockerContainerWaitError { error, code }))) => {
            (true, Some(code), Some(error).filter(|e| !e.is_empty()))
        }
        Ok(Some(Err(e))) => return Err(call.fail(NO_CONTAINER)(e)),
        Ok(None) => return Err(ToolError::failed(format!("host `{}`: the wait ended without a result", call.name))),
    };
    let text = match exit_code {
        Some(code) if stopped => format!("{} stopped with exit code {code}.", args.container),
        _ => format!("{} was still running after {timeout} s.", args.container),
    };
    Ok(Rendered {
        text,
        data: Waited { host: call.name.clone(), container: args.container, stopped, exit_code, error },
    })
}
