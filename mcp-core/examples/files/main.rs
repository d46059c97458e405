//! `files`: a read-only connector over local directories, written with the connector kit
//! only, to show what a connector author writes: flags, a state, and tools. Named roots
//! are the kit's targets, listings are its pages, long files its cut text, and the path
//! guard decides on the canonical path the file system resolved.
//!
//! ```sh
//! cargo run --example files -- --root docs=./docs --root src=./mcp-core/src
//! ```

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

use clap::Parser;
use mcp_core::cli::ServeArgs;
use mcp_core::connector::{Connector, Next, Page, Target, Targets, ToolSelection, check_target_names, cut_note, page};
use mcp_core::output::{Rendered, one_line, table};
use mcp_core::server::ServerBuilder;
use mcp_core::{Context, ToolError, tool_with};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

#[derive(Parser)]
#[command(version = mcp_core::cli::version_text(env!("CARGO_PKG_VERSION")), about = "A read-only MCP server over local directories")]
struct Cli {
    #[command(flatten)]
    serve: ServeArgs,
    #[command(flatten)]
    files: FilesArgs,
}

#[derive(Debug, Clone, clap::Args)]
struct FilesArgs {
    /// A directory to serve, as NAME=PATH (repeatable; the first is the default).
    #[arg(long = "root", required = true)]
    roots: Vec<String>,
    /// Toolsets to list: `browse` (list_dir, read_file), `search` (default: both).
    #[arg(long, value_delimiter = ',')]
    toolsets: Vec<String>,
    /// Most bytes of text one call returns.
    #[arg(long, default_value_t = 32 * 1024)]
    max_bytes: usize,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    mcp_core::connector::serve(&cli.serve, "files", env!("CARGO_PKG_VERSION"), || Files::open(&cli.files))
}

/// A directory served under a name.
#[derive(Debug)]
struct Root {
    name: String,
    /// Canonical: every path a call names must resolve inside it.
    path: PathBuf,
}

impl Target for Root {
    fn name(&self) -> &str {
        &self.name
    }
}

impl Root {
    /// `relative` resolved by the file system (links followed), refused if it lands
    /// outside the root, whatever its spelling (`..`, an absolute path, a symlink).
    fn resolve(&self, relative: &str) -> Result<PathBuf, ToolError> {
        let resolved = self.path.join(relative).canonicalize().map_err(|e| match e.kind() {
            std::io::ErrorKind::NotFound => ToolError::not_found(format!("`path`: `{relative}` does not exist")),
            _ => ToolError::failed(format!("`path`: `{relative}`: {e}")),
        })?;
        if !resolved.starts_with(&self.path) {
            return Err(ToolError::refused(format!("`path`: `{relative}` resolves outside root `{}`", self.name)));
        }
        Ok(resolved)
    }

    /// How a resolved path reads to the model: relative to the root.
    fn shown(&self, path: &Path) -> String {
        path.strip_prefix(&self.path).unwrap_or(path).display().to_string()
    }
}

struct Files {
    roots: Targets<Root>,
    selection: ToolSelection,
    max_bytes: usize,
}

impl Files {
    fn open(args: &FilesArgs) -> Result<Self, String> {
        let mut roots = Vec::new();
        for spec in &args.roots {
            let (name, path) = spec.split_once('=').ok_or(format!("--root `{spec}`: expected NAME=PATH"))?;
            let path = Path::new(path).canonicalize().map_err(|e| format!("--root {name}: {path}: {e}"))?;
            roots.push(Root { name: name.to_string(), path });
        }
        check_target_names("root", roots.iter().map(|r| r.name.as_str()))?;
        let selection = ToolSelection { toolsets: args.toolsets.clone(), ..Default::default() };
        Ok(Files { roots: Targets::new("root", roots, false)?, selection, max_bytes: args.max_bytes })
    }
}

impl Connector for Files {
    fn register(self: &Arc<Self>, builder: ServerBuilder) -> ServerBuilder {
        let roots = self.roots.describe(|r| format!("{} ({})", r.name, r.path.display()));
        builder
            .instructions(format!("Local files, read-only. Every tool takes an optional `root`:\n{roots}"))
            .tool(
                tool_with("list_dir", self, list_dir)
                    .description("Lists a directory: name, kind and size of each entry, sorted by name, paged.")
                    .read_only()
                    .toolset("browse"),
            )
            .tool(
                tool_with("read_file", self, read_file)
                    .description("Reads a UTF-8 text file from a byte offset, up to the size limit.")
                    .read_only()
                    .toolset("browse"),
            )
            .tool(
                tool_with("search", self, search)
                    .description("Finds the lines containing a text in the files under a directory.")
                    .read_only()
                    .toolset("search"),
            )
            .select_tools(&self.selection)
    }
}

#[derive(Deserialize, JsonSchema)]
struct ListArgs {
    /// The root to list in (default: the first).
    root: Option<String>,
    /// A directory relative to the root (default: the root itself).
    #[serde(default)]
    path: String,
    /// The index of the first entry to return, from a previous call's `nextOffset`.
    #[serde(default)]
    offset: usize,
}

#[derive(Serialize, JsonSchema)]
struct Entry {
    name: String,
    /// `file`, `dir` or `other`.
    kind: &'static str,
    /// Bytes (files only).
    size: Option<u64>,
}

#[derive(Serialize, JsonSchema)]
struct Listing {
    root: String,
    path: String,
    entries: Vec<Entry>,
    page: Page,
}

