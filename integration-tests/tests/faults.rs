//! The shared services failing under open sessions: PostgreSQL, dockerd and n8n stopped
//! and started again. Calls during the outage fail with an error result naming the
//! service, calls after it succeed on the same sessions, and what was committed before
//! is still there. And a client that disconnects mid-call cancels its work.
//!
//! These tests stop the services every other test uses, so they live in their own test
//! binary (cargo runs test binaries one at a time), run one at a time (SERIAL), and
//! start the service again even when they fail (the Restart guards).

mod common;

use std::time::{Duration, Instant};

use integration_tests::{database_url, docker, docker_host, era, n8n, postgres};
use mcp_core::client::{Client, EraChoice};
use mcp_core::testing::{Connector, Transport, skip, text};
use serde_json::json;
use sqlx::Executor as _;

static SERIAL: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

fn sh(cmd: &str) -> bool {
    std::process::Command::new("sh").arg("-c").arg(cmd).status().is_ok_and(|s| s.success())
}

/// Runs `restore` when dropped unless disarmed: a failing test still leaves the service
/// running for the tests after it.
struct Restart<F: FnMut()> {
    restore: Option<F>,
}

impl<F: FnMut()> Restart<F> {
    fn new(restore: F) -> Self {
        Self { restore: Some(restore) }
    }
    fn now(&mut self) {
        if let Some(mut f) = self.restore.take() {
            f();
        }
    }
}

impl<F: FnMut()> Drop for Restart<F> {
    fn drop(&mut self) {
        self.now();
    }
}

