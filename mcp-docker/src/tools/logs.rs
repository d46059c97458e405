//! `container_logs`: the recent lines of a container's output, bounded by lines and bytes,
//! saying what was left out; and [`Tail`], the bounded line buffer exec shares.

use std::collections::VecDeque;
use std::sync::Arc;

use bollard::container::LogOutput;
use bollard::query_parameters::LogsOptions;
use futures::StreamExt;
use mcp_core::server::ServerBuilder;
use mcp_core::{Context, ToolError, tool_with};
use schemars::JsonSchema;
use serde::Serialize;

use crate::config::Toolset;
use crate::daemons::Daemons;
use crate::errors::NO_CONTAINER;
use crate::output::{Rendered, Reply, clip};

pub fn register(builder: ServerBuilder, daemons: &Arc<Daemons>) -> ServerBuilder {
    let max = daemons.settings.max_log_lines;
    builder.tools_in(
        Toolset::Containers.name(),
        [tool_with("container_logs", daemons, container_logs)
            .title("Read a container's logs")
            .description(format!(
                "The last `tail` lines (default 100, at most {max}) of a container's stdout and stderr, optionally \
                 between `since` and `until` (RFC 3339, Unix seconds, or relative like `10m`, `2h`, `1d`), with \
                 `timestamps`. stderr lines are marked `[stderr]`. Bounded by lines and bytes: the result says when \
                 older lines were left out; narrow with since/until to read them."
            ))
            .read_only()],
    )
}

tool_args! {
    read LogsArgs {
        /// The container's id (or a unique prefix) or name.
        pub container: String,
        /// How many of the most recent lines (default 100).
        pub tail: Option<usize>,
        /// Only lines after this time: RFC 3339, Unix seconds, or a duration ago (`30s`,
        /// `10m`, `2h`, `1d`).
        pub since: Option<String>,
        /// Only lines before this time (same forms as `since`).
        pub until: Option<String>,
        /// Prefix each line with its RFC 3339 timestamp.
        #[serde(default)]
        pub timestamps: bool,
        /// Include stdout (default true).
        #[serde(default = "yes")]
        pub stdout: bool,
        /// Include stderr (default true).
        #[serde(default = "yes")]
        pub stderr: bool,
    }
}

/// `true`, the default of the `stdout` and `stderr` switches.
pub fn yes() -> bool {
    true
}

#[derive(Debug, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct LogsResult {
    pub host: String,
    pub container: String,
    /// Lines returned (in the text content, oldest first).
    pub lines: usize,
    pub bytes: usize,
    /// Older lines exist that were not returned (beyond `tail` or the byte budget).
    pub truncated: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

pub async fn container_logs(daemons: Arc<Daemons>, _ctx: Context, args: LogsArgs) -> Reply<LogsResult> {
    if !args.stdout && !args.stderr {
        return Err(ToolError::invalid_arguments("`stdout` and `stderr` are both false: nothing to read"));
    }
    let settings = &daemons.settings;
    let tail = args.tail.unwrap_or(100);
    if tail == 0 || tail > settings.max_log_lines {
        return Err(ToolError::invalid_arguments(format!(
            "`tail`: between 1 and {} lines (the server's --max-log-lines); use since/until to reach older lines",
            settings.max_log_lines
        )));
    }
    let now = chrono::Utc::now().timestamp();
    let since = args.since.as_deref().map(|s| parse_time("since", s, now)).transpose()?;
    let until = args.until.as_deref().map(|s| parse_time("until", s, now)).transpose()?;
    if let (Some(s), Some(u)) = (since, until)
        && s >= u
    {
        return Err(ToolError::invalid_arguments("`since` must be before `until`"));
    }
    let call = daemons.read_container(args.host.as_deref(), &args.container).await?;
    // One line more than asked for tells whether older lines exist.
    let options = LogsOptions {
        follow: false,
        stdout: args.stdout,
        stderr: args.stderr,
        since: since.unwrap_or(0),
        until: until.unwrap_or(0),
        timestamps: args.timestamps,
        tail: (tail + 1).to_string(),
    };
    let mut tail_buf = Tail::new(tail, settings.max_result_bytes);
    tail_buf.read_all(call.docker.logs(&call.id, Some(options))).await.map_err(call.fail(NO_CONTAINER))?;
    let mark_stderr = args.stdout && args.stderr;
    let mut text = String::new();
    let truncated = tail_buf.dropped > 0;
    let note = if tail_buf.dropped_for_bytes {
        Some(format!(
            "Older lines left out: the output budget ({} KiB) was reached; narrow with since/until.",
            settings.max_result_bytes / 1024
        ))
    } else if truncated {
        Some(format!("Older lines exist beyond tail={tail}; raise `tail` or use since/until to read them."))
    } else {
        None
    };
    if let Some(note) = &note {
        text += &format!("[{note}]\n");
    }
    let lines = tail_buf.lines.len();
    for (stream, line) in &tail_buf.lines {
        if mark_stderr && *stream == Stream::Err {
            text += "[stderr] ";
        }
        text += line;
        text.push('\n');
    }
    if lines == 0 {
        text += "(no log lines)\n";
    }
    Ok(Rendered {
        text,
        data: LogsResult {
            host: call.name.clone(),
            container: args.container,
            lines,
            bytes: tail_buf.bytes,
            truncated,
            note,
        },
    })
}

