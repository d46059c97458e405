//! Start and idle: what a client pays each time it spawns a stdio server. The first answer
//! is the time from spawn to `tools/list` answered (after `initialize`), the median of
//! [`SPAWNS`]; the idle memory is VmRSS 300 ms after that answer, split into anonymous
//! (heap, stacks) and file-backed (the binary's pages) from `/proc/PID/smaps_rollup`.
//! The connectors run too, from the same release directory, configured for the test
//! services (`/tmp/services.env`) but doing nothing until their first call.

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context as _, ensure};
use mcp_bench::{Era, contains, opening_request};

/// Spawns per server for the first answer.
pub(crate) const SPAWNS: usize = 7;

/// One server to start: a binary, its flags and environment.
pub(crate) struct Subject {
    pub(crate) name: String,
    pub(crate) binary: PathBuf,
    pub(crate) args: Vec<String>,
    pub(crate) env: Vec<(String, String)>,
    /// Built on mcp-core's connector kit, which logs where its start went.
    pub(crate) connector: bool,
}

/// Where a first answer's time goes, for a server that says (mcp-core's connector kit logs
/// its start at debug level, target `mcp_core::start`), in ms.
#[derive(Debug, Clone, Default)]
pub(crate) struct Phases {
    /// Spawn to `initialize` answered, less the work below: exec, the dynamic loader,
    /// the runtime's start before `main`, the initialize round trip.
    pub(crate) load_and_initialize: f64,
    /// Parsing the command line.
    pub(crate) flags: f64,
    /// Logging and the async runtime.
    pub(crate) runtime: f64,
    /// The connector's configuration and the registration of its tools.
    pub(crate) open: f64,
    /// Building the server: the kept tools' schemas.
    pub(crate) build: f64,
    /// `initialize` answered to `tools/list` answered.
    pub(crate) list: f64,
}

/// What one server costs to start and to keep idle.
#[derive(Debug, Clone)]
pub(crate) struct Start {
    pub(crate) first_ms: f64,
    pub(crate) phases: Option<Phases>,
    pub(crate) rss_kib: u64,
    pub(crate) anon_kib: u64,
    pub(crate) file_kib: u64,
    /// Where the resident pages are: the binary's code, its other pages (read-only data,
    /// relocation tables, relocated data), shared libraries.
    pub(crate) code_kib: u64,
    pub(crate) binary_data_kib: u64,
    pub(crate) libraries_kib: u64,
    pub(crate) threads: u64,
    /// Dynamic relocations, which the loader applies before `main` (all of them: Rust
    /// binaries bind now), touching the pages they write.
    pub(crate) relocations: Option<u64>,
}

/// The echo servers, then each connector whose binary is built and whose service is known.
pub(crate) fn subjects(bin_dir: &Path, scratch: &Path) -> anyhow::Result<Vec<Subject>> {
    let example = |name: &str, binary: &str| Subject {
        name: name.into(),
        binary: bin_dir.join(binary),
        args: Vec::new(),
        env: Vec::new(),
        connector: false,
    };
    let mut all = vec![
        example("floor", "bench_server_floor"),
        example("rmcp", "bench_server_rmcp"),
        example("mcp-core", "bench_server_mcp_core"),
    ];
    let release = bin_dir.parent().context("no release directory")?;
    let var = |name: &str| std::env::var(name).ok().filter(|v| !v.is_empty());
    let connector = |name: &str, env: Vec<(String, String)>| {
        let binary = release.join(name);
        binary.exists().then(|| Subject { name: name.into(), binary, args: Vec::new(), env, connector: true })
    };
    if let Some(url) = var("MCP_TEST_DATABASE_URL") {
        all.extend(connector("mcp-postgres", vec![("DATABASE_URL".into(), url)]));
    }
    if let Some(host) = var("DOCKER_HOST") {
        all.extend(connector("mcp-docker", vec![("DOCKER_HOST".into(), host)]));
    }
    // A cluster nobody listens on: nothing may be asked of it before the first call.
    let kubeconfig = scratch.join("kubeconfig");
    std::fs::write(
        &kubeconfig,
        "apiVersion: v1\nkind: Config\ncurrent-context: bench\nclusters:\n- name: bench\n  cluster:\n    server: \
         https://127.0.0.1:9\n    insecure-skip-tls-verify: true\ncontexts:\n- name: bench\n  context:\n    cluster: \
         bench\n    user: bench\nusers:\n- name: bench\n  user:\n    token: bench\n",
    )?;
    all.extend(connector(
        "mcp-kubernetes",
        vec![("MCP_KUBERNETES_KUBECONFIG".into(), kubeconfig.display().to_string())],
    ));
    if let (Some(url), Some(key)) = (var("MCP_TEST_N8N_URL"), var("MCP_TEST_N8N_API_KEY")) {
        let key_file = scratch.join("n8n-key");
        std::fs::write(&key_file, key)?;
        all.extend(connector(
            "mcp-n8n",
            vec![("N8N_API_URL".into(), url), ("N8N_API_KEY_FILE".into(), key_file.display().to_string())],
        ));
    }
    Ok(all)
}

