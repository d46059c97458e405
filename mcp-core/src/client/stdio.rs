//! The client side of stdio: spawn the server, write requests as lines, match responses
//! by id on a reader task, and watch the process.
//!
//! Shutdown is the one the MCP stdio transport describes: close the server's stdin, wait
//! for it to exit, then SIGTERM, then SIGKILL. Nothing but the channel holds the sender
//! that feeds stdin (the reader replies through a weak handle), so dropping the channel
//! closes stdin. A server that exits on its own fails what is waiting at once, with its
//! exit status and the last lines it wrote on stderr (which is forwarded to ours).

use std::collections::VecDeque;
use std::process::{ExitStatus, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::process::Child;
use tokio::sync::{mpsc, oneshot, watch};

use super::channel::pending::Pending;
use super::channel::{Channel, dispatch_incoming};
use super::options::{ClientError, ClientOptions};
use crate::protocol::{Message, parse_message};
use crate::transport::lines::{Frame, LineReader};

/// How long a server has to exit after its stdin closes, and then after SIGTERM.
const GRACE: Duration = Duration::from_secs(2);
/// How much of the server's stderr is kept to explain its exit.
const STDERR_TAIL_BYTES: usize = 4096;
const STDERR_TAIL_LINES: usize = 10;

pub(crate) struct StdioConn {
    pub(crate) channel: Channel,
    /// Dropped (by `close` or with the connection) to start the shutdown.
    _shutdown: oneshot::Sender<()>,
    exited: watch::Receiver<Option<ExitStatus>>,
}

impl StdioConn {
    pub(crate) fn spawn(mut command: tokio::process::Command, options: ClientOptions) -> Result<Self, ClientError> {
        let shown = show_command(&command);
        command.stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::piped()).kill_on_drop(true);
        let mut child = command.spawn().map_err(|e| ClientError::Transport(format!("could not start {shown}: {e}")))?;
        let (Some(mut stdin), Some(stdout), Some(stderr)) =
            (child.stdin.take(), child.stdout.take(), child.stderr.take())
        else {
            return Err(ClientError::Transport("the server's stdio is not piped".into()));
        };
        let (out, mut rx) = mpsc::unbounded_channel::<Message>();
        tokio::spawn(async move {
            while let Some(msg) = rx.recv().await {
                let mut line = msg.to_vec();
                line.push(b'\n');
                if stdin.write_all(&line).await.is_err() || stdin.flush().await.is_err() {
                    break;
                }
            }
            // `stdin` drops here: the server sees EOF.
        });
        let pending = Arc::new(Pending::default());
        let (exited_tx, exited) = watch::channel(None);
        let stderr_tail = Arc::new(Mutex::new(VecDeque::new()));
        let stderr_done = tokio::spawn(forward_stderr(stderr, stderr_tail.clone()));
        let (shutdown, shutdown_rx) = oneshot::channel();
        tokio::spawn(supervise(child, shutdown_rx, exited_tx, pending.clone(), move |status| async move {
            // What the server wrote last may still be in the pipe: give it a moment.
            let _ = tokio::time::timeout(Duration::from_millis(200), stderr_done).await;
            explain_exit(&shown, status, &crate::sync::lock(&stderr_tail))
        }));
        tokio::spawn(read_stdout(stdout, pending.clone(), out.downgrade(), options, exited.clone()));
        Ok(Self { channel: Channel { out, pending }, _shutdown: shutdown, exited })
    }

    /// Closes the server's stdin and waits for it to exit (SIGTERM, then SIGKILL, if it
    /// does not): its exit status.
    pub(crate) async fn close(self) -> Option<ExitStatus> {
        let Self { channel, _shutdown, mut exited } = self;
        drop(channel);
        drop(_shutdown);
        let status = tokio::time::timeout(GRACE * 3, exited.wait_for(Option::is_some)).await;
        status.ok().and_then(|s| s.ok().and_then(|s| *s))
    }
}

/// Reads the server's messages until its stdout ends.
async fn read_stdout(
    stdout: tokio::process::ChildStdout,
    pending: Arc<Pending>,
    replies: mpsc::WeakUnboundedSender<Message>,
    options: ClientOptions,
    mut exited: watch::Receiver<Option<ExitStatus>>,
) {
    let mut lines = LineReader::new(BufReader::new(stdout), 64 * 1024 * 1024);
    loop {
        match lines.next().await {
            Ok(Frame::Line(bytes)) => match parse_message(&bytes) {
                Ok(msg) => {
                    let replies = replies.clone();
                    dispatch_incoming(msg, &pending, &options, move |r| {
                        if let Some(out) = replies.upgrade() {
                            let _ = out.send(Message::Response(r));
                        }
                    })
                }
                Err(e) => tracing::warn!(error = %e.error.message, "server wrote a line that is not MCP"),
            },
            Ok(Frame::TooLong(n)) => tracing::warn!(bytes = n, "server wrote an oversized line; skipped"),
            Ok(Frame::Eof) | Err(_) => break,
        }
    }
    // Usually the process is exiting: its supervisor gives the better reason.
    if tokio::time::timeout(Duration::from_millis(500), exited.wait_for(Option::is_some)).await.is_err() {
        pending.fail_all("the server closed its stdout but is still running");
    }
}

