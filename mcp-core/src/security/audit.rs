//! The audit trail: one JSON line per request, on every transport, each carrying the
//! SHA-256 of the line before it (its HMAC-SHA256 under an [`AuditKey`], for a keyed
//! trail), the first [`GENESIS`], so that editing, deleting or inserting a line, or
//! removing the first ones, breaks the chain ([`verify_with`] finds the first broken line;
//! `mcp audit verify FILE` runs it). What the chain cannot show alone, the end of the trail
//! cut off, is shown against a head recorded elsewhere ([`Expected`]); what it cannot show
//! without a key, a trail rewritten whole, a keyed trail shows.
//!
//! Lines are written by a dedicated thread, so a request does not wait on the disk (unless
//! the disk falls [`QUEUE_AT_MOST`] bytes behind: requests then wait, and no line is lost):
//! to a file opened for append (flushed and fsync'd whenever the queue runs empty, which
//! batches the syncs under load) or to stderr. Arguments are redacted first ([`redact`]):
//! any field whose name looks secret, any field the connector declared sensitive, and
//! secrets inside string values (URL passwords, bearer tokens, ...).

use std::fs::{File, OpenOptions};
use std::io::{BufRead, BufReader, Read, Seek, SeekFrom, Write};
use std::path::Path;
use std::sync::{Arc, Condvar, Mutex, mpsc};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use hmac::{Hmac, Mac};
use serde::Serialize;
use serde_json::Value;
use sha2::{Digest, Sha256};

use super::redact;
use crate::sync::lock;

/// The `prev` of a trail's first line.
pub const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// What happened in one request.
#[derive(Debug, Clone)]
pub struct AuditRecord {
    /// The transport: `stdio`, `http` or `ws`.
    pub transport: &'static str,
    /// The client identity (token name, OAuth subject, `local`, `anonymous`).
    pub identity: std::sync::Arc<super::identity::Identity>,
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
    /// Time taken.
    pub duration: Duration,
    /// Size of the request as received, in bytes.
    pub bytes_in: usize,
    /// Size of the response as sent, in bytes.
    pub bytes_out: usize,
}

/// A line's first fields (transport, identity, era, version), serialized. They are the
/// same for every request of a session in one protocol revision: a session keeps its own
/// head, and its lines start with a copy of it.
#[derive(Debug)]
pub struct LineHead {
    era: &'static str,
    version: &'static str,
    text: Box<[u8]>,
}

impl LineHead {
    /// The head of the lines of `identity` over `transport`, in `era` at `version` (empty
    /// before a handshake).
    pub fn new(transport: &'static str, identity: &str, era: &'static str, version: &'static str) -> Self {
        let mut text = Vec::with_capacity(64 + identity.len());
        text.extend_from_slice(b"\"transport\":");
        push_known(&mut text, transport);
        text.extend_from_slice(b",\"identity\":");
        push_str(&mut text, identity);
        text.extend_from_slice(b",\"era\":");
        push_known(&mut text, era);
        text.extend_from_slice(b",\"version\":");
        push_known(&mut text, version);
        Self { era, version, text: text.into_boxed_slice() }
    }

    /// Whether this head holds `era` and `version` (a session's transport and identity
    /// never change).
    pub fn is_for(&self, era: &str, version: &str) -> bool {
        // Both are this crate's static names: the same pointers, nearly always.
        let same = |a: &str, b: &str| std::ptr::eq(a, b) || a == b;
        same(self.era, era) && same(self.version, version)
    }
}

/// The fields of a request known before it runs.
#[derive(Debug, Clone, Copy)]
pub struct AuditStart<'a> {
    /// Transport, identity, era and version.
    pub head: &'a LineHead,
    /// The JSON-RPC method.
    pub method: &'a str,
    /// The tool, prompt or resource the request is about.
    pub target: Option<&'a str>,
    /// The arguments as received: they are redacted as they are written.
    pub arguments: Option<&'a Value>,
    /// Argument names the tool declared sensitive.
    pub sensitive: &'a [String],
    /// Size of the request as received, in bytes.
    pub bytes_in: usize,
}

/// How a request ended.
#[derive(Debug, Clone, Copy)]
pub struct AuditEnd<'a> {
    /// `ok`, `tool_error`, `input_required`, `denied` or `error`.
    pub outcome: &'static str,
    /// The error message, for failures.
    pub error: Option<&'a str>,
    /// Time taken.
    pub duration: Duration,
    /// Size of the response, in bytes.
    pub bytes_out: usize,
}

/// A line begun before its request runs: the fields known then are already serialized
/// (arguments redacted), so that nothing of the request is cloned for the audit trail.
#[derive(Debug)]
struct PendingLine {
    /// The body so far, without the opening brace (the writer puts `ts` and `prev` first).
    body: Vec<u8>,
    bytes_in: usize,
    /// When the request started: the line's `ts`.
    started: Instant,
}

impl PendingLine {
    /// Serializes the fields known before the request runs.
    fn begin(start: AuditStart<'_>, started: Instant) -> Self {
        let mut body = Vec::with_capacity(256);
        body.extend_from_slice(&start.head.text);
        body.extend_from_slice(b",\"method\":");
        push_str(&mut body, start.method);
        if let Some(target) = start.target {
            body.extend_from_slice(b",\"target\":");
            push_str(&mut body, target);
        }
        if let Some(arguments) = start.arguments {
            body.extend_from_slice(b",\"arguments\":");
            write_redacted(&mut body, arguments, start.sensitive);
        }
        Self { body, bytes_in: start.bytes_in, started }
    }

    /// Adds the outcome: the body is complete.
    fn finish(&mut self, end: AuditEnd<'_>) {
        let body = &mut self.body;
        body.extend_from_slice(b",\"outcome\":");
        push_known(body, end.outcome);
        if let Some(error) = end.error {
            body.extend_from_slice(b",\"error\":");
            // An error may quote what failed: a URL with its password, a header.
            push_str(body, &redact::redact_text(error));
        }
        body.extend_from_slice(b",\"duration_ms\":");
        push_millis(body, end.duration);
        body.extend_from_slice(b",\"bytes_in\":");
        push_int(body, self.bytes_in as u64);
        body.extend_from_slice(b",\"bytes_out\":");
        push_int(body, end.bytes_out as u64);
        body.push(b'}');
    }
}

/// A request's line from the request's start until its answer is out: closed with the
/// answer's size on the wire, or, dropped before (the request was cancelled, or its answer
/// could not be sent), written with what is known then. Either way the request has its line.
#[derive(Debug)]
pub struct OpenLine {
    log: AuditLog,
    line: Option<PendingLine>,
    /// `cancelled` until the request has its response.
    outcome: &'static str,
    error: Option<String>,
    duration: Option<Duration>,
    bytes_out: usize,
}

impl OpenLine {
    /// The request has its response, which `outcome` and `error` describe.
    pub fn answered(&mut self, outcome: &'static str, error: Option<String>, duration: Duration) {
        self.outcome = outcome;
        self.error = error;
        self.duration = Some(duration);
    }

    /// The answer went out in `bytes_out` bytes: the line is complete.
    pub fn close(mut self, bytes_out: usize) {
        self.bytes_out = bytes_out;
    }

    /// How the request ended, as far as is known now.
    fn end(&self, line: &PendingLine) -> AuditEnd<'_> {
        AuditEnd {
            outcome: self.outcome,
            error: self.error.as_deref(),
            duration: self.duration.unwrap_or_else(|| line.started.elapsed()),
            bytes_out: self.bytes_out,
        }
    }
}

impl Drop for OpenLine {
    fn drop(&mut self) {
        if let Some(line) = self.line.take() {
            let end = self.end(&line);
            self.log.finish(line, end);
        }
    }
}

/// The lines of answers that a transport writes together, held until the write is done and
/// then queued for the writer at once: the answers do not wait for their lines' last
/// fields, and a batch of answers takes the queue's lock once, not once per line. Lines
/// still held when this is dropped are queued one by one, so none is lost.
#[derive(Debug, Default)]
pub struct HeldLines {
    lines: Vec<OpenLine>,
    /// The held lines' completed bodies, on their way to the queue (kept for its capacity).
    bodies: Batch,
}

impl HeldLines {
    /// Holds `line`, whose answer took `bytes_out` bytes, until [`queue`](Self::queue).
    pub fn hold(&mut self, mut line: OpenLine, bytes_out: usize) {
        line.bytes_out = bytes_out;
        self.lines.push(line);
    }

