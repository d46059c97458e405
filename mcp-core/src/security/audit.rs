//! The audit trail: one JSON line per request, on every transport, each carrying the
//! SHA-256 of the line before it, so that editing or deleting a line breaks the chain
//! ([`verify`] finds the first broken line; `mcp audit verify FILE` runs it).
//!
//! Lines are written by a dedicated thread, so a request never waits on the disk: to a
//! file opened for append (flushed and fsync'd whenever the queue runs empty, which
//! batches the syncs under load) or to stderr. Arguments are redacted first: any field
//! whose name looks secret, and any field the connector declared sensitive.

use std::fs::{File, OpenOptions};
use std::io::{BufRead, BufReader, Read, Seek, SeekFrom, Write};
use std::path::Path;
use std::sync::mpsc;
use std::time::{SystemTime, UNIX_EPOCH};

use serde::Serialize;
use serde_json::Value;
use sha2::{Digest, Sha256};

/// The `prev` of a trail's first line.
pub const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// Field names whose values are always redacted (matched case-insensitively, as parts).
const SECRET_NAMES: &[&str] =
    &["password", "passwd", "secret", "token", "apikey", "api_key", "authorization", "credential", "private_key"];

/// What happened in one request.
#[derive(Debug, Clone)]
pub struct AuditRecord {
    /// The transport: `stdio`, `http` or `ws`.
    pub transport: &'static str,
    /// The client identity (token name, OAuth subject, `local`, `anonymous`).
    pub identity: std::sync::Arc<super::Identity>,
    /// `handshake` or `stateless`, with the protocol revision.
    pub era: &'static str,
    /// The protocol revision (empty before a handshake).
    pub version: &'static str,
    /// The JSON-RPC method.
    pub method: String,
    /// The tool, prompt or resource the request is about.
    pub target: Option<String>,
    /// The arguments, redacted.
    pub arguments: Option<Value>,
    /// `ok`, `tool_error`, `input_required`, `denied` or `error`.
    pub outcome: &'static str,
    /// The error message, for failures.
    pub error: Option<String>,
    /// Time taken, in milliseconds.
    pub duration_ms: f64,
    /// Size of the request's params, in bytes.
    pub bytes_in: usize,
    /// Size of the result or error, in bytes.
    pub bytes_out: usize,
}

/// The body of a line, serialized by the thread that handled the request (so that the
/// writer thread frees one buffer, not the record's many allocations: cross-thread frees
/// contend on the allocator). The writer puts `ts` and `prev` in front. Spelled out
/// rather than `#[serde(flatten)]`, which is several times slower.
#[derive(Serialize)]
struct Body<'a> {
    transport: &'a str,
    identity: &'a str,
    era: &'a str,
    version: &'a str,
    method: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    target: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    arguments: Option<&'a Value>,
    outcome: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<&'a str>,
    duration_ms: f64,
    bytes_in: usize,
    bytes_out: usize,
}

enum Command {
    /// A serialized [`Body`].
    Line(Vec<u8>),
    Flush(mpsc::Sender<()>),
}

/// A handle on the trail's writer thread; cheap to clone.
#[derive(Debug, Clone)]
pub struct AuditLog {
    tx: mpsc::Sender<Command>,
}

impl AuditLog {
    /// Appends to `path`, continuing the chain of the lines already there.
    pub fn to_file(path: &Path) -> std::io::Result<Self> {
        let mut file = OpenOptions::new().create(true).read(true).append(true).open(path)?;
        let prev = last_line(&mut file)?.map_or_else(|| GENESIS.to_string(), |l| hash(&l));
        Ok(Self::spawn(Sink::File(file), prev))
    }

    /// Writes to stderr (a chain of its own, starting now).
    pub fn to_stderr() -> Self {
        Self::spawn(Sink::Stderr, GENESIS.to_string())
    }

    fn spawn(sink: Sink, prev: String) -> Self {
        let (tx, rx) = mpsc::channel();
        let spawned = std::thread::Builder::new().name("audit".into()).spawn(move || write_loop(rx, sink, prev));
        if let Err(e) = spawned {
            tracing::error!(error = %e, "cannot start the audit writer; audit lines will be lost");
        }
        Self { tx }
    }

    /// Queues a record.
    pub fn record(&self, record: AuditRecord) {
        let body = Body {
            transport: record.transport,
            identity: &record.identity.name,
            era: record.era,
            version: record.version,
            method: &record.method,
            target: record.target.as_deref(),
            arguments: record.arguments.as_ref(),
            outcome: record.outcome,
            error: record.error.as_deref(),
            duration_ms: record.duration_ms,
            bytes_in: record.bytes_in,
            bytes_out: record.bytes_out,
        };
        let mut bytes = Vec::with_capacity(256);
        if let Err(e) = serde_json::to_writer(&mut bytes, &body) {
            tracing::error!(error = %e, "an audit record could not be serialized");
            return;
        }
        if self.tx.send(Command::Line(bytes)).is_err() {
            tracing::error!("the audit writer has stopped; an audit line was lost");
        }
    }

