//! The stdio transport: one JSON-RPC message per line on stdin and stdout.
//!
//! Requests run concurrently (see [`Connection`]); answers are batched into single writes,
//! which is what makes pipelined throughput high. stdout carries protocol only: logs go
//! to stderr through `tracing`.

use std::time::Duration;

use tokio::io::{AsyncBufRead, AsyncRead, AsyncWrite, AsyncWriteExt};
use tokio::sync::mpsc;

use super::connection::{AtHand, Connection, batch};
use super::lines::{Frame, LineReader};
use crate::security::Identity;
use crate::security::audit::HeldLines;
use crate::server::{Outgoing, Server};

/// Limits of a line-based connection.
#[derive(Debug, Clone)]
pub struct StdioConfig {
    /// Longest accepted line; longer ones are answered with an error and skipped.
    pub max_line_bytes: usize,
    /// How long in-flight requests may finish after the input ends.
    pub drain_timeout: Duration,
}

impl Default for StdioConfig {
    fn default() -> Self {
        Self { max_line_bytes: 16 * 1024 * 1024, drain_timeout: Duration::from_secs(5) }
    }
}

/// Serves `server` on this process's stdin and stdout until stdin closes or SIGTERM.
pub async fn serve_stdio(server: Server, config: StdioConfig) -> std::io::Result<()> {
    let stdin = tokio::io::BufReader::with_capacity(64 * 1024, stdin());
    let stdout = stdout();
    let shutdown = async {
        #[cfg(unix)]
        {
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(mut s) => {
                    s.recv().await;
                }
                Err(_) => futures::future::pending::<()>().await,
            }
        }
        #[cfg(not(unix))]
        futures::future::pending::<()>().await
    };
    serve_lines(server, stdin, stdout, config, shutdown).await
}

/// stdin: when it is a pipe (as when a client spawns the server), it is read through the
/// runtime's reactor; tokio's own `stdin()` reads on a blocking thread, and the hop between
/// threads doubles a round trip's latency. Anything else (a file, a terminal) falls back.
fn stdin() -> Box<dyn AsyncRead + Unpin + Send> {
    #[cfg(unix)]
    if let Some(pipe) = as_pipe(&std::io::stdin(), tokio::net::unix::pipe::Receiver::from_owned_fd) {
        return Box::new(pipe);
    }
    Box::new(tokio::io::stdin())
}

/// stdout, through the reactor when it is a pipe, for the same reason as [`stdin`].
fn stdout() -> Box<dyn AsyncWrite + Unpin + Send> {
    #[cfg(unix)]
    if let Some(pipe) = as_pipe(&std::io::stdout(), tokio::net::unix::pipe::Sender::from_owned_fd) {
        return Box::new(pipe);
    }
    Box::new(tokio::io::stdout())
}

/// A standard stream as the pipe end `open` makes of its file descriptor, `None` when it is
/// not a pipe.
#[cfg(unix)]
fn as_pipe<T>(
    stream: &impl std::os::fd::AsFd,
    open: impl FnOnce(std::os::fd::OwnedFd) -> std::io::Result<T>,
) -> Option<T> {
    stream.as_fd().try_clone_to_owned().and_then(open).ok()
}

/// Serves `server` over any line stream (a pipe, a socket, an in-memory duplex) until the
/// input ends or `shutdown` completes.
pub async fn serve_lines<R, W>(
    server: Server,
    reader: R,
    writer: W,
    config: StdioConfig,
    shutdown: impl std::future::Future<Output = ()>,
) -> std::io::Result<()>
where
    R: AsyncBufRead + Unpin,
    W: AsyncWrite + Unpin + Send + 'static,
{
    let (connection, mut rx) = Connection::open(server, "stdio", Identity::local());
    let mut output = Output { writer, buf: Vec::with_capacity(64 * 1024), lines: HeldLines::default() };
    let mut lines = LineReader::new(reader, config.max_line_bytes);
    tokio::pin!(shutdown);
    let mut at_hand = AtHand::default();
    loop {
        let frame = match at_hand.take(lines.next()) {
            Some(frame) => frame,
            None => tokio::select! {
                // Nothing at hand: answers first, they free the client's window.
                biased;
                Some(message) = rx.recv() => {
                    output.send(message, &mut rx).await?;
                    continue;
                }
                frame = lines.next() => frame,
                _ = &mut shutdown => { tracing::info!("terminating on signal"); break; }
            },
        };
        match frame {
            Ok(Frame::Line(bytes)) => connection.accept(&bytes).await,
            Ok(Frame::TooLong(n)) => connection.refuse_oversized(n, config.max_line_bytes),
            Ok(Frame::Eof) => break,
            Err(e) => {
                tracing::error!(error = %e, "reading input failed");
                break;
            }
        }
    }
    // Let running requests finish briefly so their answers are not lost.
    let closing = connection.close(config.drain_timeout, false);
    while let Ok(Some(message)) = tokio::time::timeout_at(closing.deadline, rx.recv()).await {
        output.send(message, &mut rx).await?;
    }
    output.writer.flush().await
}