/// Spawns `subject`, opens a session and lists its tools; returns the time that took,
/// where it went (when the server says) and the process, still running.
fn first_answer(subject: &Subject) -> anyhow::Result<(Duration, Option<Phases>, std::process::Child)> {
    let started = Instant::now();
    let mut child = Command::new(&subject.binary)
        .args(["--transport", "stdio", "--log-level", "warn,mcp_core::start=debug"])
        .args(&subject.args)
        .envs(subject.env.iter().map(|(k, v)| (k, v)))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .with_context(|| format!("spawning {}", subject.binary.display()))?;
    let mut stdin = child.stdin.take().context("no stdin")?;
    let mut stdout = BufReader::new(child.stdout.take().context("no stdout")?);
    let stderr = BufReader::new(child.stderr.take().context("no stderr")?);
    // Read aside: a server that says nothing must not block the measure.
    let (said, timings) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in stderr.lines().map_while(Result::ok) {
            if line.contains("mcp_core::start") {
                let _ = said.send(line);
            }
        }
    });
    let mut opening = opening_request(Era::Handshake).to_string();
    opening.push('\n');
    let list = "{\"jsonrpc\":\"2.0\",\"method\":\"notifications/initialized\"}\n\
                {\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"tools/list\",\"params\":{}}\n";
    let mut line = Vec::new();
    let mut answered = Vec::new();
    for request in [opening.as_str(), list] {
        stdin.write_all(request.as_bytes())?;
        stdin.flush()?;
        line.clear();
        ensure!(stdout.read_until(b'\n', &mut line)? > 0, "{} closed stdout", subject.name);
        ensure!(contains(&line, b"\"result\""), "{} answered {}", subject.name, String::from_utf8_lossy(&line));
        answered.push(started.elapsed());
    }
    let elapsed = started.elapsed();
    let phases = timings.recv_timeout(Duration::from_millis(200)).ok().and_then(|said| {
        let field = |name: &str| -> Option<f64> {
            let value = said.split_whitespace().find_map(|f| f.strip_prefix(name)?.strip_prefix('='))?;
            Some(value.parse::<f64>().ok()? / 1e3)
        };
        let (flags, runtime, open, build) =
            (field("flags_us")?, field("runtime_us")?, field("open_us")?, field("build_us")?);
        let ms = |d: Duration| d.as_secs_f64() * 1e3;
        Some(Phases {
            load_and_initialize: ms(answered[0]) - (flags + runtime + open + build),
            flags,
            runtime,
            open,
            build,
            list: ms(answered[1] - answered[0]),
        })
    });
    // Keep the pipes open: the server stays idle until they close.
    std::mem::forget(stdin);
    std::mem::forget(stdout);
    Ok((elapsed, phases, child))
}

fn stop(mut child: std::process::Child) {
    let _ = child.kill();
    let _ = child.wait();
}

/// `key:   N kB` lines of a /proc file, in KiB.
fn proc_kib(path: &str, key: &str) -> u64 {
    std::fs::read_to_string(path)
        .ok()
        .and_then(|text| {
            text.lines()
                .find_map(|l| l.strip_prefix(key)?.strip_prefix(':'))
                .and_then(|v| v.split_whitespace().next()?.parse().ok())
        })
        .unwrap_or(0)
}

