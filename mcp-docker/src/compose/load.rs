//! From the file's text to the resolved project: interpolation, extensions and merges,
//! validation naming what is wrong, relative paths, networks, volumes, profiles and the
//! start order.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use mcp_core::ToolError;
use serde::de::DeserializeOwned;
use serde_yaml_ng::Value;

use super::model::*;
use super::raw::*;
use super::vars::{Vars, interpolate, parse_env_file};
use super::words::{duration_ns, split_words};
use crate::guard::normalize;

/// Where the file came from and what it is read with.
pub struct Source<'a> {
    pub yaml: &'a str,
    /// The directory relative paths resolve against (already judged by the host-path
    /// guard); none for inline content without `project_directory`.
    pub working_dir: Option<PathBuf>,
    pub config_file: Option<PathBuf>,
    /// Variables: the `.env` file's, then the caller's.
    pub vars: Vars,
    /// The caller's project name (wins over the file's `name`).
    pub project: Option<String>,
    pub profiles: Vec<String>,
    /// Reads an `env_file` (the caller judges the path): Ok(None) when it does not exist.
    pub read_file: &'a dyn Fn(&Path) -> Result<Option<String>, ToolError>,
}

impl Source<'_> {
    /// `path` against the working directory, `..` resolved (the host-path guard judges
    /// the result where it is used).
    fn relative(&self, path: &str) -> Result<PathBuf, String> {
        match &self.working_dir {
            _ if path.starts_with('/') => Ok(normalize(Path::new(path))),
            Some(dir) => Ok(normalize(&dir.join(path))),
            None => {
                Err(format!("`{}` is relative: give `project_directory` (or `file`) to resolve it against", clip(path)))
            }
        }
    }
}

fn bad(what: impl std::fmt::Display) -> ToolError {
    ToolError::invalid_arguments(format!("compose file: {what}"))
}

/// Reads, interpolates, validates and resolves a Compose file.
pub fn load(source: &Source<'_>) -> Result<Project, ToolError> {
    if source.yaml.len() > MAX_FILE_BYTES {
        return Err(bad(format_args!("larger than {} KiB", MAX_FILE_BYTES / 1024)));
    }
    let mut doc: Value = serde_yaml_ng::from_str(source.yaml).map_err(|e| bad(format_args!("not YAML: {e}")))?;
    if !doc.is_mapping() {
        return Err(bad("expected a mapping with `services`"));
    }
    doc.apply_merge().map_err(|e| bad(format_args!("`<<` merge: {e}")))?;
    interpolate_all(&mut doc, &source.vars, "")?;
    strip_extensions(&mut doc, 0);
    let file: RawFile = from_value(doc, "top level")?;
    let name = project_name(source, file.name.as_deref())?;
    if file.services.is_empty() {
        return Err(bad("no `services`"));
    }
    let networks = networks(&name, file.networks)?;
    let volumes = volumes(&name, file.volumes)?;
    let mut raw: BTreeMap<String, RawService> = BTreeMap::new();
    for (key, value) in file.services {
        check_key("service", &key)?;
        raw.insert(key.clone(), from_value(value, &format!("service `{key}`"))?);
    }
    let active: BTreeSet<&String> = source.profiles.iter().collect();
    let enabled = |s: &RawService| s.profiles.is_empty() || s.profiles.iter().any(|p| active.contains(p));
    let disabled: Vec<String> = raw.iter().filter(|(_, s)| !enabled(s)).map(|(k, _)| k.clone()).collect();
    let mut services = Vec::new();
    for (key, s) in raw.into_iter().filter(|(_, s)| enabled(s)) {
        services.push(service(source, &name, &key, s, &networks, &volumes, &disabled)?);
    }
    let services = in_order(services)?;
    // Only what the enabled services use is created, as compose does.
    let used_nets: BTreeSet<&String> = services.iter().flat_map(|s| s.networks.keys()).collect();
    let used_vols: BTreeSet<&str> =
        services.iter().flat_map(|s| &s.mounts).filter_map(|m| m.source.as_deref()).collect();
    let networks = networks.iter().filter(|n| used_nets.contains(&n.name)).cloned().collect();
    let volumes = volumes.iter().filter(|v| used_vols.contains(v.name.as_str())).cloned().collect();
    Ok(Project {
        name,
        working_dir: source.working_dir.as_ref().map(|p| p.display().to_string()).unwrap_or_default(),
        config_file: source.config_file.as_ref().map(|p| p.display().to_string()),
        services,
        disabled,
        networks,
        volumes,
    })
}

