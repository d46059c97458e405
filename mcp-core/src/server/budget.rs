//! The output budget: no single result may flood the model's context.
//!
//! Text beyond the budget is cut at a character boundary and replaced by a marker that
//! says how much was cut and how to get the rest, so the model never mistakes a partial
//! answer for a whole one.

use crate::protocol::{CallToolResult, Content};

/// Cuts `result` down to `max_bytes` of text and binary payload; returns whether it cut.
pub(crate) fn enforce(result: &mut CallToolResult, max_bytes: usize) -> bool {
    let total: usize = result.content.iter().map(payload_len).sum();
    // Counted, not rendered: a large result would otherwise be serialized into a
    // throwaway string on every call.
    let structured = match (&result.structured_content, &result.structured_json) {
        (Some(value), _) => crate::connector::bounded::json_size(value),
        (None, Some(json)) => json.get().len(),
        (None, None) => 0,
    };
    if total <= max_bytes && structured <= max_bytes {
        return false;
    }
    if structured > max_bytes {
        // Structured content cannot be cut without breaking its schema; the text copy is
        // cut instead, and the structured copy dropped.
        result.structured_content = None;
        result.structured_json = None;
    }
    let mut left = max_bytes;
    let mut kept = Vec::with_capacity(result.content.len());
    let mut cut_bytes = 0usize;
    for block in std::mem::take(&mut result.content) {
        let len = payload_len(&block);
        if len <= left {
            left -= len;
            kept.push(block);
            continue;
        }
        match block {
            Content::Text { text, annotations } if left > 0 => {
                let end = floor_char_boundary(&text, left);
                cut_bytes += text.len() - end;
                left = 0;
                kept.push(Content::Text { text: text[..end].to_string(), annotations });
            }
            other => cut_bytes += payload_len(&other),
        }
    }
    kept.push(Content::text(format!(
        "[output truncated: {cut_bytes} of {total} bytes were cut to fit the {max_bytes}-byte output budget. \
         Ask for less to see the rest: narrow the request with the tool's filter, limit or offset/cursor arguments.]"
    )));
    result.content = kept;
    true
}

fn payload_len(block: &Content) -> usize {
    match block {
        Content::Text { text, .. } => text.len(),
        Content::Image { data, .. } | Content::Audio { data, .. } => data.len(),
        Content::Resource { resource, .. } => match resource {
            crate::protocol::ResourceContents::Text { text, .. } => text.len(),
            crate::protocol::ResourceContents::Blob { blob, .. } => blob.len(),
        },
        Content::ResourceLink { uri, name, .. } => uri.len() + name.len(),
    }
}

/// The largest char boundary of `s` at or below `i`.
pub(crate) fn floor_char_boundary(s: &str, mut i: usize) -> usize {
    if i >= s.len() {
        return s.len();
    }
    while !s.is_char_boundary(i) {
        i -= 1;
    }
    i
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn small_results_pass_untouched() {
        let mut r = CallToolResult::success(vec![Content::text("hello")]);
        assert!(!enforce(&mut r, 100));
        assert_eq!(r.content, vec![Content::text("hello")]);
    }

    #[test]
    fn large_text_is_cut_with_a_marker_at_a_char_boundary() {
        let mut r = CallToolResult::success(vec![Content::text("é".repeat(100))]);
        assert!(enforce(&mut r, 51));
        let Content::Text { text, .. } = &r.content[0] else { panic!("text") };
        assert_eq!(text.len(), 50);
        let Content::Text { text: marker, .. } = &r.content[1] else { panic!("marker") };
        assert!(marker.contains("150 of 200 bytes were cut"), "{marker}");
    }

    #[test]
    fn structured_json_over_the_budget_is_dropped_and_its_text_cut() {
        let big = format!("[{}]", vec!["1"; 100].join(","));
        let json = crate::protocol::JsonText::new(big.clone()).expect("json");
        let mut r = CallToolResult::structured_json(big.clone(), json.clone());
        assert!(!enforce(&mut r, big.len()), "at the budget: untouched");
        assert_eq!(r.structured_json, Some(json));
        assert!(enforce(&mut r, big.len() - 1));
        assert_eq!(r.structured_json, None);
        let Content::Text { text, .. } = &r.content[0] else { panic!("text") };
        assert_eq!(text.len(), big.len() - 1);
    }
}
