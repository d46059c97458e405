//! The safety guards against a real dockerd, over stdio and HTTP: each refusal names its
//! guard and the flag that relaxes it, the flag does relax it, nothing is created when
//! refused; the Docker socket is never mountable; the server's own container is never
//! stopped or removed; read-only hosts and several hosts.

mod common;

use common::{TRANSPORTS, admin, fails_with, name, names_with_label, remove, run, start, start_raw, state};
use serde_json::{Value, json};

/// A create request for `n`, labelled as this test's, with `extra` arguments.
fn base(n: &str, extra: Value) -> Value {
    common::create_args(n, ("guard-run", n), extra)
}

#[tokio::test]
async fn each_guard_refuses_names_itself_and_its_flag() {
    let docker = admin().await;
    let (_dir, allowed, outside) = common::host_dirs();
    for transport in TRANSPORTS {
        let n = common::name_for("guard", transport);
        let conn = start(transport, &["--allow-write", "--allow-bind-path", allowed.to_str().expect("utf-8")]).await;
        let cases: Vec<(Value, &str, &str)> = vec![
            (json!({"privileged": true}), "privileged guard", "--allow-privileged"),
            (json!({"network": "host"}), "host-namespace guard", "--allow-host-namespaces"),
            (json!({"pid": "host"}), "host-namespace guard", "--allow-host-namespaces"),
            (json!({"ipc": "host"}), "host-namespace guard", "--allow-host-namespaces"),
            (json!({"cap_add": ["SYS_ADMIN"]}), "capabilities guard", "--allow-cap-add"),
            (
                json!({"mounts": [{"type": "bind", "source": outside.to_str(), "target": "/x"}]}),
                "bind-mount guard",
                "--allow-bind-path",
            ),
            (
                json!({"mounts": [{"type": "bind", "source": format!("{}/../outside", allowed.display()), "target": "/x"}]}),
                "bind-mount guard",
                "--allow-bind-path",
            ),
            (
                json!({"mounts": [{"type": "bind", "source": "/var/run/docker.sock", "target": "/var/run/docker.sock"}]}),
                "docker-socket guard",
                "No flag relaxes",
            ),
            (
                json!({"mounts": [{"type": "bind", "source": common::host().trim_start_matches("unix://"), "target": "/d.sock"}]}),
                "docker-socket guard",
                "No flag relaxes",
            ),
        ];
        for (extra, guard, flag) in cases {
            for tool in ["create_container", "run_container"] {
                fails_with(&conn, tool, base(&n, extra.clone()), &[guard, flag]).await;
            }
        }
        assert!(
            names_with_label(&docker, &format!("guard-run={n}")).await.is_empty(),
            "a refused call created something"
        );

        // Inside the allowlist, a bind mount works (and is really mounted).
        std::fs::write(allowed.join("hello.txt"), "from the host").expect("write");
        conn.ok(
            "run_container",
            base(
                &n,
                json!({"mounts": [{"type": "bind", "source": allowed.to_str(), "target": "/in", "read_only": true}]}),
            ),
        )
        .await;
        let out = conn.ok("exec_in_container", json!({"container": n, "cmd": ["cat", "/in/hello.txt"]})).await;
        assert_eq!(out["stdout"], "from the host\n");
        remove(&docker, &n).await;
    }
}

#[tokio::test]
async fn the_flags_relax_their_guards() {
    let docker = admin().await;
    for transport in TRANSPORTS {
        let n = common::name_for("relaxed", transport);
        let conn =
            start(transport, &["--allow-write", "--allow-privileged", "--allow-cap-add", "--allow-host-namespaces"])
                .await;
        conn.ok("create_container", base(&n, json!({"privileged": true, "cap_add": ["SYS_ADMIN"], "pid": "host"})))
            .await;
        let host = docker.inspect_container(&n, None).await.expect("inspect").host_config.expect("host config");
        assert_eq!(host.privileged, Some(true));
        assert_eq!(host.pid_mode.as_deref(), Some("host"));
        remove(&docker, &n).await;
    }
}

#[tokio::test]
async fn the_servers_own_container_is_never_stopped_or_removed() {
    let docker = admin().await;
    let n = name("self");
    let id = run(&docker, &n, &["sleep", "300"], &[], &[]).await;
    for transport in TRANSPORTS {
        // Pretend the server runs in that container (as detection from /proc would find).
        let conn = start(transport, &["--allow-write", "--self-container", &id[..12]]).await;
        for (tool, args) in [
            ("stop_container", json!({"container": n})),
            ("kill_container", json!({"container": n})),
            ("restart_container", json!({"container": n})),
            ("pause_container", json!({"container": n})),
            ("remove_container", json!({"container": n, "force": true})),
            ("remove_container", json!({"container": &id[..8], "force": true})),
        ] {
            fails_with(&conn, tool, args, &["self-protection guard"]).await;
        }
        assert_eq!(state(&docker, &n).await.as_deref(), Some("running"));
        // Reading it is fine.
        conn.ok("inspect_container", json!({"container": n})).await;
    }
    remove(&docker, &n).await;
}

#[tokio::test]
async fn read_only_hosts_and_several_hosts() {
    let docker = admin().await;
    let host = common::host();
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("hosts.toml");
    std::fs::write(
        &file,
        format!(
            "[hosts.prod]\nurl = \"{host}\"\ndescription = \"production\"\nread_only = true\n\n\
             [hosts.dev]\nurl = \"{host}\"\ndescription = \"scratch\"\n"
        ),
    )
    .expect("write");
    let n = name("hosts");
    remove(&docker, &n).await;
    for transport in TRANSPORTS {
        let conn = start_raw(transport, &["--hosts-file", file.to_str().expect("utf-8"), "--allow-write"]).await;
        // Reads default to the first host; writes must name theirs.
        let out = conn.ok("list_containers", json!({})).await;
        assert_eq!(out["host"], "dev");
        fails_with(&conn, "run_container", base(&n, json!({})), &["several are configured", "dev", "prod"]).await;
        fails_with(&conn, "run_container", base(&n, json!({"host": "prod"})), &["read-only"]).await;
        fails_with(&conn, "run_container", base(&n, json!({"host": "staging"})), &["no host named `staging`"]).await;
        let out = conn.ok("run_container", base(&n, json!({"host": "dev"}))).await;
        assert_eq!(out["host"], "dev");
        let out = conn.ok("list_containers", json!({"host": "prod", "name": n})).await;
        assert_eq!(out["total"], 1);
        fails_with(&conn, "remove_container", json!({"container": n, "force": true, "host": "prod"}), &["read-only"])
            .await;
        conn.ok("remove_container", json!({"container": n, "force": true, "host": "dev"})).await;
    }
}
