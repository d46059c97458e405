//! The changing container tools against a real dockerd, over stdio and HTTP: absent
//! without --allow-write, create/run with everything they take and provenance labels,
//! the state changes, exec with exit codes, timeouts and bounded output.

mod common;

use common::{TRANSPORTS, admin, fails_with, name, remove, run, start, state};
use serde_json::json;

const WRITE_TOOLS: [&str; 25] = [
    "create_container",
    "run_container",
    "start_container",
    "stop_container",
    "restart_container",
    "kill_container",
    "pause_container",
    "unpause_container",
    "remove_container",
    "rename_container",
    "exec_in_container",
    "tag_image",
    "remove_image",
    "pull_image",
    "push_image",
    "create_network",
    "remove_network",
    "connect_network",
    "disconnect_network",
    "create_volume",
    "remove_volume",
    "prune",
    "copy_from_container",
    "copy_to_container",
    "build_image",
];

#[tokio::test]
async fn write_tools_are_absent_unless_writes_are_allowed() {
    for transport in TRANSPORTS {
        let conn = start(transport, &[]).await;
        let tools = conn.client.list_tools().await.expect("tools");
        for t in &tools {
            assert!(!WRITE_TOOLS.contains(&t.name.as_str()), "{} listed without --allow-write", t.name);
            let a = t.annotations.as_ref().expect("annotated");
            assert_eq!(a.read_only_hint, Some(true), "{} must be read-only", t.name);
            assert!(t.output_schema.is_some(), "{} has an output schema", t.name);
        }
        assert!(conn.client.call_tool("run_container", json!({"image": common::IMAGE})).await.is_err());

        let conn = start(transport, &["--allow-write"]).await;
        let tools = conn.client.list_tools().await.expect("tools");
        for name in WRITE_TOOLS {
            let t = tools.iter().find(|t| t.name == name).unwrap_or_else(|| panic!("{name} not listed"));
            let a = t.annotations.as_ref().expect("annotated");
            assert_eq!(a.read_only_hint, Some(false), "{name}");
            let destructive = matches!(
                name,
                "stop_container"
                    | "restart_container"
                    | "kill_container"
                    | "pause_container"
                    | "remove_container"
                    | "exec_in_container"
                    | "remove_image"
                    | "remove_network"
                    | "disconnect_network"
                    | "remove_volume"
                    | "prune"
                    | "copy_to_container"
            );
            assert_eq!(a.destructive_hint, Some(destructive), "{name}");
        }
    }
}

#[tokio::test]
async fn run_creates_a_labelled_container_with_what_was_asked() {
    let docker = admin().await;
    for transport in TRANSPORTS {
        let n = common::fresh_name(&docker, "run", transport).await;
        let conn = start(transport, &["--allow-write"]).await;
        let out = conn
            .ok(
                "run_container",
                json!({
                    "image": common::IMAGE, "name": n, "cmd": ["sleep", "300"], "network": "none",
                    "env": ["MODE=test"], "labels": {"team": "qa", "mcp-docker-test": "1"},
                    "restart": "on-failure:3", "cpus": 0.5, "memory": "64m", "working_dir": "/tmp",
                    "mounts": [{"type": "tmpfs", "target": "/scratch"}, {"type": "volume", "source": format!("{n}-vol"), "target": "/data"}]
                }),
            )
            .await;
        assert_eq!(out["started"], true);
        assert_eq!(out["name"], n.as_str());
        let info = docker.inspect_container(&n, None).await.expect("inspect");
        let config = info.config.expect("config");
        let labels = config.labels.expect("labels");
        assert_eq!(labels.get("mcp-docker.managed").map(String::as_str), Some("true"));
        assert_eq!(labels.get("mcp-docker.tool").map(String::as_str), Some("run_container"));
        assert!(labels.contains_key("mcp-docker.created"));
        assert_eq!(labels.get("team").map(String::as_str), Some("qa"));
        assert!(config.env.expect("env").contains(&"MODE=test".to_string()));
        assert_eq!(config.working_dir.as_deref(), Some("/tmp"));
        let host = info.host_config.expect("host config");
        assert_eq!(host.nano_cpus, Some(500_000_000));
        assert_eq!(host.memory, Some(64 << 20));
        assert_eq!(host.network_mode.as_deref(), Some("none"));
        let policy = host.restart_policy.expect("restart policy");
        assert_eq!(policy.maximum_retry_count, Some(3));
        assert_eq!(state(&docker, &n).await.as_deref(), Some("running"));
        // Found again by its provenance label.
        let listed = conn.ok("list_containers", json!({"label": ["mcp-docker.managed=true"], "name": n})).await;
        assert_eq!(listed["total"], 1);

        let err =
            conn.fails("run_container", json!({"image": common::IMAGE, "labels": {"mcp-docker.managed": "no"}})).await;
        assert!(err.contains("reserved"), "{err}");
        fails_with(
            &conn,
            "run_container",
            json!({"image": "mcp-test/not-here:1", "network": "none"}),
            &["No such image", "list_images"],
        )
        .await;
        fails_with(&conn, "run_container", json!({"image": "Bad Image!"}), &["not a valid id or name"]).await;
        fails_with(&conn, "run_container", json!({"image": common::IMAGE, "memory": "lots"}), &["`memory`"]).await;
        fails_with(&conn, "run_container", json!({"image": common::IMAGE, "restart": "sometimes"}), &["`restart`"])
            .await;
        fails_with(&conn, "run_container", json!({"image": common::IMAGE, "ports": ["http"]}), &["`ports`"]).await;
        fails_with(&conn, "run_container", json!({"image": common::IMAGE, "env": ["NOVALUE"]}), &["NAME=value"]).await;
        // A name in use: Docker's conflict, with what it means.
        let err = conn
            .fails("run_container", json!({"image": common::IMAGE, "name": n, "cmd": ["true"], "network": "none"}))
            .await;
        assert!(err.contains("Conflict") || err.contains("already in use"), "{err}");

        remove(&docker, &n).await;
        let _ = docker.remove_volume(&format!("{n}-vol"), None::<bollard::query_parameters::RemoveVolumeOptions>).await;
    }
}

