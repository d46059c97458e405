//! Files in containers: `read_container_file` reads a file (or lists a directory) through
//! the archive API, so it works in images without a shell or `cat`; with --allow-write,
//! `copy_from_container` and `copy_to_container` move files between a container and host
//! directories under --allow-bind-path. Everything is bounded by --max-copy-bytes.

use std::io::Read;
use std::path::{Component, Path};
use std::sync::Arc;

use bollard::query_parameters::{DownloadFromContainerOptions, UploadToContainerOptions};
use futures::StreamExt;
use mcp_core::server::ServerBuilder;
use mcp_core::{Context, ToolError, tool_with};
use schemars::JsonSchema;
use serde::Serialize;

use crate::config::Toolset;
use crate::daemons::{Call, Daemons};
use crate::errors::NO_CONTAINER;
use crate::output::{Next, Rendered, Reply, clip, cut_note, human_size, one_line, said, table};

pub fn register(builder: ServerBuilder, daemons: &Arc<Daemons>) -> ServerBuilder {
    builder.tools_in(Toolset::Containers.name(), [
        tool_with("read_container_file", daemons, read_container_file)
            .title("Read a file in a container")
            .description(
                "Reads a text file from a container's filesystem (running or stopped; no shell needed in the image), \
                 cut to the output budget, or lists a directory's entries. Binary files are reported, not returned.",
            )
            .read_only(),
        tool_with("copy_from_container", daemons, copy_from_container)
                .title("Copy files out of a container")
                .description(
                    "Copies a file or directory from a container into a host directory under --allow-bind-path \
                     (docker cp). Existing host files are kept unless `overwrite`. Bounded by --max-copy-bytes.",
                )
                .additive(),
        tool_with("copy_to_container", daemons, copy_to_container)
                .title("Copy files into a container")
                .description(
                    "Copies a host file or directory (under --allow-bind-path) into a directory of a container \
                     (docker cp), replacing files of the same name there. Bounded by --max-copy-bytes.",
                )
                .destructive(),
    ])
}

fn check_container_path(path: &str) -> Result<(), ToolError> {
    if !path.starts_with('/') || path.len() > 4096 || path.contains('\0') {
        return Err(ToolError::invalid_arguments(format!(
            "`path`: `{}` must be an absolute path inside the container",
            clip(path, 80)
        )));
    }
    Ok(())
}

/// The tar archive of `path` in the container, refused past `max` bytes.
async fn download(call: &Call, container: &str, path: &str, max: usize) -> Result<Vec<u8>, ToolError> {
    let mut stream =
        call.docker.download_from_container(container, Some(DownloadFromContainerOptions { path: path.to_string() }));
    let mut archive = Vec::new();
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(
            call.fail("Check the container (list_containers) and the path (read_container_file on its directory)"),
        )?;
        if archive.len() + chunk.len() > max {
            return Err(ToolError::failed(format!(
                "`{path}` is larger than the copy limit ({}, --max-copy-bytes); copy a smaller part",
                human_size(max as i64)
            )));
        }
        archive.extend_from_slice(&chunk);
    }
    Ok(archive)
}

tool_args! {
    read ReadArgs {
        /// The container's id (or a unique prefix) or name.
        pub container: String,
        /// Absolute path of a file or directory in the container.
        pub path: String,
    }
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct Entry {
    pub name: String,
    /// file, dir, symlink or other.
    pub kind: String,
    pub size: u64,
}

#[derive(Debug, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct FileRead {
    pub host: String,
    pub container: String,
    pub path: String,
    /// file or dir.
    pub kind: String,
    /// The file's size in bytes (files only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub size: Option<u64>,
    /// The text, cut to the budget (text files only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub content: Option<String>,
    pub truncated: bool,
    pub binary: bool,
    /// Directory entries (directories only), bounded by the row limit.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub entries: Vec<Entry>,
}

fn kind_of(entry_type: tar::EntryType) -> &'static str {
    if entry_type.is_dir() {
        "dir"
    } else if entry_type.is_symlink() || entry_type.is_hard_link() {
        "symlink"
    } else if entry_type.is_file() {
        "file"
    } else {
        "other"
    }
}

