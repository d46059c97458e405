//! What the security layers cost. A plain and a secure server run side by side, both
//! alive for the whole measurement, and the calls (in bursts of 32, the same for both)
//! alternate between them in chunks a fraction of a second long (plain then secure, then
//! secure then plain, ...). Each round compares the two servers over neighbouring chunks,
//! so that a slow spell of the machine falls on both: their calls per second, and their
//! CPU time per call. The figures are the medians of the rounds' ratios.

use std::ops::Range;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context as _;
use mcp_bench::{Era, Launch, cpu_time, median_interval, micros, quantile, thread_cpu_time};
use sha2::{Digest, Sha256};
use tokio::runtime::Runtime;

use crate::Transport;
use crate::http::{HttpServer, HttpSession, open_session};
use crate::stdio::StdioServer;
use crate::ws::{Socket, connect};

/// A server is settled when it used less than 1% of a core over this long: longer than
/// the audit writer's tick, so that its last batch and sync after a chunk are counted.
const QUIET: Duration = Duration::from_millis(150);
/// How long a server may take to settle after a chunk.
const SETTLE_AT_MOST: Duration = Duration::from_millis(1500);

/// One open connection to a server under test.
enum Driver {
    Stdio(StdioServer),
    Http { server: HttpServer, session: Arc<HttpSession> },
    Ws { server: HttpServer, socket: Box<Socket> },
}

impl Driver {
    fn open(transport: Transport, launch: &Launch, era: Era, runtime: &Runtime) -> anyhow::Result<Self> {
        Ok(match transport {
            Transport::Stdio => {
                let mut server = StdioServer::spawn(launch)?;
                server.open(era)?;
                Driver::Stdio(server)
            }
            Transport::Http => {
                let server = HttpServer::spawn(launch)?;
                let session = runtime.block_on(open_session(server.addr, era, launch.token.clone()))?;
                Driver::Http { server, session: Arc::new(session) }
            }
            Transport::Ws => {
                let server = HttpServer::spawn(launch)?;
                let socket = runtime.block_on(connect(server.addr, era, launch.token.as_deref()))?;
                Driver::Ws { server, socket: Box::new(socket) }
            }
        })
    }

    fn pid(&self) -> u32 {
        match self {
            Driver::Stdio(server) => server.pid(),
            Driver::Http { server, .. } | Driver::Ws { server, .. } => server.pid(),
        }
    }

    fn calls(&mut self, era: Era, ids: Range<usize>, runtime: &Runtime) -> anyhow::Result<()> {
        match self {
            Driver::Stdio(server) => server.bursts(era, ids),
            Driver::Http { session, .. } => runtime.block_on(crate::http::bursts(session, ids)),
            Driver::Ws { socket, .. } => runtime.block_on(crate::ws::bursts(socket, era, ids)),
        }
    }

    /// The server's CPU time per call over `calls` echo calls from `first`, in µs, counted
    /// until the server has settled: what an audit trail still has to write and sync after
    /// the last answer belongs to these calls, and must not run into the other server's chunk.
    /// Also returns the part of it spent by the audit trail's writer thread, and the calls'
    /// rate while they ran.
    fn cpu_per_call(&mut self, era: Era, first: usize, calls: usize, runtime: &Runtime) -> anyhow::Result<Chunk> {
        let pid = self.pid();
        let read = || cpu_time(pid).context("reading the server's CPU time");
        let writer = || thread_cpu_time(pid, "audit").context("reading the audit writer's CPU time");
        let (before, writer_before) = (read()?, writer()?);
        let started = Instant::now();
        self.calls(era, first..first + calls, runtime)?;
        let calls_per_sec = calls as f64 / started.elapsed().as_secs_f64();
        let mut after = read()?;
        let settle_by = Instant::now() + SETTLE_AT_MOST;
        while Instant::now() < settle_by {
            std::thread::sleep(QUIET);
            let now = read()?;
            if now.saturating_sub(after) < QUIET / 100 {
                break;
            }
            after = now;
        }
        let per_call = |d: Duration| micros(d) / calls as f64;
        Ok(Chunk {
            cpu_us: per_call(after.saturating_sub(before)),
            writer_us: per_call(writer()?.saturating_sub(writer_before)),
            calls_per_sec,
        })
    }

    fn stop(self) {
        if let Driver::Stdio(server) = self {
            server.stop();
        }
    }
}

/// One chunk of calls to one server.
#[derive(Debug, Clone, Copy, Default)]
struct Chunk {
    /// Server CPU per call, in µs, until it settled.
    cpu_us: f64,
    /// The part of it spent by the audit writer thread.
    writer_us: f64,
    /// Calls per second, from the first request to the last answer.
    calls_per_sec: f64,
}

