//! Results as the model sees them: a compact text rendering (a `docker ps`-style table,
//! log lines) plus typed `structuredContent`, and the helpers that keep both bounded.

pub use mcp_core::connector::{Next, Page, cut_note, page};
pub use mcp_core::output::{Prebuilt, Rendered, clip, one_line, table};

/// What a tool handler returns: its rendering, or why it failed.
pub type Reply<T> = Result<Rendered<T>, mcp_core::ToolError>;

/// A change's result: `message` is both the text and, through `data`, part of the
/// structured result.
pub fn said<T>(message: String, data: impl FnOnce(String) -> T) -> Rendered<T> {
    Rendered { text: message.clone(), data: data(message) }
}

/// How a cut listing says to see the rest besides paging.
pub const NARROW: &str = "narrow the filters";

/// Where a page of a listing starts and how much it may hold.
#[derive(Debug, Clone, Copy)]
pub struct Window {
    pub offset: usize,
    pub limit: usize,
    pub max_bytes: usize,
}

/// A page of `rows` as the model reads it: a table of `cells` under `headers` (or
/// `empty`, when given and nothing is left), then the cut note naming `what`. `line`
/// measures a row against the byte budget. Returns the rows kept, the text, the page.
pub fn listing<T>(
    rows: Vec<T>,
    window: Window,
    (what, headers): (&str, &[&str]),
    line: impl Fn(&T) -> String,
    cells: impl Fn(&T) -> Vec<String>,
    empty: Option<String>,
) -> (Vec<T>, String, Page) {
    let (kept, page) = page(rows, window.offset, window.limit, window.max_bytes, line);
    let rows: Vec<T> = kept.into_iter().map(|(row, _)| row).collect();
    let mut text = match empty {
        Some(empty) if rows.is_empty() => empty,
        _ => table(headers, &rows.iter().map(cells).collect::<Vec<_>>()),
    };
    if let Some(note) = page.note(what, NARROW) {
        text += &note;
    }
    (rows, text, page)
}

/// An inspect tool's answer: the engine's document (its bytes, `document`), trimmed as
/// `trim` says, as the text and, beside the host, as the structured member `key`. The
/// trimmed JSON text is written once and sent as it is (`mcp_core::connector::trim`).
pub fn inspected<T: schemars::JsonSchema>(
    host: &str,
    key: &str,
    document: &[u8],
    trim: &mcp_core::connector::Trim,
) -> Result<Prebuilt<T>, mcp_core::ToolError> {
    let text = mcp_core::connector::trimmed(document, trim).map_err(|e| {
        mcp_core::ToolError::failed(format!("host `{host}`: the engine sent a document that is not JSON: {e}"))
    })?;
    let mut structured = String::with_capacity(text.len() + host.len() + key.len() + 16);
    structured.push_str("{\"host\":");
    structured.push_str(&serde_json::to_string(host)?);
    structured.push(',');
    structured.push_str(&serde_json::to_string(key)?);
    structured.push(':');
    structured.push_str(&text);
    structured.push('}');
    Ok(Prebuilt::json(text, mcp_core::protocol::JsonText::new(structured)?))
}

/// Bytes as Docker prints them (1000-based, as `docker images` does).
pub fn human_size(bytes: i64) -> String {
    let units = ["B", "kB", "MB", "GB", "TB"];
    let mut value = bytes.max(0) as f64;
    let mut unit = 0;
    while value >= 1000.0 && unit < units.len() - 1 {
        value /= 1000.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{bytes}B")
    } else {
        format!("{value:.3}").trim_end_matches('0').trim_end_matches('.').to_string() + units[unit]
    }
}

/// Bytes in binary units (memory, as `docker stats` prints it).
pub fn human_bytes(bytes: u64) -> String {
    let units = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut value = bytes as f64;
    let mut unit = 0;
    while value >= 1024.0 && unit < units.len() - 1 {
        value /= 1024.0;
        unit += 1;
    }
    if unit == 0 { format!("{bytes}B") } else { format!("{value:.2}{}", units[unit]) }
}

