//! Where a compose tool's Compose file comes from: the arguments naming it (a path under
//! --allow-bind-path, or inline YAML), read through the host-path guard, with the
//! project's `.env` and the call's variables, resolved by [`crate::compose`], cut to the
//! services asked for.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use mcp_core::ToolError;

use crate::compose::vars::{Vars, parse_env_file};
use crate::compose::{self, Project};
use crate::daemons::Daemons;
use crate::output::clip;

/// The arguments that name a Compose file, shared by compose_config, compose_up and
/// compose_pull (declared once, so they cannot drift).
macro_rules! file_args {
    ($kind:ident $name:ident { $($extra:tt)* }) => {
        tool_args! {
            $kind $name {
                /// Path of the Compose file (or of its directory, holding compose.yaml,
                /// compose.yml, docker-compose.yaml or docker-compose.yml) on the server's
                /// host: only under --allow-bind-path, `..` and symlinks resolved. Or give `content`.
                pub file: Option<String>,
                /// The Compose file's YAML text, instead of `file`.
                pub content: Option<String>,
                /// The directory relative paths, `env_file` and `.env` resolve against (default:
                /// the file's directory). Under --allow-bind-path.
                pub project_directory: Option<String>,
                /// The project name (default: the file's `name`, else the directory's name).
                pub project: Option<String>,
                /// Profiles to enable (services with `profiles` run only when one is named).
                #[serde(default)]
                pub profiles: Vec<String>,
                /// Variables for `${VAR}` interpolation, over those of the project's `.env` file.
                /// The server's own environment is never read.
                #[serde(default)]
                pub env: BTreeMap<String, String>,
                /// Only these services and what they depend on (default: every enabled service).
                #[serde(default)]
                pub services: Vec<String>,
                $($extra)*
            }
        }

        impl $name {
            pub fn source(&self) -> FileSource<'_> {
                FileSource {
                    file: self.file.as_deref(),
                    content: self.content.as_deref(),
                    project_directory: self.project_directory.as_deref(),
                    project: self.project.as_deref(),
                    profiles: &self.profiles,
                    env: &self.env,
                    services: &self.services,
                }
            }
        }
    };
}

file_args! { read ConfigArgs {} }
file_args! { write PullFileArgs {} }
file_args! {
    write UpArgs {
        /// Seconds to wait for the whole project to come up, dependencies' health
        /// included (default 120, at most 900).
        pub timeout_secs: Option<u64>,
    }
}

pub struct FileSource<'a> {
    file: Option<&'a str>,
    content: Option<&'a str>,
    project_directory: Option<&'a str>,
    project: Option<&'a str>,
    profiles: &'a [String],
    env: &'a BTreeMap<String, String>,
    services: &'a [String],
}

const FILE_NAMES: [&str; 4] = ["compose.yaml", "compose.yml", "docker-compose.yaml", "docker-compose.yml"];

/// A file the project reads, judged by the host-path guard; None when it does not exist.
fn read_guarded(daemons: &Daemons, path: &Path) -> Result<Option<String>, ToolError> {
    let text = path.to_str().ok_or_else(|| ToolError::invalid_arguments("paths must be UTF-8"))?;
    let real = daemons.host_path(text)?;
    let meta = match std::fs::metadata(&real) {
        Ok(m) => m,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(ToolError::failed(format!("`{text}`: {e}"))),
    };
    if !meta.is_file() || meta.len() > compose::MAX_FILE_BYTES as u64 {
        return Err(ToolError::invalid_arguments(format!(
            "`{text}` is not a file of at most {} KiB",
            compose::MAX_FILE_BYTES / 1024
        )));
    }
    std::fs::read_to_string(&real).map(Some).map_err(|e| ToolError::failed(format!("`{text}`: {e}")))
}

/// Reads the Compose file the arguments name and resolves it, restricted to the
/// services asked for (and their dependencies).
pub fn load(daemons: &Daemons, src: &FileSource<'_>) -> Result<Project, ToolError> {
    let (yaml, config_file, file_dir) = match (src.file, src.content) {
        (Some(file), None) => {
            let mut path = daemons.host_path(file)?;
            if path.is_dir() {
                path = FILE_NAMES.iter().map(|n| path.join(n)).find(|p| p.is_file()).ok_or_else(|| {
                    ToolError::not_found(format!("`file`: `{file}` holds none of {}", FILE_NAMES.join(", ")))
                })?;
            }
            let yaml = read_guarded(daemons, &path)?
                .ok_or_else(|| ToolError::not_found(format!("`file`: `{file}` does not exist")))?;
            let dir = path.parent().map(Path::to_path_buf);
            (yaml, Some(path), dir)
        }
        (None, Some(content)) => (content.to_string(), None, None),
        _ => return Err(ToolError::invalid_arguments("give exactly one of `file` (a path) and `content` (YAML text)")),
    };
    let working_dir = match src.project_directory {
        Some(dir) => Some(daemons.host_path(dir)?),
        None => file_dir,
    };
    let mut vars = Vars::new();
    if let Some(dir) = &working_dir
        && let Some(text) = read_guarded(daemons, &dir.join(".env"))?
    {
        let pairs = parse_env_file(&text, &Vars::new())
            .map_err(|e| ToolError::invalid_arguments(format!("`.env` in {}: {e}", dir.display())))?;
        vars.extend(pairs);
    }
    vars.extend(src.env.iter().map(|(k, v)| (k.clone(), v.clone())));
    let read_file = |p: &Path| read_guarded(daemons, p);
    let mut project = compose::load(&compose::Source {
        yaml: &yaml,
        working_dir,
        config_file,
        vars,
        project: src.project.map(str::to_string),
        profiles: src.profiles.to_vec(),
        read_file: &read_file,
    })?;
    select(&mut project, src.services)?;
    Ok(project)
}

/// Keeps the named services and what they depend on.
fn select(project: &mut Project, wanted: &[String]) -> Result<(), ToolError> {
    if wanted.is_empty() {
        return Ok(());
    }
    let mut keep: BTreeSet<String> = BTreeSet::new();
    let mut todo: Vec<String> = wanted.to_vec();
    while let Some(name) = todo.pop() {
        let service = project.services.iter().find(|s| s.name == name).ok_or_else(|| {
            ToolError::invalid_arguments(format!(
                "`services`: `{}` is not an enabled service of project `{}`",
                clip(&name, 80),
                project.name
            ))
        })?;
        if keep.insert(name) {
            todo.extend(service.depends_on.keys().cloned());
        }
    }
    project.services.retain(|s| keep.contains(&s.name));
    Ok(())
}