    /// Queues the held lines, in the order they were held.
    pub fn queue(&mut self) {
        let mut log: Option<AuditLog> = None;
        for mut open in self.lines.drain(..) {
            let Some(mut line) = open.line.take() else { continue };
            // A transport's lines share one log; should they not, each log gets its own.
            if log.as_ref().is_some_and(|log| !Arc::ptr_eq(&log.handle, &open.log.handle))
                && let Some(log) = log.take()
            {
                log.append(&mut self.bodies);
            }
            line.finish(open.end(&line));
            self.bodies.push(&line.body, line.started);
            log.get_or_insert_with(|| open.log.clone());
        }
        if let Some(log) = log {
            log.append(&mut self.bodies);
        }
    }
}

/// Appends `value` as JSON.
fn push_json(buf: &mut Vec<u8>, value: &(impl Serialize + ?Sized)) {
    // Writing into a Vec cannot fail, and these values (strings, numbers) always serialize.
    let _ = serde_json::to_writer(&mut *buf, value);
}

/// Appends `d` in milliseconds with three decimals (microseconds), as a JSON number.
fn push_millis(buf: &mut Vec<u8>, d: Duration) {
    let micros = u64::try_from(d.as_micros()).unwrap_or(u64::MAX);
    push_int(buf, micros / 1000);
    let frac = micros % 1000;
    buf.extend_from_slice(&[b'.', b'0' + (frac / 100) as u8, b'0' + (frac / 10 % 10) as u8, b'0' + (frac % 10) as u8]);
}

/// Appends `n` as a JSON number.
fn push_int(buf: &mut Vec<u8>, n: u64) {
    buf.extend_from_slice(itoa::Buffer::new().format(n).as_bytes());
}

/// The bytes JSON strings escape: control characters, the quote and the backslash.
const ESCAPED: [bool; 256] = {
    let mut table = [false; 256];
    let mut b = 0;
    while b < 0x20 {
        table[b] = true;
        b += 1;
    }
    table[b'"' as usize] = true;
    table[b'\\' as usize] = true;
    table
};

/// Whether `bytes` hold a byte JSON escapes.
fn needs_escape(bytes: &[u8]) -> bool {
    // Most strings here are short names, looked up a byte at a time: kept out of line, the
    // long strings' bit tricks do not make every call save and restore their registers.
    if bytes.len() < 16 {
        return needs_escape_bytewise(bytes);
    }
    needs_escape_long(bytes)
}

/// [`needs_escape`] a byte at a time, through the table.
fn needs_escape_bytewise(bytes: &[u8]) -> bool {
    bytes.iter().any(|&b| ESCAPED[usize::from(b)])
}

/// [`needs_escape`] eight bytes at a time: a byte below 0x20, or equal to `"` or `\`, sets
/// its high bit in one of the three words below (the classic "has a byte less than n" and
/// "has a zero byte" bit tricks, exact as a whole).
#[inline(never)]
fn needs_escape_long(bytes: &[u8]) -> bool {
    const ONES: u64 = u64::from_ne_bytes([1; 8]);
    const HIGHS: u64 = ONES * 0x80;
    let (words, rest) = bytes.as_chunks::<8>();
    let found = words.iter().any(|word| {
        let x = u64::from_ne_bytes(*word);
        let zero_in = |y: u64| y.wrapping_sub(ONES) & !y;
        let control = x.wrapping_sub(ONES * 0x20) & !x;
        (control | zero_in(x ^ (ONES * u64::from(b'"'))) | zero_in(x ^ (ONES * u64::from(b'\\')))) & HIGHS != 0
    });
    found || needs_escape_bytewise(rest)
}

/// Appends `s` as a JSON string. Most strings here (names, methods, identities) need no
/// escape and are copied as they are; the rest go through serde_json.
fn push_str(buf: &mut Vec<u8>, s: &str) {
    if needs_escape(s.as_bytes()) {
        push_json(buf, s);
    } else {
        push_quoted(buf, s);
    }
}

/// Appends one of this crate's own names (a transport, an era, a protocol revision, an
/// outcome), which never need an escape, as a JSON string.
fn push_known(buf: &mut Vec<u8>, s: &'static str) {
    debug_assert!(!needs_escape(s.as_bytes()), "{s:?} needs escaping");
    push_quoted(buf, s);
}

fn push_quoted(buf: &mut Vec<u8>, s: &str) {
    buf.reserve(s.len() + 2);
    buf.push(b'"');
    buf.extend_from_slice(s.as_bytes());
    buf.push(b'"');
}

/// Appends a JSON scalar as serde_json writes it: strings and integers without going
/// through a serializer (arguments are mostly those), other numbers through it.
fn push_scalar(buf: &mut Vec<u8>, value: &Value) {
    match value {
        Value::String(s) => push_str(buf, s),
        Value::Bool(true) => buf.extend_from_slice(b"true"),
        Value::Bool(false) => buf.extend_from_slice(b"false"),
        Value::Null => buf.extend_from_slice(b"null"),
        Value::Number(n) => match (n.as_u64(), n.as_i64()) {
            (Some(u), _) => push_int(buf, u),
            (None, Some(i)) => {
                buf.push(b'-');
                push_int(buf, i.unsigned_abs());
            }
            (None, None) => push_json(buf, n),
        },
        composite => push_json(buf, composite),
    }
}

/// Writes `value` as compact JSON redacted: the same text as serializing
/// [`redact::redact_json`]'s copy, without building the copy.
fn write_redacted(buf: &mut Vec<u8>, value: &Value, sensitive: &[String]) {
    match value {
        Value::Object(map) => {
            buf.push(b'{');
            for (i, (k, v)) in map.iter().enumerate() {
                if i > 0 {
                    buf.push(b',');
                }
                push_str(buf, k);
                buf.push(b':');
                if redact::is_secret_field(k, sensitive) {
                    push_placeholder(buf);
                } else {
                    write_redacted(buf, v, sensitive);
                }
            }
            buf.push(b'}');
        }
        Value::Array(items) => {
            buf.push(b'[');
            // The item after a secret flag (`["--password", "x"]`) is its value.
            let mut after_flag = false;
            for (i, v) in items.iter().enumerate() {
                if i > 0 {
                    buf.push(b',');
                }
                if std::mem::take(&mut after_flag) && redact::is_flag_value(v) {
                    push_placeholder(buf);
                } else {
                    write_redacted(buf, v, sensitive);
                    after_flag = redact::value_is_secret_flag(v);
                }
            }
            buf.push(b']');
        }
        Value::String(s) => push_str(buf, &redact::redact_text(s)),
        scalar => push_scalar(buf, scalar),
    }
}

fn push_placeholder(buf: &mut Vec<u8>) {
    push_quoted(buf, redact::PLACEHOLDER);
}

/// The queue between request threads and the writer: complete bodies, end to end.
/// Appending is a copy under a lock held for nothing else, and the writer swaps the whole
/// batch out at once: no allocation per request, and no buffer freed on another thread
/// than the one that allocated it (cross-thread frees contend on the allocator).
#[derive(Debug, Default)]
struct Queue {
    batch: Batch,
    flushes: Vec<mpsc::Sender<()>>,
    /// The writer is blocked waiting for work: the next record must wake it.
    idle: bool,
    /// A request thread waits for the writer to take the batch, which is full.
    full: bool,
    /// Every handle is gone: write what is queued and stop.
    closed: bool,
    /// The writer could not start or has failed: records are dropped (and said to be).
    stopped: bool,
}

/// Bodies stored end to end, and where each ends.
#[derive(Debug, Default)]
struct Batch {
    bytes: Vec<u8>,
    ends: Vec<usize>,
    /// When each line's request started.
    starts: Vec<Instant>,
}

impl Batch {
    fn push(&mut self, body: &[u8], started: Instant) {
        self.bytes.extend_from_slice(body);
        self.ends.push(self.bytes.len());
        self.starts.push(started);
    }

    /// Moves the lines of `other` to the end of this batch. An empty batch takes `other`'s
    /// buffers whole and gives it its own: nothing is copied.
    fn append(&mut self, other: &mut Batch) {
        if self.is_empty() {
            std::mem::swap(self, other);
            return;
        }
        let offset = self.bytes.len();
        self.bytes.extend_from_slice(&other.bytes);
        self.ends.extend(other.ends.iter().map(|end| end + offset));
        self.starts.extend_from_slice(&other.starts);
        other.clear();
    }

    fn is_empty(&self) -> bool {
        self.ends.is_empty()
    }

    fn bodies(&self) -> impl Iterator<Item = &[u8]> {
        let starts = std::iter::once(0).chain(self.ends.iter().copied());
        starts.zip(&self.ends).map(|(start, &end)| &self.bytes[start..end])
    }

    fn clear(&mut self) {
        self.bytes.clear();
        self.ends.clear();
        self.starts.clear();
    }
}

#[derive(Debug)]
struct Shared {
    queue: Mutex<Queue>,
    wake: Condvar,
    /// Signalled when the writer takes a full batch.
    taken: Condvar,
    /// The most bytes of lines queued before a request waits for the writer.
    queue_at_most: usize,
}

