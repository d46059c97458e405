//! The Docker-specific safety guards: what a created container may ask for (privilege,
//! host namespaces, capabilities, bind mounts, the Docker socket), which container the
//! connector must never stop (its own). Which environment values are secrets is
//! `mcp_core::security::redact`'s to say.
//! A refusal (kind `refused`) names the guard and the flag that relaxes it.

use std::path::{Component, Path, PathBuf};

use mcp_core::ToolError;

/// Which create-time guards the operator relaxed.
#[derive(Debug, Clone, Default)]
pub struct Guards {
    pub allow_privileged: bool,
    pub allow_host_namespaces: bool,
    pub allow_cap_add: bool,
    /// Absolute, normalized host paths containers may bind-mount.
    pub bind_paths: Vec<PathBuf>,
}

/// `path` made absolute-looking without touching the filesystem: `.` and `..` resolved,
/// so `/allowed/../etc` cannot pass as being under `/allowed`.
pub fn normalize(path: &Path) -> PathBuf {
    let mut out = PathBuf::from("/");
    for part in path.components() {
        match part {
            Component::Normal(p) => out.push(p),
            Component::ParentDir => {
                out.pop();
            }
            Component::RootDir | Component::CurDir | Component::Prefix(_) => {}
        }
    }
    out
}

/// A guard refusal: which guard, why, and what relaxes it.
pub fn refuse(guard: &str, why: String, relax: &str) -> ToolError {
    ToolError::refused(format!("refused by the {guard} guard: {why}. {relax}"))
}

/// Where Docker sockets usually live; mounting one (or a directory holding one) hands
/// the container control of the daemon, so it is never allowed.
const SOCKET_PATHS: [&str; 3] = ["/var/run/docker.sock", "/run/docker.sock", "/run/podman/podman.sock"];

/// What a new container asks for that the guards judge.
#[derive(Debug, Default)]
pub struct Request<'a> {
    pub privileged: bool,
    pub network: Option<&'a str>,
    pub pid: Option<&'a str>,
    pub ipc: Option<&'a str>,
    pub cap_add: &'a [String],
    /// Host paths of bind mounts.
    pub binds: Vec<&'a str>,
}

/// Checks a create request against the guards; `sockets` are the unix socket paths of
/// the configured daemons (never mountable, whatever the allowlist says).
pub fn check_create(guards: &Guards, request: &Request<'_>, sockets: &[String]) -> Result<(), ToolError> {
    if request.privileged && !guards.allow_privileged {
        return Err(refuse(
            "privileged",
            "a privileged container has full access to the host".into(),
            "Start the server with --allow-privileged to permit it.",
        ));
    }
    for (what, mode) in [("network", request.network), ("pid", request.pid), ("ipc", request.ipc)] {
        if mode.is_some_and(|m| m.eq_ignore_ascii_case("host")) && !guards.allow_host_namespaces {
            return Err(refuse(
                "host-namespace",
                format!("`{what}: host` shares the host's {what} namespace with the container"),
                "Start the server with --allow-host-namespaces to permit it (or use network `none` or a user network).",
            ));
        }
    }
    if !request.cap_add.is_empty() && !guards.allow_cap_add {
        return Err(refuse(
            "capabilities",
            format!(
                "adding capabilities ({}) widens what the container may do to the host",
                request.cap_add.join(", ")
            ),
            "Start the server with --allow-cap-add to permit it.",
        ));
    }
    for source in &request.binds {
        check_bind(guards, source, sockets)?;
    }
    Ok(())
}

fn check_bind(guards: &Guards, source: &str, sockets: &[String]) -> Result<(), ToolError> {
    if !Path::new(source).is_absolute() {
        return Err(ToolError::invalid_arguments(format!(
            "bind mount source `{source}` must be an absolute host path (or use type `volume` for a named volume)"
        )));
    }
    check_host_path(guards, source, sockets, "bind-mount").map(|_| ())
}

