//! Access policy, one mechanism for every connector: read-only mode, allow and deny globs
//! over tool names, the same per client identity from a TOML file, and named resource
//! scopes that connectors read to enforce their own resource-level rules (schemas,
//! namespaces, container labels, workflow tags).
//!
//! ```toml
//! read_only = true                # everyone, unless an identity says otherwise
//! deny_tools = ["*_delete"]
//! confirm_destructive = true      # ask the client before any destructive tool runs
//!
//! [scopes]                        # read by connectors through Context::policy_scope
//! schemas = ["public"]
//!
//! [identities.ops]                # a bearer token's name or an OAuth subject
//! read_only = false
//! allow_tools = ["*"]
//! scopes = { schemas = ["public", "sales"] }
//!
//! [identities."scope:mcp.write"]  # OAuth clients whose token holds this scope
//! read_only = false
//! ```
//!
//! The command-line flags (`--read-only`, `--allow-tools`, `--deny-tools`) bound
//! everyone, whatever the file grants.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::sync::{PoisonError, RwLock, RwLockReadGuard};

use globset::{Glob, GlobSet, GlobSetBuilder};
use serde::Deserialize;

use super::identity::Identity;
use crate::protocol::Tool;

/// One set of rules: the file's top level, one of its identities, or the flags.
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Rules {
    /// Only tools annotated read-only are listed and callable.
    pub read_only: Option<bool>,
    /// When set, only tools matching one of these globs are allowed.
    pub allow_tools: Option<Vec<String>>,
    /// Tools matching any of these globs are denied.
    #[serde(default)]
    pub deny_tools: Vec<String>,
    /// Destructive tools run only after the client confirms.
    pub confirm_destructive: Option<bool>,
    /// Named resource scopes for connectors.
    #[serde(default)]
    pub scopes: BTreeMap<String, Vec<String>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct PolicyFile {
    #[serde(flatten)]
    defaults: Rules,
    #[serde(default)]
    identities: BTreeMap<String, Rules>,
}

/// Rules with their globs compiled, and where they came from (for error messages).
#[derive(Debug, Clone)]
struct Compiled {
    origin: String,
    read_only: Option<bool>,
    allow: Option<(Vec<String>, GlobSet)>,
    deny: (Vec<String>, GlobSet),
    confirm_destructive: Option<bool>,
    scopes: BTreeMap<String, Vec<String>>,
}

impl Compiled {
    fn new(origin: String, rules: Rules) -> Result<Self, String> {
        let allow = rules.allow_tools.map(|globs| compile(&origin, &globs).map(|set| (globs, set))).transpose()?;
        let deny = (rules.deny_tools.clone(), compile(&origin, &rules.deny_tools)?);
        Ok(Self {
            origin,
            read_only: rules.read_only,
            allow,
            deny,
            confirm_destructive: rules.confirm_destructive,
            scopes: rules.scopes,
        })
    }

    /// Why `tool` is denied by these rules, if it is.
    fn denial(&self, tool: &Tool) -> Option<String> {
        if self.deny.1.is_match(&tool.name) {
            let pattern = self.deny.1.matches(&tool.name).first().map_or("?", |&i| self.deny.0[i].as_str());
            return Some(format!("denied by deny_tools pattern {pattern:?} ({})", self.origin));
        }
        if let Some((globs, set)) = &self.allow
            && !set.is_match(&tool.name)
        {
            return Some(format!("not matched by allow_tools {globs:?} ({})", self.origin));
        }
        if self.read_only == Some(true) && !is_read_only(tool) {
            return Some(format!("read-only mode ({}): the tool is not annotated read-only", self.origin));
        }
        None
    }
}

fn compile(origin: &str, globs: &[String]) -> Result<GlobSet, String> {
    let mut builder = GlobSetBuilder::new();
    for g in globs {
        builder.add(Glob::new(g).map_err(|e| format!("{origin}: tool pattern {g:?} is not a valid glob: {e}"))?);
    }
    builder.build().map_err(|e| format!("{origin}: {e}"))
}

fn is_read_only(tool: &Tool) -> bool {
    tool.annotations.as_ref().and_then(|a| a.read_only_hint) == Some(true)
}

/// The access policy of a server. The default allows everything.
#[derive(Debug, Clone, Default)]
pub struct Policy {
    /// The command-line rules: they bind every identity.
    flags: Option<Compiled>,
    /// The file's top-level rules: identities without a section of their own get these.
    defaults: Option<Compiled>,
    identities: BTreeMap<String, Compiled>,
    allowed: AllowedCache,
}

/// Tools already found allowed, per identity without OAuth scopes: a policy never
/// changes, and matching globs on every call costs more than the call itself. Ordered
/// maps of a few short names compare faster than they hash, and concurrent requests
/// only read.
#[derive(Debug, Default)]
struct AllowedCache(RwLock<BTreeMap<String, BTreeSet<String>>>);

/// Entries beyond which nothing more is cached (the rules still apply, uncached).
const ALLOWED_CACHE_LIMIT: usize = 10_000;

impl AllowedCache {
    fn read(&self) -> RwLockReadGuard<'_, BTreeMap<String, BTreeSet<String>>> {
        self.0.read().unwrap_or_else(PoisonError::into_inner)
    }
}

