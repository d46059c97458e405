//! The echo benchmark's shared pieces: the request shapes of both protocol eras, answer
//! checks, result rows and statistics. The servers under test live in `examples/`, the
//! driver in `benches/echo/`.

use std::path::PathBuf;
use std::time::Duration;

use serde_json::{Value, json};

/// Requests kept outstanding in the throughput runs.
pub const IN_FLIGHT: usize = 32;
/// The handshake-era revision the bench speaks.
pub const HANDSHAKE: &str = "2025-11-25";
/// The stateless revision.
pub const STATELESS: &str = "2026-07-28";

/// Which protocol era a run speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Era {
    /// `initialize` first.
    Handshake,
    /// `_meta` on every request.
    Stateless,
}

/// How many calls each measurement makes.
#[derive(Debug, Clone, Copy)]
pub struct Sizes {
    /// Timed sequential round trips.
    pub sequential: usize,
    /// Calls in the 32-in-flight throughput run.
    pub pipelined: usize,
    /// Spawns timed to their first answer.
    pub spawns: usize,
}

/// One server on one transport.
#[derive(Debug, Default, Clone)]
pub struct Row {
    /// Median sequential round trip, in microseconds.
    pub p50_us: f64,
    /// 99th percentile sequential round trip, in microseconds.
    pub p99_us: f64,
    /// Calls per second with 32 in flight.
    pub calls_per_sec: f64,
    /// Median time from spawn to the first answer (stdio only).
    pub first_response_ms: Option<f64>,
    /// The server process's CPU time (all threads, user + system) per call in the
    /// throughput run, in microseconds. Unlike calls per second, it does not move when the
    /// client or a neighbour takes the other core, so it is the figure to compare costs by.
    pub server_cpu_us: Option<f64>,
}

impl Row {
    /// A row from sequential round-trip times and a throughput run of `calls` in `elapsed`.
    pub fn measured(latencies: &mut [Duration], calls: usize, elapsed: Duration) -> Self {
        Self {
            p50_us: micros(percentile(latencies, 0.50)),
            p99_us: micros(percentile(latencies, 0.99)),
            calls_per_sec: calls as f64 / elapsed.as_secs_f64(),
            first_response_ms: None,
            server_cpu_us: None,
        }
    }

    /// This row with the server's CPU time per call, from readings of [`cpu_time`] taken
    /// around the throughput run of `calls`.
    pub fn with_server_cpu(self, before: Option<Duration>, after: Option<Duration>, calls: usize) -> Self {
        let server_cpu_us = before.zip(after).map(|(b, a)| micros(a.saturating_sub(b)) / calls as f64);
        Self { server_cpu_us, ..self }
    }
}

/// The flags every server under test takes (the mcp-core one takes `ServeArgs`).
#[derive(Debug, clap::Parser)]
pub struct ServerArgs {
    /// `stdio` or `http`.
    #[arg(long, default_value = "stdio")]
    pub transport: String,
    /// Address for HTTP.
    #[arg(long, default_value = "127.0.0.1:8080")]
    pub listen: std::net::SocketAddr,
    /// Accepted for symmetry with the mcp-core server.
    #[arg(long, default_value = "warn")]
    pub log_level: String,
}

/// How to start a server under test.
#[derive(Debug, Clone)]
pub struct Launch {
    /// The example binary.
    pub binary: PathBuf,
    /// Flags beyond the transport's.
    pub args: Vec<String>,
    /// Bearer token to send over HTTP and WebSocket.
    pub token: Option<String>,
}

/// CPU time a process has used so far: the sum over its live threads of the time each has
/// spent on a CPU (`/proc/PID/task/*/schedstat`, in nanoseconds). Threads that have
/// exited are not counted; the servers under test keep theirs (workers, the audit writer).
pub fn cpu_time(pid: u32) -> Option<Duration> {
    threads_cpu_time(pid, |_| true)
}

/// [`cpu_time`] of the process's threads named `name` (such as the audit trail's writer).
pub fn thread_cpu_time(pid: u32, name: &str) -> Option<Duration> {
    threads_cpu_time(pid, |comm| comm.trim_end() == name)
}