/// The secure server's cost against the plain one.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Cost {
    /// Median over the rounds of plain CPU per call over secure CPU per call: the
    /// throughput the secure server keeps where CPU is the limit.
    pub(crate) ratio: f64,
    /// The middle half of the round ratios (first and third quartiles).
    pub(crate) quartiles: (f64, f64),
    /// A 95% interval for the median ratio (see `mcp_bench::median_interval`).
    pub(crate) interval: (f64, f64),
    /// Median over the rounds of the secure server's calls per second over the plain one's.
    pub(crate) throughput_ratio: f64,
    /// The middle half of those.
    pub(crate) throughput_quartiles: (f64, f64),
    /// A 95% interval for their median.
    pub(crate) throughput_interval: (f64, f64),
    /// Median CPU per call of each, in µs.
    pub(crate) plain_us: f64,
    pub(crate) secure_us: f64,
    /// Median CPU per call of the secure server's audit writer thread, in µs.
    pub(crate) audit_writer_us: f64,
    /// The secure server's audit lines: their average size in bytes, and the time the
    /// SHA-256 of one takes on this machine, in µs (the chain's floor: no formatting work
    /// can remove it). `None` when the trail could not be read back.
    pub(crate) audit_line: Option<(f64, f64)>,
}

/// Alternates `rounds` pairs of chunks of `chunk` calls between the two servers.
pub(crate) fn measure(
    transport: Transport,
    era: Era,
    plain: &Launch,
    secure: &Launch,
    rounds: usize,
    chunk: usize,
    runtime: &Runtime,
) -> anyhow::Result<Cost> {
    let mut servers = [Driver::open(transport, plain, era, runtime)?, Driver::open(transport, secure, era, runtime)?];
    let mut next_id = 1;
    // Warm up both (allocator pools, the audit file's first pages, connection pools).
    for server in &mut servers {
        server.calls(era, next_id..next_id + chunk / 2, runtime)?;
        next_id += chunk / 2;
    }
    let (mut ratios, mut plain_us, mut secure_us, mut writer_us) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    let mut throughput_ratios = Vec::new();
    for round in 0..rounds {
        let mut chunks = [Chunk::default(); 2];
        // Plain first in even rounds, secure first in odd ones: neither always follows the other.
        let order = if round % 2 == 0 { [0, 1] } else { [1, 0] };
        for i in order {
            chunks[i] = servers[i].cpu_per_call(era, next_id, chunk, runtime)?;
            next_id += chunk;
        }
        let [plain, secure] = chunks;
        ratios.push(plain.cpu_us / secure.cpu_us);
        throughput_ratios.push(secure.calls_per_sec / plain.calls_per_sec);
        plain_us.push(plain.cpu_us);
        secure_us.push(secure.cpu_us);
        writer_us.push(secure.writer_us);
    }
    for server in servers {
        server.stop();
    }
    let quartiles = (quantile(&mut ratios, 0.25), quantile(&mut ratios, 0.75));
    let throughput_quartiles = (quantile(&mut throughput_ratios, 0.25), quantile(&mut throughput_ratios, 0.75));
    Ok(Cost {
        ratio: quantile(&mut ratios, 0.5),
        quartiles,
        interval: median_interval(&ratios),
        throughput_ratio: quantile(&mut throughput_ratios, 0.5),
        throughput_quartiles,
        throughput_interval: median_interval(&throughput_ratios),
        plain_us: quantile(&mut plain_us, 0.5),
        secure_us: quantile(&mut secure_us, 0.5),
        audit_writer_us: quantile(&mut writer_us, 0.5),
        audit_line: audit_line_hash(secure),
    })
}

/// The average size of the audit lines `launch`'s server wrote, and the time hashing one
/// takes here (as its writer does, to chain the next line to it), in µs.
fn audit_line_hash(launch: &Launch) -> Option<(f64, f64)> {
    let path = launch.args.iter().skip_while(|a| *a != "--audit-log").nth(1)?;
    let trail = std::fs::read(path).ok()?;
    let lines: Vec<&[u8]> = trail.split(|&b| b == b'\n').filter(|l| !l.is_empty()).take(20_000).collect();
    if lines.is_empty() {
        return None;
    }
    let bytes = lines.iter().map(|l| l.len()).sum::<usize>() as f64 / lines.len() as f64;
    const PASSES: usize = 5;
    let started = Instant::now();
    for _ in 0..PASSES {
        for line in &lines {
            std::hint::black_box(Sha256::digest(line));
        }
    }
    Some((bytes, micros(started.elapsed()) / (PASSES * lines.len()) as f64))
}
