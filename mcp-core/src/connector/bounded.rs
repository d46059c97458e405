//! Bounded results: every connector cuts what a user or a model controls (rows, text,
//! JSON documents) and says so in one wording, [`cut_note`]: what is shown, how to get the
//! rest (an offset or a cursor), or how to narrow the request. Sizes are those of the
//! compact JSON text, computed without building it.

use std::fmt::Display;
use std::io::Write;

use schemars::JsonSchema;
use serde::Serialize;
use serde_json::{Map, Value};

/// How the rest of a cut result is reached.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Next<'a> {
    /// Call again with `offset` set to this.
    Offset(usize),
    /// Call again with `cursor` set to this.
    Cursor(&'a str),
    /// Nothing to page: only a narrower request shows the rest.
    Narrow,
}

/// The one line that says a result was cut: what it shows, how to get the rest, how to
/// narrow it. `shown` reads after "showing" ("containers 1-50 of 120", "4096 of 9000
/// bytes"); `narrow` is an instruction ("filter by label", "aggregate in SQL").
pub fn cut_note(shown: impl Display, next: Next<'_>, narrow: &str) -> String {
    match next {
        Next::Offset(offset) => format!("Truncated: showing {shown}. Get the rest with offset={offset}, or {narrow}."),
        Next::Cursor(cursor) => {
            format!("Truncated: showing {shown}. Get the rest with cursor=\"{cursor}\", or {narrow}.")
        }
        Next::Narrow => format!("Truncated: showing {shown}. To see the rest, {narrow}."),
    }
}

/// Which slice of a longer list a call returns, and how to get the next one.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Page {
    /// Items in the whole (filtered) list.
    pub total: usize,
    /// Index of the first item returned.
    pub offset: usize,
    /// Items returned.
    pub returned: usize,
    /// Whether items were left out after these.
    pub truncated: bool,
    /// Pass as `offset` for the next items.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_offset: Option<usize>,
}

impl Page {
    /// The page of `returned` items from `offset` in a list of `total`.
    pub fn new(total: usize, offset: usize, returned: usize) -> Self {
        let end = offset.min(total) + returned;
        Page { total, offset, returned, truncated: end < total, next_offset: (end < total).then_some(end) }
    }

    /// The [`cut_note`] for this page of `what` ("containers"), if anything was left out.
    pub fn note(&self, what: &str, narrow: &str) -> Option<String> {
        let next = self.next_offset?;
        let shown = format!("{what} {}-{} of {}", self.offset + 1, self.offset + self.returned, self.total);
        Some(cut_note(shown, Next::Offset(next), narrow))
    }
}

/// Items `offset..` of `items`, at most `limit` of them and at most `max_bytes` of text
/// as `render` writes them (one line each); `render` is called on the kept items only.
/// One item is always kept, so a huge item cannot stall paging.
pub fn page<T>(
    items: Vec<T>,
    offset: usize,
    limit: usize,
    max_bytes: usize,
    render: impl Fn(&T) -> String,
) -> (Vec<(T, String)>, Page) {
    let total = items.len();
    let mut kept = Vec::new();
    let mut bytes = 0;
    for item in items.into_iter().skip(offset).take(limit.max(1)) {
        let line = render(&item);
        if !kept.is_empty() && bytes + line.len() + 1 > max_bytes {
            break;
        }
        bytes += line.len() + 1;
        kept.push((item, line));
    }
    let page = Page::new(total, offset, kept.len());
    (kept, page)
}

/// `text` cut to about `max` bytes, at a line boundary where one is near, with a
/// [`cut_note`] appended; the flag says whether it was cut.
pub fn cut_text(text: String, max: usize, narrow: &str) -> (String, bool) {
    if text.len() <= max {
        return (text, false);
    }
    let mut end = max;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    let end = text[..end].rfind('\n').map(|i| i + 1).filter(|&i| i > max / 2).unwrap_or(end);
    let note = cut_note(format_args!("{end} of {} bytes", text.len()), Next::Narrow, narrow);
    (format!("{}\n[{note}]\n", &text[..end]), true)
}

