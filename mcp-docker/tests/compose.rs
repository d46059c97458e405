//! Compose projects driven natively against a real dockerd: a file resolved and validated
//! (compose_config), brought up in dependency order waiting for health (compose_up), its
//! logs merged (compose_logs), restarted, taken down; every guard refusing before anything
//! is made; images pulled from the loopback registry; bad input named.

mod common;

use std::path::Path;

use common::{TRANSPORTS, admin, fails_with, names_with_label, start};
use serde_json::{Value, json};

const PROJECT_LABEL: &str = "com.docker.compose.project";

/// A project directory under `allowed` holding `compose.yaml` (and `.env`, `files/`).
fn project_dir(allowed: &Path, name: &str, yaml: &str, dotenv: &str) -> std::path::PathBuf {
    let dir = allowed.join(name);
    std::fs::create_dir_all(dir.join("files")).expect("mkdir");
    std::fs::write(dir.join("files/hello.txt"), "hello from the host\n").expect("write");
    std::fs::write(dir.join("compose.yaml"), yaml).expect("write");
    std::fs::write(dir.join(".env"), dotenv).expect("write");
    dir
}

fn two_tier(project: &str) -> String {
    format!(
        r#"
name: {project}
services:
  web:
    image: {image}
    command: sh -c 'echo web-up $$GREETING; cat /files/hello.txt; sleep 300'
    environment:
      GREETING: "${{GREETING:-unset}}"
      API_TOKEN: s3cret-value
    depends_on:
      db: {{condition: service_healthy}}
    volumes: ["data:/data", "./files:/files:ro"]
    networks: [back]
    labels: {{mcp-docker-test: "1"}}
  db:
    image: {image}
    command: ["sh", "-c", "echo db-up; sleep 1; echo ok > /ready; sleep 300"]
    healthcheck: {{test: "cat /ready", interval: 1s, retries: 20}}
    networks: [back]
    labels: {{mcp-docker-test: "1"}}
  debug:
    image: {image}
    profiles: [debug]
networks:
  back: {{internal: true}}
volumes:
  data: {{}}
"#,
        image = common::IMAGE
    )
}

async fn inspect_labels(docker: &bollard::Docker, container: &str) -> std::collections::HashMap<String, String> {
    let info = docker.inspect_container(container, None).await.unwrap_or_else(|e| panic!("{container}: {e}"));
    info.config.and_then(|c| c.labels).unwrap_or_default()
}

