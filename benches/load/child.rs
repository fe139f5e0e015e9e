//! The bench-mode sandbox in its own process: the bench binary re-executed with
//! [`CHILD_ENV`] set, so the parent's CPU time and memory are the client's alone.

use std::io::{BufRead, BufReader, Write};
use std::process::{Child, ChildStdin, Command, Stdio};

use wechatpay_chain::sandbox::Sandbox;

/// Set (to the sandbox's worker thread count) in the re-executed child.
pub(crate) const CHILD_ENV: &str = "WECHATPAY_LOAD_BENCH_SANDBOX";

/// Set (to a CPU range `a..b`) in the child when the benchmark runs with `--pin`.
const CPUS_ENV: &str = "WECHATPAY_LOAD_BENCH_SANDBOX_CPUS";

/// Pins the calling thread (and every thread it starts later) to the CPUs in `range`.
fn pin(range: std::ops::Range<usize>) -> Result<(), String> {
    let mut set = rustix::thread::CpuSet::new();
    for cpu in range.clone() {
        set.set(cpu);
    }
    rustix::thread::sched_setaffinity(None, &set)
        .map_err(|e| format!("cannot pin to CPUs {range:?}: {e}"))
}

/// Pins this process's next threads to CPUs `0..client_threads`; returns the range left for
/// the sandbox (`a..b`), or why there is none.
pub(crate) fn pin_client(client_threads: usize) -> Result<String, String> {
    let cpus = std::thread::available_parallelism().map_or(1, std::num::NonZero::get);
    if cpus <= client_threads {
        return Err(format!(
            "{cpus} CPUs leave none for the sandbox with {client_threads} client threads; \
             lower --threads"
        ));
    }
    pin(0..client_threads)?;
    Ok(format!("{client_threads}..{cpus}"))
}

/// The child's side: serves a bench-mode sandbox on `127.0.0.1:0`, prints `base <uri>`, then
/// answers each `stats` line on stdin with `connections <n>`, until stdin closes.
pub(crate) fn serve(threads: &str) -> Result<(), String> {
    let threads = threads.parse::<usize>().unwrap_or(2).max(1);
    if let Ok(range) = std::env::var(CPUS_ENV) {
        let (start, end) = range
            .split_once("..")
            .and_then(|(a, b)| Some((a.parse().ok()?, b.parse().ok()?)))
            .ok_or_else(|| format!("bad {CPUS_ENV}: {range}"))?;
        pin(start..end)?;
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(threads)
        .enable_all()
        .build()
        .map_err(|e| format!("sandbox runtime: {e}"))?;
    let sandbox = runtime
        .block_on(Sandbox::builder().bench_mode(true).start())
        .map_err(|e| format!("sandbox start: {e}"))?;
    let mut out = std::io::stdout().lock();
    let say = |out: &mut std::io::StdoutLock<'_>, line: String| {
        writeln!(out, "{line}").and_then(|()| out.flush())
    };
    say(&mut out, format!("base {}", sandbox.base_uri())).map_err(|e| e.to_string())?;
    for line in std::io::stdin().lock().lines() {
        match line.as_deref() {
            Ok("stats") => {
                let line = format!("connections {}", sandbox.connections_accepted());
                if say(&mut out, line).is_err() {
                    break;
                }
            }
            Ok(_) => {}
            Err(_) => break,
        }
    }
    sandbox.shutdown();
    Ok(())
}

/// The parent's handle on the child: killed when dropped (also on panic).
pub(crate) struct SandboxProcess {
    child: Child,
    stdin: Option<ChildStdin>,
    lines: std::io::Lines<BufReader<std::process::ChildStdout>>,
    /// `http://127.0.0.1:PORT/`.
    pub(crate) base_uri: String,
}

impl SandboxProcess {
    /// Re-executes this binary as the sandbox, with `threads` runtime workers, pinned to the
    /// CPU range `cpus` (`a..b`) if given.
    pub(crate) fn start(threads: usize, cpus: Option<&str>) -> Result<Self, String> {
        let exe = std::env::current_exe().map_err(|e| format!("current_exe: {e}"))?;
        let mut command = Command::new(exe);
        if let Some(cpus) = cpus {
            command.env(CPUS_ENV, cpus);
        }
        let mut child = command
            .env(CHILD_ENV, threads.to_string())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .map_err(|e| format!("cannot start the sandbox process: {e}"))?;
        let stdin = child.stdin.take();
        let stdout = child.stdout.take().ok_or("no sandbox stdout")?;
        let mut process = Self {
            child,
            stdin,
            lines: BufReader::new(stdout).lines(),
            base_uri: String::new(),
        };
        let first = process.line()?;
        process.base_uri = first
            .strip_prefix("base ")
            .ok_or_else(|| format!("unexpected sandbox line: {first}"))?
            .to_string();
        Ok(process)
    }

    fn line(&mut self) -> Result<String, String> {
        match self.lines.next() {
            Some(Ok(line)) => Ok(line),
            Some(Err(e)) => Err(format!("sandbox stdout: {e}")),
            None => Err("the sandbox process ended".into()),
        }
    }

    /// How many connections the sandbox accepted so far.
    pub(crate) fn connections(&mut self) -> Result<u64, String> {
        let stdin = self.stdin.as_mut().ok_or("sandbox stdin closed")?;
        writeln!(stdin, "stats")
            .and_then(|()| stdin.flush())
            .map_err(|e| format!("sandbox stdin: {e}"))?;
        let line = self.line()?;
        line.strip_prefix("connections ")
            .and_then(|n| n.parse().ok())
            .ok_or_else(|| format!("unexpected sandbox line: {line}"))
    }
}

impl Drop for SandboxProcess {
    fn drop(&mut self) {
        // Closing stdin asks it to shut down (removing its config folder); then make sure.
        drop(self.stdin.take());
        for _ in 0..50 {
            if matches!(self.child.try_wait(), Ok(Some(_))) {
                return;
            }
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