/// Cuts a JSON document to about `max` bytes, keeping its shape readable: long strings are
/// shortened first, then arrays keep their first items, then the largest members of very
/// wide objects are summarized; every cut is marked in place (`"…N more items cut"`).
/// Returns whether anything was cut.
pub fn fit_json(value: &mut Value, max: usize) -> bool {
    if value_size(value) <= max {
        return false;
    }
    // Strings first: one huge string (a binary blob, a long HTML body) is the usual cause.
    for limit in [2048usize, 512, 128] {
        shorten_strings(value, limit);
        if value_size(value) <= max {
            return true;
        }
    }
    for keep in [50usize, 20, 5, 1] {
        cut_arrays(value, keep);
        if value_size(value) <= max {
            return true;
        }
    }
    summarize_members(value, max);
    true
}

fn shorten_strings(value: &mut Value, limit: usize) {
    match value {
        Value::String(s) if s.len() > limit => {
            let len = s.len();
            *s = format!("{} …[{} bytes cut]", crate::output::clip(s, limit), len.saturating_sub(limit));
        }
        Value::Array(items) => items.iter_mut().for_each(|v| shorten_strings(v, limit)),
        Value::Object(map) => map.values_mut().for_each(|v| shorten_strings(v, limit)),
        _ => {}
    }
}

fn cut_arrays(value: &mut Value, keep: usize) {
    match value {
        Value::Array(items) => {
            if items.len() > keep + 1 {
                let more = items.len() - keep;
                items.truncate(keep);
                items.push(Value::String(format!("…{more} more items cut")));
            }
            items.iter_mut().for_each(|v| cut_arrays(v, keep));
        }
        Value::Object(map) => map.values_mut().for_each(|v| cut_arrays(v, keep)),
        _ => {}
    }
}