#[tokio::test]
async fn a_project_comes_up_in_order_logs_restarts_and_goes_down() {
    let docker = admin().await;
    let (_dir, allowed, _) = common::host_dirs();
    for transport in TRANSPORTS {
        let project = common::name_for("cmp", transport);
        let dir = project_dir(&allowed, &project, &two_tier(&project), "GREETING=from-dotenv\n");
        let file = dir.join("compose.yaml").display().to_string();
        let conn = start(transport, &["--allow-write", "--allow-bind-path", allowed.to_str().expect("utf-8")]).await;

        // The resolved model: order, interpolation from .env, profiles, secrets redacted.
        let (text, out) = conn.ok_text("compose_config", json!({"file": dir.display().to_string()})).await;
        let services: Vec<&str> = out["project"]["services"]
            .as_array()
            .expect("services")
            .iter()
            .filter_map(|s| s["name"].as_str())
            .collect();
        assert_eq!(services, ["db", "web"], "{text}");
        assert_eq!(out["project"]["disabled"], json!(["debug"]));
        let env = out["project"]["services"][1]["environment"].to_string();
        assert!(env.contains("GREETING=from-dotenv") && !env.contains("s3cret"), "{env}");
        let (_, out) = conn
            .ok_text("compose_config", json!({"file": file, "env": {"GREETING": "from-call"}, "profiles": ["debug"]}))
            .await;
        assert!(out["project"]["services"].to_string().contains("GREETING=from-call"));
        assert_eq!(out["project"]["services"].as_array().map(Vec::len), Some(3));

        let (text, out) = conn.ok_text("compose_up", json!({"file": file, "timeout_secs": 60})).await;
        assert_eq!(out["services"][0]["service"], "db", "{text}");
        assert_eq!(out["services"][1]["action"], "created");
        let web = format!("{project}-web-1");
        let db = format!("{project}-db-1");
        // web was started only once db was healthy: db's health passed before web started.
        let db_info = docker.inspect_container(&db, None).await.expect("db");
        let web_info = docker.inspect_container(&web, None).await.expect("web");
        let health =
            db_info.state.as_ref().and_then(|s| s.health.as_ref()).and_then(|h| h.log.clone()).unwrap_or_default();
        let first_pass =
            health.iter().find(|r| r.exit_code == Some(0)).and_then(|r| r.end.clone()).expect("a passed check");
        let web_started = web_info.state.as_ref().and_then(|s| s.started_at.clone()).expect("started");
        assert!(first_pass < web_started, "web started {web_started} before db was healthy {first_pass}");
        let labels = inspect_labels(&docker, &web).await;
        assert_eq!(labels[PROJECT_LABEL], project);
        assert_eq!(labels["com.docker.compose.service"], "web");
        assert_eq!(labels["com.docker.compose.container-number"], "1");
        assert_eq!(labels["com.docker.compose.oneoff"], "False");
        assert_eq!(labels["com.docker.compose.project.config_files"], file);
        assert_eq!(labels["com.docker.compose.project.working_dir"], dir.display().to_string());
        assert_eq!(labels["com.docker.compose.depends_on"], "db:service_healthy:false");
        assert_eq!(labels["com.docker.compose.config-hash"].len(), 64);
        let net = docker.inspect_network(&format!("{project}_back"), None).await.expect("network");
        assert_eq!(net.internal, Some(true));
        assert_eq!(net.labels.unwrap_or_default()[PROJECT_LABEL], project);
        docker.inspect_volume(&format!("{project}_data")).await.expect("volume");

        // Up again changes nothing; the existing reader sees the project.
        let (_, out) = conn.ok_text("compose_up", json!({"file": file})).await;
        assert_eq!(out["services"][1]["action"], "running");
        let (text, _) = conn.ok_text("compose_project", json!({"project": project})).await;
        assert!(text.contains("db") && text.contains("web"), "{text}");

        let (text, out) = conn.ok_text("compose_logs", json!({"project": project})).await;
        assert!(text.contains("web-up from-dotenv") && text.contains("hello from the host"), "{text}");
        assert!(text.lines().any(|l| l.starts_with("db ") && l.contains("| ") && l.ends_with("db-up")), "{text}");
        assert!(out["lines"].as_u64().is_some_and(|n| n >= 3));
        let (text, _) = conn.ok_text("compose_logs", json!({"project": project, "services": ["web"], "tail": 1})).await;
        assert!(!text.contains("db-up") && text.contains("hello from the host"), "{text}");
        fails_with(&conn, "compose_logs", json!({"project": project, "services": ["nope"]}), &["no service `nope`"])
            .await;

        let before = web_info.state.and_then(|s| s.started_at).expect("started");
        conn.ok_text("compose_restart", json!({"project": project, "services": ["web"], "timeout_secs": 0})).await;
        let after = docker.inspect_container(&web, None).await.expect("web").state.and_then(|s| s.started_at);
        assert!(after.is_some_and(|a| a > before), "web was not restarted");

        let (text, out) =
            conn.ok_text("compose_down", json!({"project": project, "volumes": true, "timeout_secs": 0})).await;
        assert_eq!(out["containersRemoved"].as_array().map(Vec::len), Some(2), "{text}");
        assert!(names_with_label(&docker, &format!("{PROJECT_LABEL}={project}")).await.is_empty());
        assert!(docker.inspect_network(&format!("{project}_back"), None).await.is_err());
        assert!(docker.inspect_volume(&format!("{project}_data")).await.is_err());
        fails_with(&conn, "compose_down", json!({"project": project}), &["nothing belongs"]).await;
    }
}