#[tokio::test]
async fn create_then_start_stop_restart_pause_kill_remove() {
    let docker = admin().await;
    for transport in TRANSPORTS {
        let n = common::fresh_name(&docker, "life", transport).await;
        let conn = start(transport, &["--allow-write"]).await;
        let out = conn
            .ok(
                "create_container",
                json!({"image": common::IMAGE, "name": n, "cmd": ["sleep", "300"], "network": "none", "ports": ["8080"]}),
            )
            .await;
        assert_eq!(out["started"], false);
        assert_eq!(state(&docker, &n).await.as_deref(), Some("created"));
        let labels = docker.inspect_container(&n, None).await.expect("inspect").config.expect("c").labels.expect("l");
        assert_eq!(labels.get("mcp-docker.tool").map(String::as_str), Some("create_container"));

        conn.ok("start_container", json!({"container": n})).await;
        assert_eq!(state(&docker, &n).await.as_deref(), Some("running"));
        let out = conn.ok("start_container", json!({"container": n})).await;
        assert!(out["message"].as_str().expect("message").contains("already running"), "{out}");

        conn.ok("pause_container", json!({"container": n})).await;
        assert_eq!(state(&docker, &n).await.as_deref(), Some("paused"));
        conn.ok("unpause_container", json!({"container": n})).await;
        assert_eq!(state(&docker, &n).await.as_deref(), Some("running"));

        conn.ok("stop_container", json!({"container": n, "timeout_secs": 1})).await;
        assert_eq!(state(&docker, &n).await.as_deref(), Some("exited"));
        let out = conn.ok("stop_container", json!({"container": n})).await;
        assert!(out["message"].as_str().expect("message").contains("was not running"), "{out}");

        conn.ok("restart_container", json!({"container": n, "timeout_secs": 1})).await;
        assert_eq!(state(&docker, &n).await.as_deref(), Some("running"));

        fails_with(&conn, "remove_container", json!({"container": n}), &["force=true"]).await;
        fails_with(&conn, "kill_container", json!({"container": n, "signal": "SIG KILL"}), &["`signal`"]).await;
        conn.ok("kill_container", json!({"container": n, "signal": "SIGKILL"})).await;
        let waited = conn.ok("wait_container", json!({"container": n, "timeout_secs": 10})).await;
        assert_eq!(waited["exitCode"], 137);
        let renamed = format!("{n}-renamed");
        conn.ok("rename_container", json!({"container": n, "name": renamed})).await;
        assert_eq!(state(&docker, &n).await, None);
        fails_with(&conn, "rename_container", json!({"container": renamed, "name": "bad name"}), &["`name`"]).await;
        conn.ok("remove_container", json!({"container": renamed})).await;
        assert_eq!(state(&docker, &renamed).await, None);

        for tool in ["start_container", "stop_container", "pause_container", "remove_container", "kill_container"] {
            fails_with(&conn, tool, json!({"container": "mcp-no-such-container"}), &["No such container"]).await;
        }
    }
}