fn from_value<T: DeserializeOwned>(value: Value, what: &str) -> Result<T, ToolError> {
    serde_yaml_ng::from_value(value).map_err(|e| {
        let e = e.to_string();
        let hint = if e.contains("unknown field") {
            " (this server implements a subset of the Compose Specification and refuses keys it would otherwise \
             ignore; `build` needs build_image first, then `image`)"
        } else {
            ""
        };
        bad(format_args!("{what}: {e}{hint}"))
    })
}

fn interpolate_all(value: &mut Value, vars: &Vars, at: &str) -> Result<(), ToolError> {
    match value {
        Value::String(s) => *s = interpolate(s, vars).map_err(|e| bad(format_args!("{at}: {e}")))?,
        Value::Sequence(items) => {
            for item in items {
                interpolate_all(item, vars, at)?;
            }
        }
        Value::Mapping(map) => {
            for (k, v) in map.iter_mut() {
                let here = format!("{at}{}{}", if at.is_empty() { "" } else { "." }, k.as_str().unwrap_or("?"));
                interpolate_all(v, vars, &here)?;
            }
        }
        Value::Tagged(t) => interpolate_all(&mut t.value, vars, at)?,
        _ => {}
    }
    Ok(())
}

/// Drops `x-*` keys at the top level and in each service (the specification's extensions).
fn strip_extensions(value: &mut Value, depth: usize) {
    if let Value::Mapping(map) = value {
        map.retain(|k, _| !k.as_str().is_some_and(|k| k.starts_with("x-")));
        if depth == 0
            && let Some(Value::Mapping(services)) = map.get_mut("services")
        {
            for (_, s) in services.iter_mut() {
                strip_extensions(s, 1);
            }
        }
    }
}

/// Names the engine accepts, as compose checks them.
fn check_key(what: &str, key: &str) -> Result<(), ToolError> {
    let ok = !key.is_empty()
        && key.len() <= 64
        && key.starts_with(|c: char| c.is_ascii_alphanumeric())
        && key.chars().all(|c| c.is_ascii_alphanumeric() || "_.-".contains(c));
    if ok { Ok(()) } else { Err(bad(format_args!("{what} name `{}` must be [a-zA-Z0-9][a-zA-Z0-9_.-]*", clip(key)))) }
}

fn clip(s: &str) -> String {
    crate::output::clip(s, 80)
}

/// The project name: the caller's, the file's `name`, or the directory's, normalized
/// like compose (lower case, `[a-z0-9_-]`, starting with a letter or digit).
fn project_name(source: &Source<'_>, in_file: Option<&str>) -> Result<String, ToolError> {
    let (raw, strict) = match (&source.project, in_file) {
        (Some(p), _) => (p.clone(), true),
        (None, Some(n)) => (n.to_string(), true),
        (None, None) => (
            source
                .working_dir
                .as_deref()
                .and_then(Path::file_name)
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default(),
            false,
        ),
    };
    let normalized: String = if strict {
        raw.clone()
    } else {
        raw.to_lowercase().chars().filter(|c| c.is_ascii_alphanumeric() || "_-".contains(*c)).collect()
    };
    let ok = !normalized.is_empty()
        && normalized.len() <= 64
        && normalized.starts_with(|c: char| c.is_ascii_lowercase() || c.is_ascii_digit())
        && normalized.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || "_-".contains(c));
    if ok {
        Ok(normalized)
    } else {
        Err(ToolError::invalid_arguments(format!(
            "`project`: `{}` is not a project name: lower-case letters, digits, `_` and `-`, starting with a letter or \
             digit (give `project`, or `name:` in the file)",
            clip(&raw)
        )))
    }
}