/// Stops the process whose PID `pidfile` holds and waits until it has exited.
async fn stop_by_pidfile(pidfile: &str, what: &str) {
    let pid = std::fs::read_to_string(pidfile).unwrap_or_else(|e| panic!("{what} pidfile {pidfile}: {e}"));
    let pid = pid.trim();
    assert!(sh(&format!("kill {pid}")), "could not stop {what} ({pid})");
    let started = Instant::now();
    while sh(&format!("kill -0 {pid} 2>/dev/null")) {
        assert!(started.elapsed() < Duration::from_secs(60), "{what} ({pid}) did not stop");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn var(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|s| !s.is_empty())
}

/// How to restart `what`, when the test services started it: its start command and pidfile
/// (`MCP_TEST_{service}_START`, `MCP_TEST_{service}_PIDFILE`). Otherwise the test is
/// skipped through `testing::skip` (a failure under `MCP_TEST_NO_SKIP=1`).
fn restartable(test: &str, service: &str, what: &str) -> Option<(String, String)> {
    let found = var(&format!("MCP_TEST_{service}_START")).zip(var(&format!("MCP_TEST_{service}_PIDFILE")));
    if found.is_none() {
        skip(test, &format!("this {what} was not started by scripts/services.sh (cannot restart it)"));
    }
    found
}

/// Sessions over each transport, in both eras.
const SESSIONS: [(Transport, EraChoice); 4] = [
    (Transport::Stdio, EraChoice::Handshake),
    (Transport::Http, EraChoice::Stateless),
    (Transport::Http, EraChoice::Handshake),
    (Transport::WebSocket, EraChoice::Stateless),
];

async fn sessions(launcher: mcp_core::testing::Launcher) -> Vec<Connector> {
    let mut out = Vec::new();
    for (transport, choice) in SESSIONS {
        out.push(launcher.clone().options(era(choice)).start(transport).await);
    }
    out
}

fn pg_ctl(action: &str) -> bool {
    let (Some(bin), Some(data), Some(opts)) =
        (var("MCP_POSTGRES_TEST_BIN"), var("MCP_POSTGRES_TEST_DATA"), var("MCP_POSTGRES_TEST_OPTS"))
    else {
        return false;
    };
    let log = std::path::Path::new(&data).with_file_name("log");
    let command = match action {
        "stop" => format!("{bin}/pg_ctl -D {data} -m fast -w stop"),
        _ => format!("{bin}/pg_ctl -D {data} -l {} -w start -o '{opts}'", log.display()),
    };
    std::process::Command::new("su").args(["postgres", "-c", &command]).status().is_ok_and(|s| s.success())
}

async fn admin() -> sqlx::PgPool {
    sqlx::postgres::PgPoolOptions::new().max_connections(2).connect(&database_url()).await.expect("connect")
}

#[tokio::test]
async fn postgres_restarted_under_open_sessions() {
    let _serial = SERIAL.lock().await;
    if var("MCP_POSTGRES_TEST_DATA").is_none() {
        return skip(
            "postgres_restarted_under_open_sessions",
            "this PostgreSQL was not started by scripts/services.sh (cannot restart it)",
        );
    }
    let table = format!("faults_pg_{}", std::process::id());
    let pool = admin().await;
    pool.execute(
        format!("DROP TABLE IF EXISTS {table}; CREATE TABLE {table} (id int PRIMARY KEY, note text)").as_str(),
    )
    .await
    .expect("create table");
    pool.close().await;

    let sessions = sessions(postgres().args(["--allow-write", "--connect-timeout-secs", "1"])).await;
    for (i, s) in sessions.iter().enumerate() {
        s.ok("execute", json!({"sql": format!("INSERT INTO {table} VALUES ($1, 'before')"), "params": [i]})).await;
    }

    assert!(pg_ctl("stop"), "pg_ctl stop failed");
    let mut restart = Restart::new(|| {
        pg_ctl("start");
    });
    for s in &sessions {
        let err = s.fails("query", json!({"sql": format!("SELECT count(*) FROM {table}")})).await;
        assert!(err.contains("database") && err.contains("unavailable"), "over {:?}: {err}", s.transport);
    }
    restart.now();

    for (i, s) in sessions.iter().enumerate() {
        let rows = s.ok("query", json!({"sql": format!("SELECT id FROM {table} WHERE id = $1"), "params": [i]})).await;
        assert_eq!(rows["rows"], json!([[i]]), "the committed row {i} over {:?}", s.transport);
        s.ok("execute", json!({"sql": format!("INSERT INTO {table} VALUES ($1, 'after')"), "params": [100 + i]})).await;
    }
    let pool = admin().await;
    let count: i64 =
        sqlx::query_scalar(&format!("SELECT count(*) FROM {table}")).fetch_one(&pool).await.expect("count");
    assert_eq!(count, 2 * sessions.len() as i64);
    pool.execute(format!("DROP TABLE {table}").as_str()).await.expect("drop");
    pool.close().await;
}

#[tokio::test]
async fn dockerd_restarted_under_open_sessions() {
    let _serial = SERIAL.lock().await;
    let Some((start, pidfile)) = restartable("dockerd_restarted_under_open_sessions", "DOCKER", "dockerd") else {
        return;
    };
    let sessions = sessions(docker().arg("--allow-write")).await;
    let name = format!("mcp-faults-{}", std::process::id());
    let admin = bollard::Docker::connect_with_unix(
        docker_host().trim_start_matches("unix://"),
        30,
        bollard::API_DEFAULT_VERSION,
    )
    .expect("docker client");
    let _ = admin.remove_container(&name, None::<bollard::query_parameters::RemoveContainerOptions>).await;
    sessions[0]
        .ok(
            "create_container",
            json!({"image": "mcp-test/busybox:latest", "name": name, "cmd": ["true"], "network": "none"}),
        )
        .await;

    stop_by_pidfile(&pidfile, "dockerd").await;
    let mut restart = Restart::new(|| {
        sh(&start);
    });
    for s in &sessions {
        let err = s.fails("list_containers", json!({"all": true})).await;
        // "cannot reach the Docker daemon" or "no Docker socket at ...: is dockerd running?"
        assert!(err.contains("Docker"), "over {:?}: {err}", s.transport);
    }
    restart.now();
    let started = Instant::now();
    while admin.ping().await.is_err() {
        assert!(started.elapsed() < Duration::from_secs(60), "dockerd did not come back");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    for s in &sessions {
        let listed = s.ok_text("list_containers", json!({"all": true})).await;
        assert!(
            listed.0.contains(&name),
            "the container created before the restart, over {:?}: {}",
            s.transport,
            listed.0
        );
    }
    sessions[1].ok("remove_container", json!({"container": name, "force": true})).await;
}

#[tokio::test]
async fn n8n_restarted_under_open_sessions() {
    let _serial = SERIAL.lock().await;
    let Some((start, pidfile)) = restartable("n8n_restarted_under_open_sessions", "N8N", "n8n") else { return };
    let sessions = sessions(n8n().arg("--allow-write")).await;
    let name = format!("faults-{}", std::process::id());
    let created = sessions[0]
        .ok(
            "create_workflow",
            json!({"name": name, "nodes": [
                {"name": "Start", "type": "n8n-nodes-base.manualTrigger", "typeVersion": 1, "position": [0, 0], "parameters": {}}],
                "connections": {}}),
        )
        .await;
    let id = created["id"].as_str().expect("workflow id").to_string();

    stop_by_pidfile(&pidfile, "n8n").await;
    let mut restart = Restart::new(|| {
        sh(&start);
    });
    for s in &sessions {
        let err = s.fails("list_workflows", json!({"limit": 1})).await;
        assert!(err.contains("n8n"), "over {:?}: {err}", s.transport);
    }
    restart.now();
    let started = Instant::now();
    loop {
        let health = sessions[0].call("health", json!({})).await;
        if health.structured_content.as_ref().is_some_and(|v| v["healthy"] == true) {
            break;
        }
        assert!(started.elapsed() < Duration::from_secs(120), "n8n did not come back: {}", text(&health));
        tokio::time::sleep(Duration::from_millis(200)).await;
    }

    for s in &sessions {
        let (shown, _) = s.ok_text("get_workflow", json!({"id": id})).await;
        assert!(shown.contains(&name), "the workflow created before the restart, over {:?}: {shown}", s.transport);
    }
    sessions[1].ok("delete_workflow", json!({"id": id})).await;
}

/// Backends running a statement that contains `marker`.
async fn running(pool: &sqlx::PgPool, marker: &str) -> i64 {
    sqlx::query_scalar(
        "SELECT count(*) FROM pg_stat_activity WHERE state = 'active' AND query LIKE '%' || $1 || '%' \
         AND pid <> pg_backend_pid()",
    )
    .bind(marker)
    .fetch_one(pool)
    .await
    .expect("pg_stat_activity")
}

async fn wait_running(pool: &sqlx::PgPool, marker: &str, want: i64) -> bool {
    let started = Instant::now();
    while started.elapsed() < Duration::from_secs(10) {
        if running(pool, marker).await == want {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    false
}

#[tokio::test]
async fn a_client_that_disconnects_mid_call_cancels_the_query() {
    let _serial = SERIAL.lock().await;
    let server = postgres().start(Transport::Http).await;
    let listen = server.listen.clone().expect("listen");
    let pool = admin().await;
    // Stateless HTTP: closing the response stream is the cancellation (2026-07-28). Not a
    // handshake-era HTTP session: there a dropped stream is not a cancellation (the client
    // resumes it, or sends notifications/cancelled), so the call rightly runs on. Over
    // WebSocket, in both eras: the socket closing is the client leaving.
    let cases = [
        (format!("http://{listen}/mcp"), EraChoice::Stateless),
        (format!("ws://{listen}/ws"), EraChoice::Stateless),
        (format!("ws://{listen}/ws"), EraChoice::Handshake),
    ];
    for (i, (url, choice)) in cases.into_iter().enumerate() {
        let client = Client::connect_url(&url, era(choice)).await.unwrap_or_else(|e| panic!("connect {url}: {e}"));
        let marker = format!("disconnect_{}_{i}", std::process::id());
        let sql = format!("SELECT pg_sleep(60), '{marker}'");
        let call = tokio::spawn(async move { client.call_tool("query", json!({"sql": sql})).await });
        assert!(wait_running(&pool, &marker, 1).await, "the query never started over {url} ({choice:?})");
        // The client goes away mid-call: its future and connection are dropped.
        call.abort();
        let _ = call.await;
        assert!(
            wait_running(&pool, &marker, 0).await,
            "the query still runs 10 s after the client left ({url}, {choice:?})"
        );
    }
    // The server is fine afterwards.
    assert_eq!(server.ok("query", json!({"sql": "SELECT 1"})).await["rows"], json!([[1]]));
    pool.close().await;
}
