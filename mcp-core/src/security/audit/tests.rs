//! The trail end to end: lines recorded through an [`AuditLog`], written by its thread,
//! verified, tampered with, reopened.

use std::io::Write;
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use serde_json::{Value, json};

use super::chain::{GENESIS_HEX, link};
use super::writer::{Clock, Sink};
use super::*;
use crate::security::redact;
use crate::sync::lock;

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
    assert_eq!(AuditKey::from_file(&path).expect("key file").id(), AuditKey::new(hex_line.as_bytes()).expect("k").id());
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
    for expected in [Expected::default(), Expected { key: Some(&k), head: Some("zz"), lines: Some(2), after: Some("") }]
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