fn networks(project: &str, raw: BTreeMap<String, Option<RawNetwork>>) -> Result<Vec<Network>, ToolError> {
    let mut out = Vec::new();
    let has_default = raw.contains_key("default");
    for (key, n) in raw.into_iter().chain((!has_default).then(|| ("default".to_string(), None))) {
        check_key("network", &key)?;
        let n = n.unwrap_or_default();
        let driver = n.driver.unwrap_or_else(|| "bridge".into());
        if !n.external && driver != "bridge" {
            return Err(bad(format_args!(
                "network `{key}`: driver `{}`: only bridge networks are created here",
                clip(&driver)
            )));
        }
        let name = n.name.unwrap_or_else(|| if n.external { key.clone() } else { format!("{project}_{key}") });
        check_key("network", &name)?;
        out.push(Network {
            key,
            name,
            external: n.external,
            internal: n.internal,
            driver,
            labels: n.labels.0.into_iter().collect(),
        });
    }
    Ok(out)
}

fn volumes(project: &str, raw: BTreeMap<String, Option<RawVolume>>) -> Result<Vec<Volume>, ToolError> {
    let mut out = Vec::new();
    for (key, v) in raw {
        check_key("volume", &key)?;
        let v = v.unwrap_or_default();
        let name = v.name.unwrap_or_else(|| if v.external { key.clone() } else { format!("{project}_{key}") });
        check_key("volume", &name)?;
        out.push(Volume {
            key,
            name,
            external: v.external,
            driver: v.driver,
            labels: v.labels.0.into_iter().collect(),
        });
    }
    Ok(out)
}