/// Parses `since`/`until`: RFC 3339, Unix seconds, or a duration before `now`.
pub fn parse_time(field: &str, value: &str, now: i64) -> Result<i32, ToolError> {
    let value = value.trim();
    let secs = if let Ok(secs) = value.parse::<i64>() {
        Some(secs)
    } else if let Ok(t) = chrono::DateTime::parse_from_rfc3339(value) {
        Some(t.timestamp())
    } else {
        let (number, unit) = value.split_at(value.len().saturating_sub(1));
        let scale = match unit {
            "s" => Some(1),
            "m" => Some(60),
            "h" => Some(3600),
            "d" => Some(86400),
            _ => None,
        };
        scale.zip(number.parse::<i64>().ok()).map(|(scale, n)| now - n.saturating_mul(scale))
    };
    secs.and_then(|s| i32::try_from(s).ok()).filter(|s| *s >= 0).ok_or_else(|| {
        ToolError::invalid_arguments(format!(
            "`{field}`: `{}` is not a time; use RFC 3339 (2026-01-02T15:04:05Z), Unix seconds, or a duration ago like 10m",
            clip(value, 60)
        ))
    })
}

/// Which stream a line came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stream {
    Out,
    Err,
}

/// Longest line kept whole; longer lines are cut with a marker.
const MAX_LINE_BYTES: usize = 8 * 1024;

/// The most recent lines of one or two streams, within a line and a byte budget:
/// older lines fall off the front, and the count of those is kept.
#[derive(Debug)]
pub struct Tail {
    pub lines: VecDeque<(Stream, String)>,
    pub bytes: usize,
    pub dropped: usize,
    /// Lines fell off for the byte budget (not only the line count).
    pub dropped_for_bytes: bool,
    max_lines: usize,
    max_bytes: usize,
    /// Each stream's bytes since its last newline.
    pending: [Vec<u8>; 2],
}

impl Tail {
    pub fn new(max_lines: usize, max_bytes: usize) -> Self {
        Self {
            lines: VecDeque::new(),
            bytes: 0,
            dropped: 0,
            dropped_for_bytes: false,
            max_lines: max_lines.max(1),
            max_bytes,
            pending: [Vec::new(), Vec::new()],
        }
    }

    /// Adds a chunk of output; complete lines are kept, the rest waits for its newline.
    pub fn push(&mut self, stream: Stream, chunk: &[u8]) {
        let i = stream as usize;
        self.pending[i].extend_from_slice(chunk);
        while let Some(pos) = self.pending[i].iter().position(|b| *b == b'\n') {
            let line: Vec<u8> = self.pending[i].drain(..=pos).collect();
            self.line(stream, &line[..line.len() - 1]);
        }
        // A line that never ends must not grow without bound.
        if self.pending[i].len() > MAX_LINE_BYTES {
            let line = std::mem::take(&mut self.pending[i]);
            self.line(stream, &line);
        }
    }

    /// Reads a container's log stream to its end, then [`Tail::finish`]es.
    pub async fn read_all(
        &mut self,
        stream: impl futures::Stream<Item = Result<LogOutput, bollard::errors::Error>>,
    ) -> Result<(), bollard::errors::Error> {
        let mut stream = std::pin::pin!(stream);
        while let Some(item) = stream.next().await {
            match item? {
                LogOutput::StdErr { message } => self.push(Stream::Err, &message),
                LogOutput::StdOut { message } | LogOutput::Console { message } => self.push(Stream::Out, &message),
                LogOutput::StdIn { .. } => {}
            }
        }
        self.finish();
        Ok(())
    }

    /// Keeps what is left after the last newline.
    pub fn finish(&mut self) {
        for (i, stream) in [Stream::Out, Stream::Err].into_iter().enumerate() {
            if !self.pending[i].is_empty() {
                let line = std::mem::take(&mut self.pending[i]);
                self.line(stream, &line);
            }
        }
    }

    fn line(&mut self, stream: Stream, bytes: &[u8]) {
        let text = String::from_utf8_lossy(bytes);
        let text = text.strip_suffix('\r').unwrap_or(&text);
        let text = clip(text, MAX_LINE_BYTES);
        self.bytes += text.len() + 1;
        self.lines.push_back((stream, text));
        while self.lines.len() > self.max_lines || (self.bytes > self.max_bytes && self.lines.len() > 1) {
            let over_bytes = self.lines.len() <= self.max_lines;
            if let Some((_, dropped)) = self.lines.pop_front() {
                self.bytes -= dropped.len() + 1;
                self.dropped += 1;
                self.dropped_for_bytes |= over_bytes;
            }
        }
    }

    /// The kept lines of one stream, joined.
    pub fn text_of(&self, stream: Stream) -> String {
        let mut out = String::new();
        for (s, line) in &self.lines {
            if *s == stream {
                out += line;
                out.push('\n');
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_tail_keeps_the_newest_lines_within_budget() {
        let mut t = Tail::new(3, 1000);
        t.push(Stream::Out, b"a\nb\nc");
        t.push(Stream::Err, b"e\n");
        t.push(Stream::Out, b"\nd\n");
        t.finish();
        let lines: Vec<&str> = t.lines.iter().map(|(_, l)| l.as_str()).collect();
        assert_eq!(lines, vec!["e", "c", "d"]);
        assert_eq!(t.dropped, 2);
        assert!(!t.dropped_for_bytes);
        let mut t = Tail::new(100, 10);
        t.push(Stream::Out, b"12345\n67890\nabc\n");
        assert!(t.dropped_for_bytes && t.bytes <= 10);
    }

    #[test]
    fn times_parse_in_three_forms() {
        assert_eq!(parse_time("since", "1700000000", 0).ok(), Some(1_700_000_000));
        assert_eq!(parse_time("since", "2023-11-14T22:13:20Z", 0).ok(), Some(1_700_000_000));
        assert_eq!(parse_time("since", "10m", 1_000_000).ok(), Some(999_400));
        assert!(parse_time("since", "yesterday", 0).is_err());
    }
}
