//! The stdio runs: a real pipe to a spawned server.

use std::io::{BufRead, BufReader, Write};
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

use anyhow::{Context as _, ensure};
use mcp_bench::{Era, IN_FLIGHT, Launch, Row, Sizes, contains, cpu_time, echo_request, opening_request, percentile};

fn check_answer(body: &[u8]) -> anyhow::Result<()> {
    mcp_bench::check_answer(body).map_err(anyhow::Error::msg)
}

pub(crate) struct StdioServer {
    child: Child,
    stdin: ChildStdin,
    stdout: BufReader<ChildStdout>,
}

impl StdioServer {
    pub(crate) fn spawn(launch: &Launch) -> anyhow::Result<Self> {
        let binary = &launch.binary;
        let mut child = Command::new(binary)
            .args(["--transport", "stdio", "--log-level", "warn"])
            .args(&launch.args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .with_context(|| format!("spawning {}", binary.display()))?;
        let stdin = child.stdin.take().context("no stdin")?;
        let stdout = BufReader::new(child.stdout.take().context("no stdout")?);
        Ok(Self { child, stdin, stdout })
    }

    fn send(&mut self, line: &[u8]) -> anyhow::Result<()> {
        self.stdin.write_all(line)?;
        self.stdin.flush()?;
        Ok(())
    }

    fn receive(&mut self, line: &mut Vec<u8>) -> anyhow::Result<()> {
        line.clear();
        ensure!(self.stdout.read_until(b'\n', line)? > 0, "server closed stdout");
        Ok(())
    }

    pub(crate) fn open(&mut self, era: Era) -> anyhow::Result<()> {
        let mut line = opening_request(era).to_string().into_bytes();
        line.push(b'\n');
        self.send(&line)?;
        let mut answer = Vec::new();
        self.receive(&mut answer)?;
        ensure!(contains(&answer, b"\"result\""), "opening failed: {}", String::from_utf8_lossy(&answer));
        if era == Era::Handshake {
            self.send(b"{\"jsonrpc\":\"2.0\",\"method\":\"notifications/initialized\"}\n")?;
        }
        Ok(())
    }

    pub(crate) fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Echo calls `ids` in bursts of IN_FLIGHT: a burst goes out in one write, and the
    /// next waits for all of its answers. Bursts keep the work per wake-up of the server
    /// the same from run to run, where a sliding window's would drift with timing.
    pub(crate) fn bursts(&mut self, era: Era, ids: std::ops::Range<usize>) -> anyhow::Result<()> {
        let mut batch = Vec::new();
        let mut line = Vec::new();
        let mut next = ids.start;
        while next < ids.end {
            let burst = next..(next + IN_FLIGHT).min(ids.end);
            batch.clear();
            for id in burst.clone() {
                batch.extend_from_slice(&echo_request(era, id));
            }
            self.send(&batch)?;
            for _ in burst.clone() {
                self.receive(&mut line)?;
                check_answer(&line)?;
            }
            next = burst.end;
        }
        Ok(())
    }

    pub(crate) fn stop(mut self) {
        drop(self.stdin);
        let deadline = Instant::now() + Duration::from_secs(5);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub(crate) fn bench_stdio(launch: &Launch, era: Era, sizes: &Sizes) -> anyhow::Result<Row> {
    let mut first_responses = Vec::with_capacity(sizes.spawns);
    for _ in 0..sizes.spawns {
        let started = Instant::now();
        let mut server = StdioServer::spawn(launch)?;
        server.open(era)?;
        first_responses.push(started.elapsed());
        server.stop();
    }

    let mut server = StdioServer::spawn(launch)?;
    server.open(era)?;
    let requests: Vec<Vec<u8>> = (1..=sizes.sequential.max(sizes.pipelined)).map(|id| echo_request(era, id)).collect();
    let mut answer = Vec::new();
    // Warm up, then time each round trip.
    for request in requests.iter().take(sizes.sequential / 10) {
        server.send(request)?;
        server.receive(&mut answer)?;
    }
    let mut latencies = Vec::with_capacity(sizes.sequential);
    for request in &requests[..sizes.sequential] {
        let sent = Instant::now();
        server.send(request)?;
        server.receive(&mut answer)?;
        latencies.push(sent.elapsed());
        check_answer(&answer)?;
    }

    // Pipelined: keep IN_FLIGHT requests outstanding. The reader publishes how many answers
    // arrived whenever it has drained what the pipe held; the writer then sends, in one
    // write, as many requests as the window has room for (as a batching client would).
    let StdioServer { child, mut stdin, mut stdout } = server;
    let total = sizes.pipelined;
    let mut stream = Vec::new();
    let mut offsets = vec![0];
    for request in &requests[..total] {
        stream.extend_from_slice(request);
        offsets.push(stream.len());
    }
    let answered = Arc::new((Mutex::new(0usize), Condvar::new()));
    let publish = answered.clone();
    let reader = std::thread::spawn(move || -> anyhow::Result<BufReader<ChildStdout>> {
        let mut line = Vec::new();
        for count in 1..=total {
            line.clear();
            ensure!(stdout.read_until(b'\n', &mut line)? > 0, "server closed stdout");
            check_answer(&line)?;
            if stdout.buffer().is_empty() || count == total {
                let (done, wake) = &*publish;
                *done.lock().map_err(|_| anyhow::anyhow!("poisoned"))? = count;
                wake.notify_one();
            }
        }
        Ok(stdout)
    });
    let pid = child.id();
    let cpu_before = cpu_time(pid);
    let started = Instant::now();
    let mut sent = 0;
    while sent < total {
        let (done, wake) = &*answered;
        let mut answered_now = done.lock().map_err(|_| anyhow::anyhow!("poisoned"))?;
        while sent - *answered_now >= IN_FLIGHT {
            answered_now = wake.wait(answered_now).map_err(|_| anyhow::anyhow!("poisoned"))?;
        }
        let until = (*answered_now + IN_FLIGHT).min(total);
        drop(answered_now);
        stdin.write_all(&stream[offsets[sent]..offsets[until]])?;
        stdin.flush()?;
        sent = until;
    }
    let stdout = reader.join().map_err(|_| anyhow::anyhow!("reader thread panicked"))??;
    let elapsed = started.elapsed();
    let cpu_after = cpu_time(pid);
    StdioServer { child, stdin, stdout }.stop();

    let first_response = percentile(&mut first_responses, 0.50);
    Ok(Row {
        first_response_ms: Some(first_response.as_secs_f64() * 1e3),
        ..Row::measured(&mut latencies, total, elapsed).with_server_cpu(cpu_before, cpu_after, total)
    })
}