fn summarize_members(value: &mut Value, max: usize) {
    if let Value::Object(map) = value {
        let keys: Vec<String> = map.keys().cloned().collect();
        let mut total = 0;
        for k in keys {
            let size = map.get(&k).map(value_size).unwrap_or(0);
            if total + size > max {
                let kind = match map.get(&k) {
                    Some(Value::Object(o)) => format!("object with {} keys", o.len()),
                    Some(Value::Array(a)) => format!("array of {}", a.len()),
                    _ => "value".into(),
                };
                map.insert(k, Value::String(format!("…cut ({kind}, {size} bytes)")));
                total += 40;
            } else {
                total += size;
            }
        }
    }
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

/// The size of `value` as compact JSON, the same as [`json_size`] but walking the value
/// instead of serializing it into a counter, several times faster (this runs twice per
/// audited request).
pub fn value_size(value: &Value) -> usize {
    match value {
        Value::Null | Value::Bool(true) => 4,
        Value::Bool(false) => 5,
        Value::Number(n) => match (n.as_u64(), n.as_i64()) {
            (Some(u), _) => digits(u),
            (None, Some(i)) => 1 + digits(i.unsigned_abs()),
            (None, None) => json_size(n),
        },
        Value::String(s) => string_size(s),
        Value::Array(items) => 2 + items.len().saturating_sub(1) + items.iter().map(value_size).sum::<usize>(),
        Value::Object(map) => object_size(map),
    }
}

/// [`value_size`] of an object.
pub fn object_size(map: &Map<String, Value>) -> usize {
    2 + map.len().saturating_sub(1) + map.iter().map(|(k, v)| string_size(k) + 1 + value_size(v)).sum::<usize>()
}

/// A JSON string's size: quotes, and escapes as serde_json writes them.
fn string_size(s: &str) -> usize {
    let escapes: usize = s
        .bytes()
        .map(|b| match b {
            b'"' | b'\\' | b'\n' | b'\r' | b'\t' | 0x08 | 0x0c => 1,
            0..=0x1f => 5,
            _ => 0,
        })
        .sum();
    2 + s.len() + escapes
}

fn digits(n: u64) -> usize {
    n.checked_ilog10().map_or(1, |d| d as usize + 1)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn sizes_are_those_of_the_serialized_text() {
        let values = [
            json!(null),
            json!([]),
            json!({}),
            json!([true, false, 0, 7, 10, 99_999, u64::MAX, -1, i64::MIN, 1.5, -0.25, 1e300]),
            json!({"a\"b\\c": "line\nbreak\ttab\r\u{8}\u{c}\u{1}\u{1f} é 😀", "nested": [{"x": [null]}, "y"]}),
        ];
        for v in values {
            assert_eq!(value_size(&v), serde_json::to_vec(&v).expect("json").len(), "{v}");
            assert_eq!(value_size(&v), json_size(&v), "{v}");
        }
    }

    #[test]
    fn pages_say_what_they_show_and_where_the_rest_starts() {
        let (kept, first) = page((0..10).collect(), 2, 3, 1000, |i| i.to_string());
        assert_eq!(kept.iter().map(|(i, _)| *i).collect::<Vec<_>>(), [2, 3, 4]);
        assert_eq!(first, Page { total: 10, offset: 2, returned: 3, truncated: true, next_offset: Some(5) });
        assert_eq!(
            first.note("rows", "filter them").as_deref(),
            Some("Truncated: showing rows 3-5 of 10. Get the rest with offset=5, or filter them.")
        );
        // The byte budget cuts too, but one item always comes back.
        let (kept, by_bytes) = page(vec!["x".repeat(50); 4], 0, 10, 60, Clone::clone);
        assert_eq!((kept.len(), by_bytes.next_offset), (1, Some(1)));
        let (_, last) = page((0..3).collect(), 0, 10, 1000, |i: &i32| i.to_string());
        assert_eq!((last.truncated, last.note("rows", "x")), (false, None));
    }

    #[test]
    fn cut_text_keeps_whole_lines_and_says_how_much() {
        let text: String = (0..100).map(|i| format!("line {i}\n")).collect();
        let (cut, was_cut) = cut_text(text.clone(), 100, "ask for fewer lines");
        assert!(was_cut);
        let (kept, note) = cut.split_once("\n[").expect("a note");
        assert!(text.starts_with(kept) && kept.ends_with('\n') && kept.len() <= 100, "{kept}");
        assert!(note.contains(&format!("of {} bytes", text.len())) && note.contains("ask for fewer lines"), "{note}");
        assert_eq!(cut_text("short".into(), 100, "x"), ("short".to_string(), false));
        // Never splits a character.
        let (cut, _) = cut_text("é".repeat(100), 51, "x");
        assert!(cut.starts_with(&"é".repeat(25)));
    }

    #[test]
    fn fit_json_cuts_and_marks_in_place() {
        let mut v = json!({"items": (0..1000).map(|i| json!({"i": i, "s": "x".repeat(100)})).collect::<Vec<_>>()});
        assert!(fit_json(&mut v, 4096));
        assert!(value_size(&v) <= 4096, "{}", value_size(&v));
        assert!(v.to_string().contains("more items cut"));
        let mut wide: Value = (0..200).map(|i| (format!("k{i}"), json!("v".repeat(200)))).collect::<Map<_, _>>().into();
        assert!(fit_json(&mut wide, 2000));
        // Members past the budget become short summaries saying what they were.
        assert!(value_size(&wide) < 42_000 / 4, "{}", value_size(&wide));
        assert!(wide["k199"].as_str().is_some_and(|s| s.starts_with("…cut (")), "{}", wide["k199"]);
        let mut small = json!({"a": 1});
        assert!(!fit_json(&mut small, 4096));
    }
}