pub async fn read_container_file(daemons: Arc<Daemons>, _ctx: Context, args: ReadArgs) -> Reply<FileRead> {
    check_container_path(&args.path)?;
    let call = daemons.read_container(args.host.as_deref(), &args.container).await?;
    let settings = &daemons.settings;
    let archive = download(&call, &call.id, &args.path, settings.max_copy_bytes).await?;
    let mut tar = tar::Archive::new(archive.as_slice());
    let entries = tar.entries().map_err(|e| ToolError::failed(format!("unreadable archive from Docker: {e}")))?;
    let mut out = FileRead {
        host: call.name.clone(),
        container: args.container.clone(),
        path: args.path.clone(),
        kind: "file".into(),
        size: None,
        content: None,
        truncated: false,
        binary: false,
        entries: Vec::new(),
    };
    let mut total_entries = 0usize;
    for (i, entry) in entries.enumerate() {
        let mut entry = entry.map_err(|e| ToolError::failed(format!("unreadable archive from Docker: {e}")))?;
        let header_type = entry.header().entry_type();
        let size = entry.header().size().unwrap_or(0);
        if i == 0 && !header_type.is_dir() {
            // The path itself is a file: read up to the budget.
            let mut bytes = Vec::new();
            let limit = settings.max_result_bytes as u64;
            (&mut entry).take(limit + 1).read_to_end(&mut bytes).map_err(|e| ToolError::failed(e.to_string()))?;
            out.size = Some(size);
            out.truncated = bytes.len() as u64 > limit || size > limit;
            bytes.truncate(limit as usize);
            match String::from_utf8(bytes) {
                Ok(text) => out.content = Some(text),
                Err(e) if out.truncated && e.utf8_error().error_len().is_none() => {
                    // Cut inside a character: keep the valid prefix.
                    let valid = e.utf8_error().valid_up_to();
                    let mut bytes = e.into_bytes();
                    bytes.truncate(valid);
                    out.content = Some(String::from_utf8_lossy(&bytes).into_owned());
                }
                Err(_) => out.binary = true,
            }
            break;
        }
        if i == 0 {
            out.kind = "dir".into();
            continue;
        }
        // Only the directory's own entries, not its subdirectories' contents.
        let name = entry.path().map(|p| p.to_string_lossy().into_owned()).unwrap_or_default();
        let rel: Vec<&str> = name.trim_end_matches('/').split('/').skip(1).collect();
        if rel.len() != 1 {
            continue;
        }
        total_entries += 1;
        if out.entries.len() < settings.max_rows {
            out.entries.push(Entry { name: one_line(rel[0]), kind: kind_of(header_type).into(), size });
        } else {
            out.truncated = true;
        }
    }
    let text = if out.kind == "dir" {
        out.entries.sort_by(|a, b| a.name.cmp(&b.name));
        let cells: Vec<Vec<String>> =
            out.entries.iter().map(|e| vec![e.kind.clone(), e.size.to_string(), e.name.clone()]).collect();
        let mut text = format!("{} ({} entries)\n", args.path, total_entries);
        text += &table(&["TYPE", "SIZE", "NAME"], &cells);
        if out.truncated {
            let shown = format!("the first {} of {total_entries} entries (by archive order)", out.entries.len());
            text += &cut_note(shown, Next::Narrow, "read a subdirectory, or copy_from_container the directory");
            text.push('\n');
        }
        text
    } else if out.binary {
        format!(
            "{} is a binary file of {} bytes; not shown. copy_from_container copies it to the host.\n",
            args.path,
            out.size.unwrap_or(0)
        )
    } else {
        let mut text = out.content.clone().unwrap_or_default();
        if out.truncated {
            let shown = format!("{} of {} bytes (the output budget)", settings.max_result_bytes, out.size.unwrap_or(0));
            text += &format!("\n[{}]\n", cut_note(shown, Next::Narrow, "copy_from_container copies the whole file"));
        }
        text
    };
    Ok(Rendered { text, data: out })
}

