//! Results as the model sees them: every row once, as a compact tab-separated table in the
//! text (a fraction of JSON's tokens, and the one part many clients give their model),
//! ending with the row count and, when the result was cut, how to get the rest; and in
//! `structuredContent` the result's shape (columns and their types, counts, paging) with
//! the first rows as typed JSON, so that a small result is whole in both.
//!
//! The rows go once, not twice, because a second full copy is what large results cost
//! clients: the official Python SDK client spent more time parsing and validating the JSON
//! rows of a 10,000-row result than the query took (benches/sdk.rs). For the same reason
//! the schema of `rows` says only that it is an array: a per-row schema is checked row by
//! row by validating clients.

use std::fmt::Write as _;

use mcp_core::connector::bounded::value_size;
use mcp_core::connector::{Next, cut_note};
use mcp_core::protocol::CallToolResult;
use mcp_core::server::IntoToolResult;
use schemars::JsonSchema;
use serde::Serialize;
use serde_json::{Map, Value, json};

use crate::transaction::{ColumnInfo, Cut, Rows};

/// At most this many rows are repeated as JSON in `structuredContent` (the default row
/// limit, so that a default-sized result of narrow rows is whole there too)...
const STRUCTURED_ROWS: usize = 500;
/// ...and at most this many bytes of them (the text has every row).
const STRUCTURED_BYTES: usize = 32 * 1024;

/// The schema of a tabular result, for `outputSchema` (kept terse: every tabular tool
/// repeats it in `tools/list`).
#[derive(Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
#[allow(dead_code)]
pub struct TableSchema {
    database: String,
    /// Name and Postgres type of each column.
    columns: Vec<ColumnInfo>,
    /// The first rows (up to 500, and 32 KiB), typed, as arrays in column order: all of
    /// them when `rows` has `rowCount` entries; the text has every row, tab-separated.
    #[schemars(schema_with = "any_array")]
    rows: Vec<Value>,
    /// Rows in this result (all in the text).
    row_count: usize,
    truncated: bool,
    /// Pass as `offset` for the next rows.
    #[serde(skip_serializing_if = "Option::is_none")]
    next_offset: Option<usize>,
    #[serde(skip_serializing_if = "Option::is_none")]
    rows_affected: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    note: Option<String>,
}

/// `{"type": "array"}`: what is true of `rows` and costs a validating client one check,
/// where a schema per row costs one per row.
fn any_array(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
    schemars::json_schema!({"type": "array"})
}

/// A tabular tool result.
#[derive(Debug)]
pub struct Table {
    pub database: String,
    pub rows: Rows,
    /// The offset the rows start at.
    pub offset: usize,
    /// Rows changed (writes only).
    pub rows_affected: Option<u64>,
    pub note: Option<String>,
    /// The rows come from the model's own SQL, whose order may not be stable between
    /// calls; catalog listings are ordered.
    pub user_sql: bool,
}

impl Table {
    fn next_offset(&self) -> Option<usize> {
        self.rows.cut.map(|_| self.offset + self.rows.rows.len())
    }

    /// The line that says what was cut and how to get the rest, in the kit's wording.
    fn truncation_note(&self) -> Option<String> {
        let next = self.next_offset()?;
        let count = self.rows.rows.len();
        let rows = format!("rows {}-{}", self.offset + 1, self.offset + count);
        let shown = match self.rows.cut? {
            Cut::Rows => format!("{rows} (the {count}-row limit)"),
            Cut::Bytes => format!("{rows} (the result size budget)"),
            Cut::Values => format!(
                "{rows}, long values shortened to fit the result size budget (each says how much it lost); more rows \
                 may follow"
            ),
        };
        // The model's own SQL may have no stable order between calls; catalog listings do.
        let narrow = if self.user_sql {
            "aggregate / filter in SQL (add ORDER BY so that pages are stable)"
        } else {
            "narrow the filter"
        };
        Some(cut_note(shown, Next::Offset(next), narrow))
    }
}

/// Tab-separated: a header of column names, then one line per row. NULL is `\N` and
/// tabs, newlines and backslashes in values are escaped, as in Postgres's COPY text.
pub fn tsv(columns: &[ColumnInfo], rows: &[Value]) -> String {
    let mut out = String::with_capacity(64 * (rows.len() + 1));
    for (i, c) in columns.iter().enumerate() {
        if i > 0 {
            out.push('\t');
        }
        escape_into(&mut out, &c.name);
    }
    out.push('\n');
    for row in rows {
        let Value::Array(values) = row else { continue };
        for (i, v) in values.iter().enumerate() {
            if i > 0 {
                out.push('\t');
            }
            match v {
                Value::Null => out.push_str("\\N"),
                Value::String(s) => escape_into(&mut out, s),
                Value::Bool(b) => out.push_str(if *b { "t" } else { "f" }),
                Value::Number(n) => {
                    let _ = write!(out, "{n}");
                }
                other => escape_into(&mut out, &other.to_string()),
            }
        }
        out.push('\n');
    }
    out
}