/// The most bytes of lines queued before requests wait for the writer: far more than a
/// busy server queues between two of the writer's ticks (about a megabyte), so that only a
/// writer that cannot keep up (a stalled or slow disk) ever holds requests back. Memory
/// stays bounded then, and no line is dropped.
const QUEUE_AT_MOST: usize = 32 << 20;

/// Marks the queue stopped when the writer thread ends, however it ends (a panic included),
/// so that no request waits on a full queue that nothing will take.
struct StopOnExit<'a>(&'a Shared);

impl Drop for StopOnExit<'_> {
    fn drop(&mut self) {
        lock(&self.0.queue).stopped = true;
        self.0.taken.notify_all();
    }
}

/// Tells the writer to finish when the last [`AuditLog`] handle goes.
#[derive(Debug)]
struct Handle(Arc<Shared>);

impl Drop for Handle {
    fn drop(&mut self) {
        lock(&self.0.queue).closed = true;
        self.0.wake.notify_one();
    }
}

/// A handle on the trail's writer thread; cheap to clone.
#[derive(Debug, Clone)]
pub struct AuditLog {
    handle: Arc<Handle>,
}

impl AuditLog {
    /// Appends to `path`, continuing the chain of the lines already there (a new or empty
    /// file starts a trail: its first line's `prev` is [`GENESIS`]).
    pub fn to_file(path: &Path) -> std::io::Result<Self> {
        Self::to_file_keyed(path, None)
    }

    /// [`to_file`](Self::to_file), the chain keyed with `key` when given. A trail keeps one
    /// mode: a file written without a key, or with another key, is not continued (a key
    /// starts a new file), which keeps the verification of each file whole.
    pub fn to_file_keyed(path: &Path, key: Option<AuditKey>) -> std::io::Result<Self> {
        let mut file = OpenOptions::new().create(true).read(true).append(true).open(path)?;
        let prev = match last_line(&mut file)? {
            None => GENESIS_HEX,
            Some(last) => {
                check_same_key(&last, key.as_ref())?;
                link(&last, key.as_ref())
            }
        };
        Ok(Self::spawn(Sink::File(file), prev, key))
    }

    /// Writes to stderr (a chain of its own, starting now).
    pub fn to_stderr() -> Self {
        Self::to_stderr_keyed(None)
    }

    /// [`to_stderr`](Self::to_stderr), the chain keyed with `key` when given.
    pub fn to_stderr_keyed(key: Option<AuditKey>) -> Self {
        Self::spawn(Sink::Stderr, GENESIS_HEX, key)
    }

    fn spawn(sink: Sink, prev: [u8; 64], key: Option<AuditKey>) -> Self {
        Self::spawn_bounded(sink, prev, key, QUEUE_AT_MOST)
    }

    fn spawn_bounded(sink: Sink, prev: [u8; 64], key: Option<AuditKey>, queue_at_most: usize) -> Self {
        let shared =
            Arc::new(Shared { queue: Mutex::default(), wake: Condvar::new(), taken: Condvar::new(), queue_at_most });
        let writer = Arc::clone(&shared);
        let spawned = std::thread::Builder::new().name("audit".into()).spawn(move || {
            let _stop = StopOnExit(&writer);
            Writer::new(sink, prev, key).run(&writer);
        });
        if let Err(e) = spawned {
            tracing::error!(error = %e, "cannot start the audit writer; audit lines will be lost");
            lock(&shared.queue).stopped = true;
        }
        Self { handle: Arc::new(Handle(shared)) }
    }

    /// Queues a record.
    pub fn record(&self, record: AuditRecord) {
        let started = Instant::now().checked_sub(record.duration).unwrap_or_else(Instant::now);
        let head = LineHead::new(record.transport, &record.identity.name, record.era, record.version);
        let line = PendingLine::begin(
            AuditStart {
                head: &head,
                method: &record.method,
                target: record.target.as_deref(),
                arguments: record.arguments.as_ref(),
                sensitive: &[],
                bytes_in: record.bytes_in,
            },
            started,
        );
        self.finish(
            line,
            AuditEnd {
                outcome: record.outcome,
                error: record.error.as_deref(),
                duration: record.duration,
                bytes_out: record.bytes_out,
            },
        );
    }

    /// Opens the line of a request that started at `started`.
    pub fn open(&self, start: AuditStart<'_>, started: Instant) -> OpenLine {
        OpenLine {
            log: self.clone(),
            line: Some(PendingLine::begin(start, started)),
            outcome: "cancelled",
            error: None,
            duration: None,
            bytes_out: 0,
        }
    }

    /// Completes a line begun with [`PendingLine::begin`] and queues it.
    fn finish(&self, mut line: PendingLine, end: AuditEnd<'_>) {
        line.finish(end);
        self.enqueue(|queued| queued.push(&line.body, line.started));
    }

    /// Queues the lines of `bodies`, leaving it empty.
    fn append(&self, bodies: &mut Batch) {
        self.enqueue(|queued| queued.append(bodies));
        bodies.clear();
    }

    /// Adds lines to the queue with `add`, once the queue has room, and wakes the writer
    /// if it sleeps.
    fn enqueue(&self, add: impl FnOnce(&mut Batch)) {
        let shared = &self.handle.0;
        let mut queue = lock(&shared.queue);
        while queue.batch.bytes.len() >= shared.queue_at_most && !queue.stopped {
            queue.full = true;
            if std::mem::take(&mut queue.idle) {
                shared.wake.notify_one();
            }
            queue = shared.taken.wait(queue).unwrap_or_else(|p| p.into_inner());
        }
        if queue.stopped {
            drop(queue);
            tracing::error!("the audit writer has stopped; audit lines are lost");
            return;
        }
        add(&mut queue.batch);
        let wake = std::mem::take(&mut queue.idle);
        drop(queue);
        if wake {
            shared.wake.notify_one();
        }
    }

    /// Waits until every queued record is on disk (at shutdown, and in tests).
    pub fn flush(&self) {
        let (done, wait) = mpsc::channel();
        let shared = &self.handle.0;
        let mut queue = lock(&shared.queue);
        if queue.stopped {
            return;
        }
        queue.flushes.push(done);
        let wake = std::mem::take(&mut queue.idle);
        drop(queue);
        if wake {
            shared.wake.notify_one();
        }
        let _ = wait.recv_timeout(std::time::Duration::from_secs(10));
    }
}

enum Sink {
    File(File),
    Stderr,
    /// Whatever a test hands the writer (such as a disk too slow to keep up).
    #[cfg(test)]
    Test(Box<dyn Write + Send>),
}

/// How long the writer gathers records before writing them, while records keep coming (an
/// idle writer is woken by the first record and writes it at once). Longer batches cost the
/// writer less per line (measured over HTTP: a quarter less at 20 ms than at 5 ms), at the
/// price of lines staying in memory that long under load, well within the sync interval.
const TICK: std::time::Duration = std::time::Duration::from_millis(20);
/// How often a busy trail is fsync'd (an idle one is synced as soon as it goes idle).
const SYNC_EVERY: std::time::Duration = std::time::Duration::from_millis(100);

/// The writer thread's state: the chain, and buffers reused from batch to batch.
struct Writer {
    sink: Sink,
    prev: [u8; 64],
    /// The key of a keyed chain; its lines carry its id.
    key: Option<AuditKey>,
    clock: Clock,
    /// The bodies taken from the queue (swapped with the queue's, keeping both capacities).
    batch: Batch,
    /// The batch's lines, written with one system call.
    out: Vec<u8>,
}

impl Writer {
    fn new(sink: Sink, prev: [u8; 64], key: Option<AuditKey>) -> Self {
        Self { sink, prev, key, clock: Clock::default(), batch: Batch::default(), out: Vec::new() }
    }

    /// Idle: block until a record comes. Busy: wake every TICK and take everything queued,
    /// so that requests never pay for waking this thread, and disk syncs are batched.
    fn run(mut self, shared: &Shared) {
        let mut last_sync = std::time::Instant::now();
        let mut unsynced = false;
        loop {
            let (flushes, closed) = {
                let mut queue = lock(&shared.queue);
                if !unsynced {
                    while queue.batch.is_empty() && queue.flushes.is_empty() && !queue.closed {
                        queue.idle = true;
                        queue = shared.wake.wait(queue).unwrap_or_else(|p| p.into_inner());
                    }
                    queue.idle = false;
                }
                std::mem::swap(&mut queue.batch, &mut self.batch);
                if std::mem::take(&mut queue.full) {
                    shared.taken.notify_all();
                }
                (std::mem::take(&mut queue.flushes), queue.closed)
            };
            let took = !self.batch.is_empty();
            if took {
                if let Err(e) = self.write_batch() {
                    tracing::error!(error = %e, "writing the audit trail failed");
                }
                unsynced = true;
            }
            if unsynced && (!took || !flushes.is_empty() || closed || last_sync.elapsed() >= SYNC_EVERY) {
                if let Sink::File(f) = &self.sink
                    && let Err(e) = f.sync_data()
                {
                    tracing::error!(error = %e, "fsync of the audit trail failed");
                }
                unsynced = false;
                last_sync = std::time::Instant::now();
            }
            for done in flushes {
                let _ = done.send(());
            }
            if closed {
                return;
            }
            // Requests waiting on a full queue must not wait for a tick too.
            if took && !lock(&shared.queue).full {
                std::thread::sleep(TICK);
            }
        }
    }

