//! The offline node catalogue: the node descriptions n8n ships in its npm packages
//! (`n8n-nodes-base` and `@n8n/n8n-nodes-langchain`, `dist/types/nodes.json`), condensed
//! to what search, describe and validation read, gzip'd and embedded in the binary for the
//! n8n version the tests run. It answers when no login is configured (n8n serves its own
//! catalogue only to a logged-in user). `mcp-n8n catalogue` regenerates it, from a
//! `node_modules` directory or from the npm registry.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde_json::{Map, Value, json};

use crate::output::clip;

/// The n8n version the embedded catalogue describes (the version the tests run).
pub const EMBEDDED_VERSION: &str = "2.41.1";

/// The embedded catalogue (`mcp-n8n catalogue --from <n8n 2.41.1 install> --out …`).
const EMBEDDED: &[u8] = include_bytes!("../catalogue/n8n-2.41.1.json.gz");

/// The packages whose nodes the catalogue holds, with the prefix n8n gives their types.
pub const PACKAGES: &[(&str, &str)] =
    &[("n8n-nodes-base", "n8n-nodes-base"), ("@n8n/n8n-nodes-langchain", "@n8n/n8n-nodes-langchain")];

/// Largest catalogue file read (the embedded one is well under this).
const MAX_FILE: u64 = 64 << 20;

/// A loaded catalogue: the n8n version it describes, where it came from, its nodes (in
/// the shape of n8n's `/types/nodes.json`, condensed).
#[derive(Debug)]
pub struct Catalogue {
    pub version: String,
    /// `embedded` or the file it was read from.
    pub origin: String,
    pub nodes: Arc<Vec<Value>>,
}

impl Catalogue {
    /// The embedded catalogue, or the one in `file`.
    pub fn load(file: Option<&Path>) -> Result<Self, String> {
        let (bytes, origin) = match file {
            None => (EMBEDDED.to_vec(), "embedded".to_string()),
            Some(path) => {
                let f = std::fs::File::open(path).map_err(|e| format!("--catalogue {}: {e}", path.display()))?;
                let mut bytes = Vec::new();
                f.take(MAX_FILE).read_to_end(&mut bytes).map_err(|e| format!("--catalogue {}: {e}", path.display()))?;
                (bytes, path.display().to_string())
            }
        };
        let doc = decode(&bytes).map_err(|e| format!("catalogue ({origin}): {e}"))?;
        let version = doc["n8n_version"].as_str().unwrap_or("unknown").to_string();
        if file.is_none() && version != EMBEDDED_VERSION {
            return Err(format!("the embedded catalogue is of n8n {version}, not {EMBEDDED_VERSION}: rebuild it"));
        }
        let Value::Array(mut nodes) = doc.get("nodes").cloned().unwrap_or(Value::Null) else {
            return Err(format!("catalogue ({origin}): no `nodes` array (made by `mcp-n8n catalogue`?)"));
        };
        let tools: Vec<Value> = nodes.iter().filter(|n| n["usableAsTool"] == true).map(tool_variant).collect();
        nodes.extend(tools);
        Ok(Self { version, origin, nodes: Arc::new(nodes) })
    }

    /// How results name this source.
    pub fn source(&self) -> String {
        format!("catalogue of n8n {} ({})", self.version, self.origin)
    }
}

/// A catalogue document from its gzip'd (or plain) JSON.
pub fn decode(bytes: &[u8]) -> Result<Value, String> {
    let mut text = Vec::new();
    if bytes.starts_with(&[0x1f, 0x8b]) {
        flate2::read::GzDecoder::new(bytes)
            .take(MAX_FILE * 8)
            .read_to_end(&mut text)
            .map_err(|e| format!("not gzip: {e}"))?;
    } else {
        text = bytes.to_vec();
    }
    serde_json::from_slice(&text).map_err(|e| format!("not a catalogue's JSON: {e}"))
}

/// The catalogue document built from the packages under `node_modules`.
pub fn build(node_modules: &Path) -> Result<Value, String> {
    let mut nodes = Vec::new();
    let mut versions = Map::new();
    for (package, prefix) in PACKAGES {
        let dir = node_modules.join(package);
        let manifest = read_json(&dir.join("package.json"))?;
        let version = manifest["version"].as_str().unwrap_or("unknown").to_string();
        versions.insert(package.to_string(), json!(version));
        let Value::Array(described) = read_json(&dir.join("dist/types/nodes.json"))? else {
            return Err(format!("{}: not an array of node descriptions", dir.display()));
        };
        for d in &described {
            let Some(name) = d["name"].as_str() else { continue };
            let mut node = condense_node(d, &format!("{prefix}.{name}"));
            // n8n adds a `<name>Tool` variant of each node usable as an AI agent's tool;
            // the loader derives it (storing it would double the file).
            if d.get("usableAsTool").is_some_and(|u| u != false) {
                node["usableAsTool"] = json!(true);
            }
            nodes.push(node);
        }
    }
    nodes.sort_by(|a, b| {
        (a["name"].as_str(), a["version"].to_string()).cmp(&(b["name"].as_str(), b["version"].to_string()))
    });
    let n8n_version = versions.get("n8n-nodes-base").cloned().unwrap_or(Value::Null);
    Ok(json!({"n8n_version": n8n_version, "packages": versions, "nodes": nodes}))
}

