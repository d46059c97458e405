//! What pods do on the fake: containers "print" the echo words of their script, logs
//! read them, exec runs them over the channel WebSocket protocol, and the metrics group
//! reports fixed usage.

use axum::extract::ws::{Message, WebSocket, WebSocketUpgrade};
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use super::{Fake, Kind, now, ok, param, query_map, status, user};

/// What a container "prints": the `echo` words of an `sh -c` script, one line each.
fn scripted_output(script: &str) -> (String, String, i64, u64) {
    let (mut out, mut err, mut code, mut sleep) = (String::new(), String::new(), 0, 0);
    for part in script.split(';').map(str::trim) {
        if let Some(rest) = part.strip_prefix("echo ") {
            let (text, to_err) = match rest.strip_suffix(">&2") {
                Some(t) => (t.trim(), true),
                None => (rest.trim(), false),
            };
            let line = format!("{}\n", text.trim_matches('"').trim_matches('\''));
            if to_err { err += &line } else { out += &line }
        } else if let Some(n) = part.strip_prefix("exit ") {
            code = n.trim().parse().unwrap_or(1);
            break;
        } else if let Some(n) = part.strip_prefix("sleep ") {
            sleep += n.trim().parse::<u64>().unwrap_or(0);
        } else if let Some(n) = part.strip_prefix("seq ") {
            for i in 1..=n.trim().parse::<u64>().unwrap_or(0) {
                out += &format!("{i}\n");
            }
        }
    }
    (out, err, code, sleep)
}

pub(super) fn logs(fake: &Fake, ns: &str, name: &str, q: &[(String, String)]) -> Response {
    let Some(pod) = fake.get("pods", ns, name) else {
        return status(404, "NotFound", &format!("pods \"{name}\" not found"));
    };
    let containers = pod.pointer("/spec/containers").and_then(Value::as_array).cloned().unwrap_or_default();
    let names: Vec<&str> = containers.iter().filter_map(|c| c["name"].as_str()).collect();
    let container = match param(q, "container") {
        Some(c) => match containers.iter().find(|x| x["name"] == c) {
            Some(x) => x.clone(),
            None => return status(400, "BadRequest", &format!("container {c} is not valid for pod {name}")),
        },
        None if containers.len() == 1 => containers[0].clone(),
        None => {
            return status(
                400,
                "BadRequest",
                &format!("a container name must be specified for pod {name}, choose one of: [{}]", names.join(" ")),
            );
        }
    };
    // A container that restarted has a previous instance, which printed the same.
    let restarted = pod.pointer("/status/containerStatuses").and_then(Value::as_array).is_some_and(|ss| {
        ss.iter().any(|s| s["name"] == container["name"] && s["restartCount"].as_i64().unwrap_or(0) > 0)
    });
    if param(q, "previous") == Some("true") && !restarted {
        return status(
            400,
            "BadRequest",
            &format!(
                "previous terminated container \"{}\" in pod \"{name}\" not found",
                container["name"].as_str().unwrap_or("")
            ),
        );
    }
    let command: Vec<String> = container["command"]
        .as_array()
        .map(|a| a.iter().filter_map(|v| v.as_str().map(str::to_string)).collect())
        .unwrap_or_default();
    let script =
        if command.first().map(String::as_str) == Some("sh") && command.get(1).map(String::as_str) == Some("-c") {
            command.get(2).cloned().unwrap_or_default()
        } else {
            String::new()
        };
    let (out, _, _, _) = scripted_output(&script);
    let mut lines: Vec<&str> = out.lines().collect();
    if let Some(t) = param(q, "tailLines") {
        let Ok(t) = t.parse::<usize>() else { return status(400, "BadRequest", "tailLines must be an integer") };
        lines = lines.split_off(lines.len().saturating_sub(t));
    }
    let mut text = lines.iter().map(|l| format!("{l}\n")).collect::<String>();
    if let Some(b) = param(q, "limitBytes").and_then(|b| b.parse::<usize>().ok()) {
        text.truncate(b);
    }
    (StatusCode::OK, [("content-type", "text/plain")], text).into_response()
}

pub(super) fn metrics(fake: &Fake, kind: &Kind, ns: &str, q: &[(String, String)]) -> Response {
    let st = fake.store.lock().expect("store");
    let field = param(q, "fieldSelector").unwrap_or("");
    let mut items = vec![];
    let source = if kind.plural == "pods" { "pods" } else { "nodes" };
    for ((g, n, name), obj) in st.objects.iter() {
        if g != source || (!ns.is_empty() && n != ns) {
            continue;
        }
        if !field.is_empty() && field != format!("metadata.name={name}") {
            continue;
        }
        let seed = name.bytes().map(u64::from).sum::<u64>();
        if kind.plural == "pods" {
            let containers: Vec<Value> = obj.pointer("/spec/containers").and_then(Value::as_array).cloned().unwrap_or_default().iter()
                .map(|c| json!({"name": c["name"], "usage": {"cpu": format!("{}m", seed % 500 + 1), "memory": format!("{}Ki", (seed % 64 + 1) * 1024)}}))
                .collect();
            items.push(json!({"metadata": {"name": name, "namespace": n}, "timestamp": now(), "window": "15s", "containers": containers}));
        } else {
            items.push(json!({"metadata": {"name": name}, "timestamp": now(), "window": "15s", "usage": {"cpu": "1000m", "memory": "2048Mi"}}));
        }
    }
    ok(
        json!({"kind": format!("{}List", kind.kind), "apiVersion": "metrics.k8s.io/v1beta1", "metadata": {}, "items": items}),
    )
}