/// Checks a host path a container may reach (a bind mount, a copy's source or target):
/// under an allowed directory, `..` and symlinks resolved, never a Docker socket. Returns
/// the resolved path.
pub fn check_host_path(guards: &Guards, source: &str, sockets: &[String], guard: &str) -> Result<PathBuf, ToolError> {
    let path = Path::new(source);
    if !path.is_absolute() {
        return Err(ToolError::invalid_arguments(format!("`{source}` must be an absolute host path")));
    }
    let lexical = normalize(path);
    // Symlinks are resolved where the path exists locally, so a link inside an allowed
    // directory cannot point outside it.
    let real = std::fs::canonicalize(&lexical).unwrap_or_else(|_| lexical.clone());
    let socket_paths = SOCKET_PATHS.iter().map(PathBuf::from).chain(sockets.iter().map(|s| normalize(Path::new(s))));
    for socket in socket_paths {
        let socket_real = std::fs::canonicalize(&socket).unwrap_or(socket.clone());
        for candidate in [&lexical, &real] {
            if socket.starts_with(candidate) || socket_real.starts_with(candidate) {
                return Err(refuse(
                    "docker-socket",
                    format!(
                        "`{source}` is or contains the Docker socket {}, which would give the container control of the daemon",
                        socket.display()
                    ),
                    "No flag relaxes this guard.",
                ));
            }
        }
    }
    let allowed = |p: &Path| guards.bind_paths.iter().any(|a| p.starts_with(a));
    if !(allowed(&lexical) && allowed(&real)) {
        let list = if guards.bind_paths.is_empty() {
            "none are allowed".to_string()
        } else {
            format!(
                "allowed: {}",
                guards.bind_paths.iter().map(|p| p.display().to_string()).collect::<Vec<_>>().join(", ")
            )
        };
        return Err(refuse(
            guard,
            format!("host path `{source}` is outside the allowed host paths ({list})"),
            "Start the server with --allow-bind-path DIR to permit paths under DIR.",
        ));
    }
    Ok(real)
}

/// The id of the container this process runs in, from /proc (Docker mounts the
/// container's hostname file from its directory, and cgroup v1 paths name it).
pub fn own_container_id() -> Option<String> {
    for file in ["/proc/self/mountinfo", "/proc/self/cgroup"] {
        if let Ok(text) = std::fs::read_to_string(file)
            && let Some(id) = find_container_id(&text)
        {
            return Some(id);
        }
    }
    None
}

fn find_container_id(text: &str) -> Option<String> {
    for marker in ["/containers/", "/docker/", "docker-"] {
        for (at, _) in text.match_indices(marker) {
            let rest = &text[at + marker.len()..];
            let id: String = rest.chars().take_while(char::is_ascii_hexdigit).collect();
            if id.len() == 64 {
                return Some(id);
            }
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn guards(paths: &[&str]) -> Guards {
        Guards { bind_paths: paths.iter().map(PathBuf::from).collect(), ..Guards::default() }
    }

    #[test]
    fn bind_mounts_stay_under_the_allowlist() {
        let g = guards(&["/srv/data"]);
        assert!(check_bind(&g, "/srv/data", &[]).is_ok());
        assert!(check_bind(&g, "/srv/data/sub", &[]).is_ok());
        assert!(check_bind(&g, "/srv/data/../../etc", &[]).is_err());
        assert!(check_bind(&g, "/srv/database", &[]).is_err());
        assert!(check_bind(&g, "relative", &[]).is_err());
    }

    #[test]
    fn the_docker_socket_and_its_parents_are_never_mountable() {
        let g = guards(&["/var/run", "/tmp/d"]);
        let err = check_bind(&g, "/var/run", &[]).expect_err("parent of the socket").to_string();
        assert!(err.contains("docker-socket") && err.contains("No flag"), "{err}");
        assert!(check_bind(&g, "/tmp/d", &["/tmp/d/x/docker.sock".into()]).is_err());
    }

    #[test]
    fn container_ids_are_found_in_proc() {
        let id = "a".repeat(64);
        let line = format!("1 2 0:1 /var/lib/docker/containers/{id}/hostname /etc/hostname rw");
        assert_eq!(find_container_id(&line), Some(id.clone()));
        assert_eq!(find_container_id(&format!("12:pids:/docker/{id}")), Some(id));
        assert_eq!(find_container_id("0::/init.scope"), None);
    }
}
