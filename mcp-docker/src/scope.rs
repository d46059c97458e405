//! The --scope-label scope: which containers and volumes this server may see, touch or
//! let a new container reach. Each decision is on what the engine resolved (the container
//! it would act on, found by inspect as the engine finds a name, full id or id prefix),
//! never on how the caller spelled it; a join is then sent as the resolved full id, so
//! what was checked is what the engine joins. Outside the scope a container or volume
//! is reported as missing (`not_found`): the server is not to see it at all; a new
//! container reaching outside is refused (`refused`).

use std::collections::HashMap;

use bollard::models::{Mount, MountType, MountVolumeOptions, Volume};
use mcp_core::ToolError;
use serde::Deserialize;

use crate::daemon::Daemon;
use crate::errors::{NO_CONTAINER, NO_VOLUME, is_missing};
use crate::names::check_ref;
use crate::output::clip;

/// The labels every object in scope carries (none: no scope, everything is seen).
#[derive(Debug, Clone, Default)]
pub struct Scope {
    labels: Vec<(String, String)>,
}

impl Scope {
    /// The scope of `labels`, `(key, value)` each.
    pub fn new(labels: Vec<(String, String)>) -> Self {
        Scope { labels }
    }

    /// Whether a scope is set.
    pub fn is_set(&self) -> bool {
        !self.labels.is_empty()
    }

    /// The labels, to put on what the server creates.
    pub fn labels(&self) -> impl Iterator<Item = (String, String)> + '_ {
        self.labels.iter().cloned()
    }

    /// `key=value` filters for the labels (empty without a scope).
    pub fn filters(&self) -> Vec<String> {
        self.labels.iter().map(|(k, v)| format!("{k}={v}")).collect()
    }

    /// Whether `labels` carry every scope label.
    fn holds(&self, labels: Option<&HashMap<String, String>>) -> bool {
        self.labels.iter().all(|(k, v)| labels.and_then(|l| l.get(k)) == Some(v))
    }

    /// Refuses a container outside the scope as if it did not exist. Every tool that
    /// names a container goes through here. Within a scope, returns the engine's inspect
    /// document of the container `container` resolves to: the caller acts on its full id
    /// (so what was checked is what is acted on) and reuses the document rather than
    /// asking the engine again. Without a scope, None and no request.
    pub async fn container(&self, daemon: &Daemon, container: &str) -> Result<Option<Resolved>, ToolError> {
        if !self.is_set() {
            return Ok(None);
        }
        let info = resolve(daemon, container).await?;
        self.admit(daemon, container, info).map(Some)
    }

    /// `info` (what the engine resolved `container` to) if it carries the scope labels;
    /// otherwise the container is reported missing.
    fn admit(&self, daemon: &Daemon, container: &str, info: Resolved) -> Result<Resolved, ToolError> {
        if self.holds(info.labels.as_ref()) {
            return Ok(info);
        }
        Err(ToolError::not_found(format!(
            "host `{}`: No such container: {container} (in this server's scope, --scope-label {})",
            daemon.name,
            self.filters().join(",")
        )))
    }

    /// Within a scope, a new container (or a build's RUN steps) may join the namespaces
    /// of a container in scope only: a shared pid namespace shows the other container's
    /// processes and their environment, a shared network namespace its traffic. Each
    /// `(field, mode)` naming `container:X` is resolved and checked, then rewritten to
    /// `container:<full id>`. Without a scope nothing changes.
    pub async fn check_joins(
        &self,
        daemon: &Daemon,
        modes: &mut [(&str, &mut Option<String>)],
    ) -> Result<(), ToolError> {
        if !self.is_set() {
            return Ok(());
        }
        for (field, mode) in modes.iter_mut() {
            let Some(value) = mode.as_deref() else { continue };
            let Some(target) = joined(value) else { continue };
            let refused = || {
                ToolError::refused(format!(
                    "refused by the scope guard: `{field}: {}` joins container `{}`, which is not a container in this \
                     server's scope (--scope-label {}); only containers list_containers shows can be joined",
                    clip(value, 120),
                    clip(target, 80),
                    self.filters().join(",")
                ))
            };
            // The engine reads `/name` as the name `name`; a path segment cannot start
            // with `/`, so it is looked up without it. What is sent afterwards is the id.
            let lookup_as = target.strip_prefix('/').unwrap_or(target);
            if check_ref("container", lookup_as).is_err() {
                return Err(refused());
            }
            match lookup(daemon, lookup_as).await? {
                Some(info) if self.holds(info.labels.as_ref()) => **mode = Some(format!("container:{}", info.id)),
                _ => return Err(refused()),
            }
        }
        Ok(())
    }

    /// Refuses a volume outside the scope as if it did not exist, as
    /// [`Scope::container`] does (volumes are found by their exact name). Within a scope,
    /// returns the engine's document of the volume, for the caller to reuse.
    pub async fn volume(&self, daemon: &Daemon, name: &str) -> Result<Option<Volume>, ToolError> {
        if !self.is_set() {
            return Ok(None);
        }
        let client = daemon.client().await?;
        let found = client.inspect_volume(name).await.map_err(daemon.fail(NO_VOLUME))?;
        if self.holds(Some(&found.labels)) {
            Ok(Some(found))
        } else {
            Err(ToolError::not_found(format!(
                "host `{}`: No such volume: {name} (in this server's scope, --scope-label {})",
                daemon.name,
                self.filters().join(",")
            )))
        }
    }

    /// Within a scope, a named volume may be mounted only if it is in scope, or new: a new
    /// one (and an anonymous one) is created with the scope labels, so it stays in scope.
    pub async fn check_volumes(&self, daemon: &Daemon, mounts: &mut [Mount]) -> Result<(), ToolError> {
        if !self.is_set() {
            return Ok(());
        }
        let client = daemon.client().await?;
        for mount in mounts.iter_mut().filter(|m| m.typ == Some(MountType::VOLUME)) {
            if let Some(name) = mount.source.as_deref().filter(|s| !s.is_empty()) {
                let refused = |why: &str| {
                    ToolError::refused(format!(
                        "refused by the scope guard: volume `{}` {why} (--scope-label {}); mount a volume made by \
                         create_volume here, or a new name",
                        clip(name, 80),
                        self.filters().join(",")
                    ))
                };
                if !name.chars().all(|c| c.is_ascii_alphanumeric() || "_.-".contains(c)) {
                    return Err(refused("is not a volume name this server can check"));
                }
                match client.inspect_volume(name).await {
                    Ok(volume) if self.holds(Some(&volume.labels)) => continue,
                    Ok(_) => return Err(refused("is not in this server's scope")),
                    Err(e) if is_missing(&e) => {}
                    Err(e) => return Err(daemon.fail("")(e)),
                }
            }
            let options = mount.volume_options.get_or_insert_with(MountVolumeOptions::default);
            options.labels.get_or_insert_with(HashMap::new).extend(self.labels());
        }
        Ok(())
    }
}