pub(super) async fn exec(
    State(fake): State<Fake>,
    Path((ns, name)): Path<(String, String)>,
    RawQuery(q): RawQuery,
    headers: HeaderMap,
    ws: Result<WebSocketUpgrade, axum::extract::ws::rejection::WebSocketUpgradeRejection>,
) -> Response {
    let Some(who) = user(&headers) else {
        return status(401, "Unauthorized", "Unauthorized");
    };
    let attrs = super::rbac::Attributes {
        verb: "create",
        group: "",
        resource: "pods/exec".into(),
        namespace: &ns,
        name: &name,
    };
    if let Err(r) = super::rbac::authorize(&fake, who, &headers, &attrs) {
        return r;
    }
    if who == "reader" {
        return status(
            403,
            "Forbidden",
            &format!(
                "pods \"{name}\" is forbidden: User \"reader\" cannot create resource \"pods/exec\" in API group \"\" in the namespace \"{ns}\""
            ),
        );
    }
    let q = query_map(q.as_deref());
    let command: Vec<String> = q.iter().filter(|(k, _)| k == "command").map(|(_, v)| v.clone()).collect();
    if command.is_empty() {
        return status(400, "BadRequest", "you must specify at least 1 command");
    }
    let Some(pod) = fake.get("pods", &ns, &name) else {
        return status(404, "NotFound", &format!("pods \"{name}\" not found"));
    };
    let containers = pod.pointer("/spec/containers").and_then(Value::as_array).cloned().unwrap_or_default();
    if let Some(c) = param(&q, "container")
        && !containers.iter().any(|x| x["name"] == c)
    {
        return status(400, "BadRequest", &format!("container {c} is not valid for pod {name}"));
    }
    let protocols: Vec<String> = headers
        .get("sec-websocket-protocol")
        .and_then(|v| v.to_str().ok())
        .map(|v| v.split(',').map(|s| s.trim().to_string()).collect())
        .unwrap_or_default();
    let Some(proto) = ["v5.channel.k8s.io", "v4.channel.k8s.io"].into_iter().find(|p| protocols.iter().any(|x| x == p))
    else {
        return status(
            400,
            "BadRequest",
            "no supported remotecommand subprotocol was requested (want v4.channel.k8s.io or v5.channel.k8s.io)",
        );
    };
    let Ok(ws) = ws else {
        return status(400, "BadRequest", "Upgrade request required");
    };
    fake.store.lock().expect("store").execs.push(command.clone());
    ws.protocols([proto]).on_upgrade(move |socket| run_exec(socket, command))
}

async fn run_exec(mut socket: WebSocket, command: Vec<String>) {
    let (out, err, code, sleep) = match command.as_slice() {
        [sh, c, script] if sh == "sh" && c == "-c" => scripted_output(script),
        [echo, rest @ ..] if echo == "echo" => (format!("{}\n", rest.join(" ")), String::new(), 0, 0),
        [other, ..] => (String::new(), format!("exec: \"{other}\": executable file not found in $PATH\n"), 127, 0),
        [] => (String::new(), String::new(), 0, 0),
    };
    let frame = |channel: u8, data: &[u8]| {
        let mut v = vec![channel];
        v.extend_from_slice(data);
        Message::Binary(v.into())
    };
    // Output in chunks, as a container writes it.
    for chunk in out.as_bytes().chunks(4096) {
        if socket.send(frame(1, chunk)).await.is_err() {
            return;
        }
    }
    if !err.is_empty() && socket.send(frame(2, err.as_bytes())).await.is_err() {
        return;
    }
    if sleep > 0 {
        tokio::time::sleep(std::time::Duration::from_secs(sleep)).await;
    }
    let status = if code == 0 {
        json!({"metadata": {}, "status": "Success"})
    } else {
        json!({"metadata": {}, "status": "Failure", "message": format!("command terminated with non-zero exit code: error executing command [{}], exit code {code}", command.join(" ")),
            "reason": "NonZeroExitCode", "details": {"causes": [{"reason": "ExitCode", "message": code.to_string()}]}})
    };
    let _ = socket.send(frame(3, status.to_string().as_bytes())).await;
    let _ = socket.send(Message::Close(None)).await;
}