fn escape_into(out: &mut String, s: &str) {
    if !s.contains(['\t', '\n', '\r', '\\']) {
        out.push_str(s);
        return;
    }
    for c in s.chars() {
        match c {
            '\t' => out.push_str("\\t"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\\' => out.push_str("\\\\"),
            c => out.push(c),
        }
    }
}

/// How many of `rows` go into `structuredContent`: the first, within both bounds, and at
/// least one, so that a one-row result (an aggregate, a lookup) is always whole there.
fn structured_prefix(rows: &[Value]) -> usize {
    let mut bytes = 0;
    let fit = rows
        .iter()
        .take(STRUCTURED_ROWS)
        .take_while(|row| {
            bytes += value_size(row);
            bytes <= STRUCTURED_BYTES
        })
        .count();
    fit.max(rows.len().min(1))
}

impl IntoToolResult for Table {
    fn into_tool_result(self) -> CallToolResult {
        let note = match (self.truncation_note(), &self.note) {
            (Some(t), Some(n)) => Some(format!("{n}\n{t}")),
            (t, n) => t.or_else(|| n.clone()),
        };
        let row_count = self.rows.rows.len();
        let mut text = String::new();
        if let Some(affected) = self.rows_affected {
            let _ = writeln!(text, "{affected} row(s) affected");
        }
        if !self.rows.columns.is_empty() {
            text.push_str(&tsv(&self.rows.columns, &self.rows.rows));
            // As psql ends a table: a model should not have to count lines.
            let _ = writeln!(text, "({row_count} row{})", if row_count == 1 { "" } else { "s" });
        }
        if let Some(note) = &note {
            text.push_str(note);
            text.push('\n');
        }
        let next_offset = self.next_offset();
        let mut rows = self.rows.rows;
        rows.truncate(structured_prefix(&rows));
        let mut structured = Map::new();
        structured.insert("database".into(), Value::String(self.database));
        structured.insert("columns".into(), json!(self.rows.columns));
        structured.insert("rows".into(), Value::Array(rows));
        structured.insert("rowCount".into(), json!(row_count));
        structured.insert("truncated".into(), Value::Bool(next_offset.is_some()));
        if let Some(next) = next_offset {
            structured.insert("nextOffset".into(), json!(next));
        }
        if let Some(affected) = self.rows_affected {
            structured.insert("rowsAffected".into(), json!(affected));
        }
        if let Some(note) = note {
            structured.insert("note".into(), Value::String(note));
        }
        CallToolResult::structured(text, Value::Object(structured))
    }

    fn output_schema() -> Option<Value> {
        Some(mcp_core::server::schema_of::<TableSchema>())
    }
}

#[cfg(test)]
mod tests {
    use mcp_core::testing::text;

    use super::*;

    #[test]
    fn tsv_escapes_like_copy_text() {
        let columns = vec![
            ColumnInfo { name: "a".into(), type_name: "text".into() },
            ColumnInfo { name: "b".into(), type_name: "int4".into() },
        ];
        let rows = vec![json!(["x\ty\nz\\", 1]), json!([null, true])];
        assert_eq!(tsv(&columns, &rows), "a\tb\nx\\ty\\nz\\\\\t1\n\\N\tt\n");
    }

    fn table(rows: Vec<Value>) -> Table {
        let columns = vec![ColumnInfo { name: "n".into(), type_name: "int4".into() }];
        Table {
            database: "main".into(),
            rows: Rows { columns, rows, cut: None, rows_affected: 0 },
            offset: 0,
            rows_affected: None,
            note: None,
            user_sql: true,
        }
    }

    #[test]
    fn every_row_goes_once_in_the_text_and_the_first_in_the_structure() {
        let result = table((0..600).map(|i| json!([i])).collect()).into_tool_result();
        let all = text(&result);
        assert_eq!(all.lines().count(), 1 + 600 + 1, "header, rows, count");
        assert!(all.ends_with("\n599\n(600 rows)\n"), "{all}");
        let s = result.structured_content.expect("structured");
        assert_eq!(s["rowCount"], 600);
        assert_eq!(s["rows"].as_array().map(Vec::len), Some(STRUCTURED_ROWS));
        assert_eq!(s["rows"][499], json!([499]));

        let small = table(vec![json!([1])]).into_tool_result();
        assert!(text(&small).ends_with("n\n1\n(1 row)\n"));
        assert_eq!(small.structured_content.expect("structured")["rows"], json!([[1]]), "a small result whole");
    }

    #[test]
    fn structured_rows_stop_at_the_byte_bound() {
        let wide = "x".repeat(STRUCTURED_BYTES / 4);
        let result = table((0..10).map(|_| json!([wide])).collect()).into_tool_result();
        let s = result.structured_content.clone().expect("structured");
        assert_eq!(s["rows"].as_array().map(Vec::len), Some(3), "3 rows of a quarter fit, not 4");
        assert_eq!(s["rowCount"], 10);
        assert_eq!(text(&result).matches(&wide).count(), 10, "the text has every row");

        let huge = "y".repeat(STRUCTURED_BYTES * 2);
        let one = table(vec![json!([huge]), json!([huge])]).into_tool_result();
        assert_eq!(one.structured_content.expect("structured")["rows"], json!([[huge]]), "at least the first row");
    }

    #[test]
    fn the_row_schema_is_one_check_not_one_per_row() {
        let schema = Table::output_schema().expect("schema");
        assert_eq!(schema["properties"]["rows"]["type"], "array");
        assert!(schema["properties"]["rows"].get("items").is_none(), "{schema}");
    }
}
