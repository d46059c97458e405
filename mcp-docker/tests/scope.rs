//! --scope-label against a real dockerd, over stdio and HTTP: a new container (or a
//! build's RUN steps) may join the namespaces of a container in scope only, judged on the
//! container the engine resolves whatever the spelling (name, `/name`, full id, id
//! prefix); named volumes outside the scope are not mountable, listed, inspected or removed; options that would reach
//! another container's volumes or links do not exist.

mod common;

use common::{TRANSPORTS, admin, fails_with, name, names_with_label, remove, run, start};
use serde_json::{Value, json};

/// A create request for `n`, labelled with the run `run_tag`, with `extra` arguments.
fn base(n: &str, run_tag: &str, extra: Value) -> Value {
    common::create_args(n, ("scope-run", run_tag), extra)
}

#[tokio::test]
async fn joining_another_containers_namespaces_is_limited_to_the_scope() {
    let docker = admin().await;
    let (scope, k, v) = common::scope_label("join");
    let inside = name("join-in");
    let outside = name("join-out");
    let inside_id = run(&docker, &inside, &["sleep", "300"], &[(k, v)], &[]).await;
    let outside_id = run(&docker, &outside, &["sleep", "300"], &[], &["OTHER_TEAM=not-for-you"]).await;
    let run_tag = format!("join-{}", std::process::id());
    let made_label = format!("scope-run={run_tag}");
    for transport in TRANSPORTS {
        let conn = start(transport, &["--allow-write", "--scope-label", &scope]).await;
        let n = common::name_for("join", transport);
        // Every spelling the engine resolves to the out-of-scope container.
        let spellings = [outside.clone(), format!("/{outside}"), outside_id.clone(), outside_id[..12].to_string()];
        for field in ["pid", "network", "ipc"] {
            for target in &spellings {
                let mode = format!("container:{target}");
                for tool in ["run_container", "create_container"] {
                    fails_with(
                        &conn,
                        tool,
                        base(&n, &run_tag, json!({ field: mode })),
                        &["scope guard", &format!("`{field}: {mode}`"), &format!("container `{target}`"), &scope],
                    )
                    .await;
                }
            }
        }
        // Another case of the kind, and a container that does not exist, alike.
        fails_with(
            &conn,
            "run_container",
            base(&n, &run_tag, json!({"pid": format!("Container:{outside}")})),
            &["scope guard"],
        )
        .await;
        fails_with(
            &conn,
            "run_container",
            base(&n, &run_tag, json!({"pid": "container:mcp-no-such-one"})),
            &["scope guard", "mcp-no-such-one"],
        )
        .await;
        assert!(names_with_label(&docker, &made_label).await.is_empty(), "nothing created when refused");

        // In scope, by any spelling, it is allowed, and joins that very container.
        for (field, target) in [("pid", inside_id[..12].to_string()), ("network", format!("/{inside}"))] {
            let out =
                conn.ok("run_container", base(&n, &run_tag, json!({ field: format!("container:{target}") }))).await;
            assert_eq!(out["started"], true, "{field}");
            let host = docker.inspect_container(&n, None).await.expect("inspect").host_config.expect("host config");
            let sent = if field == "pid" { host.pid_mode } else { host.network_mode };
            assert_eq!(sent.as_deref(), Some(format!("container:{inside_id}").as_str()), "{field}");
            remove(&docker, &n).await;
        }
        let out = conn.ok("create_container", base(&n, &run_tag, json!({"ipc": format!("container:{inside}")}))).await;
        assert_eq!(out["started"], false);
        remove(&docker, &n).await;

        // The tools have no way to name another container's volumes or links at all.
        for field in ["volumes_from", "links", "uts", "cgroupns"] {
            fails_with(
                &conn,
                "run_container",
                base(&n, &run_tag, json!({ field: [outside.clone()] })),
                &[&format!("unknown field `{field}`")],
            )
            .await;
        }
        assert!(names_with_label(&docker, &made_label).await.is_empty(), "nothing left behind");
    }

    // Without a scope, joining stays as it was (the other guards still apply).
    for transport in TRANSPORTS {
        let conn = start(transport, &["--allow-write"]).await;
        let n = common::name_for("join-free", transport);
        conn.ok("create_container", base(&n, &run_tag, json!({"pid": format!("container:{outside}")}))).await;
        remove(&docker, &n).await;
    }
    remove(&docker, &inside).await;
    remove(&docker, &outside).await;
}

#[tokio::test]
async fn joined_namespaces_out_of_scope_cannot_be_read_through_exec() {
    // The attack as found: share the other container's pid namespace, then read its
    // processes' environment. Refused at the join, so there is nothing to exec in.
    let docker = admin().await;
    let scope = format!("team=environ-{}", std::process::id());
    let outside = name("environ-out");
    run(&docker, &outside, &["sleep", "300"], &[], &["OTHER_TEAM=not-for-you"]).await;
    for transport in TRANSPORTS {
        let conn = start(transport, &["--allow-write", "--scope-label", &scope]).await;
        let n = common::name_for("environ", transport);
        let err =
            conn.fails("run_container", base(&n, "environ", json!({"pid": format!("container:{outside}")}))).await;
        assert!(err.contains("scope guard"), "{err}");
        let err = conn.fails("exec_in_container", json!({"container": n, "cmd": ["cat", "/proc/1/environ"]})).await;
        assert!(!err.contains("not-for-you") && err.contains("No such container"), "{err}");
    }
    remove(&docker, &outside).await;
}