#[tokio::test]
async fn exec_reports_exit_code_output_timeout_and_cuts_big_output() {
    let docker = admin().await;
    let n = name("exec");
    run(&docker, &n, &["sleep", "300"], &[], &[]).await;
    for transport in TRANSPORTS {
        let conn = start(transport, &["--allow-write", "--max-result-bytes", "8192"]).await;
        let (text, out) = conn
            .ok_text(
                "exec_in_container",
                json!({"container": n, "cmd": ["sh", "-c", "echo out; echo err >&2; exit 3"]}),
            )
            .await;
        assert_eq!(out["exitCode"], 3, "{text}");
        assert_eq!(out["stdout"], "out\n");
        assert_eq!(out["stderr"], "err\n");
        assert!(text.contains("Exit code 3") && text.contains("--- stderr"), "{text}");

        let out = conn
            .ok(
                "exec_in_container",
                json!({"container": n, "cmd": ["env"], "env": ["GREETING=hi"], "working_dir": "/bin"}),
            )
            .await;
        assert!(out["stdout"].as_str().expect("stdout").contains("GREETING=hi"), "{out}");
        let out = conn
            .ok(
                "exec_in_container",
                json!({"container": n, "cmd": ["sh", "-c", "echo x; echo y >&2"], "stderr": false}),
            )
            .await;
        assert_eq!(out["stderr"], "");

        // 20,000 lines: far over the 8 KiB budget; the end is kept and the cut is said.
        let (text, out) = conn
            .ok_text(
                "exec_in_container",
                json!({"container": n, "cmd": ["sh", "-c", "i=0; while [ $i -lt 20000 ]; do echo row $i; i=$((i+1)); done"]}),
            )
            .await;
        assert_eq!(out["truncated"], true);
        assert_eq!(out["exitCode"], 0);
        let stdout = out["stdout"].as_str().expect("stdout");
        assert!(stdout.len() <= 4096 && stdout.ends_with("row 19999\n"), "{}", stdout.len());
        assert!(text.contains("left out"), "{text}");

        let (text, out) =
            conn.ok_text("exec_in_container", json!({"container": n, "cmd": ["sleep", "30"], "timeout_secs": 1})).await;
        assert_eq!(out["timedOut"], true, "{text}");
        assert!(out.get("exitCode").is_none());
        assert!(text.contains("Timed out after 1 s"), "{text}");

        fails_with(&conn, "exec_in_container", json!({"container": n, "cmd": []}), &["`cmd`"]).await;
        fails_with(
            &conn,
            "exec_in_container",
            json!({"container": "mcp-no-such-container", "cmd": ["true"]}),
            &["No such container"],
        )
        .await;
        // A missing binary is the command's failure (126, as `docker exec` exits), not the tool's.
        let out = conn.ok("exec_in_container", json!({"container": n, "cmd": ["/no/such/binary"]})).await;
        assert_eq!(out["exitCode"], 126);
        assert!(out["stdout"].as_str().expect("stdout").contains("no such file"), "{out}");
    }
    remove(&docker, &n).await;
}

#[tokio::test]
async fn toolsets_and_no_destructive_trim_the_list() {
    let docker = admin().await;
    let n = name("nodestructive");
    run(&docker, &n, &["sleep", "300"], &[], &[]).await;
    for transport in TRANSPORTS {
        let conn = start(transport, &["--allow-write", "--no-destructive"]).await;
        let names = conn.tool_names().await;
        assert!(names.contains(&"run_container".to_string()) && names.contains(&"list_containers".to_string()));
        for gone in ["stop_container", "remove_container", "exec_in_container", "prune", "remove_image"] {
            assert!(!names.contains(&gone.to_string()), "{gone} listed with --no-destructive");
        }
        // A real, running container: the call is refused as an unknown tool, and the
        // container is still there and running.
        let err = conn.client.call_tool("remove_container", json!({"container": n, "force": true})).await;
        let err = err.err().map(|e| e.to_string()).unwrap_or_default();
        assert!(err.contains("Unknown tool") && err.contains("remove_container"), "over {transport:?}: {err}");
        assert_eq!(state(&docker, &n).await.as_deref(), Some("running"), "over {transport:?}");

        let conn = start(transport, &["--toolsets", "system,compose"]).await;
        let mut names = conn.tool_names().await;
        names.sort();
        assert_eq!(
            names,
            [
                "compose_config",
                "compose_logs",
                "compose_project",
                "compose_projects",
                "disk_usage",
                "recent_events",
                "system_info"
            ]
        );
        let conn = start(transport, &["--toolsets", "images", "--allow-write"]).await;
        let names = conn.tool_names().await;
        assert!(names.iter().all(|n| n.contains("image")), "{names:?}");
    }
    remove(&docker, &n).await;
}
