//! The reading container tools against a real dockerd, over stdio and HTTP: the compact
//! list with filters and paging, inspect with secrets redacted, bounded logs, stats, top,
//! diff and wait, and the errors for unknown ids and bad arguments.

mod common;

use common::{TRANSPORTS, admin, fails_with, name, remove, run, start};
use serde_json::json;

#[tokio::test]
async fn list_containers_is_a_compact_filtered_paged_table() {
    let docker = admin().await;
    let group = name("list");
    let a = format!("{group}-a");
    let b = format!("{group}-b");
    let c = format!("{group}-c");
    run(&docker, &a, &["sleep", "300"], &[("group", &group), ("role", "web")], &[]).await;
    run(&docker, &b, &["sleep", "300"], &[("group", &group), ("role", "db")], &[]).await;
    run(&docker, &c, &["true"], &[("group", &group)], &[]).await;
    common::wait_exit(&docker, &c).await;
    let label = format!("group={group}");
    for transport in TRANSPORTS {
        let conn = start(transport, &[]).await;
        let (text, out) = conn.ok_text("list_containers", json!({"label": [label]})).await;
        assert_eq!(out["total"], 2, "running only by default: {out}");
        assert!(text.starts_with("CONTAINER ID"), "{text}");
        assert!(text.contains(&a) && text.contains(&b) && !text.contains(&c), "{text}");
        let row = &out["containers"][0];
        for key in ["id", "name", "image", "state", "status", "ports", "created"] {
            assert!(row.get(key).is_some(), "{key} missing in {row}");
        }
        assert_eq!(row["id"].as_str().map(str::len), Some(12));
        // Nothing bulky: no labels, mounts, network settings or health logs.
        assert!(row.get("labels").is_none() && row.get("mounts").is_none());

        let out = conn.ok("list_containers", json!({"label": [label], "all": true})).await;
        assert_eq!(out["total"], 3);
        let out = conn.ok("list_containers", json!({"label": [label], "status": "exited"})).await;
        assert_eq!(out["containers"][0]["name"], c);
        let out = conn.ok("list_containers", json!({"label": [label, "role=db"]})).await;
        assert_eq!(out["total"], 1);
        assert_eq!(out["containers"][0]["name"], b);
        let out = conn.ok("list_containers", json!({"name": a, "all": true})).await;
        assert_eq!(out["total"], 1);
        let out = conn.ok("list_containers", json!({"ancestor": "mcp-test/busybox", "label": [label]})).await;
        assert_eq!(out["total"], 2);

        // Paging: one at a time, with the offset the cut result gives.
        let (text, first) = conn.ok_text("list_containers", json!({"label": [label], "all": true, "limit": 1})).await;
        assert_eq!(first["truncated"], true);
        assert_eq!(first["nextOffset"], 1);
        assert!(text.contains("offset=1"), "{text}");
        let second = conn.ok("list_containers", json!({"label": [label], "all": true, "limit": 2, "offset": 1})).await;
        assert_eq!(second["returned"], 2);
        assert_eq!(second["truncated"], false);
        assert!(second.get("nextOffset").is_none());

        fails_with(&conn, "list_containers", json!({"status": "sleeping"}), &["`status`", "running"]).await;
        fails_with(&conn, "list_containers", json!({"nope": 1}), &["nope"]).await;
        fails_with(&conn, "list_containers", json!({"host": "elsewhere"}), &["no host named `elsewhere`"]).await;
    }
    for n in [&a, &b, &c] {
        remove(&docker, n).await;
    }
}

#[tokio::test]
async fn inspect_redacts_secret_environment_values() {
    let docker = admin().await;
    let n = name("inspect");
    run(
        &docker,
        &n,
        &["sleep", "300"],
        &[],
        &["DB_PASSWORD=hunter2", "API_TOKEN=tok-abc123", "DATABASE_URL=postgres://u:pw@db/x", "MODE=prod"],
    )
    .await;
    for transport in TRANSPORTS {
        let conn = start(transport, &[]).await;
        let (text, out) = conn.ok_text("inspect_container", json!({"container": n})).await;
        assert!(!text.contains("hunter2") && !text.contains("tok-abc123") && !text.contains(":pw@"), "{text}");
        let env = out["container"]["Config"]["Env"].as_array().expect("env").clone();
        assert!(env.contains(&json!("MODE=prod")), "{env:?}");
        assert!(env.contains(&json!("DB_PASSWORD=[REDACTED]")), "{env:?}");
        assert!(env.contains(&json!("DATABASE_URL=postgres://u:[REDACTED]@db/x")), "{env:?}");
        assert_eq!(out["container"]["Name"], format!("/{n}"));

        let shown = start(transport, &["--show-secrets"]).await;
        let (text, _) = shown.ok_text("inspect_container", json!({"container": n})).await;
        assert!(text.contains("hunter2"), "--show-secrets shows values");

        fails_with(
            &conn,
            "inspect_container",
            json!({"container": "mcp-no-such-container"}),
            &["No such container", "list_containers"],
        )
        .await;
        fails_with(&conn, "inspect_container", json!({"container": "../../etc"}), &["not a valid id or name"]).await;
    }
    remove(&docker, &n).await;
}