#[tokio::test]
async fn one_refused_service_means_nothing_is_created() {
    let docker = admin().await;
    let (_dir, allowed, outside) = common::host_dirs();
    let conn =
        start(common::Transport::Stdio, &["--allow-write", "--allow-bind-path", allowed.to_str().expect("utf-8")])
            .await;
    let project = common::name("cmp-guard");
    let cases: Vec<(String, &[&str])> = vec![
        ("privileged: true".into(), &["service `bad`", "privileged guard", "--allow-privileged"]),
        ("network_mode: host".into(), &["host-namespace guard"]),
        ("pid: host".into(), &["host-namespace guard"]),
        ("cap_add: [SYS_ADMIN]".into(), &["capabilities guard"]),
        (format!("volumes: ['{}:/x']", outside.display()), &["bind-mount guard", "--allow-bind-path"]),
        ("volumes: ['../../outside:/x']".into(), &["bind-mount guard"]),
        ("volumes: ['/var/run/docker.sock:/s']".into(), &["docker-socket guard"]),
        (format!("volumes: ['{}:/s']", common::host().trim_start_matches("unix://")), &["docker-socket guard"]),
        ("devices: ['/dev/sda:/dev/sda']".into(), &["unknown field `devices`"]),
        ("security_opt: ['seccomp=unconfined']".into(), &["unknown field `security_opt`"]),
    ];
    for (bad, needles) in cases {
        let yaml = format!(
            "name: {project}\nservices:\n  fine:\n    image: {img}\n    command: [sleep, '300']\n    network_mode: none\n  \
             bad:\n    image: {img}\n    depends_on: [fine]\n    {bad}\nvolumes: {{v: {{}}}}\n",
            img = common::IMAGE
        );
        let dir = project_dir(&allowed, &project, &yaml, "");
        let file = dir.join("compose.yaml").display().to_string();
        for tool in ["compose_up", "compose_config"] {
            fails_with(&conn, tool, json!({"file": file}), needles).await;
        }
        assert!(names_with_label(&docker, &format!("{PROJECT_LABEL}={project}")).await.is_empty(), "{bad}: created");
    }
    // The file itself is judged where it really is: outside the allowed paths, through
    // `..`, or through a symlink out, it is refused before being read.
    std::fs::write(outside.join("compose.yaml"), "services: {a: {image: x}}").expect("write");
    std::os::unix::fs::symlink(&outside, allowed.join("link")).expect("symlink");
    for file in [
        "/etc/passwd".to_string(),
        outside.join("compose.yaml").display().to_string(),
        format!("{}/../outside/compose.yaml", allowed.display()),
        allowed.join("link/compose.yaml").display().to_string(),
    ] {
        fails_with(&conn, "compose_config", json!({"file": file}), &["host-path guard"]).await;
    }
    fails_with(
        &conn,
        "compose_config",
        json!({"content": "services: {a: {image: x}}", "project": "p", "project_directory": "/etc"}),
        &["host-path guard"],
    )
    .await;
    let env_out = format!("services: {{a: {{image: x, env_file: {}/secret.env}}}}", outside.display());
    std::fs::write(outside.join("secret.env"), "A=1\n").expect("write");
    fails_with(&conn, "compose_config", json!({"content": env_out, "project": "p"}), &["host-path guard"]).await;
}

#[tokio::test]
async fn an_unhealthy_dependency_stops_the_project_before_its_dependents() {
    let docker = admin().await;
    let conn = start(common::Transport::Stdio, &["--allow-write"]).await;
    let project = common::name("cmp-sick");
    let yaml = format!(
        "services:\n  db:\n    image: {img}\n    command: [sleep, '300']\n    network_mode: none\n    \
         healthcheck: {{test: [CMD, sh, -c, 'exit 1'], interval: 200ms, retries: 1}}\n  app:\n    image: {img}\n    \
         network_mode: none\n    depends_on: {{db: {{condition: service_healthy}}}}\n",
        img = common::IMAGE
    );
    let err =
        fails_with(&conn, "compose_up", json!({"content": yaml, "project": project}), &["`db` is unhealthy"]).await;
    assert!(err.contains("dependents were not started"), "{err}");
    let made = names_with_label(&docker, &format!("{PROJECT_LABEL}={project}")).await;
    assert_eq!(made, [format!("{project}-db-1")]);
    // A dependency that never becomes healthy is bounded by timeout_secs.
    let slow = yaml.replace("'exit 1'", "'sleep 30'").replace("interval: 200ms", "interval: 60s");
    conn.ok_text("compose_down", json!({"project": project, "timeout_secs": 0})).await;
    let started = std::time::Instant::now();
    fails_with(&conn, "compose_up", json!({"content": slow, "project": project, "timeout_secs": 2}), &["within 2 s"])
        .await;
    assert!(started.elapsed().as_secs() < 10);
    conn.ok_text("compose_down", json!({"project": project, "timeout_secs": 0})).await;
}