/// Writes `doc` gzip'd to `out`.
pub fn write(doc: &Value, out: &Path) -> Result<usize, String> {
    let text = serde_json::to_vec(doc).map_err(|e| e.to_string())?;
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    gz.write_all(&text).map_err(|e| e.to_string())?;
    let bytes = gz.finish().map_err(|e| e.to_string())?;
    std::fs::write(out, &bytes).map_err(|e| format!("--out {}: {e}", out.display()))?;
    Ok(bytes.len())
}

fn read_json(path: &Path) -> Result<Value, String> {
    let bytes = std::fs::read(path).map_err(|e| format!("{}: {e}", path.display()))?;
    serde_json::from_slice(&bytes).map_err(|e| format!("{}: {e}", path.display()))
}

/// One node description, condensed: what search, describe and validation read.
fn condense_node(d: &Value, name: &str) -> Value {
    let mut m = Map::new();
    m.insert("name".into(), json!(name));
    for key in ["displayName", "group", "version", "defaultVersion", "hidden", "polling", "maxNodes"] {
        if let Some(v) = d.get(key).filter(|v| !v.is_null()) {
            m.insert(key.into(), v.clone());
        }
    }
    m.insert("description".into(), json!(clip(d["description"].as_str().unwrap_or_default(), 300)));
    if let Some(hint) = d["builderHint"]["message"].as_str().or(d["builderHint"].as_str()) {
        m.insert("builderHint".into(), json!(clip(hint, 600)));
    }
    if let Some(cats) = d["codex"]["categories"].as_array() {
        m.insert("categories".into(), Value::Array(cats.clone()));
    }
    for key in ["inputs", "outputs"] {
        m.insert(key.into(), condense_connections(&d[key]));
    }
    if let Some(creds) = d["credentials"].as_array() {
        let creds: Vec<Value> = creds
            .iter()
            .map(|c| {
                let mut o = Map::new();
                o.insert("name".into(), c["name"].clone());
                if c["required"] == true {
                    o.insert("required".into(), json!(true));
                }
                if let Some(show) = c.get("displayOptions") {
                    o.insert("displayOptions".into(), show.clone());
                }
                Value::Object(o)
            })
            .collect();
        m.insert("credentials".into(), Value::Array(creds));
    }
    if let Some(hooks) = d["webhooks"].as_array().filter(|h| !h.is_empty()) {
        let hooks: Vec<Value> = hooks.iter().map(|h| json!({"name": h["name"]})).collect();
        m.insert("webhooks".into(), Value::Array(hooks));
    }
    let props: Vec<Value> =
        d["properties"].as_array().into_iter().flatten().filter(|p| p["type"] != "notice").map(condense_prop).collect();
    m.insert("properties".into(), Value::Array(props));
    Value::Object(m)
}

/// Inputs or outputs: a static list as types (with display name and `required` where
/// given), or, when an expression computes them, `{"computed": [types it can give]}`.
fn condense_connections(v: &Value) -> Value {
    match v {
        Value::Array(items) => Value::Array(
            items
                .iter()
                .map(|i| match i {
                    Value::String(_) => i.clone(),
                    Value::Object(o) => {
                        let mut c = Map::new();
                        for k in ["type", "displayName", "required", "maxConnections"] {
                            if let Some(x) = o.get(k) {
                                c.insert(k.into(), x.clone());
                            }
                        }
                        Value::Object(c)
                    }
                    _ => Value::Null,
                })
                .collect(),
        ),
        Value::String(expr) => json!({"computed": expression_connection_types(expr)}),
        _ => json!([]),
    }
}

/// The connection types an inputs/outputs expression mentions (`main`, `ai_*`), in order.
pub fn expression_connection_types(expr: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    let bytes = expr.as_bytes();
    let word = |b: u8| b.is_ascii_alphanumeric() || b == b'_';
    let mut i = 0;
    while i < bytes.len() {
        if !word(bytes[i]) || (i > 0 && word(bytes[i - 1])) {
            i += 1;
            continue;
        }
        let start = i;
        while i < bytes.len() && word(bytes[i]) {
            i += 1;
        }
        let w = &expr[start..i];
        // Quoted names only: `main` also appears as a variable (`mainInputs`).
        let quoted = start > 0 && matches!(bytes[start - 1], b'\'' | b'"' | b'`');
        if quoted && (w == "main" || (w.starts_with("ai_") && w.len() > 3)) && !out.iter().any(|o| o == w) {
            out.push(w.to_string());
        }
    }
    out
}

