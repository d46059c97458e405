//! `export`: a read-only query's full result streamed to a file (CSV or JSON Lines) for
//! batch work, instead of through the model's context. Files go only under the
//! directory the operator configured; a file appears whole or not at all.

use std::io::Write as _;
use std::path::{Component, Path, PathBuf};
use std::sync::Arc;

use mcp_core::{Context, Json, ToolError};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::access::Relations;
use crate::databases::Databases;
use crate::transaction::{Access, ColumnInfo, Flow, each_row};

/// The file format.
#[derive(Debug, Clone, Copy, Deserialize, JsonSchema, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum Format {
    /// Comma-separated, a header line, RFC 4180 quoting; NULL as an empty field.
    Csv,
    /// One JSON object per line, keyed by column name.
    Jsonl,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ExportArgs {
    /// One reading SQL statement, as for `query`.
    pub sql: String,
    /// Values for $1, $2, ... in order.
    #[serde(default)]
    pub params: Vec<Value>,
    /// Which configured database (default: the first).
    pub database: Option<String>,
    /// The file to write, relative to the server's export directory (e.g. `orders/2024.csv`).
    pub path: String,
    /// `csv` or `jsonl`.
    pub format: Format,
    /// Replace the file if it exists (otherwise an existing file is an error).
    #[serde(default)]
    pub overwrite: bool,
}

/// What was written.
#[derive(Debug, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Exported {
    /// The file, as an absolute path on the server.
    pub path: String,
    /// Rows written.
    pub rows: u64,
    /// File size in bytes.
    pub bytes: u64,
    /// The columns, in order.
    pub columns: Vec<ColumnInfo>,
}

/// How often progress is reported, in rows.
const PROGRESS_EVERY: u64 = 10_000;

/// Streams the result of `sql` into a file under the export directory.
pub async fn export(dbs: Arc<Databases>, ctx: Context, args: ExportArgs) -> Result<Json<Exported>, ToolError> {
    let Some(dir) = &dbs.settings.export_dir else {
        return Err(ToolError::failed("export is disabled: the server was started without --export-dir"));
    };
    let target = resolve(dir, &args.path)?;
    // Whatever is there counts, a dangling symbolic link too (`exists` would follow it).
    if target.symlink_metadata().is_ok() && !args.overwrite {
        return Err(ToolError::invalid_arguments(format!(
            "`path`: {} already exists; pass overwrite: true to replace it",
            args.path
        )));
    }
    dbs.guard.check_read(&args.sql)?;
    let db = dbs.for_read(args.database.as_deref())?;
    if let Some(parent) = target.parent() {
        std::fs::create_dir_all(parent)
            .map_err(|e| ToolError::failed(format!("cannot create {}: {e}", parent.display())))?;
    }
    // Written beside the target and renamed at the end: a failed export leaves nothing.
    let (partial, file) = create_partial(&target)?;
    let result = write_rows(&dbs, &db, &ctx, &args, file).await;
    let (rows, columns) = match result {
        Ok(done) => done,
        Err(e) => {
            let _ = std::fs::remove_file(&partial);
            return Err(e);
        }
    };
    std::fs::rename(&partial, &target).map_err(|e| ToolError::failed(format!("cannot finish {}: {e}", args.path)))?;
    let bytes = std::fs::metadata(&target).map(|m| m.len()).unwrap_or(0);
    Ok(Json(Exported { path: target.display().to_string(), rows, bytes, columns }))
}

/// A new temporary file beside `target`: `.NAME.partial`, or, if something is already at
/// that name (a stale file, or a symbolic link planted there), `.NAME.<random>.partial`.
/// Created with `create_new` (O_CREAT|O_EXCL), which never opens an existing path and never
/// follows a symbolic link, so the rows cannot be written through one to elsewhere.
fn create_partial(target: &Path) -> Result<(PathBuf, std::fs::File), ToolError> {
    use std::hash::{BuildHasher, Hasher};
    let name = target.file_name().and_then(|n| n.to_str()).unwrap_or("export");
    let mut candidate = target.with_file_name(format!(".{name}.partial"));
    for _ in 0..8 {
        match std::fs::OpenOptions::new().write(true).create_new(true).open(&candidate) {
            Ok(file) => return Ok((candidate, file)),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                // RandomState is seeded from the OS's randomness: enough for a name no
                // one can plant in advance.
                let random = std::collections::hash_map::RandomState::new().build_hasher().finish();
                candidate = target.with_file_name(format!(".{name}.{random:016x}.partial"));
            }
            Err(e) => return Err(ToolError::failed(format!("cannot write {}: {e}", candidate.display()))),
        }
    }
    Err(ToolError::failed(format!(
        "cannot write beside {}: every temporary name tried already exists",
        target.display()
    )))
}

/// Where rows go, by format.
enum Sink {
    Csv(Box<csv::Writer<std::io::BufWriter<std::fs::File>>>),
    Jsonl(std::io::BufWriter<std::fs::File>),
}

