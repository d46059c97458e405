//! The JSON of audit lines, written straight into the line's buffer: names copied as they
//! are when they need no escape, arguments redacted as they are written (the same text as
//! serializing [`redact::redact_json`]'s copy, without building the copy).

use std::time::Duration;

use serde::Serialize;
use serde_json::Value;

use crate::security::redact;

/// Appends `value` as JSON.
fn push_json(buf: &mut Vec<u8>, value: &(impl Serialize + ?Sized)) {
    // Writing into a Vec cannot fail, and these values (strings, numbers) always serialize.
    let _ = serde_json::to_writer(&mut *buf, value);
}

/// Appends `d` in milliseconds with three decimals (microseconds), as a JSON number.
pub(super) fn push_millis(buf: &mut Vec<u8>, d: Duration) {
    let micros = u64::try_from(d.as_micros()).unwrap_or(u64::MAX);
    push_int(buf, micros / 1000);
    let frac = micros % 1000;
    buf.extend_from_slice(&[b'.', b'0' + (frac / 100) as u8, b'0' + (frac / 10 % 10) as u8, b'0' + (frac % 10) as u8]);
}

/// Appends `n` as a JSON number.
pub(super) fn push_int(buf: &mut Vec<u8>, n: u64) {
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
pub(super) fn push_str(buf: &mut Vec<u8>, s: &str) {
    if needs_escape(s.as_bytes()) {
        push_json(buf, s);
    } else {
        push_quoted(buf, s);
    }
}

/// Appends one of this crate's own names (a transport, an era, a protocol revision, an
/// outcome), which never need an escape, as a JSON string.
pub(super) fn push_known(buf: &mut Vec<u8>, s: &'static str) {
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
pub(super) fn write_redacted(buf: &mut Vec<u8>, value: &Value, sensitive: &[String]) {
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

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

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
}