    /// Waits until every queued record is on disk (at shutdown, and in tests).
    pub fn flush(&self) {
        let (done, wait) = mpsc::channel();
        if self.tx.send(Command::Flush(done)).is_ok() {
            let _ = wait.recv_timeout(std::time::Duration::from_secs(10));
        }
    }
}

enum Sink {
    File(File),
    Stderr,
}

/// How long the writer gathers records before writing them, while records keep coming.
const TICK: std::time::Duration = std::time::Duration::from_millis(5);
/// How often a busy trail is fsync'd (an idle one is synced as soon as it goes idle).
const SYNC_EVERY: std::time::Duration = std::time::Duration::from_millis(100);

fn write_loop(rx: mpsc::Receiver<Command>, sink: Sink, mut prev: String) {
    let mut out: Box<dyn Write> = match &sink {
        Sink::File(f) => match f.try_clone() {
            Ok(f) => Box::new(std::io::BufWriter::with_capacity(256 * 1024, f)),
            Err(e) => {
                tracing::error!(error = %e, "audit file unusable");
                return;
            }
        },
        Sink::Stderr => Box::new(std::io::stderr()),
    };
    let mut waiting: Vec<mpsc::Sender<()>> = Vec::new();
    let mut line = Vec::with_capacity(1024);
    let mut last_sync = std::time::Instant::now();
    // Idle: block until a record comes. Busy: wake every TICK and take everything queued,
    // so that requests never pay for waking this thread, and disk syncs are batched.
    'idle: while let Ok(first) = rx.recv() {
        let mut next = Some(first);
        loop {
            let mut took = false;
            while let Some(command) = next.take().or_else(|| rx.try_recv().ok()) {
                took = true;
                match command {
                    Command::Line(body) => write_line(&mut out, &mut prev, &body, &mut line),
                    Command::Flush(done) => waiting.push(done),
                }
            }
            let _ = out.flush();
            if !took || !waiting.is_empty() || last_sync.elapsed() >= SYNC_EVERY {
                if let Sink::File(f) = &sink
                    && let Err(e) = f.sync_data()
                {
                    tracing::error!(error = %e, "fsync of the audit trail failed");
                }
                last_sync = std::time::Instant::now();
                for done in waiting.drain(..) {
                    let _ = done.send(());
                }
            }
            if !took {
                continue 'idle;
            }
            std::thread::sleep(TICK);
        }
    }
    let _ = out.flush();
}

/// Writes `{"ts":…,"prev":…,` + the body's fields, and advances the chain.
fn write_line(out: &mut dyn Write, prev: &mut String, body: &[u8], line: &mut Vec<u8>) {
    let Some(fields) = body.strip_prefix(b"{") else { return };
    line.clear();
    line.extend_from_slice(b"{\"ts\":\"");
    line.extend_from_slice(timestamp().as_bytes());
    line.extend_from_slice(b"\",\"prev\":\"");
    line.extend_from_slice(prev.as_bytes());
    line.extend_from_slice(b"\",");
    line.extend_from_slice(fields);
    *prev = hash(&line);
    line.push(b'\n');
    if let Err(e) = out.write_all(line) {
        tracing::error!(error = %e, "writing the audit trail failed");
    }
}

fn hash(line: impl AsRef<[u8]>) -> String {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let digest = Sha256::digest(line.as_ref());
    let mut hex = String::with_capacity(64);
    for b in digest {
        hex.push(char::from(HEX[usize::from(b >> 4)]));
        hex.push(char::from(HEX[usize::from(b & 15)]));
    }
    hex
}