impl Sink {
    fn header(&mut self, columns: &[ColumnInfo]) -> Result<(), String> {
        match self {
            Sink::Csv(w) => w.write_record(columns.iter().map(|c| c.name.as_str())).map_err(|e| e.to_string()),
            Sink::Jsonl(_) => Ok(()),
        }
    }

    /// One row: CSV fields with NULL empty and JSON values (objects, arrays) as their
    /// JSON text; JSON Lines as an object keyed by column name.
    fn row(&mut self, columns: &[ColumnInfo], values: Vec<Value>) -> Result<(), String> {
        match self {
            Sink::Csv(w) => {
                let fields = values.iter().map(|v| match v {
                    Value::Null => String::new(),
                    Value::String(s) => s.clone(),
                    other => other.to_string(),
                });
                w.write_record(fields).map_err(|e| e.to_string())
            }
            Sink::Jsonl(w) => {
                let object: serde_json::Map<String, Value> =
                    columns.iter().map(|c| c.name.clone()).zip(values).collect();
                serde_json::to_writer(&mut *w, &object).map_err(|e| e.to_string())?;
                w.write_all(b"\n").map_err(|e| e.to_string())
            }
        }
    }

    fn finish(self) -> Result<(), String> {
        let file = match self {
            Sink::Csv(w) => w.into_inner().map_err(|e| e.to_string())?,
            Sink::Jsonl(w) => w,
        };
        let file = file.into_inner().map_err(|e| e.to_string())?;
        file.sync_all().map_err(|e| e.to_string())
    }
}

async fn write_rows(
    dbs: &Databases,
    db: &Arc<crate::databases::Database>,
    ctx: &Context,
    args: &ExportArgs,
    file: std::fs::File,
) -> Result<(u64, Vec<ColumnInfo>), ToolError> {
    let buffered = std::io::BufWriter::with_capacity(256 * 1024, file);
    let mut sink = match args.format {
        Format::Csv => {
            Sink::Csv(Box::new(csv::WriterBuilder::new().terminator(csv::Terminator::CRLF).from_writer(buffered)))
        }
        Format::Jsonl => Sink::Jsonl(buffered),
    };
    let io = |e: String| ToolError::failed(format!("writing the export failed: {e}"));
    let mut tx = dbs.begin(ctx, db, Access::ReadOnly).await?;
    crate::guard::plan::check(&mut tx, &dbs.guard, &Relations::of(ctx)?, &args.sql, &args.params).await?;
    let mut rows = 0u64;
    let mut header_written = false;
    let outcome = each_row(&mut tx, &args.sql, &args.params, |columns, values| {
        if !header_written {
            sink.header(columns).map_err(io)?;
            header_written = true;
        }
        sink.row(columns, values).map_err(io)?;
        rows += 1;
        if rows.is_multiple_of(PROGRESS_EVERY) {
            ctx.progress(rows as f64, None, Some(&format!("{rows} rows written")));
        }
        Ok(Flow::More)
    })
    .await;
    let outcome = match outcome {
        Ok(o) => o,
        Err(e) => {
            tx.rollback();
            return Err(e);
        }
    };
    tx.rollback();
    if !header_written {
        sink.header(&outcome.columns).map_err(io)?;
    }
    sink.finish().map_err(io)?;
    ctx.progress(rows as f64, Some(rows as f64), Some("done"));
    Ok((rows, outcome.columns))
}

/// `path` under `dir`, refusing anything that could leave it (absolute paths, `..`,
/// symbolic links out of it).
fn resolve(dir: &Path, path: &str) -> Result<PathBuf, ToolError> {
    let relative = Path::new(path);
    let bad = || {
        ToolError::invalid_arguments(format!(
            "`path`: {path:?} must be a relative file path inside the export directory (no `..`, not absolute)"
        ))
    };
    if path.is_empty() || relative.is_absolute() || path.ends_with('/') {
        return Err(bad());
    }
    if relative.components().any(|c| !matches!(c, Component::Normal(_))) {
        return Err(bad());
    }
    let root = dir.canonicalize().map_err(|e| ToolError::failed(format!("export directory: {e}")))?;
    let target = root.join(relative);
    // Every existing ancestor must resolve inside the root (a symlinked folder must not lead out).
    let mut probe = target.clone();
    while !probe.exists() {
        if !probe.pop() {
            break;
        }
    }
    let resolved = probe.canonicalize().map_err(|e| ToolError::failed(format!("{path}: {e}")))?;
    if !resolved.starts_with(&root) || (target.exists() && target.is_symlink()) {
        return Err(bad());
    }
    Ok(target)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_stay_inside_the_export_directory() {
        let dir = tempfile::tempdir().expect("tempdir");
        assert!(resolve(dir.path(), "a/b.csv").is_ok());
        for bad in ["/etc/passwd", "../x.csv", "a/../../x", "", "a/"] {
            assert!(resolve(dir.path(), bad).is_err(), "{bad}");
        }
        std::os::unix::fs::symlink("/tmp", dir.path().join("out")).expect("symlink");
        assert!(resolve(dir.path(), "out/x.csv").is_err(), "a symlink out of the directory");
    }
}
