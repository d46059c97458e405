//! Which tools a connector lists: decided from each tool's own annotations (its tier) and
//! toolset tag, one rule for every connector. A tool a setting disables is not listed at
//! all: no tokens are spent on tools that could only refuse, and a model cannot call them.

use crate::server::{ServerBuilder, ToolRoute};

/// What a tool may do, read from its annotations.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Tier {
    /// Changes nothing (`readOnlyHint: true`).
    ReadOnly,
    /// Changes state without destroying anything.
    Write,
    /// May delete or overwrite (`destructiveHint: true`).
    Destructive,
}

impl Tier {
    /// The tier of `route`, from its annotations (unannotated tools count as writes).
    pub fn of(route: &ToolRoute) -> Tier {
        if route.is_read_only() {
            Tier::ReadOnly
        } else if route.is_destructive() {
            Tier::Destructive
        } else {
            Tier::Write
        }
    }
}

/// The settings that select tools: the same three in every connector.
#[derive(Debug, Clone, Default)]
pub struct ToolSelection {
    /// Toolsets to list (empty: all of them).
    pub toolsets: Vec<String>,
    /// Whether tools that change state are listed.
    pub allow_write: bool,
    /// Whether destructive tools are listed (with `allow_write`).
    pub allow_destructive: bool,
}

impl ToolSelection {
    /// Whether `route` is listed.
    pub fn keeps(&self, route: &ToolRoute) -> bool {
        let tier_allowed = match Tier::of(route) {
            Tier::ReadOnly => true,
            _ if route.has_own_gate() => true,
            Tier::Write => self.allow_write,
            Tier::Destructive => self.allow_write && self.allow_destructive,
        };
        let in_toolsets = self.toolsets.is_empty()
            || route.toolset_name().is_some_and(|t| self.toolsets.iter().any(|wanted| wanted == t));
        tier_allowed && in_toolsets
    }
}

impl ServerBuilder {
    /// Adds `routes`, each tagged with the toolset `toolset`: a tools module's table.
    pub fn tools_in(self, toolset: &'static str, routes: impl IntoIterator<Item = ToolRoute>) -> Self {
        routes.into_iter().fold(self, |builder, route| builder.tool(route.toolset(toolset)))
    }

    /// Keeps the tools `selection` lists. A toolset no registered tool belongs to is a
    /// start-up error naming the ones that exist (a misspelt toolset must not silently
    /// list nothing).
    pub fn select_tools(self, selection: &ToolSelection) -> Self {
        let mut known: Vec<&str> = self.tools().filter_map(ToolRoute::toolset_name).collect();
        known.sort_unstable();
        known.dedup();
        if let Some(unknown) = selection.toolsets.iter().find(|t| !known.contains(&t.as_str())) {
            let error = format!("--toolsets: no toolset named `{unknown}`; known: {}", known.join(", "));
            return self.fail(error);
        }
        let selection = selection.clone();
        self.retain_tools(move |route| selection.keeps(route))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Server, ToolError, tool};

    async fn noop(_: crate::Context, _: serde_json::Value) -> Result<String, ToolError> {
        Ok(String::new())
    }

    fn builder() -> ServerBuilder {
        Server::builder("t", "0")
            .tool(tool("list", noop).read_only().toolset("read"))
            .tools_in("write", [tool("create", noop).additive(), tool("delete", noop).destructive()])
            .tool(tool("export", noop).additive().own_gate().toolset("read"))
    }

    fn listed(selection: ToolSelection) -> Vec<String> {
        builder().select_tools(&selection).tools().map(|t| t.definition().name.clone()).collect()
    }

    #[test]
    fn tiers_follow_the_annotations() {
        let b = builder();
        let tiers: Vec<Tier> = b.tools().map(Tier::of).collect();
        // Sorted by name: create, delete, export, list.
        assert_eq!(tiers, [Tier::Write, Tier::Destructive, Tier::Write, Tier::ReadOnly]);
    }

    #[test]
    fn writes_and_destructive_tools_need_their_flags() {
        assert_eq!(listed(ToolSelection::default()), ["export", "list"]);
        let writes = ToolSelection { allow_write: true, ..Default::default() };
        assert_eq!(listed(writes), ["create", "export", "list"]);
        let all = ToolSelection { allow_write: true, allow_destructive: true, ..Default::default() };
        assert_eq!(listed(all), ["create", "delete", "export", "list"]);
        // Destructive without write is still nothing that writes.
        let odd = ToolSelection { allow_destructive: true, ..Default::default() };
        assert_eq!(listed(odd), ["export", "list"]);
    }

    #[test]
    fn toolsets_select_and_unknown_ones_fail_the_start() {
        let sel = ToolSelection { toolsets: vec!["write".into()], allow_write: true, allow_destructive: true };
        assert_eq!(listed(sel), ["create", "delete"]);
        let server =
            builder().select_tools(&ToolSelection { toolsets: vec!["wrte".into()], ..Default::default() }).build();
        let error = server.startup_error().expect("refused");
        assert!(error.contains("`wrte`") && error.contains("known: read, write"), "{error}");
    }
}