impl Clone for AllowedCache {
    fn clone(&self) -> Self {
        Self::default()
    }
}

impl Policy {
    /// A policy from the command-line flags alone.
    pub fn from_flags(read_only: bool, allow_tools: Vec<String>, deny_tools: Vec<String>) -> Result<Self, String> {
        let rules = Rules {
            read_only: Some(read_only),
            allow_tools: (!allow_tools.is_empty()).then_some(allow_tools),
            deny_tools,
            ..Default::default()
        };
        Ok(Self { flags: Some(Compiled::new("command line".into(), rules)?), ..Default::default() })
    }

    /// Adds a policy file's rules (TOML; unknown keys are errors).
    pub fn with_file(mut self, path: &Path) -> Result<Self, String> {
        let text =
            std::fs::read_to_string(path).map_err(|e| format!("cannot read policy file {}: {e}", path.display()))?;
        self = self.with_toml(&text, &path.display().to_string())?;
        Ok(self)
    }

    /// Adds rules from TOML text; `origin` names it in errors.
    pub fn with_toml(mut self, text: &str, origin: &str) -> Result<Self, String> {
        let file: PolicyFile = toml::from_str(text).map_err(|e| format!("policy file {origin}: {e}"))?;
        self.defaults = Some(Compiled::new(format!("policy file {origin}"), file.defaults)?);
        for (name, rules) in file.identities {
            let compiled = Compiled::new(format!("policy file {origin}, identity {name:?}"), rules)?;
            self.identities.insert(name, compiled);
        }
        Ok(self)
    }

    /// The file rules that apply to `identity`: its own section, else the section of the
    /// first of its OAuth scopes that has one (`[identities."scope:NAME"]`), else the top
    /// level.
    fn file_rules(&self, identity: &Identity) -> Option<&Compiled> {
        self.identities
            .get(&identity.name)
            .or_else(|| identity.scopes.iter().find_map(|s| self.identities.get(&format!("scope:{s}"))))
            .or(self.defaults.as_ref())
    }

    /// `Err` with the rule that denies `identity` the use of `tool`.
    pub fn check(&self, identity: &Identity, tool: &Tool) -> Result<(), String> {
        let cacheable = identity.scopes.is_empty();
        if cacheable && self.allowed.read().get(&identity.name).is_some_and(|tools| tools.contains(tool.name.as_str()))
        {
            return Ok(());
        }
        for rules in [self.flags.as_ref(), self.file_rules(identity)].into_iter().flatten() {
            if let Some(why) = rules.denial(tool) {
                return Err(format!("Tool {:?} is not allowed for {:?}: {why}", tool.name, identity.name));
            }
        }
        if cacheable {
            let mut cache = self.allowed.0.write().unwrap_or_else(PoisonError::into_inner);
            if cache.values().map(BTreeSet::len).sum::<usize>() < ALLOWED_CACHE_LIMIT {
                cache.entry(identity.name.clone()).or_default().insert(tool.name.clone());
            }
        }
        Ok(())
    }

    /// Whether `tool` must be confirmed by the client before it runs for `identity`.
    pub fn needs_confirmation(&self, identity: &Identity, tool: &Tool) -> bool {
        let destructive = tool.annotations.as_ref().and_then(|a| a.destructive_hint) == Some(true);
        let wanted = [self.flags.as_ref(), self.file_rules(identity)]
            .into_iter()
            .flatten()
            .any(|r| r.confirm_destructive == Some(true));
        destructive && wanted
    }

