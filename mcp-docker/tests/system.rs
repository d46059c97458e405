//! System, compose, network and volume tools against a real dockerd, over stdio and HTTP.

mod common;

use std::collections::HashMap;

use bollard::models::{ContainerCreateBody, HostConfig};
use bollard::query_parameters::CreateContainerOptions;
use common::{TRANSPORTS, admin, fails_with, name, remove, run, start};
use serde_json::json;

#[tokio::test]
async fn system_info_disk_usage_and_events() {
    let docker = admin().await;
    let n = name("events");
    common::run_sh(&docker, &n, "exit 4").await;
    common::wait_exit(&docker, &n).await;
    for transport in TRANSPORTS {
        let conn = start(transport, &[]).await;
        let (text, out) = conn.ok_text("system_info", json!({})).await;
        assert!(out["serverVersion"].as_str().is_some_and(|v| !v.is_empty()), "{out}");
        assert!(out["apiVersion"].as_str().is_some_and(|v| v.starts_with("1.")), "{out}");
        assert!(out["cpus"].as_i64().expect("cpus") >= 1);
        assert!(text.contains("Docker") && text.contains("Containers"), "{text}");

        let (text, out) = conn.ok_text("disk_usage", json!({})).await;
        assert!(text.starts_with("TYPE"), "{text}");
        let usage = out["usage"].as_array().expect("usage");
        let images = usage.iter().find(|u| u["kind"] == "images").expect("images row");
        assert!(images["total"].as_u64().expect("total") >= 1 && images["size"].as_i64().expect("size") > 0);
        let containers = usage.iter().find(|u| u["kind"] == "containers").expect("containers row");
        assert!(containers["total"].as_u64().expect("total") >= 1);

        let (text, out) = conn.ok_text("recent_events", json!({"container": n, "event": ["die"]})).await;
        let events = out["events"].as_array().expect("events");
        assert!(!events.is_empty(), "{text}");
        assert!(events.iter().all(|e| e["action"] == "die"), "{text}");
        assert!(events[0]["detail"].as_str().expect("detail").contains("exitCode=4"), "{text}");
        let out = conn.ok("recent_events", json!({"since": "1h", "type": "container"})).await;
        assert!(out["events"].as_array().expect("events").iter().all(|e| e["type"] == "container"));
        let small = start(transport, &["--max-rows", "2"]).await;
        let (text, out) = small.ok_text("recent_events", json!({"since": "1h"})).await;
        assert_eq!(out["events"].as_array().expect("events").len(), 2);
        assert_eq!(out["truncated"], true);
        assert!(text.contains("newest 2"), "{text}");

        fails_with(&conn, "recent_events", json!({"since": "2d"}), &["`since`", "24h"]).await;
        fails_with(&conn, "recent_events", json!({"type": "planet"}), &["`type`"]).await;
    }
    remove(&docker, &n).await;
}

