//! The server's tools while it serves: the fixed ones from the builder, and named groups
//! a connector may replace at any time (tools defined in an operator's file, reloaded).
//!
//! Every request reads one snapshot of the table, so a call sees the old set or the new
//! one, never half of each. A replaced group goes through the same selection as the
//! builder's tools (the `retain_tools` rules: tiers, toolsets), and the policy sees it at
//! list and call time like any tool.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, RwLock};

use super::handler::ToolRoute;

/// A rule that keeps or drops a tool (see `ServerBuilder::retain_tools`).
pub(crate) type Keep = Arc<dyn Fn(&ToolRoute) -> bool + Send + Sync>;

/// Tools by name.
pub(crate) type Table = BTreeMap<String, ToolRoute>;

/// The tool table of a built server.
pub(crate) struct ToolSet {
    current: RwLock<Arc<Table>>,
    /// The selection rules, applied again to every replaced group.
    keep: Vec<Keep>,
    /// Names of the tools outside any group, as registered (before selection): a group
    /// may never take one, even one the selection left out.
    fixed: BTreeSet<String>,
    /// The groups declared at build time.
    groups: BTreeSet<String>,
}

impl ToolSet {
    pub(crate) fn new(table: Table, keep: Vec<Keep>, fixed: BTreeSet<String>, groups: BTreeSet<String>) -> Self {
        Self { current: RwLock::new(Arc::new(table)), keep, fixed, groups }
    }

    /// The tools now.
    pub(crate) fn snapshot(&self) -> Arc<Table> {
        match self.current.read() {
            Ok(table) => table.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        }
    }

    /// Whether the server has tools, or may have them (a declared group).
    pub(crate) fn any(&self) -> bool {
        !self.groups.is_empty() || !self.snapshot().is_empty()
    }

    /// Replaces the tools of `group` with `routes` (those the selection keeps). Returns
    /// whether the listed tools changed. A name used by a fixed tool or twice in
    /// `routes`, or an undeclared group, is an error and changes nothing.
    pub(crate) fn replace(&self, group: &str, routes: Vec<ToolRoute>) -> Result<bool, String> {
        if !self.groups.contains(group) {
            return Err(format!("no tool group named `{group}` was declared when the server was built"));
        }
        let tag: Arc<str> = Arc::from(group);
        let mut incoming = Table::new();
        for mut route in routes {
            let name = route.tool.name.clone();
            if self.fixed.contains(&name) {
                return Err(format!("tool `{name}` of group `{group}`: a built-in tool has that name"));
            }
            route.group = Some(tag.clone());
            if self.keep.iter().all(|keep| keep(&route)) && incoming.insert(name.clone(), route).is_some() {
                return Err(format!("tool `{name}` is defined twice in group `{group}`"));
            }
        }
        crate::server::handler::make_schemas(incoming.values_mut());
        let mut current = match self.current.write() {
            Ok(guard) => guard,
            Err(poisoned) => poisoned.into_inner(),
        };
        let in_group = |r: &ToolRoute| r.group.as_deref() == Some(group);
        let before: Vec<&crate::protocol::Tool> = current.values().filter(|r| in_group(r)).map(|r| &r.tool).collect();
        let after: Vec<&crate::protocol::Tool> = incoming.values().map(|r| &r.tool).collect();
        let changed = before != after;
        let mut table: Table =
            current.iter().filter(|(_, r)| !in_group(r)).map(|(k, r)| (k.clone(), r.clone())).collect();
        table.extend(incoming);
        *current = Arc::new(table);
        Ok(changed)
    }
}

#[cfg(test)]
mod tests {
    use serde_json::{Value, json};

    use crate::connector::ToolSelection;
    use crate::protocol::jsonrpc::{Request, RequestId};
    use crate::protocol::types::meta;
    use crate::server::{Change, Server, Session, ToolRoute};
    use crate::{Context, ToolError, tool};

    fn answering(text: &'static str) -> impl Fn(Context, Value) -> std::future::Ready<Result<String, ToolError>> {
        move |_, _| std::future::ready(Ok(text.to_string()))
    }

    fn server(group: Vec<ToolRoute>) -> Server {
        Server::builder("t", "0")
            .tool(tool("fixed", answering("fixed")).read_only())
            .tool(tool("hidden_write", answering("w")).destructive())
            .tool_group("custom", group)
            .select_tools(&ToolSelection::default())
            .build()
    }

    async fn ask(server: &Server, method: &str, params: Value) -> Value {
        let mut params = params;
        params["_meta"] = json!({ meta::PROTOCOL_VERSION: "2026-07-28", meta::CLIENT_CAPABILITIES: {}, meta::CLIENT_INFO: {"name": "t", "version": "0"} });
        let req = Request::new(RequestId::Number(1), method, params);
        let response = server.handle_request(&std::sync::Arc::new(Session::new()), req, None).await;
        let mut bytes = Vec::new();
        response.write_to(&mut bytes);
        serde_json::from_slice(&bytes).expect("json")
    }