    /// Makes destructive tools wait for the client's confirmation.
    pub fn confirm_destructive(mut self, on: bool) -> Self {
        let flags = self.flags.get_or_insert_with(|| Compiled {
            origin: "command line".into(),
            read_only: None,
            allow: None,
            deny: (Vec::new(), GlobSet::empty()),
            confirm_destructive: None,
            scopes: BTreeMap::new(),
        });
        flags.confirm_destructive = Some(on);
        self
    }

    /// A named resource scope for `identity` (e.g. the schemas it may see); `None` when
    /// the policy does not restrict it.
    pub fn scope(&self, identity: &Identity, name: &str) -> Option<&[String]> {
        self.file_rules(identity).and_then(|r| r.scopes.get(name)).map(Vec::as_slice)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::ToolAnnotations;
    use serde_json::json;

    fn tool(name: &str, read_only: bool, destructive: bool) -> Tool {
        let mut t: Tool =
            serde_json::from_value(json!({"name": name, "inputSchema": {"type": "object"}})).expect("tool");
        t.annotations = Some(ToolAnnotations {
            read_only_hint: Some(read_only),
            destructive_hint: Some(destructive),
            ..Default::default()
        });
        t
    }

    #[test]
    fn flags_bind_everyone_and_name_the_rule() {
        let p = Policy::from_flags(true, vec![], vec!["drop_*".into()]).expect("policy");
        let me = Identity::local();
        assert!(p.check(&me, &tool("list_tables", true, false)).is_ok());
        let e = p.check(&me, &tool("execute_sql", false, true)).expect_err("write denied");
        assert!(e.contains("read-only mode (command line)"), "{e}");
        let e = p.check(&me, &tool("drop_all", true, false)).expect_err("denied");
        assert!(e.contains("deny_tools pattern \"drop_*\""), "{e}");
    }

    #[test]
    fn identities_get_their_own_section_or_the_defaults() {
        let text = r#"
            read_only = true
            [scopes]
            schemas = ["public"]
            [identities.ops]
            read_only = false
            allow_tools = ["execute_*", "list_*"]
            scopes = { schemas = ["public", "sales"] }
        "#;
        let p = Policy::from_flags(false, vec![], vec![]).and_then(|p| p.with_toml(text, "test")).expect("policy");
        let (ops, guest) = (Identity::named("ops"), Identity::named("guest"));
        assert!(p.check(&ops, &tool("execute_sql", false, true)).is_ok());
        let e = p.check(&ops, &tool("vacuum", false, false)).expect_err("not allowed");
        assert!(e.contains("allow_tools") && e.contains("identity \"ops\""), "{e}");
        assert!(p.check(&guest, &tool("execute_sql", false, true)).is_err());
        assert_eq!(p.scope(&ops, "schemas"), Some(&["public".to_string(), "sales".to_string()][..]));
        assert_eq!(p.scope(&guest, "schemas"), Some(&["public".to_string()][..]));
        assert_eq!(p.scope(&guest, "namespaces"), None);
    }

    #[test]
    fn oauth_scopes_select_sections() {
        let text = "read_only = true\n[identities.\"scope:mcp.write\"]\nread_only = false";
        let p = Policy::default().with_toml(text, "test").expect("policy");
        let writer = Identity { name: "user-1".into(), scopes: vec!["mcp".into(), "mcp.write".into()], groups: vec![] };
        let reader = Identity { name: "user-2".into(), scopes: vec!["mcp".into()], groups: vec![] };
        assert!(p.check(&writer, &tool("execute_sql", false, true)).is_ok());
        assert!(p.check(&reader, &tool("execute_sql", false, true)).is_err());
    }

    #[test]
    fn bad_files_are_refused_with_the_reason() {
        let e = Policy::default().with_toml("read_only = true\nwrite_all = 1", "p.toml").expect_err("unknown key");
        assert!(e.contains("write_all"), "{e}");
        let e = Policy::default().with_toml("deny_tools = [\"a[\"]", "p.toml").expect_err("bad glob");
        assert!(e.contains("not a valid glob"), "{e}");
    }

    #[test]
    fn destructive_tools_need_confirmation_only_when_asked() {
        let me = Identity::local();
        let p = Policy::default();
        assert!(!p.needs_confirmation(&me, &tool("drop", false, true)));
        let p = p.confirm_destructive(true);
        assert!(p.needs_confirmation(&me, &tool("drop", false, true)));
        assert!(!p.needs_confirmation(&me, &tool("list", true, false)));
    }
}