/// Owns the child: reports its exit, and on shutdown closes in the order the stdio
/// transport asks for (the stdin is already closed by then).
async fn supervise<F, Fut>(
    mut child: Child,
    shutdown: oneshot::Receiver<()>,
    exited: watch::Sender<Option<ExitStatus>>,
    pending: Arc<Pending>,
    explain: F,
) where
    F: FnOnce(ExitStatus) -> Fut,
    Fut: std::future::Future<Output = String>,
{
    let status = tokio::select! {
        status = child.wait() => status,
        _ = shutdown => stop(&mut child).await,
    };
    match status {
        Ok(status) => {
            pending.fail_all(explain(status).await);
            let _ = exited.send(Some(status));
        }
        Err(e) => pending.fail_all(format!("could not wait for the server: {e}")),
    }
}

/// After stdin closed: wait, SIGTERM, wait, SIGKILL.
async fn stop(child: &mut Child) -> std::io::Result<ExitStatus> {
    if let Ok(status) = tokio::time::timeout(GRACE, child.wait()).await {
        return status;
    }
    #[cfg(unix)]
    if let Some(pid) = child.id().and_then(|pid| i32::try_from(pid).ok()) {
        tracing::debug!(pid, "the server did not exit after its stdin closed; sending SIGTERM");
        let _ = nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), nix::sys::signal::Signal::SIGTERM);
        if let Ok(status) = tokio::time::timeout(GRACE, child.wait()).await {
            return status;
        }
    }
    tracing::warn!("the server did not exit on SIGTERM; killing it");
    child.kill().await?;
    child.wait().await
}

/// Copies the server's stderr to ours, keeping its last bytes.
async fn forward_stderr(mut stderr: impl AsyncRead + Unpin, tail: Arc<Mutex<VecDeque<u8>>>) {
    let mut ours = tokio::io::stderr();
    let mut buf = vec![0u8; 8192];
    while let Ok(n @ 1..) = stderr.read(&mut buf).await {
        let _ = ours.write_all(&buf[..n]).await;
        let mut tail = crate::sync::lock(&tail);
        tail.extend(&buf[..n]);
        let excess = tail.len().saturating_sub(STDERR_TAIL_BYTES);
        tail.drain(..excess);
    }
}

/// "the server (`cmd args`) exited with exit status: 3; the last lines of its stderr: …"
fn explain_exit(command: &str, status: ExitStatus, stderr_tail: &VecDeque<u8>) -> String {
    let (front, back) = stderr_tail.as_slices();
    let text = String::from_utf8_lossy(&[front, back].concat()).into_owned();
    let lines: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
    let last = &lines[lines.len().saturating_sub(STDERR_TAIL_LINES)..];
    let said = if last.is_empty() {
        "it wrote nothing on stderr".to_string()
    } else {
        format!("the last lines of its stderr:\n  {}", last.join("\n  "))
    };
    format!("the server ({command}) exited with {status}; {said}")
}

/// The command as a user would type it, for messages.
fn show_command(command: &tokio::process::Command) -> String {
    let std = command.as_std();
    let mut shown = vec![std.get_program().to_string_lossy().into_owned()];
    shown.extend(std.get_args().map(|a| a.to_string_lossy().into_owned()));
    format!("`{}`", shown.join(" "))
}

#[cfg(test)]
mod tests {
    use std::os::unix::process::ExitStatusExt;
    use std::time::Instant;

    use super::*;
    use crate::protocol::{Request, RequestId};

    fn sh(script: &str) -> StdioConn {
        let mut command = tokio::process::Command::new("sh");
        command.args(["-c", script]);
        StdioConn::spawn(command, ClientOptions::default()).expect("spawn sh")
    }

    #[tokio::test]
    async fn close_ends_the_server_by_eof_not_by_a_signal() {
        let conn = sh("cat > /dev/null; exit 0");
        let started = Instant::now();
        let status = conn.close().await.expect("an exit status");
        let took = started.elapsed();
        assert_eq!((status.code(), status.signal()), (Some(0), None), "{status}");
        assert!(took < Duration::from_millis(100), "close took {took:?} for a server that exits at EOF");
    }

    #[tokio::test]
    async fn a_server_deaf_to_eof_gets_sigterm_before_sigkill() {
        let conn = sh("trap 'exit 7' TERM; exec 0</dev/null; while :; do sleep 0.05; done");
        let status = conn.close().await.expect("an exit status");
        assert_eq!((status.code(), status.signal()), (Some(7), None), "SIGTERM must come first: {status}");
    }

    #[tokio::test]
    async fn a_server_that_dies_at_start_is_reported_at_once_with_its_status_and_stderr() {
        let conn = sh("echo 'cannot read /nonexistent: no such file' >&2; exit 3");
        let started = Instant::now();
        let request = Request::new(RequestId::Number(1), "initialize", serde_json::json!({}));
        let error = conn.channel.request(request).await.expect_err("the server is gone");
        let took = started.elapsed();
        let text = error.to_string();
        assert!(took < Duration::from_secs(1), "reported after {took:?}");
        assert!(text.contains("`sh -c") && text.contains("exit status: 3"), "{text}");
        assert!(text.contains("cannot read /nonexistent: no such file"), "{text}");
    }

    #[test]
    fn an_exit_is_explained_with_the_last_stderr_lines() {
        use std::os::unix::process::ExitStatusExt;
        let tail: VecDeque<u8> = (0..30).map(|i| format!("line {i}\n")).collect::<String>().into_bytes().into();
        let text = explain_exit("`srv --x`", ExitStatus::from_raw(3 << 8), &tail);
        assert!(text.starts_with("the server (`srv --x`) exited with exit status: 3;"), "{text}");
        assert!(text.contains("line 29") && text.contains("line 20") && !text.contains("line 19"), "{text}");
        let silent = explain_exit("`srv`", ExitStatus::from_raw(9), &VecDeque::new());
        assert!(silent.contains("signal: 9") && silent.ends_with("it wrote nothing on stderr"), "{silent}");
    }
}
