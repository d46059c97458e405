//! Image tools against a real dockerd and a real registry on loopback, over stdio and
//! HTTP: list, inspect, history; pull and push with progress notifications; tag and
//! remove; invalid and unknown references.

mod common;

use bollard::models::ContainerConfig;
use bollard::query_parameters::CommitContainerOptions;
use common::{TRANSPORTS, admin, fails_with, start};
use serde_json::json;

#[tokio::test]
async fn list_inspect_and_history_of_the_test_image() {
    for transport in TRANSPORTS {
        let conn = start(transport, &[]).await;
        let (text, out) = conn.ok_text("list_images", json!({"reference": "mcp-test/busybox"})).await;
        assert!(text.starts_with("REPOSITORY"), "{text}");
        let images = out["images"].as_array().expect("images");
        let row = images.iter().find(|i| i["tag"] == "latest").unwrap_or_else(|| panic!("{out}"));
        assert_eq!(row["repository"], "mcp-test/busybox");
        assert_eq!(row["id"].as_str().map(str::len), Some(12));
        assert!(row["size"].as_i64().expect("size") > 100_000);
        let out = conn.ok("list_images", json!({"reference": "mcp-test/no-such-image"})).await;
        assert_eq!(out["total"], 0);
        let out = conn.ok("list_images", json!({"limit": 1})).await;
        assert_eq!(out["returned"], 1);

        let (text, out) = conn.ok_text("inspect_image", json!({"image": common::IMAGE})).await;
        assert!(out["image"]["RepoTags"].as_array().expect("tags").contains(&json!(common::IMAGE)), "{text}");
        assert_eq!(out["image"]["Os"], "linux");

        let (text, out) = conn.ok_text("image_history", json!({"image": common::IMAGE})).await;
        assert!(text.starts_with("IMAGE"), "{text}");
        assert!(!out["layers"].as_array().expect("layers").is_empty());
        assert_eq!(out["layers"][0]["comment"], "Imported from -");

        for tool in ["inspect_image", "image_history"] {
            fails_with(&conn, tool, json!({"image": "mcp-test/no-such-image:9"}), &["No such image", "list_images"])
                .await;
            fails_with(&conn, tool, json!({"image": "Not An Image"}), &["not a valid id or name"]).await;
        }
    }
}

#[tokio::test]
async fn push_pull_with_progress_tag_and_remove_round_trip() {
    let docker = admin().await;
    let registry = common::registry();
    for transport in TRANSPORTS {
        let t = format!("{transport:?}").to_lowercase();
        // An image with a layer of its own, so a pull has something to download.
        let n = common::name(&format!("layer-{t}"));
        common::run_sh(&docker, &n, &format!("echo {n} > /made-by-test")).await;
        common::wait_exit(&docker, &n).await;
        let repo = format!("{registry}/mcp-test/layered-{}-{t}", std::process::id());
        let image = format!("{repo}:1");
        let options = CommitContainerOptions {
            container: Some(n.clone()),
            repo: Some(repo.clone()),
            tag: Some("1".into()),
            ..Default::default()
        };
        docker.commit_container(options, ContainerConfig::default()).await.expect("commit");
        common::remove(&docker, &n).await;

        let (conn, seen) = common::start_recording_progress(transport, &["--allow-write"]).await;

        let out = conn.ok("push_image", json!({"image": image})).await;
        assert!(out["digest"].as_str().is_some_and(|d| d.starts_with("sha256:")), "{out}");
        assert_eq!(out["layers"], 2, "{out}");
        conn.ok("remove_image", json!({"image": image})).await;
        let out = conn.ok("list_images", json!({"reference": repo})).await;
        assert_eq!(out["total"], 0);

        seen.lock().expect("lock").clear();
        let params = json!({"name": "pull_image", "arguments": {"image": image}, "_meta": {"progressToken": "pull-1"}});
        let result =
            conn.client.request("tools/call", params.as_object().expect("object").clone()).await.expect("pull");
        let out = &result["structuredContent"];
        assert!(out["status"].as_str().expect("status").contains("Downloaded newer image"), "{result}");
        assert_eq!(out["layers"], 2, "{result}");
        assert_eq!(out["alreadyPresent"], 1, "the busybox layer is shared: {result}");
        assert!(out["digest"].as_str().expect("digest").starts_with("sha256:"));
        let progress = seen.lock().expect("lock").clone();
        assert!(!progress.is_empty(), "no progress notifications");
        assert!(progress.iter().all(|p| p["progressToken"] == "pull-1"), "{progress:?}");
        assert!(
            progress.iter().any(|p| p["message"].as_str().is_some_and(|m| m.contains("Pull complete"))),
            "{progress:?}"
        );

        let out = conn.ok("pull_image", json!({"image": image})).await;
        assert!(out["status"].as_str().expect("status").contains("Image is up to date"), "{out}");

        conn.ok("tag_image", json!({"image": image, "repository": repo, "tag": "2"})).await;
        let out = conn.ok("list_images", json!({"reference": repo})).await;
        assert_eq!(out["total"], 2, "{out}");
        conn.ok("remove_image", json!({"image": format!("{repo}:2")})).await;
        conn.ok("remove_image", json!({"image": image})).await;

        let err = conn.fails("pull_image", json!({"image": format!("{registry}/mcp-test/absent:1")})).await;
        assert!(err.contains("manifest unknown") || err.contains("not found"), "{err}");
        fails_with(&conn, "pull_image", json!({"image": "UPPER/case:1"}), &["lowercase"]).await;
        fails_with(&conn, "pull_image", json!({"image": "bad ref"}), &["not a valid id or name"]).await;
        fails_with(&conn, "tag_image", json!({"image": common::IMAGE, "repository": "x", "tag": "a:b"}), &["`tag`"])
            .await;
        fails_with(&conn, "remove_image", json!({"image": "mcp-test/no-such-image:9"}), &["No such image"]).await;
        let err = conn.fails("push_image", json!({"image": "mcp-test/no-such-image:9"})).await;
        assert!(err.contains("does not exist") || err.contains("No such image"), "{err}");
    }
}