#[tokio::test]
async fn bad_compose_input_is_named() {
    let conn = start(common::Transport::Stdio, &["--allow-write"]).await;
    let img = common::IMAGE;
    let cases: Vec<(Value, &[&str])> = vec![
        (json!({}), &["exactly one of `file`"]),
        (json!({"file": "/x", "content": "services: {}"}), &["exactly one of `file`"]),
        (json!({"content": "services: [", "project": "p"}), &["not YAML"]),
        (json!({"content": "services: {a: {command: x}}", "project": "p"}), &["`image` is required"]),
        (json!({"content": "services: {a: {image: x, depends_on: [a]}}", "project": "p"}), &["cycle"]),
        (json!({"content": "services: {a: {image: '${TAG:?set TAG}'}}", "project": "p"}), &["`TAG`", "set TAG"]),
        (json!({"content": "services: {a: {image: x, volumes: ['./d:/d']}}", "project": "p"}), &["project_directory"]),
        (json!({"content": "services: {a: {image: x}}"}), &["`project`"]),
        (json!({"content": "services: {a: {image: x}}", "project": "Bad Name"}), &["`project`"]),
        (json!({"content": "services: {a: {image: x}}", "project": "p", "services": ["b"]}), &["`b`"]),
        (json!({"content": "services: {a: {image: x}}", "project": "p", "timeout_secs": 0}), &["`timeout_secs`"]),
        (json!({"content": "services: {a: {build: .}}", "project": "p"}), &["`build`", "build_image"]),
        (
            json!({"content": format!("services: {{a: {{image: {img}, network_mode: none}}}}"), "project": "p", "files": 1}),
            &["files"],
        ),
        (
            json!({"content": "services: {a: {image: mcp-test/no-such-image:1, network_mode: none}}", "project": "p"}),
            &["not present", "compose_pull"],
        ),
    ];
    for (args, needles) in cases {
        fails_with(&conn, "compose_up", args, needles).await;
    }
    fails_with(&conn, "compose_down", json!({"project": "a=b"}), &["`project`"]).await;
    fails_with(&conn, "compose_restart", json!({"project": "mcp-no-such-project"}), &["compose_projects"]).await;
    fails_with(&conn, "compose_logs", json!({"project": "mcp-no-such-project"}), &["compose_projects"]).await;
    fails_with(&conn, "compose_logs", json!({"project": "p", "tail": 0}), &["`tail`"]).await;
    // Without --allow-write the changing tools are not there at all.
    let read_only = start(common::Transport::Stdio, &[]).await;
    let mut names: Vec<String> =
        read_only.tool_names().await.into_iter().filter(|n| n.starts_with("compose_")).collect();
    names.sort();
    assert_eq!(names, ["compose_config", "compose_logs", "compose_project", "compose_projects"]);
}

#[tokio::test]
async fn compose_pull_fetches_every_services_image_from_the_registry() {
    let docker = admin().await;
    let image = format!("{}/mcp-test/busybox:1", common::registry());
    let _ = docker.remove_image(&image, None::<bollard::query_parameters::RemoveImageOptions>, None).await;
    let conn = start(common::Transport::Stdio, &["--allow-write"]).await;
    let yaml = format!("services: {{a: {{image: '{image}'}}, b: {{image: '{image}'}}}}");
    let args = json!({"content": yaml, "project": common::name("cmp-pull")});
    fails_with(&conn, "compose_up", args.clone(), &["not present", "compose_pull"]).await;
    let (text, out) = conn.ok_text("compose_pull", args).await;
    assert_eq!(out["images"].as_object().map(|m| m.len()), Some(1), "{text}");
    docker.inspect_image(&image).await.expect("pulled");
}