/// A parameter, condensed: name, type, default, required, options, when shown, a short
/// description; nested collections recursively.
fn condense_prop(p: &Value) -> Value {
    let mut m = Map::new();
    for key in ["name", "displayName", "type"] {
        if let Some(v) = p.get(key) {
            m.insert(key.into(), v.clone());
        }
    }
    if let Some(d) = p.get("default") {
        let d = match d {
            Value::String(s) if s.len() > 200 => json!(clip(s, 200)),
            v => v.clone(),
        };
        m.insert("default".into(), d);
    }
    if p["required"] == true {
        m.insert("required".into(), json!(true));
    }
    if let Some(d) = p["description"].as_str().filter(|d| !d.is_empty()) {
        m.insert("description".into(), json!(clip(d, 160)));
    }
    if let Some(show) = p.get("displayOptions") {
        m.insert("displayOptions".into(), show.clone());
    }
    if p["typeOptions"]["multipleValues"] == true {
        m.insert("typeOptions".into(), json!({"multipleValues": true}));
    }
    if p["typeOptions"]["loadOptionsMethod"].is_string() || p["typeOptions"]["loadOptions"].is_object() {
        m.insert("loadOptions".into(), json!(true));
    }
    if let Some(opts) = p["options"].as_array() {
        let opts: Vec<Value> = opts
            .iter()
            .map(|o| {
                if o.get("type").is_some() {
                    condense_prop(o) // a collection's member
                } else if let Some(values) = o["values"].as_array() {
                    json!({"name": o["name"], "displayName": o["displayName"],
                           "values": values.iter().map(condense_prop).collect::<Vec<_>>()})
                } else {
                    let mut c = Map::new();
                    for k in ["name", "value", "action"] {
                        if let Some(v) = o.get(k) {
                            c.insert(k.into(), v.clone());
                        }
                    }
                    Value::Object(c)
                }
            })
            .collect();
        m.insert("options".into(), Value::Array(opts));
    }
    Value::Object(m)
}

/// The `<name>Tool` variant n8n derives from a node usable as a tool: no inputs, one
/// `ai_tool` output, and a description the agent reads.
fn tool_variant(node: &Value) -> Value {
    let mut t = node.clone();
    let name = node["name"].as_str().unwrap_or_default();
    let display = node["displayName"].as_str().unwrap_or_default();
    t["name"] = json!(format!("{name}Tool"));
    t["displayName"] = json!(format!("{display} Tool"));
    t["inputs"] = json!([]);
    t["outputs"] = json!(["ai_tool"]);
    if let Value::Object(m) = &mut t {
        m.remove("webhooks");
        m.remove("polling");
        m.remove("usableAsTool");
    }
    let mut props = vec![
        json!({"name": "descriptionType", "displayName": "Tool Description", "type": "options", "default": "auto",
               "options": [{"name": "Set Automatically", "value": "auto"}, {"name": "Set Manually", "value": "manual"}]}),
        json!({"name": "toolDescription", "displayName": "Description", "type": "string",
               "default": node["description"], "required": true,
               "displayOptions": {"show": {"descriptionType": ["manual"]}}}),
    ];
    props.extend(node["properties"].as_array().cloned().unwrap_or_default());
    t["properties"] = Value::Array(props);
    t
}

/// Downloads the two packages at `version` with `npm pack` into a fresh directory under
/// the system's temporary directory and unpacks what [`build`] reads into
/// `<dir>/node_modules`; returns `<dir>` (the caller removes it).
pub fn fetch(version: &str) -> Result<PathBuf, String> {
    if version.is_empty() || !version.chars().all(|c| c.is_ascii_alphanumeric() || ".-".contains(c)) {
        return Err(format!("--version `{version}`: expected an n8n version such as 2.41.1"));
    }
    let nanos =
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_nanos()).unwrap_or_default();
    let dir = std::env::temp_dir().join(format!("mcp-n8n-catalogue-{}-{nanos}", std::process::id()));
    std::fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    for (package, _) in PACKAGES {
        let spec = format!("{package}@{version}");
        let out = std::process::Command::new("npm")
            .args(["pack", "--silent", "--pack-destination"])
            .arg(&dir)
            .arg(&spec)
            .output()
            .map_err(|e| format!("npm pack {spec}: {e} (is npm installed?)"))?;
        if !out.status.success() {
            return Err(format!("npm pack {spec}: {}", clip(String::from_utf8_lossy(&out.stderr).trim(), 400)));
        }
        let tgz = String::from_utf8_lossy(&out.stdout).lines().last().unwrap_or_default().trim().to_string();
        let target = dir.join("node_modules").join(package);
        unpack(&dir.join(&tgz), &target)?;
    }
    Ok(dir)
}