    /// Writes each queued body as `{"ts":…,"prev":…,` (and `"key_id":…,` when keyed) + its
    /// fields, advancing the chain.
    fn write_batch(&mut self) -> std::io::Result<()> {
        self.out.clear();
        // Each line's time is its request's start, from the monotonic instant taken then:
        // one reading of the wall clock per batch, none per line.
        let (wall, now) = (SystemTime::now(), Instant::now());
        for (body, started) in self.batch.bodies().zip(&self.batch.starts) {
            let start = self.out.len();
            self.out.extend_from_slice(b"{\"ts\":\"");
            let ts = wall.checked_sub(now.saturating_duration_since(*started)).unwrap_or(wall);
            self.clock.write(&mut self.out, ts);
            self.out.extend_from_slice(b"\",\"prev\":\"");
            self.out.extend_from_slice(&self.prev);
            self.out.extend_from_slice(b"\",");
            if let Some(key) = &self.key {
                self.out.extend_from_slice(b"\"key_id\":\"");
                self.out.extend_from_slice(&key.id);
                self.out.extend_from_slice(b"\",");
            }
            self.out.extend_from_slice(body);
            self.prev = link(&self.out[start..], self.key.as_ref());
            self.out.push(b'\n');
        }
        self.batch.clear();
        match &mut self.sink {
            Sink::File(f) => f.write_all(&self.out),
            Sink::Stderr => std::io::stderr().lock().write_all(&self.out),
            #[cfg(test)]
            Sink::Test(w) => w.write_all(&self.out),
        }
    }
}

/// [`GENESIS`] as bytes.
const GENESIS_HEX: [u8; 64] = [b'0'; 64];

/// What the line after `line` carries as `prev`: the SHA-256 of `line`, or its HMAC-SHA256
/// under `key`, in lowercase hex.
fn link(line: &[u8], key: Option<&AuditKey>) -> [u8; 64] {
    match key {
        None => hex(&Sha256::digest(line)),
        Some(key) => key.tag(line),
    }
}

/// A 32-byte digest in lowercase hex.
fn hex(bytes: &[u8]) -> [u8; 64] {
    /// Each byte's two hex digits: one lookup per byte of the digest.
    const PAIRS: [[u8; 2]; 256] = {
        const HEX: &[u8; 16] = b"0123456789abcdef";
        let mut pairs = [[0; 2]; 256];
        let mut b = 0;
        while b < 256 {
            pairs[b] = [HEX[b >> 4], HEX[b & 15]];
            b += 1;
        }
        pairs
    };
    let mut hex = [0; 64];
    for (pair, &b) in hex.as_chunks_mut::<2>().0.iter_mut().zip(bytes) {
        *pair = PAIRS[usize::from(b)];
    }
    hex
}

/// The key of a keyed trail (`--audit-key-file`): each line's `prev` is the HMAC-SHA256 of
/// the line before under it, so that no one without the key can write a chain that
/// verifies (rewrite a trail whole after removing a line, or start a new one). Lines carry
/// the key's id (a keyed hash of a fixed text, which tells nothing of the key), so that a
/// verifier knows a trail is keyed and whether it holds the right key.
#[derive(Clone)]
pub struct AuditKey {
    /// The HMAC state after the key, cloned for each line.
    mac: Hmac<Sha256>,
    id: [u8; 16],
}

impl std::fmt::Debug for AuditKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AuditKey").field("id", &self.id()).finish_non_exhaustive()
    }
}

impl AuditKey {
    /// The fewest bytes a key may have (as many as the hash's output).
    pub const MIN_BYTES: usize = 32;
    /// The most bytes a key file may hold: more is not a key.
    pub const MAX_BYTES: usize = 1024;

    /// A key of `bytes` (trailing white space, such as the newline of `echo`, ignored).
    pub fn new(bytes: &[u8]) -> Result<Self, String> {
        let bytes = bytes.trim_ascii_end();
        if bytes.len() < Self::MIN_BYTES {
            return Err(format!(
                "an audit key needs at least {} bytes, this one has {} (make one with `openssl rand -hex 32`)",
                Self::MIN_BYTES,
                bytes.len()
            ));
        }
        if bytes.len() > Self::MAX_BYTES {
            return Err(format!("an audit key has at most {} bytes, this one has {}", Self::MAX_BYTES, bytes.len()));
        }
        let mac = <Hmac<Sha256> as Mac>::new_from_slice(bytes).map_err(|e| format!("unusable audit key: {e}"))?;
        let mut id = mac.clone();
        id.update(b"mcp-connectors audit key id");
        let mut key = Self { mac, id: [0; 16] };
        key.id.copy_from_slice(&hex(&id.finalize().into_bytes())[..16]);
        Ok(key)
    }

    /// The key in the file `path`, which only its owner may read or write.
    pub fn from_file(path: &Path) -> Result<Self, String> {
        let shown = path.display();
        let file = File::open(path).map_err(|e| format!("cannot read the audit key file {shown}: {e}"))?;
        let meta = file.metadata().map_err(|e| format!("cannot read the audit key file {shown}: {e}"))?;
        if !meta.is_file() {
            return Err(format!("the audit key file {shown} is not a regular file"));
        }
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = meta.permissions().mode() & 0o777;
            if mode & 0o077 != 0 {
                return Err(format!(
                    "the audit key file {shown} is open to other users (mode {mode:03o}): whoever can read it can \
                     rewrite the trail; make it readable by its owner only (chmod 600)"
                ));
            }
        }
        let mut bytes = Vec::new();
        file.take(Self::MAX_BYTES as u64 + 1)
            .read_to_end(&mut bytes)
            .map_err(|e| format!("cannot read the audit key file {shown}: {e}"))?;
        Self::new(&bytes).map_err(|e| format!("the audit key file {shown}: {e}"))
    }

    /// The key's id, as the lines of its trail carry it.
    pub fn id(&self) -> &str {
        // Hex digits: ASCII.
        std::str::from_utf8(&self.id).unwrap_or_default()
    }

    /// The HMAC-SHA256 of `line`, in lowercase hex.
    fn tag(&self, line: &[u8]) -> [u8; 64] {
        let mut mac = self.mac.clone();
        mac.update(line);
        hex(&mac.finalize().into_bytes())
    }
}

/// The key id a line carries (`None`: an unkeyed line; an unreadable line is taken as
/// unkeyed).
fn key_id_of(line: &[u8]) -> Option<String> {
    let value: Value = serde_json::from_slice(line).ok()?;
    value.get("key_id")?.as_str().map(str::to_owned)
}

/// Refuses to continue a trail whose last line was written in another mode: without a key
/// when one is given now, with another key, or with a key when none is given.
fn check_same_key(last: &[u8], key: Option<&AuditKey>) -> std::io::Result<()> {
    if serde_json::from_slice::<Value>(last).is_err() {
        // A line cut short by a crash: the chain goes on from it, and verification shows it.
        tracing::warn!("the audit trail's last line is not a JSON line; the chain continues from it");
        return Ok(());
    }
    let found = key_id_of(last);
    let problem = match (found.as_deref(), key) {
        (None, None) => return Ok(()),
        (Some(id), Some(key)) if id == key.id() => return Ok(()),
        (None, Some(_)) => "it was written without a key; a keyed trail starts in a new file".to_owned(),
        (Some(id), None) => format!("it is keyed (key id {id}); give its key (--audit-key-file), or start a new file"),
        (Some(id), Some(key)) => format!(
            "it is keyed with another key (key id {id}, the key given has id {}); give that key, or start a new file",
            key.id()
        ),
    };
    Err(std::io::Error::other(problem))
}

/// RFC 3339 UTC time with milliseconds, written by the writer thread for each line; the
/// date and time of day are formatted once a second.
#[derive(Default)]
struct Clock {
    second: Option<(u64, String)>,
}

