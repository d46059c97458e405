//! The database going away mid-session and coming back: calls in between fail with a
//! clear message, and the next call after it is back works, on the same connector.
//!
//! It stops and starts the test cluster, so it is the only test in this binary (cargo
//! runs test binaries one after another).

mod common;

use std::time::Duration;

use common::{TRANSPORTS, start};
use mcp_core::testing::skip;
use serde_json::json;

/// How to stop and start the test cluster, when scripts/services.sh started it.
struct Cluster {
    bin: String,
    data: String,
    opts: String,
}

fn cluster() -> Option<Cluster> {
    let var = |name| std::env::var(name).ok().filter(|v| !v.is_empty());
    Some(Cluster {
        bin: var("MCP_POSTGRES_TEST_BIN")?,
        data: var("MCP_POSTGRES_TEST_DATA")?,
        opts: var("MCP_POSTGRES_TEST_OPTS")?,
    })
}

fn pg_ctl(cluster: &Cluster, action: &str) {
    let Cluster { bin, data, opts } = cluster;
    let log = std::path::Path::new(&data).with_file_name("log");
    let command = match action {
        "stop" => format!("{bin}/pg_ctl -D {data} -m fast -w stop"),
        _ => format!("{bin}/pg_ctl -D {data} -l {} -w start -o '{opts}'", log.display()),
    };
    let status = std::process::Command::new("su").args(["postgres", "-c", &command]).status().expect("run pg_ctl");
    assert!(status.success(), "pg_ctl {action} failed");
}

#[tokio::test]
async fn calls_work_again_once_the_database_is_back() {
    let Some(cluster) = cluster() else {
        return skip(
            "calls_work_again_once_the_database_is_back",
            "this PostgreSQL was not started by scripts/services.sh (no MCP_POSTGRES_TEST_DATA to restart it)",
        );
    };
    let args = ["--connect-timeout-secs", "1"];
    let connectors = [start(TRANSPORTS[0], &args).await, start(TRANSPORTS[1], &args).await];
    for c in &connectors {
        // Warm the pool so that it holds connections the restart will kill.
        assert_eq!(c.ok("query", json!({"sql": "SELECT 1"})).await["rows"], json!([[1]]));
    }
    pg_ctl(&cluster, "stop");
    for c in &connectors {
        let err = c.fails("query", json!({"sql": "SELECT 1"})).await;
        assert!(err.contains("unavailable"), "{err}");
    }
    pg_ctl(&cluster, "start");
    tokio::time::sleep(Duration::from_millis(200)).await;
    for c in &connectors {
        assert_eq!(c.ok("query", json!({"sql": "SELECT 2"})).await["rows"], json!([[2]]), "over {:?}", c.transport);
    }
}