/// Whether an inspect leaves `value` out: it carries nothing (null, "", [], {}, or an
/// object of such members only).
fn is_pruned(value: &serde_json::Value) -> bool {
    match value {
        serde_json::Value::Null => true,
        serde_json::Value::String(s) => s.is_empty(),
        serde_json::Value::Array(items) => items.is_empty(),
        serde_json::Value::Object(map) => map.values().all(is_pruned),
        _ => false,
    }
}

/// Every value of `typed` (bollard's model as JSON) that carries something is in `doc`
/// (what a tool answered), but under the paths the tool changes on purpose.
fn assert_holds(doc: &serde_json::Value, typed: &serde_json::Value, path: &str, changed: &[&str]) {
    use serde_json::Value;
    if changed.contains(&path) || is_pruned(typed) {
        return;
    }
    match (doc, typed) {
        (Value::Object(d), Value::Object(t)) => {
            for (key, value) in t {
                let inner = format!("{path}/{key}");
                if changed.contains(&inner.as_str()) || is_pruned(value) {
                    continue;
                }
                let held = d.get(key).unwrap_or_else(|| panic!("{inner} is missing"));
                assert_holds(held, value, &inner, changed);
            }
        }
        (Value::Array(d), Value::Array(t)) => {
            assert_eq!(d.len(), t.len(), "{path}");
            for (i, (held, value)) in d.iter().zip(t).enumerate() {
                assert_holds(held, value, &format!("{path}/{i}"), changed);
            }
        }
        _ => assert_eq!(doc, typed, "{path}"),
    }
}

/// No member anywhere is `null` (bollard's models leave such members out).
fn assert_no_nulls(doc: &serde_json::Value, path: &str) {
    match doc {
        serde_json::Value::Object(map) => {
            for (key, value) in map {
                assert!(!value.is_null(), "{path}/{key} is null");
                assert_no_nulls(value, &format!("{path}/{key}"));
            }
        }
        serde_json::Value::Array(items) => items.iter().for_each(|v| assert_no_nulls(v, path)),
        _ => {}
    }
}

/// Inspect reads the engine's document as it comes over the connector's own transport
/// (`documents.rs`): it holds all bollard's model does (but the redacted environment
/// and the storage driver's internals), and no nulls.
#[tokio::test]
async fn inspect_answers_with_everything_bollard_reads_of_the_document() {
    let docker = admin().await;
    let n = name("document");
    run(&docker, &n, &["sleep", "300"], &[("role", "web")], &["MODE=prod"]).await;
    let container = serde_json::to_value(docker.inspect_container(&n, None).await.expect("inspect")).expect("json");
    let image = serde_json::to_value(docker.inspect_image(common::IMAGE).await.expect("inspect")).expect("json");
    for transport in TRANSPORTS {
        let conn = start(transport, &[]).await;
        let out = conn.ok("inspect_container", json!({"container": n})).await;
        assert_holds(&out["container"], &container, "", &["/Config/Env", "/GraphDriver"]);
        assert_no_nulls(&out["container"], "");
        let out = conn.ok("inspect_image", json!({"image": common::IMAGE})).await;
        assert_holds(&out["image"], &image, "", &["/Config/Env", "/GraphDriver"]);
        assert_no_nulls(&out["image"], "");
    }
    remove(&docker, &n).await;
}

