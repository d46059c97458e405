//! `export`: whole results streamed to CSV or JSON Lines under the export directory only,
//! with progress, and nothing left behind when it fails.

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use common::{TRANSPORTS, start, start_with};
use mcp_core::client::{ClientOptions, NotificationHandler};
use serde_json::json;

#[tokio::test]
async fn results_stream_to_csv_and_json_lines_with_progress() {
    for transport in TRANSPORTS {
        let dir = tempfile::tempdir().expect("tempdir");
        let progress = Arc::new(AtomicUsize::new(0));
        let seen = progress.clone();
        let handler: NotificationHandler = Arc::new(move |n| {
            if n.method == "notifications/progress" {
                seen.fetch_add(1, Ordering::SeqCst);
            }
        });
        let options = ClientOptions { on_notification: Some(handler), ..Default::default() };
        let dir_arg = dir.path().to_str().expect("path");
        // A row limit far below the export's size: exports are not bound by it.
        let c = start_with(transport, &["--export-dir", dir_arg, "--max-rows", "10"], options).await;
        let sql = "SELECT g AS id, 'name, \"' || g || '\"' AS label, CASE WHEN g % 2 = 0 THEN NULL ELSE g * 1.5 END AS x, \
                   jsonb_build_object('g', g) AS doc FROM generate_series(1, 25000) g";
        // Called with a progress token, as a client that shows progress does.
        let params = json!({"name": "export", "arguments": {"sql": sql, "path": "out/rows.csv", "format": "csv"},
                            "_meta": {"progressToken": "export-1"}});
        let result = c.client.request("tools/call", params.as_object().expect("object").clone()).await.expect("export");
        let out = &result["structuredContent"];
        assert_eq!(out["rows"], 25000, "{result}");
        let csv = std::fs::read_to_string(dir.path().join("out/rows.csv")).expect("csv written");
        let lines: Vec<&str> = csv.split("\r\n").collect();
        assert_eq!(lines[0], "id,label,x,doc");
        assert_eq!(lines[1], "1,\"name, \"\"1\"\"\",1.5,\"{\"\"g\"\":1}\"");
        assert_eq!(lines[2], "2,\"name, \"\"2\"\"\",,\"{\"\"g\"\":2}\"");
        assert_eq!(lines.len(), 25002, "header, rows and the final line break");
        assert_eq!(out["bytes"], csv.len());
        let out = c.ok("export", json!({"sql": sql, "path": "rows.jsonl", "format": "jsonl"})).await;
        assert_eq!(out["columns"][2], json!({"name": "x", "type": "numeric"}));
        let jsonl = std::fs::read_to_string(dir.path().join("rows.jsonl")).expect("jsonl written");
        let first: serde_json::Value = serde_json::from_str(jsonl.lines().next().expect("a line")).expect("json");
        assert_eq!(first, json!({"id": 1, "label": "name, \"1\"", "x": "1.5", "doc": {"g": 1}}));
        assert_eq!(jsonl.lines().count(), 25000);
        // Progress every 10,000 rows and at the end.
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        assert!(progress.load(Ordering::SeqCst) >= 3, "{} progress notifications", progress.load(Ordering::SeqCst));
    }
}

