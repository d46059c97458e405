//! The Compose file as written (after interpolation): serde types that refuse unknown
//! keys, and the spec's alternative spellings (a string or a list, a mapping or a list of
//! `KEY=value`).

use std::collections::BTreeMap;

use serde::Deserialize;
use serde_yaml_ng::Value;

use super::model::Condition;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawFile {
    /// Obsolete in the specification; accepted and ignored, as compose does.
    #[allow(dead_code)]
    pub(super) version: Option<Value>,
    pub(super) name: Option<String>,
    #[serde(default)]
    pub(super) services: BTreeMap<String, Value>,
    #[serde(default)]
    pub(super) networks: BTreeMap<String, Option<RawNetwork>>,
    #[serde(default)]
    pub(super) volumes: BTreeMap<String, Option<RawVolume>>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub(super) struct RawNetwork {
    pub(super) name: Option<String>,
    pub(super) driver: Option<String>,
    #[serde(default)]
    pub(super) external: bool,
    #[serde(default)]
    pub(super) internal: bool,
    #[serde(default)]
    pub(super) labels: Labels,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub(super) struct RawVolume {
    pub(super) name: Option<String>,
    pub(super) driver: Option<String>,
    #[serde(default)]
    pub(super) external: bool,
    #[serde(default)]
    pub(super) labels: Labels,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawService {
    pub(super) image: Option<String>,
    pub(super) command: Option<Command>,
    pub(super) entrypoint: Option<Command>,
    #[serde(default)]
    pub(super) environment: Labels,
    #[serde(default)]
    pub(super) env_file: OneOrMany<EnvFile>,
    #[serde(default)]
    pub(super) ports: Vec<Scalar>,
    #[serde(default)]
    pub(super) volumes: Vec<RawMount>,
    #[serde(default)]
    pub(super) networks: Option<RawServiceNetworks>,
    pub(super) network_mode: Option<String>,
    #[serde(default)]
    pub(super) depends_on: RawDependsOn,
    pub(super) healthcheck: Option<RawHealthcheck>,
    pub(super) restart: Option<String>,
    #[serde(default)]
    pub(super) labels: Labels,
    pub(super) user: Option<Scalar>,
    pub(super) working_dir: Option<String>,
    pub(super) container_name: Option<String>,
    pub(super) hostname: Option<String>,
    #[serde(default)]
    pub(super) profiles: Vec<String>,
    #[serde(default)]
    pub(super) privileged: bool,
    #[serde(default)]
    pub(super) cap_add: Vec<String>,
    #[serde(default)]
    pub(super) cap_drop: Vec<String>,
    pub(super) pid: Option<String>,
    pub(super) ipc: Option<String>,
    #[serde(default)]
    pub(super) tty: bool,
    #[serde(default)]
    pub(super) stdin_open: bool,
    pub(super) init: Option<bool>,
    #[serde(default)]
    pub(super) read_only: bool,
    pub(super) stop_signal: Option<String>,
    pub(super) stop_grace_period: Option<String>,
    #[serde(default)]
    pub(super) tmpfs: OneOrMany<String>,
    pub(super) mem_limit: Option<Scalar>,
    pub(super) cpus: Option<Scalar>,
    /// Images are pulled by compose_pull only; `pull_policy` is accepted for files
    /// written for the CLI.
    #[allow(dead_code)]
    pub(super) pull_policy: Option<String>,
}

/// A scalar written as a string, number or boolean, read as its text.
#[derive(Debug, Clone)]
pub(super) struct Scalar(pub(super) String);

impl<'de> Deserialize<'de> for Scalar {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        match Value::deserialize(d)? {
            Value::String(s) => Ok(Scalar(s)),
            Value::Number(n) => Ok(Scalar(n.to_string())),
            Value::Bool(b) => Ok(Scalar(b.to_string())),
            _ => Err(serde::de::Error::custom("expected a string, number or boolean")),
        }
    }
}

#[derive(Deserialize)]
#[serde(untagged)]
pub(super) enum Command {
    Shell(String),
    List(Vec<Scalar>),
}

#[derive(Deserialize)]
#[serde(untagged)]
pub(super) enum OneOrMany<T> {
    One(T),
    Many(Vec<T>),
}

impl<T> Default for OneOrMany<T> {
    fn default() -> Self {
        OneOrMany::Many(Vec::new())
    }
}

impl<T> OneOrMany<T> {
    pub(super) fn into_vec(self) -> Vec<T> {
        match self {
            OneOrMany::One(t) => vec![t],
            OneOrMany::Many(v) => v,
        }
    }
}

#[derive(Deserialize)]
#[serde(untagged)]
pub(super) enum EnvFile {
    Path(String),
    Long {
        path: String,
        #[serde(default = "yes")]
        required: bool,
    },
}

fn yes() -> bool {
    true
}

/// A mapping or a `KEY=value` list (environment, labels); a key without value in a list,
/// or a null value, is left out (compose takes it from the shell, which this server
/// does not read).
#[derive(Default)]
pub(super) struct Labels(pub(super) Vec<(String, String)>);

impl<'de> Deserialize<'de> for Labels {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let scalar = |v: Value| match v {
            Value::String(s) => Ok(Some(s)),
            Value::Number(n) => Ok(Some(n.to_string())),
            Value::Bool(b) => Ok(Some(b.to_string())),
            Value::Null => Ok(None),
            _ => Err(serde::de::Error::custom("values must be strings, numbers or booleans")),
        };
        let mut out = Vec::new();
        match Value::deserialize(d)? {
            Value::Mapping(map) => {
                for (k, v) in map {
                    let Some(k) = scalar(k)? else { continue };
                    if let Some(v) = scalar(v)? {
                        out.push((k, v));
                    }
                }
            }
            Value::Sequence(items) => {
                for item in items {
                    let Some(entry) = scalar(item)? else { continue };
                    if let Some((k, v)) = entry.split_once('=') {
                        out.push((k.to_string(), v.to_string()));
                    }
                }
            }
            Value::Null => {}
            _ => return Err(serde::de::Error::custom("expected a mapping or a list of KEY=value")),
        }
        Ok(Labels(out))
    }
}

#[derive(Deserialize)]
#[serde(untagged)]
pub(super) enum RawMount {
    Short(String),
    Long(LongMount),
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct LongMount {
    #[serde(rename = "type")]
    pub(super) kind: String,
    pub(super) source: Option<String>,
    pub(super) target: String,
    #[serde(default)]
    pub(super) read_only: bool,
}

#[derive(Deserialize)]
#[serde(untagged)]
pub(super) enum RawServiceNetworks {
    List(Vec<String>),
    Map(BTreeMap<String, Option<RawServiceNetwork>>),
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub(super) struct RawServiceNetwork {
    #[serde(default)]
    pub(super) aliases: Vec<String>,
}

#[derive(Deserialize)]
#[serde(untagged)]
pub(super) enum RawDependsOn {
    List(Vec<String>),
    Map(BTreeMap<String, RawDependency>),
}

impl Default for RawDependsOn {
    fn default() -> Self {
        RawDependsOn::List(Vec::new())
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawDependency {
    #[serde(default = "started")]
    pub(super) condition: Condition,
    /// Accepted; compose_up does not restart dependents.
    #[allow(dead_code)]
    #[serde(default)]
    pub(super) restart: bool,
    #[serde(default = "yes")]
    pub(super) required: bool,
}

fn started() -> Condition {
    Condition::Started
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawHealthcheck {
    pub(super) test: Option<Command>,
    pub(super) interval: Option<String>,
    pub(super) timeout: Option<String>,
    pub(super) start_period: Option<String>,
    pub(super) start_interval: Option<String>,
    pub(super) retries: Option<i64>,
    #[serde(default)]
    pub(super) disable: bool,
}