    async fn names(server: &Server) -> Vec<String> {
        let listed = ask(server, "tools/list", json!({})).await;
        let tools = listed["result"]["tools"].as_array().cloned().unwrap_or_default();
        tools.iter().filter_map(|t| t["name"].as_str().map(str::to_string)).collect()
    }

    async fn call(server: &Server, name: &str) -> Value {
        ask(server, "tools/call", json!({"name": name, "arguments": {}})).await
    }

    /// Arguments whose schema counts how often it is made.
    #[derive(serde::Deserialize)]
    struct Counted {}

    static COUNTED_MADE: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);

    impl schemars::JsonSchema for Counted {
        fn schema_name() -> std::borrow::Cow<'static, str> {
            "Counted".into()
        }
        fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
            COUNTED_MADE.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            schemars::json_schema!({ "type": "object", "properties": { "n": { "type": "integer" } } })
        }
    }

    fn counted(name: &str) -> ToolRoute {
        tool(name, |_: Context, _: Counted| std::future::ready(Ok::<_, ToolError>(String::new())))
    }

    #[tokio::test]
    async fn only_the_tools_a_server_keeps_have_their_schemas_made() {
        let made = || COUNTED_MADE.load(std::sync::atomic::Ordering::SeqCst);
        let before = made();
        // Written tools on a read-only server: built, replaced, never listed.
        let server = server(vec![counted("write").additive()]);
        assert_eq!(server.replace_tool_group("custom", [counted("write2").destructive()]), Ok(false));
        assert_eq!(made(), before, "a tool the server drops must cost no schema");
        assert_eq!(names(&server).await, ["fixed"]);
        // Kept ones have their schemas: made once for the two that share their type.
        let kept = [counted("read").read_only(), counted("read2").read_only()];
        assert_eq!(server.replace_tool_group("custom", kept), Ok(true));
        assert_eq!(made(), before + 1);
        let listed = ask(&server, "tools/list", json!({})).await;
        let read = &listed["result"]["tools"][1];
        assert_eq!(read["name"], "read");
        assert_eq!(read["inputSchema"]["properties"]["n"]["type"], "integer", "{read}");
        assert!(read.get("outputSchema").is_none(), "a text result declares no output schema: {read}");
        assert_eq!(listed["result"]["tools"][2]["inputSchema"], read["inputSchema"]);
    }

    #[tokio::test]
    async fn a_replaced_group_is_listed_and_called_and_clients_are_told() {
        let server = server(vec![tool("old", answering("old")).read_only()]);
        assert_eq!(names(&server).await, ["fixed", "old"]);
        let caps = ask(&server, "server/discover", json!({})).await;
        assert_eq!(caps["result"]["capabilities"]["tools"]["listChanged"], true, "{caps}");
        let mut changes = server.changes();
        let changed = server.replace_tool_group("custom", [tool("new", answering("new v1")).read_only()]);
        assert_eq!(changed, Ok(true));
        assert_eq!(changes.try_recv().ok(), Some(Change::Tools));
        assert_eq!(names(&server).await, ["fixed", "new"]);
        assert_eq!(call(&server, "new").await["result"]["content"][0]["text"], "new v1");
        assert!(call(&server, "old").await["error"]["message"].as_str().unwrap_or_default().contains("old"));
        // The same definitions again: nothing to tell (a new handler alone is not a change).
        let same = server.replace_tool_group("custom", [tool("new", answering("new v2")).read_only()]);
        assert_eq!(same, Ok(false));
        assert!(changes.try_recv().is_err());
        assert_eq!(call(&server, "new").await["result"]["content"][0]["text"], "new v2");
    }

    #[tokio::test]
    async fn the_selection_applies_to_replaced_groups() {
        let server = server(Vec::new());
        // Writes are not selected: the group's write tool is left out, like a fixed one.
        let changed = server.replace_tool_group(
            "custom",
            [tool("reader", answering("r")).read_only(), tool("writer", answering("w")).destructive()],
        );
        assert_eq!(changed, Ok(true));
        assert_eq!(names(&server).await, ["fixed", "reader"]);
        assert!(call(&server, "writer").await["error"].is_object());
    }

    #[tokio::test]
    async fn clashes_and_unknown_groups_keep_the_old_set() {
        let server = server(vec![tool("kept", answering("k")).read_only()]);
        // A built-in name, even one the selection left out.
        for taken in ["fixed", "hidden_write"] {
            let err = server.replace_tool_group("custom", [tool(taken, answering("x")).read_only()]).expect_err(taken);
            assert!(err.contains(taken) && err.contains("built-in"), "{err}");
        }
        let twice = [tool("a", answering("1")).read_only(), tool("a", answering("2")).read_only()];
        assert!(server.replace_tool_group("custom", twice).expect_err("twice").contains("twice"));
        assert!(server.replace_tool_group("other", []).expect_err("undeclared").contains("`other`"));
        assert_eq!(names(&server).await, ["fixed", "kept"]);
        // At build time, a clash is a start-up error.
        let built = Server::builder("t", "0")
            .tool(tool("fixed", answering("f")).read_only())
            .tool_group("custom", [tool("fixed", answering("x")).read_only()])
            .build();
        assert!(built.startup_error().is_some_and(|e| e.contains("`fixed`")));
    }
}