/// The output side: serializes messages and writes everything ready in one go, which is
/// what makes pipelined throughput high. A client that stops reading stops the input too.
struct Output<W> {
    writer: W,
    buf: Vec<u8>,
    /// The audit lines of the answers in `buf`, queued once they are written.
    lines: HeldLines,
}

impl<W: AsyncWrite + Unpin> Output<W> {
    async fn send(&mut self, first: Outgoing, more: &mut mpsc::UnboundedReceiver<Outgoing>) -> std::io::Result<()> {
        for item in batch(first, more, 4096) {
            item.write_holding_line(&mut self.buf, &mut self.lines);
            self.buf.push(b'\n');
        }
        if self.buf.is_empty() {
            return Ok(());
        }
        let mut written = self.writer.write_all(&self.buf).await;
        self.buf.clear();
        if written.is_ok() {
            written = self.writer.flush().await;
        }
        self.lines.queue();
        written
    }
}

#[cfg(test)]
mod tests {
    use std::pin::Pin;
    use std::sync::{Arc, Mutex};
    use std::task::Poll;

    use serde_json::Value;

    use super::*;
    use crate::transport::connection::TAKE_AT_HAND;
    use crate::{Context, ToolError, tool};

    /// An output that keeps what each write carried.
    struct Writes(Arc<Mutex<Vec<Vec<u8>>>>);

    impl AsyncWrite for Writes {
        fn poll_write(
            self: Pin<&mut Self>,
            _: &mut std::task::Context<'_>,
            buf: &[u8],
        ) -> Poll<std::io::Result<usize>> {
            crate::sync::lock(&self.0).push(buf.to_vec());
            Poll::Ready(Ok(buf.len()))
        }
        fn poll_flush(self: Pin<&mut Self>, _: &mut std::task::Context<'_>) -> Poll<std::io::Result<()>> {
            Poll::Ready(Ok(()))
        }
        fn poll_shutdown(self: Pin<&mut Self>, _: &mut std::task::Context<'_>) -> Poll<std::io::Result<()>> {
            Poll::Ready(Ok(()))
        }
    }

    #[derive(serde::Deserialize, schemars::JsonSchema)]
    struct EchoArgs {
        /// Text to send back.
        message: String,
    }

    #[tokio::test]
    async fn pipelined_requests_get_their_answers_together_and_no_answer_waits_long() {
        const CALLS: usize = 600;
        let server = Server::builder("test", "1.0.0")
            .tool(tool("echo", |_: Context, a: EchoArgs| async move { Ok::<_, ToolError>(a.message) }))
            .build();
        let meta = r#"{"io.modelcontextprotocol/protocolVersion":"2026-07-28","io.modelcontextprotocol/clientCapabilities":{}}"#;
        let input: String = (0..CALLS)
            .map(|i| {
                format!(
                    r#"{{"jsonrpc":"2.0","id":{i},"method":"tools/call","params":{{"name":"echo","arguments":{{"message":"m{i}"}},"_meta":{meta}}}}}"#
                ) + "\n"
            })
            .collect();
        let writes = Arc::new(Mutex::new(Vec::new()));
        let output = Writes(Arc::clone(&writes));
        serve_lines(server, input.as_bytes(), output, StdioConfig::default(), futures::future::pending())
            .await
            .expect("served");

        let writes = crate::sync::lock(&writes).clone();
        let answers: Vec<Vec<Value>> = writes
            .iter()
            .map(|w| {
                w.split(|&b| b == b'\n')
                    .filter(|l| !l.is_empty())
                    .map(|l| serde_json::from_slice(l).expect("JSON"))
                    .collect()
            })
            .collect();
        let mut ids: Vec<u64> = answers.iter().flatten().map(|a| a["id"].as_u64().expect("an id")).collect();
        // A request the runtime makes yield runs on as a task of its own: its answer may
        // come later than the next requests' ones.
        ids.sort_unstable();
        assert_eq!(ids, (0..CALLS as u64).collect::<Vec<_>>(), "every answer, once");
        // Answers ready go out together, never behind more than a batch of requests.
        let sizes: Vec<usize> = answers.iter().map(Vec::len).collect();
        assert_eq!(sizes.len(), CALLS.div_ceil(TAKE_AT_HAND), "one write per batch of requests: {sizes:?}");
        assert!(sizes.iter().all(|&n| n <= TAKE_AT_HAND), "{sizes:?}");
    }
}
