//! `ssh://[user@]host[:port]` daemons, as the docker CLI reaches them: each connection is
//! the system `ssh` client running `docker system dial-stdio` on the remote host, and
//! HTTP to the Engine API goes over its stdin and stdout. The user's ssh configuration,
//! agent and known hosts apply, as they do for the CLI; `BatchMode` makes a missing key
//! or an unknown host key fail instead of prompting (there is no terminal to ask on).

use std::future::Future;
use std::io;
use std::path::Path;
use std::pin::Pin;
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};

use bollard::{BollardRequest, Docker};
use hyper::Uri;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::{Connected, Connection};
use hyper_util::rt::{TokioExecutor, TokioIo};
use tokio::io::{AsyncBufReadExt, BufReader, Join};
use tokio::process::{Child, ChildStdin, ChildStdout, Command};

use crate::documents::{self, Documents, Transport};

/// The parts of an `ssh://` URL: user, host, port.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    pub user: Option<String>,
    pub host: String,
    pub port: Option<u16>,
}

/// Parses `ssh://[user@]host[:port]`; nothing may follow (no path), and no part may read
/// as an ssh option.
pub fn parse(url: &str) -> Result<Target, String> {
    let rest = url.strip_prefix("ssh://").ok_or_else(|| format!("`{url}` is not an ssh:// URL"))?;
    let bad = |why: &str| format!("`{url}`: {why}; use ssh://[user@]host[:port]");
    let rest = rest.strip_suffix('/').unwrap_or(rest);
    if rest.contains(['/', '?', '#']) {
        return Err(bad("a path is not supported"));
    }
    let (user, hostport) = match rest.rsplit_once('@') {
        Some((u, h)) => (Some(u), h),
        None => (None, rest),
    };
    let (host, port) = if let Some(v6) = hostport.strip_prefix('[') {
        let (h, after) = v6.split_once(']').ok_or_else(|| bad("unclosed `[`"))?;
        (h, after.strip_prefix(':'))
    } else {
        match hostport.rsplit_once(':') {
            Some((h, p)) => (h, Some(p)),
            None => (hostport, None),
        }
    };
    let plain = |s: &str| {
        !s.is_empty() && !s.starts_with('-') && s.chars().all(|c| c.is_ascii_alphanumeric() || "._-:".contains(c))
    };
    if !plain(host) {
        return Err(bad("the host must be a name or address"));
    }
    if let Some(u) = user
        && !plain(u)
    {
        return Err(bad("the user must be a plain name"));
    }
    let port = port.map(|p| p.parse::<u16>().ok().filter(|p| *p > 0).ok_or_else(|| bad("bad port"))).transpose()?;
    Ok(Target { user: user.map(str::to_string), host: host.to_string(), port })
}

/// The `ssh` arguments that run `docker system dial-stdio` on the target.
pub fn ssh_args(target: &Target, identity: Option<&Path>, known_hosts: Option<&Path>) -> Vec<String> {
    let mut args: Vec<String> = ["-o", "BatchMode=yes", "-o", "ServerAliveInterval=30", "-T"].map(String::from).into();
    if let Some(key) = identity {
        args.extend(["-i".into(), key.display().to_string(), "-o".into(), "IdentitiesOnly=yes".into()]);
    }
    if let Some(file) = known_hosts {
        args.extend(["-o".into(), format!("UserKnownHostsFile={}", file.display())]);
    }
    if let Some(port) = target.port {
        args.extend(["-p".into(), port.to_string()]);
    }
    if let Some(user) = &target.user {
        args.extend(["-l".into(), user.clone()]);
    }
    // `--` ends the options: the host can never be read as one.
    args.extend(["--".into(), target.host.clone(), "docker".into(), "system".into(), "dial-stdio".into()]);
    args
}

/// The URL the requests are made to; the connector ignores it (one fixed target).
const BASE: &str = "http://docker.ssh";