#[allow(clippy::too_many_lines)]
fn service(
    source: &Source<'_>,
    project: &str,
    key: &str,
    s: RawService,
    networks: &[Network],
    volumes: &[Volume],
    disabled: &[String],
) -> Result<Service, ToolError> {
    let at = |what: &str| format!("service `{key}`: {what}");
    let image = s.image.ok_or_else(|| bad(at("`image` is required (this server does not build; use build_image)")))?;
    let mut environment = Vec::new();
    for file in s.env_file.into_vec() {
        let (path, required) = match file {
            EnvFile::Path(p) => (p, true),
            EnvFile::Long { path, required } => (path, required),
        };
        let full = source.relative(&path).map_err(|e| bad(at(&format!("env_file: {e}"))))?;
        match (source.read_file)(&full)? {
            Some(text) => {
                let pairs =
                    parse_env_file(&text, &source.vars).map_err(|e| bad(at(&format!("env_file `{path}`: {e}"))))?;
                environment.extend(pairs.into_iter().map(|(k, v)| format!("{k}={v}")));
            }
            None if required => return Err(bad(at(&format!("env_file `{path}` does not exist")))),
            None => {}
        }
    }
    environment.extend(s.environment.0.into_iter().map(|(k, v)| format!("{k}={v}")));
    let mounts = s.volumes.into_iter().map(|m| mount(source, key, m, volumes)).collect::<Result<Vec<_>, _>>()?;
    let service_networks = match (&s.network_mode, s.networks) {
        (Some(_), Some(_)) => return Err(bad(at("`network_mode` and `networks` cannot both be set"))),
        (Some(mode), None) => {
            if mode.starts_with("service:") {
                return Err(bad(at("`network_mode: service:...` is not supported; use a shared network")));
            }
            BTreeMap::new()
        }
        (None, nets) => {
            let wanted: Vec<(String, Vec<String>)> = match nets {
                None => vec![("default".into(), Vec::new())],
                Some(RawServiceNetworks::List(l)) => l.into_iter().map(|n| (n, Vec::new())).collect(),
                Some(RawServiceNetworks::Map(m)) => {
                    m.into_iter().map(|(n, v)| (n, v.unwrap_or_default().aliases)).collect()
                }
            };
            let mut out = BTreeMap::new();
            for (net, aliases) in wanted {
                let found = networks.iter().find(|n| n.key == net).ok_or_else(|| {
                    bad(at(&format!("network `{}` is not declared under the top-level `networks`", clip(&net))))
                })?;
                out.insert(found.name.clone(), aliases);
            }
            out
        }
    };
    let mut depends_on = BTreeMap::new();
    match s.depends_on {
        RawDependsOn::List(l) => {
            for d in l {
                depends_on.insert(d, Condition::Started);
            }
        }
        RawDependsOn::Map(m) => {
            for (d, dep) in m {
                if !dep.required && disabled.contains(&d) {
                    continue;
                }
                depends_on.insert(d, dep.condition);
            }
        }
    }
    for d in depends_on.keys() {
        if disabled.contains(d) {
            return Err(bad(at(&format!("depends on `{}`, which its profiles disable", clip(d)))));
        }
    }
    let healthcheck = s.healthcheck.map(|h| healthcheck(h).map_err(|e| bad(at(&e)))).transpose()?.flatten();
    let cmd = s.command.map(|c| command(c).map_err(|e| bad(at(&format!("`command`: {e}"))))).transpose()?;
    let entrypoint =
        s.entrypoint.map(|c| command(c).map_err(|e| bad(at(&format!("`entrypoint`: {e}"))))).transpose()?;
    let stop_grace_period = s
        .stop_grace_period
        .map(|d| {
            duration_ns(&d).map(|ns| ns / 1_000_000_000).map_err(|e| bad(at(&format!("`stop_grace_period`: {e}"))))
        })
        .transpose()?;
    let cpus = s
        .cpus
        .map(|c| c.0.parse::<f64>().map_err(|_| bad(at(&format!("`cpus`: `{}` is not a number", clip(&c.0))))))
        .transpose()?;
    let container_name = s.container_name.unwrap_or_else(|| format!("{project}-{key}-1"));
    Ok(Service {
        name: key.to_string(),
        image,
        container_name,
        command: cmd,
        entrypoint,
        environment,
        ports: s.ports.into_iter().map(|p| p.0).collect(),
        mounts,
        networks: service_networks,
        network_mode: s.network_mode,
        depends_on,
        healthcheck,
        restart: s.restart,
        labels: s.labels.0.into_iter().collect(),
        user: s.user.map(|u| u.0),
        working_dir: s.working_dir,
        hostname: s.hostname,
        privileged: s.privileged,
        cap_add: s.cap_add,
        cap_drop: s.cap_drop,
        pid: s.pid,
        ipc: s.ipc,
        tty: s.tty,
        stdin_open: s.stdin_open,
        init: s.init,
        read_only: s.read_only,
        stop_signal: s.stop_signal,
        stop_grace_period,
        tmpfs: s.tmpfs.into_vec(),
        mem_limit: s.mem_limit.map(|m| m.0),
        cpus,
    })
}

