//! Pagination over 300 workflows: every one seen exactly once through the cursor, no
//! page larger than asked.

mod common;

use std::collections::HashSet;

use common::{unique, writer};
use mcp_core::testing::Transport;
use serde_json::json;

#[tokio::test]
async fn three_hundred_workflows_page_by_cursor() {
    let s = writer().start(Transport::Stdio).await;
    // A tag of its own: the shared instance holds other tests' workflows too.
    let tag = format!("page{}", std::process::id() % 1_000_000);
    let mut made = HashSet::new();
    for i in 0..300 {
        let wf = common::manual_workflow(&format!("{}-{i}", unique("page")));
        let c = s
            .ok(
                "create_workflow",
                json!({"name": wf["name"], "nodes": wf["nodes"], "connections": wf["connections"], "tags": [tag]}),
            )
            .await;
        made.insert(c["id"].as_str().expect("id").to_string());
    }
    let mut seen = HashSet::new();
    let mut cursor: Option<String> = None;
    let mut pages = 0;
    loop {
        let page = s.ok("list_workflows", json!({"tags": [tag], "limit": 100, "cursor": cursor})).await;
        let rows = page["workflows"].as_array().expect("rows");
        assert!(rows.len() <= 100);
        for r in rows {
            assert!(seen.insert(r["id"].as_str().expect("id").to_string()), "seen twice: {r}");
        }
        pages += 1;
        match page["next_cursor"].as_str() {
            Some(c) => {
                assert!(page["note"].as_str().is_some_and(|n| n.contains(&format!("cursor=\"{c}\""))), "{page}");
                cursor = Some(c.to_string());
            }
            None => break,
        }
        assert!(pages < 10, "the cursor never ends");
    }
    assert_eq!(seen, made);
    assert!(pages >= 3, "{pages} pages");
    // The default page is bounded by --max-rows (100) even when more is asked.
    let big = s.ok("list_workflows", json!({"tags": [tag], "limit": 1000})).await;
    assert_eq!(big["count"], 100);
    for id in made {
        s.ok("delete_workflow", json!({"id": id})).await;
    }
}
