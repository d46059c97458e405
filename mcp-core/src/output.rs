//! Tool results made for models, as every connector writes them: a compact text to read
//! (an aligned table, a document) beside typed `structuredContent`, with cells kept to
//! one line and a bounded size.

use std::marker::PhantomData;

use schemars::JsonSchema;
use serde::Serialize;
use serde_json::Value;

use crate::protocol::{CallToolResult, JsonText};
use crate::server::{IntoToolResult, schema_of};

/// A tool result: `text` for the model to read, `data` as structured content (its type
/// gives the tool's output schema).
#[derive(Debug)]
pub struct Rendered<T> {
    /// What the model reads.
    pub text: String,
    /// The same result, typed.
    pub data: T,
}

impl<T: Serialize + JsonSchema> IntoToolResult for Rendered<T> {
    fn into_tool_result(self) -> CallToolResult {
        match serde_json::to_value(&self.data) {
            Ok(value) => CallToolResult::structured(self.text, value),
            Err(e) => CallToolResult::error(format!("could not serialize the result: {e}")),
        }
    }

    fn output_schema() -> Option<Value> {
        Some(schema_of::<T>())
    }
}

/// A tool result whose structured content is ready: a JSON tree (a backend's document,
/// trimmed), or JSON text made straight from a backend's bytes, which goes to the wire as
/// it is with no tree built of it. Sent as is, not serialized a second time; `T` gives
/// the schema.
#[derive(Debug)]
pub struct Prebuilt<T> {
    /// What the model reads.
    pub text: String,
    structured: Structured,
    schema: PhantomData<T>,
}

#[derive(Debug)]
enum Structured {
    Tree(Value),
    Text(JsonText),
}

impl<T: JsonSchema> Prebuilt<T> {
    /// A result of `text` and the ready `value`, described by `T`'s schema.
    pub fn new(text: String, value: Value) -> Self {
        Self { text, structured: Structured::Tree(value), schema: PhantomData }
    }

    /// A result of `text` and the structured content `json`, described by `T`'s schema.
    pub fn json(text: String, json: JsonText) -> Self {
        Self { text, structured: Structured::Text(json), schema: PhantomData }
    }

    /// The structured content when it is a tree (for a caller reading the result in
    /// process).
    pub fn value(&self) -> Option<&Value> {
        match &self.structured {
            Structured::Tree(value) => Some(value),
            Structured::Text(_) => None,
        }
    }
}

impl<T: JsonSchema> IntoToolResult for Prebuilt<T> {
    fn into_tool_result(self) -> CallToolResult {
        match self.structured {
            Structured::Tree(value) => CallToolResult::structured(self.text, value),
            Structured::Text(json) => CallToolResult::structured_json(self.text, json),
        }
    }

    fn output_schema() -> Option<Value> {
        Some(schema_of::<T>())
    }
}

/// A table with aligned columns, as `docker ps` or `kubectl get` print it. Cells should
/// already be one line ([`one_line`]); a row may have more cells than there are headers
/// (the last ones are not padded).
pub fn table(headers: &[&str], rows: &[Vec<String>]) -> String {
    let mut widths: Vec<usize> = headers.iter().map(|h| h.chars().count()).collect();
    for row in rows {
        for (i, cell) in row.iter().enumerate() {
            if let Some(w) = widths.get_mut(i) {
                *w = (*w).max(cell.chars().count());
            }
        }
    }
    let mut out = String::new();
    let mut line = |cells: &mut dyn ExactSizeIterator<Item = &str>| {
        let last = cells.len().saturating_sub(1);
        for (i, cell) in cells.enumerate() {
            out.push_str(cell);
            if i < last {
                let pad = widths.get(i).copied().unwrap_or(0).saturating_sub(cell.chars().count()) + 2;
                out.extend(std::iter::repeat_n(' ', pad));
            }
        }
        out.push('\n');
    };
    line(&mut headers.iter().copied());
    for row in rows {
        line(&mut row.iter().map(String::as_str));
    }
    out
}

/// `s` cut to at most `max` bytes at a character boundary, ending in `…` when cut.
pub fn clip(s: &str, max: usize) -> String {
    if s.len() <= max {
        return s.to_string();
    }
    // The ellipsis is 3 bytes of UTF-8 and counts against `max`.
    let mut end = max.saturating_sub(3);
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", &s[..end])
}

/// One line: control characters (newlines, tabs) as spaces, so a cell cannot break a
/// table or pass as a line of its own.
pub fn one_line(s: &str) -> String {
    s.chars().map(|c| if c.is_control() { ' ' } else { c }).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tables_align_columns_and_leave_extra_cells_unpadded() {
        let rows =
            vec![vec!["web".to_string(), "running".into()], vec!["db-primary".into(), "exited".into(), "x".into()]];
        let text = table(&["NAME", "STATE"], &rows);
        assert_eq!(text, "NAME        STATE\nweb         running\ndb-primary  exited   x\n");
    }

    #[test]
    fn clips_stay_within_the_bound_at_a_character_boundary() {
        assert_eq!(clip("short", 10), "short");
        let cut = clip("ééééé", 7);
        assert!(cut.len() <= 7 && cut.ends_with('…'), "{cut}");
        assert_eq!(cut, "éé…");
        assert_eq!(one_line("a\nb\tc"), "a b c");
    }

    #[test]
    fn rendered_results_carry_text_and_typed_content() {
        #[derive(Serialize, JsonSchema)]
        struct Count {
            n: u32,
        }
        let result = Rendered { text: "3 things".into(), data: Count { n: 3 } }.into_tool_result();
        assert_eq!(result.structured_content, Some(serde_json::json!({"n": 3})));
        assert!(!result.is_error);
        let schema = <Rendered<Count> as IntoToolResult>::output_schema().expect("a schema");
        assert!(schema.to_string().contains("\"n\""), "{schema}");
    }
}
