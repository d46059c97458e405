//! The chain: each line's `prev` is the SHA-256 of the line before (its HMAC-SHA256 under
//! an [`AuditKey`], keyed), the first line's [`GENESIS`]; and where an existing trail's
//! chain continues from (its last line, written in the same mode).

use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::path::Path;

use hmac::{Hmac, Mac};
use serde_json::Value;
use sha2::{Digest, Sha256};

/// The `prev` of a trail's first line.
pub const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// [`GENESIS`] as bytes.
pub(super) const GENESIS_HEX: [u8; 64] = [b'0'; 64];

/// What the line after `line` carries as `prev`: the SHA-256 of `line`, or its HMAC-SHA256
/// under `key`, in lowercase hex.
pub(super) fn link(line: &[u8], key: Option<&AuditKey>) -> [u8; 64] {
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
    /// The key's id, as lines carry it: hex digits.
    pub(super) id: [u8; 16],
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
pub(super) fn check_same_key(last: &[u8], key: Option<&AuditKey>) -> std::io::Result<()> {
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

/// The last non-empty line of a file, read from its end.
/// The file is scanned backwards in blocks, so that opening a large trail reads only its
/// end, whatever the length of that line and wherever its characters fall.
pub(super) fn last_line(file: &mut File) -> std::io::Result<Option<Vec<u8>>> {
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

#[cfg(test)]
mod tests {
    use std::io::Write;

    use super::*;

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
}