/// A container as the engine resolved a reference to it: what the guard reads of its
/// inspect document, and the document (for a tool that answers with it).
#[derive(Debug)]
pub struct Resolved {
    /// The full id.
    pub id: String,
    /// Whether it is running (a paused one is: it still holds its processes).
    pub running: bool,
    labels: Option<HashMap<String, String>>,
    /// The inspect document as the engine sent it.
    pub document: Vec<u8>,
}

/// What the guard reads of an inspect document; the rest is skipped, not parsed into
/// bollard's model (that was most of a scoped inspect's cost beyond an unscoped one's).
#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct Head {
    #[serde(default)]
    id: Option<String>,
    #[serde(default)]
    state: Option<HeadState>,
    #[serde(default)]
    config: Option<HeadConfig>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct HeadState {
    #[serde(default)]
    running: Option<bool>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct HeadConfig {
    #[serde(default)]
    labels: Option<HashMap<String, String>>,
}

/// The container `container` names, as the engine resolves it (with a full id); a missing
/// one is a `not_found` error. The scope guard and the tools read a container's id and
/// state here, one way.
pub async fn resolve(daemon: &Daemon, container: &str) -> Result<Resolved, ToolError> {
    lookup(daemon, container).await?.ok_or_else(|| {
        ToolError::not_found(format!("host `{}`: No such container: {container}. {NO_CONTAINER}", daemon.name))
    })
}

/// The container `container` names, as the engine resolves it (with a full id), or None
/// when there is no such container.
async fn lookup(daemon: &Daemon, container: &str) -> Result<Option<Resolved>, ToolError> {
    let path = format!("/containers/{container}/json");
    let client = daemon.client().await?;
    let document = match daemon.fetch_document(&path, client.inspect_container(container, None)).await {
        Ok(document) => document,
        Err(e) if is_missing(&e) => return Ok(None),
        Err(e) => return Err(daemon.fail(NO_CONTAINER)(e)),
    };
    let head: Head = serde_json::from_slice(&document).map_err(|e| {
        ToolError::failed(format!("host `{}`: the engine's inspect of `{container}` is not readable: {e}", daemon.name))
    })?;
    match head.id.filter(|id| !id.is_empty()) {
        Some(id) => {
            let running = head.state.and_then(|s| s.running).unwrap_or(false);
            Ok(Some(Resolved { id, running, labels: head.config.and_then(|c| c.labels), document }))
        }
        None => {
            Err(ToolError::failed(format!("host `{}`: the engine described `{container}` without an id", daemon.name)))
        }
    }
}

/// `X` when a namespace mode joins another container (`container:X`).
pub fn joined(mode: &str) -> Option<&str> {
    let (kind, target) = mode.split_once(':')?;
    // The engine spells the kind in lower case; any other case is judged the same, so a
    // variant the engine might accept cannot slip past.
    kind.trim().eq_ignore_ascii_case("container").then_some(target)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn joins_are_recognised_in_any_case() {
        assert_eq!(joined("container:abc"), Some("abc"));
        assert_eq!(joined("Container:/abc"), Some("/abc"));
        assert_eq!(joined("host"), None);
        assert_eq!(joined("bridge"), None);
        assert_eq!(joined("none"), None);
    }

    #[test]
    fn a_scope_holds_labels_carrying_all_of_its_own() {
        let scope = Scope::new(vec![("team".into(), "a".into()), ("env".into(), "dev".into())]);
        let labels = |pairs: &[(&str, &str)]| pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        assert!(scope.holds(Some(&labels(&[("team", "a"), ("env", "dev"), ("x", "y")]))));
        assert!(!scope.holds(Some(&labels(&[("team", "a")]))));
        assert!(!scope.holds(Some(&labels(&[("team", "b"), ("env", "dev")]))));
        assert!(!scope.holds(None));
        assert!(Scope::default().holds(None));
        assert_eq!(scope.filters(), ["team=a", "env=dev"]);
        assert!(!Scope::default().is_set());
    }
}
