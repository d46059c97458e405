//! Verifying a trail: its chain, its key, and the anchors a deployment recorded elsewhere
//! (the head of the file it continues, a head and line count recorded earlier).

use std::io::{BufRead, BufReader};

use serde_json::Value;

use super::chain::{AuditKey, GENESIS, link};

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