fn mount(source: &Source<'_>, service: &str, m: RawMount, volumes: &[Volume]) -> Result<ServiceMount, ToolError> {
    let at = |what: String| bad(format_args!("service `{service}`: `volumes`: {what}"));
    let (kind, src, target, read_only) = match m {
        RawMount::Long(l) => (l.kind, l.source, l.target, l.read_only),
        RawMount::Short(spec) => {
            let parts: Vec<&str> = spec.split(':').collect();
            let (src, target, mode) = match parts.as_slice() {
                [t] => (None, *t, ""),
                [s, t] => (Some(*s), *t, ""),
                [s, t, m] => (Some(*s), *t, *m),
                _ => return Err(at(format!("`{}` is not SOURCE:TARGET[:MODE]", clip(&spec)))),
            };
            let read_only = mode.split(',').any(|m| m == "ro");
            if let Some(bad_mode) = mode.split(',').find(|m| !["", "ro", "rw", "z", "Z"].contains(m)) {
                return Err(at(format!("`{}`: unknown mode `{bad_mode}`", clip(&spec))));
            }
            let kind = match src {
                None => "volume",
                Some(s) if s.starts_with(['/', '.', '~']) => "bind",
                Some(_) => "volume",
            };
            (kind.to_string(), src.map(str::to_string), target.to_string(), read_only)
        }
    };
    if !target.starts_with('/') {
        return Err(at(format!("target `{}` must be an absolute path", clip(&target))));
    }
    let source_path = match (kind.as_str(), src) {
        ("bind", Some(s)) => {
            if s.starts_with('~') {
                return Err(at(format!(
                    "`{}`: `~` is not expanded here; use an absolute or ./relative path",
                    clip(&s)
                )));
            }
            Some(source.relative(&s).map_err(at)?.display().to_string())
        }
        ("bind", None) => return Err(at(format!("bind mount on `{}` needs a source", clip(&target)))),
        ("volume", Some(s)) => {
            let v = volumes
                .iter()
                .find(|v| v.key == s)
                .ok_or_else(|| at(format!("volume `{}` is not declared under the top-level `volumes`", clip(&s))))?;
            Some(v.name.clone())
        }
        ("volume", None) | ("tmpfs", None) => None,
        ("tmpfs", Some(_)) => return Err(at("a tmpfs mount takes no source".into())),
        (other, _) => return Err(at(format!("mount type `{}`: use bind, volume or tmpfs", clip(other)))),
    };
    Ok(ServiceMount { kind, source: source_path, target, read_only })
}

fn command(c: Command) -> Result<Vec<String>, String> {
    match c {
        Command::List(l) => Ok(l.into_iter().map(|s| s.0).collect()),
        Command::Shell(s) => split_words(&s),
    }
}

fn healthcheck(h: RawHealthcheck) -> Result<Option<Healthcheck>, String> {
    if h.disable {
        return Ok(Some(Healthcheck {
            test: vec!["NONE".into()],
            interval: None,
            timeout: None,
            start_period: None,
            retries: None,
        }));
    }
    let test = match h.test {
        None => return Err("`healthcheck` needs `test` (or `disable: true`)".into()),
        Some(Command::Shell(s)) => vec!["CMD-SHELL".to_string(), s],
        Some(Command::List(l)) => {
            let l: Vec<String> = l.into_iter().map(|s| s.0).collect();
            if !l.first().is_some_and(|f| ["NONE", "CMD", "CMD-SHELL"].contains(&f.as_str())) {
                return Err("`healthcheck.test` as a list starts with NONE, CMD or CMD-SHELL".into());
            }
            l
        }
    };
    let d = |field: &str, v: Option<String>| {
        v.map(|v| duration_ns(&v).map_err(|e| format!("`healthcheck.{field}`: {e}"))).transpose()
    };
    let _ = d("start_interval", h.start_interval)?;
    Ok(Some(Healthcheck {
        test,
        interval: d("interval", h.interval)?,
        timeout: d("timeout", h.timeout)?,
        start_period: d("start_period", h.start_period)?,
        retries: h.retries,
    }))
}