/// Extracts `package/package.json` and `package/dist/types/nodes.json` of an npm tarball.
fn unpack(tgz: &Path, target: &Path) -> Result<(), String> {
    let file = std::fs::File::open(tgz).map_err(|e| format!("{}: {e}", tgz.display()))?;
    let mut archive = tar::Archive::new(flate2::read::GzDecoder::new(file));
    let wanted = ["package/package.json", "package/dist/types/nodes.json"];
    let mut found = 0;
    for entry in archive.entries().map_err(|e| format!("{}: {e}", tgz.display()))? {
        let mut entry = entry.map_err(|e| format!("{}: {e}", tgz.display()))?;
        let path = entry.path().map_err(|e| e.to_string())?.to_string_lossy().into_owned();
        if let Some(rel) = wanted.iter().find(|w| **w == path).and_then(|w| w.strip_prefix("package/")) {
            let dest = target.join(rel);
            if let Some(parent) = dest.parent() {
                std::fs::create_dir_all(parent).map_err(|e| format!("{}: {e}", parent.display()))?;
            }
            let mut bytes = Vec::new();
            entry.read_to_end(&mut bytes).map_err(|e| e.to_string())?;
            std::fs::write(&dest, bytes).map_err(|e| format!("{}: {e}", dest.display()))?;
            found += 1;
        }
    }
    if found < wanted.len() {
        return Err(format!("{}: no dist/types/nodes.json (not an n8n nodes package?)", tgz.display()));
    }
    Ok(())
}

/// `mcp-n8n catalogue`: its own command line.
#[derive(Debug, clap::Parser)]
#[command(name = "mcp-n8n catalogue", about = "Build the offline node catalogue from n8n's npm packages")]
pub struct CatalogueCli {
    /// A directory holding `node_modules` with n8n-nodes-base and @n8n/n8n-nodes-langchain
    /// (an n8n install), or that `node_modules` itself.
    #[arg(long, conflicts_with = "version")]
    pub from: Option<PathBuf>,
    /// Instead of --from: the n8n version whose packages to fetch with `npm pack`.
    #[arg(long)]
    pub version: Option<String>,
    /// Where to write the gzip'd catalogue.
    #[arg(long)]
    pub out: PathBuf,
}

/// Runs `mcp-n8n catalogue …` (`args` after the word `catalogue`).
pub fn main(args: impl Iterator<Item = String>) -> Result<String, String> {
    let cli = <CatalogueCli as clap::Parser>::try_parse_from(std::iter::once("mcp-n8n catalogue".into()).chain(args))
        .map_err(|e| e.to_string())?;
    let (modules, temp) = match (&cli.from, &cli.version) {
        (Some(dir), None) => {
            let nested = dir.join("node_modules");
            (if nested.is_dir() { nested } else { dir.clone() }, None)
        }
        (None, Some(v)) => {
            let dir = fetch(v)?;
            (dir.join("node_modules"), Some(dir))
        }
        _ => return Err("give --from DIR (an n8n install) or --version X (fetched with npm)".into()),
    };
    let built = build(&modules);
    if let Some(dir) = temp {
        let _ = std::fs::remove_dir_all(dir);
    }
    let doc = built?;
    let size = write(&doc, &cli.out)?;
    Ok(format!(
        "{}: {} node descriptions of n8n {}, {size} bytes gzip'd",
        cli.out.display(),
        doc["nodes"].as_array().map_or(0, Vec::len),
        doc["n8n_version"].as_str().unwrap_or("?")
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn computed_connections_name_their_types() {
        let expr = "={{ ((x) => { const mainInputs = ['main']; return [...mainInputs, {type: 'ai_languageModel'}, \
                    {type: \"ai_tool\"}, {type: 'ai_tool'}] })() }}";
        assert_eq!(expression_connection_types(expr), ["main", "ai_languageModel", "ai_tool"]);
        assert_eq!(condense_connections(&json!(expr))["computed"][1], "ai_languageModel");
    }

    #[test]
    fn the_embedded_catalogue_loads() {
        let c = Catalogue::load(None).expect("the embedded catalogue");
        assert_eq!(c.version, EMBEDDED_VERSION);
        assert!(c.nodes.iter().any(|n| n["name"] == "@n8n/n8n-nodes-langchain.agent"));
        assert!(c.nodes.iter().any(|n| n["name"] == "n8n-nodes-base.slackTool" && n["outputs"][0] == "ai_tool"));
    }
}