fn threads_cpu_time(pid: u32, wanted: impl Fn(&str) -> bool) -> Option<Duration> {
    let tasks = std::fs::read_dir(format!("/proc/{pid}/task")).ok()?;
    let nanos = tasks
        .flatten()
        .filter(|task| std::fs::read_to_string(task.path().join("comm")).is_ok_and(|comm| wanted(&comm)))
        .filter_map(|task| std::fs::read_to_string(task.path().join("schedstat")).ok())
        .filter_map(|stat| stat.split_whitespace().next()?.parse::<u64>().ok())
        .sum();
    Some(Duration::from_nanos(nanos))
}

/// A latency percentile (sorts the sample).
pub fn percentile(samples: &mut [Duration], fraction: f64) -> Duration {
    if samples.is_empty() {
        return Duration::ZERO;
    }
    samples.sort_unstable();
    samples[rank(samples.len(), fraction).min(samples.len() - 1)]
}

/// The place of the `fraction` quantile among `len` sorted values.
fn rank(len: usize, fraction: f64) -> usize {
    (len.saturating_sub(1) as f64 * fraction).round() as usize
}

/// Microseconds, as a float.
pub fn micros(d: Duration) -> f64 {
    d.as_secs_f64() * 1e6
}

/// The JSON-RPC request for call `id` in the given era (2026-07-28 carries `_meta` on each).
pub fn request(era: Era, id: usize, method: &str, params: Value) -> Value {
    let mut params = params;
    if era == Era::Stateless
        && let Some(object) = params.as_object_mut()
    {
        object.insert(
            "_meta".into(),
            json!({
                "io.modelcontextprotocol/protocolVersion": STATELESS,
                "io.modelcontextprotocol/clientCapabilities": {},
                "io.modelcontextprotocol/clientInfo": {"name": "echo-bench", "version": "0"}
            }),
        );
    }
    json!({"jsonrpc": "2.0", "id": id, "method": method, "params": params})
}

/// The echo call `id`, as a line.
pub fn echo_request(era: Era, id: usize) -> Vec<u8> {
    let mut line = request(era, id, "tools/call", json!({"name": "echo", "arguments": {"message": "hello"}}))
        .to_string()
        .into_bytes();
    line.push(b'\n');
    line
}

/// `initialize` or `server/discover`.
pub fn opening_request(era: Era) -> Value {
    match era {
        Era::Handshake => request(
            era,
            0,
            "initialize",
            json!({"protocolVersion": HANDSHAKE, "capabilities": {}, "clientInfo": {"name": "echo-bench", "version": "0"}}),
        ),
        Era::Stateless => request(era, 0, "server/discover", json!({})),
    }
}

/// The method of [`opening_request`].
pub fn opening_method(era: Era) -> &'static str {
    match era {
        Era::Handshake => "initialize",
        Era::Stateless => "server/discover",
    }
}

/// Whether `haystack` contains `needle`.
pub fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

/// A successful echo answer: a result, not a JSON-RPC error and not a tool error.
pub fn check_answer(body: &[u8]) -> Result<(), String> {
    let ok = contains(body, b"\"result\"") && !contains(body, b"\"isError\":true") && contains(body, b"hello");
    if ok { Ok(()) } else { Err(format!("unexpected answer: {}", String::from_utf8_lossy(body))) }
}

/// A 95% interval for the median of `values` (the rounds' ratios), by resampling them with
/// replacement: how far the median could move were the run made again with the machine as
/// noisy as it was. A fixed sequence of draws: the same rounds give the same interval.
pub fn median_interval(values: &[f64]) -> (f64, f64) {
    const RESAMPLES: usize = 2_000;
    if values.is_empty() {
        return (f64::NAN, f64::NAN);
    }
    let mut state: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut draw = || {
        // xorshift64
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        values[(state % values.len() as u64) as usize]
    };
    let mut sample = vec![0.0; values.len()];
    let mut medians: Vec<f64> = (0..RESAMPLES)
        .map(|_| {
            sample.iter_mut().for_each(|s| *s = draw());
            quantile(&mut sample, 0.5)
        })
        .collect();
    (quantile(&mut medians, 0.025), quantile(&mut medians, 0.975))
}

