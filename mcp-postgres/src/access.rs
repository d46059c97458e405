//! Which schemas and tables a client may touch, from the access policy's scopes:
//!
//! ```toml
//! [scopes]                          # everyone
//! deny_schemas = ["secret"]
//! [identities.analyst.scopes]       # one client
//! schemas = ["public", "sales"]     # only these (globs)
//! deny_tables = ["public.salaries"] # never these (schema.table globs)
//! ```
//!
//! Exploration hides what is denied. A statement is checked by the relations its plan
//! reads (`guard::plan`), so views, CTEs and subqueries cannot hide a denied table the
//! way they could from a parser of SQL text.

use globset::{Glob, GlobSet, GlobSetBuilder};
use mcp_core::{Context, ToolError};

/// One client's relation rules; `None` fields do not restrict.
#[derive(Debug, Default)]
pub struct Relations {
    allow_schemas: Option<GlobSet>,
    deny_schemas: Option<GlobSet>,
    allow_tables: Option<GlobSet>,
    deny_tables: Option<GlobSet>,
}

fn compile(scope: &str, patterns: Option<Vec<String>>) -> Result<Option<GlobSet>, ToolError> {
    let Some(patterns) = patterns else { return Ok(None) };
    let mut builder = GlobSetBuilder::new();
    for p in &patterns {
        let glob =
            Glob::new(p).map_err(|e| ToolError::failed(format!("policy scope `{scope}`: bad pattern {p:?}: {e}")))?;
        builder.add(glob);
    }
    builder.build().map(Some).map_err(|e| ToolError::failed(format!("policy scope `{scope}`: {e}")))
}

impl Relations {
    /// The rules the policy sets for the calling client.
    pub fn of(ctx: &Context) -> Result<Self, ToolError> {
        Ok(Self {
            allow_schemas: compile("schemas", ctx.policy_scope("schemas"))?,
            deny_schemas: compile("deny_schemas", ctx.policy_scope("deny_schemas"))?,
            allow_tables: compile("tables", ctx.policy_scope("tables"))?,
            deny_tables: compile("deny_tables", ctx.policy_scope("deny_tables"))?,
        })
    }

    /// Whether any rule applies.
    pub fn restricts(&self) -> bool {
        self.allow_schemas.is_some()
            || self.deny_schemas.is_some()
            || self.allow_tables.is_some()
            || self.deny_tables.is_some()
    }

    /// Whether the client may see `schema` at all.
    pub fn schema_allowed(&self, schema: &str) -> bool {
        self.allow_schemas.as_ref().is_none_or(|s| s.is_match(schema))
            && !self.deny_schemas.as_ref().is_some_and(|s| s.is_match(schema))
    }

    /// Whether the client may read `schema.table`.
    pub fn table_allowed(&self, schema: &str, table: &str) -> bool {
        let qualified = format!("{schema}.{table}");
        self.schema_allowed(schema)
            && self.allow_tables.as_ref().is_none_or(|s| s.is_match(&qualified))
            && !self.deny_tables.as_ref().is_some_and(|s| s.is_match(&qualified))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deny_wins_over_allow() {
        let rules = Relations {
            allow_schemas: compile("schemas", Some(vec!["public".into(), "sales".into()])).expect("globs"),
            deny_tables: compile("deny_tables", Some(vec!["sales.salaries".into()])).expect("globs"),
            ..Relations::default()
        };
        assert!(rules.table_allowed("public", "orders"));
        assert!(!rules.table_allowed("sales", "salaries"));
        assert!(!rules.table_allowed("secret", "keys"));
    }
}