#[tokio::test]
async fn compose_projects_are_found_from_labels() {
    let docker = admin().await;
    let project = name("proj");
    let web = format!("{project}-web-1");
    let db = format!("{project}-db-1");
    let labels = |service: &str| {
        vec![
            ("com.docker.compose.project", project.clone()),
            ("com.docker.compose.service", service.to_string()),
            ("com.docker.compose.project.working_dir", "/srv/app".to_string()),
        ]
    };
    let web_labels = labels("web");
    let db_labels = labels("db");
    let as_refs = |l: &Vec<(&'static str, String)>| l.iter().map(|(k, v)| (*k, v.clone())).collect::<Vec<_>>();
    let web_refs = as_refs(&web_labels);
    let db_refs = as_refs(&db_labels);
    let web_pairs: Vec<(&str, &str)> = web_refs.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let db_pairs: Vec<(&str, &str)> = db_refs.iter().map(|(k, v)| (*k, v.as_str())).collect();
    run(&docker, &web, &["sleep", "300"], &web_pairs, &[]).await;
    run(&docker, &db, &["true"], &db_pairs, &[]).await;
    common::wait_exit(&docker, &db).await;
    for transport in TRANSPORTS {
        let conn = start(transport, &[]).await;
        let (text, out) = conn.ok_text("compose_projects", json!({})).await;
        let p = out["projects"]
            .as_array()
            .expect("projects")
            .iter()
            .find(|p| p["name"] == project.as_str())
            .unwrap_or_else(|| panic!("{text}"))
            .clone();
        assert_eq!(p["services"], json!(["db", "web"]));
        assert_eq!(p["running"], 1);
        assert_eq!(p["containers"], 2);
        assert_eq!(p["workingDir"], "/srv/app");

        let (text, out) = conn.ok_text("compose_project", json!({"project": project})).await;
        assert!(text.starts_with("SERVICE"), "{text}");
        let containers = out["containers"].as_array().expect("containers");
        assert_eq!(containers.len(), 2);
        assert_eq!(containers[0]["service"], "db");
        assert_eq!(containers[0]["state"], "exited");
        assert_eq!(containers[1]["state"], "running");
        fails_with(&conn, "compose_project", json!({"project": "mcp-no-such-project"}), &["compose_projects"]).await;
    }
    remove(&docker, &web).await;
    remove(&docker, &db).await;
}

#[tokio::test]
async fn networks_and_volumes_lifecycle() {
    let docker = admin().await;
    for transport in TRANSPORTS {
        let t = format!("{transport:?}").to_lowercase();
        let net_a = name(&format!("neta-{t}"));
        let net_b = name(&format!("netb-{t}"));
        let vol = name(&format!("vol-{t}"));
        let c = name(&format!("netc-{t}"));
        let conn = start(transport, &["--allow-write"]).await;

        // Internal networks: no route outside, in keeping with the loopback-only rule.
        for net in [&net_a, &net_b] {
            conn.ok("create_network", json!({"name": net, "internal": true, "labels": {"mcp-docker-test": "1"}})).await;
        }
        let (text, out) = conn.ok_text("list_networks", json!({"name": net_a})).await;
        assert_eq!(out["networks"][0]["internal"], true, "{text}");
        assert_eq!(out["networks"][0]["driver"], "bridge");
        let out = conn.ok("list_networks", json!({"label": ["mcp-docker.managed=true"], "name": net_b})).await;
        assert_eq!(out["total"], 1);
        let out = conn.ok("inspect_network", json!({"name": net_a})).await;
        assert_eq!(out["detail"]["Labels"]["mcp-docker.tool"], "create_network");

        // A container created (never started) on one internal network, connected to another.
        remove(&docker, &c).await;
        let body = ContainerCreateBody {
            image: Some(common::IMAGE.into()),
            cmd: Some(vec!["true".into()]),
            labels: Some(HashMap::from([("mcp-docker-test".to_string(), "1".to_string())])),
            host_config: Some(HostConfig { network_mode: Some(net_a.clone()), ..Default::default() }),
            ..Default::default()
        };
        docker
            .create_container(Some(CreateContainerOptions { name: Some(c.clone()), ..Default::default() }), body)
            .await
            .expect("create");
        conn.ok("connect_network", json!({"network": net_b, "container": c, "aliases": ["svc"]})).await;
        let out = conn.ok("inspect_container", json!({"container": c})).await;
        assert!(out["container"]["NetworkSettings"]["Networks"].get(&net_b).is_some(), "{out}");
        conn.ok("disconnect_network", json!({"network": net_b, "container": c})).await;
        let out = conn.ok("inspect_container", json!({"container": c})).await;
        assert!(out["container"]["NetworkSettings"]["Networks"].get(&net_b).is_none(), "{out}");
        remove(&docker, &c).await;
        conn.ok("remove_network", json!({"name": net_a})).await;
        let out = conn.ok("prune", json!({"what": "networks", "label": ["mcp-docker-test=1"]})).await;
        assert!(out["removed"].as_array().expect("removed").contains(&json!(net_b)), "{out}");

        conn.ok("create_volume", json!({"name": vol, "labels": {"mcp-docker-test": "1"}})).await;
        let (text, out) = conn.ok_text("list_volumes", json!({"name": vol})).await;
        assert_eq!(out["volumes"][0]["name"], vol.as_str(), "{text}");
        assert!(out["volumes"][0]["labels"].as_str().expect("labels").contains("mcp-docker.managed=true"));
        let out = conn.ok("inspect_volume", json!({"name": vol})).await;
        assert_eq!(out["detail"]["Driver"], "local");
        let out = conn.ok("list_volumes", json!({"name": vol, "dangling": true})).await;
        assert_eq!(out["total"], 1);
        conn.ok("remove_volume", json!({"name": vol})).await;
        let out = conn.ok("list_volumes", json!({"name": vol})).await;
        assert_eq!(out["total"], 0);

        fails_with(&conn, "inspect_network", json!({"name": "mcp-no-such-network"}), &["list_networks"]).await;
        fails_with(&conn, "inspect_volume", json!({"name": "mcp-no-such-volume"}), &["list_volumes"]).await;
        fails_with(&conn, "create_network", json!({"name": "x", "driver": "macvlan"}), &["`driver`"]).await;
        fails_with(&conn, "remove_network", json!({"name": "none"}), &["predefined"]).await;
        // Stopped containers, only those with this test's label (others belong to other tests).
        let label = format!("prune-test={}-{t}", std::process::id());
        let (lk, lv) = label.split_once('=').expect("kv");
        let stopped = name(&format!("prune-{t}"));
        run(&docker, &stopped, &["true"], &[(lk, lv)], &[]).await;
        common::wait_exit(&docker, &stopped).await;
        let out = conn.ok("prune", json!({"what": "containers", "label": [label]})).await;
        assert_eq!(out["removed"].as_array().expect("removed").len(), 1, "{out}");
        assert_eq!(common::state(&docker, &stopped).await, None);
        let out = conn.ok("prune", json!({"what": "images", "label": [label]})).await;
        assert_eq!(out["removed"], json!([]));
        fails_with(&conn, "prune", json!({"what": "everything"}), &["`what`"]).await;
        fails_with(&conn, "create_volume", json!({"name": "v", "labels": {"mcp-docker.tool": "x"}}), &["reserved"])
            .await;
    }
}
