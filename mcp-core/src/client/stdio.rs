//! The client side of stdio: spawn the server, write requests as lines, match responses
//! by id on a reader task.

use std::process::Stdio;
use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncWriteExt, BufReader};
use tokio::process::Child;
use tokio::sync::mpsc;

use super::channel::pending::Pending;
use super::channel::{Channel, dispatch_incoming};
use super::options::{ClientError, ClientOptions};
use crate::protocol::{Message, parse_message};
use crate::transport::lines::{Frame, LineReader};

pub(crate) struct StdioConn {
    child: Child,
    pub(crate) channel: Channel,
}

impl StdioConn {
    pub(crate) fn spawn(mut command: tokio::process::Command, options: ClientOptions) -> Result<Self, ClientError> {
        command.stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::inherit()).kill_on_drop(true);
        let mut child =
            command.spawn().map_err(|e| ClientError::Transport(format!("could not start the server: {e}")))?;
        let (Some(mut stdin), Some(stdout)) = (child.stdin.take(), child.stdout.take()) else {
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
        });
        let pending = Arc::new(Pending::default());
        let reader_pending = pending.clone();
        let reply_out = out.clone();
        tokio::spawn(async move {
            let mut lines = LineReader::new(BufReader::new(stdout), 64 * 1024 * 1024);
            loop {
                match lines.next().await {
                    Ok(Frame::Line(bytes)) => match parse_message(&bytes) {
                        Ok(msg) => {
                            let out = reply_out.clone();
                            dispatch_incoming(msg, &reader_pending, &options, move |r| {
                                let _ = out.send(Message::Response(r));
                            })
                        }
                        Err(e) => tracing::warn!(error = %e.error.message, "server wrote a line that is not MCP"),
                    },
                    Ok(Frame::TooLong(n)) => tracing::warn!(bytes = n, "server wrote an oversized line; skipped"),
                    Ok(Frame::Eof) | Err(_) => break,
                }
            }
            reader_pending.fail_all();
        });
        Ok(Self { child, channel: Channel { out, pending } })
    }

    pub(crate) async fn close(mut self) {
        drop(self.channel);
        if tokio::time::timeout(Duration::from_secs(2), self.child.wait()).await.is_err() {
            let _ = self.child.kill().await;
        }
    }
}
