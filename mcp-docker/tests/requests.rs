//! How many Docker requests a read tool makes, counted by a byte-for-byte relay between
//! the connector and the real dockerd (nothing answered in the daemon's place): an
//! inspect asks the engine once, with or without a scope (the scope guard's inspect is the
//! answer), and a scoped tool acts on the full id the guard resolved. Calls share one kept
//! connection, and a read whose kept connection the engine closed is sent again.

mod common;

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use common::{Transport, admin, name, remove, run, start_raw};
use serde_json::json;
use tokio::net::{UnixListener, UnixStream};

/// A unix socket relaying to the test daemon, keeping the request lines it passes on.
struct Relay {
    url: String,
    lines: Arc<Mutex<Vec<String>>>,
    /// Connections accepted so far.
    accepted: Arc<AtomicUsize>,
    /// When set, the next request is not passed on: its connection is closed instead, as
    /// an engine closing an idle connection just as a request goes out.
    cut_next: Arc<AtomicBool>,
    _dir: tempfile::TempDir,
}

impl Relay {
    fn start() -> Relay {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("docker.sock");
        let listener = UnixListener::bind(&path).expect("bind the relay");
        let daemon = common::host().trim_start_matches("unix://").to_string();
        let lines: Arc<Mutex<Vec<String>>> = Arc::default();
        let (accepted, cut_next) = (Arc::<AtomicUsize>::default(), Arc::<AtomicBool>::default());
        let (seen, count, cut) = (Arc::clone(&lines), accepted.clone(), cut_next.clone());
        tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                count.fetch_add(1, Ordering::SeqCst);
                let (daemon, seen, cut) = (daemon.clone(), seen.clone(), cut.clone());
                tokio::spawn(async move {
                    let Ok(upstream) = UnixStream::connect(&daemon).await else { return };
                    relay(client, upstream, seen, cut).await;
                });
            }
        });
        Relay { url: format!("unix://{}", path.display()), lines, accepted, cut_next, _dir: dir }
    }

    /// The request lines (`GET /v1.41/containers/x/json`) sent since the last call.
    fn take(&self) -> Vec<String> {
        std::mem::take(&mut *self.lines.lock().expect("lines"))
    }
}

/// Copies both ways; the requests' first lines are noted as they pass. A request met
/// while `cut` is set ends the connection instead (the daemon, seeing its end, closes).
async fn relay(client: UnixStream, upstream: UnixStream, seen: Arc<Mutex<Vec<String>>>, cut: Arc<AtomicBool>) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let (mut cr, mut cw) = client.into_split();
    let (mut ur, mut uw) = upstream.into_split();
    let up = async move {
        let mut buf = vec![0u8; 64 * 1024];
        while let Ok(n) = cr.read(&mut buf).await {
            if n == 0 {
                break;
            }
            // Request bodies of these read calls are empty: every chunk starts a request.
            let text = String::from_utf8_lossy(&buf[..n]);
            for line in text.lines().filter(|l| l.ends_with(" HTTP/1.1")) {
                seen.lock().expect("lines").push(line.trim_end_matches(" HTTP/1.1").to_string());
            }
            if cut.swap(false, Ordering::SeqCst) {
                break;
            }
            if uw.write_all(&buf[..n]).await.is_err() {
                break;
            }
        }
    };
    let down = async move {
        let _ = tokio::io::copy(&mut ur, &mut cw).await;
    };
    tokio::join!(up, down);
}

/// The request lines that inspect a container.
fn inspects(lines: &[String]) -> Vec<&String> {
    lines.iter().filter(|l| l.starts_with("GET ") && l.contains("/containers/") && l.ends_with("/json")).collect()
}

#[tokio::test]
async fn an_inspect_asks_the_engine_once_and_a_scoped_tool_acts_on_what_was_checked() {
    let docker = admin().await;
    let (scope, k, v) = common::scope_label("requests");
    let inside = name("requests-in");
    let id = run(&docker, &inside, &["sleep", "300"], &[(k, v)], &[]).await;
    let relay = Relay::start();
    for args in [vec![], vec!["--scope-label", scope.as_str()]] {
        let conn = start_raw(Transport::Stdio, &[&["--docker-host", relay.url.as_str()], &args[..]].concat()).await;
        // The first call also negotiates the API version.
        let first = conn.call("inspect_container", json!({"container": inside})).await;
        assert!(!first.is_error, "{args:?}: {:?}", first.content);
        relay.take();
        let result = conn.call("inspect_container", json!({"container": inside})).await;
        assert!(!result.is_error, "{args:?}: {:?}", result.content);
        let lines = relay.take();
        assert_eq!(inspects(&lines).len(), 1, "{args:?}: one inspect per call: {lines:?}");
        assert_eq!(lines.len(), 1, "{args:?}: nothing else asked: {lines:?}");
        assert_eq!(result.structured_content.as_ref().and_then(|s| s["container"]["Id"].as_str()), Some(id.as_str()));

        let top = conn.call("container_top", json!({"container": inside})).await;
        assert!(!top.is_error, "{args:?}: {:?}", top.content);
        let lines = relay.take();
        let acted = lines.iter().find(|l| l.contains("/top")).expect("a top request");
        if args.is_empty() {
            assert!(inspects(&lines).is_empty(), "without a scope, no inspect: {lines:?}");
            assert!(acted.contains(&format!("/containers/{inside}/top")), "{acted}");
        } else {
            // The guard's inspect, then the call on the full id it resolved.
            assert_eq!(inspects(&lines).len(), 1, "{lines:?}");
            assert!(acted.contains(&format!("/containers/{id}/top")), "acts on the checked id: {acted}");
        }
    }
    remove(&docker, &inside).await;
}

#[tokio::test]
async fn calls_share_a_kept_connection_and_a_read_cut_off_is_sent_again() {
    let docker = admin().await;
    let target = name("requests-kept");
    run(&docker, &target, &["sleep", "300"], &[], &[]).await;
    let relay = Relay::start();
    let conn = start_raw(Transport::Stdio, &["--docker-host", relay.url.as_str()]).await;
    let inspect = || conn.call("inspect_container", json!({"container": target}));
    assert!(!inspect().await.is_error);
    let opened = relay.accepted.load(Ordering::SeqCst);
    for _ in 0..5 {
        assert!(!inspect().await.is_error);
    }
    assert_eq!(relay.accepted.load(Ordering::SeqCst), opened, "five more calls, no new connection");

    // The engine drops the kept connection as the request arrives: the read is sent again.
    relay.take();
    relay.cut_next.store(true, Ordering::SeqCst);
    let result = inspect().await;
    assert!(!result.is_error, "{:?}", result.content);
    assert_eq!(inspects(&relay.take()).len(), 2, "the cut request, then the same on a new connection");
    assert_eq!(relay.accepted.load(Ordering::SeqCst), opened + 1);
    remove(&docker, &target).await;
}