tool_args! {
    write CopyFromArgs {
        /// The container's id (or a unique prefix) or name.
        pub container: String,
        /// Absolute path of a file or directory in the container.
        pub path: String,
        /// The host directory to copy into (under an --allow-bind-path directory).
        pub host_dir: String,
        /// Replace host files that already exist.
        #[serde(default)]
        pub overwrite: bool,
    }
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct Copied {
    pub host: String,
    pub container: String,
    /// Files and directories written.
    pub entries: usize,
    pub bytes: u64,
    /// What happened, in a sentence.
    pub message: String,
}

pub async fn copy_from_container(daemons: Arc<Daemons>, _ctx: Context, args: CopyFromArgs) -> Reply<Copied> {
    check_container_path(&args.path)?;
    let dir = daemons.host_path(&args.host_dir)?;
    if !dir.is_dir() {
        return Err(ToolError::invalid_arguments(format!(
            "`host_dir`: {} is not an existing directory",
            dir.display()
        )));
    }
    let call = daemons.write_container(args.host.as_deref(), &args.container).await?;
    let archive = download(&call, &call.id, &args.path, daemons.settings.max_copy_bytes).await?;
    // Check every target first, so a refused copy writes nothing.
    let mut tar = tar::Archive::new(archive.as_slice());
    let mut entries = 0;
    let mut bytes = 0;
    for entry in tar.entries().map_err(|e| ToolError::failed(format!("unreadable archive from Docker: {e}")))? {
        let entry = entry.map_err(|e| ToolError::failed(format!("unreadable archive from Docker: {e}")))?;
        let path = entry.path().map_err(|e| ToolError::failed(e.to_string()))?.into_owned();
        if path.components().any(|c| !matches!(c, Component::Normal(_) | Component::CurDir)) {
            return Err(ToolError::failed(format!(
                "the archive holds an unsafe path `{}`; nothing copied",
                path.display()
            )));
        }
        let target = dir.join(&path);
        if !args.overwrite && !entry.header().entry_type().is_dir() && target.symlink_metadata().is_ok() {
            return Err(ToolError::failed(format!(
                "{} already exists on the host; pass overwrite=true to replace it. Nothing copied.",
                target.display()
            )));
        }
        entries += 1;
        bytes += entry.header().size().unwrap_or(0);
    }
    let mut tar = tar::Archive::new(archive.as_slice());
    tar.set_overwrite(args.overwrite);
    // unpack refuses entries that would land outside `dir` (.. or through symlinks).
    tar.unpack(&dir).map_err(|e| ToolError::failed(format!("copying into {}: {e}", dir.display())))?;
    let message = format!(
        "Copied {} from {} to {} ({entries} entries, {bytes} bytes).",
        args.path,
        args.container,
        dir.display()
    );
    Ok(said(message, |message| Copied { host: call.name.clone(), container: args.container, entries, bytes, message }))
}

tool_args! {
    write CopyToArgs {
        /// The container's id (or a unique prefix) or name.
        pub container: String,
        /// The host file or directory to copy (under an --allow-bind-path directory).
        pub host_path: String,
        /// The existing directory in the container to copy into.
        pub container_dir: String,
    }
}

pub async fn copy_to_container(daemons: Arc<Daemons>, _ctx: Context, args: CopyToArgs) -> Reply<Copied> {
    check_container_path(&args.container_dir)?;
    let source = daemons.host_path(&args.host_path)?;
    let meta = std::fs::symlink_metadata(&source)
        .map_err(|e| ToolError::invalid_arguments(format!("`host_path`: {}: {e}", source.display())))?;
    let name = source
        .file_name()
        .map(|n| n.to_os_string())
        .ok_or_else(|| ToolError::invalid_arguments("`host_path`: names no file or directory"))?;
    let max = daemons.settings.max_copy_bytes;
    // Build the archive on a blocking thread: it reads the host filesystem.
    let (archive, entries, bytes) =
        tokio::task::spawn_blocking(move || build_archive(&source, &name, meta.is_dir(), max))
            .await
            .map_err(|e| ToolError::failed(format!("building the archive: {e}")))??;
    let call = daemons.write_container(args.host.as_deref(), &args.container).await?;
    let options = UploadToContainerOptions { path: args.container_dir.clone(), ..Default::default() };
    let hint = format!("{NO_CONTAINER}; the target directory must exist in the container");
    let body = bollard::body_full(archive.into());
    call.docker.upload_to_container(&call.id, Some(options), body).await.map_err(call.fail(&hint))?;
    let message = format!(
        "Copied {} to {}:{} ({entries} entries, {bytes} bytes).",
        args.host_path, args.container, args.container_dir
    );
    Ok(said(message, |message| Copied { host: call.name.clone(), container: args.container, entries, bytes, message }))
}

/// A tar of `source` named `name`, refused past `max` bytes of content. Symlinks are
/// stored as links, never followed, so nothing outside `source` is read.
pub(crate) fn build_archive(
    source: &Path,
    name: &std::ffi::OsStr,
    is_dir: bool,
    max: usize,
) -> Result<(Vec<u8>, usize, u64), ToolError> {
    let mut builder = tar::Builder::new(Vec::new());
    builder.follow_symlinks(false);
    let mut entries = 0;
    let mut bytes = 0u64;
    let mut stack = vec![(source.to_path_buf(), Path::new(name).to_path_buf())];
    let too_big = || {
        ToolError::failed(format!(
            "the source is larger than the copy limit ({}, --max-copy-bytes)",
            human_size(max as i64)
        ))
    };
    while let Some((path, inside)) = stack.pop() {
        let meta =
            std::fs::symlink_metadata(&path).map_err(|e| ToolError::failed(format!("{}: {e}", path.display())))?;
        if meta.is_file() {
            bytes += meta.len();
            if bytes > max as u64 {
                return Err(too_big());
            }
        }
        entries += 1;
        if entries > 100_000 {
            return Err(ToolError::failed("the source holds more than 100,000 entries; copy a smaller part"));
        }
        builder
            .append_path_with_name(&path, &inside)
            .map_err(|e| ToolError::failed(format!("{}: {e}", path.display())))?;
        if meta.is_dir() && (is_dir || entries == 1) {
            let mut children: Vec<_> = std::fs::read_dir(&path)
                .map_err(|e| ToolError::failed(format!("{}: {e}", path.display())))?
                .filter_map(Result::ok)
                .collect();
            children.sort_by_key(|c| c.file_name());
            for child in children.into_iter().rev() {
                stack.push((child.path(), inside.join(child.file_name())));
            }
        }
    }
    let archive = builder.into_inner().map_err(|e| ToolError::failed(format!("building the archive: {e}")))?;
    Ok((archive, entries, bytes))
}