async fn list_dir(files: Arc<Files>, _ctx: Context, args: ListArgs) -> Result<Rendered<Listing>, ToolError> {
    let root = files.roots.for_read(args.root.as_deref())?;
    let dir = root.resolve(&args.path)?;
    let mut entries = Vec::new();
    for entry in std::fs::read_dir(&dir)? {
        let entry = entry?;
        let meta = entry.metadata()?;
        let kind = if meta.is_dir() {
            "dir"
        } else if meta.is_file() {
            "file"
        } else {
            "other"
        };
        let name = entry.file_name().to_string_lossy().into_owned();
        entries.push(Entry { name, kind, size: meta.is_file().then_some(meta.len()) });
    }
    entries.sort_by(|a, b| a.name.cmp(&b.name));
    let cells = |e: &Entry| vec![one_line(&e.name), e.kind.into(), e.size.map(|s| s.to_string()).unwrap_or_default()];
    let (kept, page) = page(entries, args.offset, 200, files.max_bytes, |e| cells(e).join("  "));
    let rows: Vec<Vec<String>> = kept.iter().map(|(e, _)| cells(e)).collect();
    let mut text = table(&["NAME", "KIND", "SIZE"], &rows);
    text.extend(page.note("entries", "list a subdirectory"));
    let entries = kept.into_iter().map(|(e, _)| e).collect();
    Ok(Rendered { text, data: Listing { root: root.name.clone(), path: root.shown(&dir), entries, page } })
}

#[derive(Deserialize, JsonSchema)]
struct ReadArgs {
    /// The root the file is in (default: the first).
    root: Option<String>,
    /// A file relative to the root.
    path: String,
    /// The byte to start at, from a previous call's `nextOffset`.
    #[serde(default)]
    offset: usize,
}

#[derive(Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
struct FileText {
    path: String,
    /// The file's size in bytes.
    size: usize,
    text: String,
    /// Where the next call should start, when the file goes on.
    next_offset: Option<usize>,
}

async fn read_file(files: Arc<Files>, _ctx: Context, args: ReadArgs) -> Result<Rendered<FileText>, ToolError> {
    let root = files.roots.for_read(args.root.as_deref())?;
    let path = root.resolve(&args.path)?;
    let bytes = tokio::fs::read(&path).await?;
    let all = String::from_utf8(bytes).map_err(|_| ToolError::failed(format!("`{}` is not UTF-8 text", args.path)))?;
    let start = args.offset.min(all.len());
    if !all.is_char_boundary(start) {
        return Err(ToolError::invalid_arguments(format!("`offset`: {start} is inside a character")));
    }
    let mut end = (start + files.max_bytes).min(all.len());
    while !all.is_char_boundary(end) {
        end -= 1;
    }
    let next_offset = (end < all.len()).then_some(end);
    let mut text = all[start..end].to_string();
    if let Some(next) = next_offset {
        let shown = format!("bytes {start}-{end} of {}", all.len());
        text = format!("{text}\n[{}]", cut_note(shown, Next::Offset(next), "search for what you need"));
    }
    let data = FileText { path: root.shown(&path), size: all.len(), text: all[start..end].to_string(), next_offset };
    Ok(Rendered { text, data })
}

#[derive(Deserialize, JsonSchema)]
struct SearchArgs {
    /// The root to search in (default: the first).
    root: Option<String>,
    /// The text to find (case-sensitive).
    text: String,
    /// A directory relative to the root (default: all of it).
    #[serde(default)]
    path: String,
    /// The index of the first match to return, from a previous call's `nextOffset`.
    #[serde(default)]
    offset: usize,
}

#[derive(Serialize, JsonSchema)]
struct Match {
    path: String,
    /// 1-based.
    line: usize,
    text: String,
}

#[derive(Serialize, JsonSchema)]
struct Matches {
    matches: Vec<Match>,
    page: Page,
}

/// Files a search reads at most: a bound on time, whatever the tree.
const SEARCH_FILES: usize = 10_000;

async fn search(files: Arc<Files>, _ctx: Context, args: SearchArgs) -> Result<Rendered<Matches>, ToolError> {
    if args.text.is_empty() {
        return Err(ToolError::invalid_arguments("`text`: give the text to find"));
    }
    let root = files.roots.for_read(args.root.as_deref())?;
    let (mut pending, mut found, mut read) = (vec![root.resolve(&args.path)?], Vec::new(), 0);
    while let Some(dir) = pending.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else { continue };
        for entry in entries.flatten() {
            // Links are not followed: a search stays inside the root by construction.
            let Ok(kind) = entry.file_type() else { continue };
            if kind.is_dir() {
                pending.push(entry.path());
            } else if kind.is_file() && read < SEARCH_FILES {
                read += 1;
                let Ok(content) = std::fs::read_to_string(entry.path()) else { continue };
                let path = root.shown(&entry.path());
                let hits = content.lines().enumerate().filter(|(_, l)| l.contains(&args.text));
                found.extend(hits.map(|(i, l)| Match { path: path.clone(), line: i + 1, text: one_line(l) }));
            }
        }
    }
    found.sort_by(|a, b| (&a.path, a.line).cmp(&(&b.path, b.line)));
    let (kept, page) = page(found, args.offset, 100, files.max_bytes, |m| format!("{}:{}: {}", m.path, m.line, m.text));
    let mut text: String = kept.iter().map(|(_, line)| format!("{line}\n")).collect();
    text.extend(page.note("matches", "search a subdirectory or a longer text"));
    let matches = kept.into_iter().map(|(m, _)| m).collect();
    Ok(Rendered { text, data: Matches { matches, page } })
}

#[cfg(test)]
mod tests;