/// A Unix time as RFC 3339 (UTC), or the number if it is out of range.
pub fn rfc3339(secs: i64) -> String {
    // Not `format("%Y-…")`: that parses the pattern again for every row of a listing.
    chrono::DateTime::from_timestamp(secs, 0)
        .map_or_else(|| secs.to_string(), |t| t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true))
}

/// How long ago a Unix time was, as `docker ps` says it ("5 minutes ago").
pub fn ago(secs: i64) -> String {
    let now = chrono::Utc::now().timestamp();
    let d = (now - secs).max(0);
    let (n, unit) = match d {
        0..60 => (d, "second"),
        60..3600 => (d / 60, "minute"),
        3600..86400 => (d / 3600, "hour"),
        86400..2_592_000 => (d / 86400, "day"),
        2_592_000..31_536_000 => (d / 2_592_000, "month"),
        _ => (d / 31_536_000, "year"),
    };
    format!("{n} {unit}{} ago", if n == 1 { "" } else { "s" })
}

/// The short form of an id (`sha256:` dropped, 12 characters), as Docker prints it.
pub fn short_id(id: &str) -> String {
    let id = id.strip_prefix("sha256:").unwrap_or(id);
    id.chars().take(12).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn listings_are_a_table_or_the_empty_line_then_the_cut_note() {
        let window = Window { offset: 1, limit: 2, max_bytes: 1000 };
        let (rows, text, page) =
            listing((0..5).collect(), window, ("rows", &["N"]), |n| n.to_string(), |n| vec![n.to_string()], None);
        assert_eq!((rows, page.next_offset), (vec![1, 2], Some(3)));
        assert!(
            text.starts_with("N\n1\n2\n") && text.ends_with("Get the rest with offset=3, or narrow the filters."),
            "{text}"
        );
        let none =
            listing(Vec::<u8>::new(), window, ("rows", &["N"]), |n| n.to_string(), |_| vec![], Some("None.\n".into()));
        assert_eq!(none.1, "None.\n");
    }

    #[test]
    fn inspect_answers_carry_the_document_as_text_and_structure() {
        let doc = serde_json::json!({"Id": "abc", "State": {"Running": true, "Error": ""}});
        let trimmed = serde_json::json!({"Id": "abc", "State": {"Running": true}});
        let bytes = doc.to_string().into_bytes();
        let trim = mcp_core::connector::Trim::default();
        let answer = inspected::<serde_json::Value>("lo\"cal", "container", &bytes, &trim).expect("JSON");
        assert_eq!(serde_json::from_str::<serde_json::Value>(&answer.text).ok(), Some(trimmed.clone()));
        let result = mcp_core::server::IntoToolResult::into_tool_result(answer);
        let structured = result.structured_json.map(|j| j.to_value());
        assert_eq!(structured, Some(serde_json::json!({"host": "lo\"cal", "container": trimmed})));
        let broken = inspected::<serde_json::Value>("local", "container", b"{\"Id\":", &trim).expect_err("not JSON");
        assert!(broken.to_string().contains("not JSON"), "{broken}");
    }

    #[test]
    fn tables_cope_with_ragged_rows() {
        let out = table(&["A", "B"], &[vec!["1".into(), "2".into(), "3".into()], vec!["x".into()]]);
        assert_eq!(out, "A  B\n1  2  3\nx\n");
    }

    #[test]
    fn sizes_read_like_docker() {
        assert_eq!(human_size(999), "999B");
        assert_eq!(human_size(1_500_000), "1.5MB");
        assert_eq!(human_bytes(2048), "2.00KiB");
        assert_eq!(clip("héllo world", 5), "h…");
        assert_eq!(rfc3339(1_700_000_000), "2023-11-14T22:13:20Z");
    }
}