/// A client for the daemon behind `url`, and its documents read on the same connections.
pub fn connect(
    name: &str,
    url: &str,
    identity: Option<&Path>,
    known_hosts: Option<&Path>,
    timeout_secs: u64,
) -> Result<(Docker, Documents), bollard::errors::Error> {
    let target = parse(url).map_err(|e| bollard::errors::Error::IOError { err: io::Error::other(e) })?;
    let said: Arc<Mutex<Option<String>>> = Arc::default();
    let connector = SshConnector {
        args: Arc::new(ssh_args(&target, identity, known_hosts)),
        name: name.into(),
        said: said.clone(),
    };
    let client = Client::builder(TokioExecutor::new()).build(connector);
    let transport: Transport = Arc::new(move |request: BollardRequest| {
        let (client, said) = (client.clone(), said.clone());
        Box::pin(async move {
            let e = match client.request(request).await {
                Ok(response) => return Ok(response),
                Err(e) => e,
            };
            // hyper only knows the pipe closed; ssh's own last words say why (its
            // stderr is read concurrently: give it a moment to arrive).
            for _ in 0..20 {
                if let Some(line) = said.lock().ok().and_then(|mut s| s.take()) {
                    return Err(bollard::errors::Error::IOError { err: io::Error::other(format!("ssh: {line}")) });
                }
                tokio::time::sleep(std::time::Duration::from_millis(10)).await;
            }
            Err(bollard::errors::Error::from(e))
        })
    });
    documents::connect(transport, BASE, timeout_secs)
}

#[derive(Clone)]
struct SshConnector {
    args: Arc<Vec<String>>,
    name: Arc<str>,
    /// The last line ssh wrote to stderr, for the error of a failed request.
    said: Arc<Mutex<Option<String>>>,
}

impl tower::Service<Uri> for SshConnector {
    type Response = SshStream;
    type Error = io::Error;
    type Future = Pin<Box<dyn Future<Output = Result<SshStream, io::Error>> + Send>>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), io::Error>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, _: Uri) -> Self::Future {
        let (args, name, said) = (self.args.clone(), self.name.clone(), self.said.clone());
        Box::pin(async move {
            let mut child = Command::new("ssh")
                .args(args.iter())
                .stdin(Stdio::piped())
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .kill_on_drop(true)
                .spawn()
                .map_err(|e| io::Error::new(e.kind(), format!("cannot run `ssh`: {e}")))?;
            let (Some(stdin), Some(stdout)) = (child.stdin.take(), child.stdout.take()) else {
                return Err(io::Error::other("ssh started without pipes"));
            };
            // What ssh says (a refused key, an unknown host key) goes to the server's log.
            if let Some(stderr) = child.stderr.take() {
                tokio::spawn(async move {
                    let mut lines = BufReader::new(stderr).lines();
                    while let Ok(Some(line)) = lines.next_line().await {
                        let line = mcp_core::security::redact::redact_text(&line).into_owned();
                        tracing::warn!(host = %name, "ssh: {line}");
                        if let Ok(mut last) = said.lock() {
                            *last = Some(line.chars().take(300).collect());
                        }
                    }
                });
            }
            Ok(SshStream { io: TokioIo::new(tokio::io::join(stdout, stdin)), _child: child })
        })
    }
}

/// One `ssh ... docker system dial-stdio` process, as a byte stream.
struct SshStream {
    io: TokioIo<Join<ChildStdout, ChildStdin>>,
    /// Killed when the connection is dropped.
    _child: Child,
}

impl Connection for SshStream {
    fn connected(&self) -> Connected {
        Connected::new()
    }
}

impl hyper::rt::Read for SshStream {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: hyper::rt::ReadBufCursor<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_read(cx, buf)
    }
}

impl hyper::rt::Write for SshStream {
    fn poll_write(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.io).poll_write(cx, buf)
    }
    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_flush(cx)
    }
    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ssh_urls_parse_and_cannot_smuggle_options() {
        let t = parse("ssh://me@box.example:2222").expect("parses");
        assert_eq!(t, Target { user: Some("me".into()), host: "box.example".into(), port: Some(2222) });
        assert_eq!(parse("ssh://box").expect("parses").port, None);
        assert_eq!(parse("ssh://u@[::1]:22").expect("v6").host, "::1");
        for bad in ["ssh://-oProxyCommand=x", "ssh://me@", "ssh://box/path", "ssh://box:0", "ssh://a b", "ssh://-l@h"] {
            assert!(parse(bad).is_err(), "{bad}");
        }
        let args = ssh_args(&parse("ssh://me@h:2").expect("parses"), Some(Path::new("/k")), None);
        let tail: Vec<&str> = args.iter().rev().take(5).rev().map(String::as_str).collect();
        assert_eq!(tail, ["--", "h", "docker", "system", "dial-stdio"]);
        assert!(args.windows(2).any(|w| w == ["-i", "/k"]) && args.windows(2).any(|w| w == ["-p", "2"]));
    }
}
