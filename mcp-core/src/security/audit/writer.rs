//! The writer thread and its bounded queue: requests append finished line bodies to the
//! queue; the thread takes them in batches, stamps and chains them, writes each batch in
//! one system call, and syncs the file when the queue runs empty (or every
//! [`SYNC_EVERY`] under load).

use std::fs::File;
use std::io::Write;
use std::sync::{Arc, Condvar, Mutex, mpsc};
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use super::chain::{AuditKey, link};
use crate::sync::lock;

/// The queue between request threads and the writer: complete bodies, end to end.
/// Appending is a copy under a lock held for nothing else, and the writer swaps the whole
/// batch out at once: no allocation per request, and no buffer freed on another thread
/// than the one that allocated it (cross-thread frees contend on the allocator).
#[derive(Debug, Default)]
pub(super) struct Queue {
    pub(super) batch: Batch,
    flushes: Vec<mpsc::Sender<()>>,
    /// The writer is blocked waiting for work: the next record must wake it.
    idle: bool,
    /// A request thread waits for the writer to take the batch, which is full.
    full: bool,
    /// Every handle is gone: write what is queued and stop.
    closed: bool,
    /// The writer could not start or has failed: records are dropped (and said to be).
    pub(super) stopped: bool,
}

/// Bodies stored end to end, and where each ends.
#[derive(Debug, Default)]
pub(super) struct Batch {
    pub(super) bytes: Vec<u8>,
    ends: Vec<usize>,
    /// When each line's request started.
    starts: Vec<Instant>,
}

impl Batch {
    pub(super) fn push(&mut self, body: &[u8], started: Instant) {
        self.bytes.extend_from_slice(body);
        self.ends.push(self.bytes.len());
        self.starts.push(started);
    }

    /// Moves the lines of `other` to the end of this batch. An empty batch takes `other`'s
    /// buffers whole and gives it its own: nothing is copied.
    pub(super) fn append(&mut self, other: &mut Batch) {
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

    pub(super) fn is_empty(&self) -> bool {
        self.ends.is_empty()
    }

    fn bodies(&self) -> impl Iterator<Item = &[u8]> {
        let starts = std::iter::once(0).chain(self.ends.iter().copied());
        starts.zip(&self.ends).map(|(start, &end)| &self.bytes[start..end])
    }

    pub(super) fn clear(&mut self) {
        self.bytes.clear();
        self.ends.clear();
        self.starts.clear();
    }
}

#[derive(Debug)]
pub(super) struct Shared {
    pub(super) queue: Mutex<Queue>,
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
pub(super) const QUEUE_AT_MOST: usize = 32 << 20;

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
pub(super) struct Handle(pub(super) Arc<Shared>);

impl Handle {
    /// Starts the writer thread on `sink`, chaining from `prev`; requests wait once
    /// `queue_at_most` bytes are queued.
    pub(super) fn spawn(sink: Sink, prev: [u8; 64], key: Option<AuditKey>, queue_at_most: usize) -> Self {
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
        Self(shared)
    }

    /// Adds lines to the queue with `add`, once the queue has room, and wakes the writer
    /// if it sleeps.
    pub(super) fn enqueue(&self, add: impl FnOnce(&mut Batch)) {
        let shared = &self.0;
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
    pub(super) fn flush(&self) {
        let (done, wait) = mpsc::channel();
        let shared = &self.0;
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

impl Drop for Handle {
    fn drop(&mut self) {
        lock(&self.0.queue).closed = true;
        self.0.wake.notify_one();
    }
}

pub(super) enum Sink {
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

/// RFC 3339 UTC time with milliseconds, written by the writer thread for each line; the
/// date and time of day are formatted once a second.
#[derive(Default)]
pub(super) struct Clock {
    second: Option<(u64, String)>,
}

impl Clock {
    pub(super) fn write(&mut self, out: &mut Vec<u8>, at: SystemTime) {
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

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

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
}