/// The value below which `q` of `values` fall (sorts them).
pub fn quantile(values: &mut [f64], q: f64) -> f64 {
    values.sort_by(f64::total_cmp);
    values.get(rank(values.len(), q)).copied().unwrap_or(f64::NAN)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_medians_interval_holds_it_and_narrows_with_less_noise() {
        let steady = [0.9; 41];
        assert_eq!(median_interval(&steady), (0.9, 0.9));
        let noisy: Vec<f64> = (0..41).map(|i| 0.7 + 0.01 * f64::from(i)).collect();
        let quiet: Vec<f64> = (0..41).map(|i| 0.88 + 0.001 * f64::from(i)).collect();
        let (lo, hi) = median_interval(&noisy);
        assert!(lo < 0.9 && 0.9 < hi && hi - lo < 0.2, "{lo}..{hi} around the median 0.9");
        let (qlo, qhi) = median_interval(&quiet);
        assert!(qlo <= 0.9 && 0.9 <= qhi, "{qlo}..{qhi} around the median 0.9");
        assert!(qhi - qlo < (hi - lo) / 5.0, "ten times less spread, a narrower interval");
        assert!(median_interval(&[]).0.is_nan());
    }

    #[test]
    fn percentiles_pick_the_ranked_sample() {
        let mut samples: Vec<Duration> = (1..=100).rev().map(Duration::from_micros).collect();
        assert_eq!(percentile(&mut samples, 0.5), Duration::from_micros(51));
        assert_eq!(percentile(&mut samples, 0.99), Duration::from_micros(99));
        assert_eq!(percentile(&mut [], 0.5), Duration::ZERO);
    }

    /// Keeps the calling thread busy until it has had `cpu` of CPU time by its own count
    /// (at most 20 s): a spin of so much wall time gets less when other work shares the
    /// cores, as it does while the tests run side by side.
    fn spin_for_cpu(cpu: Duration) {
        let own = || {
            std::fs::read_to_string("/proc/thread-self/schedstat")
                .ok()
                .and_then(|s| s.split_whitespace().next()?.parse::<u64>().ok())
                .map_or(Duration::ZERO, Duration::from_nanos)
        };
        let (until, deadline) = (own() + cpu, std::time::Instant::now() + Duration::from_secs(20));
        let mut x = 0u64;
        while own() < until && std::time::Instant::now() < deadline {
            for _ in 0..10_000 {
                x = std::hint::black_box(x.wrapping_mul(31).wrapping_add(7));
            }
        }
    }

    #[test]
    fn cpu_time_grows_with_work() {
        let me = std::process::id();
        let before = cpu_time(me).expect("read /proc/self/stat");
        spin_for_cpu(Duration::from_millis(100));
        let after = cpu_time(me).expect("read /proc/self/stat");
        assert!(after >= before + Duration::from_millis(50), "{before:?} -> {after:?}");
    }

    #[test]
    fn a_named_thread_s_cpu_time_is_its_own() {
        let me = std::process::id();
        let (spun, stop) = (std::sync::mpsc::channel(), std::sync::mpsc::channel::<()>());
        let (spun_tx, stop_rx) = (spun.0, stop.1);
        let busy = std::thread::Builder::new()
            .name("busy-bench".into())
            .spawn(move || {
                spin_for_cpu(Duration::from_millis(100));
                let _ = spun_tx.send(());
                let _ = stop_rx.recv();
            })
            .expect("spawn");
        spun.1.recv().expect("spun");
        let busy_time = thread_cpu_time(me, "busy-bench").expect("read /proc");
        let unnamed = thread_cpu_time(me, "no-such-thread").expect("read /proc");
        let all = cpu_time(me).expect("read /proc");
        let _ = stop.0.send(());
        busy.join().expect("join");
        assert!(busy_time >= Duration::from_millis(50), "{busy_time:?}");
        assert_eq!(unnamed, Duration::ZERO);
        assert!(all >= busy_time, "{all:?} < {busy_time:?}");
    }

    #[test]
    fn answers_are_checked() {
        assert!(check_answer(br#"{"result":{"content":[{"type":"text","text":"hello"}]}}"#).is_ok());
        assert!(check_answer(br#"{"result":{"content":[{"text":"hello"}],"isError":true}}"#).is_err());
        assert!(check_answer(br#"{"error":{"message":"hello"}}"#).is_err());
    }
}
