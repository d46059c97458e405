//! Scale-out: three replicas of mcp-postgres behind a real nginx (Debian's package,
//! round robin, loopback), driven in the stateless era, which needs no session
//! affinity. One replica is killed mid-load; the client sends a failed call (connection
//! error or 502) again, and every call it retried succeeds.

mod common;

use std::process::Stdio;
use std::time::{Duration, Instant};

use integration_tests::{LoadReport, call_retrying, era, load_duration, postgres};
use mcp_core::client::{Client, EraChoice};
use mcp_core::testing::{Connector, Transport, free_port, http_get};
use serde_json::{Value, json};

const CLIENTS: usize = 48;
const REPLICAS: usize = 3;

/// nginx in the foreground on a config of its own in a temp dir; killed by PID on drop.
struct Nginx {
    child: tokio::process::Child,
    listen: String,
    _dir: tempfile::TempDir,
}

impl Nginx {
    async fn start(upstreams: &[String]) -> Self {
        let binary = std::env::var("MCP_TEST_NGINX").unwrap_or_else(|_| "/usr/sbin/nginx".into());
        assert!(
            std::path::Path::new(&binary).is_file(),
            "nginx is missing at {binary}: scripts/services.sh installs Debian's nginx"
        );
        let dir = tempfile::tempdir().expect("tempdir");
        let d = dir.path().display();
        let listen = format!("127.0.0.1:{}", free_port());
        // Run as root when we are root: the default worker user could not enter the
        // private temp dir.
        let user = if std::fs::metadata(dir.path()).is_ok_and(|m| std::os::unix::fs::MetadataExt::uid(&m) == 0) {
            "user root;"
        } else {
            ""
        };
        let servers: String =
            upstreams.iter().map(|u| format!("    server {u} max_fails=1 fail_timeout=5s;\n")).collect();
        let conf = format!(
            "daemon off;\nmaster_process on;\nworker_processes 1;\n{user}\npid {d}/nginx.pid;\nerror_log {d}/error.log warn;\n\
             events {{ worker_connections 1024; }}\n\
             http {{\n  access_log off;\n  client_body_temp_path {d}/body;\n  proxy_temp_path {d}/proxy;\n  \
             fastcgi_temp_path {d}/fastcgi;\n  uwsgi_temp_path {d}/uwsgi;\n  scgi_temp_path {d}/scgi;\n  \
             upstream mcp {{\n{servers}    keepalive 32;\n  }}\n  \
             server {{\n    listen {listen};\n    location / {{\n      proxy_pass http://mcp;\n      \
             proxy_http_version 1.1;\n      proxy_set_header Connection \"\";\n      \
             proxy_set_header Host $http_host;\n      proxy_buffering off;\n      \
             proxy_read_timeout 60s;\n    }}\n  }}\n}}\n"
        );
        let path = dir.path().join("nginx.conf");
        std::fs::write(&path, conf).expect("write nginx.conf");
        let child = tokio::process::Command::new(&binary)
            .arg("-p")
            .arg(dir.path())
            .arg("-e")
            .arg(dir.path().join("error.log"))
            .arg("-c")
            .arg(&path)
            .stdin(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .unwrap_or_else(|e| panic!("start {binary}: {e}"));
        let nginx = Self { child, listen, _dir: dir };
        let started = Instant::now();
        while tokio::net::TcpStream::connect(&nginx.listen).await.is_err() {
            assert!(started.elapsed() < Duration::from_secs(10), "nginx did not listen on {}", nginx.listen);
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        nginx
    }

    /// Stops it by its PID (SIGQUIT: graceful) and waits.
    async fn stop(mut self) {
        if let Some(pid) = self.child.id() {
            let _ = std::process::Command::new("kill").args(["-QUIT", &pid.to_string()]).status();
        }
        let _ = tokio::time::timeout(Duration::from_secs(10), self.child.wait()).await;
    }
}

/// Requests a replica answered, from its `/metrics`.
async fn served(listen: &str) -> f64 {
    let (status, body) = http_get(listen, "/metrics").await;
    assert_eq!(status, 200, "{body}");
    body.lines()
        .filter(|l| l.starts_with("mcp_requests_total") && l.contains("tools/call"))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum()
}

#[tokio::test(flavor = "multi_thread")]
async fn replicas_behind_nginx_survive_losing_one() {
    let duration = load_duration(Duration::from_secs(8));
    let mut replicas: Vec<Option<Connector>> = Vec::new();
    for _ in 0..REPLICAS {
        replicas.push(Some(postgres().options(era(EraChoice::Stateless)).start(Transport::Http).await));
    }
    let listens: Vec<String> = replicas.iter().flatten().map(|r| r.listen.clone().expect("listen")).collect();
    let nginx = Nginx::start(&listens).await;
    let url = format!("http://{}/mcp", nginx.listen);

    let load_started = Instant::now();
    let deadline = load_started + duration;
    let mut tasks = Vec::new();
    for i in 0..CLIENTS {
        let url = url.clone();
        tasks.push(tokio::spawn(async move {
            let mut report = LoadReport::default();
            let client = Client::connect_url(&url, era(EraChoice::Stateless))
                .await
                .unwrap_or_else(|e| panic!("connect through nginx: {e}"));
            // Some calls last a while, so that the killed replica has calls in flight.
            let calls: [(&str, Value); 2] =
                [("query", json!({"sql": "SELECT 1"})), ("query", json!({"sql": "SELECT pg_sleep(0.02)::text"}))];
            let mut n = i;
            while Instant::now() < deadline {
                let (tool, args) = &calls[n % calls.len()];
                n += 1;
                let started = Instant::now();
                let (outcome, retries) = call_retrying(&client, tool, args.clone(), 5).await;
                report.retries += u64::from(retries);
                report.record(started, &outcome, tool);
            }
            report
        }));
    }

    // Round robin: every replica takes calls (waited for, within the first half of the
    // run, so that the second half runs on the survivors).
    loop {
        let mut idle = Vec::new();
        for listen in &listens {
            if served(listen).await == 0.0 {
                idle.push(listen);
            }
        }
        if idle.is_empty() {
            break;
        }
        assert!(load_started.elapsed() < duration / 2, "replicas {idle:?} served nothing: no round robin?");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // One replica dies (SIGKILL: calls in flight on it are cut).
    let victim = replicas[0].take().expect("replica");
    let victim_listen = victim.listen.clone().expect("listen");
    drop(victim);
    eprintln!("scale-out: killed the replica at {victim_listen}");
    let mut at_kill = Vec::new();
    for listen in &listens[1..] {
        at_kill.push(served(listen).await);
    }

    let mut total = LoadReport::default();
    for task in tasks {
        total.merge(task.await.expect("client task"));
    }
    total.elapsed = load_started.elapsed();
    nginx.stop().await;
    eprintln!("scale-out, {CLIENTS} clients through nginx to {REPLICAS} replicas, one killed: {total}");
    assert_eq!(total.errors, 0, "calls failed even after retries: {total}");
    assert!(total.retries > 0, "no call was retried: the kill cut nothing in flight? {total}");
    // The survivors kept serving after the kill: each answered more calls than it had then.
    for (listen, before) in listens[1..].iter().zip(at_kill) {
        let after = served(listen).await;
        assert!(after > before, "replica {listen} served {before} calls at the kill and {after} at the end");
    }
}