impl Clock {
    fn write(&mut self, out: &mut Vec<u8>, at: SystemTime) {
        let now = at.duration_since(UNIX_EPOCH).unwrap_or_default();
        let (secs, millis) = (now.as_secs(), now.subsec_millis());
        let second = match &mut self.second {
            Some((s, text)) if *s == secs => text,
            slot => &slot.insert((secs, format_second(secs as i64))).1,
        };
        out.extend_from_slice(second.as_bytes());
        // Milliseconds are below 1000: three ASCII digits.
        out.extend_from_slice(&[
            b'.',
            b'0' + (millis / 100) as u8,
            b'0' + (millis / 10 % 10) as u8,
            b'0' + (millis % 10) as u8,
            b'Z',
        ]);
    }
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
/// The file is scanned backwards in blocks, so that opening a large trail reads only its
/// end, whatever the length of that line and wherever its characters fall.
fn last_line(file: &mut File) -> std::io::Result<Option<Vec<u8>>> {
    const BLOCK: u64 = 16 * 1024;
    let len = file.seek(SeekFrom::End(0))?;
    let mut block = vec![0; BLOCK as usize];
    // Where the line ends (the newline after its content, or the end of the file), once
    // some non-blank byte has been seen; and the newline seen last, scanning backwards.
    let (mut line_end, mut newline_after) = (None, len);
    let mut at = len;
    let start = 'scan: loop {
        if at == 0 {
            break 0;
        }
        let from = at.saturating_sub(BLOCK);
        let bytes = &mut block[..(at - from) as usize];
        file.seek(SeekFrom::Start(from))?;
        file.read_exact(bytes)?;
        for (i, &b) in bytes.iter().enumerate().rev() {
            let pos = from + i as u64;
            match (b, line_end) {
                (b'\n', Some(_)) => break 'scan pos + 1,
                (b'\n', None) => newline_after = pos,
                (b, None) if !b.is_ascii_whitespace() => line_end = Some(newline_after),
                _ => {}
            }
        }
        at = from;
    };
    let Some(end) = line_end else { return Ok(None) };
    let mut line = vec![0; (end - start) as usize];
    file.seek(SeekFrom::Start(start))?;
    file.read_exact(&mut line)?;
    if line.last() == Some(&b'\r') {
        line.pop();
    }
    Ok(Some(line))
}

/// Where a trail's chain breaks, or how it differs from what was expected of it.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub struct ChainBreak {
    /// 1-based line number; 0 for the trail as a whole (empty, too short, another head).
    pub line: usize,
    /// What is wrong there.
    pub reason: String,
}

impl std::fmt::Display for ChainBreak {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.line {
            0 => f.write_str(&self.reason),
            line => write!(f, "line {line}: {}", self.reason),
        }
    }
}

/// What a trail must match beyond its own chain: the anchors a deployment keeps elsewhere.
#[derive(Debug, Default, Clone, Copy)]
pub struct Expected<'a> {
    /// The key of a keyed trail.
    pub key: Option<&'a AuditKey>,
    /// The head of the trail this file continues (the file before it, rotated), which its
    /// first line's `prev` must be instead of [`GENESIS`].
    pub after: Option<&'a str>,
    /// A head recorded earlier: some line's hash (its HMAC, keyed) must be this one (with
    /// `lines`, line `lines`' must). Lines written since may follow it.
    pub head: Option<&'a str>,
    /// A line count recorded earlier: the trail has at least this many lines.
    pub lines: Option<usize>,
}

/// A trail whose chain holds, and which matches what was expected.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verified {
    /// How many lines it has.
    pub lines: usize,
    /// Its head: the last line's hash (HMAC-SHA256, keyed), which the next line would carry
    /// as `prev`. Recorded elsewhere, it shows later whether the trail was cut or its last
    /// lines edited.
    pub head: String,
    /// The key id of a keyed trail.
    pub key_id: Option<String>,
    /// The line whose hash is the expected head.
    pub head_at: Option<usize>,
}

/// Checks a trail's chain; `Ok` is the number of lines. A trail must start at [`GENESIS`];
/// an empty one, or a keyed one (see [`verify_with`]), is an error.
pub fn verify(reader: impl std::io::Read) -> Result<usize, ChainBreak> {
    verify_with(reader, &Expected::default()).map(|v| v.lines)
}