#[tokio::test]
async fn named_volumes_outside_the_scope_are_not_mountable_seen_or_removed() {
    use bollard::models::VolumeCreateRequest;
    let docker = admin().await;
    let (scope, k, v) = common::scope_label("vol");
    let foreign = name("vol-foreign");
    docker
        .create_volume(VolumeCreateRequest { name: Some(foreign.clone()), ..Default::default() })
        .await
        .expect("create volume");
    for transport in TRANSPORTS {
        let conn = start(transport, &["--allow-write", "--scope-label", &scope]).await;
        let n = common::name_for("vol", transport);
        let mount = |source: &str| json!({"mounts": [{"type": "volume", "source": source, "target": "/data"}]});
        fails_with(&conn, "create_container", base(&n, "vol", mount(&foreign)), &["scope guard", &foreign, &scope])
            .await;
        assert!(docker.inspect_container(&n, None).await.is_err(), "nothing created when refused");
        // Nor is it seen or removable: volumes are scoped as containers are.
        let listed = conn.ok("list_volumes", json!({})).await;
        assert!(!listed.to_string().contains(&foreign), "{listed}");
        for tool in ["inspect_volume", "remove_volume"] {
            fails_with(&conn, tool, json!({"name": foreign}), &["No such volume", &scope]).await;
        }
        assert!(docker.inspect_volume(&foreign).await.is_ok(), "still there");

        // A new name is created in scope, so the next mount of it is allowed too.
        let fresh = common::name_for("vol-fresh", transport);
        conn.ok("create_container", base(&n, "vol", mount(&fresh))).await;
        let labels = docker.inspect_volume(&fresh).await.expect("volume made").labels;
        assert_eq!(labels.get(k).map(String::as_str), Some(v), "{labels:?}");
        remove(&docker, &n).await;
        conn.ok("create_container", base(&n, "vol", mount(&fresh))).await;
        remove(&docker, &n).await;
        let listed = conn.ok("list_volumes", json!({})).await;
        assert!(listed.to_string().contains(&fresh), "{listed}");
        conn.ok("inspect_volume", json!({"name": fresh})).await;
        let _ = docker.remove_volume(&fresh, None::<bollard::query_parameters::RemoveVolumeOptions>).await;
    }
    let _ = docker.remove_volume(&foreign, None::<bollard::query_parameters::RemoveVolumeOptions>).await;
}

#[tokio::test]
async fn builds_cannot_join_a_container_outside_the_scope() {
    let docker = admin().await;
    let scope = format!("team=build-{}", std::process::id());
    let outside = name("build-out");
    let outside_id = run(&docker, &outside, &["sleep", "300"], &[], &[]).await;
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(dir.path().join("Dockerfile"), format!("FROM {}\nRUN true\n", common::IMAGE)).expect("write");
    let ctx = dir.path().to_str().expect("utf-8");
    for transport in TRANSPORTS {
        let conn = start(transport, &["--allow-write", "--allow-bind-path", ctx, "--scope-label", &scope]).await;
        for target in [outside.clone(), format!("/{outside}"), outside_id.clone(), outside_id[..12].to_string()] {
            let mode = format!("container:{target}");
            fails_with(
                &conn,
                "build_image",
                json!({"context_dir": ctx, "network": mode}),
                &["scope guard", &format!("`network: {mode}`"), &scope],
            )
            .await;
        }
    }
    remove(&docker, &outside).await;
}

/// A scoped inspect answers from the guard's own read of the document: the same answer an
/// unscoped server gives, whatever the spelling, and nothing of a container outside.
#[tokio::test]
async fn a_scoped_inspect_answers_as_an_unscoped_one_and_hides_the_rest() {
    let docker = admin().await;
    let (scope, k, v) = common::scope_label("inspect");
    let inside = name("inspect-in");
    let outside = name("inspect-out");
    let inside_id = run(&docker, &inside, &["sleep", "300"], &[(k, v)], &["API_TOKEN=s3cret-value"]).await;
    let outside_id = run(&docker, &outside, &["sleep", "300"], &[], &[]).await;
    for transport in TRANSPORTS {
        let plain = start(transport, &[]).await;
        let scoped = start(transport, &["--scope-label", &scope]).await;
        let expected = plain.ok("inspect_container", json!({"container": inside})).await;
        assert!(!expected.to_string().contains("s3cret-value"), "redacted: {expected}");
        assert_eq!(expected["container"]["Id"], inside_id.as_str());
        for spelling in [inside.clone(), inside_id.clone(), inside_id[..12].to_string()] {
            let got = scoped.ok("inspect_container", json!({"container": spelling})).await;
            // The state's clocks and counters move between two reads of a running container.
            let without_state = |v: &Value| {
                let mut v = v["container"].clone();
                v.as_object_mut().map(|m| m.remove("State"));
                v
            };
            assert_eq!(without_state(&got), without_state(&expected), "{spelling}");
            assert_eq!(got["container"]["State"]["Running"], true);
        }
        for spelling in [outside.clone(), outside_id.clone()] {
            fails_with(&scoped, "inspect_container", json!({"container": spelling}), &["No such container", &scope])
                .await;
        }
    }
    remove(&docker, &inside).await;
    remove(&docker, &outside).await;
}