/// Services in dependency order (a stable topological sort); unknown dependencies and
/// cycles are errors naming the services.
fn in_order(services: Vec<Service>) -> Result<Vec<Service>, ToolError> {
    let names: BTreeSet<String> = services.iter().map(|s| s.name.clone()).collect();
    for s in &services {
        if let Some(d) = s.depends_on.keys().find(|d| !names.contains(*d)) {
            return Err(bad(format_args!("service `{}` depends on `{}`, which is not a service", s.name, clip(d))));
        }
    }
    let mut placed: BTreeSet<String> = BTreeSet::new();
    let mut out = Vec::new();
    let mut left = services;
    while !left.is_empty() {
        let (ready, waiting): (Vec<Service>, Vec<Service>) =
            left.into_iter().partition(|s| s.depends_on.keys().all(|d| placed.contains(d)));
        if ready.is_empty() {
            let cycle: Vec<&str> = waiting.iter().map(|s| s.name.as_str()).collect();
            return Err(bad(format_args!("`depends_on` forms a cycle among {}", cycle.join(", "))));
        }
        placed.extend(ready.iter().map(|s| s.name.clone()));
        out.extend(ready);
        left = waiting;
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn load_yaml(yaml: &str, vars: &[(&str, &str)]) -> Result<Project, ToolError> {
        let no_files = |_: &Path| Ok(None);
        load(&Source {
            yaml,
            working_dir: Some(PathBuf::from("/srv/My App")),
            config_file: None,
            vars: vars.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect(),
            project: None,
            profiles: vec![],
            read_file: &no_files,
        })
    }

    #[test]
    fn a_file_resolves_in_dependency_order_with_defaults_filled() {
        let yaml = r#"
x-common: &c {restart: "no"}
services:
  web:
    image: "busybox:${TAG:-1}"
    command: sh -c 'echo "hi there"'
    depends_on: {db: {condition: service_healthy}}
    volumes: ["./data:/data:ro", "cache:/cache", "/anon"]
    environment: {A: 1, B: null}
    x-note: ignored
  db:
    <<: *c
    image: busybox
    healthcheck: {test: "true", interval: 1s, retries: 3}
volumes: {cache: {}}
"#;
        let p = load_yaml(yaml, &[]).expect("loads");
        assert_eq!(p.name, "myapp");
        let names: Vec<&str> = p.services.iter().map(|s| s.name.as_str()).collect();
        assert_eq!(names, ["db", "web"]);
        let web = &p.services[1];
        assert_eq!(web.image, "busybox:1");
        assert_eq!(web.container_name, "myapp-web-1");
        assert_eq!(web.command.as_deref(), Some(&["sh".to_string(), "-c".into(), "echo \"hi there\"".into()][..]));
        assert_eq!(web.environment, ["A=1"]);
        assert_eq!(web.mounts[0].source.as_deref(), Some("/srv/My App/data"));
        assert!(web.mounts[0].read_only);
        assert_eq!(web.mounts[1].source.as_deref(), Some("myapp_cache"));
        assert_eq!(web.mounts[2].source, None);
        assert_eq!(web.depends_on["db"], Condition::Healthy);
        assert_eq!(web.networks.keys().collect::<Vec<_>>(), ["myapp_default"]);
        assert_eq!(p.services[0].healthcheck.as_ref().map(|h| h.interval), Some(Some(1_000_000_000)));
        assert_eq!(p.services[0].restart.as_deref(), Some("no"));
    }

    #[test]
    fn mistakes_are_named() {
        let cases = [
            ("services: {a: {image: x, devices: ['/dev/sda']}}", "unknown field `devices`"),
            ("services: {a: {build: .}}", "unknown field `build`"),
            ("services: {a: {command: x}}", "`image` is required"),
            ("services: {a: {image: x, depends_on: [b]}}", "`b`, which is not a service"),
            ("services: {a: {image: x, depends_on: [b]}, b: {image: x, depends_on: [a]}}", "cycle among a, b"),
            ("services: {a: {image: x, volumes: ['v:/v']}}", "volume `v` is not declared"),
            ("services: {a: {image: x, networks: [n]}}", "network `n` is not declared"),
            ("services: {a: {image: '${X:?X is needed}'}}", "`X` is missing a value: X is needed"),
            ("services: {a: {image: x, volumes: ['~/x:/x']}}", "`~` is not expanded"),
            ("services: {a: {image: x, healthcheck: {test: [true]}}}", "starts with NONE"),
            ("services: {'a b': {image: x}}", "service name `a b`"),
            ("services: {a: {image: x, stop_grace_period: soon}}", "not a duration"),
            ("[1]", "expected a mapping"),
        ];
        for (yaml, needle) in cases {
            let e = load_yaml(yaml, &[]).expect_err(yaml).to_string();
            assert!(e.contains(needle), "{yaml}: {e}");
        }
    }

    #[test]
    fn profiles_leave_services_out() {
        let yaml = "services: {a: {image: x}, dbg: {image: x, profiles: [debug]}}";
        let p = load_yaml(yaml, &[]).expect("loads");
        assert_eq!(p.disabled, ["dbg"]);
        assert_eq!(p.services.len(), 1);
    }
}
