//! Results as the model sees them: typed JSON in `structuredContent` and the same rows as
//! a compact tab-separated table in the text (a fraction of JSON's tokens), with a line
//! saying when the result was cut and how to get the rest.

use std::fmt::Write as _;

use mcp_core::connector::{Next, cut_note};
use mcp_core::protocol::CallToolResult;
use mcp_core::server::IntoToolResult;
use schemars::JsonSchema;
use serde::Serialize;
use serde_json::{Map, Value, json};

use crate::transaction::{ColumnInfo, Cut, Rows};

/// The schema of a tabular result, for `outputSchema` (kept terse: every tabular tool
/// repeats it in `tools/list`).
#[derive(Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
#[allow(dead_code)]
pub struct TableSchema {
    database: String,
    /// Name and Postgres type of each column.
    columns: Vec<ColumnInfo>,
    /// Arrays in column order.
    rows: Vec<Vec<Value>>,
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

impl IntoToolResult for Table {
    fn into_tool_result(self) -> CallToolResult {
        let note = match (self.truncation_note(), &self.note) {
            (Some(t), Some(n)) => Some(format!("{n}\n{t}")),
            (t, n) => t.or_else(|| n.clone()),
        };
        let mut text = tsv(&self.rows.columns, &self.rows.rows);
        if let Some(affected) = self.rows_affected {
            text = format!("{affected} row(s) affected\n{}", if self.rows.columns.is_empty() { "" } else { &text });
        }
        if let Some(note) = &note {
            text.push_str(note);
            text.push('\n');
        }
        let mut structured = Map::new();
        structured.insert("database".into(), Value::String(self.database.clone()));
        structured.insert("columns".into(), json!(self.rows.columns));
        let row_count = self.rows.rows.len();
        let next_offset = self.next_offset();
        structured.insert("rows".into(), Value::Array(self.rows.rows));
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
}
