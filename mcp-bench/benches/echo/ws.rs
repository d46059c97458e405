//! The WebSocket runs: one socket to `/ws`, sequential and with 32 requests in flight.

use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail, ensure};
use futures::{SinkExt, StreamExt};
use mcp_bench::{Era, IN_FLIGHT, Launch, Row, Sizes, contains, cpu_time, echo_request, opening_request};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::HeaderValue;

use crate::http::HttpServer;

pub(crate) type Socket = tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

fn check_answer(body: &[u8]) -> anyhow::Result<()> {
    mcp_bench::check_answer(body).map_err(anyhow::Error::msg)
}

fn text(mut line: Vec<u8>) -> Message {
    if line.last() == Some(&b'\n') {
        line.pop();
    }
    Message::Text(String::from_utf8(line).unwrap_or_default().into())
}

/// Connects (retrying while the server starts) and opens the session in `era`.
pub(crate) async fn connect(addr: std::net::SocketAddr, era: Era, token: Option<&str>) -> anyhow::Result<Socket> {
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut socket = loop {
        let mut request = format!("ws://{addr}/ws").into_client_request()?;
        request.headers_mut().insert("sec-websocket-protocol", HeaderValue::from_static("mcp"));
        if let Some(t) = token {
            request.headers_mut().insert("authorization", HeaderValue::from_str(&format!("Bearer {t}"))?);
        }
        match tokio_tungstenite::connect_async(request).await {
            Ok((socket, _)) => break socket,
            Err(_) if Instant::now() < deadline => tokio::time::sleep(Duration::from_millis(10)).await,
            Err(e) => bail!("server did not come up: {e}"),
        }
    };
    socket.send(Message::Text(opening_request(era).to_string().into())).await?;
    let answer = next_text(&mut socket).await?;
    ensure!(contains(answer.as_bytes(), b"\"result\""), "opening failed: {answer}");
    if era == Era::Handshake {
        socket.send(Message::Text(r#"{"jsonrpc":"2.0","method":"notifications/initialized"}"#.into())).await?;
    }
    Ok(socket)
}

async fn next_text(socket: &mut Socket) -> anyhow::Result<String> {
    loop {
        match socket.next().await.context("socket closed")?? {
            Message::Text(t) => return Ok(t.to_string()),
            Message::Close(frame) => bail!("closed: {frame:?}"),
            _ => continue,
        }
    }
}

/// Echo calls `ids` on one socket in bursts of IN_FLIGHT: a burst goes out in one flush,
/// and the next waits for all of its answers (see `StdioServer::bursts`).
pub(crate) async fn bursts(socket: &mut Socket, era: Era, ids: std::ops::Range<usize>) -> anyhow::Result<()> {
    let mut next = ids.start;
    while next < ids.end {
        let burst = next..(next + IN_FLIGHT).min(ids.end);
        for id in burst.clone() {
            socket.feed(text(echo_request(era, id))).await?;
        }
        socket.flush().await?;
        for _ in burst.clone() {
            check_answer(next_text(socket).await?.as_bytes())?;
        }
        next = burst.end;
    }
    Ok(())
}

pub(crate) async fn bench_ws(launch: &Launch, era: Era, sizes: &Sizes) -> anyhow::Result<Row> {
    let server = HttpServer::spawn(launch)?;
    let mut socket = connect(server.addr, era, launch.token.as_deref()).await?;
    for id in 1..=sizes.sequential / 10 {
        socket.send(text(echo_request(era, id))).await?;
        check_answer(next_text(&mut socket).await?.as_bytes())?;
    }
    let mut latencies = Vec::with_capacity(sizes.sequential);
    for id in 1..=sizes.sequential {
        let sent = Instant::now();
        socket.send(text(echo_request(era, id))).await?;
        check_answer(next_text(&mut socket).await?.as_bytes())?;
        latencies.push(sent.elapsed());
    }

    // 32 in flight on the one socket: the reader gives a permit back for every answer.
    let total = sizes.pipelined / 2;
    let (mut sink, mut stream) = socket.split();
    let window = Arc::new(tokio::sync::Semaphore::new(IN_FLIGHT));
    let permits = window.clone();
    let cpu_before = cpu_time(server.pid());
    let started = Instant::now();
    let reader = tokio::spawn(async move {
        let mut seen = 0;
        while seen < total {
            match stream.next().await.context("socket closed")?? {
                Message::Text(t) => {
                    check_answer(t.as_bytes())?;
                    seen += 1;
                    permits.add_permits(1);
                }
                Message::Close(frame) => bail!("closed: {frame:?}"),
                _ => {}
            }
        }
        Ok::<_, anyhow::Error>(())
    });
    for id in 1..=total {
        window.acquire().await?.forget();
        sink.send(text(echo_request(era, id))).await?;
    }
    reader.await??;
    let elapsed = started.elapsed();
    let cpu_after = cpu_time(server.pid());
    Ok(Row::measured(&mut latencies, total, elapsed).with_server_cpu(cpu_before, cpu_after, total))
}
