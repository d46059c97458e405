//! The tools file (`--tools-file`): named, parameterized statements an operator defines,
//! read strictly and checked whole before any of them is served. Every error names the
//! file, the line of the tool and the tool.

use std::path::Path;

use mcp_core::ToolError;
use mcp_core::connector::{read_toml, valid_name};
use serde::Deserialize;
use serde_json::Value;
use toml::Spanned;

use super::params::ParamType;
use crate::databases::Databases;
use crate::guard::lexer::{self, Kind};

/// The flag the file comes from, in messages.
const FLAG: &str = "--tools-file";

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ToolsFile {
    #[serde(default)]
    tools: Vec<Spanned<Entry>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Entry {
    name: String,
    description: String,
    statement: String,
    database: Option<String>,
    #[serde(default)]
    write: bool,
    toolset: Option<String>,
    #[serde(default)]
    parameters: Vec<ParamEntry>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ParamEntry {
    name: String,
    #[serde(rename = "type")]
    ty: String,
    description: String,
    default: Option<toml::Value>,
    allowed_values: Option<Vec<toml::Value>>,
}

/// One tool of the file, checked.
#[derive(Debug, Clone, PartialEq)]
pub struct CustomTool {
    pub name: String,
    pub description: String,
    pub statement: String,
    /// The statement's kind (`select`, `update`, ...).
    pub kind: String,
    /// The configured database it runs on (`None`: the first).
    pub database: Option<String>,
    pub write: bool,
    pub toolset: String,
    pub params: Vec<Param>,
}

/// One parameter, `$n` for the n-th.
#[derive(Debug, Clone, PartialEq)]
pub struct Param {
    pub name: String,
    pub ty: ParamType,
    pub description: String,
    pub default: Option<Value>,
    pub allowed: Option<Vec<Value>>,
}

/// The name read tools take for paging a cut result, so no parameter may have it.
pub const OFFSET: &str = "offset";

/// Reads and checks the file at `path`: names (none `taken` by a built-in tool, none
/// twice), databases, each statement through the same guard as `query` (or `execute`'s,
/// for write tools), parameters against the statement's `$n`, defaults and allowed
/// values against their types.
pub fn load(path: &Path, dbs: &Databases, taken: &dyn Fn(&str) -> bool) -> Result<Vec<CustomTool>, String> {
    let file: ToolsFile = read_toml(path, FLAG)?;
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let mut tools: Vec<CustomTool> = Vec::new();
    for spanned in file.tools {
        let line = text.get(..spanned.span().start).map_or(0, |t| t.matches('\n').count() + 1);
        let entry = spanned.into_inner();
        let at = format!("{FLAG} {} line {line}, tool `{}`", path.display(), entry.name);
        let tool = check(entry, dbs, taken).map_err(|e| format!("{at}: {e}"))?;
        if tools.iter().any(|t| t.name == tool.name) {
            return Err(format!("{at}: a tool of this name is defined earlier in the file"));
        }
        tools.push(tool);
    }
    Ok(tools)
}

fn check(entry: Entry, dbs: &Databases, taken: &dyn Fn(&str) -> bool) -> Result<CustomTool, String> {
    if !valid_name(&entry.name) {
        return Err("a tool name is 1 to 63 letters, digits, `_` and `-`".into());
    }
    if taken(&entry.name) {
        return Err("a built-in tool has this name".into());
    }
    if entry.description.trim().is_empty() {
        return Err("`description` is empty: the model chooses tools by it".into());
    }
    if let Some(db) = &entry.database
        && !dbs.names().contains(&db.as_str())
    {
        return Err(format!("`database`: no database named `{db}`; configured: {}", dbs.names().join(", ")));
    }
    if entry.write && dbs.settings.allow_write {
        // Where a write would be refused at every call (a read-only database, several
        // databases and none named), say so now.
        dbs.for_write(entry.database.as_deref()).map_err(|e| format!("a write tool: {}", message(e)))?;
    }
    let statement = if entry.write {
        dbs.guard.check_write(&entry.statement, dbs.settings.write_mode)
    } else {
        dbs.guard.check_read(&entry.statement)
    }
    .map_err(|e| format!("`statement`: {}", message(e)))?;
    if statement.kind == "explain" {
        return Err("`statement`: EXPLAIN is the `explain` tool's; give the statement itself".into());
    }
    let used = highest_param(&entry.statement)?;
    if used != entry.parameters.len() {
        return Err(format!(
            "the statement uses ${used} as its highest parameter, and {} parameter{} declared: declare one per $n, \
             in order",
            entry.parameters.len(),
            if entry.parameters.len() == 1 { " is" } else { "s are" }
        ));
    }
    let mut params: Vec<Param> = Vec::new();
    for (i, p) in entry.parameters.into_iter().enumerate() {
        let param = check_param(p, entry.write).map_err(|e| format!("parameter {} (${}): {e}", i + 1, i + 1))?;
        if params.iter().any(|q| q.name == param.name) {
            return Err(format!("parameter `{}` is declared twice", param.name));
        }
        params.push(param);
    }
    let toolset = entry.toolset.unwrap_or_else(|| "custom".into());
    if !valid_name(&toolset) {
        return Err(format!("`toolset` `{toolset}`: use 1 to 63 letters, digits, `_` and `-`"));
    }
    Ok(CustomTool {
        name: entry.name,
        description: entry.description,
        statement: entry.statement,
        kind: statement.kind,
        database: entry.database,
        write: entry.write,
        toolset,
        params,
    })
}

/// A guard's error as a line of a start-up error (without the "Invalid arguments" a
/// model reads).
fn message(e: ToolError) -> String {
    match e {
        ToolError::InvalidArguments(m) => m,
        other => other.to_string(),
    }
}

fn check_param(p: ParamEntry, write: bool) -> Result<Param, String> {
    let named = |e: String| format!("`{}`: {e}", p.name);
    if !valid_name(&p.name) {
        return Err(named("a parameter name is 1 to 63 letters, digits, `_` and `-`".into()));
    }
    if !write && p.name == OFFSET {
        return Err(named("`offset` is the argument that pages a read tool's cut result; choose another name".into()));
    }
    let ty = ParamType::parse(&p.ty).map_err(named)?;
    let allowed = match p.allowed_values {
        Some(values) => {
            let values: Vec<Value> = values.iter().map(json_of).collect();
            for v in &values {
                ty.check(v).map_err(|e| named(format!("`allowed_values` {v}: {e}")))?;
            }
            Some(values)
        }
        None => None,
    };
    let default = match p.default.as_ref().map(json_of) {
        Some(v) => {
            ty.check(&v).map_err(|e| named(format!("`default`: {e}")))?;
            if allowed.as_ref().is_some_and(|a| !a.contains(&v)) {
                return Err(named(format!("`default` {v} is not one of `allowed_values`")));
            }
            Some(v)
        }
        None => None,
    };
    Ok(Param { name: p.name, ty, description: p.description, default, allowed })
}

/// A TOML value as JSON (a TOML date or time as its text).
fn json_of(value: &toml::Value) -> Value {
    match value {
        toml::Value::String(s) => Value::String(s.clone()),
        toml::Value::Integer(i) => Value::from(*i),
        toml::Value::Float(f) => serde_json::Number::from_f64(*f).map_or(Value::Null, Value::Number),
        toml::Value::Boolean(b) => Value::Bool(*b),
        toml::Value::Datetime(d) => Value::String(d.to_string()),
        toml::Value::Array(items) => Value::Array(items.iter().map(json_of).collect()),
        toml::Value::Table(t) => Value::Object(t.iter().map(|(k, v)| (k.clone(), json_of(v))).collect()),
    }
}

/// The highest `$n` of `sql`, read with the server's lexical rules (so `'$9'` is text).
fn highest_param(sql: &str) -> Result<usize, String> {
    let (tokens, _) = lexer::tokens(sql);
    let mut highest = 0;
    for t in tokens.iter().filter(|t| t.kind == Kind::Param) {
        let n: usize =
            sql[t.start + 1..t.end].parse().map_err(|_| format!("`{}` is not a parameter", &sql[t.start..t.end]))?;
        highest = highest.max(n);
    }
    Ok(highest)
}