/// Checks a trail: every line's `prev` is the link of the line before (the first line's is
/// [`GENESIS`], or `expected.after`), every line is keyed alike (with `expected.key`, when
/// keyed), and the trail holds the recorded head and line count. Any bytes make an answer,
/// never a panic.
pub fn verify_with(reader: impl std::io::Read, expected: &Expected<'_>) -> Result<Verified, ChainBreak> {
    let broken = |line: usize, reason: String| ChainBreak { line, reason };
    let start = expected.after.unwrap_or(GENESIS);
    let want_head = expected.head.map(str::to_ascii_lowercase);
    let mut reader = BufReader::new(reader);
    let mut line = Vec::new();
    let (mut prev, mut count, mut key_id, mut head_at) = ([0; 64], 0, None::<String>, None);
    // The link of line `expected.lines`, for a head expected there.
    let mut at_lines = None;
    loop {
        line.clear();
        let read = reader.read_until(b'\n', &mut line).map_err(|e| broken(count + 1, format!("unreadable: {e}")))?;
        if read == 0 {
            break;
        }
        let n = count + 1;
        if line.last() == Some(&b'\n') {
            line.pop();
            if line.last() == Some(&b'\r') {
                line.pop();
            }
        }
        let value: Value =
            serde_json::from_slice(&line).map_err(|e| broken(n, format!("not a JSON audit line: {e}")))?;
        let claimed = value
            .get("prev")
            .and_then(Value::as_str)
            .ok_or_else(|| broken(n, "it has no `prev`: not an audit line".into()))?;
        let id = value.get("key_id").and_then(Value::as_str);
        if n == 1 {
            match (id, expected.key) {
                (Some(id), None) => {
                    return Err(broken(n, format!("the trail is keyed (key id {id}): give its key to verify it")));
                }
                (None, Some(_)) => {
                    return Err(broken(
                        n,
                        "the trail is not keyed, but a key was given: it was written without the key, or \
                         rewritten by someone who does not hold it"
                            .into(),
                    ));
                }
                (Some(id), Some(key)) if id != key.id() => {
                    return Err(broken(
                        n,
                        format!("the trail was keyed with key id {id}, the key given has id {}: a wrong key", key.id()),
                    ));
                }
                _ => key_id = id.map(str::to_owned),
            }
            if claimed != start {
                return Err(broken(
                    n,
                    match expected.after {
                        None => "first line is not the start of a trail (prev is not genesis): lines were removed \
                                 from the head (a file that continues a rotated one is verified with the head of \
                                 that one as --after)"
                            .into(),
                        Some(after) => format!(
                            "the first line does not continue the trail whose head is {after} (its prev is \
                             {claimed}): lines were removed between the files, or this is not the next file"
                        ),
                    },
                ));
            }
        } else {
            if id != key_id.as_deref() {
                return Err(broken(
                    n,
                    format!(
                        "its key id ({}) is not the trail's ({}): a line from another trail",
                        id.unwrap_or("none"),
                        key_id.as_deref().unwrap_or("none")
                    ),
                ));
            }
            if claimed.as_bytes() != prev {
                return Err(broken(
                    n,
                    "its `prev` does not match the hash of the line before: a line was changed, removed or \
                     inserted"
                        .into(),
                ));
            }
        }
        prev = link(&line, expected.key.filter(|_| key_id.is_some()));
        count = n;
        if expected.lines == Some(n) {
            at_lines = Some(prev);
        }
        if head_at.is_none()
            && want_head.as_deref().is_some_and(|h| h.as_bytes() == prev)
            && expected.lines.is_none_or(|l| l == n)
        {
            head_at = Some(n);
        }
    }
    let head = String::from_utf8_lossy(&prev).into_owned();
    if count == 0 {
        return Err(broken(
            0,
            "the trail is empty: it holds no audit line (it was emptied, or nothing was recorded)".into(),
        ));
    }
    if let Some(lines) = expected.lines
        && count < lines
    {
        return Err(broken(
            0,
            format!("expected at least {lines} lines, found {count}: lines were removed from the end (truncated)"),
        ));
    }
    if let Some(want) = &want_head
        && head_at.is_none()
    {
        let reason = match (expected.lines, at_lines) {
            (Some(l), Some(found)) => format!(
                "expected the head {want} at line {l}, found {}: line {l} was edited, or lines before it were removed \
                 or added",
                String::from_utf8_lossy(&found)
            ),
            _ => format!(
                "expected the head {want}, found it nowhere (the last line, {count}, has {head}): the trail was \
                 truncated, or its last lines edited"
            ),
        };
        return Err(broken(0, reason));
    }
    Ok(Verified { lines: count, head, key_id, head_at })
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
            arguments: Some(redact::redact_json(
                &json!({"message": "hi", "apiKey": "k", "nested": {"password": "p"}}),
                &[],
            )),
            outcome: "ok",
            error: None,
            duration: Duration::from_micros(100),
            bytes_in: 10,
            bytes_out: 20,
        }
    }

    /// Records `lines` lines (methods `tools/call0`, `tools/call1`, ...) from another thread,
    /// as requests would.
    fn record_in_background(log: &AuditLog, lines: usize) -> std::thread::JoinHandle<()> {
        let log = log.clone();
        std::thread::spawn(move || (0..lines).for_each(|i| log.record(record(&format!("tools/call{i}")))))
    }

    #[test]
    fn a_writer_that_cannot_keep_up_holds_requests_back_instead_of_queueing_without_bound() {
        /// A sink that takes nothing until its gate opens: a disk that has stalled.
        struct Stalled {
            gate: Arc<(Mutex<bool>, Condvar)>,
            written: Arc<Mutex<Vec<u8>>>,
        }
        impl Write for Stalled {
            fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
                let (open, opened) = &*self.gate;
                let mut open = lock(open);
                while !*open {
                    open = opened.wait(open).unwrap_or_else(|p| p.into_inner());
                }
                lock(&self.written).extend_from_slice(buf);
                Ok(buf.len())
            }
            fn flush(&mut self) -> std::io::Result<()> {
                Ok(())
            }
        }
        const AT_MOST: usize = 4096;
        const LINES: usize = 100;
        let (gate, written) = (Arc::new((Mutex::new(false), Condvar::new())), Arc::new(Mutex::new(Vec::new())));
        let sink = Stalled { gate: Arc::clone(&gate), written: Arc::clone(&written) };
        let log = AuditLog::spawn_bounded(Sink::Test(Box::new(sink)), GENESIS_HEX, None, AT_MOST);
        let recorder = record_in_background(&log, LINES);
        let queued = || lock(&log.handle.0.queue).batch.bytes.len();
        let deadline = Instant::now() + Duration::from_secs(10);
        while queued() < AT_MOST && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(10));
        }
        // Long enough for the rest of the lines, were nothing holding them back.
        std::thread::sleep(Duration::from_millis(200));
        let queued = queued();
        // The bound is checked before each line is queued: one line (a few hundred bytes
        // here) may cross it.
        assert!((AT_MOST..AT_MOST + 1024).contains(&queued), "{queued} bytes queued against a bound of {AT_MOST}");
        assert!(!recorder.is_finished(), "requests went on while the writer was stalled");

        *lock(&gate.0) = true;
        gate.1.notify_all();
        recorder.join().expect("the recording thread panicked");
        log.flush();
        let methods: Vec<String> = methods_and_sizes(&written).into_iter().map(|(method, _)| method).collect();
        assert_eq!(methods.len(), LINES, "every line was written, none dropped");
        assert_eq!(methods, (0..LINES).map(|i| format!("tools/call{i}")).collect::<Vec<_>>(), "in order");
    }

    #[test]
    fn a_writer_that_died_holds_no_request_back() {
        struct Broken;
        impl Write for Broken {
            fn write(&mut self, _: &[u8]) -> std::io::Result<usize> {
                panic!("the sink broke (as the test means it to)");
            }
            fn flush(&mut self) -> std::io::Result<()> {
                Ok(())
            }
        }
        let log = AuditLog::spawn_bounded(Sink::Test(Box::new(Broken)), GENESIS_HEX, None, 1024);
        let recorder = record_in_background(&log, 100);
        let deadline = Instant::now() + Duration::from_secs(10);
        while !recorder.is_finished() && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(10));
        }
        assert!(recorder.is_finished(), "requests wait on a queue that no writer will take");
        assert!(lock(&log.handle.0.queue).stopped);
    }

    /// A log whose writer appends to the returned buffer.
    fn log_in_memory() -> (AuditLog, Arc<Mutex<Vec<u8>>>) {
        struct Shared(Arc<Mutex<Vec<u8>>>);
        impl Write for Shared {
            fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
                lock(&self.0).extend_from_slice(buf);
                Ok(buf.len())
            }
            fn flush(&mut self) -> std::io::Result<()> {
                Ok(())
            }
        }
        let written = Arc::new(Mutex::new(Vec::new()));
        (AuditLog::spawn(Sink::Test(Box::new(Shared(Arc::clone(&written)))), GENESIS_HEX, None), written)
    }

    /// Each line's method and bytes out, with the chain checked.
    fn methods_and_sizes(written: &Mutex<Vec<u8>>) -> Vec<(String, u64)> {
        let trail = lock(written).clone();
        let lines: Vec<Value> = trail
            .split(|&b| b == b'\n')
            .filter(|l| !l.is_empty())
            .map(|l| serde_json::from_slice(l).expect("JSON"))
            .collect();
        assert_eq!(verify(&trail[..]), Ok(lines.len()), "{}", String::from_utf8_lossy(&trail));
        lines
            .iter()
            .map(|l| (l["method"].as_str().unwrap_or_default().to_owned(), l["bytes_out"].as_u64().unwrap_or_default()))
            .collect()
    }

    #[test]
    fn held_lines_join_the_trail_when_queued_or_dropped_each_in_its_own_log() {
        let ((first, first_written), (second, second_written)) = (log_in_memory(), log_in_memory());
        let head = LineHead::new("ws", "ops", "stateless", "2026-07-28");
        let open = |log: &AuditLog, method: &str| {
            let start = AuditStart { head: &head, method, target: None, arguments: None, sensitive: &[], bytes_in: 1 };
            let mut line = log.open(start, Instant::now());
            line.answered("ok", None, Duration::from_micros(5));
            line
        };
        let mut held = HeldLines::default();
        held.hold(open(&first, "a"), 11);
        held.hold(open(&first, "b"), 22);
        held.hold(open(&second, "c"), 33);
        held.hold(open(&first, "d"), 44);
        first.record(record("e"));
        first.flush();
        assert_eq!(methods_and_sizes(&first_written), [("e".to_owned(), 20)], "held lines wait for `queue`");

        held.queue();
        first.flush();
        second.flush();
        let lines = |names: &[(&str, u64)]| names.iter().map(|&(m, n)| (m.to_owned(), n)).collect::<Vec<_>>();
        assert_eq!(methods_and_sizes(&first_written), lines(&[("e", 20), ("a", 11), ("b", 22), ("d", 44)]));
        assert_eq!(methods_and_sizes(&second_written), lines(&[("c", 33)]));

        // Lines still held when their holder goes are not lost.
        held.hold(open(&second, "f"), 66);
        drop(held);
        second.flush();
        assert_eq!(methods_and_sizes(&second_written), lines(&[("c", 33), ("f", 66)]));
    }

    #[test]
    fn a_batch_appended_to_another_keeps_every_body_whole_and_in_order() {
        let batch_of = |bodies: &[&str]| {
            let mut batch = Batch::default();
            bodies.iter().for_each(|b| batch.push(b.as_bytes(), Instant::now()));
            batch
        };
        let bodies =
            |batch: &Batch| batch.bodies().map(|b| String::from_utf8_lossy(b).into_owned()).collect::<Vec<_>>();
        for queued in [&[][..], &["q1", "queued 2"][..]] {
            let mut queue = batch_of(queued);
            let mut more = batch_of(&["m1", "more 2", "m3"]);
            queue.append(&mut more);
            let expected: Vec<&str> = queued.iter().chain(&["m1", "more 2", "m3"]).copied().collect();
            assert_eq!(bodies(&queue), expected);
            assert_eq!(queue.starts.len(), expected.len());
            assert!(
                more.is_empty() && more.bytes.is_empty() && more.starts.is_empty(),
                "the appended batch is emptied"
            );
        }
    }

    #[test]
    fn secrets_are_redacted_by_name_and_by_declaration() {
        let v =
            redact::redact_json(&json!({"query": "select", "dsn": "postgres://u:p@h", "Token": "t"}), &["dsn".into()]);
        assert_eq!(v, json!({"query": "select", "dsn": "[REDACTED]", "Token": "[REDACTED]"}));
    }

    /// A trail of `n` lines in a new file (keyed with `key`), and its text.
    fn trail(dir: &tempfile::TempDir, name: &str, n: usize, key: Option<&AuditKey>) -> (std::path::PathBuf, String) {
        let path = dir.path().join(name);
        let log = AuditLog::to_file_keyed(&path, key.cloned()).expect("open");
        (0..n).for_each(|i| log.record(record(&format!("tools/call#{i}"))));
        log.flush();
        let text = std::fs::read_to_string(&path).expect("read");
        (path, text)
    }

    fn key(byte: u8) -> AuditKey {
        AuditKey::new(&[byte; 32]).expect("key")
    }

    /// `lines` chained again from genesis with SHA-256, as whoever edits a trail without a
    /// key can.
    fn rechain(lines: &[&str]) -> String {
        let mut prev = GENESIS.to_owned();
        let mut out = String::new();
        for line in lines {
            let at = line.find("\"prev\":\"").expect("prev") + 8;
            let line = format!("{}{prev}{}", &line[..at], &line[at + 64..]);
            prev = String::from_utf8_lossy(&link(line.as_bytes(), None)).into_owned();
            out.push_str(&line);
            out.push('\n');
        }
        out
    }

    fn reason(text: &str, expected: &Expected<'_>) -> (usize, String) {
        let err = verify_with(text.as_bytes(), expected).expect_err("not intact");
        (err.line, err.reason)
    }

    #[test]
    fn a_trail_is_anchored_at_its_start_by_genesis_and_at_its_end_by_a_recorded_head() {
        let dir = tempfile::tempdir().expect("tempdir");
        let (_, text) = trail(&dir, "a.jsonl", 5, None);
        let whole = verify_with(text.as_bytes(), &Expected::default()).expect("intact");
        assert_eq!((whole.lines, whole.key_id.as_deref(), whole.head_at), (5, None, None));
        let last = text.lines().last().expect("a line");
        assert_eq!(whole.head.as_bytes(), link(last.as_bytes(), None), "the head is the last line's hash");
        let anchored = Expected { head: Some(&whole.head), lines: Some(5), ..Expected::default() };
        assert_eq!(verify_with(text.as_bytes(), &anchored).map(|v| v.head_at), Ok(Some(5)));
        let lines: Vec<&str> = text.lines().collect();

        // The first line deleted: the trail no longer starts at genesis.
        let (line, why) = reason(&lines[1..].join("\n"), &Expected::default());
        assert_eq!(line, 1);
        assert!(why.starts_with("first line is not the start of a trail (prev is not genesis)"), "{why}");
        // ... unless it continues the file before it, whose head is given.
        let head_1 = String::from_utf8_lossy(&link(lines[0].as_bytes(), None)).into_owned();
        let after = Expected { after: Some(&head_1), ..Expected::default() };
        assert_eq!(verify_with(lines[1..].join("\n").as_bytes(), &after).map(|v| v.lines), Ok(4));
        let (_, why) = reason(&lines[2..].join("\n"), &after);
        assert!(why.contains(&format!("does not continue the trail whose head is {head_1}")), "{why}");

        // The last line edited, the last lines deleted: the chain alone holds, the recorded
        // head and count do not.
        let edited = text.replace("tools/call#4", "tools/call#9");
        assert!(verify(edited.as_bytes()).is_ok(), "nothing after the last line checks it");
        let (line, why) = reason(&edited, &anchored);
        assert_eq!(line, 0);
        assert!(why.contains(&format!("expected the head {} at line 5, found ", whole.head)), "{why}");
        let head_only = Expected { head: Some(&whole.head), ..Expected::default() };
        assert!(reason(&edited, &head_only).1.contains("found it nowhere"));
        let cut = lines[..3].join("\n");
        assert_eq!(verify(cut.as_bytes()), Ok(3));
        let (_, why) = reason(&cut, &Expected { lines: Some(5), ..Expected::default() });
        assert!(why.starts_with("expected at least 5 lines, found 3"), "{why}");
        assert!(reason(&cut, &head_only).1.contains("truncated"));
        // Lines written after the head was recorded are no tampering.
        let (path, _) = trail(&dir, "a.jsonl", 2, None);
        let grown = std::fs::read_to_string(path).expect("read");
        assert_eq!(verify_with(grown.as_bytes(), &anchored).map(|v| (v.lines, v.head_at)), Ok((7, Some(5))));

        // The file emptied.
        for empty in ["", "\n"] {
            let err = verify_with(empty.as_bytes(), &anchored).expect_err("empty");
            assert!(err.reason.contains("empty") || err.reason.contains("not a JSON"), "{err}");
        }
        assert!(reason("", &Expected::default()).1.starts_with("the trail is empty"));

        // Rewritten whole after deleting a line: without a key, only the recorded head shows it.
        let mut shorter = lines.clone();
        shorter.remove(2);
        let rewritten = rechain(&shorter);
        assert_eq!(verify(rewritten.as_bytes()), Ok(4));
        assert!(reason(&rewritten, &head_only).1.contains("found it nowhere"));
    }

    #[test]
    fn a_keyed_trail_cannot_be_rewritten_without_its_key() {
        let dir = tempfile::tempdir().expect("tempdir");
        let (right, wrong) = (key(7), key(8));
        let (path, text) = trail(&dir, "k.jsonl", 4, Some(&right));
        assert!(!text.contains(&"07".repeat(32)), "the key is not written");
        assert_eq!(text.matches(&format!("\"key_id\":\"{}\"", right.id())).count(), 4, "each line says it is keyed");
        let keyed = Expected { key: Some(&right), ..Expected::default() };
        let ok = verify_with(text.as_bytes(), &keyed).expect("intact with its key");
        assert_eq!((ok.lines, ok.key_id.as_deref()), (4, Some(right.id())));
        assert_ne!(
            ok.head,
            verify_with(trail(&dir, "u.jsonl", 4, None).1.as_bytes(), &Expected::default()).expect("u").head
        );

        let (line, why) = reason(&text, &Expected::default());
        assert_eq!(line, 1);
        assert!(why.contains("the trail is keyed") && why.contains("give its key"), "{why}");
        let (_, why) = reason(&text, &Expected { key: Some(&wrong), ..Expected::default() });
        assert!(why.contains("a wrong key") && why.contains(wrong.id()), "{why}");

        // A line deleted and the chain rewritten with SHA-256, keeping the key ids or not.
        let mut lines: Vec<&str> = text.lines().collect();
        lines.remove(1);
        let (line, why) = reason(&rechain(&lines), &keyed);
        assert_eq!(line, 2, "{why}");
        let unkeyed = rechain(&lines).replace(&format!("\"key_id\":\"{}\",", right.id()), "");
        let unkeyed = rechain(&unkeyed.lines().collect::<Vec<_>>());
        assert!(reason(&unkeyed, &keyed).1.contains("the trail is not keyed, but a key was given"));
        // The same edits with the key verify: the key is the whole of the protection.
        let mut prev = GENESIS_HEX;
        let resigned: String = lines
            .iter()
            .map(|l| {
                let at = l.find("\"prev\":\"").expect("prev") + 8;
                let line = format!("{}{}{}", &l[..at], String::from_utf8_lossy(&prev), &l[at + 64..]);
                prev = link(line.as_bytes(), Some(&right));
                line + "\n"
            })
            .collect();
        assert_eq!(verify_with(resigned.as_bytes(), &keyed).map(|v| v.lines), Ok(3));

        // A restart continues the trail with the same key, and refuses any other mode.
        let again = AuditLog::to_file_keyed(&path, Some(right.clone())).expect("same key");
        again.record(record("after restart"));
        again.flush();
        let text = std::fs::read_to_string(&path).expect("read");
        assert_eq!(verify_with(text.as_bytes(), &keyed).map(|v| v.lines), Ok(5));
        for (other, says) in [(None, "give its key"), (Some(wrong), "another key")] {
            let err = AuditLog::to_file_keyed(&path, other).expect_err("another mode");
            assert!(err.to_string().contains(says), "{err}");
        }
        let (plain, _) = trail(&dir, "p.jsonl", 1, None);
        let err = AuditLog::to_file_keyed(&plain, Some(right)).expect_err("a key on an unkeyed trail");
        assert!(err.to_string().contains("written without a key"), "{err}");
    }

    #[test]
    fn audit_keys_are_long_enough_and_private() {
        assert!(AuditKey::new(b"short").expect_err("short").contains("at least 32 bytes"));
        assert!(AuditKey::new(&[1; 2000]).expect_err("long").contains("at most"));
        let hex_line = format!("{}\n", "ab".repeat(32));
        assert_eq!(
            AuditKey::new(hex_line.as_bytes()).expect("hex").id(),
            AuditKey::new(&hex_line.as_bytes()[..64]).expect("hex").id()
        );
        assert_ne!(key(1).id(), key(2).id());
        assert!(!format!("{:?}", key(1)).contains("1, 1"), "Debug shows the id only");

        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("key");
        std::fs::write(&path, &hex_line).expect("write");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).expect("chmod");
            let err = AuditKey::from_file(&path).expect_err("readable by others");
            assert!(err.contains("mode 644") && err.contains("chmod 600"), "{err}");
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).expect("chmod");
        }
        assert_eq!(
            AuditKey::from_file(&path).expect("key file").id(),
            AuditKey::new(hex_line.as_bytes()).expect("k").id()
        );
        let err = AuditKey::from_file(&dir.path().join("missing")).expect_err("missing");
        assert!(err.contains("cannot read the audit key file"), "{err}");
        assert!(AuditKey::from_file(dir.path()).is_err(), "a directory");
    }

    #[test]
    fn any_bytes_get_a_verdict_without_a_panic() {
        let dir = tempfile::tempdir().expect("tempdir");
        let (_, text) = trail(&dir, "f.jsonl", 3, None);
        let bytes = text.as_bytes();
        let k = key(3);
        for expected in
            [Expected::default(), Expected { key: Some(&k), head: Some("zz"), lines: Some(2), after: Some("") }]
        {
            for cut in 0..bytes.len() {
                let _ = verify_with(&bytes[..cut], &expected);
                let mut flipped = bytes.to_vec();
                flipped[cut] ^= 0x80;
                let _ = verify_with(&flipped[..], &expected);
            }
            for junk in [&b"\xff\xfe"[..], b"{}", b"[]", b"{\"prev\":1}", b"null\n", b"\r\n\r\n", b"{\"prev\":\"\"}"] {
                assert!(verify_with(junk, &expected).is_err());
            }
        }
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
    fn the_chain_continues_after_a_long_last_line_of_multibyte_text() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("audit.jsonl");
        let log = AuditLog::to_file(&path).expect("open");
        log.record(record("tools/list"));
        // 150,000 two-byte characters: the line spans many blocks, and blocks start mid-character.
        let long = AuditRecord { arguments: Some(json!({"text": "é".repeat(150_000)})), ..record("tools/call") };
        log.record(long);
        log.flush();
        drop(log);
        std::fs::OpenOptions::new().append(true).open(&path).expect("open").write_all(b"\n \n").expect("blank lines");
        let log = AuditLog::to_file(&path).expect("reopen after a long last line");
        log.record(record("ping"));
        log.flush();
        let text = std::fs::read_to_string(&path).expect("read");
        let lines: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
        assert_eq!(verify(lines.join("\n").as_bytes()), Ok(3), "the reopened trail chains onto the long line");
    }

    #[test]
    fn the_last_line_is_found_whatever_surrounds_it() {
        let cases: [(&[u8], Option<&[u8]>); 7] = [
            (b"", None),
            (b" \n\n\t", None),
            (b"a\n\n  \n", Some(b"a")),
            (b"x\ny", Some(b"y")),
            (b"x\r\n", Some(b"x")),
            (b"first\n  second line  \n", Some(b"  second line  ")),
            (b"only", Some(b"only")),
        ];
        for (content, expected) in cases {
            let mut file = tempfile::tempfile().expect("temp file");
            file.write_all(content).expect("write");
            assert_eq!(
                last_line(&mut file).expect("read").as_deref(),
                expected,
                "{:?}",
                String::from_utf8_lossy(content)
            );
        }
    }

    #[test]
    fn lines_hold_every_field_in_order_with_arguments_redacted_as_they_are_written() {
        let arguments = json!({"b": [1, {"secret": "s"}], "a": "x\ny\"", "dsn": "d", "n": null, "f": 1.5});
        let head = LineHead::new("http", "ci \"bot\"", "stateless", "2026-07-28");
        assert!(head.is_for("stateless", "2026-07-28") && !head.is_for("handshake", "2026-07-28"));
        let mut line = PendingLine::begin(
            AuditStart {
                head: &head,
                method: "tools/call",
                target: Some("query"),
                arguments: Some(&arguments),
                sensitive: &["dsn".into()],
                bytes_in: 42,
            },
            Instant::now(),
        );
        let end = AuditEnd {
            outcome: "tool_error",
            error: Some("bad\nthing at postgres://u:pw@h/db"),
            duration: Duration::from_micros(250),
            bytes_out: 7,
        };
        line.finish(end);
        let text = String::from_utf8([b"{".as_slice(), &line.body].concat()).expect("utf-8");
        let body: Value = serde_json::from_str(&text).expect("json");
        let expected = json!({
            "transport": "http", "identity": "ci \"bot\"", "era": "stateless", "version": "2026-07-28",
            "method": "tools/call", "target": "query", "arguments": redact::redact_json(&arguments, &["dsn".into()]),
            "outcome": "tool_error", "error": "bad\nthing at postgres://u:[REDACTED]@h/db", "duration_ms": 0.25, "bytes_in": 42, "bytes_out": 7,
        });
        assert_eq!(body, expected);
        // The order of the lines written before (and that readers of the trail may expect).
        let order = ["transport", "identity", "era", "version", "method", "target", "arguments", "outcome"];
        let order = order.iter().chain(&["error", "duration_ms", "bytes_in", "bytes_out"]);
        let at: Vec<Option<usize>> = order.map(|k| text.find(&format!("\"{k}\":"))).collect();
        assert!(at.iter().all(Option::is_some) && at.is_sorted(), "{text}");
        let mut written = Vec::new();
        write_redacted(&mut written, &arguments, &["dsn".into()]);
        assert_eq!(written, serde_json::to_vec(&redact::redact_json(&arguments, &["dsn".into()])).expect("json"));
    }

    #[test]
    fn escapes_are_found_wherever_they_fall_in_a_word() {
        let reference = |s: &[u8]| s.iter().any(|&b| ESCAPED[usize::from(b)]);
        // Every byte value, alone and at each place of two words, among fillers that sit
        // next to the escaped ones (0x1f/0x20, 0x21/0x22/0x23, 0x5b/0x5c/0x5d, high bytes).
        for filler in [b'a', b' ', b'!', b'#', b'[', b']', 0x7f, 0x80, 0xff] {
            for len in 0..20 {
                let plain = vec![filler; len];
                assert!(!needs_escape(&plain) && !needs_escape_long(&plain), "{plain:?}");
                for at in 0..len {
                    for b in 0..=255u8 {
                        let mut s = plain.clone();
                        s[at] = b;
                        assert_eq!(needs_escape(&s), reference(&s), "{s:?}");
                        assert_eq!(needs_escape_long(&s), reference(&s), "{s:?}");
                    }
                }
            }
        }
    }

    #[test]
    fn redacted_arguments_are_written_as_serde_json_writes_them() {
        let values = [
            json!([true, false, null, 0, 7, u64::MAX, -1, i64::MIN, 1.5, -0.25, 1e300, 12345678901234567890u64]),
            json!({"a\"b\\c": "line\nbreak\ttab\r\u{8}\u{c}\u{1}\u{1f}\u{7f} é 😀", "nested": [{"x": [null]}, "y"]}),
            json!({"long": "a string longer than a word, with \"quotes\" and a \\ late in it", "token": {"a": 1}}),
            json!("just a string"),
        ];
        for value in values {
            let mut written = Vec::new();
            write_redacted(&mut written, &value, &[]);
            assert_eq!(
                String::from_utf8(written).expect("utf-8"),
                serde_json::to_string(&redact::redact_json(&value, &[])).expect("json")
            );
        }
    }

    #[test]
    fn timestamps_are_rfc3339() {
        let mut out = Vec::new();
        Clock::default().write(&mut out, SystemTime::now());
        let ts = String::from_utf8(out).expect("ascii");
        assert_eq!(ts.len(), 24, "{ts}");
        assert!(ts.starts_with("20") && ts.ends_with('Z') && &ts[10..11] == "T", "{ts}");
        let mut out = Vec::new();
        Clock::default().write(&mut out, UNIX_EPOCH + Duration::from_millis(1_785_000_000_123));
        assert_eq!(String::from_utf8(out).expect("ascii"), "2026-07-25T17:20:00.123Z");
    }

    #[test]
    fn a_line_is_stamped_with_its_request_start() {
        let file = tempfile::NamedTempFile::new().expect("temp file");
        let log = AuditLog::to_file(file.path()).expect("open");
        let before = SystemTime::now();
        std::thread::sleep(Duration::from_millis(30));
        let started = Instant::now() - Duration::from_millis(20);
        let line = log.open(
            AuditStart {
                head: &LineHead::new("stdio", "local", "handshake", ""),
                method: "ping",
                target: None,
                arguments: None,
                sensitive: &[],
                bytes_in: 1,
            },
            started,
        );
        std::thread::sleep(Duration::from_millis(30));
        line.close(2);
        log.flush();
        let text = std::fs::read_to_string(file.path()).expect("read");
        let ts = serde_json::from_str::<Value>(&text).expect("json")["ts"].as_str().expect("ts").to_owned();
        let ms = |t: SystemTime| t.duration_since(UNIX_EPOCH).expect("after 1970").as_millis() as u64;
        // The request started 10 ms after `before` (give or take the sleeps' slack), not when
        // its line was written, 30 ms later.
        let around = (ms(before) + 2..ms(before) + 18).map(|at| {
            let mut text = Vec::new();
            Clock::default().write(&mut text, UNIX_EPOCH + Duration::from_millis(at));
            String::from_utf8(text).expect("ascii")
        });
        assert!(around.clone().any(|t| t == ts), "{ts} not in {:?}", around.collect::<Vec<_>>());
    }
}
