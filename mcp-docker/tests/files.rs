//! Files in containers against a real dockerd, over stdio and HTTP: reading a file or a
//! directory without a shell, copying out to and in from allowed host directories only,
//! the byte limit, and never overwriting host files unasked.

mod common;

use common::{TRANSPORTS, admin, fails_with, name, remove, start};
use serde_json::json;

#[tokio::test]
async fn read_copy_out_and_copy_in() {
    let docker = admin().await;
    let n = name("files");
    common::run_sh(&docker, &n, "mkdir -p /data/sub && i=0; while [ $i -lt 500 ]; do printf 0123456789; i=$((i+1)); done > /data/zbig.txt && echo hello-file > /data/a.txt && echo deep > /data/sub/b.txt && head -c 3000 /bin/busybox > /data/bin.dat && sleep 300").await;
    for _ in 0..100 {
        if docker.inspect_container(&n, None).await.is_ok() {
            let conn = start(common::Transport::Stdio, &[]).await;
            if !conn.call("read_container_file", json!({"container": n, "path": "/data/bin.dat"})).await.is_error {
                break;
            }
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    let (_dir, allowed, outside) = common::host_dirs();
    for transport in TRANSPORTS {
        let conn = start(transport, &["--allow-write", "--allow-bind-path", allowed.to_str().expect("utf-8")]).await;
        let (text, out) = conn.ok_text("read_container_file", json!({"container": n, "path": "/data/a.txt"})).await;
        assert_eq!(out["content"], "hello-file\n", "{text}");
        assert_eq!(out["kind"], "file");
        let (text, out) = conn.ok_text("read_container_file", json!({"container": n, "path": "/data"})).await;
        assert_eq!(out["kind"], "dir");
        let names: Vec<&str> =
            out["entries"].as_array().expect("entries").iter().filter_map(|e| e["name"].as_str()).collect();
        assert_eq!(names[..3], ["a.txt", "bin.dat", "sub"], "sorted, subdirectories not expanded: {text}");
        let out = conn.ok("read_container_file", json!({"container": n, "path": "/data/bin.dat"})).await;
        assert_eq!(out["binary"], true);
        let small = start(transport, &["--max-result-bytes", "1024"]).await;
        // A 5,000-byte text file under a 1,024-byte budget: its first 1,024 bytes, marked.
        let (text, out) = small.ok_text("read_container_file", json!({"container": n, "path": "/data/zbig.txt"})).await;
        let whole = "0123456789".repeat(500);
        assert_eq!(out["size"], 5000, "{text}");
        assert_eq!(out["binary"], false, "{text}");
        assert_eq!(out["truncated"], true, "{text}");
        assert_eq!(out["content"].as_str(), Some(&whole[..1024]), "{text}");
        fails_with(
            &conn,
            "read_container_file",
            json!({"container": n, "path": "/nope"}),
            &["Could not find the file"],
        )
        .await;
        fails_with(&conn, "read_container_file", json!({"container": n, "path": "relative"}), &["absolute"]).await;

        // Out to an allowed directory; never over an existing file unasked.
        let target = allowed.join(format!("{transport:?}"));
        std::fs::create_dir_all(&target).expect("mkdir");
        let out =
            conn.ok("copy_from_container", json!({"container": n, "path": "/data", "host_dir": target.to_str()})).await;
        assert!(out["entries"].as_u64().expect("entries") >= 4, "{out}");
        assert_eq!(std::fs::read_to_string(target.join("data/sub/b.txt")).expect("copied"), "deep\n");
        let err = conn
            .fails(
                "copy_from_container",
                json!({"container": n, "path": "/data/a.txt", "host_dir": target.join("data").to_str()}),
            )
            .await;
        assert!(err.contains("overwrite=true"), "{err}");
        conn.ok(
            "copy_from_container",
            json!({"container": n, "path": "/data/a.txt", "host_dir": target.join("data").to_str(), "overwrite": true}),
        )
        .await;
        let err = conn
            .fails("copy_from_container", json!({"container": n, "path": "/data", "host_dir": outside.to_str()}))
            .await;
        assert!(err.contains("host-path guard") && err.contains("--allow-bind-path"), "{err}");
        assert!(std::fs::read_dir(&outside).expect("dir").next().is_none(), "nothing written outside");

        // In from an allowed path.
        let upload = allowed.join(format!("up-{transport:?}"));
        std::fs::create_dir_all(upload.join("nested")).expect("mkdir");
        std::fs::write(upload.join("nested/c.txt"), "uploaded").expect("write");
        conn.ok("copy_to_container", json!({"container": n, "host_path": upload.to_str(), "container_dir": "/data"}))
            .await;
        let out = conn
            .ok("read_container_file", json!({"container": n, "path": format!("/data/up-{transport:?}/nested/c.txt")}))
            .await;
        assert_eq!(out["content"], "uploaded");
        std::fs::write(outside.join("secret.txt"), "no").expect("write");
        let err = conn
            .fails(
                "copy_to_container",
                json!({"container": n, "host_path": outside.join("secret.txt").to_str(), "container_dir": "/data"}),
            )
            .await;
        assert!(err.contains("host-path guard"), "{err}");
        std::fs::remove_file(outside.join("secret.txt")).expect("rm");
        let err = conn
            .fails(
                "copy_to_container",
                json!({"container": n, "host_path": upload.to_str(), "container_dir": "/no/such/dir"}),
            )
            .await;
        assert!(err.contains("must exist") || err.contains("not found") || err.contains("No such"), "{err}");

        let tiny = start(
            transport,
            &["--allow-write", "--allow-bind-path", allowed.to_str().expect("utf-8"), "--max-copy-bytes", "2048"],
        )
        .await;
        fails_with(
            &tiny,
            "read_container_file",
            json!({"container": n, "path": "/bin/busybox"}),
            &["--max-copy-bytes"],
        )
        .await;
    }
    remove(&docker, &n).await;
}