#[tokio::test]
async fn exports_stay_in_their_directory_and_never_leave_partial_files() {
    for transport in TRANSPORTS {
        let dir = tempfile::tempdir().expect("tempdir");
        let c = start(transport, &["--export-dir", dir.path().to_str().expect("path")]).await;
        for path in ["/tmp/escape.csv", "../escape.csv", "a/../../escape.csv"] {
            let err = c.fails("export", json!({"sql": "SELECT 1", "path": path, "format": "csv"})).await;
            assert!(err.contains("inside the export directory"), "{path}: {err}");
        }
        c.ok("export", json!({"sql": "SELECT 1", "path": "once.csv", "format": "csv"})).await;
        let err = c.fails("export", json!({"sql": "SELECT 2", "path": "once.csv", "format": "csv"})).await;
        assert!(err.contains("already exists"), "{err}");
        c.ok("export", json!({"sql": "SELECT 2 AS two", "path": "once.csv", "format": "csv", "overwrite": true})).await;
        assert_eq!(std::fs::read_to_string(dir.path().join("once.csv")).expect("read"), "two\r\n2\r\n");
        // A statement failing midway (division by zero at row 5000) leaves no file at all.
        let err = c
            .fails("export", json!({"sql": "SELECT 1 / (5000 - g) FROM generate_series(1, 10000) g", "path": "bad.csv", "format": "csv"}))
            .await;
        assert!(err.contains("division by zero"), "{err}");
        let names: Vec<String> = std::fs::read_dir(dir.path())
            .expect("list")
            .map(|e| e.expect("entry").file_name().to_string_lossy().into())
            .collect();
        assert_eq!(names, vec!["once.csv".to_string()], "nothing else written");
        // The read-only rules of `query` hold.
        let err = c.fails("export", json!({"sql": "DELETE FROM pg_class", "path": "x.csv", "format": "csv"})).await;
        assert!(err.contains("only reading statements"), "{err}");
    }
    // Without an export directory the tool does not exist.
    let c = start(TRANSPORTS[0], &[]).await;
    assert!(!c.client.list_tools().await.expect("tools").iter().any(|t| t.name == "export"));
}

#[tokio::test]
async fn symbolic_links_planted_at_the_temporary_or_final_name_are_not_written_through() {
    for transport in TRANSPORTS {
        let dir = tempfile::tempdir().expect("tempdir");
        let elsewhere = tempfile::tempdir().expect("tempdir");
        let victim = elsewhere.path().join("victim.txt");
        std::fs::write(&victim, "untouched").expect("write");
        let not_yet = elsewhere.path().join("not-yet.txt");
        // At the temporary name, pointing at an existing file and at one not yet there.
        std::os::unix::fs::symlink(&victim, dir.path().join(".planted.csv.partial")).expect("symlink");
        std::os::unix::fs::symlink(&not_yet, dir.path().join(".dangling.csv.partial")).expect("symlink");
        let c = start(transport, &["--export-dir", dir.path().to_str().expect("path")]).await;
        for path in ["planted.csv", "dangling.csv"] {
            c.ok("export", json!({"sql": "SELECT 42 AS answer", "path": path, "format": "csv"})).await;
            let written = dir.path().join(path);
            assert!(!written.is_symlink(), "{path} is a file of its own");
            assert_eq!(std::fs::read_to_string(&written).expect("read"), "answer\r\n42\r\n", "{path}");
        }
        assert_eq!(std::fs::read_to_string(&victim).expect("read"), "untouched");
        assert!(!not_yet.exists(), "nothing created through the dangling link");

        // At the final name: a link to an existing file outside is refused; a dangling one
        // counts as existing, and with overwrite the link itself is replaced.
        std::os::unix::fs::symlink(&victim, dir.path().join("linked.csv")).expect("symlink");
        let err = c
            .fails("export", json!({"sql": "SELECT 1", "path": "linked.csv", "format": "csv", "overwrite": true}))
            .await;
        assert!(err.contains("inside the export directory"), "{err}");
        std::os::unix::fs::symlink(&not_yet, dir.path().join("gone.csv")).expect("symlink");
        let err = c.fails("export", json!({"sql": "SELECT 1", "path": "gone.csv", "format": "csv"})).await;
        assert!(err.contains("already exists"), "{err}");
        c.ok("export", json!({"sql": "SELECT 1 AS one", "path": "gone.csv", "format": "csv", "overwrite": true})).await;
        assert!(!dir.path().join("gone.csv").is_symlink());
        assert_eq!(std::fs::read_to_string(dir.path().join("gone.csv")).expect("read"), "one\r\n1\r\n");
        assert_eq!(std::fs::read_to_string(&victim).expect("read"), "untouched");
        assert!(!not_yet.exists(), "nothing created through the dangling link");
    }
}