#[tokio::test]
async fn logs_are_bounded_by_lines_and_bytes_and_say_so() {
    let docker = admin().await;
    let n = name("logs");
    // 5000 numbered lines on stdout, one marker on stderr, then idle. The pause keeps the
    // streams in order in the log file (Docker copies stdout and stderr separately).
    common::run_sh(&docker, &n, "i=1; while [ $i -le 5000 ]; do echo \"line $i padding-padding-padding\"; i=$((i+1)); done; sleep 1; echo oops >&2; sleep 300").await;
    for transport in TRANSPORTS {
        let conn = start(transport, &[]).await;
        // Wait until the writer is done (a busy machine may take a while).
        for _ in 0..300 {
            let (text, _) = conn.ok_text("container_logs", json!({"container": n, "tail": 1})).await;
            if text.contains("oops") {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
        let (text, out) = conn.ok_text("container_logs", json!({"container": n, "tail": 3})).await;
        assert_eq!(out["lines"], 3, "{text}");
        assert_eq!(out["truncated"], true);
        assert!(
            text.contains("line 4999 ") && text.contains("[stderr] oops") && !text.contains("line 4997 "),
            "{text}"
        );
        assert!(text.contains("Older lines exist"), "{text}");

        let (text, out) = conn.ok_text("container_logs", json!({"container": n, "tail": 3, "stderr": false})).await;
        assert!(text.contains("line 5000 ") && !text.contains("oops"), "{text}");
        assert_eq!(out["lines"], 3);

        let (text, _) = conn
            .ok_text("container_logs", json!({"container": n, "tail": 1, "timestamps": true, "stderr": false}))
            .await;
        let last = text.lines().last().expect("a line");
        assert!(last.starts_with("20") && last.contains('T'), "timestamp first: {last}");

        // The byte budget cuts before the line limit does: 1000 lines of ~35 bytes > 16 KiB.
        let small = start(transport, &["--max-result-bytes", "16384"]).await;
        let (text, out) = small.ok_text("container_logs", json!({"container": n, "tail": 1000})).await;
        assert!(out["bytes"].as_u64().expect("bytes") <= 16384, "{out}");
        assert_eq!(out["truncated"], true);
        assert!(text.contains("output budget"), "{text}");
        assert!(text.contains("[stderr] oops"), "newest lines are kept: {text}");

        // until before the container existed: nothing.
        let (text, out) =
            conn.ok_text("container_logs", json!({"container": n, "until": "2001-09-09T01:46:40Z"})).await;
        assert_eq!(out["lines"], 0, "{text}");
        let out = conn.ok("container_logs", json!({"container": n, "since": "1h", "tail": 2})).await;
        assert_eq!(out["lines"], 2);

        fails_with(&conn, "container_logs", json!({"container": n, "tail": 100000}), &["--max-log-lines"]).await;
        fails_with(&conn, "container_logs", json!({"container": n, "since": "yesterday"}), &["`since`", "RFC 3339"])
            .await;
        fails_with(
            &conn,
            "container_logs",
            json!({"container": n, "stdout": false, "stderr": false}),
            &["nothing to read"],
        )
        .await;
        fails_with(&conn, "container_logs", json!({"container": "mcp-no-such-container"}), &["No such container"])
            .await;
    }
    remove(&docker, &n).await;
}

#[tokio::test]
async fn stats_top_and_diff_describe_a_running_container() {
    let docker = admin().await;
    let n = name("observe");
    common::run_sh(&docker, &n, "mkdir /made && echo x > /made/file && rm /bin/true && exec sleep 300").await;
    // Until the shell has made its changes and become `sleep`.
    for _ in 0..100 {
        let top = docker.top_processes(&n, None::<bollard::query_parameters::TopOptions>).await.expect("top");
        if top
            .processes
            .unwrap_or_default()
            .iter()
            .any(|p| p.join(" ").contains("sleep 300") && !p.join(" ").contains("sh -c"))
        {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    for transport in TRANSPORTS {
        let conn = start(transport, &[]).await;
        let (text, out) = conn.ok_text("container_stats", json!({"container": n})).await;
        assert_eq!(out["running"], true, "{out}");
        assert!(out["memoryUsage"].as_u64().expect("memory") > 0);
        assert!(out["memoryLimit"].as_u64().expect("limit") > 0);
        assert!(out["pids"].as_u64().expect("pids") >= 1);
        assert!(out["cpuPercent"].as_f64().is_some());
        assert!(text.contains("CPU %") && text.contains("MEM USAGE / LIMIT"), "{text}");

        let (text, out) = conn.ok_text("container_top", json!({"container": n})).await;
        assert!(text.contains("sleep 300"), "{text}");
        assert!(out["titles"].as_array().expect("titles").contains(&json!("PID")));
        let out = conn.ok("container_top", json!({"container": n, "ps_args": "-o pid,comm"})).await;
        assert_eq!(out["titles"], json!(["PID", "COMMAND"]));
        let err = conn.fails("container_top", json!({"container": n, "ps_args": "; rm -rf /"})).await;
        assert!(err.contains("`ps_args`"), "{err}");

        let (text, out) = conn.ok_text("container_diff", json!({"container": n})).await;
        assert!(text.contains("A /made/file") && text.contains("D /bin/true"), "{text}");
        let changes = out["changes"].as_array().expect("changes");
        assert!(changes.iter().any(|c| c["kind"] == "A" && c["path"] == "/made"));
        let paged = conn.ok("container_diff", json!({"container": n, "offset": 1})).await;
        assert_eq!(paged["offset"], 1);

        for tool in ["container_stats", "container_top", "container_diff"] {
            fails_with(&conn, tool, json!({"container": "mcp-no-such-container"}), &["No such container"]).await;
        }
    }
    remove(&docker, &n).await;
}

#[tokio::test]
async fn stats_of_a_stopped_container_say_it_is_not_running() {
    let docker = admin().await;
    let n = name("stopped");
    common::create(&docker, &n, &["true"]).await;
    for transport in TRANSPORTS {
        let conn = start(transport, &[]).await;
        let (text, out) = conn.ok_text("container_stats", json!({"container": n})).await;
        assert_eq!(out["running"], false, "{out}");
        assert!(text.contains("not running"), "{text}");
    }
    remove(&docker, &n).await;
}

#[tokio::test]
async fn wait_returns_the_exit_code_or_says_it_still_runs() {
    let docker = admin().await;
    let quick = name("wait-quick");
    let slow = name("wait-slow");
    for transport in TRANSPORTS {
        common::run_sh(&docker, &quick, "sleep 1; exit 7").await;
        run(&docker, &slow, &["sleep", "300"], &[], &[]).await;
        // Listed without --allow-write: waiting changes nothing.
        let conn = start(transport, &[]).await;
        let (text, out) = conn.ok_text("wait_container", json!({"container": quick, "timeout_secs": 20})).await;
        assert_eq!(out["stopped"], true, "{text}");
        assert_eq!(out["exitCode"], 7);
        let out = conn.ok("wait_container", json!({"container": slow, "timeout_secs": 1})).await;
        assert_eq!(out["stopped"], false);
        fails_with(
            &conn,
            "wait_container",
            json!({"container": "mcp-no-such-container", "timeout_secs": 5}),
            &["No such container"],
        )
        .await;
        fails_with(&conn, "wait_container", json!({"container": slow, "timeout_secs": 0}), &["`timeout_secs`"]).await;
    }
    remove(&docker, &quick).await;
    remove(&docker, &slow).await;
}

#[tokio::test]
async fn health_check_logs_are_cut_to_the_last_result() {
    use bollard::models::{ContainerCreateBody, HealthConfig, HostConfig};
    use bollard::query_parameters::CreateContainerOptions;
    let docker = admin().await;
    let n = name("health");
    remove(&docker, &n).await;
    // A chatty health check every 100 ms: Docker keeps its last five outputs.
    let body = ContainerCreateBody {
        image: Some(common::IMAGE.into()),
        cmd: Some(vec!["sleep".into(), "300".into()]),
        labels: Some([(common::TEST_LABEL.to_string(), "1".to_string())].into()),
        healthcheck: Some(HealthConfig {
            test: Some(vec!["CMD-SHELL".into(), "yes health-output | head -c 5000; true".into()]),
            interval: Some(100_000_000),
            timeout: Some(2_000_000_000),
            ..Default::default()
        }),
        host_config: Some(HostConfig { network_mode: Some("none".into()), ..Default::default() }),
        ..Default::default()
    };
    docker
        .create_container(Some(CreateContainerOptions { name: Some(n.clone()), ..Default::default() }), body)
        .await
        .expect("create");
    docker.start_container(&n, None).await.expect("start");
    let mut log_len = 0;
    for _ in 0..100 {
        log_len =
            docker.inspect_container(&n, None).await.ok().and_then(|i| i.state?.health?.log).map_or(0, |l| l.len());
        if log_len >= 3 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert!(log_len >= 3, "Docker kept {log_len} health results");
    for transport in TRANSPORTS {
        let conn = start(transport, &[]).await;
        let out = conn.ok("inspect_container", json!({"container": n})).await;
        let log = out["container"]["State"]["Health"]["Log"].as_array().expect("health log");
        assert_eq!(log.len(), 1, "only the last result: {log:?}");
        assert!(log[0]["Output"].as_str().expect("output").len() <= 1024);
        let (text, _) = conn.ok_text("list_containers", json!({"name": n})).await;
        assert!(!text.contains("health-output"), "{text}");
    }
    remove(&docker, &n).await;
}
