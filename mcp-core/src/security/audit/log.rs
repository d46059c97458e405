//! [`AuditLog`], the handle requests hold on the trail, and the lines it opens: an
//! [`OpenLine`] per request until its answer is out, and [`HeldLines`] for the answers a
//! transport writes together.

use std::fs::OpenOptions;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::chain::{AuditKey, GENESIS_HEX, check_same_key, last_line, link};
use super::line::{AuditEnd, AuditRecord, AuditStart, LineHead, PendingLine};
use super::writer::{Batch, Handle, QUEUE_AT_MOST, Sink};

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

/// A handle on the trail's writer thread; cheap to clone.
#[derive(Debug, Clone)]
pub struct AuditLog {
    pub(super) handle: Arc<Handle>,
}

impl AuditLog {
    /// Appends to `path`, continuing the chain of the lines already there (a new or empty
    /// file starts a trail: its first line's `prev` is [`GENESIS`](super::GENESIS)).
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

    pub(super) fn spawn(sink: Sink, prev: [u8; 64], key: Option<AuditKey>) -> Self {
        Self::spawn_bounded(sink, prev, key, QUEUE_AT_MOST)
    }

    /// [`spawn`](Self::spawn), requests waiting once `queue_at_most` bytes are queued.
    pub(super) fn spawn_bounded(sink: Sink, prev: [u8; 64], key: Option<AuditKey>, queue_at_most: usize) -> Self {
        Self { handle: Arc::new(Handle::spawn(sink, prev, key, queue_at_most)) }
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
        self.handle.enqueue(|queued| queued.push(&line.body, line.started));
    }

    /// Queues the lines of `bodies`, leaving it empty.
    fn append(&self, bodies: &mut Batch) {
        self.handle.enqueue(|queued| queued.append(bodies));
        bodies.clear();
    }

    /// Waits until every queued record is on disk (at shutdown, and in tests).
    pub fn flush(&self) {
        self.handle.flush();
    }
}