/// The size of `value` as JSON, without building the text.
pub fn json_size(value: &impl Serialize) -> usize {
    struct Count(usize);
    impl Write for Count {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0 += buf.len();
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let mut count = Count(0);
    let _ = serde_json::to_writer(&mut count, value);
    count.0
}

/// RFC 3339 UTC time with milliseconds. The date and time of day are formatted once a
/// second (the writer thread is the only caller).
fn timestamp() -> String {
    thread_local! {
        static SECOND: std::cell::RefCell<(i64, String)> = const { std::cell::RefCell::new((-1, String::new())) };
    }
    let now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default();
    let (secs, millis) = (now.as_secs() as i64, now.subsec_millis());
    SECOND.with(|cell| {
        let mut cached = cell.borrow_mut();
        if cached.0 != secs {
            *cached = (secs, format_second(secs));
        }
        format!("{}.{millis:03}Z", cached.1)
    })
}

/// `YYYY-MM-DDTHH:MM:SS` of a Unix time, without a date-time dependency.
fn format_second(secs: i64) -> String {
    let (days, rem) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    // Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!("{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}", rem / 3600, rem % 3600 / 60, rem % 60)
}

/// The last non-empty line of a file, read from its end.
fn last_line(file: &mut File) -> std::io::Result<Option<String>> {
    let len = file.seek(SeekFrom::End(0))?;
    let start = len.saturating_sub(1024 * 1024);
    file.seek(SeekFrom::Start(start))?;
    let mut tail = String::new();
    file.read_to_string(&mut tail)?;
    Ok(tail.lines().rev().find(|l| !l.trim().is_empty()).map(str::to_string))
}

/// A copy of `arguments` with secret-looking and `sensitive` fields replaced.
pub fn redact(arguments: &Value, sensitive: &[String]) -> Value {
    match arguments {
        Value::Object(map) => Value::Object(
            map.iter()
                .map(|(k, v)| {
                    let secret =
                        SECRET_NAMES.iter().any(|s| contains_ignoring_case(k, s)) || sensitive.iter().any(|s| s == k);
                    (k.clone(), if secret { Value::String("[REDACTED]".into()) } else { redact(v, sensitive) })
                })
                .collect(),
        ),
        Value::Array(items) => Value::Array(items.iter().map(|v| redact(v, sensitive)).collect()),
        other => other.clone(),
    }
}

/// Whether `name` contains the lowercase `part`, ignoring ASCII case (without allocating:
/// this runs on every audited request).
fn contains_ignoring_case(name: &str, part: &str) -> bool {
    name.as_bytes().windows(part.len()).any(|w| w.eq_ignore_ascii_case(part.as_bytes()))
}

/// Where a trail's chain breaks.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
#[error("line {line}: {reason}")]
pub struct ChainBreak {
    /// 1-based line number.
    pub line: usize,
    /// What is wrong there.
    pub reason: String,
}

/// Checks a trail's chain; `Ok` is the number of lines.
pub fn verify(reader: impl std::io::Read) -> Result<usize, ChainBreak> {
    let mut prev: Option<String> = None;
    let mut count = 0;
    for (i, line) in BufReader::new(reader).lines().enumerate() {
        let line = line.map_err(|e| ChainBreak { line: i + 1, reason: format!("unreadable: {e}") })?;
        let value: Value = serde_json::from_str(&line)
            .map_err(|e| ChainBreak { line: i + 1, reason: format!("not a JSON audit line: {e}") })?;
        let claimed = value.get("prev").and_then(Value::as_str).unwrap_or_default();
        // The first line of a file may continue an earlier, rotated file's chain.
        if let Some(expected) = &prev
            && claimed != expected
        {
            return Err(ChainBreak {
                line: i + 1,
                reason:
                    "its `prev` does not match the hash of the line before: a line was changed, removed or inserted"
                        .into(),
            });
        }
        prev = Some(hash(&line));
        count += 1;
    }
    Ok(count)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn record(method: &str) -> AuditRecord {
        AuditRecord {
            transport: "stdio",
            identity: std::sync::Arc::new(crate::security::Identity::local()),
            era: "handshake",
            version: "2025-11-25",
            method: method.into(),
            target: Some("echo".into()),
            arguments: Some(redact(&json!({"message": "hi", "apiKey": "k", "nested": {"password": "p"}}), &[])),
            outcome: "ok",
            error: None,
            duration_ms: 0.1,
            bytes_in: 10,
            bytes_out: 20,
        }
    }

    #[test]
    fn secrets_are_redacted_by_name_and_by_declaration() {
        let v = redact(&json!({"query": "select", "dsn": "postgres://u:p@h", "Token": "t"}), &["dsn".into()]);
        assert_eq!(v, json!({"query": "select", "dsn": "[REDACTED]", "Token": "[REDACTED]"}));
    }

    #[test]
    fn the_chain_survives_reopening_and_catches_tampering() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("audit.jsonl");
        for round in 0..2 {
            let log = AuditLog::to_file(&path).expect("open");
            for i in 0..3 {
                log.record(record(&format!("tools/call#{round}.{i}")));
            }
            log.flush();
        }
        let text = std::fs::read_to_string(&path).expect("read");
        assert_eq!(verify(text.as_bytes()), Ok(6));
        assert!(text.lines().next().is_some_and(|l| l.contains(GENESIS)));
        assert!(!text.contains("\"k\"") && !text.contains("\"p\""), "secrets leaked: {text}");

        let tampered = text.replacen("tools/call#1.1", "tools/call#1.9", 1);
        let err = verify(tampered.as_bytes()).expect_err("tampering detected");
        assert_eq!(err.line, 6, "{err}");
        let mut lines: Vec<&str> = text.lines().collect();
        lines.remove(2);
        assert_eq!(verify(lines.join("\n").as_bytes()).map_err(|e| e.line), Err(3));
    }

    #[test]
    fn timestamps_are_rfc3339() {
        let ts = timestamp();
        assert_eq!(ts.len(), 24, "{ts}");
        assert!(ts.starts_with("20") && ts.ends_with('Z') && &ts[10..11] == "T", "{ts}");
    }
}
