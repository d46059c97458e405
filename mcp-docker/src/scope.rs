//! The --scope-label scope: which containers and volumes this server may see, touch or
//! let a new container reach. Each decision is on what the engine resolved (the container
//! it would act on, found by inspect as the engine finds a name, full id or id prefix),
//! never on how the caller spelled it; a join is then sent as the resolved full id, so
//! what was checked is what the engine joins.

use std::collections::HashMap;

use bollard::models::{Mount, MountType, MountVolumeOptions};
use mcp_core::ToolError;

use crate::daemons::{Daemon, Daemons};
use crate::errors::{NO_CONTAINER, NO_VOLUME, failed};

/// Whether `labels` carry every scope label.
fn in_scope(scope: &[(String, String)], labels: &HashMap<String, String>) -> bool {
    scope.iter().all(|(k, v)| labels.get(k) == Some(v))
}

/// The container `container` names, as the engine resolves it: its full id and labels,
/// or None when there is no such container.
async fn lookup(daemon: &Daemon, container: &str) -> Result<Option<(String, HashMap<String, String>)>, ToolError> {
    let client = daemon.client().await?;
    match client.inspect_container(container, None).await {
        Ok(info) => {
            let id = info.id.filter(|id| !id.is_empty()).ok_or_else(|| {
                ToolError::failed(format!("host `{}`: the engine described `{container}` without an id", daemon.name))
            })?;
            Ok(Some((id, info.config.and_then(|c| c.labels).unwrap_or_default())))
        }
        Err(bollard::errors::Error::DockerResponseServerError { status_code: 404, .. }) => Ok(None),
        Err(e) => Err(failed(daemon, &e, NO_CONTAINER)),
    }
}

/// Refuses a container outside the scope as if it did not exist (the server is not to
/// see it at all); returns its full id. Every tool that names a container goes through
/// here (via [`Daemons::scoped`]).
pub async fn resolve(daemons: &Daemons, daemon: &Daemon, container: &str) -> Result<String, ToolError> {
    let scope = &daemons.settings.scope_labels;
    match lookup(daemon, container).await? {
        Some((id, labels)) if in_scope(scope, &labels) => Ok(id),
        Some(_) => Err(ToolError::failed(format!(
            "host `{}`: No such container: {container} (in this server's scope, --scope-label {})",
            daemon.name,
            daemons.scope_filters().join(",")
        ))),
        None => {
            Err(ToolError::failed(format!("host `{}`: No such container: {container}. {NO_CONTAINER}", daemon.name)))
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

/// Within a scope, a new container (or a build's RUN steps) may join the namespaces of a
/// container in scope only: a shared pid namespace shows the other container's processes
/// and their environment, a shared network namespace its traffic. Each `(field, mode)`
/// naming `container:X` is resolved and checked, then rewritten to `container:<full id>`.
/// Without a scope nothing changes.
pub async fn check_joins(
    daemons: &Daemons,
    daemon: &Daemon,
    modes: &mut [(&str, &mut Option<String>)],
) -> Result<(), ToolError> {
    if daemons.settings.scope_labels.is_empty() {
        return Ok(());
    }
    for (field, mode) in modes.iter_mut() {
        let Some(value) = mode.as_deref() else { continue };
        let Some(target) = joined(value) else { continue };
        let refused = || {
            ToolError::failed(format!(
                "refused by the scope guard: `{field}: {}` joins container `{}`, which is not a container in this \
                 server's scope (--scope-label {}); only containers list_containers shows can be joined",
                crate::output::clip(value, 120),
                crate::output::clip(target, 80),
                daemons.scope_filters().join(",")
            ))
        };
        // The engine reads `/name` as the name `name`; a path segment cannot start with
        // `/`, so it is looked up without it. What is sent afterwards is the id found.
        let lookup_as = target.strip_prefix('/').unwrap_or(target);
        if super::tools::check_ref("container", lookup_as).is_err() {
            return Err(refused());
        }
        match lookup(daemon, lookup_as).await? {
            Some((id, labels)) if in_scope(&daemons.settings.scope_labels, &labels) => {
                **mode = Some(format!("container:{id}"));
            }
            _ => return Err(refused()),
        }
    }
    Ok(())
}

/// Refuses a volume outside the scope as if it did not exist, as [`resolve`] does for a
/// container (volumes are found by their exact name).
pub async fn volume(daemons: &Daemons, daemon: &Daemon, name: &str) -> Result<(), ToolError> {
    let scope = &daemons.settings.scope_labels;
    if scope.is_empty() {
        return Ok(());
    }
    let client = daemon.client().await?;
    let found = client.inspect_volume(name).await.map_err(|e| failed(daemon, &e, NO_VOLUME))?;
    if in_scope(scope, &found.labels) {
        Ok(())
    } else {
        Err(ToolError::failed(format!(
            "host `{}`: No such volume: {name} (in this server's scope, --scope-label {})",
            daemon.name,
            daemons.scope_filters().join(",")
        )))
    }
}

/// Within a scope, a named volume may be mounted only if it is in scope, or new: a new
/// one (and an anonymous one) is created with the scope labels, so it stays in scope.
pub async fn check_volumes(daemons: &Daemons, daemon: &Daemon, mounts: &mut [Mount]) -> Result<(), ToolError> {
    let scope = &daemons.settings.scope_labels;
    if scope.is_empty() {
        return Ok(());
    }
    let client = daemon.client().await?;
    for mount in mounts.iter_mut().filter(|m| m.typ == Some(MountType::VOLUME)) {
        if let Some(name) = mount.source.as_deref().filter(|s| !s.is_empty()) {
            let refused = |why: &str| {
                ToolError::failed(format!(
                    "refused by the scope guard: volume `{}` {why} (--scope-label {}); mount a volume made by \
                     create_volume here, or a new name",
                    crate::output::clip(name, 80),
                    daemons.scope_filters().join(",")
                ))
            };
            if !name.chars().all(|c| c.is_ascii_alphanumeric() || "_.-".contains(c)) {
                return Err(refused("is not a volume name this server can check"));
            }
            match client.inspect_volume(name).await {
                Ok(volume) if in_scope(scope, &volume.labels) => continue,
                Ok(_) => return Err(refused("is not in this server's scope")),
                Err(bollard::errors::Error::DockerResponseServerError { status_code: 404, .. }) => {}
                Err(e) => return Err(failed(daemon, &e, "")),
            }
        }
        let options = mount.volume_options.get_or_insert_with(MountVolumeOptions::default);
        options.labels.get_or_insert_with(HashMap::new).extend(scope.iter().cloned());
    }
    Ok(())
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
}