pub(crate) fn measure(subject: &Subject) -> anyhow::Result<Start> {
    let mut times = Vec::with_capacity(SPAWNS);
    for _ in 0..SPAWNS {
        let (elapsed, phases, child) = first_answer(subject)?;
        times.push((elapsed, phases));
        stop(child);
    }
    ensure!(
        !subject.connector || times.iter().all(|(_, phases)| phases.is_some()),
        "{} did not log where its start went (debug, target mcp_core::start)",
        subject.name
    );
    times.sort_by_key(|(elapsed, _)| *elapsed);
    let (_, _, child) = first_answer(subject)?;
    std::thread::sleep(Duration::from_millis(300));
    let pid = child.id();
    let status = format!("/proc/{pid}/status");
    let rollup = format!("/proc/{pid}/smaps_rollup");
    let start = Start {
        first_ms: times[SPAWNS / 2].0.as_secs_f64() * 1e3,
        phases: times[SPAWNS / 2].1.clone(),
        rss_kib: proc_kib(&status, "VmRSS"),
        anon_kib: proc_kib(&rollup, "Anonymous"),
        file_kib: proc_kib(&status, "RssFile"),
        threads: proc_kib(&status, "Threads"),
        code_kib: 0,
        binary_data_kib: 0,
        libraries_kib: 0,
        relocations: relocations(&subject.binary),
    };
    let start = Start { ..resident_by_mapping(pid, &subject.binary, start) };
    stop(child);
    Ok(start)
}

/// Sums `Rss` of `/proc/PID/smaps` by mapping: the binary's executable mapping, its
/// other mappings, and every other file (the shared libraries).
fn resident_by_mapping(pid: u32, binary: &Path, mut start: Start) -> Start {
    let Ok(smaps) = std::fs::read_to_string(format!("/proc/{pid}/smaps")) else { return start };
    let binary = std::fs::canonicalize(binary).unwrap_or_else(|_| binary.to_path_buf());
    // (is the binary, is executable, is a file) of the mapping the lines below belong to.
    let mut mapping = (false, false, false);
    for line in smaps.lines() {
        let fields: Vec<&str> = line.split_whitespace().collect();
        match fields.as_slice() {
            ["Rss:", kib, ..] => {
                let kib: u64 = kib.parse().unwrap_or(0);
                match mapping {
                    (true, true, _) => start.code_kib += kib,
                    (true, false, _) => start.binary_data_kib += kib,
                    (false, _, true) => start.libraries_kib += kib,
                    _ => {}
                }
            }
            [range, perms, _, _, inode, rest @ ..] if range.contains('-') && !range.ends_with(':') => {
                let path = rest.first().copied().unwrap_or("");
                mapping = (Path::new(path) == binary, perms.contains('x'), *inode != "0" && path.starts_with('/'));
            }
            _ => {}
        }
    }
    start
}

/// The entries of `binary`'s relocation sections (SHT_RELA), from its ELF section
/// headers; `None` for a file that is not a 64-bit little-endian ELF.
fn relocations(binary: &Path) -> Option<u64> {
    let data = std::fs::read(binary).ok()?;
    if data.get(..6)? != b"\x7fELF\x02\x01" {
        return None;
    }
    let at = |offset: usize, len: usize| -> Option<u64> {
        let bytes = data.get(offset..offset + len)?;
        Some(bytes.iter().rev().fold(0u64, |n, b| n << 8 | u64::from(*b)))
    };
    let (table, entry_size, count) = (at(0x28, 8)? as usize, at(0x3a, 2)? as usize, at(0x3c, 2)? as usize);
    let mut total = 0;
    for i in 0..count {
        let header = table + i * entry_size;
        const SHT_RELA: u64 = 4;
        if at(header + 4, 4)? == SHT_RELA {
            total += at(header + 0x20, 8)? / at(header + 0x38, 8)?.max(1);
        }
    }
    Some(total)
}

pub(crate) fn print(name: &str, s: &Start) {
    let mib = |kib: u64| kib as f64 / 1024.0;
    println!(
        "{name:<16} first answer {:>6.2} ms  idle RSS {:>5.1} MiB (anonymous {:>5.1}, file {:>5.1})  threads {}",
        s.first_ms,
        mib(s.rss_kib),
        mib(s.anon_kib),
        mib(s.file_kib),
        s.threads
    );
    println!(
        "{:<16} resident: binary code {:>5.1}, binary data and relocations {:>4.1}, shared libraries {:>4.1} MiB; \
         {} relocations applied before main",
        "",
        mib(s.code_kib),
        mib(s.binary_data_kib),
        mib(s.libraries_kib),
        s.relocations.map_or("?".to_string(), |n| n.to_string())
    );
    if let Some(p) = &s.phases {
        println!(
            "{:<16} first answer: exec, loader and initialize {:.2}, flags {:.2}, logging and runtime {:.2}, \
             config and tools {:.2}, schemas and build {:.2}, tools/list {:.2} ms",
            "", p.load_and_initialize, p.flags, p.runtime, p.open, p.build, p.list
        );
    }
}