#[tokio::test]
async fn completion_conditions_gate_their_dependents() {
    let docker = admin().await;
    let conn = start(common::Transport::Stdio, &["--allow-write"]).await;
    let project = common::name("cmp-init");
    let yaml = |code: u8| {
        format!(
            "services:\n  init:\n    image: {img}\n    command: [sh, -c, 'echo init-done; exit {code}']\n    \
             network_mode: none\n  app:\n    image: {img}\n    command: [sleep, '300']\n    network_mode: none\n    \
             depends_on: {{init: {{condition: service_completed_successfully}}}}\n",
            img = common::IMAGE
        )
    };
    let (text, out) = conn.ok_text("compose_up", json!({"content": yaml(0), "project": project})).await;
    assert_eq!(out["services"][1]["service"], "app", "{text}");
    assert_eq!(common::state(&docker, &format!("{project}-app-1")).await.as_deref(), Some("running"));
    conn.ok_text("compose_down", json!({"project": project, "timeout_secs": 0})).await;
    fails_with(&conn, "compose_up", json!({"content": yaml(3), "project": project}), &["`init` exited with code 3"])
        .await;
    assert_eq!(common::state(&docker, &format!("{project}-app-1")).await, None, "app started after a failed init");
    conn.ok_text("compose_down", json!({"project": project})).await;
}

#[tokio::test]
async fn a_scoped_server_only_sees_and_removes_its_own_projects() {
    let docker = admin().await;
    let (flag, key, value) = common::scope_label("cmp");
    let open = start(common::Transport::Stdio, &["--allow-write"]).await;
    let scoped = start(common::Transport::Stdio, &["--allow-write", "--scope-label", &flag]).await;
    let yaml = format!("services: {{a: {{image: {}, command: [sleep, '300'], network_mode: none}}}}", common::IMAGE);
    let outside = common::name("cmp-outside");
    open.ok_text("compose_up", json!({"content": yaml, "project": outside})).await;
    // Out of scope: not listed, not restarted, not taken down.
    fails_with(&scoped, "compose_down", json!({"project": outside}), &["nothing belongs"]).await;
    fails_with(&scoped, "compose_restart", json!({"project": outside}), &["compose_projects"]).await;
    let (_, out) = scoped.ok_text("compose_projects", json!({})).await;
    assert!(!out.to_string().contains(&outside));
    assert_eq!(common::state(&docker, &format!("{outside}-a-1")).await.as_deref(), Some("running"));
    // What the scoped server makes carries the scope, so it can take it down again.
    let inside = common::name("cmp-inside");
    scoped.ok_text("compose_up", json!({"content": yaml, "project": inside})).await;
    let labels = inspect_labels(&docker, &format!("{inside}-a-1")).await;
    assert_eq!(labels.get(key).map(String::as_str), Some(value));
    // A volume outside the scope cannot be mounted through a compose file either.
    let vol = common::name("cmp-foreign-vol");
    let _ = docker
        .create_volume(bollard::models::VolumeCreateRequest { name: Some(vol.clone()), ..Default::default() })
        .await;
    let foreign = format!(
        "services: {{b: {{image: {}, network_mode: none, volumes: ['v:/v']}}}}\nvolumes: {{v: {{external: true, name: {vol}}}}}",
        common::IMAGE
    );
    fails_with(&scoped, "compose_up", json!({"content": foreign, "project": inside}), &["scope guard"]).await;
    assert_eq!(common::state(&docker, &format!("{inside}-b-1")).await, None);
    scoped.ok_text("compose_down", json!({"project": inside, "timeout_secs": 0})).await;
    open.ok_text("compose_down", json!({"project": outside, "timeout_secs": 0})).await;
    let _ = docker.remove_volume(&vol, None::<bollard::query_parameters::RemoveVolumeOptions>).await;
}