#[tokio::test]
async fn build_streams_steps_and_explains_failures() {
    let docker = admin().await;
    let dir = tempfile::tempdir().expect("tempdir");
    let ctx_dir = dir.path().join("ctx");
    std::fs::create_dir(&ctx_dir).expect("mkdir");
    std::fs::write(ctx_dir.join("hello.txt"), "from the context\n").expect("write");
    std::fs::write(
        ctx_dir.join("Dockerfile"),
        "FROM mcp-test/busybox:latest\nARG WHO=nobody\nCOPY hello.txt /hello.txt\nRUN echo \"built by $WHO\" > /built.txt\n",
    )
    .expect("write");
    std::fs::write(
        ctx_dir.join("Broken.Dockerfile"),
        "FROM mcp-test/busybox:latest\nRUN echo about-to-fail && false\n",
    )
    .expect("write");
    let allow = dir.path().to_str().expect("utf-8");
    for transport in TRANSPORTS {
        let tag = format!("mcp-test/built-{}:{}", std::process::id(), format!("{transport:?}").to_lowercase());
        let (conn, seen) =
            common::start_recording_progress(transport, &["--allow-write", "--allow-bind-path", allow]).await;
        let params = json!({"name": "build_image", "_meta": {"progressToken": "build-1"}, "arguments": {
            "context_dir": ctx_dir.to_str(), "tag": tag, "network": "none", "build_args": {"WHO": "mcp"}}});
        let result =
            conn.client.request("tools/call", params.as_object().expect("object").clone()).await.expect("build");
        assert_ne!(result["isError"], true, "{result}");
        let out = &result["structuredContent"];
        // The Dockerfile's four steps, then one LABEL step per provenance label.
        assert_eq!(out["steps"], 7, "{result}");
        assert!(out["id"].as_str().expect("id").starts_with("sha256:"));
        let progress = seen.lock().expect("lock").clone();
        assert!(
            progress.iter().any(|p| p["message"].as_str().is_some_and(|m| m.contains("Step 4/7 : RUN"))),
            "{progress:?}"
        );

        // The image is real: run it and read what the build wrote.
        let n = common::name_for("built", transport);
        common::remove(&docker, &n).await;
        conn.ok("create_container", json!({"image": tag, "name": n, "cmd": ["true"], "network": "none"})).await;
        let file = conn.ok("read_container_file", json!({"container": n, "path": "/built.txt"})).await;
        assert_eq!(file["content"], "built by mcp\n");
        let labels = conn.ok("inspect_image", json!({"image": tag})).await;
        assert_eq!(labels["image"]["Config"]["Labels"]["mcp-docker.tool"], "build_image");
        common::remove(&docker, &n).await;

        let err = conn
            .fails(
                "build_image",
                json!({"context_dir": ctx_dir.to_str(), "dockerfile": "Broken.Dockerfile", "network": "none"}),
            )
            .await;
        assert!(err.contains("about-to-fail") && err.contains("returned a non-zero code"), "{err}");
        fails_with(
            &conn,
            "build_image",
            json!({"context_dir": ctx_dir.to_str(), "dockerfile": "Nope"}),
            &["`dockerfile`"],
        )
        .await;
        fails_with(&conn, "build_image", json!({"context_dir": "/etc", "network": "none"}), &["host-path guard"]).await;
        fails_with(
            &conn,
            "build_image",
            json!({"context_dir": ctx_dir.to_str(), "network": "host"}),
            &["host-namespace guard"],
        )
        .await;
        conn.ok("remove_image", json!({"image": tag})).await;
    }
}
